#include "coordinator/query/query_int.h"

#include "coordinator/cql/cql_parser.h"
#include "coordinator/query/functions.h"
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
	__atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
	return p;
}

/* Plans are shared by the prepared cache and the executions using them, on any loop. */
void plan_unref(struct plan *p)
{
	if (p && __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) == 0)
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
		        req, COL_EINVAL,
		        "No keyspace has been specified. USE a keyspace, or explicitly specify "
		        "keyspace.tablename");
	const struct schema_keyspace *k = schema_snap_keyspace(snap, ks);
	if (!k)
		return req_fail(req, COL_EINVAL, "Keyspace '%s' does not exist", ks);
	const struct schema_table *t = schema_keyspace_table(k, q->name.name);
	if (!t)
		return req_fail(req, COL_EINVAL, "unconfigured table %s", q->name.name);
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
	return req_fail(req, COL_EINVAL, "Undefined column name %s in table %s.%s", name, p->ks,
	                p->table_name);
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

/* The name a bind marker gets when the query does not name it: "in(c)" for IN ?. */
static const char *in_marker_name(struct plan *p, const struct schema_column *c)
{
	char *nm = cql_arena_alloc(p->arena, strlen(c->name) + 5);
	if (nm)
		sprintf(nm, "in(%s)", c->name);
	return nm;
}

/* The type of a marker that stands for (a part of) column c's value, NULL if none fits. */
static const struct cqltype *column_marker_type(const struct cql_bind *b,
                                                const struct schema_column *c)
{
	if (!c)
		return NULL;
	const struct cqltype *ct = c->type;
	bool map = ct->kind == CQLTYPE_MAP, list = ct->kind == CQLTYPE_LIST;
	switch (b->role) {
	case CQL_BIND_ELEMENT:
	case CQL_BIND_MAP_KEY:
		if (cqltype_is_collection(ct))
			return ct->elem;
		return b->op == CQL_OP_CONTAINS ? ct : NULL;
	case CQL_BIND_MAP_VALUE: return map ? ct->value : NULL;
	case CQL_BIND_SUBSCRIPT: return map ? ct->elem : list ? cqltype_simple(CQLTYPE_INT) : NULL;
	case CQL_BIND_SUBSCRIPT_VALUE: return map ? ct->value : list ? ct->elem : NULL;
	case CQL_BIND_FIELD: {
		int f = ct->kind == CQLTYPE_UDT && b->field
		                ? cqltype_udt_field(ct, b->field->name, strlen(b->field->name))
		                : -1;
		return f >= 0 ? ct->fields[f] : NULL;
	}
	default: return NULL;
	}
}

/*
 * The name Cassandra gives a marker for a part of collection c (Lists.indexSpecOf,
 * Maps.keySpecOf, *.valueSpecOf): "idx(l)" for a list index, "key(m)" for a map key,
 * "value(c)" for an element or a map value; NULL when the marker is not such a part.
 */
static const char *part_marker_name(struct plan *p, const struct cql_bind *b,
                                    const struct schema_column *c)
{
	if (!c || !cqltype_is_collection(c->type))
		return NULL;
	bool map = c->type->kind == CQLTYPE_MAP, list = c->type->kind == CQLTYPE_LIST;
	const char *part;
	switch (b->role) {
	case CQL_BIND_SUBSCRIPT: part = list ? "idx" : "key"; break;
	case CQL_BIND_MAP_KEY: part = map ? "key" : "value"; break;
	case CQL_BIND_ELEMENT:
	case CQL_BIND_MAP_VALUE:
	case CQL_BIND_SUBSCRIPT_VALUE: part = "value"; break;
	default: return NULL;
	}
	char *nm = cql_arena_alloc(p->arena, strlen(c->name) + 8);
	if (nm)
		sprintf(nm, "%s(%s)", part, c->name);
	return nm;
}

/* The type of the part of column c's value that a nested marker's step chain names, and
 * its name ("value(l).city", "tp[1]", as Cassandra's specs); *ty NULL if none fits. */
