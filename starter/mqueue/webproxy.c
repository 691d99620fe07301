/*
 * webproxy.c: the proxy process. Reads its flags, creates the pool of
 * shared-memory segments (the data channel it owns), serves GETFILE
 * clients through handle_with_cache(), and shuts down cleanly on SIGINT or
 * SIGTERM: stop accepting, wake every thread, join them, unlink every
 * segment, free everything, exit 0.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "bqueue.h"
#include "cache-student.h"
#include "gfserver.h"
#include "segment_pool.h"
#include "shm_channel.h"

#define USAGE \
	"usage: webproxy [-p port (25362)] [-t threads 1..512 (8)]\n" \
	"                [-n segments 1..1024 (8)] [-z segment bytes 824..67108864 (5712)]\n" \
	"                [-s server (accepted, unused)] [-h]\n"

_Static_assert(SEGMENT_MIN_SIZE == 824 && SEGMENT_MAX_SIZE == 67108864,
	       "the usage line states the -z range");

/* A failed replacement is retried after 10 ms, then twice as long each
 * time up to this: a pool never shrinks for good, and shutdown stays quick. */
#define REPLACE_FIRST_BACKOFF_MS 10
#define REPLACE_MAX_BACKOFF_MS 320

struct options {
	unsigned short port;
	int threads;
	size_t nsegments;
	size_t segment_size;
};

/*
 * Every segment lives in `segments` for the pool's whole life. A free one
 * is also in `free`. Handlers take from `free` and give back; nothing else
 * touches a taken segment. `next_serial` names replacement segments.
 */
struct segment_pool {
	struct segment *segments;
	size_t count;
	size_t segment_size;
	bqueue_t *free;
	atomic_uint next_serial;
	atomic_bool stopping;
};

static void usage_error(void)
{
	fputs(USAGE, stderr);
	exit(2);
}

static struct options parse_options(int argc, char **argv)
{
	struct options o = { 25362, 8, 8, 5712 };
	long v;
	int c;

	while ((c = getopt(argc, argv, "p:t:n:z:s:h")) != -1) {
		switch (c) {
		case 'p':
			if (args_parse_long(optarg, 1, 65535, &v) != 0)
				usage_error();
			o.port = (unsigned short)v;
			break;
		case 't':
			if (args_parse_long(optarg, 1, 512, &v) != 0)
				usage_error();
			o.threads = (int)v;
			break;
		case 'n':
			if (args_parse_long(optarg, 1, 1024, &v) != 0)
				usage_error();
			o.nsegments = (size_t)v;
			break;
		case 'z':
			if (args_parse_long(optarg, SEGMENT_MIN_SIZE,
					    SEGMENT_MAX_SIZE, &v) != 0)
				usage_error();
			o.segment_size = (size_t)v;
			break;
		case 's':
			break;
		case 'h':
			fputs(USAGE, stdout);
			exit(0);
		default:
			usage_error();
		}
	}
	if (optind != argc)
		usage_error();
	return o;
}

/* ---- The pool ---- */

static void sleep_ms(int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&t, NULL);
}

static int name_segment(struct segment_pool *pool, char *name, size_t size)
{
	return ipcname_segment(name, size, getpid(),
			       atomic_fetch_add(&pool->next_serial, 1));
}

/*
 * A segment name carries its owner's pid, and no two live processes share
 * a pid, so a name with OUR pid was left by a dead process that had it
 * before (a pid namespace reuses pids from 1 on every run). Remove them
 * all before creating any. POSIX cannot list shared-memory objects; on
 * Linux they are the files of /dev/shm.
 */
static void remove_stale_segments(void)
{
	DIR *dir = opendir("/dev/shm");
	struct dirent *e;

	if (dir == NULL) {
		fprintf(stderr, "webproxy: cannot look for stale segments: /dev/shm: %s\n",
			strerror(errno));
		return;
	}
	while ((e = readdir(dir)) != NULL) {
		char name[IPCNAME_MAX];
		pid_t owner;

		if (snprintf(name, sizeof(name), "/%s", e->d_name) >=
		    (int)sizeof(name))
			continue;
		if (ipcname_segment_owner(name, &owner, NULL) != 0 ||
		    owner != getpid())
			continue;
		if (shm_unlink(name) == 0)
			fprintf(stderr, "webproxy: removed %s, left by a dead process with my pid\n",
				name);
		else
			fprintf(stderr, "webproxy: shm_unlink %s: %s\n", name,
				strerror(errno));
	}
	closedir(dir);
}

static void pool_destroy(struct segment_pool *pool)
{
	/*
	 * TODO(destroy the pool):
	 * Remove every segment the proxy created (segment_destroy), so
	 * that nothing is left in /dev/shm after a shutdown.
	 */
	bqueue_destroy(pool->free);
	free(pool->segments);
	free(pool);
}

static struct segment_pool *pool_create(size_t count, size_t segment_size)
{
	struct segment_pool *pool = calloc(1, sizeof(*pool));

