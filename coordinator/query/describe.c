/*
 * describe.c — the DESCRIBE statement (describe.h): what each form lists, the
 * errors Cassandra 4.0 gives, the rows and their paging.
 */
#include "coordinator/query/describe.h"

#include "coordinator/query/query_int.h"
#include "coordinator/query/systables.h"
#include "core/ring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DESC_MAX_ROWS 100000 /* a schema is far smaller; bounds a runaway */

struct desc_row {
	char *ks, *type, *name, *stmt; /* stmt NULL for listings */
};

struct desc {
	struct xq *q;
	const struct schema_snap *snap;
	const struct cql_describe *d;
	struct desc_row *rows;
	size_t n, cap;
	bool element; /* the rows carry create_statement */
	bool oom;
};

static char *name_text(const char *name)
{
	struct buf b;
	buf_init(&b);
	cql_name_format(name, &b);
	buf_put_u8(&b, 0);
	char *s = buf_ok(&b) ? strdup((const char *)b.data) : NULL;
	buf_release(&b);
	return s;
}

/* Adds a row; stmt (may be NULL) is taken over. */
static void add_row(struct desc *x, const char *ks, const char *type, const char *name,
                    struct buf *stmt)
{
	if (x->oom || x->n >= DESC_MAX_ROWS) {
		x->oom = true;
		return;
	}
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 32;
		struct desc_row *r = realloc(x->rows, cap * sizeof(*r));
		if (!r) {
			x->oom = true;
			return;
		}
		x->rows = r;
		x->cap = cap;
	}
	struct desc_row *r = &x->rows[x->n];
	r->ks = name_text(ks);
	r->type = strdup(type);
	r->name = name_text(name);
	r->stmt = NULL;
	if (stmt) {
		buf_put_u8(stmt, 0);
		r->stmt = buf_ok(stmt) ? strdup((const char *)stmt->data) : NULL;
	}
	x->n++;
	if (!r->ks || !r->type || !r->name || (stmt && !r->stmt))
		x->oom = true;
}

static void add_keyspace(struct desc *x, const struct schema_keyspace *k)
{
	struct buf b;
	buf_init(&b);
	if (x->element)
		describe_keyspace_cql(&b, k);
	add_row(x, k->name, "keyspace", k->name, x->element ? &b : NULL);
	buf_release(&b);
}

static void add_index(struct desc *x, const struct schema_table *t, const struct schema_index *ix)
{
	struct buf b;
	buf_init(&b);
	if (x->element)
		describe_index_cql(&b, t, ix);
	add_row(x, t->ks->name, "index", ix->name, x->element ? &b : NULL);
	buf_release(&b);
}

static void add_type(struct desc *x, const struct cqltype *ut)
{
	struct buf b;
	buf_init(&b);
	if (x->element)
		describe_type_cql(&b, ut);
	add_row(x, ut->udt_keyspace, "type", ut->udt_name, x->element ? &b : NULL);
	buf_release(&b);
}

/* A table, then its indexes (Cassandra 4 describes them after it). */
static void add_table(struct desc *x, const struct schema_table *t)
{
	struct buf b;
	buf_init(&b);
	if (x->element)
		describe_table_cql(&b, t, x->d->internals);
	add_row(x, t->ks->name, "table", t->name, x->element ? &b : NULL);
	buf_release(&b);
	for (uint32_t i = 0; x->element && i < t->n_indexes; i++)
		add_index(x, t, &t->indexes[i]);
}

/* k's types, each after the types it uses (as Cassandra orders them: the output replays),
 * else by name. */
static void add_types(struct desc *x, const struct schema_keyspace *k)
{
	bool *done = calloc(k->n_types ? k->n_types : 1, sizeof(*done));
	if (!done) {
		x->oom = true;
		return;
	}
	for (uint32_t left = k->n_types, pass = 0; left && pass < k->n_types; pass++) {
		for (uint32_t i = 0; i < k->n_types; i++) {
			bool ready = !done[i];
			for (uint32_t j = 0; ready && j < k->n_types; j++)
				ready = j == i || done[j] ||
				        !schema_type_references(k->types[i], k->name,
				                                k->types[j]->udt_name);
			if (!ready)
				continue;
			add_type(x, k->types[i]);
			done[i] = true;
			left--;
		}
	}
	free(done);
}

/* The keyspace and everything in it: types (functions and aggregates do not exist), then
 * tables. */
static void add_keyspace_elements(struct desc *x, const struct schema_keyspace *k, bool only)
{
	add_keyspace(x, k);
	if (!only)
		add_types(x, k);
	for (uint32_t i = 0; !only && i < k->n_tables; i++)
		add_table(x, k->tables[i]);
}

