/*
 * Secondary indexes in storage: entries written with the base data, index reads
 * checked against the base rows (updates, deletes, TTL), stale entries deleted,
 * collection indexes, paging, build over existing data, truncate, reopen.
 */
#include "core/buf.h"
#include "core/cqltype.h"
#include "core/err.h"
#include "storage/storage.h"
#include "tests/unit/store_fixture.h"
#include "storage/storage_int.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOW 1800000000LL

static char dir[256];
static struct store *st;

static void open_store(void)
{
	struct store_options o;
	test_store_options(&o, dir);
	struct cerr e = {0};
	cr_assert_eq(store_open(&o, &st, &e), 0, "%s", e.msg);
}

static void setup(void)
{
	test_dir_make(dir, sizeof(dir), "sindex");
	open_store();
}

static void teardown(void)
{
	store_close(st);
	test_dir_remove(dir);
}

TestSuite(sindex, .init = setup, .fini = teardown);

/* (pk int, ck int) v text [id 1], m map<text,int> [id 2], s set<text> [id 3],
 * st int static [id 4] */
static const struct store_index IX_V = {STORE_IX_COLUMN, STORE_IX_VALUES, 1};
static const struct store_index IX_MKEYS = {STORE_IX_COLUMN, STORE_IX_KEYS, 2};
static const struct store_index IX_MVALS = {STORE_IX_COLUMN, STORE_IX_VALUES, 2};
static const struct store_index IX_MENT = {STORE_IX_COLUMN, STORE_IX_ENTRIES, 2};
static const struct store_index IX_S = {STORE_IX_COLUMN, STORE_IX_VALUES, 3};
static const struct store_index IX_ST = {STORE_IX_COLUMN, STORE_IX_VALUES, 4};
static const struct store_index IX_CK = {STORE_IX_CK, STORE_IX_VALUES, 0};

static struct store_table *table(const struct store_index *ix, size_t n_ix)
{
	static const struct cqltype *pk[1], *ck[1], *map, *set;
	static struct store_column cols[4];
	if (!map) {
		cqltype_parse("map<text, int>", 14, &map, NULL);
		cqltype_parse("set<text>", 9, &set, NULL);
	}
	pk[0] = cqltype_simple(CQLTYPE_INT);
	ck[0] = cqltype_simple(CQLTYPE_INT);
	cols[0] = (struct store_column){.id = 1, .type = cqltype_simple(CQLTYPE_VARCHAR)};
	cols[1] = (struct store_column){.id = 2, .type = map};
	cols[2] = (struct store_column){.id = 3, .type = set};
	cols[3] = (struct store_column){
	        .id = 4, .type = cqltype_simple(CQLTYPE_INT), .is_static = true};
	struct store_table_desc d = {.keyspace = "ks",
	                             .name = "t",
	                             .n_pk = 1,
	                             .pk_types = pk,
	                             .n_ck = 1,
	                             .ck_types = ck,
	                             .n_cols = 4,
	                             .cols = cols,
	                             .gc_grace_seconds = 10,
	                             .n_indexes = n_ix,
	                             .indexes = ix};
	d.id[15] = 7;
	struct store_table *t = NULL;
	struct cerr e = {0};
	cr_assert_eq(store_table_open(st, &d, &t, &e), 0, "%s", e.msg);
	return t;
}

struct ib {
	uint8_t b[4];
};
static struct ib I(int32_t v) {
	struct ib x;
	be32_store(x.b, (uint32_t)v);
	return x;
}

static void
begin(struct store_mutation *m, struct store_table *t, int32_t pk)
{
	struct ib k = I(pk);
	struct store_value v = {k.b, 4};
	cr_assert_eq(store_mutation_init(m, t, &v, 1, NOW, NULL), 0);
}

static void apply(struct store_mutation *m)
{
	struct cerr e = {0};
	cr_assert_eq(m->error, 0, "%s", m->err.msg);
	cr_assert_eq(store_apply(st, m, &e), 0, "%s", e.msg);
	store_mutation_release(m);
}

