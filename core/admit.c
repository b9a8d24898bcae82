#include "core/admit.h"

#define DEF_MAX_INFLIGHT 1024u
#define DEF_MIN_LIMIT    32u
#define DEF_WINDOW_US    100000
/* Weight of the newest window in the smoothed rate. */
#define RATE_ALPHA 0.5
/* Below this busy share the loop's latency is not its own backlog's. */
#define BUSY_IDLE 0.5

void admit_init(struct admit *a, const struct admit_opts *o)
{
	*a = (struct admit){0};
	a->o = *o;
	if (!a->o.max_inflight)
		a->o.max_inflight = DEF_MAX_INFLIGHT;
	if (a->o.target_us < 0)
		a->o.target_us = 0;
	if (!a->o.min_limit)
		a->o.min_limit = DEF_MIN_LIMIT;
	if (a->o.min_limit > a->o.max_inflight)
		a->o.min_limit = a->o.max_inflight;
	if (a->o.window_us <= 0)
		a->o.window_us = DEF_WINDOW_US;
	a->limit = a->o.max_inflight;
	a->target_limit = a->o.max_inflight;
}

/* The target limit after a window of `done` completions at `r` per second (admit.h). */
static void roll_target(struct admit *a, double r)
{
	if (a->o.target_us <= 0 || a->win_done == 0)
		return; /* no completions: nothing measured (see roll()) */
	int64_t mean = a->win_lat_sum / (int64_t)a->win_done;
	double l = a->target_limit;
	if (mean > a->o.target_us)
		l = r * (double)a->o.target_us / 1e6;
	else if (mean < a->o.target_us / 2)
		l *= 2;
	else
		l += l / 8 > 1 ? l / 8 : 1;
	if (l > a->o.max_inflight)
		l = a->o.max_inflight;
	a->target_limit = l < a->o.min_limit ? a->o.min_limit : (unsigned)l;
}

/*
 * Close the window if it is over: new rate, new limit.  Limiting starts when
 * the loop was saturated and a window's mean latency was above the target
 * (a window without completions says nothing: one long iteration reading a
 * burst, or a stall whose requests will complete late and say so) and stops when
 * the mean falls under half the target (hysteresis: a server held at the
 * target by its own limit stays limited instead of flapping between the limit
 * and the hard cap) or the loop had time to spare.
 */
static void roll(struct admit *a, int64_t now)
{
	if (a->win_start == 0) {
		a->win_start = now;
		a->win_idle = a->idle_us;
		a->win_runq = a->runq_us;
		return;
	}
	int64_t el = now - a->win_start;
	if (el < a->o.window_us)
		return;
	double r = (double)a->win_done * 1e6 / (double)el;
	/* Of the window, the time the thread had a core (or blocked outside the loop's wait):
	 * the run-queue delay is neither busy nor idle.  A wake-up's own run-queue delay is
	 * counted in both idle and runq, which can only make the share lower; a saturated loop
	 * does not wait for events, so it has none and its share stays whole. */
	double runq = (double)(a->runq_us - a->win_runq);
	double idle = (double)(a->idle_us - a->win_idle);
	double ran = (double)el - runq;
	a->busy = ran <= 0 || idle >= ran ? 0 : 1 - idle / ran;
	bool saturated = admit_saturated(a);
	if (saturated || a->rate <= 0)
		a->rate = a->rate > 0 ? RATE_ALPHA * r + (1 - RATE_ALPHA) * a->rate : r;
	if (a->o.target_us > 0) {
		if (a->busy < BUSY_IDLE || (a->win_done == 0 && a->inflight == 0)) {
			a->limiting = false;
		} else if (a->win_done > 0) {
			int64_t mean = a->win_lat_sum / (int64_t)a->win_done;
			if (mean > a->o.target_us && saturated)
				a->limiting = true;
			else if (mean < a->o.target_us / 2)
				a->limiting = false;
		}
	}
	roll_target(a, r);
	double l = a->rate * (double)a->o.target_us / 1e6;
	if (!a->limiting || l >= a->o.max_inflight)
		a->limit = a->o.max_inflight;
	else
		a->limit = l < a->o.min_limit ? a->o.min_limit : (unsigned)l;
	a->win_start = now;
	a->win_idle = a->idle_us;
	a->win_runq = a->runq_us;
	a->win_done = 0;
	a->win_lat_sum = 0;
}

unsigned admit_limit(const struct admit *a)
{
	return a->limit;
}

void admit_tick(struct admit *a, int64_t now_us)
{
	roll(a, now_us);
}

bool admit_try(struct admit *a, int64_t now_us)
{
	roll(a, now_us);
	if (a->inflight >= a->limit) {
		a->refused++;
		return false;
	}
	a->inflight++;
	a->admitted++;
	return true;
}

bool admit_try_target(struct admit *a, int64_t now_us)
{
	roll(a, now_us);
	if (a->inflight >= admit_target_limit(a)) {
		a->refused++;
		return false;
	}
	a->inflight++;
	a->admitted++;
	return true;
}

void admit_force(struct admit *a, int64_t now_us)
{
	roll(a, now_us);
	a->inflight++;
	a->admitted++;
}

void admit_done(struct admit *a, int64_t start_us, int64_t now_us)
{
	if (a->inflight > 0)
		a->inflight--;
	a->win_done++;
	a->win_lat_sum += now_us > start_us ? now_us - start_us : 0;
	roll(a, now_us);
}

bool admit_bytes_charge(struct admit_bytes *b, uint64_t n)
{
	if (b->max && b->used > 0 && (n > b->max || b->used > b->max - n)) {
		b->refused++;
		return false;
	}
	b->used += n;
	return true;
}

void admit_bytes_release(struct admit_bytes *b, uint64_t n)
{
	bool was_full = admit_bytes_full(b);
	b->used = n < b->used ? b->used - n : 0;
	if (was_full && !admit_bytes_full(b) && b->on_room)
		b->on_room(b->room_ctx);
}
