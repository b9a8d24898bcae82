/*
 * store.c — opening and closing the RocksDB database, the column families,
 * the plain key/value CFs, table lifecycle, the LWW merge operator and the
 * compaction filter.  Layouts and rules: storage.h.
 */
#include "storage/storage_int.h"

#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MOD             "storage"
#define CF_SYSTEM       "system"
#define CF_HINTS        "hints"
#define CF_SINDEX       "sindex"
#define CF_TABLE_PREFIX "t_"
#define PID_FILE        "colonnade.pid"

void store_options_init(struct store_options *o)
{
	memset(o, 0, sizeof(*o));
	o->sync = STORE_SYNC_PERIODIC;
	o->sync_period_ms = 10000; /* Cassandra's commitlog_sync_period default */
	/* Block cache and memtables are most of a node's memory: 128 MiB each keeps a node
	 * under ~400 MiB resident (docs/STORAGE.md, "Memory"); operators size them to their RAM. */
	o->block_cache_bytes = 128u << 20;
	/* RocksDB's default; bigger memtables: fewer L0 files, a longer replay after a crash */
	o->write_buffer_bytes = 64u << 20;
	o->memtable_budget_bytes = 128u << 20;
	/* One flush and one compaction thread: this project's machines have 2 cores. */
	o->background_jobs = 2;
	/* At 10-40k writes/s, a fraction of a second of writes: a stall longer than that is
	 * answered Overloaded rather than queued past every client's timeout. */
	o->write_queue_max = 4096;
	o->write_queue_max_bytes = 64u << 20;
	o->write_inline = true;
}

int store_rocks_err(struct cerr *err, char *rerr, const char *what, const char *name)
{
	log_error(MOD, "%s%s%s: %s", what, name ? " " : "", name ? name : "",
	          rerr ? rerr : "unknown error");
	int rc = cerr_set(err, COL_EIO, "storage: %s%s%s failed: %s", what, name ? " " : "",
	                  name ? name : "", rerr ? rerr : "unknown error");
	free(rerr);
	return rc;
}

int store_iter_error(rocksdb_iterator_t *it, struct cerr *err, const char *what, const char *name)
{
	char *rerr = NULL;
	rocksdb_iter_get_error(it, &rerr);
	return rerr ? store_rocks_err(err, rerr, what, name) : 0;
}

/* ---- merge operator ------------------------------------------------------------------------- */

/*
 * The newest of the existing value and the operands, handed back as it is (no copy):
 * RocksDB's C API copies a merge's result into its own string before it calls
 * delete_value, within the call, while the operands are still valid (db/c.cc,
 * MergeOperatorWrapper), so merge_delete_value has nothing to free.  Every read of a
 * cell merges (cells are written as merge operands), so this saves an allocation and a
 * copy per cell read, flushed or compacted.
 */
static char *merge_pick(const char *existing, size_t existing_len, const char *const *ops,
                        const size_t *lens, int n, unsigned char *success, size_t *new_len)
{
	static char empty[1];
	const char *best = existing;
	size_t best_len = existing_len;
	for (int i = 0; i < n; i++) {
		if (!best || cellval_reconcile_cmp(ops[i], lens[i], best, best_len) > 0) {
			best = ops[i];
			best_len = lens[i];
		}
	}
	*new_len = best ? best_len : 0;
	*success = 1;
	return best ? (char *)best : empty;
}

static char *merge_full(void *state, const char *key, size_t klen, const char *existing,
                        size_t existing_len, const char *const *ops, const size_t *lens, int n,
                        unsigned char *success, size_t *new_len)
{
	(void)state, (void)key, (void)klen;
	return merge_pick(existing, existing_len, ops, lens, n, success, new_len);
}

static char *merge_partial(void *state, const char *key, size_t klen, const char *const *ops,
                           const size_t *lens, int n, unsigned char *success, size_t *new_len)
{
	(void)state;
	(void)key;
	(void)klen;
	return merge_pick(NULL, 0, ops, lens, n, success, new_len);
}

/* merge_pick's results are operands RocksDB owns: nothing to free. */
static void merge_delete_value(void *state, const char *value, size_t len)
{
	(void)state, (void)value, (void)len;
}

static void noop_destructor(void *state)
{
	(void)state;
}
static const char *merge_name(void *state)
{
	(void)state;
	return "colonnade.lww.v1";
}

rocksdb_mergeoperator_t *merge_operator_new(void)
{
	return rocksdb_mergeoperator_create(NULL, noop_destructor, merge_full, merge_partial,
	                                    merge_delete_value, merge_name);
}

/* ---- compaction filter ---------------------------------------------------------------------- */

struct cfilter {
	struct cf_state *st;
	const struct tdesc *d;
	int64_t now;
	int32_t gc;     /* -1 unknown */
	bool gc_repair; /* tombstone_gc 'repair' */
	const struct repaired_set *repaired;
	bool full;       /* full manual compaction: may purge partition/row/range tombstones */
	struct buf part; /* current partition prefix */
	int64_t part_del;
	/* range tombstones of the partition: [u32 sl][start][u32 el][end][u64 ts] */
	struct buf rts;
	bool rts_lost;  /* one could not be recorded (no memory): purge none in the partition */
	struct buf row; /* current row prefix (through the clustering) */
	int64_t row_del;
	struct buf scratch, out;
};

/* Purgeable: past gc_grace and, in tombstone_gc 'repair', repaired since it was written. */
static bool past_gc(const struct cfilter *f, const uint8_t *k, uint32_t ldt)
{
	if (!tomb_purgeable(f->gc, ldt, f->now))
		return false;
	return !f->gc_repair || repaired_at(f->repaired, codec_token_load(k)) > (int64_t)ldt;
}

