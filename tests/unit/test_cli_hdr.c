/*
 * Tests for cli/lib/hdr: the error bound against exact percentiles of sorted
 * random data, merge, layout constants, and the .hgrm text format.
 */
#include "cli/lib/hdr.h"
#include "cli/lib/keydist.h"
#include "core/err.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_US 3600000000LL

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* The exact percentile with HdrHistogram's rank rule: the smallest v such
 * that at least round(p/100 * n) (>= 1) values are <= v. */
static int64_t exact_percentile(const int64_t *sorted, size_t n, double p)
{
	int64_t want = (int64_t)(p / 100.0 * (double)n + 0.5);
	if (want < 1)
		want = 1;
	return sorted[want - 1];
}

Test(hdr, layout_for_one_hour_at_two_digits)
{
	struct hdr *h;
	cr_assert_eq(hdr_new(HOUR_US, 2, &h), 0);
	/* 2 digits -> 2*10^2 = 200 -> 256 sub-buckets; 256 << 24 > 3.6e9. */
	cr_assert_eq(hdr_sub_bucket_count(h), 256);
	cr_assert_eq(hdr_bucket_count(h), 25);
	/* Unit resolution below 256, then widths double per bucket. */
	cr_assert_eq(hdr_lowest_equivalent(h, 255), 255);
	cr_assert_eq(hdr_highest_equivalent(h, 255), 255);
	cr_assert_eq(hdr_lowest_equivalent(h, 257), 256);
	cr_assert_eq(hdr_highest_equivalent(h, 257), 257);
	cr_assert_eq(hdr_lowest_equivalent(h, 1000), 1000);
	cr_assert_eq(hdr_highest_equivalent(h, 1000), 1003);
	cr_assert_eq(hdr_lowest_equivalent(h, 1000001), 999424);
	cr_assert_eq(hdr_highest_equivalent(h, 1000001), 1003519);
	hdr_free(h);
}

Test(hdr, bad_layout_is_refused)
{
	struct hdr *h = NULL;
	cr_assert_eq(hdr_new(1, 2, &h), COL_EINVAL);
	cr_assert_eq(hdr_new(1000, 0, &h), COL_EINVAL);
	cr_assert_eq(hdr_new(1000, 6, &h), COL_EINVAL);
	cr_assert_null(h);
}

static void check_error_bound(const char *what, int64_t *vals, size_t n)
{
	struct hdr *h;
	cr_assert_eq(hdr_new(HOUR_US, 2, &h), 0);
	for (size_t i = 0; i < n; i++)
		hdr_record(h, vals[i]);
	qsort(vals, n, sizeof(*vals), cmp64);
	cr_assert_eq(hdr_total(h), (int64_t)n);
	cr_assert_eq(hdr_min(h), vals[0], "%s: min", what);
	cr_assert_eq(hdr_max(h), vals[n - 1], "%s: max", what);
	static const double ps[] = {0,  1,  10,   25,    50,     75,  90,
	                            95, 99, 99.9, 99.99, 99.999, 100, 33.3};
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		int64_t exact = exact_percentile(vals, n, ps[i]);
		int64_t got = hdr_value_at_percentile(h, ps[i]);
		double rel = exact ? fabs((double)(got - exact)) / (double)exact : (double)got;
		cr_assert(rel <= 0.01, "%s: p%g exact %lld got %lld (%.3f%%)", what, ps[i],
		          (long long)exact, (long long)got, rel * 100);
	}
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (double)vals[i];
	double mean = sum / (double)n;
	cr_assert(fabs(hdr_mean(h) - mean) / mean <= 0.01, "%s: mean %f vs %f", what, hdr_mean(h),
	          mean);
	hdr_free(h);
}

