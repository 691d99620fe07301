/*
 * test_simplecache.c: checks lab/simplecache.c: a good cache list (comments,
 * blank lines, relative and absolute paths, no final newline), each kind of
 * bad list reported as "file:line:" with nothing leaked, lookups, eight
 * threads pread()ing one descriptor at once, and the lookup delay.
 * Works in a fresh folder under /tmp, removed at the end. Exits 0 when all
 * pass.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "simplecache.h"

static int failures;
static char dir[64];		/* the scratch folder */

static void check(int ok, const char *what)
{
	if (!ok) {
		printf("FAIL %s\n", what);
		failures++;
	}
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

/* Writes len bytes of data to dir/name. */
static void write_file(const char *name, const void *data, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL || fwrite(data, 1, len, f) != len) {
		printf("FAIL cannot write %s\n", path);
		exit(1);
	}
	fclose(f);
}

static void write_text(const char *name, const char *text)
{
	write_file(name, text, strlen(text));
}

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* Sends stderr to a temporary file while simplecache_init() runs, and
 * returns the init result; *msg gets the first line written. */
static int init_capturing(const char *list, char *msg, size_t size)
{
	FILE *tmp = tmpfile();
	int saved = dup(2);
	int rc;

	fflush(stderr);
	dup2(fileno(tmp), 2);
	rc = simplecache_init(list);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	msg[0] = '\0';
	if (fgets(msg, (int)size, tmp) == NULL)
		msg[0] = '\0';
	fclose(tmp);
	return rc;
}

/* Reads the whole file behind key through the cache, into buf. */
static ssize_t read_key(const char *key, char *buf, size_t size)
{
	int fd = simplecache_get(key);

	if (fd < 0)
		return -1;
	return pread(fd, buf, size, 0);
}

static void check_key(const char *key, const char *want)
{
	char buf[256];
	ssize_t n = read_key(key, buf, sizeof(buf));

	if (n != (ssize_t)strlen(want) || memcmp(buf, want, (size_t)n) != 0) {
		printf("FAIL key %s: wanted \"%s\", got %zd bytes\n", key, want, n);
		failures++;
	}
}

static void test_good_list(void)
{
	char list[256], path[256], msg[256], text[512];
	int fds_before = count_open_fds();

	mkdir(strcat(strcpy(path, dir), "/sub"), 0700);
	write_text("a.txt", "alpha");
	write_text("sub/b.txt", "bravo");
	write_text("empty.txt", "");
	write_text("abs.txt", "absolute");
	snprintf(path, sizeof(path), "%s/abs.txt", dir);
	snprintf(text, sizeof(text),
		 "# a comment\n"
		 "\n"
		 "/a a.txt\n"
		 "   \t \n"
		 "  # an indented comment\n"
		 "/deep/b.txt\tsub/b.txt\n"
		 "/empty  empty.txt  \n"
		 "/crlf a.txt\r\n"
		 "/abs %s", path);
	write_text("good.txt", text);
	snprintf(list, sizeof(list), "%s/good.txt", dir);

	check(init_capturing(list, msg, sizeof(msg)) == 0, "good list loads");
	check(msg[0] == '\0', "good list prints nothing");
	check_key("/a", "alpha");
	check_key("/deep/b.txt", "bravo");
	check_key("/empty", "");
	check_key("/crlf", "alpha");
	check_key("/abs", "absolute");
	check(simplecache_get("/missing") == -1, "absent key gives -1");
	check(simplecache_get("/a/") == -1, "key match is exact (/a/)");
	check(simplecache_get("a") == -1, "key match is exact (a)");
	check(simplecache_get("") == -1, "empty key gives -1");
	check(simplecache_get("#") == -1, "comment is not a key");
	check(init_capturing(list, msg, sizeof(msg)) == -1, "second init without destroy fails");
	simplecache_destroy();
	check(count_open_fds() == fds_before, "destroy closes every descriptor");
	check(simplecache_get("/a") == -1, "after destroy, lookups miss");

	/* A list given by a relative name: paths are relative to its folder,
	 * not to the current directory. */
	write_text("sub/rel.txt", "/r b.txt\n/up ../a.txt");
	if (chdir(dir) != 0)
		printf("FAIL chdir\n");
	check(init_capturing("sub/rel.txt", msg, sizeof(msg)) == 0,
	      "relative list name loads");
	check_key("/r", "bravo");
	check_key("/up", "alpha");
	simplecache_destroy();
	if (chdir("/") != 0)
		printf("FAIL chdir\n");

	write_text("empty-list.txt", "# nothing here\n");
	snprintf(list, sizeof(list), "%s/empty-list.txt", dir);
	check(init_capturing(list, msg, sizeof(msg)) == 0, "a list with no entries loads");
	check(simplecache_get("/a") == -1, "empty cache misses");
	simplecache_destroy();
}

