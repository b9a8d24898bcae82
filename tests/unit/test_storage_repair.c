/*
 * Repair's view of a store (storage.h, REPAIR CANONICAL FORM): two stores
 * with the same logical data reached by different write histories and
 * compaction states hash alike partition by partition; a missing cell shows
 * in exactly its partition; chunks streamed into an empty store reproduce
 * the hashes, applying twice changes nothing, torn or foreign chunks are
 * refused whole.
 */
#include "core/buf.h"
#include "core/cqltype.h"
#include "core/merkle.h"
#include "storage/storage.h"
#include "tests/unit/store_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW   1800000000LL
#define TS(s) ((int64_t)(s)*1000000)

struct node {
	char dir[64];
	struct store *s;
	struct store_table *t;
};

static struct store_column cols[3];
static const struct cqltype *pkt[1], *ckt[1];

static void desc_of(struct store_table_desc *d, size_t ncols)
{
	pkt[0] = cqltype_simple(CQLTYPE_INT);
	ckt[0] = cqltype_simple(CQLTYPE_INT);
	cols[0] = (struct store_column){.id = 1, .type = cqltype_simple(CQLTYPE_VARCHAR)};
	cols[1] = (struct store_column){.id = 2, .type = cqltype_simple(CQLTYPE_INT)};
	cols[2] = (struct store_column){.id = 3, .type = cqltype_simple(CQLTYPE_INT)};
	*d = (struct store_table_desc){.keyspace = "ks",
	                               .name = "t",
	                               .n_pk = 1,
	                               .pk_types = pkt,
	                               .n_ck = 1,
	                               .ck_types = ckt,
	                               .n_cols = ncols,
	                               .cols = cols,
	                               .gc_grace_seconds = 100};
	d->id[15] = 9;
}

static void node_open(struct node *n)
{
	test_dir_make(n->dir, sizeof(n->dir), "repair");
	struct store_options o;
	test_store_options(&o, n->dir);
	o.write_buffer_bytes = 1 << 20;
	struct cerr e = {0};
	cr_assert_eq(store_open(&o, &n->s, &e), 0, "%s", e.msg);
	struct store_table_desc d;
	desc_of(&d, 3);
	cr_assert_eq(store_table_open(n->s, &d, &n->t, &e), 0, "%s", e.msg);
}

static void node_close(struct node *n)
{
	store_close(n->s);
	test_dir_remove(n->dir);
}

static struct store_value iv(uint8_t b[4], int32_t v)
{
	be32_store(b, (uint32_t)v);
	return (struct store_value){b, 4};
}

enum op { CELL, CELL_TTL, DEL_CELL, DEL_ROW, DEL_RANGE, DEL_PART };

/* One write of partition pk, row ck, at second `at` (its timestamp and now). */
static void put(struct node *n, enum op op, int pk, int ck, int col, int64_t at, const char *val)
{
	uint8_t pb[4], cb[4], eb[4];
	struct store_value p = iv(pb, pk), c = iv(cb, ck), e = iv(eb, ck + 5);
	struct store_mutation m;
	struct cerr err = {0};
	cr_assert_eq(store_mutation_init(&m, n->t, &p, 1, at, &err), 0, "%s", err.msg);
	int rc = 0;
	switch (op) {
	case CELL:
	case CELL_TTL:
		if (col == 1)
			rc = store_mutation_set_cell(&m, &c, 1, 1, NULL, val, strlen(val), TS(at),
			                             op == CELL_TTL ? 10 : 0);
		else
			rc = store_mutation_set_cell(&m, &c, 1, (uint32_t)col, NULL, cb, 4, TS(at),
			                             op == CELL_TTL ? 10 : 0);
		break;
	case DEL_CELL:
		rc = store_mutation_delete_cell(&m, &c, 1, (uint32_t)col, NULL, TS(at));
		break;
	case DEL_ROW: rc = store_mutation_delete_row(&m, &c, 1, TS(at)); break;
	case DEL_RANGE:
		rc = store_mutation_delete_range(&m, &c, 1, true, &e, 1, false, TS(at));
		break;
	case DEL_PART: rc = store_mutation_delete_partition(&m, TS(at)); break;
	}
	cr_assert_eq(rc, 0, "%s", m.err.msg);
	cr_assert_eq(store_apply(n->s, &m, &err), 0, "%s", err.msg);
	store_mutation_release(&m);
}

