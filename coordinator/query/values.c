#include "coordinator/query/query_int.h"

#include "coordinator/query/functions.h"
#include "core/clock.h"
#include "core/cqltype.h"

#include <stdio.h>
#include <string.h>

static int bound_value(struct xq *q, uint32_t idx, const struct cqltype *type, struct val *out,
                       const char *what)
{
	if (idx >= q->n_values)
		return req_fail(q->req, COL_EINVAL,
		                "There were %u markers(?) in CQL but %u bound variables",
		                q->plan ? q->plan->n_binds : idx + 1, q->n_values);
	const struct cql_slice *v = &q->values[idx];
	out->p = v->p;
	out->len = v->len;
	if (v->len >= 0 && type) {
		struct cerr e = {0};
		if (cqltype_validate(type, v->p, (size_t)v->len, &e))
			return req_fail(q->req, COL_EINVAL, "Invalid value for %s: %s", what,
			                e.msg);
	}
	return 0;
}

enum cqllit_kind term_lit_kind(enum cql_term_kind k)
{
	switch (k) {
	case CQL_TERM_STRING: return CQLLIT_STRING;
	case CQL_TERM_INTEGER: return CQLLIT_INTEGER;
	case CQL_TERM_FLOAT: return CQLLIT_FLOAT;
	case CQL_TERM_BOOL: return CQLLIT_BOOLEAN;
	case CQL_TERM_UUID: return CQLLIT_UUID;
	case CQL_TERM_BLOB: return CQLLIT_HEX;
	case CQL_TERM_DURATION: return CQLLIT_DURATION;
	default: return CQLLIT_NULL;
	}
}

static int store_bytes(struct xq *q, const struct buf *b, struct val *out)
{
	uint8_t *m = cql_arena_alloc(q->mem, b->len ? b->len : 1);
	if (!m || !buf_ok(b))
		return req_fail(q->req, COL_ENOMEM, "out of memory converting a value");
	if (b->len)
		memcpy(m, b->data, b->len);
	out->p = m;
	out->len = (int32_t)b->len;
	return 0;
}

/* One element, key or value of a collection literal: never null. */
static int collection_part(struct xq *q, const struct cql_term *t, const struct cqltype *type,
                           const char *what, const void **p, size_t *len)
{
	struct val v;
	int rc = term_value(q, t, type, &v, what);
	if (rc)
		return rc;
	if (v.len < 0)
		return req_fail(q->req, COL_EINVAL, "null is not supported inside collections");
	*p = v.p;
	*len = (size_t)v.len;
	return 0;
}

/* Type t's CQL name in dst (cap bytes), cut if longer; returns dst. */
static const char *tname(const struct cqltype *t, char *dst, size_t cap)
{
	struct buf b;
	buf_init(&b);
	cqltype_name(t, &b);
	size_t n = b.len < cap - 1 ? b.len : cap - 1;
	if (n)
		memcpy(dst, b.data, n);
	dst[n] = 0;
	buf_release(&b);
	return dst;
}

/* (a, b, ...) for a tuple type: each item a value of its field, or null. */
static int tuple_value(struct xq *q, const struct cql_term *t, const struct cqltype *type,
                       struct val *out, const char *what)
{
	char nb[128];
	if (type->kind != CQLTYPE_TUPLE)
		return req_fail(q->req, COL_EINVAL, "Invalid tuple literal for %s of type %s", what,
		                tname(type, nb, sizeof(nb)));
	if (t->coll.n_items > type->n_fields)
		return req_fail(
		        q->req, COL_EINVAL,
		        "Invalid tuple literal for %s: too many elements. Type %s expects %u "
		        "but got %u",
		        what, tname(type, nb, sizeof(nb)), type->n_fields, t->coll.n_items);
	struct buf b;
	buf_init(&b);
	int rc = 0;
	for (uint32_t i = 0; i < t->coll.n_items && !rc; i++) {
		struct val v;
		rc = term_value(q, t->coll.items[i], type->fields[i], &v, what);
		if (!rc && v.len == CQL_VALUE_UNSET)
			rc = req_fail(q->req, COL_EINVAL,
			              "Invalid unset value for tuple field number %u", i);
		if (!rc)
			cql_put_bytes(&b, v.p, v.len < 0 ? -1 : v.len);
	}
	if (!rc)
		rc = store_bytes(q, &b, out);
	buf_release(&b);
	return rc;
}

