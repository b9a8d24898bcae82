/*
 * messaging.c — see messaging.h.
 *
 * Request ids: id = (seq << REQ_IDX_BITS) | slot index, seq counting up from
 * 1, so an id is never 0 (0 marks one-way messages), a response finds its
 * slot without hashing, and a late response for a reused slot does not match
 * (its seq differs).
 */
#include "gossip/messaging.h"

#include "core/array.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/tls.h"
#include "core/msgpk.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "messaging"

#define REQ_IDX_BITS           20
#define REQ_IDX_MASK           ((1u << REQ_IDX_BITS) - 1)
#define DEF_MAX_MESSAGE        (16u << 20)
#define DEF_PEER_QUEUE         (64u << 20)
#define DEF_PENDING_BYTES      (4u << 20)
#define DEF_PENDING_MSGS       4096u
#define DEF_MAX_REQUESTS       65536u
#define DEF_RECONNECT_MIN_MS   100u
#define DEF_RECONNECT_MAX_MS   5000u
#define DEF_CONNECT_TIMEOUT_MS 2000u
#define DEF_MAX_INBOUND        1024u
/*
 * A firewall that drops packets leaves TCP retransmitting for minutes, with
 * back-off that delays recovery long after the cut heals; 10 s without an
 * acknowledgement ends the connection so that the next message dials afresh.
 */
#define DEF_TCP_USER_TIMEOUT_MS 10000u
/* The frame header: u32 length + u8 flags (messaging_codec.c). */
#define FRAME_HDR 5

/* ---- state ----------------------------------------------------------------------------------- */

struct req {
	struct messaging *m;
	uint64_t id; /* 0 while free */
	ev_timer timer;
	messaging_rsp_fn cb;
	void *ctx;
	uint32_t next_free; /* index + 1 of the next free slot, 0 = none */
	unsigned verb;
	bool armed;
};

struct messaging_peer {
	struct messaging *m;
	struct messaging_peer *next;
	struct net_addr addr;
	char addr_str[NET_ADDR_STRLEN];
	struct net_conn *conn;
	enum messaging_peer_state state;
	bool host_known;
	struct host_id host;
	struct buf pending;
	unsigned pending_msgs;
	ev_timer backoff;
	unsigned backoff_ms;
	unsigned failures;
	uint64_t sent, dropped, connects, connect_failures;
	uint8_t hello_nonce[IAUTH_NONCE_LEN]; /* of our last hello: the answer's challenge */
	bool force_tls; /* it answered NEEDS_TLS to a plaintext hello: TLS from now on */
};

struct inbound {
	struct messaging *m;
	struct inbound *prev, *next;
	struct net_conn *c;
	bool handshaken;
	struct net_addr from;
	struct host_id host;
	uint64_t serial; /* msg_in.via of the REPLY_HERE requests it brings */
};

struct handler {
	messaging_handler_fn fn;
	void *ctx;
	const char *name; /* registered verbs only; NULL = unnamed */
};

struct messaging {
	struct net_loop *nl;
	struct ev_loop *loop;
	struct messaging_config cfg;
	char *cluster;
	char listen_str[NET_ADDR_STRLEN];
	struct net_server *srv;
	struct msg_codec codec;
	struct handler handlers[VERB_MAX];
	struct messaging_peer *peers;
	struct inbound *inbound;
	struct req **reqs;
	uint32_t nreqs, free_head;
	size_t reqs_cap;
	uint64_t seq;
	uint64_t conn_seq; /* serials of incoming connections */
	struct messaging_stats st;
	bool closing;    /* messaging_free() is running: no new messages */
	uint8_t *secret; /* NULL: handshakes carry no proof and none is asked for */
	size_t secret_len;
	struct iauth_seen *seen;                 /* hello nonces accepted lately (with a secret) */
	struct tls_ctx *tls_server, *tls_client; /* referenced; cfg's copies are not */
	struct messaging_verb_stats vst[VERB_MAX];
};

/* ---- requests -------------------------------------------------------------------------------- */

static void req_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct req *q = (struct req *)((char *)w - offsetof(struct req, timer));
	struct messaging *m = q->m;
	messaging_rsp_fn cb = q->cb;
	void *ctx = q->ctx;
	uint32_t idx = (uint32_t)(q->id & REQ_IDX_MASK);
	q->id = 0;
	q->armed = false;
	q->next_free = m->free_head;
	m->free_head = idx + 1;
	m->st.requests_pending--;
	m->st.timeouts++;
	m->vst[q->verb].timeouts++;
	cb(ctx, COL_ETIMEDOUT, NULL);
}

static int req_reserve(struct messaging *m, struct req **out)
{
	uint32_t idx;
	if (m->free_head) {
		idx = m->free_head - 1;
		m->free_head = m->reqs[idx]->next_free;
	} else {
		if (m->nreqs >= m->cfg.max_requests)
			return COL_EFULL;
		if (ARRAY_GROW(m->reqs, m->reqs_cap, (size_t)m->nreqs + 1))
			return COL_ENOMEM;
		struct req *q = calloc(1, sizeof(*q));
		if (!q)
			return COL_ENOMEM;
		q->m = m;
		ev_timer_init(&q->timer, req_timeout_cb, 0., 0.);
		idx = m->nreqs++;
		m->reqs[idx] = q;
	}
	struct req *q = m->reqs[idx];
	q->id = (++m->seq << REQ_IDX_BITS) | idx;
	q->armed = false;
	*out = q;
	return COL_OK;
}

static void req_release(struct messaging *m, struct req *q)
{
	uint32_t idx = (uint32_t)(q->id & REQ_IDX_MASK);
	ev_timer_stop(m->loop, &q->timer);
	if (q->armed)
		m->st.requests_pending--;
	q->id = 0;
	q->armed = false;
	q->next_free = m->free_head;
	m->free_head = idx + 1;
}

