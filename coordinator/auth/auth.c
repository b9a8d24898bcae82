/*
 * auth.c — roles file, argon2id, credentials cache, failed-login limit.
 */
#include "coordinator/auth/auth.h"

#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOD       "auth"
#define MAX_ROLES 64

struct role {
	char name[AUTH_MAX_NAME];
	bool super;
	char hash[crypto_pwhash_STRBYTES];
};

struct cached {
	char name[AUTH_MAX_NAME];
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	int64_t expires_ms;
};

struct source {
	char addr[64];
	unsigned failures;
	int64_t window_end_ms;
	bool logged_throttle;
};

struct auth {
	struct auth_options o;
	char path[512];
	struct role roles[MAX_ROLES];
	int n_roles;
	uint8_t cache_key[crypto_auth_hmacsha256_KEYBYTES];
	char dummy[crypto_pwhash_STRBYTES]; /* verified for unknown roles: same cost as a real one
	                                     */
	struct cached cache[AUTH_CACHE_MAX];
	struct source sources[AUTH_SOURCES_MAX];
	struct auth_stats st;
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

/* ---- roles file ------------------------------------------------------------------------------ */

static int load_roles(struct auth *a, struct cerr *err)
{
	FILE *f = fopen(a->path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return cerr_set(err, COL_EIO, "auth: cannot read %s: %s", a->path, strerror(errno));
	}
	char line[AUTH_MAX_NAME + crypto_pwhash_STRBYTES + 16];
	int lineno = 0, rc = 0;
	while (!rc && fgets(line, sizeof(line), f)) {
		lineno++;
		line[strcspn(line, "\n")] = 0;
		char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2 || t1 == line || (size_t)(t1 - line) >= AUTH_MAX_NAME ||
		    strlen(t2 + 1) >= crypto_pwhash_STRBYTES || a->n_roles == MAX_ROLES) {
			rc = cerr_set(err, COL_EIO,
			              "auth: %s:%d: not <name>\\t<0|1>\\t<argon2id hash>", a->path,
			              lineno);
			break;
		}
		struct role *r = &a->roles[a->n_roles++];
		memcpy(r->name, line, (size_t)(t1 - line));
		r->name[t1 - line] = 0;
		r->super = t1[1] == '1';
		snprintf(r->hash, sizeof(r->hash), "%s", t2 + 1);
	}
	fclose(f);
	return rc;
}

static int save_roles(struct auth *a, struct cerr *err)
{
	char tmp[600];
	snprintf(tmp, sizeof(tmp), "%s.tmp", a->path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return cerr_set(err, COL_EIO, "auth: cannot write %s: %s", tmp, strerror(errno));
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return cerr_set(err, COL_ENOMEM, "auth: out of memory");
	}
	for (int i = 0; i < a->n_roles; i++)
		fprintf(f, "%s\t%d\t%s\n", a->roles[i].name, a->roles[i].super ? 1 : 0,
		        a->roles[i].hash);
	bool ok = fflush(f) == 0 && fsync(fd) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, a->path) != 0)
		return cerr_set(err, COL_EIO, "auth: cannot write %s: %s", a->path,
		                strerror(errno));
	return 0;
}

static int hash_password(const char *pw, size_t len, char out[crypto_pwhash_STRBYTES])
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
	if (mkdir(o->dir, 0700) != 0 && errno != EEXIST) {
		cerr_set(err, COL_EIO, "auth: cannot create %s: %s", o->dir, strerror(errno));
		auth_free(a);
		return COL_EIO;
	}
	snprintf(a->path, sizeof(a->path), "%s/roles", o->dir);
	int rc = load_roles(a, err);
	if (!rc && a->n_roles == 0) {
		const char *pw = o->superuser_password;
		if (!pw || !*pw)
			rc = cerr_set(
			        err, COL_ECONFIG,
			        "authenticator is PasswordAuthenticator but no role exists yet and "
			        "no password is given for the first superuser '%s' (set "
			        "auth_superuser_password, auth_superuser_password_file or "
			        "COLONNADE_AUTH_SUPERUSER_PASSWORD); there is no default password",
			        o->superuser);
		else if (strlen(o->superuser) >= AUTH_MAX_NAME || strchr(o->superuser, '\t'))
			rc = cerr_set(err, COL_ECONFIG, "auth_superuser: not a usable role name");
		else {
			struct role *r = &a->roles[a->n_roles++];
			snprintf(r->name, sizeof(r->name), "%s", o->superuser);
			r->super = true;
			rc = hash_password(pw, strlen(pw), r->hash);
			if (!rc)
				rc = save_roles(a, err);
			if (!rc)
				log_info(MOD, "created superuser '%s' (argon2id) in %s", r->name,
				         a->path);
		}
	}
	if (!rc && hash_password("-", 1, a->dummy) != 0)
		rc = cerr_set(err, COL_ENOMEM, "auth: out of memory hashing");
	if (rc) {
		auth_free(a);
		return rc;
	}
	a->o.dir = NULL;
	a->o.superuser = NULL;
	a->o.superuser_password = NULL; /* borrowed: not kept */
	*out = a;
	return 0;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	sodium_memzero(a, sizeof(*a));
	free(a);
}

