/*
 * storage_proxy_range.c — token-range reads: the query's range walked in ring
 * order, one step per run of ring ranges with the same replicas, each step a
 * read (storage_proxy_read.c) at the requested level.
 */
#include "coordinator/replication/storage_proxy_int.h"

#include "core/clock.h"

#include <string.h>

/* Sorted replica set of a token, for merging consecutive ring ranges. */
static size_t replica_set(struct sp_read *r, int64_t token, uint32_t *out)
{
	size_t n = ring_replicas(r->ring, &r->rep, token, out, SP_MAX_REPLICAS);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
			uint32_t t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

/* The first ring token > t, or INT64_MAX when t is at or past the last one. */
static int64_t next_boundary(const struct ring *ring, int64_t t)
{
	if (t == INT64_MAX)
		return INT64_MAX;
	if (ring_token_count(ring) == 0)
		return INT64_MAX;
	size_t owner;
	int64_t tok = ring_token_at(ring, ring_token_index(ring, t + 1), &owner);
	if (tok <= t)
		return INT64_MAX;
	return tok;
}

void sp_range_next_step(struct sp_read *r)
{
	while (r->piece < r->n_pieces) {
		int64_t end = r->pieces[r->piece][1];
		if (r->cursor >= end) {
			r->piece++;
			if (r->piece < r->n_pieces)
				r->cursor = r->pieces[r->piece][0];
			continue;
		}
		int64_t b = next_boundary(r->ring, r->cursor);
		if (b > end)
			b = end;
		uint32_t set[SP_MAX_REPLICAS], set2[SP_MAX_REPLICAS];
		size_t n = replica_set(r, b, set);
		/* extend over following ranges with the same replicas */
		while (b < end) {
			int64_t nb = next_boundary(r->ring, b);
			if (nb > end)
				nb = end;
			size_t n2 = replica_set(r, nb, set2);
			if (n2 != n || memcmp(set, set2, n * sizeof(uint32_t)) != 0)
				break;
			b = nb;
		}
		/* the step covers (step_start, step_end]; set the cursor first: the step
		 * may complete (and the next begin) before sp_read_start_step returns */
		r->step_start = r->cursor;
		r->step_end = b;
		r->cursor = b;
		sp_read_start_step(r, b);
		return;
	}
	sp_read_answer(r, 0, NULL);
}

void storage_proxy_scan(struct storage_proxy *sp, struct ring *ring, const struct replication *rep,
                        uint16_t cl, const struct range_read *sc, store_row_fn row_fn,
                        void *row_ctx, request_done_fn done, void *ctx)
{
	struct cerr e = {0};
	if (cl_validate(cl, false, &e) != 0) {
		sp_fail_now(done, ctx, cl, e.code, e.msg);
		return;
	}
	if (sp_topo_use(sp, ring) != 0) {
		sp_fail_now(done, ctx, cl, COL_ENOMEM, "out of memory building the ring cache");
		return;
	}
	struct sp_read_args a = {ring,      rep,    cl,      sc->table, sc->limit,
	                         sc->now_s, row_fn, row_ctx, done,      ctx};
	struct sp_read *r = sp_read_begin(sp, &a, true);
	if (!r)
		return;
	sp->stats.range_reads++;
	if (sc->index && sc->index->n_vals >= 1 && sc->index->n_vals <= 2) {
		size_t o[2];
		buf_reset(&r->ixbuf);
		sp_copy_values(&r->ixbuf, r->ix_vals, sc->index->vals, sc->index->n_vals, o);
		if (!buf_ok(&r->ixbuf)) {
			r->answered = true;
			sp_read_release(r);
			sp_fail_now(done, ctx, cl, COL_ENOMEM,
			            "out of memory copying the index value");
			return;
		}
		sp_fix_values(&r->ixbuf, r->ix_vals, sc->index->n_vals, o);
		r->ix = sc->index->ix;
		r->n_ix_vals = sc->index->n_vals;
		r->has_ix = true;
	}
	/* pieces in ascending token order, never wrapping */
	r->n_pieces = 0;
	if (sc->start < sc->end) {
		r->pieces[r->n_pieces][0] = sc->start;
		r->pieces[r->n_pieces++][1] = sc->end;
	} else {
		r->pieces[r->n_pieces][0] = sc->start;
		r->pieces[r->n_pieces++][1] = INT64_MAX;
		if (sc->end > INT64_MIN) {
			r->pieces[r->n_pieces][0] = INT64_MIN;
			r->pieces[r->n_pieces++][1] = sc->end;
		}
	}
	r->piece = 0;
	r->cursor = r->pieces[0][0];
	r->has_after = false;
	if (sc->after) {
		/* resume: skip to the piece holding the position's token */
		int64_t t = sc->after->token;
		while (r->piece < r->n_pieces &&
		       !(t > r->pieces[r->piece][0] && t <= r->pieces[r->piece][1]))
			r->piece++;
		if (r->piece < r->n_pieces) {
			if (t - 1 > r->pieces[r->piece][0])
				r->cursor = t - 1;
			else
				r->cursor = r->pieces[r->piece][0];
			buf_reset(&r->keybuf);
			size_t o_ck[STORE_MAX_CK_COLS];
			buf_put(&r->keybuf, sc->after->key, sc->after->key_len);
			size_t n_ck = sc->after->ck ? sc->after->n_ck : 0;
			sp_copy_values(&r->keybuf, r->after_ck, sc->after->ck, n_ck, o_ck);
			if (!buf_ok(&r->keybuf)) {
				r->answered = true;
				sp_read_release(r);
				sp_fail_now(done, ctx, cl, COL_ENOMEM,
				            "out of memory copying the position");
				return;
			}
			sp_fix_values(&r->keybuf, r->after_ck, n_ck, o_ck);
			r->after = *sc->after;
			r->after.key = r->keybuf.data;
			r->after.ck = sc->after->ck ? r->after_ck : NULL;
			r->has_after = true;
		}
	}
	sp_range_next_step(r);
	sp_read_maybe_release(r);
}
