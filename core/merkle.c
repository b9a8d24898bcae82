/*
 * merkle.c — the repair Merkle tree (layout and rules in merkle.h).
 */
#include "core/merkle.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define MERKLE_MAGIC 0x4D

int merkle_new(int64_t start, int64_t end, unsigned depth, struct merkle **out)
{
	if (depth > MERKLE_MAX_DEPTH)
		return COL_EINVAL;
	struct merkle *t = calloc(1, sizeof(*t));
	if (!t)
		return COL_ENOMEM;
	t->leaves = calloc((size_t)1 << depth, sizeof(*t->leaves));
	if (!t->leaves) {
		free(t);
		return COL_ENOMEM;
	}
	t->start = start;
	t->end = end;
	t->depth = depth;
	*out = t;
	return 0;
}

void merkle_free(struct merkle *t)
{
	if (!t)
		return;
	free(t->leaves);
	free(t);
}

unsigned merkle_depth_for(uint64_t est_partitions, unsigned max_depth)
{
	if (max_depth > MERKLE_MAX_DEPTH)
		max_depth = MERKLE_MAX_DEPTH;
	unsigned d = 0;
	while (d < max_depth && ((uint64_t)1 << d) < est_partitions)
		d++;
	return d;
}

unsigned __int128 merkle_span(int64_t start, int64_t end)
{
	if (start == end)
		return (unsigned __int128)1 << 64;
	return (unsigned __int128)(uint64_t)((uint64_t)end - (uint64_t)start);
}

bool merkle_range_contains(int64_t start, int64_t end, int64_t token)
{
	if (start == end)
		return true;
	if (start < end)
		return token > start && token <= end;
	return token > start || token <= end;
}

long merkle_leaf_of(const struct merkle *t, int64_t token)
{
	if (!merkle_range_contains(t->start, t->end, token))
		return -1;
	/* offset in 1..span; leaf = floor((offset * n - 1) / span) */
	unsigned __int128 off = (uint64_t)((uint64_t)token - (uint64_t)t->start);
	if (off == 0) /* whole ring, token == start: the last token of the range */
		off = (unsigned __int128)1 << 64;
	unsigned __int128 span = merkle_span(t->start, t->end);
	return (long)(((off << t->depth) - 1) / span);
}

void merkle_leaf_range(const struct merkle *t, size_t i, int64_t *lo, int64_t *hi)
{
	unsigned __int128 span = merkle_span(t->start, t->end);
	uint64_t a = (uint64_t)((span * i) >> t->depth);
	uint64_t b = (uint64_t)((span * (i + 1)) >> t->depth);
	*lo = (int64_t)((uint64_t)t->start + a);
	*hi = (int64_t)((uint64_t)t->start + b);
}

int merkle_add(struct merkle *t, int64_t token, const struct merkle_hash *h)
{
	long i = merkle_leaf_of(t, token);
	if (i < 0)
		return COL_EINVAL;
	t->leaves[i].h.lo ^= h->lo;
	t->leaves[i].h.hi ^= h->hi;
	t->leaves[i].count++;
	return 0;
}

static void leaf_store(uint8_t *p, const struct merkle_leaf *l)
{
	be64_store(p, l->h.lo);
	be64_store(p + 8, l->h.hi);
	be64_store(p + 16, l->count);
}

struct merkle_hash merkle_root(const struct merkle *t)
{
	XXH3_state_t *st = XXH3_createState();
	if (!st) /* out of memory: a root that matches nothing real */
		return (struct merkle_hash){.lo = UINT64_MAX, .hi = UINT64_MAX};
	XXH3_128bits_reset(st);
	uint8_t hdr[MERKLE_WIRE_HEADER] = {MERKLE_MAGIC, (uint8_t)t->depth};
	be64_store(hdr + 2, (uint64_t)t->start);
	be64_store(hdr + 10, (uint64_t)t->end);
	XXH3_128bits_update(st, hdr, sizeof(hdr));
	uint8_t leaf[MERKLE_LEAF_BYTES];
	for (size_t i = 0; i < merkle_n_leaves(t); i++) {
		leaf_store(leaf, &t->leaves[i]);
		XXH3_128bits_update(st, leaf, sizeof(leaf));
	}
	XXH128_hash_t r = XXH3_128bits_digest(st);
	XXH3_freeState(st);
	return (struct merkle_hash){.lo = r.low64, .hi = r.high64};
}

int merkle_diff(const struct merkle *a, const struct merkle *b, merkle_diff_fn fn, void *ctx)
{
	if (a->depth != b->depth || a->start != b->start || a->end != b->end)
		return COL_EINVAL;
	for (size_t i = 0; i < merkle_n_leaves(a); i++) {
		const struct merkle_leaf *x = &a->leaves[i], *y = &b->leaves[i];
		if (x->h.lo == y->h.lo && x->h.hi == y->h.hi && x->count == y->count)
			continue;
		int rc = fn(ctx, i);
		if (rc)
			return rc;
	}
	return 0;
}

size_t merkle_encoded_len(unsigned depth)
{
	return MERKLE_WIRE_HEADER + ((size_t)MERKLE_LEAF_BYTES << depth);
}

void merkle_encode(const struct merkle *t, struct buf *out)
{
	if (buf_reserve(out, merkle_encoded_len(t->depth)))
		return; /* out is marked out of memory */
	buf_put_u8(out, MERKLE_MAGIC);
	buf_put_u8(out, (uint8_t)t->depth);
	buf_put_u64be(out, (uint64_t)t->start);
	buf_put_u64be(out, (uint64_t)t->end);
	uint8_t leaf[MERKLE_LEAF_BYTES];
	for (size_t i = 0; i < merkle_n_leaves(t); i++) {
		leaf_store(leaf, &t->leaves[i]);
		buf_put(out, leaf, sizeof(leaf));
	}
}

int merkle_decode(const uint8_t *p, size_t len, unsigned max_depth, struct merkle **out,
                  struct cerr *err)
{
	if (max_depth > MERKLE_MAX_DEPTH)
		max_depth = MERKLE_MAX_DEPTH;
	if (len < MERKLE_WIRE_HEADER || p[0] != MERKLE_MAGIC)
		return cerr_set(err, COL_ECORRUPT, "merkle tree: %s",
		                len < MERKLE_WIRE_HEADER ? "shorter than its header" : "bad magic");
	unsigned depth = p[1];
	if (depth > max_depth)
		return cerr_set(err, COL_ECORRUPT, "merkle tree: depth %u over the bound %u", depth,
		                max_depth);
	if (len != merkle_encoded_len(depth))
		return cerr_set(err, COL_ECORRUPT,
		                "merkle tree: %zu bytes where depth %u needs exactly %zu", len,
		                depth, merkle_encoded_len(depth));
	struct merkle *t;
	if (merkle_new((int64_t)be64_load(p + 2), (int64_t)be64_load(p + 10), depth, &t))
		return cerr_set(err, COL_ENOMEM, "merkle tree: out of memory for depth %u", depth);
	const uint8_t *q = p + MERKLE_WIRE_HEADER;
	for (size_t i = 0; i < merkle_n_leaves(t); i++, q += MERKLE_LEAF_BYTES) {
		t->leaves[i].h.lo = be64_load(q);
		t->leaves[i].h.hi = be64_load(q + 8);
		t->leaves[i].count = be64_load(q + 16);
	}
	*out = t;
	return 0;
}
