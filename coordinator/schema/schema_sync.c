#include "coordinator/schema/schema_sync.h"

#include "coordinator/schema/schema.h"
#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/msgpk.h"
#include "gossip/gossiper.h"
#include "gossip/messaging.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "schema"

#define TICK_S 0.05 /* waiters' timeouts and peers' versions are checked this often */

struct peer {
	struct host_id host;
	bool in_flight;
	int64_t last_pull_ms;
	int64_t differs_since_ms; /* 0: gossips our version (or unknown) */
};

struct waiter {
	schema_sync_wait_fn cb;
	void *ctx;
	int64_t start_ms, deadline_ms;
	struct waiter *next;
};

struct pull {
	struct schema_sync *ss;
	struct host_id host;
	char addr[NET_ADDR_STRLEN];
};

struct schema_sync {
	struct schema_sync_config cfg;
	struct ev_loop *loop;
	ev_timer tick;
	bool merging; /* a change now comes from a peer: no push */
	bool stopped;
	struct peer *peers;
	size_t n_peers;
	struct waiter *waiters, **waiters_tail;
	unsigned n_waiters;
	struct schema_sync_stats st;
};

/* ---- codec -------------------------------------------------------------------------------- */

struct enc {
	struct buf *b;
	uint32_t n;
};

static void count_row(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	(void)k, (void)kl, (void)v, (void)vl;
	((struct enc *)ctx)->n++;
}

static void put_row(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct enc *e = ctx;
	msgpk_put_array(e->b, 2);
	msgpk_put_bin(e->b, k, kl);
	msgpk_put_bin(e->b, v, vl);
}

void schema_sync_encode_rowset(struct schema *s, struct buf *b)
{
	struct enc e = {.b = b};
	schema_rows(s, count_row, &e);
	msgpk_put_array(b, 3);
	msgpk_put_uint(b, SCHEMA_SYNC_FORMAT);
	msgpk_put_bin(b, schema_current(s)->version, 16);
	msgpk_put_array(b, e.n);
	schema_rows(s, put_row, &e);
}

int schema_sync_decode_rowset(const uint8_t *payload, size_t len, uint8_t version[16],
                              struct schema_row_ref **rows, size_t *n, struct cerr *err)
{
	*rows = NULL;
	*n = 0;
	struct bufreader r;
	bufreader_init(&r, payload, len);
	uint32_t na = 0, nrows = 0;
	uint64_t fmt = 0;
	if (msgpk_read_array(&r, &na) || na < 1 || msgpk_read_uint(&r, &fmt))
		return cerr_set(err, COL_ECORRUPT, "schema rowset: not [format, version, rows]");
	if (fmt != SCHEMA_SYNC_FORMAT)
		return cerr_set(err, COL_EPROTO, "schema rowset: format %llu, this node reads %d",
		                (unsigned long long)fmt, SCHEMA_SYNC_FORMAT);
	const uint8_t *v;
	uint32_t vl;
	if (na != 3 || msgpk_read_bin(&r, &v, &vl) || vl != 16 || msgpk_read_array(&r, &nrows))
		return cerr_set(err, COL_ECORRUPT, "schema rowset: not [format, version, rows]");
	if (nrows > SCHEMA_SYNC_MAX_ROWS)
		return cerr_set(err, COL_ETOOBIG, "schema rowset: %u rows, the limit is %u", nrows,
		                SCHEMA_SYNC_MAX_ROWS);
	/* Each row takes at least 3 bytes: a count beyond the payload is a lie. */
	if ((size_t)nrows > bufreader_left(&r) / 3)
		return cerr_set(err, COL_ECORRUPT, "schema rowset: %u rows cannot fit in %zu bytes",
		                nrows, bufreader_left(&r));
	memcpy(version, v, 16);
	struct schema_row_ref *out = calloc(nrows ? nrows : 1, sizeof(*out));
	if (!out)
		return cerr_set(err, COL_ENOMEM, "schema rowset: out of memory");
	for (uint32_t i = 0; i < nrows; i++) {
		const uint8_t *k, *val;
		uint32_t kl, vlen;
		if (msgpk_expect_array(&r, 2) || msgpk_read_bin(&r, &k, &kl) ||
		    msgpk_read_bin(&r, &val, &vlen)) {
			free(out);
			return cerr_set(err, COL_ECORRUPT,
			                "schema rowset: row %u is not [key, value]", i + 1);
		}
		out[i] = (struct schema_row_ref){
		        .key = (const char *)k, .klen = kl, .val = val, .vlen = vlen};
	}
	if (bufreader_left(&r) != 0) {
		free(out);
		return cerr_set(err, COL_ECORRUPT, "schema rowset: %zu trailing bytes",
		                bufreader_left(&r));
	}
	*rows = out;
	*n = nrows;
	return 0;
}

