/*
 * socket.c: solution/socket/shm_channel.c in one process: the proxy's side
 * in the main thread, the cache worker's in a second thread or a forked
 * child, on one real segment. The handshake across threads, a worker of
 * an ended transfer, the proxy taking its segment back, chunks that break
 * the rules, a bounded wait, a worker that dies holding the lock.
 * Exits 0 when all pass.
 */
#include <pthread.h>
#include <string.h>

#include "cache-student.h"
#include "shm_channel.h"

#define SEGMENT_SIZE 4096

#include "shm_test.h"

static atomic_bool never_stopping;

#ifdef __SANITIZE_THREAD__
/* ThreadSanitizer's pthread_mutex_timedlock() marks the lock taken only
 * when it returns 0, not on EOWNERDEAD (pthread_mutex_lock() it repairs),
 * so the unlock in release_dead_owners_lock() looks like one of a free
 * lock. */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
	return "mutex:release_dead_owners_lock\n";
}
#endif

static bool start(struct segment *proxy)
{
	enum wait_result r = channel_start_transfer(proxy);

	return CHECK(r == WAIT_OK, "channel_start_transfer gave %d, not WAIT_OK", r);
}

/* A worker maps the proxy's segment and claims the data area, which is
 * expected to be free at once. */
static struct segment *attach_and_claim(struct segment_maps *maps,
					const struct segment *proxy)
{
	struct segment *seg = segment_attach(maps, proxy->name, proxy->size);
	enum wait_result r;

	if (!CHECK(seg != NULL, "segment_attach %s failed", proxy->name))
		return NULL;
	r = channel_claim_space(seg, proxy->generation, &never_stopping);
	return CHECK(r == WAIT_OK, "channel_claim_space gave %d, not WAIT_OK", r) ?
		seg : NULL;
}

/* ---- The handshake: a worker thread writes a file of two chunks. ---- */

struct transfer {
	const struct segment *proxy;
	uint64_t file_len;
	enum wait_result claims[2], puts[2];
};

static void *worker_writes_file(void *arg)
{
	struct transfer *t = arg;
	struct segment_maps maps = { 0 };
	struct segment *seg = segment_attach(&maps, t->proxy->name, t->proxy->size);
	uint64_t offset = 0;

	for (int i = 0; seg != NULL && i < 2; i++) {
		size_t len = t->file_len - offset < seg->capacity ?
			t->file_len - offset : seg->capacity;

		t->claims[i] = channel_claim_space(seg, t->proxy->generation,
						   &never_stopping);
		if (t->claims[i] != WAIT_OK)
			break;
		fill_chunk(seg->data, offset, len);
		t->puts[i] = channel_put_chunk(seg, t->file_len, len);
		offset += len;
	}
	segment_maps_clear(&maps);
	return NULL;
}

static void handshake(struct segment *proxy, struct segment_maps *maps,
		      const void *arg)
{
	struct transfer t = { .proxy = proxy, .file_len = proxy->capacity + 100,
			      .claims = { WAIT_ERROR, WAIT_ERROR },
			      .puts = { WAIT_ERROR, WAIT_ERROR } };
	pthread_t worker;
	struct chunk c;
	uint64_t taken = 0;

	(void)maps, (void)arg;
	if (!in_thread(&worker, worker_writes_file, &t))
		return;
	for (int i = 0; i < 2; i++) {
		enum wait_result r = channel_take_chunk(proxy, t.file_len,
							t.file_len - taken,
							&never_stopping, &c);

		if (!CHECK(r == WAIT_OK, "chunk %d: channel_take_chunk gave %d, not WAIT_OK", i, r))
			break;
		take_file_bytes(i, c.bytes, c.len, &taken);
		if (taken < t.file_len)
			CHECK(channel_chunk_sent(proxy) == WAIT_OK,
			      "chunk %d: channel_chunk_sent failed", i);
	}
	pthread_join(worker, NULL);
	CHECK(taken == t.file_len, "took %llu bytes of %llu",
	      (unsigned long long)taken, (unsigned long long)t.file_len);
	CHECK(t.claims[0] == WAIT_OK && t.claims[1] == WAIT_OK &&
	      t.puts[0] == WAIT_OK && t.puts[1] == WAIT_OK,
	      "the worker's claims gave %d and %d, its chunks %d and %d",
	      t.claims[0], t.claims[1], t.puts[0], t.puts[1]);
	CHECK(channel_end_transfer(proxy, false),
	      "a transfer that ended well left the segment unusable");
	CHECK(channel_is_idle(proxy), "after a good transfer the segment is not idle");
}