static void set_v(struct store_table *t, int32_t pk, int32_t ck, const char *v, int64_t ts,
                  int32_t ttl)
{
	struct store_mutation m;
	begin(&m, t, pk);
	struct ib c = I(ck);
	struct store_value cv = {c.b, 4};
	store_mutation_row_marker(&m, &cv, 1, ts, ttl);
	store_mutation_set_cell(&m, &cv, 1, 1, NULL, v, strlen(v), ts, ttl);
	apply(&m);
}

struct hits {
	int n;
	int32_t pk[256], ck[256];
	int64_t token[256];
	bool is_static[256];
};

static int collect(void *ctx, const struct store_partition *p, const struct store_row *r)
{
	struct hits *h = ctx;
	cr_assert_lt(h->n, 256);
	h->pk[h->n] = (int32_t)be32_load(p->pk[0].p);
	h->ck[h->n] = r->is_static ? -1 : (int32_t)be32_load(r->ck[0].p);
	h->token[h->n] = p->token;
	h->is_static[h->n] = r->is_static;
	h->n++;
	return 0;
}

static int ixread(struct store_table *t, const struct store_index *ix, const void *v, size_t vl,
                  const void *v2, size_t vl2, const struct store_position *after, size_t limit,
                  int64_t now, struct hits *h, struct store_index_read_stats *stats)
{
	memset(h, 0, sizeof(*h));
	struct store_value vals[2] = {{v, vl}, {v2, vl2}};
	struct cerr e = {0};
	return store_index_read(t, ix, vals, v2 ? 2 : 1, INT64_MIN, INT64_MIN, after, 0, limit, now,
	                        collect, h, stats, &e);
}

static int ixread_s(struct store_table *t, const struct store_index *ix, const char *v, int64_t now,
                    struct hits *h, struct store_index_read_stats *stats)
{
	return ixread(t, ix, v, strlen(v), NULL, 0, NULL, 0, now, h, stats);
}

Test(sindex, entries_follow_inserts_updates_and_deletes)
{
	struct store_table *t = table(&IX_V, 1);
	cr_assert(store_index_built(t, &IX_V), "a new table's index needs no build");
	for (int i = 0; i < 20; i++)
		set_v(t, i, i % 3, i % 2 ? "odd" : "even", 100, 0);
	struct hits h;
	struct store_index_read_stats s;
	cr_assert_eq(ixread_s(t, &IX_V, "odd", NOW, &h, &s), 0);
	cr_assert_eq(h.n, 10);
	for (int i = 1; i < h.n; i++)
		cr_assert_leq(h.token[i - 1], h.token[i], "rows come in token order");
	for (int i = 0; i < h.n; i++)
		cr_assert_eq(h.pk[i] % 2, 1);
	cr_assert_eq(s.stale, 0);
	/* update pk 1 to "even": found under its new value only; the stale entry goes */
	set_v(t, 1, 1, "even", 200, 0);
	cr_assert_eq(ixread_s(t, &IX_V, "odd", NOW, &h, &s), 0);
	cr_assert_eq(h.n, 9);
	cr_assert_eq(s.entries, 10);
	cr_assert_eq(s.stale, 1);
	cr_assert_eq(ixread_s(t, &IX_V, "odd", NOW, &h, &s), 0);
	cr_assert_eq(s.entries, 9, "the stale entry was deleted by the read");
	cr_assert_eq(ixread_s(t, &IX_V, "even", NOW, &h, &s), 0);
	cr_assert_eq(h.n, 11);
	/* an older write of the old value changes nothing */
	set_v(t, 1, 1, "odd", 150, 0);
	cr_assert_eq(ixread_s(t, &IX_V, "odd", NOW, &h, &s), 0);
	cr_assert_eq(h.n, 9);
	/* row delete, partition delete, range delete */
	struct store_mutation m;
	struct ib c = I(0);
	struct store_value cv = {c.b, 4};
	begin(&m, t, 3);
	store_mutation_delete_row(&m, &cv, 1, 300);
	apply(&m);
	begin(&m, t, 5);
	store_mutation_delete_partition(&m, 300);
	apply(&m);
	begin(&m, t, 7);
	store_mutation_delete_range(&m, NULL, 0, true, NULL, 0, true, 300);
	apply(&m);
	cr_assert_eq(ixread_s(t, &IX_V, "odd", NOW, &h, &s), 0);
	cr_assert_eq(h.n, 6);
	cr_assert_eq(s.stale, 3);
	for (int i = 0; i < h.n; i++)
		cr_assert(h.pk[i] != 3 && h.pk[i] != 5 && h.pk[i] != 7);
	/* a cell deleted alone */
	begin(&m, t, 9);
	struct ib c9 = I(0);
	struct store_value cv9 = {c9.b, 4};
	store_mutation_delete_cell(&m, &cv9, 1, 1, NULL, 300);
	apply(&m);
	cr_assert_eq(ixread_s(t, &IX_V, "odd", NOW, &h, &s), 0);
	cr_assert_eq(h.n, 5);
}

