/*
 * storage.h — the node-local storage engine on RocksDB: Cassandra's data model
 * (partitions of clustered rows of timestamped cells), last-write-wins without
 * reading before writing, TTLs, tombstones and token-ordered iteration.
 *
 * It knows nothing of the network, gossip, CQL text or schema rows: it stores
 * and reads what the coordinator describes to it.
 *
 * One RocksDB database per data directory.  Column families: "default"
 * (unused), "system" (node identity, schema rows: plain key/value through
 * store_kv_*), "hints" (hinted handoff's queue: plain key/value, coordinator/hints/hints.h) and one
 * "t_<table uuid hex>" per table.  The schema layer owns table descriptors and
 * calls store_table_open() for every table (at start-up and on CREATE/ALTER);
 * a table CF present on disk but not yet described keeps working for merges
 * and keeps every tombstone (gc_grace unknown = never purge).
 *
 * Every data write is a RocksDB Merge of a complete cell value: the merge
 * operator keeps the winner by Cassandra's Cells.reconcile rules (below), so
 * replicas that apply the same writes in any order hold the same bytes.  One
 * mutation (one partition of one table) is one WriteBatch: atomic.  The WAL is
 * always on; sync policy `batch` fsyncs it before store_apply() returns,
 * `periodic` fsyncs it every sync_period_ms from a background thread (a
 * process crash loses nothing acknowledged, because acknowledged writes are in
 * the OS page cache; a machine crash may lose the last period).
 *
 * KEY LAYOUT (table CFs; all integers big-endian):
 *
 * | field         | bytes | notes                                                   |
 * |---------------|-------|---------------------------------------------------------|
 * | token         | 8     | Murmur3 token of the serialized partition key, XOR      |
 * |               |       | 0x8000000000000000 so memcmp orders tokens as signed    |
 * | partition key | n+2   | serialized key (below) with 0x00 -> 0x00 0xFF, then     |
 * |               |       | 0x00 0x01 (prefix-free, order-preserving)               |
 * | section       | 1     | 0x00 partition tombstone (key ends here)                |
 * |               |       | 0x01 static cell: then column id u32 [+ path]           |
 * |               |       | 0x02 range tombstone: then start bound, end bound       |
 * |               |       | 0x03 row: then clustering, kind, ...                    |
 * | clustering    | var   | per clustering column cqltype_encode_ordered(), DESC    |
 * |               |       | columns inverted (see core/cqltype.h)                   |
 * | kind          | 1     | 0x10 row tombstone, 0x11 row marker, 0x12 cell          |
 * | column id     | 4     | cells only                                              |
 * | path          | var   | cells of non-frozen collections and user types only:    |
 * |               |       | ordered encoding of the element (set), key (map),       |
 * |               |       | timeuuid (list) or field index as a smallint (UDT)      |
 *
 * The partition prefix (token | escaped key) is the CFs' RocksDB prefix: SST
 * and memtable bloom filters are built over it, so a partition read skips
 * every file that holds nothing of the partition.
 *
 * A clustering bound (range tombstones, slices) is a prefix of the clustering
 * components followed by 0x00 (start inclusive / end exclusive) or 0xFF
 * (start exclusive / end inclusive): component encodings never start with
 * 0x00 or 0xFF, so a bound sorts before or after every row that extends the
 * prefix.  Range tombstone key: section 0x02, start bound, end bound.
 *
 * Serialized partition key (what the token hashes, as Cassandra's
 * CompositeType does, so drivers' token-aware routing agrees): one column =
 * its native bytes; several = for each component [u16 len][bytes][0x00].
 *
 * VALUE LAYOUT (every table-CF value):
 *
 * | field      | bytes | notes                                                     |
 * |------------|-------|-----------------------------------------------------------|
 * | flags      | 1     | bit0 tombstone, bit1 expiring (TTL); others 0             |
 * | timestamp  | 8     | write time, µs since the epoch (signed)                   |
 * | ttl        | 4     | expiring only: seconds                                    |
 * | ldt        | 4     | expiring: local expiry time; tombstone: local deletion    |
 * |            |       | time (seconds since the epoch, unsigned)                  |
 * | value      | rest  | live cells only (row markers: empty)                      |
 *
 * RECONCILE (store_cell_reconcile(); Cassandra 4's Cells.reconcile,
 * CASSANDRA-14592): higher timestamp wins; on equal timestamps an expiring
 * cell or tombstone beats a plain live cell, a tombstone beats an expiring
 * cell, then the larger ldt wins, then the greater value (unsigned bytes),
 * then the longer TTL — a total order on well-formed values, so the merge is
 * a max: associative, commutative, idempotent.  The merge operator, read
 * resolution, read repair and repair all decide with this one function.
 * Row, range and partition tombstones hide cells and row markers with
 * timestamp <= theirs at read time; cells whose column id the current
 * descriptor no longer has (dropped columns) are invisible.
 *
 * COMPACTION FILTER (per table CF, reading the table's gc_grace_seconds):
 * expired TTL cells become tombstones with ldt = expiry; a tombstone is
 * purgeable when ldt + gc_grace < now and, with tombstone_gc 'repair' (the
 * default), a repair of a range holding its token began after ldt
 * (store_table_mark_repaired); purgeable cell tombstones are dropped; cells and markers shadowed by
 * a partition, range or row tombstone seen in the same compaction are dropped; partition, row and
 * range tombstones past gc_grace are dropped only by a full manual compaction
 * (store_table_compact), where every cell they shadow is seen in the same pass
 * — a partial compaction could drop a row tombstone while a cell it hides
 * sits in a file outside the compaction.  A live cell is never dropped.
 *
 * Threads: a struct store and its tables may be used from any number of
 * threads at once, except that store_table_open/alter/drop/truncate for a table
 * must not race with other calls on that same table.  Read results passed to
 * callbacks are valid only during the callback.
 */
