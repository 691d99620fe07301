/*
 * webproxy.c: the proxy's pool of shared-memory segments, the data channel
 * it owns: made at start, each segment lent to one request at a time,
 * renewed when a transfer leaves it in a state the proxy cannot trust,
 * removed at exit. The process around it (flags, GETFILE server, signals,
 * the order of shutdown) is the lab's: lab/proxy.c.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bqueue.h"
#include "cache-student.h"
#include "cmdline.h"
#include "gfserver.h"
#include "leftovers.h"
#include "proxy.h"
#include "segment_pool.h"
#include "shm_channel.h"

_Static_assert(SEGMENT_MIN_SIZE == PROXY_SEGMENT_MIN_SIZE &&
	       SEGMENT_MAX_SIZE == PROXY_SEGMENT_MAX_SIZE,
	       "a segment may have every size -z accepts");

/*
 * Every segment lives in `segments` for the pool's whole life. A free one
 * is also in `free`. Handlers take from `free` and give back; nothing else
 * touches a taken segment. `next_serial` names replacement segments.
 */
struct segment_pool {
	struct segment *segments;
	size_t count;
	size_t segment_size;
	bqueue_t *free;
	atomic_uint next_serial;
	atomic_bool stopping;
};

/* ---- The pool ---- */

/* A new segment's name holds this process's pid and a serial it never
 * used before; the leftovers of a dead process with the same pid are gone
 * (pool_create), so the name is free unless another process took it. */
static int name_segment(struct segment_pool *pool, char *name, size_t size)
{
	return ipcname_segment(name, size, getpid(),
			       atomic_fetch_add(&pool->next_serial, 1));
}

void pool_destroy(struct segment_pool *pool)
{
	//@ begin destroy the pool
	for (size_t i = 0; i < pool->count; i++)
		segment_destroy(&pool->segments[i]);
	//@ todo Remove every segment the proxy created (segment_destroy), so
	//@ todo that nothing is left in /dev/shm after a shutdown.
	//@ end
	bqueue_destroy(pool->free);
	free(pool->segments);
	free(pool);
}

struct segment_pool *pool_create(size_t count, size_t segment_size)
{
	struct segment_pool *pool = calloc(1, sizeof(*pool));

	if (pool == NULL)
		return NULL;
	pool->segments = calloc(count, sizeof(struct segment));
	pool->free = bqueue_create();
	if (pool->segments == NULL || pool->free == NULL) {
		pool_destroy(pool);	/* count is 0: no segment to destroy */
		return NULL;
	}
	pool->count = count;
	pool->segment_size = segment_size;
	leftovers_remove_my_segments("webproxy");
	//@ begin create the segments
	for (size_t i = 0; i < count; i++) {
		char name[IPCNAME_MAX];
		struct segment *seg = &pool->segments[i];

		if (name_segment(pool, name, sizeof(name)) != 0 ||
		    segment_create(seg, name, segment_size) != 0 ||
		    bqueue_push(pool->free, seg) != 0) {
			pool_destroy(pool);
			return NULL;
		}
	}
	//@ todo Create `count` segments of exactly `segment_size` bytes each
	//@ todo (name them with name_segment(), create them with
	//@ todo segment_create()) and push each onto pool->free.
	//@ todo Until then the pool stays empty and closed, so every request
	//@ todo gets a prompt GETFILE ERROR instead of waiting forever.
	//@ stub (void)name_segment;
	//@ stub bqueue_close(pool->free);
	//@ end
	return pool;
}

/* Waits (sleeping, not spinning) at most POOL_TAKE_TIMEOUT_MS for a free
 * segment. NULL then, or once the proxy is stopping. */
struct segment *pool_take(struct segment_pool *pool)
{
	struct segment *seg = bqueue_pop_timed(pool->free, POOL_TAKE_TIMEOUT_MS);

	if (seg == NULL && !atomic_load(&pool->stopping))
		fprintf(stderr, "webproxy: no segment came free in %d ms\n",
			POOL_TAKE_TIMEOUT_MS);
	return seg;
}

/* The transfer ended well (channel_end_transfer). Pushing fails only once
 * the pool is closed for shutdown; the segment is then destroyed with the
 * pool. */
void pool_give_back(struct segment_pool *pool, struct segment *seg)
{
	assert(!seg->lost);
	bqueue_push(pool->free, seg);
}

/*
 * The transfer failed: a late worker may still write into this object, or
 * a dead one may have left its lock or conditions unusable. Replace it
 * with a fresh one under a new name; a late worker can only write into the
 * orphan.
 */
void pool_replace(struct segment_pool *pool, struct segment *seg)
{
	char name[IPCNAME_MAX];

	fprintf(stderr, "webproxy: replacing segment %s after a failed transfer\n",
		seg->name);
	segment_destroy(seg);
	if (name_segment(pool, name, sizeof(name)) != 0 ||
	    segment_create(seg, name, pool->segment_size) != 0) {
		fprintf(stderr, "webproxy: pool is one segment short\n");
		return;
	}
	pool_give_back(pool, seg);
}

const atomic_bool *pool_stopping(const struct segment_pool *pool)
{
	return &pool->stopping;
}

/* Called by the signal thread. */
void pool_stop(struct segment_pool *pool)
{
	//@ begin wake everyone
	atomic_store(&pool->stopping, true);
	bqueue_close(pool->free);
	//@ todo Tell the handlers to stop (pool->stopping) and wake those
	//@ todo waiting for a free segment (bqueue_close).
	//@ stub (void)pool;
	//@ end
}

int main(int argc, char **argv)
{
	return proxy_run(argc, argv);
}
