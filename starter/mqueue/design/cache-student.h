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

#endif
