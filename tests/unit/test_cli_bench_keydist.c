/*
 * Tests for cli/lib/keydist: the rng, YCSB's Zipfian (plain, scrambled) and
 * latest distributions, and the acknowledged insert sequence.
 */
#include "cli/lib/keydist.h"
#include "core/err.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

Test(keydist, rng_is_deterministic_and_uniform_enough)
{
	struct keyrng a, b;
	keyrng_seed(&a, 1);
	keyrng_seed(&b, 1);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(keyrng_next(&a), keyrng_next(&b));
	keyrng_seed(&b, 2);
	cr_assert_neq(keyrng_next(&a), keyrng_next(&b));
	int hist[10] = {0};
	for (int i = 0; i < 100000; i++) {
		double d = keyrng_double(&a);
		cr_assert(d >= 0 && d < 1);
		hist[keyrng_below(&a, 10)]++;
	}
	for (int i = 0; i < 10; i++)
		cr_assert(hist[i] > 9500 && hist[i] < 10500, "bucket %d: %d", i, hist[i]);
}

Test(keydist, fnvhash64_matches_ycsb)
{
	/* Values from an independent Python transcription of Utils.fnvhash64. */
	cr_assert_eq(keydist_fnvhash64(0), 6284781860667377211ull);
	cr_assert_eq(keydist_fnvhash64(1), 8517097267634966620ull);
	cr_assert_eq(keydist_fnvhash64(42), 55488592825689361ull);
	cr_assert_eq(keydist_fnvhash64(-1), 8289690350564177859ull);
	cr_assert_eq(keydist_fnvhash64(10000000000LL), 1201321332300452516ull);
}

static double zeta(uint64_t n, double theta)
{
	double s = 0;
	for (uint64_t i = 1; i <= n; i++)
		s += 1.0 / pow((double)i, theta);
	return s;
}

Test(keydist, plain_zipfian_follows_the_law)
{
	const uint64_t n = 1000;
	const double theta = 0.99;
	struct zipf z;
	cr_assert_eq(zipf_init(&z, n, theta, 0), 0);
	cr_assert_float_eq(z.zetan, zeta(n, theta), 1e-9);
	struct keyrng r;
	keyrng_seed(&r, 5);
	const int draws = 2000000;
	static int count[1000];
	for (int i = 0; i < draws; i++) {
		uint64_t k = zipf_rank(&z, keyrng_double(&r));
		cr_assert_lt(k, n);
		count[k]++;
	}
	double zn = zeta(n, theta);
	/* Ranks 0 and 1 are exact in Gray's method. */
	for (int k = 0; k < 2; k++) {
		double want = 1.0 / (pow(k + 1, theta) * zn) * draws;
		cr_assert(fabs(count[k] - want) / want < 0.02, "rank %d: %d vs %.0f", k, count[k],
		          want);
	}
	/* The rest follows the law approximately: check cumulative mass. */
	for (int top = 10; top <= 1000; top *= 10) {
		int got = 0;
		for (int k = 0; k < top; k++)
			got += count[k];
		double want = zeta((uint64_t)top, theta) / zn * draws;
		cr_assert(fabs(got - want) / want < 0.05, "top %d: %d vs %.0f", top, got, want);
	}
	/* Monotone-ish: rank 0 beats rank 10 beats rank 500. */
	cr_assert(count[0] > count[10] && count[10] > count[500]);
}

Test(keydist, zipf_grow_extends_zeta)
{
	struct zipf a, b;
	cr_assert_eq(zipf_init(&a, 100, 0.99, 0), 0);
	zipf_grow(&a, 5000);
	cr_assert_eq(zipf_init(&b, 5000, 0.99, 0), 0);
	cr_assert_float_eq(a.zetan, b.zetan, 1e-9);
	cr_assert_float_eq(a.eta, b.eta, 1e-12);
	cr_assert_eq(a.items, 5000);
	cr_assert_eq(zipf_init(&a, 0, 0.99, 0), COL_EINVAL);
	cr_assert_eq(zipf_init(&a, 10, 1.0, 0), COL_EINVAL);
}

Test(keydist, ycsb_zetan_constant_is_consistent)
{
	/* zeta(1e10) cannot be summed in a test; check the tail estimate instead:
	 * zeta(n) ~ zeta(m) + integral_m^n x^-theta dx for large m. */
	double theta = 0.99, m = 1e6;
	double zm = zeta((uint64_t)m, theta);
	double tail = (pow(1e10, 1 - theta) - pow(m, 1 - theta)) / (1 - theta);
	cr_assert(fabs(zm + tail - KEYDIST_YCSB_ZETAN) < 0.01, "%f vs %f", zm + tail,
	          KEYDIST_YCSB_ZETAN);
}

