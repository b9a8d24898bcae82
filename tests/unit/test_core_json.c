/*
 * JSON text (core/json.h): the writer's exact bytes (the admin endpoints' answers
 * depend on them), and the reader on valid, hostile and torn input.
 */
#include "core/json.h"

#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

Test(jw, writes_compact_escaped_json)
{
	struct buf b;
	buf_init(&b);
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "s");
	jw_str(&w, "a\"b\\c\n\x01");
	jw_key(&w, "n");
	jw_int(&w, -5);
	jw_key(&w, "u");
	jw_uint(&w, 18446744073709551615ULL);
	jw_key(&w, "d");
	jw_double(&w, 0.5);
	jw_key(&w, "inf");
	jw_double(&w, 1.0 / 0.0);
	jw_key(&w, "arr");
	jw_arr(&w);
	jw_bool(&w, true);
	jw_null(&w);
	jw_arr(&w);
	jw_arr_end(&w);
	jw_obj(&w);
	jw_obj_end(&w);
	jw_arr_end(&w);
	jw_key(&w, "none");
	jw_str(&w, NULL);
	jw_obj_end(&w);
	buf_put_u8(&b, 0);
	cr_expect_str_eq((char *)b.data,
	                 "{\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"n\":-5,\"u\":18446744073709551615,"
	                 "\"d\":0.5,\"inf\":null,\"arr\":[true,null,[],{}],\"none\":null}");
	cr_expect(!w.overflow);
	buf_release(&b);
}

Test(jw, fixed_point_figures_and_depth_bound)
{
	struct buf b;
	buf_init(&b);
	struct jw w;
	jw_init(&w, &b);
	jw_arr(&w);
	jw_fixed(&w, 12.3456, 3);
	jw_fixed(&w, 2.0, 1);
	jw_fixed(&w, NAN, 3);
	jw_obj(&w);
	jw_field_str(&w, "s", "x");
	jw_field_int(&w, "i", -1);
	jw_field_uint(&w, "u", 2);
	jw_field_fixed(&w, "f", 0.25, 1);
	jw_field_bool(&w, "b", false);
	jw_obj_end(&w);
	jw_arr_end(&w);
	buf_put_u8(&b, 0);
	cr_expect_str_eq((char *)b.data,
	                 "[12.346,2.0,null,{\"s\":\"x\",\"i\":-1,\"u\":2,\"f\":0.2,\"b\":false}]");
	cr_expect(!w.overflow);

	buf_reset(&b);
	jw_init(&w, &b);
	for (int i = 0; i <= JW_MAX_DEPTH; i++)
		jw_arr(&w);
	cr_expect(w.overflow, "opening %d arrays must latch overflow", JW_MAX_DEPTH + 1);
	buf_release(&b);
}

static struct json *parse_ok(const char *text)
{
	struct json *j = NULL;
	struct cerr e = {0};
	cr_assert_eq(json_parse(text, strlen(text), &j, &e), 0, "%s: %s", text, e.msg);
	return j;
}

static void parse_bad(const char *text, const char *why)
{
	struct json *j = NULL;
	struct cerr e = {0};
	cr_expect_eq(json_parse(text, strlen(text), &j, &e), COL_ECORRUPT, "accepted: %s", text);
	cr_expect(strstr(e.msg, why), "'%s' -> '%s', want '%s'", text, e.msg, why);
	cr_expect_null(j);
}

