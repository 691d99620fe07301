/*
 * gfserver.c: a GETFILE server with one event thread and a fixed pool of
 * worker threads.
 *
 * A connection lives in two phases:
 *  1. Waiting for its header. The thread that calls gfserver_serve() (the
 *     event thread) accepts it and then reads whatever bytes arrive, for
 *     every waiting connection at once, in one poll(). A client that is
 *     idle or trickles bytes costs a descriptor and a buffer, never a
 *     thread. Its deadline runs from accept.
 *  2. Being answered. Once the header is complete (or certainly invalid),
 *     the connection is pushed onto a bqueue that the workers pop; a
 *     worker calls the handler, which may block on the client.
 *
 * Bound: at most srv->max_conns connections are held, in both phases
 * together. When a new connection arrives at the bound, the oldest one
 * still waiting for its header is dropped to make room (it is the closest
 * to its deadline anyway, and a valid client sends its header at once);
 * if none is waiting, the new connection is refused. Both are counted and
 * logged at most once a second.
 *
 * Ownership and locking:
 *  - srv->waiting, srv->nwaiting and every field a connection uses in
 *    phase 1 belong to the event thread alone: no lock.
 *  - srv->lock guards srv->stopping, srv->open (the connections handed to
 *    the workers and not yet closed) and srv->nopen. A connection's fd
 *    stays valid while it is on srv->open; only its worker removes it, and
 *    closes it after that, so gfserver_stop() never shuts down a number
 *    that was reused.
 *  - In phase 2 a connection belongs to its worker, except that
 *    gfserver_stop() reads fd (under srv->lock) to shut the socket down.
 * Nothing spins: every wait is in poll(), recv(), send() or bqueue_pop().
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
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
#include "gfserver.h"

#define LISTEN_BACKLOG 128
#define SEND_TIMEOUT_MS 10000	/* for each send: a client that does not
				   read is dropped */
#define LINGER_MS 500		/* how long to wait for the client's close */
#define ACCEPT_BATCH 64		/* accepts per poll round, so reads go on */
#define FD_RESERVE 64		/* descriptors kept for the handler's use */
#define MIN_CONNS 16		/* below this the server cannot be useful */

enum verdict { REQ_OK, REQ_INVALID };

struct gfcontext {
	int fd;
	struct gfcontext *prev, *next;	/* srv->waiting or srv->open */

	/* Phase 1, the event thread's. */
	long deadline_ms;	/* accept time + GF_CLIENT_TIMEOUT_S */
	size_t got;		/* header bytes in buf */
	char buf[GF_MAX_HEADER];

	/* Set by the event thread before the hand-over, read-only after. */
	enum verdict verdict;
	char path[GF_MAX_HEADER];

	/* Phase 2, the worker's. */
	int header_sent;
	gfstatus_t status;
	size_t declared;	/* body length promised by an OK header */
	size_t sent;		/* body bytes sent so far */
	int broken;		/* the client is gone or the response aborted */
	int send_failed;	/* the client is gone or stopped reading */
};

/* A doubly linked list in arrival order: the oldest is at head. */
struct conn_list {
	struct gfcontext *head, *tail;
	int count;
};

struct gfserver {
	int listen_fd;
	int wake[2];		/* self-pipe: gfserver_stop() -> event thread */
	int nworkers;
	pthread_t *workers;
	gfhandler_t handler;
	void *arg;
	bqueue_t *ready;	/* complete headers, waiting for a worker */
	int max_conns;		/* bound on waiting + open */

	/* The event thread's alone. */
	struct conn_list waiting;	/* accepted, header not complete yet */
	struct pollfd *pfds;		/* max_conns + 2 entries */
	struct gfcontext **pfd_conn;	/* which connection each pfd is */
	long dropped, refused;		/* at the bound, since last logged */
	long last_log_ms;

