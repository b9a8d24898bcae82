/*
 * cql_parse_term.c — terms (literals, bind markers, collections, tuples,
 * function calls) and CQL types (see cql_parser_int.h).
 */
#include "coordinator/cql/cql_parser_int.h"
#include "core/hex.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	b.field = r->field;
	b.step = r->step;
	b.rel = r->rel;
	b.tuple_index = r->tuple_index;
	b.func = r->func;
	b.arg_index = r->arg_index;
	b.term = t;
	b.stmt = p->cur_stmt;
	t->bind.index = b.index;
	return PUSH(p, &p->binds, b);
}

int cqlp_set_text(struct parser *p, struct cql_term *t, const char *s, size_t n)
{
	char *c = cql_arena_strndup(p->arena, s, n);
	if (!c)
		return cqlp_oom(p);
	t->text = c;
	t->text_len = n;
	return 0;
}

/* INTEGER, FLOAT or DURATION token, negated when `neg`. */
static int number(struct parser *p, struct cql_term *t, bool neg)
{
	struct cql_token tok = next(p);
	char *s = alloc(p, tok.len + 2);
	if (!s)
		return cqlp_oom(p);
	size_t n = 0;
	if (neg)
		s[n++] = '-';
	memcpy(s + n, tok.start, tok.len);
	n += tok.len;
	s[n] = '\0';
	t->text = s;
	t->text_len = n;
	if (tok.kind == CQL_TOK_DURATION) {
		t->kind = CQL_TERM_DURATION;
		return 0;
	}
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

/* How the items of a sequence bind: all alike (a list, IN values), as the
 * arguments of a function, or as the elements of a tuple (which bind to
 * the columns one by one after a multi-column relation). */
enum items_kind { ITEMS_ALIKE, ITEMS_FUNC_ARGS, ITEMS_TUPLE };

struct items_recv {
	enum items_kind kind;
	const struct recv *r;        /* ITEMS_ALIKE: every item's; ITEMS_TUPLE: the tuple's */
	const struct cql_term *func; /* ITEMS_FUNC_ARGS */
};

static int child_recv(struct parser *p, const struct recv *r, enum cql_bind_role role,
                      enum cql_bind_step_kind kind, const struct cql_ident *field, uint32_t index,
                      struct recv *out);

/* The receiver of item i of a sequence. */
static int item_recv_at(struct parser *p, const struct items_recv *ir, uint32_t i, struct recv *out)
{
	struct recv c = RECV_OTHER;
	switch (ir->kind) {
	case ITEMS_ALIKE: c = *ir->r; break;
	case ITEMS_FUNC_ARGS:
		c.role = CQL_BIND_FUNC_ARG;
		c.func = ir->func;
		c.arg_index = i;
		break;
	case ITEMS_TUPLE:
		if (ir->r->role == CQL_BIND_MULTI && ir->r->rel && i < ir->r->rel->n_cols) {
			/* (c1, c2) op (?, ?): each element binds to its column */
			c.role = CQL_BIND_COLUMN;
			c.op = ir->r->op;
			c.rel = ir->r->rel;
			c.column = &ir->r->rel->cols[i];
			c.tuple_index = i;
		} else if (ir->r->role != CQL_BIND_MULTI) { /* an item of a tuple value */
			return child_recv(p, ir->r, CQL_BIND_NESTED, CQL_STEP_ITEM, NULL, i, out);
		}
		break;
	}
	*out = c;
	return 0;
}

/* Comma-separated terms up to `close` (already past the opener), appended
 * to v; none at all only if may_be_empty. */
static int term_items(struct parser *p, enum cql_tok_kind close, bool may_be_empty,
                      const struct items_recv *ir, struct vec *v)
{
	if (!may_be_empty || !at(p, close)) {
		for (;;) {
			struct recv r;
			TRY(item_recv_at(p, ir, v->n, &r));
			struct cql_term *t = NULL;
			TRY(cqlp_term(p, &r, &t));
			TRY(PUSH(p, v, t));
			if (!accept(p, CQL_TOK_COMMA))
				break;
		}
	}
	return cqlp_expect(p, close);
}

int cqlp_term_list(struct parser *p, enum cql_tok_kind close, const struct recv *item_recv,
                   struct cql_term ***items, uint32_t *n)
{
	struct items_recv ir = {.kind = ITEMS_ALIKE, .r = item_recv};
	struct vec v = {0};
	TRY(term_items(p, close, true, &ir, &v));
	*items = v.items;
	*n = v.n;
	return 0;
}

/* The step that names r's part of its column, made from its role when r is a first-level
 * part; NULL when r is not a part of a column's value (or out of memory: *oom). */
static const struct cql_bind_step *own_step(struct parser *p, const struct recv *r, bool *oom)
{
	if (r->step || !r->column)
		return r->step;
	struct cql_bind_step s = {.field = r->field};
	switch (r->role) {
	case CQL_BIND_ELEMENT: s.kind = CQL_STEP_ELEMENT; break;
	case CQL_BIND_MAP_KEY: s.kind = CQL_STEP_KEY; break;
	case CQL_BIND_MAP_VALUE: s.kind = CQL_STEP_VALUE; break;
	case CQL_BIND_SUBSCRIPT_VALUE: s.kind = CQL_STEP_SUBVALUE; break;
	case CQL_BIND_FIELD: s.kind = CQL_STEP_FIELD; break;
	default: return NULL;
	}
	struct cql_bind_step *n = alloc(p, sizeof(*n));
	if (n)
		*n = s;
	*oom = !n;
	return n;
}

/*
 * The receiver of a part of r's value: role `role` when r is a column's value, a nested
 * part (CQL_BIND_NESTED with its step: `kind`, field `field`, item `index`) when r is a
 * part itself, else nothing (CQL_BIND_OTHER).
 */
static int child_recv(struct parser *p, const struct recv *r, enum cql_bind_role role,
                      enum cql_bind_step_kind kind, const struct cql_ident *field, uint32_t index,
                      struct recv *out)
{
	struct recv c = RECV_OTHER;
	if (r->role == CQL_BIND_COLUMN && r->column && role != CQL_BIND_NESTED) {
		c.role = role;
		c.column = r->column;
		c.field = field;
		c.rel = r->rel;
		c.op = r->op;
	} else if (r->column) {
		bool oom = false;
		const struct cql_bind_step *up =
		        r->role == CQL_BIND_COLUMN ? NULL : own_step(p, r, &oom);
		if (oom)
			return cqlp_oom(p);
		if (up || r->role == CQL_BIND_COLUMN) {
			struct cql_bind_step *s = alloc(p, sizeof(*s));
			if (!s)
				return cqlp_oom(p);
			*s = (struct cql_bind_step){kind, index, field, up};
			c.role = CQL_BIND_NESTED;
			c.column = r->column;
			c.step = s;
			c.rel = r->rel;
			c.op = r->op;
		}
	}
	*out = c;
	return 0;
}

/* A word that is a literal, not a field name, before ':' in braces ({true: 1}). */
static bool literal_word(const struct cql_token *tok)
{
	static const char *const words[] = {"TRUE", "FALSE", "NULL", "NAN", "INFINITY"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (cql_token_is_word(tok, words[i]))
			return true;
	return false;
}

/* {field: term, ...} after the '{'; a marker for a field of a column's value binds to
 * that field (CQL_BIND_FIELD). */
static int udt_literal(struct parser *p, const struct recv *r, struct cql_term *t)
{
	struct vec names = {0}, vals = {0};
	do {
		struct cql_ident *n;
		struct cql_term *v;
		NEW(p, n);
		TRY(cqlp_ident(p, n));
		TRY(cqlp_expect(p, CQL_TOK_COLON));
		struct recv vr;
		TRY(child_recv(p, r, CQL_BIND_FIELD, CQL_STEP_FIELD, n, 0, &vr));
		TRY(cqlp_term(p, &vr, &v));
		TRY(PUSH(p, &names, *n));
		TRY(PUSH(p, &vals, v));
	} while (accept(p, CQL_TOK_COMMA));
	TRY(cqlp_expect(p, CQL_TOK_RBRACE));
	t->kind = CQL_TERM_UDT;
	t->udt.names = names.items;
	t->udt.values = vals.items;
	t->udt.n_fields = names.n;
	return 0;
}

static int collection(struct parser *p, const struct recv *r, struct cql_term *t)
{
	if (accept(p, CQL_TOK_LBRACKET)) {
		struct recv er;
		TRY(child_recv(p, r, CQL_BIND_ELEMENT, CQL_STEP_ELEMENT, NULL, 0, &er));
		t->kind = CQL_TERM_LIST;
		return cqlp_term_list(p, CQL_TOK_RBRACKET, &er, &t->coll.items, &t->coll.n_items);
	}
	TRY(cqlp_expect(p, CQL_TOK_LBRACE));
	if (accept(p, CQL_TOK_RBRACE)) {
		t->kind = CQL_TERM_MAP; /* {} : an empty map, or an empty set */
		return 0;
	}
	if ((cur(p)->kind == CQL_TOK_WORD || cur(p)->kind == CQL_TOK_QIDENT) &&
	    peek(p, 1)->kind == CQL_TOK_COLON && !literal_word(cur(p)))
		return udt_literal(p, r, t);
	struct recv er, kr, vr;
	TRY(child_recv(p, r, CQL_BIND_ELEMENT, CQL_STEP_ELEMENT, NULL, 0, &er));
	TRY(child_recv(p, r, CQL_BIND_MAP_KEY, CQL_STEP_KEY, NULL, 0, &kr));
	TRY(child_recv(p, r, CQL_BIND_MAP_VALUE, CQL_STEP_VALUE, NULL, 0, &vr));
	struct cql_term *first = NULL;
	/* the first item decides: a key (':' follows) or a set element; its bind
	 * role is fixed up once we know */
	uint32_t bind_mark = p->binds.n;
	TRY(cqlp_term(p, &kr, &first));
	if (accept(p, CQL_TOK_COLON)) {
		struct vec keys = {0}, vals = {0};
		TRY(PUSH(p, &keys, first));
		for (bool more = true; more;) {
			struct cql_term *v;
			TRY(cqlp_term(p, &vr, &v));
			TRY(PUSH(p, &vals, v));
			more = accept(p, CQL_TOK_COMMA);
			if (more) {
				struct cql_term *k;
				TRY(cqlp_term(p, &kr, &k));
				TRY(PUSH(p, &keys, k));
				TRY(cqlp_expect(p, CQL_TOK_COLON));
			}
		}
		TRY(cqlp_expect(p, CQL_TOK_RBRACE));
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
		TRY(cqlp_term(p, &er, &e));
		TRY(PUSH(p, &items, e));
	}
	TRY(cqlp_expect(p, CQL_TOK_RBRACE));
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
		TRY(cqlp_ident_from(p, &tok, &t->func.name.name));
	} else {
		TRY(cqlp_qname(p, &t->func.name));
	}
	TRY(cqlp_expect(p, CQL_TOK_LPAREN));
	struct items_recv ir = {.kind = ITEMS_FUNC_ARGS, .func = t};
	struct vec args = {0};
	TRY(term_items(p, CQL_TOK_RPAREN, true, &ir, &args));
	t->func.args = args.items;
	t->func.n_args = args.n;
	return 0;
}

/* `?` or `:name`. */
static int bind_term(struct parser *p, const struct recv *r, struct cql_term *t)
{
	struct cql_token tok = next(p);
	t->kind = CQL_TERM_BIND;
	if (tok.kind == CQL_TOK_COLON) {
		struct cql_ident name = {0};
		TRY(cqlp_ident(p, &name));
		t->bind.name = name.name;
	}
	return add_bind(p, t, r);
}

static int string_term(struct parser *p, struct cql_term *t)
{
	struct cql_token tok = next(p);
	char *s = alloc(p, tok.len + 1);
	if (!s)
		return cqlp_oom(p);
	t->kind = CQL_TERM_STRING;
	t->text_len = cql_token_string(&tok, s);
	t->text = s;
	return 0;
}

/* NaN, Infinity or -Infinity, at the NAN/INFINITY word. */
static int special_float(struct parser *p, struct cql_term *t, bool neg)
{
	bool nan = cql_token_is_word(cur(p), "NAN");
	next(p);
	t->kind = CQL_TERM_FLOAT;
	t->flt = nan ? NAN : neg ? -INFINITY : INFINITY;
	if (nan)
		return cqlp_set_text(p, t, "NaN", 3);
	return neg ? cqlp_set_text(p, t, "-Infinity", 9) : cqlp_set_text(p, t, "Infinity", 8);
}

/* '-' directly followed by a number, NaN or Infinity. */
static int negative_term(struct parser *p, struct cql_term *t)
{
	const struct cql_token *c = cur(p);
	const struct cql_token *n = peek(p, 1);
	bool adjacent = n->pos.off == c->pos.off + 1;
	if (adjacent && (n->kind == CQL_TOK_INTEGER || n->kind == CQL_TOK_FLOAT ||
	                 n->kind == CQL_TOK_DURATION)) {
		next(p);
		return number(p, t, true);
	}
	if (adjacent && (cql_token_is_word(n, "NAN") || cql_token_is_word(n, "INFINITY"))) {
		next(p);
		return special_float(p, t, true);
	}
	return cqlp_no_viable(p);
}

static int uuid_term(struct parser *p, struct cql_term *t)
{
	struct cql_token tok = next(p);
	t->kind = CQL_TERM_UUID;
	if (!uuid_parse(tok.start, tok.len, t->uuid))
		return cqlp_error_at_pos(p, COL_ESYNTAX, tok.pos, "malformed uuid literal");
	return cqlp_set_text(p, t, tok.start, tok.len);
}

/* 0x... */
static int blob_term(struct parser *p, struct cql_term *t)
{
	struct cql_token tok = next(p);
	size_t digits = tok.len - 2;
	if (digits % 2) {
		char msg[128];
		snprintf(msg, sizeof(msg),
		         "blob literal %.*s%s has an odd number of hex digits (%zu)",
		         tok.len > 40 ? 40 : (int)tok.len, tok.start, tok.len > 40 ? "..." : "",
		         digits);
		return cqlp_error_at_pos(p, COL_ESYNTAX, tok.pos, msg);
	}
	uint8_t *b = alloc(p, digits / 2 + 1);
	if (!b)
		return cqlp_oom(p);
	if (!hex_decode(tok.start + 2, digits / 2, b))
		return cqlp_error_at_pos(p, COL_ESYNTAX, tok.pos, "malformed blob literal");
	t->kind = CQL_TERM_BLOB;
	t->blob.data = b;
	t->blob.len = digits / 2;
	return cqlp_set_text(p, t, tok.start, tok.len);
}

/* ( term, ... ) */
static int tuple_term(struct parser *p, const struct recv *r, struct cql_term *t)
{
	next(p);
	t->kind = CQL_TERM_TUPLE;
	struct items_recv ir = {.kind = ITEMS_TUPLE, .r = r};
	struct vec items = {0};
	TRY(term_items(p, CQL_TOK_RPAREN, false, &ir, &items));
	t->coll.items = items.items;
	t->coll.n_items = items.n;
	return 0;
}

/* A function call at an identifier ([ks.]name followed by '('), else no term. */
static int function_or_fail(struct parser *p, struct cql_term *t)
{
	const struct cql_token *c = cur(p);
	if (is_ident_tok(c) && (peek(p, 1)->kind == CQL_TOK_LPAREN ||
	                        (peek(p, 1)->kind == CQL_TOK_DOT && is_ident_tok(peek(p, 2)) &&
	                         peek(p, 3)->kind == CQL_TOK_LPAREN)))
		return function_term(p, t);
	return cqlp_no_viable(p);
}

/* NULL, TRUE, FALSE, NaN, Infinity, token(...), or a function call. */
static int word_term(struct parser *p, struct cql_term *t)
{
	const struct cql_token *c = cur(p);
	if (cql_token_is_word(c, "NULL")) {
		next(p);
		t->kind = CQL_TERM_NULL;
		return cqlp_set_text(p, t, "null", 4);
	}
	if (cql_token_is_word(c, "TRUE") || cql_token_is_word(c, "FALSE")) {
		bool v = cql_token_is_word(c, "TRUE");
		next(p);
		t->kind = CQL_TERM_BOOL;
		t->boolean = v;
		return v ? cqlp_set_text(p, t, "true", 4) : cqlp_set_text(p, t, "false", 5);
	}
	if (cql_token_is_word(c, "NAN") || cql_token_is_word(c, "INFINITY"))
		return special_float(p, t, false);
	if (cql_token_is_word(c, "TOKEN") && peek(p, 1)->kind == CQL_TOK_LPAREN)
		return function_term(p, t);
	return function_or_fail(p, t);
}

/* One term, by its first token. */
static int term_inner(struct parser *p, const struct recv *r, struct cql_term *t)
{
	const struct cql_token *c = cur(p);
	t->pos = c->pos;
	switch (c->kind) {
	case CQL_TOK_QMARK:
	case CQL_TOK_COLON: return bind_term(p, r, t);
	case CQL_TOK_STRING: return string_term(p, t);
	case CQL_TOK_INTEGER:
	case CQL_TOK_FLOAT:
	case CQL_TOK_DURATION: return number(p, t, false);
	case CQL_TOK_MINUS: return negative_term(p, t);
	case CQL_TOK_UUID: return uuid_term(p, t);
	case CQL_TOK_HEX: return blob_term(p, t);
	case CQL_TOK_LBRACKET:
	case CQL_TOK_LBRACE: return collection(p, r, t);
	case CQL_TOK_LPAREN: return tuple_term(p, r, t);
	case CQL_TOK_WORD: return word_term(p, t);
	case CQL_TOK_QIDENT: return function_or_fail(p, t);
	default: return cqlp_no_viable(p);
	}
}

int cqlp_term(struct parser *p, const struct recv *r, struct cql_term **out)
{
	TRY(cqlp_enter(p));
	struct cql_term *t = NULL;
	NEW(p, t);
	TRY(term_inner(p, r, t));
	cqlp_leave(p);
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
		return cqlp_oom(p);
	ty->text = s;
	return 0;
}

int cqlp_type(struct parser *p, struct cql_type **out)
{
	TRY(cqlp_enter(p));
	struct cql_type *ty;
	NEW(p, ty);
	const struct cql_token *c = cur(p);
	ty->pos = c->pos;
	if (c->kind == CQL_TOK_STRING) {
		/* a custom type class: 'org.apache.cassandra.db.marshal.X' */
		struct cql_token tok = next(p);
		char *s = alloc(p, tok.len + 1);
		if (!s)
			return cqlp_oom(p);
		cql_token_string(&tok, s);
		ty->name = s;
		/* text keeps the quotes so it cannot be mistaken for a native type */
		char *txt = cql_arena_strndup(p->arena, tok.start, tok.len);
		if (!txt)
			return cqlp_oom(p);
		ty->text = txt;
		ty->quoted = true;
		cqlp_leave(p);
		*out = ty;
		return 0;
	}
	struct cql_ident name = {0};
	if (c->kind == CQL_TOK_WORD) { /* type names may be reserved words: set<int> */
		struct cql_token tok = next(p);
		TRY(cqlp_ident_from(p, &tok, &name));
	} else if (c->kind == CQL_TOK_QIDENT) {
		TRY(cqlp_ident(p, &name));
	} else {
		return cqlp_expecting(p, "a cqlp_type (int, text, list<...>, ...)");
	}
	struct cql_ident ks = {0};
	bool dotted = false;
	if (accept(p, CQL_TOK_DOT)) {
		/* ks.usertype: name is "ks.usertype", as written */
		ks = name;
		dotted = true;
		TRY(cqlp_ident(p, &name));
		size_t l1 = strlen(ks.name), l2 = strlen(name.name);
		char *s = alloc(p, l1 + l2 + 2);
		if (!s)
			return cqlp_oom(p);
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
			return cqlp_expecting(p, "'<'");
		next(p);
		struct vec args = {0};
		for (;;) {
			struct cql_type *a;
			TRY(cqlp_type(p, &a));
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
			return cqlp_error_at_pos(p, COL_ESYNTAX, ty->pos, msg);
		}
		TRY(cqlp_expect(p, CQL_TOK_GT));
		ty->args = args.items;
		ty->n_args = args.n;
	}
	TRY(type_name_text(p, ty, dotted ? &ks : NULL, &name));
	cqlp_leave(p);
	*out = ty;
	return 0;
}
