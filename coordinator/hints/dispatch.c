/*
 * dispatch.c — hint delivery (Cassandra's HintsDispatcher) and the HINT verb.
 *
 * A target being served holds one of delivery_targets slots.  Its timer runs
 * one step per loop iteration: read the next hints after next_key (at most
 * HINTS_STEP_BYTES, less when the in-flight window or the throttle allows
 * less), discard the unusable ones, send the rest as HINT requests.  Answers
 * delete their hint.  A failure stalls the target: no more sends, the answers
 * in flight are awaited, then next_key moves back to just before the oldest
 * hint that was not acknowledged and the slot is given up until the next kick
 * (UP, the flush period, resume).
 */
#include "coordinator/hints/hints_int.h"

#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/msgpk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MOD "hints"

/* Unacknowledged hints per target, besides max_in_flight_bytes. */
#define HINTS_MAX_IN_FLIGHT 1024
/* Hints one step reads at most. */
#define HINTS_STEP_MAX 256

struct hsend {
	struct hsend *next_free;
	struct htarget *t;
	uint8_t key[HINTS_KEY_LEN];
	uint32_t value_bytes, raw_bytes;
};

static void pump(struct hints *h, struct htarget *t);

static void schedule(struct hints *h, struct htarget *t, double after_s)
{
	ev_timer_stop(h->loop, &t->timer);
	ev_timer_set(&t->timer, after_s, 0.);
	ev_timer_start(h->loop, &t->timer);
}

/* CPU time of this thread, µs: what a step costs the loop, without the time other
 * processes held the core. */
static int64_t thread_cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_step(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)revents;
	struct htarget *t = w->data;
	int64_t t0 = thread_cpu_us();
	pump(t->h, t);
	uint64_t took = (uint64_t)(thread_cpu_us() - t0);
	if (took > t->h->st.max_step_us)
		t->h->st.max_step_us = took;
}

/* The key just before k among keys of the same length (k - 1 as a big number). */
static void key_pred(uint8_t k[HINTS_KEY_LEN])
{
	for (int i = HINTS_KEY_LEN - 1; i > 0; i--)
		if (k[i]-- != 0)
			return;
}

/* Send rate for one target: throttle / (nodes - 1), bytes per second; 0 = none. */
static double target_rate(struct hints *h)
{
	if (h->cfg.throttle_kib <= 0)
		return 0;
	struct ring *r = h->cfg.ring(h->cfg.ctx);
	size_t n = r ? ring_node_count(r) : 1;
	if (r)
		ring_unref(r);
	return (double)h->cfg.throttle_kib * 1024.0 / (double)(n > 2 ? n - 1 : 1);
}

void hints_dispatch_kick(struct hints *h, struct htarget *t)
{
	if (!t->count || h->paused || t->held)
		return;
	if (t->active)
		return; /* a stalled round re-kicks itself when it has drained */
	if (h->active >= h->cfg.delivery_targets)
		return;
	struct hints_peer p;
	if (h->cfg.peer(h->cfg.ctx, t->host_id, &p) != 0 || !p.alive)
		return;
	t->active = true;
	h->active++;
	t->stalled = false;
	t->addr = p.addr;
	t->bucket = 0;
	t->bucket_us = clock_mono_us();
	char hid[37];
	uuid_format(t->host_id, hid);
	log_info(MOD, "delivering %llu hints to host %s", (unsigned long long)t->count, hid);
	schedule(h, t, 0.);
}

void hints_dispatch_all(struct hints *h)
{
	for (size_t i = 0; i < h->n_t && h->active < h->cfg.delivery_targets; i++)
		hints_dispatch_kick(h, h->t[i]);
}

/* The round is over (drained or done): give the slot back. */
static void finish(struct hints *h, struct htarget *t)
{
	ev_timer_stop(h->loop, &t->timer);
	if (t->has_retry) {
		memcpy(t->next_key, t->retry_key, HINTS_KEY_LEN);
		key_pred(t->next_key);
		t->has_next = true;
		t->has_retry = false;
	}
	bool failed = t->stalled;
	t->held = failed;
	t->active = false;
	t->stalled = false;
	h->active--;
	if (!failed && t->count == 0) {
		char hid[37];
		uuid_format(t->host_id, hid);
		log_info(MOD, "every hint for host %s delivered", hid);
		/* next_key stays: newer hints sort after it, and reading from the
		 * prefix start would walk every delivered (deleted) key first */
	}
	hints_dispatch_all(h);
}

