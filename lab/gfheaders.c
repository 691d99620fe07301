/*
 * gfheaders.c: phase 1 of a GETFILE connection (see gfserver_impl.h): the
 * event thread accepts connections and reads their request headers, all
 * in one poll(), and hands each complete one to the workers. It answers
 * a malformed one itself (answer_invalid()).
 *
 * Every waiting connection has a deadline GF_CLIENT_TIMEOUT_S after its
 * accept. The waiting list is in accept order, so the deadlines ascend:
 * poll() sleeps until the first one, and the overdue ones are at the head.
 *
 * Bound: when a new connection arrives with srv->max_conns held, the
 * oldest one still waiting (for its header, or for its close after an
 * INVALID) is dropped to make room (it is the closest to its deadline
 * anyway, and a valid client sends its header at once); if none is
 * waiting, the new connection is refused. Both are
 * counted and logged at most once a second, so a flood cannot flood the
 * log too.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gfnet.h"
#include "gfproto.h"
#include "gfserver_impl.h"

#define ACCEPT_BATCH 64		/* accepts per poll round, so reads go on */

/* Closes a connection that never reached a worker. */
static void drop_waiting(gfserver_t *srv, gfcontext_t *ctx)
{
	conn_list_remove(&srv->waiting, ctx);
	close(ctx->fd);
	free(ctx);
}

/* Moves a connection whose header is complete to srv->open and the
 * workers' queue. */
static void hand_over(gfserver_t *srv, gfcontext_t *ctx)
{
	int stopping;

	conn_list_remove(&srv->waiting, ctx);
	pthread_mutex_lock(&srv->lock);
	stopping = srv->stopping;
	if (!stopping)
		conn_list_append(&srv->open, ctx);
	pthread_mutex_unlock(&srv->lock);
	if (stopping) {
		close(ctx->fd);
		free(ctx);
		return;
	}
	/* Fails only once serve() closed the queue, after this thread left
	 * its loop: not reachable while this thread is here. */
	if (bqueue_push(srv->ready, ctx) < 0)
		gfserver_forget(srv, ctx);
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

/*
 * A malformed header is answered here, not by a worker. The answer fits
 * any fresh socket's send buffer, so the non-blocking send completes at
 * once. What takes time is the close: with the client's bytes unread it
 * would be a reset, which can destroy the answer before the client reads
 * it, so the server waits for the client's own close (see linger_close()
 * in gfserver.c). A junk client may never close; it waits on srv->waiting
 * like an idle one, until its header deadline, holding a descriptor but
 * no worker.
 */
static void answer_invalid(gfserver_t *srv, gfcontext_t *ctx)
{
	char hdr[GF_MAX_RESPONSE_HEADER];
	int n = gfp_format_response(hdr, sizeof(hdr), GF_INVALID, 0);

	if (n < 0 || send(ctx->fd, hdr, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n ||
	    shutdown(ctx->fd, SHUT_WR) < 0) {
		drop_waiting(srv, ctx);
		return;
	}
	ctx->answered = 1;
}

/* Reads and discards what an answered client still sends, and drops it
 * at its close, or once it has sent more than a client that read its
 * answer would (then the reset is its own doing). */
static void drain_answered(gfserver_t *srv, gfcontext_t *ctx)
{
	ssize_t got = recv(ctx->fd, ctx->buf, sizeof(ctx->buf), MSG_DONTWAIT);

	if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (got > 0) {
		ctx->drained += (size_t)got;
		if (ctx->drained <= LINGER_MAX_BYTES)
			return;
	}
	drop_waiting(srv, ctx);
}

static void on_readable(gfserver_t *srv, gfcontext_t *ctx)
{
	if (ctx->answered) {
		drain_answered(srv, ctx);
		return;
	}
	switch (read_header_bytes(ctx)) {
	case HDR_MORE:
		break;
	case HDR_DONE:
		hand_over(srv, ctx);
		break;
	case HDR_INVALID:
		answer_invalid(srv, ctx);
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
		"oldest not yet with a worker, refused %ld new\n",
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

/* A connection just accepted on fd. Linux does not pass the listener's
 * O_NONBLOCK on to fd, BSDs do; either way is fine, so fd is left as it
 * comes: every call on a connection passes MSG_DONTWAIT or polls before
 * it reads. */
static gfcontext_t *new_connection(int fd)
{
	/* malloc, not calloc: zeroing buf and path (8 KiB) on every accept
	 * was two thirds of the server's instructions for a small file, as
	 * callgrind counts them. Neither is read before it is written (buf
	 * up to got; path once the header parses), and every other field is
	 * set here (prev and next by conn_list_append()). */
	gfcontext_t *ctx = malloc(sizeof(*ctx));

	if (ctx == NULL)
		return NULL;
	ctx->fd = fd;
	ctx->deadline_ms = gfnet_now_ms() + GF_CLIENT_TIMEOUT_S * 1000L;
	ctx->got = 0;
	ctx->answered = 0;
	ctx->drained = 0;
	ctx->header_sent = 0;
	ctx->status = GF_OK;
	ctx->declared = ctx->sent = 0;
	ctx->broken = ctx->send_failed = 0;
	return ctx;
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
	ctx = new_connection(fd);
	if (ctx == NULL) {
		perror("gfserver: accept");
		close(fd);
		return 0;
	}
	conn_list_append(&srv->waiting, ctx);
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

	/* make_room() keeps the list within the bound pfds[] was sized for. */
	assert(srv->waiting.count <= srv->max_conns);
	srv->pfds[n++] = (struct pollfd){ .fd = srv->listen_fd, .events = POLLIN };
	srv->pfds[n++] = (struct pollfd){ .fd = srv->wake[0], .events = POLLIN };
	for (gfcontext_t *c = srv->waiting.head; c != NULL; c = c->next) {
		srv->pfd_conn[n] = c;
		srv->pfds[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
	}
	return n;
}

/* How long poll() may sleep, in ms: until the oldest header deadline or
 * the next pressure log line, whichever is first; -1 (for ever) if
 * neither is pending. */
static int poll_timeout(gfserver_t *srv, long now)
{
	long until = LONG_MAX;

	if (srv->waiting.head)
		until = srv->waiting.head->deadline_ms - now;
	if (srv->dropped + srv->refused > 0 && srv->last_log_ms + 1000 - now < until)
		until = srv->last_log_ms + 1000 - now;
	if (until == LONG_MAX)
		return -1;
	if (until < 0)
		return 0;
	return until > INT_MAX ? INT_MAX : (int)until;
}

void gfheaders_run(gfserver_t *srv)
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

void gfheaders_drop_all(gfserver_t *srv)
{
	while (srv->waiting.head)
		drop_waiting(srv, srv->waiting.head);
}
