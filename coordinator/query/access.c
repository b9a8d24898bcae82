/*
 * access.c — access control in the executor (executor.h, struct exec_access):
 * which permission each statement needs on which resource, the protection of
 * system_auth's schema, and a request parked while its session's permissions
 * are read.
 */
#include "coordinator/query/query_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int exec_resource_name(int kind, const char *ks, const char *name, char *out, size_t cap)
{
	switch (kind) {
	case CQL_RES_ALL_KEYSPACES: return snprintf(out, cap, "<all keyspaces>");
	case CQL_RES_KEYSPACE: return snprintf(out, cap, "<keyspace %s>", ks);
	case CQL_RES_TABLE: return snprintf(out, cap, "<table %s.%s>", ks, name);
	case CQL_RES_ALL_ROLES: return snprintf(out, cap, "<all roles>");
	case CQL_RES_ROLE: return snprintf(out, cap, "<role %s>", name);
	default: return snprintf(out, cap, "<?>");
	}
}

/*
 * system_auth's schema: its replication may be altered (with ALTER on it), nothing
 * else, not even by a superuser (Cassandra's wording).
 */
static int protect_system(struct exec_req *req, unsigned perm, int kind, const char *ks,
                          const char *name)
{
	if (!ks || !schema_is_replicated_system_keyspace(ks))
		return 0;
	if (perm != CQL_PERM_CREATE && perm != CQL_PERM_ALTER && perm != CQL_PERM_DROP)
		return 0;
	if (perm == CQL_PERM_ALTER && kind == CQL_RES_KEYSPACE)
		return 0;
	char res[200];
	exec_resource_name(kind, ks, name, res, sizeof(res));
	return req_fail(req, COL_EUNAUTHORIZED, "Cannot %s %s",
	                cql_permission_name((enum cql_permission)perm), res);
}

static int need(struct executor *ex, struct exec_req *req, unsigned perm, int kind, const char *ks,
                const char *name)
{
	if ((kind == CQL_RES_KEYSPACE || kind == CQL_RES_TABLE) && !ks)
		return 0; /* no keyspace: the statement fails on that, with its own message */
	int rc = protect_system(req, perm, kind, ks, name);
	if (rc || !ex->d.access)
		return rc;
	struct cerr e = {0};
	rc = ex->d.access->check(ex->d.access->ctx, req->session, perm, kind, ks, name, &e);
	return rc ? req_fail_cerr(req, rc, &e) : 0;
}

