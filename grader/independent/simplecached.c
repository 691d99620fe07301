/*
 * simplecached.c (independent implementation): the cache process. It owns
 * the queue. There is no boss: each of the -t workers receives orders from
 * the queue itself, checks them, and copies the file into the proxy's ring
 * slot by slot. A thread waiting for SIGINT/SIGTERM stops them by putting
 * a stop token on the queue; each worker that receives it puts it back for
 * the next one and leaves. main joins them all, then removes the queue.
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
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "cache-student.h"
#include "shm_channel.h"
#include "simplecache.h"

static const char usage_text[] =
	"usage: simplecached [-c cache list (locals.txt)] [-t threads 1..512 (8)]\n"
	"                    [-d lookup delay us 0..2500000 (0)] [-h]\n";

struct settings {
	const char *cachelist;
	long threads;
	long delay_us;
};

/* Set before the workers start and read-only afterwards, but `stopping`. */
static struct {
	char name[IPCNAME_MAX];
	mqd_t queue;
	uint64_t secret;	/* what a genuine stop token carries */
	atomic_bool stopping;
} cache = { .queue = (mqd_t)-1 };

/* The stop token goes before any order still queued. */
#define STOP_PRIORITY 1
#define STOP_SEND_TRIES 20
#define STOP_SEND_STEP_MS 100

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
	struct settings s = { "locals.txt", 8, 0 };
	int c;

	while ((c = getopt(argc, argv, ":c:t:d:h")) != -1) {
		if (c == 'c')
			s.cachelist = optarg;
		else if (c == 't')
			s.threads = number_or_usage(optarg, 1, 512);
		else if (c == 'd')
			s.delay_us = number_or_usage(optarg, 0,
						     SIMPLECACHE_MAX_DELAY_US);
		else if (c == 'h')
			usage_exit(0);
		else
			usage_exit(2);
	}
	if (optind != argc)
		usage_exit(2);
	return s;
}

/* ---------------------------------------------------------- the queue */

/* A queue that is already there was left by a cache that died; its orders
 * were for segments nobody waits on any more, so it goes. */
static int open_queue(void)
{
	struct mq_attr attr = { .mq_maxmsg = QUEUE_DEPTH,
				.mq_msgsize = ORDER_MAX_BYTES };

	if (ipcname_queue(cache.name, sizeof(cache.name)) != 0)
		return -1;
	if (mq_unlink(cache.name) == 0)
		fprintf(stderr, "simplecached: removed the stale queue %s\n",
			cache.name);
	else if (errno != ENOENT)
		fprintf(stderr, "simplecached: mq_unlink %s: %s\n", cache.name,
			strerror(errno));
	cache.queue = mq_open(cache.name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
	if (cache.queue == (mqd_t)-1) {
		fprintf(stderr, "simplecached: mq_open %s: %s\n", cache.name,
			strerror(errno));
		return -1;
	}
	return 0;
}

static void close_queue(void)
{
	if (cache.queue == (mqd_t)-1)
		return;
	if (mq_close(cache.queue) != 0)
		perror("simplecached: mq_close");
	if (mq_unlink(cache.name) != 0)
		perror("simplecached: mq_unlink");
	cache.queue = (mqd_t)-1;
}

/*
 * Puts the stop token on the queue. The queue may be full for a moment;
 * the workers still running drain it (they drop orders once stopping), so
 * a few bounded tries are enough.
 */
static int pass_stop_token(void)
{
	struct stop_token t = { .magic = STOP_MAGIC, .secret = cache.secret };

	for (int i = 0; i < STOP_SEND_TRIES; i++) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += STOP_SEND_STEP_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (mq_timedsend(cache.queue, (const char *)&t, sizeof(t),
				 STOP_PRIORITY, &until) == 0)
			return 0;
		if (errno != ETIMEDOUT && errno != EINTR)
			break;
	}
	fprintf(stderr, "simplecached: cannot pass the stop token on: %s\n",
		strerror(errno));
	return -1;
}

/* A token without the secret is refused loudly: some other process is
 * trying to stop this cache. */
static bool is_stop_token(const char *msg, ssize_t len)
{
	struct stop_token t;

	if (len != (ssize_t)sizeof(t))
		return false;
	memcpy(&t, msg, sizeof(t));
	if (t.magic != STOP_MAGIC)
		return false;
	if (t.zero == 0 && t.secret == cache.secret)
		return true;
	fputs("simplecached: refused a stop token without this cache's secret\n",
	      stderr);
	return false;
}

/* An order as the worker uses it: pointers into the received message. */
struct order {
	uint64_t ticket;
	const char *segment;
	const char *path;
};

/* The message came from another process: every length is checked against
 * the message's real length, and each string must end where it says. */
static int read_order(const char *msg, ssize_t len, struct order *o)
{
	struct order_head head;
	const char *text = msg + sizeof(head);

	if (len < (ssize_t)sizeof(head))
		return -1;
	memcpy(&head, msg, sizeof(head));
	if (head.magic != ORDER_MAGIC || head.ticket == 0 ||
	    head.name_len == 0 || head.name_len >= IPCNAME_MAX ||
	    head.path_len == 0 || head.path_len > ORDER_PATH_MAX ||
	    (size_t)len != sizeof(head) + head.name_len + 1u + head.path_len + 1u)
		return -1;
	if (strnlen(text, head.name_len + 1u) != head.name_len ||
	    strnlen(text + head.name_len + 1, head.path_len + 1u) != head.path_len)
		return -1;
	o->ticket = head.ticket;
	o->segment = text;
	o->path = text + head.name_len + 1;
	return o->path[0] == '/' ? 0 : -1;
}