static const struct schema_keyspace *find_ks(struct desc *x, const char *ks)
{
	const struct schema_keyspace *k = schema_snap_keyspace(x->snap, ks);
	if (!k)
		req_fail(x->q->req, COL_EINVAL, "'%s' not found in keyspaces", ks);
	return k;
}

/* The keyspace a named element is in: its own, else the session's. */
static const struct schema_keyspace *element_ks(struct desc *x)
{
	const char *ks = x->d->name.ks.name;
	if (!ks) {
		ks = x->q->req->session ? x->q->req->session->keyspace : "";
		if (!ks[0]) {
			req_fail(x->q->req, COL_EINVAL,
			         "No keyspace specified and no current keyspace");
			return NULL;
		}
	}
	return find_ks(x, ks);
}

static const char *session_ks(const struct desc *x)
{
	const char *ks = x->q->req->session ? x->q->req->session->keyspace : "";
	return ks[0] ? ks : NULL;
}

/* TABLES, TYPES, FUNCTIONS, AGGREGATES: the current keyspace's, or every keyspace's. */
static int describe_listing(struct desc *x)
{
	const char *cur = session_ks(x);
	if (cur && !find_ks(x, cur))
		return -1;
	for (uint32_t i = 0; i < x->snap->n_keyspaces; i++) {
		const struct schema_keyspace *k = x->snap->keyspaces[i];
		if (cur && strcmp(k->name, cur) != 0)
			continue;
		if (x->d->kind == CQL_DESC_TABLES)
			for (uint32_t j = 0; j < k->n_tables; j++)
				add_table(x, k->tables[j]);
		if (x->d->kind == CQL_DESC_TYPES)
			for (uint32_t j = 0; j < k->n_types; j++)
				add_type(x, k->types[j]);
	}
	return 0;
}

/* TYPE, FUNCTION, AGGREGATE, INDEX, MATERIALIZED VIEW: no such objects exist here. */
static int describe_missing(struct desc *x, const struct schema_keyspace *k)
{
	const char *n = x->d->name.name.name;
	switch (x->d->kind) {
	case CQL_DESC_TYPE:
		return req_fail(x->q->req, COL_EINVAL, "User defined type '%s' not found in '%s'",
		                n, k->name);
	case CQL_DESC_FUNCTION:
		return req_fail(x->q->req, COL_EINVAL,
		                "User defined function '%s' not found in '%s'", n, k->name);
	case CQL_DESC_AGGREGATE:
		return req_fail(x->q->req, COL_EINVAL,
		                "User defined aggregate '%s' not found in '%s'", n, k->name);
	case CQL_DESC_INDEX:
		return req_fail(x->q->req, COL_EINVAL,
		                "Table for existing index '%s' not found in '%s'", n, k->name);
	default:
		return req_fail(x->q->req, COL_EINVAL, "Materialized view '%s' not found in '%s'",
		                n, k->name);
	}
}

/* DESCRIBE name: a keyspace, else a table (index, view) of the given or current keyspace. */
static int describe_generic(struct desc *x)
{
	const struct cql_describe *d = x->d;
	const char *name = d->name.name.name;
	const struct schema_keyspace *k;
	if (!d->name.ks.name && (k = schema_snap_keyspace(x->snap, name))) {
		add_keyspace_elements(x, k, false);
		return 0;
	}
	const char *ks = d->name.ks.name ? d->name.ks.name : session_ks(x);
	if (!ks)
		ks = name;
	if (!(k = find_ks(x, ks)))
		return -1;
	const struct schema_table *t = schema_keyspace_table(k, name);
	const struct schema_index *ix = NULL;
	if (!t && (t = schema_keyspace_index(k, name, &ix)) != NULL) {
		add_index(x, t, ix);
		return 0;
	}
	if (!t)
		return req_fail(x->q->req, COL_EINVAL, "'%s' not found in keyspace '%s'", name, ks);
	add_table(x, t);
	return 0;
}

