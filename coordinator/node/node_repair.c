/*
 * node_repair.c — anti-entropy repair wired into the node
 * (coordinator/repair/repair.h): the repair room on this node's store,
 * schema, messaging and ring, and its admin endpoints:
 *
 *   POST /v1/repair/start?keyspace=&tables=a,b&pr=1&st=&et=&dc=&local=1&preview=1  start: {"id"}
 *   GET  /v1/repair[?id=]          a session's progress (the latest without id)
 *   GET  /v1/repair/sessions       the sessions kept, newest first
 *   POST /v1/repair/cancel[?id=]   stop the running session after its current message
 *   GET  /v1/repair/history[?limit=]  history rows, newest first (repair_admin list)
 *   POST /v1/compact?keyspace=[&table=]  full compactions on the repair worker (nodetool compact)
 */
#include "coordinator/node/node_int.h"

#include "coordinator/admin/inspect.h"
#include "coordinator/repair/repair.h"
#include "coordinator/schema/schema.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int node_start_repair(struct node *n, struct cerr *err)
{
	const struct config *cfg = &n->cfg;
	struct repair_config c = {
	        .loop = n->loop,
	        .msg = n->msg,
	        .store = n->store,
	        .schema = n->schema,
	        .local_dc = cfg->dc,
	        .timeout_ms = (unsigned)cfg->repair_request_timeout_ms,
	        .throttle_bytes_per_s = (uint64_t)cfg->repair_throttle_bytes,
	        .interval_ms = cfg->repair_interval_ms,
	        .ring = (struct ring * (*)(void *)) node_ring_ref,
	        .addr_of = node_ring_addr,
	        .alive = node_ring_alive,
	        .ctx = n,
	};
	memcpy(c.host_id, n->id.host_id, 16);
	return repair_new(&c, &n->repair, err);
}

static int answer_error(struct buf *out, int status, const char *msg)
{
	struct jw w;
	out->len = 0;
	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "error");
	jw_str(&w, msg);
	jw_obj_end(&w);
	return status;
}

static bool flag(const char *query, const char *name)
{
	char v[8];
	return inspect_query_param(query, name, v, sizeof(v)) == 0 &&
	       (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

static int token_param(const char *query, const char *name, int64_t *out, bool *given)
{
	char v[32];
	*given = inspect_query_param(query, name, v, sizeof(v)) == 0 && v[0];
	if (!*given)
		return 0;
	char *end;
	errno = 0;
	long long t = strtoll(v, &end, 10);
	if (errno || *end)
		return COL_EINVAL;
	*out = (int64_t)t;
	return 0;
}

#define MAX_TABLE_ARGS 64

int node_h_repair_start(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)ctype;
	struct node *n = ctx;
	char ks[256] = "", tables[4096] = "", dc[128] = "";
	inspect_query_param(query, "keyspace", ks, sizeof(ks));
	inspect_query_param(query, "tables", tables, sizeof(tables));
	inspect_query_param(query, "dc", dc, sizeof(dc));
	struct repair_options o = {.keyspace = ks[0] ? ks : NULL,
	                           .primary_only = flag(query, "pr"),
	                           .local_dc = flag(query, "local"),
	                           .preview = flag(query, "preview"),
	                           .dc = dc[0] ? dc : NULL};
	bool has_st, has_et;
	if (token_param(query, "st", &o.st, &has_st) || token_param(query, "et", &o.et, &has_et))
		return answer_error(out, 400, "st and et must be tokens (signed 64-bit integers)");
	if (has_st != has_et)
		return answer_error(out, 400, "give both st and et, or neither");
	o.has_range = has_st;
	const char *tv[MAX_TABLE_ARGS];
	size_t nt = 0;
	for (char *save = NULL, *t = strtok_r(tables, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (nt == MAX_TABLE_ARGS)
			return answer_error(out, 400, "at most 64 tables per repair");
		tv[nt++] = t;
	}
	if (nt && !o.keyspace)
		return answer_error(out, 400, "tables need a keyspace");
	o.tables = tv;
	o.n_tables = nt;
	uint64_t id;
	struct cerr err = {0};
	int rc = repair_start(n->repair, &o, &id, &err);
	if (rc)
		return answer_error(out,
		                    rc == COL_EAGAIN   ? 409
		                    : rc == COL_EINVAL ? 400
		                                       : 503,
		                    err.msg);
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "id");
	jw_uint(&w, id);
	jw_obj_end(&w);
	return 200;
}

static uint64_t id_param(const char *query)
{
	char v[32];
	if (inspect_query_param(query, "id", v, sizeof(v)) || !v[0])
		return 0;
	return strtoull(v, NULL, 10);
}

int node_h_repair(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)ctype;
	struct node *n = ctx;
	struct jw w;
	jw_init(&w, out);
	if (repair_status_json(n->repair, id_param(query), &w))
		return answer_error(out, 404, "no such repair session");
	return 200;
}

