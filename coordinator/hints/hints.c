/*
 * hints.c — the hint store: formats, storing with its policy checks, per-target
 * counters, dropped-hint ranges for repair, operator switches.  Delivery and
 * the HINT verb are dispatch.c's.
 */
#include "coordinator/hints/hints_int.h"

#include "core/array.h"
#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/msgpk.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zstd.h>

#define MOD "hints"

/* A stored mutation is at most this big decoded (a mutation's values are bounded by
 * STORE_MAX_VALUE each; four of them is past anything messaging could carry). */
#define HINTS_MAX_RAW ((size_t)STORE_MAX_VALUE * 4)

static const char *const drop_names[HINTS_DROP_MAX] = {
        "disabled",      "dc_disabled", "window",  "size",      "error",          "expired",
        "unknown_table", "corrupt",     "refused", "truncated", "unknown_column",
};

const char *hints_drop_name(enum hints_drop d)
{
	return (unsigned)d < HINTS_DROP_MAX ? drop_names[d] : "unknown";
}

/* ---- formats ----------------------------------------------------------------------------------
 */

void hints_key(uint8_t out[HINTS_KEY_LEN], const uint8_t host_id[16], uint64_t created_ms,
               uint64_t seq)
{
	out[0] = HK_HINT;
	memcpy(out + 1, host_id, 16);
	be64_store(out + 17, created_ms);
	be64_store(out + 25, seq);
}

int hints_value_encode(struct buf *out, const uint8_t *mut, size_t len)
{
	if (len > UINT32_MAX)
		return COL_ETOOBIG;
	size_t at = out->len;
	bool z = len > HINTS_COMPRESS_MIN;
	buf_put_u8(out, 1);
	buf_put_u8(out, z ? 1 : 0);
	buf_put_u32be(out, (uint32_t)len);
	buf_put_u64be(out, XXH3_64bits(mut, len));
	if (!z) {
		buf_put(out, mut, len);
		return buf_ok(out) ? 0 : COL_ENOMEM;
	}
	size_t bound = ZSTD_compressBound(len);
	if (buf_reserve(out, bound) != 0)
		return COL_ENOMEM;
	size_t zn = ZSTD_compress(out->data + out->len, bound, mut, len, 1);
	if (ZSTD_isError(zn) || zn >= len) {
		/* incompressible: store it plain (flags say so) */
		out->data[at + 1] = 0;
		buf_put(out, mut, len);
		return buf_ok(out) ? 0 : COL_ENOMEM;
	}
	out->len += zn;
	return 0;
}

int hints_value_decode(const uint8_t *v, size_t len, struct buf *out, struct cerr *err)
{
	if (len < HINTS_VALUE_HDR)
		return cerr_set(err, COL_ECORRUPT,
		                "hint value of %zu bytes is shorter than its header", len);
	if (v[0] != 1)
		return cerr_set(err, COL_ECORRUPT, "hint value version %u is unknown", v[0]);
	if (v[1] & ~1u)
		return cerr_set(err, COL_ECORRUPT, "hint value flags 0x%02x are unknown", v[1]);
	size_t raw = be32_load(v + 2);
	uint64_t sum = be64_load(v + 6);
	const uint8_t *p = v + HINTS_VALUE_HDR;
	size_t n = len - HINTS_VALUE_HDR;
	if (raw > HINTS_MAX_RAW)
		return cerr_set(err, COL_ECORRUPT, "hint value claims %zu bytes (max %zu)", raw,
		                HINTS_MAX_RAW);
	size_t at = out->len;
	if (!(v[1] & 1)) {
		if (n != raw)
			return cerr_set(err, COL_ECORRUPT,
			                "hint value holds %zu bytes, its header says %zu", n, raw);
		buf_put(out, p, n);
	} else {
		if (raw <= HINTS_COMPRESS_MIN) /* never written compressed */
			return cerr_set(err, COL_ECORRUPT,
			                "hint value of %zu bytes claims to be compressed", raw);
		if (buf_reserve(out, raw) != 0)
			return cerr_set(err, COL_ENOMEM, "out of memory decoding a hint");
		size_t got = ZSTD_decompress(out->data + out->len, raw, p, n);
		if (ZSTD_isError(got))
			return cerr_set(err, COL_ECORRUPT, "hint value does not decompress: %s",
			                ZSTD_getErrorName(got));
		if (got != raw)
			return cerr_set(err, COL_ECORRUPT,
			                "hint value decompresses to %zu bytes, its header says %zu",
			                got, raw);
		out->len += got;
	}
	if (!buf_ok(out))
		return cerr_set(err, COL_ENOMEM, "out of memory decoding a hint");
	const uint8_t *got =
	        raw ? out->data + at : (const uint8_t *)""; /* an empty buf may be NULL */
	if (XXH3_64bits(got, raw) != sum) {
		out->len = at;
		return cerr_set(err, COL_ECORRUPT, "hint value fails its checksum");
	}
	return 0;
}

