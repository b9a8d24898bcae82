/*
 * roles_stmt.c — CREATE / ALTER / DROP ROLE (and USER), GRANT / REVOKE of roles
 * and permissions, LIST ROLES / USERS / PERMISSIONS (roles.h): each reads the
 * cache afresh, checks as Cassandra does (its messages), then writes
 * system_auth in one batch at LOCAL_ONE.
 */
#include "coordinator/auth/roles_int.h"

#include "coordinator/schema/schema.h"
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "auth"

#define T_TEXT    0x000D
#define T_BOOLEAN 0x0004
#define T_MAP     0x0021

/* One role or permission statement in flight. */
struct rs {
	struct roles *r;
	struct exec_req *req;
	const struct cql_stmt *st;
	const char *me; /* the session's role */
	void (*finish)(void *arg);
	void *arg;
	const char *changed; /* role whose credentials to forget once written */
	struct buf batch;    /* BEGIN UNLOGGED BATCH ... */
	unsigned n_writes;
};

static void rs_end(struct rs *s)
{
	if (!s->req->err.code && s->req->body_out.len == 0)
		cql_put_int(&s->req->body_out, CQL_RESULT_VOID);
	buf_release(&s->batch);
	void (*finish)(void *) = s->finish;
	void *arg = s->arg;
	free(s);
	finish(arg);
}

