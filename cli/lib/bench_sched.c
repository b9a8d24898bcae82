/*
 * bench_sched.c — the open-loop timetable, the op mix, and what a consistency
 * level needs.
 *
 * The timetable is what makes the latency honest.  A closed-loop generator
 * sends the next request only when an earlier one returns, so while the
 * server stalls it sends nothing, and the stall is recorded once (one slow
 * request) instead of for every request that *should* have been sent during
 * it — Gil Tene's "coordinated omission".  Here op i is due at a fixed time,
 * start + i/rate; when it is finally sent late, its latency still counts from
 * when it was due.
 */
#include "cli/lib/bench_int.h"

#include "core/cqlproto.h"

int64_t bench_sched_due(const struct bench_sched *s, uint64_t i)
{
	/* i * 10^6 overflows only past 1.8e13 ops: 5 years at 100k ops/s. */
	return s->start_us + (int64_t)(i * 1000000ull / s->rate);
}

uint64_t bench_sched_due_count(const struct bench_sched *s, int64_t now)
{
	if (now < s->start_us)
		return 0;
	/* due(i) <= now  <=>  floor(i*10^6/rate) <= d  <=>  i*10^6 < (d+1)*rate,
	 * so the count is ceil((d+1) * rate / 10^6). */
	uint64_t d = (uint64_t)(now - s->start_us);
	return ((d + 1) * s->rate + 999999) / 1000000;
}

enum bench_op bench_mix_pick(const struct bench_mix *m, double u)
{
	unsigned sum = 0;
	for (int i = 0; i < BOP__N; i++)
		sum += m->w[i];
	double x = u * sum, acc = 0;
	int last = 0;
	for (int i = 0; i < BOP__N; i++) {
		if (!m->w[i])
			continue;
		last = i;
		acc += m->w[i];
		if (x < acc)
			return (enum bench_op)i;
	}
	return (enum bench_op)last;
}

int bench_cl_required(uint16_t cl, int rf)
{
	if (rf < 1)
		return -1;
	/* rf is the total over datacenters: counted as one datacenter holding them all */
	struct replication rep = {.cls = REPL_SIMPLE, .rf = rf};
	return cl_block_for(cl, &rep, "");
}
