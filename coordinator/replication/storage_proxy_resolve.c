/*
 * storage_proxy_resolve.c — resolution of the replicas' answers: their
 * versions merged into one (Cassandra's Rows.merge around Cells.reconcile)
 * and the read-repair mutations that bring each stale replica to it.
 *
 * sp_resolve() runs three nested k-way merges, one version per contacted
 * replica at each level, every choice between two versions made by
 * store_cell_reconcile() (storage.h RECONCILE: the storage merge operator's
 * own rule, so a repaired replica's merge keeps exactly the winner):
 *
 *   sp_resolve          partitions in (token, key) order
 *     merge_partition     the partition deletion, its range tombstones (merge_range_tombstones),
 *                         then its rows in clustering order
 *       merge_row           the row deletion and marker, then its cells in column order
 *         merge_cell          the winning version of one cell, unless a deletion hides it
 *
 * At each level a replica whose version is not the winner (reconcile != 0), or
 * that has none, gets the winner in its repair mutation, made at the winner's
 * deletion or write time so that deletion and expiry times come out equal.
 */
#include "coordinator/replication/storage_proxy_int.h"

#include "core/cqltype.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cqltype *path_type(const struct store_table_desc *d, uint32_t col)
{
	for (size_t i = 0; i < d->n_cols; i++) {
		if (d->cols[i].id != col)
			continue;
		const struct cqltype *t = d->cols[i].type;
		if (t->kind == CQLTYPE_LIST)
			return cqltype_simple(CQLTYPE_TIMEUUID);
		if (t->kind == CQLTYPE_SET || t->kind == CQLTYPE_MAP)
			return t->elem;
		return NULL;
	}
	return NULL;
}

static int bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	if (c)
		return c;
	return al < bl ? -1 : al > bl ? 1 : 0;
}

int sp_part_cmp(const struct rres_part *a, const struct rres_part *b)
{
	if (a->token != b->token)
		return a->token < b->token ? -1 : 1;
	return bytes_cmp(a->key, a->key_len, b->key, b->key_len);
}

int sp_row_cmp(const struct sp_read *r, const struct rres *ra, const struct rres_row *a,
               const struct rres *rb, const struct rres_row *b)
{
	if (a->is_static || b->is_static)
		return (int)b->is_static - (int)a->is_static;
	const struct store_table_desc *d = store_table_desc(r->table);
	size_t n = a->n_ck < b->n_ck ? a->n_ck : b->n_ck;
	for (size_t i = 0; i < n && i < d->n_ck; i++) {
		const struct store_value *x = &ra->vals[a->ck_at + i], *y = &rb->vals[b->ck_at + i];
		int c = cqltype_compare(d->ck_types[i], x->p, x->len, y->p, y->len);
		if (d->ck_desc && d->ck_desc[i])
			c = -c;
		if (c)
			return (r->flags & STORE_READ_REVERSE) ? -c : c;
	}
	return 0;
}

static int cell_key_cmp(const struct sp_read *r, const struct rres_cell *a,
                        const struct rres_cell *b)
{
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	if (!a->path || !b->path)
		return (a->path != NULL) - (b->path != NULL);
	const struct cqltype *pt = path_type(store_table_desc(r->table), a->col);
	if (pt)
		return cqltype_compare(pt, a->path, a->path_len, b->path, b->path_len);
	return bytes_cmp(a->path, a->path_len, b->path, b->path_len);
}

/* The repair mutation of target t for the current merged partition and now_s. */
static struct store_mutation *rmut_for(struct sp_read *r, size_t t, size_t part, int64_t now_s,
                                       const struct rres_part *mp)
{
	for (size_t i = r->n_rmuts; i-- > 0;) {
		struct rmut *x = &r->rmuts[i];
		if (x->part != part)
			break;
		if (x->t == t && x->now_s == now_s)
			return &x->m;
	}
	if (r->n_rmuts == r->cap_rmuts) {
		size_t c = r->cap_rmuts ? r->cap_rmuts * 2 : 8;
		struct rmut *p = realloc(r->rmuts, c * sizeof(*p));
		if (!p)
			return NULL;
		r->rmuts = p;
		r->cap_rmuts = c;
	}
	struct rmut *x = &r->rmuts[r->n_rmuts];
	struct cerr e = {0};
	if (store_mutation_init(&x->m, r->table, &r->merged.vals[mp->pk_at], mp->n_pk,
	                        now_s > 0 ? now_s : r->now_s, &e) != 0)
		return NULL;
	x->t = t;
	x->now_s = now_s;
	x->part = part;
	r->n_rmuts++;
	return &x->m;
}

