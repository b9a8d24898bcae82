/*
 * schema_int.h — the insides of the schema catalogue, shared by its three
 * files: schema.c (life cycle, snapshots, DDL), schema_rows.c (the persisted
 * rows: their format, the sorted row table, rows from peers) and
 * schema_virtual.c (the system keyspaces' definitions).  Nothing outside
 * coordinator/schema/ includes it.
 */
#ifndef COLONNADE_COORDINATOR_SCHEMA_INT_H
#define COLONNADE_COORDINATOR_SCHEMA_INT_H

#include "coordinator/schema/schema.h"

#include <pthread.h>
#include <stdatomic.h>

struct store;
struct store_table;

/* The row format (schema.h's persistence table) and its keys. */
#define ROW_FORMAT        2
#define ROW_FORMAT_LEGACY 1 /* table rows with every column: converted on open */
#define KEY_CO            "schema/co/"
#define KEY_KS            "schema/ks/"
#define KEY_TB            "schema/tb/"
#define KEY_IX            "schema/ix/"
#define KEY_TY            "schema/ty/"
/* Ids of columns added by ALTER have this bit set; CREATE TABLE counts from 0. */
#define COLUMN_ID_ADDED 0x80000000u
#define MAX_LISTENERS   8
/* Cassandra's default gc_grace_seconds. */
#define DEFAULT_GC_GRACE 864000

/* One persisted row, as loaded or written. */
struct row {
	char *key;
	size_t klen;
	uint8_t *val;
	size_t vlen;
};

struct table_handle {
	uint8_t id[16];
	struct store_table *st;
	int refs;        /* snapshots that reference it */
	uint64_t digest; /* schema_table.digest the store was last told about */
	bool dropped;    /* no longer in the live schema: drop data when refs reach 0 */
	char ks[SCHEMA_NAME_MAX + 1], name[SCHEMA_NAME_MAX + 1];
	struct table_handle *next;
};

struct schema {
	struct store *store;
	struct row *rows; /* sorted by key */
	size_t n_rows, cap_rows;
	_Atomic(struct schema_snap *) cur;
	pthread_mutex_t ref_lock; /* schema_snap_ref from any thread, the swap, the graveyard */
	pthread_t owner;          /* the thread that frees snapshots (schema.h, Threads) */
	struct schema_snap *graveyard; /* under ref_lock */
	atomic_bool graves;            /* graveyard non-empty (a hint; checked without the lock) */
	_Atomic uint64_t cur_generation;
	uint64_t generation;
	struct table_handle *handles;
	struct {
		schema_listener_fn fn;
		void *ctx;
	} listeners[MAX_LISTENERS];
	int n_listeners;
	struct schema_keyspace **sys_ks; /* virtual keyspaces, shared by every snapshot */
	uint32_t n_sys_ks;
};

/* ---- rows (schema_rows.c) ---- */

/* A NUL-terminated copy of s[0..n); NULL when out of memory. */
char *schema_strndup(const char *s, size_t n);
/* Byte order of keys and values, shorter first on a tie. */
int schema_row_cmp(const char *a, size_t alen, const char *b, size_t blen);
/* Index of the row with key, or -(insertion point) - 1. */
long schema_rows_find(const struct schema *s, const char *key, size_t klen);
/* Replace or insert a copy of the row.  0 or COL_ENOMEM. */
int schema_rows_set(struct schema *s, const char *key, size_t klen, const void *val, size_t vlen);
/* The version of the whole row table (schema.h): as schema_rows_version() over s->rows. */
void schema_rows_table_version(const struct schema *s, uint8_t out[16]);
/* A 128-bit hash shaped as a UUID (version nibble 3, IETF variant). */
void schema_hash_uuid(uint64_t high, uint64_t low, uint8_t out[16]);

/* str = u16 length + bytes; schema_get_str() returns a malloc'd copy or NULL. */
void schema_put_str(struct buf *b, const char *s);
char *schema_get_str(struct bufreader *r);
void schema_row_header(struct buf *b, char kind, int64_t ts, bool dropped);
int schema_decode_row_header(struct bufreader *r, char *kind, int64_t *ts, bool *dropped);
void schema_encode_keyspace(struct buf *b, const struct schema_keyspace *k, bool dropped,
                            int64_t ts);
void schema_encode_table(struct buf *b, const struct schema_table *t, bool dropped, int64_t ts);
/* The body of a 'K' row into k (name and timestamp are the caller's).  0 or COL_E*. */
int schema_decode_keyspace(struct bufreader *r, struct schema_keyspace *k, struct cerr *err);
/* Column types name user types of keyspace k (schema_resolve_type); k NULL: any name
 * stands for a type (checks of a row alone).  COL_ENOTFOUND when k lacks a named type. */
