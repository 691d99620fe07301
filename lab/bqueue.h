/*
 * bqueue.h: a small blocking FIFO of pointers, for boss/worker pools and
 * for the proxy's pool of free segments.
 *
 * bqueue_pop() sleeps on a condition variable while the queue is empty (no
 * spinning). bqueue_close() wakes every sleeper: after it, bqueue_pop()
 * returns what is left and then NULL, and bqueue_push() fails. That is how
 * a pool is told to shut down.
 */
#ifndef BQUEUE_H
#define BQUEUE_H

#include <stddef.h>

typedef struct bqueue bqueue_t;

bqueue_t *bqueue_create(void);

/* Returns 0, or -1 if the queue is closed (the item was not added). */
int bqueue_push(bqueue_t *q, void *item);

/* Blocks until an item is available or the queue is closed and empty
 * (then returns NULL). */
void *bqueue_pop(bqueue_t *q);

/* As bqueue_pop(), but gives up after timeout_ms and returns NULL. */
void *bqueue_pop_timed(bqueue_t *q, int timeout_ms);

void bqueue_close(bqueue_t *q);

size_t bqueue_length(bqueue_t *q);

/* Frees the queue itself, not the items left in it. */
void bqueue_destroy(bqueue_t *q);

#endif
