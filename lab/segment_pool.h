/*
 * segment_pool.h: the proxy's pool of shared-memory segments, made and
 * owned by webproxy.c, used by handle_with_cache.c. Only the proxy includes
 * this; the cache knows segments by name alone. Every variant's proxy has
 * this interface; what a segment is, is the variant's (shm_channel.h).
 *
 * A segment taken from the pool belongs to one handler, which may use it
 * for one transfer, until the handler gives it back (the segment is ready
 * for the next transfer) or has it replaced (the transfer left it in a
 * state the proxy cannot trust: a late or dead peer may still touch it).
 */
#ifndef SEGMENT_POOL_H
#define SEGMENT_POOL_H

#include <stdatomic.h>
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
 * joined, removes every segment. */
struct segment_pool *pool_create(size_t count, size_t segment_size);
void pool_stop(struct segment_pool *pool);
void pool_destroy(struct segment_pool *pool);

/* The handlers' side. */
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
