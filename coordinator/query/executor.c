#include "coordinator/query/executor.h"

#include "coordinator/cql/cql_ast.h"
#include "coordinator/cql/cql_parser.h"
#include "coordinator/query/paging.h"
#include "coordinator/query/prepared.h"
#include "coordinator/replication/proxy.h"
#include "coordinator/schema/schema.h"
#include "coordinator/query/systables.h"
#include "core/clock.h"
#include "core/cqltype.h"
#include "core/log.h"
#include "storage/storage.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define MOD "executor"

/* Row callbacks return this to stop a read early (page full); not an error. */
#define STOP_READ 1
/* Cartesian products of IN lists are bounded, as Cassandra bounds them (100). */
#define MAX_IN_PARTITIONS 100
#define MAX_IN_ROWS       100
/* Drivers ask 5000 rows a page; a request without a page size still gets bounded
 * pages of this many rows so that one SELECT cannot build an unbounded answer. */
#define DEFAULT_MAX_ROWS 10000
/* A page also ends once its rows take this many bytes, whatever the page size: a
 * response stays far below the 256 MiB frame ceiling and the output bounds. */
#define MAX_PAGE_BYTES (8u << 20)

/* Zero-length values point here, never at NULL (memcpy/memcmp on NULL is undefined
 * even for zero bytes). */
static const uint8_t empty_value[1];

struct executor {
	struct executor_deps d;
	int64_t last_ts;
};

/* ---- errors ------------------------------------------------------------------------------- */

void exec_error_encode(const struct exec_error *e, struct buf *out)
{
	cql_put_int(out, (int32_t)e->code);
	cql_put_string(out, e->msg);
	switch (e->code) {
	case CQL_ERR_UNAVAILABLE:
		cql_put_short(out, e->cl);
		cql_put_int(out, e->required);
		cql_put_int(out, e->alive);
		break;
	case CQL_ERR_WRITE_TIMEOUT:
		cql_put_short(out, e->cl);
		cql_put_int(out, e->alive);
		cql_put_int(out, e->required);
		cql_put_string(out, e->write_type ? e->write_type : "SIMPLE");
		break;
	case CQL_ERR_READ_TIMEOUT:
		cql_put_short(out, e->cl);
		cql_put_int(out, e->alive);
		cql_put_int(out, e->required);
		cql_put_byte(out, e->data_present);
		break;
	case CQL_ERR_READ_FAILURE:
		cql_put_short(out, e->cl);
		cql_put_int(out, e->alive);
		cql_put_int(out, e->required);
		cql_put_int(out, e->numfailures);
		cql_put_byte(out, e->data_present);
		break;
	case CQL_ERR_WRITE_FAILURE:
		cql_put_short(out, e->cl);
		cql_put_int(out, e->alive);
		cql_put_int(out, e->required);
		cql_put_int(out, e->numfailures);
		cql_put_string(out, e->write_type ? e->write_type : "SIMPLE");
		break;
	case CQL_ERR_FUNCTION_FAILURE:
		cql_put_string(out, e->ks);
		cql_put_string(out, e->table);
		cql_put_short(out, 0);
		break;
	case CQL_ERR_ALREADY_EXISTS:
		cql_put_string(out, e->ks);
		cql_put_string(out, e->table);
		break;
	case CQL_ERR_UNPREPARED: cql_put_short_bytes(out, e->id, e->id_len); break;
	default: break;
	}
}

const char *exec_change_name(enum exec_change c)
{
	return c == EXEC_CHANGE_CREATED   ? "CREATED"
	       : c == EXEC_CHANGE_UPDATED ? "UPDATED"
	                                  : "DROPPED";
}

const char *exec_target_name(enum exec_target t)
{
	return t == EXEC_TARGET_KEYSPACE ? "KEYSPACE" : "TABLE";
}

void exec_schema_change_encode(struct buf *out, enum exec_change c, enum exec_target t,
                               const char *ks, const char *table)
{
	cql_put_string(out, exec_change_name(c));
	cql_put_string(out, exec_target_name(t));
	cql_put_string(out, ks);
	if (t == EXEC_TARGET_TABLE)
		cql_put_string(out, table);
}

