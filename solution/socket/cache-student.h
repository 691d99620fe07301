/*
 * cache-student.h: what the proxy and the cache say to each other over the
 * command channel, and the time bounds both sides keep.
 *
 * The command channel is a Unix-domain stream socket, created and owned by
 * the cache (its path comes from ipcname_socket()). For each client request
 * the proxy connects, sends one struct cache_request, and reads one struct
 * cache_answer; then the cache fills the proxy's segment chunk by chunk
 * (shm_channel.h). The file bytes never travel over the socket.
 */
#ifndef CACHE_STUDENT_H
#define CACHE_STUDENT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cmdline.h"
#include "gfserver.h"
#include "ipcname.h"

/* A request path fits in a GETFILE header, so it fits here. */
#define REQUEST_PATH_MAX GF_MAX_HEADER

/* Proxy -> cache, exactly this many bytes, once per connection. */
struct cache_request {
	uint64_t segment_size;		/* bytes of the whole segment */
	uint64_t generation;		/* which use of the segment this is */
	char segment[IPCNAME_MAX];	/* NUL-terminated segment name */
	char path[REQUEST_PATH_MAX];	/* NUL-terminated request path */
};

/*
 * Anything from the socket came from another process: the cache checks a
 * request whole before it uses any of it. Strings end inside their fields,
 * the segment is named as one of ours, the path is a GETFILE path, and the
 * size is one a proxy may have (-z). Inline, so the fuzz target
 * (tests/fuzz/cache_request_socket.c) checks this very code.
 */
static inline bool cache_request_is_valid(const struct cache_request *req)
{
	return memchr(req->segment, '\0', sizeof(req->segment)) != NULL &&
	       ipcname_is_segment(req->segment) &&
	       memchr(req->path, '\0', sizeof(req->path)) != NULL &&
	       req->path[0] == '/' &&
	       req->segment_size >= PROXY_SEGMENT_MIN_SIZE &&
	       req->segment_size <= PROXY_SEGMENT_MAX_SIZE;
}

enum answer_status {
	ANSWER_FOUND = 1,	/* file_len is valid; chunks follow */
	ANSWER_NOT_FOUND = 2,	/* the cache has no such path */
	ANSWER_ERROR = 3,	/* a bad request or segment: nothing follows */
};

/* Cache -> proxy, exactly this many bytes, then the cache closes. */
struct cache_answer {
	uint32_t status;	/* enum answer_status */
	uint32_t unused;
	uint64_t file_len;
};

/* Fixed sizes, no padding: both sides read the same bytes the same way. */
_Static_assert(sizeof(struct cache_request) ==
		       16 + IPCNAME_MAX + REQUEST_PATH_MAX,
	       "a request is its fields and nothing else");
_Static_assert(sizeof(struct cache_answer) == 16,
	       "an answer is its fields and nothing else");

/* Connections waiting for the cache's accept(). */
#define CACHE_BACKLOG 128

/*
 * Every wait on the other process is bounded, because the other process
 * can die. All values are milliseconds.
 */
#define ANSWER_TIMEOUT_MS 10000		/* queueing + the cache's -d delay */
#define NEXT_CHUNK_TIMEOUT_MS 4000	/* so a dead cache costs < 5 s */
#define CACHE_TURN_TIMEOUT_MS 5000	/* the cache waiting for the proxy */
#define REQUEST_TIMEOUT_MS 2000		/* a connected proxy sending its request */
#define CONNECT_WAIT_MS 10000		/* a request waiting for the cache */
#define CONNECT_RETRY_MS 100		/* how often it looks for the socket;
					 * how long one connect or send waits */
#define SOCKET_IO_TIMEOUT_MS 5000	/* the cache sending its answer */
#define LOCK_TIMEOUT_MS 1000		/* a segment's lock is held for microseconds */

#endif