void hints_dispatch_stall(struct hints *h, struct htarget *t)
{
	if (!t->active)
		return;
	t->stalled = true;
	ev_timer_stop(h->loop, &t->timer);
	if (t->in_flight == 0)
		finish(h, t);
}

static void retry_from(struct htarget *t, const uint8_t key[HINTS_KEY_LEN])
{
	if (!t->has_retry || memcmp(key, t->retry_key, HINTS_KEY_LEN) < 0) {
		memcpy(t->retry_key, key, HINTS_KEY_LEN);
		t->has_retry = true;
	}
}

static void discard(struct hints *h, struct htarget *t, const uint8_t *key, size_t value_bytes,
                    enum hints_drop why, const uint8_t *mut, size_t len)
{
	struct cerr e = {0};
	if (store_kv_delete(h->cfg.store, STORE_CF_HINTS, key, HINTS_KEY_LEN, &e))
		log_warn(MOD, "cannot delete a discarded hint: %s", e.msg);
	hints_forget(h, t, value_bytes);
	hints_dropped(h, t, t->host_id, why, mut, len);
}

static void on_rsp(void *ctx, int status, const struct msg_in *rsp)
{
	struct hsend *s = ctx;
	struct htarget *t = s->t;
	struct hints *h = t->h;
	t->in_flight--;
	t->in_flight_bytes -= s->raw_bytes;
	char why[160] = "";
	if (status != 0 && rsp) {
		int code;
		messaging_failure_text(rsp, &code, why, sizeof(why));
	}
	if (status == 0) {
		struct cerr e = {0};
		if (store_kv_delete(h->cfg.store, STORE_CF_HINTS, s->key, HINTS_KEY_LEN, &e))
			log_warn(MOD, "cannot delete a delivered hint: %s", e.msg);
		hints_forget(h, t, s->value_bytes);
		h->st.delivered++;
		h->st.delivered_bytes += s->raw_bytes;
		t->delivered++;
		t->delivered_bytes += s->raw_bytes;
	} else if (rsp && (status == COL_ENOTFOUND || status == COL_ECORRUPT ||
	                   status == COL_EINVAL || status == COL_ETYPE || status == COL_ETOOBIG)) {
		char hid[37];
		uuid_format(t->host_id, hid);
		log_warn(MOD, "host %s refused a hint (%s); discarded", hid, why);
		struct cerr e = {0};
		(void)store_kv_delete(h->cfg.store, STORE_CF_HINTS, s->key, HINTS_KEY_LEN, &e);
		hints_forget(h, t, s->value_bytes);
		/* the mutation is not at hand: a refused hint marks the target's whole ring */
		hints_dropped(h, t, t->host_id,
		              status == COL_ENOTFOUND ? HINTS_DROP_UNKNOWN_TABLE
		                                      : HINTS_DROP_REFUSED,
		              NULL, 0);
	} else {
		h->st.failed++;
		if (!t->stalled) {
			char hid[37];
			uuid_format(t->host_id, hid);
			log_info(MOD, "hint delivery to host %s stalls: %s", hid,
			         why[0] ? why : col_strerror(status));
		}
		retry_from(t, s->key);
		t->stalled = true;
	}
	s->next_free = h->free_sends;
	h->free_sends = s;
	if (t->stalled) {
		if (t->in_flight == 0)
			finish(h, t);
	} else if (!ev_is_active(&t->timer)) {
		pump(h, t);
	}
}

struct step_read {
	struct buf *b;
	size_t budget, n;
};

