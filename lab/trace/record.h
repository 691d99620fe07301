/*
 * record.h: one traced event as the library writes it, 64 bytes, one
 * write(2) each, appended to DIR/<pid>.trace. render.py reads the same
 * layout (little-endian, no padding): change both together.
 */
#ifndef IPCLAB_TRACE_RECORD_H
#define IPCLAB_TRACE_RECORD_H

#include <stdint.h>

enum trace_call {
#define CALL(name, kind) CALL_##name,
#include "calls.h"
#undef CALL
	CALL_COUNT
};

enum trace_kind {
	KIND_WAIT, KIND_TRY, KIND_POST, KIND_LIFE, KIND_MAP, KIND_IO,
};

enum trace_phase {
	PHASE_DONE,		/* the call returned */
	PHASE_BEGIN,		/* a WAIT call started */
	PHASE_NAME,		/* names object id `obj` (no call) */
};

enum trace_result {
	RESULT_OK,
	RESULT_TIMEOUT,		/* ETIMEDOUT */
	RESULT_BUSY,		/* EAGAIN/EBUSY from a try or a non-blocking call */
	RESULT_ERROR,		/* any other errno, in err */
};

/* Objects: 0 is memory outside any shared segment (off holds the low bits
 * of its address); other ids are named by a PHASE_NAME record written
 * before their first use. For memory in a segment, off is the offset in
 * the segment's file. */
struct trace_record {
	uint64_t t_ns;		/* CLOCK_MONOTONIC when the event happened */
	uint32_t pid, tid;
	uint32_t obj, off;
	uint16_t call;		/* enum trace_call */
	uint8_t phase, result;
	int32_t err;
	union {
		struct {
			uint64_t wait_ns;	/* time inside the call */
			uint64_t caller;	/* return address in the program */
			int64_t arg;	/* bytes moved, size, a semaphore's value */
			uint32_t dropped;	/* events lost before this one */
			uint32_t spare;
		};
		char name[32];	/* PHASE_NAME: the tail of the name, NUL-ended */
	};
};

_Static_assert(sizeof(struct trace_record) == 64, "one record, 64 bytes");

#endif