#ifndef COLONNADE_STORAGE_STORAGE_H
#define COLONNADE_STORAGE_STORAGE_H

#include "core/buf.h"
#include "core/cqltype.h"
#include "core/err.h"
#include "core/merkle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;
typedef struct store_table store_table;

/* Bounds (as Cassandra's): a serialized partition key and each clustering
 * value are at most 65535 bytes; a cell value at most 16 MiB. */
#define STORE_MAX_KEY_PART 65535u
#define STORE_MAX_VALUE    (16u << 20)
#define STORE_MAX_PK_COLS  16
#define STORE_MAX_CK_COLS  32
/* Cassandra's limit on TTLs: 20 years. */
#define STORE_MAX_TTL 630720000
/* ttl value meaning "the table's default_time_to_live". */
#define STORE_TTL_DEFAULT (-1)

/* ---- the store ---------------------------------------------------------------------------- */

enum store_sync {
	STORE_SYNC_PERIODIC = 0, /* WAL fsync every sync_period_ms in the background */
	STORE_SYNC_BATCH = 1,    /* WAL fsync before store_apply returns */
};

struct store_options {
	const char *data_dir;      /* required; created if missing */
	enum store_sync sync;      /* default periodic */
	unsigned sync_period_ms;   /* default 10000 (commitlog_sync_period) */
	size_t block_cache_bytes;  /* LRU block cache shared by all CFs, default 128 MiB */
	size_t write_buffer_bytes; /* memtable size per CF, default 64 MiB */
	/* All memtables of all CFs together (RocksDB's db_write_buffer_size): past it the
	 * largest is flushed, so many tables cannot each hold write_buffer_bytes ×
	 * max_memtables.  Default 128 MiB; 0 = no database-wide budget. */
	size_t memtable_budget_bytes;
	int background_jobs; /* flush + compaction threads, default 2 */
	/* Write stalls (RocksDB's own triggers; 0 = RocksDB's default): memtables per table CF
	 * before writes stop [2], L0 files that start a compaction [4], slow writes down [20],
	 * stop them [36].  Tests set them tiny to make RocksDB stall. */
	int max_memtables;
	int l0_compaction_trigger, l0_slowdown_trigger, l0_stop_trigger;
	/* Group commit (store_lane_apply): mutations waiting for the writer thread, queued or
	 * being applied, beyond which a lane answers COL_EOVERLOADED [4096]. */
	size_t write_queue_max;
	/* ... and the bytes of those mutations (their write batches), beyond which a lane
	 * answers COL_EOVERLOADED too; with nothing waiting any one mutation is taken
	 * [64 MiB; 0: no byte bound] */
	size_t write_queue_max_bytes;
	/* A lane applies its group on its own loop when the writer has nothing queued and
	 * RocksDB is not stalling (periodic sync only) [true]; false: always the writer. */
	bool write_inline;
	enum store_tombstone_gc {
		STORE_GC_REPAIR = 0,  /* purge a tombstone past gc_grace only once its range
		                         was repaired after it was written (the default) */
		STORE_GC_TIMEOUT = 1, /* purge past gc_grace (Cassandra's rule) */
	} tombstone_gc;
};

/* Defaults as documented above (data_dir NULL). */
void store_options_init(struct store_options *o);

/*
 * Open (creating if needed) the database in o->data_dir and every column
 * family in it.  COL_ELOCKED with "data directory '/x' is in use by another
 * colonnade process (pid N)" when another process holds it (the pid is read
 * from <data_dir>/colonnade.pid, which the store writes), COL_EIO otherwise.
 */
int store_open(const struct store_options *o, struct store **out, struct cerr *err);
/* Flush memtables, sync the WAL, stop the syncer, close. NULL ok. Tables die with it. */
void store_close(struct store *s);
/* Flush every memtable to SST files (nodetool flush). */
int store_flush(struct store *s, struct cerr *err);
/* fsync the WAL now. */
int store_sync_wal(struct store *s, struct cerr *err);
const char *store_data_dir(const struct store *s);

/* ---- plain key/value column families -------------------------------------------------------- */

enum store_kv_cf {
	STORE_CF_SYSTEM = 0, /* host id, tokens, schema rows */
	STORE_CF_HINTS = 1,  /* hinted handoff */
	/* or-ed into STORE_CF_SYSTEM by writers on a loop: the write does not wait for a
	 * RocksDB write stall (a stall stops every CF's writes) but fails at once */
	STORE_CF_NOWAIT = 0x100,
	/* the system CF, written from a loop (the peers table, the repair scheduler, the
	 * batchlog): refused with COL_EOVERLOADED during a stall */
	STORE_SYSTEM_NOWAIT = STORE_CF_SYSTEM | STORE_CF_NOWAIT,
};

/* Put/delete one key (synced per the store's policy).  In the hints CF, and with
 * STORE_CF_NOWAIT, they never wait for a RocksDB write stall: COL_EOVERLOADED instead. */
int store_kv_put(struct store *s, enum store_kv_cf cf, const void *key, size_t klen,
                 const void *val, size_t vlen, struct cerr *err);
int store_kv_delete(struct store *s, enum store_kv_cf cf, const void *key, size_t klen,
                    struct cerr *err);
/* Value of key appended to out; COL_ENOTFOUND (no message needed) if absent. */
int store_kv_get(struct store *s, enum store_kv_cf cf, const void *key, size_t klen,
                 struct buf *out, struct cerr *err);
