/*
 * gf_request.c: libFuzzer target for the GETFILE request parser
 * (gfp_parse_request in lab/gfproto.c), which reads bytes straight from
 * any client on the network.
 *
 * Besides "no crash, no out-of-bounds access" (ASan/UBSan), it checks the
 * parser's promises from gfproto.h:
 *  - incremental: every proper prefix of a complete header is GFP_MORE,
 *    and every prefix of a GFP_MORE input is GFP_MORE too, so feeding the
 *    bytes in any split gives the answer of feeding them at once;
 *  - a GFP_DONE header is the exact text "GETFILE GET <path>\r\n\r\n" with
 *    a path of printable bytes starting with '/', that fits pathsize.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gfproto.h"

/* Small, so the fuzzer reaches the "path too long" branch easily. */
#define PATHSIZE 64

static int parse(const char *buf, size_t n, char *path, size_t *hdrlen)
{
	return gfp_parse_request(buf, n, path, PATHSIZE, hdrlen);
}

static void check_done(const char *buf, size_t hdrlen, const char *path)
{
	char expect[PATHSIZE + 32];
	size_t plen = strlen(path);

	assert(plen > 0 && plen < PATHSIZE && path[0] == '/');
	for (size_t i = 0; i < plen; i++)
		assert(path[i] >= 0x21 && path[i] <= 0x7e);
	snprintf(expect, sizeof(expect), "GETFILE GET %s\r\n\r\n", path);
	assert(strlen(expect) == hdrlen);
	assert(memcmp(expect, buf, hdrlen) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	char path[PATHSIZE], prefix_path[PATHSIZE];
	size_t hdrlen = 0, prefix_hdrlen;
	int r = parse(buf, size, path, &hdrlen);

	assert(r == GFP_BAD || r == GFP_MORE || r == GFP_DONE);
	if (r == GFP_DONE) {
		assert(hdrlen <= size);
		check_done(buf, hdrlen, path);
	}
	/* A prefix can never be further along than the whole. */
	for (size_t cut = 0; cut < size; cut++) {
		int p = parse(buf, cut, prefix_path, &prefix_hdrlen);

		if (r == GFP_MORE)
			assert(p == GFP_MORE);
		if (r == GFP_DONE && cut < hdrlen)
			assert(p == GFP_MORE);
		if (r == GFP_DONE && cut >= hdrlen)
			assert(p == GFP_DONE && prefix_hdrlen == hdrlen);
	}
	return 0;
}
