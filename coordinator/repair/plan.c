/*
 * plan.c — what a session repairs: the (table, range) tasks of its options,
 * from one ring snapshot and one schema snapshot.  Ranges are the ring's
 * (between consecutive tokens) that this node replicates (-pr: those it is
 * the first replica of), cut to (st, et] when given, each with the replicas
 * that take part (-dc / --local keep one datacenter's).
 */
#include "coordinator/repair/repair_int.h"

#include "coordinator/schema/schema.h"
#include "core/array.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Non-wrapping pieces of (a, b]: (lo, hi] with lo < hi. */
static size_t pieces(int64_t a, int64_t b, int64_t out[2][2])
{
	if (a < b) {
		out[0][0] = a, out[0][1] = b;
		return 1;
	}
	size_t n = 0;
	if (a != INT64_MAX)
		out[n][0] = a, out[n][1] = INT64_MAX, n++;
	if (b != INT64_MIN)
		out[n][0] = INT64_MIN, out[n][1] = b, n++;
	return n;
}

/* (a, b] ∩ (c, d] as non-wrapping pieces (at most 4). */
static size_t intersect(int64_t a, int64_t b, int64_t c, int64_t d, int64_t out[4][2])
{
	int64_t x[2][2], y[2][2];
	size_t nx = pieces(a, b, x), ny = pieces(c, d, y), n = 0;
	for (size_t i = 0; i < nx; i++)
		for (size_t j = 0; j < ny; j++) {
			int64_t lo = x[i][0] > y[j][0] ? x[i][0] : y[j][0];
			int64_t hi = x[i][1] < y[j][1] ? x[i][1] : y[j][1];
			if (lo < hi)
				out[n][0] = lo, out[n][1] = hi, n++;
		}
	return n;
}

struct planner {
	struct repair *r;
	struct rsession *s;
	struct ring *ring;
	long self;
	size_t cap;
};

static int add_task(struct planner *p, const struct schema_table *t, int64_t lo, int64_t hi,
                    const uint32_t *reps, size_t n_reps, struct cerr *err)
{
	struct rsession *s = p->s;
	if (ARRAY_GROW(s->tasks, p->cap, s->n_tasks + 1))
		return cerr_set(err, COL_ENOMEM, "repair: out of memory planning the session");
	struct rtask *k = &s->tasks[s->n_tasks];
	memset(k, 0, sizeof(*k));
	memcpy(k->table_id, t->id, 16);
	snprintf(k->ks, sizeof(k->ks), "%s", t->ks->name);
	snprintf(k->table, sizeof(k->table), "%s", t->name);
	k->start = lo;
	k->end = hi;
	k->primary = (long)reps[0] == p->self;
	const char *dc = s->opt.local_dc ? p->r->local_dc : s->opt.dc;
	for (size_t i = 0; i < n_reps && k->n_peers < RING_MAX_RF * 2; i++) {
		const struct ring_node *rn = ring_node_at(p->ring, reps[i]);
		if (dc && dc[0] && strcmp(rn->dc, dc) != 0 && (long)reps[i] != p->self)
			continue;
		struct rpeer *pe = &k->peers[k->n_peers];
		pe->self = (long)reps[i] == p->self;
		pe->ring_idx = reps[i];
		snprintf(pe->name, sizeof(pe->name), "%s", rn->address);
		if (!pe->self && p->r->cfg.addr_of(p->r->cfg.ctx, p->ring, reps[i], &pe->addr))
			return cerr_set(err, COL_EINVAL, "repair: no address for replica %s",
			                rn->address);
		k->n_peers++;
	}
	if (k->n_peers >= 2)
		s->n_tasks++;
	return 0;
}

