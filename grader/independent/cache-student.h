/*
 * cache-student.h (independent implementation): the orders the proxy posts
 * on the cache's queue, the token that stops the cache, and the time
 * bounds.
 *
 * This folder is a second, separately designed answer to the lab, used to
 * prove that the grader judges behaviour and not one design. It follows
 * the published rules only; design.md says how it differs.
 *
 * AN ORDER is a variable-length message: a fixed head, then the segment
 * name and the request path, each followed by its NUL. Its length is
 * exactly what the head announces, so the cache can check it whole.
 *
 *   | magic | name_len | path_len | ticket | name... \0 | path... \0 |
 *
 * The ticket is a random number the proxy draws for this one transfer and
 * also writes into the segment (shm_channel.h): a worker serves an order
 * only while the segment still carries the order's ticket.
 *
 * THE STOP TOKEN travels on the same queue. The cache draws a secret at
 * start; a token that does not carry it is refused, so no other process
 * can stop the cache by sending one.
 */
#ifndef CACHE_STUDENT_H
#define CACHE_STUDENT_H

#include <stddef.h>
#include <stdint.h>

#include "gfserver.h"
#include "ipcname.h"

#define ORDER_MAGIC 0x4f524452u	/* "ORDR" */
#define STOP_MAGIC 0x53544f50u	/* "STOP" */

struct order_head {
	uint32_t magic;
	uint16_t name_len;	/* bytes of the segment name, NUL excluded */
	uint16_t path_len;	/* bytes of the request path, NUL excluded */
	uint64_t ticket;	/* the transfer this order is for; never 0 */
};

/* A path comes from a GETFILE header, so it is shorter than one. */
#define ORDER_PATH_MAX (GF_MAX_HEADER - 1)
#define ORDER_MAX_BYTES \
	(sizeof(struct order_head) + IPCNAME_MAX + ORDER_PATH_MAX + 1)

struct stop_token {
	uint32_t magic;
	uint32_t zero;
	uint64_t secret;
};

/* Linux lets an unprivileged process make a queue of at most 10 messages
 * of at most 8192 bytes (/proc/sys/fs/mqueue). */
#define QUEUE_DEPTH 10
_Static_assert(ORDER_MAX_BYTES <= 8192, "an order must fit a queue message");
_Static_assert(sizeof(struct stop_token) <= ORDER_MAX_BYTES,
	       "the stop token must fit a queue message");
_Static_assert(ORDER_PATH_MAX <= UINT16_MAX && IPCNAME_MAX <= UINT16_MAX,
	       "the lengths must fit the head's fields");

/*
 * Time bounds, in milliseconds, on waits for the other process (the
 * published rules: any start order within 10 s, a dead cache cuts the
 * client off within 5 s, a dead proxy releases a worker within 5 s).
 */
#define FIND_QUEUE_MS 10000	/* the proxy looking for the cache's queue */
#define FIND_QUEUE_STEP_MS 100	/* ... between two looks */
#define POST_ORDER_MS 5000	/* the proxy waiting for room in the queue */
#define FIRST_SLOT_MS 10000	/* the first chunk: queueing and -d included */
#define NEXT_SLOT_MS 3000	/* every later chunk: 2 s of the 5 s for a loaded machine */
#define FREE_SLOT_MS 5000	/* a worker waiting for the proxy to free a slot */

#endif
