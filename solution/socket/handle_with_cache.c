/*
 * handle_with_cache.c: the proxy's work for one client request. Take a free
 * segment, connect to the cache's socket and ask it for the file, read its
 * answer, and stream the file to the client one chunk at a time, taking
 * turns with the cache's worker on the segment as shm_channel.h describes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cache-student.h"
#include "deadline.h"
#include "gfnet.h"
#include "gfserver.h"
#include "segment_pool.h"
#include "shm_channel.h"

void handle_with_cache(gfcontext_t *ctx, const char *path, void *arg);

/* How a transfer ended, as far as the segment is concerned. */
enum transfer_end {
	ENDED_CLEANLY,	/* the last chunk, a miss, a client that hung up, no cache */
	ENDED_FAILED,	/* the cache broke a rule or stopped answering */
};

/*
 * connect() waits while the cache's backlog is full, and so does send()
 * while the socket's buffer is (a request is far smaller than the buffer).
 * Neither waits longer than CONNECT_RETRY_MS: then it fails with EAGAIN.
 */
static int set_send_timeout(int fd)
{
	struct timeval tv = { 0, CONNECT_RETRY_MS * 1000 };

	return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* One attempt. Returns the connected socket, or -1 with errno set. */
static int try_connect(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	int saved;

	if (fd < 0)
		return -1;
	if (set_send_timeout(fd) == 0 &&
	    connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
		return fd;
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * The socket belongs to the cache, which may not have started yet or may
 * be restarting: no file yet (ENOENT), or a file nobody listens on any
 * more (ECONNREFUSED); or it may be busy, its backlog full (EAGAIN). Try
 * every CONNECT_RETRY_MS, up to CONNECT_WAIT_MS, and stop trying when the
 * proxy stops. Connecting for every request means a restarted cache is
 * simply found. On giving up it says why.
 */
static int connect_to_cache(const atomic_bool *stopping)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int waited = 0;

	if (ipcname_socket(addr.sun_path, sizeof(addr.sun_path)) != 0)
		return -1;
	//@ begin connect to the cache
	for (;;) {
		int fd = try_connect(&addr);

		if (fd >= 0)
			return fd;
		if (errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN) {
			fprintf(stderr, "webproxy: connect %s: %s\n",
				addr.sun_path, strerror(errno));
			return -1;
		}
		if (atomic_load(stopping))
			return -1;	/* shutting down: nothing went wrong */
		if (waited >= CONNECT_WAIT_MS && errno == EAGAIN) {
			fprintf(stderr, "webproxy: gave up on the cache at %s after %d ms: the last try found it busy (its backlog full)\n",
				addr.sun_path, waited);
			return -1;
		}
		if (waited >= CONNECT_WAIT_MS) {
			fprintf(stderr, "webproxy: no cache at %s after %d ms: %s\n",
				addr.sun_path, waited, strerror(errno));
			return -1;
		}
		if (errno != EAGAIN)	/* EAGAIN: connect() has waited */
			sleep_ms(CONNECT_RETRY_MS);
		waited += CONNECT_RETRY_MS;
	}
	//@ end
}

/*
 * Sends the request and reads the answer, both bounded. Returns 0 with
 * *answer filled and checked, or -1.
 */
static int ask_cache(int fd, const char *path, const struct segment *seg,
		     const atomic_bool *stopping, struct cache_answer *answer)
{
	struct cache_request req;

	memset(&req, 0, sizeof(req));
	req.segment_size = seg->size;
	req.generation = seg->generation;
	snprintf(req.segment, sizeof(req.segment), "%s", seg->name);
	snprintf(req.path, sizeof(req.path), "%s", path);
	//@ begin ask the cache
	if (gfnet_send_within(fd, &req, sizeof(req), SOCKET_IO_TIMEOUT_MS) != 0) {
		fprintf(stderr, "webproxy: sending the request: %s\n",
			strerror(errno));
		return -1;
	}
	if (gfnet_recv_all(fd, answer, sizeof(*answer),
			   gfnet_now_ms() + ANSWER_TIMEOUT_MS, stopping) != 0) {
		fprintf(stderr, "webproxy: no answer from the cache for %s: %s\n",
			path, strerror(errno));
		return -1;
	}
	if (answer->status != ANSWER_FOUND &&
	    answer->status != ANSWER_NOT_FOUND &&
	    answer->status != ANSWER_ERROR) {
		fprintf(stderr, "webproxy: the cache's answer makes no sense\n");
		return -1;
	}
	return 0;
	//@ end
}

/* Says why no good chunk came, in the words of what happened. A lost or
 * failed lock was said where it happened; stopping needs no word. */
static void report_no_chunk(const char *path, enum wait_result r)
{
	if (r == WAIT_TIMEOUT)
		fprintf(stderr, "webproxy: the cache sent no chunk of %s in time\n",
			path);
	else if (r == WAIT_BAD_CHUNK)
		fprintf(stderr, "webproxy: a chunk of %s broke the rules (wrong file length, or a length of 0 or past the end)\n",
			path);
}

/*
 * Sends every chunk of a found file to the client. Returns how the
 * transfer ended; a client that hangs up is a clean end.
 */
static enum transfer_end stream_file(gfcontext_t *ctx, struct segment *seg,
				     const char *path, uint64_t file_len,
				     const atomic_bool *stopping)
{
	uint64_t sent = 0;
	enum wait_result r;
	struct chunk c;

	if (gfs_sendheader(ctx, GF_OK, file_len) < 0)
		return ENDED_CLEANLY;	/* the client hung up */
	//@ begin stream the chunks
	while (sent < file_len) {
		r = channel_take_chunk(seg, file_len, file_len - sent, stopping,
				       &c);
		if (r != WAIT_OK) {
			report_no_chunk(path, r);
			gfs_abort(ctx);
			return ENDED_FAILED;
		}
		if (gfs_send(ctx, c.bytes, c.len) < 0)
			return ENDED_CLEANLY;	/* the client hung up */
		sent += c.len;
		if (sent < file_len && channel_chunk_sent(seg) != WAIT_OK) {
			gfs_abort(ctx);
			return ENDED_FAILED;
		}
	}
	return ENDED_CLEANLY;
	//@ end
}

static enum transfer_end transfer(gfcontext_t *ctx, const char *path,
				  struct segment *seg,
				  const atomic_bool *stopping)
{
	struct cache_answer answer;
	int fd;
	int asked;

	if (channel_start_transfer(seg) != WAIT_OK) {
		gfs_sendheader(ctx, GF_ERROR, 0);
		return ENDED_FAILED;
	}
	fd = connect_to_cache(stopping);
	if (fd < 0) {
		/* connect_to_cache said why; no worker ever heard of it */
		gfs_sendheader(ctx, GF_ERROR, 0);
		return ENDED_CLEANLY;
	}
	asked = ask_cache(fd, path, seg, stopping, &answer);
	close(fd);	/* read to its end or given up: nothing to lose */
	if (asked != 0) {
		gfs_sendheader(ctx, GF_ERROR, 0);
		return ENDED_FAILED;
	}
	if (answer.status == ANSWER_NOT_FOUND) {
		gfs_sendheader(ctx, GF_FILE_NOT_FOUND, 0);
		return ENDED_CLEANLY;
	}
	if (answer.status == ANSWER_ERROR) {
		gfs_sendheader(ctx, GF_ERROR, 0);
		return ENDED_CLEANLY;
	}
	return stream_file(ctx, seg, path, answer.file_len, stopping);
}

void handle_with_cache(gfcontext_t *ctx, const char *path, void *arg)
{
	struct segment_pool *pool = arg;
	struct segment *seg = pool_take(pool);
	enum transfer_end end;

	if (seg == NULL) {
		/* pool_take said why, unless the proxy is stopping */
		gfs_sendheader(ctx, GF_ERROR, 0);
		return;
	}
	end = transfer(ctx, path, seg, pool_stopping(pool));
	if (channel_end_transfer(seg, end == ENDED_FAILED))
		pool_give_back(pool, seg);
	else
		pool_replace(pool, seg);
}
