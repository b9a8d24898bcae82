/*
 * schema.h — the schema catalogue: keyspaces, tables, columns, and the schema
 * version that drivers and peers compare.  It never sends anything to a peer
 * (schema_sync.h does) and never reads or writes table data: it only tells
 * the store which tables exist.
 *
 * Readers see an immutable snapshot (struct schema_snap).  Every DDL builds a
 * new snapshot from the old one plus the change, persists the changed rows,
 * and swaps the current pointer; a reader that holds a snapshot keeps a
 * consistent view for as long as it holds it (schema_snap_ref/unref, atomic
 * refcount), and readers on the loop thread never lock.
 *
 * Persistence (the `system` column family, through storage/storage.h's
 * system get/put/iterate), one row per keyspace, per table and per
 * regular or static column (Cassandra's system_schema.keyspaces, tables and
 * columns + dropped_columns):
 *
 *   | key                                          | value                      |
 *   |----------------------------------------------|----------------------------|
 *   | "schema/co/" <ks> "\0" <table> "\0" <column> | schema row, kind 'C'       |
 *   | "schema/ix/" <ks> "\0" <table> "\0" <index>  | schema row, kind 'I'       |
 *   | "schema/ks/" <ks>                            | schema row, kind 'K'       |
 *   | "schema/tb/" <ks> "\0" <table>               | schema row, kind 'T'       |
 *   | "schema/ty/" <ks> "\0" <type>                | schema row, kind 'Y'       |
 *
 * A schema row (all integers big-endian; str = u16 length + bytes):
 *
 *   | field       | type | notes                                           |
 *   |-------------|------|-------------------------------------------------|
 *   | format      | u8   | 2 (1: before column rows; converted on open)    |
 *   | kind        | u8   | 'K' keyspace, 'T' table, 'C' column             |
 *   | timestamp   | i64  | µs of the DDL that wrote it (merge: newest wins)|
 *   | dropped     | u8   | 1 = tombstone (kept so peers' merges see drops) |
 *   | 'K' body    |      | durable_writes u8, n u16, n x (str key, str val)|
 *   |             |      | replication options, "class" first              |
 *   | 'T' body    |      | id 16, gc_grace i32, default_ttl i32,           |
 *   |             |      | comment str, n u16, n x key column              |
 *   |             |      | (id u32, name str, kind u8, position i16,       |
 *   |             |      |  desc u8, type str (CQL type text)),            |
 *   |             |      | then optionally speculative_retry str (absent:  |
 *   |             |      | '99p'; written when set otherwise or when kept  |
 *   |             |      | options follow), then optionally n u16, n x     |
 *   |             |      | (name str, value str): the kept table options   |
 *   |             |      | (struct schema_table_opt), sorted by name       |
 *   | 'C' body    |      | table id 16, column id u32, kind u8 (regular or |
 *   |             |      | static), type str; also on a tombstone, whose   |
 *   |             |      | timestamp is the drop time                      |
 *   | 'I' body    |      | table id 16, kind u8 (enum schema_index_kind),  |
 *   |             |      | column str; also on a tombstone (DROP INDEX)    |
 *   | 'Y' body    |      | n u16, n x (field name str, field type str),    |
 *   |             |      | fields in order; also on a tombstone (DROP TYPE)|
 *
 * Format 1 table rows held every column and a next_column_id counter; a store
 * written with them is converted on open (same keys, timestamps and column
 * ids), and peers' format 1 rows are refused.
 *
 * The schema version is XXH3-128 over the canonical encoding of every row
 * (tombstones included) in key order, shaped as a UUID (version nibble 3,
 * IETF variant): two nodes holding the same rows agree on the version, and
 * every DDL changes it because it changes a row's timestamp.  Rows from a peer
 * merge in with schema_merge_rows() (newest timestamp wins per row), which is
 * what schema_sync.h's push and pull call.
 *
 * A table is its 'T' row (options, key columns: they never change) plus the
 * 'C' rows under its name that carry its table id (rows of an earlier table
 * of that name are ignored).  Each column merges on its own, so concurrent
 * ALTER TABLE ... ADD / DROP / WITH on different nodes all survive.  The
 * storage engine keys cells by column id, and a column id is never reused
 * within a table: an added column's id is a hash of (table id, name, type,
 * the time that name was last dropped), with the top bit set (ids given at
 * CREATE TABLE count from 0), re-hashed while it meets an id the table has
 * or had.  So two nodes adding the same column at once give it one id (no
 * write is lost), two different columns get different ids, and a column
 * dropped and added again gets a new id: the dropped column's cells stay
 * invisible forever, whatever order the rows merge in.
 *
 * The system keyspaces (system, system_schema) are part of every snapshot
 * (virtual, never persisted, not in the version hash): their tables are
 * described here so drivers and cqlsh see them in system_schema.
 */
