#include "coordinator/query/query_int.h"

#include "core/cqltype.h"

#include <string.h>

#define MAX_VALS 128

/* The values of `IN ?`: one bound list<T>, decoded into vals pointing into it. */
static int in_list_values(struct xq *q, const struct cql_relation *r, const struct schema_column *c,
                          struct val **vals, uint32_t *n)
{
	if (!r->term)
		return req_fail(q->req, COL_EINVAL, "IN restriction on %s has no values", c->name);
	struct val lv;
	const struct cqltype *lt = NULL;
	if (r->term->kind == CQL_TERM_BIND)
		lt = bind_type(q->plan, r->term->bind.index);
	int rc = term_value(q, r->term, lt, &lv, c->name);
	if (rc)
		return rc;
	if (lv.len < 0)
		return req_fail(q->req, COL_EINVAL, "Invalid null value for IN list of %s",
		                c->name);
	struct bufreader br;
	bufreader_init(&br, lv.p, (size_t)lv.len);
	int32_t k = (int32_t)bufreader_u32be(&br);
	if (k < 0 || k > MAX_VALS)
		return req_fail(q->req, COL_EINVAL, "IN list of %s too long", c->name);
	uint32_t cnt = (uint32_t)k;
	struct val *v = cql_arena_alloc(q->mem, (cnt ? cnt : 1) * sizeof(*v));
	if (!v)
		return req_fail(q->req, COL_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < cnt; i++) {
		int32_t l = (int32_t)bufreader_u32be(&br);
		v[i].len = l;
		v[i].p = l > 0 ? bufreader_take(&br, (size_t)l) : l == 0 ? exec_empty_value : NULL;
	}
	if (!bufreader_ok(&br))
		return req_fail(q->req, COL_EINVAL, "malformed IN list for %s", c->name);
	*vals = v;
	*n = cnt;
	return 0;
}

int where_values(struct xq *q, const struct cql_relation *r, const struct schema_column *c,
                 struct val **vals, uint32_t *n)
{
	uint32_t cnt = 1;
	struct val *v = NULL;
	int rc = 0;
	if (r->op == CQL_OP_IN && !r->n_in) {
		rc = in_list_values(q, r, c, &v, &cnt);
	} else {
		struct cql_term *const *terms = r->op == CQL_OP_IN ? r->in_items : &r->term;
		cnt = r->op == CQL_OP_IN ? r->n_in : 1;
		v = cql_arena_alloc(q->mem, cnt * sizeof(*v));
		if (!v)
			return req_fail(q->req, COL_ENOMEM, "out of memory");
		for (uint32_t i = 0; i < cnt && !rc; i++)
			rc = term_value(q, terms[i], c->type, &v[i], c->name);
	}
	if (rc)
		return rc;
	for (uint32_t i = 0; i < cnt; i++) {
		if (v[i].len == CQL_VALUE_NULL)
			return req_fail(q->req, COL_EINVAL,
			                "Invalid null value in condition for column %s", c->name);
		if (v[i].len == CQL_VALUE_UNSET)
			return req_fail(q->req, COL_EINVAL, "Invalid unset value for column %s",
			                c->name);
	}
	*vals = v;
	*n = cnt;
	return 0;
}

/* token(pk) op value: narrow the token range (start, end]. */
int where_token(struct xq *q, const struct cql_relation *r, struct where *w)
{
	const struct schema_table *t = q->plan->table;
	if (r->n_cols != t->n_pk)
		return req_fail(q->req, COL_EINVAL,
		                "The token() function must be applied to all partition key "
		                "components or none of them");
	for (uint32_t k = 0; k < r->n_cols; k++)
		if (column_index(t, r->cols[k].name) != (int)k)
			return req_fail(q->req, COL_EINVAL,
			                "The token function arguments must be in the partition key "
			                "order: %s",
			                t->cols[k].name);
	int64_t v;
	int rc = term_int64(q, r->term, true, &v, "partition key token");
	if (rc)
		return rc;
	w->has_token = true;
	switch (r->op) {
	case CQL_OP_GT:
		if (v > w->tok_start)
			w->tok_start = v;
		break;
	case CQL_OP_GTE:
		if (v != INT64_MIN && v - 1 > w->tok_start)
			w->tok_start = v - 1;
		break;
	case CQL_OP_LT:
		if (v == INT64_MIN)
			w->tok_end = INT64_MIN; /* empty */
		else if (v - 1 < w->tok_end)
			w->tok_end = v - 1;
		break;
	case CQL_OP_LTE:
		if (v < w->tok_end)
			w->tok_end = v;
		break;
	case CQL_OP_EQ:
		if (v != INT64_MIN && v - 1 > w->tok_start)
			w->tok_start = v - 1;
		if (v < w->tok_end)
			w->tok_end = v;
		break;
	default:
		return req_fail(q->req, COL_EINVAL, "Unsupported operator %s on token()",
		                cql_op_name(r->op));
	}
	return 0;
}

