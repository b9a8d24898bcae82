/*
 * functions.c — the native scalar functions of functions.h: time and uuid
 * functions, the typeAsBlob/blobAsType family, and CAST.
 *
 * Times: a timeuuid holds 100 ns intervals since 1582-10-15; a timestamp is
 * milliseconds since the epoch; a date is days since the epoch plus 2^31
 * (unsigned); a time is nanoseconds since midnight.
 */
#include "coordinator/query/functions.h"

#include "coordinator/query/query_int.h"
#include "core/clock.h"
#include "core/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define UUID_EPOCH_OFFSET 0x01B21DD213814000ULL /* 100 ns ticks from 1582-10-15 to 1970 */
#define DAY_MS            86400000LL
#define DATE_EPOCH        (1LL << 31)

void func_make_timeuuid(struct executor *ex, uint8_t u[16])
{
	/* v1: 100 ns intervals since 1582-10-15, random clock sequence and node */
	int64_t us = exec_now_us(ex);
	uint64_t t = (uint64_t)us * 10 + UUID_EPOCH_OFFSET;
	be32_store(u, (uint32_t)t);
	be16_store(u + 4, (uint16_t)(t >> 32));
	be16_store(u + 6, (uint16_t)(((t >> 48) & 0x0fff) | 0x1000));
	if (getrandom(u + 8, 8, 0) != 8)
		memset(u + 8, 0x5a, 8);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
}

/* A timeuuid of time t (100 ns ticks since 1582) with the given low 8 bytes. */
static void timeuuid_at(uint64_t t, uint64_t lsb, struct buf *out)
{
	uint8_t u[16];
	be32_store(u, (uint32_t)t);
	be16_store(u + 4, (uint16_t)(t >> 32));
	be16_store(u + 6, (uint16_t)(((t >> 48) & 0x0fff) | 0x1000));
	be64_store(u + 8, lsb);
	buf_put(out, u, 16);
}

