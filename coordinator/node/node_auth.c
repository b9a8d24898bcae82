/*
 * node_auth.c — the node's authentication and authorization: the
 * authenticator (PasswordAuthenticator), the role manager over system_auth
 * (coordinator/auth/roles.h), its setup timer, and the warning when
 * system_auth's replication is below min(3, nodes) in a datacenter.
 *
 * <data>/auth holds: `roles`, the per-node roles file of earlier versions
 * (copied into system_auth once, then renamed `roles.migrated`), and
 * `setup_done`, written once this node has seen the first superuser in
 * system_auth: from then on it starts without the operator's password.
 */
#include "coordinator/node/node_int.h"

#include "core/log.h"
#include "core/ring.h"
#include "coordinator/schema/schema.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOD "node"

static bool file_exists(const char *dir, const char *name)
{
	char path[1100];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

int node_start_auth(struct node *n, struct cerr *err)
{
	const struct config *cfg = &n->cfg;
	if (!cfg->password_auth)
		return 0;
	snprintf(n->auth_dir, sizeof(n->auth_dir), "%s/auth", cfg->data_directory);
	if (mkdir(n->auth_dir, 0700) != 0 && errno != EEXIST)
		return cerr_set(err, COL_EIO, "cannot create %s: %s", n->auth_dir, strerror(errno));
	const char *pw = cfg->auth_superuser_password;
	bool legacy = file_exists(n->auth_dir, "roles");
	if (legacy) {
		int rc = roles_file_open(n->auth_dir, cfg->auth_superuser, NULL, &n->roles_file,
		                         err);
		if (rc)
			return rc;
	} else if ((!pw || !*pw) && !file_exists(n->auth_dir, "setup_done")) {
		return cerr_set(err, COL_ECONFIG,
		                "authenticator is PasswordAuthenticator but no role exists yet and "
		                "no password is given for the first superuser '%s' (set "
		                "auth_superuser_password, auth_superuser_password_file or "
		                "COLONNADE_AUTH_SUPERUSER_PASSWORD); there is no default password",
		                cfg->auth_superuser);
	}
	struct auth_options o = {.validity_ms = cfg->credentials_validity_ms, .loop = n->loop};
	int rc = auth_new(&o, &n->auth, err);
	if (rc)
		return rc;
	log_info(MOD,
	         "PasswordAuthenticator: CQL clients log in (SASL PLAIN), roles in system_auth; "
	         "credentials cached for %lld ms; %s",
	         (long long)cfg->credentials_validity_ms,
	         cfg->cassandra_authz
	                 ? "CassandraAuthorizer: statements are checked"
	                 : "AllowAllAuthorizer: every logged-in role may do everything");
	return 0;
}

/* The first superuser is in system_auth: this node never needs the password again. */
static void on_setup_done(void *ctx)
{
	struct node *n = ctx;
	char path[1100], to[1100];
	snprintf(path, sizeof(path), "%s/setup_done", n->auth_dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || fsync(fd) != 0)
		log_warn(MOD, "cannot write %s: %s (the next start needs the superuser password)",
		         path, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (n->roles_file) {
		snprintf(path, sizeof(path), "%s/roles", n->auth_dir);
		snprintf(to, sizeof(to), "%s/roles.migrated", n->auth_dir);
		if (rename(path, to) == 0)
			log_info(MOD, "the roles of %s are in system_auth now; the file is %s",
			         path, to);
	}
	log_info(MOD, "system_auth is ready: logins are served");
}

void node_auth_rf_warning(struct node *n, char *out, size_t cap)
{
	out[0] = 0;
	const struct schema_keyspace *k =
	        schema_snap_keyspace(schema_current(n->schema), "system_auth");
	if (!k || !n->ring)
		return;
	struct replication rep;
	struct cerr e = {0};
	if (replication_parse((const char *const *)k->repl_keys, (const char *const *)k->repl_vals,
	                      k->n_repl, &rep, &e) != 0)
		return;
	const char *dcs[RING_MAX_DCS];
	size_t nd = ring_datacenters(n->ring, dcs), len = 0;
	for (size_t i = 0; i < nd && len < cap; i++) {
		int rf = replication_dc_rf(&rep, dcs[i]);
		size_t size = ring_dc_size(n->ring, dcs[i]);
		int want = size < 3 ? (int)size : 3;
		if (rf >= want)
			continue;
		len += (size_t)snprintf(out + len, cap - len,
		                        "%ssystem_auth has replication factor %d in datacenter %s "
		                        "(%zu nodes): below %d, a node down can lock roles out; "
		                        "ALTER KEYSPACE system_auth to %d there, then repair it",
		                        len ? "; " : "", rf, dcs[i], size, want, want);
	}
}

static void on_roles_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	struct node *n = w->data;
	if (n->stopping || !n->roles)
		return;
	roles_setup_step(n->roles);
	char warn[512];
	node_auth_rf_warning(n, warn, sizeof(warn));
	if (strcmp(warn, n->auth_rf_warned) != 0) {
		if (warn[0])
			log_warn(MOD, "%s", warn);
		snprintf(n->auth_rf_warned, sizeof(n->auth_rf_warned), "%s", warn);
	}
}

int node_start_roles(struct node *n, const struct executor_deps *deps, struct cerr *err)
{
	if (!n->auth)
		return 0;
	const struct config *cfg = &n->cfg;
	struct roles_options o = {.superuser = cfg->auth_superuser,
	                          .superuser_password = cfg->auth_superuser_password,
	                          .legacy = n->roles_file,
	                          .authorizer = cfg->cassandra_authz,
	                          .validity_ms = cfg->permissions_validity_ms,
	                          .dc = cfg->dc,
	                          .on_setup_done = on_setup_done,
	                          .ctx = n};
	int rc = roles_new(&o, deps, n->auth, &n->roles, err);
	if (rc)
		return rc;
	struct auth_role_source src;
	roles_role_source(n->roles, &src);
	auth_set_role_source(n->auth, &src);
	roles_setup_step(n->roles);
	ev_timer_init(&n->roles_timer, on_roles_timer, 1.0, 1.0);
	n->roles_timer.data = n;
	ev_timer_start(n->loop, &n->roles_timer);
	return 0;
}

void node_stop_roles(struct node *n)
{
	if (!n->roles)
		return;
	ev_timer_stop(n->loop, &n->roles_timer);
	roles_stop(n->roles);
}

void node_free_auth(struct node *n)
{
	roles_free(n->roles);
	n->roles = NULL;
	auth_free(n->auth);
	n->auth = NULL;
	roles_file_free(n->roles_file);
	n->roles_file = NULL;
}
