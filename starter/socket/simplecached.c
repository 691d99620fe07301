/*
 * simplecached.c: the cache process. It owns the command channel, a
 * Unix-domain stream socket. A boss thread accepts connections and hands
 * them to a pool of worker threads; a worker reads the request, answers
 * on the same connection, and copies the file into the proxy's segment
 * chunk by chunk (shm_channel.h). On SIGINT or SIGTERM it stops taking
 * work, joins every thread, removes its socket's file and exits 0; if the
 * boss cannot go on, it stops the same way and exits 1.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bqueue.h"
#include "cache-student.h"
#include "cmdline.h"
#include "deadline.h"
#include "gfnet.h"
#include "shm_channel.h"
#include "simplecache.h"
#include "stop_signals.h"

/* Shared by all threads. `listener`, `wake` and `work` are made before any
 * thread starts and closed after all are joined. */
static struct {
	int listener;			/* the listening socket */
	struct sockaddr_un addr;	/* its path */
	int wake[2];			/* a pipe: the signal thread wakes the boss */
	bqueue_t *work;			/* accepted connections, boss -> workers */
	atomic_bool stopping;
	atomic_bool failed;		/* cannot_go_on() was called: exit 1 */
} cache = { .listener = -1, .wake = { -1, -1 } };

/* How long the boss pauses after accept() fails for want of resources. */
#define ACCEPT_RETRY_MS 100

/* One accepted connection, owned by whoever holds the pointer. */
struct connection {
	int fd;
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
	/*
	 * TODO(remove the command channel):
	 * Close the listening socket and remove its file, so nothing is
	 * left in /dev/shm; say so if the file cannot be removed.
	 * Read unlink(2).
	 */
	cache.listener = -1;
}

static int create_listener(void)
{
	cache.addr.sun_family = AF_UNIX;
	if (ipcname_socket(cache.addr.sun_path, sizeof(cache.addr.sun_path)) != 0)
		return -1;
	/*
	 * TODO(create the command channel):
	 * Make cache.listener a Unix-domain stream socket listening at
	 * cache.addr (backlog CACHE_BACKLOG), its file mode 0600. Call
	 * remove_stale_socket() first: a crashed cache leaves its file.
	 * Read socket(2), bind(2), listen(2), unix(7).
	 */
	(void)remove_stale_socket;
	return 0;
}

/* The cache cannot serve (its boss failed, or a thread would not start):
 * say which call failed and why, and stop the whole process the way a
 * SIGTERM does, so that it exits (non-zero) instead of staying up and
 * answering nothing. */
static void cannot_go_on(const char *call, const char *why)
{
	fprintf(stderr, "simplecached: %s: %s; exiting\n", call, why);
	atomic_store(&cache.failed, true);
	if (kill(getpid(), SIGTERM) != 0)
		perror("simplecached: kill");
}

/*
 * Accepts one connection. Returns its descriptor, or -1 when woken to stop
 * or when the boss cannot go on (then cannot_go_on() has stopped the
 * process). The boss sleeps in poll() on both the listener and the wake
 * pipe.
 */
static int accept_connection(void)
{
	struct pollfd p[2] = {
		{ .fd = cache.listener, .events = POLLIN },
		{ .fd = cache.wake[0], .events = POLLIN },
	};

	for (;;) {
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;	/* p[].revents are stale */
			cannot_go_on("poll", strerror(errno));
			return -1;
		}
		if (p[1].revents != 0)
			return -1;
		if (p[0].revents == 0)
			continue;
		fd = accept(cache.listener, NULL, NULL);
		if (fd >= 0)
			return fd;
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		/* Out of descriptors or memory: the connection stays queued
		 * and poll() would report it again at once. Pause instead of
		 * spinning. */
		perror("simplecached: accept");
		sleep_ms(ACCEPT_RETRY_MS);
	}
}

/* The boss: accept and hand over. Ends when the signal thread wakes it. */
static void *accept_requests(void *arg)
{
	int fd;

	(void)arg;
	/*
	 * TODO(accept requests):
	 * Accept connections (accept_connection() sleeps in poll until
	 * one arrives, and returns -1 when it is time to stop) and push
	 * each, in a struct connection of its own, onto cache.work for
	 * the workers. Without memory for one, call cannot_go_on().
	 */
	(void)fd;
	(void)accept_connection;
	(void)cannot_go_on;
	return NULL;
}

/* ---- The workers ---- */

/* Anything from the socket came from another process: check it whole. */
static bool request_is_valid(const struct cache_request *req)
{
	return memchr(req->segment, '\0', sizeof(req->segment)) != NULL &&
	       memchr(req->path, '\0', sizeof(req->path)) != NULL &&
	       req->segment_size >= SEGMENT_MIN_SIZE &&
	       req->segment_size <= SEGMENT_MAX_SIZE;
}