static unsigned char cfilter_filter(void *state, int level, const char *key, size_t klen,
                                    const char *val, size_t vlen, char **new_value, size_t *new_len,
                                    unsigned char *changed)
{
	(void)level;
	struct cfilter *f = state;
	const uint8_t *k = (const uint8_t *)key;
	struct cellval v;
	*changed = 0;
	if (cellval_parse(val, vlen, &v))
		return 0; /* never drop what we do not understand */
	size_t plen = codec_partition_prefix_len(k, klen, NULL);
	if (plen == 0 || plen >= klen)
		return 0;
	if (f->part.len != plen || memcmp(f->part.data, k, plen) != 0) {
		f->part.len = 0;
		buf_put(&f->part, k, plen);
		if (!buf_ok(&f->part)) { /* cannot track: keep everything */
			f->part.oom = false;
			f->part.len = 0;
			return 0;
		}
		f->part_del = INT64_MIN;
		f->rts.len = 0;
		f->rts_lost = false;
		f->row.len = 0;
		f->row_del = INT64_MIN;
	}
	bool tomb = v.flags & VAL_TOMBSTONE;
	uint8_t sec = k[plen];
	switch (sec) {
	case SEC_PARTITION_DEL:
		if (tomb && v.ts > f->part_del)
			f->part_del = v.ts;
		return tomb && f->full && past_gc(f, k, v.ldt);
	case SEC_RANGE_DEL: {
		/* Remembered so that the rows after it drop the cells it shadows; it
		 * may then be purged like a row tombstone. */
		if (!f->d || !tomb)
			return 0;
		size_t sl, el;
		if (!codec_range_bounds(f->d, k, klen, plen, &sl, &el, &f->scratch))
			return 0;
		if (codec_rts_add(&f->rts, k + plen + 1, sl, el, v.ts)) {
			/* Out of memory: this one is not tracked (the cells it shadows
			 * are kept), so no range tombstone of the partition is purged
			 * from here on. */
			f->rts_lost = true;
			return 0;
		}
		if (f->rts_lost)
			return 0;
		return f->full && past_gc(f, k, v.ldt);
	}
	case SEC_STATIC:
		if (v.ts <= f->part_del)
			return 1;
		break;
	case SEC_ROW: {
		if (!f->d)
			break;
		struct bufreader r;
		bufreader_init(&r, k, klen);
		r.pos = plen + 1;
		if (codec_ck_skip(f->d, &r, &f->scratch) || bufreader_left(&r) == 0)
			return 0;
		size_t rlen = r.pos;
		uint8_t kind = k[rlen];
		if (f->row.len != rlen || memcmp(f->row.data, k, rlen) != 0) {
			f->row.len = 0;
			buf_put(&f->row, k, rlen);
			f->row_del = INT64_MIN;
			if (!buf_ok(&f->row)) { /* cannot track: keep everything */
				f->row.oom = false;
				f->row.len = 0;
				return 0;
			}
		}
		if (kind == KIND_ROW_DEL) {
			if (tomb && v.ts > f->row_del)
				f->row_del = v.ts;
			return tomb && f->full && past_gc(f, k, v.ldt);
		}
		if (v.ts <= f->part_del || v.ts <= f->row_del)
			return 1;
		if (codec_rts_shadow(&f->rts, k + plen + 1, rlen - plen - 1, v.ts))
			return 1;
		break;
	}
	default: return 0;
	}
	/* A cell, a row marker or a static cell that nothing shadows. */
	if (!tomb && (v.flags & VAL_EXPIRING) && (int64_t)v.ldt <= f->now) {
		if (past_gc(f, k, v.ldt))
			return 1;
		f->out.len = 0;
		cellval_put(&f->out, VAL_TOMBSTONE, v.ts, 0, v.ldt, NULL, 0);
		if (!buf_ok(&f->out))
			return 0;
		*new_value = (char *)f->out.data;
		*new_len = f->out.len;
		*changed = 1;
		return 0;
	}
	return tomb && past_gc(f, k, v.ldt);
}

static void cfilter_destroy(void *state)
{
	struct cfilter *f = state;
	buf_release(&f->part);
	buf_release(&f->rts);
	buf_release(&f->row);
	buf_release(&f->scratch);
	buf_release(&f->out);
	free(f);
}

static const char *cfilter_name(void *state)
{
	(void)state;
	return "colonnade.gc.v1";
}

static rocksdb_compactionfilter_t *cfilter_create(void *state,
                                                  rocksdb_compactionfiltercontext_t *ctx)
{
	struct cf_state *st = state;
	struct cfilter *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->st = st;
	f->d = atomic_load(&st->desc);
	int64_t ov = atomic_load(&st->now_override);
	f->now = ov ? ov : clock_wall_s();
	f->gc = atomic_load(&st->gc_grace);
	f->gc_repair = atomic_load(&st->gc_repair);
	f->repaired = atomic_load(&st->repaired);
	/* Purging a partition/row/range tombstone is safe only when every cell it
	 * shadows passes through this filter in the same compaction: a full
	 * compaction whose inputs are all values.  Pass 1 of store_table_compact
	 * can be full too, but merges operands into values that the filter never
	 * sees; pass 2 rewrites the bottom level, which then holds only values. */
	f->full = rocksdb_compactionfiltercontext_is_full_compaction(ctx) &&
	          rocksdb_compactionfiltercontext_is_manual_compaction(ctx) &&
	          atomic_load(&st->purge_pass);
	buf_init(&f->part);
	buf_init(&f->rts);
	buf_init(&f->row);
	buf_init(&f->scratch);
	buf_init(&f->out);
	f->part_del = f->row_del = INT64_MIN;
	return rocksdb_compactionfilter_create(f, cfilter_destroy, cfilter_filter, cfilter_name);
}

static const char *cfactory_name(void *state)
{
	(void)state;
	return "colonnade.gc.factory.v1";
}

rocksdb_compactionfilterfactory_t *cfilter_factory_new(struct cf_state *st)
{
	return rocksdb_compactionfilterfactory_create(st, noop_destructor, cfilter_create,
	                                              cfactory_name);
}

/* ---- options -------------------------------------------------------------------------------- */

static rocksdb_options_t *kv_cf_options(struct store *s)
{
	rocksdb_options_t *o = rocksdb_options_create();
	rocksdb_options_set_block_based_table_factory(o, s->bbto);
	rocksdb_options_set_compression(o, rocksdb_no_compression);
	return o;
}

/* The prefix extractor: a key's partition prefix (token | escaped partition
 * key).  Bloom filters are built over it, so seeking into a partition skips
 * every SST file (and memtable) that holds nothing of it. */
static char *prefix_transform(void *state, const char *key, size_t len, size_t *dst_len)
{
	(void)state;
	*dst_len = codec_partition_prefix_len((const uint8_t *)key, len, NULL);
	return (char *)key;
}

static unsigned char prefix_in_domain(void *state, const char *key, size_t len)
{
	(void)state;
	return codec_partition_prefix_len((const uint8_t *)key, len, NULL) != 0;
}

static unsigned char prefix_in_range(void *state, const char *key, size_t len)
{
	(void)state, (void)key, (void)len;
	return 0;
}

static const char *prefix_name(void *state)
{
	(void)state;
	return "colonnade.partition.v1";
}

/*
 * A flush also puts the blocks it writes into the block cache (RocksDB's
 * prepopulate_block_cache = kFlushOnly): else the first reads after a flush fetch
 * every block from the file, a pread, a copy and an allocation each — a quarter of a
 * QUORUM read's CPU right after writes (docs/PERFORMANCE.md, "QUORUM reads against
 * writes").  7.8's C API has no setter: the options string keeps the factory's cache
 * and filter.  On failure o comes back unchanged and the reason is logged.
 */
static rocksdb_options_t *warm_flushes(rocksdb_options_t *o)
{
	rocksdb_options_t *w = rocksdb_options_create();
	char *err = NULL;
	rocksdb_get_options_from_string(
	        o, "block_based_table_factory={prepopulate_block_cache=kFlushOnly}", w, &err);
	if (err) {
		log_warn(MOD, "flushed blocks will not be cached: %s", err);
		free(err);
		rocksdb_options_destroy(w);
		return o;
	}
	rocksdb_options_destroy(o);
	return w;
}

