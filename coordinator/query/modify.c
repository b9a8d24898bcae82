#include "coordinator/query/query_int.h"

#include "core/array.h"
#include "core/cqltype.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Mutations collected for one statement or one BATCH: one per partition. */
struct mutset {
	struct store_mutation **m;
	struct buf *keys; /* serialized partition keys, parallel to m */
	struct store_table **tables;
	uint32_t n, cap;
	const struct schema_keyspace *ks;
};

/* Room for twice as many partitions (the arrays stay parallel). */
static int mutset_grow(struct mutset *ms)
{
	size_t nc = array_next_cap(ms->cap, (size_t)ms->n + 1);
	if (nc == 0 || nc > UINT32_MAX)
		return COL_ENOMEM;
	struct store_mutation **nm = array_resize(ms->m, nc, sizeof(*nm));
	if (nm)
		ms->m = nm;
	struct buf *nk = array_resize(ms->keys, nc, sizeof(*nk));
	if (nk)
		ms->keys = nk;
	struct store_table **nt = array_resize(ms->tables, nc, sizeof(*nt));
	if (nt)
		ms->tables = nt;
	if (!nm || !nk || !nt)
		return COL_ENOMEM;
	ms->cap = (uint32_t)nc;
	return 0;
}

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

/* The mutation of t's partition pk in ms, made on first use: one per partition. */
static int mutset_get(struct xq *q, struct mutset *ms, const struct schema_table *t,
                      const struct store_value *pk, struct store_mutation **out)
{
	struct buf key;
	buf_init(&key);
	struct cerr e = {0};
	int rc = store_partition_key(t->st, pk, t->n_pk, &key, &e);
	if (rc) {
		buf_release(&key);
		return req_fail_cerr(q->req, COL_EINVAL, &e);
	}
	for (uint32_t i = 0; i < ms->n; i++)
		if (ms->tables[i] == t->st && ms->keys[i].len == key.len &&
		    memcmp(ms->keys[i].data, key.data, key.len) == 0) {
			buf_release(&key);
			*out = ms->m[i];
			return 0;
		}
	if (ms->n == ms->cap && mutset_grow(ms)) {
		buf_release(&key);
		return req_fail(q->req, COL_ENOMEM, "out of memory");
	}
	struct store_mutation *m = calloc(1, sizeof(*m));
	if (!m || store_mutation_init(m, t->st, pk, t->n_pk, 0, &e)) {
		free(m);
		buf_release(&key);
		if (!e.msg[0])
			snprintf(e.msg, sizeof(e.msg), "out of memory");
		return req_fail_cerr(q->req, COL_EINVAL, &e);
	}
	ms->m[ms->n] = m;
	ms->keys[ms->n] = key;
	ms->tables[ms->n] = t->st;
	ms->n++;
	*out = m;
	return 0;
}

static int mut_check(struct xq *q, struct store_mutation *m, int rc)
{
	if (rc == 0)
		return 0;
	return req_fail(q->req, COL_EINVAL, "%s", m->err.msg[0] ? m->err.msg : col_strerror(rc));
}

/* The clustering a cell of column c is written under: none for a static column. */
static size_t cell_ck(const struct schema_column *c, const struct store_value *ck, size_t n_ck,
                      const struct store_value **out)
{
	bool st = c->kind == SCHEMA_COL_STATIC;
	*out = st ? NULL : ck;
	return st ? 0 : n_ck;
}

/* 100 ns intervals from the timeuuid epoch (1582-10-15) to the Unix epoch. */
#define UUID_EPOCH_OFFSET 0x01B21DD213814000ULL
/* 2010-01-01 in timeuuid time: prepended slots count down from it (Cassandra's
 * PrecisionTime.REFERENCE_TIME), so a later prepend sorts first. */
#define PREPEND_REF ((uint64_t)1262304000000LL * 10000 + UUID_EPOCH_OFFSET)

/* A list slot: the timeuuid of 100 ns time tt.  Slots order by tt. */
static int list_slot_at(struct xq *q, uint64_t tt, struct store_value *path)
{
	uint8_t *u = cql_arena_alloc(q->mem, 16);
	if (!u)
		return req_fail(q->req, COL_ENOMEM, "out of memory");
	be32_store(u, (uint32_t)tt);
	be16_store(u + 4, (uint16_t)(tt >> 32));
	be16_store(u + 6, (uint16_t)(((tt >> 48) & 0x0fff) | 0x1000));
	memset(u + 8, 0x80, 8);
	path->p = u;
	path->len = 16;
	return 0;
}

/*
 * The path of list element i of n appended (prepend false) or prepended at ts:
 * appended slots are ts's time plus i, so they keep the order they were
 * written in; prepended ones mirror that time around PREPEND_REF, so every
 * later prepend sorts before every earlier one, and before every append.
 */
static int list_slot(struct xq *q, int64_t ts, int32_t i, int32_t n, bool prepend,
                     struct store_value *path)
{
	uint64_t tt = (uint64_t)ts * 10 + UUID_EPOCH_OFFSET;
	if (prepend)
		tt = 2 * PREPEND_REF - tt - (uint64_t)(n - i);
	else
		tt += (uint64_t)i;
	return list_slot_at(q, tt, path);
}

