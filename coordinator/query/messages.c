#include "coordinator/query/query_int.h"

#include "coordinator/query/prepared.h"
#include "core/hex.h"

#include <stdio.h>
#include <string.h>

void exec_msg_prepare(struct executor *ex, struct exec_req *req, struct bufreader *r)
{
	struct cql_slice text = cql_get_long_string(r);
	if (!bufreader_ok(r)) {
		req_fail(req, COL_EPROTO, "malformed PREPARE message: truncated [long string]");
		return;
	}
	struct plan *p;
	if (plan_build(ex, req, (const char *)text.p, (size_t)text.len, &p))
		return;
	struct prepared_stmt *ps;
	prepared_cache_lock(ex->d.prepared);
	if (prepared_cache_put(ex->d.prepared, req->session->keyspace, (const char *)text.p,
	                       (size_t)text.len, p, plan_unref_cb, p->gen, &ps)) {
		prepared_cache_unlock(ex->d.prepared);
		req_fail(req, COL_ENOMEM, "out of memory caching the prepared statement");
		return;
	}
	put_prepared(&req->body_out, ps, p);
	prepared_cache_unlock(ex->d.prepared);
}

int prepared_plan(struct executor *ex, struct exec_req *req, struct prepared_stmt *ps,
                  struct plan **out)
{
	struct plan *p = ps->plan;
	if (p->gen == ex->snap->generation) {
		*out = p;
		return 0;
	}
	/* The schema changed since PREPARE: re-plan from the text in its keyspace. */
	struct exec_session s;
	snprintf(s.keyspace, sizeof(s.keyspace), "%s", ps->keyspace);
	struct exec_session *saved = req->session;
	req->session = &s;
	struct plan *np;
	int rc = plan_build(ex, req, ps->query, strlen(ps->query), &np);
	req->session = saved;
	if (rc)
		return rc;
	prepared_stmt_replan(ps, np, np->gen); /* in-flight users keep their reference */
	*out = np;
	return 0;
}

int unprepared(struct exec_req *req, const struct cql_slice *id)
{
	uint8_t n = (uint8_t)(id->len > 16 ? 16 : id->len < 0 ? 0 : id->len);
	char hex[33];
	hex_encode(id->p, n, hex);
	/* Cassandra's words, naming the id in hex */
	int rc = req_fail(req, COL_ENOTFOUND,
	                  "Prepared query with ID %s not found (either the query was not prepared "
	                  "on this host (maybe the host has been restarted?) or you have prepared "
	                  "too many queries and it has been evicted from the internal cache)",
	                  hex);
	if (rc == COL_ENOTFOUND && !req->about.id_len) {
		memcpy(req->about.id, id->p, n);
		req->about.id_len = n;
	}
	return rc;
}

/* The [query parameters] that follow a QUERY's text or an EXECUTE's id; `head`
 * names what came first, for the error when the body ended before it. */
static int read_params(struct exec_req *req, struct bufreader *r, const char *head,
                       struct cql_query_params *qp)
{
	if (!bufreader_ok(r))
		return req_fail(req, COL_EPROTO, "malformed %s", head);
	struct cerr e = {0};
	if (cql_query_params_decode(r, qp, &e))
		return req_fail(req, COL_EPROTO, "%s", e.msg);
	return 0;
}

bool exec_msg_execute(struct executor *ex, struct exec_req *req, struct bufreader *r)
{
	struct cql_slice id = cql_get_short_bytes(r);
	struct cql_query_params qp;
	if (read_params(req, r, "EXECUTE message: truncated id", &qp))
		return false;
	bool handed = false;
	struct plan *p = NULL;
	prepared_cache_lock(ex->d.prepared);
	struct prepared_stmt *ps = prepared_cache_get(ex->d.prepared, id.p, (size_t)id.len);
	if (!ps)
		unprepared(req, &id);
	else if (!prepared_plan(ex, req, ps, &p))
		plan_ref(p);
	else
		p = NULL;
	prepared_cache_unlock(ex->d.prepared);
	if (p) {
		handed = run_with_params(ex, req, p, &qp);
		plan_unref(p);
	}
	cql_query_params_release(&qp);
	return handed;
}

bool exec_msg_query(struct executor *ex, struct exec_req *req, struct bufreader *r)
{
	struct cql_slice text = cql_get_long_string(r);
	struct cql_query_params qp;
	if (read_params(req, r, "QUERY message: truncated [long string]", &qp))
		return false;
	bool handed = false;
	struct plan *p;
	if (!plan_build(ex, req, (const char *)text.p, (size_t)text.len, &p)) {
		handed = run_with_params(ex, req, p, &qp);
		plan_unref(p);
	}
	cql_query_params_release(&qp);
	return handed;
}
