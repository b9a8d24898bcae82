/*
 * index_ddl.c — CREATE INDEX and DROP INDEX: which columns and targets may be
 * indexed (Cassandra's rules and messages), the default index name, and the
 * schema change (the catalogue's 'I' rows, announced by schema sync like any
 * DDL).  How an index answers queries is in docs/CQL-SERVER.md (Secondary
 * indexes).
 */
#include "coordinator/query/query_int.h"

#include "core/cqltype.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static void index_changed(struct executor *ex, struct exec_req *req, const char *ks,
                          const char *table)
{
	cql_put_int(&req->body_out, CQL_RESULT_SCHEMA_CHANGE);
	exec_schema_change_encode(&req->body_out, EXEC_CHANGE_UPDATED, EXEC_TARGET_TABLE, ks,
	                          table);
	if (ex->d.on_schema_event)
		ex->d.on_schema_event(ex->d.event_ctx, EXEC_CHANGE_UPDATED, EXEC_TARGET_TABLE, ks,
		                      table);
}

/* The target a column may be indexed with, or a refusal in Cassandra's words. */
static int check_target(struct exec_req *req, const struct schema_table *t,
                        const struct schema_column *c, enum cql_index_target tg,
                        enum schema_index_kind *kind)
{
	const struct cqltype *ty = c->type;
	bool coll = cqltype_is_collection(ty);
	if (c->kind == SCHEMA_COL_PARTITION_KEY && t->n_pk == 1)
		return req_fail(req, COL_EINVAL,
		                "Cannot create secondary index on the only partition key column %s",
		                c->name);
	if (ty->kind == CQLTYPE_DURATION)
		return req_fail(req, COL_EINVAL,
		                "Secondary indexes are not supported on duration "
		                "columns");
	switch (tg) {
	case CQL_INDEX_FULL:
		if (!coll || !ty->frozen)
			return req_fail(req, COL_EINVAL,
			                "full() indexes can only be created on frozen collections");
		*kind = SCHEMA_INDEX_FULL;
		return 0;
	case CQL_INDEX_KEYS:
	case CQL_INDEX_ENTRIES:
		if (ty->kind != CQLTYPE_MAP)
			return req_fail(req, COL_EINVAL,
			                "Cannot create index on %s of column %s with non-map type",
			                tg == CQL_INDEX_KEYS ? "keys" : "entries", c->name);
		if (ty->frozen)
			return req_fail(req, COL_EINVAL,
			                "Cannot create %s() index on frozen column %s. Frozen "
			                "collections only support full() indexes",
			                tg == CQL_INDEX_KEYS ? "keys" : "entries", c->name);
		*kind = tg == CQL_INDEX_KEYS ? SCHEMA_INDEX_KEYS : SCHEMA_INDEX_ENTRIES;
		return 0;
	case CQL_INDEX_VALUES:
		if (!coll)
			return req_fail(
			        req, COL_EINVAL,
			        "Cannot create values() index on %s. Non-collection columns "
			        "only support simple indexes",
			        c->name);
		/* fall through */
	default:
		if (ty->kind == CQLTYPE_UDT && cqltype_is_multicell(ty))
			return req_fail(req, COL_EINVAL,
			                "Cannot create index on non-frozen UDT column %s", c->name);
		if (coll && ty->frozen)
			return req_fail(req, COL_EINVAL,
			                "Cannot create values() index on frozen column %s. Frozen "
			                "collections only support full() indexes",
			                c->name);
		*kind = SCHEMA_INDEX_VALUE;
		return 0;
	}
}

/* Cassandra's default name: table_column_idx (word characters only), then _1, _2, ... */
static void default_name(const struct schema_keyspace *k, const char *table, const char *col,
                         char *out, size_t n)
{
	char base[SCHEMA_NAME_MAX + 1];
	char raw[2 * SCHEMA_NAME_MAX + 8];
	snprintf(raw, sizeof(raw), "%s_%s_idx", table, col);
	size_t j = 0;
	for (size_t i = 0; raw[i] && j + 1 < sizeof(base) && j + 3 < n; i++)
		if (isalnum((unsigned char)raw[i]) || raw[i] == '_')
			base[j++] = raw[i];
	base[j] = 0;
	snprintf(out, n, "%s", base);
	for (int i = 1; schema_keyspace_index(k, out, NULL) && i < 1000; i++)
		snprintf(out, n, "%.*s_%d", SCHEMA_NAME_MAX - 5, base, i);
}