Test(sindex, ttl_expiry_and_rewrite_with_a_longer_ttl)
{
	struct store_table *t = table(&IX_V, 1);
	set_v(t, 1, 0, "x", 100, 10);
	set_v(t, 2, 0, "x", 100, 0);
	struct hits h;
	cr_assert_eq(ixread_s(t, &IX_V, "x", NOW, &h, NULL), 0);
	cr_assert_eq(h.n, 2);
	cr_assert_eq(ixread_s(t, &IX_V, "x", NOW + 11, &h, NULL), 0);
	cr_assert_eq(h.n, 1);
	cr_assert_eq(h.pk[0], 2);
	/* rewritten later without TTL: lives again under the same entry */
	set_v(t, 1, 0, "x", 200, 0);
	cr_assert_eq(ixread_s(t, &IX_V, "x", NOW + 11, &h, NULL), 0);
	cr_assert_eq(h.n, 2);
}

Test(sindex, collection_keys_values_entries_and_set_elements)
{
	struct store_index ixs[4] = {IX_MKEYS, IX_MVALS, IX_MENT, IX_S};
	struct store_table *t = table(ixs, 4);
	struct store_mutation m;
	struct ib c = I(0), one = I(1), two = I(2);
	struct store_value cv = {c.b, 4}, ka = {"a", 1}, kb = {"b", 1}, e1 = {"red", 3};
	begin(&m, t, 1);
	store_mutation_set_cell(&m, &cv, 1, 2, &ka, one.b, 4, 100, 0);
	store_mutation_set_cell(&m, &cv, 1, 2, &kb, two.b, 4, 100, 0);
	store_mutation_set_cell(&m, &cv, 1, 3, &e1, "", 0, 100, 0);
	apply(&m);
	begin(&m, t, 2);
	store_mutation_set_cell(&m, &cv, 1, 2, &kb, one.b, 4, 100, 0);
	apply(&m);
	struct hits h;
	cr_assert_eq(ixread(t, &IX_MKEYS, "a", 1, NULL, 0, NULL, 0, NOW, &h, NULL), 0);
	cr_assert_eq(h.n, 1);
	cr_assert_eq(ixread(t, &IX_MKEYS, "b", 1, NULL, 0, NULL, 0, NOW, &h, NULL), 0);
	cr_assert_eq(h.n, 2);
	cr_assert_eq(ixread(t, &IX_MVALS, one.b, 4, NULL, 0, NULL, 0, NOW, &h, NULL), 0);
	cr_assert_eq(h.n, 2);
	cr_assert_eq(ixread(t, &IX_MENT, "b", 1, one.b, 4, NULL, 0, NOW, &h, NULL), 0);
	cr_assert_eq(h.n, 1);
	cr_assert_eq(h.pk[0], 2);
	cr_assert_eq(ixread_s(t, &IX_S, "red", NOW, &h, NULL), 0);
	cr_assert_eq(h.n, 1);
	/* the element removed: gone from the set's and the map's indexes */
	begin(&m, t, 1);
	store_mutation_delete_cell(&m, &cv, 1, 3, &e1, 200);
	store_mutation_delete_cell(&m, &cv, 1, 2, &ka, 200);
	apply(&m);
	cr_assert_eq(ixread_s(t, &IX_S, "red", NOW, &h, NULL), 0);
	cr_assert_eq(h.n, 0);
	cr_assert_eq(ixread(t, &IX_MKEYS, "a", 1, NULL, 0, NULL, 0, NOW, &h, NULL), 0);
	cr_assert_eq(h.n, 0);
	/* ENTRIES takes two values */
	struct store_value one_v = {"a", 1};
	struct cerr e = {0};
	cr_assert_eq(store_index_read(t, &IX_MENT, &one_v, 1, 0, 0, NULL, 0, 0, NOW, collect, &h,
	                              NULL, &e),
	             COL_EINVAL);
	cr_assert(strstr(e.msg, "takes 2 value"), "%s", e.msg);
}