static struct req *req_find(struct messaging *m, uint64_t id)
{
	uint32_t idx = (uint32_t)(id & REQ_IDX_MASK);
	if (idx >= m->nreqs)
		return NULL;
	struct req *q = m->reqs[idx];
	return (q->id == id && q->armed) ? q : NULL;
}

/* ---- outgoing connections -------------------------------------------------------------------- */

static void peer_connect(struct messaging_peer *p);

static void peer_drop_pending(struct messaging_peer *p)
{
	p->dropped += p->pending_msgs;
	p->m->st.dropped += p->pending_msgs;
	p->pending_msgs = 0;
	buf_reset(&p->pending);
	if (p->pending.cap > (64u << 10))
		buf_release(&p->pending);
}

static void peer_backoff_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct messaging_peer *p =
	        (struct messaging_peer *)((char *)w - offsetof(struct messaging_peer, backoff));
	/* The state says how the last attempt ended until the next one starts. */
	if (p->pending_msgs > 0)
		peer_connect(p);
}

static void peer_failed(struct messaging_peer *p, bool refused, const char *why)
{
	struct messaging *m = p->m;
	p->failures++;
	p->connect_failures++;
	if (refused) {
		p->backoff_ms = m->cfg.reconnect_max_ms;
	} else {
		unsigned ms = m->cfg.reconnect_min_ms;
		for (unsigned i = 1; i < p->failures && ms < m->cfg.reconnect_max_ms; i++)
			ms *= 2;
		p->backoff_ms = ms < m->cfg.reconnect_max_ms ? ms : m->cfg.reconnect_max_ms;
	}
	/* Say it on the first failure and then at 10, 100, ... so a dead peer does not flood. */
	unsigned f = p->failures;
	while (f >= 10 && f % 10 == 0)
		f /= 10;
	if (f == 1 && why)
		log_info(MOD, "cannot reach %s (%u failed attempts): %s; retrying in %u ms",
		         p->addr_str, p->failures, why, p->backoff_ms);
	peer_drop_pending(p);
	p->state = refused ? PEER_REFUSED : PEER_BACKOFF;
	ev_timer_stop(m->loop, &p->backoff);
	ev_timer_set(&p->backoff, p->backoff_ms / 1000.0, 0.);
	ev_timer_start(m->loop, &p->backoff);
}

static void deliver_response(struct messaging *m, const struct msg_in *msg);

static int out_on_frame(struct net_conn *c, const uint8_t *frame, size_t len)
{
	struct messaging_peer *p = net_conn_ctx(c);
	if (!p)
		return COL_ECLOSED;
	struct messaging *m = p->m;
	struct msg_in msg;
	struct cerr e = {0};
	if (msg_decode(&m->codec, frame, len, &msg, &e) != COL_OK) {
		log_warn(MOD, "bad frame from %s on our outgoing connection: %s; closing",
		         p->addr_str, e.msg);
		return COL_EPROTO;
	}
	if (p->state == PEER_READY && m->cfg.no_listen && msg.verb != VERB_HANDSHAKE &&
	    (msg.flags & MSG_F_RESPONSE)) {
		/* the answer to one of our REPLY_HERE requests */
		m->st.msgs_in++;
		m->vst[msg.verb].in++;
		msg.from = &p->addr;
		msg.from_host = &p->host;
		deliver_response(m, &msg);
		return 0;
	}
	struct msg_handshake h;
	if (p->state == PEER_READY || msg.verb != VERB_HANDSHAKE || !(msg.flags & MSG_F_RESPONSE) ||
	    msg_handshake_decode(msg.payload, msg.payload_len, &h, &e) != COL_OK) {
		log_warn(MOD,
		         "%s sent something other than a handshake answer on our outgoing "
		         "connection%s%s; closing",
		         p->addr_str, e.msg[0] ? ": " : "", e.msg);
		return COL_EPROTO;
	}
	if (h.status == HANDSHAKE_NEEDS_TLS && m->tls_client && !p->force_tls) {
		/* it does not know yet that we are near (dc/rack): TLS is always accepted */
		log_info(MOD, "%s asks for TLS; connecting again with TLS", p->addr_str);
		p->force_tls = true;
		net_conn_close(c, COL_EPROTO, "the peer asks for TLS");
		return 0;
	}
	if (h.status != HANDSHAKE_OK) {
		log_error(MOD, "%s refused our handshake: %.*s", p->addr_str, (int)h.reason_len,
		          (const char *)h.reason);
		p->state = PEER_REFUSED;
		net_conn_close(c, COL_EPROTO, "handshake refused");
		return 0;
	}
	if (h.cluster_len != strlen(m->cluster) || memcmp(h.cluster, m->cluster, h.cluster_len)) {
		log_error(MOD,
		          "%s belongs to cluster '%.*s', we are cluster '%s'; not talking to it",
		          p->addr_str, (int)h.cluster_len, (const char *)h.cluster, m->cluster);
		p->state = PEER_REFUSED;
		net_conn_close(c, COL_EPROTO, "other cluster");
		return 0;
	}
	if (m->secret && (!h.has_proof || !iauth_check(m->secret, m->secret_len, h.fields,
	                                               h.fields_len, p->hello_nonce, &h.proof))) {
		log_error(MOD,
		          "%s %s the cluster secret (internode_authenticator_secret); not talking "
		          "to it",
		          p->addr_str,
		          h.has_proof ? "answered with a wrong proof of" : "did not prove");
		m->st.refused_handshakes++;
		p->state = PEER_REFUSED;
		net_conn_close(c, COL_EPROTO, "peer did not prove the cluster secret");
		return 0;
	}
	p->host = h.host_id;
	p->host_known = true;
	if (p->failures > 0) {
		log_info(MOD, "connected to %s after %u failed attempts", p->addr_str, p->failures);
	}
	p->failures = 0;
	p->backoff_ms = 0;
	p->state = PEER_READY;
	return 0;
}

static void out_on_connect(struct net_conn *c)
{
	struct messaging_peer *p = net_conn_ctx(c);
	if (p)
		p->connects++;
}