/* Collect [u32 vlen][key][value] records until the budget is spent. */
static int step_each(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct step_read *sr = ctx;
	if (klen != HINTS_KEY_LEN)
		return 0;
	buf_put_u32be(sr->b, (uint32_t)vlen);
	buf_put(sr->b, key, klen);
	buf_put(sr->b, val, vlen);
	sr->n++;
	if (!buf_ok(sr->b))
		return COL_ENOMEM;
	return sr->b->len >= sr->budget || sr->n >= HINTS_STEP_MAX ? 1 : 0;
}

/* Read the target's next hints after its read position into h->step, at most
 * `budget` bytes (at least one hint), as [u32 value length][key][value]...;
 * *n = how many, *records a reader over them (step_next). */
static int read_step(struct hints *h, struct htarget *t, size_t budget, size_t *n,
                     struct bufreader *records, struct cerr *e)
{
	uint8_t prefix[17] = {HK_HINT};
	memcpy(prefix + 1, t->host_id, 16);
	buf_reset(&h->step);
	struct step_read sr = {&h->step, budget, 0};
	int rc = store_kv_scan_after(h->cfg.store, STORE_CF_HINTS, prefix, sizeof(prefix),
	                             t->has_next ? t->next_key : NULL, HINTS_KEY_LEN, step_each,
	                             &sr, e);
	*n = sr.n;
	bufreader_init(records, h->step.data, h->step.len);
	return rc;
}

/* The next [u32 value length][key][value] record of a step read by read_step. */
static bool step_next(struct bufreader *r, const uint8_t **key, const uint8_t **val, uint32_t *vlen)
{
	if (bufreader_left(r) == 0)
		return false;
	*vlen = bufreader_u32be(r);
	*key = r->p + r->pos;
	*val = *key + HINTS_KEY_LEN;
	r->pos += HINTS_KEY_LEN + *vlen;
	return true;
}

static int send_one(struct hints *h, struct htarget *t, const uint8_t *key, size_t value_bytes,
                    const uint8_t *mut, size_t len)
{
	struct hsend *s = h->free_sends;
	if (s)
		h->free_sends = s->next_free;
	else if (!(s = calloc(1, sizeof(*s))))
		return COL_ENOMEM;
	s->t = t;
	memcpy(s->key, key, HINTS_KEY_LEN);
	s->value_bytes = (uint32_t)value_bytes;
	s->raw_bytes = (uint32_t)len;
	struct msg_out o;
	int rc = messaging_begin_request(h->cfg.msg, &t->addr, VERB_HINT, h->cfg.timeout_ms, on_rsp,
	                                 s, &o);
	if (rc == 0) {
		hints_put_msg(o.b, t->host_id, (int64_t)be64_load(key + 17), mut, len);
		rc = messaging_commit(&o);
	}
	if (rc != 0) {
		s->next_free = h->free_sends;
		h->free_sends = s;
		return rc;
	}
	t->in_flight++;
	t->in_flight_bytes += len;
	t->bucket -= (double)len;
	return 0;
}

static bool has_column(const struct store_table_desc *d, uint64_t id)
{
	for (size_t i = 0; i < d->n_cols; i++)
		if (d->cols[i].id == id)
			return true;
	return false;
}

/*
 * Does every cell op of the mutation (storage's MUTATION FORMAT) name a
 * column the table still has?  Malformed bytes pass: the target refuses them.
 */
static bool columns_known(const uint8_t *mut, size_t len, const struct store_table_desc *d)
{
	struct bufreader r;
	bufreader_init(&r, mut, len);
	uint32_t n, nops;
	if (msgpk_read_array(&r, &n) || n != 5)
		return true;
	for (int i = 0; i < 4; i++) /* version, table id, now_s, partition key */
		if (msgpk_skip(&r, MSGPK_MAX_DEPTH))
			return true;
	if (msgpk_read_array(&r, &nops))
		return true;
	for (uint32_t i = 0; i < nops; i++) {
		size_t at = r.pos;
		uint32_t k;
		uint64_t type, col;
		if (msgpk_read_array(&r, &k) || msgpk_read_uint(&r, &type))
			return true;
		/* set cell [2, ts, ttl, [ck], col, ...]; delete cell [3, ts, [ck], col, ...] */
		unsigned before = type == 2 ? 3 : type == 3 ? 2 : 0;
		if (before) {
			for (unsigned b = 0; b < before; b++)
				if (msgpk_skip(&r, MSGPK_MAX_DEPTH))
					return true;
			if (msgpk_read_uint(&r, &col))
				return true;
			if (!has_column(d, col))
				return false;
		}
		r.pos = at;
		if (msgpk_skip(&r, MSGPK_MAX_DEPTH))
			return true;
	}
	return true;
}

