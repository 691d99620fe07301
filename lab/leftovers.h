/*
 * leftovers.h: removing the segments a dead process left behind.
 *
 * A segment name carries its owner's pid (ipcname.h), and no two live
 * processes share a pid, so a segment named with OUR pid was left by a
 * dead process that had this pid before: a pid namespace reuses pids from
 * 1 on every run. A proxy removes them all before it creates any.
 */
#ifndef LEFTOVERS_H
#define LEFTOVERS_H

/* Unlinks every segment of this prefix named with the caller's pid, and
 * says so on stderr, each line starting with `program`. */
void leftovers_remove_my_segments(const char *program);

#endif
