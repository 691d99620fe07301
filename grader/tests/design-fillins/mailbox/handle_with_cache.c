/*
 * handle_with_cache.c: the proxy's work for one client request, called by
 * the GETFILE server (lab/gfserver.h) on one of its -t handler threads.
 * Design track: the path of a request through your channels is yours.
 *
 * What the rules and the framework fix:
 *  - answer every request exactly once: gfs_sendheader() with GF_OK and the
 *    file's length, then gfs_send() of exactly that many bytes; or
 *    GF_FILE_NOT_FOUND when the cache has no such path; or GF_ERROR when the
 *    cache cannot be reached or fails. gfs_abort() cuts a body short, which
 *    a client sees as an incomplete reply (never wrong bytes under OK);
 *  - the proxy never opens a file itself: the bytes come from the cache,
 *    through one of the proxy's segments;
 *  - a cache that starts or restarts within the bounds of rule 2 is found
 *    without restarting the proxy;
 *  - every wait on the cache is bounded (rule 5), and a handler notices
 *    proxy->stopping within a fraction of a second (rule 3).
 */
#include "cache-student.h"
#include "gfserver.h"
#include "shm_channel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <mqueue.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "deadline.h"

/* Takes a mailbox nobody uses, waiting while all are busy. */
static struct mailbox *take_mailbox(struct proxy *proxy)
{
	struct mailbox_set *set = &proxy->set;
	struct mailbox *got = NULL;

	pthread_mutex_lock(&set->lock);
	while (got == NULL && !atomic_load(&proxy->stopping)) {
		for (size_t i = 0; i < set->count; i++) {
			if (!set->boxes[i].busy) {
				got = &set->boxes[i];
				got->busy = true;
				break;
			}
		}
		if (got == NULL) {
			struct timespec t = deadline_after(CLOCK_REALTIME, 200);
			pthread_cond_timedwait(&set->freed, &set->lock, &t);
		}
	}
	pthread_mutex_unlock(&set->lock);
	return got;
}

static void give_back(struct proxy *proxy, struct mailbox *box)
{
	pthread_mutex_lock(&proxy->set.lock);
	box->busy = false;
	pthread_cond_signal(&proxy->set.freed);
	pthread_mutex_unlock(&proxy->set.lock);
}

/*
 * The cache's queue, opened anew for every request so that a restarted
 * cache is found; keeps looking for CACHE_SEARCH_MS (rule 2).
 */
static mqd_t find_cache(struct proxy *proxy)
{
	struct timespec start;
	char qname[IPCNAME_MAX];

	if (ipcname_queue(qname, sizeof(qname)) != 0)
		return (mqd_t)-1;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!atomic_load(&proxy->stopping)) {
		mqd_t q = mq_open(qname, O_WRONLY);

		if (q != (mqd_t)-1 || errno != ENOENT)
			return q;
		if (ms_since(&start) > CACHE_SEARCH_MS)
			break;
		sleep_ms(CACHE_SEARCH_PAUSE_MS);
	}
	return (mqd_t)-1;
}

static int send_note(struct proxy *proxy, struct mailbox *box, const char *path, uint32_t serial)
{
	struct fetch_note note = { .stamp = FETCH_STAMP, .serial = serial };
	struct timespec end;
	mqd_t q;
	int rc;

	if (strlen(path) >= sizeof(note.path))
		return -1;
	snprintf(note.mailbox, sizeof(note.mailbox), "%s", box->name);
	snprintf(note.path, sizeof(note.path), "%s", path);
	q = find_cache(proxy);
	if (q == (mqd_t)-1)
		return -1;
	end = deadline_after(CLOCK_REALTIME, NEXT_PAGE_MS);
	rc = mq_timedsend(q, (const char *)&note, sizeof(note), 0, &end);
	mq_close(q);
	return rc;
}

/* Pages in turn until the whole file went to the client. */
static void relay_pages(struct proxy *proxy, gfcontext_t *ctx, struct mailbox *box)
{
	struct mailbox_head *h = box->head;
	uint64_t sent = 0, total = 0;
	bool header_sent = false;
	int wait_ms = FIRST_PAGE_MS;

	for (;;) {
		if (turn_wait(&h->proxy_turn, wait_ms, &proxy->stopping) != 0)
			break;
		wait_ms = NEXT_PAGE_MS;
		if (!header_sent) {
			if (h->kind == PAGE_NO_SUCH_FILE) {
				gfs_sendheader(ctx, GF_FILE_NOT_FOUND, 0);
				return;
			}
			if (h->kind != PAGE_BYTES) {
				gfs_sendheader(ctx, GF_ERROR, 0);
				return;
			}
			total = h->file_bytes;
			gfs_sendheader(ctx, GF_OK, total);
			header_sent = true;
		}
		if (h->kind != PAGE_BYTES || h->used > box->page_bytes || h->used > total - sent)
			break;
		if (h->used > 0 && gfs_send(ctx, box->page, h->used) != (ssize_t)h->used)
			break;
		sent += h->used;
		if (sent == total)
			return;
		sem_post(&h->cache_turn);
	}
	if (header_sent)
		gfs_abort(ctx);
	else
		gfs_sendheader(ctx, GF_ERROR, 0);
}

void handle_with_cache(gfcontext_t *ctx, const char *path, void *arg)
{
	struct proxy *proxy = arg;

	struct mailbox *box = take_mailbox(proxy);
	uint32_t serial;

	if (box == NULL) {
		gfs_sendheader(ctx, GF_ERROR, 0);
		return;
	}
	do {
		if (getrandom(&serial, sizeof(serial), 0) != sizeof(serial))
			serial = (uint32_t)rand();
	} while (serial == 0);
	/* A late worker still holding the old serial stops at its next page. */
	while (sem_trywait(&box->head->proxy_turn) == 0)
		;
	atomic_store(&box->head->serial, serial);
	sem_post(&box->head->cache_turn);
	if (send_note(proxy, box, path, serial) != 0)
		gfs_sendheader(ctx, GF_ERROR, 0);
	else
		relay_pages(proxy, ctx, box);
	atomic_store(&box->head->serial, 0);
	give_back(proxy, box);
}
