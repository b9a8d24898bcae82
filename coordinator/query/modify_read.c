/*
 * modify_read.c — the read before a write that list operations by position or
 * by value need (Cassandra's "requiresRead" operations):
 *
 *   UPDATE t SET l[i] = v ...     the cell path of element i
 *   DELETE l[i] FROM t ...        the cell path of element i
 *   UPDATE t SET l = l - [x] ...  the paths of the elements equal to x
 *
 * A list element's cell path is a timeuuid the writer chose, so a position or
 * a value names a cell only through the list as it is now.  As in Cassandra,
 * the coordinator reads the rows the statement writes at the statement's
 * consistency level, then builds its mutations from what it read (modify.c
 * looks the cells up with lread_list).  It is not atomic with the write: a
 * concurrent writer of the same list may move the element between the read
 * and the write, exactly as in Cassandra.  In a BATCH (batch.c) every statement
 * that needs it reads first, one after the other, then all are collected: each
 * sees the lists as they were before the batch.
 */
#include "coordinator/query/query_int.h"

#include "core/array.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bound on the bytes one statement may read this way (paths and values). */
#define LREAD_MAX_BYTES (16u * 1024 * 1024)

struct lread {
	struct lelem *cells; /* in the order read: by row, column, then list order */
	size_t n, cap, bytes;
	struct where w;
	uint64_t np, nc, next, cur;
	struct store_value pk[STORE_MAX_PK_COLS];
	struct store_value ck[STORE_MAX_CK_COLS];
	struct store_slice slice;
	struct partition_read rd;
	bool waiting, in_step, failed;
	struct cerr err;
	void (*then)(struct xq *q); /* called once the reads are done (or failed) */
};

void lread_free(struct lread *lr)
{
	if (lr) {
		for (size_t i = 0; i < lr->n; i++)
			free((void *)lr->cells[i].path);
		free(lr->cells);
		free(lr);
	}
}

static bool is_list(const struct schema_column *c)
{
	return c->type->kind == CQLTYPE_LIST && !c->type->frozen;
}

bool modify_needs_read(const struct plan *p)
{
	const struct schema_table *t = p->table;
	const struct cql_stmt *s = p->stmt;
	if (!t || t->virtual_)
		return false;
	if (s->kind == CQL_STMT_UPDATE) {
		for (uint32_t i = 0; i < s->update.n_assignments; i++) {
			const struct cql_assignment *a = s->update.assignments[i];
			int ci = column_index(t, a->column.name);
			if (ci >= 0 && is_list(&t->cols[ci]) &&
			    (a->kind == CQL_ASSIGN_SUB || a->kind == CQL_ASSIGN_ELEMENT))
				return true;
		}
	} else if (s->kind == CQL_STMT_DELETE) {
		for (uint32_t i = 0; i < s->del.n_targets; i++) {
			const struct cql_delete_target *d = s->del.targets[i];
			int ci = column_index(t, d->column.name);
			if (ci >= 0 && d->key && is_list(&t->cols[ci]))
				return true;
		}
	}
	return false;
}

/* Keep the live elements of the non-frozen list columns of one row read. */
static int lread_row(void *ctx, const struct store_partition *part, const struct store_row *r)
{
	(void)part;
	struct xq *q = ctx;
	struct lread *lr = q->lr;
	const struct schema_table *t = q->plan->table;
	for (size_t i = 0; r && i < r->n_cells; i++) {
		const struct store_cell *c = &r->cells[i];
		if (c->tombstone || !c->path)
			continue;
		const struct schema_column *sc = NULL;
		for (uint32_t k = 0; k < t->n_cols && !sc; k++)
			if (t->cols[k].id == c->col)
				sc = &t->cols[k];
		if (!sc || !is_list(sc))
			continue;
		lr->bytes += c->path_len + c->value_len;
		if (lr->bytes > LREAD_MAX_BYTES) {
			snprintf(lr->err.msg, sizeof(lr->err.msg),
			         "List %s is too large to be modified by position or by value "
			         "(over %u bytes)",
			         sc->name, LREAD_MAX_BYTES);
			lr->failed = true;
			return STOP_READ;
		}
		if (lr->n == lr->cap) {
			size_t nc = array_next_cap(lr->cap, lr->n + 1);
			struct lelem *ncells =
			        nc ? array_resize(lr->cells, nc, sizeof(*ncells)) : NULL;
			if (!ncells)
				goto nomem;
			lr->cells = ncells;
			lr->cap = nc;
		}
		uint8_t *copy = malloc(c->path_len + c->value_len + 1);
		if (!copy)
			goto nomem;
		memcpy(copy, c->path, c->path_len);
		if (c->value_len)
			memcpy(copy + c->path_len, c->value, c->value_len);
		lr->cells[lr->n++] = (struct lelem){
		        lr->cur, sc->id, copy, c->path_len, copy + c->path_len, c->value_len};
	}
	return 0;
nomem:
	snprintf(lr->err.msg, sizeof(lr->err.msg), "out of memory");
	lr->failed = true;
	return STOP_READ;
}

