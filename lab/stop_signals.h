/*
 * stop_signals.h: SIGINT and SIGTERM, the signals that stop both programs.
 *
 * The pattern: main blocks them before it starts any thread, so every
 * thread inherits the mask and none is interrupted; one thread waits for
 * them with sigwait(), and the work done on a signal (waking the others)
 * is then ordinary code, not a handler's. Removing IPC objects waits until
 * main has joined the threads: shm_unlink and mq_unlink are not
 * async-signal-safe, and nobody may still be using the objects.
 */
#ifndef STOP_SIGNALS_H
#define STOP_SIGNALS_H

#include <signal.h>

/* Blocks SIGINT and SIGTERM in the calling thread and stores them in
 * *set. Call it before any thread exists. */
void stop_signals_block(sigset_t *set);

/* Waits until one of *set arrives; returns it, or -1 if sigwait failed
 * (printed, with `program`). */
int stop_signals_wait(const sigset_t *set, const char *program);

#endif
