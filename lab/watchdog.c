/* watchdog.c: bounding a shutdown that a stuck thread would stall (see
 * watchdog.h). */
#include "watchdog.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deadline.h"

/* Every field only with `lock` held. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t done;		/* disarmed became true */
	bool armed, disarmed;
	pthread_t thread;		/* valid once armed */
	char joining[64];		/* what main waits for now */
	const char *program;
	void (*remove_names)(void *);
	void *arg;
} dog = { .lock = PTHREAD_MUTEX_INITIALIZER,
	  .done = PTHREAD_COND_INITIALIZER,
	  .joining = "a thread" };

/*
 * The default condition variable measures on CLOCK_REALTIME; a change of
 * the wall clock during the last two seconds of a process could stretch
 * or cut this wait, which is harmless next to the alternative of none.
 * Locking a default mutex this thread does not hold cannot fail.
 */
static void *watch(void *unused)
{
	struct timespec deadline = deadline_after(CLOCK_REALTIME, WATCHDOG_MS);
	int rc = 0;

	(void)unused;
	pthread_mutex_lock(&dog.lock);
	while (!dog.disarmed && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&dog.done, &dog.lock, &deadline);
	if (dog.disarmed) {
		pthread_mutex_unlock(&dog.lock);
		return NULL;
	}
	fprintf(stderr, "%s: shutdown did not end in %d ms: %s did not return; removing the names and exiting\n",
		dog.program, WATCHDOG_MS, dog.joining);
	dog.remove_names(dog.arg);
	/* Not exit(): atexit handlers and stdio locks may belong to the
	 * stuck thread. stderr is unbuffered: nothing is lost. */
	_exit(1);
}

int watchdog_arm(const char *program, void (*remove_names)(void *), void *arg)
{
	int rc = 0;

	pthread_mutex_lock(&dog.lock);
	if (!dog.armed) {
		dog.armed = true;
		dog.program = program;
		dog.remove_names = remove_names;
		dog.arg = arg;
		rc = pthread_create(&dog.thread, NULL, watch, NULL);
		dog.armed = rc == 0;
	}
	pthread_mutex_unlock(&dog.lock);
	if (rc != 0) {
		fprintf(stderr, "%s: cannot start the shutdown watchdog: %s\n",
			program, strerror(rc));
		return -1;
	}
	return 0;
}

void watchdog_joining(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&dog.lock);
	va_start(ap, fmt);
	vsnprintf(dog.joining, sizeof(dog.joining), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&dog.lock);
}

/* Joined, so that no thread outlives main's return. */
void watchdog_disarm(void)
{
	bool armed;
	int rc;

	pthread_mutex_lock(&dog.lock);
	dog.disarmed = true;
	armed = dog.armed;
	pthread_cond_signal(&dog.done);
	pthread_mutex_unlock(&dog.lock);
	if (!armed)
		return;
	rc = pthread_join(dog.thread, NULL);
	if (rc != 0)
		fprintf(stderr, "%s: pthread_join: %s\n", dog.program, strerror(rc));
}
