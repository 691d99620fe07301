/*
 * shm_channel.c: the data channel (see shm_channel.h for the turn and its
 * invariants). Creating, mapping and removing segments, and the steps each
 * side takes in the handshake.
 */
/* sem_clockwait() is a GNU extension (glibc 2.30). */
#define _GNU_SOURCE
#include "shm_channel.h"
#include "cache-student.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A waiter looks at its process's stopping flag this often, so shutdown is
 * quick; between looks it sleeps in the kernel, so nothing spins. */
#define WAIT_SLICE_MS 200

static struct timespec deadline_after(int ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

//@ begin compare times
static bool is_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}
//@ todo A helper that tells whether one timespec comes before another
//@ todo will make the bounded wait below easier to write.
//@ end

/*
 * sem_clockwait() measures on CLOCK_MONOTONIC, so a change of the wall
 * clock cannot stretch or cut a bound.
 */
enum wait_result segment_wait(sem_t *sem, int timeout_ms,
			      const atomic_bool *stopping)
{
	struct timespec deadline = deadline_after(timeout_ms);

	//@ begin bounded wait
	for (;;) {
		struct timespec slice = deadline_after(WAIT_SLICE_MS);

		if (atomic_load(stopping))
			return WAIT_STOPPING;
		if (is_before(&deadline, &slice))
			slice = deadline;
		if (sem_clockwait(sem, CLOCK_MONOTONIC, &slice) == 0)
			return WAIT_OK;
		if (errno != ETIMEDOUT && errno != EINTR)
			return WAIT_TIMEOUT;
		if (!is_before(&slice, &deadline))
			return WAIT_TIMEOUT;
	}
	//@ todo Wait on sem for at most timeout_ms. Never block forever: the
	//@ todo other process can die. Return WAIT_STOPPING soon after *stopping
	//@ todo becomes true, so shutdown stays quick. Read sem_timedwait(3)
	//@ todo (and sem_clockwait, its CLOCK_MONOTONIC variant).
	//@ stub (void)sem;
	//@ stub (void)deadline;
	//@ stub (void)stopping;
	//@ stub return WAIT_TIMEOUT;
	//@ end
}

/* ---- Proxy side: the proxy creates, owns and removes segments. ---- */

int segment_create(struct segment *seg, const char *name, size_t size)
{
	memset(seg, 0, sizeof(*seg));
	snprintf(seg->name, sizeof(seg->name), "%s", name);
	seg->size = size;
	//@ begin create a segment
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);

	if (fd < 0) {
		fprintf(stderr, "webproxy: shm_open %s: %s\n", name,
			strerror(errno));
		return -1;
	}
	if (ftruncate(fd, (off_t)size) != 0) {
		fprintf(stderr, "webproxy: ftruncate %s: %s\n", name,
			strerror(errno));
		close(fd);
		shm_unlink(name);
		return -1;
	}
	void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	close(fd);
	if (base == MAP_FAILED) {
		fprintf(stderr, "webproxy: mmap %s: %s\n", name,
			strerror(errno));
		shm_unlink(name);
		return -1;
	}
	seg->header = base;
	seg->data = (unsigned char *)base + sizeof(struct segment_header);
	seg->capacity = size - sizeof(struct segment_header);
	/* Both semaphores at 0: a new segment's turn is the proxy's. */
	sem_init(&seg->header->data_ready, 1, 0);
	sem_init(&seg->header->space_free, 1, 0);
	atomic_store(&seg->header->generation, 0);
	return 0;
	//@ todo Create the shared-memory object `name` of exactly `size` bytes
	//@ todo (mode 0600, O_EXCL), map it, and put a struct segment_header
	//@ todo at its start with both semaphores process-shared and at 0.
	//@ todo Fill seg->header, seg->data and seg->capacity. Read
	//@ todo shm_open(3), ftruncate(2), mmap(2), sem_init(3).
	//@ stub return -1;
	//@ end
}

