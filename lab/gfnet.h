/*
 * gfnet.h: the few socket helpers the GETFILE server and client share.
 *
 * Time is measured on CLOCK_MONOTONIC in milliseconds, so a deadline is
 * not moved by changes to the wall clock.
 */
#ifndef GFNET_H
#define GFNET_H

#include <stdatomic.h>
#include <stddef.h>

long gfnet_now_ms(void);

/* Waits until fd has one of events (POLLIN, POLLOUT) or deadline_ms
 * passes; a hang-up or error on fd counts as ready, so the next call
 * reports it. Returns 1 if ready, 0 on timeout, -1 on error. */
int gfnet_wait(int fd, short events, long deadline_ms);

/* Sends all of buf within timeout_ms, however slowly the peer reads:
 * unlike SO_SNDTIMEO, which restarts with every byte the peer takes, this
 * bounds the whole call. Returns 0, or -1 with errno set: ETIMEDOUT when
 * the time ran out, EPIPE or another when the peer is gone. Never raises
 * SIGPIPE. */
int gfnet_send_within(int fd, const void *buf, size_t len, int timeout_ms);

/* As gfnet_send_within(), but tells the kernel more bytes follow at once
 * (MSG_MORE), so a short piece such as a response header waits for them
 * and leaves in the same TCP segment instead of a packet of its own. The
 * next plain send pushes everything out. */
int gfnet_send_more_within(int fd, const void *buf, size_t len,
			   int timeout_ms);

/* Receives exactly len bytes into buf before deadline_ms. Looks at *stop
 * (if not NULL) at least every 200 ms, so a shutting-down process does not
 * sit out the deadline. Returns 0, or -1 with errno ETIMEDOUT (deadline),
 * ECANCELED (*stop became true), ECONNRESET (the peer closed first) or the
 * error of the failed call. */
int gfnet_recv_all(int fd, void *buf, size_t len, long deadline_ms,
		   const atomic_bool *stop);

#endif
