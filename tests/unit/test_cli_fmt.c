/*
 * test_cli_fmt.c — cqlsh's layouts (cli/lib/cqlfmt.h): the table, the vertical
 * EXPAND layout, colours, error lines, columnize, quoting.
 */
#include "cli/lib/cqlfmt.h"
#include "core/cqltype.h"

#include <criterion/criterion.h>
#include <string.h>

/* A Rows result: columns id int, name text, score double; rows given as cells. */
static struct cqlresult *rows3(const struct cql_slice *cells, int nrows)
{
	struct buf b;
	buf_init(&b);
	cql_put_int(&b, CQL_RESULT_ROWS);
	cql_put_int(&b, CQL_ROWS_GLOBAL_TABLES_SPEC);
	cql_put_int(&b, 3);
	cql_put_string(&b, "ks");
	cql_put_string(&b, "users");
	cql_put_string(&b, "id");
	cql_put_short(&b, CQLTYPE_INT);
	cql_put_string(&b, "name");
	cql_put_short(&b, CQLTYPE_VARCHAR);
	cql_put_string(&b, "score");
	cql_put_short(&b, CQLTYPE_DOUBLE);
	cql_put_int(&b, nrows);
	for (int i = 0; i < nrows * 3; i++)
		cql_put_bytes(&b, cells[i].p, cells[i].len);
	struct cqlresult *r = NULL;
	struct cerr err = {0};
	cr_assert_eq(cqlresult_decode(CQL_OP_RESULT, 0, b.data, b.len, &r, &err), 0, "%s", err.msg);
	buf_release(&b);
	return r;
}

#define INT(v)                                                                                     \
	{                                                                                          \
		(const uint8_t *)(v), 4                                                            \
	}
#define TXT(s)                                                                                     \
	{                                                                                          \
		(const uint8_t *)(s), (int32_t)(sizeof(s) - 1)                                     \
	}
#define NUL                                                                                        \
	{                                                                                          \
		NULL, -1                                                                           \
	}

static const uint8_t one[] = {0, 0, 0, 1}, forty2[] = {0, 0, 0, 42};
/* 1.5 and 0.25 as IEEE doubles, big-endian */
static const uint8_t d15[] = {0x3F, 0xF8, 0, 0, 0, 0, 0, 0},
                     d025[] = {0x3F, 0xD0, 0, 0, 0, 0, 0, 0};

static char *fmt(struct cqlresult *r, bool expand, bool color, bool header, uint64_t off)
{
	struct buf b;
	buf_init(&b);
	struct cqlfmt_opts o = {.color = color, .expand = expand, .tty = false};
	cqlfmt_rows(&b, r, &o, header, off);
	buf_put_u8(&b, 0);
	return (char *)b.data;
}

Test(fmt, table_layout_as_cqlsh)
{
	struct cql_slice cells[] = {INT(one), TXT("alice"), {d15, 8}, INT(forty2), TXT("bob"), NUL};
	struct cqlresult *r = rows3(cells, 2);
	char *s = fmt(r, false, false, true, 0);
	cr_assert_str_eq(s, " id | name  | score\n"
	                    "----+-------+-------\n"
	                    "  1 | alice |   1.5\n"
	                    " 42 |   bob |  null\n");
	free(s);
	/* A later page without its header keeps its own widths. */
	s = fmt(r, false, false, false, 0);
	cr_assert_str_eq(s, "  1 | alice |   1.5\n"
	                    " 42 |   bob |  null\n");
	free(s);
	cqlresult_free(r);
}

Test(fmt, empty_result_prints_header_and_blank_line)
{
	struct cqlresult *r = rows3(NULL, 0);
	char *s = fmt(r, false, false, true, 0);
	cr_assert_str_eq(s, " id | name | score\n----+------+-------\n\n");
	free(s);
	cqlresult_free(r);
}

Test(fmt, expand_vertical_layout_numbers_rows_from_offset)
{
	struct cql_slice cells[] = {INT(one), TXT("alice"), {d025, 8}};
	struct cqlresult *r = rows3(cells, 1);
	char *s = fmt(r, true, false, true, 100);
	cr_assert_str_eq(s, "@ Row 101\n"
	                    "-------+-------\n"
	                    " id    | 1\n"
	                    " name  | alice\n"
	                    " score | 0.25\n"
	                    "\n");
	free(s);
	cqlresult_free(r);
}

