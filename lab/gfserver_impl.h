/*
 * gfserver_impl.h: the GETFILE server's inner state, shared by its two
 * halves: gfheaders.c (the event thread, which accepts connections and
 * reads their request headers) and gfserver.c (the workers that answer,
 * and setup). Not for handlers: they see only gfserver.h.
 *
 * A connection lives in two phases:
 *  1. Waiting for its header, on srv->waiting. The event thread reads
 *     whatever bytes arrive, for every waiting connection at once, in one
 *     poll(). A client that is idle or trickles bytes costs a descriptor
 *     and a buffer, never a thread. Its deadline runs from accept. A
 *     header that is certainly invalid is answered by the event thread
 *     itself, and the connection stays here until the client closes.
 *  2. Being answered, on srv->open. Once the header is complete the
 *     connection is pushed onto srv->ready, which the workers pop; a
 *     worker calls the handler, which may block on the client.
 *
 * Ownership and locking:
 *  - srv->waiting and every phase-1 field of a connection belong to the
 *    event thread alone: no lock.
 *  - srv->lock guards srv->stopping and srv->open (the connections handed
 *    to the workers and not yet closed). A connection's fd stays valid
 *    while it is on srv->open; only its worker removes it, and closes it
 *    after that, so gfserver_stop() never shuts down a number that was
 *    reused.
 *  - In phase 2 a connection belongs to its worker, except that
 *    gfserver_stop() reads fd (under srv->lock) to shut the socket down.
 *  - Bound: srv->waiting.count + srv->open.count <= srv->max_conns,
 *    checked by the event thread before each accept.
 */
#ifndef GFSERVER_IMPL_H
#define GFSERVER_IMPL_H

#include <poll.h>
#include <pthread.h>

#include "bqueue.h"
#include "gfserver.h"

/* A closing server reads and discards at most this much of what a client
 * still sends, waiting for its close; past it the close is a reset. */
#define LINGER_MAX_BYTES 65536

struct gfcontext {
	int fd;
	struct gfcontext *prev, *next;	/* srv->waiting or srv->open */

	/* Phase 1, the event thread's. */
	long deadline_ms;	/* accept time + GF_CLIENT_TIMEOUT_S */
	size_t got;		/* header bytes in buf */
	char buf[GF_MAX_HEADER];
	int answered;		/* told INVALID; waiting for the client's close */
	size_t drained;		/* bytes discarded since */

	/* Set by the event thread before the hand-over, read-only after. */
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
	struct conn_list waiting;	/* accepted, not handed to a worker */
	struct pollfd *pfds;		/* max_conns + 2 entries */
	struct gfcontext **pfd_conn;	/* which connection each pfd is */
	long dropped, refused;		/* at the bound, since last logged */
	long last_log_ms;

	pthread_mutex_t lock;
	int stopping;
	struct conn_list open;	/* handed to the workers, not yet closed */
};

/* Doubly linked list operations (the caller holds what guards the list). */
void conn_list_append(struct conn_list *l, struct gfcontext *c);
void conn_list_remove(struct conn_list *l, struct gfcontext *c);

/* gfserver.c: takes a phase-2 connection off srv->open and closes it. */
void gfserver_forget(gfserver_t *srv, gfcontext_t *ctx);

/* gfheaders.c: the event thread's loop; returns once gfserver_stop() is
 * called (or poll() fails). */
void gfheaders_run(gfserver_t *srv);

/* gfheaders.c: closes every connection not handed to a worker. */
void gfheaders_drop_all(gfserver_t *srv);

#endif