/* Write the elements of a non-frozen collection value v, one cell each. */
static int write_elements(struct xq *q, struct store_mutation *m, const struct schema_column *c,
                          const struct store_value *ck, size_t n_ck, const struct val *v,
                          int64_t ts, int32_t ttl, bool prepend)
{
	struct bufreader r;
	bufreader_init(&r, v->p, (size_t)v->len);
	int32_t n = (int32_t)bufreader_u32be(&r);
	for (int32_t i = 0; i < n && bufreader_ok(&r); i++) {
		int32_t kl = (int32_t)bufreader_u32be(&r);
		const uint8_t *kp = kl > 0 ? bufreader_take(&r, (size_t)kl) : exec_empty_value;
		struct store_value path = {kp, kl > 0 ? (size_t)kl : 0};
		const uint8_t *vp = NULL;
		size_t vl = 0;
		int rc = 0;
		if (c->type->kind == CQLTYPE_MAP) {
			int32_t l = (int32_t)bufreader_u32be(&r);
			vp = l > 0 ? bufreader_take(&r, (size_t)l) : exec_empty_value;
			vl = l > 0 ? (size_t)l : 0;
		} else if (c->type->kind == CQLTYPE_LIST) {
			vp = kp;
			vl = path.len;
			rc = list_slot(q, ts, i, n, prepend, &path);
		}
		if (rc)
			return rc;
		if (!bufreader_ok(&r))
			break;
		rc = mut_check(q, m,
		               store_mutation_set_cell(m, ck, n_ck, c->id, &path, vp, vl, ts, ttl));
		if (rc)
			return rc;
	}
	if (!bufreader_ok(&r))
		return req_fail(q->req, COL_EINVAL, "malformed collection value for %s", c->name);
	return 0;
}

/* The cell path of field f of a non-frozen user type: its index as a smallint. */
static int udt_field_path(struct xq *q, uint32_t f, struct store_value *path)
{
	uint8_t *p = cql_arena_alloc(q->mem, 2);
	if (!p)
		return req_fail(q->req, COL_ENOMEM, "out of memory");
	be16_store(p, (uint16_t)f);
	*path = (struct store_value){p, 2};
	return 0;
}

/* Write the fields of a non-frozen user type value v, one cell each (null fields: none). */
static int write_fields(struct xq *q, struct store_mutation *m, const struct schema_column *c,
                        const struct store_value *ck, size_t n_ck, const struct val *v, int64_t ts,
                        int32_t ttl)
{
	struct bufreader r;
	bufreader_init(&r, v->p, (size_t)v->len);
	int rc = 0;
	for (uint32_t f = 0; f < c->type->n_fields && bufreader_left(&r) && !rc; f++) {
		int32_t l = (int32_t)bufreader_u32be(&r);
		const uint8_t *fp = l > 0 ? bufreader_take(&r, (size_t)l) : exec_empty_value;
		struct store_value path;
		if (!bufreader_ok(&r) || l < 0)
			continue;
		rc = udt_field_path(q, f, &path);
		if (!rc)
			rc = mut_check(q, m,
			               store_mutation_set_cell(m, ck, n_ck, c->id, &path, fp,
			                                       (size_t)l, ts, ttl));
	}
	if (!rc && !bufreader_ok(&r))
		return req_fail(q->req, COL_EINVAL, "malformed user type value for %s", c->name);
	return rc;
}

/* Write one column value (plain cell, or a whole non-frozen collection or user type). */
static int write_column(struct xq *q, struct store_mutation *m, const struct schema_column *c,
                        const struct store_value *ck, size_t n_ck, const struct val *v, int64_t ts,
                        int32_t ttl, bool replace)
{
	if (v->len == CQL_VALUE_UNSET)
		return 0;
	n_ck = cell_ck(c, ck, n_ck, &ck);
	bool multi = cqltype_is_multicell(c->type);
	if (!multi) {
		if (v->len == CQL_VALUE_NULL)
			return mut_check(q, m,
			                 store_mutation_delete_cell(m, ck, n_ck, c->id, NULL, ts));
		return mut_check(q, m,
		                 store_mutation_set_cell(m, ck, n_ck, c->id, NULL, v->p,
		                                         (size_t)v->len, ts, ttl));
	}
	/* A full write replaces the collection: delete what was there just before. */
	if (replace) {
		int rc = mut_check(q, m,
		                   store_mutation_delete_cell(m, ck, n_ck, c->id, NULL, ts - 1));
		if (rc)
			return rc;
	}
	if (v->len < 0)
		return 0;
	if (c->type->kind == CQLTYPE_UDT)
		return write_fields(q, m, c, ck, n_ck, v, ts, ttl);
	return write_elements(q, m, c, ck, n_ck, v, ts, ttl, false);
}

static int using_clause(struct xq *q, const struct cql_using *u, int64_t *ts, int32_t *ttl)
{
	*ts = q->ts;
	*ttl = STORE_TTL_DEFAULT;
	int rc = 0;
	if (u->timestamp && (rc = term_int64(q, u->timestamp, true, ts, "[timestamp]")))
		return rc;
	if (u->ttl) {
		int64_t v;
		if ((rc = term_int64(q, u->ttl, false, &v, "[ttl]")))
			return rc;
		if (v < 0)
			return req_fail(q->req, COL_EINVAL,
			                "A TTL must be greater or equal to 0, but was %" PRId64, v);
		if (v > STORE_MAX_TTL)
			return req_fail(q->req, COL_EINVAL,
			                "ttl is too large. requested (%" PRId64 ") maximum (%d)", v,
			                STORE_MAX_TTL);
		*ttl = (int32_t)v;
	}
	return 0;
}

