/*
 * handle_with_cache.c: the proxy's work for one client request, called by
 * the GETFILE server (lab/gfserver.h) on one of its -t handler threads.
 * Design track: the path of a request through your channels is yours.
 *
 * What the rules and the framework fix:
 *  - answer every request exactly once: gfs_sendheader() with GF_OK and the
 *    file's length, then gfs_send() of exactly that many bytes; or
 *    GF_FILE_NOT_FOUND when the cache has no such path; or GF_ERROR when the
 *    cache cannot be reached or fails. gfs_abort() cuts a body short, which
 *    a client sees as an incomplete reply (never wrong bytes under OK);
 *  - the proxy never opens a file itself: the bytes come from the cache,
 *    through one of the proxy's segments;
 *  - a cache that starts or restarts within the bounds of rule 2 is found
 *    without restarting the proxy;
 *  - every wait on the cache is bounded (rule 5), and a handler notices
 *    proxy->stopping within a fraction of a second (rule 3).
 */
#include "cache-student.h"
#include "gfserver.h"
#include "shm_channel.h"

void handle_with_cache(gfcontext_t *ctx, const char *path, void *arg)
{
	struct proxy *proxy = arg;

	/* Until the channel is designed, every request fails cleanly. */
	(void)proxy;
	(void)path;
	gfs_sendheader(ctx, GF_ERROR, 0);
}
