/*
 * hdr.c — HdrHistogram's log-linear layout (see hdr.h).  The index arithmetic
 * follows HdrHistogram_c (hdr_histogram.c) with the lowest discernible value
 * fixed at 1, so unit_magnitude is 0 and drops out of every formula.
 */
#include "cli/lib/hdr.h"

#include "core/err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct hdr {
	int64_t highest;
	int digits;
	int sub_bucket_half_count_magnitude;
	int sub_bucket_half_count;
	int sub_bucket_count;
	int64_t sub_bucket_mask;
	int bucket_count;
	int counts_len;
	int64_t total;
	int64_t min; /* INT64_MAX while empty */
	int64_t max;
	int64_t saturated;
	int64_t counts[];
};

static int bucket_index(const struct hdr *h, int64_t v)
{
	/* Position of the highest set bit of (v | mask), counted from 1. */
	int pow2ceiling = 64 - __builtin_clzll((unsigned long long)(v | h->sub_bucket_mask));
	return pow2ceiling - (h->sub_bucket_half_count_magnitude + 1);
}

static int sub_bucket_index(int64_t v, int b)
{
	return (int)(v >> b);
}

static int counts_index(const struct hdr *h, int b, int sb)
{
	return ((b + 1) << h->sub_bucket_half_count_magnitude) + (sb - h->sub_bucket_half_count);
}

static int64_t value_at_index(const struct hdr *h, int i)
{
	int b = (i >> h->sub_bucket_half_count_magnitude) - 1;
	int sb = (i & (h->sub_bucket_half_count - 1)) + h->sub_bucket_half_count;
	if (b < 0) {
		sb -= h->sub_bucket_half_count;
		b = 0;
	}
	return (int64_t)sb << b;
}

static int64_t size_of_equivalent_range(const struct hdr *h, int64_t v)
{
	int b = bucket_index(h, v);
	int sb = sub_bucket_index(v, b);
	int adjusted = sb >= h->sub_bucket_count ? b + 1 : b;
	return (int64_t)1 << adjusted;
}

int64_t hdr_lowest_equivalent(const struct hdr *h, int64_t v)
{
	if (v < 0)
		v = 0;
	int b = bucket_index(h, v);
	return (int64_t)sub_bucket_index(v, b) << b;
}

int64_t hdr_highest_equivalent(const struct hdr *h, int64_t v)
{
	if (v < 0)
		v = 0;
	return hdr_lowest_equivalent(h, v) + size_of_equivalent_range(h, v) - 1;
}

static int64_t median_equivalent(const struct hdr *h, int64_t v)
{
	return hdr_lowest_equivalent(h, v) + (size_of_equivalent_range(h, v) >> 1);
}

int hdr_new(int64_t highest, int digits, struct hdr **out)
{
	if (highest < 2 || digits < 1 || digits > 5)
		return COL_EINVAL;
	int64_t single_unit = 2;
	for (int i = 0; i < digits; i++)
		single_unit *= 10;
	/* ceil(log2(2 * 10^digits)): sub-buckets needed for unit resolution there. */
	int mag = 0;
	while (((int64_t)1 << mag) < single_unit)
		mag++;
	int half_mag = (mag > 1 ? mag : 1) - 1;
	int sub_bucket_count = 1 << (half_mag + 1);
	int64_t smallest_untrackable = sub_bucket_count;
	int buckets = 1;
	while (smallest_untrackable <= highest) {
		if (smallest_untrackable > INT64_MAX / 2) {
			buckets++;
			break;
		}
		smallest_untrackable <<= 1;
		buckets++;
	}
	int counts_len = (buckets + 1) * (sub_bucket_count / 2);
	struct hdr *h = calloc(1, sizeof(*h) + (size_t)counts_len * sizeof(int64_t));
	if (!h)
		return COL_ENOMEM;
	h->highest = highest;
	h->digits = digits;
	h->sub_bucket_half_count_magnitude = half_mag;
	h->sub_bucket_half_count = sub_bucket_count / 2;
	h->sub_bucket_count = sub_bucket_count;
	h->sub_bucket_mask = (int64_t)sub_bucket_count - 1;
	h->bucket_count = buckets;
	h->counts_len = counts_len;
	h->min = INT64_MAX;
	*out = h;
	return COL_OK;
}

void hdr_free(struct hdr *h)
{
	free(h);
}

void hdr_reset(struct hdr *h)
{
	memset(h->counts, 0, (size_t)h->counts_len * sizeof(int64_t));
	h->total = 0;
	h->min = INT64_MAX;
	h->max = 0;
	h->saturated = 0;
}

