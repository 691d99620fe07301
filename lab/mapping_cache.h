/*
 * mapping_cache.h: which shared-memory objects a cache worker has mapped,
 * the same in every variant; the mappings themselves are the variant's
 * (struct segment_maps in shm_channel.h holds one of these and a slot of
 * its own per entry).
 *
 * Mapping and unmapping cost more than a small file's whole transfer (an
 * munmap flushes the TLBs of every CPU the process ran on), so a worker
 * keeps its last MAPPINGS_KEPT mappings and replaces them in turn. A
 * mapping is reused only for the very object it was made of: same name,
 * same file (device and inode), same size. A proxy that restarts, or
 * replaces a segment, makes a new object, which never matches an old
 * entry; a worker that keeps descriptors drops the entries whose object
 * was removed (shm_object_removed) each time it looks, so what it keeps
 * is bounded by the live segments. One worker's own: no lock.
 */
#ifndef MAPPING_CACHE_H
#define MAPPING_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "ipcname.h"

#define MAPPINGS_KEPT 8

struct mapping_cache {
	struct {
		bool used;		/* the slot holds a mapping of this object */
		char name[IPCNAME_MAX];
		dev_t device;
		ino_t inode;
		off_t size;
	} kept[MAPPINGS_KEPT];
	int next;			/* the slot to replace next */
};

/* The slot that holds a mapping of the object `name`, which fstat
 * described as *st, or -1 if none does. */
int mapping_cache_find(const struct mapping_cache *c, const char *name,
		       const struct stat *st);

/* The slot to map that object into: the oldest. The caller unmaps what
 * the slot held, maps the object, and calls mapping_cache_forget() if
 * that fails. */
int mapping_cache_claim(struct mapping_cache *c, const char *name,
			const struct stat *st);
void mapping_cache_forget(struct mapping_cache *c, int slot);

/*
 * True if the object open as `fd` has no name left (st_nlink 0): the
 * proxy removed it, replacing the segment, so no request will name it
 * again and a mapping kept of it only holds its memory and descriptor. A
 * descriptor fstat fails on is as good as gone (said why, naming `name`).
 */
bool shm_object_removed(int fd, const char *name);

/*
 * True if the object open as `fd` still has at least `size` bytes, so
 * touching a mapping of it cannot raise SIGBUS (short of a truncation
 * between this check and the access, which nothing here can rule out).
 * Says why not, naming `name`.
 */
bool shm_object_fits(int fd, size_t size, const char *name);

#endif
