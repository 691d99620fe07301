/*
 * shm_channel.h (independent implementation): a segment as a ring of
 * chunk slots, and the two counting semaphores that pace it.
 *
 * A segment (exactly -z bytes, made by the proxy) holds a header and then
 * RING_SLOTS equal slots. The cache writes slots in order 0, 1, 0, 1, ...;
 * the proxy reads them in the same order. Two slots are double buffering:
 * the cache fills one while the proxy sends the other. (Any count >= 2
 * works; measured, more slots of a fixed segment only make chunks smaller.)
 *
 *   vacant  counts the slots the cache may write now
 *   filled  counts the slots written and not yet read by the proxy
 *
 * INVARIANT: vacant + filled + (slots being written or read) = RING_SLOTS
 * during a transfer, so the cache never overtakes the proxy and the proxy
 * never reads a slot twice. The cache may run up to RING_SLOTS chunks
 * ahead: both processes work at once instead of taking turns. Adjacent
 * slots that are ready together travel as one run (one read, one send).
 *
 * WHO WRITES WHAT. `ticket` is the proxy's: it writes it only while no
 * worker serves the segment (between transfers), and a worker reads it
 * after every wait. A slot and its label are the cache's from its wait on
 * `vacant` to its post of `filled`, then the proxy's until it posts
 * `vacant` again.
 *
 * A SEGMENT IS QUIET between transfers: ticket 0, both counts 0. A
 * transfer that ends with every chunk read leaves the worker finished
 * (its last wait came before its last chunk), so the proxy takes back the
 * unused `vacant` posts and the segment is quiet again. A transfer that ends
 * any other way (client gone, timeout, bad chunk) may leave a worker in
 * the middle of a slot: the proxy clears the ticket, wakes the worker so
 * it notices, and gives up the object itself, making a fresh one under a
 * new name (webproxy.c). A late worker can only write into the orphan.
 */
#ifndef SHM_CHANNEL_H
#define SHM_CHANNEL_H

#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipcname.h"

#define RING_SLOTS 2
#define RING_MIN_BYTES 824
#define RING_MAX_BYTES (64L * 1024 * 1024)

enum slot_status {
	SLOT_DATA = 1,		/* a piece of the file (maybe empty) */
	SLOT_MISSING = 2,	/* the cache has no such path */
	SLOT_FAILED = 3,	/* the cache could not read the file */
};

/* Written by the cache with its slot, before it posts `filled`. */
struct slot_label {
	uint64_t ticket;	/* the transfer this slot belongs to */
	uint64_t file_size;
	uint32_t status;	/* enum slot_status */
	uint32_t length;	/* bytes of file in the slot */
};

struct ring_header {
	sem_t vacant;
	sem_t filled;
	_Atomic uint64_t ticket;	/* 0: no transfer */
	struct slot_label label[RING_SLOTS];
};

_Static_assert((RING_MIN_BYTES - sizeof(struct ring_header)) / RING_SLOTS >= 128,
	       "the smallest segment must leave useful slots");

/* One process's mapping of one segment (private memory). */
struct ring {
	char name[IPCNAME_MAX];
	struct ring_header *head;	/* NULL when not mapped */
	unsigned char *slots;
	size_t bytes;			/* the whole object */
	size_t slot_bytes;
	unsigned cursor;		/* the next slot this side uses */
	uint64_t ticket;		/* proxy: the transfer under way */
	pid_t owner;			/* cache: the proxy named in the name */
};

/* What the proxy takes out of a run of adjacent slots, once checked. */
struct piece {
	enum slot_status status;
	uint64_t file_size;
	size_t length;			/* bytes in all the run's slots */
	const unsigned char *bytes;
	unsigned slots;			/* how many slots the run took */
};

/* The adjacent vacant slots a worker claimed, to fill with one read. */
struct run {
	unsigned char *bytes;
	size_t capacity;
	unsigned slots;
};

enum wait_end {
	WAIT_DONE,
	WAIT_TIMED_OUT,
	WAIT_STOPPING,		/* this process is shutting down */
	WAIT_OWNER_GONE,	/* cache: the proxy that owns the segment died */
	WAIT_NOT_MINE,		/* cache: the segment serves another ticket */
	WAIT_BAD_SLOT,		/* proxy: the slot breaks the rules */
};

const char *wait_end_text(enum wait_end e);

/* ---- the proxy's side ---- */
int ring_create(struct ring *r, const char *name, size_t bytes);
void ring_remove(struct ring *r);
int ring_start(struct ring *r);		/* draws a ticket; -1 if none */
void ring_unstart(struct ring *r);	/* the order was never sent */
void ring_offer(struct ring *r);	/* hands every slot to the cache */
enum wait_end ring_take(struct ring *r, int timeout_ms,
			const atomic_bool *stopping, struct piece *out);
void ring_give_back(struct ring *r, unsigned slots);	/* read: vacant again */
bool ring_settle(struct ring *r);	/* after the last piece: quiet? */
void ring_cancel(struct ring *r);	/* the transfer is given up */

/* ---- the cache's side ---- */
int ring_attach(struct ring *r, const char *name);
void ring_detach(struct ring *r);
bool ring_serves(const struct ring *r, uint64_t ticket);
enum wait_end ring_claim(struct ring *r, uint64_t ticket, unsigned want,
			 const atomic_bool *stopping, struct run *out);
void ring_publish(struct ring *r, uint64_t ticket, const struct run *run,
		  enum slot_status status, uint64_t file_size, size_t length);

/*
 * The proxy's pool of segments (webproxy.c), used by handle_with_cache.c.
 * A borrowed segment is its borrower's alone until returned. `clean` says
 * the segment is quiet; otherwise the pool replaces it.
 */
struct proxy_pool;

struct ring *pool_borrow(struct proxy_pool *pool);
void pool_return(struct proxy_pool *pool, struct ring *r, bool clean);
const atomic_bool *pool_stopping(const struct proxy_pool *pool);

#endif