/* Longest prefix the store_kv_scan* and store_kv_delete_prefix calls take. */
#define STORE_KV_MAX_PREFIX 64
/*
 * Call fn for each key starting with prefix (at most STORE_KV_MAX_PREFIX
 * bytes), in key order, until fn returns non-zero (which is then returned).
 * Pointers are valid during the call.
 */
typedef int (*store_kv_fn)(void *ctx, const void *key, size_t klen, const void *val, size_t vlen);
int store_kv_scan(struct store *s, enum store_kv_cf cf, const void *prefix, size_t plen,
                  store_kv_fn fn, void *ctx, struct cerr *err);

/*
 * store_kv_scan, starting strictly after the key `after` (NULL: at the
 * prefix).  Keys past the prefix are never visited, deleted ones included, so
 * a queue read from its head after deleting what it consumed stays cheap.
 */
int store_kv_scan_after(struct store *s, enum store_kv_cf cf, const void *prefix, size_t plen,
                        const void *after, size_t alen, store_kv_fn fn, void *ctx,
                        struct cerr *err);
/* Delete every key starting with prefix (1..STORE_KV_MAX_PREFIX bytes) in one range delete. */
int store_kv_delete_prefix(struct store *s, enum store_kv_cf cf, const void *prefix, size_t plen,
                           struct cerr *err);

/* ---- tables -------------------------------------------------------------------------------- */

struct store_column {
	uint32_t id;                /* stable column id from the schema */
	const struct cqltype *type; /* non-frozen collections store one cell per element */
	bool is_static;
};

/*
 * A secondary index of a table (SECONDARY INDEXES below): which part of a row it
 * indexes.  FULL(frozen collection) is STORE_IX_VALUES of that column (the whole value).
 */
enum store_index_on {
	STORE_IX_COLUMN = 0, /* a regular or static column, by id */
	STORE_IX_PK = 1,     /* a component of the partition key, by position */
	STORE_IX_CK = 2,     /* a clustering column, by position */
};
enum store_index_kind {
	STORE_IX_VALUES = 0,  /* the value; of a non-frozen collection: each element's value
	                       * (set: the element, list/map: the element's value) */
	STORE_IX_KEYS = 1,    /* a non-frozen map's keys */
	STORE_IX_ENTRIES = 2, /* a non-frozen map's entries: key and value */
};
struct store_index {
	uint8_t on;   /* enum store_index_on */
	uint8_t kind; /* enum store_index_kind (STORE_IX_VALUES unless on a column) */
	uint32_t col; /* column id (STORE_IX_COLUMN), else the key position */
};
#define STORE_MAX_INDEXES 64

struct store_table_desc {
	uint8_t id[16];              /* table uuid; names the CF */
	const char *keyspace, *name; /* for messages */
	size_t n_pk;                 /* 1..STORE_MAX_PK_COLS */
	const struct cqltype *const *pk_types;
	size_t n_ck; /* 0..STORE_MAX_CK_COLS */
	const struct cqltype *const *ck_types;
	const bool *ck_desc; /* n_ck flags; NULL = all ASC */
	size_t n_cols;       /* regular and static columns */
	const struct store_column *cols;
	int32_t gc_grace_seconds; /* >= 0 */
	int32_t default_ttl;      /* seconds, 0 = none */
	size_t n_indexes;         /* 0..STORE_MAX_INDEXES, no two alike */
	const struct store_index *indexes;
};

/*
 * Open the table's column family, creating it if missing, and return its
 * handle (owned by the store, valid until store_table_drop or store_close).
 * The store deep-copies the descriptor.  Opening an already open table id
 * returns the same handle after store_table_alter() with desc.
 * COL_EINVAL on a bad descriptor (counter or unknown types, too many columns).
 */
int store_table_open(struct store *s, const struct store_table_desc *desc, struct store_table **out,
                     struct cerr *err);
/* The open table with this id, or NULL. */
struct store_table *store_table_find(struct store *s, const uint8_t id[16]);
/*
 * Replace columns, gc_grace and default ttl (ALTER TABLE).  The key columns
 * and their types and orders must be unchanged (COL_EINVAL).  Old descriptors
 * stay allocated until store_close, so concurrent readers stay safe.
 */
int store_table_alter(struct store_table *t, const struct store_table_desc *desc, struct cerr *err);
/* Drop the column family and its data; the handle is freed. */
int store_table_drop(struct store_table *t, struct cerr *err);
/*
 * TRUNCATE: delete every row (recreates the column family; the handle stays
 * valid) and keep `truncated_at` (µs, the coordinator's clock, the same on
 * every replica) as the table's truncation time, persisted (synced) before
 * the data goes: from then on nothing written at or before it is applied
 * (store_apply*, store_apply_raw, store_repair_apply skip such ops and values: a hint, a repair
 * stream or a read repair cannot bring it back) or read.  A time older than
 * the one kept changes nothing but still empties the table.
 */
int store_table_truncate(struct store_table *t, int64_t truncated_at, struct cerr *err);
/* The table's truncation time (µs), INT64_MIN when it was never truncated. */
int64_t store_table_truncated_at(const struct store_table *t);
/* Flush the table's memtable. */
int store_table_flush(struct store_table *t, struct cerr *err);
/*
 * Full manual compaction of the table (nodetool compact): flush, compact every
 * level down, then compact the bottom level alone so that the compaction
 * filter sees every cell and may purge partition/row/range tombstones past
 * gc_grace.  `now_s` overrides the clock for the filter (0 = wall clock;
 * tests pass a future time).  The table's index entries are compacted too (their
 * filter drops expired entries and old tombstones: SECONDARY INDEXES).
 */
int store_table_compact(struct store_table *t, int64_t now_s, struct cerr *err);

