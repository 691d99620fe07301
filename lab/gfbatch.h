/*
 * gfbatch.h: run a workload of GETFILE requests over a pool of client
 * threads; the engine behind gfclient_download and gfclient_measure.
 *
 * The workload file holds one request path per line (blank lines and
 * lines starting with '#' are skipped). Request i fetches line
 * i % lines, so -r N cycles through the workload; threads take the next
 * request as they finish one, so the load stays even.
 *
 * With a manifest (sha256sum format: "<64 hex>  <path>" per line) a
 * request counts as correct only if a listed path comes back OK with the
 * listed SHA-256, or an unlisted path comes back FILE_NOT_FOUND. Without
 * one, any complete OK or FILE_NOT_FOUND is correct. Every incorrect
 * request prints one "FAIL <path>: <reason>" line on stderr.
 */
#ifndef GFBATCH_H
#define GFBATCH_H

#include <stddef.h>

#include "gfclient.h"

typedef struct {
	const char *server;	/* -s, "localhost" */
	unsigned short port;	/* -p, 25362 */
	int nthreads;		/* -t, 8 */
	const char *workload;	/* -w, "workload.txt" */
	long nrequests;		/* -r, 0 = each workload line once */
	const char *manifest;	/* -V, NULL = no verification */
	const char *metrics;	/* -m (gfclient_measure only), or NULL */
	int save;		/* write each body to ./<path> */
} gfbatch_opts_t;

typedef struct {
	const char *path;	/* points into the loaded workload */
	gfc_result_t result;
	size_t bytes;		/* body bytes received */
	long latency_us;	/* connect to last byte */
	int failed;
} gfbatch_record_t;

typedef struct {
	gfbatch_record_t *records;	/* one per request, in request order */
	size_t nrecords;
	size_t files;			/* complete OK bodies */
	size_t failures;
	unsigned long long bytes;	/* body bytes received in total */
	double seconds;			/* wall time of the whole run */

	char **lines;			/* the workload, owned here */
	size_t nlines;
} gfbatch_t;

/* Fills o from the command line (GIOS flags; -m only if with_metrics).
 * Returns -1 if the tool should go on, else the status to exit with:
 * 0 after -h (usage on stdout), 2 after a bad flag (usage on stderr). */
int gfbatch_parse_args(int argc, char **argv, int with_metrics,
		       gfbatch_opts_t *o);

/* Loads the workload (and manifest), runs every request, fills b.
 * Returns 0, or -1 if the run could not start (reason printed). */
int gfbatch_run(const gfbatch_opts_t *o, gfbatch_t *b);

void gfbatch_free(gfbatch_t *b);

/* Prints the summary both measuring tools print, one "name value" pair a
 * line in this order: requests, failures, bytes, seconds,
 * throughput_MBps, requests_per_s, latency_p50_us, latency_p99_us (MB is
 * 10^6 bytes, percentiles are nearest-rank). Sorts latency_us, which
 * holds one value per request. */
void gfbatch_print_summary(size_t requests, size_t failures,
			   unsigned long long bytes, double seconds,
			   long *latency_us);

#endif
