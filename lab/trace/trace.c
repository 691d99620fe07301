/*
 * trace.c: the trace library, preloaded (LD_PRELOAD) into both programs
 * when IPCLAB_TRACE=DIR is set; without it nobody loads this file, so the
 * programs run unchanged. Every call a channel is made of (calls.h) goes
 * through a wrapper here that calls the real function (dlsym RTLD_NEXT),
 * then appends one 64-byte record (record.h) to DIR/<pid>.trace with a
 * single write(2): records of two threads never interleave, and a killed
 * process loses nothing it already recorded.
 *
 * Invariants a wrapper keeps: it returns what the real call returned with
 * errno as the real call left it; it takes no lock a signal handler could
 * find held (sem_post is async-signal-safe, so its wrapper must be too);
 * a record that cannot be written is counted, and the count rides on the
 * next record that can.
 */
#define _GNU_SOURCE
#include "record.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A trace file stops growing here (IPCLAB_TRACE_MAX_MB): two processes
 * stay under 50 MB however long the run; later events are counted lost. */
#define DEFAULT_MAX_MB 24
#define MAX_FDS 4096
#define MAX_NAMES 1024
#define MAX_MAPS 512

/* ---- The trace file ---- */

static int trace_fd = -1;	/* -1: tracing is off in this process */
static atomic_uint_fast64_t bytes_left;
static atomic_uint dropped;
static _Thread_local pid_t my_tid;
static _Thread_local int in_wrapper;	/* our own calls are not traced */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void emit(struct trace_record *r)
{
	static ssize_t (*real_write)(int, const void *, size_t);
	uint_fast64_t left = atomic_load(&bytes_left);

	if (real_write == NULL)
		real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	if (my_tid == 0)
		my_tid = (pid_t)syscall(SYS_gettid);
	r->pid = (uint32_t)getpid();
	r->tid = (uint32_t)my_tid;
	if (r->phase != PHASE_NAME)
		r->dropped = atomic_load(&dropped);
	/* Name records always go: a later event's object must be readable. */
	if (r->phase != PHASE_NAME) {
		do {
			if (left < sizeof(*r)) {
				atomic_fetch_add(&dropped, 1);
				return;
			}
		} while (!atomic_compare_exchange_weak(&bytes_left, &left, left - sizeof(*r)));
	}
	if (real_write(trace_fd, r, sizeof(*r)) != (ssize_t)sizeof(*r))
		atomic_fetch_add(&dropped, 1);
}

/* ---- Object names ---- */

static char names[MAX_NAMES][32];
static atomic_uint name_count = 1;	/* id 0 is "not in a segment" */
static atomic_flag names_lock = ATOMIC_FLAG_INIT;

/* The id of name, written to the trace the first time it is seen. Not
 * async-signal-safe (a spin lock): called from opens and maps only. */
static uint32_t name_id(const char *name)
{
	size_t len = strlen(name);
	const char *tail = len > 31 ? name + len - 31 : name;
	uint32_t i, n;

	while (atomic_flag_test_and_set(&names_lock))
		;
	n = atomic_load(&name_count);
	for (i = 1; i < n; i++)
		if (strcmp(names[i], tail) == 0)
			break;
	if (i == n && n < MAX_NAMES) {
		struct trace_record r = { .t_ns = now_ns(), .phase = PHASE_NAME, .obj = n };

		strcpy(names[n], tail);
		strcpy(r.name, tail);
		emit(&r);
		atomic_store(&name_count, n + 1);
	}
	atomic_flag_clear(&names_lock);
	return i < MAX_NAMES ? i : 0;
}

/* ---- Descriptors: which ones are channel objects ---- */

enum { FD_UNKNOWN, FD_PLAIN, FD_NAMED };	/* FD_NAMED + id: named object */
static atomic_uint fd_kind[MAX_FDS];

static void fd_forget(int fd)
{
	if (fd >= 0 && fd < MAX_FDS)
		atomic_store(&fd_kind[fd], FD_UNKNOWN);
}