/* ---- A worker of a transfer that has ended. ---- */

static void stale_generation(struct segment *proxy, struct segment_maps *maps,
			     const void *arg)
{
	uint64_t old = proxy->generation;
	struct segment *seg = segment_attach(maps, proxy->name, proxy->size);
	enum wait_result r;

	(void)arg;
	if (!CHECK(seg != NULL, "segment_attach %s failed", proxy->name) ||
	    !CHECK(channel_end_transfer(proxy, false), "an unclaimed transfer could not end") ||
	    !start(proxy))
		return;
	r = channel_claim_space(seg, old, &never_stopping);
	/* The late worker left the area to the current one. */
	if (CHECK(r == WAIT_STALE, "a claim for ended generation %llu gave %d, not WAIT_STALE",
		  (unsigned long long)old, r))
		attach_and_claim(maps, proxy);
}

/* ---- The proxy takes its segment back at the end of a transfer. ---- */

static void take_back(struct segment *proxy, struct segment_maps *maps,
		      const void *arg)
{
	(void)arg;
	CHECK(channel_end_transfer(proxy, false),
	      "a transfer no worker claimed could not be taken back");
	CHECK(channel_is_idle(proxy), "a taken-back segment is not idle");
	if (start(proxy) && attach_and_claim(maps, proxy) != NULL)
		CHECK(!channel_end_transfer(proxy, false),
		      "the proxy took back a segment a worker is writing into");
}

static void failed_transfer(struct segment *proxy, struct segment_maps *maps,
			    const void *arg)
{
	(void)maps, (void)arg;
	CHECK(!channel_end_transfer(proxy, true),
	      "a failed transfer's segment was kept for reuse");
}

/* ---- Chunks that break the rules. ---- */

enum flaw { WRONG_FILE_LEN, EMPTY, PAST_DUE, PAST_AREA };
static const char *const flaw_names[] = {
	"another file length", "no bytes before the end",
	"more bytes than are due", "a length past the data area",
};

static void put_flawed_chunk(struct segment *seg, uint64_t file_len,
			     enum flaw flaw)
{
	struct segment_header *h = seg->header;

	if (flaw != PAST_AREA) {
		CHECK(channel_put_chunk(seg, file_len + (flaw == WRONG_FILE_LEN),
					flaw == EMPTY ? 0 :
					flaw == PAST_DUE ? 200 : 100) == WAIT_OK,
		      "channel_put_chunk failed");
		return;
	}
	/* channel_put_chunk() asserts what a correct worker does; a broken
	 * one writes the header itself. */
	seg->holds_data = false;
	pthread_mutex_lock(&h->lock);
	h->file_len = file_len;
	h->chunk_len = (uint32_t)seg->capacity + 1;
	h->done_write = 1;
	pthread_cond_signal(&h->chunk_ready);
	pthread_mutex_unlock(&h->lock);
}

static void bad_chunk(struct segment *proxy, struct segment_maps *maps,
		      const void *arg)
{
	enum flaw flaw = *(const enum flaw *)arg;
	struct segment *seg = attach_and_claim(maps, proxy);
	struct chunk c;
	/* The proxy expects 150 more bytes, or (PAST_AREA) more than fit. */
	uint64_t file_len = 10 * SEGMENT_SIZE;
	uint64_t due = flaw == PAST_AREA ? file_len : 150;
	enum wait_result r;

	if (seg == NULL)
		return;
	put_flawed_chunk(seg, file_len, flaw);
	r = channel_take_chunk(proxy, file_len, due, &never_stopping, &c);
	CHECK(r == WAIT_BAD_CHUNK, "a chunk with %s gave %d, not WAIT_BAD_CHUNK",
	      flaw_names[flaw], r);
}

/* ---- A bounded wait: nobody answers. ---- */

static void timeout(struct segment *proxy, struct segment_maps *maps,
		    const void *arg)
{
	struct timespec t0 = deadline_after(CLOCK_MONOTONIC, 0);
	struct chunk c;
	enum wait_result r = channel_take_chunk(proxy, 1000, 1000, &never_stopping, &c);
	long waited = ms_since(&t0);

	(void)maps, (void)arg;
	CHECK(r == WAIT_TIMEOUT, "a chunk nobody writes gave %d, not WAIT_TIMEOUT", r);
	CHECK_BOUNDED(waited, NEXT_CHUNK_TIMEOUT_MS);
	CHECK(!channel_end_transfer(proxy, true),
	      "a timed-out transfer's segment was kept for reuse");
}