/*
 * An INSERT that names no clustering column and only static columns besides
 * the partition key writes the partition's static row alone, as Cassandra
 * allows: there is no row to give a marker to.
 */
static bool insert_static_only(const struct schema_table *t, const bool *set)
{
	bool statics = false;
	for (uint32_t i = t->n_pk; i < t->n_cols; i++) {
		if (!set[i])
			continue;
		if (t->cols[i].kind != SCHEMA_COL_STATIC)
			return false;
		statics = true;
	}
	return statics && t->n_ck > 0;
}

/* The values INSERT gives each column, by column index (set[] marks the given ones). */
static int insert_values(struct xq *q, const struct cql_insert *ins, struct val *vals, bool *set)
{
	const struct schema_table *t = q->plan->table;
	int jrc = ins->json ? insert_json_values(q, ins, vals, set) : 0;
	if (jrc)
		return jrc;
	for (uint32_t i = 0; i < ins->n_columns; i++) {
		int ci = column_index(t, ins->columns[i].name);
		if (ci < 0)
			return undefined_column(q->req, q->plan, ins->columns[i].name);
		if (set[ci])
			return req_fail(q->req, COL_EINVAL,
			                "Multiple definitions found for column %s",
			                t->cols[ci].name);
		set[ci] = true;
		int rc = term_value(q, ins->values[i], t->cols[ci].type, &vals[ci],
		                    t->cols[ci].name);
		if (rc)
			return rc;
	}
	for (uint32_t i = 0; i < t->n_pk + t->n_ck; i++) {
		const struct schema_column *c = &t->cols[i];
		if (!set[i] && i >= t->n_pk && insert_static_only(t, set))
			continue;
		if (!set[i])
			return req_fail(q->req, COL_EINVAL, "Some %s are missing: %s",
			                c->kind == SCHEMA_COL_PARTITION_KEY ? "partition key parts"
			                                                    : "clustering keys",
			                c->name);
		if (vals[i].len == CQL_VALUE_UNSET)
			return req_fail(q->req, COL_EINVAL, "Invalid unset value for column %s",
			                c->name);
		if (vals[i].len < 0)
			return req_fail(q->req, COL_EINVAL,
			                "Invalid null value in condition for column %s", c->name);
	}
	return 0;
}

static int exec_insert(struct xq *q, struct mutset *ms)
{
	const struct plan *p = q->plan;
	const struct schema_table *t = p->table;
	const struct cql_insert *ins = &p->stmt->insert;
	if (ins->if_not_exists)
		return req_fail(
		        q->req, COL_EINVAL,
		        "Conditional updates (IF NOT EXISTS) are not supported by colonnade");
	int64_t ts;
	int32_t ttl;
	int rc = using_clause(q, &ins->using, &ts, &ttl);
	if (rc)
		return rc;
	struct val *vals = cql_arena_alloc(q->mem, (t->n_cols ? t->n_cols : 1) * sizeof(*vals));
	bool *set = cql_arena_alloc(q->mem, t->n_cols ? t->n_cols : 1);
	if (!vals || !set)
		return req_fail(q->req, COL_ENOMEM, "out of memory");
	if ((rc = insert_values(q, ins, vals, set)))
		return rc;
	struct store_value pk[STORE_MAX_PK_COLS], ck[STORE_MAX_CK_COLS];
	for (uint32_t i = 0; i < t->n_pk + t->n_ck; i++) {
		struct store_value *dst = i < t->n_pk ? &pk[i] : &ck[i - t->n_pk];
		*dst = (struct store_value){vals[i].p, (size_t)vals[i].len};
	}
	struct store_mutation *m;
	if ((rc = mutset_get(q, ms, t, pk, &m)))
		return rc;
	if (!insert_static_only(t, set) &&
	    (rc = mut_check(q, m, store_mutation_row_marker(m, ck, t->n_ck, ts, ttl))))
		return rc;
	for (uint32_t i = t->n_pk + t->n_ck; i < t->n_cols && !rc; i++)
		if (set[i])
			rc = write_column(q, m, &t->cols[i], ck, t->n_ck, &vals[i], ts, ttl, true);
	return rc;
}

/*
 * One UPDATE or DELETE: the rows its WHERE names and what it writes at each.
 * rows_of() checks the WHERE and bounds the rows; for_each_row() calls the
 * statement's row function once per (partition, clustering IN combination).
 */
struct modify {
	struct xq *q;
	struct where w;
	uint64_t np, nc; /* partitions, clustering combinations */
	uint64_t row;    /* the row being written: pi * nc + ci (modify_rows) */
	int64_t ts;
	int32_t ttl;
	const struct cql_update *update;
	const struct cql_delete *del;
};

typedef int (*modify_row_fn)(struct modify *md, struct store_mutation *m,
                             const struct store_value *ck);

/* The WHERE of an UPDATE or DELETE names whole partitions, never a token range. */
static int modify_where(struct modify *md, struct cql_relation *const *rels, uint32_t n,
                        bool allow_slice)
{
	struct xq *q = md->q;
	const struct schema_table *t = q->plan->table;
	int rc = analyze_where(q, rels, n, &md->w, allow_slice);
	if (rc)
		return rc;
	if (md->w.n_pk_restricted != t->n_pk || md->w.has_token)
		return req_fail(q->req, COL_EINVAL, "Some partition key parts are missing: %s",
		                t->cols[0].name);
	return 0;
}

/* A column an UPDATE sets or a DELETE names: it exists and is not a key column.
 * *is_static tells whether it is a static column. */
