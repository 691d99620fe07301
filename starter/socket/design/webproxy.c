/*
 * webproxy.c: the proxy process. What is here is fixed by the framework and
 * the rules: the flags, the GETFILE server (lab/gfserver.h) calling
 * handle_with_cache() on -t threads, and a signal thread, so that SIGINT and
 * SIGTERM are ordinary events in ordinary code.
 *
 * Design track: the data channel is yours. The rules (handouts/rules.md)
 * say the proxy creates exactly -n segments of exactly -z bytes when it
 * starts, before it accepts its first connection, and removes them when it
 * stops (rule 1); and that on a signal it stops taking work, wakes and
 * joins every thread, removes every object it owns and exits 0 within 2 s
 * (rule 3). In what order it does that is your design.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cache-student.h"
#include "gfserver.h"
#include "shm_channel.h"

#define USAGE \
	"usage: webproxy [-p port (25362)] [-t threads 1..512 (8)]\n" \
	"                [-n segments 1..1024 (8)] [-z segment bytes 824..67108864 (5712)]\n" \
	"                [-s server (accepted, unused)] [-h]\n"

_Static_assert(SEGMENT_MIN_SIZE == 824 && SEGMENT_MAX_SIZE == 67108864,
	       "the usage line states the -z range");

static void usage_error(void)
{
	fputs(USAGE, stderr);
	exit(2);
}

static struct proxy_options parse_options(int argc, char **argv)
{
	struct proxy_options o = { 25362, 8, 8, 5712 };
	long v;
	int c;

	while ((c = getopt(argc, argv, "p:t:n:z:s:h")) != -1) {
		switch (c) {
		case 'p':
			if (args_parse_long(optarg, 1, 65535, &v) != 0)
				usage_error();
			o.port = (unsigned short)v;
			break;
		case 't':
			if (args_parse_long(optarg, 1, 512, &v) != 0)
				usage_error();
			o.threads = (int)v;
			break;
		case 'n':
			if (args_parse_long(optarg, 1, 1024, &v) != 0)
				usage_error();
			o.nsegments = (size_t)v;
			break;
		case 'z':
			if (args_parse_long(optarg, SEGMENT_MIN_SIZE,
					    SEGMENT_MAX_SIZE, &v) != 0)
				usage_error();
			o.segment_size = (size_t)v;
			break;
		case 's':
			break;
		case 'h':
			fputs(USAGE, stdout);
			exit(0);
		default:
			usage_error();
		}
	}
	if (optind != argc)
		usage_error();
	return o;
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
	int sig;
	int err = sigwait(&sc->signals, &sig);

	if (err != 0)
		fprintf(stderr, "webproxy: sigwait: %s\n", strerror(err));
	atomic_store(&sc->proxy->stopping, true);
	gfserver_stop(sc->server);
	return NULL;
}

int main(int argc, char **argv)
{
	struct proxy proxy = { .opt = parse_options(argc, argv) };
	struct shutdown_context sc = { .proxy = &proxy };
	pthread_t signal_thread;
	char prefix[IPCNAME_MAX];
	int err;

	if (ipcname_prefix(prefix, sizeof(prefix)) != 0)
		return 1;
	/* Blocked before any thread exists, so every thread inherits it. */
	sigemptyset(&sc.signals);
	sigaddset(&sc.signals, SIGINT);
	sigaddset(&sc.signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sc.signals, NULL);

	/* Rule 1: the -n segments of -z bytes exist from here on. */
	sc.server = gfserver_create(proxy.opt.port, proxy.opt.threads,
				    handle_with_cache, &proxy);
	if (sc.server == NULL)
		return 1;
	err = pthread_create(&signal_thread, NULL, wait_for_signal, &sc);
	if (err != 0) {
		fprintf(stderr, "webproxy: pthread_create: %s\n", strerror(err));
		gfserver_destroy(sc.server);
		return 1;
	}
	gfserver_serve(sc.server);
	pthread_join(signal_thread, NULL);
	gfserver_destroy(sc.server);
	/* Rule 3: nothing the proxy made is left after this. */
	return 0;
}
