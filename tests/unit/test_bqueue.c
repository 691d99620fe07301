/*
 * test_bqueue.c: checks lab/bqueue.c: FIFO order, a blocked pop woken by
 * a push from another thread, close waking every popper and draining,
 * timed pop bounds, and many producers and consumers losing nothing.
 * Exits 0 when all pass.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "bqueue.h"

static int failures;

static void check(int ok, const char *what)
{
	if (!ok) {
		printf("FAIL %s\n", what);
		failures++;
	}
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

static void *as_item(uintptr_t n)
{
	return (void *)n;
}

static void test_fifo_order(void)
{
	bqueue_t *q = bqueue_create();
	int in_order = 1;

	check(q != NULL, "create");
	for (uintptr_t i = 1; i <= 100; i++)
		check(bqueue_push(q, as_item(i)) == 0, "push");
	check(bqueue_length(q) == 100, "length after 100 pushes");
	for (uintptr_t i = 1; i <= 100; i++)
		if (bqueue_pop(q) != as_item(i))
			in_order = 0;
	check(in_order, "items come out in the order they went in");
	check(bqueue_length(q) == 0, "length after draining");
	/* Leftover items are the caller's: destroy frees only the queue. */
	bqueue_push(q, as_item(7));
	bqueue_destroy(q);
}

struct popper {
	bqueue_t *q;
	void *got;
	int done;		/* under lock */
	pthread_mutex_t lock;
};

static void *pop_one(void *arg)
{
	struct popper *p = arg;
	void *item = bqueue_pop(p->q);

	pthread_mutex_lock(&p->lock);
	p->got = item;
	p->done = 1;
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static int popper_done(struct popper *p)
{
	int done;

	pthread_mutex_lock(&p->lock);
	done = p->done;
	pthread_mutex_unlock(&p->lock);
	return done;
}

static void test_pop_blocks_until_push(void)
{
	struct popper p = { .q = bqueue_create(),
			    .lock = PTHREAD_MUTEX_INITIALIZER };
	pthread_t t;

	pthread_create(&t, NULL, pop_one, &p);
	usleep(100000);
	check(!popper_done(&p), "pop on an empty queue returned before any push");
	bqueue_push(p.q, as_item(42));
	pthread_join(t, NULL);
	check(p.got == as_item(42), "blocked pop got the pushed item");
	bqueue_destroy(p.q);
}

static void test_close_wakes_and_drains(void)
{
	enum { N = 4 };
	struct popper p[N];
	pthread_t t[N];
	bqueue_t *q = bqueue_create();
	int all_null = 1;

	for (int i = 0; i < N; i++) {
		p[i] = (struct popper){ .q = q };
		pthread_mutex_init(&p[i].lock, NULL);
		pthread_create(&t[i], NULL, pop_one, &p[i]);
	}
	usleep(100000);
	bqueue_close(q);
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		if (p[i].got != NULL)
			all_null = 0;
		pthread_mutex_destroy(&p[i].lock);
	}
	check(all_null, "close wakes every blocked popper with NULL");
	check(bqueue_push(q, as_item(1)) == -1, "push after close fails");
	bqueue_destroy(q);

	q = bqueue_create();
	bqueue_push(q, as_item(1));
	bqueue_push(q, as_item(2));
	bqueue_close(q);
	check(bqueue_pop(q) == as_item(1), "after close, pop returns what is left (1)");
	check(bqueue_pop(q) == as_item(2), "after close, pop returns what is left (2)");
	check(bqueue_pop(q) == NULL, "after close and drained, pop returns NULL");
	check(bqueue_pop_timed(q, 5000) == NULL, "after close, timed pop returns NULL at once");
	bqueue_destroy(q);
}