/* {field: value, ...} for a user type: fields in the type's order, the others null. */
static int udt_value(struct xq *q, const struct cql_term *t, const struct cqltype *type,
                     struct val *out, const char *what)
{
	char nb[128];
	if (type->kind != CQLTYPE_UDT)
		return req_fail(q->req, COL_EINVAL, "Invalid user type literal for %s of type %s",
		                what, tname(type, nb, sizeof(nb)));
	struct val vals[CQLTYPE_MAX_FIELDS];
	for (uint32_t i = 0; i < type->n_fields; i++)
		vals[i] = (struct val){NULL, CQL_VALUE_NULL};
	for (uint32_t i = 0; i < t->udt.n_fields; i++) {
		const char *fn = t->udt.names[i].name;
		int at = cqltype_udt_field(type, fn, strlen(fn));
		if (at < 0)
			return req_fail(q->req, COL_EINVAL,
			                "Unknown field '%s' in value of user defined type %s", fn,
			                type->udt_name);
		int rc = term_value(q, t->udt.values[i], type->fields[at], &vals[at], what);
		if (rc)
			return rc;
		if (vals[at].len == CQL_VALUE_UNSET)
			return req_fail(
			        q->req, COL_EINVAL,
			        "Invalid unset value for field '%s' of user defined type %s", fn,
			        type->udt_name);
	}
	struct buf b;
	buf_init(&b);
	for (uint32_t i = 0; i < type->n_fields; i++)
		cql_put_bytes(&b, vals[i].p, vals[i].len < 0 ? -1 : vals[i].len);
	int rc = store_bytes(q, &b, out);
	buf_release(&b);
	return rc;
}

static int collection_value(struct xq *q, const struct cql_term *t, const struct cqltype *type,
                            struct val *out, const char *what)
{
	uint32_t n;
	bool is_map = type->kind == CQLTYPE_MAP;
	if (is_map) {
		if (t->kind != CQL_TERM_MAP)
			return req_fail(q->req, COL_EINVAL, "Invalid %s literal for %s of type %s",
			                cql_term_kind_name(t->kind), what, "map");
		n = t->map.n_entries;
	} else if (type->kind == CQLTYPE_SET) {
		if (t->kind == CQL_TERM_MAP && t->map.n_entries == 0)
			n = 0;
		else if (t->kind != CQL_TERM_SET)
			return req_fail(q->req, COL_EINVAL, "Invalid %s literal for %s of type set",
			                cql_term_kind_name(t->kind), what);
		else
			n = t->coll.n_items;
	} else {
		if (t->kind != CQL_TERM_LIST)
			return req_fail(q->req, COL_EINVAL,
			                "Invalid %s literal for %s of type list",
			                cql_term_kind_name(t->kind), what);
		n = t->coll.n_items;
	}
	struct cqlcoll_item *items = cql_arena_alloc(q->mem, (n ? n : 1) * sizeof(*items));
	if (!items)
		return req_fail(q->req, COL_ENOMEM, "out of memory");
	int rc = 0;
	for (uint32_t i = 0; i < n && !rc; i++) {
		const struct cql_term *kt = is_map ? t->map.keys[i] : t->coll.items[i];
		rc = collection_part(q, kt, type->elem, what, &items[i].key, &items[i].key_len);
		if (!rc && is_map)
			rc = collection_part(q, t->map.values[i], type->value, what, &items[i].val,
			                     &items[i].val_len);
	}
	if (rc)
		return rc;
	struct buf b;
	buf_init(&b);
	struct cerr e = {0};
	rc = cqltype_collection_build(type, items, n, &b, &e);
	if (rc) {
		buf_release(&b);
		return req_fail(q->req, COL_EINVAL, "Invalid value for %s: %s", what, e.msg);
	}
	rc = store_bytes(q, &b, out);
	buf_release(&b);
	return rc;
}