static void nested_marker_spec(struct plan *p, const struct cql_bind *b,
                               const struct schema_column *c, const struct cqltype **ty,
                               const char **name)
{
	const struct cql_bind_step *steps[CQLTYPE_MAX_DEPTH * 2];
	size_t n = 0;
	*ty = NULL;
	for (const struct cql_bind_step *s = b->step; s; s = s->up)
		if (n < sizeof(steps) / sizeof(steps[0]))
			steps[n++] = s;
		else
			return; /* deeper than any type */
	const struct cqltype *t = c ? c->type : NULL;
	struct buf nm;
	buf_init(&nm);
	buf_put_str(&nm, c ? c->name : "?");
	while (t && n--) {
		const struct cql_bind_step *s = steps[n];
		bool coll = cqltype_is_collection(t), map = t->kind == CQLTYPE_MAP;
		int f = s->kind == CQL_STEP_FIELD && t->kind == CQLTYPE_UDT && s->field
		                ? cqltype_udt_field(t, s->field->name, strlen(s->field->name))
		                : -1;
		const char *wrap = s->kind == CQL_STEP_KEY && map ? "key" : "value";
		switch (s->kind) {
		case CQL_STEP_ELEMENT:
		case CQL_STEP_KEY: t = coll ? t->elem : NULL; break;
		case CQL_STEP_VALUE: t = map ? t->value : NULL; break;
		case CQL_STEP_SUBVALUE:
			t = map ? t->value : t->kind == CQLTYPE_LIST ? t->elem : NULL;
			break;
		case CQL_STEP_FIELD: t = f >= 0 ? t->fields[f] : NULL; break;
		case CQL_STEP_ITEM:
			t = t->kind == CQLTYPE_TUPLE && s->index < t->n_fields ? t->fields[s->index]
			                                                       : NULL;
			break;
		}
		struct buf w;
		buf_init(&w);
		if (s->kind == CQL_STEP_FIELD)
			buf_printf(&w, "%.*s.%s", (int)nm.len, (const char *)nm.data,
			           s->field ? s->field->name : "?");
		else if (s->kind == CQL_STEP_ITEM)
			buf_printf(&w, "%.*s[%u]", (int)nm.len, (const char *)nm.data, s->index);
		else
			buf_printf(&w, "%s(%.*s)", wrap, (int)nm.len, (const char *)nm.data);
		buf_release(&nm);
		nm = w;
	}
	*ty = t;
	char *s = buf_ok(&nm) ? cql_arena_strndup(p->arena, (const char *)nm.data, nm.len) : NULL;
	if (s)
		*name = s;
	buf_release(&nm);
}

/* A marker as argument of a function: the type of that argument of the one overload
 * its other arguments leave ("arg0(system.mintimeuuid)"); none if it is ambiguous. */
static void func_arg_spec(struct plan *p, const struct cql_bind *b, const struct cqltype **ty,
                          const char **name)
{
	const struct cql_term *f = b->func;
	const struct cqltype *types[FN_MAX_ARGS] = {0};
	const char *texts[FN_MAX_ARGS] = {"?", "?"};
	const struct func_def *fd;
	struct cerr e = {0};
	if (!f || (f->func.name.ks.name && strcmp(f->func.name.ks.name, "system") != 0) ||
	    func_resolve(f->func.name.name.name, f->func.n_args, types, texts, &fd, &e) ||
	    b->arg_index >= fd->n_args)
		return;
	*ty = cqltype_simple(fd->args[b->arg_index]);
	char *nm = cql_arena_alloc(p->arena, strlen(fd->name) + 24);
	if (nm)
		sprintf(nm, "arg%u(system.%s)", b->arg_index, fd->name);
	*name = nm;
}