static void fd_name(int fd, const char *name)
{
	if (trace_fd >= 0 && fd >= 0 && fd < MAX_FDS)
		atomic_store(&fd_kind[fd], FD_NAMED + name_id(name));
}

/* The object id of fd if it is a Unix socket with a path (the command
 * socket) or a queue or segment the program opened; 0 otherwise. Asks the
 * kernel once per descriptor. */
static uint32_t fd_object(int fd)
{
	struct sockaddr_un a;
	socklen_t len = sizeof(a);
	unsigned kind;

	if (fd < 0 || fd >= MAX_FDS)
		return 0;
	kind = atomic_load(&fd_kind[fd]);
	if (kind == FD_UNKNOWN) {
		int saved = errno;

		/* A connected client's own end has no name; its peer's has. */
		memset(&a, 0, sizeof(a));
		if (getsockname(fd, (struct sockaddr *)&a, &len) == 0 &&
		    a.sun_family == AF_UNIX && a.sun_path[0] == '\0') {
			len = sizeof(a);
			getpeername(fd, (struct sockaddr *)&a, &len);
		}
		if (a.sun_family == AF_UNIX && a.sun_path[0] != '\0') {
			a.sun_path[sizeof(a.sun_path) - 1] = '\0';
			fd_name(fd, a.sun_path);
		} else {
			atomic_store(&fd_kind[fd], FD_PLAIN);
		}
		errno = saved;
		kind = atomic_load(&fd_kind[fd]);
	}
	return kind >= FD_NAMED ? kind - FD_NAMED : 0;
}

/* ---- Memory: which addresses lie in a shared segment ---- */

struct map {
	uintptr_t start, end;
	uint32_t obj;
	uint64_t file_off;
};
static struct map maps[MAX_MAPS];
static atomic_int maps_used;	/* slots at or past this one are free */
static atomic_uint maps_seq;	/* odd while a writer changes maps */
static atomic_flag maps_lock = ATOMIC_FLAG_INIT;

static void maps_begin(void)
{
	while (atomic_flag_test_and_set(&maps_lock))
		;
	atomic_fetch_add(&maps_seq, 1);
}

static void maps_end(void)
{
	atomic_fetch_add(&maps_seq, 1);
	atomic_flag_clear(&maps_lock);
}

static void maps_add(void *addr, size_t len, uint32_t obj, uint64_t file_off)
{
	maps_begin();
	for (int i = 0; i < MAX_MAPS; i++)
		if (maps[i].end == 0) {
			maps[i] = (struct map){ (uintptr_t)addr, (uintptr_t)addr + len, obj, file_off };
			if (i >= atomic_load(&maps_used))
				atomic_store(&maps_used, i + 1);
			break;
		}
	maps_end();
}

static void maps_remove(void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr;

	maps_begin();
	for (int i = 0; i < atomic_load(&maps_used); i++)
		if (maps[i].end != 0 && maps[i].start < a + len && a < maps[i].end)
			maps[i].end = 0;
	maps_end();
}

/* Which segment holds p (its id, and p's offset in the segment's file):
 * 0 if none. Lock-free, so safe in a signal handler; a reader that keeps
 * meeting a writer (one it interrupted) gives up and says "none". */
static uint32_t maps_find(const void *p, uint32_t *off)
{
	uintptr_t a = (uintptr_t)p;

	for (int tries = 0; tries < 64; tries++) {
		unsigned seq = atomic_load(&maps_seq);
		uint32_t obj = 0;

		if (seq & 1)
			continue;
		for (int i = 0; i < atomic_load(&maps_used); i++)
			if (maps[i].end != 0 && maps[i].start <= a && a < maps[i].end) {
				obj = maps[i].obj;
				*off = (uint32_t)(a - maps[i].start + maps[i].file_off);
				break;
			}
		if (atomic_load(&maps_seq) == seq)
			return obj;
	}
	return 0;
}

/* ---- Recording ---- */

static const unsigned char call_kind[] = {
#define CALL(name, kind) [CALL_##name] = KIND_##kind,
#include "calls.h"
#undef CALL
};

