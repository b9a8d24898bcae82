/*
 * scheduler.c — continuous background repair.  Every tick (a tenth of
 * repair_interval, 1 s to 60 s) with no session running, the scheduler plans
 * this node's primary ranges of every table and starts a background session
 * over those due: last repaired longer than 0.9 x repair_interval ago — or
 * half the table's gc_grace_seconds when that is sooner (at least 10 s), so
 * no table waits past its gc_grace for repair.  A range never repaired counts
 * from when this node first planned its table, as old as the table's schema
 * timestamp then: a new table is not repaired (nor fully compacted) while it
 * is being loaded, but one that a new or replacing node learns is old, due at
 * once.
 * Ranges hinted handoff recorded as missed go first, primary or not (any
 * range this node replicates), and their records are cleared once a session
 * repaired them without failure.  Each node repairs only its primary ranges,
 * so the cluster repairs every range once per interval without two nodes
 * repairing the same one.  The last-repaired rows are in the store, so a
 * restarted node resumes with the ranges it had not reached.  Sessions run
 * one at a time and are throttled like any other (repair_throttle).
 *
 * The tick also measures, per table, the age of its oldest unrepaired range
 * (metric) and warns once per table when it passes gc_grace_seconds — also
 * with background repair off (repair_interval 0), every 10 s.  After a
 * background session without failure, each of its tables gets a full
 * compaction on the worker (at most once per interval), in which every kind
 * of tombstone that tombstone_gc allows is purged.
 */
#include "coordinator/repair/repair_int.h"

#include "coordinator/hints/hints.h"
#include "coordinator/schema/schema.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HINT_RANGES 1024

struct hrange {
	uint8_t host[16];
	int64_t start, end;
};

struct tick {
	struct hrange h[MAX_HINT_RANGES];
	size_t n_h;
	const struct schema_snap *snap;
	int64_t now_ms;
};

static int collect_hint(void *ctx, const struct hints_range *hr)
{
	struct tick *t = ctx;
	if (t->n_h < MAX_HINT_RANGES) {
		memcpy(t->h[t->n_h].host, hr->host_id, 16);
		t->h[t->n_h].start = hr->start;
		t->h[t->n_h].end = hr->end;
		t->n_h++;
	}
	return 0;
}

static bool overlaps(int64_t a, int64_t b, int64_t c, int64_t d)
{
	/* two ranges (a, b] and (c, d] overlap when either holds the other's end
	 * or they are the same whole ring */
	return merkle_range_contains(a, b, d) || merkle_range_contains(c, d, b);
}

static struct repair_table_age *age_slot(struct repair *r, const struct rtask *k)
{
	for (size_t i = 0; i < r->n_ages; i++)
		if (memcmp(r->ages[i].id, k->table_id, 16) == 0)
			return &r->ages[i];
	if (r->n_ages == r->cfg.max_table_ages)
		return NULL;
	struct repair_table_age *a = &r->ages[r->n_ages++];
	memset(a, 0, sizeof(*a));
	memcpy(a->id, k->table_id, 16);
	snprintf(a->ks, sizeof(a->ks), "%s", k->ks);
	snprintf(a->table, sizeof(a->table), "%s", k->table);
	return a;
}

/* Free the slots of tables no longer in the schema (DROP TABLE, DROP KEYSPACE, here or
 * merged), keeping the others in order: the slots are bounded, and a table id is never
 * reused, so a dropped table's slot would otherwise be lost for good (and its age would
 * stay in the metric). */
static void forget_dropped_ages(struct repair *r)
{
	const struct schema_snap *snap = schema_current_ref(r->cfg.schema);
	size_t kept = 0;
	for (size_t i = 0; i < r->n_ages; i++)
		if (schema_snap_table_by_id(snap, r->ages[i].id))
			r->ages[kept++] = r->ages[i];
	r->n_ages = kept;
	schema_snap_unref(r->cfg.schema, snap);
}

/* Since when a never-repaired range of k's table counts (history_first_planned). */
static int64_t never_repaired_since(struct repair *r, struct repair_table_age *a,
                                    const struct rtask *k, const struct schema_table *st)
{
	if (!st)
		return r->tick->now_ms;
	if (a && a->first_ms)
		return a->first_ms;
	int64_t table_ms = st->timestamp / 1000;
	int64_t first = history_first_planned(r, k->table_id, table_ms > 0 ? table_ms : 1);
	if (a)
		a->first_ms = first;
	return first;
}

/* Priority of a planned task: 0 not due, 1 due, 2 due and hinted. */
static int task_priority(struct repair *r, struct rsession *s, struct rtask *k)
{
	(void)s;
	struct tick *t = r->tick;
	int64_t last = history_last_repaired(r, k->table_id, k->start, k->end);
	const struct schema_table *st = schema_snap_table(t->snap, k->ks, k->table);
	struct repair_table_age *a = k->primary ? age_slot(r, k) : NULL;
	int64_t since = last ? last : never_repaired_since(r, a, k, st);
	if (a) {
		int64_t age = t->now_ms - since;
		if (age > a->oldest_ms)
			a->oldest_ms = age;
		a->gc_grace_s = st ? st->gc_grace_seconds : 0;
	}
	for (size_t i = 0; i < t->n_h; i++)
		if (overlaps(k->start, k->end, t->h[i].start, t->h[i].end))
			return 2;
	if (!k->primary)
		return 0;
	/* due after 0.9 x the interval, or half the table's gc_grace if that is sooner (at
	 * least 10 s apart), so every range is repaired well within gc_grace */
	int64_t every = r->cfg.interval_ms * 9 / 10;
	if (st) {
		int64_t half_gc = (int64_t)st->gc_grace_seconds * 500;
		if (half_gc < 10000)
			half_gc = 10000;
		if (half_gc < every)
			every = half_gc;
	}
	return t->now_ms - since >= every ? 1 : 0;
}