static void fail(struct rs *s, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void fail(struct rs *s, int code, const char *fmt, ...)
{
	if (!s->req->err.code) {
		va_list ap;
		va_start(ap, fmt);
		s->req->err.code = code;
		vsnprintf(s->req->err.msg, sizeof(s->req->err.msg), fmt, ap);
		va_end(ap);
	}
	rs_end(s);
}

static bool is_super(const struct rs *s, const char *role)
{
	return rsnap_is_super(s->r->snap, role);
}

/* may `me` do perm on the resource (AllowAllAuthorizer: yes)? else fail with Cassandra's words */
static bool may(struct rs *s, unsigned perm, int kind, const char *ks, const char *name)
{
	if (!s->r->o.authorizer || roles_allowed(s->r, s->me, perm, kind, ks, name))
		return true;
	char res[AUTH_MAX_NAME + 128];
	exec_resource_name(kind, ks, name, res, sizeof(res));
	fail(s, COL_EUNAUTHORIZED, "User %s has no %s permission on %s or any of its parents",
	     s->me, cql_permission_name((enum cql_permission)perm), res);
	return false;
}

/* ---- writing ------------------------------------------------------------------------------------
 */

static void w_begin(struct rs *s)
{
	s->n_writes++;
	if (s->n_writes == 1)
		buf_put_str(&s->batch, "BEGIN UNLOGGED BATCH ");
}

static void w_str(struct rs *s, const char *text)
{
	buf_put_str(&s->batch, text);
}

static void w_q(struct rs *s, const char *value)
{
	iq_quote(&s->batch, value);
}

/* permissions = permissions +|- {...} on (role, resource key) */
static void w_perms(struct rs *s, const char *role, const char *res, uint32_t perms, bool add)
{
	w_begin(s);
	w_str(s, "UPDATE system_auth.role_permissions SET permissions = permissions ");
	w_str(s, add ? "+ {" : "- {");
	const char *sep = "";
	for (int i = 0; i < CQL_PERM_COUNT; i++)
		if (perms & (1u << i)) {
			w_str(s, sep);
			w_q(s, cql_permission_name((enum cql_permission)i));
			sep = ", ";
		}
	w_str(s, "} WHERE role = ");
	w_q(s, role);
	w_str(s, " AND resource = ");
	w_q(s, res);
	w_str(s, "; ");
}

static void on_written(void *arg, const struct exec_req *req)
{
	struct rs *s = arg;
	roles_changed(s->r, s->changed);
	if (req->err.code) {
		fail(s,
		     req->err.code == COL_EUNAVAILABLE || req->err.code == COL_ETIMEDOUT
		             ? req->err.code
		             : COL_EIO,
		     "%s: writing system_auth failed: %s", cql_stmt_kind_name(s->st->kind),
		     req->err.msg);
		return;
	}
	rs_end(s);
}

static void w_run(struct rs *s)
{
	if (!s->n_writes) {
		rs_end(s);
		return;
	}
	w_str(s, "APPLY BATCH");
	buf_put_u8(&s->batch, 0);
	if (!buf_ok(&s->batch)) {
		fail(s, COL_ENOMEM, "out of memory writing system_auth");
		return;
	}
	iq_run(s->r->ex, (const char *)s->batch.data, CL_LOCAL_ONE, on_written, s);
}

/* Permissions that apply to a resource kind (Cassandra's applicablePermissions). */
static uint32_t applicable(int kind)
{
	uint32_t data = (1u << CQL_PERM_CREATE) | (1u << CQL_PERM_ALTER) | (1u << CQL_PERM_DROP) |
	                (1u << CQL_PERM_SELECT) | (1u << CQL_PERM_MODIFY) |
	                (1u << CQL_PERM_AUTHORIZE);
	switch (kind) {
	case CQL_RES_ALL_KEYSPACES:
	case CQL_RES_KEYSPACE: return data;
	case CQL_RES_TABLE: return data & ~(1u << CQL_PERM_CREATE);
	case CQL_RES_ALL_ROLES:
		return (1u << CQL_PERM_CREATE) | (1u << CQL_PERM_ALTER) | (1u << CQL_PERM_DROP) |
		       (1u << CQL_PERM_AUTHORIZE) | (1u << CQL_PERM_DESCRIBE);
	default: return (1u << CQL_PERM_ALTER) | (1u << CQL_PERM_DROP) | (1u << CQL_PERM_AUTHORIZE);
	}
}

struct creator {
	struct roles *r;
	void (*finish)(void *arg);
	void *arg;
};

static void on_creator_written(void *arg, const struct exec_req *req)
{
	struct creator *c = arg;
	if (req->err.code)
		log_warn(MOD, "cannot grant its creator the permissions on a new resource: %s",
		         req->err.msg);
	roles_changed(c->r, NULL);
	c->finish(c->arg);
	free(c);
}

void roles_grant_creator(struct roles *r, const char *role, int kind, const char *ks,
                         const char *name, void (*finish)(void *arg), void *arg)
{
	struct creator *c = calloc(1, sizeof(*c));
	struct rs s = {.r = r};
	buf_init(&s.batch);
	char key[AUTH_MAX_NAME + 128];
	roles_resource_key(kind, ks, name, key, sizeof(key));
	w_perms(&s, role, key, applicable(kind), true);
	w_str(&s, "APPLY BATCH");
	buf_put_u8(&s.batch, 0);
	if (!c || !buf_ok(&s.batch)) {
		log_warn(MOD, "out of memory granting its creator the permissions on %s", key);
		buf_release(&s.batch);
		free(c);
		finish(arg);
		return;
	}
	*c = (struct creator){r, finish, arg};
	iq_run(r->ex, (const char *)s.batch.data, CL_LOCAL_ONE, on_creator_written, c);
	buf_release(&s.batch);
}

/* ---- CREATE / ALTER / DROP ROLE
 * ------------------------------------------------------------------- */

/* The role row's columns from the statement's options (and a new password's hash). */
static void w_role_row(struct rs *s, const struct cql_role_stmt *o, const char *hash, bool create)
{
	w_begin(s);
	if (create) {
		w_str(s,
		      "INSERT INTO system_auth.roles (role, can_login, is_superuser, salted_hash) "
		      "VALUES (");
		w_q(s, o->role);
		w_str(s, o->login > 0 ? ", true" : ", false");
		w_str(s, o->superuser > 0 ? ", true, " : ", false, ");
		if (hash)
			w_q(s, hash);
		else
			w_str(s, "null");
		w_str(s, "); ");
		return;
	}
	w_str(s, "UPDATE system_auth.roles SET ");
	const char *sep = "";
	if (o->login >= 0) {
		w_str(s, o->login ? "can_login = true" : "can_login = false");
		sep = ", ";
	}
	if (o->superuser >= 0) {
		w_str(s, sep);
		w_str(s, o->superuser ? "is_superuser = true" : "is_superuser = false");
		sep = ", ";
	}
	if (hash) {
		w_str(s, sep);
		w_str(s, "salted_hash = ");
		w_q(s, hash);
	}
	w_str(s, " WHERE role = ");
	w_q(s, o->role);
	w_str(s, "; ");
}

static void role_write(struct rs *s, const char *hash)
{
	const struct cql_role_stmt *o = &s->st->role;
	bool create = s->st->kind == CQL_STMT_CREATE_ROLE;
	w_role_row(s, o, hash, create);
	if (create && s->r->o.authorizer && s->me[0]) {
		char key[AUTH_MAX_NAME + 8];
		roles_resource_key(CQL_RES_ROLE, NULL, o->role, key, sizeof(key));
		w_perms(s, s->me, key, applicable(CQL_RES_ROLE), true);
	}
	s->changed = o->role;
	w_run(s);
}

static void on_hashed(void *arg, int rc, const char *hash)
{
	struct rs *s = arg;
	if (rc) {
		fail(s, rc == COL_ETOOBIG ? COL_EINVAL : COL_EOVERLOADED,
		     rc == COL_ETOOBIG ? "The password is over %d bytes"
		                       : "Cannot hash the password now (%d); retry",
		     rc == COL_ETOOBIG ? AUTH_MAX_PASSWORD : rc);
		return;
	}
	role_write(s, hash);
}

/* Who may change what in ALTER ROLE (Cassandra's AlterRoleStatement.checkAccess). */
static bool alter_allowed(struct rs *s, const struct cql_role_stmt *o)
{
	bool self = strcmp(s->me, o->role) == 0, super = is_super(s, s->me);
	if (o->superuser >= 0) {
		if (self) {
			fail(s, COL_EUNAUTHORIZED,
			     "You aren't allowed to alter your own superuser status");
			return false;
		}
		if (!super) {
			fail(s, COL_EUNAUTHORIZED,
			     "Only superusers are allowed to alter superuser status");
			return false;
		}
	}
	if (super)
		return true;
	if (self) {
		if (o->login >= 0) {
			fail(s, COL_EUNAUTHORIZED, "You aren't allowed to alter LOGIN");
			return false;
		}
		return true;
	}
	return may(s, CQL_PERM_ALTER, CQL_RES_ROLE, NULL, o->role);
}

static void create_or_alter(struct rs *s)
{
	const struct cql_role_stmt *o = &s->st->role;
	bool create = s->st->kind == CQL_STMT_CREATE_ROLE;
	const struct rrole *exists = rsnap_role(s->r->snap, o->role);
	if (create) {
		if (!may(s, CQL_PERM_CREATE, CQL_RES_ALL_ROLES, NULL, NULL))
			return;
		if (o->superuser > 0 && !is_super(s, s->me)) {
			fail(s, COL_EUNAUTHORIZED,
			     "Only superusers can create a role with superuser status");
			return;
		}
		if (exists) {
			if (o->if_not_exists)
				rs_end(s);
			else
				fail(s, COL_EINVAL, "%s already exists", o->role);
			return;
		}
	} else {
		if (o->password == NULL && o->login < 0 && o->superuser < 0) {
			fail(s, COL_EINVAL, "ALTER [ROLE|USER] can't be empty");
			return;
		}
		if (!exists) {
			fail(s, COL_EINVAL, "%s doesn't exist", o->role);
			return;
		}
		if (!alter_allowed(s, o))
			return;
	}
	if (o->password)
		auth_hash_password(s->r->auth, o->password, strlen(o->password), on_hashed, s);
	else
		role_write(s, NULL);
}

static void drop_role(struct rs *s)
{
	const struct cql_role_stmt *o = &s->st->role;
	const struct rsnap *sn = s->r->snap;
	if (!may(s, CQL_PERM_DROP, CQL_RES_ROLE, NULL, o->role))
		return;
	if (!strcmp(s->me, o->role)) {
		fail(s, COL_EINVAL, "Cannot DROP primary role for current login");
		return;
	}
	const struct rrole *ro = rsnap_role(sn, o->role);
	if (ro && is_super(s, o->role) && !is_super(s, s->me)) {
		fail(s, COL_EUNAUTHORIZED, "Only superusers can drop a role with superuser status");
		return;
	}
	if (!ro) {
		if (o->if_exists)
			rs_end(s);
		else
			fail(s, COL_EINVAL, "%s doesn't exist", o->role);
		return;
	}
	w_begin(s);
	w_str(s, "DELETE FROM system_auth.roles WHERE role = ");
	w_q(s, o->role);
	w_str(s, "; DELETE FROM system_auth.role_permissions WHERE role = ");
	w_q(s, o->role);
	w_str(s, "; DELETE FROM system_auth.role_members WHERE role = ");
	w_q(s, o->role);
	w_str(s, "; ");
	for (uint32_t i = 0; i < ro->n_member_of; i++) {
		w_str(s, "DELETE FROM system_auth.role_members WHERE role = ");
		w_q(s, ro->member_of[i]);
		w_str(s, " AND member = ");
		w_q(s, o->role);
		w_str(s, "; ");
	}
	for (uint32_t i = 0; i < sn->n_roles; i++)
		for (uint32_t j = 0; j < sn->roles[i].n_member_of; j++)
			if (!strcmp(sn->roles[i].member_of[j], o->role)) {
				w_str(s, "UPDATE system_auth.roles SET member_of = member_of - {");
				w_q(s, o->role);
				w_str(s, "} WHERE role = ");
				w_q(s, sn->roles[i].name);
				w_str(s, "; ");
			}
	char key[AUTH_MAX_NAME + 8];
	roles_resource_key(CQL_RES_ROLE, NULL, o->role, key, sizeof(key));
	for (uint32_t i = 0; i < sn->n_grants; i++)
		if (!strcmp(sn->grants[i].resource, key)) {
			w_str(s, "DELETE FROM system_auth.role_permissions WHERE role = ");
			w_q(s, sn->grants[i].role);
			w_str(s, " AND resource = ");
			w_q(s, key);
			w_str(s, "; ");
		}
	s->changed = o->role;
	w_run(s);
}

/* ---- GRANT / REVOKE role
 * ------------------------------------------------------------------------- */

static bool member_of(const struct rsnap *sn, const char *role, const char *of, bool direct_only)
{
	const struct rrole *c[ROLES_CLOSURE_MAX];
	uint32_t n = rsnap_closure(sn, role, direct_only, c, ROLES_CLOSURE_MAX);
	for (uint32_t i = 1; i < n; i++)
		if (!strcmp(c[i]->name, of))
			return true;
	return false;
}

static void grant_role(struct rs *s)
{
	const struct cql_role_stmt *o = &s->st->role;
	const struct rsnap *sn = s->r->snap;
	bool grant = s->st->kind == CQL_STMT_GRANT_ROLE;
	if (!may(s, CQL_PERM_AUTHORIZE, CQL_RES_ROLE, NULL, o->role))
		return;
	const char *missing = !rsnap_role(sn, o->role)      ? o->role
	                      : !rsnap_role(sn, o->grantee) ? o->grantee
	                                                    : NULL;
	if (missing) {
		fail(s, COL_EINVAL, "%s doesn't exist", missing);
		return;
	}
	if (grant && (member_of(sn, o->grantee, o->role, false) || !strcmp(o->grantee, o->role))) {
		fail(s, COL_EINVAL, "%s is a member of %s", o->grantee, o->role);
		return;
	}
	if (grant && member_of(sn, o->role, o->grantee, false)) {
		fail(s, COL_EINVAL, "%s is a member of %s", o->role, o->grantee);
		return;
	}
	if (!grant && !member_of(sn, o->grantee, o->role, true)) {
		fail(s, COL_EINVAL, "%s is not a member of %s", o->grantee, o->role);
		return;
	}
	w_begin(s);
	w_str(s, grant ? "UPDATE system_auth.roles SET member_of = member_of + {"
	               : "UPDATE system_auth.roles SET member_of = member_of - {");
	w_q(s, o->role);
	w_str(s, "} WHERE role = ");
	w_q(s, o->grantee);
	w_str(s, grant ? "; INSERT INTO system_auth.role_members (role, member) VALUES ("
	               : "; DELETE FROM system_auth.role_members WHERE role = ");
	w_q(s, o->role);
	w_str(s, grant ? ", " : " AND member = ");
	w_q(s, o->grantee);
	w_str(s, grant ? "); " : "; ");
	w_run(s);
}

/* ---- GRANT / REVOKE / LIST permissions
 * -------------------------------------------------------------- */

struct res {
	int kind;
	const char *ks, *name;
	char key[AUTH_MAX_NAME + 128];
	char shown[AUTH_MAX_NAME + 128];
};

/* The statement's resource with its keyspace filled in, checked to exist; false: failed. */
static bool resolve(struct rs *s, const struct cql_resource *cr, struct res *out)
{
	out->kind = cr->kind;
	out->ks = cr->kind == CQL_RES_KEYSPACE ? cr->keyspace.name
	          : cr->kind == CQL_RES_TABLE  ? cr->table.ks.name
	                                       : NULL;
	out->name = cr->kind == CQL_RES_TABLE  ? cr->table.name.name
	            : cr->kind == CQL_RES_ROLE ? cr->role
	                                       : NULL;
	if (cr->kind == CQL_RES_TABLE && !out->ks) {
		out->ks = s->req->session->keyspace[0] ? s->req->session->keyspace : NULL;
		if (!out->ks) {
			fail(s, COL_EINVAL,
			     "No keyspace has been specified. USE a keyspace, or explicitly "
			     "specify "
			     "keyspace.tablename");
			return false;
		}
	}
	roles_resource_key(out->kind, out->ks, out->name, out->key, sizeof(out->key));
	exec_resource_name(out->kind, out->ks, out->name, out->shown, sizeof(out->shown));
	const struct schema_snap *snap = schema_current(s->r->schema);
	bool exists = true;
	if (out->kind == CQL_RES_KEYSPACE)
		exists = schema_snap_keyspace(snap, out->ks) != NULL;
	else if (out->kind == CQL_RES_TABLE)
		exists = schema_snap_table(snap, out->ks, out->name) != NULL;
	else if (out->kind == CQL_RES_ROLE)
		exists = rsnap_role(s->r->snap, out->name) != NULL;
	if (!exists)
		fail(s, COL_EINVAL, "Resource %s doesn't exist", out->shown);
	return exists;
}

static const char *perm_list(uint32_t perms, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = 0;
	for (int i = 0; i < CQL_PERM_COUNT; i++)
		if (perms & (1u << i))
			n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s", n ? ", " : "",
			                      cql_permission_name((enum cql_permission)i));
	return out;
}

