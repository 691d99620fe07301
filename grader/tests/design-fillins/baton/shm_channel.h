/*
 * shm_channel.h: the data channel, shared by both programs. Design track:
 * the segment's layout and the handshake on it are yours to design.
 *
 * Fixed by the rules (handouts/rules.md):
 *  - the proxy creates exactly -n segments of exactly -z bytes when it
 *    starts, named by ipcname_segment(), and removes them when it stops; the
 *    cache only opens them, and takes a segment's size from fstat() (rule 1);
 *  - the two sides take turns with a process-shared, robust mutex and
 *    condition variables that live inside the segment
 *    (PTHREAD_PROCESS_SHARED, PTHREAD_MUTEX_ROBUST, conditions on
 *    CLOCK_MONOTONIC), and every wait on them is bounded (rules 4 and 5);
 *    a lock that returns EOWNERDEAD tells you the other process died
 *    holding it;
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
#include <stdint.h>

/*
 * The segment: a robust mutex, two conditions, then one chunk of bytes.
 * Under `mutex`: `full` says who may touch `chunk` (cache when false, proxy
 * when true); `generation` is bumped by the proxy each time it hands the
 * segment to a new request, so a worker that kept an old one writes nothing.
 */
struct lane_header {
	pthread_mutex_t mutex;
	pthread_cond_t emptied;
	pthread_cond_t filled;
	uint32_t generation;
	bool full;
	bool abandoned;		/* the proxy gave up on this generation */
	uint64_t chunk_len;
};

struct lane {
	struct lane_header *hdr;
	unsigned char *chunk;
	size_t room;		/* bytes of chunk */
	size_t mapped;
	char name[IPCNAME_MAX];
};

/* Handlers take a free lane from a stack (proxy only). */
struct lane_stack {
	struct lane *all;
	size_t n;
	size_t *free_idx;
	size_t free_top;
	pthread_mutex_t mu;
	pthread_cond_t nonempty;
};

int lane_make(struct lane *l, const char *name, size_t size);
void lane_unmake(struct lane *l);
int lane_attach(struct lane *l, const char *name);
void lane_detach(struct lane *l);
int lane_lock(struct lane *l);
int lane_timed(pthread_cond_t *c, struct lane *l, int ms);


/*
 * The proxy's state: webproxy.c makes it, and every handle_with_cache()
 * call gets it as its arg. Add what your design needs (the segments, how a
 * handler gets a free one). `stopping` is set once, by the signal thread.
 * The cache never uses it.
 */
struct proxy {
	struct proxy_options opt;
	atomic_bool stopping;
	struct lane_stack lanes;
};

/* The GETFILE server's handler (handle_with_cache.c); arg is the proxy. */
void handle_with_cache(gfcontext_t *ctx, const char *path, void *arg);

#endif
