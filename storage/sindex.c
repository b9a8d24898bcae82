/*
 * sindex.c — secondary indexes: entries written with the base data, index
 * reads checked against the base rows, the sindex CF's compaction filter, and
 * the builder thread (layout and rules: storage.h, SECONDARY INDEXES).
 */
#include "storage/storage_int.h"

#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/murmur3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD          "storage"
#define IX_PREFIX    22 /* table id 16, on 1, col 4, kind 1 */
#define BUILT_PREFIX "ixbuilt/"

void sindex_scratch_init(struct sindex_scratch *x)
{
	buf_init(&x->key);
	buf_init(&x->val);
	buf_init(&x->a);
	buf_init(&x->b);
}

void sindex_scratch_release(struct sindex_scratch *x)
{
	buf_release(&x->key);
	buf_release(&x->val);
	buf_release(&x->a);
	buf_release(&x->b);
}

static void ix_prefix(struct buf *b, const uint8_t tid[16], const struct store_index *ix)
{
	buf_put(b, tid, 16);
	buf_put_u8(b, ix->on);
	buf_put_u32be(b, ix->col);
	buf_put_u8(b, ix->kind);
}

static bool ix_same(const struct store_index *a, const struct store_index *b)
{
	return a->on == b->on && a->kind == b->kind && a->col == b->col;
}

static const struct store_index *tdesc_index(const struct tdesc *d, const struct store_index *ix)
{
	for (size_t i = 0; d && i < d->pub.n_indexes; i++)
		if (ix_same(&d->indexes[i], ix))
			return &d->indexes[i];
	return NULL;
}

/* ---- entries of a base pair ------------------------------------------------------------------ */

/* A table CF pair taken apart: where its row prefix ends, what it holds. */
struct basepair {
	size_t plen; /* partition prefix */
	size_t rlen; /* row prefix: partition prefix, section, clustering */
	uint8_t sec, kind;
	const struct store_column *col; /* cells and static cells */
	struct bufreader path;          /* the encoded path (cells of non-frozen collections) */
	struct cellval v;
};

static bool base_parse(const struct tdesc *d, const uint8_t *k, size_t kl, const uint8_t *v,
                       size_t vl, struct basepair *bp, struct buf *scratch)
{
	if (cellval_parse(v, vl, &bp->v) || (bp->v.flags & VAL_TOMBSTONE))
		return false;
	bp->plen = codec_partition_prefix_len(k, kl, NULL);
	if (bp->plen == 0 || bp->plen >= kl)
		return false;
	bp->sec = k[bp->plen];
	bp->col = NULL;
	struct bufreader r;
	bufreader_init(&r, k, kl);
	r.pos = bp->plen + 1;
	if (bp->sec == SEC_STATIC) {
		bp->kind = KIND_CELL;
	} else if (bp->sec == SEC_ROW) {
		if (codec_ck_skip(d, &r, scratch) || bufreader_left(&r) == 0)
			return false;
		bp->kind = bufreader_u8(&r);
	} else {
		return false;
	}
	bp->rlen = bp->sec == SEC_STATIC ? bp->plen + 1 : r.pos - 1;
	if (bp->kind == KIND_CELL) {
		uint32_t id = bufreader_u32be(&r);
		if (!bufreader_ok(&r) || !(bp->col = tdesc_column(d, id)))
			return false;
		bufreader_init(&bp->path, k + r.pos, kl - r.pos);
	} else if (bp->kind != KIND_MARKER) {
		return false;
	}
	return true;
}

/* The indexed value(s) of bp for ix into x->a (escaped, ready for the key): false if
 * the pair holds none for ix. */
