/*
 * clock_ahead.so — an LD_PRELOAD shim for cluster tests: the wall clock
 * (CLOCK_REALTIME, as clock_gettime gives it) of the process runs
 * CLOCK_AHEAD_S seconds ahead, as on a host whose clock is wrong.  The
 * monotonic clocks are untouched.  Built by the test that uses it
 * (tests/cluster/reclaim_test.sh), without sanitizers.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

static clock_gettime_fn real_clock_gettime(void)
{
	static clock_gettime_fn fn;
	if (!fn)
		fn = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
	return fn;
}

static long long ahead_s(void)
{
	static long long s = -1;
	if (s < 0) {
		const char *v = getenv("CLOCK_AHEAD_S");
		s = v ? atoll(v) : 0;
		if (s < 0)
			s = 0;
	}
	return s;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	clock_gettime_fn fn = real_clock_gettime();
	if (!fn)
		return -1;
	int rc = fn(id, ts);
	if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
		ts->tv_sec += (time_t)ahead_s();
	return rc;
}
