/*
 * cache-student.h: what the proxy and the cache say to each other over the
 * command channel, and the time bounds both sides keep. Design track: the
 * messages are yours to design.
 *
 * Fixed by the rules (handouts/rules.md):
 *  - the command channel is one Unix-domain stream socket, at the path
 *    ipcname_socket() gives, created (bound and listening) by the cache when
 *    it starts and removed when it stops (rule 1);
 *  - any process of this user may connect and send anything, so the cache
 *    believes nothing it reads there until it has checked it whole, and a
 *    connection that sends nothing costs it no worker forever (rules 5, 6);
 *  - every wait on the other process is bounded, within the numbers the
 *    rules publish (rules 2 and 5); lab/gfnet.h has bounded reads and
 *    writes.
 *
 * Yours: what a request and its answer carry, how the cache tells a whole,
 * current request from a stale or forged one, and the bounds of your
 * waits. Put them here, so both programs agree; design.md says why each is
 * what it is.
 */
#ifndef CACHE_STUDENT_H
#define CACHE_STUDENT_H

#include "gfserver.h"
#include "ipcname.h"

/* A request path fits in a GETFILE header. */
#define REQUEST_PATH_MAX GF_MAX_HEADER

#include <stdint.h>
#include <sys/types.h>

/*
 * The proxy connects once per request and writes one ask; the cache
 * answers with one reply on the same connection, then moves the bytes
 * through segment `lane` of proxy `pid`. Both have fixed sizes.
 */
struct ask {
	uint16_t version;	/* ASK_VERSION */
	uint16_t path_len;	/* bytes of path in use, NUL excluded */
	int32_t pid;		/* the proxy whose segment to use */
	uint32_t lane;		/* the segment's index, below -n */
	uint32_t generation;	/* copied from the segment at the ask */
	char path[REQUEST_PATH_MAX];
};

enum reply_code { REPLY_FOUND = 7, REPLY_MISSING = 8, REPLY_TROUBLE = 9 };

struct reply {
	int32_t code;		/* enum reply_code */
	uint32_t generation;	/* echoes the ask's */
	uint64_t length;	/* bytes that follow through the segment */
};

#define ASK_VERSION 3

/* Bounds of each wait, in milliseconds. */
#define CONNECT_TRIES_MS 10000	/* rule 2 */
#define CONNECT_GAP_MS 40
#define ASK_IO_MS 3000		/* reading an ask, writing a reply */
#define REPLY_WAIT_MS 8000	/* the lookup's -d (2.5 s at most) and a busy cache */
#define CHUNK_WAIT_MS 4000	/* rule 5 */

#endif