Test(fmt, colors_wrap_text_not_padding)
{
	struct cql_slice cells[] = {INT(one), TXT("al"), NUL};
	struct cqlresult *r = rows3(cells, 1);
	struct buf b;
	buf_init(&b);
	uint8_t roles[] = {CQLFMT_PARTITION_KEY, CQLFMT_REGULAR, CQLFMT_REGULAR};
	struct cqlfmt_opts o = {.color = true, .roles = roles};
	cqlfmt_rows(&b, r, &o, true, 0);
	buf_put_u8(&b, 0);
	const char *want = " " CQLFMT_RED "id" CQLFMT_RESET " | " CQLFMT_MAGENTA "name" CQLFMT_RESET
	                   " | " CQLFMT_MAGENTA "score" CQLFMT_RESET "\n"
	                   "----+------+-------\n"
	                   "  " CQLFMT_GREEN "1" CQLFMT_RESET " |   " CQLFMT_YELLOW
	                   "al" CQLFMT_RESET " |  " CQLFMT_RED "null" CQLFMT_RESET "\n";
	cr_assert_str_eq((char *)b.data, want);
	buf_release(&b);
	cqlresult_free(r);
}

Test(fmt, control_characters_escaped_and_wide_chars_measured)
{
	struct cql_slice cells[] = {INT(one),    TXT("a\nb\\"),       NUL,
	                            INT(forty2), TXT("\xe6\x97\xa5"), NUL};
	struct cqlresult *r = rows3(cells, 2);
	char *s = fmt(r, false, false, true, 0);
	/* "a\nb\\" shows as a\nb\\ (6 columns); the CJK character is 2 columns wide */
	cr_assert_str_eq(s, " id | name   | score\n"
	                    "----+--------+-------\n"
	                    "  1 | a\\nb\\\\ |  null\n"
	                    " 42 |     \xe6\x97\xa5 |  null\n");
	free(s);
	cqlresult_free(r);
	cr_assert_eq(cqlfmt_width("\xe6\x97\xa5x", 4), 3);
	cr_assert_eq(cqlfmt_width("\xff", 1), 1);
}

static char *err_line(struct cql_error_info *e)
{
	struct buf b;
	buf_init(&b);
	cqlfmt_error(&b, e);
	buf_put_u8(&b, 0);
	return (char *)b.data;
}

Test(fmt, error_lines_as_cqlsh_prints_them)
{
	struct cql_error_info e = {.code = CQL_ERR_INVALID,
	                           .message = (char *)"unconfigured table nope"};
	char *s = err_line(&e);
	cr_assert_str_eq(s, "InvalidRequest: Error from server: code=2200 [Invalid query] "
	                    "message=\"unconfigured table nope\"");
	free(s);

	e = (struct cql_error_info){
	        .code = CQL_ERR_SYNTAX,
	        .message = (char *)"line 1:0 no viable alternative at input 'SELEC'"};
	s = err_line(&e);
	cr_assert_str_eq(s, "SyntaxException: line 1:0 no viable alternative at input 'SELEC'");
	free(s);

	e = (struct cql_error_info){.code = CQL_ERR_UNAVAILABLE,
	                            .message = (char *)"Cannot achieve consistency level QUORUM",
	                            .consistency = CL_QUORUM,
	                            .required = 2,
	                            .alive = 1};
	s = err_line(&e);
	cr_assert_str_eq(s, "Unavailable: Error from server: code=1000 [Unavailable exception] "
	                    "message=\"Cannot achieve consistency level QUORUM\" "
	                    "info={'consistency': 'QUORUM', 'required_replicas': 2, "
	                    "'alive_replicas': 1}");
	free(s);

	e = (struct cql_error_info){.code = CQL_ERR_WRITE_TIMEOUT,
	                            .message = (char *)"Operation timed out",
	                            .consistency = CL_ALL,
	                            .required = 3,
	                            .received = 1,
	                            .write_type = (char *)"SIMPLE"};
	s = err_line(&e);
	cr_assert_str_eq(s, "WriteTimeout: Error from server: code=1100 [Coordinator node timed "
	                    "out waiting for replica nodes' responses] message=\"Operation timed "
	                    "out\" info={'consistency': 'ALL', 'required_responses': 3, "
	                    "'received_responses': 1, 'write_type': 'SIMPLE'}");
	free(s);

	e = (struct cql_error_info){.code = CQL_ERR_ALREADY_EXISTS,
	                            .message = (char *)"x",
	                            .keyspace = (char *)"ks",
	                            .table = (char *)""};
	s = err_line(&e);
	cr_assert_str_eq(s, "AlreadyExists: Keyspace 'ks' already exists");
	free(s);
	e.table = (char *)"t";
	s = err_line(&e);
	cr_assert_str_eq(s, "AlreadyExists: Table 'ks.t' already exists");
	free(s);

	e = (struct cql_error_info){.code = CQL_ERR_READ_TIMEOUT,
	                            .message = (char *)"m",
	                            .consistency = CL_ONE,
	                            .required = 1};
	s = err_line(&e);
	cr_assert(strstr(s, "ReadTimeout: Error from server: code=1200 ["), "%s", s);
	cr_assert(strstr(s, "info={'consistency': 'ONE', 'required_responses': 1, "
	                    "'received_responses': 0}"),
	          "%s", s);
	free(s);
	cr_assert_str_eq(cqlfmt_error_class(CQL_ERR_CONFIG), "ConfigurationException");
	cr_assert_str_eq(cqlfmt_error_class(0x7777), "ErrorMessage");
}