	if (pool == NULL)
		return NULL;
	pool->segments = calloc(count, sizeof(struct segment));
	pool->free = bqueue_create();
	pool->count = count;
	pool->segment_size = segment_size;
	if (pool->segments == NULL || pool->free == NULL) {
		pool_destroy(pool);
		return NULL;
	}
	remove_stale_segments();
	/*
	 * TODO(create the segments):
	 * Create `count` segments of exactly `segment_size` bytes each
	 * (name them with name_segment(), create them with
	 * segment_create()) and push each onto pool->free.
	 * Until then the pool stays empty and closed, so every request
	 * gets a prompt GETFILE ERROR instead of waiting forever.
	 */
	(void)name_segment;
	bqueue_close(pool->free);
	return pool;
}

/* The caller holds the segment's turn. Pushing fails only once the pool
 * is closed for shutdown; the segment is then destroyed with the pool. */
void pool_give_back(struct segment_pool *pool, struct segment *seg)
{
	assert(seg->holds_turn);
	bqueue_push(pool->free, seg);
}

/*
 * Makes a fresh object for seg, under a new name: a late worker, or any
 * other process, can then only write into the orphan. A name can be taken
 * (another process of this user may have made it first), so each try uses
 * the next name, after a growing but bounded pause.
 */
static void renew_segment(struct segment_pool *pool, struct segment *seg,
			  const char *why)
{
	int backoff_ms = REPLACE_FIRST_BACKOFF_MS;

	fprintf(stderr, "webproxy: replacing segment %s: %s\n", seg->name, why);
	segment_destroy(seg);
	for (;;) {
		char name[IPCNAME_MAX];

		if (name_segment(pool, name, sizeof(name)) == 0 &&
		    segment_create(seg, name, pool->segment_size) == 0)
			break;
		if (atomic_load(&pool->stopping))
			return;	/* nothing to give back: seg is unmapped */
		sleep_ms(backoff_ms);
		backoff_ms = backoff_ms * 2 > REPLACE_MAX_BACKOFF_MS ?
			     REPLACE_MAX_BACKOFF_MS : backoff_ms * 2;
	}
	pool_give_back(pool, seg);
}

/*
 * Waits (sleeping, not spinning) for a free segment, at most
 * POOL_TAKE_TIMEOUT_MS for each. NULL then, or once the proxy is stopping.
 * A segment someone tampered with while it sat in the pool is renewed, not
 * handed out.
 */
struct segment *pool_take(struct segment_pool *pool)
{
	struct segment *seg;

	while ((seg = bqueue_pop_timed(pool->free, POOL_TAKE_TIMEOUT_MS)) !=
	       NULL) {
		if (channel_is_idle(seg))
			return seg;
		renew_segment(pool, seg, "tampered with while free");
	}
	if (!atomic_load(&pool->stopping))
		fprintf(stderr, "webproxy: no segment came free in %d ms\n",
			POOL_TAKE_TIMEOUT_MS);
	return NULL;
}

/* The caller gave up while the cache held the turn, so a late worker may
 * still write into this object. */
void pool_replace(struct segment_pool *pool, struct segment *seg)
{
	renew_segment(pool, seg, "the turn was lost");
}

const atomic_bool *pool_stopping(const struct segment_pool *pool)
{
	return &pool->stopping;
}

/* ---- Shutdown ---- */

struct shutdown_context {
	gfserver_t *server;
	struct segment_pool *pool;
	sigset_t signals;
};

/*
 * Signals arrive here and only here (every other thread blocks them), so
 * the work done on a signal can be ordinary code. Waking the others is
 * enough: main joins them and only then unlinks the segments.
 */
static void *wait_for_signal(void *arg)
{
	struct shutdown_context *sc = arg;
	int sig;

	sigwait(&sc->signals, &sig);
	/*
	 * TODO(wake everyone):
	 * Tell the handlers to stop (pool->stopping) and wake those
	 * waiting for a free segment (bqueue_close).
	 */
	gfserver_stop(sc->server);
	return NULL;
}

int main(int argc, char **argv)
{
	struct options opt = parse_options(argc, argv);
	struct shutdown_context sc;
	pthread_t signal_thread;
	char prefix[IPCNAME_MAX];

	if (ipcname_prefix(prefix, sizeof(prefix)) != 0)
		return 1;
	/* Block before any thread exists, so every thread inherits it. */
	sigemptyset(&sc.signals);
	sigaddset(&sc.signals, SIGINT);
	sigaddset(&sc.signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sc.signals, NULL);

	sc.pool = pool_create(opt.nsegments, opt.segment_size);
	if (sc.pool == NULL) {
		fprintf(stderr, "webproxy: cannot create %zu segments of %zu bytes\n",
			opt.nsegments, opt.segment_size);
		return 1;
	}
	sc.server = gfserver_create(opt.port, opt.threads, handle_with_cache,
				    sc.pool);
	if (sc.server == NULL) {
		pool_destroy(sc.pool);
		return 1;
	}
	if (pthread_create(&signal_thread, NULL, wait_for_signal, &sc) != 0) {
		gfserver_destroy(sc.server);
		pool_destroy(sc.pool);
		return 1;
	}
	gfserver_serve(sc.server);
	pthread_join(signal_thread, NULL);
	gfserver_destroy(sc.server);
	pool_destroy(sc.pool);
	return 0;
}
