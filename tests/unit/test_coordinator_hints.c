/*
 * coordinator/hints: formats (golden bytes, torn and corrupt values), the
 * storing policy (disabled, DC, window, size), delivery between two in-process
 * nodes (a store + messaging + hints each, on COLONNADE_TEST_NET, one loop):
 * order, deletion after the ack, a target that goes away mid-delivery, a
 * restart of the hinting side, corrupt and unknown-table hints, expiry,
 * the throttle, truncation and the ranges recorded for repair.
 */
#include "coordinator/hints/hints_int.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/msgpk.h"

#include <criterion/criterion.h>
#include <ev.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct hnode {
	char dir[64];
	struct store *store;
	struct store_table *tbl;
	struct messaging *msg;
	struct hints *h;
	struct net_addr addr;
	struct host_id hid;
	bool down;
};

static struct ev_loop *L;
static struct net_loop *NL;
static struct hnode N[2];
static struct ring *RING;
static struct hints_config HC; /* node 0's config template */

static const uint8_t TABLE_ID[16] = {0x7a, 0xb1, 0xe0, 9, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};

static void tick_cb(struct ev_loop *l, ev_timer *w, int r)
{
	(void)l;
	(void)w;
	(void)r;
}

static void run_ms(int ms)
{
	ev_now_update(L);
	ev_timer t;
	ev_timer_init(&t, tick_cb, 0.005, 0.005);
	ev_timer_start(L, &t);
	int64_t end = clock_mono_ms() + ms;
	while (clock_mono_ms() < end)
		ev_run(L, EVRUN_ONCE);
	ev_timer_stop(L, &t);
}

static uint64_t pending(int i)
{
	struct hints_stats st;
	hints_get_stats(N[i].h, &st);
	return st.pending;
}

/* Run the loop until fn() holds, at most 20 s (a loaded machine stalls the loop): fn()'s
 * value.  The checks that follow say what is expected. */
static bool run_until(bool (*fn)(void))
{
	int64_t end = clock_mono_ms() + 20000;
	while (!fn() && clock_mono_ms() < end)
		run_ms(10);
	return fn();
}

/* Run until node 0 has nothing pending (or ms passed). */
static bool run_until_delivered(int ms)
{
	int64_t end = clock_mono_ms() + ms;
	while (clock_mono_ms() < end) {
		run_ms(10);
		if (pending(0) == 0)
			return true;
	}
	return false;
}

static bool some_delivered(void)
{
	struct hints_stats st;
	hints_get_stats(N[0].h, &st);
	return st.delivered > 0;
}

static bool none_delivering(void)
{
	struct hints_stats st;
	hints_get_stats(N[0].h, &st);
	return st.delivering == 0;
}

static bool one_pending(void)
{
	return pending(0) == 1;
}

static bool target_refused(void)
{
	struct hints_stats st;
	hints_get_stats(N[1].h, &st);
	return st.received_refused > 0;
}

static int peer_fn(void *ctx, const uint8_t host_id[16], struct hints_peer *out)
{
	(void)ctx;
	for (int i = 0; i < 2; i++)
		if (memcmp(N[i].hid.b, host_id, 16) == 0) {
			out->addr = N[i].addr;
			out->alive = !N[i].down;
			return 0;
		}
	return COL_ENOTFOUND;
}

static struct ring *ring_fn(void *ctx)
{
	(void)ctx;
	return ring_ref(RING);
}

static const struct cqltype *PK_T[1], *CK_T[1];
static struct store_column COLS[1];

static void open_table(struct hnode *n, const uint8_t id[16], int gc_grace,
                       struct store_table **out)
{
	PK_T[0] = cqltype_simple(CQLTYPE_VARCHAR);
	CK_T[0] = cqltype_simple(CQLTYPE_INT);
	COLS[0] = (struct store_column){.id = 1, .type = cqltype_simple(CQLTYPE_VARCHAR)};
	struct store_table_desc d = {.keyspace = "ks",
	                             .name = "t",
	                             .n_pk = 1,
	                             .pk_types = PK_T,
	                             .n_ck = 1,
	                             .ck_types = CK_T,
	                             .n_cols = 1,
	                             .cols = COLS,
	                             .gc_grace_seconds = gc_grace};
	memcpy(d.id, id, 16);
	struct cerr e = {0};
	cr_assert_eq(store_table_open(n->store, &d, out, &e), 0, "%s", e.msg);
}

