/*
 * cache_request_socket.c: libFuzzer target for the socket variant's
 * request check, cache_request_is_valid() in
 * solution/socket/cache-student.h: what stands between the cache's workers
 * and whatever any process of its user writes to its socket.
 *
 * The input, cut or padded with zeros to a whole request, is what the boss
 * gathered. For every request the check accepts, the properties the cache
 * relies on are asserted: a segment name and a path that end inside their
 * fields, the name one of ours, the path a GETFILE path, a size -z allows.
 *
 * Links: this file and lab/ (ipcname_is_segment); headers from
 * solution/socket/ and lab/ (FUZZ_INCLUDES_cache_request_socket).
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cache-student.h"
#include "cmdline.h"
#include "ipcname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cache_request req;

	memset(&req, 0, sizeof(req));
	memcpy(&req, data, size < sizeof(req) ? size : sizeof(req));
	if (!cache_request_is_valid(&req))
		return 0;
	assert(strnlen(req.segment, sizeof(req.segment)) < sizeof(req.segment));
	assert(strnlen(req.path, sizeof(req.path)) < sizeof(req.path));
	assert(req.path[0] == '/');
	assert(ipcname_segment_owner(req.segment, NULL, NULL) == 0);
	assert(req.segment_size >= PROXY_SEGMENT_MIN_SIZE &&
	       req.segment_size <= PROXY_SEGMENT_MAX_SIZE);
	return 0;
}
