/*
 * tls.h — TLS contexts and per-connection TLS sessions (OpenSSL), for the
 * CQL server (client_encryption_options), internode messaging
 * (server_encryption_options) and cqlish.  docs/SECURITY.md has the design.
 *
 * A struct tls_ctx is one configuration made into an OpenSSL SSL_CTX: the
 * node's certificate chain and private key (PEM), the CA bundle peers'
 * certificates must chain to (the truststore, PEM), whether the peer must
 * present a certificate, the accepted protocol versions and cipher suites.
 * It is reference-counted: a connection's session holds the SSL_CTX it was
 * made from, so replacing a server's context (certificates reloaded on
 * SIGHUP) leaves existing connections on the old one until they close.
 * A context may be shared by several loops' threads (references are atomic;
 * OpenSSL makes sessions from one context concurrently); a session belongs
 * to one thread.
 *
 * A struct tls_conn is one session over a non-blocking socket (or, for
 * tests and fuzzing, over memory BIOs).  Its calls never block: they answer
 * TLS_WANT_READ / TLS_WANT_WRITE when the socket must become readable /
 * writable first, and the caller (core/net.c) arms its libev watchers.
 *
 * Renegotiation is refused (TLS 1.2) and TLS 1.3 has none, so after the
 * handshake a read never needs a write to complete, except for a KeyUpdate
 * answer, which OpenSSL queues and sends with the next write.
 */
#ifndef COLONNADE_CORE_TLS_H
#define COLONNADE_CORE_TLS_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What one side's TLS is made of (the config keys of docs/CONFIG.md).  Strings are borrowed. */
struct tls_options {
	/* Certificate chain (leaf first) and its private key, PEM.  `keystore` is one PEM file
	 * holding both (Cassandra's PEMBasedSslContextFactory); certificate/private_key are
	 * two files.  A server needs one or the other; a client only to present a certificate. */
	const char *keystore;
	const char *certificate;
	const char *private_key;
	const char *key_password; /* keystore_password: for an encrypted PEM key; NULL = none */
	const char *truststore;   /* CA bundle (PEM) that peers' certificates must chain to */
	/* Server: ask for and verify the client's certificate (needs a truststore).
	 * Client: ignored (a client verifies the server whenever it has a truststore). */
	bool require_client_auth;
	/* "TLS" (any accepted version) or one version ("TLSv1.2", "TLSv1.3"); NULL = "TLS". */
	const char *protocol;
	/* Comma-separated versions ("TLSv1.2,TLSv1.3"); NULL/"" = TLSv1.2 and up. */
	const char *accepted_protocols;
	/* Comma-separated suites, by IANA/JSSE name ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	 * "TLS_AES_128_GCM_SHA256") or OpenSSL name ("ECDHE-RSA-AES256-GCM-SHA384");
	 * NULL/"" = OpenSSL's defaults. */
	const char *cipher_suites;
	const char *what; /* how errors name this configuration: "client_encryption_options" */
};

enum tls_role { TLS_SERVER, TLS_CLIENT };

typedef struct tls_ctx tls_ctx;
typedef struct tls_conn tls_conn;

/*
 * Build a context.  Files are read now (a later change takes a new context).
 * 0, or COL_ECONFIG with what failed in err ("client_encryption_options:
 * certificate /etc/x.pem: No such file or directory", "... private key does
 * not match the certificate", "unknown cipher suite 'X'").
 */
int tls_ctx_new(const struct tls_options *o, enum tls_role role, struct tls_ctx **out,
                struct cerr *err);
struct tls_ctx *tls_ctx_ref(struct tls_ctx *t);
void tls_ctx_unref(struct tls_ctx *t); /* NULL is fine */
enum tls_role tls_ctx_role(const struct tls_ctx *t);
/* The certificate's subject and expiry, for the start-up log ("CN=node1, expires 2027-..."). */
void tls_ctx_describe(const struct tls_ctx *t, char *out, size_t cap);

/* Results of the session calls below (besides a byte count). */
enum {
	TLS_OK = 0,
	TLS_WANT_READ = -1000,  /* wait until the socket is readable, call again */
	TLS_WANT_WRITE = -1001, /* wait until the socket is writable, call again */
	TLS_CLOSED = -1002,     /* the peer closed (close_notify or EOF) */
	TLS_ERROR = -1003,      /* handshake or record failure: see tls_conn_error() */
};

/* A session on a connected non-blocking socket; NULL when out of memory. */
struct tls_conn *tls_conn_new(struct tls_ctx *t, int fd);
/* A session over memory buffers: the caller moves bytes with tls_conn_bio_*. */
struct tls_conn *tls_conn_new_mem(struct tls_ctx *t);
void tls_conn_free(struct tls_conn *c);
/* Client only: the server's certificate must name `name` (an IP address against its IP
 * SANs, a host name against its DNS SANs/CN, which is also sent as SNI). */
void tls_conn_verify_name(struct tls_conn *c, const char *name);

/* Drive the handshake: TLS_OK once done, TLS_WANT_*, or TLS_ERROR. */
int tls_conn_handshake(struct tls_conn *c);
bool tls_conn_established(const struct tls_conn *c);
/* Decrypted bytes into buf: > 0 bytes, or TLS_WANT_*, TLS_CLOSED, TLS_ERROR. */
ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t len);
/* Encrypt and send: > 0 bytes taken (possibly fewer than len), or TLS_WANT_*, TLS_ERROR. */
ssize_t tls_conn_write(struct tls_conn *c, const void *buf, size_t len);
/* Bytes already received and decrypted (or buffered) that a read would return now. */
bool tls_conn_pending(const struct tls_conn *c);
/* Send close_notify (best effort, never blocks). */
void tls_conn_shutdown(struct tls_conn *c);

/* Why the last TLS_ERROR happened, in words ("certificate verify failed: unable to get
 * local issuer certificate", "wrong version number", "peer did not return a certificate"). */
const char *tls_conn_error(const struct tls_conn *c);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384, peer CN=node2" (after the handshake). */
void tls_conn_describe(const struct tls_conn *c, char *out, size_t cap);
/* The verified peer certificate's subject ("CN=admin,O=ops"), or "" if none. */
void tls_conn_peer_subject(const struct tls_conn *c, char *out, size_t cap);

/* Memory sessions: feed received bytes in, take bytes to send out. */
int tls_conn_bio_put(struct tls_conn *c, const void *data, size_t len);
size_t tls_conn_bio_take(struct tls_conn *c, void *out, size_t cap);

/* The first byte of a TLS ClientHello record (content type "handshake"). */
#define TLS_RECORD_HANDSHAKE 0x16

#endif