	pthread_mutex_t lock;
	int stopping;
	struct conn_list open;	/* handed to the workers, not yet closed */
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
	if (gfnet_send_within(ctx->fd, hdr, n, SEND_TIMEOUT_MS) < 0) {
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

static void list_append(struct conn_list *l, struct gfcontext *c)
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

static void list_remove(struct conn_list *l, struct gfcontext *c)
{
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
	while (total < 16 * sizeof(junk) && gfnet_wait(fd, POLLIN, deadline) > 0) {
		ssize_t got = recv(fd, junk, sizeof(junk), 0);

		if (got <= 0)
			break;
		total += got;
	}
}

static void serve_connection(gfserver_t *srv, gfcontext_t *ctx)
{
	if (ctx->verdict == REQ_OK) {
		srv->handler(ctx, ctx->path, srv->arg);
		if (!ctx->header_sent)
			gfs_sendheader(ctx, GF_ERROR, 0);
	} else {
		gfs_sendheader(ctx, GF_INVALID, 0);
	}
	if (!ctx->broken)
		linger_close(ctx->fd);
}

/* Takes a connection off srv->open and closes it. After a failed send
 * the close is a reset: a plain close would leave the kernel holding the
 * unsent bytes (megabytes) for a client that does not read, for minutes. */
static void forget_connection(gfserver_t *srv, gfcontext_t *ctx)
{
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };

	pthread_mutex_lock(&srv->lock);
	list_remove(&srv->open, ctx);
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
		forget_connection(srv, ctx);
	}
	return NULL;
}

/* ---- phase 1: the event thread reads headers ---- */

/* Closes a connection that never reached a worker. */
static void drop_waiting(gfserver_t *srv, gfcontext_t *ctx)
{
	list_remove(&srv->waiting, ctx);
	close(ctx->fd);
	free(ctx);
}

/* Moves a connection with a verdict to srv->open and the workers' queue. */
static void hand_over(gfserver_t *srv, gfcontext_t *ctx, enum verdict v)
{
	int stopping;

	ctx->verdict = v;
	list_remove(&srv->waiting, ctx);
	pthread_mutex_lock(&srv->lock);
	stopping = srv->stopping;
	if (!stopping)
		list_append(&srv->open, ctx);
	pthread_mutex_unlock(&srv->lock);
	if (stopping) {
		close(ctx->fd);
		free(ctx);
		return;
	}
	/* Fails only once serve() closed the queue, after this thread left
	 * its loop: not reachable while this thread is here. */
	if (bqueue_push(srv->ready, ctx) < 0)
		forget_connection(srv, ctx);
}

enum progress { HDR_MORE, HDR_DONE, HDR_INVALID, HDR_GONE };

/* Parses the bytes received so far. */
static enum progress parse_so_far(gfcontext_t *ctx)
{
	size_t hdrlen;
	int r = gfp_parse_request(ctx->buf, ctx->got, ctx->path,
				  sizeof(ctx->path), &hdrlen);

	if (r == GFP_DONE)
		return HDR_DONE;
	if (r == GFP_BAD || ctx->got == sizeof(ctx->buf))
		return HDR_INVALID;
	return HDR_MORE;
}

/* Reads what a waiting connection has sent, without blocking. A client
 * that ends its stream inside a header (shutdown(SHUT_WR)) can still
 * read, so it is told INVALID; one that sent nothing at all (a port
 * probe) or reset the connection is simply dropped. */
static enum progress read_header_bytes(gfcontext_t *ctx)
{
	ssize_t got = recv(ctx->fd, ctx->buf + ctx->got,
			   sizeof(ctx->buf) - ctx->got, MSG_DONTWAIT);

	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ||
		       errno == EINTR ? HDR_MORE : HDR_GONE;
	if (got == 0)
		return ctx->got > 0 ? HDR_INVALID : HDR_GONE;
	ctx->got += got;
	return parse_so_far(ctx);
}

static void on_readable(gfserver_t *srv, gfcontext_t *ctx)
{
	switch (read_header_bytes(ctx)) {
	case HDR_MORE:
		break;
	case HDR_DONE:
		hand_over(srv, ctx, REQ_OK);
		break;
	case HDR_INVALID:
		hand_over(srv, ctx, REQ_INVALID);
		break;
	case HDR_GONE:
		drop_waiting(srv, ctx);
		break;
	}
}

/* Drops the connections whose header deadline has passed. They are in
 * accept order, so their deadlines ascend: the overdue ones lead. */
static void drop_overdue(gfserver_t *srv, long now)
{
	while (srv->waiting.head && srv->waiting.head->deadline_ms <= now)
		drop_waiting(srv, srv->waiting.head);
}

/* Logs the connections dropped or refused at the bound, at most once a
 * second, so a flood of them cannot flood the log too. */