struct hashes {
	size_t n;
	int64_t tok[4096];
	struct merkle_hash h[4096];
};

static int collect(void *ctx, int64_t token, const struct merkle_hash *h)
{
	struct hashes *hs = ctx;
	cr_assert_lt(hs->n, 4096);
	if (hs->n)
		cr_assert_geq(token, hs->tok[hs->n - 1], "partitions come in token order");
	hs->tok[hs->n] = token;
	hs->h[hs->n++] = *h;
	return 0;
}

static void hash_all(struct node *n, struct hashes *hs, int64_t now)
{
	hs->n = 0;
	struct cerr e = {0};
	cr_assert_eq(store_repair_hash(n->t, INT64_MIN, INT64_MIN, now, collect, hs, NULL, &e), 0,
	             "%s", e.msg);
}

static size_t n_differ(const struct hashes *a, const struct hashes *b)
{
	size_t i = 0, j = 0, d = 0;
	while (i < a->n || j < b->n) {
		if (i < a->n && j < b->n && a->tok[i] == b->tok[j]) {
			d += a->h[i].lo != b->h[j].lo || a->h[i].hi != b->h[j].hi;
			i++, j++;
		} else if (j >= b->n || (i < a->n && a->tok[i] < b->tok[j]))
			i++, d++;
		else
			j++, d++;
	}
	return d;
}

/* The final logical state both histories reach, at time 1000 + 200 (now). */
static void history_a(struct node *n)
{
	for (int p = 0; p < 40; p++)
		for (int c = 0; c < 10; c++) {
			put(n, CELL, p, c, 1, 1000, "old");
			put(n, CELL, p, c, 2, 1000, "");
		}
	for (int p = 0; p < 40; p++) {
		put(n, CELL, p, 3, 1, 1010, "new");    /* overwrite */
		put(n, DEL_ROW, p, 4, 0, 1020, NULL);  /* row tombstone */
		put(n, CELL_TTL, p, 5, 3, 1030, NULL); /* expires at 1040 */
		put(n, DEL_CELL, p, 6, 1, 1040, NULL); /* cell tombstone */
	}
	put(n, DEL_PART, 7, 0, 0, 1050, NULL);
	put(n, DEL_RANGE, 8, 0, 0, 1050, NULL);
	put(n, DEL_CELL, 9, 9, 2, 900, NULL); /* shadowed by nothing, past gc at 1200 */
}

static void history_b(struct node *n)
{
	/* newest first, some of the old data never seen, stale versions that lose */
	put(n, DEL_RANGE, 8, 0, 0, 1050, NULL);
	put(n, DEL_PART, 7, 0, 0, 1050, NULL);
	for (int p = 39; p >= 0; p--) {
		put(n, DEL_CELL, p, 6, 1, 1040, NULL);
		put(n, CELL_TTL, p, 5, 3, 1030, NULL);
		put(n, DEL_ROW, p, 4, 0, 1020, NULL);
		put(n, CELL, p, 3, 1, 1010, "new");
		put(n, CELL, p, 3, 1, 1005, "stale");
	}
	for (int p = 0; p < 40; p++)
		for (int c = 0; c < 10; c++) {
			if (p == 7 || (p == 8 && c < 5) || c == 4)
				continue; /* shadowed anyway: never written here */
			put(n, CELL, p, c, 1, 1000, c == 3 ? "new" : "old");
			put(n, CELL, p, c, 2, 1000, "");
			if (c == 3)
				put(n, CELL, p, c, 1, 1010, "new");
		}
}

