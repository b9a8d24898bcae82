/*
 * cql_parse_dml.c — SELECT, INSERT, UPDATE, DELETE and BATCH (see
 * cql_parser_int.h).
 */
#include "coordinator/cql/cql_parser_int.h"

#include <stdio.h>
#include <string.h>

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
			return cqlp_error_at_pos(p, COL_ESYNTAX, arg.pos, msg);
		}
		s->kind = CQL_SEL_COUNT;
		return cqlp_expect(p, CQL_TOK_RPAREN);
	}
	if (call && cql_token_is_word(c, "CAST")) {
		next(p);
		next(p);
		struct cql_selector *a = NULL;
		NEW(p, a);
		TRY(selector(p, a));
		if (a->alias.name)
			return cqlp_error_at_pos(p, COL_ESYNTAX, a->alias.pos,
			                         "AS is not allowed inside a function call");
		TRY(cqlp_expect_kw(p, "AS"));
		TRY(cqlp_type(p, &s->cast_type));
		s->kind = CQL_SEL_CAST;
		s->args = a;
		s->n_args = 1;
		return cqlp_expect(p, CQL_TOK_RPAREN);
	}
	if (call && (cql_token_is_word(c, "WRITETIME") || cql_token_is_word(c, "TTL"))) {
		s->kind = cql_token_is_word(c, "TTL") ? CQL_SEL_TTL : CQL_SEL_WRITETIME;
		next(p);
		next(p);
		TRY(cqlp_ident(p, &s->column));
		return cqlp_expect(p, CQL_TOK_RPAREN);
	}
	bool qualified_call = is_ident_tok(c) && peek(p, 1)->kind == CQL_TOK_DOT &&
	                      is_ident_tok(peek(p, 2)) && peek(p, 3)->kind == CQL_TOK_LPAREN;
	if ((call && (is_ident_tok(c) || cql_token_is_word(c, "TOKEN"))) || qualified_call) {
		s->kind = CQL_SEL_FUNC;
		if (cql_token_is_word(c, "TOKEN")) {
			struct cql_token tok = next(p);
			TRY(cqlp_ident_from(p, &tok, &s->func.name));
		} else {
			TRY(cqlp_qname(p, &s->func));
		}
		TRY(cqlp_expect(p, CQL_TOK_LPAREN));
		struct vec args = {0};
		if (!at(p, CQL_TOK_RPAREN)) {
			for (;;) {
				struct cql_selector a = {0};
				TRY(selector(p, &a));
				if (a.alias.name)
					return cqlp_error_at_pos(
					        p, COL_ESYNTAX, a.alias.pos,
					        "AS is not allowed inside a function call");
				TRY(PUSH(p, &args, a));
				if (!accept(p, CQL_TOK_COMMA))
					break;
			}
		}
		TRY(cqlp_expect(p, CQL_TOK_RPAREN));
		s->args = args.items;
		s->n_args = args.n;
		return 0;
	}
	if (is_ident_tok(c)) {
		s->kind = CQL_SEL_COLUMN;
		return cqlp_ident(p, &s->column);
	}
	if (p->depth > 1) { /* a literal, only as a function argument */
		s->kind = CQL_SEL_TERM;
		return cqlp_term(p, &RECV_OTHER, &s->term);
	}
	return cqlp_no_viable(p);
}

/*
 * The postfix parts of a selector: `[key]`, `[from..to]` (either bound may be
 * left out, not both) and `.field`, applied left to right (Cassandra 4's
 * collectionSubSelection and field selection).  *s becomes the outermost one.
 */
