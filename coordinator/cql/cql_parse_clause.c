/*
 * cql_parse_clause.c — WHERE relations, IF conditions, USING and WITH
 * clauses (see cql_parser_int.h).
 */
#include "coordinator/cql/cql_parser_int.h"

#include <stdio.h>
#include <string.h>

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
int cqlp_ident_list(struct parser *p, struct cql_ident **out, uint32_t *n)
{
	struct vec v = {0};
	for (;;) {
		struct cql_ident id = {0};
		TRY(cqlp_ident(p, &id));
		TRY(PUSH(p, &v, id));
		if (!accept(p, CQL_TOK_COMMA))
			break;
	}
	TRY(cqlp_expect(p, CQL_TOK_RPAREN));
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
		return cqlp_term(p, &br, &r->term);
	}
	if (!at(p, CQL_TOK_LPAREN))
		return cqlp_expecting(p, "'(' or a bind marker after IN");
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
	return cqlp_term_list(p, CQL_TOK_RPAREN, &ir, &r->in_items, &r->n_in);
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
		return cqlp_expecting(
		        p, "a comparison ('=', '<', '<=', '>', '>=', '!=', IN, CONTAINS)");
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
	return cqlp_term(p, &rr, &r->term);
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
			return cqlp_expect(p, CQL_TOK_RPAREN);
		}
	}
	struct cql_relation *r = NULL;
	NEW(p, r);
	r->pos = c->pos;
	if (c->kind == CQL_TOK_LPAREN) {
		next(p);
		r->kind = CQL_REL_MULTI;
		TRY(cqlp_ident_list(p, &r->cols, &r->n_cols));
	} else if (cql_token_is_word(c, "TOKEN")) {
		next(p);
		r->kind = CQL_REL_TOKEN;
		TRY(cqlp_expect(p, CQL_TOK_LPAREN));
		TRY(cqlp_ident_list(p, &r->cols, &r->n_cols));
	} else {
		r->kind = CQL_REL_COLUMN;
		NEW(p, r->cols);
		r->n_cols = 1;
		TRY(cqlp_ident(p, &r->cols[0]));
		if (accept(p, CQL_TOK_LBRACKET)) {
			r->kind = CQL_REL_ELEMENT;
			struct recv kr = RECV_OTHER;
			kr.role = CQL_BIND_SUBSCRIPT;
			kr.column = &r->cols[0];
			kr.rel = r;
			TRY(cqlp_term(p, &kr, &r->key));
			TRY(cqlp_expect(p, CQL_TOK_RBRACKET));
		}
	}
	TRY(relation_rhs(p, r));
	*out = r;
	return 0;
}

static int relation(struct parser *p, struct cql_relation **out)
{
	TRY(cqlp_enter(p));
	TRY(relation_inner(p, out));
	cqlp_leave(p);
	return 0;
}

/* rel AND rel ... */
int cqlp_relations(struct parser *p, struct cql_relation ***out, uint32_t *n)
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
int cqlp_conditions(struct parser *p, struct cql_conditions *c)
{
	if (!accept_kw(p, "IF"))
		return 0;
	if (accept_kw(p, "EXISTS")) {
		c->if_exists = true;
		return 0;
	}
	return cqlp_relations(p, &c->conds, &c->n_conds);
}

/* ------------------------------------------------------------- clauses */

int cqlp_int_value(struct parser *p, enum cql_bind_role role, struct cql_term **out)
{
	const struct cql_token *c = cur(p);
	bool neg_int = c->kind == CQL_TOK_MINUS && peek(p, 1)->kind == CQL_TOK_INTEGER;
	if (c->kind != CQL_TOK_INTEGER && c->kind != CQL_TOK_QMARK && c->kind != CQL_TOK_COLON &&
	    !neg_int)
		return cqlp_expecting(p, "INTEGER or a bind marker");
	struct recv r = RECV_OTHER;
	r.role = role;
	return cqlp_term(p, &r, out);
}

/* USING TTL n AND TIMESTAMP t (either order; `ttl_ok` false for DELETE/BATCH). */
int cqlp_using_clause(struct parser *p, struct cql_using *u, bool ttl_ok)
{
	if (!accept_kw(p, "USING"))
		return 0;
	do {
		const struct cql_token *c = cur(p);
		if (ttl_ok && cql_token_is_word(c, "TTL")) {
			if (u->ttl)
				return cqlp_error_at_pos(p, COL_ESYNTAX, c->pos,
				                         "TTL given twice in USING");
			next(p);
			TRY(cqlp_int_value(p, CQL_BIND_TTL, &u->ttl));
		} else if (cql_token_is_word(c, "TIMESTAMP")) {
			if (u->timestamp)
				return cqlp_error_at_pos(p, COL_ESYNTAX, c->pos,
				                         "TIMESTAMP given twice in USING");
			next(p);
			TRY(cqlp_int_value(p, CQL_BIND_TIMESTAMP, &u->timestamp));
		} else {
			return cqlp_expecting(p, ttl_ok ? "K_TTL or K_TIMESTAMP" : "K_TIMESTAMP");
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
		TRY(cqlp_set_text(p, t, tok.start, tok.len));
		*out = t;
		return 0;
	}
	return cqlp_term(p, &RECV_OTHER, out);
}

int cqlp_orderings(struct parser *p, struct vec *ord)
{
	for (;;) {
		struct cql_ordering o = {0};
		TRY(cqlp_ident(p, &o.column));
		if (accept_kw(p, "DESC"))
			o.desc = true;
		else
			accept_kw(p, "ASC");
		TRY(PUSH(p, ord, o));
		if (!accept(p, CQL_TOK_COMMA))
			return 0;
	}
}

/* name = value AND ... ; also CLUSTERING ORDER BY and COMPACT STORAGE for tables. */
int cqlp_properties(struct parser *p, struct vec *opts, struct cql_create_table *ct)
{
	do {
		const struct cql_token *c = cur(p);
		if (ct && cql_token_is_word(c, "CLUSTERING") && peek_kw(p, 1, "ORDER")) {
			next(p);
			next(p);
			TRY(cqlp_expect_kw(p, "BY"));
			TRY(cqlp_expect(p, CQL_TOK_LPAREN));
			struct vec ord = {0};
			TRY(cqlp_orderings(p, &ord));
			TRY(cqlp_expect(p, CQL_TOK_RPAREN));
			if (ct->n_clustering_order)
				return cqlp_error_at_pos(p, COL_ESYNTAX, c->pos,
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
		TRY(cqlp_ident(p, &o.name));
		TRY(cqlp_expect(p, CQL_TOK_EQ));
		TRY(option_value(p, &o.value));
		for (uint32_t i = 0; i < opts->n; i++) {
			const struct cql_option *prev = (const struct cql_option *)opts->items + i;
			if (!strcmp(prev->name.name, o.name.name)) {
				char msg[160];
				snprintf(msg, sizeof(msg), "option '%.64s' given more than once",
				         o.name.name);
				return cqlp_error_at_pos(p, COL_ESYNTAX, o.name.pos, msg);
			}
		}
		TRY(PUSH(p, opts, o));
	} while (accept_kw(p, "AND"));
	return 0;
}
