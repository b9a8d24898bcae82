/*
 * cqltype.c — CQL types.  See cqltype.h for the contracts and the ordered
 * encoding table.  Numbers that are arbitrary precision (varint, decimal) are
 * handled as big-endian byte strings; decimals are normalised to
 * (sign, decimal digits without trailing zeros, exponent) for comparing and
 * for the ordered encoding, so 1.0 and 1.00 compare (and encode) equal, as
 * Cassandra's DecimalType (BigDecimal.compareTo) has them.
 */
#include "core/cqltype.h"
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

/* ---------------------------------------------------------------- kinds */

#define SIMPLE(k) [k] = {.kind = k}
static const struct cqltype simple_types[0x15] = {
        SIMPLE(CQLTYPE_ASCII),     SIMPLE(CQLTYPE_BIGINT),   SIMPLE(CQLTYPE_BLOB),
        SIMPLE(CQLTYPE_BOOLEAN),   SIMPLE(CQLTYPE_COUNTER),  SIMPLE(CQLTYPE_DECIMAL),
        SIMPLE(CQLTYPE_DOUBLE),    SIMPLE(CQLTYPE_FLOAT),    SIMPLE(CQLTYPE_INT),
        SIMPLE(CQLTYPE_TIMESTAMP), SIMPLE(CQLTYPE_UUID),     SIMPLE(CQLTYPE_VARCHAR),
        SIMPLE(CQLTYPE_VARINT),    SIMPLE(CQLTYPE_TIMEUUID), SIMPLE(CQLTYPE_INET),
        SIMPLE(CQLTYPE_DATE),      SIMPLE(CQLTYPE_TIME),     SIMPLE(CQLTYPE_SMALLINT),
        SIMPLE(CQLTYPE_TINYINT),
};

static const struct {
	const char *name;
	enum cqltype_kind kind;
} kind_names[] = {
        {"ascii", CQLTYPE_ASCII},       {"bigint", CQLTYPE_BIGINT},
        {"blob", CQLTYPE_BLOB},         {"boolean", CQLTYPE_BOOLEAN},
        {"counter", CQLTYPE_COUNTER},   {"decimal", CQLTYPE_DECIMAL},
        {"double", CQLTYPE_DOUBLE},     {"float", CQLTYPE_FLOAT},
        {"int", CQLTYPE_INT},           {"timestamp", CQLTYPE_TIMESTAMP},
        {"uuid", CQLTYPE_UUID},         {"text", CQLTYPE_VARCHAR},
        {"varchar", CQLTYPE_VARCHAR},   {"varint", CQLTYPE_VARINT},
        {"timeuuid", CQLTYPE_TIMEUUID}, {"inet", CQLTYPE_INET},
        {"date", CQLTYPE_DATE},         {"time", CQLTYPE_TIME},
        {"smallint", CQLTYPE_SMALLINT}, {"tinyint", CQLTYPE_TINYINT},
        {"list", CQLTYPE_LIST},         {"map", CQLTYPE_MAP},
        {"set", CQLTYPE_SET},
};

const struct cqltype *cqltype_simple(enum cqltype_kind kind)
{
	if ((unsigned)kind >= sizeof(simple_types) / sizeof(simple_types[0]))
		return NULL;
	const struct cqltype *t = &simple_types[kind];
	return t->kind == kind && kind != CQLTYPE_CUSTOM ? t : NULL;
}

const char *cqltype_kind_name(enum cqltype_kind kind)
{
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (kind_names[i].kind == kind)
			return kind_names[i].name;
	return "?";
}

struct cqltype *cqltype_collection_new(enum cqltype_kind kind, bool frozen,
                                       const struct cqltype *elem, const struct cqltype *value)
{
	struct cqltype *t = calloc(1, sizeof(*t));
	if (!t || !elem || (kind == CQLTYPE_MAP) != (value != NULL) ||
	    !(kind == CQLTYPE_LIST || kind == CQLTYPE_SET || kind == CQLTYPE_MAP)) {
		free(t);
		cqltype_free(elem);
		cqltype_free(value);
		return NULL;
	}
	t->kind = kind;
	t->frozen = frozen;
	t->heap_ = true;
	t->elem = elem;
	t->value = value;
	return t;
}

void cqltype_free(const struct cqltype *t)
{
	if (!t || !t->heap_)
		return;
	cqltype_free(t->elem);
	cqltype_free(t->value);
	free((void *)t);
}

const struct cqltype *cqltype_copy(const struct cqltype *t)
{
	if (!t || !t->heap_)
		return t;
	const struct cqltype *e = cqltype_copy(t->elem);
	const struct cqltype *v = t->value ? cqltype_copy(t->value) : NULL;
	if (!e || (t->value && !v)) {
		cqltype_free(e);
		cqltype_free(v);
		return NULL;
	}
	return cqltype_collection_new(t->kind, t->frozen, e, v);
}

bool cqltype_equal(const struct cqltype *a, const struct cqltype *b)
{
	if (a == b)
		return true;
	if (!a || !b || a->kind != b->kind)
		return false;
	if (!cqltype_is_collection(a))
		return true;
	return a->frozen == b->frozen && cqltype_equal(a->elem, b->elem) &&
	       cqltype_equal(a->value, b->value);
}

/* ---------------------------------------------------------------- parse */

struct tparser {
	const char *s;
	size_t len, pos;
	struct cerr *err;
	const char *whole;
	size_t whole_len;
};

static void tp_blank(struct tparser *p)
{
	while (p->pos < p->len && isspace((unsigned char)p->s[p->pos]))
		p->pos++;
}

static int tp_syntax(struct tparser *p, const char *what)
{
	return cerr_set(p->err, COL_ESYNTAX, "malformed type '%.*s': %s at offset %zu",
	                (int)(p->whole_len > 200 ? 200 : p->whole_len), p->whole, what, p->pos);
}

static int tp_type(struct tparser *p, int depth, const struct cqltype **out);

static int tp_args(struct tparser *p, int depth, const struct cqltype **a, const struct cqltype **b)
{
	tp_blank(p);
	if (p->pos >= p->len || p->s[p->pos] != '<')
		return tp_syntax(p, "expected '<'");
	p->pos++;
	int rc = tp_type(p, depth + 1, a);
	if (rc)
		return rc;
	tp_blank(p);
	if (b) {
		if (p->pos >= p->len || p->s[p->pos] != ',') {
			cqltype_free(*a);
			return tp_syntax(p, "expected ','");
		}
		p->pos++;
		rc = tp_type(p, depth + 1, b);
		if (rc) {
			cqltype_free(*a);
			return rc;
		}
		tp_blank(p);
	}
	if (p->pos >= p->len || p->s[p->pos] != '>') {
		cqltype_free(*a);
		if (b)
			cqltype_free(*b);
		return tp_syntax(p, "expected '>'");
	}
	p->pos++;
	return 0;
}

