/*
 * gfserver.c: a GETFILE server with a fixed pool of worker threads.
 *
 * The thread that calls gfserver_serve() is the acceptor: it waits in
 * poll() on the listening socket and on a self-pipe, accepts, and pushes
 * each connection onto a bqueue that the workers pop. gfserver_stop()
 * writes a byte into the pipe, which wakes the acceptor, and shuts down
 * every connection still open, which wakes any worker blocked on it.
 * Nothing spins: every wait is in poll(), recv(), send() or bqueue_pop().
 *
 * Locking: srv->lock guards srv->stopping and the list of open
 * connections (srv->open). A connection's fd stays valid while it is on
 * the list; only its worker removes it, and closes it after that, so
 * gfserver_stop() never shuts down a number that was reused.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bqueue.h"
#include "gfnet.h"
#include "gfproto.h"
#include "gfserver.h"

#define LISTEN_BACKLOG 128
#define SEND_TIMEOUT_S 10	/* a client that stops reading is dropped */
#define LINGER_MS 500		/* how long to wait for the client's close */

/* Only the connection's worker touches a context, except that
 * gfserver_stop() reads fd (under srv->lock) to shut the socket down. */
struct gfcontext {
	int fd;
	int header_sent;
	gfstatus_t status;
	size_t declared;	/* body length promised by an OK header */
	size_t sent;		/* body bytes sent so far */
	int broken;		/* the client is gone or the response aborted */
	struct gfcontext *prev, *next;	/* srv->open, under srv->lock */
};

struct gfserver {
	int listen_fd;
	int wake[2];		/* self-pipe: gfserver_stop() -> acceptor */
	int nworkers;
	pthread_t *workers;
	gfhandler_t handler;
	void *arg;
	bqueue_t *conns;	/* accepted, waiting for a worker */

	pthread_mutex_t lock;
	int stopping;
	struct gfcontext *open;	/* every connection not yet closed */
};

/* ---- the handler's side ---- */

int gfs_sendheader(gfcontext_t *ctx, gfstatus_t status, size_t len)
{
	char hdr[GF_MAX_RESPONSE_HEADER];
	int n;

	if (ctx->header_sent || ctx->broken || status > GF_INVALID)
		return -1;
	if (status != GF_OK)
		len = 0;
	n = gfp_format_response(hdr, sizeof(hdr), status, len);
	if (n < 0)
		return -1;
	ctx->header_sent = 1;
	ctx->status = status;
	ctx->declared = len;
	if (gfnet_send_all(ctx->fd, hdr, n) < 0) {
		ctx->broken = 1;
		return -1;
	}
	return 0;
}

ssize_t gfs_send(gfcontext_t *ctx, const void *data, size_t len)
{
	if (!ctx->header_sent || ctx->status != GF_OK || ctx->broken)
		return -1;
	if (len > ctx->declared - ctx->sent)
		return -1;	/* would pad past the declared length */
	if (gfnet_send_all(ctx->fd, data, len) < 0) {
		ctx->broken = 1;
		return -1;
	}
	ctx->sent += len;
	return (ssize_t)len;
}

void gfs_abort(gfcontext_t *ctx)
{
	ctx->broken = 1;
	shutdown(ctx->fd, SHUT_RDWR);
}

/* ---- one connection, on a worker ---- */

enum { REQ_OK, REQ_INVALID, REQ_DROP };

/* Reads the request header into path (GF_MAX_HEADER bytes). The whole
 * header must arrive within GF_CLIENT_TIMEOUT_S of the worker starting.
 * A client that ends its stream inside a header (shutdown(SHUT_WR)) can
 * still read, so it is told INVALID; one that sent nothing at all (a port
 * probe) or reset the connection is simply dropped. */