/* ---- versions as reconcile sees them ------------------------------------------------------- */

static struct store_cell_version deletion_version(int64_t ts, int64_t ldt)
{
	return (struct store_cell_version){.ts = ts, .tombstone = true, .ldt = ldt};
}

static struct store_cell_version marker_version(const struct rres_row *x)
{
	return (struct store_cell_version){
	        .ts = x->marker_ts, .ttl = x->marker_ttl, .ldt = x->marker_exp};
}

static struct store_cell_version cell_version(const struct rres_cell *c)
{
	return (struct store_cell_version){.ts = c->ts,
	                                   .tombstone = c->tombstone,
	                                   .ttl = c->tombstone ? 0 : c->ttl,
	                                   .ldt = c->exp,
	                                   .value = c->tombstone ? NULL : c->value,
	                                   .value_len = c->tombstone ? 0 : c->value_len};
}

/* Does the replica's version (NULL: none) need the winner? */
static bool stale(const struct store_cell_version *have, const struct store_cell_version *win)
{
	return !have || store_cell_reconcile(have, win) != 0;
}

/* The mutation time that reproduces a version's deletion or expiry time on a replica. */
static int64_t version_now(const struct store_cell_version *v)
{
	return v->tombstone ? v->ldt : v->ttl ? v->ldt - v->ttl : 0;
}

/* ---- the merge --------------------------------------------------------------------------------
 */

/* One partition's merge: the versions' slots, where the merged one goes, what it deleted. */
struct part_merge {
	struct sp_read *r;
	size_t k;     /* versions: one per contacted replica */
	size_t mpi;   /* the merged partition's index in r->merged */
	int64_t pdel; /* merged partition deletion's timestamp (INT64_MIN: none) */
	const struct rres_part *const
	        *vp; /* the versions (NULL: a replica without the partition) */
};

/* What hides a cell version inside one merged row. */
struct row_shadow {
	int64_t del;         /* newest of the partition and row deletions */
	uint32_t coldel_col; /* a whole-collection deletion seen in this row (UINT32_MAX: none) */
	int64_t coldel_ts;
	size_t mri; /* the merged row's index */
};

static int merge_partition(struct part_merge *pm, const struct rres_part *const *vp, size_t src);
static int merge_row(struct part_merge *pm, const struct rres_row *const *vr, size_t src);
static int merge_cell(struct part_merge *pm, struct row_shadow *sh,
                      const struct rres_cell *const *vc);

/* Replica v's repair mutation for the partition being merged, made at now_s. */
static struct store_mutation *repair_of(struct part_merge *pm, size_t v, int64_t now_s)
{
	return rmut_for(pm->r, v, pm->mpi, now_s, &pm->r->merged.parts[pm->mpi]);
}

/* The merged row's clustering (none for the static row). */
static const struct store_value *merged_ck(struct part_merge *pm, size_t mri, size_t *n_ck)
{
	const struct rres *m = &pm->r->merged;
	const struct rres_row *mr = &m->rows[mri];
	*n_ck = mr->is_static ? 0 : mr->n_ck;
	return mr->is_static ? NULL : &m->vals[mr->ck_at];
}

