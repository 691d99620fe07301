/*
 * test_gfclient.c: gfc_get() (lab/gfclient.c) against a scripted fake
 * server on a loopback port: each status, a short body, a malformed
 * header, a server that pads, a header that trickles in byte by byte, a
 * silent server (timeout), a closed port, and a callback that stops.
 * Exits 0 when all pass.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gfclient.h"

static int failures;

/* What the fake server does with its one connection. */
struct script {
	int listen_fd;
	const char *reply;	/* sent after the request header */
	size_t reply_len;
	int trickle;		/* send the reply one byte at a time */
	int silent;		/* send nothing; wait for the client to leave */
	char request[256];	/* what the client sent */
};

static void read_request(int fd, struct script *s)
{
	size_t n = 0;

	while (n + 1 < sizeof(s->request)) {
		ssize_t got = recv(fd, s->request + n, sizeof(s->request) - 1 - n, 0);

		if (got <= 0)
			break;
		n += got;
		s->request[n] = '\0';
		if (strstr(s->request, "\r\n\r\n"))
			break;
	}
}

static void *fake_server(void *arg)
{
	struct script *s = arg;
	int fd = accept(s->listen_fd, NULL, NULL);
	char junk[64];

	if (fd < 0)
		return NULL;
	read_request(fd, s);
	if (s->silent) {
		while (recv(fd, junk, sizeof(junk), 0) > 0)
			;
	} else if (s->trickle) {
		for (size_t i = 0; i < s->reply_len; i++)
			send(fd, s->reply + i, 1, MSG_NOSIGNAL);
	} else {
		send(fd, s->reply, s->reply_len, MSG_NOSIGNAL);
	}
	close(fd);
	return NULL;
}

static int listen_loopback(unsigned short *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 4) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		perror("fake server");
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

struct sink {
	char data[256];
	size_t n;
	int stop_after_first;
};

static int collect(const void *data, size_t len, void *arg)
{
	struct sink *k = arg;

	if (k->n + len <= sizeof(k->data))
		memcpy(k->data + k->n, data, len);
	k->n += len;
	return k->stop_after_first ? -1 : 0;
}

/* Runs one gfc_get() against a server following s. */
static int fetch(struct script *s, int timeout_ms, struct sink *k,
		 gfc_response_t *resp)
{
	unsigned short port;
	pthread_t t;
	int r;

	s->listen_fd = listen_loopback(&port);
	if (s->listen_fd < 0)
		return -2;
	pthread_create(&t, NULL, fake_server, s);
	r = gfc_get("127.0.0.1", port, "/x", timeout_ms, collect, k, resp);
	pthread_join(t, NULL);
	close(s->listen_fd);
	return r;
}

static void expect(const char *name, const char *reply, size_t reply_len,
		   int trickle, int want_ret, gfc_result_t want,
		   size_t want_bytes, const char *want_body)
{
	struct script s = { .reply = reply, .reply_len = reply_len,
			    .trickle = trickle };
	struct sink k = { .n = 0 };
	gfc_response_t resp;
	int r = fetch(&s, 2000, &k, &resp);

	if (r != want_ret || resp.result != want || resp.received_len != want_bytes ||
	    k.n != want_bytes ||
	    (want_body && memcmp(k.data, want_body, want_bytes) != 0)) {
		printf("FAIL %s: returned %d %s, %zu bytes\n", name, r,
		       gfc_result_str(resp.result), resp.received_len);
		failures++;
	}
	if (strcmp(s.request, "GETFILE GET /x\r\n\r\n") != 0) {
		printf("FAIL %s: the request sent was \"%s\"\n", name, s.request);
		failures++;
	}
}

#define REPLY(s) s, sizeof(s) - 1

static void check_timeout(void)
{
	struct script s = { .silent = 1 };
	struct sink k = { .n = 0 };
	gfc_response_t resp;
	struct timespec t0, t1;
	double secs;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = fetch(&s, 300, &k, &resp);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (r != -1 || resp.result != GFC_TIMEOUT || secs > 2.0) {
		printf("FAIL silent server: %s after %.2f s\n",
		       gfc_result_str(resp.result), secs);
		failures++;
	}
}

static void check_closed_port(void)
{
	unsigned short port;
	int fd = listen_loopback(&port);
	gfc_response_t resp;

	close(fd);		/* nothing listens there any more */
	if (gfc_get("127.0.0.1", port, "/x", 1000, NULL, NULL, &resp) != -1 ||
	    resp.result != GFC_CONNECT_FAILED) {
		printf("FAIL closed port: %s\n", gfc_result_str(resp.result));
		failures++;
	}
}

static void check_callback_stop(void)
{
	struct script s = { .reply = "GETFILE OK 10\r\n\r\n0123456789",
			    .reply_len = 28 };
	struct sink k = { .stop_after_first = 1 };
	gfc_response_t resp;

	if (fetch(&s, 2000, &k, &resp) != -1 || resp.result != GFC_OK) {
		printf("FAIL callback stop: %s\n", gfc_result_str(resp.result));
		failures++;
	}
}

int main(void)
{
	expect("OK", REPLY("GETFILE OK 5\r\n\r\nhello"), 0, 0, GFC_OK, 5, "hello");
	expect("OK empty", REPLY("GETFILE OK 0\r\n\r\n"), 0, 0, GFC_OK, 0, NULL);
	expect("OK trickled", REPLY("GETFILE OK 5\r\n\r\nhello"), 1, 0, GFC_OK, 5,
	       "hello");
	expect("padded body", REPLY("GETFILE OK 3\r\n\r\nabcdef"), 0, 0, GFC_OK, 3,
	       "abc");
	expect("short body", REPLY("GETFILE OK 100\r\n\r\n0123456789"), 0, -1,
	       GFC_SHORT_BODY, 10, "0123456789");
	expect("FILE_NOT_FOUND", REPLY("GETFILE FILE_NOT_FOUND\r\n\r\n"), 0, 0,
	       GFC_FILE_NOT_FOUND, 0, NULL);
	expect("ERROR", REPLY("GETFILE ERROR\r\n\r\n"), 0, 0, GFC_ERROR, 0, NULL);
	expect("INVALID", REPLY("GETFILE INVALID\r\n\r\n"), 1, 0, GFC_INVALID, 0,
	       NULL);
	expect("HTTP reply", REPLY("HTTP/1.0 200 OK\r\n\r\n"), 0, -1,
	       GFC_MALFORMED, 0, NULL);
	expect("lowercase", REPLY("getfile OK 5\r\n\r\nhello"), 0, -1,
	       GFC_MALFORMED, 0, NULL);
	expect("no length", REPLY("GETFILE OK\r\n\r\n"), 0, -1, GFC_MALFORMED, 0,
	       NULL);
	expect("space after the length", REPLY("GETFILE OK 1 \r\n\r\nx"), 0, -1,
	       GFC_MALFORMED, 0, NULL);
	expect("length overflows", REPLY("GETFILE OK 123456789012345678901234\r\n"),
	       0, -1, GFC_MALFORMED, 0, NULL);
	expect("closed at once", "", 0, 0, -1, GFC_MALFORMED, 0, NULL);
	expect("closed mid-header", REPLY("GETFILE OK 5\r\n"), 0, -1,
	       GFC_MALFORMED, 0, NULL);
	check_timeout();
	check_closed_port();
	check_callback_stop();
	if (failures == 0)
		printf("gfclient: all cases pass\n");
	return failures != 0;
}