Test(storage_repair, same_logical_data_hashes_alike_whatever_the_history)
{
	struct node a, b;
	node_open(&a);
	node_open(&b);
	history_a(&a);
	history_b(&b);
	struct cerr e = {0};
	/* a: flushed and fully compacted at 1200 (shadowed cells and the expired TTL
	 * cell rewritten); b: memtable only */
	cr_assert_eq(store_table_compact(a.t, 1200, &e), 0, "%s", e.msg);
	static struct hashes ha, hb;
	hash_all(&a, &ha, 1200);
	hash_all(&b, &hb, 1200);
	cr_assert_eq(ha.n, 39, "partition 7 is deleted whole: %zu", ha.n);
	cr_assert_eq(n_differ(&ha, &hb), 0);
	/* a dropped column: a has col 2 cells, b loses them; after the drop both agree */
	put(&a, CELL, 3, 1, 2, 1100, "");
	hash_all(&a, &ha, 1200);
	cr_assert_eq(n_differ(&ha, &hb), 1);
	struct store_table_desc d;
	desc_of(&d, 3);
	struct store_column keep[2] = {cols[0], cols[2]};
	d.cols = keep;
	d.n_cols = 2;
	cr_assert_eq(store_table_alter(a.t, &d, &e), 0, "%s", e.msg);
	cr_assert_eq(store_table_alter(b.t, &d, &e), 0, "%s", e.msg);
	hash_all(&a, &ha, 1200);
	hash_all(&b, &hb, 1200);
	cr_assert_eq(n_differ(&ha, &hb), 0);
	/* one missing cell: exactly one partition differs */
	put(&b, CELL, 11, 2, 1, 1100, "x");
	hash_all(&b, &hb, 1200);
	cr_assert_eq(n_differ(&ha, &hb), 1);
	node_close(&a);
	node_close(&b);
}

/* Stream every chunk of src's range into dst. */
static uint64_t stream(struct node *src, struct node *dst, int64_t s, int64_t e, size_t max)
{
	struct buf out, last, after;
	buf_init(&out), buf_init(&last), buf_init(&after);
	bool more = true, first = true;
	uint64_t total = 0, chunks = 0;
	struct cerr err = {0};
	while (more) {
		out.len = 0;
		cr_assert_eq(store_repair_chunk(src->t, s, e, first ? NULL : after.data, after.len,
		                                1200, max, &out, &last, &more, &err),
		             0, "%s", err.msg);
		first = false;
		after.len = 0;
		buf_put(&after, last.data, last.len);
		uint64_t pairs = 0;
		cr_assert_eq(store_repair_apply(dst->t, s, e, out.data, out.len, &pairs, &err), 0,
		             "%s", err.msg);
		total += pairs;
		chunks++;
	}
	cr_assert_gt(chunks, max < 4096 ? 10 : 0, "%lu chunks", (unsigned long)chunks);
	buf_release(&out), buf_release(&last), buf_release(&after);
	return total;
}

Test(storage_repair, chunks_reproduce_the_data_and_apply_idempotently)
{
	struct node a, c;
	node_open(&a);
	node_open(&c);
	history_a(&a);
	static struct hashes ha, hc, hc2;
	hash_all(&a, &ha, 1200);
	uint64_t pairs = stream(&a, &c, INT64_MIN, INT64_MIN, 300);
	cr_assert_gt(pairs, 400);
	hash_all(&c, &hc, 1200);
	cr_assert_eq(n_differ(&ha, &hc), 0);
	stream(&a, &c, INT64_MIN, INT64_MIN, 1 << 20); /* again, in one chunk */
	hash_all(&c, &hc2, 1200);
	cr_assert_eq(n_differ(&hc, &hc2), 0);
	/* a wrapping sub-range streams only its own partitions */
	struct node d;
	node_open(&d);
	int64_t s = INT64_MAX / 2, e = INT64_MIN / 2;
	stream(&a, &d, s, e, 1 << 20);
	static struct hashes hd;
	hash_all(&d, &hd, 1200);
	size_t in = 0;
	for (size_t i = 0; i < ha.n; i++)
		in += merkle_range_contains(s, e, ha.tok[i]);
	cr_assert_eq(hd.n, in);
	for (size_t i = 0; i < hd.n; i++)
		cr_assert(merkle_range_contains(s, e, hd.tok[i]));
	node_close(&a);
	node_close(&c);
	node_close(&d);
}

