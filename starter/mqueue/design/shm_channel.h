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
#include <stddef.h>

#include "cmdline.h"
#include "gfserver.h"

/* The flags (lab/cmdline.h): -z is PROXY_SEGMENT_MIN_SIZE (824) to
 * PROXY_SEGMENT_MAX_SIZE (64 MiB), and the cache refuses any other size
 * (rule 6). */
/*
 * The proxy's state: webproxy.c makes it, and every handle_with_cache()
 * call gets it as its arg. Add what your design needs (the segments, how a
 * handler gets a free one). `stopping` is set once, by the signal thread.
 * The cache never uses it.
 */
struct proxy {
	struct proxy_options opt;
	atomic_bool stopping;
};

/* The GETFILE server's handler (handle_with_cache.c); arg is the proxy. */
void handle_with_cache(gfcontext_t *ctx, const char *path, void *arg);

#endif
