#include "coordinator/schema/schema.h"

#include "core/array.h"
#include "core/buf.h"
#include "core/hex.h"
#include "core/log.h"
#include "storage/storage.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#define MOD "schema"

#define ROW_FORMAT    1
#define KEY_KS        "schema/ks/"
#define KEY_TB        "schema/tb/"
#define MAX_LISTENERS 8
/* Cassandra's defaults. */
#define DEFAULT_GC_GRACE 864000

/* ---- small helpers ------------------------------------------------------------------------ */

static char *xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

static void uuid_random(uint8_t u[16])
{
	if (getrandom(u, 16, 0) != 16) {
		/* getrandom on Linux >= 3.17 does not fail for 16 bytes; be safe anyway. */
		XXH128_hash_t h = XXH3_128bits_withSeed(u, 16, (uint64_t)clock());
		be64_store(u, h.high64);
		be64_store(u + 8, h.low64);
	}
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
}

const char *schema_col_kind_name(enum schema_col_kind k)
{
	switch (k) {
	case SCHEMA_COL_PARTITION_KEY: return "partition_key";
	case SCHEMA_COL_CLUSTERING: return "clustering";
	case SCHEMA_COL_STATIC: return "static";
	default: return "regular";
	}
}

bool schema_is_system_keyspace(const char *ks)
{
	return strcmp(ks, "system") == 0 || strcmp(ks, "system_schema") == 0 ||
	       strcmp(ks, "system_auth") == 0 || strcmp(ks, "system_distributed") == 0 ||
	       strcmp(ks, "system_traces") == 0 || strcmp(ks, "system_virtual_schema") == 0;
}

/* ---- storage glue (the only place schema touches storage.h) -------------------------------- */

static int schema_storage_load(struct store *st,
                               void (*fn)(const void *, size_t, const void *, size_t, void *),
                               void *ctx, struct cerr *err);
static int schema_storage_put(struct store *st, const uint8_t *batch, size_t len, struct cerr *err);
static int schema_storage_open(struct store *st, const struct schema_table *t,
                               struct store_table **out, struct cerr *err);
static void schema_storage_drop(struct store *st, struct store_table *t, const char *ks,
                                const char *name);

struct load_ctx {
	void (*fn)(const void *, size_t, const void *, size_t, void *);
	void *ctx;
};

static int load_cb(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct load_ctx *lc = ctx;
	lc->fn(key, klen, val, vlen, lc->ctx);
	return 0;
}

static int schema_storage_load(struct store *st,
                               void (*fn)(const void *, size_t, const void *, size_t, void *),
                               void *ctx, struct cerr *err)
{
	struct load_ctx lc = {fn, ctx};
	return store_kv_scan(st, STORE_CF_SYSTEM, "schema/", 7, load_cb, &lc, err);
}

/* Rows of one change: [u32 klen][key][u32 vlen][val]...; each put is durable per the
 * store's sync policy.  A crash between two puts of one DDL leaves rows that are each
 * valid on their own (a keyspace tombstone without its tables' tombstones: the orphan
 * tables are ignored on load, see build_snapshot). */
static int schema_storage_put(struct store *st, const uint8_t *batch, size_t len, struct cerr *err)
{
	struct bufreader r;
	bufreader_init(&r, batch, len);
	while (bufreader_left(&r) > 0) {
		uint32_t kl = bufreader_u32be(&r);
		const uint8_t *k = bufreader_take(&r, kl);
		uint32_t vl = bufreader_u32be(&r);
		const uint8_t *v = bufreader_take(&r, vl);
		if (!bufreader_ok(&r))
			return cerr_set(err, COL_ECORRUPT, "internal: malformed schema batch");
		int rc = store_kv_put(st, STORE_CF_SYSTEM, k, kl, v, vl, err);
		if (rc)
			return rc;
	}
	/* DDL is rare and must survive a crash right after it is acknowledged (the
	 * periodic WAL sync could lose it, orphaning a table's data): sync now. */
	return store_sync_wal(st, err);
}

static int schema_storage_open(struct store *st, const struct schema_table *t,
                               struct store_table **out, struct cerr *err)
{
	const struct cqltype *pk[STORE_MAX_PK_COLS], *ck[STORE_MAX_CK_COLS];
	bool ck_desc[STORE_MAX_CK_COLS];
	struct store_column *cols = calloc(t->n_cols ? t->n_cols : 1, sizeof(*cols));
	if (!cols)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	size_t n_pk = 0, n_ck = 0, n_cols = 0;
	for (uint32_t i = 0; i < t->n_cols; i++) {
		const struct schema_column *c = &t->cols[i];
		if (c->kind == SCHEMA_COL_PARTITION_KEY && n_pk < STORE_MAX_PK_COLS)
			pk[n_pk++] = c->type;
		else if (c->kind == SCHEMA_COL_CLUSTERING && n_ck < STORE_MAX_CK_COLS) {
			ck_desc[n_ck] = c->desc;
			ck[n_ck++] = c->type;
		} else if (c->kind == SCHEMA_COL_REGULAR || c->kind == SCHEMA_COL_STATIC) {
			cols[n_cols].id = c->id;
			cols[n_cols].type = c->type;
			cols[n_cols].is_static = c->kind == SCHEMA_COL_STATIC;
			n_cols++;
		}
	}
	struct store_table_desc d = {
	        .keyspace = t->ks ? t->ks->name : "",
	        .name = t->name,
	        .n_pk = n_pk,
	        .pk_types = pk,
	        .n_ck = n_ck,
	        .ck_types = ck,
	        .ck_desc = ck_desc,
	        .n_cols = n_cols,
	        .cols = cols,
	        .gc_grace_seconds = t->gc_grace_seconds,
	        .default_ttl = t->default_time_to_live,
	};
	memcpy(d.id, t->id, 16);
	int rc = store_table_open(st, &d, out, err);
	free(cols);
	return rc;
}

static void schema_storage_drop(struct store *st, struct store_table *t, const char *ks,
                                const char *name)
{
	(void)st;
	struct cerr e = {0};
	if (store_table_drop(t, &e))
		log_error(MOD, "dropping the data of table %s.%s: %s", ks, name, e.msg);
	else
		log_info(MOD, "dropped the data of table %s.%s", ks, name);
}

/* ---- persisted rows ----------------------------------------------------------------------- */

struct row {
	char *key;
	size_t klen;
	uint8_t *val;
	size_t vlen;
};

struct table_handle {
	uint8_t id[16];
	struct store_table *st;
	int refs;     /* snapshots that reference it */
	int64_t ts;   /* timestamp of the table row the store was last told about */
	bool dropped; /* no longer in the live schema: drop data when refs reach 0 */
	char ks[SCHEMA_NAME_MAX + 1], name[SCHEMA_NAME_MAX + 1];
	struct table_handle *next;
};

