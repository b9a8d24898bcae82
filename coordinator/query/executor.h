/*
 * executor.h — runs CQL requests (QUERY, PREPARE, EXECUTE, BATCH) against the
 * schema catalogue, the virtual system tables and, through the router, the
 * storage engine, and writes the native-protocol RESULT body.
 *
 * It must never block the loop (reads and writes go through the router and
 * answer by callback), touch a socket, or write an ERROR body.
 *
 * cqlserver.c decodes the frame header, hands the body to executor_run()
 * together with a struct exec_req it owns, and gets the same struct back
 * through req->done() once the answer is in req->body_out (RESULT body,
 * starting with the [int kind]) or, when req->err.code is non-zero, the
 * failure is in req->err (struct cerr: a COL_E* code, a message naming what
 * failed, and the replica counts of Unavailable, timeouts and failures) with
 * req->about.  The transport maps that to the protocol's error code and body
 * (cqlserver_error_encode).  done() may run before executor_run() returns (on
 * one node the router completes at once) or later (the router's replicas
 * answer); the executor copies what it needs from the frame before it
 * returns, so the frame may be freed then.
 *
 * Statement execution path, and what it costs:
 *   QUERY:   parse (cql_parser) -> bind -> plan -> router -> encode rows
 *   EXECUTE: prepared cache lookup (no parse) -> bind -> plan -> router -> encode
 * Writes are one storage mutation (one RocksDB WriteBatch) per statement or
 * per BATCH.  Write timestamps are the client's (query flag 0x20) or the
 * coordinator's microsecond clock, strictly increasing within the node.
 *
 * Sessions: a struct exec_session per connection holds the current keyspace
 * (USE).  The inside of the executor is described in query_int.h.
 */
#ifndef COLONNADE_COORDINATOR_EXECUTOR_H
#define COLONNADE_COORDINATOR_EXECUTOR_H

#include "core/buf.h"
#include "core/cqlproto.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct schema;
struct store;
struct router;
struct prepared_cache;
struct cluster_view;

typedef struct executor executor;

/* Longest keyspace/table name Cassandra allows is 48 bytes. */
#define EXEC_NAME_MAX 48

/* Longest role name (coordinator/auth AUTH_MAX_NAME less its NUL). */
#define EXEC_ROLE_MAX 255

struct exec_session {
	char keyspace[EXEC_NAME_MAX + 1]; /* "" until USE */
	char role[EXEC_ROLE_MAX + 1];     /* the logged-in role; "" without an authenticator */
};

/*
 * What a failed request was about, for the ERROR body's extra fields (spec §9):
 * the keyspace and table of AlreadyExists (COL_EEXIST; table "" for a keyspace),
 * the statement id of Unprepared (COL_ENOTFOUND with id_len > 0), and whether
 * the failure is a TRUNCATE's (TruncateError).  Zero for every other failure.
 */
struct exec_err_about {
	char ks[EXEC_NAME_MAX + 1];
	char table[EXEC_NAME_MAX + 1];
	uint8_t id[16];
	uint8_t id_len;
	bool truncate;
};

/* Schema changes the executor made, for SCHEMA_CHANGE events. */
enum exec_change { EXEC_CHANGE_CREATED, EXEC_CHANGE_UPDATED, EXEC_CHANGE_DROPPED };
enum exec_target { EXEC_TARGET_KEYSPACE, EXEC_TARGET_TABLE, EXEC_TARGET_TYPE };
const char *exec_change_name(enum exec_change c);
const char *exec_target_name(enum exec_target t);
/* Append the Schema_change body (shared by RESULT kind 5 and EVENT). */
void exec_schema_change_encode(struct buf *out, enum exec_change c, enum exec_target t,
                               const char *ks, const char *table);

/* One request in flight.  Owned by the caller (cqlserver), which recycles it. */
struct exec_req {
	/* In: set by the caller before executor_run(). */
	struct exec_session *session;
	uint8_t opcode;      /* CQL_OP_QUERY / PREPARE / EXECUTE / BATCH */
	const uint8_t *body; /* frame body after the custom payload; valid during the call */
	size_t body_len;
	void (*done)(struct exec_req *req); /* called once, when the answer is ready */

	/* Out: valid in done(). */
	struct buf body_out;         /* RESULT body (caller inits/releases; reused) */
	struct cerr err;             /* err.code != 0: the request failed, and why */
	struct exec_err_about about; /* what the failure names besides its message */
	char warning[256];           /* "" or one warning for the response's warning flag */
};

struct cql_stmt;

