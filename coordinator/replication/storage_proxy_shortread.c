/*
 * storage_proxy_shortread.c — the rows a read hands to its caller, and
 * short-read protection: when a replica returned as many rows as it was asked
 * for, merged rows are complete only up to the earliest last row of such a
 * replica (the horizon); rows after it wait for the continuation, a new step
 * of the same read that starts just past the horizon.
 */
#include "coordinator/replication/storage_proxy_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * Short-read protection.  A replica that returned as many rows as it was asked
 * for may hold more, and may hold deletions for rows another replica
 * returned after its last one.  Merged rows are complete only up to the
 * earliest "last row" among such cut replicas (the horizon): rows after it
 * are not handed out, and the read continues after the horizon.
 */
void sp_read_horizon(struct sp_read *r, size_t n_versions)
{
	r->hz_set = false;
	if (!r->step_limit)
		return;
	for (size_t v = 0; v < n_versions; v++) {
		const struct rres *d = &r->tgt[v].dec;
		uint64_t rows = 0;
		size_t lp = 0, lr = 0;
		for (size_t p = 0; p < d->n_parts; p++)
			for (size_t i = 0; i < d->parts[p].n_rows; i++)
				if (!d->rows[d->parts[p].row_at + i].is_static) {
					rows++;
					lp = p;
					lr = d->parts[p].row_at + i;
				}
		if (rows < r->step_limit)
			continue;
		if (r->hz_set) {
			const struct rres *h = &r->tgt[r->hz_v].dec;
			int c = sp_part_cmp(&d->parts[lp], &h->parts[r->hz_part]);
			if (c > 0 ||
			    (c == 0 && sp_row_cmp(r, d, &d->rows[lr], h, &h->rows[r->hz_row]) >= 0))
				continue;
		}
		r->hz_set = true;
		r->hz_v = v;
		r->hz_part = lp;
		r->hz_row = lr;
	}
}

/* Is merged row `row` of partition `mp` after the horizon? */
static bool after_horizon(const struct sp_read *r, const struct rres *m, const struct rres_part *mp,
                          const struct rres_row *row)
{
	if (!r->hz_set)
		return false;
	const struct rres *h = &r->tgt[r->hz_v].dec;
	int c = sp_part_cmp(mp, &h->parts[r->hz_part]);
	if (c != 0)
		return c > 0;
	if (row->is_static)
		return false;
	return sp_row_cmp(r, m, row, h, &h->rows[r->hz_row]) > 0;
}

/* Hand the merged result's live rows to the caller; stops at the limit or when told to. */
void sp_read_emit(struct sp_read *r, const struct rres *m)
{
	for (size_t p = 0; p < m->n_parts && !r->stopped; p++) {
		const struct rres_part *mp = &m->parts[p];
		struct store_partition part = {
		        .token = mp->token,
		        .pk = &m->vals[mp->pk_at],
		        .n_pk = mp->n_pk,
		        .key = mp->key,
		        .key_len = mp->key_len,
		        .deletion = {INT64_MIN, 0},
		};
		for (size_t i = 0; i < mp->n_rows && !r->stopped; i++) {
			const struct rres_row *row = &m->rows[mp->row_at + i];
			if (after_horizon(r, m, mp, row))
				return; /* the continuation hands these out */
			if (row->is_static && r->cont && mp->token == r->cont_token &&
			    mp->key_len == r->cont_key_len &&
			    memcmp(mp->key, r->hzbuf.data, mp->key_len) == 0)
				continue; /* handed out before the cut */
			if (r->limit && r->emitted >= r->limit && !row->is_static) {
				r->stopped = true;
				break;
			}
			if (r->cap_outcells < row->n_cells) {
				struct store_cell *c =
				        realloc(r->outcells, row->n_cells * sizeof(*c));
				if (!c) {
					r->stopped = true;
					break;
				}
				r->outcells = c;
				r->cap_outcells = row->n_cells;
			}
			size_t n = 0;
			for (size_t c = 0; c < row->n_cells; c++) {
				const struct rres_cell *x = &m->cells[row->cell_at + c];
				if (x->tombstone)
					continue;
				struct store_cell *o = &r->outcells[n++];
				memset(o, 0, sizeof(*o));
				o->col = x->col;
				o->path = x->path;
				o->path_len = x->path_len;
				o->value = x->value;
				o->value_len = x->value_len;
				o->ts = x->ts;
				o->ttl = x->ttl;
				o->expiry_s = x->exp;
			}
			if (!row->has_marker && n == 0)
				continue;
			struct store_row out = {
			        .ck = row->is_static ? NULL : &m->vals[row->ck_at],
			        .n_ck = row->is_static ? 0 : row->n_ck,
			        .is_static = row->is_static,
			        .has_marker = row->has_marker,
			        .marker_ts = row->marker_ts,
			        .marker_ttl = row->marker_ttl,
			        .marker_expiry_s = row->marker_exp,
			        .deletion = {INT64_MIN, 0},
			        .cells = r->outcells,
			        .n_cells = n,
			};
			if (!row->is_static)
				r->emitted++;
			if (r->row_fn(r->row_ctx, &part, &out) != 0)
				r->stopped = true;
		}
	}
}

/*
 * Continue the same step after the horizon: range reads resume after its
 * position; single-partition reads narrow their slice to start (or, reversed,
 * end) just past its clustering.
 */
int sp_read_continue(struct sp_read *r)
{
	const struct rres *h = &r->tgt[r->hz_v].dec;
	const struct rres_part *hp = &h->parts[r->hz_part];
	const struct rres_row *hr = &h->rows[r->hz_row];
	struct buf *b = &r->hzbuf;
	buf_reset(b);
	buf_put(b, hp->key, hp->key_len);
	size_t offs[STORE_MAX_CK_COLS];
	struct store_value *dst = r->is_scan                        ? r->after_ck
	                          : (r->flags & STORE_READ_REVERSE) ? r->send
	                                                            : r->sstart;
	sp_copy_values(b, dst, &h->vals[hr->ck_at], hr->n_ck, offs);
	if (!buf_ok(b))
		return COL_ENOMEM;
	sp_fix_values(b, dst, hr->n_ck, offs);
	r->cont = true;
	r->cont_token = hp->token;
	r->cont_key_len = hp->key_len;
	if (r->is_scan) {
		r->after.token = hp->token;
		r->after.key = b->data;
		r->after.key_len = hp->key_len;
		r->after.ck = r->after_ck;
		r->after.n_ck = hr->n_ck;
		r->has_after = true;
	} else {
		if (!r->has_slice) {
			memset(&r->slice, 0, sizeof(r->slice));
			r->has_slice = true;
		}
		if (r->flags & STORE_READ_REVERSE) {
			r->slice.end = r->send;
			r->slice.n_end = hr->n_ck;
			r->slice.end_incl = false;
		} else {
			r->slice.start = r->sstart;
			r->slice.n_start = hr->n_ck;
			r->slice.start_incl = false;
		}
	}
	sp_read_start_step(r, r->is_scan ? r->step_end : r->token);
	return 0;
}