static int modify_column(struct modify *md, const char *name, bool *is_static)
{
	const struct schema_table *t = md->q->plan->table;
	int ci = column_index(t, name);
	if (ci < 0)
		return undefined_column(md->q->req, md->q->plan, name);
	enum schema_col_kind k = t->cols[ci].kind;
	if ((k == SCHEMA_COL_PARTITION_KEY || k == SCHEMA_COL_CLUSTERING) && md->del)
		return req_fail(md->q->req, COL_EINVAL,
		                "Invalid identifier %s for deletion (should not be a PRIMARY KEY "
		                "part)",
		                t->cols[ci].name);
	if (k == SCHEMA_COL_PARTITION_KEY || k == SCHEMA_COL_CLUSTERING)
		return req_fail(md->q->req, COL_EINVAL, "PRIMARY KEY part %s found in SET part",
		                t->cols[ci].name);
	*is_static = k == SCHEMA_COL_STATIC;
	return 0;
}

/*
 * The checks UPDATE and DELETE share: USING, a WHERE naming whole partitions,
 * and columns that exist and are not key columns (*only_static: all static).
 */
static int modify_begin(struct modify *md, const struct cql_using *u,
                        struct cql_relation *const *where, uint32_t n_where, bool allow_slice,
                        bool *only_static)
{
	int rc = using_clause(md->q, u, &md->ts, &md->ttl);
	if (!rc)
		rc = modify_where(md, where, n_where, allow_slice);
	uint32_t n = md->del ? md->del->n_targets : md->update->n_assignments;
	*only_static = true;
	for (uint32_t i = 0; i < n && !rc; i++) {
		bool st = false;
		rc = modify_column(md,
		                   md->del ? md->del->targets[i]->column.name
		                           : md->update->assignments[i]->column.name,
		                   &st);
		*only_static = *only_static && st;
	}
	return rc;
}

/* How many rows the WHERE names (IN lists multiply), bounded like a SELECT's. */
static int count_rows(struct modify *md)
{
	const struct schema_table *t = md->q->plan->table;
	md->np = where_product(md->w.pk_n, t->n_pk);
	md->nc = where_product(md->w.ck_n, md->w.n_ck_eq);
	if (md->np > MAX_IN_PARTITIONS || md->nc > MAX_IN_ROWS)
		return req_fail(md->q->req, COL_EINVAL, "IN restrictions name too many rows");
	return 0;
}

/* Visit every row the WHERE names. */
static int for_each_row(struct modify *md, struct mutset *ms, modify_row_fn fn)
{
	struct xq *q = md->q;
	const struct schema_table *t = q->plan->table;
	const struct where *w = &md->w;
	int rc = count_rows(md);
	for (uint64_t pi = 0; pi < md->np && !rc; pi++) {
		struct store_value pk[STORE_MAX_PK_COLS];
		where_pick(w->pk_vals, w->pk_n, t->n_pk, pi, pk);
		struct store_mutation *m;
		rc = mutset_get(q, ms, t, pk, &m);
		for (uint64_t ci = 0; ci < md->nc && !rc; ci++) {
			struct store_value ck[STORE_MAX_CK_COLS];
			where_pick(w->ck_vals, w->ck_n, w->n_ck_eq, ci, ck);
			md->row = pi * md->nc + ci;
			rc = fn(md, m, ck);
		}
	}
	return rc;
}

/* SET c = c - v: delete the elements of v (set values, or map keys as a set<K>). */
static int remove_elements(struct modify *md, struct store_mutation *m,
                           const struct schema_column *c, const struct cql_assignment *a,
                           const struct store_value *ck)
{
	struct xq *q = md->q;
	const struct cqltype *et = c->type;
	const struct cqltype *owned = NULL;
	if (c->type->kind == CQLTYPE_MAP) {
		owned = cqltype_collection_new(CQLTYPE_SET, true, cqltype_copy(c->type->elem),
		                               NULL);
		et = owned;
	}
	struct val v;
	int rc = et ? term_value(q, a->value, et, &v, c->name)
	            : req_fail(q->req, COL_ENOMEM, "out of memory");
	cqltype_free(owned);
	if (rc || v.len < 0)
		return rc;
	const struct store_value *cck;
	size_t ncck = cell_ck(c, ck, md->w.n_ck_eq, &cck);
	struct bufreader r;
	bufreader_init(&r, v.p, (size_t)v.len);
	int32_t n = (int32_t)bufreader_u32be(&r);
	for (int32_t k = 0; k < n && bufreader_ok(&r) && !rc; k++) {
		int32_t l = (int32_t)bufreader_u32be(&r);
		const uint8_t *e = bufreader_take(&r, l > 0 ? (size_t)l : 0);
		struct store_value path = {e, l > 0 ? (size_t)l : 0};
		if (bufreader_ok(&r))
			rc = mut_check(
			        q, m,
			        store_mutation_delete_cell(m, cck, ncck, c->id, &path, md->ts));
	}
	return rc;
}

