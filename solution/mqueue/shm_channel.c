/*
 * shm_channel.c: the data channel (see shm_channel.h for the turn and its
 * invariants). Creating, mapping and removing segments, and the steps each
 * side takes in the handshake.
 */
/* sem_clockwait() is a GNU extension (glibc 2.30). */
#define _GNU_SOURCE
#include "shm_channel.h"
#include "cache-student.h"
#include "deadline.h"
#include "mapping_cache.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A waiter looks at its process's stopping flag this often, so shutdown is
 * quick; between looks it sleeps in the kernel, so nothing spins. */
#define WAIT_SLICE_MS 200

/*
 * sem_clockwait() measures on CLOCK_MONOTONIC, so a change of the wall
 * clock cannot stretch or cut a bound.
 */
enum wait_result segment_wait(sem_t *sem, int timeout_ms,
			      const atomic_bool *stopping)
{
	struct timespec deadline = deadline_after(CLOCK_MONOTONIC, timeout_ms);

	//@ begin bounded wait
	for (;;) {
		struct timespec slice = deadline_after(CLOCK_MONOTONIC, WAIT_SLICE_MS);

		if (atomic_load(stopping))
			return WAIT_STOPPING;
		if (deadline_before(&deadline, &slice))
			slice = deadline;
		if (sem_clockwait(sem, CLOCK_MONOTONIC, &slice) == 0)
			return WAIT_OK;
		if (errno != ETIMEDOUT && errno != EINTR) {
			fprintf(stderr, "%s: sem_clockwait: %s\n",
				program_invocation_short_name, strerror(errno));
			return WAIT_ERROR;
		}
		if (!deadline_before(&slice, &deadline))
			return WAIT_TIMEOUT;
	}
	//@ end
}

/*
 * Another process of this user can shrink the object at any time; touching
 * a mapped page past its new end raises SIGBUS. So both sides ask before
 * each turn. (A truncation between this check and the access still kills
 * us: that race cannot be closed from here.)
 */
bool segment_fits(const struct segment *seg)
{
	return shm_object_fits(seg->fd, seg->size, seg->name);
}

/*
 * Gives the turn away. A post fails only on a semaphore at SEM_VALUE_MAX
 * or one that is not a semaphore any more: another process wrote it. The
 * other side's bounded wait then runs out, which is all that can be done.
 */
static void post_turn(sem_t *sem, const struct segment *seg)
{
	if (sem_post(sem) != 0)
		fprintf(stderr, "%s: sem_post in %s: %s\n",
			program_invocation_short_name, seg->name,
			strerror(errno));
}

/* ---- Proxy side: the proxy creates, owns and removes segments. ---- */

/* Both semaphores at 0: a new segment's turn is the proxy's. */
static int init_header(struct segment_header *h)
{
	if (sem_init(&h->data_ready, 1, 0) != 0)
		return -1;
	if (sem_init(&h->space_free, 1, 0) != 0) {
		sem_destroy(&h->data_ready);
		return -1;
	}
	atomic_store(&h->generation, 0);
	atomic_store(&h->turn_offset, 0);
	atomic_store(&h->status, CHUNK_WRITING);
	return 0;
}

int segment_create(struct segment *seg, const char *name, size_t size)
{
	void *base = MAP_FAILED;

	memset(seg, 0, sizeof(*seg));
	snprintf(seg->name, sizeof(seg->name), "%s", name);
	seg->size = size;
	seg->fd = -1;
	//@ begin create a segment
	seg->fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (seg->fd < 0) {
		fprintf(stderr, "webproxy: shm_open %s: %s\n", name,
			strerror(errno));
		return -1;
	}
	if (ftruncate(seg->fd, (off_t)size) != 0) {
		fprintf(stderr, "webproxy: ftruncate %s: %s\n", name,
			strerror(errno));
		goto fail;
	}
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, seg->fd, 0);
	if (base == MAP_FAILED) {
		fprintf(stderr, "webproxy: mmap %s: %s\n", name,
			strerror(errno));
		goto fail;
	}
	if (init_header(base) != 0) {
		fprintf(stderr, "webproxy: sem_init in %s: %s\n", name,
			strerror(errno));
		goto fail;
	}
	seg->header = base;
	seg->data = (unsigned char *)base + sizeof(struct segment_header);
	seg->capacity = size - sizeof(struct segment_header);
	seg->holds_turn = true;
	//@ end
	seg->copy = malloc(seg->capacity);
	if (seg->copy == NULL) {
		fprintf(stderr, "webproxy: no memory for %s's copy\n", name);
		segment_destroy(seg);
		return -1;
	}
	return 0;
