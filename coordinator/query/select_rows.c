/*
 * select_rows.c — every row a table SELECT reads, in read order: the static
 * row is kept for the partition's rows; a row is checked against the filters
 * (ALLOW FILTERING), DISTINCT, PER PARTITION LIMIT, LIMIT and the page bound,
 * then encoded as an answer row or folded into the aggregates of its group.
 *
 * Groups (GROUP BY, or the one group of an aggregate without it) are emitted
 * when the first row of the next group arrives, or when the read ends.  A page
 * of groups ends after a whole group: the paging state is that group's last
 * row, so the next page starts with the next group's first row.
 */
#include "coordinator/query/select_int.h"
#include "coordinator/query/select_order.h"

#include "core/cqltype.h"

#include <stdlib.h>
#include <string.h>

#define RSEL_BUFS(rs)                                                                              \
	{                                                                                          \
		&(rs)->last.key, &(rs)->last.ck, &(rs)->cand.key, &(rs)->cand.ck, &(rs)->cur_key,  \
		        &(rs)->sbytes, &(rs)->distinct_key, &(rs)->scratch, &(rs)->ppl_key,        \
		        &(rs)->group_key, &(rs)->first, &(rs)->gkey, &(rs)->spk_bytes,             \
		        &(rs)->resumed_key                                                         \
	}

int rsel_init(struct rsel *rs, const struct plan *p)
{
	if (!p->count)
		return 0;
	rs->aggs = calloc(p->n_sel ? p->n_sel : 1, sizeof(*rs->aggs));
	if (!rs->aggs)
		return COL_ENOMEM;
	for (uint32_t i = 0; i < p->n_sel; i++)
		buf_init(&rs->aggs[i].v);
	return 0;
}

void rsel_release(struct rsel *rs)
{
	struct buf *bufs[] = RSEL_BUFS(rs);
	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		buf_release(bufs[i]);
	for (uint32_t i = 0; rs->aggs && i < rs->p->n_sel; i++)
		buf_release(&rs->aggs[i].v);
	free(rs->aggs);
	free(rs->scells);
}

void rsel_recycle(struct rsel *rs)
{
	for (uint32_t i = 0; rs->aggs && i < rs->p->n_sel; i++)
		buf_release(&rs->aggs[i].v);
	free(rs->aggs);
	struct buf *bufs[] = RSEL_BUFS(rs);
	enum { N = sizeof(bufs) / sizeof(bufs[0]) };
	struct buf keep[N];
	for (size_t i = 0; i < N; i++) {
		if (bufs[i]->oom || bufs[i]->cap > RSEL_KEEP_BYTES)
			buf_release(bufs[i]);
		keep[i] = *bufs[i];
		keep[i].len = 0;
	}
	struct store_cell *scells = rs->scells;
	size_t cap_scells = rs->cap_scells;
	if (cap_scells > RSEL_KEEP_CELLS) {
		free(scells);
		scells = NULL;
		cap_scells = 0;
	}
	memset(rs, 0, sizeof(*rs));
	for (size_t i = 0; i < N; i++)
		*bufs[i] = keep[i];
	rs->scells = scells;
	rs->cap_scells = cap_scells;
}

static bool same_key(const struct buf *b, const struct store_partition *p)
{
	return b->len == p->key_len && memcmp(b->data, p->key, p->key_len) == 0;
}

static void set_key(struct buf *b, const struct store_partition *p)
{
	buf_reset(b);
	buf_put(b, p->key, p->key_len);
}

static void rpos_set(struct rpos *o, const struct store_partition *part, const struct store_row *r,
                     uint32_t idx)
{
	o->token = part->token;
	o->idx = idx;
	set_key(&o->key, part);
	buf_reset(&o->ck);
	for (size_t i = 0; i < r->n_ck; i++) {
		buf_put_u32be(&o->ck, (uint32_t)r->ck[i].len);
		buf_put(&o->ck, r->ck[i].p, r->ck[i].len);
	}
	o->set = true;
}

static void rpos_copy(struct rpos *to, const struct rpos *from)
{
	to->token = from->token;
	to->idx = from->idx;
	buf_reset(&to->key);
	buf_put(&to->key, from->key.data, from->key.len);
	buf_reset(&to->ck);
	buf_put(&to->ck, from->ck.data, from->ck.len);
	to->set = from->set;
}

/* A copy of the static row r (cells, paths and values), kept while its partition's
 * rows are read: the store's row is only valid during the callback. */