int sp_resolve(struct sp_read *r)
{
	size_t k = r->n_tgt;
	rres_reset(&r->merged);
	sp_read_release_muts(r);
	struct cerr e = {0};
	for (size_t v = 0; v < k; v++) {
		rres_reset(&r->tgt[v].dec);
		if (rres_decode(&r->tgt[v].dec, r->tgt[v].data.data, r->tgt[v].data.len, &e) != 0)
			return e.code;
	}
	sp_read_horizon(r, k);
	size_t pi[SP_MAX_REPLICAS] = {0}; /* each version's next partition */
	for (;;) {
		const struct rres_part *first = NULL;
		size_t src = 0;
		for (size_t v = 0; v < k; v++) {
			const struct rres *d = &r->tgt[v].dec;
			if (pi[v] < d->n_parts &&
			    (!first || sp_part_cmp(&d->parts[pi[v]], first) < 0)) {
				first = &d->parts[pi[v]];
				src = v;
			}
		}
		if (!first)
			return 0;
		const struct rres_part *vp[SP_MAX_REPLICAS];
		for (size_t v = 0; v < k; v++) {
			const struct rres *d = &r->tgt[v].dec;
			bool same = pi[v] < d->n_parts && sp_part_cmp(&d->parts[pi[v]], first) == 0;
			vp[v] = same ? &d->parts[pi[v]++] : NULL;
		}
		struct part_merge pm = {.r = r, .k = k};
		int rc = merge_partition(&pm, vp, src);
		if (rc)
			return rc;
	}
}

/* ---- range tombstones ------------------------------------------------------------------------ */

/* Clustering order of the first n components of a and b. */
static int ck_prefix_cmp(const struct store_table_desc *d, const struct store_value *a,
                         const struct store_value *b, size_t n)
{
	for (size_t i = 0; i < n && i < d->n_ck; i++) {
		int c = cqltype_compare(d->ck_types[i], a[i].p, a[i].len, b[i].p, b[i].len);
		if (d->ck_desc && d->ck_desc[i])
			c = -c;
		if (c)
			return c;
	}
	return 0;
}

/* Does range tombstone rt (bounds in m's values) cover the row with clustering ck? */
static bool rt_covers(const struct store_table_desc *d, const struct rres *m,
                      const struct rres_rt *rt, const struct store_value *ck)
{
	if (rt->n_start) {
		int c = ck_prefix_cmp(d, ck, &m->vals[rt->start_at], rt->n_start);
		if (c < 0 || (c == 0 && !rt->start_incl))
			return false;
	}
	if (rt->n_end) {
		int c = ck_prefix_cmp(d, ck, &m->vals[rt->end_at], rt->n_end);
		if (c > 0 || (c == 0 && !rt->end_incl))
			return false;
	}
	return true;
}

static bool vals_equal(const struct store_value *a, const struct store_value *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].len != b[i].len || (a[i].len && memcmp(a[i].p, b[i].p, a[i].len) != 0))
			return false;
	return true;
}

/* Same bounds (the same range, whatever its deletion)? */
static bool rt_same_range(const struct rres *ma, const struct rres_rt *a, const struct rres *mb,
                          const struct rres_rt *b)
{
	return a->n_start == b->n_start && a->n_end == b->n_end && a->start_incl == b->start_incl &&
	       a->end_incl == b->end_incl &&
	       vals_equal(&ma->vals[a->start_at], &mb->vals[b->start_at], a->n_start) &&
	       vals_equal(&ma->vals[a->end_at], &mb->vals[b->end_at], a->n_end);
}

/* The merged partition's range tombstone equal in range to rt of version v, or NULL. */
static struct rres_rt *merged_rt_like(struct part_merge *pm, const struct rres *src,
                                      const struct rres_rt *rt)
{
	struct rres *m = &pm->r->merged;
	const struct rres_part *mp = &m->parts[pm->mpi];
	for (size_t i = 0; i < mp->n_rts; i++)
		if (rt_same_range(m, &m->rts[mp->rt_at + i], src, rt))
			return &m->rts[mp->rt_at + i];
	return NULL;
}

