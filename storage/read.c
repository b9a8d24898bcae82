/*
 * read.c — partition reads and token-range scans.
 *
 * A partition is read with one iterator: its header keys (partition
 * tombstone, static cells, range tombstones) come first in key order, then
 * its rows.  A row's keys (tombstone, marker, cells) are gathered, then
 * resolved against the partition, range and row tombstones and the clock,
 * and handed to the caller's callback.  Memory handed out is valid only
 * during the callback (buffers are reused row after row).
 */
#include "storage/storage_int.h"

#include "core/array.h"
#include "core/clock.h"
#include "core/murmur3.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct rawcell {
	uint32_t col;
	size_t path_off, path_len; /* ordered path bytes in `bytes` */
	size_t val_off, val_len;   /* the stored value in `bytes` */
};

struct rtomb {
	size_t start_off, start_len, end_off, end_len; /* bounds in rtbytes */
	int64_t ts;
	int64_t ldt;
	/* the bounds' native components: (offset, length) pairs in rtvoff, into rtnative */
	size_t v_at, n_start, n_end;
	bool start_incl, end_incl;
};

/*
 * The memory of a read: buffers and arrays that grow to what the rows need.
 * A thread keeps one set between its reads (read_mem_acquire), so a request
 * loop reading one partition after another allocates nothing of ours per read
 * once they have grown to its rows' size.
 */
struct read_mem {
	struct buf pkey;
	struct rtomb *rts;
	size_t cap_rts;
	struct buf rtbytes;
	/* native bounds for STORE_READ_HEADERS */
	struct buf rtnative;
	size_t *rtvoff; /* 2 per component: offset, length */
	size_t cap_rtv;
	struct store_value *rtvals;
	struct store_range_tombstone *rtpub;
	size_t cap_rtvals, cap_rtpub;
	struct buf rowck; /* encoded clustering of the row */
	struct buf native;
	struct rawcell *cells;
	size_t cap_cells;
	struct buf bytes;
	struct buf marker;
	struct store_cell *out;
	size_t cap_out;
	struct buf paths;  /* decoded paths */
	size_t *path_offs; /* per output cell: its path's offset in paths */
	size_t cap_path_offs;
	struct buf key, prefix;            /* the partition key and prefix of a partition read */
	struct buf lo, hi;                 /* the slice's bound keys */
	struct buf cur, tmp;               /* a scan's current partition prefix and seek key */
	rocksdb_readoptions_t *bounded_ro; /* read options whose upper bound a read sets */
	bool busy;                         /* a read of this thread is using it */
	bool thread_owned;                 /* the thread's own: kept after the read */
};

struct rctx {
	struct store_table *t;
	const struct tdesc *d;
	rocksdb_iterator_t *it;
	unsigned flags;
	size_t limit, emitted;
	int64_t now;
	int64_t truncated_at; /* the table's truncation time: nothing at or before it is read */
	int64_t pdel_ts;      /* the partition deletion, reported or not (it shadows) */
	store_row_fn fn;
	void *ctx;
	int stop;             /* fn's non-zero return */
	struct read_mem *mem; /* this read's buffers (the thread's, when free) */
	/* partition */
	struct store_value pk[STORE_MAX_PK_COLS];
	struct store_partition part;
	size_t n_rts;
	size_t n_rtv;
	/* row being gathered */
	bool in_row;
	bool is_static;
	size_t ck_off[STORE_MAX_CK_COLS], ck_len[STORE_MAX_CK_COLS];
	struct store_value ck[STORE_MAX_CK_COLS];
	size_t n_cells;
	bool has_marker;
	struct store_deletion rowdel;
};

/* A thread's read memory keeps buffers up to this size between reads (a read of a huge
 * row gives its back): what a loop holds idle stays small. */
#define READ_KEEP_BYTES (64u << 10)
/* ... and arrays up to this many elements (cells of a row, range tombstones). */
#define READ_KEEP_ELEMS 1024u

#define READ_MEM_N_BUFS 14

/* The buffers of m into out[READ_MEM_N_BUFS]. */
static void read_mem_bufs(struct read_mem *m, struct buf *out[READ_MEM_N_BUFS])
{
	struct buf *bufs[READ_MEM_N_BUFS] = {
	        &m->pkey,  &m->rtbytes, &m->rtnative, &m->rowck, &m->native, &m->bytes, &m->marker,
	        &m->paths, &m->key,     &m->prefix,   &m->lo,    &m->hi,     &m->cur,   &m->tmp};
	memcpy(out, bufs, sizeof(bufs));
}

static void read_mem_free(struct read_mem *m)
{
	struct buf *bufs[READ_MEM_N_BUFS];
	read_mem_bufs(m, bufs);
	for (size_t i = 0; i < READ_MEM_N_BUFS; i++)
		buf_release(bufs[i]);
	free(m->rts);
	free(m->rtvoff);
	free(m->rtvals);
	free(m->rtpub);
	free(m->cells);
	free(m->out);
	free(m->path_offs);
	if (m->bounded_ro)
		rocksdb_readoptions_destroy(m->bounded_ro);
	memset(m, 0, sizeof(*m));
}