static void out_on_close(struct net_conn *c, int reason, const char *why)
{
	(void)reason;
	struct messaging_peer *p = net_conn_ctx(c);
	if (!p)
		return;
	p->conn = NULL;
	if (p->state == PEER_READY) {
		log_info(MOD, "connection to %s lost: %s", p->addr_str, why);
		p->state = PEER_IDLE;
		if (p->pending_msgs > 0)
			peer_connect(p);
		return;
	}
	peer_failed(p, p->state == PEER_REFUSED, why);
}

static const struct net_conn_ops OUT_OPS = {
        .frame_len = net_framer_u32be,
        .on_frame = out_on_frame,
        .on_connect = out_on_connect,
        .on_close = out_on_close,
};

/* The client context when the connection to p is to be TLS, else NULL. */
static struct tls_ctx *peer_tls(const struct messaging_peer *p)
{
	const struct messaging *m = p->m;
	if (!m->tls_client ||
	    (!p->force_tls && m->cfg.tls_to && !m->cfg.tls_to(m->cfg.tls_policy_ctx, &p->addr)))
		return NULL;
	return m->tls_client;
}

static void peer_connect(struct messaging_peer *p)
{
	struct messaging *m = p->m;
	struct net_conn_opts o = {
	        .max_frame = m->cfg.max_message + FRAME_HDR,
	        .out_high = m->cfg.peer_queue_bytes,
	        .out_cap = m->cfg.peer_queue_bytes,
	        .connect_timeout_ms = m->cfg.connect_timeout_ms,
	        .user_timeout_ms = m->cfg.tcp_user_timeout_ms,
	        .tls = peer_tls(p),
	};
	struct cerr e = {0};
	struct net_conn *c;
	if (net_connect(m->nl, &m->cfg.listen, &p->addr, &OUT_OPS, &o, p, &c, &e) != COL_OK) {
		peer_failed(p, false, e.msg);
		return;
	}
	p->conn = c;
	p->state = PEER_CONNECTING;
	size_t mark0;
	struct buf *b = net_conn_wbuf(c, &mark0);
	size_t mark = msg_frame_begin(b, VERB_HANDSHAKE, 0);
	if (m->secret && iauth_random(p->hello_nonce, IAUTH_NONCE_LEN) != 0) {
		net_conn_close(c, COL_EIO, "no random bytes for the handshake nonce");
		return;
	}
	if (m->secret)
		msg_handshake_encode_proved(b, m->cluster, &m->cfg.host_id, &m->cfg.broadcast,
		                            HANDSHAKE_OK, "", m->secret, m->secret_len,
		                            (uint64_t)(clock_wall_us() / 1000), p->hello_nonce,
		                            NULL);
	else
		msg_handshake_encode(b, m->cluster, &m->cfg.host_id, &m->cfg.broadcast,
		                     HANDSHAKE_OK, "");
	if (msg_frame_end(&m->codec, b, mark, 0) != COL_OK ||
	    net_conn_wcommit(c, mark0) != COL_OK) {
		net_conn_close(c, COL_ENOMEM, "cannot queue the handshake");
		return;
	}
	if (p->pending_msgs > 0) {
		if (net_conn_write(c, p->pending.data, p->pending.len) != COL_OK) {
			peer_drop_pending(p);
		} else {
			p->pending_msgs = 0;
			buf_reset(&p->pending);
		}
	}
}

static struct messaging_peer *peer_find(const struct messaging *m, const struct net_addr *a)
{
	for (struct messaging_peer *p = m->peers; p; p = p->next)
		if (net_addr_equal(&p->addr, a))
			return p;
	return NULL;
}

static struct messaging_peer *peer_get(struct messaging *m, const struct net_addr *a)
{
	struct messaging_peer *p = peer_find(m, a);
	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->m = m;
	p->addr = *a;
	net_addr_format(a, p->addr_str, sizeof(p->addr_str));
	buf_init(&p->pending);
	ev_timer_init(&p->backoff, peer_backoff_cb, 0., 0.);
	p->next = m->peers;
	m->peers = p;
	return p;
}

static void peer_free(struct messaging_peer *p)
{
	ev_timer_stop(p->m->loop, &p->backoff);
	if (p->conn) {
		net_conn_set_ctx(p->conn, NULL);
		net_conn_close(p->conn, 0, "peer forgotten");
	}
	buf_release(&p->pending);
	free(p);
}

/* ---- sending --------------------------------------------------------------------------------- */

static int begin(struct messaging *m, const struct net_addr *to, unsigned verb, uint64_t id,
                 unsigned flags, struct msg_out *o)
{
	if (m->closing)
		return COL_ECLOSED;
	if (verb >= VERB_MAX)
		return COL_EINVAL;
	struct messaging_peer *p = peer_get(m, to);
	if (!p)
		return COL_ENOMEM;
	if (!p->conn && !ev_is_active(&p->backoff))
		peer_connect(p);
	memset(o, 0, sizeof(*o));
	o->m = m;
	o->peer = p;
	o->verb = verb;
	o->flags = flags;
	size_t mark0;
	if (p->conn && !net_conn_closing(p->conn)) {
		o->b = net_conn_wbuf(p->conn, &mark0);
	} else {
		if (p->pending_msgs >= m->cfg.pending_msgs) {
			p->dropped++;
			m->st.dropped++;
			m->vst[verb].dropped++;
			return COL_EFULL;
		}
		o->b = &p->pending;
	}
	o->mark = msg_frame_begin(o->b, verb, id);
	return COL_OK;
}

int messaging_begin_oneway(struct messaging *m, const struct net_addr *to, unsigned verb,
                           struct msg_out *o)
{
	return begin(m, to, verb, 0, 0, o);
}

static struct inbound *inbound_find(struct messaging *m, uint64_t serial)
{
	for (struct inbound *ib = m->inbound; ib; ib = ib->next)
		if (ib->serial == serial)
			return ib;
	return NULL;
}

