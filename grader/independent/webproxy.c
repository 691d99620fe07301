/*
 * webproxy.c (independent implementation): the proxy process. Flags, the
 * pool of ring segments (the data channel it owns), the GETFILE server
 * from lab/, and shutdown by a thread that waits for the signal.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cache-student.h"
#include "gfserver.h"
#include "shm_channel.h"

void handle_with_cache(gfcontext_t *ctx, const char *path, void *arg);

static const char usage_text[] =
	"usage: webproxy [-p port (25362)] [-t threads 1..512 (8)]\n"
	"                [-n segments 1..1024 (8)] [-z segment bytes 824..67108864 (5712)]\n"
	"                [-s server (accepted, unused)] [-h]\n";

struct settings {
	long port, threads, segments, segment_bytes;
};

/*
 * The pool. `rings` holds every segment for the pool's whole life, so
 * shutdown can remove them all; `idle` is a stack of the free ones. All
 * fields but `stopping` are under `lock`. A borrowed ring is touched by
 * its borrower only.
 */
struct proxy_pool {
	pthread_mutex_t lock;
	pthread_cond_t returned;	/* an idle ring, or closed */
	struct ring *rings;
	struct ring **idle;
	size_t count;
	size_t nidle;
	size_t ring_bytes;
	unsigned next_index;		/* the next unused name */
	bool closed;
	atomic_bool stopping;
};

static void usage_exit(int status)
{
	fputs(usage_text, status == 0 ? stdout : stderr);
	exit(status);
}

static long number_or_usage(const char *text, long min, long max)
{
	long v;

	if (args_parse_long(text, min, max, &v) != 0)
		usage_exit(2);
	return v;
}

static struct settings read_settings(int argc, char **argv)
{
	struct settings s = { 25362, 8, 8, 5712 };
	int c;

	while ((c = getopt(argc, argv, ":p:t:n:z:s:h")) != -1) {
		if (c == 'p')
			s.port = number_or_usage(optarg, 1, 65535);
		else if (c == 't')
			s.threads = number_or_usage(optarg, 1, 512);
		else if (c == 'n')
			s.segments = number_or_usage(optarg, 1, 1024);
		else if (c == 'z')
			s.segment_bytes = number_or_usage(optarg, RING_MIN_BYTES,
							  RING_MAX_BYTES);
		else if (c == 'h')
			usage_exit(0);
		else if (c != 's')
			usage_exit(2);
	}
	if (optind != argc)
		usage_exit(2);
	return s;
}

/* ------------------------------------------------------------ the pool */

/* Names are never reused within one proxy, so an order still queued for
 * a replaced segment finds no object (or the orphan), never a new one. */
static int make_ring(struct proxy_pool *pool, struct ring *r)
{
	char name[IPCNAME_MAX];
	unsigned index;

	pthread_mutex_lock(&pool->lock);
	index = pool->next_index++;
	pthread_mutex_unlock(&pool->lock);
	if (ipcname_segment(name, sizeof(name), getpid(), index) != 0)
		return -1;
	return ring_create(r, name, pool->ring_bytes);
}

static void pool_free(struct proxy_pool *pool)
{
	for (size_t i = 0; i < pool->count; i++)
		ring_remove(&pool->rings[i]);
	pthread_cond_destroy(&pool->returned);
	pthread_mutex_destroy(&pool->lock);
	free(pool->idle);
	free(pool->rings);
	free(pool);
}

static struct proxy_pool *pool_new(size_t count, size_t ring_bytes)
{
	struct proxy_pool *pool = calloc(1, sizeof(*pool));

	if (pool == NULL)
		return NULL;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->returned, NULL);
	pool->ring_bytes = ring_bytes;
	pool->rings = calloc(count, sizeof(*pool->rings));
	pool->idle = calloc(count, sizeof(*pool->idle));
	if (pool->rings == NULL || pool->idle == NULL) {
		pool_free(pool);
		return NULL;
	}
	for (size_t i = 0; i < count; i++) {
		if (make_ring(pool, &pool->rings[i]) != 0) {
			pool_free(pool);
			return NULL;
		}
		pool->count++;
		pool->idle[pool->nidle++] = &pool->rings[i];
	}
	return pool;
}

