#include "core/admit.h"

#include <criterion/criterion.h>

/*
 * A simulated server: completes `rate` requests per second (one every
 * 1e6/rate µs, oldest first), offered `offered` per second open loop; runs
 * `secs` seconds and reports what was admitted, refused and how long the
 * admitted ones waited.
 */
struct sim {
	struct admit a;
	int64_t q[1 << 16]; /* start times of requests in flight, a ring */
	unsigned head, tail;
	uint64_t refused, done;
	int64_t lat_max_late; /* the longest latency in the second half */
	int64_t lat_sum_late;
	uint64_t done_late;
};

static void sim_run(struct sim *s, double offered, double rate, double secs, int64_t t0)
{
	int64_t end = t0 + (int64_t)(secs * 1e6);
	double next_arrival = (double)t0, next_done = (double)t0;
	int64_t half = t0 + (end - t0) / 2;
	while (next_arrival < (double)end || next_done < (double)end) {
		if (next_arrival <= next_done) {
			int64_t now = (int64_t)next_arrival;
			if (admit_try(&s->a, now))
				s->q[s->tail++ & 0xffff] = now;
			else
				s->refused++;
			next_arrival += 1e6 / offered;
		} else {
			int64_t now = (int64_t)next_done;
			if (s->head != s->tail) {
				int64_t st = s->q[s->head++ & 0xffff];
				admit_done(&s->a, st, now);
				s->done++;
				if (now >= half) {
					s->lat_sum_late += now - st;
					s->done_late++;
					if (now - st > s->lat_max_late)
						s->lat_max_late = now - st;
				}
				next_done += 1e6 / rate;
			} else {
				next_done = next_arrival; /* idle server waits for work */
			}
		}
	}
}

Test(admit, below_capacity_nothing_is_refused)
{
	static struct sim s;
	struct admit_opts o = {.max_inflight = 4096, .target_us = 10000};
	admit_init(&s.a, &o);
	sim_run(&s, 5000, 10000, 5, 1000000);
	cr_expect_eq(s.refused, 0);
	cr_expect_lt(s.lat_max_late, 1000, "latency %lld us", (long long)s.lat_max_late);
	cr_expect(!s.a.limiting);
	cr_expect_eq(admit_limit(&s.a), 4096);
}

Test(admit, twice_capacity_holds_latency_near_target_and_refuses_the_excess)
{
	static struct sim s;
	struct admit_opts o = {.max_inflight = 4096, .target_us = 10000};
	admit_init(&s.a, &o);
	sim_run(&s, 20000, 10000, 10, 1000000);
	/* about half refused, and the accepted ones wait about the target */
	cr_expect_gt(s.refused, 80000, "refused %llu", (unsigned long long)s.refused);
	cr_expect_lt(s.refused, 120000, "refused %llu", (unsigned long long)s.refused);
	int64_t mean = s.lat_sum_late / (int64_t)s.done_late;
	cr_expect_lt(mean, 15000, "mean latency %lld us", (long long)mean);
	cr_expect_lt(s.lat_max_late, 25000, "max latency %lld us", (long long)s.lat_max_late);
	cr_expect(s.a.limiting);
	/* the limit is rate x target: 10000/s x 10 ms = 100 */
	cr_expect(admit_limit(&s.a) >= 80 && admit_limit(&s.a) <= 120, "limit %u",
	          admit_limit(&s.a));
}

Test(admit, without_a_target_only_the_hard_cap_applies)
{
	static struct sim s;
	struct admit_opts o = {.max_inflight = 500};
	admit_init(&s.a, &o);
	sim_run(&s, 20000, 10000, 4, 1000000);
	cr_expect_gt(s.refused, 0);
	cr_expect(!s.a.limiting);
	cr_expect_eq(admit_limit(&s.a), 500);
	/* 500 in flight at 10000/s: 50 ms each */
	cr_expect_gt(s.lat_sum_late / (int64_t)s.done_late, 40000);
}