int schema_sync_apply_rowset(struct schema *s, const uint8_t *payload, size_t len, size_t *applied,
                             struct cerr *err)
{
	uint8_t version[16];
	struct schema_row_ref *rows;
	size_t n;
	*applied = 0;
	int rc = schema_sync_decode_rowset(payload, len, version, &rows, &n, err);
	if (rc)
		return rc;
	/* The sender's version is the hash of its rows: rows that do not hash to it
	 * were damaged or made up. */
	uint8_t mine[16];
	schema_rows_version(rows, n, mine);
	if (memcmp(mine, version, 16) != 0) {
		char a[40], b[40];
		uuid_format(version, a);
		uuid_format(mine, b);
		free(rows);
		return cerr_set(err, COL_ECORRUPT,
		                "schema rowset claims version %s but its %zu rows are version %s",
		                a, n, b);
	}
	rc = schema_merge_rows(s, rows, n, applied, err);
	free(rows);
	return rc;
}

/* ---- versions and agreement --------------------------------------------------------------- */

static void our_version(const struct schema_sync *ss, char v[40])
{
	uuid_format(schema_current(ss->cfg.schema)->version, v);
}

/* The peer is live and gossips a version other than ours (false when it gossips none yet). */
static bool peer_differs(const struct gossip_endpoint *ep, const char *ours)
{
	if (gossip_endpoint_is_self(ep) || !gossip_endpoint_is_alive(ep))
		return false;
	size_t len = 0;
	const uint8_t *v = gossip_endpoint_app(ep, APP_SCHEMA, &len, NULL);
	if (!v)
		return false;
	return len != strlen(ours) || memcmp(v, ours, len) != 0;
}

struct agree_scan {
	char ours[40];
	unsigned differ;
	char *first;
	size_t len;
};

static void agree_one(void *ctx, const struct gossip_endpoint *ep)
{
	struct agree_scan *a = ctx;
	bool differs = peer_differs(ep, a->ours);
	/* A live peer that gossips no version yet has not agreed either. */
	if (!differs && !gossip_endpoint_is_self(ep) && gossip_endpoint_is_alive(ep) &&
	    !gossip_endpoint_app(ep, APP_SCHEMA, NULL, NULL))
		differs = true;
	if (!differs)
		return;
	if (a->differ++ == 0 && a->first)
		snprintf(a->first, a->len, "%s", gossip_endpoint_host(ep));
}

unsigned schema_sync_disagreeing(const struct schema_sync *ss, char *first, size_t len)
{
	struct agree_scan a = {.first = first, .len = len};
	our_version(ss, a.ours);
	if (first && len)
		first[0] = 0;
	gossiper_foreach(ss->cfg.gossiper, agree_one, &a);
	return a.differ;
}

bool schema_sync_agreed(const struct schema_sync *ss)
{
	return schema_sync_disagreeing(ss, NULL, 0) == 0;
}