static int keep_statics(struct rsel *rs, const struct store_partition *part,
                        const struct store_row *r)
{
	set_key(&rs->cur_key, part);
	rs->have_statics = false;
	if (r->n_cells > rs->cap_scells) {
		struct store_cell *c = realloc(rs->scells, r->n_cells * sizeof(*c));
		if (!c)
			return COL_ENOMEM;
		rs->scells = c;
		rs->cap_scells = r->n_cells;
	}
	buf_reset(&rs->sbytes);
	for (size_t i = 0; i < r->n_cells; i++) {
		buf_put(&rs->sbytes, r->cells[i].path, r->cells[i].path_len);
		buf_put(&rs->sbytes, r->cells[i].value, r->cells[i].value_len);
	}
	if (!buf_ok(&rs->sbytes))
		return COL_ENOMEM;
	size_t off = 0;
	for (size_t i = 0; i < r->n_cells; i++) {
		rs->scells[i] = r->cells[i];
		rs->scells[i].path = r->cells[i].path ? rs->sbytes.data + off : NULL;
		off += r->cells[i].path_len;
		rs->scells[i].value = rs->sbytes.data + off;
		off += r->cells[i].value_len;
	}
	buf_reset(&rs->spk_bytes);
	for (size_t i = 0; i < part->n_pk && i < STORE_MAX_PK_COLS; i++)
		buf_put(&rs->spk_bytes, part->pk[i].p, part->pk[i].len);
	if (!buf_ok(&rs->spk_bytes))
		return COL_ENOMEM;
	off = 0;
	for (size_t i = 0; i < part->n_pk && i < STORE_MAX_PK_COLS; i++) {
		rs->spk[i] = (struct store_value){rs->spk_bytes.data + off, part->pk[i].len};
		off += part->pk[i].len;
	}
	rs->spart = (struct store_partition){.token = part->token,
	                                     .pk = rs->spk,
	                                     .n_pk = part->n_pk,
	                                     .key = rs->cur_key.data,
	                                     .key_len = rs->cur_key.len};
	rs->srow =
	        (struct store_row){.is_static = true, .cells = rs->scells, .n_cells = r->n_cells};
	rs->have_statics = true;
	return 0;
}

/* Whether the row passes every filter of the WHERE. */
static bool rsel_filter(struct rsel *rs, const struct selrow *row)
{
	const struct schema_table *t = rs->t;
	for (uint32_t i = 0; i < rs->w->n_filt; i++) {
		const struct filter *f = &rs->w->filt[i];
		const struct schema_column *c = &t->cols[f->col];
		struct val v = {NULL, -1};
		if (f->n_cols > 1) {
			if (!filter_match_tuple(f, t, row->r->ck))
				return false;
			continue;
		}
		switch (c->kind) {
		case SCHEMA_COL_PARTITION_KEY:
			v.p = row->part->pk[c->position].p;
			v.len = (int32_t)row->part->pk[c->position].len;
			break;
		case SCHEMA_COL_CLUSTERING:
			v.p = row->r->ck[c->position].p;
			v.len = (int32_t)row->r->ck[c->position].len;
			break;
		default: {
			buf_reset(&rs->scratch);
			put_cell(c, c->kind == SCHEMA_COL_STATIC ? row->statics : row->r,
			         SEL_COLUMN, rs->now_s, &rs->scratch);
			struct bufreader cr;
			bufreader_init(&cr, rs->scratch.data, rs->scratch.len);
			v.len = (int32_t)bufreader_u32be(&cr);
			v.p = v.len > 0 ? bufreader_take(&cr, (size_t)v.len) : NULL;
			if (!buf_ok(&rs->scratch) || !bufreader_ok(&cr))
				return false;
		}
		}
		if (v.len >= 0 && !v.p)
			v.p = exec_empty_value;
		if (!filter_match(f, c->type, v.p, v.len))
			return false;
	}
	return true;
}

/* A failure while evaluating a row: recorded on the request, the read stopped. */
static int row_failed(struct rsel *rs, int code, const struct cerr *e)
{
	if (e && e->code)
		req_fail_cerr(rs->q->req, e->code, e);
	else
		req_fail(rs->q->req, code, "out of memory selecting rows");
	return STOP_READ;
}

/* PER PARTITION LIMIT: whether one more row (group) of this partition may be returned;
 * ppl_take counts it once it is. */
static bool ppl_room(const struct rsel *rs, const struct store_partition *part)
{
	return (same_key(&rs->ppl_key, part) ? rs->ppl_n : 0) < rs->ppl;
}