Test(storage_repair, bad_chunks_are_refused_whole)
{
	struct node a, c;
	node_open(&a);
	node_open(&c);
	history_a(&a);
	struct buf out, last;
	buf_init(&out), buf_init(&last);
	bool more;
	struct cerr e = {0};
	cr_assert_eq(store_repair_chunk(a.t, INT64_MIN, INT64_MIN, NULL, 0, 1200, 4096, &out, &last,
	                                &more, &e),
	             0);
	cr_assert(more);
	static struct hashes hc;
	size_t pair_end[1024], np = 0;
	for (size_t at = 0; at < out.len && np < 1024;) {
		at += 4 + be32_load(out.data + at);
		at += 4 + be32_load(out.data + at);
		pair_end[np++] = at;
	}
	for (size_t n = 1, p = 0; n < out.len; n++) { /* every truncation inside a pair: torn */
		while (p < np && pair_end[p] < n)
			p++;
		if (p < np && pair_end[p] == n)
			continue; /* a shorter chunk, well formed */
		int rc = store_repair_apply(c.t, INT64_MIN, INT64_MIN, out.data, n, NULL, &e);
		cr_assert_eq(rc, COL_ECORRUPT, "len %zu", n);
	}
	hash_all(&c, &hc, 1200);
	cr_assert_eq(hc.n, 0, "nothing of a refused chunk is written");
	/* keys outside the range */
	int64_t tok = (int64_t)(be64_load(out.data + 4) ^ (1ULL << 63));
	cr_assert_eq(store_repair_apply(c.t, tok, tok + 1000000000, out.data, out.len, NULL, &e),
	             COL_ECORRUPT);
	cr_assert(strstr(e.msg, "outside the range"), "%s", e.msg);
	/* a flipped value flag */
	out.data[4 + be32_load(out.data) + 4] = 0xF0;
	cr_assert_eq(store_repair_apply(c.t, INT64_MIN, INT64_MIN, out.data, out.len, NULL, &e),
	             COL_ECORRUPT);
	buf_release(&out), buf_release(&last);
	node_close(&a);
	node_close(&c);
}

static int count_kv(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
	(void)k, (void)kl, (void)v, (void)vl;
	(*(int *)ctx)++;
	return 0;
}

static int raw_keys(struct node *n)
{
	int count = 0;
	struct cerr e = {0};
	cr_assert_eq(store_scan_raw(n->t, INT64_MIN, INT64_MIN, count_kv, &count, &e), 0, "%s",
	             e.msg);
	return count;
}

Test(storage_repair, tombstones_are_purged_only_once_repaired_after_their_deletion)
{
	struct node a;
	node_open(&a); /* tombstone_gc 'repair' is the default */
	put(&a, CELL, 1, 1, 1, 1000, "x");
	put(&a, DEL_CELL, 1, 1, 1, 1001, NULL);
	put(&a, DEL_ROW, 2, 3, 0, 1001, NULL);
	put(&a, DEL_RANGE, 3, 0, 0, 1001, NULL);
	put(&a, DEL_PART, 4, 0, 0, 1001, NULL);
	int before = raw_keys(&a);
	cr_assert_eq(before, 4);
	struct cerr e = {0};
	/* far past gc_grace (100 s), never repaired: every tombstone stays */
	cr_assert_eq(store_table_compact(a.t, 5000, &e), 0, "%s", e.msg);
	cr_expect_eq(raw_keys(&a), 4, "unrepaired tombstones are kept past gc_grace");
	/* a repair that began before the deletions proves nothing */
	cr_assert_eq(store_table_mark_repaired(a.t, INT64_MIN, INT64_MIN, 1000), 0);
	cr_assert_eq(store_table_compact(a.t, 5000, &e), 0, "%s", e.msg);
	cr_expect_eq(raw_keys(&a), 4);
	/* half the ring repaired after them: the tombstones there go, the others stay */
	uint8_t pb[4];
	int64_t tok1;
	struct store_value pk = iv(pb, 1);
	cr_assert_eq(store_partition_token(a.t, &pk, 1, &tok1, &e), 0);
	cr_assert_eq(store_table_mark_repaired(a.t, tok1 - 1, tok1, 1002), 0);
	cr_expect_eq(store_table_repaired_at(a.t, tok1), 1002);
	cr_expect_eq(store_table_repaired_at(a.t, tok1 + 1), 1000);
	cr_assert_eq(store_table_compact(a.t, 5000, &e), 0, "%s", e.msg);
	cr_expect_eq(raw_keys(&a), 3, "partition 1's cell tombstone purged, the rest kept");
	/* the whole ring repaired after them: row, range and partition tombstones go too */
	cr_assert_eq(store_table_mark_repaired(a.t, INT64_MIN, INT64_MIN, 1002), 0);
	cr_assert_eq(store_table_compact(a.t, 5000, &e), 0, "%s", e.msg);
	cr_expect_eq(raw_keys(&a), 0, "every repaired tombstone past gc_grace is purged");
	node_close(&a);
}
