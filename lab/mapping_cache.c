/* mapping_cache.c: a worker's kept mappings, by object (see
 * mapping_cache.h). */
/* program_invocation_short_name is a GNU extension. */
#define _GNU_SOURCE
#include "mapping_cache.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int mapping_cache_find(const struct mapping_cache *c, const char *name,
		       const struct stat *st)
{
	for (int i = 0; i < MAPPINGS_KEPT; i++)
		if (c->kept[i].used && c->kept[i].device == st->st_dev &&
		    c->kept[i].inode == st->st_ino &&
		    c->kept[i].size == st->st_size &&
		    strcmp(c->kept[i].name, name) == 0)
			return i;
	return -1;
}

int mapping_cache_claim(struct mapping_cache *c, const char *name,
			const struct stat *st)
{
	int slot = c->next;

	assert(slot >= 0 && slot < MAPPINGS_KEPT);
	c->next = (slot + 1) % MAPPINGS_KEPT;
	snprintf(c->kept[slot].name, sizeof(c->kept[slot].name), "%s", name);
	c->kept[slot].device = st->st_dev;
	c->kept[slot].inode = st->st_ino;
	c->kept[slot].size = st->st_size;
	c->kept[slot].used = true;
	return slot;
}

void mapping_cache_forget(struct mapping_cache *c, int slot)
{
	assert(slot >= 0 && slot < MAPPINGS_KEPT);
	c->kept[slot].used = false;
}

bool shm_object_removed(int fd, const char *name)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		fprintf(stderr, "%s: fstat %s: %s\n",
			program_invocation_short_name, name, strerror(errno));
		return true;
	}
	return st.st_nlink == 0;
}

bool shm_object_fits(int fd, size_t size, const char *name)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		fprintf(stderr, "%s: fstat %s: %s\n",
			program_invocation_short_name, name, strerror(errno));
		return false;
	}
	if (st.st_size < (off_t)size) {
		fprintf(stderr, "%s: %s shrank to %lld bytes: not touching it\n",
			program_invocation_short_name, name,
			(long long)st.st_size);
		return false;
	}
	return true;
}
