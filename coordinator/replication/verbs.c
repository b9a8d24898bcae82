/*
 * verbs.c — replica-side MUTATION and READ handlers, cross-DC forwarding, and
 * the READ RESULT codec.  Formats: verbs.h.
 */
#include "coordinator/replication/verbs.h"
#include "coordinator/tracing/trace.h"

#include "core/array.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/msgpk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* A forwarded mutation in flight to one peer; recycled through a free list. */
struct fwd {
	struct verbs *v;
	struct net_addr coordinator;
	uint64_t write_id;
	uint32_t slot;
	struct net_addr peer;
	struct buf mut; /* the mutation, kept to hint the peer (only with a hint sink) */
	size_t charged; /* of it, charged to the loop's byte budget */
	struct fwd *next_free;
};

struct verbs {
	struct messaging *msg;
	struct store *store;
	struct store_lane *lane;
	unsigned forward_timeout_ms;
	int64_t mutation_shed_us, read_shed_us; /* 0: never shed */
	unsigned max_forwards;
	unsigned forwards_in_flight;
	struct fwd *free_fwds;
	verbs_alive_fn peer_alive;
	verbs_hint_fn hint;
	void *hint_ctx;
	struct admit_bytes *bytes;
	const struct trace_sink *tracing;
	struct buf scratch; /* digest reads */
	struct verbs_stats stats;
};

/* ---- encoding helpers --------------------------------------------------------------------------
 */

static size_t put_array32(struct buf *b)
{
	size_t at = b->len;
	buf_put_u8(b, 0xdd);
	buf_put_u32be(b, 0);
	return at;
}

static void patch_array32(struct buf *b, size_t at, uint32_t n)
{
	if (buf_ok(b))
		buf_patch_u32be(b, at + 1, n);
}

