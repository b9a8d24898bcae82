#include "coordinator/query/query_int.h"

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
		req_fail_cerr(q->req, COL_EINVAL, &e);
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
			req_fail(q->req, CQL_ERR_SERVER, "out of memory");
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
		req_fail_cerr(q->req, COL_EINVAL, &e);
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
	return req_fail(q->req, CQL_ERR_INVALID, "%s",
	                m->err.msg[0] ? m->err.msg : col_strerror(rc));
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
		const uint8_t *kp = kl > 0 ? bufreader_take(&r, (size_t)kl) : exec_empty_value;
		struct store_value path = {kp, kl > 0 ? (size_t)kl : 0};
		const uint8_t *vp = NULL;
		size_t vl = 0;
		if (c->type->kind == CQLTYPE_MAP) {
			int32_t l = (int32_t)bufreader_u32be(&r);
			vp = l > 0 ? bufreader_take(&r, (size_t)l) : exec_empty_value;
			vl = l > 0 ? (size_t)l : 0;
		} else if (c->type->kind == CQLTYPE_LIST) {
			/* list slots are ordered by a timeuuid: ts-based, one per element */
			vp = kp;
			vl = path.len;
			uint8_t *u = cql_arena_alloc(q->mem, 16);
			if (!u)
				return req_fail(q->req, CQL_ERR_SERVER, "out of memory");
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
		return req_fail(q->req, CQL_ERR_INVALID, "malformed collection value for %s",
		                c->name);
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
			return req_fail(q->req, CQL_ERR_INVALID,
			                "A TTL must be greater or equal to 0, but was %" PRId64, v);
		if (v > STORE_MAX_TTL)
			return req_fail(q->req, CQL_ERR_INVALID,
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
		return req_fail(q->req, CQL_ERR_INVALID, "INSERT JSON is not supported");
	if (ins->if_not_exists)
		return req_fail(
		        q->req, CQL_ERR_INVALID,
		        "Conditional updates (IF NOT EXISTS) are not supported by colonnade");
	int64_t ts;
	int32_t ttl;
	if (using_clause(q, &ins->using, &ts, &ttl))
		return -1;
	struct val *vals = cql_arena_alloc(q->mem, (t->n_cols ? t->n_cols : 1) * sizeof(*vals));
	bool *set = cql_arena_alloc(q->mem, t->n_cols ? t->n_cols : 1);
	if (!vals || !set)
		return req_fail(q->req, CQL_ERR_SERVER, "out of memory");
	for (uint32_t i = 0; i < ins->n_columns; i++) {
		int ci = column_index(t, ins->columns[i].name);
		if (ci < 0)
			return undefined_column(q->req, p, ins->columns[i].name);
		if (set[ci])
			return req_fail(q->req, CQL_ERR_INVALID,
			                "Multiple definitions found for column %s",
			                t->cols[ci].name);
		set[ci] = true;
		if (term_value(q, ins->values[i], t->cols[ci].type, &vals[ci], t->cols[ci].name))
			return -1;
	}
	struct store_value pk[STORE_MAX_PK_COLS], ck[STORE_MAX_CK_COLS];
	for (uint32_t i = 0; i < t->n_pk + t->n_ck; i++) {
		const struct schema_column *c = &t->cols[i];
		if (!set[i])
			return req_fail(q->req, CQL_ERR_INVALID, "Some %s are missing: %s",
			                c->kind == SCHEMA_COL_PARTITION_KEY ? "partition key parts"
			                                                    : "clustering keys",
			                c->name);
		if (vals[i].len == CQL_VALUE_UNSET)
			return req_fail(q->req, CQL_ERR_INVALID,
			                "Invalid unset value for column %s", c->name);
		if (vals[i].len < 0)
			return req_fail(q->req, CQL_ERR_INVALID,
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
		return req_fail(q->req, CQL_ERR_INVALID,
		                "Conditional updates are not supported by colonnade");
	int64_t ts;
	int32_t ttl;
	if (using_clause(q, &u->using, &ts, &ttl))
		return -1;
	struct where w;
	if (analyze_where(q, u->where, u->n_where, &w, false))
		return -1;
	if (w.n_pk_restricted != t->n_pk || w.has_token)
		return req_fail(q->req, CQL_ERR_INVALID, "Some partition key parts are missing: %s",
		                t->cols[0].name);
	bool only_static = true;
	for (uint32_t i = 0; i < u->n_assignments; i++) {
		int ci = column_index(t, u->assignments[i]->column.name);
		if (ci < 0)
			return undefined_column(q->req, p, u->assignments[i]->column.name);
		if (t->cols[ci].kind == SCHEMA_COL_PARTITION_KEY ||
		    t->cols[ci].kind == SCHEMA_COL_CLUSTERING)
			return req_fail(q->req, CQL_ERR_INVALID,
			                "PRIMARY KEY part %s found in SET part", t->cols[ci].name);
		if (t->cols[ci].kind != SCHEMA_COL_STATIC)
			only_static = false;
	}
	if (w.n_ck_eq < t->n_ck && !(only_static && w.n_ck_eq == 0))
		return req_fail(q->req, CQL_ERR_INVALID, "Some clustering keys are missing: %s",
		                t->cols[t->n_pk + w.n_ck_eq].name);
	uint64_t np = where_product(w.pk_n, t->n_pk), nc = where_product(w.ck_n, w.n_ck_eq);
	if (np > MAX_IN_PARTITIONS || nc > MAX_IN_ROWS)
		return req_fail(q->req, CQL_ERR_INVALID, "IN restrictions name too many rows");
	for (uint64_t pi = 0; pi < np; pi++) {
		struct store_value pk[STORE_MAX_PK_COLS];
		where_pick(w.pk_vals, w.pk_n, t->n_pk, pi, pk);
		struct store_mutation *m = mutset_get(q, ms, t, pk);
		if (!m)
			return -1;
		for (uint64_t ci = 0; ci < nc; ci++) {
			struct store_value ck[STORE_MAX_CK_COLS];
			where_pick(w.ck_vals, w.ck_n, w.n_ck_eq, ci, ck);
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
						return req_fail(
						        q->req, CQL_ERR_INVALID,
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
						return req_fail(
						        q->req, CQL_ERR_INVALID,
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
					            : req_fail(q->req, CQL_ERR_SERVER,
					                       "out of memory");
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
						return req_fail(
						        q->req, CQL_ERR_INVALID,
						        "Element assignment %s[...] is only "
						        "supported "
						        "on non-frozen maps",
						        c->name);
					struct val k;
					if (term_value(q, a->key, c->type->elem, &k, c->name) ||
					    term_value(q, a->value, c->type->value, &v, c->name))
						return -1;
					if (k.len < 0)
						return req_fail(q->req, CQL_ERR_INVALID,
						                "Invalid null map key for %s",
						                c->name);
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
					return req_fail(
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
		return req_fail(q->req, CQL_ERR_INVALID,
		                "Conditional deletions are not supported by colonnade");
	int64_t ts;
	int32_t ttl;
	if (using_clause(q, &d->using, &ts, &ttl))
		return -1;
	struct where w;
	if (analyze_where(q, d->where, d->n_where, &w, true))
		return -1;
	if (w.n_pk_restricted != t->n_pk || w.has_token)
		return req_fail(q->req, CQL_ERR_INVALID, "Some partition key parts are missing: %s",
		                t->cols[0].name);
	for (uint32_t i = 0; i < d->n_targets; i++) {
		int ci = column_index(t, d->targets[i]->column.name);
		if (ci < 0)
			return undefined_column(q->req, p, d->targets[i]->column.name);
		if (t->cols[ci].kind == SCHEMA_COL_PARTITION_KEY ||
		    t->cols[ci].kind == SCHEMA_COL_CLUSTERING)
			return req_fail(
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
			return req_fail(q->req, CQL_ERR_INVALID,
			                "Some clustering keys are missing: %s",
			                t->cols[t->n_pk + w.n_ck_eq].name);
	}
	uint64_t np = where_product(w.pk_n, t->n_pk), nc = where_product(w.ck_n, w.n_ck_eq);
	if (np > MAX_IN_PARTITIONS || nc > MAX_IN_ROWS)
		return req_fail(q->req, CQL_ERR_INVALID, "IN restrictions name too many rows");
	for (uint64_t pi = 0; pi < np; pi++) {
		struct store_value pk[STORE_MAX_PK_COLS];
		where_pick(w.pk_vals, w.pk_n, t->n_pk, pi, pk);
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
			where_pick(w.ck_vals, w.ck_n, w.n_ck_eq, ci, ck);
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
							return req_fail(
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
							return req_fail(
							        q->req, CQL_ERR_INVALID,
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

int collect_mutations(struct xq *q, struct mutset *ms)
{
	const struct plan *p = q->plan;
	if (p->table->virtual_)
		return req_fail(q->req, CQL_ERR_INVALID, "%s keyspace is not user-modifiable.",
		                p->ks);
	if (!ms->ks)
		ms->ks = p->table->ks;
	switch (p->stmt->kind) {
	case CQL_STMT_INSERT: return exec_insert(q, ms);
	case CQL_STMT_UPDATE: return exec_update(q, ms);
	case CQL_STMT_DELETE: return exec_delete(q, ms);
	default:
		return req_fail(q->req, CQL_ERR_INVALID,
		                "Only INSERT, UPDATE and DELETE are allowed here");
	}
}

static void write_done(void *ctx, const struct cerr *res)
{
	struct xq *q = ctx;
	if (res->code)
		req_fail_proxy(q->req, res);
	else
		cql_put_int(&q->req->body_out, CQL_RESULT_VOID);
	xq_finish(q);
}

/* Apply q->ms through the router; the request finishes in write_done. */
void write_start(struct xq *q, enum cerr_write_type wt)
{
	struct mutset *ms = q->ms;
	if (q->req->failed || !ms || !ms->n) {
		if (!q->req->failed)
			cql_put_int(&q->req->body_out, CQL_RESULT_VOID);
		xq_finish(q);
		return;
	}
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

struct mutset *xq_mutset(struct xq *q)
{
	if (!q->ms) {
		q->ms = calloc(1, sizeof(*q->ms));
		if (!q->ms)
			req_fail(q->req, CQL_ERR_SERVER, "out of memory");
	}
	return q->ms;
}