/* pk = v or pk IN (...) on partition key column c. */
int where_partition(struct xq *q, const struct cql_relation *r, const struct schema_column *c,
                    struct where *w)
{
	if (r->op != CQL_OP_EQ && r->op != CQL_OP_IN)
		return req_fail(q->req, COL_EINVAL,
		                "Only EQ and IN relation are supported on the partition key "
		                "(unless you use the token() function)");
	if (w->pk_vals[c->position])
		return req_fail(q->req, COL_EINVAL,
		                "%s cannot be restricted by more than one relation if it includes "
		                "an Equal",
		                c->name);
	int rc = where_values(q, r, c, &w->pk_vals[c->position], &w->pk_n[c->position]);
	if (rc)
		return rc;
	w->n_pk_restricted++;
	return 0;
}

/* ck > v, ck >= v, ck < v, ck <= v on clustering column c: one bound of the slice. */
int where_slice(struct xq *q, const struct cql_relation *r, const struct schema_column *c,
                struct where *w)
{
	const struct schema_table *t = q->plan->table;
	int pos = c->position;
	if (w->slice_col >= 0 && w->slice_col != pos)
		return req_fail(q->req, COL_EINVAL,
		                "Clustering column \"%s\" cannot be restricted (preceding column "
		                "\"%s\" is restricted by a non-EQ relation)",
		                c->name, t->cols[t->n_pk + (uint32_t)w->slice_col].name);
	w->slice_col = pos;
	struct val *v;
	uint32_t n;
	int rc = where_values(q, r, c, &v, &n);
	if (rc)
		return rc;
	bool lower = r->op == CQL_OP_GT || r->op == CQL_OP_GTE;
	if (lower ? w->has_lower : w->has_upper)
		return req_fail(q->req, COL_EINVAL,
		                "More than one restriction was found for the %s bound on %s",
		                lower ? "start" : "end", c->name);
	if (lower) {
		w->has_lower = true;
		w->lower = v[0];
		w->lower_incl = r->op == CQL_OP_GTE;
	} else {
		w->has_upper = true;
		w->upper = v[0];
		w->upper_incl = r->op == CQL_OP_LTE;
	}
	return 0;
}

/* A relation on clustering column c: = / IN (ck_seen marks it), or a slice bound. */
static int where_clustering(struct xq *q, const struct cql_relation *r,
                            const struct schema_column *c, struct where *w, bool *ck_seen,
                            bool allow_ck_slice)
{
	int pos = c->position;
	switch (r->op) {
	case CQL_OP_EQ:
	case CQL_OP_IN:
		if (ck_seen[pos])
			return req_fail(q->req, COL_EINVAL,
			                "%s cannot be restricted by more than one relation if it "
			                "includes an Equal",
			                c->name);
		ck_seen[pos] = true;
		return where_values(q, r, c, &w->ck_vals[pos], &w->ck_n[pos]);
	case CQL_OP_GT:
	case CQL_OP_GTE:
	case CQL_OP_LT:
	case CQL_OP_LTE:
		if (!allow_ck_slice)
			return req_fail(q->req, COL_EINVAL,
			                "Slice restrictions are not supported on the clustering "
			                "columns here (%s)",
			                c->name);
		return where_slice(q, r, c, w);
	default:
		return req_fail(q->req, COL_EINVAL, "Unsupported operator %s on %s",
		                cql_op_name(r->op), c->name);
	}
}

/* What the relations must form together: an EQ prefix of the clustering columns
 * then the slice, the whole partition key or none of it, and no token() besides. */
static int where_check_shape(struct xq *q, struct where *w, const bool *ck_seen)
{
	const struct schema_table *t = q->plan->table;
	uint32_t k = 0;
	while (k < t->n_ck && ck_seen[k])
		k++;
	w->n_ck_eq = k;
	for (uint32_t j = k; j < t->n_ck; j++)
		if (ck_seen[j])
			return req_fail(
			        q->req, COL_EINVAL,
			        "PRIMARY KEY column \"%s\" cannot be restricted as preceding "
			        "column \"%s\" is not restricted",
			        t->cols[t->n_pk + j].name, t->cols[t->n_pk + k].name);
	if (w->slice_col >= 0 && (uint32_t)w->slice_col != k)
		return req_fail(
		        q->req, COL_EINVAL,
		        "PRIMARY KEY column \"%s\" cannot be restricted as preceding column "
		        "\"%s\" is not restricted",
		        t->cols[t->n_pk + (uint32_t)w->slice_col].name, t->cols[t->n_pk + k].name);
	for (uint32_t j = 0; w->n_pk_restricted && j < t->n_pk; j++)
		if (!w->pk_vals[j])
			return req_fail(
			        q->req, COL_EINVAL,
			        "Cannot execute this query as it might involve data filtering "
			        "and thus may have unpredictable performance (partition key "
			        "part %s is not restricted)",
			        t->cols[j].name);
	if (w->n_pk_restricted && w->has_token)
		return req_fail(q->req, COL_EINVAL,
		                "Partition key restrictions and token() restrictions cannot be "
		                "mixed");
	return 0;
}

