/*
 * sindex_read.c — reading through a secondary index: walk the entries of one
 * value in token order, check each against its base row, report the rows that
 * hold the value, delete the entries that are stale (storage.h, SECONDARY INDEXES).
 */
#include "storage/storage_int.h"

#include "core/clock.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define STALE INT_MIN /* the check callback's "this entry is stale" */

struct ixread {
	const struct tdesc *d;
	const struct store_index *ix;
	const struct store_value *value;
	int64_t now_s;
	store_row_fn fn;
	void *ctx;
	size_t limit, emitted;
	bool whole_partition; /* a static column's index: the partition's rows follow */
	bool set_col;         /* a non-frozen set's index: the elements are the paths */
	bool matched;
	struct store_index_read_stats *stats;
};

static bool same(const void *a, size_t al, const struct store_value *v)
{
	return al == v->len && (al == 0 || memcmp(a, v->p, al) == 0);
}

static bool cell_live(const struct store_cell *c, int64_t now_s)
{
	return !c->tombstone && (c->expiry_s == 0 || c->expiry_s > now_s);
}

/* Does row r hold the indexed value live? */
static bool row_matches(const struct ixread *x, const struct store_row *r)
{
	const struct store_index *ix = x->ix;
	if (ix->on != STORE_IX_COLUMN) {
		if (r->has_marker && (r->marker_expiry_s == 0 || r->marker_expiry_s > x->now_s))
			return true;
		for (size_t i = 0; i < r->n_cells; i++)
			if (cell_live(&r->cells[i], x->now_s))
				return true;
		return false;
	}
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct store_cell *c = &r->cells[i];
		if (c->col != ix->col || !cell_live(c, x->now_s))
			continue;
		switch (ix->kind) {
		case STORE_IX_VALUES:
			if (x->set_col ? c->path && same(c->path, c->path_len, x->value)
			               : same(c->value, c->value_len, x->value))
				return true;
			break;
		case STORE_IX_KEYS:
			if (c->path && same(c->path, c->path_len, x->value))
				return true;
			break;
		case STORE_IX_ENTRIES:
			if (c->path && same(c->path, c->path_len, &x->value[0]) &&
			    same(c->value, c->value_len, &x->value[1]))
				return true;
			break;
		default: break;
		}
	}
	return false;
}

static int check_row(void *ctx, const struct store_partition *p, const struct store_row *r)
{
	struct ixread *x = ctx;
	if (!r)
		return 0;
	if (x->whole_partition) {
		if (r->is_static && !x->matched) {
			if (!row_matches(x, r))
				return STALE;
			x->matched = true;
		} else if (!x->matched) {
			return STALE; /* no static row: the entry is stale */
		}
	} else {
		if (r->is_static)
			return 0;
		if (!row_matches(x, r))
			return STALE;
		x->matched = true;
	}
	if (!r->is_static)
		x->emitted++;
	if (x->stats)
		x->stats->rows++;
	return x->fn(x->ctx, p, r);
}

/* Delete a stale entry: a tombstone at its timestamp (a newer write of the value wins). */
static void purge(rocksdb_writebatch_t *wb, struct store *s, const char *k, size_t kl,
                  const struct cellval *ev, int64_t now_s, struct buf *tmp)
{
	tmp->len = 0;
	cellval_put(tmp, VAL_TOMBSTONE, ev->ts, 0, (uint32_t)now_s, NULL, 0);
	if (buf_ok(tmp))
		rocksdb_writebatch_merge_cf(wb, s->cf_sindex, k, kl, (const char *)tmp->data,
		                            tmp->len);
}

/* Check the entry whose base row key is rk (partition prefix plen) and report its rows;
 * resume_ck: resuming inside this partition after that clustering (static index). */
static int visit(struct store_table *t, struct ixread *x, const uint8_t *rk, size_t rkl,
                 size_t plen, const struct store_position *resume, unsigned flags, struct buf *tmp,
                 struct cerr *err)
{
	struct store_value pk[STORE_MAX_PK_COLS], ck[STORE_MAX_CK_COLS];
	size_t offs[STORE_MAX_CK_COLS], lens[STORE_MAX_CK_COLS];
	tmp->len = 0;
	if (!codec_partition_prefix_len(rk, plen, tmp))
		return COL_ECORRUPT;
	size_t keylen = tmp->len;
	if (rk[plen] == SEC_ROW) {
		struct bufreader r;
		bufreader_init(&r, rk, rkl);
		r.pos = plen + 1;
		if (codec_ck_decode(x->d, &r, tmp, offs, lens) || bufreader_left(&r))
			return COL_ECORRUPT;
	} else if (rk[plen] != SEC_STATIC || plen + 1 != rkl) {
		return COL_ECORRUPT;
	}
	if (!buf_ok(tmp) || codec_pk_split(x->d, tmp->data, keylen, pk))
		return COL_ECORRUPT;
	struct store_slice sl = {0};
	if (rk[plen] == SEC_ROW) {
		for (size_t i = 0; i < x->d->pub.n_ck; i++)
			ck[i] = (struct store_value){tmp->data + offs[i], lens[i]};
		sl = (struct store_slice){ck, x->d->pub.n_ck, true, ck, x->d->pub.n_ck, true};
	} else if (resume && resume->n_ck) {
		sl = (struct store_slice){.start = resume->ck, .n_start = resume->n_ck};
	}
	x->matched = false;
	x->whole_partition = rk[plen] == SEC_STATIC;
	size_t left = x->limit ? x->limit - x->emitted : 0;
	return read_partition_held(t, pk, x->d->pub.n_pk, &sl, flags, left, x->now_s, check_row, x,
	                           err);
}