/* The overload function term t calls, from the types of its arguments (nested
 * calls resolved first; literals and markers fit any type). */
static int func_resolve_term(struct xq *q, const struct cql_term *t, const struct func_def **out)
{
	const char *fn = t->func.name.name.name;
	if (t->func.name.ks.name && strcmp(t->func.name.ks.name, "system") != 0)
		return req_fail(q->req, COL_EINVAL, "Unknown function %s.%s called",
		                t->func.name.ks.name, fn);
	uint32_t n = t->func.n_args;
	const struct cqltype *types[FN_MAX_ARGS] = {0};
	const char *texts[FN_MAX_ARGS] = {0};
	char tbuf[FN_MAX_ARGS][96];
	for (uint32_t i = 0; i < n && i < FN_MAX_ARGS; i++) {
		const struct cql_term *a = t->func.args[i];
		struct buf b;
		buf_init(&b);
		cql_term_format(a, &b);
		snprintf(tbuf[i], sizeof(tbuf[i]), "%.*s",
		         buf_ok(&b) ? (int)(b.len > 90 ? 90 : b.len) : 1,
		         buf_ok(&b) && b.len ? (const char *)b.data : "?");
		buf_release(&b);
		texts[i] = tbuf[i];
		const struct func_def *inner;
		if (a->kind == CQL_TERM_FUNC) {
			int rc = func_resolve_term(q, a, &inner);
			if (rc)
				return rc;
			types[i] = cqltype_simple(inner->ret);
		}
	}
	struct cerr e = {0};
	int rc = func_resolve(fn, n, types, texts, out, &e);
	if (rc == COL_ENOTFOUND)
		return req_fail(q->req, COL_EINVAL, "Unknown function %s called", fn);
	if (rc)
		return req_fail(q->req, COL_EINVAL, "%s", e.msg);
	return 0;
}

/* Whether a function returning `ret` may give a value of `type`. */
static bool returns_into(enum cqltype_kind ret, const struct cqltype *type)
{
	if (!type || ret == type->kind || ret == CQLTYPE_CUSTOM)
		return true;
	return (ret == CQLTYPE_TIMEUUID && type->kind == CQLTYPE_UUID) ||
	       (ret == CQLTYPE_ASCII && type->kind == CQLTYPE_VARCHAR);
}

/* name(args) in a WHERE, a SET or VALUES: run once, its arguments first. */
static int func_value(struct xq *q, const struct cql_term *t, const struct cqltype *type,
                      struct val *out, const char *what)
{
	const struct func_def *f;
	int rc = func_resolve_term(q, t, &f);
	if (rc)
		return rc;
	if (!returns_into(f->ret, type)) {
		struct buf tn;
		buf_init(&tn);
		cqltype_name(type, &tn);
		buf_put_u8(&tn, 0);
		rc = req_fail(q->req, COL_EINVAL,
		              "Type error: cannot assign result of function system.%s (type %s) to "
		              "%s (type %s)",
		              f->name, cqltype_kind_name(f->ret), what,
		              buf_ok(&tn) ? (const char *)tn.data : "?");
		buf_release(&tn);
		return rc;
	}
	struct fn_arg args[FN_ARGS_CAP] = {{NULL, -1, NULL}, {NULL, -1, NULL}, {NULL, -1, NULL}};
	args[f->n_args].type = type; /* the receiver, for fromJson */
	for (uint32_t i = 0; i < f->n_args; i++)
		if (f->args[i] == CQLTYPE_CUSTOM) /* toJson: its argument must be a column */
			return req_fail(q->req, COL_EINVAL,
			                "Cannot infer type of argument %s in call to function "
			                "system.%s: use type casts to disambiguate",
			                t->func.args[i]->text ? t->func.args[i]->text : "?",
			                f->name);
	for (uint32_t i = 0; i < f->n_args; i++) {
		struct val v;
		char argname[64];
		snprintf(argname, sizeof(argname), "arg%u(system.%s)", i, f->name);
		if ((rc = term_value(q, t->func.args[i], cqltype_simple(f->args[i]), &v, argname)))
			return rc;
		args[i] = (struct fn_arg){v.p, v.len < 0 ? -1 : v.len};
	}
	struct buf b;
	buf_init(&b);
	bool null = false;
	struct cerr e = {0};
	rc = func_call(q->ex, f, args, &b, &null, &e);
	if (rc)
		rc = req_fail(q->req, COL_EINVAL, "%s", e.msg);
	else if (null)
		*out = (struct val){NULL, CQL_VALUE_NULL};
	else
		rc = store_bytes(q, &b, out);
	buf_release(&b);
	return rc;
}