void hints_put_msg(struct buf *b, const uint8_t host_id[16], int64_t created_ms, const uint8_t *mut,
                   size_t len)
{
	msgpk_put_array(b, 3);
	msgpk_put_bin(b, host_id, 16);
	msgpk_put_int(b, created_ms);
	buf_put(b, mut, len);
}

int hints_msg_decode(const uint8_t *p, size_t len, uint8_t host_id[16], int64_t *created_ms,
                     const uint8_t **mut, size_t *mut_len)
{
	struct bufreader r;
	bufreader_init(&r, p, len);
	const uint8_t *h;
	uint32_t hl;
	int64_t c;
	if (msgpk_expect_array(&r, 3) || msgpk_read_bin(&r, &h, &hl) || hl != 16 ||
	    msgpk_read_int(&r, &c))
		return COL_ECORRUPT;
	size_t at = r.pos;
	if (msgpk_skip(&r, MSGPK_MAX_DEPTH) || bufreader_left(&r) != 0)
		return COL_ECORRUPT;
	memcpy(host_id, h, 16);
	*created_ms = c;
	*mut = p + at;
	*mut_len = r.pos - at;
	return 0;
}

/* ---- targets ----------------------------------------------------------------------------------
 */

struct htarget *hints_target_get(struct hints *h, const uint8_t host_id[16], bool create)
{
	for (size_t i = 0; i < h->n_t; i++)
		if (memcmp(h->t[i]->host_id, host_id, 16) == 0)
			return h->t[i];
	if (!create || h->n_t == HINTS_MAX_TARGETS)
		return NULL;
	if (ARRAY_GROW(h->t, h->cap_t, h->n_t + 1))
		return NULL;
	struct htarget *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->h = h;
	memcpy(t->host_id, host_id, 16);
	hints_dispatch_target_init(t);
	h->t[h->n_t++] = t;
	return t;
}

static void host_text(const uint8_t id[16], char out[37])
{
	uuid_format(id, out);
}

static void down_key(uint8_t k[17], const uint8_t host_id[16])
{
	k[0] = HK_DOWN;
	memcpy(k + 1, host_id, 16);
}

static void persist_down(struct hints *h, struct htarget *t)
{
	uint8_t k[17], v[8];
	down_key(k, t->host_id);
	struct cerr e = {0};
	int rc;
	if (t->down_since_ms) {
		be64_store(v, (uint64_t)t->down_since_ms);
		rc = store_kv_put(h->cfg.store, STORE_CF_HINTS, k, sizeof(k), v, sizeof(v), &e);
	} else {
		rc = store_kv_delete(h->cfg.store, STORE_CF_HINTS, k, sizeof(k), &e);
	}
	if (rc)
		log_warn(MOD, "cannot persist the down-since time of a target: %s", e.msg);
}

