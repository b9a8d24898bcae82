/*
 * cqltype_duration.c — the duration type: its native form, its literals and
 * its text.
 *
 * Native form (native protocol v4 §6.24): three signed vints — months (int32),
 * days (int32), nanoseconds (int64) — each zigzag-encoded, then written as
 * Cassandra's unsigned vint: the number of leading 1 bits of the first byte
 * is the number of bytes that follow (0..8), the rest of the first byte and
 * those bytes hold the value big-endian.  The three parts have one sign.
 *
 * Literals (Cassandra's Duration.from): `1y2mo3w4d5h6m7s8ms9us10ns` (units in
 * any case, `µs` too, each at most once, largest first), ISO 8601
 * `P1Y2M3DT4H5M6S`, `P2W` and `P0001-02-03T04:05:06`, each with an optional
 * leading `-`.
 */
#include "core/cqltype_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_US   1000LL
#define NS_PER_MS   1000000LL
#define NS_PER_S    1000000000LL
#define NS_PER_MIN  (60 * NS_PER_S)
#define NS_PER_HOUR (60 * NS_PER_MIN)

/* Cassandra's unsigned vint: `extra` leading 1 bits, a 0 bit (extra < 8), then
 * the value in the rest of the first byte and `extra` more bytes, big-endian:
 * 7 + 7 * extra bits (64 with extra 8). */
static void put_vint(struct buf *out, uint64_t v)
{
	int extra = 0;
	while (extra < 8 && v >= (1ULL << (7 + 7 * extra)))
		extra++;
	if (extra == 8) {
		buf_put_u8(out, 0xFF);
		buf_put_u64be(out, v);
		return;
	}
	uint8_t first = (uint8_t)(0xFF00 >> extra);
	first |= (uint8_t)(v >> (8 * extra));
	buf_put_u8(out, first);
	for (int i = extra - 1; i >= 0; i--)
		buf_put_u8(out, (uint8_t)(v >> (8 * i)));
}

/* One vint at p[*at..len); false if truncated. */
static bool get_vint(const uint8_t *p, size_t len, size_t *at, uint64_t *v)
{
	if (*at >= len)
		return false;
	uint8_t b = p[(*at)++];
	int extra = 0;
	while (extra < 8 && (b & (0x80 >> extra)))
		extra++;
	uint64_t r = extra == 8 ? 0 : (uint64_t)(b & (0xFF >> extra));
	if (len - *at < (size_t)extra)
		return false;
	for (int i = 0; i < extra; i++)
		r = (r << 8) | p[(*at)++];
	*v = r;
	return true;
}

static uint64_t zigzag(int64_t n)
{
	return ((uint64_t)n << 1) ^ (uint64_t)(n >> 63);
}

static int64_t unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

void cqlt_duration_put(struct buf *out, int32_t months, int32_t days, int64_t nanos)
{
	put_vint(out, zigzag(months));
	put_vint(out, zigzag(days));
	put_vint(out, zigzag(nanos));
}

bool cqlt_duration_get(const uint8_t *p, size_t len, int32_t *months, int32_t *days, int64_t *nanos)
{
	size_t at = 0;
	uint64_t m, d, n;
	if (!get_vint(p, len, &at, &m) || !get_vint(p, len, &at, &d) ||
	    !get_vint(p, len, &at, &n) || at != len)
		return false;
	int64_t mm = unzigzag(m), dd = unzigzag(d);
	if (mm < INT32_MIN || mm > INT32_MAX || dd < INT32_MIN || dd > INT32_MAX)
		return false;
	*months = (int32_t)mm;
	*days = (int32_t)dd;
	*nanos = unzigzag(n);
	return true;
}

int cqlt_duration_validate(const uint8_t *p, size_t len, struct cerr *err)
{
	int32_t m, d;
	int64_t n;
	if (!cqlt_duration_get(p, len, &m, &d, &n))
		return cerr_set(err, COL_ETYPE,
		                "invalid duration value: expected three vints (months and days "
		                "within int32, nanoseconds)");
	if ((m < 0 || d < 0 || n < 0) && (m > 0 || d > 0 || n > 0))
		return cerr_set(err, COL_ETYPE,
		                "The duration months, days and nanoseconds must be all of the same "
		                "sign (%d, %d, %" PRId64 ")",
		                m, d, n);
	return 0;
}

