/*
 * test_ipcname.c: checks lab/ipcname.c: the default prefix, IPCLAB_PREFIX
 * accepted and refused, the queue and segment names, and that
 * ipcname_is_segment() accepts exactly the names ipcname_segment() writes.
 * Exits 0 when all pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcname.h"

static int failures;

static void check(int ok, const char *what)
{
	if (!ok) {
		printf("FAIL %s\n", what);
		failures++;
	}
}

/* Sends stderr to a temporary file until stop_capture(), which returns how
 * many lines were written to it. */
static FILE *captured;
static int saved_stderr = -1;

static void start_capture(void)
{
	fflush(stderr);
	captured = tmpfile();
	saved_stderr = dup(2);
	dup2(fileno(captured), 2);
}

static int stop_capture(const char *must_contain)
{
	char line[512];
	int lines = 0;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	rewind(captured);
	while (fgets(line, sizeof(line), captured) != NULL)
		if (strstr(line, must_contain) != NULL)
			lines++;
	fclose(captured);
	return lines;
}

static void check_name(int rc, const char *got, const char *want)
{
	if (rc != 0 || strcmp(got, want) != 0) {
		printf("FAIL wanted \"%s\", got rc %d \"%s\"\n", want, rc,
		       rc == 0 ? got : "");
		failures++;
	}
}

static void test_default_prefix(void)
{
	char want[64], got[IPCNAME_MAX];

	unsetenv("IPCLAB_PREFIX");
	snprintf(want, sizeof(want), "/ipclab.%u", (unsigned)getuid());
	check_name(ipcname_prefix(got, sizeof(got)), got, want);

	strcat(want, ".cmd");
	check_name(ipcname_queue(got, sizeof(got)), got, want);

	snprintf(want, sizeof(want), "/ipclab.%u.seg.1234.7", (unsigned)getuid());
	check_name(ipcname_segment(got, sizeof(got), 1234, 7), got, want);
	check(ipcname_prefix(got, 4) == -1, "prefix into a too-small buffer fails");
}

static void test_env_prefix(void)
{
	static const char *good[] = {
		"/x", "/my-lab_2.test", "/ABC.def-123",
		"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 64 */
	};
	static const char *bad[] = {
		"", "/", "x", "ipclab", "/a/b", "//a", "/a b", "/a*", "/a\n",
		"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 */
	};
	char got[IPCNAME_MAX];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		setenv("IPCLAB_PREFIX", good[i], 1);
		check_name(ipcname_prefix(got, sizeof(got)), got, good[i]);
	}
	setenv("IPCLAB_PREFIX", "/t.1", 1);
	check_name(ipcname_queue(got, sizeof(got)), got, "/t.1.cmd");
	check_name(ipcname_segment(got, sizeof(got), 99, 0), got, "/t.1.seg.99.0");
	check_name(ipcname_segment(got, sizeof(got), 2147483647, 4294967295u),
		   got, "/t.1.seg.2147483647.4294967295");
	check(ipcname_segment(got, sizeof(got), 0, 1) == -1, "segment with owner 0 fails");
	check(ipcname_segment(got, sizeof(got), -5, 1) == -1, "segment with negative owner fails");
	check(ipcname_segment(got, 10, 99, 0) == -1, "segment into a too-small buffer fails");
	check_name(ipcname_socket(got, sizeof(got)), got, "/dev/shm/t.1.sock");
	check(ipcname_socket(got, 10) == -1, "socket into a too-small buffer fails");
	setenv("IPCLAB_PREFIX", good[3], 1);
	check(ipcname_socket(got, IPCNAME_SOCKET_MAX) == 0,
	      "the longest socket path fits IPCNAME_SOCKET_MAX");

	start_capture();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("IPCLAB_PREFIX", bad[i], 1);
		if (ipcname_prefix(got, sizeof(got)) != -1) {
			printf("FAIL IPCLAB_PREFIX=\"%s\" was accepted\n", bad[i]);
			failures++;
		}
	}
	setenv("IPCLAB_PREFIX", "/a/b", 1);
	check(ipcname_queue(got, sizeof(got)) == -1, "queue with a bad prefix fails");
	check(ipcname_segment(got, sizeof(got), 1, 1) == -1, "segment with a bad prefix fails");
	if (stop_capture("IPCLAB_PREFIX=") != (int)(sizeof(bad) / sizeof(bad[0])) + 2) {
		printf("FAIL each bad IPCLAB_PREFIX should print one line saying why\n");
		failures++;
	}
	start_capture();
	check(!ipcname_is_segment("/a/b.seg.1.1"), "no segment is valid under a bad prefix");
	check(stop_capture("") == 0, "is_segment stays quiet about a bad prefix");
	unsetenv("IPCLAB_PREFIX");
}