static void grant_perms(struct rs *s)
{
	const struct cql_grant_stmt *g = &s->st->grant;
	bool grant = s->st->kind == CQL_STMT_GRANT_PERMISSION;
	if (!s->r->o.authorizer) {
		fail(s, COL_EINVAL, "%s operation is not supported by AllowAllAuthorizer",
		     grant ? "GRANT" : "REVOKE");
		return;
	}
	if (!rsnap_role(s->r->snap, g->role)) {
		fail(s, COL_EINVAL, "Role %s doesn't exist", g->role);
		return;
	}
	struct res res;
	if (!resolve(s, &g->resource, &res))
		return;
	uint32_t ok = applicable(res.kind), perms = g->all ? ok : g->perms;
	if (perms & ~ok) {
		char names[128];
		fail(s, COL_EINVAL,
		     "Resource type %s does not support the requested permissions: %s",
		     res.kind >= CQL_RES_ALL_ROLES ? "RoleResource" : "DataResource",
		     perm_list(perms & ~ok, names, sizeof(names)));
		return;
	}
	if (!may(s, CQL_PERM_AUTHORIZE, res.kind, res.ks, res.name))
		return;
	for (int i = 0; i < CQL_PERM_COUNT; i++)
		if ((perms & (1u << i)) && !may(s, (unsigned)i, res.kind, res.ks, res.name))
			return;
	w_perms(s, g->role, res.key, perms, grant);
	w_run(s);
}

