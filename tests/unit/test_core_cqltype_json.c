/*
 * Values to and from JSON (core/cqltype_json.c): Cassandra's mapping and spacing
 * per type, the round trip JSON -> bytes -> JSON, and the messages for misuse.
 */
#include "core/cqltype.h"
#include "core/json.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cqltype *ty(const char *text)
{
	const struct cqltype *t = NULL;
	struct cerr e = {0};
	cr_assert_eq(cqltype_parse(text, strlen(text), &t, &e), 0, "%s: %s", text, e.msg);
	return t;
}

/* JSON text -> native bytes of `type` -> JSON text; returns 0 and the output, or the
 * error code with the message in err_out. */
static int round_trip(const char *type, const char *json, char *out, size_t cap, char *err_out)
{
	const struct cqltype *t = ty(type);
	struct json *j = NULL;
	struct cerr e = {0};
	cr_assert_eq(json_parse(json, strlen(json), &j, &e), 0, "%s: %s", json, e.msg);
	struct buf b, o;
	buf_init(&b);
	buf_init(&o);
	int rc = cqltype_from_json(t, j, &b, &e);
	if (rc == 0) {
		cr_assert_eq(cqltype_validate(t, b.data, b.len, NULL), 0, "%s as %s", json, type);
		cqltype_to_json(t, b.data, b.len, &o);
		snprintf(out, cap, "%.*s", (int)o.len, (const char *)o.data);
	} else if (err_out) {
		snprintf(err_out, 512, "%s", e.msg);
	}
	buf_release(&b);
	buf_release(&o);
	json_free(j);
	cqltype_free(t);
	return rc;
}

static void same(const char *type, const char *in, const char *want)
{
	char out[1024], err[512] = "";
	cr_assert_eq(round_trip(type, in, out, sizeof(out), err), 0, "%s %s: %s", type, in, err);
	cr_expect_str_eq(out, want, "%s %s", type, in);
}

static void refused(const char *type, const char *in, const char *want_msg)
{
	char out[1024], err[512] = "";
	cr_assert_neq(round_trip(type, in, out, sizeof(out), err), 0, "%s %s accepted", type, in);
	cr_expect_str_eq(err, want_msg, "%s %s: got %s", type, in, err);
}

Test(cqltype_json, scalars_as_cassandra_writes_them)
{
	same("text", "\"a\\\"b\\n\"", "\"a\\\"b\\n\"");
	same("ascii", "\"abc\"", "\"abc\"");
	same("int", "-42", "-42");
	same("int", "\"17\"", "17");
	same("tinyint", "127", "127");
	same("smallint", "-3", "-3");
	same("bigint", "9007199254740993", "9007199254740993");
	same("counter", "5", "5");
	same("varint", "123456789012345678901234567890", "123456789012345678901234567890");
	same("decimal", "1.50", "1.50");
	same("decimal", "-0.000123456789012345678901", "-0.000123456789012345678901");
	same("double", "2.5", "2.5");
	same("double", "1", "1.0");
	same("double", "1e10", "1.0E10");
	same("double", "0.001", "0.001");
	same("double", "1e-5", "1.0E-5");
	same("double", "\"NaN\"", "\"NaN\"");
	same("float", "0.1", "0.1");
	same("float", "\"-Infinity\"", "\"-Infinity\"");
	same("boolean", "true", "true");
	same("boolean", "\"false\"", "false");
	same("blob", "\"0xCAFE\"", "\"0xcafe\"");
	same("blob", "\"0x\"", "\"0x\"");
	same("timestamp", "\"2024-01-02 03:04:05.678Z\"", "\"2024-01-02 03:04:05.678Z\"");
	same("timestamp", "0", "\"1970-01-01 00:00:00.000Z\"");
	same("timestamp", "\"2024-01-02\"", "\"2024-01-02 00:00:00.000Z\"");
	same("date", "\"2024-02-29\"", "\"2024-02-29\"");
	same("time", "\"03:04:05.123456789\"", "\"03:04:05.123456789\"");
	same("uuid", "\"01234567-89AB-cdef-0123-456789abcdef\"",
	     "\"01234567-89ab-cdef-0123-456789abcdef\"");
	same("timeuuid", "\"50554d6e-29bb-11e5-b345-feff819cdc9f\"",
	     "\"50554d6e-29bb-11e5-b345-feff819cdc9f\"");
	same("inet", "\"::1\"", "\"::1\"");
	same("inet", "\"10.0.0.1\"", "\"10.0.0.1\"");
	same("duration", "\"1h30m\"", "\"1h30m\"");
}

Test(cqltype_json, collections_and_tuples)
{
	same("list<int>", "[3, 1, 2]", "[3, 1, 2]");
	same("set<text>", "[\"b\", \"a\", \"b\"]", "[\"a\", \"b\"]");
	same("map<text, int>", "{\"y\": 2, \"x\": 1}", "{\"x\": 1, \"y\": 2}");
	same("map<int, boolean>", "{\"2\": true, \"-1\": false}", "{\"-1\": false, \"2\": true}");
	same("map<timestamp, text>", "{\"2024-01-02 00:00:00.000Z\": \"a\"}",
	     "{\"2024-01-02 00:00:00.000Z\": \"a\"}");
	same("frozen<list<frozen<map<int, frozen<list<text>>>>>>", "[{\"1\": [\"a\"]}, {}]",
	     "[{\"1\": [\"a\"]}, {}]");
	same("tuple<int, text, list<int>>", "[1, null, [2]]", "[1, null, [2]]");
	same("list<int>", "[]", "[]");
}

