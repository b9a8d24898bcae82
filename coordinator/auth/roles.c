/*
 * roles.c — the permissions cache and CassandraAuthorizer's checks, the
 * logins' role reads, and the setup of system_auth and its first superuser
 * (roles.h).  Role and permission statements are in roles_stmt.c.
 */
#include "coordinator/auth/roles_int.h"

#include "coordinator/auth/roles_file.h"
#include "coordinator/schema/schema.h"
#include "core/clock.h"
#include "core/log.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "auth"

/* ---- the cache: every role and grant ------------------------------------------------------- */

static void rsnap_free(struct rsnap *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->n_roles; i++) {
		free(s->roles[i].name);
		for (uint32_t j = 0; j < s->roles[i].n_member_of; j++)
			free(s->roles[i].member_of[j]);
		free(s->roles[i].member_of);
	}
	for (uint32_t i = 0; i < s->n_grants; i++) {
		free(s->grants[i].role);
		free(s->grants[i].resource);
	}
	free(s->roles);
	free(s->grants);
	free(s);
}

static int cmp_role(const void *a, const void *b)
{
	return strcmp(((const struct rrole *)a)->name, ((const struct rrole *)b)->name);
}

const struct rrole *rsnap_role(const struct rsnap *s, const char *name)
{
	struct rrole key = {.name = (char *)name};
	return s ? bsearch(&key, s->roles, s->n_roles, sizeof(key), cmp_role) : NULL;
}

uint32_t rsnap_closure(const struct rsnap *s, const char *role, bool direct_only,
                       const struct rrole **out, uint32_t max)
{
	const struct rrole *first = rsnap_role(s, role);
	if (!first || !max)
		return 0;
	uint32_t n = 0;
	out[n++] = first;
	for (uint32_t i = 0; i < n; i++) {
		if (direct_only && i > 0)
			break;
		for (uint32_t j = 0; j < out[i]->n_member_of && n < max; j++) {
			const struct rrole *g = rsnap_role(s, out[i]->member_of[j]);
			bool seen = !g;
			for (uint32_t k = 0; k < n && !seen; k++)
				seen = out[k] == g;
			if (!seen)
				out[n++] = g;
		}
	}
	return n;
}

bool rsnap_is_super(const struct rsnap *s, const char *role)
{
	const struct rrole *c[ROLES_CLOSURE_MAX];
	uint32_t n = rsnap_closure(s, role, false, c, ROLES_CLOSURE_MAX);
	for (uint32_t i = 0; i < n; i++)
		if (c[i]->super)
			return true;
	return false;
}

uint32_t rsnap_perms_on(const struct rsnap *s, const char *role, const char *res)
{
	const struct rrole *c[ROLES_CLOSURE_MAX];
	uint32_t n = rsnap_closure(s, role, false, c, ROLES_CLOSURE_MAX), perms = 0;
	for (uint32_t g = 0; g < s->n_grants; g++) {
		if (strcmp(s->grants[g].resource, res) != 0)
			continue;
		for (uint32_t i = 0; i < n; i++)
			if (!strcmp(s->grants[g].role, c[i]->name))
				perms |= s->grants[g].perms;
	}
	return perms;
}

void roles_resource_key(int kind, const char *ks, const char *name, char *out, size_t cap)
{
	switch (kind) {
	case CQL_RES_ALL_KEYSPACES: snprintf(out, cap, "data"); break;
	case CQL_RES_KEYSPACE: snprintf(out, cap, "data/%s", ks); break;
	case CQL_RES_TABLE: snprintf(out, cap, "data/%s/%s", ks, name); break;
	case CQL_RES_ALL_ROLES: snprintf(out, cap, "roles"); break;
	default: snprintf(out, cap, "roles/%s", name); break;
	}
}