/* Each bad list must fail with a message naming the list and the line. */
static void test_bad_lists(void)
{
	static const struct {
		const char *name, *text, *where, *what;
	} cases[] = {
		{ "one-field.txt", "/a a.txt\n# c\n/b\n", ":3: ", "expected" },
		{ "three-fields.txt", "/a a.txt\n\n/b a.txt extra\n", ":3: ", "more fields" },
		{ "no-slash.txt", "/a a.txt\n#\nb a.txt\n", ":3: ", "must start with '/'" },
		{ "missing.txt", "/a a.txt\n/b a.txt\n/c nothere.txt", ":3: ", "cannot open nothere.txt" },
		{ "folder.txt", "/a a.txt\n/b a.txt\n/c sub\n", ":3: ", "not a regular file" },
		{ "dup.txt", "/a a.txt\n/b a.txt\n/a sub/b.txt\n", ":3: ", "duplicate key /a" },
		{ "dup2.txt", "/z a.txt\n/a a.txt\n/z a.txt\n", ":3: ", "already on line 1" },
		{ "first-error.txt", "/a a.txt\n/b\n/c\n", ":2: ", "expected" },
	};
	char list[256], msg[256], want[300];
	int fds_before = count_open_fds();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_text(cases[i].name, cases[i].text);
		snprintf(list, sizeof(list), "%s/%s", dir, cases[i].name);
		snprintf(want, sizeof(want), "%s%s", list, cases[i].where);
		if (init_capturing(list, msg, sizeof(msg)) != -1) {
			printf("FAIL %s was accepted\n", cases[i].name);
			failures++;
			simplecache_destroy();
			continue;
		}
		if (strncmp(msg, want, strlen(want)) != 0 ||
		    strstr(msg, cases[i].what) == NULL) {
			printf("FAIL %s: wanted \"%s...%s\", got \"%s\"\n",
			       cases[i].name, want, cases[i].what, msg);
			failures++;
		}
	}

	snprintf(list, sizeof(list), "%s/no-such-list.txt", dir);
	snprintf(want, sizeof(want), "%s: cannot open: ", list);
	check(init_capturing(list, msg, sizeof(msg)) == -1, "missing list fails");
	if (strncmp(msg, want, strlen(want)) != 0) {
		printf("FAIL missing list: wanted \"%s...\", got \"%s\"\n", want, msg);
		failures++;
	}
	check(count_open_fds() == fds_before, "failed inits leave no descriptor open");

	/* A failed init must not leave a half-built table behind. */
	write_text("good2.txt", "/a a.txt\n");
	snprintf(list, sizeof(list), "%s/good2.txt", dir);
	check(init_capturing(list, msg, sizeof(msg)) == 0, "init works after failed inits");
	check(simplecache_get("/b") == -1, "nothing from a failed list is left");
	simplecache_destroy();
}

enum { BIG = 1 << 20, READERS = 8 };

static unsigned char *big;

struct reader {
	int fd;
	unsigned seed;
	int ok;
};

