/*
 * shm_test.h: what the in-process tests of each variant's shm_channel.c
 * (tests/channel/<variant>.c) share: checks that say file:line, segment
 * names no other run can hold, and chunk bytes that tell one offset from
 * another.
 */
#ifndef SHM_TEST_H
#define SHM_TEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Waits for a forked child and says whether it ended with _exit(0). */
static inline bool child_succeeded(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static inline int tests_result(const char *name)
{
	if (failures)
		printf("%s: %d checks failed\n", name, failures);
	else
		printf("%s: all checks passed\n", name);
	return failures ? 1 : 0;
}

#endif
