/*
 * simplecached.c: the cache of the queue variant. Its command channel is
 * one POSIX message queue: a boss thread receives requests from it and
 * hands them to the workers, which copy the requested file into the
 * proxy's segment chunk by chunk (shm_channel.h). The process around them
 * (flags, signals, threads, the bounded work list, shutdown) is the lab's:
 * lab/cache.c. Nothing that arrives on the queue can stop it, grow its
 * memory or flood its log.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "cache-student.h"
#include "deadline.h"
#include "refusals.h"
#include "shm_channel.h"
#include "simplecache.h"

/* The queue is made before any thread starts and removed after all are
 * joined. */
static struct {
	mqd_t queue;
	char queue_name[IPCNAME_MAX];
} cache = { .queue = (mqd_t)-1 };

/* ---- The command channel ---- */

static int open_channel(void)
{
	if (ipcname_queue(cache.queue_name, sizeof(cache.queue_name)) != 0)
		return -1;
	/*
	 * TODO(create the command channel):
	 * Create the request queue cache.queue_name (mode 0600) with room
	 * for CACHE_QUEUE_MAXMSG messages of sizeof(struct cache_request)
	 * bytes, open for reading and writing. Remove a stale queue first.
	 * Read mq_open(3), mq_unlink(3), mq_overview(7).
	 */
	cache.queue = (mqd_t)-1;
	return 0;
}

/* Also the watchdog's (lab/watchdog.h): when a thread is stuck, only the
 * name goes; the descriptor goes with the process. */
static void unlink_queue(void)
{
	if (mq_unlink(cache.queue_name) != 0)
		fprintf(stderr, "simplecached: mq_unlink %s: %s\n",
			cache.queue_name, strerror(errno));
}

static void remove_queue(void)
{
	/*
	 * TODO(remove the command channel):
	 * Close and unlink the queue, so nothing is left in /dev/mqueue.
	 */
}

/*
 * The boss sleeps in the kernel at most this long at a time, then looks
 * at cache_stopping(): that is how shutdown reaches it. (No message can
 * stop the cache: any process of this user could send it.)
 */
#define BOSS_SLICE_MS 200

static void boss_failed(const char *why)
{
	cache_cannot_go_on("the boss thread failed", why);
}

/* Waits up to BOSS_SLICE_MS for one message. Returns 1 and its length in
 * *len, 0 if none came, or -1 if receiving failed (errno says why). */
static int receive_message(struct cache_request *req, ssize_t *len)
{
	struct timespec deadline;

	/*
	 * TODO(receive one message):
	 * Receive one message from cache.queue into *req, its length
	 * into *len, waiting at most BOSS_SLICE_MS (mq_timedreceive(3)
	 * takes a CLOCK_REALTIME deadline). Return 1 if one came, 0 on a
	 * timeout or interruption, -1 on any other failure.
	 */
	(void)deadline;
	(void)req;
	*len = 0;
	errno = ENOSYS;
	return -1;
}

/*
 * The boss: take a work slot, receive, check, hand over. Ends when the
 * process stops; a failure stops the process.
 */
static void *receive_requests(void *arg)
{
	(void)arg;
	/*
	 * TODO(receive requests):
	 * Loop until cache_stopping(): take a slot of the work list
	 * (cache_take_slot, waiting at most BOSS_SLICE_MS), receive a
	 * message (receive_message) into memory of your own, check it
	 * with cache_request_is_valid(), and hand a good one to the
	 * workers (cache_hand_over). A bad one is refused
	 * (refusals_add()) and its slot given back
	 * (cache_give_slot_back). Each time round,
	 * refusals_report(false), so a burst is reported even if no
	 * refusal follows it. If anything fails, call boss_failed() and
	 * return.
	 */
	(void)receive_message;
	(void)boss_failed;
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
	/*
	 * TODO(copy the file in chunks):
	 * Copy the file into the segment one chunk (at most
	 * seg->capacity bytes) at a time with read_chunk(), handing each
	 * over with channel_put_chunk() (with the request's token and
	 * the chunk's offset in the file). Between chunks take the turn
	 * for the next offset with channel_take_turn()
	 * (CACHE_TURN_TIMEOUT_MS), and give up if it fails
	 * (report_lost_turn says why).
	 */
	(void)read_chunk;
	(void)offset;
	(void)r;
	(void)report_lost_turn;
	channel_put_chunk(seg, req->token, CHUNK_ERROR, 0, 0, 0);
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
			      cache_stopping());
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

const size_t segment_maps_size = sizeof(struct segment_maps);

static void serve_request(struct segment_maps *maps, void *request)
{
	const struct cache_request *req = request;
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

static const struct cache_channel queue_channel = {
	.open = open_channel,
	.close = remove_queue,
	.remove_name = unlink_queue,
	.boss = receive_requests,
	.wake_boss = NULL,	/* it looks every BOSS_SLICE_MS */
	.serve = serve_request,
	.end_request = free,
};

int main(int argc, char **argv)
{
	return cache_run(argc, argv, &queue_channel);
}
