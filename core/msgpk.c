/* msgpk.c — see msgpk.h.  Format reference: the MessagePack specification. */
#include "core/msgpk.h"

#include "core/err.h"

#include <string.h>

/* ---- writing ------------------------------------------------------------------------------- */

static void put1(struct buf *b, uint8_t t)
{
	buf_put_u8(b, t);
}

void msgpk_put_nil(struct buf *b)
{
	put1(b, 0xc0);
}
void msgpk_put_bool(struct buf *b, bool v)
{
	put1(b, v ? 0xc3 : 0xc2);
}

void msgpk_put_uint(struct buf *b, uint64_t v)
{
	if (v < 0x80) {
		put1(b, (uint8_t)v);
	} else if (v <= 0xff) {
		uint8_t t[2] = {0xcc, (uint8_t)v};
		buf_put(b, t, 2);
	} else if (v <= 0xffff) {
		put1(b, 0xcd);
		buf_put_u16be(b, (uint16_t)v);
	} else if (v <= 0xffffffffu) {
		put1(b, 0xce);
		buf_put_u32be(b, (uint32_t)v);
	} else {
		put1(b, 0xcf);
		buf_put_u64be(b, v);
	}
}

void msgpk_put_int(struct buf *b, int64_t v)
{
	if (v >= 0) {
		msgpk_put_uint(b, (uint64_t)v);
	} else if (v >= -32) {
		put1(b, (uint8_t)(int8_t)v);
	} else if (v >= INT8_MIN) {
		uint8_t t[2] = {0xd0, (uint8_t)(int8_t)v};
		buf_put(b, t, 2);
	} else if (v >= INT16_MIN) {
		put1(b, 0xd1);
		buf_put_u16be(b, (uint16_t)(int16_t)v);
	} else if (v >= INT32_MIN) {
		put1(b, 0xd2);
		buf_put_u32be(b, (uint32_t)(int32_t)v);
	} else {
		put1(b, 0xd3);
		buf_put_u64be(b, (uint64_t)v);
	}
}

void msgpk_put_double(struct buf *b, double v)
{
	uint64_t u;
	memcpy(&u, &v, 8);
	put1(b, 0xcb);
	buf_put_u64be(b, u);
}

void msgpk_put_str(struct buf *b, const void *p, size_t len)
{
	if (len < 32) {
		put1(b, (uint8_t)(0xa0 | len));
	} else if (len <= 0xff) {
		uint8_t t[2] = {0xd9, (uint8_t)len};
		buf_put(b, t, 2);
	} else if (len <= 0xffff) {
		put1(b, 0xda);
		buf_put_u16be(b, (uint16_t)len);
	} else {
		put1(b, 0xdb);
		buf_put_u32be(b, (uint32_t)len);
	}
	buf_put(b, p, len);
}

void msgpk_put_cstr(struct buf *b, const char *s)
{
	msgpk_put_str(b, s, strlen(s));
}

void msgpk_put_bin(struct buf *b, const void *p, size_t len)
{
	if (len <= 0xff) {
		uint8_t t[2] = {0xc4, (uint8_t)len};
		buf_put(b, t, 2);
	} else if (len <= 0xffff) {
		put1(b, 0xc5);
		buf_put_u16be(b, (uint16_t)len);
	} else {
		put1(b, 0xc6);
		buf_put_u32be(b, (uint32_t)len);
	}
	buf_put(b, p, len);
}

void msgpk_put_array(struct buf *b, uint32_t n)
{
	if (n < 16) {
		put1(b, (uint8_t)(0x90 | n));
	} else if (n <= 0xffff) {
		put1(b, 0xdc);
		buf_put_u16be(b, (uint16_t)n);
	} else {
		put1(b, 0xdd);
		buf_put_u32be(b, n);
	}
}

void msgpk_put_map(struct buf *b, uint32_t n)
{
	if (n < 16) {
		put1(b, (uint8_t)(0x80 | n));
	} else if (n <= 0xffff) {
		put1(b, 0xde);
		buf_put_u16be(b, (uint16_t)n);
	} else {
		put1(b, 0xdf);
		buf_put_u32be(b, n);
	}
}

/* ---- reading ------------------------------------------------------------------------------- */

static int corrupt(struct bufreader *r)
{
	r->err = true;
	return COL_ECORRUPT;
}

