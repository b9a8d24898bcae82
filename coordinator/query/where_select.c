/*
 * where_select.c — the WHERE of a table SELECT: what the read can use (the
 * partition key by = and IN, an EQ/IN prefix of the clustering columns and a
 * slice on the next one, a token range) and what is left to filter row by row
 * (filter.c), with the message Cassandra gives when that needs ALLOW FILTERING.
 *
 * What becomes a filter, as Cassandra decides it:
 *  - regular and static columns, CONTAINS, CONTAINS KEY, map entries m[k] = v;
 *  - a partition key restricted in part, or by a slice: then every partition
 *    key relation is a filter and the query is a range scan;
 *  - clustering relations when the partition key is not fully given, and
 *    those that do not continue the EQ/IN prefix (a column skipped, or one
 *    after the slice).
 */
#include "coordinator/query/query_int.h"

#include "core/cqltype.h"

#include <stdio.h>
#include <string.h>

#define MAX_CK_RELS 64

struct ck_rels {
	const struct cql_relation *r[MAX_CK_RELS]; /* single-column (a (c1, c2) = (..) split) */
	uint32_t n;
	const struct cql_relation *m[MAX_CK_RELS]; /* multi-column IN and slices */
	int m_first[MAX_CK_RELS];                  /* position of each one's first column */
	uint32_t nm;
};

static bool is_slice_op(enum cql_op op)
{
	return op == CQL_OP_LT || op == CQL_OP_LTE || op == CQL_OP_GT || op == CQL_OP_GTE;
}

/* "Unsupported "!=" relation: v != 5" and the like: before + the relation + after. */
static int refuse_relation(struct xq *q, const struct cql_relation *r, const char *before,
                           const char *after)
{
	struct buf b;
	buf_init(&b);
	cql_relation_format(r, &b);
	buf_put_u8(&b, 0);
	int rc = req_fail(q->req, COL_EINVAL, "%s%s%s", before,
	                  buf_ok(&b) ? (const char *)b.data : "?", after);
	buf_release(&b);
	return rc;
}

/* fmt (two %s) with a and b, in the request's memory. */
static const char *msg2(struct xq *q, const char *fmt, const char *a, const char *b)
{
	size_t n = strlen(fmt) + strlen(a) + strlen(b) + 1;
	char *m = cql_arena_alloc(q->mem, n);
	if (m)
		snprintf(m, n, fmt, a, b);
	return m ? m : filtering_msg;
}

/* Every partition key relation as a filter: the key is given in part or by a slice. */
static int pk_to_filters(struct xq *q, struct where *w)
{
	const struct schema_table *t = q->plan->table;
	for (uint32_t j = 0; j < t->n_pk; j++) {
		if (!w->pk_vals[j])
			continue;
		int rc = filter_add_values(q, w, (int)j, w->pk_vals[j], w->pk_n[j], filtering_msg);
		if (rc)
			return rc;
		w->pk_vals[j] = NULL;
		w->pk_n[j] = 0;
	}
	w->n_pk_restricted = 0;
	return 0;
}

/* The relations on clustering column k: how many =/IN, slices, and others. */
static void ck_count(const struct schema_table *t, const struct ck_rels *cr, uint32_t k,
                     uint32_t *eq, uint32_t *sl, uint32_t *other)
{
	*eq = *sl = *other = 0;
	for (uint32_t i = 0; i < cr->n; i++) {
		const struct cql_relation *r = cr->r[i];
		int ci = column_index(t, r->cols[0].name);
		if (ci < 0 || t->cols[ci].position != (int)k)
			continue;
		if (r->op == CQL_OP_EQ || r->op == CQL_OP_IN)
			(*eq)++;
		else if (is_slice_op(r->op))
			(*sl)++;
		else
			(*other)++;
	}
}