static void log_pressure(gfserver_t *srv, long now)
{
	if (srv->dropped + srv->refused == 0 || now - srv->last_log_ms < 1000)
		return;
	fprintf(stderr, "gfserver: at the bound of %d connections: dropped %ld "
		"oldest still sending a header, refused %ld new\n",
		srv->max_conns, srv->dropped, srv->refused);
	srv->dropped = srv->refused = 0;
	srv->last_log_ms = now;
}

static int open_count(gfserver_t *srv)
{
	int n;

	pthread_mutex_lock(&srv->lock);
	n = srv->open.count;
	pthread_mutex_unlock(&srv->lock);
	return n;
}

/* Makes room for one more connection under the bound. Returns 0, or -1 if
 * every held connection is already with the workers. */
static int make_room(gfserver_t *srv)
{
	if (srv->waiting.count + open_count(srv) < srv->max_conns)
		return 0;
	if (srv->waiting.head == NULL) {
		srv->refused++;
		return -1;
	}
	srv->dropped++;
	drop_waiting(srv, srv->waiting.head);
	return 0;
}

/* Accepts one connection into the waiting list. Returns 0, or -1 when
 * there is nothing more to accept now. */
static int accept_one(gfserver_t *srv)
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
		/* EAGAIN: all taken. EINTR, ECONNABORTED: next round. */
		return -1;
	}
	if (make_room(srv) < 0) {
		close(fd);
		return 0;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		perror("gfserver: accept");
		close(fd);
		return 0;
	}
	/* Workers use blocking calls (the event thread passes MSG_DONTWAIT);
	 * some systems pass O_NONBLOCK on from the listening socket. */
	if (fcntl(fd, F_SETFL, 0) < 0)
		perror("gfserver: fcntl");
	ctx->fd = fd;
	ctx->deadline_ms = gfnet_now_ms() + GF_CLIENT_TIMEOUT_S * 1000L;
	list_append(&srv->waiting, ctx);
	return 0;
}

static void accept_some(gfserver_t *srv)
{
	for (int i = 0; i < ACCEPT_BATCH; i++)
		if (accept_one(srv) < 0)
			return;
}

/* Fills srv->pfds: the listener, the wake-up pipe, then every waiting
 * connection. Returns the count. */
static int fill_pollfds(gfserver_t *srv)
{
	int n = 0;

	srv->pfds[n++] = (struct pollfd){ .fd = srv->listen_fd, .events = POLLIN };
	srv->pfds[n++] = (struct pollfd){ .fd = srv->wake[0], .events = POLLIN };
	for (gfcontext_t *c = srv->waiting.head; c != NULL; c = c->next) {
		srv->pfd_conn[n] = c;
		srv->pfds[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
	}
	return n;
}

/* How long poll() may sleep: until the oldest header deadline, or the
 * next pressure log line, or for ever. */
static int poll_timeout(gfserver_t *srv, long now)
{
	long until = -1;

	if (srv->waiting.head)
		until = srv->waiting.head->deadline_ms - now;
	if (srv->dropped + srv->refused > 0) {
		long log_in = srv->last_log_ms + 1000 - now;

		if (until < 0 || log_in < until)
			until = log_in;
	}
	if (until < 0)
		return srv->waiting.head || srv->dropped + srv->refused ? 0 : -1;
	return until > 60000 ? 60000 : (int)until;
}

static void run_event_loop(gfserver_t *srv)
{
	for (;;) {
		int n = fill_pollfds(srv);
		long now = gfnet_now_ms();

		if (poll(srv->pfds, n, poll_timeout(srv, now)) < 0) {
			if (errno == EINTR)
				continue;
			perror("gfserver: poll");
			return;
		}
		if (srv->pfds[1].revents != 0)
			return;		/* gfserver_stop() */
		/* Each waiting connection is read at most once per round;
		 * pfd_conn[] was filled before any of them could be freed. */
		for (int i = 2; i < n; i++)
			if (srv->pfds[i].revents != 0)
				on_readable(srv, srv->pfd_conn[i]);
		now = gfnet_now_ms();
		drop_overdue(srv, now);
		if (srv->pfds[0].revents != 0)
			accept_some(srv);
		log_pressure(srv, now);
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
		run_event_loop(srv);

	/* Connections still sending a header never reach a worker. */
	while (srv->waiting.head)
		drop_waiting(srv, srv->waiting.head);
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
