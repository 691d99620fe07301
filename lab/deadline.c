/* deadline.c: deadlines and short sleeps in milliseconds (see deadline.h). */
#include "deadline.h"

#define NS_PER_MS 1000000L
#define NS_PER_S 1000000000L

struct timespec deadline_after(clockid_t clock, int ms)
{
	struct timespec t;

	/* Both clocks the kit uses always exist on Linux: this cannot fail. */
	clock_gettime(clock, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * NS_PER_MS;
	if (t.tv_nsec >= NS_PER_S) {
		t.tv_sec++;
		t.tv_nsec -= NS_PER_S;
	}
	return t;
}

bool deadline_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

long ms_since(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000L +
	       (now.tv_nsec - since->tv_nsec) / NS_PER_MS;
}

void sleep_ms(int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * NS_PER_MS };

	nanosleep(&t, NULL);
}