Test(hdr, percentiles_within_one_percent_of_exact_uniform)
{
	struct keyrng r;
	keyrng_seed(&r, 42);
	size_t n = 200000;
	int64_t *v = malloc(n * sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = 1 + (int64_t)keyrng_below(&r, 5000000);
	check_error_bound("uniform 1us..5s", v, n);
	free(v);
}

Test(hdr, percentiles_within_one_percent_of_exact_lognormal_tail)
{
	/* Latency-like: log-normal around 300 us with a long tail to ~minutes. */
	struct keyrng r;
	keyrng_seed(&r, 7);
	size_t n = 300000;
	int64_t *v = malloc(n * sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		double u1 = keyrng_double(&r) + 1e-12, u2 = keyrng_double(&r);
		double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
		double x = exp(log(300.0) + 1.6 * z);
		v[i] = x < 1 ? 1 : x > (double)HOUR_US ? HOUR_US : (int64_t)x;
	}
	check_error_bound("lognormal", v, n);
	free(v);
}

Test(hdr, small_values_are_exact)
{
	struct hdr *h;
	cr_assert_eq(hdr_new(HOUR_US, 2, &h), 0);
	for (int i = 1; i <= 100; i++)
		hdr_record(h, i);
	cr_assert_eq(hdr_value_at_percentile(h, 50), 50);
	cr_assert_eq(hdr_value_at_percentile(h, 99), 99);
	cr_assert_eq(hdr_value_at_percentile(h, 100), 100);
	cr_assert_eq(hdr_value_at_percentile(h, 0), 1);
	hdr_free(h);
}

Test(hdr, out_of_range_values_clamp_and_count)
{
	struct hdr *h;
	cr_assert_eq(hdr_new(HOUR_US, 2, &h), 0);
	hdr_record(h, -5);
	hdr_record(h, 2 * HOUR_US);
	cr_assert_eq(hdr_total(h), 2);
	cr_assert_eq(hdr_min(h), 0);
	cr_assert_eq(hdr_max(h), HOUR_US);
	cr_assert_eq(hdr_saturated(h), 1);
	cr_assert_eq(hdr_value_at_percentile(h, 100), HOUR_US);
	hdr_free(h);
}

Test(hdr, empty_histogram_reports_zero)
{
	struct hdr *h;
	cr_assert_eq(hdr_new(HOUR_US, 2, &h), 0);
	cr_assert_eq(hdr_value_at_percentile(h, 99), 0);
	cr_assert_eq(hdr_min(h), 0);
	cr_assert_eq(hdr_max(h), 0);
	cr_assert_eq(hdr_mean(h), 0);
	hdr_free(h);
}

Test(hdr, merge_equals_recording_everything_in_one)
{
	struct hdr *a, *b, *all;
	cr_assert_eq(hdr_new(HOUR_US, 2, &a), 0);
	cr_assert_eq(hdr_new(HOUR_US, 2, &b), 0);
	cr_assert_eq(hdr_new(HOUR_US, 2, &all), 0);
	struct keyrng r;
	keyrng_seed(&r, 3);
	for (int i = 0; i < 50000; i++) {
		int64_t v = 1 + (int64_t)keyrng_below(&r, 100000);
		hdr_record(i % 3 ? a : b, v);
		hdr_record(all, v);
	}
	hdr_record_n(b, 7000000, 5); /* a tail only b has */
	hdr_record_n(all, 7000000, 5);
	cr_assert_eq(hdr_add(a, b), 0);
	cr_assert_eq(hdr_total(a), hdr_total(all));
	cr_assert_eq(hdr_max(a), 7000000);
	cr_assert_eq(hdr_min(a), hdr_min(all));
	for (double p = 0; p <= 100; p += 0.5)
		cr_assert_eq(hdr_value_at_percentile(a, p), hdr_value_at_percentile(all, p), "p%g",
		             p);
	cr_assert_eq(hdr_value_at_percentile(a, 99.99), hdr_value_at_percentile(all, 99.99));

	struct hdr *other;
	cr_assert_eq(hdr_new(1000, 2, &other), 0);
	cr_assert_eq(hdr_add(a, other), COL_EINVAL, "different layouts must not merge");
	hdr_free(other);
	hdr_free(a);
	hdr_free(b);
	hdr_free(all);
}

Test(hdr, reset_forgets)
{
	struct hdr *h;
	cr_assert_eq(hdr_new(HOUR_US, 2, &h), 0);
	hdr_record(h, 1234);
	hdr_reset(h);
	cr_assert_eq(hdr_total(h), 0);
	cr_assert_eq(hdr_max(h), 0);
	hdr_record(h, 10);
	cr_assert_eq(hdr_min(h), 10);
	hdr_free(h);
}

static char *hgrm_of(struct hdr *h, double scale, int decimals)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cr_assert_not_null(f);
	cr_assert_eq(hdr_write_percentiles(h, f, 5, scale, decimals), 0);
	fclose(f);
	return text;
}

