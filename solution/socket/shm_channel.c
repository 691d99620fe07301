/*
 * shm_channel.c: the data channel (see shm_channel.h for the handshake and
 * its invariants). Creating, mapping and removing segments, the bounded
 * lock and waits, and the steps each side takes in the handshake.
 */
/* program_invocation_short_name is a GNU extension. */
#define _GNU_SOURCE
#include "shm_channel.h"
#include "cache-student.h"
#include "deadline.h"
#include "mapping_cache.h"
#include "refusals.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A waiter looks at its process's stopping flag (and, for a worker, at
 * the segment's generation) this often, so shutdown is quick and a late
 * worker leaves soon; between looks it sleeps in the kernel. */
#define WAIT_SLICE_MS 200

/* Says which call failed on which object, and why. `error` is errno for
 * the system calls and the returned number for the pthread calls, which
 * do not set errno. */
static void report_failure(const char *call, const char *name, int error)
{
	fprintf(stderr, "%s: %s %s: %s\n", program_invocation_short_name,
		call, name, strerror(error));
}

/* ---- The lock and the waits ---- */

/* Fails only if someone wrote over the lock; nothing can be done then,
 * but say so. */
static void segment_unlock(struct segment *seg)
{
	int rc = pthread_mutex_unlock(&seg->header->lock);

	if (rc != 0)
		report_failure("pthread_mutex_unlock", seg->name, rc);
}

/*
 * A lock taken with EOWNERDEAD is this thread's, and glibc lists it among
 * the thread's robust locks through words inside the segment. It must be
 * let go before the segment can be unmapped: glibc's next lock or unlock
 * by this thread would write through that entry into whatever is mapped
 * there later, shared memory a peer's own list runs through too.
 */
static void release_dead_owners_lock(pthread_mutex_t *lock, const char *name)
{
	int rc = pthread_mutex_consistent(lock);

	if (rc != 0)
		report_failure("pthread_mutex_consistent", name, rc);
	rc = pthread_mutex_unlock(lock);
	if (rc != 0)
		report_failure("pthread_mutex_unlock", name, rc);
}

/* The lock's holder died: make the lock usable again, release it, and
 * remember that the flags it guarded may be half written. */
static enum wait_result owner_died(struct segment *seg)
{
	fprintf(stderr, "%s: a process died holding the lock of %s\n",
		program_invocation_short_name, seg->name);
	release_dead_owners_lock(&seg->header->lock, seg->name);
	seg->lost = true;
	return WAIT_LOST;
}

/*
 * Takes the segment's lock, waiting at most LOCK_TIMEOUT_MS: the lock is
 * only ever held for a few flag updates, so a longer wait means the peer
 * is broken. pthread_mutex_timedlock() takes a CLOCK_REALTIME deadline
 * (pthread_mutex_clocklock() would not, but the thread sanitizer does not
 * know it yet); for a bound of a second, the difference is harmless.
 */
static enum wait_result segment_lock(struct segment *seg)
{
	struct timespec deadline = deadline_after(CLOCK_REALTIME, LOCK_TIMEOUT_MS);

	/* The lock lives in the object: if another process shrank it, taking
	 * the lock would raise SIGBUS. segment_fits said why. */
	if (!segment_fits(seg))
		return WAIT_ERROR;
	//@ begin take the lock
	int rc = pthread_mutex_timedlock(&seg->header->lock, &deadline);

	if (rc == 0)
		return WAIT_OK;
	if (rc == EOWNERDEAD)
		return owner_died(seg);
	if (rc == ETIMEDOUT) {
		fprintf(stderr, "%s: the lock of %s was held over %d ms\n",
			program_invocation_short_name, seg->name,
			LOCK_TIMEOUT_MS);
		return WAIT_ERROR;	/* said here; WAIT_TIMEOUT means the peer */
	}
	report_failure("pthread_mutex_timedlock", seg->name, rc);
	return WAIT_ERROR;
	//@ end
}

/*
 * With the lock held: sleeps on cond until it is signalled or a slice
 * ends (the caller re-checks its condition either way), never past
 * `deadline`. On any result but WAIT_OK the lock is no longer held.
 */
