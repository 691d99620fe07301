/*
 * webproxy.c: the proxy process. What is here is fixed by the framework and
 * the rules: the flags (lab/cmdline.h), the GETFILE server (lab/gfserver.h) calling
 * handle_with_cache() on -t threads, and a signal thread (lab/stop_signals.h),
 * so that SIGINT and SIGTERM are ordinary events in ordinary code.
 *
 * Design track: the data channel is yours. The rules (handouts/rules.md)
 * say the proxy creates exactly -n segments of exactly -z bytes when it
 * starts, before it accepts its first connection, and removes them when it
 * stops (rule 1); and that on a signal it stops taking work, wakes and
 * joins every thread, removes every object it owns and exits 0 within 2 s
 * (rule 3). In what order it does that is your design.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache-student.h"
#include "cmdline.h"
#include "gfserver.h"
#include "shm_channel.h"
#include "stop_signals.h"

/* Every lane of rule 1, or none of them. */
static int lanes_up(struct proxy *px)
{
	struct lane_stack *st = &px->lanes;

	st->all = calloc(px->opt.nsegments, sizeof(*st->all));
	st->free_idx = calloc(px->opt.nsegments, sizeof(*st->free_idx));
	if (st->all == NULL || st->free_idx == NULL)
		return -1;
	for (st->n = 0; st->n < px->opt.nsegments; st->n++) {
		char nm[IPCNAME_MAX];

		if (ipcname_segment(nm, sizeof(nm), getpid(), (unsigned)st->n) != 0 ||
		    lane_make(&st->all[st->n], nm, px->opt.segment_size) != 0) {
			fprintf(stderr, "webproxy: cannot make segment %zu\n", st->n);
			while (st->n-- > 0)
				lane_unmake(&st->all[st->n]);
			return -1;
		}
		st->free_idx[st->free_top++] = st->n;
	}
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->nonempty, NULL);
	return 0;
}

static void lanes_down(struct proxy *px)
{
	for (size_t k = 0; k < px->lanes.n; k++)
		lane_unmake(&px->lanes.all[k]);
	free(px->lanes.all);
	free(px->lanes.free_idx);
}

struct shutdown_context {
	gfserver_t *server;
	struct proxy *proxy;
	sigset_t signals;
};

/*
 * Signals arrive here and only here (every other thread blocks them), so
 * what is done on a signal is ordinary code, free to lock and to wake.
 * gfserver_stop() ends gfserver_serve() in main once every handler has
 * returned; a handler waiting on the cache must notice `stopping` first.
 */
static void *wait_for_signal(void *arg)
{
	struct shutdown_context *sc = arg;

	stop_signals_wait(&sc->signals, "webproxy");
	atomic_store(&sc->proxy->stopping, true);
	gfserver_stop(sc->server);
	return NULL;
}

int main(int argc, char **argv)
{
	struct proxy proxy = { .opt = proxy_options_parse(argc, argv) };
	struct shutdown_context sc = { .proxy = &proxy };
	pthread_t signal_thread;
	char prefix[IPCNAME_MAX];
	int err;

	if (ipcname_prefix(prefix, sizeof(prefix)) != 0)
		return 1;
	/* Blocked before any thread exists, so every thread inherits it. */
	stop_signals_block(&sc.signals);

	/* Rule 1: the -n segments of -z bytes exist from here on. */
	if (lanes_up(&proxy) != 0) {
		lanes_down(&proxy);
		return 1;
	}
	sc.server = gfserver_create(proxy.opt.port, proxy.opt.threads,
				    handle_with_cache, &proxy);
	if (sc.server == NULL) {
		lanes_down(&proxy);
		return 1;
	}
	err = pthread_create(&signal_thread, NULL, wait_for_signal, &sc);
	if (err != 0) {
		fprintf(stderr, "webproxy: pthread_create: %s\n", strerror(err));
		gfserver_destroy(sc.server);
		lanes_down(&proxy);
		return 1;
	}
	gfserver_serve(sc.server);
	pthread_join(signal_thread, NULL);
	gfserver_destroy(sc.server);
	lanes_down(&proxy);
	/* Rule 3: nothing the proxy made is left after this. */
	return 0;
}
