/*
 * cache-student.h: what the proxy and the cache say to each other over the
 * command channel, and the time bounds both sides keep.
 *
 * The command channel is one POSIX message queue, created and owned by the
 * cache. Each message is one struct cache_request. The file bytes never
 * travel here: they go through the proxy's shared-memory segments
 * (shm_channel.h).
 */
#ifndef CACHE_STUDENT_H
#define CACHE_STUDENT_H

#include <stdint.h>

#include "gfserver.h"
#include "ipcname.h"

/* Linux refuses mq_maxmsg > 10 and mq_msgsize > 8192 to processes without
 * CAP_SYS_RESOURCE (see /proc/sys/fs/mqueue). */
#define CACHE_QUEUE_MAXMSG 10

/* A request path fits in a GETFILE header, so it fits here. */
#define REQUEST_PATH_MAX GF_MAX_HEADER

enum request_kind {
	REQUEST_FILE = 1,	/* copy path into segment, for this generation */
	REQUEST_STOP = 2,	/* sent by the cache to itself at shutdown */
};

struct cache_request {
	uint32_t kind;
	uint32_t unused;
	uint64_t generation;		/* which use of the segment this is */
	char segment[IPCNAME_MAX];	/* NUL-terminated segment name */
	char path[REQUEST_PATH_MAX];	/* NUL-terminated request path */
};

_Static_assert(sizeof(struct cache_request) <= 8192,
	       "a request must fit the largest message the kernel allows");

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

#endif
