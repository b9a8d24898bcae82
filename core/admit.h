/*
 * admit.h — admission control for requests in flight: a hard cap and an
 * adaptive limit that keeps the time a request spends in the server near a
 * latency target (docs/PERFORMANCE.md, "Overload").
 *
 * The adaptive limit is Little's law read backwards: a server that completes
 * X requests per second and holds N in flight keeps each one N / X seconds on
 * average.  So holding at most X * target in flight bounds the mean time in
 * the server by the target, whatever X is on this machine today.  X is
 * measured over windows of `window_us` (completions per window, smoothed);
 * the limit applies only while the mean latency of the last window was above
 * the target (below it the server is keeping up, and a burst is admitted up
 * to the hard cap), and never falls under `min_limit` (a stall that completes
 * nothing still lets a few requests in, which measure the recovery).
 *
 * Below saturation the limit is never reached: in flight = X * latency, and
 * latency < target.  Above it, what is admitted waits about `target`, and
 * the caller refuses (Overloaded) or stops reading the rest.
 *
 * One struct per request loop (no sharing, no locks); times are the caller's
 * monotonic microseconds, so tests drive it with a synthetic clock.
 */
#ifndef COLONNADE_CORE_ADMIT_H
#define COLONNADE_CORE_ADMIT_H

#include <stdbool.h>
#include <stdint.h>

struct admit_opts {
	unsigned max_inflight; /* hard cap, always applies [4096] */
	int64_t target_us;     /* latency target; 0 = the hard cap only (no default) */
	unsigned min_limit;    /* the adaptive limit's floor [32] */
	int64_t window_us;     /* measurement window [100000] */
};

struct admit {
	struct admit_opts o;
	unsigned inflight;
	unsigned limit;      /* current adaptive limit (max_inflight when not limiting) */
	bool limiting;       /* the last window's mean latency was above the target */
	int64_t win_start;   /* start of the current window; 0 = not started */
	uint64_t win_done;   /* completions in the current window */
	int64_t win_lat_sum; /* their latencies, µs */
	double rate;         /* smoothed completions per second */
	uint64_t admitted, refused;
};

/* Defaults for zero fields, as in the brackets above (target_us 0 stays off). */
void admit_init(struct admit *a, const struct admit_opts *o);
/* May one more request start now?  Counts it in flight when yes. */
bool admit_try(struct admit *a, int64_t now_us);
/* Count a request in flight without asking (one already read that must run). */
void admit_force(struct admit *a, int64_t now_us);
/* A request admitted at `start_us` completed at `now_us`. */
void admit_done(struct admit *a, int64_t start_us, int64_t now_us);
/* The number of requests that may be in flight now. */
unsigned admit_limit(const struct admit *a);
static inline bool admit_full(const struct admit *a)
{
	return a->inflight >= admit_limit(a);
}

#endif
