#include "coordinator/transport/cqlserver.h"

#include "coordinator/auth/auth.h"

#include "coordinator/query/executor.h"
#include "coordinator/query/prepared.h"
#include "coordinator/tracing/trace.h"
#include "core/admit.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/cqlproto.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/net.h"
#include "core/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MOD "cqlserver"

#define DEFAULT_MAX_FRAME (16u * 1024 * 1024)
#define DEFAULT_MAX_CONNS 4096
/* Drivers pipeline up to a few hundred requests per connection (python: 2048
 * stream ids, node: 2048 but 1024 requests by default); past this many
 * outstanding we stop reading the socket rather than queue more work. */
#define DEFAULT_MAX_INFLIGHT 1024
#define DEFAULT_PREPARED_MAX 10000
#define DEFAULT_MAX_REQUESTS 1024
/* Request structs kept per connection for reuse, and the largest result buffer
 * one keeps: enough for a driver's usual pipelining depth and a page of small
 * rows, without pinning memory for an idle connection after a burst. */
#define REQ_CACHE    32
#define REQ_BUF_KEEP (64u * 1024)

/* The CQL version we speak (what Cassandra 3.11 advertises). */
#define CQL_VERSION "3.4.4"

enum { EV_TOPOLOGY = 1, EV_STATUS = 2, EV_SCHEMA = 4 };

struct cqlconn;

struct cqlreq {
	struct exec_req x; /* first: done() recovers the request from it */
	struct cqlconn *conn;
	int16_t stream;
	int64_t start_us;    /* admitted at (core/admit.h) */
	struct trace *trace; /* the frame asked for tracing; NULL otherwise */
	struct cqlreq *next_free;
};

struct cqlconn {
	struct cqlserver *srv;
	struct net_conn *nc;    /* NULL once the connection closed */
	bool ready;             /* STARTUP done (and, with an authenticator, AUTH_SUCCESS sent) */
	bool authenticating;    /* AUTHENTICATE sent: only AUTH_RESPONSE is accepted */
	bool closing;           /* a fatal error was answered; ignore further frames */
	bool paused;            /* reading paused for too many requests in flight */
	bool ovl_paused;        /* reading paused: the server is over its admission limit */
	bool throw_on_overload; /* refuse with Overloaded instead of backpressure */
	bool login_pending; /* an AUTH_RESPONSE waits for its password check (counts in inflight) */
	bool tls_refused;   /* plaintext on a TLS-only port: the first frame is refused */
	int16_t login_stream;
	uint8_t events;   /* EV_* registered */
	struct buf *sink; /* cqlserver_feed(): responses go here instead of a socket */
	unsigned inflight;
	struct exec_session session;
	struct cqlreq *free_reqs; /* at most REQ_CACHE, for reuse */
	unsigned n_free;
	struct cqlconn *prev, *next;
};

struct cqlserver {
	struct net_loop *nl;
	struct net_server *listener;
	bool closed; /* cqlserver_close() ran: no new connection */
	struct executor *ex;
	struct prepared_cache *own_prepared;
	struct cqlserver_options opts;
	struct cqlconn *conns; /* every open connection */
	struct cqlserver_stats stats;
	/* client_encryption_options for the connections this server serves: its listener's,
	 * and those it adopts from another loop's listener (net_conn_serve_tls) */
	struct tls_ctx *tls;
	enum net_tls_mode tls_mode;
	struct admit admit;        /* requests in flight, all connections */
	struct admit_bytes *bytes; /* the loop's mutation bytes in flight; NULL: unbounded */
	struct buf scratch;        /* event bodies */
	void (*event_tap)(void *ctx, unsigned mask, const uint8_t *body, size_t len);
	void *event_ctx;
	const struct trace_sink *tracing; /* NULL: the tracing flag is ignored */
};

/* ---- connection lifetime ------------------------------------------------------------------ */

static void conn_free(struct cqlconn *cc)
{
	struct cqlreq *r = cc->free_reqs;
	while (r) {
		struct cqlreq *n = r->next_free;
		buf_release(&r->x.body_out);
		free(r);
		r = n;
	}
	free(cc);
}

static void conn_unlink(struct cqlconn *cc)
{
	struct cqlserver *s = cc->srv;
	if (cc->prev)
		cc->prev->next = cc->next;
	else if (s->conns == cc)
		s->conns = cc->next;
	if (cc->next)
		cc->next->prev = cc->prev;
	cc->prev = cc->next = NULL;
}

static int on_accept(struct net_server *ns, struct net_conn *c, void *ctx)
{
	(void)ns;
	struct cqlserver *s = ctx;
	struct cqlconn *cc = calloc(1, sizeof(*cc));
	if (!cc)
		return COL_ENOMEM;
	cc->srv = s;
	cc->nc = c;
	cc->throw_on_overload = s->opts.throw_on_overload;
	cc->next = s->conns;
	if (s->conns)
		s->conns->prev = cc;
	s->conns = cc;
	s->stats.conns_open++;
	net_conn_set_ctx(c, cc);
	log_debug(MOD, "client %s connected", net_conn_peer_str(c));
	return 0;
}

static void on_plaintext_refused(struct net_conn *c)
{
	struct cqlconn *cc = net_conn_ctx(c);
	if (cc)
		cc->tls_refused = true;
}

static void on_close(struct net_conn *c, int reason, const char *why)
{
	struct cqlconn *cc = net_conn_ctx(c);
	if (!cc)
		return;
	struct cqlserver *s = cc->srv;
	if (reason && reason != COL_ECLOSED)
		log_info(MOD, "client connection closed: %s", why ? why : col_strerror(reason));
	else
		log_debug(MOD, "client connection closed: %s", why ? why : "by us");
	if (s) {
		conn_unlink(cc);
		s->stats.conns_open--;
		if (cc->ovl_paused)
			s->stats.overload_paused--;
	}
	cc->ovl_paused = false;
	cc->nc = NULL;
	/* Requests still in flight finish later and free the state then. */
	if (cc->inflight == 0)
		conn_free(cc);
}

/* ---- writing frames ----------------------------------------------------------------------- */

/* Write a frame whose body is `body` (may be NULL for an empty body), after the tracing
 * session id (trace_id non-NULL: flag TRACING) and the warning, in the order of spec §2.2. */