void segment_destroy(struct segment *seg)
{
	if (seg->header == NULL)
		return;
	//@ begin remove a segment
	sem_destroy(&seg->header->data_ready);
	sem_destroy(&seg->header->space_free);
	munmap(seg->header, seg->size);
	shm_unlink(seg->name);
	//@ todo Destroy the semaphores, unmap the segment and remove its name,
	//@ todo so nothing is left in /dev/shm. Read munmap(2), shm_unlink(3).
	//@ end
	seg->header = NULL;
}

/* Called during the proxy's turn, before the request is sent. */
void channel_start_transfer(struct segment *seg)
{
	seg->generation++;
	atomic_store(&seg->header->generation, seg->generation);
}

void channel_give_turn(struct segment *seg)
{
	sem_post(&seg->header->space_free);
}

/*
 * Waits for the cache to hand the turn back, then checks the chunk before
 * believing any of it: a cache is another program, and may be wrong.
 */
enum wait_result channel_take_chunk(struct segment *seg, int timeout_ms,
				    const atomic_bool *stopping,
				    struct chunk *out)
{
	struct segment_header *h = seg->header;
	enum wait_result r = segment_wait(&h->data_ready, timeout_ms, stopping);

	if (r != WAIT_OK)
		return r;
	//@ begin check a chunk
	if (h->chunk_generation != seg->generation ||
	    h->chunk_len > seg->capacity ||
	    (h->status != CHUNK_OK && h->status != CHUNK_NOT_FOUND &&
	     h->status != CHUNK_ERROR))
		return WAIT_BAD_CHUNK;
	out->status = h->status;
	out->file_size = h->file_size;
	out->len = h->chunk_len;
	out->bytes = seg->data;
	return WAIT_OK;
	//@ todo Copy status, file size and chunk length out of the header into
	//@ todo *out, but only after checking them: the chunk must be for this
	//@ todo transfer (chunk_generation), its length must fit the data area,
	//@ todo and its status must be known. Otherwise return WAIT_BAD_CHUNK.
	//@ stub (void)out;
	//@ stub return WAIT_BAD_CHUNK;
	//@ end
}

/* ---- Cache side: a worker maps the segments it is sent. ---- */

/*
 * Opens the proxy's segment `name` and checks the object's real size. The
 * name and the size come from another process: trust neither.
 */
static int open_segment(const char *name, struct stat *st)
{
	if (!ipcname_is_segment(name)) {
		fprintf(stderr, "simplecached: refusing segment name \"%s\"\n",
			name);
		return -1;
	}
	//@ begin open a segment
	int fd = shm_open(name, O_RDWR, 0);

	if (fd < 0) {
		fprintf(stderr, "simplecached: shm_open %s: %s\n", name,
			strerror(errno));
		return -1;
	}
	if (fstat(fd, st) != 0 || st->st_size < SEGMENT_MIN_SIZE ||
	    st->st_size > SEGMENT_MAX_SIZE) {
		fprintf(stderr, "simplecached: %s has a bad size\n", name);
		close(fd);
		return -1;
	}
	return fd;
	//@ todo Open the proxy's segment `name` read-write and fill *st with
	//@ todo fstat(2). Take the size from fstat, never from the message, and
	//@ todo refuse sizes outside [SEGMENT_MIN_SIZE, SEGMENT_MAX_SIZE].
	//@ todo Return the descriptor, or -1. Read shm_open(3), fstat(2).
	//@ stub (void)st;
	//@ stub return -1;
	//@ end
}

/* Maps the open segment into seg, remembering which object it is. */
static int map_segment(struct segment *seg, const char *name, int fd,
		       const struct stat *st)
{
	//@ begin map a segment
	void *base = mmap(NULL, (size_t)st->st_size, PROT_READ | PROT_WRITE,
			  MAP_SHARED, fd, 0);

	if (base == MAP_FAILED) {
		fprintf(stderr, "simplecached: mmap %s: %s\n", name,
			strerror(errno));
		return -1;
	}
	snprintf(seg->name, sizeof(seg->name), "%s", name);
	seg->header = base;
	seg->size = (size_t)st->st_size;
	seg->data = (unsigned char *)base + sizeof(struct segment_header);
	seg->capacity = seg->size - sizeof(struct segment_header);
	seg->device = st->st_dev;
	seg->inode = st->st_ino;
	return 0;
	//@ todo Map the whole object (st->st_size bytes) shared, read-write.
	//@ todo Fill seg->name, seg->header, seg->data (just after the
	//@ todo header), seg->size, seg->capacity, and seg->device and
	//@ todo seg->inode from *st so the mapping can be recognised later.
	//@ todo Read mmap(2).
	//@ stub (void)seg;
	//@ stub (void)name;
	//@ stub (void)fd;
	//@ stub (void)st;
	//@ stub return -1;
	//@ end
}

