/* cache.c: the cache process from start to exit (see cache.h). */
/* sem_clockwait is a GNU extension. */
#define _GNU_SOURCE
#include "cache.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bqueue.h"
#include "cmdline.h"
#include "deadline.h"
#include "refusals.h"
#include "simplecache.h"
#include "stop_signals.h"
#include "watchdog.h"

/* Two slots a worker: one being served, one waiting behind it. */
#define SLOTS_PER_WORKER 2

/* `work` and `slots` are made before any thread starts and destroyed
 * after all are joined. */
static struct {
	const struct cache_channel *channel;
	bqueue_t *work;		/* requests, boss -> workers */
	sem_t slots;		/* requests the workers may still take on */
	sigset_t signals;
	atomic_bool stopping;
	atomic_bool failed;	/* cache_cannot_go_on() was called: exit 1 */
} cache;

const atomic_bool *cache_stopping(void)
{
	return &cache.stopping;
}

void cache_cannot_go_on(const char *what, const char *why)
{
	fprintf(stderr, "simplecached: %s: %s; exiting\n", what, why);
	atomic_store(&cache.failed, true);
	if (kill(getpid(), SIGTERM) != 0)
		fprintf(stderr, "simplecached: kill: %s\n", strerror(errno));
}

/* sem_clockwait() measures on CLOCK_MONOTONIC, so a change of the wall
 * clock cannot stretch the boss's wait. */
bool cache_take_slot(int timeout_ms)
{
	struct timespec deadline;

	if (timeout_ms == 0)
		return sem_trywait(&cache.slots) == 0;
	deadline = deadline_after(CLOCK_MONOTONIC, timeout_ms);
	while (sem_clockwait(&cache.slots, CLOCK_MONOTONIC, &deadline) != 0) {
		if (errno == ETIMEDOUT)
			return false;
		if (errno != EINTR) {
			cache_cannot_go_on("sem_clockwait", strerror(errno));
			return false;
		}
	}
	return true;
}

/* Cannot overflow: there are never more posts than slots. */
void cache_give_slot_back(void)
{
	if (sem_post(&cache.slots) != 0)
		fprintf(stderr, "simplecached: sem_post: %s\n", strerror(errno));
}

int cache_hand_over(void *request)
{
	return bqueue_push(cache.work, request);
}

/* A worker, with its own maps. After a stop began, what is left on the
 * work list is ended unserved; the list closes behind the boss. */
static void *work(void *maps)
{
	void *request;

	while ((request = bqueue_pop(cache.work)) != NULL) {
		if (!atomic_load(&cache.stopping))
			cache.channel->serve(maps, request);
		cache.channel->end_request(request);
		cache_give_slot_back();
	}
	segment_maps_clear(maps);
	return NULL;
}

static void remove_channel_name(void *unused)
{
	(void)unused;
	cache.channel->remove_name();
}

/* Signals arrive here and only here. Waking the boss is enough: the
 * workers stop when the work list closes behind it. */
static void *wait_for_signal(void *unused)
{
	(void)unused;
	stop_signals_wait(&cache.signals, "simplecached");
	watchdog_arm("simplecached", remove_channel_name, NULL);
	atomic_store(&cache.stopping, true);
	if (cache.channel->wake_boss != NULL)
		cache.channel->wake_boss();
	return NULL;
}

/* Joins `thread`, telling the watchdog what it waits for. */
static void join(pthread_t thread, const char *what, int index)
{
	int err;

	if (index < 0)
		watchdog_joining("%s", what);
	else
		watchdog_joining("%s %d", what, index);
	err = pthread_join(thread, NULL);
	if (err != 0)
		fprintf(stderr, "simplecached: pthread_join: %s\n", strerror(err));
}

static int run(int threads)
{
	pthread_t boss, signal_thread;
	pthread_t *workers = calloc((size_t)threads, sizeof(pthread_t));
	/* Worker i's maps start at maps + i * each: a struct's size is a
	 * multiple of its alignment, and calloc aligns for any type. */
	size_t each = segment_maps_size;
	unsigned char *maps = calloc((size_t)threads, each);
	bool boss_started = false;
	int started = 0;
	int err;

	if (workers == NULL || maps == NULL) {
		fprintf(stderr, "simplecached: no memory for %d threads\n",
			threads);
		free(workers);
		free(maps);
		return 1;
	}
	err = pthread_create(&signal_thread, NULL, wait_for_signal, NULL);
	if (err != 0) {
		fprintf(stderr, "simplecached: pthread_create: %s\n",
			strerror(err));
		free(workers);
		free(maps);
		return 1;
	}
	while (err == 0 && started < threads) {
		err = pthread_create(&workers[started], NULL, work,
				     maps + (size_t)started * each);
		if (err == 0)
			started++;
	}
	if (err == 0) {
		err = pthread_create(&boss, NULL, cache.channel->boss, NULL);
		boss_started = err == 0;
	}
	if (err != 0)
		cache_cannot_go_on("pthread_create", strerror(err));

	/* Only a signal ends the process (a failure sends one). The boss
	 * ends with the stop; the workers drain and finish once the work
	 * list is closed. Join only what started. */
	join(signal_thread, "the signal thread", -1);
	if (boss_started)
		join(boss, "the boss thread", -1);
	bqueue_close(cache.work);
	for (int i = 0; i < started; i++)
		join(workers[i], "worker thread", i);
	watchdog_disarm();
	free(workers);
	free(maps);
	refusals_report(true);
	return atomic_load(&cache.failed) ? 1 : 0;
}

int cache_run(int argc, char **argv, const struct cache_channel *channel)
{
	struct cache_options opt = cache_options_parse(argc, argv);
	int status = 1;

	cache.channel = channel;
	/* Before any thread exists, so every thread inherits it. */
	stop_signals_block(&cache.signals);
	if (simplecache_init(opt.cachelist) != 0)
		return 1;
	simplecache_set_delay(opt.delay_us);
	if (sem_init(&cache.slots, 0, SLOTS_PER_WORKER * (unsigned)opt.threads) != 0) {
		fprintf(stderr, "simplecached: sem_init: %s\n", strerror(errno));
		simplecache_destroy();
		return 1;
	}
	cache.work = bqueue_create();
	if (cache.work == NULL) {
		fprintf(stderr, "simplecached: no memory for the work list\n");
	} else {
		/* close() removes whatever part of the channel open() made. */
		if (channel->open() == 0)
			status = run(opt.threads);
		channel->close();
	}
	bqueue_destroy(cache.work);
	/* Fails only for a pointer that is no semaphore. */
	sem_destroy(&cache.slots);
	simplecache_destroy();
	return status;
}