struct schema {
	struct store *store;
	struct row *rows; /* sorted by key */
	size_t n_rows, cap_rows;
	_Atomic(struct schema_snap *) cur;
	pthread_mutex_t ref_lock; /* only for schema_snap_ref from any thread */
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

static int row_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = memcmp(a, b, n);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* Index of the row with key, or -(insertion point) - 1. */
static long rows_find(const struct schema *s, const char *key, size_t klen)
{
	size_t lo = 0, hi = s->n_rows;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = row_cmp(s->rows[mid].key, s->rows[mid].klen, key, klen);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

/* Replace or insert (copies). */
static int rows_set(struct schema *s, const char *key, size_t klen, const void *val, size_t vlen)
{
	uint8_t *v = malloc(vlen ? vlen : 1);
	if (!v)
		return COL_ENOMEM;
	memcpy(v, val, vlen);
	long i = rows_find(s, key, klen);
	if (i >= 0) {
		free(s->rows[i].val);
		s->rows[i].val = v;
		s->rows[i].vlen = vlen;
		return 0;
	}
	char *k = xstrndup(key, klen);
	if (!k) {
		free(v);
		return COL_ENOMEM;
	}
	if (ARRAY_GROW(s->rows, s->cap_rows, s->n_rows + 1)) {
		free(v);
		free(k);
		return COL_ENOMEM;
	}
	size_t at = (size_t)(-i - 1);
	memmove(&s->rows[at + 1], &s->rows[at], (s->n_rows - at) * sizeof(*s->rows));
	s->rows[at] = (struct row){.key = k, .klen = klen, .val = v, .vlen = vlen};
	s->n_rows++;
	return 0;
}

static void put_str(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	buf_put_u16be(b, (uint16_t)n);
	buf_put(b, s, n);
}

static char *get_str(struct bufreader *r)
{
	uint16_t n = bufreader_u16be(r);
	const uint8_t *p = bufreader_take(r, n);
	if (!p)
		return NULL;
	if (memchr(p, 0, n)) {
		r->err = true;
		return NULL;
	}
	return xstrndup((const char *)p, n);
}

static void row_header(struct buf *b, char kind, int64_t ts, bool dropped)
{
	buf_put_u8(b, ROW_FORMAT);
	buf_put_u8(b, (uint8_t)kind);
	buf_put_u64be(b, (uint64_t)ts);
	buf_put_u8(b, dropped ? 1 : 0);
}

static void encode_keyspace(struct buf *b, const struct schema_keyspace *k, bool dropped,
                            int64_t ts)
{
	row_header(b, 'K', ts, dropped);
	if (dropped)
		return;
	buf_put_u8(b, k->durable_writes ? 1 : 0);
	buf_put_u16be(b, (uint16_t)k->n_repl);
	for (uint32_t i = 0; i < k->n_repl; i++) {
		put_str(b, k->repl_keys[i]);
		put_str(b, k->repl_vals[i]);
	}
}

static void encode_table(struct buf *b, const struct schema_table *t, bool dropped, int64_t ts)
{
	row_header(b, 'T', ts, dropped);
	if (dropped)
		return;
	buf_put(b, t->id, 16);
	buf_put_u32be(b, (uint32_t)t->gc_grace_seconds);
	buf_put_u32be(b, (uint32_t)t->default_time_to_live);
	put_str(b, t->comment ? t->comment : "");
	buf_put_u32be(b, t->next_column_id);
	buf_put_u16be(b, (uint16_t)t->n_cols);
	struct buf tn;
	buf_init(&tn);
	for (uint32_t i = 0; i < t->n_cols; i++) {
		const struct schema_column *c = &t->cols[i];
		buf_put_u32be(b, c->id);
		put_str(b, c->name);
		buf_put_u8(b, (uint8_t)c->kind);
		buf_put_u16be(b, (uint16_t)(int16_t)c->position);
		buf_put_u8(b, c->desc ? 1 : 0);
		buf_reset(&tn);
		cqltype_name(c->type, &tn);
		buf_put_u16be(b, (uint16_t)tn.len);
		buf_put(b, tn.data, tn.len);
	}
	buf_release(&tn);
	if (tn.oom)
		b->oom = true;
}

static void ks_key(struct buf *b, const char *ks)
{
	buf_put_str(b, KEY_KS);
	buf_put_str(b, ks);
}

static void tb_key(struct buf *b, const char *ks, const char *table)
{
	buf_put_str(b, KEY_TB);
	buf_put_str(b, ks);
	buf_put_u8(b, 0);
	buf_put_str(b, table);
}

/* ---- snapshot objects --------------------------------------------------------------------- */

static void table_free(struct schema_table *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < t->n_cols; i++) {
		free(t->cols[i].name);
		cqltype_free(t->cols[i].type);
	}
	free(t->cols);
	free(t->name);
	free(t->comment);
	free(t);
}

static void keyspace_free(struct schema_keyspace *k)
{
	if (!k)
		return;
	for (uint32_t i = 0; i < k->n_tables; i++)
		table_free(k->tables[i]);
	free(k->tables);
	for (uint32_t i = 0; i < k->n_repl; i++) {
		free(k->repl_keys[i]);
		free(k->repl_vals[i]);
	}
	free(k->repl_keys);
	free(k->repl_vals);
	free(k->name);
	free(k);
}

static int col_order_cmp(const void *a, const void *b)
{
	const struct schema_column *x = a, *y = b;
	if (x->kind != y->kind) {
		/* pk, clustering, then static and regular together by name */
		int kx = x->kind == SCHEMA_COL_STATIC ? SCHEMA_COL_REGULAR : (int)x->kind;
		int ky = y->kind == SCHEMA_COL_STATIC ? SCHEMA_COL_REGULAR : (int)y->kind;
		if (kx != ky)
			return kx - ky;
	}
	if (x->kind == SCHEMA_COL_PARTITION_KEY || x->kind == SCHEMA_COL_CLUSTERING)
		if (x->kind == y->kind)
			return x->position - y->position;
	return strcmp(x->name, y->name);
}

static void table_sort_columns(struct schema_table *t)
{
	qsort(t->cols, t->n_cols, sizeof(*t->cols), col_order_cmp);
	t->n_pk = t->n_ck = 0;
	for (uint32_t i = 0; i < t->n_cols; i++) {
		if (t->cols[i].kind == SCHEMA_COL_PARTITION_KEY)
			t->n_pk++;
		else if (t->cols[i].kind == SCHEMA_COL_CLUSTERING)
			t->n_ck++;
	}
}

static int decode_table(struct bufreader *r, struct schema_table *t, struct cerr *err)
{
	const uint8_t *id = bufreader_take(r, 16);
	if (id)
		memcpy(t->id, id, 16);
	t->gc_grace_seconds = (int32_t)bufreader_u32be(r);
	t->default_time_to_live = (int32_t)bufreader_u32be(r);
	t->comment = get_str(r);
	t->next_column_id = bufreader_u32be(r);
	uint16_t n = bufreader_u16be(r);
	if (!bufreader_ok(r) || !t->comment)
		return cerr_set(err, COL_ECORRUPT, "truncated table row");
	t->cols = calloc(n ? n : 1, sizeof(*t->cols));
	if (!t->cols)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	for (uint16_t i = 0; i < n; i++) {
		struct schema_column *c = &t->cols[i];
		c->id = bufreader_u32be(r);
		c->name = get_str(r);
		t->n_cols = i + 1u;
		c->kind = (enum schema_col_kind)bufreader_u8(r);
		c->position = (int16_t)bufreader_u16be(r);
		c->desc = bufreader_u8(r) != 0;
		uint16_t tl = bufreader_u16be(r);
		const uint8_t *tp = bufreader_take(r, tl);
		if (!bufreader_ok(r) || !c->name || c->kind > SCHEMA_COL_STATIC)
			return cerr_set(err, COL_ECORRUPT, "malformed column %u of table row", i);
		int rc = cqltype_parse((const char *)tp, tl, &c->type, err);
		if (rc)
			return cerr_set(err, COL_ECORRUPT, "column '%s': %s", c->name, err->msg);
	}
	table_sort_columns(t);
	return 0;
}

/* ---- virtual system keyspaces ------------------------------------------------------------- */

/*
 * The tables drivers and cqlsh read, with Cassandra 3.11's columns
 * (SystemKeyspace.java, SchemaKeyspace.java).  Each column: "name type [pk|ckN]".
 */
struct vt_def {
	const char *ks, *name, *cols;
};
static const struct vt_def vt_defs[] = {
        {"system", "local",
         "key text pk;bootstrapped text;broadcast_address inet;cluster_name text;"
         "cql_version text;data_center text;gossip_generation int;host_id uuid;"
         "listen_address inet;native_protocol_version text;partitioner text;rack text;"
         "release_version text;rpc_address inet;schema_version uuid;tokens set<text>"},
        {"system", "peers",
         "peer inet pk;data_center text;host_id uuid;preferred_ip inet;rack text;"
         "release_version text;rpc_address inet;schema_version uuid;tokens set<text>"},
        {"system_schema", "keyspaces",
         "keyspace_name text pk;durable_writes boolean;replication frozen<map<text, text>>"},
        {"system_schema", "tables",
         "keyspace_name text pk;table_name text ck;bloom_filter_fp_chance double;"
         "caching frozen<map<text, text>>;cdc boolean;comment text;"
         "compaction frozen<map<text, text>>;compression frozen<map<text, text>>;"
         "crc_check_chance double;dclocal_read_repair_chance double;default_time_to_live int;"
         "extensions frozen<map<text, blob>>;flags frozen<set<text>>;gc_grace_seconds int;"
         "id uuid;max_index_interval int;memtable_flush_period_in_ms int;"
         "min_index_interval int;read_repair_chance double;speculative_retry text"},
        {"system_schema", "columns",
         "keyspace_name text pk;table_name text ck;column_name text ck;clustering_order text;"
         "column_name_bytes blob;kind text;position int;type text"},
        {"system_schema", "dropped_columns",
         "keyspace_name text pk;table_name text ck;column_name text ck;dropped_time timestamp;"
         "kind text;type text"},
        {"system_schema", "types",
         "keyspace_name text pk;type_name text ck;field_names frozen<list<text>>;"
         "field_types frozen<list<text>>"},
        {"system_schema", "functions",
         "keyspace_name text pk;function_name text ck;argument_types frozen<list<text>> ck;"
         "argument_names frozen<list<text>>;body text;called_on_null_input boolean;"
         "language text;return_type text"},
        {"system_schema", "aggregates",
         "keyspace_name text pk;aggregate_name text ck;argument_types frozen<list<text>> ck;"
         "final_func text;initcond text;return_type text;state_func text;state_type text"},
        {"system_schema", "triggers",
         "keyspace_name text pk;table_name text ck;trigger_name text ck;"
         "options frozen<map<text, text>>"},
        {"system_schema", "indexes",
         "keyspace_name text pk;table_name text ck;index_name text ck;kind text;"
         "options frozen<map<text, text>>"},
        {"system_schema", "views",
         "keyspace_name text pk;view_name text ck;base_table_id uuid;base_table_name text;"
         "bloom_filter_fp_chance double;caching frozen<map<text, text>>;cdc boolean;"
         "comment text;compaction frozen<map<text, text>>;compression frozen<map<text, text>>;"
         "crc_check_chance double;dclocal_read_repair_chance double;default_time_to_live int;"
         "extensions frozen<map<text, blob>>;gc_grace_seconds int;id uuid;"
         "include_all_columns boolean;max_index_interval int;memtable_flush_period_in_ms int;"
         "min_index_interval int;read_repair_chance double;speculative_retry text;"
         "where_clause text"},
};

static struct schema_table *vt_build(struct schema_keyspace *ks, const struct vt_def *d)
{
	struct schema_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ks = ks;
	t->name = strdup(d->name);
	t->virtual_ = true;
	t->gc_grace_seconds = 0;
	t->comment = strdup("");
	/* A stable id: the hash of the name, so it is the same on every node. */
	char full[128];
	snprintf(full, sizeof(full), "%s.%s", d->ks, d->name);
	XXH128_hash_t h = XXH3_128bits(full, strlen(full));
	be64_store(t->id, h.high64);
	be64_store(t->id + 8, h.low64);
	t->id[6] = (uint8_t)((t->id[6] & 0x0f) | 0x30);
	t->id[8] = (uint8_t)((t->id[8] & 0x3f) | 0x80);
	size_t n = 1;
	for (const char *p = d->cols; *p; p++)
		n += *p == ';';
	t->cols = calloc(n, sizeof(*t->cols));
	if (!t->name || !t->comment || !t->cols) {
		table_free(t);
		return NULL;
	}
	const char *p = d->cols;
	int pkpos = 0, ckpos = 0;
	while (*p) {
		const char *e = strchr(p, ';');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char spec[160];
		snprintf(spec, sizeof(spec), "%.*s", (int)len, p);
		struct schema_column *c = &t->cols[t->n_cols];
		char *sp = strchr(spec, ' ');
		*sp = 0;
		char *type = sp + 1;
		c->kind = SCHEMA_COL_REGULAR;
		c->position = -1;
		size_t tl = strlen(type);
		if (tl > 3 && strcmp(type + tl - 3, " pk") == 0) {
			type[tl - 3] = 0;
			c->kind = SCHEMA_COL_PARTITION_KEY;
			c->position = pkpos++;
		} else if (tl > 3 && strcmp(type + tl - 3, " ck") == 0) {
			type[tl - 3] = 0;
			c->kind = SCHEMA_COL_CLUSTERING;
			c->position = ckpos++;
		}
		c->name = strdup(spec);
		c->id = t->n_cols;
		if (!c->name || cqltype_parse(type, strlen(type), &c->type, NULL)) {
			log_error(MOD, "bad virtual column spec '%s'", spec);
			table_free(t);
			return NULL;
		}
		t->n_cols++;
		p = e ? e + 1 : p + len;
	}
	t->next_column_id = t->n_cols;
	table_sort_columns(t);
	return t;
}

static int table_name_cmp(const void *a, const void *b)
{
	return strcmp((*(struct schema_table *const *)a)->name,
	              (*(struct schema_table *const *)b)->name);
}

static int ks_name_cmp(const void *a, const void *b)
{
	return strcmp((*(struct schema_keyspace *const *)a)->name,
	              (*(struct schema_keyspace *const *)b)->name);
}

static struct schema_keyspace *vks_new(const char *name)
{
	struct schema_keyspace *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->name = strdup(name);
	k->durable_writes = true;
	k->virtual_ = true;
	k->replication_factor = 1;
	k->repl_keys = calloc(1, sizeof(char *));
	k->repl_vals = calloc(1, sizeof(char *));
	if (!k->name || !k->repl_keys || !k->repl_vals) {
		keyspace_free(k);
		return NULL;
	}
	k->repl_keys[0] = strdup("class");
	k->repl_vals[0] = strdup("org.apache.cassandra.locator.LocalStrategy");
	k->n_repl = 1;
	k->tables = calloc(sizeof(vt_defs) / sizeof(vt_defs[0]), sizeof(*k->tables));
	if (!k->tables || !k->repl_keys[0] || !k->repl_vals[0]) {
		keyspace_free(k);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(vt_defs) / sizeof(vt_defs[0]); i++) {
		if (strcmp(vt_defs[i].ks, name) != 0)
			continue;
		struct schema_table *t = vt_build(k, &vt_defs[i]);
		if (!t) {
			keyspace_free(k);
			return NULL;
		}
		k->tables[k->n_tables++] = t;
	}
	qsort(k->tables, k->n_tables, sizeof(*k->tables), table_name_cmp);
	return k;
}

/* ---- building a snapshot from the rows ---------------------------------------------------- */

static uint32_t repl_factor(const struct schema_keyspace *k)
{
	uint32_t rf = 0;
	bool simple = strstr(k->repl_vals[0], "SimpleStrategy") != NULL;
	for (uint32_t i = 1; i < k->n_repl; i++) {
		if (simple && strcmp(k->repl_keys[i], "replication_factor") != 0)
			continue;
		rf += (uint32_t)strtoul(k->repl_vals[i], NULL, 10);
	}
	return rf;
}

static int decode_row_header(struct bufreader *r, char *kind, int64_t *ts, bool *dropped)
{
	uint8_t fmt = bufreader_u8(r);
	*kind = (char)bufreader_u8(r);
	*ts = (int64_t)bufreader_u64be(r);
	*dropped = bufreader_u8(r) != 0;
	if (!bufreader_ok(r) || fmt != ROW_FORMAT)
		return COL_ECORRUPT;
	return 0;
}

static struct table_handle *handle_find(struct schema *s, const uint8_t id[16])
{
	for (struct table_handle *h = s->handles; h; h = h->next)
		if (memcmp(h->id, id, 16) == 0)
			return h;
	return NULL;
}

/* The storage descriptor of a table: its key columns and their types. */
static int handle_open(struct schema *s, const struct schema_table *t, const char *ks,
                       struct table_handle **out, struct cerr *err)
{
	struct table_handle *h = handle_find(s, t->id);
	if (h) {
		if (h->ts != t->timestamp) {
			/* ALTER: the store re-reads columns, gc_grace and default ttl. */
			struct store_table *st;
			int rc = schema_storage_open(s->store, t, &st, err);
			if (rc)
				return rc;
			h->st = st;
			h->ts = t->timestamp;
		}
		*out = h;
		return 0;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	memcpy(h->id, t->id, 16);
	snprintf(h->ks, sizeof(h->ks), "%s", ks);
	snprintf(h->name, sizeof(h->name), "%s", t->name);
	int rc = schema_storage_open(s->store, t, &h->st, err);
	if (rc) {
		free(h);
		return rc;
	}
	h->ts = t->timestamp;
	h->next = s->handles;
	s->handles = h;
	*out = h;
	return 0;
}

static void handle_unref(struct schema *s, struct store_table *st)
{
	struct table_handle **pp = &s->handles;
	while (*pp && (*pp)->st != st)
		pp = &(*pp)->next;
	struct table_handle *h = *pp;
	if (!h)
		return;
	if (--h->refs > 0 || !h->dropped)
		return;
	*pp = h->next;
	schema_storage_drop(s->store, h->st, h->ks, h->name);
	free(h);
}

static void snap_free(struct schema *s, struct schema_snap *snap)
{
	for (uint32_t i = 0; i < snap->n_keyspaces; i++) {
		struct schema_keyspace *k = snap->keyspaces[i];
		if (k->virtual_)
			continue; /* shared */
		for (uint32_t j = 0; j < k->n_tables; j++)
			if (k->tables[j]->st)
				handle_unref(s, k->tables[j]->st);
		keyspace_free(k);
	}
	free(snap->keyspaces);
	free(snap);
}

static int build_snapshot(struct schema *s, struct schema_snap **out, struct cerr *err)
{
	struct schema_snap *snap = calloc(1, sizeof(*snap));
	size_t cap = s->n_sys_ks + 8;
	if (snap)
		snap->keyspaces = calloc(cap, sizeof(*snap->keyspaces));
	if (!snap || !snap->keyspaces) {
		free(snap);
		return cerr_set(err, COL_ENOMEM, "out of memory building the schema");
	}
	int rc = 0;
	for (uint32_t i = 0; i < s->n_sys_ks; i++)
		snap->keyspaces[snap->n_keyspaces++] = s->sys_ks[i];
	XXH3_state_t hs;
	XXH3_128bits_reset(&hs);
	/* keyspace rows first ("schema/ks/" < "schema/tb/"), then tables */
	for (size_t i = 0; i < s->n_rows; i++) {
		const struct row *row = &s->rows[i];
		XXH3_128bits_update(&hs, row->key, row->klen);
		XXH3_128bits_update(&hs, "\0", 1);
		XXH3_128bits_update(&hs, row->val, row->vlen);
		struct bufreader r;
		bufreader_init(&r, row->val, row->vlen);
		char kind;
		int64_t ts;
		bool dropped;
		if (decode_row_header(&r, &kind, &ts, &dropped)) {
			rc = cerr_set(err, COL_ECORRUPT, "schema row '%.*s': bad header",
			              (int)row->klen, row->key);
			goto fail;
		}
		if (dropped)
			continue;
		if (kind == 'K' && row->klen > strlen(KEY_KS)) {
			struct schema_keyspace *k = calloc(1, sizeof(*k));
			if (!k) {
				rc = cerr_set(err, COL_ENOMEM, "out of memory");
				goto fail;
			}
			if (ARRAY_GROW(snap->keyspaces, cap, snap->n_keyspaces + 1)) {
				keyspace_free(k);
				rc = cerr_set(err, COL_ENOMEM, "out of memory");
				goto fail;
			}
			snap->keyspaces[snap->n_keyspaces++] = k;
			k->name = xstrndup(row->key + strlen(KEY_KS), row->klen - strlen(KEY_KS));
			k->timestamp = ts;
			k->durable_writes = bufreader_u8(&r) != 0;
			uint16_t n = bufreader_u16be(&r);
			k->repl_keys = calloc(n ? n : 1, sizeof(char *));
			k->repl_vals = calloc(n ? n : 1, sizeof(char *));
			if (!k->name || !k->repl_keys || !k->repl_vals) {
				rc = cerr_set(err, COL_ENOMEM, "out of memory");
				goto fail;
			}
			for (uint16_t j = 0; j < n; j++) {
				k->repl_keys[j] = get_str(&r);
				k->repl_vals[j] = get_str(&r);
				k->n_repl = j + 1u;
			}
			if (!bufreader_ok(&r) || n == 0 || strcmp(k->repl_keys[0], "class") != 0) {
				rc = cerr_set(err, COL_ECORRUPT,
				              "schema row of keyspace '%s' is malformed", k->name);
				goto fail;
			}
			k->replication_factor = repl_factor(k);
		} else if (kind == 'T') {
			const char *kp = row->key + strlen(KEY_TB);
			size_t kl = row->klen - strlen(KEY_TB);
			const char *nul = memchr(kp, 0, kl);
			if (!nul) {
				rc = cerr_set(err, COL_ECORRUPT, "schema table row key malformed");
				goto fail;
			}
			struct schema_keyspace *k = NULL;
			for (uint32_t j = 0; j < snap->n_keyspaces; j++)
				if (strlen(snap->keyspaces[j]->name) == (size_t)(nul - kp) &&
				    memcmp(snap->keyspaces[j]->name, kp, (size_t)(nul - kp)) == 0)
					k = snap->keyspaces[j];
			if (!k || k->virtual_)
				continue; /* orphan of a dropped keyspace: ignored */
			struct schema_table *t = calloc(1, sizeof(*t));
			void *nt = t ? realloc(k->tables, (k->n_tables + 1) * sizeof(*k->tables))
			             : NULL;
			if (!nt) {
				free(t);
				rc = cerr_set(err, COL_ENOMEM, "out of memory");
				goto fail;
			}
			k->tables = nt;
			k->tables[k->n_tables++] = t;
			t->ks = k;
			t->timestamp = ts;
			t->name = xstrndup(nul + 1, kl - (size_t)(nul - kp) - 1);
			if (!t->name) {
				rc = cerr_set(err, COL_ENOMEM, "out of memory");
				goto fail;
			}
			rc = decode_table(&r, t, err);
			if (rc) {
				cerr_prefix(err, "schema row of table '%s.%s': ", k->name, t->name);
				goto fail;
			}
			struct table_handle *h = NULL;
			rc = handle_open(s, t, k->name, &h, err);
			if (rc)
				goto fail;
			h->refs++;
			t->st = h->st;
		}
	}
	qsort(snap->keyspaces, snap->n_keyspaces, sizeof(*snap->keyspaces), ks_name_cmp);
	for (uint32_t i = 0; i < snap->n_keyspaces; i++)
		if (!snap->keyspaces[i]->virtual_ && snap->keyspaces[i]->n_tables > 1)
			qsort(snap->keyspaces[i]->tables, snap->keyspaces[i]->n_tables,
			      sizeof(struct schema_table *), table_name_cmp);
	XXH128_hash_t h = XXH3_128bits_digest(&hs);
	be64_store(snap->version, h.high64);
	be64_store(snap->version + 8, h.low64);
	snap->version[6] = (uint8_t)((snap->version[6] & 0x0f) | 0x30);
	snap->version[8] = (uint8_t)((snap->version[8] & 0x3f) | 0x80);
	snap->generation = ++s->generation;
	snap->refs = 1;
	*out = snap;
	return 0;
fail:
	snap_free(s, snap);
	return rc;
}

/* ---- public: lifecycle -------------------------------------------------------------------- */

static void load_row(const void *key, size_t klen, const void *val, size_t vlen, void *ctx)
{
	struct schema *s = ctx;
	if (klen >= 7 && memcmp(key, "schema/", 7) == 0)
		rows_set(s, key, klen, val, vlen);
}

int schema_open(struct store *store, struct schema **out, struct cerr *err)
{
	struct schema *s = calloc(1, sizeof(*s));
	if (!s)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	s->store = store;
	pthread_mutex_init(&s->ref_lock, NULL);
	const char *sys[] = {"system", "system_schema"};
	s->sys_ks = calloc(2, sizeof(*s->sys_ks));
	int rc = 0;
	if (!s->sys_ks) {
		rc = cerr_set(err, COL_ENOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < 2; i++) {
		s->sys_ks[i] = vks_new(sys[i]);
		if (!s->sys_ks[i]) {
			rc = cerr_set(err, COL_ENOMEM, "cannot build the %s keyspace", sys[i]);
			goto fail;
		}
		s->n_sys_ks++;
	}
	rc = schema_storage_load(store, load_row, s, err);
	if (rc)
		goto fail;
	struct schema_snap *snap;
	rc = build_snapshot(s, &snap, err);
	if (rc)
		goto fail;
	atomic_store(&s->cur, snap);
	char v[37];
	uuid_format(snap->version, v);
	log_info(MOD, "schema loaded: %u keyspaces, version %s", snap->n_keyspaces - s->n_sys_ks,
	         v);
	*out = s;
	return 0;
fail:
	schema_free(s);
	return rc;
}

void schema_free(struct schema *s)
{
	if (!s)
		return;
	struct schema_snap *snap = atomic_load(&s->cur);
	if (snap)
		snap_free(s, snap);
	for (uint32_t i = 0; i < s->n_sys_ks; i++)
		keyspace_free(s->sys_ks[i]);
	free(s->sys_ks);
	struct table_handle *h = s->handles;
	while (h) {
		struct table_handle *n = h->next;
		free(h);
		h = n;
	}
	for (size_t i = 0; i < s->n_rows; i++) {
		free(s->rows[i].key);
		free(s->rows[i].val);
	}
	free(s->rows);
	pthread_mutex_destroy(&s->ref_lock);
	free(s);
}

const struct schema_snap *schema_current(const struct schema *s)
{
	return atomic_load(&((struct schema *)s)->cur);
}

const struct schema_snap *schema_snap_ref(struct schema *s)
{
	pthread_mutex_lock(&s->ref_lock);
	struct schema_snap *snap = atomic_load(&s->cur);
	__atomic_add_fetch(&snap->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&s->ref_lock);
	return snap;
}

const struct schema_snap *schema_current_ref(struct schema *s)
{
	struct schema_snap *snap = atomic_load(&s->cur);
	__atomic_add_fetch(&snap->refs, 1, __ATOMIC_ACQ_REL);
	return snap;
}

void schema_snap_unref(struct schema *s, const struct schema_snap *csnap)
{
	struct schema_snap *snap = (struct schema_snap *)csnap;
	if (__atomic_sub_fetch(&snap->refs, 1, __ATOMIC_ACQ_REL) == 0)
		snap_free(s, snap);
}

/* ---- lookups ------------------------------------------------------------------------------ */

const struct schema_keyspace *schema_snap_keyspace(const struct schema_snap *snap, const char *ks)
{
	size_t lo = 0, hi = snap->n_keyspaces;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(snap->keyspaces[mid]->name, ks);
		if (c == 0)
			return snap->keyspaces[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct schema_table *schema_keyspace_table(const struct schema_keyspace *k, const char *table)
{
	size_t lo = 0, hi = k->n_tables;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(k->tables[mid]->name, table);
		if (c == 0)
			return k->tables[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct schema_table *schema_snap_table(const struct schema_snap *snap, const char *ks,
                                             const char *table)
{
	const struct schema_keyspace *k = schema_snap_keyspace(snap, ks);
	return k ? schema_keyspace_table(k, table) : NULL;
}

const struct schema_column *schema_table_column(const struct schema_table *t, const char *name)
{
	for (uint32_t i = 0; i < t->n_cols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return &t->cols[i];
	return NULL;
}

/* ---- applying changes --------------------------------------------------------------------- */

static void notify(struct schema *s, const struct schema_snap *snap)
{
	for (int i = 0; i < s->n_listeners; i++)
		s->listeners[i].fn(s->listeners[i].ctx, snap);
}

/* Persist rows (key/val pairs in b, as [u32 klen][key][u32 vlen][val]...) then rebuild. */
static int apply_rows(struct schema *s, const struct buf *batch, struct cerr *err)
{
	int rc = schema_storage_put(s->store, batch->data, batch->len, err);
	if (rc)
		return rc;
	struct bufreader r;
	bufreader_init(&r, batch->data, batch->len);
	while (bufreader_left(&r) > 0) {
		uint32_t kl = bufreader_u32be(&r);
		const uint8_t *k = bufreader_take(&r, kl);
		uint32_t vl = bufreader_u32be(&r);
		const uint8_t *v = bufreader_take(&r, vl);
		if (!bufreader_ok(&r))
			return cerr_set(err, COL_ECORRUPT, "internal: malformed schema batch");
		rc = rows_set(s, (const char *)k, kl, v, vl);
		if (rc)
			return cerr_set(err, rc, "out of memory applying a schema change");
	}
	struct schema_snap *snap;
	rc = build_snapshot(s, &snap, err);
	if (rc)
		return rc;
	struct schema_snap *old = atomic_exchange(&s->cur, snap);
	/* Tables no longer in the live schema: their data goes when the last snapshot does. */
	for (struct table_handle *h = s->handles; h; h = h->next) {
		bool live = false;
		for (uint32_t i = 0; i < snap->n_keyspaces && !live; i++)
			for (uint32_t j = 0; j < snap->keyspaces[i]->n_tables; j++)
				if (snap->keyspaces[i]->tables[j]->st == h->st) {
					live = true;
					break;
				}
		if (!live)
			h->dropped = true;
	}
	schema_snap_unref(s, old);
	char v[37];
	uuid_format(snap->version, v);
	log_info(MOD, "schema changed: version %s", v);
	notify(s, snap);
	return 0;
}

static void batch_add(struct buf *batch, const struct buf *key, const struct buf *val)
{
	buf_put_u32be(batch, (uint32_t)key->len);
	buf_put(batch, key->data, key->len);
	buf_put_u32be(batch, (uint32_t)val->len);
	buf_put(batch, val->data, val->len);
}

int schema_add_listener(struct schema *s, schema_listener_fn fn, void *ctx)
{
	if (s->n_listeners >= MAX_LISTENERS)
		return COL_EFULL;
	s->listeners[s->n_listeners].fn = fn;
	s->listeners[s->n_listeners].ctx = ctx;
	s->n_listeners++;
	return 0;
}

static bool valid_name(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > SCHEMA_NAME_MAX)
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

static const char *full_class(const char *c)
{
	if (strcasecmp(c, "SimpleStrategy") == 0 ||
	    strcmp(c, "org.apache.cassandra.locator.SimpleStrategy") == 0)
		return "org.apache.cassandra.locator.SimpleStrategy";
	if (strcasecmp(c, "NetworkTopologyStrategy") == 0 ||
	    strcmp(c, "org.apache.cassandra.locator.NetworkTopologyStrategy") == 0)
		return "org.apache.cassandra.locator.NetworkTopologyStrategy";
	return NULL;
}

static bool is_count(const char *v)
{
	if (!*v || strlen(v) > 4)
		return false;
	for (const char *p = v; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

int schema_check_replication(const struct schema_repl_opt *o, uint32_t n, struct cerr *err)
{
	const char *cls = NULL;
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(o[i].key, "class") == 0)
			cls = o[i].val;
	if (!cls)
		return cerr_set(err, COL_ECONFIG, "Missing replication strategy class");
	const char *fc = full_class(cls);
	if (!fc)
		return cerr_set(err, COL_ECONFIG,
		                "Unable to find replication strategy class '%s' (supported: "
		                "SimpleStrategy, NetworkTopologyStrategy)",
		                cls);
	bool simple = strstr(fc, "SimpleStrategy") != NULL;
	bool have_rf = false;
	for (uint32_t i = 0; i < n; i++) {
		if (strcmp(o[i].key, "class") == 0)
			continue;
		if (simple && strcmp(o[i].key, "replication_factor") != 0)
			return cerr_set(
			        err, COL_ECONFIG,
			        "Unrecognized strategy option {%s} passed to SimpleStrategy "
			        "for keyspace",
			        o[i].key);
		if (!is_count(o[i].val))
			return cerr_set(err, COL_ECONFIG,
			                "Replication factor must be non-negative integer; found %s",
			                o[i].val);
		have_rf = true;
	}
	if (simple && !have_rf)
		return cerr_set(err, COL_ECONFIG,
		                "SimpleStrategy requires a replication_factor strategy option.");
	return 0;
}

static int keyspace_row(struct schema *s, const struct schema_keyspace_def *def, int64_t ts,
                        struct buf *batch, struct cerr *err)
{
	int rc = schema_check_replication(def->repl, def->n_repl, err);
	if (rc)
		return rc;
	struct schema_keyspace k = {.durable_writes = def->durable_writes};
	char *keys[64], *vals[64];
	if (def->n_repl > 63)
		return cerr_set(err, COL_ECONFIG, "too many replication options");
	k.repl_keys = keys;
	k.repl_vals = vals;
	keys[0] = (char *)"class";
	for (uint32_t i = 0; i < def->n_repl; i++)
		if (strcmp(def->repl[i].key, "class") == 0)
			vals[0] = (char *)full_class(def->repl[i].val);
	k.n_repl = 1;
	for (uint32_t i = 0; i < def->n_repl; i++) {
		if (strcmp(def->repl[i].key, "class") == 0)
			continue;
		keys[k.n_repl] = (char *)def->repl[i].key;
		vals[k.n_repl] = (char *)def->repl[i].val;
		k.n_repl++;
	}
	struct buf key, val;
	buf_init(&key);
	buf_init(&val);
	ks_key(&key, def->name);
	encode_keyspace(&val, &k, false, ts);
	batch_add(batch, &key, &val);
	buf_release(&key);
	buf_release(&val);
	(void)s;
	return 0;
}

static int64_t next_ts(const struct schema *s, const char *key, size_t klen, int64_t ts)
{
	/* A change must win over the row it replaces, even with a lagging clock. */
	long i = rows_find(s, key, klen);
	if (i >= 0 && s->rows[i].vlen >= 10) {
		int64_t old = (int64_t)be64_load(s->rows[i].val + 2);
		if (ts <= old)
			ts = old + 1;
	}
	return ts;
}

static int64_t ks_ts(const struct schema *s, const char *ks, int64_t ts)
{
	struct buf k;
	buf_init(&k);
	ks_key(&k, ks);
	ts = next_ts(s, (const char *)k.data, k.len, ts);
	buf_release(&k);
	return ts;
}

static int64_t tb_ts(const struct schema *s, const char *ks, const char *t, int64_t ts)
{
	struct buf k;
	buf_init(&k);
	tb_key(&k, ks, t);
	ts = next_ts(s, (const char *)k.data, k.len, ts);
	buf_release(&k);
	return ts;
}

static int finish_batch(struct schema *s, struct buf *batch, struct cerr *err)
{
	int rc = buf_ok(batch) ? apply_rows(s, batch, err)
	                       : cerr_set(err, COL_ENOMEM, "out of memory");
	buf_release(batch);
	return rc;
}

int schema_create_keyspace(struct schema *s, const struct schema_keyspace_def *def,
                           int64_t timestamp, struct cerr *err)
{
	const struct schema_snap *snap = schema_current(s);
	if (!valid_name(def->name))
		return cerr_set(err, COL_EINVAL,
		                "Keyspace name must not be empty, more than %d characters long, or "
		                "contain non-alphanumeric-underscore characters (got \"%s\")",
		                SCHEMA_NAME_MAX, def->name);
	if (schema_snap_keyspace(snap, def->name) || schema_is_system_keyspace(def->name))
		return cerr_set(err, COL_EEXIST, "Keyspace %s already exists", def->name);
	struct buf batch;
	buf_init(&batch);
	int rc = keyspace_row(s, def, ks_ts(s, def->name, timestamp), &batch, err);
	if (rc) {
		buf_release(&batch);
		return rc;
	}
	return finish_batch(s, &batch, err);
}

int schema_alter_keyspace(struct schema *s, const struct schema_keyspace_def *def,
                          int64_t timestamp, struct cerr *err)
{
	const struct schema_snap *snap = schema_current(s);
	const struct schema_keyspace *k = schema_snap_keyspace(snap, def->name);
	if (!k)
		return cerr_set(err, COL_ENOTFOUND, "Keyspace '%s' does not exist", def->name);
	if (k->virtual_)
		return cerr_set(err, COL_EINVAL, "Cannot alter system keyspace %s", def->name);
	struct buf batch;
	buf_init(&batch);
	int rc = keyspace_row(s, def, ks_ts(s, def->name, timestamp), &batch, err);
	if (rc) {
		buf_release(&batch);
		return rc;
	}
	return finish_batch(s, &batch, err);
}

static void drop_table_row(struct buf *batch, const char *ks, const char *t, int64_t ts)
{
	struct buf key, val;
	buf_init(&key);
	buf_init(&val);
	tb_key(&key, ks, t);
	encode_table(&val, NULL, true, ts);
	batch_add(batch, &key, &val);
	buf_release(&key);
	buf_release(&val);
}

int schema_drop_keyspace(struct schema *s, const char *ks, int64_t timestamp, struct cerr *err)
{
	const struct schema_snap *snap = schema_current(s);
	const struct schema_keyspace *k = schema_snap_keyspace(snap, ks);
	if (!k)
		return cerr_set(err, COL_ENOTFOUND, "Keyspace '%s' does not exist", ks);
	if (k->virtual_)
		return cerr_set(err, COL_EINVAL, "Cannot drop system keyspace %s", ks);
	struct buf batch, key, val;
	buf_init(&batch);
	buf_init(&key);
	buf_init(&val);
	for (uint32_t i = 0; i < k->n_tables; i++)
		drop_table_row(&batch, ks, k->tables[i]->name,
		               tb_ts(s, ks, k->tables[i]->name, timestamp));
	ks_key(&key, ks);
	encode_keyspace(&val, NULL, true, ks_ts(s, ks, timestamp));
	batch_add(&batch, &key, &val);
	buf_release(&key);
	buf_release(&val);
	return finish_batch(s, &batch, err);
}

static int table_row(struct buf *batch, const struct schema_table *t, const char *ks, int64_t ts)
{
	struct buf key, val;
	buf_init(&key);
	buf_init(&val);
	tb_key(&key, ks, t->name);
	encode_table(&val, t, false, ts);
	batch_add(batch, &key, &val);
	int rc = buf_ok(&key) && buf_ok(&val) ? 0 : COL_ENOMEM;
	buf_release(&key);
	buf_release(&val);
	return rc;
}

static const struct schema_keyspace *user_keyspace(const struct schema_snap *snap, const char *ks,
                                                   struct cerr *err)
{
	const struct schema_keyspace *k = schema_snap_keyspace(snap, ks);
	if (!k) {
		cerr_set(err, COL_ENOTFOUND, "Keyspace '%s' does not exist", ks);
		return NULL;
	}
	if (k->virtual_) {
		cerr_set(err, COL_EINVAL, "%s keyspace is not user-modifiable.", ks);
		return NULL;
	}
	return k;
}

int schema_create_table(struct schema *s, const struct schema_table_def *def, int64_t timestamp,
                        struct cerr *err)
{
	const struct schema_snap *snap = schema_current(s);
	const struct schema_keyspace *k = user_keyspace(snap, def->ks, err);
	if (!k)
		return err ? err->code : COL_EINVAL;
	if (!valid_name(def->name))
		return cerr_set(err, COL_EINVAL,
		                "Table name must not be empty, more than %d characters long, or "
		                "contain non-alphanumeric-underscore characters (got \"%s\")",
		                SCHEMA_NAME_MAX, def->name);
	if (schema_keyspace_table(k, def->name))
		return cerr_set(err, COL_EEXIST, "Table %s.%s already exists", def->ks, def->name);
	if (def->comment && strlen(def->comment) > UINT16_MAX)
		return cerr_set(err, COL_EINVAL, "comment of table %s.%s is longer than %u bytes",
		                def->ks, def->name, UINT16_MAX);
	for (uint32_t i = 0; i < def->n_cols; i++)
		if (strlen(def->cols[i].name) > UINT16_MAX)
			return cerr_set(err, COL_EINVAL, "column name longer than %u bytes",
			                UINT16_MAX);
	struct schema_table t = {
	        .name = (char *)def->name,
	        .gc_grace_seconds =
	                def->gc_grace_seconds >= 0 ? def->gc_grace_seconds : DEFAULT_GC_GRACE,
	        .default_time_to_live =
	                def->default_time_to_live >= 0 ? def->default_time_to_live : 0,
	        .comment = (char *)(def->comment ? def->comment : ""),
	};
	uuid_random(t.id);
	struct schema_column *cols = calloc(def->n_cols ? def->n_cols : 1, sizeof(*cols));
	if (!cols)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	bool has_pk = false;
	for (uint32_t i = 0; i < def->n_cols; i++) {
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(def->cols[i].name, def->cols[j].name) == 0) {
				free(cols);
				return cerr_set(err, COL_EINVAL,
				                "Duplicate column '%s' declaration for table %s.%s",
				                def->cols[i].name, def->ks, def->name);
			}
		cols[i].name = (char *)def->cols[i].name;
		cols[i].type = def->cols[i].type;
		cols[i].kind = def->cols[i].kind;
		cols[i].position = def->cols[i].position;
		cols[i].desc = def->cols[i].desc;
		cols[i].id = i;
		has_pk |= cols[i].kind == SCHEMA_COL_PARTITION_KEY;
	}
	if (!has_pk) {
		free(cols);
		return cerr_set(err, COL_EINVAL, "No PRIMARY KEY specifed for table %s.%s", def->ks,
		                def->name);
	}
	t.cols = cols;
	t.n_cols = def->n_cols;
	t.next_column_id = def->n_cols;
	struct buf batch;
	buf_init(&batch);
	int rc = table_row(&batch, &t, def->ks, tb_ts(s, def->ks, def->name, timestamp));
	free(cols);
	if (rc) {
		buf_release(&batch);
		return cerr_set(err, rc, "out of memory");
	}
	return finish_batch(s, &batch, err);
}

static const struct schema_table *user_table(const struct schema_snap *snap, const char *ks,
                                             const char *table, struct cerr *err)
{
	const struct schema_keyspace *k = user_keyspace(snap, ks, err);
	if (!k)
		return NULL;
	const struct schema_table *t = schema_keyspace_table(k, table);
	if (!t)
		cerr_set(err, COL_ENOTFOUND, "Table '%s.%s' does not exist", ks, table);
	return t;
}

/* A modifiable copy of t's columns with room for `extra` more (names/types borrowed). */
static struct schema_table *table_shallow(const struct schema_table *t, uint32_t extra)
{
	struct schema_table *c = malloc(sizeof(*c));
	if (!c)
		return NULL;
	*c = *t;
	c->cols = calloc(t->n_cols + extra, sizeof(*c->cols));
	if (!c->cols) {
		free(c);
		return NULL;
	}
	memcpy(c->cols, t->cols, t->n_cols * sizeof(*c->cols));
	return c;
}

static void table_shallow_free(struct schema_table *c)
{
	if (c) {
		free(c->cols);
		free(c);
	}
}

static int write_table(struct schema *s, struct schema_table *c, const char *ks, int64_t ts,
                       struct cerr *err)
{
	struct buf batch;
	buf_init(&batch);
	int rc = table_row(&batch, c, ks, tb_ts(s, ks, c->name, ts));
	table_shallow_free(c);
	if (rc) {
		buf_release(&batch);
		return cerr_set(err, rc, "out of memory");
	}
	return finish_batch(s, &batch, err);
}

int schema_alter_table_add(struct schema *s, const char *ks, const char *table,
                           const struct schema_column_def *cols, uint32_t n, int64_t timestamp,
                           struct cerr *err)
{
	const struct schema_table *t = user_table(schema_current(s), ks, table, err);
	if (!t)
		return err ? err->code : COL_ENOTFOUND;
	struct schema_table *c = table_shallow(t, n);
	if (!c)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		if (strlen(cols[i].name) > UINT16_MAX) {
			table_shallow_free(c);
			return cerr_set(err, COL_EINVAL, "column name longer than %u bytes",
			                UINT16_MAX);
		}
		if (schema_table_column(c, cols[i].name)) {
			table_shallow_free(c);
			return cerr_set(
			        err, COL_EINVAL,
			        "Invalid column name %s because it conflicts with an existing "
			        "column",
			        cols[i].name);
		}
		if (cols[i].kind == SCHEMA_COL_STATIC && t->n_ck == 0) {
			table_shallow_free(c);
			return cerr_set(err, COL_EINVAL,
			                "Static columns are not allowed in COMPACT STORAGE tables "
			                "or tables without clustering columns (%s)",
			                cols[i].name);
		}
		struct schema_column *nc = &c->cols[c->n_cols++];
		nc->name = (char *)cols[i].name;
		nc->type = cols[i].type;
		nc->kind =
		        cols[i].kind == SCHEMA_COL_STATIC ? SCHEMA_COL_STATIC : SCHEMA_COL_REGULAR;
		nc->position = -1;
		nc->id = c->next_column_id++;
	}
	return write_table(s, c, ks, timestamp, err);
}

int schema_alter_table_drop(struct schema *s, const char *ks, const char *table,
                            const char *const *names, uint32_t n, int64_t timestamp,
                            struct cerr *err)
{
	const struct schema_table *t = user_table(schema_current(s), ks, table, err);
	if (!t)
		return err ? err->code : COL_ENOTFOUND;
	struct schema_table *c = table_shallow(t, 0);
	if (!c)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		uint32_t j = 0;
		while (j < c->n_cols && strcmp(c->cols[j].name, names[i]) != 0)
			j++;
		if (j == c->n_cols) {
			table_shallow_free(c);
			return cerr_set(err, COL_EINVAL, "Column %s was not found in table %s.%s",
			                names[i], ks, table);
		}
		if (c->cols[j].kind == SCHEMA_COL_PARTITION_KEY ||
		    c->cols[j].kind == SCHEMA_COL_CLUSTERING) {
			table_shallow_free(c);
			return cerr_set(err, COL_EINVAL, "Cannot drop PRIMARY KEY part %s",
			                names[i]);
		}
		memmove(&c->cols[j], &c->cols[j + 1], (c->n_cols - j - 1) * sizeof(*c->cols));
		c->n_cols--;
	}
	return write_table(s, c, ks, timestamp, err);
}

int schema_alter_table_options(struct schema *s, const char *ks, const char *table,
                               int32_t gc_grace_seconds, int32_t default_ttl, const char *comment,
                               int64_t timestamp, struct cerr *err)
{
	const struct schema_table *t = user_table(schema_current(s), ks, table, err);
	if (!t)
		return err ? err->code : COL_ENOTFOUND;
	struct schema_table *c = table_shallow(t, 0);
	if (!c)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	if (gc_grace_seconds >= 0)
		c->gc_grace_seconds = gc_grace_seconds;
	if (default_ttl >= 0)
		c->default_time_to_live = default_ttl;
	if (comment && strlen(comment) > UINT16_MAX) {
		table_shallow_free(c);
		return cerr_set(err, COL_EINVAL, "comment of table %s.%s is longer than %u bytes",
		                ks, table, UINT16_MAX);
	}
	if (comment)
		c->comment = (char *)comment;
	return write_table(s, c, ks, timestamp, err);
}

int schema_drop_table(struct schema *s, const char *ks, const char *table, int64_t timestamp,
                      struct cerr *err)
{
	const struct schema_table *t = user_table(schema_current(s), ks, table, err);
	if (!t)
		return err ? err->code : COL_ENOTFOUND;
	struct buf batch;
	buf_init(&batch);
	drop_table_row(&batch, ks, table, tb_ts(s, ks, table, timestamp));
	return finish_batch(s, &batch, err);
}

void schema_rows(struct schema *s,
                 void (*emit)(const void *key, size_t klen, const void *val, size_t vlen,
                              void *ctx),
                 void *ctx)
{
	for (size_t i = 0; i < s->n_rows; i++)
		emit(s->rows[i].key, s->rows[i].klen, s->rows[i].val, s->rows[i].vlen, ctx);
}

int schema_merge_row(struct schema *s, const void *key, size_t klen, const void *val, size_t vlen,
                     struct cerr *err)
{
	struct bufreader r;
	bufreader_init(&r, val, vlen);
	char kind;
	int64_t ts;
	bool dropped;
	if (klen < 10 || decode_row_header(&r, &kind, &ts, &dropped) ||
	    (kind != 'K' && kind != 'T'))
		return cerr_set(err, COL_ECORRUPT, "malformed schema row from a peer");
	long i = rows_find(s, key, klen);
	if (i >= 0) {
		const struct row *old = &s->rows[i];
		int64_t ots = (int64_t)be64_load(old->val + 2);
		if (ts < ots)
			return 0;
		if (ts == ots &&
		    row_cmp((const char *)val, vlen, (const char *)old->val, old->vlen) <= 0)
			return 0;
	}
	struct buf batch;
	buf_init(&batch);
	buf_put_u32be(&batch, (uint32_t)klen);
	buf_put(&batch, key, klen);
	buf_put_u32be(&batch, (uint32_t)vlen);
	buf_put(&batch, val, vlen);
	return finish_batch(s, &batch, err);
}

/* ---- rows from peers (coordinator/schema/schema_sync.c) ------------------------------------------- */

/* A name from a row key: valid_name() over (p, n). */
static bool valid_name_n(const char *p, size_t n)
{
	char tmp[SCHEMA_NAME_MAX + 1];
	if (n == 0 || n > SCHEMA_NAME_MAX)
		return false;
	memcpy(tmp, p, n);
	tmp[n] = 0;
	return valid_name(tmp);
}

/*
 * What the store would refuse when the snapshot is rebuilt (storage.h's
 * descriptor rules), checked before a peer's row is persisted: key column
 * counts and positions, types, options, unique column names and ids.
 */
static int check_storable(const struct schema_table *t, struct cerr *err)
{
	if (t->n_pk > STORE_MAX_PK_COLS || t->n_ck > STORE_MAX_CK_COLS)
		return cerr_set(err, COL_ECORRUPT, "%u partition key / %u clustering columns",
		                t->n_pk, t->n_ck);
	if (t->gc_grace_seconds < 0 || t->default_time_to_live < 0 ||
	    t->default_time_to_live > STORE_MAX_TTL)
		return cerr_set(err, COL_ECORRUPT, "gc_grace_seconds %d / default_time_to_live %d",
		                t->gc_grace_seconds, t->default_time_to_live);
	for (uint32_t i = 0; i < t->n_cols; i++) {
		const struct schema_column *c = &t->cols[i];
		bool key = i < t->n_pk + t->n_ck;
		/* cols are sorted: key columns by position, which must be 0, 1, ... */
		if (key && c->position != (int)(i < t->n_pk ? i : i - t->n_pk))
			return cerr_set(err, COL_ECORRUPT, "key column '%s' at position %d",
			                c->name, c->position);
		if (!c->name[0])
			return cerr_set(err, COL_ECORRUPT, "a column without a name");
		if (c->type->kind == CQLTYPE_CUSTOM || c->type->kind == CQLTYPE_COUNTER ||
		    (key && cqltype_is_collection(c->type) && !c->type->frozen))
			return cerr_set(err, COL_ECORRUPT,
			                "column '%s' has a type the store refuses", c->name);
		for (uint32_t j = 0; j < i; j++)
			if (t->cols[j].id == c->id || strcmp(t->cols[j].name, c->name) == 0)
				return cerr_set(err, COL_ECORRUPT, "columns '%s' and '%s' share %s",
				                t->cols[j].name, c->name,
				                t->cols[j].id == c->id ? "an id" : "a name");
	}
	return 0;
}

int schema_row_check(const void *key, size_t klen, const void *val, size_t vlen, int64_t *ts_out,
                     struct cerr *err)
{
	const char *k = key;
	struct bufreader r;
	bufreader_init(&r, val, vlen);
	char kind;
	int64_t ts;
	bool dropped;
	if (decode_row_header(&r, &kind, &ts, &dropped))
		return cerr_set(err, COL_ECORRUPT, "schema row '%.*s': bad header (%zu bytes)",
		                (int)(klen > 64 ? 64 : klen), k, vlen);
	size_t lks = strlen(KEY_KS), ltb = strlen(KEY_TB);
	if (kind == 'K') {
		if (klen <= lks || memcmp(k, KEY_KS, lks) != 0 ||
		    !valid_name_n(k + lks, klen - lks))
			return cerr_set(err, COL_ECORRUPT, "keyspace row with a bad key '%.*s'",
			                (int)(klen > 64 ? 64 : klen), k);
		char name[SCHEMA_NAME_MAX + 1];
		memcpy(name, k + lks, klen - lks);
		name[klen - lks] = 0;
		if (schema_is_system_keyspace(name))
			return cerr_set(err, COL_ECORRUPT, "row for system keyspace %s", name);
		if (!dropped) {
			bufreader_u8(&r);
			uint16_t n = bufreader_u16be(&r);
			bool first_class = false;
			for (uint16_t j = 0; j < n && bufreader_ok(&r); j++) {
				char *a = get_str(&r), *b = get_str(&r);
				if (j == 0 && a && strcmp(a, "class") == 0)
					first_class = true;
				free(a);
				free(b);
			}
			if (!bufreader_ok(&r) || n == 0 || !first_class || bufreader_left(&r) != 0)
				return cerr_set(err, COL_ECORRUPT,
				                "keyspace row of %s is malformed", name);
		}
	} else if (kind == 'T') {
		const char *nul = klen > ltb ? memchr(k + ltb, 0, klen - ltb) : NULL;
		if (klen <= ltb || memcmp(k, KEY_TB, ltb) != 0 || !nul ||
		    !valid_name_n(k + ltb, (size_t)(nul - (k + ltb))) ||
		    !valid_name_n(nul + 1, (size_t)(k + klen - nul - 1)))
			return cerr_set(err, COL_ECORRUPT, "table row with a bad key");
		if (!dropped) {
			struct schema_table *t = calloc(1, sizeof(*t));
			if (!t)
				return cerr_set(err, COL_ENOMEM, "out of memory");
			int rc = decode_table(&r, t, err);
			if (!rc && bufreader_left(&r) != 0)
				rc = cerr_set(err, COL_ECORRUPT, "%zu trailing bytes",
				              bufreader_left(&r));
			if (!rc && t->n_pk == 0)
				rc = cerr_set(err, COL_ECORRUPT, "no partition key column");
			for (uint32_t i = 0; !rc && i < t->n_cols; i++)
				if (t->cols[i].id >= t->next_column_id)
					rc = cerr_set(err, COL_ECORRUPT,
					              "column id %u not below next_column_id %u",
					              t->cols[i].id, t->next_column_id);
			if (!rc)
				rc = check_storable(t, err);
			table_free(t);
			if (rc) {
				cerr_prefix(err, "table row of %.*s.%s", (int)(nul - (k + ltb)),
				            k + ltb, nul + 1);
				return rc;
			}
		}
	} else {
		return cerr_set(err, COL_ECORRUPT, "schema row of unknown kind 0x%02x",
		                (unsigned)(uint8_t)kind);
	}
	if (ts_out)
		*ts_out = ts;
	return 0;
}

/*
 * A table row that reuses a live table's id must be that same table (same
 * keyspace and name: one id is one column family) and keep its key columns
 * (the store refuses to alter them).
 */
static int check_same_keys(const struct schema *s, const void *key, size_t klen, const void *val,
                           size_t vlen, struct cerr *err)
{
	struct bufreader r;
	bufreader_init(&r, val, vlen);
	char kind;
	int64_t ts;
	bool dropped;
	if (decode_row_header(&r, &kind, &ts, &dropped) || kind != 'T' || dropped)
		return 0;
	struct schema_table *t = calloc(1, sizeof(*t));
	if (!t)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	int rc = decode_table(&r, t, err);
	const struct schema_snap *snap = schema_current(s);
	for (uint32_t i = 0; !rc && i < snap->n_keyspaces; i++) {
		const struct schema_keyspace *ks = snap->keyspaces[i];
		for (uint32_t j = 0; !rc && j < ks->n_tables; j++) {
			const struct schema_table *o = ks->tables[j];
			if (o->virtual_ || memcmp(o->id, t->id, 16) != 0)
				continue;
			struct buf k;
			buf_init(&k);
			tb_key(&k, ks->name, o->name);
			bool same_name =
			        buf_ok(&k) && k.len == klen && memcmp(k.data, key, klen) == 0;
			buf_release(&k);
			if (!same_name) {
				rc = cerr_set(err, COL_ECORRUPT,
				              "table row reuses the id of another table, %s.%s",
				              ks->name, o->name);
				break;
			}
			bool same = o->n_pk == t->n_pk && o->n_ck == t->n_ck;
			for (uint32_t c = 0; same && c < o->n_pk + o->n_ck; c++)
				same = o->cols[c].kind == t->cols[c].kind &&
				       o->cols[c].desc == t->cols[c].desc &&
				       cqltype_equal(o->cols[c].type, t->cols[c].type);
			if (!same)
				rc = cerr_set(
				        err, COL_ECORRUPT,
				        "table row reuses the id of %s.%s with other key columns",
				        ks->name, o->name);
		}
	}
	table_free(t);
	return rc;
}

int schema_merge_rows(struct schema *s, const struct schema_row_ref *rows, size_t n,
                      size_t *applied, struct cerr *err)
{
	if (applied)
		*applied = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = schema_row_check(rows[i].key, rows[i].klen, rows[i].val, rows[i].vlen,
		                          NULL, err);
		if (!rc)
			rc = check_same_keys(s, rows[i].key, rows[i].klen, rows[i].val,
			                     rows[i].vlen, err);
		if (rc) {
			cerr_prefix(err, "row %zu of %zu", i + 1, n);
			return rc;
		}
		if (i > 0 &&
		    row_cmp(rows[i - 1].key, rows[i - 1].klen, rows[i].key, rows[i].klen) >= 0)
			return cerr_set(err, COL_ECORRUPT,
			                "row %zu of %zu: keys not in strictly ascending order",
			                i + 1, n);
	}
	struct buf batch;
	buf_init(&batch);
	size_t took = 0;
	for (size_t i = 0; i < n; i++) {
		const struct schema_row_ref *in = &rows[i];
		long at = rows_find(s, in->key, in->klen);
		if (at >= 0) {
			const struct row *old = &s->rows[at];
			int64_t ts = (int64_t)be64_load((const uint8_t *)in->val + 2);
			int64_t ots =
			        old->vlen >= 10 ? (int64_t)be64_load(old->val + 2) : INT64_MIN;
			if (ts < ots)
				continue;
			if (ts == ots &&
			    row_cmp(in->val, in->vlen, (const char *)old->val, old->vlen) <= 0)
				continue;
		}
		buf_put_u32be(&batch, (uint32_t)in->klen);
		buf_put(&batch, in->key, in->klen);
		buf_put_u32be(&batch, (uint32_t)in->vlen);
		buf_put(&batch, in->val, in->vlen);
		took++;
	}
	if (took == 0) {
		buf_release(&batch);
		return 0;
	}
	int rc = finish_batch(s, &batch, err);
	if (!rc && applied)
		*applied = took;
	return rc;
}

void schema_rows_version(const struct schema_row_ref *rows, size_t n, uint8_t out[16])
{
	/* as build_snapshot() hashes the rows */
	XXH3_state_t hs;
	XXH3_128bits_reset(&hs);
	for (size_t i = 0; i < n; i++) {
		XXH3_128bits_update(&hs, rows[i].key, rows[i].klen);
		XXH3_128bits_update(&hs, "\0", 1);
		XXH3_128bits_update(&hs, rows[i].val, rows[i].vlen);
	}
	XXH128_hash_t h = XXH3_128bits_digest(&hs);
	be64_store(out, h.high64);
	be64_store(out + 8, h.low64);
	out[6] = (uint8_t)((out[6] & 0x0f) | 0x30);
	out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}
