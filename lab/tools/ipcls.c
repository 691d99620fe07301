/*
 * ipcls: lists (and with --clean removes) the POSIX IPC objects of this
 * user's ipclab prefix: the proxy's shared-memory segments, the cache's
 * request queue and (socket variant) the cache's socket file.
 *
 *   shm  <name>  <bytes>  owner <pid> (alive|dead|dead: pid reused)
 *   mq   <name>  msgs <n>/<max>
 *   sock <path>
 *
 * Stdout holds only those lines (or "no ipclab objects for prefix P"), so
 * scripts can count them; advice for the reader goes to stderr.
 *
 * Linux shows a shared-memory object named "/x" as the file /dev/shm/x, so
 * segments are found by reading that folder. The queue has one known name,
 * so it is simply opened (read-only, never received from) and asked for
 * its attributes; that works whether or not /dev/mqueue is mounted.
 *
 * A segment's name holds its owner's pid, and pids are reused (at once in
 * a fresh pid namespace). So a running process with that pid is only the
 * owner if it started before the segment was made: one that started later
 * got the pid after the owner died, and the segment is an orphan.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipcname.h"

#define SHM_DIR "/dev/shm"

struct segment {
	char name[IPCNAME_MAX];
	pid_t owner;
	unsigned index;
	long long bytes;
	double made;		/* latest time it can have been made, or -1 */
};

struct listing {
	struct segment *segs;
	size_t nsegs;
	int dead_owners;	/* segments whose owner is gone */
	int removed_live;	/* --clean removed segments of a running process */
	int problems;		/* objects that could not be read or removed */
};

static void usage(FILE *out)
{
	fprintf(out, "usage: ipcls [--clean] [-h]\n");
}

static void help(void)
{
	usage(stdout);
	printf("Lists the shared-memory segments, the message queue and the socket of this ipclab prefix.\n"
	       "  --clean  remove them (stop webproxy and simplecached first)\n"
	       "  -h       show this help\n"
	       "The prefix is $IPCLAB_PREFIX, or /ipclab.<your uid> when it is unset.\n");
}

/* Reads /proc/<pid>/stat. Returns a pointer just past "pid (comm) ", where
 * the state letter is, or NULL. comm may hold ')', so the last one counts. */
static char *read_proc_stat(pid_t pid, char *buf, size_t size)
{
	char path[64], *paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	if (paren == NULL || paren[1] != ' ')
		return NULL;
	return paren + 2;
}

/* The boot time, in seconds since the epoch (the "btime" of /proc/stat). */
static long long boot_time(void)
{
	char line[256];
	long long btime = -1;
	FILE *f = fopen("/proc/stat", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "btime %lld", &btime) == 1)
			break;
	fclose(f);
	return btime;
}

/* When the process started, in seconds since the epoch, or -1 if unknown.
 * /proc/<pid>/stat gives it in clock ticks since boot (field 22). */
static double process_start(const char *after_comm)
{
	unsigned long long ticks;
	long long btime = boot_time();
	long hz = sysconf(_SC_CLK_TCK);
	const char *p = after_comm;

	/* after_comm is field 3 (state); skip to field 22. */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return -1;
		p++;
	}
	if (btime < 0 || hz <= 0 || sscanf(p, "%llu", &ticks) != 1)
		return -1;
	return (double)btime + (double)ticks / hz;
}

enum owner { OWNER_ALIVE, OWNER_DEAD, OWNER_REUSED };

/*
 * Whether the segment's owner still runs. kill(pid, 0) also succeeds for
 * a zombie (exited, not yet reaped by its parent), so the state letter in
 * /proc/<pid>/stat is checked as well when /proc is there. A process that
 * started after the segment was made is not its owner. /proc/stat's boot
 * time has whole seconds, so only a start over a second later counts.
 */
static enum owner owner_state(const struct segment *s)
{
	char buf[1024], *state;
	double started;

	if (kill(s->owner, 0) != 0 && errno != EPERM)
		return OWNER_DEAD;
	state = read_proc_stat(s->owner, buf, sizeof(buf));
	if (state == NULL)
		return OWNER_ALIVE;	/* no /proc: kill() is all we know */
	if (*state == 'Z' || *state == 'X')
		return OWNER_DEAD;
	started = process_start(state);
	if (started >= 0 && s->made >= 0 && started > s->made + 1.0)
		return OWNER_REUSED;
	return OWNER_ALIVE;
}

/* The latest time the segment can have been made: its data (mtime) and
 * its inode (ctime) both change at creation and only move on after. */
static double made_time(const struct stat *st)
{
	double m = st->st_mtim.tv_sec + st->st_mtim.tv_nsec / 1e9;
	double c = st->st_ctim.tv_sec + st->st_ctim.tv_nsec / 1e9;

	return m < c ? m : c;
}

