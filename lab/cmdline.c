/* cmdline.c: reading the two programs' flags (see cmdline.h). */
#include "cmdline.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "simplecache.h"

#define PROXY_USAGE \
	"usage: webproxy [-p port (25362)] [-t threads 1..512 (8)]\n" \
	"                [-n segments 1..1024 (8)] [-z segment bytes 824..67108864 (5712)]\n" \
	"                [-s server (accepted, unused)] [-h]\n"

#define CACHE_USAGE \
	"usage: simplecached [-c cache list (locals.txt)] [-t threads 1..512 (8)]\n" \
	"                    [-d lookup delay us 0..2500000 (0)] [-h]\n"

_Static_assert(PROXY_SEGMENT_MIN_SIZE == 824 &&
	       PROXY_SEGMENT_MAX_SIZE == 67108864,
	       "the usage line states the -z range");
_Static_assert(SIMPLECACHE_MAX_DELAY_US == 2500000,
	       "the usage line states the -d range");

static void usage_error(const char *usage)
{
	fputs(usage, stderr);
	exit(2);
}

/* The value of the flag getopt just read (optarg), if it is a number in
 * [min, max]; otherwise the usage line, and exit 2. */
static long flag_value(const char *usage, long min, long max)
{
	long v;

	if (args_parse_long(optarg, min, max, &v) != 0)
		usage_error(usage);
	return v;
}

/* -h prints the usage and exits 0; a flag getopt does not know (it
 * returned '?') or that lacks its value exits 2. */
static void help_or_usage_error(int c, const char *usage)
{
	if (c == 'h') {
		fputs(usage, stdout);
		exit(0);
	}
	usage_error(usage);
}

struct proxy_options proxy_options_parse(int argc, char **argv)
{
	struct proxy_options o = { 25362, 8, 8, 5712 };
	int c;

	while ((c = getopt(argc, argv, "p:t:n:z:s:h")) != -1) {
		switch (c) {
		case 'p':
			o.port = (unsigned short)flag_value(PROXY_USAGE, 1, 65535);
			break;
		case 't':
			o.threads = (int)flag_value(PROXY_USAGE, 1, 512);
			break;
		case 'n':
			o.nsegments = (size_t)flag_value(PROXY_USAGE, 1, 1024);
			break;
		case 'z':
			o.segment_size = (size_t)flag_value(PROXY_USAGE,
							    PROXY_SEGMENT_MIN_SIZE,
							    PROXY_SEGMENT_MAX_SIZE);
			break;
		case 's':
			break;
		default:
			help_or_usage_error(c, PROXY_USAGE);
		}
	}
	if (optind != argc)
		usage_error(PROXY_USAGE);
	return o;
}

struct cache_options cache_options_parse(int argc, char **argv)
{
	struct cache_options o = { "locals.txt", 8, 0 };
	int c;

	while ((c = getopt(argc, argv, "c:t:d:h")) != -1) {
		switch (c) {
		case 'c':
			o.cachelist = optarg;
			break;
		case 't':
			o.threads = (int)flag_value(CACHE_USAGE, 1, 512);
			break;
		case 'd':
			o.delay_us = (unsigned)flag_value(CACHE_USAGE, 0,
							  SIMPLECACHE_MAX_DELAY_US);
			break;
		default:
			help_or_usage_error(c, CACHE_USAGE);
		}
	}
	if (optind != argc)
		usage_error(CACHE_USAGE);
	return o;
}
