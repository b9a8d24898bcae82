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
#include "coordinator/cql/cql_parser.h"
#include "coordinator/cql/cql_lexer.h"
#include "core/array.h"
#include "core/hex.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOOKAHEAD      4 /* ring size: the grammar peeks at most 3 tokens ahead */
#define HISTORY        8 /* consumed tokens remembered for error snippets */
#define SNIPPET_BEFORE 5 /* tokens shown before the offending one */

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
	const struct cql_relation *rel;
	uint32_t tuple_index;
	const struct cql_term *func;
	uint32_t arg_index;
};

static const struct recv RECV_OTHER = {.role = CQL_BIND_OTHER};

/* ------------------------------------------------------------ allocation */

static int oom(struct parser *p)
{
	return cerr_set(p->err, COL_ENOMEM,
	                "out of memory building the syntax tree (%zu bytes in use, bound %u)",
	                cql_arena_used(p->arena), CQL_ARENA_MAX_BYTES);
}

static void *alloc(struct parser *p, size_t n)
{
	return cql_arena_alloc(p->arena, n);
}

#define NEW(p, ptr)                                                                                \
	do {                                                                                       \
		(ptr) = alloc((p), sizeof(*(ptr)));                                                \
		if (!(ptr))                                                                        \
			return oom(p);                                                             \
	} while (0)

static int vec_push(struct parser *p, struct vec *v, const void *item, size_t esz)
{
	if (v->n == v->cap) {
		size_t cap = array_next_cap(v->cap, (size_t)v->n + 1);
		if (cap == 0 || cap > UINT32_MAX || cap > SIZE_MAX / esz)
			return oom(p);
		void *items = alloc(p, cap * esz);
		if (!items)
			return oom(p);
		if (v->n)
			memcpy(items, v->items, (size_t)v->n * esz);
		v->items = items;
		v->cap = (uint32_t)cap;
	}
	memcpy((char *)v->items + (size_t)v->n * esz, item, esz);
	v->n++;
	return 0;
}

#define PUSH(p, v, item) vec_push((p), (v), &(item), sizeof(item))

/* ---------------------------------------------------------------- tokens */

static void fill(struct parser *p)
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

static const struct cql_token *peek(struct parser *p, unsigned k)
{
	while (p->la_n <= k)
		fill(p);
	return &p->la[(p->la_head + k) % LOOKAHEAD];
}

static const struct cql_token *cur(struct parser *p)
{
	return peek(p, 0);
}

/* A token is "bad" when it stands for a lexer error. */
static bool is_bad(const struct parser *p, const struct cql_token *t)
{
	/* after a lexer error every token is the bad EOF; a real EOF cannot follow one */
	return p->lex_failed && t->kind == CQL_TOK_EOF;
}

static struct cql_token next(struct parser *p)
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

static bool at(struct parser *p, enum cql_tok_kind k)
{
	return cur(p)->kind == k;
}
static bool at_kw(struct parser *p, const char *kw)
{
	return cql_token_is_word(cur(p), kw);
}
static bool peek_kw(struct parser *p, unsigned k, const char *kw)
{
	return cql_token_is_word(peek(p, k), kw);
}

static bool accept(struct parser *p, enum cql_tok_kind k)
{
	if (!at(p, k))
		return false;
	next(p);
	return true;
}

static bool accept_kw(struct parser *p, const char *kw)
{
	if (!at_kw(p, kw))
		return false;
	next(p);
	return true;
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
static int expecting(struct parser *p, const char *what)
{
	const struct cql_token *t = cur(p);
	char tt[64], msg[200];
	token_text(p, t, tt, sizeof(tt));
	snprintf(msg, sizeof(msg), "mismatched input '%s' expecting %s", tt, what);
	return syntax_error_at(p, t, msg);
}

/* "no viable alternative at input 'X'" at the current token. */
static int no_viable(struct parser *p)
{
	const struct cql_token *t = cur(p);
	char tt[64], msg[120];
	token_text(p, t, tt, sizeof(tt));
	snprintf(msg, sizeof(msg), "no viable alternative at input '%s'", tt);
	return syntax_error_at(p, t, msg);
}

/* An error about a construct rather than a token ("line L:C message"). */
static int error_at_pos(struct parser *p, int code, struct cql_pos pos, const char *msg)
{
	return cerr_set(p->err, code, "line %u:%u %s", pos.line, pos.col, msg);
}

static int expect(struct parser *p, enum cql_tok_kind k)
{
	if (accept(p, k))
		return 0;
	return expecting(p, cql_tok_kind_name(k));
}

static int expect_kw(struct parser *p, const char *kw)
{
	if (accept_kw(p, kw))
		return 0;
	char what[40];
	snprintf(what, sizeof(what), "K_%s", kw);
	return expecting(p, what);
}

static int enter(struct parser *p)
{
	if (++p->depth > CQL_MAX_DEPTH) {
		char msg[96];
		snprintf(msg, sizeof(msg), "nesting deeper than %d levels is not supported",
		         CQL_MAX_DEPTH);
		return error_at_pos(p, COL_ESYNTAX, cur(p)->pos, msg);
	}
	return 0;
}

static void leave(struct parser *p)
{
	p->depth--;
}

/* ----------------------------------------------------------- identifiers */

static bool is_ident_tok(const struct cql_token *t)
{
	return t->kind == CQL_TOK_QIDENT ||
	       (t->kind == CQL_TOK_WORD && !cql_is_reserved(t->start, t->len) &&
	        !cql_token_is_word(t, "TRUE") && !cql_token_is_word(t, "FALSE"));
}

/* Make an identifier from a WORD (folded) or QIDENT (unescaped) token. */
static int ident_from(struct parser *p, const struct cql_token *t, struct cql_ident *out)
{
	char *s = alloc(p, t->len + 1);
	if (!s)
		return oom(p);
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

static int ident(struct parser *p, struct cql_ident *out)
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
		return expecting(p, "IDENT");
	}
	struct cql_token tok = next(p);
	return ident_from(p, &tok, out);
}

/* [ks.]name */
static int qname(struct parser *p, struct cql_qname *out)
{
	memset(out, 0, sizeof(*out));
	TRY(ident(p, &out->name));
	if (accept(p, CQL_TOK_DOT)) {
		out->ks = out->name;
		TRY(ident(p, &out->name));
	}
	return 0;
}

/* ----------------------------------------------------------------- terms */

static int add_bind(struct parser *p, struct cql_term *t, const struct recv *r)
{
	struct cql_bind b;
	memset(&b, 0, sizeof(b));
	b.index = p->binds.n;
	b.name = t->bind.name;
	b.pos = t->pos;
	b.role = r->role;
	b.op = r->op;
	b.column = r->column;
	b.rel = r->rel;
	b.tuple_index = r->tuple_index;
	b.func = r->func;
	b.arg_index = r->arg_index;
	b.term = t;
	b.stmt = p->cur_stmt;
	t->bind.index = b.index;
	return PUSH(p, &p->binds, b);
}

static int set_text(struct parser *p, struct cql_term *t, const char *s, size_t n)
{
	char *c = cql_arena_strndup(p->arena, s, n);
	if (!c)
		return oom(p);
	t->text = c;
	t->text_len = n;
	return 0;
}