static void put_values(struct buf *b, const struct store_value *v, size_t n)
{
	msgpk_put_array(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		msgpk_put_bin(b, v[i].p, v[i].len);
}

static void put_forward(struct buf *b, uint64_t write_id, const struct verbs_forward *fwd, size_t n)
{
	if (n == 0) {
		msgpk_put_nil(b);
		return;
	}
	msgpk_put_array(b, 2);
	msgpk_put_uint(b, write_id);
	msgpk_put_array(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		char host[NET_ADDR_STRLEN];
		net_addr_host(&fwd[i].addr, host, sizeof(host));
		msgpk_put_array(b, 3);
		msgpk_put_cstr(b, host);
		msgpk_put_uint(b, net_addr_port(&fwd[i].addr));
		msgpk_put_uint(b, fwd[i].slot);
	}
}

void verbs_put_mutation(struct buf *b, const void *mut, size_t len, uint64_t write_id,
                        const struct verbs_forward *fwd, size_t n, const uint8_t *trace_session)
{
	msgpk_put_array(b, trace_session ? 3 : 2);
	buf_put(b, mut, len);
	put_forward(b, write_id, fwd, n);
	if (trace_session)
		msgpk_put_bin(b, trace_session, 16);
}

void verbs_put_relay_ack(struct buf *b, uint64_t write_id, uint32_t slot, int status)
{
	msgpk_put_array(b, 3);
	msgpk_put_uint(b, write_id);
	msgpk_put_uint(b, slot);
	msgpk_put_int(b, status);
}

int verbs_decode_relay_ack(const uint8_t *p, size_t len, uint64_t *write_id, uint32_t *slot,
                           int *status)
{
	struct bufreader r;
	bufreader_init(&r, p, len);
	uint64_t id, s;
	int64_t st;
	if (msgpk_expect_array(&r, 3) || msgpk_read_uint(&r, &id) ||
	    msgpk_read_uint_max(&r, UINT32_MAX, &s) || msgpk_read_int(&r, &st) ||
	    bufreader_left(&r) != 0 || st > VERBS_RELAY_HINTED || st < COL_ERR_MIN_)
		return COL_ECORRUPT;
	*write_id = id;
	*slot = (uint32_t)s;
	*status = (int)st;
	return 0;
}

static void put_read_target(struct buf *b, const struct verbs_read *rd);

void verbs_put_read(struct buf *b, const struct verbs_read *rd)
{
	msgpk_put_array(b, rd->trace_session ? 7 : 6);
	msgpk_put_uint(b, (uint64_t)rd->kind);
	msgpk_put_bin(b, rd->table_id, 16);
	msgpk_put_int(b, rd->now_s);
	msgpk_put_uint(b, rd->flags & STORE_READ_REVERSE);
	msgpk_put_uint(b, rd->limit);
	put_read_target(b, rd);
	if (rd->trace_session)
		msgpk_put_bin(b, rd->trace_session, 16);
}

static void put_read_target(struct buf *b, const struct verbs_read *rd)
{
	if (rd->kind == VERBS_READ_RANGE || rd->kind == VERBS_READ_INDEX) {
		bool ix = rd->kind == VERBS_READ_INDEX;
		msgpk_put_array(b, ix ? 5 : 3);
		msgpk_put_int(b, rd->start);
		msgpk_put_int(b, rd->end);
		if (!rd->after) {
			msgpk_put_nil(b);
		} else {
			msgpk_put_array(b, 3);
			msgpk_put_int(b, rd->after->token);
			msgpk_put_bin(b, rd->after->key, rd->after->key_len);
			if (rd->after->ck)
				put_values(b, rd->after->ck, rd->after->n_ck);
			else
				msgpk_put_nil(b);
		}
		if (ix) {
			msgpk_put_array(b, 3);
			msgpk_put_uint(b, rd->ix.on);
			msgpk_put_uint(b, rd->ix.kind);
			msgpk_put_uint(b, rd->ix.col);
			put_values(b, rd->ix_vals, rd->n_ix_vals);
		}
		return;
	}
	msgpk_put_array(b, 2);
	put_values(b, rd->pk, rd->n_pk);
	if (!rd->slice) {
		msgpk_put_nil(b);
		return;
	}
	msgpk_put_array(b, 4);
	put_values(b, rd->slice->start, rd->slice->n_start);
	msgpk_put_bool(b, rd->slice->start_incl);
	put_values(b, rd->slice->end, rd->slice->n_end);
	msgpk_put_bool(b, rd->slice->end_incl);
}

uint64_t verbs_digest(const void *result, size_t len)
{
	return XXH3_64bits(result, len);
}

/* ---- the READ RESULT encoder (a store_row_fn) -------------------------------------------------
 */

struct enc {
	struct buf *out;
	size_t parts_at;
	uint32_t n_parts;
	bool in_part;
	size_t rows_at;
	uint32_t n_rows;
	int64_t token;
	size_t key_at, key_len; /* the open partition's key, as written in out */
};

static void put_deletion(struct buf *b, const struct store_deletion *d)
{
	if (d->ts == INT64_MIN) {
		msgpk_put_nil(b);
		return;
	}
	msgpk_put_array(b, 2);
	msgpk_put_int(b, d->ts);
	msgpk_put_int(b, d->ldt);
}

static void enc_close_part(struct enc *e)
{
	if (e->in_part)
		patch_array32(e->out, e->rows_at, e->n_rows);
	e->in_part = false;
}

static void put_range_tombstones(struct buf *b, const struct store_partition *p)
{
	msgpk_put_array(b, (uint32_t)p->n_rts);
	for (size_t i = 0; i < p->n_rts; i++) {
		const struct store_range_tombstone *rt = &p->rts[i];
		msgpk_put_array(b, 6);
		put_values(b, rt->range.start, rt->range.n_start);
		msgpk_put_bool(b, rt->range.start_incl);
		put_values(b, rt->range.end, rt->range.n_end);
		msgpk_put_bool(b, rt->range.end_incl);
		msgpk_put_int(b, rt->deletion.ts);
		msgpk_put_int(b, rt->deletion.ldt);
	}
}

static void enc_open_part(struct enc *e, const struct store_partition *p)
{
	struct buf *b = e->out;
	enc_close_part(e);
	e->in_part = true;
	e->token = p->token;
	e->n_parts++;
	msgpk_put_array(b, 6);
	msgpk_put_int(b, p->token);
	msgpk_put_bin(b, p->key, p->key_len);
	e->key_at = b->len - p->key_len;
	e->key_len = p->key_len;
	put_values(b, p->pk, p->n_pk);
	put_deletion(b, &p->deletion);
	put_range_tombstones(b, p);
	e->rows_at = put_array32(b);
	e->n_rows = 0;
}

static int enc_row(void *ctx, const struct store_partition *p, const struct store_row *r)
{
	struct enc *e = ctx;
	struct buf *b = e->out;
	if (!buf_ok(b)) /* out of memory: the key written in b may be missing */
		return COL_ENOMEM;
	if (!r || !e->in_part || e->token != p->token || e->key_len != p->key_len ||
	    memcmp(b->data + e->key_at, p->key, p->key_len) != 0)
		enc_open_part(e, p);
	if (!r) /* the partition's header: its deletion and range tombstones */
		return buf_ok(b) ? 0 : COL_ENOMEM;
	e->n_rows++;
	msgpk_put_array(b, 5);
	msgpk_put_bool(b, r->is_static);
	put_values(b, r->ck, r->is_static ? 0 : r->n_ck);
	if (r->has_marker) {
		msgpk_put_array(b, 3);
		msgpk_put_int(b, r->marker_ts);
		msgpk_put_int(b, r->marker_ttl);
		msgpk_put_int(b, r->marker_expiry_s);
	} else {
		msgpk_put_nil(b);
	}
	put_deletion(b, &r->deletion);
	msgpk_put_array(b, (uint32_t)r->n_cells);
	for (size_t i = 0; i < r->n_cells; i++) {
		const struct store_cell *c = &r->cells[i];
		msgpk_put_array(b, 7);
		msgpk_put_uint(b, c->col);
		if (c->path)
			msgpk_put_bin(b, c->path, c->path_len);
		else
			msgpk_put_nil(b);
		msgpk_put_int(b, c->ts);
		msgpk_put_bool(b, c->tombstone);
		if (c->tombstone) {
			msgpk_put_nil(b);
			msgpk_put_int(b, 0);
			msgpk_put_int(b, c->ldt);
		} else {
			msgpk_put_bin(b, c->value, c->value_len);
			msgpk_put_int(b, c->ttl);
			msgpk_put_int(b, c->expiry_s);
		}
	}
	return buf_ok(b) ? 0 : COL_ENOMEM;
}

int verbs_read_local(struct store *s, const struct verbs_read *rd, struct buf *out,
                     struct cerr *err)
{
	struct store_table *t = store_table_find(s, rd->table_id);
	if (!t)
		return cerr_set(err, COL_ENOTFOUND,
		                "table %02x%02x%02x%02x... is unknown on this replica",
		                rd->table_id[0], rd->table_id[1], rd->table_id[2], rd->table_id[3]);
	struct enc e = {.out = out};
	e.parts_at = put_array32(out);
	int rc;
	unsigned flags = STORE_READ_TOMBSTONES | STORE_READ_HEADERS | STORE_READ_CANONICAL;
	if (rd->kind == VERBS_READ_RANGE)
		rc = store_scan(t, rd->start, rd->end, rd->after, flags, (size_t)rd->limit,
		                rd->now_s, enc_row, &e, err);
	else if (rd->kind == VERBS_READ_INDEX)
		rc = store_index_read(t, &rd->ix, rd->ix_vals, rd->n_ix_vals, rd->start, rd->end,
		                      rd->after, flags, (size_t)rd->limit, rd->now_s, enc_row, &e,
		                      NULL, err);
	else
		rc = store_read_partition(t, rd->pk, rd->n_pk, rd->slice,
		                          flags | (rd->flags & STORE_READ_REVERSE),
		                          (size_t)rd->limit, rd->now_s, enc_row, &e, err);
	enc_close_part(&e);
	patch_array32(out, e.parts_at, e.n_parts);
	if (rc == 0 && !buf_ok(out))
		rc = cerr_set(err, COL_ENOMEM, "out of memory encoding a read result");
	return rc;
}

/* ---- READ RESULT decoder ------------------------------------------------------------------------
 */

void rres_init(struct rres *r)
{
	memset(r, 0, sizeof(*r));
}

void rres_release(struct rres *r)
{
	free(r->parts);
	free(r->rows);
	free(r->cells);
	free(r->vals);
	free(r->rts);
	memset(r, 0, sizeof(*r));
}

void rres_reset(struct rres *r)
{
	r->n_parts = r->n_rows = r->n_cells = r->n_vals = r->n_rts = 0;
}

#define RRES_ADD(r, arr, n, cap)                                                                   \
	do {                                                                                       \
		if (ARRAY_GROW((r)->arr, (r)->cap, (r)->n + 1))                                    \
			return NULL;                                                               \
		memset(&(r)->arr[(r)->n], 0, sizeof(*(r)->arr));                                   \
		return &(r)->arr[(r)->n++];                                                        \
	} while (0)

struct rres_part *rres_add_part(struct rres *r)
{
	RRES_ADD(r, parts, n_parts, cap_parts);
}
struct rres_row *rres_add_row(struct rres *r)
{
	RRES_ADD(r, rows, n_rows, cap_rows);
}
struct rres_cell *rres_add_cell(struct rres *r)
{
	RRES_ADD(r, cells, n_cells, cap_cells);
}
struct store_value *rres_add_val(struct rres *r)
{
	RRES_ADD(r, vals, n_vals, cap_vals);
}
struct rres_rt *rres_add_rt(struct rres *r)
{
	RRES_ADD(r, rts, n_rts, cap_rts);
}

static int read_values(struct bufreader *br, struct rres *r, size_t max, size_t *at, size_t *n)
{
	uint32_t k;
	if (msgpk_read_array(br, &k) || k > max)
		return COL_ECORRUPT;
	*at = r->n_vals;
	*n = k;
	for (uint32_t i = 0; i < k; i++) {
		const uint8_t *p;
		uint32_t len;
		if (msgpk_read_bin(br, &p, &len))
			return COL_ECORRUPT;
		struct store_value *v = rres_add_val(r);
		if (!v)
			return COL_ENOMEM;
		v->p = p;
		v->len = len;
	}
	return 0;
}

static int read_deletion(struct bufreader *br, bool *has, int64_t *ts, int64_t *ldt)
{
	if (msgpk_peek(br) == MSGPK_NIL) {
		*has = false;
		return msgpk_read_nil(br);
	}
	*has = true;
	if (msgpk_expect_array(br, 2) || msgpk_read_int(br, ts) || msgpk_read_int(br, ldt))
		return COL_ECORRUPT;
	return 0;
}

static int read_range_tombstone(struct bufreader *br, struct rres *r)
{
	if (!rres_add_rt(r))
		return COL_ENOMEM;
	size_t idx = r->n_rts - 1;
	size_t s_at, s_n, e_at, e_n;
	bool s_incl, e_incl;
	int64_t ts, ldt;
	int rc;
	if (msgpk_expect_array(br, 6))
		return COL_ECORRUPT;
	if ((rc = read_values(br, r, STORE_MAX_CK_COLS, &s_at, &s_n)) != 0)
		return rc;
	if (msgpk_read_bool(br, &s_incl))
		return COL_ECORRUPT;
	if ((rc = read_values(br, r, STORE_MAX_CK_COLS, &e_at, &e_n)) != 0)
		return rc;
	if (msgpk_read_bool(br, &e_incl) || msgpk_read_int(br, &ts) || msgpk_read_int(br, &ldt))
		return COL_ECORRUPT;
	r->rts[idx] = (struct rres_rt){.start_at = s_at,
	                               .n_start = s_n,
	                               .start_incl = s_incl,
	                               .end_at = e_at,
	                               .n_end = e_n,
	                               .end_incl = e_incl,
	                               .ts = ts,
	                               .ldt = ldt};
	return 0;
}

static int read_cell(struct bufreader *br, struct rres *r)
{
	struct rres_cell *c = rres_add_cell(r);
	if (!c)
		return COL_ENOMEM;
	uint64_t col;
	int64_t ttl;
	if (msgpk_expect_array(br, 7) || msgpk_read_uint_max(br, UINT32_MAX, &col))
		return COL_ECORRUPT;
	c->col = (uint32_t)col;
	if (msgpk_peek(br) == MSGPK_NIL) {
		if (msgpk_read_nil(br))
			return COL_ECORRUPT;
	} else if (msgpk_read_bin(br, &c->path, &c->path_len)) {
		return COL_ECORRUPT;
	}
	if (msgpk_read_int(br, &c->ts) || msgpk_read_bool(br, &c->tombstone))
		return COL_ECORRUPT;
	if (c->tombstone) {
		if (msgpk_read_nil(br))
			return COL_ECORRUPT;
	} else if (msgpk_read_bin(br, &c->value, &c->value_len)) {
		return COL_ECORRUPT;
	}
	if (msgpk_read_int(br, &ttl) || ttl < 0 || ttl > INT32_MAX || msgpk_read_int(br, &c->exp))
		return COL_ECORRUPT;
	c->ttl = (int32_t)ttl;
	return 0;
}

static int read_row(struct bufreader *br, struct rres *r)
{
	struct rres_row *row = rres_add_row(r);
	if (!row)
		return COL_ENOMEM;
	size_t row_idx = r->n_rows - 1;
	bool st;
	if (msgpk_expect_array(br, 5) || msgpk_read_bool(br, &st))
		return COL_ECORRUPT;
	size_t ck_at, n_ck;
	int rc = read_values(br, r, STORE_MAX_CK_COLS, &ck_at, &n_ck);
	if (rc)
		return rc;
	row = &r->rows[row_idx];
	row->is_static = st;
	row->ck_at = ck_at;
	row->n_ck = n_ck;
	if (msgpk_peek(br) == MSGPK_NIL) {
		if (msgpk_read_nil(br))
			return COL_ECORRUPT;
	} else {
		int64_t ttl;
		if (msgpk_expect_array(br, 3) || msgpk_read_int(br, &row->marker_ts) ||
		    msgpk_read_int(br, &ttl) || ttl < 0 || ttl > INT32_MAX ||
		    msgpk_read_int(br, &row->marker_exp))
			return COL_ECORRUPT;
		row->has_marker = true;
		row->marker_ttl = (int32_t)ttl;
	}
	if (read_deletion(br, &row->has_del, &row->del_ts, &row->del_ldt))
		return COL_ECORRUPT;
	uint32_t n;
	if (msgpk_read_array(br, &n))
		return COL_ECORRUPT;
	row->cell_at = r->n_cells;
	row->n_cells = n;
	for (uint32_t i = 0; i < n; i++)
		if ((rc = read_cell(br, r)) != 0)
			return rc;
	return 0;
}

int rres_decode(struct rres *r, const uint8_t *p, size_t len, struct cerr *err)
{
	struct bufreader br;
	bufreader_init(&br, p, len);
	uint32_t np;
	int rc = 0;
	if (msgpk_read_array(&br, &np))
		goto corrupt;
	for (uint32_t i = 0; i < np; i++) {
		struct rres_part *part = rres_add_part(r);
		if (!part)
			goto nomem;
		size_t pi = r->n_parts - 1;
		int64_t token;
		const uint8_t *key;
		uint32_t key_len;
		if (msgpk_expect_array(&br, 6) || msgpk_read_int(&br, &token) ||
		    msgpk_read_bin(&br, &key, &key_len))
			goto corrupt;
		size_t pk_at, n_pk;
		if ((rc = read_values(&br, r, STORE_MAX_PK_COLS, &pk_at, &n_pk)) != 0)
			goto fail;
		part = &r->parts[pi];
		part->token = token;
		part->key = key;
		part->key_len = key_len;
		part->pk_at = pk_at;
		part->n_pk = n_pk;
		if (read_deletion(&br, &part->has_del, &part->del_ts, &part->del_ldt))
			goto corrupt;
		uint32_t nt, nr;
		if (msgpk_read_array(&br, &nt))
			goto corrupt;
		part->rt_at = r->n_rts;
		part->n_rts = nt;
		for (uint32_t k = 0; k < nt; k++)
			if ((rc = read_range_tombstone(&br, r)) != 0)
				goto fail;
		part = &r->parts[pi];
		if (msgpk_read_array(&br, &nr))
			goto corrupt;
		part->row_at = r->n_rows;
		part->n_rows = nr;
		for (uint32_t k = 0; k < nr; k++)
			if ((rc = read_row(&br, r)) != 0)
				goto fail;
	}
	if (bufreader_left(&br) != 0)
		goto corrupt;
	return 0;
fail:
	if (rc == COL_ENOMEM)
		goto nomem;
corrupt:
	return cerr_set(err, COL_ECORRUPT, "malformed read result at byte %zu of %zu", br.pos, len);
nomem:
	return cerr_set(err, COL_ENOMEM, "out of memory decoding a read result");
}

/* ---- handlers
 * ------------------------------------------------------------------------------------ */

static void relay(struct verbs *v, const struct net_addr *to, uint64_t write_id, uint32_t slot,
                  int status)
{
	struct msg_out o;
	if (messaging_begin_oneway(v->msg, to, VERB_MUTATION_RSP, &o) != 0)
		return;
	verbs_put_relay_ack(o.b, write_id, slot, status);
	if (messaging_commit(&o) == 0)
		v->stats.relayed_acks++;
}

/* A pooled forward keeps its mutation buffer only up to this: one big mutation does not
 * pin its bytes in the pool. */
#define FWD_BUF_KEEP (16 * 1024)

static void fwd_put(struct verbs *v, struct fwd *f)
{
	v->forwards_in_flight--;
	if (f->charged) {
		admit_bytes_release(v->bytes, f->charged);
		f->charged = 0;
	}
	if (f->mut.cap > FWD_BUF_KEEP) {
		buf_release(&f->mut);
		buf_init(&f->mut);
	}
	f->next_free = v->free_fwds;
	v->free_fwds = f;
}

/*
 * A peer this forwarder could not reach, or that did not answer in time: the
 * forwarder keeps its hint (its DC's replicas are its to hint) and tells the
 * coordinator so, which then stores none.  Returns the status to relay.
 */
static int fwd_hint(struct verbs *v, const struct net_addr *peer, const uint8_t *mut, size_t len,
                    int status)
{
	if (!v->hint || !len)
		return status;
	if (v->hint(v->hint_ctx, peer, mut, len) != 0)
		return status;
	v->stats.forward_hints++;
	return VERBS_RELAY_HINTED;
}

static void fwd_done(void *ctx, int status, const struct msg_in *rsp)
{
	(void)rsp;
	struct fwd *f = ctx;
	struct verbs *v = f->v;
	if (status == COL_ETIMEDOUT || status == COL_ECLOSED || status == COL_EFULL)
		status = fwd_hint(v, &f->peer, f->mut.data, f->mut.len, status);
	relay(v, &f->coordinator, f->write_id, f->slot, status);
	fwd_put(v, f);
}

static struct fwd *fwd_get(struct verbs *v)
{
	if (v->forwards_in_flight >= v->max_forwards)
		return NULL;
	struct fwd *f = v->free_fwds;
	if (f) {
		v->free_fwds = f->next_free;
	} else {
		if (!(f = calloc(1, sizeof(*f))))
			return NULL;
		buf_init(&f->mut);
	}
	f->v = v;
	buf_reset(&f->mut);
	v->forwards_in_flight++;
	return f;
}

static void forward_one(struct verbs *v, const struct msg_in *msg,
                        const struct verbs_mutation_msg *mm, const struct net_addr *peer,
                        uint32_t slot, struct trace *t)
{
	const uint8_t *mut = mm->mut;
	size_t len = mm->mut_len;
	uint64_t write_id = mm->write_id;
	if (v->peer_alive && !v->peer_alive(v->hint_ctx, peer)) {
		/* known down here: hint it now, never send */
		relay(v, msg->from, write_id, slot, fwd_hint(v, peer, mut, len, COL_EUNAVAILABLE));
		return;
	}
	struct fwd *f = fwd_get(v);
	if (!f) {
		relay(v, msg->from, write_id, slot, fwd_hint(v, peer, mut, len, COL_EFULL));
		return;
	}
	f->coordinator = *msg->from;
	f->write_id = write_id;
	f->slot = slot;
	f->peer = *peer;
	/* no memory or budget to keep a copy: the peer's failure is relayed and its
	 * coordinator hints it */
	if (v->hint && (!v->bytes || admit_bytes_charge(v->bytes, len))) {
		f->charged = v->bytes ? len : 0;
		buf_put(&f->mut, mut, len);
		if (!buf_ok(&f->mut))
			buf_reset(&f->mut);
	}
	struct msg_out o;
	int rc = messaging_begin_request(v->msg, peer, VERB_MUTATION, v->forward_timeout_ms,
	                                 fwd_done, f, &o);
	if (rc == 0) {
		verbs_put_mutation(o.b, mut, len, 0, NULL, 0, mm->trace_session);
		rc = messaging_commit(&o);
	}
	if (t) {
		char host[NET_ADDR_STRLEN];
		net_addr_host(peer, host, sizeof(host));
		trace_event(t,
		            rc ? "Could not forward MUTATION to /%s: %s"
		               : "Forwarding MUTATION to /%s%s",
		            host, rc ? col_strerror(rc) : "");
	}
	if (rc != 0) {
		fwd_put(v, f);
		relay(v, msg->from, write_id, slot, fwd_hint(v, peer, mut, len, rc));
		return;
	}
	v->stats.forwarded++;
}

/*
 * The top-level array of a payload with an optional trailing trace session: n fields, or
 * n + 1 with the session last.  *traced says which (the session is read by read_trace).
 */
static int expect_fields(struct bufreader *r, uint32_t n, bool *traced)
{
	uint32_t k;
	if (msgpk_read_array(r, &k) || (k != n && k != n + 1))
		return COL_ECORRUPT;
	*traced = k == n + 1;
	return 0;
}

static int read_trace(struct bufreader *r, bool traced, const uint8_t **session)
{
	*session = NULL;
	if (!traced)
		return 0;
	uint32_t len;
	if (msgpk_read_bin(r, session, &len) || len != 16)
		return COL_ECORRUPT;
	return 0;
}

int verbs_mutation_decode(const uint8_t *p, size_t len, struct verbs_mutation_msg *out)
{
	struct bufreader r;
	bufreader_init(&r, p, len);
	memset(out, 0, sizeof(*out));
	bool traced;
	if (expect_fields(&r, 2, &traced))
		return COL_ECORRUPT;
	size_t at = r.pos;
	if (msgpk_skip(&r, MSGPK_MAX_DEPTH))
		return COL_ECORRUPT;
	out->mut = p + at;
	out->mut_len = r.pos - at;
	if (msgpk_peek(&r) == MSGPK_NIL) {
		if (msgpk_read_nil(&r))
			return COL_ECORRUPT;
	} else {
		uint32_t n;
		if (msgpk_expect_array(&r, 2) || msgpk_read_uint(&r, &out->write_id) ||
		    msgpk_read_array(&r, &n) || n > VERBS_MAX_FORWARD)
			return COL_ECORRUPT;
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *h;
			uint32_t hl;
			uint64_t port, slot;
			if (msgpk_expect_array(&r, 3) || msgpk_read_str(&r, &h, &hl) ||
			    hl >= NET_ADDR_STRLEN || msgpk_read_uint_max(&r, 65535, &port) ||
			    msgpk_read_uint_max(&r, UINT32_MAX, &slot))
				return COL_ECORRUPT;
			char host[NET_ADDR_STRLEN];
			memcpy(host, h, hl);
			host[hl] = 0;
			if (net_addr_parse(host, (uint16_t)port, &out->fwd[i].addr, NULL) != 0)
				return COL_ECORRUPT;
			out->fwd[i].slot = (uint32_t)slot;
		}
		out->n_fwd = n;
	}
	if (read_trace(&r, traced, &out->trace_session))
		return COL_ECORRUPT;
	return bufreader_left(&r) == 0 ? 0 : COL_ECORRUPT;
}

