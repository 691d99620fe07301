/*
 * deadline.h: time in milliseconds, for bounded waits. A deadline is an
 * absolute time on a named clock, because that is what the timed waits of
 * POSIX take (sem_clockwait, pthread_cond_timedwait, mq_timedreceive):
 * CLOCK_MONOTONIC where the call lets us choose, so a change of the wall
 * clock can neither stretch nor cut a bound; CLOCK_REALTIME where the call
 * insists on it.
 */
#ifndef DEADLINE_H
#define DEADLINE_H

#include <stdbool.h>
#include <time.h>

/* The time `ms` milliseconds from now on `clock` (ms >= 0). */
struct timespec deadline_after(clockid_t clock, int ms);

/* True if a comes strictly before b (both on the same clock). */
bool deadline_before(const struct timespec *a, const struct timespec *b);

/* Milliseconds from `since` to now on CLOCK_MONOTONIC. */
long ms_since(const struct timespec *since);

/* Sleeps about `ms` milliseconds (a signal may cut it short). */
void sleep_ms(int ms);

#endif
