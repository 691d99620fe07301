/*
 * mkcontent OUTDIR: writes the lab's test content, the same bytes on every
 * machine and every run.
 *
 *   OUTDIR/files/...       the files: one per edge size (size-<N>.bin) and
 *                          a few small ones with GIOS-like paths
 *   OUTDIR/locals.txt      cache list: "<key> <path>", path relative to OUTDIR
 *   OUTDIR/workload.txt    every key once, then /not/here.txt (not cached)
 *   OUTDIR/manifest.sha256 "<sha256 hex>  <key>" per cached file
 *   OUTDIR/README.txt      one line saying what the folder is
 *
 * Each file's bytes come from a splitmix64 generator seeded by a hash of
 * its key, so a file never depends on the others. A file already holding
 * the right bytes is left alone; anything else is written to a temporary
 * name and renamed into place, so an interrupted run leaves no torn file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha256.h"

#define CHUNK 65536
#define SEED 0x1ab5eed5ca1ab1eULL	/* any fixed value; changing it changes every file */

enum kind { BINARY, TEXT };

struct item {
	const char *path;	/* relative to OUTDIR; the key is "/" path */
	uint64_t size;
	enum kind kind;
};

/*
 * The sizes sit on both sides of the boundaries a transfer crosses: the
 * smallest allowed segment (824 bytes), a page, the default segment
 * (5712 bytes), 64 KiB and 1 MiB, plus one large file.
 */
static const struct item items[] = {
	{ "files/size-0.bin", 0, BINARY },
	{ "files/size-1.bin", 1, BINARY },
	{ "files/size-823.bin", 823, BINARY },
	{ "files/size-824.bin", 824, BINARY },
	{ "files/size-825.bin", 825, BINARY },
	{ "files/size-4095.bin", 4095, BINARY },
	{ "files/size-4096.bin", 4096, BINARY },
	{ "files/size-4097.bin", 4097, BINARY },
	{ "files/size-5711.bin", 5711, BINARY },
	{ "files/size-5712.bin", 5712, BINARY },
	{ "files/size-5713.bin", 5713, BINARY },
	{ "files/size-65535.bin", 65535, BINARY },
	{ "files/size-65536.bin", 65536, BINARY },
	{ "files/size-65537.bin", 65537, BINARY },
	{ "files/size-1048576.bin", 1048576, BINARY },
	{ "files/size-1048577.bin", 1048577, BINARY },
	{ "files/size-16777216.bin", 16777216, BINARY },
	{ "files/courses/ud923/notes.html", 2143, TEXT },
	{ "files/courses/ud923/filecorpus/index.html", 731, TEXT },
	{ "files/courses/ud923/filecorpus/road.jpg", 187345, BINARY },
	{ "files/big/paraphrase.txt", 301234, TEXT },
	{ "files/tiny/a.txt", 17, TEXT },
};

#define NITEMS (sizeof(items) / sizeof(items[0]))

struct rng {
	uint64_t state;
};

/* splitmix64 (Steele, Lea, Flood 2014): one 64-bit add and a mix. */
static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* FNV-1a of the path, so each file has its own stream. */
static struct rng rng_for(const char *path)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const char *p = path; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	return (struct rng){ .state = SEED ^ h };
}

/* Lowercase words (about one byte in six is a space), and a newline soon
 * after column 60, so the file reads as text. */
static void fill_text(struct rng *r, unsigned char *buf, size_t len, size_t *col)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t x = rng_next(r);

		if (*col >= 60 && x % 8 == 0) {
			buf[i] = '\n';
			*col = 0;
		} else if ((x >> 8) % 6 == 0) {
			buf[i] = ' ';
			(*col)++;
		} else {
			buf[i] = (unsigned char)('a' + (x >> 16) % 26);
			(*col)++;
		}
	}
}

/* The generator of one file's bytes, handed out chunk by chunk. */
struct stream {
	const struct item *it;
	struct rng rng;
	uint64_t left;
	size_t col;		/* TEXT only: bytes since the last newline */
};

