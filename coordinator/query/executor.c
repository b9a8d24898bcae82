#include "coordinator/query/query_int.h"

#include "core/clock.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const uint8_t exec_empty_value[1];

static void exec_run(struct executor *ex, struct exec_req *req);
static void run_text(struct executor *ex, struct exec_session *s, const char *cql,
                     struct exec_req *req);

int64_t exec_now_us(struct executor *ex)
{
	/* Strictly increasing, so two writes of one session never tie. */
	int64_t now = clock_wall_us();
	if (now <= ex->last_ts)
		now = ex->last_ts + 1;
	ex->last_ts = now;
	return now;
}

static struct cql_arena *arena_get(struct executor *ex)
{
	return ex->n_spare ? ex->spare[--ex->n_spare] : cql_arena_new();
}

/* A request's arena, emptied, for the next one (a few kept, the rest freed). */
static void arena_put(struct executor *ex, struct cql_arena *a)
{
	if (!a)
		return;
	if (ex->n_spare == EXEC_SPARE_ARENAS) {
		cql_arena_free(a);
		return;
	}
	cql_arena_reset(a);
	ex->spare[ex->n_spare++] = a;
}

/* Free q's state (not the request). */
static void xq_release(struct xq *q)
{
	struct executor *ex = q->ex;
	selx_put(ex, q->sel);
	mutset_free(q->ms);
	lread_free(q->lr);
	batchx_free(q->bx);
	if (q->plan)
		plan_unref(q->plan);
	if (q->snap)
		schema_snap_unref(ex->d.schema, q->snap);
	arena_put(ex, q->mem);
	free(q);
}

/* Free q and hand the answer back (req->done), exactly once per request. */
void xq_finish(struct xq *q)
{
	struct exec_req *req = q->req;
	struct executor *ex = q->ex;
	xq_release(q);
	if (req->err.code)
		buf_reset(&req->body_out);
	/* A DDL's answer waits for the cluster's schema agreement (schema_sync.h). */
	if (!req->err.code && req->done && ex->d.ddl_wait && req->body_out.len >= 4 &&
	    be32_load(req->body_out.data) == CQL_RESULT_SCHEMA_CHANGE) {
		ex->d.ddl_wait(ex->d.ddl_ctx, req);
		return;
	}
	if (req->done)
		req->done(req);
}

/* Copy the bound values into q->values in marker order: positional, or resolved
 * by name (query flag 0x40) against the plan's marker names. */
static int xq_copy_values(struct xq *q, const struct plan *p, const struct cql_query_params *qp)
{
	uint32_t n = qp->names && p ? p->n_binds : qp->n_values;
	struct cql_slice *v = cql_arena_alloc(q->mem, (n ? n : 1) * sizeof(*v));
	if (!v)
		return req_fail(q->req, COL_ENOMEM, "out of memory copying the bound values");
	for (uint32_t i = 0; i < n; i++) {
		const struct cql_slice *src = &qp->values[i];
		if (qp->names && p) {
			const char *want =
			        p->stmt->binds[i].name ? p->stmt->binds[i].name : p->bind_names[i];
			src = NULL;
			for (uint16_t j = 0; j < qp->n_values && !src; j++) {
				const struct cql_slice *nm = &qp->names[j];
				if ((size_t)nm->len == strlen(want) &&
				    strncasecmp((const char *)nm->p, want, (size_t)nm->len) == 0)
					src = &qp->values[j];
			}
			if (!src)
				return req_fail(q->req, COL_EINVAL,
				                "No value bound for variable %s", want);
		}
		v[i].len = src->len;
		v[i].p = exec_empty_value;
		if (src->len > 0) {
			uint8_t *c = cql_arena_alloc(q->mem, (size_t)src->len);
			if (!c)
				return req_fail(q->req, COL_ENOMEM,
				                "out of memory copying the bound values");
			memcpy(c, src->p, (size_t)src->len);
			v[i].p = c;
		}
	}
	q->values = v;
	q->n_values = n;
	return 0;
}

/* Copy the paging state (none: len -1). */
static int xq_copy_paging(struct xq *q, const struct cql_query_params *qp)
{
	q->paging_state.len = -1;
	if (qp->paging_state.len <= 0)
		return 0;
	uint8_t *c = cql_arena_alloc(q->mem, (size_t)qp->paging_state.len);
	if (!c)
		return req_fail(q->req, COL_ENOMEM, "out of memory copying the bound values");
	memcpy(c, qp->paging_state.p, (size_t)qp->paging_state.len);
	q->paging_state.p = c;
	q->paging_state.len = qp->paging_state.len;
	return 0;
}

