/*
 * storage_proxy_resolve.c — resolution of the replicas' answers: their
 * versions merged partition by partition, row by row and cell by cell, and
 * the read-repair mutations that bring each stale replica to the merged state.
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

/* The storage merge's order (storage.h RECONCILE): > 0 when a wins over b. */
static int cell_reconcile(const struct rres_cell *a, const struct rres_cell *b)
{
	if (a->ts != b->ts)
		return a->ts > b->ts ? 1 : -1;
	int ra = a->tombstone ? 2 : a->ttl ? 1 : 0, rb = b->tombstone ? 2 : b->ttl ? 1 : 0;
	if (ra != rb)
		return ra > rb ? 1 : -1;
	if (a->exp != b->exp)
		return a->exp > b->exp ? 1 : -1;
	return bytes_cmp(a->value ? a->value : (const uint8_t *)"", a->value_len,
	                 b->value ? b->value : (const uint8_t *)"", b->value_len);
}

static bool cell_same(const struct rres_cell *a, const struct rres_cell *b)
{
	return a->ts == b->ts && a->tombstone == b->tombstone && a->ttl == b->ttl &&
	       a->exp == b->exp && a->value_len == b->value_len &&
	       (a->value_len == 0 || memcmp(a->value, b->value, a->value_len) == 0);
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

int sp_resolve(struct sp_read *r)
{
	size_t k = r->n_tgt;
	struct rres *m = &r->merged;
	rres_reset(m);
	sp_read_release_muts(r);
	struct cerr e = {0};
	for (size_t v = 0; v < k; v++) {
		rres_reset(&r->tgt[v].dec);
		if (rres_decode(&r->tgt[v].dec, r->tgt[v].data.data, r->tgt[v].data.len, &e) != 0)
			return e.code;
	}
	sp_read_horizon(r, r->n_tgt);
	size_t pi[SP_MAX_REPLICAS] = {0};
	for (;;) {
		/* smallest partition among the versions */
		const struct rres_part *best = NULL;
		size_t bv = 0;
		for (size_t v = 0; v < k; v++) {
			struct rres *d = &r->tgt[v].dec;
			if (pi[v] >= d->n_parts)
				continue;
			if (!best || sp_part_cmp(&d->parts[pi[v]], best) < 0) {
				best = &d->parts[pi[v]];
				bv = v;
			}
		}
		if (!best)
			break;
		const struct rres_part *vp[SP_MAX_REPLICAS];
		for (size_t v = 0; v < k; v++) {
			struct rres *d = &r->tgt[v].dec;
			vp[v] = (pi[v] < d->n_parts && sp_part_cmp(&d->parts[pi[v]], best) == 0)
			                ? &d->parts[pi[v]]
			                : NULL;
		}
		(void)bv;
		struct rres_part *mp = rres_add_part(m);
		if (!mp)
			return COL_ENOMEM;
		size_t mpi = m->n_parts - 1;
		*mp = *best;
		mp->pk_at = m->n_vals;
		mp->row_at = m->n_rows;
		mp->n_rows = 0;
		mp->has_del = false;
		for (size_t i = 0; i < best->n_pk; i++) {
			struct store_value *sv = rres_add_val(m);
			if (!sv)
				return COL_ENOMEM;
			mp = &m->parts[mpi];
			*sv = r->tgt[bv].dec.vals[best->pk_at + i];
		}
		for (size_t v = 0; v < k; v++) {
			if (vp[v] && vp[v]->has_del &&
			    (!mp->has_del || vp[v]->del_ts > mp->del_ts ||
			     (vp[v]->del_ts == mp->del_ts && vp[v]->del_ldt > mp->del_ldt))) {
				mp->has_del = true;
				mp->del_ts = vp[v]->del_ts;
				mp->del_ldt = vp[v]->del_ldt;
			}
		}
		for (size_t v = 0; v < k; v++) {
			if (!mp->has_del)
				break;
			if (vp[v] && vp[v]->has_del && vp[v]->del_ts == mp->del_ts)
				continue;
			struct store_mutation *rm = rmut_for(r, v, mpi, mp->del_ldt, mp);
			if (!rm)
				return COL_ENOMEM;
			mp = &m->parts[mpi];
			store_mutation_delete_partition(rm, mp->del_ts);
		}
		int64_t pdel = mp->has_del ? mp->del_ts : INT64_MIN;
		/* rows */
		size_t ri[SP_MAX_REPLICAS] = {0};
		for (;;) {
			const struct rres_row *brow = NULL;
			size_t brv = 0;
			for (size_t v = 0; v < k; v++) {
				if (!vp[v] || ri[v] >= vp[v]->n_rows)
					continue;
				const struct rres *d = &r->tgt[v].dec;
				const struct rres_row *row = &d->rows[vp[v]->row_at + ri[v]];
				if (!brow || sp_row_cmp(r, d, row, &r->tgt[brv].dec, brow) < 0) {
					brow = row;
					brv = v;
				}
			}
			if (!brow)
				break;
			const struct rres_row *vr[SP_MAX_REPLICAS];
			for (size_t v = 0; v < k; v++) {
				vr[v] = NULL;
				if (!vp[v] || ri[v] >= vp[v]->n_rows)
					continue;
				const struct rres *d = &r->tgt[v].dec;
				const struct rres_row *row = &d->rows[vp[v]->row_at + ri[v]];
				if (sp_row_cmp(r, d, row, &r->tgt[brv].dec, brow) == 0) {
					vr[v] = row;
					ri[v]++;
				}
			}
			struct rres_row *mr = rres_add_row(m);
			if (!mr)
				return COL_ENOMEM;
			size_t mri = m->n_rows - 1;
			m->parts[mpi].n_rows++;
			mr->is_static = brow->is_static;
			mr->n_ck = brow->n_ck;
			mr->ck_at = m->n_vals;
			for (size_t i = 0; i < brow->n_ck; i++) {
				struct store_value *sv = rres_add_val(m);
				if (!sv)
					return COL_ENOMEM;
				*sv = r->tgt[brv].dec.vals[brow->ck_at + i];
			}
			mr = &m->rows[mri];
			/* row deletion, marker */
			for (size_t v = 0; v < k; v++) {
				const struct rres_row *x = vr[v];
				if (!x)
					continue;
				if (x->has_del &&
				    (!mr->has_del || x->del_ts > mr->del_ts ||
				     (x->del_ts == mr->del_ts && x->del_ldt > mr->del_ldt))) {
					mr->has_del = true;
					mr->del_ts = x->del_ts;
					mr->del_ldt = x->del_ldt;
				}
				if (x->has_marker &&
				    (!mr->has_marker || x->marker_ts > mr->marker_ts ||
				     (x->marker_ts == mr->marker_ts &&
				      x->marker_exp > mr->marker_exp))) {
					mr->has_marker = true;
					mr->marker_ts = x->marker_ts;
					mr->marker_ttl = x->marker_ttl;
					mr->marker_exp = x->marker_exp;
				}
			}
			int64_t del = pdel;
			if (mr->has_del && mr->del_ts > del)
				del = mr->del_ts;
			if (mr->has_marker && mr->marker_ts <= del)
				mr->has_marker = false;
			const struct store_value *ck = mr->is_static ? NULL : &m->vals[mr->ck_at];
			size_t n_ck = mr->is_static ? 0 : mr->n_ck;
			for (size_t v = 0; v < k; v++) {
				const struct rres_row *x = vr[v];
				if (mr->has_del && mr->del_ts > pdel &&
				    !(x && x->has_del && x->del_ts == mr->del_ts)) {
					struct store_mutation *rm =
					        rmut_for(r, v, mpi, mr->del_ldt, &m->parts[mpi]);
					if (!rm)
						return COL_ENOMEM;
					store_mutation_delete_row(rm, ck, n_ck, mr->del_ts);
				}
				if (mr->has_marker && !mr->is_static &&
				    !(x && x->has_marker && x->marker_ts == mr->marker_ts &&
				      x->marker_exp == mr->marker_exp)) {
					int64_t ns = mr->marker_ttl
					                     ? mr->marker_exp - mr->marker_ttl
					                     : 0;
					struct store_mutation *rm =
					        rmut_for(r, v, mpi, ns, &m->parts[mpi]);
					if (!rm)
						return COL_ENOMEM;
					store_mutation_row_marker(rm, ck, n_ck, mr->marker_ts,
					                          mr->marker_ttl);
				}
			}
			/* cells */
			mr->cell_at = m->n_cells;
			mr->n_cells = 0;
			size_t ci[SP_MAX_REPLICAS] = {0};
			uint32_t coldel_col = UINT32_MAX;
			int64_t coldel_ts = INT64_MIN;
			for (;;) {
				const struct rres_cell *bc = NULL;
				for (size_t v = 0; v < k; v++) {
					if (!vr[v] || ci[v] >= vr[v]->n_cells)
						continue;
					const struct rres_cell *c =
					        &r->tgt[v].dec.cells[vr[v]->cell_at + ci[v]];
					if (!bc || cell_key_cmp(r, c, bc) < 0)
						bc = c;
				}
				if (!bc)
					break;
				const struct rres_cell *vc[SP_MAX_REPLICAS];
				const struct rres_cell *win = NULL;
				for (size_t v = 0; v < k; v++) {
					vc[v] = NULL;
					if (!vr[v] || ci[v] >= vr[v]->n_cells)
						continue;
					const struct rres_cell *c =
					        &r->tgt[v].dec.cells[vr[v]->cell_at + ci[v]];
					if (cell_key_cmp(r, c, bc) != 0)
						continue;
					vc[v] = c;
					ci[v]++;
					if (!win || cell_reconcile(c, win) > 0)
						win = c;
				}
				if (win->ts <= del)
					continue;
				if (!win->path && win->tombstone) {
					coldel_col = win->col;
					coldel_ts = win->ts;
				} else if (win->path && win->col == coldel_col &&
				           win->ts <= coldel_ts) {
					continue;
				}
				struct rres_cell *mc = rres_add_cell(m);
				if (!mc)
					return COL_ENOMEM;
				*mc = *win;
				m->rows[mri].n_cells++;
				for (size_t v = 0; v < k; v++) {
					if (vc[v] && cell_same(vc[v], win))
						continue;
					struct store_value path = {win->path, win->path_len};
					const struct store_value *pp = win->path ? &path : NULL;
					int64_t ns = win->tombstone ? win->exp
					             : win->ttl     ? win->exp - win->ttl
					                            : 0;
					struct store_mutation *rm =
					        rmut_for(r, v, mpi, ns, &m->parts[mpi]);
					if (!rm)
						return COL_ENOMEM;
					if (win->tombstone)
						store_mutation_delete_cell(rm, ck, n_ck, win->col,
						                           pp, win->ts);
					else
						store_mutation_set_cell(rm, ck, n_ck, win->col, pp,
						                        win->value, win->value_len,
						                        win->ts, win->ttl);
				}
			}
		}
		for (size_t v = 0; v < k; v++)
			if (vp[v])
				pi[v]++;
	}
	return 0;
}

/* Send the repair mutations; local ones are applied at once. */
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
			struct cerr e = {0};
			if (store_apply(sp->store, &x->m, &e) != 0) {
				sp_read_answer(r, COL_EIO, e.msg);
				return;
			}
			continue;
		}
		size_t len;
		const uint8_t *bytes = store_mutation_bytes(&x->m, &len);
		struct msg_out o;
		r->cbs[x->t].req = r;
		r->cbs[x->t].i = (uint32_t)x->t;
		int rc = messaging_begin_request(sp->msg, &sp->t->addrs[t->node], VERB_MUTATION,
		                                 sp->cfg.write_timeout_ms, sp_read_rsp,
		                                 &r->cbs[x->t], &o);
		if (rc == 0) {
			verbs_put_mutation(o.b, bytes, len, 0, NULL, 0);
			rc = messaging_commit(&o);
		}
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
