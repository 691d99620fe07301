/*
 * gfclient.h: the client side of the GETFILE protocol.
 *
 * One call fetches one path over one connection. The body is handed to a
 * callback chunk by chunk, so a caller can write it to a file or hash it
 * without holding it all in memory.
 *
 * Guarantees:
 *  - The status is parsed strictly; anything else is GFC_MALFORMED, and
 *    so is a connection closed before a whole header arrived.
 *  - A body shorter than the declared length (the server closed early) is
 *    reported as GFC_SHORT_BODY, with the bytes that did arrive already
 *    passed to the callback.
 *  - Every read is bounded by the timeout given, so a dead server cannot
 *    hang the client.
 */
#ifndef GFCLIENT_H
#define GFCLIENT_H

#include <stddef.h>

typedef enum {
	GFC_OK,
	GFC_FILE_NOT_FOUND,
	GFC_ERROR,
	GFC_INVALID,
	GFC_SHORT_BODY,	/* OK header, then fewer bytes than declared */
	GFC_MALFORMED,	/* the server's header did not parse */
	GFC_CONNECT_FAILED,
	GFC_TIMEOUT,
} gfc_result_t;

/* Receives each body chunk in order. Return 0 to go on, -1 to stop. */
typedef int (*gfc_body_cb)(const void *data, size_t len, void *arg);

typedef struct {
	gfc_result_t result;
	size_t declared_len;	/* from the OK header, else 0 */
	size_t received_len;	/* body bytes passed to the callback */
} gfc_response_t;

/* Fetches path from server:port. timeout_ms bounds the connect and each
 * read. Returns 0 when a response (of any status) was read whole, -1
 * otherwise; resp says which. If cb returns -1, gfc_get() stops and
 * returns -1 with resp->result GFC_OK and received_len < declared_len.
 * path is sent as given; a malformed one gets GFC_INVALID back. */
int gfc_get(const char *server, unsigned short port, const char *path,
	    int timeout_ms, gfc_body_cb cb, void *arg, gfc_response_t *resp);

/* "OK", "FILE_NOT_FOUND", ..., for messages. */
const char *gfc_result_str(gfc_result_t r);

#endif