/* "<table ks.t>" from Cassandra's name "data/ks/t" */
static void shown_of(const char *key, char *out, size_t cap)
{
	char buf[AUTH_MAX_NAME + 128];
	snprintf(buf, sizeof(buf), "%s", key);
	char *a = strchr(buf, '/'), *b = a ? strchr(a + 1, '/') : NULL;
	if (a)
		*a++ = 0;
	if (b)
		*b++ = 0;
	if (!strcmp(buf, "roles"))
		exec_resource_name(a ? CQL_RES_ROLE : CQL_RES_ALL_ROLES, NULL, a, out, cap);
	else
		exec_resource_name(b   ? CQL_RES_TABLE
		                   : a ? CQL_RES_KEYSPACE
		                       : CQL_RES_ALL_KEYSPACES,
		                   a, b, out, cap);
}

static void rows_head(struct buf *b, const char *table, const char *const *cols, const int *types,
                      int n)
{
	cql_put_int(b, CQL_RESULT_ROWS);
	cql_put_int(b, CQL_ROWS_GLOBAL_TABLES_SPEC);
	cql_put_int(b, n);
	cql_put_string(b, "system_auth");
	cql_put_string(b, table);
	for (int i = 0; i < n; i++) {
		cql_put_string(b, cols[i]);
		cql_put_short(b, (uint16_t)types[i]);
		if (types[i] == T_MAP) {
			cql_put_short(b, T_TEXT);
			cql_put_short(b, T_TEXT);
		}
	}
}

