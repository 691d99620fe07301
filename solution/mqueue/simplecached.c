/*
 * simplecached.c: the cache process. It owns the command channel, one
 * POSIX message queue. A boss thread receives requests and hands them to a
 * pool of worker threads; a worker copies the requested file into the
 * proxy's segment chunk by chunk (shm_channel.h). On SIGINT or SIGTERM it
 * stops taking work, joins every thread, unlinks its queue and exits 0; a
 * boss that fails stops it the same way, with status 1. Nothing that
 * arrives on the queue can stop it, grow its memory or flood its log.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bqueue.h"
#include "cache-student.h"
#include "cmdline.h"
#include "deadline.h"
#include "refusals.h"
#include "shm_channel.h"
#include "simplecache.h"
#include "stop_signals.h"

/*
 * Shared by all threads. `queue`, `work` and `work_slots` are made before
 * any thread starts and destroyed after all are joined. `work_slots` counts
 * the requests the workers may still take on: the boss waits for a slot
 * before it receives, so when the workers fall behind the requests stay in
 * the kernel's queue and its senders feel it (mq_timedsend blocks).
 */
static struct {
	mqd_t queue;
	char queue_name[IPCNAME_MAX];
	bqueue_t *work;		/* received requests, boss -> workers */
	sem_t work_slots;
	atomic_bool stopping;
	atomic_bool failed;	/* the boss failed: exit non-zero */
} cache = { .queue = (mqd_t)-1 };

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
	if (cache.queue == (mqd_t)-1)
		return;
	if (mq_close(cache.queue) != 0)
		fprintf(stderr, "simplecached: mq_close: %s\n", strerror(errno));
	if (mq_unlink(cache.queue_name) != 0)
		fprintf(stderr, "simplecached: mq_unlink %s: %s\n",
			cache.queue_name, strerror(errno));
	//@ todo Close and unlink the queue, so nothing is left in /dev/mqueue.
	//@ end
}

/*
 * The boss sleeps in the kernel at most this long at a time, then looks
 * at cache.stopping: that is how shutdown reaches it. (No message can stop
 * the cache: any process of this user could send it.)
 */
#define BOSS_SLICE_MS 200

/* The cache cannot go on: say why and stop the whole process the way a
 * SIGTERM does (the signal thread wakes), so that it exits non-zero
 * instead of serving nothing. */
static void stop_failing(const char *what, const char *why)
{
	fprintf(stderr, "simplecached: %s: %s; exiting\n", what, why);
	atomic_store(&cache.failed, true);
	if (kill(getpid(), SIGTERM) != 0)
		fprintf(stderr, "simplecached: kill: %s\n", strerror(errno));
}

static void boss_failed(const char *why)
{
	stop_failing("the boss thread failed", why);
}

/* Waits up to BOSS_SLICE_MS for one message. Returns 1 and its length in
 * *len, 0 if none came, or -1 if receiving failed (errno says why). */
static int receive_message(struct cache_request *req, ssize_t *len)
{
	struct timespec deadline;

	//@ begin receive one message
	/* mq_timedreceive() takes a CLOCK_REALTIME deadline. */
	deadline = deadline_after(CLOCK_REALTIME, BOSS_SLICE_MS);
	*len = mq_timedreceive(cache.queue, (char *)req, sizeof(*req), NULL,
			       &deadline);
	if (*len >= 0)
		return 1;
	return errno == ETIMEDOUT || errno == EINTR ? 0 : -1;
	//@ todo Receive one message from cache.queue into *req, its length
	//@ todo into *len, waiting at most BOSS_SLICE_MS (mq_timedreceive(3)
	//@ todo takes a CLOCK_REALTIME deadline). Return 1 if one came, 0 on a
	//@ todo timeout or interruption, -1 on any other failure.
	//@ stub (void)deadline;
	//@ stub (void)req;
	//@ stub *len = 0;
	//@ stub errno = ENOSYS;
	//@ stub return -1;
	//@ end
}

/*
 * The boss: take a work slot, receive, check, hand over. Ends when the
 * process stops; a failure stops the process.
 */
