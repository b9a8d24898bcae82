/*
 * repair.c — what anti-entropy repair needs of a replica's store: the
 * canonical form of a token range's data (hashed per partition for Merkle
 * trees, or cut into chunks for streaming) and the validated application of
 * a streamed chunk through the LWW merge.  Rules in storage.h (REPAIR).
 */
#include "storage/storage_int.h"

#include "core/clock.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- repaired ranges (tombstone_gc 'repair') ---------------------------------------------- */

static bool range_has(int64_t start, int64_t end, int64_t token)
{
	if (start == end)
		return true;
	return start < end ? token > start && token <= end : token > start || token <= end;
}

int64_t repaired_at(const struct repaired_set *rs, int64_t token)
{
	int64_t at = 0;
	for (size_t i = 0; rs && i < rs->n; i++)
		if (rs->r[i].at_s > at && range_has(rs->r[i].start, rs->r[i].end, token))
			at = rs->r[i].at_s;
	return at;
}

int64_t store_table_repaired_at(struct store_table *t, int64_t token)
{
	return t ? repaired_at(atomic_load(&t->state->repaired), token) : 0;
}

int store_table_mark_repaired(struct store_table *t, int64_t start, int64_t end, int64_t at_s)
{
	if (!t)
		return 0;
	struct store *s = t->s;
	pthread_mutex_lock(&s->lock);
	struct repaired_set *old = atomic_load(&t->state->repaired);
	size_t n = old ? old->n : 0;
	struct repaired_set *rs = malloc(sizeof(*rs) + (n + 1) * sizeof(rs->r[0]));
	if (!rs) {
		pthread_mutex_unlock(&s->lock);
		return COL_ENOMEM;
	}
	rs->retired_next = NULL;
	rs->n = 0;
	bool found = false;
	for (size_t i = 0; i < n; i++) {
		rs->r[rs->n] = old->r[i];
		if (old->r[i].start == start && old->r[i].end == end) {
			found = true;
			if (at_s > rs->r[rs->n].at_s)
				rs->r[rs->n].at_s = at_s;
		}
		rs->n++;
	}
	if (!found)
		rs->r[rs->n++] = (struct repaired_range){start, end, at_s};
	atomic_store(&t->state->repaired, rs);
	if (old) { /* a compaction may still read it */
		old->retired_next = s->repaired_retired;
		s->repaired_retired = old;
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* ---- the canonical walk ------------------------------------------------------------------- */

/* Called per kept pair (canonical value) and at the end of each partition (key NULL). */
typedef int (*rw_pair_fn)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen);

struct rwalk {
	struct store_table *t;
	const struct tdesc *d;
	int64_t now;
	int32_t gc;          /* < 0: never purgeable */
	bool drop_purgeable; /* hashes leave purgeable tombstones out; streams send them */
	rw_pair_fn fn;
	void *ctx;
	struct buf part; /* current partition prefix */
	int64_t part_del;
	struct buf rts; /* [u32 sl][start][u32 el][end][u64 ts] */
	struct buf row; /* current row prefix */
	int64_t row_del;
	struct buf scratch, val;
	bool in_part;
	bool quiet; /* walking for context only: nothing is passed on */
};

static int rw_out(struct rwalk *w, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
	return w->quiet ? 0 : w->fn(w->ctx, k, klen, v, vlen);
}

static void rwalk_init(struct rwalk *w, struct store_table *t, int64_t now_s, bool drop_purgeable,
                       rw_pair_fn fn, void *ctx)
{
	memset(w, 0, sizeof(*w));
	w->t = t;
	w->d = table_tdesc(t);
	w->now = now_s > 0 ? now_s : clock_wall_s();
	w->gc = w->d ? w->d->pub.gc_grace_seconds : -1;
	w->drop_purgeable = drop_purgeable;
	w->fn = fn;
	w->ctx = ctx;
	buf_init(&w->part);
	buf_init(&w->rts);
	buf_init(&w->row);
	buf_init(&w->scratch);
	buf_init(&w->val);
	w->part_del = w->row_del = INT64_MIN;
}

static void rwalk_release(struct rwalk *w)
{
	buf_release(&w->part);
	buf_release(&w->rts);
	buf_release(&w->row);
	buf_release(&w->scratch);
	buf_release(&w->val);
}

static bool rw_purgeable(const struct rwalk *w, uint32_t ldt)
{
	return w->drop_purgeable && tomb_purgeable(w->gc, ldt, w->now);
}

static int rw_end_partition(struct rwalk *w)
{
	if (!w->in_part)
		return 0;
	w->in_part = false;
	return rw_out(w, NULL, 0, NULL, 0);
}

/* A live cell, marker or static cell nothing shadows: expired ones become tombstones. */
static int rw_emit_cell(struct rwalk *w, const uint8_t *k, size_t klen, const uint8_t *v,
                        size_t vlen, const struct cellval *cv)
{
	if (!(cv->flags & VAL_TOMBSTONE) && (cv->flags & VAL_EXPIRING) &&
	    (int64_t)cv->ldt <= w->now) {
		if (rw_purgeable(w, cv->ldt))
			return 0;
		w->val.len = 0;
		cellval_put(&w->val, VAL_TOMBSTONE, cv->ts, 0, cv->ldt, NULL, 0);
		if (!buf_ok(&w->val))
			return COL_ENOMEM;
		return rw_out(w, k, klen, w->val.data, w->val.len);
	}
	if ((cv->flags & VAL_TOMBSTONE) && rw_purgeable(w, cv->ldt))
		return 0;
	return rw_out(w, k, klen, v, vlen);
}

static int rw_range_del(struct rwalk *w, const uint8_t *k, size_t klen, size_t plen,
                        const uint8_t *v, size_t vlen, const struct cellval *cv)
{
	bool tomb = cv->flags & VAL_TOMBSTONE;
	if (!w->d || !tomb)
		return rw_out(w, k, klen, v, vlen);
	size_t sl, el;
	if (!codec_range_bounds(w->d, k, klen, plen, &sl, &el, &w->scratch))
		return rw_out(w, k, klen, v, vlen);
	if (codec_rts_add(&w->rts, k + plen + 1, sl, el, cv->ts))
		return COL_ENOMEM;
	return rw_purgeable(w, cv->ldt) ? 0 : rw_out(w, k, klen, v, vlen);
}

static int rw_row_key(struct rwalk *w, const uint8_t *k, size_t klen, size_t plen, const uint8_t *v,
                      size_t vlen, const struct cellval *cv)
{
	struct bufreader r;
	bufreader_init(&r, k, klen);
	r.pos = plen + 1;
	if (!w->d || codec_ck_skip(w->d, &r, &w->scratch) || bufreader_left(&r) == 0)
		return rw_out(w, k, klen, v, vlen);
	size_t rlen = r.pos;
	uint8_t kind = k[rlen];
	if (w->row.len != rlen || memcmp(w->row.data, k, rlen) != 0) {
		w->row.len = 0;
		buf_put(&w->row, k, rlen);
		if (!buf_ok(&w->row))
			return COL_ENOMEM;
		w->row_del = INT64_MIN;
	}
	bool shadowed =
	        cv->ts <= w->part_del || codec_rts_shadow(&w->rts, k + plen + 1, rlen - plen - 1, cv->ts);
	if (kind == KIND_ROW_DEL) { /* kept even when shadowed, as compaction keeps it */
		if (cv->flags & VAL_TOMBSTONE) {
			if (cv->ts > w->row_del)
				w->row_del = cv->ts;
			return rw_purgeable(w, cv->ldt) ? 0 : rw_out(w, k, klen, v, vlen);
		}
		return rw_out(w, k, klen, v, vlen);
	}
	if (shadowed || cv->ts <= w->row_del)
		return 0;
	if (kind == KIND_CELL && klen >= rlen + 5 && !tdesc_column(w->d, be32_load(k + rlen + 1)))
		return 0; /* a dropped column */
	return rw_emit_cell(w, k, klen, v, vlen, cv);
}

/* One stored pair of the walk, in key order. */
static int rwalk_pair(struct rwalk *w, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
	struct cellval cv;
	size_t plen = codec_partition_prefix_len(k, klen, NULL);
	if (plen == 0 || plen >= klen || cellval_parse(v, vlen, &cv))
		return rw_out(w, k, klen, v, vlen); /* kept as it is: compared, not judged */
	if (w->part.len != plen || memcmp(w->part.data, k, plen) != 0) {
		int rc = rw_end_partition(w);
		if (rc)
			return rc;
		w->part.len = 0;
		buf_put(&w->part, k, plen);
		if (!buf_ok(&w->part))
			return COL_ENOMEM;
		w->part_del = w->row_del = INT64_MIN;
		w->rts.len = 0;
		w->row.len = 0;
		w->in_part = true;
	}
	switch (k[plen]) {
	case SEC_PARTITION_DEL:
		if (cv.flags & VAL_TOMBSTONE) {
			if (cv.ts > w->part_del)
				w->part_del = cv.ts;
			return rw_purgeable(w, cv.ldt) ? 0 : rw_out(w, k, klen, v, vlen);
		}
		return rw_out(w, k, klen, v, vlen);
	case SEC_RANGE_DEL: return rw_range_del(w, k, klen, plen, v, vlen, &cv);
	case SEC_STATIC:
		if (cv.ts <= w->part_del)
			return 0;
		if (w->d && klen >= plen + 5 && !tdesc_column(w->d, be32_load(k + plen + 1)))
			return 0;
		return rw_emit_cell(w, k, klen, v, vlen, &cv);
	case SEC_ROW: return rw_row_key(w, k, klen, plen, v, vlen, &cv);
	default: return rw_out(w, k, klen, v, vlen);
	}
}

/*
 * Walk (start, end] from a snapshot, resuming at the partition of `after`
 * (whose pairs up to and including `after` are walked for their shadowing
 * context but not passed on).
 */
static int rwalk_run(struct rwalk *w, int64_t start, int64_t end, const uint8_t *after, size_t alen,
                     struct cerr *err)
{
	struct store_table *t = w->t;
	if (!t->cf)
		return cerr_set(err, COL_ECLOSED, "table %s is unusable after a failed truncate",
		                t->cf_name);
	const rocksdb_snapshot_t *snap = rocksdb_create_snapshot(t->s->db);
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_snapshot(ro, snap);
	rocksdb_readoptions_set_total_order_seek(ro, 1);
	rocksdb_readoptions_set_fill_cache(ro, 0);
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(t->s->db, ro, t->cf);
	struct token_span sr[2];
	size_t nsr = store_token_spans(start, end, sr), first = 0;
	size_t aplen = after ? codec_partition_prefix_len(after, alen, NULL) : 0;
	if (after && (alen < 8 || !aplen))
		after = NULL;
	if (after && nsr == 2 && codec_token_load(after) <= sr[1].end &&
	    codec_token_load(after) > INT64_MIN)
		first = 1;
	int rc = 0;
	for (size_t i = first; i < nsr && !rc; i++) {
		bool skipping = after && i == first;
		if (skipping)
			rocksdb_iter_seek(it, (const char *)after, aplen);
		else
			store_seek_after_token(it, sr[i].start);
		for (; rocksdb_iter_valid(it) && !rc; rocksdb_iter_next(it)) {
			size_t kl, vl;
			const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
			if (kl < 8 || codec_token_load(k) > sr[i].end)
				break;
			const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vl);
			if (skipping) {
				int c = bytes_compare(k, kl, after, alen);
				if (c <= 0) {
					/* context only: run the rules with no output */
					w->quiet = true;
					rc = rwalk_pair(w, k, kl, v, vl);
					w->quiet = false;
					continue;
				}
				skipping = false;
			}
			rc = rwalk_pair(w, k, kl, v, vl);
		}
	}
	if (!rc)
		rc = rw_end_partition(w);
	int erc = store_iter_error(it, err, "repair scan", t->cf_name);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	rocksdb_release_snapshot(t->s->db, snap);
	if (erc)
		return erc;
	if (rc == COL_ENOMEM)
		return cerr_set(err, rc, "repair scan of %s: out of memory", t->cf_name);
	return rc;
}