static void put_text(struct buf *b, const char *s)
{
	cql_put_bytes(b, s, (int32_t)strlen(s));
}

static void put_bool(struct buf *b, bool v)
{
	uint8_t c = v;
	cql_put_bytes(b, &c, 1);
}

static int cmp_grant(const void *a, const void *b)
{
	const struct rgrant *x = *(const struct rgrant *const *)a,
	                    *y = *(const struct rgrant *const *)b;
	int c = strcmp(x->role, y->role);
	return c ? c : strcmp(x->resource, y->resource);
}

/* May `me` see what `role` holds (LIST ... OF role)?  Cassandra's rule and words. */
static bool may_view(struct rs *s, const char *role, const char *what)
{
	if (is_super(s, s->me))
		return true;
	if (role && (!strcmp(role, s->me) || member_of(s->r->snap, s->me, role, false)))
		return true;
	if (!role)
		fail(s, COL_EUNAUTHORIZED, "You are not authorized to view everyone's %s", what);
	else
		fail(s, COL_EUNAUTHORIZED, "You are not authorized to view %s's %s", role, what);
	return false;
}

/* The grants LIST PERMISSIONS shows, sorted (grantee, resource). */
static uint32_t pick_grants(struct rs *s, const struct res *res, const struct rgrant **out)
{
	const struct cql_grant_stmt *g = &s->st->grant;
	const struct rsnap *sn = s->r->snap;
	const struct rrole *c[ROLES_CLOSURE_MAX];
	uint32_t nc =
	        g->role ? rsnap_closure(sn, g->role, g->norecursive, c, ROLES_CLOSURE_MAX) : 0;
	if (g->role && g->norecursive)
		nc = nc ? 1 : 0;
	char chain[4][AUTH_MAX_NAME + 128]; /* the resource, its keyspace, "data" or "roles" */
	int nchain = 0;
	if (res) {
		snprintf(chain[nchain++], sizeof(chain[0]), "%s", res->key);
		if (res->kind == CQL_RES_TABLE)
			roles_resource_key(CQL_RES_KEYSPACE, res->ks, NULL, chain[nchain++],
			                   sizeof(chain[0]));
		if (res->kind == CQL_RES_TABLE || res->kind == CQL_RES_KEYSPACE)
			snprintf(chain[nchain++], sizeof(chain[0]), "data");
		if (res->kind == CQL_RES_ROLE)
			snprintf(chain[nchain++], sizeof(chain[0]), "roles");
	}
	uint32_t n = 0;
	for (uint32_t i = 0; i < sn->n_grants; i++) {
		const struct rgrant *gr = &sn->grants[i];
		bool who = !g->role;
		for (uint32_t k = 0; k < nc && !who; k++)
			who = !strcmp(c[k]->name, gr->role);
		bool where = nchain == 0;
		for (int k = 0; k < nchain && !where; k++)
			where = !strcmp(chain[k], gr->resource);
		if (who && where && (gr->perms & g->perms))
			out[n++] = gr;
	}
	qsort(out, n, sizeof(*out), cmp_grant);
	return n;
}

