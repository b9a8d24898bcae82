/*
 * cql_parser.h — cqlish text to syntax tree (coordinator/cql/cql_ast.h).
 *
 * A hand-written recursive-descent parser over the tokens of cql_lexer.h; the
 * CQL 3 grammar (apache/cassandra Parser.g / Lexer.g) is the reference and
 * docs/CQL.md describes the dialect.  The parser never crashes on any input:
 * every failure is a COL_ESYNTAX (or COL_EINVAL, COL_ETOOBIG, COL_ENOMEM) with a
 * message in Cassandra's style naming the line, the column and the token found:
 *
 *   line 1:9 mismatched input 'FORM' expecting K_FROM (SELECT * [FORM]...)
 *
 * Statements cqlish does not implement but CQL has (CREATE INDEX, CREATE TYPE,
 * GRANT, ...) fail with COL_EUNSUPPORTED naming the statement, so the user
 * learns it is valid CQL that this server lacks, not a typo.
 *
 * The tree is allocated from the caller's arena.  On failure the arena may hold
 * partial garbage (never leaked: it goes when the arena is freed) and *out is
 * untouched.  Recursion is bounded by CQL_MAX_DEPTH.
 */
#ifndef COLONNADE_COORDINATOR_CQL_PARSER_H
#define COLONNADE_COORDINATOR_CQL_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "coordinator/cql/cql_ast.h"
#include "core/err.h"

/*
 * Longest statement text accepted (COL_ETOOBIG beyond).  Cassandra's default
 * native_transport_max_frame_size is 16 MiB, so no driver sends more in one
 * QUERY; a script's statement (cqlish -f) with a big inline blob stays below.
 */
#define CQL_MAX_TEXT (16u * 1024 * 1024)
/*
 * Deepest nesting of collection literals, tuples, function calls, types and
 * parentheses.  Real queries nest a handful of levels; 64 keeps the recursion
 * far from the stack's end even on small thread stacks.
 */
#define CQL_MAX_DEPTH 64

/*
 * Parse exactly one statement: `text[0..len)` holds it, optionally followed by
 * one ';' and then only whitespace and comments.  This is what QUERY and
 * PREPARE use.  Returns 0 and sets *out, or a negative COL_E* code with `err`
 * filled (COL_ESYNTAX for text that does not parse).
 */
int cql_parse(struct cql_arena *arena, const char *text, size_t len, struct cql_stmt **out,
              struct cerr *err);

/* Where cql_parse_next() continues: zero-initialise for the start of a text. */
struct cql_cursor {
	size_t off;    /* byte offset of the next statement */
	uint32_t line; /* its line (0 means 1) and column, for error positions */
	uint32_t col;
};

/*
 * Parse the next statement of a script (cqlish -f, SOURCE, tests): skip
 * whitespace, comments and empty statements (';'), parse one statement and
 * its terminating ';' (or the end of the text), and advance *cur past it.
 * Returns 0 with *out set; 0 with *out == NULL when only whitespace and
 * comments remained; or a negative code with `err` filled (positions count
 * from the start of `text`, so they match the script's lines); after an error
 * *cur is unchanged.  Each statement is bounded by CQL_MAX_TEXT; the text as a
 * whole by 1 GiB (positions are 32-bit).
 */
int cql_parse_next(struct cql_arena *arena, const char *text, size_t len, struct cql_cursor *cur,
                   struct cql_stmt **out, struct cerr *err);

#endif