bool roles_allowed(const struct roles *r, const char *role, unsigned perm, int kind, const char *ks,
                   const char *name)
{
	const struct rsnap *s = r->snap;
	if (!s)
		return false;
	if (rsnap_is_super(s, role))
		return true;
	/* the resource, then its parents: table -> keyspace -> all keyspaces; role -> all roles */
	int chain[3], n = 0;
	if (kind == CQL_RES_TABLE)
		chain[n++] = CQL_RES_TABLE;
	if (kind == CQL_RES_TABLE || kind == CQL_RES_KEYSPACE)
		chain[n++] = CQL_RES_KEYSPACE;
	if (kind <= CQL_RES_TABLE)
		chain[n++] = CQL_RES_ALL_KEYSPACES;
	if (kind == CQL_RES_ROLE)
		chain[n++] = CQL_RES_ROLE;
	if (kind >= CQL_RES_ALL_ROLES)
		chain[n++] = CQL_RES_ALL_ROLES;
	for (int i = 0; i < n; i++) {
		char key[AUTH_MAX_NAME + 2 * 64];
		roles_resource_key(chain[i], ks, name, key, sizeof(key));
		if (rsnap_perms_on(s, role, key) & (1u << perm))
			return true;
	}
	return false;
}

/* ---- loading the cache ------------------------------------------------------------------------
 */

struct load {
	struct roles *r;
	uint64_t generation;
	struct rsnap *s;
	uint32_t cap_roles, cap_grants;
};

static void load_finish(struct load *l, const struct cerr *e);

static void add_member(void *arg, const char *s, size_t len)
{
	struct rrole *ro = arg;
	if (ro->n_member_of >= ROLES_CLOSURE_MAX)
		return;
	char **m = realloc(ro->member_of, (ro->n_member_of + 1) * sizeof(*m));
	char *c = m ? strndup(s, len) : NULL;
	if (m)
		ro->member_of = m;
	if (c)
		ro->member_of[ro->n_member_of++] = c;
}

static const char *const perm_words[CQL_PERM_COUNT] = {
        "CREATE", "ALTER", "DROP", "SELECT", "MODIFY", "AUTHORIZE", "DESCRIBE",
};

static void add_perm(void *arg, const char *s, size_t len)
{
	struct rgrant *g = arg;
	for (int i = 0; i < CQL_PERM_COUNT; i++)
		if (strlen(perm_words[i]) == len && !memcmp(perm_words[i], s, len))
			g->perms |= 1u << i;
}

static void on_grants(void *arg, const struct exec_req *req)
{
	struct load *l = arg;
	struct iq_rows rs;
	struct cerr e = {0};
	if (req->err.code) {
		load_finish(l, &req->err);
		return;
	}
	if (iq_rows_open(req, &rs) || rs.n_cols != 3 || rs.more_pages ||
	    (uint32_t)rs.n_rows > GRANTS_MAX) {
		cerr_set(&e, COL_ETOOBIG,
		         "system_auth.role_permissions: unreadable or over %u rows", GRANTS_MAX);
		load_finish(l, &e);
		return;
	}
	struct rsnap *s = l->s;
	s->grants = calloc(rs.n_rows ? (size_t)rs.n_rows : 1, sizeof(*s->grants));
	struct cql_slice c[3];
	char role[AUTH_MAX_NAME], res[AUTH_MAX_NAME + 128];
	while (s->grants && iq_rows_next(&rs, c)) {
		struct rgrant *g = &s->grants[s->n_grants];
		if (!iq_text(&c[0], role, sizeof(role)) || !iq_text(&c[1], res, sizeof(res)))
			continue;
		g->role = strdup(role);
		g->resource = strdup(res);
		iq_text_set(&c[2], add_perm, g);
		if (g->role && g->resource)
			s->n_grants++;
	}
	if (!s->grants)
		cerr_set(&e, COL_ENOMEM, "out of memory reading system_auth");
	load_finish(l, e.code ? &e : NULL);
}