void hints_peer_down(struct hints *h, const uint8_t host_id[16])
{
	struct htarget *t = hints_target_get(h, host_id, true);
	if (!t)
		return;
	if (!t->down_since_ms) {
		t->down_since_ms = clock_wall_us() / 1000;
		persist_down(h, t);
	}
	hints_dispatch_stall(h, t);
}

void hints_peer_up(struct hints *h, const uint8_t host_id[16])
{
	struct htarget *t = hints_target_get(h, host_id, false);
	if (!t)
		return;
	t->logged = 0;
	t->held = false;
	if (t->down_since_ms) {
		t->down_since_ms = 0;
		persist_down(h, t);
	}
	hints_dispatch_kick(h, t);
}

void hints_forget(struct hints *h, struct htarget *t, size_t value_bytes)
{
	if (t->count) {
		t->count--;
		h->st.pending--;
	}
	size_t b = value_bytes < t->bytes ? value_bytes : t->bytes;
	t->bytes -= b;
	h->st.pending_bytes -= b < h->st.pending_bytes ? b : h->st.pending_bytes;
}

/* ---- dropped ranges ---------------------------------------------------------------------------
 */

static void range_key(uint8_t k[33], const uint8_t host_id[16], int64_t start, int64_t end)
{
	k[0] = HK_RANGE;
	memcpy(k + 1, host_id, 16);
	be64_store(k + 17, (uint64_t)start ^ 0x8000000000000000ull);
	be64_store(k + 25, (uint64_t)end ^ 0x8000000000000000ull);
}

static void range_write(struct hints *h, const struct hints_range *r)
{
	uint8_t k[33], v[27];
	range_key(k, r->host_id, r->start, r->end);
	v[0] = 1;
	v[1] = (uint8_t)(r->reasons >> 8);
	v[2] = (uint8_t)r->reasons;
	be64_store(v + 3, r->count);
	be64_store(v + 11, (uint64_t)r->first_ms);
	be64_store(v + 19, (uint64_t)r->last_ms);
	struct cerr e = {0};
	if (store_kv_put(h->cfg.store, STORE_CF_HINTS, k, sizeof(k), v, sizeof(v), &e))
		log_warn(MOD, "cannot record a range for repair: %s", e.msg);
}

/* The ring range (start, end] holding token; the whole ring when unknown. */
static void token_range(struct hints *h, bool known, int64_t token, int64_t *start, int64_t *end)
{
	*start = *end = INT64_MIN;
	struct ring *r = known ? h->cfg.ring(h->cfg.ctx) : NULL;
	if (!r)
		return;
	size_t n = ring_token_count(r);
	if (n > 1) {
		size_t i = ring_token_index(r, token), owner;
		*end = ring_token_at(r, i, &owner);
		*start = ring_token_at(r, (i + n - 1) % n, &owner);
	}
	ring_unref(r);
}

static void range_note(struct hints *h, const uint8_t host_id[16], int64_t start, int64_t end,
                       enum hints_drop why)
{
	int64_t now = clock_wall_us() / 1000;
	uint64_t hsh = XXH3_64bits(host_id, 16) ^ (uint64_t)start * 0x9E3779B97F4A7C15ull;
	for (size_t probe = 0; probe < HINTS_RANGE_SLOTS; probe++) {
		struct hrange *s = &h->ranges[(hsh + probe) % HINTS_RANGE_SLOTS];
		if (s->used && (memcmp(s->r.host_id, host_id, 16) != 0 || s->r.start != start ||
		                s->r.end != end))
			continue;
		if (s->used) {
			s->r.count++;
			s->r.last_ms = now;
			s->r.reasons |= 1u << why;
			s->dirty = true; /* written at the next flush period */
			return;
		}
		if (h->n_ranges * 4 >= HINTS_RANGE_SLOTS * 3)
			break; /* table full: write through */
		s->used = true;
		memcpy(s->r.host_id, host_id, 16);
		s->r.start = start;
		s->r.end = end;
		s->r.count = 1;
		s->r.first_ms = s->r.last_ms = now;
		s->r.reasons = 1u << why;
		h->n_ranges++;
		range_write(h, &s->r);
		return;
	}
	struct hints_range r = {.start = start,
	                        .end = end,
	                        .count = 1,
	                        .first_ms = now,
	                        .last_ms = now,
	                        .reasons = 1u << why};
	memcpy(r.host_id, host_id, 16);
	range_write(h, &r);
}

