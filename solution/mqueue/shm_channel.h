/*
 * shm_channel.h: the data channel. One shared-memory segment, its layout,
 * and the handshake by which the proxy and a cache worker take turns on it.
 *
 * A segment is one POSIX shared-memory object of exactly -z bytes, created
 * and owned by the proxy. It starts with struct segment_header; the rest is
 * the data area, where the cache puts one chunk of the file at a time.
 *
 * THE TURN. At every moment exactly one side holds the segment's turn, and
 * only the holder writes the segment:
 *
 *   proxy holds it  --sem_post(space_free)-->  cache worker holds it
 *   cache holds it  --sem_post(data_ready)-->  proxy holds it
 *
 * A segment in the proxy's pool is held by the proxy, with both semaphores
 * at 0. For each transfer the proxy bumps `generation`, draws a secret
 * token, gives the turn to the cache and only then sends the request
 * (which carries the generation and the token). The worker writes a chunk
 * and gives the turn back; the proxy copies the chunk out and gives the
 * turn again; and so on until the last chunk, after which the worker never
 * touches the segment again.
 *
 * Stale workers. A worker can be late: its request sat in the queue, or
 * the proxy gave up on it. Such a worker may grab a turn that belongs to a
 * later transfer. So after every wait the worker compares the segment's
 * generation with its request's: if they differ, it posts the turn back
 * untouched and leaves. It does the same with a turn given for another
 * chunk than the one it is to write (turn_offset), so a forged request
 * cannot take over a transfer in the middle. If the proxy ever gives up
 * while the CACHE holds the turn, the turn is lost with it: the proxy then
 * replaces the object with a fresh one (segment_destroy + segment_create
 * under a new name), so a late writer can only scribble on an orphan.
 *
 * Other processes. Any process of the same user can open the segment and
 * write anything into it (handouts/architecture.md, "What trust can mean").
 * So each side checks the object's size before every access, the proxy
 * believes a chunk only if it carries the transfer's token (which only the
 * request carried) and the next offset, and it copies the chunk out before
 * checking that nobody began to overwrite it meanwhile.
 */
#ifndef SHM_CHANNEL_H
#define SHM_CHANNEL_H

#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cmdline.h"
#include "ipcname.h"
#include "mapping_cache.h"

enum chunk_status {
	CHUNK_WRITING = 0,	/* a worker holds the turn and is writing */
	CHUNK_OK = 1,		/* file_size is valid; chunk_len bytes follow */
	CHUNK_NOT_FOUND = 2,	/* the cache has no such path */
	CHUNK_ERROR = 3,	/* the cache failed; stop the transfer */
};

struct segment_header {
	sem_t data_ready;	/* posted by the cache: turn goes to the proxy */
	sem_t space_free;	/* posted by the proxy: turn goes to the cache */

	/* Written by the proxy during its turn: the transfer, set as it
	 * starts, and the offset of the chunk the next turn it gives is for.
	 * Read by workers at any time, hence atomic. */
	_Atomic uint64_t generation;
	_Atomic uint64_t turn_offset;

	/* Written by the cache during its turn, read by the proxy in its.
	 * A worker sets status to CHUNK_WRITING as soon as it has the turn,
	 * before it touches the data area, and the other fields last. */
	_Atomic uint32_t status;	/* enum chunk_status */
	uint32_t chunk_len;		/* bytes of data in this chunk */
	uint64_t chunk_token;		/* the request's token, echoed */
	uint64_t chunk_offset;		/* where in the file this chunk goes */
	uint64_t file_size;
};

_Static_assert(PROXY_SEGMENT_HEADER_FITS(sizeof(struct segment_header)),
	       "the header must leave room for a chunk in every size -z accepts");

/* One process's view of one mapped segment. Private memory, not shared. */
struct segment {
	char name[IPCNAME_MAX];
	struct segment_header *header;	/* NULL when not mapped */
	unsigned char *data;		/* the data area after the header */
	size_t size;			/* the whole object, header included */
	size_t capacity;		/* bytes of the data area */
	int fd;				/* to check the size; -1 when closed */
	bool holds_turn;		/* this process holds the turn now */

	/* Proxy only: the transfer in progress, and a private copy of the
	 * chunk last taken, which no other process can change. */
	uint64_t generation;
	uint64_t token;
	uint64_t taken;			/* bytes of the file taken so far */
	unsigned char *copy;		/* capacity bytes */

};

/* What the proxy reads out of one chunk, already checked. */
struct chunk {
	enum chunk_status status;
	uint64_t file_size;
	size_t len;
	const unsigned char *bytes;	/* the proxy's private copy */
};

enum wait_result {
	WAIT_OK,
	WAIT_TIMEOUT,		/* the other side did not answer in time */
	WAIT_STOPPING,		/* this process is shutting down */
	WAIT_STALE,		/* cache: the turn was for a later transfer */
	WAIT_BAD_CHUNK,		/* proxy: the chunk broke the rules */
	WAIT_BAD_SEGMENT,	/* the object shrank under us: do not touch */
	WAIT_ERROR,		/* the wait itself failed (printed) */
};

/* Both sides: a bounded wait on a semaphore (of a segment, or any other). */
enum wait_result segment_wait(sem_t *sem, int timeout_ms,
			      const atomic_bool *stopping);

/* Both sides: true if the object still has the size that was mapped, so
 * touching the mapping cannot raise SIGBUS (short of a race with a
 * truncation, which nothing can rule out). */
bool segment_fits(const struct segment *seg);

/* Proxy side: owning segments. */
int segment_create(struct segment *seg, const char *name, size_t size);
void segment_destroy(struct segment *seg);

/* Proxy side: one transfer. */
bool channel_is_idle(const struct segment *seg);
int channel_start_transfer(struct segment *seg);
void channel_give_turn(struct segment *seg);
bool channel_take_back_turn(struct segment *seg);
enum wait_result channel_take_chunk(struct segment *seg, int timeout_ms,
				    const atomic_bool *stopping,
				    struct chunk *out);

/*
 * Cache side: the segments one worker has mapped. Private to that worker,
 * so no lock; segment_attach() returns one of its slots, open and checked,
 * valid until segment_release(). A worker attaches one segment at a time.
 */
struct segment_maps {
	struct mapping_cache kept;		/* which object each slot maps */
	struct segment slot[MAPPINGS_KEPT];	/* header NULL: slot unused */
};

struct segment *segment_attach(struct segment_maps *maps, const char *name,
			       char *why, size_t why_size);
void segment_release(struct segment *seg);
void segment_maps_clear(struct segment_maps *maps);
bool channel_is_current(const struct segment *seg, uint64_t generation);
enum wait_result channel_take_turn(struct segment *seg, uint64_t generation,
				   uint64_t offset, int timeout_ms,
				   const atomic_bool *stopping);
void channel_put_chunk(struct segment *seg, uint64_t token,
		       enum chunk_status status, uint64_t file_size,
		       uint64_t offset, size_t len);

#endif