Test(sindex, static_column_index_reports_the_partition)
{
	struct store_table *t = table(&IX_ST, 1);
	set_v(t, 1, 0, "r0", 100, 0);
	set_v(t, 1, 1, "r1", 100, 0);
	struct store_mutation m;
	struct ib v = I(42);
	begin(&m, t, 1);
	store_mutation_set_cell(&m, NULL, 0, 4, NULL, v.b, 4, 100, 0);
	apply(&m);
	struct hits h;
	cr_assert_eq(ixread(t, &IX_ST, v.b, 4, NULL, 0, NULL, 0, NOW, &h, NULL), 0);
	cr_assert_eq(h.n, 3, "the static row and both rows");
	cr_assert(h.is_static[0]);
}

Test(sindex, clustering_index_paging_and_limit)
{
	struct store_table *t = table(&IX_CK, 1);
	for (int i = 0; i < 30; i++) {
		set_v(t, i, 5, "x", 100, 0);
		set_v(t, i, 6, "y", 100, 0);
	}
	struct ib five = I(5);
	struct hits all, page;
	cr_assert_eq(ixread(t, &IX_CK, five.b, 4, NULL, 0, NULL, 0, NOW, &all, NULL), 0);
	cr_assert_eq(all.n, 30);
	/* pages of 7 rows resumed after the last row give the same rows, once each */
	int got = 0;
	struct store_position after;
	struct ib ak, ack;
	struct store_value ckv;
	bool have_after = false;
	for (int round = 0; round < 10 && got < 30; round++) {
		cr_assert_eq(ixread(t, &IX_CK, five.b, 4, NULL, 0, have_after ? &after : NULL, 7,
		                    NOW, &page, NULL),
		             0);
		cr_assert_leq(page.n, 7);
		for (int i = 0; i < page.n; i++, got++)
			cr_assert_eq(page.pk[i], all.pk[got], "row %d", got);
		if (page.n == 0)
			break;
		ak = I(page.pk[page.n - 1]);
		ack = I(page.ck[page.n - 1]);
		ckv = (struct store_value){ack.b, 4};
		after = (struct store_position){.token = page.token[page.n - 1],
		                                .key = ak.b,
		                                .key_len = 4,
		                                .ck = &ckv,
		                                .n_ck = 1};
		have_after = true;
	}
	cr_assert_eq(got, 30);
	/* a token range: only the rows in it */
	struct hits part;
	memset(&part, 0, sizeof(part));
	struct store_value val = {five.b, 4};
	cr_assert_eq(store_index_read(t, &IX_CK, &val, 1, INT64_MIN, 0, NULL, 0, 0, NOW, collect,
	                              &part, NULL, NULL),
	             0);
	int want = 0;
	for (int i = 0; i < all.n; i++)
		want += all.token[i] <= 0;
	cr_assert_eq(part.n, want);
}