static void on_roles(void *arg, const struct exec_req *req)
{
	struct load *l = arg;
	struct iq_rows rs;
	struct cerr e = {0};
	if (req->err.code) {
		load_finish(l, &req->err);
		return;
	}
	if (iq_rows_open(req, &rs) || rs.n_cols != 4 || rs.more_pages ||
	    (uint32_t)rs.n_rows > ROLES_MAX) {
		cerr_set(&e, COL_ETOOBIG, "system_auth.roles: unreadable or over %u rows",
		         ROLES_MAX);
		load_finish(l, &e);
		return;
	}
	struct rsnap *s = l->s;
	s->roles = calloc(rs.n_rows ? (size_t)rs.n_rows : 1, sizeof(*s->roles));
	struct cql_slice c[4];
	char name[AUTH_MAX_NAME];
	while (s->roles && iq_rows_next(&rs, c)) {
		if (!iq_text(&c[0], name, sizeof(name)) || !name[0])
			continue;
		struct rrole *ro = &s->roles[s->n_roles];
		ro->name = strdup(name);
		ro->login = iq_bool(&c[1]);
		ro->super = iq_bool(&c[2]);
		iq_text_set(&c[3], add_member, ro);
		if (ro->name)
			s->n_roles++;
	}
	if (!s->roles) {
		cerr_set(&e, COL_ENOMEM, "out of memory reading system_auth");
		load_finish(l, &e);
		return;
	}
	qsort(s->roles, s->n_roles, sizeof(*s->roles), cmp_role);
	iq_run(l->r->ex, "SELECT role, resource, permissions FROM system_auth.role_permissions",
	       CL_LOCAL_ONE, on_grants, l);
}

static void start_load(struct roles *r)
{
	if (r->loading)
		return;
	struct load *l = calloc(1, sizeof(*l));
	struct rsnap *s = l ? calloc(1, sizeof(*s)) : NULL;
	if (!s) {
		free(l);
		cerr_set(&r->load_err, COL_ENOMEM, "out of memory reading system_auth");
		return;
	}
	r->loading = true;
	l->r = r;
	l->generation = r->generation;
	l->s = s;
	s->loaded_ms = clock_mono_ms();
	iq_run(r->ex, "SELECT role, can_login, is_superuser, member_of FROM system_auth.roles",
	       CL_LOCAL_ONE, on_roles, l);
}

static void load_finish(struct load *l, const struct cerr *e)
{
	struct roles *r = l->r;
	r->loading = false;
	if (e) {
		r->load_err = *e;
		log_warn(MOD, "cannot read roles and permissions from system_auth: %s", e->msg);
		rsnap_free(l->s);
	} else {
		cerr_clear(&r->load_err);
		rsnap_free(r->snap);
		r->snap = l->s;
	}
	bool stale = l->generation != r->generation;
	free(l);
	if (stale && !e) {
		r->snap->loaded_ms = 0; /* begun before a change made here: read again */
		start_load(r);
		return;
	}
	struct waiter *w = r->waiters;
	uint32_t n = r->n_waiters;
	r->waiters = NULL;
	r->n_waiters = 0;
	for (uint32_t i = 0; i < n; i++)
		w[i].resume(w[i].arg);
	free(w);
}

static bool fresh(const struct roles *r, int64_t now)
{
	return r->snap && r->snap->loaded_ms && now - r->snap->loaded_ms < r->o.validity_ms;
}

static int add_waiter(struct roles *r, void (*resume)(void *), void *arg)
{
	if (r->n_waiters >= ROLES_WAITERS_MAX)
		return COL_EFULL;
	if (!r->waiters) {
		r->waiters = calloc(ROLES_WAITERS_MAX, sizeof(*r->waiters));
		if (!r->waiters)
			return COL_ENOMEM;
	}
	r->waiters[r->n_waiters++] = (struct waiter){resume, arg};
	return 0;
}