/* A call in progress: filled before the real call, finished after it. */
struct event {
	struct trace_record r;
	uint64_t start;
	int active;
};

static void ev_start(struct event *e, enum trace_call call, uint32_t obj, uint32_t off, void *caller)
{
	e->active = trace_fd >= 0 && !in_wrapper;
	if (!e->active)
		return;
	memset(&e->r, 0, sizeof(e->r));
	e->r.call = (uint16_t)call;
	e->r.obj = obj;
	e->r.off = off;
	e->r.caller = (uint64_t)(uintptr_t)caller;
	e->start = now_ns();
	if (call_kind[call] == KIND_WAIT) {
		e->r.t_ns = e->start;
		e->r.phase = PHASE_BEGIN;
		emit(&e->r);
		e->r.phase = PHASE_DONE;
	}
	in_wrapper = 1;
}

/* failed: the call reported an error; error is its number (errno for
 * system calls, the return value for pthread calls). Leaves errno alone. */
static void ev_done(struct event *e, int failed, int error, int64_t arg)
{
	int saved = errno;

	if (!e->active)
		return;
	in_wrapper = 0;
	e->r.t_ns = now_ns();
	e->r.wait_ns = e->r.t_ns - e->start;
	e->r.arg = arg;
	if (failed) {
		e->r.err = error;
		e->r.result = error == ETIMEDOUT ? RESULT_TIMEOUT
			: error == EAGAIN || error == EBUSY ? RESULT_BUSY : RESULT_ERROR;
	}
	emit(&e->r);
	errno = saved;
}

/* The real function, looked up on first use (a constructor of another
 * library may call us before ours runs). */
