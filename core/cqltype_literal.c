/*
 * cqltype_literal.c — a CQL literal as a value of a type (cqltype_from_literal),
 * and collection values from items (cqltype_collection_build).
 */
#include "core/cqltype_int.h"
#include "core/hex.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- literals */

static const char *lit_kind_name(enum cqllit_kind k)
{
	switch (k) {
	case CQLLIT_STRING: return "STRING";
	case CQLLIT_INTEGER: return "INTEGER";
	case CQLLIT_FLOAT: return "FLOAT";
	case CQLLIT_BOOLEAN: return "BOOLEAN";
	case CQLLIT_UUID: return "UUID";
	case CQLLIT_HEX: return "HEX";
	case CQLLIT_NULL: return "NULL";
	case CQLLIT_DURATION: return "DURATION";
	}
	return "?";
}

static int lit_mismatch(const struct cqltype *t, enum cqllit_kind kind, const char *text,
                        size_t len, struct cerr *err, const char *why)
{
	char nb[128];
	return cerr_set(err, COL_ETYPE, "invalid %s constant (%.*s) for type %s%s%s",
	                lit_kind_name(kind), (int)(len > 100 ? 100 : len), text,
	                cqlt_tname(t, nb, sizeof(nb)), why ? ": " : "", why ? why : "");
}

/* Parse a decimal literal ("-12.5e3", "7") to unscaled digits and scale. */
static bool parse_decimal_lit(const char *s, size_t len, int *sign, struct buf *digits,
                              int64_t *scale)
{
	size_t i = 0;
	*sign = 1;
	*scale = 0;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		*sign = s[i++] == '-' ? -1 : 1;
	bool any = false, dot = false;
	for (; i < len; i++) {
		char c = s[i];
		if (isdigit((unsigned char)c)) {
			if (!(digits->len == 0 && c == '0'))
				buf_put_u8(digits, (uint8_t)c);
			if (dot)
				(*scale)++;
			any = true;
		} else if (c == '.' && !dot) {
			dot = true;
		} else {
			break;
		}
	}
	if (!any)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		int64_t e;
		if (!cqlt_parse_i64(s + i + 1, len - i - 1, &e) || e > INT32_MAX || e < INT32_MIN)
			return false;
		*scale -= e;
		i = len;
	}
	return i == len && *scale >= INT32_MIN && *scale <= INT32_MAX && buf_ok(digits);
}

/* A literal being converted, for the per-type converters below. */
struct lit {
	const struct cqltype *t;
	enum cqllit_kind kind;
	const char *text;
	size_t len;
	struct cerr *err;
};

static int mismatch(const struct lit *l, const char *why)
{
	return lit_mismatch(l->t, l->kind, l->text, l->len, l->err, why);
}

static int lit_text(const struct lit *l, struct buf *out)
{
	if (l->kind != CQLLIT_STRING)
		return mismatch(l, NULL);
	buf_put(out, l->text, l->len);
	return 0;
}

static int lit_blob(const struct lit *l, struct buf *out)
{
	if (l->kind != CQLLIT_HEX || l->len < 2 || l->text[0] != '0' ||
	    (l->text[1] != 'x' && l->text[1] != 'X') || (l->len % 2) != 0)
		return mismatch(l, NULL);
	size_t n = (l->len - 2) / 2;
	if (n == 0 || buf_reserve(out, n) != 0)
		return 0;
	if (!hex_decode(l->text + 2, n, out->data + out->len))
		return mismatch(l, "bad hex digit");
	out->len += n;
	return 0;
}

static int lit_boolean(const struct lit *l, struct buf *out)
{
	if (l->kind == CQLLIT_BOOLEAN && l->len == 4 && strncasecmp(l->text, "true", 4) == 0)
		buf_put_u8(out, 1);
	else if (l->kind == CQLLIT_BOOLEAN && l->len == 5 && strncasecmp(l->text, "false", 5) == 0)
		buf_put_u8(out, 0);
	else
		return mismatch(l, NULL);
	return 0;
}

