/*
 * CQL types: names, validation, Cassandra's ordering, the order-preserving
 * encoding (randomised against independent oracles, ASC and DESC, round
 * trip, concatenation), cqlsh formatting and literal conversion.
 */
#include "core/buf.h"
#include "core/cqltype.h"
#include "core/err.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cqltype *parse(const char *s)
{
	const struct cqltype *t = NULL;
	struct cerr e = {0};
	int rc = cqltype_parse(s, strlen(s), &t, &e);
	cr_assert_eq(rc, 0, "parse '%s': %s", s, e.msg);
	return t;
}

static void expect_name(const char *in, const char *want)
{
	const struct cqltype *t = parse(in);
	struct buf b;
	buf_init(&b);
	cqltype_name(t, &b);
	buf_put_u8(&b, 0);
	cr_expect_str_eq((char *)b.data, want, "name of '%s'", in);
	buf_release(&b);
	cqltype_free(t);
}

Test(cqltype, parse_and_name)
{
	expect_name("bigint", "bigint");
	expect_name(" TEXT ", "text");
	expect_name("varchar", "text");
	expect_name("set<text>", "set<text>");
	expect_name("frozen<map<text, text>>", "frozen<map<text, text>>");
	expect_name("map< text ,frozen< list<int> > >", "map<text, frozen<list<int>>>");
	expect_name("list<frozen<set<timeuuid>>>", "list<frozen<set<timeuuid>>>");
	expect_name("frozen<int>", "int");
	const struct cqltype *t = parse("map<int, text>");
	cr_expect_eq(t->kind, CQLTYPE_MAP);
	cr_expect_eq(t->elem->kind, CQLTYPE_INT);
	cr_expect_eq(t->value->kind, CQLTYPE_VARCHAR);
	const struct cqltype *c = cqltype_copy(t);
	cr_expect(cqltype_equal(t, c));
	cr_expect(!cqltype_equal(t, cqltype_simple(CQLTYPE_INT)));
	/* native protocol option round trip */
	struct buf b;
	buf_init(&b);
	cqltype_write_option(t, &b);
	const uint8_t want[] = {0x00, 0x21, 0x00, 0x09, 0x00, 0x0D};
	cr_assert_eq(b.len, sizeof(want));
	cr_expect_eq(memcmp(b.data, want, sizeof(want)), 0);
	struct bufreader r;
	bufreader_init(&r, b.data, b.len);
	const struct cqltype *back = NULL;
	cr_assert_eq(cqltype_read_option(&r, &back, NULL), 0);
	cr_expect(cqltype_equal(t, back));
	buf_release(&b);
	cqltype_free(back);
	cqltype_free(c);
	cqltype_free(t);
}

Test(cqltype, parse_errors)
{
	const struct cqltype *t = NULL;
	struct cerr e = {0};
	cr_expect_eq(cqltype_parse("bigintt", 7, &t, &e), COL_ETYPE);
	cr_expect(strstr(e.msg, "unknown type 'bigintt'"), "%s", e.msg);
	cr_expect_eq(cqltype_parse("set<list<int>>", 14, &t, &e), COL_ETYPE);
	cr_expect(strstr(e.msg, "non-frozen"), "%s", e.msg);
	cr_expect_eq(cqltype_parse("map<int>", 8, &t, &e), COL_ESYNTAX);
	cr_expect_eq(cqltype_parse("set<int", 7, &t, &e), COL_ESYNTAX);
	cr_expect_eq(cqltype_parse("int int", 7, &t, &e), COL_ESYNTAX);
	cr_expect_eq(cqltype_parse("", 0, &t, &e), COL_ESYNTAX);
	char deep[512] = "";
	for (int i = 0; i < 20; i++)
		strcat(deep, "frozen<list<");
	strcat(deep, "int");
	for (int i = 0; i < 20; i++)
		strcat(deep, ">>");
	cr_expect_eq(cqltype_parse(deep, strlen(deep), &t, &e), COL_ESYNTAX);
}

Test(cqltype, validate_errors)
{
	struct cerr e = {0};
	const uint8_t three[3] = {1, 2, 3};
	cr_expect_eq(cqltype_validate(cqltype_simple(CQLTYPE_INT), three, 3, &e), COL_ETYPE);
	cr_expect(strstr(e.msg, "int") && strstr(e.msg, "expected 4 bytes, got 3"), "%s", e.msg);
	cr_expect_eq(cqltype_validate(cqltype_simple(CQLTYPE_INT), three, 0, &e), 0,
	             "empty is valid");
	const uint8_t bad_utf8[] = {'a', 0xC3, 0x28};
	cr_expect_eq(cqltype_validate(cqltype_simple(CQLTYPE_VARCHAR), bad_utf8, 3, &e), COL_ETYPE);
	cr_expect(strstr(e.msg, "UTF-8 at offset 1"), "%s", e.msg);
	const uint8_t overlong[] = {0xC0, 0x80};
	cr_expect_eq(cqltype_validate(cqltype_simple(CQLTYPE_VARCHAR), overlong, 2, &e), COL_ETYPE);
	const uint8_t surrogate[] = {0xED, 0xA0, 0x80};
	cr_expect_eq(cqltype_validate(cqltype_simple(CQLTYPE_VARCHAR), surrogate, 3, &e),
	             COL_ETYPE);
	const uint8_t good[] = {0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80};
	cr_expect_eq(cqltype_validate(cqltype_simple(CQLTYPE_VARCHAR), good, 7, &e), 0);
	cr_expect_eq(cqltype_validate(cqltype_simple(CQLTYPE_ASCII), good, 7, &e), COL_ETYPE);
	cr_expect(strstr(e.msg, "ascii"), "%s", e.msg);
	uint8_t u4[16] = {0};
	u4[6] = 0x40;
	cr_expect_eq(cqltype_validate(cqltype_simple(CQLTYPE_TIMEUUID), u4, 16, &e), COL_ETYPE);
	cr_expect_eq(cqltype_validate(cqltype_simple(CQLTYPE_UUID), u4, 16, &e), 0);
	cr_expect_eq(cqltype_validate(cqltype_simple(CQLTYPE_INET), u4, 5, &e), COL_ETYPE);
	uint8_t tm[8];
	be64_store(tm, 86400000000000ULL);
	cr_expect_eq(cqltype_validate(cqltype_simple(CQLTYPE_TIME), tm, 8, &e), COL_ETYPE);
	const struct cqltype *st = parse("set<int>");
	const uint8_t trunc[] = {0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0};
	cr_expect_eq(cqltype_validate(st, trunc, sizeof(trunc), &e), COL_ETYPE);
	cr_expect(strstr(e.msg, "set<int>"), "%s", e.msg);
	const uint8_t okset[] = {0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1};
	cr_expect_eq(cqltype_validate(st, okset, sizeof(okset), &e), 0);
	const uint8_t badel[] = {0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 1};
	cr_expect_eq(cqltype_validate(st, badel, sizeof(badel), &e), COL_ETYPE);
	cqltype_free(st);
}