static int conn_send_traced(struct cqlconn *cc, uint8_t flags, int16_t stream, uint8_t opcode,
                            const void *body, size_t len, const char *warning,
                            const uint8_t *trace_id)
{
	size_t mark;
	struct buf *b;
	if (cc->sink) {
		b = cc->sink;
		mark = b->len;
	} else {
		if (!cc->nc || net_conn_closing(cc->nc))
			return COL_ECLOSED;
		b = net_conn_wbuf(cc->nc, &mark);
	}
	if (warning && *warning)
		flags |= CQL_FLAG_WARNING;
	if (trace_id)
		flags |= CQL_FLAG_TRACING;
	size_t fs = cql_frame_begin(b, CQLPROTO_VERSION | CQLPROTO_RESPONSE, flags, stream, opcode);
	if (trace_id)
		buf_put(b, trace_id, 16);
	if (warning && *warning) {
		cql_put_short(b, 1);
		cql_put_string(b, warning);
	}
	if (len)
		buf_put(b, body, len);
	cql_frame_end(b, fs);
	if (cc->sink)
		return buf_ok(b) ? 0 : COL_ENOMEM;
	int rc = net_conn_wcommit(cc->nc, mark);
	if (rc == COL_EFULL) {
		/* The client does not read its answers: drop it rather than grow. */
		log_warn(MOD, "%s: output queue full, closing", net_conn_peer_str(cc->nc));
		net_conn_close(cc->nc, COL_EFULL, "client does not read its responses");
	}
	return rc;
}

uint32_t cqlserver_error_code(const struct cerr *e, const struct exec_err_about *about)
{
	if (about && about->truncate)
		return CQL_ERR_TRUNCATE;
	switch (e->code) {
	case COL_EPROTO: return CQL_ERR_PROTOCOL;
	case COL_EUNAVAILABLE: return CQL_ERR_UNAVAILABLE;
	case COL_EOVERLOADED: return CQL_ERR_OVERLOADED;
	case COL_ETIMEDOUT: return e->rep.write ? CQL_ERR_WRITE_TIMEOUT : CQL_ERR_READ_TIMEOUT;
	case COL_EFAILED: return e->rep.write ? CQL_ERR_WRITE_FAILURE : CQL_ERR_READ_FAILURE;
	case COL_ESYNTAX: return CQL_ERR_SYNTAX;
	case COL_ECONFIG: return CQL_ERR_CONFIG;
	case COL_EEXIST: return CQL_ERR_ALREADY_EXISTS;
	case COL_EUNAUTHORIZED: return CQL_ERR_UNAUTHORIZED;
	case COL_ENOTFOUND: return about && about->id_len ? CQL_ERR_UNPREPARED : CQL_ERR_INVALID;
	case COL_EINVAL:
	case COL_ETYPE:
	case COL_ETOOBIG: return CQL_ERR_INVALID;
	default: return CQL_ERR_SERVER;
	}
}

void cqlserver_error_encode(struct buf *out, const struct cerr *e,
                            const struct exec_err_about *about)
{
	const struct cerr_replicas *r = &e->rep;
	uint32_t code = cqlserver_error_code(e, about);
	cql_put_int(out, (int32_t)code);
	cql_put_string(out, e->msg[0] ? e->msg : col_strerror(e->code));
	switch (code) {
	case CQL_ERR_UNAVAILABLE:
		cql_put_short(out, r->cl);
		cql_put_int(out, r->required);
		cql_put_int(out, r->received);
		break;
	case CQL_ERR_WRITE_TIMEOUT:
	case CQL_ERR_READ_TIMEOUT:
	case CQL_ERR_READ_FAILURE:
	case CQL_ERR_WRITE_FAILURE:
		cql_put_short(out, r->cl);
		cql_put_int(out, r->received);
		cql_put_int(out, r->required);
		if (code == CQL_ERR_READ_FAILURE || code == CQL_ERR_WRITE_FAILURE)
			cql_put_int(out, r->failures);
		if (code == CQL_ERR_READ_TIMEOUT || code == CQL_ERR_READ_FAILURE)
			cql_put_byte(out, r->data_present);
		else
			cql_put_string(out, cerr_write_type_name(r->write_type));
		break;
	case CQL_ERR_ALREADY_EXISTS:
		cql_put_string(out, about ? about->ks : "");
		cql_put_string(out, about ? about->table : "");
		break;
	case CQL_ERR_UNPREPARED: cql_put_short_bytes(out, about->id, about->id_len); break;
	default: break;
	}
}

static int conn_send(struct cqlconn *cc, uint8_t flags, int16_t stream, uint8_t opcode,
                     const void *body, size_t len, const char *warning)
{
	return conn_send_traced(cc, flags, stream, opcode, body, len, warning, NULL);
}

/* An ERROR (after the tracing session id of a traced request: trace_id non-NULL, as
 * Cassandra 4 answers a traced request that failed). */
static void conn_send_error(struct cqlconn *cc, int16_t stream, const struct cerr *e,
                            const struct exec_err_about *about, const uint8_t *trace_id)
{
	struct buf b;
	buf_init(&b);
	cqlserver_error_encode(&b, e, about);
	if (buf_ok(&b))
		conn_send_traced(cc, 0, stream, CQL_OP_ERROR, b.data, b.len, NULL, trace_id);
	buf_release(&b);
	cc->srv->stats.errors++;
}

/* An error of the server itself (no request behind it): code COL_E*. */
static void conn_send_simple_error(struct cqlconn *cc, int16_t stream, int code, const char *msg)
{
	struct cerr e = {.code = code};
	snprintf(e.msg, sizeof(e.msg), "%s", msg);
	conn_send_error(cc, stream, &e, NULL, NULL);
}

/* A protocol error after which the framing cannot be trusted: answer, flush, close. */
static void conn_fatal(struct cqlconn *cc, int16_t stream, const char *msg, bool expected)
{
	if (cc->closing)
		return;
	/* Drivers probe newer protocol versions first and step down on this error: a
	 * version refusal is routine, worth a debug line only. */
	if (expected)
		log_debug(MOD, "%s: %s", cc->nc ? net_conn_peer_str(cc->nc) : "?", msg);
	else
		log_info(MOD, "%s: protocol error: %s", cc->nc ? net_conn_peer_str(cc->nc) : "?",
		         msg);
	conn_send_simple_error(cc, stream, COL_EPROTO, msg);
	cc->closing = true;
	cc->srv->stats.protocol_errors++;
	if (cc->nc)
		net_conn_close_after_flush(cc->nc);
}

/* ---- requests ----------------------------------------------------------------------------- */

/* Read the connection unless a bound says not to (its own in-flight cap, or the server's). */
static void conn_update_reading(struct cqlconn *cc)
{
	if (!cc->nc)
		return;
	if (cc->paused || cc->ovl_paused)
		net_conn_pause_read(cc->nc);
	else
		net_conn_resume_read(cc->nc);
}