/* Add version v's range tombstone rt to the merged partition (values copied). */
static int merged_rt_add(struct part_merge *pm, const struct rres *src, const struct rres_rt *rt)
{
	struct rres *m = &pm->r->merged;
	struct rres_rt *x = rres_add_rt(m);
	if (!x)
		return COL_ENOMEM;
	size_t xi = m->n_rts - 1;
	size_t at = m->n_vals;
	for (size_t i = 0; i < rt->n_start + rt->n_end; i++) {
		struct store_value *val = rres_add_val(m);
		if (!val)
			return COL_ENOMEM;
		*val = i < rt->n_start ? src->vals[rt->start_at + i]
		                       : src->vals[rt->end_at + i - rt->n_start];
	}
	m->rts[xi] = *rt;
	m->rts[xi].start_at = at;
	m->rts[xi].end_at = at + rt->n_start;
	m->parts[pm->mpi].n_rts++;
	return 0;
}

/* Does version v hold the merged range tombstone mrt exactly (range and deletion)? */
static bool version_has_rt(struct part_merge *pm, size_t v, const struct rres_rt *mrt)
{
	const struct rres_part *p = pm->vp[v];
	if (!p)
		return false;
	const struct rres *src = &pm->r->tgt[v].dec;
	const struct rres *m = &pm->r->merged;
	struct store_cell_version want = deletion_version(mrt->ts, mrt->ldt);
	for (size_t i = 0; i < p->n_rts; i++) {
		const struct rres_rt *rt = &src->rts[p->rt_at + i];
		struct store_cell_version have = deletion_version(rt->ts, rt->ldt);
		if (rt_same_range(src, rt, m, mrt) && store_cell_reconcile(&have, &want) == 0)
			return true;
	}
	return false;
}

/*
 * The union of the versions' range tombstones (one per range, the winning
 * deletion), less those the partition deletion hides, into the merged
 * partition; each replica lacking one gets it in its repair mutation.
 */
static int merge_range_tombstones(struct part_merge *pm)
{
	struct rres *m = &pm->r->merged;
	m->parts[pm->mpi].rt_at = m->n_rts;
	m->parts[pm->mpi].n_rts = 0;
	for (size_t v = 0; v < pm->k; v++) {
		const struct rres_part *p = pm->vp[v];
		const struct rres *src = &pm->r->tgt[v].dec;
		for (size_t i = 0; p && i < p->n_rts; i++) {
			const struct rres_rt *rt = &src->rts[p->rt_at + i];
			if (rt->ts <= pm->pdel)
				continue;
			struct rres_rt *x = merged_rt_like(pm, src, rt);
			struct store_cell_version a = deletion_version(rt->ts, rt->ldt);
			if (!x) {
				int rc = merged_rt_add(pm, src, rt);
				if (rc)
					return rc;
			} else if (store_cell_reconcile(
			                   &a, &(struct store_cell_version){.ts = x->ts,
			                                                    .tombstone = true,
			                                                    .ldt = x->ldt}) > 0) {
				x->ts = rt->ts;
				x->ldt = rt->ldt;
			}
		}
	}
	const struct rres_part *mp = &m->parts[pm->mpi];
	for (size_t i = 0; i < mp->n_rts; i++) {
		const struct rres_rt *x = &m->rts[mp->rt_at + i];
		for (size_t v = 0; v < pm->k; v++) {
			if (version_has_rt(pm, v, x))
				continue;
			struct store_mutation *rm = repair_of(pm, v, x->ldt);
			if (!rm)
				return COL_ENOMEM;
			store_mutation_delete_range(rm, &m->vals[x->start_at], x->n_start,
			                            x->start_incl, &m->vals[x->end_at], x->n_end,
			                            x->end_incl, x->ts);
		}
	}
	return 0;
}

/* The newest merged range tombstone covering the merged row mri (INT64_MIN: none). */
static int64_t rt_shadow(struct part_merge *pm, size_t mri)
{
	const struct rres *m = &pm->r->merged;
	const struct rres_row *mr = &m->rows[mri];
	const struct rres_part *mp = &m->parts[pm->mpi];
	int64_t del = INT64_MIN;
	if (mr->is_static)
		return del;
	const struct store_table_desc *d = store_table_desc(pm->r->table);
	for (size_t i = 0; i < mp->n_rts; i++) {
		const struct rres_rt *x = &m->rts[mp->rt_at + i];
		if (x->ts > del && rt_covers(d, m, x, &m->vals[mr->ck_at]))
			del = x->ts;
	}
	return del;
}