static int selector_postfix(struct parser *p, struct cql_selector *s)
{
	while (at(p, CQL_TOK_LBRACKET) || (at(p, CQL_TOK_DOT) && is_ident_tok(peek(p, 1)))) {
		struct cql_selector *inner = NULL;
		NEW(p, inner);
		*inner = *s;
		inner->alias = (struct cql_ident){0};
		struct cql_selector o = {.pos = cur(p)->pos, .args = inner, .n_args = 1};
		if (accept(p, CQL_TOK_DOT)) {
			o.kind = CQL_SEL_FIELD;
			TRY(cqlp_ident(p, &o.column));
		} else {
			next(p);
			struct recv r = {.role = CQL_BIND_MAP_KEY};
			if (inner->kind == CQL_SEL_COLUMN)
				r.column = &inner->column;
			o.kind = CQL_SEL_ELEMENT;
			if (!at(p, CQL_TOK_RANGE))
				TRY(cqlp_term(p, &r, &o.term));
			if (accept(p, CQL_TOK_RANGE)) {
				o.kind = CQL_SEL_SLICE;
				if (!at(p, CQL_TOK_RBRACKET))
					TRY(cqlp_term(p, &r, &o.term2));
				if (!o.term && !o.term2)
					return cqlp_no_viable(p);
			} else if (!o.term) {
				return cqlp_no_viable(p);
			}
			TRY(cqlp_expect(p, CQL_TOK_RBRACKET));
		}
		*s = o;
	}
	return 0;
}

static int selector(struct parser *p, struct cql_selector *s)
{
	TRY(cqlp_enter(p));
	TRY(selector_inner(p, s));
	TRY(selector_postfix(p, s));
	cqlp_leave(p);
	if (p->depth == 0 && accept_kw(p, "AS"))
		TRY(cqlp_ident(p, &s->alias));
	return 0;
}

int cqlp_select(struct parser *p, struct cql_stmt *st)
{
	struct cql_select *q = &st->select;
	TRY(cqlp_expect_kw(p, "SELECT"));
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
	TRY(cqlp_expect_kw(p, "FROM"));
	TRY(cqlp_qname(p, &q->table));
	if (accept_kw(p, "WHERE"))
		TRY(cqlp_relations(p, &q->where, &q->n_where));
	if (at_kw(p, "GROUP") && peek_kw(p, 1, "BY")) {
		next(p);
		next(p);
		struct vec g = {0};
		do {
			struct cql_ident id = {0};
			TRY(cqlp_ident(p, &id));
			TRY(PUSH(p, &g, id));
		} while (accept(p, CQL_TOK_COMMA));
		q->group_by = g.items;
		q->n_group_by = g.n;
	}
	if (accept_kw(p, "ORDER")) {
		TRY(cqlp_expect_kw(p, "BY"));
		struct vec ord = {0};
		TRY(cqlp_orderings(p, &ord));
		q->order_by = ord.items;
		q->n_order_by = ord.n;
	}
	if (at_kw(p, "PER")) {
		next(p);
		TRY(cqlp_expect_kw(p, "PARTITION"));
		TRY(cqlp_expect_kw(p, "LIMIT"));
		TRY(cqlp_int_value(p, CQL_BIND_PER_PARTITION_LIMIT, &q->per_partition_limit));
	}
	if (accept_kw(p, "LIMIT"))
		TRY(cqlp_int_value(p, CQL_BIND_LIMIT, &q->limit));
	if (accept_kw(p, "ALLOW")) {
		TRY(cqlp_expect_kw(p, "FILTERING"));
		q->allow_filtering = true;
	}
	return 0;
}

