/*
 * auth.h — PasswordAuthenticator: who may open a CQL session (docs/SECURITY.md).
 *
 * A client answers the server's AUTHENTICATE with SASL PLAIN
 * ("authzid \0 role \0 password"); auth_login() looks the role up (through a
 * role source: system_auth.roles, coordinator/auth/roles.h) and checks the
 * password against its argon2id hash (libsodium crypto_pwhash_str,
 * interactive limits) on a password thread (auth_worker.h): the loop never
 * waits for a hash, the connection does.
 *
 * Caches, both for `validity_ms` (credentials_validity; 0 = off): what the
 * role source said about a role (so a reconnecting client costs no read), and
 * HMAC-SHA256(process key, password) of the last good login per role and
 * stored hash (so it costs a MAC, not a hash; a changed password in the
 * stored hash misses).  A wrong password is never cached.  Failed logins are
 * counted per source address: after `max_failures` within `failure_window_ms`
 * that address is refused without hashing until the window ends, and each
 * failure is logged with the address and the role (the throttled ones once
 * per window).
 *
 * One thread (the node's loop) calls everything here; callbacks run on it.
 */
#ifndef COLONNADE_COORDINATOR_AUTH_H
#define COLONNADE_COORDINATOR_AUTH_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_MAX_NAME      256  /* role name, bytes */
#define AUTH_MAX_PASSWORD  1024 /* bytes */
#define AUTH_HASH_MAX      128  /* an argon2id string (crypto_pwhash_STRBYTES) */
#define AUTH_CACHE_MAX     256  /* roles in the credentials cache */
#define AUTH_SOURCES_MAX   1024 /* source addresses tracked for failures */
#define AUTH_AUTHENTICATOR "org.apache.cassandra.auth.PasswordAuthenticator"

struct ev_loop;

struct auth_options {
	int64_t validity_ms;       /* credentials cache; 0 = off */
	unsigned max_failures;     /* per source within the window [5] */
	int64_t failure_window_ms; /* [10000] */
	struct ev_loop *loop;      /* password threads answer here; NULL: hash inline (tests) */
	unsigned hash_threads;     /* [half the cores, at least 1], niced below the loop */
	unsigned hash_queue;       /* password checks waiting or running [64]; more: AUTH_BUSY */
};

struct auth;

/* 0, or COL_ENOMEM / COL_EIO (libsodium, threads). */
int auth_new(const struct auth_options *o, struct auth **out, struct cerr *err);
/* Logins still waiting for a hash are answered (AUTH_BUSY) before it returns. */
void auth_free(struct auth *a);

/* What a role source knows about a role. */
struct auth_role_info {
	bool can_login, super;
	char hash[AUTH_HASH_MAX]; /* "" = no password: no login with one */
};
/* rc 0: found (ri set); COL_ENOTFOUND: no such role; else could not tell (err says why). */
typedef void (*auth_role_cb)(void *arg, int rc, const struct auth_role_info *ri,
                             const struct cerr *err);
struct auth_role_source {
	/* Answers cb exactly once, on the loop, possibly before returning. */
	void (*lookup)(void *ctx, const char *role, auth_role_cb cb, void *arg);
	void *ctx;
};
/* Until one is set every login is refused (AUTH_UNAVAILABLE). */
void auth_set_role_source(struct auth *a, const struct auth_role_source *src);
/* Forget what the caches hold for role (its password or login changed here). */
void auth_invalidate_role(struct auth *a, const char *role);

/* SASL PLAIN: split "authzid\0authcid\0passwd".  0, or COL_EPROTO with why. */
struct auth_plain {
	const uint8_t *role;
	size_t role_len;
	const uint8_t *password;
	size_t password_len;
};
int auth_sasl_plain(const uint8_t *token, size_t len, struct auth_plain *out, struct cerr *err);

enum auth_result {
	AUTH_OK,
	AUTH_BAD_CREDENTIALS, /* wrong password, unknown role, or a role that may not log in */
	AUTH_THROTTLED,
	AUTH_MALFORMED,
	AUTH_BUSY,        /* too many password checks waiting */
	AUTH_UNAVAILABLE, /* the role could not be read */
};

/* err: the client's message (never the password); role: on AUTH_OK. */
typedef void (*auth_login_cb)(void *arg, enum auth_result r, const char *role,
                              const struct cerr *err);
/*
 * One login from `source` (an address, for the rate limit and the log) with a
 * SASL PLAIN token (copied).  cb runs exactly once on the loop, possibly before
 * this returns.
 */
void auth_login(struct auth *a, const char *source, const uint8_t *token, size_t len,
                auth_login_cb cb, void *arg);

/* A new password's argon2id string, made on a password thread.  rc 0 or COL_E*. */
typedef void (*auth_hash_cb)(void *arg, int rc, const char *hash);
void auth_hash_password(struct auth *a, const char *password, size_t len, auth_hash_cb cb,
                        void *arg);
/* The same, blocking (first start only, before clients). */
int auth_hash_password_now(const char *password, size_t len, char out[AUTH_HASH_MAX]);

struct auth_stats {
	uint64_t successes, failures, throttled, cache_hits, hashes, busy;
};
void auth_get_stats(const struct auth *a, struct auth_stats *out);

#endif
