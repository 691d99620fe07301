/*
 * simplecache.h: the cache store behind simplecached.
 *
 * A cache list maps keys (request paths such as "/courses/ud923.html") to
 * files on disk, one "<key> <path>" per line. '#' starts a comment line,
 * blank lines are allowed, and the last line may lack its newline. Relative
 * paths are taken relative to the folder of the cache list.
 *
 * Guarantees:
 *  - simplecache_init() opens every listed file once, up front. On a missing
 *    list, a malformed line or an unreadable file it prints
 *    "file:line: what is wrong" to stderr and returns -1; nothing is leaked.
 *  - simplecache_get() is thread-safe and returns a read-only descriptor
 *    owned by the cache: never close it, and read it with pread(2) only,
 *    because other threads share its file offset.
 *  - The optional delay makes every lookup sleep that many microseconds
 *    first, so tests can make the cache slow (simplecached -d).
 */
#ifndef SIMPLECACHE_H
#define SIMPLECACHE_H

#define SIMPLECACHE_MAX_DELAY_US 2500000

int simplecache_init(const char *cachelist_path);

void simplecache_set_delay(unsigned int delay_us);

/* Returns a descriptor for key, or -1 if the key is not in the list. */
int simplecache_get(const char *key);

void simplecache_destroy(void);

#endif
