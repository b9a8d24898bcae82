/*
 * cql_ast.c — the statement arena, names of AST enums, and the canonical
 * printer (see cql_ast.h).
 */
#include "coordinator/cql/cql_ast.h"
#include "coordinator/cql/cql_lexer.h"
#include "core/cqltype.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- arena */

struct arena_chunk {
	struct arena_chunk *next;
	size_t size; /* usable bytes after the header */
	size_t used;
	_Alignas(16) unsigned char data[];
};

struct cql_arena {
	struct arena_chunk *head; /* the chunk being filled; older ones follow */
	size_t total;             /* bytes of chunks allocated (the bound applies to this) */
	size_t handed;            /* bytes handed out */
};

/* Small statements fit in the first chunk; later chunks double up to 64 KiB so a
 * big batch costs few mallocs without wasting much on small ones. */
#define ARENA_FIRST_CHUNK 2048
#define ARENA_MAX_CHUNK   (64 * 1024)

struct cql_arena *cql_arena_new(void)
{
	return calloc(1, sizeof(struct cql_arena));
}

void cql_arena_free(struct cql_arena *a)
{
	if (!a)
		return;
	struct arena_chunk *c = a->head;
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	free(a);
}

void cql_arena_reset(struct cql_arena *a)
{
	struct arena_chunk *c = a->head, *keep = NULL;
	while (c) {
		struct arena_chunk *next = c->next;
		/* the first chunk is the last on the list (later ones go before it) */
		if (!next && c->size == ARENA_FIRST_CHUNK)
			keep = c;
		else
			free(c);
		c = next;
	}
	a->head = keep;
	a->total = keep ? keep->size : 0;
	a->handed = 0;
	if (keep) {
		keep->used = 0;
		keep->next = NULL;
	}
}

void *cql_arena_alloc(struct cql_arena *a, size_t n)
{
	if (n > CQL_ARENA_MAX_BYTES)
		return NULL;
	size_t need = (n + 15) & ~(size_t)15;
	if (need == 0)
		need = 16;
	struct arena_chunk *c = a->head;
	if (!c || c->size - c->used < need) {
		size_t size = c ? c->size * 2 : ARENA_FIRST_CHUNK;
		if (size > ARENA_MAX_CHUNK)
			size = ARENA_MAX_CHUNK;
		if (size < need)
			size = need;
		if (a->total + size > CQL_ARENA_MAX_BYTES)
			return NULL;
		struct arena_chunk *nc = malloc(sizeof(*nc) + size);
		if (!nc)
			return NULL;
		nc->size = size;
		nc->used = 0;
		a->total += size;
		if (c && size == need && c->size - c->used >= 256) {
			/* a big one-off block: keep filling the current chunk */
			nc->next = c->next;
			c->next = nc;
		} else {
			nc->next = c;
			a->head = nc;
		}
		c = nc;
	}
	void *p = c->data + c->used;
	c->used += need;
	a->handed += need;
	memset(p, 0, n);
	return p;
}