int cqlp_insert(struct parser *p, struct cql_stmt *st)
{
	struct cql_insert *q = &st->insert;
	TRY(cqlp_expect_kw(p, "INSERT"));
	TRY(cqlp_expect_kw(p, "INTO"));
	TRY(cqlp_qname(p, &q->table));
	if (accept_kw(p, "JSON")) {
		q->json = true;
		NEW(p, q->values);
		const struct recv rj = {.role = CQL_BIND_JSON};
		TRY(cqlp_term(p, &rj, &q->values[0]));
		if (accept_kw(p, "DEFAULT")) {
			if (accept_kw(p, "UNSET"))
				q->default_unset = true;
			else if (!accept_kw(p, "NULL"))
				return cqlp_expecting(p, "K_NULL or K_UNSET");
		}
	} else {
		TRY(cqlp_expect(p, CQL_TOK_LPAREN));
		TRY(cqlp_ident_list(p, &q->columns, &q->n_columns));
		struct cql_pos vpos = cur(p)->pos;
		TRY(cqlp_expect_kw(p, "VALUES"));
		TRY(cqlp_expect(p, CQL_TOK_LPAREN));
		struct vec vals = {0};
		for (;;) {
			struct recv r = RECV_OTHER;
			if (vals.n < q->n_columns) {
				r.role = CQL_BIND_COLUMN;
				r.column = &q->columns[vals.n];
			}
			struct cql_term *t = NULL;
			TRY(cqlp_term(p, &r, &t));
			TRY(PUSH(p, &vals, t));
			if (!accept(p, CQL_TOK_COMMA))
				break;
		}
		TRY(cqlp_expect(p, CQL_TOK_RPAREN));
		if (vals.n != q->n_columns) {
			char msg[128];
			snprintf(msg, sizeof(msg),
			         "Unmatched column names/values: %u columns but %u values",
			         q->n_columns, vals.n);
			return cqlp_error_at_pos(p, COL_EINVAL, vpos, msg);
		}
		q->values = vals.items;
	}
	if (accept_kw(p, "IF")) {
		TRY(cqlp_expect_kw(p, "NOT"));
		TRY(cqlp_expect_kw(p, "EXISTS"));
		q->if_not_exists = true;
	}
	return cqlp_using_clause(p, &q->using, true);
}

/* The assigned column named again in `c = c + v` (or, when prepend, `c = v + c`);
 * any other name is an error that shows the supported form. */
static int same_column(struct parser *p, const struct cql_assignment *a, bool prepend)
{
	struct cql_ident same = {0};
	TRY(cqlp_ident(p, &same));
	if (!strcmp(same.name, a->column.name))
		return 0;
	char msg[200];
	if (prepend)
		snprintf(msg, sizeof(msg),
		         "only expressions of the form %.40s = <value> + %.40s are supported "
		         "(found %.40s)",
		         a->column.name, a->column.name, same.name);
	else
		snprintf(msg, sizeof(msg),
		         "only expressions of the form %.40s = %.40s + <value> are supported "
		         "(found %.40s)",
		         a->column.name, a->column.name, same.name);
	return cqlp_error_at_pos(p, COL_ESYNTAX, same.pos, msg);
}

static int assignment(struct parser *p, struct cql_assignment *a)
{
	a->pos = cur(p)->pos;
	TRY(cqlp_ident(p, &a->column));
	struct recv vr = RECV_OTHER;
	vr.role = CQL_BIND_COLUMN;
	vr.column = &a->column;
	if (accept(p, CQL_TOK_LBRACKET)) {
		a->kind = CQL_ASSIGN_ELEMENT;
		struct recv kr = RECV_OTHER;
		kr.role = CQL_BIND_SUBSCRIPT;
		kr.column = &a->column;
		TRY(cqlp_term(p, &kr, &a->key));
		TRY(cqlp_expect(p, CQL_TOK_RBRACKET));
		TRY(cqlp_expect(p, CQL_TOK_EQ));
		vr.role = CQL_BIND_SUBSCRIPT_VALUE;
		return cqlp_term(p, &vr, &a->value);
	}
	if (accept(p, CQL_TOK_DOT)) {
		a->kind = CQL_ASSIGN_FIELD;
		TRY(cqlp_ident(p, &a->field));
		TRY(cqlp_expect(p, CQL_TOK_EQ));
		vr.role = CQL_BIND_FIELD;
		vr.field = &a->field;
		return cqlp_term(p, &vr, &a->value);
	}
	if (accept(p, CQL_TOK_PLUSEQ)) {
		a->kind = CQL_ASSIGN_ADD;
		return cqlp_term(p, &vr, &a->value);
	}
	if (accept(p, CQL_TOK_MINUSEQ)) {
		a->kind = CQL_ASSIGN_SUB;
		return cqlp_term(p, &vr, &a->value);
	}
	if (!at(p, CQL_TOK_EQ))
		return cqlp_expecting(p, "'='");
	next(p);
	const struct cql_token *c = cur(p), *op = peek(p, 1);
	if (is_ident_tok(c) && (op->kind == CQL_TOK_PLUS || op->kind == CQL_TOK_MINUS)) {
		/* c = c + v / c = c - v */
		TRY(same_column(p, a, false));
		a->kind = next(p).kind == CQL_TOK_PLUS ? CQL_ASSIGN_ADD : CQL_ASSIGN_SUB;
		return cqlp_term(p, &vr, &a->value);
	}
	TRY(cqlp_term(p, &vr, &a->value));
	a->kind = CQL_ASSIGN_SET;
	if (accept(p, CQL_TOK_PLUS)) {
		/* c = v + c (list prepend) */
		TRY(same_column(p, a, true));
		a->kind = CQL_ASSIGN_PREPEND;
	}
	return 0;
}