/* Type and default name of marker b (on column c, or NULL); *ty NULL if unsupported. */
static void marker_spec(struct plan *p, const struct cql_bind *b, const struct schema_column *c,
                        const struct cqltype **ty, const char **name)
{
	*ty = NULL;
	*name = c ? c->name : NULL;
	switch (b->role) {
	case CQL_BIND_COLUMN: *ty = c->type; break;
	case CQL_BIND_IN_LIST:
		*ty = own_type(
		        p, cqltype_collection_new(CQLTYPE_LIST, true, cqltype_copy(c->type), NULL));
		*name = in_marker_name(p, c);
		break;
	case CQL_BIND_TOKEN:
		*ty = cqltype_simple(CQLTYPE_BIGINT);
		*name = "partition key token";
		break;
	case CQL_BIND_LIMIT:
	case CQL_BIND_PER_PARTITION_LIMIT:
		*ty = cqltype_simple(CQLTYPE_INT);
		*name = "[limit]";
		break;
	case CQL_BIND_TTL:
		*ty = cqltype_simple(CQLTYPE_INT);
		*name = "[ttl]";
		break;
	case CQL_BIND_TIMESTAMP:
		*ty = cqltype_simple(CQLTYPE_BIGINT);
		*name = "[timestamp]";
		break;
	case CQL_BIND_FUNC_ARG: func_arg_spec(p, b, ty, name); break;
	case CQL_BIND_JSON:
		*ty = cqltype_simple(CQLTYPE_VARCHAR);
		*name = "[json]";
		break;
	case CQL_BIND_NESTED: nested_marker_spec(p, b, c, ty, name); break;
	case CQL_BIND_FIELD:
		*ty = column_marker_type(b, c);
		if (c && b->field) { /* Cassandra's fieldSpecOf: "column.field" */
			char *nm = cql_arena_alloc(p->arena,
			                           strlen(c->name) + strlen(b->field->name) + 2);
			if (nm)
				sprintf(nm, "%s.%s", c->name, b->field->name);
			*name = nm;
		}
		break;
	default: {
		*ty = column_marker_type(b, c);
		const char *part = *ty ? part_marker_name(p, b, c) : NULL;
		if (part)
			*name = part;
		break;
	}
	}
}

/* pk_indexes: a marker bound by = to each partition key column, in order (or none). */
static void plan_pk_indexes(struct plan *p)
{
	const struct cql_stmt *st = p->stmt;
	const struct schema_table *t = p->table;
	uint32_t found = 0;
	for (uint32_t k = 0; k < t->n_pk; k++) {
		bool got = false;
		for (uint32_t i = 0; i < st->n_binds && !got; i++) {
			const struct cql_bind *b = &st->binds[i];
			if (b->role != CQL_BIND_COLUMN || !b->column ||
			    strcmp(b->column->name, t->cols[k].name) != 0)
				continue;
			if (b->rel ? b->op == CQL_OP_EQ && b->rel->kind == CQL_REL_COLUMN
			           : b->op == CQL_OP_EQ || b->op == CQL_OP_NONE) {
				p->pk_idx[found++] = (uint16_t)i;
				got = true;
			}
		}
		if (!got) {
			p->n_pk_idx = 0;
			return;
		}
	}
	p->n_pk_idx = found;
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
		return req_fail(req, COL_ENOMEM, "out of memory planning bind markers");
	const struct schema_table *t = p->table;
	for (uint32_t i = 0; i < st->n_binds; i++) {
		const struct cql_bind *b = &st->binds[i];
		const struct schema_column *c = NULL;
		if (b->column) {
			if (!t)
				return req_fail(req, COL_EINVAL,
				                "bind marker outside a table statement");
			int ci = column_index(t, b->column->name);
			if (ci < 0)
				return undefined_column(req, p, b->column->name);
			c = &t->cols[ci];
		}
		const struct cqltype *ty;
		const char *name;
		marker_spec(p, b, c, &ty, &name);
		if (!ty && b->role == CQL_BIND_FIELD && c && b->field)
			return c->type->kind == CQLTYPE_UDT
			               ? req_fail(req, COL_EINVAL,
			                          "UDT column %s does not have a field named %s",
			                          c->name, b->field->name)
			               : req_fail(req, COL_EINVAL,
			                          "Invalid operation (%s.%s = ?) for non-UDT "
			                          "column %s",
			                          c->name, b->field->name, c->name);
		if (!ty)
			return req_fail(
			        req, COL_EINVAL,
			        "bind marker at line %u:%u is in a position colonnade does not "
			        "support",
			        b->pos.line, b->pos.col);
		p->bind_types[i] = ty;
		p->bind_names[i] = b->name ? b->name : name ? name : "?";
	}
	if (t)
		plan_pk_indexes(p);
	return 0;
}

