/*
 * The native function registry (coordinator/query/functions.h): overload
 * resolution with Cassandra's messages, the time and uuid conversions, the
 * typeAsBlob/blobAsType checks, and CAST.
 */
#include "coordinator/query/functions.h"

#include <criterion/criterion.h>
#include <string.h>

static const struct func_def *resolve(const char *name, uint32_t n, const struct cqltype *a0,
                                      const struct cqltype *a1, struct cerr *e)
{
	const struct cqltype *types[FN_MAX_ARGS] = {a0, a1};
	const char *texts[FN_MAX_ARGS] = {"x", "y"};
	const struct func_def *f = NULL;
	memset(e, 0, sizeof(*e));
	if (func_resolve(name, n, types, texts, &f, e))
		return NULL;
	return f;
}

/* Run f on one argument (len < 0: null) into out; returns the call's code. */
static int call1(const struct func_def *f, const void *p, int32_t len, struct buf *out, bool *null,
                 struct cerr *e)
{
	struct fn_arg a[FN_MAX_ARGS] = {{p, len}, {NULL, -1}};
	buf_reset(out);
	return func_call(NULL, f, a, out, null, e);
}

static const uint8_t TUUID[16] = {0x50, 0x55, 0x4d, 0x6e, 0x29, 0xbb, 0x11, 0xe5,
                                  0xb3, 0x45, 0xfe, 0xff, 0x81, 0x9c, 0xdc, 0x9f};

Test(functions, overloads_resolve_by_argument_type)
{
	struct cerr e;
	const struct func_def *f =
	        resolve("totimestamp", 1, cqltype_simple(CQLTYPE_TIMEUUID), NULL, &e);
	cr_assert(f);
	cr_expect_eq(f->ret, CQLTYPE_TIMESTAMP);
	cr_expect_eq(f->args[0], CQLTYPE_TIMEUUID);
	f = resolve("totimestamp", 1, cqltype_simple(CQLTYPE_DATE), NULL, &e);
	cr_assert(f);
	cr_expect_eq(f->args[0], CQLTYPE_DATE);
	/* a literal fits both overloads */
	cr_expect_null(resolve("totimestamp", 1, NULL, NULL, &e));
	cr_expect_str_eq(e.msg, "Ambiguous call to function totimestamp (can be matched by "
	                        "following signatures: system.totimestamp : (timeuuid) -> "
	                        "timestamp, system.totimestamp : (date) -> timestamp): use type "
	                        "casts to disambiguate");
	cr_expect_null(resolve("todate", 1, cqltype_simple(CQLTYPE_INT), NULL, &e));
	cr_expect_str_eq(e.msg, "Invalid call to function todate, none of its type signatures "
	                        "match (known type signatures: system.todate : (timeuuid) -> date, "
	                        "system.todate : (timestamp) -> date)");
	cr_expect_null(resolve("nosuch", 0, NULL, NULL, &e));
	cr_expect_eq(e.code, COL_ENOTFOUND);
	cr_expect_str_eq(e.msg, "Unknown function 'nosuch'");
	/* one overload: Cassandra's arity and type messages */
	cr_expect_null(resolve("mintimeuuid", 2, NULL, NULL, &e));
	cr_expect_str_eq(e.msg, "Invalid number of arguments in call to function "
	                        "system.mintimeuuid: 1 required but 2 provided");
	cr_expect_null(resolve("blobasint", 1, cqltype_simple(CQLTYPE_INT), NULL, &e));
	cr_expect_str_eq(e.msg, "Type error: x cannot be passed as argument 0 of function "
	                        "system.blobasint of type blob");
	/* ascii passes where text is taken */
	cr_expect(resolve("textasblob", 1, cqltype_simple(CQLTYPE_ASCII), NULL, &e));
	cr_expect(func_exists("currenttimeuuid"));
	cr_expect(func_exists("tojson"));
	cr_expect(func_exists("fromjson"));
}