/* Free array arr of capacity cap unless it is kept for the next read. */
#define READ_MEM_TRIM(arr, cap)                                                                    \
	do {                                                                                       \
		if ((cap) > READ_KEEP_ELEMS) {                                                     \
			free(arr);                                                                 \
			(arr) = NULL;                                                              \
			(cap) = 0;                                                                 \
		}                                                                                  \
	} while (0)

/* After a read: empty what is kept, give back what grew large or ran out of memory. */
static void read_mem_trim(struct read_mem *m)
{
	struct buf *bufs[READ_MEM_N_BUFS];
	read_mem_bufs(m, bufs);
	for (size_t i = 0; i < READ_MEM_N_BUFS; i++) {
		if (bufs[i]->oom || bufs[i]->cap > READ_KEEP_BYTES)
			buf_release(bufs[i]);
		bufs[i]->len = 0;
	}
	READ_MEM_TRIM(m->rts, m->cap_rts);
	READ_MEM_TRIM(m->cells, m->cap_cells);
	READ_MEM_TRIM(m->out, m->cap_out);
	READ_MEM_TRIM(m->path_offs, m->cap_path_offs);
	READ_MEM_TRIM(m->rtpub, m->cap_rtpub);
	READ_MEM_TRIM(m->rtvoff, m->cap_rtv);
	READ_MEM_TRIM(m->rtvals, m->cap_rtvals);
}

static pthread_key_t read_mem_key;
static pthread_once_t read_mem_once = PTHREAD_ONCE_INIT;
static bool read_mem_key_ok;
/* The thread's read memory; also registered under read_mem_key, whose destructor frees it
 * when the thread ends. */
static _Thread_local struct read_mem *read_mem_tls;

static void read_mem_destroy(void *p)
{
	struct read_mem *m = p;
	if (m == read_mem_tls)
		read_mem_tls = NULL;
	read_mem_free(m);
	free(m);
}

static void read_mem_key_init(void)
{
	read_mem_key_ok = pthread_key_create(&read_mem_key, read_mem_destroy) == 0;
}

/* The thread's read memory, or (while a read of this thread holds it, or when the thread has
 * none and cannot keep one) a fresh one; NULL when out of memory.  read_mem_release gives it
 * back. */
static struct read_mem *read_mem_acquire(void)
{
	struct read_mem *m = read_mem_tls;
	if (m && !m->busy) {
		m->busy = true;
		return m;
	}
	bool keep = !m;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	if (keep) {
		pthread_once(&read_mem_once, read_mem_key_init);
		if (read_mem_key_ok && pthread_setspecific(read_mem_key, m) == 0) {
			m->thread_owned = true;
			read_mem_tls = m;
		}
	}
	m->busy = true;
	return m;
}

static void read_mem_release(struct read_mem *m)
{
	if (!m->thread_owned) {
		read_mem_free(m);
		free(m);
		return;
	}
	read_mem_trim(m);
	m->busy = false;
}

static void rctx_release(struct rctx *r)
{
	if (r->it)
		rocksdb_iter_destroy(r->it);
	r->it = NULL;
	read_mem_release(r->mem);
}

/* Set r up for a read; on success rctx_release gives its memory back, on failure nothing is
 * held. */
static int rctx_init(struct rctx *r, struct store_table *t, unsigned flags, size_t limit,
                     int64_t now, store_row_fn fn, void *ctx, struct cerr *err)
{
	memset(r, 0, sizeof(*r));
	r->t = t;
	r->d = table_tdesc(t);
	if (!r->d)
		return cerr_set(err, COL_EINVAL, "table %s is not described", t->cf_name);
	if (!t->cf)
		return cerr_set(err, COL_ECLOSED, "table %s.%s is unusable after a failed truncate",
		                r->d->pub.keyspace, r->d->pub.name);
	r->mem = read_mem_acquire();
	if (!r->mem)
		return cerr_set(err, COL_ENOMEM, "storage: out of memory reading table %s.%s",
		                r->d->pub.keyspace, r->d->pub.name);
	r->flags = flags;
	r->limit = limit;
	r->now = now > 0 ? now : clock_wall_s();
	r->truncated_at = table_truncated_at(t);
	r->fn = fn;
	r->ctx = ctx;
	return 0;
}

static bool starts_with(const char *k, size_t kl, const uint8_t *p, size_t pl)
{
	return kl >= pl && memcmp(k, p, pl) == 0;
}

/* ---- rows ----------------------------------------------------------------------------------- */

static void row_begin(struct rctx *r, bool is_static)
{
	r->in_row = true;
	r->is_static = is_static;
	r->n_cells = 0;
	r->mem->bytes.len = 0;
	r->has_marker = false;
	r->mem->marker.len = 0;
	r->rowdel.ts = INT64_MIN;
	r->rowdel.ldt = 0;
}

static int row_add_cell(struct rctx *r, uint32_t col, const uint8_t *path, size_t plen,
                        const char *val, size_t vlen)
{
	if (ARRAY_GROW(r->mem->cells, r->mem->cap_cells, r->n_cells + 1))
		return COL_ENOMEM;
	struct rawcell *c = &r->mem->cells[r->n_cells++];
	c->col = col;
	c->path_off = r->mem->bytes.len;
	c->path_len = plen;
	buf_put(&r->mem->bytes, path, plen);
	c->val_off = r->mem->bytes.len;
	c->val_len = vlen;
	buf_put(&r->mem->bytes, val, vlen);
	return buf_ok(&r->mem->bytes) ? 0 : COL_ENOMEM;
}

