/*
 * cql_lexer.h — splits cqlish text into tokens for the parser (cql_parser.h).
 *
 * Follows Cassandra's Lexer.g: case-insensitive words (keywords and unquoted
 * identifiers are one token kind; the parser tells them apart), "quoted"
 * identifiers with "" escaping, 'strings' with '' escaping, $$strings$$,
 * unsigned integers and floats ('-' is always its own token: the parser reads a
 * '-' directly followed by a number as a negative literal, so `c - 1` and `-1`
 * both work), NaN and Infinity (words), unquoted uuids, 0x blobs, `--`, `//`
 * and block comments.  Bytes outside
 * strings and quoted identifiers must be ASCII.
 *
 * A token points into the source text (start/len), which must outlive it.
 * Errors (unterminated string, stray character, ...) are COL_ESYNTAX with a
 * message in Cassandra's style ("line 1:7 token recognition error at: '#'").
 */
#ifndef COLONNADE_COORDINATOR_CQL_LEXER_H
#define COLONNADE_COORDINATOR_CQL_LEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coordinator/cql/cql_ast.h"
#include "core/cqltype.h"
#include "core/err.h"

enum cql_tok_kind {
	CQL_TOK_EOF = 0,
	CQL_TOK_WORD,     /* unquoted identifier or keyword: [A-Za-z][A-Za-z0-9_]* */
	CQL_TOK_QIDENT,   /* "Quoted identifier" */
	CQL_TOK_STRING,   /* 'string' or $$string$$ */
	CQL_TOK_INTEGER,  /* [0-9]+ */
	CQL_TOK_FLOAT,    /* [0-9]+ ('.' [0-9]*)? ([eE] [+-]? [0-9]+)?, with '.' or exponent */
	CQL_TOK_UUID,     /* 8-4-4-4-12 hex digits */
	CQL_TOK_HEX,      /* 0x[0-9a-fA-F]* */
	CQL_TOK_QMARK,    /* ? */
	CQL_TOK_LPAREN,   /* ( */
	CQL_TOK_RPAREN,   /* ) */
	CQL_TOK_LBRACKET, /* [ */
	CQL_TOK_RBRACKET, /* ] */
	CQL_TOK_LBRACE,   /* { */
	CQL_TOK_RBRACE,   /* } */
	CQL_TOK_COMMA,    /* , */
	CQL_TOK_SEMI,     /* ; */
	CQL_TOK_DOT,      /* . */
	CQL_TOK_COLON,    /* : */
	CQL_TOK_STAR,     /* * */
	CQL_TOK_EQ,       /* = */
	CQL_TOK_NEQ,      /* != */
	CQL_TOK_LT,       /* < */
	CQL_TOK_LTE,      /* <= */
	CQL_TOK_GT,       /* > */
	CQL_TOK_GTE,      /* >= */
	CQL_TOK_PLUS,     /* + */
	CQL_TOK_MINUS,    /* - */
	CQL_TOK_PLUSEQ,   /* += */
	CQL_TOK_MINUSEQ,  /* -= */
	CQL_TOK_RANGE,    /* .. (collection slices: s[1..3]) */
	CQL_TOK_DURATION  /* (digits unit)+: 1h30m, 2d, 10us (units: y mo w d h m s ms us ns) */
};

struct cql_token {
	enum cql_tok_kind kind;
	struct cql_pos pos;
	const char *start; /* the token's source bytes (quotes included) */
	size_t len;
	uint32_t chars; /* length in characters (for error snippets) */
};

struct cql_lexer {
	const char *text;
	size_t len;
	size_t off; /* next byte to read */
	uint32_t line;
	uint32_t col;
};

/* Start lexing text[0..len) at line 1, column 0. */
void cql_lexer_init(struct cql_lexer *lx, const char *text, size_t len);

/*
 * Skip whitespace and comments and read the next token into *tok (CQL_TOK_EOF
 * at the end, repeatedly).  Returns 0, or COL_ESYNTAX with `err` filled; the
 * lexer should not be used after an error.
 */
int cql_lexer_next(struct cql_lexer *lx, struct cql_token *tok, struct cerr *err);

/* The token's name in error messages: "K_FROM"-style names are the parser's;
 * this gives the class names: "IDENT", "STRING_LITERAL", "INTEGER", "'('". */
const char *cql_tok_kind_name(enum cql_tok_kind k);

/*
 * Decode a STRING token into `out` (size at least tok->len + 1): the content
 * with '' unescaped (or $$ stripped); returns the decoded length, NUL added.
 */
size_t cql_token_string(const struct cql_token *tok, char *out);

/*
 * Decode a QIDENT token into `out` (size at least tok->len + 1) with ""
 * unescaped; returns the length, NUL added.
 */
size_t cql_token_qident(const struct cql_token *tok, char *out);

/* Case-insensitive compare of a WORD token with an upper-case keyword. */
bool cql_token_is_word(const struct cql_token *tok, const char *upper_keyword);

/* cql_is_reserved() (core/cqltype.h): the words that cannot be unquoted identifiers. */

#endif