/* The time for admission, with the loop's idle and run-queue time so far (how busy it is). */
static int64_t admit_clock(struct cqlserver *s)
{
	if (s->nl) {
		admit_set_idle(&s->admit, net_loop_idle_us(s->nl));
		admit_set_runq(&s->admit, net_loop_runq_us(s->nl));
	}
	return clock_mono_us();
}

/* Over a limit of admission: its request count, or the loop's byte budget's mark. */
static bool server_full(const struct cqlserver *s)
{
	return admit_full(&s->admit) || admit_bytes_full(s->bytes);
}

/* Back under the admission limits: read every connection stopped for them again. */
static void overload_resume(struct cqlserver *s)
{
	if (server_full(s))
		return;
	for (struct cqlconn *cc = s->conns; cc && s->stats.overload_paused; cc = cc->next) {
		if (!cc->ovl_paused)
			continue;
		cc->ovl_paused = false;
		s->stats.overload_paused--;
		conn_update_reading(cc);
	}
}

static void req_done(struct exec_req *x)
{
	struct cqlreq *r = (struct cqlreq *)x;
	struct cqlconn *cc = r->conn;
	struct cqlserver *s = cc->srv;
	const uint8_t *trace_id = r->trace ? trace_session_id(r->trace) : NULL;
	if ((cc->nc || cc->sink) && !cc->closing) {
		if (x->err.code)
			conn_send_error(cc, r->stream, &x->err, &x->about, trace_id);
		else if (!buf_ok(&x->body_out))
			conn_send_simple_error(cc, r->stream, COL_ENOMEM,
			                       "out of memory encoding the result");
		else
			conn_send_traced(cc, 0, r->stream, CQL_OP_RESULT, x->body_out.data,
			                 x->body_out.len, x->warning, trace_id);
	}
	if (r->trace) {
		/* success needs no event: the session's duration says when it ended (and cqlsh
		 * prints its own "Request complete" from it) */
		if (x->err.code)
			trace_event(r->trace, "Request failed: %s", x->err.msg);
		trace_finish(r->trace);
		trace_unref(r->trace);
		r->trace = NULL;
	}
	cc->inflight--;
	if (s) {
		s->stats.inflight--;
		admit_done(&s->admit, r->start_us, admit_clock(s));
		if (s->stats.overload_paused)
			overload_resume(s);
	}
	/* Keep a few request structs per connection for reuse (no allocation per
	 * request); a big result buffer is not kept, nor more than REQ_CACHE structs. */
	if (x->body_out.cap > REQ_BUF_KEEP) {
		buf_release(&x->body_out);
		buf_init(&x->body_out);
	}
	if (cc->n_free < REQ_CACHE) {
		r->next_free = cc->free_reqs;
		cc->free_reqs = r;
		cc->n_free++;
	} else {
		buf_release(&x->body_out);
		free(r);
	}
	if (cc->sink)
		return; /* cqlserver_feed() owns the connection state */
	if (!cc->nc) {
		if (cc->inflight == 0)
			conn_free(cc);
		return;
	}
	if (s && cc->paused && cc->inflight < s->opts.max_inflight / 2) {
		cc->paused = false;
		conn_update_reading(cc);
	}
}

static struct cqlreq *req_get(struct cqlconn *cc)
{
	struct cqlreq *r = cc->free_reqs;
	if (r) {
		cc->free_reqs = r->next_free;
		cc->n_free--;
	} else {
		r = calloc(1, sizeof(*r));
		if (!r)
			return NULL;
		buf_init(&r->x.body_out);
	}
	r->conn = cc;
	return r;
}

static void handle_startup(struct cqlconn *cc, int16_t stream, struct bufreader *rd)
{
	if (cc->ready) {
		conn_send_simple_error(cc, stream, COL_EPROTO,
		                       "Unexpected message STARTUP, the connection is already "
		                       "initialized");
		return;
	}
	uint16_t n = cql_get_short(rd);
	bool have_version = false;
	for (uint16_t i = 0; i < n && bufreader_ok(rd); i++) {
		struct cql_slice k = cql_get_string(rd);
		struct cql_slice v = cql_get_string(rd);
		if (!bufreader_ok(rd))
			break;
		if (k.len == 11 && memcmp(k.p, "CQL_VERSION", 11) == 0) {
			have_version = true;
			if (v.len < 2 || v.p[0] != '3' || v.p[1] != '.') {
				char msg[160];
				snprintf(msg, sizeof(msg),
				         "Invalid or unsupported CQL version '%.*s'; supported "
				         "versions are 3.x (" CQL_VERSION ")",
				         v.len > 32 ? 32 : (int)v.len, (const char *)v.p);
				conn_send_simple_error(cc, stream, COL_EPROTO, msg);
				return;
			}
		} else if (k.len == 17 && memcmp(k.p, "THROW_ON_OVERLOAD", 17) == 0) {
			cc->throw_on_overload =
			        (v.len == 1 && v.p[0] == '1') ||
			        (v.len == 4 && strncasecmp((const char *)v.p, "true", 4) == 0);
		} else if (k.len == 11 && memcmp(k.p, "COMPRESSION", 11) == 0 && v.len > 0) {
			char msg[160];
			snprintf(msg, sizeof(msg),
			         "Unknown compression algorithm '%.*s' (this server supports none)",
			         v.len > 32 ? 32 : (int)v.len, (const char *)v.p);
			conn_send_simple_error(cc, stream, COL_EPROTO, msg);
			return;
		}
	}
	if (!bufreader_ok(rd)) {
		conn_send_simple_error(cc, stream, COL_EPROTO,
		                       "malformed STARTUP message: truncated [string map]");
		return;
	}
	if (!have_version) {
		conn_send_simple_error(cc, stream, COL_EPROTO,
		                       "CQL_VERSION is a mandatory option of STARTUP");
		return;
	}
	if (cc->srv->opts.auth) {
		struct buf b;
		buf_init(&b);
		cql_put_string(&b, AUTH_AUTHENTICATOR);
		if (buf_ok(&b))
			conn_send(cc, 0, stream, CQL_OP_AUTHENTICATE, b.data, b.len, NULL);
		buf_release(&b);
		cc->authenticating = true;
		return;
	}
	cc->ready = true;
	conn_send(cc, 0, stream, CQL_OP_READY, NULL, 0, NULL);
}

/* ERROR 0x0100 (AuthenticationError) with `msg`. */
static void conn_send_auth_error(struct cqlconn *cc, int16_t stream, const char *msg)
{
	struct buf b;
	buf_init(&b);
	cql_put_int(&b, CQL_ERR_BAD_CREDENTIALS);
	cql_put_string(&b, msg);
	if (buf_ok(&b))
		conn_send(cc, 0, stream, CQL_OP_ERROR, b.data, b.len, NULL);
	buf_release(&b);
	cc->srv->stats.errors++;
}