static rocksdb_options_t *table_cf_options(struct store *s, struct cf_state *st)
{
	rocksdb_options_t *o = rocksdb_options_create();
	rocksdb_options_set_block_based_table_factory(o, s->bbto_tables);
	rocksdb_options_set_prefix_extractor(
	        o, rocksdb_slicetransform_create(NULL, noop_destructor, prefix_transform,
	                                         prefix_in_domain, prefix_in_range, prefix_name));
	/* A small prefix bloom in each memtable makes reads of absent partitions
	 * skip the memtable's skip list. */
	rocksdb_options_set_memtable_prefix_bloom_size_ratio(o, 0.02);
	/* No compression: on 2 cores compaction CPU is the write bottleneck, and
	 * db_bench's anchors are measured the same way. */
	rocksdb_options_set_compression(o, rocksdb_no_compression);
	rocksdb_options_set_write_buffer_size(o, s->opt.write_buffer_bytes);
	if (s->opt.max_memtables > 0)
		rocksdb_options_set_max_write_buffer_number(o, s->opt.max_memtables);
	if (s->opt.l0_compaction_trigger > 0)
		rocksdb_options_set_level0_file_num_compaction_trigger(
		        o, s->opt.l0_compaction_trigger);
	if (s->opt.l0_slowdown_trigger > 0)
		rocksdb_options_set_level0_slowdown_writes_trigger(o, s->opt.l0_slowdown_trigger);
	if (s->opt.l0_stop_trigger > 0)
		rocksdb_options_set_level0_stop_writes_trigger(o, s->opt.l0_stop_trigger);
	/* Most data lives in the last level; bounds space amplification. */
	rocksdb_options_set_level_compaction_dynamic_level_bytes(o, 1);
	/* One filter instance per compaction sees the keys in order: the
	 * partition/row tombstone tracking needs that (no subcompactions). */
	rocksdb_options_set_max_subcompactions(o, 1);
	rocksdb_options_set_merge_operator(o, merge_operator_new());
	rocksdb_options_set_compaction_filter_factory(o, cfilter_factory_new(st));
	return warm_flushes(o);
}

static struct cf_state *cf_state_new(struct store *s)
{
	struct cf_state *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	atomic_init(&st->gc_grace, -1);
	atomic_init(&st->now_override, 0);
	atomic_init(&st->purge_pass, 0);
	atomic_init(&st->desc, NULL);
	atomic_init(&st->truncated_at, INT64_MIN);
	atomic_init(&st->gc_repair, s->gc_repair);
	atomic_init(&st->repaired, NULL);
	st->next = s->states;
	s->states = st;
	return st;
}

static bool parse_table_cf(const char *name, uint8_t id[16])
{
	if (strncmp(name, CF_TABLE_PREFIX, 2) != 0 || strlen(name) != 34)
		return false;
	return hex_decode(name + 2, 16, id);
}

/* ---- open / close --------------------------------------------------------------------------- */

static void *syncer_main(void *arg)
{
	struct store *s = arg;
	pthread_setname_np(pthread_self(), "colonnade-sync");
	pthread_mutex_lock(&s->sync_mu);
	while (!s->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)s->opt.sync_period_ms * 1000000u;
		ts.tv_sec += (time_t)(ns / 1000000000u);
		ts.tv_nsec = (long)(ns % 1000000000u);
		pthread_cond_timedwait(&s->sync_cv, &s->sync_mu, &ts);
		if (s->stopping)
			break;
		pthread_mutex_unlock(&s->sync_mu);
		char *rerr = NULL;
		rocksdb_flush_wal(s->db, 1, &rerr);
		if (rerr) {
			log_error(MOD, "periodic WAL sync failed: %s", rerr);
			free(rerr);
		}
		pthread_mutex_lock(&s->sync_mu);
	}
	pthread_mutex_unlock(&s->sync_mu);
	return NULL;
}

static long read_pid_file(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, PID_FILE);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	long pid = 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	return pid;
}

static void write_pid_file(const char *dir)
{
	char path[4096], tmp[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, PID_FILE);
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, PID_FILE);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) == 0)
		rename(tmp, path);
}

static int mkdir_p(const char *dir)
{
	char path[4096];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof(path))
		return -1;
	memcpy(path, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (path[i] == '/' || path[i] == 0) {
			char c = path[i];
			path[i] = 0;
			if (mkdir(path, 0755) != 0 && errno != EEXIST)
				return -1;
			path[i] = c;
		}
	}
	return 0;
}

static void store_free_all(struct store *s)
{
	for (struct store_table *t = s->tables; t;) {
		struct store_table *next = t->next;
		if (t->cf)
			rocksdb_column_family_handle_destroy(t->cf);
		free(t);
		t = next;
	}
	s->tables = NULL;
	if (s->cf_default)
		rocksdb_column_family_handle_destroy(s->cf_default);
	if (s->cf_system)
		rocksdb_column_family_handle_destroy(s->cf_system);
	if (s->cf_hints)
		rocksdb_column_family_handle_destroy(s->cf_hints);
	if (s->cf_sindex)
		rocksdb_column_family_handle_destroy(s->cf_sindex);
	if (s->db)
		rocksdb_close(s->db);
	/* Descriptors and CF states outlive the DB (compactions read them). */
	for (struct cf_state *st = s->states; st;) {
		struct cf_state *next = st->next;
		struct tdesc *d = atomic_load(&st->desc);
		if (d) {
			d->retired_next = s->retired;
			s->retired = d;
		}
		free(atomic_load(&st->repaired));
		free(st);
		st = next;
	}
	for (struct repaired_set *rs = s->repaired_retired; rs;) {
		struct repaired_set *next = rs->retired_next;
		free(rs);
		rs = next;
	}
	for (struct tdesc *d = s->retired; d;) {
		struct tdesc *next = d->retired_next;
		for (size_t i = 0; i < d->pub.n_pk; i++)
			cqltype_free(d->pub.pk_types[i]);
		for (size_t i = 0; i < d->pub.n_ck; i++)
			cqltype_free(d->pub.ck_types[i]);
		for (size_t i = 0; i < d->pub.n_cols; i++)
			cqltype_free(d->cols[i].type);
		free((void *)d->pub.pk_types);
		free((void *)d->pub.ck_types);
		free((void *)d->pub.ck_desc);
		free(d->cols);
		free(d->indexes);
		free((void *)d->pub.keyspace);
		free((void *)d->pub.name);
		free(d);
		d = next;
	}
	if (s->wo)
		rocksdb_writeoptions_destroy(s->wo);
	if (s->wo_nostall)
		rocksdb_writeoptions_destroy(s->wo_nostall);
	if (s->wo_kv_nostall)
		rocksdb_writeoptions_destroy(s->wo_kv_nostall);
	if (s->ro)
		rocksdb_readoptions_destroy(s->ro);
	if (s->bbto)
		rocksdb_block_based_options_destroy(s->bbto);
	if (s->bbto_tables)
		rocksdb_block_based_options_destroy(s->bbto_tables);
	if (s->cache)
		rocksdb_cache_destroy(s->cache);
	if (s->db_opts)
		rocksdb_options_destroy(s->db_opts);
	pthread_mutex_destroy(&s->lock);
	pthread_rwlock_destroy(&s->cf_lock);
	pthread_mutex_destroy(&s->sync_mu);
	pthread_cond_destroy(&s->sync_cv);
	pthread_mutex_destroy(&s->wq_mu);
	pthread_cond_destroy(&s->wq_cv);
	pthread_cond_destroy(&s->wq_done);
	store_bgprio_free(s->bgprio);
	free(s->dir);
	free(s);
}

