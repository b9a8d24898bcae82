/*
 * auth.c — SASL PLAIN logins: role lookup, credentials cache, failed-login
 * limit; the hashes run on the password threads (auth_worker.h).
 */
#include "coordinator/auth/auth.h"

#include "coordinator/auth/auth_worker.h"
#include "core/clock.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOD "auth"

_Static_assert(AUTH_HASH_MAX >= crypto_pwhash_STRBYTES, "argon2id strings fit");

struct cached {
	char name[AUTH_MAX_NAME];
	struct auth_role_info info; /* what the role source said */
	int64_t info_expires_ms;
	uint8_t mac[crypto_auth_hmacsha256_BYTES]; /* of the last good password for info.hash */
	int64_t mac_expires_ms;
};

struct source {
	char addr[64];
	unsigned failures;
	int64_t window_end_ms;
	bool logged_throttle;
};

struct auth {
	struct auth_options o;
	struct auth_worker *worker; /* NULL without a loop: hashes inline */
	struct auth_role_source roles;
	uint8_t cache_key[crypto_auth_hmacsha256_KEYBYTES];
	char dummy[crypto_pwhash_STRBYTES]; /* verified for unknown roles: same cost as a real one
	                                     */
	struct cached cache[AUTH_CACHE_MAX];
	struct source sources[AUTH_SOURCES_MAX];
	struct auth_stats st;
};

/* One login between auth_login() and its callback. */
struct login {
	struct auth *a;
	char source[64];
	char role[AUTH_MAX_NAME];
	char password[AUTH_MAX_PASSWORD + 1];
	size_t password_len;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	bool found;
	struct auth_role_info info;
	struct auth_job job;
	auth_login_cb cb;
	void *arg;
};

int auth_sasl_plain(const uint8_t *token, size_t len, struct auth_plain *out, struct cerr *err)
{
	if (!token)
		return cerr_set(err, COL_EPROTO, "SASL PLAIN: no token");
	const uint8_t *z1 = memchr(token, 0, len);
	if (!z1)
		return cerr_set(err, COL_EPROTO, "SASL PLAIN: expected authzid\\0role\\0password");
	const uint8_t *role = z1 + 1;
	size_t rest = len - (size_t)(role - token);
	const uint8_t *z2 = memchr(role, 0, rest);
	if (!z2)
		return cerr_set(err, COL_EPROTO, "SASL PLAIN: expected authzid\\0role\\0password");
	out->role = role;
	out->role_len = (size_t)(z2 - role);
	out->password = z2 + 1;
	out->password_len = len - (size_t)(out->password - token);
	if (out->role_len == 0 || out->role_len >= AUTH_MAX_NAME)
		return cerr_set(err, COL_EPROTO, "SASL PLAIN: role name of %zu bytes (1..%d)",
		                out->role_len, AUTH_MAX_NAME - 1);
	if (memchr(out->password, 0, out->password_len) || out->password_len > AUTH_MAX_PASSWORD)
		return cerr_set(err, COL_EPROTO,
		                "SASL PLAIN: password holds NUL or is over %d bytes",
		                AUTH_MAX_PASSWORD);
	if (memchr(out->role, '\t', out->role_len) || memchr(out->role, '\n', out->role_len))
		return cerr_set(err, COL_EPROTO, "SASL PLAIN: role name holds a tab or newline");
	return 0;
}

int auth_hash_password_now(const char *pw, size_t len, char out[AUTH_HASH_MAX])
{
	return crypto_pwhash_str(out, pw, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                         crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0
	               ? 0
	               : COL_ENOMEM;
}

int auth_new(const struct auth_options *o, struct auth **out, struct cerr *err)
{
	if (sodium_init() < 0)
		return cerr_set(err, COL_EIO, "auth: libsodium failed to initialise");
	struct auth *a = calloc(1, sizeof(*a));
	if (!a)
		return cerr_set(err, COL_ENOMEM, "auth: out of memory");
	a->o = *o;
	if (!a->o.max_failures)
		a->o.max_failures = 5;
	if (!a->o.failure_window_ms)
		a->o.failure_window_ms = 10000;
	randombytes_buf(a->cache_key, sizeof(a->cache_key));
	if (auth_hash_password_now("-", 1, a->dummy) != 0) {
		free(a);
		return cerr_set(err, COL_ENOMEM, "auth: out of memory hashing");
	}
	if (o->loop) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		unsigned threads = o->hash_threads ? o->hash_threads
		                   : cpus > 3      ? (unsigned)cpus / 2
		                                   : 1;
		int rc = auth_worker_new(o->loop, threads, o->hash_queue ? o->hash_queue : 64,
		                         &a->worker, err);
		if (rc) {
			free(a);
			return rc;
		}
	}
	*out = a;
	return 0;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	auth_worker_free(a->worker);
	sodium_memzero(a, sizeof(*a));
	free(a);
}

void auth_set_role_source(struct auth *a, const struct auth_role_source *src)
{
	a->roles = *src;
}

/* ---- caches ---------------------------------------------------------------------------------- */