void where_init(struct where *w)
{
	memset(w, 0, sizeof(*w));
	w->slice_col = -1;
	w->tok_start = INT64_MIN;
	w->tok_end = INT64_MAX;
}

int analyze_where(struct xq *q, struct cql_relation *const *rels, uint32_t n_rels, struct where *w,
                  bool allow_ck_slice)
{
	const struct schema_table *t = q->plan->table;
	where_init(w);
	bool ck_seen[STORE_MAX_CK_COLS] = {0};
	int rc = 0;
	for (uint32_t i = 0; i < n_rels && !rc; i++) {
		const struct cql_relation *r = rels[i];
		if (r->kind == CQL_REL_TOKEN) {
			rc = where_token(q, r, w);
			continue;
		}
		if (r->kind != CQL_REL_COLUMN) {
			struct buf b;
			buf_init(&b);
			cql_relation_format(r, &b);
			buf_put_u8(&b, 0);
			rc = req_fail(
			        q->req, COL_EINVAL,
			        "Multi-column relations cannot be used in WHERE clauses for UPDATE "
			        "and DELETE statements: %s",
			        buf_ok(&b) ? (const char *)b.data : "?");
			buf_release(&b);
			return rc;
		}
		int ci = column_index(t, r->cols[0].name);
		if (ci < 0)
			return undefined_column(q->req, q->plan, r->cols[0].name);
		const struct schema_column *c = &t->cols[ci];
		if (c->kind == SCHEMA_COL_PARTITION_KEY)
			rc = where_partition(q, r, c, w);
		else if (c->kind == SCHEMA_COL_CLUSTERING)
			rc = where_clustering(q, r, c, w, ck_seen, allow_ck_slice);
		else
			rc = req_fail(q->req, COL_EINVAL,
			              "Non PRIMARY KEY columns found in where clause: %s ",
			              c->name);
	}
	return rc ? rc : where_check_shape(q, w, ck_seen);
}

void where_bounds(const struct where *w, const struct schema_table *t,
                  const struct store_value *prefix, struct store_value *lo, struct store_value *hi,
                  struct store_slice *out)
{
	size_t nlo = w->n_ck_eq, nhi = w->n_ck_eq;
	bool lo_incl = true, hi_incl = true;
	memcpy(lo, prefix, w->n_ck_eq * sizeof(*lo));
	memcpy(hi, prefix, w->n_ck_eq * sizeof(*hi));
	if (w->slice_col >= 0) {
		/* ASC: the lower value bound is the slice start; DESC: its end */
		bool desc = t->cols[t->n_pk + (uint32_t)w->slice_col].desc;
		if (w->has_lower) {
			struct store_value *bd = desc ? &hi[nhi++] : &lo[nlo++];
			*bd = (struct store_value){w->lower.p, (size_t)w->lower.len};
			*(desc ? &hi_incl : &lo_incl) = w->lower_incl;
		}
		if (w->has_upper) {
			struct store_value *bd = desc ? &lo[nlo++] : &hi[nhi++];
			*bd = (struct store_value){w->upper.p, (size_t)w->upper.len};
			*(desc ? &lo_incl : &hi_incl) = w->upper_incl;
		}
	}
	*out = (struct store_slice){lo, nlo, lo_incl, hi, nhi, hi_incl};
}

/* Enumerate the cartesian product of per-column value lists. */
uint64_t where_product(const uint32_t *n, uint32_t cols)
{
	uint64_t p = 1;
	for (uint32_t i = 0; i < cols; i++)
		p *= n[i] ? n[i] : 1;
	return p;
}

void where_pick(struct val *const *vals, const uint32_t *n, uint32_t cols, uint64_t idx,
                struct store_value *out)
{
	for (uint32_t i = cols; i-- > 0;) {
		uint32_t k = (uint32_t)(idx % n[i]);
		idx /= n[i];
		out[i].p = vals[i][k].p;
		out[i].len = (size_t)vals[i][k].len;
	}
}