/* Merge one partition's versions (vp[v]: replica v's, or NULL); src holds its key. */
static int merge_partition(struct part_merge *pm, const struct rres_part *const *vp, size_t src)
{
	struct sp_read *r = pm->r;
	struct rres *m = &r->merged;
	const struct rres_part *kp = vp[src];
	struct rres_part *mp = rres_add_part(m);
	if (!mp)
		return COL_ENOMEM;
	pm->mpi = m->n_parts - 1;
	*mp = *kp;
	mp->pk_at = m->n_vals;
	mp->row_at = m->n_rows;
	mp->n_rows = 0;
	mp->has_del = false;
	for (size_t i = 0; i < kp->n_pk; i++) {
		struct store_value *val = rres_add_val(m);
		if (!val)
			return COL_ENOMEM;
		*val = r->tgt[src].dec.vals[kp->pk_at + i];
	}
	/* the partition deletion */
	struct store_cell_version have[SP_MAX_REPLICAS], win = {0};
	bool any = false;
	for (size_t v = 0; v < pm->k; v++) {
		if (!vp[v] || !vp[v]->has_del)
			continue;
		have[v] = deletion_version(vp[v]->del_ts, vp[v]->del_ldt);
		if (!any || store_cell_reconcile(&have[v], &win) > 0)
			win = have[v];
		any = true;
	}
	pm->pdel = any ? win.ts : INT64_MIN;
	if (any) {
		mp = &m->parts[pm->mpi];
		mp->has_del = true;
		mp->del_ts = win.ts;
		mp->del_ldt = win.ldt;
		for (size_t v = 0; v < pm->k; v++) {
			if (!stale(vp[v] && vp[v]->has_del ? &have[v] : NULL, &win))
				continue;
			struct store_mutation *rm = repair_of(pm, v, win.ldt);
			if (!rm)
				return COL_ENOMEM;
			store_mutation_delete_partition(rm, win.ts);
		}
	}
	pm->vp = vp;
	int rc = merge_range_tombstones(pm);
	if (rc)
		return rc;
	/* its rows, in clustering order */
	size_t ri[SP_MAX_REPLICAS] = {0};
	for (;;) {
		const struct rres_row *first = NULL;
		size_t rsrc = 0;
		for (size_t v = 0; v < pm->k; v++) {
			if (!vp[v] || ri[v] >= vp[v]->n_rows)
				continue;
			const struct rres *d = &r->tgt[v].dec;
			const struct rres_row *row = &d->rows[vp[v]->row_at + ri[v]];
			if (!first || sp_row_cmp(r, d, row, &r->tgt[rsrc].dec, first) < 0) {
				first = row;
				rsrc = v;
			}
		}
		if (!first)
			return 0;
		const struct rres_row *vr[SP_MAX_REPLICAS];
		for (size_t v = 0; v < pm->k; v++) {
			vr[v] = NULL;
			if (!vp[v] || ri[v] >= vp[v]->n_rows)
				continue;
			const struct rres *d = &r->tgt[v].dec;
			const struct rres_row *row = &d->rows[vp[v]->row_at + ri[v]];
			if (sp_row_cmp(r, d, row, &r->tgt[rsrc].dec, first) == 0) {
				vr[v] = row;
				ri[v]++;
			}
		}
		rc = merge_row(pm, vr, rsrc);
		if (rc)
			return rc;
	}
}

