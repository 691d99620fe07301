/*
 * gfbatch.c: the client side of a benchmark or check run (see gfbatch.h).
 *
 * Threads share one struct run. Its fields are set before the threads
 * start and only read afterwards, except next, which is guarded by lock.
 * Record i is written by the one thread that took request i, and read
 * by the main thread after the joins.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "gfbatch.h"
#include "gfmanifest.h"
#include "sha256.h"

#define REQUEST_TIMEOUT_MS 30000	/* per connect and per read */
#define MAX_THREADS 1024

struct run {
	const gfbatch_opts_t *o;
	gfbatch_t *b;
	gfmanifest_t *manifest;	/* or NULL */
	pthread_mutex_t lock;
	size_t next;		/* the next request to take */
};

/* What one request collects while its body arrives. */
struct body {
	sha256_ctx sha;
	const char *dest;	/* ./<path>, or NULL when not saving */
	char tmp[4096];		/* dest.part.<pid>.<i> */
	int fd;			/* open on tmp, or -1 */
	int save_errno;		/* first error writing tmp, or 0 */
};

/* ---- command line ---- */

static void usage(FILE *f, const char *prog, int with_metrics)
{
	fprintf(f, "usage: %s [-s server] [-p port] [-t threads] [-w workload]"
		" [-r requests] [-V manifest]%s [-h]\n", prog,
		with_metrics ? " [-m metrics.csv]" : "");
	fprintf(f, "  -s server    server address (localhost)\n"
		"  -p port      server port (25362)\n"
		"  -t threads   client threads, 1..%d (8)\n"
		"  -w workload  file of request paths, one a line (workload.txt)\n"
		"  -r requests  total requests, cycling through the workload"
		" (each line once)\n"
		"  -V manifest  check every body against this sha256 manifest\n",
		MAX_THREADS);
	if (with_metrics)
		fprintf(f, "  -m file      write one CSV row per request\n");
	fprintf(f, "  -h           show this help\n");
}

int gfbatch_parse_args(int argc, char **argv, int with_metrics,
		       gfbatch_opts_t *o)
{
	const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	const char *flags = with_metrics ? "s:p:t:w:r:V:m:h" : "s:p:t:w:r:V:h";
	long v;
	int c;

	*o = (gfbatch_opts_t){ .server = "localhost", .port = 25362,
			       .nthreads = 8, .workload = "workload.txt" };
	while ((c = getopt(argc, argv, flags)) != -1) {
		switch (c) {
		case 's': o->server = optarg; break;
		case 'w': o->workload = optarg; break;
		case 'V': o->manifest = optarg; break;
		case 'm': o->metrics = optarg; break;
		case 'p':
			if (args_parse_long(optarg, 1, 65535, &v) < 0)
				goto bad;
			o->port = (unsigned short)v;
			break;
		case 't':
			if (args_parse_long(optarg, 1, MAX_THREADS, &v) < 0)
				goto bad;
			o->nthreads = (int)v;
			break;
		case 'r':
			if (args_parse_long(optarg, 1, 100000000, &v) < 0)
				goto bad;
			o->nrequests = v;
			break;
		case 'h':
			usage(stdout, prog, with_metrics);
			return 0;
		default:
			usage(stderr, prog, with_metrics);
			return 2;
		}
	}
	if (optind == argc)
		return -1;
	fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
	usage(stderr, prog, with_metrics);
	return 2;
bad:
	fprintf(stderr, "%s: bad value '%s' for -%c\n", prog, optarg, c);
	usage(stderr, prog, with_metrics);
	return 2;
}

/* ---- the workload ---- */

static int load_workload(const char *file, gfbatch_t *b)
{
	FILE *f = fopen(file, "r");
	char *line = NULL;
	size_t linecap = 0, cap = 0;
	ssize_t len;

	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", file, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &linecap, f)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (b->nlines == cap) {
			/* If realloc() fails the old array stays in b->lines,
			 * so gfbatch_free() still frees what was read. */
			size_t grown = cap ? 2 * cap : 64;
			char **more = realloc(b->lines, grown * sizeof(*more));

			if (more == NULL) {
				fprintf(stderr, "%s: out of memory\n", file);
				free(line);
				fclose(f);
				return -1;
			}
			b->lines = more;
			cap = grown;
		}
		b->lines[b->nlines++] = line;
		line = NULL;
		linecap = 0;
	}
	/* getline() returns -1 at the end and on an error alike. */
	if (ferror(f)) {
		fprintf(stderr, "%s: %s\n", file, strerror(errno));
		free(line);
		fclose(f);
		return -1;
	}
	free(line);
	fclose(f);
	if (b->nlines == 0) {
		fprintf(stderr, "%s: no request paths\n", file);
		return -1;
	}
	return 0;
}

