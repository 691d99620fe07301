/*
 * shm_channel.h: the data channel. One shared-memory segment, its layout,
 * and the handshake by which the proxy and a cache worker take turns on it.
 *
 * A segment is one POSIX shared-memory object of exactly -z bytes, created
 * and owned by the proxy. It starts with struct segment_header; the rest is
 * the data area, where the cache puts one chunk of the file at a time.
 *
 * THE HANDSHAKE. Two flags in the header say whose turn it is. They are
 * read and written only with the header's mutex held:
 *
 *   done_read done_write
 *       1         0       the data area is free: a worker may claim it
 *       0         0       a worker claimed it and is writing a chunk
 *       0         1       a chunk is ready: the proxy reads and sends it
 *
 * The worker claims the area (done_read = 0), writes the chunk without
 * the lock, then sets done_write = 1 and signals `chunk_ready`. The proxy
 * waits on `chunk_ready`, sends the chunk to its client, then sets
 * done_write = 0, done_read = 1 and signals `space_free`, on which the
 * worker waits. After the last chunk nobody signals: the proxy holds the
 * segment again.
 *
 * Stale workers. A worker can be late: its request waited, or the proxy
 * gave up on it. Every transfer has a new `generation`, sent in the
 * request; a worker claims the area only while the header's generation is
 * its own. When the proxy ends a transfer it bumps the generation under
 * the lock, so no late worker can claim afterwards. If at that moment a
 * worker is writing (0 0), the proxy cannot take the area back: the
 * segment is lost, and the proxy replaces the object with a fresh one
 * under a new name, so the late writer can only scribble on an orphan.
 *
 * Dead processes. The mutex is robust: if its holder dies, the next
 * locker gets EOWNERDEAD. The flags may then be half-updated, so that
 * locker makes the mutex consistent and treats the segment as lost too.
 * Condition variables are not robust: a thread killed while waiting on
 * one leaves behind a count that a later pthread_cond_signal() may wait
 * on forever (glibc before 2.41). So the proxy reuses a segment only after
 * a transfer that ended well, and replaces it after any timeout or lost
 * lock. Every wait has a deadline: a second for the lock, and the bounds
 * of cache-student.h, on CLOCK_MONOTONIC, for the condition variables.
 */
#ifndef SHM_CHANNEL_H
#define SHM_CHANNEL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cmdline.h"
#include "ipcname.h"
#include "mapping_cache.h"

struct segment_header {
	pthread_mutex_t lock;		/* robust, process-shared */
	pthread_cond_t chunk_ready;	/* the proxy waits on it */
	pthread_cond_t space_free;	/* the worker waits on it */

	/* Written once by the proxy before any request names the segment. */
	uint64_t size;			/* bytes of the whole object */

	/* Everything below: only with `lock` held. */
	uint64_t generation;		/* the proxy's current transfer */
	uint64_t file_len;		/* written by the worker with each chunk */
	uint32_t chunk_len;		/* bytes of data in this chunk */
	uint32_t done_write;		/* see THE HANDSHAKE */
	uint32_t done_read;
	uint32_t unused;
};

_Static_assert(PROXY_SEGMENT_HEADER_FITS(sizeof(struct segment_header)),
	       "the header must leave room for a chunk in every size -z accepts");

/* One process's view of one mapped segment: the object, then its
 * mapping. Private memory, not shared. */
struct segment {
	char name[IPCNAME_MAX];
	int fd;				/* to check the size; -1 when closed */
	size_t size;			/* the whole object, header included */
	struct segment_header *header;	/* NULL when not mapped */
	unsigned char *data;		/* the data area after the header */
	size_t capacity;		/* bytes of the data area */
	bool holds_data;		/* this process may touch the data area:
					 * the proxy from a taken chunk until it
					 * is sent, a worker from its claim until
					 * its chunk is handed over */
	uint64_t generation;		/* proxy: the transfer in progress */
	bool lost;			/* proxy: saw a dead lock owner */
	/* Proxy: both condition variables as the last transfer that ended
	 * well left them, with nobody waiting. An idle segment whose words
	 * differ was written by another process (channel_is_idle). */
	unsigned char quiet_conditions[2 * sizeof(pthread_cond_t)];
};

/* What the proxy reads out of one chunk, already checked. */
struct chunk {
	size_t len;
	const unsigned char *bytes;
};

enum wait_result {
	WAIT_OK,
	WAIT_TIMEOUT,		/* the other side did not answer in time */
	WAIT_STOPPING,		/* this process is shutting down */
	WAIT_STALE,		/* cache: the segment is in a later transfer */
	WAIT_LOST,		/* a process died holding the lock (printed) */
	WAIT_BAD_CHUNK,		/* proxy: the chunk broke the rules */
	WAIT_ERROR,		/* the lock was held too long, or a call on it or a
			 * condition failed (printed) */
};

/* Proxy side: owning segments. */
int segment_create(struct segment *seg, const char *name, size_t size);
void segment_destroy(struct segment *seg);

/* Both sides: true if the object still has the size that was mapped, so
 * touching the mapping cannot raise SIGBUS (short of a race with a
 * truncation, which nothing can rule out). */
bool segment_fits(const struct segment *seg);

/* Proxy side: one transfer. channel_end_transfer() returns false when the
 * segment is lost and must be replaced: `failed` says the transfer ended
 * on a timeout or a broken rule rather than on its last chunk, a miss or
 * a client that hung up. */
bool channel_is_idle(const struct segment *seg);
enum wait_result channel_start_transfer(struct segment *seg);
enum wait_result channel_take_chunk(struct segment *seg, uint64_t file_len,
				    uint64_t due, const atomic_bool *stopping,
				    struct chunk *out);
enum wait_result channel_chunk_sent(struct segment *seg);
bool channel_end_transfer(struct segment *seg, bool failed);

/*
 * Cache side: the segments one worker has mapped. Private to that worker,
 * so no lock; segment_attach() returns one of its slots, valid until the
 * worker's next segment_attach().
 */
struct segment_maps {
	struct mapping_cache kept;		/* which object each slot maps */
	struct segment slot[MAPPINGS_KEPT];	/* header NULL: slot unused */
};

struct segment *segment_attach(struct segment_maps *maps, const char *name,
			       uint64_t size);
void segment_maps_clear(struct segment_maps *maps);
enum wait_result channel_claim_space(struct segment *seg, uint64_t generation,
				     const atomic_bool *stopping);
enum wait_result channel_put_chunk(struct segment *seg, uint64_t file_len,
				   size_t len);

#endif