/* All relations on clustering column k as filters (why: the refusal without ALLOW FILTERING). */
static int ck_filter_col(struct xq *q, struct where *w, const struct ck_rels *cr, uint32_t k,
                         const char *why)
{
	const struct schema_table *t = q->plan->table;
	for (uint32_t i = 0; i < cr->n; i++) {
		int ci = column_index(t, cr->r[i]->cols[0].name);
		if (t->cols[ci].position != (int)k)
			continue;
		int rc = filter_add(q, w, cr->r[i], ci, why);
		if (rc)
			return rc;
	}
	return 0;
}

/* Clustering column k restricted by =/IN alone (one more column of the prefix) or by slices. */
static int ck_prefix_col(struct xq *q, struct where *w, const struct ck_rels *cr, uint32_t k)
{
	const struct schema_table *t = q->plan->table;
	for (uint32_t i = 0; i < cr->n; i++) {
		int ci = column_index(t, cr->r[i]->cols[0].name);
		if (t->cols[ci].position != (int)k)
			continue;
		int rc = is_slice_op(cr->r[i]->op) ? where_slice(q, cr->r[i], &t->cols[ci], w)
		                                   : where_values(q, cr->r[i], &t->cols[ci],
		                                                  &w->ck_vals[k], &w->ck_n[k]);
		if (rc)
			return rc;
	}
	return 0;
}

/* Multi-column relations starting at clustering position k: IN ones and slices. */
static void multi_count(const struct ck_rels *cr, uint32_t k, uint32_t *in, uint32_t *sl)
{
	*in = *sl = 0;
	for (uint32_t i = 0; i < cr->nm; i++)
		if (cr->m_first[i] == (int)k)
			(*(cr->m[i]->op == CQL_OP_IN ? in : sl))++;
}

/* Every multi-column relation starting at position k as a filter. */
static int multi_filter_col(struct xq *q, struct where *w, const struct ck_rels *cr, uint32_t k,
                            const char *why)
{
	int ci = (int)(q->plan->table->n_pk + k);
	for (uint32_t i = 0; i < cr->nm; i++) {
		if (cr->m_first[i] != (int)k)
			continue;
		int rc = filter_add_multi(q, w, cr->m[i], ci, why, false);
		if (rc)
			return rc;
	}
	return 0;
}

/* (c1, c2) IN ((..), ..) from position k: the tuples continue the read's prefix. */
static int multi_in_prefix(struct xq *q, struct where *w, const struct ck_rels *cr, uint32_t k)
{
	const struct cql_relation *r = NULL;
	for (uint32_t i = 0; i < cr->nm && !r; i++)
		if (cr->m_first[i] == (int)k && cr->m[i]->op == CQL_OP_IN)
			r = cr->m[i];
	if (!r->n_in)
		return req_fail(q->req, COL_EINVAL,
		                "A bind marker for a whole IN list of tuples is not supported by "
		                "colonnade (bind each element: (c1, c2) IN ((?, ?), (?, ?)))");
	if (r->n_in > MAX_IN_ROWS)
		return req_fail(q->req, COL_EINVAL,
		                "IN restrictions select too many rows (%u; at "
		                "most %d)",
		                r->n_in, MAX_IN_ROWS);
	w->tup_vals = cql_arena_alloc(q->mem, (size_t)r->n_in * r->n_cols * sizeof(struct val));
	if (!w->tup_vals)
		return req_fail(q->req, COL_ENOMEM, "out of memory");
	int ci = (int)(q->plan->table->n_pk + k);
	for (uint32_t i = 0; i < r->n_in; i++) {
		int rc = tuple_values(q, r, r->in_items[i], ci, &w->tup_vals[i * r->n_cols]);
		if (rc)
			return rc;
	}
	w->n_tup = r->n_in;
	w->tup_pos = k;
	w->tup_cols = r->n_cols;
	w->n_ck_eq = k + r->n_cols;
	return 0;
}

/* (c1, c2) > (..) etc. from position k: the read's slice on c1 (inclusive), and the
 * tuple comparison checked on each row. */
