/*
 * cql_parser.c — recursive-descent parser for cqlish (see cql_parser.h).
 *
 * Structure: one function per grammar rule, each returning 0 or a negative
 * COL_E* code with p->err filled; TRY() propagates.  Tokens come from a small
 * lookahead ring over the lexer (the grammar needs at most 3 tokens of
 * lookahead).  A lexer error is latched and surfaces as a special EOF token so
 * that whichever rule meets it reports the lexer's message, which names the
 * real problem (an unterminated string, a stray character).
 */
#include "coordinator/cql/cql_parser_int.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ statements */

int cqlp_new_stmt(struct parser *p, enum cql_stmt_kind kind, struct cql_pos pos,
                  struct cql_stmt **out)
{
	struct cql_stmt *s;
	NEW(p, s);
	s->kind = kind;
	s->pos = pos;
	p->cur_stmt = s;
	*out = s;
	return 0;
}

static int parse_statement_inner(struct parser *p, struct cql_stmt **out, bool in_batch)
{
	const struct cql_token *c = cur(p);
	struct cql_pos pos = c->pos;
	size_t start = c->pos.off;
	struct cql_stmt *st = NULL;
	enum cql_stmt_kind kind = 0;
	int (*fn)(struct parser *, struct cql_stmt *) = NULL;
	if (cql_token_is_word(c, "SELECT") && !in_batch) {
		kind = CQL_STMT_SELECT;
		fn = cqlp_select;
	} else if (cql_token_is_word(c, "INSERT")) {
		kind = CQL_STMT_INSERT;
		fn = cqlp_insert;
	} else if (cql_token_is_word(c, "UPDATE")) {
		kind = CQL_STMT_UPDATE;
		fn = cqlp_update;
	} else if (cql_token_is_word(c, "DELETE")) {
		kind = CQL_STMT_DELETE;
		fn = cqlp_delete;
	} else if (in_batch) {
		return cqlp_expecting(p, "K_INSERT, K_UPDATE, K_DELETE or K_APPLY");
	} else if (cql_token_is_word(c, "BEGIN")) {
		kind = CQL_STMT_BATCH;
		fn = cqlp_batch;
	} else if (cql_token_is_word(c, "DESCRIBE") || cql_token_is_word(c, "DESC")) {
		kind = CQL_STMT_DESCRIBE;
		fn = cqlp_describe;
	}
	if (fn) {
		TRY(cqlp_new_stmt(p, kind, pos, &st));
		TRY(fn(p, st));
	} else if (cql_token_is_word(c, "USE")) {
		next(p);
		TRY(cqlp_new_stmt(p, CQL_STMT_USE, pos, &st));
		TRY(cqlp_ident(p, &st->use.keyspace));
	} else if (cql_token_is_word(c, "TRUNCATE")) {
		next(p);
		TRY(cqlp_new_stmt(p, CQL_STMT_TRUNCATE, pos, &st));
		if (!accept_kw(p, "TABLE"))
			accept_kw(p, "COLUMNFAMILY");
		TRY(cqlp_qname(p, &st->truncate.table));
	} else if (cql_token_is_word(c, "CREATE") || cql_token_is_word(c, "ALTER") ||
	           cql_token_is_word(c, "DROP")) {
		TRY(cqlp_ddl(p, &st));
	} else if (cql_token_is_word(c, "GRANT") || cql_token_is_word(c, "REVOKE")) {
		TRY(cqlp_grant(p, &st));
	} else if (cql_token_is_word(c, "LIST")) {
		TRY(cqlp_list(p, &st));
	} else {
		return cqlp_no_viable(p);
	}
	/* the statement's own text */
	size_t end = p->last_end > start ? p->last_end : start;
	char *txt = cql_arena_strndup(p->arena, p->text + start, end - start);
	if (!txt)
		return cqlp_oom(p);
	st->text = txt;
	st->text_len = end - start;
	st->n_binds = p->binds.n; /* the running total so far; the caller fixes it up */
	*out = st;
	return 0;
}

int cqlp_statement(struct parser *p, struct cql_stmt **out, bool in_batch)
{
	uint32_t first = p->binds.n;
	TRY(parse_statement_inner(p, out, in_batch));
	(*out)->n_binds = p->binds.n - first;
	return 0;
}