Test(sindex, build_over_existing_data_then_truncate_and_drop)
{
	struct store_table *t = table(NULL, 0);
	for (int i = 0; i < 2500; i++)
		set_v(t, i, 0, i % 10 == 0 ? "tenth" : "other", 100, 0);
	t = table(&IX_V, 1); /* ALTER: the index arrives over 2500 rows */
	store_index_wait_builds(st);
	struct store_index_progress p;
	store_index_progress(t, &IX_V, &p);
	cr_assert(p.known && p.built);
	cr_assert(store_index_built(t, &IX_V));
	struct hits h;
	cr_assert_eq(ixread_s(t, &IX_V, "tenth", NOW, &h, NULL), 0);
	cr_assert_eq(h.n, 250);
	/* survives a restart, built */
	store_close(st);
	open_store();
	t = table(&IX_V, 1);
	cr_assert(store_index_built(t, &IX_V));
	cr_assert_eq(ixread_s(t, &IX_V, "tenth", NOW, &h, NULL), 0);
	cr_assert_eq(h.n, 250);
	/* TRUNCATE deletes the entries */
	struct store_index_read_stats s;
	struct cerr e = {0};
	cr_assert_eq(store_table_truncate(t, 1000, &e), 0, "%s", e.msg);
	cr_assert_eq(ixread_s(t, &IX_V, "tenth", NOW, &h, &s), 0);
	cr_assert_eq(h.n, 0);
	cr_assert_eq(s.entries, 0);
	set_v(t, 1, 0, "tenth", 2000, 0);
	cr_assert_eq(ixread_s(t, &IX_V, "tenth", NOW, &h, NULL), 0);
	cr_assert_eq(h.n, 1);
	/* the index dropped: refused, and created again it is rebuilt */
	t = table(NULL, 0);
	cr_assert_eq(ixread_s(t, &IX_V, "tenth", NOW, &h, NULL), COL_ENOTFOUND);
	cr_assert(!store_index_built(t, &IX_V));
	t = table(&IX_V, 1);
	store_index_wait_builds(st);
	cr_assert_eq(ixread_s(t, &IX_V, "tenth", NOW, &h, &s), 0);
	cr_assert_eq(h.n, 1);
}

Test(sindex, bad_index_descriptors_are_refused)
{
	struct store_index bad[] = {
	        {STORE_IX_COLUMN, STORE_IX_VALUES, 99}, /* no such column */
	        {STORE_IX_COLUMN, STORE_IX_KEYS, 1},    /* keys of a text */
	        {STORE_IX_CK, STORE_IX_VALUES, 3},      /* no such clustering column */
	        {STORE_IX_COLUMN, STORE_IX_ENTRIES, 3}, /* entries of a set */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		static const struct cqltype *pk[1];
		pk[0] = cqltype_simple(CQLTYPE_INT);
		struct store_column col = {.id = 1, .type = cqltype_simple(CQLTYPE_VARCHAR)};
		struct store_table_desc d = {.keyspace = "ks",
		                             .name = "b",
		                             .n_pk = 1,
		                             .pk_types = pk,
		                             .n_cols = 1,
		                             .cols = &col,
		                             .n_indexes = 1,
		                             .indexes = &bad[i]};
		d.id[15] = 9;
		struct store_table *t;
		struct cerr e = {0};
		cr_assert_eq(store_table_open(st, &d, &t, &e), COL_EINVAL, "index %zu", i);
		cr_assert(strstr(e.msg, "index"), "%s", e.msg);
	}
}

Test(sindex, small_table_built_inline_and_unbuilt_index_refused)
{
	struct store_table *t = table(NULL, 0);
	for (int i = 0; i < 100; i++)
		set_v(t, i, 0, i % 2 ? "odd" : "even", 100, 0);
	t = table(&IX_V, 1);
	cr_assert(store_index_built(t, &IX_V), "a small table's index is built by the ALTER");
	struct hits h;
	cr_assert_eq(ixread_s(t, &IX_V, "odd", NOW, &h, NULL), 0);
	cr_assert_eq(h.n, 50);
	/* without its build record (as before the build ends) the index is refused */
	char key[80] = "ixbuilt/";
	uint8_t p[22] = {0};
	p[15] = 7;
	p[16] = STORE_IX_COLUMN;
	p[20] = 1;
	p[21] = STORE_IX_VALUES;
	for (int i = 0; i < 22; i++)
		sprintf(key + 8 + 2 * i, "%02x", p[i]);
	struct cerr e = {0};
	cr_assert_eq(store_kv_delete(st, STORE_CF_SYSTEM, key, strlen(key), &e), 0, "%s", e.msg);
	cr_assert(!store_index_built(t, &IX_V));
	struct store_value v = {"odd", 3};
	cr_assert_eq(
	        store_index_read(t, &IX_V, &v, 1, 0, 0, NULL, 0, 0, NOW, collect, &h, NULL, &e),
	        COL_EAGAIN);
	cr_assert(strstr(e.msg, "not yet available"), "%s", e.msg);
}

