/*
 * bqueue.c: a blocking FIFO of pointers (see bqueue.h).
 *
 * The items live in a singly linked list, oldest at head. One mutex guards
 * every field; one condition variable, nonempty, is signalled whenever an
 * item arrives or the queue closes. A popper sleeps on it, so an idle pool
 * costs no CPU.
 *
 * The condition variable measures timeouts on CLOCK_MONOTONIC, so setting
 * the wall clock cannot stretch or cut short a bqueue_pop_timed().
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "bqueue.h"
#include "deadline.h"

struct node {
	void *item;
	struct node *next;
};

struct bqueue {
	pthread_mutex_t lock;
	pthread_cond_t nonempty;	/* an item arrived, or closed became 1 */
	struct node *head, *tail;	/* head == NULL iff the queue is empty */
	size_t length;
	int closed;			/* once 1, stays 1 */
};

/* Each call returns 0 or an error number; a failure undoes what came
 * before it, so the caller gets a whole queue or NULL. */
bqueue_t *bqueue_create(void)
{
	bqueue_t *q = calloc(1, sizeof(*q));
	pthread_condattr_t attr;
	int rc;

	if (q == NULL)
		return NULL;
	rc = pthread_condattr_init(&attr);
	if (rc == 0) {
		rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		if (rc == 0)
			rc = pthread_cond_init(&q->nonempty, &attr);
		/* Destroying attributes that init made cannot fail. */
		pthread_condattr_destroy(&attr);
	}
	if (rc == 0) {
		rc = pthread_mutex_init(&q->lock, NULL);
		if (rc != 0)
			pthread_cond_destroy(&q->nonempty);
	}
	if (rc != 0) {
		free(q);
		return NULL;
	}
	return q;
}

/* The list's invariant, checked with q->lock held. */
static void assert_consistent(const bqueue_t *q)
{
	assert((q->head == NULL) == (q->tail == NULL));
	assert((q->head == NULL) == (q->length == 0));
	assert(q->tail == NULL || q->tail->next == NULL);
}

int bqueue_push(bqueue_t *q, void *item)
{
	struct node *n = malloc(sizeof(*n));

	if (n == NULL)
		return -1;
	n->item = item;
	n->next = NULL;

	pthread_mutex_lock(&q->lock);
	if (q->closed) {
		pthread_mutex_unlock(&q->lock);
		free(n);
		return -1;
	}
	if (q->tail != NULL)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
	q->length++;
	assert_consistent(q);
	/* One item can satisfy one popper. */
	pthread_cond_signal(&q->nonempty);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

/* Takes the oldest item. Caller holds q->lock and q->head != NULL. */
static void *take_head(bqueue_t *q)
{
	struct node *n = q->head;
	void *item = n->item;

	assert(q->length > 0);
	q->head = n->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->length--;
	assert_consistent(q);
	free(n);
	return item;
}

void *bqueue_pop(bqueue_t *q)
{
	void *item = NULL;

	pthread_mutex_lock(&q->lock);
	while (q->head == NULL && !q->closed)
		pthread_cond_wait(&q->nonempty, &q->lock);
	if (q->head != NULL)
		item = take_head(q);
	pthread_mutex_unlock(&q->lock);
	return item;
}

/* A timeout_ms <= 0 means: take an item if one is there, do not wait. */
void *bqueue_pop_timed(bqueue_t *q, int timeout_ms)
{
	/* CLOCK_MONOTONIC: the clock the condition variable was made with. */
	struct timespec deadline =
		deadline_after(CLOCK_MONOTONIC, timeout_ms > 0 ? timeout_ms : 0);
	void *item = NULL;
	int rc = 0;

	pthread_mutex_lock(&q->lock);
	while (q->head == NULL && !q->closed && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&q->nonempty, &q->lock, &deadline);
	if (q->head != NULL)
		item = take_head(q);
	pthread_mutex_unlock(&q->lock);
	return item;
}

void bqueue_close(bqueue_t *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = 1;
	/* Every sleeper must see the close, not just one. */
	pthread_cond_broadcast(&q->nonempty);
	pthread_mutex_unlock(&q->lock);
}

size_t bqueue_length(bqueue_t *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->length;
	pthread_mutex_unlock(&q->lock);
	return n;
}

/* No thread may be using the queue any more. */
void bqueue_destroy(bqueue_t *q)
{
	if (q == NULL)
		return;
	while (q->head != NULL)
		take_head(q);
	pthread_cond_destroy(&q->nonempty);
	pthread_mutex_destroy(&q->lock);
	free(q);
}