/* The client's address without its port: what failed logins are counted by. */
static void peer_host(const struct cqlconn *cc, char *out, size_t cap)
{
	snprintf(out, cap, "%s", cc->nc ? net_conn_peer_str(cc->nc) : "local");
	char *end = out[0] == '[' ? strchr(out, ']') : strrchr(out, ':');
	if (out[0] == '[' && end) {
		*end = 0;
		memmove(out, out + 1, strlen(out + 1) + 1);
	} else if (end) {
		*end = 0;
	}
}

/* A login's answer: AUTH_SUCCESS opens the session, anything else is an ERROR. */
static void on_login(void *arg, enum auth_result r, const char *role, const struct cerr *e)
{
	struct cqlconn *cc = arg;
	int16_t stream = cc->login_stream;
	cc->login_pending = false;
	cc->inflight--;
	if (cc->srv && !cc->closing && (cc->nc || cc->sink)) {
		if (r == AUTH_OK) {
			cc->authenticating = false;
			cc->ready = true;
			snprintf(cc->session.role, sizeof(cc->session.role), "%s", role);
			struct buf b;
			buf_init(&b);
			cql_put_int(&b, -1); /* [bytes] null: PLAIN has no final token */
			if (buf_ok(&b))
				conn_send(cc, 0, stream, CQL_OP_AUTH_SUCCESS, b.data, b.len, NULL);
			buf_release(&b);
		} else if (r == AUTH_BUSY) {
			conn_send_simple_error(cc, stream, COL_EOVERLOADED, e->msg);
		} else {
			conn_send_auth_error(cc, stream, e->msg);
		}
	}
	if (!cc->nc && !cc->sink && cc->inflight == 0)
		conn_free(cc);
}

/* AUTH_RESPONSE: [bytes] SASL PLAIN token; the answer waits for the password check. */
static void handle_auth_response(struct cqlconn *cc, int16_t stream, struct bufreader *rd)
{
	struct cql_slice tok = cql_get_bytes(rd);
	if (cc->login_pending) {
		conn_send_simple_error(cc, stream, COL_EPROTO,
		                       "Unexpected message AUTH_RESPONSE, a login is in progress");
		return;
	}
	if (!bufreader_ok(rd) || !tok.p) {
		conn_send_auth_error(cc, stream,
		                     "malformed AUTH_RESPONSE: expected a [bytes] token");
		return;
	}
	char from[NET_ADDR_STRLEN];
	peer_host(cc, from, sizeof(from));
	cc->login_pending = true;
	cc->login_stream = stream;
	cc->inflight++;
	auth_login(cc->srv->opts.auth, from, tok.p, (size_t)tok.len, on_login, cc);
}

static void handle_options(struct cqlconn *cc, int16_t stream)
{
	struct buf b;
	buf_init(&b);
	cql_put_short(&b, 2); /* [string multimap] with two keys */
	cql_put_string(&b, "CQL_VERSION");
	cql_put_short(&b, 1);
	cql_put_string(&b, CQL_VERSION);
	cql_put_string(&b, "COMPRESSION");
	cql_put_short(&b, 0);
	if (buf_ok(&b))
		conn_send(cc, 0, stream, CQL_OP_SUPPORTED, b.data, b.len, NULL);
	buf_release(&b);
}

static void handle_register(struct cqlconn *cc, int16_t stream, struct bufreader *rd)
{
	uint16_t n = cql_get_short(rd);
	uint8_t mask = 0;
	for (uint16_t i = 0; i < n && bufreader_ok(rd); i++) {
		struct cql_slice t = cql_get_string(rd);
		if (!bufreader_ok(rd))
			break;
		if (t.len == 15 && memcmp(t.p, "TOPOLOGY_CHANGE", 15) == 0)
			mask |= EV_TOPOLOGY;
		else if (t.len == 13 && memcmp(t.p, "STATUS_CHANGE", 13) == 0)
			mask |= EV_STATUS;
		else if (t.len == 13 && memcmp(t.p, "SCHEMA_CHANGE", 13) == 0)
			mask |= EV_SCHEMA;
		else {
			char msg[128];
			snprintf(msg, sizeof(msg), "Invalid value '%.*s' for Event.Type",
			         t.len > 40 ? 40 : (int)t.len, (const char *)t.p);
			conn_send_simple_error(cc, stream, COL_EPROTO, msg);
			return;
		}
	}
	if (!bufreader_ok(rd)) {
		conn_send_simple_error(cc, stream, COL_EPROTO,
		                       "malformed REGISTER message: truncated [string list]");
		return;
	}
	cc->events |= mask;
	conn_send(cc, 0, stream, CQL_OP_READY, NULL, 0, NULL);
}

/* Frames announce their length at bytes 5..8 for v3+; v1/v2 headers are 8 bytes. */
static long cql_framer(const uint8_t *p, size_t len)
{
	if (len < 1)
		return 0;
	uint8_t v = p[0];
	if (v != CQLPROTO_VERSION) {
		/* Unsupported version or garbage: deliver the header alone, answer, close. */
		size_t hl = ((v & 0x7f) == 1 || (v & 0x7f) == 2) ? 8 : CQLPROTO_HEADER_LEN;
		return len >= hl ? (long)hl : 0;
	}
	if (len < CQLPROTO_HEADER_LEN)
		return 0;
	uint32_t body = be32_load(p + 5);
	if (body > CQLPROTO_MAX_FRAME)
		return (long)CQLPROTO_MAX_FRAME + CQLPROTO_HEADER_LEN + 1; /* -> on_oversized */
	return (long)(CQLPROTO_HEADER_LEN + (size_t)body);
}

static void oversized(struct cqlconn *cc, const uint8_t *head, size_t head_len, size_t frame_len)
{
	int16_t stream = head_len >= 4 ? (int16_t)be16_load(head + 2) : 0;
	/* the announced body length, not the framer's clamped total */
	size_t body = head_len >= CQLPROTO_HEADER_LEN ? be32_load(head + 5)
	                                              : frame_len - CQLPROTO_HEADER_LEN;
	char msg[160];
	snprintf(msg, sizeof(msg),
	         "Request is too big: length %zu exceeds maximum allowed length %zu", body,
	         cc->srv->opts.max_frame_size);
	conn_fatal(cc, stream, msg, false);
}

