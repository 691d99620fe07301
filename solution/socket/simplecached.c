/*
 * simplecached.c: the cache of the socket variant. Its command channel is
 * a Unix-domain stream socket. A boss thread accepts connections and
 * gathers their requests, all at once with poll(); a connection whose
 * whole request has arrived goes to a worker, which answers on it and
 * copies the file into the proxy's segment chunk by chunk (shm_channel.h).
 * So a connection that sends nothing, or a byte at a time, holds no
 * worker. The boss also watches the socket's file: one that is removed or
 * replaced is bound again within a second. The process around them
 * (flags, signals, threads, the bounded work list, shutdown) is the lab's:
 * lab/cache.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cache.h"
#include "cache-student.h"
#include "deadline.h"
#include "gfnet.h"
#include "refusals.h"
#include "shm_channel.h"
#include "simplecache.h"

/* Made before any thread starts and closed after all are joined, except
 * the listener, which the boss alone renews while it runs. */
static struct {
	int listener;			/* the listening socket */
	struct sockaddr_un addr;	/* its path */
	bool bound;			/* a file was bound: the boss watches it */
	dev_t device;			/* the socket's file, as bound */
	ino_t inode;
	int wake[2];			/* a pipe: the signal thread wakes the boss */
} cache = { .listener = -1, .wake = { -1, -1 } };

/* How long the boss pauses after accept() fails for want of resources. */
#define ACCEPT_RETRY_MS 100

/* The boss looks at the socket's file, and reports refusals, this often. */
#define BOSS_SLICE_MS 200

/* Connections whose request is still arriving. When more come, the
 * oldest is dropped: a real proxy sends its request at once. */
#define MAX_PENDING 256

/* One connection and its request, owned by whoever holds the pointer. */
struct connection {
	int fd;
	size_t got;			/* bytes of req arrived so far */
	long due_ms;			/* gfnet_now_ms() by which req is whole */
	struct cache_request req;
};

/* ---- The command channel ---- */

/*
 * A socket file left by a cache that crashed blocks bind(). It is stale if
 * nobody accepts on it; a cache that still runs is left alone.
 */
static int remove_stale_socket(void)
{
	int probe = socket(AF_UNIX, SOCK_STREAM, 0);
	int refused;

	if (probe < 0) {
		perror("simplecached: socket");
		return -1;
	}
	refused = connect(probe, (const struct sockaddr *)&cache.addr,
			  sizeof(cache.addr)) != 0 && errno == ECONNREFUSED;
	/* A probe that was never used for data has nothing to lose. */
	close(probe);
	if (!refused)
		return 0;
	if (unlink(cache.addr.sun_path) != 0) {
		fprintf(stderr, "simplecached: cannot remove the stale socket %s: %s\n",
			cache.addr.sun_path, strerror(errno));
		return -1;
	}
	fprintf(stderr, "simplecached: removed a stale socket %s\n",
		cache.addr.sun_path);
	return 0;
}

/* Closes the listening socket and removes its file. Closing a listener
 * loses nothing (connections not yet accepted are refused either way), so
 * only a file that stays behind is worth a word. */
static void remove_listener(void)
{
	//@ begin remove the command channel
	if (cache.listener >= 0) {
		close(cache.listener);
		if (unlink(cache.addr.sun_path) != 0)
			fprintf(stderr, "simplecached: unlink %s: %s\n",
				cache.addr.sun_path, strerror(errno));
	}
	//@ end
	cache.listener = -1;
}

static int create_listener(void)
{
	cache.addr.sun_family = AF_UNIX;
	if (ipcname_socket(cache.addr.sun_path, sizeof(cache.addr.sun_path)) != 0)
		return -1;
	//@ begin create the command channel
	if (remove_stale_socket() != 0)
		return -1;
	cache.listener = socket(AF_UNIX, SOCK_STREAM, 0);
	if (cache.listener < 0) {
		perror("simplecached: socket");
		return -1;
	}
	if (bind(cache.listener, (const struct sockaddr *)&cache.addr,
		 sizeof(cache.addr)) != 0) {
		fprintf(stderr, "simplecached: bind %s: %s\n",
			cache.addr.sun_path, strerror(errno));
		close(cache.listener);	/* never bound: nothing to lose */
		cache.listener = -1;
		return -1;
	}
	/* Only this user's proxies may connect. */
	if (chmod(cache.addr.sun_path, 0600) != 0) {
		fprintf(stderr, "simplecached: chmod %s: %s\n",
			cache.addr.sun_path, strerror(errno));
		remove_listener();
		return -1;
	}
	if (listen(cache.listener, CACHE_BACKLOG) != 0) {
		fprintf(stderr, "simplecached: listen %s: %s\n",
			cache.addr.sun_path, strerror(errno));
		remove_listener();
		return -1;
	}
	return 0;
	//@ end
}

