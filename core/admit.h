/*
 * admit.h — admission control for requests in flight: a hard cap and an
 * adaptive limit that keeps the time a request spends in the server near a
 * latency target (docs/PERFORMANCE.md, "Overload").
 *
 * The adaptive limit is Little's law read backwards: a server that completes
 * X requests per second and holds N in flight keeps each one N / X seconds on
 * average.  So holding at most X * target in flight bounds the mean time in
 * the server by the target, whatever X is on this machine today.
 *
 * Measured over windows of `window_us`: completions, their mean latency, and
 * how busy the caller's event loop was: of the time its thread had a core, the
 * share it did not spend waiting for events (admit_set_idle(), admit_set_runq():
 * on a machine shared with other work a thread also waits for a core, and a
 * loop that waits for events half the time it runs is half busy however long it
 * waited in the run queue besides).  The limit applies while
 * the loop is saturated (busy >= 90 %) and the mean latency is above the
 * target: then the node's own backlog is what makes requests slow.  It stops
 * when the mean falls under half the target, or when the loop has plenty of
 * idle time (busy < 50 %: latency then comes from elsewhere — slow replicas,
 * a machine shared with other work — and refusing would not shorten it).
 * X, the capacity, is the smoothed completion rate of saturated windows only,
 * so a limit that leaves the loop some idle time does not lower the estimate
 * it was made from (no spiral down to the floor).  The limit never falls
 * under `min_limit`.
 *
 * Below saturation the limit is never reached: in flight = X * latency, and
 * latency < target.  Above it, what is admitted waits about `target`, and
 * the caller refuses (Overloaded) or stops reading the rest.  A caller that
 * never reports idle time is taken as always saturated.
 *
 * One struct per request loop (no sharing, no locks); times are the caller's
 * monotonic microseconds, so tests drive it with a synthetic clock.
 */
#ifndef COLONNADE_CORE_ADMIT_H
#define COLONNADE_CORE_ADMIT_H

#include <stdbool.h>
#include <stdint.h>

struct admit_opts {
	unsigned max_inflight; /* hard cap, always applies [1024] */
	int64_t target_us;     /* latency target; 0 = the hard cap only (no default) */
	unsigned min_limit;    /* the adaptive limit's floor [32] */
	int64_t window_us;     /* measurement window [100000] */
};

struct admit {
	struct admit_opts o;
	unsigned inflight;
	unsigned limit;        /* current adaptive limit (max_inflight when not limiting) */
	bool limiting;         /* saturated and slower than the target (see above) */
	int64_t win_start;     /* start of the current window; 0 = not started */
	uint64_t win_done;     /* completions in the current window */
	int64_t win_lat_sum;   /* their latencies, µs */
	uint64_t idle_us;      /* the loop's idle time, cumulative (admit_set_idle) */
	uint64_t win_idle;     /* idle_us when the window started */
	uint64_t runq_us;      /* the loop's time waiting for a core, cumulative (admit_set_runq) */
	uint64_t win_runq;     /* runq_us when the window started */
	double busy;           /* the last window's busy share, 0..1 */
	double rate;           /* smoothed completions per second of saturated windows */
	unsigned target_limit; /* in flight for clients that take refusals (admit_try_target) */
	uint64_t admitted, refused;
};

/* Defaults for zero fields, as in the brackets above (target_us 0 stays off). */
void admit_init(struct admit *a, const struct admit_opts *o);
/* The loop counts as saturated at this busy share (the last window's). */
#define ADMIT_BUSY_SATURATED 0.9
static inline bool admit_saturated(const struct admit *a)
{
	return a->busy >= ADMIT_BUSY_SATURATED;
}
/* The caller's loop has waited `idle_us` for events in all (cumulative, µs). */
static inline void admit_set_idle(struct admit *a, uint64_t idle_us)
{
	a->idle_us = idle_us;
}
/* The caller's loop thread has waited `runq_us` for a core in all (cumulative, µs; the
 * kernel's run-queue delay): that time counts neither as busy nor as idle. */
static inline void admit_set_runq(struct admit *a, uint64_t runq_us)
{
	a->runq_us = runq_us;
}
/* Close the measurement window if it is over (admit_try/force/done do it too). */
void admit_tick(struct admit *a, int64_t now_us);
/* May one more request start now?  Counts it in flight when yes. */
bool admit_try(struct admit *a, int64_t now_us);
/*
 * May one more request start now, for a client that takes refusals (CQL
 * THROW_ON_OVERLOAD)?  Besides admit_try()'s limit, the target limit applies,
 * whatever the loop's load: after a window whose mean latency was above the
 * target it is that window's completions per second times the target (by
 * Little's law, what would have kept the target at the rate the node got its
 * requests done: a backlog on the replicas or a loop starved of CPU as well as
 * the loop's own queue); it grows back by an eighth per window at or under the
 * target, doubling under half of it, up to the cap, never under min_limit.
 * Slowness from elsewhere makes it refuse too: such a client asked to be told
 * at once what the node cannot answer within its target.
 */
bool admit_try_target(struct admit *a, int64_t now_us);
/* Count a request in flight without asking (one already read that must run). */
void admit_force(struct admit *a, int64_t now_us);
/* A request admitted at `start_us` completed at `now_us`. */
void admit_done(struct admit *a, int64_t start_us, int64_t now_us);
/* The number of requests that may be in flight now for admit_try_target(). */
static inline unsigned admit_target_limit(const struct admit *a)
{
	return a->target_limit < a->limit ? a->target_limit : a->limit;
}
/* The number of requests that may be in flight now. */
unsigned admit_limit(const struct admit *a);
static inline bool admit_full(const struct admit *a)
{
	return a->inflight >= admit_limit(a);
}

/*
 * A request loop's byte budget for the mutation bytes its requests hold while in
 * flight: the coordinator's copy of each write's mutation (kept until its last replica
 * acks or the write timeout passes, to hint it) and a forwarder's copy of each mutation
 * it relays to a peer (docs/PERFORMANCE.md, "Other bounds").  The holders charge and
 * release it.  A charge that would take it past `max` is refused (the coordinator then
 * refuses the write Overloaded), except the first: with nothing held any one mutation
 * fits, so a mutation larger than the budget still runs, alone.  CQL admission counts
 * the loop as full from ADMIT_BYTES_MARK of `max` on (Overloaded for clients that take
 * it, backpressure for the others, as for its request count), which leaves the rest for
 * the requests admitted past the mark (one per connection at most) so that they find
 * room.  One per request loop, used on its thread (no locks).
 */
struct admit_bytes {
	uint64_t max;     /* 0: no bound */
	uint64_t used;    /* charged now */
	uint64_t refused; /* charges refused, cumulative */
	/* called when `used` falls under the mark again (admission resumes what it paused) */
	void (*on_room)(void *ctx);
	void *room_ctx;
};
/* CQL admission stops at this share of the budget (3/4). */
#define ADMIT_BYTES_MARK(max) ((max) - (max) / 4)
/* Charge n bytes: true, or false (counted in refused) when they would not fit. */
bool admit_bytes_charge(struct admit_bytes *b, uint64_t n);
/* Give back n bytes charged before. */
void admit_bytes_release(struct admit_bytes *b, uint64_t n);
/* At or over the mark: admission holds new requests back. */
static inline bool admit_bytes_full(const struct admit_bytes *b)
{
	return b && b->max && b->used >= ADMIT_BYTES_MARK(b->max);
}

#endif
