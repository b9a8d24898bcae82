/*
 * cqltype_text.c — timestamps, dates and times as text, and rendering any
 * value as cqlsh prints it (cqltype_format).
 */
#include "core/cqltype_int.h"
#include "core/hex.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

void cqlt_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
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
bool cqlt_parse_date_part(const char *s, size_t len, size_t *i, int64_t *days)
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
bool cqlt_parse_time_part(const char *s, size_t len, size_t *i, bool need_seconds, int64_t *ns)
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

bool cqlt_all_digits(const char *s, size_t len, bool allow_sign)
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

bool cqlt_parse_i64(const char *s, size_t len, int64_t *out)
{
	char tmp[32];
	if (len == 0 || len >= sizeof(tmp) || !cqlt_all_digits(s, len, true))
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
	if (cqlt_all_digits(s, len, true))
		return cqlt_parse_i64(s, len, &v) ? (*ms_out = v, 0) : COL_EINVAL;
	size_t i = 0;
	int64_t days, ns = 0;
	if (!cqlt_parse_date_part(s, len, &i, &days))
		return COL_EINVAL;
	if (i < len && (s[i] == ' ' || s[i] == 'T')) {
		i++;
		if (!cqlt_parse_time_part(s, len, &i, false, &ns))
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
	/* a date whose milliseconds do not fit a timestamp is out of range, not a wrap */
	int64_t ms;
	if (__builtin_mul_overflow(days, 86400000LL, &ms) ||
	    __builtin_add_overflow(ms, ns / 1000000 - off_min * 60000, &ms))
		return COL_EINVAL;
	*ms_out = ms;
	return 0;
}

/* ---------------------------------------------------------------- format */

/* cqlsh's format_floating_point_type. */
static void put_floating(struct buf *out, double v, int precision)
{
	if (cqltype_put_nonfinite(out, v))
		return;
	if (fabs(v) > DBL_EPSILON) {
		double l = log10(fabs(v));
		long exponent = (long)l; /* Python int(): truncates toward zero */
		if (exponent >= -4 && exponent < precision)
			precision = precision + (int)exponent + 1;
	}
	buf_printf(out, "%.*g", precision, v);
}

void cqlt_put_decimal(struct buf *out, const uint8_t *p, size_t len)
{
	int32_t scale = (int32_t)be32_load(p);
	struct buf mag, digits;
	buf_init(&mag);
	buf_init(&digits);
	int sign = cqlt_varint_magnitude(p + 4, len - 4, &mag);
	if (cqlt_magnitude_to_digits(mag.data, mag.len, &digits) || !buf_ok(&mag)) {
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

void cqlt_put_varint(struct buf *out, const uint8_t *p, size_t len)
{
	struct buf mag, digits;
	buf_init(&mag);
	buf_init(&digits);
	int sign = cqlt_varint_magnitude(p, len, &mag);
	if (cqlt_magnitude_to_digits(mag.data, mag.len, &digits) == 0 && buf_ok(&mag)) {
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
	cqlt_civil_from_days(days, &y, &m, &d);
	buf_printf(out, "%04" PRId64 "-%02u-%02u %02d:%02d:%02d.%06d+0000", y, m, d,
	           (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
	           (int)(rem % 1000) * 1000);
}

static void format_depth(const struct cqltype *t, const uint8_t *p, size_t len, struct buf *out,
                         bool nested, int depth);

/* cqlsh: [1, 2], {'a', 'b'}, {'k': 1} */
static void format_collection(const struct cqltype *t, const uint8_t *p, size_t len,
                              struct buf *out, int depth)
{
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
}

/* cqlsh: {street: 'x', city: null}, every field of the type */
static void format_udt(const struct cqltype *t, const uint8_t *p, size_t len, struct buf *out,
                       int depth)
{
	struct bufreader r;
	bufreader_init(&r, p, len);
	buf_put_u8(out, '{');
	for (uint32_t i = 0; i < t->n_fields; i++) {
		if (i)
			buf_put_str(out, ", ");
		cql_quote_name(out, t->field_names[i], NULL);
		buf_put_str(out, ": ");
		int32_t el = bufreader_left(&r) ? (int32_t)bufreader_u32be(&r) : -1;
		if (el < 0)
			buf_put_str(out, "null");
		else
			format_depth(t->fields[i], bufreader_take(&r, (size_t)el), (size_t)el, out,
			             true, depth + 1);
	}
	buf_put_u8(out, '}');
}

/* cqlsh: (1, 'a', null), fields missing at the end left out */
static void format_tuple(const struct cqltype *t, const uint8_t *p, size_t len, struct buf *out,
                         int depth)
{
	struct bufreader r;
	bufreader_init(&r, p, len);
	buf_put_u8(out, '(');
	for (uint32_t i = 0; i < t->n_fields && bufreader_left(&r); i++) {
		if (i)
			buf_put_str(out, ", ");
		int32_t el = (int32_t)bufreader_u32be(&r);
		if (el < 0)
			buf_put_str(out, "null");
		else
			format_depth(t->fields[i], bufreader_take(&r, (size_t)el), (size_t)el, out,
			             true, depth + 1);
	}
	buf_put_u8(out, ')');
}

static void format_depth(const struct cqltype *t, const uint8_t *p, size_t len, struct buf *out,
                         bool nested, int depth)
{
	char nb[128];
	if (cqltype_validate(t, p, len, NULL) != 0) {
		buf_printf(out, "<invalid %s>", cqlt_tname(t, nb, sizeof(nb)));
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
			cql_quote_string(out, p, len);
		else
			buf_put(out, p, len);
		return;
	case CQLTYPE_BLOB:
		buf_put_str(out, "0x");
		hex_put(out, p, len);
		return;
	case CQLTYPE_BOOLEAN: buf_put_str(out, p[0] ? "True" : "False"); return;
	case CQLTYPE_DURATION: cqlt_duration_format(p, len, out); return;
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
		cqlt_civil_from_days((int64_t)be32_load(p) - (1LL << 31), &y, &m, &d);
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
	case CQLTYPE_VARINT: cqlt_put_varint(out, p, len); return;
	case CQLTYPE_DECIMAL: cqlt_put_decimal(out, p, len); return;
	case CQLTYPE_LIST:
	case CQLTYPE_SET:
	case CQLTYPE_MAP: format_collection(t, p, len, out, depth); return;
	case CQLTYPE_UDT: format_udt(t, p, len, out, depth); return;
	case CQLTYPE_TUPLE: format_tuple(t, p, len, out, depth); return;
	default: buf_printf(out, "<%s>", cqlt_tname(t, nb, sizeof(nb)));
	}
}

void cqltype_format(const struct cqltype *t, const void *bytes, size_t len, struct buf *out)
{
	format_depth(t, bytes, len, out, false, 0);
}

bool cqltype_put_nonfinite(struct buf *out, double v)
{
	if (isnan(v))
		buf_put_str(out, "NaN");
	else if (isinf(v))
		buf_put_str(out, v > 0 ? "Infinity" : "-Infinity");
	return !isfinite(v);
}

void cql_quote_name(struct buf *out, const char *name, bool (*keyword)(const char *word))
{
	bool bare = name[0] >= 'a' && name[0] <= 'z';
	for (const char *p = name; bare && *p; p++)
		bare = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
	if (bare && !(keyword && keyword(name))) {
		buf_put_str(out, name);
		return;
	}
	buf_put_u8(out, '"');
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			buf_put_u8(out, '"');
		buf_put_u8(out, (uint8_t)*p);
	}
	buf_put_u8(out, '"');
}

void cql_quote_string(struct buf *out, const void *s, size_t len)
{
	const uint8_t *p = s;
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

/*
 * Cassandra's reserved keywords (Cassandra 4 documentation, "Appendix A: CQL
 * keywords", reserved = yes).  Sorted for bsearch.  The others (key, ttl,
 * writetime, count, type, ...) remain usable as column names.
 */
static const char *const reserved[] = {
        "add",    "allow",       "alter",  "and",          "apply",    "asc",      "authorize",
        "batch",  "begin",       "by",     "columnfamily", "create",   "default",  "delete",
        "desc",   "describe",    "drop",   "entries",      "execute",  "from",     "full",
        "grant",  "if",          "in",     "index",        "infinity", "insert",   "into",
        "is",     "keyspace",    "limit",  "materialized", "mbean",    "mbeans",   "modify",
        "nan",    "norecursive", "not",    "null",         "of",       "on",       "or",
        "order",  "primary",     "rename", "replace",      "revoke",   "schema",   "select",
        "set",    "table",       "to",     "token",        "truncate", "unlogged", "unset",
        "update", "use",         "using",  "view",         "where",    "with",
};

bool cql_is_reserved(const char *word, size_t len)
{
	char low[16];
	if (len == 0 || len >= sizeof(low))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = word[i];
		low[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	low[len] = '\0';
	size_t lo = 0, hi = sizeof(reserved) / sizeof(reserved[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(low, reserved[mid]);
		if (c == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}