/* ---- partition hashes ------------------------------------------------------------------------ */

struct hash_ctx {
	XXH3_state_t *st;
	uint64_t pairs; /* kept in the current partition */
	int64_t token;
	store_repair_hash_fn fn;
	void *ctx;
	struct store_repair_counts *counts;
};

static int hash_pair(void *ctx, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
	struct hash_ctx *h = ctx;
	if (!k) { /* end of a partition */
		if (!h->pairs)
			return 0; /* nothing left of it once canonical: as if absent */
		XXH128_hash_t r = XXH3_128bits_digest(h->st);
		h->pairs = 0;
		h->counts->partitions++;
		struct merkle_hash mh = {.lo = r.low64, .hi = r.high64};
		return h->fn(h->ctx, h->token, &mh);
	}
	if (!h->pairs) {
		XXH3_128bits_reset(h->st);
		h->token = codec_token_load(k);
	}
	uint8_t len[4];
	be32_store(len, (uint32_t)klen);
	XXH3_128bits_update(h->st, len, 4);
	XXH3_128bits_update(h->st, k, klen);
	be32_store(len, (uint32_t)vlen);
	XXH3_128bits_update(h->st, len, 4);
	XXH3_128bits_update(h->st, v, vlen);
	h->pairs++;
	h->counts->pairs++;
	h->counts->bytes += klen + vlen;
	return 0;
}

