/*
 * shm_channel.c: code both programs share about the data channel (the
 * segments and the handshake on them): webproxy and simplecached are each
 * built with this file. Design track: empty until you design the channel
 * (see shm_channel.h for what the rules fix).
 */
#include "shm_channel.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deadline.h"

#define HEADER_ROOM 256
_Static_assert(sizeof(struct lane_header) <= HEADER_ROOM, "the header fits its room");

static int map_fd(struct lane *l, int fd, size_t size)
{
	void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (base == MAP_FAILED)
		return -1;
	l->hdr = base;
	l->chunk = (unsigned char *)base + HEADER_ROOM;
	l->room = size - HEADER_ROOM;
	l->mapped = size;
	return 0;
}

int lane_make(struct lane *l, const char *name, size_t size)
{
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	int fd, rc;

	strncpy(l->name, name, sizeof(l->name) - 1);
	l->name[sizeof(l->name) - 1] = '\0';
	fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd == -1)
		return -1;
	rc = ftruncate(fd, (off_t)size) == 0 ? map_fd(l, fd, size) : -1;
	close(fd);
	if (rc != 0) {
		shm_unlink(name);
		return -1;
	}
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_mutex_init(&l->hdr->mutex, &ma);
	if (rc == 0)
		rc = pthread_cond_init(&l->hdr->emptied, &ca);
	if (rc == 0)
		rc = pthread_cond_init(&l->hdr->filled, &ca);
	pthread_mutexattr_destroy(&ma);
	pthread_condattr_destroy(&ca);
	if (rc != 0) {
		lane_unmake(l);
		return -1;
	}
	return 0;
}

void lane_unmake(struct lane *l)
{
	lane_detach(l);
	shm_unlink(l->name);
}

/* The cache's side: the size is the object's own (rule 1), checked (rule 6). */
int lane_attach(struct lane *l, const char *name)
{
	struct stat st;
	int fd = shm_open(name, O_RDWR, 0);
	int rc = -1;

	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == 0 && st.st_size >= PROXY_SEGMENT_MIN_SIZE && st.st_size <= PROXY_SEGMENT_MAX_SIZE)
		rc = map_fd(l, fd, (size_t)st.st_size);
	close(fd);
	return rc;
}

void lane_detach(struct lane *l)
{
	if (l->hdr != NULL)
		munmap(l->hdr, l->mapped);
	l->hdr = NULL;
}

/*
 * Locks the lane. The other process may have died holding the mutex: then
 * the lane is marked abandoned and made consistent, and the caller, seeing
 * `abandoned`, ends the transfer.
 */
int lane_lock(struct lane *l)
{
	int rc = pthread_mutex_lock(&l->hdr->mutex);

	if (rc == EOWNERDEAD) {
		l->hdr->abandoned = true;
		pthread_mutex_consistent(&l->hdr->mutex);
		rc = 0;
	}
	return rc;
}

/* A bounded wait on c with the lane locked; ETIMEDOUT after ms. */
int lane_timed(pthread_cond_t *c, struct lane *l, int ms)
{
	struct timespec until = deadline_after(CLOCK_MONOTONIC, ms);
	int rc = pthread_cond_timedwait(c, &l->hdr->mutex, &until);

	if (rc == EOWNERDEAD) {
		l->hdr->abandoned = true;
		pthread_mutex_consistent(&l->hdr->mutex);
	}
	return rc;
}