/* Does the range tombstone cover the row whose encoded clustering is ck? */
static bool rt_covers(const struct rctx *r, const struct rtomb *rt, const uint8_t *ck, size_t n)
{
	return codec_bounds_cover(ck, n, r->mem->rtbytes.data + rt->start_off, rt->start_len,
	                          r->mem->rtbytes.data + rt->end_off, rt->end_len);
}

static int cell_path_cmp(const void *a, const void *b, void *ctx)
{
	const struct rawcell *x = a, *y = b;
	const uint8_t *base = ctx;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return bytes_compare(base + x->path_off, x->path_len, base + y->path_off, y->path_len);
}

/* STORE_READ_CANONICAL: is a tombstone with this deletion time left unreported? */
static bool canonical_purged(const struct rctx *r, int64_t ldt)
{
	return (r->flags & STORE_READ_CANONICAL) &&
	       tomb_purgeable(r->d->pub.gc_grace_seconds, ldt, r->now);
}

/* The newest deletion that shadows the row: the table's truncation, partition, row, or a
 * covering range tombstone. */
static int64_t row_shadow(const struct rctx *r)
{
	int64_t del = r->pdel_ts;
	if (r->truncated_at > del)
		del = r->truncated_at;
	if (r->rowdel.ts > del)
		del = r->rowdel.ts;
	if (!r->is_static) {
		for (size_t i = 0; i < r->n_rts; i++)
			if (r->mem->rts[i].ts > del &&
			    rt_covers(r, &r->mem->rts[i], r->mem->rowck.data, r->mem->rowck.len))
				del = r->mem->rts[i].ts;
	}
	return del;
}

/* The row marker (INSERT liveness) into row, if live and not shadowed by del. */
static void row_marker(const struct rctx *r, int64_t del, struct store_row *row)
{
	struct cellval v;
	if (!r->has_marker || cellval_parse(r->mem->marker.data, r->mem->marker.len, &v) != 0 ||
	    v.ts <= del || !cellval_live(&v, r->now))
		return;
	row->has_marker = true;
	row->marker_ts = v.ts;
	row->marker_ttl = v.ttl;
	row->marker_expiry_s = (v.flags & VAL_EXPIRING) ? v.ldt : 0;
}

/*
 * One gathered cell into o, if it is visible: 1 when it is (its decoded path,
 * if any, appended to r->mem->paths at *path_off, else *path_off = SIZE_MAX),
 * 0 when shadowed by del or a collection deletion, dead and tombstones not
 * wanted, of a dropped column, or unreadable.  *coldel_* track the
 * whole-collection deletion the cells after it are compared with.
 */
static int cell_visible(struct rctx *r, const struct rawcell *c, int64_t del, uint32_t *coldel_col,
                        int64_t *coldel_ts, struct store_cell *o, size_t *path_off)
{
	struct cellval v;
	if (cellval_parse(r->mem->bytes.data + c->val_off, c->val_len, &v))
		return 0;
	if (c->path_len == 0) {
		/* a plain cell, or a whole-collection deletion for path cells after it */
		if (v.flags & VAL_TOMBSTONE) {
			*coldel_col = c->col;
			*coldel_ts = v.ts;
		}
	} else if (c->col == *coldel_col && v.ts <= *coldel_ts) {
		return 0;
	}
	if (v.ts <= del)
		return 0;
	bool live = cellval_live(&v, r->now);
	if (!live && !(r->flags & STORE_READ_TOMBSTONES))
		return 0;
	if (!live && canonical_purged(r, v.ldt))
		return 0;
	/* Cells of a dropped column (id no longer described) are invisible. */
	const struct store_column *col = tdesc_column(r->d, c->col);
	if (!col)
		return 0;
	memset(o, 0, sizeof(*o));
	*path_off = SIZE_MAX;
	if (c->path_len) {
		const struct cqltype *pt = codec_path_type(col->type);
		struct bufreader br;
		bufreader_init(&br, r->mem->bytes.data + c->path_off, c->path_len);
		size_t at = r->mem->paths.len;
		if (!pt || cqltype_decode_ordered(pt, &br, false, &r->mem->paths, NULL) != 0)
			return 0; /* the column's type changed shape or bytes unreadable */
		*path_off = at;
		o->path_len = r->mem->paths.len - at;
	}
	o->col = c->col;
	o->ts = v.ts;
	if (live) {
		o->value = v.value;
		o->value_len = v.value_len;
		o->ttl = v.ttl;
		o->expiry_s = (v.flags & VAL_EXPIRING) ? v.ldt : 0;
	} else {
		o->tombstone = true;
		o->ldt = v.ldt;
	}
	return 1;
}