static struct source *source_of(struct auth *a, const char *addr, int64_t now)
{
	struct source *free_s = NULL, *oldest = &a->sources[0];
	for (int i = 0; i < AUTH_SOURCES_MAX; i++) {
		struct source *s = &a->sources[i];
		if (s->addr[0] && !strcmp(s->addr, addr))
			return s;
		if (!free_s && (!s->addr[0] || s->window_end_ms <= now))
			free_s = s;
		if (s->window_end_ms < oldest->window_end_ms)
			oldest = s;
	}
	struct source *s = free_s ? free_s : oldest;
	memset(s, 0, sizeof(*s));
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	return s;
}

static struct cached *cache_find(struct auth *a, const char *role)
{
	for (int i = 0; i < AUTH_CACHE_MAX; i++)
		if (a->cache[i].name[0] && !strcmp(a->cache[i].name, role))
			return &a->cache[i];
	return NULL;
}

static struct cached *cache_of(struct auth *a, const char *role)
{
	struct cached *c = cache_find(a, role);
	if (c)
		return c;
	struct cached *victim = &a->cache[0];
	for (int i = 1; i < AUTH_CACHE_MAX && victim->name[0]; i++)
		if (!a->cache[i].name[0] || a->cache[i].info_expires_ms < victim->info_expires_ms)
			victim = &a->cache[i];
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->name, sizeof(victim->name), "%s", role);
	return victim;
}

void auth_invalidate_role(struct auth *a, const char *role)
{
	struct cached *c = cache_find(a, role);
	if (c)
		sodium_memzero(c, sizeof(*c));
}

/* ---- login ----------------------------------------------------------------------------------- */

static void login_finish(struct login *l, enum auth_result r, const struct cerr *e)
{
	struct auth *a = l->a;
	int64_t now = clock_mono_ms();
	struct source *s = source_of(a, l->source, now);
	if (r == AUTH_OK) {
		a->st.successes++;
		s->failures = 0;
	} else if (r == AUTH_BAD_CREDENTIALS) {
		a->st.failures++;
		if (s->failures++ == 0 || s->window_end_ms <= now)
			s->window_end_ms = now + a->o.failure_window_ms;
		log_warn(MOD, "failed login from %s as role '%.64s'%s", l->source, l->role,
		         l->found ? "" : " (no such role)");
	} else if (r == AUTH_BUSY) {
		a->st.busy++;
	}
	l->cb(l->arg, r, r == AUTH_OK ? l->role : NULL, e);
	sodium_memzero(l, sizeof(*l));
	free(l);
}

static void login_refuse(struct login *l)
{
	struct cerr e = {0};
	if (l->found && l->info.hash[0] && !l->info.can_login)
		cerr_set(&e, COL_EPROTO, "%.64s is not permitted to log in", l->role);
	else
		cerr_set(&e, COL_EPROTO, "Provided username %.64s and/or password are incorrect",
		         l->role);
	login_finish(l, AUTH_BAD_CREDENTIALS, &e);
}

static void on_verified(struct auth_job *j)
{
	struct login *l = j->arg;
	struct auth *a = l->a;
	if (j->rc) {
		struct cerr e = {0};
		cerr_set(&e, COL_EOVERLOADED,
		         "Unable to perform authentication: the node is stopping");
		login_finish(l, AUTH_BUSY, &e);
		return;
	}
	if (!j->ok || !l->found || !l->info.can_login) {
		login_refuse(l);
		return;
	}
	if (a->o.validity_ms > 0) {
		struct cached *c = cache_of(a, l->role);
		if (strcmp(c->info.hash, l->info.hash) == 0) {
			memcpy(c->mac, l->mac, sizeof(c->mac));
			c->mac_expires_ms = clock_mono_ms() + a->o.validity_ms;
		}
	}
	login_finish(l, AUTH_OK, NULL);
}

/* The role is known (or known not to exist): the cache, else a password thread. */
static void login_check(struct login *l)
{
	struct auth *a = l->a;
	int64_t now = clock_mono_ms();
	struct cached *c = l->found && a->o.validity_ms > 0 ? cache_find(a, l->role) : NULL;
	if (c && l->info.can_login && c->mac_expires_ms > now &&
	    strcmp(c->info.hash, l->info.hash) == 0 &&
	    sodium_memcmp(c->mac, l->mac, sizeof(l->mac)) == 0) {
		a->st.cache_hits++;
		login_finish(l, AUTH_OK, NULL);
		return;
	}
	a->st.hashes++;
	l->job.kind = AUTH_JOB_VERIFY;
	/* an unknown role, or one without a password, costs a hash too: timing tells nothing */
	snprintf(l->job.hash, sizeof(l->job.hash), "%s",
	         l->found && l->info.hash[0] ? l->info.hash : a->dummy);
	l->job.password = l->password;
	l->job.password_len = l->password_len;
	l->job.done = on_verified;
	l->job.arg = l;
	if (l->found && !l->info.hash[0])
		l->found = false; /* nothing to match: refused whatever the password */
	if (auth_worker_submit(a->worker, &l->job) != 0) {
		struct cerr e = {0};
		cerr_set(&e, COL_EOVERLOADED,
		         "Unable to perform authentication: too many logins are waiting for a "
		         "password check; retry");
		login_finish(l, AUTH_BUSY, &e);
	}
}