/* An index on the same target of the same column: its name, else NULL. */
static const char *duplicate_of(const struct schema_table *t, const char *col,
                                enum schema_index_kind kind)
{
	for (uint32_t i = 0; i < t->n_indexes; i++)
		if (t->indexes[i].kind == kind && strcmp(t->indexes[i].column, col) == 0)
			return t->indexes[i].name;
	return NULL;
}

int exec_create_index(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                      int64_t ts)
{
	const struct cql_create_index *ci = &st->create_index;
	struct plan tbl = {0};
	int rc = resolve_table(req, ex->snap, &ci->table, &tbl);
	if (rc)
		return rc;
	const struct schema_table *t = tbl.table;
	if (t->virtual_)
		return req_fail(req, COL_EINVAL, "%s keyspace is not user-modifiable.", tbl.ks);
	const struct schema_column *c = schema_table_column(t, ci->column.name);
	if (!c)
		return req_fail(req, COL_EINVAL, "Column '%s' doesn't exist", ci->column.name);
	enum schema_index_kind kind = SCHEMA_INDEX_VALUE;
	if ((rc = check_target(req, t, c, ci->target, &kind)))
		return rc;
	const struct schema_keyspace *k = t->ks;
	char name[SCHEMA_NAME_MAX + 1];
	if (ci->name.name)
		snprintf(name, sizeof(name), "%s", ci->name.name);
	else
		default_name(k, t->name, c->name, name, sizeof(name));
	bool exists = schema_keyspace_index(k, name, NULL) != NULL;
	const char *dup = duplicate_of(t, c->name, kind);
	if ((exists || dup) && ci->if_not_exists) {
		cql_put_int(&req->body_out, CQL_RESULT_VOID);
		return 0;
	}
	if (exists)
		return req_fail(req, COL_EINVAL, "Index '%s' already exists", name);
	if (dup)
		return req_fail(req, COL_EINVAL, "Index %s is a duplicate of existing index %s",
		                name, dup);
	struct cerr e = {0};
	rc = schema_create_index(ex->d.schema, tbl.ks, t->name, name, c->name, kind, ts, &e);
	if (rc)
		return req_fail_cerr(req, rc == COL_EEXIST ? COL_EINVAL : rc, &e);
	index_changed(ex, req, tbl.ks, t->name);
	return 0;
}

int exec_drop_index(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                    int64_t ts)
{
	const struct cql_drop_index *di = &st->drop_index;
	const char *ks = qname_ks(&di->index, req->session);
	if (!ks)
		return req_fail(req, COL_EINVAL,
		                "No keyspace has been specified. USE a keyspace, or "
		                "explicitly specify keyspace.tablename");
	const struct schema_keyspace *k = schema_snap_keyspace(ex->snap, ks);
	const struct schema_table *t =
	        k ? schema_keyspace_index(k, di->index.name.name, NULL) : NULL;
	if (!t) {
		if (di->if_exists) {
			cql_put_int(&req->body_out, CQL_RESULT_VOID);
			return 0;
		}
		return req_fail(req, COL_EINVAL, "Index '%s.%s' doesn't exist", ks,
		                di->index.name.name);
	}
	struct cerr e = {0};
	char table[SCHEMA_NAME_MAX + 1];
	snprintf(table, sizeof(table), "%s", t->name);
	int rc = schema_drop_index(ex->d.schema, ks, di->index.name.name, ts, &e);
	if (rc)
		return req_fail_cerr(req, rc == COL_ENOTFOUND ? COL_EINVAL : rc, &e);
	index_changed(ex, req, ks, table);
	return 0;
}
