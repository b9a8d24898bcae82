/*
 * type_ddl.c — CREATE TYPE, ALTER TYPE ... ADD / RENAME and DROP TYPE: the
 * statement's keyspace, its field types parsed with the keyspace's user types,
 * IF [NOT] EXISTS, and the schema change (the catalogue's 'Y' rows, announced
 * by schema sync like any DDL; coordinator/schema/schema_types.c has the rules
 * and Cassandra's messages).
 */
#include "coordinator/query/query_int.h"

#include "core/cqltype.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void type_changed(struct executor *ex, struct exec_req *req, enum exec_change c,
                         const char *ks, const char *name)
{
	cql_put_int(&req->body_out, CQL_RESULT_SCHEMA_CHANGE);
	exec_schema_change_encode(&req->body_out, c, EXEC_TARGET_TYPE, ks, name);
	if (ex->d.on_schema_event)
		ex->d.on_schema_event(ex->d.event_ctx, c, EXEC_TARGET_TYPE, ks, name);
}

int exec_parse_column_type(struct exec_req *req, const struct schema_keyspace *k, const char *what,
                           const struct cql_column_def *cd, const struct cqltype **out)
{
	struct cerr e = {0};
	const char *text = cd->type->text;
	if (cqltype_parse_in(text, strlen(text), schema_resolve_type, (void *)k, out, &e))
		return req_fail(req, COL_EINVAL, "%s%s", what ? what : "", e.msg);
	return 0;
}

/* Parsed field types of fields[0..n) into types (freed by the caller, also on failure). */
static int field_types(struct exec_req *req, const struct schema_keyspace *k,
                       const struct cql_column_def *fields, uint32_t n,
                       const struct cqltype **types, const char **names)
{
	for (uint32_t i = 0; i < n; i++) {
		names[i] = fields[i].name.name;
		int rc = exec_parse_column_type(req, k, NULL, &fields[i], &types[i]);
		if (rc)
			return rc;
	}
	return 0;
}

static int schema_fail(struct exec_req *req, int rc, struct cerr *e)
{
	return req_fail_cerr(req, rc == COL_EEXIST || rc == COL_ENOTFOUND ? COL_EINVAL : rc, e);
}

static int create_type(struct executor *ex, struct exec_req *req, const struct cql_type_stmt *q,
                       const char *ks, const struct schema_keyspace *k, int64_t ts)
{
	const char *name = q->type.name.name;
	if (schema_keyspace_type(k, name) && q->if_not_exists) {
		cql_put_int(&req->body_out, CQL_RESULT_VOID);
		return 0;
	}
	if (q->n_fields > CQLTYPE_MAX_FIELDS)
		return req_fail(req, COL_EINVAL, "A user type may have at most %d fields",
		                CQLTYPE_MAX_FIELDS);
	const struct cqltype *types[CQLTYPE_MAX_FIELDS] = {0};
	const char *names[CQLTYPE_MAX_FIELDS] = {0};
	int rc = field_types(req, k, q->fields, q->n_fields, types, names);
	struct cerr e = {0};
	if (!rc) {
		rc = schema_create_type(ex->d.schema, ks, name, names, types, q->n_fields, ts, &e);
		if (rc)
			rc = schema_fail(req, rc, &e);
	}
	for (uint32_t i = 0; i < q->n_fields; i++)
		cqltype_free(types[i]);
	if (!rc)
		type_changed(ex, req, EXEC_CHANGE_CREATED, ks, name);
	return rc;
}

static int alter_type(struct executor *ex, struct exec_req *req, const struct cql_type_stmt *q,
                      const char *ks, const struct schema_keyspace *k, int64_t ts)
{
	const char *name = q->type.name.name;
	struct cerr e = {0};
	int rc;
	if (q->rename) {
		const char **from = calloc(q->n_rename ? q->n_rename : 1, sizeof(*from));
		const char **to = calloc(q->n_rename ? q->n_rename : 1, sizeof(*to));
		if (!from || !to) {
			free(from);
			free(to);
			return req_fail(req, COL_ENOMEM, "out of memory");
		}
		for (uint32_t i = 0; i < q->n_rename; i++) {
			from[i] = q->rename_from[i].name;
			to[i] = q->rename_to[i].name;
		}
		rc = schema_alter_type_rename(ex->d.schema, ks, name, from, to, q->n_rename, ts,
		                              &e);
		free(from);
		free(to);
	} else {
		const struct cqltype *t = NULL;
		if (!schema_keyspace_type(k, name))
			return req_fail(req, COL_EINVAL, "Type %s.%s doesn't exist", ks, name);
		if ((rc = exec_parse_column_type(req, k, NULL, &q->fields[0], &t)))
			return rc;
		rc = schema_alter_type_add(ex->d.schema, ks, name, q->fields[0].name.name, t, ts,
		                           &e);
		cqltype_free(t);
	}
	if (rc)
		return schema_fail(req, rc, &e);
	type_changed(ex, req, EXEC_CHANGE_UPDATED, ks, name);
	return 0;
}

int exec_type_stmt(struct executor *ex, struct exec_req *req, const struct cql_stmt *st, int64_t ts)
{
	const struct cql_type_stmt *q = &st->type_stmt;
	const char *ks = qname_ks(&q->type, req->session);
	if (!ks)
		return req_fail(req, COL_EINVAL,
		                "No keyspace has been specified. USE a keyspace, or "
		                "explicitly specify keyspace.tablename");
	const struct schema_keyspace *k = schema_snap_keyspace(ex->snap, ks);
	if (!k)
		return req_fail(req, COL_EINVAL, "Keyspace '%s' doesn't exist", ks);
	if (k->virtual_ || schema_is_system_keyspace(ks))
		return req_fail(req, COL_EINVAL, "%s keyspace is not user-modifiable.", ks);
	if (st->kind == CQL_STMT_CREATE_TYPE)
		return create_type(ex, req, q, ks, k, ts);
	if (st->kind == CQL_STMT_ALTER_TYPE)
		return alter_type(ex, req, q, ks, k, ts);
	const char *name = q->type.name.name;
	if (!schema_keyspace_type(k, name) && q->if_exists) {
		cql_put_int(&req->body_out, CQL_RESULT_VOID);
		return 0;
	}
	struct cerr e = {0};
	int rc = schema_drop_type(ex->d.schema, ks, name, ts, &e);
	if (rc)
		return schema_fail(req, rc, &e);
	type_changed(ex, req, EXEC_CHANGE_DROPPED, ks, name);
	return 0;
}