static void on_oversized(struct net_conn *c, const uint8_t *head, size_t head_len, size_t frame_len)
{
	oversized(net_conn_ctx(c), head, head_len, frame_len);
}

/* The stream id of a frame of any version (v1/v2 have one byte). */
static int16_t frame_stream(const uint8_t *frame)
{
	if ((frame[0] & 0x7f) == 1 || (frame[0] & 0x7f) == 2)
		return (int8_t)frame[2];
	return (int16_t)be16_load(frame + 2);
}

/* A frame of another protocol version: refuse it on its stream and close. */
static void refuse_version(struct cqlconn *cc, const uint8_t *frame)
{
	uint8_t version = frame[0];
	int16_t stream = frame_stream(frame);
	char msg[200];
	if (version & CQLPROTO_RESPONSE)
		snprintf(msg, sizeof(msg),
		         "Invalid or unsupported protocol version (%d); a client must not send "
		         "response frames (version byte 0x%02x)",
		         version & 0x7f, version);
	else
		snprintf(msg, sizeof(msg),
		         "Invalid or unsupported protocol version (%d); supported versions are "
		         "(4/v4)",
		         version);
	/* v1..v5 and DSE v1/v2 are drivers probing; anything else is garbage */
	bool probe = (version >= 1 && version <= 5) || version == 0x41 || version == 0x42;
	conn_fatal(cc, stream, msg, probe);
}

/* Count a request about to run by the time it waited in the socket (age < 0: unknown). */
static void count_wait(struct cqlconn *cc, int64_t age)
{
	if (age < 0)
		return;
	struct cqlserver_stats *st = &cc->srv->stats;
	int k = cc->throw_on_overload ? 1 : 0;
	size_t i = 0;
	while (i < NET_ITER_BUCKETS - 1 && age > (int64_t)net_iter_bounds_us[i])
		i++;
	st->wait_buckets[k][i]++;
	st->wait_count[k]++;
	st->wait_sum_us[k] += (uint64_t)age;
}

/* Refuse a request Overloaded: it waited `age` µs in the socket, past max_queue_wait. */
static void refuse_late(struct cqlconn *cc, const struct cql_header *h, int64_t age)
{
	struct cqlserver *s = cc->srv;
	s->stats.overloaded++;
	s->stats.queue_expired++;
	char msg[200];
	snprintf(msg, sizeof(msg),
	         "Server is in overloaded state: the request waited %lld ms in the socket "
	         "before the server could read it (limit %lld ms); retry later",
	         (long long)(age / 1000), (long long)(s->opts.max_queue_wait_us / 1000));
	conn_send_simple_error(cc, h->stream, COL_EOVERLOADED, msg);
}

/* Refuse a request Overloaded: the loop's mutation bytes in flight are at their mark. */
static void refuse_bytes(struct cqlconn *cc, const struct cql_header *h)
{
	struct cqlserver *s = cc->srv;
	s->stats.overloaded++;
	s->stats.bytes_refused++;
	char msg[200];
	snprintf(msg, sizeof(msg),
	         "Server is in overloaded state: %llu bytes of mutations held for requests in "
	         "flight, at its limit of %llu; retry later",
	         (unsigned long long)s->bytes->used,
	         (unsigned long long)ADMIT_BYTES_MARK(s->bytes->max));
	conn_send_simple_error(cc, h->stream, COL_EOVERLOADED, msg);
}

/* The loop's byte budget fell under its mark (admit_bytes.on_room). */
static void on_bytes_room(void *ctx)
{
	struct cqlserver *s = ctx;
	if (s->stats.overload_paused)
		overload_resume(s);
}

/*
 * Admission (core/admit.h): true when the request may run.  A connection that
 * asked for Overloaded gets it for a request that already waited longer than
 * max_queue_wait in the socket (whatever the loop's load: the wait is already
 * past what the server may add to a request it accepts), and over the target
 * limit (admit_try_target: what the node gets done within its latency
 * target); any other request runs, and over the limit its
 * connection stops being read until the server is back under it.  PREPARE is
 * always admitted: it is cheap and a client cannot make progress without it.
 */
static bool admit_request(struct cqlconn *cc, const struct cql_header *h, int64_t now)
{
	struct cqlserver *s = cc->srv;
	admit_tick(&s->admit, now);
	int64_t age = h->opcode != CQL_OP_PREPARE && cc->nc ? net_conn_input_age_us(cc->nc) : -1;
	if (cc->throw_on_overload && s->opts.max_queue_wait_us > 0 &&
	    age > s->opts.max_queue_wait_us) {
		refuse_late(cc, h, age);
		return false;
	}
	/* The byte budget is memory, not time: past its mark a client that takes
	 * Overloaded is refused whatever the loop's load. */
	if (h->opcode != CQL_OP_PREPARE && cc->throw_on_overload && admit_bytes_full(s->bytes)) {
		refuse_bytes(cc, h);
		return false;
	}
	/* A loop with time to spare (the last window) holds a burst past its limit
	 * in the client's socket rather than refusing it: it will get to it soon. */
	if (h->opcode == CQL_OP_PREPARE || !cc->throw_on_overload ||
	    (admit_full(&s->admit) && !admit_saturated(&s->admit))) {
		admit_force(&s->admit, now);
		if (h->opcode != CQL_OP_PREPARE && server_full(s) && cc->nc && !cc->ovl_paused) {
			cc->ovl_paused = true;
			s->stats.overload_pauses++;
			s->stats.overload_paused++;
			conn_update_reading(cc);
		}
		count_wait(cc, age);
		return true;
	}
	if (admit_try_target(&s->admit, now)) {
		count_wait(cc, age);
		return true;
	}
	s->stats.overloaded++;
	char msg[160];
	snprintf(msg, sizeof(msg),
	         "Server is in overloaded state: %u requests in flight, at its limit of %u "
	         "(latency target %lld ms); retry later",
	         s->admit.inflight, admit_target_limit(&s->admit),
	         (long long)(s->opts.latency_target_us / 1000));
	conn_send_simple_error(cc, h->stream, COL_EOVERLOADED, msg);
	return false;
}

/* What Cassandra writes as a session's `request`, by opcode. */
static const char *trace_request_name(uint8_t opcode)
{
	switch (opcode) {
	case CQL_OP_QUERY: return "Execute CQL3 query";
	case CQL_OP_PREPARE: return "Preparing CQL3 query";
	case CQL_OP_EXECUTE: return "Execute CQL3 prepared query";
	default: return "Execute batch of CQL3 queries";
	}
}

/*
 * A traced request's session: the client, the command and what the body says
 * (the query text of QUERY and PREPARE, the level and page size of QUERY and
 * EXECUTE), read leniently: a malformed body is the executor's to refuse.
 */