/* ---- A worker that dies holding the lock. ---- */

/* This thread can take the lock (so it does not hold it already). */
static void check_lock_free(const struct segment *proxy, const char *what)
{
	int rc = pthread_mutex_trylock(&proxy->header->lock);

	CHECK(rc == 0, "%s: %s", what, strerror(rc));
	if (rc == 0)
		pthread_mutex_unlock(&proxy->header->lock);
}

static bool worker_claims_and_locks(void *arg)
{
	const struct segment *proxy = arg;
	struct segment_maps maps = { 0 };
	struct segment *seg = attach_and_claim(&maps, proxy);

	return seg != NULL && pthread_mutex_lock(&seg->header->lock) == 0;
}

static void dead_worker(struct segment *proxy, struct segment_maps *maps,
			const void *arg)
{
	struct chunk c;
	enum wait_result r;

	(void)maps, (void)arg;
	if (!CHECK(in_child(worker_claims_and_locks, proxy),
		   "the child did not claim and lock"))
		return;
	r = channel_take_chunk(proxy, 1000, 1000, &never_stopping, &c);
	CHECK(r == WAIT_LOST, "a lock whose owner died gave %d, not WAIT_LOST", r);
	CHECK(!channel_end_transfer(proxy, false),
	      "a segment whose lock owner died was kept for reuse");
	check_lock_free(proxy, "after EOWNERDEAD the lock is not usable again");
}

/* ---- An idle segment whose lock a dead process left. ---- */

static bool child_locks(void *arg)
{
	const struct segment *proxy = arg;

	return pthread_mutex_trylock(&proxy->header->lock) == 0;
}

/*
 * channel_is_idle() takes such a lock with EOWNERDEAD, and the pool then
 * unmaps the segment: the lock must be let go first. Held, it stays on
 * this thread's robust list, whose next update writes through whatever
 * is mapped there later: the replacement segment, whose lock a cache
 * worker then unlocked through this process's pointers (SIGSEGV).
 */
static void idle_dead_owner(struct segment *proxy, struct segment_maps *maps,
			    const void *arg)
{
	(void)maps, (void)arg;
	if (!CHECK(channel_end_transfer(proxy, false),
		   "a transfer that ended well left its segment unusable") ||
	    !CHECK(in_child(child_locks, proxy), "the child did not lock"))
		return;
	CHECK(!channel_is_idle(proxy),
	      "a segment whose lock owner died was taken as idle");
	check_lock_free(proxy, "channel_is_idle kept the dead owner's lock");
}

/* ---- A worker's kept mappings of replaced segments. ---- */

static int kept_mappings(const struct segment_maps *maps)
{
	int n = 0;

	for (int i = 0; i < MAPPINGS_KEPT; i++)
		n += maps->slot[i].header != NULL;
	return n;
}

/*
 * The proxy replaces the segment (a new object under a new name) again
 * and again; the worker maps each. A mapping of a removed object keeps
 * its descriptor for nothing: the worker holds only the live one.
 */
static void replaced_segments(struct segment *proxy, struct segment_maps *maps,
			      const void *arg)
{
	(void)arg;
	for (int i = 0; i < MAPPINGS_KEPT + 2; i++) {
		if (!CHECK(segment_attach(maps, proxy->name, proxy->size) != NULL,
			   "segment_attach %s failed", proxy->name))
			return;
		CHECK(kept_mappings(maps) == 1,
		      "after %d replacements the worker keeps %d mappings, not 1",
		      i, kept_mappings(maps));
		segment_destroy(proxy);
		if (!new_segment(proxy, SEGMENT_SIZE))
			return;
	}
}

int main(void)
{
	static const enum flaw flaws[] = { WRONG_FILE_LEN, EMPTY, PAST_DUE,
					   PAST_AREA };

	on_new_transfer(handshake, NULL);
	on_new_transfer(stale_generation, NULL);
	on_new_transfer(take_back, NULL);
	on_new_transfer(failed_transfer, NULL);
	for (size_t i = 0; i < sizeof(flaws) / sizeof(flaws[0]); i++)
		on_new_transfer(bad_chunk, &flaws[i]);
	on_new_transfer(timeout, NULL);
	on_new_transfer(dead_worker, NULL);
	on_new_transfer(idle_dead_owner, NULL);
	on_new_transfer(replaced_segments, NULL);
	return tests_result("shm_channel_socket");
}