/* SET c[k] = v on a non-frozen map (v null deletes the entry). */
static int set_map_element(struct modify *md, struct store_mutation *m,
                           const struct schema_column *c, const struct cql_assignment *a,
                           const struct store_value *ck)
{
	struct xq *q = md->q;
	struct val k, v;
	int rc = term_value(q, a->key, c->type->elem, &k, c->name);
	if (!rc)
		rc = term_value(q, a->value, c->type->value, &v, c->name);
	if (rc)
		return rc;
	if (k.len < 0)
		return req_fail(q->req, COL_EINVAL, "Invalid null map key for %s", c->name);
	if (v.len == CQL_VALUE_UNSET)
		return 0;
	struct store_value path = {k.p, (size_t)k.len};
	const struct store_value *cck;
	size_t ncck = cell_ck(c, ck, md->w.n_ck_eq, &cck);
	if (v.len < 0)
		return mut_check(q, m,
		                 store_mutation_delete_cell(m, cck, ncck, c->id, &path, md->ts));
	return mut_check(q, m,
	                 store_mutation_set_cell(m, cck, ncck, c->id, &path, v.p, (size_t)v.len,
	                                         md->ts, md->ttl));
}

/* "c[k] = v" or "c = v + c" as Cassandra's messages quote an operation. */
static const char *op_text(struct xq *q, const struct cql_assignment *a)
{
	struct buf b;
	buf_init(&b);
	cql_ident_format(&a->column, &b);
	if (a->kind == CQL_ASSIGN_FIELD) {
		buf_put_str(&b, ".");
		cql_ident_format(&a->field, &b);
		buf_put_str(&b, " = ");
		cql_term_format(a->value, &b);
	} else if (a->kind == CQL_ASSIGN_ELEMENT) {
		buf_put_str(&b, "[");
		cql_term_format(a->key, &b);
		buf_put_str(&b, "] = ");
		cql_term_format(a->value, &b);
	} else {
		buf_put_str(&b, " = ");
		cql_term_format(a->value, &b);
		buf_put_str(&b, " + ");
		cql_ident_format(&a->column, &b);
	}
	char *s = cql_arena_strndup(q->mem, b.data ? (const char *)b.data : "", b.len);
	buf_release(&b);
	return s ? s : a->column.name;
}

/* SET l = v + l on a non-frozen list: v's elements before every existing one. */
static int prepend_elements(struct modify *md, struct store_mutation *m,
                            const struct schema_column *c, const struct cql_assignment *a,
                            const struct store_value *ck)
{
	struct xq *q = md->q;
	if (c->type->kind != CQLTYPE_LIST)
		return req_fail(q->req, COL_EINVAL, "Invalid operation (%s) for non list column %s",
		                op_text(q, a), c->name);
	if (c->type->frozen)
		return req_fail(q->req, COL_EINVAL,
		                "Invalid operation (%s) for frozen list column %s", op_text(q, a),
		                c->name);
	struct val v;
	int rc = term_value(q, a->value, c->type, &v, c->name);
	if (rc || v.len < 0) /* null or unset: nothing to prepend */
		return rc;
	const struct store_value *cck;
	size_t ncck = cell_ck(c, ck, md->w.n_ck_eq, &cck);
	return write_elements(q, m, c, cck, ncck, &v, md->ts, md->ttl, true);
}

/* SET l = l - v on a non-frozen list: delete every element equal to one of v's
 * (the list as read before the write, modify_read.c). */
static int discard_list_values(struct modify *md, struct store_mutation *m,
                               const struct schema_column *c, const struct cql_assignment *a,
                               const struct store_value *ck)
{
	struct xq *q = md->q;
	struct val v;
	int rc = term_value(q, a->value, c->type, &v, c->name);
	if (rc || v.len < 0)
		return rc;
	const struct store_value *cck;
	size_t ncck = cell_ck(c, ck, md->w.n_ck_eq, &cck);
	const struct lelem *el;
	size_t n = lread_list(q, md->row, c->id, &el);
	for (size_t i = 0; i < n && !rc; i++) {
		struct bufreader r;
		bufreader_init(&r, v.p, (size_t)v.len);
		int32_t nv = (int32_t)bufreader_u32be(&r);
		bool hit = false;
		for (int32_t k = 0; k < nv && bufreader_ok(&r) && !hit; k++) {
			int32_t l = (int32_t)bufreader_u32be(&r);
			const uint8_t *e = bufreader_take(&r, l > 0 ? (size_t)l : 0);
			size_t el_len = l > 0 ? (size_t)l : 0;
			hit = bufreader_ok(&r) && el_len == el[i].value_len &&
			      (el_len == 0 || memcmp(e, el[i].value, el_len) == 0);
		}
		struct store_value path = {el[i].path, el[i].path_len};
		if (hit)
			rc = mut_check(
			        q, m,
			        store_mutation_delete_cell(m, cck, ncck, c->id, &path, md->ts));
	}
	return rc;
}

/* The index of l[i]: *skip when it is unset (nothing to do). */
static int list_index(struct xq *q, const struct cql_term *t, const char *col, int32_t *idx,
                      bool *skip)
{
	struct val k;
	int rc = term_value(q, t, cqltype_simple(CQLTYPE_INT), &k, col);
	if (rc)
		return rc;
	if (k.len == CQL_VALUE_UNSET) {
		*skip = true;
		return 0;
	}
	if (k.len != 4)
		return req_fail(q->req, COL_EINVAL, "Invalid null value for list index");
	*idx = (int32_t)be32_load(k.p);
	return 0;
}

/* The path of element idx of list c at the row being written, or the error
 * Cassandra gives (`verb`: "set an element on", "delete an element from"). */
static int list_element_path(struct modify *md, const struct schema_column *c, int32_t idx,
                             const char *verb, struct store_value *path)
{
	const struct lelem *el;
	size_t n = lread_list(md->q, md->row, c->id, &el);
	if (n == 0)
		return req_fail(md->q->req, COL_EINVAL, "Attempted to %s a list which is null",
		                verb);
	if (idx < 0 || (size_t)idx >= n)
		return req_fail(md->q->req, COL_EINVAL,
		                "List index %d out of bound, list has size %zu", idx, n);
	*path = (struct store_value){el[idx].path, el[idx].path_len};
	return 0;
}