/* Answer the waiters whose time came (or all of them when agreed / stopping). */
static void check_waiters(struct schema_sync *ss)
{
	if (!ss->waiters)
		return;
	bool agreed = !ss->stopped && schema_sync_agreed(ss);
	int64_t now = clock_mono_ms();
	struct waiter **pp = &ss->waiters;
	struct waiter *done = NULL, **done_tail = &done;
	while (*pp) {
		struct waiter *w = *pp;
		if (agreed || ss->stopped || now >= w->deadline_ms) {
			*pp = w->next;
			w->next = NULL;
			*done_tail = w;
			done_tail = &w->next;
			ss->n_waiters--;
		} else {
			pp = &w->next;
		}
	}
	ss->waiters_tail = pp;
	/* Callbacks after the list is consistent: they may start new waits. */
	while (done) {
		struct waiter *w = done;
		done = w->next;
		if (!agreed)
			ss->st.wait_timeouts++;
		w->cb(w->ctx, agreed, (unsigned)(now - w->start_ms));
		free(w);
	}
}

void schema_sync_wait(struct schema_sync *ss, unsigned timeout_ms, schema_sync_wait_fn cb,
                      void *ctx)
{
	ss->st.waits++;
	if (schema_sync_agreed(ss)) {
		cb(ctx, true, 0);
		return;
	}
	if (timeout_ms == 0)
		timeout_ms = ss->cfg.agreement_timeout_ms;
	struct waiter *w = ss->stopped || ss->n_waiters >= SCHEMA_SYNC_MAX_WAITERS
	                           ? NULL
	                           : calloc(1, sizeof(*w));
	if (!w) {
		ss->st.wait_timeouts++;
		cb(ctx, false, 0);
		return;
	}
	w->cb = cb;
	w->ctx = ctx;
	w->start_ms = clock_mono_ms();
	w->deadline_ms = w->start_ms + timeout_ms;
	*ss->waiters_tail = w;
	ss->waiters_tail = &w->next;
	ss->n_waiters++;
}

/* ---- pulls -------------------------------------------------------------------------------- */

static struct peer *peer_find(struct schema_sync *ss, const struct host_id *h)
{
	for (size_t i = 0; i < ss->n_peers; i++)
		if (host_id_equal(&ss->peers[i].host, h))
			return &ss->peers[i];
	return NULL;
}

static struct peer *peer_get(struct schema_sync *ss, const struct host_id *h)
{
	struct peer *p = peer_find(ss, h);
	if (p)
		return p;
	if (ss->n_peers >= SCHEMA_SYNC_MAX_PEERS) {
		/* Full: reuse the record of a node gossip forgot (none of its pulls pending). */
		for (size_t i = 0; i < ss->n_peers && !p; i++)
			if (!ss->peers[i].in_flight &&
			    !gossiper_find(ss->cfg.gossiper, &ss->peers[i].host))
				p = &ss->peers[i];
		if (!p)
			return NULL;
	} else {
		if (!ss->peers) {
			ss->peers = calloc(SCHEMA_SYNC_MAX_PEERS, sizeof(*ss->peers));
			if (!ss->peers)
				return NULL;
		}
		p = &ss->peers[ss->n_peers++];
	}
	memset(p, 0, sizeof(*p));
	p->host = *h;
	p->last_pull_ms = INT64_MIN / 2;
	return p;
}

static void log_refused(struct schema_sync *ss, const char *what, const char *from,
                        const struct cerr *e)
{
	ss->st.refused++;
	log_warn(MOD, "%s from %s refused, local schema unchanged: %s", what, from, e->msg);
}

