/*
 * simplecached.c: the cache process. What is here is fixed by the framework
 * and the rules: the flags (lab/cmdline.h; -t is how many lookups may run
 * at once), the cache store (lab/simplecache.h: it opens every listed file
 * at start; a lookup returns a descriptor to read with pread, and sleeps -d
 * microseconds first), and a signal thread (lab/stop_signals.h), so that
 * SIGINT and SIGTERM are ordinary events in ordinary code.
 *
 * Design track: the rest is yours. The rules (handouts/rules.md) say the
 * cache creates its command channel, a Unix-domain stream socket listening
 * at the path ipcname_socket() gives, when it starts and removes it when
 * it stops (rule 1); that up to -t lookups run at once, one per request
 * (rule 2); that it serves several proxies at once and trusts nothing that
 * arrives on the socket (rules 2 and 6); and that on a signal it stops
 * taking work, wakes and joins every thread, removes its socket's file and
 * exits 0 within 2 s (rule 3). Which threads it runs, and in what order it stops them, is
 * your design.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache-student.h"
#include "cmdline.h"
#include "shm_channel.h"
#include "simplecache.h"
#include "stop_signals.h"

#include <errno.h>
#include <poll.h>
#include <semaphore.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "deadline.h"
#include "gfnet.h"

/* Shared by every thread. `stopping` is set once, by the signal thread. */
static struct {
	struct cache_options opt;
	atomic_bool stopping;
	int listener;
	struct sockaddr_un where;
	sem_t seats;		/* rule 2: at most -t connections served at once */
	atomic_int running;	/* connection threads not yet finished */
} cache;