static void lread_step(struct xq *q);

static void lread_done(void *ctx, const struct cerr *res)
{
	struct xq *q = ctx;
	struct lread *lr = q->lr;
	if (res->code)
		req_fail_outcome(q->req, res);
	else if (lr->failed)
		req_fail(q->req, COL_EINVAL, "%s", lr->err.msg);
	lr->waiting = false;
	if (!lr->in_step)
		lread_step(q);
}

/* The read of row number idx: its partition, and its clustering when the
 * statement names one (a static-only statement needs only the static row). */
static void lread_args(struct xq *q, uint64_t idx)
{
	struct lread *lr = q->lr;
	const struct schema_table *t = q->plan->table;
	const struct where *w = &lr->w;
	where_pick(w->pk_vals, w->pk_n, t->n_pk, idx / lr->nc, lr->pk);
	where_pick(w->ck_vals, w->ck_n, w->n_ck_eq, idx % lr->nc, lr->ck);
	lr->slice = (struct store_slice){lr->ck, w->n_ck_eq, true, lr->ck, w->n_ck_eq, true};
	lr->rd = (struct partition_read){
	        .table = t->st,
	        .pk = lr->pk,
	        .n_pk = t->n_pk,
	        .slice = w->n_ck_eq ? &lr->slice : NULL,
	        .limit = 1,
	        .now_s = exec_now_us(q->ex) / 1000000,
	};
	if (t->speculative_retry)
		(void)spec_retry_parse(t->speculative_retry, &lr->rd.spec, NULL);
}

/* Read the rows one after the other (reads that complete at once loop here),
 * then build and write the statement's mutations. */
static void lread_step(struct xq *q)
{
	struct lread *lr = q->lr;
	const struct schema_table *t = q->plan->table;
	lr->in_step = true;
	while (!q->req->err.code && lr->next < lr->np * lr->nc) {
		lr->cur = lr->next++;
		lread_args(q, lr->cur);
		lr->waiting = true;
		router_read_partition(q->ex->d.router, t->ks, q->cl, &lr->rd, lread_row, q,
		                      lread_done, q);
		if (lr->waiting) {
			lr->in_step = false;
			return; /* lread_done continues */
		}
	}
	lr->in_step = false;
	lr->then(q);
}

void lread_start(struct xq *q, void (*then)(struct xq *q))
{
	if (q->cl == CL_ANY) {
		req_fail(q->req, COL_EINVAL,
		         "Write operation require a read but consistency %s is not supported on "
		         "reads",
		         cql_consistency_name(q->cl));
		then(q);
		return;
	}
	struct lread *lr = calloc(1, sizeof(*lr));
	if (!lr) {
		req_fail(q->req, COL_ENOMEM, "out of memory");
		then(q);
		return;
	}
	lread_free(q->lr);
	q->lr = lr;
	lr->then = then;
	if (modify_rows(q, &lr->w, &lr->np, &lr->nc)) {
		then(q);
		return;
	}
	lread_step(q);
}

/* One statement's reads are done: collect its mutations and write them. */
static void single_read_done(struct xq *q)
{
	struct mutset *ms = NULL;
	if (!q->req->err.code && !xq_mutset(q, &ms))
		modify_collect(q, ms);
	write_start(q, CERR_WRITE_SIMPLE);
}

void modify_read_run(struct xq *q)
{
	lread_start(q, single_read_done);
}

size_t lread_list(const struct xq *q, uint64_t row, uint32_t col, const struct lelem **out)
{
	const struct lread *lr = q->lr;
	size_t i = 0;
	while (lr && i < lr->n && (lr->cells[i].row != row || lr->cells[i].col != col))
		i++;
	size_t j = i;
	while (lr && j < lr->n && lr->cells[j].row == row && lr->cells[j].col == col)
		j++;
	*out = lr && i < lr->n ? &lr->cells[i] : NULL;
	return j - i;
}