enum msgpk_type msgpk_peek(const struct bufreader *r)
{
	if (r->err || r->pos >= r->len)
		return MSGPK_INVALID;
	uint8_t t = r->p[r->pos];
	if (t <= 0x7f)
		return MSGPK_UINT;
	if (t <= 0x8f)
		return MSGPK_MAP;
	if (t <= 0x9f)
		return MSGPK_ARRAY;
	if (t <= 0xbf)
		return MSGPK_STR;
	if (t >= 0xe0)
		return MSGPK_INT;
	switch (t) {
	case 0xc0: return MSGPK_NIL;
	case 0xc2:
	case 0xc3: return MSGPK_BOOL;
	case 0xc4:
	case 0xc5:
	case 0xc6: return MSGPK_BIN;
	case 0xc7:
	case 0xc8:
	case 0xc9:
	case 0xd4:
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8: return MSGPK_EXT;
	case 0xca:
	case 0xcb: return MSGPK_FLOAT;
	case 0xcc:
	case 0xcd:
	case 0xce:
	case 0xcf: return MSGPK_UINT;
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3: {
		/* Signed encodings may hold non-negative values too. */
		if (r->pos + 1 >= r->len)
			return MSGPK_INVALID;
		return (r->p[r->pos + 1] & 0x80) ? MSGPK_INT : MSGPK_UINT;
	}
	case 0xd9:
	case 0xda:
	case 0xdb: return MSGPK_STR;
	case 0xdc:
	case 0xdd: return MSGPK_ARRAY;
	case 0xde:
	case 0xdf: return MSGPK_MAP;
	default: return MSGPK_INVALID;
	}
}

int msgpk_read_nil(struct bufreader *r)
{
	if (bufreader_left(r) < 1 || r->p[r->pos] != 0xc0)
		return corrupt(r);
	r->pos++;
	return COL_OK;
}

int msgpk_read_bool(struct bufreader *r, bool *out)
{
	if (bufreader_left(r) < 1 || (r->p[r->pos] != 0xc2 && r->p[r->pos] != 0xc3))
		return corrupt(r);
	*out = r->p[r->pos++] == 0xc3;
	return COL_OK;
}

/* Read any integer as sign + magnitude-ish: returns 0 and sets *neg / *u or *s. */
static int read_integer(struct bufreader *r, bool *neg, uint64_t *u, int64_t *s)
{
	if (r->err || bufreader_left(r) < 1)
		return corrupt(r);
	uint8_t t = bufreader_u8(r);
	int64_t sv = 0;
	if (t <= 0x7f) {
		*neg = false;
		*u = t;
		return COL_OK;
	}
	if (t >= 0xe0) {
		*neg = true;
		*s = (int8_t)t;
		return COL_OK;
	}
	switch (t) {
	case 0xcc: *u = bufreader_u8(r); break;
	case 0xcd: *u = bufreader_u16be(r); break;
	case 0xce: *u = bufreader_u32be(r); break;
	case 0xcf: *u = bufreader_u64be(r); break;
	case 0xd0: sv = (int8_t)bufreader_u8(r); goto sgn;
	case 0xd1: sv = (int16_t)bufreader_u16be(r); goto sgn;
	case 0xd2: sv = (int32_t)bufreader_u32be(r); goto sgn;
	case 0xd3: sv = (int64_t)bufreader_u64be(r); goto sgn;
	default: r->pos--; return corrupt(r);
	}
	if (!bufreader_ok(r))
		return COL_ECORRUPT;
	*neg = false;
	return COL_OK;
sgn:
	if (!bufreader_ok(r))
		return COL_ECORRUPT;
	if (sv < 0) {
		*neg = true;
		*s = sv;
	} else {
		*neg = false;
		*u = (uint64_t)sv;
	}
	return COL_OK;
}

int msgpk_read_uint(struct bufreader *r, uint64_t *out)
{
	bool neg;
	uint64_t u = 0;
	int64_t s = 0;
	if (read_integer(r, &neg, &u, &s) != COL_OK)
		return COL_ECORRUPT;
	if (neg)
		return corrupt(r);
	*out = u;
	return COL_OK;
}

int msgpk_read_uint_max(struct bufreader *r, uint64_t max, uint64_t *out)
{
	uint64_t v;
	if (msgpk_read_uint(r, &v) != COL_OK)
		return COL_ECORRUPT;
	if (v > max)
		return corrupt(r);
	*out = v;
	return COL_OK;
}

int msgpk_read_int(struct bufreader *r, int64_t *out)
{
	bool neg;
	uint64_t u = 0;
	int64_t s = 0;
	if (read_integer(r, &neg, &u, &s) != COL_OK)
		return COL_ECORRUPT;
	if (neg) {
		*out = s;
	} else {
		if (u > (uint64_t)INT64_MAX)
			return corrupt(r);
		*out = (int64_t)u;
	}
	return COL_OK;
}

int msgpk_read_double(struct bufreader *r, double *out)
{
	if (bufreader_left(r) < 1)
		return corrupt(r);
	uint8_t t = r->p[r->pos];
	if (t == 0xcb && bufreader_left(r) >= 9) {
		r->pos++;
		uint64_t u = bufreader_u64be(r);
		memcpy(out, &u, 8);
		return COL_OK;
	}
	if (t == 0xca && bufreader_left(r) >= 5) {
		r->pos++;
		uint32_t u = bufreader_u32be(r);
		float f;
		memcpy(&f, &u, 4);
		*out = f;
		return COL_OK;
	}
	return corrupt(r);
}