/* The parts of a duration being read: months, days, nanoseconds (magnitudes). */
struct dparts {
	uint64_t months, days, nanos;
};

/* n * mult added to *acc; false on overflow past lim. */
static bool add_part(uint64_t *acc, uint64_t n, uint64_t mult, uint64_t lim)
{
	if (n > lim / mult || *acc > lim - n * mult)
		return false;
	*acc += n * mult;
	return true;
}

/* Digits at s[*i] into *n; false if none or too many. */
static bool digits(const char *s, size_t len, size_t *i, uint64_t *n)
{
	size_t st = *i;
	uint64_t v = 0;
	while (*i < len && isdigit((unsigned char)s[*i])) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[*i] - '0');
		(*i)++;
	}
	*n = v;
	return *i > st;
}

/* 1y2mo3w4d5h6m7s8ms9us10ns: each unit once, largest first. */
static bool parse_units(const char *s, size_t len, struct dparts *d)
{
	static const struct {
		const char *u;
		int part; /* 0 months, 1 days, 2 nanos */
		uint64_t mult;
	} units[] = {{"y", 0, 12},          {"mo", 0, 1},
	             {"w", 1, 7},           {"d", 1, 1},
	             {"h", 2, NS_PER_HOUR}, {"ms", 2, NS_PER_MS},
	             {"m", 2, NS_PER_MIN},  {"s", 2, NS_PER_S},
	             {"us", 2, NS_PER_US},  {"\xc2\xb5s", 2, NS_PER_US},
	             {"ns", 2, 1}};
	static const int rank[] = {0, 1, 2, 3, 4, 7, 5, 6, 8, 8, 9}; /* y mo w d h m s ms us ns */
	size_t i = 0;
	int last = -1;
	if (len == 0)
		return false;
	while (i < len) {
		uint64_t n;
		if (!digits(s, len, &i, &n))
			return false;
		size_t best = SIZE_MAX, blen = 0;
		for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
			size_t ul = strlen(units[k].u);
			if (ul > blen && len - i >= ul && strncasecmp(s + i, units[k].u, ul) == 0 &&
			    (i + ul == len || isdigit((unsigned char)s[i + ul]))) {
				best = k;
				blen = ul;
			}
		}
		if (best == SIZE_MAX || rank[best] <= last)
			return false;
		last = rank[best];
		i += blen;
		uint64_t *acc = units[best].part == 0   ? &d->months
		                : units[best].part == 1 ? &d->days
		                                        : &d->nanos;
		uint64_t lim = units[best].part == 2 ? (uint64_t)INT64_MAX : (uint64_t)INT32_MAX;
		if (!add_part(acc, n, units[best].mult, lim))
			return false;
	}
	return true;
}

/* P[nY][nM][nD][T[nH][nM][nS]] or PnW (after the P). */
static bool parse_iso(const char *s, size_t len, struct dparts *d)
{
	size_t i = 0;
	bool time = false, any = false;
	const char *order = "YMDHMS";
	size_t pos = 0;
	if (len >= 2 && toupper((unsigned char)s[len - 1]) == 'W') {
		uint64_t n;
		if (!digits(s, len, &i, &n) || i != len - 1)
			return false;
		return add_part(&d->days, n, 7, INT32_MAX);
	}
	while (i < len) {
		if (toupper((unsigned char)s[i]) == 'T' && !time) {
			time = true;
			pos = 3;
			i++;
			if (i == len)
				return false;
			continue;
		}
		uint64_t n;
		if (!digits(s, len, &i, &n) || i >= len)
			return false;
		char u = (char)toupper((unsigned char)s[i++]);
		while (pos < 6 && order[pos] != u)
			pos++;
		if (pos == 6 || (pos < 3) == time)
			return false;
		bool ok = pos == 0   ? add_part(&d->months, n, 12, INT32_MAX)
		          : pos == 1 ? add_part(&d->months, n, 1, INT32_MAX)
		          : pos == 2 ? add_part(&d->days, n, 1, INT32_MAX)
		          : pos == 3 ? add_part(&d->nanos, n, NS_PER_HOUR, INT64_MAX)
		          : pos == 4 ? add_part(&d->nanos, n, NS_PER_MIN, INT64_MAX)
		                     : add_part(&d->nanos, n, NS_PER_S, INT64_MAX);
		if (!ok)
			return false;
		pos++;
		any = true;
	}
	return any;
}

