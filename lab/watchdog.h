/*
 * watchdog.h: a bound on shutdown that holds even when a thread is stuck.
 *
 * A thread can wait for good inside a library call: glibc's
 * pthread_cond_signal() on a condition variable whose words another
 * process overwrote, for one. Joining it would then never return, and the
 * process would outlive its SIGTERM with its names still in place. So the
 * signal thread arms the watchdog when a stop begins; main says which
 * thread it is joining as it goes; if the joins have not ended when the
 * watchdog's time is up, it removes the process's names, says which thread
 * did not return, and exits 1 (the memory and descriptors go with the
 * process).
 */
#ifndef WATCHDOG_H
#define WATCHDOG_H

/* The time from a stop signal to the watchdog's exit: under the 2 s the
 * rules allow for a whole shutdown. */
#define WATCHDOG_MS 1200

/* Arms the watchdog (once; later calls do nothing): in WATCHDOG_MS,
 * unless watchdog_disarm() came first, it calls remove_names(arg) and
 * exits 1. `program` prefixes its messages. Returns 0, or -1 if its thread
 * could not start (printed). */
int watchdog_arm(const char *program, void (*remove_names)(void *), void *arg);

/* Main, before each join: what it is about to wait for ("worker 3"), for
 * the watchdog's message. */
void watchdog_joining(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Every thread is joined: the ordinary removal can go on. */
void watchdog_disarm(void);

#endif