static struct stream stream_open(const struct item *it)
{
	return (struct stream){ .it = it, .rng = rng_for(it->path), .left = it->size };
}

/* Fills buf with the next bytes; returns how many (0 at the end). */
static size_t stream_next(struct stream *s, unsigned char *buf)
{
	size_t n = s->left < CHUNK ? (size_t)s->left : CHUNK;

	if (s->it->kind == TEXT) {
		fill_text(&s->rng, buf, n, &s->col);
	} else {
		for (size_t i = 0; i < n; i += 8) {
			uint64_t x = rng_next(&s->rng);

			for (size_t k = 0; k < 8 && i + k < n; k++)
				buf[i + k] = (unsigned char)(x >> (8 * k));
		}
	}
	s->left -= n;
	return n;
}

/* mkdir -p: creates path and any missing parents. */
static int mkdir_p(const char *path)
{
	char *copy = strdup(path);
	int rc = 0;

	if (copy == NULL)
		return -1;
	for (char *p = copy + 1; rc == 0 && *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) != 0 && errno != EEXIST)
			rc = -1;
		*p = '/';
	}
	if (rc == 0 && mkdir(copy, 0755) != 0 && errno != EEXIST)
		rc = -1;
	free(copy);
	return rc;
}

static int make_parent(const char *path)
{
	char *copy = strdup(path);
	char *slash;
	int rc = 0;

	if (copy == NULL)
		return -1;
	slash = strrchr(copy, '/');
	if (slash != NULL && slash != copy) {
		*slash = '\0';
		rc = mkdir_p(copy);
	}
	free(copy);
	return rc;
}