static struct trace *trace_start(struct cqlconn *cc, uint8_t opcode, const struct bufreader *body)
{
	struct trace *t = trace_new(cc->srv->tracing, NULL);
	if (!t)
		return NULL;
	char client[NET_ADDR_STRLEN];
	peer_host(cc, client, sizeof(client));
	trace_set_session(t, cql_opcode_name(opcode), trace_request_name(opcode),
	                  strcmp(client, "local") ? client : NULL);
	struct bufreader r = *body;
	char text[512];
	if (opcode == CQL_OP_QUERY || opcode == CQL_OP_PREPARE) {
		int32_t n = cql_get_int(&r);
		const uint8_t *q = bufreader_take(&r, n > 0 ? (size_t)n : 0);
		if (bufreader_ok(&r) && n > 0 && q) {
			snprintf(text, sizeof(text), "%.*s", n, (const char *)q);
			trace_add_param(t, "query", text);
			trace_event(t, "%s %s", opcode == CQL_OP_QUERY ? "Parsing" : "Preparing",
			            text);
		}
	} else if (opcode == CQL_OP_EXECUTE) {
		struct cql_slice id = cql_get_short_bytes(&r);
		if (bufreader_ok(&r) && id.len > 0) {
			char hex[65];
			size_t k = (size_t)id.len > 32 ? 32 : (size_t)id.len;
			hex_encode(id.p, k, hex);
			trace_event(t, "Executing prepared statement 0x%s", hex);
		}
	} else {
		trace_event(t, "Executing a batch");
	}
	if (opcode == CQL_OP_QUERY || opcode == CQL_OP_EXECUTE) {
		uint16_t cl = cql_get_short(&r);
		uint8_t qf = cql_get_byte(&r);
		if (bufreader_ok(&r)) {
			const char *name = cql_consistency_name(cl);
			trace_add_param(t, "consistency_level", name ? name : "?");
			if ((qf & CQL_QF_PAGE_SIZE) && !(qf & CQL_QF_VALUES)) {
				snprintf(text, sizeof(text), "%d", cql_get_int(&r));
				if (bufreader_ok(&r))
					trace_add_param(t, "page_size", text);
			}
		}
	}
	return t;
}

/* QUERY, PREPARE, EXECUTE or BATCH: hand the body to the executor (req_done answers). */
static void start_request(struct cqlconn *cc, const struct cql_header *h, struct bufreader *rd)
{
	struct cqlserver *s = cc->srv;
	int64_t now = admit_clock(s);
	if (!admit_request(cc, h, now))
		return;
	struct cqlreq *r = req_get(cc);
	if (!r) {
		admit_done(&s->admit, now, now);
		conn_send_simple_error(cc, h->stream, COL_EOVERLOADED,
		                       "out of memory for a new request");
		return;
	}
	r->start_us = now;
	r->stream = h->stream;
	struct exec_req *x = &r->x;
	x->session = &cc->session;
	x->opcode = h->opcode;
	x->body = rd->p + rd->pos;
	x->body_len = bufreader_left(rd);
	x->done = req_done;
	cerr_clear(&x->err);
	x->warning[0] = 0;
	buf_reset(&x->body_out);
	x->body_out.oom = false;
	cc->inflight++;
	s->stats.inflight++;
	if (cc->inflight >= s->opts.max_inflight && !cc->paused) {
		cc->paused = true;
		conn_update_reading(cc);
	}
	r->trace =
	        (h->flags & CQL_FLAG_TRACING) && s->tracing ? trace_start(cc, h->opcode, rd) : NULL;
	struct trace *prev = trace_swap_current(r->trace);
	executor_run(s->ex, x);
	trace_swap_current(prev);
}

static void handle_frame(struct cqlconn *cc, const uint8_t *frame, size_t len)
{
	if (cc->closing)
		return;
	cc->srv->stats.requests++;
	if (cc->tls_refused) {
		/* net logged the address; the client hears why in its own protocol */
		conn_fatal(cc, frame_stream(frame),
		           "This port requires TLS (client_encryption_options: enabled, not "
		           "optional): connect with SSL/TLS",
		           true);
		return;
	}
	if (frame[0] != CQLPROTO_VERSION) {
		refuse_version(cc, frame);
		return;
	}
	struct cql_header h;
	cql_header_decode(frame, len, &h);
	if (h.flags & CQL_FLAG_COMPRESSION) {
		conn_fatal(cc, h.stream,
		           "Frame is compressed but no compression was negotiated in STARTUP",
		           false);
		return;
	}
	if (h.stream < 0) {
		conn_send_simple_error(cc, h.stream, COL_EPROTO,
		                       "negative stream ids are reserved for server events");
		return;
	}
	struct bufreader rd;
	bufreader_init(&rd, frame + CQLPROTO_HEADER_LEN, len - CQLPROTO_HEADER_LEN);
	if (h.flags & CQL_FLAG_CUSTOM_PAYLOAD) {
		cql_skip_bytes_map(&rd);
		if (!bufreader_ok(&rd)) {
			conn_send_simple_error(cc, h.stream, COL_EPROTO,
			                       "malformed custom payload");
			return;
		}
	}
	const char *name = cql_opcode_name(h.opcode);
	char msg[128];
	if (!name) {
		snprintf(msg, sizeof(msg), "Unknown opcode 0x%02x", h.opcode);
		conn_send_simple_error(cc, h.stream, COL_EPROTO, msg);
		return;
	}
	if (h.opcode == CQL_OP_OPTIONS) {
		handle_options(cc, h.stream);
		return;
	}
	if (h.opcode == CQL_OP_STARTUP && !cc->authenticating) {
		handle_startup(cc, h.stream, &rd);
		return;
	}
	if (cc->authenticating && h.opcode == CQL_OP_AUTH_RESPONSE) {
		handle_auth_response(cc, h.stream, &rd);
		return;
	}
	if (cc->authenticating) {
		snprintf(msg, sizeof(msg), "Unexpected message %s, expecting AUTH_RESPONSE", name);
		conn_send_simple_error(cc, h.stream, COL_EPROTO, msg);
		return;
	}
	if (!cc->ready) {
		snprintf(msg, sizeof(msg), "Unexpected message %s, expecting STARTUP or OPTIONS",
		         name);
		conn_send_simple_error(cc, h.stream, COL_EPROTO, msg);
		return;
	}
	switch (h.opcode) {
	case CQL_OP_REGISTER: handle_register(cc, h.stream, &rd); return;
	case CQL_OP_QUERY:
	case CQL_OP_PREPARE:
	case CQL_OP_EXECUTE:
	case CQL_OP_BATCH: start_request(cc, &h, &rd); return;
	default:
		snprintf(msg, sizeof(msg), "Unexpected message %s from a client", name);
		conn_send_simple_error(cc, h.stream, COL_EPROTO, msg);
		return;
	}
}