/* ---- a replica's part of a trace session (trace.h) ------------------------------------------ */

/* The sender's address as events name it (a static buffer: one thread, the loop's). */
static const char *replica_peer(const struct msg_in *msg)
{
	static _Thread_local char host[NET_ADDR_STRLEN];
	if (!msg->from)
		return "?";
	net_addr_host(msg->from, host, sizeof(host));
	return host;
}

/* A traced request's message arrived: this replica's part of the session, or NULL. */
static struct trace *replica_trace_begin(struct verbs *v, const struct msg_in *msg,
                                         const uint8_t *session, const char *verb)
{
	if (!session || !v->tracing)
		return NULL;
	struct trace *t = trace_new(v->tracing, session);
	trace_event(t, "%s message received from /%s", verb, replica_peer(msg));
	return t;
}

static void replica_trace_applied(struct trace *t, const struct msg_in *msg, int rc,
                                  const struct cerr *e)
{
	if (!t)
		return;
	if (rc)
		trace_event(t, "Applying the mutation failed: %s", e ? e->msg : col_strerror(rc));
	else
		trace_event(t, "Applied the mutation");
	if (msg->id)
		trace_event(t, "Enqueuing response to /%s", replica_peer(msg));
}

/* This message is handled: its events go to the sink. */
static void replica_trace_end(struct trace *t)
{
	if (!t)
		return;
	trace_finish(t);
	trace_unref(t);
}

