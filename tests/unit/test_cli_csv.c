/*
 * test_cli_csv.c — COPY's CSV dialect (cli/lib/csv.h) and cqlsh value text
 * back to native bytes (cli/lib/cqltext.h).
 */
#include "cli/lib/cqltext.h"
#include "cli/lib/csv.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* Every record of `in` as "f1|f2@line" (quoted fields as <f>), records joined by ';',
 * errors as "E:message". */
static char *read_all(const char *in, const struct csv_opts *o)
{
	struct csv_opts def;
	csv_opts_init(&def);
	struct csv_reader r;
	csv_reader_mem(&r, in, strlen(in), o ? o : &def);
	struct buf out;
	buf_init(&out);
	for (int guard = 0; guard < 100; guard++) {
		struct cerr err = {0};
		int rc = csv_read(&r, &err);
		if (rc == 0)
			break;
		if (out.len)
			buf_put_u8(&out, ';');
		if (rc < 0) {
			buf_printf(&out, "E:%s", err.msg);
			continue;
		}
		for (size_t i = 0; i < r.n_fields; i++) {
			const struct csv_field *f = &r.fields[i];
			buf_printf(&out, "%s%s%.*s%s", i ? "|" : "", f->quoted ? "<" : "",
			           (int)f->len, (const char *)r.data.data + f->off,
			           f->quoted ? ">" : "");
		}
		buf_printf(&out, "@%zu", r.rec_line);
	}
	buf_put_u8(&out, 0);
	csv_reader_release(&r);
	return (char *)buf_detach(&out, NULL);
}

#define EXPECT_READ(in, want)                                                                      \
	do {                                                                                       \
		char *got_ = read_all(in, NULL);                                                   \
		cr_expect_str_eq(got_, want);                                                      \
		free(got_);                                                                        \
	} while (0)

Test(csv, plain_records_and_line_ends)
{
	EXPECT_READ("a,b,c\n1,2,3\n", "a|b|c@1;1|2|3@2");
	EXPECT_READ("a,b\r\n1,2\r\n", "a|b@1;1|2@2");
	EXPECT_READ("a,b", "a|b@1");     /* no final line end */
	EXPECT_READ("\n\na\n\n", "a@3"); /* blank lines skipped */
	EXPECT_READ("a,,\n", "a||@1");   /* empty unquoted fields */
	EXPECT_READ("", "");
}

Test(csv, quoting)
{
	EXPECT_READ("\"a,b\",c\n", "<a,b>|c@1");
	EXPECT_READ("\"he said \"\"hi\"\"\"\n", "<he said \"hi\">@1");
	EXPECT_READ("\"line1\nline2\",x\nnext\n", "<line1\nline2>|x@1;next@3");
	EXPECT_READ("\"\",x\n", "<>|x@1");       /* quoted empty is a value, not NULL */
	EXPECT_READ("\"a\\\"b\"\n", "<a\"b>@1"); /* escape inside quotes */
	EXPECT_READ("a\\,b,c\n", "a,b|c@1");     /* escape outside quotes */
	EXPECT_READ("\"a\r\nb\"\r\n", "<a\r\nb>@1");
}

Test(csv, errors_name_the_line_and_reading_goes_on)
{
	EXPECT_READ("ok\n\"abc\"x,y\nnext\n", "ok@1;E:line 2: text after a closing quote;next@3");
	EXPECT_READ("ok\n\"never closed\nmore\n", "ok@1;E:line 2: unterminated quoted field");
	EXPECT_READ("a\\", "E:line 1: escape character at the end of the input");
}

Test(csv, bounds)
{
	struct csv_opts o;
	csv_opts_init(&o);
	o.max_record = 8;
	o.max_fields = 3;
	char *got = read_all("0123456789\nok\na,b,c,d\nx\n", &o);
	cr_expect_str_eq(got, "E:line 1: record longer than the limit;ok@2;E:line 3: more than 3 "
	                      "fields;x@4");
	free(got);
}