/* SET l[i] = v on a non-frozen list (v null deletes the element). */
static int set_list_element(struct modify *md, struct store_mutation *m,
                            const struct schema_column *c, const struct cql_assignment *a,
                            const struct store_value *ck)
{
	struct xq *q = md->q;
	int32_t idx = 0;
	bool skip = false;
	struct val v;
	int rc = list_index(q, a->key, c->name, &idx, &skip);
	if (!rc)
		rc = term_value(q, a->value, c->type->elem, &v, c->name);
	if (rc || skip)
		return rc;
	struct store_value path;
	if ((rc = list_element_path(md, c, idx, "set an element on", &path)))
		return rc;
	if (v.len == CQL_VALUE_UNSET)
		return 0;
	const struct store_value *cck;
	size_t ncck = cell_ck(c, ck, md->w.n_ck_eq, &cck);
	if (v.len < 0)
		return mut_check(q, m,
		                 store_mutation_delete_cell(m, cck, ncck, c->id, &path, md->ts));
	return mut_check(q, m,
	                 store_mutation_set_cell(m, cck, ncck, c->id, &path, v.p, (size_t)v.len,
	                                         md->ts, md->ttl));
}

/* SET c[k] = v: a non-frozen map entry or list element. */
static int set_element(struct modify *md, struct store_mutation *m, const struct schema_column *c,
                       const struct cql_assignment *a, const struct store_value *ck)
{
	struct xq *q = md->q;
	if (c->type->kind == CQLTYPE_SET)
		return req_fail(q->req, COL_EINVAL, "Invalid operation (%s) for set column %s",
		                op_text(q, a), c->name);
	if (!cqltype_is_collection(c->type))
		return req_fail(q->req, COL_EINVAL,
		                "Invalid operation (%s) for non collection column %s",
		                op_text(q, a), c->name);
	if (c->type->frozen)
		return req_fail(q->req, COL_EINVAL,
		                "Invalid operation (%s) for frozen collection column %s",
		                op_text(q, a), c->name);
	if (c->type->kind == CQLTYPE_LIST)
		return set_list_element(md, m, c, a, ck);
	return set_map_element(md, m, c, a, ck);
}

/* The index of field `f` of column c's user type, or Cassandra's error. */
static int udt_field_index(struct xq *q, const struct schema_column *c, const char *f,
                           uint32_t *idx)
{
	int at = cqltype_udt_field(c->type, f, strlen(f));
	if (at < 0)
		return req_fail(q->req, COL_EINVAL, "UDT column %s does not have a field named %s",
		                c->name, f);
	*idx = (uint32_t)at;
	return 0;
}

/* SET c.f = v on a non-frozen user type (v null deletes the field). */
static int set_field(struct modify *md, struct store_mutation *m, const struct schema_column *c,
                     const struct cql_assignment *a, const struct store_value *ck)
{
	struct xq *q = md->q;
	if (c->type->kind != CQLTYPE_UDT)
		return req_fail(q->req, COL_EINVAL, "Invalid operation (%s) for non-UDT column %s",
		                op_text(q, a), c->name);
	if (c->type->frozen)
		return req_fail(q->req, COL_EINVAL,
		                "Invalid operation (%s) for frozen UDT column %s", op_text(q, a),
		                c->name);
	uint32_t f = 0;
	struct val v;
	struct store_value path;
	int rc = udt_field_index(q, c, a->field.name, &f);
	char *what = cql_arena_alloc(q->mem, strlen(c->name) + strlen(a->field.name) + 2);
	if (!rc && !what)
		rc = req_fail(q->req, COL_ENOMEM, "out of memory");
	if (!rc) { /* the receiver as Cassandra names it: "addr.city" */
		sprintf(what, "%s.%s", c->name, a->field.name);
		rc = term_value(q, a->value, c->type->fields[f], &v, what);
	}
	if (!rc)
		rc = udt_field_path(q, f, &path);
	if (rc || v.len == CQL_VALUE_UNSET)
		return rc;
	const struct store_value *cck;
	size_t ncck = cell_ck(c, ck, md->w.n_ck_eq, &cck);
	if (v.len < 0)
		return mut_check(q, m,
		                 store_mutation_delete_cell(m, cck, ncck, c->id, &path, md->ts));
	return mut_check(q, m,
	                 store_mutation_set_cell(m, cck, ncck, c->id, &path, v.p, (size_t)v.len,
	                                         md->ts, md->ttl));
}