static int by_owner_then_index(const void *a, const void *b)
{
	const struct segment *x = a, *y = b;

	if (x->owner != y->owner)
		return x->owner < y->owner ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

/* Collects this prefix's segments from SHM_DIR, sorted by owner and index. */
static int find_segments(struct listing *l)
{
	DIR *d = opendir(SHM_DIR);
	struct dirent *e;
	size_t cap = 0;

	if (d == NULL) {
		fprintf(stderr, "ipcls: cannot read %s: %s\n", SHM_DIR, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		struct segment s;
		struct stat st;

		if (strlen(e->d_name) + 2 > sizeof(s.name))
			continue;
		snprintf(s.name, sizeof(s.name), "/%s", e->d_name);
		if (ipcname_segment_owner(s.name, &s.owner, &s.index) != 0)
			continue;
		s.bytes = s.made = -1;
		if (fstatat(dirfd(d), e->d_name, &st, 0) == 0) {
			s.bytes = st.st_size;
			s.made = made_time(&st);
		}
		if (l->nsegs == cap) {
			struct segment *more;

			cap = cap ? 2 * cap : 16;
			more = realloc(l->segs, cap * sizeof(*more));
			if (more == NULL) {
				fprintf(stderr, "ipcls: out of memory\n");
				closedir(d);
				return -1;
			}
			l->segs = more;
		}
		l->segs[l->nsegs++] = s;
	}
	closedir(d);
	if (l->nsegs > 0)
		qsort(l->segs, l->nsegs, sizeof(*l->segs), by_owner_then_index);
	return 0;
}

/* Removes one object with its kind's unlink call, and says so. Returns 1
 * if it is gone, 0 (a problem counted) if it could not be removed. */
static int remove_object(struct listing *l, const char *kind, const char *name,
			 int (*unlink_call)(const char *))
{
	if (unlink_call(name) != 0 && errno != ENOENT) {
		fprintf(stderr, "ipcls: cannot remove %s: %s\n", name, strerror(errno));
		l->problems++;
		return 0;
	}
	printf("removed %s %s\n", kind, name);
	return 1;
}

static void show_segment(struct listing *l, const struct segment *s, int clean)
{
	static const char *const says[] = {
		[OWNER_ALIVE] = "alive",
		[OWNER_DEAD] = "dead",
		[OWNER_REUSED] = "dead: pid reused",
	};
	enum owner owner = owner_state(s);
	int alive = owner == OWNER_ALIVE;

	if (!alive)
		l->dead_owners++;
	printf("shm  %s  %lld  owner %ld (%s)\n", s->name, s->bytes,
	       (long)s->owner, says[owner]);
	if (clean && remove_object(l, "shm", s->name, shm_unlink) && alive)
		l->removed_live++;
}

/* Returns 1 if the queue exists (and was shown), else 0. */
static int show_queue(struct listing *l, const char *name, int clean)
{
	struct mq_attr attr;
	mqd_t q = mq_open(name, O_RDONLY | O_NONBLOCK);

	if (q == (mqd_t)-1 && errno == ENOENT)
		return 0;
	if (q == (mqd_t)-1) {
		printf("mq   %s  (cannot open: %s)\n", name, strerror(errno));
		l->problems++;
	} else if (mq_getattr(q, &attr) != 0) {
		printf("mq   %s  (cannot read attributes: %s)\n", name, strerror(errno));
		l->problems++;
		mq_close(q);
	} else {
		printf("mq   %s  msgs %ld/%ld\n", name, attr.mq_curmsgs, attr.mq_maxmsg);
		mq_close(q);
	}
	if (clean)
		remove_object(l, "mq", name, mq_unlink);
	return 1;
}

/* Returns 1 if the cache's socket file exists (and was shown), else 0. */
static int show_socket(struct listing *l, const char *path, int clean)
{
	struct stat st;

	if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode))
		return 0;
	printf("sock %s\n", path);
	if (clean)
		remove_object(l, "sock", path, unlink);
	return 1;
}

/* A cache's queue or socket outlives it only if it crashed. */
static void advise_leftover(const char *channel)
{
	fprintf(stderr, "ipcls: if no simplecached is running, the %s is left over "
		"from a crash (a new simplecached replaces it); remove it with ipcls --clean\n",
		channel);
}

static void advise(const struct listing *l, int have_queue, int have_socket,
		   int clean)
{
	if (clean) {
		if (l->removed_live > 0)
			fprintf(stderr, "ipcls: warning: %d removed segment(s) belonged to a webproxy "
				"that is still running; it can no longer serve through them: restart it\n",
				l->removed_live);
		if (l->problems > 0)
			fprintf(stderr, "ipcls: some objects could not be removed; "
				"are they someone else's? (ls -l /dev/shm /dev/mqueue)\n");
		return;
	}
	if (l->dead_owners > 0)
		fprintf(stderr, "ipcls: %d segment(s) belong to a webproxy that is gone; "
			"they only waste memory: remove them with ipcls --clean\n",
			l->dead_owners);
	if (have_queue)
		advise_leftover("queue");
	if (have_socket)
		advise_leftover("socket");
}

int main(int argc, char **argv)
{
	struct listing l = { 0 };
	char prefix[IPCNAME_PREFIX_MAX + 1], queue[IPCNAME_MAX];
	char sock[IPCNAME_SOCKET_MAX];
	int clean = 0, have_queue, have_socket, status;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--clean") == 0) {
			clean = 1;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			help();
			return 0;
		} else {
			fprintf(stderr, "ipcls: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (ipcname_prefix(prefix, sizeof(prefix)) != 0 ||
	    ipcname_queue(queue, sizeof(queue)) != 0 ||
	    ipcname_socket(sock, sizeof(sock)) != 0)
		return 1;

	status = find_segments(&l);
	for (size_t i = 0; i < l.nsegs; i++)
		show_segment(&l, &l.segs[i], clean);
	have_queue = show_queue(&l, queue, clean);
	have_socket = show_socket(&l, sock, clean);
	if (l.nsegs == 0 && !have_queue && !have_socket)
		printf("no ipclab objects for prefix %s\n", prefix);
	advise(&l, have_queue, have_socket, clean);
	free(l.segs);
	return status != 0 || l.problems > 0;
}
