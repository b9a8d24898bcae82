#include "coordinator/query/query_int.h"

#include "coordinator/cql/cql_parser.h"
#include "core/cqltype.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void plan_free(void *pv)
{
	struct plan *p = pv;
	if (!p)
		return;
	for (uint32_t i = 0; i < p->n_children; i++)
		plan_free(p->children[i]);
	free(p->children);
	for (uint32_t i = 0; i < p->n_owned; i++)
		cqltype_free(p->owned_types[i]);
	free(p->owned_types);
	free(p->bind_types);
	free(p->bind_names);
	free(p->sel);
	if (p->arena && p->owns_arena)
		cql_arena_free(p->arena);
	free(p);
}

struct plan *plan_ref(struct plan *p)
{
	p->refs++;
	return p;
}

/* Plans are shared by the prepared cache and the executions using them (loop thread). */
void plan_unref(struct plan *p)
{
	if (p && --p->refs == 0)
		plan_free(p);
}

void plan_unref_cb(void *p)
{
	plan_unref(p);
}

const char *qname_ks(const struct cql_qname *q, const struct exec_session *s)
{
	if (q->ks.name)
		return q->ks.name;
	return s->keyspace[0] ? s->keyspace : NULL;
}

int resolve_table(struct exec_req *req, const struct schema_snap *snap, const struct cql_qname *q,
                  struct plan *p)
{
	const char *ks = qname_ks(q, req->session);
	if (!ks)
		return req_fail(
		        req, CQL_ERR_INVALID,
		        "No keyspace has been specified. USE a keyspace, or explicitly specify "
		        "keyspace.tablename");
	const struct schema_keyspace *k = schema_snap_keyspace(snap, ks);
	if (!k)
		return req_fail(req, CQL_ERR_INVALID, "Keyspace '%s' does not exist", ks);
	const struct schema_table *t = schema_keyspace_table(k, q->name.name);
	if (!t)
		return req_fail(req, CQL_ERR_INVALID, "unconfigured table %s", q->name.name);
	snprintf(p->ks, sizeof(p->ks), "%s", ks);
	snprintf(p->table_name, sizeof(p->table_name), "%s", t->name);
	p->table = t;
	return 0;
}