/* Count a MUTATION's outcome and answer it (a request; a one-way one gets nothing). */
static void mutation_answer(struct verbs *v, const struct msg_in *msg, int rc, const struct cerr *e)
{
	if (rc == 0)
		v->stats.mutations++;
	else
		v->stats.mutation_fails++;
	if (msg->id == 0)
		return;
	if (rc == 0) {
		struct msg_out o;
		if (messaging_begin_response(v->msg, msg, VERB_MUTATION_RSP, &o) == 0) {
			msgpk_put_array(o.b, 0);
			(void)messaging_commit(&o);
		}
	} else {
		(void)messaging_respond_failure(v->msg, msg, rc, e ? e->msg : col_strerror(rc));
	}
}

/* A MUTATION waiting for its group to be written: what its answer needs. */
struct pending_mutation {
	struct verbs *v;
	struct net_addr from;
	uint64_t id;
	uint64_t via;
	unsigned flags;
	bool has_from;
	struct trace *trace; /* this replica's part of the request's trace session, or NULL */
};

static void on_mutation_applied(void *ctx, int rc, const struct cerr *e)
{
	struct pending_mutation *pm = ctx;
	struct msg_in msg = {.verb = VERB_MUTATION,
	                     .flags = pm->flags,
	                     .id = pm->id,
	                     .via = pm->via,
	                     .from = pm->has_from ? &pm->from : NULL};
	replica_trace_applied(pm->trace, &msg, rc, e);
	mutation_answer(pm->v, &msg, rc, e);
	replica_trace_end(pm->trace);
	free(pm);
}