/* A new store object for o (no database yet): locks, options of every column family kind. */
static struct store *store_alloc(const struct store_options *o)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->opt = *o;
	s->gc_repair = o->tombstone_gc == STORE_GC_REPAIR;
	s->dir = strdup(o->data_dir);
	s->opt.data_dir = s->dir;
	s->bgprio = store_bgprio_new();
	pthread_mutex_init(&s->lock, NULL);
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&s->cf_lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&s->sync_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->sync_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&s->wq_mu, NULL);
	pthread_cond_init(&s->wq_cv, NULL);
	pthread_cond_init(&s->wq_done, NULL);

	s->cache = rocksdb_cache_create_lru(o->block_cache_bytes ? o->block_cache_bytes : 1);
	s->bbto = rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_cache(s->bbto, s->cache);
	rocksdb_block_based_options_set_filter_policy(s->bbto,
	                                              rocksdb_filterpolicy_create_bloom_full(10));
	/* Table CFs are only ever sought by partition prefix, never read with Get:
	 * prefix blooms only. */
	s->bbto_tables = rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_cache(s->bbto_tables, s->cache);
	rocksdb_block_based_options_set_filter_policy(s->bbto_tables,
	                                              rocksdb_filterpolicy_create_bloom_full(10));
	rocksdb_block_based_options_set_whole_key_filtering(s->bbto_tables, 0);
	s->db_opts = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(s->db_opts, 1);
	rocksdb_options_set_create_missing_column_families(s->db_opts, 1);
	rocksdb_options_set_max_background_jobs(s->db_opts,
	                                        o->background_jobs > 0 ? o->background_jobs : 2);
	rocksdb_options_set_block_based_table_factory(s->db_opts, s->bbto);
	rocksdb_options_set_compression(s->db_opts, rocksdb_no_compression);
	rocksdb_options_set_db_write_buffer_size(s->db_opts, o->memtable_budget_bytes);
	/* Smooth write-back of WAL and SST data instead of bursts at fsync. */
	rocksdb_options_set_wal_bytes_per_sync(s->db_opts, 1 << 20);
	rocksdb_options_set_bytes_per_sync(s->db_opts, 1 << 20);
	s->wo = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(s->wo, o->sync == STORE_SYNC_BATCH);
	s->wo_nostall = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_no_slowdown(s->wo_nostall, 1);
	/* A group encoded before a TRUNCATE or DROP replaced its table's column family may be
	 * written after it (group commit, several loops): its records for the dropped family
	 * are skipped, as the truncation skips them anyway.  Without this RocksDB fails the
	 * whole write group in the memtable and stops every later write (background error). */
	rocksdb_writeoptions_set_ignore_missing_column_families(s->wo, 1);
	rocksdb_writeoptions_set_ignore_missing_column_families(s->wo_nostall, 1);
	s->wo_kv_nostall = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(s->wo_kv_nostall, o->sync == STORE_SYNC_BATCH);
	rocksdb_writeoptions_set_no_slowdown(s->wo_kv_nostall, 1);
	s->ro = rocksdb_readoptions_create();
	/* Scans cross partitions: ignore the prefix extractor. */
	rocksdb_readoptions_set_total_order_seek(s->ro, 1);
	/* What each kind of column family's backlog is measured against (writer.c). */
	cf_limits_take(&s->lim_kv, kv_cf_options(s));
	cf_limits_take(&s->lim_sindex, sindex_cf_options(s));
	cf_limits_take(&s->lim_tables, table_cf_options(s, NULL));
	return s;
}

/*
 * The column families to open: default, system and hints first (always, in
 * that order), then every table CF the directory holds.  Parallel arrays as
 * rocksdb_open_column_families() takes them.
 */
struct cf_list {
	char **names; /* as listed by RocksDB (NULL for a new database) */
	size_t ncf;
	const char **name;
	const rocksdb_options_t **opt;
	rocksdb_column_family_handle_t **h;
	struct cf_state **st; /* table CFs' compaction-filter state */
	int n;
};
#define CF_FIXED 4 /* default, system, hints, sindex */

static int cf_list_build(struct store *s, struct cf_list *l, struct cerr *err)
{
	char *rerr = NULL;
	l->names = rocksdb_list_column_families(s->db_opts, s->dir, &l->ncf, &rerr);
	if (rerr) { /* a new database */
		free(rerr);
		free(l->names);
		l->names = NULL;
		l->ncf = 0;
	}
	size_t cap = l->ncf + CF_FIXED;
	l->name = calloc(cap, sizeof(*l->name));
	l->opt = calloc(cap, sizeof(*l->opt));
	l->h = calloc(cap, sizeof(*l->h));
	l->st = calloc(cap, sizeof(*l->st));
	if (!l->name || !l->opt || !l->h || !l->st)
		return cerr_set(err, COL_ENOMEM, "storage: out of memory");
	static const char *const fixed[CF_FIXED] = {"default", CF_SYSTEM, CF_HINTS, CF_SINDEX};
	for (int i = 0; i < CF_FIXED; i++) {
		l->name[l->n] = fixed[i];
		l->opt[l->n++] = i == 3 ? sindex_cf_options(s) : kv_cf_options(s);
	}
	for (size_t i = 0; i < l->ncf; i++) {
		uint8_t id[16];
		const char *nm = l->names[i];
		if (strcmp(nm, "default") == 0 || strcmp(nm, CF_SYSTEM) == 0 ||
		    strcmp(nm, CF_HINTS) == 0 || strcmp(nm, CF_SINDEX) == 0)
			continue;
		if (!parse_table_cf(nm, id))
			return cerr_set(
			        err, COL_ECORRUPT,
			        "storage: data directory '%s' holds an unknown column family "
			        "'%s'",
			        s->dir, nm);
		l->st[l->n] = cf_state_new(s);
		if (!l->st[l->n])
			return cerr_set(err, COL_ENOMEM, "storage: out of memory");
		l->name[l->n] = nm;
		l->opt[l->n] = table_cf_options(s, l->st[l->n]);
		l->n++;
	}
	return COL_OK;
}

static void cf_list_release(struct cf_list *l)
{
	for (int i = 0; i < l->n; i++)
		rocksdb_options_destroy((rocksdb_options_t *)l->opt[i]);
	if (l->names)
		rocksdb_list_column_families_destroy(l->names, l->ncf);
	free(l->name);
	free(l->opt);
	free(l->h);
	free(l->st);
}

/* Why RocksDB would not open the directory (rerr, freed here): a lock names its holder. */
static int open_failed(struct store *s, char *rerr, struct cerr *err)
{
	if (!strstr(rerr, "lock") && !strstr(rerr, "LOCK"))
		return store_rocks_err(err, rerr, "open data directory", s->dir);
	long pid = read_pid_file(s->dir);
	bool self = strstr(rerr, "current process") != NULL;
	log_error(MOD, "open %s: %s", s->dir, rerr);
	free(rerr);
	if (self)
		return cerr_set(err, COL_ELOCKED,
		                "data directory '%s' is already open in this process", s->dir);
	if (pid > 0)
		return cerr_set(
		        err, COL_ELOCKED,
		        "data directory '%s' is in use by another colonnade process (pid %ld)",
		        s->dir, pid);
	return cerr_set(err, COL_ELOCKED,
	                "data directory '%s' is in use by another colonnade process", s->dir);
}

