/*
 * shm_channel.c (independent implementation): making, mapping and pacing
 * the ring segments described in shm_channel.h.
 */
/* sem_clockwait() is a GNU extension (glibc 2.30). */
#define _GNU_SOURCE
#include "shm_channel.h"
#include "cache-student.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A waiter looks at the stopping flag (and the owner) this often. */
#define SLICE_MS 250

const char *wait_end_text(enum wait_end e)
{
	switch (e) {
	case WAIT_DONE: return "done";
	case WAIT_TIMED_OUT: return "timed out";
	case WAIT_STOPPING: return "shutting down";
	case WAIT_OWNER_GONE: return "the segment's proxy is gone";
	case WAIT_NOT_MINE: return "the segment serves another transfer";
	case WAIT_BAD_SLOT: return "the cache wrote a bad slot";
	}
	return "?";
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static struct timespec monotonic_at(long long ms)
{
	struct timespec t = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	return t;
}

/* kill(pid, 0) fails with ESRCH only when no such process exists. */
static bool owner_alive(pid_t owner)
{
	return owner <= 0 || kill(owner, 0) == 0 || errno != ESRCH;
}

/*
 * Sleeps on sem for at most timeout_ms, in slices, so that shutdown is
 * noticed within a slice, and a dead owner after a slice that ran out
 * (owner 0: nobody to watch). A post already there is taken at once.
 */
static enum wait_end bounded_wait(sem_t *sem, int timeout_ms,
				  const atomic_bool *stopping, pid_t owner)
{
	long long end = now_ms() + timeout_ms;

	if (sem_trywait(sem) == 0)
		return WAIT_DONE;
	for (;;) {
		long long slice_end = now_ms() + SLICE_MS;
		struct timespec until;

		if (atomic_load(stopping))
			return WAIT_STOPPING;
		if (slice_end > end)
			slice_end = end;
		until = monotonic_at(slice_end);
		if (sem_clockwait(sem, CLOCK_MONOTONIC, &until) == 0)
			return WAIT_DONE;
		if (errno != ETIMEDOUT && errno != EINTR) {
			perror("sem_clockwait");
			return WAIT_TIMED_OUT;
		}
		if (now_ms() >= end)
			return WAIT_TIMED_OUT;
		if (!owner_alive(owner))
			return WAIT_OWNER_GONE;
	}
}

/* Points the ring's fields into a mapping of `bytes` bytes at base. */
static void lay_out(struct ring *r, void *base, size_t bytes)
{
	r->head = base;
	r->bytes = bytes;
	r->slots = (unsigned char *)base + sizeof(struct ring_header);
	r->slot_bytes = (bytes - sizeof(struct ring_header)) / RING_SLOTS;
	r->cursor = 0;
}

static unsigned char *slot_at(const struct ring *r, unsigned cursor)
{
	return r->slots + (size_t)(cursor % RING_SLOTS) * r->slot_bytes;
}

/* ---------------------------------------------------------- proxy side */

/*
 * O_EXCL, so two proxies never share an object. A name carries our own
 * pid, so an object already there was left by a dead process that had our
 * pid before us (pids are reused): it is removed and made again.
 */
static int open_new(const char *name)
{
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);

	if (fd < 0 && errno == EEXIST) {
		fprintf(stderr, "webproxy: removing %s, left by a dead process\n",
			name);
		if (shm_unlink(name) != 0 && errno != ENOENT) {
			fprintf(stderr, "webproxy: shm_unlink %s: %s\n", name,
				strerror(errno));
			return -1;
		}
		fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	}
	if (fd < 0)
		fprintf(stderr, "webproxy: shm_open %s: %s\n", name,
			strerror(errno));
	return fd;
}

int ring_create(struct ring *r, const char *name, size_t bytes)
{
	void *base;
	int fd;

	memset(r, 0, sizeof(*r));
	assert(bytes >= RING_MIN_BYTES && bytes <= (size_t)RING_MAX_BYTES);
	if (snprintf(r->name, sizeof(r->name), "%s", name) >= (int)sizeof(r->name))
		return -1;
	fd = open_new(name);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)bytes) != 0) {
		fprintf(stderr, "webproxy: ftruncate %s: %s\n", name,
			strerror(errno));
		close(fd);
		shm_unlink(name);
		return -1;
	}
	base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED) {
		fprintf(stderr, "webproxy: mmap %s: %s\n", name, strerror(errno));
		shm_unlink(name);
		return -1;
	}
	lay_out(r, base, bytes);
	/* pshared = 1: the other process waits and posts on them too. */
	if (sem_init(&r->head->vacant, 1, 0) != 0 ||
	    sem_init(&r->head->filled, 1, 0) != 0) {
		perror("webproxy: sem_init");
		ring_remove(r);
		return -1;
	}
	atomic_store(&r->head->ticket, 0);
	return 0;
}

