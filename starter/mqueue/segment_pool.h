/*
 * segment_pool.h: the proxy's pool of shared-memory segments, made and
 * owned by webproxy.c, used by handle_with_cache.c. Only the proxy includes
 * this; the cache knows segments by name alone.
 *
 * A segment taken from the pool belongs to one handler, which holds its
 * turn, until the handler gives it back (turn still held) or has it
 * replaced (turn lost to the cache, see shm_channel.h).
 */
#ifndef SEGMENT_POOL_H
#define SEGMENT_POOL_H

#include <stdatomic.h>

#include "gfserver.h"
#include "shm_channel.h"

/* How long a request waits for a free segment before it gets ERROR. */
#define POOL_TAKE_TIMEOUT_MS 10000

struct segment_pool;

/* A free segment, or NULL if none came free in POOL_TAKE_TIMEOUT_MS or
 * the proxy is stopping. */
struct segment *pool_take(struct segment_pool *pool);
void pool_give_back(struct segment_pool *pool, struct segment *seg);
void pool_replace(struct segment_pool *pool, struct segment *seg);
const atomic_bool *pool_stopping(const struct segment_pool *pool);

/* The gfserver handler of the proxy (handle_with_cache.c); its arg is the
 * struct segment_pool. */
void handle_with_cache(gfcontext_t *ctx, const char *path, void *arg);

#endif
