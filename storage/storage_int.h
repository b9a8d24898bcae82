/*
 * storage_int.h — internals shared by the storage module's files and its
 * tests (SQLite's btreeInt.h model).  Not for the rest of the tree.
 *
 *   store.c     open/close, column families, kv CFs, tables, merge operator,
 *               compaction filter
 *   codec.c     key and value encodings (layouts in storage.h)
 *   reconcile.c which version of a cell wins (RECONCILE), for the merge operator
 *   mutation.c  mutation building, its msgpack form, apply
 *   read.c      partition reads, token-range scans
 *   repair.c    repair's canonical walk: partition hashes, chunks, validated apply
 */
#ifndef COLONNADE_STORAGE_INT_H
#define COLONNADE_STORAGE_INT_H

#include "storage/storage.h"

#include <pthread.h>
#include <rocksdb/c.h>
#include <stdatomic.h>

/* Key sections (after token | partition key). */
#define SEC_PARTITION_DEL 0x00
#define SEC_STATIC        0x01
#define SEC_RANGE_DEL     0x02
#define SEC_ROW           0x03
/* Row kinds (after the clustering). */
#define KIND_ROW_DEL 0x10
#define KIND_MARKER  0x11
#define KIND_CELL    0x12
/* Bound terminators. */
#define BOUND_BEFORE 0x00
#define BOUND_AFTER  0xFF

/* Value flags. */
#define VAL_TOMBSTONE 0x01
#define VAL_EXPIRING  0x02
#define VAL_HEADER    9 /* flags + ts */

/* Parsed value (points into the stored bytes). */
struct cellval {
	uint8_t flags;
	int64_t ts;
	int32_t ttl;
	uint32_t ldt; /* expiry (expiring) or deletion time (tombstone) */
	const uint8_t *value;
	size_t value_len;
};

/* 0 or COL_ECORRUPT. */
int cellval_parse(const void *p, size_t len, struct cellval *out);
/* Append an encoded value. */
void cellval_put(struct buf *out, uint8_t flags, int64_t ts, int32_t ttl, uint32_t ldt,
                 const void *value, size_t len);
/* The merge operator's order over encoded values: store_cell_reconcile() of the parsed
 * values; a malformed value loses to a well-formed one, two malformed compare as bytes. */
int cellval_reconcile_cmp(const void *a, size_t alen, const void *b, size_t blen);
/* Live at now_s: not a tombstone and not expired. */
static inline bool cellval_live(const struct cellval *v, int64_t now_s)
{
	if (v->flags & VAL_TOMBSTONE)
		return false;
	return !(v->flags & VAL_EXPIRING) || (int64_t)v->ldt > now_s;
}

/*
 * A tombstone (or expired cell) with local deletion time ldt that any
 * compaction may have purged by now_s under gc_grace seconds (< 0: never):
 * the one rule the compaction filter, repair's canonical hashes and the
 * canonical read (STORE_READ_CANONICAL) share.
 */
static inline bool tomb_purgeable(int64_t gc_grace, int64_t ldt, int64_t now_s)
{
	return gc_grace >= 0 && ldt + gc_grace < now_s;
}

/* Deep-copied table descriptor. */
struct tdesc {
	struct store_table_desc pub;
	struct store_column *cols; /* sorted by id */
	struct store_index *indexes;
	struct tdesc *retired_next;
};

const struct store_column *tdesc_column(const struct tdesc *d, uint32_t id);

/* The ranges of a table repaired and when (store_table_mark_repaired): immutable once
 * published, replaced whole, retired (not freed) until store_close. */
struct repaired_range {
	int64_t start, end; /* (start, end] */
	int64_t at_s;       /* the repair began then: every write before it is on every replica */
};
struct repaired_set {
	struct repaired_set *retired_next;
	size_t n;
	struct repaired_range r[];
};
/* Latest repair start covering token (0: never repaired). */
int64_t repaired_at(const struct repaired_set *rs, int64_t token);

/* Per table-CF state read by the compaction filter (lives until store_close). */
struct cf_state {
	_Atomic int32_t gc_grace; /* -1 = unknown: never purge */
	_Atomic int64_t now_override;
	/* 1 during the second pass of store_table_compact: the only compaction in
	 * which partition/row/range tombstones may be purged (see store.c). */
	_Atomic int purge_pass;
	struct tdesc *_Atomic desc; /* may be NULL (table not described yet) */
	/* write time (µs) of the table's last TRUNCATE, INT64_MIN = never: nothing
	 * written at or before it is applied or read (persisted in the system CF) */
	_Atomic int64_t truncated_at;
	/* tombstone_gc 'repair': a tombstone is purged only once repaired (repaired_at > ldt) */
	_Atomic int gc_repair;
	struct repaired_set *_Atomic repaired;
	struct cf_state *next;
};