/* The merged row's deletion (unless the partition's hides it) and its repairs. */
static int merge_row_deletion(struct part_merge *pm, const struct rres_row *const *vr, size_t mri)
{
	struct store_cell_version have[SP_MAX_REPLICAS], win = {0};
	bool any = false;
	for (size_t v = 0; v < pm->k; v++) {
		if (!vr[v] || !vr[v]->has_del)
			continue;
		have[v] = deletion_version(vr[v]->del_ts, vr[v]->del_ldt);
		if (!any || store_cell_reconcile(&have[v], &win) > 0)
			win = have[v];
		any = true;
	}
	if (!any)
		return 0;
	struct rres_row *mr = &pm->r->merged.rows[mri];
	mr->has_del = true;
	mr->del_ts = win.ts;
	mr->del_ldt = win.ldt;
	if (win.ts <= pm->pdel)
		return 0; /* the partition deletion, which every replica now gets, hides it */
	size_t n_ck;
	const struct store_value *ck = merged_ck(pm, mri, &n_ck);
	for (size_t v = 0; v < pm->k; v++) {
		if (!stale(vr[v] && vr[v]->has_del ? &have[v] : NULL, &win))
			continue;
		struct store_mutation *rm = repair_of(pm, v, win.ldt);
		if (!rm)
			return COL_ENOMEM;
		store_mutation_delete_row(rm, ck, n_ck, win.ts);
	}
	return 0;
}

/* The merged row's marker (unless a deletion hides it) and its repairs. */
static int merge_row_marker(struct part_merge *pm, const struct rres_row *const *vr, size_t mri,
                            int64_t del)
{
	struct store_cell_version have[SP_MAX_REPLICAS], win = {0};
	bool any = false;
	for (size_t v = 0; v < pm->k; v++) {
		if (!vr[v] || !vr[v]->has_marker)
			continue;
		have[v] = marker_version(vr[v]);
		if (!any || store_cell_reconcile(&have[v], &win) > 0)
			win = have[v];
		any = true;
	}
	struct rres_row *mr = &pm->r->merged.rows[mri];
	if (!any || win.ts <= del || mr->is_static)
		return 0;
	mr->has_marker = true;
	mr->marker_ts = win.ts;
	mr->marker_ttl = win.ttl;
	mr->marker_exp = win.ldt;
	size_t n_ck;
	const struct store_value *ck = merged_ck(pm, mri, &n_ck);
	for (size_t v = 0; v < pm->k; v++) {
		if (!stale(vr[v] && vr[v]->has_marker ? &have[v] : NULL, &win))
			continue;
		struct store_mutation *rm = repair_of(pm, v, version_now(&win));
		if (!rm)
			return COL_ENOMEM;
		store_mutation_row_marker(rm, ck, n_ck, win.ts, win.ttl);
	}
	return 0;
}

/* Merge one row's versions (vr[v]: replica v's, or NULL); src holds its clustering. */
static int merge_row(struct part_merge *pm, const struct rres_row *const *vr, size_t src)
{
	struct sp_read *r = pm->r;
	struct rres *m = &r->merged;
	const struct rres_row *sr = vr[src];
	struct rres_row *mr = rres_add_row(m);
	if (!mr)
		return COL_ENOMEM;
	struct row_shadow sh = {.mri = m->n_rows - 1, .coldel_col = UINT32_MAX};
	m->parts[pm->mpi].n_rows++;
	mr->is_static = sr->is_static;
	mr->n_ck = sr->n_ck;
	mr->ck_at = m->n_vals;
	for (size_t i = 0; i < sr->n_ck; i++) {
		struct store_value *val = rres_add_val(m);
		if (!val)
			return COL_ENOMEM;
		*val = r->tgt[src].dec.vals[sr->ck_at + i];
	}
	int rc = merge_row_deletion(pm, vr, sh.mri);
	if (rc)
		return rc;
	mr = &m->rows[sh.mri];
	sh.del = mr->has_del && mr->del_ts > pm->pdel ? mr->del_ts : pm->pdel;
	int64_t rdel = rt_shadow(pm, sh.mri);
	if (rdel > sh.del)
		sh.del = rdel;
	rc = merge_row_marker(pm, vr, sh.mri, sh.del);
	if (rc)
		return rc;
	/* its cells, in column (then path) order */
	mr->cell_at = m->n_cells;
	mr->n_cells = 0;
	size_t ci[SP_MAX_REPLICAS] = {0};
	for (;;) {
		const struct rres_cell *first = NULL;
		for (size_t v = 0; v < pm->k; v++) {
			if (!vr[v] || ci[v] >= vr[v]->n_cells)
				continue;
			const struct rres_cell *c = &r->tgt[v].dec.cells[vr[v]->cell_at + ci[v]];
			if (!first || cell_key_cmp(r, c, first) < 0)
				first = c;
		}
		if (!first)
			return 0;
		const struct rres_cell *vc[SP_MAX_REPLICAS];
		for (size_t v = 0; v < pm->k; v++) {
			vc[v] = NULL;
			if (!vr[v] || ci[v] >= vr[v]->n_cells)
				continue;
			const struct rres_cell *c = &r->tgt[v].dec.cells[vr[v]->cell_at + ci[v]];
			if (cell_key_cmp(r, c, first) == 0) {
				vc[v] = c;
				ci[v]++;
			}
		}
		rc = merge_cell(pm, &sh, vc);
		if (rc)
			return rc;
	}
}