int xq_new(struct executor *ex, struct exec_req *req, struct plan *p,
           const struct cql_query_params *qp, struct xq **out)
{
	struct xq *q = calloc(1, sizeof(*q));
	struct cql_arena *mem = q ? arena_get(ex) : NULL;
	if (!q || !mem) {
		free(q);
		return req_fail(req, COL_ENOMEM, "out of memory");
	}
	q->ex = ex;
	q->req = req;
	q->mem = mem;
	q->snap = exec_snap_ref(ex);
	if (p)
		q->plan = plan_ref(p);
	q->cl = qp->consistency;
	q->page_size = qp->page_size;
	q->skip_metadata = (qp->flags & CQL_QF_SKIP_METADATA) != 0;
	q->ts = qp->timestamp != INT64_MIN ? qp->timestamp : 0;
	int rc = xq_copy_values(q, p, qp);
	if (!rc)
		rc = xq_copy_paging(q, qp);
	if (rc) {
		/* not answered: the caller answers the failed request */
		if (q->plan)
			plan_unref(q->plan);
		schema_snap_unref(ex->d.schema, q->snap);
		arena_put(ex, q->mem);
		free(q);
		return rc;
	}
	*out = q;
	return 0;
}

int xq_check_binds(struct xq *q)
{
	if (q->n_values == q->plan->n_binds)
		return 0;
	return req_fail(q->req, COL_EINVAL,
	                "There were %u markers(?) in CQL but %u bound variables", q->plan->n_binds,
	                q->n_values);
}

static void created_done(void *arg)
{
	xq_finish(arg);
}

/*
 * After a CREATE or DROP of a keyspace or table that changed the schema: the
 * creator's grant, or the dropped resource's permissions revoked from every
 * role (so a new one of that name starts with none), then the answer.
 */
static bool grant_creator(struct xq *q)
{
	const struct exec_access *a = q->ex->d.access;
	const struct cql_stmt *st = q->plan->stmt;
	struct exec_req *req = q->req;
	if (!a || req->err.code || !req->session->role[0] || req->body_out.len < 4 ||
	    be32_load(req->body_out.data) != CQL_RESULT_SCHEMA_CHANGE)
		return false;
	bool drop = st->kind == CQL_STMT_DROP_KEYSPACE || st->kind == CQL_STMT_DROP_TABLE;
	const char *ks = NULL, *table = NULL;
	int kind = CQL_RES_KEYSPACE;
	switch (st->kind) {
	case CQL_STMT_CREATE_KEYSPACE:
	case CQL_STMT_DROP_KEYSPACE: ks = st->keyspace.keyspace.name; break;
	case CQL_STMT_CREATE_TABLE:
		ks = qname_ks(&st->create_table.table, req->session);
		table = st->create_table.table.name.name;
		kind = CQL_RES_TABLE;
		break;
	case CQL_STMT_DROP_TABLE:
		ks = qname_ks(&st->drop_table.table, req->session);
		table = st->drop_table.table.name.name;
		kind = CQL_RES_TABLE;
		break;
	default: return false;
	}
	void (*hook)(void *, const struct exec_session *, int, const char *, const char *,
	             void (*)(void *), void *) = drop ? a->dropped : a->created;
	if (!ks || !hook)
		return false;
	hook(a->ctx, req->session, kind, ks, table, created_done, q);
	return true;
}

/* DDL and USE, answered at once (a creation or drop after its permissions' change). */
static void xq_run_ddl(struct xq *q)
{
	struct executor *ex = q->ex;
	struct exec_req *req = q->req;
	const struct cql_stmt *st = q->plan->stmt;
	switch (st->kind) {
	case CQL_STMT_USE: exec_use(ex, req, st); break;
	case CQL_STMT_CREATE_KEYSPACE:
	case CQL_STMT_ALTER_KEYSPACE:
	case CQL_STMT_DROP_KEYSPACE: exec_keyspace_ddl(ex, req, st, exec_now_us(ex)); break;
	case CQL_STMT_CREATE_TABLE: exec_create_table(ex, req, st, exec_now_us(ex)); break;
	case CQL_STMT_ALTER_TABLE: exec_alter_table(ex, req, st, exec_now_us(ex)); break;
	case CQL_STMT_DROP_TABLE: exec_drop_table(ex, req, st, exec_now_us(ex)); break;
	case CQL_STMT_CREATE_INDEX: exec_create_index(ex, req, st, exec_now_us(ex)); break;
	case CQL_STMT_DROP_INDEX: exec_drop_index(ex, req, st, exec_now_us(ex)); break;
	case CQL_STMT_CREATE_TYPE:
	case CQL_STMT_ALTER_TYPE:
	case CQL_STMT_DROP_TYPE: exec_type_stmt(ex, req, st, exec_now_us(ex)); break;
	default: req_fail(req, COL_EINVAL, "unsupported statement"); break;
	}
	if (!grant_creator(q))
		xq_finish(q);
}

/* Statements only the schema's owner thread runs (executor_deps.forward). */
static bool xq_owner_only(const struct xq *q)
{
	switch (q->plan->stmt->kind) {
	case CQL_STMT_SELECT: return q->plan->table && q->plan->table->virtual_;
	case CQL_STMT_INSERT:
	case CQL_STMT_UPDATE:
	case CQL_STMT_DELETE:
	case CQL_STMT_BATCH:
	case CQL_STMT_TRUNCATE:
	case CQL_STMT_USE: return false;
	default: return true; /* DDL */
	}
}

