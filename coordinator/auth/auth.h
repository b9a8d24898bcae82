/*
 * auth.h — PasswordAuthenticator: who may open a CQL session (docs/SECURITY.md).
 *
 * A client answers the server's AUTHENTICATE with SASL PLAIN
 * ("authzid \0 role \0 password"); auth_login() checks the role's password
 * against its argon2id hash (libsodium crypto_pwhash_str, interactive
 * limits).  Roles live in <dir>/roles, one line per role:
 * "<name>\t<superuser 0|1>\t<argon2id string>\n", written atomically (temp
 * file, fsync, rename).  The first superuser is created on the first start
 * from the operator's password (auth_superuser_password / _file /
 * COLONNADE_AUTH_SUPERUSER_PASSWORD); there is no default password, and
 * without a stored role and without that password auth_new() refuses.
 *
 * A credentials cache keeps, per role, HMAC-SHA256(process key, password) of
 * the last good login for `validity_ms`, so a reconnecting client costs a MAC,
 * not an argon2id hash; a wrong password is never cached.  Failed logins are
 * counted per source address: after `max_failures` within `failure_window_ms`
 * that address is refused without hashing until the window ends, and each
 * failure is logged with the address and the role (the throttled ones once
 * per window).
 *
 * One thread (the node's loop).  auth_login() blocks for one hash (tens of ms)
 * on a cache miss: the rate limit and the cache bound how often.
 */
#ifndef COLONNADE_COORDINATOR_AUTH_H
#define COLONNADE_COORDINATOR_AUTH_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_MAX_NAME      256  /* role name, bytes */
#define AUTH_MAX_PASSWORD  1024 /* bytes */
#define AUTH_CACHE_MAX     256  /* roles in the credentials cache */
#define AUTH_SOURCES_MAX   1024 /* source addresses tracked for failures */
#define AUTH_AUTHENTICATOR "org.apache.cassandra.auth.PasswordAuthenticator"

struct auth_options {
	const char *dir;                /* roles file directory (created) */
	const char *superuser;          /* name of the first superuser */
	const char *superuser_password; /* needed when no role is stored yet; else ignored */
	int64_t validity_ms;            /* credentials cache; 0 = off */
	unsigned max_failures;          /* per source within the window [5] */
	int64_t failure_window_ms;      /* [10000] */
};

struct auth;

/* Load (or, first start, create) the roles.  0, or COL_ECONFIG / COL_EIO / COL_ENOMEM. */
int auth_new(const struct auth_options *o, struct auth **out, struct cerr *err);
void auth_free(struct auth *a);

/* SASL PLAIN: split "authzid\0authcid\0passwd".  0, or COL_EPROTO with why. */
struct auth_plain {
	const uint8_t *role;
	size_t role_len;
	const uint8_t *password;
	size_t password_len;
};
int auth_sasl_plain(const uint8_t *token, size_t len, struct auth_plain *out, struct cerr *err);

enum auth_result { AUTH_OK, AUTH_BAD_CREDENTIALS, AUTH_THROTTLED, AUTH_MALFORMED };

/*
 * One login from `source` (an address, for the rate limit and the log) with a
 * SASL PLAIN token.  On AUTH_OK the role name is copied to role_out.  Other
 * results leave the client's message in err (never the password).
 */
enum auth_result auth_login(struct auth *a, const char *source, const uint8_t *token, size_t len,
                            char *role_out, size_t cap, struct cerr *err);

struct auth_stats {
	uint64_t successes, failures, throttled, cache_hits, hashes;
};
void auth_get_stats(const struct auth *a, struct auth_stats *out);

#endif