static int multi_slice(struct xq *q, struct where *w, const struct ck_rels *cr, uint32_t k)
{
	const struct schema_table *t = q->plan->table;
	int ci = (int)(t->n_pk + k);
	for (uint32_t i = 0; i < cr->nm; i++) {
		const struct cql_relation *r = cr->m[i];
		if (cr->m_first[i] != (int)k)
			continue;
		int rc = filter_add_multi(q, w, r, ci, NULL, true);
		if (rc)
			return rc;
		bool lower = r->op == CQL_OP_GT || r->op == CQL_OP_GTE;
		if (lower ? w->has_lower : w->has_upper)
			return req_fail(
			        q->req, COL_EINVAL,
			        "More than one restriction was found for the %s bound on %s",
			        lower ? "start" : "end", t->cols[ci].name);
		const struct val *v = w->filt[w->n_filt - 1].vals;
		w->slice_col = (int)k;
		if (lower) {
			w->has_lower = w->lower_incl = true;
			w->lower = v[0];
		} else {
			w->has_upper = w->upper_incl = true;
			w->upper = v[0];
		}
	}
	return 0;
}

enum ck_state { PREFIX, SKIPPED, SLICED, FILTERED };

/* Clustering column k in PREFIX state: prefix value, slice, tuples, or filters. */
static int ck_prefix_step(struct xq *q, struct where *w, const struct ck_rels *cr, uint32_t *k,
                          enum ck_state *st, const char **before)
{
	const struct schema_table *t = q->plan->table;
	const char *name = t->cols[t->n_pk + *k].name;
	uint32_t eq, sl, other, min, msl;
	ck_count(t, cr, *k, &eq, &sl, &other);
	multi_count(cr, *k, &min, &msl);
	if (other) {
		*st = FILTERED;
		int rc = ck_filter_col(q, w, cr, *k, filtering_msg);
		return rc ? rc : multi_filter_col(q, w, cr, *k, filtering_msg);
	}
	if (min) {
		int rc = multi_in_prefix(q, w, cr, *k);
		*k = w->n_ck_eq - 1;
		*st = FILTERED;
		return rc;
	}
	*before = name;
	if (msl) {
		*st = SLICED;
		return multi_slice(q, w, cr, *k);
	}
	int rc = ck_prefix_col(q, w, cr, *k);
	if (sl)
		*st = SLICED;
	else
		w->n_ck_eq = *k + 1;
	return rc;
}

