/*
 * cmdline.h: the command lines of webproxy and simplecached, as the
 * handouts publish them (those of the GIOS project-3 tools). Every variant
 * reads the same flags. A bad flag or value prints the usage line on
 * stderr and exits 2; -h prints it on stdout and exits 0.
 */
#ifndef CMDLINE_H
#define CMDLINE_H

#include <stddef.h>
#include <stdint.h>

/* The sizes -z accepts, a published rule (the usage line, the handouts): a
 * variant's segment layout must work for all. */
#define PROXY_SEGMENT_MIN_SIZE 824
#define PROXY_SEGMENT_MAX_SIZE (64L * 1024 * 1024)

/* It does if its header of header_size bytes leaves PROXY_SEGMENT_MIN_DATA
 * bytes of the smallest for the file, and a chunk's length (32 bits) can
 * count the data area of the largest. Each variant asserts it. */
#define PROXY_SEGMENT_MIN_DATA 512
#define PROXY_SEGMENT_HEADER_FITS(header_size)				\
	((header_size) + PROXY_SEGMENT_MIN_DATA <= PROXY_SEGMENT_MIN_SIZE &&	\
	 PROXY_SEGMENT_MAX_SIZE - (header_size) <= UINT32_MAX)

/* webproxy -p port -t threads -n segments -z segment bytes [-s server] */
struct proxy_options {
	unsigned short port;
	int threads;
	size_t nsegments;
	size_t segment_size;
};

/* simplecached -c cache list -t threads -d lookup delay in microseconds */
struct cache_options {
	const char *cachelist;
	int threads;
	unsigned delay_us;
};

struct proxy_options proxy_options_parse(int argc, char **argv);
struct cache_options cache_options_parse(int argc, char **argv);

#endif