/* PYYYY-MM-DDThh:mm:ss (after the P). */
static bool parse_iso_alt(const char *s, size_t len, struct dparts *d)
{
	unsigned y, mo, dd, h, mi, se;
	int n = 0;
	char buf[32];
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = 0;
	if (sscanf(buf, "%4u-%2u-%2u%*[Tt]%2u:%2u:%2u%n", &y, &mo, &dd, &h, &mi, &se, &n) != 6 ||
	    (size_t)n != len || len != 19)
		return false;
	d->months = (uint64_t)y * 12 + mo;
	d->days = dd;
	d->nanos = (uint64_t)h * NS_PER_HOUR + (uint64_t)mi * NS_PER_MIN + (uint64_t)se * NS_PER_S;
	return true;
}

int cqlt_duration_from_text(const char *s, size_t len, struct buf *out, struct cerr *err)
{
	struct dparts d = {0};
	bool neg = len > 0 && s[0] == '-';
	const char *b = s + neg;
	size_t bl = len - neg;
	bool ok;
	if (bl > 0 && toupper((unsigned char)b[0]) == 'P')
		ok = memchr(b, '-', bl) ? parse_iso_alt(b + 1, bl - 1, &d)
		                        : parse_iso(b + 1, bl - 1, &d);
	else
		ok = parse_units(b, bl, &d);
	if (!ok || d.months > INT32_MAX || d.days > INT32_MAX || d.nanos > INT64_MAX)
		return cerr_set(err, COL_ETYPE, "Unable to convert '%.*s' to a duration",
		                (int)(len > 100 ? 100 : len), s);
	int64_t sign = neg ? -1 : 1;
	cqlt_duration_put(out, (int32_t)(sign * (int64_t)d.months),
	                  (int32_t)(sign * (int64_t)d.days), sign * (int64_t)d.nanos);
	return 0;
}

/* dividend / divisor with unit appended when it is at least one; the rest. */
static uint64_t put_unit(struct buf *out, uint64_t dividend, uint64_t divisor, const char *unit)
{
	if (dividend == 0 || dividend < divisor)
		return dividend;
	buf_printf(out, "%" PRIu64 "%s", dividend / divisor, unit);
	return dividend % divisor;
}

void cqlt_duration_format(const uint8_t *p, size_t len, struct buf *out)
{
	int32_t m, d;
	int64_t n;
	if (!cqlt_duration_get(p, len, &m, &d, &n)) {
		buf_put_str(out, "<invalid duration>");
		return;
	}
	if (m < 0 || d < 0 || n < 0)
		buf_put_u8(out, '-');
	uint64_t um = m < 0 ? (uint64_t)(-(int64_t)m) : (uint64_t)m;
	uint64_t ud = d < 0 ? (uint64_t)(-(int64_t)d) : (uint64_t)d;
	uint64_t un = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
	um = put_unit(out, um, 12, "y");
	put_unit(out, um, 1, "mo");
	put_unit(out, ud, 1, "d");
	un = put_unit(out, un, NS_PER_HOUR, "h");
	un = put_unit(out, un, NS_PER_MIN, "m");
	un = put_unit(out, un, NS_PER_S, "s");
	un = put_unit(out, un, NS_PER_MS, "ms");
	un = put_unit(out, un, NS_PER_US, "us");
	put_unit(out, un, 1, "ns");
}