static int read_len(struct bufreader *r, uint8_t t, uint8_t fixbase, uint8_t fixmask, uint8_t t8,
                    uint8_t t16, uint8_t t32, uint32_t *len)
{
	if (fixmask && (t & (uint8_t)~fixmask) == fixbase) {
		*len = t & fixmask;
		return COL_OK;
	}
	if (t8 && t == t8)
		*len = bufreader_u8(r);
	else if (t == t16)
		*len = bufreader_u16be(r);
	else if (t == t32)
		*len = bufreader_u32be(r);
	else
		return COL_ECORRUPT;
	return bufreader_ok(r) ? COL_OK : COL_ECORRUPT;
}

static int read_bytes(struct bufreader *r, bool str, bool bin, const uint8_t **p, uint32_t *len)
{
	size_t start = r->pos;
	if (r->err || bufreader_left(r) < 1)
		return corrupt(r);
	uint8_t t = bufreader_u8(r);
	uint32_t n = 0;
	int rc = COL_ECORRUPT;
	if (str && ((t & 0xe0) == 0xa0 || t == 0xd9 || t == 0xda || t == 0xdb))
		rc = read_len(r, t, 0xa0, 0x1f, 0xd9, 0xda, 0xdb, &n);
	else if (bin && (t == 0xc4 || t == 0xc5 || t == 0xc6))
		rc = read_len(r, t, 0, 0, 0xc4, 0xc5, 0xc6, &n);
	if (rc != COL_OK || n > bufreader_left(r)) {
		r->pos = start;
		return corrupt(r);
	}
	*p = bufreader_take(r, n);
	*len = n;
	return COL_OK;
}

int msgpk_read_str(struct bufreader *r, const uint8_t **p, uint32_t *len)
{
	return read_bytes(r, true, false, p, len);
}

int msgpk_read_bin(struct bufreader *r, const uint8_t **p, uint32_t *len)
{
	return read_bytes(r, false, true, p, len);
}

int msgpk_read_raw(struct bufreader *r, const uint8_t **p, uint32_t *len)
{
	return read_bytes(r, true, true, p, len);
}

static int read_container(struct bufreader *r, bool map, uint32_t *n)
{
	if (r->err || bufreader_left(r) < 1)
		return corrupt(r);
	uint8_t t = bufreader_u8(r);
	uint32_t c = 0;
	int rc = map ? read_len(r, t, 0x80, 0x0f, 0, 0xde, 0xdf, &c)
	             : read_len(r, t, 0x90, 0x0f, 0, 0xdc, 0xdd, &c);
	if (rc != COL_OK)
		return corrupt(r);
	/* Each element takes at least one byte: a count beyond that is a lie. */
	uint64_t need = map ? 2ull * c : c;
	if (need > bufreader_left(r))
		return corrupt(r);
	*n = c;
	return COL_OK;
}

int msgpk_read_array(struct bufreader *r, uint32_t *n)
{
	return read_container(r, false, n);
}
int msgpk_read_map(struct bufreader *r, uint32_t *n)
{
	return read_container(r, true, n);
}

int msgpk_expect_array(struct bufreader *r, uint32_t n)
{
	uint32_t got;
	if (msgpk_read_array(r, &got) != COL_OK)
		return COL_ECORRUPT;
	if (got != n)
		return corrupt(r);
	return COL_OK;
}

static int skip_n(struct bufreader *r, size_t n)
{
	if (bufreader_take(r, n) == NULL && n)
		return COL_ECORRUPT;
	return bufreader_ok(r) ? COL_OK : COL_ECORRUPT;
}

int msgpk_skip(struct bufreader *r, unsigned max_depth)
{
	const uint8_t *p;
	uint32_t n;
	switch (msgpk_peek(r)) {
	case MSGPK_NIL:
	case MSGPK_BOOL: return skip_n(r, 1);
	case MSGPK_UINT:
	case MSGPK_INT: {
		int64_t s;
		uint64_t u;
		bool neg;
		return read_integer(r, &neg, &u, &s);
	}
	case MSGPK_FLOAT: {
		double d;
		return msgpk_read_double(r, &d);
	}
	case MSGPK_STR:
	case MSGPK_BIN: return msgpk_read_raw(r, &p, &n);
	case MSGPK_EXT: {
		uint8_t t = bufreader_u8(r);
		size_t len;
		switch (t) {
		case 0xd4: len = 1; break;
		case 0xd5: len = 2; break;
		case 0xd6: len = 4; break;
		case 0xd7: len = 8; break;
		case 0xd8: len = 16; break;
		case 0xc7: len = bufreader_u8(r); break;
		case 0xc8: len = bufreader_u16be(r); break;
		default: len = bufreader_u32be(r); break;
		}
		return skip_n(r, len + 1); /* + the type byte */
	}
	case MSGPK_ARRAY:
	case MSGPK_MAP: {
		bool map = msgpk_peek(r) == MSGPK_MAP;
		if (max_depth == 0)
			return corrupt(r);
		if (read_container(r, map, &n) != COL_OK)
			return COL_ECORRUPT;
		uint64_t items = map ? 2ull * n : n;
		for (uint64_t i = 0; i < items; i++)
			if (msgpk_skip(r, max_depth - 1) != COL_OK)
				return COL_ECORRUPT;
		return COL_OK;
	}
	default: return corrupt(r);
	}
}
