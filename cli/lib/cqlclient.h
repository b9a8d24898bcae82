/*
 * cqlclient.h — the client side of the CQL native protocol v4, for cqlish and
 * `colonnade bench` (never for the server).
 *
 * Three layers, each usable alone:
 *
 *   1. Pure codecs.  cqlreq_*() append one whole request frame to a struct buf;
 *      cqlresult_decode() turns one response frame body into a struct cqlresult.
 *      No I/O, so they are pinned by golden-bytes tests.
 *
 *   2. struct cqlconn: one asynchronous connection on a caller's libev loop.
 *      Many requests in flight, each on its own stream id (0..32767), answered
 *      in any order; a callback per request.  The handshake is OPTIONS ->
 *      SUPPORTED, STARTUP {CQL_VERSION} -> READY.  EXECUTE of a statement the
 *      server no longer knows (ERROR 0x2500) is re-prepared from its text on
 *      the same stream and sent again once, invisibly to the caller (this also
 *      covers prepared statements inside a BATCH).
 *
 *   3. struct cqlclient: a blocking wrapper (its own private loop) for the
 *      shell: connect, query, prepare, execute, batch, one at a time.
 *
 * Bounds: a response frame larger than opts.max_frame fails the connection
 * ("response frame of N bytes exceeds the 256 MiB limit"); requests in flight
 * are capped by max_inflight and queued request bytes by max_out — past either
 * a request is refused with COL_EFULL (the caller's back-pressure signal),
 * nothing is queued without bound.  A request that gets no answer within
 * request_timeout_ms fails with COL_ETIMEDOUT; its stream id stays reserved
 * until the late answer arrives (so it can never be matched to a newer
 * request), and a connection with too many such orphans is failed.
 *
 * Failure: a connection that failed (peer closed, protocol violation, frame
 * over the limit) fails every pending request with the reason, then refuses
 * new ones with COL_ECLOSED.  Every message names the peer and what failed
 * ("cannot connect to 127.0.0.1:9042: Connection refused").
 *
 * Server errors are not transport failures: they arrive as a result of kind
 * CQLRES_ERROR with every extra field of spec §9 decoded.
 *
 * Threading: a cqlconn belongs to the thread running its loop.
 */
#ifndef COLONNADE_CLI_CQLCLIENT_H
#define COLONNADE_CLI_CQLCLIENT_H

#include "core/buf.h"
#include "core/cqlproto.h"
#include "core/cqltype.h"
#include "core/err.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;

/* ---- results ------------------------------------------------------------------------------ */

enum cqlres_kind {
	CQLRES_ERROR = 0, /* opcode ERROR: see cqlresult.error */
	CQLRES_VOID = 1,  /* the RESULT kinds keep the protocol's numbers */
	CQLRES_ROWS = 2,
	CQLRES_SET_KEYSPACE = 3,
	CQLRES_PREPARED = 4,
	CQLRES_SCHEMA_CHANGE = 5,
	CQLRES_READY = 0x102,        /* opcode READY */
	CQLRES_SUPPORTED = 0x106,    /* opcode SUPPORTED */
	CQLRES_AUTHENTICATE = 0x103, /* opcode AUTHENTICATE: error.message = authenticator */
	CQLRES_AUTH_SUCCESS = 0x110, /* opcode AUTH_SUCCESS (the final token is ignored) */
};

/* One column of a result or of a statement's bind markers. */
struct cql_column {
	char *keyspace;
	char *table;
	char *name;
	const struct cqltype *type; /* never NULL in a decoded result */
};

/* Rows metadata (spec §4.2.5.2); also the bind and result metadata of Prepared. */
struct cql_rows_meta {
	uint32_t flags;           /* CQL_ROWS_* */
	uint32_t n_cols;          /* columns_count, also with NO_METADATA */
	struct cql_column *cols;  /* n_cols entries; NULL with CQL_ROWS_NO_METADATA */
	uint8_t *paging_state;    /* with CQL_ROWS_HAS_MORE_PAGES; malloc'ed */
	int32_t paging_state_len; /* -1 when absent */
};

