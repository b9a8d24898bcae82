/*
 * cql_parse_tokens.c — the parser's machinery: arena allocation, the token
 * lookahead ring, Cassandra-worded error messages with a snippet of the
 * statement, identifiers (see cql_parser_int.h).
 */
#include "coordinator/cql/cql_parser_int.h"
#include "core/array.h"

#include <stdio.h>
#include <string.h>

#define SNIPPET_BEFORE 5 /* tokens shown before the offending one */

/* ------------------------------------------------------------ allocation */

int cqlp_oom(struct parser *p)
{
	return cerr_set(p->err, COL_ENOMEM,
	                "out of memory building the syntax tree (%zu bytes in use, bound %u)",
	                cql_arena_used(p->arena), CQL_ARENA_MAX_BYTES);
}

int cqlp_vec_push(struct parser *p, struct vec *v, const void *item, size_t esz)
{
	if (v->n == v->cap) {
		size_t cap = array_next_cap(v->cap, (size_t)v->n + 1);
		if (cap == 0 || cap > UINT32_MAX || cap > SIZE_MAX / esz)
			return cqlp_oom(p);
		void *items = alloc(p, cap * esz);
		if (!items)
			return cqlp_oom(p);
		if (v->n)
			memcpy(items, v->items, (size_t)v->n * esz);
		v->items = items;
		v->cap = (uint32_t)cap;
	}
	memcpy((char *)v->items + (size_t)v->n * esz, item, esz);
	v->n++;
	return 0;
}

void cqlp_fill(struct parser *p)
{
	struct cql_token *t = &p->la[(p->la_head + p->la_n) % LOOKAHEAD];
	if (p->lex_failed) {
		/* every token after a lexer error is the same bad EOF */
		memset(t, 0, sizeof(*t));
		t->kind = CQL_TOK_EOF;
		t->pos = p->lex_pos;
		t->start = p->text + p->lex_pos.off;
	} else {
		struct cql_lexer save = p->lx;
		if (cql_lexer_next(&p->lx, t, &p->lex_err)) {
			p->lex_failed = true;
			p->lex_pos.line = save.line;
			p->lex_pos.col = save.col;
			p->lex_pos.off = (uint32_t)save.off;
			memset(t, 0, sizeof(*t));
			t->kind = CQL_TOK_EOF;
			t->pos = p->lex_pos;
			t->start = p->text + save.off;
		}
	}
	p->la_n++;
}

/* ---------------------------------------------------------------- errors */

