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

/* Rule 1: all -n mailboxes, or none (what was made is removed). */
static int open_mailboxes(struct proxy *proxy)
{
	struct mailbox_set *set = &proxy->set;

	set->boxes = calloc(proxy->opt.nsegments, sizeof(*set->boxes));
	if (set->boxes == NULL)
		return -1;
	for (set->count = 0; set->count < proxy->opt.nsegments; set->count++) {
		char name[IPCNAME_MAX];

		if (ipcname_segment(name, sizeof(name), getpid(), (unsigned)set->count) != 0 ||
		    mailbox_create(&set->boxes[set->count], name, proxy->opt.segment_size) != 0) {
			while (set->count > 0)
				mailbox_destroy(&set->boxes[--set->count]);
			free(set->boxes);
			return -1;
		}
	}
	pthread_mutex_init(&set->lock, NULL);
	pthread_cond_init(&set->freed, NULL);
	return 0;
}

static void close_mailboxes(struct proxy *proxy)
{
	for (size_t i = 0; i < proxy->set.count; i++)
		mailbox_destroy(&proxy->set.boxes[i]);
	free(proxy->set.boxes);
	pthread_mutex_destroy(&proxy->set.lock);
	pthread_cond_destroy(&proxy->set.freed);
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
	if (open_mailboxes(&proxy) != 0)
		return 1;
	sc.server = gfserver_create(proxy.opt.port, proxy.opt.threads,
				    handle_with_cache, &proxy);
	if (sc.server == NULL) {
		close_mailboxes(&proxy);
		return 1;
	}
	err = pthread_create(&signal_thread, NULL, wait_for_signal, &sc);
	if (err != 0) {
		fprintf(stderr, "webproxy: pthread_create: %s\n", strerror(err));
		gfserver_destroy(sc.server);
		close_mailboxes(&proxy);
		return 1;
	}
	gfserver_serve(sc.server);
	pthread_join(signal_thread, NULL);
	gfserver_destroy(sc.server);
	close_mailboxes(&proxy);
	/* Rule 3: nothing the proxy made is left after this. */
	return 0;
}