void roles_reload(struct roles *r, void (*resume)(void *arg), void *arg)
{
	if (r->snap)
		r->snap->loaded_ms = 0;
	if (add_waiter(r, resume, arg) != 0) {
		cerr_set(&r->load_err, COL_EOVERLOADED, "too many statements wait for system_auth");
		resume(arg);
		return;
	}
	start_load(r);
}

void roles_changed(struct roles *r, const char *role)
{
	r->generation++;
	if (r->snap)
		r->snap->loaded_ms = 0;
	if (role)
		auth_invalidate_role(r->auth, role);
}

/* ---- exec_access ------------------------------------------------------------------------------
 */

static int access_prepare(void *ctx, const struct exec_session *s, void (*resume)(void *),
                          void *arg)
{
	struct roles *r = ctx;
	if (!r->o.authorizer || !s->role[0])
		return 0;
	int64_t now = clock_mono_ms();
	if (fresh(r, now)) {
		if (now - r->snap->loaded_ms > r->o.validity_ms * 3 / 4)
			start_load(r); /* ahead of expiry, while this statement goes on */
		return 0;
	}
	if (r->stopping)
		return 0; /* check() answers with what there is */
	if (!resume || add_waiter(r, resume, arg) != 0) {
		start_load(r);
		return resume ? 0 : COL_EAGAIN;
	}
	start_load(r);
	return COL_EAGAIN;
}

static int access_check(void *ctx, const struct exec_session *s, unsigned perm, int kind,
                        const char *ks, const char *name, struct cerr *err)
{
	struct roles *r = ctx;
	if (!r->o.authorizer)
		return 0;
	if (!r->snap)
		return cerr_set(err, COL_EIO,
		                "Cannot read the permissions of %s from system_auth: %s", s->role,
		                r->load_err.msg[0] ? r->load_err.msg : "not read yet");
	if (roles_allowed(r, s->role, perm, kind, ks, name))
		return 0;
	char res[AUTH_MAX_NAME + 128];
	exec_resource_name(kind, ks, name, res, sizeof(res));
	return cerr_set(err, COL_EUNAUTHORIZED,
	                "User %s has no %s permission on %s or any of its parents", s->role,
	                cql_permission_name((enum cql_permission)perm), res);
}

static void access_dropped(void *ctx, const struct exec_session *s, int kind, const char *ks,
                           const char *name, void (*finish)(void *), void *arg)
{
	(void)s;
	struct roles *r = ctx;
	if (!r->o.authorizer) {
		finish(arg);
		return;
	}
	roles_revoke_all_on(r, kind, ks, name, finish, arg);
}

static void access_created(void *ctx, const struct exec_session *s, int kind, const char *ks,
                           const char *name, void (*finish)(void *), void *arg)
{
	struct roles *r = ctx;
	if (!r->o.authorizer) {
		finish(arg);
		return;
	}
	roles_grant_creator(r, s->role, kind, ks, name, finish, arg);
}

/* ---- logins' role reads --------------------------------------------------------------------- */

struct lookup {
	struct roles *r;
	char role[AUTH_MAX_NAME];
	auth_role_cb cb;
	void *arg;
	uint16_t cl;
	int64_t since_ms;
	struct lookup *next;
};

static void lookup_read(struct lookup *l);

