/*
 * filter.c — restrictions a SELECT checks row by row (ALLOW FILTERING).
 *
 * Filtering happens on the coordinator, on the rows the read returns after
 * the replicas' answers are reconciled: a replica filtering its own rows could
 * drop a row whose newer version (the one that matches) lives on another
 * replica.  Pages stay bounded because rows are counted after filtering and
 * the read stops as soon as a page is full; the paging state is the last row
 * returned, so the next page resumes after it whatever was filtered out.
 */
#include "coordinator/query/query_int.h"

#include "core/cqltype.h"

#include <stdio.h>
#include <string.h>

const char filtering_msg[] =
        "Cannot execute this query as it might involve data filtering and thus may have "
        "unpredictable performance. If you want to execute this query despite the "
        "performance unpredictability, use ALLOW FILTERING";

static struct filter *filter_new(struct xq *q, struct where *w, int ci, const char *why)
{
	if (w->n_filt >= MAX_FILTERS) {
		req_fail(q->req, COL_EINVAL, "More than %d filtering restrictions in one query",
		         MAX_FILTERS);
		return NULL;
	}
	struct filter *f = &w->filt[w->n_filt++];
	memset(f, 0, sizeof(*f));
	f->col = ci;
	f->n_cols = 1;
	if (!why) {
		f->implied = true;
		return f;
	}
	w->n_af++;
	if (!w->af_msg)
		w->af_msg = why;
	return f;
}

int filter_add_values(struct xq *q, struct where *w, int ci, struct val *vals, uint32_t n,
                      const char *why)
{
	struct filter *f = filter_new(q, w, ci, why);
	if (!f)
		return q->req->err.code;
	f->op = n == 1 ? CQL_OP_EQ : CQL_OP_IN;
	f->vals = vals;
	f->n = n;
	return 0;
}

/* m[key] = value: only EQ, only on a non-frozen map (Cassandra's rules). */
static int filter_entry(struct xq *q, struct filter *f, const struct cql_relation *r,
                        const struct schema_column *c)
{
	const struct cqltype *t = c->type;
	if (t->kind == CQLTYPE_LIST)
		return req_fail(q->req, COL_EINVAL,
		                "Indexes on list entries (%s[index] = value) are not currently "
		                "supported.",
		                c->name);
	if (t->kind != CQLTYPE_MAP)
		return req_fail(q->req, COL_EINVAL, "Column %s cannot be used as a map", c->name);
	if (t->frozen)
		return req_fail(q->req, COL_EINVAL,
		                "Map-entry equality predicates on frozen map column %s are not "
		                "supported",
		                c->name);
	if (r->op != CQL_OP_EQ)
		return req_fail(q->req, COL_EINVAL,
		                "Only EQ relations are supported on map entries");
	f->entry = true;
	f->op = CQL_OP_EQ;
	f->n = 1;
	f->vals = cql_arena_alloc(q->mem, sizeof(*f->vals));
	if (!f->vals)
		return req_fail(q->req, COL_ENOMEM, "out of memory");
	int rc = term_value(q, r->key, t->elem, &f->key, c->name);
	if (!rc)
		rc = term_value(q, r->term, t->value, &f->vals[0], c->name);
	if (!rc && (f->key.len < 0 || f->vals[0].len < 0))
		rc = req_fail(q->req, COL_EINVAL, "Invalid null value for %s[...] restriction",
		              c->name);
	return rc;
}

/* c CONTAINS v / c CONTAINS KEY k: a collection (a map for KEY); v an element. */
static int filter_contains(struct xq *q, struct filter *f, const struct cql_relation *r,
                           const struct schema_column *c)
{
	const struct cqltype *t = c->type;
	bool key = r->op == CQL_OP_CONTAINS_KEY;
	if (key && t->kind != CQLTYPE_MAP)
		return req_fail(q->req, COL_EINVAL, "Cannot use CONTAINS KEY on non-map column %s",
		                c->name);
	if (!key && !cqltype_is_collection(t))
		return req_fail(q->req, COL_EINVAL,
		                "Cannot use CONTAINS on non-collection column %s", c->name);
	f->op = r->op;
	f->n = 1;
	f->vals = cql_arena_alloc(q->mem, sizeof(*f->vals));
	if (!f->vals)
		return req_fail(q->req, COL_ENOMEM, "out of memory");
	const struct cqltype *et = t->kind == CQLTYPE_MAP && !key ? t->value : t->elem;
	int rc = term_value(q, r->term, et, &f->vals[0], c->name);
	if (!rc && f->vals[0].len == CQL_VALUE_NULL)
		rc = req_fail(q->req, COL_EINVAL, "Unsupported null value for column %s", c->name);
	if (!rc && f->vals[0].len == CQL_VALUE_UNSET)
		rc = req_fail(q->req, COL_EINVAL, "Unsupported unset value for column %s", c->name);
	return rc;
}