/*
 * Record that a repair of (start, end] began at at_s (seconds) and completed:
 * with tombstone_gc 'repair', tombstones of that range with a deletion time
 * before at_s may now be purged once past gc_grace.  Keeps the latest time
 * per range; replacing a table's set is copy-on-write, so compactions in
 * progress keep theirs.  NULL t is ignored.  COL_ENOMEM.
 */
int store_table_mark_repaired(struct store_table *t, int64_t start, int64_t end, int64_t at_s);
/* The latest repair start recorded for a range holding token (0: none). */
int64_t store_table_repaired_at(struct store_table *t, int64_t token);

/*
 * Flush the table's memtable and wait until RocksDB has no flush or
 * compaction pending or running for it (db_bench's waitforcompaction; for
 * tests and benchmarks that want a settled LSM tree).
 */
int store_table_wait_compactions(struct store_table *t, struct cerr *err);

/* The descriptor the store holds (valid until the next alter+close). */
const struct store_table_desc *store_table_desc(const struct store_table *t);

/* One native value (a key component, a cell value). */
struct store_value {
	const void *p;
	size_t len;
};

/*
 * Serialize a partition key as Cassandra does (see above) into out, checking
 * count, types and the size bound.  And its token.
 */
int store_partition_key(const struct store_table *t, const struct store_value *pk, size_t n_pk,
                        struct buf *out, struct cerr *err);
int store_partition_token(const struct store_table *t, const struct store_value *pk, size_t n_pk,
                          int64_t *token, struct cerr *err);

/* ---- mutations ------------------------------------------------------------------------------ */

/*
 * A mutation: writes to one partition of one table, applied atomically.  It is
 * built as its own serialized form (msgpack, below), so the coordinator can
 * send it to replicas and store it as a hint without copying; replicas decode
 * (validate) and apply it.  Values are copied in.
 *
 * MUTATION FORMAT (msgpack; version 1):
 *
 *   [1, table_id bin16, now_s int, [pk components bin...], [op...]]
 *
 * | op                | array                                                      |
 * |-------------------|------------------------------------------------------------|
 * | row marker        | [1, ts, ttl, [ck bin...]]                                  |
 * | set cell          | [2, ts, ttl, [ck bin...], col, path, value bin]            |
 * | delete cell       | [3, ts, [ck bin...], col, path]                            |
 * | delete row        | [4, ts, [ck bin...]]                                       |
 * | delete partition  | [5, ts]                                                    |
 * | delete range      | [6, ts, [start ck bin...], start_incl bool,                |
 * |                   |  [end ck bin...], end_incl bool]                           |
 *
 * ts = write timestamp µs (int), ttl = seconds (0 none; STORE_TTL_DEFAULT is
 * resolved when the op is added), col = column id (uint), path = nil for a
 * plain cell (or a whole collection), else bin: the collection element (set
 * element, map key, list timeuuid; may be empty).  Static cells use an empty ck array.
 * now_s (seconds) fixes the local expiry/deletion times the ops produce, so
 * every replica stores the same bytes.  Range bounds are in clustering order
 * (a DESC column's "greater" values come first).  The ops array is written
 * as array32 and its count back-patched.
 */
struct store_mutation {
	struct buf body; /* the serialized form */
	uint32_t n_ops;
	size_t ops_count_at; /* internal: where the op count is patched */
	struct store_table *table;
	int error; /* first add error (latched, like LMDB's txn error) */
	struct cerr err;
};

/* Start a mutation of the partition `pk` of t.  now_s 0 = wall clock. */
int store_mutation_init(struct store_mutation *m, struct store_table *t,
                        const struct store_value *pk, size_t n_pk, int64_t now_s, struct cerr *err);
void store_mutation_release(struct store_mutation *m);
/*
 * Add ops.  ck = the full clustering (n_ck values of the table) for row ops;
 * for a static column's cell pass ck = NULL, n_ck = 0.  path: NULL for a plain
 * column (and, for a non-frozen collection column, to delete the whole
 * collection); else the element's native bytes (set element, map key, list
 * timeuuid), which may be empty.  A read reports path NULL / non-NULL the
 * same way.  Each checks its input
 * (types, lengths, sizes, column ids, ttl range) and on error returns it,
 * latches it in the mutation (store_apply refuses it) and adds nothing.
 */
int store_mutation_row_marker(struct store_mutation *m, const struct store_value *ck, size_t n_ck,
                              int64_t ts, int32_t ttl);
int store_mutation_set_cell(struct store_mutation *m, const struct store_value *ck, size_t n_ck,
                            uint32_t col, const struct store_value *path, const void *value,
                            size_t len, int64_t ts, int32_t ttl);
int store_mutation_delete_cell(struct store_mutation *m, const struct store_value *ck, size_t n_ck,
                               uint32_t col, const struct store_value *path, int64_t ts);
int store_mutation_delete_row(struct store_mutation *m, const struct store_value *ck, size_t n_ck,
                              int64_t ts);
int store_mutation_delete_partition(struct store_mutation *m, int64_t ts);
int store_mutation_delete_range(struct store_mutation *m, const struct store_value *start,
                                size_t n_start, bool start_incl, const struct store_value *end,
                                size_t n_end, bool end_incl, int64_t ts);

/* The serialized bytes (valid until the mutation changes). */
static inline const uint8_t *store_mutation_bytes(const struct store_mutation *m, size_t *len)
{
	*len = m->body.len;
	return m->body.data;
}

/*
 * Apply a mutation: all its ops in one WriteBatch (atomic), synced per the
 * policy.  Nothing is written on any error.
 */
int store_apply(struct store *s, const struct store_mutation *m, struct cerr *err);
/*
 * Decode, validate (table known, every value of its column's type, bounds) and
 * apply serialized mutation bytes from another node or a hint.  COL_ECORRUPT
 * for malformed bytes, COL_ENOTFOUND for an unknown table, nothing written.
 */
