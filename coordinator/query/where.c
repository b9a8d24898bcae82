#include "coordinator/query/query_int.h"

#include "core/cqltype.h"

#include <string.h>

#define MAX_VALS 128

static int where_values(struct xq *q, const struct cql_relation *r, const struct schema_column *c,
                        struct val **vals, uint32_t *n)
{
	uint32_t cnt;
	struct val *v;
	if (r->op == CQL_OP_IN) {
		if (r->n_in) {
			cnt = r->n_in;
			v = cql_arena_alloc(q->mem, cnt * sizeof(*v));
			if (!v)
				return req_fail(q->req, CQL_ERR_SERVER, "out of memory");
			for (uint32_t i = 0; i < cnt; i++)
				if (term_value(q, r->in_items[i], c->type, &v[i], c->name))
					return -1;
		} else {
			/* IN ?: a list of values */
			struct val lv;
			const struct cqltype *lt = NULL;
			if (r->term && r->term->kind == CQL_TERM_BIND)
				lt = bind_type(q->plan, r->term->bind.index);
			if (!r->term || term_value(q, r->term, lt, &lv, c->name))
				return -1;
			if (lv.len < 0)
				return req_fail(q->req, CQL_ERR_INVALID,
				                "Invalid null value for IN list of %s", c->name);
			struct bufreader br;
			bufreader_init(&br, lv.p, (size_t)lv.len);
			int32_t k = (int32_t)bufreader_u32be(&br);
			if (k < 0 || k > MAX_VALS)
				return req_fail(q->req, CQL_ERR_INVALID, "IN list of %s too long",
				                c->name);
			cnt = (uint32_t)k;
			v = cql_arena_alloc(q->mem, (cnt ? cnt : 1) * sizeof(*v));
			if (!v)
				return req_fail(q->req, CQL_ERR_SERVER, "out of memory");
			for (uint32_t i = 0; i < cnt; i++) {
				int32_t l = (int32_t)bufreader_u32be(&br);
				v[i].len = l;
				v[i].p = l > 0    ? bufreader_take(&br, (size_t)l)
				         : l == 0 ? exec_empty_value
				                  : NULL;
			}
			if (!bufreader_ok(&br))
				return req_fail(q->req, CQL_ERR_INVALID, "malformed IN list for %s",
				                c->name);
		}
	} else {
		cnt = 1;
		v = cql_arena_alloc(q->mem, sizeof(*v));
		if (!v)
			return req_fail(q->req, CQL_ERR_SERVER, "out of memory");
		if (term_value(q, r->term, c->type, v, c->name))
			return -1;
	}
	for (uint32_t i = 0; i < cnt; i++) {
		if (v[i].len == CQL_VALUE_NULL)
			return req_fail(q->req, CQL_ERR_INVALID,
			                "Invalid null value in condition for column %s", c->name);
		if (v[i].len == CQL_VALUE_UNSET)
			return req_fail(q->req, CQL_ERR_INVALID,
			                "Invalid unset value for column %s", c->name);
	}
	*vals = v;
	*n = cnt;
	return 0;
}

