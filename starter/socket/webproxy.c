/*
 * webproxy.c: the proxy of the socket variant. Its process is
 * lab/proxy.c and its pool lab/segment_pool.c, as in every variant; the
 * segments, with their robust lock and two condition variables, are
 * shm_channel.c's.
 */
#include <stddef.h>

#include "proxy.h"
#include "segment_pool.h"
#include "shm_channel.h"

const size_t segment_struct_size = sizeof(struct segment);

int main(int argc, char **argv)
{
	return proxy_run(argc, argv);
}