Test(cqltype_json, misuse_gets_cassandras_messages)
{
	refused("int", "\"abc\"", "Unable to make int from 'abc'");
	refused("int", "1.5", "Expected an int value, but got a Double: 1.5");
	refused("int", "true", "Expected an int value, but got a Boolean: true");
	refused("text", "12", "Expected a UTF-8 string, but got a Integer: 12");
	refused("ascii", "[1]", "Expected an ascii string, but got a ArrayList: [1 elements]");
	refused("blob", "\"cafe\"", "String representation of blob is missing 0x prefix: cafe");
	refused("boolean", "1", "Expected a boolean value, but got a Integer: 1");
	refused("list<int>", "{\"a\": 1}", "Expected a list, but got a LinkedHashMap: {1 entries}");
	refused("set<int>", "3", "Expected a list (representing a set), but got a Integer: 3");
	refused("map<text, int>", "[1]", "Expected a map, but got a ArrayList: [1 elements]");
	refused("list<int>", "[1, null]", "Invalid null element in collection");
	refused("tuple<int, int>", "[1, 2, 3]",
	        "Tuple contains extra items (expected 2): 3 items given");
}

Test(cqltype_json, out_of_range_and_bad_text_never_pass)
{
	char out[1024], err[512];
	cr_expect_neq(round_trip("tinyint", "128", out, sizeof(out), err), 0);
	cr_expect_neq(round_trip("int", "2147483648", out, sizeof(out), err), 0);
	cr_expect_neq(round_trip("bigint", "9223372036854775808", out, sizeof(out), err), 0);
	cr_expect_neq(round_trip("uuid", "\"not-a-uuid\"", out, sizeof(out), err), 0);
	cr_expect_neq(round_trip("timeuuid", "\"01234567-89ab-cdef-0123-456789abcdef\"", out,
	                         sizeof(out), err),
	              0);
	cr_expect_neq(round_trip("date", "\"2024-02-30\"", out, sizeof(out), err), 0);
	cr_expect_neq(round_trip("inet", "\"300.1.1.1\"", out, sizeof(out), err), 0);
	cr_expect_neq(round_trip("blob", "\"0xabc\"", out, sizeof(out), err), 0);
	cr_expect_neq(round_trip("map<int, int>", "{\"x\": 1}", out, sizeof(out), err), 0);
}

Test(cqltype_json, invalid_bytes_write_null)
{
	struct buf o;
	buf_init(&o);
	const uint8_t three[3] = {1, 2, 3};
	cqltype_to_json(cqltype_simple(CQLTYPE_INT), three, 3, &o);
	cqltype_to_json(cqltype_simple(CQLTYPE_INT), three, 0, &o);
	cr_expect_eq(o.len, 8);
	cr_expect(memcmp(o.data, "nullnull", 8) == 0);
	buf_release(&o);
}

/* address (street text, "Zip" int, tags frozen<list<text>>), frozen or not. */
static const struct cqltype *address(bool frozen)
{
	char **names = calloc(3, sizeof(*names));
	const struct cqltype **f = calloc(3, sizeof(*f));
	cr_assert(names && f);
	names[0] = strdup("street");
	names[1] = strdup("Zip");
	names[2] = strdup("tags");
	f[0] = cqltype_simple(CQLTYPE_VARCHAR);
	f[1] = cqltype_simple(CQLTYPE_INT);
	f[2] = ty("frozen<list<text>>");
	const struct cqltype *t = cqltype_udt_new("ks", "address", names, f, 3, frozen);
	cr_assert(t);
	return t;
}

/* JSON of user type t -> bytes -> JSON, or the error message. */
static int udt_trip(bool frozen, const char *json, char *out, size_t cap)
{
	const struct cqltype *t = address(frozen);
	struct json *j = NULL;
	struct cerr e = {0};
	cr_assert_eq(json_parse(json, strlen(json), &j, &e), 0, "%s: %s", json, e.msg);
	struct buf b, o;
	buf_init(&b);
	buf_init(&o);
	int rc = cqltype_from_json(t, j, &b, &e);
	if (rc == 0) {
		cr_assert_eq(cqltype_validate(t, b.data, b.len, NULL), 0, "%s", json);
		cqltype_to_json(t, b.data, b.len, &o);
		snprintf(out, cap, "%.*s", (int)o.len, (const char *)o.data);
	} else {
		snprintf(out, cap, "%s", e.msg);
	}
	buf_release(&b);
	buf_release(&o);
	json_free(j);
	cqltype_free(t);
	return rc;
}

Test(cqltype_json, user_types_from_an_object_by_field_name)
{
	char out[512];
	for (int frozen = 0; frozen < 2; frozen++) {
		cr_assert_eq(udt_trip(frozen, "{\"STREET\": \"Main\", \"\\\"Zip\\\"\": 5003}", out,
		                      sizeof(out)),
		             0, "%s", out);
		cr_expect_str_eq(out,
		                 "{\"street\": \"Main\", \"\\\"Zip\\\"\": 5003, \"tags\": null}");
		cr_assert_eq(
		        udt_trip(frozen, "{\"tags\": [\"a\"], \"street\": null}", out, sizeof(out)),
		        0, "%s", out);
		cr_expect_str_eq(out,
		                 "{\"street\": null, \"\\\"Zip\\\"\": null, \"tags\": [\"a\"]}");
		cr_expect_neq(udt_trip(frozen, "{\"zip\": 1}", out, sizeof(out)), 0);
		cr_expect_str_eq(out, "Unknown field 'zip' in value of user defined type address");
		cr_expect_neq(udt_trip(frozen, "[1, 2]", out, sizeof(out)), 0);
		cr_expect_str_eq(out, "Expected a map, but got a ArrayList: [2 elements]");
		cr_expect_neq(udt_trip(frozen, "{\"street\": 1}", out, sizeof(out)), 0);
		cr_expect_str_eq(out, "Expected a UTF-8 string, but got a Integer: 1");
	}
}