/* ---- randomised ordering against oracles ---------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* A generated value: native bytes plus what the oracle needs. */
struct gval {
	uint8_t b[64];
	size_t len;
	bool empty;
	__int128 i;  /* integers, varint, timestamps, decimal numerator */
	int scale;   /* decimal */
	double d;    /* float/double */
	int64_t t;   /* timeuuid/uuid time */
	int version; /* uuid */
};

static void put_be(uint8_t *p, __int128 v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[n - 1 - i] = (uint8_t)(v >> (8 * i));
}

/* Minimal two's complement of v, optionally with a redundant sign byte. */
static size_t varint_bytes(__int128 v, uint8_t *out, bool pad)
{
	uint8_t tmp[17];
	put_be(tmp, v, 16);
	size_t s = 0;
	while (s < 15 &&
	       ((tmp[s] == 0 && !(tmp[s + 1] & 0x80)) || (tmp[s] == 0xFF && (tmp[s + 1] & 0x80))))
		s++;
	size_t n = 0;
	if (pad)
		out[n++] = (v < 0) ? 0xFF : 0x00;
	memcpy(out + n, tmp + s, 16 - s);
	return n + 16 - s;
}

static __int128 rnd_int(int bits)
{
	/* mix of small, edge and full-range values */
	__int128 max = ((__int128)1 << (bits - 1)) - 1, min = -max - 1;
	switch (rnd() % 6) {
	case 0: return (__int128)(rnd() % 7) - 3;
	case 1: return rnd() % 2 ? max : min;
	default: {
		__int128 v = (__int128)(((unsigned __int128)rnd() << 64) | rnd());
		v = (__int128)((unsigned __int128)v & ((((unsigned __int128)1) << bits) - 1));
		if (v > max)
			v -= ((__int128)1) << bits;
		return v;
	}
	}
}

static void gen(enum cqltype_kind k, struct gval *g)
{
	memset(g, 0, sizeof(*g));
	if (rnd() % 16 == 0 && k != CQLTYPE_BOOLEAN) {
		g->empty = true;
		return;
	}
	switch (k) {
	case CQLTYPE_TINYINT:
		g->i = rnd_int(8);
		g->len = 1;
		put_be(g->b, g->i, 1);
		break;
	case CQLTYPE_SMALLINT:
		g->i = rnd_int(16);
		g->len = 2;
		put_be(g->b, g->i, 2);
		break;
	case CQLTYPE_INT:
		g->i = rnd_int(32);
		g->len = 4;
		put_be(g->b, g->i, 4);
		break;
	case CQLTYPE_BIGINT:
	case CQLTYPE_TIMESTAMP:
		g->i = rnd_int(64);
		g->len = 8;
		put_be(g->b, g->i, 8);
		break;
	case CQLTYPE_TIME:
		g->i = (__int128)(rnd() % 86400000000000ULL);
		g->len = 8;
		put_be(g->b, g->i, 8);
		break;
	case CQLTYPE_DATE:
		g->i = rnd() % 3 ? (__int128)(rnd() & 0xFFFFFFFFu)
		                 : (__int128)(2147483648u + rnd() % 5 - 2);
		g->len = 4;
		put_be(g->b, g->i, 4);
		break;
	case CQLTYPE_BOOLEAN:
		g->i = rnd() % 2;
		g->len = 1;
		g->b[0] = (uint8_t)g->i;
		break;
	case CQLTYPE_FLOAT:
	case CQLTYPE_DOUBLE: {
		static const double specials[] = {0.0, -0.0, INFINITY, -INFINITY, NAN,
		                                  1.0, -1.0, 1e-45,    -1e-45,    3.4e38};
		double d;
		if (rnd() % 4 == 0)
			d = specials[rnd() % 10];
		else
			d = ((double)(int64_t)rnd() / 9.2e18) *
			    pow(10.0, (double)(rnd() % 40) - 20);
		if (k == CQLTYPE_FLOAT) {
			float f = (float)d;
			uint32_t u;
			memcpy(&u, &f, 4);
			if (isnan(f) && rnd() % 2)
				u |= 0x80000001u; /* a non-canonical NaN */
			put_be(g->b, u, 4);
			memcpy(&f, &u, 4);
			g->d = f;
			g->len = 4;
		} else {
			uint64_t u;
			memcpy(&u, &d, 8);
			put_be(g->b, u, 8);
			g->d = d;
			g->len = 8;
		}
		break;
	}
	case CQLTYPE_ASCII:
	case CQLTYPE_VARCHAR:
	case CQLTYPE_BLOB:
		g->len = rnd() % 6;
		for (size_t i = 0; i < g->len; i++) {
			uint8_t c = (uint8_t)(rnd() % 4);
			/* include 0x00, 0x01, 0xFF bytes where allowed: escaping edge cases */
			g->b[i] = k == CQLTYPE_BLOB ? (uint8_t[]){0x00, 0x01, 0xFF, 'a'}[c]
			                            : (uint8_t[]){0x00, 0x01, 'a', 'b'}[c];
		}
		g->empty = g->len == 0;
		break;
	case CQLTYPE_INET:
		g->len = rnd() % 2 ? 4 : 16;
		for (size_t i = 0; i < g->len; i++)
			g->b[i] = (uint8_t)(rnd() % 3 == 0 ? 0 : rnd());
		break;
	case CQLTYPE_TIMEUUID:
	case CQLTYPE_UUID: {
		g->version = k == CQLTYPE_TIMEUUID || rnd() % 2 ? 1 : (int)(rnd() % 2 ? 4 : 3);
		g->t = (int64_t)(rnd() % 8) << (rnd() % 50); /* collisions in time likely */
		g->t &= 0x0FFFFFFFFFFFFFFFLL;
		uint64_t msb;
		if (g->version == 1) {
			uint64_t t = (uint64_t)g->t;
			msb = ((t & 0xFFFFFFFFu) << 32) | (((t >> 32) & 0xFFFF) << 16) |
			      (0x1000 | (t >> 48));
		} else {
			msb = (rnd() & ~0xF000ULL) | ((uint64_t)g->version << 12);
			g->t = (int64_t)msb;
		}
		put_be(g->b, msb, 8);
		uint64_t lsb = rnd() % 3 == 0 ? 0x8000000000000000ULL | (rnd() % 4) : rnd();
		put_be(g->b + 8, lsb, 8);
		g->len = 16;
		break;
	}
	case CQLTYPE_VARINT:
		g->i = rnd() % 3 ? rnd_int(2 + (int)(rnd() % 118)) : (__int128)(rnd() % 5) - 2;
		g->len = varint_bytes(g->i, g->b, rnd() % 8 == 0);
		break;
	case CQLTYPE_DECIMAL: {
		g->i = (__int128)((int64_t)(rnd() % 2000001) - 1000000);
		if (rnd() % 4 == 0)
			g->i *= 1000;
		g->scale = (int)(rnd() % 11) - 5;
		put_be(g->b, (uint32_t)g->scale, 4);
		g->len = 4 + varint_bytes(g->i, g->b + 4, false);
		break;
	}
	default: cr_assert_fail("no generator for kind %d", k);
	}
}