/*
 * Access control (coordinator/auth provides it; absent: every statement is
 * allowed, as with AllowAllAuthorizer, and role statements are refused).  The
 * executor asks prepare() once per QUERY / EXECUTE / BATCH, then check() for
 * each permission a statement needs on its resource (Cassandra's mapping:
 * SELECT on the table for SELECT; MODIFY for INSERT, UPDATE, DELETE, BATCH
 * and TRUNCATE; CREATE on ALL KEYSPACES / the keyspace for CREATE KEYSPACE /
 * TABLE; ALTER and DROP on the keyspace or table), and hands role and
 * permission statements to run().  The protection of the system keyspaces
 * ("Cannot DROP <keyspace system_auth>") is the executor's own and holds
 * without access control too.
 */
struct exec_access {
	void *ctx;
	/* 0: what the session's role may do is known now.  COL_EAGAIN: it is being
	 * read and resume(arg) runs later (never before this returns), after which
	 * check() answers (failing if it could not be read). */
	int (*prepare)(void *ctx, const struct exec_session *s, void (*resume)(void *arg),
	               void *arg);
	/* 0 if the session may do `perm` (a CQL_PERM_*) on the resource (res_kind a
	 * CQL_RES_*; ks and name as the kind needs), else a COL_E* code
	 * (COL_EUNAUTHORIZED: "User bob has no SELECT permission on <table ks.t> or any
	 * of its parents") with the message in err. */
	int (*check)(void *ctx, const struct exec_session *s, unsigned perm, int res_kind,
	             const char *ks, const char *name, struct cerr *err);
	/* CREATE / ALTER / DROP ROLE, GRANT, REVOKE, LIST ROLES / PERMISSIONS: answer
	 * req (body_out or err), then call finish(arg) exactly once. */
	void (*run)(void *ctx, struct exec_req *req, const struct cql_stmt *st,
	            void (*finish)(void *arg), void *arg);
	/* A keyspace or table was created by the session: its role gets the permissions
	 * on it (Cassandra's creator grant) before the answer leaves; finish(arg) once. */
	void (*created)(void *ctx, const struct exec_session *s, int res_kind, const char *ks,
	                const char *name, void (*finish)(void *arg), void *arg);
	/* A keyspace or table was dropped: every role's permissions on it (for a keyspace,
	 * also on its tables) are revoked before the answer leaves; finish(arg) once. */
	void (*dropped)(void *ctx, const struct exec_session *s, int res_kind, const char *ks,
	                const char *name, void (*finish)(void *arg), void *arg);
};

/* A resource as Cassandra shows it: "<table ks.t>", "<keyspace ks>", "<all keyspaces>",
 * "<role r>", "<all roles>" (kind a CQL_RES_*; snprintf's result). */
int exec_resource_name(int kind, const char *ks, const char *name, char *out, size_t cap);

/* Called after every successful DDL (cqlserver turns it into EVENTs). */
typedef void (*exec_schema_event_fn)(void *ctx, enum exec_change c, enum exec_target t,
                                     const char *ks, const char *table);

struct executor_deps {
	struct schema *schema;                /* required */
	struct store *store;                  /* required */
	struct router *router;                /* required */
	struct prepared_cache *prepared;      /* required, shared by every connection */
	const struct cluster_view *view;      /* required: system.local / peers data */
	exec_schema_event_fn on_schema_event; /* optional */
	void *event_ctx;
	/* Optional: a successful DDL's request is handed to ddl_wait instead of
	 * req->done; the hook calls req->done(req) itself once the cluster agrees on
	 * the schema or a timeout passed (it may set req->warning then). */
	void (*ddl_wait)(void *ctx, struct exec_req *req);
	void *ddl_ctx;
	/*
	 * Optional: this executor runs on a loop that is not the schema's owner
	 * (docs/ARCHITECTURE.md, Threads).  A statement that only the owner may run
	 * (DDL, which changes the catalogue and waits for agreement; a SELECT of a
	 * virtual table, which reads gossip's view) is handed to forward() instead:
	 * it runs the request on the owner's executor and calls req->done(req) on
	 * this loop's thread with the answer in req.  forward() must copy
	 * req->body during the call (it is valid only then).
	 */
	void (*forward)(void *ctx, struct exec_req *req);
	void *forward_ctx;
	const struct exec_access *access; /* optional (borrowed): see struct exec_access */
};

/* 0, or COL_ENOMEM.  The deps must outlive the executor. */
int executor_new(const struct executor_deps *deps, struct executor **out);
void executor_free(struct executor *ex);

/*
 * Run one QUERY / PREPARE / EXECUTE / BATCH.  req->done(req) is called exactly
 * once, possibly before this returns.  Malformed bodies give a protocol error
 * (req->err.code == COL_EPROTO).
 */
void executor_run(struct executor *ex, struct exec_req *req);

/*
 * Run one CQL statement text synchronously with default parameters (ONE,
 * no paging), for tests and internal callers.  The answer is in req as with
 * executor_run (done is not called and may be NULL).
 */
void executor_run_text(struct executor *ex, struct exec_session *s, const char *cql,
                       struct exec_req *req);

#endif
