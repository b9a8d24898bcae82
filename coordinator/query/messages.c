#include "coordinator/query/query_int.h"

#include "coordinator/query/prepared.h"

#include <stdio.h>
#include <string.h>

void exec_msg_prepare(struct executor *ex, struct exec_req *req, struct bufreader *r)
{
	struct cql_slice text = cql_get_long_string(r);
	if (!bufreader_ok(r)) {
		req_fail(req, CQL_ERR_PROTOCOL,
		         "malformed PREPARE message: truncated [long string]");
		return;
	}
	struct plan *p = plan_build(ex, req, (const char *)text.p, (size_t)text.len);
	if (!p)
		return;
	struct prepared_stmt *ps;
	if (prepared_cache_put(ex->d.prepared, req->session->keyspace, (const char *)text.p,
	                       (size_t)text.len, p, plan_unref_cb, p->gen, &ps)) {
		req_fail(req, CQL_ERR_SERVER, "out of memory caching the prepared statement");
		return;
	}
	put_prepared(&req->body_out, ps, p);
}

/* The plan of a prepared statement, re-planned if the schema changed since. NULL: failed. */
struct plan *prepared_plan(struct executor *ex, struct exec_req *req, struct prepared_stmt *ps)
{
	struct plan *p = ps->plan;
	if (p->gen == schema_current(ex->d.schema)->generation)
		return p;
	/* The schema changed since PREPARE: re-plan from the text in its keyspace. */
	struct exec_session s;
	snprintf(s.keyspace, sizeof(s.keyspace), "%s", ps->keyspace);
	struct exec_session *saved = req->session;
	req->session = &s;
	struct plan *np = plan_build(ex, req, ps->query, strlen(ps->query));
	req->session = saved;
	if (!np)
		return NULL;
	prepared_stmt_replan(ps, np, np->gen); /* in-flight users keep their reference */
	return np;
}

void unprepared(struct exec_req *req, const struct cql_slice *id)
{
	req_fail(req, CQL_ERR_UNPREPARED, "Prepared query not found");
	req->error.id_len = (uint8_t)(id->len > 16 ? 16 : id->len < 0 ? 0 : id->len);
	memcpy(req->error.id, id->p, req->error.id_len);
	char hex[33];
	for (int i = 0; i < req->error.id_len; i++)
		sprintf(hex + 2 * i, "%02x", req->error.id[i]);
	hex[2 * req->error.id_len] = 0;
	/* Cassandra's words, naming the id in hex */
	snprintf(req->error.msg, sizeof(req->error.msg),
	         "Prepared query with ID %s not found (either the query was not prepared on "
	         "this host (maybe the host has been restarted?) or you have prepared too "
	         "many queries and it has been evicted from the internal cache)",
	         hex);
}

bool exec_msg_execute(struct executor *ex, struct exec_req *req, struct bufreader *r)
{
	struct cql_slice id = cql_get_short_bytes(r);
	if (!bufreader_ok(r)) {
		req_fail(req, CQL_ERR_PROTOCOL, "malformed EXECUTE message: truncated id");
		return false;
	}
	struct cql_query_params qp;
	struct cerr e = {0};
	if (cql_query_params_decode(r, &qp, &e)) {
		req_fail(req, CQL_ERR_PROTOCOL, "%s", e.msg);
		return false;
	}
	bool handed = false;
	struct prepared_stmt *ps = prepared_cache_get(ex->d.prepared, id.p, (size_t)id.len);
	if (!ps) {
		unprepared(req, &id);
	} else {
		struct plan *p = prepared_plan(ex, req, ps);
		if (p)
			handed = run_with_params(ex, req, p, &qp);
	}
	cql_query_params_release(&qp);
	return handed;
}

bool exec_msg_query(struct executor *ex, struct exec_req *req, struct bufreader *r)
{
	struct cql_slice text = cql_get_long_string(r);
	if (!bufreader_ok(r)) {
		req_fail(req, CQL_ERR_PROTOCOL, "malformed QUERY message: truncated [long string]");
		return false;
	}
	struct cql_query_params qp;
	struct cerr e = {0};
	if (cql_query_params_decode(r, &qp, &e)) {
		req_fail(req, CQL_ERR_PROTOCOL, "%s", e.msg);
		return false;
	}
	bool handed = false;
	struct plan *p = plan_build(ex, req, (const char *)text.p, (size_t)text.len);
	if (p) {
		handed = run_with_params(ex, req, p, &qp);
		plan_unref(p);
	}
	cql_query_params_release(&qp);
	return handed;
}
