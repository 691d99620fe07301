/*
 * cache-student.h: what the proxy and the cache say to each other over the
 * command channel, and the time bounds both sides keep.
 *
 * The command channel is one POSIX message queue, created and owned by the
 * cache. Each message is one struct cache_request. The file bytes never
 * travel here: they go through the proxy's shared-memory segments
 * (shm_channel.h).
 *
 * Any process of the same user can open the queue and send anything on it,
 * so the cache checks each message whole before acting on it
 * (cache_request_is_valid below), and nothing a message says can stop the
 * cache: it stops on a signal only.
 */
#ifndef CACHE_STUDENT_H
#define CACHE_STUDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gfserver.h"
#include "ipcname.h"

/* Linux refuses mq_maxmsg > 10 and mq_msgsize > 8192 to processes without
 * CAP_SYS_RESOURCE (see /proc/sys/fs/mqueue). */
#define CACHE_QUEUE_MAXMSG 10

/* A request path fits in a GETFILE header, so it fits here. */
#define REQUEST_PATH_MAX GF_MAX_HEADER

enum request_kind {
	REQUEST_FILE = 1,	/* copy path into segment, for this generation */
};

struct cache_request {
	uint32_t kind;
	uint32_t unused;
	uint64_t generation;		/* which use of the segment this is */
	char segment[IPCNAME_MAX];	/* NUL-terminated segment name */
	char path[REQUEST_PATH_MAX];	/* NUL-terminated request path */
	uint64_t token;			/* the transfer's secret: never in shm */
};

_Static_assert(sizeof(struct cache_request) <= 8192,
	       "a request must fit the largest message the kernel allows");

/*
 * A message from the queue came from some process of this user: believe
 * it only if it is exactly one request, of a known kind, naming one of
 * our segments and a path, both NUL-terminated inside their fields.
 */
static inline bool cache_request_is_valid(const void *msg, size_t len)
{
	const struct cache_request *req = msg;

	return len == sizeof(*req) && req->kind == REQUEST_FILE &&
	       memchr(req->segment, '\0', sizeof(req->segment)) != NULL &&
	       ipcname_is_segment(req->segment) &&
	       memchr(req->path, '\0', sizeof(req->path)) != NULL &&
	       req->path[0] == '/';
}

/*
 * Every wait on the other process is bounded, because the other process
 * can die. All values are milliseconds.
 */
#define FIRST_CHUNK_TIMEOUT_MS 10000	/* queueing + the cache's -d delay */
#define NEXT_CHUNK_TIMEOUT_MS 4000	/* so a dead cache costs < 5 s */
#define CACHE_TURN_TIMEOUT_MS 5000	/* the cache waiting for the proxy */
#define QUEUE_WAIT_MS 10000		/* a request waiting for the cache */
#define QUEUE_RETRY_MS 100		/* how often it looks for the queue */
#define QUEUE_SEND_TIMEOUT_MS 5000	/* a full queue of a stuck cache */

/*
 * The proxy posts a transfer's first turn before it sends the request, so
 * a worker holding a real request finds the turn already there. One that
 * waits longer than this holds a forged or stale request: it gives up.
 */
#define FIRST_TURN_TIMEOUT_MS 200

#endif
