/*
 * shm_test.h: what the in-process tests of each variant's shm_channel.c
 * (tests/channel/<variant>.c) share: checks that say file:line, segment
 * names no other run can hold, and chunk bytes that tell one offset from
 * another. Included after the variant's shm_channel.h and its
 * SEGMENT_SIZE.
 */
#ifndef SHM_TEST_H
#define SHM_TEST_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deadline.h"
#include "ipcname.h"

static int failures;

#define CHECK(ok, ...) check_at(__FILE__, __LINE__, (ok), __VA_ARGS__)

/* On a failure, prints `file:line: what is wrong` and counts it. */
__attribute__((format(printf, 4, 5)))
static inline bool check_at(const char *file, int line, bool ok,
			    const char *what, ...)
{
	va_list ap;

	if (ok)
		return true;
	va_start(ap, what);
	printf("%s:%d: ", file, line);
	vprintf(what, ap);
	putchar('\n');
	va_end(ap);
	failures++;
	return false;
}

/*
 * A segment name of this process (so the cache side's name check passes)
 * with an index no earlier test of the run used: the proxy creates with
 * O_EXCL, so two tests never share an object. The index starts high, away
 * from the indexes a proxy of the same pid would use.
 */
static inline void unique_segment_name(char *out, size_t size)
{
	static unsigned next = 9000;

	if (ipcname_segment(out, size, getpid(), next++) != 0) {
		fprintf(stderr, "%s:%d: no segment name\n", __FILE__, __LINE__);
		exit(1);
	}
}

/* A new segment of `size` bytes, the proxy's, under a unique name. */
static inline bool new_segment(struct segment *proxy, size_t size)
{
	char name[IPCNAME_MAX];

	unique_segment_name(name, sizeof(name));
	return CHECK(segment_create(proxy, name, size) == 0,
		     "segment_create %s failed", name);
}

/* Each test file's first step of a transfer on the proxy's side. */
static bool start(struct segment *proxy);

/*
 * Runs one test's body on a new segment whose first transfer has started,
 * with a worker's empty set of mappings, and removes both afterwards
 * whatever the body found.
 */
typedef void transfer_test(struct segment *proxy, struct segment_maps *maps,
			   const void *arg);

static inline void on_new_transfer(transfer_test *body, const void *arg)
{
	struct segment proxy;
	struct segment_maps maps = { 0 };

	if (!new_segment(&proxy, SEGMENT_SIZE))
		return;
	if (start(&proxy))
		body(&proxy, &maps, arg);
	segment_maps_clear(&maps);
	segment_destroy(&proxy);
}

/* The byte at `offset` of the test file: it differs from its neighbours
 * and repeats only every 251 bytes, so a chunk copied from the wrong
 * place or cut short does not compare equal. */
static inline unsigned char file_byte(size_t offset)
{
	return (unsigned char)(offset % 251 * 7 + 1);
}

static inline void fill_chunk(unsigned char *data, size_t offset, size_t len)
{
	for (size_t i = 0; i < len; i++)
		data[i] = file_byte(offset + i);
}

/* The first offset whose byte is wrong, or `len` if none is. */
static inline size_t first_bad_byte(const unsigned char *data, size_t offset,
				    size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (data[i] != file_byte(offset + i))
			return i;
	return len;
}

/* Checks that chunk i of the test file, `len` bytes, is the one that
 * follows the `*taken` bytes already taken, and counts it as taken. */
static inline void take_file_bytes(int i, const unsigned char *bytes,
				   size_t len, uint64_t *taken)
{
	size_t bad = first_bad_byte(bytes, *taken, len);

	CHECK(bad == len, "chunk %d: byte %zu differs from the file", i, bad);
	*taken += len;
}

/* Starts the worker's side in a second thread of this process. */
static inline bool in_thread(pthread_t *thread, void *(*work)(void *), void *arg)
{
	int rc = pthread_create(thread, NULL, work, arg);

	return CHECK(rc == 0, "pthread_create: %s", strerror(rc));
}

/* Runs work(arg) in a forked child, as another process would, and says
 * whether it returned true. The child leaves with _exit(): it must not
 * run the parent's exit handlers nor remove the parent's objects. */
static inline bool in_child(bool (*work)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(work(arg) ? 0 : 1);
	if (!CHECK(pid > 0, "fork failed"))
		return false;
	if (waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Checks that a wait of `waited` ms ended at its bound of `bound` ms:
 * not before it, and not long after. */
#define CHECK_BOUNDED(waited, bound) \
	CHECK((waited) >= (bound) - 10 && (waited) < (bound) + 2000, \
	      "a wait bounded at %d ms took %ld ms", (bound), (waited))

static inline int tests_result(const char *name)
{
	if (failures)
		printf("%s: %d checks failed\n", name, failures);
	else
		printf("%s: all checks passed\n", name);
	return failures ? 1 : 0;
}

#endif
