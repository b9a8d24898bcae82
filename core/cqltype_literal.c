/*
 * cqltype_literal.c — a CQL literal as a value of a type (cqltype_from_literal),
 * and collection values from items (cqltype_collection_build).
 */
#include "core/cqltype_int.h"
#include "core/hex.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
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
	size_t start = out->len;
	int64_t v;
	switch (t->kind) {
	case CQLTYPE_ASCII:
	case CQLTYPE_VARCHAR:
		if (kind != CQLLIT_STRING)
			return lit_mismatch(t, kind, text, len, err, NULL);
		buf_put(out, text, len);
		break;
	case CQLTYPE_BLOB: {
		if (kind != CQLLIT_HEX || len < 2 || text[0] != '0' ||
		    (text[1] != 'x' && text[1] != 'X') || (len % 2) != 0)
			return lit_mismatch(t, kind, text, len, err, NULL);
		size_t n = (len - 2) / 2;
		if (n == 0 || buf_reserve(out, n) != 0)
			break;
		if (!hex_decode(text + 2, n, out->data + out->len))
			return lit_mismatch(t, kind, text, len, err, "bad hex digit");
		out->len += n;
		break;
	}
	case CQLTYPE_BOOLEAN:
		if (kind == CQLLIT_BOOLEAN && len == 4 && strncasecmp(text, "true", 4) == 0)
			buf_put_u8(out, 1);
		else if (kind == CQLLIT_BOOLEAN && len == 5 && strncasecmp(text, "false", 5) == 0)
			buf_put_u8(out, 0);
		else
			return lit_mismatch(t, kind, text, len, err, NULL);
		break;
	case CQLTYPE_TINYINT:
	case CQLTYPE_SMALLINT:
	case CQLTYPE_INT:
	case CQLTYPE_BIGINT:
	case CQLTYPE_COUNTER: {
		if (kind != CQLLIT_INTEGER)
			return lit_mismatch(t, kind, text, len, err, NULL);
		int64_t lo = t->kind == CQLTYPE_TINYINT    ? INT8_MIN
		             : t->kind == CQLTYPE_SMALLINT ? INT16_MIN
		             : t->kind == CQLTYPE_INT      ? INT32_MIN
		                                           : INT64_MIN;
		int64_t hi = t->kind == CQLTYPE_TINYINT    ? INT8_MAX
		             : t->kind == CQLTYPE_SMALLINT ? INT16_MAX
		             : t->kind == CQLTYPE_INT      ? INT32_MAX
		                                           : INT64_MAX;
		if (!cqlt_parse_i64(text, len, &v) || v < lo || v > hi)
			return cerr_set(err, COL_ETYPE,
			                "invalid INTEGER constant (%.*s) for type %s: out of range "
			                "%" PRId64 "..%" PRId64,
			                (int)(len > 100 ? 100 : len), text,
			                cqltype_kind_name(t->kind), lo, hi);
		size_t w = cqltype_fixed_size(t);
		for (size_t i = w; i-- > 0;)
			buf_put_u8(out, (uint8_t)((uint64_t)v >> (i * 8)));
		break;
	}
	case CQLTYPE_VARINT: {
		if (kind != CQLLIT_INTEGER || !cqlt_all_digits(text, len, true))
			return lit_mismatch(t, kind, text, len, err, NULL);
		size_t i = (text[0] == '-' || text[0] == '+') ? 1 : 0;
		struct buf mag;
		buf_init(&mag);
		int rc = cqlt_digits_to_magnitude(text + i, len - i, &mag);
		if (!rc)
			cqlt_varint_from_magnitude(text[0] == '-' ? -1 : 1, mag.data, mag.len, out);
		buf_release(&mag);
		if (rc)
			return cerr_set(err, rc, "out of memory converting a varint");
		break;
	}
	case CQLTYPE_DECIMAL: {
		if (kind != CQLLIT_INTEGER && kind != CQLLIT_FLOAT)
			return lit_mismatch(t, kind, text, len, err, NULL);
		int sign;
		int64_t scale;
		struct buf digits, mag;
		buf_init(&digits);
		buf_init(&mag);
		if (!parse_decimal_lit(text, len, &sign, &digits, &scale)) {
			buf_release(&digits);
			return lit_mismatch(t, kind, text, len, err, "not a finite decimal number");
		}
		int rc = cqlt_digits_to_magnitude((const char *)digits.data, digits.len, &mag);
		buf_put_u32be(out, (uint32_t)(int32_t)scale);
		if (!rc)
			cqlt_varint_from_magnitude(digits.len ? sign : 0, mag.data, mag.len, out);
		buf_release(&digits);
		buf_release(&mag);
		if (rc)
			return cerr_set(err, rc, "out of memory converting a decimal");
		break;
	}
	case CQLTYPE_FLOAT:
	case CQLTYPE_DOUBLE: {
		if (kind != CQLLIT_INTEGER && kind != CQLLIT_FLOAT)
			return lit_mismatch(t, kind, text, len, err, NULL);
		char tmp[400];
		if (len >= sizeof(tmp))
			return lit_mismatch(t, kind, text, len, err, "too long");
		memcpy(tmp, text, len);
		tmp[len] = 0;
		double d;
		if (strcmp(tmp, "NaN") == 0) {
			d = NAN;
		} else if (strcmp(tmp, "Infinity") == 0 || strcmp(tmp, "+Infinity") == 0) {
			d = INFINITY;
		} else if (strcmp(tmp, "-Infinity") == 0) {
			d = -INFINITY;
		} else {
			for (size_t i = 0; i < len; i++)
				if (!isdigit((unsigned char)tmp[i]) && !strchr("+-.eE", tmp[i]))
					return lit_mismatch(t, kind, text, len, err, NULL);
			char *end;
			errno = 0;
			d = strtod(tmp, &end);
			if (*end || end == tmp)
				return lit_mismatch(t, kind, text, len, err, NULL);
		}
		if (t->kind == CQLTYPE_FLOAT) {
			float f = (float)d;
			if (isinf(f) && !isinf(d))
				return lit_mismatch(t, kind, text, len, err, "out of float range");
			uint32_t u;
			memcpy(&u, &f, 4);
			buf_put_u32be(out, u);
		} else {
			uint64_t u;
			memcpy(&u, &d, 8);
			buf_put_u64be(out, u);
		}
		break;
	}
	case CQLTYPE_TIMESTAMP: {
		if (kind == CQLLIT_INTEGER) {
			if (!cqlt_parse_i64(text, len, &v))
				return lit_mismatch(t, kind, text, len, err, "out of range");
		} else if (kind != CQLLIT_STRING || cqltype_parse_timestamp(text, len, &v) != 0) {
			return lit_mismatch(
			        t, kind, text, len, err,
			        kind == CQLLIT_STRING
			                ? "expected yyyy-mm-dd[( |T)hh:mm[:ss[.fff]]][Z|+hhmm]"
			                : NULL);
		}
		buf_put_u64be(out, (uint64_t)v);
		break;
	}
	case CQLTYPE_DATE: {
		int64_t days;
		size_t i = 0;
		if ((kind == CQLLIT_INTEGER || kind == CQLLIT_STRING) &&
		    cqlt_all_digits(text, len, false)) {
			if (!cqlt_parse_i64(text, len, &v) || v > UINT32_MAX)
				return lit_mismatch(t, kind, text, len, err,
				                    "raw date must be 0..4294967295");
			buf_put_u32be(out, (uint32_t)v);
			break;
		}
		if (kind != CQLLIT_STRING || !cqlt_parse_date_part(text, len, &i, &days) ||
		    i != len)
			return lit_mismatch(t, kind, text, len, err,
			                    kind == CQLLIT_STRING ? "expected yyyy-mm-dd" : NULL);
		days += 1LL << 31;
		if (days < 0 || days > UINT32_MAX)
			return lit_mismatch(t, kind, text, len, err, "date out of range");
		buf_put_u32be(out, (uint32_t)days);
		break;
	}
	case CQLTYPE_TIME: {
		size_t i = 0;
		if ((kind == CQLLIT_INTEGER || kind == CQLLIT_STRING) &&
		    cqlt_all_digits(text, len, true)) {
			if (!cqlt_parse_i64(text, len, &v) || v < 0 || v > TIME_MAX_NS)
				return lit_mismatch(t, kind, text, len, err,
				                    "time in ns must be 0..86399999999999");
		} else if (kind != CQLLIT_STRING ||
		           !cqlt_parse_time_part(text, len, &i, true, &v) || i != len) {
			return lit_mismatch(t, kind, text, len, err,
			                    kind == CQLLIT_STRING ? "expected hh:mm:ss[.fffffffff]"
			                                          : NULL);
		}
		buf_put_u64be(out, (uint64_t)v);
		break;
	}
	case CQLTYPE_INET: {
		char tmp[INET6_ADDRSTRLEN + 1];
		uint8_t a[16];
		if (kind != CQLLIT_STRING || len >= sizeof(tmp))
			return lit_mismatch(t, kind, text, len, err, NULL);
		memcpy(tmp, text, len);
		tmp[len] = 0;
		if (inet_pton(AF_INET, tmp, a) == 1)
			buf_put(out, a, 4);
		else if (inet_pton(AF_INET6, tmp, a) == 1)
			buf_put(out, a, 16);
		else
			return lit_mismatch(t, kind, text, len, err, "not an IPv4 or IPv6 address");
		break;
	}
	case CQLTYPE_UUID:
	case CQLTYPE_TIMEUUID: {
		uint8_t u[16];
		if (kind != CQLLIT_UUID || !uuid_parse(text, len, u))
			return lit_mismatch(t, kind, text, len, err, NULL);
		if (t->kind == CQLTYPE_TIMEUUID && (u[6] >> 4) != 1)
			return lit_mismatch(t, kind, text, len, err, "not a version 1 (time) uuid");
		buf_put(out, u, 16);
		break;
	}
	default: return lit_mismatch(t, kind, text, len, err, "unsupported type");
	}
	if (!buf_ok(out))
		return cerr_set(err, COL_ENOMEM, "out of memory converting a literal");
	/* an empty literal ('') into an empty buffer leaves out->data NULL */
	int rc = cqltype_validate(t, out->data ? out->data + start : (const uint8_t *)"",
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
