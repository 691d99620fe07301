/*
 * gfserver.c: the GETFILE server's public side (see gfserver.h): what a
 * handler calls, the worker threads that answer complete requests
 * (phase 2 in gfserver_impl.h, which states who owns what), and setup.
 * The thread that calls gfserver_serve() becomes the event thread of
 * gfheaders.c. gfserver_stop() writes a byte into a pipe, which wakes the
 * event thread, and shuts down every connection being answered, which
 * wakes any worker blocked on it. Nothing spins: every wait is in poll(),
 * recv() or bqueue_pop().
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bqueue.h"
#include "gfnet.h"
#include "gfproto.h"
#include "gfserver_impl.h"

/* Connections the kernel completes before accept() takes them. Beyond it
 * a client's SYN is dropped and retried a whole second later, so it must
 * exceed the most clients that arrive at once (the bench opens 500). */
#define LISTEN_BACKLOG 1024
#define SEND_TIMEOUT_MS 10000	/* for each send: a client that does not
				   read is dropped */
#define LINGER_MS 500		/* how long to wait for the client's close */
#define FD_RESERVE 64		/* descriptors kept for the handler's use */
#define MIN_CONNS 16		/* below this the server cannot be useful */

/* ---- the handler's side ---- */

/*
 * A header with a body to follow is held back (MSG_MORE) until the body's
 * first send, so a small file goes out as one TCP segment, not two: one
 * packet and one client wake-up fewer per response. gfs_send(), gfs_abort()
 * and the close all push it out, so it never waits for long.
 */
static int send_header(int fd, const char *hdr, size_t n, bool body_follows)
{
	if (body_follows)
		return gfnet_send_more_within(fd, hdr, n, SEND_TIMEOUT_MS);
	return gfnet_send_within(fd, hdr, n, SEND_TIMEOUT_MS);
}

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
	if (send_header(ctx->fd, hdr, (size_t)n, len > 0) < 0) {
		ctx->broken = ctx->send_failed = 1;
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
	if (gfnet_send_within(ctx->fd, data, len, SEND_TIMEOUT_MS) < 0) {
		ctx->broken = ctx->send_failed = 1;
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

/* ---- connection lists ---- */

void conn_list_append(struct conn_list *l, struct gfcontext *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	l->count++;
}

void conn_list_remove(struct conn_list *l, struct gfcontext *c)
{
	assert(l->count > 0 && (c->prev != NULL || l->head == c));
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
	l->count--;
}

/* ---- phase 2: a worker answers one connection ---- */

/* Closes our side gently: after FIN, wait briefly for the client's own
 * close, reading what it still sends. Closing with unread input would
 * send a reset, which can destroy a response the client has not read. */
static void linger_close(int fd)
{
	char junk[4096];
	long deadline = gfnet_now_ms() + LINGER_MS;
	size_t total = 0;

	shutdown(fd, SHUT_WR);
	while (total < LINGER_MAX_BYTES && gfnet_wait(fd, POLLIN, deadline) > 0) {
		ssize_t got = recv(fd, junk, sizeof(junk), 0);

		if (got <= 0)
			break;
		total += got;
	}
}

static void serve_connection(gfserver_t *srv, gfcontext_t *ctx)
{
	srv->handler(ctx, ctx->path, srv->arg);
	if (!ctx->header_sent)
		gfs_sendheader(ctx, GF_ERROR, 0);
	if (!ctx->broken)
		linger_close(ctx->fd);
}

/* Takes a connection off srv->open and closes it. After a failed send
 * the close is a reset: a plain close would leave the kernel holding the
 * unsent bytes (megabytes) for a client that does not read, for minutes. */
void gfserver_forget(gfserver_t *srv, gfcontext_t *ctx)
{
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };

	pthread_mutex_lock(&srv->lock);
	conn_list_remove(&srv->open, ctx);
	pthread_mutex_unlock(&srv->lock);
	if (ctx->send_failed &&
	    setsockopt(ctx->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset)) < 0)
		perror("gfserver: SO_LINGER");
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

	while ((ctx = bqueue_pop(srv->ready)) != NULL) {
		if (!is_stopping(srv))
			serve_connection(srv, ctx);
		gfserver_forget(srv, ctx);
	}
	return NULL;
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
		gfheaders_run(srv);

	/* Connections not handed to a worker never reach one now. */
	gfheaders_drop_all(srv);
	/* Workers drain the queue (closing what is left, since stopping is
	 * set or nothing more will come) and then see NULL. */
	gfserver_stop(srv);
	bqueue_close(srv->ready);
	for (int i = 0; i < started; i++)
		pthread_join(srv->workers[i], NULL);
}

void gfserver_stop(gfserver_t *srv)
{
	pthread_mutex_lock(&srv->lock);
	srv->stopping = 1;
	for (gfcontext_t *c = srv->open.head; c != NULL; c = c->next)
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
	 * accept() cannot block the event thread. */
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		fprintf(stderr, "gfserver: port %u: %s\n", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The bound on connections held: GF_MAX_CONNECTIONS, or fewer if the
 * descriptor limit (raised to its hard limit first) would not hold them
 * with FD_RESERVE and one per worker left for the handlers. */
static int connection_bound(int nworkers)
{
	struct rlimit rl;
	long fit;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return MIN_CONNS;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit raised = { rl.rlim_max, rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
			rl = raised;
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		return GF_MAX_CONNECTIONS;
	fit = (long)rl.rlim_cur - FD_RESERVE - nworkers;
	if (fit > GF_MAX_CONNECTIONS)
		return GF_MAX_CONNECTIONS;
	return fit < MIN_CONNS ? MIN_CONNS : (int)fit;
}

gfserver_t *gfserver_create(unsigned short port, int nworkers,
			    gfhandler_t handler, void *arg)
{
	gfserver_t *srv;
	int err;

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
	srv->max_conns = connection_bound(nworkers);
	err = pthread_mutex_init(&srv->lock, NULL);
	if (err != 0) {
		fprintf(stderr, "gfserver: mutex: %s\n", strerror(err));
		free(srv);
		return NULL;
	}
	srv->workers = calloc(nworkers, sizeof(*srv->workers));
	srv->pfds = calloc(srv->max_conns + 2, sizeof(*srv->pfds));
	srv->pfd_conn = calloc(srv->max_conns + 2, sizeof(*srv->pfd_conn));
	srv->ready = bqueue_create();
	if (srv->workers == NULL || srv->pfds == NULL || srv->pfd_conn == NULL ||
	    srv->ready == NULL || pipe(srv->wake) < 0) {
		perror("gfserver");
		gfserver_destroy(srv);
		return NULL;
	}
	/* Non-blocking: stop() must never block on a full pipe. */
	if (fcntl(srv->wake[1], F_SETFL, O_NONBLOCK) < 0) {
		perror("gfserver: fcntl");
		gfserver_destroy(srv);
		return NULL;
	}
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
	if (srv->ready != NULL)
		bqueue_destroy(srv->ready);
	pthread_mutex_destroy(&srv->lock);
	free(srv->pfd_conn);
	free(srv->pfds);
	free(srv->workers);
	free(srv);
}