char *cql_arena_strndup(struct cql_arena *a, const char *s, size_t n)
{
	if (n == SIZE_MAX)
		return NULL;
	char *p = cql_arena_alloc(a, n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

size_t cql_arena_used(const struct cql_arena *a)
{
	return a->handed;
}

/* ---------------------------------------------------------------- names */

const char *cql_stmt_kind_name(enum cql_stmt_kind k)
{
	switch (k) {
	case CQL_STMT_SELECT: return "SELECT";
	case CQL_STMT_INSERT: return "INSERT";
	case CQL_STMT_UPDATE: return "UPDATE";
	case CQL_STMT_DELETE: return "DELETE";
	case CQL_STMT_BATCH: return "BATCH";
	case CQL_STMT_USE: return "USE";
	case CQL_STMT_CREATE_KEYSPACE: return "CREATE KEYSPACE";
	case CQL_STMT_ALTER_KEYSPACE: return "ALTER KEYSPACE";
	case CQL_STMT_DROP_KEYSPACE: return "DROP KEYSPACE";
	case CQL_STMT_CREATE_TABLE: return "CREATE TABLE";
	case CQL_STMT_ALTER_TABLE: return "ALTER TABLE";
	case CQL_STMT_DROP_TABLE: return "DROP TABLE";
	case CQL_STMT_TRUNCATE: return "TRUNCATE";
	case CQL_STMT_DESCRIBE: return "DESCRIBE";
	case CQL_STMT_CREATE_ROLE: return "CREATE ROLE";
	case CQL_STMT_ALTER_ROLE: return "ALTER ROLE";
	case CQL_STMT_DROP_ROLE: return "DROP ROLE";
	case CQL_STMT_GRANT_ROLE: return "GRANT ROLE";
	case CQL_STMT_REVOKE_ROLE: return "REVOKE ROLE";
	case CQL_STMT_LIST_ROLES: return "LIST ROLES";
	case CQL_STMT_GRANT_PERMISSION: return "GRANT";
	case CQL_STMT_REVOKE_PERMISSION: return "REVOKE";
	case CQL_STMT_LIST_PERMISSIONS: return "LIST PERMISSIONS";
	case CQL_STMT_CREATE_INDEX: return "CREATE INDEX";
	case CQL_STMT_DROP_INDEX: return "DROP INDEX";
	case CQL_STMT_CREATE_TYPE: return "CREATE TYPE";
	case CQL_STMT_ALTER_TYPE: return "ALTER TYPE";
	case CQL_STMT_DROP_TYPE: return "DROP TYPE";
	}
	return "?";
}

const char *cql_op_name(enum cql_op op)
{
	switch (op) {
	case CQL_OP_NONE: return "";
	case CQL_OP_EQ: return "=";
	case CQL_OP_NEQ: return "!=";
	case CQL_OP_LT: return "<";
	case CQL_OP_LTE: return "<=";
	case CQL_OP_GT: return ">";
	case CQL_OP_GTE: return ">=";
	case CQL_OP_IN: return "IN";
	case CQL_OP_CONTAINS: return "CONTAINS";
	case CQL_OP_CONTAINS_KEY: return "CONTAINS KEY";
	case CQL_OP_LIKE: return "LIKE";
	}
	return "?";
}

const char *cql_term_kind_name(enum cql_term_kind k)
{
	switch (k) {
	case CQL_TERM_NULL: return "null";
	case CQL_TERM_STRING: return "string";
	case CQL_TERM_INTEGER: return "integer";
	case CQL_TERM_FLOAT: return "float";
	case CQL_TERM_DURATION: return "duration";
	case CQL_TERM_BOOL: return "boolean";
	case CQL_TERM_UUID: return "uuid";
	case CQL_TERM_BLOB: return "blob";
	case CQL_TERM_LIST: return "list";
	case CQL_TERM_SET: return "set";
	case CQL_TERM_MAP: return "map";
	case CQL_TERM_TUPLE: return "tuple";
	case CQL_TERM_UDT: return "user type";
	case CQL_TERM_BIND: return "bind marker";
	case CQL_TERM_FUNC: return "function call";
	case CQL_TERM_IDENT: return "identifier";
	}
	return "?";
}

/* -------------------------------------------------------------- printer */

/* Words the lexer would not read as identifiers. */
static bool lexer_keyword(const char *word)
{
	return cql_is_reserved(word, strlen(word)) || !strcmp(word, "true") ||
	       !strcmp(word, "false");
}

void cql_name_format(const char *name, struct buf *out)
{
	cql_quote_name(out, name, lexer_keyword);
}

void cql_ident_format(const struct cql_ident *id, struct buf *out)
{
	cql_name_format(id->name, out);
}

static void qname_format(const struct cql_qname *q, struct buf *out)
{
	if (!q->ks.name && !strcmp(q->name.name, "token")) {
		buf_put_str(out, "token"); /* reserved, yet valid as a function name */
		return;
	}
	if (q->ks.name) {
		cql_ident_format(&q->ks, out);
		buf_put_u8(out, '.');
	}
	cql_ident_format(&q->name, out);
}

static void terms_format(struct cql_term *const *items, uint32_t n, struct buf *out)
{
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			buf_put_str(out, ", ");
		cql_term_format(items[i], out);
	}
}

void cql_term_format(const struct cql_term *t, struct buf *out)
{
	switch (t->kind) {
	case CQL_TERM_STRING: cql_quote_string(out, t->text, t->text_len); break;
	case CQL_TERM_NULL:
	case CQL_TERM_INTEGER:
	case CQL_TERM_FLOAT:
	case CQL_TERM_BOOL:
	case CQL_TERM_UUID:
	case CQL_TERM_BLOB:
	case CQL_TERM_DURATION:
	case CQL_TERM_IDENT: buf_put(out, t->text, t->text_len); break;
	case CQL_TERM_LIST:
		buf_put_u8(out, '[');
		terms_format(t->coll.items, t->coll.n_items, out);
		buf_put_u8(out, ']');
		break;
	case CQL_TERM_SET:
		buf_put_u8(out, '{');
		terms_format(t->coll.items, t->coll.n_items, out);
		buf_put_u8(out, '}');
		break;
	case CQL_TERM_TUPLE:
		buf_put_u8(out, '(');
		terms_format(t->coll.items, t->coll.n_items, out);
		buf_put_u8(out, ')');
		break;
	case CQL_TERM_UDT:
		buf_put_u8(out, '{');
		for (uint32_t i = 0; i < t->udt.n_fields; i++) {
			if (i)
				buf_put_str(out, ", ");
			cql_ident_format(&t->udt.names[i], out);
			buf_put_str(out, ": ");
			cql_term_format(t->udt.values[i], out);
		}
		buf_put_u8(out, '}');
		break;
	case CQL_TERM_MAP:
		buf_put_u8(out, '{');
		for (uint32_t i = 0; i < t->map.n_entries; i++) {
			if (i)
				buf_put_str(out, ", ");
			cql_term_format(t->map.keys[i], out);
			buf_put_str(out, ": ");
			cql_term_format(t->map.values[i], out);
		}
		buf_put_u8(out, '}');
		break;
	case CQL_TERM_BIND:
		if (t->bind.name) {
			buf_put_u8(out, ':');
			cql_name_format(t->bind.name, out);
		} else {
			buf_put_u8(out, '?');
		}
		break;
	case CQL_TERM_FUNC:
		qname_format(&t->func.name, out);
		buf_put_u8(out, '(');
		terms_format(t->func.args, t->func.n_args, out);
		buf_put_u8(out, ')');
		break;
	}
}

static void type_format(const struct cql_type *t, struct buf *out)
{
	buf_put_str(out, t->text);
}

static void using_format(const struct cql_using *u, struct buf *out)
{
	if (!u->ttl && !u->timestamp)
		return;
	buf_put_str(out, " USING ");
	if (u->ttl) {
		buf_put_str(out, "TTL ");
		cql_term_format(u->ttl, out);
	}
	if (u->timestamp) {
		buf_put_str(out, u->ttl ? " AND TIMESTAMP " : "TIMESTAMP ");
		cql_term_format(u->timestamp, out);
	}
}

static void idents_format(const struct cql_ident *ids, uint32_t n, struct buf *out)
{
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			buf_put_str(out, ", ");
		cql_ident_format(&ids[i], out);
	}
}

