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

int gfnet_send_within(int fd, const void *buf, size_t len, int timeout_ms)
{
	const char *p = buf;
	long deadline = gfnet_now_ms() + timeout_ms;

	while (len > 0) {
		/* MSG_NOSIGNAL: a peer that hung up gives EPIPE instead
		 * of killing the whole process with SIGPIPE. */
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (gfnet_wait(fd, POLLOUT, deadline) <= 0)
				return -1;	/* out of time, or poll failed */
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
