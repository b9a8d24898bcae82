/*
 * bench_stats.c — what a run measured: histograms per op, errors by kind, and
 * a point per second.  Every finished op is recorded, failed ones included
 * (with the latency they had when they failed or timed out), so errors never
 * make the latency figures look better.
 */
#include "cli/lib/bench_int.h"

#include "core/array.h"
#include "core/cqlproto.h"

#include <stdlib.h>
#include <string.h>

static const char *const err_names[BERR__N] = {
        "Unavailable",        "WriteTimeout",     "ReadTimeout",    "Overloaded",
        "other server error", "connection error", "client timeout",
};
const char *bench_err_name(enum bench_err e)
{
	return (unsigned)e < BERR__N ? err_names[e] : "?";
}

enum bench_err bench_err_of_code(uint32_t code)
{
	switch (code) {
	case CQL_ERR_UNAVAILABLE: return BERR_UNAVAILABLE;
	case CQL_ERR_WRITE_TIMEOUT: return BERR_WRITE_TIMEOUT;
	case CQL_ERR_READ_TIMEOUT: return BERR_READ_TIMEOUT;
	case CQL_ERR_OVERLOADED: return BERR_OVERLOADED;
	default: return BERR_OTHER_SERVER;
	}
}

int bench_stats_init(struct bench_stats *s)
{
	memset(s, 0, sizeof(*s));
	struct hdr **all[] = {&s->all,       &s->ok_lat,    &s->service,  &s->send_delay,
	                      &s->wake_lag,  &s->queue_lag, &s->interval, &s->per_op[0],
	                      &s->per_op[1], &s->per_op[2], &s->per_op[3]};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (hdr_new(BENCH_HDR_HIGHEST, BENCH_HDR_DIGITS, all[i])) {
			bench_stats_release(s);
			return COL_ENOMEM;
		}
	return COL_OK;
}

void bench_stats_release(struct bench_stats *s)
{
	hdr_free(s->all);
	hdr_free(s->ok_lat);
	hdr_free(s->service);
	hdr_free(s->send_delay);
	hdr_free(s->wake_lag);
	hdr_free(s->queue_lag);
	hdr_free(s->interval);
	for (int i = 0; i < BOP__N; i++)
		hdr_free(s->per_op[i]);
	free(s->series);
	memset(s, 0, sizeof(*s));
}

void bench_stats_reset(struct bench_stats *s)
{
	hdr_reset(s->all);
	hdr_reset(s->ok_lat);
	hdr_reset(s->service);
	hdr_reset(s->send_delay);
	hdr_reset(s->wake_lag);
	hdr_reset(s->queue_lag);
	hdr_reset(s->interval);
	for (int i = 0; i < BOP__N; i++)
		hdr_reset(s->per_op[i]);
	memset(s->ops, 0, sizeof(s->ops));
	memset(s->errors, 0, sizeof(s->errors));
	memset(s->by_code, 0, sizeof(s->by_code));
	s->n_codes = 0;
	s->ok = s->read_misses = s->backlog = 0;
	s->interval_ops = s->interval_errors = 0;
	s->n_series = 0;
}

void bench_stats_record(struct bench_stats *s, enum bench_op op, int64_t latency_us,
                        int64_t service_us)
{
	hdr_record(s->all, latency_us);
	hdr_record(s->per_op[op], latency_us);
	hdr_record(s->interval, latency_us);
	if (service_us >= 0)
		hdr_record(s->service, service_us);
	s->ops[op]++;
	s->interval_ops++;
}

void bench_stats_error(struct bench_stats *s, enum bench_err kind, uint32_t code)
{
	s->errors[kind]++;
	s->interval_errors++;
	if (kind != BERR_OTHER_SERVER)
		return;
	for (int i = 0; i < s->n_codes; i++)
		if (s->by_code[i].code == code) {
			s->by_code[i].n++;
			return;
		}
	if (s->n_codes < BENCH_MAX_CODES) {
		s->by_code[s->n_codes].code = code;
		s->by_code[s->n_codes++].n = 1;
	}
}

uint64_t bench_stats_total_errors(const struct bench_stats *s)
{
	uint64_t n = 0;
	for (int i = 0; i < BERR__N; i++)
		n += s->errors[i];
	return n;
}

uint64_t bench_stats_total_ops(const struct bench_stats *s)
{
	uint64_t n = 0;
	for (int i = 0; i < BOP__N; i++)
		n += s->ops[i];
	return n;
}

const struct bench_point *bench_stats_tick(struct bench_stats *s, double t_s, double interval_s)
{
	struct bench_point *p = &s->scratch; /* when the series is full or OOM */
	if (s->n_series == s->cap_series && s->cap_series < BENCH_MAX_SERIES) {
		size_t cap = array_next_cap((size_t)s->cap_series, (size_t)s->n_series + 1);
		if (cap == 0 || cap > BENCH_MAX_SERIES)
			cap = BENCH_MAX_SERIES;
		struct bench_point *n = array_resize(s->series, cap, sizeof(*n));
		if (n) {
			s->series = n;
			s->cap_series = (int)cap;
		}
	}
	if (s->n_series < s->cap_series)
		p = &s->series[s->n_series++];
	p->t_s = t_s;
	p->ops_per_s = interval_s > 0 ? (double)s->interval_ops / interval_s : 0;
	p->errors = s->interval_errors;
	p->n = (uint64_t)hdr_total(s->interval);
	p->p50 = hdr_value_at_percentile(s->interval, 50);
	p->p90 = hdr_value_at_percentile(s->interval, 90);
	p->p99 = hdr_value_at_percentile(s->interval, 99);
	p->p999 = hdr_value_at_percentile(s->interval, 99.9);
	p->max = hdr_max(s->interval);
	hdr_reset(s->interval);
	s->interval_ops = 0;
	s->interval_errors = 0;
	return p;
}