/* tinyint, smallint, int, bigint, counter: big-endian in the type's width. */
static int lit_fixed_int(const struct lit *l, struct buf *out)
{
	if (l->kind != CQLLIT_INTEGER)
		return mismatch(l, NULL);
	enum cqltype_kind k = l->t->kind;
	int64_t lo = k == CQLTYPE_TINYINT    ? INT8_MIN
	             : k == CQLTYPE_SMALLINT ? INT16_MIN
	             : k == CQLTYPE_INT      ? INT32_MIN
	                                     : INT64_MIN;
	int64_t hi = k == CQLTYPE_TINYINT    ? INT8_MAX
	             : k == CQLTYPE_SMALLINT ? INT16_MAX
	             : k == CQLTYPE_INT      ? INT32_MAX
	                                     : INT64_MAX;
	int64_t v;
	if (!cqlt_parse_i64(l->text, l->len, &v) || v < lo || v > hi)
		return cerr_set(l->err, COL_ETYPE,
		                "invalid INTEGER constant (%.*s) for type %s: out of range "
		                "%" PRId64 "..%" PRId64,
		                (int)(l->len > 100 ? 100 : l->len), l->text, cqltype_kind_name(k),
		                lo, hi);
	size_t w = cqltype_fixed_size(l->t);
	for (size_t i = w; i-- > 0;)
		buf_put_u8(out, (uint8_t)((uint64_t)v >> (i * 8)));
	return 0;
}

static int lit_varint(const struct lit *l, struct buf *out)
{
	const char *text = l->text;
	if (l->kind != CQLLIT_INTEGER || !cqlt_all_digits(text, l->len, true))
		return mismatch(l, NULL);
	size_t i = (text[0] == '-' || text[0] == '+') ? 1 : 0;
	struct buf mag;
	buf_init(&mag);
	int rc = cqlt_digits_to_magnitude(text + i, l->len - i, &mag);
	if (!rc)
		cqlt_varint_from_magnitude(text[0] == '-' ? -1 : 1, mag.data, mag.len, out);
	buf_release(&mag);
	if (rc)
		return cerr_set(l->err, rc, "out of memory converting a varint");
	return 0;
}

static int lit_decimal(const struct lit *l, struct buf *out)
{
	if (l->kind != CQLLIT_INTEGER && l->kind != CQLLIT_FLOAT)
		return mismatch(l, NULL);
	int sign;
	int64_t scale;
	struct buf digits, mag;
	buf_init(&digits);
	buf_init(&mag);
	if (!parse_decimal_lit(l->text, l->len, &sign, &digits, &scale)) {
		buf_release(&digits);
		return mismatch(l, "not a finite decimal number");
	}
	int rc = cqlt_digits_to_magnitude((const char *)digits.data, digits.len, &mag);
	buf_put_u32be(out, (uint32_t)(int32_t)scale);
	if (!rc)
		cqlt_varint_from_magnitude(digits.len ? sign : 0, mag.data, mag.len, out);
	buf_release(&digits);
	buf_release(&mag);
	if (rc)
		return cerr_set(l->err, rc, "out of memory converting a decimal");
	return 0;
}

/* float or double: a number, NaN, Infinity, -Infinity. */
static int lit_floating(const struct lit *l, struct buf *out)
{
	if (l->kind != CQLLIT_INTEGER && l->kind != CQLLIT_FLOAT)
		return mismatch(l, NULL);
	char tmp[400];
	if (l->len >= sizeof(tmp))
		return mismatch(l, "too long");
	memcpy(tmp, l->text, l->len);
	tmp[l->len] = 0;
	double d;
	if (strcmp(tmp, "NaN") == 0) {
		d = NAN;
	} else if (strcmp(tmp, "Infinity") == 0 || strcmp(tmp, "+Infinity") == 0) {
		d = INFINITY;
	} else if (strcmp(tmp, "-Infinity") == 0) {
		d = -INFINITY;
	} else {
		for (size_t i = 0; i < l->len; i++)
			if (!isdigit((unsigned char)tmp[i]) && !strchr("+-.eE", tmp[i]))
				return mismatch(l, NULL);
		char *end;
		errno = 0;
		d = strtod(tmp, &end);
		if (*end || end == tmp)
			return mismatch(l, NULL);
	}
	if (l->t->kind == CQLTYPE_FLOAT) {
		float f = (float)d;
		if (isinf(f) && !isinf(d))
			return mismatch(l, "out of float range");
		uint32_t u;
		memcpy(&u, &f, 4);
		buf_put_u32be(out, u);
	} else {
		uint64_t u;
		memcpy(&u, &d, 8);
		buf_put_u64be(out, u);
	}
	return 0;
}

/* Milliseconds since the epoch, or a date and time in text. */
static int lit_timestamp(const struct lit *l, struct buf *out)
{
	int64_t v;
	if (l->kind == CQLLIT_INTEGER) {
		if (!cqlt_parse_i64(l->text, l->len, &v))
			return mismatch(l, "out of range");
	} else if (l->kind != CQLLIT_STRING || cqltype_parse_timestamp(l->text, l->len, &v) != 0) {
		return mismatch(l, l->kind == CQLLIT_STRING
		                           ? "expected yyyy-mm-dd[( |T)hh:mm[:ss[.fff]]][Z|+hhmm]"
		                           : NULL);
	}
	buf_put_u64be(out, (uint64_t)v);
	return 0;
}