static int plan_table(struct planner *p, const struct schema_table *t,
                      const struct replication *rep, struct cerr *err)
{
	size_t nt = ring_token_count(p->ring);
	for (size_t i = 0; i < nt; i++) {
		size_t owner;
		int64_t end = ring_token_at(p->ring, i, &owner);
		int64_t start = ring_token_at(p->ring, (i + nt - 1) % nt, &owner);
		uint32_t reps[RING_MAX_RF * RING_MAX_DCS > 256 ? 256 : RING_MAX_RF * RING_MAX_DCS];
		size_t n = ring_replicas(p->ring, rep, end, reps, sizeof(reps) / sizeof(reps[0]));
		bool mine = false;
		for (size_t k = 0; k < n; k++)
			mine |= (long)reps[k] == p->self;
		if (!mine || (p->s->opt.primary_only && (long)reps[0] != p->self))
			continue;
		int64_t cut[4][2];
		size_t nc;
		if (p->s->opt.has_range) {
			nc = intersect(start, end, p->s->opt.st, p->s->opt.et, cut);
		} else {
			cut[0][0] = start, cut[0][1] = end;
			nc = 1;
		}
		for (size_t c = 0; c < nc; c++) {
			int rc = add_task(p, t, cut[c][0], cut[c][1], reps, n, err);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static bool table_wanted(const struct repair_options *o, const char *name)
{
	if (!o->n_tables)
		return true;
	for (size_t i = 0; i < o->n_tables; i++)
		if (strcmp(o->tables[i], name) == 0)
			return true;
	return false;
}

static int plan_keyspace(struct planner *p, const struct schema_keyspace *ks, struct cerr *err)
{
	struct replication rep;
	struct cerr e = {0};
	if (replication_parse((const char *const *)ks->repl_keys,
	                      (const char *const *)ks->repl_vals, ks->n_repl, &rep, &e))
		return cerr_set(err, COL_EINVAL, "keyspace '%s': %s", ks->name, e.msg);
	if (rep.cls == REPL_LOCAL)
		return 0;
	for (uint32_t i = 0; i < ks->n_tables; i++) {
		const struct schema_table *t = ks->tables[i];
		if (t->virtual_ || !table_wanted(&p->s->opt, t->name))
			continue;
		int rc = plan_table(p, t, &rep, err);
		if (rc)
			return rc;
	}
	return 0;
}

static int check_tables(const struct repair_options *o, const struct schema_keyspace *ks,
                        struct cerr *err)
{
	for (size_t i = 0; i < o->n_tables; i++)
		if (!schema_keyspace_table(ks, o->tables[i]))
			return cerr_set(err, COL_EINVAL, "unknown table '%s' in keyspace '%s'",
			                o->tables[i], ks->name);
	return 0;
}

int session_plan(struct repair *r, struct rsession *s, struct cerr *err)
{
	struct planner p = {.r = r, .s = s};
	p.ring = r->cfg.ring(r->cfg.ctx);
	if (!p.ring)
		return cerr_set(err, COL_EUNAVAILABLE, "repair: the ring is not known yet");
	p.self = ring_find_host(p.ring, r->cfg.host_id);
	const struct schema_snap *snap = schema_current_ref(r->cfg.schema);
	int rc = 0;
	if (p.self < 0)
		rc = cerr_set(err, COL_EUNAVAILABLE, "repair: this node is not in the ring yet");
	else if (s->opt.keyspace) {
		const struct schema_keyspace *ks = schema_snap_keyspace(snap, s->opt.keyspace);
		if (!ks)
			rc = cerr_set(err, COL_EINVAL, "unknown keyspace '%s'", s->opt.keyspace);
		else if (ks->virtual_ || schema_is_system_keyspace(ks->name))
			rc = cerr_set(err, COL_EINVAL,
			              "keyspace '%s' is local to each node: nothing "
			              "to repair",
			              ks->name);
		else if (!(rc = check_tables(&s->opt, ks, err)))
			rc = plan_keyspace(&p, ks, err);
	} else {
		for (uint32_t i = 0; i < snap->n_keyspaces && !rc; i++) {
			const struct schema_keyspace *ks = snap->keyspaces[i];
			if (!ks->virtual_ && !schema_is_system_keyspace(ks->name))
				rc = plan_keyspace(&p, ks, err);
		}
	}
	schema_snap_unref(r->cfg.schema, snap);
	s->ring = p.ring; /* liveness is asked of the snapshot the plan was made from */
	return rc;
}