static void mutation_apply(struct verbs *v, const struct msg_in *msg,
                           const struct verbs_mutation_msg *mm, struct trace *t)
{
	struct cerr e = {0};
	int rc;
	if (v->lane) {
		struct pending_mutation *pm = malloc(sizeof(*pm));
		if (!pm) {
			rc = cerr_set(&e, COL_ENOMEM, "out of memory applying a mutation");
		} else {
			*pm = (struct pending_mutation){.v = v,
			                                .id = msg->id,
			                                .via = msg->via,
			                                .flags = msg->flags,
			                                .trace = t};
			if (t)
				trace_ref(t);
			if (msg->from) {
				pm->from = *msg->from;
				pm->has_from = true;
			}
			rc = store_lane_apply_bytes(v->lane, mm->mut, mm->mut_len,
			                            on_mutation_applied, pm, &e);
			if (rc == 0)
				return;
			trace_unref(t);
			free(pm);
		}
	} else {
		rc = store_apply_bytes(v->store, mm->mut, mm->mut_len, &e);
	}
	replica_trace_applied(t, msg, rc, &e);
	mutation_answer(v, msg, rc, &e);
}

/* Count a MUTATION by its time in the socket; true when it is past its timeout (shed). */
static bool mutation_late(struct verbs *v, const struct msg_in *msg)
{
	int64_t age = msg->age_us;
	if (age < 0)
		return false;
	size_t i = 0;
	while (i < NET_ITER_BUCKETS - 1 && age > (int64_t)net_iter_bounds_us[i])
		i++;
	v->stats.mutation_wait_buckets[i]++;
	v->stats.mutation_wait_count++;
	v->stats.mutation_wait_sum_us += (uint64_t)age;
	if (v->mutation_shed_us <= 0 || age <= v->mutation_shed_us)
		return false;
	v->stats.mutations_shed++;
	return true;
}