static int read_full(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const unsigned char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/*
 * Generates the item's bytes into digest, and compares them with the file
 * at path as it goes. Returns 1 if the file already holds exactly them.
 */
static int hash_and_compare(const struct item *it, const char *path,
			    unsigned char *want, unsigned char *have,
			    uint8_t digest[SHA256_DIGEST_LEN])
{
	struct stream s = stream_open(it);
	struct stat st;
	sha256_ctx c;
	size_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int same = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		   (uint64_t)st.st_size == it->size;

	sha256_init(&c);
	while ((n = stream_next(&s, want)) > 0) {
		sha256_update(&c, want, n);
		if (same && (read_full(fd, have, n) != 0 || memcmp(want, have, n) != 0))
			same = 0;
	}
	sha256_final(&c, digest);
	if (fd >= 0)
		close(fd);
	return same;
}

/*
 * The temporary name carries our pid: two builds at once (CI runs make test
 * beside make deploy-check) each rename a file of their own into place,
 * where a shared name would let one rename the other's half-written file.
 */
static int temp_name(char *tmp, size_t size, const char *path)
{
	int n = snprintf(tmp, size, "%s.tmp.%ld", path, (long)getpid());

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Writes the item's bytes to a temporary file, then renames it to path. */
static int write_item(const struct item *it, const char *path, unsigned char *buf)
{
	struct stream s = stream_open(it);
	char tmp[4096];
	size_t n;
	int fd, rc = 0;

	if (temp_name(tmp, sizeof(tmp), path) != 0)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "mkcontent: cannot create %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	while (rc == 0 && (n = stream_next(&s, buf)) > 0)
		rc = write_full(fd, buf, n);
	if (close(fd) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc != 0) {
		fprintf(stderr, "mkcontent: cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp);
	}
	return rc;
}

/* Writes text (whole) to path through a temporary file. */
static int write_text_file(const char *path, const char *text, size_t len)
{
	char tmp[4096];
	int fd, rc;

	if (temp_name(tmp, sizeof(tmp), path) != 0)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "mkcontent: cannot create %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	rc = write_full(fd, (const unsigned char *)text, len);
	if (close(fd) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc != 0) {
		fprintf(stderr, "mkcontent: cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp);
	}
	return rc;
}

/* A growing text buffer for the three lists. */
struct text {
	char *buf;
	size_t len, cap;
};

static int text_add(struct text *t, const char *a, const char *b, const char *c)
{
	size_t need = strlen(a) + strlen(b) + strlen(c) + 1;

	if (t->len + need > t->cap) {
		size_t cap = (t->len + need) * 2;
		char *more = realloc(t->buf, cap);

		if (more == NULL)
			return -1;
		t->buf = more;
		t->cap = cap;
	}
	t->len += (size_t)sprintf(t->buf + t->len, "%s%s%s", a, b, c);
	return 0;
}

static int write_lists(const char *outdir, uint8_t digests[][SHA256_DIGEST_LEN])
{
	static const char readme[] =
		"ipclab test content, made by mkcontent (run it again to restore): "
		"files/, cache list locals.txt, workload.txt, manifest.sha256\n";
	struct text locals = { 0 }, workload = { 0 }, manifest = { 0 };
	char path[4096], key[1024], hex[SHA256_HEX_LEN + 1];
	int rc = 0;

	rc |= text_add(&locals, "# ipclab cache list, made by mkcontent: <key> <path relative to this file>", "\n", "");
	for (size_t i = 0; i < NITEMS; i++) {
		snprintf(key, sizeof(key), "/%s", items[i].path);
		sha256_hex(digests[i], hex);
		rc |= text_add(&locals, key, " ", items[i].path);
		rc |= text_add(&locals, "\n", "", "");
		rc |= text_add(&workload, key, "\n", "");
		rc |= text_add(&manifest, hex, "  ", key);
		rc |= text_add(&manifest, "\n", "", "");
	}
	rc |= text_add(&workload, "/not/here.txt", "\n", "");
	if (rc != 0) {
		fprintf(stderr, "mkcontent: out of memory\n");
	} else {
		snprintf(path, sizeof(path), "%s/locals.txt", outdir);
		rc |= write_text_file(path, locals.buf, locals.len);
		snprintf(path, sizeof(path), "%s/workload.txt", outdir);
		rc |= write_text_file(path, workload.buf, workload.len);
		snprintf(path, sizeof(path), "%s/manifest.sha256", outdir);
		rc |= write_text_file(path, manifest.buf, manifest.len);
		snprintf(path, sizeof(path), "%s/README.txt", outdir);
		rc |= write_text_file(path, readme, strlen(readme));
	}
	free(locals.buf);
	free(workload.buf);
	free(manifest.buf);
	return rc;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: mkcontent OUTDIR\n");
}

int main(int argc, char **argv)
{
	static uint8_t digests[NITEMS][SHA256_DIGEST_LEN];
	unsigned char *want = malloc(CHUNK), *have = malloc(CHUNK);
	const char *outdir;
	char path[4096];
	int written = 0, rc = 0;

	if (argc == 2 && strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		printf("Writes test files, locals.txt, workload.txt and manifest.sha256 into OUTDIR.\n");
		free(want);
		free(have);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-' || argv[1][0] == '\0' ||
	    strlen(argv[1]) > 1024) {
		usage(stderr);
		free(want);
		free(have);
		return 2;
	}
	outdir = argv[1];
	if (want == NULL || have == NULL || mkdir_p(outdir) != 0) {
		fprintf(stderr, "mkcontent: cannot create %s: %s\n", outdir, strerror(errno));
		rc = 1;
	}
	for (size_t i = 0; rc == 0 && i < NITEMS; i++) {
		snprintf(path, sizeof(path), "%s/%s", outdir, items[i].path);
		if (make_parent(path) != 0) {
			fprintf(stderr, "mkcontent: cannot create the folder of %s: %s\n",
				path, strerror(errno));
			rc = 1;
		} else if (!hash_and_compare(&items[i], path, want, have, digests[i])) {
			rc = write_item(&items[i], path, want) != 0;
			written++;
		}
	}
	if (rc == 0)
		rc = write_lists(outdir, digests) != 0;
	if (rc == 0)
		printf("mkcontent: %zu files in %s (%d written, %zu already right)\n",
		       NITEMS, outdir, written, NITEMS - (size_t)written);
	free(want);
	free(have);
	return rc;
}