/* An ERROR body with the extra fields of its code (unused fields are 0/NULL). */
struct cql_error_info {
	uint32_t code;
	char *message;
	uint16_t consistency; /* Unavailable, timeouts, failures */
	int32_t required;     /* Unavailable: required; timeouts/failures: blockfor */
	int32_t alive;        /* Unavailable */
	int32_t received;     /* timeouts, failures */
	int32_t failures;     /* failures */
	bool data_present;    /* Read_timeout, Read_failure */
	char *write_type;     /* Write_timeout, Write_failure */
	char *keyspace;       /* Already_exists; Function_failure */
	char *table;          /* Already_exists ("" for a keyspace) */
	char *function;       /* Function_failure */
	char **arg_types;     /* Function_failure */
	uint16_t n_arg_types;
	uint8_t *unprepared_id; /* Unprepared */
	uint16_t unprepared_id_len;
};

struct cqlresult {
	enum cqlres_kind kind;
	uint8_t opcode;
	uint8_t frame_flags;
	char **warnings; /* frames with CQL_FLAG_WARNING */
	size_t n_warnings;
	bool traced; /* the frame had CQL_FLAG_TRACING: trace_id is its session */
	uint8_t trace_id[16];

	struct cql_error_info error; /* CQLRES_ERROR, CQLRES_AUTHENTICATE */

	/* CQLRES_ROWS: metadata and cells; CQLRES_PREPARED: result metadata. */
	struct cql_rows_meta meta;
	uint32_t n_rows;
	struct cql_slice *cells; /* n_rows * meta.n_cols, pointing into body; len -1 = null */

	char *keyspace; /* CQLRES_SET_KEYSPACE */

	/* CQLRES_PREPARED */
	uint8_t *prepared_id;
	uint16_t prepared_id_len;
	struct cql_rows_meta bind_meta;
	uint16_t *pk_indexes;
	uint32_t n_pk_indexes;

	/* CQLRES_SCHEMA_CHANGE: "CREATED", "TABLE", "ks", "t" (name NULL for a keyspace) */
	char *change_type, *target, *sc_keyspace, *sc_name;

	/* CQLRES_SUPPORTED: the CQL_VERSION values, comma separated */
	char *cql_versions;

	uint8_t *body; /* owned copy of the frame body */
	size_t body_len;
};

/*
 * Decode a response frame body (after the 9-byte header; opcode and flags from
 * the header).  On success *out is a result to cqlresult_free().  Malformed
 * input gives COL_EPROTO with what was wrong ("RESULT Rows: 3 rows of 2
 * columns do not fit in 17 bytes"); COL_ENOMEM.  Never reads outside body,
 * and allocations are bounded by body_len.
 */
int cqlresult_decode(uint8_t opcode, uint8_t frame_flags, const uint8_t *body, size_t body_len,
                     struct cqlresult **out, struct cerr *err);
void cqlresult_free(struct cqlresult *r);

static inline const struct cql_slice *cqlresult_cell(const struct cqlresult *r, uint32_t row,
                                                     uint32_t col)
{
	return &r->cells[(size_t)row * r->meta.n_cols + col];
}
/* Column index by name in a Rows result, or -1. */
int cqlresult_column(const struct cqlresult *r, const char *name);
/* Copy of a text cell as a NUL-terminated string (NULL for null or on OOM). */
char *cqlresult_text(const struct cqlresult *r, uint32_t row, uint32_t col);

/* ---- requests (pure encoders) --------------------------------------------------------------- */

#define CQL_NO_TIMESTAMP INT64_MIN

/* Parameters of QUERY, EXECUTE and (consistency, serial, timestamp) of BATCH. */
struct cql_qparams {
	uint16_t consistency;        /* [CL_ONE] */
	uint16_t serial_consistency; /* 0 = not sent (server uses SERIAL) */
	int32_t page_size;           /* <= 0: not sent, the server returns every row */
	const uint8_t *paging_state; /* NULL = first page */
	int32_t paging_state_len;
	int64_t timestamp; /* µs; CQL_NO_TIMESTAMP = not sent */
	const struct cql_slice *values;
	uint16_t n_values;
	bool skip_metadata;
	bool tracing; /* frame flag TRACING: the server traces the request (QUERY, EXECUTE, BATCH)
	               */
};
/* Defaults: CL_ONE, nothing else. */
void cql_qparams_init(struct cql_qparams *p);

/* Each appends one whole frame (header included) with the given stream. */
void cqlreq_options(struct buf *b, int16_t stream);
void cqlreq_startup(struct buf *b, int16_t stream, const char *cql_version);
/* STARTUP, with THROW_ON_OVERLOAD "1" when asked: a server past its admission limit
 * answers Overloaded at once instead of pausing the connection (Cassandra 4.1's option). */
void cqlreq_startup_opts(struct buf *b, int16_t stream, const char *cql_version,
                         bool throw_on_overload);
