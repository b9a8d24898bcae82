/*
 * cqltype_order.c — comparing values the way Cassandra orders them, and the
 * order-preserving byte encoding of key components (the table in cqltype.h),
 * with the varint and decimal arithmetic both need.
 *
 * Numbers of arbitrary precision (varint, decimal) are handled as big-endian
 * byte strings; decimals are normalised to (sign, decimal digits without
 * trailing zeros, exponent) for comparing and for the ordered encoding, so 1.0
 * and 1.00 compare (and encode) equal, as Cassandra's DecimalType
 * (BigDecimal.compareTo) has them.
 */
#include "core/cqltype_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- numbers */

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
int cqlt_varint_magnitude(const uint8_t *p, size_t len, struct buf *out)
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
void cqlt_varint_from_magnitude(int sign, const uint8_t *m, size_t mlen, struct buf *out)
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
int cqlt_magnitude_to_digits(const uint8_t *m, size_t mlen, struct buf *digits)
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
int cqlt_digits_to_magnitude(const char *d, size_t n, struct buf *out)
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
	d->sign = cqlt_varint_magnitude(p + 4, len - 4, &mag);
	int rc =
	        buf_ok(&mag) ? cqlt_magnitude_to_digits(mag.data, mag.len, &d->digits) : COL_ENOMEM;
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
		return bytes_compare(a, alen, b, blen);
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
			if (!pa || !pb) /* invalid: any total order */
				return bytes_compare(a, alen, b, blen);
			int c = compare_depth(part ? t->value : t->elem, pa, la, pb, lb, depth + 1);
			if (c)
				return c;
		}
	}
	return na < nb ? -1 : na > nb;
}

/* Field i of a tuple value at r: *len -1 for null or missing. */
static const uint8_t *tuple_field(struct bufreader *r, int32_t *len)
{
	if (!bufreader_left(r)) {
		*len = -1;
		return NULL;
	}
	*len = (int32_t)bufreader_u32be(r);
	return *len > 0 ? bufreader_take(r, (size_t)*len) : (const uint8_t *)"";
}

/* Field by field, null (or missing) first. */
static int compare_tuple(const struct cqltype *t, const uint8_t *a, size_t alen, const uint8_t *b,
                         size_t blen, int depth)
{
	struct bufreader ra, rb;
	bufreader_init(&ra, a, alen);
	bufreader_init(&rb, b, blen);
	for (uint32_t i = 0; i < t->n_fields; i++) {
		int32_t la, lb;
		const uint8_t *pa = tuple_field(&ra, &la), *pb = tuple_field(&rb, &lb);
		if (!bufreader_ok(&ra) || !bufreader_ok(&rb))
			return bytes_compare(a, alen, b, blen);
		if (la < 0 || lb < 0) {
			if (la >= 0 || lb >= 0)
				return la < 0 ? -1 : 1;
			continue;
		}
		int c = compare_depth(t->fields[i], pa, (size_t)la, pb, (size_t)lb, depth + 1);
		if (c)
			return c;
	}
	return 0;
}