static void list_perms(struct rs *s)
{
	const struct cql_grant_stmt *g = &s->st->grant;
	const struct rsnap *sn = s->r->snap;
	if (!s->r->o.authorizer) {
		fail(s, COL_EINVAL,
		     "LIST PERMISSIONS operation is not supported by AllowAllAuthorizer");
		return;
	}
	struct res res;
	if (g->has_resource && !resolve(s, &g->resource, &res))
		return;
	if (g->role && !rsnap_role(sn, g->role)) {
		fail(s, COL_EINVAL, "%s doesn't exist", g->role);
		return;
	}
	if (!may_view(s, g->role, "permissions"))
		return;
	const struct rgrant **pick = calloc(sn->n_grants ? sn->n_grants : 1, sizeof(*pick));
	if (!pick) {
		fail(s, COL_ENOMEM, "out of memory listing permissions");
		return;
	}
	uint32_t n = pick_grants(s, g->has_resource ? &res : NULL, pick);
	static const char *const cols[] = {"role", "username", "resource", "permission"};
	static const int types[] = {T_TEXT, T_TEXT, T_TEXT, T_TEXT};
	struct buf *b = &s->req->body_out;
	rows_head(b, "permissions", cols, types, 4);
	size_t at = b->len;
	cql_put_int(b, 0);
	int32_t rows = 0;
	for (uint32_t i = 0; i < n; i++)
		for (int p = 0; p < CQL_PERM_COUNT; p++) {
			if (!(pick[i]->perms & g->perms & (1u << p)))
				continue;
			char shown[AUTH_MAX_NAME + 128];
			shown_of(pick[i]->resource, shown, sizeof(shown));
			put_text(b, pick[i]->role);
			put_text(b, pick[i]->role);
			put_text(b, shown);
			put_text(b, cql_permission_name((enum cql_permission)p));
			rows++;
		}
	free(pick);
	if (buf_ok(b))
		be32_store(b->data + at, (uint32_t)rows);
	rs_end(s);
}

