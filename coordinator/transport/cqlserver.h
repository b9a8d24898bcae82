/*
 * cqlserver.h — the CQL native protocol v4 server (port 9042).
 *
 * It never interprets a statement (the executor does): it owns connections and
 * frames, and maps outcomes to protocol errors.
 *
 * Accepts client connections on a net_loop (one libev loop, one thread; a node
 * runs one server per loop, see "Several loops" below), runs
 * each connection's state machine and hands statements to the executor:
 *
 *   UNINITIALIZED --STARTUP--> READY        (OPTIONS allowed in both states)
 *   any state, any fatal error --> CLOSING  (error frame flushed, then closed)
 *
 * Version negotiation (docs/CQL-SERVER.md): a frame
 * whose version byte is not 0x04 gets ERROR 0x000A "Invalid or unsupported
 * protocol version (N); supported versions are (4/v4)" in a 0x84 frame on the
 * same stream, and the connection is closed; its body is never parsed.
 * Garbage, truncated bodies, unknown opcodes, compression (never negotiated)
 * and a frame over `max_frame_size` are protocol errors (0x000A) that close
 * only the offending connection.
 *
 * Many requests may be in flight on one connection; answers carry the
 * request's stream id and may leave in any order.  Bounds: a connection with
 * `max_inflight` requests outstanding stops being read until one completes;
 * output is bounded by net.h (out_high / out_cap).
 *
 * Overload (docs/PERFORMANCE.md, "Overload"): requests in flight on the whole
 * server are admitted by core/admit.h — a hard cap (`max_requests`) and, with
 * `latency_target_us`, an adaptive limit that holds the time in the server
 * near the target.  Past the limit, while the loop is saturated, a QUERY,
 * EXECUTE or BATCH gets ERROR 0x1001 Overloaded at once on a connection that
 * asked for it (STARTUP option THROW_ON_OVERLOAD "1", or `throw_on_overload`
 * for every connection); otherwise the frame runs and its connection stops
 * being read until the server is back under the limit (backpressure: the
 * client's requests wait in its socket, not in our memory; a burst reaching
 * the cap of a loop with time to spare is absorbed this way, not refused).
 * Either way at most one request per connection runs past the limit.
 *
 * Events: connections that sent REGISTER get EVENT frames (stream -1) for the
 * types they registered.  The node calls cqlserver_event_*() from its gossip
 * listeners; schema changes made through this server are announced here
 * automatically.
 *
 * Ownership: the server borrows everything in struct cqlserver_deps (they
 * must outlive it) and owns its executor, its connections' state and, when
 * deps->prepared is NULL, a prepared-statement cache.  A request may still be
 * in the router when its connection closes: its state lives until the router
 * answers.  Shutdown order: cqlserver_close() at any point (clients go, no
 * new request starts); make the router and whatever it waits on (the
 * loop's write lane, messaging) finish or fail what they have in flight
 * (their callbacks run while the server still exists), then
 * cqlserver_free(), then free the router.
 */
#ifndef COLONNADE_COORDINATOR_CQLSERVER_H
#define COLONNADE_COORDINATOR_CQLSERVER_H

#include "core/err.h"
#include "core/net.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct exec_req;
struct buf;

struct net_loop;
struct schema;
struct store;
struct router;
struct prepared_cache;
struct cluster_view;

typedef struct cqlserver cqlserver;

struct auth;
struct tls_ctx;
struct exec_access;
struct trace_sink;

struct cqlserver_options {
	const char *address;       /* numeric bind address, e.g. "127.0.2.1" (required) */
	uint16_t port;             /* 9042; 0 = any (see cqlserver_port) */
	size_t max_frame_size;     /* native_transport_max_frame_size [16 MiB] */
	unsigned max_connections;  /* [4096] */
	unsigned max_inflight;     /* requests outstanding per connection [1024] */
	size_t prepared_cache_max; /* prepared statements kept (LRU) [10000] */
	unsigned max_requests;     /* requests in flight, all connections [1024] */
	int64_t latency_target_us; /* adaptive limit's target; 0 = max_requests only */
	bool throw_on_overload;    /* Overloaded instead of backpressure, every connection */
	/* A request from a connection that takes Overloaded, found by a saturated loop to
	 * have waited longer than this in the socket before it was read, is refused at
	 * once (the kernel's receive timestamps, net_conn_input_age_us).  0 = off. */
	int64_t max_queue_wait_us;
	/* PasswordAuthenticator (borrowed, outlives the server); NULL = AllowAllAuthenticator:
	 * with one, STARTUP is answered AUTHENTICATE and only AUTH_RESPONSE (SASL PLAIN) opens
	 * the session; a failure is ERROR 0x0100 and the connection stays unauthenticated. */
	struct auth *auth;
	/* client_encryption_options: a server TLS context (a reference is taken) or NULL for
	 * plaintext; with tls_optional, TLS and plaintext share the port (the first byte tells).
	 * A plaintext client on a TLS-only port gets ERROR 0x000A saying TLS is required on
	 * its first frame, and is closed; core/net.c logs its address. */
	struct tls_ctx *tls;
	bool tls_optional;
	/* Access control for the executor (coordinator/auth/roles.h; borrowed); NULL: none. */
	const struct exec_access *access;
	/* Serve only connections handed over with cqlserver_adopt() (a request loop of
	 * the node, docs/ARCHITECTURE.md Threads): no listener, address unused. */
	bool no_listen;
};