static void test_timed_pop(void)
{
	bqueue_t *q = bqueue_create();
	double t0, waited;

	t0 = now_ms();
	check(bqueue_pop_timed(q, 200) == NULL, "timed pop on empty queue returns NULL");
	waited = now_ms() - t0;
	if (waited < 190 || waited > 1000) {
		printf("FAIL timed pop of 200 ms waited %.0f ms\n", waited);
		failures++;
	}

	t0 = now_ms();
	check(bqueue_pop_timed(q, 0) == NULL, "timed pop 0 on empty queue returns NULL");
	check(now_ms() - t0 < 100, "timed pop 0 does not wait");

	bqueue_push(q, as_item(9));
	t0 = now_ms();
	check(bqueue_pop_timed(q, 5000) == as_item(9), "timed pop returns a waiting item");
	check(now_ms() - t0 < 100, "timed pop with an item does not wait");
	bqueue_destroy(q);
}

struct timed_popper {
	bqueue_t *q;
	void *got;
};

static void *pop_timed_one(void *arg)
{
	struct timed_popper *p = arg;

	p->got = bqueue_pop_timed(p->q, 5000);
	return NULL;
}

static void test_timed_pop_woken(void)
{
	struct timed_popper p = { .q = bqueue_create() };
	pthread_t t;
	double t0 = now_ms(), waited;

	pthread_create(&t, NULL, pop_timed_one, &p);
	usleep(100000);
	bqueue_push(p.q, as_item(5));
	pthread_join(t, NULL);
	waited = now_ms() - t0;
	check(p.got == as_item(5), "timed pop woken by a push gets the item");
	if (waited > 2000) {
		printf("FAIL timed pop woken by a push took %.0f ms\n", waited);
		failures++;
	}
	bqueue_destroy(p.q);
}

enum { PRODUCERS = 4, CONSUMERS = 4, PER_PRODUCER = 20000 };

struct counts {
	bqueue_t *q;
	uintptr_t base;
	uint64_t sum;
	long n;
};

static void *produce(void *arg)
{
	struct counts *c = arg;

	for (uintptr_t i = 1; i <= PER_PRODUCER; i++)
		bqueue_push(c->q, as_item(c->base + i));
	return NULL;
}

static void *consume(void *arg)
{
	struct counts *c = arg;
	void *item;

	while ((item = bqueue_pop(c->q)) != NULL) {
		c->sum += (uintptr_t)item;
		c->n++;
	}
	return NULL;
}

static void test_many_threads(void)
{
	bqueue_t *q = bqueue_create();
	struct counts prod[PRODUCERS], cons[CONSUMERS];
	pthread_t tp[PRODUCERS], tc[CONSUMERS];
	uint64_t want = 0, sum = 0;
	long n = 0;

	for (int i = 0; i < CONSUMERS; i++) {
		cons[i] = (struct counts){ .q = q };
		pthread_create(&tc[i], NULL, consume, &cons[i]);
	}
	for (int i = 0; i < PRODUCERS; i++) {
		prod[i] = (struct counts){ .q = q, .base = (uintptr_t)i * 1000000 };
		pthread_create(&tp[i], NULL, produce, &prod[i]);
		for (uintptr_t k = 1; k <= PER_PRODUCER; k++)
			want += prod[i].base + k;
	}
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(tp[i], NULL);
	bqueue_close(q);
	for (int i = 0; i < CONSUMERS; i++) {
		pthread_join(tc[i], NULL);
		sum += cons[i].sum;
		n += cons[i].n;
	}
	check(n == (long)PRODUCERS * PER_PRODUCER, "every pushed item is popped once");
	check(sum == want, "popped items are exactly the pushed ones");
	check(bqueue_length(q) == 0, "queue empty after consumers finish");
	bqueue_destroy(q);
}

int main(void)
{
	/* A lost wakeup shows up as a hang: turn it into a failure. */
	alarm(60);
	test_fifo_order();
	test_pop_blocks_until_push();
	test_close_wakes_and_drains();
	test_timed_pop();
	test_timed_pop_woken();
	test_many_threads();
	if (failures == 0)
		printf("bqueue: all checks pass\n");
	return failures != 0;
}
