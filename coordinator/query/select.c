#include "coordinator/query/select_int.h"

#include "coordinator/query/paging.h"
#include "coordinator/query/select_order.h"
#include "core/clock.h"
#include "core/cqltype.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Drivers ask 5000 rows a page; a request without a page size still gets bounded
 * pages of this many rows so that one SELECT cannot build an unbounded answer. */
#define DEFAULT_MAX_ROWS 10000
/* A SELECT state kept for the next SELECT keeps an answer buffer up to this size (a
 * single-partition read's rows); a larger one is freed with its query. */
#define MAX_SPARE_ROWS_BYTES (64u << 10)
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
	bool post_sort;     /* select_order.h: sort the rows of all partitions, then LIMIT */
	int64_t sort_limit; /* the LIMIT applied after the sort, -1 none */
	struct order_rows ord;
	struct store_value *combos; /* nck clustering prefixes of w.n_ck_eq values */
	bool in_step;               /* select_step() is on the stack */
	bool waiting;               /* a read is outstanding */
	struct buf rows;
	/* arguments of the read in flight (borrowed by the router until it completes) */
	struct store_value pk[STORE_MAX_PK_COLS];
	struct store_value lo[STORE_MAX_CK_COLS], hi[STORE_MAX_CK_COLS];
	struct store_slice slice;
	struct partition_read rd;
	struct store_position after;
	struct range_read scan;
	struct range_index scan_ix;
};

void selx_free(struct selx *x)
{
	if (!x)
		return;
	buf_release(&x->rows);
	rsel_release(&x->rs); /* a spare's too: its buffers are kept, its p is NULL */
	order_rows_release(&x->ord);
	free(x);
}

struct selx *selx_get(struct executor *ex)
{
	return ex->n_spare_sel ? ex->spare_sel[--ex->n_spare_sel] : calloc(1, sizeof(struct selx));
}

void selx_put(struct executor *ex, struct selx *x)
{
	if (!x)
		return;
	if (ex->n_spare_sel == EXEC_SPARE_SELX) {
		selx_free(x);
		return;
	}
	order_rows_release(&x->ord);
	rsel_recycle(&x->rs);
	struct buf rows = x->rows;
	if (rows.oom || rows.cap > MAX_SPARE_ROWS_BYTES)
		buf_release(&rows);
	rows.len = 0;
	struct rsel rs = x->rs;
	memset(x, 0, sizeof(*x));
	x->rs = rs;
	x->rows = rows;
	ex->spare_sel[ex->n_spare_sel++] = x;
}

/* Post-query ordering (select_order.h): every row was read, unpaged; sort them and cut
 * them to the LIMIT.  Past the unpaged bound the answer would be in a wrong order, so
 * it fails instead. */
static void select_sort_rows(struct xq *q)
{
	struct selx *x = q->sel;
	struct rsel *rs = &x->rs;
	if (rs->more) {
		req_fail(q->req, COL_EINVAL,
		         "ORDER BY with an IN restriction on the partition key sorts the rows in "
		         "memory, and these partitions hold more than %d rows (or %u MiB) to sort: "
		         "add a LIMIT or restrict the IN to fewer partitions",
		         DEFAULT_MAX_ROWS, MAX_PAGE_BYTES >> 20);
		return;
	}
	if (order_rows_sort(&x->ord, &q->plan->stmt->select, q->plan->table, &x->rows,
	                    x->sort_limit, &rs->nrows))
		req_fail(q->req, COL_ENOMEM, "out of memory sorting the rows for ORDER BY");
}

