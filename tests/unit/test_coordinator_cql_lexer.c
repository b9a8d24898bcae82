/*
 * test_coordinator_cql_lexer.c — cqlish tokens: kinds, positions, comments,
 * quoting, and the lexer's error messages.
 */
#include "coordinator/cql/cql_lexer.h"

#include <criterion/criterion.h>
#include <string.h>

#define MAXTOK 64

struct lexed {
	struct cql_token t[MAXTOK];
	int n;
	int rc;
	struct cerr err;
};

static void lex_all(const char *text, size_t len, struct lexed *out)
{
	struct cql_lexer lx;
	memset(out, 0, sizeof(*out));
	cql_lexer_init(&lx, text, len);
	for (;;) {
		cr_assert_lt(out->n, MAXTOK);
		struct cql_token *t = &out->t[out->n];
		out->rc = cql_lexer_next(&lx, t, &out->err);
		if (out->rc)
			return;
		out->n++;
		if (t->kind == CQL_TOK_EOF)
			return;
	}
}

static void lex(const char *text, struct lexed *out)
{
	lex_all(text, strlen(text), out);
}

static void expect_tok(const struct cql_token *t, enum cql_tok_kind k, const char *text,
                       uint32_t line, uint32_t col)
{
	cr_expect_eq(t->kind, k, "token '%.*s': kind %d, want %d", (int)t->len, t->start, t->kind,
	             k);
	cr_expect_eq(t->len, strlen(text), "token '%.*s' want '%s'", (int)t->len, t->start, text);
	cr_expect(!strncmp(t->start, text, t->len), "token '%.*s' want '%s'", (int)t->len, t->start,
	          text);
	cr_expect_eq(t->pos.line, line, "token '%s' line %u want %u", text, t->pos.line, line);
	cr_expect_eq(t->pos.col, col, "token '%s' col %u want %u", text, t->pos.col, col);
}

Test(cql_lexer, statement_tokens_and_positions)
{
	struct lexed l;
	lex("SELECT a, \"B\" FROM ks.t WHERE x >= 10 AND y != ? LIMIT 5;", &l);
	cr_assert_eq(l.rc, 0, "%s", l.err.msg);
	cr_assert_eq(l.n, 20);
	expect_tok(&l.t[0], CQL_TOK_WORD, "SELECT", 1, 0);
	expect_tok(&l.t[1], CQL_TOK_WORD, "a", 1, 7);
	expect_tok(&l.t[2], CQL_TOK_COMMA, ",", 1, 8);
	expect_tok(&l.t[3], CQL_TOK_QIDENT, "\"B\"", 1, 10);
	expect_tok(&l.t[5], CQL_TOK_WORD, "ks", 1, 19);
	expect_tok(&l.t[6], CQL_TOK_DOT, ".", 1, 21);
	expect_tok(&l.t[10], CQL_TOK_GTE, ">=", 1, 32);
	expect_tok(&l.t[11], CQL_TOK_INTEGER, "10", 1, 35);
	expect_tok(&l.t[14], CQL_TOK_NEQ, "!=", 1, 44);
	expect_tok(&l.t[15], CQL_TOK_QMARK, "?", 1, 47);
	expect_tok(&l.t[18], CQL_TOK_SEMI, ";", 1, 56);
	cr_expect_eq(l.t[19].kind, CQL_TOK_EOF);
	cr_expect_eq(l.t[19].pos.col, 57);
}

Test(cql_lexer, lines_and_columns_count_characters)
{
	struct lexed l;
	/* 'é' is two bytes but one column, as in Cassandra's messages */
	lex("SELECT\n  'é' ,\r\n\tb", &l);
	cr_assert_eq(l.rc, 0, "%s", l.err.msg);
	expect_tok(&l.t[1], CQL_TOK_STRING, "'é'", 2, 2);
	expect_tok(&l.t[2], CQL_TOK_COMMA, ",", 2, 6);
	cr_expect_eq(l.t[2].pos.off, 14);
	expect_tok(&l.t[3], CQL_TOK_WORD, "b", 3, 1);
	cr_expect_eq(l.t[1].chars, 3);
}

Test(cql_lexer, comments_are_skipped)
{
	struct lexed l;
	lex("-- line comment\nSELECT /* block\n comment */ a // tail\n-- end", &l);
	cr_assert_eq(l.rc, 0, "%s", l.err.msg);
	cr_assert_eq(l.n, 3);
	expect_tok(&l.t[0], CQL_TOK_WORD, "SELECT", 2, 0);
	expect_tok(&l.t[1], CQL_TOK_WORD, "a", 3, 12);
	cr_expect_eq(l.t[2].kind, CQL_TOK_EOF);
}