static int fail(struct exec_req *req, uint32_t code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int fail(struct exec_req *req, uint32_t code, const char *fmt, ...)
{
	if (req->failed)
		return -1; /* the first error wins */
	req->failed = true;
	memset(&req->error, 0, sizeof(req->error));
	req->error.code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(req->error.msg, sizeof(req->error.msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* Map a COL_E* code from the schema/storage layers to a CQL error. */
static int fail_cerr(struct exec_req *req, int code, const struct cerr *e)
{
	uint32_t cql;
	switch (code) {
	case COL_ESYNTAX: cql = CQL_ERR_SYNTAX; break;
	case COL_ECONFIG: cql = CQL_ERR_CONFIG; break;
	case COL_EEXIST: cql = CQL_ERR_ALREADY_EXISTS; break;
	case COL_EINVAL:
	case COL_ETYPE:
	case COL_ENOTFOUND:
	case COL_ETOOBIG: cql = CQL_ERR_INVALID; break;
	default: cql = CQL_ERR_SERVER; break;
	}
	return fail(req, cql, "%s", e->msg[0] ? e->msg : col_strerror(code));
}

static int64_t exec_now_us(struct executor *ex)
{
	/* Strictly increasing, so two writes of one session never tie. */
	int64_t now = clock_wall_us();
	if (now <= ex->last_ts)
		now = ex->last_ts + 1;
	ex->last_ts = now;
	return now;
}

/* ---- plans -------------------------------------------------------------------------------- */

enum sel_kind { SEL_COLUMN, SEL_COUNT, SEL_WRITETIME, SEL_TTL, SEL_TOKEN };

struct sel_col {
	enum sel_kind kind;
	int col; /* index into table->cols (COLUMN, WRITETIME, TTL) */
	const char *name;
	const struct cqltype *type;
};

/* A statement checked against the schema, ready to run many times. */
struct plan {
	int refs; /* the prepared cache and each execution in flight */
	struct cql_arena *arena;
	bool owns_arena; /* BATCH children share their parent's */
	struct cql_stmt *stmt;
	char ks[SCHEMA_NAME_MAX + 1]; /* resolved keyspace ("" for USE/keyspace DDL) */
	char table_name[SCHEMA_NAME_MAX + 1];
	uint64_t gen;
	const struct schema_table *table; /* valid while gen is current */
	/* bind variables */
	uint32_t n_binds;
	const struct cqltype **bind_types;
	const char **bind_names;
	const struct cqltype **owned_types; /* list<T> for IN ?, freed with the plan */
	uint32_t n_owned;
	uint16_t pk_idx[STORE_MAX_PK_COLS];
	uint32_t n_pk_idx;
	/* SELECT */
	struct sel_col *sel;
	uint32_t n_sel;
	bool count;
	/* child plans of a BATCH statement */
	struct plan **children;
	uint32_t n_children;
};

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

static struct plan *plan_ref(struct plan *p)
{
	p->refs++;
	return p;
}

/* Plans are shared by the prepared cache and the executions using them (loop thread). */
static void plan_unref(struct plan *p)
{
	if (p && --p->refs == 0)
		plan_free(p);
}

static void plan_unref_cb(void *p)
{
	plan_unref(p);
}

static const char *qname_ks(const struct cql_qname *q, const struct exec_session *s)
{
	if (q->ks.name)
		return q->ks.name;
	return s->keyspace[0] ? s->keyspace : NULL;
}

static int resolve_table(struct exec_req *req, const struct schema_snap *snap,
                         const struct cql_qname *q, struct plan *p)
{
	const char *ks = qname_ks(q, req->session);
	if (!ks)
		return fail(req, CQL_ERR_INVALID,
		            "No keyspace has been specified. USE a keyspace, or explicitly specify "
		            "keyspace.tablename");
	const struct schema_keyspace *k = schema_snap_keyspace(snap, ks);
	if (!k)
		return fail(req, CQL_ERR_INVALID, "Keyspace '%s' does not exist", ks);
	const struct schema_table *t = schema_keyspace_table(k, q->name.name);
	if (!t)
		return fail(req, CQL_ERR_INVALID, "unconfigured table %s", q->name.name);
	snprintf(p->ks, sizeof(p->ks), "%s", ks);
	snprintf(p->table_name, sizeof(p->table_name), "%s", t->name);
	p->table = t;
	return 0;
}

static int column_index(const struct schema_table *t, const char *name)
{
	for (uint32_t i = 0; i < t->n_cols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int undefined_column(struct exec_req *req, const struct plan *p, const char *name)
{
	return fail(req, CQL_ERR_INVALID, "Undefined column name %s in table %s.%s", name, p->ks,
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
		return fail(req, CQL_ERR_SERVER, "out of memory planning bind markers");
	const struct schema_table *t = p->table;
	for (uint32_t i = 0; i < st->n_binds; i++) {
		const struct cql_bind *b = &st->binds[i];
		const struct schema_column *c = NULL;
		if (b->column) {
			if (!t)
				return fail(req, CQL_ERR_INVALID,
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
			return fail(req, CQL_ERR_INVALID,
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
		return fail(req, CQL_ERR_INVALID, "SELECT JSON is not supported");
	uint32_t n = s->star ? t->n_cols : s->n_selectors;
	p->sel = calloc(n ? n : 1, sizeof(*p->sel));
	if (!p->sel)
		return fail(req, CQL_ERR_SERVER, "out of memory");
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
				return fail(
				        req, CQL_ERR_INVALID,
				        "Cannot use selection function %s on PRIMARY KEY part %s",
				        x->kind == CQL_SEL_TTL ? "ttl" : "writeTime",
				        t->cols[ci].name);
			if (cqltype_is_collection(t->cols[ci].type) && !t->cols[ci].type->frozen)
				return fail(req, CQL_ERR_INVALID,
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
					return fail(
					        req, CQL_ERR_INVALID,
					        "Invalid number of arguments in call to function "
					        "system.token: %u required but %u provided",
					        t->n_pk, x->n_args);
				for (uint32_t a = 0; a < x->n_args; a++)
					if (x->args[a].kind != CQL_SEL_COLUMN ||
					    column_index(t, x->args[a].column.name) != (int)a)
						return fail(
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
			return fail(req, CQL_ERR_INVALID, "Unknown function '%s'",
			            x->func.name.name);
		default:
			return fail(req, CQL_ERR_INVALID, "Unsupported selector at line %u:%u",
			            x->pos.line, x->pos.col);
		}
		if (x->alias.name)
			o->name = x->alias.name;
	}
	if (p->count)
		for (uint32_t i = 0; i < n; i++)
			if (p->sel[i].kind != SEL_COUNT)
				return fail(
				        req, CQL_ERR_INVALID,
				        "Only COUNT(*) may be selected with COUNT (no GROUP BY)");
	return 0;
}

static struct plan *plan_stmt(struct executor *ex, struct exec_req *req, struct cql_stmt *stmt,
                              struct cql_arena *arena, bool owns_arena);

/* Parse and plan a statement text.  On failure req is failed and NULL returned. */
static struct plan *plan_build(struct executor *ex, struct exec_req *req, const char *text,
                               size_t len)
{
	struct cql_arena *arena = cql_arena_new();
	if (!arena) {
		fail(req, CQL_ERR_SERVER, "out of memory");
		return NULL;
	}
	struct cerr e = {0};
	struct cql_stmt *stmt;
	int rc = cql_parse(arena, text, len, &stmt, &e);
	if (rc) {
		fail(req, rc == COL_ESYNTAX ? CQL_ERR_SYNTAX : CQL_ERR_INVALID, "%s", e.msg);
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
		fail(req, CQL_ERR_SERVER, "out of memory");
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
			rc = fail(req, CQL_ERR_SERVER, "out of memory");
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
				rc = fail(req, CQL_ERR_SERVER, "out of memory");
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
static const struct cqltype *bind_type(const struct plan *p, uint32_t index)
{
	for (uint32_t i = 0; i < p->n_binds; i++)
		if (p->stmt->binds[i].index == index)
			return p->bind_types[i];
	return NULL;
}

/* ---- binding values ----------------------------------------------------------------------- */

/* One statement execution: its bound values and scratch memory. */
struct mutset;
struct selx;

/*
 * One statement (or one BATCH) being executed.  Allocated per request and kept
 * until the answer is ready, because the proxy may complete later: it holds a
 * reference to the plan and to the schema snapshot, copies of the bound values
 * and of the paging state (the frame is gone once executor_run returns), and
 * the work in flight (mutations, SELECT state).  xq_finish() frees it and hands
 * the answer back with req->done().
 */
struct xq {
	struct executor *ex;
	struct exec_req *req;
	struct plan *plan;              /* referenced (NULL for a protocol BATCH) */
	const struct schema_snap *snap; /* referenced: tables stay valid */
	const struct cql_slice *values; /* by bind index (names already resolved) */
	uint32_t n_values;
	struct cql_arena *mem; /* values, converted literals; freed with the xq */
	int64_t ts;            /* write timestamp */
	uint16_t cl;
	int32_t page_size;
	struct cql_slice paging_state;
	bool skip_metadata;
	struct mutset *ms; /* writes collected, applied by write_start */
	struct selx *sel;  /* SELECT state */
};

struct val {
	const uint8_t *p;
	int32_t len; /* CQL_VALUE_NULL / CQL_VALUE_UNSET */
};

static int bound_value(struct xq *q, uint32_t idx, const struct cqltype *type, struct val *out,
                       const char *what)
{
	if (idx >= q->n_values)
		return fail(q->req, CQL_ERR_INVALID,
		            "There were %u markers(?) in CQL but %u bound variables",
		            q->plan ? q->plan->n_binds : idx + 1, q->n_values);
	const struct cql_slice *v = &q->values[idx];
	out->p = v->p;
	out->len = v->len;
	if (v->len >= 0 && type) {
		struct cerr e = {0};
		if (cqltype_validate(type, v->p, (size_t)v->len, &e))
			return fail(q->req, CQL_ERR_INVALID, "Invalid value for %s: %s", what,
			            e.msg);
	}
	return 0;
}

static enum cqllit_kind lit_kind(enum cql_term_kind k)
{
	switch (k) {
	case CQL_TERM_STRING: return CQLLIT_STRING;
	case CQL_TERM_INTEGER: return CQLLIT_INTEGER;
	case CQL_TERM_FLOAT: return CQLLIT_FLOAT;
	case CQL_TERM_BOOL: return CQLLIT_BOOLEAN;
	case CQL_TERM_UUID: return CQLLIT_UUID;
	case CQL_TERM_BLOB: return CQLLIT_HEX;
	default: return CQLLIT_NULL;
	}
}

static void make_timeuuid(struct executor *ex, uint8_t u[16])
{
	/* v1: 100 ns intervals since 1582-10-15, random clock sequence and node */
	int64_t us = exec_now_us(ex);
	uint64_t t = (uint64_t)us * 10 + 0x01B21DD213814000ULL;
	be32_store(u, (uint32_t)t);
	be16_store(u + 4, (uint16_t)(t >> 32));
	be16_store(u + 6, (uint16_t)(((t >> 48) & 0x0fff) | 0x1000));
	if (getrandom(u + 8, 8, 0) != 8)
		memset(u + 8, 0x5a, 8);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
}

static int term_value(struct xq *q, const struct cql_term *t, const struct cqltype *type,
                      struct val *out, const char *what);

static int store_bytes(struct xq *q, const struct buf *b, struct val *out)
{
	uint8_t *m = cql_arena_alloc(q->mem, b->len ? b->len : 1);
	if (!m || !buf_ok(b))
		return fail(q->req, CQL_ERR_SERVER, "out of memory converting a value");
	if (b->len)
		memcpy(m, b->data, b->len);
	out->p = m;
	out->len = (int32_t)b->len;
	return 0;
}

static int collection_value(struct xq *q, const struct cql_term *t, const struct cqltype *type,
                            struct val *out, const char *what)
{
	uint32_t n;
	bool is_map = type->kind == CQLTYPE_MAP;
	if (is_map) {
		if (t->kind != CQL_TERM_MAP)
			return fail(q->req, CQL_ERR_INVALID, "Invalid %s literal for %s of type %s",
			            cql_term_kind_name(t->kind), what, "map");
		n = t->map.n_entries;
	} else if (type->kind == CQLTYPE_SET) {
		if (t->kind == CQL_TERM_MAP && t->map.n_entries == 0)
			n = 0;
		else if (t->kind != CQL_TERM_SET)
			return fail(q->req, CQL_ERR_INVALID,
			            "Invalid %s literal for %s of type set",
			            cql_term_kind_name(t->kind), what);
		else
			n = t->coll.n_items;
	} else {
		if (t->kind != CQL_TERM_LIST)
			return fail(q->req, CQL_ERR_INVALID,
			            "Invalid %s literal for %s of type list",
			            cql_term_kind_name(t->kind), what);
		n = t->coll.n_items;
	}
	struct cqlcoll_item *items = cql_arena_alloc(q->mem, (n ? n : 1) * sizeof(*items));
	if (!items)
		return fail(q->req, CQL_ERR_SERVER, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		struct val k, v;
		const struct cql_term *kt = is_map ? t->map.keys[i] : t->coll.items[i];
		if (term_value(q, kt, type->elem, &k, what))
			return -1;
		if (k.len < 0)
			return fail(q->req, CQL_ERR_INVALID,
			            "null is not supported inside collections");
		items[i].key = k.p;
		items[i].key_len = (size_t)k.len;
		if (is_map) {
			if (term_value(q, t->map.values[i], type->value, &v, what))
				return -1;
			if (v.len < 0)
				return fail(q->req, CQL_ERR_INVALID,
				            "null is not supported inside collections");
			items[i].val = v.p;
			items[i].val_len = (size_t)v.len;
		}
	}
	struct buf b;
	buf_init(&b);
	struct cerr e = {0};
	int rc = cqltype_collection_build(type, items, n, &b, &e);
	if (rc) {
		buf_release(&b);
		return fail(q->req, CQL_ERR_INVALID, "Invalid value for %s: %s", what, e.msg);
	}
	rc = store_bytes(q, &b, out);
	buf_release(&b);
	return rc;
}

static int func_value(struct xq *q, const struct cql_term *t, const struct cqltype *type,
                      struct val *out, const char *what)
{
	const char *fn = t->func.name.name.name;
	struct buf b;
	buf_init(&b);
	int rc = 0;
	if (strcasecmp(fn, "now") == 0 && t->func.n_args == 0 &&
	    (type->kind == CQLTYPE_TIMEUUID || type->kind == CQLTYPE_UUID)) {
		uint8_t u[16];
		make_timeuuid(q->ex, u);
		buf_put(&b, u, 16);
	} else if (strcasecmp(fn, "uuid") == 0 && t->func.n_args == 0 &&
	           type->kind == CQLTYPE_UUID) {
		uint8_t u[16];
		if (getrandom(u, 16, 0) != 16)
			memset(u, 0x11, 16);
		u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
		u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
		buf_put(&b, u, 16);
	} else if (((strcasecmp(fn, "currenttimestamp") == 0 && t->func.n_args == 0) ||
	            (strcasecmp(fn, "totimestamp") == 0 && t->func.n_args == 1 &&
	             t->func.args[0]->kind == CQL_TERM_FUNC &&
	             strcasecmp(t->func.args[0]->func.name.name.name, "now") == 0)) &&
	           type->kind == CQLTYPE_TIMESTAMP) {
		buf_put_u64be(&b, (uint64_t)(clock_wall_us() / 1000));
	} else if (((strcasecmp(fn, "currentdate") == 0 && t->func.n_args == 0) ||
	            (strcasecmp(fn, "todate") == 0 && t->func.n_args == 1 &&
	             t->func.args[0]->kind == CQL_TERM_FUNC &&
	             strcasecmp(t->func.args[0]->func.name.name.name, "now") == 0)) &&
	           type->kind == CQLTYPE_DATE) {
		buf_put_u32be(&b, (uint32_t)(clock_wall_s() / 86400 + (1u << 31)));
	} else {
		rc = fail(q->req, CQL_ERR_INVALID, "Unknown function %s() for %s", fn, what);
	}
	if (!rc)
		rc = store_bytes(q, &b, out);
	buf_release(&b);
	return rc;
}

/* The native bytes of term t as a value of `type`. */
static int term_value(struct xq *q, const struct cql_term *t, const struct cqltype *type,
                      struct val *out, const char *what)
{
	switch (t->kind) {
	case CQL_TERM_NULL:
		out->p = NULL;
		out->len = CQL_VALUE_NULL;
		return 0;
	case CQL_TERM_BIND: return bound_value(q, t->bind.index, type, out, what);
	case CQL_TERM_FUNC: return func_value(q, t, type, out, what);
	case CQL_TERM_LIST:
	case CQL_TERM_SET:
	case CQL_TERM_MAP:
		if (!cqltype_is_collection(type))
			return fail(q->req, CQL_ERR_INVALID, "Invalid %s literal for %s",
			            cql_term_kind_name(t->kind), what);
		return collection_value(q, t, type, out, what);
	case CQL_TERM_TUPLE:
	case CQL_TERM_IDENT:
		return fail(q->req, CQL_ERR_INVALID, "Invalid %s literal for %s",
		            cql_term_kind_name(t->kind), what);
	default: break;
	}
	if (cqltype_is_collection(type))
		return fail(q->req, CQL_ERR_INVALID,
		            "Invalid %s literal for %s: expected a collection",
		            cql_term_kind_name(t->kind), what);
	struct buf b;
	buf_init(&b);
	struct cerr e = {0};
	int rc = cqltype_from_literal(type, lit_kind(t->kind), t->text, t->text_len, &b, &e);
	if (rc) {
		buf_release(&b);
		return fail(q->req, CQL_ERR_INVALID,
		            "Invalid %s constant (%.*s) for \"%s\" of type %s",
		            cql_term_kind_name(t->kind), (int)(t->text_len > 40 ? 40 : t->text_len),
		            t->text, what, cqltype_kind_name(type->kind));
	}
	rc = store_bytes(q, &b, out);
	buf_release(&b);
	return rc;
}

/* An int/bigint term (LIMIT, TTL, TIMESTAMP, token bounds). */
static int term_int64(struct xq *q, const struct cql_term *t, bool is_bigint, int64_t *out,
                      const char *what)
{
	struct val v;
	const struct cqltype *ty = cqltype_simple(is_bigint ? CQLTYPE_BIGINT : CQLTYPE_INT);
	if (term_value(q, t, ty, &v, what))
		return -1;
	if (v.len < 0)
		return fail(q->req, CQL_ERR_INVALID, "Invalid null value of %s", what);
	if (is_bigint) {
		if (v.len != 8)
			return fail(q->req, CQL_ERR_INVALID, "Invalid value of %s", what);
		*out = (int64_t)be64_load(v.p);
	} else {
		if (v.len != 4)
			return fail(q->req, CQL_ERR_INVALID, "Invalid value of %s", what);
		*out = (int32_t)be32_load(v.p);
	}
	return 0;
}

/* ---- WHERE analysis ----------------------------------------------------------------------- */

#define MAX_VALS 128

/* Restrictions on the primary key, resolved to values. */
struct where {
	/* partition key: per column a list of values (1 for =, n for IN) */
	struct val *pk_vals[STORE_MAX_PK_COLS];
	uint32_t pk_n[STORE_MAX_PK_COLS];
	uint32_t n_pk_restricted;
	/* clustering: EQ/IN prefix of columns, then an optional slice on the next */
	struct val *ck_vals[STORE_MAX_CK_COLS];
	uint32_t ck_n[STORE_MAX_CK_COLS];
	uint32_t n_ck_eq;
	bool has_lower, has_upper;
	bool lower_incl, upper_incl;
	struct val lower, upper; /* on clustering column n_ck_eq */
	int slice_col;           /* -1 = none */
	/* token(pk) range (start, end] */
	bool has_token;
	int64_t tok_start, tok_end;
};

static int where_values(struct xq *q, const struct cql_relation *r, const struct schema_column *c,
                        struct val **vals, uint32_t *n)
{
	uint32_t cnt;
	struct val *v;
	if (r->op == CQL_OP_IN) {
		if (r->n_in) {
			cnt = r->n_in;
			v = cql_arena_alloc(q->mem, cnt * sizeof(*v));
			if (!v)
				return fail(q->req, CQL_ERR_SERVER, "out of memory");
			for (uint32_t i = 0; i < cnt; i++)
				if (term_value(q, r->in_items[i], c->type, &v[i], c->name))
					return -1;
		} else {
			/* IN ?: a list of values */
			struct val lv;
			const struct cqltype *lt = NULL;
			if (r->term && r->term->kind == CQL_TERM_BIND)
				lt = bind_type(q->plan, r->term->bind.index);
			if (!r->term || term_value(q, r->term, lt, &lv, c->name))
				return -1;
			if (lv.len < 0)
				return fail(q->req, CQL_ERR_INVALID,
				            "Invalid null value for IN list of %s", c->name);
			struct bufreader br;
			bufreader_init(&br, lv.p, (size_t)lv.len);
			int32_t k = (int32_t)bufreader_u32be(&br);
			if (k < 0 || k > MAX_VALS)
				return fail(q->req, CQL_ERR_INVALID, "IN list of %s too long",
				            c->name);
			cnt = (uint32_t)k;
			v = cql_arena_alloc(q->mem, (cnt ? cnt : 1) * sizeof(*v));
			if (!v)
				return fail(q->req, CQL_ERR_SERVER, "out of memory");
			for (uint32_t i = 0; i < cnt; i++) {
				int32_t l = (int32_t)bufreader_u32be(&br);
				v[i].len = l;
				v[i].p = l > 0    ? bufreader_take(&br, (size_t)l)
				         : l == 0 ? empty_value
				                  : NULL;
			}
			if (!bufreader_ok(&br))
				return fail(q->req, CQL_ERR_INVALID, "malformed IN list for %s",
				            c->name);
		}
	} else {
		cnt = 1;
		v = cql_arena_alloc(q->mem, sizeof(*v));
		if (!v)
			return fail(q->req, CQL_ERR_SERVER, "out of memory");
		if (term_value(q, r->term, c->type, v, c->name))
			return -1;
	}
	for (uint32_t i = 0; i < cnt; i++) {
		if (v[i].len == CQL_VALUE_NULL)
			return fail(q->req, CQL_ERR_INVALID,
			            "Invalid null value in condition for column %s", c->name);
		if (v[i].len == CQL_VALUE_UNSET)
			return fail(q->req, CQL_ERR_INVALID, "Invalid unset value for column %s",
			            c->name);
	}
	*vals = v;
	*n = cnt;
	return 0;
}

static int analyze_where(struct xq *q, struct cql_relation *const *rels, uint32_t n_rels,
                         struct where *w, bool allow_ck_slice)
{
	const struct schema_table *t = q->plan->table;
	const struct plan *p = q->plan;
	memset(w, 0, sizeof(*w));
	w->slice_col = -1;
	w->tok_start = INT64_MIN;
	w->tok_end = INT64_MAX;
	bool ck_seen[STORE_MAX_CK_COLS] = {0};
	for (uint32_t i = 0; i < n_rels; i++) {
		const struct cql_relation *r = rels[i];
		if (r->kind == CQL_REL_TOKEN) {
			if (r->n_cols != t->n_pk)
				return fail(
				        q->req, CQL_ERR_INVALID,
				        "The token() function must be applied to all partition key "
				        "components or none of them");
			for (uint32_t k = 0; k < r->n_cols; k++)
				if (column_index(t, r->cols[k].name) != (int)k)
					return fail(q->req, CQL_ERR_INVALID,
					            "The token function arguments must be in the "
					            "partition key order: %s",
					            t->cols[k].name);
			int64_t v;
			if (term_int64(q, r->term, true, &v, "partition key token"))
				return -1;
			w->has_token = true;
			switch (r->op) {
			case CQL_OP_GT:
				if (v > w->tok_start)
					w->tok_start = v;
				break;
			case CQL_OP_GTE:
				if (v == INT64_MIN)
					break;
				if (v - 1 > w->tok_start)
					w->tok_start = v - 1;
				break;
			case CQL_OP_LT:
				if (v == INT64_MIN)
					w->tok_end = INT64_MIN; /* empty */
				else if (v - 1 < w->tok_end)
					w->tok_end = v - 1;
				break;
			case CQL_OP_LTE:
				if (v < w->tok_end)
					w->tok_end = v;
				break;
			case CQL_OP_EQ:
				if (v != INT64_MIN && v - 1 > w->tok_start)
					w->tok_start = v - 1;
				if (v < w->tok_end)
					w->tok_end = v;
				break;
			default:
				return fail(q->req, CQL_ERR_INVALID,
				            "Unsupported operator %s on token()",
				            cql_op_name(r->op));
			}
			continue;
		}
		if (r->kind != CQL_REL_COLUMN)
			return fail(q->req, CQL_ERR_INVALID,
			            "Multi-column relations are not supported by colonnade");
		int ci = column_index(t, r->cols[0].name);
		if (ci < 0)
			return undefined_column(q->req, p, r->cols[0].name);
		const struct schema_column *c = &t->cols[ci];
		if (c->kind == SCHEMA_COL_PARTITION_KEY) {
			if (r->op != CQL_OP_EQ && r->op != CQL_OP_IN)
				return fail(
				        q->req, CQL_ERR_INVALID,
				        "Only EQ and IN relation are supported on the partition "
				        "key (unless you use the token() function)");
			if (w->pk_vals[c->position])
				return fail(
				        q->req, CQL_ERR_INVALID,
				        "%s cannot be restricted by more than one relation if it "
				        "includes an Equal",
				        c->name);
			if (where_values(q, r, c, &w->pk_vals[c->position], &w->pk_n[c->position]))
				return -1;
			w->n_pk_restricted++;
		} else if (c->kind == SCHEMA_COL_CLUSTERING) {
			int pos = c->position;
			if (r->op == CQL_OP_EQ || r->op == CQL_OP_IN) {
				if (ck_seen[pos])
					return fail(
					        q->req, CQL_ERR_INVALID,
					        "%s cannot be restricted by more than one relation "
					        "if it includes an Equal",
					        c->name);
				ck_seen[pos] = true;
				if (where_values(q, r, c, &w->ck_vals[pos], &w->ck_n[pos]))
					return -1;
			} else if (r->op == CQL_OP_GT || r->op == CQL_OP_GTE ||
			           r->op == CQL_OP_LT || r->op == CQL_OP_LTE) {
				if (!allow_ck_slice)
					return fail(q->req, CQL_ERR_INVALID,
					            "Slice restrictions are not supported on the "
					            "clustering columns here (%s)",
					            c->name);
				if (w->slice_col >= 0 && w->slice_col != pos)
					return fail(q->req, CQL_ERR_INVALID,
					            "Clustering column \"%s\" cannot be restricted "
					            "(preceding column \"%s\" is restricted by a "
					            "non-EQ relation)",
					            c->name,
					            t->cols[t->n_pk + (uint32_t)w->slice_col].name);
				w->slice_col = pos;
				struct val *v;
				uint32_t n;
				if (where_values(q, r, c, &v, &n))
					return -1;
				if (r->op == CQL_OP_GT || r->op == CQL_OP_GTE) {
					if (w->has_lower)
						return fail(q->req, CQL_ERR_INVALID,
						            "More than one restriction was found "
						            "for the "
						            "start bound on %s",
						            c->name);
					w->has_lower = true;
					w->lower = v[0];
					w->lower_incl = r->op == CQL_OP_GTE;
				} else {
					if (w->has_upper)
						return fail(q->req, CQL_ERR_INVALID,
						            "More than one restriction was found "
						            "for the "
						            "end bound on %s",
						            c->name);
					w->has_upper = true;
					w->upper = v[0];
					w->upper_incl = r->op == CQL_OP_LTE;
				}
			} else {
				return fail(q->req, CQL_ERR_INVALID,
				            "Unsupported operator %s on %s", cql_op_name(r->op),
				            c->name);
			}
		} else {
			return fail(q->req, CQL_ERR_INVALID,
			            "Cannot execute this query as it might involve data filtering "
			            "and thus may have unpredictable performance. Colonnade does "
			            "not filter on non-primary-key column %s",
			            c->name);
		}
	}
	/* clustering restrictions must form an EQ prefix, then the slice */
	uint32_t k = 0;
	while (k < t->n_ck && ck_seen[k])
		k++;
	w->n_ck_eq = k;
	for (uint32_t j = k; j < t->n_ck; j++)
		if (ck_seen[j])
			return fail(q->req, CQL_ERR_INVALID,
			            "PRIMARY KEY column \"%s\" cannot be restricted as preceding "
			            "column \"%s\" is not restricted",
			            t->cols[t->n_pk + j].name, t->cols[t->n_pk + k].name);
	if (w->slice_col >= 0 && (uint32_t)w->slice_col != k)
		return fail(q->req, CQL_ERR_INVALID,
		            "PRIMARY KEY column \"%s\" cannot be restricted as preceding column "
		            "\"%s\" is not restricted",
		            t->cols[t->n_pk + (uint32_t)w->slice_col].name,
		            t->cols[t->n_pk + k].name);
	if (w->n_pk_restricted && w->n_pk_restricted < t->n_pk) {
		for (uint32_t j = 0; j < t->n_pk; j++)
			if (!w->pk_vals[j])
				return fail(q->req, CQL_ERR_INVALID,
				            "Cannot execute this query as it might involve data "
				            "filtering and thus may have unpredictable performance "
				            "(partition key part %s is not restricted)",
				            t->cols[j].name);
	}
	if (w->n_pk_restricted && w->has_token)
		return fail(q->req, CQL_ERR_INVALID,
		            "Partition key restrictions and token() restrictions cannot be mixed");
	return 0;
}

/* Enumerate the cartesian product of per-column value lists. */
static uint64_t product(const uint32_t *n, uint32_t cols)
{
	uint64_t p = 1;
	for (uint32_t i = 0; i < cols; i++)
		p *= n[i] ? n[i] : 1;
	return p;
}

static void pick(struct val *const *vals, const uint32_t *n, uint32_t cols, uint64_t idx,
                 struct store_value *out)
{
	for (uint32_t i = cols; i-- > 0;) {
		uint32_t k = (uint32_t)(idx % n[i]);
		idx /= n[i];
		out[i].p = vals[i][k].p;
		out[i].len = (size_t)vals[i][k].len;
	}
}

/* ---- result encoding ---------------------------------------------------------------------- */

static void put_col_specs(struct buf *b, const struct plan *p, const char *ks, const char *table)
{
	cql_put_string(b, ks);
	cql_put_string(b, table);
	for (uint32_t i = 0; i < p->n_sel; i++) {
		cql_put_string(b, p->sel[i].name ? p->sel[i].name : "?");
		cqltype_write_option(p->sel[i].type, b);
	}
}

/* Rows metadata; returns the offset of rows_count to patch. */
static size_t begin_rows(struct buf *b, const struct plan *p, bool no_meta,
                         const struct buf *paging)
{
	cql_put_int(b, CQL_RESULT_ROWS);
	int32_t flags = 0;
	if (paging && paging->len)
		flags |= CQL_ROWS_HAS_MORE_PAGES;
	if (no_meta)
		flags |= CQL_ROWS_NO_METADATA;
	else if (p->n_sel)
		flags |= CQL_ROWS_GLOBAL_TABLES_SPEC;
	cql_put_int(b, flags);
	cql_put_int(b, (int32_t)p->n_sel);
	if (paging && paging->len)
		cql_put_bytes(b, paging->data, (int32_t)paging->len);
	if (!no_meta && p->n_sel)
		put_col_specs(b, p, p->ks, p->table_name);
	size_t at = b->len;
	cql_put_int(b, 0);
	return at;
}

/* ---- SELECT on virtual tables ------------------------------------------------------------- */

struct vsel {
	struct xq *q;
	struct where w;
	struct buf *rows;
	int32_t nrows;
	int64_t limit;
	const struct cql_select *s;
	struct val *filters; /* per WHERE relation (EQ/IN values) */
};

static bool vmatch(const struct cqltype *ty, const struct val *vals, uint32_t n,
                   const struct cql_slice *v)
{
	for (uint32_t i = 0; i < n; i++) {
		if (v->len < 0)
			continue;
		if (cqltype_compare(ty, vals[i].p, (size_t)vals[i].len, v->p, (size_t)v->len) == 0)
			return true;
	}
	return false;
}

static int vrow(void *ctx, const struct cql_slice *values)
{
	struct vsel *vs = ctx;
	const struct schema_table *t = vs->q->plan->table;
	const struct plan *p = vs->q->plan;
	/* every relation: column (=|IN) values */
	for (uint32_t i = 0; i < vs->s->n_where; i++) {
		const struct cql_relation *r = vs->s->where[i];
		int ci = column_index(t, r->cols[0].name);
		const struct val *fv;
		uint32_t fn;
		if (t->cols[ci].kind == SCHEMA_COL_PARTITION_KEY) {
			fv = vs->w.pk_vals[t->cols[ci].position];
			fn = vs->w.pk_n[t->cols[ci].position];
		} else {
			fv = vs->w.ck_vals[t->cols[ci].position];
			fn = vs->w.ck_n[t->cols[ci].position];
		}
		if (fv && !vmatch(t->cols[ci].type, fv, fn, &values[ci]))
			return 0;
	}
	if (vs->limit >= 0 && vs->nrows >= vs->limit)
		return STOP_READ;
	if (p->count) {
		vs->nrows++;
		return 0;
	}
	for (uint32_t i = 0; i < p->n_sel; i++) {
		const struct cql_slice *v = &values[p->sel[i].col];
		if (p->sel[i].kind != SEL_COLUMN)
			cql_put_bytes(vs->rows, NULL, -1);
		else
			cql_put_bytes(vs->rows, v->p, v->len);
	}
	vs->nrows++;
	return 0;
}

static const char *text_filter(const struct where *w, int pos_unused, const struct val *v,
                               uint32_t n, char *buf, size_t len)
{
	(void)w;
	(void)pos_unused;
	if (!v || n != 1 || v[0].len < 0 || (size_t)v[0].len >= len)
		return NULL;
	memcpy(buf, v[0].p, (size_t)v[0].len);
	buf[v[0].len] = 0;
	return buf;
}

static int select_virtual(struct xq *q, int64_t limit)
{
	struct exec_req *req = q->req;
	const struct plan *p = q->plan;
	const struct schema_table *t = p->table;
	const struct cql_select *s = &p->stmt->select;
	struct vsel vs = {.q = q, .s = s, .limit = limit};
	for (uint32_t i = 0; i < s->n_where; i++) {
		const struct cql_relation *r = s->where[i];
		if (r->kind != CQL_REL_COLUMN || (r->op != CQL_OP_EQ && r->op != CQL_OP_IN))
			return fail(req, CQL_ERR_INVALID,
			            "Only = and IN restrictions are supported on %s.%s", p->ks,
			            p->table_name);
	}
	if (analyze_where(q, s->where, s->n_where, &vs.w, false))
		return -1;
	char ksf[SCHEMA_NAME_MAX + 1], tf[SCHEMA_NAME_MAX + 1];
	const char *ks_filter = NULL, *name_filter = NULL;
	if (strcmp(p->ks, "system_schema") == 0) {
		ks_filter = text_filter(&vs.w, 0, vs.w.pk_vals[0], vs.w.pk_n[0], ksf, sizeof(ksf));
		if (t->n_ck)
			name_filter = text_filter(&vs.w, 1, vs.w.ck_vals[0], vs.w.ck_n[0], tf,
			                          sizeof(tf));
	}
	struct buf *b = &req->body_out;
	size_t at = begin_rows(b, p, q->skip_metadata, NULL);
	vs.rows = b;
	int rc = systables_scan(schema_current(q->ex->d.schema), q->ex->d.view, t, ks_filter,
	                        name_filter, vrow, &vs);
	if (rc < 0)
		return fail(req, CQL_ERR_INVALID, "unconfigured table %s", p->table_name);
	if (p->count) {
		uint8_t cnt[8];
		be64_store(cnt, (uint64_t)vs.nrows);
		cql_put_bytes(b, cnt, 8);
		vs.nrows = 1;
	}
	buf_patch_u32be(b, at, (uint32_t)vs.nrows);
	return 0;
}

/* ---- SELECT on tables --------------------------------------------------------------------- */

struct rsel {
	struct xq *q;
	const struct plan *p;
	const struct schema_table *t;
	struct buf *out;
	int32_t nrows;
	int64_t count;
	int32_t page;      /* rows per page; 0 = unbounded */
	int64_t remaining; /* LIMIT left, -1 none */
	bool more;
	bool distinct;
	int64_t now_s;
	/* last row returned */
	int64_t last_token;
	struct buf last_key;
	struct buf last_ck; /* [u32 len][bytes] per clustering value */
	bool have_last;
	/* static row of the current partition (encoded [bytes] per selected static col) */
	struct buf statics;
	struct buf cur_key; /* partition whose static row is in `statics` */
	bool have_statics;
	struct buf tmp;
	uint32_t cur_idx;  /* IN combination being read */
	uint32_t last_idx; /* IN combination of the last row returned */
	struct buf distinct_key;
};

static const struct store_cell *find_cells(const struct store_row *r, uint32_t col, size_t *n)
{
	size_t lo = 0, hi = r->n_cells;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (r->cells[mid].col < col)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t e = lo;
	while (e < r->n_cells && r->cells[e].col == col)
		e++;
	*n = e - lo;
	return *n ? &r->cells[lo] : NULL;
}

/* Append the [bytes] value of column c of row r (collections reassembled). */
static void put_cell_value(struct rsel *rs, const struct schema_column *c,
                           const struct store_row *r, enum sel_kind kind)
{
	size_t n;
	const struct store_cell *cells = find_cells(r, c->id, &n);
	if (!cells) {
		cql_put_bytes(rs->out, NULL, -1);
		return;
	}
	if (kind == SEL_WRITETIME) {
		cql_put_int(rs->out, 8);
		buf_put_u64be(rs->out, (uint64_t)cells[0].ts);
		return;
	}
	if (kind == SEL_TTL) {
		if (!cells[0].expiry_s) {
			cql_put_bytes(rs->out, NULL, -1);
			return;
		}
		int64_t left = cells[0].expiry_s - rs->now_s;
		cql_put_int(rs->out, 4);
		buf_put_u32be(rs->out, (uint32_t)(left > 0 ? left : 0));
		return;
	}
	bool multi = cqltype_is_collection(c->type) && !c->type->frozen;
	if (!multi) {
		cql_put_bytes(rs->out, cells[0].value, (int32_t)cells[0].value_len);
		return;
	}
	/* non-frozen collection: one cell per element (path = element / key / list slot) */
	size_t at = rs->out->len;
	cql_put_int(rs->out, 0);
	cql_put_int(rs->out, (int32_t)n);
	for (size_t i = 0; i < n; i++) {
		if (c->type->kind == CQLTYPE_SET) {
			cql_put_bytes(rs->out, cells[i].path, (int32_t)cells[i].path_len);
		} else if (c->type->kind == CQLTYPE_MAP) {
			cql_put_bytes(rs->out, cells[i].path, (int32_t)cells[i].path_len);
			cql_put_bytes(rs->out, cells[i].value, (int32_t)cells[i].value_len);
		} else {
			cql_put_bytes(rs->out, cells[i].value, (int32_t)cells[i].value_len);
		}
	}
	buf_patch_u32be(rs->out, at, (uint32_t)(rs->out->len - at - 4));
}

static bool same_key(const struct buf *b, const struct store_partition *p)
{
	return b->len == p->key_len && memcmp(b->data, p->key, p->key_len) == 0;
}

static void set_key(struct buf *b, const struct store_partition *p)
{
	buf_reset(b);
	buf_put(b, p->key, p->key_len);
}

static int rsel_row(void *ctx, const struct store_partition *part, const struct store_row *r)
{
	struct rsel *rs = ctx;
	const struct schema_table *t = rs->t;
	const struct plan *p = rs->p;
	if (r->is_static) {
		/* keep the selected static values for the partition's rows */
		set_key(&rs->cur_key, part);
		buf_reset(&rs->statics);
		struct buf *saved = rs->out;
		rs->out = &rs->statics;
		for (uint32_t i = 0; i < p->n_sel; i++)
			if (p->sel[i].kind != SEL_COUNT && p->sel[i].kind != SEL_TOKEN &&
			    t->cols[p->sel[i].col].kind == SCHEMA_COL_STATIC)
				put_cell_value(rs, &t->cols[p->sel[i].col], r, p->sel[i].kind);
		rs->out = saved;
		rs->have_statics = true;
		return 0;
	}
	if (!r->has_marker && r->n_cells == 0)
		return 0;
	if (rs->distinct) {
		if (rs->distinct_key.len && same_key(&rs->distinct_key, part))
			return 0;
		set_key(&rs->distinct_key, part);
	}
	if (rs->remaining == 0)
		return STOP_READ;
	if (p->count) {
		rs->count++;
		if (rs->remaining > 0)
			rs->remaining--;
		return 0;
	}
	if (rs->page > 0 && (rs->nrows >= rs->page || rs->out->len >= MAX_PAGE_BYTES)) {
		rs->more = true;
		return STOP_READ;
	}
	bool statics = rs->have_statics && same_key(&rs->cur_key, part);
	struct bufreader sr;
	bufreader_init(&sr, rs->statics.data, statics ? rs->statics.len : 0);
	for (uint32_t i = 0; i < p->n_sel; i++) {
		const struct sel_col *sc = &p->sel[i];
		if (sc->kind == SEL_TOKEN) {
			cql_put_int(rs->out, 8);
			buf_put_u64be(rs->out, (uint64_t)part->token);
			continue;
		}
		const struct schema_column *c = &t->cols[sc->col];
		switch (c->kind) {
		case SCHEMA_COL_PARTITION_KEY: {
			const struct store_value *v = &part->pk[c->position];
			cql_put_bytes(rs->out, v->p, (int32_t)v->len);
			break;
		}
		case SCHEMA_COL_CLUSTERING: {
			const struct store_value *v = &r->ck[c->position];
			cql_put_bytes(rs->out, v->p, (int32_t)v->len);
			break;
		}
		case SCHEMA_COL_STATIC:
			if (statics) {
				int32_t l = (int32_t)bufreader_u32be(&sr);
				const uint8_t *vp = l > 0    ? bufreader_take(&sr, (size_t)l)
				                    : l == 0 ? empty_value
				                             : NULL;
				cql_put_bytes(rs->out, vp, l);
			} else {
				cql_put_bytes(rs->out, NULL, -1);
			}
			break;
		default: put_cell_value(rs, c, r, sc->kind); break;
		}
	}
	rs->nrows++;
	if (rs->remaining > 0)
		rs->remaining--;
	rs->last_token = part->token;
	rs->last_idx = rs->cur_idx;
	set_key(&rs->last_key, part);
	buf_reset(&rs->last_ck);
	for (size_t i = 0; i < r->n_ck; i++) {
		buf_put_u32be(&rs->last_ck, (uint32_t)r->ck[i].len);
		buf_put(&rs->last_ck, r->ck[i].p, r->ck[i].len);
	}
	rs->have_last = true;
	return 0;
}

static int fail_proxy(struct exec_req *req, const struct proxy_result *r)
{
	switch (r->code) {
	case COL_EUNAVAILABLE:
		fail(req, CQL_ERR_UNAVAILABLE, "%s", r->msg);
		req->error.cl = r->cl;
		req->error.required = r->required;
		req->error.alive = r->alive;
		return -1;
	case COL_ETIMEDOUT:
		fail(req, r->write ? CQL_ERR_WRITE_TIMEOUT : CQL_ERR_READ_TIMEOUT, "%s", r->msg);
		req->error.cl = r->cl;
		req->error.required = r->required;
		req->error.alive = r->alive;
		req->error.data_present = r->data_present;
		req->error.write_type = proxy_write_type_name(r->write_type);
		return -1;
	case COL_EINVAL: return fail(req, CQL_ERR_INVALID, "%s", r->msg);
	default: return fail(req, CQL_ERR_SERVER, "%s", r->msg[0] ? r->msg : col_strerror(r->code));
	}
}

/* Decode [u32 len][bytes]... into n values pointing into data. */
static size_t decode_ck(const uint8_t *data, size_t len, struct store_value *out, size_t max)
{
	struct bufreader r;
	bufreader_init(&r, data, len);
	size_t n = 0;
	while (bufreader_left(&r) && n < max) {
		uint32_t l = bufreader_u32be(&r);
		out[n].p = bufreader_take(&r, l);
		out[n].len = l;
		if (!bufreader_ok(&r))
			return SIZE_MAX;
		n++;
	}
	return bufreader_left(&r) ? SIZE_MAX : n;
}

/* A SELECT over a table, kept across the proxy's asynchronous reads. */
struct selx {
	struct rsel rs;
	struct where w;
	unsigned flags;  /* STORE_READ_REVERSE */
	bool partitions; /* the partition key is fully restricted (=, IN) */
	bool resume;
	struct paging_pos pos;
	struct store_value rck[STORE_MAX_CK_COLS]; /* resume after this clustering */
	size_t n_rck;
	uint64_t nparts, nck, idx, first;
	bool in_step; /* select_step() is on the stack */
	bool waiting; /* a read is outstanding */
	struct buf rows;
	/* arguments of the read in flight (borrowed by the proxy until it completes) */
	struct store_value pk[STORE_MAX_PK_COLS];
	struct store_value lo[STORE_MAX_CK_COLS], hi[STORE_MAX_CK_COLS];
	struct store_slice slice;
	struct proxy_read rd;
	struct store_position after;
	struct proxy_scan scan;
};

static void xq_finish(struct xq *q);

static void selx_free(struct selx *x)
{
	if (!x)
		return;
	buf_release(&x->rows);
	buf_release(&x->rs.last_key);
	buf_release(&x->rs.last_ck);
	buf_release(&x->rs.statics);
	buf_release(&x->rs.cur_key);
	buf_release(&x->rs.tmp);
	buf_release(&x->rs.distinct_key);
	free(x);
}

/* Encode the Rows answer (with a paging state when rows remain) and finish. */
static void select_finish(struct xq *q)
{
	struct selx *x = q->sel;
	struct exec_req *req = q->req;
	const struct plan *p = q->plan;
	const struct schema_table *t = p->table;
	struct rsel *rs = &x->rs;
	if (req->failed) {
		xq_finish(q);
		return;
	}
	struct buf st;
	buf_init(&st);
	if (rs->more && rs->have_last) {
		struct paging_pos np = {.remaining =
		                                rs->remaining >= 0 ? (int32_t)rs->remaining : -1,
		                        .part_index = x->partitions ? rs->last_idx : 0};
		struct buf key;
		buf_init(&key);
		if (!x->partitions)
			buf_put_u64be(&key, (uint64_t)rs->last_token);
		buf_put(&key, rs->last_key.data, rs->last_key.len);
		np.pk = key.data;
		np.pk_len = (uint32_t)key.len;
		np.ck = rs->last_ck.data;
		np.ck_len = (uint32_t)rs->last_ck.len;
		if (t->n_ck == 0)
			np.flags |= PAGING_PARTITION_DONE;
		paging_encode(&np, &st);
		buf_release(&key);
	}
	struct buf *b = &req->body_out;
	size_t at = begin_rows(b, p, q->skip_metadata, &st);
	buf_release(&st);
	if (p->count) {
		uint8_t cnt[8];
		be64_store(cnt, (uint64_t)rs->count);
		cql_put_bytes(b, cnt, 8);
		buf_patch_u32be(b, at, 1);
	} else {
		buf_put(b, x->rows.data, x->rows.len);
		buf_patch_u32be(b, at, (uint32_t)rs->nrows);
	}
	if (!buf_ok(&x->rows))
		b->oom = true;
	xq_finish(q);
}

static void select_step(struct xq *q);

static void select_read_done(void *ctx, const struct proxy_result *res)
{
	struct xq *q = ctx;
	struct selx *x = q->sel;
	x->waiting = false;
	if (res->code)
		fail_proxy(q->req, res);
	if (!x->in_step)
		select_step(q); /* completed later: go on from here */
}

/*
 * Read the next (partition, clustering IN combination) until the page is full,
 * the LIMIT is reached or the list ends.  Reads that complete at once loop here
 * (no recursion); one that completes later resumes through select_read_done.
 */
static void select_step(struct xq *q)
{
	struct selx *x = q->sel;
	struct rsel *rs = &x->rs;
	const struct plan *p = q->plan;
	const struct schema_table *t = p->table;
	const struct cql_select *s = &p->stmt->select;
	struct where *w = &x->w;
	x->in_step = true;
	while (!q->req->failed && !rs->more && rs->remaining != 0 && x->idx < x->nparts * x->nck) {
		uint64_t idx = x->idx++;
		uint64_t pi = idx / x->nck, ci = idx % x->nck;
		if (x->resume && idx == x->first && !x->n_rck &&
		    (x->pos.flags & PAGING_PARTITION_DONE))
			continue;
		pick(w->pk_vals, w->pk_n, t->n_pk, pi, x->pk);
		struct store_value pre[STORE_MAX_CK_COLS];
		pick(w->ck_vals, w->ck_n, w->n_ck_eq, ci, pre);
		struct store_value *lo = x->lo, *hi = x->hi;
		size_t nlo = w->n_ck_eq, nhi = w->n_ck_eq;
		memcpy(lo, pre, w->n_ck_eq * sizeof(*lo));
		memcpy(hi, pre, w->n_ck_eq * sizeof(*hi));
		bool lo_incl = true, hi_incl = true;
		if (w->slice_col >= 0) {
			bool desc = t->cols[t->n_pk + (uint32_t)w->slice_col].desc;
			/* ASC: the lower value bound is the slice start; DESC: its end */
			if (w->has_lower) {
				struct store_value *bd = desc ? hi : lo;
				size_t *nb = desc ? &nhi : &nlo;
				bd[*nb].p = w->lower.p;
				bd[*nb].len = (size_t)w->lower.len;
				(*nb)++;
				if (desc)
					hi_incl = w->lower_incl;
				else
					lo_incl = w->lower_incl;
			}
			if (w->has_upper) {
				struct store_value *bd = desc ? lo : hi;
				size_t *nb = desc ? &nlo : &nhi;
				bd[*nb].p = w->upper.p;
				bd[*nb].len = (size_t)w->upper.len;
				(*nb)++;
				if (desc)
					lo_incl = w->upper_incl;
				else
					hi_incl = w->upper_incl;
			}
		}
		/* resuming inside this partition: strictly after the last clustering */
		if (x->resume && idx == x->first && x->n_rck) {
			if (x->flags & STORE_READ_REVERSE) {
				memcpy(hi, x->rck, x->n_rck * sizeof(*hi));
				nhi = x->n_rck;
				hi_incl = false;
			} else {
				memcpy(lo, x->rck, x->n_rck * sizeof(*lo));
				nlo = x->n_rck;
				lo_incl = false;
			}
		}
		x->slice = (struct store_slice){lo, nlo, lo_incl, hi, nhi, hi_incl};
		x->rd = (struct proxy_read){
		        .table = t->st,
		        .pk = x->pk,
		        .n_pk = t->n_pk,
		        .slice = (nlo || nhi) ? &x->slice : NULL,
		        .flags = x->flags,
		        .limit = 0,
		        .now_s = rs->now_s,
		};
		/* one row past the page tells whether more remain */
		if (rs->page > 0 && !p->count)
			x->rd.limit = (size_t)(rs->page - rs->nrows) + 1;
		if (rs->remaining >= 0 &&
		    (x->rd.limit == 0 || (size_t)rs->remaining + 1 < x->rd.limit))
			x->rd.limit = (size_t)rs->remaining + 1;
		if (s->distinct)
			x->rd.limit = 1;
		rs->have_statics = false;
		rs->cur_idx = (uint32_t)idx;
		x->waiting = true;
		proxy_read_partition(q->ex->d.proxy, t->ks, q->cl, &x->rd, rsel_row, rs,
		                     select_read_done, q);
		if (x->waiting) {
			x->in_step = false;
			return; /* select_read_done continues */
		}
	}
	x->in_step = false;
	select_finish(q);
}

static void select_scan_done(void *ctx, const struct proxy_result *res)
{
	struct xq *q = ctx;
	if (res->code)
		fail_proxy(q->req, res);
	select_finish(q);
}

/* Checks and set-up of a table SELECT: restrictions, order, resume position. */
static int select_prepare(struct xq *q, struct selx *x, int64_t limit)
{
	struct exec_req *req = q->req;
	const struct plan *p = q->plan;
	const struct schema_table *t = p->table;
	const struct cql_select *s = &p->stmt->select;
	const struct schema_keyspace *ks = t->ks;
	struct where *wp = &x->w;
	if (analyze_where(q, s->where, s->n_where, wp, true))
		return -1;
#define w (*wp)
	bool partitions = w.n_pk_restricted == t->n_pk;
	if (!partitions && (w.n_ck_eq || w.slice_col >= 0) && !s->allow_filtering)
		return fail(req, CQL_ERR_INVALID,
		            "Cannot execute this query as it might involve data filtering and thus "
		            "may have unpredictable performance. If you want to execute this query "
		            "despite the performance unpredictability, use ALLOW FILTERING");
	if (!partitions && (w.n_ck_eq || w.slice_col >= 0))
		return fail(req, CQL_ERR_INVALID,
		            "Clustering restrictions without the whole partition key are not "
		            "supported by colonnade, even with ALLOW FILTERING");
	/* ORDER BY: must follow the clustering columns, all the same way or all reversed */
	unsigned flags = 0;
	if (s->n_order_by) {
		if (!partitions)
			return fail(
			        req, CQL_ERR_INVALID,
			        "ORDER BY is only supported when the partition key is restricted "
			        "by an EQ or an IN.");
		bool rev = false;
		for (uint32_t i = 0; i < s->n_order_by; i++) {
			int ci = column_index(t, s->order_by[i].column.name);
			if (ci < 0)
				return undefined_column(req, p, s->order_by[i].column.name);
			if (t->cols[ci].kind != SCHEMA_COL_CLUSTERING ||
			    t->cols[ci].position != (int)i)
				return fail(
				        req, CQL_ERR_INVALID,
				        "Order by currently only supports the ordering of columns "
				        "following their declared order in the PRIMARY KEY");
			bool r = s->order_by[i].desc != t->cols[ci].desc;
			if (i == 0)
				rev = r;
			else if (r != rev)
				return fail(req, CQL_ERR_INVALID, "Unsupported order by relation");
		}
		if (rev)
			flags |= STORE_READ_REVERSE;
	}
	if (s->distinct) {
		for (uint32_t i = 0; i < p->n_sel; i++)
			if (p->sel[i].kind == SEL_COLUMN &&
			    t->cols[p->sel[i].col].kind != SCHEMA_COL_PARTITION_KEY &&
			    t->cols[p->sel[i].col].kind != SCHEMA_COL_STATIC)
				return fail(
				        req, CQL_ERR_INVALID,
				        "SELECT DISTINCT queries must only request partition key "
				        "columns and/or static columns (not %s)",
				        p->sel[i].name);
	}
	/* clustering IN values come back in clustering order (Cassandra sorts them) */
	for (uint32_t k = 0; k < w.n_ck_eq; k++) {
		const struct schema_column *c = &t->cols[t->n_pk + k];
		bool down = c->desc != ((flags & STORE_READ_REVERSE) != 0);
		struct val *v = w.ck_vals[k];
		uint32_t n = w.ck_n[k], out_n = 0;
		for (uint32_t i = 1; i < n; i++)
			for (uint32_t j = i; j > 0; j--) {
				int cmp = cqltype_compare(c->type, v[j - 1].p, (size_t)v[j - 1].len,
				                          v[j].p, (size_t)v[j].len);
				if (down ? cmp >= 0 : cmp <= 0)
					break;
				struct val x = v[j];
				v[j] = v[j - 1];
				v[j - 1] = x;
			}
		for (uint32_t i = 0; i < n; i++)
			if (out_n == 0 ||
			    cqltype_compare(c->type, v[out_n - 1].p, (size_t)v[out_n - 1].len,
			                    v[i].p, (size_t)v[i].len) != 0)
				v[out_n++] = v[i];
		w.ck_n[k] = out_n;
	}
	struct proxy_result pr;
	if (proxy_check(q->ex->d.proxy, ks, q->cl, false, &pr))
		return fail_proxy(req, &pr);
	if (p->count && !partitions)
		snprintf(req->warning, sizeof(req->warning),
		         "Aggregation query used without partition key");

	struct rsel *rs = &x->rs;
	rs->q = q;
	rs->p = p;
	rs->t = t;
	rs->out = &x->rows;
	rs->remaining = limit;
	rs->distinct = s->distinct;
	rs->now_s = clock_wall_s();
	rs->page = p->count ? 0 : q->page_size > 0 ? q->page_size : DEFAULT_MAX_ROWS;
	x->flags = flags;
	x->partitions = partitions;
	if (q->paging_state.len > 0) {
		if (paging_decode(q->paging_state.p, (size_t)q->paging_state.len, &x->pos))
			return fail(req, CQL_ERR_PROTOCOL, "Invalid value for the paging state");
		x->resume = true;
		if (x->pos.remaining >= 0)
			rs->remaining = x->pos.remaining;
		if (x->pos.ck_len) {
			x->n_rck = decode_ck(x->pos.ck, x->pos.ck_len, x->rck, STORE_MAX_CK_COLS);
			if (x->n_rck == SIZE_MAX || x->n_rck != t->n_ck)
				return fail(req, CQL_ERR_PROTOCOL,
				            "Invalid value for the paging state (clustering)");
		}
	}
	if (partitions) {
		x->nparts = product(w.pk_n, t->n_pk);
		x->nck = product(w.ck_n, w.n_ck_eq);
		if (x->nparts > MAX_IN_PARTITIONS || x->nck > MAX_IN_ROWS)
			return fail(req, CQL_ERR_INVALID,
			            "IN restrictions select too many partitions or rows (%" PRIu64
			            " x %" PRIu64 "; at most %d x %d)",
			            x->nparts, x->nck, MAX_IN_PARTITIONS, MAX_IN_ROWS);
		/* one index over (partition, clustering IN combination), so that the paging
		 * state names exactly where the last row came from */
		x->first = x->resume ? x->pos.part_index : 0;
	}
	(void)ks;
	return 0;
#undef w
}

/* Validate and start a SELECT on a table; the request finishes in select_finish. */
static void select_table(struct xq *q, int64_t limit)
{
	struct exec_req *req = q->req;
	const struct plan *p = q->plan;
	const struct schema_table *t = p->table;
	struct selx *x = calloc(1, sizeof(*x));
	if (!x) {
		fail(req, CQL_ERR_SERVER, "out of memory");
		xq_finish(q);
		return;
	}
	q->sel = x;
	buf_init(&x->rows);
	buf_init(&x->rs.last_key);
	buf_init(&x->rs.last_ck);
	buf_init(&x->rs.statics);
	buf_init(&x->rs.cur_key);
	buf_init(&x->rs.tmp);
	buf_init(&x->rs.distinct_key);
	if (select_prepare(q, x, limit)) {
		xq_finish(q);
		return;
	}
	if (x->partitions) {
		x->idx = x->first;
		select_step(q);
		return;
	}
	int64_t start = x->w.tok_start, end = x->w.tok_end;
	if (x->w.has_token && start >= end) {
		select_finish(q); /* an empty token range (explicit bounds never wrap) */
		return;
	}
	struct store_position *ap = NULL;
	if (x->resume) {
		if (x->pos.pk_len < 8) {
			fail(req, CQL_ERR_PROTOCOL, "Invalid value for the paging state");
			xq_finish(q);
			return;
		}
		x->after.token = (int64_t)be64_load(x->pos.pk);
		x->after.key = x->pos.pk + 8;
		x->after.key_len = x->pos.pk_len - 8;
		x->after.ck = x->n_rck ? x->rck : NULL;
		x->after.n_ck = x->n_rck;
		ap = &x->after;
	}
	x->scan = (struct proxy_scan){
	        .table = t->st,
	        .start = start,
	        .end = end,
	        .after = ap,
	        .limit = 0,
	        .now_s = x->rs.now_s,
	};
	if (start == INT64_MIN && end == INT64_MAX)
		x->scan.start = x->scan.end = INT64_MIN; /* the whole ring */
	proxy_scan(q->ex->d.proxy, t->ks, q->cl, &x->scan, rsel_row, &x->rs, select_scan_done, q);
}

static void exec_select(struct xq *q)
{
	const struct cql_select *s = &q->plan->stmt->select;
	int64_t limit = -1;
	if (s->limit) {
		if (term_int64(q, s->limit, false, &limit, "LIMIT")) {
			xq_finish(q);
			return;
		}
		if (limit <= 0) {
			fail(q->req, CQL_ERR_INVALID, "LIMIT must be strictly positive");
			xq_finish(q);
			return;
		}
	}
	if (s->per_partition_limit) {
		fail(q->req, CQL_ERR_INVALID, "PER PARTITION LIMIT is not supported");
		xq_finish(q);
		return;
	}
	if (q->plan->table->virtual_) {
		select_virtual(q, limit);
		xq_finish(q);
		return;
	}
	select_table(q, limit);
}

/* ---- modifications ------------------------------------------------------------------------ */

/* Mutations collected for one statement or one BATCH: one per partition. */
struct mutset {
	struct store_mutation **m;
	struct buf *keys; /* serialized partition keys, parallel to m */
	struct store_table **tables;
	uint32_t n, cap;
	const struct schema_keyspace *ks;
};

static void mutset_release(struct mutset *ms)
{
	for (uint32_t i = 0; i < ms->n; i++) {
		store_mutation_release(ms->m[i]);
		free(ms->m[i]);
		buf_release(&ms->keys[i]);
	}
	free(ms->m);
	free(ms->keys);
	free(ms->tables);
}

static struct store_mutation *mutset_get(struct xq *q, struct mutset *ms,
                                         const struct schema_table *t, const struct store_value *pk)
{
	struct buf key;
	buf_init(&key);
	struct cerr e = {0};
	if (store_partition_key(t->st, pk, t->n_pk, &key, &e)) {
		buf_release(&key);
		fail_cerr(q->req, COL_EINVAL, &e);
		return NULL;
	}
	for (uint32_t i = 0; i < ms->n; i++)
		if (ms->tables[i] == t->st && ms->keys[i].len == key.len &&
		    memcmp(ms->keys[i].data, key.data, key.len) == 0) {
			buf_release(&key);
			return ms->m[i];
		}
	if (ms->n == ms->cap) {
		uint32_t nc = ms->cap ? ms->cap * 2 : 4;
		struct store_mutation **nm = realloc(ms->m, nc * sizeof(*nm));
		if (nm)
			ms->m = nm;
		struct buf *nk = realloc(ms->keys, nc * sizeof(*nk));
		if (nk)
			ms->keys = nk;
		struct store_table **nt = realloc(ms->tables, nc * sizeof(*nt));
		if (nt)
			ms->tables = nt;
		if (!nm || !nk || !nt) {
			buf_release(&key);
			fail(q->req, CQL_ERR_SERVER, "out of memory");
			return NULL;
		}
		ms->cap = nc;
	}
	struct store_mutation *m = calloc(1, sizeof(*m));
	if (!m || store_mutation_init(m, t->st, pk, t->n_pk, 0, &e)) {
		free(m);
		buf_release(&key);
		if (!e.msg[0])
			snprintf(e.msg, sizeof(e.msg), "out of memory");
		fail_cerr(q->req, COL_EINVAL, &e);
		return NULL;
	}
	ms->m[ms->n] = m;
	ms->keys[ms->n] = key;
	ms->tables[ms->n] = t->st;
	ms->n++;
	return m;
}

static int mut_check(struct xq *q, struct store_mutation *m, int rc)
{
	if (rc == 0)
		return 0;
	return fail(q->req, CQL_ERR_INVALID, "%s", m->err.msg[0] ? m->err.msg : col_strerror(rc));
}

/* Write one column value (plain cell, or a whole non-frozen collection). */
static int write_column(struct xq *q, struct store_mutation *m, const struct schema_column *c,
                        const struct store_value *ck, size_t n_ck, const struct val *v, int64_t ts,
                        int32_t ttl, bool replace)
{
	if (v->len == CQL_VALUE_UNSET)
		return 0;
	if (c->kind == SCHEMA_COL_STATIC) {
		ck = NULL;
		n_ck = 0;
	}
	bool multi = cqltype_is_collection(c->type) && !c->type->frozen;
	if (!multi) {
		if (v->len == CQL_VALUE_NULL)
			return mut_check(q, m,
			                 store_mutation_delete_cell(m, ck, n_ck, c->id, NULL, ts));
		return mut_check(q, m,
		                 store_mutation_set_cell(m, ck, n_ck, c->id, NULL, v->p,
		                                         (size_t)v->len, ts, ttl));
	}
	/* A full write replaces the collection: delete what was there just before. */
	if (replace &&
	    mut_check(q, m, store_mutation_delete_cell(m, ck, n_ck, c->id, NULL, ts - 1)))
		return -1;
	if (v->len < 0)
		return 0;
	struct bufreader r;
	bufreader_init(&r, v->p, (size_t)v->len);
	int32_t n = (int32_t)bufreader_u32be(&r);
	for (int32_t i = 0; i < n && bufreader_ok(&r); i++) {
		int32_t kl = (int32_t)bufreader_u32be(&r);
		const uint8_t *kp = kl > 0 ? bufreader_take(&r, (size_t)kl) : empty_value;
		struct store_value path = {kp, kl > 0 ? (size_t)kl : 0};
		const uint8_t *vp = NULL;
		size_t vl = 0;
		if (c->type->kind == CQLTYPE_MAP) {
			int32_t l = (int32_t)bufreader_u32be(&r);
			vp = l > 0 ? bufreader_take(&r, (size_t)l) : empty_value;
			vl = l > 0 ? (size_t)l : 0;
		} else if (c->type->kind == CQLTYPE_LIST) {
			/* list slots are ordered by a timeuuid: ts-based, one per element */
			vp = kp;
			vl = path.len;
			uint8_t *u = cql_arena_alloc(q->mem, 16);
			if (!u)
				return fail(q->req, CQL_ERR_SERVER, "out of memory");
			uint64_t tt = (uint64_t)ts * 10 + 0x01B21DD213814000ULL + (uint64_t)i;
			be32_store(u, (uint32_t)tt);
			be16_store(u + 4, (uint16_t)(tt >> 32));
			be16_store(u + 6, (uint16_t)(((tt >> 48) & 0x0fff) | 0x1000));
			memset(u + 8, 0x80, 8);
			path.p = u;
			path.len = 16;
		}
		if (!bufreader_ok(&r))
			break;
		if (mut_check(q, m,
		              store_mutation_set_cell(m, ck, n_ck, c->id, &path, vp, vl, ts, ttl)))
			return -1;
	}
	if (!bufreader_ok(&r))
		return fail(q->req, CQL_ERR_INVALID, "malformed collection value for %s", c->name);
	return 0;
}

static int using_clause(struct xq *q, const struct cql_using *u, int64_t *ts, int32_t *ttl)
{
	*ts = q->ts;
	*ttl = STORE_TTL_DEFAULT;
	if (u->timestamp) {
		if (term_int64(q, u->timestamp, true, ts, "[timestamp]"))
			return -1;
	}
	if (u->ttl) {
		int64_t v;
		if (term_int64(q, u->ttl, false, &v, "[ttl]"))
			return -1;
		if (v < 0)
			return fail(q->req, CQL_ERR_INVALID,
			            "A TTL must be greater or equal to 0, but was %" PRId64, v);
		if (v > STORE_MAX_TTL)
			return fail(q->req, CQL_ERR_INVALID,
			            "ttl is too large. requested (%" PRId64 ") maximum (%d)", v,
			            STORE_MAX_TTL);
		*ttl = (int32_t)v;
	}
	return 0;
}

static int exec_insert(struct xq *q, struct mutset *ms)
{
	const struct plan *p = q->plan;
	const struct schema_table *t = p->table;
	const struct cql_insert *ins = &p->stmt->insert;
	if (ins->json)
		return fail(q->req, CQL_ERR_INVALID, "INSERT JSON is not supported");
	if (ins->if_not_exists)
		return fail(q->req, CQL_ERR_INVALID,
		            "Conditional updates (IF NOT EXISTS) are not supported by colonnade");
	int64_t ts;
	int32_t ttl;
	if (using_clause(q, &ins->using, &ts, &ttl))
		return -1;
	struct val *vals = cql_arena_alloc(q->mem, (t->n_cols ? t->n_cols : 1) * sizeof(*vals));
	bool *set = cql_arena_alloc(q->mem, t->n_cols ? t->n_cols : 1);
	if (!vals || !set)
		return fail(q->req, CQL_ERR_SERVER, "out of memory");
	for (uint32_t i = 0; i < ins->n_columns; i++) {
		int ci = column_index(t, ins->columns[i].name);
		if (ci < 0)
			return undefined_column(q->req, p, ins->columns[i].name);
		if (set[ci])
			return fail(q->req, CQL_ERR_INVALID,
			            "Multiple definitions found for column %s", t->cols[ci].name);
		set[ci] = true;
		if (term_value(q, ins->values[i], t->cols[ci].type, &vals[ci], t->cols[ci].name))
			return -1;
	}
	struct store_value pk[STORE_MAX_PK_COLS], ck[STORE_MAX_CK_COLS];
	for (uint32_t i = 0; i < t->n_pk + t->n_ck; i++) {
		const struct schema_column *c = &t->cols[i];
		if (!set[i])
			return fail(q->req, CQL_ERR_INVALID, "Some %s are missing: %s",
			            c->kind == SCHEMA_COL_PARTITION_KEY ? "partition key parts"
			                                                : "clustering keys",
			            c->name);
		if (vals[i].len == CQL_VALUE_UNSET)
			return fail(q->req, CQL_ERR_INVALID, "Invalid unset value for column %s",
			            c->name);
		if (vals[i].len < 0)
			return fail(q->req, CQL_ERR_INVALID,
			            "Invalid null value in condition for column %s", c->name);
		struct store_value *dst = i < t->n_pk ? &pk[i] : &ck[i - t->n_pk];
		dst->p = vals[i].p;
		dst->len = (size_t)vals[i].len;
	}
	struct store_mutation *m = mutset_get(q, ms, t, pk);
	if (!m)
		return -1;
	if (mut_check(q, m, store_mutation_row_marker(m, ck, t->n_ck, ts, ttl)))
		return -1;
	for (uint32_t i = t->n_pk + t->n_ck; i < t->n_cols; i++)
		if (set[i] && write_column(q, m, &t->cols[i], ck, t->n_ck, &vals[i], ts, ttl, true))
			return -1;
	return 0;
}

/* Iterate the partitions and rows a WHERE of UPDATE/DELETE names. */
static int exec_update(struct xq *q, struct mutset *ms)
{
	const struct plan *p = q->plan;
	const struct schema_table *t = p->table;
	const struct cql_update *u = &p->stmt->update;
	if (u->cond.if_exists || u->cond.n_conds)
		return fail(q->req, CQL_ERR_INVALID,
		            "Conditional updates are not supported by colonnade");
	int64_t ts;
	int32_t ttl;
	if (using_clause(q, &u->using, &ts, &ttl))
		return -1;
	struct where w;
	if (analyze_where(q, u->where, u->n_where, &w, false))
		return -1;
	if (w.n_pk_restricted != t->n_pk || w.has_token)
		return fail(q->req, CQL_ERR_INVALID, "Some partition key parts are missing: %s",
		            t->cols[0].name);
	bool only_static = true;
	for (uint32_t i = 0; i < u->n_assignments; i++) {
		int ci = column_index(t, u->assignments[i]->column.name);
		if (ci < 0)
			return undefined_column(q->req, p, u->assignments[i]->column.name);
		if (t->cols[ci].kind == SCHEMA_COL_PARTITION_KEY ||
		    t->cols[ci].kind == SCHEMA_COL_CLUSTERING)
			return fail(q->req, CQL_ERR_INVALID,
			            "PRIMARY KEY part %s found in SET part", t->cols[ci].name);
		if (t->cols[ci].kind != SCHEMA_COL_STATIC)
			only_static = false;
	}
	if (w.n_ck_eq < t->n_ck && !(only_static && w.n_ck_eq == 0))
		return fail(q->req, CQL_ERR_INVALID, "Some clustering keys are missing: %s",
		            t->cols[t->n_pk + w.n_ck_eq].name);
	uint64_t np = product(w.pk_n, t->n_pk), nc = product(w.ck_n, w.n_ck_eq);
	if (np > MAX_IN_PARTITIONS || nc > MAX_IN_ROWS)
		return fail(q->req, CQL_ERR_INVALID, "IN restrictions name too many rows");
	for (uint64_t pi = 0; pi < np; pi++) {
		struct store_value pk[STORE_MAX_PK_COLS];
		pick(w.pk_vals, w.pk_n, t->n_pk, pi, pk);
		struct store_mutation *m = mutset_get(q, ms, t, pk);
		if (!m)
			return -1;
		for (uint64_t ci = 0; ci < nc; ci++) {
			struct store_value ck[STORE_MAX_CK_COLS];
			pick(w.ck_vals, w.ck_n, w.n_ck_eq, ci, ck);
			for (uint32_t i = 0; i < u->n_assignments; i++) {
				const struct cql_assignment *a = u->assignments[i];
				const struct schema_column *c =
				        &t->cols[column_index(t, a->column.name)];
				bool multi = cqltype_is_collection(c->type) && !c->type->frozen;
				struct val v;
				switch (a->kind) {
				case CQL_ASSIGN_SET:
					if (term_value(q, a->value, c->type, &v, c->name) ||
					    write_column(q, m, c, ck, w.n_ck_eq, &v, ts, ttl, true))
						return -1;
					break;
				case CQL_ASSIGN_ADD:
					if (!multi)
						return fail(q->req, CQL_ERR_INVALID,
						            "Invalid operation (%s = %s + ?) for "
						            "non-collection column %s (counters "
						            "are not "
						            "supported)",
						            c->name, c->name, c->name);
					if (term_value(q, a->value, c->type, &v, c->name) ||
					    write_column(q, m, c, ck, w.n_ck_eq, &v, ts, ttl,
					                 false))
						return -1;
					break;
				case CQL_ASSIGN_SUB: {
					if (!multi || c->type->kind == CQLTYPE_LIST)
						return fail(q->req, CQL_ERR_INVALID,
						            "Invalid operation (%s = %s - ?) for "
						            "column "
						            "%s",
						            c->name, c->name, c->name);
					/* remove elements: set values or map keys (a set<K>) */
					const struct cqltype *et = c->type;
					const struct cqltype *owned = NULL;
					if (c->type->kind == CQLTYPE_MAP) {
						owned = cqltype_collection_new(
						        CQLTYPE_SET, true,
						        cqltype_copy(c->type->elem), NULL);
						et = owned;
					}
					int rc = et ? term_value(q, a->value, et, &v, c->name)
					            : fail(q->req, CQL_ERR_SERVER, "out of memory");
					cqltype_free(owned);
					if (rc)
						return -1;
					if (v.len < 0)
						break;
					struct bufreader r;
					bufreader_init(&r, v.p, (size_t)v.len);
					int32_t n = (int32_t)bufreader_u32be(&r);
					for (int32_t k = 0; k < n && bufreader_ok(&r); k++) {
						int32_t l = (int32_t)bufreader_u32be(&r);
						const uint8_t *e =
						        bufreader_take(&r, l > 0 ? (size_t)l : 0);
						struct store_value path = {e,
						                           l > 0 ? (size_t)l : 0};
						if (bufreader_ok(&r) &&
						    mut_check(q, m,
						              store_mutation_delete_cell(
						                      m,
						                      c->kind == SCHEMA_COL_STATIC
						                              ? NULL
						                              : ck,
						                      c->kind == SCHEMA_COL_STATIC
						                              ? 0
						                              : w.n_ck_eq,
						                      c->id, &path, ts)))
							return -1;
					}
					break;
				}
				case CQL_ASSIGN_ELEMENT: {
					if (!multi || c->type->kind != CQLTYPE_MAP)
						return fail(q->req, CQL_ERR_INVALID,
						            "Element assignment %s[...] is only "
						            "supported "
						            "on non-frozen maps",
						            c->name);
					struct val k;
					if (term_value(q, a->key, c->type->elem, &k, c->name) ||
					    term_value(q, a->value, c->type->value, &v, c->name))
						return -1;
					if (k.len < 0)
						return fail(q->req, CQL_ERR_INVALID,
						            "Invalid null map key for %s", c->name);
					struct store_value path = {k.p, (size_t)k.len};
					const struct store_value *cck =
					        c->kind == SCHEMA_COL_STATIC ? NULL : ck;
					size_t ncck = c->kind == SCHEMA_COL_STATIC ? 0 : w.n_ck_eq;
					int rc = v.len == CQL_VALUE_UNSET ? 0
					         : v.len < 0
					                 ? store_mutation_delete_cell(
					                           m, cck, ncck, c->id, &path, ts)
					                 : store_mutation_set_cell(
					                           m, cck, ncck, c->id, &path, v.p,
					                           (size_t)v.len, ts, ttl);
					if (mut_check(q, m, rc))
						return -1;
					break;
				}
				default:
					return fail(
					        q->req, CQL_ERR_INVALID,
					        "This collection operation on %s is not supported",
					        c->name);
				}
			}
		}
	}
	return 0;
}

static int exec_delete(struct xq *q, struct mutset *ms)
{
	const struct plan *p = q->plan;
	const struct schema_table *t = p->table;
	const struct cql_delete *d = &p->stmt->del;
	if (d->cond.if_exists || d->cond.n_conds)
		return fail(q->req, CQL_ERR_INVALID,
		            "Conditional deletions are not supported by colonnade");
	int64_t ts;
	int32_t ttl;
	if (using_clause(q, &d->using, &ts, &ttl))
		return -1;
	struct where w;
	if (analyze_where(q, d->where, d->n_where, &w, true))
		return -1;
	if (w.n_pk_restricted != t->n_pk || w.has_token)
		return fail(q->req, CQL_ERR_INVALID, "Some partition key parts are missing: %s",
		            t->cols[0].name);
	for (uint32_t i = 0; i < d->n_targets; i++) {
		int ci = column_index(t, d->targets[i]->column.name);
		if (ci < 0)
			return undefined_column(q->req, p, d->targets[i]->column.name);
		if (t->cols[ci].kind == SCHEMA_COL_PARTITION_KEY ||
		    t->cols[ci].kind == SCHEMA_COL_CLUSTERING)
			return fail(
			        q->req, CQL_ERR_INVALID,
			        "Invalid identifier %s for deletion (should not be a PRIMARY KEY "
			        "part)",
			        t->cols[ci].name);
	}
	if (d->n_targets && (w.n_ck_eq < t->n_ck || w.slice_col >= 0)) {
		bool only_static = true;
		for (uint32_t i = 0; i < d->n_targets; i++)
			if (t->cols[column_index(t, d->targets[i]->column.name)].kind !=
			    SCHEMA_COL_STATIC)
				only_static = false;
		if (!only_static || w.n_ck_eq || w.slice_col >= 0)
			return fail(q->req, CQL_ERR_INVALID, "Some clustering keys are missing: %s",
			            t->cols[t->n_pk + w.n_ck_eq].name);
	}
	uint64_t np = product(w.pk_n, t->n_pk), nc = product(w.ck_n, w.n_ck_eq);
	if (np > MAX_IN_PARTITIONS || nc > MAX_IN_ROWS)
		return fail(q->req, CQL_ERR_INVALID, "IN restrictions name too many rows");
	for (uint64_t pi = 0; pi < np; pi++) {
		struct store_value pk[STORE_MAX_PK_COLS];
		pick(w.pk_vals, w.pk_n, t->n_pk, pi, pk);
		struct store_mutation *m = mutset_get(q, ms, t, pk);
		if (!m)
			return -1;
		if (!d->n_targets && w.n_ck_eq == 0 && w.slice_col < 0) {
			if (mut_check(q, m, store_mutation_delete_partition(m, ts)))
				return -1;
			continue;
		}
		for (uint64_t ci = 0; ci < nc; ci++) {
			struct store_value ck[STORE_MAX_CK_COLS];
			pick(w.ck_vals, w.ck_n, w.n_ck_eq, ci, ck);
			if (d->n_targets) {
				for (uint32_t i = 0; i < d->n_targets; i++) {
					const struct cql_delete_target *dt = d->targets[i];
					const struct schema_column *c =
					        &t->cols[column_index(t, dt->column.name)];
					const struct store_value *cck =
					        c->kind == SCHEMA_COL_STATIC ? NULL : ck;
					size_t ncck = c->kind == SCHEMA_COL_STATIC ? 0 : t->n_ck;
					struct store_value path, *pp = NULL;
					if (dt->key) {
						if (!cqltype_is_collection(c->type) ||
						    c->type->frozen ||
						    c->type->kind == CQLTYPE_LIST)
							return fail(
							        q->req, CQL_ERR_INVALID,
							        "Element deletion %s[...] is only "
							        "supported on non-frozen maps and "
							        "sets",
							        c->name);
						struct val k;
						if (term_value(q, dt->key, c->type->elem, &k,
						               c->name))
							return -1;
						if (k.len < 0)
							return fail(q->req, CQL_ERR_INVALID,
							            "Invalid null element for %s",
							            c->name);
						path.p = k.p;
						path.len = (size_t)k.len;
						pp = &path;
					}
					if (mut_check(q, m,
					              store_mutation_delete_cell(m, cck, ncck,
					                                         c->id, pp, ts)))
						return -1;
				}
			} else if (w.n_ck_eq == t->n_ck) {
				if (mut_check(q, m, store_mutation_delete_row(m, ck, t->n_ck, ts)))
					return -1;
			} else {
				/* a clustering prefix or slice: a range tombstone */
				struct store_value lo[STORE_MAX_CK_COLS], hi[STORE_MAX_CK_COLS];
				size_t nlo = w.n_ck_eq, nhi = w.n_ck_eq;
				memcpy(lo, ck, nlo * sizeof(*lo));
				memcpy(hi, ck, nhi * sizeof(*hi));
				bool li = true, hi_i = true;
				if (w.slice_col >= 0) {
					bool desc = t->cols[t->n_pk + (uint32_t)w.slice_col].desc;
					if (w.has_lower) {
						struct store_value *b = desc ? hi : lo;
						size_t *nb = desc ? &nhi : &nlo;
						b[*nb] = (struct store_value){w.lower.p,
						                              (size_t)w.lower.len};
						(*nb)++;
						if (desc)
							hi_i = w.lower_incl;
						else
							li = w.lower_incl;
					}
					if (w.has_upper) {
						struct store_value *b = desc ? lo : hi;
						size_t *nb = desc ? &nlo : &nhi;
						b[*nb] = (struct store_value){w.upper.p,
						                              (size_t)w.upper.len};
						(*nb)++;
						if (desc)
							li = w.upper_incl;
						else
							hi_i = w.upper_incl;
					}
				}
				if (mut_check(q, m,
				              store_mutation_delete_range(m, lo, nlo, li, hi, nhi,
				                                          hi_i, ts)))
					return -1;
			}
		}
	}
	return 0;
}

static int collect_mutations(struct xq *q, struct mutset *ms)
{
	const struct plan *p = q->plan;
	if (p->table->virtual_)
		return fail(q->req, CQL_ERR_INVALID, "%s keyspace is not user-modifiable.", p->ks);
	if (!ms->ks)
		ms->ks = p->table->ks;
	switch (p->stmt->kind) {
	case CQL_STMT_INSERT: return exec_insert(q, ms);
	case CQL_STMT_UPDATE: return exec_update(q, ms);
	case CQL_STMT_DELETE: return exec_delete(q, ms);
	default:
		return fail(q->req, CQL_ERR_INVALID,
		            "Only INSERT, UPDATE and DELETE are allowed here");
	}
}

static void write_done(void *ctx, const struct proxy_result *res)
{
	struct xq *q = ctx;
	if (res->code)
		fail_proxy(q->req, res);
	else
		cql_put_int(&q->req->body_out, CQL_RESULT_VOID);
	xq_finish(q);
}

/* Apply q->ms through the proxy; the request finishes in write_done. */
static void write_start(struct xq *q, enum proxy_write_type wt)
{
	struct mutset *ms = q->ms;
	if (q->req->failed || !ms || !ms->n) {
		if (!q->req->failed)
			cql_put_int(&q->req->body_out, CQL_RESULT_VOID);
		xq_finish(q);
		return;
	}
	/* the mutations stay alive (in q) until write_done */
	proxy_write(q->ex->d.proxy, ms->ks, q->cl, ms->m, ms->n, wt, write_done, q);
}

/* ---- DDL ---------------------------------------------------------------------------------- */

static void schema_changed(struct executor *ex, struct exec_req *req, enum exec_change c,
                           enum exec_target t, const char *ks, const char *table)
{
	cql_put_int(&req->body_out, CQL_RESULT_SCHEMA_CHANGE);
	exec_schema_change_encode(&req->body_out, c, t, ks, table);
	if (ex->d.on_schema_event)
		ex->d.on_schema_event(ex->d.event_ctx, c, t, ks, table);
}

static int term_text(const struct cql_term *t, char *out, size_t len)
{
	if (!t || !t->text ||
	    (t->kind != CQL_TERM_STRING && t->kind != CQL_TERM_INTEGER &&
	     t->kind != CQL_TERM_BOOL && t->kind != CQL_TERM_IDENT && t->kind != CQL_TERM_FLOAT))
		return -1;
	if (t->text_len >= len || memchr(t->text, 0, t->text_len))
		return -1; /* too long for an option (names are <= 48 bytes), or a NUL */
	memcpy(out, t->text, t->text_len + 1);
	return 0;
}

static int keyspace_options(struct exec_req *req, const struct cql_keyspace_stmt *k,
                            struct schema_repl_opt *repl, char (*store)[2][64], uint32_t *n_repl,
                            bool *durable, bool *have_repl)
{
	*n_repl = 0;
	*have_repl = false;
	for (uint32_t i = 0; i < k->n_options; i++) {
		const struct cql_option *o = &k->options[i];
		if (strcmp(o->name.name, "replication") == 0) {
			if (!o->value || o->value->kind != CQL_TERM_MAP)
				return fail(req, CQL_ERR_SYNTAX,
				            "Invalid value for property 'replication': a map is "
				            "expected");
			if (o->value->map.n_entries > 32)
				return fail(req, CQL_ERR_CONFIG, "too many replication options");
			for (uint32_t j = 0; j < o->value->map.n_entries; j++) {
				if (term_text(o->value->map.keys[j], store[j][0], 64) ||
				    term_text(o->value->map.values[j], store[j][1], 64))
					return fail(
					        req, CQL_ERR_CONFIG,
					        "Invalid replication option: keys and values must "
					        "be strings or numbers of at most 63 bytes");
				repl[j].key = store[j][0];
				repl[j].val = store[j][1];
			}
			*n_repl = o->value->map.n_entries;
			*have_repl = true;
		} else if (strcmp(o->name.name, "durable_writes") == 0) {
			char v[16];
			if (term_text(o->value, v, sizeof(v)) ||
			    (strcasecmp(v, "true") != 0 && strcasecmp(v, "false") != 0))
				return fail(req, CQL_ERR_SYNTAX,
				            "Invalid boolean value for property 'durable_writes'");
			*durable = strcasecmp(v, "true") == 0;
		} else {
			return fail(req, CQL_ERR_SYNTAX, "Unknown property '%s'", o->name.name);
		}
	}
	return 0;
}

static int exec_keyspace_ddl(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                             int64_t ts)
{
	const struct cql_keyspace_stmt *k = &st->keyspace;
	const char *name = k->keyspace.name;
	struct cerr e = {0};
	const struct schema_snap *snap = schema_current(ex->d.schema);
	if (st->kind == CQL_STMT_DROP_KEYSPACE) {
		if (!schema_snap_keyspace(snap, name) && k->if_exists) {
			cql_put_int(&req->body_out, CQL_RESULT_VOID);
			return 0;
		}
		int rc = schema_drop_keyspace(ex->d.schema, name, ts, &e);
		if (rc == COL_ENOTFOUND)
			return fail(req, CQL_ERR_CONFIG, "Cannot drop non existing keyspace '%s'.",
			            name);
		if (rc)
			return fail_cerr(req, rc, &e);
		if (strcmp(req->session->keyspace, name) == 0)
			req->session->keyspace[0] = 0;
		schema_changed(ex, req, EXEC_CHANGE_DROPPED, EXEC_TARGET_KEYSPACE, name, NULL);
		return 0;
	}
	struct schema_repl_opt repl[32];
	char store[32][2][64];
	uint32_t n_repl;
	bool durable = true, have_repl;
	const struct schema_keyspace *old = schema_snap_keyspace(snap, name);
	if (st->kind == CQL_STMT_ALTER_KEYSPACE && old)
		durable = old->durable_writes;
	if (keyspace_options(req, k, repl, store, &n_repl, &durable, &have_repl))
		return -1;
	struct schema_keyspace_def def = {name, durable, repl, n_repl};
	struct schema_repl_opt old_repl[64];
	if (st->kind == CQL_STMT_CREATE_KEYSPACE) {
		if (old && k->if_not_exists) {
			cql_put_int(&req->body_out, CQL_RESULT_VOID);
			return 0;
		}
		if (!have_repl)
			return fail(req, CQL_ERR_CONFIG,
			            "Missing mandatory replication strategy class");
		int rc = schema_create_keyspace(ex->d.schema, &def, ts, &e);
		if (rc == COL_EEXIST) {
			fail(req, CQL_ERR_ALREADY_EXISTS, "Keyspace %s already exists", name);
			snprintf(req->error.ks, sizeof(req->error.ks), "%s", name);
			return -1;
		}
		if (rc)
			return fail_cerr(req, rc, &e);
		schema_changed(ex, req, EXEC_CHANGE_CREATED, EXEC_TARGET_KEYSPACE, name, NULL);
		return 0;
	}
	if (!old) {
		if (k->if_exists) {
			cql_put_int(&req->body_out, CQL_RESULT_VOID);
			return 0;
		}
		return fail(req, CQL_ERR_INVALID, "Keyspace '%s' does not exist", name);
	}
	if (!have_repl) {
		for (uint32_t i = 0; i < old->n_repl && i < 64; i++)
			old_repl[i] =
			        (struct schema_repl_opt){old->repl_keys[i], old->repl_vals[i]};
		def.repl = old_repl;
		def.n_repl = old->n_repl < 64 ? old->n_repl : 64;
	}
	int rc = schema_alter_keyspace(ex->d.schema, &def, ts, &e);
	if (rc)
		return fail_cerr(req, rc, &e);
	schema_changed(ex, req, EXEC_CHANGE_UPDATED, EXEC_TARGET_KEYSPACE, name, NULL);
	return 0;
}

/* Table options we store, and the Cassandra ones we accept and ignore. */
static const char *const ignored_table_options[] = {"bloom_filter_fp_chance",
                                                    "caching",
                                                    "cdc",
                                                    "compaction",
                                                    "compression",
                                                    "crc_check_chance",
                                                    "dclocal_read_repair_chance",
                                                    "max_index_interval",
                                                    "memtable_flush_period_in_ms",
                                                    "min_index_interval",
                                                    "read_repair_chance",
                                                    "speculative_retry",
                                                    "additional_write_policy",
                                                    "extensions",
                                                    "read_repair",
                                                    NULL};

static int table_options(struct exec_req *req, const struct cql_option *opts, uint32_t n,
                         int32_t *gc, int32_t *ttl, const char **comment)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct cql_option *o = &opts[i];
		const char *nm = o->name.name;
		char v[64];
		if (strcmp(nm, "gc_grace_seconds") == 0 ||
		    strcmp(nm, "default_time_to_live") == 0) {
			if (!o->value || o->value->kind != CQL_TERM_INTEGER ||
			    !o->value->integer.fits || o->value->integer.value < 0 ||
			    o->value->integer.value > INT32_MAX)
				return fail(
				        req, CQL_ERR_CONFIG,
				        "Invalid value for property '%s': a non-negative integer "
				        "is expected",
				        nm);
			if (nm[0] == 'g')
				*gc = (int32_t)o->value->integer.value;
			else {
				if (o->value->integer.value > STORE_MAX_TTL)
					return fail(
					        req, CQL_ERR_CONFIG,
					        "default_time_to_live must be less than or equal "
					        "to %d (got %" PRId64 ")",
					        STORE_MAX_TTL, o->value->integer.value);
				*ttl = (int32_t)o->value->integer.value;
			}
			continue;
		}
		if (strcmp(nm, "comment") == 0) {
			if (!o->value || o->value->kind != CQL_TERM_STRING)
				return fail(req, CQL_ERR_SYNTAX,
				            "Invalid value for property 'comment'");
			if (memchr(o->value->text, 0, o->value->text_len))
				return fail(req, CQL_ERR_SYNTAX,
				            "Invalid value for property 'comment'");
			*comment = o->value->text; /* lives in the statement's arena */
			continue;
		}
		bool known = false;
		for (int k = 0; ignored_table_options[k]; k++)
			if (strcmp(nm, ignored_table_options[k]) == 0)
				known = true;
		(void)v;
		if (!known)
			return fail(req, CQL_ERR_SYNTAX, "Unknown property '%s'", nm);
	}
	return 0;
}

static int column_type(struct exec_req *req, const struct cql_column_def *cd,
                       const struct cqltype **out)
{
	struct cerr e = {0};
	int rc = cqltype_parse(cd->type->text, strlen(cd->type->text), out, &e);
	if (rc)
		return fail(req, CQL_ERR_INVALID, "Invalid type for column %s: %s", cd->name.name,
		            e.msg);
	if ((*out)->kind == CQLTYPE_COUNTER) {
		cqltype_free(*out);
		return fail(req, CQL_ERR_INVALID, "counter columns are not supported (column %s)",
		            cd->name.name);
	}
	return 0;
}

static int exec_create_table(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                             int64_t ts)
{
	const struct cql_create_table *ct = &st->create_table;
	const char *ks = qname_ks(&ct->table, req->session);
	if (!ks)
		return fail(req, CQL_ERR_INVALID,
		            "No keyspace has been specified. USE a keyspace, or explicitly specify "
		            "keyspace.tablename");
	const char *name = ct->table.name.name;
	const struct schema_snap *snap = schema_current(ex->d.schema);
	const struct schema_keyspace *k = schema_snap_keyspace(snap, ks);
	if (!k)
		return fail(req, CQL_ERR_INVALID, "Keyspace '%s' does not exist", ks);
	if (schema_keyspace_table(k, name)) {
		if (ct->if_not_exists) {
			cql_put_int(&req->body_out, CQL_RESULT_VOID);
			return 0;
		}
		fail(req, CQL_ERR_ALREADY_EXISTS, "Table %s.%s already exists", ks, name);
		snprintf(req->error.ks, sizeof(req->error.ks), "%s", ks);
		snprintf(req->error.table, sizeof(req->error.table), "%s", name);
		return -1;
	}
	if (ct->compact_storage)
		return fail(req, CQL_ERR_INVALID, "COMPACT STORAGE tables are not supported");
	if (ct->n_partition_key > STORE_MAX_PK_COLS || ct->n_clustering_key > STORE_MAX_CK_COLS)
		return fail(req, CQL_ERR_INVALID, "too many primary key columns");
	struct schema_column_def *cols = calloc(ct->n_columns ? ct->n_columns : 1, sizeof(*cols));
	if (!cols)
		return fail(req, CQL_ERR_SERVER, "out of memory");
	int rc = 0;
	uint32_t built = 0;
	for (uint32_t i = 0; i < ct->n_columns && !rc; i++) {
		const struct cql_column_def *cd = &ct->columns[i];
		cols[i].name = cd->name.name;
		cols[i].kind = cd->is_static ? SCHEMA_COL_STATIC : SCHEMA_COL_REGULAR;
		cols[i].position = -1;
		rc = column_type(req, cd, &cols[i].type);
		if (!rc)
			built++;
	}
	for (uint32_t i = 0; i < ct->n_partition_key && !rc; i++) {
		uint32_t j = 0;
		while (j < ct->n_columns && strcmp(cols[j].name, ct->partition_key[i].name) != 0)
			j++;
		if (j == ct->n_columns) {
			rc = fail(req, CQL_ERR_INVALID,
			          "Unknown definition %s referenced in PRIMARY KEY",
			          ct->partition_key[i].name);
			break;
		}
		cols[j].kind = SCHEMA_COL_PARTITION_KEY;
		cols[j].position = (int)i;
	}
	for (uint32_t i = 0; i < ct->n_clustering_key && !rc; i++) {
		uint32_t j = 0;
		while (j < ct->n_columns && strcmp(cols[j].name, ct->clustering_key[i].name) != 0)
			j++;
		if (j == ct->n_columns) {
			rc = fail(req, CQL_ERR_INVALID,
			          "Unknown definition %s referenced in PRIMARY KEY",
			          ct->clustering_key[i].name);
			break;
		}
		if (cols[j].kind == SCHEMA_COL_PARTITION_KEY) {
			rc = fail(req, CQL_ERR_INVALID, "Column %s appears twice in PRIMARY KEY",
			          cols[j].name);
			break;
		}
		cols[j].kind = SCHEMA_COL_CLUSTERING;
		cols[j].position = (int)i;
	}
	for (uint32_t i = 0; i < ct->n_columns && !rc; i++) {
		bool key = cols[i].kind == SCHEMA_COL_PARTITION_KEY ||
		           cols[i].kind == SCHEMA_COL_CLUSTERING;
		if (key && ct->columns[i].is_static)
			rc = fail(req, CQL_ERR_INVALID,
			          "Static column %s cannot be part of the PRIMARY KEY",
			          cols[i].name);
		else if (key && cqltype_is_collection(cols[i].type) && !cols[i].type->frozen)
			rc = fail(req, CQL_ERR_INVALID,
			          "Invalid non-frozen collection type for PRIMARY KEY component %s",
			          cols[i].name);
		else if (cols[i].kind == SCHEMA_COL_STATIC && ct->n_clustering_key == 0)
			rc = fail(req, CQL_ERR_INVALID,
			          "Static columns are only useful (and thus allowed) if the table "
			          "has "
			          "at least one clustering column");
	}
	for (uint32_t i = 0; i < ct->n_clustering_order && !rc; i++) {
		uint32_t j = 0;
		while (j < ct->n_columns &&
		       strcmp(cols[j].name, ct->clustering_order[i].column.name) != 0)
			j++;
		if (j == ct->n_columns || cols[j].kind != SCHEMA_COL_CLUSTERING)
			rc = fail(req, CQL_ERR_INVALID,
			          "Only clustering key columns can be defined in CLUSTERING ORDER "
			          "directive (%s)",
			          ct->clustering_order[i].column.name);
		else if (cols[j].position != (int)i)
			rc = fail(req, CQL_ERR_INVALID,
			          "The order of columns in the CLUSTERING ORDER directive must be "
			          "the "
			          "one of the clustering key (%s must appear before %s)",
			          ct->clustering_key[i].name, cols[j].name);
		else
			cols[j].desc = ct->clustering_order[i].desc;
	}
	int32_t gc = -1, ttl = -1;
	const char *comment = NULL;
	if (!rc)
		rc = table_options(req, ct->options, ct->n_options, &gc, &ttl, &comment);
	if (!rc) {
		struct schema_table_def def = {ks, name, cols, ct->n_columns, gc, ttl, comment};
		struct cerr e = {0};
		int r2 = schema_create_table(ex->d.schema, &def, ts, &e);
		if (r2)
			rc = fail_cerr(req, r2, &e);
	}
	for (uint32_t i = 0; i < built; i++)
		cqltype_free(cols[i].type);
	free(cols);
	if (rc)
		return -1;
	schema_changed(ex, req, EXEC_CHANGE_CREATED, EXEC_TARGET_TABLE, ks, name);
	return 0;
}

static int exec_alter_table(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                            int64_t ts)
{
	const struct cql_alter_table *at = &st->alter_table;
	struct plan tmp = {0};
	const struct schema_snap *snap = schema_current(ex->d.schema);
	if (resolve_table(req, snap, &at->table, &tmp)) {
		if (at->if_exists) {
			req->failed = false;
			cql_put_int(&req->body_out, CQL_RESULT_VOID);
			return 0;
		}
		return -1;
	}
	if (tmp.table->virtual_)
		return fail(req, CQL_ERR_INVALID, "%s keyspace is not user-modifiable.", tmp.ks);
	struct cerr e = {0};
	int rc = 0;
	switch (at->kind) {
	case CQL_ALTER_ADD: {
		struct schema_column_def *cols = calloc(at->n_add ? at->n_add : 1, sizeof(*cols));
		if (!cols)
			return fail(req, CQL_ERR_SERVER, "out of memory");
		uint32_t built = 0;
		for (uint32_t i = 0; i < at->n_add && !rc; i++) {
			cols[i].name = at->add[i].name.name;
			cols[i].kind =
			        at->add[i].is_static ? SCHEMA_COL_STATIC : SCHEMA_COL_REGULAR;
			cols[i].position = -1;
			rc = column_type(req, &at->add[i], &cols[i].type);
			if (!rc)
				built++;
		}
		if (!rc) {
			int r2 = schema_alter_table_add(ex->d.schema, tmp.ks, tmp.table_name, cols,
			                                at->n_add, ts, &e);
			if (r2)
				rc = fail_cerr(req, r2, &e);
		}
		for (uint32_t i = 0; i < built; i++)
			cqltype_free(cols[i].type);
		free(cols);
		break;
	}
	case CQL_ALTER_DROP: {
		const char **names = calloc(at->n_drop ? at->n_drop : 1, sizeof(*names));
		if (!names)
			return fail(req, CQL_ERR_SERVER, "out of memory");
		for (uint32_t i = 0; i < at->n_drop; i++)
			names[i] = at->drop[i].name;
		int r2 = schema_alter_table_drop(ex->d.schema, tmp.ks, tmp.table_name, names,
		                                 at->n_drop, ts, &e);
		free(names);
		if (r2)
			rc = fail_cerr(req, r2, &e);
		break;
	}
	case CQL_ALTER_WITH: {
		int32_t gc = -1, ttl = -1;
		const char *comment = NULL;
		rc = table_options(req, at->options, at->n_options, &gc, &ttl, &comment);
		if (!rc) {
			int r2 = schema_alter_table_options(ex->d.schema, tmp.ks, tmp.table_name,
			                                    gc, ttl, comment, ts, &e);
			if (r2)
				rc = fail_cerr(req, r2, &e);
		}
		break;
	}
	default:
		return fail(req, CQL_ERR_INVALID,
		            "ALTER TABLE ... RENAME and ALTER ... TYPE are not supported");
	}
	if (rc)
		return -1;
	schema_changed(ex, req, EXEC_CHANGE_UPDATED, EXEC_TARGET_TABLE, tmp.ks, tmp.table_name);
	return 0;
}

static int exec_drop_table(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                           int64_t ts)
{
	const struct cql_drop_table *dt = &st->drop_table;
	struct plan tmp = {0};
	if (resolve_table(req, schema_current(ex->d.schema), &dt->table, &tmp)) {
		if (dt->if_exists && req->error.code == CQL_ERR_INVALID) {
			req->failed = false;
			cql_put_int(&req->body_out, CQL_RESULT_VOID);
			return 0;
		}
		return -1;
	}
	if (tmp.table->virtual_)
		return fail(req, CQL_ERR_INVALID, "%s keyspace is not user-modifiable.", tmp.ks);
	struct cerr e = {0};
	int rc = schema_drop_table(ex->d.schema, tmp.ks, tmp.table_name, ts, &e);
	if (rc)
		return fail_cerr(req, rc, &e);
	schema_changed(ex, req, EXEC_CHANGE_DROPPED, EXEC_TARGET_TABLE, tmp.ks, tmp.table_name);
	return 0;
}

static int exec_truncate(struct executor *ex, struct exec_req *req, const struct cql_stmt *st)
{
	struct plan tmp = {0};
	if (resolve_table(req, schema_current(ex->d.schema), &st->truncate.table, &tmp))
		return -1;
	if (tmp.table->virtual_)
		return fail(req, CQL_ERR_INVALID, "%s keyspace is not user-modifiable.", tmp.ks);
	struct cerr e = {0};
	int rc = store_table_truncate(tmp.table->st, &e);
	if (rc)
		return fail(req, CQL_ERR_TRUNCATE, "Error during truncate: %s", e.msg);
	cql_put_int(&req->body_out, CQL_RESULT_VOID);
	return 0;
}

static int exec_use(struct executor *ex, struct exec_req *req, const struct cql_stmt *st)
{
	const char *ks = st->use.keyspace.name;
	if (!schema_snap_keyspace(schema_current(ex->d.schema), ks))
		return fail(req, CQL_ERR_INVALID, "Keyspace '%s' does not exist", ks);
	snprintf(req->session->keyspace, sizeof(req->session->keyspace), "%s", ks);
	cql_put_int(&req->body_out, CQL_RESULT_SET_KEYSPACE);
	cql_put_string(&req->body_out, ks);
	return 0;
}

/* ---- running a plan ----------------------------------------------------------------------- */

/* ---- the life of a request ---------------------------------------------------------------- */

static void mutset_free(struct mutset *ms)
{
	if (ms) {
		mutset_release(ms);
		free(ms);
	}
}

/* Free q and hand the answer back (req->done), exactly once per request. */
static void xq_finish(struct xq *q)
{
	struct exec_req *req = q->req;
	struct executor *ex = q->ex;
	selx_free(q->sel);
	mutset_free(q->ms);
	if (q->plan)
		plan_unref(q->plan);
	if (q->snap)
		schema_snap_unref(ex->d.schema, q->snap);
	cql_arena_free(q->mem);
	free(q);
	if (req->failed)
		buf_reset(&req->body_out);
	/* A DDL's answer waits for the cluster's schema agreement (schema_sync.h). */
	if (!req->failed && req->done && ex->d.ddl_wait && req->body_out.len >= 4 &&
	    be32_load(req->body_out.data) == CQL_RESULT_SCHEMA_CHANGE) {
		ex->d.ddl_wait(ex->d.ddl_ctx, req);
		return;
	}
	if (req->done)
		req->done(req);
}

/*
 * A new execution of `p` (referenced, may be NULL for a protocol BATCH) with the
 * request's parameters.  Bound values (resolved by name with flag 0x40) and the
 * paging state are copied, so the frame may go away.  NULL with req failed.
 */
static struct xq *xq_new(struct executor *ex, struct exec_req *req, struct plan *p,
                         const struct cql_query_params *qp)
{
	struct xq *q = calloc(1, sizeof(*q));
	struct cql_arena *mem = q ? cql_arena_new() : NULL;
	if (!q || !mem) {
		free(q);
		fail(req, CQL_ERR_SERVER, "out of memory");
		return NULL;
	}
	q->ex = ex;
	q->req = req;
	q->mem = mem;
	q->snap = schema_current_ref(ex->d.schema);
	if (p)
		q->plan = plan_ref(p);
	q->cl = qp->consistency;
	q->page_size = qp->page_size;
	q->skip_metadata = (qp->flags & CQL_QF_SKIP_METADATA) != 0;
	q->ts = qp->timestamp != INT64_MIN ? qp->timestamp : 0;
	/* values in marker order */
	uint32_t n = qp->n_values;
	if (qp->names && p)
		n = p->n_binds;
	struct cql_slice *v = cql_arena_alloc(mem, (n ? n : 1) * sizeof(*v));
	if (!v)
		goto oom;
	for (uint32_t i = 0; i < n; i++) {
		const struct cql_slice *src = &qp->values[i];
		if (qp->names && p) {
			const char *want =
			        p->stmt->binds[i].name ? p->stmt->binds[i].name : p->bind_names[i];
			src = NULL;
			for (uint16_t j = 0; j < qp->n_values && !src; j++) {
				const struct cql_slice *nm = &qp->names[j];
				if ((size_t)nm->len == strlen(want) &&
				    strncasecmp((const char *)nm->p, want, (size_t)nm->len) == 0)
					src = &qp->values[j];
			}
			if (!src) {
				fail(req, CQL_ERR_INVALID, "No value bound for variable %s", want);
				goto err;
			}
		}
		v[i].len = src->len;
		v[i].p = empty_value;
		if (src->len > 0) {
			uint8_t *c = cql_arena_alloc(mem, (size_t)src->len);
			if (!c)
				goto oom;
			memcpy(c, src->p, (size_t)src->len);
			v[i].p = c;
		}
	}
	q->values = v;
	q->n_values = n;
	q->paging_state.len = -1;
	if (qp->paging_state.len > 0) {
		uint8_t *c = cql_arena_alloc(mem, (size_t)qp->paging_state.len);
		if (!c)
			goto oom;
		memcpy(c, qp->paging_state.p, (size_t)qp->paging_state.len);
		q->paging_state.p = c;
		q->paging_state.len = qp->paging_state.len;
	}
	return q;
oom:
	fail(req, CQL_ERR_SERVER, "out of memory copying the bound values");
err:
	q->req = NULL; /* do not answer: the caller does */
	if (q->plan)
		plan_unref(q->plan);
	schema_snap_unref(ex->d.schema, q->snap);
	cql_arena_free(q->mem);
	free(q);
	return NULL;
}

static struct mutset *xq_mutset(struct xq *q)
{
	if (!q->ms) {
		q->ms = calloc(1, sizeof(*q->ms));
		if (!q->ms)
			fail(q->req, CQL_ERR_SERVER, "out of memory");
	}
	return q->ms;
}

/* Run q's plan; the request always ends in xq_finish (now or when the proxy answers). */
static void xq_run(struct xq *q)
{
	struct executor *ex = q->ex;
	struct exec_req *req = q->req;
	const struct cql_stmt *st = q->plan->stmt;
	if (!q->ts && (st->kind == CQL_STMT_INSERT || st->kind == CQL_STMT_UPDATE ||
	               st->kind == CQL_STMT_DELETE || st->kind == CQL_STMT_BATCH))
		q->ts = exec_now_us(ex);
	if (q->n_values != q->plan->n_binds) {
		fail(req, CQL_ERR_INVALID, "There were %u markers(?) in CQL but %u bound variables",
		     q->plan->n_binds, q->n_values);
		xq_finish(q);
		return;
	}
	switch (st->kind) {
	case CQL_STMT_SELECT: exec_select(q); return;
	case CQL_STMT_INSERT:
	case CQL_STMT_UPDATE:
	case CQL_STMT_DELETE: {
		struct proxy_result pr;
		struct mutset *ms = xq_mutset(q);
		if (ms && !q->plan->table->virtual_ &&
		    proxy_check(ex->d.proxy, q->plan->table->ks, q->cl, true, &pr))
			fail_proxy(req, &pr);
		if (ms && !req->failed)
			collect_mutations(q, ms);
		write_start(q, PROXY_WRITE_SIMPLE);
		return;
	}
	case CQL_STMT_BATCH: {
		const struct cql_batch *b = &st->batch;
		enum proxy_write_type wt = (int)b->type == CQL_BATCH_UNLOGGED
		                                   ? PROXY_WRITE_UNLOGGED_BATCH
		                                   : PROXY_WRITE_BATCH;
		if ((int)b->type == CQL_BATCH_COUNTER)
			fail(req, CQL_ERR_INVALID, "Counter batches are not supported");
		else if (b->using.timestamp)
			term_int64(q, b->using.timestamp, true, &q->ts, "[timestamp]");
		struct mutset *ms = req->failed ? NULL : xq_mutset(q);
		struct plan *outer = q->plan;
		for (uint32_t i = 0; ms && i < outer->n_children && !req->failed; i++) {
			q->plan = outer->children[i];
			struct proxy_result pr;
			if (!q->plan->table->virtual_ &&
			    proxy_check(ex->d.proxy, q->plan->table->ks, q->cl, true, &pr))
				fail_proxy(req, &pr);
			else
				collect_mutations(q, ms);
		}
		q->plan = outer;
		write_start(q, wt);
		return;
	}
	case CQL_STMT_USE: exec_use(ex, req, st); break;
	case CQL_STMT_CREATE_KEYSPACE:
	case CQL_STMT_ALTER_KEYSPACE:
	case CQL_STMT_DROP_KEYSPACE: exec_keyspace_ddl(ex, req, st, exec_now_us(ex)); break;
	case CQL_STMT_CREATE_TABLE: exec_create_table(ex, req, st, exec_now_us(ex)); break;
	case CQL_STMT_ALTER_TABLE: exec_alter_table(ex, req, st, exec_now_us(ex)); break;
	case CQL_STMT_DROP_TABLE: exec_drop_table(ex, req, st, exec_now_us(ex)); break;
	case CQL_STMT_TRUNCATE: exec_truncate(ex, req, st); break;
	default: fail(req, CQL_ERR_INVALID, "unsupported statement"); break;
	}
	xq_finish(q);
}

/* Returns true when an xq took over the request (it answers), false when done here. */
static bool run_with_params(struct executor *ex, struct exec_req *req, struct plan *p,
                            const struct cql_query_params *qp)
{
	struct xq *q = xq_new(ex, req, p, qp);
	if (!q)
		return false;
	xq_run(q);
	return true;
}

static void put_prepared(struct buf *b, const struct prepared_stmt *ps, const struct plan *p)
{
	cql_put_int(b, CQL_RESULT_PREPARED);
	cql_put_short_bytes(b, ps->id, PREPARED_ID_LEN);
	/* bind variables metadata */
	cql_put_int(b, p->n_binds ? CQL_ROWS_GLOBAL_TABLES_SPEC : 0);
	cql_put_int(b, (int32_t)p->n_binds);
	cql_put_int(b, (int32_t)p->n_pk_idx);
	for (uint32_t i = 0; i < p->n_pk_idx; i++)
		cql_put_short(b, p->pk_idx[i]);
	if (p->n_binds) {
		cql_put_string(b, p->ks);
		cql_put_string(b, p->table_name);
		for (uint32_t i = 0; i < p->n_binds; i++) {
			cql_put_string(b, p->bind_names[i]);
			cqltype_write_option(p->bind_types[i], b);
		}
	}
	/* result metadata */
	if (p->stmt->kind == CQL_STMT_SELECT) {
		cql_put_int(b, p->n_sel ? CQL_ROWS_GLOBAL_TABLES_SPEC : 0);
		cql_put_int(b, (int32_t)p->n_sel);
		if (p->n_sel)
			put_col_specs(b, p, p->ks, p->table_name);
	} else {
		cql_put_int(b, CQL_ROWS_NO_METADATA);
		cql_put_int(b, 0);
	}
}

static void do_prepare(struct executor *ex, struct exec_req *req, struct bufreader *r)
{
	struct cql_slice text = cql_get_long_string(r);
	if (!bufreader_ok(r)) {
		fail(req, CQL_ERR_PROTOCOL, "malformed PREPARE message: truncated [long string]");
		return;
	}
	struct plan *p = plan_build(ex, req, (const char *)text.p, (size_t)text.len);
	if (!p)
		return;
	struct prepared_stmt *ps;
	if (prepared_cache_put(ex->d.prepared, req->session->keyspace, (const char *)text.p,
	                       (size_t)text.len, p, plan_unref_cb, p->gen, &ps)) {
		fail(req, CQL_ERR_SERVER, "out of memory caching the prepared statement");
		return;
	}
	put_prepared(&req->body_out, ps, p);
}

/* The plan of a prepared statement, re-planned if the schema changed since. NULL: failed. */
static struct plan *prepared_plan(struct executor *ex, struct exec_req *req,
                                  struct prepared_stmt *ps)
{
	struct plan *p = ps->plan;
	if (p->gen == schema_current(ex->d.schema)->generation)
		return p;
	/* The schema changed since PREPARE: re-plan from the text in its keyspace. */
	struct exec_session s;
	snprintf(s.keyspace, sizeof(s.keyspace), "%s", ps->keyspace);
	struct exec_session *saved = req->session;
	req->session = &s;
	struct plan *np = plan_build(ex, req, ps->query, strlen(ps->query));
	req->session = saved;
	if (!np)
		return NULL;
	prepared_stmt_replan(ps, np, np->gen); /* in-flight users keep their reference */
	return np;
}

static void unprepared(struct exec_req *req, const struct cql_slice *id)
{
	fail(req, CQL_ERR_UNPREPARED, "Prepared query not found");
	req->error.id_len = (uint8_t)(id->len > 16 ? 16 : id->len < 0 ? 0 : id->len);
	memcpy(req->error.id, id->p, req->error.id_len);
	char hex[33];
	for (int i = 0; i < req->error.id_len; i++)
		sprintf(hex + 2 * i, "%02x", req->error.id[i]);
	hex[2 * req->error.id_len] = 0;
	/* Cassandra's words, naming the id in hex */
	snprintf(req->error.msg, sizeof(req->error.msg),
	         "Prepared query with ID %s not found (either the query was not prepared on "
	         "this host (maybe the host has been restarted?) or you have prepared too "
	         "many queries and it has been evicted from the internal cache)",
	         hex);
}

static bool do_execute(struct executor *ex, struct exec_req *req, struct bufreader *r)
{
	struct cql_slice id = cql_get_short_bytes(r);
	if (!bufreader_ok(r)) {
		fail(req, CQL_ERR_PROTOCOL, "malformed EXECUTE message: truncated id");
		return false;
	}
	struct cql_query_params qp;
	struct cerr e = {0};
	if (cql_query_params_decode(r, &qp, &e)) {
		fail(req, CQL_ERR_PROTOCOL, "%s", e.msg);
		return false;
	}
	bool handed = false;
	struct prepared_stmt *ps = prepared_cache_get(ex->d.prepared, id.p, (size_t)id.len);
	if (!ps) {
		unprepared(req, &id);
	} else {
		struct plan *p = prepared_plan(ex, req, ps);
		if (p)
			handed = run_with_params(ex, req, p, &qp);
	}
	cql_query_params_release(&qp);
	return handed;
}

static bool do_query(struct executor *ex, struct exec_req *req, struct bufreader *r)
{
	struct cql_slice text = cql_get_long_string(r);
	if (!bufreader_ok(r)) {
		fail(req, CQL_ERR_PROTOCOL, "malformed QUERY message: truncated [long string]");
		return false;
	}
	struct cql_query_params qp;
	struct cerr e = {0};
	if (cql_query_params_decode(r, &qp, &e)) {
		fail(req, CQL_ERR_PROTOCOL, "%s", e.msg);
		return false;
	}
	bool handed = false;
	struct plan *p = plan_build(ex, req, (const char *)text.p, (size_t)text.len);
	if (p) {
		handed = run_with_params(ex, req, p, &qp);
		plan_unref(p);
	}
	cql_query_params_release(&qp);
	return handed;
}

/*
 * BATCH (spec §4.1.7): every statement is bound and turned into mutations while
 * the frame is here (one mutation per partition, statements on the same
 * partition merged), then all are written with one consistency level.
 */
static bool do_batch(struct executor *ex, struct exec_req *req, struct bufreader *r)
{
	uint8_t type = cql_get_byte(r);
	uint16_t n = cql_get_short(r);
	if (!bufreader_ok(r)) {
		fail(req, CQL_ERR_PROTOCOL, "malformed BATCH message: truncated header");
		return false;
	}
	if (type > CQL_BATCH_COUNTER) {
		fail(req, CQL_ERR_PROTOCOL, "Invalid BATCH type %u", type);
		return false;
	}
	if (type == CQL_BATCH_COUNTER) {
		fail(req, CQL_ERR_INVALID, "Counter batches are not supported");
		return false;
	}
	struct entry {
		struct plan *plan; /* referenced */
		struct cql_slice *values;
		uint16_t n_values;
	};
	struct entry *ents = calloc(n ? n : 1, sizeof(*ents));
	struct cql_arena *mem = cql_arena_new();
	if (!ents || !mem) {
		free(ents);
		cql_arena_free(mem);
		fail(req, CQL_ERR_SERVER, "out of memory");
		return false;
	}
	for (uint16_t i = 0; i < n && !req->failed; i++) {
		uint8_t kind = cql_get_byte(r);
		if (kind == 0) {
			struct cql_slice text = cql_get_long_string(r);
			if (!bufreader_ok(r))
				break;
			ents[i].plan = plan_build(ex, req, (const char *)text.p, (size_t)text.len);
		} else if (kind == 1) {
			struct cql_slice id = cql_get_short_bytes(r);
			if (!bufreader_ok(r))
				break;
			struct prepared_stmt *ps =
			        prepared_cache_get(ex->d.prepared, id.p, (size_t)id.len);
			if (!ps) {
				unprepared(req, &id);
				break;
			}
			struct plan *p = prepared_plan(ex, req, ps);
			ents[i].plan = p ? plan_ref(p) : NULL;
		} else {
			fail(req, CQL_ERR_PROTOCOL,
			     "Invalid query kind in BATCH messages. Must be 0 or 1 but got %u",
			     kind);
			break;
		}
		if (!ents[i].plan)
			break;
		uint16_t nv = cql_get_short(r);
		ents[i].n_values = nv;
		ents[i].values = cql_arena_alloc(mem, (nv ? nv : 1) * sizeof(struct cql_slice));
		if (!ents[i].values) {
			fail(req, CQL_ERR_SERVER, "out of memory");
			break;
		}
		for (uint16_t j = 0; j < nv; j++)
			ents[i].values[j] = cql_get_value(r);
		if (!bufreader_ok(r))
			break;
		int k = ents[i].plan->stmt->kind;
		if (k != CQL_STMT_INSERT && k != CQL_STMT_UPDATE && k != CQL_STMT_DELETE)
			fail(req, CQL_ERR_INVALID,
			     "Invalid statement in batch: only UPDATE, INSERT and DELETE "
			     "statements "
			     "are allowed.");
	}
	uint16_t cl = cql_get_short(r);
	uint8_t flags = cql_get_byte(r);
	int64_t ts = INT64_MIN;
	if (flags & CQL_QF_SERIAL_CONSISTENCY)
		(void)cql_get_short(r);
	if (flags & CQL_QF_DEFAULT_TIMESTAMP)
		ts = cql_get_long(r);
	if (!req->failed && !bufreader_ok(r))
		fail(req, CQL_ERR_PROTOCOL, "malformed BATCH message: truncated");
	if (!req->failed && (flags & CQL_QF_NAMES_FOR_VALUES))
		fail(req, CQL_ERR_PROTOCOL,
		     "Named values in BATCH are not supported (the protocol spec says the flag is "
		     "broken)");
	if (!req->failed && !cql_consistency_name(cl))
		fail(req, CQL_ERR_PROTOCOL, "unknown consistency level 0x%04x", cl);
	struct xq *q = NULL;
	if (!req->failed) {
		struct cql_query_params qp = {.consistency = cl, .timestamp = ts, .page_size = -1};
		qp.paging_state.len = -1;
		q = xq_new(ex, req, NULL, &qp);
	}
	if (q) {
		if (!q->ts)
			q->ts = exec_now_us(ex);
		struct mutset *ms = xq_mutset(q);
		for (uint16_t i = 0; ms && i < n && !req->failed; i++) {
			/* binding reads the frame's values now: the mutations copy them */
			q->plan = ents[i].plan;
			q->values = ents[i].values;
			q->n_values = ents[i].n_values;
			if (q->n_values != q->plan->n_binds) {
				fail(req, CQL_ERR_INVALID,
				     "There were %u markers(?) in CQL but %u bound variables",
				     q->plan->n_binds, q->n_values);
				break;
			}
			struct proxy_result pr;
			if (!q->plan->table->virtual_ &&
			    proxy_check(ex->d.proxy, q->plan->table->ks, cl, true, &pr)) {
				fail_proxy(req, &pr);
				break;
			}
			collect_mutations(q, ms);
		}
		q->plan = NULL;
		q->values = NULL;
		q->n_values = 0;
	}
	for (uint16_t i = 0; i < n; i++)
		if (ents[i].plan)
			plan_unref(ents[i].plan);
	free(ents);
	cql_arena_free(mem);
	if (!q)
		return false;
	write_start(q, type == CQL_BATCH_UNLOGGED ? PROXY_WRITE_UNLOGGED_BATCH : PROXY_WRITE_BATCH);
	return true;
}

void executor_run(struct executor *ex, struct exec_req *req)
{
	struct bufreader r;
	bufreader_init(&r, req->body, req->body_len);
	req->failed = false;
	req->warning[0] = 0;
	buf_reset(&req->body_out);
	bool handed = false;
	switch (req->opcode) {
	case CQL_OP_QUERY: handed = do_query(ex, req, &r); break;
	case CQL_OP_PREPARE: do_prepare(ex, req, &r); break;
	case CQL_OP_EXECUTE: handed = do_execute(ex, req, &r); break;
	case CQL_OP_BATCH: handed = do_batch(ex, req, &r); break;
	default:
		fail(req, CQL_ERR_PROTOCOL, "opcode 0x%02x is not a statement", req->opcode);
		break;
	}
	if (handed)
		return; /* xq_finish answers */
	if (req->failed)
		buf_reset(&req->body_out);
	if (req->done)
		req->done(req);
}

void executor_run_text(struct executor *ex, struct exec_session *s, const char *cql,
                       struct exec_req *req)
{
	req->session = s;
	req->failed = false;
	req->warning[0] = 0;
	req->done = NULL;
	buf_reset(&req->body_out);
	struct plan *p = plan_build(ex, req, cql, strlen(cql));
	if (p) {
		struct cql_query_params qp = {
		        .consistency = CL_ONE, .page_size = -1, .timestamp = INT64_MIN};
		qp.paging_state.len = -1;
		run_with_params(ex, req, p, &qp);
		plan_unref(p);
	}
	if (req->failed)
		buf_reset(&req->body_out);
}

int executor_new(const struct executor_deps *deps, struct executor **out)
{
	struct executor *ex = calloc(1, sizeof(*ex));
	if (!ex)
		return COL_ENOMEM;
	ex->d = *deps;
	*out = ex;
	return 0;
}

void executor_free(struct executor *ex)
{
	free(ex);
}
