/*
 * storage_proxy_spec.c — speculative retry (Cassandra's rapid read
 * protection) for single-partition reads: the table option's values, each
 * table's observed replica latency (a decaying log-bucket histogram per table
 * id), and the timer that, when a contacted replica is slower than the
 * table's threshold, asks one more live replica in its place.
 *
 * The slow replica's request stays in flight (messaging calls it back, at the
 * latest at its timeout); its slot is taken by the new replica, whose request
 * uses the slot's other callback context (cbs2), so a late answer from the
 * abandoned one is recognised and ignored.  One speculation per read step,
 * and none while an abandoned request of the read is still in flight.
 */
#include "coordinator/replication/storage_proxy_int.h"

#include "core/clock.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the option ------------------------------------------------------------------------------ */

int spec_retry_parse(const char *text, struct spec_retry *out, struct cerr *err)
{
	size_t n = strlen(text);
	if (strcasecmp(text, "ALWAYS") == 0) {
		*out = (struct spec_retry){.kind = SPEC_ALWAYS};
		return 0;
	}
	if (strcasecmp(text, "NONE") == 0) {
		*out = (struct spec_retry){.kind = SPEC_NONE};
		return 0;
	}
	char *end = NULL;
	double v = n && isdigit((unsigned char)text[0]) ? strtod(text, &end) : -1;
	if (end && (strcasecmp(end, "p") == 0 || strcasecmp(end, "percentile") == 0) && v > 0 &&
	    v < 100) {
		*out = (struct spec_retry){.kind = SPEC_PERCENTILE, .value = v};
		return 0;
	}
	if (end && strcasecmp(end, "ms") == 0 && v >= 0 && v <= 3600000) {
		*out = (struct spec_retry){.kind = SPEC_FIXED, .value = v};
		return 0;
	}
	return cerr_set(err, COL_EINVAL,
	                "Invalid value '%.64s' for speculative_retry: expected 'Xp' or "
	                "'XPERCENTILE' (0 < X < 100), 'Xms', 'ALWAYS' or 'NONE'",
	                text);
}

void spec_retry_format(const struct spec_retry *s, char *out, size_t cap)
{
	switch (s->kind) {
	case SPEC_DEFAULT: snprintf(out, cap, "99p"); break;
	case SPEC_PERCENTILE: snprintf(out, cap, "%gp", s->value); break;
	case SPEC_FIXED: snprintf(out, cap, "%gms", s->value); break;
	case SPEC_ALWAYS: snprintf(out, cap, "ALWAYS"); break;
	case SPEC_NONE: snprintf(out, cap, "NONE"); break;
	}
}

/* ---- per-table latency ------------------------------------------------------------------------
 */

/* Bucket b holds latencies in [1.2^b, 1.2^(b+1)) µs: 5% relative error, up to ~30 min. */
#define LAT_GROWTH 1.2

static size_t lat_bucket(int64_t us)
{
	if (us < 1)
		return 0;
	size_t b = (size_t)(log((double)us) / log(LAT_GROWTH));
	return b < SP_LAT_BUCKETS ? b : SP_LAT_BUCKETS - 1;
}

/* The histogram of table id: found, or a free slot claimed, or (all taken) its hash slot reset. */
static struct sp_lat *lat_of(struct storage_proxy *sp, const uint8_t id[16], bool create)
{
	uint32_t h;
	memcpy(&h, id + 12, 4);
	size_t at = h % SP_LAT_TABLES;
	for (size_t k = 0; k < SP_LAT_TABLES; k++) {
		struct sp_lat *l = &sp->lat[(at + k) % SP_LAT_TABLES];
		if (l->used && memcmp(l->id, id, 16) == 0)
			return l;
		if (!l->used) {
			if (!create)
				return NULL;
			memset(l, 0, sizeof(*l));
			l->used = true;
			memcpy(l->id, id, 16);
			return l;
		}
	}
	if (!create)
		return NULL;
	struct sp_lat *l = &sp->lat[at];
	memset(l, 0, sizeof(*l));
	l->used = true;
	memcpy(l->id, id, 16);
	return l;
}

void sp_lat_record(struct storage_proxy *sp, const uint8_t id[16], int64_t us)
{
	struct sp_lat *l = lat_of(sp, id, true);
	l->b[lat_bucket(us)]++;
	l->p_age++;
	/* halve every SP_LAT_WINDOW answers: the percentile follows the recent past */
	if (++l->n >= SP_LAT_WINDOW) {
		l->n = 0;
		for (size_t i = 0; i < SP_LAT_BUCKETS; i++) {
			l->n += l->b[i] / 2;
			l->b[i] /= 2;
		}
	}
}

