/*
 * simplecache.h: the cache store behind simplecached.
 *
 * A cache list maps keys (request paths such as "/courses/ud923.html") to
 * files on disk, one "<key> <path>" per line, the two fields separated by
 * spaces or tabs (so neither may contain one). A key starts with '/' and
 * appears once. A line whose first non-blank character is '#' is a
 * comment, blank lines are allowed, and the last line may lack its
 * newline. Relative paths are taken relative to the folder of the cache
 * list; each must name a regular file.
 *
 * Guarantees:
 *  - simplecache_init() opens every listed file once, up front. On a
 *    malformed line, a duplicate key or an unreadable file it prints
 *    "file:line: what is wrong" to stderr (a missing list: "file: cannot
 *    open: reason") and returns -1; nothing is leaked.
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

/* Values above SIMPLECACHE_MAX_DELAY_US are cut down to it. Safe to call
 * while other threads look keys up. */
void simplecache_set_delay(unsigned int delay_us);

/* Returns a descriptor for key, or -1 if the key is not in the list. */
int simplecache_get(const char *key);

/* Closes every descriptor. No lookup may be running or start after it
 * (until the next simplecache_init()). */
void simplecache_destroy(void);

#endif
