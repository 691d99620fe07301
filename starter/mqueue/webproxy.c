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
#include "deadline.h"
#include "gfserver.h"
#include "leftovers.h"
#include "proxy.h"
#include "segment_pool.h"
#include "shm_channel.h"

_Static_assert(SEGMENT_MIN_SIZE == PROXY_SEGMENT_MIN_SIZE &&
	       SEGMENT_MAX_SIZE == PROXY_SEGMENT_MAX_SIZE,
	       "a segment may have every size -z accepts");

/* A failed replacement is retried after 10 ms, then twice as long each
 * time up to this: a pool never shrinks for good, and shutdown stays quick. */
#define REPLACE_FIRST_BACKOFF_MS 10
#define REPLACE_MAX_BACKOFF_MS 320

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

static int name_segment(struct segment_pool *pool, char *name, size_t size)
{
	return ipcname_segment(name, size, getpid(),
			       atomic_fetch_add(&pool->next_serial, 1));
}

void pool_destroy(struct segment_pool *pool)
{
	/*
	 * TODO(destroy the pool):
	 * Remove every segment the proxy created (segment_destroy), so
	 * that nothing is left in /dev/shm after a shutdown.
	 */
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
	/*
	 * TODO(create the segments):
	 * Create `count` segments of exactly `segment_size` bytes each
	 * (name them with name_segment(), create them with
	 * segment_create()) and push each onto pool->free.
	 * Until then the pool stays empty and closed, so every request
	 * gets a prompt GETFILE ERROR instead of waiting forever.
	 */
	(void)name_segment;
	bqueue_close(pool->free);
	return pool;
}

/* The caller holds the segment's turn. Pushing fails only once the pool
 * is closed for shutdown; the segment is then destroyed with the pool. */
void pool_give_back(struct segment_pool *pool, struct segment *seg)
{
	assert(seg->holds_turn);
	bqueue_push(pool->free, seg);
}

/*
 * Makes a fresh object for seg, under a new name: a late worker, or any
 * other process, can then only write into the orphan. A name can be taken
 * (another process of this user may have made it first), so each try uses
 * the next name, after a growing but bounded pause.
 */
static void renew_segment(struct segment_pool *pool, struct segment *seg,
			  const char *why)
{
	int backoff_ms = REPLACE_FIRST_BACKOFF_MS;

	fprintf(stderr, "webproxy: replacing segment %s: %s\n", seg->name, why);
	segment_destroy(seg);
	for (;;) {
		char name[IPCNAME_MAX];

		if (name_segment(pool, name, sizeof(name)) == 0 &&
		    segment_create(seg, name, pool->segment_size) == 0)
			break;
		if (atomic_load(&pool->stopping))
			return;	/* nothing to give back: seg is unmapped */
		sleep_ms(backoff_ms);
		backoff_ms = backoff_ms * 2 > REPLACE_MAX_BACKOFF_MS ?
			     REPLACE_MAX_BACKOFF_MS : backoff_ms * 2;
	}
	pool_give_back(pool, seg);
}

/*
 * Waits (sleeping, not spinning) for a free segment, at most
 * POOL_TAKE_TIMEOUT_MS for each. NULL then, or once the proxy is stopping.
 * A segment someone tampered with while it sat in the pool is renewed, not
 * handed out.
 */
struct segment *pool_take(struct segment_pool *pool)
{
	struct segment *seg;

	while ((seg = bqueue_pop_timed(pool->free, POOL_TAKE_TIMEOUT_MS)) !=
	       NULL) {
		if (channel_is_idle(seg))
			return seg;
		renew_segment(pool, seg, "tampered with while free");
	}
	if (!atomic_load(&pool->stopping))
		fprintf(stderr, "webproxy: no segment came free in %d ms\n",
			POOL_TAKE_TIMEOUT_MS);
	return NULL;
}

/* The caller gave up while the cache held the turn, so a late worker may
 * still write into this object. */
void pool_replace(struct segment_pool *pool, struct segment *seg)
{
	renew_segment(pool, seg, "the turn was lost");
}

const atomic_bool *pool_stopping(const struct segment_pool *pool)
{
	return &pool->stopping;
}

/* Called by the signal thread. */
void pool_stop(struct segment_pool *pool)
{
	/*
	 * TODO(wake everyone):
	 * Tell the handlers to stop (pool->stopping) and wake those
	 * waiting for a free segment (bqueue_close).
	 */
	(void)pool;
}

int main(int argc, char **argv)
{
	return proxy_run(argc, argv);
}