int store_apply_bytes(struct store *s, const void *bytes, size_t len, struct cerr *err);

/*
 * Group commit.  A lane belongs to one libev loop (one per loop that writes; the loop's
 * thread alone calls it).  store_lane_apply*() validate a mutation and add it to the
 * lane's open group: the mutations that arrive in one iteration of the loop.  Before the
 * loop sleeps (an ev_prepare), or when the group is full, the group is applied as one
 * WriteBatch:
 *   - on the loop itself when the store's writer has nothing queued, RocksDB is not
 *     stalling (the write is tried with no_slowdown) and the sync policy is periodic;
 *   - else by the store's writer thread, which takes every queued group at once, writes
 *     them, and with sync `batch` fsyncs the WAL once for all of them before any is
 *     acknowledged.  A RocksDB stall blocks that thread, never the loop.
 * done(ctx, rc, err) runs on the lane's loop, exactly once, never inside
 * store_lane_apply*(), in submission order within the lane; err is NULL when rc is 0.
 * Returns 0 (done will run), or an error and done never runs: the decoding and validation
 * errors of store_apply / store_apply_bytes, or COL_EOVERLOADED when write_queue_max
 * mutations already wait for the writer (RocksDB is stalling or the disk is behind).
 * The mutation's bytes are copied: the caller may free them at once.
 */
struct ev_loop;
struct store_lane;
typedef void (*store_write_done_fn)(void *ctx, int rc, const struct cerr *err);
/* A lane on `loop` (started: its watchers are active). */
int store_lane_new(struct store *s, struct ev_loop *loop, struct store_lane **out,
                   struct cerr *err);
/* Apply the open group, wait for the writer to finish this lane's groups, run their done
 * callbacks, stop the watchers.  Before store_close.  NULL ok. */
void store_lane_free(struct store_lane *l);
int store_lane_apply(struct store_lane *l, const struct store_mutation *m, store_write_done_fn done,
                     void *ctx, struct cerr *err);
int store_lane_apply_bytes(struct store_lane *l, const void *bytes, size_t len,
                           store_write_done_fn done, void *ctx, struct cerr *err);

/* Group-commit counters since store_open (all lanes). */
struct store_write_stats {
	uint64_t mutations;     /* applied through lanes (successfully or not) */
	uint64_t groups;        /* WriteBatches they went in */
	uint64_t inline_groups; /* of which applied on a loop */
	uint64_t writer_rounds; /* writer thread wake-ups that applied groups */
	uint64_t syncs;         /* WAL fsyncs by the writer (sync batch) */
	uint64_t stalls;        /* inline tries refused by a RocksDB stall (handed to the writer) */
	uint64_t overloaded;    /* mutations refused: the writer queue was full */
	uint64_t queued;        /* mutations waiting for the writer now */
	uint64_t queued_bytes;  /* their write batches' bytes */
	uint64_t max_group;     /* largest group so far (mutations) */
};
void store_write_stats(struct store *s, struct store_write_stats *out);
/*
 * RocksDB's flushes and compactions now, over every column family (Cassandra's
 * `nodetool compactionstats`): what /metrics shows and what a benchmark waits for
 * before it measures, so one run's compaction debt is not charged to the next.
 * A few property reads per column family under RocksDB's DB mutex (held only briefly
 * by RocksDB) and the table locks for shared, as a read holds them.
 */
struct store_background {
	uint64_t compactions_running; /* whole database */
	uint64_t flushes_running;
	uint64_t compactions_pending;      /* column families with a compaction due */
	uint64_t flushes_pending;          /* column families with a memtable flush due */
	uint64_t pending_compaction_bytes; /* RocksDB's estimate, summed */
	/* How far behind, 0..1, the highest of any column family (store_flush_pressure,
	 * store_compaction_pressure). */
	double flush_pressure, compaction_pressure;
};
void store_background(struct store *s, struct store_background *out);
/* The share of the memtable headroom used since a flush became due: (immutable - 1 +
 * active fill) / (max memtables - 1); 0 with no immutable memtable, 1 where RocksDB stops
 * writes. */
double store_flush_pressure(uint64_t immutable, double active_fill, int max_memtables);
/* The higher of where L0 stands between the compaction trigger (0) and the slowdown trigger
 * (1), and of the pending compaction bytes (RocksDB's estimate) over the soft limit at which
 * RocksDB slows writes (soft_pending_compaction_bytes_limit; 0: no limit, not counted). */
double store_compaction_pressure(uint64_t l0_files, int compaction_trigger, int slowdown_trigger,
                                 uint64_t pending_bytes, uint64_t soft_pending_limit);
/*
 * The CPU priority of RocksDB's flush and compaction threads follows how far behind each
 * is (storage/background.c): nice 19 below pressure 0.25, 10 below 0.5, else the process's
 * own — so a flush or compaction takes the CPU the request loops leave until it falls
 * behind, ScyllaDB's backlog controller with nice values for shares.  Call every
 * STORE_BG_TICK_MS on one thread; off (logged once) where the process may not raise a
 * thread's priority back.  RocksDB's thread pools are the process's, so one store per
 * process should tick.
 */
#define STORE_BG_TICK_MS 100
void store_background_priority_tick(struct store *s);
/* The nice value each pool's threads have: what the controller set once the kernel accepted
 * it for every thread of the pool, else the one a refused thread kept (the controller retries
 * every tick and logs a refusal at most once a minute); -1 while not controlled. */
void store_background_nice(const struct store *s, int *flush, int *compaction);
/* The nice value for a pressure (above). */
int store_bg_nice_for(double pressure);
/*
 * RocksDB's memory now: the block cache (its capacity, what it holds, what of that is
 * pinned by readers), the memtables of every column family (active, immutable and those
 * flushed but still pinned), and the SST readers' index and filter blocks held outside
 * the cache.  Property reads as store_background().
 */