static bool entry_value(const struct tdesc *d, const struct store_index *ix, const uint8_t *k,
                        const struct basepair *bp, struct sindex_scratch *x)
{
	x->a.len = 0;
	if (ix->on != STORE_IX_COLUMN) {
		if (bp->sec != SEC_ROW)
			return false;
		x->b.len = 0;
		if (ix->on == STORE_IX_PK) {
			struct store_value pk[STORE_MAX_PK_COLS];
			if (!codec_partition_prefix_len(k, bp->plen, &x->b) ||
			    codec_pk_split(d, x->b.data, x->b.len, pk) || ix->col >= d->pub.n_pk)
				return false;
			buf_put_escaped(&x->a, pk[ix->col].p, pk[ix->col].len);
			return true;
		}
		size_t offs[STORE_MAX_CK_COLS], lens[STORE_MAX_CK_COLS];
		struct bufreader r;
		bufreader_init(&r, k, bp->rlen);
		r.pos = bp->plen + 1;
		if (ix->col >= d->pub.n_ck || codec_ck_decode(d, &r, &x->b, offs, lens))
			return false;
		buf_put_escaped(&x->a, x->b.data + offs[ix->col], lens[ix->col]);
		return true;
	}
	if (bp->kind != KIND_CELL || bp->col->id != ix->col)
		return false;
	const struct cqltype *pt = codec_path_type(bp->col->type);
	const uint8_t *path = NULL;
	size_t path_len = 0;
	if (pt) {
		struct bufreader r = bp->path;
		x->b.len = 0;
		if (bufreader_left(&r) == 0)
			return false; /* a whole collection's deletion carries no element */
		if (cqltype_decode_ordered(pt, &r, false, &x->b, NULL))
			return false;
		path = x->b.data;
		path_len = x->b.len;
	}
	bool set = pt && bp->col->type->kind == CQLTYPE_SET;
	switch (ix->kind) {
	case STORE_IX_VALUES:
		if (set)
			buf_put_escaped(&x->a, path, path_len);
		else
			buf_put_escaped(&x->a, bp->v.value, bp->v.value_len);
		return true;
	case STORE_IX_KEYS:
	case STORE_IX_ENTRIES:
		if (!pt || bp->col->type->kind != CQLTYPE_MAP)
			return false;
		buf_put_escaped(&x->a, path, path_len);
		if (ix->kind == STORE_IX_ENTRIES)
			buf_put_escaped(&x->a, bp->v.value, bp->v.value_len);
		return true;
	default: return false;
	}
}

int sindex_emit(struct store *s, const struct tdesc *d, const struct store_index *only,
                const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, rocksdb_writebatch_t *wb,
                struct sindex_scratch *x)
{
	if (!d || d->pub.n_indexes == 0)
		return 0;
	struct basepair bp;
	if (!base_parse(d, k, kl, v, vl, &bp, &x->b))
		return 0;
	for (size_t i = 0; i < d->pub.n_indexes; i++) {
		const struct store_index *ix = &d->indexes[i];
		if (only && !ix_same(only, ix))
			continue;
		if (!entry_value(d, ix, k, &bp, x))
			continue;
		x->key.len = 0;
		ix_prefix(&x->key, d->pub.id, ix);
		buf_put(&x->key, x->a.data, x->a.len);
		buf_put(&x->key, k, bp.rlen);
		x->val.len = 0;
		if (ix->on == STORE_IX_COLUMN)
			cellval_put(&x->val, bp.v.flags & VAL_EXPIRING, bp.v.ts, bp.v.ttl, bp.v.ldt,
			            NULL, 0);
		else
			cellval_put(&x->val, 0, bp.v.ts, 0, 0, NULL, 0);
		if (!buf_ok(&x->key) || !buf_ok(&x->val) || !buf_ok(&x->a))
			return COL_ENOMEM;
		rocksdb_writebatch_merge_cf(wb, s->cf_sindex, (const char *)x->key.data, x->key.len,
		                            (const char *)x->val.data, x->val.len);
	}
	return 0;
}

/* ---- the sindex CF --------------------------------------------------------------------------- */

static void ixf_destroy(void *state)
{
	(void)state;
}

static const char *ixf_name(void *state)
{
	(void)state;
	return "colonnade.sindex.gc.v1";
}

/* Expired entries and old tombstones go (storage.h, MAINTENANCE). */
static unsigned char ixf_filter(void *state, int level, const char *key, size_t klen,
                                const char *val, size_t vlen, char **new_value, size_t *new_len,
                                unsigned char *changed)
{
	const struct store *s = state;
	(void)level;
	(void)key;
	(void)klen;
	(void)new_value;
	(void)new_len;
	*changed = 0;
	struct cellval v;
	if (cellval_parse(val, vlen, &v))
		return 0;
	int64_t ov = atomic_load(&s->ix_now_override);
	int64_t now = ov ? ov : clock_wall_s();
	if (v.flags & VAL_TOMBSTONE)
		return (int64_t)v.ldt + STORE_INDEX_TOMB_GRACE < now;
	return (v.flags & VAL_EXPIRING) && (int64_t)v.ldt <= now;
}

static rocksdb_compactionfilter_t *ixf_create(void *state, rocksdb_compactionfiltercontext_t *ctx)
{
	(void)ctx;
	return rocksdb_compactionfilter_create(state, ixf_destroy, ixf_filter, ixf_name);
}

static const char *ixf_factory_name(void *state)
{
	(void)state;
	return "colonnade.sindex.gc.factory.v1";
}

rocksdb_options_t *sindex_cf_options(struct store *s)
{
	rocksdb_options_t *o = rocksdb_options_create();
	rocksdb_options_set_block_based_table_factory(o, s->bbto);
	rocksdb_options_set_compression(o, rocksdb_no_compression);
	rocksdb_options_set_write_buffer_size(o, s->opt.write_buffer_bytes);
	rocksdb_options_set_merge_operator(o, merge_operator_new());
	rocksdb_options_set_compaction_filter_factory(
	        o, rocksdb_compactionfilterfactory_create(s, ixf_destroy, ixf_create,
	                                                  ixf_factory_name));
	return o;
}