/* ---- login ----------------------------------------------------------------------------------- */

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

static struct cached *cache_of(struct auth *a, const char *role)
{
	struct cached *victim = &a->cache[0];
	for (int i = 0; i < AUTH_CACHE_MAX; i++) {
		if (!strcmp(a->cache[i].name, role))
			return &a->cache[i];
		if (a->cache[i].expires_ms < victim->expires_ms)
			victim = &a->cache[i];
	}
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->name, sizeof(victim->name), "%s", role);
	return victim;
}

static bool check_password(struct auth *a, const struct role *r, const struct auth_plain *p,
                           int64_t now)
{
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256(mac, p->password, p->password_len, a->cache_key);
	struct cached *c = a->o.validity_ms > 0 ? cache_of(a, r->name) : NULL;
	if (c && c->expires_ms > now && sodium_memcmp(c->mac, mac, sizeof(mac)) == 0) {
		a->st.cache_hits++;
		return true;
	}
	a->st.hashes++;
	bool ok =
	        crypto_pwhash_str_verify(r->hash, (const char *)p->password, p->password_len) == 0;
	if (ok && c) {
		memcpy(c->mac, mac, sizeof(mac));
		c->expires_ms = clock_mono_ms() + a->o.validity_ms;
	}
	return ok;
}

enum auth_result auth_login(struct auth *a, const char *source, const uint8_t *token, size_t len,
                            char *role_out, size_t cap, struct cerr *err)
{
	int64_t now = clock_mono_ms();
	struct source *s = source_of(a, source, now);
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
		cerr_set(err, COL_EPROTO, "Too many failed logins from %s; retry in %lld ms",
		         source, (long long)(s->window_end_ms - now));
		return AUTH_THROTTLED;
	}
	struct auth_plain p;
	if (auth_sasl_plain(token, len, &p, err) != 0) {
		a->st.failures++;
		return AUTH_MALFORMED;
	}
	char role[AUTH_MAX_NAME];
	memcpy(role, p.role, p.role_len);
	role[p.role_len] = 0;
	const struct role *r = NULL;
	for (int i = 0; i < a->n_roles && !r; i++)
		if (!strcmp(a->roles[i].name, role))
			r = &a->roles[i];
	if (r && check_password(a, r, &p, now)) {
		a->st.successes++;
		s->failures = 0;
		snprintf(role_out, cap, "%s", role);
		return AUTH_OK;
	}
	if (!r) {
		a->st.hashes++;
		if (crypto_pwhash_str_verify(a->dummy, (const char *)p.password, p.password_len) == 0)
			log_debug(MOD, "a login for unknown role '%.64s' used the placeholder password",
			          role); /* still refused: the placeholder belongs to no role */
	}
	a->st.failures++;
	if (s->failures++ == 0)
		s->window_end_ms = now + a->o.failure_window_ms;
	log_warn(MOD, "failed login from %s as role '%.64s'%s", source, role,
	         r ? "" : " (no such role)");
	cerr_set(err, COL_EPROTO, "Provided username %.64s and/or password are incorrect", role);
	return AUTH_BAD_CREDENTIALS;
}

void auth_get_stats(const struct auth *a, struct auth_stats *out)
{
	*out = a->st;
}
