/*
 * The repair Merkle tree (core/merkle.h): leaves cover the range exactly and
 * evenly (wrapping and whole-ring ranges included), diffs find exactly the
 * leaves that differ, the depth choice, the wire form and its refusals.
 */
#include "core/merkle.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static struct merkle *mk(int64_t s, int64_t e, unsigned d)
{
	struct merkle *t = NULL;
	cr_assert_eq(merkle_new(s, e, d, &t), 0);
	return t;
}

/* Every leaf's range is (lo, hi] with lo = previous hi, the first starts at
 * start, the last ends at end, widths differ by at most one, and every
 * boundary token maps to its own leaf. */
static void check_cover(int64_t s, int64_t e, unsigned d)
{
	struct merkle *t = mk(s, e, d);
	unsigned __int128 span = merkle_span(s, e);
	int64_t prev = s;
	uint64_t wmin = UINT64_MAX, wmax = 0;
	for (size_t i = 0; i < merkle_n_leaves(t); i++) {
		int64_t lo, hi;
		merkle_leaf_range(t, i, &lo, &hi);
		cr_assert_eq(lo, prev, "leaf %zu of (%ld,%ld] d%u starts at %ld", i, (long)s,
		             (long)e, d, (long)lo);
		uint64_t w = (uint64_t)hi - (uint64_t)lo;
		if (span == ((unsigned __int128)1 << 64) && d == 0)
			w = UINT64_MAX; /* the whole ring in one leaf: 2^64 does not fit */
		wmin = w < wmin ? w : wmin;
		wmax = w > wmax ? w : wmax;
		if (span >= merkle_n_leaves(t)) {
			cr_assert_eq(merkle_leaf_of(t, hi), (long)i, "token %ld (leaf %zu end)",
			             (long)hi, i);
			cr_assert_eq(merkle_leaf_of(t, (int64_t)((uint64_t)lo + 1)), (long)i);
		}
		prev = hi;
	}
	cr_assert_eq(prev, e == s ? s : e);
	if (span >= merkle_n_leaves(t))
		cr_assert_leq(wmax - wmin, 1, "widths %lu..%lu", (unsigned long)wmin,
		              (unsigned long)wmax);
	merkle_free(t);
}

Test(merkle, leaves_cover_the_range_evenly)
{
	check_cover(-100, 100, 3);
	check_cover(0, 7, 3); /* fewer tokens than leaves is allowed: some leaves are empty */
	check_cover(INT64_MAX - 10, INT64_MIN + 10, 4); /* wraps */
	check_cover(42, 42, 8);                         /* whole ring */
	check_cover(INT64_MIN, INT64_MIN, 0);
	check_cover(INT64_MIN, INT64_MAX, 20);
	check_cover(-5, -5, 1);
}

Test(merkle, tokens_outside_the_range_are_refused)
{
	struct merkle *t = mk(10, 20, 2);
	struct merkle_hash h = {1, 2};
	cr_assert_eq(merkle_add(t, 10, &h), COL_EINVAL); /* start is exclusive */
	cr_assert_eq(merkle_add(t, 21, &h), COL_EINVAL);
	cr_assert_eq(merkle_add(t, 20, &h), 0);
	cr_assert_eq(merkle_leaf_of(t, 20), 3);
	cr_assert_eq(merkle_leaf_of(t, 11), 0);
	merkle_free(t);
	t = mk(100, -100, 2); /* wraps: (100, max] and [min, -100] */
	cr_assert_eq(merkle_leaf_of(t, 0), -1);
	cr_assert_geq(merkle_leaf_of(t, INT64_MIN), 0);
	cr_assert_geq(merkle_leaf_of(t, 101), 0);
	merkle_free(t);
}

static int collect(void *ctx, size_t leaf)
{
	size_t *v = ctx;
	v[++v[0]] = leaf;
	return 0;
}

