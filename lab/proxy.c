/* proxy.c: the proxy process from start to clean exit (see proxy.h). */
#include "proxy.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmdline.h"
#include "gfserver.h"
#include "ipcname.h"
#include "segment_pool.h"
#include "stop_signals.h"
#include "watchdog.h"

struct shutdown_context {
	gfserver_t *server;
	struct segment_pool *pool;
	sigset_t signals;
	atomic_bool signalled;	/* set by the signal thread, before it stops */
};

static void remove_pool_names(void *pool)
{
	pool_remove_names(pool);
}

/*
 * Signals arrive here and only here (every other thread blocks them), so
 * the work done on a signal can be ordinary code. Waking the others is
 * enough: proxy_run joins them and only then removes the segments, unless
 * a thread is stuck; then the watchdog ends the process.
 */
static void *wait_for_signal(void *arg)
{
	struct shutdown_context *sc = arg;

	stop_signals_wait(&sc->signals, "webproxy");
	atomic_store(&sc->signalled, true);
	watchdog_arm("webproxy", remove_pool_names, sc->pool);
	pool_stop(sc->pool);
	gfserver_stop(sc->server);
	return NULL;
}

/*
 * The server returns without a signal only when it failed (it said why):
 * then nothing wakes the signal thread but a signal, so send one, and
 * shut down as on SIGTERM, with status 1 instead of serving nothing.
 */
static int stop_after_failure(void)
{
	fprintf(stderr, "webproxy: the GETFILE server stopped by itself; exiting\n");
	if (kill(getpid(), SIGTERM) != 0)
		fprintf(stderr, "webproxy: kill: %s\n", strerror(errno));
	return 1;
}

int proxy_run(int argc, char **argv)
{
	struct proxy_options opt = proxy_options_parse(argc, argv);
	struct shutdown_context sc = { .server = NULL };
	int status = 0;
	pthread_t signal_thread;
	char prefix[IPCNAME_MAX];
	int err;

	if (ipcname_prefix(prefix, sizeof(prefix)) != 0)
		return 1;
	/* Block before any thread exists, so every thread inherits it. */
	stop_signals_block(&sc.signals);

	sc.pool = pool_create(opt.nsegments, opt.segment_size);
	if (sc.pool == NULL) {
		fprintf(stderr, "webproxy: cannot create %zu segments of %zu bytes\n",
			opt.nsegments, opt.segment_size);
		return 1;
	}
	sc.server = gfserver_create(opt.port, opt.threads, handle_with_cache,
				    sc.pool);
	if (sc.server == NULL) {
		pool_destroy(sc.pool);
		return 1;
	}
	err = pthread_create(&signal_thread, NULL, wait_for_signal, &sc);
	if (err != 0) {
		fprintf(stderr, "webproxy: pthread_create: %s\n", strerror(err));
		gfserver_destroy(sc.server);
		pool_destroy(sc.pool);
		return 1;
	}
	watchdog_joining("a GETFILE handler thread");
	gfserver_serve(sc.server);
	if (!atomic_load(&sc.signalled))
		status = stop_after_failure();
	watchdog_joining("the signal thread");
	pthread_join(signal_thread, NULL);
	gfserver_destroy(sc.server);
	watchdog_disarm();
	pool_destroy(sc.pool);
	return status;
}