static void hints_up(int i)
{
	struct hints_config c = HC;
	c.store = N[i].store;
	c.msg = N[i].msg;
	memcpy(c.host_id, N[i].hid.b, 16);
	struct cerr e = {0};
	cr_assert_eq(hints_new(&c, &N[i].h, &e), 0, "%s", e.msg);
}

static void msg_up(int i)
{
	struct messaging_config c = {0};
	c.cluster_name = "hintstest";
	c.host_id = N[i].hid;
	c.listen = N[i].addr;
	c.reconnect_min_ms = 20;
	c.reconnect_max_ms = 50;
	c.connect_timeout_ms = 300;
	struct cerr e = {0};
	cr_assert_eq(messaging_new(NL, &c, &N[i].msg, &e), 0, "%s", e.msg);
	N[i].addr = *messaging_listen_addr(N[i].msg);
}

static void setup(void)
{
	L = ev_loop_new(EVFLAG_AUTO);
	cr_assert_eq(net_loop_new(L, &NL), 0);
	if (!getenv("HINTSTEST_LOG"))
		log_set_fd(open("/dev/null", O_WRONLY));
	memset(&HC, 0, sizeof(HC));
	HC.enabled = true;
	HC.max_window_ms = 3600 * 1000;
	HC.flush_period_ms = 200;
	HC.timeout_ms = 300;
	HC.peer = peer_fn;
	HC.ring = ring_fn;
	const char *base = getenv("COLONNADE_TEST_NET");
	static int64_t toks[2][4];
	struct ring_endpoint eps[2];
	memset(eps, 0, sizeof(eps));
	uint64_t step = UINT64_MAX / 8;
	for (int i = 0; i < 2; i++) {
		struct hnode *n = &N[i];
		memset(n, 0, sizeof(*n));
		snprintf(n->dir, sizeof(n->dir), "/tmp/colonnade-hints-XXXXXX");
		cr_assert(mkdtemp(n->dir) != NULL);
		struct store_options o;
		store_options_init(&o);
		o.data_dir = n->dir;
		o.block_cache_bytes = 4u << 20;
		o.write_buffer_bytes = 4u << 20;
		o.background_jobs = 1;
		struct cerr e = {0};
		cr_assert_eq(store_open(&o, &n->store, &e), 0, "%s", e.msg);
		open_table(n, TABLE_ID, 864000, &n->tbl);
		for (int k = 0; k < 16; k++)
			n->hid.b[k] = (uint8_t)(0x50 + i * 16 + k);
		char h[64];
		snprintf(h, sizeof(h), "%s.%d", base && *base ? base : "127.0.0", i + 1);
		cr_assert_eq(net_addr_parse(h, 0, &n->addr, NULL), 0);
		msg_up(i);
		for (int j = 0; j < 4; j++)
			toks[i][j] = (int64_t)((uint64_t)INT64_MIN + step / 2 +
			                       (uint64_t)(j * 2 + i) * step);
		memcpy(eps[i].host_id, n->hid.b, 16);
		net_addr_host(&n->addr, eps[i].address, sizeof(eps[i].address));
		snprintf(eps[i].dc, sizeof(eps[i].dc), "dc%d", i + 1);
		snprintf(eps[i].rack, sizeof(eps[i].rack), "r1");
		eps[i].tokens = toks[i];
		eps[i].n_tokens = 4;
	}
	struct cerr e = {0};
	cr_assert_eq(ring_new(eps, 2, &RING, &e), 0, "%s", e.msg);
}

static void start_both(void)
{
	hints_up(0);
	hints_up(1);
}

static void teardown(void)
{
	for (int i = 0; i < 2; i++)
		if (N[i].msg)
			messaging_free(N[i].msg);
	for (int i = 0; i < 2; i++) {
		hints_free(N[i].h);
		store_close(N[i].store);
		char cmd[1024];
		snprintf(cmd, sizeof(cmd), "rm -rf %.63s", N[i].dir);
		cr_expect_eq(system(cmd), 0);
	}
	ring_unref(RING);
	RING = NULL;
	net_loop_free(NL);
	ev_loop_destroy(L);
	log_set_fd(2);
}