int filter_add(struct xq *q, struct where *w, const struct cql_relation *r, int ci, const char *why)
{
	const struct schema_column *c = &q->plan->table->cols[ci];
	if (c->type->kind == CQLTYPE_UDT && cqltype_is_multicell(c->type))
		return req_fail(q->req, COL_EINVAL,
		                "Non-frozen UDT column '%s' (%s.%s) cannot be restricted by any "
		                "relation",
		                c->name, c->type->udt_keyspace, c->type->udt_name);
	struct filter *f = filter_new(q, w, ci, why);
	if (!f)
		return q->req->err.code;
	if (r->kind == CQL_REL_ELEMENT)
		return filter_entry(q, f, r, c);
	if (r->op == CQL_OP_CONTAINS || r->op == CQL_OP_CONTAINS_KEY)
		return filter_contains(q, f, r, c);
	if (cqltype_is_collection(c->type) && !c->type->frozen) {
		struct buf tn;
		buf_init(&tn);
		cqltype_name(c->type, &tn);
		buf_put_u8(&tn, 0);
		int rc = req_fail(q->req, COL_EINVAL,
		                  "Collection column '%s' (%s) cannot be restricted by a '%s' "
		                  "relation",
		                  c->name, buf_ok(&tn) ? (const char *)tn.data : "collection",
		                  cql_op_name(r->op));
		buf_release(&tn);
		return rc;
	}
	f->op = r->op;
	return where_values(q, r, c, &f->vals, &f->n);
}

static int cmp(const struct cqltype *t, const uint8_t *v, int32_t len, const struct val *b)
{
	return cqltype_compare(t, v, (size_t)len, b->p, (size_t)b->len);
}

/* An element (CONTAINS), key (CONTAINS KEY) or entry (m[k] = v) of a collection
 * in its native form: [n] then [len][bytes] per element, key and value for maps. */
static bool coll_has(const struct filter *f, const struct cqltype *t, const uint8_t *v, int32_t len)
{
	struct bufreader r;
	bufreader_init(&r, v, (size_t)len);
	int32_t n = (int32_t)bufreader_u32be(&r);
	bool map = t->kind == CQLTYPE_MAP;
	for (int32_t i = 0; i < n && bufreader_ok(&r); i++) {
		struct val e[2] = {{NULL, -1}, {NULL, -1}};
		for (int k = 0; k < (map ? 2 : 1); k++) {
			e[k].len = (int32_t)bufreader_u32be(&r);
			e[k].p = e[k].len > 0 ? bufreader_take(&r, (size_t)e[k].len)
			                      : exec_empty_value;
		}
		if (!bufreader_ok(&r) || e[0].len < 0)
			return false;
		if (f->entry) {
			if (e[1].len >= 0 && cmp(t->elem, e[0].p, e[0].len, &f->key) == 0 &&
			    cmp(t->value, e[1].p, e[1].len, &f->vals[0]) == 0)
				return true;
		} else if (f->op == CQL_OP_CONTAINS_KEY || !map) {
			if (cmp(t->elem, e[0].p, e[0].len, &f->vals[0]) == 0)
				return true;
		} else if (e[1].len >= 0 && cmp(t->value, e[1].p, e[1].len, &f->vals[0]) == 0) {
			return true;
		}
	}
	return false;
}

bool filter_match(const struct filter *f, const struct cqltype *t, const uint8_t *v, int32_t len)
{
	if (len < 0)
		return false;
	if (f->entry || f->op == CQL_OP_CONTAINS || f->op == CQL_OP_CONTAINS_KEY)
		return coll_has(f, t, v, len);
	if (f->op == CQL_OP_IN) {
		for (uint32_t i = 0; i < f->n; i++)
			if (cmp(t, v, len, &f->vals[i]) == 0)
				return true;
		return false;
	}
	int c = cmp(t, v, len, &f->vals[0]);
	switch (f->op) {
	case CQL_OP_EQ: return c == 0;
	case CQL_OP_LT: return c < 0;
	case CQL_OP_LTE: return c <= 0;
	case CQL_OP_GT: return c > 0;
	case CQL_OP_GTE: return c >= 0;
	default: return false;
	}
}