/* Merge a rowset from `from`; logs and counts. */
static void merge_from(struct schema_sync *ss, const char *what, const char *from,
                       const uint8_t *payload, size_t len)
{
	struct cerr e = {0};
	size_t applied = 0;
	const struct schema_snap *before = schema_snap_ref(ss->cfg.schema);
	ss->merging = true;
	int rc = schema_sync_apply_rowset(ss->cfg.schema, payload, len, &applied, &e);
	ss->merging = false;
	if (applied && ss->cfg.on_merged)
		schema_snap_diff(before, schema_current(ss->cfg.schema), ss->cfg.on_merged,
		                 ss->cfg.merged_ctx);
	schema_snap_unref(ss->cfg.schema, before);
	if (rc) {
		log_refused(ss, what, from, &e);
		return;
	}
	if (applied) {
		ss->st.rows_applied += applied;
		char v[40];
		our_version(ss, v);
		log_info(MOD, "merged %zu schema rows from %s (%s): version %s", applied, from,
		         what, v);
	}
	check_waiters(ss);
}

static void on_pull_rsp(void *ctx, int status, const struct msg_in *rsp)
{
	struct pull *pl = ctx;
	struct schema_sync *ss = pl->ss;
	if (!ss->stopped) {
		struct peer *p = peer_find(ss, &pl->host);
		if (p)
			p->in_flight = false;
		if (status) {
			ss->st.pull_failures++;
			char msg[200] = "";
			int code = 0;
			if (rsp)
				messaging_failure_text(rsp, &code, msg, sizeof(msg));
			log_info(MOD, "schema pull from %s failed: %s%s%s", pl->addr,
			         col_strerror(status), msg[0] ? ": " : "", msg);
		} else {
			merge_from(ss, "schema pull answer", pl->addr, rsp->payload,
			           rsp->payload_len);
		}
	}
	free(pl);
}

static void maybe_pull(struct schema_sync *ss, const struct gossip_endpoint *ep)
{
	if (ss->stopped)
		return;
	char ours[40];
	our_version(ss, ours);
	if (!peer_differs(ep, ours)) {
		struct peer *p = peer_find(ss, gossip_endpoint_host_id(ep));
		if (p)
			p->differs_since_ms = 0;
		return;
	}
	struct peer *p = peer_get(ss, gossip_endpoint_host_id(ep));
	int64_t now = clock_mono_ms();
	if (!p)
		return;
	/* A difference usually ends by itself (a push in flight, the peer merging one):
	 * pull only one that lasted pull_delay_ms.  The scan comes back to it. */
	if (!p->differs_since_ms)
		p->differs_since_ms = now;
	if (now - p->differs_since_ms < (int64_t)ss->cfg.pull_delay_ms || p->in_flight ||
	    now - p->last_pull_ms < (int64_t)ss->cfg.pull_interval_ms)
		return;
	struct pull *pl = calloc(1, sizeof(*pl));
	if (!pl)
		return;
	pl->ss = ss;
	pl->host = p->host;
	snprintf(pl->addr, sizeof(pl->addr), "%s", gossip_endpoint_host(ep));
	struct msg_out o;
	if (messaging_begin_request(ss->cfg.msg, gossip_endpoint_addr(ep), VERB_SCHEMA_PULL,
	                            ss->cfg.pull_timeout_ms, on_pull_rsp, pl, &o)) {
		free(pl);
		return;
	}
	msgpk_put_array(o.b, 2);
	msgpk_put_uint(o.b, SCHEMA_SYNC_FORMAT);
	msgpk_put_bin(o.b, schema_current(ss->cfg.schema)->version, 16);
	if (messaging_commit(&o)) {
		free(pl);
		return;
	}
	p->in_flight = true;
	p->last_pull_ms = now;
	ss->st.pulls_out++;
	log_debug(MOD, "pulling the schema from %s (its version differs from our %s)", pl->addr,
	          ours);
}

static void scan_one(void *ctx, const struct gossip_endpoint *ep)
{
	maybe_pull(ctx, ep);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct schema_sync *ss = w->data;
	gossiper_foreach(ss->cfg.gossiper, scan_one, ss);
	check_waiters(ss);
}

/* ---- verbs -------------------------------------------------------------------------------- */