static void ranges_flush(struct hints *h)
{
	for (size_t i = 0; i < HINTS_RANGE_SLOTS; i++)
		if (h->ranges[i].used && h->ranges[i].dirty) {
			range_write(h, &h->ranges[i].r);
			h->ranges[i].dirty = false;
		}
}

void hints_dropped(struct hints *h, struct htarget *t, const uint8_t host_id[16],
                   enum hints_drop why, const uint8_t *mut, size_t len)
{
	h->st.dropped[why]++;
	if (!t || !(t->logged & (1u << why))) {
		char hid[37];
		host_text(host_id, hid);
		log_warn(MOD, "hints for host %s are being dropped (%s)%s", hid,
		         hints_drop_name(why),
		         why <= HINTS_DROP_SIZE ? "; logged once per outage" : "");
		if (t)
			t->logged |= 1u << why;
	}
	if (why == HINTS_DROP_UNKNOWN_TABLE)
		return; /* the table is gone: nothing to repair */
	int64_t token = 0;
	bool known = mut && store_mutation_bytes_token(h->cfg.store, mut, len, &token, NULL) == 0;
	int64_t start, end;
	token_range(h, known, token, &start, &end);
	range_note(h, host_id, start, end, why);
}

static int range_decode(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                        struct hints_range *out)
{
	if (kl != 33 || k[0] != HK_RANGE || vl != 27 || v[0] != 1)
		return COL_ECORRUPT;
	memcpy(out->host_id, k + 1, 16);
	out->start = (int64_t)(be64_load(k + 17) ^ 0x8000000000000000ull);
	out->end = (int64_t)(be64_load(k + 25) ^ 0x8000000000000000ull);
	out->reasons = (unsigned)v[1] << 8 | v[2];
	out->count = be64_load(v + 3);
	out->first_ms = (int64_t)be64_load(v + 11);
	out->last_ms = (int64_t)be64_load(v + 19);
	return 0;
}

struct range_scan {
	hints_range_fn fn;
	void *ctx;
};

static int range_each(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct range_scan *rs = ctx;
	struct hints_range r;
	if (range_decode(key, klen, val, vlen, &r) != 0) {
		log_warn(MOD, "skipping a malformed repair-range record (%zu-byte key)", klen);
		return 0;
	}
	return rs->fn(rs->ctx, &r);
}

int hints_ranges(struct store *s, hints_range_fn fn, void *ctx, struct cerr *err)
{
	struct range_scan rs = {fn, ctx};
	uint8_t p = HK_RANGE;
	return store_kv_scan(s, STORE_CF_HINTS, &p, 1, range_each, &rs, err);
}

int hints_range_clear(struct store *s, const uint8_t host_id[16], int64_t start, int64_t end,
                      struct cerr *err)
{
	uint8_t k[33];
	range_key(k, host_id, start, end);
	return store_kv_delete(s, STORE_CF_HINTS, k, sizeof(k), err);
}

/* ---- storing ----------------------------------------------------------------------------------
 */

static bool dc_disabled(const struct hints *h, const char *dc)
{
	size_t n = strlen(dc);
	for (const char *p = h->disabled_dcs; *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == n && memcmp(p, dc, n) == 0)
			return true;
		if (!e)
			break;
		p = e + 1;
	}
	return false;
}