/* Ring index of node i. */
static size_t idx_of(int i)
{
	long k = ring_find_host(RING, N[i].hid.b);
	cr_assert(k >= 0);
	return (size_t)k;
}

/* A mutation of table tbl: partition key, row ck, column 1 = value, at ts. */
static void mutation(struct store_table *tbl, const char *key, int ck, const char *value,
                     int64_t ts, struct store_mutation *m)
{
	struct store_value pk = {(const uint8_t *)key, strlen(key)};
	uint8_t ckb[4];
	be32_store(ckb, (uint32_t)ck ^ 0x80000000u);
	struct store_value c = {ckb, 4};
	struct cerr e = {0};
	cr_assert_eq(store_mutation_init(m, tbl, &pk, 1, 0, &e), 0, "%s", e.msg);
	cr_assert_eq(store_mutation_set_cell(m, &c, 1, 1, NULL, value, strlen(value), ts, 0), 0);
}

static int hint(const char *key, int ck, const char *value, int64_t ts)
{
	struct store_mutation m;
	mutation(N[0].tbl, key, ck, value, ts, &m);
	size_t len;
	const uint8_t *b = store_mutation_bytes(&m, &len);
	int rc = hints_store(N[0].h, RING, idx_of(1), b, len, 0);
	store_mutation_release(&m);
	return rc;
}

struct got {
	char value[64];
	int64_t ts;
	int rows;
};

static int on_row(void *ctx, const struct store_partition *p, const struct store_row *r)
{
	(void)p;
	struct got *g = ctx;
	g->rows++;
	for (size_t i = 0; i < r->n_cells; i++)
		if (r->cells[i].col == 1) {
			snprintf(g->value, sizeof(g->value), "%.*s", (int)r->cells[i].value_len,
			         (const char *)r->cells[i].value);
			g->ts = r->cells[i].ts;
		}
	return 0;
}

/* What node i stores of partition key. */
static struct got read_node(int i, const char *key)
{
	struct got g = {0};
	struct store_value pk = {(const uint8_t *)key, strlen(key)};
	struct cerr e = {0};
	cr_assert_eq(
	        store_read_partition(N[i].tbl, &pk, 1, NULL, 0, 0, clock_wall_s(), on_row, &g, &e),
	        0, "%s", e.msg);
	return g;
}

static int count_kv(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
	(void)k;
	(void)kl;
	(void)v;
	(void)vl;
	(*(int *)ctx)++;
	return 0;
}

/* Hint records (0x01) in node i's hints CF. */
static int stored_hints(int i)
{
	int n = 0;
	uint8_t p = 0x01;
	cr_assert_eq(store_kv_scan(N[i].store, STORE_CF_HINTS, &p, 1, count_kv, &n, NULL), 0);
	return n;
}

/* ---- formats ----------------------------------------------------------------------------------
 */

Test(hints_format, golden_value_and_key)
{
	struct buf b;
	buf_init(&b);
	const uint8_t mut[] = {0x93, 0x01, 0x02, 0x03};
	cr_assert_eq(hints_value_encode(&b, mut, sizeof(mut)), 0);
	cr_assert_eq(b.len, HINTS_VALUE_HDR + 4);
	const uint8_t hdr[] = {1, 0, 0, 0, 0, 4};
	cr_expect_arr_eq(b.data, hdr, sizeof(hdr));
	uint64_t sum = be64_load(b.data + 6);
	cr_expect_neq(sum, 0);
	cr_expect_arr_eq(b.data + HINTS_VALUE_HDR, mut, 4);
	uint8_t id[16];
	for (int i = 0; i < 16; i++)
		id[i] = (uint8_t)i;
	uint8_t k[HINTS_KEY_LEN];
	hints_key(k, id, 0x0102030405060708ull, 9);
	cr_expect_eq(k[0], 1);
	cr_expect_arr_eq(k + 1, id, 16);
	const uint8_t tail[] = {1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 9};
	cr_expect_arr_eq(k + 17, tail, 16);
	struct buf m;
	buf_init(&m);
	hints_put_msg(&m, id, 5, mut, sizeof(mut));
	const uint8_t msg[] = {0x93, 0xc4, 16, 0,  1,  2,  3,  4,    5,    6,    7,    8,
	                       9,    10,   11, 12, 13, 14, 15, 0x05, 0x93, 0x01, 0x02, 0x03};
	cr_assert_eq(m.len, sizeof(msg));
	cr_expect_arr_eq(m.data, msg, sizeof(msg));
	uint8_t got_id[16];
	int64_t created;
	const uint8_t *gm;
	size_t gl;
	cr_assert_eq(hints_msg_decode(m.data, m.len, got_id, &created, &gm, &gl), 0);
	cr_expect_eq(created, 5);
	cr_expect_eq(gl, 4);
	cr_expect_arr_eq(got_id, id, 16);
	cr_expect_eq(hints_msg_decode(m.data, m.len - 1, got_id, &created, &gm, &gl), COL_ECORRUPT);
	buf_release(&m);
	buf_release(&b);
}