static int tp_type(struct tparser *p, int depth, const struct cqltype **out)
{
	if (depth > CQLTYPE_MAX_DEPTH)
		return tp_syntax(p, "types nested too deeply");
	tp_blank(p);
	size_t start = p->pos;
	while (p->pos < p->len && (isalnum((unsigned char)p->s[p->pos]) || p->s[p->pos] == '_'))
		p->pos++;
	size_t n = p->pos - start;
	if (n == 0)
		return tp_syntax(p, "expected a type name");
	const char *word = p->s + start;
	if (n == 6 && strncasecmp(word, "frozen", 6) == 0) {
		const struct cqltype *inner = NULL;
		int rc = tp_args(p, depth, &inner, NULL);
		if (rc)
			return rc;
		if (cqltype_is_collection(inner)) {
			((struct cqltype *)inner)->frozen = true;
		}
		/* frozen<simple> is the simple type itself, as in Cassandra. */
		*out = inner;
		return 0;
	}
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
		if (strlen(kind_names[i].name) != n ||
		    strncasecmp(word, kind_names[i].name, n) != 0)
			continue;
		enum cqltype_kind k = kind_names[i].kind;
		if (k != CQLTYPE_LIST && k != CQLTYPE_SET && k != CQLTYPE_MAP) {
			*out = cqltype_simple(k);
			return 0;
		}
		const struct cqltype *a = NULL, *b = NULL;
		int rc = tp_args(p, depth, &a, k == CQLTYPE_MAP ? &b : NULL);
		if (rc)
			return rc;
		if ((cqltype_is_collection(a) && !a->frozen) ||
		    (b && cqltype_is_collection(b) && !b->frozen)) {
			cqltype_free(a);
			cqltype_free(b);
			return cerr_set(
			        p->err, COL_ETYPE,
			        "invalid type '%.*s': non-frozen collections are not allowed "
			        "inside collections",
			        (int)(p->whole_len > 200 ? 200 : p->whole_len), p->whole);
		}
		if (k == CQLTYPE_SET || k == CQLTYPE_MAP) {
			if (a->kind == CQLTYPE_COUNTER || (b && b->kind == CQLTYPE_COUNTER)) {
				cqltype_free(a);
				cqltype_free(b);
				return cerr_set(
				        p->err, COL_ETYPE,
				        "invalid type '%.*s': counters are not allowed inside "
				        "collections",
				        (int)(p->whole_len > 200 ? 200 : p->whole_len), p->whole);
			}
		}
		struct cqltype *t = cqltype_collection_new(k, false, a, b);
		if (!t)
			return cerr_set(p->err, COL_ENOMEM, "out of memory parsing a type");
		*out = t;
		return 0;
	}
	return cerr_set(p->err, COL_ETYPE, "unknown type '%.*s'", (int)(n > 100 ? 100 : n), word);
}

int cqltype_parse(const char *text, size_t len, const struct cqltype **out, struct cerr *err)
{
	struct tparser p = {.s = text, .len = len, .err = err, .whole = text, .whole_len = len};
	const struct cqltype *t = NULL;
	int rc = tp_type(&p, 0, &t);
	if (rc)
		return rc;
	tp_blank(&p);
	if (p.pos != p.len) {
		cqltype_free(t);
		return tp_syntax(&p, "unexpected text after the type");
	}
	*out = t;
	return 0;
}

void cqltype_name(const struct cqltype *t, struct buf *out)
{
	if (!cqltype_is_collection(t)) {
		buf_put_str(out, cqltype_kind_name(t->kind));
		return;
	}
	if (t->frozen)
		buf_put_str(out, "frozen<");
	buf_put_str(out, cqltype_kind_name(t->kind));
	buf_put_u8(out, '<');
	cqltype_name(t->elem, out);
	if (t->value) {
		buf_put_str(out, ", ");
		cqltype_name(t->value, out);
	}
	buf_put_u8(out, '>');
	if (t->frozen)
		buf_put_u8(out, '>');
}

/* A short printable name into a fixed buffer, for error messages. */
static const char *tname(const struct cqltype *t, char *dst, size_t cap)
{
	struct buf b;
	buf_init(&b);
	cqltype_name(t, &b);
	size_t n = b.len < cap - 1 ? b.len : cap - 1;
	if (b.data)
		memcpy(dst, b.data, n);
	dst[n] = 0;
	buf_release(&b);
	return dst;
}

void cqltype_write_option(const struct cqltype *t, struct buf *out)
{
	buf_put_u16be(out, (uint16_t)t->kind);
	if (cqltype_is_collection(t)) {
		cqltype_write_option(t->elem, out);
		if (t->value)
			cqltype_write_option(t->value, out);
	}
}

static int read_option(struct bufreader *r, int depth, const struct cqltype **out, struct cerr *err)
{
	if (depth > CQLTYPE_MAX_DEPTH)
		return cerr_set(err, COL_EPROTO, "type option nested too deeply");
	uint16_t id = bufreader_u16be(r);
	if (!bufreader_ok(r))
		return cerr_set(err, COL_EPROTO, "truncated type option");
	if (id == CQLTYPE_LIST || id == CQLTYPE_SET || id == CQLTYPE_MAP) {
		const struct cqltype *a = NULL, *b = NULL;
		int rc = read_option(r, depth + 1, &a, err);
		if (rc)
			return rc;
		if (id == CQLTYPE_MAP && (rc = read_option(r, depth + 1, &b, err))) {
			cqltype_free(a);
			return rc;
		}
		/* On the wire a collection inside a collection is always frozen. */
		if (cqltype_is_collection(a))
			((struct cqltype *)a)->frozen = true;
		if (b && cqltype_is_collection(b))
			((struct cqltype *)b)->frozen = true;
		struct cqltype *t = cqltype_collection_new((enum cqltype_kind)id, false, a, b);
		if (!t)
			return cerr_set(err, COL_ENOMEM, "out of memory reading a type option");
		*out = t;
		return 0;
	}
	const struct cqltype *t = cqltype_simple((enum cqltype_kind)id);
	if (!t)
		return cerr_set(err, COL_EUNSUPPORTED, "unsupported type option id 0x%04x", id);
	*out = t;
	return 0;
}

int cqltype_read_option(struct bufreader *r, const struct cqltype **out, struct cerr *err)
{
	return read_option(r, 0, out, err);
}

size_t cqltype_fixed_size(const struct cqltype *t)
{
	switch (t->kind) {
	case CQLTYPE_TINYINT:
	case CQLTYPE_BOOLEAN: return 1;
	case CQLTYPE_SMALLINT: return 2;
	case CQLTYPE_INT:
	case CQLTYPE_FLOAT:
	case CQLTYPE_DATE: return 4;
	case CQLTYPE_BIGINT:
	case CQLTYPE_COUNTER:
	case CQLTYPE_DOUBLE:
	case CQLTYPE_TIMESTAMP:
	case CQLTYPE_TIME: return 8;
	case CQLTYPE_UUID:
	case CQLTYPE_TIMEUUID: return 16;
	default: return 0;
	}
}

/* ---------------------------------------------------------------- validate */

#define TIME_MAX_NS 86399999999999LL

/* Length of the valid UTF-8 prefix; == len when all valid.  Rejects overlong
 * forms, surrogates and code points above U+10FFFF. */
static size_t utf8_valid_prefix(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		uint32_t cp;
		if (c >= 0xC2 && c <= 0xDF) {
			n = 2;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 3;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 4;
			cp = c & 0x07;
		} else {
			return i;
		}
		if (len - i < n)
			return i;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return i;
		i += n;
	}
	return i;
}

struct coll_iter {
	struct bufreader r;
	int32_t n;
};

static int validate_depth(const struct cqltype *t, const uint8_t *p, size_t len, int depth,
                          struct cerr *err);

static int validate_collection(const struct cqltype *t, const uint8_t *p, size_t len, int depth,
                               struct cerr *err)
{
	char nb[128];
	struct bufreader r;
	bufreader_init(&r, p, len);
	int32_t n = (int32_t)bufreader_u32be(&r);
	if (!bufreader_ok(&r) || n < 0)
		return cerr_set(err, COL_ETYPE, "invalid %s value: bad element count",
		                tname(t, nb, sizeof(nb)));
	for (int32_t i = 0; i < n; i++) {
		for (int part = 0; part < (t->kind == CQLTYPE_MAP ? 2 : 1); part++) {
			int32_t el = (int32_t)bufreader_u32be(&r);
			if (!bufreader_ok(&r) || el < 0 || (size_t)el > bufreader_left(&r))
				return cerr_set(err, COL_ETYPE,
				                "invalid %s value: element %d is truncated or null",
				                tname(t, nb, sizeof(nb)), (int)i);
			const uint8_t *ep = bufreader_take(&r, (size_t)el);
			const struct cqltype *et = part ? t->value : t->elem;
			int rc = validate_depth(et, ep, (size_t)el, depth + 1, err);
			if (rc) {
				cerr_prefix(err, "in %s element %d: ", tname(t, nb, sizeof(nb)),
				            (int)i);
				return rc;
			}
		}
	}
	if (bufreader_left(&r))
		return cerr_set(err, COL_ETYPE,
		                "invalid %s value: %zu bytes after the last element",
		                tname(t, nb, sizeof(nb)), bufreader_left(&r));
	return 0;
}