Test(functions, to_json_and_from_json)
{
	struct cerr e = {0};
	const struct cqltype *lt = NULL;
	cr_assert_eq(cqltype_parse("list<int>", 9, &lt, &e), 0);
	const struct func_def *to = resolve("tojson", 1, lt, NULL, &e);
	cr_assert(to, "%s", e.msg);
	cr_expect_eq(to->ret, CQLTYPE_VARCHAR);
	struct buf out, v;
	buf_init(&out);
	buf_init(&v);
	uint8_t l[] = {0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 2};
	struct fn_arg a[FN_ARGS_CAP] = {{l, sizeof(l), lt}};
	bool null = true;
	cr_assert_eq(func_call(NULL, to, a, &out, &null, &e), 0, "%s", e.msg);
	cr_expect(!null);
	cr_expect_eq(out.len, 6);
	cr_expect(memcmp(out.data, "[1, 2]", 6) == 0);
	/* toJson(null) is the text null */
	buf_reset(&out);
	a[0] = (struct fn_arg){NULL, -1, lt};
	cr_assert_eq(func_call(NULL, to, a, &out, &null, &e), 0);
	cr_expect(!null && out.len == 4 && memcmp(out.data, "null", 4) == 0);
	/* fromJson: the receiver's type after the arguments */
	const struct func_def *from =
	        resolve("fromjson", 1, cqltype_simple(CQLTYPE_VARCHAR), NULL, &e);
	cr_assert(from, "%s", e.msg);
	buf_reset(&out);
	a[0] = (struct fn_arg){(const uint8_t *)"[1, 2]", 6, NULL};
	a[1] = (struct fn_arg){NULL, -1, lt};
	cr_assert_eq(func_call(NULL, from, a, &out, &null, &e), 0, "%s", e.msg);
	cr_expect(!null && out.len == sizeof(l) && memcmp(out.data, l, sizeof(l)) == 0);
	a[0] = (struct fn_arg){(const uint8_t *)"{}", 2, NULL};
	cr_expect_neq(func_call(NULL, from, a, &out, &null, &e), 0);
	cr_expect_str_eq(e.msg, "execution of 'system.fromjson[text]' failed: Expected a list, but "
	                        "got a LinkedHashMap: {0 entries}");
	a[0] = (struct fn_arg){(const uint8_t *)"null", 4, NULL};
	cr_assert_eq(func_call(NULL, from, a, &out, &null, &e), 0);
	cr_expect(null);
	a[1].type = NULL; /* no receiver: a selection */
	cr_expect_neq(func_call(NULL, from, a, &out, &null, &e), 0);
	buf_release(&out);
	buf_release(&v);
	cqltype_free(lt);
}

Test(functions, timeuuid_and_date_conversions)
{
	struct cerr e;
	struct buf out;
	buf_init(&out);
	bool null;
	const struct func_def *f =
	        resolve("tounixtimestamp", 1, cqltype_simple(CQLTYPE_TIMEUUID), NULL, &e);
	cr_assert_eq(call1(f, TUUID, 16, &out, &null, &e), 0);
	cr_expect_eq((int64_t)be64_load(out.data), 1436832018805LL);
	/* minTimeuuid/maxTimeuuid bracket every timeuuid of that millisecond */
	uint8_t ms[8];
	be64_store(ms, 1436832018805ULL);
	const struct func_def *mn = resolve("mintimeuuid", 1, NULL, NULL, &e);
	const struct func_def *mx = resolve("maxtimeuuid", 1, NULL, NULL, &e);
	cr_assert_eq(call1(mn, ms, 8, &out, &null, &e), 0);
	uint8_t lo[16], hi[16];
	memcpy(lo, out.data, 16);
	cr_assert_eq(call1(mx, ms, 8, &out, &null, &e), 0);
	memcpy(hi, out.data, 16);
	cr_expect_eq(be64_load(lo + 8), 0x8080808080808080ULL);
	cr_expect_eq(be64_load(hi + 8), 0x7f7f7f7f7f7f7f7fULL);
	const struct cqltype *tu = cqltype_simple(CQLTYPE_TIMEUUID);
	cr_expect_lt(cqltype_compare(tu, lo, 16, TUUID, 16), 0);
	cr_expect_gt(cqltype_compare(tu, hi, 16, TUUID, 16), 0);
	cr_assert_eq(call1(f, hi, 16, &out, &null, &e), 0);
	cr_expect_eq((int64_t)be64_load(out.data), 1436832018805LL);
	/* a timestamp before the epoch falls on the day before */
	const struct func_def *td =
	        resolve("todate", 1, cqltype_simple(CQLTYPE_TIMESTAMP), NULL, &e);
	be64_store(ms, (uint64_t)-1LL);
	cr_assert_eq(call1(td, ms, 8, &out, &null, &e), 0);
	cr_expect_eq(be32_load(out.data), (1U << 31) - 1);
	/* outside what a timeuuid or a date holds: an error, not a wrapped value */
	be64_store(ms, (uint64_t)INT64_MAX);
	cr_expect_eq(call1(mn, ms, 8, &out, &null, &e), COL_EINVAL);
	cr_expect_str_eq(e.msg, "timestamp 9223372036854775807 is out of the range of a timeuuid");
	cr_expect_eq(call1(td, ms, 8, &out, &null, &e), COL_EINVAL);
	/* null in, null out */
	cr_assert_eq(call1(td, NULL, -1, &out, &null, &e), 0);
	cr_expect(null);
	buf_release(&out);
}