/* The path's file is the one this cache bound: remembered after each
 * bind, so the boss can tell when it is removed or replaced. */
static int remember_socket_file(void)
{
	struct stat st;

	if (stat(cache.addr.sun_path, &st) != 0) {
		fprintf(stderr, "simplecached: stat %s: %s\n",
			cache.addr.sun_path, strerror(errno));
		return -1;
	}
	cache.device = st.st_dev;
	cache.inode = st.st_ino;
	cache.bound = true;
	return 0;
}

/* The boss accepts without waiting: poll() said whether one is there.
 * Without a listener there is no file to watch, and nothing to accept. */
static int bind_channel(void)
{
	if (create_listener() != 0)
		return -1;
	if (cache.listener < 0)
		return 0;
	if (remember_socket_file() != 0)
		return -1;
	if (fcntl(cache.listener, F_SETFL, O_NONBLOCK) != 0) {
		fprintf(stderr, "simplecached: fcntl %s: %s\n",
			cache.addr.sun_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Why the socket's file is no longer the one bound, or NULL if it is. */
static const char *socket_file_changed(void)
{
	struct stat st;

	if (lstat(cache.addr.sun_path, &st) != 0)
		return errno == ENOENT ? "it was removed" : strerror(errno);
	if (!S_ISSOCK(st.st_mode))
		return "another kind of file took its place";
	if (st.st_dev != cache.device || st.st_ino != cache.inode)
		return "another socket took its place";
	return NULL;
}

/*
 * Any process of this user can remove or replace the socket's file; the
 * proxies then cannot reach the cache, which still runs. So the boss
 * looks every BOSS_SLICE_MS, and binds again under the same path. A file
 * that cannot be removed is said once, and tried again.
 */
static void watch_socket_file(void)
{
	static bool said;
	const char *why;

	if (!cache.bound)
		return;
	why = socket_file_changed();
	if (why == NULL)
		return;
	if (!said)
		fprintf(stderr, "simplecached: the socket %s is gone (%s); binding it again\n",
			cache.addr.sun_path, why);
	if (cache.listener >= 0)
		close(cache.listener);	/* not accepted yet: refused either way */
	cache.listener = -1;
	if (unlink(cache.addr.sun_path) != 0 && errno != ENOENT) {
		if (!said)
			fprintf(stderr, "simplecached: cannot remove %s: %s\n",
				cache.addr.sun_path, strerror(errno));
		said = true;
		return;
	}
	said = bind_channel() != 0;
	if (!said)
		fprintf(stderr, "simplecached: listening on %s again\n",
			cache.addr.sun_path);
}

/* ---- The boss: gathering whole requests ---- */

/* The boss's connections whose request is not whole yet: only the boss
 * touches them. */
static struct {
	struct connection *conn[MAX_PENDING];
	int count;
} pending;

static void drop(struct connection *conn)
{
	close(conn->fd);	/* the proxy, if it is one, sees ERROR */
	free(conn);
}

/* Removes pending.conn[i], keeping the others in the order they came. */
static struct connection *unpend(int i)
{
	struct connection *conn = pending.conn[i];

	memmove(&pending.conn[i], &pending.conn[i + 1],
		(size_t)(pending.count - i - 1) * sizeof(conn));
	pending.count--;
	return conn;
}

/*
 * Reads what has arrived of conn's request, without waiting. Returns 1
 * when it is whole, 0 when more is to come, -1 when the connection ended
 * or failed first (refused, said why).
 */
static int read_more(struct connection *conn)
{
	//@ begin read more of a request
	ssize_t n = recv(conn->fd, (char *)&conn->req + conn->got,
			 sizeof(conn->req) - conn->got, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n < 0) {
		refusals_add("reading a request: %s", strerror(errno));
		return -1;
	}
	if (n == 0) {
		refusals_add("a connection closed after %zu of %zu request bytes",
			     conn->got, sizeof(conn->req));
		return -1;
	}
	conn->got += (size_t)n;
	return conn->got == sizeof(conn->req);
	//@ end
}

/*
 * A whole request goes to a worker if a slot of the work list is free;
 * returns false if none is (it stays pending, and is tried again). A
 * malformed one is refused.
 */
static bool hand_over(struct connection *conn)
{
	//@ begin hand a request over
	if (!cache_request_is_valid(&conn->req)) {
		refusals_add("a malformed request");
		drop(conn);
		return true;
	}
	if (!cache_take_slot(0))
		return false;
	if (cache_hand_over(conn) != 0) {
		cache_give_slot_back();	/* stopping: the list is closed */
		drop(conn);
	}
	return true;
	//@ end
}

/* A new connection, pending until its request is whole. Room is made by
 * dropping the oldest, which has had the longest to send. */
static void accept_connections(void)
{
	for (int n = 0; n < MAX_PENDING; n++) {
		struct connection *conn;
		int fd = accept(cache.listener, NULL, NULL);

		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR || errno == ECONNABORTED)
				return;
			/* Out of descriptors or memory: the connection stays
			 * queued; pause instead of spinning. */
			perror("simplecached: accept");
			sleep_ms(ACCEPT_RETRY_MS);
			return;
		}
		conn = calloc(1, sizeof(*conn));
		if (conn == NULL) {
			close(fd);	/* the proxy sees its request dropped */
			cache_cannot_go_on("calloc", "no memory for a connection");
			return;
		}
		conn->fd = fd;
		conn->due_ms = gfnet_now_ms() + REQUEST_TIMEOUT_MS;
		if (pending.count == MAX_PENDING) {
			refusals_add("%d connections sending their requests at once: dropped the oldest",
				     MAX_PENDING);
			drop(unpend(0));
		}
		pending.conn[pending.count++] = conn;
	}
}

/* Reads what came, hands over what is whole, drops what is overdue. A
 * whole request that found no free slot waits without being polled. */
static void serve_pending(const struct pollfd *p, long now)
{
	for (int i = pending.count - 1; i >= 0; i--) {
		struct connection *conn = pending.conn[i];
		bool whole = conn->got == sizeof(conn->req);
		int r = whole ? 1 : 0;

		if (!whole && p[i].revents != 0)
			r = read_more(conn);
		if (r < 0) {
			drop(unpend(i));
		} else if (r == 1) {
			if (hand_over(conn))
				unpend(i);
		} else if (now >= conn->due_ms) {
			refusals_add("a request not whole after %d ms (%zu of %zu bytes)",
				     REQUEST_TIMEOUT_MS, conn->got,
				     sizeof(conn->req));
			drop(unpend(i));
		}
	}
}

/* How long poll() may sleep: until the next look at the socket's file,
 * the first deadline, or (whole requests waiting for a slot) a moment. */
static int poll_timeout(long now)
{
	long timeout = BOSS_SLICE_MS;

	for (int i = 0; i < pending.count; i++) {
		const struct connection *conn = pending.conn[i];

		if (conn->got == sizeof(conn->req))
			return 10;
		if (conn->due_ms - now < timeout)
			timeout = conn->due_ms - now;
	}
	return timeout < 0 ? 0 : (int)timeout;
}

/*
 * The boss: one poll() over the wake pipe, the listener and every pending
 * connection. Ends when the signal thread wakes it (or when it cannot go
 * on; cache_cannot_go_on() then stopped the process).
 */
static void *gather_requests(void *unused)
{
	static struct pollfd p[2 + MAX_PENDING];
	long last_look = gfnet_now_ms();

	(void)unused;
	while (!atomic_load(cache_stopping())) {
		long now;
		int n;

		refusals_report(false);
		p[0] = (struct pollfd){ .fd = cache.wake[0], .events = POLLIN };
		p[1] = (struct pollfd){ .fd = cache.listener, .events = POLLIN };
		for (int i = 0; i < pending.count; i++) {
			const struct connection *conn = pending.conn[i];

			p[2 + i] = (struct pollfd){
				.fd = conn->fd,
				.events = conn->got < sizeof(conn->req) ? POLLIN : 0,
			};
		}
		n = poll(p, 2 + (nfds_t)pending.count, poll_timeout(gfnet_now_ms()));
		if (n < 0 && errno != EINTR) {
			cache_cannot_go_on("poll", strerror(errno));
			break;
		}
		if (n < 0)
			continue;	/* p[].revents are stale */
		if (p[0].revents != 0)
			break;
		now = gfnet_now_ms();
		serve_pending(p + 2, now);
		if (p[1].revents != 0)
			accept_connections();
		if (now - last_look >= BOSS_SLICE_MS) {
			watch_socket_file();
			last_look = now;
		}
	}
	while (pending.count > 0)
		drop(unpend(pending.count - 1));
	return NULL;
}

/* ---- The workers ---- */

/* gfnet_send_within() bounds the whole send, so a proxy that stops
 * reading holds a worker here at most SOCKET_IO_TIMEOUT_MS. */
static int answer(int fd, enum answer_status status, uint64_t file_len)
{
	struct cache_answer a = { .status = status, .file_len = file_len };

	if (gfnet_send_within(fd, &a, sizeof(a), SOCKET_IO_TIMEOUT_MS) != 0) {
		fprintf(stderr, "simplecached: sending an answer: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

/* Fills the data area with the next chunk of the file; pread because all
 * workers share the cache's descriptor and its offset. */
static int read_chunk(int fd, struct segment *seg, off_t offset, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, seg->data + done, len - done,
				  offset + (off_t)done);

		if (n < 0) {
			perror("simplecached: reading a cached file");
			return -1;
		}
		if (n == 0) {
			fprintf(stderr, "simplecached: a cached file shrank while it was sent\n");
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

/* Says why a worker stopped filling a segment, in the words of what
 * happened. The lock's own failures were said where they happened. */
static void report_stop(const struct segment *seg, enum wait_result r)
{
	if (r == WAIT_TIMEOUT)
		fprintf(stderr, "simplecached: the proxy did not free %s in time\n",
			seg->name);
	else if (r == WAIT_STALE)
		fprintf(stderr, "simplecached: the proxy gave up on the transfer in %s\n",
			seg->name);
}

/* Copies file_len bytes of fd into the segment, one claimed chunk at a
 * time. A chunk of 0 bytes tells the proxy the file could not be read. */
static void send_file(struct segment *seg, uint64_t generation, int fd,
		      uint64_t file_len)
{
	uint64_t offset = 0;

	//@ begin copy the file in chunks
	while (offset < file_len) {
		uint64_t left = file_len - offset;
		size_t len = left < seg->capacity ? (size_t)left : seg->capacity;
		enum wait_result r = channel_claim_space(seg, generation,
							 cache_stopping());

		if (r != WAIT_OK) {
			report_stop(seg, r);
			return;
		}
		if (read_chunk(fd, seg, (off_t)offset, len) != 0) {
			/* The proxy stops at a chunk of 0 bytes; if even that
			 * cannot be handed over, its wait runs out. */
			report_stop(seg, channel_put_chunk(seg, file_len, 0));
			return;
		}
		r = channel_put_chunk(seg, file_len, len);
		if (r != WAIT_OK) {
			report_stop(seg, r);
			return;
		}
		offset += len;
	}
	//@ end
}

const size_t segment_maps_size = sizeof(struct segment_maps);

static void serve(struct segment_maps *maps, void *request)
{
	const struct connection *conn = request;
	const struct cache_request *req = &conn->req;
	struct segment *seg;
	struct stat st;
	int fd;

	seg = segment_attach(maps, req->segment, req->segment_size);
	if (seg == NULL) {
		answer(conn->fd, ANSWER_ERROR, 0);
		return;
	}
	fd = simplecache_get(req->path);
	if (fd < 0) {
		answer(conn->fd, ANSWER_NOT_FOUND, 0);
		return;
	}
	if (fstat(fd, &st) != 0) {
		perror("simplecached: fstat of a cached file");
		answer(conn->fd, ANSWER_ERROR, 0);
		return;
	}
	/* A proxy that is no longer listening has given up on the transfer. */
	if (answer(conn->fd, ANSWER_FOUND, (uint64_t)st.st_size) == 0)
		send_file(seg, req->generation, fd, (uint64_t)st.st_size);
}

/* Served or not: the proxy, if it still waits, sees the connection end. */
static void end_request(void *request)
{
	drop(request);
}

/* ---- The channel's life ---- */

/* The boss sleeps in poll() on the listener and the wake pipe; closing
 * the pipe's write end wakes it without any race between a flag and the
 * call. */
static void wake_boss(void)
{
	close(cache.wake[1]);
	cache.wake[1] = -1;
}

static int open_channel(void)
{
	if (pipe(cache.wake) != 0) {
		perror("simplecached: pipe");
		return -1;
	}
	return bind_channel();
}

static void close_channel(void)
{
	remove_listener();
	for (int i = 0; i < 2; i++)
		if (cache.wake[i] >= 0)
			close(cache.wake[i]);
}

/* For the watchdog (lab/watchdog.h): a thread is stuck, so only the
 * socket's file goes; the descriptors go with the process. */
static void unlink_socket_file(void)
{
	if (unlink(cache.addr.sun_path) != 0)
		fprintf(stderr, "simplecached: unlink %s: %s\n",
			cache.addr.sun_path, strerror(errno));
}

static const struct cache_channel socket_channel = {
	.open = open_channel,
	.close = close_channel,
	.remove_name = unlink_socket_file,
	.boss = gather_requests,
	.wake_boss = wake_boss,
	.serve = serve,
	.end_request = end_request,
};

int main(int argc, char **argv)
{
	return cache_run(argc, argv, &socket_channel);
}