/* The visible cells of the gathered row into r->mem->out[0..*n_out), *n_live of them live. */
static int row_cells(struct rctx *r, int64_t del, size_t *n_out, size_t *n_live, struct cerr *err)
{
	/* Reverse iteration gathered the cells backwards: order them. */
	if (r->n_cells > 1 && (r->flags & STORE_READ_REVERSE))
		qsort_r(r->mem->cells, r->n_cells, sizeof(*r->mem->cells), cell_path_cmp,
		        r->mem->bytes.data);
	if (r->mem->cap_out < r->n_cells) {
		struct store_cell *o = realloc(r->mem->out, r->n_cells * sizeof(*o));
		if (!o)
			return cerr_set(err, COL_ENOMEM, "storage: out of memory reading a row");
		r->mem->out = o;
		r->mem->cap_out = r->n_cells;
	}
	r->mem->paths.len = 0;
	*n_out = *n_live = 0;
	if (!r->n_cells)
		return 0;
	/* Paths are decoded into r->mem->paths; pointers fixed after (it may grow). */
	if (ARRAY_GROW(r->mem->path_offs, r->mem->cap_path_offs, r->n_cells))
		return cerr_set(err, COL_ENOMEM, "storage: out of memory reading a row");
	size_t *path_offs = r->mem->path_offs;
	uint32_t coldel_col = UINT32_MAX;
	int64_t coldel_ts = INT64_MIN;
	for (size_t i = 0; i < r->n_cells; i++) {
		struct store_cell *o = &r->mem->out[*n_out];
		if (cell_visible(r, &r->mem->cells[i], del, &coldel_col, &coldel_ts, o,
		                 &path_offs[*n_out])) {
			*n_live += !o->tombstone;
			(*n_out)++;
		}
	}
	for (size_t i = 0; i < *n_out; i++)
		if (path_offs[i] != SIZE_MAX)
			/* an empty element decodes to no bytes: paths.data may be NULL */
			r->mem->out[i].path = r->mem->paths.data ? r->mem->paths.data + path_offs[i]
			                                         : (const uint8_t *)"";
	if (!buf_ok(&r->mem->paths))
		return cerr_set(err, COL_ENOMEM, "storage: out of memory reading a row");
	return 0;
}

static int row_finish(struct rctx *r, struct cerr *err)
{
	if (!r->in_row)
		return 0;
	r->in_row = false;
	if (!buf_ok(&r->mem->bytes) || !buf_ok(&r->mem->marker))
		return cerr_set(err, COL_ENOMEM, "storage: out of memory reading a row");
	bool tombs = r->flags & STORE_READ_TOMBSTONES;
	int64_t del = row_shadow(r);
	struct store_row row = {.is_static = r->is_static, .deletion = r->rowdel};
	if (row.deletion.ts != INT64_MIN && canonical_purged(r, row.deletion.ldt))
		row.deletion = (struct store_deletion){.ts = INT64_MIN, .ldt = 0};
	if (!r->is_static) {
		row.ck = r->ck;
		row.n_ck = r->d->pub.n_ck;
	}
	row_marker(r, del, &row);
	size_t n_out = 0, n_live = 0;
	int rc = row_cells(r, del, &n_out, &n_live, err);
	if (rc)
		return rc;
	row.cells = r->mem->out;
	row.n_cells = n_out;
	bool emit = row.has_marker || n_live > 0;
	if (tombs && !emit)
		emit = n_out > 0 || row.deletion.ts != INT64_MIN ||
		       (r->has_marker && !(r->flags & STORE_READ_CANONICAL));
	if (!emit)
		return 0;
	if (!r->is_static)
		r->emitted++;
	rc = r->fn(r->ctx, &r->part, &row);
	if (rc)
		r->stop = rc;
	return 0;
}

/* ---- partition ------------------------------------------------------------------------------- */

/* Set up r->part from a partition prefix (token | escaped key). */
static int partition_begin(struct rctx *r, const uint8_t *p, size_t plen)
{
	r->mem->pkey.len = 0;
	if (codec_partition_prefix_len(p, plen, &r->mem->pkey) != plen || !buf_ok(&r->mem->pkey))
		return COL_ECORRUPT;
	if (codec_pk_split(r->d, r->mem->pkey.data, r->mem->pkey.len, r->pk))
		return COL_ECORRUPT;
	r->part.token = codec_token_load(p);
	r->part.pk = r->pk;
	r->part.n_pk = r->d->pub.n_pk;
	r->part.key = r->mem->pkey.data;
	r->part.key_len = r->mem->pkey.len;
	r->part.deletion.ts = INT64_MIN;
	r->part.deletion.ldt = 0;
	r->pdel_ts = INT64_MIN;
	r->n_rts = 0;
	r->mem->rtbytes.len = 0;
	r->mem->rtnative.len = 0;
	r->n_rtv = 0;
	r->part.rts = NULL;
	r->part.n_rts = 0;
	return 0;
}

/*
 * Parse a bound (components then 0x00/0xFF) at br into rtbytes (offset,
 * length out), its native components into rtnative/rtvoff (*n of them) and
 * the terminator into *term.
 */
