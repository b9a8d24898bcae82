/*
 * plan_select.c — the selectors of a SELECT checked against the table: columns,
 * WRITETIME/TTL, token(), native functions (functions.h), CAST, aggregates, and
 * GROUP BY.  Result column names are Cassandra 4's: "count" for count(*),
 * "system.max(v)", "system.token(k)", "cast(v as text)", "writetime(v)", or the
 * alias given with AS.
 */
#include "coordinator/query/functions.h"
#include "coordinator/query/query_int.h"

#include "core/cqltype.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int plan_sel(struct exec_req *req, struct plan *p, const struct cql_selector *x,
                    struct sel_col *o, bool top);

/* A string in the plan's arena (result column names). */
static const char *pname(struct plan *p, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static const char *pname(struct plan *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *s = n >= 0 ? cql_arena_alloc(p->arena, (size_t)n + 1) : NULL;
	if (!s)
		return "?";
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* "a, b, c": the names of the arguments, as Cassandra joins them in a column name. */
static const char *arg_names(struct plan *p, const struct sel_col *args, uint32_t n)
{
	struct buf b;
	buf_init(&b);
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			buf_put_str(&b, ", ");
		buf_put_str(&b, args[i].name);
	}
	buf_put_u8(&b, 0);
	const char *s = buf_ok(&b) ? pname(p, "%s", (const char *)b.data) : "?";
	buf_release(&b);
	return s;
}

/* writetime(c) / ttl(c): a regular or static column, not a non-frozen collection or UDT. */
static int plan_cell_meta(struct exec_req *req, struct plan *p, const struct cql_selector *x,
                          int ci, struct sel_col *o)
{
	const struct schema_column *c = &p->table->cols[ci];
	bool ttl = x->kind == CQL_SEL_TTL;
	if (c->kind == SCHEMA_COL_PARTITION_KEY || c->kind == SCHEMA_COL_CLUSTERING)
		return req_fail(req, COL_EINVAL,
		                "Cannot use selection function %s on PRIMARY KEY part %s",
		                ttl ? "ttl" : "writeTime", c->name);
	if (cqltype_is_multicell(c->type))
		return req_fail(req, COL_EINVAL,
		                "Cannot use selection function %s on non-frozen %s %s",
		                ttl ? "ttl" : "writeTime",
		                c->type->kind == CQLTYPE_UDT ? "UDT" : "collection", c->name);
	o->kind = ttl ? SEL_TTL : SEL_WRITETIME;
	o->type = cqltype_simple(ttl ? CQLTYPE_INT : CQLTYPE_BIGINT);
	o->name = pname(p, "%s(%s)", ttl ? "ttl" : "writetime", x->column.name);
	return 0;
}

/* token(pk columns in order). */
static int plan_token(struct exec_req *req, struct plan *p, const struct cql_selector *x,
                      struct sel_col *o)
{
	const struct schema_table *t = p->table;
	if (x->n_args != t->n_pk)
		return req_fail(req, COL_EINVAL,
		                "Invalid number of arguments in call to function system.token: %u "
		                "required but %u provided",
		                t->n_pk, x->n_args);
	struct buf b;
	buf_init(&b);
	for (uint32_t a = 0; a < x->n_args; a++) {
		if (x->args[a].kind != CQL_SEL_COLUMN ||
		    column_index(t, x->args[a].column.name) != (int)a) {
			buf_release(&b);
			return req_fail(
			        req, COL_EINVAL,
			        "Type error: %s cannot be passed as argument %u of function "
			        "system.token of type %s",
			        x->args[a].kind == CQL_SEL_COLUMN ? x->args[a].column.name
			                                          : "the value",
			        a, cqltype_kind_name(t->cols[a].type->kind));
		}
		buf_printf(&b, "%s%s", a ? ", " : "", x->args[a].column.name);
	}
	buf_put_u8(&b, 0);
	*o = (struct sel_col){SEL_TOKEN, 0, "system.token", cqltype_simple(CQLTYPE_BIGINT)};
	if (buf_ok(&b))
		o->name = pname(p, "system.token(%s)", (const char *)b.data);
	buf_release(&b);
	return 0;
}

static const struct {
	const char *name;
	enum agg_fn agg;
} aggs[] = {{"count", AGG_COUNT},
            {"min", AGG_MIN},
            {"max", AGG_MAX},
            {"sum", AGG_SUM},
            {"avg", AGG_AVG}};

/* The numeric types SUM and AVG are defined over, as Cassandra lists them. */
static const char numeric_sigs[] =
        "tinyint) -> tinyint, system.%1$s : (smallint) -> smallint, system.%1$s : (int) -> "
        "int, system.%1$s : (bigint) -> bigint, system.%1$s : (float) -> float, system.%1$s : "
        "(double) -> double, system.%1$s : (decimal) -> decimal, system.%1$s : (varint) -> "
        "varint, system.%1$s : (counter) -> bigint";

/* count(x), min(x), max(x), sum(x), avg(x). */
static int plan_agg(struct exec_req *req, struct plan *p, const struct cql_selector *x,
                    enum agg_fn agg, struct sel_col *o, bool top)
{
	const char *fn = x->func.name.name;
	if (!top)
		return req_fail(req, COL_EINVAL,
		                "aggregate functions cannot be used as arguments of aggregate "
		                "functions or functions (%s)",
		                fn);
	if (x->n_args != 1)
		return req_fail(req, COL_EINVAL,
		                "Invalid number of arguments in call to function system.%s: 1 "
		                "required but %u provided",
		                fn, x->n_args);
	struct sel_col *a = cql_arena_alloc(p->arena, sizeof(*a));
	if (!a)
		return req_fail(req, COL_ENOMEM, "out of memory");
	int rc = plan_sel(req, p, &x->args[0], a, false);
	if (rc)
		return rc;
	enum cqltype_kind k = a->type->kind;
	const struct cqltype *ty = a->type;
	if (agg == AGG_COUNT)
		ty = cqltype_simple(CQLTYPE_BIGINT);
	if (agg == AGG_SUM || agg == AGG_AVG) {
		char sigs[sizeof(numeric_sigs) + 160];
		snprintf(sigs, sizeof(sigs), numeric_sigs, fn);
		if (k != CQLTYPE_TINYINT && k != CQLTYPE_SMALLINT && k != CQLTYPE_INT &&
		    k != CQLTYPE_BIGINT && k != CQLTYPE_COUNTER && k != CQLTYPE_FLOAT &&
		    k != CQLTYPE_DOUBLE && k != CQLTYPE_VARINT && k != CQLTYPE_DECIMAL)
			return req_fail(req, COL_EINVAL,
			                "Invalid call to function %s, none of its type signatures "
			                "match (known type signatures: system.%s : (%s)",
			                fn, fn, sigs);
		if (k == CQLTYPE_COUNTER)
			ty = cqltype_simple(CQLTYPE_BIGINT);
	}
	*o = (struct sel_col){.kind = SEL_AGG, .agg = agg, .type = ty, .args = a, .n_args = 1};
	o->name = pname(p, "system.%s(%s)", fn, a->name);
	p->count = true;
	return 0;
}

/* A literal argument of a function, converted to the type the function takes. */
static int plan_const(struct exec_req *req, struct plan *p, const struct cql_term *t,
                      enum cqltype_kind kind, struct sel_col *o)
{
	struct buf b;
	buf_init(&b);
	cql_term_format(t, &b);
	buf_put_u8(&b, 0);
	o->kind = SEL_CONST;
	o->type = cqltype_simple(kind);
	o->name = buf_ok(&b) ? pname(p, "%s", (const char *)b.data) : "?";
	buf_release(&b);
	if (t->kind == CQL_TERM_NULL) {
		o->konst = (struct val){NULL, CQL_VALUE_NULL};
		return 0;
	}
	if (t->kind == CQL_TERM_BIND || !t->text)
		return req_fail(req, COL_EINVAL,
		                "%s arguments of functions in a selection are not supported by "
		                "colonnade (at line %u:%u)",
		                t->kind == CQL_TERM_BIND ? "bind marker"
		                                         : cql_term_kind_name(t->kind),
		                t->pos.line, t->pos.col);
	struct cerr e = {0};
	if (cqltype_from_literal(o->type, term_lit_kind(t->kind), t->text, t->text_len, &b, &e)) {
		buf_release(&b);
		return req_fail(req, COL_EINVAL,
		                "Invalid %s constant (%s) for function argument "
		                "of type %s",
		                cql_term_kind_name(t->kind), o->name, cqltype_kind_name(kind));
	}
	uint8_t *m = cql_arena_alloc(p->arena, b.len ? b.len : 1);
	if (!m || !buf_ok(&b)) {
		buf_release(&b);
		return req_fail(req, COL_ENOMEM, "out of memory");
	}
	memcpy(m, b.data, b.len);
	o->konst = (struct val){b.len ? m : exec_empty_value, (int32_t)b.len};
	buf_release(&b);
	return 0;
}

/* name(args) of the native function registry. */
static int plan_call(struct exec_req *req, struct plan *p, const struct cql_selector *x,
                     struct sel_col *o)
{
	const char *fn = x->func.name.name;
	if (x->n_args > FN_MAX_ARGS && func_exists(fn))
		return req_fail(req, COL_EINVAL,
		                "Invalid call to function %s, none of its type signatures match",
		                fn);
	struct sel_col *a = cql_arena_alloc(p->arena, (x->n_args ? x->n_args : 1) * sizeof(*a));
	if (!a)
		return req_fail(req, COL_ENOMEM, "out of memory");
	const struct cqltype *types[FN_MAX_ARGS] = {0};
	const char *texts[FN_MAX_ARGS] = {0};
	for (uint32_t i = 0; i < x->n_args && i < FN_MAX_ARGS; i++) {
		texts[i] = "?";
		if (x->args[i].kind == CQL_SEL_TERM)
			continue;
		int rc = plan_sel(req, p, &x->args[i], &a[i], false);
		if (rc)
			return rc;
		types[i] = a[i].type;
		texts[i] = a[i].name;
	}
	const struct func_def *f;
	struct cerr e = {0};
	if (func_resolve(fn, x->n_args, types, texts, &f, &e))
		return req_fail(req, COL_EINVAL, "%s", e.msg);
	if (f->ret == CQLTYPE_CUSTOM) /* fromJson: its type is its receiver's */
		return req_fail(req, COL_EINVAL,
		                "fromJson() cannot be used in the selection clause of a SELECT "
		                "statement");
	for (uint32_t i = 0; i < x->n_args; i++)
		if (x->args[i].kind == CQL_SEL_TERM && f->args[i] == CQLTYPE_CUSTOM)
			return req_fail(req, COL_EINVAL,
			                "Cannot infer type of argument %s in call to function "
			                "system.%s: use type casts to disambiguate",
			                x->args[i].term && x->args[i].term->text
			                        ? x->args[i].term->text
			                        : "?",
			                f->name);
		else if (x->args[i].kind == CQL_SEL_TERM) {
			int rc = plan_const(req, p, x->args[i].term, f->args[i], &a[i]);
			if (rc)
				return rc;
		}
	*o = (struct sel_col){.kind = SEL_FUNC,
	                      .fn = f,
	                      .type = cqltype_simple(f->ret),
	                      .args = a,
	                      .n_args = x->n_args};
	o->name = pname(p, "system.%s(%s)", f->name, arg_names(p, a, x->n_args));
	p->has_funcs = true;
	return 0;
}

/* CAST(x AS type): a native type Cassandra can convert x's type to. */
static int plan_cast(struct exec_req *req, struct plan *p, const struct cql_selector *x,
                     struct sel_col *o)
{
	const struct cqltype *to = NULL;
	struct cerr e = {0};
	const char *tn = x->cast_type->text;
	if (cqltype_parse(tn, strlen(tn), &to, &e) || cqltype_is_collection(to)) {
		if (to)
			cqltype_free(to);
		return req_fail(req, COL_EINVAL, "Unknown type %s for CAST", tn);
	}
	enum cqltype_kind k = to->kind;
	cqltype_free(to);
	struct sel_col *a = cql_arena_alloc(p->arena, sizeof(*a));
	if (!a)
		return req_fail(req, COL_ENOMEM, "out of memory");
	if (x->args[0].kind == CQL_SEL_TERM)
		return req_fail(req, COL_EINVAL,
		                "CAST takes a column or a function, not a literal");
	int rc = plan_sel(req, p, &x->args[0], a, false);
	if (rc)
		return rc;
	if (cqltype_is_collection(a->type) || !cast_allowed(a->type->kind, k))
		return req_fail(req, COL_EINVAL, "%s cannot be cast to %s", a->name, tn);
	*o = (struct sel_col){.kind = SEL_CAST, .type = cqltype_simple(k), .args = a, .n_args = 1};
	o->name = pname(p, "cast(%s as %s)", a->name, tn);
	p->has_funcs = true;
	return 0;
}

/* A function selector: token(), an aggregate, or a registry function. */
static int plan_func(struct exec_req *req, struct plan *p, const struct cql_selector *x,
                     struct sel_col *o, bool top)
{
	const char *fn = x->func.name.name;
	if (x->func.ks.name && strcmp(x->func.ks.name, "system") != 0)
		return req_fail(req, COL_EINVAL,
		                "User-defined functions are not supported by colonnade (%s.%s)",
		                x->func.ks.name, fn);
	if (strcmp(fn, "token") == 0)
		return plan_token(req, p, x, o);
	for (size_t i = 0; i < sizeof(aggs) / sizeof(aggs[0]); i++)
		if (strcmp(fn, aggs[i].name) == 0)
			return plan_agg(req, p, x, aggs[i].agg, o, top);
	return plan_call(req, p, x, o);
}

static int plan_sel(struct exec_req *req, struct plan *p, const struct cql_selector *x,
                    struct sel_col *o, bool top)
{
	const struct schema_table *t = p->table;
	int ci;
	switch (x->kind) {
	case CQL_SEL_COLUMN:
	case CQL_SEL_WRITETIME:
	case CQL_SEL_TTL:
		ci = column_index(t, x->column.name);
		if (ci < 0)
			return undefined_column(req, p, x->column.name);
		o->col = ci;
		if (x->kind != CQL_SEL_COLUMN)
			return plan_cell_meta(req, p, x, ci, o);
		o->kind = SEL_COLUMN;
		o->name = t->cols[ci].name;
		o->type = t->cols[ci].type;
		return 0;
	case CQL_SEL_COUNT:
		if (!top)
			return req_fail(req, COL_EINVAL,
			                "aggregate functions cannot be used as arguments of "
			                "aggregate functions or functions (count)");
		*o = (struct sel_col){SEL_COUNT, 0, "count", cqltype_simple(CQLTYPE_BIGINT)};
		p->count = true;
		return 0;
	case CQL_SEL_FUNC: return plan_func(req, p, x, o, top);
	case CQL_SEL_CAST: return plan_cast(req, p, x, o);
	case CQL_SEL_ELEMENT:
	case CQL_SEL_SLICE:
	case CQL_SEL_FIELD: return plan_subsel(req, p, x, o, plan_sel);
	default:
		return req_fail(req, COL_EINVAL, "Unsupported selector at line %u:%u", x->pos.line,
		                x->pos.col);
	}
}

/* Whether the WHERE restricts column `name` by = (one value: the same in every row). */
static bool restricted_by_eq(const struct cql_select *s, const char *name)
{
	for (uint32_t i = 0; i < s->n_where; i++) {
		const struct cql_relation *r = s->where[i];
		if (r->op != CQL_OP_EQ || (r->kind != CQL_REL_COLUMN && r->kind != CQL_REL_MULTI))
			continue;
		for (uint32_t j = 0; j < r->n_cols; j++)
			if (strcmp(r->cols[j].name, name) == 0)
				return true;
	}
	return false;
}

/*
 * GROUP BY: primary key columns in key order, starting with the partition key; a
 * column may be left out where the WHERE fixes it by = (Cassandra's rule).  The
 * groups are then the prefixes up to the last column named.
 */
static int plan_group_by(struct exec_req *req, struct plan *p)
{
	const struct cql_select *s = &p->stmt->select;
	const struct schema_table *t = p->table;
	static const char order_msg[] = "Group by currently only support groups of columns "
	                                "following their declared order in the PRIMARY KEY";
	int next = 0; /* the next primary key column a GROUP BY column may be */
	for (uint32_t i = 0; i < s->n_group_by; i++) {
		int ci = column_index(t, s->group_by[i].name);
		if (ci < 0)
			return undefined_column(req, p, s->group_by[i].name);
		enum schema_col_kind k = t->cols[ci].kind;
		if (k != SCHEMA_COL_PARTITION_KEY && k != SCHEMA_COL_CLUSTERING)
			return req_fail(
			        req, COL_EINVAL,
			        "Group by is currently only supported on the columns of the "
			        "PRIMARY KEY, got %s",
			        s->group_by[i].name);
		for (; next < ci; next++)
			if (!restricted_by_eq(s, t->cols[next].name))
				return req_fail(req, COL_EINVAL, "%s", order_msg);
		if (ci != next)
			return req_fail(req, COL_EINVAL, "%s", order_msg);
		next = ci + 1;
	}
	if (s->n_group_by && next < (int)t->n_pk)
		return req_fail(req, COL_EINVAL, "%s", order_msg);
	if (s->n_group_by && s->distinct && next > (int)t->n_pk)
		return req_fail(req, COL_EINVAL,
		                "Grouping on clustering columns is not allowed for SELECT DISTINCT "
		                "queries");
	p->n_group = s->n_group_by ? (uint32_t)next : 0;
	if (p->n_group)
		p->count = true;
	return 0;
}

int plan_select(struct exec_req *req, struct plan *p)
{
	const struct cql_select *s = &p->stmt->select;
	const struct schema_table *t = p->table;
	p->json = s->json;
	uint32_t n = s->star ? t->n_cols : s->n_selectors;
	p->sel = calloc(n ? n : 1, sizeof(*p->sel));
	if (!p->sel)
		return req_fail(req, COL_ENOMEM, "out of memory");
	p->n_sel = n;
	for (uint32_t i = 0; s->star && i < n; i++)
		p->sel[i] = (struct sel_col){SEL_COLUMN, (int)i, t->cols[i].name, t->cols[i].type};
	for (uint32_t i = 0; !s->star && i < n; i++) {
		int rc = plan_sel(req, p, &s->selectors[i], &p->sel[i], true);
		if (rc)
			return rc;
		if (s->selectors[i].alias.name)
			p->sel[i].name = s->selectors[i].alias.name;
	}
	return plan_group_by(req, p);
}