Test(sindex, build_in_the_background_while_rows_change)
{
	struct store_table *t = table(NULL, 0);
	enum { ROWS = 12000 };
	for (int i = 0; i < ROWS; i++)
		set_v(t, i, 0, "a", 100, 0);
	t = table(&IX_V, 1); /* 24000 stored pairs: the inline part does not finish it */
	struct store_index_progress p;
	store_index_progress(t, &IX_V, &p);
	cr_assert(p.known);
	cr_assert(p.built || p.scanned >= STORE_INDEX_INLINE_BATCHES * STORE_INDEX_BUILD_BATCH,
	          "the inline part walked %llu pairs", (unsigned long long)p.scanned);
	/* while the builder runs: every 3rd row moves to "b", every 7th is deleted */
	int want_a = 0, want_b = 0;
	for (int i = 0; i < ROWS; i++) {
		if (i % 7 == 0) {
			struct store_mutation m;
			struct ib c = I(0);
			struct store_value cv = {c.b, 4};
			begin(&m, t, i);
			store_mutation_delete_row(&m, &cv, 1, 200);
			apply(&m);
		} else if (i % 3 == 0) {
			set_v(t, i, 0, "b", 200, 0);
			want_b++;
		} else {
			want_a++;
		}
	}
	store_index_wait_builds(st);
	cr_assert(store_index_built(t, &IX_V));
	struct store_index_stats is;
	store_index_stats(st, &is);
	cr_assert_geq(is.build_pairs, 2 * ROWS);
	cr_assert_eq(is.builds_running, 0);
	static struct hits h;
	int got = 0;
	/* the answers are exact (in pages: struct hits holds 256 rows) */
	struct store_position after;
	struct ib ak, ack;
	struct store_value ckv;
	bool have = false;
	for (;;) {
		cr_assert_eq(
		        ixread(t, &IX_V, "a", 1, NULL, 0, have ? &after : NULL, 200, NOW, &h, NULL),
		        0);
		for (int i = 0; i < h.n; i++)
			cr_assert(h.pk[i] % 7 != 0 && h.pk[i] % 3 != 0, "row %d", h.pk[i]);
		got += h.n;
		if (h.n < 200)
			break;
		ak = I(h.pk[h.n - 1]);
		ack = I(h.ck[h.n - 1]);
		ckv = (struct store_value){ack.b, 4};
		after = (struct store_position){.token = h.token[h.n - 1],
		                                .key = ak.b,
		                                .key_len = 4,
		                                .ck = &ckv,
		                                .n_ck = 1};
		have = true;
	}
	cr_assert_eq(got, want_a);
	struct store_value vb = {"b", 1};
	memset(&h, 0, sizeof(h));
	int nb = 0;
	have = false;
	for (;;) {
		cr_assert_eq(store_index_read(t, &IX_V, &vb, 1, INT64_MIN, INT64_MIN,
		                              have ? &after : NULL, 0, 200, NOW, collect, &h, NULL,
		                              NULL),
		             0);
		nb += h.n;
		if (h.n < 200)
			break;
		ak = I(h.pk[h.n - 1]);
		ack = I(h.ck[h.n - 1]);
		ckv = (struct store_value){ack.b, 4};
		after = (struct store_position){.token = h.token[h.n - 1],
		                                .key = ak.b,
		                                .key_len = 4,
		                                .ck = &ckv,
		                                .n_ck = 1};
		have = true;
		memset(&h, 0, sizeof(h));
	}
	cr_assert_eq(nb, want_b);
}