/* Is the hint refused by policy?  Returns the reason or -1. */
static int refusal(struct hints *h, struct htarget *t, const struct ring_node *rn, size_t len)
{
	if (!h->enabled)
		return HINTS_DROP_DISABLED;
	if (dc_disabled(h, rn->dc))
		return HINTS_DROP_DC;
	if (!t)
		return HINTS_DROP_ERROR;
	int64_t now = clock_wall_us() / 1000;
	if (!t->down_since_ms) {
		struct hints_peer p;
		if (h->cfg.peer(h->cfg.ctx, rn->host_id, &p) != 0 || !p.alive) {
			/* known down but not yet told (our own start): the outage counts from now
			 */
			t->down_since_ms = now;
			persist_down(h, t);
		}
	}
	if (t->down_since_ms && now - t->down_since_ms > h->cfg.max_window_ms)
		return HINTS_DROP_WINDOW;
	if (h->cfg.max_size_per_host > 0 &&
	    t->bytes + len + HINTS_VALUE_HDR > (uint64_t)h->cfg.max_size_per_host)
		return HINTS_DROP_SIZE;
	return -1;
}

int hints_store(struct hints *h, const struct ring *r, size_t idx, const uint8_t *mut, size_t len,
                unsigned flags)
{
	const struct ring_node *rn = ring_node_at(r, idx);
	if (!rn)
		return COL_EINVAL;
	struct htarget *t = hints_target_get(h, rn->host_id, true);
	int why = refusal(h, t, rn, len);
	if (why >= 0) {
		hints_dropped(h, t, rn->host_id, (enum hints_drop)why, mut, len);
		return why == HINTS_DROP_ERROR ? COL_ENOMEM : COL_EUNAVAILABLE;
	}
	int64_t now = clock_wall_us() / 1000;
	uint8_t key[HINTS_KEY_LEN];
	hints_key(key, rn->host_id, (uint64_t)now, h->seq++);
	buf_reset(&h->scratch);
	struct cerr e = {0};
	int rc = hints_value_encode(&h->scratch, mut, len);
	if (rc == 0)
		rc = store_kv_put(h->cfg.store, STORE_CF_HINTS, key, sizeof(key), h->scratch.data,
		                  h->scratch.len, &e);
	if (rc == 0 && (flags & HINTS_SYNC))
		rc = store_sync_wal(h->cfg.store, &e);
	if (rc != 0) {
		/* a write stall refuses every hint until it ends: hints_dropped logs that once */
		if (rc != COL_EOVERLOADED)
			log_warn(MOD, "cannot store a hint: %s", e.msg[0] ? e.msg : col_strerror(rc));
		hints_dropped(h, t, rn->host_id, HINTS_DROP_ERROR, mut, len);
		return rc == COL_ENOMEM ? rc : COL_EIO;
	}
	t->count++;
	t->bytes += h->scratch.len;
	t->newest_ms = now;
	h->st.stored++;
	h->st.stored_bytes += h->scratch.len;
	h->st.pending++;
	h->st.pending_bytes += h->scratch.len;
	return 0;
}

/* ---- start-up: what the store holds ------------------------------------------------------------
 */

static int load_each(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct hints *h = ctx;
	const uint8_t *k = key;
	if (k[0] == HK_DOWN && klen == 17 && vlen == 8) {
		struct htarget *t = hints_target_get(h, k + 1, true);
		if (t)
			t->down_since_ms = (int64_t)be64_load(val);
		return 0;
	}
	if (k[0] != HK_HINT || klen != HINTS_KEY_LEN)
		return 0;
	struct htarget *t = hints_target_get(h, k + 1, true);
	if (!t)
		return 0;
	t->count++;
	t->bytes += vlen;
	int64_t c = (int64_t)be64_load(k + 17);
	if (c > t->newest_ms)
		t->newest_ms = c;
	h->st.pending++;
	h->st.pending_bytes += vlen;
	return 0;
}