/* The p-th percentile of l's latencies in µs, or -1 with too few samples. */
static int64_t lat_compute(const struct sp_lat *l, double p)
{
	if (l->n < SP_LAT_MIN_SAMPLES)
		return -1;
	uint64_t want = (uint64_t)ceil((double)l->n * p / 100.0), seen = 0;
	for (size_t i = 0; i < SP_LAT_BUCKETS; i++) {
		seen += l->b[i];
		if (seen >= want && seen > 0)
			return (int64_t)ceil(pow(LAT_GROWTH, (double)(i + 1)));
	}
	return -1;
}

/* The p-th percentile of table id's replica latency in µs, or -1 with too few samples.
 * Every read asks for it: it is computed again after SP_LAT_RECOMPUTE answers (0.8 % of
 * the window) or for another percentile. */
static int64_t lat_percentile(struct storage_proxy *sp, const uint8_t id[16], double p)
{
	struct sp_lat *l = lat_of(sp, id, false);
	if (!l)
		return -1;
	if (l->p_age >= SP_LAT_RECOMPUTE || l->p_at != p || l->p_us < 0) {
		l->p_us = lat_compute(l, p);
		l->p_at = p;
		l->p_age = 0;
	}
	return l->p_us;
}

/* The read's speculation threshold in µs: -1 none, 0 at once. */
static int64_t spec_threshold_us(struct sp_read *r)
{
	switch (r->spec.kind) {
	case SPEC_NONE: return -1;
	case SPEC_ALWAYS: return 0;
	case SPEC_FIXED: return (int64_t)(r->spec.value * 1000.0);
	case SPEC_PERCENTILE: return lat_percentile(r->sp, r->table_id, r->spec.value);
	case SPEC_DEFAULT: return lat_percentile(r->sp, r->table_id, 99.0);
	}
	return -1;
}

/* ---- the timer --------------------------------------------------------------------------------
 */

void sp_spec_arm(struct sp_read *r)
{
	struct storage_proxy *sp = r->sp;
	if (r->is_scan || r->speculated || r->n_abandoned || r->n_spare == 0 ||
	    r->phase == PH_REPAIR || r->answered)
		return;
	int64_t us = spec_threshold_us(r);
	unsigned tmo = sp->cfg.read_timeout_ms;
	if (us < 0 || us >= (int64_t)tmo * 1000)
		return;
	/* The loop's time is that of the iteration's start: the threshold counts from now,
	 * or a long iteration would fire the timer early by its own length. */
	double late = ev_time() - ev_now(sp->ev);
	ev_timer_stop(sp->ev, &r->spec_timer);
	ev_timer_set(&r->spec_timer, (double)us / 1e6 + (late > 0 ? late : 0.), 0.);
	ev_timer_start(sp->ev, &r->spec_timer);
}

/* Ask spare replica `node` in slot i's place, as slot i was asked. */
static void spec_replace(struct sp_read *r, size_t i, uint32_t node)
{
	struct rtarget *t = &r->tgt[i];
	t->abandoned = t->cb == &r->cbs[i] ? 1 : 2;
	r->n_abandoned++;
	t->node = node;
	t->has_data = t->has_digest = false;
	if (r->why_at == i)
		r->why_at = SIZE_MAX;
	sp_read_ask(r, i, (r->phase == PH_DIGEST && i > 0) ? VERBS_READ_DIGEST : VERBS_READ_DATA);
	r->sp->stats.speculative_retries++;
}

void sp_spec_fire(struct ev_loop *l, ev_timer *tm, int revents)
{
	(void)l;
	(void)revents;
	struct sp_read *r = (struct sp_read *)((char *)tm - offsetof(struct sp_read, spec_timer));
	if (r->answered || r->phase == PH_REPAIR || r->speculated || r->n_spare == 0 ||
	    sp_topo_use(r->sp, r->ring) != 0)
		return;
	for (size_t i = 0; i < r->n_tgt; i++) {
		if (r->tgt[i].responded)
			continue;
		r->speculated = true;
		trace_event(r->trace, "Speculative retry: /%s is slow, asking /%s as well",
		            sp_node_name(r->ring, r->tgt[i].node),
		            sp_node_name(r->ring, r->spare[r->n_spare - 1]));
		spec_replace(r, i, r->spare[--r->n_spare]);
		sp_read_progress(r);
		return;
	}
}