static enum wait_result wait_a_slice(struct segment *seg, pthread_cond_t *cond,
				     const struct timespec *deadline,
				     const atomic_bool *stopping)
{
	struct timespec slice = deadline_after(CLOCK_MONOTONIC, WAIT_SLICE_MS);
	int rc;

	if (atomic_load(stopping)) {
		segment_unlock(seg);
		return WAIT_STOPPING;
	}
	//@ begin wait a slice
	if (deadline_before(deadline, &slice))
		slice = *deadline;
	rc = pthread_cond_timedwait(cond, &seg->header->lock, &slice);
	if (rc == EOWNERDEAD)
		return owner_died(seg);
	if (rc != 0 && rc != ETIMEDOUT) {
		report_failure("pthread_cond_timedwait", seg->name, rc);
		segment_unlock(seg);
		return WAIT_ERROR;
	}
	if (rc == ETIMEDOUT && !deadline_before(&slice, deadline)) {
		segment_unlock(seg);
		return WAIT_TIMEOUT;
	}
	return WAIT_OK;
	//@ end
}

/*
 * Tells the other side to look at the flags again. A signal fails only on
 * a condition variable someone wrote over; the other side's bounded wait
 * then runs out, which is all that can be done.
 */
static void wake(struct segment *seg, pthread_cond_t *cond)
{
	int rc = pthread_cond_signal(cond);

	if (rc != 0)
		report_failure("pthread_cond_signal", seg->name, rc);
}

/* ---- Both sides: mappings and names ---- */

/* A descriptor of a shared-memory object has nothing to write back, so
 * a failed close loses nothing: it is only reported. */
static void close_object(int fd, const char *name)
{
	if (close(fd) != 0)
		report_failure("close", name, errno);
}

static void unmap_segment(struct segment *seg)
{
	if (seg->header == NULL)
		return;
	if (munmap(seg->header, seg->size) != 0)
		report_failure("munmap", seg->name, errno);
	close_object(seg->fd, seg->name);
	seg->fd = -1;
	seg->header = NULL;
}

/*
 * Any process of this user can shrink the object; touching a mapping past
 * the object's end raises SIGBUS. So each side checks the size before it
 * touches a segment after a wait. (A truncation between this check and
 * the access still kills us: that race cannot be closed from here.)
 */
bool segment_fits(const struct segment *seg)
{
	return shm_object_fits(seg->fd, seg->size, seg->name);
}

/* ---- Proxy side: the proxy creates, owns and removes segments. ---- */

/* A robust lock that works across processes: if its holder dies, the
 * next locker gets EOWNERDEAD instead of waiting for ever. Returns 0 or
 * the error of the call that failed. */
static int init_lock(pthread_mutex_t *lock)
{
	pthread_mutexattr_t ma;
	int rc = pthread_mutexattr_init(&ma);

	if (rc != 0)
		return rc;
	//@ begin make the lock
	rc = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	if (rc == 0)
		rc = pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	if (rc == 0)
		rc = pthread_mutex_init(lock, &ma);
	//@ end
	/* Destroying attributes that init made cannot fail: nothing to check. */
	pthread_mutexattr_destroy(&ma);
	return rc;
}

/* A condition variable that works across processes and measures its
 * timeouts on CLOCK_MONOTONIC, so a change of the wall clock cannot
 * stretch or cut a bound. Returns 0 or the error of the call that failed. */
static int init_condition(pthread_cond_t *cond)
{
	pthread_condattr_t ca;
	int rc = pthread_condattr_init(&ca);

	if (rc != 0)
		return rc;
	//@ begin make a condition variable
	rc = pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	if (rc == 0)
		rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(cond, &ca);
	//@ end
	/* Destroying attributes that init made cannot fail: nothing to check. */
	pthread_condattr_destroy(&ca);
	return rc;
}

/* The lock and both condition variables, in a header ftruncate filled
 * with zeros: no generation, no turn. */
static int init_header(struct segment_header *h, size_t size)
{
	int rc = init_lock(&h->lock);

	if (rc == 0)
		rc = init_condition(&h->chunk_ready);
	if (rc == 0)
		rc = init_condition(&h->space_free);
	h->size = size;
	return rc;
}

/* Removes a segment's name; its memory goes with the last mapping. A name
 * that stays would be a leftover in /dev/shm: say so. */
static void remove_name(const char *name)
{
	if (shm_unlink(name) != 0)
		report_failure("shm_unlink", name, errno);
}

/* Called when nobody waits on either condition variable (a fresh
 * segment, or the end of a transfer that ended well). */
static void remember_quiet_conditions(struct segment *seg)
{
	memcpy(seg->quiet_conditions, &seg->header->chunk_ready,
	       sizeof(pthread_cond_t));
	memcpy(seg->quiet_conditions + sizeof(pthread_cond_t),
	       &seg->header->space_free, sizeof(pthread_cond_t));
}

