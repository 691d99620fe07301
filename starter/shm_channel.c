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

/*
 * TODO(compare times):
 * A helper that tells whether one timespec comes before another
 * will make the bounded wait below easier to write.
 */

/*
 * sem_clockwait() measures on CLOCK_MONOTONIC, so a change of the wall
 * clock cannot stretch or cut a bound.
 */
enum wait_result segment_wait(sem_t *sem, int timeout_ms,
			      const atomic_bool *stopping)
{
	struct timespec deadline = deadline_after(timeout_ms);

	/*
	 * TODO(bounded wait):
	 * Wait on sem for at most timeout_ms. Never block forever: the
	 * other process can die. Return WAIT_STOPPING soon after *stopping
	 * becomes true, so shutdown stays quick. Read sem_timedwait(3)
	 * (and sem_clockwait, its CLOCK_MONOTONIC variant).
	 */
	(void)sem;
	(void)deadline;
	(void)stopping;
	return WAIT_TIMEOUT;
}

/* ---- Proxy side: the proxy creates, owns and removes segments. ---- */

int segment_create(struct segment *seg, const char *name, size_t size)
{
	memset(seg, 0, sizeof(*seg));
	snprintf(seg->name, sizeof(seg->name), "%s", name);
	seg->size = size;
	/*
	 * TODO(create a segment):
	 * Create the shared-memory object `name` of exactly `size` bytes
	 * (mode 0600, O_EXCL), map it, and put a struct segment_header
	 * at its start with both semaphores process-shared and at 0.
	 * Fill seg->header, seg->data and seg->capacity. Read
	 * shm_open(3), ftruncate(2), mmap(2), sem_init(3).
	 */
	return -1;
}

void segment_destroy(struct segment *seg)
{
	if (seg->header == NULL)
		return;
	/*
	 * TODO(remove a segment):
	 * Destroy the semaphores, unmap the segment and remove its name,
	 * so nothing is left in /dev/shm. Read munmap(2), shm_unlink(3).
	 */
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
	/*
	 * TODO(check a chunk):
	 * Copy status, file size and chunk length out of the header into
	 * *out, but only after checking them: the chunk must be for this
	 * transfer (chunk_generation), its length must fit the data area,
	 * and its status must be known. Otherwise return WAIT_BAD_CHUNK.
	 */
	(void)out;
	return WAIT_BAD_CHUNK;
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
	/*
	 * TODO(open a segment):
	 * Open the proxy's segment `name` read-write and fill *st with
	 * fstat(2). Take the size from fstat, never from the message, and
	 * refuse sizes outside [SEGMENT_MIN_SIZE, SEGMENT_MAX_SIZE].
	 * Return the descriptor, or -1. Read shm_open(3), fstat(2).
	 */
	(void)st;
	return -1;
}

/* Maps the open segment into seg, remembering which object it is. */
static int map_segment(struct segment *seg, const char *name, int fd,
		       const struct stat *st)
{
	/*
	 * TODO(map a segment):
	 * Map the whole object (st->st_size bytes) shared, read-write.
	 * Fill seg->name, seg->header, seg->data (just after the
	 * header), seg->size, seg->capacity, and seg->device and
	 * seg->inode from *st so the mapping can be recognised later.
	 * Read mmap(2).
	 */
	(void)seg;
	(void)name;
	(void)fd;
	(void)st;
	return -1;
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
	/*
	 * TODO(take the turn):
	 * Wait (bounded) on space_free. Once you have the turn, check the
	 * segment's generation: if it is not `generation`, the turn belongs
	 * to another transfer, so post it back and return WAIT_STALE.
	 */
	(void)h;
	(void)generation;
	(void)stopping;
	return WAIT_TIMEOUT;
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
