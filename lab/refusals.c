/* refusals.c: counting refusals, reporting them at most once a second
 * (see refusals.h). */
/* program_invocation_short_name is a GNU extension. */
#define _GNU_SOURCE
#include "refusals.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "deadline.h"

/* Every field only with `lock` held. */
static struct {
	pthread_mutex_t lock;
	unsigned long count;		/* since the last report */
	struct timespec last_report;	/* zero before the first */
	char last_reason[256];
} refusals = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void report_locked(bool now)
{
	if (refusals.count == 0)
		return;
	if (!now && refusals.last_report.tv_sec != 0 &&
	    ms_since(&refusals.last_report) < 1000)
		return;
	fprintf(stderr, "%s: refused %lu request%s since the last report; the last: %s\n",
		program_invocation_short_name, refusals.count,
		refusals.count == 1 ? "" : "s", refusals.last_reason);
	refusals.count = 0;
	clock_gettime(CLOCK_MONOTONIC, &refusals.last_report);
}

/* Locking a default mutex that this thread does not hold cannot fail, so
 * those results are not checked. */
void refusals_add(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&refusals.lock);
	refusals.count++;
	va_start(ap, fmt);
	vsnprintf(refusals.last_reason, sizeof(refusals.last_reason), fmt, ap);
	va_end(ap);
	report_locked(false);
	pthread_mutex_unlock(&refusals.lock);
}

void refusals_report(bool now)
{
	pthread_mutex_lock(&refusals.lock);
	report_locked(now);
	pthread_mutex_unlock(&refusals.lock);
}