static int validate_depth(const struct cqltype *t, const uint8_t *p, size_t len, int depth,
                          struct cerr *err)
{
	if (depth > CQLTYPE_MAX_DEPTH)
		return cerr_set(err, COL_ETYPE, "value nested too deeply");
	if (len == 0)
		return 0;
	size_t fixed = cqltype_fixed_size(t);
	if (fixed && len != fixed)
		return cerr_set(err, COL_ETYPE, "invalid %s value: expected %zu bytes, got %zu",
		                cqltype_kind_name(t->kind), fixed, len);
	switch (t->kind) {
	case CQLTYPE_ASCII:
		for (size_t i = 0; i < len; i++)
			if (p[i] >= 0x80)
				return cerr_set(
				        err, COL_ETYPE,
				        "invalid ascii value: byte 0x%02x at offset %zu is not "
				        "7-bit ASCII",
				        p[i], i);
		return 0;
	case CQLTYPE_VARCHAR: {
		size_t ok = utf8_valid_prefix(p, len);
		if (ok != len)
			return cerr_set(err, COL_ETYPE,
			                "invalid text value: not valid UTF-8 at offset %zu", ok);
		return 0;
	}
	case CQLTYPE_INET:
		if (len != 4 && len != 16)
			return cerr_set(err, COL_ETYPE,
			                "invalid inet value: expected 4 or 16 bytes, got %zu", len);
		return 0;
	case CQLTYPE_TIMEUUID:
		if ((p[6] >> 4) != 1)
			return cerr_set(err, COL_ETYPE,
			                "invalid timeuuid value: version %d, expected 1",
			                p[6] >> 4);
		return 0;
	case CQLTYPE_TIME: {
		int64_t v = (int64_t)be64_load(p);
		if (v < 0 || v > TIME_MAX_NS)
			return cerr_set(err, COL_ETYPE,
			                "invalid time value: %" PRId64
			                " ns is outside 00:00:00 .. 23:59:59.999999999",
			                v);
		return 0;
	}
	case CQLTYPE_DECIMAL:
		if (len < 4)
			return cerr_set(
			        err, COL_ETYPE,
			        "invalid decimal value: expected at least 4 bytes (scale), got "
			        "%zu",
			        len);
		if (len == 4)
			return cerr_set(err, COL_ETYPE,
			                "invalid decimal value: no unscaled value after the scale");
		return 0;
	case CQLTYPE_LIST:
	case CQLTYPE_SET:
	case CQLTYPE_MAP: return validate_collection(t, p, len, depth, err);
	case CQLTYPE_CUSTOM: return cerr_set(err, COL_ETYPE, "custom types are not supported");
	default: return 0;
	}
}

int cqltype_validate(const struct cqltype *t, const void *bytes, size_t len, struct cerr *err)
{
	return validate_depth(t, bytes, len, 0, err);
}

/* ---------------------------------------------------------------- numbers */

static int cmp_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* Minimal two's complement form of a varint: strip redundant sign bytes. */
static void varint_minimal(const uint8_t **p, size_t *len)
{
	while (*len > 1 &&
	       (((*p)[0] == 0x00 && !((*p)[1] & 0x80)) || ((*p)[0] == 0xFF && ((*p)[1] & 0x80)))) {
		(*p)++;
		(*len)--;
	}
}

static int varint_sign(const uint8_t *p, size_t len)
{
	if (len == 0)
		return 0;
	if (p[0] & 0x80)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 1;
	return 0;
}

static int varint_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	varint_minimal(&a, &alen);
	varint_minimal(&b, &blen);
	int sa = varint_sign(a, alen), sb = varint_sign(b, blen);
	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (sa == 0)
		return 0;
	if (alen != blen) {
		int longer_bigger = alen > blen ? 1 : -1;
		return sa > 0 ? longer_bigger : -longer_bigger;
	}
	int c = memcmp(a, b, alen);
	return c < 0 ? -1 : c > 0;
}

/* Magnitude (big-endian, no leading zeros) of a two's complement varint into
 * out; returns the sign. */
static int varint_magnitude(const uint8_t *p, size_t len, struct buf *out)
{
	int s = varint_sign(p, len);
	size_t start = out->len;
	if (s == 0)
		return 0;
	buf_put(out, p, len);
	if (!buf_ok(out))
		return s;
	uint8_t *m = out->data + start;
	if (s < 0) {
		for (size_t i = 0; i < len; i++)
			m[i] = (uint8_t)~m[i];
		for (size_t i = len; i-- > 0;)
			if (++m[i] != 0)
				break;
	}
	size_t z = 0;
	while (z < len && m[z] == 0)
		z++;
	memmove(m, m + z, len - z);
	out->len -= z;
	return s;
}

/* Two's complement (minimal) of sign * magnitude, appended to out. */
static void varint_from_magnitude(int sign, const uint8_t *m, size_t mlen, struct buf *out)
{
	while (mlen > 0 && m[0] == 0) {
		m++;
		mlen--;
	}
	if (sign == 0 || mlen == 0) {
		buf_put_u8(out, 0);
		return;
	}
	size_t start = out->len;
	buf_put_u8(out, 0);
	buf_put(out, m, mlen);
	if (!buf_ok(out))
		return;
	uint8_t *v = out->data + start;
	size_t n = mlen + 1;
	if (sign < 0) {
		for (size_t i = 0; i < n; i++)
			v[i] = (uint8_t)~v[i];
		for (size_t i = n; i-- > 0;)
			if (++v[i] != 0)
				break;
	}
	const uint8_t *q = v;
	size_t ql = n;
	varint_minimal(&q, &ql);
	memmove(v, q, ql);
	out->len = start + ql;
}

/* Decimal digits ('0'..'9', no leading zeros, "" for zero) of a magnitude. */
static int magnitude_to_digits(const uint8_t *m, size_t mlen, struct buf *digits)
{
	/* Base 2^32 limbs, most significant first, divided by 10^9 repeatedly:
	 * O(n^2) in the value's size, ~0.3 s for Cassandra's largest (64 KiB)
	 * key component, microseconds for everyday values. */
	size_t nl = (mlen + 3) / 4;
	uint32_t *work = malloc((nl ? nl : 1) * sizeof(*work));
	if (!work)
		return COL_ENOMEM;
	for (size_t i = 0; i < nl; i++)
		work[i] = 0;
	for (size_t i = 0; i < mlen; i++) {
		size_t bit = (mlen - 1 - i) * 8; /* position from the least significant end */
		work[nl - 1 - bit / 32] |= (uint32_t)m[i] << (bit % 32);
	}
	size_t start = 0;
	while (start < nl && work[start] == 0)
		start++;
	struct buf rev;
	buf_init(&rev);
	while (start < nl) {
		uint64_t rem = 0;
		for (size_t i = start; i < nl; i++) {
			uint64_t cur = (rem << 32) | work[i];
			work[i] = (uint32_t)(cur / 1000000000u);
			rem = cur % 1000000000u;
		}
		while (start < nl && work[start] == 0)
			start++;
		for (int k = 0; k < 9; k++) {
			buf_put_u8(&rev, (uint8_t)('0' + rem % 10));
			rem /= 10;
		}
	}
	free(work);
	while (rev.len > 0 && rev.data[rev.len - 1] == '0')
		rev.len--;
	for (size_t i = rev.len; i-- > 0;)
		buf_put_u8(digits, rev.data[i]);
	int rc = buf_ok(&rev) && buf_ok(digits) ? 0 : COL_ENOMEM;
	buf_release(&rev);
	return rc;
}

