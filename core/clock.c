#include "core/clock.h"

#include <stdio.h>
#include <time.h>

static int64_t read_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_mono_us(void) { return read_us(CLOCK_MONOTONIC); }
int64_t clock_mono_ms(void) { return read_us(CLOCK_MONOTONIC) / 1000; }
int64_t clock_wall_us(void) { return read_us(CLOCK_REALTIME); }
int64_t clock_wall_s(void) { return read_us(CLOCK_REALTIME) / 1000000; }

void clock_format_iso(int64_t wall_us, char *buf, unsigned long len)
{
	time_t s = (time_t)(wall_us / 1000000);
	struct tm tm;
	gmtime_r(&s, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)((wall_us / 1000) % 1000));
}