struct cqlserver_deps {
	struct schema *schema;           /* required */
	struct store *store;             /* required */
	struct router *router;           /* required (router_new_local() on one node) */
	const struct cluster_view *view; /* required: system.local / system.peers */
	struct prepared_cache *prepared; /* optional: shared cache, else the server owns one */
	/* optional: hold DDL answers for schema agreement (executor_deps.ddl_wait) */
	void (*ddl_wait)(void *ctx, struct exec_req *req);
	void *ddl_ctx;
	/* optional: statements only the schema's owner loop runs (executor_deps.forward) */
	void (*forward)(void *ctx, struct exec_req *req);
	void *forward_ctx;
	/* optional: every EVENT body this server sends to its connections, with its type
	 * mask, so the node can send it to its other loops' servers (cqlserver_event_raw) */
	void (*event_tap)(void *ctx, unsigned mask, const uint8_t *body, size_t len);
	void *event_ctx;
	/* optional: where traces go (coordinator/tracing/trace.h); NULL: the frame's tracing
	 * flag is ignored, as the spec allows.  With one, a QUERY, PREPARE, EXECUTE or BATCH
	 * with the flag is traced and its RESULT carries the session id (flag TRACING). */
	const struct trace_sink *tracing;
	/* optional: the loop's byte budget for mutations held in flight (core/admit.h),
	 * shared with its storage proxy: at its mark the server is full as at its request
	 * limit (Overloaded for clients that take it, backpressure for the others) */
	struct admit_bytes *bytes;
};

/*
 * Listen and serve.  0, or COL_EIO ("listen on 127.0.2.1:9042: Address already
 * in use"), COL_EINVAL (bad address), COL_ENOMEM, with the message in err.
 */
int cqlserver_new(struct net_loop *nl, const struct cqlserver_options *opts,
                  const struct cqlserver_deps *deps, struct cqlserver **out, struct cerr *err);
/*
 * Stop listening and close every client connection: no new connection or
 * frame is taken.  Requests in flight keep their executor and connection state and
 * may still finish (their answers go nowhere): cqlserver_free() comes after
 * whatever can finish them.  Idempotent.  Not from a callback of the server.
 */
void cqlserver_close(struct cqlserver *s);
/* cqlserver_close(), then free the server and its executor: nothing may be in flight. */
void cqlserver_free(struct cqlserver *s);
/* New certificates (SIGHUP): connections accepted from now on use `tls`; open ones keep
 * their session.  NULL switches TLS off for new connections.  A server that adopts
 * connections accepted by another loop's listener applies the same to them
 * (net_conn_serve_tls(c, s->tls, s->tls_mode) before net_conn_start), and its listener
 * hands connections off only then (net_server_set_handoff_tls). */
void cqlserver_set_tls(struct cqlserver *s, struct tls_ctx *tls, bool optional);
/*
 * Several loops.  The listening server may hand accepted sockets to other
 * loops (core/net.h net_server_set_handoff); a no_listen server on that loop
 * serves one with cqlserver_adopt() (on its own thread): 0, COL_EFULL (its
 * max_connections reached), COL_ECLOSED (cqlserver_close() ran) or COL_ENOMEM,
 * the fd closed in every case but 0.
 */
struct net_addr;
void cqlserver_set_handoff(struct cqlserver *s,
                           int (*fn)(void *ctx, int fd, const struct net_addr *peer), void *ctx);
int cqlserver_adopt(struct cqlserver *s, int fd, const struct net_addr *peer);
/* Send an EVENT body another loop's server tapped to this server's registered connections. */
void cqlserver_event_raw(struct cqlserver *s, unsigned mask, const uint8_t *body, size_t len);
/* Run a request another loop forwarded (executor_deps.forward) on this server's executor. */
void cqlserver_run(struct cqlserver *s, struct exec_req *req);