void cql_relation_format(const struct cql_relation *r, struct buf *out)
{
	switch (r->kind) {
	case CQL_REL_COLUMN: cql_ident_format(&r->cols[0], out); break;
	case CQL_REL_ELEMENT:
		cql_ident_format(&r->cols[0], out);
		buf_put_u8(out, '[');
		cql_term_format(r->key, out);
		buf_put_u8(out, ']');
		break;
	case CQL_REL_MULTI:
	case CQL_REL_TOKEN:
		buf_put_str(out, r->kind == CQL_REL_TOKEN ? "token(" : "(");
		idents_format(r->cols, r->n_cols, out);
		buf_put_u8(out, ')');
		break;
	}
	buf_put_u8(out, ' ');
	buf_put_str(out, cql_op_name(r->op));
	buf_put_u8(out, ' ');
	if (r->op == CQL_OP_IN && r->n_in > 0) {
		buf_put_u8(out, '(');
		terms_format(r->in_items, r->n_in, out);
		buf_put_u8(out, ')');
	} else if (r->op == CQL_OP_IN && r->term == NULL) {
		buf_put_str(out, "()");
	} else {
		cql_term_format(r->term, out);
	}
}

static void relations_format(const char *kw, struct cql_relation *const *rels, uint32_t n,
                             struct buf *out)
{
	for (uint32_t i = 0; i < n; i++) {
		buf_put_str(out, i ? " AND " : kw);
		cql_relation_format(rels[i], out);
	}
}

static void conditions_format(const struct cql_conditions *c, struct buf *out)
{
	if (c->if_exists)
		buf_put_str(out, " IF EXISTS");
	relations_format(" IF ", c->conds, c->n_conds, out);
}

static void options_format(const char *kw, const struct cql_option *o, uint32_t n, struct buf *out)
{
	for (uint32_t i = 0; i < n; i++) {
		buf_put_str(out, i ? " AND " : kw);
		cql_ident_format(&o[i].name, out);
		buf_put_str(out, " = ");
		cql_term_format(o[i].value, out);
	}
}