static void test_is_segment(void)
{
	static const char *yes[] = {
		"/t.1.seg.1.0", "/t.1.seg.99.12", "/t.1.seg.2147483647.4294967295",
	};
	static const char *no[] = {
		"", "/t.1", "/t.1.cmd", "/t.1.seg", "/t.1.seg.", "/t.1.seg.5",
		"/t.1.seg.5.", "/t.1.seg..5", "/t.1.seg.5.6.", "/t.1.seg.5.6.7",
		"/t.1.seg.5.6x", "/t.1.seg.x.6", "/t.1.seg.-5.6", "/t.1.seg.+5.6",
		"/t.1.seg.5.-6", "/t.1.seg. 5.6", "/t.1.seg.5.6 ", "/t.1.seg.05.6",
		"/t.1.seg.5.06", "/t.1.seg.0.6", "/t.1.seg.2147483648.0",
		"/t.1.seg.5.4294967296", "/t.1.seg.99999999999999999999999.1",
		"/t.1.seg.5/x.6", "/t.1.seg.5.6/x", "/t.1/seg.5.6", "t.1.seg.5.6",
		"/t.2.seg.5.6", "/t.10.seg.5.6", "/t.seg.5.6", "/T.1.seg.5.6",
		"/t.1.SEG.5.6", "/t.1.shm.5.6", "/t.1.seg.5.6\n",
	};
	char overlong[IPCNAME_MAX + 40];
	char got[IPCNAME_MAX];
	pid_t owner = 0;
	unsigned index = 0;

	setenv("IPCLAB_PREFIX", "/t.1", 1);
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!ipcname_is_segment(yes[i])) {
			printf("FAIL is_segment rejected \"%s\"\n", yes[i]);
			failures++;
		}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (ipcname_is_segment(no[i])) {
			printf("FAIL is_segment accepted \"%s\"\n", no[i]);
			failures++;
		}
	check(!ipcname_is_segment(NULL), "is_segment(NULL) is 0");

	/* A name as long as IPCNAME_MAX cannot be one of ours. */
	snprintf(overlong, sizeof(overlong), "/t.1.seg.5.%0*d1", IPCNAME_MAX, 0);
	check(!ipcname_is_segment(overlong), "is_segment rejects an overlong name");

	ipcname_segment(got, sizeof(got), 4321, 17);
	check(ipcname_is_segment(got), "is_segment accepts what ipcname_segment writes");
	check(ipcname_segment_owner(got, &owner, &index) == 0 && owner == 4321 &&
	      index == 17, "segment_owner parses owner and index");
	check(ipcname_segment_owner("/t.1.cmd", &owner, &index) == -1,
	      "segment_owner rejects the queue name");

	/* The same name under another prefix is not ours. */
	setenv("IPCLAB_PREFIX", "/t.2", 1);
	check(!ipcname_is_segment(got), "is_segment rejects a name under another prefix");
	unsetenv("IPCLAB_PREFIX");
	check(!ipcname_is_segment(got), "is_segment rejects a name under another prefix (default)");
	ipcname_segment(got, sizeof(got), 1, 2);
	check(ipcname_is_segment(got), "is_segment accepts a default-prefix name");
}

int main(void)
{
	test_default_prefix();
	test_env_prefix();
	test_is_segment();
	if (failures == 0)
		printf("ipcname: all checks pass\n");
	return failures != 0;
}