static int on_frame(struct net_conn *c, const uint8_t *frame, size_t len)
{
	handle_frame(net_conn_ctx(c), frame, len);
	return 0;
}

static void on_schema_event(void *ctx, enum exec_change ch, enum exec_target t, const char *ks,
                            const char *table)
{
	cqlserver_event_schema(ctx, exec_change_name(ch), exec_target_name(t), ks,
	                       t == EXEC_TARGET_KEYSPACE ? NULL : table);
}

/* ---- public ------------------------------------------------------------------------------- */

static const struct net_conn_ops cql_ops = {
        .frame_len = cql_framer,
        .on_frame = on_frame,
        .on_oversized = on_oversized,
        .on_plaintext_refused = on_plaintext_refused,
        .on_close = on_close,
};

static int server_create(struct net_loop *nl, const struct cqlserver_options *opts,
                         const struct cqlserver_deps *deps, struct cqlserver **out,
                         struct cerr *err)
{
	if (nl && !opts->address && !opts->no_listen)
		return cerr_set(err, COL_EINVAL, "cqlserver: no listen address");
	struct cqlserver *s = calloc(1, sizeof(*s));
	if (!s)
		return cerr_set(err, COL_ENOMEM, "cqlserver: out of memory");
	s->nl = nl;
	s->opts = *opts;
	if (!s->opts.max_frame_size)
		s->opts.max_frame_size = DEFAULT_MAX_FRAME;
	if (s->opts.max_frame_size > CQLPROTO_MAX_FRAME)
		s->opts.max_frame_size = CQLPROTO_MAX_FRAME;
	if (!s->opts.max_connections)
		s->opts.max_connections = DEFAULT_MAX_CONNS;
	if (!s->opts.max_inflight)
		s->opts.max_inflight = DEFAULT_MAX_INFLIGHT;
	if (!s->opts.prepared_cache_max)
		s->opts.prepared_cache_max = DEFAULT_PREPARED_MAX;
	if (!s->opts.max_requests)
		s->opts.max_requests = DEFAULT_MAX_REQUESTS;
	struct admit_opts ao = {.max_inflight = s->opts.max_requests,
	                        .target_us = s->opts.latency_target_us};
	admit_init(&s->admit, &ao);
	s->opts.address = NULL; /* not kept */
	s->opts.tls = NULL;     /* held in s->tls */
	cqlserver_set_tls(s, opts->tls, opts->tls_optional);
	buf_init(&s->scratch);

	struct prepared_cache *pc = deps->prepared;
	if (!pc) {
		int rc = prepared_cache_new(s->opts.prepared_cache_max, &s->own_prepared);
		if (rc) {
			tls_ctx_unref(s->tls);
			free(s);
			return cerr_set(err, rc, "cqlserver: cannot create the prepared cache");
		}
		pc = s->own_prepared;
	}
	struct executor_deps ed = {
	        .schema = deps->schema,
	        .store = deps->store,
	        .router = deps->router,
	        .prepared = pc,
	        .view = deps->view,
	        .on_schema_event = on_schema_event,
	        .event_ctx = s,
	        .ddl_wait = deps->ddl_wait,
	        .ddl_ctx = deps->ddl_ctx,
	        .access = opts->access,
	        .forward = deps->forward,
	        .forward_ctx = deps->forward_ctx,
	};
	s->event_tap = deps->event_tap;
	s->tracing = deps->tracing;
	s->bytes = deps->bytes;
	if (s->bytes) {
		s->bytes->on_room = on_bytes_room;
		s->bytes->room_ctx = s;
	}
	s->event_ctx = deps->event_ctx;
	int rc = executor_new(&ed, &s->ex);
	if (rc) {
		cerr_set(err, rc, "cqlserver: cannot create the executor");
		goto fail;
	}
	if (!nl || opts->no_listen) {
		*out = s; /* detached (cqlserver_feed() only), or served by cqlserver_adopt() */
		return 0;
	}
	struct net_addr addr;
	rc = net_addr_parse(opts->address, opts->port, &addr, err);
	if (rc)
		goto fail;
	struct net_server_opts so = {
	        .conn = {.max_frame = s->opts.max_frame_size + CQLPROTO_HEADER_LEN,
	                 .rx_timestamps = s->opts.max_queue_wait_us > 0},
	        .max_conns = s->opts.max_connections,
	};
	rc = net_server_new(nl, &addr, &so, &cql_ops, on_accept, s, &s->listener, err);
	if (rc)
		goto fail;
	net_server_set_tls(s->listener, s->tls, s->tls_mode);
	char a[NET_ADDR_STRLEN];
	net_addr_format(net_server_addr(s->listener), a, sizeof(a));
	log_info(MOD, "CQL native protocol v4 server listening on %s%s", a,
	         !opts->tls           ? ""
	         : opts->tls_optional ? " (TLS optional)"
	                              : " (TLS)");
	*out = s;
	return 0;
fail:
	if (s->bytes)
		s->bytes->on_room = NULL;
	if (s->ex)
		executor_free(s->ex);
	if (s->own_prepared)
		prepared_cache_free(s->own_prepared);
	buf_release(&s->scratch);
	tls_ctx_unref(s->tls);
	free(s);
	return rc;
}

void cqlserver_close(struct cqlserver *s)
{
	if (!s)
		return;
	s->closed = true;
	if (s->listener)
		net_server_free(s->listener);
	s->listener = NULL;
	if (s->bytes && s->bytes->room_ctx == s)
		s->bytes->on_room = NULL;
	/* Detach every connection from the server, then close it; on_close frees later. */
	struct cqlconn *cc = s->conns;
	while (cc) {
		struct cqlconn *n = cc->next;
		cc->srv = NULL;
		cc->prev = cc->next = NULL;
		if (cc->nc)
			net_conn_close(cc->nc, 0, "server shutting down");
		cc = n;
	}
	s->conns = NULL;
}

void cqlserver_free(struct cqlserver *s)
{
	if (!s)
		return;
	cqlserver_close(s);
	executor_free(s->ex);
	if (s->own_prepared)
		prepared_cache_free(s->own_prepared);
	buf_release(&s->scratch);
	tls_ctx_unref(s->tls);
	free(s);
}