/* INTEGER or FLOAT token, negated when `neg`. */
static int number(struct parser *p, struct cql_term *t, bool neg)
{
	struct cql_token tok = next(p);
	char *s = alloc(p, tok.len + 2);
	if (!s)
		return oom(p);
	size_t n = 0;
	if (neg)
		s[n++] = '-';
	memcpy(s + n, tok.start, tok.len);
	n += tok.len;
	s[n] = '\0';
	t->text = s;
	t->text_len = n;
	if (tok.kind == CQL_TOK_INTEGER) {
		t->kind = CQL_TERM_INTEGER;
		/* accumulate negatively so INT64_MIN fits */
		int64_t v = 0;
		bool fits = true;
		for (size_t i = 0; i < tok.len; i++) {
			int d = tok.start[i] - '0';
			if (v < (INT64_MIN + d) / 10) {
				fits = false;
				break;
			}
			v = v * 10 - d;
		}
		if (fits && !neg) {
			if (v == INT64_MIN)
				fits = false;
			else
				v = -v;
		}
		t->integer.fits = fits;
		t->integer.value = fits ? v : 0;
	} else {
		t->kind = CQL_TERM_FLOAT;
		t->flt = strtod(s, NULL); /* overflow gives +-HUGE_VAL: Cassandra's Infinity */
	}
	return 0;
}

static int term(struct parser *p, const struct recv *r, struct cql_term **out);

/* Comma-separated terms up to `close` (already past the opener). */
static int term_list(struct parser *p, enum cql_tok_kind close, const struct recv *item_recv,
                     struct cql_term ***items, uint32_t *n)
{
	struct vec v = {0};
	if (!at(p, close)) {
		for (;;) {
			struct cql_term *t = NULL;
			TRY(term(p, item_recv, &t));
			TRY(PUSH(p, &v, t));
			if (!accept(p, CQL_TOK_COMMA))
				break;
		}
	}
	TRY(expect(p, close));
	*items = v.items;
	*n = v.n;
	return 0;
}

static struct recv child_recv(const struct recv *r, enum cql_bind_role role)
{
	struct recv c = RECV_OTHER;
	if (r->role == CQL_BIND_COLUMN && r->column) {
		c.role = role;
		c.column = r->column;
		c.rel = r->rel;
		c.op = r->op;
	}
	return c;
}

static int collection(struct parser *p, const struct recv *r, struct cql_term *t)
{
	if (accept(p, CQL_TOK_LBRACKET)) {
		struct recv er = child_recv(r, CQL_BIND_ELEMENT);
		t->kind = CQL_TERM_LIST;
		return term_list(p, CQL_TOK_RBRACKET, &er, &t->coll.items, &t->coll.n_items);
	}
	TRY(expect(p, CQL_TOK_LBRACE));
	if (accept(p, CQL_TOK_RBRACE)) {
		t->kind = CQL_TERM_MAP; /* {} : an empty map, or an empty set */
		return 0;
	}
	struct recv er = child_recv(r, CQL_BIND_ELEMENT);
	struct recv kr = child_recv(r, CQL_BIND_MAP_KEY);
	struct recv vr = child_recv(r, CQL_BIND_MAP_VALUE);
	struct cql_term *first = NULL;
	/* the first item decides: a key (':' follows) or a set element; its bind
	 * role is fixed up once we know */
	uint32_t bind_mark = p->binds.n;
	TRY(term(p, &kr, &first));
	if (accept(p, CQL_TOK_COLON)) {
		struct vec keys = {0}, vals = {0};
		TRY(PUSH(p, &keys, first));
		for (bool more = true; more;) {
			struct cql_term *v;
			TRY(term(p, &vr, &v));
			TRY(PUSH(p, &vals, v));
			more = accept(p, CQL_TOK_COMMA);
			if (more) {
				struct cql_term *k;
				TRY(term(p, &kr, &k));
				TRY(PUSH(p, &keys, k));
				TRY(expect(p, CQL_TOK_COLON));
			}
		}
		TRY(expect(p, CQL_TOK_RBRACE));
		t->kind = CQL_TERM_MAP;
		t->map.keys = keys.items;
		t->map.values = vals.items;
		t->map.n_entries = keys.n;
		return 0;
	}
	/* a set: the first element's markers bind as elements, not keys */
	struct cql_bind *bs = p->binds.items;
	for (uint32_t i = bind_mark; i < p->binds.n; i++)
		if (bs[i].role == CQL_BIND_MAP_KEY && bs[i].term == first)
			bs[i].role = CQL_BIND_ELEMENT;
	struct vec items = {0};
	TRY(PUSH(p, &items, first));
	while (accept(p, CQL_TOK_COMMA)) {
		struct cql_term *e;
		TRY(term(p, &er, &e));
		TRY(PUSH(p, &items, e));
	}
	TRY(expect(p, CQL_TOK_RBRACE));
	t->kind = CQL_TERM_SET;
	t->coll.items = items.items;
	t->coll.n_items = items.n;
	return 0;
}

static int function_term(struct parser *p, struct cql_term *t)
{
	t->kind = CQL_TERM_FUNC;
	const struct cql_token *f = cur(p);
	if (cql_token_is_word(f, "TOKEN")) { /* reserved, yet a function name */
		struct cql_token tok = next(p);
		TRY(ident_from(p, &tok, &t->func.name.name));
	} else {
		TRY(qname(p, &t->func.name));
	}
	TRY(expect(p, CQL_TOK_LPAREN));
	struct vec args = {0};
	if (!at(p, CQL_TOK_RPAREN)) {
		for (;;) {
			struct recv ar = RECV_OTHER;
			ar.role = CQL_BIND_FUNC_ARG;
			ar.func = t;
			ar.arg_index = args.n;
			struct cql_term *a;
			TRY(term(p, &ar, &a));
			TRY(PUSH(p, &args, a));
			if (!accept(p, CQL_TOK_COMMA))
				break;
		}
	}
	TRY(expect(p, CQL_TOK_RPAREN));
	t->func.args = args.items;
	t->func.n_args = args.n;
	return 0;
}

