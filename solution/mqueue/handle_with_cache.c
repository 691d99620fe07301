/*
 * handle_with_cache.c: the proxy's work for one client request. Take a free
 * segment, ask the cache (over its queue) to fill it with the file, and
 * stream the file to the client one chunk at a time, taking turns with the
 * cache on the segment as shm_channel.h describes.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache-student.h"
#include "deadline.h"
#include "gfserver.h"
#include "segment_pool.h"
#include "shm_channel.h"

/* How a transfer ended, as far as the segment is concerned. */
enum segment_state {
	TURN_HELD,	/* the proxy holds the turn: the segment is reusable */
	TURN_LOST,	/* the cache may still hold it: replace the segment */
};

/*
 * The queue belongs to the cache, which may not have started yet or may
 * be restarting: look for it every QUEUE_RETRY_MS, up to QUEUE_WAIT_MS.
 * Opening it for every request means a restarted cache is simply found.
 */
static mqd_t open_cache_queue(const atomic_bool *stopping)
{
	char name[IPCNAME_MAX];
	int waited = 0;

	if (ipcname_queue(name, sizeof(name)) != 0)
		return (mqd_t)-1;
	//@ begin open the command channel
	for (;;) {
		mqd_t q = mq_open(name, O_WRONLY);

		if (q != (mqd_t)-1)
			return q;
		if (errno != ENOENT) {
			fprintf(stderr, "webproxy: mq_open %s: %s\n", name,
				strerror(errno));
			return (mqd_t)-1;
		}
		if (waited >= QUEUE_WAIT_MS || atomic_load(stopping)) {
			fprintf(stderr, "webproxy: no cache queue %s after %d ms\n",
				name, waited);
			return (mqd_t)-1;
		}
		sleep_ms(QUEUE_RETRY_MS);
		waited += QUEUE_RETRY_MS;
	}
	//@ end
}

static int send_request(const char *path, const struct segment *seg,
			const atomic_bool *stopping)
{
	struct cache_request req;
	struct timespec deadline;
	mqd_t q = open_cache_queue(stopping);
	int rc;

	if (q == (mqd_t)-1)
		return -1;	/* open_cache_queue said why */
	memset(&req, 0, sizeof(req));
	req.kind = REQUEST_FILE;
	req.generation = seg->generation;
	req.token = seg->token;
	snprintf(req.segment, sizeof(req.segment), "%s", seg->name);
	snprintf(req.path, sizeof(req.path), "%s", path);
	/* mq_timedsend() takes a CLOCK_REALTIME deadline. */
	deadline = deadline_after(CLOCK_REALTIME, QUEUE_SEND_TIMEOUT_MS);
	//@ begin send the request
	rc = mq_timedsend(q, (const char *)&req, sizeof(req), 0, &deadline);
	if (rc != 0)
		fprintf(stderr, "webproxy: mq_timedsend: %s\n", strerror(errno));
	//@ end
	mq_close(q);
	return rc;
}

static gfstatus_t status_for(enum chunk_status s)
{
	return s == CHUNK_NOT_FOUND ? GF_FILE_NOT_FOUND : GF_ERROR;
}

/* Says why no good chunk came, in the words of what happened. */
static void report_no_chunk(const char *path, enum wait_result r)
{
	switch (r) {
	case WAIT_TIMEOUT:
		fprintf(stderr, "webproxy: the cache did not answer in time for %s\n",
			path);
		break;
	case WAIT_BAD_CHUNK:
		fprintf(stderr, "webproxy: a chunk for %s broke the rules (wrong token, offset, length or status, or overwritten)\n",
			path);
		break;
	case WAIT_BAD_SEGMENT:
	case WAIT_ERROR:	/* already printed why */
	case WAIT_STOPPING:
	default:
		break;
	}
}

/*
 * The client hung up while the cache holds the turn for the next chunk:
 * wait for that chunk and drop it, so the turn comes back and the segment
 * can go back to the pool (the worker then waits for a next turn that the
 * segment's next transfer ends, as after any hang-up).
 */
static enum segment_state wait_out_chunk(struct segment *seg,
					 const atomic_bool *stopping)
{
	struct chunk dropped;

	if (channel_take_chunk(seg, NEXT_CHUNK_TIMEOUT_MS, stopping,
			       &dropped) == WAIT_OK)
		return TURN_HELD;
	return TURN_LOST;
}

