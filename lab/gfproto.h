/*
 * gfproto.h: the GETFILE wire format, shared by the server and the client.
 *
 *	request:  "GETFILE GET <path>\r\n\r\n"
 *	response: "GETFILE OK <len>\r\n\r\n" followed by exactly len bytes,
 *	          "GETFILE FILE_NOT_FOUND\r\n\r\n", "GETFILE ERROR\r\n\r\n" or
 *	          "GETFILE INVALID\r\n\r\n"
 *
 * A path starts with '/' and holds only printable ASCII without spaces
 * (bytes 0x21..0x7e). Single spaces separate the words; nothing else is
 * allowed anywhere. <len> is decimal, without sign or leading zeros.
 *
 * The parsers are incremental: given the bytes received so far they say
 * whether the header is complete, still possible (read more), or already
 * impossible. So junk is refused at its first wrong byte, without waiting
 * for a terminator that may never come.
 */
#ifndef GFPROTO_H
#define GFPROTO_H

#include <stddef.h>

#include "gfserver.h"

/* The longest response header: "GETFILE OK " + 20 digits + "\r\n\r\n". */
#define GF_MAX_RESPONSE_HEADER 64

enum {
	GFP_BAD = -1,	/* can never become a valid header */
	GFP_MORE = 0,	/* a valid beginning: read more bytes */
	GFP_DONE = 1,	/* a complete header; *hdrlen bytes long */
};

/* On GFP_DONE copies the path (NUL-terminated) into path, which holds
 * pathsize bytes; a longer path is GFP_BAD. */
int gfp_parse_request(const char *buf, size_t n, char *path, size_t pathsize,
		      size_t *hdrlen);

/* On GFP_DONE sets *status and, for GF_OK, *len. */
int gfp_parse_response(const char *buf, size_t n, gfstatus_t *status,
		       size_t *len, size_t *hdrlen);

/* Writes the response header into buf (with NUL); returns its length,
 * or -1 if it does not fit. */
int gfp_format_response(char *buf, size_t size, gfstatus_t status, size_t len);

/* "OK", "FILE_NOT_FOUND", "ERROR" or "INVALID". */
const char *gfp_status_str(gfstatus_t status);

#endif