static void on_lookup(void *arg, const struct exec_req *req)
{
	struct lookup *l = arg;
	struct iq_rows rs;
	struct cql_slice c[3];
	if (req->err.code == COL_EUNAVAILABLE && l->cl == CL_QUORUM) {
		l->cl = CL_LOCAL_ONE; /* too few replicas for a quorum (one node, RF 3): one */
		lookup_read(l);
		return;
	}
	if (req->err.code == COL_EUNAVAILABLE && l->cl == CL_LOCAL_ONE) {
		l->cl = CL_ONE; /* no replica in this datacenter (yet): any */
		lookup_read(l);
		return;
	}
	if (req->err.code) {
		l->cb(l->arg, req->err.code, NULL, &req->err);
		free(l);
		return;
	}
	if (iq_rows_open(req, &rs) || !iq_rows_next(&rs, c)) {
		if (l->cl == CL_LOCAL_ONE && strcmp(l->role, l->r->superuser) != 0) {
			l->cl = CL_LOCAL_QUORUM; /* one replica may not have it yet: ask more */
			lookup_read(l);
			return;
		}
		l->cb(l->arg, COL_ENOTFOUND, NULL, NULL);
		free(l);
		return;
	}
	struct auth_role_info ri = {.can_login = iq_bool(&c[0]), .super = iq_bool(&c[1])};
	if (!iq_text(&c[2], ri.hash, sizeof(ri.hash)))
		ri.hash[0] = 0;
	l->cb(l->arg, 0, &ri, NULL);
	free(l);
}

static void on_lookup_fallback(void *arg, const struct exec_req *req)
{
	struct lookup *l = arg;
	if (req->err.code && l->cl == CL_LOCAL_QUORUM) {
		l->cb(l->arg, COL_ENOTFOUND, NULL,
		      NULL); /* the one replica asked did not have it */
		free(l);
		return;
	}
	on_lookup(arg, req);
}

static void lookup_read(struct lookup *l)
{
	struct buf q;
	buf_init(&q);
	buf_put_str(&q, "SELECT can_login, is_superuser, salted_hash FROM system_auth.roles WHERE "
	                "role = ");
	iq_quote(&q, l->role);
	buf_put_u8(&q, 0);
	if (!buf_ok(&q)) {
		struct cerr e = {0};
		cerr_set(&e, COL_ENOMEM, "out of memory");
		l->cb(l->arg, COL_ENOMEM, NULL, &e);
		free(l);
	} else {
		iq_run(l->r->ex, (const char *)q.data, l->cl,
		       l->cl == CL_LOCAL_QUORUM ? on_lookup_fallback : on_lookup, l);
	}
	buf_release(&q);
}

static void role_lookup(void *ctx, const char *role, auth_role_cb cb, void *arg)
{
	struct roles *r = ctx;
	struct lookup *l = calloc(1, sizeof(*l));
	if (!l) {
		cb(arg, COL_ENOMEM, NULL, NULL);
		return;
	}
	l->r = r;
	snprintf(l->role, sizeof(l->role), "%s", role);
	l->cb = cb;
	l->arg = arg;
	l->cl = strcmp(role, r->superuser) == 0 ? CL_QUORUM : CL_LOCAL_ONE;
	if (r->ready || r->stopping) {
		lookup_read(l);
		return;
	}
	if (r->n_lookups >= ROLES_LOOKUPS_MAX) {
		struct cerr e = {0};
		cerr_set(&e, COL_EOVERLOADED, "system_auth is being set up; too many logins wait");
		cb(arg, COL_EOVERLOADED, NULL, &e);
		free(l);
		return;
	}
	l->since_ms = clock_mono_ms();
	l->next = r->lookups;
	r->lookups = l;
	r->n_lookups++;
}

/* Logins that waited for the setup: read now (ready) or give up (waited too long). */
static void run_lookups(struct roles *r)
{
	int64_t now = clock_mono_ms();
	struct lookup **pp = &r->lookups;
	while (*pp) {
		struct lookup *l = *pp;
		if (!r->ready && now - l->since_ms < ROLES_SETUP_WAIT_MS) {
			pp = &l->next;
			continue;
		}
		*pp = l->next;
		r->n_lookups--;
		if (r->ready) {
			lookup_read(l);
		} else {
			struct cerr e = {0};
			cerr_set(&e, COL_EUNAVAILABLE,
			         "system_auth is not set up yet (its first superuser is not "
			         "written)");
			l->cb(l->arg, COL_EUNAVAILABLE, NULL, &e);
			free(l);
		}
	}
}

