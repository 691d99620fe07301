/*
 * simplecached.c: the cache process. What is here is fixed by the framework
 * and the rules: the flags (lab/cmdline.h; -t is how many lookups may run
 * at once), the cache store (lab/simplecache.h: it opens every listed file
 * at start; a lookup returns a descriptor to read with pread, and sleeps -d
 * microseconds first), and a signal thread (lab/stop_signals.h), so that
 * SIGINT and SIGTERM are ordinary events in ordinary code.
 *
 * Design track: the rest is yours. The rules (handouts/rules.md) say the
 * cache creates its command channel, a Unix-domain stream socket listening
 * at the path ipcname_socket() gives, when it starts and removes it when
 * it stops (rule 1); that up to -t lookups run at once, one per request
 * (rule 2); that it serves several proxies at once and trusts nothing that
 * arrives on the socket (rules 2 and 6); and that on a signal it stops
 * taking work, wakes and joins every thread, removes its socket's file and
 * exits 0 within 2 s (rule 3). Which threads it runs, and in what order it stops them, is
 * your design.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache-student.h"
#include "cmdline.h"
#include "shm_channel.h"
#include "simplecache.h"
#include "stop_signals.h"

/* Shared by every thread. `stopping` is set once, by the signal thread. */
static struct {
	struct cache_options opt;
	atomic_bool stopping;
} cache;

/*
 * Signals arrive here and only here (every other thread blocks them). A
 * thread of yours that waits on the socket or on a segment must notice
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
	err = pthread_create(&signal_thread, NULL, wait_for_signal, &signals);
	if (err != 0) {
		fprintf(stderr, "simplecached: pthread_create: %s\n",
			strerror(err));
		simplecache_destroy();
		return 1;
	}
	pthread_join(signal_thread, NULL);
	/* Rule 3: every thread joined, the channel removed, before this. */
	simplecache_destroy();
	return 0;
}