/* The native bytes of term t as a value of `type`. */
int term_value(struct xq *q, const struct cql_term *t, const struct cqltype *type, struct val *out,
               const char *what)
{
	switch (t->kind) {
	case CQL_TERM_NULL:
		out->p = NULL;
		out->len = CQL_VALUE_NULL;
		return 0;
	case CQL_TERM_BIND: return bound_value(q, t->bind.index, type, out, what);
	case CQL_TERM_FUNC: return func_value(q, t, type, out, what);
	case CQL_TERM_LIST:
	case CQL_TERM_SET:
	case CQL_TERM_MAP:
		if (!cqltype_is_collection(type))
			return req_fail(q->req, COL_EINVAL, "Invalid %s literal for %s",
			                cql_term_kind_name(t->kind), what);
		return collection_value(q, t, type, out, what);
	case CQL_TERM_TUPLE: return tuple_value(q, t, type, out, what);
	case CQL_TERM_UDT: return udt_value(q, t, type, out, what);
	case CQL_TERM_IDENT:
		return req_fail(q->req, COL_EINVAL, "Invalid %s literal for %s",
		                cql_term_kind_name(t->kind), what);
	default: break;
	}
	if (cqltype_is_collection(type))
		return req_fail(q->req, COL_EINVAL,
		                "Invalid %s literal for %s: expected a collection",
		                cql_term_kind_name(t->kind), what);
	struct buf b;
	buf_init(&b);
	struct cerr e = {0};
	int rc = cqltype_from_literal(type, term_lit_kind(t->kind), t->text, t->text_len, &b, &e);
	if (rc && type->kind == CQLTYPE_DURATION && strncmp(e.msg, "Unable", 6) == 0) {
		buf_release(&b);
		return req_fail(q->req, COL_EINVAL, "%s", e.msg); /* Unable to convert 'x' ... */
	}
	if (rc) {
		buf_release(&b);
		return req_fail(
		        q->req, COL_EINVAL, "Invalid %s constant (%.*s) for \"%s\" of type %s",
		        cql_term_kind_name(t->kind), (int)(t->text_len > 40 ? 40 : t->text_len),
		        t->text, what, cqltype_kind_name(type->kind));
	}
	rc = store_bytes(q, &b, out);
	buf_release(&b);
	return rc;
}

/* An int/bigint term (LIMIT, TTL, TIMESTAMP, token bounds). */
int term_int64(struct xq *q, const struct cql_term *t, bool is_bigint, int64_t *out,
               const char *what)
{
	struct val v;
	const struct cqltype *ty = cqltype_simple(is_bigint ? CQLTYPE_BIGINT : CQLTYPE_INT);
	int rc = term_value(q, t, ty, &v, what);
	if (rc)
		return rc;
	if (v.len < 0)
		return req_fail(q->req, COL_EINVAL, "Invalid null value of %s", what);
	if (is_bigint) {
		if (v.len != 8)
			return req_fail(q->req, COL_EINVAL, "Invalid value of %s", what);
		*out = (int64_t)be64_load(v.p);
	} else {
		if (v.len != 4)
			return req_fail(q->req, COL_EINVAL, "Invalid value of %s", what);
		*out = (int32_t)be32_load(v.p);
	}
	return 0;
}