/* The bound port (useful with port 0); 0 once closed. */
uint16_t cqlserver_port(const struct cqlserver *s);

/* Counters for /metrics and tests. */
struct cqlserver_stats {
	uint64_t conns_open;
	uint64_t requests;        /* frames handled */
	uint64_t errors;          /* ERROR responses sent */
	uint64_t protocol_errors; /* connections closed for bad frames */
	uint64_t events_sent;
	uint64_t inflight;           /* requests outstanding, all connections */
	uint64_t overloaded;         /* Overloaded answers (requests refused by admission) */
	uint64_t queue_expired;      /* of them: waited past max_queue_wait_us in the socket */
	uint64_t overload_pauses;    /* connections stopped for backpressure */
	uint64_t overload_paused;    /* connections stopped now */
	uint64_t admit_limit;        /* requests the server admits in flight now */
	uint64_t admit_target_limit; /* of them from clients that take Overloaded */
	uint64_t bytes_refused;      /* of the Overloaded answers: the byte budget was full */
	/* QUERY, EXECUTE and BATCH requests run, by the time they had waited in the socket
	 * before the server read them (when the kernel said: rx timestamps, plaintext),
	 * in net_iter_bounds_us buckets (not cumulative); their count and sum.  Index 1:
	 * from connections that take Overloaded, 0: the others. */
	uint64_t wait_buckets[2][NET_ITER_BUCKETS];
	uint64_t wait_count[2], wait_sum_us[2];
};
void cqlserver_get_stats(const struct cqlserver *s, struct cqlserver_stats *out);

/*
 * Push events to every connection that registered for the type.  `addr` is
 * the node's rpc address (4 or 16 bytes) and `port` its native port.
 */
void cqlserver_event_status(struct cqlserver *s, bool up, const uint8_t *addr, uint8_t addr_len,
                            int32_t port);
void cqlserver_event_topology(struct cqlserver *s, bool new_node, const uint8_t *addr,
                              uint8_t addr_len, int32_t port);
/* change: "CREATED" | "UPDATED" | "DROPPED"; target "KEYSPACE" (table NULL),
 * "TABLE" or "TYPE" (table: its name). */
void cqlserver_event_schema(struct cqlserver *s, const char *change, const char *target,
                            const char *ks, const char *table);

/*
 * Errors (spec §9).  Every failure the server answers is a struct cerr: a COL_E*
 * code, a message naming what failed, and for Unavailable, timeouts and
 * failures the replica counts in e->rep; `about` (may be NULL) adds what
 * AlreadyExists, Unprepared and TruncateError name.  One table maps them:
 *
 *   COL_E*                              CQL error      extra fields
 *   EPROTO                              0x000A         -
 *   EUNAVAILABLE                        0x1000         cl, required, alive
 *   EOVERLOADED                         0x1001         -
 *   any, about->truncate                0x1003         -
 *   ETIMEDOUT  (rep.write / not)        0x1100/0x1200  cl, received, blockfor,
 *                                                      writeType / data_present
 *   EFAILED    (rep.write / not)        0x1500/0x1300  ... numfailures ...
 *   ESYNTAX                             0x2000         -
 *   EINVAL, ETYPE, ETOOBIG, ENOTFOUND   0x2200         -
 *   ENOTFOUND, about->id_len > 0        0x2500         id
 *   ECONFIG                             0x2300         -
 *   EEXIST                              0x2400         keyspace, table
 *   EUNAUTHORIZED                       0x2100         -
 *   anything else (ENOMEM, EIO, ...)    0x0000         -
 */
struct exec_err_about;
uint32_t cqlserver_error_code(const struct cerr *e, const struct exec_err_about *about);
/* Append the ERROR body of e (and about, may be NULL) to out. */
void cqlserver_error_encode(struct buf *out, const struct cerr *e,
                            const struct exec_err_about *about);

/*
 * Tests and fuzzing: a server that does not listen, and one connection's bytes
 * run through the same state machine with the responses appended to `out`.
 * Requires a router that completes before it returns (router_new_local).
 * 0 when every byte was consumed; COL_EAGAIN when input ended inside a frame;
 * COL_ECLOSED when the connection would have been closed (fatal protocol error).
 */
int cqlserver_new_detached(const struct cqlserver_options *opts, const struct cqlserver_deps *deps,
                           struct cqlserver **out, struct cerr *err);
int cqlserver_feed(struct cqlserver *s, const uint8_t *in, size_t len, struct buf *out);

#endif