Test(hints_format, compressed_roundtrip_and_corruption)
{
	uint8_t mut[4000];
	for (size_t i = 0; i < sizeof(mut); i++)
		mut[i] = (uint8_t)(i % 7);
	struct buf b, out;
	buf_init(&b);
	buf_init(&out);
	cr_assert_eq(hints_value_encode(&b, mut, sizeof(mut)), 0);
	cr_expect_eq(b.data[1], 1, "compressed");
	cr_expect_lt(b.len, sizeof(mut) / 4);
	struct cerr e = {0};
	cr_assert_eq(hints_value_decode(b.data, b.len, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(out.len, sizeof(mut));
	cr_expect_arr_eq(out.data, mut, sizeof(mut));
	/* every truncation and every single flipped byte is refused, never crashes */
	for (size_t n = 0; n < b.len; n++) {
		buf_reset(&out);
		cr_expect_eq(hints_value_decode(b.data, n, &out, &e), COL_ECORRUPT, "len %zu", n);
	}
	for (size_t i = 0; i < b.len; i++) {
		b.data[i] ^= 0x40;
		buf_reset(&out);
		cr_expect_neq(hints_value_decode(b.data, b.len, &out, &e), 0, "byte %zu", i);
		b.data[i] ^= 0x40;
	}
	buf_release(&b);
	buf_release(&out);
}

/* ---- storing policy ----------------------------------------------------------------------- */

Test(hints_store, refusals_counted_by_reason, .init = setup, .fini = teardown)
{
	start_both();
	N[1].down = true;
	cr_assert_eq(hint("a", 1, "v", 100), 0);
	hints_set_enabled(N[0].h, false);
	cr_expect_eq(hint("a", 2, "v", 100), COL_EUNAVAILABLE);
	hints_set_enabled(N[0].h, true);
	struct hints_stats st;
	hints_get_stats(N[0].h, &st);
	cr_expect_eq(st.dropped[HINTS_DROP_DISABLED], 1);
	cr_expect_eq(st.stored, 1);
	cr_expect_eq(st.pending, 1);
	/* window: the target has been down longer than max_window_ms */
	hints_free(N[0].h);
	HC.max_window_ms = 50;
	hints_up(0); /* the down-since time survives the restart */
	cr_expect_eq(pending(0), 1);
	usleep(80 * 1000);
	cr_expect_eq(hint("a", 3, "v", 100), COL_EUNAVAILABLE);
	hints_get_stats(N[0].h, &st);
	cr_expect_eq(st.dropped[HINTS_DROP_WINDOW], 1);
	/* the DC list and the size budget */
	hints_free(N[0].h);
	HC.max_window_ms = 3600000;
	HC.disabled_dcs = "dcx, dc2";
	hints_up(0);
	cr_expect_eq(hint("a", 4, "v", 100), COL_EUNAVAILABLE);
	hints_get_stats(N[0].h, &st);
	cr_expect_eq(st.dropped[HINTS_DROP_DC], 1);
	hints_free(N[0].h);
	HC.disabled_dcs = NULL;
	HC.max_size_per_host = 100;
	hints_up(0);
	cr_expect_eq(hint("a", 5,
	                  "a value that passes the budget of one hundred bytes ......"
	                  "...............................",
	                  100),
	             COL_EUNAVAILABLE);
	hints_get_stats(N[0].h, &st);
	cr_expect_eq(st.dropped[HINTS_DROP_SIZE], 1);
	/* each drop recorded a range for repair */
	struct cerr e = {0};
	int n = 0;
	uint8_t p = 0x03;
	cr_assert_eq(store_kv_scan(N[0].store, STORE_CF_HINTS, &p, 1, count_kv, &n, &e), 0);
	cr_expect_geq(n, 1);
	cr_expect_eq(stored_hints(0), 1);
}

static int range_cb(void *ctx, const struct hints_range *r)
{
	struct hints_range *out = ctx;
	*out = *r;
	return 0;
}

Test(hints_store, dropped_ranges_readable_for_repair, .init = setup, .fini = teardown)
{
	HC.enabled = false;
	start_both();
	cr_expect_eq(hint("k1", 1, "v", 100), COL_EUNAVAILABLE);
	cr_expect_eq(hint("k1", 2, "v", 101), COL_EUNAVAILABLE);
	hints_free(N[0].h); /* flushes the counters */
	N[0].h = NULL;
	struct hints_range r = {0};
	struct cerr e = {0};
	cr_assert_eq(hints_ranges(N[0].store, range_cb, &r, &e), 0, "%s", e.msg);
	cr_expect_arr_eq(r.host_id, N[1].hid.b, 16);
	cr_expect_eq(r.count, 2);
	cr_expect(r.reasons & (1u << HINTS_DROP_DISABLED));
	int64_t tok;
	struct store_value pk = {(const uint8_t *)"k1", 2};
	cr_assert_eq(store_partition_token(N[0].tbl, &pk, 1, &tok, &e), 0);
	cr_expect_neq(r.start, r.end);
	if (r.start < r.end)
		cr_expect(tok > r.start && tok <= r.end);
	else
		cr_expect(tok > r.start || tok <= r.end);
	cr_assert_eq(hints_range_clear(N[0].store, r.host_id, r.start, r.end, &e), 0);
	memset(&r, 0, sizeof(r));
	cr_assert_eq(hints_ranges(N[0].store, range_cb, &r, &e), 0);
	cr_expect_eq(r.count, 0);
}

/* ---- delivery ----------------------------------------------------------------------------------
 */

Test(hints_deliver, on_up_in_order_deleted_after_ack, .init = setup, .fini = teardown)
{
	start_both();
	N[1].down = true;
	hints_peer_down(N[0].h, N[1].hid.b);
	char key[16];
	for (int i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		cr_assert_eq(hint(key, 1, key, 1000 + i), 0);
	}
	/* the same cell twice: the later write carries the higher timestamp */
	cr_assert_eq(hint("same", 1, "first", 5000), 0);
	cr_assert_eq(hint("same", 1, "second", 5001), 0);
	cr_expect_eq(pending(0), 302);
	run_ms(300); /* down: nothing moves */
	cr_expect_eq(pending(0), 302);
	cr_expect_eq(read_node(1, "k0").rows, 0);
	N[1].down = false;
	hints_peer_up(N[0].h, N[1].hid.b);
	cr_assert(run_until_delivered(5000), "pending %llu", (unsigned long long)pending(0));
	for (int i = 0; i < 300; i += 37) {
		snprintf(key, sizeof(key), "k%d", i);
		struct got g = read_node(1, key);
		cr_expect_eq(g.rows, 1, "%s", key);
		cr_expect_str_eq(g.value, key);
		cr_expect_eq(g.ts, 1000 + i, "original timestamp");
	}
	cr_expect_str_eq(read_node(1, "same").value, "second");
	cr_expect_eq(stored_hints(0), 0);
	struct hints_stats st;
	hints_get_stats(N[0].h, &st);
	cr_expect_eq(st.delivered, 302);
	hints_get_stats(N[1].h, &st);
	cr_expect_eq(st.received, 302);
}

Test(hints_deliver, target_vanishes_mid_delivery_then_resumes, .init = setup, .fini = teardown)
{
	HC.throttle_kib = 16; /* slow enough to cut it in the middle */
	start_both();
	char key[16], val[200];
	memset(val, 'x', sizeof(val) - 1);
	val[sizeof(val) - 1] = 0;
	N[1].down = true;
	for (int i = 0; i < 400; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		cr_assert_eq(hint(key, 1, val, 1000 + i), 0);
	}
	N[1].down = false;
	hints_peer_up(N[0].h, N[1].hid.b);
	(void)run_until(some_delivered);
	uint64_t left = pending(0);
	cr_assert(left > 0 && left < 400, "left %llu", (unsigned long long)left);
	/* the target's networking goes away: sends fail, delivery stalls, nothing is lost */
	N[1].down = true;
	hints_free(N[1].h);
	N[1].h = NULL;
	messaging_free(N[1].msg);
	N[1].msg = NULL;
	(void)run_until(none_delivering);
	uint64_t stalled = pending(0);
	cr_expect_eq(stored_hints(0), (int)stalled);
	struct hints_stats st;
	hints_get_stats(N[0].h, &st);
	cr_expect_eq(st.delivering, 0);
	/* the hinting node restarts too; then the target is back */
	hints_free(N[0].h);
	HC.throttle_kib = 0;
	hints_up(0);
	cr_expect_eq(pending(0), stalled);
	msg_up(1);
	hints_up(1);
	N[1].down = false;
	hints_peer_up(N[0].h, N[1].hid.b);
	cr_assert(run_until_delivered(8000), "pending %llu", (unsigned long long)pending(0));
	for (int i = 0; i < 400; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		cr_assert_eq(read_node(1, key).rows, 1, "%s lost", key);
	}
}

Test(hints_deliver, corrupt_unknown_table_dropped_column_and_expired_are_discarded, .init = setup,
     .fini = teardown)
{
	start_both();
	N[1].down = true;
	cr_assert_eq(hint("good1", 1, "v", 100), 0);
	/* a torn value between two good ones */
	uint8_t k[HINTS_KEY_LEN];
	hints_key(k, N[1].hid.b, (uint64_t)(clock_wall_us() / 1000), 1);
	const uint8_t torn[] = {1, 0, 0, 0, 0, 40, 1, 2, 3};
	cr_assert_eq(
	        store_kv_put(N[0].store, STORE_CF_HINTS, k, sizeof(k), torn, sizeof(torn), NULL),
	        0);
	/* a table only node 0 has: the target refuses it as unknown */
	static const uint8_t ONLY0[16] = {0xee, 1};
	struct store_table *t0;
	open_table(&N[0], ONLY0, 864000, &t0);
	struct store_mutation m;
	mutation(t0, "x", 1, "v", 100, &m);
	size_t len;
	const uint8_t *b = store_mutation_bytes(&m, &len);
	cr_assert_eq(hints_store(N[0].h, RING, idx_of(1), b, len, 0), 0);
	store_mutation_release(&m);
	/* gc_grace 0: expired at delivery */
	static const uint8_t NOGC[16] = {0xee, 2};
	struct store_table *tg;
	open_table(&N[0], NOGC, 0, &tg);
	open_table(&N[1], NOGC, 0, &tg);
	mutation(tg, "y", 1, "v", 100, &m);
	b = store_mutation_bytes(&m, &len);
	cr_assert_eq(hints_store(N[0].h, RING, idx_of(1), b, len, 0), 0);
	store_mutation_release(&m);
	/* a column dropped here since the write */
	static const uint8_t DROPCOL[16] = {0xee, 3};
	struct store_table *td;
	open_table(&N[0], DROPCOL, 864000, &td);
	open_table(&N[1], DROPCOL, 864000, &td);
	mutation(td, "z", 1, "v", 100, &m);
	b = store_mutation_bytes(&m, &len);
	cr_assert_eq(hints_store(N[0].h, RING, idx_of(1), b, len, 0), 0);
	store_mutation_release(&m);
	struct store_column other = {.id = 2, .type = cqltype_simple(CQLTYPE_VARCHAR)};
	COLS[0] = other;
	struct store_table_desc dd = *store_table_desc(td);
	dd.cols = COLS;
	dd.n_cols = 1;
	struct cerr e = {0};
	cr_assert_eq(store_table_open(N[0].store, &dd, &td, &e), 0, "%s", e.msg);
	cr_assert_eq(hint("good2", 1, "v", 100), 0);
	hints_free(N[0].h);
	hints_up(0); /* counts the torn value too */
	cr_expect_eq(pending(0), 6);
	usleep(5000);
	N[1].down = false;
	hints_peer_up(N[0].h, N[1].hid.b);
	cr_assert(run_until_delivered(5000), "pending %llu", (unsigned long long)pending(0));
	cr_expect_eq(read_node(1, "good1").rows, 1);
	cr_expect_eq(read_node(1, "good2").rows, 1);
	struct hints_stats st;
	hints_get_stats(N[0].h, &st);
	cr_expect_eq(st.delivered, 2);
	cr_expect_eq(st.dropped[HINTS_DROP_CORRUPT], 1);
	cr_expect_eq(st.dropped[HINTS_DROP_UNKNOWN_TABLE], 1);
	cr_expect_eq(st.dropped[HINTS_DROP_EXPIRED], 1);
	cr_expect_eq(st.dropped[HINTS_DROP_UNKNOWN_COLUMN], 1);
	cr_expect_eq(read_node(1, "z").rows, 0);
	cr_expect_eq(stored_hints(0), 0);
}

/* A target that never comes back: its expired hints go at the flush period, the others stay. */
Test(hints_deliver, expired_hints_of_a_down_target_are_purged, .init = setup, .fini = teardown)
{
	start_both();
	N[1].down = true;
	hints_peer_down(N[0].h, N[1].hid.b);
	static const uint8_t NOGC[16] = {0xee, 4};
	struct store_table *tg;
	open_table(&N[0], NOGC, 0, &tg);
	for (int i = 0; i < 3; i++) {
		struct store_mutation m;
		char k[8];
		snprintf(k, sizeof(k), "e%d", i);
		mutation(tg, k, 1, "v", 100, &m);
		size_t len;
		const uint8_t *b = store_mutation_bytes(&m, &len);
		cr_assert_eq(hints_store(N[0].h, RING, idx_of(1), b, len, 0), 0);
		store_mutation_release(&m);
	}
	cr_assert_eq(hint("kept", 1, "v", 100), 0); /* gc_grace 10 days */
	usleep(5000);
	(void)run_until(one_pending); /* at a flush period */
	cr_expect_eq(pending(0), 1);
	cr_expect_eq(stored_hints(0), 1);
	struct hints_stats st;
	hints_get_stats(N[0].h, &st);
	cr_expect_eq(st.dropped[HINTS_DROP_EXPIRED], 3);
	N[1].down = false;
	hints_peer_up(N[0].h, N[1].hid.b);
	cr_assert(run_until_delivered(3000));
	cr_expect_eq(read_node(1, "kept").rows, 1);
}

Test(hints_deliver, wrong_host_is_refused_and_kept, .init = setup, .fini = teardown)
{
	start_both();
	N[1].down = true;
	cr_assert_eq(hint("a", 1, "v", 100), 0);
	/* node 1's address now answers as another host: nothing applied, nothing deleted */
	memset(N[1].h->cfg.host_id, 0x99, 16);
	N[1].down = false;
	hints_peer_up(N[0].h, N[1].hid.b);
	(void)run_until(target_refused);
	cr_expect_eq(pending(0), 1);
	cr_expect_eq(read_node(1, "a").rows, 0);
	struct hints_stats st;
	hints_get_stats(N[1].h, &st);
	cr_expect_geq(st.received_refused, 1);
	memcpy(N[1].h->cfg.host_id, N[1].hid.b, 16);
	cr_assert(run_until_delivered(3000)); /* the flush period retries */
	cr_expect_eq(read_node(1, "a").rows, 1);
}

Test(hints_deliver, throttle_holds_the_rate, .init = setup, .fini = teardown)
{
	HC.throttle_kib = 64; /* two nodes: 64 KiB/s for the one target */
	/* No HINT times out on a loaded machine: a timed-out one is sent again, and may have
	 * been applied too (the target would count its bytes twice). */
	HC.timeout_ms = 5000;
	start_both();
	N[1].down = true;
	char key[16], val[1001];
	memset(val, 'v', 1000);
	val[1000] = 0;
	for (int i = 0; i < 160; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		cr_assert_eq(hint(key, 1, val, 100), 0);
	}
	N[1].down = false;
	int64_t t0 = clock_mono_us();
	hints_peer_up(N[0].h, N[1].hid.b);
	cr_assert(run_until_delivered(10000));
	double s = (double)(clock_mono_us() - t0) / 1e6;
	struct hints_stats st, st0;
	hints_get_stats(N[1].h, &st);
	hints_get_stats(N[0].h, &st0);
	double rate = (double)st.received_bytes / s / 1024.0;
	cr_expect(rate > 64 * 0.85 && rate < 64 * 1.1,
	          "%.1f KiB/s over %.2f s (%llu hints received, %llu delivered, %llu failed)", rate,
	          s, (unsigned long long)st.received, (unsigned long long)st0.delivered,
	          (unsigned long long)st0.failed);
	cr_expect_eq(st.received, 160, "each hint applied once");
}

/*
 * The throttle is never ahead of its rate, even right after the loop stalled (as a loaded
 * machine stalls it) while delivering hints that compress well: the step's budget counts
 * stored (compressed) bytes, the throttle mutation bytes, and a step ends where the
 * throttle is spent.  And the stall's share is caught up: the whole replay keeps the rate.
 */
Test(hints_deliver, throttle_after_a_stall, .init = setup, .fini = teardown)
{
	HC.throttle_kib = 64;
	HC.timeout_ms = 5000; /* no HINT is sent twice */
	start_both();
	N[1].down = true;
	char key[16], val[1001];
	memset(val, 'v', 1000);
	val[1000] = 0;
	for (int i = 0; i < 160; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		cr_assert_eq(hint(key, 1, val, 100), 0);
	}
	N[1].down = false;
	int64_t t0 = clock_mono_us();
	hints_peer_up(N[0].h, N[1].hid.b);
	bool stalled = false;
	struct hints_stats st;
	int64_t end = clock_mono_ms() + 20000;
	while (pending(0) > 0 && clock_mono_ms() < end) {
		run_ms(10);
		/* the bucket starts empty at t0 or later and fills at the rate: every byte
		 * applied so far was allowed by then, give or take the hint that overdrew it */
		hints_get_stats(N[1].h, &st);
		double allowed = 64 * 1024.0 * (double)(clock_mono_us() - t0) / 1e6 + 1100;
		cr_assert_leq(st.received_bytes, allowed, "%llu bytes applied, %.0f allowed",
		              (unsigned long long)st.received_bytes, allowed);
		if (!stalled && clock_mono_us() - t0 > 500000) {
			struct timespec ts = {0, 400 * 1000000L};
			nanosleep(&ts, NULL); /* the loop does not run */
			stalled = true;
		}
	}
	cr_assert_eq(pending(0), 0, "pending %llu", (unsigned long long)pending(0));
	double s = (double)(clock_mono_us() - t0) / 1e6;
	hints_get_stats(N[1].h, &st);
	double rate = (double)st.received_bytes / s / 1024.0;
	cr_expect(rate > 64 * 0.85 && rate < 64 * 1.1, "%.1f KiB/s over %.2f s", rate, s);
	cr_expect_eq(st.received, 160, "each hint applied once");
}

Test(hints_deliver, pause_and_truncate, .init = setup, .fini = teardown)
{
	start_both();
	N[1].down = true;
	cr_assert_eq(hint("a", 1, "v", 100), 0);
	cr_assert_eq(hint("b", 1, "v", 100), 0);
	hints_set_paused(N[0].h, true);
	N[1].down = false;
	hints_peer_up(N[0].h, N[1].hid.b);
	run_ms(400);
	cr_expect_eq(pending(0), 2);
	struct cerr e = {0};
	cr_assert_eq(hints_truncate(N[0].h, N[1].hid.b, &e), 0, "%s", e.msg);
	cr_expect_eq(pending(0), 0);
	cr_expect_eq(stored_hints(0), 0);
	hints_set_paused(N[0].h, false);
	run_ms(300);
	cr_expect_eq(read_node(1, "a").rows, 0);
	struct hints_stats st;
	hints_get_stats(N[0].h, &st);
	cr_expect_eq(st.dropped[HINTS_DROP_TRUNCATED], 2);
}