/*
 * One stored hint: decode, check, send.  0 when it was sent or discarded (reading goes on),
 * else the send failed and the target stalls.
 */
static int deliver_one(struct hints *h, struct htarget *t, const uint8_t *key, const uint8_t *val,
                       size_t vlen, int64_t now_ms)
{
	struct cerr e = {0};
	buf_reset(&h->mut);
	if (hints_value_decode(val, vlen, &h->mut, &e) != 0) {
		char hid[37];
		uuid_format(t->host_id, hid);
		log_warn(MOD,
		         "hint for host %s created at %llu ms (seq %llu) is unreadable: %s; "
		         "skipped",
		         hid, (unsigned long long)be64_load(key + 17),
		         (unsigned long long)be64_load(key + 25), e.msg);
		discard(h, t, key, vlen,
		        e.code == COL_ENOMEM ? HINTS_DROP_ERROR : HINTS_DROP_CORRUPT, NULL, 0);
		return 0;
	}
	uint8_t id[16];
	struct store_table *tab = store_mutation_peek_table(h->mut.data, h->mut.len, id, &e) == 0
	                                  ? store_table_find(h->cfg.store, id)
	                                  : NULL;
	if (!tab) {
		discard(h, t, key, vlen,
		        e.code == COL_ECORRUPT ? HINTS_DROP_CORRUPT : HINTS_DROP_UNKNOWN_TABLE,
		        NULL, 0);
		return 0;
	}
	/* no descriptor yet (the schema has not described the table): the target decides */
	const struct store_table_desc *d = store_table_desc(tab);
	int64_t created = (int64_t)be64_load(key + 17);
	if (d && created + (int64_t)d->gc_grace_seconds * 1000 < now_ms) {
		discard(h, t, key, vlen, HINTS_DROP_EXPIRED, h->mut.data, h->mut.len);
		return 0;
	}
	if (d && !columns_known(h->mut.data, h->mut.len, d)) {
		discard(h, t, key, vlen, HINTS_DROP_UNKNOWN_COLUMN, h->mut.data, h->mut.len);
		return 0;
	}
	return send_one(h, t, key, vlen, h->mut.data, h->mut.len);
}

/* Refill the throttle; returns seconds to wait before sending (0: go). */
static double throttle_wait(struct htarget *t, double rate)
{
	if (rate <= 0)
		return 0;
	int64_t now = clock_mono_us();
	t->bucket += rate * (double)(now - t->bucket_us) / 1e6;
	t->bucket_us = now;
	/* At most 250 ms of burst: a loop that a loaded machine stalled that long catches up
	 * instead of losing that time's share, and any window of seconds sees little more
	 * than the rate. */
	double cap = rate / 4;
	if (t->bucket > cap)
		t->bucket = cap;
	return t->bucket >= 0 ? 0 : -t->bucket / rate;
}

/* The target's in-flight window is full: nothing more is sent until an answer comes. */
static bool window_full(const struct hints *h, const struct htarget *t)
{
	return t->in_flight >= HINTS_MAX_IN_FLIGHT ||
	       t->in_flight_bytes >= h->cfg.max_in_flight_bytes;
}

