/*
 * roles_int.h — the role manager's inside, shared by roles.c (cache, checks,
 * logins, setup) and roles_stmt.c (role and permission statements).
 */
#ifndef COLONNADE_COORDINATOR_AUTH_ROLES_INT_H
#define COLONNADE_COORDINATOR_AUTH_ROLES_INT_H

#include "coordinator/auth/iq.h"
#include "coordinator/auth/roles.h"
#include "coordinator/cql/cql_ast.h"

#define ROLES_MAX           10000  /* roles the cache holds */
#define GRANTS_MAX          100000 /* role_permissions rows the cache holds */
#define ROLES_WAITERS_MAX   4096   /* statements waiting for the cache */
#define ROLES_CLOSURE_MAX   64     /* roles one role reaches through grants */
#define ROLES_LOOKUPS_MAX   1024   /* logins waiting for the setup */
#define ROLES_SETUP_WAIT_MS 10000

struct rrole {
	char *name;
	bool super, login;
	char **member_of; /* roles granted to it */
	uint32_t n_member_of;
};

struct rgrant {
	char *role;
	char *resource; /* Cassandra's names: data, data/ks, data/ks/t, roles, roles/r */
	uint32_t perms; /* 1 << CQL_PERM_* */
};

/* Every role and grant, as read at one time. */
struct rsnap {
	struct rrole *roles; /* sorted by name */
	uint32_t n_roles;
	struct rgrant *grants;
	uint32_t n_grants;
	int64_t loaded_ms;
};

struct waiter {
	void (*resume)(void *arg);
	void *arg;
};

struct lookup; /* a login's role read waiting for the setup */

struct roles {
	struct roles_options o;
	char superuser[AUTH_MAX_NAME];
	char *password; /* the operator's, until the setup is done */
	struct executor *ex;
	struct schema *schema;
	struct auth *auth;
	struct exec_access access;
	/* permissions cache */
	struct rsnap *snap; /* NULL until first read */
	bool loading;
	uint64_t generation; /* +1 on every local change: a load begun before it is stale */
	struct waiter *waiters;
	uint32_t n_waiters;
	struct cerr load_err; /* why the last load failed ("" = it did not) */
	/* setup */
	bool ready, setup_busy;
	bool dc_adding; /* an ALTER KEYSPACE system_auth adding this datacenter is in flight */
	bool stopping;  /* roles_stop(): nothing new starts */
	int setup_stage;
	struct lookup *lookups; /* waiting for ready */
	unsigned n_lookups;
};

/* ---- roles.c ---- */

const struct rrole *rsnap_role(const struct rsnap *s, const char *name);
/* role and every role granted to it (recursively unless direct_only): up to max, role first. */
uint32_t rsnap_closure(const struct rsnap *s, const char *role, bool direct_only,
                       const struct rrole **out, uint32_t max);
bool rsnap_is_super(const struct rsnap *s, const char *role);
/* The permissions `role` (with what is granted to it) holds on resource name `res` itself. */
uint32_t rsnap_perms_on(const struct rsnap *s, const char *role, const char *res);
/* Does role hold perm on the resource or one of its parents? */
bool roles_allowed(const struct roles *r, const char *role, unsigned perm, int kind, const char *ks,
                   const char *name);
/* Cassandra's resource name ("data/ks/t") and its display ("<table ks.t>"). */
void roles_resource_key(int kind, const char *ks, const char *name, char *out, size_t cap);
/* A change was written through this node: the cache and the role's credentials are stale. */
void roles_changed(struct roles *r, const char *role);
/* Read the cache again now; resume(arg) once read or failed (then r->load_err says why). */
void roles_reload(struct roles *r, void (*resume)(void *arg), void *arg);

/* ---- roles_stmt.c ---- */

void roles_run_stmt(void *ctx, struct exec_req *req, const struct cql_stmt *st,
                    void (*finish)(void *arg), void *arg);
/* DROP KEYSPACE / TABLE: every role's grants on it (a keyspace: on its tables too) go. */
void roles_revoke_all_on(struct roles *r, int kind, const char *ks, const char *name,
                         void (*finish)(void *arg), void *arg);
/* CREATE KEYSPACE / TABLE by a role: ALL applicable permissions on it to the creator. */
void roles_grant_creator(struct roles *r, const char *role, int kind, const char *ks,
                         const char *name, void (*finish)(void *arg), void *arg);

#endif
