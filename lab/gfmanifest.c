/*
 * gfmanifest.c: load a sha256sum-style manifest into a sorted array and
 * look paths up by binary search. After gfmanifest_load() returns, nothing
 * writes to the manifest, so lookups need no lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gfmanifest.h"

struct entry {
	char *path;
	uint8_t digest[SHA256_DIGEST_LEN];
};

struct gfmanifest {
	struct entry *entries;	/* sorted by path */
	size_t n;
};

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path,
		      ((const struct entry *)b)->path);
}

/* Parses one line (newline already removed) into e. */
static int parse_line(const char *line, struct entry *e)
{
	const char *path = line + SHA256_HEX_LEN + 2;

	if (strlen(line) < SHA256_HEX_LEN + 3 ||
	    sha256_parse_hex(line, e->digest) < 0 ||
	    line[SHA256_HEX_LEN] != ' ' ||
	    (line[SHA256_HEX_LEN + 1] != ' ' && line[SHA256_HEX_LEN + 1] != '*') ||
	    path[0] != '/')
		return -1;
	e->path = strdup(path);
	return e->path ? 0 : -1;
}

static int add_line(gfmanifest_t *m, size_t *cap, const char *line)
{
	struct entry e;

	if (parse_line(line, &e) < 0)
		return -1;
	if (m->n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 64;
		struct entry *ne = realloc(m->entries, ncap * sizeof(*ne));

		if (ne == NULL) {
			free(e.path);
			return -1;
		}
		m->entries = ne;
		*cap = ncap;
	}
	m->entries[m->n++] = e;
	return 0;
}

gfmanifest_t *gfmanifest_load(const char *file)
{
	FILE *f = fopen(file, "r");
	gfmanifest_t *m;
	char *line = NULL;
	size_t linecap = 0, cap = 0, lineno = 0;
	ssize_t len;

	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", file, strerror(errno));
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	while (m != NULL && (len = getline(&line, &linecap, f)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (add_line(m, &cap, line) < 0) {
			fprintf(stderr, "%s:%zu: not a \"<sha256>  /path\" line\n",
				file, lineno);
			gfmanifest_free(m);
			m = NULL;
		}
	}
	free(line);
	fclose(f);
	if (m != NULL && m->n > 0)
		qsort(m->entries, m->n, sizeof(*m->entries), by_path);
	return m;
}

const uint8_t *gfmanifest_find(const gfmanifest_t *m, const char *path)
{
	struct entry key = { .path = (char *)path };
	struct entry *e;

	if (m->n == 0)
		return NULL;
	e = bsearch(&key, m->entries, m->n, sizeof(key), by_path);
	return e ? e->digest : NULL;
}

void gfmanifest_free(gfmanifest_t *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->entries[i].path);
	free(m->entries);
	free(m);
}