static void selector_format(const struct cql_selector *s, struct buf *out)
{
	switch (s->kind) {
	case CQL_SEL_COLUMN: cql_ident_format(&s->column, out); break;
	case CQL_SEL_COUNT: buf_put_str(out, "COUNT(*)"); break;
	case CQL_SEL_WRITETIME:
	case CQL_SEL_TTL:
		buf_put_str(out, s->kind == CQL_SEL_TTL ? "TTL(" : "WRITETIME(");
		cql_ident_format(&s->column, out);
		buf_put_u8(out, ')');
		break;
	case CQL_SEL_FUNC:
		qname_format(&s->func, out);
		buf_put_u8(out, '(');
		for (uint32_t i = 0; i < s->n_args; i++) {
			if (i)
				buf_put_str(out, ", ");
			selector_format(&s->args[i], out);
		}
		buf_put_u8(out, ')');
		break;
	case CQL_SEL_TERM: cql_term_format(s->term, out); break;
	case CQL_SEL_CAST:
		buf_put_str(out, "CAST(");
		selector_format(&s->args[0], out);
		buf_put_str(out, " AS ");
		type_format(s->cast_type, out);
		buf_put_u8(out, ')');
		break;
	case CQL_SEL_ELEMENT:
	case CQL_SEL_SLICE:
		selector_format(&s->args[0], out);
		buf_put_u8(out, '[');
		if (s->term)
			cql_term_format(s->term, out);
		if (s->kind == CQL_SEL_SLICE) {
			buf_put_str(out, "..");
			if (s->term2)
				cql_term_format(s->term2, out);
		}
		buf_put_u8(out, ']');
		break;
	case CQL_SEL_FIELD:
		selector_format(&s->args[0], out);
		buf_put_u8(out, '.');
		cql_ident_format(&s->column, out);
		break;
	}
	if (s->alias.name) {
		buf_put_str(out, " AS ");
		cql_ident_format(&s->alias, out);
	}
}

static void orderings_format(const struct cql_ordering *o, uint32_t n, struct buf *out)
{
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			buf_put_str(out, ", ");
		cql_ident_format(&o[i].column, out);
		buf_put_str(out, o[i].desc ? " DESC" : " ASC");
	}
}

static void column_defs_format(const struct cql_column_def *c, uint32_t n, struct buf *out)
{
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			buf_put_str(out, ", ");
		cql_ident_format(&c[i].name, out);
		buf_put_u8(out, ' ');
		type_format(c[i].type, out);
		if (c[i].is_static)
			buf_put_str(out, " STATIC");
	}
}

static void stmt_format(const struct cql_stmt *s, struct buf *out);

static void select_format(const struct cql_select *q, struct buf *out)
{
	buf_put_str(out, "SELECT ");
	if (q->json)
		buf_put_str(out, "JSON ");
	if (q->distinct)
		buf_put_str(out, "DISTINCT ");
	if (q->star)
		buf_put_u8(out, '*');
	for (uint32_t i = 0; i < q->n_selectors; i++) {
		if (i)
			buf_put_str(out, ", ");
		selector_format(&q->selectors[i], out);
	}
	buf_put_str(out, " FROM ");
	qname_format(&q->table, out);
	relations_format(" WHERE ", q->where, q->n_where, out);
	if (q->n_group_by) {
		buf_put_str(out, " GROUP BY ");
		idents_format(q->group_by, q->n_group_by, out);
	}
	if (q->n_order_by) {
		buf_put_str(out, " ORDER BY ");
		orderings_format(q->order_by, q->n_order_by, out);
	}
	if (q->per_partition_limit) {
		buf_put_str(out, " PER PARTITION LIMIT ");
		cql_term_format(q->per_partition_limit, out);
	}
	if (q->limit) {
		buf_put_str(out, " LIMIT ");
		cql_term_format(q->limit, out);
	}
	if (q->allow_filtering)
		buf_put_str(out, " ALLOW FILTERING");
}

static void insert_format(const struct cql_insert *q, struct buf *out)
{
	buf_put_str(out, "INSERT INTO ");
	qname_format(&q->table, out);
	if (q->json) {
		buf_put_str(out, " JSON ");
		cql_term_format(q->values[0], out);
		if (q->default_unset)
			buf_put_str(out, " DEFAULT UNSET");
	} else {
		buf_put_str(out, " (");
		idents_format(q->columns, q->n_columns, out);
		buf_put_str(out, ") VALUES (");
		terms_format(q->values, q->n_columns, out);
		buf_put_u8(out, ')');
	}
	if (q->if_not_exists)
		buf_put_str(out, " IF NOT EXISTS");
	using_format(&q->using, out);
}