struct store_table {
	struct store *s;
	uint8_t id[16];
	char cf_name[40];
	rocksdb_column_family_handle_t *cf;
	struct cf_state *state;
	struct store_table *next;
	bool described; /* store_table_open was called */
};

/*
 * What a column family's backlog is measured against (writer.c, the pressures): the options
 * it is opened with, read back from the rocksdb_options_t each kind of family is built with
 * and corrected as RocksDB sanitizes them, so the pressures follow what RocksDB applies
 * whether an option is set (table CFs from store_options, the index CF's write buffer) or
 * left at RocksDB's default (the kv CFs, the index CF's memtable count and L0 triggers).
 */
struct cf_limits {
	uint64_t write_buffer;          /* bytes one memtable takes */
	int max_memtables;              /* active + immutable: at this many writes stop */
	int l0_compaction, l0_slowdown; /* L0 files that start a compaction, slow writes */
	uint64_t soft_pending_bytes;    /* compaction debt that slows writes; 0: none */
};
/* Fill l from o's values, then destroy o. */
void cf_limits_take(struct cf_limits *l, rocksdb_options_t *o);

struct store {
	rocksdb_t *db;
	rocksdb_options_t *db_opts;
	rocksdb_cache_t *cache;
	rocksdb_block_based_table_options_t *bbto;        /* kv CFs: whole-key bloom */
	rocksdb_block_based_table_options_t *bbto_tables; /* table CFs: partition bloom */
	rocksdb_writeoptions_t *wo;
	rocksdb_readoptions_t *ro;
	rocksdb_column_family_handle_t *cf_default, *cf_system, *cf_hints, *cf_sindex;
	struct store_options opt;
	char *dir;
	pthread_mutex_t lock; /* tables list, CF create/drop, retired descs */
	/* A table's column family handle: held shared by every apply, read and scan that
	 * uses t->cf (any thread: the node's loops, the repair worker), exclusively by
	 * TRUNCATE and DROP, which destroy the handle (writer-preferring). */
	pthread_rwlock_t cf_lock;
	struct store_table *tables;
	struct cf_state *states;
	struct tdesc *retired;
	struct repaired_set *repaired_retired;
	int gc_repair; /* store-wide tombstone_gc mode, given to new CF states */
	pthread_t syncer;
	bool syncer_started;
	bool stopping;
	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cv;
	/* group commit (writer.c): the writer thread and its bounded queue of groups */
	rocksdb_writeoptions_t *wo_nostall;    /* a lane's inline write: fails rather than stall */
	rocksdb_writeoptions_t *wo_kv_nostall; /* hints, STORE_CF_NOWAIT: per policy, no stall */
	pthread_mutex_t wq_mu;
	pthread_cond_t wq_cv;   /* the writer waits for groups */
	pthread_cond_t wq_done; /* store_lane_free waits for its lane's groups */
	struct wgroup *wq_head, *wq_tail;
	bool wq_stop;
	bool writer_started;
	pthread_t writer;
	_Atomic size_t wq_muts;  /* mutations queued or being applied by the writer */
	_Atomic size_t wq_bytes; /* their groups' write batch bytes */
	_Atomic int stalled;     /* an inline write met a stall; cleared when the writer drains */
	/* index builds (sindex.c): the builder thread and its queue of jobs */
	pthread_mutex_t ixb_mu;
	pthread_cond_t ixb_cv;   /* the builder waits for jobs */
	pthread_cond_t ixb_idle; /* store_index_wait_builds waits for an empty queue */
	struct ixjob *ixb_jobs;
	bool ixb_stop, ixb_started;
	pthread_t ixb;
	struct {
		_Atomic uint64_t reads, entries, stale, rows, builds_done, build_pairs,
		        build_entries;
	} ixs;
	_Atomic int64_t ix_now_override; /* the sindex CF filter's clock (store_table_compact) */
	struct {
		_Atomic uint64_t mutations, groups, inline_groups, writer_rounds, syncs, stalls,
		        overloaded, max_group;
	} ws;
	struct store_bgprio *bgprio; /* background.c; NULL until allocated at open */
	/* default, system and hints CFs; the index CF; table CFs (cf_limits, at store_alloc) */
	struct cf_limits lim_kv, lim_sindex, lim_tables;
};
struct store_bgprio *store_bgprio_new(void);
void store_bgprio_free(struct store_bgprio *b);
/* The threads' priorities for these pressures (what store_background_priority_tick does with
 * the store's own): false when not controlled (no threads yet, or no right to raise). */
