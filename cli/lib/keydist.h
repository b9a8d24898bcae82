/*
 * keydist.h — which key the next benchmark operation touches.
 *
 * Key numbers are uint64 in [0, items).  Three distributions, after YCSB's
 * generators (site.ycsb.generator.*), so workloads A–F mean what they mean
 * in YCSB:
 *
 *  - KEYDIST_UNIFORM: every key equally likely.
 *  - KEYDIST_ZIPFIAN: YCSB's ScrambledZipfianGenerator.  A Zipfian over a
 *    huge item space (10^10 items, theta 0.99, zeta precomputed as YCSB's
 *    ZETAN) is drawn with Gray et al.'s method ("Quickly Generating
 *    Billion-Record Synthetic Databases", SIGMOD 1994) and scattered over
 *    [0, items) with FNV-1a-64 (YCSB's Utils.fnvhash64), so the popular keys
 *    are spread over the key space instead of clustered at 0.  With another
 *    theta the inner Zipfian covers `items` keys (YCSB would compute zeta over
 *    10^10 items, which takes minutes).
 *  - KEYDIST_LATEST: YCSB's SkewedLatestGenerator: next = last - zipf(last+1),
 *    where `last` is the highest key whose insert (and every insert before it)
 *    was acknowledged (struct keyseq).  The most recent key is the most
 *    popular.  The inner Zipfian's zeta grows incrementally as keys are added.
 *    (YCSB draws zipf(last), which can never return key 0; we draw over
 *    last+1 keys so every key is reachable.)
 *
 * struct keyrng is xoshiro256** (Blackman & Vigna), seeded with splitmix64:
 * fast, 2^256 period, and deterministic for a given --seed.
 *
 * None of this is thread-safe: one rng and one keydist per thread.
 */
#ifndef COLONNADE_CLI_KEYDIST_H
#define COLONNADE_CLI_KEYDIST_H

#include <stdbool.h>
#include <stdint.h>

struct keyrng {
	uint64_t s[4];
};
void keyrng_seed(struct keyrng *r, uint64_t seed);
uint64_t keyrng_next(struct keyrng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double keyrng_double(struct keyrng *r);
/* Uniform integer in [0, n) without modulo bias; n > 0. */
uint64_t keyrng_below(struct keyrng *r, uint64_t n);

/* YCSB's Utils.fnvhash64: FNV-1a over the 8 little-endian bytes, then abs(). */
uint64_t keydist_fnvhash64(int64_t v);

/* YCSB's ZipfianGenerator.ZETAN: zeta(10^10 + 1, 0.99). */
#define KEYDIST_YCSB_ZETAN    26.46902820178302
#define KEYDIST_YCSB_ITEMS    10000000000LL
#define KEYDIST_DEFAULT_THETA 0.99

/*
 * The plain (unscrambled) Zipfian over [0, items): rank 0 is the most
 * popular, P(rank r) = 1 / ((r+1)^theta * zeta(items, theta)).  Exposed for
 * tests and for the latest distribution.
 */
struct zipf {
	uint64_t items; /* current item count */
	double theta;
	double alpha;      /* 1 / (1 - theta) */
	double zeta2theta; /* zeta(2, theta) */
	double zetan;      /* zeta(items, theta) */
	double eta;
};
/* items >= 1, 0 < theta < 1.  zetan <= 0: compute it (O(items)). */
int zipf_init(struct zipf *z, uint64_t items, double theta, double zetan);
/* Grow to `items` (>= current), extending zeta incrementally. */
void zipf_grow(struct zipf *z, uint64_t items);
/* Draw a rank in [0, items) from uniform u in [0, 1). */
uint64_t zipf_rank(const struct zipf *z, double u);

/*
 * Insert key sequence with acknowledgement tracking (YCSB's
 * AcknowledgedCounterGenerator): keys are handed out in order; `last` is the
 * highest key k such that every key <= k was acknowledged.  Out-of-order acks
 * are remembered in a window of KEYSEQ_WINDOW keys; keyseq_next() refuses
 * (COL_EFULL) to run further ahead of `last` than that, which bounds memory.
 */
#define KEYSEQ_WINDOW 65536
struct keyseq {
	uint64_t next;  /* next key to hand out */
	uint64_t limit; /* keys < limit are acknowledged */
	uint8_t acked[KEYSEQ_WINDOW / 8];
};
/* Keys [0, start) already exist and count as acknowledged. */
void keyseq_init(struct keyseq *s, uint64_t start);
/* 0 and *key, or COL_EFULL while the window is exhausted. */
int keyseq_next(struct keyseq *s, uint64_t *key);
void keyseq_ack(struct keyseq *s, uint64_t key);
/* Number of acknowledged keys (so the highest is keyseq_count() - 1). */
static inline uint64_t keyseq_count(const struct keyseq *s)
{
	return s->limit;
}

enum keydist_kind { KEYDIST_UNIFORM, KEYDIST_ZIPFIAN, KEYDIST_LATEST };
/* "uniform" / "zipfian" / "latest"; 0 or COL_EINVAL. */
int keydist_parse(const char *name, enum keydist_kind *out);
const char *keydist_name(enum keydist_kind k);

typedef struct keydist keydist;
/*
 * A generator over [0, items) (items >= 1).  For KEYDIST_LATEST, `seq` (kept
 * by the caller, must outlive the keydist) gives the key space: draws cover
 * [0, keyseq_count(seq)), and `items` is ignored.  COL_EINVAL / COL_ENOMEM.
 */
int keydist_new(enum keydist_kind kind, uint64_t items, double theta, const struct keyseq *seq,
                struct keydist **out);
void keydist_free(struct keydist *d);
uint64_t keydist_next(struct keydist *d, struct keyrng *r);

#endif