static void on_flush(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)revents;
	struct hints *h = w->data;
	for (size_t i = 0; i < h->n_t; i++) {
		hints_dispatch_purge(h, h->t[i]);
		h->t[i]->held = false;
	}
	ranges_flush(h);
	hints_dispatch_all(h);
}

static void on_rate(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)revents;
	struct hints *h = w->data;
	h->st.replay_bytes_per_s = (double)(h->st.delivered_bytes - h->rate_last_bytes);
	h->rate_last_bytes = h->st.delivered_bytes;
}

static void config_defaults(struct hints_config *c)
{
	if (!c->flush_period_ms)
		c->flush_period_ms = 10000;
	if (!c->delivery_targets)
		c->delivery_targets = 2;
	if (!c->timeout_ms)
		c->timeout_ms = 2000;
	if (!c->max_in_flight_bytes)
		c->max_in_flight_bytes = 1u << 20;
	if (!c->disabled_dcs)
		c->disabled_dcs = "";
}

int hints_new(const struct hints_config *cfg, struct hints **out, struct cerr *err)
{
	if (!cfg->store || !cfg->msg || !cfg->peer || !cfg->ring)
		return cerr_set(err, COL_EINVAL,
		                "hints: store, messaging, peer and ring are required");
	struct hints *h = calloc(1, sizeof(*h));
	if (!h)
		return cerr_set(err, COL_ENOMEM, "hints: out of memory");
	h->cfg = *cfg;
	config_defaults(&h->cfg);
	/* "dc1, dc2" -> "dc1,dc2" */
	size_t o = 0;
	for (const char *p = h->cfg.disabled_dcs; *p && o + 1 < sizeof(h->disabled_dcs); p++)
		if (*p != ' ' && *p != '\t')
			h->disabled_dcs[o++] = *p;
	h->cfg.disabled_dcs = h->disabled_dcs;
	h->enabled = cfg->enabled;
	h->seq = (uint64_t)clock_wall_us();
	h->loop = messaging_ev(cfg->msg);
	buf_init(&h->scratch);
	buf_init(&h->step);
	buf_init(&h->mut);
	h->ranges = calloc(HINTS_RANGE_SLOTS, sizeof(*h->ranges));
	if (!h->ranges) {
		free(h);
		return cerr_set(err, COL_ENOMEM, "hints: out of memory");
	}
	int rc = store_kv_scan(cfg->store, STORE_CF_HINTS, NULL, 0, load_each, h, err);
	if (rc == 0)
		rc = hints_dispatch_init(h, err);
	if (rc) {
		hints_free(h);
		return rc;
	}
	if (h->st.pending)
		log_info(MOD, "%llu hints (%llu bytes) pending for %zu hosts",
		         (unsigned long long)h->st.pending, (unsigned long long)h->st.pending_bytes,
		         h->n_t);
	ev_timer_init(&h->flush_timer, on_flush, h->cfg.flush_period_ms / 1000.0,
	              h->cfg.flush_period_ms / 1000.0);
	h->flush_timer.data = h;
	ev_timer_start(h->loop, &h->flush_timer);
	ev_timer_init(&h->rate_timer, on_rate, 1., 1.);
	h->rate_timer.data = h;
	ev_timer_start(h->loop, &h->rate_timer);
	*out = h;
	return 0;
}

void hints_free(struct hints *h)
{
	if (!h)
		return;
	if (h->loop) {
		ev_timer_stop(h->loop, &h->flush_timer);
		ev_timer_stop(h->loop, &h->rate_timer);
	}
	if (h->ranges)
		ranges_flush(h);
	hints_dispatch_release(h);
	for (size_t i = 0; i < h->n_t; i++)
		free(h->t[i]);
	free(h->t);
	free(h->ranges);
	buf_release(&h->scratch);
	buf_release(&h->step);
	buf_release(&h->mut);
	free(h);
}