#ifndef COLONNADE_COORDINATOR_SCHEMA_H
#define COLONNADE_COORDINATOR_SCHEMA_H

#include "core/buf.h"
#include "core/cqltype.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct store_table;

typedef struct schema schema;

#define SCHEMA_NAME_MAX 48 /* Cassandra's limit on keyspace and table names */

enum schema_col_kind {
	SCHEMA_COL_PARTITION_KEY = 0,
	SCHEMA_COL_CLUSTERING = 1,
	SCHEMA_COL_REGULAR = 2,
	SCHEMA_COL_STATIC = 3,
};
/* "partition_key", "clustering", "regular", "static" */
const char *schema_col_kind_name(enum schema_col_kind k);

struct schema_column {
	char *name;
	const struct cqltype *type;
	enum schema_col_kind kind;
	int position; /* index within the partition or clustering key, -1 otherwise */
	bool desc;    /* clustering DESC */
	uint32_t id;  /* stable across ALTER; never reused within the table */
};

/* A dropped regular or static column (system_schema.dropped_columns). */
struct schema_dropped_column {
	char *name;
	const struct cqltype *type;
	enum schema_col_kind kind;
	uint32_t id;
	int64_t dropped_time; /* µs */
};

/*
 * A Cassandra table option Colonnade keeps and shows (DESCRIBE, system_schema.tables)
 * but does not act on: compaction, compression, caching, bloom_filter_fp_chance, ...
 * (coordinator/query/tableopts.h).  The value is canonical text ("0.1", "true",
 * "BLOCKING"); a map option is one entry per key, named "option.key"
 * ("compaction.class").  A table's list is sorted by name.
 */
struct schema_table_opt {
	char *name;
	char *value;
};

/*
 * A secondary index (CREATE INDEX; system_schema.indexes): what of which
 * column it indexes.  The target text is Cassandra's: "v", "keys(m)",
 * "values(s)", "entries(m)", "full(f)".
 */
enum schema_index_kind {
	SCHEMA_INDEX_VALUE = 0,   /* a regular, static or clustering column's value;
	                           * for a non-frozen collection: its values */
	SCHEMA_INDEX_KEYS = 1,    /* KEYS(m) */
	SCHEMA_INDEX_ENTRIES = 2, /* ENTRIES(m) */
	SCHEMA_INDEX_FULL = 3,    /* FULL(frozen collection) */
};

struct schema_index {
	char *name;
	char *column;
	enum schema_index_kind kind;
	int64_t timestamp;
};

/* "v", "keys(v)", "values(v)", "entries(v)" or "full(v)" into out (size n). */
void schema_index_target(const struct schema_index *ix, const struct schema_column *c, char *out,
                         size_t n);