/* Magnitude bytes (big-endian) of a decimal digit string. */
static int digits_to_magnitude(const char *d, size_t n, struct buf *out)
{
	size_t start = out->len;
	buf_put_u8(out, 0);
	for (size_t i = 0; i < n && buf_ok(out); i++) {
		unsigned carry = (unsigned)(d[i] - '0');
		uint8_t *m = out->data + start;
		size_t ml = out->len - start;
		for (size_t k = ml; k-- > 0;) {
			unsigned cur = m[k] * 10u + carry;
			m[k] = (uint8_t)cur;
			carry = cur >> 8;
		}
		if (carry) {
			buf_put_u8(out, 0);
			if (!buf_ok(out))
				break;
			m = out->data + start;
			memmove(m + 1, m, out->len - start - 1);
			m[0] = (uint8_t)carry;
		}
	}
	return buf_ok(out) ? 0 : COL_ENOMEM;
}

/* Normalised decimal: value = sign * 0.D * 10^exp, D without trailing zeros. */
struct decnorm {
	int sign;
	int64_t exp;
	struct buf digits;
};

static int decimal_normalise(const uint8_t *p, size_t len, struct decnorm *d)
{
	buf_init(&d->digits);
	d->sign = 0;
	d->exp = 0;
	int32_t scale = (int32_t)be32_load(p);
	struct buf mag;
	buf_init(&mag);
	d->sign = varint_magnitude(p + 4, len - 4, &mag);
	int rc = buf_ok(&mag) ? magnitude_to_digits(mag.data, mag.len, &d->digits) : COL_ENOMEM;
	buf_release(&mag);
	if (rc)
		return rc;
	if (d->sign == 0)
		return 0;
	/* unscaled has k digits (after stripping trailing zeros, t of them):
	 * value = U * 10^-scale = 0.D * 10^(k_full - scale). */
	size_t k_full = d->digits.len;
	while (d->digits.len > 0 && d->digits.data[d->digits.len - 1] == '0')
		d->digits.len--;
	d->exp = (int64_t)k_full - (int64_t)scale;
	return 0;
}

static int decimal_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	struct decnorm x, y;
	int rx = decimal_normalise(a, alen, &x);
	int ry = decimal_normalise(b, blen, &y);
	if (rx || ry) {
		buf_release(&x.digits);
		buf_release(&y.digits);
		return cmp_bytes(a, alen, b, blen);
	}
	int c;
	if (x.sign != y.sign) {
		c = x.sign < y.sign ? -1 : 1;
	} else if (x.sign == 0) {
		c = 0;
	} else if (x.exp != y.exp) {
		c = (x.exp < y.exp ? -1 : 1) * x.sign;
	} else {
		size_t n = x.digits.len < y.digits.len ? x.digits.len : y.digits.len;
		int m = n ? memcmp(x.digits.data, y.digits.data, n) : 0;
		if (m == 0)
			m = x.digits.len < y.digits.len ? -1 : x.digits.len > y.digits.len;
		c = (m < 0 ? -1 : m > 0) * x.sign;
	}
	buf_release(&x.digits);
	buf_release(&y.digits);
	return c;
}

/* ---------------------------------------------------------------- compare */

static int cmp_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c < 0 ? -1 : 1;
	return alen < blen ? -1 : alen > blen;
}

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}
static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* Java's Double.compare: by value, -0.0 < 0.0, NaN == NaN and above +Inf. */
static int cmp_double(double a, double b)
{
	bool na = isnan(a), nb = isnan(b);
	if (na || nb)
		return na && nb ? 0 : na ? 1 : -1;
	if (a < b)
		return -1;
	if (a > b)
		return 1;
	bool sa = signbit(a), sb = signbit(b);
	return sa == sb ? 0 : sa ? -1 : 1;
}