static int plan_stmt(struct executor *ex, struct exec_req *req, struct cql_stmt *stmt,
                     struct cql_arena *arena, bool owns_arena, struct plan **out);

/* A BATCH statement: a plan per child; its markers are its children's, with
 * global indexes; it names the first child's table. */
static int plan_batch(struct executor *ex, struct exec_req *req, struct plan *p)
{
	const struct cql_stmt *stmt = p->stmt;
	const struct cql_batch *b = &stmt->batch;
	p->children = calloc(b->n_stmts ? b->n_stmts : 1, sizeof(*p->children));
	if (!p->children)
		return req_fail(req, COL_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < b->n_stmts; i++) {
		int rc = plan_stmt(ex, req, b->stmts[i], p->arena, false, &p->children[i]);
		if (rc)
			return rc;
		p->n_children++;
	}
	p->n_binds = stmt->n_binds;
	if (stmt->n_binds) {
		p->bind_types = calloc(stmt->n_binds, sizeof(*p->bind_types));
		p->bind_names = calloc(stmt->n_binds, sizeof(*p->bind_names));
		if (!p->bind_types || !p->bind_names)
			return req_fail(req, COL_ENOMEM, "out of memory");
	}
	for (uint32_t c = 0; c < p->n_children; c++) {
		const struct plan *ch = p->children[c];
		for (uint32_t i = 0; i < ch->n_binds; i++) {
			uint32_t gi = ch->stmt->binds[i].index;
			if (gi < p->n_binds) {
				p->bind_types[gi] = ch->bind_types[i];
				p->bind_names[gi] = ch->bind_names[i];
			}
		}
	}
	if (p->n_children) {
		snprintf(p->ks, sizeof(p->ks), "%s", p->children[0]->ks);
		snprintf(p->table_name, sizeof(p->table_name), "%s", p->children[0]->table_name);
	}
	return 0;
}

/* Resolve, check and type what statement p->stmt refers to. */
static int plan_check(struct executor *ex, struct exec_req *req, struct plan *p)
{
	struct cql_stmt *stmt = p->stmt;
	const struct schema_snap *snap = ex->snap;
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
	case CQL_STMT_BATCH: return plan_batch(ex, req, p);
	default: break;
	}
	return rc ? rc : plan_binds(req, p);
}

/* Plan a parsed statement; the plan frees `arena` only if owns_arena (even on failure). */
static int plan_stmt(struct executor *ex, struct exec_req *req, struct cql_stmt *stmt,
                     struct cql_arena *arena, bool owns_arena, struct plan **out)
{
	struct plan *p = calloc(1, sizeof(*p));
	if (!p) {
		if (owns_arena)
			cql_arena_free(arena);
		return req_fail(req, COL_ENOMEM, "out of memory");
	}
	p->refs = 1;
	p->stmt = stmt;
	p->arena = arena;
	p->owns_arena = owns_arena;
	int rc = plan_check(ex, req, p);
	if (rc) {
		plan_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int plan_build(struct executor *ex, struct exec_req *req, const char *text, size_t len,
               struct plan **out)
{
	struct cql_arena *arena = cql_arena_new();
	if (!arena)
		return req_fail(req, COL_ENOMEM, "out of memory");
	struct cerr e = {0};
	struct cql_stmt *stmt;
	int rc = cql_parse(arena, text, len, &stmt, &e);
	if (rc) {
		cql_arena_free(arena);
		return req_fail(req, rc == COL_ESYNTAX || rc == COL_ENOMEM ? rc : COL_EINVAL, "%s",
		                e.msg);
	}
	return plan_stmt(ex, req, stmt, arena, true, out);
}

/* The type planned for bind marker `index` (a global index inside a BATCH). */
const struct cqltype *bind_type(const struct plan *p, uint32_t index)
{
	for (uint32_t i = 0; i < p->n_binds; i++)
		if (p->stmt->binds[i].index == index)
			return p->bind_types[i];
	return NULL;
}