Test(merkle, diff_finds_exactly_the_differing_leaves)
{
	struct merkle *a = mk(INT64_MIN, INT64_MIN, 10), *b = mk(INT64_MIN, INT64_MIN, 10);
	srand(7);
	int64_t diff_tok[3] = {INT64_MIN + 1, 0, INT64_MAX};
	for (int i = 0; i < 5000; i++) {
		int64_t tok =
		        (int64_t)(((uint64_t)rand() << 40) ^ ((uint64_t)rand() << 20) ^ rand());
		struct merkle_hash h = {(uint64_t)i * 2654435761u, (uint64_t)tok};
		/* added in different orders: XOR does not care */
		cr_assert_eq(merkle_add(a, tok, &h), 0);
		cr_assert_eq(merkle_add(b, -tok == tok ? tok : tok, &h), 0);
	}
	struct merkle_hash ra = merkle_root(a), rb = merkle_root(b);
	cr_assert(ra.lo == rb.lo && ra.hi == rb.hi);
	for (int i = 0; i < 3; i++) {
		struct merkle_hash h = {99 + (uint64_t)i, 7};
		merkle_add(b, diff_tok[i], &h);
	}
	size_t got[16] = {0};
	cr_assert_eq(merkle_diff(a, b, collect, got), 0);
	cr_assert_eq(got[0], 3);
	cr_assert_eq(got[1], (size_t)merkle_leaf_of(a, diff_tok[0]));
	cr_assert_eq(got[2], (size_t)merkle_leaf_of(a, diff_tok[1]));
	cr_assert_eq(got[3], (size_t)merkle_leaf_of(a, diff_tok[2]));
	rb = merkle_root(b);
	cr_assert(ra.lo != rb.lo || ra.hi != rb.hi);
	/* a partition whose hash cancels still changes the count */
	struct merkle *c = mk(0, 100, 1), *e = mk(0, 100, 1);
	struct merkle_hash z = {0, 0};
	merkle_add(c, 5, &z);
	memset(got, 0, sizeof(got));
	merkle_diff(c, e, collect, got);
	cr_assert_eq(got[0], 1);
	struct merkle *o = mk(0, 100, 2);
	cr_assert_eq(merkle_diff(c, o, collect, got), COL_EINVAL);
	merkle_free(a), merkle_free(b), merkle_free(c), merkle_free(e), merkle_free(o);
}

Test(merkle, depth_follows_the_estimate_within_bounds)
{
	cr_assert_eq(merkle_depth_for(0, 20), 0);
	cr_assert_eq(merkle_depth_for(1, 20), 0);
	cr_assert_eq(merkle_depth_for(2, 20), 1);
	cr_assert_eq(merkle_depth_for(1000, 20), 10);
	cr_assert_eq(merkle_depth_for(1024, 20), 10);
	cr_assert_eq(merkle_depth_for(1025, 20), 11);
	cr_assert_eq(merkle_depth_for(UINT64_MAX, 99), MERKLE_MAX_DEPTH);
	cr_assert_eq(merkle_depth_for(1u << 30, 16), 16);
	struct merkle *t;
	cr_assert_eq(merkle_new(0, 1, MERKLE_MAX_DEPTH + 1, &t), COL_EINVAL);
}

Test(merkle, wire_round_trip_and_refusals)
{
	struct merkle *t = mk(-7, 9000, 4);
	struct merkle_hash h = {0x0102030405060708ull, 0x1112131415161718ull};
	merkle_add(t, 100, &h);
	struct buf b;
	buf_init(&b);
	merkle_encode(t, &b);
	cr_assert_eq(b.len, merkle_encoded_len(4));
	cr_assert_eq(b.len, 18 + 24 * 16);
	cr_assert_eq(b.data[0], 0x4D);
	cr_assert_eq(b.data[1], 4);
	struct merkle *d = NULL;
	struct cerr err = {0};
	cr_assert_eq(merkle_decode(b.data, b.len, 20, &d, &err), 0);
	cr_assert_eq(d->start, -7);
	cr_assert_eq(d->end, 9000);
	size_t got[4] = {0};
	cr_assert_eq(merkle_diff(t, d, collect, got), 0);
	cr_assert_eq(got[0], 0);
	merkle_free(d);
	/* every truncation and one extra byte are refused */
	for (size_t n = 0; n < b.len; n++)
		cr_assert_eq(merkle_decode(b.data, n, 20, &d, &err), COL_ECORRUPT, "len %zu", n);
	buf_put_u8(&b, 0);
	cr_assert_eq(merkle_decode(b.data, b.len, 20, &d, &err), COL_ECORRUPT);
	cr_assert(strstr(err.msg, "needs exactly"), "%s", err.msg);
	b.len--;
	cr_assert_eq(merkle_decode(b.data, b.len, 3, &d, &err), COL_ECORRUPT); /* over the bound */
	cr_assert(strstr(err.msg, "over the bound"), "%s", err.msg);
	b.data[0] = 'X';
	cr_assert_eq(merkle_decode(b.data, b.len, 20, &d, &err), COL_ECORRUPT);
	b.data[0] = 0x4D;
	b.data[1] = 200;
	cr_assert_eq(merkle_decode(b.data, b.len, 99, &d, &err), COL_ECORRUPT);
	buf_release(&b);
	merkle_free(t);
}
