/*
 * Storage engine: layouts (golden bytes), LWW merge, tombstones, TTL,
 * compaction filter, slices, token-range scans, bad input, lifecycle.
 */
#include "core/buf.h"
#include "core/cqltype.h"
#include "core/err.h"
#include "core/murmur3.h"
#include "storage/storage.h"
#include "tests/unit/store_fixture.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOW 1800000000LL /* a fixed "now" (2027-01-15) for deterministic bytes */

static char dir[256];
static struct store *st;

static void open_store(void)
{
	struct store_options o;
	test_store_options(&o, dir);
	/* these tests pin the gc_grace rule alone (tombstone_gc 'repair': test_storage_repair) */
	o.tombstone_gc = STORE_GC_TIMEOUT;
	struct cerr e = {0};
	cr_assert_eq(store_open(&o, &st, &e), 0, "%s", e.msg);
}

static void setup(void)
{
	test_dir_make(dir, sizeof(dir), "storage");
	open_store();
}

static void teardown(void)
{
	store_close(st);
	st = NULL;
	test_dir_remove(dir);
}

TestSuite(storage, .init = setup, .fini = teardown);

/* ---- table helpers ------------------------------------------------------------------------ */

static const struct cqltype *T(enum cqltype_kind k)
{
	return cqltype_simple(k);
}

/* (pk int, ck int [DESC]) + cols: 1 = text, 2 = int, 3 = set<text>, 4 = static int */
static struct store_table *make_table(uint8_t idbyte, size_t n_ck, bool desc, int32_t gc)
{
	static const struct cqltype *pk[1], *ck[2];
	static bool ckd[2];
	static struct store_column cols[4];
	static const struct cqltype *settype;
	if (!settype) {
		cqltype_parse("set<text>", 9, &settype, NULL);
	}
	pk[0] = T(CQLTYPE_INT);
	ck[0] = T(CQLTYPE_INT);
	ck[1] = T(CQLTYPE_VARCHAR);
	ckd[0] = desc;
	ckd[1] = false;
	cols[0] = (struct store_column){.id = 1, .type = T(CQLTYPE_VARCHAR)};
	cols[1] = (struct store_column){.id = 2, .type = T(CQLTYPE_INT)};
	cols[2] = (struct store_column){.id = 3, .type = settype};
	cols[3] = (struct store_column){.id = 4, .type = T(CQLTYPE_INT), .is_static = true};
	struct store_table_desc d = {.keyspace = "ks",
	                             .name = "tbl",
	                             .n_pk = 1,
	                             .pk_types = pk,
	                             .n_ck = n_ck,
	                             .ck_types = ck,
	                             .ck_desc = ckd,
	                             .n_cols = 4,
	                             .cols = cols,
	                             .gc_grace_seconds = gc};
	d.id[15] = idbyte;
	struct store_table *t = NULL;
	struct cerr e = {0};
	cr_assert_eq(store_table_open(st, &d, &t, &e), 0, "%s", e.msg);
	return t;
}

/* A table of keyspace ks without clustering columns: partition key pk (n_pk types) and
 * one regular column; its id is zero (the caller sets a byte). */
static struct store_table_desc one_column_desc(const char *name, const struct cqltype *const *pk,
                                               size_t n_pk, const struct store_column *col,
                                               int32_t gc)
{
	return (struct store_table_desc){.keyspace = "ks",
	                                 .name = name,
	                                 .n_pk = n_pk,
	                                 .pk_types = pk,
	                                 .n_cols = 1,
	                                 .cols = col,
	                                 .gc_grace_seconds = gc};
}

static struct store_table *open_table(const struct store_table_desc *d)
{
	struct store_table *t = NULL;
	struct cerr e = {0};
	cr_assert_eq(store_table_open(st, d, &t, &e), 0, "%s", e.msg);
	return t;
}

static struct store_value V(const void *p, size_t n) {
	return (struct store_value){p, n};
}

struct intbox {
	uint8_t b[4];
};
static struct intbox I(int32_t v) {
	struct intbox x;
	be32_store(x.b, (uint32_t)v);
	return x;
}

static void
begin(struct store_mutation *m, struct store_table *t, int32_t pk)
{
	struct intbox k = I(pk);
	struct store_value v = V(k.b, 4);
	struct cerr e = {0};
	cr_assert_eq(store_mutation_init(m, t, &v, 1, NOW, &e), 0, "%s", e.msg);
}

static void apply(struct store_mutation *m)
{
	struct cerr e = {0};
	cr_assert_eq(store_apply(st, m, &e), 0, "%s", e.msg);
	store_mutation_release(m);
}

static void set_text(struct store_table *t, int32_t pk, int32_t ck, const char *val, int64_t ts,
                     int32_t ttl)
{
	struct store_mutation m;
	begin(&m, t, pk);
	struct intbox c = I(ck);
	struct store_value cv = V(c.b, 4);
	cr_assert_eq(store_mutation_set_cell(&m, &cv, 1, 1, NULL, val, strlen(val), ts, ttl), 0,
	             "%s", m.err.msg);
	apply(&m);
}

/* Collected read results. */
struct row_out {
	int32_t pk, ck;
	bool marker;
	int n_cells;
	char text[64];
	int64_t text_ts;
	int32_t text_ttl;
	bool text_tomb;
	int32_t ival;
	bool has_ival;
	int n_set;
	char set[8][16];
	bool is_static;
	int64_t token;
};

struct rows {
	struct row_out r[512];
	int n;
	int stop_after;
};

static int collect(void *ctx, const struct store_partition *p, const struct store_row *r)
{
	struct rows *rs = ctx;
	cr_assert_lt(rs->n, 512);
	struct row_out *o = &rs->r[rs->n++];
	memset(o, 0, sizeof(*o));
	o->pk = (int32_t)be32_load(p->pk[0].p);
	o->token = p->token;
	o->is_static = r->is_static;
	o->ck = (!r->is_static && r->n_ck) ? (int32_t)be32_load(r->ck[0].p) : -1;
	o->marker = r->has_marker;
	o->n_cells = (int)r->n_cells;
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct store_cell *c = &r->cells[i];
		if (c->col == 1) {
			snprintf(o->text, sizeof(o->text), "%.*s", (int)c->value_len,
			         (const char *)c->value);
			o->text_ts = c->ts;
			o->text_ttl = c->ttl;
			o->text_tomb = c->tombstone;
		} else if (c->col == 2 || c->col == 4) {
			o->has_ival = !c->tombstone;
			if (!c->tombstone)
				o->ival = (int32_t)be32_load(c->value);
		} else if (c->col == 3 && !c->tombstone && o->n_set < 8) {
			snprintf(o->set[o->n_set++], 16, "%.*s", (int)c->path_len,
			         (const char *)c->path);
		}
	}
	if (rs->stop_after && rs->n >= rs->stop_after)
		return 7;
	return 0;
}

static void read_all(struct store_table *t, int32_t pk, const struct store_slice *sl,
                     unsigned flags, size_t limit, int64_t now, struct rows *out)
{
	memset(out, 0, sizeof(*out));
	struct intbox k = I(pk);
	struct store_value v = V(k.b, 4);
	struct cerr e = {0};
	int rc = store_read_partition(t, &v, 1, sl, flags, limit, now, collect, out, &e);
	cr_assert_eq(rc, 0, "%s", e.msg);
}

struct rawkv {
	struct buf all; /* concatenated [u32 klen][key][u32 vlen][val] */
	int n;
};
static int raw_cb(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
	struct rawkv *r = ctx;
	buf_put_u32be(&r->all, (uint32_t)kl);
	buf_put(&r->all, k, kl);
	buf_put_u32be(&r->all, (uint32_t)vl);
	buf_put(&r->all, v, vl);
	r->n++;
	return 0;
}
static void raw_dump(struct store_table *t, struct rawkv *r)
{
	buf_init(&r->all);
	r->n = 0;
	cr_assert_eq(store_scan_raw(t, 0, 0, raw_cb, r, NULL), 0);
}

/* ---- layout: golden bytes ---------------------------------------------------------------- */

static void hexeq(const uint8_t *got, size_t n, const char *hex, const char *what)
{
	char buf[1024] = "";
	for (size_t i = 0; i < n && 2 * i + 2 < sizeof(buf); i++)
		sprintf(buf + 2 * i, "%02x", got[i]);
	cr_expect_str_eq(buf, hex, "%s", what);
}

Test(storage, golden_key_value_and_mutation_bytes)
{
	struct store_table *t = make_table(1, 1, false, 864000);
	struct store_mutation m;
	begin(&m, t, 1);
	struct intbox c = I(-2);
	struct store_value cv = V(c.b, 4);
	cr_assert_eq(store_mutation_set_cell(&m, &cv, 1, 1, NULL, "hi", 2, 0x0102030405LL, 0), 0);
	cr_assert_eq(store_mutation_delete_row(&m, &cv, 1, 7), 0);
	size_t len;
	const uint8_t *mb = store_mutation_bytes(&m, &len);
	/* [1, bin16 id, now, [bin 00000001], array32 [ [2,ts,0,[ck],1,bin"",bin"hi"], [4,7,[ck]] ]]
	 */
	hexeq(mb, len,
	      "9501c41000000000000000000000000000000001ce6b49d20091c40400000001dd00000002"
	      "9702cf0000000102030405"
	      "0091c404fffffffe01c0c4026869"
	      "930407"
	      "91c404fffffffe",
	      "mutation bytes");
	apply(&m);
	struct rawkv r;
	raw_dump(t, &r);
	cr_assert_eq(r.n, 2);
	/* token of int 1 (Cassandra: 00000001) */
	int64_t tok = murmur3_token("\0\0\0\1", 4);
	char want[512];
	uint64_t ft = (uint64_t)tok ^ (1ULL << 63);
	/* key: token | 00 ff 00 ff 00 ff 01 00 01 | 03 | 02 7ffffffe | 10 */
	snprintf(want, sizeof(want), "%016llx00ff00ff00ff01000103027ffffffe10",
	         (unsigned long long)ft);
	hexeq(r.all.data + 4, be32_load(r.all.data), want, "row tombstone key");
	size_t at = 4 + be32_load(r.all.data);
	/* value: tombstone flag, ts 7, ldt NOW */
	hexeq(r.all.data + at + 4, be32_load(r.all.data + at), "0100000000000000076b49d200",
	      "row tombstone value");
	at += 4 + be32_load(r.all.data + at);
	snprintf(want, sizeof(want), "%016llx00ff00ff00ff01000103027ffffffe1200000001",
	         (unsigned long long)ft);
	hexeq(r.all.data + at + 4, be32_load(r.all.data + at), want, "cell key");
	at += 4 + be32_load(r.all.data + at);
	hexeq(r.all.data + at + 4, be32_load(r.all.data + at), "0000000001020304056869",
	      "cell value");
	buf_release(&r.all);

	/* expiring value layout: flags 02, ts, ttl, expiry */
	set_text(t, 2, 0, "x", 5, 100);
	struct rows rs;
	read_all(t, 2, NULL, 0, 0, NOW, &rs);
	cr_assert_eq(rs.n, 1);
	cr_expect_eq(rs.r[0].text_ttl, 100);
}

/* The n-th raw pair of a dump (key or value). */
static const uint8_t *raw_at(const struct rawkv *r, int n, bool value, size_t *len)
{
	size_t at = 0;
	for (int i = 0; i < n; i++) {
		at += 4 + be32_load(r->all.data + at);
		at += 4 + be32_load(r->all.data + at);
	}
	if (value)
		at += 4 + be32_load(r->all.data + at);
	*len = be32_load(r->all.data + at);
	return r->all.data + at + 4;
}

