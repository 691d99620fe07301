/*
 * gfnet.c: socket helpers shared by gfserver.c and gfclient.c.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include "gfnet.h"

long gfnet_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

int gfnet_wait(int fd, short events, long deadline_ms)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		long left = deadline_ms - gfnet_now_ms();
		int r;

		if (left <= 0)
			return 0;
		r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return -1;
	}
}

static int send_within(int fd, const void *buf, size_t len, int timeout_ms,
		       int more)
{
	const char *p = buf;
	long deadline = gfnet_now_ms() + timeout_ms;

	while (len > 0) {
		/* MSG_NOSIGNAL: a peer that hung up gives EPIPE instead
		 * of killing the whole process with SIGPIPE. */
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT | more);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int ready = gfnet_wait(fd, POLLOUT, deadline);

			/* Out of time is said as such: the EAGAIN left in
			 * errno would read as "try again" in the caller's
			 * strerror(). */
			if (ready == 0)
				errno = ETIMEDOUT;
			if (ready <= 0)
				return -1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int gfnet_send_within(int fd, const void *buf, size_t len, int timeout_ms)
{
	return send_within(fd, buf, len, timeout_ms, 0);
}

int gfnet_send_more_within(int fd, const void *buf, size_t len,
			   int timeout_ms)
{
	return send_within(fd, buf, len, timeout_ms, MSG_MORE);
}

/* How often gfnet_recv_all() looks at its stop flag. */
#define RECV_SLICE_MS 200

int gfnet_recv_all(int fd, void *buf, size_t len, long deadline_ms,
		   const atomic_bool *stop)
{
	char *p = buf;

	while (len > 0) {
		long slice_end = gfnet_now_ms() + RECV_SLICE_MS;
		ssize_t n;
		int ready;

		if (stop != NULL && atomic_load(stop)) {
			errno = ECANCELED;
			return -1;
		}
		if (gfnet_now_ms() >= deadline_ms) {
			errno = ETIMEDOUT;
			return -1;
		}
		ready = gfnet_wait(fd, POLLIN,
				   slice_end < deadline_ms ? slice_end : deadline_ms);
		if (ready < 0)
			return -1;
		if (ready == 0)
			continue;
		n = recv(fd, p, len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