static int term_inner(struct parser *p, const struct recv *r, struct cql_term *t)
{
	const struct cql_token *c = cur(p);
	t->pos = c->pos;
	switch (c->kind) {
	case CQL_TOK_QMARK:
		next(p);
		t->kind = CQL_TERM_BIND;
		return add_bind(p, t, r);
	case CQL_TOK_COLON: {
		next(p);
		struct cql_ident name = {0};
		TRY(ident(p, &name));
		t->kind = CQL_TERM_BIND;
		t->bind.name = name.name;
		return add_bind(p, t, r);
	}
	case CQL_TOK_STRING: {
		struct cql_token tok = next(p);
		char *s = alloc(p, tok.len + 1);
		if (!s)
			return oom(p);
		t->kind = CQL_TERM_STRING;
		t->text_len = cql_token_string(&tok, s);
		t->text = s;
		return 0;
	}
	case CQL_TOK_INTEGER:
	case CQL_TOK_FLOAT: return number(p, t, false);
	case CQL_TOK_MINUS: {
		const struct cql_token *n = peek(p, 1);
		bool adjacent = n->pos.off == c->pos.off + 1;
		if (adjacent && (n->kind == CQL_TOK_INTEGER || n->kind == CQL_TOK_FLOAT)) {
			next(p);
			return number(p, t, true);
		}
		if (adjacent && (cql_token_is_word(n, "NAN") || cql_token_is_word(n, "INFINITY"))) {
			next(p);
			bool nan = cql_token_is_word(cur(p), "NAN");
			next(p);
			t->kind = CQL_TERM_FLOAT;
			t->flt = nan ? NAN : -INFINITY;
			return nan ? set_text(p, t, "NaN", 3) : set_text(p, t, "-Infinity", 9);
		}
		return no_viable(p);
	}
	case CQL_TOK_UUID: {
		struct cql_token tok = next(p);
		t->kind = CQL_TERM_UUID;
		if (!uuid_parse(tok.start, tok.len, t->uuid))
			return error_at_pos(p, COL_ESYNTAX, tok.pos, "malformed uuid literal");
		return set_text(p, t, tok.start, tok.len);
	}
	case CQL_TOK_HEX: {
		struct cql_token tok = next(p);
		size_t digits = tok.len - 2;
		if (digits % 2) {
			char msg[128];
			snprintf(msg, sizeof(msg),
			         "blob literal %.*s%s has an odd number of hex digits (%zu)",
			         tok.len > 40 ? 40 : (int)tok.len, tok.start,
			         tok.len > 40 ? "..." : "", digits);
			return error_at_pos(p, COL_ESYNTAX, tok.pos, msg);
		}
		uint8_t *b = alloc(p, digits / 2 + 1);
		if (!b)
			return oom(p);
		if (!hex_decode(tok.start + 2, digits / 2, b))
			return error_at_pos(p, COL_ESYNTAX, tok.pos, "malformed blob literal");
		t->kind = CQL_TERM_BLOB;
		t->blob.data = b;
		t->blob.len = digits / 2;
		return set_text(p, t, tok.start, tok.len);
	}
	case CQL_TOK_LBRACKET:
	case CQL_TOK_LBRACE: return collection(p, r, t);
	case CQL_TOK_LPAREN: {
		next(p);
		t->kind = CQL_TERM_TUPLE;
		struct vec items = {0};
		for (;;) {
			struct recv ir = RECV_OTHER;
			if (r->role == CQL_BIND_MULTI && r->rel && items.n < r->rel->n_cols) {
				/* (c1, c2) op (?, ?): each element binds to its column */
				ir.role = CQL_BIND_COLUMN;
				ir.op = r->op;
				ir.rel = r->rel;
				ir.column = &r->rel->cols[items.n];
				ir.tuple_index = items.n;
			}
			struct cql_term *e;
			TRY(term(p, &ir, &e));
			TRY(PUSH(p, &items, e));
			if (!accept(p, CQL_TOK_COMMA))
				break;
		}
		TRY(expect(p, CQL_TOK_RPAREN));
		t->coll.items = items.items;
		t->coll.n_items = items.n;
		return 0;
	}
	case CQL_TOK_WORD:
		if (cql_token_is_word(c, "NULL")) {
			next(p);
			t->kind = CQL_TERM_NULL;
			return set_text(p, t, "null", 4);
		}
		if (cql_token_is_word(c, "TRUE") || cql_token_is_word(c, "FALSE")) {
			bool v = cql_token_is_word(c, "TRUE");
			next(p);
			t->kind = CQL_TERM_BOOL;
			t->boolean = v;
			return v ? set_text(p, t, "true", 4) : set_text(p, t, "false", 5);
		}
		if (cql_token_is_word(c, "NAN") || cql_token_is_word(c, "INFINITY")) {
			bool nan = cql_token_is_word(c, "NAN");
			next(p);
			t->kind = CQL_TERM_FLOAT;
			t->flt = nan ? NAN : INFINITY;
			return nan ? set_text(p, t, "NaN", 3) : set_text(p, t, "Infinity", 8);
		}
		if (cql_token_is_word(c, "TOKEN") && peek(p, 1)->kind == CQL_TOK_LPAREN)
			return function_term(p, t);
		__attribute__((fallthrough));
	case CQL_TOK_QIDENT:
		if (is_ident_tok(c) &&
		    (peek(p, 1)->kind == CQL_TOK_LPAREN ||
		     (peek(p, 1)->kind == CQL_TOK_DOT && is_ident_tok(peek(p, 2)) &&
		      peek(p, 3)->kind == CQL_TOK_LPAREN)))
			return function_term(p, t);
		return no_viable(p);
	default: return no_viable(p);
	}
}

static int term(struct parser *p, const struct recv *r, struct cql_term **out)
{
	TRY(enter(p));
	struct cql_term *t = NULL;
	NEW(p, t);
	TRY(term_inner(p, r, t));
	leave(p);
	*out = t;
	return 0;
}

/* ----------------------------------------------------------------- types */

/* Append a type-name part: unquoted names as they are (lower case, maybe a
 * reserved word such as `set`), quoted ones quoted again if they need it. */
static void type_part(struct buf *b, const char *name, bool quoted)
{
	if (quoted)
		cql_name_format(name, b);
	else
		buf_put_str(b, name);
}

/* ty->text = canonical spelling: [ks.]name<arg, arg> */
static int type_name_text(struct parser *p, struct cql_type *ty, const struct cql_ident *ks,
                          const struct cql_ident *name)
{
	struct buf b;
	buf_init(&b);
	if (ks) {
		type_part(&b, ks->name, ks->quoted);
		buf_put_u8(&b, '.');
	}
	type_part(&b, name->name, name->quoted);
	for (uint32_t i = 0; i < ty->n_args; i++) {
		buf_put_str(&b, i ? ", " : "<");
		buf_put_str(&b, ty->args[i]->text);
	}
	if (ty->n_args)
		buf_put_u8(&b, '>');
	char *s = buf_ok(&b) ? cql_arena_strndup(p->arena, (const char *)b.data, b.len) : NULL;
	buf_release(&b);
	if (!s)
		return oom(p);
	ty->text = s;
	return 0;
}

static int type(struct parser *p, struct cql_type **out)
{
	TRY(enter(p));
	struct cql_type *ty;
	NEW(p, ty);
	const struct cql_token *c = cur(p);
	ty->pos = c->pos;
	if (c->kind == CQL_TOK_STRING) {
		/* a custom type class: 'org.apache.cassandra.db.marshal.X' */
		struct cql_token tok = next(p);
		char *s = alloc(p, tok.len + 1);
		if (!s)
			return oom(p);
		cql_token_string(&tok, s);
		ty->name = s;
		/* text keeps the quotes so it cannot be mistaken for a native type */
		char *txt = cql_arena_strndup(p->arena, tok.start, tok.len);
		if (!txt)
			return oom(p);
		ty->text = txt;
		ty->quoted = true;
		leave(p);
		*out = ty;
		return 0;
	}
	struct cql_ident name = {0};
	if (c->kind == CQL_TOK_WORD) { /* type names may be reserved words: set<int> */
		struct cql_token tok = next(p);
		TRY(ident_from(p, &tok, &name));
	} else if (c->kind == CQL_TOK_QIDENT) {
		TRY(ident(p, &name));
	} else {
		return expecting(p, "a type (int, text, list<...>, ...)");
	}
	struct cql_ident ks = {0};
	bool dotted = false;
	if (accept(p, CQL_TOK_DOT)) {
		/* ks.usertype: name is "ks.usertype", as written */
		ks = name;
		dotted = true;
		TRY(ident(p, &name));
		size_t l1 = strlen(ks.name), l2 = strlen(name.name);
		char *s = alloc(p, l1 + l2 + 2);
		if (!s)
			return oom(p);
		memcpy(s, ks.name, l1);
		s[l1] = '.';
		memcpy(s + l1 + 1, name.name, l2 + 1);
		ty->name = s;
	} else {
		ty->name = name.name;
	}
	ty->quoted = name.quoted || ks.quoted;
	int want = -1; /* number of type arguments, -1 = none allowed, 0 = one or more */
	if (!ty->quoted && !dotted) {
		if (!strcmp(name.name, "list") || !strcmp(name.name, "set") ||
		    !strcmp(name.name, "frozen"))
			want = 1;
		else if (!strcmp(name.name, "map"))
			want = 2;
		else if (!strcmp(name.name, "tuple"))
			want = 0;
	}
	if (want >= 0) {
		if (!at(p, CQL_TOK_LT))
			return expecting(p, "'<'");
		next(p);
		struct vec args = {0};
		for (;;) {
			struct cql_type *a;
			TRY(type(p, &a));
			TRY(PUSH(p, &args, a));
			if (!accept(p, CQL_TOK_COMMA))
				break;
		}
		if (want > 0 && args.n != (uint32_t)want) {
			char msg[128];
			snprintf(msg, sizeof(msg), "%s takes %d type argument%s, not %u: %s",
			         name.name, want, want == 1 ? "" : "s", args.n,
			         want == 1 ? (strcmp(name.name, "frozen") ? "list<int>"
			                                                  : "frozen<list<int>>")
			                   : "map<text, int>");
			if (want == 1 && !strcmp(name.name, "set"))
				snprintf(msg, sizeof(msg),
				         "set takes 1 type argument, not %u: set<text>", args.n);
			return error_at_pos(p, COL_ESYNTAX, ty->pos, msg);
		}
		TRY(expect(p, CQL_TOK_GT));
		ty->args = args.items;
		ty->n_args = args.n;
	}
	TRY(type_name_text(p, ty, dotted ? &ks : NULL, &name));
	leave(p);
	*out = ty;
	return 0;
}