static void on_role(void *arg, int rc, const struct auth_role_info *ri, const struct cerr *err)
{
	struct login *l = arg;
	struct auth *a = l->a;
	if (rc && rc != COL_ENOTFOUND) {
		struct cerr e = {0};
		cerr_set(&e, COL_EPROTO, "Unable to perform authentication: %s",
		         err && err->msg[0] ? err->msg : col_strerror(rc));
		log_warn(MOD, "login from %s as role '%.64s': cannot read the role: %s", l->source,
		         l->role, e.msg);
		login_finish(l, AUTH_UNAVAILABLE, &e);
		return;
	}
	l->found = rc == 0;
	if (l->found) {
		l->info = *ri;
		if (a->o.validity_ms > 0) {
			struct cached *c = cache_of(a, l->role);
			if (strcmp(c->info.hash, ri->hash) != 0)
				c->mac_expires_ms = 0;
			c->info = *ri;
			c->info_expires_ms = clock_mono_ms() + a->o.validity_ms;
		}
	}
	login_check(l);
}

void auth_login(struct auth *a, const char *source, const uint8_t *token, size_t len,
                auth_login_cb cb, void *arg)
{
	int64_t now = clock_mono_ms();
	struct source *s = source_of(a, source, now);
	struct cerr e = {0};
	if (s->window_end_ms <= now) {
		s->failures = 0;
		s->logged_throttle = false;
	}
	if (s->failures >= a->o.max_failures) {
		a->st.throttled++;
		if (!s->logged_throttle)
			log_warn(MOD,
			         "%u failed logins from %s within %lld ms: refusing its logins for "
			         "%lld ms",
			         s->failures, source, (long long)a->o.failure_window_ms,
			         (long long)(s->window_end_ms - now));
		s->logged_throttle = true;
		cerr_set(&e, COL_EPROTO, "Too many failed logins from %s; retry in %lld ms", source,
		         (long long)(s->window_end_ms - now));
		cb(arg, AUTH_THROTTLED, NULL, &e);
		return;
	}
	struct auth_plain p;
	if (auth_sasl_plain(token, len, &p, &e) != 0) {
		a->st.failures++;
		cb(arg, AUTH_MALFORMED, NULL, &e);
		return;
	}
	struct login *l = calloc(1, sizeof(*l));
	if (!l) {
		cerr_set(&e, COL_ENOMEM, "Unable to perform authentication: out of memory");
		cb(arg, AUTH_BUSY, NULL, &e);
		return;
	}
	l->a = a;
	l->cb = cb;
	l->arg = arg;
	snprintf(l->source, sizeof(l->source), "%s", source);
	memcpy(l->role, p.role, p.role_len);
	memcpy(l->password, p.password, p.password_len);
	l->password_len = p.password_len;
	crypto_auth_hmacsha256(l->mac, p.password, p.password_len, a->cache_key);
	struct cached *c = a->o.validity_ms > 0 ? cache_find(a, l->role) : NULL;
	if (c && c->info_expires_ms > now) {
		l->found = true;
		l->info = c->info;
		login_check(l);
		return;
	}
	if (!a->roles.lookup) {
		struct cerr u = {0};
		cerr_set(&u, COL_EUNAVAILABLE, "roles are not loaded yet");
		on_role(l, COL_EUNAVAILABLE, NULL, &u);
		return;
	}
	a->roles.lookup(a->roles.ctx, l->role, on_role, l);
}

/* ---- hashing new passwords ------------------------------------------------------------------- */

struct hashing {
	struct auth_job job;
	char password[AUTH_MAX_PASSWORD + 1];
	auth_hash_cb cb;
	void *arg;
};

static void on_hashed(struct auth_job *j)
{
	struct hashing *h = j->arg;
	h->cb(h->arg, j->rc, j->rc ? NULL : j->hash);
	sodium_memzero(h, sizeof(*h));
	free(h);
}

void auth_hash_password(struct auth *a, const char *password, size_t len, auth_hash_cb cb,
                        void *arg)
{
	struct hashing *h = len <= AUTH_MAX_PASSWORD ? calloc(1, sizeof(*h)) : NULL;
	if (!h) {
		cb(arg, len > AUTH_MAX_PASSWORD ? COL_ETOOBIG : COL_ENOMEM, NULL);
		return;
	}
	memcpy(h->password, password, len);
	h->job.kind = AUTH_JOB_HASH;
	h->job.password = h->password;
	h->job.password_len = len;
	h->job.done = on_hashed;
	h->job.arg = h;
	h->cb = cb;
	h->arg = arg;
	a->st.hashes++;
	int rc = auth_worker_submit(a->worker, &h->job);
	if (rc) {
		sodium_memzero(h, sizeof(*h));
		free(h);
		cb(arg, rc, NULL);
	}
}

void auth_get_stats(const struct auth *a, struct auth_stats *out)
{
	*out = a->st;
}
