/*
 * ipcname.h: the names of every POSIX IPC object of the lab.
 *
 * All names derive from one prefix: "/ipclab.<uid>" by default, or the
 * value of the environment variable IPCLAB_PREFIX (which must start with
 * '/', be at most IPCNAME_PREFIX_MAX bytes, and hold only letters, digits,
 * '.', '_' and '-' after the '/'). Two users, or two grading runs with
 * different prefixes, never collide.
 *
 *   request queue:  <prefix>.cmd
 *   segment i of proxy pid P:  <prefix>.seg.<P>.<i>
 *   request socket (socket variant):  the file /dev/shm<prefix>.sock
 *
 * A segment name carries its owner's pid, so several proxies can share
 * one cache without clashing, and ipcls can tell whose object it is.
 */
#ifndef IPCNAME_H
#define IPCNAME_H

#include <stddef.h>
#include <sys/types.h>

#define IPCNAME_PREFIX_MAX 64
#define IPCNAME_MAX 128	/* any name below, with its NUL, fits in this */

/* Writes the prefix. Returns 0, or -1 (and prints why) if IPCLAB_PREFIX
 * is set but not a valid name. */
int ipcname_prefix(char *out, size_t size);

/* These two return 0, or -1 if the prefix is invalid (printed), owner is
 * not > 0, or the name does not fit in size bytes. */
int ipcname_queue(char *out, size_t size);

int ipcname_segment(char *out, size_t size, pid_t owner, unsigned index);

/* The path of the cache's Unix-domain socket. It lives in /dev/shm beside
 * the segments, so whatever isolates or removes them (a private tmpfs on
 * /dev/shm, ipcls --clean) covers it too. Returns 0 or -1 as above; the
 * longest path (IPCNAME_SOCKET_MAX with its NUL) fits a sun_path. */
#define IPCNAME_SOCKET_DIR "/dev/shm"
#define IPCNAME_SOCKET_MAX 96
int ipcname_socket(char *out, size_t size);

/* Returns 1 if name is a well-formed segment name under this prefix, so
 * a process can refuse a name from its peer that is not one of ours:
 * exactly what ipcname_segment() writes (owner > 0, decimal numbers with
 * no sign or leading zeros), shorter than IPCNAME_MAX. */
int ipcname_is_segment(const char *name);

/* As ipcname_is_segment(), but returns 0 and stores the owner's pid and
 * the index (either pointer may be NULL), or returns -1. For ipcls. */
int ipcname_segment_owner(const char *name, pid_t *owner, unsigned *index);

#endif
