/*
 * cache-student.h: what the proxy and the cache say to each other over the
 * command channel, and the time bounds both sides keep. Design track: the
 * message is yours to design.
 *
 * Fixed by the rules (handouts/rules.md):
 *  - the command channel is one POSIX message queue, named by
 *    ipcname_queue(), created by the cache when it starts and removed when
 *    it stops (rule 1);
 *  - any process of this user may write to the queue, so the cache believes
 *    nothing it reads there until it has checked it whole (rule 6);
 *  - every wait on the other process is bounded, within the numbers the
 *    rules publish (rules 2 and 5).
 *
 * Yours: what a request carries, how the cache tells a whole, current
 * request from a stale or forged one, and the bounds of your waits. Put
 * them here, so both programs agree; design.md says why each is what it is.
 */
#ifndef CACHE_STUDENT_H
#define CACHE_STUDENT_H

#include "gfserver.h"
#include "ipcname.h"

/* A request path fits in a GETFILE header. */
#define REQUEST_PATH_MAX GF_MAX_HEADER

/* Linux refuses mq_maxmsg > 10 and mq_msgsize > 8192 to a process without
 * CAP_SYS_RESOURCE (see /proc/sys/fs/mqueue), and the graders have none. */
#define QUEUE_MAXMSG_LIMIT 10
#define QUEUE_MSGSIZE_LIMIT 8192

#include <stdint.h>

/*
 * One fetch note per request, always the full size: the cache reads it with
 * a buffer of exactly this size and drops anything shorter or longer.
 * `serial` is drawn by the proxy for this request and written to the
 * mailbox too; a worker answers only while the two still agree.
 */
struct fetch_note {
	uint32_t stamp;			/* FETCH_STAMP */
	uint32_t serial;
	char mailbox[IPCNAME_MAX];	/* NUL-terminated segment name */
	char path[REQUEST_PATH_MAX];	/* NUL-terminated request path */
};

#define FETCH_STAMP 0x46455443u
#define NOTE_QUEUE_DEPTH QUEUE_MAXMSG_LIMIT
_Static_assert(sizeof(struct fetch_note) <= QUEUE_MSGSIZE_LIMIT,
	       "a fetch note fits one queue message");

/* Milliseconds: how long each side waits for the other. */
#define CACHE_SEARCH_MS 10000	/* rule 2: a cache may take 10 s to appear */
#define CACHE_SEARCH_PAUSE_MS 50
#define FIRST_PAGE_MS 9000	/* covers -d's 2.5 s and a full queue */
#define NEXT_PAGE_MS 4000	/* rule 5: a dead cache is noticed in 5 s */
#define PROXY_TURN_MS 4000	/* rule 5: a dead proxy frees a worker in 5 s */

#endif
