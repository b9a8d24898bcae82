#include "coordinator/query/query_int.h"

#include "coordinator/query/prepared.h"

#include <stdlib.h>

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
		req_fail(req, CQL_ERR_PROTOCOL, "malformed BATCH message: truncated header");
		return false;
	}
	if (type > CQL_BATCH_COUNTER) {
		req_fail(req, CQL_ERR_PROTOCOL, "Invalid BATCH type %u", type);
		return false;
	}
	if (type == CQL_BATCH_COUNTER) {
		req_fail(req, CQL_ERR_INVALID, "Counter batches are not supported");
		return false;
	}
	struct entry {
		struct plan *plan; /* referenced */
		struct cql_slice *values;
		uint16_t n_values;
	};
	struct entry *ents = calloc(n ? n : 1, sizeof(*ents));
	struct cql_arena *mem = cql_arena_new();
	if (!ents || !mem) {
		free(ents);
		cql_arena_free(mem);
		req_fail(req, CQL_ERR_SERVER, "out of memory");
		return false;
	}
	for (uint16_t i = 0; i < n && !req->failed; i++) {
		uint8_t kind = cql_get_byte(r);
		if (kind == 0) {
			struct cql_slice text = cql_get_long_string(r);
			if (!bufreader_ok(r))
				break;
			ents[i].plan = plan_build(ex, req, (const char *)text.p, (size_t)text.len);
		} else if (kind == 1) {
			struct cql_slice id = cql_get_short_bytes(r);
			if (!bufreader_ok(r))
				break;
			struct prepared_stmt *ps =
			        prepared_cache_get(ex->d.prepared, id.p, (size_t)id.len);
			if (!ps) {
				unprepared(req, &id);
				break;
			}
			struct plan *p = prepared_plan(ex, req, ps);
			ents[i].plan = p ? plan_ref(p) : NULL;
		} else {
			req_fail(req, CQL_ERR_PROTOCOL,
			         "Invalid query kind in BATCH messages. Must be 0 or 1 but got %u",
			         kind);
			break;
		}
		if (!ents[i].plan)
			break;
		uint16_t nv = cql_get_short(r);
		ents[i].n_values = nv;
		ents[i].values = cql_arena_alloc(mem, (nv ? nv : 1) * sizeof(struct cql_slice));
		if (!ents[i].values) {
			req_fail(req, CQL_ERR_SERVER, "out of memory");
			break;
		}
		for (uint16_t j = 0; j < nv; j++)
			ents[i].values[j] = cql_get_value(r);
		if (!bufreader_ok(r))
			break;
		int k = ents[i].plan->stmt->kind;
		if (k != CQL_STMT_INSERT && k != CQL_STMT_UPDATE && k != CQL_STMT_DELETE)
			req_fail(req, CQL_ERR_INVALID,
			         "Invalid statement in batch: only UPDATE, INSERT and DELETE "
			         "statements "
			         "are allowed.");
	}
	uint16_t cl = cql_get_short(r);
	uint8_t flags = cql_get_byte(r);
	int64_t ts = INT64_MIN;
	if (flags & CQL_QF_SERIAL_CONSISTENCY)
		(void)cql_get_short(r);
	if (flags & CQL_QF_DEFAULT_TIMESTAMP)
		ts = cql_get_long(r);
	if (!req->failed && !bufreader_ok(r))
		req_fail(req, CQL_ERR_PROTOCOL, "malformed BATCH message: truncated");
	if (!req->failed && (flags & CQL_QF_NAMES_FOR_VALUES))
		req_fail(req, CQL_ERR_PROTOCOL,
		         "Named values in BATCH are not supported (the protocol spec says the flag "
		         "is "
		         "broken)");
	if (!req->failed && !cql_consistency_name(cl))
		req_fail(req, CQL_ERR_PROTOCOL, "unknown consistency level 0x%04x", cl);
	struct xq *q = NULL;
	if (!req->failed) {
		struct cql_query_params qp = {.consistency = cl, .timestamp = ts, .page_size = -1};
		qp.paging_state.len = -1;
		q = xq_new(ex, req, NULL, &qp);
	}
	if (q) {
		if (!q->ts)
			q->ts = exec_now_us(ex);
		struct mutset *ms = xq_mutset(q);
		for (uint16_t i = 0; ms && i < n && !req->failed; i++) {
			/* binding reads the frame's values now: the mutations copy them */
			q->plan = ents[i].plan;
			q->values = ents[i].values;
			q->n_values = ents[i].n_values;
			if (q->n_values != q->plan->n_binds) {
				req_fail(req, CQL_ERR_INVALID,
				         "There were %u markers(?) in CQL but %u bound variables",
				         q->plan->n_binds, q->n_values);
				break;
			}
			struct cerr pr;
			if (!q->plan->table->virtual_ &&
			    router_check(ex->d.router, q->plan->table->ks, cl, true, &pr)) {
				req_fail_proxy(req, &pr);
				break;
			}
			collect_mutations(q, ms);
		}
		q->plan = NULL;
		q->values = NULL;
		q->n_values = 0;
	}
	for (uint16_t i = 0; i < n; i++)
		if (ents[i].plan)
			plan_unref(ents[i].plan);
	free(ents);
	cql_arena_free(mem);
	if (!q)
		return false;
	write_start(q, type == CQL_BATCH_UNLOGGED ? CERR_WRITE_UNLOGGED_BATCH : CERR_WRITE_BATCH);
	return true;
}
