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
#include "shm_test.h"

#define SEGMENT_SIZE 4096
#define QUICK_MS 300		/* a wait expected to end at once, or to time out */
#define TURN_WAIT_MS 5000	/* a wait the other thread ends */

static atomic_bool never_stopping;

static bool new_segment(struct segment *proxy)
{
	char name[IPCNAME_MAX];

	unique_segment_name(name, sizeof(name));
	return CHECK(segment_create(proxy, name, SEGMENT_SIZE) == 0,
		     "segment_create %s failed", name);
}

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
	uint64_t generation, token, file_size;
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

		t->turns[i] = channel_take_turn(seg, t->generation, offset,
						TURN_WAIT_MS, &never_stopping);
		if (t->turns[i] != WAIT_OK)
			break;
		fill_chunk(seg->data, offset, len);
		channel_put_chunk(seg, t->token, CHUNK_OK, t->file_size, offset, len);
		offset += len;
	}
	if (seg != NULL)
		segment_release(seg);
	segment_maps_clear(&maps);
	return NULL;
}

static void test_turn_passing(void)
{
	struct segment proxy;
	struct transfer t = { .proxy = &proxy, .turns = { WAIT_ERROR, WAIT_ERROR } };
	pthread_t worker;
	struct chunk c;
	uint64_t taken = 0;

	if (!new_segment(&proxy))
		return;
	t.file_size = proxy.capacity + 100;
	if (start(&proxy)) {
		t.generation = proxy.generation;
		t.token = proxy.token;
		CHECK(pthread_create(&worker, NULL, worker_writes_file, &t) == 0,
		      "pthread_create failed");
		for (int i = 0; i < 2; i++) {
			enum wait_result r = channel_take_chunk(&proxy, TURN_WAIT_MS,
								&never_stopping, &c);

			if (!CHECK(r == WAIT_OK, "chunk %d: channel_take_chunk gave %d, not WAIT_OK", i, r))
				break;
			CHECK(c.status == CHUNK_OK && c.file_size == t.file_size,
			      "chunk %d: status %d, file size %llu", i, c.status,
			      (unsigned long long)c.file_size);
			CHECK(first_bad_byte(c.bytes, taken, c.len) == c.len,
			      "chunk %d: byte %zu differs from the file", i,
			      first_bad_byte(c.bytes, taken, c.len));
			taken += c.len;
			if (taken < t.file_size)
				channel_give_turn(&proxy);
		}
		pthread_join(worker, NULL);
		CHECK(taken == t.file_size, "took %llu bytes of %llu",
		      (unsigned long long)taken, (unsigned long long)t.file_size);
		CHECK(t.turns[0] == WAIT_OK && t.turns[1] == WAIT_OK,
		      "the worker's turns gave %d and %d", t.turns[0], t.turns[1]);
		CHECK(proxy.holds_turn && channel_is_idle(&proxy),
		      "after the last chunk the segment is not idle with the proxy");
	}
	segment_destroy(&proxy);
}

/* ---- A worker of an older transfer, or for another chunk. ---- */

static void test_stale_turn(void)
{
	struct segment proxy;
	struct segment_maps maps = { 0 };
	struct segment *seg;
	uint64_t old;

	if (!new_segment(&proxy))
		return;
	if (start(&proxy) && CHECK(channel_take_back_turn(&proxy), "no take-back")) {
		old = proxy.generation;
		if (start(&proxy) && (seg = attach(&maps, &proxy)) != NULL) {
			enum wait_result r = channel_take_turn(seg, old, 0, QUICK_MS,
							       &never_stopping);

			CHECK(r == WAIT_STALE, "a turn of generation %llu taken for %llu gave %d, not WAIT_STALE",
			      (unsigned long long)proxy.generation,
			      (unsigned long long)old, r);
			r = channel_take_turn(seg, proxy.generation, 512, QUICK_MS,
					      &never_stopping);
			CHECK(r == WAIT_STALE, "a turn for offset 0 taken for 512 gave %d, not WAIT_STALE", r);
			segment_release(seg);
			/* Handed back untouched: the proxy can still take it. */
			CHECK(channel_take_back_turn(&proxy),
			      "a stale worker kept the turn instead of handing it back");
		}
	}
	segment_maps_clear(&maps);
	segment_destroy(&proxy);
}