Test(functions, blob_conversions_check_the_bytes)
{
	struct cerr e;
	struct buf out;
	buf_init(&out);
	bool null;
	const struct func_def *f = resolve("blobasint", 1, cqltype_simple(CQLTYPE_BLOB), NULL, &e);
	cr_assert_eq(call1(f, "\0\0\0\x2a", 4, &out, &null, &e), 0);
	cr_expect_eq(be32_load(out.data), 42u);
	cr_expect_eq(call1(f, "\x01", 1, &out, &null, &e), COL_EINVAL);
	cr_expect_str_eq(e.msg, "In call to function system.blobasint, value 0x01 is not a valid "
	                        "binary representation for type int");
	buf_release(&out);
}

/* CAST(v AS to) of a value of kind from, as text (for the text targets) or raw bytes. */
static int cast(enum cqltype_kind from, enum cqltype_kind to, const void *v, size_t len,
                struct buf *out)
{
	struct cerr e = {0};
	buf_reset(out);
	cr_expect(cast_allowed(from, to));
	return cast_value(cqltype_simple(from), to, v, len, out, &e);
}

static bool text_is(const struct buf *b, const char *s)
{
	return b->len == strlen(s) && memcmp(b->data, s, b->len) == 0;
}

Test(functions, cast_as_cassandra_does)
{
	struct buf out;
	buf_init(&out);
	uint8_t i4[4], d8[8], f4[4];
	be32_store(i4, 42);
	cr_assert_eq(cast(CQLTYPE_INT, CQLTYPE_VARCHAR, i4, 4, &out), 0);
	cr_expect(text_is(&out, "42"));
	double d = 2.75;
	uint64_t bits;
	memcpy(&bits, &d, 8);
	be64_store(d8, bits);
	cr_assert_eq(cast(CQLTYPE_DOUBLE, CQLTYPE_INT, d8, 8, &out), 0);
	cr_expect_eq(be32_load(out.data), 2u);
	d = 1e300;
	memcpy(&bits, &d, 8);
	be64_store(d8, bits);
	cr_assert_eq(cast(CQLTYPE_DOUBLE, CQLTYPE_INT, d8, 8, &out), 0);
	cr_expect_eq(be32_load(out.data), 0x7fffffffu); /* Java's (int) saturates */
	float f = 1.0f;
	uint32_t fb;
	memcpy(&fb, &f, 4);
	be32_store(f4, fb);
	cr_assert_eq(cast(CQLTYPE_FLOAT, CQLTYPE_VARCHAR, f4, 4, &out), 0);
	cr_expect(text_is(&out, "1.0"));
	cr_assert_eq(cast(CQLTYPE_BOOLEAN, CQLTYPE_VARCHAR, "\x01", 1, &out), 0);
	cr_expect(text_is(&out, "true"));
	be64_store(d8, 1436875200000ULL);
	cr_assert_eq(cast(CQLTYPE_TIMESTAMP, CQLTYPE_VARCHAR, d8, 8, &out), 0);
	cr_expect(text_is(&out, "2015-07-14T12:00:00.000Z"));
	be32_store(i4, (uint32_t)-1);
	cr_assert_eq(cast(CQLTYPE_INT, CQLTYPE_VARINT, i4, 4, &out), 0);
	cr_expect(out.len == 1 && out.data[0] == 0xff);
	be32_store(i4, 128);
	cr_assert_eq(cast(CQLTYPE_INT, CQLTYPE_VARINT, i4, 4, &out), 0);
	cr_expect(out.len == 2 && out.data[0] == 0x00 && out.data[1] == 0x80);
	cr_expect(!cast_allowed(CQLTYPE_VARCHAR, CQLTYPE_INT));
	cr_expect(!cast_allowed(CQLTYPE_UUID, CQLTYPE_TIMESTAMP));
	buf_release(&out);
}
