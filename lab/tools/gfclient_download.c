/*
 * gfclient_download: fetch every path of a workload from a GETFILE server
 * and save each body as ./<path> (GIOS compatible flags; -h lists them).
 *
 * With -V manifest.sha256 it also checks each body's SHA-256 and that
 * unlisted paths are FILE_NOT_FOUND. Each wrong response prints one
 * "FAIL <path>: <reason>" line on stderr; the last line on stdout is
 *
 *	files N, bytes B, failures F
 *
 * Exit status: 0 if every request was correct, 1 if any failed, 2 on a
 * bad command line or an unreadable workload or manifest.
 */
#include <stdio.h>

#include "gfbatch.h"

int main(int argc, char **argv)
{
	gfbatch_opts_t o;
	gfbatch_t b;
	int status = gfbatch_parse_args(argc, argv, 0, &o);

	if (status >= 0)
		return status;
	o.save = 1;
	if (gfbatch_run(&o, &b) < 0) {
		gfbatch_free(&b);
		return 2;
	}
	printf("files %zu, bytes %llu, failures %zu\n", b.files, b.bytes,
	       b.failures);
	status = b.failures > 0;
	gfbatch_free(&b);
	return status;
}