/* Milliseconds since the epoch of a version 1 uuid (16 bytes). */
static int64_t timeuuid_ms(const uint8_t *u)
{
	uint64_t t = ((uint64_t)(be16_load(u + 6) & 0x0fff) << 48) |
	             ((uint64_t)be16_load(u + 4) << 32) | be32_load(u);
	return ((int64_t)t - (int64_t)UUID_EPOCH_OFFSET) / 10000;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int need(const struct fn_arg *a, size_t len, const char *type, struct cerr *e)
{
	if ((size_t)a->len == len)
		return 0;
	cerr_set(e, COL_EINVAL, "Invalid %s value of %d bytes", type, a->len);
	return COL_EINVAL;
}

/* ---- no arguments ---- */

static int f_now(struct executor *ex, const struct fn_arg *a, struct buf *out, bool *null,
                 struct cerr *e)
{
	(void)a, (void)null, (void)e;
	uint8_t u[16];
	func_make_timeuuid(ex, u);
	buf_put(out, u, 16);
	return 0;
}

static int f_uuid(struct executor *ex, const struct fn_arg *a, struct buf *out, bool *null,
                  struct cerr *e)
{
	(void)ex, (void)a, (void)null, (void)e;
	uint8_t u[16];
	if (getrandom(u, 16, 0) != 16)
		memset(u, 0x11, 16);
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	buf_put(out, u, 16);
	return 0;
}

static int f_current_timestamp(struct executor *ex, const struct fn_arg *a, struct buf *out,
                               bool *null, struct cerr *e)
{
	(void)ex, (void)a, (void)null, (void)e;
	buf_put_u64be(out, (uint64_t)(clock_wall_us() / 1000));
	return 0;
}

static int f_current_date(struct executor *ex, const struct fn_arg *a, struct buf *out, bool *null,
                          struct cerr *e)
{
	(void)ex, (void)a, (void)null, (void)e;
	buf_put_u32be(out, (uint32_t)(floor_div(clock_wall_us() / 1000, DAY_MS) + DATE_EPOCH));
	return 0;
}

static int f_current_time(struct executor *ex, const struct fn_arg *a, struct buf *out, bool *null,
                          struct cerr *e)
{
	(void)ex, (void)a, (void)null, (void)e;
	int64_t us = clock_wall_us();
	buf_put_u64be(out, (uint64_t)((us - floor_div(us, DAY_MS * 1000) * DAY_MS * 1000) * 1000));
	return 0;
}

/* ---- conversions of one argument (null in, null out: func_call) ---- */

static int f_timeuuid_to_ts(struct executor *ex, const struct fn_arg *a, struct buf *out,
                            bool *null, struct cerr *e)
{
	(void)ex, (void)null;
	if (need(a, 16, "timeuuid", e))
		return COL_EINVAL;
	buf_put_u64be(out, (uint64_t)timeuuid_ms(a->p));
	return 0;
}

static int f_timeuuid_to_date(struct executor *ex, const struct fn_arg *a, struct buf *out,
                              bool *null, struct cerr *e)
{
	(void)ex, (void)null;
	if (need(a, 16, "timeuuid", e))
		return COL_EINVAL;
	buf_put_u32be(out, (uint32_t)(floor_div(timeuuid_ms(a->p), DAY_MS) + DATE_EPOCH));
	return 0;
}

static int f_ts_to_date(struct executor *ex, const struct fn_arg *a, struct buf *out, bool *null,
                        struct cerr *e)
{
	(void)ex, (void)null;
	if (need(a, 8, "timestamp", e))
		return COL_EINVAL;
	int64_t ms = (int64_t)be64_load(a->p);
	int64_t days = floor_div(ms, DAY_MS) + DATE_EPOCH;
	if (days < 0 || days > (int64_t)UINT32_MAX)
		return cerr_set(e, COL_EINVAL,
		                "timestamp %" PRId64 " is out of the range of a date", ms);
	buf_put_u32be(out, (uint32_t)days);
	return 0;
}

static int f_date_to_ts(struct executor *ex, const struct fn_arg *a, struct buf *out, bool *null,
                        struct cerr *e)
{
	(void)ex, (void)null;
	if (need(a, 4, "date", e))
		return COL_EINVAL;
	buf_put_u64be(out, (uint64_t)(((int64_t)be32_load(a->p) - DATE_EPOCH) * DAY_MS));
	return 0;
}

static int f_ts_identity(struct executor *ex, const struct fn_arg *a, struct buf *out, bool *null,
                         struct cerr *e)
{
	(void)ex, (void)null;
	if (need(a, 8, "timestamp", e))
		return COL_EINVAL;
	buf_put(out, a->p, 8);
	return 0;
}

/* The 100 ns ticks since 1582 of millisecond ms (plus `extra` ticks), if a timeuuid's
 * 60 bits hold them. */
static int timeuuid_ticks(int64_t ms, int64_t extra, uint64_t *out, struct cerr *e)
{
	/* 2^60 ticks reach year 5236; before 1582 there is no timeuuid */
	const int64_t lo = -(int64_t)(UUID_EPOCH_OFFSET / 10000), hi = lo + (1LL << 60) / 10000 - 1;
	if (ms < lo || ms > hi)
		return cerr_set(e, COL_EINVAL,
		                "timestamp %" PRId64 " is out of the range of a timeuuid", ms);
	*out = (uint64_t)(ms * 10000 + (int64_t)UUID_EPOCH_OFFSET + extra);
	return 0;
}

static int f_min_timeuuid(struct executor *ex, const struct fn_arg *a, struct buf *out, bool *null,
                          struct cerr *e)
{
	(void)ex, (void)null;
	uint64_t t = 0;
	if (need(a, 8, "timestamp", e) || timeuuid_ticks((int64_t)be64_load(a->p), 0, &t, e))
		return COL_EINVAL;
	timeuuid_at(t, 0x8080808080808080ULL, out);
	return 0;
}

static int f_max_timeuuid(struct executor *ex, const struct fn_arg *a, struct buf *out, bool *null,
                          struct cerr *e)
{
	(void)ex, (void)null;
	uint64_t t = 0;
	if (need(a, 8, "timestamp", e) || timeuuid_ticks((int64_t)be64_load(a->p), 9999, &t, e))
		return COL_EINVAL;
	timeuuid_at(t, 0x7f7f7f7f7f7f7f7fULL, out);
	return 0;
}

/* typeAsBlob and blobAsType keep the bytes; blobAsType checks them (func_call). */
static int f_bytes(struct executor *ex, const struct fn_arg *a, struct buf *out, bool *null,
                   struct cerr *e)
{
	(void)ex, (void)null, (void)e;
	buf_put(out, a->p, (size_t)a->len);
	return 0;
}

/* ---- the table ---- */

#define K(x) CQLTYPE_##x
#define F0(n, r, pure, fn)                                                                         \
	{                                                                                          \
		n, 0, {0}, K(r), pure, fn                                                          \
	}
#define F1(n, a, r, fn)                                                                            \
	{                                                                                          \
		n, 1, {K(a)}, K(r), true, fn                                                       \
	}
#define BLOB_PAIR(lower, kind)                                                                     \
	{lower "asblob", 1, {K(kind)}, K(BLOB), true, f_bytes},                                    \
	{                                                                                          \
		"blobas" lower, 1, {K(BLOB)}, K(kind), true, f_bytes                               \
	}

/* toJson(x): x's JSON text (core/cqltype.h's mapping), for a selector of known type. */
static int f_to_json(struct executor *ex, const struct fn_arg *a, struct buf *out, bool *null,
                     struct cerr *e)
{
	(void)ex;
	(void)null;
	if (!a[0].type)
		return cerr_set(e, COL_EINVAL,
		                "Ambiguous call to function system.tojson: use type casts to "
		                "disambiguate");
	if (a[0].len < 0)
		buf_put_str(out, "null");
	else
		cqltype_to_json(a[0].type, a[0].len ? a[0].p : (const uint8_t *)"",
		                (size_t)a[0].len, out);
	return 0;
}

/* fromJson(text): the JSON as a value of the receiver's type (args[1].type). */
static int f_from_json(struct executor *ex, const struct fn_arg *a, struct buf *out, bool *null,
                       struct cerr *e)
{
	(void)ex;
	if (!a[1].type)
		return cerr_set(e, COL_EINVAL,
		                "fromJson() cannot be used in the selection clause of a SELECT "
		                "statement");
	struct json *j = NULL;
	struct cerr pe = {0};
	if (json_parse((const char *)a[0].p, (size_t)a[0].len, &j, &pe) != 0)
		return cerr_set(e, COL_EINVAL, "Could not decode JSON string '%.*s': %s",
		                a[0].len > 200 ? 200 : (int)a[0].len, (const char *)a[0].p, pe.msg);
	int rc = 0;
	if (json_type(j) == JSON_NULL)
		*null = true;
	else if (cqltype_from_json(a[1].type, j, out, &pe) != 0)
		rc = cerr_set(e, COL_EINVAL, "execution of 'system.fromjson[text]' failed: %s",
		              pe.msg);
	json_free(j);
	return rc;
}

static const struct func_def funcs[] = {
        F0("now", TIMEUUID, false, f_now),
        F0("currenttimeuuid", TIMEUUID, false, f_now),
        F0("uuid", UUID, false, f_uuid),
        F0("currenttimestamp", TIMESTAMP, false, f_current_timestamp),
        F0("currentdate", DATE, false, f_current_date),
        F0("currenttime", TIME, false, f_current_time),
        F1("totimestamp", TIMEUUID, TIMESTAMP, f_timeuuid_to_ts),
        F1("totimestamp", DATE, TIMESTAMP, f_date_to_ts),
        F1("todate", TIMEUUID, DATE, f_timeuuid_to_date),
        F1("todate", TIMESTAMP, DATE, f_ts_to_date),
        F1("tounixtimestamp", TIMEUUID, BIGINT, f_timeuuid_to_ts),
        F1("tounixtimestamp", TIMESTAMP, BIGINT, f_ts_identity),
        F1("tounixtimestamp", DATE, BIGINT, f_date_to_ts),
        F1("dateof", TIMEUUID, TIMESTAMP, f_timeuuid_to_ts),
        F1("unixtimestampof", TIMEUUID, BIGINT, f_timeuuid_to_ts),
        F1("mintimeuuid", TIMESTAMP, TIMEUUID, f_min_timeuuid),
        F1("maxtimeuuid", TIMESTAMP, TIMEUUID, f_max_timeuuid),
        F1("tojson", CUSTOM, VARCHAR, f_to_json),
        F1("fromjson", VARCHAR, CUSTOM, f_from_json),
        BLOB_PAIR("ascii", ASCII),
        BLOB_PAIR("bigint", BIGINT),
        BLOB_PAIR("boolean", BOOLEAN),
        BLOB_PAIR("counter", COUNTER),
        BLOB_PAIR("date", DATE),
        BLOB_PAIR("decimal", DECIMAL),
        BLOB_PAIR("double", DOUBLE),
        BLOB_PAIR("float", FLOAT),
        BLOB_PAIR("inet", INET),
        BLOB_PAIR("int", INT),
        BLOB_PAIR("smallint", SMALLINT),
        BLOB_PAIR("text", VARCHAR),
        BLOB_PAIR("varchar", VARCHAR),
        BLOB_PAIR("time", TIME),
        BLOB_PAIR("timestamp", TIMESTAMP),
        BLOB_PAIR("timeuuid", TIMEUUID),
        BLOB_PAIR("tinyint", TINYINT),
        BLOB_PAIR("uuid", UUID),
        BLOB_PAIR("varint", VARINT),
};

#define N_FUNCS (sizeof(funcs) / sizeof(funcs[0]))

bool func_exists(const char *name)
{
	for (size_t i = 0; i < N_FUNCS; i++)
		if (strcmp(funcs[i].name, name) == 0)
			return true;
	return false;
}

/* Whether a value of kind `have` may be passed where `want` is expected. */
static bool arg_fits(enum cqltype_kind want, const struct cqltype *have)
{
	if (!have || want == CQLTYPE_CUSTOM)
		return true;
	if (have->kind == want)
		return true;
	return want == CQLTYPE_VARCHAR && have->kind == CQLTYPE_ASCII;
}

/* "system.todate : (timeuuid) -> date, ..." for every overload of name. */
static void signatures(const char *name, struct buf *out)
{
	bool first = true;
	for (size_t i = 0; i < N_FUNCS; i++) {
		const struct func_def *f = &funcs[i];
		if (strcmp(f->name, name) != 0)
			continue;
		buf_printf(out, "%ssystem.%s : (", first ? "" : ", ", f->name);
		for (uint32_t a = 0; a < f->n_args; a++)
			buf_printf(out, "%s%s", a ? ", " : "", cqltype_kind_name(f->args[a]));
		buf_printf(out, ") -> %s", cqltype_kind_name(f->ret));
		first = false;
	}
	buf_put_u8(out, 0);
}

/* The only overload of its name: arity and argument types, Cassandra's messages. */
static int check_single(const struct func_def *f, uint32_t n, const struct cqltype *const *types,
                        const char *const *texts, struct cerr *e)
{
	if (f->n_args != n) {
		cerr_set(e, COL_EINVAL,
		         "Invalid number of arguments in call to function system.%s: %u required "
		         "but %u provided",
		         f->name, f->n_args, n);
		return COL_EINVAL;
	}
	for (uint32_t a = 0; a < n; a++)
		if (!arg_fits(f->args[a], types[a])) {
			cerr_set(e, COL_EINVAL,
			         "Type error: %s cannot be passed as argument %u of function "
			         "system.%s of type %s",
			         texts[a], a, f->name, cqltype_kind_name(f->args[a]));
			return COL_EINVAL;
		}
	return 0;
}

int func_resolve(const char *name, uint32_t n, const struct cqltype *const *types,
                 const char *const *texts, const struct func_def **out, struct cerr *e)
{
	const struct func_def *found = NULL, *only = NULL;
	uint32_t fits = 0, named = 0;
	for (size_t i = 0; i < N_FUNCS; i++) {
		const struct func_def *f = &funcs[i];
		if (strcmp(f->name, name) != 0)
			continue;
		named++;
		only = f;
		bool ok = f->n_args == n;
		for (uint32_t a = 0; a < n && ok; a++)
			ok = arg_fits(f->args[a], types[a]);
		if (ok && !fits++)
			found = f;
	}
	if (!named) {
		cerr_set(e, COL_ENOTFOUND, "Unknown function '%s'", name);
		return COL_ENOTFOUND;
	}
	if (named == 1) {
		if (check_single(only, n, types, texts, e))
			return COL_EINVAL;
		*out = only;
		return 0;
	}
	if (fits == 1) {
		*out = found;
		return 0;
	}
	struct buf sig;
	buf_init(&sig);
	signatures(name, &sig);
	const char *sg = buf_ok(&sig) ? (const char *)sig.data : "?";
	if (fits > 1)
		cerr_set(e, COL_EINVAL,
		         "Ambiguous call to function %s (can be matched by following signatures: "
		         "%s): use type casts to disambiguate",
		         name, sg);
	else
		cerr_set(e, COL_EINVAL,
		         "Invalid call to function %s, none of its type signatures match (known "
		         "type signatures: %s)",
		         name, sg);
	buf_release(&sig);
	return COL_EINVAL;
}

int func_call(struct executor *ex, const struct func_def *f, const struct fn_arg *args,
              struct buf *out, bool *null, struct cerr *e)
{
	*null = false;
	for (uint32_t i = 0; i < f->n_args && f->eval != f_to_json; i++) /* toJson(null): "null" */
		if (args[i].len < 0) {
			*null = true;
			return 0;
		}
	size_t at = out->len;
	int rc = f->eval(ex, args, out, null, e);
	if (rc || *null)
		return rc;
	/* blobAsType: the bytes must be a valid value of the type */
	if (f->n_args == 1 && f->args[0] == CQLTYPE_BLOB && f->ret != CQLTYPE_BLOB) {
		struct cerr ve = {0};
		if (cqltype_validate(cqltype_simple(f->ret), out->data + at, out->len - at, &ve)) {
			char hex[2 * 32 + 4] = "";
			size_t n = out->len - at > 32 ? 32 : out->len - at;
			for (size_t i = 0; i < n; i++)
				snprintf(hex + 2 * i, 3, "%02x", out->data[at + i]);
			cerr_set(
			        e, COL_EINVAL,
			        "In call to function system.%s, value 0x%s%s is not a valid binary "
			        "representation for type %s",
			        f->name, hex, out->len - at > 32 ? "..." : "",
			        cqltype_kind_name(f->ret));
			return COL_EINVAL;
		}
	}
	return 0;
}

/* ---- CAST ---- */

static bool is_numeric(enum cqltype_kind k)
{
	switch (k) {
	case CQLTYPE_TINYINT:
	case CQLTYPE_SMALLINT:
	case CQLTYPE_INT:
	case CQLTYPE_BIGINT:
	case CQLTYPE_COUNTER:
	case CQLTYPE_FLOAT:
	case CQLTYPE_DOUBLE:
	case CQLTYPE_VARINT:
	case CQLTYPE_DECIMAL: return true;
	default: return false;
	}
}

bool cast_allowed(enum cqltype_kind from, enum cqltype_kind to)
{
	if (from == to || to == CQLTYPE_VARCHAR || to == CQLTYPE_ASCII)
		return true;
	if (is_numeric(from) && is_numeric(to))
		return true;
	switch (to) {
	case CQLTYPE_TIMESTAMP: return from == CQLTYPE_DATE || from == CQLTYPE_TIMEUUID;
	case CQLTYPE_DATE: return from == CQLTYPE_TIMESTAMP || from == CQLTYPE_TIMEUUID;
	default: return false;
	}
}

/* A number read from its native bytes: an integer (exact) or a double. */
struct num {
	bool is_float;
	int64_t i;
	double d;
};

/* Two's complement big-endian integer of at most 8 bytes. */
static bool be_int(const uint8_t *p, size_t len, int64_t *out)
{
	if (len == 0 || len > 8)
		return false;
	uint64_t v = (p[0] & 0x80) ? ~0ULL : 0;
	for (size_t i = 0; i < len; i++)
		v = (v << 8) | p[i];
	*out = (int64_t)v;
	return true;
}

static int num_read(enum cqltype_kind k, const uint8_t *p, size_t len, struct num *n,
                    struct cerr *e)
{
	*n = (struct num){0};
	switch (k) {
	case CQLTYPE_FLOAT: {
		uint32_t b = be32_load(p);
		float f;
		memcpy(&f, &b, 4);
		n->is_float = true;
		n->d = f;
		return 0;
	}
	case CQLTYPE_DOUBLE: {
		uint64_t b = be64_load(p);
		memcpy(&n->d, &b, 8);
		n->is_float = true;
		return 0;
	}
	case CQLTYPE_DECIMAL: {
		int64_t unscaled;
		if (len < 5 || !be_int(p + 4, len - 4, &unscaled))
			break;
		int32_t scale = (int32_t)be32_load(p);
		if (scale == 0) {
			n->i = unscaled;
			return 0;
		}
		n->is_float = true;
		n->d = (double)unscaled * pow(10.0, -scale);
		return 0;
	}
	default:
		if (be_int(p, len, &n->i))
			return 0;
		break;
	}
	cerr_set(e, COL_EINVAL, "cannot cast this %s value: it does not fit 64 bits",
	         cqltype_kind_name(k));
	return COL_EINVAL;
}

/* Java's (long) of a double: NaN is 0, out of range saturates. */
static int64_t java_long(double d)
{
	if (isnan(d))
		return 0;
	if (d >= 9223372036854775807.0)
		return INT64_MAX;
	if (d <= -9223372036854775808.0)
		return INT64_MIN;
	return (int64_t)d;
}

/* Java's (int) of a double. */
static int32_t java_int(double d)
{
	if (isnan(d))
		return 0;
	if (d >= 2147483647.0)
		return INT32_MAX;
	if (d <= -2147483648.0)
		return INT32_MIN;
	return (int32_t)d;
}

/* Minimal two's complement bytes of v (a varint). */
static void put_varint(struct buf *out, int64_t v)
{
	uint8_t b[8];
	be64_store(b, (uint64_t)v);
	size_t i = 0;
	while (i < 7 &&
	       ((b[i] == 0x00 && !(b[i + 1] & 0x80)) || (b[i] == 0xff && (b[i + 1] & 0x80))))
		i++;
	buf_put(out, b + i, 8 - i);
}

static int num_write(enum cqltype_kind to, const struct num *n, struct buf *out, struct cerr *e)
{
	int64_t i = n->is_float ? java_long(n->d) : n->i;
	int32_t i32 = n->is_float ? java_int(n->d) : (int32_t)n->i;
	double d = n->is_float ? n->d : (double)n->i;
	switch (to) {
	case CQLTYPE_TINYINT: buf_put_u8(out, (uint8_t)i32); return 0;
	case CQLTYPE_SMALLINT: buf_put_u16be(out, (uint16_t)i32); return 0;
	case CQLTYPE_INT: buf_put_u32be(out, (uint32_t)i32); return 0;
	case CQLTYPE_BIGINT:
	case CQLTYPE_COUNTER: buf_put_u64be(out, (uint64_t)i); return 0;
	case CQLTYPE_FLOAT: {
		float f = (float)d;
		uint32_t b;
		memcpy(&b, &f, 4);
		buf_put_u32be(out, b);
		return 0;
	}
	case CQLTYPE_DOUBLE: {
		uint64_t b;
		memcpy(&b, &d, 8);
		buf_put_u64be(out, b);
		return 0;
	}
	case CQLTYPE_VARINT:
		if (n->is_float && (isnan(d) || isinf(d)))
			break;
		put_varint(out, i);
		return 0;
	case CQLTYPE_DECIMAL:
		if (n->is_float)
			break;
		buf_put_u32be(out, 0);
		put_varint(out, i);
		return 0;
	default: break;
	}
	cerr_set(e, COL_EINVAL, "cannot cast %s to %s",
	         n->is_float ? "a floating point value" : "it", cqltype_kind_name(to));
	return COL_EINVAL;
}

/* A double as Java's Double.toString prints it in the common cases ("1.5", "2.0"). */
static void put_java_double(struct buf *out, double d, int max_digits)
{
	if (cqltype_put_nonfinite(out, d))
		return;
	char s[40];
	for (int prec = 1; prec <= max_digits; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, d);
		if (strtod(s, NULL) == d || prec == max_digits)
			break;
	}
	buf_put_str(out, s);
	if (!strpbrk(s, ".e"))
		buf_put_str(out, ".0");
}

