/*
 * gfserver.h: the server side of the GETFILE protocol.
 *
 * A server listens on one TCP port. One thread (the caller of
 * gfserver_serve()) accepts connections and reads their request headers,
 * all at once with poll(); a connection whose header is complete goes to
 * one of a fixed pool of worker threads. The worker calls the registered
 * handler with the requested path. The handler answers with exactly one
 * gfs_sendheader() and then, for GF_OK, exactly the declared number of
 * bytes through gfs_send().
 *
 * Guarantees:
 *  - A malformed request (wrong scheme or method, missing path, a path not
 *    starting with '/', extra spaces, binary junk, a header longer than
 *    GF_MAX_HEADER bytes, or one the client ends with shutdown(SHUT_WR)
 *    before its "\r\n\r\n") is answered "GETFILE INVALID\r\n\r\n" and
 *    closed once the client closes (at the latest GF_CLIENT_TIMEOUT_S
 *    after accept); the handler is never called for it, and no worker
 *    waits on it.
 *  - A client whose whole header has not arrived GF_CLIENT_TIMEOUT_S after
 *    it was accepted (it stalled, or trickles bytes) is dropped without a
 *    reply. Until its header is complete a connection holds no worker, so
 *    idle and slow clients never delay the others.
 *  - At most GF_MAX_CONNECTIONS connections are held, fewer if the
 *    descriptor limit (which the server raises to its hard limit) leaves
 *    less once 64 descriptors and one per worker are set aside. At the bound a new connection displaces the oldest one still
 *    sending its header, or is refused if every held one is being
 *    answered; both are logged, at most one line a second.
 *  - A client that hangs up mid-response never kills the process (SIGPIPE
 *    is not raised) and never leaks the worker: gfs_send() returns -1 and
 *    the handler should give up.
 *  - The server never sends more bytes than the header declared. If the
 *    handler returns having sent fewer, the connection is closed early so
 *    the client sees a short body. If it returns without sending a header
 *    at all, the client gets "GETFILE ERROR\r\n\r\n".
 *  - A client that stops reading holds a worker for at most 10 s: each
 *    gfs_sendheader() or gfs_send() the client has not taken whole within
 *    10 s fails, and the connection is reset (so the kernel does not keep
 *    the unsent bytes either). A client that reads slowly keeps its worker
 *    as long as it takes each chunk within 10 s.
 *  - One request per connection. The listening socket is bound to every
 *    interface (0.0.0.0) with SO_REUSEADDR. Nothing spins: an idle server
 *    uses no CPU.
 */
#ifndef GFSERVER_H
#define GFSERVER_H

#include <stddef.h>
#include <sys/types.h>

#define GF_MAX_HEADER 4096
#define GF_CLIENT_TIMEOUT_S 5
#define GF_MAX_CONNECTIONS 2048

typedef enum {
	GF_OK,
	GF_FILE_NOT_FOUND,
	GF_ERROR,
	GF_INVALID,
} gfstatus_t;

typedef struct gfserver gfserver_t;
typedef struct gfcontext gfcontext_t;

/* Called on a worker thread, once per well-formed request. */
typedef void (*gfhandler_t)(gfcontext_t *ctx, const char *path, void *arg);

/* Returns NULL and prints a reason if the port cannot be bound. */
gfserver_t *gfserver_create(unsigned short port, int nworkers,
			    gfhandler_t handler, void *arg);

/* Accepts and serves until gfserver_stop(); returns after every worker
 * has finished its current request and exited. */
void gfserver_serve(gfserver_t *srv);

/* Safe to call from any thread (not from a signal handler): makes
 * gfserver_serve() stop accepting, shuts down the sockets of requests in
 * flight (so a handler blocked in gfs_send() gets -1), and return once
 * every worker has exited. */
void gfserver_stop(gfserver_t *srv);

/* Frees everything; call after gfserver_serve() has returned (or
 * instead of serving at all). */
void gfserver_destroy(gfserver_t *srv);

/* Sends the response header. For GF_OK, len is the exact body length that
 * must follow; for the other statuses len is ignored and the connection is
 * closed after the header. Returns 0, or -1 if the client is gone. */
int gfs_sendheader(gfcontext_t *ctx, gfstatus_t status, size_t len);

/* Sends body bytes. Never sends past the declared length (returns -1 if
 * asked to). Returns the number of bytes sent, or -1 if the client is gone. */
ssize_t gfs_send(gfcontext_t *ctx, const void *data, size_t len);

/* Gives up on this response: the connection is closed at once. */
void gfs_abort(gfcontext_t *ctx);

#endif