/* ------------------------------------------------------------- relations */

static enum cql_op comparison_op(const struct cql_token *t)
{
	switch (t->kind) {
	case CQL_TOK_EQ: return CQL_OP_EQ;
	case CQL_TOK_NEQ: return CQL_OP_NEQ;
	case CQL_TOK_LT: return CQL_OP_LT;
	case CQL_TOK_LTE: return CQL_OP_LTE;
	case CQL_TOK_GT: return CQL_OP_GT;
	case CQL_TOK_GTE: return CQL_OP_GTE;
	default: return CQL_OP_NONE;
	}
}

/* ( ident, ... ) after the '(' */
static int ident_list(struct parser *p, struct cql_ident **out, uint32_t *n)
{
	struct vec v = {0};
	for (;;) {
		struct cql_ident id = {0};
		TRY(ident(p, &id));
		TRY(PUSH(p, &v, id));
		if (!accept(p, CQL_TOK_COMMA))
			break;
	}
	TRY(expect(p, CQL_TOK_RPAREN));
	*out = v.items;
	*n = v.n;
	return 0;
}

static int relation(struct parser *p, struct cql_relation **out);

/* IN ( ... ) | IN ? for relation r; item role per element */
static int in_values(struct parser *p, struct cql_relation *r)
{
	bool multi = r->kind == CQL_REL_MULTI;
	if (at(p, CQL_TOK_QMARK) || at(p, CQL_TOK_COLON)) {
		struct recv br = RECV_OTHER;
		br.role = multi ? CQL_BIND_MULTI_IN_LIST : CQL_BIND_IN_LIST;
		br.op = CQL_OP_IN;
		br.rel = r;
		br.column = multi ? NULL : &r->cols[0];
		return term(p, &br, &r->term);
	}
	if (!at(p, CQL_TOK_LPAREN))
		return expecting(p, "'(' or a bind marker after IN");
	next(p);
	struct recv ir = RECV_OTHER;
	ir.op = CQL_OP_IN;
	ir.rel = r;
	if (multi) {
		ir.role = CQL_BIND_MULTI;
	} else {
		ir.role = CQL_BIND_COLUMN;
		ir.column = &r->cols[0];
	}
	return term_list(p, CQL_TOK_RPAREN, &ir, &r->in_items, &r->n_in);
}

static int relation_rhs(struct parser *p, struct cql_relation *r)
{
	const struct cql_token *o = cur(p);
	enum cql_op op = comparison_op(o);
	if (op != CQL_OP_NONE) {
		next(p);
	} else if (accept_kw(p, "IN")) {
		op = CQL_OP_IN;
	} else if (r->kind == CQL_REL_COLUMN && accept_kw(p, "CONTAINS")) {
		op = accept_kw(p, "KEY") ? CQL_OP_CONTAINS_KEY : CQL_OP_CONTAINS;
	} else if (r->kind == CQL_REL_COLUMN && accept_kw(p, "LIKE")) {
		op = CQL_OP_LIKE;
	} else {
		return expecting(p, "a comparison ('=', '<', '<=', '>', '>=', '!=', IN, CONTAINS)");
	}
	r->op = op;
	if (op == CQL_OP_IN)
		return in_values(p, r);
	struct recv rr = RECV_OTHER;
	rr.op = op;
	rr.rel = r;
	switch (r->kind) {
	case CQL_REL_COLUMN:
		rr.column = &r->cols[0];
		rr.role = op == CQL_OP_CONTAINS       ? CQL_BIND_ELEMENT
		          : op == CQL_OP_CONTAINS_KEY ? CQL_BIND_MAP_KEY
		                                      : CQL_BIND_COLUMN;
		break;
	case CQL_REL_ELEMENT:
		rr.column = &r->cols[0];
		rr.role = CQL_BIND_SUBSCRIPT_VALUE;
		break;
	case CQL_REL_MULTI: rr.role = CQL_BIND_MULTI; break;
	case CQL_REL_TOKEN: rr.role = CQL_BIND_TOKEN; break;
	}
	return term(p, &rr, &r->term);
}

static int relation_inner(struct parser *p, struct cql_relation **out)
{
	const struct cql_token *c = cur(p);
	if (c->kind == CQL_TOK_LPAREN) {
		/* (a, b) op ... is multi-column; (a = 1) is a parenthesized relation */
		const struct cql_token *t1 = peek(p, 1), *t2 = peek(p, 2);
		bool multi = is_ident_tok(t1) &&
		             (t2->kind == CQL_TOK_COMMA || t2->kind == CQL_TOK_RPAREN);
		if (!multi) {
			next(p);
			TRY(relation(p, out));
			return expect(p, CQL_TOK_RPAREN);
		}
	}
	struct cql_relation *r = NULL;
	NEW(p, r);
	r->pos = c->pos;
	if (c->kind == CQL_TOK_LPAREN) {
		next(p);
		r->kind = CQL_REL_MULTI;
		TRY(ident_list(p, &r->cols, &r->n_cols));
	} else if (cql_token_is_word(c, "TOKEN")) {
		next(p);
		r->kind = CQL_REL_TOKEN;
		TRY(expect(p, CQL_TOK_LPAREN));
		TRY(ident_list(p, &r->cols, &r->n_cols));
	} else {
		r->kind = CQL_REL_COLUMN;
		NEW(p, r->cols);
		r->n_cols = 1;
		TRY(ident(p, &r->cols[0]));
		if (accept(p, CQL_TOK_LBRACKET)) {
			r->kind = CQL_REL_ELEMENT;
			struct recv kr = RECV_OTHER;
			kr.role = CQL_BIND_SUBSCRIPT;
			kr.column = &r->cols[0];
			kr.rel = r;
			TRY(term(p, &kr, &r->key));
			TRY(expect(p, CQL_TOK_RBRACKET));
		}
	}
	TRY(relation_rhs(p, r));
	*out = r;
	return 0;
}

static int relation(struct parser *p, struct cql_relation **out)
{
	TRY(enter(p));
	TRY(relation_inner(p, out));
	leave(p);
	return 0;
}

/* rel AND rel ... */
static int relations(struct parser *p, struct cql_relation ***out, uint32_t *n)
{
	struct vec v = {0};
	do {
		struct cql_relation *r = NULL;
		TRY(relation(p, &r));
		TRY(PUSH(p, &v, r));
	} while (accept_kw(p, "AND"));
	*out = v.items;
	*n = v.n;
	return 0;
}

/* [IF EXISTS | IF cond AND ...] */
static int conditions(struct parser *p, struct cql_conditions *c)
{
	if (!accept_kw(p, "IF"))
		return 0;
	if (accept_kw(p, "EXISTS")) {
		c->if_exists = true;
		return 0;
	}
	return relations(p, &c->conds, &c->n_conds);
}

/* ------------------------------------------------------------- clauses */