/*
 * The semaphores are not destroyed: a late worker may still wait on them
 * in its own mapping, and destroying a semaphore someone waits on is
 * undefined. Their memory goes with the object's last mapping.
 */
void ring_remove(struct ring *r)
{
	if (r->head == NULL)
		return;
	if (munmap(r->head, r->bytes) != 0)
		fprintf(stderr, "webproxy: munmap %s: %s\n", r->name,
			strerror(errno));
	if (shm_unlink(r->name) != 0)
		fprintf(stderr, "webproxy: shm_unlink %s: %s\n", r->name,
			strerror(errno));
	r->head = NULL;
}

/* Called while the segment is quiet: no worker reads a ticket it could
 * mistake for its own, because every ticket is new and never 0. */
int ring_start(struct ring *r)
{
	uint64_t t = 0;

	while (t == 0) {
		if (getrandom(&t, sizeof(t), 0) != (ssize_t)sizeof(t)) {
			perror("webproxy: getrandom");
			return -1;
		}
	}
	r->ticket = t;
	r->cursor = 0;
	atomic_store(&r->head->ticket, t);
	return 0;
}

void ring_unstart(struct ring *r)
{
	r->ticket = 0;
	atomic_store(&r->head->ticket, 0);
}

void ring_offer(struct ring *r)
{
	ring_give_back(r, RING_SLOTS);
}

/* Reads the label of the slot at the cursor and moves past it. Returns
 * false if the label breaks the rules. */
static bool read_label(struct ring *r, struct piece *out)
{
	const struct slot_label *label = &r->head->label[r->cursor % RING_SLOTS];

	out->status = label->status;
	out->file_size = label->file_size;
	out->length = label->length;
	out->bytes = slot_at(r, r->cursor);
	out->slots = 1;
	r->cursor++;
	return label->ticket == r->ticket && out->length <= r->slot_bytes &&
	       (out->status == SLOT_DATA || out->status == SLOT_MISSING ||
		out->status == SLOT_FAILED);
}

/*
 * Waits for the next slot, then takes the filled slots right after it as
 * one run, as long as each so far was full (so the bytes are adjacent) and
 * the ring does not wrap: one send to the client instead of several.
 * sem_trywait here never waits; it only asks whether more are ready.
 */
enum wait_end ring_take(struct ring *r, int timeout_ms,
			const atomic_bool *stopping, struct piece *out)
{
	enum wait_end e = bounded_wait(&r->head->filled, timeout_ms, stopping, 0);

	if (e != WAIT_DONE)
		return e;
	if (!read_label(r, out))
		return WAIT_BAD_SLOT;
	while (out->status == SLOT_DATA &&
	       out->length == out->slots * r->slot_bytes &&
	       r->cursor % RING_SLOTS != 0 &&
	       sem_trywait(&r->head->filled) == 0) {
		struct piece next;

		if (!read_label(r, &next) || next.status != SLOT_DATA ||
		    next.file_size != out->file_size)
			return WAIT_BAD_SLOT;
		out->length += next.length;
		out->slots++;
	}
	return WAIT_DONE;
}

void ring_give_back(struct ring *r, unsigned slots)
{
	for (unsigned i = 0; i < slots; i++)
		sem_post(&r->head->vacant);
}

/*
 * After the last piece the worker waits no more, so the `vacant` posts it
 * did not use are the proxy's to take back. There are at most RING_SLOTS
 * of them, and nothing may be left `filled`; anything else means the cache
 * broke the handshake, and the segment is not quiet. (sem_trywait never
 * waits, and the loop is bounded: this is not polling.)
 */
