/*
 * gfclient_measure: load a GETFILE server with a workload and report how
 * fast it answered. Same flags as gfclient_download plus -m metrics.csv;
 * bodies are hashed (for -V) but not saved.
 *
 * Output on stdout, one "name value" pair per line, always in this order
 * (scripts parse it; MB is 10^6 bytes, percentiles are nearest-rank):
 *
 *	requests 1000
 *	failures 0
 *	bytes 52428800
 *	seconds 1.234
 *	throughput_MBps 42.5
 *	requests_per_s 810.4
 *	latency_p50_us 9120
 *	latency_p99_us 20311
 *
 * With -m, metrics.csv gets a header line "path,status,bytes,latency_us"
 * and one row per request in request order. Exit status as for
 * gfclient_download: 0 all correct, 1 some failed, 2 bad usage or input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gfbatch.h"

/* Prints the summary; returns -1 if there is no memory to sort the
 * latencies in. */
static int print_summary(const gfbatch_t *b)
{
	long *lat = malloc((b->nrecords ? b->nrecords : 1) * sizeof(*lat));

	if (lat == NULL) {
		perror("gfclient_measure");
		return -1;
	}
	for (size_t i = 0; i < b->nrecords; i++)
		lat[i] = b->records[i].latency_us;
	gfbatch_print_summary(b->nrecords, b->failures, b->bytes, b->seconds,
			      lat);
	free(lat);
	return 0;
}

/* Paths are written as they are, quoted only if they hold ',' or '"'. */
static void write_csv_path(FILE *f, const char *path)
{
	if (strpbrk(path, ",\"") == NULL) {
		fputs(path, f);
		return;
	}
	fputc('"', f);
	for (const char *p = path; *p; p++) {
		if (*p == '"')
			fputc('"', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

static int write_metrics(const char *file, const gfbatch_t *b)
{
	FILE *f = fopen(file, "w");

	if (f == NULL) {
		perror(file);
		return -1;
	}
	fprintf(f, "path,status,bytes,latency_us\n");
	for (size_t i = 0; i < b->nrecords; i++) {
		const gfbatch_record_t *r = &b->records[i];

		write_csv_path(f, r->path);
		fprintf(f, ",%s,%zu,%ld\n", gfc_result_str(r->result), r->bytes,
			r->latency_us);
	}
	if (fclose(f) != 0) {
		perror(file);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	gfbatch_opts_t o;
	gfbatch_t b;
	int status = gfbatch_parse_args(argc, argv, 1, &o);

	if (status >= 0)
		return status;
	if (gfbatch_run(&o, &b) < 0) {
		gfbatch_free(&b);
		return 2;
	}
	status = b.failures > 0;
	if (print_summary(&b) < 0)
		status = 2;
	if (o.metrics && write_metrics(o.metrics, &b) < 0)
		status = 2;
	gfbatch_free(&b);
	return status;
}