int store_repair_hash(struct store_table *t, int64_t start, int64_t end, int64_t now_s,
                      store_repair_hash_fn fn, void *ctx, struct store_repair_counts *counts,
                      struct cerr *err)
{
	struct store_repair_counts local = {0};
	struct hash_ctx hc = {0}, *h = &hc;
	h->st = XXH3_createState();
	if (!h->st)
		return cerr_set(err, COL_ENOMEM, "repair hash of %s: out of memory", t->cf_name);
	h->fn = fn;
	h->ctx = ctx;
	h->counts = counts ? counts : &local;
	struct rwalk w;
	rwalk_init(&w, t, now_s, true, hash_pair, h);
	int rc = rwalk_run(&w, start, end, NULL, 0, err);
	rwalk_release(&w);
	XXH3_freeState(h->st);
	return rc;
}

uint64_t store_repair_estimate_partitions(struct store_table *t, int64_t start, int64_t end)
{
	uint64_t keys = 0;
	if (!t->cf || rocksdb_property_int_cf(t->s->db, t->cf, "rocksdb.estimate-num-keys", &keys))
		return 0;
	unsigned __int128 span = start == end ? ((unsigned __int128)1 << 64)
	                                      : (uint64_t)((uint64_t)end - (uint64_t)start);
	return (uint64_t)(((unsigned __int128)keys * span) >> 64) + 1;
}