static int read_request(int fd, char *path)
{
	char buf[GF_MAX_HEADER];
	size_t n = 0, hdrlen;
	long deadline = gfnet_now_ms() + GF_CLIENT_TIMEOUT_S * 1000L;

	for (;;) {
		int r = gfp_parse_request(buf, n, path, GF_MAX_HEADER, &hdrlen);
		ssize_t got;

		if (r == GFP_DONE)
			return REQ_OK;
		if (r == GFP_BAD || n == sizeof(buf))
			return REQ_INVALID;
		if (gfnet_wait(fd, POLLIN, deadline) <= 0)
			return REQ_DROP;	/* stalled */
		got = recv(fd, buf + n, sizeof(buf) - n, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got == 0 && n > 0)
			return REQ_INVALID;	/* the header was cut short */
		if (got <= 0)
			return REQ_DROP;	/* hung up */
		n += got;
	}
}

/* Closes our side gently: after FIN, wait briefly for the client's own
 * close, reading what it still sends. Closing with unread input would
 * send a reset, which can destroy a response the client has not read. */
static void linger_close(int fd)
{
	char junk[4096];
	long deadline = gfnet_now_ms() + LINGER_MS;
	size_t total = 0;

	shutdown(fd, SHUT_WR);
	while (total < 16 * sizeof(junk) && gfnet_wait(fd, POLLIN, deadline) > 0) {
		ssize_t got = recv(fd, junk, sizeof(junk), 0);

		if (got <= 0)
			break;
		total += got;
	}
}

static void serve_connection(gfserver_t *srv, gfcontext_t *ctx)
{
	struct timeval tv = { .tv_sec = SEND_TIMEOUT_S };
	char path[GF_MAX_HEADER];

	setsockopt(ctx->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	switch (read_request(ctx->fd, path)) {
	case REQ_OK:
		srv->handler(ctx, path, srv->arg);
		if (!ctx->header_sent)
			gfs_sendheader(ctx, GF_ERROR, 0);
		break;
	case REQ_INVALID:
		gfs_sendheader(ctx, GF_INVALID, 0);
		break;
	case REQ_DROP:
		return;
	}
	if (!ctx->broken)
		linger_close(ctx->fd);
}

/* Puts ctx on the open list, unless the server is stopping. */
static int track_connection(gfserver_t *srv, gfcontext_t *ctx)
{
	int ok;

	pthread_mutex_lock(&srv->lock);
	ok = !srv->stopping;
	if (ok) {
		ctx->next = srv->open;
		if (srv->open)
			srv->open->prev = ctx;
		srv->open = ctx;
	}
	pthread_mutex_unlock(&srv->lock);
	return ok ? 0 : -1;
}

static void forget_connection(gfserver_t *srv, gfcontext_t *ctx)
{
	pthread_mutex_lock(&srv->lock);
	if (ctx->prev)
		ctx->prev->next = ctx->next;
	else
		srv->open = ctx->next;
	if (ctx->next)
		ctx->next->prev = ctx->prev;
	pthread_mutex_unlock(&srv->lock);
	close(ctx->fd);
	free(ctx);
}

static int is_stopping(gfserver_t *srv)
{
	int stopping;

	pthread_mutex_lock(&srv->lock);
	stopping = srv->stopping;
	pthread_mutex_unlock(&srv->lock);
	return stopping;
}

static void *worker_main(void *arg)
{
	gfserver_t *srv = arg;
	gfcontext_t *ctx;

	while ((ctx = bqueue_pop(srv->conns)) != NULL) {
		if (!is_stopping(srv))
			serve_connection(srv, ctx);
		forget_connection(srv, ctx);
	}
	return NULL;
}

/* ---- the acceptor ---- */

/* Accepts one connection and queues it for a worker. */
static void accept_one(gfserver_t *srv)
{
	gfcontext_t *ctx;
	int fd = accept(srv->listen_fd, NULL, NULL);

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* Out of resources: back off instead of spinning on a
			 * listening socket that stays readable. */
			perror("gfserver: accept");
			poll(&(struct pollfd){ .fd = srv->wake[0], .events = POLLIN },
			     1, 100);
		}
		return;		/* EAGAIN, EINTR, ECONNABORTED: try again */
	}
	/* Workers use blocking calls; some systems pass O_NONBLOCK on from
	 * the listening socket. */
	fcntl(fd, F_SETFL, 0);
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		close(fd);
		return;
	}
	ctx->fd = fd;
	if (track_connection(srv, ctx) < 0) {
		close(fd);
		free(ctx);
		return;
	}
	if (bqueue_push(srv->conns, ctx) < 0)
		forget_connection(srv, ctx);
}

