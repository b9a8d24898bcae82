#include "coordinator/query/query_int.h"

#include "coordinator/query/prepared.h"
#include "core/cqltype.h"

const char *exec_change_name(enum exec_change c)
{
	return c == EXEC_CHANGE_CREATED   ? "CREATED"
	       : c == EXEC_CHANGE_UPDATED ? "UPDATED"
	                                  : "DROPPED";
}

const char *exec_target_name(enum exec_target t)
{
	return t == EXEC_TARGET_KEYSPACE ? "KEYSPACE" : "TABLE";
}

void exec_schema_change_encode(struct buf *out, enum exec_change c, enum exec_target t,
                               const char *ks, const char *table)
{
	cql_put_string(out, exec_change_name(c));
	cql_put_string(out, exec_target_name(t));
	cql_put_string(out, ks);
	if (t == EXEC_TARGET_TABLE)
		cql_put_string(out, table);
}

void put_col_specs(struct buf *b, const struct plan *p, const char *ks, const char *table)
{
	cql_put_string(b, ks);
	cql_put_string(b, table);
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
	cql_put_int(b, (int32_t)p->n_sel);
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
		cql_put_int(b, (int32_t)p->n_sel);
		if (p->n_sel)
			put_col_specs(b, p, p->ks, p->table_name);
	} else {
		cql_put_int(b, CQL_ROWS_NO_METADATA);
		cql_put_int(b, 0);
	}
}