static void *receive_requests(void *arg)
{
	(void)arg;
	//@ begin receive requests
	for (;;) {
		enum wait_result r = segment_wait(&cache.work_slots,
						  BOSS_SLICE_MS,
						  &cache.stopping);
		struct cache_request *req;
		ssize_t len = 0;
		int got = 0;

		refusals_report(false);
		if (r == WAIT_STOPPING)
			return NULL;
		if (r == WAIT_TIMEOUT)
			continue;	/* every worker is busy */
		if (r != WAIT_OK) {
			boss_failed("cannot wait for a work slot");
			return NULL;
		}
		req = malloc(sizeof(*req));
		if (req == NULL) {
			boss_failed("no memory for a request");
			return NULL;
		}
		while (got == 0 && !atomic_load(&cache.stopping))
			got = receive_message(req, &len);
		if (got < 0) {
			char why[128];

			snprintf(why, sizeof(why), "mq_timedreceive: %s",
				 strerror(errno));
			boss_failed(why);
		}
		if (got <= 0) {
			free(req);
			return NULL;
		}
		if (!cache_request_is_valid(req, (size_t)len)) {
			refusals_add("a malformed message of %zd bytes", len);
		} else if (bqueue_push(cache.work, req) == 0) {
			continue;	/* a worker frees req and the slot */
		}
		free(req);
		sem_post(&cache.work_slots);
	}
	//@ todo Loop until cache.stopping: take a slot of cache.work_slots
	//@ todo (segment_wait), receive a message (receive_message) into
	//@ todo memory of your own, check it with cache_request_is_valid(),
	//@ todo and push a good one onto cache.work for the workers. A bad one
	//@ todo is refused (refusals_add()) and its slot given back. Each time
	//@ todo round, refusals_report(false), so a burst is reported even if
	//@ todo no refusal follows it. If anything fails, call boss_failed()
	//@ todo and return.
	//@ stub (void)receive_message;
	//@ stub (void)boss_failed;
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

/* Why a worker left a transfer without finishing it. */
static void report_lost_turn(const struct segment *seg, enum wait_result r)
{
	switch (r) {
	case WAIT_TIMEOUT:
		fprintf(stderr, "simplecached: proxy gave up on %s\n", seg->name);
		break;
	case WAIT_STALE:
		fprintf(stderr, "simplecached: the turn on %s was for another transfer or chunk\n",
			seg->name);
		break;
	case WAIT_BAD_SEGMENT:
	case WAIT_ERROR:	/* both already printed why */
	case WAIT_STOPPING:
	default:
		break;
	}
}

static void send_file(struct segment *seg, const struct cache_request *req,
		      int fd)
{
	struct stat st;
	uint64_t offset = 0;
	enum wait_result r;

	if (fstat(fd, &st) != 0) {
		fprintf(stderr, "simplecached: fstat %s: %s\n", req->path,
			strerror(errno));
		channel_put_chunk(seg, req->token, CHUNK_ERROR, 0, 0, 0);
		return;
	}
	//@ begin copy the file in chunks
	for (;;) {
		uint64_t left = (uint64_t)st.st_size - offset;
		size_t len = left < seg->capacity ? (size_t)left : seg->capacity;

		if (read_chunk(fd, seg, (off_t)offset, len) != 0) {
			fprintf(stderr, "simplecached: cannot read %s\n",
				req->path);
			channel_put_chunk(seg, req->token, CHUNK_ERROR, 0,
					  offset, 0);
			return;
		}
		channel_put_chunk(seg, req->token, CHUNK_OK,
				  (uint64_t)st.st_size, offset, len);
		offset += len;
		if (offset == (uint64_t)st.st_size)
			return;	/* the proxy holds the turn: hands off */
		r = channel_take_turn(seg, req->generation, offset,
				      CACHE_TURN_TIMEOUT_MS, &cache.stopping);
		if (r != WAIT_OK) {
			report_lost_turn(seg, r);
			return;
		}
	}
	//@ todo Copy the file into the segment one chunk (at most
	//@ todo seg->capacity bytes) at a time with read_chunk(), handing each
	//@ todo over with channel_put_chunk() (with the request's token and
	//@ todo the chunk's offset in the file). Between chunks take the turn
	//@ todo for the next offset with channel_take_turn()
	//@ todo (CACHE_TURN_TIMEOUT_MS), and give up if it fails
	//@ todo (report_lost_turn says why).
	//@ stub (void)read_chunk;
	//@ stub (void)offset;
	//@ stub (void)r;
	//@ stub (void)report_lost_turn;
	//@ stub channel_put_chunk(seg, req->token, CHUNK_ERROR, 0, 0, 0);
	//@ end
}

static void serve_file(struct segment *seg, const struct cache_request *req)
{
	int fd = simplecache_get(req->path);
	enum wait_result r;

	/* The lookup may have slept (-d): the object may have shrunk since
	 * segment_attach() looked, and waiting touches its semaphore. */
	if (!segment_fits(seg))
		return;
	r = channel_take_turn(seg, req->generation, 0, FIRST_TURN_TIMEOUT_MS,
			      &cache.stopping);
	if (r == WAIT_TIMEOUT)
		refusals_add("no turn on %s for generation %llu: a stale or forged request",
		       seg->name, (unsigned long long)req->generation);
	if (r != WAIT_OK)
		return;
	if (fd < 0)
		channel_put_chunk(seg, req->token, CHUNK_NOT_FOUND, 0, 0, 0);
	else
		send_file(seg, req, fd);
}

static void serve_request(struct segment_maps *maps,
			  const struct cache_request *req)
{
	char why[256];
	struct segment *seg = segment_attach(maps, req->segment, why,
					     sizeof(why));

	if (seg == NULL) {
		refusals_add("%s", why);
		return;
	}
	/* A request for a generation that has already passed costs nothing. */
	if (channel_is_current(seg, req->generation))
		serve_file(seg, req);
	segment_release(seg);
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
		/* Cannot overflow: there are never more posts than slots. */
		sem_post(&cache.work_slots);
	}
	segment_maps_clear(&maps);
	return NULL;
}

