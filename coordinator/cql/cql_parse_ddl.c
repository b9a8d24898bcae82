/*
 * cql_parse_ddl.c — CREATE, ALTER and DROP of keyspaces and tables
 * (see cql_parser_int.h).
 */
#include "coordinator/cql/cql_parser_int.h"

#include <stdio.h>
#include <string.h>

static int ks_if_not_exists(struct parser *p, bool *flag)
{
	if (at_kw(p, "IF") && peek_kw(p, 1, "NOT")) {
		next(p);
		next(p);
		TRY(cqlp_expect_kw(p, "EXISTS"));
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
	TRY(cqlp_ident(p, &d->name));
	TRY(cqlp_type(p, &d->type));
	if (accept_kw(p, "STATIC"))
		d->is_static = true;
	return 0;
}

static int create_table(struct parser *p, struct cql_stmt *st)
{
	struct cql_create_table *q = &st->create_table;
	TRY(ks_if_not_exists(p, &q->if_not_exists));
	TRY(cqlp_qname(p, &q->table));
	TRY(cqlp_expect(p, CQL_TOK_LPAREN));
	struct vec cols = {0}, pk = {0}, ck = {0};
	int n_pk_decl = 0;
	struct cql_pos second_pk = {0};
	for (;;) {
		if (at(p, CQL_TOK_RPAREN) && cols.n > 0)
			break; /* a trailing comma before ')' */
		if (at_kw(p, "PRIMARY")) {
			struct cql_pos ppos = cur(p)->pos;
			next(p);
			TRY(cqlp_expect_kw(p, "KEY"));
			TRY(cqlp_expect(p, CQL_TOK_LPAREN));
			if (++n_pk_decl == 2)
				second_pk = ppos;
			pk.n = ck.n = 0;
			if (accept(p, CQL_TOK_LPAREN)) {
				struct cql_ident *ids;
				uint32_t n;
				TRY(cqlp_ident_list(p, &ids, &n));
				for (uint32_t i = 0; i < n; i++)
					TRY(PUSH(p, &pk, ids[i]));
			} else {
				struct cql_ident id = {0};
				TRY(cqlp_ident(p, &id));
				TRY(PUSH(p, &pk, id));
			}
			while (accept(p, CQL_TOK_COMMA)) {
				struct cql_ident id = {0};
				TRY(cqlp_ident(p, &id));
				TRY(PUSH(p, &ck, id));
			}
			TRY(cqlp_expect(p, CQL_TOK_RPAREN));
		} else {
			struct cql_column_def d = {0};
			TRY(column_def(p, &d));
			if (at_kw(p, "PRIMARY")) {
				struct cql_pos ppos = cur(p)->pos;
				next(p);
				TRY(cqlp_expect_kw(p, "KEY"));
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
	TRY(cqlp_expect(p, CQL_TOK_RPAREN));
	if (n_pk_decl > 1)
		return cqlp_error_at_pos(p, COL_EINVAL, second_pk,
		                         "Multiple PRIMARY KEYs specified (exactly one required)");
	if (n_pk_decl == 0)
		return cqlp_error_at_pos(p, COL_EINVAL, st->pos,
		                         "No PRIMARY KEY specified (exactly one required)");
	q->columns = cols.items;
	q->n_columns = cols.n;
	q->partition_key = pk.items;
	q->n_partition_key = pk.n;
	q->clustering_key = ck.items;
	q->n_clustering_key = ck.n;
	if (accept_kw(p, "WITH")) {
		struct vec opts = {0};
		TRY(cqlp_properties(p, &opts, q));
		q->options = opts.items;
		q->n_options = opts.n;
	}
	return 0;
}

static int alter_table(struct parser *p, struct cql_stmt *st)
{
	struct cql_alter_table *q = &st->alter_table;
	TRY(ks_if_exists(p, &q->if_exists));
	TRY(cqlp_qname(p, &q->table));
	if (accept_kw(p, "ADD")) {
		q->kind = CQL_ALTER_ADD;
		struct vec defs = {0};
		if (accept(p, CQL_TOK_LPAREN)) {
			do {
				struct cql_column_def d = {0};
				TRY(column_def(p, &d));
				TRY(PUSH(p, &defs, d));
			} while (accept(p, CQL_TOK_COMMA));
			TRY(cqlp_expect(p, CQL_TOK_RPAREN));
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
			TRY(cqlp_ident_list(p, &q->drop, &q->n_drop));
		} else {
			NEW(p, q->drop);
			q->n_drop = 1;
			TRY(cqlp_ident(p, &q->drop[0]));
		}
	} else if (accept_kw(p, "WITH")) {
		q->kind = CQL_ALTER_WITH;
		struct vec opts = {0};
		TRY(cqlp_properties(p, &opts, NULL));
		q->options = opts.items;
		q->n_options = opts.n;
	} else if (accept_kw(p, "RENAME")) {
		q->kind = CQL_ALTER_RENAME;
		struct vec from = {0}, to = {0};
		do {
			struct cql_ident a = {0}, b = {0};
			TRY(cqlp_ident(p, &a));
			TRY(cqlp_expect_kw(p, "TO"));
			TRY(cqlp_ident(p, &b));
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
		TRY(cqlp_ident(p, &q->add[0].name));
		TRY(cqlp_expect_kw(p, "TYPE"));
		TRY(cqlp_type(p, &q->add[0].type));
	} else {
		return cqlp_expecting(p, "K_ADD, K_DROP, K_WITH, K_RENAME or K_ALTER");
	}
	return 0;
}

/* After CREATE/ALTER/DROP TYPE: the rest of the statement (struct cql_type_stmt). */
static int type_stmt(struct parser *p, struct cql_stmt *st, bool create, bool alter)
{
	struct cql_type_stmt *q = &st->type_stmt;
	if (create)
		TRY(ks_if_not_exists(p, &q->if_not_exists));
	else if (!alter)
		TRY(ks_if_exists(p, &q->if_exists));
	TRY(cqlp_qname(p, &q->type));
	if (!create && !alter)
		return 0;
	struct vec fields = {0};
	if (create) {
		TRY(cqlp_expect(p, CQL_TOK_LPAREN));
		do {
			struct cql_column_def d = {0};
			TRY(cqlp_ident(p, &d.name));
			TRY(cqlp_type(p, &d.type));
			TRY(PUSH(p, &fields, d));
		} while (accept(p, CQL_TOK_COMMA));
		TRY(cqlp_expect(p, CQL_TOK_RPAREN));
	} else if (accept_kw(p, "ADD")) {
		struct cql_column_def d = {0};
		TRY(cqlp_ident(p, &d.name));
		TRY(cqlp_type(p, &d.type));
		TRY(PUSH(p, &fields, d));
	} else if (accept_kw(p, "RENAME")) {
		struct vec from = {0}, to = {0};
		do {
			struct cql_ident a = {0}, b = {0};
			TRY(cqlp_ident(p, &a));
			TRY(cqlp_expect_kw(p, "TO"));
			TRY(cqlp_ident(p, &b));
			TRY(PUSH(p, &from, a));
			TRY(PUSH(p, &to, b));
		} while (accept_kw(p, "AND"));
		q->rename = true;
		q->rename_from = from.items;
		q->rename_to = to.items;
		q->n_rename = from.n;
		return 0;
	} else if (at_kw(p, "ALTER")) {
		return cqlp_unsupported(p, cur(p)->pos, "ALTER TYPE ... ALTER");
	} else {
		return cqlp_expecting(p, "K_ADD, K_RENAME or K_ALTER");
	}
	q->fields = fields.items;
	q->n_fields = fields.n;
	return 0;
}

int cqlp_unsupported(struct parser *p, struct cql_pos pos, const char *what)
{
	return cerr_set(p->err, COL_EUNSUPPORTED, "line %u:%u %s is not supported by colonnade",
	                pos.line, pos.col, what);
}

/* The column of CREATE INDEX: col, or KEYS / VALUES / ENTRIES / FULL (col). */
static int index_target(struct parser *p, struct cql_create_index *ci)
{
	static const struct {
		const char *kw;
		enum cql_index_target t;
	} fns[] = {{"KEYS", CQL_INDEX_KEYS},
	           {"VALUES", CQL_INDEX_VALUES},
	           {"ENTRIES", CQL_INDEX_ENTRIES},
	           {"FULL", CQL_INDEX_FULL}};
	ci->target = CQL_INDEX_PLAIN;
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		if (at_kw(p, fns[i].kw) && peek(p, 1)->kind == CQL_TOK_LPAREN) {
			next(p);
			next(p);
			ci->target = fns[i].t;
			TRY(cqlp_ident(p, &ci->column));
			return cqlp_expect(p, CQL_TOK_RPAREN);
		}
	return cqlp_ident(p, &ci->column);
}

/* CREATE INDEX [IF NOT EXISTS] [name] ON [ks.]t (target) */
static int create_index(struct parser *p, struct cql_create_index *ci)
{
	TRY(ks_if_not_exists(p, &ci->if_not_exists));
	if (!at_kw(p, "ON"))
		TRY(cqlp_ident(p, &ci->name));
	TRY(cqlp_expect_kw(p, "ON"));
	TRY(cqlp_qname(p, &ci->table));
	TRY(cqlp_expect(p, CQL_TOK_LPAREN));
	TRY(index_target(p, ci));
	return cqlp_expect(p, CQL_TOK_RPAREN);
}

/* CREATE/ALTER/DROP + object */
int cqlp_ddl(struct parser *p, struct cql_stmt **out)
{
	struct cql_token verb = next(p);
	bool create = cql_token_is_word(&verb, "CREATE"), alter = cql_token_is_word(&verb, "ALTER");
	const struct cql_token *obj = cur(p);
	struct cql_stmt *st = NULL;
	if (cql_token_is_word(obj, "KEYSPACE") || cql_token_is_word(obj, "SCHEMA")) {
		next(p);
		TRY(cqlp_new_stmt(p,
		                  create  ? CQL_STMT_CREATE_KEYSPACE
		                  : alter ? CQL_STMT_ALTER_KEYSPACE
		                          : CQL_STMT_DROP_KEYSPACE,
		                  verb.pos, &st));
		struct cql_keyspace_stmt *q = &st->keyspace;
		if (create)
			TRY(ks_if_not_exists(p, &q->if_not_exists));
		else
			TRY(ks_if_exists(p, &q->if_exists));
		TRY(cqlp_ident(p, &q->keyspace));
		if (create || alter) {
			TRY(cqlp_expect_kw(p, "WITH"));
			struct vec opts = {0};
			TRY(cqlp_properties(p, &opts, NULL));
			q->options = opts.items;
			q->n_options = opts.n;
		}
		*out = st;
		return 0;
	}
	if (cql_token_is_word(obj, "TABLE") || cql_token_is_word(obj, "COLUMNFAMILY")) {
		next(p);
		TRY(cqlp_new_stmt(p,
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
		return cqlp_qname(p, &st->drop_table.table);
	}
	if (cql_token_is_word(obj, "ROLE") || cql_token_is_word(obj, "USER"))
		return cqlp_role_ddl(p, &verb, out);
	if (!alter && cql_token_is_word(obj, "INDEX")) {
		next(p);
		TRY(cqlp_new_stmt(p, create ? CQL_STMT_CREATE_INDEX : CQL_STMT_DROP_INDEX, verb.pos,
		                  &st));
		*out = st;
		if (create)
			return create_index(p, &st->create_index);
		TRY(ks_if_exists(p, &st->drop_index.if_exists));
		return cqlp_qname(p, &st->drop_index.index);
	}
	if (cql_token_is_word(obj, "TYPE")) {
		next(p);
		TRY(cqlp_new_stmt(p,
		                  create  ? CQL_STMT_CREATE_TYPE
		                  : alter ? CQL_STMT_ALTER_TYPE
		                          : CQL_STMT_DROP_TYPE,
		                  verb.pos, &st));
		*out = st;
		return type_stmt(p, st, create, alter);
	}
	static const char *const others[] = {
	        "INDEX", "FUNCTION", "AGGREGATE", "MATERIALIZED", "TRIGGER", "CUSTOM", "OR",
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
			return cqlp_unsupported(p, verb.pos, what);
		}
	}
	return cqlp_expecting(p, "K_KEYSPACE, K_TABLE, K_ROLE or K_USER");
}
