/*
 * gfclient.c: fetch one path from a GETFILE server (see gfclient.h).
 *
 * Every wait (connect, each read) is a poll() bounded by the caller's
 * timeout, and so is the send of the request, so a dead or stalled
 * server makes gfc_get() return GFC_TIMEOUT instead of hanging.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gfclient.h"
#include "gfnet.h"
#include "gfproto.h"

#define CHUNK 65536

const char *gfc_result_str(gfc_result_t r)
{
	static const char *const names[] = {
		[GFC_OK] = "OK",
		[GFC_FILE_NOT_FOUND] = "FILE_NOT_FOUND",
		[GFC_ERROR] = "ERROR",
		[GFC_INVALID] = "INVALID",
		[GFC_SHORT_BODY] = "SHORT_BODY",
		[GFC_MALFORMED] = "MALFORMED",
		[GFC_CONNECT_FAILED] = "CONNECT_FAILED",
		[GFC_TIMEOUT] = "TIMEOUT",
	};

	if ((size_t)r >= sizeof(names) / sizeof(names[0]))
		return "UNKNOWN";
	return names[r];
}

/* Connects one address, giving up at deadline. The socket stays
 * non-blocking for good: every later call on it polls first (read_some())
 * or passes MSG_DONTWAIT (gfnet_send_within()), so none can outlast its
 * deadline. Returns the socket, -1 on failure, or -2 on timeout. */
static int connect_one(const struct addrinfo *ai, long deadline)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK,
			ai->ai_protocol);
	int err = 0;
	socklen_t errlen = sizeof(err);
	int ready;

	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	ready = gfnet_wait(fd, POLLOUT, deadline);
	if (ready <= 0) {
		close(fd);
		return ready == 0 ? -2 : -1;
	}
	/* Writable means the attempt ended; SO_ERROR says how. */
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0 || err != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Tries each address of server in turn (localhost may be ::1 first). */
static int connect_to(const char *server, unsigned short port, long deadline,
		      gfc_result_t *why)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *list, *ai;
	char service[8];
	int fd = -1;

	*why = GFC_CONNECT_FAILED;
	snprintf(service, sizeof(service), "%u", port);
	if (getaddrinfo(server, service, &hints, &list) != 0)
		return -1;
	for (ai = list; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = connect_one(ai, deadline);
		if (fd == -2) {
			*why = GFC_TIMEOUT;
			break;
		}
	}
	freeaddrinfo(list);
	return fd < 0 ? -1 : fd;
}

static int send_request(int fd, const char *path, int timeout_ms)
{
	size_t size = strlen(path) + sizeof("GETFILE GET \r\n\r\n");
	char *req = malloc(size);
	int r = -1;

	if (req == NULL)
		return -1;
	snprintf(req, size, "GETFILE GET %s\r\n\r\n", path);
	r = gfnet_send_within(fd, req, strlen(req), timeout_ms);
	free(req);
	return r;
}

/* Reads what is there, waiting at most timeout_ms. Returns the byte count,
 * 0 at end of stream, -1 on error, -2 on timeout. */
static ssize_t read_some(int fd, char *buf, size_t size, int timeout_ms)
{
	/* One deadline for every wait: a wake-up without data must not start
	 * the bound over. */
	long deadline = gfnet_now_ms() + timeout_ms;

	for (;;) {
		int ready = gfnet_wait(fd, POLLIN, deadline);
		ssize_t n;

		if (ready <= 0)
			return ready == 0 ? -2 : -1;
		n = recv(fd, buf, size, 0);
		/* EAGAIN: poll() woke without data after all; wait again. */
		if (n >= 0 || (errno != EINTR && errno != EAGAIN))
			return n;
	}
}

static gfc_result_t result_of(gfstatus_t status)
{
	switch (status) {
	case GF_OK:
		return GFC_OK;
	case GF_FILE_NOT_FOUND:
		return GFC_FILE_NOT_FOUND;
	case GF_ERROR:
		return GFC_ERROR;
	case GF_INVALID:
		return GFC_INVALID;
	}
	return GFC_MALFORMED;
}

/* Passes at most the bytes still owed to the callback. Returns 0 to go
 * on, -1 if the callback asked to stop. */
static int deliver(const char *data, size_t n, gfc_body_cb cb, void *arg,
		   gfc_response_t *resp)
{
	size_t owed = resp->declared_len - resp->received_len;

	if (n > owed)
		n = owed;	/* a server must not pad; ignore any extra */
	if (n == 0)
		return 0;
	resp->received_len += n;
	return cb ? cb(data, n, arg) : 0;
}

/* Reads the header, then the body; fills resp. Returns 0 if whole. */
static int read_response(int fd, int timeout_ms, gfc_body_cb cb, void *arg,
			 gfc_response_t *resp, char *buf)
{
	size_t n = 0, hdrlen = 0, len = 0;
	gfstatus_t status;
	ssize_t got;
	int r;

	/* The header: read until it parses, fails to parse, or cannot fit. */
	while ((r = gfp_parse_response(buf, n, &status, &len, &hdrlen)) == GFP_MORE) {
		if (n >= GF_MAX_RESPONSE_HEADER)
			break;
		got = read_some(fd, buf + n, CHUNK - n, timeout_ms);
		if (got <= 0) {
			/* A close before a full header is not a GETFILE
			 * response either. */
			resp->result = got == -2 ? GFC_TIMEOUT : GFC_MALFORMED;
			return -1;
		}
		n += got;
	}
	if (r != GFP_DONE) {
		resp->result = GFC_MALFORMED;
		return -1;
	}
	resp->result = result_of(status);
	if (status != GF_OK)
		return 0;

	/* The body: the bytes after the header, then more until len. */
	resp->declared_len = len;
	if (deliver(buf + hdrlen, n - hdrlen, cb, arg, resp) < 0)
		return -1;
	while (resp->received_len < len) {
		got = read_some(fd, buf, CHUNK, timeout_ms);
		if (got <= 0) {
			resp->result = got == -2 ? GFC_TIMEOUT : GFC_SHORT_BODY;
			return -1;
		}
		if (deliver(buf, got, cb, arg, resp) < 0)
			return -1;
	}
	return 0;
}

int gfc_get(const char *server, unsigned short port, const char *path,
	    int timeout_ms, gfc_body_cb cb, void *arg, gfc_response_t *resp)
{
	gfc_result_t why;
	char *buf;
	int fd, r;

	memset(resp, 0, sizeof(*resp));
	fd = connect_to(server, port, gfnet_now_ms() + timeout_ms, &why);
	if (fd < 0) {
		resp->result = why;
		return -1;
	}
	buf = malloc(CHUNK);
	if (buf == NULL) {
		close(fd);
		resp->result = GFC_CONNECT_FAILED;
		return -1;
	}
	/* A failed send is not final: the server may already have answered
	 * (e.g. INVALID to an over-long header) before closing. */
	send_request(fd, path, timeout_ms);
	r = read_response(fd, timeout_ms, cb, arg, resp, buf);
	free(buf);
	close(fd);
	return r;
}