/* Golden text: 1..10 recorded once each, values printed unscaled. */
Test(hdr, hgrm_golden_small)
{
	struct hdr *h;
	cr_assert_eq(hdr_new(HOUR_US, 2, &h), 0);
	for (int i = 1; i <= 10; i++)
		hdr_record(h, i);
	char *text = hgrm_of(h, 1, 3);
	const char *want = "       Value     Percentile TotalCount 1/(1-Percentile)\n"
	                   "\n"
	                   "       1.000 0.000000000000          1           1.00\n"
	                   "       1.000 0.100000000000          1           1.11\n"
	                   "       2.000 0.200000000000          2           1.25\n"
	                   "       3.000 0.300000000000          3           1.43\n"
	                   "       4.000 0.400000000000          4           1.67\n"
	                   "       5.000 0.500000000000          5           2.00\n"
	                   "       6.000 0.550000000000          6           2.22\n"
	                   "       6.000 0.600000000000          6           2.50\n"
	                   "       7.000 0.650000000000          7           2.86\n"
	                   "       7.000 0.700000000000          7           3.33\n"
	                   "       8.000 0.750000000000          8           4.00\n"
	                   "       8.000 0.775000000000          8           4.44\n"
	                   "       8.000 0.800000000000          8           5.00\n"
	                   "       9.000 0.825000000000          9           5.71\n"
	                   "       9.000 0.850000000000          9           6.67\n"
	                   "       9.000 0.875000000000          9           8.00\n"
	                   "       9.000 0.887500000000          9           8.89\n"
	                   "       9.000 0.900000000000          9          10.00\n"
	                   "      10.000 0.912500000000         10          11.43\n"
	                   "      10.000 1.000000000000         10\n"
	                   "#[Mean    =        5.500, StdDeviation   =        2.872]\n"
	                   "#[Max     =       10.000, Total count    =           10]\n"
	                   "#[Buckets =           25, SubBuckets     =          256]\n";
	cr_assert_str_eq(text, want);
	free(text);
	hdr_free(h);
}

/* Structure on a large distribution: percentiles rise monotonically, counts
 * never fall, the last row is 100 %, and the footer matches the histogram. */
Test(hdr, hgrm_structure_large)
{
	struct hdr *h;
	cr_assert_eq(hdr_new(HOUR_US, 2, &h), 0);
	struct keyrng r;
	keyrng_seed(&r, 11);
	for (int i = 0; i < 100000; i++)
		hdr_record(h, 50 + (int64_t)keyrng_below(&r, 2000));
	hdr_record(h, 2500000); /* one 2.5 s stall */
	char *text = hgrm_of(h, 1000, 3);
	char *save = NULL, *line = strtok_r(text, "\n", &save);
	cr_assert_str_eq(line, "       Value     Percentile TotalCount 1/(1-Percentile)");
	double last_p = -1, last_v = -1, v, p, inv;
	long long last_c = -1, c;
	int rows = 0, footer = 0;
	bool saw_final = false;
	while ((line = strtok_r(NULL, "\n", &save))) {
		if (line[0] == '#') {
			footer++;
			if (footer == 2) {
				double mx;
				long long tc;
				cr_assert_eq(sscanf(line, "#[Max     = %lf, Total count    = %lld]",
				                    &mx, &tc),
				             2);
				cr_assert_float_eq(mx, 2500.0, 2500 * 0.01);
				cr_assert_eq(tc, 100001);
			}
			continue;
		}
		int got = sscanf(line, "%lf %lf %lld %lf", &v, &p, &c, &inv);
		cr_assert(got == 4 || got == 3, "bad row '%s'", line);
		cr_assert(!saw_final, "row after the 100%% row");
		cr_assert(p > last_p && v >= last_v && c >= last_c, "not monotonic at '%s'", line);
		if (got == 3) {
			saw_final = true;
			cr_assert_float_eq(p, 1.0, 1e-12);
			cr_assert_eq(c, 100001);
			cr_assert_float_eq(v, 2500.0, 2500 * 0.01, "final row shows the max");
		} else {
			cr_assert_float_eq(inv, 1.0 / (1.0 - p), 0.01 + 1e-4 * inv);
		}
		last_p = p;
		last_v = v;
		last_c = c;
		rows++;
	}
	cr_assert(saw_final);
	cr_assert_eq(footer, 3);
	cr_assert_gt(rows, 60, "the tail should be sampled finely (%d rows)", rows);
	free(text);
	hdr_free(h);
}

Test(hdr, hgrm_empty_has_header_and_footer)
{
	struct hdr *h;
	cr_assert_eq(hdr_new(HOUR_US, 2, &h), 0);
	char *text = hgrm_of(h, 1000, 3);
	cr_assert(strstr(text, "Total count    =            0]"), "%s", text);
	free(text);
	hdr_free(h);
}