/* ---- truncation times ------------------------------------------------------------------------ */

#define TRUNC_KEY_PREFIX "truncated/"

/* The system-CF key holding a table's truncation time: "truncated/<id hex>". */
static size_t truncation_key(const struct store_table *t, char *out, size_t cap)
{
	char hex[33];
	hex_encode(t->id, 16, hex);
	return (size_t)snprintf(out, cap, TRUNC_KEY_PREFIX "%s", hex);
}

/* Load t's persisted truncation time into its state (none: INT64_MIN). */
static int truncation_load(struct store_table *t, struct cerr *err)
{
	char k[64];
	size_t kl = truncation_key(t, k, sizeof(k));
	struct buf v;
	buf_init(&v);
	int rc = store_kv_get(t->s, STORE_CF_SYSTEM, k, kl, &v, err);
	if (rc == COL_ENOTFOUND) {
		rc = 0;
	} else if (!rc && v.len != 8) {
		rc = cerr_set(err, COL_ECORRUPT, "truncation time of %s: %zu bytes, expected 8",
		              t->cf_name, v.len);
	} else if (!rc) {
		atomic_store(&t->state->truncated_at, (int64_t)be64_load(v.data));
	}
	buf_release(&v);
	return rc;
}

/* Persist (synced) and publish a truncation time; an older one never replaces a newer. */
static int truncation_save(struct store_table *t, int64_t at, struct cerr *err)
{
	if (at <= table_truncated_at(t))
		return 0;
	char k[64];
	size_t kl = truncation_key(t, k, sizeof(k));
	uint8_t v[8];
	be64_store(v, (uint64_t)at);
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(wo, 1);
	char *rerr = NULL;
	rocksdb_put_cf(t->s->db, wo, t->s->cf_system, k, kl, (const char *)v, 8, &rerr);
	rocksdb_writeoptions_destroy(wo);
	if (rerr)
		return store_rocks_err(err, rerr, "persist truncation time of", t->cf_name);
	atomic_store(&t->state->truncated_at, at);
	return 0;
}

int64_t store_table_truncated_at(const struct store_table *t)
{
	return table_truncated_at(t);
}

/* The opened handles into s: the fixed CFs, and a store_table per table CF. */
static int adopt_handles(struct store *s, struct cf_list *l, struct cerr *err)
{
	s->cf_default = l->h[0];
	s->cf_system = l->h[1];
	s->cf_hints = l->h[2];
	s->cf_sindex = l->h[3];
	for (int i = CF_FIXED; i < l->n; i++) {
		struct store_table *t = calloc(1, sizeof(*t));
		if (!t) {
			for (int k = i; k < l->n; k++)
				rocksdb_column_family_handle_destroy(l->h[k]);
			return cerr_set(err, COL_ENOMEM, "storage: out of memory");
		}
		t->s = s;
		parse_table_cf(l->name[i], t->id);
		snprintf(t->cf_name, sizeof(t->cf_name), "%s", l->name[i]);
		t->cf = l->h[i];
		t->state = l->st[i];
		t->next = s->tables;
		s->tables = t;
		int rc = truncation_load(t, err);
		if (rc)
			return rc;
	}
	return COL_OK;
}

int store_open(const struct store_options *o, struct store **out, struct cerr *err)
{
	if (!o || !o->data_dir || !*o->data_dir)
		return cerr_set(err, COL_EINVAL, "storage: no data directory given");
	if (o->sync != STORE_SYNC_PERIODIC && o->sync != STORE_SYNC_BATCH)
		return cerr_set(err, COL_EINVAL, "storage: unknown sync policy %d", (int)o->sync);
	if (o->sync == STORE_SYNC_PERIODIC && o->sync_period_ms == 0)
		return cerr_set(err, COL_EINVAL, "storage: sync period must be > 0 ms");
	if (mkdir_p(o->data_dir) != 0)
		return cerr_set(err, COL_EIO, "storage: cannot create data directory '%s': %s",
		                o->data_dir, strerror(errno));
	struct store *s = store_alloc(o);
	if (!s)
		return cerr_set(err, COL_ENOMEM, "storage: out of memory");
	struct cf_list l = {0};
	int rc = cf_list_build(s, &l, err);
	if (rc)
		goto fail;
	char *rerr = NULL;
	s->db = rocksdb_open_column_families(s->db_opts, s->dir, l.n, l.name, l.opt, l.h, &rerr);
	if (rerr) {
		rc = open_failed(s, rerr, err);
		s->db = NULL;
		goto fail;
	}
	rc = adopt_handles(s, &l, err);
	if (rc)
		goto fail;
	write_pid_file(s->dir);
	rc = writer_start(s, err);
	if (!rc)
		rc = sindex_start(s, err);
	if (rc)
		goto fail;
	if (o->sync == STORE_SYNC_PERIODIC) {
		if (pthread_create(&s->syncer, NULL, syncer_main, s) != 0) {
			rc = cerr_set(err, COL_EIO, "storage: cannot start the WAL sync thread");
			goto fail;
		}
		s->syncer_started = true;
	}
	log_info(MOD, "opened %s: %d table column families, sync %s", s->dir, l.n - CF_FIXED,
	         o->sync == STORE_SYNC_BATCH ? "batch" : "periodic");
	cf_list_release(&l);
	*out = s;
	return COL_OK;
fail:
	sindex_stop(s);
	writer_stop(s);
	store_free_all(s);
	cf_list_release(&l);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	sindex_stop(s);
	writer_stop(s);
	if (s->syncer_started) {
		pthread_mutex_lock(&s->sync_mu);
		s->stopping = true;
		pthread_cond_signal(&s->sync_cv);
		pthread_mutex_unlock(&s->sync_mu);
		pthread_join(s->syncer, NULL);
	}
	char *rerr = NULL;
	rocksdb_flush_wal(s->db, 1, &rerr);
	if (rerr) {
		log_error(MOD, "WAL sync at close: %s", rerr);
		free(rerr);
	}
	struct cerr e = {0};
	store_bgprio_restore(s); /* the last flush at full speed */
	if (store_flush(s, &e))
		log_error(MOD, "flush at close: %s", e.msg);
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", s->dir, PID_FILE);
	unlink(path);
	store_free_all(s);
}

const char *store_data_dir(const struct store *s)
{
	return s->dir;
}

static int flush_cf(struct store *s, rocksdb_column_family_handle_t *cf, const char *name,
                    struct cerr *err)
{
	rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
	rocksdb_flushoptions_set_wait(fo, 1);
	char *rerr = NULL;
	rocksdb_flush_cf(s->db, fo, cf, &rerr);
	rocksdb_flushoptions_destroy(fo);
	if (rerr)
		return store_rocks_err(err, rerr, "flush", name);
	return 0;
}

