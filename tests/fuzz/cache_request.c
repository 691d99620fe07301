/*
 * cache_request.c: libFuzzer target for the cache's request validation,
 * cache_request_is_valid() in solution/mqueue/cache-student.h: the one check that
 * stands between the cache and whatever any process of its user puts on
 * its queue.
 *
 * The first input byte picks how the rest becomes a message: as it is
 * (its own length, usually wrong), or laid into a zeroed full-size
 * request, so the fuzzer also reaches the checks past the length. For
 * every message the validator accepts, the properties the cache relies on
 * are asserted: the exact size, a known kind, and a segment name and a
 * path that end inside their fields, the name being one of ours.
 *
 * Links: this file, lab/ipcname.c (ipcname_is_segment); headers from
 * solution/mqueue/ and lab/ (-Isolution/mqueue -Ilab).
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cache-student.h"
#include "ipcname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cache_request req;
	const void *msg;
	size_t len;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		msg = data + 1;
		len = size - 1;
	} else {
		memset(&req, 0, sizeof(req));
		len = size - 1 < sizeof(req) ? size - 1 : sizeof(req);
		memcpy(&req, data + 1, len);
		msg = &req;
		len = sizeof(req);
	}
	if (!cache_request_is_valid(msg, len))
		return 0;

	/* Accepted: everything the cache then does with it must be safe. */
	memcpy(&req, msg, sizeof(req));
	assert(len == sizeof(req));
	assert(req.kind == REQUEST_FILE);
	assert(strnlen(req.segment, sizeof(req.segment)) < sizeof(req.segment));
	assert(strnlen(req.path, sizeof(req.path)) < sizeof(req.path));
	assert(req.path[0] == '/');
	assert(ipcname_segment_owner(req.segment, NULL, NULL) == 0);
	return 0;
}