/* ---- streaming chunks ------------------------------------------------------------------------ */

struct chunk_ctx {
	struct buf *out;
	struct buf *last;
	size_t max;
	uint64_t pairs;
};

static int chunk_pair(void *ctx, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
	struct chunk_ctx *c = ctx;
	if (!k)
		return 0;
	if (c->pairs && c->out->len + 8 + klen + vlen > c->max) {
		/* full: stop before this pair; the next chunk resumes after the last one */
		return 1;
	}
	buf_put_u32be(c->out, (uint32_t)klen);
	buf_put(c->out, k, klen);
	buf_put_u32be(c->out, (uint32_t)vlen);
	buf_put(c->out, v, vlen);
	c->last->len = 0;
	buf_put(c->last, k, klen);
	c->pairs++;
	return buf_ok(c->out) && buf_ok(c->last) ? 0 : COL_ENOMEM;
}

int store_repair_chunk(struct store_table *t, int64_t start, int64_t end, const uint8_t *after,
                       size_t alen, int64_t now_s, size_t max_bytes, struct buf *out,
                       struct buf *last, bool *more, struct cerr *err)
{
	struct chunk_ctx c = {.out = out, .last = last, .max = max_bytes};
	last->len = 0;
	struct rwalk w;
	rwalk_init(&w, t, now_s, false, chunk_pair, &c);
	int rc = rwalk_run(&w, start, end, after, alen, err);
	rwalk_release(&w);
	*more = rc == 1;
	return rc == 1 ? 0 : rc;
}

/* Is k a well-formed key of the table's layout with a token in (start, end]? */
static bool key_valid(const struct tdesc *d, const uint8_t *k, size_t klen, int64_t start,
                      int64_t end, struct buf *scratch)
{
	size_t plen = codec_partition_prefix_len(k, klen, NULL);
	if (plen == 0 || plen >= klen)
		return false;
	int64_t tok = codec_token_load(k);
	if (!(start == end ||
	      (start < end ? tok > start && tok <= end : tok > start || tok <= end)))
		return false;
	size_t at = plen + 1;
	switch (k[plen]) {
	case SEC_PARTITION_DEL: return klen == at;
	case SEC_STATIC: return klen >= at + 4;
	case SEC_RANGE_DEL: {
		size_t sl = codec_bound_len(d, k + at, klen - at, scratch);
		size_t el = sl ? codec_bound_len(d, k + at + sl, klen - at - sl, scratch) : 0;
		return sl && el && at + sl + el == klen;
	}
	case SEC_ROW: {
		struct bufreader r;
		bufreader_init(&r, k, klen);
		r.pos = at;
		if (codec_ck_skip(d, &r, scratch) || bufreader_left(&r) == 0)
			return false;
		uint8_t kind = k[r.pos];
		if (kind == KIND_ROW_DEL || kind == KIND_MARKER)
			return r.pos + 1 == klen;
		return kind == KIND_CELL && klen >= r.pos + 5;
	}
	default: return false;
	}
}

