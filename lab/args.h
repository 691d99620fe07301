/*
 * args.h: reading numeric command-line values strictly.
 *
 * "12abc", "", " 12", "-0x5" and values out of range are all refused, so a
 * typo on the command line becomes a usage message rather than a surprise.
 */
#ifndef ARGS_H
#define ARGS_H

/* Returns 0 and stores the value if text is a plain decimal number within
 * [min, max]; returns -1 otherwise. */
int args_parse_long(const char *text, long min, long max, long *out);

#endif