static double load_float(const uint8_t *p)
{
	uint32_t u = be32_load(p);
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static double load_double(const uint8_t *p)
{
	uint64_t u = be64_load(p);
	double d;
	memcpy(&d, &u, 8);
	return d;
}

static uint64_t uuid_reorder(uint64_t msb)
{
	return (msb << 48) | ((msb << 16) & 0xFFFF00000000ULL) | (msb >> 32);
}

static uint64_t uuid_unreorder(uint64_t r)
{
	uint64_t time_low = r & 0xFFFFFFFFULL, time_mid = (r >> 32) & 0xFFFF, time_hi = r >> 48;
	return (time_low << 32) | (time_mid << 16) | time_hi;
}

static int compare_depth(const struct cqltype *t, const uint8_t *a, size_t alen, const uint8_t *b,
                         size_t blen, int depth);

static int compare_collection(const struct cqltype *t, const uint8_t *a, size_t alen,
                              const uint8_t *b, size_t blen, int depth)
{
	struct bufreader ra, rb;
	bufreader_init(&ra, a, alen);
	bufreader_init(&rb, b, blen);
	int32_t na = (int32_t)bufreader_u32be(&ra), nb = (int32_t)bufreader_u32be(&rb);
	int parts = t->kind == CQLTYPE_MAP ? 2 : 1;
	for (int32_t i = 0; i < na && i < nb; i++) {
		for (int part = 0; part < parts; part++) {
			uint32_t la = bufreader_u32be(&ra), lb = bufreader_u32be(&rb);
			const uint8_t *pa = bufreader_take(&ra, la), *pb = bufreader_take(&rb, lb);
			if (!pa || !pb)
				return cmp_bytes(a, alen, b, blen); /* invalid: any total order */
			int c = compare_depth(part ? t->value : t->elem, pa, la, pb, lb, depth + 1);
			if (c)
				return c;
		}
	}
	return na < nb ? -1 : na > nb;
}

static int compare_depth(const struct cqltype *t, const uint8_t *a, size_t alen, const uint8_t *b,
                         size_t blen, int depth)
{
	if (alen == 0 || blen == 0)
		return alen == 0 ? (blen == 0 ? 0 : -1) : 1;
	if (depth > CQLTYPE_MAX_DEPTH)
		return cmp_bytes(a, alen, b, blen);
	size_t fixed = cqltype_fixed_size(t);
	if (fixed && (alen != fixed || blen != fixed))
		return cmp_bytes(a, alen, b, blen); /* invalid: keep a total order */
	switch (t->kind) {
	case CQLTYPE_TINYINT: return cmp_i64((int8_t)a[0], (int8_t)b[0]);
	case CQLTYPE_SMALLINT: return cmp_i64((int16_t)be16_load(a), (int16_t)be16_load(b));
	case CQLTYPE_INT: return cmp_i64((int32_t)be32_load(a), (int32_t)be32_load(b));
	case CQLTYPE_BIGINT:
	case CQLTYPE_COUNTER:
	case CQLTYPE_TIMESTAMP:
	case CQLTYPE_TIME: return cmp_i64((int64_t)be64_load(a), (int64_t)be64_load(b));
	case CQLTYPE_BOOLEAN: return (a[0] != 0) - (b[0] != 0);
	case CQLTYPE_FLOAT: return cmp_double(load_float(a), load_float(b));
	case CQLTYPE_DOUBLE: return cmp_double(load_double(a), load_double(b));
	case CQLTYPE_DATE: return cmp_u64(be32_load(a), be32_load(b));
	case CQLTYPE_TIMEUUID: {
		int c = cmp_i64((int64_t)uuid_reorder(be64_load(a)),
		                (int64_t)uuid_reorder(be64_load(b)));
		if (c)
			return c;
		return cmp_i64((int64_t)(be64_load(a + 8) ^ 0x0080808080808080ULL),
		               (int64_t)(be64_load(b + 8) ^ 0x0080808080808080ULL));
	}
	case CQLTYPE_UUID: {
		uint64_t ma = be64_load(a), mb = be64_load(b);
		int va = (int)((ma >> 12) & 0xF), vb = (int)((mb >> 12) & 0xF);
		if (va != vb)
			return va < vb ? -1 : 1;
		int c = va == 1 ? cmp_u64(uuid_reorder(ma), uuid_reorder(mb)) : cmp_u64(ma, mb);
		if (c)
			return c;
		return cmp_u64(be64_load(a + 8), be64_load(b + 8));
	}
	case CQLTYPE_VARINT: return varint_cmp(a, alen, b, blen);
	case CQLTYPE_DECIMAL:
		if (alen < 5 || blen < 5)
			return cmp_bytes(a, alen, b, blen);
		return decimal_cmp(a, alen, b, blen);
	case CQLTYPE_LIST:
	case CQLTYPE_SET:
	case CQLTYPE_MAP: return compare_collection(t, a, alen, b, blen, depth);
	default: /* ascii, text, blob, inet: unsigned bytes */ return cmp_bytes(a, alen, b, blen);
	}
}

int cqltype_compare(const struct cqltype *t, const void *a, size_t alen, const void *b, size_t blen)
{
	return compare_depth(t, a, alen, b, blen, 0);
}

/* ---------------------------------------------------------------- ordered encoding */

#define ORD_EMPTY 0x01
#define ORD_VALUE 0x02
#define ORD_ELEM  0x02
#define ORD_END   0x01

static void put_flipped64(struct buf *out, uint64_t v)
{
	buf_put_u64be(out, v ^ (1ULL << 63));
}

static void encode_body(const struct cqltype *t, const uint8_t *p, size_t len, struct buf *out,
                        int depth);

static void encode_collection(const struct cqltype *t, const uint8_t *p, size_t len,
                              struct buf *out, int depth)
{
	struct bufreader r;
	bufreader_init(&r, p, len);
	int32_t n = (int32_t)bufreader_u32be(&r);
	int parts = t->kind == CQLTYPE_MAP ? 2 : 1;
	for (int32_t i = 0; i < n; i++) {
		buf_put_u8(out, ORD_ELEM);
		for (int part = 0; part < parts; part++) {
			uint32_t el = bufreader_u32be(&r);
			const uint8_t *ep = bufreader_take(&r, el);
			const struct cqltype *et = part ? t->value : t->elem;
			if (el == 0) {
				buf_put_u8(out, ORD_EMPTY);
			} else {
				buf_put_u8(out, ORD_VALUE);
				encode_body(et, ep, el, out, depth + 1);
			}
		}
	}
	buf_put_u8(out, ORD_END);
}

/* Payload of a valid non-empty value (after the ORD_VALUE marker), ASC. */
static void encode_body(const struct cqltype *t, const uint8_t *p, size_t len, struct buf *out,
                        int depth)
{
	switch (t->kind) {
	case CQLTYPE_TINYINT: buf_put_u8(out, p[0] ^ 0x80); return;
	case CQLTYPE_SMALLINT:
		buf_put_u8(out, p[0] ^ 0x80);
		buf_put_u8(out, p[1]);
		return;
	case CQLTYPE_INT: buf_put_u32be(out, be32_load(p) ^ 0x80000000u); return;
	case CQLTYPE_BIGINT:
	case CQLTYPE_COUNTER:
	case CQLTYPE_TIMESTAMP:
	case CQLTYPE_TIME: put_flipped64(out, be64_load(p)); return;
	case CQLTYPE_BOOLEAN: buf_put_u8(out, p[0] ? 1 : 0); return;
	case CQLTYPE_FLOAT: {
		uint32_t u = be32_load(p);
		if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu))
			u = 0x7FC00000u;
		u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
		buf_put_u32be(out, u);
		return;
	}
	case CQLTYPE_DOUBLE: {
		uint64_t u = be64_load(p);
		if ((u & 0x7FF0000000000000ULL) == 0x7FF0000000000000ULL &&
		    (u & 0x000FFFFFFFFFFFFFULL))
			u = 0x7FF8000000000000ULL;
		u = (u & (1ULL << 63)) ? ~u : (u | (1ULL << 63));
		buf_put_u64be(out, u);
		return;
	}
	case CQLTYPE_DATE: buf_put(out, p, 4); return;
	case CQLTYPE_TIMEUUID:
		put_flipped64(out, uuid_reorder(be64_load(p)));
		for (int i = 8; i < 16; i++)
			buf_put_u8(out, p[i] ^ 0x80);
		return;
	case CQLTYPE_UUID: {
		uint64_t msb = be64_load(p);
		int v = (int)((msb >> 12) & 0xF);
		buf_put_u8(out, (uint8_t)v);
		buf_put_u64be(out, v == 1 ? uuid_reorder(msb) : msb);
		buf_put(out, p + 8, 8);
		return;
	}
	case CQLTYPE_VARINT: {
		struct buf mag;
		buf_init(&mag);
		int s = varint_magnitude(p, len, &mag);
		if (!buf_ok(&mag)) {
			out->oom = true;
			return;
		}
		buf_put_u8(out, (uint8_t)(s + 1));
		if (s > 0) {
			buf_put_u32be(out, (uint32_t)mag.len);
			buf_put(out, mag.data, mag.len);
		} else if (s < 0) {
			buf_put_u32be(out, ~(uint32_t)mag.len);
			for (size_t i = 0; i < mag.len; i++)
				buf_put_u8(out, (uint8_t)~mag.data[i]);
		}
		buf_release(&mag);
		return;
	}
	case CQLTYPE_DECIMAL: {
		struct decnorm d;
		if (decimal_normalise(p, len, &d)) {
			buf_release(&d.digits);
			out->oom = true;
			return;
		}
		buf_put_u8(out, (uint8_t)(d.sign + 1));
		if (d.sign != 0) {
			uint8_t inv = d.sign < 0 ? 0xFF : 0x00;
			uint64_t e = (uint64_t)d.exp ^ (1ULL << 63);
			for (int i = 7; i >= 0; i--)
				buf_put_u8(out, (uint8_t)(e >> (i * 8)) ^ inv);
			for (size_t i = 0; i < d.digits.len; i++)
				buf_put_u8(out, (uint8_t)(d.digits.data[i] - '0' + 1) ^ inv);
			buf_put_u8(out, inv);
		}
		buf_release(&d.digits);
		return;
	}
	case CQLTYPE_LIST:
	case CQLTYPE_SET:
	case CQLTYPE_MAP: encode_collection(t, p, len, out, depth); return;
	default: buf_put_escaped(out, p, len); return;
	}
}

int cqltype_encode_ordered(const struct cqltype *t, const void *bytes, size_t len, bool desc,
                           struct buf *out, struct cerr *err)
{
	int rc = cqltype_validate(t, bytes, len, err);
	if (rc)
		return rc;
	size_t start = out->len;
	if (len == 0) {
		buf_put_u8(out, ORD_EMPTY);
	} else {
		buf_put_u8(out, ORD_VALUE);
		encode_body(t, bytes, len, out, 0);
	}
	if (!buf_ok(out))
		return cerr_set(err, COL_ENOMEM, "out of memory encoding a key");
	if (desc)
		for (size_t i = start; i < out->len; i++)
			out->data[i] = (uint8_t)~out->data[i];
	return 0;
}

/* Reads ordered bytes, inverting them when desc. */
struct ordreader {
	struct bufreader r;
	uint8_t inv;
};

static uint8_t or_u8(struct ordreader *o)
{
	return bufreader_u8(&o->r) ^ o->inv;
}

static uint64_t or_u64(struct ordreader *o)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | or_u8(o);
	return v;
}

static int decode_body(const struct cqltype *t, struct ordreader *o, struct buf *out, int depth);