#define REAL(ret, name, ...)                                            \
	static ret (*real_##name)(__VA_ARGS__);                         \
	if (real_##name == NULL)                                        \
		real_##name = (ret (*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name)
/* glibc keeps an old condvar ABI beside the current one: ask for the current. */
#define REAL_COND(ret, name, ...)                                       \
	static ret (*real_##name)(__VA_ARGS__);                         \
	if (real_##name == NULL)                                        \
		real_##name = (ret (*)(__VA_ARGS__))dlvsym(RTLD_NEXT, #name, "GLIBC_2.3.2")

#define CALLER __builtin_return_address(0)

/* Memory objects: every semaphore; mutexes and condvars only when they lie
 * in a shared segment (the programs' private locks are not the channel). */
static void mem_start(struct event *e, enum trace_call call, const void *p, int any, void *caller)
{
	uint32_t off = 0, obj = trace_fd >= 0 ? maps_find(p, &off) : 0;

	if (obj == 0 && !any) {
		e->active = 0;
		return;
	}
	if (obj == 0)
		off = (uint32_t)(uintptr_t)p;
	ev_start(e, call, obj, off, caller);
}

/* The pthread calls return their error; the others return -1 and set errno. */
#define PTHREAD_RESULT(rc) ((rc) != 0), (rc)
#define ERRNO_RESULT(rc) ((rc) == -1), errno

/* ---- Semaphores ---- */

int sem_init(sem_t *sem, int pshared, unsigned value)
{
	REAL(int, sem_init, sem_t *, int, unsigned);
	struct event e;
	mem_start(&e, CALL_sem_init, sem, 1, CALLER);
	int rc = real_sem_init(sem, pshared, value);
	ev_done(&e, ERRNO_RESULT(rc), value);
	return rc;
}

#define SEM_SIMPLE(name)                                        \
	int name(sem_t *sem)                                    \
	{                                                       \
		REAL(int, name, sem_t *);                       \
		struct event e;                                 \
		mem_start(&e, CALL_##name, sem, 1, CALLER);     \
		int rc = real_##name(sem);                      \
		ev_done(&e, ERRNO_RESULT(rc), 0);               \
		return rc;                                      \
	}
SEM_SIMPLE(sem_destroy)
SEM_SIMPLE(sem_wait)
SEM_SIMPLE(sem_trywait)
SEM_SIMPLE(sem_post)

int sem_timedwait(sem_t *sem, const struct timespec *abstime)
{
	REAL(int, sem_timedwait, sem_t *, const struct timespec *);
	struct event e;
	mem_start(&e, CALL_sem_timedwait, sem, 1, CALLER);
	int rc = real_sem_timedwait(sem, abstime);
	ev_done(&e, ERRNO_RESULT(rc), 0);
	return rc;
}

int sem_clockwait(sem_t *sem, clockid_t clock, const struct timespec *abstime)
{
	REAL(int, sem_clockwait, sem_t *, clockid_t, const struct timespec *);
	struct event e;
	mem_start(&e, CALL_sem_clockwait, sem, 1, CALLER);
	int rc = real_sem_clockwait(sem, clock, abstime);
	ev_done(&e, ERRNO_RESULT(rc), 0);
	return rc;
}

/* A named semaphore is a small segment of its own (/dev/shm/sem.NAME). */
sem_t *sem_open(const char *name, int oflag, ...)
{
	REAL(sem_t *, sem_open, const char *, int, ...);
	struct event e;
	mode_t mode = 0;
	unsigned value = 0;

	if (oflag & O_CREAT) {
		va_list ap;

		va_start(ap, oflag);
		mode = va_arg(ap, mode_t);
		value = va_arg(ap, unsigned);
		va_end(ap);
	}
	ev_start(&e, CALL_sem_open, trace_fd >= 0 ? name_id(name) : 0, 0, CALLER);
	sem_t *sem = real_sem_open(name, oflag, mode, value);
	if (sem != SEM_FAILED && e.active)
		maps_add(sem, sizeof(sem_t), e.r.obj, 0);
	ev_done(&e, sem == SEM_FAILED, errno, value);
	return sem;
}

int sem_close(sem_t *sem)
{
	REAL(int, sem_close, sem_t *);
	struct event e;
	mem_start(&e, CALL_sem_close, sem, 1, CALLER);
	int rc = real_sem_close(sem);
	if (rc == 0)
		maps_remove(sem, sizeof(sem_t));
	ev_done(&e, ERRNO_RESULT(rc), 0);
	return rc;
}

#define BY_NAME(name)                                                   \
	int name(const char *path)                                      \
	{                                                               \
		REAL(int, name, const char *);                          \
		struct event e;                                         \
		ev_start(&e, CALL_##name, trace_fd >= 0 ? name_id(path) : 0, 0, CALLER); \
		int rc = real_##name(path);                             \
		ev_done(&e, ERRNO_RESULT(rc), 0);                       \
		return rc;                                              \
	}
BY_NAME(sem_unlink)
BY_NAME(mq_unlink)
BY_NAME(shm_unlink)

/* ---- Message queues ---- */

mqd_t mq_open(const char *name, int oflag, ...)
{
	REAL(mqd_t, mq_open, const char *, int, ...);
	struct event e;
	mode_t mode = 0;
	struct mq_attr *attr = NULL;

	if (oflag & O_CREAT) {
		va_list ap;

		va_start(ap, oflag);
		mode = va_arg(ap, mode_t);
		attr = va_arg(ap, struct mq_attr *);
		va_end(ap);
	}
	ev_start(&e, CALL_mq_open, trace_fd >= 0 ? name_id(name) : 0, 0, CALLER);
	mqd_t q = real_mq_open(name, oflag, mode, attr);
	if (q != (mqd_t)-1 && e.active)
		fd_name(q, name);
	ev_done(&e, q == (mqd_t)-1, errno, q);
	return q;
}

int mq_close(mqd_t q)
{
	REAL(int, mq_close, mqd_t);
	struct event e;
	ev_start(&e, CALL_mq_close, fd_object(q), 0, CALLER);
	int rc = real_mq_close(q);
	fd_forget(q);
	ev_done(&e, ERRNO_RESULT(rc), 0);
	return rc;
}

int mq_send(mqd_t q, const char *msg, size_t len, unsigned prio)
{
	REAL(int, mq_send, mqd_t, const char *, size_t, unsigned);
	struct event e;
	ev_start(&e, CALL_mq_send, fd_object(q), 0, CALLER);
	int rc = real_mq_send(q, msg, len, prio);
	ev_done(&e, ERRNO_RESULT(rc), (int64_t)len);
	return rc;
}

int mq_timedsend(mqd_t q, const char *msg, size_t len, unsigned prio, const struct timespec *abstime)
{
	REAL(int, mq_timedsend, mqd_t, const char *, size_t, unsigned, const struct timespec *);
	struct event e;
	ev_start(&e, CALL_mq_timedsend, fd_object(q), 0, CALLER);
	int rc = real_mq_timedsend(q, msg, len, prio, abstime);
	ev_done(&e, ERRNO_RESULT(rc), (int64_t)len);
	return rc;
}

ssize_t mq_receive(mqd_t q, char *msg, size_t len, unsigned *prio)
{
	REAL(ssize_t, mq_receive, mqd_t, char *, size_t, unsigned *);
	struct event e;
	ev_start(&e, CALL_mq_receive, fd_object(q), 0, CALLER);
	ssize_t n = real_mq_receive(q, msg, len, prio);
	ev_done(&e, ERRNO_RESULT(n), n);
	return n;
}

ssize_t mq_timedreceive(mqd_t q, char *msg, size_t len, unsigned *prio, const struct timespec *abstime)
{
	REAL(ssize_t, mq_timedreceive, mqd_t, char *, size_t, unsigned *, const struct timespec *);
	struct event e;
	ev_start(&e, CALL_mq_timedreceive, fd_object(q), 0, CALLER);
	ssize_t n = real_mq_timedreceive(q, msg, len, prio, abstime);
	ev_done(&e, ERRNO_RESULT(n), n);
	return n;
}

/* ---- Mutexes and condition variables in shared segments ---- */

int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr)
{
	REAL(int, pthread_mutex_init, pthread_mutex_t *, const pthread_mutexattr_t *);
	struct event e;
	mem_start(&e, CALL_pthread_mutex_init, m, 0, CALLER);
	int rc = real_pthread_mutex_init(m, attr);
	ev_done(&e, PTHREAD_RESULT(rc), 0);
	return rc;
}

#define MUTEX_SIMPLE(name)                                      \
	int name(pthread_mutex_t *m)                            \
	{                                                       \
		REAL(int, name, pthread_mutex_t *);             \
		struct event e;                                 \
		mem_start(&e, CALL_##name, m, 0, CALLER);       \
		int rc = real_##name(m);                        \
		ev_done(&e, PTHREAD_RESULT(rc), 0);             \
		return rc;                                      \
	}
MUTEX_SIMPLE(pthread_mutex_destroy)
MUTEX_SIMPLE(pthread_mutex_lock)
MUTEX_SIMPLE(pthread_mutex_trylock)
MUTEX_SIMPLE(pthread_mutex_unlock)
MUTEX_SIMPLE(pthread_mutex_consistent)

int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime)
{
	REAL(int, pthread_mutex_timedlock, pthread_mutex_t *, const struct timespec *);
	struct event e;
	mem_start(&e, CALL_pthread_mutex_timedlock, m, 0, CALLER);
	int rc = real_pthread_mutex_timedlock(m, abstime);
	ev_done(&e, PTHREAD_RESULT(rc), 0);
	return rc;
}

int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clock, const struct timespec *abstime)
{
	REAL(int, pthread_mutex_clocklock, pthread_mutex_t *, clockid_t, const struct timespec *);
	struct event e;
	mem_start(&e, CALL_pthread_mutex_clocklock, m, 0, CALLER);
	int rc = real_pthread_mutex_clocklock(m, clock, abstime);
	ev_done(&e, PTHREAD_RESULT(rc), 0);
	return rc;
}

int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *attr)
{
	REAL_COND(int, pthread_cond_init, pthread_cond_t *, const pthread_condattr_t *);
	struct event e;
	mem_start(&e, CALL_pthread_cond_init, c, 0, CALLER);
	int rc = real_pthread_cond_init(c, attr);
	ev_done(&e, PTHREAD_RESULT(rc), 0);
	return rc;
}

#define COND_SIMPLE(name)                                       \
	int name(pthread_cond_t *c)                             \
	{                                                       \
		REAL_COND(int, name, pthread_cond_t *);         \
		struct event e;                                 \
		mem_start(&e, CALL_##name, c, 0, CALLER);       \
		int rc = real_##name(c);                        \
		ev_done(&e, PTHREAD_RESULT(rc), 0);             \
		return rc;                                      \
	}
COND_SIMPLE(pthread_cond_destroy)
COND_SIMPLE(pthread_cond_signal)
COND_SIMPLE(pthread_cond_broadcast)

int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	REAL_COND(int, pthread_cond_wait, pthread_cond_t *, pthread_mutex_t *);
	struct event e;
	mem_start(&e, CALL_pthread_cond_wait, c, 0, CALLER);
	int rc = real_pthread_cond_wait(c, m);
	ev_done(&e, PTHREAD_RESULT(rc), 0);
	return rc;
}

int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abstime)
{
	REAL_COND(int, pthread_cond_timedwait, pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
	struct event e;
	mem_start(&e, CALL_pthread_cond_timedwait, c, 0, CALLER);
	int rc = real_pthread_cond_timedwait(c, m, abstime);
	ev_done(&e, PTHREAD_RESULT(rc), 0);
	return rc;
}

int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clock, const struct timespec *abstime)
{
	REAL(int, pthread_cond_clockwait, pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *);
	struct event e;
	mem_start(&e, CALL_pthread_cond_clockwait, c, 0, CALLER);
	int rc = real_pthread_cond_clockwait(c, m, clock, abstime);
	ev_done(&e, PTHREAD_RESULT(rc), 0);
	return rc;
}

/* ---- Segments ---- */

int shm_open(const char *name, int oflag, mode_t mode)
{
	REAL(int, shm_open, const char *, int, mode_t);
	struct event e;
	ev_start(&e, CALL_shm_open, trace_fd >= 0 ? name_id(name) : 0, 0, CALLER);
	int fd = real_shm_open(name, oflag, mode);
	if (fd >= 0 && fd < MAX_FDS && e.active)
		atomic_store(&fd_kind[fd], FD_NAMED + e.r.obj);
	ev_done(&e, ERRNO_RESULT(fd), fd);
	return fd;
}

/* Only segments the program opened with shm_open (or whose descriptor it
 * got another way and that lie in /dev/shm) are the channel's. */
static uint32_t shm_fd_object(int fd)
{
	char link[64], path[128];
	ssize_t n;
	unsigned kind = fd >= 0 && fd < MAX_FDS ? atomic_load(&fd_kind[fd]) : FD_PLAIN;

	if (kind >= FD_NAMED || kind == FD_PLAIN || trace_fd < 0)
		return kind >= FD_NAMED ? kind - FD_NAMED : 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 9 || strncmp(path, "/dev/shm/", 9) != 0)
		return 0;
	path[n] = '\0';
	fd_name(fd, path + 8);
	return fd_object(fd);
}

int ftruncate(int fd, off_t len)
{
	REAL(int, ftruncate, int, off_t);
	struct event e;
	uint32_t obj = shm_fd_object(fd);
	e.active = 0;
	if (obj != 0)
		ev_start(&e, CALL_ftruncate, obj, 0, CALLER);
	int rc = real_ftruncate(fd, len);
	ev_done(&e, ERRNO_RESULT(rc), len);
	return rc;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	REAL(void *, mmap, void *, size_t, int, int, int, off_t);
	struct event e;
	uint32_t obj = (flags & MAP_SHARED) && fd >= 0 && !in_wrapper ? shm_fd_object(fd) : 0;
	e.active = 0;
	if (obj != 0)
		ev_start(&e, CALL_mmap, obj, (uint32_t)off, CALLER);
	void *p = real_mmap(addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED && obj != 0)
		maps_add(p, len, obj, (uint64_t)off);
	ev_done(&e, p == MAP_FAILED, errno, (int64_t)len);
	return p;
}

int munmap(void *addr, size_t len)
{
	REAL(int, munmap, void *, size_t);
	struct event e;
	uint32_t off = 0, obj = trace_fd >= 0 && !in_wrapper ? maps_find(addr, &off) : 0;
	e.active = 0;
	if (obj != 0)
		ev_start(&e, CALL_munmap, obj, off, CALLER);
	int rc = real_munmap(addr, len);
	if (rc == 0 && obj != 0)
		maps_remove(addr, len);
	ev_done(&e, ERRNO_RESULT(rc), (int64_t)len);
	return rc;
}

/* ---- The command socket ---- */

/* A descriptor call is traced when its descriptor is a named object. */
#define FD_CALL(ret, name, fd, arg_of, PARAMS, ARGS)                  \
	ret name PARAMS                                               \
	{                                                             \
		REAL(ret, name, PARAMS_TYPES_##name);                 \
		struct event e;                                       \
		e.active = 0;                                         \
		uint32_t obj = trace_fd >= 0 && !in_wrapper ? fd_object(fd) : 0; \
		if (obj != 0)                                         \
			ev_start(&e, CALL_##name, obj, 0, CALLER);    \
		ret rc = real_##name ARGS;                            \
		ev_done(&e, ERRNO_RESULT(rc), arg_of);                \
		return rc;                                            \
	}
#define PARAMS_TYPES_send int, const void *, size_t, int
#define PARAMS_TYPES_recv int, void *, size_t, int
#define PARAMS_TYPES_sendmsg int, const struct msghdr *, int
#define PARAMS_TYPES_recvmsg int, struct msghdr *, int
#define PARAMS_TYPES_read int, void *, size_t
#define PARAMS_TYPES_write int, const void *, size_t
FD_CALL(ssize_t, send, fd, rc, (int fd, const void *buf, size_t len, int flags), (fd, buf, len, flags))
FD_CALL(ssize_t, recv, fd, rc, (int fd, void *buf, size_t len, int flags), (fd, buf, len, flags))
FD_CALL(ssize_t, sendmsg, fd, rc, (int fd, const struct msghdr *msg, int flags), (fd, msg, flags))
FD_CALL(ssize_t, recvmsg, fd, rc, (int fd, struct msghdr *msg, int flags), (fd, msg, flags))
FD_CALL(ssize_t, read, fd, rc, (int fd, void *buf, size_t len), (fd, buf, len))
FD_CALL(ssize_t, write, fd, rc, (int fd, const void *buf, size_t len), (fd, buf, len))

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	REAL(int, connect, int, const struct sockaddr *, socklen_t);
	const struct sockaddr_un *un = (const struct sockaddr_un *)addr;
	struct event e;
	e.active = 0;
	if (trace_fd >= 0 && addr != NULL && addr->sa_family == AF_UNIX && un->sun_path[0] != '\0') {
		char path[sizeof(un->sun_path) + 1] = { 0 };

		memcpy(path, un->sun_path, sizeof(un->sun_path));
		fd_name(fd, path);
		ev_start(&e, CALL_connect, fd_object(fd), 0, CALLER);
	}
	int rc = real_connect(fd, addr, len);
	ev_done(&e, ERRNO_RESULT(rc), 0);
	return rc;
}

static int accepted(struct event *e, int fd)
{
	fd_forget(fd);
	if (e->active)
		e->r.arg = fd;
	return fd;
}

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	REAL(int, accept, int, struct sockaddr *, socklen_t *);
	struct event e;
	e.active = 0;
	uint32_t obj = trace_fd >= 0 && !in_wrapper ? fd_object(fd) : 0;
	if (obj != 0)
		ev_start(&e, CALL_accept, obj, 0, CALLER);
	int rc = real_accept(fd, addr, len);
	ev_done(&e, ERRNO_RESULT(rc), accepted(&e, rc));
	return rc;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	REAL(int, accept4, int, struct sockaddr *, socklen_t *, int);
	struct event e;
	e.active = 0;
	uint32_t obj = trace_fd >= 0 && !in_wrapper ? fd_object(fd) : 0;
	if (obj != 0)
		ev_start(&e, CALL_accept4, obj, 0, CALLER);
	int rc = real_accept4(fd, addr, len, flags);
	ev_done(&e, ERRNO_RESULT(rc), accepted(&e, rc));
	return rc;
}

/* A closed descriptor's number is reused: forget what it was. */
int close(int fd)
{
	REAL(int, close, int);
	struct event e;
	e.active = 0;
	if (fd == trace_fd && trace_fd >= 0) {
		errno = EBADF;	/* the program does not own the trace file */
		return -1;
	}
	uint32_t obj = trace_fd >= 0 && !in_wrapper && fd >= 0 && fd < MAX_FDS &&
		atomic_load(&fd_kind[fd]) >= FD_NAMED ? fd_object(fd) : 0;
	if (obj != 0)
		ev_start(&e, CALL_close, obj, 0, CALLER);
	int rc = real_close(fd);
	fd_forget(fd);
	ev_done(&e, ERRNO_RESULT(rc), 0);
	return rc;
}

/* ---- Start ---- */

/* DIR/<pid>.info: what the renderer needs to name the process and turn
 * caller addresses into source lines (the executable and where it was
 * loaded). */
static void write_info(const char *dir)
{
	char path[4096], exe[4096] = "", comm[64] = "", line[8192];
	unsigned long start = 0, off = 0;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	FILE *f;

	if (n > 0)
		exe[n] = '\0';
	f = fopen("/proc/self/comm", "r");
	if (f != NULL) {
		if (fgets(comm, sizeof(comm), f) != NULL)
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	/* The executable's first mapping, at file offset 0, is its load base. */
	f = fopen("/proc/self/maps", "r");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *p = strchr(line, '/');

		line[strcspn(line, "\n")] = '\0';
		if (p != NULL && strcmp(p, exe) == 0 &&
		    sscanf(line, "%lx-%*x %*s %lx", &start, &off) == 2 && off == 0)
			break;
		start = 0;
	}
	if (f != NULL)
		fclose(f);
	snprintf(path, sizeof(path), "%s/%d.info", dir, (int)getpid());
	f = fopen(path, "w");
	if (f == NULL)
		return;
	fprintf(f, "pid %d\ncomm %s\nexe %s\nbase %lx\n", (int)getpid(), comm, exe, start);
	fclose(f);
}

__attribute__((constructor)) static void trace_start(void)
{
	const char *dir = getenv("IPCLAB_TRACE"), *max = getenv("IPCLAB_TRACE_MAX_MB");
	char path[4096];
	int fd;

	if (dir == NULL || *dir == '\0')
		return;
	uint64_t cap = (uint64_t)(max != NULL ? atoll(max) : DEFAULT_MAX_MB) << 20;
	struct rlimit fsize;

	/* A write past RLIMIT_FSIZE (the harness caps untrusted programs' files)
	 * would kill the program with SIGXFSZ: stop short of it, keeping room
	 * for every name record. */
	if (getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != RLIM_INFINITY) {
		uint64_t room = MAX_NAMES * sizeof(struct trace_record);

		cap = fsize.rlim_cur > room + cap ? cap : fsize.rlim_cur > room ? fsize.rlim_cur - room : 0;
	}
	atomic_store(&bytes_left, cap);
	in_wrapper = 1;
	snprintf(path, sizeof(path), "%s/%d.trace", dir, (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "ipclab trace: cannot write %s: %s (not tracing)\n", path, strerror(errno));
	} else {
		write_info(dir);
		/* Keep clear of the numbers programs use (stdio, their sockets). */
		int high = fcntl(fd, F_DUPFD_CLOEXEC, 900);

		if (high >= 0) {
			syscall(SYS_close, fd);
			fd = high;
		}
		if (fd < MAX_FDS)
			atomic_store(&fd_kind[fd], FD_PLAIN);
		trace_fd = fd;
	}
	in_wrapper = 0;
}