/* ---- setup: system_auth and the first superuser ------------------------------------------------
 */

enum { SETUP_SCHEMA, SETUP_READ, SETUP_WRITE, SETUP_DONE };

static void setup_done(struct roles *r)
{
	r->setup_stage = SETUP_DONE;
	r->ready = true;
	if (r->password) {
		sodium_memzero(r->password, strlen(r->password));
		free(r->password);
		r->password = NULL;
	}
	if (r->o.on_setup_done)
		r->o.on_setup_done(r->o.ctx);
	run_lookups(r);
}

static void on_setup_written(void *arg, const struct exec_req *req)
{
	struct roles *r = arg;
	r->setup_busy = false;
	if (req->err.code == COL_EUNAVAILABLE && r->setup_stage == SETUP_WRITE) {
		r->setup_stage =
		        SETUP_WRITE + 10; /* again at LOCAL_ONE: too few replicas for QUORUM */
		roles_setup_step(r);
		return;
	}
	if (req->err.code) {
		log_warn(MOD, "cannot write the first superuser to system_auth (will retry): %s",
		         req->err.msg);
		r->setup_stage = SETUP_READ;
		return;
	}
	setup_done(r);
}

/* The first superuser, or the roles of the per-node file: one batch at timestamp 0. */
static void setup_write(struct roles *r, uint16_t cl)
{
	struct buf q;
	buf_init(&q);
	buf_put_str(&q, "BEGIN UNLOGGED BATCH USING TIMESTAMP 0 ");
	int n = r->o.legacy ? roles_file_count(r->o.legacy) : 0;
	for (int i = 0; i < n; i++) {
		const char *name, *hash;
		bool super;
		roles_file_get(r->o.legacy, i, &name, &super, &hash);
		buf_put_str(&q, "INSERT INTO system_auth.roles (role, can_login, is_superuser, "
		                "salted_hash) VALUES (");
		iq_quote(&q, name);
		buf_put_str(&q, super ? ", true, true, " : ", true, false, ");
		iq_quote(&q, hash);
		buf_put_str(&q, "); ");
	}
	buf_put_str(&q, "APPLY BATCH");
	buf_put_u8(&q, 0);
	if (!buf_ok(&q)) {
		r->setup_busy = false;
		buf_release(&q);
		return;
	}
	iq_run(r->ex, (const char *)q.data, cl, on_setup_written, r);
	buf_release(&q);
}

static void on_superuser_hash(void *arg, int rc, const char *hash)
{
	struct roles *r = arg;
	if (rc) {
		r->setup_busy = false;
		log_warn(MOD, "cannot hash the first superuser's password: %s", col_strerror(rc));
		return;
	}
	struct buf q;
	buf_init(&q);
	buf_put_str(&q,
	            "INSERT INTO system_auth.roles (role, can_login, is_superuser, salted_hash) "
	            "VALUES (");
	iq_quote(&q, r->superuser);
	buf_put_str(&q, ", true, true, ");
	iq_quote(&q, hash);
	buf_put_str(&q, ") USING TIMESTAMP 0");
	buf_put_u8(&q, 0);
	if (buf_ok(&q)) {
		log_info(MOD,
		         "creating superuser '%s' in system_auth (from the operator's password)",
		         r->superuser);
		iq_run(r->ex, (const char *)q.data,
		       r->setup_stage == SETUP_WRITE ? CL_QUORUM : CL_LOCAL_ONE, on_setup_written,
		       r);
	} else {
		r->setup_busy = false;
	}
	buf_release(&q);
}