struct schema_table {
	struct schema_keyspace *ks;
	char *name;
	uint8_t id[16];
	/* cols: partition key columns (by position), clustering (by position),
	 * then static and regular columns sorted by name: Cassandra's SELECT * order. */
	struct schema_column *cols;
	uint32_t n_cols, n_pk, n_ck;
	struct schema_dropped_column *dropped; /* sorted by name */
	uint32_t n_dropped;
	int32_t gc_grace_seconds;     /* default 864000 */
	int32_t default_time_to_live; /* 0 = none */
	char *comment;
	char *speculative_retry;       /* NULL: the default, '99p' (request.h's spec_retry text) */
	struct schema_table_opt *opts; /* kept, not acted on; sorted by name */
	uint32_t n_opts;
	struct schema_index *indexes; /* sorted by name */
	uint32_t n_indexes;
	int64_t timestamp;      /* newest of its table and column rows */
	uint64_t digest;        /* hash of those rows: changes whenever one of them does */
	bool virtual_;          /* a system/system_schema table (not in storage) */
	struct store_table *st; /* storage handle, NULL for virtual tables */
};

/* The store's form of index ix of t (storage.h, struct store_index; FULL is the whole
 * value of a frozen collection): false when t has no column ix names. */
struct store_index;
bool schema_index_store(const struct schema_table *t, const struct schema_index *ix,
                        struct store_index *out);

struct schema_keyspace {
	char *name;
	bool durable_writes;
	/* Replication options as written, "class" first (full class name). */
	char **repl_keys, **repl_vals;
	uint32_t n_repl;
	uint32_t replication_factor;  /* SimpleStrategy: rf; NTS: sum over DCs */
	struct schema_table **tables; /* sorted by name */
	uint32_t n_tables;
	/* User-defined types (CQLTYPE_UDT, not frozen), sorted by name; a column or
	 * field naming one holds a resolved copy (schema_types.c). */
	const struct cqltype **types;
	uint32_t n_types;
	int64_t timestamp;
	bool virtual_;
	/* A virtual keyspace in Cassandra's sense (system_virtual_schema): listed by
	 * system_virtual_schema, not system_schema; DESCRIBE shows it as a comment. */
	bool in_virtual_schema;
};

struct schema_snap {
	struct schema_keyspace **keyspaces; /* sorted by name; system ones included */
	uint32_t n_keyspaces;
	uint8_t version[16];
	uint64_t generation; /* +1 on every change; for caches (prepared plans) */
	/* internal */
	int refs;
	void *priv;
	struct schema_snap *grave_next; /* released off the owner thread, waiting to be freed */
};

/* ---- lifecycle --------------------------------------------------------------------------- */

/*
 * Load the catalogue from the store's system CF (opening the table CFs of
 * every live table).  0, or COL_EIO / COL_ECORRUPT with err naming the row.
 */
int schema_open(struct store *store, struct schema **out, struct cerr *err);
void schema_free(struct schema *s);

/*
 * Threads.  The thread that opened the schema (the node's main loop) is its
 * owner: it alone changes the catalogue and frees snapshots.  Any thread may
 * take and drop references (schema_snap_ref / schema_snap_unref); a snapshot
 * whose last reference drops on another thread waits in a graveyard until the
 * owner's next unref, change or schema_collect() frees it (freeing a snapshot
 * may drop a table's data, which is the owner's work).
 */
/* The current snapshot, valid until the next change on this thread; no refcount.
 * Owner thread only. */
const struct schema_snap *schema_current(const struct schema *s);
/* Take / drop a reference (holders across callbacks, other threads). */
const struct schema_snap *schema_snap_ref(struct schema *s);
void schema_snap_unref(struct schema *s, const struct schema_snap *snap);
/* Owner thread: free the snapshots other threads released. */
void schema_collect(struct schema *s);
/* The current snapshot's generation, from any thread. */
uint64_t schema_generation(const struct schema *s);
/* Loop thread only: a reference to the current snapshot without the lock (snapshots
 * are swapped on that thread, so nothing can free it between the load and the
 * increment).  Drop it with schema_snap_unref(). */
const struct schema_snap *schema_current_ref(struct schema *s);