/* The text of a value as Cassandra's CAST(x AS text) writes it. */
static void cast_text(const struct cqltype *from, const uint8_t *v, size_t len, struct buf *out)
{
	struct num n;
	struct cerr e = {0};
	switch (from->kind) {
	case CQLTYPE_BOOLEAN: buf_put_str(out, len && v[0] ? "true" : "false"); return;
	case CQLTYPE_FLOAT:
	case CQLTYPE_DOUBLE:
		if (!num_read(from->kind, v, len, &n, &e))
			put_java_double(out, n.d, from->kind == CQLTYPE_FLOAT ? 9 : 17);
		return;
	case CQLTYPE_TIMESTAMP: {
		int64_t ms = (int64_t)be64_load(v);
		int64_t days = floor_div(ms, DAY_MS), in_day = ms - days * DAY_MS;
		struct buf d;
		buf_init(&d);
		uint8_t db[4];
		be32_store(db, (uint32_t)(days + DATE_EPOCH));
		cqltype_format(cqltype_simple(CQLTYPE_DATE), db, 4, &d);
		buf_put(out, d.data, d.len);
		buf_release(&d);
		buf_printf(out, "T%02d:%02d:%02d.%03dZ", (int)(in_day / 3600000),
		           (int)(in_day / 60000 % 60), (int)(in_day / 1000 % 60),
		           (int)(in_day % 1000));
		return;
	}
	default: cqltype_format(from, v, len, out); return;
	}
}