/* Merge one cell's versions (vc[v]: replica v's, or NULL): the winner, unless shadowed. */
static int merge_cell(struct part_merge *pm, struct row_shadow *sh,
                      const struct rres_cell *const *vc)
{
	struct store_cell_version have[SP_MAX_REPLICAS], win = {0};
	const struct rres_cell *wc = NULL;
	for (size_t v = 0; v < pm->k; v++) {
		if (!vc[v])
			continue;
		have[v] = cell_version(vc[v]);
		if (!wc || store_cell_reconcile(&have[v], &win) > 0) {
			win = have[v];
			wc = vc[v];
		}
	}
	if (win.ts <= sh->del)
		return 0; /* a row or partition deletion hides it */
	if (!wc->path && wc->tombstone) {
		sh->coldel_col = wc->col; /* a whole-collection deletion: hides older elements */
		sh->coldel_ts = wc->ts;
	} else if (wc->path && wc->col == sh->coldel_col && wc->ts <= sh->coldel_ts) {
		return 0;
	}
	struct rres *m = &pm->r->merged;
	struct rres_cell *mc = rres_add_cell(m);
	if (!mc)
		return COL_ENOMEM;
	*mc = *wc;
	m->rows[sh->mri].n_cells++;
	size_t n_ck;
	const struct store_value *ck = merged_ck(pm, sh->mri, &n_ck);
	struct store_value path = {wc->path, wc->path_len};
	const struct store_value *pp = wc->path ? &path : NULL;
	for (size_t v = 0; v < pm->k; v++) {
		if (!stale(vc[v] ? &have[v] : NULL, &win))
			continue;
		struct store_mutation *rm = repair_of(pm, v, version_now(&win));
		if (!rm)
			return COL_ENOMEM;
		if (win.tombstone)
			store_mutation_delete_cell(rm, ck, n_ck, wc->col, pp, win.ts);
		else
			store_mutation_set_cell(rm, ck, n_ck, wc->col, pp, win.value, win.value_len,
			                        win.ts, win.ttl);
	}
	return 0;
}

/* This node's replica could not take its repair: the read fails, Overloaded when the
 * store refused it for a RocksDB stall or a full write queue. */
static void repair_local_failed(struct sp_read *r, int rc, const char *why)
{
	char msg[CERR_MSG_MAX + 64];
	snprintf(msg, sizeof(msg), "read repair of this node's replica failed: %.400s", why);
	trace_event(r->trace, "Read repair of this node's replica failed: %s", why);
	sp_read_answer(r, rc == COL_EOVERLOADED ? COL_EOVERLOADED : COL_EIO, msg);
}

/* The lane wrote (or refused) this node's repair: the read goes on as it does on a remote
 * replica's acknowledgement (sp_read_rsp). */
static void repair_local_done(void *ctx, int rc, const struct cerr *e)
{
	struct sp_target *c = ctx;
	struct sp_read *r = c->req;
	r->pending_cbs--;
	if (!r->answered && sp_topo_use(r->sp, r->ring) != 0)
		sp_read_answer(r, COL_ENOMEM, "out of memory building the ring cache");
	if (r->answered) {
		trace_event(r->trace, "Read repair %s locally after the answer",
		            rc == 0 ? "applied" : "failed");
	} else if (rc != 0) {
		repair_local_failed(r, rc, e ? e->msg : col_strerror(rc));
	} else {
		trace_event(r->trace, "Read repair applied locally");
		r->repair_pending--;
		sp_read_progress(r);
	}
	sp_read_maybe_release(r);
}