static int decode_component(const struct cqltype *t, struct ordreader *o, struct buf *out,
                            int depth)
{
	uint8_t m = or_u8(o);
	if (!bufreader_ok(&o->r))
		return COL_ECORRUPT;
	if (m == ORD_EMPTY)
		return 0;
	if (m != ORD_VALUE)
		return COL_ECORRUPT;
	return decode_body(t, o, out, depth);
}

static int decode_collection(const struct cqltype *t, struct ordreader *o, struct buf *out,
                             int depth)
{
	size_t count_at = out->len;
	buf_put_u32be(out, 0);
	uint32_t n = 0;
	for (;;) {
		uint8_t m = or_u8(o);
		if (!bufreader_ok(&o->r))
			return COL_ECORRUPT;
		if (m == ORD_END)
			break;
		if (m != ORD_ELEM || n == INT32_MAX)
			return COL_ECORRUPT;
		for (int part = 0; part < (t->kind == CQLTYPE_MAP ? 2 : 1); part++) {
			size_t len_at = out->len;
			buf_put_u32be(out, 0);
			int rc = decode_component(part ? t->value : t->elem, o, out, depth + 1);
			if (rc)
				return rc;
			buf_patch_u32be(out, len_at, (uint32_t)(out->len - len_at - 4));
		}
		n++;
	}
	buf_patch_u32be(out, count_at, n);
	return 0;
}

static int decode_body(const struct cqltype *t, struct ordreader *o, struct buf *out, int depth)
{
	if (depth > CQLTYPE_MAX_DEPTH)
		return COL_ECORRUPT;
	switch (t->kind) {
	case CQLTYPE_TINYINT: buf_put_u8(out, or_u8(o) ^ 0x80); break;
	case CQLTYPE_SMALLINT: {
		uint8_t hi = or_u8(o) ^ 0x80;
		buf_put_u8(out, hi);
		buf_put_u8(out, or_u8(o));
		break;
	}
	case CQLTYPE_INT: {
		uint32_t u = 0;
		for (int i = 0; i < 4; i++)
			u = (u << 8) | or_u8(o);
		buf_put_u32be(out, u ^ 0x80000000u);
		break;
	}
	case CQLTYPE_BIGINT:
	case CQLTYPE_COUNTER:
	case CQLTYPE_TIMESTAMP:
	case CQLTYPE_TIME: buf_put_u64be(out, or_u64(o) ^ (1ULL << 63)); break;
	case CQLTYPE_BOOLEAN: {
		uint8_t b = or_u8(o);
		if (b > 1)
			return COL_ECORRUPT;
		buf_put_u8(out, b);
		break;
	}
	case CQLTYPE_FLOAT: {
		uint32_t u = 0;
		for (int i = 0; i < 4; i++)
			u = (u << 8) | or_u8(o);
		u = (u & 0x80000000u) ? (u & 0x7FFFFFFFu) : ~u;
		buf_put_u32be(out, u);
		break;
	}
	case CQLTYPE_DOUBLE: {
		uint64_t u = or_u64(o);
		u = (u & (1ULL << 63)) ? (u & ~(1ULL << 63)) : ~u;
		buf_put_u64be(out, u);
		break;
	}
	case CQLTYPE_DATE:
		for (int i = 0; i < 4; i++)
			buf_put_u8(out, or_u8(o));
		break;
	case CQLTYPE_TIMEUUID:
		buf_put_u64be(out, uuid_unreorder(or_u64(o) ^ (1ULL << 63)));
		for (int i = 0; i < 8; i++)
			buf_put_u8(out, or_u8(o) ^ 0x80);
		break;
	case CQLTYPE_UUID: {
		uint8_t v = or_u8(o);
		uint64_t msb = or_u64(o);
		if (v == 1)
			msb = uuid_unreorder(msb);
		if (((msb >> 12) & 0xF) != v)
			return COL_ECORRUPT;
		buf_put_u64be(out, msb);
		for (int i = 0; i < 8; i++)
			buf_put_u8(out, or_u8(o));
		break;
	}
	case CQLTYPE_VARINT: {
		uint8_t s = or_u8(o);
		if (s == 1) {
			buf_put_u8(out, 0);
			break;
		}
		if (s != 0 && s != 2)
			return COL_ECORRUPT;
		uint8_t inv = s == 0 ? 0xFF : 0;
		uint32_t n = 0;
		for (int i = 0; i < 4; i++)
			n = (n << 8) | (uint8_t)(or_u8(o) ^ inv);
		if (n == 0 || n > bufreader_left(&o->r))
			return COL_ECORRUPT;
		const uint8_t *m = bufreader_take(&o->r, n);
		uint8_t *tmp = malloc(n);
		if (!tmp)
			return COL_ENOMEM;
		for (uint32_t i = 0; i < n; i++)
			tmp[i] = m[i] ^ o->inv ^ inv;
		varint_from_magnitude(s == 0 ? -1 : 1, tmp, n, out);
		free(tmp);
		break;
	}
	case CQLTYPE_DECIMAL: {
		uint8_t s = or_u8(o);
		if (s == 1) {
			buf_put_u32be(out, 0);
			buf_put_u8(out, 0);
			break;
		}
		if (s != 0 && s != 2)
			return COL_ECORRUPT;
		uint8_t inv = s == 0 ? 0xFF : 0;
		uint64_t e = 0;
		for (int i = 0; i < 8; i++)
			e = (e << 8) | (uint8_t)(or_u8(o) ^ inv);
		int64_t exp = (int64_t)(e ^ (1ULL << 63));
		struct buf digits;
		buf_init(&digits);
		for (;;) {
			uint8_t c = or_u8(o) ^ inv;
			if (!bufreader_ok(&o->r) || c > 10) {
				buf_release(&digits);
				return COL_ECORRUPT;
			}
			if (c == 0)
				break;
			buf_put_u8(&digits, (uint8_t)('0' + c - 1));
		}
		int64_t scale = (int64_t)digits.len - exp;
		if (digits.len == 0 || scale < INT32_MIN || scale > INT32_MAX) {
			buf_release(&digits);
			return COL_ECORRUPT;
		}
		buf_put_u32be(out, (uint32_t)(int32_t)scale);
		struct buf mag;
		buf_init(&mag);
		int rc = digits_to_magnitude((const char *)digits.data, digits.len, &mag);
		if (!rc)
			varint_from_magnitude(s == 0 ? -1 : 1, mag.data, mag.len, out);
		buf_release(&mag);
		buf_release(&digits);
		if (rc)
			return rc;
		break;
	}
	case CQLTYPE_LIST:
	case CQLTYPE_SET:
	case CQLTYPE_MAP: return decode_collection(t, o, out, depth);
	default: /* ascii, text, blob, inet: an escaped byte string */
		bufreader_escaped(&o->r, o->inv, out);
		break;
	}
	if (!bufreader_ok(&o->r))
		return COL_ECORRUPT;
	return buf_ok(out) ? 0 : COL_ENOMEM;
}

int cqltype_decode_ordered(const struct cqltype *t, struct bufreader *r, bool desc, struct buf *out,
                           struct cerr *err)
{
	struct ordreader o = {.r = *r, .inv = desc ? 0xFF : 0x00};
	size_t start = out->len;
	int rc = decode_component(t, &o, out, 0);
	/* an empty value into an empty buffer: out->data may still be NULL */
	if (rc == 0 && cqltype_validate(t, out->data ? out->data + start : (const uint8_t *)"",
	                                out->len - start, NULL) != 0)
		rc = COL_ECORRUPT;
	if (rc) {
		out->len = start;
		char nb[128];
		if (rc == COL_ENOMEM)
			return cerr_set(err, rc, "out of memory decoding a key");
		return cerr_set(err, COL_ECORRUPT, "malformed ordered %s component at offset %zu",
		                tname(t, nb, sizeof(nb)), r->pos);
	}
	*r = o.r;
	return 0;
}