bool store_bgprio_set(struct store *s, double flush_pressure, double compaction_pressure);
/* The two pressures of store_background() alone, the highest of any column family (and the
 * pending compaction bytes, which the compaction pressure reads): the property reads they
 * need and no others (writer.c), for the tick on the main loop. */
struct store_pressures {
	double flush, compaction;
	uint64_t pending_compaction_bytes; /* RocksDB's estimate, summed */
};
void store_background_pressures(struct store *s, struct store_pressures *out);
/* Give the threads the process's priority back (store_close: its last flush). */
void store_bgprio_restore(struct store *s);

/* Current descriptor of a table (NULL if not described). */
static inline const struct tdesc *table_tdesc(const struct store_table *t)
{
	return atomic_load_explicit(&t->state->desc, memory_order_acquire);
}

/* Translate and free a RocksDB error: COL_EIO with context. */
int store_rocks_err(struct cerr *err, char *rerr, const char *what, const char *name);
/* An iterator's error after its loop: 0, or store_rocks_err's code ("<what> <name>"). */
int store_iter_error(rocksdb_iterator_t *it, struct cerr *err, const char *what, const char *name);

/* Part of a token range that does not wrap: tokens t with start < t <= end. */
struct token_span {
	int64_t start; /* exclusive; INT64_MIN = from the first token */
	int64_t end;   /* inclusive */
};
/* The token range (start, end] as one or two spans, split where it wraps past
 * the largest token (start >= end: wraps, or the whole ring when equal). */
size_t store_token_spans(int64_t start, int64_t end, struct token_span out[2]);
/* Position it at the first key whose token is > start (the first key for INT64_MIN). */
void store_seek_after_token(rocksdb_iterator_t *it, int64_t start);

/* Everything written at or before this time (µs) is gone: the table's last truncation. */
static inline int64_t table_truncated_at(const struct store_table *t)
{
	return atomic_load_explicit(&t->state->truncated_at, memory_order_acquire);
}

/* ---- codec ---------------------------------------------------------------------------------- */

/* Serialized partition key (Cassandra form), validated. */
int codec_pk_serialize(const struct tdesc *d, const struct store_value *pk, size_t n,
                       struct buf *out, struct cerr *err);
/* Split a serialized key into n components (pointing into key). */
int codec_pk_split(const struct tdesc *d, const uint8_t *key, size_t len, struct store_value *out);
/* token | escaped key: the partition prefix of every key of the partition. */
void codec_partition_prefix(struct buf *out, int64_t token, const uint8_t *key, size_t len);
/* Length of the partition prefix at the start of k (token + escaped key), 0 if malformed;
 * the unescaped serialized key is appended to `key_out` if not NULL. */
size_t codec_partition_prefix_len(const uint8_t *k, size_t len, struct buf *key_out);
static inline int64_t codec_token_load(const uint8_t *k)
{
	return (int64_t)(be64_load(k) ^ (1ULL << 63));
}
/* Append the ordered encoding of n clustering values (n <= n_ck). */
int codec_ck_encode(const struct tdesc *d, const struct store_value *ck, size_t n, struct buf *out,
                    struct cerr *err);
/* Decode the n_ck components at r into `native` (values appended) and record their
 * offsets/lengths in vals (pointing into native after completion: call codec_ck_fix). */
int codec_ck_decode(const struct tdesc *d, struct bufreader *r, struct buf *native, size_t offs[],
                    size_t lens[]);
/* Skip n_ck encoded components (0 or COL_ECORRUPT). */
int codec_ck_skip(const struct tdesc *d, struct bufreader *r, struct buf *scratch);
/* Length of the clustering bound at p (components, then 0x00 or 0xFF), 0 if malformed. */
size_t codec_bound_len(const struct tdesc *d, const uint8_t *p, size_t len, struct buf *scratch);
/* Does the range [start bound, end bound] cover the row whose encoded clustering is ck? */
bool codec_bounds_cover(const uint8_t *ck, size_t n, const uint8_t *start, size_t start_len,
                        const uint8_t *end, size_t end_len);
/*
 * A partition's range tombstones as met in key order, remembered to shadow
 * the rows after them: each [u32 start len][start bound][u32 end len][end
 * bound][u64 ts].  codec_range_bounds() splits a range tombstone's key k
 * (partition prefix plen) into its two bounds at k + plen + 1: true with their
 * lengths, false if the key is malformed.  codec_rts_add() appends one (the
 * bounds contiguous at p): 0, or COL_ENOMEM with rts unchanged and its oom
 * cleared.  codec_rts_shadow(): is a cell of timestamp ts in the row with
 * encoded clustering ck shadowed by one of them?
 */
bool codec_range_bounds(const struct tdesc *d, const uint8_t *k, size_t klen, size_t plen,
                        size_t *sl, size_t *el, struct buf *scratch);