/*
 * A MUTATION that waited past the write timeout in our socket is dropped
 * unanswered, as Cassandra drops expired messages: its coordinator has timed
 * out and hinted it for us (and for the peers of its forward list), so applying
 * it now is work for nobody, and under a backlog that work is what delays the
 * fresh ones behind it.
 */
static int on_mutation(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	(void)m;
	struct verbs *v = ctx;
	struct verbs_mutation_msg mm;
	if (verbs_mutation_decode(msg->payload, msg->payload_len, &mm) != 0)
		return COL_ECORRUPT;
	if (mutation_late(v, msg))
		return 0;
	struct trace *t = replica_trace_begin(v, msg, mm.trace_session, "MUTATION");
	mutation_apply(v, msg, &mm, t);
	for (size_t i = 0; i < mm.n_fwd; i++)
		forward_one(v, msg, &mm, &mm.fwd[i].addr, mm.fwd[i].slot, t);
	replica_trace_end(t);
	return 0;
}

static int get_values(struct bufreader *r, struct store_value *out, size_t max, size_t *n)
{
	uint32_t k;
	if (msgpk_read_array(r, &k) || k > max)
		return COL_ECORRUPT;
	for (uint32_t i = 0; i < k; i++) {
		const uint8_t *p;
		uint32_t len;
		if (msgpk_read_bin(r, &p, &len))
			return COL_ECORRUPT;
		out[i].p = p;
		out[i].len = len;
	}
	*n = k;
	return 0;
}

