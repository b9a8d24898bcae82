/*
 * hdr.h — a high-dynamic-range latency histogram (HdrHistogram's scheme).
 *
 * Values are non-negative integers in a unit the caller picks (bench records
 * microseconds).  The histogram is HdrHistogram's log-linear layout: bucket 0
 * counts 0 .. 2*H-1 exactly (H = sub_bucket_half_count), and bucket b >= 1
 * covers [H << b, 2H << b) in H sub-buckets of width 1 << b.  So every value
 * lands in a sub-bucket whose width is at most value / H: with 2 significant
 * digits H = 128 and the relative error of any reported value is below
 * 1/128 < 0.8 %.  Memory is fixed at creation (about 26 KiB for 1 .. 3.6e9 at
 * 2 digits) and recording never allocates.
 *
 * Percentiles follow HdrHistogram: value_at_percentile(p) is the highest
 * value equivalent to the smallest recorded value v such that at least
 * round(p/100 * total) values are <= v (at least 1), capped at the exact
 * maximum.  The exact minimum and maximum recorded values are kept, so `max`
 * is reported without error.
 *
 * Values above the highest trackable value are clamped to it and counted in
 * `saturated` (never dropped: a 2-hour stall still shows up as the maximum).
 *
 * Not thread-safe: one histogram per thread, merged with hdr_add().
 *
 * Text output (hdr_write_percentiles) is HdrHistogram's "percentile
 * distribution" (.hgrm) format, as written by Java's
 * outputPercentileDistribution and read by HdrHistogram's plotter:
 *
 *   |        Value     Percentile TotalCount 1/(1-Percentile)   <- header
 *   |                                                          <- blank
 *   |        0.105 0.000000000000          1           1.00    <- rows
 *   |        ...                                                  (%12.Nf %2.12f %10d %14.2f)
 *   |     1234.943 1.000000000000      97016                   <- last row, no 4th column
 *   |#[Mean    =        0.318, StdDeviation   =        1.290]
 *   |#[Max     =     1234.943, Total count    =        97016]
 *   |#[Buckets =           25, SubBuckets     =          256]
 *
 * Rows are emitted by HdrHistogram's percentile iterator with a given number
 * of ticks per half distance (5 is HdrHistogram's default): percentile steps
 * halve each time the distance to 100 % halves, so the tail is well sampled.
 */
#ifndef COLONNADE_CLI_HDR_H
#define COLONNADE_CLI_HDR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct hdr hdr;

/*
 * Create a histogram tracking 0 .. highest (>= 2) with `digits` (1..5)
 * significant decimal digits.  Returns 0, COL_EINVAL or COL_ENOMEM.
 */
int hdr_new(int64_t highest, int digits, struct hdr **out);
void hdr_free(struct hdr *h);

/* Record `count` occurrences of `value` (negative values record as 0). */
void hdr_record_n(struct hdr *h, int64_t value, int64_t count);
static inline void hdr_record(struct hdr *h, int64_t value)
{
	hdr_record_n(h, value, 1);
}

/* Forget everything recorded (keeps the layout). */
void hdr_reset(struct hdr *h);

/*
 * Add every count of `from` to `to`.  The two must have the same layout
 * (same highest and digits); returns COL_EINVAL otherwise.
 */
int hdr_add(struct hdr *to, const struct hdr *from);

int64_t hdr_total(const struct hdr *h);
/* Exact smallest / largest recorded value (after clamping); 0 when empty. */
int64_t hdr_min(const struct hdr *h);
int64_t hdr_max(const struct hdr *h);
/* Recorded values that exceeded the highest trackable value. */
int64_t hdr_saturated(const struct hdr *h);
/* Mean and standard deviation over bucket midpoints (HdrHistogram's way). */
double hdr_mean(const struct hdr *h);
double hdr_stddev(const struct hdr *h);
/* The value at percentile p (0..100); 0 when empty.  See the header comment. */
int64_t hdr_value_at_percentile(const struct hdr *h, double p);

/* Layout queries, mostly for tests. */
int64_t hdr_lowest_equivalent(const struct hdr *h, int64_t value);
int64_t hdr_highest_equivalent(const struct hdr *h, int64_t value);
int hdr_bucket_count(const struct hdr *h);
int hdr_sub_bucket_count(const struct hdr *h);

/*
 * Write the .hgrm percentile distribution to `f`.  Values are divided by
 * `unit_scale` (1000 turns recorded µs into ms) and printed with `decimals`
 * digits after the point.  Returns 0 or COL_EIO.
 */
int hdr_write_percentiles(const struct hdr *h, FILE *f, int ticks_per_half_distance,
                          double unit_scale, int decimals);

#endif