/* A response to a REPLY_HERE request: on the incoming connection `via`, if still open. */
static int begin_via(struct messaging *m, uint64_t via, unsigned verb, uint64_t id, unsigned flags,
                     struct msg_out *o)
{
	if (m->closing)
		return COL_ECLOSED;
	if (verb >= VERB_MAX)
		return COL_EINVAL;
	struct inbound *ib = inbound_find(m, via);
	if (!ib || !ib->handshaken || net_conn_closing(ib->c))
		return COL_ECLOSED; /* the requester's connection is gone: so is its request */
	memset(o, 0, sizeof(*o));
	o->m = m;
	o->conn = ib->c;
	o->verb = verb;
	o->flags = flags;
	size_t mark0;
	o->b = net_conn_wbuf(ib->c, &mark0);
	o->mark = msg_frame_begin(o->b, verb, id);
	return COL_OK;
}

int messaging_begin_request(struct messaging *m, const struct net_addr *to, unsigned verb,
                            unsigned timeout_ms, messaging_rsp_fn cb, void *ctx, struct msg_out *o)
{
	if (m->closing)
		return COL_ECLOSED;
	struct req *q;
	int rc = req_reserve(m, &q);

	if (rc != COL_OK)
		return rc;
	rc = begin(m, to, verb, q->id, m->cfg.no_listen ? MSG_F_REPLY_HERE : 0, o);
	if (rc != COL_OK) {
		req_release(m, q);
		return rc;
	}
	q->cb = cb;
	q->ctx = ctx;
	q->verb = verb;

	ev_timer_set(&q->timer, timeout_ms / 1000.0, 0.);
	o->req = q;
	return COL_OK;
}

int messaging_begin_response(struct messaging *m, const struct msg_in *req, unsigned verb,
                             struct msg_out *o)
{
	if (req->id == 0 || (req->flags & MSG_F_RESPONSE) || !req->from)
		return COL_EINVAL;
	if (req->flags & MSG_F_REPLY_HERE)
		return begin_via(m, req->via, verb, req->id, MSG_F_RESPONSE, o);
	return begin(m, req->from, verb, req->id, MSG_F_RESPONSE, o);
}

void messaging_abort(struct msg_out *o)
{
	if (o->b) {
		o->b->len = o->mark;
		o->b->oom = false;
	}
	if (o->req)
		req_release(o->m, o->req);
	o->b = NULL;
	o->req = NULL;
}

int messaging_commit(struct msg_out *o)
{
	struct messaging *m = o->m;
	struct messaging_peer *p = o->peer;
	int rc = msg_frame_end(&m->codec, o->b, o->mark, o->flags);
	if (o->conn) {
		if (rc == COL_OK)
			rc = net_conn_wcommit(o->conn, o->mark);
		if (rc == COL_OK) {
			m->st.msgs_out++;
			m->vst[o->verb].out++;
		} else if (rc == COL_EFULL) {
			m->st.dropped++;
			m->vst[o->verb].dropped++;
		}
		o->b = NULL;
		return rc;
	}
	if (rc == COL_OK) {
		if (o->b == &p->pending) {
			if (p->pending.len > m->cfg.pending_bytes) {
				p->pending.len = o->mark;
				rc = COL_EFULL;
			} else {
				p->pending_msgs++;
			}
		} else {
			rc = net_conn_wcommit(p->conn, o->mark);
		}
	}
	if (rc != COL_OK) {
		if (rc == COL_EFULL) {
			p->dropped++;
			m->st.dropped++;
			m->vst[o->verb].dropped++;
		}
		if (o->req)
			req_release(m, o->req);
		o->b = NULL;
		o->req = NULL;
		return rc;
	}
	if (o->b->data[o->mark + 4] & MSG_F_ZSTD)
		m->st.compressed_out++;
	if (o->req) {
		struct req *q = o->req;
		q->armed = true;
		m->st.requests_pending++;
		ev_timer_start(m->loop, &q->timer);
	}
	p->sent++;
	m->st.msgs_out++;
	m->vst[o->verb].out++;
	o->b = NULL;
	o->req = NULL;
	return COL_OK;
}

int messaging_send(struct messaging *m, const struct net_addr *to, unsigned verb,
                   const void *payload, size_t len)
{
	struct msg_out o;
	int rc = messaging_begin_oneway(m, to, verb, &o);
	if (rc != COL_OK)
		return rc;
	buf_put(o.b, payload, len);
	return messaging_commit(&o);
}

int messaging_respond_failure(struct messaging *m, const struct msg_in *req, int code,
                              const char *message)
{
	if (req->id == 0 || (req->flags & MSG_F_RESPONSE) || !req->from)
		return COL_EINVAL;
	struct msg_out o;
	int rc = (req->flags & MSG_F_REPLY_HERE) ? begin_via(m, req->via, req->verb, req->id,
	                                                     MSG_F_RESPONSE | MSG_F_FAILURE, &o)
	                                         : begin(m, req->from, req->verb, req->id,
	                                                 MSG_F_RESPONSE | MSG_F_FAILURE, &o);
	if (rc != COL_OK)
		return rc;
	msgpk_put_array(o.b, 2);
	msgpk_put_int(o.b, code);
	msgpk_put_cstr(o.b, message ? message : col_strerror(code));
	return messaging_commit(&o);
}

int messaging_failure_text(const struct msg_in *rsp, int *code, char *msg, size_t len)
{
	struct bufreader r;
	bufreader_init(&r, rsp->payload, rsp->payload_len);
	int64_t c;
	const uint8_t *p;
	uint32_t n;
	if (msgpk_expect_array(&r, 2) != COL_OK || msgpk_read_int(&r, &c) != COL_OK ||
	    msgpk_read_str(&r, &p, &n) != COL_OK)
		return COL_ECORRUPT;
	*code = (c < COL_ERR_MIN_ || c >= 0) ? COL_EIO : (int)c;
	if (len) {
		size_t k = n < len - 1 ? n : len - 1;
		memcpy(msg, p, k);
		msg[k] = 0;
	}
	return COL_OK;
}

