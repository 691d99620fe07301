/*
 * mqueue.c: solution/mqueue/shm_channel.c in one process: the proxy's side
 * in the main thread, the cache worker's in a second thread or a forked
 * child, on one real segment. Turn passing, a stale turn handed back,
 * take-back, chunks that break the rules, a bounded wait, a dead worker.
 * Exits 0 when all pass.
 */
#include <pthread.h>
#include <semaphore.h>
#include <string.h>

#include "shm_channel.h"

#define SEGMENT_SIZE 4096
#define QUICK_MS 300		/* a wait expected to end at once, or to time out */
#define TURN_WAIT_MS 5000	/* a wait the other thread ends */

#include "shm_test.h"

static atomic_bool never_stopping;

/* The proxy's side of a request: a new transfer, and the turn given. */
static bool start(struct segment *proxy)
{
	if (!CHECK(channel_start_transfer(proxy) == 0, "channel_start_transfer failed"))
		return false;
	channel_give_turn(proxy);
	return true;
}

/* The cache's view of the proxy's segment, as a worker maps it. */
static struct segment *attach(struct segment_maps *maps,
			      const struct segment *proxy)
{
	char why[256] = "";
	struct segment *seg = segment_attach(maps, proxy->name, why, sizeof(why));

	CHECK(seg != NULL, "segment_attach %s: %s", proxy->name, why);
	return seg;
}

/* ---- Turn passing: a worker thread writes a file of two chunks. ---- */

struct transfer {
	const struct segment *proxy;
	uint64_t file_size;
	enum wait_result turns[2];
};

static void *worker_writes_file(void *arg)
{
	struct transfer *t = arg;
	struct segment_maps maps = { 0 };
	struct segment *seg = attach(&maps, t->proxy);
	uint64_t offset = 0;

	for (int i = 0; seg != NULL && i < 2; i++) {
		size_t len = t->file_size - offset < seg->capacity ?
			t->file_size - offset : seg->capacity;

		t->turns[i] = channel_take_turn(seg, t->proxy->generation, offset,
						TURN_WAIT_MS, &never_stopping);
		if (t->turns[i] != WAIT_OK)
			break;
		fill_chunk(seg->data, offset, len);
		channel_put_chunk(seg, t->proxy->token, CHUNK_OK, t->file_size,
				  offset, len);
		offset += len;
	}
	if (seg != NULL)
		segment_release(seg);
	segment_maps_clear(&maps);
	return NULL;
}

static void turn_passing(struct segment *proxy, struct segment_maps *maps,
			 const void *arg)
{
	struct transfer t = { .proxy = proxy, .file_size = proxy->capacity + 100,
			      .turns = { WAIT_ERROR, WAIT_ERROR } };
	pthread_t worker;
	struct chunk c;
	uint64_t taken = 0;

	(void)maps, (void)arg;
	if (!in_thread(&worker, worker_writes_file, &t))
		return;
	for (int i = 0; i < 2; i++) {
		enum wait_result r = channel_take_chunk(proxy, TURN_WAIT_MS,
							&never_stopping, &c);

		if (!CHECK(r == WAIT_OK, "chunk %d: channel_take_chunk gave %d, not WAIT_OK", i, r))
			break;
		CHECK(c.status == CHUNK_OK && c.file_size == t.file_size,
		      "chunk %d: status %d, file size %llu", i, c.status,
		      (unsigned long long)c.file_size);
		take_file_bytes(i, c.bytes, c.len, &taken);
		if (taken < t.file_size)
			channel_give_turn(proxy);
	}
	pthread_join(worker, NULL);
	CHECK(taken == t.file_size, "took %llu bytes of %llu",
	      (unsigned long long)taken, (unsigned long long)t.file_size);
	CHECK(t.turns[0] == WAIT_OK && t.turns[1] == WAIT_OK,
	      "the worker's turns gave %d and %d", t.turns[0], t.turns[1]);
	CHECK(proxy->holds_turn && channel_is_idle(proxy),
	      "after the last chunk the segment is not idle with the proxy");
}

/* ---- A worker of an older transfer, or for another chunk. ---- */

static void stale_turn(struct segment *proxy, struct segment_maps *maps,
		       const void *arg)
{
	uint64_t old = proxy->generation;
	struct segment *seg;
	enum wait_result r;

	(void)arg;
	if (!CHECK(channel_take_back_turn(proxy), "no take-back") ||
	    !start(proxy) || (seg = attach(maps, proxy)) == NULL)
		return;
	r = channel_take_turn(seg, old, 0, QUICK_MS, &never_stopping);
	if (CHECK(r == WAIT_STALE, "a turn of generation %llu taken for %llu gave %d, not WAIT_STALE",
		  (unsigned long long)proxy->generation, (unsigned long long)old, r)) {
		r = channel_take_turn(seg, proxy->generation, 512, QUICK_MS,
				      &never_stopping);
		CHECK(r == WAIT_STALE, "a turn for offset 0 taken for 512 gave %d, not WAIT_STALE", r);
	}
	/* A worker that wrongly kept the turn must not stop the run on
	 * segment_release()'s assert. */
	seg->holds_turn = false;
	segment_release(seg);
	/* Handed back untouched: the proxy can still take it. */
	CHECK(channel_take_back_turn(proxy),
	      "a stale worker kept the turn instead of handing it back");
}

