#include "coordinator/query/query_int.h"

#include "coordinator/query/prepared.h"

#include <stdlib.h>
#include <string.h>

/*
 * A BATCH with statements that read before they write (l[i] = v, DELETE l[i],
 * l = l - [...]: modify_read.c), as Cassandra allows: those statements read one
 * after the other, then every statement is collected in order, each seeing the
 * lists as they were before the batch, and all are written as one batch.
 */
struct batchx {
	uint32_t n, next, cur;
	struct plan **plans;             /* each statement's */
	bool owns_plans;                 /* a protocol BATCH: plans referenced here */
	const struct cql_slice **values; /* each statement's bound values (in q->mem) */
	uint32_t *n_values;
	struct lread **lrs; /* each statement's reads (NULL: none) */
	struct plan *outer; /* q->plan outside the statements (restored at the end) */
	const struct cql_slice *outer_values;
	uint32_t outer_n_values;
	enum cerr_write_type wt;
	bool waiting, in_next;
};

void batchx_free(struct batchx *bx)
{
	if (!bx)
		return;
	for (uint32_t i = 0; i < bx->n; i++) {
		if (bx->lrs)
			lread_free(bx->lrs[i]);
		if (bx->owns_plans && bx->plans && bx->plans[i])
			plan_unref(bx->plans[i]);
	}
	free(bx->plans);
	free(bx->values);
	free(bx->n_values);
	free(bx->lrs);
	free(bx);
}

static struct batchx *batchx_new(struct xq *q, uint32_t n, enum cerr_write_type wt)
{
	struct batchx *bx = calloc(1, sizeof(*bx));
	if (!bx)
		return NULL;
	q->bx = bx;
	bx->n = n;
	bx->wt = wt;
	bx->outer = q->plan;
	bx->outer_values = q->values;
	bx->outer_n_values = q->n_values;
	size_t k = n ? n : 1;
	bx->plans = calloc(k, sizeof(*bx->plans));
	bx->values = calloc(k, sizeof(*bx->values));
	bx->n_values = calloc(k, sizeof(*bx->n_values));
	bx->lrs = calloc(k, sizeof(*bx->lrs));
	return bx->plans && bx->values && bx->n_values && bx->lrs ? bx : NULL;
}

/* Make statement i q's current one. */
static void batchx_use(struct xq *q, uint32_t i)
{
	struct batchx *bx = q->bx;
	q->plan = bx->plans[i];
	q->values = bx->values[i];
	q->n_values = bx->n_values[i];
	q->lr = bx->lrs[i];
}

/* Every read is done: collect the statements in order and write them. */
static void batchx_collect(struct xq *q)
{
	struct batchx *bx = q->bx;
	struct mutset *ms = NULL;
	int rc = q->req->err.code ? q->req->err.code : xq_mutset(q, &ms);
	for (uint32_t i = 0; i < bx->n && !rc; i++) {
		batchx_use(q, i);
		rc = modify_collect(q, ms);
	}
	q->lr = NULL;
	q->plan = bx->outer;
	q->values = bx->outer_values;
	q->n_values = bx->outer_n_values;
	write_start(q, bx->wt);
}

static void batchx_read_next(struct xq *q);

static void batchx_read_done(struct xq *q)
{
	struct batchx *bx = q->bx;
	bx->lrs[bx->cur] = q->lr;
	q->lr = NULL;
	bx->waiting = false;
	if (!bx->in_next)
		batchx_read_next(q);
}

/* Start the reads of the next statement that needs them (reads that complete at once
 * loop here); when none is left, collect. */