/* Point every statement's bind slice into the final array. */
static void finish_binds(struct parser *p, struct cql_stmt *st)
{
	st->binds = p->binds.items;
	st->n_binds = p->binds.n;
	if (st->kind == CQL_STMT_BATCH) {
		/* children's markers follow the batch's own (USING) ones, in order */
		struct cql_bind *b = p->binds.items;
		uint32_t at = 0;
		for (uint32_t i = 0; i < st->batch.n_stmts; i++) {
			struct cql_stmt *c = st->batch.stmts[i];
			if (!c->n_binds) {
				c->binds = NULL;
				continue;
			}
			while (b[at].stmt != c)
				at++;
			c->binds = b + at;
			at += c->n_binds;
		}
	}
	if (!st->n_binds)
		st->binds = NULL;
}

static void parser_init(struct parser *p, struct cql_arena *arena, const char *text, size_t len,
                        struct cerr *err)
{
	memset(p, 0, sizeof(*p));
	p->arena = arena;
	p->err = err;
	p->text = text;
	p->len = len;
	cql_lexer_init(&p->lx, text, len);
}

int cql_parse(struct cql_arena *arena, const char *text, size_t len, struct cql_stmt **out,
              struct cerr *err)
{
	if (!text)
		text = "";
	if (len > CQL_MAX_TEXT)
		return cerr_set(err, COL_ETOOBIG,
		                "statement of %zu bytes is longer than the %u bytes allowed", len,
		                CQL_MAX_TEXT);
	struct parser p;
	parser_init(&p, arena, text, len, err);
	struct cql_stmt *st = NULL;
	TRY(cqlp_statement(&p, &st, false));
	accept(&p, CQL_TOK_SEMI);
	if (!at(&p, CQL_TOK_EOF) || p.lex_failed)
		return cqlp_expecting(&p, "EOF");
	finish_binds(&p, st);
	*out = st;
	return 0;
}

int cql_parse_next(struct cql_arena *arena, const char *text, size_t len, struct cql_cursor *cur_,
                   struct cql_stmt **out, struct cerr *err)
{
	if (!text)
		text = "";
	if (len > (1u << 30))
		return cerr_set(err, COL_ETOOBIG,
		                "script of %zu bytes is longer than the 1 GiB allowed", len);
	if (cur_->off > len)
		return cerr_set(err, COL_EINVAL, "cursor offset %zu is past the end (%zu)",
		                cur_->off, len);
	struct parser p;
	parser_init(&p, arena, text, len, err);
	p.lx.off = cur_->off;
	p.lx.line = cur_->line ? cur_->line : 1;
	p.lx.col = cur_->col;
	p.stmt_start = cur_->off;
	while (accept(&p, CQL_TOK_SEMI))
		;
	if (at(&p, CQL_TOK_EOF) && !p.lex_failed) {
		*out = NULL;
		cur_->off = len;
		cur_->line = p.lx.line;
		cur_->col = p.lx.col;
		return 0;
	}
	p.stmt_start = cur(&p)->pos.off;
	struct cql_stmt *st = NULL;
	TRY(cqlp_statement(&p, &st, false));
	if (st->text_len > CQL_MAX_TEXT)
		return cerr_set(
		        err, COL_ETOOBIG,
		        "line %u:%u statement of %zu bytes is longer than the %u bytes allowed",
		        st->pos.line, st->pos.col, st->text_len, CQL_MAX_TEXT);
	struct cql_pos endpos;
	if (at(&p, CQL_TOK_SEMI) && !is_bad(&p, cur(&p))) {
		struct cql_token semi = next(&p);
		endpos = semi.pos;
		endpos.off += 1;
		endpos.col += 1;
	} else if (at(&p, CQL_TOK_EOF) && !p.lex_failed) {
		endpos = cur(&p)->pos;
	} else {
		return cqlp_expecting(&p, "';'");
	}
	finish_binds(&p, st);
	*out = st;
	cur_->off = endpos.off;
	cur_->line = endpos.line;
	cur_->col = endpos.col;
	return 0;
}