/* Encode the Rows answer (with a paging state when rows remain) and finish. */
static void select_finish(struct xq *q)
{
	struct selx *x = q->sel;
	struct exec_req *req = q->req;
	const struct plan *p = q->plan;
	const struct schema_table *t = p->table;
	struct rsel *rs = &x->rs;
	if (!req->err.code && x->post_sort)
		select_sort_rows(q);
	if (req->err.code) {
		xq_finish(q);
		return;
	}
	rsel_end(rs);
	struct buf st;
	buf_init(&st);
	if (rs->more && rs->last.set) {
		struct paging_pos np = {.remaining =
		                                rs->remaining >= 0 ? (int32_t)rs->remaining : -1,
		                        .part_index = x->partitions ? rs->last.idx : 0};
		if (rs->ppl > 0 && rs->ppl_key.len == rs->last.key.len &&
		    memcmp(rs->ppl_key.data, rs->last.key.data, rs->ppl_key.len) == 0)
			np.part_rows = (int32_t)rs->ppl_n;
		struct buf key;
		buf_init(&key);
		if (!x->partitions)
			buf_put_u64be(&key, (uint64_t)rs->last.token);
		buf_put(&key, rs->last.key.data, rs->last.key.len);
		np.pk = key.data;
		np.pk_len = (uint32_t)key.len;
		np.ck = rs->last.ck.data;
		np.ck_len = (uint32_t)rs->last.ck.len;
		if (t->n_ck == 0 || rs->last.ck.len == 0) /* the last: a static row alone */
			np.flags |= PAGING_PARTITION_DONE;
		paging_encode(&np, &st);
		buf_release(&key);
	}
	struct buf *b = &req->body_out;
	size_t at = begin_rows(b, p, q->skip_metadata, &st);
	buf_release(&st);
	buf_put(b, x->rows.data, x->rows.len);
	buf_patch_u32be(b, at, (uint32_t)rs->nrows);
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
	where_bounds(w, t, &x->combos[(idx % x->nck) * w->n_ck_eq], x->lo, x->hi, &x->slice);
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
	bool exact = !x->w.n_filt && !p->count; /* every row read is a row returned */
	if (rs->page > 0 && exact)
		x->rd.limit = (size_t)(rs->page - rs->nrows) + 1;
	if (rs->remaining >= 0 && exact &&
	    (x->rd.limit == 0 || (size_t)rs->remaining + 1 < x->rd.limit))
		x->rd.limit = (size_t)rs->remaining + 1;
	if (p->stmt->select.distinct && exact)
		x->rd.limit = 1;
	/* post-query ordering: the first LIMIT rows overall are among each partition's first */
	if (x->post_sort && x->sort_limit >= 0 && exact &&
	    (x->rd.limit == 0 || (size_t)x->sort_limit < x->rd.limit))
		x->rd.limit = (size_t)x->sort_limit;
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
	for (;;) {
		rsel_flush_static(rs); /* the partition read last has ended */
		if (q->req->err.code || rs->more || rs->remaining == 0 ||
		    x->idx >= x->nparts * x->nck)
			break;
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

/*
 * The index a ring scan reads through (docs/CQL-SERVER.md, Secondary indexes): the
 * value(s) of the filter the index answers, into out; false when there is none or a value
 * is null (then nothing matches, and the plain scan's filter says so).
 */
static bool scan_index(const struct schema_table *t, const struct where *w, struct range_index *out)
{
	if (!w->ix || !schema_index_store(t, w->ix, &out->ix))
		return false;
	const struct filter *f = &w->filt[w->ix_filt];
	if (f->n < 1 || f->vals[0].len < 0 || (f->entry && f->key.len < 0))
		return false;
	out->n_vals = 0;
	if (f->entry)
		out->vals[out->n_vals++] = (struct store_value){f->key.p, (size_t)f->key.len};
	out->vals[out->n_vals++] = (struct store_value){f->vals[0].p, (size_t)f->vals[0].len};
	return true;
}

static void select_scan_done(void *ctx, const struct cerr *res)
{
	struct xq *q = ctx;
	if (res->code)
		req_fail_outcome(q->req, res);
	rsel_flush_static(&q->sel->rs);
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
	if (w->n_af && !s->allow_filtering)
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

/* Order of clustering prefixes a and b (n values) in the read's order. */
static int combo_cmp(const struct schema_table *t, const struct store_value *a,
                     const struct store_value *b, uint32_t n, unsigned flags)
{
	for (uint32_t k = 0; k < n; k++) {
		const struct schema_column *c = &t->cols[t->n_pk + k];
		int cmp = cqltype_compare(c->type, a[k].p, a[k].len, b[k].p, b[k].len);
		if (cmp)
			return c->desc != ((flags & STORE_READ_REVERSE) != 0) ? -cmp : cmp;
	}
	return 0;
}

/*
 * The clustering prefixes a partition read goes through: the product of the
 * single-column =/IN lists, times the tuples of a (c1, c2) IN (...), sorted in
 * read order without repeats (Cassandra returns IN rows in clustering order,
 * each once).
 */
static int build_combos(struct xq *q, struct selx *x)
{
	const struct schema_table *t = q->plan->table;
	const struct where *w = &x->w;
	uint32_t n = w->n_ck_eq, single = w->n_tup ? w->tup_pos : n;
	uint64_t prod = where_product(w->ck_n, single), ntup = w->n_tup ? w->n_tup : 1;
	uint64_t total = prod * ntup;
	if (total > MAX_IN_ROWS)
		return req_fail(q->req, COL_EINVAL,
		                "IN restrictions select too many rows (%" PRIu64 "; at most %d)",
		                total, MAX_IN_ROWS);
	x->combos = cql_arena_alloc(q->mem, (size_t)(total * (n ? n : 1)) * sizeof(*x->combos));
	if (!x->combos)
		return req_fail(q->req, COL_ENOMEM, "out of memory");
	uint64_t m = 0;
	for (uint64_t i = 0; i < total; i++) {
		struct store_value *c = &x->combos[m * n];
		where_pick(w->ck_vals, w->ck_n, single, i / ntup, c);
		for (uint32_t j = 0; w->n_tup && j < w->tup_cols; j++) {
			const struct val *v = &w->tup_vals[(i % ntup) * w->tup_cols + j];
			c[single + j] = (struct store_value){v->p, (size_t)v->len};
		}
		/* insertion into the sorted prefix list, dropping a repeat */
		uint64_t at = m;
		while (at > 0 && combo_cmp(t, &x->combos[(at - 1) * n], c, n, x->flags) > 0)
			at--;
		if (at > 0 && combo_cmp(t, &x->combos[(at - 1) * n], c, n, x->flags) == 0)
			continue;
		struct store_value tmp[STORE_MAX_CK_COLS];
		memcpy(tmp, c, n * sizeof(*c));
		memmove(&x->combos[(at + 1) * n], &x->combos[at * n], (m - at) * n * sizeof(*c));
		memcpy(&x->combos[at * n], tmp, n * sizeof(*c));
		m++;
	}
	x->nck = m ? m : 1;
	return 0;
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
	if (x->pos.part_rows > 0 && x->rs.ppl > 0) {
		/* rows of the last partition returned already count toward its limit */
		size_t skip = x->partitions ? 0 : 8;
		if (x->pos.pk_len < skip)
			return req_fail(q->req, COL_EPROTO, "Invalid value for the paging state");
		buf_put(&x->rs.ppl_key, x->pos.pk + skip, x->pos.pk_len - skip);
		x->rs.ppl_n = x->pos.part_rows;
	}
	if (x->pos.ck_len) {
		size_t skip = x->partitions ? 0 : 8;
		if (x->pos.pk_len >= skip)
			buf_put(&x->rs.resumed_key, x->pos.pk + skip, x->pos.pk_len - skip);
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
	if (!rc && !p->count && select_order_post(s, t)) {
		if (select_order_paged(q->page_size, limit))
			rc = req_fail(req, COL_EINVAL, ORDER_IN_PAGED_MSG);
		x->post_sort = true;
		x->sort_limit = limit;
	}
	if (rc)
		return rc;
	struct cerr pr;
	if (router_check(q->ex->d.router, t->ks, q->cl, false, &pr))
		return req_fail_outcome(req, &pr);
	if (p->count && !p->n_group && !partitions)
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
	rs->static_rows =
	        t->n_ck > 0 && w->n_ck_eq == 0 && w->slice_col < 0 && !w->n_tup && !w->n_filt;
	rs->now_s = clock_wall_s();
	/* an aggregate without GROUP BY answers one row; with it, pages count groups */
	rs->page = p->count && !p->n_group ? 0 : q->page_size > 0 ? q->page_size : DEFAULT_MAX_ROWS;
	rs->part_reads = partitions;
	if (x->post_sort) {
		rs->page = DEFAULT_MAX_ROWS; /* unpaged, bounded */
		rs->remaining = -1;          /* the LIMIT comes after the sort */
		x->ord.n_order = s->n_order_by;
		rs->ord = &x->ord;
	}
	x->partitions = partitions;
	if ((rc = select_resume(q, x)))
		return rc;
	if (partitions) {
		x->nparts = where_product(w->pk_n, t->n_pk);
		if ((rc = build_combos(q, x)))
			return rc;
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
static void select_table(struct xq *q, int64_t limit, int64_t ppl)
{
	struct exec_req *req = q->req;
	const struct plan *p = q->plan;
	const struct schema_table *t = p->table;
	struct selx *x = selx_get(q->ex);
	if (!x) {
		req_fail(req, COL_ENOMEM, "out of memory");
		xq_finish(q);
		return;
	}
	q->sel = x;
	order_rows_init(&x->ord, 0);
	x->rs.p = q->plan;
	if (rsel_init(&x->rs, q->plan)) {
		req_fail(req, COL_ENOMEM, "out of memory");
		xq_finish(q);
		return;
	}
	x->rs.ppl = ppl;
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
	if (scan_index(t, &x->w, &x->scan_ix))
		x->scan.index = &x->scan_ix;
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
	int64_t ppl = 0;
	if (s->per_partition_limit) {
		if (term_int64(q, s->per_partition_limit, false, &ppl, "PER PARTITION LIMIT") !=
		    0) {
			xq_finish(q);
			return;
		}
		if (ppl <= 0 || s->distinct || q->plan->table->virtual_) {
			req_fail(q->req, COL_EINVAL, "%s",
			         ppl <= 0      ? "PER PARTITION LIMIT must be strictly positive"
			         : s->distinct ? "PER PARTITION LIMIT is not allowed with SELECT "
			                         "DISTINCT queries"
			                       : "PER PARTITION LIMIT is not supported on virtual "
			                         "tables");
			xq_finish(q);
			return;
		}
	}
	if (q->plan->table->virtual_) {
		select_virtual(q, limit);
		xq_finish(q);
		return;
	}
	select_table(q, limit, ppl);
}
