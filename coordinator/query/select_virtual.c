#include "coordinator/query/query_int.h"

#include "coordinator/query/systables.h"
#include "core/cqltype.h"

#include <string.h>

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
	size_t at = vs->rows->len;
	for (uint32_t i = 0; i < p->n_sel; i++) {
		const struct cql_slice *v = &values[p->sel[i].col];
		if (p->sel[i].kind != SEL_COLUMN)
			cql_put_bytes(vs->rows, NULL, -1);
		else
			cql_put_bytes(vs->rows, v->p, v->len);
	}
	json_row_rewrite(p, vs->rows, at);
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

int select_virtual(struct xq *q, int64_t limit)
{
	struct exec_req *req = q->req;
	const struct plan *p = q->plan;
	const struct schema_table *t = p->table;
	const struct cql_select *s = &p->stmt->select;
	struct vsel vs = {.q = q, .s = s, .limit = limit};
	for (uint32_t i = 0; i < p->n_sel; i++)
		if ((p->count ? p->sel[i].kind != SEL_COUNT : p->sel[i].kind != SEL_COLUMN) ||
		    p->n_group)
			return req_fail(req, COL_EINVAL,
			                "Only columns, or COUNT(*) alone, can be selected from the "
			                "virtual table %s.%s",
			                p->ks, p->table_name);
	for (uint32_t i = 0; i < s->n_where; i++) {
		const struct cql_relation *r = s->where[i];
		if (r->kind != CQL_REL_COLUMN || (r->op != CQL_OP_EQ && r->op != CQL_OP_IN))
			return req_fail(req, COL_EINVAL,
			                "Only = and IN restrictions are supported on %s.%s", p->ks,
			                p->table_name);
	}
	int rc = analyze_where(q, s->where, s->n_where, &vs.w, false);
	if (rc)
		return rc;
	char ksf[SCHEMA_NAME_MAX + 1], tf[SCHEMA_NAME_MAX + 1];
	const char *ks_filter = NULL, *name_filter = NULL;
	if (strcmp(p->ks, "system_schema") == 0 || strcmp(p->ks, "system_virtual_schema") == 0) {
		ks_filter = text_filter(&vs.w, 0, vs.w.pk_vals[0], vs.w.pk_n[0], ksf, sizeof(ksf));
		if (t->n_ck)
			name_filter = text_filter(&vs.w, 1, vs.w.ck_vals[0], vs.w.ck_n[0], tf,
			                          sizeof(tf));
	}
	struct buf *b = &req->body_out;
	size_t at = begin_rows(b, p, q->skip_metadata, NULL);
	vs.rows = b;
	rc = systables_scan(q->snap, q->ex->d.view, t, ks_filter, name_filter, vrow, &vs);
	if (rc == COL_ENOTFOUND || rc == COL_EINVAL)
		return req_fail(req, COL_EINVAL, "unconfigured table %s", p->table_name);
	if (rc < 0)
		return req_fail(req, rc, "listing %s.%s: %s", p->ks, p->table_name,
		                col_strerror(rc));
	if (p->count) {
		uint8_t cnt[8];
		be64_store(cnt, (uint64_t)vs.nrows);
		size_t row_at = b->len;
		cql_put_bytes(b, cnt, 8);
		json_row_rewrite(p, b, row_at);
		vs.nrows = 1;
	}
	buf_patch_u32be(b, at, (uint32_t)vs.nrows);
	return 0;
}
