/*
 * refusals.h: what the cache refuses (malformed messages, requests for
 * segments it cannot use), counted and reported on stderr at most once a
 * second, each report with the last reason. Refused requests come from
 * other processes, possibly thousands a second: a line for each would
 * flood the log. Any thread may call these.
 */
#ifndef REFUSALS_H
#define REFUSALS_H

#include <stdbool.h>

/* Counts one refusal, `fmt` saying why; reports if a second has passed
 * since the last report. */
void refusals_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reports the refusals counted since the last report: once a second has
 * passed since it, or at once if `now` (before exit). */
void refusals_report(bool now);

#endif