/* One SET assignment at one row. */
static int update_assignment(struct modify *md, struct store_mutation *m,
                             const struct cql_assignment *a, const struct store_value *ck)
{
	struct xq *q = md->q;
	const struct schema_table *t = q->plan->table;
	const struct schema_column *c = &t->cols[column_index(t, a->column.name)];
	bool multi = cqltype_is_collection(c->type) && !c->type->frozen;
	struct val v;
	int rc;
	switch (a->kind) {
	case CQL_ASSIGN_SET:
	case CQL_ASSIGN_ADD:
		if (a->kind == CQL_ASSIGN_ADD && !multi)
			return req_fail(
			        q->req, COL_EINVAL,
			        "Invalid operation (%s = %s + ?) for non-collection column %s "
			        "(counters are not supported)",
			        c->name, c->name, c->name);
		rc = term_value(q, a->value, c->type, &v, c->name);
		return rc ? rc
		          : write_column(q, m, c, ck, md->w.n_ck_eq, &v, md->ts, md->ttl,
		                         a->kind == CQL_ASSIGN_SET);
	case CQL_ASSIGN_SUB:
		if (!multi)
			return req_fail(q->req, COL_EINVAL,
			                "Invalid operation (%s = %s - ?) for column %s", c->name,
			                c->name, c->name);
		if (c->type->kind == CQLTYPE_LIST)
			return discard_list_values(md, m, c, a, ck);
		return remove_elements(md, m, c, a, ck);
	case CQL_ASSIGN_PREPEND: return prepend_elements(md, m, c, a, ck);
	case CQL_ASSIGN_ELEMENT: return set_element(md, m, c, a, ck);
	case CQL_ASSIGN_FIELD: return set_field(md, m, c, a, ck);
	default:
		return req_fail(q->req, COL_EINVAL,
		                "This collection operation on %s is not supported", c->name);
	}
}

static int update_row(struct modify *md, struct store_mutation *m, const struct store_value *ck)
{
	const struct cql_update *u = md->update;
	int rc = 0;
	for (uint32_t i = 0; i < u->n_assignments && !rc; i++)
		rc = update_assignment(md, m, u->assignments[i], ck);
	return rc;
}

static int exec_update(struct xq *q, struct mutset *ms)
{
	const struct schema_table *t = q->plan->table;
	const struct cql_update *u = &q->plan->stmt->update;
	if (u->cond.if_exists || u->cond.n_conds)
		return req_fail(q->req, COL_EINVAL,
		                "Conditional updates are not supported by colonnade");
	struct modify md = {.q = q, .update = u};
	bool only_static;
	int rc = modify_begin(&md, &u->using, u->where, u->n_where, false, &only_static);
	if (rc)
		return rc;
	if (md.w.n_ck_eq < t->n_ck && !(only_static && md.w.n_ck_eq == 0))
		return req_fail(q->req, COL_EINVAL, "Some clustering keys are missing: %s",
		                t->cols[t->n_pk + md.w.n_ck_eq].name);
	return for_each_row(&md, ms, update_row);
}

/* DELETE c or c[k] at one row. */
static int delete_target(struct modify *md, struct store_mutation *m,
                         const struct cql_delete_target *dt, const struct store_value *ck)
{
	struct xq *q = md->q;
	const struct schema_table *t = q->plan->table;
	const struct schema_column *c = &t->cols[column_index(t, dt->column.name)];
	const struct store_value *cck;
	size_t ncck = cell_ck(c, ck, t->n_ck, &cck);
	struct store_value path, *pp = NULL;
	if (dt->field.name) {
		if (c->type->kind != CQLTYPE_UDT)
			return req_fail(q->req, COL_EINVAL,
			                "Invalid field deletion operation for non-UDT column %s",
			                c->name);
		if (c->type->frozen)
			return req_fail(q->req, COL_EINVAL,
			                "Frozen UDT column %s does not support field deletions",
			                c->name);
		uint32_t f = 0;
		int rc = udt_field_index(q, c, dt->field.name, &f);
		if (!rc)
			rc = udt_field_path(q, f, &path);
		if (rc)
			return rc;
		pp = &path;
	} else if (dt->key) {
		if (!cqltype_is_collection(c->type))
			return req_fail(q->req, COL_EINVAL,
			                "Invalid deletion operation for non collection column %s",
			                c->name);
		if (c->type->frozen)
			return req_fail(
			        q->req, COL_EINVAL,
			        "Invalid deletion operation for frozen collection column %s",
			        c->name);
		int rc;
		if (c->type->kind == CQLTYPE_LIST) {
			int32_t idx = 0;
			bool skip = false;
			rc = list_index(q, dt->key, c->name, &idx, &skip);
			if (rc || skip)
				return rc;
			if ((rc = list_element_path(md, c, idx, "delete an element from", &path)))
				return rc;
			return mut_check(
			        q, m,
			        store_mutation_delete_cell(m, cck, ncck, c->id, &path, md->ts));
		}
		struct val k;
		rc = term_value(q, dt->key, c->type->elem, &k, c->name);
		if (rc)
			return rc;
		if (k.len < 0)
			return req_fail(q->req, COL_EINVAL, "Invalid null element for %s", c->name);
		path = (struct store_value){k.p, (size_t)k.len};
		pp = &path;
	}
	return mut_check(q, m, store_mutation_delete_cell(m, cck, ncck, c->id, pp, md->ts));
}

/* DELETE at one (partition, clustering combination): the named columns, the
 * row, a clustering prefix or slice (a range tombstone), or the partition. */
static int delete_row(struct modify *md, struct store_mutation *m, const struct store_value *ck)
{
	struct xq *q = md->q;
	const struct cql_delete *d = md->del;
	const struct schema_table *t = q->plan->table;
	const struct where *w = &md->w;
	int rc = 0;
	if (d->n_targets) {
		for (uint32_t i = 0; i < d->n_targets && !rc; i++)
			rc = delete_target(md, m, d->targets[i], ck);
		return rc;
	}
	if (w->n_ck_eq == 0 && w->slice_col < 0)
		return mut_check(q, m, store_mutation_delete_partition(m, md->ts));
	if (w->n_ck_eq == t->n_ck)
		return mut_check(q, m, store_mutation_delete_row(m, ck, t->n_ck, md->ts));
	struct store_value lo[STORE_MAX_CK_COLS], hi[STORE_MAX_CK_COLS];
	struct store_slice sl;
	where_bounds(w, t, ck, lo, hi, &sl);
	return mut_check(q, m,
	                 store_mutation_delete_range(m, sl.start, sl.n_start, sl.start_incl, sl.end,
	                                             sl.n_end, sl.end_incl, md->ts));
}