/* Append text[from..to) to out with control characters as spaces. */
static size_t put_clean(char *out, size_t cap, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		out[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	out[n] = '\0';
	return n;
}

/* Move a cut point back onto a UTF-8 character boundary. */
static size_t utf8_floor(const char *s, size_t i, size_t lo)
{
	while (i > lo && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	return i;
}

/* The token as the user wrote it, shortened, for "at input 'X'". */
static void token_text(const struct parser *p, const struct cql_token *t, char *out, size_t cap)
{
	if (t->kind == CQL_TOK_EOF) {
		snprintf(out, cap, "<EOF>");
		return;
	}
	(void)p;
	size_t len = t->len;
	bool cut = false;
	if (len > 40) {
		len = utf8_floor(t->start, 37, 0);
		cut = true;
	}
	size_t n = put_clean(out, cap, 0, t->start, len);
	if (cut)
		put_clean(out, cap, n, "...", 3);
}

/*
 * Cassandra's snippet: up to SNIPPET_BEFORE tokens before the offending one,
 * the offending token in [brackets], and one token after, with "..." where
 * the statement continues.
 */
static void snippet(struct parser *p, const struct cql_token *bad, char *out, size_t cap)
{
	size_t n = 0;
	size_t from = bad->pos.off;
	unsigned back = p->hist_n < SNIPPET_BEFORE ? p->hist_n : SNIPPET_BEFORE;
	if (back)
		from = p->hist_off[(p->hist_n - back) % HISTORY];
	if (from < p->stmt_start)
		from = p->stmt_start;
	if (from > bad->pos.off)
		from = bad->pos.off;
	if (from > p->stmt_start)
		n = put_clean(out, cap, n, "...", 3);
	size_t before = bad->pos.off - from;
	if (before > 80) {
		size_t cutp = utf8_floor(p->text, bad->pos.off - 80, from);
		n = put_clean(out, cap, n, "...", 3);
		from = cutp;
		before = bad->pos.off - from;
	}
	n = put_clean(out, cap, n, p->text + from, before);
	n = put_clean(out, cap, n, "[", 1);
	if (bad->kind != CQL_TOK_EOF) {
		char tt[64];
		token_text(p, bad, tt, sizeof(tt));
		n = put_clean(out, cap, n, tt, strlen(tt));
	}
	n = put_clean(out, cap, n, "]", 1);
	size_t end = bad->pos.off + bad->len;
	if (bad->kind != CQL_TOK_EOF && !is_bad(p, bad)) {
		/* one more token, if the lexer can read it */
		const struct cql_token *after = NULL;
		for (unsigned k = 0; k < p->la_n || k < 2; k++) {
			const struct cql_token *t = peek(p, k);
			if (t->pos.off > bad->pos.off) {
				after = t;
				break;
			}
			if (t->kind == CQL_TOK_EOF)
				break;
		}
		if (after && after->kind != CQL_TOK_EOF && after->len <= 40) {
			n = put_clean(out, cap, n, p->text + end,
			              after->pos.off + after->len - end);
			end = after->pos.off + after->len;
		}
	}
	/* anything but blanks, comments and ';' left? */
	bool more = false;
	for (size_t i = end; i < p->len; i++) {
		char c = p->text[i];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ';') {
			more = true;
			break;
		}
	}
	if (more)
		put_clean(out, cap, n, "...", 3);
}

static int syntax_error_at(struct parser *p, const struct cql_token *t, const char *fmt_msg)
{
	if (is_bad(p, t)) {
		cerr_set(p->err, p->lex_err.code, "%s", p->lex_err.msg);
		return p->lex_err.code;
	}
	char snip[256];
	if (t->kind == CQL_TOK_EOF && p->hist_n == 0) /* nothing to show */
		return cerr_set(p->err, COL_ESYNTAX, "line %u:%u %s (empty statement)", t->pos.line,
		                t->pos.col, fmt_msg);
	snippet(p, t, snip, sizeof(snip));
	return cerr_set(p->err, COL_ESYNTAX, "line %u:%u %s (%s)", t->pos.line, t->pos.col, fmt_msg,
	                snip);
}

/* "mismatched input 'X' expecting WHAT" at the current token. */
int cqlp_expecting(struct parser *p, const char *what)
{
	const struct cql_token *t = cur(p);
	char tt[64], msg[200];
	token_text(p, t, tt, sizeof(tt));
	snprintf(msg, sizeof(msg), "mismatched input '%s' expecting %s", tt, what);
	return syntax_error_at(p, t, msg);
}

/* "no viable alternative at input 'X'" at the current token. */
int cqlp_no_viable(struct parser *p)
{
	const struct cql_token *t = cur(p);
	char tt[64], msg[120];
	token_text(p, t, tt, sizeof(tt));
	snprintf(msg, sizeof(msg), "no viable alternative at input '%s'", tt);
	return syntax_error_at(p, t, msg);
}

/* An error about a construct rather than a token ("line L:C message"). */
int cqlp_error_at_pos(struct parser *p, int code, struct cql_pos pos, const char *msg)
{
	return cerr_set(p->err, code, "line %u:%u %s", pos.line, pos.col, msg);
}

int cqlp_expect(struct parser *p, enum cql_tok_kind k)
{
	if (accept(p, k))
		return 0;
	return cqlp_expecting(p, cql_tok_kind_name(k));
}

int cqlp_expect_kw(struct parser *p, const char *kw)
{
	if (accept_kw(p, kw))
		return 0;
	char what[40];
	snprintf(what, sizeof(what), "K_%s", kw);
	return cqlp_expecting(p, what);
}

int cqlp_enter(struct parser *p)
{
	if (++p->depth > CQL_MAX_DEPTH) {
		char msg[96];
		snprintf(msg, sizeof(msg), "nesting deeper than %d levels is not supported",
		         CQL_MAX_DEPTH);
		return cqlp_error_at_pos(p, COL_ESYNTAX, cur(p)->pos, msg);
	}
	return 0;
}

void cqlp_leave(struct parser *p)
{
	p->depth--;
}

/* ----------------------------------------------------------- identifiers */

/* Make an identifier from a WORD (folded) or QIDENT (unescaped) token. */
int cqlp_ident_from(struct parser *p, const struct cql_token *t, struct cql_ident *out)
{
	char *s = alloc(p, t->len + 1);
	if (!s)
		return cqlp_oom(p);
	if (t->kind == CQL_TOK_QIDENT) {
		cql_token_qident(t, s);
		out->quoted = true;
	} else {
		for (size_t i = 0; i < t->len; i++) {
			char c = t->start[i];
			s[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		}
		s[t->len] = '\0';
		out->quoted = false;
	}
	out->name = s;
	out->pos = t->pos;
	return 0;
}

int cqlp_ident(struct parser *p, struct cql_ident *out)
{
	const struct cql_token *t = cur(p);
	if (!is_ident_tok(t)) {
		if (t->kind == CQL_TOK_WORD) {
			char tt[64], msg[320];
			token_text(p, t, tt, sizeof(tt));
			snprintf(msg, sizeof(msg),
			         "mismatched input '%s' expecting IDENT ('%s' is a reserved "
			         "keyword; "
			         "quote it as \"%s\" to use it as a name)",
			         tt, tt, tt);
			return syntax_error_at(p, t, msg);
		}
		return cqlp_expecting(p, "IDENT");
	}
	struct cql_token tok = next(p);
	return cqlp_ident_from(p, &tok, out);
}

/* [ks.]name */
int cqlp_qname(struct parser *p, struct cql_qname *out)
{
	memset(out, 0, sizeof(*out));
	TRY(cqlp_ident(p, &out->name));
	if (accept(p, CQL_TOK_DOT)) {
		out->ks = out->name;
		TRY(cqlp_ident(p, &out->name));
	}
	return 0;
}