Test(storage, golden_header_sections)
{
	struct store_table *t = make_table(24, 1, false, 864000);
	struct store_mutation m;
	begin(&m, t, 0);
	struct intbox sv = I(9), a = I(1), b = I(2);
	struct store_value av = V(a.b, 4), bv = V(b.b, 4);
	cr_assert_eq(store_mutation_delete_partition(&m, 3), 0);
	cr_assert_eq(store_mutation_set_cell(&m, NULL, 0, 4, NULL, sv.b, 4, 4, 60), 0);
	cr_assert_eq(store_mutation_delete_range(&m, &av, 1, true, &bv, 1, false, 5), 0);
	apply(&m);
	struct rawkv r;
	raw_dump(t, &r);
	cr_assert_eq(r.n, 3);
	char pfx[64], want[256];
	int64_t tok = murmur3_token("\0\0\0\0", 4);
	/* int 0 escaped: 00ff00ff00ff00ff then 0001 */
	snprintf(pfx, sizeof(pfx), "%016llx00ff00ff00ff00ff0001",
	         (unsigned long long)((uint64_t)tok ^ (1ULL << 63)));
	size_t n;
	const uint8_t *p = raw_at(&r, 0, false, &n);
	snprintf(want, sizeof(want), "%s00", pfx);
	hexeq(p, n, want, "partition tombstone key");
	p = raw_at(&r, 0, true, &n);
	hexeq(p, n, "0100000000000000036b49d200", "partition tombstone value");
	p = raw_at(&r, 1, false, &n);
	snprintf(want, sizeof(want), "%s0100000004", pfx);
	hexeq(p, n, want, "static cell key");
	p = raw_at(&r, 1, true, &n);
	/* expiring: flags 02, ts 4, ttl 60 (0x3c), expiry NOW+60 */
	hexeq(p, n, "0200000000000000040000003c6b49d23c00000009", "expiring static value");
	p = raw_at(&r, 2, false, &n);
	/* [1, 2): start 02 80000001 00 (inclusive), end 02 80000002 00 (exclusive) */
	snprintf(want, sizeof(want),
	         "%s0202800000010002800000020"
	         "0",
	         pfx);
	hexeq(p, n, want, "range tombstone key");
	buf_release(&r.all);
}

Test(storage, composite_partition_key_serialization)
{
	static const struct cqltype *pk[2];
	pk[0] = T(CQLTYPE_VARCHAR);
	pk[1] = T(CQLTYPE_INT);
	struct store_column col = {.id = 1, .type = T(CQLTYPE_INT)};
	struct store_table_desc d = one_column_desc("comp", pk, 2, &col, 10);
	d.id[0] = 9;
	struct store_table *t = open_table(&d);
	struct intbox i = I(7);
	struct store_value k[2] = {V("ab", 2), V(i.b, 4)};
	struct buf b;
	buf_init(&b);
	cr_assert_eq(store_partition_key(t, k, 2, &b, NULL), 0);
	/* CompositeType: [u16 len][bytes][0x00] per component */
	hexeq(b.data, b.len,
	      "00026162000004000000070"
	      "0",
	      "composite key");
	int64_t tok;
	cr_assert_eq(store_partition_token(t, k, 2, &tok, NULL), 0);
	cr_expect_eq(tok, murmur3_token(b.data, b.len));
	buf_release(&b);
	/* single-component key = raw bytes */
	struct store_table *t1 = make_table(2, 1, false, 10);
	struct store_value one = V(i.b, 4);
	buf_init(&b);
	cr_assert_eq(store_partition_key(t1, &one, 1, &b, NULL), 0);
	hexeq(b.data, b.len, "00000007", "single key");
	buf_release(&b);
}

/* ---- LWW ------------------------------------------------------------------------------------ */

/* Apply the two writes in both orders to two partitions; both must read w and hold the
 * same bytes. */
static void both_orders(struct store_table *t, void (*w1)(struct store_table *, int32_t),
                        void (*w2)(struct store_table *, int32_t), struct rows *out)
{
	w1(t, 100);
	w2(t, 100);
	w2(t, 200);
	w1(t, 200);
	struct rows a, b;
	read_all(t, 100, NULL, STORE_READ_TOMBSTONES, 0, NOW, &a);
	read_all(t, 200, NULL, STORE_READ_TOMBSTONES, 0, NOW, &b);
	cr_assert_eq(a.n, b.n);
	for (int i = 0; i < a.n; i++) {
		cr_expect_str_eq(a.r[i].text, b.r[i].text);
		cr_expect_eq(a.r[i].text_tomb, b.r[i].text_tomb);
		cr_expect_eq(a.r[i].text_ts, b.r[i].text_ts);
		cr_expect_eq(a.r[i].text_ttl, b.r[i].text_ttl);
	}
	*out = a;
}

static void w_old(struct store_table *t, int32_t pk)
{
	set_text(t, pk, 1, "old", 10, 0);
}
static void w_new(struct store_table *t, int32_t pk)
{
	set_text(t, pk, 1, "new", 20, 0);
}
static void w_b10(struct store_table *t, int32_t pk)
{
	set_text(t, pk, 1, "bbb", 10, 0);
}
static void w_a10(struct store_table *t, int32_t pk)
{
	set_text(t, pk, 1, "aaa", 10, 0);
}
static void w_a10ttl(struct store_table *t, int32_t pk)
{
	set_text(t, pk, 1, "aaa", 10, 500);
}
static void w_del10(struct store_table *t, int32_t pk)
{
	struct store_mutation m;
	begin(&m, t, pk);
	struct intbox c = I(1);
	struct store_value cv = V(c.b, 4);
	cr_assert_eq(store_mutation_delete_cell(&m, &cv, 1, 1, NULL, 10), 0);
	apply(&m);
}

Test(storage, lww_newer_wins_and_tie_rules)
{
	struct store_table *t = make_table(3, 1, false, 864000);
	struct rows r;
	both_orders(t, w_old, w_new, &r);
	cr_assert_eq(r.n, 1);
	cr_expect_str_eq(r.r[0].text, "new");
	cr_expect_eq(r.r[0].text_ts, 20);

	t = make_table(4, 1, false, 864000);
	both_orders(t, w_a10, w_b10, &r); /* tie between lives: greater value wins */
	cr_expect_str_eq(r.r[0].text, "bbb");

	t = make_table(5, 1, false, 864000);
	both_orders(t, w_b10, w_del10, &r); /* tie: tombstone beats live */
	cr_assert_eq(r.n, 1);
	cr_expect(r.r[0].text_tomb);
	struct rows live;
	read_all(t, 100, NULL, 0, 0, NOW, &live);
	cr_expect_eq(live.n, 0, "a deleted cell is not returned");

	t = make_table(6, 1, false, 864000);
	both_orders(t, w_b10, w_a10ttl, &r); /* tie: expiring beats plain (CASSANDRA-14592) */
	cr_expect_str_eq(r.r[0].text, "aaa");
	cr_expect_eq(r.r[0].text_ttl, 500);

	t = make_table(7, 1, false, 864000);
	both_orders(t, w_a10ttl, w_del10, &r); /* tie: tombstone beats expiring */
	cr_expect(r.r[0].text_tomb);

	/* the merged bytes converge, including after compaction */
	t = make_table(8, 1, false, 864000);
	w_b10(t, 100);
	w_a10(t, 100);
	w_a10(t, 200);
	w_b10(t, 200);
	struct rawkv x;
	raw_dump(t, &x);
	cr_assert_eq(x.n, 2);
	/* keys differ (partition), values equal */
	size_t k1 = be32_load(x.all.data), v1at = 4 + k1;
	size_t v1 = be32_load(x.all.data + v1at);
	size_t k2at = v1at + 4 + v1, k2 = be32_load(x.all.data + k2at);
	size_t v2at = k2at + 4 + k2;
	cr_expect_eq(v1, be32_load(x.all.data + v2at));
	cr_expect_eq(memcmp(x.all.data + v1at + 4, x.all.data + v2at + 4, v1), 0);
	buf_release(&x.all);
}

/* ---- RECONCILE: one function decides, for every caller --------------------------------- */

static struct store_cell_version live(int64_t ts, const char *v, int32_t ttl, int64_t exp)
{
	return (struct store_cell_version){.ts = ts,
	                                   .ttl = ttl,
	                                   .ldt = exp,
	                                   .value = (const uint8_t *)v,
	                                   .value_len = strlen(v)};
}
static struct store_cell_version tomb(int64_t ts, int64_t ldt)
{
	return (struct store_cell_version){.ts = ts, .tombstone = true, .ldt = ldt};
}

Test(storage, reconcile_rules)
{
	/* each pair: the first wins over the second, whichever is passed first */
	struct {
		const char *rule;
		struct store_cell_version w, l;
	} cases[] = {
	        {"higher timestamp, live over tombstone", live(11, "a", 0, 0), tomb(10, NOW)},
	        {"higher timestamp, tombstone over live", tomb(11, NOW), live(10, "z", 0, 0)},
	        {"higher timestamp, whatever the value", live(11, "a", 0, 0), live(10, "z", 0, 0)},
	        {"equal timestamps: tombstone over live", tomb(10, NOW), live(10, "z", 0, 0)},
	        {"equal timestamps: tombstone over expiring", tomb(10, NOW - 5),
	         live(10, "z", 100, NOW + 100)},
	        {"equal timestamps: expiring over plain", live(10, "a", 100, NOW + 100),
	         live(10, "z", 0, 0)},
	        {"both tombstones: later deletion time", tomb(10, NOW + 1), tomb(10, NOW)},
	        {"both expiring: later expiry", live(10, "a", 100, NOW + 101),
	         live(10, "z", 100, NOW + 100)},
	        {"both plain: greater value", live(10, "b", 0, 0), live(10, "a", 0, 0)},
	        {"both plain: longer value on a common prefix", live(10, "ab", 0, 0),
	         live(10, "a", 0, 0)},
	        {"greater value as unsigned bytes", live(10, "\xff", 0, 0), live(10, "\x7f", 0, 0)},
	        {"same timestamp, expiry and value: longer TTL", live(10, "a", 200, NOW + 100),
	         live(10, "a", 100, NOW + 100)},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_expect_gt(store_cell_reconcile(&cases[i].w, &cases[i].l), 0, "%s",
		             cases[i].rule);
		cr_expect_lt(store_cell_reconcile(&cases[i].l, &cases[i].w), 0, "%s (reversed)",
		             cases[i].rule);
		cr_expect_eq(store_cell_reconcile(&cases[i].w, &cases[i].w), 0, "%s (itself)",
		             cases[i].rule);
	}
	/* the same version compares equal: a replica holding it needs nothing */
	struct store_cell_version a = live(10, "same", 60, NOW + 60),
	                          b = live(10, "same", 60, NOW + 60);
	cr_expect_eq(store_cell_reconcile(&a, &b), 0);
	struct store_cell_version d1 = tomb(10, NOW), d2 = tomb(10, NOW);
	cr_expect_eq(store_cell_reconcile(&d1, &d2), 0);
	/* an empty live value (a row marker) against a tombstone at the same time */
	struct store_cell_version mk = live(10, "", 0, 0), del = tomb(10, NOW);
	cr_expect_lt(store_cell_reconcile(&mk, &del), 0);
}

/* Write val at ts with ttl, as a mutation made at `now` (its expiry is now + ttl). */
static void set_text_at(struct store_table *t, int32_t pk, const char *val, int64_t ts, int32_t ttl,
                        int64_t now)
{
	struct store_mutation m;
	struct intbox k = I(pk), c = I(1);
	struct store_value kv = V(k.b, 4), cv = V(c.b, 4);
	struct cerr e = {0};
	cr_assert_eq(store_mutation_init(&m, t, &kv, 1, now, &e), 0, "%s", e.msg);
	cr_assert_eq(store_mutation_set_cell(&m, &cv, 1, 1, NULL, val, strlen(val), ts, ttl), 0,
	             "%s", m.err.msg);
	apply(&m);
}

static void expect_same_dump(struct store_table *a, struct store_table *b, const char *when)
{
	struct rawkv x, y;
	raw_dump(a, &x);
	raw_dump(b, &y);
	cr_assert_eq(x.n, 1, "%s", when);
	cr_assert_eq(y.n, 1, "%s", when);
	cr_expect(x.all.len == y.all.len && memcmp(x.all.data, y.all.data, x.all.len) == 0,
	          "%s: the replicas' bytes differ", when);
	buf_release(&x.all);
	buf_release(&y.all);
}