int store_flush(struct store *s, struct cerr *err)
{
	int rc = flush_cf(s, s->cf_system, CF_SYSTEM, err);
	if (!rc)
		rc = flush_cf(s, s->cf_hints, CF_HINTS, err);
	if (!rc)
		rc = flush_cf(s, s->cf_sindex, CF_SINDEX, err);
	pthread_mutex_lock(&s->lock);
	for (struct store_table *t = s->tables; t && !rc; t = t->next)
		rc = flush_cf(s, t->cf, t->cf_name, err);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int store_sync_wal(struct store *s, struct cerr *err)
{
	char *rerr = NULL;
	rocksdb_flush_wal(s->db, 1, &rerr);
	return rerr ? store_rocks_err(err, rerr, "sync WAL", NULL) : 0;
}

/* ---- key/value CFs -------------------------------------------------------------------------- */

static rocksdb_column_family_handle_t *kv_cf(struct store *s, enum store_kv_cf cf)
{
	return (cf & ~STORE_CF_NOWAIT) == STORE_CF_HINTS ? s->cf_hints : s->cf_system;
}

static const char *kv_name(enum store_kv_cf cf)
{
	return (cf & ~STORE_CF_NOWAIT) == STORE_CF_HINTS ? CF_HINTS : CF_SYSTEM;
}

/* Hints and STORE_CF_NOWAIT writes are made on a loop while writes may be stalling: they
 * never wait for a stall (a refused hint is counted as dropped, its range left to repair). */
static const rocksdb_writeoptions_t *kv_wo(struct store *s, enum store_kv_cf cf)
{
	return cf == STORE_CF_HINTS || (cf & STORE_CF_NOWAIT) ? s->wo_kv_nostall : s->wo;
}

static int kv_err(struct cerr *err, char *rerr, const char *what, enum store_kv_cf cf)
{
	if (strncmp(rerr, "Result incomplete", 17) == 0) {
		free(rerr);
		return cerr_set(err, COL_EOVERLOADED, "storage: RocksDB is stalling writes (%s %s)",
		                what, kv_name(cf));
	}
	return store_rocks_err(err, rerr, what, kv_name(cf));
}

int store_kv_put(struct store *s, enum store_kv_cf cf, const void *key, size_t klen,
                 const void *val, size_t vlen, struct cerr *err)
{
	char *rerr = NULL;
	rocksdb_put_cf(s->db, kv_wo(s, cf), kv_cf(s, cf), key, klen, val, vlen, &rerr);
	return rerr ? kv_err(err, rerr, "put into", cf) : 0;
}

int store_kv_delete(struct store *s, enum store_kv_cf cf, const void *key, size_t klen,
                    struct cerr *err)
{
	char *rerr = NULL;
	rocksdb_delete_cf(s->db, kv_wo(s, cf), kv_cf(s, cf), key, klen, &rerr);
	return rerr ? kv_err(err, rerr, "delete from", cf) : 0;
}

int store_kv_get(struct store *s, enum store_kv_cf cf, const void *key, size_t klen,
                 struct buf *out, struct cerr *err)
{
	char *rerr = NULL;
	rocksdb_pinnableslice_t *ps =
	        rocksdb_get_pinned_cf(s->db, s->ro, kv_cf(s, cf), key, klen, &rerr);
	if (rerr)
		return store_rocks_err(err, rerr, "get from", kv_name(cf));
	if (!ps)
		return COL_ENOTFOUND;
	size_t vlen;
	const char *v = rocksdb_pinnableslice_value(ps, &vlen);
	buf_put(out, v, vlen);
	rocksdb_pinnableslice_destroy(ps);
	return buf_ok(out) ? 0 : cerr_set(err, COL_ENOMEM, "storage: out of memory");
}

int store_kv_scan(struct store *s, enum store_kv_cf cf, const void *prefix, size_t plen,
                  store_kv_fn fn, void *ctx, struct cerr *err)
{
	return store_kv_scan_after(s, cf, prefix, plen, NULL, 0, fn, ctx, err);
}

/* The smallest key greater than every key with this prefix: 0 bytes when none exists. */
static size_t prefix_successor(const void *prefix, size_t plen, uint8_t *out)
{
	if (plen == 0)
		return 0; /* the empty prefix: every key, no bound */
	memcpy(out, prefix, plen);
	while (plen > 0 && out[plen - 1] == 0xFF)
		plen--;
	if (plen > 0)
		out[plen - 1]++;
	return plen;
}

int store_kv_scan_after(struct store *s, enum store_kv_cf cf, const void *prefix, size_t plen,
                        const void *after, size_t alen, store_kv_fn fn, void *ctx, struct cerr *err)
{
	if (plen > STORE_KV_MAX_PREFIX)
		return cerr_set(err, COL_EINVAL, "storage: key prefix of %zu bytes (max %d)", plen,
		                STORE_KV_MAX_PREFIX);
	uint8_t up[STORE_KV_MAX_PREFIX];
	size_t ulen = prefix_successor(prefix, plen, up);
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	if (!ro)
		return cerr_set(err, COL_ENOMEM, "storage: out of memory");
	/* The bound keeps the iterator from walking deleted keys past the prefix. */
	if (ulen)
		rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)up, ulen);
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, ro, kv_cf(s, cf));
	int rc = 0;
	if (after)
		rocksdb_iter_seek(it, after, alen);
	else if (plen)
		rocksdb_iter_seek(it, prefix, plen);
	else
		rocksdb_iter_seek_to_first(it);
	for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t kl, vl;
		const char *k = rocksdb_iter_key(it, &kl);
		if (kl < plen || (plen && memcmp(k, prefix, plen) != 0))
			break;
		if (after && kl == alen && memcmp(k, after, alen) == 0)
			continue;
		const char *v = rocksdb_iter_value(it, &vl);
		rc = fn(ctx, k, kl, v, vl);
		if (rc)
			break;
	}
	int erc = store_iter_error(it, err, "scan", kv_name(cf));
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return erc ? erc : rc;
}

int store_kv_delete_prefix(struct store *s, enum store_kv_cf cf, const void *prefix, size_t plen,
                           struct cerr *err)
{
	uint8_t up[STORE_KV_MAX_PREFIX];
	if (plen == 0 || plen > STORE_KV_MAX_PREFIX)
		return cerr_set(err, COL_EINVAL, "storage: key prefix of %zu bytes (1..%d)", plen,
		                STORE_KV_MAX_PREFIX);
	size_t ulen = prefix_successor(prefix, plen, up);
	if (ulen == 0)
		return cerr_set(err, COL_EINVAL, "storage: a prefix of only 0xFF bytes has no end");
	char *rerr = NULL;
	rocksdb_delete_range_cf(s->db, kv_wo(s, cf), kv_cf(s, cf), prefix, plen, (const char *)up,
	                        ulen, &rerr);
	return rerr ? kv_err(err, rerr, "delete a range from", cf) : 0;
}

/* ---- tables --------------------------------------------------------------------------------- */

static int col_id_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct store_column *)a)->id, y = ((const struct store_column *)b)->id;
	return x < y ? -1 : x > y;
}

