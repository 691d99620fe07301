/*
 * webproxy.c: the proxy. The process (flags, GETFILE server, signals, the
 * order of shutdown) is the lab's, lab/proxy.c, and so is the pool of
 * segments, lab/segment_pool.c; what a segment is, and how two semaphores
 * pass its turn, is this variant's (shm_channel.c).
 */
#include <stddef.h>

#include "cache-student.h"
#include "proxy.h"
#include "segment_pool.h"
#include "shm_channel.h"

const size_t segment_struct_size = sizeof(struct segment);

int main(int argc, char **argv)
{
	return proxy_run(argc, argv);
}