/* Creates the object `name` of exactly `size` bytes and maps it. Returns
 * the mapping, its descriptor in *fd, or NULL (said why) with nothing left
 * behind. */
static void *create_object(const char *name, size_t size, int *fd)
{
	//@ begin create a segment
	void *base = MAP_FAILED;

	*fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (*fd < 0) {
		report_failure("shm_open", name, errno);
		return NULL;
	}
	if (ftruncate(*fd, (off_t)size) == 0) {
		base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
		if (base == MAP_FAILED)
			report_failure("mmap", name, errno);
	} else {
		report_failure("ftruncate", name, errno);
	}
	if (base == MAP_FAILED) {
		close_object(*fd, name);
		remove_name(name);
		return NULL;
	}
	return base;
	//@ end
}

int segment_create(struct segment *seg, const char *name, size_t size)
{
	int fd = -1;
	unsigned char *base = create_object(name, size, &fd);
	int rc;

	memset(seg, 0, sizeof(*seg));
	seg->fd = fd;
	if (base == NULL)
		return -1;
	snprintf(seg->name, sizeof(seg->name), "%s", name);
	seg->size = size;
	seg->header = (struct segment_header *)base;
	seg->data = base + sizeof(struct segment_header);
	seg->capacity = size - sizeof(struct segment_header);
	rc = init_header(seg->header, size);
	if (rc != 0) {
		fprintf(stderr, "webproxy: cannot set up the lock and conditions of %s: %s\n",
			name, strerror(rc));
		segment_destroy(seg);
		return -1;
	}
	remember_quiet_conditions(seg);
	return 0;
}

/*
 * The lock and the conditions are not destroyed: a late worker of the
 * cache may still be waiting on them, and destroying what another process
 * waits on is undefined. Unmapping and unlinking is enough; the object's
 * memory goes when the last process unmaps it.
 */
void segment_destroy(struct segment *seg)
{
	if (seg->header == NULL)
		return;		/* never made, or already removed */
	//@ begin remove a segment
	unmap_segment(seg);
	remove_name(seg->name);
	//@ end
}

/* ---- Proxy side: one transfer. ---- */

/*
 * A segment that sat in the pool is reused only if it is as the proxy
 * left it: the object whole, the condition variables' words unchanged
 * (a thread signalling a condition whose words were overwritten can wait
 * inside glibc for ever), the lock free and nobody's, the generation the
 * proxy's own. Anything else means another process wrote into it: the pool
 * renews it.
 */
bool channel_is_idle(const struct segment *seg)
{
	struct segment_header *h = seg->header;
	bool untouched;
	int rc;

	if (!segment_fits(seg))
		return false;
	if (memcmp(seg->quiet_conditions, &h->chunk_ready, sizeof(pthread_cond_t)) != 0 ||
	    memcmp(seg->quiet_conditions + sizeof(pthread_cond_t), &h->space_free,
		   sizeof(pthread_cond_t)) != 0) {
		fprintf(stderr, "webproxy: the condition variables of %s were written over\n",
			seg->name);
		return false;
	}
	rc = pthread_mutex_trylock(&h->lock);
	if (rc == EOWNERDEAD)
		release_dead_owners_lock(&h->lock, seg->name);
	if (rc != 0) {
		/* EBUSY, EOWNERDEAD, or words that are no lock: the segment is
		 * renewed either way, lock and all. */
		fprintf(stderr, "webproxy: the lock of %s is not free: %s\n",
			seg->name, strerror(rc));
		return false;
	}
	untouched = h->generation == seg->generation && h->size == seg->size;
	rc = pthread_mutex_unlock(&h->lock);
	if (rc != 0)
		report_failure("pthread_mutex_unlock", seg->name, rc);
	if (!untouched)
		fprintf(stderr, "webproxy: the header of %s was written over\n",
			seg->name);
	return untouched && rc == 0;
}

/*
 * Called with the segment idle (no worker can claim it: its generation is
 * no request's), before the request is sent. A new generation, and the
 * data area free for this transfer's worker.
 */
enum wait_result channel_start_transfer(struct segment *seg)
{
	struct segment_header *h = seg->header;
	enum wait_result r;