static void list_roles(struct rs *s)
{
	const struct cql_role_stmt *o = &s->st->role;
	const struct rsnap *sn = s->r->snap;
	if (o->role && !rsnap_role(sn, o->role)) {
		fail(s, COL_EINVAL, "%s doesn't exist", o->role);
		return;
	}
	bool root = is_super(s, s->me) || !s->r->o.authorizer ||
	            roles_allowed(s->r, s->me, CQL_PERM_DESCRIBE, CQL_RES_ALL_ROLES, NULL, NULL);
	const char *of = o->role;
	if (!root && !of)
		of = s->me;
	else if (!root && strcmp(of, s->me) && !member_of(sn, s->me, of, false)) {
		fail(s, COL_EUNAUTHORIZED, "You are not authorized to view roles granted to %s ",
		     of);
		return;
	}
	const struct rrole *c[ROLES_CLOSURE_MAX], **pick = c;
	uint32_t n;
	if (of) {
		n = rsnap_closure(sn, of, o->norecursive, c, ROLES_CLOSURE_MAX);
	} else {
		pick = calloc(sn->n_roles ? sn->n_roles : 1, sizeof(*pick));
		if (!pick) {
			fail(s, COL_ENOMEM, "out of memory listing roles");
			return;
		}
		for (n = 0; n < sn->n_roles; n++)
			pick[n] = &sn->roles[n];
	}
	struct buf *b = &s->req->body_out;
	static const char *const cols[] = {"role", "super", "login", "options"};
	static const int types[] = {T_TEXT, T_BOOLEAN, T_BOOLEAN, T_MAP};
	static const char *const ucols[] = {"name", "super"};
	rows_head(b, o->user_syntax ? "users" : "roles", o->user_syntax ? ucols : cols, types,
	          o->user_syntax ? 2 : 4);
	size_t at = b->len;
	cql_put_int(b, 0);
	int32_t rows = 0;
	/* sorted by name: the cache is (a closure is not: its few entries are sorted here) */
	for (uint32_t i = 0; of && i < n; i++)
		for (uint32_t j = i + 1; j < n; j++)
			if (strcmp(pick[j]->name, pick[i]->name) < 0) {
				const struct rrole *t = pick[i];
				pick[i] = pick[j];
				pick[j] = t;
			}
	for (uint32_t i = 0; i < n; i++) {
		if (o->user_syntax && !pick[i]->login)
			continue;
		put_text(b, pick[i]->name);
		put_bool(b, o->user_syntax ? is_super(s, pick[i]->name) : pick[i]->super);
		if (!o->user_syntax) {
			put_bool(b, pick[i]->login);
			cql_put_int(b, 4);
			cql_put_int(b, 0); /* options: {} */
		}
		rows++;
	}
	if (pick != c)
		free(pick);
	if (buf_ok(b))
		be32_store(b->data + at, (uint32_t)rows);
	rs_end(s);
}

/* ---- dispatch
 * ------------------------------------------------------------------------------------------ */

