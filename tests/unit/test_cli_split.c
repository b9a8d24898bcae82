/*
 * test_cli_split.c — statement splitting as cqlsh does it (cli/lib/cqlsplit.h)
 * and the shell's tab-completion candidates (cli/lib/cqlcomplete.h).
 */
#include "cli/lib/cqlcomplete.h"
#include "cli/lib/cqlsplit.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* Feed lines, collect statements "stmt@line" joined by '|'. */
static char *split_lines(const char *const *lines, size_t n, bool *pending)
{
	struct cqlsplit s;
	cqlsplit_init(&s);
	struct buf out;
	buf_init(&out);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(cqlsplit_feed(&s, lines[i], strlen(lines[i])), 0);
		char *st;
		size_t line;
		while (cqlsplit_next(&s, &st, &line) == 1) {
			buf_printf(&out, "%s%s@%zu", out.len ? "|" : "", st, line);
			free(st);
		}
	}
	if (pending)
		*pending = cqlsplit_pending(&s);
	cqlsplit_release(&s);
	buf_put_u8(&out, 0);
	return (char *)out.data;
}

#define SPLIT(pending, ...)                                                                        \
	({                                                                                         \
		const char *const l_[] = {__VA_ARGS__};                                            \
		split_lines(l_, sizeof(l_) / sizeof(l_[0]), pending);                              \
	})

Test(split, semicolons_end_statements_even_several_per_line)
{
	bool pending;
	char *s = SPLIT(&pending, "SELECT * FROM t; INSERT INTO t (a) VALUES (1);", "USE ks;");
	cr_assert_str_eq(s, "SELECT * FROM t@1|INSERT INTO t (a) VALUES (1)@1|USE ks@2");
	cr_assert_not(pending);
	free(s);
}

Test(split, statements_span_lines_and_keep_inner_comments)
{
	bool pending;
	char *s = SPLIT(&pending, "  -- leading comment", "SELECT a,", "  b /* inner; */ FROM t",
	                "WHERE a = 'x;y' -- trailing ; not an end", ";");
	cr_assert_str_eq(s, "SELECT a,\n  b /* inner; */ FROM t\nWHERE a = 'x;y'@5");
	cr_assert_not(pending);
	free(s);
}

Test(split, quotes_escapes_and_dollar_strings)
{
	char *s = SPLIT(NULL, "INSERT INTO \"T;x\" (a) VALUES ('it''s;');",
	                "INSERT INTO t (a) VALUES ($$a;b$$);");
	cr_assert_str_eq(s, "INSERT INTO \"T;x\" (a) VALUES ('it''s;')@1|"
	                    "INSERT INTO t (a) VALUES ($$a;b$$)@2");
	free(s);
}

Test(split, unterminated_string_keeps_statement_pending)
{
	bool pending;
	char *s = SPLIT(&pending, "INSERT INTO t (a) VALUES ('abc;");
	cr_assert_str_eq(s, "");
	cr_assert(pending);
	free(s);
	s = SPLIT(&pending, "INSERT INTO t (a) VALUES ('abc;", "def');");
	cr_assert_str_eq(s, "INSERT INTO t (a) VALUES ('abc;\ndef')@2");
	cr_assert_not(pending);
	free(s);
}

Test(split, batch_is_one_statement)
{
	char *s = SPLIT(NULL, "BEGIN UNLOGGED BATCH", "INSERT INTO t (a) VALUES (1);",
	                "UPDATE t SET b = 2 WHERE a = 1;", "APPLY BATCH;", "SELECT 1;");
	cr_assert_str_eq(s, "BEGIN UNLOGGED BATCH\nINSERT INTO t (a) VALUES (1);\n"
	                    "UPDATE t SET b = 2 WHERE a = 1;\nAPPLY BATCH@4|SELECT 1@5");
	free(s);
}

Test(split, shell_commands_end_at_newline)
{
	bool pending;
	char *s = SPLIT(&pending, "EXPAND ON", "consistency quorum -- comment", "paging 50;",
	                "SELECT", "* FROM t;");
	cr_assert_str_eq(s, "EXPAND ON@1|consistency quorum@2|paging 50@3|SELECT\n* FROM t@5");
	cr_assert_not(pending);
	free(s);
}

Test(split, blank_and_empty_statements)
{
	bool pending;
	char *s = SPLIT(&pending, "", ";;", "   ", "/* only", "a comment */");
	cr_assert_str_eq(s, "");
	cr_assert_not(pending);
	free(s);
}

Test(split, line_numbers_count_newlines_inside_strings_and_comments)
{
	char *s = SPLIT(NULL, "INSERT INTO t (a) VALUES ('x", "y", "z');", "/* a", "b */ SELECT 1;",
	                "SELECT $$p", "q$$ FROM t; -- c", "?", "SELECT -5 - 2;");
	cr_assert_str_eq(s, "INSERT INTO t (a) VALUES ('x\ny\nz')@3|SELECT 1@5|"
	                    "SELECT $$p\nq$$ FROM t@7|?@8|SELECT -5 - 2@9");
	free(s);
}

Test(split, batch_with_comments_and_shell_word_not_first)
{
	char *s = SPLIT(NULL, "begin batch -- apply batch; in a comment",
	                "insert into t (a) values ('apply batch;');", "apply batch;",
	                "SELECT help FROM t", ";");
	cr_assert_str_eq(s, "begin batch -- apply batch; in a comment\n"
	                    "insert into t (a) values ('apply batch;');\napply batch@3|"
	                    "SELECT help FROM t@5");
	free(s);
}

