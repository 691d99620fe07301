/*
 * segment_pool.h: the proxy's pool of shared-memory segments, the same in
 * every variant (lab/segment_pool.c), used by handle_with_cache.c. Only the
 * proxy includes this; the cache knows segments by name alone. What a
 * segment is, is the variant's (shm_channel.h): the variant supplies the
 * four things below the pool's interface, the way one event loop keeps its
 * logic once and a small file per kernel interface.
 *
 * A segment taken from the pool belongs to one handler, which may use it
 * for one transfer, until the handler gives it back (the segment is ready
 * for the next transfer) or has it replaced (the transfer left it in a
 * state the proxy cannot trust: a late or dead peer may still touch it).
 * The pool never shrinks for good: a segment that cannot be made again at
 * once is retried, after a growing but bounded pause, until it can.
 */
#ifndef SEGMENT_POOL_H
#define SEGMENT_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "gfserver.h"

struct segment;

/* How long a request waits for a free segment before it gets ERROR. */
#define POOL_TAKE_TIMEOUT_MS 10000

struct segment_pool;

/* Webproxy's side (proxy.c calls these). pool_create makes `count`
 * segments of exactly `segment_size` bytes, or returns NULL. pool_stop,
 * from the signal thread, makes every handler stop soon: a take returns
 * NULL, a transfer in progress ends. pool_destroy, after every thread is
 * joined, removes every segment. pool_remove_names, for a shutdown that
 * cannot join a stuck thread, only removes the names (the memory goes with
 * the process). */
struct segment_pool *pool_create(size_t count, size_t segment_size);
void pool_stop(struct segment_pool *pool);
void pool_destroy(struct segment_pool *pool);
void pool_remove_names(struct segment_pool *pool);

/* The handlers' side. */
/* A free segment, checked idle, or NULL if none came free in
 * POOL_TAKE_TIMEOUT_MS or the proxy is stopping. */
struct segment *pool_take(struct segment_pool *pool);
void pool_give_back(struct segment_pool *pool, struct segment *seg);
void pool_replace(struct segment_pool *pool, struct segment *seg);
const atomic_bool *pool_stopping(const struct segment_pool *pool);

/* The gfserver handler of the proxy (handle_with_cache.c); its arg is the
 * struct segment_pool. */
void handle_with_cache(gfcontext_t *ctx, const char *path, void *arg);

/*
 * What each variant supplies (its webproxy.c and shm_channel.c).
 * segment_create makes the object `name` of exactly `size` bytes, set up
 * for a first transfer, into *seg (0, or -1 with nothing left behind);
 * segment_destroy removes it. channel_is_idle says whether a segment that
 * sat in the pool is still as the proxy left it (whole, its turn-taking
 * untouched): a segment another process tampered with is renewed, not
 * handed out. segment_struct_size is sizeof(struct segment).
 */
extern const size_t segment_struct_size;
int segment_create(struct segment *seg, const char *name, size_t size);
void segment_destroy(struct segment *seg);
bool channel_is_idle(const struct segment *seg);

#endif
