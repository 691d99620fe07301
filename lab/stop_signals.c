/* stop_signals.c: blocking and awaiting the stop signals (see stop_signals.h). */
#include "stop_signals.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

void stop_signals_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	/* Fails only for a bad `how`: cannot fail here. */
	pthread_sigmask(SIG_BLOCK, set, NULL);
}

int stop_signals_wait(const sigset_t *set, const char *program)
{
	int sig;
	int err = sigwait(set, &sig);

	if (err != 0) {
		fprintf(stderr, "%s: sigwait: %s\n", program, strerror(err));
		return -1;
	}
	return sig;
}