struct store_memory {
	uint64_t block_cache_capacity;
	uint64_t block_cache_usage; /* pinned included */
	uint64_t block_cache_pinned;
	uint64_t memtables;
	uint64_t memtable_budget; /* store_options.memtable_budget_bytes; 0 = none */
	uint64_t table_readers;
};
void store_memory(struct store *s, struct store_memory *out);
/* The table id named by serialized mutation bytes (for routing/hints). */
int store_mutation_peek_table(const void *bytes, size_t len, uint8_t id[16], struct cerr *err);
/*
 * The Murmur3 token of a mutation's partition, from the mutation or from its
 * serialized bytes (a table of store s).  COL_ECORRUPT for malformed bytes,
 * COL_ENOTFOUND when the bytes name a table s does not know.
 */
int store_mutation_token(const struct store_mutation *m, int64_t *token, struct cerr *err);
int store_mutation_bytes_token(struct store *s, const void *bytes, size_t len, int64_t *token,
                               struct cerr *err);

/* ---- reads ---------------------------------------------------------------------------------- */

struct store_cell {
	uint32_t col;
	const uint8_t *path; /* non-frozen collection element (native), else NULL */
	size_t path_len;
	const uint8_t *value;
	size_t value_len;
	int64_t ts;       /* write time µs (WRITETIME) */
	int32_t ttl;      /* 0 = none (TTL() = remaining: expiry - now) */
	int64_t expiry_s; /* local expiry time, 0 = none */
	bool tombstone;   /* only with STORE_READ_TOMBSTONES */
	int64_t ldt;      /* tombstone: local deletion time */
};

/*
 * One version of a cell as RECONCILE (above) sees it.  Row markers are live
 * versions without a value; row, range and partition deletions are tombstones.
 */
struct store_cell_version {
	int64_t ts;           /* write time µs */
	bool tombstone;       /* a deletion */
	int32_t ttl;          /* live: > 0 when expiring, else 0; tombstones: 0 */
	int64_t ldt;          /* expiring: local expiry time; tombstone: local deletion
	                       * time; plain live: 0 (seconds since the epoch) */
	const uint8_t *value; /* live only */
	size_t value_len;
};

/*
 * Which version wins: > 0 when a wins over b, < 0 when b wins, 0 only when
 * they are the same version (a replica holding one needs nothing of the other).
 */
int store_cell_reconcile(const struct store_cell_version *a, const struct store_cell_version *b);

struct store_deletion {
	int64_t ts; /* INT64_MIN = none */
	int64_t ldt;
};

struct store_row {
	const struct store_value *ck; /* n_ck native clustering values; none for static */
	size_t n_ck;
	bool is_static;  /* the partition's static row */
	bool has_marker; /* live row marker (INSERT) */
	int64_t marker_ts;
	int32_t marker_ttl;
	int64_t marker_expiry_s;
	struct store_deletion deletion; /* row tombstone (STORE_READ_TOMBSTONES) */
	const struct store_cell *cells; /* sorted by column id, then path */
	size_t n_cells;
};

/* A clustering slice in clustering order; n = 0 means unbounded on that side. */
struct store_slice {
	const struct store_value *start;
	size_t n_start;
	bool start_incl;
	const struct store_value *end;
	size_t n_end;
	bool end_incl;
};

/* A range tombstone: the slice of rows it deletes, and when. */
struct store_range_tombstone {
	struct store_slice range;
	struct store_deletion deletion;
};

struct store_partition {
	int64_t token;
	const struct store_value *pk; /* decoded components */
	size_t n_pk;
	const uint8_t *key; /* serialized partition key (Cassandra form) */
	size_t key_len;
	struct store_deletion deletion; /* partition tombstone (STORE_READ_TOMBSTONES) */
	/* STORE_READ_HEADERS: every range tombstone of the partition, in key order */
	const struct store_range_tombstone *rts;
	size_t n_rts;
};

/* Called per row (and, with STORE_READ_HEADERS, per partition header with r NULL);
 * non-zero stops the read and is returned by it. */
typedef int (*store_row_fn)(void *ctx, const struct store_partition *p, const struct store_row *r);

enum store_read_flags {
	STORE_READ_REVERSE = 1,    /* rows in reverse clustering order */
	STORE_READ_TOMBSTONES = 2, /* also deleted/expired cells, rows with only
	                              tombstones, and deletion infos (digests,
	                              read repair); shadowed data is still hidden */
	STORE_READ_HEADERS = 4,    /* (with TOMBSTONES) a partition with a partition
	                              deletion or range tombstones is first reported
	                              with fn(ctx, p, NULL), p->rts filled, before any
	                              of its rows — also when none of its rows is
	                              left to report (a partition deleted as a whole) */
	STORE_READ_CANONICAL = 8,  /* (with TOMBSTONES) the form replicas compare
	                              (digests, data for resolution), the same
	                              whatever their compaction state, by the rules
	                              of repair's canonical form (REPAIR below):
	                              tombstones of every kind past gc_grace at
	                              now_s (ldt + gc_grace < now_s; an expired cell's
	                              ldt is its expiry) are not reported, though they
	                              still shadow; a row with nothing left to report
	                              (only a shadowed or expired marker) is not
	                              reported */
};

/*
 * Read one partition: rows (in slice if given) in clustering order (or
 * reverse), at most `limit` rows (0 = no limit; the static row does not
 * count), live at now_s (0 = wall clock): expired cells and everything a
 * tombstone shadows are left out.  The static row, if any, comes first.
 * Returns 0, fn's non-zero value, or an error.
 */