Test(sindex, compaction_drops_expired_entries_and_old_purge_tombstones)
{
	struct store_table *t = table(&IX_V, 1);
	int64_t now = (int64_t)time(NULL);
	for (int i = 0; i < 10; i++) {
		struct store_mutation m;
		struct ib k = I(i), c = I(0);
		struct store_value kv = {k.b, 4}, cv = {c.b, 4};
		cr_assert_eq(store_mutation_init(&m, t, &kv, 1, now, NULL), 0);
		store_mutation_set_cell(&m, &cv, 1, 1, NULL, "x", 1, 100, i < 4 ? 10 : 0);
		apply(&m);
	}
	set_v(t, 9, 0, "y", 200, 0); /* pk 9's "x" entry goes stale */
	struct hits h;
	struct store_index_read_stats s;
	cr_assert_eq(ixread_s(t, &IX_V, "x", now, &h, &s), 0);
	cr_assert_eq(h.n, 9);
	cr_assert_eq(s.stale, 1, "the read deletes pk 9's entry (a tombstone)");
	/* a compaction 20 s on: the 4 TTL entries have expired; the purge tombstone is young */
	struct cerr e = {0};
	cr_assert_eq(store_table_compact(t, now + 20, &e), 0, "%s", e.msg);
	cr_assert_eq(ixread_s(t, &IX_V, "x", now + 20, &h, &s), 0);
	cr_assert_eq(h.n, 5);
	cr_assert_eq(s.entries, 5, "expired entries are gone from the index, not just skipped");
	/* and past the tombstone grace the purge tombstone goes too: nothing is left to read but
	 * the live entries, and the stale one does not come back */
	cr_assert_eq(store_table_compact(t, now + 20 + STORE_INDEX_TOMB_GRACE + 5, &e), 0, "%s",
	             e.msg);
	cr_assert_eq(ixread_s(t, &IX_V, "x", now + 25, &h, &s), 0);
	cr_assert_eq(h.n, 5);
	cr_assert_eq(s.entries, 5);
	cr_assert_eq(s.stale, 0);
}

/* Every entry of the sindex CF as [key hex] = [value hex] lines. */
static void sindex_dump(char *out, size_t cap)
{
	out[0] = 0;
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf_sindex);
	size_t n = 0;
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t kl, vl;
		const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
		const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vl);
		for (size_t i = 0; i < kl && n + 3 < cap; i++)
			n += (size_t)snprintf(out + n, cap - n, "%02x", k[i]);
		n += (size_t)snprintf(out + n, cap - n, "=");
		for (size_t i = 0; i < vl && n + 3 < cap; i++)
			n += (size_t)snprintf(out + n, cap - n, "%02x", v[i]);
		n += (size_t)snprintf(out + n, cap - n, "\n");
	}
	rocksdb_iter_destroy(it);
}

Test(sindex, golden_entry_layout)
{
	struct store_index ixs[2] = {IX_V, IX_MENT};
	struct store_table *t = table(ixs, 2);
	struct store_mutation m;
	struct ib c = I(0), one = I(1);
	struct store_value cv = {c.b, 4}, key = {"a\0", 2};
	begin(&m, t, 1);
	store_mutation_set_cell(&m, &cv, 1, 1, NULL, "x", 1, 0x0102, 5);
	store_mutation_set_cell(&m, &cv, 1, 2, &key, one.b, 4, 0x0102, 0);
	store_mutation_delete_cell(&m, &cv, 1, 1, NULL, 0x0101); /* older: no entry, no effect */
	apply(&m);
	int64_t tok;
	struct ib pk = I(1);
	struct store_value pkv = {pk.b, 4};
	cr_assert_eq(store_partition_token(t, &pkv, 1, &tok, NULL), 0);
	char tokhex[17];
	snprintf(tokhex, sizeof(tokhex), "%016llx",
	         (unsigned long long)((uint64_t)tok ^ (1ULL << 63)));
	/* table id | on 00 | col | kind | escaped value(s) | token | escaped pk | 03 | ck (int 0
	 * ordered: 02 80000000) = flags | ts [| ttl | expiry] */
	char want[1024];
	snprintf(want, sizeof(want),
	         "00000000000000000000000000000007"
	         "00"
	         "00000001"
	         "00"
	         "780001%s00ff00ff00ff01000103"
	         "0280000000=02000000000000010200000005%08llx\n"
	         "00000000000000000000000000000007"
	         "00"
	         "00000002"
	         "02"
	         "6100ff0001"
	         "00ff00ff00ff010001"
	         "%s00ff00ff00ff01000103"
	         "0280000000=000000000000000102\n",
	         tokhex, (unsigned long long)(NOW + 5), tokhex);
	char got[1024];
	sindex_dump(got, sizeof(got));
	cr_expect_str_eq(got, want);
}