/* Reads exactly len bytes within ms; false on anything else. */
static bool recv_all(int fd, void *buf, size_t len, int ms)
{
	long until = gfnet_now_ms() + ms;
	size_t got = 0;

	while (got < len) {
		ssize_t n;

		if (atomic_load(&cache.stopping) || gfnet_wait(fd, POLLIN, until) <= 0)
			return false;
		n = recv(fd, (char *)buf + got, len - got, 0);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* Rule 6: an ask is believed only whole and in range. */
static bool ask_ok(const struct ask *a)
{
	return a->version == ASK_VERSION && a->path_len < sizeof(a->path) && a->path[a->path_len] == '\0' &&
	       strlen(a->path) == a->path_len && a->pid > 0;
}

/* Moves the file into the lane, one chunk per turn, while the generation holds. */
static void fill_lane(struct lane *l, int fd, uint64_t size, uint32_t gen)
{
	uint64_t off = 0;

	if (lane_lock(l) != 0)
		return;
	while (off < size && l->hdr->generation == gen && !l->hdr->abandoned) {
		ssize_t n;

		while (l->hdr->full && l->hdr->generation == gen && !l->hdr->abandoned &&
		       !atomic_load(&cache.stopping))
			if (lane_timed(&l->hdr->emptied, l, CHUNK_WAIT_MS) == ETIMEDOUT)
				goto out;
		if (l->hdr->full || l->hdr->generation != gen || atomic_load(&cache.stopping))
			break;
		n = pread(fd, l->chunk, l->room < size - off ? l->room : size - off, (off_t)off);
		if (n <= 0)
			break;
		l->hdr->chunk_len = (uint64_t)n;
		l->hdr->full = true;
		off += (uint64_t)n;
		pthread_cond_signal(&l->hdr->filled);
	}
out:
	pthread_mutex_unlock(&l->hdr->mutex);
}

static void answer(int conn)
{
	struct ask a;
	struct reply r = { .code = REPLY_TROUBLE };
	struct lane l = { 0 };
	char name[IPCNAME_MAX];
	struct stat st;
	int fd = -1;

	if (!recv_all(conn, &a, sizeof(a), ASK_IO_MS) || !ask_ok(&a))
		return;
	r.generation = a.generation;
	if (ipcname_segment(name, sizeof(name), (pid_t)a.pid, a.lane) != 0 || lane_attach(&l, name) != 0) {
		gfnet_send_within(conn, &r, sizeof(r), ASK_IO_MS);
		return;
	}
	fd = simplecache_get(a.path);
	if (fd < 0)
		r.code = REPLY_MISSING;
	else if (fstat(fd, &st) == 0) {
		r.code = REPLY_FOUND;
		r.length = (uint64_t)st.st_size;
	}
	if (gfnet_send_within(conn, &r, sizeof(r), ASK_IO_MS) == 0 && r.code == REPLY_FOUND)
		fill_lane(&l, fd, r.length, a.generation);
	lane_detach(&l);
}

static void *connection(void *arg)
{
	int conn = (int)(intptr_t)arg;

	answer(conn);
	close(conn);
	sem_post(&cache.seats);
	atomic_fetch_sub(&cache.running, 1);
	return NULL;
}

/* Accepts while running; each connection gets a detached thread and a seat. */
static void *accept_loop(void *unused)
{
	(void)unused;
	while (!atomic_load(&cache.stopping)) {
		struct timespec t = deadline_after(CLOCK_REALTIME, 150);
		pthread_t th;
		int conn;

		if (sem_timedwait(&cache.seats, &t) != 0)
			continue;
		if (gfnet_wait(cache.listener, POLLIN, gfnet_now_ms() + 150) <= 0 ||
		    (conn = accept(cache.listener, NULL, NULL)) < 0) {
			sem_post(&cache.seats);
			continue;
		}
		atomic_fetch_add(&cache.running, 1);
		if (pthread_create(&th, NULL, connection, (void *)(intptr_t)conn) != 0) {
			close(conn);
			sem_post(&cache.seats);
			atomic_fetch_sub(&cache.running, 1);
			continue;
		}
		pthread_detach(th);
	}
	return NULL;
}

static int listen_here(void)
{
	cache.where.sun_family = AF_UNIX;
	if (ipcname_socket(cache.where.sun_path, sizeof(cache.where.sun_path)) != 0)
		return -1;
	cache.listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cache.listener < 0)
		return -1;
	if (bind(cache.listener, (struct sockaddr *)&cache.where, sizeof(cache.where)) != 0 ||
	    listen(cache.listener, 128) != 0) {
		perror("simplecached: bind/listen");
		close(cache.listener);
		return -1;
	}
	return 0;
}

/*
 * Signals arrive here and only here (every other thread blocks them). A
 * thread of yours that waits on the socket or on a segment must notice
 * `stopping` within a fraction of a second, or be woken from here.
 */
static void *wait_for_signal(void *arg)
{
	const sigset_t *signals = arg;

	stop_signals_wait(signals, "simplecached");
	atomic_store(&cache.stopping, true);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t signal_thread;
	sigset_t signals;
	int err;

	cache.opt = cache_options_parse(argc, argv);
	/* Blocked before any thread exists, so every thread inherits it. */
	stop_signals_block(&signals);

	if (simplecache_init(cache.opt.cachelist) != 0)
		return 1;
	simplecache_set_delay(cache.opt.delay_us);
	/* Rule 1: the command channel exists from here on. */
	pthread_t acceptor;
	if (sem_init(&cache.seats, 0, (unsigned)cache.opt.threads) != 0 || listen_here() != 0) {
		simplecache_destroy();
		return 1;
	}
	if (pthread_create(&acceptor, NULL, accept_loop, NULL) != 0) {
		unlink(cache.where.sun_path);
		return 1;
	}
	err = pthread_create(&signal_thread, NULL, wait_for_signal, &signals);
	if (err != 0) {
		fprintf(stderr, "simplecached: pthread_create: %s\n",
			strerror(err));
		simplecache_destroy();
		return 1;
	}
	pthread_join(signal_thread, NULL);
	pthread_join(acceptor, NULL);
	/* Connection threads see `stopping` within one bounded wait. */
	while (atomic_load(&cache.running) > 0)
		sleep_ms(10);
	close(cache.listener);
	unlink(cache.where.sun_path);
	/* Rule 3: every thread joined, the channel removed, before this. */
	simplecache_destroy();
	return 0;
}