/* An INDEX read's [on, kind, col], [value...]. */
static int read_index(struct bufreader *r, struct verbs_read_req *q)
{
	uint64_t on, kind, col;
	if (msgpk_expect_array(r, 3) || msgpk_read_uint_max(r, STORE_IX_CK, &on) ||
	    msgpk_read_uint_max(r, STORE_IX_ENTRIES, &kind) ||
	    msgpk_read_uint_max(r, UINT32_MAX, &col) ||
	    get_values(r, q->ix_vals, 2, &q->rd.n_ix_vals) || q->rd.n_ix_vals == 0)
		return COL_ECORRUPT;
	q->rd.ix = (struct store_index){
	        .on = (uint8_t)on, .kind = (uint8_t)kind, .col = (uint32_t)col};
	q->rd.ix_vals = q->ix_vals;
	return 0;
}

int verbs_read_decode(const uint8_t *p, size_t len, struct verbs_read_req *q)
{
	struct bufreader r;
	bufreader_init(&r, p, len);
	memset(&q->rd, 0, sizeof(q->rd));
	uint64_t kind, flags, limit;
	const uint8_t *id;
	uint32_t id_len;
	bool traced;
	if (expect_fields(&r, 6, &traced) || msgpk_read_uint_max(&r, VERBS_READ_INDEX, &kind) ||
	    msgpk_read_bin(&r, &id, &id_len) || id_len != 16 || msgpk_read_int(&r, &q->rd.now_s) ||
	    msgpk_read_uint_max(&r, STORE_READ_REVERSE, &flags) || msgpk_read_uint(&r, &limit))
		return COL_ECORRUPT;
	q->rd.kind = (enum verbs_read_kind)kind;
	memcpy(q->rd.table_id, id, 16);
	q->rd.flags = (unsigned)flags;
	q->rd.limit = limit;
	if (kind == VERBS_READ_RANGE || kind == VERBS_READ_INDEX) {
		if (msgpk_expect_array(&r, kind == VERBS_READ_INDEX ? 5 : 3) ||
		    msgpk_read_int(&r, &q->rd.start) || msgpk_read_int(&r, &q->rd.end))
			return COL_ECORRUPT;
		if (msgpk_peek(&r) == MSGPK_NIL) {
			if (msgpk_read_nil(&r))
				return COL_ECORRUPT;
		} else {
			const uint8_t *k;
			uint32_t kl;
			if (msgpk_expect_array(&r, 3) || msgpk_read_int(&r, &q->after.token) ||
			    msgpk_read_bin(&r, &k, &kl))
				return COL_ECORRUPT;
			q->after.key = k;
			q->after.key_len = kl;
			if (msgpk_peek(&r) == MSGPK_NIL) {
				if (msgpk_read_nil(&r))
					return COL_ECORRUPT;
				q->after.ck = NULL;
				q->after.n_ck = 0;
			} else {
				if (get_values(&r, q->after_ck, STORE_MAX_CK_COLS, &q->after.n_ck))
					return COL_ECORRUPT;
				q->after.ck = q->after_ck;
			}
			q->rd.after = &q->after;
		}
		if (kind == VERBS_READ_INDEX && read_index(&r, q))
			return COL_ECORRUPT;
	} else {
		if (msgpk_expect_array(&r, 2) ||
		    get_values(&r, q->pk, STORE_MAX_PK_COLS, &q->rd.n_pk))
			return COL_ECORRUPT;
		q->rd.pk = q->pk;
		if (msgpk_peek(&r) == MSGPK_NIL) {
			if (msgpk_read_nil(&r))
				return COL_ECORRUPT;
		} else {
			if (msgpk_expect_array(&r, 4) ||
			    get_values(&r, q->start, STORE_MAX_CK_COLS, &q->slice.n_start) ||
			    msgpk_read_bool(&r, &q->slice.start_incl) ||
			    get_values(&r, q->end, STORE_MAX_CK_COLS, &q->slice.n_end) ||
			    msgpk_read_bool(&r, &q->slice.end_incl))
				return COL_ECORRUPT;
			q->slice.start = q->start;
			q->slice.end = q->end;
			q->rd.slice = &q->slice;
		}
	}
	if (read_trace(&r, traced, &q->rd.trace_session))
		return COL_ECORRUPT;
	return bufreader_left(&r) == 0 ? 0 : COL_ECORRUPT;
}

static int on_read(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	struct verbs *v = ctx;
	struct verbs_read_req q;
	if (verbs_read_decode(msg->payload, msg->payload_len, &q))
		return COL_ECORRUPT;
	if (msg->id == 0)
		return 0; /* nobody to answer */
	if (v->read_shed_us > 0 && msg->age_us > v->read_shed_us) {
		v->stats.reads_shed++; /* its coordinator has timed out: nobody waits for it */
		return 0;
	}
	struct trace *t = replica_trace_begin(v, msg, q.rd.trace_session, "READ");
	if (t) {
		struct store_table *st = store_table_find(v->store, q.rd.table_id);
		const struct store_table_desc *d = st ? store_table_desc(st) : NULL;
		trace_event(t, "Executing %s query on %s.%s",
		            q.rd.kind == VERBS_READ_INDEX   ? "index"
		            : q.rd.kind == VERBS_READ_RANGE ? "token range"
		                                            : "single-partition",
		            d ? d->keyspace : "?", d ? d->name : "(unknown table)");
	}
	struct cerr e = {0};
	struct msg_out o;
	int rc;
	if (q.rd.kind == VERBS_READ_DIGEST) {
		buf_reset(&v->scratch);
		rc = verbs_read_local(v->store, &q.rd, &v->scratch, &e);
		if (rc == 0 && (rc = messaging_begin_response(m, msg, VERB_READ_RSP, &o)) == 0) {
			msgpk_put_array(o.b, 2);
			msgpk_put_uint(o.b, 1);
			msgpk_put_uint(o.b, verbs_digest(v->scratch.data, v->scratch.len));
			rc = messaging_commit(&o);
		}
		v->stats.digests++;
	} else {
		rc = messaging_begin_response(m, msg, VERB_READ_RSP, &o);
		if (rc == 0) {
			msgpk_put_array(o.b, 2);
			msgpk_put_uint(o.b, 0);
			rc = verbs_read_local(v->store, &q.rd, o.b, &e);
			if (rc == 0)
				rc = messaging_commit(&o);
			else
				messaging_abort(&o);
		}
		if (q.rd.kind == VERBS_READ_RANGE || q.rd.kind == VERBS_READ_INDEX)
			v->stats.range_reads++;
		else
			v->stats.reads++;
	}
	if (rc != 0) {
		v->stats.read_fails++;
		if (e.code == 0)
			cerr_set(&e, rc, "read failed: %s", col_strerror(rc));
		trace_event(t, "Read failed: %s", e.msg);
		(void)messaging_respond_failure(m, msg, rc, e.msg);
	} else {
		trace_event(t, "Enqueuing response (%s) to /%s",
		            q.rd.kind == VERBS_READ_DIGEST ? "digest" : "data", replica_peer(msg));
	}
	replica_trace_end(t);
	return 0;
}