static char *columnize(const char *const *v, size_t n, size_t w)
{
	struct buf b;
	buf_init(&b);
	cqlfmt_columnize(&b, v, n, w);
	buf_put_u8(&b, 0);
	return (char *)b.data;
}

Test(fmt, columnize_like_python_cmd)
{
	const char *ks[] = {"system_schema", "system_auth", "system", "shop", "system_traces"};
	char *s = columnize(ks, 5, 80);
	cr_assert_str_eq(s, "system_schema  system_auth  system  shop  system_traces\n");
	free(s);
	s = columnize(ks, 5, 30);
	cr_assert_str_eq(s, "system_schema  shop         \n"
	                    "system_auth    system_traces\n"
	                    "system       \n");
	free(s);
	s = columnize(NULL, 0, 80);
	cr_assert_str_eq(s, "<empty>\n");
	free(s);
}

Test(fmt, quoting_names_and_strings)
{
	struct buf b;
	buf_init(&b);
	cqlfmt_quote_name(&b, "orders");
	buf_put_u8(&b, ' ');
	cqlfmt_quote_name(&b, "Orders");
	buf_put_u8(&b, ' ');
	cqlfmt_quote_name(&b, "select");
	buf_put_u8(&b, ' ');
	cqlfmt_quote_name(&b, "a\"b");
	buf_put_u8(&b, ' ');
	cqlfmt_quote_string(&b, "it's", 4);
	buf_put_u8(&b, 0);
	cr_assert_str_eq((char *)b.data, "orders \"Orders\" \"select\" \"a\"\"b\" 'it''s'");
	buf_release(&b);
}

Test(fmt, driver_reserved_words_are_cassandras_less_default)
{
	/* cqlsh leaves DEFAULT bare (the python driver's list lacks it); the server reserves it */
	cr_expect(!cqlfmt_is_reserved("default"));
	cr_expect(cql_is_reserved("DEFAULT", 7));
	cr_expect(cqlfmt_is_reserved("Select"));
	cr_expect(cqlfmt_is_reserved("mbeans"));
	cr_expect(!cqlfmt_is_reserved("key"));
	struct buf b;
	buf_init(&b);
	cqlfmt_quote_name(&b, "default");
	buf_put_u8(&b, 0);
	cr_expect_str_eq((char *)b.data, "default");
	buf_release(&b);
}

Test(fmt, text_inside_collections_is_escaped_too)
{
	const struct cqltype *lt = NULL;
	cr_assert_eq(cqltype_parse("list<text>", 10, &lt, NULL), 0);
	struct buf v, out;
	buf_init(&v);
	buf_init(&out);
	buf_put_u32be(&v, 2);
	buf_put_u32be(&v, 3);
	buf_put(&v, "a\nb", 3);
	buf_put_u32be(&v, 3);
	buf_put(&v, "c\\d", 3);
	struct cql_slice s = {v.data, (int32_t)v.len};
	cqlfmt_value(&out, lt, &s);
	buf_put_u8(&out, 0);
	cr_assert_str_eq((char *)out.data, "['a\\nb', 'c\\\\d']");
	buf_release(&v);
	buf_release(&out);
	cqltype_free(lt);
}
