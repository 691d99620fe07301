/*
 * gfproto.c: parsing and formatting of GETFILE headers (see gfproto.h).
 *
 * Each parser walks the buffer with a position, matching one piece at a
 * time. Every piece reports GFP_MORE if the buffer ends inside it, so the
 * same call works on a header that is still arriving.
 */
#include <stdio.h>
#include <string.h>

#include "gfproto.h"

static const char *const status_words[] = {
	[GF_OK] = "OK",
	[GF_FILE_NOT_FOUND] = "FILE_NOT_FOUND",
	[GF_ERROR] = "ERROR",
	[GF_INVALID] = "INVALID",
};

#define NSTATUS (sizeof(status_words) / sizeof(status_words[0]))

const char *gfp_status_str(gfstatus_t status)
{
	if ((size_t)status >= NSTATUS)
		return "UNKNOWN";
	return status_words[status];
}

/* Matches the literal s at *pos, advancing *pos past it on GFP_DONE. */
static int match(const char *buf, size_t n, size_t *pos, const char *s)
{
	size_t i = *pos;

	for (; *s != '\0'; s++, i++) {
		if (i == n)
			return GFP_MORE;
		if (buf[i] != *s)
			return GFP_BAD;
	}
	*pos = i;
	return GFP_DONE;
}

static int is_path_byte(char ch)
{
	return ch >= 0x21 && ch <= 0x7e;
}

/* Matches a path at *pos: '/' then path bytes, up to (not including) the
 * first byte that is not a path byte. */
static int match_path(const char *buf, size_t n, size_t *pos)
{
	size_t i = *pos;

	if (i == n)
		return GFP_MORE;
	if (buf[i] != '/')
		return GFP_BAD;
	while (i < n && is_path_byte(buf[i]))
		i++;
	if (i == n)
		return GFP_MORE;
	*pos = i;
	return GFP_DONE;
}

int gfp_parse_request(const char *buf, size_t n, char *path, size_t pathsize,
		      size_t *hdrlen)
{
	size_t pos = 0, start;
	int r;

	if ((r = match(buf, n, &pos, "GETFILE GET ")) != GFP_DONE)
		return r;
	start = pos;
	r = match_path(buf, n, &pos);
	if (pos - start >= pathsize || (r == GFP_MORE && n - start >= pathsize))
		return GFP_BAD;
	if (r != GFP_DONE)
		return r;
	if ((r = match(buf, n, &pos, "\r\n\r\n")) != GFP_DONE)
		return r;

	memcpy(path, buf + start, pos - 4 - start);
	path[pos - 4 - start] = '\0';
	*hdrlen = pos;
	return GFP_DONE;
}

/* Matches a decimal length: 1 to 20 digits, no leading zero, no overflow. */
static int match_length(const char *buf, size_t n, size_t *pos, size_t *len)
{
	size_t i = *pos, value = 0;

	while (i < n && buf[i] >= '0' && buf[i] <= '9') {
		size_t digit = buf[i] - '0';

		if (i > *pos && value == 0)
			return GFP_BAD;		/* a leading zero */
		if (value > ((size_t)-1 - digit) / 10)
			return GFP_BAD;		/* does not fit in size_t */
		value = value * 10 + digit;
		i++;
	}
	if (i == n)
		return GFP_MORE;
	if (i == *pos)
		return GFP_BAD;			/* no digits */
	*pos = i;
	*len = value;
	return GFP_DONE;
}

/* Matches one of the status words at *pos. */
static int match_status(const char *buf, size_t n, size_t *pos,
			gfstatus_t *status)
{
	int more = 0;

	for (size_t s = 0; s < NSTATUS; s++) {
		size_t p = *pos;
		int r = match(buf, n, &p, status_words[s]);

		if (r == GFP_DONE) {
			*pos = p;
			*status = (gfstatus_t)s;
			return GFP_DONE;
		}
		if (r == GFP_MORE)
			more = 1;
	}
	return more ? GFP_MORE : GFP_BAD;
}

int gfp_parse_response(const char *buf, size_t n, gfstatus_t *status,
		       size_t *len, size_t *hdrlen)
{
	size_t pos = 0, body_len = 0;
	gfstatus_t st;
	int r;

	if ((r = match(buf, n, &pos, "GETFILE ")) != GFP_DONE)
		return r;
	if ((r = match_status(buf, n, &pos, &st)) != GFP_DONE)
		return r;
	if (st == GF_OK) {
		if ((r = match(buf, n, &pos, " ")) != GFP_DONE)
			return r;
		if ((r = match_length(buf, n, &pos, &body_len)) != GFP_DONE)
			return r;
	}
	if ((r = match(buf, n, &pos, "\r\n\r\n")) != GFP_DONE)
		return r;

	*status = st;
	*len = body_len;
	*hdrlen = pos;
	return GFP_DONE;
}

int gfp_format_response(char *buf, size_t size, gfstatus_t status, size_t len)
{
	int n;

	if (status == GF_OK)
		n = snprintf(buf, size, "GETFILE OK %zu\r\n\r\n", len);
	else
		n = snprintf(buf, size, "GETFILE %s\r\n\r\n",
			     gfp_status_str(status));
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}
