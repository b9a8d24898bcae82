/*
 * roles.h — roles and permissions in system_auth (docs/SECURITY.md): the role
 * manager (CREATE / ALTER / DROP ROLE, GRANT / REVOKE, LIST ROLES /
 * PERMISSIONS), CassandraAuthorizer (every statement checked against the
 * session's role and the roles granted to it, superusers pass), the logins'
 * role source, and the first superuser.
 *
 * Storage: the replicated keyspace system_auth (schema_ensure_system_auth;
 * NetworkTopologyStrategy), read and written through an executor of its own
 * on the normal path, so a role made through one node logs in on every node.
 * Logins read their role at LOCAL_ONE (the first superuser's name at QUORUM;
 * each falls back when it cannot be met, see roles.c); role changes write at
 * LOCAL_ONE, as Cassandra.
 *
 * Permissions cache: every role with its grants, read from system_auth.roles
 * and role_permissions (two reads) and kept `validity_ms`; a statement whose
 * session finds it older waits for a fresh one (refreshed ahead at three
 * quarters of the validity under traffic), a change made through this node
 * clears it at once.
 *
 * The first superuser: once the node runs, system_auth exists (made by every
 * node identically) and, if it holds no role named `superuser`, the role is
 * written from the operator's password (or the roles of the per-node file of
 * an older version are copied in) with timestamp 0: any later change made
 * anywhere wins over it, and nodes doing it at once converge on one row.
 * Logins that arrive before this is done wait for it (at most 10 s).
 *
 * One thread: the node's loop.
 */
#ifndef COLONNADE_COORDINATOR_AUTH_ROLES_H
#define COLONNADE_COORDINATOR_AUTH_ROLES_H

#include "coordinator/auth/auth.h"
#include "coordinator/query/executor.h"

struct roles_file;
struct roles;

struct roles_options {
	const char *superuser;          /* the first superuser's name ["cassandra"] */
	const char *superuser_password; /* used only if system_auth has no such role; may be NULL */
	const struct roles_file *legacy; /* roles of the per-node file to copy in (may be NULL) */
	bool authorizer;                 /* CassandraAuthorizer; false: AllowAllAuthorizer */
	int64_t validity_ms; /* permissions cache [2000]; 0 = read for every statement */
	const char *dc;      /* this node's datacenter (system_auth's replication) */
	/* Called once the first superuser is there (or copied): the node marks its data dir. */
	void (*on_setup_done)(void *ctx);
	void *ctx;
};

/* deps: as the CQL server's executor (schema, store, router, prepared, view). */
int roles_new(const struct roles_options *o, const struct executor_deps *deps, struct auth *auth,
              struct roles **out, struct cerr *err);
/*
 * Shutdown: roles_stop() before the CQL server is freed (statements waiting for
 * the cache run now, logins waiting for the setup are refused); roles_free()
 * after the router is (internal reads in flight have answered).
 */
void roles_stop(struct roles *r);
void roles_free(struct roles *r);

/* The executor's access hooks (executor_deps.access) and the logins' role source. */
const struct exec_access *roles_access(struct roles *r);
void roles_role_source(struct roles *r, struct auth_role_source *out);

/*
 * One step of the setup (make system_auth, then the first superuser): call it
 * from a timer (a step in flight is not started twice).  Each call also
 * checks that system_auth's replication names this node's datacenter, and adds
 * it with 3 if not (a datacenter named with any factor is left as it is).
 */
void roles_setup_step(struct roles *r);
bool roles_ready(const struct roles *r);

#endif