Test(split, rest_at_end_of_input)
{
	struct cqlsplit s;
	cqlsplit_init(&s);
	cqlsplit_feed(&s, "SELECT * FROM t", 15);
	char *st;
	size_t line;
	cr_assert_eq(cqlsplit_next(&s, &st, &line), 0);
	cr_assert(cqlsplit_pending(&s));
	char *rest = cqlsplit_take_rest(&s, &line);
	cr_assert_str_eq(rest, "SELECT * FROM t");
	cr_assert_eq(line, 1);
	free(rest);
	cr_assert_not(cqlsplit_pending(&s));
	cr_assert_null(cqlsplit_take_rest(&s, &line));
	cqlsplit_release(&s);
}

Test(split, tokens)
{
	const char *t = "SELECT \"Ab\"\"c\" FROM ks.t WHERE x = -1.5e+3 AND y = 'q'";
	size_t pos = 0;
	struct cqltok k = cqltok_next(t, strlen(t), &pos);
	cr_assert(cqltok_is(t, &k, "select"));
	k = cqltok_next(t, strlen(t), &pos);
	cr_assert_eq(k.kind, CQLTOK_QNAME);
	struct buf n;
	buf_init(&n);
	cqltok_name(t, &k, &n);
	buf_put_u8(&n, 0);
	cr_assert_str_eq((char *)n.data, "Ab\"c");
	buf_release(&n);
	for (int i = 0; i < 8; i++)
		k = cqltok_next(t, strlen(t), &pos);
	cr_assert_eq(k.kind, CQLTOK_NUMBER);
	cr_assert_eq(k.len, 7);
}

/* ---- completion ---- */

static char **dup_list(const char *const *v)
{
	size_t n = 0;
	while (v[n])
		n++;
	char **out = calloc(n + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = strdup(v[i]);
	return out;
}

static char **fake_names(void *ctx, enum cqlcomplete_what what, const char *ks, const char *table)
{
	(void)ctx;
	static const char *const kss[] = {"shop", "system", "system_schema", NULL};
	static const char *const shop_tables[] = {"orders", "order_items", "users", NULL};
	static const char *const orders_cols[] = {"id", "item", "owner", NULL};
	if (what == CQLCOMPLETE_KEYSPACES)
		return dup_list(kss);
	if (what == CQLCOMPLETE_TABLES && strcmp(ks, "shop") == 0)
		return dup_list(shop_tables);
	if (what == CQLCOMPLETE_COLUMNS && strcmp(ks, "shop") == 0 && strcmp(table, "orders") == 0)
		return dup_list(orders_cols);
	return NULL;
}

static char *complete(const char *before, const char *word, const char *cur)
{
	struct cqlcomplete_schema sc = {NULL, fake_names, cur};
	char **v = cqlcomplete(before, strlen(before), word, &sc);
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; v && v[i]; i++)
		buf_printf(&b, "%s%s", i ? " " : "", v[i]);
	cqlcomplete_free(v);
	buf_put_u8(&b, 0);
	return (char *)b.data;
}

#define EXPECT_COMPLETE(before, word, cur, want)                                                   \
	do {                                                                                       \
		char *got_ = complete(before, word, cur);                                          \
		cr_assert_str_eq(got_, want, "completing '%s' after '%s'", word, before);          \
		free(got_);                                                                        \
	} while (0)

Test(complete, contexts)
{
	EXPECT_COMPLETE("", "SE", NULL, "SELECT SERIAL");
	EXPECT_COMPLETE("", "se", NULL, "select serial");
	EXPECT_COMPLETE("USE ", "s", NULL, "shop system system_schema");
	EXPECT_COMPLETE("SELECT * FROM ", "o", "shop", "order_items orders");
	EXPECT_COMPLETE("SELECT * FROM shop.", "u", NULL, "users");
	EXPECT_COMPLETE("INSERT INTO shop.", "", NULL, "order_items orders users");
	EXPECT_COMPLETE("SELECT * FROM orders WHERE ", "i", "shop", "id if in into item");
	EXPECT_COMPLETE("UPDATE shop.orders SET ", "ow", NULL, "owner");
	EXPECT_COMPLETE("CONSISTENCY ", "LOCAL", NULL, "LOCAL_ONE LOCAL_QUORUM LOCAL_SERIAL");
	EXPECT_COMPLETE("consistency ", "q", NULL, "QUORUM");
	EXPECT_COMPLETE("SERIAL CONSISTENCY ", "", NULL, "LOCAL_SERIAL SERIAL");
	EXPECT_COMPLETE("EXPAND ", "o", NULL, "off on");
	EXPECT_COMPLETE("DESCRIBE ", "KEY", NULL, "KEYSPACE KEYSPACES");
	EXPECT_COMPLETE("DESC ", "o", "shop", "order_items orders");
	EXPECT_COMPLETE("SHOW ", "", NULL, "HOST VERSION");
	EXPECT_COMPLETE("SELECT 1; USE ", "sh", NULL, "shop");
	EXPECT_COMPLETE("CREATE TABLE t (id ", "big", NULL, "bigint");
	EXPECT_COMPLETE("", "zzz", NULL, "");
	EXPECT_COMPLETE("HELP ", "SE", NULL, "SELECT SERIAL");
	EXPECT_COMPLETE("? ", "SE", NULL, "SELECT SERIAL");
	EXPECT_COMPLETE("SERIAL ", "c", NULL, "consistency");
	EXPECT_COMPLETE("CREATE ", "T", NULL, "TABLE");
	EXPECT_COMPLETE("TRUNCATE ", "o", "shop", "order_items orders");
	EXPECT_COMPLETE("PAGING ", "O", NULL, "OFF ON");
}