static int parse_bound(struct rctx *r, struct bufreader *br, size_t *off, size_t *len, size_t *n,
                       uint8_t *term)
{
	size_t start = br->pos;
	for (size_t i = 0;; i++) {
		if (bufreader_left(br) == 0)
			return COL_ECORRUPT;
		uint8_t b = br->p[br->pos];
		if (b == BOUND_BEFORE || b == BOUND_AFTER) {
			br->pos++;
			*term = b;
			*n = i;
			break;
		}
		if (i >= r->d->pub.n_ck)
			return COL_ECORRUPT;
		bool desc = r->d->pub.ck_desc && r->d->pub.ck_desc[i];
		size_t at = r->mem->rtnative.len;
		if (cqltype_decode_ordered(r->d->pub.ck_types[i], br, desc, &r->mem->rtnative,
		                           NULL))
			return COL_ECORRUPT;
		if (ARRAY_GROW(r->mem->rtvoff, r->mem->cap_rtv, r->n_rtv + 2))
			return COL_ENOMEM;
		r->mem->rtvoff[r->n_rtv++] = at;
		r->mem->rtvoff[r->n_rtv++] = r->mem->rtnative.len - at;
	}
	*off = r->mem->rtbytes.len;
	*len = br->pos - start;
	buf_put(&r->mem->rtbytes, br->p + start, *len);
	return buf_ok(&r->mem->rtbytes) && buf_ok(&r->mem->rtnative) ? 0 : COL_ENOMEM;
}

static int add_range_tombstone(struct rctx *r, const uint8_t *k, size_t kl, size_t at,
                               const struct cellval *v)
{
	struct bufreader br;
	bufreader_init(&br, k, kl);
	br.pos = at;
	struct rtomb rt = {.ts = v->ts, .ldt = v->ldt, .v_at = r->n_rtv / 2};
	uint8_t st = 0, et = 0;
	int rc = parse_bound(r, &br, &rt.start_off, &rt.start_len, &rt.n_start, &st);
	if (!rc)
		rc = parse_bound(r, &br, &rt.end_off, &rt.end_len, &rt.n_end, &et);
	if (rc)
		return rc;
	rt.start_incl = st == BOUND_BEFORE;
	rt.end_incl = et == BOUND_AFTER;
	if (ARRAY_GROW(r->mem->rts, r->mem->cap_rts, r->n_rts + 1))
		return COL_ENOMEM;
	r->mem->rts[r->n_rts++] = rt;
	return 0;
}

/*
 * STORE_READ_HEADERS: publish the partition's range tombstones (native
 * bounds) in r->part and, when it has a deletion or any, report the partition
 * with fn(ctx, p, NULL).
 */
static int report_header(struct rctx *r, struct cerr *err)
{
	if (!(r->flags & STORE_READ_HEADERS))
		return 0;
	size_t nv = r->n_rtv / 2;
	if (ARRAY_GROW(r->mem->rtvals, r->mem->cap_rtvals, nv + 1) ||
	    ARRAY_GROW(r->mem->rtpub, r->mem->cap_rtpub, r->n_rts + 1))
		return cerr_set(err, COL_ENOMEM, "storage: out of memory");
	for (size_t i = 0; i < nv; i++) {
		/* empty components leave rtnative.data NULL */
		r->mem->rtvals[i].p = r->mem->rtnative.data
		                              ? r->mem->rtnative.data + r->mem->rtvoff[2 * i]
		                              : (const uint8_t *)"";
		r->mem->rtvals[i].len = r->mem->rtvoff[2 * i + 1];
	}
	size_t n_pub = 0;
	for (size_t i = 0; i < r->n_rts; i++) {
		const struct rtomb *rt = &r->mem->rts[i];
		if (canonical_purged(r, rt->ldt))
			continue;
		r->mem->rtpub[n_pub++] = (struct store_range_tombstone){
		        .range = {.start = &r->mem->rtvals[rt->v_at],
		                  .n_start = rt->n_start,
		                  .start_incl = rt->start_incl,
		                  .end = &r->mem->rtvals[rt->v_at + rt->n_start],
		                  .n_end = rt->n_end,
		                  .end_incl = rt->end_incl},
		        .deletion = {.ts = rt->ts, .ldt = rt->ldt}};
	}
	r->part.rts = r->mem->rtpub;
	r->part.n_rts = n_pub;
	if (r->part.deletion.ts == INT64_MIN && n_pub == 0)
		return 0;
	int rc = r->fn(r->ctx, &r->part, NULL);
	if (rc)
		r->stop = rc;
	return 0;
}

/* Build the key of a slice bound: P | SEC_ROW | components | terminator. */
static int slice_key(struct rctx *r, struct buf *out, const uint8_t *p, size_t plen,
                     const struct store_value *v, size_t n, uint8_t term, bool is_end,
                     struct cerr *err)
{
	out->len = 0;
	buf_put(out, p, plen);
	buf_put_u8(out, SEC_ROW);
	if (n == 0) {
		/* unbounded: before every row (0x00 is below every marker and kind) or after */
		if (is_end && buf_ok(out))
			out->data[out->len - 1] = SEC_ROW + 1;
		return buf_ok(out) ? 0 : COL_ENOMEM;
	}
	int rc = codec_ck_encode(r->d, v, n, out, err);
	if (rc)
		return rc;
	buf_put_u8(out, term);
	return buf_ok(out) ? 0 : cerr_set(err, COL_ENOMEM, "storage: out of memory");
}

