/*
 * simplecached.c: the cache process. It owns the command channel, one
 * POSIX message queue. A boss thread receives requests and hands them to a
 * pool of worker threads; a worker copies the requested file into the
 * proxy's segment chunk by chunk (shm_channel.h). On SIGINT or SIGTERM it
 * stops taking work, joins every thread, unlinks its queue and exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <mqueue.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "bqueue.h"
#include "cache-student.h"
#include "shm_channel.h"
#include "simplecache.h"

#define USAGE \
	"usage: simplecached [-c cache list (locals.txt)] [-t threads 1..512 (8)]\n" \
	"                    [-d lookup delay us 0..2500000 (0)] [-h]\n"

struct options {
	const char *cachelist;
	int threads;
	unsigned delay_us;
};

/* Shared by all threads. `queue` and `work` are created before any thread
 * starts and destroyed after all are joined. */
static struct {
	mqd_t queue;
	char queue_name[IPCNAME_MAX];
	bqueue_t *work;		/* received requests, boss -> workers */
	atomic_bool stopping;
} cache;

static void usage_error(void)
{
	fputs(USAGE, stderr);
	exit(2);
}

static struct options parse_options(int argc, char **argv)
{
	struct options o = { "locals.txt", 8, 0 };
	long v;
	int c;