static void on_setup_read(void *arg, const struct exec_req *req)
{
	struct roles *r = arg;
	struct iq_rows rs;
	struct cql_slice c[1];
	if (req->err.code == COL_EUNAVAILABLE && r->setup_stage == SETUP_READ) {
		r->setup_busy = false;
		r->setup_stage = SETUP_READ + 10; /* again at LOCAL_ONE */
		roles_setup_step(r);
		return;
	}
	if (req->err.code) {
		r->setup_busy = false;
		r->setup_stage = SETUP_READ;
		log_info(MOD, "cannot read system_auth yet (will retry): %s", req->err.msg);
		return;
	}
	if (!iq_rows_open(req, &rs) && iq_rows_next(&rs, c)) {
		r->setup_busy = false;
		setup_done(r); /* there already (another node, or an earlier start) */
		return;
	}
	bool one = r->setup_stage != SETUP_READ;
	r->setup_stage = one ? SETUP_WRITE + 10 : SETUP_WRITE;
	if (r->o.legacy && roles_file_count(r->o.legacy) > 0) {
		log_info(MOD, "copying %d roles of the per-node roles file into system_auth",
		         roles_file_count(r->o.legacy));
		setup_write(r, one ? CL_LOCAL_ONE : CL_QUORUM);
		return;
	}
	if (!r->password) {
		r->setup_busy = false;
		r->setup_stage = SETUP_READ;
		log_warn(MOD,
		         "system_auth holds no role '%s' and this node has no password for it "
		         "(auth_superuser_password): logins wait for another node to create it",
		         r->superuser);
		return;
	}
	auth_hash_password(r->auth, r->password, strlen(r->password), on_superuser_hash, r);
}

static void on_dc_added(void *arg, const struct exec_req *req)
{
	struct roles *r = arg;
	r->dc_adding = false;
	if (req->err.code)
		log_warn(MOD, "cannot add datacenter %s to system_auth's replication: %s", r->o.dc,
		         req->err.msg);
	else
		log_info(MOD,
		         "system_auth is replicated to datacenter %s now (3 replicas); repair "
		         "system_auth there to copy its roles",
		         r->o.dc);
}

/*
 * system_auth is replicated to every datacenter: a node whose datacenter its
 * NetworkTopologyStrategy options do not name adds it with 3 (a datacenter named
 * with any factor, 0 included, is the operator's choice and stays).
 */
static void add_own_dc(struct roles *r)
{
	const struct schema_keyspace *k =
	        schema_snap_keyspace(schema_current(r->schema), "system_auth");
	if (r->dc_adding || r->stopping || !k || !k->n_repl ||
	    !strstr(k->repl_vals[0], "NetworkTopologyStrategy"))
		return;
	for (uint32_t i = 1; i < k->n_repl; i++)
		if (!strcmp(k->repl_keys[i], r->o.dc))
			return;
	struct buf q;
	buf_init(&q);
	buf_put_str(&q, "ALTER KEYSPACE system_auth WITH replication = {'class': "
	                "'NetworkTopologyStrategy'");
	for (uint32_t i = 1; i < k->n_repl; i++) {
		buf_put_str(&q, ", ");
		iq_quote(&q, k->repl_keys[i]);
		buf_put_str(&q, ": ");
		iq_quote(&q, k->repl_vals[i]);
	}
	buf_put_str(&q, ", ");
	iq_quote(&q, r->o.dc);
	buf_put_str(&q, ": '3'}");
	buf_put_u8(&q, 0);
	if (buf_ok(&q)) {
		r->dc_adding = true;
		iq_run(r->ex, (const char *)q.data, CL_ONE, on_dc_added, r);
	}
	buf_release(&q);
}