/* Sleeps until a ring is idle; NULL once the pool is closed. */
struct ring *pool_borrow(struct proxy_pool *pool)
{
	struct ring *r = NULL;

	pthread_mutex_lock(&pool->lock);
	while (pool->nidle == 0 && !pool->closed)
		pthread_cond_wait(&pool->returned, &pool->lock);
	if (!pool->closed)
		r = pool->idle[--pool->nidle];
	pthread_mutex_unlock(&pool->lock);
	return r;
}

/*
 * A ring that is not clean may still have a worker inside: it is cancelled
 * and, unless the proxy is stopping, replaced by a fresh object. If no new
 * object can be made, the pool is one short from now on.
 */
void pool_return(struct proxy_pool *pool, struct ring *r, bool clean)
{
	if (!clean) {
		ring_cancel(r);
		if (!atomic_load(&pool->stopping)) {
			ring_remove(r);
			if (make_ring(pool, r) != 0) {
				fprintf(stderr, "webproxy: a segment could not be replaced; the pool is one short\n");
				return;
			}
		}
	}
	pthread_mutex_lock(&pool->lock);
	pool->idle[pool->nidle++] = r;
	pthread_cond_signal(&pool->returned);
	pthread_mutex_unlock(&pool->lock);
}

const atomic_bool *pool_stopping(const struct proxy_pool *pool)
{
	return &pool->stopping;
}

static void pool_close(struct proxy_pool *pool)
{
	atomic_store(&pool->stopping, true);
	pthread_mutex_lock(&pool->lock);
	pool->closed = true;
	pthread_cond_broadcast(&pool->returned);
	pthread_mutex_unlock(&pool->lock);
}

/* ------------------------------------------------------------ shutdown */

struct stopper {
	sigset_t signals;
	struct proxy_pool *pool;
	gfserver_t *server;
};

/* Every other thread blocks the signals, so they arrive here, in ordinary
 * code. It only wakes the others; main removes the segments after it has
 * joined them all. */
static void *await_signal(void *arg)
{
	struct stopper *st = arg;
	int sig;

	if (sigwait(&st->signals, &sig) != 0)
		fputs("webproxy: sigwait failed\n", stderr);
	pool_close(st->pool);
	gfserver_stop(st->server);
	return NULL;
}

int main(int argc, char **argv)
{
	struct settings s = read_settings(argc, argv);
	struct stopper st;
	pthread_t signal_thread;
	char prefix[IPCNAME_MAX];
	int rc;

	if (ipcname_prefix(prefix, sizeof(prefix)) != 0)
		return 1;
	sigemptyset(&st.signals);
	sigaddset(&st.signals, SIGINT);
	sigaddset(&st.signals, SIGTERM);
	/* Before any thread exists, so that every thread inherits the mask. */
	rc = pthread_sigmask(SIG_BLOCK, &st.signals, NULL);
	if (rc != 0) {
		fprintf(stderr, "webproxy: pthread_sigmask: %s\n", strerror(rc));
		return 1;
	}
	st.pool = pool_new((size_t)s.segments, (size_t)s.segment_bytes);
	if (st.pool == NULL) {
		fprintf(stderr, "webproxy: cannot make %ld segments of %ld bytes\n",
			s.segments, s.segment_bytes);
		return 1;
	}
	st.server = gfserver_create((unsigned short)s.port, (int)s.threads,
				    handle_with_cache, st.pool);
	if (st.server == NULL) {
		pool_free(st.pool);
		return 1;
	}
	rc = pthread_create(&signal_thread, NULL, await_signal, &st);
	if (rc != 0) {
		fprintf(stderr, "webproxy: pthread_create: %s\n", strerror(rc));
		gfserver_destroy(st.server);
		pool_free(st.pool);
		return 1;
	}
	gfserver_serve(st.server);
	pthread_join(signal_thread, NULL);
	gfserver_destroy(st.server);
	pool_free(st.pool);
	return 0;
}