/* In a wrapping range, keys restart once from the ring's start: (start, max] then [min, end]. */
static bool wraps_here(int64_t start, int64_t end, const uint8_t *prev, const uint8_t *k,
                       bool *wrapped)
{
	if (*wrapped || start < end || codec_token_load(prev) <= start || codec_token_load(k) > end)
		return false;
	*wrapped = true;
	return true;
}

int store_repair_apply(struct store_table *t, int64_t start, int64_t end, const uint8_t *chunk,
                       size_t len, uint64_t *pairs_out, struct cerr *err)
{
	const struct tdesc *d = table_tdesc(t);
	if (!d)
		return cerr_set(err, COL_EINVAL, "table %s is not described", t->cf_name);
	if (!t->cf)
		return cerr_set(err, COL_ECLOSED, "table %s is unusable after a failed truncate",
		                t->cf_name);
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	struct buf scratch;
	buf_init(&scratch);
	struct sindex_scratch ix;
	sindex_scratch_init(&ix);
	struct bufreader r;
	bufreader_init(&r, chunk, len);
	const uint8_t *prev = NULL;
	size_t prev_len = 0;
	uint64_t n = 0;
	bool wrapped = false;
	int64_t truncated_at = table_truncated_at(t);
	int rc = 0;
	while (bufreader_left(&r) && !rc) {
		uint32_t kl = bufreader_u32be(&r);
		const uint8_t *k = bufreader_take(&r, kl);
		uint32_t vl = bufreader_u32be(&r);
		const uint8_t *v = bufreader_take(&r, vl);
		struct cellval cv;
		if (!bufreader_ok(&r))
			rc = cerr_set(err, COL_ECORRUPT, "repair chunk for %s.%s: pair %lu is torn",
			              d->pub.keyspace, d->pub.name, (unsigned long)n);
		else if (!key_valid(d, k, kl, start, end, &scratch))
			rc = cerr_set(err, COL_ECORRUPT,
			              "repair chunk for %s.%s: key %lu (%u bytes) is malformed or "
			              "outside the range",
			              d->pub.keyspace, d->pub.name, (unsigned long)n, kl);
		else if (prev && bytes_compare(prev, prev_len, k, kl) >= 0 &&
		         !wraps_here(start, end, prev, k, &wrapped))
			rc = cerr_set(err, COL_ECORRUPT,
			              "repair chunk for %s.%s: key %lu out of order",
			              d->pub.keyspace, d->pub.name, (unsigned long)n);
		else if (cellval_parse(v, vl, &cv))
			rc = cerr_set(err, COL_ECORRUPT,
			              "repair chunk for %s.%s: value %lu (%u bytes) is malformed",
			              d->pub.keyspace, d->pub.name, (unsigned long)n, vl);
		else if (cv.ts > truncated_at) { /* else written before the table's TRUNCATE */
			rocksdb_writebatch_merge_cf(wb, t->cf, (const char *)k, kl, (const char *)v,
			                            vl);
			if (sindex_emit(t->s, d, NULL, k, kl, v, vl, wb, &ix))
				rc = cerr_set(err, COL_ENOMEM,
				              "repair chunk for %s.%s: out of memory",
				              d->pub.keyspace, d->pub.name);
		}
		prev = k;
		prev_len = kl;
		n++;
	}
	if (!rc && n) {
		char *rerr = NULL;
		rocksdb_write(t->s->db, t->s->wo, wb, &rerr);
		if (rerr)
			rc = store_rocks_err(err, rerr, "repair apply into", t->cf_name);
	}
	rocksdb_writebatch_destroy(wb);
	buf_release(&scratch);
	sindex_scratch_release(&ix);
	if (!rc && pairs_out)
		*pairs_out = n;
	return rc;
}
