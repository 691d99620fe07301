/*
 * test_gfserver.c: lab/gfserver.c with a scripted handler, fetched with
 * gfc_get(). Checks what only a handler can provoke: ERROR, a refused
 * attempt to send past the declared length, a short body, a handler that
 * sends no header, gfs_abort(); then that gfserver_stop() from another
 * thread ends gfserver_serve() while a handler is blocked sending to a
 * client that does not read. Then what the event thread promises: idle
 * connections hold no worker, and at the connection bound a valid client
 * displaces the oldest idle one. Exits 0 when all pass.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gfclient.h"
#include "gfserver.h"

static int failures;
static int pad_refused;		/* written by a worker, read after a fetch */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void handler(gfcontext_t *ctx, const char *path, void *arg)
{
	static char big[1 << 20];

	(void)arg;
	if (strcmp(path, "/hello") == 0) {
		gfs_sendheader(ctx, GF_OK, 5);
		gfs_send(ctx, "hello", 5);
	} else if (strcmp(path, "/pad") == 0) {
		gfs_sendheader(ctx, GF_OK, 3);
		pthread_mutex_lock(&lock);
		pad_refused = gfs_send(ctx, "abcdef", 6) == -1;
		pthread_mutex_unlock(&lock);
		gfs_send(ctx, "abc", 3);
	} else if (strcmp(path, "/short") == 0) {
		gfs_sendheader(ctx, GF_OK, 100);
		gfs_send(ctx, "0123456789", 10);
	} else if (strcmp(path, "/abort") == 0) {
		gfs_sendheader(ctx, GF_OK, 100);
		gfs_send(ctx, "0123456789", 10);
		gfs_abort(ctx);
		gfs_send(ctx, "more", 4);
	} else if (strcmp(path, "/error") == 0) {
		gfs_sendheader(ctx, GF_ERROR, 0);
	} else if (strcmp(path, "/big") == 0) {
		/* Many megabytes to a client that does not read: blocks. */
		gfs_sendheader(ctx, GF_OK, 64 * sizeof(big));
		for (int i = 0; i < 64; i++)
			if (gfs_send(ctx, big, sizeof(big)) < 0)
				return;
	} else if (strcmp(path, "/silent") == 0) {
		return;		/* no header at all */
	} else {
		gfs_sendheader(ctx, GF_FILE_NOT_FOUND, 0);
	}
}

/* A port that was free a moment ago. */
static unsigned short free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd);
	return ntohs(a.sin_port);
}

static unsigned short port;

static int discard(const void *data, size_t len, void *arg)
{
	(void)data;
	*(size_t *)arg += len;
	return 0;
}

static void expect(const char *path, gfc_result_t want, size_t want_bytes)
{
	gfc_response_t resp;
	size_t got = 0;

	gfc_get("127.0.0.1", port, path, 3000, discard, &got, &resp);
	if (resp.result != want || resp.received_len != want_bytes) {
		printf("FAIL %s: %s with %zu bytes, want %s with %zu\n", path,
		       gfc_result_str(resp.result), resp.received_len,
		       gfc_result_str(want), want_bytes);
		failures++;
	}
}

static void *serve(void *srv)
{
	gfserver_serve(srv);
	return NULL;
}

/* Connects to the server and sends nothing. Returns the socket. */
static int idle_client(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		perror("idle client");
	return fd;
}

/* Connects, asks for /big and never reads. Returns the socket. */
static int stuck_client(void)
{
	const char req[] = "GETFILE GET /big\r\n\r\n";
	int fd = idle_client();

	if (send(fd, req, sizeof(req) - 1, 0) < 0)
		perror("stuck client");
	return fd;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Starts a server with nworkers on a fresh port, serving on thread *t. */
static gfserver_t *start_server(int nworkers, pthread_t *t)
{
	gfserver_t *srv;

	port = free_port();
	srv = gfserver_create(port, nworkers, handler, NULL);
	if (srv == NULL || pthread_create(t, NULL, serve, srv) != 0) {
		printf("FAIL cannot start a server\n");
		exit(1);
	}
	return srv;
}

static void stop_server(gfserver_t *srv, pthread_t t)
{
	gfserver_stop(srv);
	pthread_join(t, NULL);
	gfserver_destroy(srv);
}

/* With one worker and IDLE connections that send nothing, a valid request
 * is answered at once: a connection without its header holds no worker. */
#define IDLE 8
static void idle_clients_hold_no_worker(void)
{
	struct timespec t0;
	pthread_t t;
	gfserver_t *srv = start_server(1, &t);
	int idle[IDLE];

	for (int i = 0; i < IDLE; i++)
		idle[i] = idle_client();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect("/hello", GFC_OK, 5);
	if (seconds_since(&t0) > 1.0) {
		printf("FAIL idle connections delayed a request by %.2f s\n",
		       seconds_since(&t0));
		failures++;
	}
	stop_server(srv, t);
	for (int i = 0; i < IDLE; i++)
		close(idle[i]);
}

/* Lowers this process's descriptor limit so the server's bound is small,
 * then holds more idle connections than that: valid requests are still
 * served, each displacing the oldest idle connection. Run last: the hard
 * limit cannot be raised again. */
#define BOUND_FDS 90	/* 64 reserved + 1 worker + a bound of 25 */
#define OVER_BOUND 40
static void bound_displaces_idle(void)
{
	struct rlimit rl = { BOUND_FDS, BOUND_FDS };
	pthread_t t;
	gfserver_t *srv;
	int idle[OVER_BOUND];

	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		/* valgrind keeps the hard limit fixed; prlimit tests the
		 * bound in tests/hostile_clients.bats too. */
		printf("skip the bound case: setrlimit: %s\n", strerror(errno));
		return;
	}
	srv = start_server(1, &t);
	for (int i = 0; i < OVER_BOUND; i++)
		idle[i] = idle_client();
	for (int i = 0; i < 3; i++)
		expect("/hello", GFC_OK, 5);
	stop_server(srv, t);
	for (int i = 0; i < OVER_BOUND; i++)
		close(idle[i]);
}

int main(void)
{
	struct timespec t0, pause = { .tv_nsec = 300 * 1000000 };
	gfserver_t *srv;
	pthread_t t;
	int stuck;
	double secs;

	srv = start_server(2, &t);

	expect("/hello", GFC_OK, 5);
	expect("/pad", GFC_OK, 3);
	pthread_mutex_lock(&lock);
	if (!pad_refused) {
		printf("FAIL gfs_send accepted bytes past the declared length\n");
		failures++;
	}
	pthread_mutex_unlock(&lock);
	expect("/short", GFC_SHORT_BODY, 10);
	expect("/abort", GFC_SHORT_BODY, 10);
	expect("/error", GFC_ERROR, 0);
	expect("/silent", GFC_ERROR, 0);
	expect("/nothing", GFC_FILE_NOT_FOUND, 0);
	expect("no-slash", GFC_INVALID, 0);

	/* Stop while one worker is stuck sending to a client that does not
	 * read: serve() must still return promptly. */
	stuck = stuck_client();
	nanosleep(&pause, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	gfserver_stop(srv);
	pthread_join(t, NULL);
	secs = seconds_since(&t0);
	if (secs > 2.0) {
		printf("FAIL gfserver_serve took %.2f s to return after stop\n",
		       secs);
		failures++;
	}
	close(stuck);
	gfserver_destroy(srv);

	idle_clients_hold_no_worker();
	bound_displaces_idle();
	if (failures == 0)
		printf("gfserver: all cases pass\n");
	return failures != 0;
}