void hdr_record_n(struct hdr *h, int64_t v, int64_t count)
{
	if (count <= 0)
		return;
	if (v < 0)
		v = 0;
	if (v > h->highest) {
		v = h->highest;
		h->saturated += count;
	}
	int b = bucket_index(h, v);
	int i = counts_index(h, b, sub_bucket_index(v, b));
	h->counts[i] += count;
	h->total += count;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

int hdr_add(struct hdr *to, const struct hdr *from)
{
	if (to->highest != from->highest || to->digits != from->digits)
		return COL_EINVAL;
	for (int i = 0; i < to->counts_len; i++)
		to->counts[i] += from->counts[i];
	to->total += from->total;
	to->saturated += from->saturated;
	if (from->total) {
		if (from->min < to->min)
			to->min = from->min;
		if (from->max > to->max)
			to->max = from->max;
	}
	return COL_OK;
}

int64_t hdr_total(const struct hdr *h)
{
	return h->total;
}
int64_t hdr_min(const struct hdr *h)
{
	return h->total ? h->min : 0;
}
int64_t hdr_max(const struct hdr *h)
{
	return h->max;
}
int64_t hdr_saturated(const struct hdr *h)
{
	return h->saturated;
}
int hdr_bucket_count(const struct hdr *h)
{
	return h->bucket_count;
}
int hdr_sub_bucket_count(const struct hdr *h)
{
	return h->sub_bucket_count;
}

double hdr_mean(const struct hdr *h)
{
	if (!h->total)
		return 0;
	double sum = 0;
	for (int i = 0; i < h->counts_len; i++)
		if (h->counts[i])
			sum += (double)median_equivalent(h, value_at_index(h, i)) *
			       (double)h->counts[i];
	return sum / (double)h->total;
}

double hdr_stddev(const struct hdr *h)
{
	if (!h->total)
		return 0;
	double mean = hdr_mean(h), sq = 0;
	for (int i = 0; i < h->counts_len; i++)
		if (h->counts[i]) {
			double d = (double)median_equivalent(h, value_at_index(h, i)) - mean;
			sq += d * d * (double)h->counts[i];
		}
	return sqrt(sq / (double)h->total);
}

int64_t hdr_value_at_percentile(const struct hdr *h, double p)
{
	if (!h->total)
		return 0;
	if (p > 100)
		p = 100;
	if (p < 0)
		p = 0;
	int64_t want = (int64_t)(p / 100.0 * (double)h->total + 0.5);
	if (want < 1)
		want = 1;
	int64_t cum = 0;
	for (int i = 0; i < h->counts_len; i++) {
		cum += h->counts[i];
		if (cum >= want) {
			int64_t v = value_at_index(h, i);
			if (p == 0)
				return hdr_lowest_equivalent(h, v);
			/* Never report more than was recorded: the exact max is known. */
			int64_t hi = hdr_highest_equivalent(h, v);
			return hi > h->max ? h->max : hi;
		}
	}
	return h->max;
}

/* The next percentile the .hgrm iterator stops at (HdrHistogram's rule). */
static double next_percentile(double p, int ticks_per_half_distance)
{
	double half = pow(2.0, floor(log2(100.0 / (100.0 - p))) + 1);
	return p + 100.0 / ((double)ticks_per_half_distance * half);
}

int hdr_write_percentiles(const struct hdr *h, FILE *f, int ticks, double unit_scale, int decimals)
{
	if (ticks < 1)
		ticks = 1;
	if (unit_scale <= 0)
		unit_scale = 1;
	fprintf(f, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
	        "1/(1-Percentile)");
	if (h->total) {
		double to = 0;
		int64_t cum = 0, last = 0;
		bool done = false;
		for (int i = 0; i < h->counts_len && !done; i++) {
			cum += h->counts[i];
			if (!h->counts[i])
				continue;
			last = hdr_highest_equivalent(h, value_at_index(h, i));
			for (;;) {
				double cur = 100.0 * (double)cum / (double)h->total;
				if (to > cur)
					break;
				double frac = to / 100.0;
				fprintf(f, "%12.*f %2.12f %10lld %14.2f\n", decimals,
				        (double)last / unit_scale, frac, (long long)cum,
				        1.0 / (1.0 - frac));
				if (cum >= h->total || 100.0 - to < 1e-9) {
					done = true;
					break;
				}
				to = next_percentile(to, ticks);
			}
		}
		fprintf(f, "%12.*f %2.12f %10lld\n", decimals, (double)last / unit_scale, 1.0,
		        (long long)h->total);
	}
	int64_t max_eq = h->total ? hdr_highest_equivalent(h, h->max) : 0;
	fprintf(f, "#[Mean    = %12.*f, StdDeviation   = %12.*f]\n", decimals,
	        hdr_mean(h) / unit_scale, decimals, hdr_stddev(h) / unit_scale);
	fprintf(f, "#[Max     = %12.*f, Total count    = %12lld]\n", decimals,
	        (double)max_eq / unit_scale, (long long)h->total);
	fprintf(f, "#[Buckets = %12d, SubBuckets     = %12d]\n", h->bucket_count,
	        h->sub_bucket_count);
	return ferror(f) ? COL_EIO : COL_OK;
}