/* AUTH_RESPONSE with the SASL PLAIN token "\0user\0password". */
void cqlreq_auth_plain(struct buf *b, int16_t stream, const char *user, const char *password);
void cqlreq_query(struct buf *b, int16_t stream, const char *cql, size_t len,
                  const struct cql_qparams *p);
void cqlreq_prepare(struct buf *b, int16_t stream, const char *cql, size_t len);
void cqlreq_execute(struct buf *b, int16_t stream, const uint8_t *id, uint16_t id_len,
                    const struct cql_qparams *p);

/* A prepared statement: its text (to re-prepare), id and metadata. */
typedef struct cqlprepared cqlprepared;
struct cqlprepared {
	char *cql;
	size_t cql_len;
	uint8_t *id;
	uint16_t id_len;
	struct cqlresult *prepared; /* the PREPARED result: bind_meta, pk_indexes, meta */
};
/* Build from a CQLRES_PREPARED result (takes ownership of res on success). */
int cqlprepared_new(const char *cql, size_t len, struct cqlresult *res, struct cqlprepared **out,
                    struct cerr *err);
void cqlprepared_free(struct cqlprepared *ps);

/* One statement of a BATCH: either text (ps == NULL) or a prepared statement. */
struct cql_batch_item {
	const char *cql;
	size_t cql_len;
	struct cqlprepared *ps;
	const struct cql_slice *values;
	uint16_t n_values;
};
void cqlreq_batch(struct buf *b, int16_t stream, uint8_t type, const struct cql_batch_item *items,
                  uint16_t n, const struct cql_qparams *p);

/* ---- asynchronous connection --------------------------------------------------------------- */

typedef struct cqlconn cqlconn;

/*
 * A user request's last byte was handed to the kernel (arg: the request's own
 * callback argument).  Runs at most once per request, always before its result
 * callback, never for a request that failed or timed out first.  It must not
 * call cqlconn functions on the connection.
 */
typedef void (*cqlconn_written_fn)(void *arg);

/* Limits.  Zero fields take the defaults in brackets. */
struct tls_ctx;

struct cqlconn_opts {
	size_t max_frame;            /* largest response frame accepted [CQLPROTO_MAX_FRAME] */
	size_t max_out;              /* queued request bytes before COL_EFULL [64 MiB] */
	unsigned max_inflight;       /* requests in flight [1024], at most 32768 */
	unsigned connect_timeout_ms; /* connect + handshake [5000] */
	unsigned request_timeout_ms; /* per request [12000]; UINT32_MAX = never */
	const char *cql_version;     /* sent in STARTUP ["3.4.4"] */
	const char *bind_host;       /* numeric source address [NULL: the kernel's choice] */
	/* Credentials for a server that answers STARTUP with AUTHENTICATE (SASL PLAIN); NULL =
	 * none, and such a server is refused with "requires authentication". Borrowed until
	 * the handshake ends. */
	const char *username;
	const char *password;
	cqlconn_written_fn on_written; /* NULL: not told (a load generator's send time) */
	/* TLS (core/tls.h): a client context (borrowed until connected), or NULL for
	 * plaintext.  The handshake counts against connect_timeout_ms.  With tls_verify_host
	 * the server's certificate must name the host connected to (IP or DNS SAN). */
	struct tls_ctx *tls;
	bool tls_verify_host;
	bool throw_on_overload; /* STARTUP asks for Overloaded rather than backpressure */
};

/* Handshake done (status 0) or failed (negative, `why` names peer and cause). */
typedef void (*cqlconn_ready_fn)(struct cqlconn *c, void *arg, int status, const char *why);
/*
 * A request finished.  status 0: res is the answer (which may be CQLRES_ERROR)
 * and the callback owns it (cqlresult_free).  status < 0 (COL_ETIMEDOUT,
 * COL_ECLOSED, COL_EPROTO, COL_EIO ...): res is NULL and `why` says what
 * happened.  May call any cqlconn function, including cqlconn_free().
 */
typedef void (*cqlconn_result_fn)(struct cqlconn *c, void *arg, int status, struct cqlresult *res,
                                  const char *why);

/*
 * Resolve host (name or address), connect without blocking and start the
 * handshake on `loop`; on_ready follows.  0, or COL_ENOTFOUND / COL_EIO /
 * COL_ENOMEM with the reason in err (no on_ready then).
 */
int cqlconn_open(struct ev_loop *loop, const char *host, uint16_t port,
                 const struct cqlconn_opts *opts, cqlconn_ready_fn on_ready, void *arg,
                 struct cqlconn **out, struct cerr *err);
