/* leftovers.c: removing a dead namesake's segments (see leftovers.h). */
#include "leftovers.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ipcname.h"

/* POSIX cannot list shared-memory objects; on Linux they are the files of
 * /dev/shm. */
void leftovers_remove_my_segments(const char *program)
{
	DIR *dir = opendir("/dev/shm");
	struct dirent *e;

	if (dir == NULL) {
		fprintf(stderr, "%s: cannot look for stale segments: /dev/shm: %s\n",
			program, strerror(errno));
		return;
	}
	while ((e = readdir(dir)) != NULL) {
		char name[IPCNAME_MAX];
		pid_t owner;

		if (snprintf(name, sizeof(name), "/%s", e->d_name) >=
		    (int)sizeof(name))
			continue;
		if (ipcname_segment_owner(name, &owner, NULL) != 0 ||
		    owner != getpid())
			continue;
		if (shm_unlink(name) == 0)
			fprintf(stderr, "%s: removed %s, left by a dead process with my pid\n",
				program, name);
		else
			fprintf(stderr, "%s: shm_unlink %s: %s\n", program,
				name, strerror(errno));
	}
	closedir(dir);
}