static int sgn(__int128 v)
{
	return v < 0 ? -1 : v > 0;
}

static int java_double_cmp(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b) ? 0 : isnan(a) ? 1 : -1;
	if (a != b)
		return a < b ? -1 : 1;
	return signbit(a) == signbit(b) ? 0 : signbit(a) ? -1 : 1;
}

static int bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c < 0 ? -1 : 1;
	return al < bl ? -1 : al > bl;
}

/* Independent statement of Cassandra's order for each kind. */
static int oracle(enum cqltype_kind k, const struct gval *a, const struct gval *b)
{
	if (a->empty || b->empty)
		return a->empty && b->empty ? 0 : a->empty ? -1 : 1;
	switch (k) {
	case CQLTYPE_FLOAT:
	case CQLTYPE_DOUBLE: return java_double_cmp(a->d, b->d);
	case CQLTYPE_ASCII:
	case CQLTYPE_VARCHAR:
	case CQLTYPE_BLOB:
	case CQLTYPE_INET: return bytes_cmp(a->b, a->len, b->b, b->len);
	case CQLTYPE_TIMEUUID: {
		if (a->t != b->t)
			return a->t < b->t ? -1 : 1;
		for (int i = 8; i < 16; i++)
			if (a->b[i] != b->b[i])
				return (int8_t)a->b[i] < (int8_t)b->b[i] ? -1 : 1;
		return 0;
	}
	case CQLTYPE_UUID: {
		if (a->version != b->version)
			return a->version < b->version ? -1 : 1;
		if (a->t != b->t)
			return (uint64_t)a->t < (uint64_t)b->t ? -1 : 1;
		return bytes_cmp(a->b + 8, 8, b->b + 8, 8);
	}
	case CQLTYPE_DECIMAL: {
		/* a.i * 10^-a.scale vs b.i * 10^-b.scale: bring to the larger scale */
		__int128 x = a->i, y = b->i;
		for (int s = a->scale; s < b->scale; s++)
			x *= 10;
		for (int s = b->scale; s < a->scale; s++)
			y *= 10;
		return sgn(x - y);
	}
	default: return a->i < b->i ? -1 : a->i > b->i;
	}
}

static void encode(const struct cqltype *t, const struct gval *g, bool desc, struct buf *out)
{
	struct cerr e = {0};
	int rc = cqltype_encode_ordered(t, g->b, g->empty ? 0 : g->len, desc, out, &e);
	cr_assert_eq(rc, 0, "encode %s: %s", cqltype_kind_name(t->kind), e.msg);
}

static const enum cqltype_kind ordered_kinds[] = {
        CQLTYPE_TINYINT, CQLTYPE_SMALLINT, CQLTYPE_INT,     CQLTYPE_BIGINT, CQLTYPE_TIMESTAMP,
        CQLTYPE_TIME,    CQLTYPE_DATE,     CQLTYPE_BOOLEAN, CQLTYPE_FLOAT,  CQLTYPE_DOUBLE,
        CQLTYPE_ASCII,   CQLTYPE_VARCHAR,  CQLTYPE_BLOB,    CQLTYPE_INET,   CQLTYPE_TIMEUUID,
        CQLTYPE_UUID,    CQLTYPE_VARINT,   CQLTYPE_DECIMAL,
};

Test(cqltype, ordered_encoding_sorts_as_cassandra_randomised)
{
	struct buf ea, eb;
	buf_init(&ea);
	buf_init(&eb);
	for (size_t ki = 0; ki < sizeof(ordered_kinds) / sizeof(ordered_kinds[0]); ki++) {
		enum cqltype_kind k = ordered_kinds[ki];
		const struct cqltype *t = cqltype_simple(k);
		for (int iter = 0; iter < 4000; iter++) {
			struct gval a, b;
			gen(k, &a);
			gen(k, &b);
			if (iter % 5 == 0)
				b = a; /* equal values */
			int want = oracle(k, &a, &b);
			int got = cqltype_compare(t, a.b, a.empty ? 0 : a.len, b.b,
			                          b.empty ? 0 : b.len);
			cr_assert_eq(sgn(got), want, "%s compare: got %d want %d (iter %d)",
			             cqltype_kind_name(k), got, want, iter);
			for (int desc = 0; desc < 2; desc++) {
				ea.len = eb.len = 0;
				encode(t, &a, desc, &ea);
				encode(t, &b, desc, &eb);
				int m = bytes_cmp(ea.data, ea.len, eb.data, eb.len);
				cr_assert_eq(m, desc ? -want : want,
				             "%s %s encoding: memcmp %d, values %d (iter %d)",
				             cqltype_kind_name(k), desc ? "DESC" : "ASC", m, want,
				             iter);
				/* first byte is never 0x00 or 0xFF (bounds rely on it) */
				cr_assert(ea.data[0] != 0x00 && ea.data[0] != 0xFF);
				/* round trip, with a trailing byte to show it is self-delimiting */
				buf_put_u8(&ea, 0x42);
				struct bufreader r;
				bufreader_init(&r, ea.data, ea.len);
				struct buf back;
				buf_init(&back);
				struct cerr e = {0};
				cr_assert_eq(cqltype_decode_ordered(t, &r, desc, &back, &e), 0,
				             "%s decode: %s", cqltype_kind_name(k), e.msg);
				cr_assert_eq(bufreader_left(&r), 1);
				cr_assert_eq(cqltype_compare(t, back.data, back.len, a.b,
				                             a.empty ? 0 : a.len),
				             0, "%s round trip changed the value",
				             cqltype_kind_name(k));
				buf_release(&back);
			}
		}
	}
	buf_release(&ea);
	buf_release(&eb);
}