static void pump(struct hints *h, struct htarget *t)
{
	if (!t->active || t->stalled)
		return;
	if (h->paused) {
		hints_dispatch_stall(h, t);
		return;
	}
	double rate = target_rate(h);
	double wait = throttle_wait(t, rate);
	if (wait > 0) {
		schedule(h, t, wait);
		return;
	}
	if (window_full(h, t))
		return; /* an answer pumps again */
	size_t budget = h->cfg.max_in_flight_bytes - t->in_flight_bytes;
	if (budget > HINTS_STEP_BYTES)
		budget = HINTS_STEP_BYTES;
	if (rate > 0 && budget > (size_t)t->bucket + 1)
		budget = (size_t)t->bucket + 1;
	struct cerr e = {0};
	size_t n_read = 0;
	struct bufreader r;
	int rc = read_step(h, t, budget, &n_read, &r, &e);
	if (rc < 0) {
		log_warn(MOD, "cannot read hints: %s", e.msg[0] ? e.msg : col_strerror(rc));
		hints_dispatch_stall(h, t);
		return;
	}
	int64_t now_ms = clock_wall_us() / 1000;
	const uint8_t *key, *val;
	uint32_t vlen;
	while (step_next(&r, &key, &val, &vlen)) {
		memcpy(t->next_key, key, HINTS_KEY_LEN);
		t->has_next = true;
		if (deliver_one(h, t, key, val, vlen, now_ms) != 0) {
			retry_from(t, key);
			hints_dispatch_stall(h, t);
			return;
		}
		/* The step's budget counts stored values, which are compressed; the throttle and
		 * the in-flight window count mutation bytes: the step ends where one of them is
		 * spent, and its other hints are read again by the next one. */
		if ((rate > 0 && t->bucket < 0) || window_full(h, t))
			break;
	}
	if (n_read > 0) {
		schedule(h, t, 0.); /* the next step after the loop's other work */
		return;
	}
	if (t->in_flight > 0)
		return; /* the last answer pumps again */
	if (t->count > 0 && t->has_next) {
		/* keys behind next_key (the wall clock stepped back): one pass from the start */
		t->has_next = false;
		schedule(h, t, 0.);
		return;
	}
	if (t->count > 0) {
		/* nothing to read from the start: the counters were off; the store is the truth */
		h->st.pending -= t->count < h->st.pending ? t->count : h->st.pending;
		h->st.pending_bytes -=
		        t->bytes < h->st.pending_bytes ? t->bytes : h->st.pending_bytes;
		t->count = t->bytes = 0;
	}
	finish(h, t);
}

/*
 * A target not being served (down, or refusing): discard its oldest hints that
 * have expired (and unreadable ones, and those of dropped tables), at most one
 * step's worth per call, stopping at the first one
 * that has not (hints are in creation order, so the expired ones come first),
 * and move its read position past them.  Hints of a node that never returns
 * thus go away after gc_grace_seconds instead of filling the disk.
 */
void hints_dispatch_purge(struct hints *h, struct htarget *t)
{
	if (t->active || !t->count)
		return;
	struct cerr e = {0};
	size_t n_read = 0;
	struct bufreader r;
	if (read_step(h, t, HINTS_STEP_BYTES, &n_read, &r, &e) < 0)
		return;
	int64_t now_ms = clock_wall_us() / 1000;
	const uint8_t *key, *val;
	uint32_t vlen;
	while (step_next(&r, &key, &val, &vlen)) {
		buf_reset(&h->mut);
		uint8_t id[16];
		if (hints_value_decode(val, vlen, &h->mut, &e) != 0 ||
		    store_mutation_peek_table(h->mut.data, h->mut.len, id, &e) != 0) {
			log_warn(MOD, "a stored hint is unreadable: %s; skipped", e.msg);
			discard(h, t, key, vlen, HINTS_DROP_CORRUPT, NULL, 0);
		} else {
			struct store_table *tab = store_table_find(h->cfg.store, id);
			const struct store_table_desc *d = tab ? store_table_desc(tab) : NULL;
			int64_t created = (int64_t)be64_load(key + 17);
			if (tab && (!d || created + (int64_t)d->gc_grace_seconds * 1000 >= now_ms))
				return; /* not (knowably) expired: delivery decides */
			discard(h, t, key, vlen,
			        tab ? HINTS_DROP_EXPIRED : HINTS_DROP_UNKNOWN_TABLE, h->mut.data,
			        h->mut.len);
		}
		memcpy(t->next_key, key, HINTS_KEY_LEN);
		t->has_next = true;
	}
}

/* ---- the receiving side --------------------------------------------------------------------- */