/* Reads the whole fixed-size request, bounded. */
static int read_request(int fd, struct cache_request *req)
{
	/*
	 * TODO(read a request):
	 * Read exactly one struct cache_request from fd, giving up after
	 * REQUEST_TIMEOUT_MS or when cache.stopping becomes true
	 * (gfnet_recv_all does both). Check it with request_is_valid().
	 * Return 0, or -1.
	 */
	(void)fd;
	(void)req;
	(void)request_is_valid;
	return -1;
}

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

	/*
	 * TODO(copy the file in chunks):
	 * Until file_len bytes are copied: claim the data area
	 * (channel_claim_space; give up if it fails), read the next chunk
	 * of at most seg->capacity bytes into it (read_chunk) and hand
	 * it over (channel_put_chunk). If read_chunk fails, hand over a
	 * chunk of 0 bytes so the proxy stops at once, and give up. Say
	 * why a transfer stops early (report_stop).
	 */
	(void)seg;
	(void)generation;
	(void)fd;
	(void)file_len;
	(void)offset;
	(void)read_chunk;
	(void)report_stop;
}

static void serve(struct segment_maps *maps, int conn)
{
	struct cache_request req;
	struct segment *seg;
	struct stat st;
	int fd;

	if (read_request(conn, &req) != 0)
		return;
	seg = segment_attach(maps, req.segment, req.segment_size);
	if (seg == NULL) {
		answer(conn, ANSWER_ERROR, 0);
		return;
	}
	fd = simplecache_get(req.path);
	if (fd < 0) {
		answer(conn, ANSWER_NOT_FOUND, 0);
		return;
	}
	if (fstat(fd, &st) != 0) {
		perror("simplecached: fstat of a cached file");
		answer(conn, ANSWER_ERROR, 0);
		return;
	}
	/* A proxy that is no longer listening has given up on the transfer. */
	if (answer(conn, ANSWER_FOUND, (uint64_t)st.st_size) == 0)
		send_file(seg, req.generation, fd, (uint64_t)st.st_size);
}

static void *work(void *arg)
{
	struct segment_maps maps = { 0 };
	struct connection *conn;

	(void)arg;
	while ((conn = bqueue_pop(cache.work)) != NULL) {
		if (!atomic_load(&cache.stopping))
			serve(&maps, conn->fd);
		close(conn->fd);
		free(conn);
	}
	segment_maps_clear(&maps);
	return NULL;
}

/* ---- Shutdown ---- */

/* The boss sleeps in poll() on the listener and the wake pipe; closing
 * the pipe's write end wakes it without any race between a flag and the
 * call. */
static void *wait_for_signal(void *arg)
{
	stop_signals_wait(arg, "simplecached");
	atomic_store(&cache.stopping, true);
	close(cache.wake[1]);
	cache.wake[1] = -1;
	return NULL;
}

static void close_wake_pipe(void)
{
	for (int i = 0; i < 2; i++)
		if (cache.wake[i] >= 0)
			close(cache.wake[i]);
}

static int run(const struct cache_options *opt, sigset_t *signals)
{
	pthread_t boss, signal_thread;
	pthread_t *workers = calloc((size_t)opt->threads, sizeof(pthread_t));
	bool boss_started = false;
	int started = 0;
	int err;

	if (workers == NULL) {
		fprintf(stderr, "simplecached: no memory for %d threads\n",
			opt->threads);
		return 1;
	}
	err = pthread_create(&signal_thread, NULL, wait_for_signal, signals);
	if (err != 0) {
		fprintf(stderr, "simplecached: pthread_create: %s\n",
			strerror(err));
		free(workers);
		return 1;
	}
	while (err == 0 && started < opt->threads) {
		err = pthread_create(&workers[started], NULL, work, NULL);
		if (err == 0)
			started++;
	}
	if (err == 0) {
		err = pthread_create(&boss, NULL, accept_requests, NULL);
		boss_started = err == 0;
	}
	if (err != 0)
		cannot_go_on("pthread_create", strerror(err));

	/* Only a signal ends the process (a failing boss sends one); the
	 * boss's end lets the workers drain and finish. Join only what
	 * started. */
	if (boss_started)
		pthread_join(boss, NULL);
	pthread_join(signal_thread, NULL);
	bqueue_close(cache.work);
	for (int i = 0; i < started; i++)
		pthread_join(workers[i], NULL);
	free(workers);
	return atomic_load(&cache.failed) ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct cache_options opt = cache_options_parse(argc, argv);
	sigset_t signals;
	int status;

	stop_signals_block(&signals);

	if (simplecache_init(opt.cachelist) != 0)
		return 1;
	simplecache_set_delay(opt.delay_us);
	cache.work = bqueue_create();
	if (cache.work == NULL) {
		fprintf(stderr, "simplecached: no memory for the work list\n");
		status = 1;
	} else if (pipe(cache.wake) != 0) {
		perror("simplecached: pipe");
		status = 1;
	} else if (create_listener() != 0) {
		status = 1;
	} else {
		status = run(&opt, &signals);
	}
	remove_listener();
	close_wake_pipe();
	bqueue_destroy(cache.work);
	simplecache_destroy();
	return status;
}
