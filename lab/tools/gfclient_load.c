/*
 * gfclient_load: drive a GETFILE server as hard as a few threads can, for
 * `make bench`. Unlike gfclient_measure it does no work per byte: bodies
 * are counted and dropped, never hashed or saved, so the servers are what
 * is measured. Check the bytes themselves in a separate, untimed pass
 * (gfclient_download -V).
 *
 *	gfclient_load [-s server] [-p port] [-c connections] [-t threads]
 *	              [-w workload] [-r requests] [-h]
 *
 * Each of the -c connections is one request in flight: when its response
 * is whole it is closed and the next request starts at once (a closed
 * loop). The connections are spread over -t threads, each waiting in
 * poll() on its share, so 500 connections do not need 500 threads.
 *
 * Workload lines are "<path>" or "<path> <bytes>". With <bytes> the
 * response must be OK and declare exactly that length; without, any
 * whole OK or FILE_NOT_FOUND response counts as correct. Every response
 * must arrive whole: a short body, a malformed header or a connection
 * that fails is a failure ("FAIL <path>: <reason>" on stderr, the first
 * few only).
 *
 * Output: the same "name value" lines as gfclient_measure (requests,
 * failures, bytes, seconds, throughput_MBps, requests_per_s,
 * latency_p50_us, latency_p99_us). Latency runs from connect() to the last
 * byte. Exit status: 0 all correct, 1 some failed, 2 bad usage or input.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "gfbatch.h"
#include "gfproto.h"

#define MAX_CONNECTIONS 4096
#define MAX_THREADS 64
#define SCRATCH_BYTES 65536	/* the most one recv() takes */
#define REQUEST_TIMEOUT_US (30 * 1000000L)
#define FAIL_LINES 10			/* FAIL lines printed at most */

struct item {
	char *path;
	long long bytes;	/* the expected OK length, or -1: any */
	char *request;		/* "GETFILE GET <path>\r\n\r\n" */
	size_t request_len;
};

/* Set up by main before the threads start, read-only afterwards, except
 * next (atomic), and latency[i], written only by the thread that took
 * request i and read by main after the joins. */
struct load {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct item *items;
	size_t nitems;
	size_t nrequests;
	long *latency_us;	/* one per request */
	atomic_size_t next;	/* the next request to start */
	atomic_int fail_lines;
};

enum conn_state { CONN_IDLE, CONN_CONNECTING, CONN_READING };

/* One connection slot of a thread; only that thread touches it. */
struct conn {
	enum conn_state state;
	int fd;
	size_t req;		/* the request in flight */
	long start_us;
	char header[GF_MAX_RESPONSE_HEADER];
	size_t header_len;	/* header bytes held, until it parses */
	int header_done;
	gfstatus_t status;
	size_t declared;	/* the OK header's length */
	size_t received;	/* body bytes so far */
};

/* One thread's share of the connections, and its counts. */
struct worker {
	struct load *load;
	struct conn *conns;
	struct pollfd *polls;
	size_t nconns;
	char *scratch;
	unsigned long long bytes;
	size_t failures;
};

static long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

/* ---- one request ---- */

/* Ends the request in flight on c (why == NULL: it was correct); the
 * slot is idle until the poll loop starts its next request. */
static void finish(struct worker *w, struct conn *c, const char *why)
{
	struct load *l = w->load;

	l->latency_us[c->req] = now_us() - c->start_us;
	close(c->fd);
	c->fd = -1;
	if (why != NULL) {
		w->failures++;
		if (atomic_fetch_add(&l->fail_lines, 1) < FAIL_LINES)
			fprintf(stderr, "FAIL %s: %s\n",
				l->items[c->req % l->nitems].path, why);
	}
	c->state = CONN_IDLE;
}

/* Says what is wrong with a whole response, or NULL. */
static const char *judge(const struct item *it, const struct conn *c)
{
	if (it->bytes < 0)
		return c->status == GF_OK || c->status == GF_FILE_NOT_FOUND ?
		       NULL : "unexpected status";
	if (c->status != GF_OK)
		return "not OK";
	if (c->declared != (unsigned long long)it->bytes)
		return "OK with the wrong length";
	return NULL;
}