/* Run q's plan; the request always ends in xq_finish (now or when the router answers). */
void xq_run(struct xq *q)
{
	struct executor *ex = q->ex;
	if (ex->d.forward && q->req->done && xq_owner_only(q)) {
		struct exec_req *req = q->req;
		xq_release(q);
		ex->d.forward(ex->d.forward_ctx, req);
		return;
	}
	const struct cql_stmt *st = q->plan->stmt;
	bool write = st->kind == CQL_STMT_INSERT || st->kind == CQL_STMT_UPDATE ||
	             st->kind == CQL_STMT_DELETE || st->kind == CQL_STMT_BATCH;
	if (!q->ts && write)
		q->ts = exec_now_us(q->ex);
	if (xq_check_binds(q) || access_check_plan(q->ex, q->req, q->plan)) {
		xq_finish(q);
		return;
	}
	if (access_is_role_stmt(st)) {
		access_run_role_stmt(q);
		return;
	}
	switch (st->kind) {
	case CQL_STMT_SELECT: exec_select(q); return;
	case CQL_STMT_INSERT:
	case CQL_STMT_UPDATE:
	case CQL_STMT_DELETE: modify_run(q); return;
	case CQL_STMT_BATCH: batch_stmt_run(q); return;
	case CQL_STMT_TRUNCATE: truncate_run(q); return;
	case CQL_STMT_DESCRIBE: describe_run(q); return;
	default: xq_run_ddl(q); return;
	}
}

/* Returns true when an xq took over the request (it answers), false when done here. */
bool run_with_params(struct executor *ex, struct exec_req *req, struct plan *p,
                     const struct cql_query_params *qp)
{
	struct xq *q;
	if (xq_new(ex, req, p, qp, &q))
		return false;
	xq_run(q);
	return true;
}

const struct schema_snap *exec_snap_ref(struct executor *ex)
{
	/* ex->snap is held, so taking one more reference needs no lock */
	__atomic_add_fetch(&((struct schema_snap *)ex->snap)->refs, 1, __ATOMIC_ACQ_REL);
	return ex->snap;
}

/* Hold the current snapshot for one call (nested calls keep the outer one's). */
static const struct schema_snap *exec_hold(struct executor *ex)
{
	const struct schema_snap *outer = ex->snap;
	ex->snap = schema_snap_ref(ex->d.schema);
	return outer;
}

static void exec_release(struct executor *ex, const struct schema_snap *outer)
{
	schema_snap_unref(ex->d.schema, ex->snap);
	ex->snap = outer;
}

void executor_run(struct executor *ex, struct exec_req *req)
{
	if (!access_park(ex, req))
		exec_dispatch(ex, req);
}

void exec_dispatch(struct executor *ex, struct exec_req *req)
{
	const struct schema_snap *outer = exec_hold(ex);
	exec_run(ex, req);
	exec_release(ex, outer);
}

static void exec_run(struct executor *ex, struct exec_req *req)
{
	struct bufreader r;
	bufreader_init(&r, req->body, req->body_len);
	cerr_clear(&req->err);
	req->warning[0] = 0;
	buf_reset(&req->body_out);
	bool handed = false;
	switch (req->opcode) {
	case CQL_OP_QUERY: handed = exec_msg_query(ex, req, &r); break;
	case CQL_OP_PREPARE: exec_msg_prepare(ex, req, &r); break;
	case CQL_OP_EXECUTE: handed = exec_msg_execute(ex, req, &r); break;
	case CQL_OP_BATCH: handed = exec_msg_batch(ex, req, &r); break;
	default: req_fail(req, COL_EPROTO, "opcode 0x%02x is not a statement", req->opcode); break;
	}
	if (handed)
		return; /* xq_finish answers */
	if (req->err.code)
		buf_reset(&req->body_out);
	if (req->done)
		req->done(req);
}

void executor_run_text(struct executor *ex, struct exec_session *s, const char *cql,
                       struct exec_req *req)
{
	const struct schema_snap *outer = exec_hold(ex);
	run_text(ex, s, cql, req);
	exec_release(ex, outer);
}

static void run_text(struct executor *ex, struct exec_session *s, const char *cql,
                     struct exec_req *req)
{
	req->session = s;
	cerr_clear(&req->err);
	req->warning[0] = 0;
	req->done = NULL;
	buf_reset(&req->body_out);
	struct plan *p;
	if (!plan_build(ex, req, cql, strlen(cql), &p)) {
		struct cql_query_params qp = {
		        .consistency = CL_ONE, .page_size = -1, .timestamp = INT64_MIN};
		qp.paging_state.len = -1;
		run_with_params(ex, req, p, &qp);
		plan_unref(p);
	}
	if (req->err.code)
		buf_reset(&req->body_out);
}

int executor_new(const struct executor_deps *deps, struct executor **out)
{
	struct executor *ex = calloc(1, sizeof(*ex));
	if (!ex)
		return COL_ENOMEM;
	ex->d = *deps;
	*out = ex;
	return 0;
}

void executor_free(struct executor *ex)
{
	if (!ex)
		return;
	while (ex->n_spare)
		cql_arena_free(ex->spare[--ex->n_spare]);
	while (ex->n_spare_sel)
		selx_free(ex->spare_sel[--ex->n_spare_sel]);
	free(ex);
}