/* Count a received hint's outcome and answer it (a request). */
static void hint_answer(struct hints *h, const struct msg_in *msg, int rc, const struct cerr *e,
                        size_t len)
{
	if (rc != 0) {
		h->st.received_refused++;
		if (msg->id)
			(void)messaging_respond_failure(h->cfg.msg, msg, rc,
			                                e ? e->msg : col_strerror(rc));
		return;
	}
	h->st.received++;
	h->st.received_bytes += len;
	if (msg->id) {
		struct msg_out o;
		if (messaging_begin_response(h->cfg.msg, msg, VERB_HINT_RSP, &o) == 0) {
			msgpk_put_array(o.b, 0);
			(void)messaging_commit(&o);
		}
	}
}

/* A received hint waiting for its write group: what its answer needs. */
struct pending_hint {
	struct hints *h;
	struct net_addr from;
	uint64_t id;
	unsigned flags;
	size_t len;
	bool has_from;
};

static void on_hint_applied(void *ctx, int rc, const struct cerr *e)
{
	struct pending_hint *ph = ctx;
	struct msg_in msg = {.verb = VERB_HINT,
	                     .flags = ph->flags,
	                     .id = ph->id,
	                     .from = ph->has_from ? &ph->from : NULL};
	hint_answer(ph->h, &msg, rc, e, ph->len);
	free(ph);
}

static int on_hint(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	struct hints *h = ctx;
	if (msg->flags & MSG_F_RESPONSE)
		return 0;
	uint8_t hid[16];
	int64_t created;
	const uint8_t *mut;
	size_t len;
	if (hints_msg_decode(msg->payload, msg->payload_len, hid, &created, &mut, &len) != 0) {
		h->st.received_refused++;
		return COL_ECORRUPT;
	}
	if (memcmp(hid, h->cfg.host_id, 16) != 0) {
		char want[37], me[37];
		uuid_format(hid, want);
		uuid_format(h->cfg.host_id, me);
		h->st.received_refused++;
		char why[120];
		snprintf(why, sizeof(why), "hint for host %s reached host %s", want, me);
		if (msg->id)
			(void)messaging_respond_failure(m, msg, COL_EPROTO, why);
		return 0;
	}
	struct cerr e = {0};
	int rc;
	if (h->cfg.lane) {
		struct pending_hint *ph = malloc(sizeof(*ph));
		if (!ph) {
			rc = cerr_set(&e, COL_ENOMEM, "out of memory applying a hint");
		} else {
			*ph = (struct pending_hint){
			        .h = h, .id = msg->id, .flags = msg->flags, .len = len};
			if (msg->from) {
				ph->from = *msg->from;
				ph->has_from = true;
			}
			rc = store_lane_apply_bytes(h->cfg.lane, mut, len, on_hint_applied, ph, &e);
			if (rc == 0)
				return 0;
			free(ph);
		}
	} else {
		rc = store_apply_bytes(h->cfg.store, mut, len, &e);
	}
	hint_answer(h, msg, rc, &e, len);
	return 0;
}

void hints_dispatch_target_init(struct htarget *t)
{
	ev_init(&t->timer, on_step);
	t->timer.data = t;
}

static const struct messaging_verb HINTS_VERBS[] = {
        {VERB_HINT, "HINT", on_hint},
        {VERB_HINT_RSP, "HINT_RSP", NULL},
};

int hints_dispatch_init(struct hints *h, struct cerr *err)
{
	int rc = messaging_register_verbs(h->cfg.msg, HINTS_VERBS,
	                                  sizeof(HINTS_VERBS) / sizeof(HINTS_VERBS[0]), h);
	if (rc)
		return cerr_set(err, rc, "hints: cannot register the HINT verbs");
	return 0;
}

void hints_dispatch_release(struct hints *h)
{
	/* the handlers stay registered: messaging is freed first (hints.h) */
	for (size_t i = 0; i < h->n_t; i++)
		if (h->loop)
			ev_timer_stop(h->loop, &h->t[i]->timer);
	while (h->free_sends) {
		struct hsend *s = h->free_sends;
		h->free_sends = s->next_free;
		free(s);
	}
}
