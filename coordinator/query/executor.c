#include "coordinator/query/query_int.h"

#include "core/clock.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const uint8_t exec_empty_value[1];

int64_t exec_now_us(struct executor *ex)
{
	/* Strictly increasing, so two writes of one session never tie. */
	int64_t now = clock_wall_us();
	if (now <= ex->last_ts)
		now = ex->last_ts + 1;
	ex->last_ts = now;
	return now;
}

/* Free q and hand the answer back (req->done), exactly once per request. */
void xq_finish(struct xq *q)
{
	struct exec_req *req = q->req;
	struct executor *ex = q->ex;
	selx_free(q->sel);
	mutset_free(q->ms);
	if (q->plan)
		plan_unref(q->plan);
	if (q->snap)
		schema_snap_unref(ex->d.schema, q->snap);
	cql_arena_free(q->mem);
	free(q);
	if (req->failed)
		buf_reset(&req->body_out);
	/* A DDL's answer waits for the cluster's schema agreement (schema_sync.h). */
	if (!req->failed && req->done && ex->d.ddl_wait && req->body_out.len >= 4 &&
	    be32_load(req->body_out.data) == CQL_RESULT_SCHEMA_CHANGE) {
		ex->d.ddl_wait(ex->d.ddl_ctx, req);
		return;
	}
	if (req->done)
		req->done(req);
}

/*
 * A new execution of `p` (referenced, may be NULL for a protocol BATCH) with the
 * request's parameters.  Bound values (resolved by name with flag 0x40) and the
 * paging state are copied, so the frame may go away.  NULL with req failed.
 */
struct xq *xq_new(struct executor *ex, struct exec_req *req, struct plan *p,
                  const struct cql_query_params *qp)
{
	struct xq *q = calloc(1, sizeof(*q));
	struct cql_arena *mem = q ? cql_arena_new() : NULL;
	if (!q || !mem) {
		free(q);
		req_fail(req, CQL_ERR_SERVER, "out of memory");
		return NULL;
	}
	q->ex = ex;
	q->req = req;
	q->mem = mem;
	q->snap = schema_current_ref(ex->d.schema);
	if (p)
		q->plan = plan_ref(p);
	q->cl = qp->consistency;
	q->page_size = qp->page_size;
	q->skip_metadata = (qp->flags & CQL_QF_SKIP_METADATA) != 0;
	q->ts = qp->timestamp != INT64_MIN ? qp->timestamp : 0;
	/* values in marker order */
	uint32_t n = qp->n_values;
	if (qp->names && p)
		n = p->n_binds;
	struct cql_slice *v = cql_arena_alloc(mem, (n ? n : 1) * sizeof(*v));
	if (!v)
		goto oom;
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
			if (!src) {
				req_fail(req, CQL_ERR_INVALID, "No value bound for variable %s",
				         want);
				goto err;
			}
		}
		v[i].len = src->len;
		v[i].p = exec_empty_value;
		if (src->len > 0) {
			uint8_t *c = cql_arena_alloc(mem, (size_t)src->len);
			if (!c)
				goto oom;
			memcpy(c, src->p, (size_t)src->len);
			v[i].p = c;
		}
	}
	q->values = v;
	q->n_values = n;
	q->paging_state.len = -1;
	if (qp->paging_state.len > 0) {
		uint8_t *c = cql_arena_alloc(mem, (size_t)qp->paging_state.len);
		if (!c)
			goto oom;
		memcpy(c, qp->paging_state.p, (size_t)qp->paging_state.len);
		q->paging_state.p = c;
		q->paging_state.len = qp->paging_state.len;
	}
	return q;
oom:
	req_fail(req, CQL_ERR_SERVER, "out of memory copying the bound values");
err:
	q->req = NULL; /* do not answer: the caller does */
	if (q->plan)
		plan_unref(q->plan);
	schema_snap_unref(ex->d.schema, q->snap);
	cql_arena_free(q->mem);
	free(q);
	return NULL;
}

