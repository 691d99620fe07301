/*
 * simplecache.c: the cache store behind simplecached (see simplecache.h).
 *
 * simplecache_init() reads the whole cache list, opens every file once and
 * keeps the (key, descriptor) pairs in an array sorted by key. After init
 * the table is never written again, so any number of threads may look keys
 * up (bsearch) without a lock; simplecache_destroy() must run after they
 * have all stopped.
 *
 * Parsing stops at the first bad line. Until the new table is complete it
 * is owned by a local struct table, and every failure path frees it, so a
 * failed init leaves nothing open and nothing allocated.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "simplecache.h"

struct entry {
	char *key;
	int fd;
	long line;	/* where the key was listed, for error messages */
};

struct table {
	struct entry *entries;
	size_t count, capacity;
};

/* Written only by init and destroy, while no lookup can run. */
static struct table cache;
static int loaded;

/* Read by every lookup; may be changed at any time. */
static atomic_uint delay_us;

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->count; i++) {
		free(t->entries[i].key);
		close(t->entries[i].fd);
	}
	free(t->entries);
	t->entries = NULL;
	t->count = t->capacity = 0;
}

/* Takes ownership of key and fd, also when it fails. */
static int table_add(struct table *t, char *key, int fd, long line)
{
	if (t->count == t->capacity) {
		size_t cap = t->capacity ? 2 * t->capacity : 64;
		struct entry *e = realloc(t->entries, cap * sizeof(*e));

		if (e == NULL) {
			free(key);
			close(fd);
			return -1;
		}
		t->entries = e;
		t->capacity = cap;
	}
	t->entries[t->count].key = key;
	t->entries[t->count].fd = fd;
	t->entries[t->count].line = line;
	t->count++;
	return 0;
}

/* Orders by key, then by line, so the first listing of a key comes first. */
static int compare_entries(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return (x->line > y->line) - (x->line < y->line);
}

static int compare_key(const void *key, const void *e)
{
	return strcmp(key, ((const struct entry *)e)->key);
}

/* Opens the folder that relative paths in the list are relative to. */
static int open_list_folder(const char *list)
{
	const char *slash = strrchr(list, '/');
	char *dir;
	int fd;

	if (slash == NULL)
		return open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (slash == list)
		return open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir = strndup(list, (size_t)(slash - list));
	if (dir == NULL)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	return fd;
}

/* Opens a listed file for reading; it must be a regular file. */
static int open_listed_file(const char *list, long line, int dirfd,
			    const char *path)
{
	struct stat st;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "%s:%ld: cannot open %s: %s\n", list, line, path,
			strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s:%ld: %s is not a regular file\n", list, line,
			path);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Handles one line of the list (without its newline). Blank and comment
 * lines add nothing. Returns 0, or -1 after printing what is wrong.
 */
static int parse_line(struct table *t, const char *list, long line, int dirfd,
		      char *text)
{
	const char *blanks = " \t\r";
	char *save, *key, *path, *extra;
	int fd;

	key = strtok_r(text, blanks, &save);
	if (key == NULL || key[0] == '#')
		return 0;
	path = strtok_r(NULL, blanks, &save);
	extra = strtok_r(NULL, blanks, &save);
	if (path == NULL) {
		fprintf(stderr, "%s:%ld: expected \"<key> <path>\", found only \"%s\"\n",
			list, line, key);
		return -1;
	}
	if (extra != NULL) {
		fprintf(stderr, "%s:%ld: expected \"<key> <path>\", found more fields (\"%s\")\n",
			list, line, extra);
		return -1;
	}
	if (key[0] != '/') {
		fprintf(stderr, "%s:%ld: key \"%s\" must start with '/'\n", list,
			line, key);
		return -1;
	}
	fd = open_listed_file(list, line, dirfd, path);
	if (fd < 0)
		return -1;
	key = strdup(key);
	if (key == NULL) {
		close(fd);
		fprintf(stderr, "%s:%ld: out of memory\n", list, line);
		return -1;
	}
	if (table_add(t, key, fd, line) != 0) {
		fprintf(stderr, "%s:%ld: out of memory\n", list, line);
		return -1;
	}
	return 0;
}

/* Reads every line of the open list f into t. */
static int parse_list(struct table *t, const char *list, FILE *f, int dirfd)
{
	char *text = NULL;
	size_t cap = 0;
	ssize_t len;
	long line = 0;
	int rc = 0;

	while (rc == 0 && (len = getline(&text, &cap, f)) >= 0) {
		line++;
		if (strlen(text) != (size_t)len) {
			fprintf(stderr, "%s:%ld: contains a NUL byte\n", list, line);
			rc = -1;
			break;
		}
		if (len > 0 && text[len - 1] == '\n')
			text[len - 1] = '\0';
		rc = parse_line(t, list, line, dirfd, text);
	}
	if (rc == 0 && ferror(f)) {
		fprintf(stderr, "%s: read error\n", list);
		rc = -1;
	}
	free(text);
	return rc;
}

/* t is sorted; reports the second listing of any key. */
static int check_duplicates(const struct table *t, const char *list)
{
	for (size_t i = 1; i < t->count; i++) {
		const struct entry *prev = &t->entries[i - 1], *e = &t->entries[i];

		if (strcmp(prev->key, e->key) == 0) {
			fprintf(stderr, "%s:%ld: duplicate key %s (already on line %ld)\n",
				list, e->line, e->key, prev->line);
			return -1;
		}
	}
	return 0;
}

int simplecache_init(const char *cachelist_path)
{
	struct table t = { 0 };
	FILE *f;
	int dirfd, rc;

	if (loaded) {
		fprintf(stderr, "simplecache_init: already loaded; call simplecache_destroy() first\n");
		return -1;
	}
	f = fopen(cachelist_path, "re");
	if (f == NULL) {
		fprintf(stderr, "%s: cannot open: %s\n", cachelist_path,
			strerror(errno));
		return -1;
	}
	dirfd = open_list_folder(cachelist_path);
	if (dirfd < 0) {
		fprintf(stderr, "%s: cannot open its folder: %s\n",
			cachelist_path, strerror(errno));
		fclose(f);
		return -1;
	}
	rc = parse_list(&t, cachelist_path, f, dirfd);
	close(dirfd);
	fclose(f);
	if (rc == 0 && t.count > 0) {
		qsort(t.entries, t.count, sizeof(*t.entries), compare_entries);
		rc = check_duplicates(&t, cachelist_path);
	}
	if (rc != 0) {
		table_free(&t);
		return -1;
	}
	cache = t;
	loaded = 1;
	return 0;
}

void simplecache_set_delay(unsigned int us)
{
	if (us > SIMPLECACHE_MAX_DELAY_US)
		us = SIMPLECACHE_MAX_DELAY_US;
	atomic_store(&delay_us, us);
}

/* Sleeps the whole delay, even if a signal interrupts it. */
static void sleep_us(unsigned int us)
{
	struct timespec left = {
		.tv_sec = us / 1000000,
		.tv_nsec = (long)(us % 1000000) * 1000,
	};

	while (nanosleep(&left, &left) != 0 && errno == EINTR)
		;
}

int simplecache_get(const char *key)
{
	unsigned int us = atomic_load(&delay_us);
	const struct entry *e;

	if (us > 0)
		sleep_us(us);
	if (cache.count == 0)
		return -1;
	e = bsearch(key, cache.entries, cache.count, sizeof(*cache.entries),
		    compare_key);
	return e != NULL ? e->fd : -1;
}

void simplecache_destroy(void)
{
	table_free(&cache);
	loaded = 0;
}