/* ---- TRUNCATE ------------------------------------------------------------------------------ */

void verbs_put_truncate(struct buf *b, const uint8_t table_id[16], int64_t truncated_at)
{
	msgpk_put_array(b, 2);
	msgpk_put_bin(b, table_id, 16);
	msgpk_put_int(b, truncated_at);
}

int verbs_truncate_decode(const uint8_t *p, size_t len, uint8_t table_id[16], int64_t *truncated_at)
{
	struct bufreader r;
	bufreader_init(&r, p, len);
	uint32_t n, id_len;
	const uint8_t *id;
	if (msgpk_read_array(&r, &n) || n != 2 || msgpk_read_bin(&r, &id, &id_len) ||
	    id_len != 16 || msgpk_read_int(&r, truncated_at) || bufreader_left(&r))
		return COL_ECORRUPT;
	memcpy(table_id, id, 16);
	return 0;
}

int verbs_truncate_local(struct store *s, const uint8_t table_id[16], int64_t truncated_at,
                         struct cerr *err)
{
	struct store_table *t = store_table_find(s, table_id);
	if (!t || !store_table_desc(t)) {
		char hex[33];
		hex_encode(table_id, 16, hex);
		return cerr_set(err, COL_ENOTFOUND, "truncate of unknown table %s", hex);
	}
	const struct store_table_desc *d = store_table_desc(t);
	int rc = store_table_truncate(t, truncated_at, err);
	if (rc)
		cerr_prefix(err, "truncate %s.%s: ", d->keyspace, d->name);
	else
		log_info("replication", "truncated %s.%s at %lld", d->keyspace, d->name,
		         (long long)truncated_at);
	return rc;
}

static int on_truncate(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	struct verbs *v = ctx;
	uint8_t id[16];
	int64_t at;
	if (verbs_truncate_decode(msg->payload, msg->payload_len, id, &at) != 0)
		return COL_ECORRUPT;
	struct cerr e = {0};
	int rc = verbs_truncate_local(v->store, id, at, &e);
	if (msg->id == 0)
		return 0;
	if (rc)
		return messaging_respond_failure(m, msg, rc, e.msg), 0;
	struct msg_out o;
	if (messaging_begin_response(m, msg, VERB_TRUNCATE_RSP, &o) == 0) {
		msgpk_put_array(o.b, 0);
		(void)messaging_commit(&o);
	}
	return 0;
}

/* ---- life
 * ------------------------------------------------------------------------------------------ */

/* The replication verbs; responses and the relayed ack reach the coordinator side. */
static const struct messaging_verb VERBS_TABLE[] = {
        {VERB_MUTATION, "MUTATION", on_mutation},
        {VERB_MUTATION_RSP, "MUTATION_RSP", NULL},
        {VERB_READ, "READ", on_read},
        {VERB_READ_RSP, "READ_RSP", NULL},
        {VERB_TRUNCATE, "TRUNCATE", on_truncate},
        {VERB_TRUNCATE_RSP, "TRUNCATE_RSP", NULL},
};

int verbs_new(const struct verbs_config *cfg, struct verbs **out, struct cerr *err)
{
	if (!cfg->msg || !cfg->store)
		return cerr_set(err, COL_EINVAL, "verbs: messaging and store are required");
	struct verbs *v = calloc(1, sizeof(*v));
	if (!v)
		return cerr_set(err, COL_ENOMEM, "verbs: out of memory");
	v->msg = cfg->msg;
	v->store = cfg->store;
	v->lane = cfg->lane;
	v->forward_timeout_ms = cfg->forward_timeout_ms ? cfg->forward_timeout_ms : 2000;
	v->mutation_shed_us = (int64_t)cfg->mutation_shed_ms * 1000;
	v->read_shed_us = (int64_t)cfg->read_shed_ms * 1000;
	v->max_forwards = cfg->max_forwards ? cfg->max_forwards : 65536;
	v->peer_alive = cfg->peer_alive;
	v->hint = cfg->hint;
	v->hint_ctx = cfg->hint_ctx;
	v->bytes = cfg->bytes;
	v->tracing = cfg->tracing;
	buf_init(&v->scratch);
	int rc = messaging_register_verbs(v->msg, VERBS_TABLE,
	                                  sizeof(VERBS_TABLE) / sizeof(VERBS_TABLE[0]), v);
	if (rc != COL_OK) {
		buf_release(&v->scratch);
		free(v);
		return cerr_set(err, rc,
		                "verbs: cannot register the replication verbs (see the log)");
	}
	*out = v;
	return 0;
}

void verbs_free(struct verbs *v)
{
	if (!v)
		return;
	while (v->free_fwds) {
		struct fwd *f = v->free_fwds;
		v->free_fwds = f->next_free;
		buf_release(&f->mut);
		free(f);
	}
	buf_release(&v->scratch);
	free(v);
}

void verbs_get_stats(const struct verbs *v, struct verbs_stats *out)
{
	*out = v->stats;
}
