/*
 * repair.c — the repair room's face: life cycle, starting, watching and
 * cancelling sessions, metrics, and the background scheduler that repairs
 * this node's primary ranges of every table once per repair_interval,
 * ranges hinted handoff recorded as missed first.
 */
#include "coordinator/repair/repair_int.h"

#include "coordinator/hints/hints.h"
#include "core/log.h"
#include "gossip/messaging.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int repair_new(const struct repair_config *cfg, struct repair **out, struct cerr *err)
{
	struct repair *r = calloc(1, sizeof(*r));
	if (!r)
		return cerr_set(err, COL_ENOMEM, "repair: out of memory");
	r->cfg = *cfg;
	if (!r->cfg.timeout_ms)
		r->cfg.timeout_ms = 30000;
	if (!r->cfg.max_table_ages || r->cfg.max_table_ages > REPAIR_MAX_TABLE_AGES)
		r->cfg.max_table_ages = REPAIR_MAX_TABLE_AGES;
	snprintf(r->local_dc, sizeof(r->local_dc), "%s", cfg->local_dc ? cfg->local_dc : "");
	r->cfg.local_dc = r->local_dc;
	atomic_store(&r->throttle_bytes_per_s, cfg->throttle_bytes_per_s);
	r->next_id = 1;
	history_init(r);
	int rc = worker_start(r, err);
	if (!rc && (rc = replica_register(r, err)) != 0)
		worker_stop(r);
	if (rc) {
		free(r);
		return rc;
	}
	scheduler_start(r);
	*out = r;
	return 0;
}

void repair_stop(struct repair *r)
{
	if (!r || r->stopped)
		return;
	r->stopped = true;
	scheduler_stop(r);
	replica_unregister(r);
}

void repair_free(struct repair *r)
{
	if (!r)
		return;
	repair_stop(r);
	worker_stop(r); /* sets stopping: late answers free themselves */
	if (r->running) {
		r->running->state = RS_CANCELLED;
		r->running->next = r->kept;
		r->kept = r->running;
		r->running = NULL;
	}
	while (r->kept) {
		struct rsession *n = r->kept->next;
		r->kept->inflight = 0; /* messaging is gone: no answer will come */
		r->kept->orphaned = false;
		session_free(r->kept);
		r->kept = n;
	}
	free(r);
}

void session_finished(struct repair *r, struct rsession *s)
{
	log_info("repair",
	         "session %lu %s: %zu of %zu ranges repaired, %zu failed, %lu leaves differing, "
	         "%lu bytes streamed in %ld ms",
	         (unsigned long)s->id, s->state == RS_CANCELLED ? "cancelled" : "finished",
	         s->done - s->failed, s->n_tasks, s->failed, (unsigned long)s->leaves_differing,
	         (unsigned long)s->bytes, (long)(s->finished_ms - s->started_ms));
	if (r->running == s)
		r->running = NULL;
	if (s->opt.background && !s->failed && s->state == RS_DONE) {
		if (r->sched_hinted)
			scheduler_hints_repaired(r, s);
		scheduler_compact(r, s);
	}
	s->next = r->kept;
	r->kept = s;
	size_t n = 0;
	for (struct rsession **p = &r->kept; *p;) {
		if (++n > REPAIR_KEEP_SESSIONS) {
			struct rsession *old = *p;
			*p = old->next;
			session_free(old);
			continue;
		}
		p = &(*p)->next;
	}
}

/* Keep the tasks prio gives > 0, higher priorities first (stable). */
static void order_tasks(struct repair *r, struct rsession *s,
                        int (*prio)(struct repair *, struct rsession *, struct rtask *))
{
	size_t n = 0;
	int *p = calloc(s->n_tasks ? s->n_tasks : 1, sizeof(int));
	if (!p) {
		s->n_tasks = 0;
		return;
	}
	int maxp = 0;
	for (size_t i = 0; i < s->n_tasks; i++) {
		p[i] = prio(r, s, &s->tasks[i]);
		maxp = p[i] > maxp ? p[i] : maxp;
	}
	for (int level = maxp; level > 0; level--)
		for (size_t i = 0; i < s->n_tasks; i++)
			if (p[i] == level) {
				struct rtask t = s->tasks[i]; /* swapped forward: order within a
				                               * level is not kept */
				s->tasks[i] = s->tasks[n];
				s->tasks[n] = t;
				int tp = p[i];
				p[i] = p[n];
				p[n] = tp;
				n++;
			}
	s->n_tasks = n;
	free(p);
}

int repair_start_session(struct repair *r, const struct repair_options *o,
                         int (*prio)(struct repair *, struct rsession *, struct rtask *),
                         uint64_t *id, struct cerr *err)
{
	if (r->running)
		return cerr_set(err, COL_EAGAIN, "repair session %lu is running: one at a time",
		                (unsigned long)r->running->id);
	if (o->has_range && o->st == o->et)
		return cerr_set(err, COL_EINVAL, "-st and -et are the same token: an empty range");
	struct rsession *s = session_new(r, o);
	if (!s)
		return cerr_set(err, COL_ENOMEM, "repair: out of memory");
	int rc = session_plan(r, s, err);
	if (!rc && prio) /* the scheduler's choice and order */
		order_tasks(r, s, prio);
	if (!rc && ((o->background && s->n_tasks == 0) || o->plan_only))
		rc = 1; /* nothing due */
	if (rc) {
		session_free(s);
		return rc;
	}
	s->id = r->next_id++;
	r->running = s;
	r->stats.sessions++;
	log_info("repair", "session %lu: %zu ranges of %s%s%s", (unsigned long)s->id, s->n_tasks,
	         o->keyspace ? o->keyspace : "every keyspace", o->preview ? " (preview)" : "",
	         o->background ? " (background)" : "");
	session_begin(s);
	*id = s->id;
	return 0;
}