	assert(!seg->lost);	/* a lost segment is replaced, never reused */
	assert(!seg->holds_data);
	r = segment_lock(seg);
	if (r != WAIT_OK)
		return r;
	seg->generation++;
	h->generation = seg->generation;
	h->done_read = 1;
	h->done_write = 0;
	segment_unlock(seg);
	return WAIT_OK;
}

/*
 * Waits for the worker's next chunk, then checks it before believing any
 * of it: a cache is another program, and may be wrong. `due` bytes of a
 * file of `file_len` are still to come, so a chunk is 1..due bytes; a
 * chunk of 0 bytes before the end means the cache could not read on.
 */
enum wait_result channel_take_chunk(struct segment *seg, uint64_t file_len,
				    uint64_t due, const atomic_bool *stopping,
				    struct chunk *out)
{
	struct segment_header *h = seg->header;
	struct timespec deadline = deadline_after(CLOCK_MONOTONIC, NEXT_CHUNK_TIMEOUT_MS);
	enum wait_result r;
	bool good;

	assert(!seg->holds_data);
	r = segment_lock(seg);
	if (r != WAIT_OK)
		return r;
	//@ begin take a chunk
	while (h->done_write != 1) {
		r = wait_a_slice(seg, &h->chunk_ready, &deadline, stopping);
		if (r != WAIT_OK)
			return r;
	}
	good = h->file_len == file_len && h->chunk_len > 0 &&
	       h->chunk_len <= due && h->chunk_len <= seg->capacity;
	out->len = h->chunk_len;
	out->bytes = seg->data;
	//@ end
	segment_unlock(seg);
	if (!good)
		return WAIT_BAD_CHUNK;
	seg->holds_data = true;
	return WAIT_OK;
}

/* The chunk is sent to the client: the data area goes back to the worker. */
enum wait_result channel_chunk_sent(struct segment *seg)
{
	struct segment_header *h = seg->header;
	enum wait_result r;

	assert(seg->holds_data);
	seg->holds_data = false;	/* from here on, whatever the lock says */
	r = segment_lock(seg);
	if (r != WAIT_OK)
		return r;
	//@ begin give the space back
	h->done_write = 0;
	h->done_read = 1;
	wake(seg, &h->space_free);
	//@ end
	segment_unlock(seg);
	return WAIT_OK;
}

/*
 * Ends the transfer: a new generation, so that no late worker can claim
 * the data area again. Returns whether the segment can be used again:
 * not when a worker may be writing into it right now (done_read and
 * done_write both 0), nor after a failure (a dead cache may have left its
 * condition variables unable to wake anyone), nor after a lost lock.
 */
bool channel_end_transfer(struct segment *seg, bool failed)
{
	struct segment_header *h = seg->header;
	bool writing;

	seg->holds_data = false;	/* a last chunk, or one a client left */
	if (seg->lost || !segment_fits(seg) || segment_lock(seg) != WAIT_OK)
		return false;
	//@ begin end a transfer
	seg->generation++;
	h->generation = seg->generation;
	writing = h->done_read == 0 && h->done_write == 0;
	//@ end
	segment_unlock(seg);
	if (writing || failed)
		return false;
	remember_quiet_conditions(seg);
	return true;
}

/* ---- Cache side: a worker maps the segments it is sent. ---- */

/* Maps the whole object into seg, which keeps fd to check the size. */
static int map_segment(struct segment *seg, const char *name, int fd,
		       const struct stat *st)
{
	//@ begin map a segment
	void *base = mmap(NULL, (size_t)st->st_size, PROT_READ | PROT_WRITE,
			  MAP_SHARED, fd, 0);

	if (base == MAP_FAILED) {
		report_failure("mmap", name, errno);
		return -1;
	}
	snprintf(seg->name, sizeof(seg->name), "%s", name);
	seg->header = base;
	seg->fd = fd;
	seg->size = (size_t)st->st_size;
	seg->data = (unsigned char *)base + sizeof(struct segment_header);
	seg->capacity = seg->size - sizeof(struct segment_header);
	return 0;
	//@ end
}

/*
 * Opens the proxy's segment `name` and checks the object's real size. The
 * name and the size come from another process: trust neither.
 */