/*
 * Two writes with the same timestamp, value and expiry but different TTLs (made
 * 100 s apart): two replicas that receive them in opposite orders hold the same
 * bytes, before and after compaction — the final tie-break (longer TTL).
 */
Test(storage, reconcile_ttl_tie_break_converges_in_any_order)
{
	struct store_table *r1 = make_table(40, 1, false, 864000);
	struct store_table *r2 = make_table(41, 1, false, 864000);
	set_text_at(r1, 7, "v", 50, 100, NOW);
	set_text_at(r1, 7, "v", 50, 200, NOW - 100);
	set_text_at(r2, 7, "v", 50, 200, NOW - 100);
	set_text_at(r2, 7, "v", 50, 100, NOW);
	expect_same_dump(r1, r2, "in the memtable");
	struct rows r;
	read_all(r1, 7, NULL, 0, 0, NOW, &r);
	cr_assert_eq(r.n, 1);
	cr_expect_eq(r.r[0].text_ttl, 200, "the longer TTL wins");
	struct cerr e = {0};
	cr_assert_eq(store_table_compact(r1, NOW, &e), 0, "%s", e.msg);
	expect_same_dump(r1, r2, "one replica compacted");
	cr_assert_eq(store_table_compact(r2, NOW, &e), 0, "%s", e.msg);
	expect_same_dump(r1, r2, "both compacted");
}

Test(storage, ttl_expiry)
{
	struct store_table *t = make_table(10, 1, false, 864000);
	set_text(t, 1, 1, "short", 10, 60);
	struct rows r;
	read_all(t, 1, NULL, 0, 0, NOW + 59, &r);
	cr_assert_eq(r.n, 1);
	cr_expect_str_eq(r.r[0].text, "short");
	read_all(t, 1, NULL, 0, 0, NOW + 60, &r);
	cr_expect_eq(r.n, 0, "expired at now >= expiry");
	read_all(t, 1, NULL, STORE_READ_TOMBSTONES, 0, NOW + 61, &r);
	cr_assert_eq(r.n, 1);
	cr_expect(r.r[0].text_tomb, "an expired cell reads as a tombstone in raw mode");
	/* table default ttl */
	struct store_mutation m;
	begin(&m, t, 2);
	struct intbox c = I(1);
	struct store_value cv = V(c.b, 4);
	cr_assert_eq(store_mutation_row_marker(&m, &cv, 1, 5, STORE_TTL_DEFAULT), 0);
	apply(&m);
	read_all(t, 2, NULL, 0, 0, NOW + 1000000, &r);
	cr_expect_eq(r.n, 1, "default ttl 0 = forever");
	cr_expect(r.r[0].marker);
}

/* ---- tombstones ----------------------------------------------------------------------------- */

static void del_row(struct store_table *t, int32_t pk, int32_t ck, int64_t ts)
{
	struct store_mutation m;
	begin(&m, t, pk);
	struct intbox c = I(ck);
	struct store_value cv = V(c.b, 4);
	cr_assert_eq(store_mutation_delete_row(&m, &cv, 1, ts), 0);
	apply(&m);
}

static void del_part(struct store_table *t, int32_t pk, int64_t ts)
{
	struct store_mutation m;
	begin(&m, t, pk);
	cr_assert_eq(store_mutation_delete_partition(&m, ts), 0);
	apply(&m);
}

/* Delete partition pk's rows with lo < ck < hi at ts (an end with _incl set included). */
static void del_range(struct store_table *t, int32_t pk, int32_t lo, bool lo_incl, int32_t hi,
                      bool hi_incl, int64_t ts)
{
	struct store_mutation m;
	begin(&m, t, pk);
	struct intbox a = I(lo), b = I(hi);
	struct store_value av = V(a.b, 4), bv = V(b.b, 4);
	cr_assert_eq(store_mutation_delete_range(&m, &av, 1, lo_incl, &bv, 1, hi_incl, ts), 0);
	apply(&m);
}

Test(storage, row_and_partition_tombstones_hide_older_not_newer)
{
	struct store_table *t = make_table(11, 1, false, 864000);
	set_text(t, 1, 1, "a", 10, 0);
	set_text(t, 1, 2, "b", 30, 0);
	del_row(t, 1, 1, 20);
	del_row(t, 1, 2, 20);
	struct rows r;
	read_all(t, 1, NULL, 0, 0, NOW, &r);
	cr_assert_eq(r.n, 1);
	cr_expect_eq(r.r[0].ck, 2, "newer cell survives the row tombstone");
	set_text(t, 1, 1, "again", 21, 0);
	read_all(t, 1, NULL, 0, 0, NOW, &r);
	cr_assert_eq(r.n, 2, "a write newer than the row tombstone is visible");

	del_part(t, 1, 25);
	read_all(t, 1, NULL, 0, 0, NOW, &r);
	cr_assert_eq(r.n, 1);
	cr_expect_eq(r.r[0].ck, 2);
	cr_expect_str_eq(r.r[0].text, "b");
	/* a late write older than the partition tombstone stays hidden */
	set_text(t, 1, 3, "late", 24, 0);
	read_all(t, 1, NULL, 0, 0, NOW, &r);
	cr_expect_eq(r.n, 1);
	read_all(t, 1, NULL, STORE_READ_TOMBSTONES, 0, NOW, &r);
	cr_expect_gt(r.n, 0);
}

Test(storage, range_tombstones)
{
	struct store_table *t = make_table(12, 1, false, 864000);
	for (int i = 0; i < 10; i++)
		set_text(t, 1, i, "v", 10, 0);
	del_range(t, 1, 3, false, 6, true, 15); /* delete 3 < ck <= 6 */
	set_text(t, 1, 5, "newer", 16, 0);
	struct rows r;
	read_all(t, 1, NULL, 0, 0, NOW, &r);
	int want[] = {0, 1, 2, 3, 5, 7, 8, 9};
	cr_assert_eq(r.n, 8);
	for (int i = 0; i < 8; i++)
		cr_expect_eq(r.r[i].ck, want[i]);
	/* open-ended: everything >= 8 */
	struct store_mutation m;
	begin(&m, t, 1);
	struct intbox e8 = I(8);
	struct store_value e8v = V(e8.b, 4);
	cr_assert_eq(store_mutation_delete_range(&m, &e8v, 1, true, NULL, 0, true, 15), 0);
	apply(&m);
	read_all(t, 1, NULL, STORE_READ_REVERSE, 0, NOW, &r);
	cr_assert_eq(r.n, 6);
	cr_expect_eq(r.r[0].ck, 7);
}

/* STORE_READ_HEADERS: what a header call saw. */
struct headers {
	int calls, rows;
	int64_t pdel;
	size_t n_rts;
	int32_t start, end; /* the first range tombstone's bounds (ints), -1 unbounded */
	bool start_incl, end_incl;
	int64_t rt_ts;
	bool header_first; /* every header came before its partition's rows */
};

static int header_cb(void *ctx, const struct store_partition *p, const struct store_row *r)
{
	struct headers *h = ctx;
	if (r) {
		h->rows++;
		return 0;
	}
	if (h->rows)
		h->header_first = false;
	h->calls++;
	h->pdel = p->deletion.ts;
	h->n_rts = p->n_rts;
	if (p->n_rts) {
		const struct store_range_tombstone *rt = &p->rts[0];
		h->start = rt->range.n_start ? (int32_t)be32_load(rt->range.start[0].p) : -1;
		h->end = rt->range.n_end ? (int32_t)be32_load(rt->range.end[0].p) : -1;
		h->start_incl = rt->range.start_incl;
		h->end_incl = rt->range.end_incl;
		h->rt_ts = rt->deletion.ts;
	}
	return 0;
}

Test(storage, read_headers_report_deletions_and_range_tombstones)
{
	struct store_table *t = make_table(31, 1, false, 864000);
	for (int i = 0; i < 5; i++)
		set_text(t, 1, i, "v", 10, 0);
	del_range(t, 1, 1, true, 3, false, 15);
	del_part(t, 2, 20); /* a partition deleted as a whole, no rows at all */
	struct intbox k1 = I(1), k2 = I(2);
	struct store_value pk1 = V(k1.b, 4), pk2 = V(k2.b, 4);
	struct cerr e = {0};
	struct headers h = {.header_first = true};
	unsigned fl = STORE_READ_TOMBSTONES | STORE_READ_HEADERS;
	cr_assert_eq(store_read_partition(t, &pk1, 1, NULL, fl, 0, NOW, header_cb, &h, &e), 0);
	cr_expect_eq(h.calls, 1);
	cr_expect(h.header_first);
	cr_expect_eq(h.rows, 3, "rows 0, 3, 4 (1 and 2 deleted)");
	cr_expect_eq(h.n_rts, 1);
	cr_expect(h.start == 1 && h.start_incl && h.end == 3 && !h.end_incl, "[1, 3): %d %d %d %d",
	          h.start, h.start_incl, h.end, h.end_incl);
	cr_expect_eq(h.rt_ts, 15);
	h = (struct headers){.header_first = true};
	cr_assert_eq(store_read_partition(t, &pk2, 1, NULL, fl, 0, NOW, header_cb, &h, &e), 0);
	cr_expect_eq(h.calls, 1, "a deleted partition without rows is reported");
	cr_expect_eq(h.pdel, 20);
	cr_expect_eq(h.rows, 0);
	h = (struct headers){.header_first = true};
	cr_assert_eq(store_scan(t, 0, 0, NULL, fl, 0, NOW, header_cb, &h, &e), 0);
	cr_expect_eq(h.calls, 2, "a scan reports both partitions' headers");
	cr_expect_eq(h.rows, 3);
	/* without the flag: no header calls (callers that never expect r == NULL) */
	h = (struct headers){.header_first = true};
	cr_assert_eq(store_scan(t, 0, 0, NULL, STORE_READ_TOMBSTONES, 0, NOW, header_cb, &h, &e),
	             0);
	cr_expect_eq(h.calls, 0);
}

Test(storage, static_cells_and_collections)
{
	struct store_table *t = make_table(13, 1, false, 864000);
	struct store_mutation m;
	begin(&m, t, 1);
	struct intbox sv = I(42), c1 = I(1);
	struct store_value cv = V(c1.b, 4);
	cr_assert_eq(store_mutation_set_cell(&m, NULL, 0, 4, NULL, sv.b, 4, 10, 0), 0, "%s",
	             m.err.msg);
	/* set<text> column 3: {'x', 'y'} written as a collection tombstone + elements */
	cr_assert_eq(store_mutation_delete_cell(&m, &cv, 1, 3, NULL, 9), 0);
	struct store_value px = V("x", 1), py = V("y", 1), pe = V("", 0);
	/* an empty string is a valid set element (NULL path = no element) */
	struct store_mutation m0;
	begin(&m0, t, 9);
	cr_assert_eq(store_mutation_set_cell(&m0, &cv, 1, 3, &pe, NULL, 0, 10, 0), 0, "%s",
	             m0.err.msg);
	apply(&m0);
	struct rows r0;
	read_all(t, 9, NULL, 0, 0, NOW, &r0);
	cr_assert_eq(r0.n, 1);
	cr_expect_eq(r0.r[0].n_set, 1);
	cr_expect_str_eq(r0.r[0].set[0], "");
	begin(&m0, t, 9);
	cr_expect_eq(store_mutation_set_cell(&m0, &cv, 1, 3, NULL, NULL, 0, 10, 0), COL_EINVAL,
	             "a non-frozen collection cell needs an element");
	store_mutation_release(&m0);
	cr_assert_eq(store_mutation_set_cell(&m, &cv, 1, 3, &py, NULL, 0, 10, 0), 0, "%s",
	             m.err.msg);
	cr_assert_eq(store_mutation_set_cell(&m, &cv, 1, 3, &px, NULL, 0, 10, 0), 0);
	apply(&m);
	struct rows r;
	read_all(t, 1, NULL, 0, 0, NOW, &r);
	cr_assert_eq(r.n, 2);
	cr_expect(r.r[0].is_static);
	cr_expect_eq(r.r[0].ival, 42);
	cr_expect_eq(r.r[1].n_set, 2);
	cr_expect_str_eq(r.r[1].set[0], "x");
	cr_expect_str_eq(r.r[1].set[1], "y");
	/* overwrite the whole set later: older elements are shadowed */
	begin(&m, t, 1);
	cr_assert_eq(store_mutation_delete_cell(&m, &cv, 1, 3, NULL, 19), 0);
	struct store_value pz = V("z", 1);
	cr_assert_eq(store_mutation_set_cell(&m, &cv, 1, 3, &pz, NULL, 0, 20, 0), 0);
	apply(&m);
	read_all(t, 1, NULL, STORE_READ_REVERSE, 0, NOW, &r);
	cr_assert_eq(r.n, 2);
	cr_expect_eq(r.r[1].n_set, 1);
	cr_expect_str_eq(r.r[1].set[0], "z");
	/* the partition tombstone hides the static cell too */
	del_part(t, 1, 50);
	read_all(t, 1, NULL, 0, 0, NOW, &r);
	cr_expect_eq(r.n, 0);
}