void messaging_forget_peer(struct messaging *m, const struct net_addr *addr)
{
	struct messaging_peer **pp = &m->peers;
	while (*pp && !net_addr_equal(&(*pp)->addr, addr))
		pp = &(*pp)->next;
	if (!*pp)
		return;
	struct messaging_peer *p = *pp;
	*pp = p->next;
	m->st.dropped += p->pending_msgs;
	peer_free(p);
}

/* ---- incoming -------------------------------------------------------------------------------- */

static void deliver_response(struct messaging *m, const struct msg_in *msg)
{
	struct req *q = req_find(m, msg->id);
	if (!q) {
		m->st.late_responses++;
		return;
	}
	messaging_rsp_fn cb = q->cb;
	void *ctx = q->ctx;
	req_release(m, q);
	int status = COL_OK;
	if (msg->flags & MSG_F_FAILURE) {
		char why[8];
		if (messaging_failure_text(msg, &status, why, sizeof(why)) != COL_OK)
			status = COL_EIO;
	}
	cb(ctx, status, msg);
}

/* A hello's proof of the secret: HANDSHAKE_OK, or HANDSHAKE_UNAUTHENTICATED and why. */
static unsigned in_check_proof(struct messaging *m, const struct msg_handshake *h, const char *peer,
                               const char *lhost, char *reason, size_t cap)
{
	struct cerr e = {0};
	if (!h->has_proof)
		cerr_set(&e, COL_EPROTO, "it did not prove the cluster secret");
	else if (!iauth_check(m->secret, m->secret_len, h->fields, h->fields_len, NULL, &h->proof))
		cerr_set(&e, COL_EPROTO, "its proof of the cluster secret is wrong");
	else if (iauth_seen_admit(m->seen, &h->proof, (uint64_t)(clock_wall_us() / 1000), &e) == 0)
		return HANDSHAKE_OK;
	snprintf(reason, cap,
	         "node %.64s (listen address %.80s) is not authenticated at %.64s: %.160s "
	         "(internode_authenticator_secret)",
	         peer, lhost, m->listen_str, e.msg);
	return HANDSHAKE_UNAUTHENTICATED;
}

static int in_handshake(struct messaging *m, struct inbound *ib, const struct msg_in *msg)
{
	const char *peer = net_conn_peer_str(ib->c);
	struct msg_handshake h;
	struct cerr e = {0};
	if (msg->verb != VERB_HANDSHAKE || (msg->flags & MSG_F_RESPONSE)) {
		char vs[16];
		log_warn(MOD,
		         "internode connection from %s: expected a handshake first, got %s; "
		         "closing",
		         peer, messaging_verb_name(m, msg->verb, vs, sizeof(vs)));
		return COL_EPROTO;
	}
	if (msg_handshake_decode(msg->payload, msg->payload_len, &h, &e) != COL_OK) {
		log_warn(MOD, "internode connection from %s: %s; closing", peer, e.msg);
		return COL_EPROTO;
	}
	char lhost[80];
	snprintf(lhost, sizeof(lhost), "%s:%u", h.listen_host, (unsigned)h.listen_port);
	unsigned status = HANDSHAKE_OK;
	char reason[CERR_MSG_MAX];
	reason[0] = 0;
	if (h.cluster_len != strlen(m->cluster) || memcmp(h.cluster, m->cluster, h.cluster_len)) {
		status = HANDSHAKE_WRONG_CLUSTER;
		snprintf(
		        reason, sizeof(reason),
		        "node %s (listen address %s) belongs to cluster '%.*s', %s is cluster '%s'",
		        peer, lhost, (int)(h.cluster_len > 200 ? 200 : h.cluster_len),
		        (const char *)h.cluster, m->listen_str, m->cluster);
	} else if (h.version != MESSAGING_VERSION) {
		status = HANDSHAKE_WRONG_VERSION;
		snprintf(reason, sizeof(reason),
		         "node %s (listen address %s) speaks messaging version %llu, %s speaks %d",
		         peer, lhost, (unsigned long long)h.version, m->listen_str,
		         MESSAGING_VERSION);
	} else if (net_addr_parse(h.listen_host, h.listen_port, &ib->from, &e) != COL_OK) {
		log_warn(MOD,
		         "internode connection from %s: bad listen address in handshake: %s; "
		         "closing",
		         peer, e.msg);
		return COL_EPROTO;
	}
	if (status == HANDSHAKE_OK && m->secret)
		status = in_check_proof(m, &h, peer, lhost, reason, sizeof(reason));
	if (status == HANDSHAKE_OK && m->tls_server && !net_conn_is_tls(ib->c) &&
	    m->cfg.plaintext_from && !m->cfg.plaintext_from(m->cfg.tls_policy_ctx, &ib->from)) {
		status = HANDSHAKE_NEEDS_TLS;
		snprintf(reason, sizeof(reason),
		         "node %s (listen address %s) connected to %s in plaintext, but must use "
		         "TLS "
		         "(server_encryption_options.internode_encryption)",
		         peer, lhost, m->listen_str);
	}
	if (status == HANDSHAKE_OK && host_id_equal(&h.host_id, &m->cfg.host_id) &&
	    !messaging_is_own_addr(m, &ib->from)) {
		char hs[HOST_ID_STRLEN];
		host_id_format(&h.host_id, hs);
		status = HANDSHAKE_SAME_HOST_ID;
		snprintf(reason, sizeof(reason),
		         "node %s (listen address %s) uses host id %s, which is the host id of %s: "
		         "was a data directory copied?",
		         peer, lhost, hs, m->listen_str);
	}
	/* Answer in every case: the other side logs why it was refused. */

	size_t mark0;
	struct buf *b = net_conn_wbuf(ib->c, &mark0);
	size_t mark = msg_frame_begin(b, VERB_HANDSHAKE, 0);
	uint8_t nonce[IAUTH_NONCE_LEN];
	if (m->secret && status == HANDSHAKE_OK && iauth_random(nonce, sizeof(nonce)) == 0)
		msg_handshake_encode_proved(b, m->cluster, &m->cfg.host_id, &m->cfg.broadcast,
		                            status, reason, m->secret, m->secret_len,
		                            (uint64_t)(clock_wall_us() / 1000), nonce,
		                            h.proof.nonce);
	else
		msg_handshake_encode(b, m->cluster, &m->cfg.host_id, &m->cfg.broadcast, status,
		                     reason);
	/* The handshake answer carries RESPONSE; its id 0 is allowed only for this verb. */
	if (msg_frame_end(&m->codec, b, mark, MSG_F_RESPONSE) == COL_OK)
		(void)net_conn_wcommit(ib->c, mark0);
	if (status != HANDSHAKE_OK) {
		log_error(MOD, "refusing internode connection: %s", reason);
		m->st.refused_handshakes++;
		net_conn_close_after_flush(ib->c);
		return 0;
	}
	ib->host = h.host_id;
	ib->handshaken = true;
	return 0;
}