/* ---- lookups on a snapshot ------------------------------------------------------------------ */

const struct schema_keyspace *schema_snap_keyspace(const struct schema_snap *snap, const char *ks);
const struct schema_table *schema_snap_table(const struct schema_snap *snap, const char *ks,
                                             const char *table);
const struct schema_table *schema_keyspace_table(const struct schema_keyspace *k,
                                                 const char *table);
/* The table whose 16-byte id is `id` (what stored mutations, batches and repair rows
 * name a table by), or NULL: in keyspace k, or in any keyspace of snap.  An id names one
 * table for ever, so a table dropped and created again under its name is not found. */
const struct schema_table *schema_keyspace_table_by_id(const struct schema_keyspace *k,
                                                       const uint8_t id[16]);
const struct schema_table *schema_snap_table_by_id(const struct schema_snap *snap,
                                                   const uint8_t id[16]);
/* User-defined type by name, or NULL. */
const struct cqltype *schema_keyspace_type(const struct schema_keyspace *k, const char *name);
/*
 * A cqltype_resolver over the types of keyspace ctx (a const struct
 * schema_keyspace *): a copy, not frozen, of the named type, or COL_ENOTFOUND
 * "Unknown type ks.name".  For cqltype_parse_in() of column and field types.
 */
int schema_resolve_type(void *ctx, const char *name, size_t len, const struct cqltype **out,
                        struct cerr *err);
/* True if type t is, or holds anywhere inside it, user type ks.name. */
bool schema_type_references(const struct cqltype *t, const char *ks, const char *name);
/* Column by name, or NULL. */
const struct schema_column *schema_table_column(const struct schema_table *t, const char *name);
/* True for "system", "system_schema" and the other keyspaces users cannot change. */
bool schema_is_system_keyspace(const char *ks);
/*
 * True for system_auth and system_traces: system keyspaces stored and replicated like a
 * user keyspace (its rows sync between nodes; users may ALTER its replication,
 * nothing else).  schema_ensure_system_auth() makes it.
 */
bool schema_is_replicated_system_keyspace(const char *ks);

/*
 * Make system_auth (tables roles, role_members, role_permissions, as Cassandra
 * names them) if this node's schema has no such keyspace: at timestamp 0 with
 * fixed table ids, so every node makes the same rows (the same schema version),
 * and any later ALTER KEYSPACE wins.  Replication: NetworkTopologyStrategy with
 * 3 in `dc`.  0 (made, or there already), or COL_E* with err.
 */
int schema_ensure_system_auth(struct schema *s, const char *dc, struct cerr *err);
/*
 * Make system_traces (tables sessions and events, Cassandra 4.0's) the same
 * way: SimpleStrategy with replication_factor 2, as Cassandra makes it.
 */
int schema_ensure_system_traces(struct schema *s, struct cerr *err);

/* ---- changes (DDL) ------------------------------------------------------------------------ */

struct schema_repl_opt {
	const char *key, *val;
};

struct schema_keyspace_def {
	const char *name;
	bool durable_writes;
	const struct schema_repl_opt *repl; /* must include "class" */
	uint32_t n_repl;
};

struct schema_column_def {
	const char *name;
	const struct cqltype *type; /* borrowed; the schema copies it */
	enum schema_col_kind kind;
	int position;
	bool desc;
};

struct schema_table_def {
	const char *ks, *name;
	const struct schema_column_def *cols;
	uint32_t n_cols;
	int32_t gc_grace_seconds;      /* < 0: default */
	int32_t default_time_to_live;  /* < 0: default (0) */
	const char *comment;           /* NULL: "" */
	const char *speculative_retry; /* NULL: the default ('99p'); validated by the caller */
	const struct schema_table_opt *opts; /* sorted by name; validated by the caller */
	uint32_t n_opts;
};