static void ppl_take(struct rsel *rs, const struct store_partition *part)
{
	if (!same_key(&rs->ppl_key, part)) {
		set_key(&rs->ppl_key, part);
		rs->ppl_n = 0;
	}
	rs->ppl_n++;
}

static bool page_full(const struct rsel *rs)
{
	return rs->page > 0 && (rs->nrows >= rs->page || rs->out->len >= MAX_PAGE_BYTES);
}

/* Emit the open group: aggregates, then the first row's values of the others. */
static void emit_group(struct rsel *rs)
{
	const struct plan *p = rs->p;
	struct bufreader fr;
	bufreader_init(&fr, rs->first.data, rs->first.len);
	size_t at = rs->out->len;
	for (uint32_t i = 0; i < p->n_sel; i++) {
		const struct sel_col *sc = &p->sel[i];
		if (sc->kind == SEL_COUNT || sc->kind == SEL_AGG) {
			agg_put(sc, &rs->aggs[i], rs->out);
			continue;
		}
		int32_t l = bufreader_left(&fr) ? (int32_t)bufreader_u32be(&fr) : -1;
		cql_put_bytes(rs->out,
		              l > 0    ? bufreader_take(&fr, (size_t)l)
		              : l == 0 ? exec_empty_value
		                       : NULL,
		              l);
	}
	json_row_rewrite(p, rs->out, at);
	rs->nrows++;
	if (rs->remaining > 0)
		rs->remaining--;
	if (rs->cand.set)
		rpos_copy(&rs->last, &rs->cand);
	rs->group_open = false;
}

/* Open a group at row: reset the aggregates, keep the other selectors' values. */
static int open_group(struct rsel *rs, const struct selrow *row)
{
	const struct plan *p = rs->p;
	buf_reset(&rs->first);
	for (uint32_t i = 0; i < p->n_sel; i++) {
		const struct sel_col *sc = &p->sel[i];
		agg_reset(&rs->aggs[i]);
		if (sc->kind == SEL_COUNT || sc->kind == SEL_AGG)
			continue;
		struct cerr e = {0};
		if (sel_put(sc, row, &rs->first, &e))
			return row_failed(rs, e.code, &e);
	}
	buf_reset(&rs->group_key);
	buf_put(&rs->group_key, rs->gkey.data, rs->gkey.len);
	rs->group_open = true;
	return 0;
}

/* The GROUP BY key of row: its partition key and the grouped clustering values. */
static void group_key(struct rsel *rs, const struct selrow *row)
{
	buf_reset(&rs->gkey);
	buf_put_u32be(&rs->gkey, (uint32_t)row->part->key_len);
	buf_put(&rs->gkey, row->part->key, row->part->key_len);
	for (uint32_t i = rs->t->n_pk; i < rs->p->n_group; i++) {
		if (i - rs->t->n_pk >= row->r->n_ck) { /* a static row alone: null clustering */
			buf_put_u32be(&rs->gkey, UINT32_MAX);
			continue;
		}
		const struct store_value *v = &row->r->ck[i - rs->t->n_pk];
		buf_put_u32be(&rs->gkey, (uint32_t)v->len);
		buf_put(&rs->gkey, v->p, v->len);
	}
}

/* A row of an aggregate query: maybe close the open group, then fold the row in. */
static int rsel_aggregate(struct rsel *rs, const struct selrow *row)
{
	const struct plan *p = rs->p;
	bool fresh = !rs->group_open;
	if (p->n_group) {
		group_key(rs, row);
		fresh = fresh || rs->gkey.len != rs->group_key.len ||
		        memcmp(rs->gkey.data, rs->group_key.data, rs->gkey.len) != 0;
		if (fresh && rs->group_open)
			emit_group(rs);
	}
	/* PER PARTITION LIMIT counts groups with GROUP BY, rows folded without it */
	bool counted = fresh || !p->n_group;
	if (counted && rs->ppl > 0 && !ppl_room(rs, row->part))
		return rs->part_reads ? STOP_READ : 0;
	if (fresh && p->n_group && page_full(rs)) {
		rs->more = true;
		return STOP_READ;
	}
	if (fresh && p->n_group && rs->remaining == 0)
		return STOP_READ;
	if (counted && rs->ppl > 0)
		ppl_take(rs, row->part);
	int rc;
	if (fresh && (rc = open_group(rs, row)) != 0)
		return rc;
	struct cerr e = {0};
	for (uint32_t i = 0; i < p->n_sel; i++) {
		const struct sel_col *sc = &p->sel[i];
		if ((sc->kind == SEL_COUNT || sc->kind == SEL_AGG) &&
		    agg_add(sc, &rs->aggs[i], row, &rs->scratch, &e))
			return row_failed(rs, e.code, &e);
	}
	rpos_set(&rs->cand, row->part, row->r, rs->cur_idx);
	return 0;
}