static int describe_collect(struct desc *x)
{
	const struct cql_describe *d = x->d;
	const struct schema_keyspace *k;
	switch (d->kind) {
	case CQL_DESC_KEYSPACES:
		for (uint32_t i = 0; i < x->snap->n_keyspaces; i++)
			add_keyspace(x, x->snap->keyspaces[i]);
		return 0;
	case CQL_DESC_SCHEMA:
		for (uint32_t i = 0; i < x->snap->n_keyspaces; i++) {
			k = x->snap->keyspaces[i];
			if (d->full || !schema_is_system_keyspace(k->name))
				add_keyspace_elements(x, k, false);
		}
		return 0;
	case CQL_DESC_KEYSPACE: {
		const char *ks = d->name.name.name ? d->name.name.name : session_ks(x);
		if (!ks)
			return req_fail(x->q->req, COL_EINVAL,
			                "No keyspace specified and no current keyspace");
		if (!(k = find_ks(x, ks)))
			return -1;
		add_keyspace_elements(x, k, d->only);
		return 0;
	}
	case CQL_DESC_TABLES:
	case CQL_DESC_TYPES:
	case CQL_DESC_FUNCTIONS:
	case CQL_DESC_AGGREGATES: return describe_listing(x);
	case CQL_DESC_TABLE: {
		if (!(k = element_ks(x)))
			return -1;
		const struct schema_table *t = schema_keyspace_table(k, d->name.name.name);
		if (!t)
			return req_fail(x->q->req, COL_EINVAL,
			                "Table '%s' not found in keyspace '%s'", d->name.name.name,
			                k->name);
		add_table(x, t);
		return 0;
	}
	case CQL_DESC_GENERIC: return describe_generic(x);
	case CQL_DESC_TYPE: {
		if (!(k = element_ks(x)))
			return -1;
		const struct cqltype *ut = schema_keyspace_type(k, d->name.name.name);
		if (!ut)
			return describe_missing(x, k);
		add_type(x, ut);
		return 0;
	}
	case CQL_DESC_INDEX: {
		if (!(k = element_ks(x)))
			return -1;
		const struct schema_index *ix = NULL;
		const struct schema_table *t = schema_keyspace_index(k, d->name.name.name, &ix);
		if (!t)
			return describe_missing(x, k);
		add_index(x, t, ix);
		return 0;
	}
	default:
		if (!(k = element_ks(x)))
			return -1;
		return describe_missing(x, k);
	}
}

/* ---- rows ------------------------------------------------------------------------------- */

#define PAGING_MAGIC "DSC1"

static void put_spec(struct buf *b, const char *name)
{
	cql_put_string(b, name);
	cql_put_short(b, CQLTYPE_VARCHAR);
}

static void put_text(struct buf *b, const char *s)
{
	cql_put_bytes(b, s, (int32_t)strlen(s));
}

/* The row offset a paging state asks for, or -1 (failed) for a foreign or stale one. */
static int64_t page_offset(struct desc *x)
{
	const struct cql_slice *ps = &x->q->paging_state;
	if (ps->len <= 0)
		return 0;
	if (ps->len != 28 || memcmp(ps->p, PAGING_MAGIC, 4) != 0) {
		req_fail(x->q->req, COL_EINVAL, "Invalid paging state.");
		return -1;
	}
	if (memcmp(ps->p + 4, x->snap->version, 16) != 0) {
		req_fail(x->q->req, COL_EINVAL,
		         "The schema has changed since the previous page of the DESCRIBE statement "
		         "result. Please retry the DESCRIBE statement.");
		return -1;
	}
	return (int64_t)be64_load(ps->p + 20);
}

static void write_rows(struct desc *x, int64_t off)
{
	struct buf *b = &x->q->req->body_out;
	size_t end = x->n;
	struct buf ps;
	buf_init(&ps);
	if (x->q->page_size > 0 && (size_t)off + (size_t)x->q->page_size < x->n) {
		end = (size_t)off + (size_t)x->q->page_size;
		buf_put(&ps, PAGING_MAGIC, 4);
		buf_put(&ps, x->snap->version, 16);
		uint8_t o[8];
		be64_store(o, (uint64_t)end);
		buf_put(&ps, o, 8);
	}
	int ncols = x->element ? 4 : 3;
	cql_put_int(b, CQL_RESULT_ROWS);
	int32_t flags = ps.len ? CQL_ROWS_HAS_MORE_PAGES : 0;
	if (x->q->skip_metadata)
		flags |= CQL_ROWS_NO_METADATA;
	else
		flags |= CQL_ROWS_GLOBAL_TABLES_SPEC;
	cql_put_int(b, flags);
	cql_put_int(b, ncols);
	if (ps.len)
		cql_put_bytes(b, ps.data, (int32_t)ps.len);
	if (!x->q->skip_metadata) {
		cql_put_string(b, "system");
		cql_put_string(b, "describe");
		put_spec(b, "keyspace_name");
		put_spec(b, "type");
		put_spec(b, "name");
		if (x->element)
			put_spec(b, "create_statement");
	}
	size_t start = (size_t)off < x->n ? (size_t)off : x->n;
	cql_put_int(b, (int32_t)(end - start));
	for (size_t i = start; i < end; i++) {
		put_text(b, x->rows[i].ks);
		put_text(b, x->rows[i].type);
		put_text(b, x->rows[i].name);
		if (x->element)
			put_text(b, x->rows[i].stmt);
	}
	buf_release(&ps);
}

