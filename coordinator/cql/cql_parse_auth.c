/*
 * cql_parse_auth.c — roles and permissions: CREATE / ALTER / DROP ROLE and
 * USER, GRANT / REVOKE (a role or permissions), LIST ROLES / USERS /
 * PERMISSIONS (Cassandra's grammar; see cql_parser_int.h).
 */
#include "coordinator/cql/cql_parser_int.h"

#include <stdio.h>
#include <string.h>

static const char *const perm_names[CQL_PERM_COUNT] = {
        "CREATE", "ALTER", "DROP", "SELECT", "MODIFY", "AUTHORIZE", "DESCRIBE",
};

const char *cql_permission_name(enum cql_permission p)
{
	return (unsigned)p < CQL_PERM_COUNT ? perm_names[p] : "?";
}

/* A role name: an identifier (folded unless quoted) or a string literal (kept). */
static int role_name(struct parser *p, const char **out)
{
	const struct cql_token *t = cur(p);
	if (t->kind == CQL_TOK_STRING && !is_bad(p, t)) {
		struct cql_token tok = next(p);
		char *s = alloc(p, tok.len + 1);
		if (!s)
			return cqlp_oom(p);
		size_t n = cql_token_string(&tok, s);
		s[n] = 0;
		if (n == 0 || memchr(s, 0, n))
			return cqlp_error_at_pos(p, COL_ESYNTAX, tok.pos,
			                         "a role name must not be empty");
		*out = s;
		return 0;
	}
	if (!is_ident_tok(t))
		return cqlp_expecting(p, "a role name (identifier or string)");
	struct cql_ident id = {0};
	TRY(cqlp_ident(p, &id));
	*out = id.name;
	return 0;
}

static int bool_value(struct parser *p, int *out)
{
	if (accept_kw(p, "TRUE"))
		*out = 1;
	else if (accept_kw(p, "FALSE"))
		*out = 0;
	else
		return cqlp_expecting(p, "a boolean (true or false)");
	return 0;
}

static int string_value(struct parser *p, const char **out)
{
	if (!at(p, CQL_TOK_STRING) || is_bad(p, cur(p)))
		return cqlp_expecting(p, "STRING_LITERAL");
	struct cql_token tok = next(p);
	char *s = alloc(p, tok.len + 1);
	if (!s)
		return cqlp_oom(p);
	s[cql_token_string(&tok, s)] = 0;
	*out = s;
	return 0;
}

static int multiple(struct parser *p, struct cql_pos pos, const char *what)
{
	char msg[64];
	snprintf(msg, sizeof(msg), "Multiple definition for property %s", what);
	return cqlp_error_at_pos(p, COL_ESYNTAX, pos, msg);
}

/* WITH opt = v AND ... (roles): PASSWORD, LOGIN, SUPERUSER. */
static int role_options(struct parser *p, struct cql_role_stmt *r)
{
	do {
		struct cql_pos pos = cur(p)->pos;
		if (accept_kw(p, "PASSWORD")) {
			if (r->password)
				return multiple(p, pos, "PASSWORD");
			TRY(cqlp_expect(p, CQL_TOK_EQ));
			TRY(string_value(p, &r->password));
		} else if (accept_kw(p, "LOGIN")) {
			if (r->login >= 0)
				return multiple(p, pos, "LOGIN");
			TRY(cqlp_expect(p, CQL_TOK_EQ));
			TRY(bool_value(p, &r->login));
		} else if (accept_kw(p, "SUPERUSER")) {
			if (r->superuser >= 0)
				return multiple(p, pos, "SUPERUSER");
			TRY(cqlp_expect(p, CQL_TOK_EQ));
			TRY(bool_value(p, &r->superuser));
		} else {
			return cqlp_expecting(p, "PASSWORD, LOGIN or SUPERUSER");
		}
	} while (accept_kw(p, "AND"));
	return 0;
}

/* [WITH PASSWORD 'x'] [SUPERUSER | NOSUPERUSER] (users) */
static int user_options(struct parser *p, struct cql_role_stmt *r)
{
	if (accept_kw(p, "WITH")) {
		TRY(cqlp_expect_kw(p, "PASSWORD"));
		TRY(string_value(p, &r->password));
	}
	if (accept_kw(p, "SUPERUSER"))
		r->superuser = 1;
	else if (accept_kw(p, "NOSUPERUSER"))
		r->superuser = 0;
	return 0;
}

int cqlp_role_ddl(struct parser *p, const struct cql_token *verb, struct cql_stmt **out)
{
	bool create = cql_token_is_word(verb, "CREATE"), alter = cql_token_is_word(verb, "ALTER");
	bool user = cql_token_is_word(cur(p), "USER");
	next(p); /* ROLE or USER */
	struct cql_stmt *st;
	TRY(cqlp_new_stmt(p,
	                  create  ? CQL_STMT_CREATE_ROLE
	                  : alter ? CQL_STMT_ALTER_ROLE
	                          : CQL_STMT_DROP_ROLE,
	                  verb->pos, &st));
	struct cql_role_stmt *r = &st->role;
	r->user_syntax = user;
	r->login = r->superuser = -1;
	if (create && at_kw(p, "IF") && peek_kw(p, 1, "NOT")) {
		next(p);
		next(p);
		TRY(cqlp_expect_kw(p, "EXISTS"));
		r->if_not_exists = true;
	} else if (!create && !alter && at_kw(p, "IF") && peek_kw(p, 1, "EXISTS")) {
		next(p);
		next(p);
		r->if_exists = true;
	}
	TRY(role_name(p, &r->role));
	*out = st;
	if (!create && !alter)
		return 0;
	if (user) {
		r->login = create ? 1 : -1;
		return user_options(p, r);
	}
	if (accept_kw(p, "WITH"))
		return role_options(p, r);
	if (alter)
		return cqlp_expecting(p, "K_WITH");
	return 0;
}

