#include "coordinator/query/select_order.h"

#include "coordinator/cql/cql_ast.h"
#include "coordinator/schema/schema.h"
#include "core/cqltype.h"
#include "core/err.h"
#include "storage/storage.h"

#include <stdlib.h>
#include <string.h>

bool select_order_post(const struct cql_select *s, const struct schema_table *t)
{
	if (!s->n_order_by)
		return false;
	for (uint32_t i = 0; i < s->n_where; i++) {
		const struct cql_relation *r = s->where[i];
		if (r->kind != CQL_REL_COLUMN || r->op != CQL_OP_IN || !r->n_cols)
			continue;
		const struct schema_column *c = schema_table_column(t, r->cols[0].name);
		if (c && c->kind == SCHEMA_COL_PARTITION_KEY)
			return true;
	}
	return false;
}

bool select_order_paged(int32_t page_size, int64_t limit)
{
	return page_size > 0 && (limit < 0 || limit > page_size);
}

void order_rows_init(struct order_rows *o, uint32_t n_order)
{
	buf_init(&o->index);
	buf_init(&o->keys);
	o->n_order = n_order;
	o->n = 0;
}

void order_rows_release(struct order_rows *o)
{
	buf_release(&o->index);
	buf_release(&o->keys);
}

void order_rows_add(struct order_rows *o, size_t off, size_t len, const struct store_row *r)
{
	buf_put_u64be(&o->index, off);
	buf_put_u64be(&o->index, len);
	buf_put_u64be(&o->index, o->keys.len);
	for (uint32_t i = 0; i < o->n_order; i++) {
		size_t l = i < r->n_ck ? r->ck[i].len : 0;
		buf_put_u32be(&o->keys, (uint32_t)l);
		if (l)
			buf_put(&o->keys, r->ck[i].p, l);
	}
	o->n++;
}

struct sort_row {
	size_t off, len, key;
	size_t seq; /* read order: ties keep it */
};

struct sort_ctx {
	const struct order_rows *o;
	const struct cql_select *s;
	const struct schema_table *t;
};

static int cmp_rows(const struct sort_ctx *c, const struct sort_row *a, const struct sort_row *b)
{
	struct bufreader ra, rb;
	bufreader_init(&ra, c->o->keys.data + a->key, c->o->keys.len - a->key);
	bufreader_init(&rb, c->o->keys.data + b->key, c->o->keys.len - b->key);
	for (uint32_t i = 0; i < c->o->n_order; i++) {
		uint32_t la = bufreader_u32be(&ra), lb = bufreader_u32be(&rb);
		const uint8_t *pa = bufreader_take(&ra, la), *pb = bufreader_take(&rb, lb);
		const struct schema_column *col = &c->t->cols[c->t->n_pk + i];
		int cmp = cqltype_compare(col->type, pa, la, pb, lb);
		if (cmp)
			return c->s->order_by[i].desc ? -cmp : cmp;
	}
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Merge sort (stable, n log n, no recursion depth issue: log2 n levels). */
static void merge_sort(const struct sort_ctx *c, struct sort_row *v, struct sort_row *tmp, size_t n)
{
	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				tmp[k++] = cmp_rows(c, &v[j], &v[i]) < 0 ? v[j++] : v[i++];
			while (i < mid)
				tmp[k++] = v[i++];
			while (j < hi)
				tmp[k++] = v[j++];
		}
		memcpy(v, tmp, n * sizeof(*v));
	}
}

int order_rows_sort(struct order_rows *o, const struct cql_select *s, const struct schema_table *t,
                    struct buf *rows, int64_t limit, int32_t *nrows)
{
	if (!buf_ok(&o->index) || !buf_ok(&o->keys))
		return COL_ENOMEM;
	size_t n = o->n;
	struct sort_row *v = calloc(n ? n : 1, sizeof(*v));
	struct sort_row *tmp = calloc(n ? n : 1, sizeof(*tmp));
	struct buf out;
	buf_init(&out);
	if (!v || !tmp) {
		free(v);
		free(tmp);
		return COL_ENOMEM;
	}
	struct bufreader r;
	bufreader_init(&r, o->index.data, o->index.len);
	for (size_t i = 0; i < n; i++) {
		v[i].off = (size_t)bufreader_u64be(&r);
		v[i].len = (size_t)bufreader_u64be(&r);
		v[i].key = (size_t)bufreader_u64be(&r);
		v[i].seq = i;
	}
	struct sort_ctx c = {o, s, t};
	merge_sort(&c, v, tmp, n);
	size_t keep = limit >= 0 && (uint64_t)limit < n ? (size_t)limit : n;
	for (size_t i = 0; i < keep; i++)
		buf_put(&out, rows->data + v[i].off, v[i].len);
	free(v);
	free(tmp);
	if (!buf_ok(&out)) {
		buf_release(&out);
		return COL_ENOMEM;
	}
	buf_release(rows);
	*rows = out;
	*nrows = (int32_t)keep;
	return 0;
}