static void send_request(struct worker *w, struct conn *c)
{
	const struct item *it = &w->load->items[c->req % w->load->nitems];
	ssize_t n;

	c->state = CONN_READING;
	n = send(c->fd, it->request, it->request_len, MSG_NOSIGNAL);
	/* A fresh socket's buffer holds any request (at most 4 KiB). */
	if (n != (ssize_t)it->request_len)
		finish(w, c, "cannot send the request");
}

/* Starts the next request of the run on c; returns 0 if none is left.
 * A request that fails at once leaves c idle again. */
static int start_next(struct worker *w, struct conn *c)
{
	struct load *l = w->load;
	size_t i = atomic_fetch_add(&l->next, 1);

	if (i >= l->nrequests)
		return 0;
	c->req = i;
	c->header_len = 0;
	c->header_done = 0;
	c->received = 0;
	c->declared = 0;
	c->start_us = now_us();
	c->fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		perror("gfclient_load: socket");
		exit(2);	/* out of descriptors: the run is meaningless */
	}
	if (connect(c->fd, (struct sockaddr *)&l->addr, l->addrlen) == 0)
		send_request(w, c);
	else if (errno != EINPROGRESS)
		finish(w, c, strerror(errno));
	else
		c->state = CONN_CONNECTING;
	return 1;
}

static void on_connected(struct worker *w, struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
		finish(w, c, err ? strerror(err) : "connect failed");
		return;
	}
	send_request(w, c);
}

/* Takes the header out of the first bytes of data; returns how many of
 * the n bytes were header, or -1 after finishing a failed request. */
static ssize_t take_header(struct worker *w, struct conn *c, const char *data,
			   size_t n)
{
	size_t room = sizeof(c->header) - c->header_len;
	size_t take = n < room ? n : room;
	size_t hdrlen, len = 0;
	size_t before = c->header_len;
	int r;

	memcpy(c->header + c->header_len, data, take);
	c->header_len += take;
	r = gfp_parse_response(c->header, c->header_len, &c->status, &len,
			       &hdrlen);
	if (r == GFP_MORE && c->header_len < sizeof(c->header))
		return (ssize_t)take;
	if (r != GFP_DONE) {
		finish(w, c, "malformed header");
		return -1;
	}
	c->header_done = 1;
	c->declared = c->status == GF_OK ? len : 0;
	return (ssize_t)(hdrlen - before);
}

/* Reads what has arrived. Once the header is in, the body is received
 * with MSG_TRUNC: TCP counts the bytes and drops them without copying
 * them to us, so a large body costs the client almost nothing. (The
 * buffer and its size are still real ones, for the sanitizers' sake.) */
static void on_readable(struct worker *w, struct conn *c)
{
	const struct item *it = &w->load->items[c->req % w->load->nitems];
	size_t owed = c->declared - c->received;
	ssize_t n = c->header_done ?
		    recv(c->fd, w->scratch,
			 owed < SCRATCH_BYTES ? owed : SCRATCH_BYTES, MSG_TRUNC) :
		    recv(c->fd, w->scratch, SCRATCH_BYTES, 0);
	size_t body;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		finish(w, c, strerror(errno));
		return;
	}
	if (n == 0) {
		finish(w, c, c->header_done ? "short body" :
		       "closed before a whole header");
		return;
	}
	body = (size_t)n;
	if (!c->header_done) {
		ssize_t h = take_header(w, c, w->scratch, (size_t)n);

		if (h < 0)
			return;
		body -= (size_t)h;
		if (!c->header_done)
			return;
	}
	/* A server must not send more than it declared; extra is ignored. */
	if (body > c->declared - c->received)
		body = c->declared - c->received;
	c->received += body;
	w->bytes += body;
	if (c->received == c->declared)
		finish(w, c, judge(it, c));
}

/* ---- the threads ---- */

/* Starts a request on every idle slot while requests are left, and lists
 * the slots in flight for poll(). Returns how many there are. */