bool ring_settle(struct ring *r)
{
	int taken = 0, filled = -1;

	while (taken <= RING_SLOTS && sem_trywait(&r->head->vacant) == 0)
		taken++;
	if (taken > RING_SLOTS ||
	    sem_getvalue(&r->head->filled, &filled) != 0 || filled != 0)
		return false;
	ring_unstart(r);
	return true;
}

/* Clears the ticket, then posts so a worker asleep on `vacant` wakes, sees
 * the ticket is no longer its own, and leaves. */
void ring_cancel(struct ring *r)
{
	ring_unstart(r);
	ring_offer(r);
}

/* ---------------------------------------------------------- cache side */

int ring_attach(struct ring *r, const char *name)
{
	struct stat st;
	void *base;
	int fd;

	memset(r, 0, sizeof(*r));
	/* The name came from another process: only a segment name of ours,
	 * which also gives the owner's pid. */
	if (ipcname_segment_owner(name, &r->owner, NULL) != 0) {
		fprintf(stderr, "simplecached: refusing segment name \"%s\"\n",
			name);
		return -1;
	}
	fd = shm_open(name, O_RDWR, 0);
	if (fd < 0) {
		fprintf(stderr, "simplecached: shm_open %s: %s\n", name,
			strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || st.st_size < RING_MIN_BYTES ||
	    st.st_size > RING_MAX_BYTES) {
		fprintf(stderr, "simplecached: %s: no segment of a valid size\n",
			name);
		close(fd);
		return -1;
	}
	base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED) {
		fprintf(stderr, "simplecached: mmap %s: %s\n", name,
			strerror(errno));
		return -1;
	}
	snprintf(r->name, sizeof(r->name), "%s", name);
	lay_out(r, base, (size_t)st.st_size);
	return 0;
}

void ring_detach(struct ring *r)
{
	if (r->head != NULL && munmap(r->head, r->bytes) != 0)
		fprintf(stderr, "simplecached: munmap %s: %s\n", r->name,
			strerror(errno));
	r->head = NULL;
}

bool ring_serves(const struct ring *r, uint64_t ticket)
{
	return atomic_load(&r->head->ticket) == ticket;
}

/*
 * Waits for a vacant slot, then takes up to want - 1 more that are vacant
 * already, without waiting and without wrapping, so they are adjacent.
 * Posts taken for a ticket that is no longer ours are given back: they
 * were meant for someone else, or they are the proxy's wake-up after a
 * cancel.
 */
enum wait_end ring_claim(struct ring *r, uint64_t ticket, unsigned want,
			 const atomic_bool *stopping, struct run *out)
{
	unsigned room = RING_SLOTS - r->cursor % RING_SLOTS;
	enum wait_end e;

	if (!ring_serves(r, ticket))
		return WAIT_NOT_MINE;
	e = bounded_wait(&r->head->vacant, FREE_SLOT_MS, stopping, r->owner);
	if (e != WAIT_DONE)
		return e;
	out->slots = 1;
	while (out->slots < want && out->slots < room &&
	       sem_trywait(&r->head->vacant) == 0)
		out->slots++;
	if (!ring_serves(r, ticket)) {
		ring_give_back(r, out->slots);
		return WAIT_NOT_MINE;
	}
	out->bytes = slot_at(r, r->cursor);
	out->capacity = out->slots * r->slot_bytes;
	return WAIT_DONE;
}

/*
 * Labels the run's slots (every one full but maybe the last), then posts
 * them all, so the proxy wakes once and takes them as one run. A status
 * other than data takes one slot; the others of the run go back to the
 * vacant count first, because the post of the last `filled` must be the
 * worker's last touch of the segment (ring_settle relies on it).
 */
void ring_publish(struct ring *r, uint64_t ticket, const struct run *run,
		  enum slot_status status, uint64_t file_size, size_t length)
{
	unsigned used = 0;

	assert(length <= run->capacity);
	do {
		struct slot_label *label = &r->head->label[(r->cursor + used) % RING_SLOTS];
		size_t here = length < r->slot_bytes ? length : r->slot_bytes;

		label->ticket = ticket;
		label->file_size = file_size;
		label->status = (uint32_t)status;
		label->length = (uint32_t)here;
		length -= here;
		used++;
	} while (length > 0);
	r->cursor += used;
	ring_give_back(r, run->slots - used);
	for (unsigned i = 0; i < used; i++)
		sem_post(&r->head->filled);
}
