/*
 * simplecached.c: the cache process. What is here is fixed by the framework
 * and the rules: the flags (lab/cmdline.h; -t is how many lookups may run
 * at once), the cache store (lab/simplecache.h: it opens every listed file
 * at start; a lookup returns a descriptor to read with pread, and sleeps -d
 * microseconds first), and a signal thread (lab/stop_signals.h), so that
 * SIGINT and SIGTERM are ordinary events in ordinary code.
 *
 * Design track: the rest is yours. The rules (handouts/rules.md) say the
 * cache creates its command channel, one POSIX message queue named by
 * ipcname_queue(), when it starts and removes it when it stops (rule 1);
 * that up to -t lookups run at once, one per request (rule 2); that it
 * serves several proxies at once and trusts nothing that arrives on the
 * queue (rules 2 and 6); and that on a signal it stops taking work, wakes
 * and joins every thread, removes its queue and exits 0 within 2 s
 * (rule 3). Which threads it runs, and in what order it stops them, is
 * your design.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache-student.h"
#include "cmdline.h"
#include "shm_channel.h"
#include "simplecache.h"
#include "stop_signals.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sys/mman.h>
#include <unistd.h>

#include "deadline.h"

#define BOARD_SIZE 64

/* Shared by every thread. `stopping` is set once, by the signal thread. */
static struct {
	struct cache_options opt;
	atomic_bool stopping;
	mqd_t inbox;
	char inbox_name[IPCNAME_MAX];
	/* Notes read and checked, waiting for a worker (under board_lock). */
	struct fetch_note board[BOARD_SIZE];
	size_t board_first, board_len;
	pthread_mutex_t board_lock;
	pthread_cond_t board_changed;
} cache = {
	.board_lock = PTHREAD_MUTEX_INITIALIZER,
	.board_changed = PTHREAD_COND_INITIALIZER,
};

/* Rule 6: a note counts only if every field is what a proxy would send. */
static bool note_is_sane(const struct fetch_note *n)
{
	pid_t owner;
	unsigned index;

	if (n->stamp != FETCH_STAMP || n->serial == 0)
		return false;
	if (memchr(n->mailbox, '\0', sizeof(n->mailbox)) == NULL ||
	    memchr(n->path, '\0', sizeof(n->path)) == NULL)
		return false;
	return ipcname_segment_owner(n->mailbox, &owner, &index) == 0;
}

/* Reads the queue and pins every sane note on the board. */
static void *read_inbox(void *unused)
{
	struct fetch_note note;

	(void)unused;
	while (!atomic_load(&cache.stopping)) {
		struct timespec t = deadline_after(CLOCK_REALTIME, 200);
		ssize_t n = mq_timedreceive(cache.inbox, (char *)&note, sizeof(note), NULL, &t);

		if (n != (ssize_t)sizeof(note) || !note_is_sane(&note))
			continue;
		pthread_mutex_lock(&cache.board_lock);
		if (cache.board_len < BOARD_SIZE) {
			cache.board[(cache.board_first + cache.board_len) % BOARD_SIZE] = note;
			cache.board_len++;
			pthread_cond_signal(&cache.board_changed);
		}
		pthread_mutex_unlock(&cache.board_lock);
	}
	return NULL;
}

static bool next_note(struct fetch_note *out)
{
	bool got = false;

	pthread_mutex_lock(&cache.board_lock);
	while (cache.board_len == 0 && !atomic_load(&cache.stopping)) {
		struct timespec t = deadline_after(CLOCK_REALTIME, 200);
		pthread_cond_timedwait(&cache.board_changed, &cache.board_lock, &t);
	}
	if (cache.board_len > 0) {
		*out = cache.board[cache.board_first];
		cache.board_first = (cache.board_first + 1) % BOARD_SIZE;
		cache.board_len--;
		got = true;
	}
	pthread_mutex_unlock(&cache.board_lock);
	return got;
}

/* One page: wait for the proxy's turn, then fill and hand over. */
static bool put_page(struct mailbox_head *h, uint32_t serial, enum page_kind kind,
		     uint64_t file_bytes, const void *bytes, uint64_t used)
{
	if (turn_wait(&h->cache_turn, PROXY_TURN_MS, &cache.stopping) != 0)
		return false;
	if (atomic_load(&h->serial) != serial)
		return false;
	h->kind = kind;
	h->file_bytes = file_bytes;
	h->used = used;
	if (used > 0)
		memcpy((unsigned char *)h + ((sizeof(*h) + 63) & ~(size_t)63), bytes, used);
	sem_post(&h->proxy_turn);
	return true;
}

static void serve_note(const struct fetch_note *note)
{
	struct mailbox_head *h;
	size_t bytes, room;
	struct stat st;
	off_t at = 0;
	int fd;

	if (mailbox_open(note->mailbox, &h, &bytes) != 0)
		return;
	room = bytes - ((sizeof(*h) + 63) & ~(size_t)63);
	fd = simplecache_get(note->path);
	if (fd < 0) {
		put_page(h, note->serial, PAGE_NO_SUCH_FILE, 0, NULL, 0);
	} else if (fstat(fd, &st) != 0) {
		put_page(h, note->serial, PAGE_BROKEN, 0, NULL, 0);
	} else {
		unsigned char *chunk = malloc(room);

		do {
			ssize_t got = chunk == NULL ? -1 : pread(fd, chunk, room, at);

			if (got < 0) {
				put_page(h, note->serial, PAGE_BROKEN, 0, NULL, 0);
				break;
			}
			if (!put_page(h, note->serial, PAGE_BYTES, (uint64_t)st.st_size, chunk, (uint64_t)got))
				break;
			at += got;
		} while (at < st.st_size);
		free(chunk);
	}
	munmap(h, bytes);
}

static void *work(void *unused)
{
	struct fetch_note note;

	(void)unused;
	while (next_note(&note))
		serve_note(&note);
	return NULL;
}

/*
 * Signals arrive here and only here (every other thread blocks them). A
 * thread of yours that waits on the queue or on a segment must notice
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
	struct mq_attr attr = { .mq_maxmsg = NOTE_QUEUE_DEPTH, .mq_msgsize = sizeof(struct fetch_note) };
	if (ipcname_queue(cache.inbox_name, sizeof(cache.inbox_name)) != 0)
		return 1;
	cache.inbox = mq_open(cache.inbox_name, O_RDONLY | O_CREAT | O_EXCL, 0600, &attr);
	if (cache.inbox == (mqd_t)-1) {
		perror("simplecached: mq_open");
		simplecache_destroy();
		return 1;
	}
	pthread_t reader, *workers = calloc((size_t)cache.opt.threads, sizeof(*workers));
	if (workers == NULL || pthread_create(&reader, NULL, read_inbox, NULL) != 0)
		return 1;
	for (int i = 0; i < cache.opt.threads; i++)
		if (pthread_create(&workers[i], NULL, work, NULL) != 0)
			return 1;
	err = pthread_create(&signal_thread, NULL, wait_for_signal, &signals);
	if (err != 0) {
		fprintf(stderr, "simplecached: pthread_create: %s\n",
			strerror(err));
		simplecache_destroy();
		return 1;
	}
	pthread_join(signal_thread, NULL);
	pthread_join(reader, NULL);
	pthread_cond_broadcast(&cache.board_changed);
	for (int i = 0; i < cache.opt.threads; i++)
		pthread_join(workers[i], NULL);
	free(workers);
	mq_close(cache.inbox);
	mq_unlink(cache.inbox_name);
	/* Rule 3: every thread joined, the channel removed, before this. */
	simplecache_destroy();
	return 0;
}