/* The body of a 'T' row into t (name, keyspace and timestamp are the caller's); legacy:
 * format 1 (next_column_id and every column) rather than key columns only. */
int schema_decode_table(struct bufreader *r, struct schema_table *t, bool legacy,
                        const struct schema_keyspace *k, struct cerr *err);
/* A 'C' row: header, then table id, column id, kind, type (on tombstones too). */
void schema_encode_column(struct buf *b, const uint8_t table_id[16], const struct schema_column *c,
                          bool dropped, int64_t ts);
/* The body of a 'C' row: table id into tid, and c's id, kind and type (c->name untouched). */
int schema_decode_column(struct bufreader *r, uint8_t tid[16], struct schema_column *c,
                         const struct schema_keyspace *k, struct cerr *err);
void schema_ks_key(struct buf *b, const char *ks);
void schema_tb_key(struct buf *b, const char *ks, const char *table);
void schema_co_key(struct buf *b, const char *ks, const char *table, const char *column);
void schema_ix_key(struct buf *b, const char *ks, const char *table, const char *index);
/* The body of an 'I' row: table id into tid, kind and column.  0 or COL_ECORRUPT. */
int schema_decode_index(struct bufreader *r, uint8_t tid[16], struct schema_index *ix,
                        struct cerr *err);
/* The 'I' rows of table t (ks) that carry its id: live ones into t->indexes. */
int schema_table_add_indexes(struct schema *s, struct schema_table *t, const char *ks,
                             struct cerr *err);
int64_t schema_next_ts(const struct schema *s, const char *key, size_t klen, int64_t ts);
/*
 * The rows that replace a format 1 row (same key and timestamp, format 2; a live
 * table row becomes its table row and one column row per regular or static
 * column, ids unchanged), appended to batch as [u32 klen][key][u32 vlen][val].
 * 0 with *converted set when row was format 1; COL_ECORRUPT when it does not decode.
 */
int schema_convert_legacy_row(const char *key, size_t klen, const uint8_t *val, size_t vlen,
                              struct buf *batch, bool *converted, struct cerr *err);

/* ---- user-defined types (schema_types.c) ---- */

void schema_ty_key(struct buf *b, const char *ks, const char *name);
/* The live 'Y' rows of k into k->types (sorted by name), nested types resolved;
 * a type naming a type k does not have is left out (logged).  0 or COL_E*. */
int schema_keyspace_add_types(struct schema *s, struct schema_keyspace *k, struct cerr *err);
/* A 'Y' row's body decodes, and its field types parse (type names as stand-ins). */
int schema_check_type_body(struct bufreader *r, struct cerr *err);

void schema_table_free(struct schema_table *t);
void schema_keyspace_free(struct schema_keyspace *k);
/* Columns in schema order (pk, clustering, then by name); n_pk, n_ck recounted. */
void schema_table_sort_columns(struct schema_table *t);
/* [A-Za-z0-9_]{1,SCHEMA_NAME_MAX} */
bool schema_valid_name(const char *n);

/* ---- changes (schema.c) ---- */

/* Append one row to a batch ([u32 klen][key][u32 vlen][val]...). */
void schema_batch_add(struct buf *batch, const void *key, size_t klen, const void *val,
                      size_t vlen);
/* Persist a batch ([u32 klen][key][u32 vlen][val]...), rebuild the snapshot, release batch. */
int schema_finish_batch(struct schema *s, struct buf *batch, struct cerr *err);

/* ---- the system keyspaces (schema_virtual.c) ---- */

/* A new virtual keyspace ("system" or "system_schema") with its tables; NULL on OOM. */
struct schema_keyspace *schema_virtual_keyspace_new(const char *name);
/* qsort comparators of table and keyspace pointers by name. */
int schema_table_name_cmp(const void *a, const void *b);
int schema_ks_name_cmp(const void *a, const void *b);

/* The keyspace row of def at (at least) timestamp: create or replace, no checks. */
int schema_write_keyspace(struct schema *s, const struct schema_keyspace_def *def,
                          int64_t timestamp, struct cerr *err);
/* schema_create_table with a given table id (NULL: a random one). */
int schema_create_table_id(struct schema *s, const struct schema_table_def *def, const uint8_t *id,
                           int64_t timestamp, struct cerr *err);

/* schema_repl.c: the full class name of a replication strategy, NULL when unknown. */
const char *schema_repl_class_full(const char *c);

#endif