static int open_segment(const char *name, uint64_t size, struct stat *st)
{
	if (!ipcname_is_segment(name)) {
		refusals_add("a request named \"%.64s\", not a segment", name);
		return -1;
	}
	//@ begin open a segment
	int fd = shm_open(name, O_RDWR, 0);

	if (fd < 0) {
		refusals_add("shm_open %s: %s", name, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) != 0) {
		refusals_add("fstat %s: %s", name, strerror(errno));
		close_object(fd, name);
		return -1;
	}
	if (st->st_size < PROXY_SEGMENT_MIN_SIZE ||
	    st->st_size > PROXY_SEGMENT_MAX_SIZE ||
	    (uint64_t)st->st_size != size) {
		refusals_add("%s has %lld bytes, its request says %llu", name,
			     (long long)st->st_size, (unsigned long long)size);
		close_object(fd, name);
		return -1;
	}
	return fd;
	//@ end
}

/* A kept mapping of an object the proxy removed (it replaced the
 * segment) is dropped, descriptor and all: what a worker keeps stays
 * bounded by the live segments, not by how often they were replaced. */
static void drop_removed_objects(struct segment_maps *maps)
{
	for (int i = 0; i < MAPPINGS_KEPT; i++) {
		struct segment *seg = &maps->slot[i];

		if (seg->header != NULL && shm_object_removed(seg->fd, seg->name)) {
			unmap_segment(seg);
			mapping_cache_forget(&maps->kept, i);
		}
	}
}

/*
 * A worker keeps its last mappings (lab/mapping_cache.h), each with its
 * descriptor, to check the size before each use. Each request still opens
 * the object and checks it with fstat.
 */
struct segment *segment_attach(struct segment_maps *maps, const char *name,
			       uint64_t size)
{
	struct stat st;
	struct segment *seg;
	int slot;
	int fd = open_segment(name, size, &st);

	if (fd < 0)
		return NULL;
	slot = mapping_cache_find(&maps->kept, name, &st);
	if (slot >= 0) {
		seg = &maps->slot[slot];
		close_object(fd, name);	/* the slot has its own */
	} else {
		/* A new object is met only when the proxy made one, often to
		 * replace a segment: only then can a kept one have gone. */
		drop_removed_objects(maps);
		slot = mapping_cache_claim(&maps->kept, name, &st);
		seg = &maps->slot[slot];
		unmap_segment(seg);
		if (map_segment(seg, name, fd, &st) != 0) {
			mapping_cache_forget(&maps->kept, slot);
			close_object(fd, name);
			seg = NULL;
		}
	}
	/* The proxy writes the size before it names the segment to anyone:
	 * a different one means the object is not a segment set up by it. */
	if (seg != NULL && seg->header->size != seg->size) {
		refusals_add("%s is not set up as a segment", name);
		return NULL;
	}
	return seg;
}

void segment_maps_clear(struct segment_maps *maps)
{
	for (int i = 0; i < MAPPINGS_KEPT; i++)
		unmap_segment(&maps->slot[i]);
}

/*
 * Waits until the data area is free for this worker's transfer, and
 * claims it. A worker whose generation is no longer the segment's is late:
 * it returns WAIT_STALE and must not touch the segment again.
 */
enum wait_result channel_claim_space(struct segment *seg, uint64_t generation,
				     const atomic_bool *stopping)
{
	struct segment_header *h = seg->header;
	struct timespec deadline = deadline_after(CLOCK_MONOTONIC, CACHE_TURN_TIMEOUT_MS);
	enum wait_result r;

	assert(!seg->holds_data);
	r = segment_lock(seg);
	if (r != WAIT_OK)
		return r;
	//@ begin claim the space
	for (;;) {
		if (h->generation != generation) {
			segment_unlock(seg);
			return WAIT_STALE;
		}
		if (h->done_read == 1 && h->done_write == 0)
			break;
		r = wait_a_slice(seg, &h->space_free, &deadline, stopping);
		if (r != WAIT_OK)
			return r;
	}
	h->done_read = 0;
	//@ end
	seg->holds_data = true;
	segment_unlock(seg);
	return WAIT_OK;
}

/* The chunk's bytes are already in seg->data; this hands them over. */
enum wait_result channel_put_chunk(struct segment *seg, uint64_t file_len,
				   size_t len)
{
	struct segment_header *h = seg->header;
	enum wait_result r;

	assert(seg->holds_data);
	assert(len <= seg->capacity);
	seg->holds_data = false;	/* from here on, whatever the lock says */
	r = segment_lock(seg);
	if (r != WAIT_OK)
		return r;
	//@ begin hand a chunk over
	h->file_len = file_len;
	h->chunk_len = (uint32_t)len;
	h->done_write = 1;
	wake(seg, &h->chunk_ready);
	//@ end
	segment_unlock(seg);
	return WAIT_OK;
}
