/*
 * gfserver_direct: a GETFILE server that reads the cache list's files
 * itself, with no cache process and no IPC: the baseline the benchmark
 * compares the proxy against.
 *
 *	gfserver_direct -p PORT -c CACHELIST [-t threads (8)] [-h]
 *
 * A path in the list is sent with pread() in chunks; any other path gets
 * FILE_NOT_FOUND, and a listed entry that is not a regular file gets
 * ERROR. SIGINT or SIGTERM stops the server cleanly: signals are blocked
 * in every thread and a dedicated thread takes them with sigwait() and
 * calls gfserver_stop(); main then frees everything and exits 0.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gfserver.h"
#include "simplecache.h"

#define CHUNK 65536
#define MAX_THREADS 512

static void usage(FILE *f)
{
	fprintf(f, "usage: gfserver_direct -p port -c cachelist [-t threads] [-h]\n"
		"  -p port       port to listen on (required)\n"
		"  -c cachelist  \"<path> <file>\" lines to serve (required)\n"
		"  -t threads    worker threads, 1..%d (8)\n"
		"  -h            show this help\n", MAX_THREADS);
}

/* Sends the file behind fd as the whole response. */
static void send_file(gfcontext_t *ctx, int fd)
{
	char buf[CHUNK];
	struct stat st;
	off_t off = 0;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		gfs_sendheader(ctx, GF_ERROR, 0);
		return;
	}
	if (gfs_sendheader(ctx, GF_OK, st.st_size) < 0)
		return;
	while (off < st.st_size) {
		size_t want = st.st_size - off < CHUNK ? st.st_size - off : CHUNK;
		ssize_t n = pread(fd, buf, want, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || gfs_send(ctx, buf, n) < 0) {
			/* Shrunk, unreadable, or the client left: close early
			 * so the client sees a short body, never padding. */
			gfs_abort(ctx);
			return;
		}
		off += n;
	}
}

static void handle(gfcontext_t *ctx, const char *path, void *arg)
{
	int fd = simplecache_get(path);

	(void)arg;
	if (fd < 0)
		gfs_sendheader(ctx, GF_FILE_NOT_FOUND, 0);
	else
		send_file(ctx, fd);
}

struct stopper {
	sigset_t signals;
	gfserver_t *srv;
};

static void *stop_on_signal(void *arg)
{
	struct stopper *s = arg;
	int sig;

	sigwait(&s->signals, &sig);
	gfserver_stop(s->srv);
	return NULL;
}

static int parse_args(int argc, char **argv, long *port, const char **list,
		      long *threads)
{
	char *end;
	int c;

	while ((c = getopt(argc, argv, "p:c:t:h")) != -1) {
		switch (c) {
		case 'p':
			*port = strtol(optarg, &end, 10);
			if (*end != '\0' || end == optarg || *port < 1 || *port > 65535)
				return 2;
			break;
		case 't':
			*threads = strtol(optarg, &end, 10);
			if (*end != '\0' || end == optarg || *threads < 1 ||
			    *threads > MAX_THREADS)
				return 2;
			break;
		case 'c':
			*list = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc || *port == 0 || *list == NULL)
		return 2;
	return -1;
}

int main(int argc, char **argv)
{
	long port = 0, threads = 8;
	const char *list = NULL;
	struct stopper s;
	pthread_t stopper;
	int status = parse_args(argc, argv, &port, &list, &threads);

	if (status == 2)
		usage(stderr);
	if (status >= 0)
		return status;

	/* Block the signals before any thread exists, so every thread
	 * inherits the mask and only the stopper receives them. */
	sigemptyset(&s.signals);
	sigaddset(&s.signals, SIGINT);
	sigaddset(&s.signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &s.signals, NULL);

	if (simplecache_init(list) < 0)
		return 1;
	s.srv = gfserver_create((unsigned short)port, (int)threads, handle, NULL);
	if (s.srv == NULL) {
		simplecache_destroy();
		return 1;
	}
	if (pthread_create(&stopper, NULL, stop_on_signal, &s) != 0) {
		fprintf(stderr, "gfserver_direct: cannot start the signal thread\n");
		gfserver_destroy(s.srv);
		simplecache_destroy();
		return 1;
	}
	fprintf(stderr, "gfserver_direct: serving %s on port %ld\n", list, port);
	gfserver_serve(s.srv);
	pthread_join(stopper, NULL);
	gfserver_destroy(s.srv);
	simplecache_destroy();
	return 0;
}