static void on_fresh(void *arg)
{
	struct rs *s = arg;
	if (!s->r->snap || s->r->load_err.code) {
		fail(s, COL_EIO, "%s: cannot read system_auth: %s", cql_stmt_kind_name(s->st->kind),
		     s->r->load_err.msg[0] ? s->r->load_err.msg : "not read yet");
		return;
	}
	switch (s->st->kind) {
	case CQL_STMT_CREATE_ROLE:
	case CQL_STMT_ALTER_ROLE: create_or_alter(s); return;
	case CQL_STMT_DROP_ROLE: drop_role(s); return;
	case CQL_STMT_GRANT_ROLE:
	case CQL_STMT_REVOKE_ROLE: grant_role(s); return;
	case CQL_STMT_LIST_ROLES: list_roles(s); return;
	case CQL_STMT_GRANT_PERMISSION:
	case CQL_STMT_REVOKE_PERMISSION: grant_perms(s); return;
	case CQL_STMT_LIST_PERMISSIONS: list_perms(s); return;
	default: fail(s, COL_EINVAL, "not a role statement"); return;
	}
}

void roles_run_stmt(void *ctx, struct exec_req *req, const struct cql_stmt *st,
                    void (*finish)(void *arg), void *arg)
{
	struct roles *r = ctx;
	struct rs *s = calloc(1, sizeof(*s));
	if (!s) {
		req->err.code = COL_ENOMEM;
		snprintf(req->err.msg, sizeof(req->err.msg), "out of memory");
		finish(arg);
		return;
	}
	*s = (struct rs){.r = r,
	                 .req = req,
	                 .st = st,
	                 .me = req->session->role,
	                 .finish = finish,
	                 .arg = arg};
	buf_init(&s->batch);
	if (!s->me[0]) {
		fail(s, COL_EUNAUTHORIZED, "You have not logged in");
		return;
	}
	roles_reload(r, on_fresh, s);
}

/* ---- a dropped keyspace or table: its grants go -------------------------------------------------
 */

struct revoke_all {
	struct roles *r;
	char key[AUTH_MAX_NAME + 128];
	bool keyspace;
	void (*finish)(void *arg);
	void *arg;
};

static void on_revoked_all(void *arg, const struct exec_req *req)
{
	struct revoke_all *v = arg;
	if (req->err.code)
		log_warn(MOD, "cannot revoke the permissions on dropped %s: %s", v->key,
		         req->err.msg);
	roles_changed(v->r, NULL);
	v->finish(v->arg);
	free(v);
}

static void revoke_all_fresh(void *arg)
{
	struct revoke_all *v = arg;
	const struct rsnap *sn = v->r->snap;
	struct rs s = {.r = v->r};
	buf_init(&s.batch);
	size_t kl = strlen(v->key);
	for (uint32_t i = 0; sn && i < sn->n_grants; i++) {
		const char *res = sn->grants[i].resource;
		if (strcmp(res, v->key) != 0 &&
		    !(v->keyspace && !strncmp(res, v->key, kl) && res[kl] == '/'))
			continue;
		w_begin(&s);
		w_str(&s, "DELETE FROM system_auth.role_permissions WHERE role = ");
		w_q(&s, sn->grants[i].role);
		w_str(&s, " AND resource = ");
		w_q(&s, res);
		w_str(&s, "; ");
	}
	if (s.n_writes) {
		w_str(&s, "APPLY BATCH");
		buf_put_u8(&s.batch, 0);
	}
	if (!s.n_writes || !buf_ok(&s.batch)) {
		if (s.n_writes)
			log_warn(MOD, "out of memory revoking the permissions on dropped %s",
			         v->key);
		buf_release(&s.batch);
		v->finish(v->arg);
		free(v);
		return;
	}
	iq_run(v->r->ex, (const char *)s.batch.data, CL_LOCAL_ONE, on_revoked_all, v);
	buf_release(&s.batch);
}

void roles_revoke_all_on(struct roles *r, int kind, const char *ks, const char *name,
                         void (*finish)(void *arg), void *arg)
{
	struct revoke_all *v = calloc(1, sizeof(*v));
	if (!v) {
		finish(arg);
		return;
	}
	v->r = r;
	v->keyspace = kind == CQL_RES_KEYSPACE;
	v->finish = finish;
	v->arg = arg;
	roles_resource_key(kind, ks, name, v->key, sizeof(v->key));
	roles_reload(r, revoke_all_fresh, v);
}