Test(json, status_shaped_document)
{
	struct json *j = parse_ok("{\"cluster_name\":\"Test Cluster\",\"nodes\":[{\"address\":"
	                          "\"127.0.0.1\",\"up\":true,\"load\":1234,\"owns\":0.3333,\"host_"
	                          "id\":null,\"tokens\":16}], \"empty\": {}, \"none\": []}");
	cr_expect_str_eq(json_str(json_get(j, "cluster_name"), ""), "Test Cluster");
	const struct json *nodes = json_get(j, "nodes");
	cr_assert_eq(json_type(nodes), JSON_ARRAY);
	cr_assert_eq(json_len(nodes), 1);
	const struct json *n = json_at(nodes, 0);
	cr_expect_str_eq(json_str(json_get(n, "address"), ""), "127.0.0.1");
	cr_expect(json_bool(json_get(n, "up"), false));
	cr_expect_eq(json_int(json_get(n, "load"), 0), 1234);
	cr_expect_float_eq(json_num(json_get(n, "owns"), 0), 0.3333, 1e-12);
	cr_expect_eq(json_type(json_get(n, "host_id")), JSON_NULL);
	cr_expect_null(json_get(n, "missing"));
	cr_expect_str_eq(json_str(json_get(n, "missing"), "dflt"), "dflt");
	cr_expect_str_eq(json_str(json_get(n, "tokens"), "dflt"), "dflt", "wrong type -> default");
	cr_expect_eq(json_len(json_get(j, "empty")), 0);
	cr_expect_eq(json_len(json_get(j, "none")), 0);
	cr_expect_str_eq(json_key_at(j, 1), "nodes");
	json_free(j);
}

Test(json, numbers_keep_int64_precision)
{
	struct json *j = parse_ok("[-9223372036854775807, 9007199254740993, 1.5e3, -0.25, 0]");
	cr_expect_eq(json_int(json_at(j, 0), 0), -9223372036854775807LL);
	cr_expect_eq(json_int(json_at(j, 1), 0), 9007199254740993LL);
	cr_expect_float_eq(json_num(json_at(j, 2), 0), 1500.0, 1e-9);
	cr_expect_float_eq(json_num(json_at(j, 3), 0), -0.25, 1e-12);
	cr_expect_eq(json_int(json_at(j, 4), 7), 0);
	json_free(j);
}

Test(json, numbers_keep_their_text_beyond_double_range)
{
	struct json *j = parse_ok("[1e999, -2.5E+400, 123456789012345678901234567890]");
	cr_expect_str_eq(json_num_text(json_at(j, 0)), "1e999");
	cr_expect_eq(json_num(json_at(j, 0), 0), DBL_MAX);
	cr_expect_eq(json_num(json_at(j, 1), 0), -DBL_MAX);
	cr_expect_str_eq(json_num_text(json_at(j, 2)), "123456789012345678901234567890");
	json_free(j);
}

Test(json, string_escapes_and_unicode)
{
	struct json *j = parse_ok("\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\u20ac\\ud83d\\ude00\"");
	cr_expect_str_eq(json_str(j, ""), "a\"b\\c/d\n\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	json_free(j);
}

Test(json, hostile_input_is_refused)
{
	parse_bad("", "unexpected end");
	parse_bad("{", "expected a member name");
	parse_bad("{\"a\" 1}", "expected ':'");
	parse_bad("{\"a\":1,}", "expected a member name");
	parse_bad("[1 2]", "expected ',' or ']'");
	parse_bad("\"abc", "unterminated string");
	parse_bad("\"a\\x\"", "bad escape");
	parse_bad("\"\\u12\"", "truncated \\u escape");
	parse_bad("\"\\u12zz\"", "bad hex digit");
	parse_bad("\"\\ud800\"", "unpaired surrogate");
	parse_bad("\"\\udc00x\"", "unpaired surrogate");
	parse_bad("\"\\u0000\"", "\\u0000");
	parse_bad("\"a\nb\"", "control character");
	parse_bad("tru", "unexpected character");
	parse_bad("-", "bad number");
	parse_bad("1e", "bad number");
	parse_bad("{} x", "trailing characters");
	char deep[200];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	struct json *j = NULL;
	struct cerr e = {0};
	cr_expect_eq(json_parse(deep, 200, &j, &e), COL_ECORRUPT);
	cr_expect(strstr(e.msg, "nesting deeper than 64"), "%s", e.msg);
	cr_expect_eq(json_parse(deep, 64, &j, &e), COL_ECORRUPT, "64 '[' with no ']'");
}

Test(json, length_bounds_the_read)
{
	/* The text continues past len: the parser must not look there. */
	const char text[] = "[1,2]GARBAGE";
	struct json *j = NULL;
	struct cerr e = {0};
	cr_assert_eq(json_parse(text, 5, &j, &e), 0, "%s", e.msg);
	cr_expect_eq(json_len(j), 2);
	json_free(j);
}