/*
 * Validate replication options: class SimpleStrategy (replication_factor
 * required) or NetworkTopologyStrategy (dc: rf pairs), short or full class
 * names; normalises the class to the full name.  COL_ECONFIG with Cassandra's
 * wording on a bad option.
 */
int schema_check_replication(const struct schema_repl_opt *opts, uint32_t n, struct cerr *err);

/* All return 0 or: COL_EEXIST / COL_ENOTFOUND / COL_EINVAL / COL_ECONFIG / COL_EIO with err. */
int schema_create_keyspace(struct schema *s, const struct schema_keyspace_def *def,
                           int64_t timestamp, struct cerr *err);
int schema_alter_keyspace(struct schema *s, const struct schema_keyspace_def *def,
                          int64_t timestamp, struct cerr *err);
int schema_drop_keyspace(struct schema *s, const char *ks, int64_t timestamp, struct cerr *err);
int schema_create_table(struct schema *s, const struct schema_table_def *def, int64_t timestamp,
                        struct cerr *err);
/*
 * User-defined types, with Cassandra's checks and messages (CREATE / ALTER /
 * DROP TYPE).  Field types are borrowed (parsed with schema_resolve_type); a
 * field may not be a counter or a non-frozen UDT.  COL_EEXIST when the type
 * exists (CREATE), COL_ENOTFOUND when it does not (ALTER, DROP), COL_EINVAL
 * for the rest.  DROP is refused while a table or another type uses it.
 */
int schema_create_type(struct schema *s, const char *ks, const char *name,
                       const char *const *fields, const struct cqltype *const *types, uint32_t n,
                       int64_t timestamp, struct cerr *err);
int schema_alter_type_add(struct schema *s, const char *ks, const char *name, const char *field,
                          const struct cqltype *type, int64_t timestamp, struct cerr *err);
int schema_alter_type_rename(struct schema *s, const char *ks, const char *name,
                             const char *const *from, const char *const *to, uint32_t n,
                             int64_t timestamp, struct cerr *err);
int schema_drop_type(struct schema *s, const char *ks, const char *name, int64_t timestamp,
                     struct cerr *err);
/* ADD columns (regular or static only). */
int schema_alter_table_add(struct schema *s, const char *ks, const char *table,
                           const struct schema_column_def *cols, uint32_t n, int64_t timestamp,
                           struct cerr *err);
int schema_alter_table_drop(struct schema *s, const char *ks, const char *table,
                            const char *const *cols, uint32_t n, int64_t timestamp,
                            struct cerr *err);
/* WITH options: gc_grace_seconds / default_time_to_live (< 0: unchanged), comment and
 * speculative_retry (NULL: unchanged), the kept options (n_opts < 0: unchanged; else the
 * table's whole new list, sorted by name). */
int schema_alter_table_options(struct schema *s, const char *ks, const char *table,
                               int32_t gc_grace_seconds, int32_t default_ttl, const char *comment,
                               const char *speculative_retry, const struct schema_table_opt *opts,
                               int32_t n_opts, int64_t timestamp, struct cerr *err);
int schema_drop_table(struct schema *s, const char *ks, const char *table, int64_t timestamp,
                      struct cerr *err);
/*
 * CREATE INDEX name ON ks.table: column and kind checked by the caller (the
 * query layer has Cassandra's messages).  COL_EEXIST when an index of that
 * name exists in the keyspace (err names it), COL_ENOTFOUND without the table.
 */
int schema_create_index(struct schema *s, const char *ks, const char *table, const char *name,
                        const char *column, enum schema_index_kind kind, int64_t timestamp,
                        struct cerr *err);
/* DROP INDEX ks.name.  COL_ENOTFOUND when the keyspace has no such index. */
int schema_drop_index(struct schema *s, const char *ks, const char *name, int64_t timestamp,
                      struct cerr *err);
/* The table of keyspace k with index `name`, or NULL; *ix (may be NULL) the index. */
const struct schema_table *schema_keyspace_index(const struct schema_keyspace *k, const char *name,
                                                 const struct schema_index **ix);