Test(admit, recovers_when_the_load_falls)
{
	static struct sim s;
	struct admit_opts o = {.max_inflight = 4096, .target_us = 10000};
	admit_init(&s.a, &o);
	sim_run(&s, 20000, 10000, 3, 1000000);
	cr_expect(s.a.limiting);
	uint64_t refused = s.refused;
	s.done_late = 0;
	s.lat_sum_late = 0;
	s.lat_max_late = 0;
	sim_run(&s, 5000, 10000, 3, 4000000);
	cr_expect(!s.a.limiting);
	cr_expect_eq(admit_limit(&s.a), 4096);
	/* a few may still be refused while the queue of the overload drains */
	cr_expect_lt(s.refused - refused, 200, "refused %llu after the load fell",
	             (unsigned long long)(s.refused - refused));
}

Test(admit, a_loop_with_time_to_spare_is_not_limited)
{
	/* latency above the target while the loop idles 70 % of the time: it comes
	 * from elsewhere (replicas, a shared machine), and refusing would not help */
	struct admit a;
	struct admit_opts o = {.max_inflight = 1000, .target_us = 5000};
	admit_init(&a, &o);
	int64_t t = 1000000;
	uint64_t idle = 0;
	for (int w = 0; w < 20; w++) {
		for (int i = 0; i < 50; i++) {
			int64_t now = t + w * 100000 + i * 2000;
			admit_set_idle(&a, idle);
			cr_assert(admit_try(&a, now), "window %d request %d refused", w, i);
			admit_done(&a, now - 20000, now + 1);
			idle += 1400; /* 70 % of each 2 ms step */
		}
	}
	cr_expect(!a.limiting);
	cr_expect_lt(a.busy, 0.5, "busy %.2f", a.busy);
	cr_expect_eq(admit_limit(&a), 1000);
}

/* A loop on a machine shared with other work: of each 2 ms it waits 1.1 ms for a core,
 * 0.5 ms for events and works 0.4 ms.  By the wall clock it is 80 % busy; of the time
 * it had a core it is 44 % busy: slow because it waits for a core, which refusing
 * would not cure.  The same loop without the run-queue time reported is 75 % busy and
 * past 90 % once its idle time falls: the run-queue time is what tells them apart. */
static bool run_shared(uint64_t runq_step, uint64_t idle_step, double *busy)
{
	struct admit a;
	struct admit_opts o = {.max_inflight = 1000, .target_us = 5000};
	admit_init(&a, &o);
	int64_t t = 1000000;
	uint64_t idle = 0, runq = 0;
	for (int w = 0; w < 20; w++) {
		for (int i = 0; i < 50; i++) {
			int64_t now = t + w * 100000 + i * 2000;
			admit_set_idle(&a, idle);
			admit_set_runq(&a, runq);
			admit_force(&a, now);
			admit_done(&a, now - 20000, now + 1); /* 20 ms: far above the target */
			idle += idle_step;
			runq += runq_step;
		}
	}
	*busy = a.busy;
	return a.limiting;
}

Test(admit, time_waiting_for_a_core_is_neither_busy_nor_idle)
{
	double busy;
	cr_expect(!run_shared(1100, 500, &busy));
	cr_expect(busy > 0.40 && busy < 0.50, "busy %.2f", busy);
	/* the same wait for events, no run-queue time: 75 % busy, still not saturated */
	cr_expect(!run_shared(0, 500, &busy));
	cr_expect(busy > 0.70 && busy < 0.80, "busy %.2f", busy);
	/* waiting for a core, never for events: saturated for the core it gets */
	cr_expect(run_shared(1100, 0, &busy));
	cr_expect(busy > 0.99, "busy %.2f", busy);
	/* and waiting for events 0.1 ms of each 2 ms, by the wall clock 95 % busy: a loop
	 * that waits 1.1 ms of it for a core is 89 % busy of the time it ran */
	cr_expect(!run_shared(1100, 100, &busy));
	cr_expect(busy > 0.85 && busy < 0.90, "busy %.2f", busy);
	cr_expect(run_shared(0, 100, &busy));
}

