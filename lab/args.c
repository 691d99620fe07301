/* args.c: strict parsing of numeric flags (see args.h). */
#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

int args_parse_long(const char *text, long min, long max, long *out)
{
	char *end;
	long value;

	if (text == NULL || !isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	value = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || value < min || value > max)
		return -1;
	*out = value;
	return 0;
}