static int compare_depth(const struct cqltype *t, const uint8_t *a, size_t alen, const uint8_t *b,
                         size_t blen, int depth)
{
	if (alen == 0 || blen == 0)
		return alen == 0 ? (blen == 0 ? 0 : -1) : 1;
	if (depth > CQLTYPE_MAX_DEPTH)
		return bytes_compare(a, alen, b, blen);
	size_t fixed = cqltype_fixed_size(t);
	if (fixed && (alen != fixed || blen != fixed))
		return bytes_compare(a, alen, b, blen); /* invalid: keep a total order */
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
			return bytes_compare(a, alen, b, blen);
		return decimal_cmp(a, alen, b, blen);
	case CQLTYPE_LIST:
	case CQLTYPE_SET:
	case CQLTYPE_MAP: return compare_collection(t, a, alen, b, blen, depth);
	case CQLTYPE_UDT:
	case CQLTYPE_TUPLE: return compare_tuple(t, a, alen, b, blen, depth);
	default: /* ascii, text, blob, inet: unsigned bytes */
		return bytes_compare(a, alen, b, blen);
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

/* Per field of the type: ORD_NULL for null or missing, else ORD_FIELD and the
 * field as a component (ORD_EMPTY, or ORD_VALUE and its payload). */
#define ORD_NULL  0x01
#define ORD_FIELD 0x02

static void encode_tuple(const struct cqltype *t, const uint8_t *p, size_t len, struct buf *out,
                         int depth)
{
	struct bufreader r;
	bufreader_init(&r, p, len);
	for (uint32_t i = 0; i < t->n_fields; i++) {
		int32_t fl;
		const uint8_t *fp = tuple_field(&r, &fl);
		if (fl < 0) {
			buf_put_u8(out, ORD_NULL);
			continue;
		}
		buf_put_u8(out, ORD_FIELD);
		if (fl == 0) {
			buf_put_u8(out, ORD_EMPTY);
		} else {
			buf_put_u8(out, ORD_VALUE);
			encode_body(t->fields[i], fp, (size_t)fl, out, depth + 1);
		}
	}
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
		int s = cqlt_varint_magnitude(p, len, &mag);
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
	case CQLTYPE_UDT:
	case CQLTYPE_TUPLE: encode_tuple(t, p, len, out, depth); return;
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

/* Every field of the type, null ones as [int -1]. */
static int decode_tuple(const struct cqltype *t, struct ordreader *o, struct buf *out, int depth)
{
	for (uint32_t i = 0; i < t->n_fields; i++) {
		uint8_t m = or_u8(o);
		if (!bufreader_ok(&o->r) || (m != ORD_NULL && m != ORD_FIELD))
			return COL_ECORRUPT;
		if (m == ORD_NULL) {
			buf_put_u32be(out, UINT32_MAX);
			continue;
		}
		size_t len_at = out->len;
		buf_put_u32be(out, 0);
		int rc = decode_component(t->fields[i], o, out, depth + 1);
		if (rc)
			return rc;
		buf_patch_u32be(out, len_at, (uint32_t)(out->len - len_at - 4));
	}
	return 0;
}

/* The ordered uuid: version byte, msb (time-ordered for version 1), lsb. */
static int decode_uuid(struct ordreader *o, struct buf *out)
{
	uint8_t v = or_u8(o);
	uint64_t msb = or_u64(o);
	if (v == 1)
		msb = uuid_unreorder(msb);
	if (((msb >> 12) & 0xF) != v)
		return COL_ECORRUPT;
	buf_put_u64be(out, msb);
	for (int i = 0; i < 8; i++)
		buf_put_u8(out, or_u8(o));
	return 0;
}

/* The ordered varint (table in cqltype.h): sign byte, u32 length, magnitude;
 * a negative's length and magnitude inverted. */
static int decode_varint(struct ordreader *o, struct buf *out)
{
	uint8_t s = or_u8(o);
	if (s == 1) {
		buf_put_u8(out, 0);
		return 0;
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
	cqlt_varint_from_magnitude(s == 0 ? -1 : 1, tmp, n, out);
	free(tmp);
	return 0;
}

/* The ordered decimal: sign byte, int64 exponent, digits as 0x01..0x0A, 0x00;
 * a negative's all inverted after the sign byte. */
static int decode_decimal(struct ordreader *o, struct buf *out)
{
	uint8_t s = or_u8(o);
	if (s == 1) {
		buf_put_u32be(out, 0);
		buf_put_u8(out, 0);
		return 0;
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
	int rc = cqlt_digits_to_magnitude((const char *)digits.data, digits.len, &mag);
	if (!rc)
		cqlt_varint_from_magnitude(s == 0 ? -1 : 1, mag.data, mag.len, out);
	buf_release(&mag);
	buf_release(&digits);
	return rc;
}

static int decode_body(const struct cqltype *t, struct ordreader *o, struct buf *out, int depth)
{
	if (depth > CQLTYPE_MAX_DEPTH)
		return COL_ECORRUPT;
	int rc = 0;
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
	case CQLTYPE_UUID: rc = decode_uuid(o, out); break;
	case CQLTYPE_VARINT: rc = decode_varint(o, out); break;
	case CQLTYPE_DECIMAL: rc = decode_decimal(o, out); break;
	case CQLTYPE_LIST:
	case CQLTYPE_SET:
	case CQLTYPE_MAP: return decode_collection(t, o, out, depth);
	case CQLTYPE_UDT:
	case CQLTYPE_TUPLE: return decode_tuple(t, o, out, depth);
	default: /* ascii, text, blob, inet: an escaped byte string */
		bufreader_escaped(&o->r, o->inv, out);
		break;
	}
	if (rc)
		return rc;
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
		                cqlt_tname(t, nb, sizeof(nb)), r->pos);
	}
	*r = o.r;
	return 0;
}
