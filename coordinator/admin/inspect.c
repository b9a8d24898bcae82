/*
 * inspect.c — getendpoints and dump (inspect.h).
 */
#include "coordinator/admin/inspect.h"

#include "coordinator/admin/admin.h"
#include "coordinator/schema/schema.h"
#include "core/buf.h"
#include "core/cqltype.h"
#include "core/hex.h"
#include "core/ring.h"
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- query parameters ----------------------------------------------------------------------- */

int inspect_query_param(const char *query, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = query ? query : "";
	while (*p) {
		const char *end = strchr(p, '&');
		if (!end)
			end = p + strlen(p);
		if ((size_t)(end - p) >= nl && !memcmp(p, name, nl) &&
		    (p[nl] == '=' || p + nl == end)) {
			const char *v = p + nl + (p[nl] == '=' ? 1 : 0);
			size_t o = 0;
			while (v < end) {
				char c = *v++;
				if (c == '+') {
					c = ' ';
				} else if (c == '%') {
					int h = end - v >= 2 ? hex_digit(v[0]) : -1;
					int l = h >= 0 ? hex_digit(v[1]) : -1;
					if (l < 0)
						return COL_EINVAL;
					c = (char)(h * 16 + l);
					v += 2;
				}
				if (o + 1 >= cap)
					return COL_EINVAL;
				out[o++] = c;
			}
			out[o] = 0;
			return 0;
		}
		p = *end ? end + 1 : end;
	}
	return COL_ENOTFOUND;
}

/* ---- keys ----------------------------------------------------------------------------------- */