/* Gather the key at the iterator into the current row (starting a new one as needed). */
static int gather(struct rctx *r, const char *kc, size_t kl, size_t plen, struct cerr *err)
{
	const uint8_t *k = (const uint8_t *)kc;
	size_t vl;
	const char *val = rocksdb_iter_value(r->it, &vl);
	/* Row boundary: the key continues the current row's clustering with a kind byte. */
	size_t ck_at = plen + 1;
	size_t rl = r->mem->rowck.len;
	bool same = r->in_row && !r->is_static && kl > ck_at + rl &&
	            (rl == 0 || memcmp(k + ck_at, r->mem->rowck.data, rl) == 0) &&
	            k[ck_at + rl] >= KIND_ROW_DEL && k[ck_at + rl] <= KIND_CELL;
	size_t kind_at;
	if (same) {
		kind_at = ck_at + rl;
	} else {
		int rc = row_finish(r, err);
		if (rc || r->stop)
			return rc;
		if (r->limit && r->emitted >= r->limit)
			return 0;
		struct bufreader br;
		bufreader_init(&br, k, kl);
		br.pos = ck_at;
		r->mem->native.len = 0;
		if (codec_ck_decode(r->d, &br, &r->mem->native, r->ck_off, r->ck_len) ||
		    bufreader_left(&br) == 0)
			return cerr_set(err, COL_ECORRUPT, "table %s: malformed row key",
			                r->t->cf_name);
		kind_at = br.pos;
		r->mem->rowck.len = 0;
		buf_put(&r->mem->rowck, k + ck_at, kind_at - ck_at);
		if (!buf_ok(&r->mem->rowck) || !buf_ok(&r->mem->native))
			return cerr_set(err, COL_ENOMEM, "storage: out of memory");
		for (size_t i = 0; i < r->d->pub.n_ck; i++) {
			/* all-empty clustering values leave native.data NULL */
			r->ck[i].p = r->mem->native.data ? r->mem->native.data + r->ck_off[i]
			                                 : (const uint8_t *)"";
			r->ck[i].len = r->ck_len[i];
		}
		row_begin(r, false);
	}
	uint8_t kind = k[kind_at];
	if (kind == KIND_ROW_DEL) {
		struct cellval v;
		if (cellval_parse(val, vl, &v) == 0 && (v.flags & VAL_TOMBSTONE)) {
			r->rowdel.ts = v.ts;
			r->rowdel.ldt = v.ldt;
		}
	} else if (kind == KIND_MARKER) {
		r->has_marker = true;
		r->mem->marker.len = 0;
		buf_put(&r->mem->marker, val, vl);
	} else if (kind == KIND_CELL && kl >= kind_at + 5) {
		uint32_t col = be32_load(k + kind_at + 1);
		if (row_add_cell(r, col, k + kind_at + 5, kl - kind_at - 5, val, vl))
			return cerr_set(err, COL_ENOMEM, "storage: out of memory");
	}
	return 0;
}

/*
 * Read the partition with prefix p (token | escaped key).  Leaves the iterator
 * anywhere.  Honours r->limit/r->stop.
 */
static int read_partition(struct rctx *r, const uint8_t *p, size_t plen,
                          const struct store_slice *slice, struct cerr *err)
{
	int rc = partition_begin(r, p, plen);
	if (rc)
		return cerr_set(err, COL_ECORRUPT, "table %s: malformed partition key",
		                r->t->cf_name);
	rocksdb_iterator_t *it = r->it;
	bool reverse = r->flags & STORE_READ_REVERSE;
	/* Header keys: partition tombstone, static cells, range tombstones. */
	rocksdb_iter_seek(it, (const char *)p, plen);
	bool static_row = false;
	for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t kl, vl;
		const char *k = rocksdb_iter_key(it, &kl);
		if (!starts_with(k, kl, p, plen) || kl == plen)
			break;
		uint8_t sec = (uint8_t)k[plen];
		if (sec >= SEC_ROW)
			break;
		const char *val = rocksdb_iter_value(it, &vl);
		struct cellval v;
		if (cellval_parse(val, vl, &v))
			continue;
		if (sec == SEC_PARTITION_DEL && (v.flags & VAL_TOMBSTONE)) {
			r->pdel_ts = v.ts;
			if (!canonical_purged(r, v.ldt)) {
				r->part.deletion.ts = v.ts;
				r->part.deletion.ldt = v.ldt;
			}
		} else if (sec == SEC_STATIC && kl >= plen + 5) {
			if (!static_row) {
				row_begin(r, true);
				static_row = true;
			}
			if (row_add_cell(r, be32_load((const uint8_t *)k + plen + 1),
			                 (const uint8_t *)k + plen + 5, kl - plen - 5, val, vl))
				return cerr_set(err, COL_ENOMEM, "storage: out of memory");
		} else if (sec == SEC_RANGE_DEL && (v.flags & VAL_TOMBSTONE)) {
			rc = add_range_tombstone(r, (const uint8_t *)k, kl, plen + 1, &v);
			if (rc)
				return cerr_set(err, rc, "table %s: malformed range tombstone",
				                r->t->cf_name);
		}
	}
	rc = report_header(r, err);
	if (rc || r->stop)
		return rc;
	if (static_row) {
		unsigned saved = r->flags;
		r->flags &= ~(unsigned)STORE_READ_REVERSE; /* gathered in order */
		rc = row_finish(r, err);
		r->flags = saved;
		if (rc || r->stop)
			return rc;
	}
	/* Rows. */
	struct buf *lo = &r->mem->lo, *hi = &r->mem->hi;
	const struct store_slice none = {0};
	if (!slice)
		slice = &none;
	rc = slice_key(r, lo, p, plen, slice->start, slice->n_start,
	               slice->start_incl ? BOUND_BEFORE : BOUND_AFTER, false, err);
	if (!rc)
		rc = slice_key(r, hi, p, plen, slice->end, slice->n_end,
		               slice->end_incl ? BOUND_AFTER : BOUND_BEFORE, true, err);
	if (rc)
		return rc;
	if (reverse) {
		rocksdb_iter_seek_for_prev(it, (const char *)hi->data, hi->len);
	} else if (slice->n_start || !rocksdb_iter_valid(it)) {
		rocksdb_iter_seek(it, (const char *)lo->data, lo->len);
	} else {
		/* The header scan stopped at the first key at or after P|SEC_ROW:
		 * exactly where an unbounded forward read starts. */
		size_t kl;
		const char *k = rocksdb_iter_key(it, &kl);
		if (bytes_compare(k, kl, lo->data, lo->len) < 0)
			rocksdb_iter_seek(it, (const char *)lo->data, lo->len);
	}
	while (rocksdb_iter_valid(it) && !r->stop) {
		size_t kl;
		const char *k = rocksdb_iter_key(it, &kl);
		if (!starts_with(k, kl, p, plen) || kl <= plen || (uint8_t)k[plen] != SEC_ROW)
			break;
		if (reverse ? bytes_compare(k, kl, lo->data, lo->len) <= 0
		            : bytes_compare(k, kl, hi->data, hi->len) >= 0)
			break;
		rc = gather(r, k, kl, plen, err);
		if (rc || r->stop || (r->limit && r->emitted >= r->limit && !r->in_row))
			break;
		if (reverse)
			rocksdb_iter_prev(it);
		else
			rocksdb_iter_next(it);
	}
	if (!rc && !r->stop && (!r->limit || r->emitted < r->limit))
		rc = row_finish(r, err);
	r->in_row = false;
	if (!rc)
		rc = store_iter_error(it, err, "read", r->t->cf_name);
	return rc;
}

