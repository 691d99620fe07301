/*
 * cache.h: the cache process's life, the same in every variant, beside
 * proxy.h's proxy_run().
 *
 * cache_run() reads the flags (cmdline.h), blocks the stop signals, loads
 * the cache list, makes the command channel (the variant's open), starts
 * the signal thread, -t workers and the boss, and on SIGINT or SIGTERM
 * stops taking work, joins every thread and only then removes the channel
 * (the variant's close). Every worker runs the same loop: it takes the
 * next request off the work list, serves it with the segments it keeps
 * mapped (the variant's serve) unless a stop has begun, and ends it (the
 * variant's end_request). A thread that does not return in time is the
 * watchdog's (watchdog.h). Anything that stops the cache from serving goes
 * through cache_cannot_go_on(): one failure path, exit 1.
 *
 * The work list between the boss and the workers is bounded: the boss
 * holds a slot for each request it hands over (cache_take_slot), so when
 * the workers fall behind the requests wait outside the process, where
 * their senders feel it, and the cache's memory stays bounded. What the
 * boss refuses goes to refusals.h, counted, not printed one by one.
 */
#ifndef CACHE_H
#define CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* What a variant supplies for the workers (its simplecached.c and
 * shm_channel.c): each keeps segment_maps_size bytes, zeroed at start, as
 * its struct segment_maps, and gives them to segment_maps_clear as it ends. */
struct segment_maps;
extern const size_t segment_maps_size;
void segment_maps_clear(struct segment_maps *maps);

/* What a variant's simplecached.c supplies. */
struct cache_channel {
	int (*open)(void);		/* make the command channel: 0 or -1 */
	void (*close)(void);		/* remove it; every thread is joined */
	void (*remove_name)(void);	/* the watchdog's: only its name */
	void *(*boss)(void *);		/* receives and hands over requests
					 * until cache_stopping() */
	void (*wake_boss)(void);	/* from the signal thread; NULL if the
					 * boss looks at cache_stopping() often */
	/* The workers': serve with this worker's own maps (never after a
	 * stop began); end_request frees the request, served or not. */
	void (*serve)(struct segment_maps *maps, void *request);
	void (*end_request)(void *request);
};

/* Returns the process's exit status: 0 after a stop by a signal, 1 if it
 * could not start or could not go on. */
int cache_run(int argc, char **argv, const struct cache_channel *channel);

/* Set once a stop has begun; every wait of the cache looks at it. */
const atomic_bool *cache_stopping(void);

/* Says why the cache cannot serve and stops it the way a SIGTERM does, so
 * that it exits 1 instead of staying up and answering nothing. */
void cache_cannot_go_on(const char *what, const char *why);

/* The boss: waits at most timeout_ms (0: does not wait) for a free slot
 * of the work list; true if it holds one. */
bool cache_take_slot(int timeout_ms);
/* Gives a slot back unused (the request it was for was refused). */
void cache_give_slot_back(void);
/* Hands a request over with the slot the boss holds; the worker ends it
 * with end_request. Returns 0, or -1 when the cache is stopping: the
 * request and the slot are then still the boss's. */
int cache_hand_over(void *request);

#endif
