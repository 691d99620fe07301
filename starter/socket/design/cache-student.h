/*
 * cache-student.h: what the proxy and the cache say to each other over the
 * command channel, and the time bounds both sides keep. Design track: the
 * messages are yours to design.
 *
 * Fixed by the rules (handouts/rules.md):
 *  - the command channel is one Unix-domain stream socket, at the path
 *    ipcname_socket() gives, created (bound and listening) by the cache when
 *    it starts and removed when it stops (rule 1);
 *  - any process of this user may connect and send anything, so the cache
 *    believes nothing it reads there until it has checked it whole, and a
 *    connection that sends nothing costs it no worker forever (rules 5, 6);
 *  - every wait on the other process is bounded, within the numbers the
 *    rules publish (rules 2 and 5); lab/gfnet.h has bounded reads and
 *    writes.
 *
 * Yours: what a request and its answer carry, how the cache tells a whole,
 * current request from a stale or forged one, and the bounds of your
 * waits. Put them here, so both programs agree; design.md says why each is
 * what it is.
 */
#ifndef CACHE_STUDENT_H
#define CACHE_STUDENT_H

#include "gfserver.h"
#include "ipcname.h"

/* A request path fits in a GETFILE header. */
#define REQUEST_PATH_MAX GF_MAX_HEADER

#endif