/* ---------------------------------------------------------------- time */

int64_t cqltype_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* Howard Hinnant's days_from_civil */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yy + (*m <= 2);
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Parse exactly n digits at s[*i]. */
static bool take_digits(const char *s, size_t len, size_t *i, int n, int64_t *out)
{
	int64_t v = 0;
	for (int k = 0; k < n; k++) {
		if (*i >= len || !isdigit((unsigned char)s[*i]))
			return false;
		v = v * 10 + (s[(*i)++] - '0');
	}
	*out = v;
	return true;
}

/* "yyyy-mm-dd" (year may have a sign and more digits) -> days since epoch. */
static bool parse_date_part(const char *s, size_t len, size_t *i, int64_t *days)
{
	bool neg = false;
	if (*i < len && (s[*i] == '-' || s[*i] == '+'))
		neg = s[(*i)++] == '-';
	size_t ys = *i;
	int64_t y = 0;
	while (*i < len && isdigit((unsigned char)s[*i]) && *i - ys < 9)
		y = y * 10 + (s[(*i)++] - '0');
	if (*i - ys < 1)
		return false;
	if (neg)
		y = -y;
	int64_t mo, d;
	if (*i >= len || s[(*i)++] != '-' || !take_digits(s, len, i, 2, &mo) || *i >= len ||
	    s[(*i)++] != '-' || !take_digits(s, len, i, 2, &d))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, (unsigned)mo))
		return false;
	*days = cqltype_days_from_civil(y, (unsigned)mo, (unsigned)d);
	return true;
}

/* "hh:mm[:ss[.fffffffff]]" -> ns since midnight. */
static bool parse_time_part(const char *s, size_t len, size_t *i, bool need_seconds, int64_t *ns)
{
	int64_t h, m, sec = 0, frac = 0;
	if (!take_digits(s, len, i, 2, &h) || *i >= len || s[(*i)++] != ':' ||
	    !take_digits(s, len, i, 2, &m))
		return false;
	if (*i < len && s[*i] == ':') {
		(*i)++;
		if (!take_digits(s, len, i, 2, &sec))
			return false;
		if (*i < len && s[*i] == '.') {
			(*i)++;
			int nd = 0;
			while (*i < len && isdigit((unsigned char)s[*i])) {
				if (nd == 9)
					return false;
				frac = frac * 10 + (s[(*i)++] - '0');
				nd++;
			}
			if (nd == 0)
				return false;
			for (; nd < 9; nd++)
				frac *= 10;
		}
	} else if (need_seconds) {
		return false;
	}
	if (h > 23 || m > 59 || sec > 59)
		return false;
	*ns = ((h * 60 + m) * 60 + sec) * 1000000000LL + frac;
	return true;
}