int store_read_partition(struct store_table *t, const struct store_value *pk, size_t n_pk,
                         const struct store_slice *slice, unsigned flags, size_t limit,
                         int64_t now_s, store_row_fn fn, void *ctx, struct cerr *err);

/* A position in token order for resuming a scan: after (token, key, ck). */
struct store_position {
	int64_t token;
	const uint8_t *key; /* serialized partition key */
	size_t key_len;
	const struct store_value *ck; /* NULL/0 = resume after the whole partition */
	size_t n_ck;
};

/*
 * Read every partition with token in (start, end] in token order, rows as
 * store_read_partition gives them (flags REVERSE is ignored).  As Cassandra's
 * ranges: start >= end wraps around the ring, (start, max] then [min, end];
 * start == end is the whole ring.  Resumes strictly after `after` if given
 * (paging); limit = max rows (0 = none).
 */
int store_scan(struct store_table *t, int64_t start, int64_t end,
               const struct store_position *after, unsigned flags, size_t limit, int64_t now_s,
               store_row_fn fn, void *ctx, struct cerr *err);

/*
 * Raw iteration for Merkle trees and streaming: every stored key/value of the
 * table with token in (start, end], in key order, as merged by the merge
 * operator (tombstones included), until fn returns non-zero.  store_apply_raw
 * merges such pairs into a table (idempotent, LWW).
 */
int store_scan_raw(struct store_table *t, int64_t start, int64_t end, store_kv_fn fn, void *ctx,
                   struct cerr *err);
int store_apply_raw(struct store_table *t, const void *key, size_t klen, const void *val,
                    size_t vlen, struct cerr *err);
/* Token of a raw table key (its first 8 bytes). */
int64_t store_raw_key_token(const void *key, size_t klen);

/* ---- secondary indexes (storage/sindex.c) ---------------------------------------------------- */

/*
 * SECONDARY INDEXES: Cassandra's local index model.  Each node indexes its own
 * data; one column family "sindex" holds the entries of every index of every
 * table:
 *
 * | field         | bytes | notes                                                   |
 * |---------------|-------|---------------------------------------------------------|
 * | table id      | 16    |                                                         |
 * | on, col, kind | 1,4,1 | the struct store_index (col big-endian)                 |
 * | value         | var   | the indexed value's native bytes escaped as partition   |
 * |               |       | keys are (0x00 -> 0x00 0xFF, then 0x00 0x01); ENTRIES:  |
 * |               |       | the map key, then the value, each escaped               |
 * | token         | 8     | the base row's key from here on: token, escaped         |
 * | partition key | n+2   | partition key, section 0x01 (static row) or 0x03 (row)  |
 * | section       | 1     | and the row's clustering, as in the table CF            |
 * | clustering    | var   |                                                         |
 *
 * so the entries of one value lie in the table's own key order (token order):
 * an index read of (start, end] meets its rows in the order store_scan does.
 * An entry's value is the VALUE LAYOUT header of the base cell it comes from
 * (flags, timestamp, ttl, expiry; no value bytes): it lives and expires with
 * that cell, and entries merge by RECONCILE as cells do.  Entries of key
 * indexes (PK, CK) come from every live cell and row marker of the row, plain
 * live (never expiring) with the write's timestamp.
 *
 * MAINTENANCE.  Every write of a live cell or row marker (store_apply*,
 * store_lane_apply*, store_apply_raw, store_repair_apply) merges that cell's
 * entries into the same WriteBatch as the cell: base data and index are never
 * apart, whatever crashes.  Deletions write nothing to the index and an
 * overwritten value's entry stays (no read before write, Cassandra's choice):
 * an index read checks every entry against the base row at its now_s, and a
 * stale entry (the row gone, deleted, expired or holding another value) is
 * deleted then with a tombstone at the entry's timestamp, so a newer write of
 * the same value survives it.  The sindex CF's compaction filter drops expired
 * entries and tombstones older than STORE_INDEX_TOMB_GRACE seconds (a purged
 * tombstone can only let a stale entry reappear, which the next read deletes
 * again).  TRUNCATE, DROP TABLE and dropping an index delete their entries.
 *
 * BUILD.  An index a table descriptor gains (store_table_open/alter) is built
 * over the data already there: the first STORE_INDEX_INLINE_BATCHES batches by
 * store_table_open/alter itself before it returns (a small table's index is
 * usable at once), the rest by the store's index builder thread.  A build walks
 * the table's column family in batches of STORE_INDEX_BUILD_BATCH stored pairs, each
 * batch's entries one WriteBatch, logs its progress, and when it reaches the end
 * records the index as built (system CF, "ixbuilt/<table id><on><col><kind>",
 * synced).  Writes made meanwhile index themselves; an entry the build makes
 * from a value overwritten since is stale and treated as any other.  A build
 * interrupted by a restart starts over.  Until an index is built,
 * store_index_read refuses it (COL_EAGAIN), as Cassandra refuses a query on an
 * index not yet built (IndexNotAvailableException).
 */
#define STORE_INDEX_TOMB_GRACE     600
#define STORE_INDEX_BUILD_BATCH    1000
#define STORE_INDEX_INLINE_BATCHES 10

/* Has index ix of t been built over the data that was there when it was created?  false
 * for an index the table's descriptor does not have. */
bool store_index_built(struct store_table *t, const struct store_index *ix);

/* An index build's state (store_index_progress). */
struct store_index_progress {
	bool known;        /* the table's descriptor has this index */
	bool built;        /* built (then the counts are those of this process's build, if any) */
	uint64_t scanned;  /* stored pairs of the table walked so far */
	uint64_t entries;  /* entries written by the build */
	int64_t started_s; /* when the build started (this process), 0 = none */
};
void store_index_progress(struct store_table *t, const struct store_index *ix,
                          struct store_index_progress *out);