/* Run q's plan; the request always ends in xq_finish (now or when the router answers). */
void xq_run(struct xq *q)
{
	struct executor *ex = q->ex;
	struct exec_req *req = q->req;
	const struct cql_stmt *st = q->plan->stmt;
	if (!q->ts && (st->kind == CQL_STMT_INSERT || st->kind == CQL_STMT_UPDATE ||
	               st->kind == CQL_STMT_DELETE || st->kind == CQL_STMT_BATCH))
		q->ts = exec_now_us(ex);
	if (q->n_values != q->plan->n_binds) {
		req_fail(req, CQL_ERR_INVALID,
		         "There were %u markers(?) in CQL but %u bound variables", q->plan->n_binds,
		         q->n_values);
		xq_finish(q);
		return;
	}
	switch (st->kind) {
	case CQL_STMT_SELECT: exec_select(q); return;
	case CQL_STMT_INSERT:
	case CQL_STMT_UPDATE:
	case CQL_STMT_DELETE: {
		struct cerr pr;
		struct mutset *ms = xq_mutset(q);
		if (ms && !q->plan->table->virtual_ &&
		    router_check(ex->d.router, q->plan->table->ks, q->cl, true, &pr))
			req_fail_proxy(req, &pr);
		if (ms && !req->failed)
			collect_mutations(q, ms);
		write_start(q, CERR_WRITE_SIMPLE);
		return;
	}
	case CQL_STMT_BATCH: {
		const struct cql_batch *b = &st->batch;
		enum cerr_write_type wt = (int)b->type == CQL_BATCH_UNLOGGED
		                                   ? CERR_WRITE_UNLOGGED_BATCH
		                                   : CERR_WRITE_BATCH;
		if ((int)b->type == CQL_BATCH_COUNTER)
			req_fail(req, CQL_ERR_INVALID, "Counter batches are not supported");
		else if (b->using.timestamp)
			term_int64(q, b->using.timestamp, true, &q->ts, "[timestamp]");
		struct mutset *ms = req->failed ? NULL : xq_mutset(q);
		struct plan *outer = q->plan;
		for (uint32_t i = 0; ms && i < outer->n_children && !req->failed; i++) {
			q->plan = outer->children[i];
			struct cerr pr;
			if (!q->plan->table->virtual_ &&
			    router_check(ex->d.router, q->plan->table->ks, q->cl, true, &pr))
				req_fail_proxy(req, &pr);
			else
				collect_mutations(q, ms);
		}
		q->plan = outer;
		write_start(q, wt);
		return;
	}
	case CQL_STMT_USE: exec_use(ex, req, st); break;
	case CQL_STMT_CREATE_KEYSPACE:
	case CQL_STMT_ALTER_KEYSPACE:
	case CQL_STMT_DROP_KEYSPACE: exec_keyspace_ddl(ex, req, st, exec_now_us(ex)); break;
	case CQL_STMT_CREATE_TABLE: exec_create_table(ex, req, st, exec_now_us(ex)); break;
	case CQL_STMT_ALTER_TABLE: exec_alter_table(ex, req, st, exec_now_us(ex)); break;
	case CQL_STMT_DROP_TABLE: exec_drop_table(ex, req, st, exec_now_us(ex)); break;
	case CQL_STMT_TRUNCATE: exec_truncate(ex, req, st); break;
	default: req_fail(req, CQL_ERR_INVALID, "unsupported statement"); break;
	}
	xq_finish(q);
}

/* Returns true when an xq took over the request (it answers), false when done here. */
bool run_with_params(struct executor *ex, struct exec_req *req, struct plan *p,
                     const struct cql_query_params *qp)
{
	struct xq *q = xq_new(ex, req, p, qp);
	if (!q)
		return false;
	xq_run(q);
	return true;
}

void executor_run(struct executor *ex, struct exec_req *req)
{
	struct bufreader r;
	bufreader_init(&r, req->body, req->body_len);
	req->failed = false;
	req->warning[0] = 0;
	buf_reset(&req->body_out);
	bool handed = false;
	switch (req->opcode) {
	case CQL_OP_QUERY: handed = exec_msg_query(ex, req, &r); break;
	case CQL_OP_PREPARE: exec_msg_prepare(ex, req, &r); break;
	case CQL_OP_EXECUTE: handed = exec_msg_execute(ex, req, &r); break;
	case CQL_OP_BATCH: handed = exec_msg_batch(ex, req, &r); break;
	default:
		req_fail(req, CQL_ERR_PROTOCOL, "opcode 0x%02x is not a statement", req->opcode);
		break;
	}
	if (handed)
		return; /* xq_finish answers */
	if (req->failed)
		buf_reset(&req->body_out);
	if (req->done)
		req->done(req);
}

void executor_run_text(struct executor *ex, struct exec_session *s, const char *cql,
                       struct exec_req *req)
{
	req->session = s;
	req->failed = false;
	req->warning[0] = 0;
	req->done = NULL;
	buf_reset(&req->body_out);
	struct plan *p = plan_build(ex, req, cql, strlen(cql));
	if (p) {
		struct cql_query_params qp = {
		        .consistency = CL_ONE, .page_size = -1, .timestamp = INT64_MIN};
		qp.paging_state.len = -1;
		run_with_params(ex, req, p, &qp);
		plan_unref(p);
	}
	if (req->failed)
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
	free(ex);
}