/* ---------------------------------------------------------- the work */

/* pread: every worker shares the cache store's descriptors and offsets. */
static int read_exactly(int fd, unsigned char *to, size_t len, off_t at)
{
	while (len > 0) {
		ssize_t n = pread(fd, to, len, at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;	/* an error, or the file shrank */
		to += n;
		len -= (size_t)n;
		at += n;
	}
	return 0;
}

static unsigned slots_for(uint64_t bytes, size_t slot_bytes)
{
	uint64_t n = (bytes + slot_bytes - 1) / slot_bytes;

	return n == 0 ? 1 : n > RING_SLOTS ? RING_SLOTS : (unsigned)n;
}

/*
 * Fills slots until the file is all sent, or the ring stops being ours.
 * Each round claims as many adjacent slots as are vacant (and needed) and
 * fills them with one read. A missing file is one SLOT_MISSING slot; a
 * file that cannot be read, one SLOT_FAILED slot (the proxy then ends the
 * transfer).
 */
static void copy_file(struct ring *r, uint64_t ticket, int fd)
{
	enum slot_status status = fd < 0 ? SLOT_MISSING : SLOT_DATA;
	uint64_t size = 0, done = 0;
	struct stat st;

	if (fd >= 0) {
		if (fstat(fd, &st) == 0)
			size = (uint64_t)st.st_size;
		else
			status = SLOT_FAILED;
	}
	do {
		struct run run;
		size_t len = 0;
		unsigned want = status == SLOT_DATA ?
				slots_for(size - done, r->slot_bytes) : 1;
		enum wait_end e = ring_claim(r, ticket, want, &cache.stopping, &run);

		if (e != WAIT_DONE) {
			if (e != WAIT_NOT_MINE)
				fprintf(stderr, "simplecached: %s: %s\n",
					r->name, wait_end_text(e));
			return;
		}
		if (status == SLOT_DATA) {
			len = size - done < run.capacity ? (size_t)(size - done)
							 : run.capacity;
			if (read_exactly(fd, run.bytes, len, (off_t)done) != 0) {
				status = SLOT_FAILED;
				len = 0;
			}
		}
		ring_publish(r, ticket, &run, status, size, len);
		done += len;
	} while (status == SLOT_DATA && done < size);
}

static void serve(const struct order *o)
{
	struct ring r;

	if (ring_attach(&r, o->segment) != 0)
		return;
	/* An order whose transfer is over costs no lookup. */
	if (ring_serves(&r, o->ticket))
		copy_file(&r, o->ticket, simplecache_get(o->path));
	ring_detach(&r);
}

static void *worker(void *arg)
{
	char msg[ORDER_MAX_BYTES];

	(void)arg;
	for (;;) {
		ssize_t len = mq_receive(cache.queue, msg, sizeof(msg), NULL);
		struct order o;

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0) {
			perror("simplecached: mq_receive");
			break;
		}
		if (is_stop_token(msg, len)) {
			pass_stop_token();
			break;
		}
		if (atomic_load(&cache.stopping))
			continue;	/* drop it: the token is on its way */
		if (read_order(msg, len, &o) != 0) {
			fprintf(stderr, "simplecached: dropped a malformed order of %zd bytes\n",
				len);
			continue;
		}
		serve(&o);
	}
	return NULL;
}

/* ---------------------------------------------------------- shutdown */

static void *await_signal(void *arg)
{
	int sig;

	if (sigwait(arg, &sig) != 0)
		fputs("simplecached: sigwait failed\n", stderr);
	atomic_store(&cache.stopping, true);
	pass_stop_token();
	return NULL;
}

/* Starts the workers and the signal thread, and joins them when a signal
 * has stopped them. */
static int run(long nthreads, sigset_t *signals)
{
	pthread_t *workers = calloc((size_t)nthreads, sizeof(*workers));
	pthread_t signal_thread;
	long started = 0;
	int rc = 0;

	if (workers == NULL) {
		fputs("simplecached: out of memory\n", stderr);
		return 1;
	}
	while (started < nthreads && rc == 0) {
		rc = pthread_create(&workers[started], NULL, worker, NULL);
		if (rc == 0)
			started++;
	}
	if (rc == 0)
		rc = pthread_create(&signal_thread, NULL, await_signal, signals);
	if (rc != 0) {
		/* No signal thread to stop the workers: stop them here. */
		fprintf(stderr, "simplecached: pthread_create: %s\n", strerror(rc));
		atomic_store(&cache.stopping, true);
		if (started > 0)
			pass_stop_token();
	}
	for (long i = 0; i < started; i++)
		pthread_join(workers[i], NULL);
	if (rc == 0)
		pthread_join(signal_thread, NULL);
	free(workers);
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct settings s = read_settings(argc, argv);
	sigset_t signals;
	int rc;

	sigemptyset(&signals);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	rc = pthread_sigmask(SIG_BLOCK, &signals, NULL);
	if (rc != 0) {
		fprintf(stderr, "simplecached: pthread_sigmask: %s\n", strerror(rc));
		return 1;
	}
	if (getrandom(&cache.secret, sizeof(cache.secret), 0) !=
	    (ssize_t)sizeof(cache.secret)) {
		perror("simplecached: getrandom");
		return 1;
	}
	if (simplecache_init(s.cachelist) != 0)
		return 1;
	simplecache_set_delay((unsigned)s.delay_us);
	if (open_queue() != 0) {
		simplecache_destroy();
		return 1;
	}
	rc = run(s.threads, &signals);
	close_queue();
	simplecache_destroy();
	return rc;
}
