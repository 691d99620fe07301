/*
 * segment_pool.c: the proxy's pool of segments (see segment_pool.h). The
 * segments are made and checked by the variant; the pool lends them out,
 * takes them back and renews them.
 *
 * Every segment lives in `slots` for the pool's whole life. A free one is
 * also in `free`. Handlers take from `free` and give back; nothing else
 * touches a taken segment. The pool names every object it has made, and
 * keeps the name of each slot's current one (for pool_remove_names).
 */
#include "segment_pool.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bqueue.h"
#include "deadline.h"
#include "ipcname.h"
#include "leftovers.h"

/* A failed renewal or give-back is retried after 10 ms, then twice as long
 * each time up to this: the pool never shrinks for good, and shutdown
 * stays quick. */
#define RETRY_FIRST_BACKOFF_MS 10
#define RETRY_MAX_BACKOFF_MS 320

struct segment_pool {
	unsigned char *slots;		/* count segments of segment_struct_size */
	char (*names)[IPCNAME_MAX];	/* each slot's object; "" if none */
	size_t count;
	size_t segment_size;
	bqueue_t *free;
	atomic_uint next_serial;
	atomic_bool stopping;
};

static struct segment *slot(struct segment_pool *pool, size_t i)
{
	return (struct segment *)(pool->slots + i * segment_struct_size);
}

static size_t slot_index(struct segment_pool *pool, const struct segment *seg)
{
	size_t offset = (size_t)((const unsigned char *)seg - pool->slots);

	assert(offset % segment_struct_size == 0 &&
	       offset / segment_struct_size < pool->count);
	return offset / segment_struct_size;
}

static int next_backoff(int backoff_ms)
{
	return backoff_ms * 2 > RETRY_MAX_BACKOFF_MS ? RETRY_MAX_BACKOFF_MS :
						       backoff_ms * 2;
}

/*
 * A new segment's name holds this process's pid and a serial it never
 * used before; the leftovers of a dead process with the same pid are gone
 * (pool_create), so the name is free unless another process took it.
 */
static int make_segment(struct segment_pool *pool, size_t i)
{
	char *name = pool->names[i];

	if (ipcname_segment(name, IPCNAME_MAX, getpid(),
			    atomic_fetch_add(&pool->next_serial, 1)) != 0 ||
	    segment_create(slot(pool, i), name, pool->segment_size) != 0) {
		name[0] = '\0';
		return -1;
	}
	return 0;
}

static void unmake_segment(struct segment_pool *pool, size_t i)
{
	segment_destroy(slot(pool, i));
	pool->names[i][0] = '\0';
}

void pool_destroy(struct segment_pool *pool)
{
	for (size_t i = 0; i < pool->count; i++)
		if (pool->names[i][0] != '\0')
			unmake_segment(pool, i);
	bqueue_destroy(pool->free);
	free(pool->names);
	free(pool->slots);
	free(pool);
}

/* Called when a stuck thread cannot be joined: a thread may still use
 * the mappings, so only the names go. */
void pool_remove_names(struct segment_pool *pool)
{
	for (size_t i = 0; i < pool->count; i++)
		if (pool->names[i][0] != '\0' && shm_unlink(pool->names[i]) != 0)
			fprintf(stderr, "webproxy: shm_unlink %s: %s\n",
				pool->names[i], strerror(errno));
}

struct segment_pool *pool_create(size_t count, size_t segment_size)
{
	struct segment_pool *pool = calloc(1, sizeof(*pool));

	if (pool == NULL)
		return NULL;
	pool->slots = calloc(count, segment_struct_size);
	pool->names = calloc(count, sizeof(*pool->names));
	pool->free = bqueue_create();
	if (pool->slots == NULL || pool->names == NULL || pool->free == NULL) {
		pool_destroy(pool);	/* count is 0: no segment to destroy */
		return NULL;
	}
	pool->count = count;
	pool->segment_size = segment_size;
	leftovers_remove_my_segments("webproxy");
	for (size_t i = 0; i < count; i++) {
		if (make_segment(pool, i) != 0 ||
		    bqueue_push(pool->free, slot(pool, i)) != 0) {
			pool_destroy(pool);
			return NULL;
		}
	}
	return pool;
}

/*
 * The segment is ready for the next transfer. Pushing fails once the pool
 * is closed for shutdown (the segment is then destroyed with the pool) or
 * for want of memory: then it is retried, so the pool does not shrink.
 */
void pool_give_back(struct segment_pool *pool, struct segment *seg)
{
	int backoff_ms = RETRY_FIRST_BACKOFF_MS;

	while (bqueue_push(pool->free, seg) != 0) {
		if (atomic_load(&pool->stopping))
			return;
		fprintf(stderr, "webproxy: cannot give %s back to the pool; retrying\n",
			pool->names[slot_index(pool, seg)]);
		sleep_ms(backoff_ms);
		backoff_ms = next_backoff(backoff_ms);
	}
}

/*
 * Makes a fresh object for seg, under a new name: a late worker, or any
 * other process, can then only write into the orphan. A name can be taken
 * (another process of this user may have made it first), and memory can
 * run out, so each try uses the next name, after a growing but bounded
 * pause, until one works or the proxy stops.
 */
static void renew_segment(struct segment_pool *pool, struct segment *seg,
			  const char *why)
{
	size_t i = slot_index(pool, seg);
	int backoff_ms = RETRY_FIRST_BACKOFF_MS;

	fprintf(stderr, "webproxy: replacing segment %s: %s\n",
		pool->names[i], why);
	unmake_segment(pool, i);
	while (make_segment(pool, i) != 0) {
		if (atomic_load(&pool->stopping))
			return;	/* nothing to give back: no object in the slot */
		sleep_ms(backoff_ms);
		backoff_ms = next_backoff(backoff_ms);
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

/* The transfer left the segment in a state the proxy cannot trust. */
void pool_replace(struct segment_pool *pool, struct segment *seg)
{
	renew_segment(pool, seg, "the transfer did not end cleanly");
}

const atomic_bool *pool_stopping(const struct segment_pool *pool)
{
	return &pool->stopping;
}

/* Called by the signal thread. */
void pool_stop(struct segment_pool *pool)
{
	atomic_store(&pool->stopping, true);
	bqueue_close(pool->free);
}