static size_t fill_polls(struct worker *w, struct conn **polled)
{
	size_t n = 0;

	for (size_t i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];

		while (c->state == CONN_IDLE && start_next(w, c))
			;
		if (c->state == CONN_IDLE)
			continue;
		w->polls[n] = (struct pollfd){
			.fd = c->fd,
			.events = c->state == CONN_CONNECTING ? POLLOUT : POLLIN,
		};
		polled[n++] = c;
	}
	return n;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct conn **polled = calloc(w->nconns, sizeof(*polled));
	size_t n;

	if (polled == NULL) {
		perror("gfclient_load");
		exit(2);
	}
	while ((n = fill_polls(w, polled)) > 0) {
		long now;

		if (poll(w->polls, n, 1000) < 0 && errno != EINTR) {
			perror("gfclient_load: poll");
			exit(2);
		}
		now = now_us();
		for (size_t i = 0; i < n; i++) {
			struct conn *c = polled[i];

			if (w->polls[i].revents == 0) {
				if (now - c->start_us > REQUEST_TIMEOUT_US)
					finish(w, c, "timed out");
			} else if (c->state == CONN_CONNECTING) {
				on_connected(w, c);
			} else {
				on_readable(w, c);
			}
		}
	}
	free(polled);
	return NULL;
}

/* ---- setup ---- */

/* Appends the request for path to l->items (cap: its room). Returns 0,
 * or -1 if out of memory; l->items then still holds what was added. */
static int add_item(struct load *l, size_t *cap, const char *path,
		    long long bytes)
{
	struct item *it;

	if (l->nitems == *cap) {
		size_t grown = *cap ? 2 * *cap : 64;
		struct item *more = realloc(l->items, grown * sizeof(*more));

		if (more == NULL)
			return -1;
		l->items = more;
		*cap = grown;
	}
	it = &l->items[l->nitems];
	it->bytes = bytes;
	it->request_len = strlen(path) + strlen("GETFILE GET \r\n\r\n");
	it->path = strdup(path);
	it->request = malloc(it->request_len + 1);
	if (it->path == NULL || it->request == NULL) {
		free(it->path);
		free(it->request);
		return -1;
	}
	snprintf(it->request, it->request_len + 1, "GETFILE GET %s\r\n\r\n", path);
	l->nitems++;
	return 0;
}

static int load_workload(const char *file, struct load *l)
{
	FILE *f = fopen(file, "r");
	char *line = NULL;
	size_t cap = 0, linecap = 0;
	ssize_t len;
	int lineno = 0, bad = 0;

	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", file, strerror(errno));
		return -1;
	}
	while (!bad && (len = getline(&line, &linecap, f)) >= 0) {
		char path[GF_MAX_HEADER], extra;
		long long bytes = -1;
		int fields;

		lineno++;
		if (len == 0 || line[0] == '\n' || line[0] == '#')
			continue;
		fields = sscanf(line, "%4095s %lld %c", path, &bytes, &extra);
		if (fields < 1 || fields > 2 || bytes < -1 || path[0] != '/') {
			fprintf(stderr, "%s:%d: expected \"<path> [<bytes>]\"\n",
				file, lineno);
			bad = 1;
			break;
		}
		if (add_item(l, &cap, path, bytes) < 0) {
			fprintf(stderr, "%s: out of memory\n", file);
			bad = 1;
		}
	}
	/* getline() returns -1 at the end and on an error alike. */
	if (!bad && ferror(f)) {
		fprintf(stderr, "%s: %s\n", file, strerror(errno));
		bad = 1;
	}
	free(line);
	fclose(f);
	if (bad)
		return -1;
	if (l->nitems == 0) {
		fprintf(stderr, "%s: no request paths\n", file);
		return -1;
	}
	return 0;
}

/* The server's IPv4 address, looked up once: the lab server listens on
 * 0.0.0.0, and a lookup per request would be client work. */
static int resolve(const char *server, unsigned short port, struct load *l)
{
	struct addrinfo hints = { .ai_family = AF_INET,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	char service[8];
	int r;

	snprintf(service, sizeof(service), "%u", port);
	r = getaddrinfo(server, service, &hints, &ai);
	if (r != 0) {
		fprintf(stderr, "gfclient_load: %s: %s\n", server, gai_strerror(r));
		return -1;
	}
	memcpy(&l->addr, ai->ai_addr, ai->ai_addrlen);
	l->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: gfclient_load [-s server] [-p port] [-c connections]"
		" [-t threads] [-w workload] [-r requests] [-h]\n"
		"  -s server       server address (localhost)\n"
		"  -p port         server port (25362)\n"
		"  -c connections  requests in flight, 1..%d (8)\n"
		"  -t threads      client threads, 1..%d, at most -c (as -c, up to 8)\n"
		"  -w workload     \"<path> [<bytes>]\" lines (workload.txt)\n"
		"  -r requests     total requests, cycling through the workload"
		" (each line once)\n"
		"  -h              show this help\n", MAX_CONNECTIONS, MAX_THREADS);
}