/* ---- operator -----------------------------------------------------------------------------------
 */

void hints_set_enabled(struct hints *h, bool on)
{
	if (h->enabled != on)
		log_info(MOD, "hinted handoff %s", on ? "enabled" : "disabled");
	h->enabled = on;
}

void hints_set_paused(struct hints *h, bool paused)
{
	if (h->paused == paused)
		return;
	h->paused = paused;
	log_info(MOD, "hint delivery %s", paused ? "paused" : "resumed");
	if (paused)
		for (size_t i = 0; i < h->n_t; i++)
			hints_dispatch_stall(h, h->t[i]);
	else {
		for (size_t i = 0; i < h->n_t; i++)
			h->t[i]->held = false;
		hints_dispatch_all(h);
	}
}

bool hints_enabled(const struct hints *h)
{
	return h->enabled;
}

bool hints_paused(const struct hints *h)
{
	return h->paused;
}

static int truncate_one(struct hints *h, struct htarget *t, struct cerr *err)
{
	uint8_t p[17] = {HK_HINT};
	memcpy(p + 1, t->host_id, 16);
	hints_dispatch_stall(h, t);
	int rc = store_kv_delete_prefix(h->cfg.store, STORE_CF_HINTS, p, sizeof(p), err);
	if (rc)
		return rc;
	if (t->count) {
		char hid[37];
		host_text(t->host_id, hid);
		log_info(MOD, "truncated %llu hints for host %s", (unsigned long long)t->count,
		         hid);
		h->st.dropped[HINTS_DROP_TRUNCATED] += t->count;
		range_note(h, t->host_id, INT64_MIN, INT64_MIN, HINTS_DROP_TRUNCATED);
	}
	h->st.pending -= t->count;
	h->st.pending_bytes -= t->bytes;
	t->count = t->bytes = 0;
	t->has_next = t->has_retry = false;
	return 0;
}

int hints_truncate(struct hints *h, const uint8_t *host_id, struct cerr *err)
{
	if (host_id) {
		struct htarget *t = hints_target_get(h, host_id, false);
		return t ? truncate_one(h, t, err) : 0;
	}
	for (size_t i = 0; i < h->n_t; i++) {
		int rc = truncate_one(h, h->t[i], err);
		if (rc)
			return rc;
	}
	return 0;
}

struct first_key {
	bool found;
	int64_t created_ms;
};

static int first_each(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)val;
	(void)vlen;
	struct first_key *f = ctx;
	if (klen == HINTS_KEY_LEN) {
		f->found = true;
		f->created_ms = (int64_t)be64_load((const uint8_t *)key + 17);
	}
	return 1;
}

void hints_each_target(struct hints *h, bool with_oldest, hints_target_fn fn, void *ctx)
{
	for (size_t i = 0; i < h->n_t; i++) {
		struct htarget *t = h->t[i];
		if (!t->count && !t->down_since_ms)
			continue;
		struct hints_target_info in = {
		        .count = t->count,
		        .bytes = t->bytes,
		        .newest_ms = t->count ? t->newest_ms : 0,
		        .down_since_ms = t->down_since_ms,
		        .delivering = t->active,
		        .delivered = t->delivered,
		        .delivered_bytes = t->delivered_bytes,
		};
		memcpy(in.host_id, t->host_id, 16);
		if (t->count && with_oldest) {
			uint8_t p[17] = {HK_HINT};
			memcpy(p + 1, t->host_id, 16);
			struct first_key f = {0};
			struct cerr e = {0};
			(void)store_kv_scan_after(h->cfg.store, STORE_CF_HINTS, p, sizeof(p), NULL,
			                          0, first_each, &f, &e);
			in.oldest_ms = f.found ? f.created_ms : 0;
		}
		fn(ctx, &in);
	}
}

void hints_get_stats(const struct hints *h, struct hints_stats *out)
{
	*out = h->st;
	out->delivering = h->active;
}