/* A raw day number (2^31 is the epoch) or 'yyyy-mm-dd'. */
static int lit_date(const struct lit *l, struct buf *out)
{
	int64_t v, days;
	size_t i = 0;
	if ((l->kind == CQLLIT_INTEGER || l->kind == CQLLIT_STRING) &&
	    cqlt_all_digits(l->text, l->len, false)) {
		if (!cqlt_parse_i64(l->text, l->len, &v) || v > UINT32_MAX)
			return mismatch(l, "raw date must be 0..4294967295");
		buf_put_u32be(out, (uint32_t)v);
		return 0;
	}
	if (l->kind != CQLLIT_STRING || !cqlt_parse_date_part(l->text, l->len, &i, &days) ||
	    i != l->len)
		return mismatch(l, l->kind == CQLLIT_STRING ? "expected yyyy-mm-dd" : NULL);
	days += 1LL << 31;
	if (days < 0 || days > UINT32_MAX)
		return mismatch(l, "date out of range");
	buf_put_u32be(out, (uint32_t)days);
	return 0;
}

/* Nanoseconds since midnight, or 'hh:mm:ss[.fffffffff]'. */
static int lit_time(const struct lit *l, struct buf *out)
{
	int64_t v;
	size_t i = 0;
	if ((l->kind == CQLLIT_INTEGER || l->kind == CQLLIT_STRING) &&
	    cqlt_all_digits(l->text, l->len, true)) {
		if (!cqlt_parse_i64(l->text, l->len, &v) || v < 0 || v > TIME_MAX_NS)
			return mismatch(l, "time in ns must be 0..86399999999999");
	} else if (l->kind != CQLLIT_STRING ||
	           !cqlt_parse_time_part(l->text, l->len, &i, true, &v) || i != l->len) {
		return mismatch(l,
		                l->kind == CQLLIT_STRING ? "expected hh:mm:ss[.fffffffff]" : NULL);
	}
	buf_put_u64be(out, (uint64_t)v);
	return 0;
}

static int lit_inet(const struct lit *l, struct buf *out)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	uint8_t a[16];
	if (l->kind != CQLLIT_STRING || l->len >= sizeof(tmp))
		return mismatch(l, NULL);
	memcpy(tmp, l->text, l->len);
	tmp[l->len] = 0;
	if (inet_pton(AF_INET, tmp, a) == 1)
		buf_put(out, a, 4);
	else if (inet_pton(AF_INET6, tmp, a) == 1)
		buf_put(out, a, 16);
	else
		return mismatch(l, "not an IPv4 or IPv6 address");
	return 0;
}

static int lit_uuid(const struct lit *l, struct buf *out)
{
	uint8_t u[16];
	if (l->kind != CQLLIT_UUID || !uuid_parse(l->text, l->len, u))
		return mismatch(l, NULL);
	if (l->t->kind == CQLTYPE_TIMEUUID && (u[6] >> 4) != 1)
		return mismatch(l, "not a version 1 (time) uuid");
	buf_put(out, u, 16);
	return 0;
}

/* A duration: unquoted (1h30m) or quoted (also the ISO 8601 forms). */
static int lit_duration(const struct lit *l, struct buf *out)
{
	if (l->kind != CQLLIT_DURATION && l->kind != CQLLIT_STRING)
		return mismatch(l, NULL);
	return cqlt_duration_from_text(l->text, l->len, out, l->err);
}

/* The converter for a simple type, NULL if none. */
static int (*lit_converter(enum cqltype_kind k))(const struct lit *, struct buf *)
{
	switch (k) {
	case CQLTYPE_ASCII:
	case CQLTYPE_VARCHAR: return lit_text;
	case CQLTYPE_BLOB: return lit_blob;
	case CQLTYPE_BOOLEAN: return lit_boolean;
	case CQLTYPE_TINYINT:
	case CQLTYPE_SMALLINT:
	case CQLTYPE_INT:
	case CQLTYPE_BIGINT:
	case CQLTYPE_COUNTER: return lit_fixed_int;
	case CQLTYPE_VARINT: return lit_varint;
	case CQLTYPE_DECIMAL: return lit_decimal;
	case CQLTYPE_FLOAT:
	case CQLTYPE_DOUBLE: return lit_floating;
	case CQLTYPE_TIMESTAMP: return lit_timestamp;
	case CQLTYPE_DATE: return lit_date;
	case CQLTYPE_TIME: return lit_time;
	case CQLTYPE_INET: return lit_inet;
	case CQLTYPE_UUID:
	case CQLTYPE_TIMEUUID: return lit_uuid;
	case CQLTYPE_DURATION: return lit_duration;
	default: return NULL;
	}
}