static int exec_delete(struct xq *q, struct mutset *ms)
{
	const struct schema_table *t = q->plan->table;
	const struct cql_delete *d = &q->plan->stmt->del;
	if (d->cond.if_exists || d->cond.n_conds)
		return req_fail(q->req, COL_EINVAL,
		                "Conditional deletions are not supported by colonnade");
	struct modify md = {.q = q, .del = d};
	bool only_static;
	int rc = modify_begin(&md, &d->using, d->where, d->n_where, true, &only_static);
	if (rc)
		return rc;
	const struct where *w = &md.w;
	if (d->n_targets && (w->n_ck_eq < t->n_ck || w->slice_col >= 0) &&
	    (!only_static || w->n_ck_eq || w->slice_col >= 0))
		return req_fail(q->req, COL_EINVAL, "Some clustering keys are missing: %s",
		                t->cols[t->n_pk + w->n_ck_eq].name);
	return for_each_row(&md, ms, delete_row);
}

static int collect_mutations(struct xq *q, struct mutset *ms)
{
	const struct plan *p = q->plan;
	if (p->table->virtual_)
		return req_fail(q->req, COL_EINVAL, "%s keyspace is not user-modifiable.", p->ks);
	if (!ms->ks)
		ms->ks = p->table->ks;
	switch (p->stmt->kind) {
	case CQL_STMT_INSERT: return exec_insert(q, ms);
	case CQL_STMT_UPDATE: return exec_update(q, ms);
	case CQL_STMT_DELETE: return exec_delete(q, ms);
	default:
		return req_fail(q->req, COL_EINVAL,
		                "Only INSERT, UPDATE and DELETE are allowed here");
	}
}

int modify_collect(struct xq *q, struct mutset *ms)
{
	const struct schema_table *t = q->plan->table;
	struct cerr pr;
	if (!t->virtual_ && router_check(q->ex->d.router, t->ks, q->cl, true, &pr))
		return req_fail_outcome(q->req, &pr);
	if (!q->lr && modify_needs_read(q->plan)) /* every caller reads first: a bug if not */
		return req_fail(q->req, COL_EINVAL,
		                "internal error: the lists of this statement were not read before "
		                "the write");
	return collect_mutations(q, ms);
}

int modify_rows(struct xq *q, struct where *w, uint64_t *np, uint64_t *nc)
{
	const struct cql_stmt *s = q->plan->stmt;
	struct modify md = {.q = q};
	bool only_static;
	int rc;
	if (s->kind == CQL_STMT_UPDATE) {
		md.update = &s->update;
		rc = modify_begin(&md, &s->update.using, s->update.where, s->update.n_where, false,
		                  &only_static);
	} else {
		md.del = &s->del;
		rc = modify_begin(&md, &s->del.using, s->del.where, s->del.n_where, true,
		                  &only_static);
	}
	if (!rc)
		rc = count_rows(&md);
	*w = md.w;
	*np = md.np;
	*nc = md.nc;
	return rc;
}

void modify_run(struct xq *q)
{
	if (modify_needs_read(q->plan)) {
		struct cerr pr;
		if (router_check(q->ex->d.router, q->plan->table->ks, q->cl, true, &pr)) {
			req_fail_outcome(q->req, &pr);
			xq_finish(q);
			return;
		}
		modify_read_run(q);
		return;
	}
	struct mutset *ms = NULL;
	if (!xq_mutset(q, &ms))
		modify_collect(q, ms);
	write_start(q, CERR_WRITE_SIMPLE);
}

static void write_done(void *ctx, const struct cerr *res)
{
	struct xq *q = ctx;
	if (res->code)
		req_fail_outcome(q->req, res);
	else
		cql_put_int(&q->req->body_out, CQL_RESULT_VOID);
	xq_finish(q);
}

/* Apply q->ms through the router; the request finishes in write_done. */
void write_start(struct xq *q, enum cerr_write_type wt)
{
	struct mutset *ms = q->ms;
	if (q->req->err.code || !ms || !ms->n) {
		if (!q->req->err.code)
			cql_put_int(&q->req->body_out, CQL_RESULT_VOID);
		xq_finish(q);
		return;
	}
	/* one partition: one mutation, atomic on each replica (Cassandra: SIMPLE) */
	if ((wt == CERR_WRITE_UNLOGGED_BATCH || wt == CERR_WRITE_BATCH) && ms->n == 1)
		wt = CERR_WRITE_SIMPLE;
	/* the mutations stay alive (in q) until write_done */
	router_write(q->ex->d.router, ms->ks, q->cl, ms->m, ms->n, wt, write_done, q);
}

void mutset_free(struct mutset *ms)
{
	if (ms) {
		mutset_release(ms);
		free(ms);
	}
}

int xq_mutset(struct xq *q, struct mutset **out)
{
	if (!q->ms && !(q->ms = calloc(1, sizeof(*q->ms))))
		return req_fail(q->req, COL_ENOMEM, "out of memory");
	*out = q->ms;
	return 0;
}