/* ---- CLUSTER ----------------------------------------------------------------------------- */

/* range_ownership: {range end token: [replica, ...]} of the current keyspace's ring. */
static void put_ranges(struct buf *b, const struct ring *r, const struct replication *rep, int port)
{
	size_t at = b->len;
	cql_put_int(b, 0);
	size_t nt = ring_token_count(r);
	cql_put_int(b, (int32_t)nt);
	char tok[24];
	for (size_t i = 0; i < nt; i++) {
		size_t owner;
		int64_t t = ring_token_at(r, i, &owner);
		snprintf(tok, sizeof(tok), "%lld", (long long)t);
		put_text(b, tok);
		uint32_t idx[RING_MAX_DCS * RING_MAX_RF];
		size_t n = ring_replicas(r, rep, t, idx, sizeof(idx) / sizeof(idx[0]));
		size_t lat = b->len;
		cql_put_int(b, 0);
		size_t start = b->len;
		cql_put_int(b, (int32_t)n);
		for (size_t k = 0; k < n; k++) {
			/* Cassandra's InetAddressAndPort text: /address:port */
			char ep[RING_ADDR_MAX + 16];
			const char *a = ring_node_at(r, idx[k])->address;
			if (strchr(a, ':'))
				snprintf(ep, sizeof(ep), "/[%s]:%d", a, port);
			else
				snprintf(ep, sizeof(ep), "/%s:%d", a, port);
			put_text(b, ep);
		}
		buf_patch_u32be(b, lat, (uint32_t)(b->len - start));
	}
	buf_patch_u32be(b, at, (uint32_t)(b->len - at - 4));
}

static void describe_cluster(struct xq *q)
{
	const struct cluster_view *v = q->ex->d.view;
	const char *cur = q->req->session ? q->req->session->keyspace : "";
	const struct schema_keyspace *k = NULL;
	if (cur[0] && !schema_is_system_keyspace(cur))
		k = schema_snap_keyspace(q->snap, cur);
	struct replication rep;
	struct cerr e = {0};
	struct ring *r = NULL;
	if (k && v->ring_ref &&
	    replication_parse((const char *const *)k->repl_keys, (const char *const *)k->repl_vals,
	                      k->n_repl, &rep, &e) == 0)
		r = v->ring_ref(v->ctx);
	struct buf *b = &q->req->body_out;
	cql_put_int(b, CQL_RESULT_ROWS);
	cql_put_int(b, q->skip_metadata ? CQL_ROWS_NO_METADATA : CQL_ROWS_GLOBAL_TABLES_SPEC);
	cql_put_int(b, r ? 4 : 3);
	if (!q->skip_metadata) {
		cql_put_string(b, "system");
		cql_put_string(b, "describe");
		put_spec(b, "cluster");
		put_spec(b, "partitioner");
		put_spec(b, "snitch");
		if (r) {
			cql_put_string(b, "range_ownership");
			cql_put_short(b, CQLTYPE_MAP);
			cql_put_short(b, CQLTYPE_VARCHAR);
			cql_put_short(b, CQLTYPE_LIST);
			cql_put_short(b, CQLTYPE_VARCHAR);
		}
	}
	cql_put_int(b, 1);
	put_text(b, v->cluster_name ? v->cluster_name : "");
	put_text(b, "Murmur3Partitioner");
	put_text(b, v->snitch ? v->snitch : "SimpleSnitch");
	if (r) {
		put_ranges(b, r, &rep, v->storage_port ? v->storage_port : 7000);
		ring_unref(r);
	}
}

void describe_run(struct xq *q)
{
	const struct cql_describe *d = &q->plan->stmt->describe;
	if (d->kind == CQL_DESC_CLUSTER) {
		describe_cluster(q);
		xq_finish(q);
		return;
	}
	struct desc x = {.q = q, .snap = q->snap, .d = d};
	x.element = d->kind != CQL_DESC_KEYSPACES && d->kind != CQL_DESC_TABLES &&
	            d->kind != CQL_DESC_TYPES && d->kind != CQL_DESC_FUNCTIONS &&
	            d->kind != CQL_DESC_AGGREGATES;
	int64_t off = page_offset(&x);
	if (off >= 0 && describe_collect(&x) == 0) {
		if (x.oom)
			req_fail(q->req, COL_ENOMEM, "DESCRIBE: out of memory");
		else
			write_rows(&x, off);
	}
	for (size_t i = 0; i < x.n; i++) {
		free(x.rows[i].ks);
		free(x.rows[i].type);
		free(x.rows[i].name);
		free(x.rows[i].stmt);
	}
	free(x.rows);
	xq_finish(q);
}