int cqlp_update(struct parser *p, struct cql_stmt *st)
{
	struct cql_update *q = &st->update;
	TRY(cqlp_expect_kw(p, "UPDATE"));
	TRY(cqlp_qname(p, &q->table));
	TRY(cqlp_using_clause(p, &q->using, true));
	TRY(cqlp_expect_kw(p, "SET"));
	struct vec as = {0};
	do {
		struct cql_assignment *a;
		NEW(p, a);
		TRY(assignment(p, a));
		TRY(PUSH(p, &as, a));
	} while (accept(p, CQL_TOK_COMMA));
	q->assignments = as.items;
	q->n_assignments = as.n;
	TRY(cqlp_expect_kw(p, "WHERE"));
	TRY(cqlp_relations(p, &q->where, &q->n_where));
	return cqlp_conditions(p, &q->cond);
}

int cqlp_delete(struct parser *p, struct cql_stmt *st)
{
	struct cql_delete *q = &st->del;
	TRY(cqlp_expect_kw(p, "DELETE"));
	if (!at_kw(p, "FROM")) {
		struct vec ts = {0};
		do {
			struct cql_delete_target *t;
			NEW(p, t);
			TRY(cqlp_ident(p, &t->column));
			if (accept(p, CQL_TOK_LBRACKET)) {
				struct recv kr = RECV_OTHER;
				kr.role = CQL_BIND_SUBSCRIPT;
				kr.column = &t->column;
				TRY(cqlp_term(p, &kr, &t->key));
				TRY(cqlp_expect(p, CQL_TOK_RBRACKET));
			} else if (accept(p, CQL_TOK_DOT)) {
				TRY(cqlp_ident(p, &t->field));
			}
			TRY(PUSH(p, &ts, t));
		} while (accept(p, CQL_TOK_COMMA));
		q->targets = ts.items;
		q->n_targets = ts.n;
	}
	TRY(cqlp_expect_kw(p, "FROM"));
	TRY(cqlp_qname(p, &q->table));
	TRY(cqlp_using_clause(p, &q->using, false));
	TRY(cqlp_expect_kw(p, "WHERE"));
	TRY(cqlp_relations(p, &q->where, &q->n_where));
	return cqlp_conditions(p, &q->cond);
}

int cqlp_batch(struct parser *p, struct cql_stmt *st)
{
	struct cql_batch *q = &st->batch;
	TRY(cqlp_expect_kw(p, "BEGIN"));
	if (accept_kw(p, "UNLOGGED"))
		q->type = CQL_BATCH_UNLOGGED;
	else if (accept_kw(p, "COUNTER"))
		q->type = CQL_BATCH_COUNTER;
	else if (accept_kw(p, "LOGGED"))
		q->type = CQL_BATCH_LOGGED;
	TRY(cqlp_expect_kw(p, "BATCH"));
	TRY(cqlp_using_clause(p, &q->using, false));
	struct vec stmts = {0};
	for (;;) {
		if (at_kw(p, "APPLY"))
			break;
		if (!at_kw(p, "INSERT") && !at_kw(p, "UPDATE") && !at_kw(p, "DELETE"))
			return cqlp_expecting(p, "K_INSERT, K_UPDATE, K_DELETE or K_APPLY");
		struct cql_stmt *child;
		TRY(cqlp_statement(p, &child, true));
		TRY(PUSH(p, &stmts, child));
		p->cur_stmt = st;
		accept(p, CQL_TOK_SEMI);
	}
	next(p); /* APPLY */
	TRY(cqlp_expect_kw(p, "BATCH"));
	q->stmts = stmts.items;
	q->n_stmts = stmts.n;
	return 0;
}
