/*
 * ipcname.c: builds and checks the names of the lab's POSIX IPC objects
 * (see ipcname.h).
 *
 * The prefix is read from the environment on every call, never cached, so
 * a test can change IPCLAB_PREFIX between calls. A segment name is checked
 * by parsing its two numbers in canonical form: only the exact text
 * ipcname_segment() would write is accepted (no sign, no leading zeros, no
 * trailing junk). The cache checks a name for every request, so the check
 * reads the prefix once and builds no text (bench: it was 60% of the
 * cache's own instructions when it built the name again to compare).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcname.h"

/* Returns NULL if prefix is a valid name, else what is wrong with it. */
static const char *prefix_problem(const char *prefix)
{
	size_t len = strlen(prefix);

	if (prefix[0] != '/')
		return "must start with '/'";
	if (len < 2)
		return "needs at least one character after the '/'";
	if (len > IPCNAME_PREFIX_MAX)
		return "is too long";
	for (const char *p = prefix + 1; *p != '\0'; p++) {
		char c = *p;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '.' || c == '_' ||
			 c == '-';

		if (!ok)
			return "may only hold letters, digits, '.', '_' and '-' after the '/'";
	}
	return NULL;
}

/* As ipcname_prefix(), but reports a bad IPCLAB_PREFIX only if loud. */
static int get_prefix(char *out, size_t size, int loud)
{
	const char *env = getenv("IPCLAB_PREFIX");
	int n;

	if (env != NULL) {
		const char *problem = prefix_problem(env);

		if (problem != NULL) {
			if (loud)
				fprintf(stderr,
					"IPCLAB_PREFIX=\"%s\" %s (and is at most %d bytes); unset it or fix it\n",
					env, problem, IPCNAME_PREFIX_MAX);
			return -1;
		}
		n = snprintf(out, size, "%s", env);
	} else {
		n = snprintf(out, size, "/ipclab.%u", (unsigned)getuid());
	}
	if (n < 0 || (size_t)n >= size)
		return -1;
	return 0;
}

int ipcname_prefix(char *out, size_t size)
{
	return get_prefix(out, size, 1);
}

int ipcname_queue(char *out, size_t size)
{
	char prefix[IPCNAME_PREFIX_MAX + 1];
	int n;

	if (get_prefix(prefix, sizeof(prefix), 1) != 0)
		return -1;
	n = snprintf(out, size, "%s.cmd", prefix);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return 0;
}

int ipcname_socket(char *out, size_t size)
{
	char prefix[IPCNAME_PREFIX_MAX + 1];
	int n;

	if (get_prefix(prefix, sizeof(prefix), 1) != 0)
		return -1;
	n = snprintf(out, size, "%s%s.sock", IPCNAME_SOCKET_DIR, prefix);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return 0;
}

static int segment_name(char *out, size_t size, pid_t owner, unsigned index,
			int loud)
{
	char prefix[IPCNAME_PREFIX_MAX + 1];
	int n;

	if (owner <= 0 || get_prefix(prefix, sizeof(prefix), loud) != 0)
		return -1;
	n = snprintf(out, size, "%s.seg.%ld.%u", prefix, (long)owner, index);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return 0;
}

int ipcname_segment(char *out, size_t size, pid_t owner, unsigned index)
{
	return segment_name(out, size, owner, index, 1);
}

/*
 * Reads the decimal number at *s, up to the first non-digit, into *value
 * and moves *s past it. Fails on no digits, a leading zero (the same
 * number would then have two names) or a value above max.
 */
static int parse_number(const char **s, unsigned long max, unsigned long *value)
{
	const char *p = *s;
	unsigned long v = 0;

	if (*p < '0' || *p > '9')
		return -1;
	if (p[0] == '0' && p[1] >= '0' && p[1] <= '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned long digit = (unsigned long)(*p - '0');

		if (v > (max - digit) / 10)
			return -1;
		v = v * 10 + digit;
	}
	*value = v;
	*s = p;
	return 0;
}

int ipcname_segment_owner(const char *name, pid_t *owner, unsigned *index)
{
	char prefix[IPCNAME_PREFIX_MAX + 1];
	const char *p = name;
	size_t plen;
	unsigned long pid, idx;

	if (name == NULL || strnlen(name, IPCNAME_MAX) >= IPCNAME_MAX)
		return -1;
	if (get_prefix(prefix, sizeof(prefix), 0) != 0)
		return -1;
	plen = strlen(prefix);
	if (strncmp(p, prefix, plen) != 0 || strncmp(p + plen, ".seg.", 5) != 0)
		return -1;
	p += plen + 5;
	if (parse_number(&p, INT_MAX, &pid) != 0 || *p++ != '.')
		return -1;
	if (parse_number(&p, UINT_MAX, &idx) != 0 || *p != '\0')
		return -1;
	if (pid == 0)
		return -1;	/* ipcname_segment() refuses owner 0 */
	if (owner != NULL)
		*owner = (pid_t)pid;
	if (index != NULL)
		*index = (unsigned)idx;
	return 0;
}

int ipcname_is_segment(const char *name)
{
	return ipcname_segment_owner(name, NULL, NULL) == 0;
}