/* ---- compaction filter ---------------------------------------------------------------------- */

static int raw_count(struct store_table *t)
{
	struct rawkv r;
	raw_dump(t, &r);
	buf_release(&r.all);
	return r.n;
}

Test(storage, compaction_filter_purges_only_after_gc_grace)
{
	struct store_table *t = make_table(14, 1, false, 100); /* gc_grace 100 s */
	struct cerr e = {0};
	for (int i = 0; i < 20; i++)
		set_text(t, 1, i, "live", 10, 0); /* 20 live cells */
	for (int i = 0; i < 5; i++)
		w_del10(t, 50 + i);          /* 5 cell tombstones (ldt NOW) */
	set_text(t, 2, 1, "ttl", 10, 30);    /* expires at NOW+30 */
	del_row(t, 3, 1, 10);                /* row tombstone */
	set_text(t, 3, 1, "shadowed", 5, 0); /* older than the row tombstone */
	set_text(t, 3, 2, "survivor", 5, 0); /* another row: not shadowed */
	del_part(t, 4, 10);                  /* partition tombstone */
	set_text(t, 4, 1, "shadowed", 5, 0);
	int before = raw_count(t);
	cr_assert_eq(before, 20 + 5 + 1 + 2 + 1 + 2);

	/* within gc_grace: tombstones stay; the expired cell becomes a tombstone;
	 * shadowed cells go */
	cr_assert_eq(store_table_compact(t, NOW + 50, &e), 0, "%s", e.msg);
	cr_expect_eq(raw_count(t), before - 2);
	struct rows r;
	read_all(t, 2, NULL, STORE_READ_TOMBSTONES, 0, NOW + 50, &r);
	cr_assert_eq(r.n, 1);
	cr_expect(r.r[0].text_tomb);
	for (int i = 0; i < 20; i++) {
		read_all(t, 1, NULL, 0, 0, NOW + 50, &r);
	}
	cr_expect_eq(r.n, 20);

	/* past gc_grace: every tombstone goes (deletion time NOW, expiry NOW+30), live stays */
	cr_assert_eq(store_table_compact(t, NOW + 1000, &e), 0, "%s", e.msg);
	cr_expect_eq(raw_count(t), 20 + 1, "only the 20 live cells and the survivor remain");
	read_all(t, 1, NULL, 0, 0, NOW + 1000, &r);
	cr_expect_eq(r.n, 20);
	read_all(t, 3, NULL, 0, 0, NOW + 1000, &r);
	cr_assert_eq(r.n, 1, "no resurrection of the shadowed row");
	cr_expect_eq(r.r[0].ck, 2);
	read_all(t, 4, NULL, 0, 0, NOW + 1000, &r);
	cr_expect_eq(r.n, 0);
}

Test(storage, compaction_never_drops_live_cells)
{
	struct store_table *t = make_table(15, 1, false, 0); /* gc_grace 0 */
	for (int i = 0; i < 200; i++)
		set_text(t, i, 1, "keep", 1000 + i, 0);
	for (int i = 0; i < 200; i += 2)
		set_text(t, i, 1, "newer", 2000 + i, 0);
	struct cerr e = {0};
	cr_assert_eq(store_table_compact(t, NOW + 100000000, &e), 0, "%s", e.msg);
	cr_expect_eq(raw_count(t), 200);
	struct rows r;
	read_all(t, 7, NULL, 0, 0, NOW, &r);
	cr_assert_eq(r.n, 1);
	cr_expect_str_eq(r.r[0].text, "keep");
	read_all(t, 8, NULL, 0, 0, NOW, &r);
	cr_expect_str_eq(r.r[0].text, "newer");
}

/* ---- slices, reverse, limits ---------------------------------------------------------------- */

static void fill_rows(struct store_table *t, int32_t pk, int n)
{
	for (int i = 0; i < n; i++) {
		char v[16];
		snprintf(v, sizeof(v), "r%d", i);
		set_text(t, pk, i, v, 10, 0);
	}
}

static void expect_cks(const struct rows *r, const int *want, int n, const char *what)
{
	cr_assert_eq(r->n, n, "%s: %d rows, want %d", what, r->n, n);
	for (int i = 0; i < n; i++)
		cr_expect_eq(r->r[i].ck, want[i], "%s: row %d", what, i);
}

Test(storage, slices_reverse_limits)
{
	struct store_table *t = make_table(16, 1, false, 864000);
	fill_rows(t, 1, 10);
	fill_rows(t, 2, 3); /* neighbours must not leak in */
	struct intbox a = I(3), b = I(7);
	struct store_value av = V(a.b, 4), bv = V(b.b, 4);
	struct rows r;
	struct store_slice s1 = {&av, 1, true, &bv, 1, false};
	read_all(t, 1, &s1, 0, 0, NOW, &r);
	expect_cks(&r, (int[]){3, 4, 5, 6}, 4, "[3,7)");
	struct store_slice s2 = {&av, 1, false, &bv, 1, true};
	read_all(t, 1, &s2, 0, 0, NOW, &r);
	expect_cks(&r, (int[]){4, 5, 6, 7}, 4, "(3,7]");
	read_all(t, 1, &s2, STORE_READ_REVERSE, 0, NOW, &r);
	expect_cks(&r, (int[]){7, 6, 5, 4}, 4, "(3,7] reversed");
	read_all(t, 1, NULL, STORE_READ_REVERSE, 3, NOW, &r);
	expect_cks(&r, (int[]){9, 8, 7}, 3, "reverse limit 3");
	read_all(t, 1, NULL, 0, 2, NOW, &r);
	expect_cks(&r, (int[]){0, 1}, 2, "limit 2");
	struct store_slice s3 = {.start = &bv, .n_start = 1, .start_incl = true};
	read_all(t, 1, &s3, 0, 0, NOW, &r);
	expect_cks(&r, (int[]){7, 8, 9}, 3, ">= 7");
	read_all(t, 3, NULL, 0, 0, NOW, &r);
	cr_expect_eq(r.n, 0, "absent partition");
	/* callback stop value comes back */
	struct intbox k = I(1);
	struct store_value kv = V(k.b, 4);
	memset(&r, 0, sizeof(r));
	r.stop_after = 2;
	cr_expect_eq(store_read_partition(t, &kv, 1, NULL, 0, 0, NOW, collect, &r, NULL), 7);
	cr_expect_eq(r.n, 2);
}

/* A row callback that reads another partition (ctx: the table) for each row it is given,
 * then checks that its own row is still intact. */
struct nested {
	struct store_table *t;
	int outer_rows;
	int inner_rows;
};

static int nested_cb(void *ctx, const struct store_partition *p, const struct store_row *r)
{
	struct nested *n = ctx;
	(void)p;
	cr_assert_eq(r->n_cells, 1);
	char before[32];
	snprintf(before, sizeof(before), "%.*s", (int)r->cells[0].value_len,
	         (const char *)r->cells[0].value);
	struct rows in;
	read_all(n->t, 2, NULL, 0, 0, NOW, &in);
	expect_cks(&in, (int[]){0, 1, 2}, 3, "inner read");
	cr_expect_str_eq(in.r[2].text, "r2");
	n->inner_rows += in.n;
	char after[32];
	snprintf(after, sizeof(after), "%.*s", (int)r->cells[0].value_len,
	         (const char *)r->cells[0].value);
	cr_expect_str_eq(before, after, "the outer row changed under an inner read");
	char want[16];
	snprintf(want, sizeof(want), "r%d", n->outer_rows);
	cr_expect_str_eq(after, want);
	n->outer_rows++;
	return 0;
}

/* ctx: the expected value of the one cell of the one row (NUL-terminated). */
static int big_row_cb(void *ctx, const struct store_partition *p, const struct store_row *r)
{
	const char *want = ctx;
	(void)p;
	cr_assert_eq(r->n_cells, 1);
	cr_assert_eq(r->cells[0].value_len, strlen(want));
	cr_assert(memcmp(r->cells[0].value, want, strlen(want)) == 0, "the big value differs");
	return 0;
}

Test(storage, reads_reuse_their_memory_across_sizes_and_nested_reads)
{
	/* a thread's reads share buffers: a huge row, then small ones, then a read from inside
	 * a row callback must each see exactly their own rows */
	struct store_table *t = make_table(18, 1, false, 864000);
	fill_rows(t, 1, 10);
	fill_rows(t, 2, 3);
	size_t big_len = 200 << 10;
	char *big = malloc(big_len + 1);
	cr_assert_not_null(big);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)('a' + i % 26);
	big[big_len] = 0;
	set_text(t, 3, 0, big, 10, 0);
	for (int round = 0; round < 3; round++) {
		struct intbox k = I(3);
		struct store_value kv = V(k.b, 4);
		struct cerr e = {0};
		struct rows r;
		read_all(t, 1, NULL, STORE_READ_REVERSE, 0, NOW, &r);
		expect_cks(&r, (int[]){9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, 10, "small after big");
		cr_expect_str_eq(r.r[0].text, "r9");
		struct nested n = {.t = t};
		cr_assert_eq(store_read_partition(t, &kv, 1, NULL, 0, 0, NOW, big_row_cb, big, &e),
		             0, "%s", e.msg);
		struct intbox k1 = I(1);
		struct store_value kv1 = V(k1.b, 4);
		cr_assert_eq(store_read_partition(t, &kv1, 1, NULL, 0, 0, NOW, nested_cb, &n, &e),
		             0, "%s", e.msg);
		cr_expect_eq(n.outer_rows, 10);
		cr_expect_eq(n.inner_rows, 30);
	}
	free(big);
}

Test(storage, long_partition_keys_read_without_touching_freed_memory)
{
	/* the partition's iterator bound is its key prefix appended to itself: for every key
	 * length around the buffers' growth steps (under ASan a read of moved bytes fails) */
	const struct cqltype *pk[1] = {T(CQLTYPE_VARCHAR)};
	struct store_column cols[1] = {{.id = 1, .type = T(CQLTYPE_VARCHAR)}};
	struct store_table_desc d = one_column_desc("textkey", pk, 1, cols, 864000);
	d.id[15] = 77;
	struct store_table *t = open_table(&d);
	struct cerr e = {0};
	uint8_t key[300];
	memset(key, 'k', sizeof(key));
	for (size_t len = 1; len <= sizeof(key); len++) {
		struct store_value v = V(key, len);
		struct rows r;
		memset(&r, 0, sizeof(r));
		int rc = store_read_partition(t, &v, 1, NULL, 0, 0, NOW, collect, &r, &e);
		cr_assert_eq(rc, 0, "key of %zu bytes: %s", len, e.msg);
		cr_assert_eq(r.n, 0, "absent partition of a %zu-byte key", len);
	}
}