int read_partition_held(struct store_table *t, const struct store_value *pk, size_t n_pk,
                        const struct store_slice *slice, unsigned flags, size_t limit,
                        int64_t now_s, store_row_fn fn, void *ctx, struct cerr *err)
{
	struct rctx r;
	int rc = rctx_init(&r, t, flags, limit, now_s, fn, ctx, err);
	if (rc)
		return rc;
	struct read_mem *m = r.mem;
	rc = codec_pk_serialize(r.d, pk, n_pk, &m->key, err);
	if (!rc) {
		struct buf *prefix = &m->prefix;
		codec_partition_prefix(prefix, murmur3_token(m->key.data, m->key.len), m->key.data,
		                       m->key.len);
		/* Bound the iterator to the partition (prefix with its last byte 0x01 ->
		 * 0x02): it stops at the partition's end without loading the next
		 * data block.  The room is made first: appending the buffer to itself must
		 * not read it from where a reallocation moved it away. */
		if (buf_reserve(prefix, prefix->len) == COL_OK)
			buf_put(prefix, prefix->data, prefix->len);
		if (!m->bounded_ro)
			m->bounded_ro = rocksdb_readoptions_create();
		if (!buf_ok(prefix) || !m->bounded_ro) {
			rc = cerr_set(err, COL_ENOMEM, "storage: out of memory");
		} else {
			size_t plen = prefix->len / 2;
			prefix->data[2 * plen - 1] = 0x02;
			/* the options keep a pointer to the bound: it outlives the iterator */
			rocksdb_readoptions_set_iterate_upper_bound(
			        m->bounded_ro, (const char *)prefix->data + plen, plen);
			r.it = rocksdb_create_iterator_cf(t->s->db, m->bounded_ro, t->cf);
			rc = read_partition(&r, prefix->data, plen, slice, err);
		}
	}
	if (!rc)
		rc = r.stop;
	rctx_release(&r);
	return rc;
}

/* ---- token ranges --------------------------------------------------------------------------- */

size_t store_token_spans(int64_t start, int64_t end, struct token_span out[2])
{
	if (start < end) {
		out[0] = (struct token_span){start, end};
		return 1;
	}
	out[0] = (struct token_span){start, INT64_MAX};
	out[1] = (struct token_span){INT64_MIN, end};
	if (start == INT64_MAX)
		return out[0] = out[1], 1;
	return end == INT64_MIN ? 1 : 2;
}

static bool in_subrange(const struct token_span *s, int64_t tok)
{
	return tok > s->start && tok <= s->end;
}

/* Seek to the first key with token > start. */
void store_seek_after_token(rocksdb_iterator_t *it, int64_t start)
{
	uint8_t k[8];
	if (start == INT64_MIN) {
		rocksdb_iter_seek_to_first(it);
		return;
	}
	be64_store(k, ((uint64_t)start ^ (1ULL << 63)) + 1);
	rocksdb_iter_seek(it, (const char *)k, 8);
}

