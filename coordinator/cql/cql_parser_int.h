/*
 * cql_parser_int.h — what the parser's files share: the parser state, the
 * token stream (a small lookahead ring over the lexer), error reporting, and
 * the grammar rules one file calls in another.  Only coordinator/cql/ and its
 * tests include it; the face is cql_parser.h.
 *
 * Every rule returns 0 or a negative COL_E* code with p->err filled; TRY()
 * propagates.  The files, one per part of the grammar:
 *   cql_parser.c        statements: dispatch, cql_parse(), cql_parse_next()
 *   cql_parse_tokens.c  allocation, tokens, error messages, identifiers
 *   cql_parse_term.c    terms (literals, bind markers, collections) and types
 *   cql_parse_clause.c  WHERE relations, IF conditions, USING, WITH properties
 *   cql_parse_dml.c     SELECT, INSERT, UPDATE, DELETE, BATCH
 *   cql_parse_ddl.c     CREATE / ALTER / DROP of keyspaces and tables
 *   cql_parse_auth.c    roles and permissions (CREATE ROLE, GRANT, LIST ...)
 */
#ifndef COLONNADE_COORDINATOR_CQL_PARSER_INT_H
#define COLONNADE_COORDINATOR_CQL_PARSER_INT_H

#include "coordinator/cql/cql_lexer.h"
#include "coordinator/cql/cql_parser.h"

#include <string.h>

#define LOOKAHEAD 4 /* ring size: the grammar peeks at most 3 tokens ahead */
#define HISTORY   8 /* consumed tokens remembered for error snippets */

#define TRY(expr)                                                                                  \
	do {                                                                                       \
		int rc_ = (expr);                                                                  \
		if (rc_)                                                                           \
			return rc_;                                                                \
	} while (0)

/* A growable array in the arena (old copies are abandoned to the arena). */
struct vec {
	void *items;
	uint32_t n;
	uint32_t cap;
};

struct parser {
	struct cql_arena *arena;
	struct cerr *err;
	const char *text;
	size_t len;
	struct cql_lexer lx;
	/* lookahead ring */
	struct cql_token la[LOOKAHEAD];
	unsigned la_head, la_n;
	bool lex_failed;        /* the lexer failed; lex_err holds why */
	struct cql_pos lex_pos; /* where the bad token starts */
	struct cerr lex_err;
	/* consumed tokens, for snippets */
	size_t hist_off[HISTORY];
	unsigned hist_n;   /* total consumed (index modulo HISTORY) */
	size_t last_end;   /* byte offset just after the last consumed token */
	size_t stmt_start; /* byte offset of the current top-level statement */
	int depth;
	/* bind markers, in order */
	struct vec binds; /* of struct cql_bind */
	struct cql_stmt *cur_stmt;
};

/* The receiver of a term being parsed: what a bind marker in it binds to. */
struct recv {
	enum cql_bind_role role;
	enum cql_op op;
	const struct cql_ident *column;
	const struct cql_ident *field;    /* CQL_BIND_FIELD */
	const struct cql_bind_step *step; /* CQL_BIND_NESTED */
	const struct cql_relation *rel;
	uint32_t tuple_index;
	const struct cql_term *func;
	uint32_t arg_index;
};

static const struct recv RECV_OTHER = {.role = CQL_BIND_OTHER};

/* ---- allocation (in the statement's arena) ---- */

/* "out of memory building the syntax tree": COL_ENOMEM with the arena's use. */
int cqlp_oom(struct parser *p);
/* Appends an esz-byte item to v, growing it in the arena. */
int cqlp_vec_push(struct parser *p, struct vec *v, const void *item, size_t esz);

/* ---- tokens ---- */

/* Reads one more token into the lookahead ring (after a lexer error: the bad EOF). */
void cqlp_fill(struct parser *p);

static inline void *alloc(struct parser *p, size_t n)
{
	return cql_arena_alloc(p->arena, n);
}

static inline const struct cql_token *peek(struct parser *p, unsigned k)
{
	while (p->la_n <= k)
		cqlp_fill(p);
	return &p->la[(p->la_head + k) % LOOKAHEAD];
}

static inline const struct cql_token *cur(struct parser *p)
{
	return peek(p, 0);
}

/* A token is "bad" when it stands for a lexer error. */
static inline bool is_bad(const struct parser *p, const struct cql_token *t)
{
	/* after a lexer error every token is the bad EOF; a real EOF cannot follow one */
	return p->lex_failed && t->kind == CQL_TOK_EOF;
}

static inline struct cql_token next(struct parser *p)
{
	struct cql_token t = *cur(p);
	if (t.kind != CQL_TOK_EOF) {
		p->la_head = (p->la_head + 1) % LOOKAHEAD;
		p->la_n--;
		p->hist_off[p->hist_n % HISTORY] = t.pos.off;
		p->hist_n++;
		p->last_end = t.pos.off + t.len;
	}
	return t;
}

static inline bool at(struct parser *p, enum cql_tok_kind k)
{
	return cur(p)->kind == k;
}
static inline bool at_kw(struct parser *p, const char *kw)
{
	return cql_token_is_word(cur(p), kw);
}
static inline bool peek_kw(struct parser *p, unsigned k, const char *kw)
{
	return cql_token_is_word(peek(p, k), kw);
}

static inline bool accept(struct parser *p, enum cql_tok_kind k)
{
	if (!at(p, k))
		return false;
	next(p);
	return true;
}

static inline bool accept_kw(struct parser *p, const char *kw)
{
	if (!at_kw(p, kw))
		return false;
	next(p);
	return true;
}

