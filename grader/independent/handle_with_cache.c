/*
 * handle_with_cache.c (independent implementation): one client request.
 * Borrow a ring, post an order on the cache's queue, and pass each slot
 * the cache fills on to the client, freeing it for the next chunk.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cache-student.h"
#include "gfserver.h"
#include "shm_channel.h"

void handle_with_cache(gfcontext_t *ctx, const char *path, void *arg);

static void nap_ms(int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

/*
 * The queue is the cache's: it may not exist yet, or be replaced by a
 * restarted cache, so it is opened afresh for every order and looked for
 * again every FIND_QUEUE_STEP_MS while it is missing.
 */
static mqd_t find_queue(const atomic_bool *stopping)
{
	char name[IPCNAME_MAX];

	if (ipcname_queue(name, sizeof(name)) != 0)
		return (mqd_t)-1;
	for (int waited = 0;; waited += FIND_QUEUE_STEP_MS) {
		mqd_t q = mq_open(name, O_WRONLY);

		if (q != (mqd_t)-1)
			return q;
		if (errno != ENOENT) {
			fprintf(stderr, "webproxy: mq_open %s: %s\n", name,
				strerror(errno));
			return q;
		}
		if (waited >= FIND_QUEUE_MS || atomic_load(stopping)) {
			fprintf(stderr, "webproxy: no cache queue %s\n", name);
			return q;
		}
		nap_ms(FIND_QUEUE_STEP_MS);
	}
}

/* Builds the order for this ring's transfer into buf; returns its length,
 * or 0 if the path cannot be carried. */
static size_t write_order(char *buf, const struct ring *r, const char *path)
{
	struct order_head head = { .magic = ORDER_MAGIC, .ticket = r->ticket };
	size_t name_len = strlen(r->name), path_len = strlen(path);
	char *text = buf + sizeof(head);

	if (path_len > ORDER_PATH_MAX || name_len >= IPCNAME_MAX)
		return 0;
	head.name_len = (uint16_t)name_len;
	head.path_len = (uint16_t)path_len;
	memcpy(buf, &head, sizeof(head));
	memcpy(text, r->name, name_len + 1);
	memcpy(text + name_len + 1, path, path_len + 1);
	return sizeof(head) + name_len + 1 + path_len + 1;
}

static int post_order(const struct ring *r, const char *path,
		      const atomic_bool *stopping)
{
	char buf[ORDER_MAX_BYTES];
	size_t len = write_order(buf, r, path);
	struct timespec until;
	mqd_t q;
	int rc;

	if (len == 0)
		return -1;
	q = find_queue(stopping);
	if (q == (mqd_t)-1)
		return -1;
	/* mq_timedsend takes an absolute CLOCK_REALTIME time. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += POST_ORDER_MS / 1000;
	rc = mq_timedsend(q, buf, len, 0, &until);
	if (rc != 0)
		fprintf(stderr, "webproxy: mq_timedsend: %s\n", strerror(errno));
	mq_close(q);
	return rc;
}

static gfstatus_t reply_for(enum slot_status s)
{
	return s == SLOT_MISSING ? GF_FILE_NOT_FOUND : GF_ERROR;
}

/*
 * Sends the file whose first piece is p. Returns true if the ring ended
 * quiet. A piece (one or more adjacent slots) must carry data, agree on
 * the size, and not overrun it.
 */
static bool stream(gfcontext_t *ctx, struct ring *r, struct piece *p,
		   const atomic_bool *stopping)
{
	const uint64_t size = p->file_size;
	uint64_t sent = 0;

	if (gfs_sendheader(ctx, GF_OK, size) != 0)
		return false;
	for (;;) {
		enum wait_end e;

		if (p->status != SLOT_DATA || p->file_size != size ||
		    p->length > size - sent) {
			fprintf(stderr, "webproxy: the cache sent a bad piece\n");
			gfs_abort(ctx);
			return false;
		}
		if (p->length > 0 && gfs_send(ctx, p->bytes, p->length) < 0)
			return false;	/* the client left */
		sent += p->length;
		if (sent == size)
			return ring_settle(r);
		if (p->length == 0) {
			fprintf(stderr, "webproxy: the cache sent an empty piece\n");
			gfs_abort(ctx);
			return false;
		}
		ring_give_back(r, p->slots);
		e = ring_take(r, NEXT_SLOT_MS, stopping, p);
		if (e != WAIT_DONE) {
			fprintf(stderr, "webproxy: next piece: %s\n",
				wait_end_text(e));
			gfs_abort(ctx);
			return false;
		}
	}
}

static bool fetch(gfcontext_t *ctx, const char *path, struct ring *r,
		  const atomic_bool *stopping)
{
	struct piece p;
	enum wait_end e;

	if (ring_start(r) != 0) {
		gfs_sendheader(ctx, GF_ERROR, 0);
		return true;
	}
	if (post_order(r, path, stopping) != 0) {
		ring_unstart(r);	/* nobody saw the ticket */
		gfs_sendheader(ctx, GF_ERROR, 0);
		return true;
	}
	ring_offer(r);
	e = ring_take(r, FIRST_SLOT_MS, stopping, &p);
	if (e != WAIT_DONE) {
		fprintf(stderr, "webproxy: %s: first piece: %s\n", path,
			wait_end_text(e));
		gfs_sendheader(ctx, GF_ERROR, 0);
		return false;
	}
	if (p.status != SLOT_DATA) {
		gfs_sendheader(ctx, reply_for(p.status), 0);
		return ring_settle(r);
	}
	return stream(ctx, r, &p, stopping);
}

void handle_with_cache(gfcontext_t *ctx, const char *path, void *arg)
{
	struct proxy_pool *pool = arg;
	struct ring *r = pool_borrow(pool);

	if (r == NULL) {
		gfs_sendheader(ctx, GF_ERROR, 0);	/* shutting down */
		return;
	}
	pool_return(pool, r, fetch(ctx, path, r, pool_stopping(pool)));
}