Test(storage, desc_clustering_and_prefix_slices)
{
	struct store_table *t = make_table(17, 2, true, 864000); /* (a int DESC, b text ASC) */
	for (int a = 0; a < 4; a++) {
		for (int b = 0; b < 3; b++) {
			struct store_mutation m;
			begin(&m, t, 1);
			struct intbox ai = I(a);
			char bs[2] = {(char)('a' + b), 0};
			struct store_value ck[2] = {V(ai.b, 4), V(bs, 1)};
			cr_assert_eq(store_mutation_row_marker(&m, ck, 2, 10, 0), 0);
			apply(&m);
		}
	}
	struct rows r;
	read_all(t, 1, NULL, 0, 0, NOW, &r);
	cr_assert_eq(r.n, 12);
	cr_expect_eq(r.r[0].ck, 3, "DESC: largest first");
	cr_expect_eq(r.r[11].ck, 0);
	/* slice on a prefix: a in [2, 1] in clustering order (2 then 1) */
	struct intbox two = I(2), one = I(1);
	struct store_value sv = V(two.b, 4), ev = V(one.b, 4);
	struct store_slice s = {&sv, 1, true, &ev, 1, true};
	read_all(t, 1, &s, 0, 0, NOW, &r);
	cr_assert_eq(r.n, 6);
	cr_expect_eq(r.r[0].ck, 2);
	cr_expect_eq(r.r[5].ck, 1);
	read_all(t, 1, &s, STORE_READ_REVERSE, 4, NOW, &r);
	cr_assert_eq(r.n, 4);
	cr_expect_eq(r.r[0].ck, 1);
	cr_expect_eq(r.r[3].ck, 2);
	/* exclusive prefix bound: a < 2 in value order = after 2 in clustering order */
	struct store_slice s2 = {.start = &sv, .n_start = 1, .start_incl = false};
	read_all(t, 1, &s2, 0, 0, NOW, &r);
	cr_expect_eq(r.n, 6);
	cr_expect_eq(r.r[0].ck, 1);
}

/* ---- token ranges --------------------------------------------------------------------------- */

Test(storage, token_range_scan_complete_ordered_and_resumable)
{
	struct store_table *t = make_table(18, 1, false, 864000);
	for (int pk = 0; pk < 300; pk++) {
		set_text(t, pk, 0, "a", 10, 0);
		set_text(t, pk, 1, "b", 10, 0);
	}
	struct rows *all = calloc(1, sizeof(*all));
	struct cerr e = {0};
	all->stop_after = 500;
	cr_assert_eq(store_scan(t, INT64_MIN, INT64_MAX, NULL, 0, 0, NOW, collect, all, &e), 7,
	             "the callback's stop value comes back: %s", e.msg);
	cr_assert_eq(all->n, 500);
	free(all);
	/* Count per sub-range with big splits; rows must come in token order. */
	int64_t cuts[] = {INT64_MIN, -6000000000000000000LL, -1, 3000000000000000000LL, INT64_MAX};
	int total = 0;
	int seen[300] = {0};
	for (int i = 0; i + 1 < 5; i++) {
		struct rows *r = calloc(1, sizeof(*r));
		cr_assert_eq(store_scan(t, cuts[i], cuts[i + 1], NULL, 0, 0, NOW, collect, r, NULL),
		             0);
		for (int k = 0; k < r->n; k++) {
			cr_assert(r->r[k].token > cuts[i] && r->r[k].token <= cuts[i + 1]);
			if (k)
				cr_assert(r->r[k - 1].token < r->r[k].token ||
				          (r->r[k - 1].token == r->r[k].token &&
				           r->r[k - 1].ck < r->r[k].ck));
			seen[r->r[k].pk]++;
		}
		total += r->n;
		free(r);
	}
	cr_expect_eq(total, 600);
	for (int pk = 0; pk < 300; pk++)
		cr_expect_eq(seen[pk], 2, "partition %d seen %d times", pk, seen[pk]);
	/* wrap-around: (3e18, -1] = (3e18, max] + [min, -1] */
	struct rows *w = calloc(1, sizeof(*w));
	cr_assert_eq(store_scan(t, cuts[3], cuts[2], NULL, 0, 0, NOW, collect, w, NULL), 0);
	int expect_wrap = 0;
	for (int pk = 0; pk < 300; pk++) {
		struct intbox k = I(pk);
		int64_t tok = murmur3_token(k.b, 4);
		expect_wrap += (tok > cuts[3] || tok <= cuts[2]) ? 2 : 0;
	}
	cr_expect_eq(w->n, expect_wrap);
	free(w);
	/* paging: pages of 7 rows resumed from the last row give every row once */
	int paged = 0, pages = 0;
	struct store_position pos;
	struct row_out last;
	bool have = false;
	uint8_t keyb[4], ckb[4];
	struct store_value ckv;
	memset(seen, 0, sizeof(seen));
	for (;;) {
		struct rows *p = calloc(1, sizeof(*p));
		cr_assert_eq(store_scan(t, INT64_MIN, INT64_MAX, have ? &pos : NULL, 0, 7, NOW,
		                        collect, p, NULL),
		             0);
		for (int k = 0; k < p->n; k++)
			seen[p->r[k].pk]++;
		paged += p->n;
		pages++;
		if (p->n < 7) {
			free(p);
			break;
		}
		last = p->r[p->n - 1];
		be32_store(keyb, (uint32_t)last.pk);
		be32_store(ckb, (uint32_t)last.ck);
		ckv = V(ckb, 4);
		pos = (struct store_position){
		        .token = last.token, .key = keyb, .key_len = 4, .ck = &ckv, .n_ck = 1};
		have = true;
		free(p);
		cr_assert_lt(pages, 200);
	}
	cr_expect_eq(paged, 600);
	for (int pk = 0; pk < 300; pk++)
		cr_expect_eq(seen[pk], 2);
}

/* ---- bad input ------------------------------------------------------------------------------ */

Test(storage, bad_input_is_refused_and_nothing_written)
{
	struct store_table *t = make_table(19, 1, false, 864000);
	struct store_mutation m;
	begin(&m, t, 1);
	struct intbox c = I(1);
	struct store_value cv = V(c.b, 4);
	/* wrong length for int column 2 */
	cr_expect_eq(store_mutation_set_cell(&m, &cv, 1, 2, NULL, "abc", 3, 10, 0), COL_ETYPE);
	cr_expect(strstr(m.err.msg, "expected 4 bytes, got 3"), "%s", m.err.msg);
	struct cerr e = {0};
	cr_expect_eq(store_apply(st, &m, &e), COL_ETYPE, "a failed mutation refuses to apply");
	store_mutation_release(&m);
	/* unknown column */
	begin(&m, t, 1);
	cr_expect_eq(store_mutation_set_cell(&m, &cv, 1, 99, NULL, "x", 1, 10, 0), COL_EINVAL);
	cr_expect(strstr(m.err.msg, "no column with id 99"), "%s", m.err.msg);
	store_mutation_release(&m);
	/* bad text */
	begin(&m, t, 1);
	cr_expect_eq(store_mutation_set_cell(&m, &cv, 1, 1, NULL, "\xff", 1, 10, 0), COL_ETYPE);
	store_mutation_release(&m);
	/* ttl out of range */
	begin(&m, t, 1);
	cr_expect_eq(store_mutation_set_cell(&m, &cv, 1, 1, NULL, "x", 1, 10, STORE_MAX_TTL + 1),
	             COL_EINVAL);
	store_mutation_release(&m);
	/* wrong clustering arity, wrong clustering type */
	begin(&m, t, 1);
	cr_expect_eq(store_mutation_row_marker(&m, NULL, 0, 10, 0), COL_EINVAL);
	store_mutation_release(&m);
	begin(&m, t, 1);
	struct store_value badck = V("ab", 2);
	cr_expect_eq(store_mutation_row_marker(&m, &badck, 1, 10, 0), COL_ETYPE);
	store_mutation_release(&m);
	/* oversized partition key */
	static const struct cqltype *pk1[1];
	pk1[0] = T(CQLTYPE_BLOB);
	struct store_column col = {.id = 1, .type = T(CQLTYPE_BLOB)};
	struct store_table_desc d = one_column_desc("big", pk1, 1, &col, 10);
	d.id[0] = 0x77;
	struct store_table *tb = open_table(&d);
	size_t bigsz = 70000;
	char *big = calloc(1, bigsz);
	struct store_value bk = V(big, bigsz);
	cr_expect_eq(store_mutation_init(&m, tb, &bk, 1, NOW, &e), COL_ETOOBIG);
	cr_expect(strstr(e.msg, "70000 bytes, the limit is 65535"), "%s", e.msg);
	store_mutation_release(&m);
	struct store_value ok = V("k", 1);
	cr_assert_eq(store_mutation_init(&m, tb, &ok, 1, NOW, &e), 0);
	cr_expect_eq(store_mutation_set_cell(&m, NULL, 0, 1, NULL, big, STORE_MAX_VALUE + 1, 10, 0),
	             COL_ETOOBIG);
	store_mutation_release(&m);
	free(big);
	/* unknown / unsupported types in a descriptor */
	struct store_column cc = {.id = 1, .type = T(CQLTYPE_COUNTER)};
	d.cols = &cc;
	d.id[0] = 0x78;
	cr_expect_eq(store_table_open(st, &d, &tb, &e), COL_EUNSUPPORTED);
	cr_expect(strstr(e.msg, "counter"), "%s", e.msg);
	const struct cqltype *none = NULL;
	d.pk_types = &none;
	cr_expect_eq(store_table_open(st, &d, &tb, &e), COL_EINVAL);
	cr_expect_eq(raw_count(t), 0, "nothing was written");
}