static int int_value(struct parser *p, enum cql_bind_role role, struct cql_term **out)
{
	const struct cql_token *c = cur(p);
	bool neg_int = c->kind == CQL_TOK_MINUS && peek(p, 1)->kind == CQL_TOK_INTEGER;
	if (c->kind != CQL_TOK_INTEGER && c->kind != CQL_TOK_QMARK && c->kind != CQL_TOK_COLON &&
	    !neg_int)
		return expecting(p, "INTEGER or a bind marker");
	struct recv r = RECV_OTHER;
	r.role = role;
	return term(p, &r, out);
}

/* USING TTL n AND TIMESTAMP t (either order; `ttl_ok` false for DELETE/BATCH). */
static int using_clause(struct parser *p, struct cql_using *u, bool ttl_ok)
{
	if (!accept_kw(p, "USING"))
		return 0;
	do {
		const struct cql_token *c = cur(p);
		if (ttl_ok && cql_token_is_word(c, "TTL")) {
			if (u->ttl)
				return error_at_pos(p, COL_ESYNTAX, c->pos,
				                    "TTL given twice in USING");
			next(p);
			TRY(int_value(p, CQL_BIND_TTL, &u->ttl));
		} else if (cql_token_is_word(c, "TIMESTAMP")) {
			if (u->timestamp)
				return error_at_pos(p, COL_ESYNTAX, c->pos,
				                    "TIMESTAMP given twice in USING");
			next(p);
			TRY(int_value(p, CQL_BIND_TIMESTAMP, &u->timestamp));
		} else {
			return expecting(p, ttl_ok ? "K_TTL or K_TIMESTAMP" : "K_TIMESTAMP");
		}
	} while (accept_kw(p, "AND"));
	return 0;
}

/* WITH-option value: a constant, a map, or a bare word */
static int option_value(struct parser *p, struct cql_term **out)
{
	const struct cql_token *c = cur(p);
	if (c->kind == CQL_TOK_WORD && !cql_token_is_word(c, "TRUE") &&
	    !cql_token_is_word(c, "FALSE") && !cql_token_is_word(c, "NULL") &&
	    !cql_token_is_word(c, "NAN") && !cql_token_is_word(c, "INFINITY")) {
		struct cql_term *t = NULL;
		NEW(p, t);
		struct cql_token tok = next(p);
		t->kind = CQL_TERM_IDENT;
		t->pos = tok.pos;
		TRY(set_text(p, t, tok.start, tok.len));
		*out = t;
		return 0;
	}
	return term(p, &RECV_OTHER, out);
}

/* name = value AND ... ; also CLUSTERING ORDER BY and COMPACT STORAGE for tables. */
static int properties(struct parser *p, struct vec *opts, struct cql_create_table *ct)
{
	do {
		const struct cql_token *c = cur(p);
		if (ct && cql_token_is_word(c, "CLUSTERING") && peek_kw(p, 1, "ORDER")) {
			next(p);
			next(p);
			TRY(expect_kw(p, "BY"));
			TRY(expect(p, CQL_TOK_LPAREN));
			struct vec ord = {0};
			for (;;) {
				struct cql_ordering o = {0};
				TRY(ident(p, &o.column));
				if (accept_kw(p, "DESC"))
					o.desc = true;
				else
					accept_kw(p, "ASC");
				TRY(PUSH(p, &ord, o));
				if (!accept(p, CQL_TOK_COMMA))
					break;
			}
			TRY(expect(p, CQL_TOK_RPAREN));
			if (ct->n_clustering_order)
				return error_at_pos(p, COL_ESYNTAX, c->pos,
				                    "CLUSTERING ORDER BY given twice");
			ct->clustering_order = ord.items;
			ct->n_clustering_order = ord.n;
			continue;
		}
		if (ct && cql_token_is_word(c, "COMPACT") && peek_kw(p, 1, "STORAGE")) {
			next(p);
			next(p);
			ct->compact_storage = true;
			continue;
		}
		struct cql_option o = {0};
		TRY(ident(p, &o.name));
		TRY(expect(p, CQL_TOK_EQ));
		TRY(option_value(p, &o.value));
		for (uint32_t i = 0; i < opts->n; i++) {
			const struct cql_option *prev = (const struct cql_option *)opts->items + i;
			if (!strcmp(prev->name.name, o.name.name)) {
				char msg[160];
				snprintf(msg, sizeof(msg), "option '%.64s' given more than once",
				         o.name.name);
				return error_at_pos(p, COL_ESYNTAX, o.name.pos, msg);
			}
		}
		TRY(PUSH(p, opts, o));
	} while (accept_kw(p, "AND"));
	return 0;
}

/* ------------------------------------------------------------ statements */