/* Reads the whole file again and again in odd-sized pieces at odd offsets. */
static void *read_big(void *arg)
{
	struct reader *r = arg;
	unsigned char *buf = malloc(BIG);

	r->ok = buf != NULL;
	for (int round = 0; r->ok && round < 8; round++) {
		size_t off = 0;

		while (off < BIG) {
			size_t want = 1 + rand_r(&r->seed) % 70000;
			ssize_t n;

			if (want > BIG - off)
				want = BIG - off;
			n = pread(r->fd, buf + off, want, (off_t)off);
			if (n <= 0) {
				r->ok = 0;
				break;
			}
			off += (size_t)n;
		}
		if (r->ok && memcmp(buf, big, BIG) != 0)
			r->ok = 0;
	}
	free(buf);
	return NULL;
}

static void test_concurrent_reads(void)
{
	char list[256], msg[256];
	struct reader r[READERS];
	pthread_t t[READERS];
	int all_ok = 1;

	big = malloc(BIG);
	for (size_t i = 0; i < BIG; i++)
		big[i] = (unsigned char)(i * 2654435761u >> 13);
	write_file("big.bin", big, BIG);
	write_text("big-list.txt", "/big big.bin\n");
	snprintf(list, sizeof(list), "%s/big-list.txt", dir);
	check(init_capturing(list, msg, sizeof(msg)) == 0, "big list loads");
	for (int i = 0; i < READERS; i++) {
		r[i] = (struct reader){ .fd = simplecache_get("/big"), .seed = (unsigned)i + 1 };
		pthread_create(&t[i], NULL, read_big, &r[i]);
	}
	for (int i = 0; i < READERS; i++) {
		pthread_join(t[i], NULL);
		all_ok &= r[i].ok;
	}
	check(r[0].fd >= 0, "big file is found");
	check(all_ok, "8 threads pread()ing one descriptor all get the file's bytes");
	simplecache_destroy();
	free(big);
}

static void test_delay(void)
{
	char list[256], msg[256];
	double t0, took;

	snprintf(list, sizeof(list), "%s/good2.txt", dir);
	check(init_capturing(list, msg, sizeof(msg)) == 0, "list for delay loads");

	simplecache_set_delay(200000);
	t0 = now_ms();
	check(simplecache_get("/a") >= 0, "hit with a delay");
	took = now_ms() - t0;
	if (took < 195 || took > 1000) {
		printf("FAIL a 200 ms delay took %.0f ms (hit)\n", took);
		failures++;
	}
	t0 = now_ms();
	check(simplecache_get("/nope") == -1, "miss with a delay");
	took = now_ms() - t0;
	if (took < 195 || took > 1000) {
		printf("FAIL a 200 ms delay took %.0f ms (miss)\n", took);
		failures++;
	}

	simplecache_set_delay(0);
	t0 = now_ms();
	for (int i = 0; i < 1000; i++)
		simplecache_get("/a");
	took = now_ms() - t0;
	if (took > 100) {
		printf("FAIL 1000 lookups without delay took %.0f ms\n", took);
		failures++;
	}
	simplecache_destroy();
}

static void remove_scratch(void)
{
	static const char *names[] = {
		"a.txt", "sub/b.txt", "sub/rel.txt", "empty.txt", "abs.txt",
		"good.txt", "good2.txt", "empty-list.txt", "one-field.txt",
		"three-fields.txt", "no-slash.txt", "missing.txt", "folder.txt",
		"dup.txt", "dup2.txt", "first-error.txt", "big.bin",
		"big-list.txt", "sub", "",
	};
	char path[256];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (remove(path) != 0)
			printf("note: could not remove %s\n", path);
	}
}

int main(void)
{
	alarm(60);	/* a hang is a failure */
	strcpy(dir, "/tmp/test_simplecache.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_good_list();
	test_bad_lists();
	test_concurrent_reads();
	test_delay();
	remove_scratch();
	if (failures == 0)
		printf("simplecache: all checks pass\n");
	return failures != 0;
}