const struct store_column *tdesc_column(const struct tdesc *d, uint32_t id)
{
	size_t lo = 0, hi = d->pub.n_cols;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		uint32_t m = d->cols[mid].id;
		if (m == id)
			return &d->cols[mid];
		if (m < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int desc_check(const struct store_table_desc *d, struct cerr *err)
{
	const char *ks = d->keyspace ? d->keyspace : "?", *nm = d->name ? d->name : "?";
	if (d->n_pk < 1 || d->n_pk > STORE_MAX_PK_COLS || !d->pk_types)
		return cerr_set(err, COL_EINVAL,
		                "table %s.%s: a table needs 1..%d partition key columns", ks, nm,
		                STORE_MAX_PK_COLS);
	if (d->n_ck > STORE_MAX_CK_COLS || (d->n_ck && !d->ck_types))
		return cerr_set(err, COL_EINVAL, "table %s.%s: at most %d clustering columns", ks,
		                nm, STORE_MAX_CK_COLS);
	if (d->gc_grace_seconds < 0 || d->default_ttl < 0 || d->default_ttl > STORE_MAX_TTL)
		return cerr_set(err, COL_EINVAL,
		                "table %s.%s: gc_grace_seconds must be >= 0 and "
		                "default_time_to_live 0..%d",
		                ks, nm, STORE_MAX_TTL);
	for (size_t i = 0; i < d->n_pk + d->n_ck; i++) {
		const struct cqltype *t = i < d->n_pk ? d->pk_types[i] : d->ck_types[i - d->n_pk];
		if (!t || t->kind == CQLTYPE_COUNTER || t->kind == CQLTYPE_CUSTOM ||
		    cqltype_is_multicell(t))
			return cerr_set(err, COL_EINVAL,
			                "table %s.%s: key column %zu has an unsupported type "
			                "(counters, non-frozen collections and user types cannot "
			                "be keys)",
			                ks, nm, i);
	}
	int irc = sindex_desc_check(d, err);
	if (irc)
		return irc;
	for (size_t i = 0; i < d->n_cols; i++) {
		const struct cqltype *t = d->cols[i].type;
		if (!t || t->kind == CQLTYPE_CUSTOM)
			return cerr_set(err, COL_EINVAL, "table %s.%s: column id %u has no type",
			                ks, nm, d->cols[i].id);
		if (t->kind == CQLTYPE_COUNTER)
			return cerr_set(err, COL_EUNSUPPORTED,
			                "table %s.%s: counter columns are not supported", ks, nm);
		for (size_t k = 0; k < i; k++)
			if (d->cols[k].id == d->cols[i].id)
				return cerr_set(err, COL_EINVAL,
				                "table %s.%s: column id %u appears twice", ks, nm,
				                d->cols[i].id);
	}
	return 0;
}

static struct tdesc *desc_copy(const struct store_table_desc *src)
{
	struct tdesc *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	struct store_table_desc *p = &d->pub;
	memcpy(p->id, src->id, 16);
	p->keyspace = strdup(src->keyspace ? src->keyspace : "?");
	p->name = strdup(src->name ? src->name : "?");
	p->n_pk = src->n_pk;
	p->n_ck = src->n_ck;
	p->n_cols = src->n_cols;
	p->gc_grace_seconds = src->gc_grace_seconds;
	p->default_ttl = src->default_ttl;
	const struct cqltype **pk = calloc(src->n_pk + 1, sizeof(*pk));
	const struct cqltype **ck = calloc(src->n_ck + 1, sizeof(*ck));
	bool *desc = calloc(src->n_ck + 1, sizeof(*desc));
	d->cols = calloc(src->n_cols + 1, sizeof(*d->cols));
	d->indexes = calloc(src->n_indexes + 1, sizeof(*d->indexes));
	p->n_indexes = src->n_indexes;
	p->indexes = d->indexes;
	if (d->indexes && src->n_indexes)
		memcpy(d->indexes, src->indexes, src->n_indexes * sizeof(*d->indexes));
	p->pk_types = pk;
	p->ck_types = ck;
	p->ck_desc = desc;
	p->cols = d->cols;
	bool ok = p->keyspace && p->name && pk && ck && desc && d->cols && d->indexes;
	for (size_t i = 0; ok && i < src->n_pk; i++)
		ok = (pk[i] = cqltype_copy(src->pk_types[i])) != NULL;
	for (size_t i = 0; ok && i < src->n_ck; i++) {
		ok = (ck[i] = cqltype_copy(src->ck_types[i])) != NULL;
		desc[i] = src->ck_desc && src->ck_desc[i];
	}
	for (size_t i = 0; ok && i < src->n_cols; i++) {
		d->cols[i] = src->cols[i];
		ok = (d->cols[i].type = cqltype_copy(src->cols[i].type)) != NULL;
	}
	if (ok) {
		qsort(d->cols, src->n_cols, sizeof(*d->cols), col_id_cmp);
		return d;
	}
	/* partial copy: free what was made */
	for (size_t i = 0; pk && i < src->n_pk; i++)
		cqltype_free(pk[i]);
	for (size_t i = 0; ck && i < src->n_ck; i++)
		cqltype_free(ck[i]);
	for (size_t i = 0; d->cols && i < src->n_cols; i++)
		cqltype_free(d->cols[i].type);
	free(pk);
	free(ck);
	free(desc);
	free(d->cols);
	free(d->indexes);
	free((void *)p->keyspace);
	free((void *)p->name);
	free(d);
	return NULL;
}

static bool keys_compatible(const struct store_table_desc *a, const struct store_table_desc *b)
{
	if (a->n_pk != b->n_pk || a->n_ck != b->n_ck)
		return false;
	for (size_t i = 0; i < a->n_pk; i++)
		if (!cqltype_equal(a->pk_types[i], b->pk_types[i]))
			return false;
	for (size_t i = 0; i < a->n_ck; i++) {
		if (!cqltype_equal(a->ck_types[i], b->ck_types[i]))
			return false;
		bool da = a->ck_desc && a->ck_desc[i], db = b->ck_desc && b->ck_desc[i];
		if (da != db)
			return false;
	}
	return true;
}

/* Install desc on t (lock held); fresh: t's column family is being created (empty). */
static int table_install_desc(struct store_table *t, const struct store_table_desc *desc,
                              bool fresh, struct cerr *err)
{
	struct store *s = t->s;
	const struct tdesc *old = table_tdesc(t);
	if (old && !keys_compatible(&old->pub, desc))
		return cerr_set(err, COL_EINVAL,
		                "table %s.%s: the partition and clustering key columns cannot "
		                "change",
		                old->pub.keyspace, old->pub.name);
	struct tdesc *d = desc_copy(desc);
	if (!d)
		return cerr_set(err, COL_ENOMEM, "storage: out of memory");
	struct tdesc *prev = atomic_exchange(&t->state->desc, d);
	atomic_store(&t->state->gc_grace, d->pub.gc_grace_seconds);
	sindex_desc_changed(t, prev, d, fresh);
	if (prev) {
		prev->retired_next = s->retired;
		s->retired = prev;
	}
	t->described = true;
	return 0;
}

struct store_table *store_table_find(struct store *s, const uint8_t id[16])
{
	pthread_mutex_lock(&s->lock);
	struct store_table *t = s->tables;
	while (t && memcmp(t->id, id, 16) != 0)
		t = t->next;
	pthread_mutex_unlock(&s->lock);
	return t;
}

int store_table_open(struct store *s, const struct store_table_desc *desc, struct store_table **out,
                     struct cerr *err)
{
	int rc = desc_check(desc, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&s->lock);
	struct store_table *t = s->tables;
	while (t && memcmp(t->id, desc->id, 16) != 0)
		t = t->next;
	if (t) {
		rc = table_install_desc(t, desc, false, err);
		pthread_mutex_unlock(&s->lock);
		if (!rc) {
			sindex_build_inline(t);
			*out = t;
		}
		return rc;
	}
	t = calloc(1, sizeof(*t));
	struct cf_state *st = t ? cf_state_new(s) : NULL;
	if (!t || !st) {
		free(t);
		pthread_mutex_unlock(&s->lock);
		return cerr_set(err, COL_ENOMEM, "storage: out of memory");
	}
	char hex[33];
	hex_encode(desc->id, 16, hex);
	t->s = s;
	memcpy(t->id, desc->id, 16);
	snprintf(t->cf_name, sizeof(t->cf_name), CF_TABLE_PREFIX "%s", hex);
	t->state = st;
	rc = table_install_desc(t, desc, true, err);
	if (!rc)
		rc = truncation_load(t, err);
	if (rc) {
		free(t);
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	rocksdb_options_t *o = table_cf_options(s, st);
	char *rerr = NULL;
	t->cf = rocksdb_create_column_family(s->db, o, t->cf_name, &rerr);
	rocksdb_options_destroy(o);
	if (rerr) {
		rc = store_rocks_err(err, rerr, "create column family", t->cf_name);
		free(t);
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	t->next = s->tables;
	s->tables = t;
	pthread_mutex_unlock(&s->lock);
	log_info(MOD, "created table %s.%s (%s)", desc->keyspace, desc->name, t->cf_name);
	*out = t;
	return 0;
}

int store_table_alter(struct store_table *t, const struct store_table_desc *desc, struct cerr *err)
{
	int rc = desc_check(desc, err);
	if (rc)
		return rc;
	if (memcmp(desc->id, t->id, 16) != 0)
		return cerr_set(err, COL_EINVAL, "table %s: alter with another table's id",
		                t->cf_name);
	pthread_mutex_lock(&t->s->lock);
	rc = table_install_desc(t, desc, false, err);
	pthread_mutex_unlock(&t->s->lock);
	if (!rc)
		sindex_build_inline(t);
	return rc;
}

const struct store_table_desc *store_table_desc(const struct store_table *t)
{
	const struct tdesc *d = table_tdesc(t);
	return d ? &d->pub : NULL;
}

/*
 * Take the store lock and drop t's column family.  0 with the lock still held
 * (the caller finishes under it), or the error with the lock released.
 */
/* Both locks held on success (the caller unlocks them); none on failure. */
static int lock_and_drop_cf(struct store_table *t, const char *what, struct cerr *err)
{
	pthread_rwlock_wrlock(&t->s->cf_lock);
	pthread_mutex_lock(&t->s->lock);
	char *rerr = NULL;
	rocksdb_drop_column_family(t->s->db, t->cf, &rerr);
	if (!rerr)
		return 0;
	pthread_mutex_unlock(&t->s->lock);
	pthread_rwlock_unlock(&t->s->cf_lock);
	return store_rocks_err(err, rerr, what, t->cf_name);
}

int store_table_drop(struct store_table *t, struct cerr *err)
{
	struct store *s = t->s;
	int rc = lock_and_drop_cf(t, "drop column family", err);
	if (rc)
		return rc;
	struct store_table **pp = &s->tables;
	while (*pp && *pp != t)
		pp = &(*pp)->next;
	if (*pp)
		*pp = t->next;
	rocksdb_column_family_handle_destroy(t->cf);
	t->cf = NULL;
	pthread_mutex_unlock(&s->lock);
	pthread_rwlock_unlock(&s->cf_lock);
	sindex_table_gone(s, t->id, true);
	char k[64];
	size_t kl = truncation_key(t, k, sizeof(k));
	struct cerr ignored = {0};
	if (store_kv_delete(s, STORE_CF_SYSTEM, k, kl, &ignored))
		log_warn(MOD, "dropped %s, but not its truncation time: %s", t->cf_name,
		         ignored.msg);
	log_info(MOD, "dropped %s", t->cf_name);
	free(t);
	return 0;
}

int store_table_truncate(struct store_table *t, int64_t truncated_at, struct cerr *err)
{
	struct store *s = t->s;
	/* The time first: a crash between the two leaves data that reads and
	 * applies already ignore, never a forgotten truncation. */
	int rc = truncation_save(t, truncated_at, err);
	if (rc)
		return rc;
	rc = lock_and_drop_cf(t, "truncate (drop) column family", err);
	if (rc)
		return rc;
	rocksdb_column_family_handle_destroy(t->cf);
	t->cf = NULL;
	rocksdb_options_t *o = table_cf_options(s, t->state);
	char *rerr = NULL;
	t->cf = rocksdb_create_column_family(s->db, o, t->cf_name, &rerr);
	rocksdb_options_destroy(o);
	if (rerr) {
		/* The table is unusable now: later calls fail on a NULL cf. */
		rc = store_rocks_err(err, rerr, "truncate (recreate) column family", t->cf_name);
	}
	/* under the locks: an index entry written from now on is of a write after TRUNCATE */
	sindex_table_gone(s, t->id, false);
	pthread_mutex_unlock(&s->lock);
	pthread_rwlock_unlock(&s->cf_lock);
	return rc;
}

int store_table_flush(struct store_table *t, struct cerr *err)
{
	return flush_cf(t->s, t->cf, t->cf_name, err);
}

int store_table_compact(struct store_table *t, int64_t now_s, struct cerr *err)
{
	int rc = store_table_flush(t, err);
	if (rc)
		return rc;
	atomic_store(&t->state->now_override, now_s);
	rocksdb_compactoptions_t *co = rocksdb_compactoptions_create();
	/* BottommostLevelCompaction::kForce: the last level is rewritten too, so
	 * the filter sees it. */
	rocksdb_compactoptions_set_bottommost_level_compaction(co, 2);
	rocksdb_compactoptions_set_exclusive_manual_compaction(co, 1);
	/* Pass 1 moves everything to the bottom level and merges operands into
	 * values; pass 2 compacts that level alone — a full compaction in which
	 * the filter sees every value. */
	for (int pass = 0; pass < 2; pass++) {
		atomic_store(&t->state->purge_pass, pass == 1);
		rocksdb_compact_range_cf_opt(t->s->db, t->cf, co, NULL, 0, NULL, 0);
	}
	atomic_store(&t->state->purge_pass, 0);
	rocksdb_compactoptions_destroy(co);
	atomic_store(&t->state->now_override, 0);
	sindex_compact_table(t->s, t->id, now_s);
	return rc;
}

int store_table_wait_compactions(struct store_table *t, struct cerr *err)
{
	int rc = store_table_flush(t, err);
	if (rc)
		return rc;
	static const char *const props[] = {
	        "rocksdb.compaction-pending", "rocksdb.num-running-compactions",
	        "rocksdb.mem-table-flush-pending", "rocksdb.num-running-flushes"};
	for (;;) {
		bool busy = false;
		for (size_t i = 0; i < sizeof(props) / sizeof(props[0]) && !busy; i++) {
			uint64_t v = 0;
			if (rocksdb_property_int_cf(t->s->db, t->cf, props[i], &v) == 0 && v)
				busy = true;
		}
		if (!busy)
			return 0;
		/* Compactions take milliseconds to seconds: poll gently. */
		struct timespec ts = {0, 20 * 1000000};
		nanosleep(&ts, NULL);
	}
}
