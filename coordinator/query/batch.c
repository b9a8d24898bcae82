#include "coordinator/query/query_int.h"

#include "coordinator/query/prepared.h"

#include <stdlib.h>

/*
 * A batch's write type: BATCH for a LOGGED batch (the router sends one of
 * several partitions through the batchlog), UNLOGGED_BATCH otherwise;
 * write_start makes either SIMPLE when the batch touches one partition, as
 * Cassandra does (one mutation, atomic on each replica, no batchlog).
 */
static enum cerr_write_type batch_write_type(int type)
{
	return type == CQL_BATCH_UNLOGGED ? CERR_WRITE_UNLOGGED_BATCH : CERR_WRITE_BATCH;
}

void batch_stmt_run(struct xq *q)
{
	struct exec_req *req = q->req;
	const struct cql_batch *b = &q->plan->stmt->batch;
	int rc = 0;
	if ((int)b->type == CQL_BATCH_COUNTER)
		rc = req_fail(req, COL_EINVAL, "Counter batches are not supported");
	else if (b->using.timestamp)
		rc = term_int64(q, b->using.timestamp, true, &q->ts, "[timestamp]");
	struct mutset *ms = NULL;
	if (!rc)
		rc = xq_mutset(q, &ms);
	struct plan *outer = q->plan;
	for (uint32_t i = 0; i < outer->n_children && !rc; i++) {
		q->plan = outer->children[i];
		rc = modify_collect(q, ms);
	}
	q->plan = outer;
	write_start(q, batch_write_type((int)b->type));
}

/* One statement of a BATCH message: its plan (referenced) and its bound values
 * (pointing into the frame, which stays while the mutations are collected). */
struct batch_entry {
	struct plan *plan;
	struct cql_slice *values;
	uint16_t n_values;
};

/* The plan of a statement given by kind 0 (text) or 1 (prepared id).  A
 * truncated body leaves e->plan NULL and r latched, for the caller to report. */
static int batch_entry_plan(struct executor *ex, struct exec_req *req, struct bufreader *r,
                            struct batch_entry *e)
{
	uint8_t kind = cql_get_byte(r);
	if (kind > 1 && bufreader_ok(r))
		return req_fail(req, COL_EPROTO,
		                "Invalid query kind in BATCH messages. Must be 0 or 1 but got %u",
		                kind);
	struct cql_slice s = kind == 0 ? cql_get_long_string(r) : cql_get_short_bytes(r);
	if (!bufreader_ok(r))
		return 0;
	if (kind == 0)
		return plan_build(ex, req, (const char *)s.p, (size_t)s.len, &e->plan);
	prepared_cache_lock(ex->d.prepared);
	struct prepared_stmt *ps = prepared_cache_get(ex->d.prepared, s.p, (size_t)s.len);
	struct plan *p;
	int rc = ps ? prepared_plan(ex, req, ps, &p) : unprepared(req, &s);
	if (!rc)
		e->plan = plan_ref(p);
	prepared_cache_unlock(ex->d.prepared);
	return rc;
}

/* One statement of a BATCH message: plan, then values (spec §4.1.7). */
static int batch_entry_read(struct executor *ex, struct exec_req *req, struct bufreader *r,
                            struct cql_arena *mem, struct batch_entry *e)
{
	int rc = batch_entry_plan(ex, req, r, e);
	if (rc || !e->plan)
		return rc;
	uint16_t nv = cql_get_short(r);
	e->n_values = nv;
	e->values = cql_arena_alloc(mem, (nv ? nv : 1) * sizeof(struct cql_slice));
	if (!e->values)
		return req_fail(req, COL_ENOMEM, "out of memory");
	for (uint16_t j = 0; j < nv; j++)
		e->values[j] = cql_get_value(r);
	if (!bufreader_ok(r))
		return 0;
	int k = e->plan->stmt->kind;
	if (k != CQL_STMT_INSERT && k != CQL_STMT_UPDATE && k != CQL_STMT_DELETE)
		return req_fail(req, COL_EINVAL,
		                "Invalid statement in batch: only UPDATE, INSERT and DELETE "
		                "statements are allowed.");
	return 0;
}

