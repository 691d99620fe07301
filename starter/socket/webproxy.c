/*
 * webproxy.c: the proxy of the socket variant. Its process is
 * lab/proxy.c and its pool lab/segment_pool.c, as in every variant; the
 * segments, with their robust lock and two condition variables, are
 * shm_channel.c's.
 */
#include <stddef.h>

#include "cmdline.h"
#include "proxy.h"
#include "segment_pool.h"
#include "shm_channel.h"

_Static_assert(SEGMENT_MIN_SIZE == PROXY_SEGMENT_MIN_SIZE &&
	       SEGMENT_MAX_SIZE == PROXY_SEGMENT_MAX_SIZE,
	       "the pool's segments may have every size -z accepts");

const size_t segment_struct_size = sizeof(struct segment);

int main(int argc, char **argv)
{
	return proxy_run(argc, argv);
}