Test(admit, a_limit_that_leaves_idle_time_does_not_spiral_down)
{
	/* saturated at 10000/s with 40 ms latency: limited to 10000 x 10 ms = 100;
	 * the limited loop then idles 30 % of the time: the limit stays */
	struct admit a;
	struct admit_opts o = {.max_inflight = 4096, .target_us = 10000};
	admit_init(&a, &o);
	int64_t t = 1000000;
	uint64_t idle = 0;
	admit_set_idle(&a, idle);
	admit_force(&a, t);
	admit_done(&a, t, t);
	for (int w = 0; w < 3; w++) /* saturated, slow: 1000 done per 100 ms window */
		for (int i = 0; i < 1000; i++) {
			int64_t now = t + w * 100000 + i * 100 + 1;
			admit_force(&a, now);
			admit_done(&a, now - 40000, now);
		}
	admit_force(&a, t + 300001);
	cr_assert(a.limiting);
	unsigned lim = admit_limit(&a);
	cr_expect(lim >= 80 && lim <= 120, "limit %u", lim);
	for (int w = 3; w < 30; w++) /* limited: 300 done per window, 30 % idle, still slow */
		for (int i = 0; i < 300; i++) {
			int64_t now = t + w * 100000 + i * 333 + 2;
			idle += 100;
			admit_set_idle(&a, idle);
			admit_force(&a, now);
			admit_done(&a, now - 15000, now);
		}
	cr_expect(a.limiting);
	cr_expect_eq(admit_limit(&a), lim, "limit %u, was %u", admit_limit(&a), lim);
}

Test(admit, a_window_without_completions_changes_nothing_and_force_counts)
{
	/* one long iteration reading a burst: busy, many started, none completed yet */
	struct admit a;
	struct admit_opts o = {.max_inflight = 1000, .target_us = 5000, .min_limit = 8};
	admit_init(&a, &o);
	int64_t t = 1000000;
	for (int i = 0; i < 20; i++)
		cr_assert(admit_try(&a, t));
	cr_expect(admit_try(&a, t + 200000));
	cr_expect(!a.limiting);
	cr_expect_eq(admit_limit(&a), 1000);
	cr_expect(!admit_full(&a));
	unsigned before = a.inflight;
	admit_force(&a, t + 200002);
	cr_expect_eq(a.inflight, before + 1);
	admit_done(&a, t, t + 200003);
	cr_expect_eq(a.inflight, before);
	/* the hard cap holds whatever the latency */
	while (a.inflight < 1000)
		admit_force(&a, t + 200004);
	cr_expect(admit_full(&a));
	cr_expect(!admit_try(&a, t + 200005));
	cr_expect_eq(a.refused, 1);
}

/* Latency far above the target while the loop idles (the replicas are the backlog):
 * admit_try() keeps the cap, but the target limit falls to what the node completes
 * within the target, and admit_try_target() refuses past it; it grows back to the
 * cap once the latency is under the target again. */