static int in_on_frame(struct net_conn *c, const uint8_t *frame, size_t len)
{
	struct inbound *ib = net_conn_ctx(c);
	if (!ib)
		return COL_ECLOSED;
	struct messaging *m = ib->m;
	struct msg_in msg;
	struct cerr e = {0};
	if (msg_decode(&m->codec, frame, len, &msg, &e) != COL_OK) {
		log_warn(MOD, "internode connection from %s: %s; closing", net_conn_peer_str(c),
		         e.msg);
		m->st.bad_frames++;
		return COL_EPROTO;
	}
	if (!ib->handshaken) {
		int rc = in_handshake(m, ib, &msg);
		if (rc < 0)
			m->st.bad_frames++;
		return rc;
	}
	m->st.msgs_in++;
	m->vst[msg.verb].in++;
	msg.from = &ib->from;
	msg.from_host = &ib->host;
	msg.age_us = net_conn_input_age_us(c);
	if (msg.flags & MSG_F_REPLY_HERE)
		msg.via = ib->serial;
	if (msg.flags & MSG_F_RESPONSE) {
		if (msg.verb == VERB_HANDSHAKE) {
			log_warn(MOD,
			         "internode connection from %s: handshake answer on an incoming "
			         "connection; closing",
			         net_conn_peer_str(c));
			m->st.bad_frames++;
			return COL_EPROTO;
		}
		deliver_response(m, &msg);
		return 0;
	}
	struct handler *h = &m->handlers[msg.verb];
	char vs[16];
	if (!h->fn || msg.verb == VERB_HANDSHAKE) {
		log_debug(MOD, "no handler for %s from %s",
		          messaging_verb_name(m, msg.verb, vs, sizeof(vs)), net_conn_peer_str(c));
		if (msg.id != 0)
			(void)messaging_respond_failure(m, &msg, COL_EUNSUPPORTED,
			                                "no handler for this verb");
		return 0;
	}
	int rc = h->fn(m, &msg, h->ctx);
	if (rc < 0) {
		log_warn(MOD, "malformed %s from %s: %s; closing the connection",
		         messaging_verb_name(m, msg.verb, vs, sizeof(vs)), net_conn_peer_str(c),
		         col_strerror(rc));
		m->st.bad_frames++;
		return rc;
	}
	return 0;
}

static void in_on_close(struct net_conn *c, int reason, const char *why)
{
	struct inbound *ib = net_conn_ctx(c);
	if (!ib)
		return;
	struct messaging *m = ib->m;
	size_t unread = net_conn_unread(c);
	if (reason == COL_ECLOSED && unread > 0) {
		/* A peer that hangs up inside a frame sent a truncated one. */
		log_warn(MOD,
		         "internode connection from %s closed inside a frame (%zu bytes of it "
		         "received); dropped",
		         net_conn_peer_str(c), unread);
		m->st.bad_frames++;
	} else {
		log_debug(MOD, "incoming connection closed: %s", why);
	}

	if (ib->prev)
		ib->prev->next = ib->next;
	else
		m->inbound = ib->next;
	if (ib->next)
		ib->next->prev = ib->prev;
	free(ib);
}

static void in_on_oversized(struct net_conn *c, const uint8_t *head, size_t head_len,
                            size_t frame_len)
{
	(void)head;
	(void)head_len;
	struct inbound *ib = net_conn_ctx(c);
	if (!ib)
		return;
	log_warn(MOD,
	         "internode connection from %s: frame of %zu bytes is over the limit of %zu; "
	         "closing",
	         net_conn_peer_str(c), frame_len, ib->m->cfg.max_message + FRAME_HDR);
	ib->m->st.bad_frames++;
}

static const struct net_conn_ops IN_OPS = {
        .frame_len = net_framer_u32be,
        .on_frame = in_on_frame,
        .on_oversized = in_on_oversized,
        .on_close = in_on_close,
};

static int in_on_accept(struct net_server *s, struct net_conn *c, void *ctx)
{
	(void)s;
	struct messaging *m = ctx;
	struct inbound *ib = calloc(1, sizeof(*ib));
	if (!ib)
		return COL_ENOMEM;
	ib->m = m;
	ib->c = c;
	ib->serial = ++m->conn_seq;
	ib->next = m->inbound;
	if (m->inbound)
		m->inbound->prev = ib;
	m->inbound = ib;
	net_conn_set_ctx(c, ib);
	return 0;
}

/* ---- life ------------------------------------------------------------------------------------ */