static void update_format(const struct cql_update *q, struct buf *out)
{
	buf_put_str(out, "UPDATE ");
	qname_format(&q->table, out);
	using_format(&q->using, out);
	buf_put_str(out, " SET ");
	for (uint32_t i = 0; i < q->n_assignments; i++) {
		const struct cql_assignment *a = q->assignments[i];
		if (i)
			buf_put_str(out, ", ");
		cql_ident_format(&a->column, out);
		switch (a->kind) {
		case CQL_ASSIGN_SET: buf_put_str(out, " = "); break;
		case CQL_ASSIGN_ADD: buf_put_str(out, " += "); break;
		case CQL_ASSIGN_SUB: buf_put_str(out, " -= "); break;
		case CQL_ASSIGN_PREPEND:
			buf_put_str(out, " = ");
			cql_term_format(a->value, out);
			buf_put_str(out, " + ");
			cql_ident_format(&a->column, out);
			continue;
		case CQL_ASSIGN_ELEMENT:
			buf_put_u8(out, '[');
			cql_term_format(a->key, out);
			buf_put_str(out, "] = ");
			break;
		case CQL_ASSIGN_FIELD:
			buf_put_u8(out, '.');
			cql_ident_format(&a->field, out);
			buf_put_str(out, " = ");
			break;
		}
		cql_term_format(a->value, out);
	}
	relations_format(" WHERE ", q->where, q->n_where, out);
	conditions_format(&q->cond, out);
}

static void delete_format(const struct cql_delete *q, struct buf *out)
{
	buf_put_str(out, "DELETE ");
	for (uint32_t i = 0; i < q->n_targets; i++) {
		if (i)
			buf_put_str(out, ", ");
		cql_ident_format(&q->targets[i]->column, out);
		if (q->targets[i]->key) {
			buf_put_u8(out, '[');
			cql_term_format(q->targets[i]->key, out);
			buf_put_u8(out, ']');
		} else if (q->targets[i]->field.name) {
			buf_put_u8(out, '.');
			cql_ident_format(&q->targets[i]->field, out);
		}
	}
	buf_put_str(out, q->n_targets ? " FROM " : "FROM ");
	qname_format(&q->table, out);
	using_format(&q->using, out);
	relations_format(" WHERE ", q->where, q->n_where, out);
	conditions_format(&q->cond, out);
}

static void batch_format(const struct cql_batch *q, struct buf *out)
{
	buf_put_str(out, q->type == CQL_BATCH_UNLOGGED  ? "BEGIN UNLOGGED BATCH"
	                 : q->type == CQL_BATCH_COUNTER ? "BEGIN COUNTER BATCH"
	                                                : "BEGIN BATCH");
	using_format(&q->using, out);
	for (uint32_t i = 0; i < q->n_stmts; i++) {
		buf_put_u8(out, ' ');
		stmt_format(q->stmts[i], out);
		buf_put_u8(out, ';');
	}
	buf_put_str(out, " APPLY BATCH");
}

static void create_index_format(const struct cql_create_index *ci, struct buf *out)
{
	static const char *const fn[] = {
	        [CQL_INDEX_KEYS] = "KEYS",
	        [CQL_INDEX_VALUES] = "VALUES",
	        [CQL_INDEX_ENTRIES] = "ENTRIES",
	        [CQL_INDEX_FULL] = "FULL",
	};
	buf_put_str(out, "CREATE INDEX ");
	if (ci->if_not_exists)
		buf_put_str(out, "IF NOT EXISTS ");
	if (ci->name.name) {
		cql_ident_format(&ci->name, out);
		buf_put_u8(out, ' ');
	}
	buf_put_str(out, "ON ");
	qname_format(&ci->table, out);
	buf_put_str(out, " (");
	if (ci->target != CQL_INDEX_PLAIN) {
		buf_put_str(out, fn[ci->target]);
		buf_put_u8(out, '(');
	}
	cql_ident_format(&ci->column, out);
	if (ci->target != CQL_INDEX_PLAIN)
		buf_put_u8(out, ')');
	buf_put_u8(out, ')');
}

static void create_table_format(const struct cql_create_table *q, struct buf *out)
{
	buf_put_str(out, "CREATE TABLE ");
	if (q->if_not_exists)
		buf_put_str(out, "IF NOT EXISTS ");
	qname_format(&q->table, out);
	buf_put_str(out, " (");
	column_defs_format(q->columns, q->n_columns, out);
	buf_put_str(out, q->n_columns ? ", PRIMARY KEY ((" : "PRIMARY KEY ((");
	idents_format(q->partition_key, q->n_partition_key, out);
	buf_put_u8(out, ')');
	for (uint32_t i = 0; i < q->n_clustering_key; i++) {
		buf_put_str(out, ", ");
		cql_ident_format(&q->clustering_key[i], out);
	}
	buf_put_str(out, "))");
	const char *kw = " WITH ";
	if (q->compact_storage) {
		buf_put_str(out, " WITH COMPACT STORAGE");
		kw = " AND ";
	}
	if (q->n_clustering_order) {
		buf_put_str(out, kw);
		buf_put_str(out, "CLUSTERING ORDER BY (");
		orderings_format(q->clustering_order, q->n_clustering_order, out);
		buf_put_u8(out, ')');
		kw = " AND ";
	}
	options_format(kw, q->options, q->n_options, out);
}