/* A row of a plain query: the page and LIMIT bounds, then its values. */
static int rsel_plain(struct rsel *rs, const struct selrow *row)
{
	const struct plan *p = rs->p;
	if (rs->remaining == 0)
		return STOP_READ;
	if (rs->ppl > 0 && !ppl_room(rs, row->part))
		return rs->part_reads ? STOP_READ : 0;
	if (page_full(rs)) {
		rs->more = true;
		return STOP_READ;
	}
	if (rs->ppl > 0)
		ppl_take(rs, row->part);
	struct cerr e = {0};
	size_t at = rs->out->len;
	for (uint32_t i = 0; i < p->n_sel; i++)
		if (sel_put(&p->sel[i], row, rs->out, &e))
			return row_failed(rs, e.code, &e);
	json_row_rewrite(p, rs->out, at);
	if (rs->ord)
		order_rows_add(rs->ord, at, rs->out->len - at, row->r);
	rs->nrows++;
	if (rs->remaining > 0)
		rs->remaining--;
	rpos_set(&rs->last, row->part, row->r, rs->cur_idx);
	return 0;
}

static int rsel_answer(struct rsel *rs, const struct selrow *row);

/* The static row of the partition read so far, alone, when it had no live row. */
static int static_alone(struct rsel *rs)
{
	if (!rs->static_pending)
		return 0;
	rs->static_pending = false;
	struct store_row none = {.is_static = false};
	struct selrow row = {
	        .t = rs->t,
	        .part = &rs->spart,
	        .r = &none,
	        .statics = &rs->srow,
	        .now_s = rs->now_s,
	        .ex = rs->q->ex,
	        .values = rs->q->values,
	        .n_values = rs->q->n_values,
	};
	return rsel_answer(rs, &row);
}

void rsel_flush_static(struct rsel *rs)
{
	if (!rs->more && !rs->q->req->err.code)
		(void)static_alone(rs);
	rs->static_pending = false;
}

int rsel_row(void *ctx, const struct store_partition *part, const struct store_row *r)
{
	struct rsel *rs = ctx;
	if (rs->static_pending && !same_key(&rs->cur_key, part)) {
		int rc = static_alone(rs);
		if (rc)
			return rc;
	}
	if (r->is_static) {
		if (keep_statics(rs, part, r))
			return row_failed(rs, COL_ENOMEM, NULL);
		rs->static_pending =
		        rs->static_rows && r->n_cells > 0 && !same_key(&rs->resumed_key, part);
		return 0;
	}
	if (!r->has_marker && r->n_cells == 0)
		return 0;
	rs->static_pending = false;
	struct selrow row = {
	        .t = rs->t,
	        .part = part,
	        .r = r,
	        .statics = rs->have_statics && same_key(&rs->cur_key, part) ? &rs->srow : NULL,
	        .now_s = rs->now_s,
	        .ex = rs->q->ex,
	        .values = rs->q->values,
	        .n_values = rs->q->n_values,
	};
	if (rs->w && rs->w->n_filt && !rsel_filter(rs, &row))
		return 0;
	return rsel_answer(rs, &row);
}

/* A row that passed the filters: DISTINCT, then the answer or the aggregates. */
static int rsel_answer(struct rsel *rs, const struct selrow *row)
{
	const struct store_partition *part = row->part;
	if (rs->distinct) {
		if (rs->distinct_key.len && same_key(&rs->distinct_key, part))
			return 0;
		set_key(&rs->distinct_key, part);
	}
	return rs->p->count ? rsel_aggregate(rs, row) : rsel_plain(rs, row);
}

void rsel_end(struct rsel *rs)
{
	if (!rs->p->count || rs->more || rs->q->req->err.code)
		return;
	if (rs->group_open) {
		emit_group(rs);
		return;
	}
	if (rs->p->n_group || rs->nrows)
		return;
	/* an aggregate without GROUP BY over no row: one row, the aggregates of nothing */
	buf_reset(&rs->first);
	for (uint32_t i = 0; i < rs->p->n_sel; i++)
		if (rs->p->sel[i].kind != SEL_COUNT && rs->p->sel[i].kind != SEL_AGG)
			cql_put_bytes(&rs->first, NULL, -1);
	for (uint32_t i = 0; i < rs->p->n_sel; i++)
		agg_reset(&rs->aggs[i]);
	emit_group(rs);
}