static inline bool is_ident_tok(const struct cql_token *t)
{
	return t->kind == CQL_TOK_QIDENT ||
	       (t->kind == CQL_TOK_WORD && !cql_is_reserved(t->start, t->len) &&
	        !cql_token_is_word(t, "TRUE") && !cql_token_is_word(t, "FALSE"));
}

#define NEW(p, ptr)                                                                                \
	do {                                                                                       \
		(ptr) = alloc((p), sizeof(*(ptr)));                                                \
		if (!(ptr))                                                                        \
			return cqlp_oom(p);                                                        \
	} while (0)

#define PUSH(p, v, item) cqlp_vec_push((p), (v), &(item), sizeof(item))

/* ---- errors (Cassandra's wording: "line L:C mismatched input 'X' expecting Y (snippet)") ---- */

/* "mismatched input 'X' expecting WHAT" at the current token. */
int cqlp_expecting(struct parser *p, const char *what);
/* "no viable alternative at input 'X'" at the current token. */
int cqlp_no_viable(struct parser *p);
/* An error about a construct rather than a token ("line L:C message"). */
int cqlp_error_at_pos(struct parser *p, int code, struct cql_pos pos, const char *msg);
/* Consumes a token of kind k or a keyword kw, else says what was expected. */
int cqlp_expect(struct parser *p, enum cql_tok_kind k);
int cqlp_expect_kw(struct parser *p, const char *kw);
/* One level deeper into a nested rule; fails past CQL_MAX_DEPTH. */
int cqlp_enter(struct parser *p);
void cqlp_leave(struct parser *p);

/* ---- identifiers ---- */

/* An identifier from a WORD (folded) or QIDENT (unescaped) token. */
int cqlp_ident_from(struct parser *p, const struct cql_token *t, struct cql_ident *out);
int cqlp_ident(struct parser *p, struct cql_ident *out);
/* [ks.]name */
int cqlp_qname(struct parser *p, struct cql_qname *out);

/* ---- terms and types (cql_parse_term.c) ---- */

/* Copies s[0..n) into the arena as the term's text. */
int cqlp_set_text(struct parser *p, struct cql_term *t, const char *s, size_t n);
/* Comma-separated terms up to `close` (already past the opener). */
int cqlp_term_list(struct parser *p, enum cql_tok_kind close, const struct recv *item_recv,
                   struct cql_term ***items, uint32_t *n);
/* One term; its bind markers bind to r. */
int cqlp_term(struct parser *p, const struct recv *r, struct cql_term **out);
int cqlp_type(struct parser *p, struct cql_type **out);

/* ---- clauses (cql_parse_clause.c) ---- */

/* ( ident, ... ) after the '(' */
int cqlp_ident_list(struct parser *p, struct cql_ident **out, uint32_t *n);
/* relation { AND relation } */
int cqlp_relations(struct parser *p, struct cql_relation ***out, uint32_t *n);
/* [IF EXISTS | IF cond AND ...]: nothing when no IF follows */
int cqlp_conditions(struct parser *p, struct cql_conditions *c);
/* An integer literal (maybe negative) or a bind marker with the given role
 * (LIMIT, TTL, TIMESTAMP). */
int cqlp_int_value(struct parser *p, enum cql_bind_role role, struct cql_term **out);
/* USING TTL / TIMESTAMP, after the USING */
int cqlp_using_clause(struct parser *p, struct cql_using *u, bool ttl_ok);
/* column [ASC | DESC] { , ... } (ORDER BY, CLUSTERING ORDER BY), into a vec of
 * struct cql_ordering */
int cqlp_orderings(struct parser *p, struct vec *ord);
/* name = value AND ... ; also CLUSTERING ORDER BY and COMPACT STORAGE when ct
 * (CREATE TABLE). */
int cqlp_properties(struct parser *p, struct vec *opts, struct cql_create_table *ct);

/* ---- statements ---- */

/* A statement of `kind` at pos, made the current one (bind markers point to it). */
int cqlp_new_stmt(struct parser *p, enum cql_stmt_kind kind, struct cql_pos pos,
                  struct cql_stmt **out);
/* One statement; in a batch only INSERT, UPDATE and DELETE. */
int cqlp_statement(struct parser *p, struct cql_stmt **out, bool in_batch);
/* The body of each statement kind, after its first keyword (cql_parse_dml.c). */
int cqlp_select(struct parser *p, struct cql_stmt *st);
int cqlp_insert(struct parser *p, struct cql_stmt *st);
int cqlp_update(struct parser *p, struct cql_stmt *st);
int cqlp_delete(struct parser *p, struct cql_stmt *st);
int cqlp_batch(struct parser *p, struct cql_stmt *st);
/* CREATE / ALTER / DROP (cql_parse_ddl.c). */
int cqlp_ddl(struct parser *p, struct cql_stmt **out);
/* DESCRIBE / DESC, from that word on (cql_parse_describe.c). */
int cqlp_describe(struct parser *p, struct cql_stmt *st);
/* Roles and permissions (cql_parse_auth.c): CREATE/ALTER/DROP at ROLE or USER after the
 * verb; GRANT/REVOKE and LIST at the verb. */
int cqlp_role_ddl(struct parser *p, const struct cql_token *verb, struct cql_stmt **out);
int cqlp_grant(struct parser *p, struct cql_stmt **out);
int cqlp_list(struct parser *p, struct cql_stmt **out);
/* "line L:C WHAT is not supported" */
int cqlp_unsupported(struct parser *p, struct cql_pos pos, const char *what);

#endif