int cqltype_from_literal(const struct cqltype *t, enum cqllit_kind kind, const char *text,
                         size_t len, struct buf *out, struct cerr *err)
{
	char nb[128];
	if (kind == CQLLIT_NULL)
		return cerr_set(err, COL_EINVAL,
		                "null is not a value of type %s (the caller handles null)",
		                cqlt_tname(t, nb, sizeof(nb)));
	if (cqltype_is_collection(t))
		return lit_mismatch(t, kind, text, len, err,
		                    "collection values are built from their elements");
	const struct lit l = {.t = t, .kind = kind, .text = text, .len = len, .err = err};
	int (*convert)(const struct lit *, struct buf *) = lit_converter(t->kind);
	if (!convert)
		return mismatch(&l, "unsupported type");
	size_t start = out->len;
	int rc = convert(&l, out);
	if (rc)
		return rc;
	if (!buf_ok(out))
		return cerr_set(err, COL_ENOMEM, "out of memory converting a literal");
	/* an empty literal ('') into an empty buffer leaves out->data NULL */
	rc = cqltype_validate(t, out->data ? out->data + start : (const uint8_t *)"",
	                      out->len - start, err);
	if (rc)
		out->len = start;
	return rc;
}

/* ---------------------------------------------------------------- collections */

struct sort_ctx {
	const struct cqltype *t;
};

static int item_cmp(const void *a, const void *b, void *ctx)
{
	const struct cqlcoll_item *x = *(const struct cqlcoll_item *const *)a;
	const struct cqlcoll_item *y = *(const struct cqlcoll_item *const *)b;
	const struct sort_ctx *c = ctx;
	int r = cqltype_compare(c->t, x->key, x->key_len, y->key, y->key_len);
	if (r)
		return r;
	return x < y ? -1 : x > y; /* stable: original order */
}

int cqltype_collection_build(const struct cqltype *t, const struct cqlcoll_item *items, size_t n,
                             struct buf *out, struct cerr *err)
{
	char nb[128];
	if (!cqltype_is_collection(t))
		return cerr_set(err, COL_ETYPE, "%s is not a collection type",
		                cqlt_tname(t, nb, sizeof(nb)));
	if (n > INT32_MAX)
		return cerr_set(err, COL_ETOOBIG, "too many elements for %s",
		                cqlt_tname(t, nb, sizeof(nb)));
	for (size_t i = 0; i < n; i++) {
		int rc = cqltype_validate(t->elem, items[i].key, items[i].key_len, err);
		if (!rc && t->kind == CQLTYPE_MAP)
			rc = cqltype_validate(t->value, items[i].val, items[i].val_len, err);
		if (rc) {
			cerr_prefix(err, "in %s element %zu: ", cqlt_tname(t, nb, sizeof(nb)), i);
			return rc;
		}
		if (items[i].key_len > INT32_MAX || items[i].val_len > INT32_MAX)
			return cerr_set(err, COL_ETOOBIG, "element %zu of %s is too large", i,
			                cqlt_tname(t, nb, sizeof(nb)));
	}
	const struct cqlcoll_item **order = malloc((n ? n : 1) * sizeof(*order));
	if (!order)
		return cerr_set(err, COL_ENOMEM, "out of memory building a collection");
	for (size_t i = 0; i < n; i++)
		order[i] = &items[i];
	size_t m = n;
	if (t->kind != CQLTYPE_LIST && n > 1) {
		struct sort_ctx c = {t->elem};
		qsort_r(order, n, sizeof(*order), item_cmp, &c);
		/* de-duplicate: keep the last of equal keys (later assignment wins) */
		m = 0;
		for (size_t i = 0; i < n; i++) {
			if (i + 1 < n &&
			    cqltype_compare(t->elem, order[i]->key, order[i]->key_len,
			                    order[i + 1]->key, order[i + 1]->key_len) == 0)
				continue;
			order[m++] = order[i];
		}
	}
	size_t start = out->len;
	buf_put_u32be(out, (uint32_t)m);
	for (size_t i = 0; i < m; i++) {
		buf_put_u32be(out, (uint32_t)order[i]->key_len);
		buf_put(out, order[i]->key, order[i]->key_len);
		if (t->kind == CQLTYPE_MAP) {
			buf_put_u32be(out, (uint32_t)order[i]->val_len);
			buf_put(out, order[i]->val, order[i]->val_len);
		}
	}
	free(order);
	if (!buf_ok(out)) {
		out->len = start;
		return cerr_set(err, COL_ENOMEM, "out of memory building a collection");
	}
	return 0;
}