fail:
	if (base != MAP_FAILED && munmap(base, size) != 0)
		fprintf(stderr, "webproxy: munmap %s: %s\n", name,
			strerror(errno));
	close(seg->fd);
	seg->fd = -1;
	shm_unlink(name);
	return -1;
}

void segment_destroy(struct segment *seg)
{
	if (seg->header == NULL)
		return;
	//@ begin remove a segment
	/* sem_destroy fails only for a pointer that is no semaphore: ours
	 * are. munmap fails only for a range that is no mapping, which would
	 * be a bug here: said. shm_unlink fails when another process removed
	 * the name first (ENOENT): nothing is left behind, but it is worth a
	 * line. */
	sem_destroy(&seg->header->data_ready);
	sem_destroy(&seg->header->space_free);
	if (munmap(seg->header, seg->size) != 0)
		fprintf(stderr, "webproxy: munmap %s: %s\n", seg->name,
			strerror(errno));
	if (shm_unlink(seg->name) != 0)
		fprintf(stderr, "webproxy: shm_unlink %s: %s\n", seg->name,
			strerror(errno));
	//@ end
	close(seg->fd);
	seg->fd = -1;
	free(seg->copy);
	seg->copy = NULL;
	seg->header = NULL;
}

/*
 * A segment waiting in the pool is whole and has the proxy's turn, so both
 * semaphores are at 0. Anything else means another process posted one or
 * shrank the object: the segment cannot be trusted with a transfer.
 */
bool channel_is_idle(const struct segment *seg)
{
	int ready, space;

	assert(seg->holds_turn);
	if (!segment_fits(seg))
		return false;
	if (sem_getvalue(&seg->header->data_ready, &ready) != 0 ||
	    sem_getvalue(&seg->header->space_free, &space) != 0) {
		fprintf(stderr, "webproxy: sem_getvalue %s: %s\n", seg->name,
			strerror(errno));
		return false;
	}
	if (ready != 0 || space != 0)
		fprintf(stderr, "webproxy: %s has semaphores at %d and %d, not 0: someone posted them\n",
			seg->name, ready, space);
	return ready == 0 && space == 0;
}

/*
 * Called during the proxy's turn, on a segment channel_is_idle() just
 * passed, before the request is sent. The token is
 * drawn fresh for each transfer and written only into the request, so a
 * process that can read the segment cannot learn it in advance.
 */
int channel_start_transfer(struct segment *seg)
{
	assert(seg->holds_turn);
	if (getrandom(&seg->token, sizeof(seg->token), 0) !=
	    (ssize_t)sizeof(seg->token)) {
		fprintf(stderr, "webproxy: getrandom: %s\n", strerror(errno));
		return -1;
	}
	seg->generation++;
	seg->taken = 0;
	atomic_store(&seg->header->generation, seg->generation);
	return 0;
}

/* The turn goes with the offset of the chunk it is for. */
void channel_give_turn(struct segment *seg)
{
	assert(seg->holds_turn);
	atomic_store(&seg->header->turn_offset, seg->taken);
	seg->holds_turn = false;
	post_turn(&seg->header->space_free, seg);
}

/*
 * The proxy gave the turn but no chunk came. If no worker picked the turn
 * up, it is still on space_free and the proxy can simply take it back.
 */