int cast_value(const struct cqltype *from, enum cqltype_kind to, const uint8_t *v, size_t len,
               struct buf *out, struct cerr *e)
{
	if (from->kind == to) {
		buf_put(out, v, len);
		return 0;
	}
	if (to == CQLTYPE_VARCHAR || to == CQLTYPE_ASCII) {
		cast_text(from, v, len, out);
		return 0;
	}
	if (is_numeric(from->kind) && is_numeric(to)) {
		struct num n;
		int rc = num_read(from->kind, v, len, &n, e);
		return rc ? rc : num_write(to, &n, out, e);
	}
	struct fn_arg a = {v, (int32_t)len};
	bool null = false;
	if (to == CQLTYPE_TIMESTAMP)
		return from->kind == CQLTYPE_DATE ? f_date_to_ts(NULL, &a, out, &null, e)
		                                  : f_timeuuid_to_ts(NULL, &a, out, &null, e);
	if (to == CQLTYPE_DATE)
		return from->kind == CQLTYPE_TIMESTAMP
		               ? f_ts_to_date(NULL, &a, out, &null, e)
		               : f_timeuuid_to_date(NULL, &a, out, &null, e);
	cerr_set(e, COL_EINVAL, "%s cannot be cast to %s", cqltype_kind_name(from->kind),
	         cqltype_kind_name(to));
	return COL_EINVAL;
}
