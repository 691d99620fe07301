/*
 * handle_with_cache.c: the proxy's work for one client request, called by
 * the GETFILE server (lab/gfserver.h) on one of its -t handler threads.
 * Design track: the path of a request through your channels is yours.
 *
 * What the rules and the framework fix:
 *  - answer every request exactly once: gfs_sendheader() with GF_OK and the
 *    file's length, then gfs_send() of exactly that many bytes; or
 *    GF_FILE_NOT_FOUND when the cache has no such path; or GF_ERROR when the
 *    cache cannot be reached or fails. gfs_abort() cuts a body short, which
 *    a client sees as an incomplete reply (never wrong bytes under OK);
 *  - the proxy never opens a file itself: the bytes come from the cache,
 *    through one of the proxy's segments;
 *  - a cache that starts or restarts within the bounds of rule 2 is found
 *    without restarting the proxy;
 *  - every wait on the cache is bounded (rule 5), and a handler notices
 *    proxy->stopping within a fraction of a second (rule 3).
 */
#include "cache-student.h"
#include "gfserver.h"
#include "shm_channel.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "deadline.h"
#include "gfnet.h"

static size_t pop_lane(struct proxy *px)
{
	struct lane_stack *st = &px->lanes;
	size_t idx = (size_t)-1;

	pthread_mutex_lock(&st->mu);
	while (st->free_top == 0 && !atomic_load(&px->stopping)) {
		struct timespec soon = deadline_after(CLOCK_REALTIME, 100);
		pthread_cond_timedwait(&st->nonempty, &st->mu, &soon);
	}
	if (st->free_top > 0)
		idx = st->free_idx[--st->free_top];
	pthread_mutex_unlock(&st->mu);
	return idx;
}

static void push_lane(struct proxy *px, size_t idx)
{
	pthread_mutex_lock(&px->lanes.mu);
	px->lanes.free_idx[px->lanes.free_top++] = idx;
	pthread_cond_signal(&px->lanes.nonempty);
	pthread_mutex_unlock(&px->lanes.mu);
}

/* A connection to the cache, retried while rule 2 allows; -1 if none. */
static int dial_cache(struct proxy *px)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	long give_up = gfnet_now_ms() + CONNECT_TRIES_MS;

	if (ipcname_socket(sa.sun_path, sizeof(sa.sun_path)) != 0)
		return -1;
	while (!atomic_load(&px->stopping) && gfnet_now_ms() < give_up) {
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (s < 0)
			return -1;
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return s;
		close(s);
		if (errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN)
			return -1;
		sleep_ms(CONNECT_GAP_MS);
	}
	return -1;
}

static bool read_reply(int s, struct reply *r)
{
	size_t got = 0;
	long until = gfnet_now_ms() + REPLY_WAIT_MS;

	while (got < sizeof(*r)) {
		ssize_t n;

		if (gfnet_wait(s, POLLIN, until) <= 0)
			return false;
		n = recv(s, (char *)r + got, sizeof(*r) - got, 0);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* Takes chunks off the lane until `length` bytes reached the client. */
static bool drain_lane(struct proxy *px, gfcontext_t *ctx, struct lane *l, uint64_t length)
{
	uint64_t done = 0;
	bool ok = true;

	if (lane_lock(l) != 0)
		return false;
	while (ok && done < length) {
		while (!l->hdr->full && !l->hdr->abandoned && !atomic_load(&px->stopping))
			if (lane_timed(&l->hdr->filled, l, CHUNK_WAIT_MS) == ETIMEDOUT) {
				ok = false;
				break;
			}
		if (!ok || !l->hdr->full || l->hdr->chunk_len > l->room || l->hdr->chunk_len > length - done) {
			ok = false;
			break;
		}
		if (gfs_send(ctx, l->chunk, l->hdr->chunk_len) != (ssize_t)l->hdr->chunk_len)
			ok = false;
		done += l->hdr->chunk_len;
		l->hdr->full = false;
		pthread_cond_signal(&l->hdr->emptied);
	}
	if (!ok)
		l->hdr->abandoned = true;
	pthread_mutex_unlock(&l->hdr->mutex);
	return ok;
}

void handle_with_cache(gfcontext_t *ctx, const char *path, void *arg)
{
	struct proxy *proxy = arg;

	struct ask a = { .version = ASK_VERSION, .pid = (int32_t)getpid() };
	struct reply r;
	size_t idx;
	struct lane *l;
	int s;

	if (strlen(path) >= sizeof(a.path) || (idx = pop_lane(proxy)) == (size_t)-1) {
		gfs_sendheader(ctx, GF_ERROR, 0);
		return;
	}
	l = &proxy->lanes.all[idx];
	if (lane_lock(l) != 0) {
		push_lane(proxy, idx);
		gfs_sendheader(ctx, GF_ERROR, 0);
		return;
	}
	/* A new generation: whatever an old worker still writes is refused. */
	a.generation = ++l->hdr->generation;
	l->hdr->full = false;
	l->hdr->abandoned = false;
	pthread_mutex_unlock(&l->hdr->mutex);
	a.lane = (uint32_t)idx;
	a.path_len = (uint16_t)strlen(path);
	memcpy(a.path, path, a.path_len + 1);

	s = dial_cache(proxy);
	if (s < 0 || gfnet_send_within(s, &a, sizeof(a), ASK_IO_MS) != 0 || !read_reply(s, &r) ||
	    r.generation != a.generation) {
		gfs_sendheader(ctx, GF_ERROR, 0);
	} else if (r.code == REPLY_MISSING) {
		gfs_sendheader(ctx, GF_FILE_NOT_FOUND, 0);
	} else if (r.code != REPLY_FOUND) {
		gfs_sendheader(ctx, GF_ERROR, 0);
	} else {
		gfs_sendheader(ctx, GF_OK, r.length);
		if (!drain_lane(proxy, ctx, l, r.length))
			gfs_abort(ctx);
	}
	if (s >= 0)
		close(s);
	push_lane(proxy, idx);
}