/* Seek past every key of the partition with prefix p (ends in 0x00 0x01). */
static void seek_past_partition(rocksdb_iterator_t *it, struct buf *tmp, const uint8_t *p,
                                size_t plen)
{
	tmp->len = 0;
	buf_put(tmp, p, plen);
	if (!buf_ok(tmp))
		return;
	tmp->data[plen - 1] = 0x02;
	rocksdb_iter_seek(it, (const char *)tmp->data, plen);
}

static int scan_held(struct store_table *t, int64_t start, int64_t end,
                     const struct store_position *after, unsigned flags, size_t limit,
                     int64_t now_s, store_row_fn fn, void *ctx, struct cerr *err)
{
	struct rctx r;
	flags &= ~(unsigned)STORE_READ_REVERSE;
	int rc = rctx_init(&r, t, flags, limit, now_s, fn, ctx, err);
	if (rc)
		return rc;
	r.it = rocksdb_create_iterator_cf(t->s->db, t->s->ro, t->cf);
	struct token_span sr[2];
	size_t nsr = store_token_spans(start, end, sr);
	size_t first = 0;
	struct buf *ap = &r.mem->key, *cur = &r.mem->cur, *tmp = &r.mem->tmp;
	if (after) {
		if (nsr == 2 && in_subrange(&sr[1], after->token))
			first = 1;
		codec_partition_prefix(ap, after->token, after->key, after->key_len);
	}
	for (size_t i = first; i < nsr && !rc && !r.stop; i++) {
		if (after && i == first && in_subrange(&sr[i], after->token)) {
			if (after->n_ck) {
				struct store_slice sl = {.start = after->ck,
				                         .n_start = after->n_ck,
				                         .start_incl = false};
				rc = read_partition(&r, ap->data, ap->len, &sl, err);
				if (rc || r.stop || (limit && r.emitted >= limit))
					break;
			}
			seek_past_partition(r.it, tmp, ap->data, ap->len);
		} else {
			store_seek_after_token(r.it, sr[i].start);
		}
		while (rocksdb_iter_valid(r.it) && !rc && !r.stop) {
			if (limit && r.emitted >= limit)
				break;
			size_t kl;
			const char *k = rocksdb_iter_key(r.it, &kl);
			if (kl < 8 || codec_token_load((const uint8_t *)k) > sr[i].end)
				break;
			size_t plen = codec_partition_prefix_len((const uint8_t *)k, kl, NULL);
			if (plen == 0) {
				rc = cerr_set(err, COL_ECORRUPT, "table %s: malformed key",
				              t->cf_name);
				break;
			}
			cur->len = 0;
			buf_put(cur, k, plen);
			if (!buf_ok(cur)) {
				rc = cerr_set(err, COL_ENOMEM, "storage: out of memory");
				break;
			}
			rc = read_partition(&r, cur->data, cur->len, NULL, err);
			if (rc || r.stop)
				break;
			seek_past_partition(r.it, tmp, cur->data, cur->len);
		}
		if (!rc)
			rc = store_iter_error(r.it, err, "scan", t->cf_name);
		if (limit && r.emitted >= limit)
			break;
	}
	if (!rc)
		rc = r.stop;
	rctx_release(&r);
	return rc;
}

int store_scan_raw(struct store_table *t, int64_t start, int64_t end, store_kv_fn fn, void *ctx,
                   struct cerr *err)
{
	if (!t->cf)
		return cerr_set(err, COL_ECLOSED, "table %s is unusable after a failed truncate",
		                t->cf_name);
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(t->s->db, t->s->ro, t->cf);
	struct token_span sr[2];
	size_t nsr = store_token_spans(start, end, sr);
	int rc = 0;
	for (size_t i = 0; i < nsr && !rc; i++) {
		for (store_seek_after_token(it, sr[i].start); rocksdb_iter_valid(it);
		     rocksdb_iter_next(it)) {
			size_t kl, vl;
			const char *k = rocksdb_iter_key(it, &kl);
			if (kl < 8 || codec_token_load((const uint8_t *)k) > sr[i].end)
				break;
			const char *v = rocksdb_iter_value(it, &vl);
			rc = fn(ctx, k, kl, v, vl);
			if (rc)
				break;
		}
	}
	int erc = store_iter_error(it, err, "scan", t->cf_name);
	rocksdb_iter_destroy(it);
	return erc ? erc : rc;
}

/* The public reads hold the table's column family (storage_int.h, cf_lock) while they run. */
int store_read_partition(struct store_table *t, const struct store_value *pk, size_t n_pk,
                         const struct store_slice *slice, unsigned flags, size_t limit,
                         int64_t now_s, store_row_fn fn, void *ctx, struct cerr *err)
{
	pthread_rwlock_rdlock(&t->s->cf_lock);
	int rc = read_partition_held(t, pk, n_pk, slice, flags, limit, now_s, fn, ctx, err);
	pthread_rwlock_unlock(&t->s->cf_lock);
	return rc;
}

int store_scan(struct store_table *t, int64_t start, int64_t end,
               const struct store_position *after, unsigned flags, size_t limit, int64_t now_s,
               store_row_fn fn, void *ctx, struct cerr *err)
{
	pthread_rwlock_rdlock(&t->s->cf_lock);
	int rc = scan_held(t, start, end, after, flags, limit, now_s, fn, ctx, err);
	pthread_rwlock_unlock(&t->s->cf_lock);
	return rc;
}
