/*
 * merkle.h — the Merkle tree anti-entropy repair compares: a token range
 * (start, end] cut into 2^depth leaves of (almost) equal width, each leaf
 * holding the combined hash of the partitions whose tokens fall in it and
 * their count.  Trees are compared leaf by leaf (merkle_diff) after one
 * transfer, so no inner level is stored; merkle_root() summarises a tree.
 *
 * A pure data structure: it hashes nothing itself (the caller hands in
 * 128-bit partition hashes, storage computes them) and knows no ring, node or
 * table.
 *
 * Shape.  As Cassandra's ranges: start >= end wraps around the ring, start ==
 * end is the whole ring (2^64 tokens).  With span S tokens and n = 2^depth
 * leaves, leaf i covers (start + floor(i*S/n), start + floor((i+1)*S/n)]
 * (wrapping arithmetic), so leaves differ in width by at most one token and
 * every token of the range is in exactly one leaf.  A leaf's hash is the XOR
 * of its partitions' hashes (order-independent: the build may add partitions
 * in any order, as Cassandra's MerkleTree does) with the partition count kept
 * beside it, so an empty leaf and a leaf whose partitions cancel never look
 * alike.
 *
 * Memory: 24 bytes per leaf (16 hash + 8 count): depth 20 (MERKLE_MAX_DEPTH,
 * Cassandra's bound) is 24 MiB, depth 16 is 1.5 MiB.  merkle_depth_for()
 * chooses the depth from an estimated partition count and a caller's cap.
 *
 * Hash: XXH3-128 (libxxhash) for the root, and the
 * caller's partition hashes are expected to be XXH3-128 too: repair needs
 * detection of accidental difference between replicas of the same cluster,
 * not resistance to an adversary (peers are trusted members of the cluster),
 * and XXH3 runs at memory speed where a cryptographic hash would make tree
 * building CPU-bound; 128 bits keep the chance of two different partitions
 * colliding negligible (2^-64 after 2^32 partitions per leaf pair).
 */
#ifndef COLONNADE_CORE_MERKLE_H
#define COLONNADE_CORE_MERKLE_H

#include "core/buf.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MERKLE_MAX_DEPTH  20
#define MERKLE_LEAF_BYTES 24 /* memory and wire size of one leaf */

struct merkle_hash {
	uint64_t lo, hi;
};

struct merkle_leaf {
	struct merkle_hash h;
	uint64_t count; /* partitions added */
};

typedef struct merkle merkle;

struct merkle {
	int64_t start, end;         /* (start, end]; start == end: the whole ring */
	unsigned depth;             /* 0..MERKLE_MAX_DEPTH */
	struct merkle_leaf *leaves; /* 1 << depth */
};

/*
 * A tree of 2^depth empty leaves over (start, end].  COL_EINVAL for depth >
 * MERKLE_MAX_DEPTH, COL_ENOMEM.
 */
int merkle_new(int64_t start, int64_t end, unsigned depth, struct merkle **out);
void merkle_free(struct merkle *t); /* NULL is fine */

static inline size_t merkle_n_leaves(const struct merkle *t)
{
	return (size_t)1 << t->depth;
}

/*
 * Depth for an estimated number of partitions: ceil(log2(est)) so that a
 * leaf holds about one partition, at most max_depth (itself at most
 * MERKLE_MAX_DEPTH), at least 0.
 */
unsigned merkle_depth_for(uint64_t est_partitions, unsigned max_depth);

/* Number of tokens in (start, end] as a 128-bit count (2^64 for the whole ring). */
unsigned __int128 merkle_span(int64_t start, int64_t end);

/* Does (start, end] contain token? */
bool merkle_range_contains(int64_t start, int64_t end, int64_t token);

/* The leaf holding token, or -1 if the token is outside the tree's range. */
long merkle_leaf_of(const struct merkle *t, int64_t token);

/* Leaf i covers (*lo, *hi]. */
void merkle_leaf_range(const struct merkle *t, size_t i, int64_t *lo, int64_t *hi);

/* Fold one partition's hash into the leaf holding token: COL_EINVAL outside the range. */
int merkle_add(struct merkle *t, int64_t token, const struct merkle_hash *h);

/* The root: XXH3-128 over the leaves in order (equal trees, equal roots). */
struct merkle_hash merkle_root(const struct merkle *t);

/*
 * Leaves that differ between two trees of the same range and depth, in
 * order: fn(ctx, i) for each, until fn returns non-zero (returned).
 * COL_EINVAL when the trees do not have the same range and depth.
 */
typedef int (*merkle_diff_fn)(void *ctx, size_t leaf);
int merkle_diff(const struct merkle *a, const struct merkle *b, merkle_diff_fn fn, void *ctx);

/*
 * WIRE FORMAT (in repair messages; integers big-endian):
 *
 * | field  | bytes     | notes                                      |
 * |--------|-----------|--------------------------------------------|
 * | magic  | 1         | 0x4D ('M')                                 |
 * | depth  | 1         | 0..MERKLE_MAX_DEPTH                        |
 * | start  | 8         | signed token                               |
 * | end    | 8         | signed token                               |
 * | leaves | 24 * 2^d  | per leaf: hash lo u64, hash hi u64, count  |
 *
 * merkle_decode refuses anything else: wrong magic, a depth over max_depth
 * (the caller's bound, at most MERKLE_MAX_DEPTH), a length that is not
 * exactly 18 + 24 * 2^depth.
 */
#define MERKLE_WIRE_HEADER 18
void merkle_encode(const struct merkle *t, struct buf *out);
size_t merkle_encoded_len(unsigned depth);
int merkle_decode(const uint8_t *p, size_t len, unsigned max_depth, struct merkle **out,
                  struct cerr *err);

#endif