int cqlserver_new(struct net_loop *nl, const struct cqlserver_options *opts,
                  const struct cqlserver_deps *deps, struct cqlserver **out, struct cerr *err)
{
	return server_create(nl, opts, deps, out, err);
}

void cqlserver_set_tls(struct cqlserver *s, struct tls_ctx *tls, bool optional)
{
	if (tls)
		tls_ctx_ref(tls);
	tls_ctx_unref(s->tls);
	s->tls = tls;
	s->tls_mode = !tls ? NET_TLS_OFF : optional ? NET_TLS_OPTIONAL : NET_TLS_REQUIRED;
	if (s->listener)
		net_server_set_tls(s->listener, tls, s->tls_mode);
}

uint16_t cqlserver_port(const struct cqlserver *s)
{
	return s->listener ? net_addr_port(net_server_addr(s->listener)) : 0;
}

void cqlserver_get_stats(const struct cqlserver *s, struct cqlserver_stats *out)
{
	*out = s->stats;
	out->admit_limit = admit_limit(&s->admit);
	out->admit_target_limit = admit_target_limit(&s->admit);
}

static void broadcast(struct cqlserver *s, uint8_t mask)
{
	if (!buf_ok(&s->scratch))
		return;
	if (s->event_tap)
		s->event_tap(s->event_ctx, mask, s->scratch.data, s->scratch.len);
	for (struct cqlconn *cc = s->conns; cc; cc = cc->next) {
		if (!(cc->events & mask) || cc->closing || !cc->nc)
			continue;
		if (conn_send(cc, 0, -1, CQL_OP_EVENT, s->scratch.data, s->scratch.len, NULL) == 0)
			s->stats.events_sent++;
	}
}

void cqlserver_event_status(struct cqlserver *s, bool up, const uint8_t *addr, uint8_t addr_len,
                            int32_t port)
{
	buf_reset(&s->scratch);
	cql_put_string(&s->scratch, "STATUS_CHANGE");
	cql_put_string(&s->scratch, up ? "UP" : "DOWN");
	cql_put_inet(&s->scratch, addr, addr_len, port);
	broadcast(s, EV_STATUS);
}

void cqlserver_event_topology(struct cqlserver *s, bool new_node, const uint8_t *addr,
                              uint8_t addr_len, int32_t port)
{
	buf_reset(&s->scratch);
	cql_put_string(&s->scratch, "TOPOLOGY_CHANGE");
	cql_put_string(&s->scratch, new_node ? "NEW_NODE" : "REMOVED_NODE");
	cql_put_inet(&s->scratch, addr, addr_len, port);
	broadcast(s, EV_TOPOLOGY);
}

void cqlserver_event_schema(struct cqlserver *s, const char *change, const char *target,
                            const char *ks, const char *table)
{
	buf_reset(&s->scratch);
	cql_put_string(&s->scratch, "SCHEMA_CHANGE");
	cql_put_string(&s->scratch, change);
	cql_put_string(&s->scratch, target);
	cql_put_string(&s->scratch, ks);
	if (table)
		cql_put_string(&s->scratch, table);
	broadcast(s, EV_SCHEMA);
}

int cqlserver_new_detached(const struct cqlserver_options *opts, const struct cqlserver_deps *deps,
                           struct cqlserver **out, struct cerr *err)
{
	struct cqlserver_options o = *opts;
	o.address = NULL;
	return server_create(NULL, &o, deps, out, err);
}

int cqlserver_feed(struct cqlserver *s, const uint8_t *in, size_t len, struct buf *out)
{
	struct cqlconn cc = {.srv = s, .sink = out, .throw_on_overload = s->opts.throw_on_overload};
	size_t pos = 0;
	int rc = 0;
	while (pos < len && !cc.closing) {
		long fl = cql_framer(in + pos, len - pos);
		if (fl <= 0) {
			rc = COL_EAGAIN; /* a partial header */
			break;
		}
		if ((size_t)fl > s->opts.max_frame_size + CQLPROTO_HEADER_LEN) {
			oversized(&cc, in + pos, len - pos, (size_t)fl);
			break;
		}
		if ((size_t)fl > len - pos) {
			rc = COL_EAGAIN; /* a partial body: a real connection would wait */
			break;
		}
		handle_frame(&cc, in + pos, (size_t)fl);
		pos += (size_t)fl;
	}
	/* the local router completes every request before handle_frame returns */
	struct cqlreq *r = cc.free_reqs;
	while (r) {
		struct cqlreq *n = r->next_free;
		buf_release(&r->x.body_out);
		free(r);
		r = n;
	}
	if (cc.closing)
		return COL_ECLOSED;
	return rc;
}

/* ---- several loops ------------------------------------------------------------------------ */

void cqlserver_set_handoff(struct cqlserver *s,
                           int (*fn)(void *ctx, int fd, const struct net_addr *peer), void *ctx)
{
	if (s->listener)
		net_server_set_handoff(s->listener, fn, ctx);
}

int cqlserver_adopt(struct cqlserver *s, int fd, const struct net_addr *peer)
{
	char ps[NET_ADDR_STRLEN];
	if (s->closed) {
		close(fd);
		return COL_ECLOSED;
	}
	if (s->stats.conns_open >= s->opts.max_connections) {
		net_addr_format(peer, ps, sizeof(ps));
		log_warn(MOD, "refusing client %s: %llu connections open on this loop (limit)", ps,
		         (unsigned long long)s->stats.conns_open);
		close(fd);
		return COL_EFULL;
	}
	struct net_conn_opts co = {.max_frame = s->opts.max_frame_size + CQLPROTO_HEADER_LEN,
	                           .rx_timestamps = s->opts.max_queue_wait_us > 0};
	struct net_conn *c;
	if (net_conn_adopt(s->nl, fd, peer, &cql_ops, &co, s, &c)) {
		close(fd);
		return COL_ENOMEM;
	}
	if (on_accept(NULL, c, s)) {
		net_conn_close(c, 0, "out of memory");
		return COL_ENOMEM;
	}
	net_conn_serve_tls(c, s->tls, s->tls_mode); /* what this server's listener would apply */
	net_conn_start(c);
	return 0;
}

void cqlserver_event_raw(struct cqlserver *s, unsigned mask, const uint8_t *body, size_t len)
{
	buf_reset(&s->scratch);
	buf_put(&s->scratch, body, len);
	void (*tap)(void *, unsigned, const uint8_t *, size_t) = s->event_tap;
	s->event_tap = NULL; /* a relayed event is not relayed again */
	broadcast(s, (uint8_t)mask);
	s->event_tap = tap;
}

void cqlserver_run(struct cqlserver *s, struct exec_req *req)
{
	executor_run(s->ex, req);
}