static void from_text(const struct msg_in *msg, char *out, size_t len)
{
	net_addr_host(msg->from, out, len);
}

static int on_push(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	(void)m;
	struct schema_sync *ss = ctx;
	char from[NET_ADDR_STRLEN];
	from_text(msg, from, sizeof(from));
	ss->st.pushes_in++;
	if (!ss->stopped)
		merge_from(ss, "schema push", from, msg->payload, msg->payload_len);
	return 0;
}

static int on_pull(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	struct schema_sync *ss = ctx;
	char from[NET_ADDR_STRLEN];
	from_text(msg, from, sizeof(from));
	struct bufreader r;
	bufreader_init(&r, msg->payload, msg->payload_len);
	uint32_t na = 0;
	uint64_t fmt = 0;
	const uint8_t *v;
	uint32_t vl;
	if (msgpk_read_array(&r, &na) || na != 2 || msgpk_read_uint(&r, &fmt) ||
	    msgpk_read_bin(&r, &v, &vl) || vl != 16 || bufreader_left(&r) != 0) {
		struct cerr e = {0};
		cerr_set(&e, COL_ECORRUPT, "not [format, version]");
		log_refused(ss, "schema pull", from, &e);
		messaging_respond_failure(m, msg, COL_ECORRUPT,
		                          "SCHEMA_PULL: not [format, version]");
		return 0;
	}
	if (fmt != SCHEMA_SYNC_FORMAT) {
		struct cerr e = {0};
		cerr_set(&e, COL_EPROTO, "format %llu, this node speaks %d",
		         (unsigned long long)fmt, SCHEMA_SYNC_FORMAT);
		log_refused(ss, "schema pull", from, &e);
		messaging_respond_failure(m, msg, COL_EPROTO, e.msg);
		return 0;
	}
	ss->st.pulls_in++;
	struct msg_out o;
	if (messaging_begin_response(m, msg, VERB_SCHEMA_PULL_RSP, &o))
		return 0;
	schema_sync_encode_rowset(ss->cfg.schema, o.b);
	if (messaging_commit(&o))
		log_warn(MOD, "cannot answer the schema pull of %s (queue full or too big)", from);
	return 0;
}

/* ---- pushes ------------------------------------------------------------------------------- */

struct push_ctx {
	struct schema_sync *ss;
	struct buf payload;
	unsigned sent;
};

static void push_one(void *ctx, const struct gossip_endpoint *ep)
{
	struct push_ctx *pc = ctx;
	if (gossip_endpoint_is_self(ep) || !gossip_endpoint_is_alive(ep))
		return;
	int rc = messaging_send(pc->ss->cfg.msg, gossip_endpoint_addr(ep), VERB_SCHEMA_PUSH,
	                        pc->payload.data, pc->payload.len);
	if (rc)
		log_warn(MOD, "schema push to %s not sent (%s); it will pull our version",
		         gossip_endpoint_host(ep), col_strerror(rc));
	else
		pc->sent++;
}

static void on_schema_change(void *ctx, const struct schema_snap *snap)
{
	(void)snap;
	struct schema_sync *ss = ctx;
	if (ss->stopped)
		return;
	if (!ss->merging) {
		struct push_ctx pc = {.ss = ss};
		buf_init(&pc.payload);
		schema_sync_encode_rowset(ss->cfg.schema, &pc.payload);
		if (buf_ok(&pc.payload))
			gossiper_foreach(ss->cfg.gossiper, push_one, &pc);
		else
			log_warn(MOD, "out of memory encoding a schema push; peers will pull");
		ss->st.pushes_out += pc.sent;
		buf_release(&pc.payload);
	}
	check_waiters(ss);
}

/* ---- gossip listener ---------------------------------------------------------------------- */

static void g_alive(void *ctx, const struct gossip_endpoint *ep)
{
	maybe_pull(ctx, ep);
}