bool channel_take_back_turn(struct segment *seg)
{
	assert(!seg->holds_turn);
	if (sem_trywait(&seg->header->space_free) == 0) {
		seg->holds_turn = true;
		return true;
	}
	if (errno != EAGAIN)
		fprintf(stderr, "webproxy: sem_trywait %s: %s\n", seg->name,
			strerror(errno));
	return false;
}

/* The chunk's fields, read once, so they are checked and used as one. */
struct chunk_fields {
	uint32_t status;
	uint32_t len;
	uint64_t token;
	uint64_t offset;
	uint64_t file_size;
};

static struct chunk_fields read_fields(const struct segment_header *h)
{
	struct chunk_fields f;

	/* status first: an atomic load, so the others are read after it. */
	f.status = atomic_load(&h->status);
	f.len = h->chunk_len;
	f.token = h->chunk_token;
	f.offset = h->chunk_offset;
	f.file_size = h->file_size;
	return f;
}

static bool same_fields(const struct chunk_fields *a,
			const struct chunk_fields *b)
{
	return a->status == b->status && a->len == b->len &&
	       a->token == b->token && a->offset == b->offset &&
	       a->file_size == b->file_size;
}

/*
 * Waits for the cache to hand the turn back, then checks the chunk before
 * believing any of it: a cache is another program, and may be wrong, and
 * other processes may write the segment too. The bytes are copied out and
 * the header read again: if it changed, a writer was at work during the
 * copy (someone posted a turn that was not theirs to post).
 */
enum wait_result channel_take_chunk(struct segment *seg, int timeout_ms,
				    const atomic_bool *stopping,
				    struct chunk *out)
{
	struct segment_header *h = seg->header;
	struct chunk_fields f, again;
	enum wait_result r;

	assert(!seg->holds_turn);
	r = segment_wait(&h->data_ready, timeout_ms, stopping);
	if (r != WAIT_OK)
		return r;
	if (!segment_fits(seg))
		return WAIT_BAD_SEGMENT;
	//@ begin check a chunk
	f = read_fields(h);
	if (f.token != seg->token || f.offset != seg->taken ||
	    f.len > seg->capacity ||
	    (f.status != CHUNK_OK && f.status != CHUNK_NOT_FOUND &&
	     f.status != CHUNK_ERROR))
		return WAIT_BAD_CHUNK;
	memcpy(seg->copy, seg->data, f.len);
	/* The copy's loads must be done before the header is read again. */
	atomic_thread_fence(memory_order_acquire);
	again = read_fields(h);
	if (!same_fields(&f, &again))
		return WAIT_BAD_CHUNK;
	out->status = f.status;
	out->file_size = f.file_size;
	out->len = f.len;
	out->bytes = seg->copy;
	//@ end
	seg->taken += out->len;
	seg->holds_turn = true;
	return WAIT_OK;
}

/* ---- Cache side: a worker maps the segments it is sent. ---- */

/*
 * Opens the proxy's segment `name` and checks the object's real size. The
 * name and the size come from another process: trust neither.
 */