Test(csv, other_delimiter_and_quote)
{
	struct csv_opts o;
	csv_opts_init(&o);
	o.delim = '|';
	o.quote = '\'';
	o.escape = 0;
	char *got = read_all("a|'b|c'|'it''s'\n", &o);
	cr_expect_str_eq(got, "a|<b|c>|<it's>@1");
	free(got);
}

static char *put(const char *s, bool force)
{
	struct csv_opts o;
	csv_opts_init(&o);
	struct buf b;
	buf_init(&b);
	csv_put_field(&b, s, strlen(s), &o, force);
	buf_put_u8(&b, 0);
	return (char *)buf_detach(&b, NULL);
}

Test(csv, writer_quotes_what_needs_it_and_reads_back)
{
	const char *cases[][2] = {
	        {"plain", "plain"},
	        {"a,b", "\"a,b\""},
	        {"say \"x\"", "\"say \"\"x\"\"\""},
	        {"two\nlines", "\"two\nlines\""},
	        {"back\\slash", "\"back\\\\slash\""},
	        {"", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *w = put(cases[i][0], false);
		cr_expect_str_eq(w, cases[i][1], "writing '%s'", cases[i][0]);
		struct csv_opts o;
		csv_opts_init(&o);
		struct csv_reader r;
		csv_reader_mem(&r, w, strlen(w), &o);
		struct cerr err = {0};
		if (*w) {
			cr_assert_eq(csv_read(&r, &err), 1, "%s", err.msg);
			cr_expect_eq(r.fields[0].len, strlen(cases[i][0]));
			cr_expect_eq(memcmp(r.data.data, cases[i][0], r.fields[0].len), 0);
		}
		csv_reader_release(&r);
		free(w);
	}
	char *w = put("", true);
	cr_expect_str_eq(w, "\"\"");
	free(w);
}

/* cqltext: parse then format gives the text back. */
static void roundtrip(const char *type, const char *text)
{
	const struct cqltype *t;
	struct cerr err = {0};
	cr_assert_eq(cqltype_parse(type, strlen(type), &t, &err), 0, "%s", err.msg);
	struct buf v, f;
	buf_init(&v);
	buf_init(&f);
	int rc = cqltext_parse(t, text, strlen(text), &v, &err);
	cr_assert_eq(rc, 0, "%s '%s': %s", type, text, err.msg);
	cqltype_format(t, v.data, v.len, &f);
	buf_put_u8(&f, 0);
	cr_expect_str_eq((char *)f.data, text, "type %s", type);
	buf_release(&v);
	buf_release(&f);
	cqltype_free(t);
}

Test(cqltext, simple_types_read_back_as_cqlsh_prints_them)
{
	roundtrip("int", "-42");
	roundtrip("bigint", "-9223372036854775808");
	roundtrip("text", "he said \"hi\", 'ok'");
	roundtrip("boolean", "True");
	roundtrip("blob", "0x00ff10");
	roundtrip("timestamp", "2026-12-06 12:34:56.789000+0000");
	roundtrip("date", "2026-12-06");
	roundtrip("time", "12:34:56.789000000");
	roundtrip("uuid", "123e4567-e89b-12d3-a456-426614174000");
	roundtrip("double", "3.14159265359");
	roundtrip("double", "NaN");
	roundtrip("float", "-Infinity");
	roundtrip("decimal", "123.456");
	roundtrip("varint", "123456789012345678901234567890");
	roundtrip("inet", "::1");
	roundtrip("duration", "1h30m");
}

Test(cqltext, collections_and_tuples)
{
	roundtrip("list<text>", "['a''b', 'c,d', '']");
	roundtrip("set<int>", "{1, 2, 3}");
	roundtrip("map<text, frozen<list<int>>>", "{'k': [1, 2], 'q''': []}");
	roundtrip("tuple<int, text, timestamp>", "(7, 'x''y', '2020-01-01 00:00:00.000000+0000')");
	roundtrip("tuple<int, text>", "(1, null)");
	roundtrip("list<frozen<map<int, text>>>", "[{1: 'a'}, {}]");
}

static void bad(const char *type, const char *text, const char *want)
{
	const struct cqltype *t;
	struct cerr err = {0};
	cr_assert_eq(cqltype_parse(type, strlen(type), &t, &err), 0);
	struct buf v;
	buf_init(&v);
	cr_expect_neq(cqltext_parse(t, text, strlen(text), &v, &err), 0, "%s '%s'", type, text);
	cr_expect(strstr(err.msg, want) != NULL, "%s '%s': got '%s'", type, text, err.msg);
	buf_release(&v);
	cqltype_free(t);
}

Test(cqltext, bad_input_says_what)
{
	bad("int", "abc", "abc");
	bad("list<int>", "[1, 2", "expected ']'");
	bad("list<int>", "[1 2]", "expected ','");
	bad("map<text, int>", "{'a' 1}", "expected ':'");
	bad("list<text>", "['open]", "unterminated string");
	bad("set<int>", "{1} x", "unexpected text");
	bad("tuple<int>", "1", "expected '('");
}

static const struct cqltype *addr_type(void)
{
	char **names = malloc(3 * sizeof(*names));
	const struct cqltype **fields = malloc(3 * sizeof(*fields));
	cr_assert(names && fields);
	names[0] = strdup("street");
	names[1] = strdup("Zip Code");
	names[2] = strdup("tags");
	fields[0] = cqltype_simple(CQLTYPE_VARCHAR);
	fields[1] = cqltype_simple(CQLTYPE_INT);
	const struct cqltype *tags;
	struct cerr err = {0};
	cr_assert_eq(cqltype_parse("frozen<set<text>>", 17, &tags, &err), 0);
	fields[2] = tags;
	const struct cqltype *t = cqltype_udt_new("ks", "addr", names, fields, 3, true);
	cr_assert(t);
	return t;
}

Test(cqltext, user_types)
{
	const struct cqltype *t = addr_type();
	const char *cases[] = {
	        "{street: 'Main St, 1', \"Zip Code\": 12345, tags: {'a', 'b'}}",
	        "{street: null, \"Zip Code\": null, tags: null}",
	        "{street: '', \"Zip Code\": -1, tags: {}}",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf v, f;
		buf_init(&v);
		buf_init(&f);
		struct cerr err = {0};
		cr_assert_eq(cqltext_parse(t, cases[i], strlen(cases[i]), &v, &err), 0, "%s: %s",
		             cases[i], err.msg);
		cqltype_format(t, v.data, v.len, &f);
		buf_put_u8(&f, 0);
		cr_expect_str_eq((char *)f.data, cases[i]);
		buf_release(&v);
		buf_release(&f);
	}
	/* any field order, missing fields null, bare names case-insensitive */
	struct buf v, f;
	buf_init(&v);
	buf_init(&f);
	struct cerr err = {0};
	const char *in = "{TAGS: {'x'}, street: 'y'}";
	cr_assert_eq(cqltext_parse(t, in, strlen(in), &v, &err), 0, "%s", err.msg);
	cqltype_format(t, v.data, v.len, &f);
	buf_put_u8(&f, 0);
	cr_expect_str_eq((char *)f.data, "{street: 'y', \"Zip Code\": null, tags: {'x'}}");
	buf_release(&v);
	buf_release(&f);
	buf_init(&v);
	in = "{nope: 1}";
	cr_expect_eq(cqltext_parse(t, in, strlen(in), &v, &err), COL_ETYPE);
	cr_expect(strstr(err.msg, "no field 'nope' in type addr"), "%s", err.msg);
	in = "{\"Zip Code: 1}";
	cr_expect_eq(cqltext_parse(t, in, strlen(in), &v, &err), COL_ESYNTAX);
	buf_release(&v);
	cqltype_free(t);
}