int access_check_plan(struct executor *ex, struct exec_req *req, const struct plan *p)
{
	const struct cql_stmt *st = p->stmt;
	const struct exec_session *s = req->session;
	switch (st->kind) {
	case CQL_STMT_SELECT:
		if (p->table && p->table->virtual_)
			return 0; /* system and system_schema: readable by every role */
		return need(ex, req, CQL_PERM_SELECT, CQL_RES_TABLE, p->ks, p->table_name);
	case CQL_STMT_INSERT:
	case CQL_STMT_UPDATE:
	case CQL_STMT_DELETE:
		return need(ex, req, CQL_PERM_MODIFY, CQL_RES_TABLE, p->ks, p->table_name);
	case CQL_STMT_BATCH:
		for (uint32_t i = 0; i < p->n_children; i++) {
			int rc = access_check_plan(ex, req, p->children[i]);
			if (rc)
				return rc;
		}
		return 0;
	case CQL_STMT_TRUNCATE:
		return need(ex, req, CQL_PERM_MODIFY, CQL_RES_TABLE,
		            qname_ks(&st->truncate.table, s), st->truncate.table.name.name);
	case CQL_STMT_CREATE_KEYSPACE:
		return need(ex, req, CQL_PERM_CREATE, CQL_RES_ALL_KEYSPACES, NULL, NULL);
	case CQL_STMT_ALTER_KEYSPACE:
		return need(ex, req, CQL_PERM_ALTER, CQL_RES_KEYSPACE, st->keyspace.keyspace.name,
		            NULL);
	case CQL_STMT_DROP_KEYSPACE:
		return need(ex, req, CQL_PERM_DROP, CQL_RES_KEYSPACE, st->keyspace.keyspace.name,
		            NULL);
	case CQL_STMT_CREATE_TABLE:
		return need(ex, req, CQL_PERM_CREATE, CQL_RES_KEYSPACE,
		            qname_ks(&st->create_table.table, s), NULL);
	case CQL_STMT_ALTER_TABLE:
		return need(ex, req, CQL_PERM_ALTER, CQL_RES_TABLE,
		            qname_ks(&st->alter_table.table, s), st->alter_table.table.name.name);
	case CQL_STMT_DROP_TABLE:
		return need(ex, req, CQL_PERM_DROP, CQL_RES_TABLE,
		            qname_ks(&st->drop_table.table, s), st->drop_table.table.name.name);
	case CQL_STMT_CREATE_INDEX:
		return need(ex, req, CQL_PERM_ALTER, CQL_RES_TABLE,
		            qname_ks(&st->create_index.table, s), st->create_index.table.name.name);
	case CQL_STMT_DROP_INDEX:
		return need(ex, req, CQL_PERM_ALTER, CQL_RES_KEYSPACE,
		            qname_ks(&st->drop_index.index, s), NULL);
	case CQL_STMT_CREATE_TYPE:
		return need(ex, req, CQL_PERM_CREATE, CQL_RES_KEYSPACE,
		            qname_ks(&st->type_stmt.type, s), NULL);
	case CQL_STMT_ALTER_TYPE:
		return need(ex, req, CQL_PERM_ALTER, CQL_RES_KEYSPACE,
		            qname_ks(&st->type_stmt.type, s), NULL);
	case CQL_STMT_DROP_TYPE:
		return need(ex, req, CQL_PERM_DROP, CQL_RES_KEYSPACE,
		            qname_ks(&st->type_stmt.type, s), NULL);
	default: return 0; /* USE; role statements check their own */
	}
}

bool access_is_role_stmt(const struct cql_stmt *st)
{
	return st->kind >= CQL_STMT_CREATE_ROLE && st->kind <= CQL_STMT_LIST_PERMISSIONS;
}

static void role_stmt_done(void *arg)
{
	xq_finish(arg);
}

void access_run_role_stmt(struct xq *q)
{
	struct executor *ex = q->ex;
	const struct cql_stmt *st = q->plan->stmt;
	if (!ex->d.access) {
		req_fail(q->req, COL_EINVAL,
		         "%s needs authenticator: PasswordAuthenticator (this node runs "
		         "AllowAllAuthenticator: there are no roles)",
		         cql_stmt_kind_name(st->kind));
		xq_finish(q);
		return;
	}
	ex->d.access->run(ex->d.access->ctx, q->req, st, role_stmt_done, q);
}

/* ---- parking -------------------------------------------------------------------------------- */

struct parked {
	struct executor *ex;
	struct exec_req *req;
	uint8_t *body; /* the frame is gone once executor_run returns: a copy */
};

static void resume(void *arg)
{
	struct parked *pk = arg;
	exec_dispatch(pk->ex, pk->req);
	free(pk->body);
	free(pk);
}

bool access_park(struct executor *ex, struct exec_req *req)
{
	const struct exec_access *a = ex->d.access;
	if (!a || req->opcode == CQL_OP_PREPARE)
		return false;
	if (a->prepare(a->ctx, req->session, NULL, NULL) == 0)
		return false;
	struct parked *pk = calloc(1, sizeof(*pk));
	uint8_t *body = pk ? malloc(req->body_len ? req->body_len : 1) : NULL;
	if (!body) {
		free(pk);
		return false; /* check() fails the statement: its permissions are unknown */
	}
	memcpy(body, req->body, req->body_len);
	pk->ex = ex;
	pk->req = req;
	pk->body = body;
	if (a->prepare(a->ctx, req->session, resume, pk) != COL_EAGAIN) {
		free(body);
		free(pk);
		return false;
	}
	req->body = body;
	return true;
}