Test(cqltype, canonical_values_round_trip_byte_exact)
{
	const struct {
		enum cqltype_kind k;
		const char *hex;
	} cases[] = {
	        {CQLTYPE_INT, "80000000"},       {CQLTYPE_BIGINT, "7fffffffffffffff"},
	        {CQLTYPE_VARINT, "00"},          {CQLTYPE_VARINT, "ff7f"},
	        {CQLTYPE_VARINT, "0080"},        {CQLTYPE_VARINT, "80"},
	        {CQLTYPE_VARINT, "ff00"},        {CQLTYPE_VARINT, "0123456789abcdef0123"},
	        {CQLTYPE_DECIMAL, "0000000205"}, {CQLTYPE_DECIMAL, "fffffffdff"},
	        {CQLTYPE_BLOB, "00ff0001"},      {CQLTYPE_DOUBLE, "8000000000000000"},
	        {CQLTYPE_DATE, "80000000"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t v[32];
		size_t n = strlen(cases[i].hex) / 2;
		for (size_t j = 0; j < n; j++)
			sscanf(cases[i].hex + 2 * j, "%2hhx", &v[j]);
		const struct cqltype *t = cqltype_simple(cases[i].k);
		for (int desc = 0; desc < 2; desc++) {
			struct buf enc, back;
			buf_init(&enc);
			buf_init(&back);
			cr_assert_eq(cqltype_encode_ordered(t, v, n, desc, &enc, NULL), 0);
			struct bufreader r;
			bufreader_init(&r, enc.data, enc.len);
			cr_assert_eq(cqltype_decode_ordered(t, &r, desc, &back, NULL), 0);
			cr_expect(back.len == n && memcmp(back.data, v, n) == 0,
			          "%s %s did not round trip", cqltype_kind_name(cases[i].k),
			          cases[i].hex);
			buf_release(&enc);
			buf_release(&back);
		}
	}
}

Test(cqltype, golden_ordered_bytes)
{
	/* Pin the encoding (it is on disk in every clustering key). */
	struct buf b;
	buf_init(&b);
	const uint8_t one[4] = {0, 0, 0, 1};
	cqltype_encode_ordered(cqltype_simple(CQLTYPE_INT), one, 4, false, &b, NULL);
	const uint8_t g1[] = {0x02, 0x80, 0x00, 0x00, 0x01};
	cr_assert(b.len == sizeof(g1) && memcmp(b.data, g1, b.len) == 0);
	b.len = 0;
	cqltype_encode_ordered(cqltype_simple(CQLTYPE_VARCHAR), "a\0b", 3, false, &b, NULL);
	const uint8_t g2[] = {0x02, 'a', 0x00, 0xFF, 'b', 0x00, 0x01};
	cr_assert(b.len == sizeof(g2) && memcmp(b.data, g2, b.len) == 0);
	b.len = 0;
	cqltype_encode_ordered(cqltype_simple(CQLTYPE_VARCHAR), "a", 1, true, &b, NULL);
	const uint8_t g3[] = {0xFD, 0x9E, 0xFF, 0xFE};
	cr_assert(b.len == sizeof(g3) && memcmp(b.data, g3, b.len) == 0);
	b.len = 0;
	cqltype_encode_ordered(cqltype_simple(CQLTYPE_VARINT), "\xff", 1, false, &b, NULL);
	const uint8_t g4[] = {0x02, 0x00, 0xFF, 0xFF, 0xFF, 0xFE, 0xFE};
	cr_assert(b.len == sizeof(g4) && memcmp(b.data, g4, b.len) == 0);
	b.len = 0;
	cqltype_encode_ordered(cqltype_simple(CQLTYPE_BIGINT), "", 0, false, &b, NULL);
	cr_assert(b.len == 1 && b.data[0] == 0x01);
	buf_release(&b);
}

Test(cqltype, concatenated_components_sort_lexicographically)
{
	/* (text ASC, int DESC) pairs: memcmp of concatenations == tuple order. */
	const struct cqltype *tt = cqltype_simple(CQLTYPE_VARCHAR),
	                     *ti = cqltype_simple(CQLTYPE_INT);
	for (int iter = 0; iter < 5000; iter++) {
		struct gval a1, a2, b1, b2;
		gen(CQLTYPE_VARCHAR, &a1);
		gen(CQLTYPE_VARCHAR, &b1);
		gen(CQLTYPE_INT, &a2);
		gen(CQLTYPE_INT, &b2);
		if (iter % 3 == 0)
			b1 = a1;
		int want = oracle(CQLTYPE_VARCHAR, &a1, &b1);
		if (want == 0)
			want = -oracle(CQLTYPE_INT, &a2, &b2);
		struct buf ea, eb;
		buf_init(&ea);
		buf_init(&eb);
		encode(tt, &a1, false, &ea);
		encode(ti, &a2, true, &ea);
		encode(tt, &b1, false, &eb);
		encode(ti, &b2, true, &eb);
		cr_assert_eq(bytes_cmp(ea.data, ea.len, eb.data, eb.len), want, "iter %d", iter);
		buf_release(&ea);
		buf_release(&eb);
	}
}

Test(cqltype, frozen_collections_order_and_round_trip)
{
	const struct cqltype *t = parse("frozen<list<int>>");
	/* [1, 2] < [1, 2, 0] < [1, 3] < [2] and [] first */
	const int32_t lists[][4] = {{0}, {2, 1, 2}, {3, 1, 2, 0}, {2, 1, 3}, {1, 2}};
	struct buf enc[5], nat[5];
	for (int i = 0; i < 5; i++) {
		buf_init(&nat[i]);
		buf_init(&enc[i]);
		int n = lists[i][0];
		buf_put_u32be(&nat[i], (uint32_t)n);
		for (int j = 1; j <= n; j++) {
			buf_put_u32be(&nat[i], 4);
			buf_put_u32be(&nat[i], (uint32_t)lists[i][j]);
		}
		cr_assert_eq(
		        cqltype_encode_ordered(t, nat[i].data, nat[i].len, false, &enc[i], NULL),
		        0);
	}
	for (int i = 0; i + 1 < 5; i++) {
		cr_expect_lt(cqltype_compare(t, nat[i].data, nat[i].len, nat[i + 1].data,
		                             nat[i + 1].len),
		             0);
		cr_expect_lt(bytes_cmp(enc[i].data, enc[i].len, enc[i + 1].data, enc[i + 1].len),
		             0);
	}
	for (int i = 0; i < 5; i++) {
		struct bufreader r;
		bufreader_init(&r, enc[i].data, enc[i].len);
		struct buf back;
		buf_init(&back);
		cr_assert_eq(cqltype_decode_ordered(t, &r, false, &back, NULL), 0);
		cr_expect(back.len == nat[i].len && memcmp(back.data, nat[i].data, back.len) == 0);
		buf_release(&back);
		buf_release(&nat[i]);
		buf_release(&enc[i]);
	}
	cqltype_free(t);
}

Test(cqltype, decode_rejects_garbage)
{
	const uint8_t junk[] = {0x02, 'a', 0x00, 0x07};
	struct bufreader r;
	bufreader_init(&r, junk, sizeof(junk));
	struct buf out;
	buf_init(&out);
	struct cerr e = {0};
	cr_expect_eq(cqltype_decode_ordered(cqltype_simple(CQLTYPE_VARCHAR), &r, false, &out, &e),
	             COL_ECORRUPT);
	bufreader_init(&r, junk, 2);
	cr_expect_eq(cqltype_decode_ordered(cqltype_simple(CQLTYPE_INT), &r, false, &out, &e),
	             COL_ECORRUPT);
	const uint8_t badmark[] = {0x07, 0, 0, 0, 0};
	bufreader_init(&r, badmark, 5);
	cr_expect_eq(cqltype_decode_ordered(cqltype_simple(CQLTYPE_INT), &r, false, &out, &e),
	             COL_ECORRUPT);
	buf_release(&out);
}

/* ---- format ---------------------------------------------------------------------------------- */

static void expect_format(const char *type, const void *v, size_t n, const char *want)
{
	const struct cqltype *t = parse(type);
	struct buf b;
	buf_init(&b);
	cqltype_format(t, v, n, &b);
	buf_put_u8(&b, 0);
	cr_expect_str_eq((char *)b.data, want, "format %s", type);
	buf_release(&b);
	cqltype_free(t);
}

static void expect_literal(const char *type, enum cqllit_kind kind, const char *text,
                           const char *formatted)
{
	const struct cqltype *t = parse(type);
	struct buf b;
	buf_init(&b);
	struct cerr e = {0};
	int rc = cqltype_from_literal(t, kind, text, strlen(text), &b, &e);
	cr_assert_eq(rc, 0, "literal %s for %s: %s", text, type, e.msg);
	struct buf f;
	buf_init(&f);
	cqltype_format(t, b.data, b.len, &f);
	buf_put_u8(&f, 0);
	cr_expect_str_eq((char *)f.data, formatted, "literal %s as %s", text, type);
	buf_release(&f);
	buf_release(&b);
	cqltype_free(t);
}

Test(cqltype, format_like_cqlsh)
{
	uint8_t ts[8];
	be64_store(ts, 1795623859123ULL);
	expect_format("timestamp", ts, 8, "2026-11-25 16:24:19.123000+0000");
	be64_store(ts, (uint64_t)-1);
	expect_format("timestamp", ts, 8, "1969-12-31 23:59:59.999000+0000");
	const uint8_t u[16] = {0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3,
	                       0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00};
	expect_format("uuid", u, 16, "123e4567-e89b-12d3-a456-426614174000");
	expect_format("blob", "\x0a\xff", 2, "0x0aff");
	expect_format("boolean", "\x01", 1, "True");
	uint32_t fb;
	float f = 3.14159265f;
	memcpy(&fb, &f, 4);
	uint8_t fv[4];
	be32_store(fv, fb);
	expect_format("float", fv, 4, "3.14159");
	double d = 1.0 / 3;
	uint64_t db;
	memcpy(&db, &d, 8);
	uint8_t dv[8];
	be64_store(dv, db);
	expect_format("double", dv, 8, "0.3333333333333");
	d = 1e20;
	memcpy(&db, &d, 8);
	be64_store(dv, db);
	expect_format("double", dv, 8, "1e+20");
	expect_format("decimal", "\x00\x00\x00\x03\x30\x39", 6, "12.345");
	expect_format("decimal", "\xff\xff\xff\xfd\x7b", 5, "1.23E+5");
	expect_format("decimal", "\x00\x00\x00\x09\xfb", 5, "-5E-9");
	expect_format("varint", "\xff", 1, "-1");
	expect_format("date", "\x80\x00\x00\x00", 4, "1970-01-01");
	expect_format("inet", "\x0a\x00\x00\x01", 4, "10.0.0.1");
	const uint8_t set[] = {0, 0, 0, 2, 0, 0, 0, 1, 'a', 0, 0, 0, 2, 'b', '\''};
	expect_format("set<text>", set, sizeof(set), "{'a', 'b'''}");
	const uint8_t map[] = {0, 0, 0, 1, 0, 0, 0, 1, 'k', 0, 0, 0, 1, 'v'};
	expect_format("frozen<map<text, text>>", map, sizeof(map), "{'k': 'v'}");
	const uint8_t list[] = {0, 0, 0, 2, 0, 0, 0,    4,    0,    0,
	                        0, 1, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xfe};
	expect_format("list<int>", list, sizeof(list), "[1, -2]");
	expect_format("int", "\x01", 1, "<invalid int>");
	expect_format("text", "", 0, "");
}

Test(cqltype, literals)
{
	expect_literal("int", CQLLIT_INTEGER, "-2147483648", "-2147483648");
	expect_literal("tinyint", CQLLIT_INTEGER, "127", "127");
	expect_literal("bigint", CQLLIT_INTEGER, "9223372036854775807", "9223372036854775807");
	expect_literal("varint", CQLLIT_INTEGER, "-123456789012345678901234567890",
	               "-123456789012345678901234567890");
	expect_literal("decimal", CQLLIT_FLOAT, "12.345", "12.345");
	expect_literal("decimal", CQLLIT_FLOAT, "-1.5e3", "-1.5E+3");
	expect_literal("decimal", CQLLIT_INTEGER, "0", "0");
	expect_literal("decimal", CQLLIT_FLOAT,
	               "-98765432109876543210987654321098765432109876543210.123456789",
	               "-98765432109876543210987654321098765432109876543210.123456789");
	expect_literal("varint", CQLLIT_INTEGER, "18446744073709551616", "18446744073709551616");
	expect_literal("double", CQLLIT_FLOAT, "2.5", "2.5");
	expect_literal("float", CQLLIT_INTEGER, "3", "3");
	expect_literal("double", CQLLIT_FLOAT, "-Infinity", "-Infinity");
	expect_literal("timestamp", CQLLIT_STRING, "2026-01-01", "2026-01-01 00:00:00.000000+0000");
	expect_literal("timestamp", CQLLIT_STRING, "2026-11-25 16:24:19.123+0100",
	               "2026-11-25 15:24:19.123000+0000");
	expect_literal("timestamp", CQLLIT_STRING, "2026-11-25T16:24:19Z",
	               "2026-11-25 16:24:19.000000+0000");
	expect_literal("timestamp", CQLLIT_INTEGER, "0", "1970-01-01 00:00:00.000000+0000");
	expect_literal("date", CQLLIT_STRING, "2026-02-28", "2026-02-28");
	expect_literal("date", CQLLIT_STRING, "1900-01-01", "1900-01-01");
	expect_literal("time", CQLLIT_STRING, "10:30:00.5", "10:30:00.500000000");
	expect_literal("inet", CQLLIT_STRING, "10.0.0.1", "10.0.0.1");
	expect_literal("inet", CQLLIT_STRING, "::1", "::1");
	expect_literal("uuid", CQLLIT_UUID, "123e4567-e89b-12d3-a456-426614174000",
	               "123e4567-e89b-12d3-a456-426614174000");
	expect_literal("timeuuid", CQLLIT_UUID, "123e4567-e89b-12d3-a456-426614174000",
	               "123e4567-e89b-12d3-a456-426614174000");
	expect_literal("blob", CQLLIT_HEX, "0xCAFE", "0xcafe");
	expect_literal("boolean", CQLLIT_BOOLEAN, "TRUE", "True");
	expect_literal("text", CQLLIT_STRING, "héllo", "héllo");
	expect_literal("text", CQLLIT_STRING, "", "");

	struct buf b;
	buf_init(&b);
	struct cerr e = {0};
	cr_expect_eq(cqltype_from_literal(cqltype_simple(CQLTYPE_INT), CQLLIT_INTEGER, "2147483648",
	                                  10, &b, &e),
	             COL_ETYPE);
	cr_expect(strstr(e.msg, "out of range"), "%s", e.msg);
	cr_expect_eq(
	        cqltype_from_literal(cqltype_simple(CQLTYPE_INT), CQLLIT_STRING, "1", 1, &b, &e),
	        COL_ETYPE);
	cr_expect(strstr(e.msg, "invalid STRING constant (1) for type int"), "%s", e.msg);
	cr_expect_eq(cqltype_from_literal(cqltype_simple(CQLTYPE_TIMEUUID), CQLLIT_UUID,
	                                  "123e4567-e89b-42d3-a456-426614174000", 36, &b, &e),
	             COL_ETYPE);
	cr_expect_eq(cqltype_from_literal(cqltype_simple(CQLTYPE_UUID), CQLLIT_STRING,
	                                  "123e4567-e89b-42d3-a456-426614174000", 36, &b, &e),
	             COL_ETYPE, "Cassandra takes uuids unquoted only");
	cr_expect_eq(cqltype_from_literal(cqltype_simple(CQLTYPE_DATE), CQLLIT_STRING, "2026-02-30",
	                                  10, &b, &e),
	             COL_ETYPE);
	cr_expect_eq(cqltype_from_literal(cqltype_simple(CQLTYPE_INET), CQLLIT_STRING, "10.0.0", 6,
	                                  &b, &e),
	             COL_ETYPE);
	cr_expect_eq(
	        cqltype_from_literal(cqltype_simple(CQLTYPE_ASCII), CQLLIT_STRING, "é", 2, &b, &e),
	        COL_ETYPE);
	cr_expect_eq(cqltype_from_literal(cqltype_simple(CQLTYPE_VARCHAR), CQLLIT_NULL, "null", 4,
	                                  &b, &e),
	             COL_EINVAL);
	cr_expect_eq(b.len, 0, "nothing appended on errors");
	buf_release(&b);
}

Test(cqltype, collection_build_sorts_and_dedups)
{
	const struct cqltype *t = parse("set<int>");
	uint8_t v[3][4];
	be32_store(v[0], 5);
	be32_store(v[1], (uint32_t)-1);
	be32_store(v[2], 5);
	struct cqlcoll_item items[3] = {{v[0], 4, NULL, 0}, {v[1], 4, NULL, 0}, {v[2], 4, NULL, 0}};
	struct buf b;
	buf_init(&b);
	cr_assert_eq(cqltype_collection_build(t, items, 3, &b, NULL), 0);
	struct buf f;
	buf_init(&f);
	cqltype_format(t, b.data, b.len, &f);
	buf_put_u8(&f, 0);
	cr_expect_str_eq((char *)f.data, "{-1, 5}");
	buf_release(&f);
	buf_release(&b);
	cqltype_free(t);
}

/* A duration literal's native bytes (hex) and its text back. */
static void expect_duration(const char *lit, enum cqllit_kind kind, const char *hex,
                            const char *text)
{
	struct buf b, f;
	buf_init(&b);
	buf_init(&f);
	struct cerr e = {0};
	const struct cqltype *t = cqltype_simple(CQLTYPE_DURATION);
	cr_assert_eq(cqltype_from_literal(t, kind, lit, strlen(lit), &b, &e), 0, "%s: %s", lit,
	             e.msg);
	char got[64] = "";
	for (size_t i = 0; i < b.len && i < 30; i++)
		sprintf(got + 2 * i, "%02x", b.data[i]);
	cr_expect_str_eq(got, hex, "%s", lit);
	cqltype_format(t, b.data, b.len, &f);
	buf_put_u8(&f, 0);
	cr_expect_str_eq((const char *)f.data, text, "%s", lit);
	buf_release(&b);
	buf_release(&f);
}

Test(cqltype, duration_vints_literals_and_text)
{
	/* 1h30m = 5.4e12 ns, zigzag 0x9d29229e000: six more bytes after 0xfc */
	expect_duration("1h30m", CQLLIT_DURATION, "0000fc09d29229e000", "1h30m");
	expect_duration("-1mo", CQLLIT_DURATION, "010000", "-1mo");
	expect_duration("P1Y2M3DT4H5M6S", CQLLIT_STRING, "1c06fc1ac003cfe800", "1y2mo3d4h5m6s");
	expect_duration("P2W", CQLLIT_STRING, "001c00", "14d");
	expect_duration("63s", CQLLIT_DURATION, "0000f81d562f6c00", "1m3s");
	expect_duration("64ns", CQLLIT_DURATION, "00008080", "64ns");
	struct buf b;
	buf_init(&b);
	struct cerr e = {0};
	const struct cqltype *t = cqltype_simple(CQLTYPE_DURATION);
	const char *bad[] = {"1h30", "30m1h", "P1H", "h", "", "-", "1hh", "PT", "P1.5D"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_neq(
		        cqltype_from_literal(t, CQLLIT_STRING, bad[i], strlen(bad[i]), &b, &e), 0,
		        "%s accepted", bad[i]);
		cr_expect(strstr(e.msg, "to a duration") != NULL, "%s: %s", bad[i], e.msg);
	}
	/* mixed signs, truncated vints, trailing bytes */
	const uint8_t mixed[] = {0x02, 0x01, 0x00}, trunc[] = {0x00, 0x00, 0xfc, 0x09},
	              trail[] = {0x00, 0x00, 0x00, 0x00};
	cr_expect_neq(cqltype_validate(t, mixed, sizeof(mixed), &e), 0);
	cr_expect(strstr(e.msg, "same sign") != NULL, "%s", e.msg);
	cr_expect_neq(cqltype_validate(t, trunc, sizeof(trunc), &e), 0);
	cr_expect_neq(cqltype_validate(t, trail, sizeof(trail), &e), 0);
	buf_release(&b);
	const struct cqltype *s = NULL;
	cr_expect_neq(cqltype_parse("set<duration>", 13, &s, &e), 0);
	cr_expect(strstr(e.msg, "Durations are not allowed inside sets") != NULL, "%s", e.msg);
}

/* A tuple<int, text> value: a NULL text pointer is a null field, n fields given. */
static size_t tuple_val(uint8_t *out, const int32_t *iv, const char *tv, int n)
{
	size_t at = 0;
	if (n >= 1) {
		if (iv) {
			uint8_t hdr[8] = {0, 0, 0, 4};
			uint32_t u = (uint32_t)*iv;
			hdr[4] = (uint8_t)(u >> 24);
			hdr[5] = (uint8_t)(u >> 16);
			hdr[6] = (uint8_t)(u >> 8);
			hdr[7] = (uint8_t)u;
			memcpy(out, hdr, 8);
			at = 8;
		} else {
			memset(out, 0xff, 4);
			at = 4;
		}
	}
	if (n >= 2) {
		uint32_t l = tv ? (uint32_t)strlen(tv) : UINT32_MAX;
		out[at++] = (uint8_t)(l >> 24);
		out[at++] = (uint8_t)(l >> 16);
		out[at++] = (uint8_t)(l >> 8);
		out[at++] = (uint8_t)l;
		if (tv) {
			memcpy(out + at, tv, strlen(tv));
			at += strlen(tv);
		}
	}
	return at;
}

Test(cqltype, tuple_type_option_order_and_text)
{
	const struct cqltype *t = parse("tuple<int, text>");
	expect_name("tuple<int,text>", "frozen<tuple<int, text>>");
	expect_name("frozen<tuple<int, list<int>>>", "frozen<tuple<int, frozen<list<int>>>>");
	expect_name("list<frozen<tuple<int, int>>>", "list<frozen<tuple<int, int>>>");
	struct buf ob;
	buf_init(&ob);
	cqltype_write_option(t, &ob);
	struct bufreader r;
	bufreader_init(&r, ob.data, ob.len);
	const struct cqltype *back = NULL;
	struct cerr e = {0};
	cr_assert_eq(cqltype_read_option(&r, &back, &e), 0, "%s", e.msg);
	cr_expect(cqltype_equal(t, back));
	cr_expect_eq(ob.len, 2 + 2 + 2 + 2); /* 0x31, n = 2, int, varchar */
	cqltype_free(back);
	buf_release(&ob);
	/* values in ascending order: null first, a missing field as null */
	int32_t m1 = -1, z = 0, one = 1;
	uint8_t v[6][32];
	size_t n[6];
	n[0] = tuple_val(v[0], NULL, NULL, 1);
	n[1] = tuple_val(v[1], NULL, "a", 2);
	n[2] = tuple_val(v[2], &m1, "zz", 2);
	n[3] = tuple_val(v[3], &z, NULL, 2);
	n[4] = tuple_val(v[4], &z, "", 2);
	n[5] = tuple_val(v[5], &one, "a", 2);
	struct buf enc[6];
	for (int i = 0; i < 6; i++) {
		buf_init(&enc[i]);
		cr_assert_eq(cqltype_validate(t, v[i], n[i], &e), 0, "%d: %s", i, e.msg);
		cr_assert_eq(cqltype_encode_ordered(t, v[i], n[i], i % 2 == 1, &enc[i], &e), 0);
		struct buf dec;
		buf_init(&dec);
		bufreader_init(&r, enc[i].data, enc[i].len);
		cr_assert_eq(cqltype_decode_ordered(t, &r, i % 2 == 1, &dec, &e), 0, "%d: %s", i,
		             e.msg);
		cr_expect_eq(cqltype_compare(t, dec.data, dec.len, v[i], n[i]), 0, "%d", i);
		buf_release(&dec);
	}
	for (int i = 0; i + 1 < 6; i++) {
		cr_expect_lt(cqltype_compare(t, v[i], n[i], v[i + 1], n[i + 1]), 0, "%d", i);
		struct buf a, b;
		buf_init(&a);
		buf_init(&b);
		cr_assert_eq(cqltype_encode_ordered(t, v[i], n[i], false, &a, &e), 0);
		cr_assert_eq(cqltype_encode_ordered(t, v[i + 1], n[i + 1], false, &b, &e), 0);
		size_t m = a.len < b.len ? a.len : b.len;
		int c = memcmp(a.data, b.data, m);
		cr_expect(c < 0 || (c == 0 && a.len < b.len), "ordered %d vs %d", i, i + 1);
		buf_release(&a);
		buf_release(&b);
	}
	for (int i = 0; i < 6; i++)
		buf_release(&enc[i]);
	struct buf f;
	buf_init(&f);
	cqltype_format(t, v[3], n[3], &f);
	buf_put_u8(&f, 0);
	cr_expect_str_eq((const char *)f.data, "(0, null)");
	buf_release(&f);
	const uint8_t extra[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	cr_expect_neq(cqltype_validate(t, extra, sizeof(extra), &e), 0);
	cqltype_free(t);
}

/* ks.address (street text, zip int); anything else is unknown. */
static int resolve_address(void *ctx, const char *name, size_t len, const struct cqltype **out,
                           struct cerr *err)
{
	(void)ctx;
	if (len != 7 || memcmp(name, "address", 7) != 0)
		return cerr_set(err, COL_ETYPE, "Unknown type ks.%.*s", (int)len, name);
	char **names = calloc(2, sizeof(*names));
	const struct cqltype **f = calloc(2, sizeof(*f));
	names[0] = strdup("street");
	names[1] = strdup("Zip");
	f[0] = cqltype_simple(CQLTYPE_VARCHAR);
	f[1] = cqltype_simple(CQLTYPE_INT);
	*out = cqltype_udt_new("ks", "address", names, f, 2, false);
	return *out ? 0 : COL_ENOMEM;
}

static const struct cqltype *parse_udt(const char *s, struct cerr *e)
{
	const struct cqltype *t = NULL;
	if (cqltype_parse_in(s, strlen(s), resolve_address, NULL, &t, e) != 0)
		return NULL;
	return t;
}

static void expect_udt_name(const char *in, const char *want)
{
	struct cerr e = {0};
	const struct cqltype *t = parse_udt(in, &e);
	cr_assert(t != NULL, "parse '%s': %s", in, e.msg);
	struct buf b;
	buf_init(&b);
	cqltype_name(t, &b);
	buf_put_u8(&b, 0);
	cr_expect_str_eq((char *)b.data, want, "name of '%s'", in);
	buf_release(&b);
	cqltype_free(t);
}

Test(cqltype, udt_names_option_text_and_json)
{
	expect_udt_name("address", "address");
	expect_udt_name("frozen<address>", "frozen<address>");
	expect_udt_name("list<frozen<address>>", "list<frozen<address>>");
	expect_udt_name("tuple<int, address>", "frozen<tuple<int, frozen<address>>>");
	struct cerr e = {0};
	cr_expect_null(parse_udt("list<address>", &e));
	cr_expect_str_eq(e.msg,
	                 "Non-frozen UDTs are not allowed inside collections: list<address>");
	cr_expect_null(parse_udt("frozen<nosuch>", &e));
	cr_expect_str_eq(e.msg, "Unknown type ks.nosuch");
	const struct cqltype *t = NULL;
	cr_expect_neq(cqltype_parse("address", 7, &t, &e), 0); /* no resolver: unknown */

	t = parse_udt("frozen<address>", &e);
	cr_assert(t != NULL);
	cr_expect_eq(cqltype_udt_field(t, "Zip", 3), 1);
	cr_expect_eq(cqltype_udt_field(t, "zip", 3), -1);
	const struct cqltype *copy = cqltype_copy(t);
	cr_expect(cqltype_equal(t, copy));
	cqltype_free(copy);
	const struct cqltype *nf = parse_udt("address", &e);
	cr_expect_not(cqltype_equal(t, nf)); /* frozen differs */
	cqltype_free(nf);

	/* [option]: 0x0030 [string ks][string name][short n] n x ([string][option]) */
	struct buf ob;
	buf_init(&ob);
	cqltype_write_option(t, &ob);
	const uint8_t want[] = {0x00, 0x30, 0,    2, 'k', 's', 0,   7,   'a', 'd', 'd', 'r',
	                        'e',  's',  's',  0, 2,   0,   6,   's', 't', 'r', 'e', 'e',
	                        't',  0,    0x0d, 0, 3,   'Z', 'i', 'p', 0,   0x09};
	cr_assert_eq(ob.len, sizeof(want));
	cr_expect_eq(memcmp(ob.data, want, sizeof(want)), 0);
	struct bufreader r;
	bufreader_init(&r, ob.data, ob.len);
	const struct cqltype *back = NULL;
	cr_assert_eq(cqltype_read_option(&r, &back, &e), 0, "%s", e.msg);
	cr_expect(cqltype_equal(t, back));
	cqltype_free(back);
	for (size_t cut = 0; cut < ob.len; cut++) { /* every truncation is refused */
		bufreader_init(&r, ob.data, cut);
		back = NULL;
		cr_expect_neq(cqltype_read_option(&r, &back, &e), 0, "cut %zu", cut);
		cr_expect_null(back);
	}
	buf_release(&ob);

	/* a value: street 'Main', Zip missing (written before the field existed) */
	const uint8_t v[] = {0, 0, 0, 4, 'M', 'a', 'i', 'n'};
	cr_expect_eq(cqltype_validate(t, v, sizeof(v), &e), 0, "%s", e.msg);
	struct buf f;
	buf_init(&f);
	cqltype_format(t, v, sizeof(v), &f);
	buf_put_u8(&f, 0);
	cr_expect_str_eq((const char *)f.data, "{street: 'Main', \"Zip\": null}");
	buf_reset(&f);
	cqltype_to_json(t, v, sizeof(v), &f);
	buf_put_u8(&f, 0);
	/* a field name with upper case is written double-quoted, as Cassandra's toJSONString */
	cr_expect_str_eq((const char *)f.data, "{\"street\": \"Main\", \"\\\"Zip\\\"\": null}");
	buf_release(&f);
	const uint8_t bad[] = {0, 0, 0, 4, 'M', 'a', 'i', 'n', 0, 0, 0, 2, 0, 1};
	cr_expect_neq(cqltype_validate(t, bad, sizeof(bad), &e), 0);
	cqltype_free(t);
}

Test(cqltype, timestamp_text_out_of_range_is_refused)
{
	int64_t ms = 0;
	cr_expect_eq(cqltype_parse_timestamp("2024-01-02 03:04:05Z", 20, &ms), 0);
	cr_expect_eq(ms, 1704164645000LL);
	/* a year whose milliseconds do not fit 64 bits: refused, never wrapped */
	const char *far = "-922337203-01-01";
	cr_expect_eq(cqltype_parse_timestamp(far, strlen(far), &ms), COL_EINVAL);
	far = "922337203-01-01 00:00:00";
	cr_expect_eq(cqltype_parse_timestamp(far, strlen(far), &ms), COL_EINVAL);
}
