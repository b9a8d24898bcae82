#include "coordinator/query/systables.h"

#include "coordinator/query/tableopts.h"
#include "coordinator/schema/schema.h"
#include "storage/storage.h"
#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VT_COLS 32

/* A row under construction: values by column index, bytes in one buffer. */
struct rowb {
	const struct schema_table *t;
	struct buf data;
	size_t off[MAX_VT_COLS];
	int32_t len[MAX_VT_COLS];
	systables_row_fn emit;
	void *ctx;
	int rc;
};

static void rowb_start(struct rowb *r)
{
	buf_reset(&r->data);
	for (uint32_t i = 0; i < MAX_VT_COLS; i++)
		r->len[i] = -1;
}

static int col_index(const struct schema_table *t, const char *name)
{
	for (uint32_t i = 0; i < t->n_cols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void set_bytes(struct rowb *r, const char *col, const void *p, size_t n)
{
	int i = col_index(r->t, col);
	if (i < 0 || i >= MAX_VT_COLS)
		return;
	r->off[i] = r->data.len;
	r->len[i] = (int32_t)n;
	buf_put(&r->data, p, n);
}

static void set_text(struct rowb *r, const char *col, const char *s)
{
	if (s)
		set_bytes(r, col, s, strlen(s));
}

static void set_int(struct rowb *r, const char *col, int32_t v)
{
	uint8_t b[4];
	be32_store(b, (uint32_t)v);
	set_bytes(r, col, b, 4);
}

static void set_double(struct rowb *r, const char *col, double d)
{
	uint64_t u;
	memcpy(&u, &d, 8);
	uint8_t b[8];
	be64_store(b, u);
	set_bytes(r, col, b, 8);
}

static void set_bool(struct rowb *r, const char *col, bool v)
{
	uint8_t b = v ? 1 : 0;
	set_bytes(r, col, &b, 1);
}

/* Collections of text: set/list ([int n] + n x [int len][bytes]), map (pairs). */
static void set_text_coll(struct rowb *r, const char *col, const char *const *items, size_t n)
{
	int i = col_index(r->t, col);
	if (i < 0 || i >= MAX_VT_COLS)
		return;
	r->off[i] = r->data.len;
	buf_put_u32be(&r->data, (uint32_t)n);
	for (size_t k = 0; k < n; k++) {
		size_t l = strlen(items[k]);
		buf_put_u32be(&r->data, (uint32_t)l);
		buf_put(&r->data, items[k], l);
	}
	r->len[i] = (int32_t)(r->data.len - r->off[i]);
}

static void set_text_map(struct rowb *r, const char *col, const char *const *kv, size_t npairs)
{
	set_text_coll(r, col, kv, npairs * 2);
	int i = col_index(r->t, col);
	if (i >= 0 && i < MAX_VT_COLS)
		be32_store(r->data.data + r->off[i], (uint32_t)npairs);
}

static int rowb_emit(struct rowb *r)
{
	if (r->rc)
		return r->rc;
	if (!buf_ok(&r->data))
		return r->rc = COL_ENOMEM;
	struct cql_slice vals[MAX_VT_COLS];
	for (uint32_t i = 0; i < r->t->n_cols && i < MAX_VT_COLS; i++) {
		vals[i].len = r->len[i];
		vals[i].p = r->len[i] >= 0 ? r->data.data + r->off[i] : NULL;
	}
	r->rc = r->emit(r->ctx, vals);
	return r->rc;
}

/* ---- system.local / system.peers ------------------------------------------------------------ */

struct node_ctx {
	struct rowb *r;
	const struct schema_snap *snap;
	const struct cluster_view *view;
	bool local;
	bool v2; /* system.peers_v2 */
};

static void token_strings(const struct cluster_node_info *n, char (*buf)[24], const char **ptrs,
                          size_t max)
{
	for (size_t i = 0; i < n->n_tokens && i < max; i++) {
		snprintf(buf[i], 24, "%lld", (long long)n->tokens[i]);
		ptrs[i] = buf[i];
	}
}

#define MAX_TOKENS 1024

static void emit_node(void *ectx, const struct cluster_node_info *n)
{
	struct node_ctx *nc = ectx;
	struct rowb *r = nc->r;
	if (r->rc)
		return;
	int sport = nc->view->storage_port ? nc->view->storage_port : 7000;
	int nport = nc->view->native_port ? nc->view->native_port : 9042;
	rowb_start(r);
	if (nc->local) {
		set_int(r, "broadcast_port", sport);
		set_int(r, "listen_port", sport);
		set_int(r, "rpc_port", nport);
		set_text(r, "key", "local");
		set_text(r, "bootstrapped", "COMPLETED");
		set_bytes(r, "broadcast_address", n->addr, n->addr_len);
		set_bytes(r, "listen_address", n->addr, n->addr_len);
		set_text(r, "cluster_name", nc->view->cluster_name);
		set_text(r, "cql_version", SYSTABLES_CQL_VERSION);
		set_int(r, "gossip_generation", nc->view->gossip_generation);
		set_text(r, "native_protocol_version", "4");
		set_text(r, "partitioner", SYSTABLES_PARTITIONER);
		set_bytes(r, "schema_version", nc->snap->version, 16);
	} else {
		set_bytes(r, "peer", n->addr, n->addr_len);
		set_bytes(r, "preferred_ip", n->addr, n->addr_len);
		if (nc->v2) {
			set_int(r, "peer_port", sport);
			set_int(r, "preferred_port", sport);
			set_bytes(r, "native_address", n->rpc_addr, n->rpc_addr_len);
			set_int(r, "native_port", nport);
		}
		if (n->has_schema_version)
			set_bytes(r, "schema_version", n->schema_version, 16);
	}
	set_text(r, "data_center", n->dc);
	set_text(r, "rack", n->rack);
	set_bytes(r, "host_id", n->host_id, 16);
	set_text(r, "release_version", SYSTABLES_RELEASE_VERSION);
	set_bytes(r, "rpc_address", n->rpc_addr, n->rpc_addr_len);
	if (n->n_tokens) {
		size_t nt = n->n_tokens < MAX_TOKENS ? n->n_tokens : MAX_TOKENS;
		char(*tb)[24] = malloc(nt * 24);
		const char **tp = malloc(nt * sizeof(*tp));
		if (!tb || !tp) {
			free(tb);
			free(tp);
			r->rc = COL_ENOMEM;
			return;
		}
		token_strings(n, tb, tp, nt);
		set_text_coll(r, "tokens", tp, nt);
		free(tb);
		free(tp);
	}
	rowb_emit(r);
}

/* ---- system_schema ------------------------------------------------------------------------ */

static void keyspace_rows(struct rowb *r, const struct schema_keyspace *k)
{
	rowb_start(r);
	set_text(r, "keyspace_name", k->name);
	set_bool(r, "durable_writes", k->durable_writes);
	const char *kv[130];
	size_t n = 0;
	/* map<text,text> is sorted by key, as Cassandra stores it */
	const char *keys[64];
	uint32_t nk = k->n_repl < 64 ? k->n_repl : 64;
	for (uint32_t i = 0; i < nk; i++)
		keys[i] = k->repl_keys[i];
	uint32_t order[64];
	for (uint32_t i = 0; i < nk; i++)
		order[i] = i;
	for (uint32_t i = 1; i < nk; i++)
		for (uint32_t j = i; j > 0 && strcmp(keys[order[j - 1]], keys[order[j]]) > 0; j--) {
			uint32_t t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (uint32_t i = 0; i < nk; i++) {
		kv[n++] = k->repl_keys[order[i]];
		kv[n++] = k->repl_vals[order[i]];
	}
	set_text_map(r, "replication", kv, n / 2);
	rowb_emit(r);
}

static void table_row(struct rowb *r, const struct schema_table *t)
{
	struct table_opts o;
	table_opts_get(t, &o);
	rowb_start(r);
	set_text(r, "keyspace_name", t->ks->name);
	set_text(r, "table_name", t->name);
	set_text(r, "additional_write_policy", o.additional_write_policy);
	set_double(r, "bloom_filter_fp_chance", o.bloom_filter_fp_chance);
	set_text_map(r, "caching", o.caching, o.n_caching);
	set_bool(r, "cdc", o.cdc);
	set_text(r, "comment", o.comment);
	set_text_map(r, "compaction", o.compaction, o.n_compaction);
	set_text_map(r, "compression", o.compression, o.n_compression);
	set_double(r, "crc_check_chance", o.crc_check_chance);
	set_int(r, "default_time_to_live", o.default_time_to_live);
	set_text_map(r, "extensions", NULL, 0);
	static const char *const flags[] = {"compound"};
	set_text_coll(r, "flags", flags, 1);
	set_int(r, "gc_grace_seconds", o.gc_grace_seconds);
	set_bytes(r, "id", t->id, 16);
	set_int(r, "max_index_interval", o.max_index_interval);
	set_int(r, "memtable_flush_period_in_ms", o.memtable_flush_period_in_ms);
	set_int(r, "min_index_interval", o.min_index_interval);
	set_text(r, "read_repair", o.read_repair);
	set_text(r, "speculative_retry", o.speculative_retry);
	rowb_emit(r);
}

/* system_virtual_schema.tables: one row per table of a virtual keyspace. */
static void virtual_table_row(struct rowb *r, const struct schema_table *t)
{
	rowb_start(r);
	set_text(r, "keyspace_name", t->ks->name);
	set_text(r, "table_name", t->name);
	set_text(r, "comment", t->comment ? t->comment : "");
	rowb_emit(r);
}

static void column_rows(struct rowb *r, const struct schema_table *t, struct buf *tmp)
{
	/* Cassandra orders this table by column_name (its clustering column). */
	uint32_t order[512];
	uint32_t n = t->n_cols < 512 ? t->n_cols : 512;
	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	for (uint32_t i = 1; i < n; i++)
		for (uint32_t j = i;
		     j > 0 && strcmp(t->cols[order[j - 1]].name, t->cols[order[j]].name) > 0; j--) {
			uint32_t x = order[j];
			order[j] = order[j - 1];
			order[j - 1] = x;
		}
	for (uint32_t k = 0; k < n && !r->rc; k++) {
		const struct schema_column *c = &t->cols[order[k]];
		rowb_start(r);
		set_text(r, "keyspace_name", t->ks->name);
		set_text(r, "table_name", t->name);
		set_text(r, "column_name", c->name);
		set_text(r, "clustering_order",
		         c->kind == SCHEMA_COL_CLUSTERING ? (c->desc ? "desc" : "asc") : "none");
		set_bytes(r, "column_name_bytes", c->name, strlen(c->name));
		set_text(r, "kind", schema_col_kind_name(c->kind));
		set_int(r, "position", c->position);
		buf_reset(tmp);
		cqltype_name(c->type, tmp);
		set_bytes(r, "type", tmp->data, tmp->len);
		rowb_emit(r);
	}
}

static void set_i64(struct rowb *r, const char *col, int64_t v)
{
	uint8_t b[8];
	be64_store(b, (uint64_t)v);
	set_bytes(r, col, b, 8);
}

static int emit_repair(void *ectx, const struct repair_history_info *h)
{
	struct rowb *r = ectx;
	char t[24];
	rowb_start(r);
	set_text(r, "keyspace_name", h->keyspace);
	set_text(r, "table_name", h->table);
	set_i64(r, "finished_at", h->finished_ms);
	set_i64(r, "started_at", h->started_ms);
	snprintf(t, sizeof(t), "%lld", (long long)h->start);
	set_text(r, "range_start", t);
	snprintf(t, sizeof(t), "%lld", (long long)h->end);
	set_text(r, "range_end", t);
	set_i64(r, "leaves_differing", (int64_t)h->leaves_differing);
	set_i64(r, "bytes_streamed", (int64_t)h->bytes);
	set_text(r, "outcome", h->outcome);
	rowb_emit(r);
	return r->rc;
}

/* system_schema.dropped_columns: t's dropped list is sorted by name already. */
static void dropped_column_rows(struct rowb *r, const struct schema_table *t, struct buf *tmp)
{
	for (uint32_t k = 0; k < t->n_dropped && !r->rc; k++) {
		const struct schema_dropped_column *d = &t->dropped[k];
		rowb_start(r);
		set_text(r, "keyspace_name", t->ks->name);
		set_text(r, "table_name", t->name);
		set_text(r, "column_name", d->name);
		set_i64(r, "dropped_time", d->dropped_time / 1000);
		set_text(r, "kind", schema_col_kind_name(d->kind));
		buf_reset(tmp);
		cqltype_name(d->type, tmp);
		set_bytes(r, "type", tmp->data, tmp->len);
		rowb_emit(r);
	}
}

/* system_schema.types: field names and field types (CQL text) in field order. */
static void type_rows(struct rowb *r, const struct schema_keyspace *k, struct buf *tmp)
{
	for (uint32_t i = 0; i < k->n_types && !r->rc; i++) {
		const struct cqltype *ut = k->types[i];
		const char **texts = calloc(ut->n_fields, sizeof(*texts));
		size_t *at = calloc(ut->n_fields, sizeof(*at));
		if (!texts || !at) {
			free(texts);
			free(at);
			r->rc = COL_ENOMEM;
			return;
		}
		buf_reset(tmp);
		for (uint32_t f = 0; f < ut->n_fields; f++) {
			at[f] = tmp->len;
			cqltype_name(ut->fields[f], tmp);
			buf_put_u8(tmp, 0);
		}
		for (uint32_t f = 0; buf_ok(tmp) && f < ut->n_fields; f++)
			texts[f] = (const char *)tmp->data + at[f];
		rowb_start(r);
		set_text(r, "keyspace_name", k->name);
		set_text(r, "type_name", ut->udt_name);
		set_text_coll(r, "field_names", (const char *const *)ut->field_names, ut->n_fields);
		if (buf_ok(tmp))
			set_text_coll(r, "field_types", texts, ut->n_fields);
		else
			r->rc = COL_ENOMEM;
		free(texts);
		free(at);
		if (!r->rc)
			rowb_emit(r);
	}
}

/* system_schema.indexes: kind COMPOSITES and the target option, as Cassandra 4.0 lists them. */
static void index_rows(struct rowb *r, const struct schema_table *t)
{
	for (uint32_t k = 0; k < t->n_indexes && !r->rc; k++) {
		const struct schema_index *ix = &t->indexes[k];
		char target[2 * SCHEMA_NAME_MAX + 16];
		schema_index_target(ix, schema_table_column(t, ix->column), target, sizeof(target));
		const char *kv[2] = {"target", target};
		rowb_start(r);
		set_text(r, "keyspace_name", t->ks->name);
		set_text(r, "table_name", t->name);
		set_text(r, "index_name", ix->name);
		set_text(r, "kind", "COMPOSITES");
		set_text_map(r, "options", kv, 1);
		rowb_emit(r);
	}
}

/*
 * system."IndexInfo": this node's built indexes, keyed by keyspace as in Cassandra.
 * An index is listed once this node's store has built it over the data that was
 * there when it was created (storage.h, SECONDARY INDEXES); queries on it are
 * refused until then on this replica.
 */
static void index_info_rows(struct rowb *r, const struct schema_snap *snap)
{
	for (uint32_t i = 0; i < snap->n_keyspaces && !r->rc; i++) {
		const struct schema_keyspace *k = snap->keyspaces[i];
		for (uint32_t j = 0; !k->virtual_ && j < k->n_tables && !r->rc; j++) {
			const struct schema_table *t = k->tables[j];
			for (uint32_t x = 0; x < t->n_indexes && !r->rc; x++) {
				struct store_index si;
				if (!t->st || !schema_index_store(t, &t->indexes[x], &si) ||
				    !store_index_built(t->st, &si))
					continue;
				rowb_start(r);
				set_text(r, "table_name", k->name);
				set_text(r, "index_name", t->indexes[x].name);
				rowb_emit(r);
			}
		}
	}
}

int systables_scan(const struct schema_snap *snap, const struct cluster_view *view,
                   const struct schema_table *t, const char *ks_filter, const char *name_filter,
                   systables_row_fn emit, void *ctx)
{
	if (t->n_cols > MAX_VT_COLS)
		return COL_EINVAL;
	struct rowb r = {.t = t, .emit = emit, .ctx = ctx};
	buf_init(&r.data);
	const char *ks = t->ks->name;
	int rc = 0;
	if (strcmp(ks, "system") == 0) {
		struct node_ctx nc = {.r = &r, .snap = snap, .view = view};
		if (strcmp(t->name, "local") == 0) {
			nc.local = true;
			view->local(view->ctx, emit_node, &nc);
		} else if (strcmp(t->name, "peers") == 0 || strcmp(t->name, "peers_v2") == 0) {
			nc.v2 = t->name[5] == '_';
			view->peers(view->ctx, emit_node, &nc);
		} else if (strcmp(t->name, "IndexInfo") == 0) {
			index_info_rows(&r, snap);
		} else if (strcmp(t->name, "repair_history") == 0) {
			if (view->repair_history)
				view->repair_history(view->ctx, emit_repair, &r);
		} else {
			rc = COL_ENOTFOUND;
		}
	} else if (strcmp(ks, "system_schema") == 0 || strcmp(ks, "system_virtual_schema") == 0) {
		/* system_schema lists the keyspaces system_virtual_schema does not */
		bool vschema = strcmp(ks, "system_virtual_schema") == 0;
		struct buf tmp;
		buf_init(&tmp);
		for (uint32_t i = 0; i < snap->n_keyspaces && !r.rc; i++) {
			const struct schema_keyspace *k = snap->keyspaces[i];
			if ((ks_filter && strcmp(k->name, ks_filter) != 0) ||
			    k->in_virtual_schema != vschema)
				continue;
			if (strcmp(t->name, "keyspaces") == 0) {
				if (vschema) {
					rowb_start(&r);
					set_text(&r, "keyspace_name", k->name);
					rowb_emit(&r);
				} else {
					keyspace_rows(&r, k);
				}
				continue;
			}
			if (strcmp(t->name, "types") == 0) {
				if (!vschema)
					type_rows(&r, k, &tmp);
				continue;
			}
			bool tables = strcmp(t->name, "tables") == 0;
			bool columns = strcmp(t->name, "columns") == 0;
			bool dropped = strcmp(t->name, "dropped_columns") == 0;
			bool indexes = strcmp(t->name, "indexes") == 0 && !vschema;
			if (!tables && !columns && !dropped && !indexes)
				continue; /* types, functions, ...: empty */
			for (uint32_t j = 0; j < k->n_tables && !r.rc; j++) {
				const struct schema_table *tt = k->tables[j];
				if (name_filter && strcmp(tt->name, name_filter) != 0)
					continue;
				if (tables && vschema)
					virtual_table_row(&r, tt);
				else if (tables)
					table_row(&r, tt);
				else if (columns)
					column_rows(&r, tt, &tmp);
				else if (indexes)
					index_rows(&r, tt);
				else
					dropped_column_rows(&r, tt, &tmp);
			}
		}
		buf_release(&tmp);
	} else {
		rc = COL_ENOTFOUND;
	}
	buf_release(&r.data);
	return rc ? rc : r.rc;
}
