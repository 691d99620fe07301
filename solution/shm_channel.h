/*
 * shm_channel.h: the data channel. One shared-memory segment, its layout,
 * and the handshake by which the proxy and a cache worker take turns on it.
 *
 * A segment is one POSIX shared-memory object of exactly -z bytes, created
 * and owned by the proxy. It starts with struct segment_header; the rest is
 * the data area, where the cache puts one chunk of the file at a time.
 *
 * THE TURN. At every moment exactly one side holds the segment's turn, and
 * only the holder writes the segment:
 *
 *   proxy holds it  --sem_post(space_free)-->  cache worker holds it
 *   cache holds it  --sem_post(data_ready)-->  proxy holds it
 *
 * A segment in the proxy's pool is held by the proxy, with both semaphores
 * at 0. For each transfer the proxy bumps `generation`, sends the request
 * (which carries that generation) and gives the turn to the cache. The
 * worker writes a chunk and gives the turn back; the proxy sends the chunk
 * to the client and gives the turn again; and so on until the last chunk,
 * after which the worker never touches the segment again.
 *
 * Stale workers. A worker can be late: its request sat in the queue, or
 * the proxy gave up on it. Such a worker may grab a turn that belongs to a
 * later transfer. So after every wait the worker compares the segment's
 * generation with its request's: if they differ, it posts the turn back
 * untouched and leaves. If the proxy ever gives up while the CACHE holds
 * the turn, the turn is lost with it: the proxy then replaces the object
 * with a fresh one (segment_destroy + segment_create under a new name), so
 * a late writer can only scribble on an orphan.
 */
#ifndef SHM_CHANNEL_H
#define SHM_CHANNEL_H

#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipcname.h"

/* The smallest -z: the header must leave room for real data. */
#define SEGMENT_MIN_SIZE 824
#define SEGMENT_MAX_SIZE (64L * 1024 * 1024)

enum chunk_status {
	CHUNK_OK = 1,		/* file_size is valid; chunk_len bytes follow */
	CHUNK_NOT_FOUND = 2,	/* the cache has no such path */
	CHUNK_ERROR = 3,	/* the cache failed; stop the transfer */
};

struct segment_header {
	sem_t data_ready;	/* posted by the cache: turn goes to the proxy */
	sem_t space_free;	/* posted by the proxy: turn goes to the cache */

	/* Written by the proxy during its turn, as it starts a transfer.
	 * Read by workers at any time, hence atomic. */
	_Atomic uint64_t generation;

	/* Written by the cache during its turn, read by the proxy in its. */
	uint64_t chunk_generation;	/* the transfer this chunk is for */
	uint64_t file_size;
	uint32_t status;		/* enum chunk_status */
	uint32_t chunk_len;		/* bytes of data in this chunk */
};

/* One process's view of one mapped segment. Private memory, not shared. */
struct segment {
	char name[IPCNAME_MAX];
	struct segment_header *header;	/* NULL when not mapped */
	unsigned char *data;		/* the data area after the header */
	size_t size;			/* the whole object, header included */
	size_t capacity;		/* bytes of the data area */
	uint64_t generation;		/* proxy: the transfer in progress */
	dev_t device;			/* cache: which object is mapped */
	ino_t inode;
};

/* What the proxy reads out of one chunk, already checked. */
struct chunk {
	enum chunk_status status;
	uint64_t file_size;
	size_t len;
	const unsigned char *bytes;
};

enum wait_result {
	WAIT_OK,
	WAIT_TIMEOUT,		/* the other side did not answer in time */
	WAIT_STOPPING,		/* this process is shutting down */
	WAIT_STALE,		/* cache: the turn was for a later transfer */
	WAIT_BAD_CHUNK,		/* proxy: the chunk broke the rules */
};

/* Both sides: a bounded wait on one semaphore of a segment. */
enum wait_result segment_wait(sem_t *sem, int timeout_ms,
			      const atomic_bool *stopping);

/* Proxy side: owning segments. */
int segment_create(struct segment *seg, const char *name, size_t size);
void segment_destroy(struct segment *seg);

/* Proxy side: one transfer. */
void channel_start_transfer(struct segment *seg);
void channel_give_turn(struct segment *seg);
enum wait_result channel_take_chunk(struct segment *seg, int timeout_ms,
				    const atomic_bool *stopping,
				    struct chunk *out);

/*
 * Cache side: the segments one worker has mapped. Private to that worker,
 * so no lock; segment_attach() returns one of its slots, valid until the
 * worker's next segment_attach().
 */
#define SEGMENT_MAPS 8

struct segment_maps {
	struct segment slot[SEGMENT_MAPS];	/* header NULL: slot unused */
	int next;				/* the slot to replace next */
};

struct segment *segment_attach(struct segment_maps *maps, const char *name);
void segment_maps_clear(struct segment_maps *maps);
bool channel_is_current(const struct segment *seg, uint64_t generation);
enum wait_result channel_take_turn(struct segment *seg, uint64_t generation,
				   const atomic_bool *stopping);
void channel_put_chunk(struct segment *seg, uint64_t generation,
		       enum chunk_status status, uint64_t file_size,
		       size_t len);

/*
 * The proxy's pool of segments, built in webproxy.c and used by
 * handle_with_cache.c. A segment taken from the pool belongs to one
 * handler until it is given back.
 */
struct segment_pool;

struct segment *pool_take(struct segment_pool *pool);
void pool_give_back(struct segment_pool *pool, struct segment *seg);
void pool_replace(struct segment_pool *pool, struct segment *seg);
const atomic_bool *pool_stopping(const struct segment_pool *pool);

#endif