int node_h_repair_sessions(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)ctype, (void)query;
	struct node *n = ctx;
	struct jw w;
	jw_init(&w, out);
	repair_sessions_json(n->repair, &w);
	return 200;
}

int node_h_repair_cancel(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)ctype;
	struct node *n = ctx;
	uint64_t id = id_param(query);
	if (repair_cancel(n->repair, id))
		return answer_error(out, 404, "no repair session is running with that id");
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "cancelling");
	jw_bool(&w, true);
	jw_obj_end(&w);
	return 200;
}

int node_h_repair_history(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)ctype;
	struct node *n = ctx;
	char v[16];
	size_t limit = 1000;
	if (inspect_query_param(query, "limit", v, sizeof(v)) == 0 && v[0])
		limit = strtoul(v, NULL, 10);
	struct jw w;
	jw_init(&w, out);
	struct cerr err = {0};
	if (repair_history_json(n->repair, limit, &w, &err))
		return answer_error(out, 500, err.msg);
	return 200;
}

/* POST /v1/compact?keyspace=&table=: full compactions queued on the repair worker; the
 * answer's ticket is the last one's (GET /v1/compactions says when it has finished). */
int node_h_compact(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)ctype;
	struct node *n = ctx;
	char ks[256] = "", table[256] = "";
	inspect_query_param(query, "keyspace", ks, sizeof(ks));
	inspect_query_param(query, "table", table, sizeof(table));
	const struct schema_snap *snap = schema_current_ref(n->schema);
	const struct schema_keyspace *k = ks[0] ? schema_snap_keyspace(snap, ks) : NULL;
	int status = 200;
	struct jw w;
	if (!k || k->virtual_) {
		status = answer_error(out, 400, "give the keyspace of the tables to compact");
		goto done;
	}
	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "queued");
	jw_arr(&w);
	uint64_t ticket = 0;
	struct {
		uint32_t table;
		int rc; /* why it was not queued (COL_EOVERLOADED: the worker's queue is full) */
	} refused[512];
	uint32_t n_refused = 0;
	for (uint32_t i = 0; i < k->n_tables; i++) {
		const struct schema_table *t = k->tables[i];
		if (t->virtual_ || (table[0] && strcmp(t->name, table) != 0))
			continue;
		int rc = repair_compact(n->repair, t->id, &ticket);
		if (rc == 0)
			jw_str(&w, t->name);
		else if (n_refused < sizeof(refused) / sizeof(refused[0]))
			refused[n_refused].table = i, refused[n_refused++].rc = rc;
	}
	jw_arr_end(&w);
	jw_key(&w, "refused");
	jw_arr(&w);
	for (uint32_t i = 0; i < n_refused; i++) {
		jw_obj(&w);
		jw_key(&w, "table");
		jw_str(&w, k->tables[refused[i].table]->name);
		jw_key(&w, "error");
		jw_str(&w, refused[i].rc == COL_EOVERLOADED ? "the repair worker's queue is full"
		                                            : col_strerror(refused[i].rc));
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_key(&w, "ticket");
	jw_uint(&w, ticket);
	jw_obj_end(&w);
done:
	schema_snap_unref(n->schema, snap);
	return status;
}

/* GET /v1/compactions: how far the full compactions queued since the node started have got. */
int node_h_compactions(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)query;
	(void)ctype;
	struct node *n = ctx;
	struct repair_compactions c = {0};
	if (n->repair)
		repair_compactions(n->repair, &c);
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "queued");
	jw_uint(&w, c.queued);
	jw_key(&w, "finished_through");
	jw_uint(&w, c.finished_through);
	jw_key(&w, "pending");
	jw_uint(&w, c.queued - c.finished_through);
	jw_key(&w, "failed");
	jw_uint(&w, c.failed);
	jw_key(&w, "last_failed");
	jw_uint(&w, c.last_failed);
	jw_key(&w, "last_error");
	jw_str(&w, c.last_error);
	jw_obj_end(&w);
	return 200;
}

struct hist_emit {
	repair_history_emit_fn emit;
	void *ectx;
};

static int hist_row(void *ctx, const struct repair_history_row *row)
{
	struct hist_emit *he = ctx;
	struct repair_history_info h = {.keyspace = row->keyspace,
	                                .table = row->table,
	                                .start = row->start,
	                                .end = row->end,
	                                .started_ms = row->started_ms,
	                                .finished_ms = row->finished_ms,
	                                .leaves_differing = row->leaves_differing,
	                                .bytes = row->bytes,
	                                .outcome = row->outcome};
	return he->emit(he->ectx, &h);
}

/* system.repair_history: the rows of this node's store. */
void node_view_repair_history(void *ctx, repair_history_emit_fn emit, void *ectx)
{
	struct node *n = ctx;
	struct hist_emit he = {emit, ectx};
	struct cerr err = {0};
	repair_history_scan(n->store, hist_row, &he, &err);
}

void node_repair_metrics(struct buf *b, struct node *n)
{
	if (n->repair)
		repair_metrics(n->repair, b);
}