Test(cql_lexer, unterminated_block_comment)
{
	struct lexed l;
	lex("SELECT /* never closed", &l);
	cr_assert_eq(l.rc, COL_ESYNTAX);
	cr_expect_str_eq(l.err.msg, "line 1:22 mismatched character '<EOF>' expecting '*/' "
	                            "(comment opened at line 1:7)");
}

Test(cql_lexer, strings_and_escapes)
{
	struct lexed l;
	lex("'it''s' $$a 'raw' $ string$$ ''", &l);
	cr_assert_eq(l.rc, 0, "%s", l.err.msg);
	cr_assert_eq(l.n, 4);
	char buf[64];
	cr_expect_eq(l.t[0].kind, CQL_TOK_STRING);
	cr_expect_eq(cql_token_string(&l.t[0], buf), 4);
	cr_expect_str_eq(buf, "it's");
	cr_expect_eq(l.t[1].kind, CQL_TOK_STRING);
	cql_token_string(&l.t[1], buf);
	cr_expect_str_eq(buf, "a 'raw' $ string");
	cr_expect_eq(cql_token_string(&l.t[2], buf), 0);
}

Test(cql_lexer, string_may_hold_nul_and_newlines)
{
	static const char text[] = "'a\0b\nc'";
	struct lexed l;
	lex_all(text, sizeof(text) - 1, &l);
	cr_assert_eq(l.rc, 0, "%s", l.err.msg);
	char buf[16];
	cr_expect_eq(cql_token_string(&l.t[0], buf), 5);
	cr_expect_eq(memcmp(buf, "a\0b\nc", 5), 0);
	cr_expect_eq(l.t[1].pos.line, 2);
}

Test(cql_lexer, unterminated_strings)
{
	struct lexed l;
	lex("SELECT * FROM t WHERE a = 'abc", &l);
	cr_assert_eq(l.rc, COL_ESYNTAX);
	cr_expect_str_eq(l.err.msg, "line 1:30 mismatched character '<EOF>' expecting ''' "
	                            "(string literal opened at line 1:26 is not closed)");
	lex("x = $$abc$", &l);
	cr_assert_eq(l.rc, COL_ESYNTAX);
	cr_expect(strstr(l.err.msg, "expecting '$$'"), "%s", l.err.msg);
	lex("SELECT \"abc", &l);
	cr_assert_eq(l.rc, COL_ESYNTAX);
	cr_expect(strstr(l.err.msg, "quoted identifier opened at line 1:7"), "%s", l.err.msg);
}

Test(cql_lexer, quoted_identifiers)
{
	struct lexed l;
	lex("\"My \"\"Col\"\"\"", &l);
	cr_assert_eq(l.rc, 0, "%s", l.err.msg);
	char buf[32];
	cr_expect_eq(cql_token_qident(&l.t[0], buf), 8);
	cr_expect_str_eq(buf, "My \"Col\"");
	lex("\"\"", &l);
	cr_expect_eq(l.rc, COL_ESYNTAX);
	cr_expect(strstr(l.err.msg, "empty quoted identifier"), "%s", l.err.msg);
	static const char nul[] = "\"a\0b\"";
	lex_all(nul, sizeof(nul) - 1, &l);
	cr_expect_eq(l.rc, COL_ESYNTAX);
	cr_expect(strstr(l.err.msg, "NUL"), "%s", l.err.msg);
}

Test(cql_lexer, numbers_uuids_blobs)
{
	struct lexed l;
	lex("42 1.5 1. 2e10 3.5E-2 0xCAFE 0x 123e4567-e89b-12d3-a456-426614174000 "
	    "deadbeef-0000-0000-0000-000000000000 deadbeef",
	    &l);
	cr_assert_eq(l.rc, 0, "%s", l.err.msg);
	expect_tok(&l.t[0], CQL_TOK_INTEGER, "42", 1, 0);
	expect_tok(&l.t[1], CQL_TOK_FLOAT, "1.5", 1, 3);
	expect_tok(&l.t[2], CQL_TOK_FLOAT, "1.", 1, 7);
	expect_tok(&l.t[3], CQL_TOK_FLOAT, "2e10", 1, 10);
	expect_tok(&l.t[4], CQL_TOK_FLOAT, "3.5E-2", 1, 15);
	expect_tok(&l.t[5], CQL_TOK_HEX, "0xCAFE", 1, 22);
	expect_tok(&l.t[6], CQL_TOK_HEX, "0x", 1, 29);
	expect_tok(&l.t[7], CQL_TOK_UUID, "123e4567-e89b-12d3-a456-426614174000", 1, 32);
	expect_tok(&l.t[8], CQL_TOK_UUID, "deadbeef-0000-0000-0000-000000000000", 1, 69);
	expect_tok(&l.t[9], CQL_TOK_WORD, "deadbeef", 1, 106);
}