/*
 * Sends every chunk of an OK response to the client. The first chunk is
 * already in `c`. Returns which side holds the turn at the end.
 *
 * A chunk is sent from the proxy's private copy (channel_take_chunk), so
 * the segment is free as soon as the chunk is checked: the turn goes back
 * to the cache BEFORE the chunk goes to the client, and the cache reads
 * the next chunk while this one is being sent. On a large file the two
 * halves of the work overlap instead of taking turns (one client, 64 KiB
 * segments: p50 about 20% lower).
 */
static enum segment_state stream_file(gfcontext_t *ctx, struct segment *seg,
				      const char *path, struct chunk *c,
				      const atomic_bool *stopping)
{
	const uint64_t file_size = c->file_size;
	uint64_t sent = 0;
	bool more;
	enum wait_result r;

	if (gfs_sendheader(ctx, GF_OK, file_size) < 0)
		return TURN_HELD;	/* the client hung up */
	//@ begin stream the chunks
	for (;;) {
		if (c->status != CHUNK_OK || c->file_size != file_size ||
		    c->len > file_size - sent || (c->len == 0 && sent < file_size)) {
			fprintf(stderr, "webproxy: the cache sent a bad chunk for %s\n",
				path);
			gfs_abort(ctx);
			return TURN_LOST;
		}
		more = c->len < file_size - sent;
		if (more)
			channel_give_turn(seg);	/* the cache fills the next */
		if (c->len > 0 && gfs_send(ctx, c->bytes, c->len) < 0)
			return more ? wait_out_chunk(seg, stopping) : TURN_HELD;
		sent += c->len;
		if (!more)
			return TURN_HELD;
		r = channel_take_chunk(seg, NEXT_CHUNK_TIMEOUT_MS, stopping, c);
		if (r != WAIT_OK) {
			report_no_chunk(path, r);
			gfs_abort(ctx);
			return TURN_LOST;
		}
	}
	//@ end
}

/*
 * The turn goes to the cache before the request does, so the worker that
 * gets the request finds its turn already posted (and a forged request,
 * finding none, gives up at once). If no chunk comes, the turn may still
 * be lying on space_free: then the proxy takes it back and keeps the
 * segment. An error header that cannot be sent means the client is gone,
 * and there is nobody left to tell: those results are not checked.
 */
static enum segment_state transfer(gfcontext_t *ctx, const char *path,
				   struct segment *seg,
				   const atomic_bool *stopping)
{
	struct chunk c;
	enum wait_result r;

	if (channel_start_transfer(seg) != 0) {
		gfs_sendheader(ctx, GF_ERROR, 0);
		return TURN_HELD;	/* nothing was posted or sent */
	}
	channel_give_turn(seg);
	if (send_request(path, seg, stopping) != 0) {
		gfs_sendheader(ctx, GF_ERROR, 0);
		return channel_take_back_turn(seg) ? TURN_HELD : TURN_LOST;
	}
	r = channel_take_chunk(seg, FIRST_CHUNK_TIMEOUT_MS, stopping, &c);
	if (r != WAIT_OK) {
		report_no_chunk(path, r);
		gfs_sendheader(ctx, GF_ERROR, 0);
		if (r == WAIT_BAD_CHUNK || r == WAIT_BAD_SEGMENT)
			return TURN_LOST;
		return channel_take_back_turn(seg) ? TURN_HELD : TURN_LOST;
	}
	if (c.status != CHUNK_OK) {
		gfs_sendheader(ctx, status_for(c.status), 0);
		return TURN_HELD;
	}
	return stream_file(ctx, seg, path, &c, stopping);
}

void handle_with_cache(gfcontext_t *ctx, const char *path, void *arg)
{
	struct segment_pool *pool = arg;
	struct segment *seg = pool_take(pool);

	if (seg == NULL) {
		/* pool_take said why (no segment came free, or stopping) */
		gfs_sendheader(ctx, GF_ERROR, 0);
		return;
	}
	if (transfer(ctx, path, seg, pool_stopping(pool)) == TURN_LOST)
		pool_replace(pool, seg);
	else
		pool_give_back(pool, seg);
}
