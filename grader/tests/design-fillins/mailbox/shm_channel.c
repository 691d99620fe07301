/*
 * shm_channel.c: code both programs share about the data channel (the
 * segments and the handshake on them): webproxy and simplecached are each
 * built with this file. Design track: empty until you design the channel
 * (see shm_channel.h for what the rules fix).
 */
#include "shm_channel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deadline.h"

/* The page starts after the head, aligned for any copy. */
static size_t page_offset(void)
{
	return (sizeof(struct mailbox_head) + 63) & ~(size_t)63;
}

int mailbox_create(struct mailbox *box, const char *name, size_t bytes)
{
	int fd;
	void *p;

	snprintf(box->name, sizeof(box->name), "%s", name);
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		perror("webproxy: shm_open");
		return -1;
	}
	if (ftruncate(fd, (off_t)bytes) != 0) {
		perror("webproxy: ftruncate");
		close(fd);
		shm_unlink(name);
		return -1;
	}
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		perror("webproxy: mmap");
		shm_unlink(name);
		return -1;
	}
	box->head = p;
	box->page = (unsigned char *)p + page_offset();
	box->page_bytes = bytes - page_offset();
	box->busy = false;
	if (sem_init(&box->head->cache_turn, 1, 0) != 0 ||
	    sem_init(&box->head->proxy_turn, 1, 0) != 0) {
		perror("webproxy: sem_init");
		mailbox_destroy(box);
		return -1;
	}
	atomic_store(&box->head->serial, 0);
	return 0;
}

void mailbox_destroy(struct mailbox *box)
{
	if (box->head == NULL)
		return;
	sem_destroy(&box->head->cache_turn);
	sem_destroy(&box->head->proxy_turn);
	munmap(box->head, box->page_bytes + page_offset());
	shm_unlink(box->name);
	box->head = NULL;
}

/*
 * The cache's side: the size comes from fstat, never from the note, and a
 * segment smaller than the smallest -z is refused (rule 6).
 */
int mailbox_open(const char *name, struct mailbox_head **head, size_t *bytes)
{
	struct stat st;
	void *p;
	int fd;

	fd = shm_open(name, O_RDWR, 0);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || st.st_size < PROXY_SEGMENT_MIN_SIZE ||
	    st.st_size > PROXY_SEGMENT_MAX_SIZE) {
		close(fd);
		return -1;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	*head = p;
	*bytes = (size_t)st.st_size;
	return 0;
}

/*
 * Waits on sem for at most ms, in slices short enough that a stopping
 * process notices within a fifth of a second. 0: got it; ETIMEDOUT;
 * ECANCELED when stopping.
 */
int turn_wait(sem_t *sem, int ms, const atomic_bool *stopping)
{
	struct timespec end = deadline_after(CLOCK_REALTIME, ms);

	for (;;) {
		struct timespec slice = deadline_after(CLOCK_REALTIME, 200);
		struct timespec now;

		if (stopping != NULL && atomic_load(stopping))
			return ECANCELED;
		if (deadline_before(&end, &slice))
			slice = end;
		if (sem_timedwait(sem, &slice) == 0)
			return 0;
		if (errno != ETIMEDOUT && errno != EINTR)
			return errno;
		clock_gettime(CLOCK_REALTIME, &now);
		if (!deadline_before(&now, &end))
			return ETIMEDOUT;
	}
}