Test(storage, malformed_mutation_bytes_every_truncation)
{
	struct store_table *t = make_table(20, 1, false, 864000);
	struct store_mutation m;
	begin(&m, t, 5);
	struct intbox c = I(1);
	struct store_value cv = V(c.b, 4);
	cr_assert_eq(store_mutation_set_cell(&m, &cv, 1, 1, NULL, "hello", 5, 10, 0), 0);
	cr_assert_eq(store_mutation_set_cell(&m, &cv, 1, 2, NULL, c.b, 4, 10, 0), 0);
	size_t len;
	const uint8_t *b = store_mutation_bytes(&m, &len);
	uint8_t *copy = malloc(len);
	memcpy(copy, b, len);
	for (size_t n = 0; n < len; n++) {
		struct cerr e = {0};
		int rc = store_apply_bytes(st, copy, n, &e);
		cr_assert_neq(rc, 0, "a %zu-byte prefix applied", n);
	}
	/* flipped bytes never crash and never write invalid values */
	for (size_t i = 0; i < len; i++) {
		uint8_t save = copy[i];
		copy[i] ^= 0x5A;
		store_apply_bytes(st, copy, len, NULL);
		copy[i] = save;
	}
	struct rows r;
	read_all(t, 5, NULL, 0, 0, NOW, &r);
	for (int i = 0; i < r.n; i++)
		cr_expect(r.r[i].text[0] == 0 || strcmp(r.r[i].text, "hello") == 0 ||
		          strlen(r.r[i].text) == 5);
	/* the intact bytes apply, decoded on the "remote" side */
	struct cerr e = {0};
	cr_assert_eq(store_apply_bytes(st, copy, len, &e), 0, "%s", e.msg);
	uint8_t id[16];
	cr_assert_eq(store_mutation_peek_table(copy, len, id, NULL), 0);
	cr_expect_eq(id[15], 20);
	free(copy);
	store_mutation_release(&m);
	/* unknown table */
	struct store_table *other = make_table(21, 1, false, 10);
	begin(&m, other, 1);
	cr_assert_eq(store_mutation_row_marker(&m, &cv, 1, 1, 0), 0);
	b = store_mutation_bytes(&m, &len);
	copy = malloc(len);
	memcpy(copy, b, len);
	copy[4 + 15] = 0xEE; /* table id's last byte */
	cr_expect_eq(store_apply_bytes(st, copy, len, &e), COL_ENOTFOUND);
	free(copy);
	store_mutation_release(&m);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

Test(storage, kv_column_families)
{
	struct cerr e = {0};
	cr_assert_eq(store_kv_put(st, STORE_CF_SYSTEM, "host_id", 7, "abc", 3, &e), 0);
	cr_assert_eq(store_kv_put(st, STORE_CF_SYSTEM, "schema/a", 8, "1", 1, &e), 0);
	cr_assert_eq(store_kv_put(st, STORE_CF_SYSTEM, "schema/b", 8, "2", 1, &e), 0);
	cr_assert_eq(store_kv_put(st, STORE_CF_HINTS, "schema/x", 8, "h", 1, &e), 0);
	struct buf b;
	buf_init(&b);
	cr_assert_eq(store_kv_get(st, STORE_CF_SYSTEM, "host_id", 7, &b, &e), 0);
	cr_expect(b.len == 3 && memcmp(b.data, "abc", 3) == 0);
	cr_expect_eq(store_kv_get(st, STORE_CF_SYSTEM, "nope", 4, &b, &e), COL_ENOTFOUND);
	struct rawkv r = {0};
	buf_init(&r.all);
	cr_assert_eq(store_kv_scan(st, STORE_CF_SYSTEM, "schema/", 7, raw_cb, &r, &e), 0);
	cr_expect_eq(r.n, 2);
	buf_release(&r.all);
	cr_assert_eq(store_kv_delete(st, STORE_CF_SYSTEM, "host_id", 7, &e), 0);
	cr_expect_eq(store_kv_get(st, STORE_CF_SYSTEM, "host_id", 7, &b, &e), COL_ENOTFOUND);
	buf_release(&b);
}

/* A queue read from after a consumed key, and a prefix dropped at once. */
Test(storage, kv_scan_after_and_delete_prefix)
{
	struct cerr e = {0};
	const char *keys[] = {"q\x01"
	                      "a",
	                      "q\x01"
	                      "b",
	                      "q\x01"
	                      "c",
	                      "q\x02"
	                      "a",
	                      "q\xff\xff"};
	for (size_t i = 0; i < 5; i++)
		cr_assert_eq(store_kv_put(st, STORE_CF_HINTS, keys[i], strlen(keys[i]), "v", 1, &e),
		             0);
	struct rawkv r = {0};
	buf_init(&r.all);
	cr_assert_eq(store_kv_scan_after(st, STORE_CF_HINTS, "q\x01", 2,
	                                 "q\x01"
	                                 "a",
	                                 3, raw_cb, &r, &e),
	             0);
	cr_expect_eq(r.n, 2, "b and c, not a, not the next prefix");
	r.n = 0;
	cr_assert_eq(store_kv_scan_after(st, STORE_CF_HINTS, "q\x01", 2, NULL, 0, raw_cb, &r, &e),
	             0);
	cr_expect_eq(r.n, 3);
	r.n = 0;
	cr_assert_eq(store_kv_scan_after(st, STORE_CF_HINTS, "q\xff", 2, NULL, 0, raw_cb, &r, &e),
	             0);
	cr_expect_eq(r.n, 1, "a prefix ending in 0xFF");
	cr_assert_eq(store_kv_delete_prefix(st, STORE_CF_HINTS, "q\x01", 2, &e), 0);
	r.n = 0;
	cr_assert_eq(store_kv_scan(st, STORE_CF_HINTS, "q", 1, raw_cb, &r, &e), 0);
	cr_expect_eq(r.n, 2, "the 0x02 and 0xFF keys are left");
	cr_expect_eq(store_kv_delete_prefix(st, STORE_CF_HINTS, "\xff\xff", 2, &e), COL_EINVAL);
	buf_release(&r.all);
}

Test(storage, reopen_keeps_tables_and_data_truncate_drop)
{
	struct store_table *t = make_table(22, 1, false, 864000);
	set_text(t, 1, 1, "persisted", 10, 0);
	store_close(st);
	open_store();
	uint8_t id[16] = {0};
	id[15] = 22;
	t = store_table_find(st, id);
	cr_assert(t, "table CF found at open");
	t = make_table(22, 1, false, 864000); /* describe it again */
	struct rows r;
	read_all(t, 1, NULL, 0, 0, NOW, &r);
	cr_assert_eq(r.n, 1);
	cr_expect_str_eq(r.r[0].text, "persisted");
	struct cerr e = {0};
	cr_assert_eq(store_table_truncate(t, 5, &e), 0, "%s", e.msg);
	cr_expect_eq(store_table_truncated_at(t), 5);
	read_all(t, 1, NULL, 0, 0, NOW, &r);
	cr_expect_eq(r.n, 0);
	set_text(t, 1, 1, "before", 5, 0); /* written at the truncation time: skipped */
	read_all(t, 1, NULL, 0, 0, NOW, &r);
	cr_expect_eq(r.n, 0, "a write at or before the truncation time is not applied");
	cr_expect_eq(raw_count(t), 0, "nothing stored for it");
	/* an older truncation time changes nothing; the time survives a reopen */
	cr_assert_eq(store_table_truncate(t, 3, &e), 0, "%s", e.msg);
	cr_expect_eq(store_table_truncated_at(t), 5);
	store_close(st);
	open_store();
	t = make_table(22, 1, false, 864000);
	cr_expect_eq(store_table_truncated_at(t), 5, "truncation time persisted");
	set_text(t, 1, 1, "before", 4, 0);
	read_all(t, 1, NULL, 0, 0, NOW, &r);
	cr_expect_eq(r.n, 0, "after a reopen, an older write is still skipped");
	set_text(t, 1, 1, "after", 10, 0);
	read_all(t, 1, NULL, 0, 0, NOW, &r);
	cr_expect_eq(r.n, 1);
	cr_assert_eq(store_table_drop(t, &e), 0, "%s", e.msg);
	cr_expect_null(store_table_find(st, id));
	store_close(st);
	open_store();
	cr_expect_null(store_table_find(st, id), "dropped table gone after reopen");
	/* changing key columns is refused */
	t = make_table(23, 1, false, 10);
	static const struct cqltype *pk[1];
	pk[0] = T(CQLTYPE_BIGINT);
	struct store_table_desc d = *store_table_desc(t);
	d.pk_types = pk;
	cr_expect_eq(store_table_alter(t, &d, &e), COL_EINVAL);
	cr_expect(strstr(e.msg, "cannot change"), "%s", e.msg);
}

Test(storage, data_dir_held_by_another_process)
{
	struct cerr e = {0};
	struct store_options o;
	store_options_init(&o);
	o.data_dir = dir;
	struct store *again = NULL;
	cr_expect_eq(store_open(&o, &again, &e), COL_ELOCKED);
	cr_expect(strstr(e.msg, "already open in this process"), "%s", e.msg);
	store_close(st);
	st = NULL;
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		struct store *cs = NULL;
		if (store_open(&o, &cs, NULL) != 0)
			_exit(1);
		if (write(p[1], "k", 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	char ch;
	cr_assert_eq(read(p[0], &ch, 1), 1);
	int rc = store_open(&o, &again, &e);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(p[0]);
	close(p[1]);
	cr_expect_eq(rc, COL_ELOCKED);
	char want[128];
	snprintf(want, sizeof(want), "is in use by another colonnade process (pid %d)", (int)child);
	cr_expect(strstr(e.msg, dir) && strstr(e.msg, want), "%s", e.msg);
	open_store(); /* free again after the holder died */
}

/* ---- concurrency and many operands ----------------------------------------------------------- */

struct writer_arg {
	struct store_table *t;
	uint64_t seed;
	int64_t max_ts[16]; /* per cell: the highest timestamp this thread wrote */
	char max_val[16][16];
};

static void *writer_main(void *p)
{
	struct writer_arg *a = p;
	uint64_t x = a->seed;
	for (int i = 0; i < 16; i++)
		a->max_ts[i] = INT64_MIN;
	for (int i = 0; i < 3000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int cell = (int)(x % 16);
		int64_t ts = (int64_t)((x >> 8) % 1000000);
		char v[16];
		snprintf(v, sizeof(v), "s%llu-%d", (unsigned long long)(a->seed % 7), i);
		set_text(a->t, 1, cell, v, ts, 0);
		if (ts > a->max_ts[cell] ||
		    (ts == a->max_ts[cell] && strcmp(v, a->max_val[cell]) > 0)) {
			a->max_ts[cell] = ts;
			snprintf(a->max_val[cell], sizeof(a->max_val[cell]), "%s", v);
		}
		if (i == 1500 && a->seed == 1)
			store_table_flush(a->t, NULL);
	}
	return NULL;
}

Test(storage, concurrent_writers_converge_to_the_newest)
{
	struct store_table *t = make_table(25, 1, false, 864000);
	pthread_t th[3];
	struct writer_arg args[3];
	for (int i = 0; i < 3; i++) {
		args[i] = (struct writer_arg){.t = t, .seed = (uint64_t)i + 1};
		cr_assert_eq(pthread_create(&th[i], NULL, writer_main, &args[i]), 0);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	for (int pass = 0; pass < 2; pass++) {
		struct rows r;
		read_all(t, 1, NULL, 0, 0, NOW, &r);
		cr_assert_eq(r.n, 16);
		for (int c = 0; c < 16; c++) {
			int64_t best = INT64_MIN;
			const char *bv = "";
			for (int i = 0; i < 3; i++)
				if (args[i].max_ts[c] > best ||
				    (args[i].max_ts[c] == best &&
				     strcmp(args[i].max_val[c], bv) > 0)) {
					best = args[i].max_ts[c];
					bv = args[i].max_val[c];
				}
			cr_expect_eq(r.r[c].text_ts, best, "cell %d pass %d", c, pass);
			cr_expect_str_eq(r.r[c].text, bv, "cell %d pass %d", c, pass);
		}
		struct cerr e = {0};
		cr_assert_eq(store_table_compact(t, NOW, &e), 0, "%s", e.msg);
	}
	cr_expect_eq(raw_count(t), 16, "compaction merged every operand");
}

Test(storage, dropped_column_cells_are_invisible)
{
	struct store_table *t = make_table(26, 1, false, 864000);
	struct store_mutation m;
	begin(&m, t, 1);
	struct intbox c = I(1), v = I(5);
	struct store_value cv = V(c.b, 4);
	cr_assert_eq(store_mutation_set_cell(&m, &cv, 1, 2, NULL, v.b, 4, 10, 0), 0);
	apply(&m);
	set_text(t, 1, 2, "other row", 10, 0);
	struct rows r;
	read_all(t, 1, NULL, 0, 0, NOW, &r);
	cr_assert_eq(r.n, 2);
	/* ALTER TABLE DROP: the descriptor loses column 2 */
	struct store_table_desc d = *store_table_desc(t);
	struct store_column cols[4];
	size_t n = 0;
	for (size_t i = 0; i < d.n_cols; i++)
		if (d.cols[i].id != 2)
			cols[n++] = d.cols[i];
	d.cols = cols;
	d.n_cols = n;
	struct cerr e = {0};
	cr_assert_eq(store_table_alter(t, &d, &e), 0, "%s", e.msg);
	read_all(t, 1, NULL, 0, 0, NOW, &r);
	cr_assert_eq(r.n, 1, "the row holding only a dropped column's cell is gone");
	cr_expect_eq(r.r[0].ck, 2);
	begin(&m, t, 1);
	cr_expect_eq(store_mutation_set_cell(&m, &cv, 1, 2, NULL, v.b, 4, 11, 0), COL_EINVAL);
	store_mutation_release(&m);
}

Test(storage, reads_across_many_sst_files_and_absent_partitions)
{
	/* Partitions spread over several L0 files (one flush per batch), newer
	 * versions in later files: prefix-bloom seeks must find every partition,
	 * the newest version, and nothing for absent keys. */
	struct store_table *t = make_table(27, 1, false, 864000);
	struct cerr e = {0};
	for (int batch = 0; batch < 5; batch++) {
		for (int pk = batch * 40; pk < batch * 40 + 60; pk++) {
			char v[16];
			snprintf(v, sizeof(v), "b%d", batch);
			set_text(t, pk, 1, v, 100 + batch, 0);
		}
		cr_assert_eq(store_table_flush(t, &e), 0, "%s", e.msg);
	}
	struct rows r;
	for (int pk = 0; pk < 220; pk++) {
		read_all(t, pk, NULL, pk % 2 ? STORE_READ_REVERSE : 0, 0, NOW, &r);
		cr_assert_eq(r.n, 1, "partition %d", pk);
		int newest = pk / 40 < 5 ? pk / 40 : 4;
		char want[16];
		snprintf(want, sizeof(want), "b%d", newest);
		cr_expect_str_eq(r.r[0].text, want, "partition %d", pk);
	}
	for (int pk = 220; pk < 400; pk++) {
		read_all(t, pk, NULL, 0, 0, NOW, &r);
		cr_assert_eq(r.n, 0, "absent partition %d", pk);
	}
	struct rows *all = calloc(1, sizeof(*all));
	cr_assert_eq(store_scan(t, 0, 0, NULL, 0, 0, NOW, collect, all, &e), 0, "%s", e.msg);
	cr_expect_eq(all->n, 220, "a full-ring scan sees each partition once");
	free(all);
}

/* ---- randomised model check ------------------------------------------------------------------ */

/* The model: every op kept; reads resolve them with the documented rules. */
struct mop {
	int kind; /* 1 set, 2 del cell, 3 marker, 4 del row, 5 del partition, 6 del range */
	int ck, col, lo, hi;
	bool lo_incl, hi_incl;
	int64_t ts;
	int32_t ttl;
	char val[8];
};

struct mcell {
	bool any;
	int64_t ts;
	int rank; /* 0 live, 1 expiring, 2 tombstone */
	uint32_t ldt;
	char val[8];
};

static bool mwins(const struct mcell *a, const struct mcell *b) /* a beats b */
{
	if (!b->any)
		return true;
	if (a->ts != b->ts)
		return a->ts > b->ts;
	if (a->rank != b->rank)
		return a->rank > b->rank;
	if (a->ldt != b->ldt)
		return a->ldt > b->ldt;
	return strcmp(a->val, b->val) > 0;
}

static void model_row(const struct mop *ops, int n, int ck, int64_t now, bool *live_marker,
                      char text[8], bool *has_text, int32_t *ival, bool *has_ival)
{
	int64_t del = INT64_MIN;
	struct mcell cells[3] = {{0}};
	for (int i = 0; i < n; i++) {
		const struct mop *o = &ops[i];
		bool in_range = o->kind == 6 &&
		                (o->lo < 0 || ck > o->lo || (o->lo_incl && ck == o->lo)) &&
		                (o->hi < 0 || ck < o->hi || (o->hi_incl && ck == o->hi));
		if (o->kind == 5 || (o->kind == 4 && o->ck == ck) || in_range) {
			if (o->ts > del)
				del = o->ts;
			continue;
		}
		if (o->kind >= 4 || o->ck != ck)
			continue;
		struct mcell c = {.any = true, .ts = o->ts};
		int slot = o->kind == 3 ? 0 : o->col;
		if (o->kind == 2) {
			c.rank = 2;
			c.ldt = NOW;
		} else {
			c.rank = o->ttl ? 1 : 0;
			c.ldt = o->ttl ? (uint32_t)(NOW + o->ttl) : 0;
			snprintf(c.val, sizeof(c.val), "%s", o->kind == 1 ? o->val : "");
		}
		if (mwins(&c, &cells[slot]))
			cells[slot] = c;
	}
	bool live[3];
	for (int s = 0; s < 3; s++)
		live[s] = cells[s].any && cells[s].ts > del && cells[s].rank != 2 &&
		          (cells[s].rank == 0 || (int64_t)cells[s].ldt > now);
	*live_marker = live[0];
	*has_text = live[1];
	snprintf(text, 8, "%s", cells[1].val);
	*has_ival = live[2];
	*ival = live[2] ? atoi(cells[2].val) : 0;
}

/*
 * Random ops on one partition of (pk int, ck int [DESC]) against the model.
 * The model works in value order; for a DESC table the bounds handed to the
 * store are in clustering order (start = the larger value) and rows come
 * back largest first.
 */
static void model_check(bool desc, uint64_t seed)
{
	uint64_t x = seed;
#define RND() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
	for (int round = 0; round < 24; round++) {
		struct store_table *t =
		        make_table((uint8_t)((desc ? 80 : 40) + round), 1, desc,
		                   round % 3 == 0 ? 0 : 864000); /* some with gc_grace 0 */
		struct mop ops[150];
		int n = 0;
		for (int i = 0; i < 150; i++) {
			struct mop *o = &ops[n++];
			memset(o, 0, sizeof(*o));
			uint64_t r = RND();
			int pick = (int)(r % 100);
			o->kind = pick < 45   ? 1
			          : pick < 58 ? 2
			          : pick < 70 ? 3
			          : pick < 80 ? 4
			          : pick < 81 ? 5
			                      : 6;
			o->ck = (int)((r >> 8) % 10);
			o->col = 1 + (int)((r >> 16) % 2);
			o->ts = 1 + (int64_t)((r >> 20) % 60); /* equal timestamps are common */
			o->ttl = (r >> 30) % 4 == 0 ? ((r >> 32) % 2 ? 3 : 50) : 0;
			snprintf(o->val, sizeof(o->val), "%d", (int)((r >> 36) % 5));
			o->lo = (r >> 40) % 5 == 0 ? -1 : (int)((r >> 44) % 10);
			o->hi = (r >> 48) % 5 == 0 ? -1 : o->lo + (int)((r >> 52) % 5);
			o->lo_incl = (r >> 56) & 1;
			o->hi_incl = (r >> 57) & 1;
			struct store_mutation m;
			begin(&m, t, 1);
			struct intbox c = I(o->ck), lo = I(o->lo), hi = I(o->hi),
			              iv = I(atoi(o->val));
			struct store_value cv = V(c.b, 4), lov = V(lo.b, 4), hiv = V(hi.b, 4);
			int rc = 0;
			switch (o->kind) {
			case 1:
				rc = o->col == 1 ? store_mutation_set_cell(&m, &cv, 1, 1, NULL,
				                                           o->val, strlen(o->val),
				                                           o->ts, o->ttl)
				                 : store_mutation_set_cell(&m, &cv, 1, 2, NULL,
				                                           iv.b, 4, o->ts, o->ttl);
				if (o->col == 2) /* the model compares values as text */
					snprintf(o->val, sizeof(o->val), "%c%c%c%c", iv.b[0] + 1,
					         iv.b[1] + 1, iv.b[2] + 1, iv.b[3] + 1);
				break;
			case 2:
				rc = store_mutation_delete_cell(&m, &cv, 1, (uint32_t)o->col, NULL,
				                                o->ts);
				break;
			case 3: rc = store_mutation_row_marker(&m, &cv, 1, o->ts, o->ttl); break;
			case 4: rc = store_mutation_delete_row(&m, &cv, 1, o->ts); break;
			case 5: rc = store_mutation_delete_partition(&m, o->ts); break;
			case 6:
				if (desc)
					rc = store_mutation_delete_range(
					        &m, &hiv, o->hi < 0 ? 0 : 1, o->hi_incl, &lov,
					        o->lo < 0 ? 0 : 1, o->lo_incl, o->ts);
				else
					rc = store_mutation_delete_range(
					        &m, &lov, o->lo < 0 ? 0 : 1, o->lo_incl, &hiv,
					        o->hi < 0 ? 0 : 1, o->hi_incl, o->ts);
				break;
			}
			cr_assert_eq(rc, 0, "%s", m.err.msg);
			apply(&m);
			if (i % 47 == 46)
				store_table_flush(t, NULL);
		}
		if (round % 2)
			store_table_compact(t, NOW, NULL);
		for (int rev = 0; rev < 2; rev++) {
			struct rows r;
			read_all(t, 1, NULL, rev ? STORE_READ_REVERSE : 0, 0, NOW + 10, &r);
			int k = 0;
			for (int i = 0; i < 10; i++) {
				int ck = rev != desc ? 9 - i : i;
				bool mk, ht, hi;
				char tx[8];
				int32_t iv;
				model_row(ops, n, ck, NOW + 10, &mk, tx, &ht, &iv, &hi);
				if (!mk && !ht && !hi)
					continue;
				cr_assert_lt(k, r.n, "round %d: row %d missing", round, ck);
				const struct row_out *o = &r.r[k++];
				cr_assert_eq(o->ck, ck, "round %d: row %d where %d expected", round,
				             o->ck, ck);
				cr_expect_eq(o->marker, mk, "round %d ck %d marker", round, ck);
				cr_expect_eq(o->text[0] != 0 || (ht && !tx[0]), ht,
				             "round %d ck %d text presence", round, ck);
				if (ht)
					cr_expect_str_eq(o->text, tx, "round %d ck %d text", round,
					                 ck);
				cr_expect_eq(o->has_ival, hi, "round %d ck %d int presence", round,
				             ck);
			}
			cr_expect_eq(k, r.n, "round %d: %d extra rows", round, r.n - k);
		}
		/* A full compaction long after every write (tombstones past gc_grace
		 * purged where it is 0, TTLs expired) changes no read at that time. */
		if (round % 3 == 0) {
			struct rows before, after;
			read_all(t, 1, NULL, STORE_READ_REVERSE, 0, NOW + 2000, &before);
			int raw_before = raw_count(t);
			struct cerr e = {0};
			cr_assert_eq(store_table_compact(t, NOW + 2000, &e), 0, "%s", e.msg);
			read_all(t, 1, NULL, STORE_READ_REVERSE, 0, NOW + 2000, &after);
			cr_assert_eq(before.n, after.n, "round %d: compaction changed the rows",
			             round);
			for (int i = 0; i < before.n; i++) {
				cr_expect_eq(before.r[i].ck, after.r[i].ck);
				cr_expect_eq(before.r[i].marker, after.r[i].marker);
				cr_expect_str_eq(before.r[i].text, after.r[i].text);
				cr_expect_eq(before.r[i].has_ival, after.r[i].has_ival);
			}
			cr_expect_leq(raw_count(t), raw_before);
			/* the model still holds at the later time, through the purge */
			int k = 0;
			for (int i = 0; i < 10; i++) {
				int ck = desc ? i : 9 - i; /* reverse order */
				bool mk, ht, hi2;
				char tx[8];
				int32_t iv;
				model_row(ops, n, ck, NOW + 2000, &mk, tx, &ht, &iv, &hi2);
				if (!mk && !ht && !hi2)
					continue;
				cr_assert_lt(k, after.n, "round %d: row %d missing after purge",
				             round, ck);
				cr_expect_eq(after.r[k++].ck, ck, "round %d after purge", round);
			}
			cr_expect_eq(k, after.n, "round %d: extra rows after purge", round);
			continue; /* the rows now differ from the NOW+10 view */
		}
		/* random slices, both directions, with limits */
		for (int q = 0; q < 20; q++) {
			uint64_t r0 = RND();
			int lo = r0 % 4 == 0 ? -1 : (int)((r0 >> 4) % 10);
			int hi = r0 % 5 == 0 ? -1 : (int)((r0 >> 8) % 10);
			bool li = (r0 >> 12) & 1, hinc = (r0 >> 13) & 1, rev = (r0 >> 14) & 1;
			size_t limit = (r0 >> 16) % 3 == 0 ? 1 + (size_t)((r0 >> 20) % 4) : 0;
			struct intbox lb = I(lo), hb = I(hi);
			struct store_value lv = V(lb.b, 4), hv = V(hb.b, 4);
			struct store_slice sl = {&lv, lo < 0 ? 0 : 1, li,
			                         &hv, hi < 0 ? 0 : 1, hinc};
			if (desc) /* the same value range, in clustering order */
				sl = (struct store_slice){&hv, hi < 0 ? 0 : 1, hinc,
				                          &lv, lo < 0 ? 0 : 1, li};
			struct rows r;
			read_all(t, 1, &sl, rev ? STORE_READ_REVERSE : 0, limit, NOW + 10, &r);
			int want[10], nw = 0;
			for (int i = 0; i < 10; i++) {
				int ck = rev != desc ? 9 - i : i;
				bool in = (lo < 0 || ck > lo || (li && ck == lo)) &&
				          (hi < 0 || ck < hi || (hinc && ck == hi));
				bool mk, ht, hi2;
				char tx[8];
				int32_t iv;
				model_row(ops, n, ck, NOW + 10, &mk, tx, &ht, &iv, &hi2);
				if (in && (mk || ht || hi2) && (!limit || (size_t)nw < limit))
					want[nw++] = ck;
			}
			cr_assert_eq(r.n, nw,
			             "round %d slice %d%s..%d%s rev %d limit %zu: %d rows, want %d",
			             round, lo, li ? "i" : "x", hi, hinc ? "i" : "x", rev, limit,
			             r.n, nw);
			for (int i = 0; i < nw; i++)
				cr_expect_eq(r.r[i].ck, want[i], "round %d slice row %d", round, i);
		}
	}
#undef RND
}

Test(storage, randomised_ops_match_the_model)
{
	model_check(false, 0xC0FFEE);
}

Test(storage, randomised_ops_match_the_model_desc)
{
	model_check(true, 0xBADC0DE);
}

Test(storage, mutation_token_from_the_mutation_and_from_its_bytes)
{
	struct store_table *t = make_table(30, 1, false, 10);
	struct store_mutation m;
	begin(&m, t, 7);
	struct intbox c = I(1);
	struct store_value cv = V(c.b, 4);
	cr_assert_eq(store_mutation_row_marker(&m, &cv, 1, 1, 0), 0);
	int64_t want, a = 0, b = 0;
	struct intbox k = I(7);
	struct store_value kv = V(k.b, 4);
	struct cerr e = {0};
	cr_assert_eq(store_partition_token(t, &kv, 1, &want, &e), 0, "%s", e.msg);
	cr_assert_eq(store_mutation_token(&m, &a, &e), 0, "%s", e.msg);
	size_t len;
	const uint8_t *mb = store_mutation_bytes(&m, &len);
	cr_assert_eq(store_mutation_bytes_token(st, mb, len, &b, &e), 0, "%s", e.msg);
	cr_expect_eq(a, want);
	cr_expect_eq(b, want);
	/* torn bytes and an unknown table are told apart */
	cr_expect_eq(store_mutation_bytes_token(st, mb, 20, &b, &e), COL_ECORRUPT);
	uint8_t *copy = malloc(len);
	memcpy(copy, mb, len);
	copy[4 + 15] = 0xEE; /* table id's last byte */
	cr_expect_eq(store_mutation_bytes_token(st, copy, len, &b, &e), COL_ENOTFOUND);
	free(copy);
	store_mutation_release(&m);
}

/* ---- column-family handles under concurrent use (several loops, one TRUNCATE) -------------- */

struct cf_user {
	struct store_table *t;
	atomic_bool stop;
	unsigned ops, errors;
	char first_error[sizeof(((struct cerr *)0)->msg) + 16];
	bool reads;
};

static int count_rows(void *ctx, const struct store_partition *p, const struct store_row *r)
{
	(void)ctx;
	(void)p;
	(void)r;
	return 0;
}

static void *cf_user_run(void *arg)
{
	struct cf_user *u = arg;
	int32_t i = 0;
	while (!atomic_load(&u->stop)) {
		struct cerr e = {0};
		struct intbox k = I(i % 64);
		struct store_value pk = V(k.b, 4);
		int rc;
		if (u->reads) {
			rc = store_read_partition(u->t, &pk, 1, NULL, 0, 0, NOW, count_rows, NULL,
			                          &e);
		} else {
			struct store_mutation m;
			rc = store_mutation_init(&m, u->t, &pk, 1, NOW, &e);
			struct intbox c = I(i);
			struct store_value cv = V(c.b, 4);
			if (!rc)
				rc = store_mutation_set_cell(&m, &cv, 1, 1, NULL, "v", 1, 1000 + i,
				                             0);
			if (!rc)
				rc = store_apply(st, &m, &e);
			store_mutation_release(&m);
		}
		if (rc < 0 && u->errors++ == 0)
			snprintf(u->first_error, sizeof(u->first_error), "%d %s", rc, e.msg);
		u->ops++;
		i++;
	}
	return NULL;
}

Test(storage, truncate_while_other_threads_apply_and_read)
{
	struct store_table *t = make_table(31, 1, false, 864000);
	struct cf_user w = {.t = t}, r = {.t = t, .reads = true};
	atomic_init(&w.stop, false);
	atomic_init(&r.stop, false);
	pthread_t tw, tr;
	cr_assert_eq(pthread_create(&tw, NULL, cf_user_run, &w), 0);
	cr_assert_eq(pthread_create(&tr, NULL, cf_user_run, &r), 0);
	for (int k = 1; k <= 20; k++) {
		usleep(2000);
		struct cerr e = {0};
		cr_assert_eq(store_table_truncate(t, k, &e), 0, "truncate %d: %s", k, e.msg);
	}
	atomic_store(&w.stop, true);
	atomic_store(&r.stop, true);
	pthread_join(tw, NULL);
	pthread_join(tr, NULL);
	cr_expect_gt(w.ops, 0);
	cr_expect_gt(r.ops, 0);
	cr_expect_eq(w.errors, 0, "applies never see a dropped handle: %s", w.first_error);
	cr_expect_eq(r.errors, 0, "reads never see a dropped handle: %s", r.first_error);
	cr_expect_eq(store_table_truncated_at(t), 20);
}

/* ---- non-frozen user types: a cell per field ------------------------------------------------ */

/* Cells of column 5 (a non-frozen UDT) of one row: field index -> value, tombstones left out. */
struct udt_cells {
	int n;
	int field[8];
	char val[8][16];
};

static int collect_udt(void *ctx, const struct store_partition *p, const struct store_row *r)
{
	(void)p;
	struct udt_cells *u = ctx;
	for (size_t i = 0; i < r->n_cells && u->n < 8; i++) {
		const struct store_cell *c = &r->cells[i];
		if (c->col != 5 || c->tombstone)
			continue;
		cr_assert_eq(c->path_len, 2, "a field's path is its index as a smallint");
		u->field[u->n] = be16_load(c->path);
		snprintf(u->val[u->n++], 16, "%.*s", (int)c->value_len, (const char *)c->value);
	}
	return 0;
}

static struct store_table *make_udt_table(const struct cqltype *udt)
{
	static const struct cqltype *pk[1];
	static struct store_column cols[1];
	pk[0] = T(CQLTYPE_INT);
	cols[0] = (struct store_column){.id = 5, .type = udt};
	struct store_table_desc d = one_column_desc("udt", pk, 1, cols, 864000);
	d.id[15] = 77;
	return open_table(&d);
}

static struct cqltype *udt_type(uint32_t n)
{
	static const char *const names[] = {"street", "zip", "city"};
	char **nm = calloc(n, sizeof(*nm));
	const struct cqltype **f = calloc(n, sizeof(*f));
	cr_assert(nm && f);
	for (uint32_t i = 0; i < n; i++) {
		nm[i] = strdup(names[i]);
		f[i] = T(i == 1 ? CQLTYPE_INT : CQLTYPE_VARCHAR);
	}
	struct cqltype *t = cqltype_udt_new("ks", "address", nm, f, n, false);
	cr_assert(t);
	return t;
}

static void read_udt(struct store_table *t, struct udt_cells *u)
{
	memset(u, 0, sizeof(*u));
	struct intbox k = I(1);
	struct store_value v = V(k.b, 4);
	struct cerr e = {0};
	cr_assert_eq(store_read_partition(t, &v, 1, NULL, 0, 0, NOW, collect_udt, u, &e), 0, "%s",
	             e.msg);
}

Test(storage, non_frozen_udt_fields_are_cells_checked_by_the_field_type)
{
	struct cqltype *two = udt_type(2), *three = udt_type(3);
	struct store_table *t = make_udt_table(two);
	uint8_t p0[2] = {0, 0}, p1[2] = {0, 1}, p2[2] = {0, 2};
	struct store_value f0 = V(p0, 2), f1 = V(p1, 2), f2 = V(p2, 2);
	struct intbox zip = I(5003);
	struct store_mutation m;
	begin(&m, t, 1);
	cr_assert_eq(store_mutation_set_cell(&m, NULL, 0, 5, &f0, "Main", 4, 10, 0), 0, "%s",
	             m.err.msg);
	cr_assert_eq(store_mutation_set_cell(&m, NULL, 0, 5, &f1, zip.b, 4, 10, 0), 0, "%s",
	             m.err.msg);
	apply(&m);
	/* two writers of different fields: each keeps its own newest cell */
	begin(&m, t, 1);
	cr_assert_eq(store_mutation_set_cell(&m, NULL, 0, 5, &f0, "Side", 4, 30, 0), 0);
	apply(&m);
	begin(&m, t, 1);
	cr_assert_eq(store_mutation_set_cell(&m, NULL, 0, 5, &f0, "Old", 3, 20, 0), 0);
	apply(&m);
	struct udt_cells u;
	read_udt(t, &u);
	cr_assert_eq(u.n, 2);
	cr_expect_eq(u.field[0], 0);
	cr_expect_str_eq(u.val[0], "Side");
	cr_expect_eq(u.field[1], 1);
	/* a value of the wrong type for the field, a field the type lacks, a missing path */
	begin(&m, t, 1);
	cr_expect_eq(store_mutation_set_cell(&m, NULL, 0, 5, &f1, "abc", 3, 40, 0), COL_ETYPE,
	             "field 1 is an int");
	store_mutation_release(&m);
	begin(&m, t, 1);
	cr_expect_eq(store_mutation_set_cell(&m, NULL, 0, 5, &f2, "x", 1, 40, 0), COL_EINVAL,
	             "the type has no field 2");
	store_mutation_release(&m);
	begin(&m, t, 1);
	cr_expect_eq(store_mutation_set_cell(&m, NULL, 0, 5, NULL, "x", 1, 40, 0), COL_EINVAL,
	             "a field cell needs its path");
	store_mutation_release(&m);
	/* the type gains a field (ALTER TYPE ADD): the new field's cells are taken */
	struct store_column cols[1] = {{.id = 5, .type = three}};
	const struct cqltype *pk[1] = {T(CQLTYPE_INT)};
	struct store_table_desc d = one_column_desc("udt", pk, 1, cols, 864000);
	d.id[15] = 77;
	struct cerr e = {0};
	cr_assert_eq(store_table_alter(t, &d, &e), 0, "%s", e.msg);
	begin(&m, t, 1);
	cr_assert_eq(store_mutation_set_cell(&m, NULL, 0, 5, &f2, "Oslo", 4, 40, 0), 0, "%s",
	             m.err.msg);
	apply(&m);
	read_udt(t, &u);
	cr_assert_eq(u.n, 3);
	cr_expect_str_eq(u.val[2], "Oslo");
	/* a whole overwrite: the column's tombstone hides every older field, not newer ones */
	begin(&m, t, 1);
	cr_assert_eq(store_mutation_delete_cell(&m, NULL, 0, 5, NULL, 39), 0);
	apply(&m);
	read_udt(t, &u);
	cr_assert_eq(u.n, 1);
	cr_expect_eq(u.field[0], 2);
	cr_expect_str_eq(u.val[0], "Oslo");
	/* a field's own tombstone */
	begin(&m, t, 1);
	cr_assert_eq(store_mutation_delete_cell(&m, NULL, 0, 5, &f2, 41), 0);
	apply(&m);
	read_udt(t, &u);
	cr_expect_eq(u.n, 0);
	cqltype_free(two);
	cqltype_free(three);
}