static bool all_digits(const char *s, size_t len, bool allow_sign)
{
	size_t i = 0;
	if (allow_sign && len > 0 && (s[0] == '-' || s[0] == '+'))
		i = 1;
	if (i == len)
		return false;
	for (; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool parse_i64(const char *s, size_t len, int64_t *out)
{
	char tmp[32];
	if (len == 0 || len >= sizeof(tmp) || !all_digits(s, len, true))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = 0;
	errno = 0;
	char *end;
	long long v = strtoll(tmp, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

int cqltype_parse_timestamp(const char *s, size_t len, int64_t *ms_out)
{
	int64_t v;
	if (all_digits(s, len, true))
		return parse_i64(s, len, &v) ? (*ms_out = v, 0) : COL_EINVAL;
	size_t i = 0;
	int64_t days, ns = 0;
	if (!parse_date_part(s, len, &i, &days))
		return COL_EINVAL;
	if (i < len && (s[i] == ' ' || s[i] == 'T')) {
		i++;
		if (!parse_time_part(s, len, &i, false, &ns))
			return COL_EINVAL;
	}
	int64_t off_min = 0;
	while (i < len && s[i] == ' ')
		i++;
	if (i < len) {
		if (s[i] == 'Z' || s[i] == 'z') {
			i++;
		} else if (s[i] == '+' || s[i] == '-') {
			int sign = s[i++] == '-' ? -1 : 1;
			int64_t hh, mm = 0;
			if (!take_digits(s, len, &i, 2, &hh))
				return COL_EINVAL;
			if (i < len && s[i] == ':')
				i++;
			if (i < len && !take_digits(s, len, &i, 2, &mm))
				return COL_EINVAL;
			if (hh > 23 || mm > 59)
				return COL_EINVAL;
			off_min = sign * (hh * 60 + mm);
		} else {
			return COL_EINVAL;
		}
	}
	if (i != len)
		return COL_EINVAL;
	*ms_out = days * 86400000LL + ns / 1000000 - off_min * 60000;
	return 0;
}

/* ---------------------------------------------------------------- format */

static void put_quoted(struct buf *out, const uint8_t *p, size_t len)
{
	buf_put_u8(out, '\'');
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\'') {
			buf_put(out, p + run, i + 1 - run);
			buf_put_u8(out, '\'');
			run = i + 1;
		}
	}
	buf_put(out, p + run, len - run);
	buf_put_u8(out, '\'');
}

/* cqlsh's format_floating_point_type. */
static void put_floating(struct buf *out, double v, int precision)
{
	if (isnan(v)) {
		buf_put_str(out, "NaN");
		return;
	}
	if (isinf(v)) {
		buf_put_str(out, v > 0 ? "Infinity" : "-Infinity");
		return;
	}
	if (fabs(v) > DBL_EPSILON) {
		double l = log10(fabs(v));
		long exponent = (long)l; /* Python int(): truncates toward zero */
		if (exponent >= -4 && exponent < precision)
			precision = precision + (int)exponent + 1;
	}
	buf_printf(out, "%.*g", precision, v);
}

static void put_decimal(struct buf *out, const uint8_t *p, size_t len)
{
	int32_t scale = (int32_t)be32_load(p);
	struct buf mag, digits;
	buf_init(&mag);
	buf_init(&digits);
	int sign = varint_magnitude(p + 4, len - 4, &mag);
	if (magnitude_to_digits(mag.data, mag.len, &digits) || !buf_ok(&mag)) {
		out->oom = true;
		goto done;
	}
	if (digits.len == 0)
		buf_put_u8(&digits, '0');
	/* Python's Decimal.__str__ (to-scientific-string). */
	int64_t exp = -(int64_t)scale;
	int64_t ndig = (int64_t)digits.len;
	int64_t adjusted = exp + ndig - 1;
	if (sign < 0)
		buf_put_u8(out, '-');
	const uint8_t *d = digits.data;
	if (exp <= 0 && adjusted >= -6) {
		if (exp == 0) {
			buf_put(out, d, digits.len);
		} else if (ndig + exp > 0) {
			buf_put(out, d, (size_t)(ndig + exp));
			buf_put_u8(out, '.');
			buf_put(out, d + ndig + exp, (size_t)-exp);
		} else {
			buf_put_str(out, "0.");
			for (int64_t k = 0; k < -(ndig + exp); k++)
				buf_put_u8(out, '0');
			buf_put(out, d, digits.len);
		}
	} else {
		buf_put_u8(out, d[0]);
		if (ndig > 1) {
			buf_put_u8(out, '.');
			buf_put(out, d + 1, digits.len - 1);
		}
		buf_printf(out, "E%s%" PRId64, adjusted >= 0 ? "+" : "", adjusted);
	}
done:
	buf_release(&mag);
	buf_release(&digits);
}

static void put_varint(struct buf *out, const uint8_t *p, size_t len)
{
	struct buf mag, digits;
	buf_init(&mag);
	buf_init(&digits);
	int sign = varint_magnitude(p, len, &mag);
	if (magnitude_to_digits(mag.data, mag.len, &digits) == 0 && buf_ok(&mag)) {
		if (sign < 0)
			buf_put_u8(out, '-');
		if (digits.len == 0)
			buf_put_u8(out, '0');
		buf_put(out, digits.data, digits.len);
	} else {
		out->oom = true;
	}
	buf_release(&mag);
	buf_release(&digits);
}

static void put_timestamp(struct buf *out, int64_t ms)
{
	int64_t days = ms / 86400000LL, rem = ms % 86400000LL;
	if (rem < 0) {
		rem += 86400000LL;
		days--;
	}
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	buf_printf(out, "%04" PRId64 "-%02u-%02u %02d:%02d:%02d.%06d+0000", y, m, d,
	           (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
	           (int)(rem % 1000) * 1000);
}

static void format_depth(const struct cqltype *t, const uint8_t *p, size_t len, struct buf *out,
                         bool nested, int depth)
{
	char nb[128];
	if (cqltype_validate(t, p, len, NULL) != 0) {
		buf_printf(out, "<invalid %s>", tname(t, nb, sizeof(nb)));
		return;
	}
	if (len == 0) {
		if (nested)
			buf_put_str(out, "''");
		return;
	}
	switch (t->kind) {
	case CQLTYPE_ASCII:
	case CQLTYPE_VARCHAR:
		if (nested)
			put_quoted(out, p, len);
		else
			buf_put(out, p, len);
		return;
	case CQLTYPE_BLOB:
		buf_put_str(out, "0x");
		hex_put(out, p, len);
		return;
	case CQLTYPE_BOOLEAN: buf_put_str(out, p[0] ? "True" : "False"); return;
	case CQLTYPE_TINYINT: buf_printf(out, "%d", (int8_t)p[0]); return;
	case CQLTYPE_SMALLINT: buf_printf(out, "%d", (int16_t)be16_load(p)); return;
	case CQLTYPE_INT: buf_printf(out, "%" PRId32, (int32_t)be32_load(p)); return;
	case CQLTYPE_BIGINT:
	case CQLTYPE_COUNTER: buf_printf(out, "%" PRId64, (int64_t)be64_load(p)); return;
	case CQLTYPE_FLOAT: put_floating(out, load_float(p), 5); return;
	case CQLTYPE_DOUBLE: put_floating(out, load_double(p), 12); return;
	case CQLTYPE_UUID:
	case CQLTYPE_TIMEUUID: uuid_put(out, p); return;
	case CQLTYPE_TIMESTAMP:
		if (nested)
			buf_put_u8(out, '\'');
		put_timestamp(out, (int64_t)be64_load(p));
		if (nested)
			buf_put_u8(out, '\'');
		return;
	case CQLTYPE_DATE: {
		int64_t y;
		unsigned m, d;
		civil_from_days((int64_t)be32_load(p) - (1LL << 31), &y, &m, &d);
		buf_printf(out, nested ? "'%04" PRId64 "-%02u-%02u'" : "%04" PRId64 "-%02u-%02u", y,
		           m, d);
		return;
	}
	case CQLTYPE_TIME: {
		int64_t ns = (int64_t)be64_load(p);
		int64_t s = ns / 1000000000LL;
		buf_printf(out, nested ? "'%02d:%02d:%02d.%09d'" : "%02d:%02d:%02d.%09d",
		           (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60),
		           (int)(ns % 1000000000LL));
		return;
	}
	case CQLTYPE_INET: {
		char tmp[INET6_ADDRSTRLEN];
		inet_ntop(len == 4 ? AF_INET : AF_INET6, p, tmp, sizeof(tmp));
		buf_printf(out, nested ? "'%s'" : "%s", tmp);
		return;
	}
	case CQLTYPE_VARINT: put_varint(out, p, len); return;
	case CQLTYPE_DECIMAL: put_decimal(out, p, len); return;
	case CQLTYPE_LIST:
	case CQLTYPE_SET:
	case CQLTYPE_MAP: {
		struct bufreader r;
		bufreader_init(&r, p, len);
		int32_t n = (int32_t)bufreader_u32be(&r);
		buf_put_u8(out, t->kind == CQLTYPE_LIST ? '[' : '{');
		for (int32_t i = 0; i < n; i++) {
			if (i)
				buf_put_str(out, ", ");
			uint32_t el = bufreader_u32be(&r);
			const uint8_t *ep = bufreader_take(&r, el);
			format_depth(t->elem, ep, el, out, true, depth + 1);
			if (t->kind == CQLTYPE_MAP) {
				buf_put_str(out, ": ");
				el = bufreader_u32be(&r);
				ep = bufreader_take(&r, el);
				format_depth(t->value, ep, el, out, true, depth + 1);
			}
		}
		buf_put_u8(out, t->kind == CQLTYPE_LIST ? ']' : '}');
		return;
	}
	default: buf_printf(out, "<%s>", tname(t, nb, sizeof(nb)));
	}
}

void cqltype_format(const struct cqltype *t, const void *bytes, size_t len, struct buf *out)
{
	format_depth(t, bytes, len, out, false, 0);
}

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
	                tname(t, nb, sizeof(nb)), why ? ": " : "", why ? why : "");
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
		if (!parse_i64(s + i + 1, len - i - 1, &e) || e > INT32_MAX || e < INT32_MIN)
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
		                tname(t, nb, sizeof(nb)));
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
		if (!parse_i64(text, len, &v) || v < lo || v > hi)
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
		if (kind != CQLLIT_INTEGER || !all_digits(text, len, true))
			return lit_mismatch(t, kind, text, len, err, NULL);
		size_t i = (text[0] == '-' || text[0] == '+') ? 1 : 0;
		struct buf mag;
		buf_init(&mag);
		int rc = digits_to_magnitude(text + i, len - i, &mag);
		if (!rc)
			varint_from_magnitude(text[0] == '-' ? -1 : 1, mag.data, mag.len, out);
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
		int rc = digits_to_magnitude((const char *)digits.data, digits.len, &mag);
		buf_put_u32be(out, (uint32_t)(int32_t)scale);
		if (!rc)
			varint_from_magnitude(digits.len ? sign : 0, mag.data, mag.len, out);
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
			if (!parse_i64(text, len, &v))
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
		    all_digits(text, len, false)) {
			if (!parse_i64(text, len, &v) || v > UINT32_MAX)
				return lit_mismatch(t, kind, text, len, err,
				                    "raw date must be 0..4294967295");
			buf_put_u32be(out, (uint32_t)v);
			break;
		}
		if (kind != CQLLIT_STRING || !parse_date_part(text, len, &i, &days) || i != len)
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
		    all_digits(text, len, true)) {
			if (!parse_i64(text, len, &v) || v < 0 || v > TIME_MAX_NS)
				return lit_mismatch(t, kind, text, len, err,
				                    "time in ns must be 0..86399999999999");
		} else if (kind != CQLLIT_STRING || !parse_time_part(text, len, &i, true, &v) ||
		           i != len) {
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
		                tname(t, nb, sizeof(nb)));
	if (n > INT32_MAX)
		return cerr_set(err, COL_ETOOBIG, "too many elements for %s",
		                tname(t, nb, sizeof(nb)));
	for (size_t i = 0; i < n; i++) {
		int rc = cqltype_validate(t->elem, items[i].key, items[i].key_len, err);
		if (!rc && t->kind == CQLTYPE_MAP)
			rc = cqltype_validate(t->value, items[i].val, items[i].val_len, err);
		if (rc) {
			cerr_prefix(err, "in %s element %zu: ", tname(t, nb, sizeof(nb)), i);
			return rc;
		}
		if (items[i].key_len > INT32_MAX || items[i].val_len > INT32_MAX)
			return cerr_set(err, COL_ETOOBIG, "element %zu of %s is too large", i,
			                tname(t, nb, sizeof(nb)));
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
