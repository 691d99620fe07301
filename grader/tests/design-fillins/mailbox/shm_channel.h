/*
 * shm_channel.h: the data channel, shared by both programs. Design track:
 * the segment's layout and the handshake on it are yours to design.
 *
 * Fixed by the rules (handouts/rules.md):
 *  - the proxy creates exactly -n segments of exactly -z bytes when it
 *    starts, named by ipcname_segment(), and removes them when it stops; the
 *    cache only opens them, and takes a segment's size from fstat() (rule 1);
 *  - the two sides take turns with process-shared POSIX semaphores that live
 *    inside the segment (sem_init with pshared 1), and every wait on them is
 *    bounded (rules 4 and 5);
 *  - nothing the other process wrote is trusted: sizes, lengths, offsets,
 *    names (rule 6).
 *
 * Yours: the segment header (which fields, who writes each one and when),
 * the handshake, and what stops a worker that is late for a transfer the
 * proxy has given up on. Both programs build with shm_channel.c, so code
 * they share goes there.
 */
#ifndef SHM_CHANNEL_H
#define SHM_CHANNEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "cmdline.h"
#include "gfserver.h"
#include "ipcname.h"

/* The flags (lab/cmdline.h): -z is PROXY_SEGMENT_MIN_SIZE (824) to
 * PROXY_SEGMENT_MAX_SIZE (64 MiB), and the cache refuses any other size
 * (rule 6). */
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>

/* What the page of a mailbox holds right now (written by the cache). */
enum page_kind {
	PAGE_EMPTY = 0,
	PAGE_BYTES = 1,		/* `used` bytes of the file follow the header */
	PAGE_NO_SUCH_FILE = 2,
	PAGE_BROKEN = 3,	/* the cache could not read the file */
};

/*
 * The head of every segment. The proxy writes `serial` before it sends a
 * note and clears it when it gives up; the cache writes the rest, and only
 * between waiting on cache_turn and posting proxy_turn.
 */
struct mailbox_head {
	sem_t cache_turn;	/* the page is the cache's to fill */
	sem_t proxy_turn;	/* the page is the proxy's to read */
	_Atomic uint32_t serial;
	uint32_t kind;		/* enum page_kind */
	uint64_t file_bytes;
	uint64_t used;
};

/* One mapped segment in the proxy (only). */
struct mailbox {
	char name[IPCNAME_MAX];
	struct mailbox_head *head;
	unsigned char *page;
	size_t page_bytes;
	bool busy;		/* under proxy.lock */
};

/* The proxy's segments and how handlers take turns on them. */
struct mailbox_set {
	struct mailbox *boxes;
	size_t count;
	pthread_mutex_t lock;
	pthread_cond_t freed;
};

int mailbox_create(struct mailbox *box, const char *name, size_t bytes);
void mailbox_destroy(struct mailbox *box);
int mailbox_open(const char *name, struct mailbox_head **head, size_t *bytes);
int turn_wait(sem_t *sem, int ms, const atomic_bool *stopping);


/*
 * The proxy's state: webproxy.c makes it, and every handle_with_cache()
 * call gets it as its arg. Add what your design needs (the segments, how a
 * handler gets a free one). `stopping` is set once, by the signal thread.
 * The cache never uses it.
 */
struct proxy {
	struct proxy_options opt;
	atomic_bool stopping;
	struct mailbox_set set;
};

/* The GETFILE server's handler (handle_with_cache.c); arg is the proxy. */
void handle_with_cache(gfcontext_t *ctx, const char *path, void *arg);

#endif