/*
 * Close: every pending request's callback runs with COL_ECLOSED ("connection
 * closed by the client"), then the connection is freed (deferred to the end
 * of the current dispatch when called from inside a callback).
 */
void cqlconn_free(struct cqlconn *c);

/*
 * Send a request.  0: the callback will run exactly once.  COL_EFULL: no free
 * stream or the output queue is full (nothing sent; retry after some answers);
 * COL_ECLOSED: the connection failed or is not ready; COL_EINVAL: bad
 * arguments.  ps must stay alive until the callback ran.
 */
int cqlconn_query(struct cqlconn *c, const char *cql, size_t len, const struct cql_qparams *p,
                  cqlconn_result_fn cb, void *arg);
int cqlconn_prepare(struct cqlconn *c, const char *cql, size_t len, cqlconn_result_fn cb,
                    void *arg);
int cqlconn_execute(struct cqlconn *c, struct cqlprepared *ps, const struct cql_qparams *p,
                    cqlconn_result_fn cb, void *arg);
int cqlconn_batch(struct cqlconn *c, uint8_t type, const struct cql_batch_item *items, uint16_t n,
                  const struct cql_qparams *p, cqlconn_result_fn cb, void *arg);

/*
 * Write queued requests to the socket now instead of when the loop next sees it
 * writable (what the socket does not take is written then).  Never fails the
 * connection or runs a result callback: a write error surfaces through the loop.
 */
void cqlconn_flush(struct cqlconn *c);

/* True once READY and until the connection fails. */
bool cqlconn_ready(const struct cqlconn *c);
/* Requests whose callback has not run yet. */
unsigned cqlconn_inflight(const struct cqlconn *c);
/* "127.0.0.1:9042" */
const char *cqlconn_peer(const struct cqlconn *c);
/* Why the connection failed ("" while healthy). */
const char *cqlconn_failure(const struct cqlconn *c);

struct cqlconn_stats {
	uint64_t requests, responses, timeouts, reprepares;
	uint64_t bytes_out, bytes_in;
	size_t queued;    /* request bytes not yet written (bounded by max_out) */
	unsigned orphans; /* timed-out requests whose answer has not come yet */
};
void cqlconn_get_stats(const struct cqlconn *c, struct cqlconn_stats *out);

/* ---- blocking wrapper (the shell) ------------------------------------------------------------ */

typedef struct cqlclient cqlclient;

/* Connect and handshake, blocking up to opts.connect_timeout_ms.  0, or a
 * negative code with "cannot connect to 127.0.0.1:9042: Connection refused". */
int cqlclient_connect(const char *host, uint16_t port, const struct cqlconn_opts *opts,
                      struct cqlclient **out, struct cerr *err);
void cqlclient_free(struct cqlclient *cl);
/*
 * Run one request and wait for its answer.  0 with *out set (possibly a
 * CQLRES_ERROR result, to cqlresult_free) or a negative transport error in err.
 */
int cqlclient_query(struct cqlclient *cl, const char *cql, const struct cql_qparams *p,
                    struct cqlresult **out, struct cerr *err);
int cqlclient_prepare(struct cqlclient *cl, const char *cql, struct cqlresult **out,
                      struct cerr *err);
int cqlclient_execute(struct cqlclient *cl, struct cqlprepared *ps, const struct cql_qparams *p,
                      struct cqlresult **out, struct cerr *err);
int cqlclient_batch(struct cqlclient *cl, uint8_t type, const struct cql_batch_item *items,
                    uint16_t n, const struct cql_qparams *p, struct cqlresult **out,
                    struct cerr *err);
/*
 * Let a signal handler interrupt waits: while a request is outstanding the
 * client checks *flag at least every 100 ms; when it is non-zero the call
 * returns COL_EAGAIN ("interrupted") at once and the request's answer, when it
 * comes, is dropped.  NULL turns it off.  The flag is not reset.
 */
void cqlclient_set_interrupt(struct cqlclient *cl, volatile sig_atomic_t *flag);
/*
 * Process what arrived while idle (a close by the peer, stray frames) without
 * blocking, so that cqlconn_ready(cqlclient_conn(cl)) is current before the
 * next request.
 */
void cqlclient_poll(struct cqlclient *cl);
/* The host and port connected to ("127.0.0.1:9042"). */
const char *cqlclient_peer(const struct cqlclient *cl);
struct cqlconn *cqlclient_conn(struct cqlclient *cl);

#endif