/* ---- listeners and merging ------------------------------------------------------------------ */

/* Called on the loop thread after every change (local DDL or merged row). */
typedef void (*schema_listener_fn)(void *ctx, const struct schema_snap *snap);
/* At most 8 listeners; 0 or COL_EFULL. */
int schema_add_listener(struct schema *s, schema_listener_fn fn, void *ctx);

/*
 * Every persisted row (tombstones included), in key order, for a peer's pull:
 * emit(key, klen, val, vlen, ctx) for each.  Rows are the table above.
 */
void schema_rows(struct schema *s,
                 void (*emit)(const void *key, size_t klen, const void *val, size_t vlen,
                              void *ctx),
                 void *ctx);
/*
 * Merge one row from a peer: applied if newer than ours (timestamp, then the
 * bytes as a tie-break), persisted, snapshot swapped.  0 (applied or ignored),
 * COL_ECORRUPT on a malformed row.
 */
int schema_merge_row(struct schema *s, const void *key, size_t klen, const void *val, size_t vlen,
                     struct cerr *err);

/*
 * Check one row from a peer without applying it: the header, a key of the
 * row's kind with valid names (no system keyspace), and for a live row a body
 * that decodes completely (replication options with "class" first; table
 * key columns with parsable types and a partition key; a column row's kind
 * and type) and that the store would accept (key positions, key and column
 * types, unique column names and ids, gc_grace / TTL bounds).
 * 0 with *ts (may be NULL) the row's timestamp, or COL_ECORRUPT naming what is wrong.
 */
int schema_row_check(const void *key, size_t klen, const void *val, size_t vlen, int64_t *ts,
                     struct cerr *err);

struct schema_row_ref {
	const char *key;
	size_t klen;
	const void *val;
	size_t vlen;
};
/*
 * Merge a set of rows from a peer (keys strictly ascending, as schema_rows()
 * emits them), all or nothing: every row is checked first (schema_row_check,
 * and a table row reusing a live table's id must be that table with the same
 * key columns); one
 * bad row refuses the whole set with COL_ECORRUPT and nothing changes.  Then
 * each row newer than ours (timestamp, then bytes as the tie-break: the same
 * winner on every node) is persisted in one batch and the snapshot rebuilt
 * once (table CFs opened/dropped, listeners told).  *applied (may be NULL):
 * rows taken; 0 means the schema did not change.
 */
int schema_merge_rows(struct schema *s, const struct schema_row_ref *rows, size_t n,
                      size_t *applied, struct cerr *err);

/*
 * What changed from `before` to `after`, as the SCHEMA_CHANGE events Cassandra
 * sends (schema_diff.c has the rules and their order): fn(ctx, change,
 * target, keyspace, name) once per keyspace, table or type created, updated
 * or dropped; name is NULL for a keyspace.  Virtual keyspaces are left out.
 */
enum schema_ev_change { SCHEMA_EV_CREATED, SCHEMA_EV_UPDATED, SCHEMA_EV_DROPPED };
enum schema_ev_target { SCHEMA_EV_KEYSPACE, SCHEMA_EV_TABLE, SCHEMA_EV_TYPE };
typedef void (*schema_diff_fn)(void *ctx, enum schema_ev_change c, enum schema_ev_target t,
                               const char *ks, const char *name);
void schema_snap_diff(const struct schema_snap *before, const struct schema_snap *after,
                      schema_diff_fn fn, void *ctx);
/* "CREATED" / "UPDATED" / "DROPPED"; "KEYSPACE" / "TABLE" / "TYPE" (protocol spec 4.2.6). */
const char *schema_ev_change_name(enum schema_ev_change c);
const char *schema_ev_target_name(enum schema_ev_target t);

/* The schema version a node holding exactly these rows (in key order) reports. */
void schema_rows_version(const struct schema_row_ref *rows, size_t n, uint8_t out[16]);

#endif