int column_index(const struct schema_table *t, const char *name)
{
	for (uint32_t i = 0; i < t->n_cols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return (int)i;
	return -1;
}

int undefined_column(struct exec_req *req, const struct plan *p, const char *name)
{
	return req_fail(req, CQL_ERR_INVALID, "Undefined column name %s in table %s.%s", name,
	                p->ks, p->table_name);
}

static const struct cqltype *own_type(struct plan *p, const struct cqltype *t)
{
	const struct cqltype **n = realloc(p->owned_types, (p->n_owned + 1) * sizeof(*n));
	if (!n) {
		cqltype_free(t);
		return NULL;
	}
	p->owned_types = n;
	p->owned_types[p->n_owned++] = t;
	return t;
}

/* Type and spec name of each bind marker (spec §4.2.5.4). */
static int plan_binds(struct exec_req *req, struct plan *p)
{
	const struct cql_stmt *st = p->stmt;
	p->n_binds = st->n_binds;
	if (!st->n_binds)
		return 0;
	p->bind_types = calloc(st->n_binds, sizeof(*p->bind_types));
	p->bind_names = calloc(st->n_binds, sizeof(*p->bind_names));
	if (!p->bind_types || !p->bind_names)
		return req_fail(req, CQL_ERR_SERVER, "out of memory planning bind markers");
	const struct schema_table *t = p->table;
	for (uint32_t i = 0; i < st->n_binds; i++) {
		const struct cql_bind *b = &st->binds[i];
		const struct schema_column *c = NULL;
		if (b->column) {
			if (!t)
				return req_fail(req, CQL_ERR_INVALID,
				                "bind marker outside a table statement");
			int ci = column_index(t, b->column->name);
			if (ci < 0)
				return undefined_column(req, p, b->column->name);
			c = &t->cols[ci];
		}
		const struct cqltype *ty = NULL;
		const char *name = b->name;
		switch (b->role) {
		case CQL_BIND_COLUMN:
			ty = c->type;
			if (!name)
				name = c->name;
			break;
		case CQL_BIND_IN_LIST:
			ty = own_type(p, cqltype_collection_new(CQLTYPE_LIST, true,
			                                        cqltype_copy(c->type), NULL));
			if (!name) {
				char *nm = cql_arena_alloc(p->arena, strlen(c->name) + 5);
				if (nm)
					sprintf(nm, "in(%s)", c->name);
				name = nm;
			}
			break;
		case CQL_BIND_TOKEN:
			ty = cqltype_simple(CQLTYPE_BIGINT);
			if (!name)
				name = "partition key token";
			break;
		case CQL_BIND_LIMIT:
		case CQL_BIND_PER_PARTITION_LIMIT:
			ty = cqltype_simple(CQLTYPE_INT);
			if (!name)
				name = "[limit]";
			break;
		case CQL_BIND_TTL:
			ty = cqltype_simple(CQLTYPE_INT);
			if (!name)
				name = "[ttl]";
			break;
		case CQL_BIND_TIMESTAMP:
			ty = cqltype_simple(CQLTYPE_BIGINT);
			if (!name)
				name = "[timestamp]";
			break;
		case CQL_BIND_ELEMENT:
		case CQL_BIND_MAP_KEY:
			if (c && cqltype_is_collection(c->type))
				ty = c->type->elem;
			else if (c && b->op == CQL_OP_CONTAINS)
				ty = c->type;
			if (!name && c)
				name = c->name;
			break;
		case CQL_BIND_MAP_VALUE:
			if (c && c->type->kind == CQLTYPE_MAP)
				ty = c->type->value;
			if (!name && c)
				name = c->name;
			break;
		case CQL_BIND_SUBSCRIPT:
			if (c && c->type->kind == CQLTYPE_MAP)
				ty = c->type->elem;
			else if (c && c->type->kind == CQLTYPE_LIST)
				ty = cqltype_simple(CQLTYPE_INT);
			if (!name && c)
				name = c->name;
			break;
		case CQL_BIND_SUBSCRIPT_VALUE:
			if (c && c->type->kind == CQLTYPE_MAP)
				ty = c->type->value;
			else if (c && c->type->kind == CQLTYPE_LIST)
				ty = c->type->elem;
			if (!name && c)
				name = c->name;
			break;
		default: break;
		}
		if (!ty)
			return req_fail(
			        req, CQL_ERR_INVALID,
			        "bind marker at line %u:%u is in a position colonnade does not "
			        "support",
			        b->pos.line, b->pos.col);
		p->bind_types[i] = ty;
		p->bind_names[i] = name ? name : "?";
	}
	/* pk_indexes: a marker bound by = to each partition key column, in order */
	if (!t)
		return 0;
	uint32_t found = 0;
	for (uint32_t k = 0; k < t->n_pk; k++) {
		bool got = false;
		for (uint32_t i = 0; i < st->n_binds && !got; i++) {
			const struct cql_bind *b = &st->binds[i];
			if (b->role == CQL_BIND_COLUMN && b->column &&
			    strcmp(b->column->name, t->cols[k].name) == 0 &&
			    (b->op == CQL_OP_EQ || b->op == CQL_OP_NONE) && !b->rel) {
				p->pk_idx[found++] = (uint16_t)i;
				got = true;
			} else if (b->role == CQL_BIND_COLUMN && b->column && b->rel &&
			           b->op == CQL_OP_EQ && b->rel->kind == CQL_REL_COLUMN &&
			           strcmp(b->column->name, t->cols[k].name) == 0) {
				p->pk_idx[found++] = (uint16_t)i;
				got = true;
			}
		}
		if (!got) {
			found = 0;
			break;
		}
	}
	p->n_pk_idx = found;
	return 0;
}

static int plan_select(struct exec_req *req, struct plan *p)
{
	const struct cql_select *s = &p->stmt->select;
	const struct schema_table *t = p->table;
	if (s->json)
		return req_fail(req, CQL_ERR_INVALID, "SELECT JSON is not supported");
	uint32_t n = s->star ? t->n_cols : s->n_selectors;
	p->sel = calloc(n ? n : 1, sizeof(*p->sel));
	if (!p->sel)
		return req_fail(req, CQL_ERR_SERVER, "out of memory");
	p->n_sel = n;
	if (s->star) {
		for (uint32_t i = 0; i < n; i++)
			p->sel[i] = (struct sel_col){SEL_COLUMN, (int)i, t->cols[i].name,
			                             t->cols[i].type};
		return 0;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct cql_selector *x = &s->selectors[i];
		struct sel_col *o = &p->sel[i];
		switch (x->kind) {
		case CQL_SEL_COLUMN:
		case CQL_SEL_WRITETIME:
		case CQL_SEL_TTL: {
			int ci = column_index(t, x->column.name);
			if (ci < 0)
				return undefined_column(req, p, x->column.name);
			o->col = ci;
			if (x->kind == CQL_SEL_COLUMN) {
				o->kind = SEL_COLUMN;
				o->name = t->cols[ci].name;
				o->type = t->cols[ci].type;
				break;
			}
			if (t->cols[ci].kind == SCHEMA_COL_PARTITION_KEY ||
			    t->cols[ci].kind == SCHEMA_COL_CLUSTERING)
				return req_fail(
				        req, CQL_ERR_INVALID,
				        "Cannot use selection function %s on PRIMARY KEY part %s",
				        x->kind == CQL_SEL_TTL ? "ttl" : "writeTime",
				        t->cols[ci].name);
			if (cqltype_is_collection(t->cols[ci].type) && !t->cols[ci].type->frozen)
				return req_fail(req, CQL_ERR_INVALID,
				                "Cannot use selection function %s on non-frozen "
				                "collection %s",
				                x->kind == CQL_SEL_TTL ? "ttl" : "writeTime",
				                t->cols[ci].name);
			o->kind = x->kind == CQL_SEL_TTL ? SEL_TTL : SEL_WRITETIME;
			o->type = cqltype_simple(x->kind == CQL_SEL_TTL ? CQLTYPE_INT
			                                                : CQLTYPE_BIGINT);
			char *nm = cql_arena_alloc(p->arena, strlen(x->column.name) + 12);
			if (nm)
				sprintf(nm, "%s(%s)", x->kind == CQL_SEL_TTL ? "ttl" : "writetime",
				        x->column.name);
			o->name = nm;
			break;
		}
		case CQL_SEL_COUNT:
			o->kind = SEL_COUNT;
			o->name = "count";
			o->type = cqltype_simple(CQLTYPE_BIGINT);
			p->count = true;
			break;
		case CQL_SEL_FUNC:
			if (strcmp(x->func.name.name, "token") == 0 && !x->func.ks.name) {
				if (x->n_args != t->n_pk)
					return req_fail(
					        req, CQL_ERR_INVALID,
					        "Invalid number of arguments in call to function "
					        "system.token: %u required but %u provided",
					        t->n_pk, x->n_args);
				for (uint32_t a = 0; a < x->n_args; a++)
					if (x->args[a].kind != CQL_SEL_COLUMN ||
					    column_index(t, x->args[a].column.name) != (int)a)
						return req_fail(
						        req, CQL_ERR_INVALID,
						        "token() takes the partition key columns "
						        "in order");
				o->kind = SEL_TOKEN;
				o->name = "system.token";
				o->type = cqltype_simple(CQLTYPE_BIGINT);
				break;
			}
			if (strcmp(x->func.name.name, "count") == 0 && x->n_args == 1) {
				o->kind = SEL_COUNT;
				o->name = "count";
				o->type = cqltype_simple(CQLTYPE_BIGINT);
				p->count = true;
				break;
			}
			return req_fail(req, CQL_ERR_INVALID, "Unknown function '%s'",
			                x->func.name.name);
		default:
			return req_fail(req, CQL_ERR_INVALID, "Unsupported selector at line %u:%u",
			                x->pos.line, x->pos.col);
		}
		if (x->alias.name)
			o->name = x->alias.name;
	}
	if (p->count)
		for (uint32_t i = 0; i < n; i++)
			if (p->sel[i].kind != SEL_COUNT)
				return req_fail(
				        req, CQL_ERR_INVALID,
				        "Only COUNT(*) may be selected with COUNT (no GROUP BY)");
	return 0;
}

static struct plan *plan_stmt(struct executor *ex, struct exec_req *req, struct cql_stmt *stmt,
                              struct cql_arena *arena, bool owns_arena);

/* Parse and plan a statement text.  On failure req is failed and NULL returned. */
struct plan *plan_build(struct executor *ex, struct exec_req *req, const char *text, size_t len)
{
	struct cql_arena *arena = cql_arena_new();
	if (!arena) {
		req_fail(req, CQL_ERR_SERVER, "out of memory");
		return NULL;
	}
	struct cerr e = {0};
	struct cql_stmt *stmt;
	int rc = cql_parse(arena, text, len, &stmt, &e);
	if (rc) {
		req_fail(req, rc == COL_ESYNTAX ? CQL_ERR_SYNTAX : CQL_ERR_INVALID, "%s", e.msg);
		cql_arena_free(arena);
		return NULL;
	}
	return plan_stmt(ex, req, stmt, arena, true);
}

/* Plan a parsed statement; the plan frees `arena` only if owns_arena (even on failure). */
static struct plan *plan_stmt(struct executor *ex, struct exec_req *req, struct cql_stmt *stmt,
                              struct cql_arena *arena, bool owns_arena)
{
	struct plan *p = calloc(1, sizeof(*p));
	if (!p) {
		if (owns_arena)
			cql_arena_free(arena);
		req_fail(req, CQL_ERR_SERVER, "out of memory");
		return NULL;
	}
	p->refs = 1;
	p->stmt = stmt;
	p->arena = arena;
	p->owns_arena = owns_arena;
	const struct schema_snap *snap = schema_current(ex->d.schema);
	p->gen = snap->generation;
	int rc = 0;
	switch (stmt->kind) {
	case CQL_STMT_SELECT:
		rc = resolve_table(req, snap, &stmt->select.table, p);
		if (!rc)
			rc = plan_select(req, p);
		break;
	case CQL_STMT_INSERT: rc = resolve_table(req, snap, &stmt->insert.table, p); break;
	case CQL_STMT_UPDATE: rc = resolve_table(req, snap, &stmt->update.table, p); break;
	case CQL_STMT_DELETE: rc = resolve_table(req, snap, &stmt->del.table, p); break;
	case CQL_STMT_BATCH: {
		const struct cql_batch *b = &stmt->batch;
		p->children = calloc(b->n_stmts ? b->n_stmts : 1, sizeof(*p->children));
		if (!p->children) {
			rc = req_fail(req, CQL_ERR_SERVER, "out of memory");
			break;
		}
		for (uint32_t i = 0; i < b->n_stmts && !rc; i++) {
			struct plan *c = plan_stmt(ex, req, b->stmts[i], arena, false);
			if (!c) {
				rc = -1;
				break;
			}
			p->children[p->n_children++] = c;
		}
		break;
	}
	default: break;
	}
	if (!rc && stmt->kind != CQL_STMT_BATCH) {
		rc = plan_binds(req, p);
	} else if (!rc) {
		/* a BATCH's markers are its children's, with global indexes */
		p->n_binds = stmt->n_binds;
		if (stmt->n_binds) {
			p->bind_types = calloc(stmt->n_binds, sizeof(*p->bind_types));
			p->bind_names = calloc(stmt->n_binds, sizeof(*p->bind_names));
			if (!p->bind_types || !p->bind_names)
				rc = req_fail(req, CQL_ERR_SERVER, "out of memory");
		}
		for (uint32_t c = 0; c < p->n_children && !rc; c++) {
			struct plan *ch = p->children[c];
			for (uint32_t i = 0; i < ch->n_binds; i++) {
				uint32_t gi = ch->stmt->binds[i].index;
				if (gi < p->n_binds) {
					p->bind_types[gi] = ch->bind_types[i];
					p->bind_names[gi] = ch->bind_names[i];
				}
			}
		}
		if (!rc && p->n_children) {
			snprintf(p->ks, sizeof(p->ks), "%s", p->children[0]->ks);
			snprintf(p->table_name, sizeof(p->table_name), "%s",
			         p->children[0]->table_name);
		}
	}
	if (rc) {
		plan_free(p);
		return NULL;
	}
	return p;
}

/* The type planned for bind marker `index` (a global index inside a BATCH). */
const struct cqltype *bind_type(const struct plan *p, uint32_t index)
{
	for (uint32_t i = 0; i < p->n_binds; i++)
		if (p->stmt->binds[i].index == index)
			return p->bind_types[i];
	return NULL;
}