/* ---- Nobody picked the turn up: the proxy takes it back. ---- */

static void test_take_back(void)
{
	struct segment proxy;

	if (!new_segment(&proxy))
		return;
	if (start(&proxy)) {
		CHECK(!proxy.holds_turn, "the proxy still holds the turn it gave");
		CHECK(channel_take_back_turn(&proxy), "an untaken turn was not taken back");
		CHECK(proxy.holds_turn && channel_is_idle(&proxy),
		      "after a take-back the segment is not idle with the proxy");
	}
	segment_destroy(&proxy);
}

/* ---- Chunks that break the rules. ---- */

enum flaw { WRONG_TOKEN, WRONG_OFFSET, TOO_LONG, UNKNOWN_STATUS };

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

static void test_bad_chunk(enum flaw flaw, const char *what)
{
	struct segment proxy;
	struct segment_maps maps = { 0 };
	struct segment *seg;
	struct chunk c;

	if (!new_segment(&proxy))
		return;
	if (start(&proxy) && (seg = attach(&maps, &proxy)) != NULL) {
		enum wait_result r = channel_take_turn(seg, proxy.generation, 0,
						       QUICK_MS, &never_stopping);

		if (CHECK(r == WAIT_OK, "%s: the worker's turn gave %d", what, r)) {
			put_flawed_chunk(seg, &proxy, flaw);
			r = channel_take_chunk(&proxy, QUICK_MS, &never_stopping, &c);
			CHECK(r == WAIT_BAD_CHUNK, "a chunk with %s gave %d, not WAIT_BAD_CHUNK",
			      what, r);
		}
		segment_release(seg);
	}
	segment_maps_clear(&maps);
	segment_destroy(&proxy);
}

/* ---- A bounded wait: nobody answers. ---- */

static void test_timeout(void)
{
	struct segment proxy;
	struct chunk c;

	if (!new_segment(&proxy))
		return;
	if (start(&proxy)) {
		struct timespec t0 = deadline_after(CLOCK_MONOTONIC, 0);
		enum wait_result r = channel_take_chunk(&proxy, QUICK_MS,
							&never_stopping, &c);
		long waited = ms_since(&t0);

		CHECK(r == WAIT_TIMEOUT, "a chunk nobody writes gave %d, not WAIT_TIMEOUT", r);
		CHECK(waited >= QUICK_MS - 10 && waited < QUICK_MS + 2000,
		      "a wait bounded at %d ms took %ld ms", QUICK_MS, waited);
	}
	segment_destroy(&proxy);
}

/* ---- A worker that dies holding the turn. ---- */

static void test_dead_worker(void)
{
	struct segment proxy;
	struct chunk c;
	pid_t pid;

	if (!new_segment(&proxy))
		return;
	if (start(&proxy)) {
		pid = fork();
		if (pid == 0) {
			struct segment_maps maps = { 0 };
			char why[256];
			struct segment *seg = segment_attach(&maps, proxy.name, why, sizeof(why));

			_exit(seg != NULL &&
			      channel_take_turn(seg, proxy.generation, 0, TURN_WAIT_MS,
						&never_stopping) == WAIT_OK ? 0 : 1);
		}
		if (CHECK(pid > 0, "fork failed")) {
			CHECK(child_succeeded(pid), "the child did not take the turn");
			enum wait_result r = channel_take_chunk(&proxy, QUICK_MS,
								&never_stopping, &c);

			CHECK(r == WAIT_TIMEOUT, "waiting on a dead worker gave %d, not WAIT_TIMEOUT", r);
			CHECK(!channel_take_back_turn(&proxy),
			      "the proxy took back a turn the dead worker had taken");
		}
	}
	segment_destroy(&proxy);
}

int main(void)
{
	test_turn_passing();
	test_stale_turn();
	test_take_back();
	test_bad_chunk(WRONG_TOKEN, "another token");
	test_bad_chunk(WRONG_OFFSET, "the wrong offset");
	test_bad_chunk(TOO_LONG, "a length past the data area");
	test_bad_chunk(UNKNOWN_STATUS, "an unknown status");
	test_timeout();
	test_dead_worker();
	return tests_result("shm_channel_mqueue");
}