static void batchx_read_next(struct xq *q)
{
	struct batchx *bx = q->bx;
	bx->in_next = true;
	while (!q->req->err.code && bx->next < bx->n) {
		uint32_t i = bx->next++;
		if (!modify_needs_read(bx->plans[i]))
			continue;
		batchx_use(q, i);
		struct cerr pr;
		if (router_check(q->ex->d.router, q->plan->table->ks, q->cl, true, &pr)) {
			req_fail_outcome(q->req, &pr);
			break;
		}
		bx->cur = i;
		bx->waiting = true;
		lread_start(q, batchx_read_done);
		if (bx->waiting) {
			bx->in_next = false;
			return; /* batchx_read_done continues */
		}
	}
	bx->in_next = false;
	batchx_collect(q);
}

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
	struct plan *outer = q->plan;
	bool reads = false;
	for (uint32_t i = 0; i < outer->n_children; i++)
		reads = reads || modify_needs_read(outer->children[i]);
	if (!rc && reads) {
		struct batchx *bx =
		        batchx_new(q, outer->n_children, batch_write_type((int)b->type));
		if (!bx) {
			req_fail(req, COL_ENOMEM, "out of memory");
			write_start(q, CERR_WRITE_SIMPLE);
			return;
		}
		for (uint32_t i = 0; i < outer->n_children; i++) {
			bx->plans[i] = outer->children[i];
			bx->values[i] = q->values;
			bx->n_values[i] = q->n_values;
		}
		batchx_read_next(q);
		return;
	}
	struct mutset *ms = NULL;
	if (!rc)
		rc = xq_mutset(q, &ms);
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

/* Check every statement's markers and permissions; *reads: one reads before it writes. */
static int batch_check(struct xq *q, const struct batch_entry *ents, uint16_t n, bool *reads)
{
	int rc = 0;
	*reads = false;
	for (uint16_t i = 0; i < n && !rc; i++) {
		q->plan = ents[i].plan;
		q->values = ents[i].values;
		q->n_values = ents[i].n_values;
		rc = xq_check_binds(q);
		if (!rc)
			rc = access_check_plan(q->ex, q->req, q->plan);
		*reads = *reads || modify_needs_read(q->plan);
	}
	q->plan = NULL;
	q->values = NULL;
	q->n_values = 0;
	return rc;
}

/* Bind every statement and collect its mutations into q's set (one per partition). */
static int batch_collect(struct xq *q, const struct batch_entry *ents, uint16_t n)
{
	struct mutset *ms = NULL;
	int rc = xq_mutset(q, &ms);
	for (uint16_t i = 0; i < n && !rc; i++) {
		/* binding reads the frame's values now: the mutations copy them */
		q->plan = ents[i].plan;
		q->values = ents[i].values;
		q->n_values = ents[i].n_values;
		rc = modify_collect(q, ms);
	}
	q->plan = NULL;
	q->values = NULL;
	q->n_values = 0;
	return rc;
}

/* A copy of n bound values in q->mem (the frame goes away while the batch reads). */
static const struct cql_slice *copy_values(struct xq *q, const struct cql_slice *v, uint32_t n)
{
	struct cql_slice *c = cql_arena_alloc(q->mem, (n ? n : 1) * sizeof(*c));
	for (uint32_t i = 0; c && i < n; i++) {
		c[i] = v[i];
		if (v[i].len > 0) {
			uint8_t *b = cql_arena_alloc(q->mem, (size_t)v[i].len);
			if (!b)
				return NULL;
			memcpy(b, v[i].p, (size_t)v[i].len);
			c[i].p = b;
		}
	}
	return c;
}

/* The batch's statements read before they write: hand them (plans and copied values)
 * to q, whose reads continue after the frame is gone. */
static int batch_with_reads(struct xq *q, struct batch_entry *ents, uint16_t n,
                            enum cerr_write_type wt)
{
	struct batchx *bx = batchx_new(q, n, wt);
	if (!bx)
		return req_fail(q->req, COL_ENOMEM, "out of memory");
	bx->owns_plans = true;
	for (uint16_t i = 0; i < n; i++) {
		bx->plans[i] = ents[i].plan;
		ents[i].plan = NULL;
		bx->n_values[i] = ents[i].n_values;
		bx->values[i] = copy_values(q, ents[i].values, ents[i].n_values);
		if (!bx->values[i])
			return req_fail(q->req, COL_ENOMEM,
			                "out of memory copying the bound values");
	}
	return 0;
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
	bool reads = false;
	if (!rc) {
		if (!q->ts)
			q->ts = exec_now_us(q->ex);
		rc = batch_check(q, ents, n, &reads);
	}
	if (!rc && reads)
		rc = batch_with_reads(q, ents, n, batch_write_type(type));
	else if (!rc)
		batch_collect(q, ents, n);
	for (uint16_t i = 0; ents && i < n; i++)
		if (ents[i].plan)
			plan_unref(ents[i].plan);
	free(ents);
	cql_arena_free(mem);
	if (!q)
		return false;
	if (!rc && reads)
		batchx_read_next(q);
	else
		write_start(q, batch_write_type(type));
	return true;
}