int analyze_where(struct xq *q, struct cql_relation *const *rels, uint32_t n_rels, struct where *w,
                  bool allow_ck_slice)
{
	const struct schema_table *t = q->plan->table;
	const struct plan *p = q->plan;
	memset(w, 0, sizeof(*w));
	w->slice_col = -1;
	w->tok_start = INT64_MIN;
	w->tok_end = INT64_MAX;
	bool ck_seen[STORE_MAX_CK_COLS] = {0};
	for (uint32_t i = 0; i < n_rels; i++) {
		const struct cql_relation *r = rels[i];
		if (r->kind == CQL_REL_TOKEN) {
			if (r->n_cols != t->n_pk)
				return req_fail(
				        q->req, CQL_ERR_INVALID,
				        "The token() function must be applied to all partition key "
				        "components or none of them");
			for (uint32_t k = 0; k < r->n_cols; k++)
				if (column_index(t, r->cols[k].name) != (int)k)
					return req_fail(
					        q->req, CQL_ERR_INVALID,
					        "The token function arguments must be in the "
					        "partition key order: %s",
					        t->cols[k].name);
			int64_t v;
			if (term_int64(q, r->term, true, &v, "partition key token"))
				return -1;
			w->has_token = true;
			switch (r->op) {
			case CQL_OP_GT:
				if (v > w->tok_start)
					w->tok_start = v;
				break;
			case CQL_OP_GTE:
				if (v == INT64_MIN)
					break;
				if (v - 1 > w->tok_start)
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
				return req_fail(q->req, CQL_ERR_INVALID,
				                "Unsupported operator %s on token()",
				                cql_op_name(r->op));
			}
			continue;
		}
		if (r->kind != CQL_REL_COLUMN)
			return req_fail(q->req, CQL_ERR_INVALID,
			                "Multi-column relations are not supported by colonnade");
		int ci = column_index(t, r->cols[0].name);
		if (ci < 0)
			return undefined_column(q->req, p, r->cols[0].name);
		const struct schema_column *c = &t->cols[ci];
		if (c->kind == SCHEMA_COL_PARTITION_KEY) {
			if (r->op != CQL_OP_EQ && r->op != CQL_OP_IN)
				return req_fail(
				        q->req, CQL_ERR_INVALID,
				        "Only EQ and IN relation are supported on the partition "
				        "key (unless you use the token() function)");
			if (w->pk_vals[c->position])
				return req_fail(
				        q->req, CQL_ERR_INVALID,
				        "%s cannot be restricted by more than one relation if it "
				        "includes an Equal",
				        c->name);
			if (where_values(q, r, c, &w->pk_vals[c->position], &w->pk_n[c->position]))
				return -1;
			w->n_pk_restricted++;
		} else if (c->kind == SCHEMA_COL_CLUSTERING) {
			int pos = c->position;
			if (r->op == CQL_OP_EQ || r->op == CQL_OP_IN) {
				if (ck_seen[pos])
					return req_fail(
					        q->req, CQL_ERR_INVALID,
					        "%s cannot be restricted by more than one relation "
					        "if it includes an Equal",
					        c->name);
				ck_seen[pos] = true;
				if (where_values(q, r, c, &w->ck_vals[pos], &w->ck_n[pos]))
					return -1;
			} else if (r->op == CQL_OP_GT || r->op == CQL_OP_GTE ||
			           r->op == CQL_OP_LT || r->op == CQL_OP_LTE) {
				if (!allow_ck_slice)
					return req_fail(
					        q->req, CQL_ERR_INVALID,
					        "Slice restrictions are not supported on the "
					        "clustering columns here (%s)",
					        c->name);
				if (w->slice_col >= 0 && w->slice_col != pos)
					return req_fail(
					        q->req, CQL_ERR_INVALID,
					        "Clustering column \"%s\" cannot be restricted "
					        "(preceding column \"%s\" is restricted by a "
					        "non-EQ relation)",
					        c->name,
					        t->cols[t->n_pk + (uint32_t)w->slice_col].name);
				w->slice_col = pos;
				struct val *v;
				uint32_t n;
				if (where_values(q, r, c, &v, &n))
					return -1;
				if (r->op == CQL_OP_GT || r->op == CQL_OP_GTE) {
					if (w->has_lower)
						return req_fail(
						        q->req, CQL_ERR_INVALID,
						        "More than one restriction was found "
						        "for the "
						        "start bound on %s",
						        c->name);
					w->has_lower = true;
					w->lower = v[0];
					w->lower_incl = r->op == CQL_OP_GTE;
				} else {
					if (w->has_upper)
						return req_fail(
						        q->req, CQL_ERR_INVALID,
						        "More than one restriction was found "
						        "for the "
						        "end bound on %s",
						        c->name);
					w->has_upper = true;
					w->upper = v[0];
					w->upper_incl = r->op == CQL_OP_LTE;
				}
			} else {
				return req_fail(q->req, CQL_ERR_INVALID,
				                "Unsupported operator %s on %s", cql_op_name(r->op),
				                c->name);
			}
		} else {
			return req_fail(
			        q->req, CQL_ERR_INVALID,
			        "Cannot execute this query as it might involve data filtering "
			        "and thus may have unpredictable performance. Colonnade does "
			        "not filter on non-primary-key column %s",
			        c->name);
		}
	}
	/* clustering restrictions must form an EQ prefix, then the slice */
	uint32_t k = 0;
	while (k < t->n_ck && ck_seen[k])
		k++;
	w->n_ck_eq = k;
	for (uint32_t j = k; j < t->n_ck; j++)
		if (ck_seen[j])
			return req_fail(
			        q->req, CQL_ERR_INVALID,
			        "PRIMARY KEY column \"%s\" cannot be restricted as preceding "
			        "column \"%s\" is not restricted",
			        t->cols[t->n_pk + j].name, t->cols[t->n_pk + k].name);
	if (w->slice_col >= 0 && (uint32_t)w->slice_col != k)
		return req_fail(
		        q->req, CQL_ERR_INVALID,
		        "PRIMARY KEY column \"%s\" cannot be restricted as preceding column "
		        "\"%s\" is not restricted",
		        t->cols[t->n_pk + (uint32_t)w->slice_col].name, t->cols[t->n_pk + k].name);
	if (w->n_pk_restricted && w->n_pk_restricted < t->n_pk) {
		for (uint32_t j = 0; j < t->n_pk; j++)
			if (!w->pk_vals[j])
				return req_fail(
				        q->req, CQL_ERR_INVALID,
				        "Cannot execute this query as it might involve data "
				        "filtering and thus may have unpredictable performance "
				        "(partition key part %s is not restricted)",
				        t->cols[j].name);
	}
	if (w->n_pk_restricted && w->has_token)
		return req_fail(
		        q->req, CQL_ERR_INVALID,
		        "Partition key restrictions and token() restrictions cannot be mixed");
	return 0;
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