/* ---- Nobody picked the turn up: the proxy takes it back. ---- */

static void take_back(struct segment *proxy, struct segment_maps *maps,
		      const void *arg)
{
	(void)maps, (void)arg;
	CHECK(!proxy->holds_turn, "the proxy still holds the turn it gave");
	CHECK(channel_take_back_turn(proxy), "an untaken turn was not taken back");
	CHECK(proxy->holds_turn && channel_is_idle(proxy),
	      "after a take-back the segment is not idle with the proxy");
}

/* ---- Chunks that break the rules. ---- */

enum flaw { WRONG_TOKEN, WRONG_OFFSET, TOO_LONG, UNKNOWN_STATUS };
static const char *const flaw_names[] = {
	"another token", "the wrong offset", "a length past the data area",
	"an unknown status",
};

static void put_flawed_chunk(struct segment *seg, const struct segment *proxy,
			     enum flaw flaw)
{
	struct segment_header *h = seg->header;
	uint64_t token = proxy->token + (flaw == WRONG_TOKEN);
	uint64_t offset = flaw == WRONG_OFFSET ? 512 : 0;

	if (flaw == WRONG_TOKEN || flaw == WRONG_OFFSET) {
		channel_put_chunk(seg, token, CHUNK_OK, seg->capacity, offset, 100);
		return;
	}
	/* channel_put_chunk() asserts what a correct worker does; a broken
	 * one writes the header itself. */
	h->chunk_token = token;
	h->chunk_offset = offset;
	h->file_size = 2 * seg->capacity;
	h->chunk_len = flaw == TOO_LONG ? (uint32_t)seg->capacity + 1 : 100;
	atomic_store(&h->status, flaw == UNKNOWN_STATUS ? 7 : CHUNK_OK);
	seg->holds_turn = false;
	sem_post(&h->data_ready);
}

static void bad_chunk(struct segment *proxy, struct segment_maps *maps,
		      const void *arg)
{
	enum flaw flaw = *(const enum flaw *)arg;
	struct segment *seg = attach(maps, proxy);
	struct chunk c;
	enum wait_result r;

	if (seg == NULL)
		return;
	r = channel_take_turn(seg, proxy->generation, 0, QUICK_MS, &never_stopping);
	if (CHECK(r == WAIT_OK, "%s: the worker's turn gave %d", flaw_names[flaw], r)) {
		put_flawed_chunk(seg, proxy, flaw);
		r = channel_take_chunk(proxy, QUICK_MS, &never_stopping, &c);
		CHECK(r == WAIT_BAD_CHUNK, "a chunk with %s gave %d, not WAIT_BAD_CHUNK",
		      flaw_names[flaw], r);
	}
	segment_release(seg);
}

/* ---- A bounded wait: nobody answers. ---- */

static void timeout(struct segment *proxy, struct segment_maps *maps,
		    const void *arg)
{
	struct timespec t0 = deadline_after(CLOCK_MONOTONIC, 0);
	struct chunk c;
	enum wait_result r = channel_take_chunk(proxy, QUICK_MS, &never_stopping, &c);
	long waited = ms_since(&t0);

	(void)maps, (void)arg;
	CHECK(r == WAIT_TIMEOUT, "a chunk nobody writes gave %d, not WAIT_TIMEOUT", r);
	CHECK_BOUNDED(waited, QUICK_MS);
}

/* ---- A worker that dies holding the turn. ---- */

static bool worker_takes_turn(void *arg)
{
	const struct segment *proxy = arg;
	struct segment_maps maps = { 0 };
	char why[256];
	struct segment *seg = segment_attach(&maps, proxy->name, why, sizeof(why));

	return seg != NULL &&
	       channel_take_turn(seg, proxy->generation, 0, TURN_WAIT_MS,
				 &never_stopping) == WAIT_OK;
}

static void dead_worker(struct segment *proxy, struct segment_maps *maps,
			const void *arg)
{
	struct chunk c;
	enum wait_result r;

	(void)maps, (void)arg;
	if (!CHECK(in_child(worker_takes_turn, proxy), "the child did not take the turn"))
		return;
	r = channel_take_chunk(proxy, QUICK_MS, &never_stopping, &c);
	CHECK(r == WAIT_TIMEOUT, "waiting on a dead worker gave %d, not WAIT_TIMEOUT", r);
	CHECK(!channel_take_back_turn(proxy),
	      "the proxy took back a turn the dead worker had taken");
}

int main(void)
{
	static const enum flaw flaws[] = { WRONG_TOKEN, WRONG_OFFSET, TOO_LONG,
					   UNKNOWN_STATUS };

	on_new_transfer(turn_passing, NULL);
	on_new_transfer(stale_turn, NULL);
	on_new_transfer(take_back, NULL);
	for (size_t i = 0; i < sizeof(flaws) / sizeof(flaws[0]); i++)
		on_new_transfer(bad_chunk, &flaws[i]);
	on_new_transfer(timeout, NULL);
	on_new_transfer(dead_worker, NULL);
	return tests_result("shm_channel_mqueue");
}
