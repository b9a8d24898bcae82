/*
 * fork_guard.c — linked into every criterion test program of a sanitizer build.
 *
 * Criterion runs each test in a worker it forks (BoxFort: fork without exec) from a
 * process in which nanomsg's threads run.  GCC 12's AddressSanitizer takes no allocator
 * lock around fork(): if one of those threads holds the mutex of an allocator size class
 * at that instant (refilling its thread cache, which a thread that has just started does
 * for every size class), the worker's copy of the mutex stays locked for ever and the
 * worker hangs at its first malloc of that class — until ctest's timeout, 15 minutes
 * later.  Seen on the first test of three cluster programs that started while another
 * test's nodes kept both cores busy (gdb: the worker in
 * SizeClassAllocator64::GetFromAllocator -> FutexWait, the parent's nanomsg thread in
 * epoll_wait).
 *
 * Before each fork the forking thread waits until every other thread of the process is
 * asleep (state S in /proc/self/task/<tid>/stat: in epoll_wait or a futex, not inside the
 * allocator), polling every millisecond for at most FORK_GUARD_MAX_MS.  An allocator
 * critical section never sleeps, so a fork made then finds its mutexes free.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FORK_GUARD_MAX_MS 500

/* Thread tid's scheduler state ('R', 'S', 'D', ...), or 'S' if it is gone. */
static char thread_state(const char *tid)
{
	char path[64], buf[512];
	size_t n = strlen(tid);
	if (n > 20)
		return 'S';
	memcpy(path, "/proc/self/task/", 16);
	memcpy(path + 16, tid, n);
	memcpy(path + 16 + n, "/stat", 6);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 'S';
	ssize_t got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got <= 0)
		return 'S';
	buf[got] = 0;
	/* "tid (comm) S ...": comm may hold spaces and parentheses; the state follows the
	 * last ')'. */
	const char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] ? p[2] : 'S';
}

static bool others_asleep(void)
{
	long self = syscall(SYS_gettid);
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return true;
	bool asleep = true;
	struct dirent *e;
	while (asleep && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9' || strtol(e->d_name, NULL, 10) == self)
			continue;
		asleep = thread_state(e->d_name) == 'S';
	}
	closedir(d);
	return asleep;
}

static void before_fork(void)
{
	const struct timespec ms = {0, 1000 * 1000};
	for (int i = 0; i < FORK_GUARD_MAX_MS && !others_asleep(); i++)
		nanosleep(&ms, NULL);
}

__attribute__((constructor)) static void fork_guard_install(void)
{
	pthread_atfork(before_fork, NULL, NULL);
}
