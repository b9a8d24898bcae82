#include "coordinator/query/query_int.h"

#include "coordinator/query/paging.h"
#include "core/clock.h"
#include "core/cqltype.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Drivers ask 5000 rows a page; a request without a page size still gets bounded
 * pages of this many rows so that one SELECT cannot build an unbounded answer. */
#define DEFAULT_MAX_ROWS 10000
/* A page also ends once its rows take this many bytes, whatever the page size: a
 * response stays far below the 256 MiB frame ceiling and the output bounds. */
#define MAX_PAGE_BYTES (8u << 20)

struct rsel {
	struct xq *q;
	const struct plan *p;
	const struct schema_table *t;
	struct buf *out;
	int32_t nrows;
	int64_t count;
	int32_t page;      /* rows per page; 0 = unbounded */
	int64_t remaining; /* LIMIT left, -1 none */
	bool more;
	bool distinct;
	int64_t now_s;
	/* last row returned */
	int64_t last_token;
	struct buf last_key;
	struct buf last_ck; /* [u32 len][bytes] per clustering value */
	bool have_last;
	/* static row of the current partition (encoded [bytes] per selected static col) */
	struct buf statics;
	struct buf cur_key; /* partition whose static row is in `statics` */
	bool have_statics;
	uint32_t cur_idx;  /* IN combination being read */
	uint32_t last_idx; /* IN combination of the last row returned */
	struct buf distinct_key;
	/* ALLOW FILTERING: the filters, the static values they test ([i32 len][bytes]
	 * per filter on a static column, of partition cur_key), a scratch value */
	const struct where *w;
	struct buf fstatics;
	struct buf scratch;
};

static const struct store_cell *find_cells(const struct store_row *r, uint32_t col, size_t *n)
{
	size_t lo = 0, hi = r->n_cells;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (r->cells[mid].col < col)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t e = lo;
	while (e < r->n_cells && r->cells[e].col == col)
		e++;
	*n = e - lo;
	return *n ? &r->cells[lo] : NULL;
}