static int new_stmt(struct parser *p, enum cql_stmt_kind kind, struct cql_pos pos,
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

static bool sel_word_is_column(struct parser *p)
{
	/* `SELECT distinct FROM t`: DISTINCT/JSON used as a column name */
	const struct cql_token *n = peek(p, 1);
	return n->kind == CQL_TOK_COMMA || cql_token_is_word(n, "FROM") ||
	       cql_token_is_word(n, "AS");
}

static int selector(struct parser *p, struct cql_selector *s);

static int selector_inner(struct parser *p, struct cql_selector *s)
{
	const struct cql_token *c = cur(p);
	s->pos = c->pos;
	bool call = peek(p, 1)->kind == CQL_TOK_LPAREN;
	if (call && cql_token_is_word(c, "COUNT") &&
	    (peek(p, 2)->kind == CQL_TOK_STAR ||
	     (peek(p, 2)->kind == CQL_TOK_INTEGER && peek(p, 3)->kind == CQL_TOK_RPAREN))) {
		next(p);
		next(p);
		struct cql_token arg = next(p);
		if (arg.kind == CQL_TOK_INTEGER && !(arg.len == 1 && arg.start[0] == '1')) {
			char msg[96];
			snprintf(msg, sizeof(msg),
			         "only COUNT(*) and COUNT(1) are supported, not COUNT(%.*s)",
			         arg.len > 20 ? 20 : (int)arg.len, arg.start);
			return error_at_pos(p, COL_ESYNTAX, arg.pos, msg);
		}
		s->kind = CQL_SEL_COUNT;
		return expect(p, CQL_TOK_RPAREN);
	}
	if (call && (cql_token_is_word(c, "WRITETIME") || cql_token_is_word(c, "TTL"))) {
		s->kind = cql_token_is_word(c, "TTL") ? CQL_SEL_TTL : CQL_SEL_WRITETIME;
		next(p);
		next(p);
		TRY(ident(p, &s->column));
		return expect(p, CQL_TOK_RPAREN);
	}
	bool qualified_call = is_ident_tok(c) && peek(p, 1)->kind == CQL_TOK_DOT &&
	                      is_ident_tok(peek(p, 2)) && peek(p, 3)->kind == CQL_TOK_LPAREN;
	if ((call && (is_ident_tok(c) || cql_token_is_word(c, "TOKEN"))) || qualified_call) {
		s->kind = CQL_SEL_FUNC;
		if (cql_token_is_word(c, "TOKEN")) {
			struct cql_token tok = next(p);
			TRY(ident_from(p, &tok, &s->func.name));
		} else {
			TRY(qname(p, &s->func));
		}
		TRY(expect(p, CQL_TOK_LPAREN));
		struct vec args = {0};
		if (!at(p, CQL_TOK_RPAREN)) {
			for (;;) {
				struct cql_selector a = {0};
				TRY(selector(p, &a));
				if (a.alias.name)
					return error_at_pos(
					        p, COL_ESYNTAX, a.alias.pos,
					        "AS is not allowed inside a function call");
				TRY(PUSH(p, &args, a));
				if (!accept(p, CQL_TOK_COMMA))
					break;
			}
		}
		TRY(expect(p, CQL_TOK_RPAREN));
		s->args = args.items;
		s->n_args = args.n;
		return 0;
	}
	if (is_ident_tok(c)) {
		s->kind = CQL_SEL_COLUMN;
		return ident(p, &s->column);
	}
	if (p->depth > 1) { /* a literal, only as a function argument */
		s->kind = CQL_SEL_TERM;
		return term(p, &RECV_OTHER, &s->term);
	}
	return no_viable(p);
}

static int selector(struct parser *p, struct cql_selector *s)
{
	TRY(enter(p));
	TRY(selector_inner(p, s));
	leave(p);
	if (p->depth == 0 && accept_kw(p, "AS"))
		TRY(ident(p, &s->alias));
	return 0;
}

static int parse_select(struct parser *p, struct cql_stmt *st)
{
	struct cql_select *q = &st->select;
	TRY(expect_kw(p, "SELECT"));
	if (at_kw(p, "JSON") && !sel_word_is_column(p)) {
		next(p);
		q->json = true;
	}
	if (at_kw(p, "DISTINCT") && !sel_word_is_column(p)) {
		next(p);
		q->distinct = true;
	}
	if (accept(p, CQL_TOK_STAR)) {
		q->star = true;
	} else {
		struct vec sels = {0};
		for (;;) {
			struct cql_selector s = {0};
			TRY(selector(p, &s));
			TRY(PUSH(p, &sels, s));
			if (!accept(p, CQL_TOK_COMMA))
				break;
		}
		q->selectors = sels.items;
		q->n_selectors = sels.n;
	}
	TRY(expect_kw(p, "FROM"));
	TRY(qname(p, &q->table));
	if (accept_kw(p, "WHERE"))
		TRY(relations(p, &q->where, &q->n_where));
	if (at_kw(p, "GROUP") && peek_kw(p, 1, "BY")) {
		cerr_set(p->err, COL_EUNSUPPORTED, "line %u:%u GROUP BY is not supported",
		         cur(p)->pos.line, cur(p)->pos.col);
		return COL_EUNSUPPORTED;
	}
	if (accept_kw(p, "ORDER")) {
		TRY(expect_kw(p, "BY"));
		struct vec ord = {0};
		for (;;) {
			struct cql_ordering o = {0};
			TRY(ident(p, &o.column));
			if (accept_kw(p, "DESC"))
				o.desc = true;
			else
				accept_kw(p, "ASC");
			TRY(PUSH(p, &ord, o));
			if (!accept(p, CQL_TOK_COMMA))
				break;
		}
		q->order_by = ord.items;
		q->n_order_by = ord.n;
	}
	if (at_kw(p, "PER")) {
		next(p);
		TRY(expect_kw(p, "PARTITION"));
		TRY(expect_kw(p, "LIMIT"));
		TRY(int_value(p, CQL_BIND_PER_PARTITION_LIMIT, &q->per_partition_limit));
	}
	if (accept_kw(p, "LIMIT"))
		TRY(int_value(p, CQL_BIND_LIMIT, &q->limit));
	if (accept_kw(p, "ALLOW")) {
		TRY(expect_kw(p, "FILTERING"));
		q->allow_filtering = true;
	}
	return 0;
}

static int parse_insert(struct parser *p, struct cql_stmt *st)
{
	struct cql_insert *q = &st->insert;
	TRY(expect_kw(p, "INSERT"));
	TRY(expect_kw(p, "INTO"));
	TRY(qname(p, &q->table));
	if (accept_kw(p, "JSON")) {
		q->json = true;
		NEW(p, q->values);
		TRY(term(p, &RECV_OTHER, &q->values[0]));
		if (accept_kw(p, "DEFAULT")) {
			if (!accept_kw(p, "NULL") && !accept_kw(p, "UNSET"))
				return expecting(p, "K_NULL or K_UNSET");
		}
	} else {
		TRY(expect(p, CQL_TOK_LPAREN));
		TRY(ident_list(p, &q->columns, &q->n_columns));
		struct cql_pos vpos = cur(p)->pos;
		TRY(expect_kw(p, "VALUES"));
		TRY(expect(p, CQL_TOK_LPAREN));
		struct vec vals = {0};
		for (;;) {
			struct recv r = RECV_OTHER;
			if (vals.n < q->n_columns) {
				r.role = CQL_BIND_COLUMN;
				r.column = &q->columns[vals.n];
			}
			struct cql_term *t = NULL;
			TRY(term(p, &r, &t));
			TRY(PUSH(p, &vals, t));
			if (!accept(p, CQL_TOK_COMMA))
				break;
		}
		TRY(expect(p, CQL_TOK_RPAREN));
		if (vals.n != q->n_columns) {
			char msg[128];
			snprintf(msg, sizeof(msg),
			         "Unmatched column names/values: %u columns but %u values",
			         q->n_columns, vals.n);
			return error_at_pos(p, COL_EINVAL, vpos, msg);
		}
		q->values = vals.items;
	}
	if (accept_kw(p, "IF")) {
		TRY(expect_kw(p, "NOT"));
		TRY(expect_kw(p, "EXISTS"));
		q->if_not_exists = true;
	}
	return using_clause(p, &q->using, true);
}

static int assignment(struct parser *p, struct cql_assignment *a)
{
	a->pos = cur(p)->pos;
	TRY(ident(p, &a->column));
	struct recv vr = RECV_OTHER;
	vr.role = CQL_BIND_COLUMN;
	vr.column = &a->column;
	if (accept(p, CQL_TOK_LBRACKET)) {
		a->kind = CQL_ASSIGN_ELEMENT;
		struct recv kr = RECV_OTHER;
		kr.role = CQL_BIND_SUBSCRIPT;
		kr.column = &a->column;
		TRY(term(p, &kr, &a->key));
		TRY(expect(p, CQL_TOK_RBRACKET));
		TRY(expect(p, CQL_TOK_EQ));
		vr.role = CQL_BIND_SUBSCRIPT_VALUE;
		return term(p, &vr, &a->value);
	}
	if (accept(p, CQL_TOK_PLUSEQ)) {
		a->kind = CQL_ASSIGN_ADD;
		return term(p, &vr, &a->value);
	}
	if (accept(p, CQL_TOK_MINUSEQ)) {
		a->kind = CQL_ASSIGN_SUB;
		return term(p, &vr, &a->value);
	}
	if (!at(p, CQL_TOK_EQ))
		return expecting(p, "'='");
	next(p);
	const struct cql_token *c = cur(p), *op = peek(p, 1);
	if (is_ident_tok(c) && (op->kind == CQL_TOK_PLUS || op->kind == CQL_TOK_MINUS)) {
		/* c = c + v / c = c - v */
		struct cql_ident same = {0};
		TRY(ident(p, &same));
		if (strcmp(same.name, a->column.name)) {
			char msg[200];
			snprintf(msg, sizeof(msg),
			         "only expressions of the form %.40s = %.40s + <value> are "
			         "supported "
			         "(found %.40s)",
			         a->column.name, a->column.name, same.name);
			return error_at_pos(p, COL_ESYNTAX, same.pos, msg);
		}
		a->kind = next(p).kind == CQL_TOK_PLUS ? CQL_ASSIGN_ADD : CQL_ASSIGN_SUB;
		return term(p, &vr, &a->value);
	}
	TRY(term(p, &vr, &a->value));
	a->kind = CQL_ASSIGN_SET;
	if (accept(p, CQL_TOK_PLUS)) {
		/* c = v + c (list prepend) */
		struct cql_ident same = {0};
		TRY(ident(p, &same));
		if (strcmp(same.name, a->column.name)) {
			char msg[200];
			snprintf(msg, sizeof(msg),
			         "only expressions of the form %.40s = <value> + %.40s are "
			         "supported "
			         "(found %.40s)",
			         a->column.name, a->column.name, same.name);
			return error_at_pos(p, COL_ESYNTAX, same.pos, msg);
		}
		a->kind = CQL_ASSIGN_PREPEND;
	}
	return 0;
}

static int parse_update(struct parser *p, struct cql_stmt *st)
{
	struct cql_update *q = &st->update;
	TRY(expect_kw(p, "UPDATE"));
	TRY(qname(p, &q->table));
	TRY(using_clause(p, &q->using, true));
	TRY(expect_kw(p, "SET"));
	struct vec as = {0};
	do {
		struct cql_assignment *a;
		NEW(p, a);
		TRY(assignment(p, a));
		TRY(PUSH(p, &as, a));
	} while (accept(p, CQL_TOK_COMMA));
	q->assignments = as.items;
	q->n_assignments = as.n;
	TRY(expect_kw(p, "WHERE"));
	TRY(relations(p, &q->where, &q->n_where));
	return conditions(p, &q->cond);
}

static int parse_delete(struct parser *p, struct cql_stmt *st)
{
	struct cql_delete *q = &st->del;
	TRY(expect_kw(p, "DELETE"));
	if (!at_kw(p, "FROM")) {
		struct vec ts = {0};
		do {
			struct cql_delete_target *t;
			NEW(p, t);
			TRY(ident(p, &t->column));
			if (accept(p, CQL_TOK_LBRACKET)) {
				struct recv kr = RECV_OTHER;
				kr.role = CQL_BIND_SUBSCRIPT;
				kr.column = &t->column;
				TRY(term(p, &kr, &t->key));
				TRY(expect(p, CQL_TOK_RBRACKET));
			}
			TRY(PUSH(p, &ts, t));
		} while (accept(p, CQL_TOK_COMMA));
		q->targets = ts.items;
		q->n_targets = ts.n;
	}
	TRY(expect_kw(p, "FROM"));
	TRY(qname(p, &q->table));
	TRY(using_clause(p, &q->using, false));
	TRY(expect_kw(p, "WHERE"));
	TRY(relations(p, &q->where, &q->n_where));
	return conditions(p, &q->cond);
}

static int parse_statement(struct parser *p, struct cql_stmt **out, bool in_batch);

static int parse_batch(struct parser *p, struct cql_stmt *st)
{
	struct cql_batch *q = &st->batch;
	TRY(expect_kw(p, "BEGIN"));
	if (accept_kw(p, "UNLOGGED"))
		q->type = CQL_BATCH_UNLOGGED;
	else if (accept_kw(p, "COUNTER"))
		q->type = CQL_BATCH_COUNTER;
	else if (accept_kw(p, "LOGGED"))
		q->type = CQL_BATCH_LOGGED;
	TRY(expect_kw(p, "BATCH"));
	TRY(using_clause(p, &q->using, false));
	struct vec stmts = {0};
	for (;;) {
		if (at_kw(p, "APPLY"))
			break;
		if (!at_kw(p, "INSERT") && !at_kw(p, "UPDATE") && !at_kw(p, "DELETE"))
			return expecting(p, "K_INSERT, K_UPDATE, K_DELETE or K_APPLY");
		struct cql_stmt *child;
		TRY(parse_statement(p, &child, true));
		TRY(PUSH(p, &stmts, child));
		p->cur_stmt = st;
		accept(p, CQL_TOK_SEMI);
	}
	next(p); /* APPLY */
	TRY(expect_kw(p, "BATCH"));
	q->stmts = stmts.items;
	q->n_stmts = stmts.n;
	return 0;
}

static int ks_if_not_exists(struct parser *p, bool *flag)
{
	if (at_kw(p, "IF") && peek_kw(p, 1, "NOT")) {
		next(p);
		next(p);
		TRY(expect_kw(p, "EXISTS"));
		*flag = true;
	}
	return 0;
}

static int ks_if_exists(struct parser *p, bool *flag)
{
	if (at_kw(p, "IF") && peek_kw(p, 1, "EXISTS")) {
		next(p);
		next(p);
		*flag = true;
	}
	return 0;
}

static int column_def(struct parser *p, struct cql_column_def *d)
{
	TRY(ident(p, &d->name));
	TRY(type(p, &d->type));
	if (accept_kw(p, "STATIC"))
		d->is_static = true;
	return 0;
}

static int create_table(struct parser *p, struct cql_stmt *st)
{
	struct cql_create_table *q = &st->create_table;
	TRY(ks_if_not_exists(p, &q->if_not_exists));
	TRY(qname(p, &q->table));
	TRY(expect(p, CQL_TOK_LPAREN));
	struct vec cols = {0}, pk = {0}, ck = {0};
	int n_pk_decl = 0;
	struct cql_pos second_pk = {0};
	for (;;) {
		if (at(p, CQL_TOK_RPAREN) && cols.n > 0)
			break; /* a trailing comma before ')' */
		if (at_kw(p, "PRIMARY")) {
			struct cql_pos ppos = cur(p)->pos;
			next(p);
			TRY(expect_kw(p, "KEY"));
			TRY(expect(p, CQL_TOK_LPAREN));
			if (++n_pk_decl == 2)
				second_pk = ppos;
			pk.n = ck.n = 0;
			if (accept(p, CQL_TOK_LPAREN)) {
				struct cql_ident *ids;
				uint32_t n;
				TRY(ident_list(p, &ids, &n));
				for (uint32_t i = 0; i < n; i++)
					TRY(PUSH(p, &pk, ids[i]));
			} else {
				struct cql_ident id = {0};
				TRY(ident(p, &id));
				TRY(PUSH(p, &pk, id));
			}
			while (accept(p, CQL_TOK_COMMA)) {
				struct cql_ident id = {0};
				TRY(ident(p, &id));
				TRY(PUSH(p, &ck, id));
			}
			TRY(expect(p, CQL_TOK_RPAREN));
		} else {
			struct cql_column_def d = {0};
			TRY(column_def(p, &d));
			if (at_kw(p, "PRIMARY")) {
				struct cql_pos ppos = cur(p)->pos;
				next(p);
				TRY(expect_kw(p, "KEY"));
				if (++n_pk_decl == 2)
					second_pk = ppos;
				pk.n = ck.n = 0;
				TRY(PUSH(p, &pk, d.name));
			}
			TRY(PUSH(p, &cols, d));
		}
		if (!accept(p, CQL_TOK_COMMA))
			break;
	}
	TRY(expect(p, CQL_TOK_RPAREN));
	if (n_pk_decl > 1)
		return error_at_pos(p, COL_EINVAL, second_pk,
		                    "Multiple PRIMARY KEYs specified (exactly one required)");
	if (n_pk_decl == 0)
		return error_at_pos(p, COL_EINVAL, st->pos,
		                    "No PRIMARY KEY specified (exactly one required)");
	q->columns = cols.items;
	q->n_columns = cols.n;
	q->partition_key = pk.items;
	q->n_partition_key = pk.n;
	q->clustering_key = ck.items;
	q->n_clustering_key = ck.n;
	if (accept_kw(p, "WITH")) {
		struct vec opts = {0};
		TRY(properties(p, &opts, q));
		q->options = opts.items;
		q->n_options = opts.n;
	}
	return 0;
}

static int alter_table(struct parser *p, struct cql_stmt *st)
{
	struct cql_alter_table *q = &st->alter_table;
	TRY(ks_if_exists(p, &q->if_exists));
	TRY(qname(p, &q->table));
	if (accept_kw(p, "ADD")) {
		q->kind = CQL_ALTER_ADD;
		struct vec defs = {0};
		if (accept(p, CQL_TOK_LPAREN)) {
			do {
				struct cql_column_def d = {0};
				TRY(column_def(p, &d));
				TRY(PUSH(p, &defs, d));
			} while (accept(p, CQL_TOK_COMMA));
			TRY(expect(p, CQL_TOK_RPAREN));
		} else {
			struct cql_column_def d = {0};
			TRY(column_def(p, &d));
			TRY(PUSH(p, &defs, d));
		}
		q->add = defs.items;
		q->n_add = defs.n;
	} else if (accept_kw(p, "DROP")) {
		q->kind = CQL_ALTER_DROP;
		if (accept(p, CQL_TOK_LPAREN)) {
			TRY(ident_list(p, &q->drop, &q->n_drop));
		} else {
			NEW(p, q->drop);
			q->n_drop = 1;
			TRY(ident(p, &q->drop[0]));
		}
	} else if (accept_kw(p, "WITH")) {
		q->kind = CQL_ALTER_WITH;
		struct vec opts = {0};
		TRY(properties(p, &opts, NULL));
		q->options = opts.items;
		q->n_options = opts.n;
	} else if (accept_kw(p, "RENAME")) {
		q->kind = CQL_ALTER_RENAME;
		struct vec from = {0}, to = {0};
		do {
			struct cql_ident a = {0}, b = {0};
			TRY(ident(p, &a));
			TRY(expect_kw(p, "TO"));
			TRY(ident(p, &b));
			TRY(PUSH(p, &from, a));
			TRY(PUSH(p, &to, b));
		} while (accept_kw(p, "AND"));
		q->rename_from = from.items;
		q->rename_to = to.items;
		q->n_rename = from.n;
	} else if (accept_kw(p, "ALTER")) {
		q->kind = CQL_ALTER_TYPE;
		NEW(p, q->add);
		q->n_add = 1;
		TRY(ident(p, &q->add[0].name));
		TRY(expect_kw(p, "TYPE"));
		TRY(type(p, &q->add[0].type));
	} else {
		return expecting(p, "K_ADD, K_DROP, K_WITH, K_RENAME or K_ALTER");
	}
	return 0;
}

static int unsupported(struct parser *p, struct cql_pos pos, const char *what)
{
	return cerr_set(p->err, COL_EUNSUPPORTED, "line %u:%u %s is not supported by colonnade",
	                pos.line, pos.col, what);
}

/* CREATE/ALTER/DROP + object */
static int parse_ddl(struct parser *p, struct cql_stmt **out)
{
	struct cql_token verb = next(p);
	bool create = cql_token_is_word(&verb, "CREATE"), alter = cql_token_is_word(&verb, "ALTER");
	const struct cql_token *obj = cur(p);
	struct cql_stmt *st = NULL;
	if (cql_token_is_word(obj, "KEYSPACE") || cql_token_is_word(obj, "SCHEMA")) {
		next(p);
		TRY(new_stmt(p,
		             create  ? CQL_STMT_CREATE_KEYSPACE
		             : alter ? CQL_STMT_ALTER_KEYSPACE
		                     : CQL_STMT_DROP_KEYSPACE,
		             verb.pos, &st));
		struct cql_keyspace_stmt *q = &st->keyspace;
		if (create)
			TRY(ks_if_not_exists(p, &q->if_not_exists));
		else
			TRY(ks_if_exists(p, &q->if_exists));
		TRY(ident(p, &q->keyspace));
		if (create || alter) {
			TRY(expect_kw(p, "WITH"));
			struct vec opts = {0};
			TRY(properties(p, &opts, NULL));
			q->options = opts.items;
			q->n_options = opts.n;
		}
		*out = st;
		return 0;
	}
	if (cql_token_is_word(obj, "TABLE") || cql_token_is_word(obj, "COLUMNFAMILY")) {
		next(p);
		TRY(new_stmt(p,
		             create  ? CQL_STMT_CREATE_TABLE
		             : alter ? CQL_STMT_ALTER_TABLE
		                     : CQL_STMT_DROP_TABLE,
		             verb.pos, &st));
		*out = st;
		if (create)
			return create_table(p, st);
		if (alter)
			return alter_table(p, st);
		TRY(ks_if_exists(p, &st->drop_table.if_exists));
		return qname(p, &st->drop_table.table);
	}
	static const char *const others[] = {
	        "INDEX",   "TYPE", "FUNCTION", "AGGREGATE", "MATERIALIZED",
	        "TRIGGER", "ROLE", "USER",     "CUSTOM",    "OR",
	};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		if (cql_token_is_word(obj, others[i])) {
			char what[64];
			snprintf(what, sizeof(what), "%s %s",
			         create  ? "CREATE"
			         : alter ? "ALTER"
			                 : "DROP",
			         !strcmp(others[i], "MATERIALIZED") ? "MATERIALIZED VIEW"
			         : !strcmp(others[i], "CUSTOM")     ? "CUSTOM INDEX"
			         : !strcmp(others[i], "OR")         ? "OR REPLACE"
			                                            : others[i]);
			return unsupported(p, verb.pos, what);
		}
	}
	return expecting(p, "K_KEYSPACE or K_TABLE");
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
		fn = parse_select;
	} else if (cql_token_is_word(c, "INSERT")) {
		kind = CQL_STMT_INSERT;
		fn = parse_insert;
	} else if (cql_token_is_word(c, "UPDATE")) {
		kind = CQL_STMT_UPDATE;
		fn = parse_update;
	} else if (cql_token_is_word(c, "DELETE")) {
		kind = CQL_STMT_DELETE;
		fn = parse_delete;
	} else if (in_batch) {
		return expecting(p, "K_INSERT, K_UPDATE, K_DELETE or K_APPLY");
	} else if (cql_token_is_word(c, "BEGIN")) {
		kind = CQL_STMT_BATCH;
		fn = parse_batch;
	}
	if (fn) {
		TRY(new_stmt(p, kind, pos, &st));
		TRY(fn(p, st));
	} else if (cql_token_is_word(c, "USE")) {
		next(p);
		TRY(new_stmt(p, CQL_STMT_USE, pos, &st));
		TRY(ident(p, &st->use.keyspace));
	} else if (cql_token_is_word(c, "TRUNCATE")) {
		next(p);
		TRY(new_stmt(p, CQL_STMT_TRUNCATE, pos, &st));
		if (!accept_kw(p, "TABLE"))
			accept_kw(p, "COLUMNFAMILY");
		TRY(qname(p, &st->truncate.table));
	} else if (cql_token_is_word(c, "CREATE") || cql_token_is_word(c, "ALTER") ||
	           cql_token_is_word(c, "DROP")) {
		TRY(parse_ddl(p, &st));
	} else {
		static const char *const others[] = {"GRANT", "REVOKE", "LIST", "DESCRIBE", "DESC"};
		for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
			if (cql_token_is_word(c, others[i])) {
				char what[32];
				snprintf(what, sizeof(what), "%s (on the server)", others[i]);
				return unsupported(p, pos, what);
			}
		return no_viable(p);
	}
	/* the statement's own text */
	size_t end = p->last_end > start ? p->last_end : start;
	char *txt = cql_arena_strndup(p->arena, p->text + start, end - start);
	if (!txt)
		return oom(p);
	st->text = txt;
	st->text_len = end - start;
	st->n_binds = p->binds.n; /* for now: the running total; fixed up by the caller */
	*out = st;
	return 0;
}

static int parse_statement(struct parser *p, struct cql_stmt **out, bool in_batch)
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
	TRY(parse_statement(&p, &st, false));
	accept(&p, CQL_TOK_SEMI);
	if (!at(&p, CQL_TOK_EOF) || p.lex_failed)
		return expecting(&p, "EOF");
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
	TRY(parse_statement(&p, &st, false));
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
		return expecting(&p, "';'");
	}
	finish_binds(&p, st);
	*out = st;
	cur_->off = endpos.off;
	cur_->line = endpos.line;
	cur_->col = endpos.col;
	return 0;
}