static void delete_prefix(struct store *s, const uint8_t *p, size_t plen, const char *what)
{
	uint8_t end[IX_PREFIX];
	memcpy(end, p, plen);
	size_t n = plen;
	while (n > 0 && end[n - 1] == 0xFF)
		n--;
	if (n == 0)
		return;
	end[n - 1]++;
	char *rerr = NULL;
	rocksdb_delete_range_cf(s->db, s->wo, s->cf_sindex, (const char *)p, plen,
	                        (const char *)end, n, &rerr);
	if (rerr) {
		log_error(MOD, "deleting the index entries of %s: %s", what, rerr);
		free(rerr);
	}
}

void sindex_compact_table(struct store *s, const uint8_t id[16], int64_t now_s)
{
	uint8_t end[16];
	memcpy(end, id, 16);
	size_t n = 16;
	while (n > 0 && end[n - 1] == 0xFF)
		n--;
	rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
	rocksdb_flushoptions_set_wait(fo, 1);
	char *rerr = NULL;
	rocksdb_flush_cf(s->db, fo, s->cf_sindex, &rerr);
	rocksdb_flushoptions_destroy(fo);
	if (rerr) {
		log_error(MOD, "flushing the index entries before a compaction: %s", rerr);
		free(rerr);
	}
	atomic_store(&s->ix_now_override, now_s);
	rocksdb_compactoptions_t *co = rocksdb_compactoptions_create();
	rocksdb_compactoptions_set_bottommost_level_compaction(co, 2);
	if (n > 0) {
		end[n - 1]++;
		rocksdb_compact_range_cf_opt(s->db, s->cf_sindex, co, (const char *)id, 16,
		                             (const char *)end, n);
	}
	rocksdb_compactoptions_destroy(co);
	atomic_store(&s->ix_now_override, 0);
}

void sindex_index_gone(struct store *s, const uint8_t tid[16], const struct store_index *ix)
{
	struct buf p;
	buf_init(&p);
	ix_prefix(&p, tid, ix);
	if (buf_ok(&p))
		delete_prefix(s, p.data, p.len, "a dropped index");
	buf_release(&p);
	sindex_forget_built(s, tid, ix);
}

void sindex_table_gone(struct store *s, const uint8_t id[16], bool forget_built)
{
	char hex[33];
	hex_encode(id, 16, hex);
	delete_prefix(s, id, 16, hex);
	if (!forget_built)
		return;
	char k[64];
	size_t kl = (size_t)snprintf(k, sizeof(k), BUILT_PREFIX "%s", hex);
	struct cerr e = {0};
	if (store_kv_delete_prefix(s, STORE_CF_SYSTEM, k, kl, &e))
		log_warn(MOD, "forgetting the index builds of t_%s: %s", hex, e.msg);
}

bool store_index_built(struct store_table *t, const struct store_index *ix)
{
	return tdesc_index(table_tdesc(t), ix) && sindex_is_built(t->s, t->id, ix);
}

int sindex_desc_check(const struct store_table_desc *d, struct cerr *err)
{
	const char *ks = d->keyspace ? d->keyspace : "?", *nm = d->name ? d->name : "?";
	if (d->n_indexes > STORE_MAX_INDEXES || (d->n_indexes && !d->indexes))
		return cerr_set(err, COL_EINVAL, "table %s.%s: at most %d indexes", ks, nm,
		                STORE_MAX_INDEXES);
	for (size_t i = 0; i < d->n_indexes; i++) {
		const struct store_index *ix = &d->indexes[i];
		const struct cqltype *type = NULL;
		if (ix->on == STORE_IX_COLUMN) {
			for (size_t c = 0; c < d->n_cols && !type; c++)
				if (d->cols[c].id == ix->col)
					type = d->cols[c].type;
		} else if (ix->on == STORE_IX_PK && ix->col < d->n_pk) {
			type = d->pk_types[ix->col];
		} else if (ix->on == STORE_IX_CK && ix->col < d->n_ck) {
			type = d->ck_types[ix->col];
		}
		bool map = type && type->kind == CQLTYPE_MAP && !type->frozen;
		if (!type || ix->kind > STORE_IX_ENTRIES ||
		    (ix->kind != STORE_IX_VALUES && (!map || ix->on != STORE_IX_COLUMN)))
			return cerr_set(err, COL_EINVAL,
			                "table %s.%s: index %zu names no column it can index", ks,
			                nm, i);
		for (size_t k = 0; k < i; k++)
			if (ix_same(&d->indexes[k], ix))
				return cerr_set(err, COL_EINVAL,
				                "table %s.%s: index %zu appears twice", ks, nm, i);
	}
	return 0;
}