	while ((c = getopt(argc, argv, "c:t:d:h")) != -1) {
		switch (c) {
		case 'c':
			o.cachelist = optarg;
			break;
		case 't':
			if (args_parse_long(optarg, 1, 512, &v) != 0)
				usage_error();
			o.threads = (int)v;
			break;
		case 'd':
			if (args_parse_long(optarg, 0, SIMPLECACHE_MAX_DELAY_US,
					    &v) != 0)
				usage_error();
			o.delay_us = (unsigned)v;
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

/* ---- The command channel ---- */

static int create_queue(void)
{
	if (ipcname_queue(cache.queue_name, sizeof(cache.queue_name)) != 0)
		return -1;
	//@ begin create the command channel
	struct mq_attr attr = {
		.mq_maxmsg = CACHE_QUEUE_MAXMSG,
		.mq_msgsize = sizeof(struct cache_request),
	};

	/* A queue left by a cache that crashed holds requests nobody is
	 * waiting for any more: start empty. */
	if (mq_unlink(cache.queue_name) == 0)
		fprintf(stderr, "simplecached: removed a stale queue %s\n",
			cache.queue_name);
	cache.queue = mq_open(cache.queue_name, O_RDWR | O_CREAT | O_EXCL,
			      0600, &attr);
	if (cache.queue == (mqd_t)-1) {
		fprintf(stderr, "simplecached: mq_open %s: %s\n",
			cache.queue_name, strerror(errno));
		return -1;
	}
	return 0;
	//@ todo Create the request queue cache.queue_name (mode 0600) with room
	//@ todo for CACHE_QUEUE_MAXMSG messages of sizeof(struct cache_request)
	//@ todo bytes, open for reading and writing. Remove a stale queue first.
	//@ todo Read mq_open(3), mq_unlink(3), mq_overview(7).
	//@ stub cache.queue = (mqd_t)-1;
	//@ stub return 0;
	//@ end
}

static void remove_queue(void)
{
	//@ begin remove the command channel
	if (cache.queue != (mqd_t)-1) {
		mq_close(cache.queue);
		mq_unlink(cache.queue_name);
	}
	//@ todo Close and unlink the queue, so nothing is left in /dev/mqueue.
	//@ end
}

/* Anything from the queue came from another process: check it whole. */
static bool request_is_valid(const struct cache_request *req, ssize_t len)
{
	return len == (ssize_t)sizeof(*req) &&
	       (req->kind == REQUEST_FILE || req->kind == REQUEST_STOP) &&
	       memchr(req->segment, '\0', sizeof(req->segment)) != NULL &&
	       memchr(req->path, '\0', sizeof(req->path)) != NULL;
}

/* The boss: receive, check, hand over. Ends on a STOP message. */
static void *receive_requests(void *arg)
{
	(void)arg;
	//@ begin receive requests
	for (;;) {
		struct cache_request *req = malloc(sizeof(*req));
		ssize_t len;

		if (req == NULL)
			break;
		len = mq_receive(cache.queue, (char *)req, sizeof(*req), NULL);
		if (len < 0 && errno == EINTR) {
			free(req);
			continue;
		}
		if (len < 0)
			fprintf(stderr, "simplecached: mq_receive: %s\n",
				strerror(errno));
		if (len < 0 || (request_is_valid(req, len) &&
				req->kind == REQUEST_STOP)) {
			free(req);
			break;
		}
		if (!request_is_valid(req, len) ||
		    bqueue_push(cache.work, req) != 0) {
			fprintf(stderr, "simplecached: dropped a malformed request\n");
			free(req);
		}
	}
	//@ todo Receive requests from cache.queue (mq_receive(3)) into memory
	//@ todo of your own, check each with request_is_valid(), and push the
	//@ todo good ones onto cache.work for the workers. Return when a
	//@ todo REQUEST_STOP arrives: that is how shutdown wakes this thread.
	//@ stub (void)request_is_valid;
	//@ end
	return NULL;
}

/* ---- The workers ---- */

/* Fills the data area with the next chunk of the file; pread because all
 * workers share the cache's descriptor and its offset. */
static int read_chunk(int fd, struct segment *seg, off_t offset, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, seg->data + done, len - done,
				  offset + (off_t)done);

		if (n <= 0)
			return -1;	/* a file shrank, or an I/O error */
		done += (size_t)n;
	}
	return 0;
}

static void send_file(struct segment *seg, uint64_t generation, int fd)
{
	struct stat st;
	uint64_t offset = 0;

	if (fstat(fd, &st) != 0) {
		channel_put_chunk(seg, generation, CHUNK_ERROR, 0, 0);
		return;
	}
	//@ begin copy the file in chunks
	for (;;) {
		uint64_t left = (uint64_t)st.st_size - offset;
		size_t len = left < seg->capacity ? (size_t)left : seg->capacity;

		if (read_chunk(fd, seg, (off_t)offset, len) != 0) {
			channel_put_chunk(seg, generation, CHUNK_ERROR, 0, 0);
			return;
		}
		channel_put_chunk(seg, generation, CHUNK_OK,
				  (uint64_t)st.st_size, len);
		offset += len;
		if (offset == (uint64_t)st.st_size)
			return;	/* the proxy holds the turn: hands off */
		if (channel_take_turn(seg, generation, &cache.stopping) !=
		    WAIT_OK) {
			fprintf(stderr, "simplecached: proxy gave up on %s\n",
				seg->name);
			return;
		}
	}
	//@ todo Copy the file into the segment one chunk (at most
	//@ todo seg->capacity bytes) at a time with read_chunk(), handing each
	//@ todo over with channel_put_chunk(). Between chunks take the turn
	//@ todo back with channel_take_turn(), and give up if it fails.
	//@ stub (void)read_chunk;
	//@ stub (void)offset;
	//@ stub channel_put_chunk(seg, generation, CHUNK_ERROR, 0, 0);
	//@ end
}

static void serve_request(struct segment_maps *maps,
			  const struct cache_request *req)
{
	struct segment *seg = segment_attach(maps, req->segment);
	int fd;

	if (seg == NULL)
		return;
	/* A request for a generation that has already passed costs nothing. */
	if (!channel_is_current(seg, req->generation))
		return;
	fd = simplecache_get(req->path);
	if (channel_take_turn(seg, req->generation, &cache.stopping) != WAIT_OK)
		return;
	if (fd < 0)
		channel_put_chunk(seg, req->generation, CHUNK_NOT_FOUND, 0, 0);
	else
		send_file(seg, req->generation, fd);
}

static void *work(void *arg)
{
	struct segment_maps maps = { 0 };
	struct cache_request *req;

	(void)arg;
	while ((req = bqueue_pop(cache.work)) != NULL) {
		if (!atomic_load(&cache.stopping))
			serve_request(&maps, req);
		free(req);
	}
	segment_maps_clear(&maps);
	return NULL;
}

/* ---- Shutdown ---- */

/* The boss sleeps in mq_receive; a STOP message on its own queue wakes it
 * without any race between a flag and the call. */
static void wake_boss(void)
{
	struct cache_request stop = { .kind = REQUEST_STOP };
	struct timespec deadline;

	if (cache.queue == (mqd_t)-1)
		return;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 1;
	if (mq_timedsend(cache.queue, (const char *)&stop, sizeof(stop), 1,
			 &deadline) != 0)
		fprintf(stderr, "simplecached: cannot wake the boss: %s\n",
			strerror(errno));
}

static void *wait_for_signal(void *arg)
{
	sigset_t *signals = arg;
	int sig;

	sigwait(signals, &sig);
	atomic_store(&cache.stopping, true);
	wake_boss();
	return NULL;
}

static int run(const struct options *opt, sigset_t *signals)
{
	pthread_t boss, signal_thread;
	pthread_t *workers = calloc((size_t)opt->threads, sizeof(pthread_t));
	int started = 0;

	if (workers == NULL)
		return 1;
	pthread_create(&signal_thread, NULL, wait_for_signal, signals);
	while (started < opt->threads &&
	       pthread_create(&workers[started], NULL, work, NULL) == 0)
		started++;
	pthread_create(&boss, NULL, receive_requests, NULL);

	/* Only a signal ends the process; the signal thread then wakes the
	 * boss, and the boss's end lets the workers drain and finish. */
	pthread_join(signal_thread, NULL);
	pthread_join(boss, NULL);
	bqueue_close(cache.work);
	for (int i = 0; i < started; i++)
		pthread_join(workers[i], NULL);
	free(workers);
	return 0;
}

int main(int argc, char **argv)
{
	struct options opt = parse_options(argc, argv);
	sigset_t signals;
	int status;

	sigemptyset(&signals);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);

	if (simplecache_init(opt.cachelist) != 0)
		return 1;
	simplecache_set_delay(opt.delay_us);
	cache.work = bqueue_create();
	if (cache.work == NULL || create_queue() != 0) {
		bqueue_destroy(cache.work);
		simplecache_destroy();
		return 1;
	}
	status = run(&opt, &signals);
	remove_queue();
	bqueue_destroy(cache.work);
	simplecache_destroy();
	return status;
}