static void type_stmt_format(enum cql_stmt_kind kind, const struct cql_type_stmt *q,
                             struct buf *out)
{
	buf_put_str(out, kind == CQL_STMT_CREATE_TYPE  ? "CREATE TYPE "
	                 : kind == CQL_STMT_ALTER_TYPE ? "ALTER TYPE "
	                                               : "DROP TYPE ");
	if (q->if_not_exists)
		buf_put_str(out, "IF NOT EXISTS ");
	if (q->if_exists)
		buf_put_str(out, "IF EXISTS ");
	qname_format(&q->type, out);
	if (kind == CQL_STMT_DROP_TYPE)
		return;
	if (kind == CQL_STMT_ALTER_TYPE && q->rename) {
		buf_put_str(out, " RENAME ");
		for (uint32_t i = 0; i < q->n_rename; i++) {
			if (i)
				buf_put_str(out, " AND ");
			cql_ident_format(&q->rename_from[i], out);
			buf_put_str(out, " TO ");
			cql_ident_format(&q->rename_to[i], out);
		}
		return;
	}
	buf_put_str(out, kind == CQL_STMT_ALTER_TYPE ? " ADD " : " (");
	for (uint32_t i = 0; i < q->n_fields; i++) {
		if (i)
			buf_put_str(out, ", ");
		cql_ident_format(&q->fields[i].name, out);
		buf_put_u8(out, ' ');
		type_format(q->fields[i].type, out);
	}
	if (kind == CQL_STMT_CREATE_TYPE)
		buf_put_u8(out, ')');
}

static void alter_table_format(const struct cql_alter_table *q, struct buf *out)
{
	buf_put_str(out, "ALTER TABLE ");
	if (q->if_exists)
		buf_put_str(out, "IF EXISTS ");
	qname_format(&q->table, out);
	switch (q->kind) {
	case CQL_ALTER_ADD:
		buf_put_str(out, " ADD (");
		column_defs_format(q->add, q->n_add, out);
		buf_put_u8(out, ')');
		break;
	case CQL_ALTER_DROP:
		buf_put_str(out, " DROP (");
		idents_format(q->drop, q->n_drop, out);
		buf_put_u8(out, ')');
		break;
	case CQL_ALTER_WITH: options_format(" WITH ", q->options, q->n_options, out); break;
	case CQL_ALTER_RENAME:
		buf_put_str(out, " RENAME ");
		for (uint32_t i = 0; i < q->n_rename; i++) {
			if (i)
				buf_put_str(out, " AND ");
			cql_ident_format(&q->rename_from[i], out);
			buf_put_str(out, " TO ");
			cql_ident_format(&q->rename_to[i], out);
		}
		break;
	case CQL_ALTER_TYPE:
		buf_put_str(out, " ALTER ");
		cql_ident_format(&q->add[0].name, out);
		buf_put_str(out, " TYPE ");
		type_format(q->add[0].type, out);
		break;
	}
}

static void keyspace_format(enum cql_stmt_kind kind, const struct cql_keyspace_stmt *q,
                            struct buf *out)
{
	buf_put_str(out, kind == CQL_STMT_CREATE_KEYSPACE  ? "CREATE KEYSPACE "
	                 : kind == CQL_STMT_ALTER_KEYSPACE ? "ALTER KEYSPACE "
	                                                   : "DROP KEYSPACE ");
	if (q->if_not_exists)
		buf_put_str(out, "IF NOT EXISTS ");
	if (q->if_exists)
		buf_put_str(out, "IF EXISTS ");
	cql_ident_format(&q->keyspace, out);
	options_format(" WITH ", q->options, q->n_options, out);
}

/* A lower-case word that selects a form of DESCRIBE when unquoted. */
static bool describe_word(const char *name)
{
	static const char *const w[] = {
	        "cluster",    "full",     "schema",         "keyspaces", "only",
	        "keyspace",   "tables",   "columnfamilies", "types",     "functions",
	        "aggregates", "table",    "columnfamily",   "index",     "materialized",
	        "type",       "function", "aggregate"};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (strcmp(name, w[i]) == 0)
			return true;
	return false;
}