/* Append the [bytes] value of column c of row r (collections reassembled). */
static void put_cell_value(struct rsel *rs, const struct schema_column *c,
                           const struct store_row *r, enum sel_kind kind)
{
	size_t n;
	const struct store_cell *cells = find_cells(r, c->id, &n);
	if (!cells) {
		cql_put_bytes(rs->out, NULL, -1);
		return;
	}
	if (kind == SEL_WRITETIME) {
		cql_put_int(rs->out, 8);
		buf_put_u64be(rs->out, (uint64_t)cells[0].ts);
		return;
	}
	if (kind == SEL_TTL) {
		if (!cells[0].expiry_s) {
			cql_put_bytes(rs->out, NULL, -1);
			return;
		}
		int64_t left = cells[0].expiry_s - rs->now_s;
		cql_put_int(rs->out, 4);
		buf_put_u32be(rs->out, (uint32_t)(left > 0 ? left : 0));
		return;
	}
	bool multi = cqltype_is_collection(c->type) && !c->type->frozen;
	if (!multi) {
		cql_put_bytes(rs->out, cells[0].value, (int32_t)cells[0].value_len);
		return;
	}
	/* non-frozen collection: one cell per element (path = element / key / list slot) */
	size_t at = rs->out->len;
	cql_put_int(rs->out, 0);
	cql_put_int(rs->out, (int32_t)n);
	for (size_t i = 0; i < n; i++) {
		if (c->type->kind == CQLTYPE_SET) {
			cql_put_bytes(rs->out, cells[i].path, (int32_t)cells[i].path_len);
		} else if (c->type->kind == CQLTYPE_MAP) {
			cql_put_bytes(rs->out, cells[i].path, (int32_t)cells[i].path_len);
			cql_put_bytes(rs->out, cells[i].value, (int32_t)cells[i].value_len);
		} else {
			cql_put_bytes(rs->out, cells[i].value, (int32_t)cells[i].value_len);
		}
	}
	buf_patch_u32be(rs->out, at, (uint32_t)(rs->out->len - at - 4));
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

/* A static row: keep its selected values for the partition's rows that follow. */
static void rsel_keep_statics(struct rsel *rs, const struct store_partition *part,
                              const struct store_row *r)
{
	const struct schema_table *t = rs->t;
	const struct plan *p = rs->p;
	set_key(&rs->cur_key, part);
	buf_reset(&rs->statics);
	struct buf *saved = rs->out;
	rs->out = &rs->statics;
	for (uint32_t i = 0; i < p->n_sel; i++)
		if (p->sel[i].kind != SEL_COUNT && p->sel[i].kind != SEL_TOKEN &&
		    t->cols[p->sel[i].col].kind == SCHEMA_COL_STATIC)
			put_cell_value(rs, &t->cols[p->sel[i].col], r, p->sel[i].kind);
	buf_reset(&rs->fstatics);
	rs->out = &rs->fstatics;
	for (uint32_t i = 0; rs->w && i < rs->w->n_filt; i++)
		if (t->cols[rs->w->filt[i].col].kind == SCHEMA_COL_STATIC)
			put_cell_value(rs, &t->cols[rs->w->filt[i].col], r, SEL_COLUMN);
	rs->out = saved;
	rs->have_statics = true;
}

/* [i32 len][bytes] from r into *v (len < 0: null); false if r is exhausted. */
static bool take_value(struct bufreader *r, struct val *v)
{
	v->len = (int32_t)bufreader_u32be(r);
	v->p = v->len > 0 ? bufreader_take(r, (size_t)v->len) : exec_empty_value;
	return bufreader_ok(r);
}

/* Whether row r of partition part passes every filter of the WHERE. */
static bool rsel_filter(struct rsel *rs, const struct store_partition *part,
                        const struct store_row *r)
{
	const struct schema_table *t = rs->t;
	bool statics = rs->have_statics && same_key(&rs->cur_key, part);
	struct bufreader sr;
	bufreader_init(&sr, rs->fstatics.data, statics ? rs->fstatics.len : 0);
	for (uint32_t i = 0; i < rs->w->n_filt; i++) {
		const struct filter *f = &rs->w->filt[i];
		const struct schema_column *c = &t->cols[f->col];
		struct val v = {NULL, -1};
		struct bufreader cr;
		switch (c->kind) {
		case SCHEMA_COL_PARTITION_KEY:
			v = (struct val){part->pk[c->position].p,
			                 (int32_t)part->pk[c->position].len};
			break;
		case SCHEMA_COL_CLUSTERING:
			v = (struct val){r->ck[c->position].p, (int32_t)r->ck[c->position].len};
			break;
		case SCHEMA_COL_STATIC:
			if (statics && !take_value(&sr, &v))
				return false;
			break;
		default:
			buf_reset(&rs->scratch);
			struct buf *saved = rs->out;
			rs->out = &rs->scratch;
			put_cell_value(rs, c, r, SEL_COLUMN);
			rs->out = saved;
			bufreader_init(&cr, rs->scratch.data, rs->scratch.len);
			if (!buf_ok(&rs->scratch) || !take_value(&cr, &v))
				return false;
			break;
		}
		if (v.len >= 0 && !v.p)
			v.p = exec_empty_value;
		if (!filter_match(f, c->type, v.p, v.len))
			return false;
	}
	return true;
}

/* Append the selected values of row r of partition part. */
static void rsel_put_row(struct rsel *rs, const struct store_partition *part,
                         const struct store_row *r)
{
	const struct schema_table *t = rs->t;
	const struct plan *p = rs->p;
	bool statics = rs->have_statics && same_key(&rs->cur_key, part);
	struct bufreader sr;
	bufreader_init(&sr, rs->statics.data, statics ? rs->statics.len : 0);
	for (uint32_t i = 0; i < p->n_sel; i++) {
		const struct sel_col *sc = &p->sel[i];
		if (sc->kind == SEL_TOKEN) {
			cql_put_int(rs->out, 8);
			buf_put_u64be(rs->out, (uint64_t)part->token);
			continue;
		}
		const struct schema_column *c = &t->cols[sc->col];
		const struct store_value *v;
		int32_t l;
		switch (c->kind) {
		case SCHEMA_COL_PARTITION_KEY:
		case SCHEMA_COL_CLUSTERING:
			v = c->kind == SCHEMA_COL_CLUSTERING ? &r->ck[c->position]
			                                     : &part->pk[c->position];
			cql_put_bytes(rs->out, v->p, (int32_t)v->len);
			break;
		case SCHEMA_COL_STATIC:
			l = statics ? (int32_t)bufreader_u32be(&sr) : -1;
			cql_put_bytes(rs->out,
			              l > 0    ? bufreader_take(&sr, (size_t)l)
			              : l == 0 ? exec_empty_value
			                       : NULL,
			              l);
			break;
		default: put_cell_value(rs, c, r, sc->kind); break;
		}
	}
}

/* Remember where the last row returned came from, for the paging state. */
static void rsel_remember(struct rsel *rs, const struct store_partition *part,
                          const struct store_row *r)
{
	rs->last_token = part->token;
	rs->last_idx = rs->cur_idx;
	set_key(&rs->last_key, part);
	buf_reset(&rs->last_ck);
	for (size_t i = 0; i < r->n_ck; i++) {
		buf_put_u32be(&rs->last_ck, (uint32_t)r->ck[i].len);
		buf_put(&rs->last_ck, r->ck[i].p, r->ck[i].len);
	}
	rs->have_last = true;
}

/* The store's row callback: count or encode each live row until the page or LIMIT ends. */
static int rsel_row(void *ctx, const struct store_partition *part, const struct store_row *r)
{
	struct rsel *rs = ctx;
	if (r->is_static) {
		rsel_keep_statics(rs, part, r);
		return 0;
	}
	if (!r->has_marker && r->n_cells == 0)
		return 0;
	if (rs->w && rs->w->n_filt && !rsel_filter(rs, part, r))
		return 0;
	if (rs->distinct) {
		if (rs->distinct_key.len && same_key(&rs->distinct_key, part))
			return 0;
		set_key(&rs->distinct_key, part);
	}
	if (rs->remaining == 0)
		return STOP_READ;
	if (rs->p->count) {
		rs->count++;
		if (rs->remaining > 0)
			rs->remaining--;
		return 0;
	}
	if (rs->page > 0 && (rs->nrows >= rs->page || rs->out->len >= MAX_PAGE_BYTES)) {
		rs->more = true;
		return STOP_READ;
	}
	rsel_put_row(rs, part, r);
	rs->nrows++;
	if (rs->remaining > 0)
		rs->remaining--;
	rsel_remember(rs, part, r);
	return 0;
}

/* Decode [u32 len][bytes]... into n values pointing into data. */
static size_t decode_ck(const uint8_t *data, size_t len, struct store_value *out, size_t max)
{
	struct bufreader r;
	bufreader_init(&r, data, len);
	size_t n = 0;
	while (bufreader_left(&r) && n < max) {
		uint32_t l = bufreader_u32be(&r);
		out[n].p = bufreader_take(&r, l);
		out[n].len = l;
		if (!bufreader_ok(&r))
			return SIZE_MAX;
		n++;
	}
	return bufreader_left(&r) ? SIZE_MAX : n;
}

/* A SELECT over a table, kept across the router's asynchronous reads. */
struct selx {
	struct rsel rs;
	struct where w;
	unsigned flags;  /* STORE_READ_REVERSE */
	bool partitions; /* the partition key is fully restricted (=, IN) */
	bool resume;
	struct paging_pos pos;
	struct store_value rck[STORE_MAX_CK_COLS]; /* resume after this clustering */
	size_t n_rck;
	uint64_t nparts, nck, idx, first;
	bool in_step; /* select_step() is on the stack */
	bool waiting; /* a read is outstanding */
	struct buf rows;
	/* arguments of the read in flight (borrowed by the router until it completes) */
	struct store_value pk[STORE_MAX_PK_COLS];
	struct store_value lo[STORE_MAX_CK_COLS], hi[STORE_MAX_CK_COLS];
	struct store_slice slice;
	struct partition_read rd;
	struct store_position after;
	struct range_read scan;
};

/* The buffers a selx owns: initialised in select_table, released in selx_free. */
#define SELX_BUFS(x)                                                                               \
	{                                                                                          \
		&(x)->rows, &(x)->rs.last_key, &(x)->rs.last_ck, &(x)->rs.statics,                 \
		        &(x)->rs.cur_key, &(x)->rs.distinct_key, &(x)->rs.fstatics,                \
		        &(x)->rs.scratch                                                           \
	}

void selx_free(struct selx *x)
{
	if (!x)
		return;
	struct buf *bufs[] = SELX_BUFS(x);
	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		buf_release(bufs[i]);
	free(x);
}

/* Encode the Rows answer (with a paging state when rows remain) and finish. */
static void select_finish(struct xq *q)
{
	struct selx *x = q->sel;
	struct exec_req *req = q->req;
	const struct plan *p = q->plan;
	const struct schema_table *t = p->table;
	struct rsel *rs = &x->rs;
	if (req->err.code) {
		xq_finish(q);
		return;
	}
	struct buf st;
	buf_init(&st);
	if (rs->more && rs->have_last) {
		struct paging_pos np = {.remaining =
		                                rs->remaining >= 0 ? (int32_t)rs->remaining : -1,
		                        .part_index = x->partitions ? rs->last_idx : 0};
		struct buf key;
		buf_init(&key);
		if (!x->partitions)
			buf_put_u64be(&key, (uint64_t)rs->last_token);
		buf_put(&key, rs->last_key.data, rs->last_key.len);
		np.pk = key.data;
		np.pk_len = (uint32_t)key.len;
		np.ck = rs->last_ck.data;
		np.ck_len = (uint32_t)rs->last_ck.len;
		if (t->n_ck == 0)
			np.flags |= PAGING_PARTITION_DONE;
		paging_encode(&np, &st);
		buf_release(&key);
	}
	struct buf *b = &req->body_out;
	size_t at = begin_rows(b, p, q->skip_metadata, &st);
	buf_release(&st);
	if (p->count) {
		uint8_t cnt[8];
		be64_store(cnt, (uint64_t)rs->count);
		cql_put_bytes(b, cnt, 8);
		buf_patch_u32be(b, at, 1);
	} else {
		buf_put(b, x->rows.data, x->rows.len);
		buf_patch_u32be(b, at, (uint32_t)rs->nrows);
	}
	if (!buf_ok(&x->rows))
		b->oom = true;
	xq_finish(q);
}

static void select_step(struct xq *q);

static void select_read_done(void *ctx, const struct cerr *res)
{
	struct xq *q = ctx;
	struct selx *x = q->sel;
	x->waiting = false;
	if (res->code)
		req_fail_outcome(q->req, res);
	if (!x->in_step)
		select_step(q); /* completed later: go on from here */
}

/* The read of (partition, clustering IN combination) number idx into x->rd. */
static void select_read_args(struct xq *q, uint64_t idx)
{
	struct selx *x = q->sel;
	struct rsel *rs = &x->rs;
	const struct plan *p = q->plan;
	const struct schema_table *t = p->table;
	const struct where *w = &x->w;
	where_pick(w->pk_vals, w->pk_n, t->n_pk, idx / x->nck, x->pk);
	struct store_value pre[STORE_MAX_CK_COLS];
	where_pick(w->ck_vals, w->ck_n, w->n_ck_eq, idx % x->nck, pre);
	where_bounds(w, t, pre, x->lo, x->hi, &x->slice);
	/* resuming inside this partition: strictly after the last clustering */
	if (x->resume && idx == x->first && x->n_rck) {
		bool rev = (x->flags & STORE_READ_REVERSE) != 0;
		struct store_value *bd = rev ? x->hi : x->lo;
		memcpy(bd, x->rck, x->n_rck * sizeof(*bd));
		*(rev ? &x->slice.n_end : &x->slice.n_start) = x->n_rck;
		*(rev ? &x->slice.end_incl : &x->slice.start_incl) = false;
	}
	x->rd = (struct partition_read){
	        .table = t->st,
	        .pk = x->pk,
	        .n_pk = t->n_pk,
	        .slice = (x->slice.n_start || x->slice.n_end) ? &x->slice : NULL,
	        .flags = x->flags,
	        .limit = 0,
	        .now_s = rs->now_s,
	};
	if (t->speculative_retry) /* validated when set; the default otherwise */
		(void)spec_retry_parse(t->speculative_retry, &x->rd.spec, NULL);
	/* one row past the page tells whether more remain (filtered rows are not
	 * counted: a filtering read runs until the page is full) */
	if (rs->page > 0 && !p->count && !x->w.n_filt)
		x->rd.limit = (size_t)(rs->page - rs->nrows) + 1;
	if (rs->remaining >= 0 && !x->w.n_filt &&
	    (x->rd.limit == 0 || (size_t)rs->remaining + 1 < x->rd.limit))
		x->rd.limit = (size_t)rs->remaining + 1;
	if (p->stmt->select.distinct && !x->w.n_filt)
		x->rd.limit = 1;
}

/*
 * Read the next (partition, clustering IN combination) until the page is full,
 * the LIMIT is reached or the list ends.  Reads that complete at once loop here
 * (no recursion); one that completes later resumes through select_read_done.
 */
static void select_step(struct xq *q)
{
	struct selx *x = q->sel;
	struct rsel *rs = &x->rs;
	const struct schema_table *t = q->plan->table;
	x->in_step = true;
	while (!q->req->err.code && !rs->more && rs->remaining != 0 &&
	       x->idx < x->nparts * x->nck) {
		uint64_t idx = x->idx++;
		if (x->resume && idx == x->first && !x->n_rck &&
		    (x->pos.flags & PAGING_PARTITION_DONE))
			continue;
		select_read_args(q, idx);
		rs->have_statics = false;
		rs->cur_idx = (uint32_t)idx;
		x->waiting = true;
		router_read_partition(q->ex->d.router, t->ks, q->cl, &x->rd, rsel_row, rs,
		                      select_read_done, q);
		if (x->waiting) {
			x->in_step = false;
			return; /* select_read_done continues */
		}
	}
	x->in_step = false;
	select_finish(q);
}

static void select_scan_done(void *ctx, const struct cerr *res)
{
	struct xq *q = ctx;
	if (res->code)
		req_fail_outcome(q->req, res);
	select_finish(q);
}

/* ORDER BY must follow the clustering columns, all the same way or all reversed;
 * *flags gets STORE_READ_REVERSE when they are reversed. */
static int select_order(struct xq *q, bool partitions, unsigned *flags)
{
	const struct plan *p = q->plan;
	const struct schema_table *t = p->table;
	const struct cql_select *s = &p->stmt->select;
	*flags = 0;
	if (!s->n_order_by)
		return 0;
	if (!partitions)
		return req_fail(
		        q->req, COL_EINVAL,
		        "ORDER BY is only supported when the partition key is restricted by "
		        "an EQ or an IN.");
	bool rev = false;
	for (uint32_t i = 0; i < s->n_order_by; i++) {
		int ci = column_index(t, s->order_by[i].column.name);
		if (ci < 0)
			return undefined_column(q->req, p, s->order_by[i].column.name);
		if (t->cols[ci].kind != SCHEMA_COL_CLUSTERING || t->cols[ci].position != (int)i)
			return req_fail(q->req, COL_EINVAL,
			                "Order by currently only supports the ordering of columns "
			                "following their declared order in the PRIMARY KEY");
		bool r = s->order_by[i].desc != t->cols[ci].desc;
		if (i == 0)
			rev = r;
		else if (r != rev)
			return req_fail(q->req, COL_EINVAL, "Unsupported order by relation");
	}
	if (rev)
		*flags |= STORE_READ_REVERSE;
	return 0;
}

/* Filtering needs ALLOW FILTERING; SELECT DISTINCT filters on partition key and
 * static columns only. */
static int select_check_filtering(struct xq *q, const struct where *w)
{
	const struct cql_select *s = &q->plan->stmt->select;
	const struct schema_table *t = q->plan->table;
	if (w->n_filt && !s->allow_filtering)
		return req_fail(q->req, COL_EINVAL, "%s", w->af_msg ? w->af_msg : filtering_msg);
	for (uint32_t i = 0; s->distinct && i < w->n_filt; i++) {
		enum schema_col_kind k = t->cols[w->filt[i].col].kind;
		if (k != SCHEMA_COL_PARTITION_KEY && k != SCHEMA_COL_STATIC)
			return req_fail(
			        q->req, COL_EINVAL,
			        "SELECT DISTINCT with WHERE clause only supports restriction "
			        "by partition key and/or static columns.");
	}
	return 0;
}

/* SELECT DISTINCT selects partition key and static columns only. */
static int select_check_distinct(struct xq *q)
{
	const struct plan *p = q->plan;
	const struct schema_table *t = p->table;
	const struct cql_select *s = &p->stmt->select;
	for (uint32_t i = 0; s->distinct && i < p->n_sel; i++)
		if (p->sel[i].kind == SEL_COLUMN &&
		    t->cols[p->sel[i].col].kind != SCHEMA_COL_PARTITION_KEY &&
		    t->cols[p->sel[i].col].kind != SCHEMA_COL_STATIC)
			return req_fail(q->req, COL_EINVAL,
			                "SELECT DISTINCT queries must only request partition key "
			                "columns and/or static columns (not %s)",
			                p->sel[i].name);
	return 0;
}

/* Clustering IN values come back in clustering order, each once (Cassandra sorts
 * them): sort each column's list in read order and drop repeats. */
static void sort_ck_values(const struct schema_table *t, struct where *w, unsigned flags)
{
	for (uint32_t k = 0; k < w->n_ck_eq; k++) {
		const struct schema_column *c = &t->cols[t->n_pk + k];
		bool down = c->desc != ((flags & STORE_READ_REVERSE) != 0);
		struct val *v = w->ck_vals[k];
		uint32_t n = w->ck_n[k], out_n = 0;
		for (uint32_t i = 1; i < n; i++)
			for (uint32_t j = i; j > 0; j--) {
				int cmp = cqltype_compare(c->type, v[j - 1].p, (size_t)v[j - 1].len,
				                          v[j].p, (size_t)v[j].len);
				if (down ? cmp >= 0 : cmp <= 0)
					break;
				struct val x = v[j];
				v[j] = v[j - 1];
				v[j - 1] = x;
			}
		for (uint32_t i = 0; i < n; i++)
			if (out_n == 0 ||
			    cqltype_compare(c->type, v[out_n - 1].p, (size_t)v[out_n - 1].len,
			                    v[i].p, (size_t)v[i].len) != 0)
				v[out_n++] = v[i];
		w->ck_n[k] = out_n;
	}
}

/* Where the client's paging state says to resume, if it sent one. */
static int select_resume(struct xq *q, struct selx *x)
{
	if (q->paging_state.len <= 0)
		return 0;
	if (paging_decode(q->paging_state.p, (size_t)q->paging_state.len, &x->pos))
		return req_fail(q->req, COL_EPROTO, "Invalid value for the paging state");
	x->resume = true;
	if (x->pos.remaining >= 0)
		x->rs.remaining = x->pos.remaining;
	if (x->pos.ck_len) {
		x->n_rck = decode_ck(x->pos.ck, x->pos.ck_len, x->rck, STORE_MAX_CK_COLS);
		if (x->n_rck == SIZE_MAX || x->n_rck != q->plan->table->n_ck)
			return req_fail(q->req, COL_EPROTO,
			                "Invalid value for the paging state (clustering)");
	}
	return 0;
}

/* Checks and set-up of a table SELECT: restrictions, order, resume position. */
static int select_prepare(struct xq *q, struct selx *x, int64_t limit)
{
	struct exec_req *req = q->req;
	const struct plan *p = q->plan;
	const struct schema_table *t = p->table;
	const struct cql_select *s = &p->stmt->select;
	struct where *w = &x->w;
	int rc = analyze_select_where(q, s->where, s->n_where, w);
	bool partitions = w->n_pk_restricted == t->n_pk;
	if (!rc)
		rc = select_check_filtering(q, w);
	if (!rc)
		rc = select_order(q, partitions, &x->flags);
	if (!rc)
		rc = select_check_distinct(q);
	if (rc)
		return rc;
	sort_ck_values(t, w, x->flags);
	struct cerr pr;
	if (router_check(q->ex->d.router, t->ks, q->cl, false, &pr))
		return req_fail_outcome(req, &pr);
	if (p->count && !partitions)
		snprintf(req->warning, sizeof(req->warning),
		         "Aggregation query used without partition key");
	struct rsel *rs = &x->rs;
	rs->q = q;
	rs->p = p;
	rs->t = t;
	rs->out = &x->rows;
	rs->remaining = limit;
	rs->distinct = s->distinct;
	rs->w = w;
	rs->now_s = clock_wall_s();
	rs->page = p->count ? 0 : q->page_size > 0 ? q->page_size : DEFAULT_MAX_ROWS;
	x->partitions = partitions;
	if ((rc = select_resume(q, x)))
		return rc;
	if (partitions) {
		x->nparts = where_product(w->pk_n, t->n_pk);
		x->nck = where_product(w->ck_n, w->n_ck_eq);
		if (x->nparts > MAX_IN_PARTITIONS || x->nck > MAX_IN_ROWS)
			return req_fail(
			        req, COL_EINVAL,
			        "IN restrictions select too many partitions or rows (%" PRIu64
			        " x %" PRIu64 "; at most %d x %d)",
			        x->nparts, x->nck, MAX_IN_PARTITIONS, MAX_IN_ROWS);
		/* one index over (partition, clustering IN combination), so that the paging
		 * state names exactly where the last row came from */
		x->first = x->resume ? x->pos.part_index : 0;
	}
	return 0;
}

/* Validate and start a SELECT on a table; the request finishes in select_finish. */
static void select_table(struct xq *q, int64_t limit)
{
	struct exec_req *req = q->req;
	const struct plan *p = q->plan;
	const struct schema_table *t = p->table;
	struct selx *x = calloc(1, sizeof(*x));
	if (!x) {
		req_fail(req, COL_ENOMEM, "out of memory");
		xq_finish(q);
		return;
	}
	q->sel = x;
	struct buf *bufs[] = SELX_BUFS(x);
	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		buf_init(bufs[i]);
	if (select_prepare(q, x, limit)) {
		xq_finish(q);
		return;
	}
	if (x->partitions) {
		x->idx = x->first;
		select_step(q);
		return;
	}
	int64_t start = x->w.tok_start, end = x->w.tok_end;
	if (x->w.has_token && start >= end) {
		select_finish(q); /* an empty token range (explicit bounds never wrap) */
		return;
	}
	struct store_position *ap = NULL;
	if (x->resume) {
		if (x->pos.pk_len < 8) {
			req_fail(req, COL_EPROTO, "Invalid value for the paging state");
			xq_finish(q);
			return;
		}
		x->after.token = (int64_t)be64_load(x->pos.pk);
		x->after.key = x->pos.pk + 8;
		x->after.key_len = x->pos.pk_len - 8;
		x->after.ck = x->n_rck ? x->rck : NULL;
		x->after.n_ck = x->n_rck;
		ap = &x->after;
	}
	x->scan = (struct range_read){
	        .table = t->st,
	        .start = start,
	        .end = end,
	        .after = ap,
	        .limit = 0,
	        .now_s = x->rs.now_s,
	};
	if (start == INT64_MIN && end == INT64_MAX)
		x->scan.start = x->scan.end = INT64_MIN; /* the whole ring */
	router_scan(q->ex->d.router, t->ks, q->cl, &x->scan, rsel_row, &x->rs, select_scan_done, q);
}

void exec_select(struct xq *q)
{
	const struct cql_select *s = &q->plan->stmt->select;
	int64_t limit = -1;
	if (s->limit) {
		if (term_int64(q, s->limit, false, &limit, "LIMIT") != 0) {
			xq_finish(q);
			return;
		}
		if (limit <= 0) {
			req_fail(q->req, COL_EINVAL, "LIMIT must be strictly positive");
			xq_finish(q);
			return;
		}
	}
	if (s->per_partition_limit) {
		req_fail(q->req, COL_EINVAL, "PER PARTITION LIMIT is not supported");
		xq_finish(q);
		return;
	}
	if (q->plan->table->virtual_) {
		select_virtual(q, limit);
		xq_finish(q);
		return;
	}
	select_table(q, limit);
}