/* What follows the statements: consistency, flags, and the timestamp if flagged. */
static int batch_params(struct exec_req *req, struct bufreader *r, struct cql_query_params *qp)
{
	uint16_t cl = cql_get_short(r);
	uint8_t flags = cql_get_byte(r);
	int64_t ts = INT64_MIN;
	if (flags & CQL_QF_SERIAL_CONSISTENCY)
		(void)cql_get_short(r);
	if (flags & CQL_QF_DEFAULT_TIMESTAMP)
		ts = cql_get_long(r);
	if (!bufreader_ok(r))
		return req_fail(req, COL_EPROTO, "malformed BATCH message: truncated");
	if (flags & CQL_QF_NAMES_FOR_VALUES)
		return req_fail(req, COL_EPROTO,
		                "Named values in BATCH are not supported (the protocol spec says "
		                "the flag is broken)");
	if (!cql_consistency_name(cl))
		return req_fail(req, COL_EPROTO, "unknown consistency level 0x%04x", cl);
	*qp = (struct cql_query_params){.consistency = cl, .timestamp = ts, .page_size = -1};
	qp->paging_state.len = -1;
	return 0;
}

/* Bind every statement and collect its mutations into q's set (one per partition). */
static int batch_collect(struct xq *q, const struct batch_entry *ents, uint16_t n)
{
	if (!q->ts)
		q->ts = exec_now_us(q->ex);
	struct mutset *ms = NULL;
	int rc = xq_mutset(q, &ms);
	for (uint16_t i = 0; i < n && !rc; i++) {
		/* binding reads the frame's values now: the mutations copy them */
		q->plan = ents[i].plan;
		q->values = ents[i].values;
		q->n_values = ents[i].n_values;
		rc = xq_check_binds(q);
		if (!rc)
			rc = access_check_plan(q->ex, q->req, q->plan);
		if (!rc)
			rc = modify_collect(q, ms);
	}
	q->plan = NULL;
	q->values = NULL;
	q->n_values = 0;
	return rc;
}

/*
 * BATCH (spec §4.1.7): every statement is bound and turned into mutations while
 * the frame is here (one mutation per partition, statements on the same
 * partition merged), then all are written with one consistency level.
 */
bool exec_msg_batch(struct executor *ex, struct exec_req *req, struct bufreader *r)
{
	uint8_t type = cql_get_byte(r);
	uint16_t n = cql_get_short(r);
	if (!bufreader_ok(r)) {
		req_fail(req, COL_EPROTO, "malformed BATCH message: truncated header");
		return false;
	}
	if (type > CQL_BATCH_COUNTER) {
		req_fail(req, COL_EPROTO, "Invalid BATCH type %u", type);
		return false;
	}
	if (type == CQL_BATCH_COUNTER) {
		req_fail(req, COL_EINVAL, "Counter batches are not supported");
		return false;
	}
	struct batch_entry *ents = calloc(n ? n : 1, sizeof(*ents));
	struct cql_arena *mem = cql_arena_new();
	int rc = ents && mem ? 0 : req_fail(req, COL_ENOMEM, "out of memory");
	for (uint16_t i = 0; i < n && !rc && bufreader_ok(r); i++)
		rc = batch_entry_read(ex, req, r, mem, &ents[i]);
	struct cql_query_params qp;
	if (!rc)
		rc = batch_params(req, r, &qp);
	struct xq *q = NULL;
	if (!rc)
		rc = xq_new(ex, req, NULL, &qp, &q);
	if (!rc)
		batch_collect(q, ents, n);
	for (uint16_t i = 0; ents && i < n; i++)
		if (ents[i].plan)
			plan_unref(ents[i].plan);
	free(ents);
	cql_arena_free(mem);
	if (!q)
		return false;
	write_start(q, batch_write_type(type));
	return true;
}