int messaging_new(struct net_loop *nl, const struct messaging_config *cfg, struct messaging **out,
                  struct cerr *err)
{
	if (!cfg->cluster_name || !*cfg->cluster_name)
		return cerr_set(err, COL_EINVAL, "messaging: cluster name is empty");
	if (host_id_is_zero(&cfg->host_id))
		return cerr_set(err, COL_EINVAL, "messaging: host id is not set");
	struct messaging *m = calloc(1, sizeof(*m));
	if (!m)
		return cerr_set(err, COL_ENOMEM, "messaging: out of memory");
	m->nl = nl;
	m->loop = net_loop_ev(nl);
	m->cfg = *cfg;
	struct messaging_config *c = &m->cfg;
	if (!c->max_message)
		c->max_message = DEF_MAX_MESSAGE;
	if (!c->peer_queue_bytes)
		c->peer_queue_bytes = DEF_PEER_QUEUE;
	if (!c->pending_bytes)
		c->pending_bytes = DEF_PENDING_BYTES;
	if (!c->pending_msgs)
		c->pending_msgs = DEF_PENDING_MSGS;
	if (!c->max_requests)
		c->max_requests = DEF_MAX_REQUESTS;
	if (c->max_requests > REQ_IDX_MASK)
		c->max_requests = REQ_IDX_MASK;
	if (!c->reconnect_min_ms)
		c->reconnect_min_ms = DEF_RECONNECT_MIN_MS;
	if (!c->reconnect_max_ms)
		c->reconnect_max_ms = DEF_RECONNECT_MAX_MS;
	if (c->reconnect_max_ms < c->reconnect_min_ms)
		c->reconnect_max_ms = c->reconnect_min_ms;
	if (!c->connect_timeout_ms)
		c->connect_timeout_ms = DEF_CONNECT_TIMEOUT_MS;
	if (!c->max_inbound)
		c->max_inbound = DEF_MAX_INBOUND;
	if (!c->tcp_user_timeout_ms)
		c->tcp_user_timeout_ms = DEF_TCP_USER_TIMEOUT_MS;
	m->cluster = strdup(cfg->cluster_name);
	c->cluster_name = m->cluster;
	if (cfg->secret) {
		if (cfg->secret_len < IAUTH_MIN_SECRET) {
			messaging_free(m);
			return cerr_set(
			        err, COL_EINVAL,
			        "messaging: the internode secret has %zu bytes; at least %d "
			        "are needed",
			        cfg->secret_len, IAUTH_MIN_SECRET);
		}
		m->secret = malloc(cfg->secret_len);
		m->seen = malloc(sizeof(*m->seen));
		if (!m->secret || !m->seen) {
			messaging_free(m);
			return cerr_set(err, COL_ENOMEM, "messaging: out of memory");
		}
		memcpy(m->secret, cfg->secret, cfg->secret_len);
		m->secret_len = cfg->secret_len;
		c->secret = NULL;
		iauth_seen_init(m->seen, (uint64_t)(clock_wall_us() / 1000));
	}
	net_addr_format(&c->listen, m->listen_str, sizeof(m->listen_str));
	if (!m->cluster || msg_codec_init(&m->codec, c->max_message, c->compress_threshold)) {
		messaging_free(m);
		return cerr_set(err, COL_ENOMEM, "messaging: out of memory");
	}
	struct net_server_opts so = {
	        .conn = {.max_frame = c->max_message + FRAME_HDR,
	                 /* out: the handshake answer, and the answers to REPLY_HERE requests */
	                 .out_high = c->peer_queue_bytes,
	                 .out_cap = c->peer_queue_bytes,
	                 .user_timeout_ms = c->tcp_user_timeout_ms,
	                 /* msg_in.age_us: how long a request waited before we read it */
	                 .rx_timestamps = true},

	        .max_conns = c->max_inbound,
	};
	int rc = c->no_listen ? COL_OK
	                      : net_server_new(nl, &c->listen, &so, &IN_OPS, in_on_accept, m,
	                                       &m->srv, err);
	if (rc != COL_OK) {
		messaging_free(m);
		return rc;
	}
	messaging_set_tls(m, c->tls_server, c->tls_client);
	c->tls_server = c->tls_client = NULL; /* held in m */
	/* The bound address (a test may ask for port 0). */
	if (m->srv)
		c->listen = *net_server_addr(m->srv);
	net_addr_format(&c->listen, m->listen_str, sizeof(m->listen_str));
	if (c->broadcast.len == 0)
		c->broadcast = c->listen;
	else if (net_addr_port(&c->broadcast) == 0)
		net_addr_set_port(&c->broadcast, net_addr_port(&c->listen));
	*out = m;
	return COL_OK;
}

void messaging_set_tls(struct messaging *m, struct tls_ctx *server, struct tls_ctx *client)
{
	if (server)
		tls_ctx_ref(server);
	if (client)
		tls_ctx_ref(client);
	tls_ctx_unref(m->tls_server);
	tls_ctx_unref(m->tls_client);
	m->tls_server = server;
	m->tls_client = client;
	enum net_tls_mode mode = !server               ? NET_TLS_OFF
	                         : m->cfg.tls_optional ? NET_TLS_OPTIONAL
	                                               : NET_TLS_REQUIRED;
	if (m->srv)
		net_server_set_tls(m->srv, server, mode);
}

void messaging_free(struct messaging *m)
{
	if (!m)
		return;
	m->closing = true;
	for (uint32_t i = 0; i < m->nreqs; i++) {

		struct req *q = m->reqs[i];
		if (q->armed) {
			ev_timer_stop(m->loop, &q->timer);
			q->armed = false;
			q->id = 0;
			q->cb(q->ctx, COL_ECLOSED, NULL);
		}
	}
	for (uint32_t i = 0; i < m->nreqs; i++)
		free(m->reqs[i]);
	free(m->reqs);
	while (m->peers) {
		struct messaging_peer *p = m->peers;
		m->peers = p->next;
		peer_free(p);
	}
	while (m->inbound) {
		struct inbound *ib = m->inbound;
		m->inbound = ib->next;
		net_conn_set_ctx(ib->c, NULL);
		net_conn_close(ib->c, 0, "messaging stopped");
		free(ib);
	}
	if (m->srv)
		net_server_free(m->srv);
	tls_ctx_unref(m->tls_server);
	tls_ctx_unref(m->tls_client);
	msg_codec_release(&m->codec);
	free(m->cluster);
	if (m->secret)
		explicit_bzero(m->secret, m->secret_len);
	free(m->secret);
	free(m->seen);
	free(m);
}

