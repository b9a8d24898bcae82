#include "coordinator/query/query_int.h"

#include "core/clock.h"
#include "core/cqltype.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

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
	default: return CQLLIT_NULL;
	}
}

static void make_timeuuid(struct executor *ex, uint8_t u[16])
{
	/* v1: 100 ns intervals since 1582-10-15, random clock sequence and node */
	int64_t us = exec_now_us(ex);
	uint64_t t = (uint64_t)us * 10 + 0x01B21DD213814000ULL;
	be32_store(u, (uint32_t)t);
	be16_store(u + 4, (uint16_t)(t >> 32));
	be16_store(u + 6, (uint16_t)(((t >> 48) & 0x0fff) | 0x1000));
	if (getrandom(u + 8, 8, 0) != 8)
		memset(u + 8, 0x5a, 8);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
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

static int func_value(struct xq *q, const struct cql_term *t, const struct cqltype *type,
                      struct val *out, const char *what)
{
	const char *fn = t->func.name.name.name;
	struct buf b;
	buf_init(&b);
	int rc = 0;
	if (strcasecmp(fn, "now") == 0 && t->func.n_args == 0 &&
	    (type->kind == CQLTYPE_TIMEUUID || type->kind == CQLTYPE_UUID)) {
		uint8_t u[16];
		make_timeuuid(q->ex, u);
		buf_put(&b, u, 16);
	} else if (strcasecmp(fn, "uuid") == 0 && t->func.n_args == 0 &&
	           type->kind == CQLTYPE_UUID) {
		uint8_t u[16];
		if (getrandom(u, 16, 0) != 16)
			memset(u, 0x11, 16);
		u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
		u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
		buf_put(&b, u, 16);
	} else if (((strcasecmp(fn, "currenttimestamp") == 0 && t->func.n_args == 0) ||
	            (strcasecmp(fn, "totimestamp") == 0 && t->func.n_args == 1 &&
	             t->func.args[0]->kind == CQL_TERM_FUNC &&
	             strcasecmp(t->func.args[0]->func.name.name.name, "now") == 0)) &&
	           type->kind == CQLTYPE_TIMESTAMP) {
		buf_put_u64be(&b, (uint64_t)(clock_wall_us() / 1000));
	} else if (((strcasecmp(fn, "currentdate") == 0 && t->func.n_args == 0) ||
	            (strcasecmp(fn, "todate") == 0 && t->func.n_args == 1 &&
	             t->func.args[0]->kind == CQL_TERM_FUNC &&
	             strcasecmp(t->func.args[0]->func.name.name.name, "now") == 0)) &&
	           type->kind == CQLTYPE_DATE) {
		buf_put_u32be(&b, (uint32_t)(clock_wall_s() / 86400 + (1u << 31)));
	} else {
		rc = req_fail(q->req, COL_EINVAL, "Unknown function %s() for %s", fn, what);
	}
	if (!rc)
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
	case CQL_TERM_TUPLE:
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