static void warn_past_gc(struct repair *r)
{
	for (size_t i = 0; i < r->n_ages; i++) {
		struct repair_table_age *a = &r->ages[i];
		bool past = a->oldest_ms > (int64_t)a->gc_grace_s * 1000;
		if (past && !a->warned)
			log_warn("repair",
			         "table %s.%s has a range not repaired for %ld s, over its "
			         "gc_grace_seconds (%d): its tombstones past gc_grace are kept "
			         "until it is",
			         a->ks, a->table, (long)(a->oldest_ms / 1000), a->gc_grace_s);
		a->warned = past;
	}
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	struct repair *r = w->data;
	history_forget_dropped(r);
	forget_dropped_ages(r);
	if (r->running)
		return;
	struct tick *t = calloc(1, sizeof(*t));
	if (!t)
		return;
	struct cerr err = {0};
	hints_ranges(r->cfg.store, collect_hint, t, &err);
	t->snap = schema_current_ref(r->cfg.schema);
	t->now_ms = repair_now_ms();
	r->tick = t;
	for (size_t i = 0; i < r->n_ages; i++)
		r->ages[i].oldest_ms = 0;
	/* with repair_interval 0 the plan only measures ages (warnings, metric) */
	struct repair_options o = {.primary_only = t->n_h == 0, /* with hints: every range we
	                                                         * replicate, hinted ones kept */
	                           .background = true,
	                           .plan_only = r->cfg.interval_ms <= 0};
	uint64_t id;
	int rc = repair_start_session(r, &o, task_priority, &id, &err);
	r->tick = NULL;
	warn_past_gc(r);
	if (rc == 0) {
		r->sched_hinted = t->n_h > 0;
		r->sched_hints = t->n_h;
	} else if (rc < 0 && rc != COL_EUNAVAILABLE) {
		log_warn("repair", "background repair not started: %s", err.msg);
	}
	schema_snap_unref(r->cfg.schema, t->snap);
	free(t);
}

/*
 * A background session that started with hint ranges finished without
 * failure: a recorded range is repaired when the session repaired exactly
 * that ring range (hinted handoff records ring ranges, the plan's tasks are
 * ring ranges); the others stay for a session that does.
 */
void scheduler_hints_repaired(struct repair *r, const struct rsession *s)
{
	struct tick *t = calloc(1, sizeof(*t));
	struct cerr err = {0};
	if (!t)
		return;
	hints_ranges(r->cfg.store, collect_hint, t, &err);
	for (size_t i = 0; i < t->n_h; i++) {
		bool done = false;
		for (size_t k = 0; k < s->n_tasks && !done; k++)
			done = s->tasks[k].start == t->h[i].start && s->tasks[k].end == t->h[i].end;
		if (done)
			hints_range_clear(r->cfg.store, t->h[i].host, t->h[i].start, t->h[i].end,
			                  &err);
	}
	r->sched_hinted = false;
	free(t);
}

/* Each table of a clean background session: a full compaction, at most once per interval. */
void scheduler_compact(struct repair *r, const struct rsession *s)
{
	int64_t now = repair_now_ms();
	for (size_t i = 0; i < s->n_tasks; i++) {
		struct repair_table_age *a = age_slot(r, &s->tasks[i]);
		if (!a || now - a->compacted_ms < r->cfg.interval_ms * 9 / 10)
			continue;
		if (repair_compact(r, s->tasks[i].table_id, NULL) == 0)
			a->compacted_ms = now;
	}
}

void scheduler_start(struct repair *r)
{
	if (!r->cfg.schema)
		return;
	/* a tenth of the interval, 1 s to 60 s; without background repair every 10 s, to
	 * watch the ages against gc_grace */
	double every = r->cfg.interval_ms > 0 ? (double)r->cfg.interval_ms / 10000. : 10.;
	every = every < 1. ? 1. : every > 60. ? 60. : every;
	ev_timer_init(&r->sched, on_tick, every, every);
	r->sched.data = r;
	ev_timer_start(r->cfg.loop, &r->sched);
}

void scheduler_stop(struct repair *r)
{
	ev_timer_stop(r->cfg.loop, &r->sched);
}

void scheduler_metrics(struct repair *r, struct buf *b)
{
	buf_printf(b, "# TYPE colonnade_repair_oldest_unrepaired_seconds gauge\n");
	for (size_t i = 0; i < r->n_ages; i++)
		buf_printf(b,
		           "colonnade_repair_oldest_unrepaired_seconds{keyspace=\"%s\",table=\"%"
		           "s\"} %ld\n",
		           r->ages[i].ks, r->ages[i].table, (long)(r->ages[i].oldest_ms / 1000));
	size_t past = 0;
	for (size_t i = 0; i < r->n_ages; i++)
		past += r->ages[i].warned;
	buf_printf(b,
	           "# TYPE colonnade_repair_tables_past_gc_grace gauge\n"
	           "colonnade_repair_tables_past_gc_grace %zu\n",
	           past);
}