static bool all_digits(const char *s, size_t n)
{
	size_t i = (n && s[0] == '-') ? 1 : 0;
	if (i == n)
		return false;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Convert one component's text to native bytes appended to out. */
static int key_component(const struct schema_column *c, const char *s, size_t n, struct buf *out,
                         struct cerr *err)
{
	const struct cqltype *t = c->type;
	enum cqllit_kind kind;
	struct buf hex;
	buf_init(&hex);
	switch (t->kind) {
	case CQLTYPE_ASCII:
	case CQLTYPE_VARCHAR:
	case CQLTYPE_INET:
	case CQLTYPE_DATE:
	case CQLTYPE_TIME: kind = CQLLIT_STRING; break;
	case CQLTYPE_TIMESTAMP: kind = all_digits(s, n) ? CQLLIT_INTEGER : CQLLIT_STRING; break;
	case CQLTYPE_BIGINT:
	case CQLTYPE_INT:
	case CQLTYPE_SMALLINT:
	case CQLTYPE_TINYINT:
	case CQLTYPE_VARINT: kind = CQLLIT_INTEGER; break;
	case CQLTYPE_FLOAT:
	case CQLTYPE_DOUBLE:
	case CQLTYPE_DECIMAL: kind = all_digits(s, n) ? CQLLIT_INTEGER : CQLLIT_FLOAT; break;
	case CQLTYPE_BOOLEAN: kind = CQLLIT_BOOLEAN; break;
	case CQLTYPE_UUID:
	case CQLTYPE_TIMEUUID: kind = CQLLIT_UUID; break;
	case CQLTYPE_BLOB:
		kind = CQLLIT_HEX;
		if (n < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
			buf_put_str(&hex, "0x");
			buf_put(&hex, s, n);
			if (!buf_ok(&hex)) {
				buf_release(&hex);
				return cerr_set(err, COL_ENOMEM, "out of memory converting a key");
			}
			s = (const char *)hex.data;
			n = hex.len;
		}
		break;
	default: {
		struct buf tn;
		buf_init(&tn);
		cqltype_name(t, &tn);
		buf_put_u8(&tn, 0);
		int rc = cerr_set(
		        err, COL_EINVAL,
		        "partition key column '%s' has type %s, which cannot be given as text",
		        c->name, buf_ok(&tn) ? (const char *)tn.data : "?");
		buf_release(&tn);
		return rc;
	}
	}
	struct cerr e = {0};
	int rc = cqltype_from_literal(t, kind, s, n, out, &e);
	buf_release(&hex);
	if (rc)
		return cerr_set(err, COL_EINVAL, "partition key column '%s': %s", c->name, e.msg);
	return 0;
}

int inspect_key_parse(const struct schema_table *t, const char *text, struct buf *vals,
                      struct store_value *out, size_t cap, size_t *n, struct cerr *err)
{
	if (t->n_pk > cap)
		return cerr_set(err, COL_EINVAL,
		                "table '%s' has %u partition key columns (max %zu)", t->name,
		                t->n_pk, cap);
	size_t offs[STORE_MAX_PK_COLS + 1];
	const char *p = text;
	vals->len = 0;
	for (uint32_t i = 0; i < t->n_pk; i++) {
		const char *end = i + 1 < t->n_pk ? strchr(p, ':') : p + strlen(p);
		if (!end)
			return cerr_set(err, COL_EINVAL,
			                "key '%.200s' has %u component(s) but table '%s' has %u "
			                "partition key columns (give them as a:b)",
			                text, i + 1, t->name, t->n_pk);
		if (i + 1 == t->n_pk && t->n_pk > 1 && strchr(p, ':'))
			return cerr_set(err, COL_EINVAL,
			                "key '%.200s' has more components than table '%s' has "
			                "partition key columns (%u)",
			                text, t->name, t->n_pk);
		offs[i] = vals->len;
		int rc = key_component(&t->cols[i], p, (size_t)(end - p), vals, err);
		if (rc)
			return rc;
		p = *end ? end + 1 : end;
	}
	if (!buf_ok(vals))
		return cerr_set(err, COL_ENOMEM, "out of memory converting a key");
	offs[t->n_pk] = vals->len;
	for (uint32_t i = 0; i < t->n_pk; i++) {
		out[i].p = vals->data + offs[i];
		out[i].len = offs[i + 1] - offs[i];
	}
	*n = t->n_pk;
	return 0;
}

/* Find the table, parse the key, compute the token.  HTTP status. */
static int locate(const struct schema_snap *snap, const char *ks, const char *table,
                  const char *key, const struct schema_table **tout, struct buf *vals,
                  struct store_value *pk, size_t *n_pk, int64_t *token, struct cerr *err)
{
	const struct schema_keyspace *k = schema_snap_keyspace(snap, ks);
	if (!k) {
		cerr_set(err, COL_ENOTFOUND, "keyspace '%.100s' does not exist", ks);
		return 404;
	}
	const struct schema_table *t = schema_keyspace_table(k, table);
	if (!t) {
		cerr_set(err, COL_ENOTFOUND, "table '%.100s.%.100s' does not exist", ks, table);
		return 404;
	}
	if (!t->st) {
		cerr_set(err, COL_EINVAL, "table '%.100s.%.100s' is virtual: it has no stored data",
		         ks, table);
		return 400;
	}
	if (inspect_key_parse(t, key, vals, pk, STORE_MAX_PK_COLS, n_pk, err))
		return 400;
	if (store_partition_token(t->st, pk, *n_pk, token, err))
		return 400;
	*tout = t;
	return 200;
}

/* Open an answer about one partition: {"keyspace", "table", "key", "token", ... */
static void answer_begin(struct jw *w, struct buf *out, const char *ks, const char *table,
                         const char *key, int64_t token)
{
	jw_init(w, out);
	jw_obj(w);
	jw_key(w, "keyspace");
	jw_str(w, ks);
	jw_key(w, "table");
	jw_str(w, table);
	jw_key(w, "key");
	jw_str(w, key);
	jw_key(w, "token");
	jw_int(w, token);
}

/* ---- endpoints ------------------------------------------------------------------------------ */

int inspect_endpoints(const struct schema_snap *snap, const struct ring *ring,
                      const char *local_addr, const char *ks, const char *table, const char *key,
                      struct buf *out, struct cerr *err)
{
	const struct schema_table *t = NULL;
	struct store_value pk[STORE_MAX_PK_COLS];
	size_t n_pk = 0;
	int64_t token = 0;
	struct buf vals;
	buf_init(&vals);
	int st = locate(snap, ks, table, key, &t, &vals, pk, &n_pk, &token, err);
	buf_release(&vals);
	if (st != 200)
		return st;
	struct replication rep;
	if (replication_parse((const char *const *)t->ks->repl_keys,
	                      (const char *const *)t->ks->repl_vals, t->ks->n_repl, &rep, err))
		return 500;
	uint32_t idx[RING_MAX_DCS * RING_MAX_RF];
	size_t n = 0;
	if (rep.cls != REPL_LOCAL) {
		if (!ring) {
			cerr_set(err, COL_EAGAIN, "this node has no ring yet (still starting)");
			return 503;
		}
		n = ring_replicas(ring, &rep, token, idx, sizeof(idx) / sizeof(idx[0]));
	}
	struct jw w;
	answer_begin(&w, out, ks, table, key, token);
	jw_key(&w, "endpoints");
	jw_arr(&w);
	if (rep.cls == REPL_LOCAL)
		jw_str(&w, local_addr);
	for (size_t i = 0; i < n; i++)
		jw_str(&w, ring_node_at(ring, idx[i])->address);
	jw_arr_end(&w);
	jw_obj_end(&w);
	return 200;
}

/* ---- dump ----------------------------------------------------------------------------------- */

struct dump {
	const struct schema_table *t;
	struct jw *w;
	size_t rows;
	bool truncated;
	struct buf tmp;
};

static void put_formatted(struct jw *w, struct buf *tmp, const struct cqltype *t, const void *p,
                          size_t len)
{
	tmp->len = 0;
	cqltype_format(t, p, len, tmp);
	if (buf_ok(tmp))
		jw_strn(w, (const char *)tmp->data, tmp->len);
	else
		jw_null(w);
}

static void put_deletion(struct jw *w, int64_t ts, int64_t ldt)
{
	jw_obj(w);
	jw_key(w, "tstamp");
	jw_int(w, ts);
	jw_key(w, "local_delete_time");
	jw_int(w, ldt);
	jw_obj_end(w);
}

/* The liveness fields a row marker and a cell share (sstabledump's names). */
static void put_liveness(struct jw *w, int64_t ts, int64_t ttl, int64_t expiry_s)
{
	jw_key(w, "tstamp");
	jw_int(w, ts);
	jw_key(w, "ttl");
	jw_int(w, ttl);
	jw_key(w, "expires_at");
	jw_int(w, expiry_s);
}

static const struct schema_column *column_by_id(const struct schema_table *t, uint32_t id)
{
	for (uint32_t i = 0; i < t->n_cols; i++)
		if (t->cols[i].id == id && t->cols[i].kind >= SCHEMA_COL_REGULAR)
			return &t->cols[i];
	return NULL;
}

/* The types of a non-frozen collection's or user type's cell's path and value. */
static void cell_types(const struct cqltype *ct, const struct store_cell *c,
                       const struct cqltype **path_t, const struct cqltype **val_t)
{
	*path_t = NULL;
	*val_t = ct;
	if (!c->path || !cqltype_is_multicell(ct))
		return;
	switch (ct->kind) {
	case CQLTYPE_UDT: /* the path is the field's index */
		*path_t = cqltype_simple(CQLTYPE_SMALLINT);
		*val_t = c->path_len == 2 && be16_load(c->path) < ct->n_fields
		                 ? ct->fields[be16_load(c->path)]
		                 : cqltype_simple(CQLTYPE_BLOB);
		break;
	case CQLTYPE_SET:
		*path_t = ct->elem;
		*val_t = NULL; /* set cells carry no value */
		break;
	case CQLTYPE_MAP:
		*path_t = ct->elem;
		*val_t = ct->value;
		break;
	default: /* list: the path is the element's timeuuid */
		*path_t = cqltype_simple(CQLTYPE_TIMEUUID);
		*val_t = ct->elem;
		break;
	}
}

static int dump_row(void *ctx, const struct store_partition *p, const struct store_row *r)
{
	(void)p;
	struct dump *d = ctx;
	struct jw *w = d->w;
	/* a row whose every piece a newer tombstone shadows is not there once compacted:
	 * not shown, so replicas holding the same data dump the same bytes */
	if (!r->has_marker && r->deletion.ts == INT64_MIN && r->n_cells == 0)
		return 0;
	if (d->rows >= INSPECT_MAX_ROWS) {
		d->truncated = true;
		return 1;
	}
	d->rows++;
	jw_obj(w);
	jw_key(w, "type");
	jw_str(w, r->is_static ? "static" : "row");
	jw_key(w, "clustering");
	jw_arr(w);
	for (size_t i = 0; i < r->n_ck && i < d->t->n_ck; i++)
		put_formatted(w, &d->tmp, d->t->cols[d->t->n_pk + i].type, r->ck[i].p,
		              r->ck[i].len);
	jw_arr_end(w);
	jw_key(w, "liveness_info");
	if (r->has_marker) {
		jw_obj(w);
		put_liveness(w, r->marker_ts, r->marker_ttl, r->marker_expiry_s);
		jw_obj_end(w);
	} else {
		jw_null(w);
	}
	jw_key(w, "deletion_info");
	if (r->deletion.ts != INT64_MIN)
		put_deletion(w, r->deletion.ts, r->deletion.ldt);
	else
		jw_null(w);
	jw_key(w, "cells");
	jw_arr(w);
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct store_cell *c = &r->cells[i];
		const struct schema_column *col = column_by_id(d->t, c->col);
		const struct cqltype *pt = NULL, *vt = NULL;
		if (col)
			cell_types(col->type, c, &pt, &vt);
		jw_obj(w);
		jw_key(w, "name");
		if (col) {
			jw_str(w, col->name);
		} else {
			char nm[24];
			snprintf(nm, sizeof(nm), "#%u", c->col);
			jw_str(w, nm);
		}
		jw_key(w, "path");
		if (c->path && pt)
			put_formatted(w, &d->tmp, pt, c->path, c->path_len);
		else
			jw_null(w);
		jw_key(w, "value");
		if (!c->tombstone && vt)
			put_formatted(w, &d->tmp, vt, c->value, c->value_len);
		else
			jw_null(w);
		put_liveness(w, c->ts, c->ttl, c->expiry_s);
		jw_key(w, "deleted");
		jw_bool(w, c->tombstone);
		jw_key(w, "local_delete_time");
		jw_int(w, c->tombstone ? c->ldt : 0);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
	return 0;
}

/*
 * Raw pass over the partition's keys (storage.h KEY LAYOUT) for what
 * store_read_partition does not report as rows: the partition tombstone and
 * range tombstones.
 */
struct rawpass {
	const struct schema_table *t;
	const uint8_t *prefix;
	size_t plen;
	bool any;
	int64_t pdel_ts, pdel_ldt;
	struct buf rts; /* JSON of the range tombstones, written by a second jw */
	struct jw w;
	size_t n_rts;
	bool truncated; /* more than INSPECT_MAX_ROWS range tombstones */
	struct buf tmp, comp;
	int bad;
};

/* Tombstone value: flags (bit0), ts i64, ldt u32. */
static bool tomb_value(const uint8_t *v, size_t vl, int64_t *ts, int64_t *ldt)
{
	if (vl < 13 || !(v[0] & 1))
		return false;
	*ts = (int64_t)be64_load(v + 1);
	*ldt = be32_load(v + 9);
	return true;
}

/* One clustering bound: components then 0x00 / 0xFF.  0, or COL_ECORRUPT when it does not decode.
 */
static int put_bound(struct rawpass *rp, struct bufreader *br, bool start)
{
	const struct schema_table *t = rp->t;
	jw_obj(&rp->w);
	jw_key(&rp->w, "clustering");
	jw_arr(&rp->w);
	for (uint32_t i = 0;; i++) {
		if (!bufreader_left(br))
			return COL_ECORRUPT; /* no terminator */
		uint8_t b = br->p[br->pos];
		if (b == 0x00 || b == 0xFF) {
			bufreader_u8(br);
			jw_arr_end(&rp->w);
			jw_key(&rp->w, "inclusive");
			jw_bool(&rp->w, start ? b == 0x00 : b == 0xFF);
			jw_obj_end(&rp->w);
			return 0;
		}
		if (i >= t->n_ck)
			return COL_ECORRUPT; /* more components than the table has */
		const struct schema_column *c = &t->cols[t->n_pk + i];
		rp->comp.len = 0;
		if (cqltype_decode_ordered(c->type, br, c->desc, &rp->comp, NULL))
			return COL_ECORRUPT;
		put_formatted(&rp->w, &rp->tmp, c->type, rp->comp.data, rp->comp.len);
	}
}

static int raw_fn(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct rawpass *rp = ctx;
	if (klen <= rp->plen || memcmp(key, rp->prefix, rp->plen) != 0) {
		/* keys are in order: past our partition we are done */
		return memcmp(key, rp->prefix, klen < rp->plen ? klen : rp->plen) > 0 ? 1 : 0;
	}
	rp->any = true;
	const uint8_t *k = (const uint8_t *)key + rp->plen;
	size_t kl = klen - rp->plen;
	int64_t ts, ldt;
	if (k[0] == 0x00 && kl == 1) {
		if (tomb_value(val, vlen, &ts, &ldt)) {
			rp->pdel_ts = ts;
			rp->pdel_ldt = ldt;
		}
	} else if (k[0] == 0x02) {
		if (!tomb_value(val, vlen, &ts, &ldt))
			return 0;
		if (rp->n_rts >= INSPECT_MAX_ROWS) {
			rp->truncated = true;
			return 0;
		}
		struct bufreader br;
		bufreader_init(&br, k + 1, kl - 1);
		jw_obj(&rp->w);
		jw_key(&rp->w, "start");
		if (put_bound(rp, &br, true) != 0) {
			rp->bad++;
			return 1;
		}
		jw_key(&rp->w, "end");
		if (put_bound(rp, &br, false) != 0) {
			rp->bad++;
			return 1;
		}
		jw_key(&rp->w, "tstamp");
		jw_int(&rp->w, ts);
		jw_key(&rp->w, "local_delete_time");
		jw_int(&rp->w, ldt);
		jw_obj_end(&rp->w);
		rp->n_rts++;
	}
	return 0;
}

int inspect_dump(const struct schema_snap *snap, const char *ks, const char *table, const char *key,
                 int64_t now_s, struct buf *out, struct cerr *err)
{
	const struct schema_table *t = NULL;
	struct store_value pk[STORE_MAX_PK_COLS];
	size_t n_pk = 0;
	int64_t token = 0;
	struct buf vals, skey, prefix;
	buf_init(&vals);
	buf_init(&skey);
	buf_init(&prefix);
	int st = locate(snap, ks, table, key, &t, &vals, pk, &n_pk, &token, err);
	if (st != 200)
		goto done;
	/* The partition prefix: token ^ sign bit, escaped serialized key, 0x00 0x01. */
	st = 400;
	if (store_partition_key(t->st, pk, n_pk, &skey, err))
		goto done;
	buf_put_u64be(&prefix, (uint64_t)token ^ 0x8000000000000000ull);
	for (size_t i = 0; i < skey.len; i++) {
		buf_put_u8(&prefix, skey.data[i]);
		if (skey.data[i] == 0x00)
			buf_put_u8(&prefix, 0xFF);
	}
	buf_put_u8(&prefix, 0x00);
	buf_put_u8(&prefix, 0x01);
	st = 500;
	if (!buf_ok(&prefix) || !buf_ok(&skey)) {
		cerr_set(err, COL_ENOMEM, "out of memory reading a partition");
		goto done;
	}
	struct rawpass rp = {
	        .t = t, .prefix = prefix.data, .plen = prefix.len, .pdel_ts = INT64_MIN};
	buf_init(&rp.rts);
	buf_init(&rp.tmp);
	buf_init(&rp.comp);
	jw_init(&rp.w, &rp.rts);
	jw_arr(&rp.w);
	int64_t start = token == INT64_MIN ? INT64_MAX : token - 1;
	int rc = store_scan_raw(t->st, start, token, raw_fn, &rp, err);
	jw_arr_end(&rp.w);
	buf_release(&rp.tmp);
	buf_release(&rp.comp);
	if (rc < 0 || rp.bad) {
		if (rp.bad)
			cerr_set(err, COL_ECORRUPT,
			         "a range tombstone key of %.100s.%.100s does not decode", ks,
			         table);
		buf_release(&rp.rts);
		goto done;
	}
	struct jw w;
	answer_begin(&w, out, ks, table, key, token);
	struct dump d = {.t = t, .w = &w};
	buf_init(&d.tmp);
	jw_key(&w, "partition_key");
	jw_arr(&w);
	for (size_t i = 0; i < n_pk; i++)
		put_formatted(&w, &d.tmp, t->cols[i].type, pk[i].p, pk[i].len);
	jw_arr_end(&w);
	jw_key(&w, "found");
	jw_bool(&w, rp.any);
	jw_key(&w, "partition_deletion");
	if (rp.pdel_ts != INT64_MIN)
		put_deletion(&w, rp.pdel_ts, rp.pdel_ldt);
	else
		jw_null(&w);
	jw_key(&w, "range_tombstones");
	jw_raw(&w, rp.rts.data, rp.rts.len);
	buf_release(&rp.rts);
	jw_key(&w, "rows");
	jw_arr(&w);
	rc = store_read_partition(t->st, pk, n_pk, NULL, STORE_READ_TOMBSTONES, 0, now_s, dump_row,
	                          &d, err);
	jw_arr_end(&w);
	buf_release(&d.tmp);
	if (rc < 0)
		goto done;
	jw_key(&w, "truncated");
	jw_bool(&w, d.truncated || rp.truncated);
	jw_obj_end(&w);
	st = buf_ok(out) ? 200 : 500;
	if (st != 200)
		cerr_set(err, COL_ENOMEM, "out of memory writing the dump");
done:
	buf_release(&vals);
	buf_release(&skey);
	buf_release(&prefix);
	return st;
}
