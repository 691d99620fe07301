/*
 * gfserver_direct: a GETFILE server that reads the cache list's files
 * itself, with no cache process and no IPC: the baseline the benchmark
 * compares the proxy against.
 *
 *	gfserver_direct -p PORT -c CACHELIST [-t threads (8)] [-h]
 *
 * It is the fair baseline: it sends a file as cheaply as the framework's
 * handler API allows. Each listed file is mapped into memory once, on its
 * first request, and kept mapped; a response is then one gfs_sendheader()
 * and one gfs_send() of the whole mapping, with no read() copy and no
 * chunk loop. (Header and body still go out in two send() calls: the API
 * has no call that sends both, or a file, at once.) A file that cannot be
 * mapped, or whose size changed since it was mapped, is sent with pread()
 * in chunks instead. (Like every mapping, it assumes the file does not
 * shrink while it is being sent.)
 *
 * Any other path gets FILE_NOT_FOUND, and a listed entry that is not a
 * regular file gets ERROR. SIGINT or SIGTERM stops the server cleanly:
 * signals are blocked in every thread and a dedicated thread takes them
 * with sigwait() and calls gfserver_stop(); main then frees everything
 * and exits 0.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

/*
 * The mappings, indexed by descriptor (the cache's descriptors live as
 * long as the server). Guarded by maps_lock; an entry, once set, never
 * changes until main unmaps everything after the workers have stopped.
 */
struct mapping {
	const void *base;	/* NULL: not mapped (yet) */
	size_t size;
};

static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mapping *maps;
static size_t nmaps;

/* The mapping of fd's whole file of size bytes, made on first use; NULL
 * if it cannot be mapped. */
static const void *mapping_of(int fd, size_t size)
{
	const void *base = NULL;

	pthread_mutex_lock(&maps_lock);
	if ((size_t)fd >= nmaps) {
		struct mapping *m = realloc(maps, (fd + 1) * sizeof(*m));

		if (m != NULL) {
			memset(m + nmaps, 0, (fd + 1 - nmaps) * sizeof(*m));
			maps = m;
			nmaps = fd + 1;
		}
	}
	if ((size_t)fd < nmaps) {
		if (maps[fd].base == NULL) {
			void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);

			if (p != MAP_FAILED)
				maps[fd] = (struct mapping){ p, size };
		}
		if (maps[fd].size == size)
			base = maps[fd].base;
	}
	pthread_mutex_unlock(&maps_lock);
	return base;
}

static void unmap_all(void)
{
	for (size_t i = 0; i < nmaps; i++)
		if (maps[i].base != NULL)
			munmap((void *)maps[i].base, maps[i].size);
	free(maps);
	maps = NULL;
	nmaps = 0;
}

/* The body by pread(), CHUNK bytes at a time. */
static void send_by_reading(gfcontext_t *ctx, int fd, off_t size)
{
	char buf[CHUNK];
	off_t off = 0;

	while (off < size) {
		size_t want = size - off < CHUNK ? size - off : CHUNK;
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

/* Sends the file behind fd as the whole response. */
static void send_file(gfcontext_t *ctx, int fd)
{
	const void *base;
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		gfs_sendheader(ctx, GF_ERROR, 0);
		return;
	}
	if (gfs_sendheader(ctx, GF_OK, st.st_size) < 0 || st.st_size == 0)
		return;
	base = mapping_of(fd, (size_t)st.st_size);
	if (base == NULL)
		send_by_reading(ctx, fd, st.st_size);
	else if (gfs_send(ctx, base, (size_t)st.st_size) < 0)
		gfs_abort(ctx);
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
	unmap_all();
	simplecache_destroy();
	return 0;
}