void roles_setup_step(struct roles *r)
{
	run_lookups(r);
	if (r->setup_stage != SETUP_SCHEMA)
		add_own_dc(r); /* a schema merged since may have dropped it (ties at timestamp 0) */
	if (r->ready || r->setup_busy || r->stopping)
		return;
	if (r->setup_stage == SETUP_SCHEMA) {
		struct cerr e = {0};
		if (schema_ensure_system_auth(r->schema, r->o.dc, &e) != 0) {
			log_warn(MOD, "cannot create system_auth (will retry): %s", e.msg);
			return;
		}
		add_own_dc(r);
		r->setup_stage = SETUP_READ;
	}
	r->setup_busy = true;
	if (r->setup_stage == SETUP_WRITE + 10) {
		if (r->o.legacy && roles_file_count(r->o.legacy) > 0)
			setup_write(r, CL_LOCAL_ONE);
		else if (r->password)
			auth_hash_password(r->auth, r->password, strlen(r->password),
			                   on_superuser_hash, r);
		else
			r->setup_busy = false;
		return;
	}
	struct buf q;
	buf_init(&q);
	buf_put_str(&q, "SELECT role FROM system_auth.roles WHERE role = ");
	iq_quote(&q, r->superuser);
	buf_put_u8(&q, 0);
	if (!buf_ok(&q)) {
		r->setup_busy = false;
		buf_release(&q);
		return;
	}
	iq_run(r->ex, (const char *)q.data, r->setup_stage == SETUP_READ ? CL_QUORUM : CL_LOCAL_ONE,
	       on_setup_read, r);
	buf_release(&q);
}

bool roles_ready(const struct roles *r)
{
	return r->ready;
}

/* ---- lifecycle --------------------------------------------------------------------------------
 */

int roles_new(const struct roles_options *o, const struct executor_deps *deps, struct auth *auth,
              struct roles **out, struct cerr *err)
{
	struct roles *r = calloc(1, sizeof(*r));
	if (!r)
		return cerr_set(err, COL_ENOMEM, "auth: out of memory");
	r->o = *o;
	if (r->o.validity_ms < 0)
		r->o.validity_ms = 2000;
	snprintf(r->superuser, sizeof(r->superuser), "%s",
	         o->superuser ? o->superuser : "cassandra");
	if (o->superuser_password && *o->superuser_password)
		r->password = strdup(o->superuser_password);
	r->o.superuser = NULL;
	r->o.superuser_password = NULL; /* borrowed: not kept */
	struct executor_deps d = *deps;
	d.access = NULL; /* system_auth is read and written by the node itself */
	d.on_schema_event = NULL;
	d.ddl_wait = NULL;
	if (executor_new(&d, &r->ex) != 0) {
		free(r->password);
		free(r);
		return cerr_set(err, COL_ENOMEM, "auth: out of memory");
	}
	r->schema = deps->schema;
	r->auth = auth;
	r->access = (struct exec_access){.ctx = r,
	                                 .prepare = access_prepare,
	                                 .check = access_check,
	                                 .run = roles_run_stmt,
	                                 .created = access_created,
	                                 .dropped = access_dropped};
	*out = r;
	return 0;
}

void roles_stop(struct roles *r)
{
	if (!r)
		return;
	r->stopping = true;
	while (r->lookups) {
		struct lookup *l = r->lookups;
		r->lookups = l->next;
		r->n_lookups--;
		struct cerr e = {0};
		cerr_set(&e, COL_ECLOSED, "the node is stopping");
		l->cb(l->arg, COL_ECLOSED, NULL, &e);
		free(l);
	}
	struct waiter *w = r->waiters;
	uint32_t n = r->n_waiters;
	r->waiters = NULL;
	r->n_waiters = 0;
	cerr_set(&r->load_err, COL_ECLOSED, "the node is stopping");
	for (uint32_t i = 0; i < n; i++)
		w[i].resume(w[i].arg);
	free(w);
}

void roles_free(struct roles *r)
{
	if (!r)
		return;
	roles_stop(r);
	rsnap_free(r->snap);
	executor_free(r->ex);
	if (r->password) {
		sodium_memzero(r->password, strlen(r->password));
		free(r->password);
	}
	free(r);
}

const struct exec_access *roles_access(struct roles *r)
{
	return &r->access;
}

void roles_role_source(struct roles *r, struct auth_role_source *out)
{
	out->lookup = role_lookup;
	out->ctx = r;
}