Test(keydist, scrambled_zipfian_spreads_hot_keys)
{
	const uint64_t n = 1000;
	struct keydist *d;
	cr_assert_eq(keydist_new(KEYDIST_ZIPFIAN, n, KEYDIST_DEFAULT_THETA, NULL, &d), 0);
	struct keyrng r;
	keyrng_seed(&r, 9);
	static int count[1000];
	const int draws = 1000000;
	for (int i = 0; i < draws; i++) {
		uint64_t k = keydist_next(d, &r);
		cr_assert_lt(k, n);
		count[k]++;
	}
	/* The hottest key is rank 0's hash, with about 1/ZETAN of all draws
	 * (plus the tail that hashes onto it). */
	int hot = (int)(keydist_fnvhash64(0) % n), best = 0;
	for (int k = 0; k < (int)n; k++)
		if (count[k] > count[best])
			best = k;
	cr_assert_eq(best, hot);
	double share = (double)count[hot] / draws;
	cr_assert(share > 1 / KEYDIST_YCSB_ZETAN && share < 1 / KEYDIST_YCSB_ZETAN + 0.005,
	          "hot share %f", share);
	/* Hot keys are not clustered at the start of the key space. */
	cr_assert_neq(hot, 0);
	int touched = 0;
	for (int k = 0; k < (int)n; k++)
		touched += count[k] > 0;
	cr_assert_gt(touched, 950, "every key should be reachable (%d)", touched);
	keydist_free(d);
}

Test(keydist, uniform_covers_range)
{
	struct keydist *d;
	cr_assert_eq(keydist_new(KEYDIST_UNIFORM, 7, 0, NULL, &d), 0);
	struct keyrng r;
	keyrng_seed(&r, 1);
	int count[7] = {0};
	for (int i = 0; i < 70000; i++)
		count[keydist_next(d, &r)]++;
	for (int k = 0; k < 7; k++)
		cr_assert(count[k] > 9300 && count[k] < 10700);
	keydist_free(d);
	cr_assert_eq(keydist_new(KEYDIST_UNIFORM, 0, 0, NULL, &d), COL_EINVAL);
	cr_assert_eq(keydist_new(KEYDIST_LATEST, 10, 0.99, NULL, &d), COL_EINVAL);
}

Test(keydist, latest_prefers_newest_and_follows_inserts)
{
	struct keyseq *s = malloc(sizeof(*s));
	keyseq_init(s, 1000);
	struct keydist *d;
	cr_assert_eq(keydist_new(KEYDIST_LATEST, 0, 0.99, s, &d), 0);
	struct keyrng r;
	keyrng_seed(&r, 4);
	static int count[3000];
	const int draws = 500000;
	for (int i = 0; i < draws; i++) {
		uint64_t k = keydist_next(d, &r);
		cr_assert_lt(k, 1000);
		count[k]++;
	}
	double want = 1.0 / zeta(1000, 0.99);
	cr_assert(fabs((double)count[999] / draws - want) / want < 0.03, "newest share %f vs %f",
	          (double)count[999] / draws, want);
	cr_assert(count[999] > count[998] && count[998] > count[900] && count[900] > count[10]);

	/* Insert 1000 more keys (acked out of order): draws move to them. */
	for (int i = 0; i < 1000; i++) {
		uint64_t k;
		cr_assert_eq(keyseq_next(s, &k), 0);
		cr_assert_eq(k, 1000u + (unsigned)i);
	}
	for (uint64_t k = 1999; k >= 1001; k--)
		keyseq_ack(s, k);
	cr_assert_eq(keyseq_count(s), 1000, "key 1000 not acked yet");
	keyseq_ack(s, 1000);
	cr_assert_eq(keyseq_count(s), 2000);
	int newest = 0;
	for (int i = 0; i < 100000; i++)
		newest += keydist_next(d, &r) == 1999;
	cr_assert(fabs((double)newest / 100000 - 1.0 / zeta(2000, 0.99)) < 0.01);
	keydist_free(d);
	free(s);
}

Test(keydist, keyseq_window_is_bounded)
{
	struct keyseq *s = malloc(sizeof(*s));
	keyseq_init(s, 0);
	uint64_t k;
	for (int i = 0; i < KEYSEQ_WINDOW; i++)
		cr_assert_eq(keyseq_next(s, &k), 0);
	cr_assert_eq(keyseq_next(s, &k), COL_EFULL);
	keyseq_ack(s, 1); /* out of order: nothing moves */
	cr_assert_eq(keyseq_next(s, &k), COL_EFULL);
	keyseq_ack(s, 0);
	cr_assert_eq(keyseq_count(s), 2);
	cr_assert_eq(keyseq_next(s, &k), 0);
	cr_assert_eq(k, (uint64_t)KEYSEQ_WINDOW);
	keyseq_ack(s, 0);      /* duplicate ack is harmless */
	keyseq_ack(s, 999999); /* never handed out: ignored */
	cr_assert_eq(keyseq_count(s), 2);
	free(s);
}

Test(keydist, names_parse)
{
	enum keydist_kind k;
	cr_assert_eq(keydist_parse("Zipfian", &k), 0);
	cr_assert_eq(k, KEYDIST_ZIPFIAN);
	cr_assert_eq(keydist_parse("latest", &k), 0);
	cr_assert_eq(keydist_parse("gaussian", &k), COL_EINVAL);
	cr_assert_str_eq(keydist_name(KEYDIST_UNIFORM), "uniform");
}