int repair_start(struct repair *r, const struct repair_options *o, uint64_t *id, struct cerr *err)
{
	return repair_start_session(r, o, NULL, id, err);
}

static void compact_done(struct repair *r, struct rjob *j)
{
	struct repair_compactions *c = &r->stats.compactions;
	const struct store_table *t = j->rc ? store_table_find(r->cfg.store, j->table_id) : NULL;
	const struct store_table_desc *d = t ? store_table_desc(t) : NULL;
	pthread_mutex_lock(&r->mu);
	if (j->ticket > c->finished_through)
		c->finished_through = j->ticket;
	if (j->rc) {
		c->failed++;
		c->last_failed = j->ticket;
		snprintf(c->last_error, sizeof(c->last_error), "%s%s%s: %.*s", d ? d->keyspace : "",
		         d ? "." : "", d ? d->name : "a dropped table", 300, j->err.msg);
	}
	pthread_mutex_unlock(&r->mu);
	rjob_free(j);
}

int repair_compact(struct repair *r, const uint8_t table_id[16], uint64_t *ticket)
{
	if (!store_table_find(r->cfg.store, table_id))
		return COL_ENOTFOUND;
	struct rjob *j = rjob_new(RJOB_COMPACT);
	if (!j)
		return COL_ENOMEM;
	memcpy(j->table_id, table_id, 16);
	j->done = compact_done;
	/* Tickets are given on the loop, in the order of the worker's queue. */
	pthread_mutex_lock(&r->mu);
	j->ticket = r->stats.compactions.queued + 1;
	pthread_mutex_unlock(&r->mu);
	int rc = worker_submit(r, j);
	if (rc) {
		rjob_free(j);
		return rc;
	}
	pthread_mutex_lock(&r->mu);
	r->stats.compactions.queued = j->ticket;
	pthread_mutex_unlock(&r->mu);
	if (ticket)
		*ticket = j->ticket;
	return 0;
}

void repair_compactions(struct repair *r, struct repair_compactions *out)
{
	pthread_mutex_lock(&r->mu);
	*out = r->stats.compactions;
	pthread_mutex_unlock(&r->mu);
}

static struct rsession *find(struct repair *r, uint64_t id)
{
	if (r->running && (id == 0 || r->running->id == id))
		return r->running;
	for (struct rsession *s = r->kept; s; s = s->next)
		if (id == 0 || s->id == id)
			return s;
	return NULL;
}

int repair_cancel(struct repair *r, uint64_t id)
{
	if (!r->running || (id && r->running->id != id))
		return COL_ENOTFOUND;
	r->running->cancel = true;
	return 0;
}

int repair_status_json(struct repair *r, uint64_t id, struct jw *w)
{
	struct rsession *s = find(r, id);
	if (!s)
		return COL_ENOTFOUND;
	session_json(s, w);
	return 0;
}

void repair_sessions_json(struct repair *r, struct jw *w)
{
	jw_arr(w);
	if (r->running)
		session_json(r->running, w);
	for (struct rsession *s = r->kept; s; s = s->next)
		session_json(s, w);
	jw_arr_end(w);
}

void repair_metrics(struct repair *r, struct buf *b)
{
	struct repair_stats st;
	pthread_mutex_lock(&r->mu);
	st = r->stats;
	pthread_mutex_unlock(&r->mu);
	const struct {
		const char *name;
		uint64_t value;
	} counters[] = {
	        {"colonnade_repair_sessions_total", st.sessions},
	        {"colonnade_repair_ranges_repaired_total", st.ranges_ok},
	        {"colonnade_repair_ranges_failed_total", st.ranges_failed},
	        {"colonnade_repair_bytes_streamed_total", st.bytes_streamed},
	        {"colonnade_repair_leaves_differing_total", st.leaves_differing},
	        {"colonnade_repair_trees_built_total", st.trees_built},
	        {"colonnade_repair_tree_partitions_total", st.tree_partitions},
	        {"colonnade_repair_tree_bytes_total", st.tree_bytes},
	        {"colonnade_repair_requests_refused_total", st.requests_refused},
	        {"colonnade_repair_compactions_total", st.compactions.finished_through},
	        {"colonnade_repair_compactions_failed_total", st.compactions.failed},
	};
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		buf_printf(b, "# TYPE %s counter\n%s %lu\n", counters[i].name, counters[i].name,
		           (unsigned long)counters[i].value);
	buf_printf(b,
	           "# TYPE colonnade_repair_tree_seconds_total counter\n"
	           "colonnade_repair_tree_seconds_total %.6f\n",
	           (double)st.tree_us / 1e6);
	buf_printf(b, "# TYPE colonnade_repair_running gauge\ncolonnade_repair_running %d\n",
	           r->running ? 1 : 0);
	buf_printf(b,
	           "# TYPE colonnade_repair_compactions_pending gauge\n"
	           "colonnade_repair_compactions_pending %lu\n",
	           (unsigned long)(st.compactions.queued - st.compactions.finished_through));
	scheduler_metrics(r, b);
}