Test(cql_lexer, minus_is_its_own_token)
{
	struct lexed l;
	lex("c - 1 -2 -= +=", &l);
	cr_assert_eq(l.rc, 0, "%s", l.err.msg);
	expect_tok(&l.t[1], CQL_TOK_MINUS, "-", 1, 2);
	expect_tok(&l.t[2], CQL_TOK_INTEGER, "1", 1, 4);
	expect_tok(&l.t[3], CQL_TOK_MINUS, "-", 1, 6);
	expect_tok(&l.t[4], CQL_TOK_INTEGER, "2", 1, 7);
	expect_tok(&l.t[5], CQL_TOK_MINUSEQ, "-=", 1, 9);
	expect_tok(&l.t[6], CQL_TOK_PLUSEQ, "+=", 1, 12);
}

Test(cql_lexer, bad_numbers)
{
	struct lexed l;
	lex("LIMIT 12abc", &l);
	cr_assert_eq(l.rc, COL_ESYNTAX);
	cr_expect_str_eq(l.err.msg, "line 1:6 invalid number '12abc'");
	lex("x = 0xabg", &l);
	cr_assert_eq(l.rc, COL_ESYNTAX);
	cr_expect_str_eq(l.err.msg, "line 1:8 invalid hex digit 'g' in blob literal");
	lex("1.2.3", &l);
	cr_expect_eq(l.rc, COL_ESYNTAX);
	lex("1.foo", &l);
	cr_expect_str_eq(l.err.msg, "line 1:0 invalid number '1.foo'");
	lex("1.e5 1.E-2", &l);
	cr_assert_eq(l.rc, 0, "%s", l.err.msg);
	expect_tok(&l.t[0], CQL_TOK_FLOAT, "1.e5", 1, 0);
	expect_tok(&l.t[1], CQL_TOK_FLOAT, "1.E-2", 1, 5);
}

Test(cql_lexer, stray_characters)
{
	struct lexed l;
	lex("SELECT # FROM", &l);
	cr_assert_eq(l.rc, COL_ESYNTAX);
	cr_expect_str_eq(l.err.msg, "line 1:7 token recognition error at: '#'");
	lex("a\n  é", &l);
	cr_assert_eq(l.rc, COL_ESYNTAX);
	cr_expect_str_eq(l.err.msg, "line 2:2 token recognition error at: 'é'");
	static const char nul[] = "SELECT \0";
	lex_all(nul, sizeof(nul) - 1, &l);
	cr_assert_eq(l.rc, COL_ESYNTAX);
	cr_expect_str_eq(l.err.msg, "line 1:7 token recognition error at: '\\x00'");
	lex("a ! b", &l);
	cr_expect_eq(l.rc, COL_ESYNTAX);
	lex("_a", &l);
	cr_expect_eq(l.rc, COL_ESYNTAX);
}

Test(cql_lexer, keywords_and_reserved_words)
{
	struct lexed l;
	lex("sElEcT", &l);
	cr_expect(cql_token_is_word(&l.t[0], "SELECT"));
	cr_expect(!cql_token_is_word(&l.t[0], "SELECTS"));
	cr_expect(!cql_token_is_word(&l.t[0], "SELEC"));
	cr_expect(cql_is_reserved("select", 6));
	cr_expect(cql_is_reserved("FROM", 4));
	cr_expect(cql_is_reserved("token", 5));
	cr_expect(!cql_is_reserved("key", 3));
	cr_expect(!cql_is_reserved("ttl", 3));
	cr_expect(!cql_is_reserved("count", 5));
	cr_expect(!cql_is_reserved("writetime", 9));
	cr_expect(!cql_is_reserved("averyveryverylongidentifier", 27));
}

Test(cql_lexer, eof_repeats)
{
	struct lexed l;
	lex("   ", &l);
	cr_assert_eq(l.rc, 0);
	cr_expect_eq(l.n, 1);
	cr_expect_eq(l.t[0].kind, CQL_TOK_EOF);
	struct cql_lexer lx;
	struct cql_token t;
	cql_lexer_init(&lx, "", 0);
	for (int i = 0; i < 3; i++) {
		cr_expect_eq(cql_lexer_next(&lx, &t, NULL), 0);
		cr_expect_eq(t.kind, CQL_TOK_EOF);
	}
}
