#include "coordinator/query/query_int.h"

#include "coordinator/query/prepared.h"
#include "core/cqltype.h"
#include "core/json.h"

#include <ctype.h>
#include <string.h>

/* SELECT JSON's one result column. */
static const char *const JSON_COLUMN = "[json]";

static uint32_t n_result_cols(const struct plan *p)
{
	return p->json ? 1 : p->n_sel;
}

/* A JSON key as Cassandra writes it: the name, double-quoted inside when it has upper case. */
static void put_json_key(struct buf *out, const char *name)
{
	bool upper = false;
	for (const char *c = name; *c; c++)
		upper = upper || isupper((unsigned char)*c);
	if (!upper) {
		json_put_string(out, name, strlen(name));
		return;
	}
	struct buf q;
	buf_init(&q);
	buf_put_u8(&q, '"');
	buf_put_str(&q, name);
	buf_put_u8(&q, '"');
	if (!buf_ok(&q))
		out->oom = true;
	json_put_string(out, (const char *)q.data, q.len);
	buf_release(&q);
}

void json_row_rewrite(const struct plan *p, struct buf *b, size_t at)
{
	if (!p->json || !buf_ok(b))
		return;
	struct buf obj;
	buf_init(&obj);
	struct bufreader r;
	bufreader_init(&r, b->data + at, b->len - at);
	buf_put_u8(&obj, '{');
	for (uint32_t i = 0; i < p->n_sel; i++) {
		if (i)
			buf_put_str(&obj, ", ");
		put_json_key(&obj, p->sel[i].name ? p->sel[i].name : "?");
		buf_put_str(&obj, ": ");
		int32_t l = bufreader_left(&r) >= 4 ? (int32_t)bufreader_u32be(&r) : -1;
		const uint8_t *v = l > 0 ? bufreader_take(&r, (size_t)l) : NULL;
		if (l < 0 || (l > 0 && !v))
			buf_put_str(&obj, "null");
		else
			cqltype_to_json(p->sel[i].type, v ? v : (const uint8_t *)"", (size_t)l,
			                &obj);
	}
	buf_put_u8(&obj, '}');
	b->len = at;
	if (!buf_ok(&obj))
		b->oom = true;
	else
		cql_put_bytes(b, obj.data, (int32_t)obj.len);
	buf_release(&obj);
}

const char *exec_change_name(enum exec_change c)
{
	return c == EXEC_CHANGE_CREATED   ? "CREATED"
	       : c == EXEC_CHANGE_UPDATED ? "UPDATED"
	                                  : "DROPPED";
}

const char *exec_target_name(enum exec_target t)
{
	return t == EXEC_TARGET_KEYSPACE ? "KEYSPACE" : t == EXEC_TARGET_TYPE ? "TYPE" : "TABLE";
}

void exec_schema_change_encode(struct buf *out, enum exec_change c, enum exec_target t,
                               const char *ks, const char *table)
{
	cql_put_string(out, exec_change_name(c));
	cql_put_string(out, exec_target_name(t));
	cql_put_string(out, ks);
	if (t != EXEC_TARGET_KEYSPACE) /* TABLE or TYPE: its name */
		cql_put_string(out, table);
}

void put_col_specs(struct buf *b, const struct plan *p, const char *ks, const char *table)
{
	cql_put_string(b, ks);
	cql_put_string(b, table);
	if (p->json) {
		cql_put_string(b, JSON_COLUMN);
		cqltype_write_option(cqltype_simple(CQLTYPE_VARCHAR), b);
		return;
	}
	for (uint32_t i = 0; i < p->n_sel; i++) {
		cql_put_string(b, p->sel[i].name ? p->sel[i].name : "?");
		cqltype_write_option(p->sel[i].type, b);
	}
}

/* Rows metadata; returns the offset of rows_count to patch. */
size_t begin_rows(struct buf *b, const struct plan *p, bool no_meta, const struct buf *paging)
{
	cql_put_int(b, CQL_RESULT_ROWS);
	int32_t flags = 0;
	if (paging && paging->len)
		flags |= CQL_ROWS_HAS_MORE_PAGES;
	if (no_meta)
		flags |= CQL_ROWS_NO_METADATA;
	else if (p->n_sel)
		flags |= CQL_ROWS_GLOBAL_TABLES_SPEC;
	cql_put_int(b, flags);
	cql_put_int(b, (int32_t)n_result_cols(p));
	if (paging && paging->len)
		cql_put_bytes(b, paging->data, (int32_t)paging->len);
	if (!no_meta && p->n_sel)
		put_col_specs(b, p, p->ks, p->table_name);
	size_t at = b->len;
	cql_put_int(b, 0);
	return at;
}

void put_prepared(struct buf *b, const struct prepared_stmt *ps, const struct plan *p)
{
	cql_put_int(b, CQL_RESULT_PREPARED);
	cql_put_short_bytes(b, ps->id, PREPARED_ID_LEN);
	/* bind variables metadata */
	cql_put_int(b, p->n_binds ? CQL_ROWS_GLOBAL_TABLES_SPEC : 0);
	cql_put_int(b, (int32_t)p->n_binds);
	cql_put_int(b, (int32_t)p->n_pk_idx);
	for (uint32_t i = 0; i < p->n_pk_idx; i++)
		cql_put_short(b, p->pk_idx[i]);
	if (p->n_binds) {
		cql_put_string(b, p->ks);
		cql_put_string(b, p->table_name);
		for (uint32_t i = 0; i < p->n_binds; i++) {
			cql_put_string(b, p->bind_names[i]);
			cqltype_write_option(p->bind_types[i], b);
		}
	}
	/* result metadata */
	if (p->stmt->kind == CQL_STMT_SELECT) {
		cql_put_int(b, p->n_sel ? CQL_ROWS_GLOBAL_TABLES_SPEC : 0);
		cql_put_int(b, (int32_t)n_result_cols(p));
		if (p->n_sel)
			put_col_specs(b, p, p->ks, p->table_name);
	} else {
		cql_put_int(b, CQL_ROWS_NO_METADATA);
		cql_put_int(b, 0);
	}
}
