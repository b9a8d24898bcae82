/*
 * clock.h — time.  Monotonic time for timeouts and intervals; wall-clock time
 * only for cell timestamps and generations.  All values are int64 so that
 * differences never wrap.
 *
 * A timeout never uses the wall clock, which jumps.
 */
#ifndef COLONNADE_CORE_CLOCK_H
#define COLONNADE_CORE_CLOCK_H

#include <stdint.h>

/* Monotonic microseconds since an arbitrary origin (CLOCK_MONOTONIC). */
int64_t clock_mono_us(void);
/* Monotonic milliseconds. */
int64_t clock_mono_ms(void);
/* Wall-clock microseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_wall_us(void);
/* Wall-clock seconds since the Unix epoch. */
int64_t clock_wall_s(void);
/* Format wall-clock µs as "2026-11-25T16:24:19.123Z" into buf (>= 32 bytes). */
void clock_format_iso(int64_t wall_us, char *buf, unsigned long len);

#endif