static void unmap_segment(struct segment *seg)
{
	if (seg->header != NULL)
		munmap(seg->header, seg->size);
	seg->header = NULL;
}

/*
 * A mapping is reused only for the very object it was made of: same name,
 * same file (device and inode), same size. A proxy that restarts, or
 * replaces a segment, makes a new object, which never matches an old slot.
 */
static struct segment *find_mapping(struct segment_maps *maps,
				    const char *name, const struct stat *st)
{
	for (int i = 0; i < SEGMENT_MAPS; i++) {
		struct segment *seg = &maps->slot[i];

		if (seg->header != NULL && seg->device == st->st_dev &&
		    seg->inode == st->st_ino &&
		    seg->size == (size_t)st->st_size &&
		    strcmp(seg->name, name) == 0)
			return seg;
	}
	return NULL;
}

/*
 * Mapping and unmapping cost more than a small file's whole transfer (an
 * munmap flushes the TLBs of every CPU the process ran on), so a worker
 * keeps its last SEGMENT_MAPS mappings and replaces them in turn. Each
 * request still opens the object and checks it with fstat.
 */
struct segment *segment_attach(struct segment_maps *maps, const char *name)
{
	struct stat st;
	struct segment *seg;
	int fd = open_segment(name, &st);

	if (fd < 0)
		return NULL;
	seg = find_mapping(maps, name, &st);
	if (seg == NULL) {
		seg = &maps->slot[maps->next];
		maps->next = (maps->next + 1) % SEGMENT_MAPS;
		unmap_segment(seg);
		if (map_segment(seg, name, fd, &st) != 0)
			seg = NULL;
	}
	close(fd);
	return seg;
}

void segment_maps_clear(struct segment_maps *maps)
{
	for (int i = 0; i < SEGMENT_MAPS; i++)
		unmap_segment(&maps->slot[i]);
}

bool channel_is_current(const struct segment *seg, uint64_t generation)
{
	return atomic_load(&seg->header->generation) == generation;
}

/*
 * Waits for the proxy to give this worker the turn. A late worker may get
 * a turn meant for a later transfer: it hands that turn straight back.
 */
enum wait_result channel_take_turn(struct segment *seg, uint64_t generation,
				   const atomic_bool *stopping)
{
	struct segment_header *h = seg->header;
	//@ begin take the turn
	enum wait_result r = segment_wait(&h->space_free, CACHE_TURN_TIMEOUT_MS,
					  stopping);

	if (r != WAIT_OK)
		return r;
	if (!channel_is_current(seg, generation)) {
		sem_post(&h->space_free);
		return WAIT_STALE;
	}
	return WAIT_OK;
	//@ todo Wait (bounded) on space_free. Once you have the turn, check the
	//@ todo segment's generation: if it is not `generation`, the turn belongs
	//@ todo to another transfer, so post it back and return WAIT_STALE.
	//@ stub (void)h;
	//@ stub (void)generation;
	//@ stub (void)stopping;
	//@ stub return WAIT_TIMEOUT;
	//@ end
}

/* The chunk's bytes are already in seg->data; this hands them over. */
void channel_put_chunk(struct segment *seg, uint64_t generation,
		       enum chunk_status status, uint64_t file_size,
		       size_t len)
{
	struct segment_header *h = seg->header;

	h->chunk_generation = generation;
	h->status = status;
	h->file_size = file_size;
	h->chunk_len = (uint32_t)len;
	sem_post(&h->data_ready);
}