static int open_segment(const char *name, struct stat *st, char *why,
			size_t why_size)
{
	if (!ipcname_is_segment(name)) {
		snprintf(why, why_size, "\"%s\" is not a segment name", name);
		return -1;
	}
	//@ begin open a segment
	int fd = shm_open(name, O_RDWR, 0);

	if (fd < 0) {
		snprintf(why, why_size, "shm_open %s: %s", name,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, st) != 0) {
		snprintf(why, why_size, "fstat %s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	if (st->st_size < PROXY_SEGMENT_MIN_SIZE ||
	    st->st_size > PROXY_SEGMENT_MAX_SIZE) {
		snprintf(why, why_size, "%s has a bad size (%lld bytes)", name,
			 (long long)st->st_size);
		close(fd);
		return -1;
	}
	return fd;
	//@ end
}

/* Maps the whole object into seg; the descriptor stays the caller's. */
static int map_segment(struct segment *seg, const char *name, int fd,
		       const struct stat *st)
{
	//@ begin map a segment
	void *base = mmap(NULL, (size_t)st->st_size, PROT_READ | PROT_WRITE,
			  MAP_SHARED, fd, 0);

	if (base == MAP_FAILED)
		return -1;
	snprintf(seg->name, sizeof(seg->name), "%s", name);
	seg->header = base;
	seg->size = (size_t)st->st_size;
	seg->data = (unsigned char *)base + sizeof(struct segment_header);
	seg->capacity = seg->size - sizeof(struct segment_header);
	return 0;
	//@ end
}

static void unmap_segment(struct segment *seg)
{
	if (seg->header != NULL && munmap(seg->header, seg->size) != 0)
		fprintf(stderr, "simplecached: munmap %s: %s\n", seg->name,
			strerror(errno));
	seg->header = NULL;
}

/*
 * A worker keeps its last mappings (lab/mapping_cache.h). Each request
 * still opens the object and checks it with fstat, and keeps the
 * descriptor until segment_release() to check the size again every turn.
 */
struct segment *segment_attach(struct segment_maps *maps, const char *name,
			       char *why, size_t why_size)
{
	struct stat st;
	struct segment *seg;
	int slot;
	int fd = open_segment(name, &st, why, why_size);

	if (fd < 0)
		return NULL;
	slot = mapping_cache_find(&maps->kept, name, &st);
	if (slot < 0) {
		slot = mapping_cache_claim(&maps->kept, name, &st);
		unmap_segment(&maps->slot[slot]);
		if (map_segment(&maps->slot[slot], name, fd, &st) != 0) {
			snprintf(why, why_size, "mmap %s: %s", name,
				 strerror(errno));
			mapping_cache_forget(&maps->kept, slot);
			close(fd);
			return NULL;
		}
	}
	seg = &maps->slot[slot];
	seg->fd = fd;
	seg->holds_turn = false;
	return seg;
}

void segment_release(struct segment *seg)
{
	assert(!seg->holds_turn);
	close(seg->fd);
	seg->fd = -1;
}

void segment_maps_clear(struct segment_maps *maps)
{
	for (int i = 0; i < MAPPINGS_KEPT; i++)
		unmap_segment(&maps->slot[i]);
}

bool channel_is_current(const struct segment *seg, uint64_t generation)
{
	return atomic_load(&seg->header->generation) == generation;
}

/*
 * Waits for the proxy to give this worker the turn for the chunk at
 * `offset`. A late worker may get a turn meant for a later transfer, and
 * a worker with a forged request one meant for another chunk: it hands
 * that turn straight back.
 * Holding the turn, the worker marks the chunk as being written before it
 * touches the data area, so a proxy copying it at the same time (someone
 * posted a turn that was not theirs) sees the mark and refuses the chunk.
 */
enum wait_result channel_take_turn(struct segment *seg, uint64_t generation,
				   uint64_t offset, int timeout_ms,
				   const atomic_bool *stopping)
{
	struct segment_header *h = seg->header;

	assert(!seg->holds_turn);
	//@ begin take the turn
	enum wait_result r = segment_wait(&h->space_free, timeout_ms, stopping);

	if (r != WAIT_OK)
		return r;
	if (!segment_fits(seg))
		return WAIT_BAD_SEGMENT;
	if (!channel_is_current(seg, generation) ||
	    atomic_load(&h->turn_offset) != offset) {
		post_turn(&h->space_free, seg);
		return WAIT_STALE;
	}
	atomic_store(&h->status, CHUNK_WRITING);
	//@ end
	seg->holds_turn = true;
	return WAIT_OK;
}

/* The chunk's bytes are already in seg->data; this hands them over. The
 * status goes last: it is what the proxy reads first. */
void channel_put_chunk(struct segment *seg, uint64_t token,
		       enum chunk_status status, uint64_t file_size,
		       uint64_t offset, size_t len)
{
	struct segment_header *h = seg->header;

	assert(seg->holds_turn);
	assert(len <= seg->capacity);
	h->chunk_token = token;
	h->chunk_offset = offset;
	h->file_size = file_size;
	h->chunk_len = (uint32_t)len;
	atomic_store(&h->status, status);
	seg->holds_turn = false;
	post_turn(&h->data_ready, seg);
}