/*
 * Apply x, the repair of this node's own replica.  Through the loop's group-commit lane
 * when it has one, and the read waits for it as for a remote replica's acknowledgement: a
 * RocksDB write stall then holds the store's writer thread, never the loop (with gossip on
 * the main loop, a loop held for a stall has the node convicted by its peers).  Without a
 * lane (tests), at once.  0, or the read is answered with the failure.
 */
static int repair_local(struct sp_read *r, struct rmut *x)
{
	struct storage_proxy *sp = r->sp;
	struct rtarget *t = &r->tgt[x->t];
	struct cerr e = {0};
	int rc;
	if (sp->cfg.lane) {
		t->cb = t->abandoned == 1 ? &r->cbs2[x->t] : &r->cbs[x->t];
		t->cb->req = r;
		t->cb->i = (uint32_t)x->t;
		rc = store_lane_apply(sp->cfg.lane, &x->m, repair_local_done, t->cb, &e);
		if (rc == 0) {
			r->pending_cbs++;
			r->repair_pending++;
			return 0;
		}
	} else {
		rc = store_apply(sp->store, &x->m, &e);
		if (rc == 0) {
			trace_event(r->trace, "Read repair applied locally");
			return 0;
		}
	}
	repair_local_failed(r, rc, e.msg);
	return rc;
}

/* Send the repair mutations; this node's own goes to its lane (repair_local). */
void sp_read_repair_send(struct sp_read *r)
{
	struct storage_proxy *sp = r->sp;
	r->phase = PH_REPAIR;
	r->repair_pending = 0;
	for (size_t i = 0; i < r->n_rmuts; i++) {
		if (!r->rmuts[i].m.error)
			continue;
		/* a value a replica sent does not fit its column: repair nothing */
		char msg[CERR_MSG_MAX + 64];
		snprintf(msg, sizeof(msg), "read repair could not be built: %.400s",
		         r->rmuts[i].m.err.msg);
		sp_read_answer(r, COL_EIO, msg);
		return;
	}
	for (size_t i = 0; i < r->n_rmuts; i++) {
		struct rmut *x = &r->rmuts[i];
		struct rtarget *t = &r->tgt[x->t];
		sp->stats.read_repairs++;
		if ((long)t->node == sp->t->self) {
			if (repair_local(r, x) != 0)
				return;
			continue;
		}
		size_t len;
		const uint8_t *bytes = store_mutation_bytes(&x->m, &len);
		struct msg_out o;
		/* the slot's context a speculation did not leave in flight */
		t->cb = t->abandoned == 1 ? &r->cbs2[x->t] : &r->cbs[x->t];
		t->cb->req = r;
		t->cb->i = (uint32_t)x->t;
		int rc = messaging_begin_request(sp->msg, &sp->t->addrs[t->node], VERB_MUTATION,
		                                 sp->cfg.write_timeout_ms, sp_read_rsp, t->cb, &o);
		if (rc == 0) {
			verbs_put_mutation(o.b, bytes, len, 0, NULL, 0,
			                   r->trace ? trace_session_id(r->trace) : NULL);
			rc = messaging_commit(&o);
		}
		if (rc == 0)
			trace_event(r->trace, "Sending read repair MUTATION message to /%s",
			            sp_node_name(r->ring, t->node));
		if (rc != 0) {
			char msg[200];
			snprintf(msg, sizeof(msg),
			         "read repair of replica %s could not be sent: %s",
			         ring_node_at(r->ring, t->node)->address, col_strerror(rc));
			sp_read_answer(r, COL_EIO, msg);
			return;
		}
		r->pending_cbs++;
		r->repair_pending++;
	}
	sp_read_progress(r);
}