static void describe_format(const struct cql_describe *d, struct buf *out)
{
	static const char *const words[] = {[CQL_DESC_CLUSTER] = "CLUSTER",
	                                    [CQL_DESC_SCHEMA] = "SCHEMA",
	                                    [CQL_DESC_KEYSPACES] = "KEYSPACES",
	                                    [CQL_DESC_KEYSPACE] = "KEYSPACE",
	                                    [CQL_DESC_TABLES] = "TABLES",
	                                    [CQL_DESC_TYPES] = "TYPES",
	                                    [CQL_DESC_FUNCTIONS] = "FUNCTIONS",
	                                    [CQL_DESC_AGGREGATES] = "AGGREGATES",
	                                    [CQL_DESC_TABLE] = "TABLE",
	                                    [CQL_DESC_INDEX] = "INDEX",
	                                    [CQL_DESC_VIEW] = "MATERIALIZED VIEW",
	                                    [CQL_DESC_TYPE] = "TYPE",
	                                    [CQL_DESC_FUNCTION] = "FUNCTION",
	                                    [CQL_DESC_AGGREGATE] = "AGGREGATE",
	                                    [CQL_DESC_GENERIC] = NULL};
	buf_put_str(out, "DESCRIBE ");
	if (d->full)
		buf_put_str(out, "FULL ");
	if (d->only)
		buf_put_str(out, "ONLY ");
	if (words[d->kind]) {
		buf_put_str(out, words[d->kind]);
		if (d->name.name.name)
			buf_put_u8(out, ' ');
	}
	if (d->kind == CQL_DESC_GENERIC &&
	    describe_word(d->name.ks.name ? d->name.ks.name : d->name.name.name)) {
		/* quoted, or it would read back as that form of DESCRIBE */
		const struct cql_ident *first = d->name.ks.name ? &d->name.ks : &d->name.name;
		buf_printf(out, "\"%s\"", first->name);
		if (d->name.ks.name) {
			buf_put_u8(out, '.');
			cql_ident_format(&d->name.name, out);
		}
	} else if (d->name.name.name) {
		qname_format(&d->name, out);
	}
	if (d->internals)
		buf_put_str(out, " WITH INTERNALS");
}

/* Role names are written as string literals: they keep their case exactly. */
static void role_format(const char *role, struct buf *out)
{
	cql_quote_string(out, role, strlen(role));
}

static void role_stmt_format(enum cql_stmt_kind kind, const struct cql_role_stmt *r,
                             struct buf *out)
{
	const char *obj = r->user_syntax ? "USER " : "ROLE ";
	buf_put_str(out, kind == CQL_STMT_CREATE_ROLE  ? "CREATE "
	                 : kind == CQL_STMT_ALTER_ROLE ? "ALTER "
	                                               : "DROP ");
	buf_put_str(out, obj);
	if (r->if_not_exists)
		buf_put_str(out, "IF NOT EXISTS ");
	if (r->if_exists)
		buf_put_str(out, "IF EXISTS ");
	role_format(r->role, out);
	if (kind == CQL_STMT_DROP_ROLE)
		return;
	if (r->user_syntax) {
		if (r->password) {
			buf_put_str(out, " WITH PASSWORD ");
			role_format(r->password, out);
		}
		if (r->superuser >= 0)
			buf_put_str(out, r->superuser ? " SUPERUSER" : " NOSUPERUSER");
		return;
	}
	const char *sep = " WITH ";
	if (r->password) {
		buf_put_str(out, sep);
		buf_put_str(out, "PASSWORD = ");
		role_format(r->password, out);
		sep = " AND ";
	}
	if (r->login >= 0) {
		buf_put_str(out, sep);
		buf_put_str(out, r->login ? "LOGIN = true" : "LOGIN = false");
		sep = " AND ";
	}
	if (r->superuser >= 0) {
		buf_put_str(out, sep);
		buf_put_str(out, r->superuser ? "SUPERUSER = true" : "SUPERUSER = false");
	}
}

static void resource_format(const struct cql_resource *r, struct buf *out)
{
	switch (r->kind) {
	case CQL_RES_ALL_KEYSPACES: buf_put_str(out, "ALL KEYSPACES"); break;
	case CQL_RES_KEYSPACE:
		buf_put_str(out, "KEYSPACE ");
		cql_ident_format(&r->keyspace, out);
		break;
	case CQL_RES_TABLE:
		buf_put_str(out, "TABLE ");
		qname_format(&r->table, out);
		break;
	case CQL_RES_ALL_ROLES: buf_put_str(out, "ALL ROLES"); break;
	case CQL_RES_ROLE:
		buf_put_str(out, "ROLE ");
		role_format(r->role, out);
		break;
	}
}