/* "(c1, c2) > (1, 2)" for messages. */
static const char *rel_text(struct xq *q, const struct cql_relation *r)
{
	struct buf b;
	buf_init(&b);
	cql_relation_format(r, &b);
	buf_put_u8(&b, 0);
	char *m = buf_ok(&b) ? cql_arena_alloc(q->mem, b.len) : NULL;
	if (m)
		memcpy(m, b.data, b.len);
	buf_release(&b);
	return m ? m : "?";
}

int tuple_values(struct xq *q, const struct cql_relation *r, const struct cql_term *t, int ci,
                 struct val *v)
{
	const struct schema_table *tb = q->plan->table;
	if (t->kind == CQL_TERM_BIND)
		return req_fail(q->req, COL_EINVAL,
		                "A bind marker for a whole tuple is not supported by colonnade: %s "
		                "(bind each element: (c1, c2) = (?, ?))",
		                rel_text(q, r));
	if (t->kind != CQL_TERM_TUPLE)
		return req_fail(q->req, COL_EINVAL,
		                "Invalid %s literal for a tuple of %u columns: %s",
		                cql_term_kind_name(t->kind), r->n_cols, rel_text(q, r));
	if (t->coll.n_items != r->n_cols)
		return req_fail(q->req, COL_EINVAL,
		                "Expected %u elements in value tuple, but got %u: %s", r->n_cols,
		                t->coll.n_items, rel_text(q, r));
	for (uint32_t i = 0; i < r->n_cols; i++) {
		const struct schema_column *c = &tb->cols[ci + (int)i];
		int rc = term_value(q, t->coll.items[i], c->type, &v[i], c->name);
		if (rc)
			return rc;
		if (v[i].len < 0)
			return req_fail(q->req, COL_EINVAL,
			                "Invalid null value in condition for column %s", c->name);
	}
	return 0;
}

int filter_add_multi(struct xq *q, struct where *w, const struct cql_relation *r, int ci,
                     const char *why, bool implied)
{
	struct filter *f = filter_new(q, w, ci, implied ? NULL : why);
	if (!f)
		return q->req->err.code;
	f->n_cols = r->n_cols;
	f->op = r->op;
	if (r->op == CQL_OP_IN && !r->n_in)
		return req_fail(q->req, COL_EINVAL,
		                "A bind marker for a whole IN list of tuples is not supported by "
		                "colonnade: %s",
		                rel_text(q, r));
	f->n = r->op == CQL_OP_IN ? r->n_in : 1;
	f->vals = cql_arena_alloc(q->mem, (size_t)f->n * r->n_cols * sizeof(*f->vals));
	if (!f->vals)
		return req_fail(q->req, COL_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < f->n; i++) {
		const struct cql_term *t = r->op == CQL_OP_IN ? r->in_items[i] : r->term;
		int rc = tuple_values(q, r, t, ci, &f->vals[i * r->n_cols]);
		if (rc)
			return rc;
	}
	return 0;
}

/* Lexicographic comparison of a row's clustering values with tuple v (by value). */
static int tuple_cmp(const struct filter *f, const struct schema_table *t,
                     const struct store_value *ck, const struct val *v)
{
	int pos = t->cols[f->col].position;
	for (uint32_t i = 0; i < f->n_cols; i++) {
		const struct cqltype *ty = t->cols[f->col + (int)i].type;
		const struct store_value *x = &ck[pos + (int)i];
		int c = cqltype_compare(ty, x->p, x->len, v[i].p, (size_t)v[i].len);
		if (c)
			return c;
	}
	return 0;
}

bool filter_match_tuple(const struct filter *f, const struct schema_table *t,
                        const struct store_value *ck)
{
	if (f->op == CQL_OP_IN) {
		for (uint32_t i = 0; i < f->n; i++)
			if (tuple_cmp(f, t, ck, &f->vals[i * f->n_cols]) == 0)
				return true;
		return false;
	}
	int c = tuple_cmp(f, t, ck, f->vals);
	switch (f->op) {
	case CQL_OP_EQ: return c == 0;
	case CQL_OP_LT: return c < 0;
	case CQL_OP_LTE: return c <= 0;
	case CQL_OP_GT: return c > 0;
	case CQL_OP_GTE: return c >= 0;
	default: return false;
	}
}