Test(admit, the_target_limit_applies_whatever_the_loop_load)
{
	struct admit a;
	struct admit_opts o = {.max_inflight = 1000, .target_us = 10000};
	admit_init(&a, &o);
	cr_expect_eq(admit_target_limit(&a), 1000);
	int64_t t = 1000000;
	uint64_t idle = 0;
	/* 5000 completions/s, each after 100 ms, the loop idle 70 % of the time */
	for (int w = 0; w < 10; w++) {
		for (int i = 0; i < 500; i++) {
			int64_t now = t + w * 100000 + i * 200;
			admit_set_idle(&a, idle);
			admit_force(&a, now);
			admit_done(&a, now - 100000, now + 1);
			idle += 140;
		}
	}
	cr_expect(!a.limiting);
	cr_expect_eq(admit_limit(&a), 1000);
	/* 5000/s x 10 ms = 50 */
	cr_expect(admit_target_limit(&a) >= 45 && admit_target_limit(&a) <= 55, "target limit %u",
	          admit_target_limit(&a));
	int64_t now = t + 10 * 100000;
	unsigned ok = 0;
	for (int i = 0; i < 100; i++)
		ok += admit_try_target(&a, now);
	cr_expect_eq(ok, admit_target_limit(&a) - 0u, "admitted %u", ok);
	cr_expect(!admit_try_target(&a, now));
	cr_expect(admit_try(&a, now), "the cap still admits other clients");
	/* fast again: 1 ms each; back to the cap within a few windows */
	for (unsigned k = 0; k < ok + 1; k++)
		admit_done(&a, now - 1000, now);
	for (int w = 0; w < 12; w++) {
		for (int i = 0; i < 50; i++) {
			int64_t n = now + (w + 1) * 100000 + i * 2000;
			cr_assert(admit_try_target(&a, n) || w < 2, "window %d refused", w);
			admit_done(&a, n - 1000, n);
		}
	}
	cr_expect_eq(admit_target_limit(&a), 1000);
}

/* A floor: a node that completes almost nothing still admits min_limit. */
Test(admit, the_target_limit_keeps_its_floor)
{
	struct admit a;
	struct admit_opts o = {.max_inflight = 1000, .target_us = 10000, .min_limit = 32};
	admit_init(&a, &o);
	int64_t t = 1000000;
	for (int w = 0; w < 5; w++) {
		int64_t now = t + w * 100000;
		admit_force(&a, now);
		admit_done(&a, now - 2000000, now + 1);
	}
	cr_expect_eq(admit_target_limit(&a), 32);
}

static int rooms;
static void on_room(void *ctx)
{
	(void)ctx;
	rooms++;
}

/* The byte budget: charges past the bound are refused (the first always fits), the mark is
 * 3/4 of it, and falling under the mark calls on_room once. */
Test(admit, byte_budget_refuses_past_its_bound_and_calls_back_under_its_mark)
{
	struct admit_bytes b = {.max = 1000, .on_room = on_room};
	rooms = 0;
	cr_expect(!admit_bytes_full(&b));
	cr_expect(!admit_bytes_full(NULL), "no budget: never full");
	cr_assert(admit_bytes_charge(&b, 700));
	cr_expect(!admit_bytes_full(&b), "under the mark of 750");
	cr_expect(!admit_bytes_charge(&b, 301), "past the bound");
	cr_expect_eq(b.refused, 1);
	cr_expect_eq(b.used, 700);
	cr_assert(admit_bytes_charge(&b, 300), "exactly the bound fits");
	cr_expect(admit_bytes_full(&b));
	cr_expect(!admit_bytes_charge(&b, 1));
	admit_bytes_release(&b, 200);
	cr_expect_eq(rooms, 0, "800: still at the mark");
	admit_bytes_release(&b, 100);
	cr_expect_eq(rooms, 1, "700: under the mark");
	admit_bytes_release(&b, 100);
	cr_expect_eq(rooms, 1, "called once per crossing");
	admit_bytes_release(&b, 600);
	cr_expect_eq(b.used, 0);
	cr_assert(admit_bytes_charge(&b, 5000),
	          "with nothing held a mutation larger than the bound runs");
	cr_expect(!admit_bytes_charge(&b, 1), "alone");
	admit_bytes_release(&b, 5000);
	cr_expect_eq(rooms, 2);
	struct admit_bytes unbounded = {0};
	cr_expect(admit_bytes_charge(&unbounded, UINT64_MAX / 2));
	cr_expect(admit_bytes_charge(&unbounded, UINT64_MAX / 4));
	cr_expect(!admit_bytes_full(&unbounded));
}
