/*
 * test_gfproto.c: the GETFILE header parsers in lab/gfproto.c, on whole
 * headers and on every prefix of them. Exits 0 when all pass.
 */
#include <stdio.h>
#include <string.h>

#include "gfproto.h"

static int failures;

static int parse_req(const char *buf, size_t n, char *path)
{
	size_t hdrlen;

	return gfp_parse_request(buf, n, path, GF_MAX_HEADER, &hdrlen);
}

/* A valid request parses, and every proper prefix asks for more. */
static void good_request(const char *req, const char *want_path)
{
	char path[GF_MAX_HEADER];
	size_t len = strlen(req);
	size_t hdrlen = 0;

	for (size_t n = 0; n < len; n++) {
		if (parse_req(req, n, path) != GFP_MORE) {
			printf("FAIL prefix %zu of valid request %s\n", n, want_path);
			failures++;
			return;
		}
	}
	if (gfp_parse_request(req, len, path, sizeof(path), &hdrlen) != GFP_DONE ||
	    strcmp(path, want_path) != 0 || hdrlen != len) {
		printf("FAIL valid request for %s\n", want_path);
		failures++;
	}
}

static void bad_request(const char *name, const char *req, size_t len)
{
	char path[GF_MAX_HEADER];

	if (parse_req(req, len, path) != GFP_BAD) {
		printf("FAIL request not refused: %s\n", name);
		failures++;
	}
}

static void check_requests(void)
{
	static char huge[GF_MAX_HEADER + 64];

	good_request("GETFILE GET /\r\n\r\n", "/");
	good_request("GETFILE GET /courses/ud923.html\r\n\r\n", "/courses/ud923.html");
	good_request("GETFILE GET /a~b!c%20?x=1\r\n\r\n", "/a~b!c%20?x=1");

	bad_request("no path", "GETFILE GET \r\n\r\n", 16);
	bad_request("relative path", "GETFILE GET a/b\r\n\r\n", 19);
	bad_request("wrong scheme", "GETFIL GET /a\r\n\r\n", 17);
	bad_request("lowercase", "getfile GET /a\r\n\r\n", 18);
	bad_request("wrong method", "GETFILE PUT /a\r\n\r\n", 18);
	bad_request("two spaces", "GETFILE  GET /a\r\n\r\n", 19);
	bad_request("space after path", "GETFILE GET /a \r\n\r\n", 19);
	bad_request("space in path", "GETFILE GET /a b\r\n\r\n", 20);
	bad_request("tab in path", "GETFILE GET /a\tb\r\n\r\n", 20);
	bad_request("bare newlines", "GETFILE GET /a\n\n", 16);
	bad_request("one CRLF then junk", "GETFILE GET /a\r\nX", 17);
	bad_request("8-bit byte", "GETFILE GET /\xc3\xa9\r\n\r\n", 18);
	bad_request("NUL byte", "GETFILE GET /a\0b\r\n\r\n", 20);
	bad_request("binary junk", "\x01\x02\xff", 3);

	/* A path longer than the buffer can hold is refused even before
	 * its end arrives. */
	memcpy(huge, "GETFILE GET /", 13);
	memset(huge + 13, 'a', sizeof(huge) - 13);
	bad_request("path longer than the header limit", huge, sizeof(huge));
}

static void good_response(const char *hdr, gfstatus_t want, size_t want_len)
{
	gfstatus_t st;
	size_t len = 12345, hdrlen = 0, n = strlen(hdr);

	for (size_t i = 0; i < n; i++) {
		if (gfp_parse_response(hdr, i, &st, &len, &hdrlen) != GFP_MORE) {
			printf("FAIL prefix %zu of response %s\n", i,
			       gfp_status_str(want));
			failures++;
			return;
		}
	}
	if (gfp_parse_response(hdr, n, &st, &len, &hdrlen) != GFP_DONE ||
	    st != want || len != want_len || hdrlen != n) {
		printf("FAIL response %s %zu\n", gfp_status_str(want), want_len);
		failures++;
	}
}

static void bad_response(const char *hdr)
{
	gfstatus_t st;
	size_t len, hdrlen;

	if (gfp_parse_response(hdr, strlen(hdr), &st, &len, &hdrlen) != GFP_BAD) {
		printf("FAIL response not refused: %s\n", hdr);
		failures++;
	}
}

static void check_responses(void)
{
	char buf[GF_MAX_RESPONSE_HEADER];

	good_response("GETFILE OK 0\r\n\r\n", GF_OK, 0);
	good_response("GETFILE OK 1048576\r\n\r\n", GF_OK, 1048576);
	good_response("GETFILE FILE_NOT_FOUND\r\n\r\n", GF_FILE_NOT_FOUND, 0);
	good_response("GETFILE ERROR\r\n\r\n", GF_ERROR, 0);
	good_response("GETFILE INVALID\r\n\r\n", GF_INVALID, 0);

	bad_response("GETFILE OK\r\n\r\n");
	bad_response("GETFILE OK -1\r\n\r\n");
	bad_response("GETFILE OK +5\r\n\r\n");
	bad_response("GETFILE OK 007\r\n\r\n");
	bad_response("GETFILE OK 99999999999999999999999\r\n\r\n");
	bad_response("GETFILE OK 5 \r\n\r\n");
	bad_response("GETFILE ERROR 5\r\n\r\n");
	bad_response("GETFILE NOPE\r\n\r\n");
	bad_response("HTTP/1.0 200 OK\r\n\r\n");

	if (gfp_format_response(buf, sizeof(buf), GF_OK, 42) != 17 ||
	    strcmp(buf, "GETFILE OK 42\r\n\r\n") != 0 ||
	    gfp_format_response(buf, sizeof(buf), GF_INVALID, 42) != 19 ||
	    strcmp(buf, "GETFILE INVALID\r\n\r\n") != 0) {
		printf("FAIL format_response\n");
		failures++;
	}
}

int main(void)
{
	check_requests();
	check_responses();
	if (failures == 0)
		printf("gfproto: all cases pass\n");
	return failures != 0;
}