/* ALL [PERMISSIONS] | perm [PERMISSION] */
static int permissions(struct parser *p, struct cql_grant_stmt *g)
{
	if (accept_kw(p, "ALL")) {
		accept_kw(p, "PERMISSIONS");
		g->all = true;
		g->perms = CQL_PERM_ALL_MASK;
		return 0;
	}
	for (int i = 0; i < CQL_PERM_COUNT; i++)
		if (accept_kw(p, perm_names[i])) {
			accept_kw(p, "PERMISSION");
			g->perms = 1u << i;
			return 0;
		}
	return cqlp_expecting(p, "a permission (ALL, CREATE, ALTER, DROP, SELECT, MODIFY, "
	                         "AUTHORIZE or DESCRIBE)");
}

static int resource(struct parser *p, struct cql_resource *r)
{
	if (at_kw(p, "ALL") && peek_kw(p, 1, "KEYSPACES")) {
		next(p);
		next(p);
		r->kind = CQL_RES_ALL_KEYSPACES;
	} else if (at_kw(p, "ALL") && peek_kw(p, 1, "ROLES")) {
		next(p);
		next(p);
		r->kind = CQL_RES_ALL_ROLES;
	} else if (accept_kw(p, "KEYSPACE")) {
		r->kind = CQL_RES_KEYSPACE;
		TRY(cqlp_ident(p, &r->keyspace));
	} else if (accept_kw(p, "ROLE")) {
		r->kind = CQL_RES_ROLE;
		TRY(role_name(p, &r->role));
	} else {
		if (!accept_kw(p, "TABLE"))
			accept_kw(p, "COLUMNFAMILY");
		r->kind = CQL_RES_TABLE;
		TRY(cqlp_qname(p, &r->table));
	}
	return 0;
}

static bool at_permissions(struct parser *p)
{
	if (at_kw(p, "ALL"))
		return peek_kw(p, 1, "PERMISSIONS") || peek_kw(p, 1, "ON");
	for (int i = 0; i < CQL_PERM_COUNT; i++)
		if (at_kw(p, perm_names[i]))
			return true;
	return false;
}

/* GRANT / REVOKE, at the verb */
int cqlp_grant(struct parser *p, struct cql_stmt **out)
{
	struct cql_token verb = next(p);
	bool grant = cql_token_is_word(&verb, "GRANT");
	const char *prep = grant ? "TO" : "FROM";
	struct cql_stmt *st;
	if (at_permissions(p)) {
		TRY(cqlp_new_stmt(p, grant ? CQL_STMT_GRANT_PERMISSION : CQL_STMT_REVOKE_PERMISSION,
		                  verb.pos, &st));
		struct cql_grant_stmt *g = &st->grant;
		TRY(permissions(p, g));
		TRY(cqlp_expect_kw(p, "ON"));
		TRY(resource(p, &g->resource));
		g->has_resource = true;
		TRY(cqlp_expect_kw(p, prep));
		TRY(role_name(p, &g->role));
	} else {
		TRY(cqlp_new_stmt(p, grant ? CQL_STMT_GRANT_ROLE : CQL_STMT_REVOKE_ROLE, verb.pos,
		                  &st));
		st->role.login = st->role.superuser = -1;
		TRY(role_name(p, &st->role.role));
		TRY(cqlp_expect_kw(p, prep));
		TRY(role_name(p, &st->role.grantee));
	}
	*out = st;
	return 0;
}

/* LIST ROLES | USERS | permissions, at LIST */
int cqlp_list(struct parser *p, struct cql_stmt **out)
{
	struct cql_token verb = next(p);
	struct cql_stmt *st;
	if (at_kw(p, "ROLES") || at_kw(p, "USERS")) {
		bool users = at_kw(p, "USERS");
		next(p);
		TRY(cqlp_new_stmt(p, CQL_STMT_LIST_ROLES, verb.pos, &st));
		st->role.login = st->role.superuser = -1;
		st->role.user_syntax = users;
		if (!users && accept_kw(p, "OF"))
			TRY(role_name(p, &st->role.role));
		if (!users && accept_kw(p, "NORECURSIVE"))
			st->role.norecursive = true;
		*out = st;
		return 0;
	}
	TRY(cqlp_new_stmt(p, CQL_STMT_LIST_PERMISSIONS, verb.pos, &st));
	struct cql_grant_stmt *g = &st->grant;
	TRY(permissions(p, g));
	if (accept_kw(p, "ON")) {
		TRY(resource(p, &g->resource));
		g->has_resource = true;
	}
	if (accept_kw(p, "OF"))
		TRY(role_name(p, &g->role));
	if (accept_kw(p, "NORECURSIVE"))
		g->norecursive = true;
	*out = st;
	return 0;
}