/* Seek it to the first entry of prefix p (plen) with token > start. */
static void seek_span(rocksdb_iterator_t *it, struct buf *tmp, const uint8_t *p, size_t plen,
                      int64_t start)
{
	tmp->len = 0;
	buf_put(tmp, p, plen);
	if (start != INT64_MIN)
		buf_put_u64be(tmp, ((uint64_t)start ^ (1ULL << 63)) + 1);
	rocksdb_iter_seek(it, (const char *)tmp->data, tmp->len);
}

struct walk {
	struct store_table *t;
	struct ixread *x;
	rocksdb_iterator_t *it;
	rocksdb_writebatch_t *purges;
	const struct buf *prefix;
	const struct store_position *after;
	const struct buf *after_key; /* partition prefix [| 0x03 | encoded ck] of `after` */
	size_t after_plen;
	unsigned flags;
	struct buf tmp, val;
};

/* Visit the entries of one span from the iterator's position. */
static int walk_span(struct walk *w, const struct token_span *sp, struct cerr *err)
{
	struct ixread *x = w->x;
	size_t pl = w->prefix->len;
	int rc = 0;
	for (; rocksdb_iter_valid(w->it) && !rc; rocksdb_iter_next(w->it)) {
		if (x->limit && x->emitted >= x->limit)
			break;
		size_t kl, vl;
		const char *k = rocksdb_iter_key(w->it, &kl);
		const char *v = rocksdb_iter_value(w->it, &vl);
		if (kl < pl + 10 || memcmp(k, w->prefix->data, pl) != 0)
			break;
		const uint8_t *rk = (const uint8_t *)k + pl;
		size_t rkl = kl - pl;
		if (codec_token_load(rk) > sp->end)
			break;
		struct cellval ev;
		size_t plen = codec_partition_prefix_len(rk, rkl, NULL);
		if (cellval_parse(v, vl, &ev) || plen == 0 || plen >= rkl)
			continue; /* not ours to judge; compaction keeps it */
		if (!cellval_live(&ev, x->now_s))
			continue; /* deleted or expired: the compaction filter drops it */
		const struct store_position *resume = NULL;
		if (w->after && plen == w->after_plen &&
		    memcmp(rk, w->after_key->data, plen) == 0) {
			/* the partition the previous page stopped in */
			if (!w->after->n_ck)
				continue;
			if (rk[plen] == SEC_STATIC)
				resume = w->after;
			else if (bytes_compare(rk, rkl, w->after_key->data, w->after_key->len) <= 0)
				continue;
		}
		if (x->stats)
			x->stats->entries++;
		rc = visit(w->t, x, rk, rkl, plen, resume, w->flags, &w->tmp, err);
		if (rc == STALE || (rc == 0 && !x->matched)) {
			rc = 0;
			if (x->stats)
				x->stats->stale++;
			purge(w->purges, w->t->s, k, kl, &ev, x->now_s, &w->val);
		} else if (rc == COL_ECORRUPT) {
			rc = cerr_set(err, COL_ECORRUPT, "index entry of %s.%s is malformed",
			              x->d->pub.keyspace, x->d->pub.name);
		}
	}
	return rc;
}

/* The entry key prefix of value(s) v of ix (index prefix, escaped values). */
static int value_prefix(const struct tdesc *d, const struct store_index *ix,
                        const struct store_value *v, size_t n, struct buf *out, struct cerr *err)
{
	if (n != (ix->kind == STORE_IX_ENTRIES ? 2u : 1u))
		return cerr_set(
		        err, COL_EINVAL, "an index read of %s.%s takes %u value(s), not %zu",
		        d->pub.keyspace, d->pub.name, ix->kind == STORE_IX_ENTRIES ? 2 : 1, n);
	buf_put(out, d->pub.id, 16);
	buf_put_u8(out, ix->on);
	buf_put_u32be(out, ix->col);
	buf_put_u8(out, ix->kind);
	for (size_t i = 0; i < n; i++)
		buf_put_escaped(out, v[i].p, v[i].len);
	return buf_ok(out) ? 0 : cerr_set(err, COL_ENOMEM, "storage: out of memory");
}