int codec_rts_add(struct buf *rts, const uint8_t *p, size_t sl, size_t el, int64_t ts);
bool codec_rts_shadow(const struct buf *rts, const uint8_t *ck, size_t n, int64_t ts);
/* Collection path type of a column (NULL if the column holds whole values). */
const struct cqltype *codec_path_type(const struct cqltype *col_type);
/* Value type of a cell of column type at path (element type for non-frozen list/map cells,
 * the field's type for a non-frozen UDT's; NULL: a set cell, or a field the type lacks). */
const struct cqltype *codec_cell_value_type(const struct cqltype *col_type, const void *path,
                                            size_t path_len);

/* ---- mutation / apply ----------------------------------------------------------------------- */

int mutation_apply_bytes(struct store *s, struct store_table *known, const uint8_t *bytes,
                         size_t len, bool validate, struct cerr *err);
/* The buffers mutation_emit encodes keys and values in.  A lane keeps one for its loop's
 * mutations, so a write allocates nothing once they have grown; NULL: mutation_emit
 * uses its own for the call. */
struct emit_scratch;
struct emit_scratch *emit_scratch_new(void);
void emit_scratch_free(struct emit_scratch *sc);
/* Decode (and if `validate`, check) mutation bytes and append their ops to wb: 0, or an
 * error with wb as it was.  sc: see emit_scratch (NULL allowed). */
int mutation_emit(struct store *s, struct store_table *known, const uint8_t *bytes, size_t len,
                  bool validate, rocksdb_writebatch_t *wb, struct emit_scratch *sc,
                  struct cerr *err);

/* store_read_partition with the store's cf_lock already held (shared). */
int read_partition_held(struct store_table *t, const struct store_value *pk, size_t n_pk,
                        const struct store_slice *slice, unsigned flags, size_t limit,
                        int64_t now_s, store_row_fn fn, void *ctx, struct cerr *err);

/* ---- secondary indexes (sindex.c) ----------------------------------------------------------- */

struct sindex_scratch {
	struct buf key, val, a, b;
};
void sindex_scratch_init(struct sindex_scratch *x);
void sindex_scratch_release(struct sindex_scratch *x);
/*
 * Merge into wb (the sindex CF) the index entries of the table pair (k, v) that
 * the table CF receives in the same batch: of every index of d, or only of `only`.
 * Tombstones and pairs that do not parse have none.  0 or COL_ENOMEM.
 */
int sindex_emit(struct store *s, const struct tdesc *d, const struct store_index *only,
                const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, rocksdb_writebatch_t *wb,
                struct sindex_scratch *x);
/* Start / stop the index builder thread (store_open / store_close). */
int sindex_start(struct store *s, struct cerr *err);
void sindex_stop(struct store *s);
/* t's descriptor went from old (NULL: none) to d: build the indexes d adds (fresh: a new,
 * empty table's are built at once), delete the entries of those it lost. */
void sindex_desc_changed(struct store_table *t, const struct tdesc *old, const struct tdesc *d,
                         bool fresh);
/* Run the first STORE_INDEX_INLINE_BATCHES batches of t's queued builds on the calling
 * thread (store_table_open/alter, no lock held): a small table's index is built before
 * they return; a bigger one's build goes on in the builder thread. */
void sindex_build_inline(struct store_table *t);
/* Delete the entries of index ix of table tid and forget its build. */
void sindex_index_gone(struct store *s, const uint8_t tid[16], const struct store_index *ix);
/* The system-CF record of a finished build: is there one / delete it. */
bool sindex_is_built(struct store *s, const uint8_t tid[16], const struct store_index *ix);
void sindex_forget_built(struct store *s, const uint8_t tid[16], const struct store_index *ix);
/* Delete every entry of table id (TRUNCATE; with its built marks too: DROP TABLE). */
void sindex_table_gone(struct store *s, const uint8_t id[16], bool forget_built);
rocksdb_options_t *sindex_cf_options(struct store *s);
/* Compact the index entries of table id (store_table_compact), the filter's clock at now_s
 * (0: the wall clock). */
void sindex_compact_table(struct store *s, const uint8_t id[16], int64_t now_s);
/* The descriptor's indexes are well formed (store_table_open/alter). */
int sindex_desc_check(const struct store_table_desc *d, struct cerr *err);

/* ---- group commit (writer.c) ---------------------------------------------------------------- */

/* Start / stop the writer thread (store_open / store_close; stop drains the queue). */
int writer_start(struct store *s, struct cerr *err);
void writer_stop(struct store *s);

/* ---- compaction filter ---------------------------------------------------------------------- */

rocksdb_compactionfilterfactory_t *cfilter_factory_new(struct cf_state *st);
rocksdb_mergeoperator_t *merge_operator_new(void);

#endif