static void accept_until_stopped(gfserver_t *srv)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = srv->listen_fd, .events = POLLIN },
			{ .fd = srv->wake[0], .events = POLLIN },
		};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("gfserver: poll");
			return;
		}
		if (p[1].revents != 0)
			return;		/* gfserver_stop() */
		if (p[0].revents != 0)
			accept_one(srv);
	}
}

void gfserver_serve(gfserver_t *srv)
{
	int started;

	for (started = 0; started < srv->nworkers; started++) {
		int err = pthread_create(&srv->workers[started], NULL,
					 worker_main, srv);
		if (err != 0) {
			fprintf(stderr, "gfserver: starting worker: %s\n",
				strerror(err));
			break;
		}
	}
	if (started == srv->nworkers)
		accept_until_stopped(srv);

	/* Workers drain the queue (closing what is left, since stopping is
	 * set or nothing more will come) and then see NULL. */
	gfserver_stop(srv);
	bqueue_close(srv->conns);
	for (int i = 0; i < started; i++)
		pthread_join(srv->workers[i], NULL);
}

void gfserver_stop(gfserver_t *srv)
{
	pthread_mutex_lock(&srv->lock);
	srv->stopping = 1;
	for (gfcontext_t *c = srv->open; c != NULL; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_unlock(&srv->lock);

	/* The pipe is non-blocking: if it is full, a wake-up is pending. */
	if (write(srv->wake[1], "x", 1) < 0 && errno != EAGAIN)
		perror("gfserver: wake");
}

/* ---- setup and teardown ---- */

static int open_listener(unsigned short port)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0) {
		perror("gfserver: socket");
		return -1;
	}
	/* Non-blocking, so a connection that vanishes between poll() and
	 * accept() cannot block the acceptor. */
	fcntl(fd, F_SETFL, O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		fprintf(stderr, "gfserver: port %u: %s\n", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

gfserver_t *gfserver_create(unsigned short port, int nworkers,
			    gfhandler_t handler, void *arg)
{
	gfserver_t *srv;

	if (nworkers < 1 || handler == NULL) {
		fprintf(stderr, "gfserver: need a handler and >= 1 worker\n");
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		perror("gfserver");
		return NULL;
	}
	srv->listen_fd = srv->wake[0] = srv->wake[1] = -1;
	srv->nworkers = nworkers;
	srv->handler = handler;
	srv->arg = arg;
	pthread_mutex_init(&srv->lock, NULL);
	srv->workers = calloc(nworkers, sizeof(*srv->workers));
	srv->conns = bqueue_create();
	if (srv->workers == NULL || srv->conns == NULL ||
	    pipe(srv->wake) < 0) {
		perror("gfserver");
		gfserver_destroy(srv);
		return NULL;
	}
	/* Non-blocking: stop() must never block on a full pipe. */
	fcntl(srv->wake[1], F_SETFL, O_NONBLOCK);
	srv->listen_fd = open_listener(port);
	if (srv->listen_fd < 0) {
		gfserver_destroy(srv);
		return NULL;
	}
	return srv;
}

void gfserver_destroy(gfserver_t *srv)
{
	if (srv == NULL)
		return;
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->wake[0] >= 0)
		close(srv->wake[0]);
	if (srv->wake[1] >= 0)
		close(srv->wake[1]);
	if (srv->conns != NULL)
		bqueue_destroy(srv->conns);
	pthread_mutex_destroy(&srv->lock);
	free(srv->workers);
	free(srv);
}