/* Block until every queued build has finished or given up (tests, benchmarks). */
void store_index_wait_builds(struct store *s);

/* Index counters of the store since store_open. */
struct store_index_stats {
	uint64_t reads;          /* store_index_read calls that ran */
	uint64_t entries;        /* entries they visited */
	uint64_t stale;          /* of which stale, deleted */
	uint64_t rows;           /* rows they reported */
	uint64_t builds_running; /* queued or running now */
	uint64_t builds_done;    /* finished (built) */
	uint64_t build_pairs;    /* stored pairs walked by builds */
	uint64_t build_entries;  /* entries written by builds */
};
void store_index_stats(struct store *s, struct store_index_stats *out);

/* Counts of one store_index_read. */
struct store_index_read_stats {
	uint64_t entries; /* index entries visited */
	uint64_t stale;   /* of which stale (deleted by the read) */
	uint64_t rows;    /* rows reported */
};

/*
 * Read through index ix of t the rows of partitions with token in (start, end]
 * (wrapping as store_scan; resuming strictly after `after`) whose indexed value
 * is `value`: n_value = 1 value (VALUES: a column's value or a collection
 * element's value, KEYS: a map key, PK/CK: the key component), 2 for ENTRIES (map
 * key, then value).  Each entry is checked against the base row at now_s, and only
 * rows holding the value live are reported, in token order as store_scan reports
 * them and with its flags (e.g. STORE_READ_TOMBSTONES for resolution); an index on
 * a static column reports the whole partition of a matching static row.  At most
 * `limit` rows (0 = none; the static row does not count).  COL_EAGAIN when
 * the index is not built yet, COL_ENOTFOUND when the table has no such index.
 * stats may be NULL.
 */
int store_index_read(struct store_table *t, const struct store_index *ix,
                     const struct store_value *value, size_t n_value, int64_t start, int64_t end,
                     const struct store_position *after, unsigned flags, size_t limit,
                     int64_t now_s, store_row_fn fn, void *ctx,
                     struct store_index_read_stats *stats, struct cerr *err);

/* ---- anti-entropy repair (coordinator/repair/): canonical hashes and streaming ------------- */

/*
 * REPAIR CANONICAL FORM.  Two replicas holding the same logical data must
 * hash alike whatever their write history and compaction state, so a range
 * is walked from one RocksDB snapshot in key order (token order) and each
 * stored pair is judged at the session's `now_s` by the compaction filter's
 * rules:
 *   - cells, row markers and static cells shadowed by the partition
 *     tombstone, a covering range tombstone or their row tombstone (ts <=
 *     the deletion's) are left out; row and range tombstones stay even when
 *     a newer partition tombstone covers them (compaction keeps them too);
 *   - cells of columns the descriptor no longer has (dropped) are left out;
 *   - an expired TTL cell is taken as the tombstone compaction turns it into
 *     (flags tombstone, same ts, ldt = expiry);
 *   - for hashes, tombstones of every kind past gc_grace (ldt + gc_grace <
 *     now_s) are left out; chunks keep them, so a replica that missed a
 *     delete still receives it from one that has not purged it yet;
 *   - a pair that does not parse is kept as it is (compared, never judged).
 * A partition's hash is XXH3-128 over its kept pairs, each as
 * [u32 klen][key][u32 vlen][value] (big-endian lengths); a partition with no
 * kept pair is absent.
 *
 * CHUNK (streamed between replicas): the kept pairs of a range in key order,
 * each [u32 klen][key][u32 vlen][value].  store_repair_apply refuses the
 * whole chunk (COL_ECORRUPT, nothing written, the reason in err) for a torn
 * pair, a key that does not follow the table's layout or lies outside the
 * range, keys out of strictly increasing order, or a malformed value; else
 * it merges every pair in one WriteBatch, so applying a chunk twice changes
 * nothing (LWW, RECONCILE).
 */
struct store_repair_counts {
	uint64_t partitions; /* hashed (non-empty once canonical) */
	uint64_t pairs;      /* kept pairs */
	uint64_t bytes;      /* key + value bytes of kept pairs */
};
/* Called per partition in token order with its canonical hash; non-zero stops the walk. */
typedef int (*store_repair_hash_fn)(void *ctx, int64_t token, const struct merkle_hash *h);
/* Hash every partition with token in (start, end] (wrapping as store_scan); now_s 0 = clock. */
int store_repair_hash(struct store_table *t, int64_t start, int64_t end, int64_t now_s,
                      store_repair_hash_fn fn, void *ctx, struct store_repair_counts *counts,
                      struct cerr *err);
/* RocksDB's estimate of the keys in (start, end] (proportional share, at least 1). */
uint64_t store_repair_estimate_partitions(struct store_table *t, int64_t start, int64_t end);
/*
 * One chunk of (start, end]: kept pairs after the key `after` (NULL: from the
 * start) appended to out until the next would pass max_bytes (at least one
 * pair per chunk); `last` receives the last key written; *more says whether
 * pairs remain (resume with after = last).
 */
int store_repair_chunk(struct store_table *t, int64_t start, int64_t end, const uint8_t *after,
                       size_t alen, int64_t now_s, size_t max_bytes, struct buf *out,
                       struct buf *last, bool *more, struct cerr *err);
/* Validate and merge a chunk whose keys must lie in (start, end]; pairs written at or
 * before the table's truncation time are skipped (store_table_truncate). */
int store_repair_apply(struct store_table *t, int64_t start, int64_t end, const uint8_t *chunk,
                       size_t len, uint64_t *pairs, struct cerr *err);

#endif