static void g_change(void *ctx, const struct gossip_endpoint *ep, enum app_state key,
                     const uint8_t *value, size_t len)
{
	(void)value;
	(void)len;
	struct schema_sync *ss = ctx;
	if (key != APP_SCHEMA)
		return;
	maybe_pull(ss, ep);
	check_waiters(ss);
}

static void g_dead(void *ctx, const struct gossip_endpoint *ep)
{
	(void)ep;
	check_waiters(ctx);
}

/* ---- life --------------------------------------------------------------------------------- */

/* The schema verbs: PUSH and PULL handled here, PULL_RSP reaches on_pull_rsp(). */
static const struct messaging_verb SYNC_VERBS[] = {
        {VERB_SCHEMA_PUSH, "SCHEMA_PUSH", on_push},
        {VERB_SCHEMA_PULL, "SCHEMA_PULL", on_pull},
        {VERB_SCHEMA_PULL_RSP, "SCHEMA_PULL_RSP", NULL},
};
#define SYNC_NVERBS (sizeof(SYNC_VERBS) / sizeof(SYNC_VERBS[0]))

int schema_sync_new(const struct schema_sync_config *cfg, struct schema_sync **out,
                    struct cerr *err)
{
	if (!cfg->msg || !cfg->gossiper || !cfg->schema)
		return cerr_set(err, COL_EINVAL,
		                "schema sync: messaging, gossiper and schema needed");
	struct schema_sync *ss = calloc(1, sizeof(*ss));
	if (!ss)
		return cerr_set(err, COL_ENOMEM, "schema sync: out of memory");
	ss->cfg = *cfg;
	if (!ss->cfg.pull_timeout_ms)
		ss->cfg.pull_timeout_ms = 5000;
	if (!ss->cfg.pull_interval_ms)
		ss->cfg.pull_interval_ms = 500;
	if (!ss->cfg.pull_delay_ms)
		ss->cfg.pull_delay_ms = 1000;
	if (!ss->cfg.agreement_timeout_ms)
		ss->cfg.agreement_timeout_ms = 10000;
	ss->waiters_tail = &ss->waiters;
	ss->loop = messaging_ev(cfg->msg);
	static const struct gossip_listener gl = {
	        .on_join = g_alive,
	        .on_alive = g_alive,
	        .on_dead = g_dead,
	        .on_remove = g_dead,
	        .on_change = g_change,
	};
	int rc = messaging_register_verbs(cfg->msg, SYNC_VERBS, SYNC_NVERBS, ss);
	if (rc) {
		free(ss);
		return cerr_set(err, rc, "schema sync: cannot register the schema verbs");
	}
	rc = gossiper_add_listener(cfg->gossiper, &gl, ss);
	if (!rc)
		rc = schema_add_listener(cfg->schema, on_schema_change, ss);
	if (rc) {
		messaging_unregister_verbs(cfg->msg, SYNC_VERBS, SYNC_NVERBS);
		free(ss);
		return cerr_set(err, rc, "schema sync: cannot register listeners");
	}
	ev_timer_init(&ss->tick, on_tick, TICK_S, TICK_S);
	ss->tick.data = ss;
	ev_timer_start(ss->loop, &ss->tick);
	*out = ss;
	return 0;
}

void schema_sync_stop(struct schema_sync *ss)
{
	if (!ss || ss->stopped)
		return;
	ss->stopped = true;
	ev_timer_stop(ss->loop, &ss->tick);
	messaging_unregister_verbs(ss->cfg.msg, SYNC_VERBS, SYNC_NVERBS);
	check_waiters(ss);
}

void schema_sync_free(struct schema_sync *ss)
{
	if (!ss)
		return;
	schema_sync_stop(ss);
	free(ss->peers);
	free(ss);
}

void schema_sync_get_stats(const struct schema_sync *ss, struct schema_sync_stats *out)
{
	*out = ss->st;
}