/* ---- saving a body ---- */

/* A path is saved under the current folder only if it cannot climb out
 * of it and names a file: no "." or ".." part, no trailing '/'. */
static int safe_to_save(const char *path)
{
	size_t len = strlen(path);

	if (path[0] != '/' || path[len - 1] == '/')
		return 0;
	for (const char *p = path; (p = strchr(p, '/')) != NULL; p++) {
		if (strncmp(p, "/./", 3) == 0 || strcmp(p, "/.") == 0 ||
		    strncmp(p, "/../", 4) == 0 || strcmp(p, "/..") == 0)
			return 0;
	}
	return 1;
}

/* mkdir -p of every folder above file. */
static void make_parents(char *file)
{
	for (char *p = strchr(file + 2, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		mkdir(file, 0777);	/* EEXIST is fine; open() reports the rest */
		*p = '/';
	}
}

static void open_temp(struct body *bd)
{
	make_parents(bd->tmp);
	bd->fd = open(bd->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (bd->fd < 0)
		bd->save_errno = errno;
}

static void write_temp(struct body *bd, const void *data, size_t len)
{
	const char *p = data;

	if (bd->fd < 0 && bd->save_errno == 0)
		open_temp(bd);
	while (bd->fd >= 0 && bd->save_errno == 0 && len > 0) {
		ssize_t n = write(bd->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			bd->save_errno = errno;
			break;
		}
		p += n;
		len -= n;
	}
}

/* Renames the temp file into place if keep, else removes it. Renaming is
 * atomic, so two threads fetching the same path never mix their bytes. */
static int finish_temp(struct body *bd, int keep)
{
	if (keep && bd->fd < 0 && bd->save_errno == 0)
		open_temp(bd);		/* an empty body */
	if (bd->fd >= 0 && close(bd->fd) < 0 && bd->save_errno == 0)
		bd->save_errno = errno;
	if (keep && bd->save_errno == 0 && rename(bd->tmp, bd->dest) < 0)
		bd->save_errno = errno;
	if (!keep || bd->save_errno != 0)
		unlink(bd->tmp);
	return keep ? -bd->save_errno : 0;
}

static int on_body(const void *data, size_t len, void *arg)
{
	struct body *bd = arg;

	sha256_update(&bd->sha, data, len);
	if (bd->dest != NULL)
		write_temp(bd, data, len);
	return 0;
}

/* ---- one request ---- */

static long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

/* Says what is wrong with a response, or NULL if it is correct. */
static const char *judge(const struct run *r, const char *path, int got,
			 const gfc_response_t *resp, const uint8_t *digest,
			 char *why, size_t whysize)
{
	const uint8_t *want = r->manifest ? gfmanifest_find(r->manifest, path) : NULL;

	if (resp->result == GFC_OK && got == 0) {
		if (r->manifest && want == NULL)
			return "OK, but the path is not in the manifest";
		if (want && memcmp(want, digest, SHA256_DIGEST_LEN) != 0)
			return "sha256 mismatch";
		return NULL;
	}
	if (resp->result == GFC_FILE_NOT_FOUND)
		return want ? "FILE_NOT_FOUND, but the path is in the manifest" : NULL;
	if (resp->result == GFC_SHORT_BODY)
		snprintf(why, whysize, "SHORT_BODY: %zu of %zu bytes",
			 resp->received_len, resp->declared_len);
	else
		snprintf(why, whysize, "%s", gfc_result_str(resp->result));
	return why;
}

static void do_request(struct run *r, size_t i)
{
	gfbatch_record_t *rec = &r->b->records[i];
	struct body bd = { .fd = -1 };
	uint8_t digest[SHA256_DIGEST_LEN];
	char why[128], dest[4096];
	const char *fail;
	gfc_response_t resp;
	long start;
	int got, saved;

	rec->path = r->b->lines[i % r->b->nlines];
	sha256_init(&bd.sha);
	if (r->o->save && safe_to_save(rec->path) &&
	    (size_t)snprintf(dest, sizeof(dest), ".%s", rec->path) < sizeof(dest) &&
	    (size_t)snprintf(bd.tmp, sizeof(bd.tmp), "%s.part.%ld.%zu", dest,
			     (long)getpid(), i) < sizeof(bd.tmp))
		bd.dest = dest;

	start = now_us();
	got = gfc_get(r->o->server, r->o->port, rec->path, REQUEST_TIMEOUT_MS,
		      on_body, &bd, &resp);
	rec->latency_us = now_us() - start;
	rec->result = resp.result;
	rec->bytes = resp.received_len;
	sha256_final(&bd.sha, digest);

	fail = judge(r, rec->path, got, &resp, digest, why, sizeof(why));
	saved = 0;
	if (bd.dest != NULL)
		saved = finish_temp(&bd, got == 0 && resp.result == GFC_OK);
	if (fail == NULL && saved < 0) {
		snprintf(why, sizeof(why), "cannot save: %s", strerror(-saved));
		fail = why;
	}
	if (fail == NULL && r->o->save && bd.dest == NULL &&
	    resp.result == GFC_OK)
		fail = "not saved: the path is not a plain file name";
	if (fail != NULL) {
		rec->failed = 1;
		fprintf(stderr, "FAIL %s: %s\n", rec->path, fail);
	}
}

static void *client_main(void *arg)
{
	struct run *r = arg;

	for (;;) {
		size_t i;

		pthread_mutex_lock(&r->lock);
		i = r->next++;
		pthread_mutex_unlock(&r->lock);
		if (i >= r->b->nrecords)
			return NULL;
		do_request(r, i);
	}
}

/* ---- the run ---- */

static void run_threads(struct run *r, int nthreads)
{
	pthread_t *tids = calloc(nthreads, sizeof(*tids));
	int started = 0;

	while (tids != NULL && started < nthreads &&
	       pthread_create(&tids[started], NULL, client_main, r) == 0)
		started++;
	if (started == 0)
		client_main(r);		/* no threads: do the work here */
	for (int t = 0; t < started; t++)
		pthread_join(tids[t], NULL);
	free(tids);
}

int gfbatch_run(const gfbatch_opts_t *o, gfbatch_t *b)
{
	struct run r = { .o = o, .b = b };
	long start;

	memset(b, 0, sizeof(*b));
	if (load_workload(o->workload, b) < 0)
		return -1;
	if (o->manifest && (r.manifest = gfmanifest_load(o->manifest)) == NULL)
		return -1;
	b->nrecords = o->nrequests > 0 ? (size_t)o->nrequests : b->nlines;
	b->records = calloc(b->nrecords, sizeof(*b->records));
	if (b->records == NULL) {
		perror("gfbatch");
		gfmanifest_free(r.manifest);
		return -1;
	}
	pthread_mutex_init(&r.lock, NULL);

	start = now_us();
	run_threads(&r, o->nthreads);
	b->seconds = (now_us() - start) / 1e6;

	for (size_t i = 0; i < b->nrecords; i++) {
		const gfbatch_record_t *rec = &b->records[i];

		b->bytes += rec->bytes;
		b->failures += rec->failed;
		b->files += !rec->failed && rec->result == GFC_OK;
	}
	pthread_mutex_destroy(&r.lock);
	gfmanifest_free(r.manifest);
	return 0;
}

/* ---- the summary ---- */

static int by_value(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/* The nearest-rank percentile p of n sorted values (0 if there are none). */
static long percentile(const long *sorted, size_t n, int p)
{
	size_t rank = (n * p + 99) / 100;

	if (n == 0)
		return 0;
	return rank == 0 ? sorted[0] : sorted[rank - 1];
}

void gfbatch_print_summary(size_t requests, size_t failures,
			   unsigned long long bytes, double seconds,
			   long *latency_us)
{
	double secs = seconds > 0 ? seconds : 1e-6;

	qsort(latency_us, requests, sizeof(*latency_us), by_value);
	printf("requests %zu\n", requests);
	printf("failures %zu\n", failures);
	printf("bytes %llu\n", bytes);
	printf("seconds %.3f\n", seconds);
	printf("throughput_MBps %.1f\n", bytes / secs / 1e6);
	printf("requests_per_s %.1f\n", requests / secs);
	printf("latency_p50_us %ld\n", percentile(latency_us, requests, 50));
	printf("latency_p99_us %ld\n", percentile(latency_us, requests, 99));
}

void gfbatch_free(gfbatch_t *b)
{
	for (size_t i = 0; i < b->nlines; i++)
		free(b->lines[i]);
	free(b->lines);
	free(b->records);
	memset(b, 0, sizeof(*b));
}