struct options {
	const char *server;
	const char *workload;
	long port, connections, threads, requests;
};

static int parse_args(int argc, char **argv, struct options *o)
{
	int c;

	*o = (struct options){ "localhost", "workload.txt", 25362, 8, 0, 0 };
	while ((c = getopt(argc, argv, "s:p:c:t:w:r:h")) != -1) {
		int bad = 0;

		switch (c) {
		case 's': o->server = optarg; break;
		case 'w': o->workload = optarg; break;
		case 'p': bad = args_parse_long(optarg, 1, 65535, &o->port); break;
		case 'c':
			bad = args_parse_long(optarg, 1, MAX_CONNECTIONS,
					      &o->connections);
			break;
		case 't':
			bad = args_parse_long(optarg, 1, MAX_THREADS, &o->threads);
			break;
		case 'r':
			bad = args_parse_long(optarg, 1, 100000000, &o->requests);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (bad) {
			fprintf(stderr, "gfclient_load: bad value '%s' for -%c\n",
				optarg, c);
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (o->threads == 0)
		o->threads = o->connections < 8 ? o->connections : 8;
	if (o->threads > o->connections)
		o->threads = o->connections;
	return -1;
}

int main(int argc, char **argv)
{
	struct options o;
	struct load l = { 0 };
	struct worker *workers;
	struct conn *conns;
	struct pollfd *polls;
	pthread_t *tids;
	unsigned long long bytes = 0;
	size_t failures = 0, first = 0;
	long start;
	int status = parse_args(argc, argv, &o);

	if (status >= 0)
		return status;
	if (load_workload(o.workload, &l) < 0 ||
	    resolve(o.server, (unsigned short)o.port, &l) < 0)
		return 2;
	l.nrequests = o.requests > 0 ? (size_t)o.requests : l.nitems;
	l.latency_us = calloc(l.nrequests, sizeof(long));
	workers = calloc(o.threads, sizeof(*workers));
	conns = calloc(o.connections, sizeof(*conns));
	polls = calloc(o.connections, sizeof(*polls));
	tids = calloc(o.threads, sizeof(*tids));
	if (l.latency_us == NULL || workers == NULL || conns == NULL ||
	    polls == NULL || tids == NULL) {
		perror("gfclient_load");
		return 2;
	}
	/* Thread t serves connections [first, first + share). */
	for (long t = 0; t < o.threads; t++) {
		struct worker *w = &workers[t];
		size_t share = o.connections / o.threads +
			       (t < o.connections % o.threads);

		*w = (struct worker){ .load = &l, .conns = conns + first,
				      .polls = polls + first, .nconns = share };
		w->scratch = malloc(SCRATCH_BYTES);
		if (w->scratch == NULL) {
			perror("gfclient_load");
			return 2;
		}
		first += share;
	}
	start = now_us();
	for (long t = 0; t < o.threads; t++) {
		if (pthread_create(&tids[t], NULL, worker_main, &workers[t]) != 0) {
			fprintf(stderr, "gfclient_load: cannot start thread %ld\n", t);
			return 2;
		}
	}
	for (long t = 0; t < o.threads; t++) {
		pthread_join(tids[t], NULL);
		bytes += workers[t].bytes;
		failures += workers[t].failures;
		free(workers[t].scratch);
	}
	gfbatch_print_summary(l.nrequests, failures, bytes,
			      (now_us() - start) / 1e6, l.latency_us);
	for (size_t i = 0; i < l.nitems; i++) {
		free(l.items[i].path);
		free(l.items[i].request);
	}
	free(l.items);
	free(l.latency_us);
	free(workers);
	free(conns);
	free(polls);
	free(tids);
	return failures > 0;
}