/* Split the clustering relations into the read's prefix and slice, and filters. */
static int ck_shape(struct xq *q, struct where *w, const struct ck_rels *cr, bool partitions)
{
	const struct schema_table *t = q->plan->table;
	enum ck_state st = partitions ? PREFIX : FILTERED;
	const char *before = NULL; /* the column not restricted, or restricted by a slice */
	for (uint32_t k = 0; k < t->n_ck; k++) {
		const char *name = t->cols[t->n_pk + k].name;
		uint32_t eq, sl, other, min, msl;
		ck_count(t, cr, k, &eq, &sl, &other);
		multi_count(cr, k, &min, &msl);
		if (eq > 1 || (eq && (sl || min || msl)) || min > 1 || (min && msl))
			return req_fail(q->req, COL_EINVAL,
			                "%s cannot be restricted by more than one relation if it "
			                "includes an Equal",
			                name);
		if (sl && msl)
			return req_fail(
			        q->req, COL_EINVAL,
			        "Column \"%s\" cannot be restricted by both a tuple notation "
			        "inequality and a single column inequality",
			        name);
		if (!eq && !sl && !other && !min && !msl) {
			if (st == PREFIX) {
				st = SKIPPED;
				before = name;
			}
			continue;
		}
		const char *why = filtering_msg;
		if (st == SKIPPED)
			why = msg2(q,
			           "PRIMARY KEY column \"%s\" cannot be restricted as preceding "
			           "column \"%s\" is not restricted",
			           name, before);
		else if (st == SLICED)
			why = msg2(
			        q,
			        "Clustering column \"%s\" cannot be restricted (preceding column "
			        "\"%s\" is restricted by a non-EQ relation)",
			        name, before);
		int rc;
		if (st == PREFIX) {
			rc = ck_prefix_step(q, w, cr, &k, &st, &before);
		} else {
			rc = ck_filter_col(q, w, cr, k, why);
			if (!rc)
				rc = multi_filter_col(q, w, cr, k, why);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* (c1, c2, ...) op ...: consecutive clustering columns, each once, in key order. */
static int multi_relation(struct xq *q, const struct cql_relation *r, struct ck_rels *cr)
{
	const struct schema_table *t = q->plan->table;
	if (r->op == CQL_OP_NEQ)
		return refuse_relation(q, r, "Unsupported \"!=\" relation: ", "");
	int first = -1;
	for (uint32_t i = 0; i < r->n_cols; i++) {
		int ci = column_index(t, r->cols[i].name);
		if (ci < 0)
			return undefined_column(q->req, q->plan, r->cols[i].name);
		if (t->cols[ci].kind != SCHEMA_COL_CLUSTERING)
			return req_fail(q->req, COL_EINVAL,
			                "Multi-column relations can only be applied to clustering "
			                "columns but was applied to: %s",
			                r->cols[i].name);
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(r->cols[j].name, r->cols[i].name) == 0)
				return refuse_relation(
				        q, r,
				        msg2(q, "Column \"%s\" appeared twice in a relation: %s",
				             r->cols[i].name, ""),
				        "");
		if (i == 0)
			first = t->cols[ci].position;
		else if (t->cols[ci].position != first + (int)i)
			return refuse_relation(
			        q, r,
			        "Clustering columns must appear in the PRIMARY KEY order "
			        "in multi-column relations: ",
			        "");
	}
	if (cr->n + r->n_cols > MAX_CK_RELS || cr->nm >= MAX_CK_RELS)
		return req_fail(q->req, COL_EINVAL, "More than %d relations on clustering columns",
		                MAX_CK_RELS);
	if (r->op != CQL_OP_EQ) {
		cr->m_first[cr->nm] = first;
		cr->m[cr->nm++] = r;
		return 0;
	}
	/* (c1, c2) = (a, b) is c1 = a AND c2 = b */
	struct val v[STORE_MAX_CK_COLS];
	int rc = r->n_cols <= STORE_MAX_CK_COLS
	                 ? tuple_values(q, r, r->term, (int)t->n_pk + first, v)
	                 : req_fail(q->req, COL_EINVAL, "too many columns in a tuple");
	if (rc)
		return rc;
	for (uint32_t i = 0; i < r->n_cols; i++) {
		struct cql_relation *s = cql_arena_alloc(q->mem, sizeof(*s));
		if (!s)
			return req_fail(q->req, COL_ENOMEM, "out of memory");
		*s = (struct cql_relation){.kind = CQL_REL_COLUMN,
		                           .op = CQL_OP_EQ,
		                           .pos = r->pos,
		                           .cols = &r->cols[i],
		                           .n_cols = 1,
		                           .term = r->term->coll.items[i]};
		cr->r[cr->n++] = s;
	}
	return 0;
}

/* One single-column relation (or map entry) of a SELECT's WHERE. */
static int select_relation(struct xq *q, const struct cql_relation *r, struct where *w,
                           struct ck_rels *cr, bool *pk_slice)
{
	const struct schema_table *t = q->plan->table;
	if (r->op == CQL_OP_NEQ)
		return refuse_relation(q, r, "Unsupported \"!=\" relation: ", "");
	int ci = column_index(t, r->cols[0].name);
	if (ci < 0)
		return undefined_column(q->req, q->plan, r->cols[0].name);
	const struct schema_column *c = &t->cols[ci];
	if (r->op == CQL_OP_LIKE)
		return refuse_relation(q, r,
		                       "LIKE restriction is only supported on properly indexed "
		                       "columns. ",
		                       " is not valid.");
	if (r->kind == CQL_REL_ELEMENT)
		return filter_add(q, w, r, ci, filtering_msg);
	switch (c->kind) {
	case SCHEMA_COL_PARTITION_KEY:
		if (r->op == CQL_OP_EQ || r->op == CQL_OP_IN)
			return where_partition(q, r, c, w);
		if (!*pk_slice)
			w->af_msg = w->af_msg
			                    ? w->af_msg
			                    : "Only EQ and IN relation are supported on the "
			                      "partition key (unless you use the token() function "
			                      "or allow filtering)";
		*pk_slice = true;
		return filter_add(q, w, r, ci, filtering_msg);
	case SCHEMA_COL_CLUSTERING:
		if (cr->n >= MAX_CK_RELS)
			return req_fail(q->req, COL_EINVAL,
			                "More than %d relations on clustering columns",
			                MAX_CK_RELS);
		if (cqltype_is_collection(c->type) && !c->type->frozen)
			return filter_add(q, w, r, ci, filtering_msg);
		cr->r[cr->n++] = r;
		return 0;
	default: return filter_add(q, w, r, ci, filtering_msg);
	}
}

/* Whether index ix answers filter f (the column's value, a collection's values,
 * a map's keys or entries, a frozen collection whole). */
static bool index_answers(const struct schema_index *ix, const struct schema_column *c,
                          const struct filter *f)
{
	if (f->n_cols != 1 || f->implied || strcmp(ix->column, c->name) != 0)
		return false;
	bool coll = cqltype_is_collection(c->type) && !c->type->frozen;
	switch (ix->kind) {
	case SCHEMA_INDEX_VALUE:
		return coll ? f->op == CQL_OP_CONTAINS : f->op == CQL_OP_EQ && !f->entry;
	case SCHEMA_INDEX_KEYS: return f->op == CQL_OP_CONTAINS_KEY;
	case SCHEMA_INDEX_ENTRIES: return f->entry && f->op == CQL_OP_EQ;
	case SCHEMA_INDEX_FULL: return f->op == CQL_OP_EQ && !f->entry;
	}
	return false;
}

/*
 * One filter a secondary index answers needs no ALLOW FILTERING (Cassandra
 * uses one index per query); the others still do, with the usual message.
 */
static void use_index(const struct schema_table *t, struct where *w)
{
	for (uint32_t i = 0; i < w->n_filt; i++) {
		struct filter *f = &w->filt[i];
		const struct schema_column *c = &t->cols[f->col];
		for (uint32_t j = 0; j < t->n_indexes; j++) {
			if (!index_answers(&t->indexes[j], c, f))
				continue;
			f->implied = true;
			w->ix = &t->indexes[j];
			w->ix_filt = i;
			w->n_af--;
			if (w->n_af == 0)
				w->af_msg = NULL;
			else if (w->af_msg)
				w->af_msg = filtering_msg;
			return;
		}
	}
}

int analyze_select_where(struct xq *q, struct cql_relation *const *rels, uint32_t n_rels,
                         struct where *w)
{
	const struct schema_table *t = q->plan->table;
	where_init(w);
	struct ck_rels cr = {.n = 0};
	bool pk_slice = false;
	int rc = 0;
	for (uint32_t i = 0; i < n_rels && !rc; i++) {
		const struct cql_relation *r = rels[i];
		if (r->kind == CQL_REL_TOKEN)
			rc = where_token(q, r, w);
		else if (r->kind == CQL_REL_MULTI)
			rc = multi_relation(q, r, &cr);
		else
			rc = select_relation(q, r, w, &cr, &pk_slice);
	}
	if (rc)
		return rc;
	if (w->n_pk_restricted && (w->n_pk_restricted < t->n_pk || pk_slice))
		rc = pk_to_filters(q, w);
	if (!rc && w->n_pk_restricted && w->has_token)
		rc = req_fail(q->req, COL_EINVAL,
		              "Partition key restrictions and token() restrictions cannot be "
		              "mixed");
	if (!rc)
		rc = ck_shape(q, w, &cr, w->n_pk_restricted == t->n_pk);
	if (!rc && t->n_indexes)
		use_index(t, w);
	return rc;
}