/* ---- Shutdown ---- */

/* Every thread polls cache.stopping at least every BOSS_SLICE_MS or
 * WAIT_SLICE_MS, so setting it is all a signal has to do. */
static void *wait_for_signal(void *arg)
{
	stop_signals_wait(arg, "simplecached");
	atomic_store(&cache.stopping, true);
	return NULL;
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
		err = pthread_create(&boss, NULL, receive_requests, NULL);
		boss_started = err == 0;
	}
	if (err != 0)
		stop_failing("pthread_create", strerror(err));

	/* Only a signal ends the process (a failing boss sends one). The
	 * boss and the workers see cache.stopping; the workers drain and
	 * finish once the work list is closed. Join only what started. */
	pthread_join(signal_thread, NULL);
	if (boss_started)
		pthread_join(boss, NULL);
	bqueue_close(cache.work);
	for (int i = 0; i < started; i++)
		pthread_join(workers[i], NULL);
	free(workers);
	refusals_report(true);
	return atomic_load(&cache.failed) ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct cache_options opt = cache_options_parse(argc, argv);
	sigset_t signals;
	int status = 1;

	stop_signals_block(&signals);

	if (simplecache_init(opt.cachelist) != 0)
		return 1;
	simplecache_set_delay(opt.delay_us);
	/* Two slots a worker: one being served, one waiting behind it. */
	if (sem_init(&cache.work_slots, 0, 2 * (unsigned)opt.threads) != 0) {
		fprintf(stderr, "simplecached: sem_init: %s\n", strerror(errno));
		simplecache_destroy();
		return 1;
	}
	cache.work = bqueue_create();
	if (cache.work == NULL)
		fprintf(stderr, "simplecached: no memory for the work list\n");
	else if (create_queue() == 0)
		status = run(&opt, &signals);
	remove_queue();
	bqueue_destroy(cache.work);
	sem_destroy(&cache.work_slots);
	simplecache_destroy();
	return status;
}