void messaging_register(struct messaging *m, unsigned verb, messaging_handler_fn fn, void *ctx)
{
	if (verb >= VERB_MAX || verb == VERB_HANDSHAKE)
		return;
	m->handlers[verb].fn = fn;
	m->handlers[verb].ctx = ctx;
}

int messaging_register_verbs(struct messaging *m, const struct messaging_verb *table, size_t n,
                             void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		const struct messaging_verb *v = &table[i];
		if (v->verb < VERB_REGISTERED_MIN || v->verb >= VERB_MAX || !v->name) {
			log_error(MOD, "verb %u (%s) is outside %d..%d or has no name", v->verb,
			          v->name ? v->name : "unnamed", VERB_REGISTERED_MIN, VERB_MAX - 1);
			return COL_EINVAL;
		}
		const char *had = m->handlers[v->verb].name;
		if (had && strcmp(had, v->name) != 0) {
			log_error(MOD, "verb %u is registered as %s; refusing it as %s", v->verb,
			          had, v->name);
			return COL_EEXIST;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct handler *h = &m->handlers[table[i].verb];
		h->name = table[i].name;
		if (table[i].fn) {
			h->fn = table[i].fn;
			h->ctx = ctx;
		}
	}
	return COL_OK;
}

void messaging_unregister_verbs(struct messaging *m, const struct messaging_verb *table, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (table[i].verb >= VERB_MAX || !table[i].fn)
			continue;
		struct handler *h = &m->handlers[table[i].verb];
		if (h->fn == table[i].fn) {
			h->fn = NULL;
			h->ctx = NULL;
		}
	}
}

const char *messaging_verb_name(const struct messaging *m, unsigned verb, char *scratch, size_t len)
{
	static const char *const own[VERB_REGISTERED_MIN] = {
	        [VERB_HANDSHAKE] = "HANDSHAKE",
	        [VERB_GOSSIP_SYN] = "GOSSIP_SYN",
	        [VERB_GOSSIP_ACK] = "GOSSIP_ACK",
	        [VERB_GOSSIP_ACK2] = "GOSSIP_ACK2",
	        [VERB_GOSSIP_SHUTDOWN] = "GOSSIP_SHUTDOWN",
	        [VERB_ECHO] = "ECHO",
	        [VERB_ECHO_RSP] = "ECHO_RSP",
	};
	const char *name = NULL;
	if (verb < VERB_REGISTERED_MIN)
		name = own[verb];
	else if (verb < VERB_MAX && m)
		name = m->handlers[verb].name;
	if (name)
		return name;
	snprintf(scratch, len, "verb %u", verb);
	return scratch;
}

const struct net_addr *messaging_listen_addr(const struct messaging *m)
{
	return &m->cfg.listen;
}
const struct net_addr *messaging_broadcast_addr(const struct messaging *m)
{
	return &m->cfg.broadcast;
}

bool messaging_is_own_addr(const struct messaging *m, const struct net_addr *a)
{
	return net_addr_equal(a, &m->cfg.listen) || net_addr_equal(a, &m->cfg.broadcast);
}

const struct host_id *messaging_host_id(const struct messaging *m)
{
	return &m->cfg.host_id;
}
const char *messaging_cluster_name(const struct messaging *m)
{
	return m->cluster;
}
struct ev_loop *messaging_ev(const struct messaging *m)
{
	return m->loop;
}

static void peer_stats(const struct messaging_peer *p, struct messaging_peer_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->state = p->state;
	out->host_known = p->host_known;
	out->host_id = p->host;
	out->queued_bytes = p->pending.len + (p->conn ? net_conn_queued(p->conn) : 0);
	out->pending_msgs = p->pending_msgs;
	out->sent_msgs = p->sent;
	out->dropped_msgs = p->dropped;
	out->connects = p->connects;
	out->connect_failures = p->connect_failures;
	out->backoff_ms = p->backoff_ms;
}

void messaging_get_stats(const struct messaging *m, struct messaging_stats *out)
{
	*out = m->st;
	out->queued_bytes = 0;
	for (const struct messaging_peer *p = m->peers; p; p = p->next)
		out->queued_bytes += p->pending.len + (p->conn ? net_conn_queued(p->conn) : 0);
}

int messaging_peer_get_stats(const struct messaging *m, const struct net_addr *addr,
                             struct messaging_peer_stats *out)
{
	const struct messaging_peer *p = peer_find(m, addr);
	if (!p)
		return COL_ENOTFOUND;
	peer_stats(p, out);
	return COL_OK;
}

void messaging_foreach_peer(const struct messaging *m,
                            void (*fn)(void *ctx, const struct net_addr *addr,
                                       const struct messaging_peer_stats *st),
                            void *ctx)
{
	for (const struct messaging_peer *p = m->peers; p; p = p->next) {
		struct messaging_peer_stats st;
		peer_stats(p, &st);
		fn(ctx, &p->addr, &st);
	}
}

void messaging_reset_peer(struct messaging *m, const struct net_addr *addr)
{
	struct messaging_peer *p = peer_find(m, addr);
	if (!p || !p->conn)
		return;
	struct net_conn *c = p->conn;
	/* Detach first: this close is not a failed attempt and earns no backoff. */
	net_conn_set_ctx(c, NULL);
	p->conn = NULL;
	p->state = PEER_IDLE;
	net_conn_close(c, 0, "reset: the peer was convicted");
	if (p->pending_msgs > 0 && !ev_is_active(&p->backoff))
		peer_connect(p);
}

void messaging_get_verb_stats(const struct messaging *m, unsigned verb,
                              struct messaging_verb_stats *out)
{
	if (verb >= VERB_MAX) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = m->vst[verb];
}