static void grant_stmt_format(enum cql_stmt_kind kind, const struct cql_grant_stmt *g,
                              struct buf *out)
{
	buf_put_str(out, kind == CQL_STMT_GRANT_PERMISSION    ? "GRANT "
	                 : kind == CQL_STMT_REVOKE_PERMISSION ? "REVOKE "
	                                                      : "LIST ");
	if (g->all) {
		buf_put_str(out, "ALL PERMISSIONS");
	} else {
		for (int i = 0; i < CQL_PERM_COUNT; i++)
			if (g->perms & (1u << i))
				buf_put_str(out, cql_permission_name((enum cql_permission)i));
		buf_put_str(out, " PERMISSION");
	}
	if (g->has_resource) {
		buf_put_str(out, " ON ");
		resource_format(&g->resource, out);
	}
	if (g->role) {
		buf_put_str(out, kind == CQL_STMT_GRANT_PERMISSION    ? " TO "
		                 : kind == CQL_STMT_REVOKE_PERMISSION ? " FROM "
		                                                      : " OF ");
		role_format(g->role, out);
	}
	if (g->norecursive)
		buf_put_str(out, " NORECURSIVE");
}

static void role_other_format(enum cql_stmt_kind kind, const struct cql_role_stmt *r,
                              struct buf *out)
{
	if (kind == CQL_STMT_LIST_ROLES) {
		buf_put_str(out, r->user_syntax ? "LIST USERS" : "LIST ROLES");
		if (r->role) {
			buf_put_str(out, " OF ");
			role_format(r->role, out);
		}
		if (r->norecursive)
			buf_put_str(out, " NORECURSIVE");
		return;
	}
	buf_put_str(out, kind == CQL_STMT_GRANT_ROLE ? "GRANT " : "REVOKE ");
	role_format(r->role, out);
	buf_put_str(out, kind == CQL_STMT_GRANT_ROLE ? " TO " : " FROM ");
	role_format(r->grantee, out);
}

/* A statement as canonical CQL text: one function per kind. */
static void stmt_format(const struct cql_stmt *s, struct buf *out)
{
	switch (s->kind) {
	case CQL_STMT_SELECT: select_format(&s->select, out); break;
	case CQL_STMT_INSERT: insert_format(&s->insert, out); break;
	case CQL_STMT_UPDATE: update_format(&s->update, out); break;
	case CQL_STMT_DELETE: delete_format(&s->del, out); break;
	case CQL_STMT_BATCH: batch_format(&s->batch, out); break;
	case CQL_STMT_USE:
		buf_put_str(out, "USE ");
		cql_ident_format(&s->use.keyspace, out);
		break;
	case CQL_STMT_CREATE_KEYSPACE:
	case CQL_STMT_ALTER_KEYSPACE:
	case CQL_STMT_DROP_KEYSPACE: keyspace_format(s->kind, &s->keyspace, out); break;
	case CQL_STMT_CREATE_TABLE: create_table_format(&s->create_table, out); break;
	case CQL_STMT_ALTER_TABLE: alter_table_format(&s->alter_table, out); break;
	case CQL_STMT_DROP_TABLE:
		buf_put_str(out, "DROP TABLE ");
		if (s->drop_table.if_exists)
			buf_put_str(out, "IF EXISTS ");
		qname_format(&s->drop_table.table, out);
		break;
	case CQL_STMT_CREATE_INDEX: create_index_format(&s->create_index, out); break;
	case CQL_STMT_CREATE_TYPE:
	case CQL_STMT_ALTER_TYPE:
	case CQL_STMT_DROP_TYPE: type_stmt_format(s->kind, &s->type_stmt, out); break;
	case CQL_STMT_DROP_INDEX:
		buf_put_str(out, "DROP INDEX ");
		if (s->drop_index.if_exists)
			buf_put_str(out, "IF EXISTS ");
		qname_format(&s->drop_index.index, out);
		break;
	case CQL_STMT_TRUNCATE:
		buf_put_str(out, "TRUNCATE ");
		qname_format(&s->truncate.table, out);
		break;
	case CQL_STMT_DESCRIBE: describe_format(&s->describe, out); break;
	case CQL_STMT_CREATE_ROLE:
	case CQL_STMT_ALTER_ROLE:
	case CQL_STMT_DROP_ROLE: role_stmt_format(s->kind, &s->role, out); break;
	case CQL_STMT_GRANT_ROLE:
	case CQL_STMT_REVOKE_ROLE:
	case CQL_STMT_LIST_ROLES: role_other_format(s->kind, &s->role, out); break;
	case CQL_STMT_GRANT_PERMISSION:
	case CQL_STMT_REVOKE_PERMISSION:
	case CQL_STMT_LIST_PERMISSIONS: grant_stmt_format(s->kind, &s->grant, out); break;
	}
}

void cql_stmt_format(const struct cql_stmt *s, struct buf *out)
{
	stmt_format(s, out);
}