static int walk_all(struct walk *w, int64_t start, int64_t end, struct cerr *err)
{
	struct token_span sr[2];
	size_t nsr = store_token_spans(start, end, sr);
	size_t first = 0;
	if (w->after && nsr == 2 && sr[1].start < w->after->token && w->after->token <= sr[1].end)
		first = 1;
	int rc = 0;
	for (size_t i = first; i < nsr && !rc; i++) {
		const struct token_span *sp = &sr[i];
		if (w->after && i == first && w->after->token > sp->start &&
		    w->after->token <= sp->end) {
			w->tmp.len = 0;
			buf_put(&w->tmp, w->prefix->data, w->prefix->len);
			buf_put(&w->tmp, w->after_key->data, w->after_plen);
			rocksdb_iter_seek(w->it, (const char *)w->tmp.data, w->tmp.len);
		} else {
			seek_span(w->it, &w->tmp, w->prefix->data, w->prefix->len, sp->start);
		}
		rc = walk_span(w, sp, err);
		if (!rc)
			rc = store_iter_error(w->it, err, "index read of", w->t->cf_name);
		if (w->x->limit && w->x->emitted >= w->x->limit)
			break;
	}
	return rc;
}

static int read_held(struct store_table *t, struct ixread *x, const struct store_value *value,
                     size_t n_value, int64_t start, int64_t end, const struct store_position *after,
                     unsigned flags, struct cerr *err)
{
	struct buf prefix, ak;
	buf_init(&prefix);
	buf_init(&ak);
	struct walk w = {.t = t, .x = x, .prefix = &prefix, .flags = flags};
	buf_init(&w.tmp);
	buf_init(&w.val);
	int rc = value_prefix(x->d, x->ix, value, n_value, &prefix, err);
	if (!rc && after) {
		codec_partition_prefix(&ak, after->token, after->key, after->key_len);
		w.after_plen = ak.len;
		if (after->n_ck) {
			buf_put_u8(&ak, SEC_ROW);
			rc = codec_ck_encode(x->d, after->ck, after->n_ck, &ak, err);
		}
		if (!rc && !buf_ok(&ak))
			rc = cerr_set(err, COL_ENOMEM, "storage: out of memory");
		w.after = after;
		w.after_key = &ak;
	}
	if (!rc) {
		w.it = rocksdb_create_iterator_cf(t->s->db, t->s->ro, t->s->cf_sindex);
		w.purges = rocksdb_writebatch_create();
		rc = walk_all(&w, start, end, err);
		rocksdb_iter_destroy(w.it);
		if (rocksdb_writebatch_count(w.purges) > 0) {
			char *rerr = NULL;
			rocksdb_write(t->s->db, t->s->wo, w.purges, &rerr);
			free(rerr); /* a purge that failed is retried by the next read */
		}
		rocksdb_writebatch_destroy(w.purges);
	}
	buf_release(&prefix);
	buf_release(&ak);
	buf_release(&w.tmp);
	buf_release(&w.val);
	return rc;
}

int store_index_read(struct store_table *t, const struct store_index *ix,
                     const struct store_value *value, size_t n_value, int64_t start, int64_t end,
                     const struct store_position *after, unsigned flags, size_t limit,
                     int64_t now_s, store_row_fn fn, void *ctx,
                     struct store_index_read_stats *stats, struct cerr *err)
{
	const struct tdesc *d = table_tdesc(t);
	const struct store_index *have = NULL;
	for (size_t i = 0; d && i < d->pub.n_indexes && !have; i++)
		if (d->indexes[i].on == ix->on && d->indexes[i].kind == ix->kind &&
		    d->indexes[i].col == ix->col)
			have = &d->indexes[i];
	if (!have)
		return cerr_set(err, COL_ENOTFOUND, "table %s has no such index", t->cf_name);
	if (!sindex_is_built(t->s, t->id, ix))
		return cerr_set(err, COL_EAGAIN,
		                "the secondary index of %s.%s is not yet available (still being "
		                "built)",
		                d->pub.keyspace, d->pub.name);
	const struct store_column *col =
	        ix->on == STORE_IX_COLUMN ? tdesc_column(d, ix->col) : NULL;
	struct ixread x = {
	        .d = d,
	        .ix = have,
	        .value = value,
	        .now_s = now_s ? now_s : clock_wall_s(),
	        .fn = fn,
	        .ctx = ctx,
	        .limit = limit,
	        .stats = stats,
	        .set_col = col && col->type->kind == CQLTYPE_SET && !col->type->frozen,
	};
	struct store_index_read_stats own;
	if (!stats)
		stats = &own;
	memset(stats, 0, sizeof(*stats));
	x.stats = stats;
	flags &= ~(unsigned)(STORE_READ_REVERSE | STORE_READ_HEADERS);
	pthread_rwlock_rdlock(&t->s->cf_lock);
	int rc = t->cf ? read_held(t, &x, value, n_value, start, end, after, flags, err)
	               : cerr_set(err, COL_ECLOSED, "table %s is unusable after a failed truncate",
	                          t->cf_name);
	pthread_rwlock_unlock(&t->s->cf_lock);
	atomic_fetch_add(&t->s->ixs.reads, 1);
	atomic_fetch_add(&t->s->ixs.entries, stats->entries);
	atomic_fetch_add(&t->s->ixs.stale, stats->stale);
	atomic_fetch_add(&t->s->ixs.rows, stats->rows);
	return rc;
}
