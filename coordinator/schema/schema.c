/*
 * schema.c — the catalogue's life: loading the rows at start, building
 * snapshots from them, the table handles the store keeps data under, and
 * the DDL that writes new rows (schema.h).  Row formats are schema_rows.c's,
 * the system keyspaces schema_virtual.c's.
 */
#include "coordinator/schema/schema_int.h"

#include "core/array.h"
#include "core/buf.h"
#include "core/hex.h"
#include "core/log.h"
#include "storage/storage.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#define MOD "schema"

/* ---- small helpers ------------------------------------------------------------------------ */

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

bool schema_is_replicated_system_keyspace(const char *ks)
{
	return strcmp(ks, "system_auth") == 0 || strcmp(ks, "system_traces") == 0;
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

/* The next row of a batch: 1 with k and v set, 0 at its end, COL_ECORRUPT when malformed. */
static int batch_next(struct bufreader *r, const uint8_t **k, uint32_t *kl, const uint8_t **v,
                      uint32_t *vl, struct cerr *err)
{
	if (bufreader_left(r) == 0)
		return 0;
	*kl = bufreader_u32be(r);
	*k = bufreader_take(r, *kl);
	*vl = bufreader_u32be(r);
	*v = bufreader_take(r, *vl);
	if (!bufreader_ok(r))
		return cerr_set(err, COL_ECORRUPT, "internal: malformed schema batch");
	return 1;
}

/* Rows of one change: [u32 klen][key][u32 vlen][val]...; each put is durable per the
 * store's sync policy.  A crash between two puts of one DDL leaves rows that are each
 * valid on their own (a keyspace tombstone without its tables' tombstones: the orphan
 * tables are ignored on load, see build_snapshot). */
static int schema_storage_put(struct store *st, const uint8_t *batch, size_t len, struct cerr *err)
{
	struct bufreader r;
	bufreader_init(&r, batch, len);
	const uint8_t *k, *v;
	uint32_t kl, vl;
	int rc;
	while ((rc = batch_next(&r, &k, &kl, &v, &vl, err)) > 0) {
		rc = store_kv_put(st, STORE_CF_SYSTEM, k, kl, v, vl, err);
		if (rc)
			return rc;
	}
	if (rc < 0)
		return rc;
	/* DDL is rare and must survive a crash right after it is acknowledged (the
	 * periodic WAL sync could lose it, orphaning a table's data): sync now. */
	return store_sync_wal(st, err);
}

bool schema_index_store(const struct schema_table *t, const struct schema_index *ix,
                        struct store_index *out)
{
	const struct schema_column *c = NULL;
	for (uint32_t k = 0; k < t->n_cols && !c; k++)
		if (strcmp(t->cols[k].name, ix->column) == 0)
			c = &t->cols[k];
	if (!c)
		return false;
	bool key = c->kind == SCHEMA_COL_PARTITION_KEY || c->kind == SCHEMA_COL_CLUSTERING;
	*out = (struct store_index){
	        .on = c->kind == SCHEMA_COL_PARTITION_KEY ? STORE_IX_PK
	              : c->kind == SCHEMA_COL_CLUSTERING  ? STORE_IX_CK
	                                                  : STORE_IX_COLUMN,
	        .kind = ix->kind == SCHEMA_INDEX_KEYS      ? STORE_IX_KEYS
	                : ix->kind == SCHEMA_INDEX_ENTRIES ? STORE_IX_ENTRIES
	                                                   : STORE_IX_VALUES,
	        .col = key ? (uint32_t)c->position : c->id,
	};
	return true;
}

/* The store's form of t's indexes into out. */
static size_t storage_indexes(const struct schema_table *t, struct store_index *out)
{
	size_t n = 0;
	for (uint32_t i = 0; i < t->n_indexes && n < STORE_MAX_INDEXES; i++) {
		struct store_index si;
		if (!schema_index_store(t, &t->indexes[i], &si))
			continue;
		bool dup = false;
		for (size_t k = 0; k < n; k++)
			dup |= out[k].on == si.on && out[k].kind == si.kind && out[k].col == si.col;
		if (!dup)
			out[n++] = si;
	}
	return n;
}

static int schema_storage_open(struct store *st, const struct schema_table *t,
                               struct store_table **out, struct cerr *err)
{
	struct store_index ixs[STORE_MAX_INDEXES];
	size_t n_ix = storage_indexes(t, ixs);
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
	        .n_indexes = n_ix,
	        .indexes = ixs,
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
		if (h->digest != t->digest) {
			/* ALTER: the store re-reads columns, gc_grace and default ttl. */
			struct store_table *st;
			int rc = schema_storage_open(s->store, t, &st, err);
			if (rc)
				return rc;
			h->st = st;
			h->digest = t->digest;
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
	h->digest = t->digest;
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
		schema_keyspace_free(k);
	}
	free(snap->keyspaces);
	free(snap);
}

/* A keyspace row ('K', not dropped) into the snapshot. */
static int snap_add_keyspace(struct schema *s, struct schema_snap *snap, size_t *cap,
                             const struct row *row, struct bufreader *r, int64_t ts,
                             struct cerr *err)
{
	struct schema_keyspace *k = calloc(1, sizeof(*k));
	if (!k)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	if (ARRAY_GROW(snap->keyspaces, *cap, snap->n_keyspaces + 1)) {
		schema_keyspace_free(k);
		return cerr_set(err, COL_ENOMEM, "out of memory");
	}
	snap->keyspaces[snap->n_keyspaces++] = k;
	k->name = schema_strndup(row->key + strlen(KEY_KS), row->klen - strlen(KEY_KS));
	k->timestamp = ts;
	if (!k->name)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	int rc = schema_decode_keyspace(r, k, err);
	if (rc) {
		cerr_prefix(err, "schema row of keyspace '%s': ", k->name);
		return rc;
	}
	k->replication_factor = repl_factor(k);
	return schema_keyspace_add_types(s, k, err);
}

/* A column row of t (decoded into c, name from the key) joins its columns or dropped list. */
static int table_take_column(struct schema_table *t, struct schema_column *c, bool dropped,
                             int64_t ts, struct cerr *err)
{
	if (dropped) {
		struct schema_dropped_column *d =
		        realloc(t->dropped, (t->n_dropped + 1) * sizeof(*t->dropped));
		if (!d)
			return cerr_set(err, COL_ENOMEM, "out of memory");
		t->dropped = d;
		t->dropped[t->n_dropped++] = (struct schema_dropped_column){.name = c->name,
		                                                            .type = c->type,
		                                                            .kind = c->kind,
		                                                            .id = c->id,
		                                                            .dropped_time = ts};
		return 0;
	}
	/* Key columns never change; a static column needs clustering columns; and ids
	 * are unique: a rare 31-bit hash collision of two columns added at once on two
	 * nodes keeps the one whose name sorts first (the same one on every node). */
	bool clash = c->kind == SCHEMA_COL_STATIC && t->n_ck == 0;
	for (uint32_t i = 0; i < t->n_cols && !clash; i++)
		clash = t->cols[i].id == c->id || strcmp(t->cols[i].name, c->name) == 0;
	if (clash) {
		log_error(MOD,
		          "column %s of table %s (id %u) clashes with the table's columns: ignored",
		          c->name, t->name, c->id);
		free(c->name);
		cqltype_free(c->type);
		return 0;
	}
	struct schema_column *nc = realloc(t->cols, (t->n_cols + 1) * sizeof(*t->cols));
	if (!nc)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	t->cols = nc;
	t->cols[t->n_cols++] = *c;
	return 0;
}

/*
 * The column rows of table t of keyspace ks ("schema/co/" ks \0 table \0 ...)
 * that carry t's id: live ones join t's columns, dropped ones its dropped list;
 * t->timestamp becomes the newest of them all, and each goes into t->digest.
 * Rows of an earlier table of the same name are ignored.
 */
static int table_add_columns(struct schema *s, struct schema_table *t, const char *ks,
                             struct cerr *err)
{
	struct buf pfx;
	buf_init(&pfx);
	schema_co_key(&pfx, ks, t->name, "");
	if (!buf_ok(&pfx))
		return cerr_set(err, COL_ENOMEM, "out of memory");
	long at = schema_rows_find(s, (const char *)pfx.data, pfx.len);
	size_t i = at >= 0 ? (size_t)at : (size_t)(-at - 1);
	int rc = 0;
	for (; i < s->n_rows && !rc; i++) {
		const struct row *row = &s->rows[i];
		if (row->klen <= pfx.len || memcmp(row->key, pfx.data, pfx.len) != 0)
			break;
		struct bufreader r;
		bufreader_init(&r, row->val, row->vlen);
		char kind;
		int64_t ts;
		bool dropped;
		uint8_t tid[16];
		struct schema_column c = {0};
		if (schema_decode_row_header(&r, &kind, &ts, &dropped) || kind != 'C') {
			rc = cerr_set(err, COL_ECORRUPT, "column row '%.*s' malformed",
			              (int)(row->klen - pfx.len), row->key + pfx.len);
			break;
		}
		rc = schema_decode_column(&r, tid, &c, t->ks, err);
		if (rc == COL_ENOTFOUND) { /* its type's row has not arrived yet */
			log_error(MOD, "column %.*s of %s.%s left out: %s",
			          (int)(row->klen - pfx.len), row->key + pfx.len, ks, t->name,
			          err->msg);
			rc = 0;
			continue;
		}
		if (rc) {
			rc = cerr_set(err, COL_ECORRUPT, "column row '%.*s' malformed",
			              (int)(row->klen - pfx.len), row->key + pfx.len);
			break;
		}
		if (memcmp(tid, t->id, 16) != 0) {
			cqltype_free(c.type);
			continue;
		}
		c.name = schema_strndup(row->key + pfx.len, row->klen - pfx.len);
		if (!c.name) {
			cqltype_free(c.type);
			rc = cerr_set(err, COL_ENOMEM, "out of memory");
			break;
		}
		if (ts > t->timestamp)
			t->timestamp = ts;
		t->digest = XXH3_64bits_withSeed(row->val, row->vlen, t->digest);
		rc = table_take_column(t, &c, dropped, ts, err);
		if (rc) {
			free(c.name);
			cqltype_free(c.type);
		}
	}
	buf_release(&pfx);
	if (!rc)
		schema_table_sort_columns(t);
	return rc;
}

/* Mixes the fields of the user types in t into seed: the store is told a table's types
 * again when a type it uses changes (ALTER TYPE changes none of the table's own rows). */
static uint64_t udt_digest(const struct cqltype *t, uint64_t seed)
{
	if (!t)
		return seed;
	seed = udt_digest(t->value, udt_digest(t->elem, seed));
	for (uint32_t i = 0; i < t->n_fields; i++) {
		if (t->kind == CQLTYPE_UDT)
			seed = XXH3_64bits_withSeed(t->field_names[i], strlen(t->field_names[i]),
			                            seed);
		seed = udt_digest(t->fields[i], seed);
	}
	return seed;
}

/*
 * A table row ('T', not dropped) into its keyspace of the snapshot, with the
 * store's handle for its data.  A row whose keyspace is gone (the orphan of a
 * dropped keyspace) is ignored.
 */
static int snap_add_table(struct schema *s, struct schema_snap *snap, const struct row *row,
                          struct bufreader *r, int64_t ts, struct cerr *err)
{
	const char *kp = row->key + strlen(KEY_TB);
	size_t kl = row->klen - strlen(KEY_TB);
	const char *nul = memchr(kp, 0, kl);
	if (!nul)
		return cerr_set(err, COL_ECORRUPT, "schema table row key malformed");
	struct schema_keyspace *k = NULL;
	for (uint32_t j = 0; j < snap->n_keyspaces; j++)
		if (strlen(snap->keyspaces[j]->name) == (size_t)(nul - kp) &&
		    memcmp(snap->keyspaces[j]->name, kp, (size_t)(nul - kp)) == 0)
			k = snap->keyspaces[j];
	if (!k || k->virtual_)
		return 0;
	struct schema_table *t = calloc(1, sizeof(*t));
	void *nt = t ? realloc(k->tables, (k->n_tables + 1) * sizeof(*k->tables)) : NULL;
	if (!nt) {
		free(t);
		return cerr_set(err, COL_ENOMEM, "out of memory");
	}
	k->tables = nt;
	k->tables[k->n_tables++] = t;
	t->ks = k;
	t->timestamp = ts;
	t->name = schema_strndup(nul + 1, kl - (size_t)(nul - kp) - 1);
	if (!t->name)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	int rc = schema_decode_table(r, t, false, k, err);
	if (rc == COL_ENOTFOUND) { /* a key column's type has not arrived yet */
		log_error(MOD, "table %s.%s left out: %s", k->name, t->name, err->msg);
		k->n_tables--;
		schema_table_free(t);
		return 0;
	}
	t->digest = XXH3_64bits(row->val, row->vlen);
	if (!rc)
		rc = table_add_columns(s, t, k->name, err);
	if (!rc)
		rc = schema_table_add_indexes(s, t, k->name, err);
	for (uint32_t i = 0; !rc && i < t->n_cols; i++)
		t->digest = udt_digest(t->cols[i].type, t->digest);
	/* the indexes too: the store maintains them (schema_storage_open) */
	for (uint32_t i = 0; !rc && i < t->n_indexes; i++) {
		const struct schema_index *ix = &t->indexes[i];
		t->digest = XXH3_64bits_withSeed(ix->column, strlen(ix->column), t->digest);
		t->digest = XXH3_64bits_withSeed(&ix->kind, sizeof(ix->kind), t->digest);
	}
	if (rc) {
		cerr_prefix(err, "schema row of table '%s.%s': ", k->name, t->name);
		return rc;
	}
	struct table_handle *h = NULL;
	rc = handle_open(s, t, k->name, &h, err);
	if (rc)
		return rc;
	h->refs++;
	t->st = h->st;
	return 0;
}

/*
 * A snapshot from the row table: the virtual keyspaces, then keyspace rows
 * ("schema/ks/" sorts before "schema/tb/"), then table rows; keyspaces and
 * tables sorted by name; the version is the hash of every row.
 */
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
	for (uint32_t i = 0; i < s->n_sys_ks; i++)
		snap->keyspaces[snap->n_keyspaces++] = s->sys_ks[i];
	int rc = 0;
	for (size_t i = 0; i < s->n_rows && !rc; i++) {
		const struct row *row = &s->rows[i];
		struct bufreader r;
		bufreader_init(&r, row->val, row->vlen);
		char kind;
		int64_t ts;
		bool dropped;
		if (schema_decode_row_header(&r, &kind, &ts, &dropped))
			rc = cerr_set(err, COL_ECORRUPT, "schema row '%.*s': bad header",
			              (int)row->klen, row->key);
		else if (dropped)
			continue;
		else if (kind == 'K' && row->klen > strlen(KEY_KS))
			rc = snap_add_keyspace(s, snap, &cap, row, &r, ts, err);
		else if (kind == 'T')
			rc = snap_add_table(s, snap, row, &r, ts, err);
		/* 'C' and 'I' rows are read with their table's row. */
	}
	if (rc) {
		snap_free(s, snap);
		return rc;
	}
	qsort(snap->keyspaces, snap->n_keyspaces, sizeof(*snap->keyspaces), schema_ks_name_cmp);
	for (uint32_t i = 0; i < snap->n_keyspaces; i++)
		if (!snap->keyspaces[i]->virtual_ && snap->keyspaces[i]->n_tables > 1)
			qsort(snap->keyspaces[i]->tables, snap->keyspaces[i]->n_tables,
			      sizeof(struct schema_table *), schema_table_name_cmp);
	schema_rows_table_version(s, snap->version);
	snap->generation = ++s->generation;
	snap->refs = 1;
	*out = snap;
	return 0;
}

/* ---- public: lifecycle -------------------------------------------------------------------- */

static void load_row(const void *key, size_t klen, const void *val, size_t vlen, void *ctx)
{
	struct schema *s = ctx;
	if (klen >= 7 && memcmp(key, "schema/", 7) == 0)
		schema_rows_set(s, key, klen, val, vlen);
}

/* Rewrite format 1 rows (schema.h) as format 2, persisted, before the first snapshot. */
static int convert_legacy_rows(struct schema *s, struct cerr *err)
{
	struct buf batch;
	buf_init(&batch);
	size_t n = 0;
	int rc = 0;
	for (size_t i = 0; i < s->n_rows && !rc; i++) {
		bool conv = false;
		rc = schema_convert_legacy_row(s->rows[i].key, s->rows[i].klen, s->rows[i].val,
		                               s->rows[i].vlen, &batch, &conv, err);
		n += conv;
	}
	if (!rc && n > 0 && !buf_ok(&batch))
		rc = cerr_set(err, COL_ENOMEM, "out of memory converting the schema");
	if (!rc && n > 0)
		rc = schema_storage_put(s->store, batch.data, batch.len, err);
	struct bufreader r;
	bufreader_init(&r, batch.data, batch.len);
	const uint8_t *k, *v;
	uint32_t kl, vl;
	while (!rc && n > 0 && (rc = batch_next(&r, &k, &kl, &v, &vl, err)) > 0)
		rc = schema_rows_set(s, (const char *)k, kl, v, vl) ? COL_ENOMEM : 0;
	if (rc == COL_ENOMEM)
		cerr_set(err, rc, "out of memory converting the schema");
	buf_release(&batch);
	if (!rc && n > 0)
		log_info(MOD, "converted %zu schema rows of format %d to format %d (column rows)",
		         n, ROW_FORMAT_LEGACY, ROW_FORMAT);
	return rc < 0 ? rc : 0;
}

int schema_open(struct store *store, struct schema **out, struct cerr *err)
{
	struct schema *s = calloc(1, sizeof(*s));
	if (!s)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	s->store = store;
	pthread_mutex_init(&s->ref_lock, NULL);
	s->owner = pthread_self();
	const char *sys[] = {"system", "system_schema", "system_virtual_schema"};
	const int n_sys = (int)(sizeof(sys) / sizeof(sys[0]));
	s->sys_ks = calloc((size_t)n_sys, sizeof(*s->sys_ks));
	int rc = 0;
	if (!s->sys_ks) {
		rc = cerr_set(err, COL_ENOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < n_sys; i++) {
		s->sys_ks[i] = schema_virtual_keyspace_new(sys[i]);
		if (!s->sys_ks[i]) {
			rc = cerr_set(err, COL_ENOMEM, "cannot build the %s keyspace", sys[i]);
			goto fail;
		}
		s->n_sys_ks++;
	}
	rc = schema_storage_load(store, load_row, s, err);
	if (!rc)
		rc = convert_legacy_rows(s, err);
	if (rc)
		goto fail;
	struct schema_snap *snap;
	rc = build_snapshot(s, &snap, err);
	if (rc)
		goto fail;
	atomic_store(&s->cur, snap);
	atomic_store(&s->cur_generation, snap->generation);
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
	schema_collect(s);
	struct schema_snap *snap = atomic_load(&s->cur);
	if (snap)
		snap_free(s, snap);
	for (uint32_t i = 0; i < s->n_sys_ks; i++)
		schema_keyspace_free(s->sys_ks[i]);
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

void schema_collect(struct schema *s)
{
	if (!atomic_load_explicit(&s->graves, memory_order_acquire))
		return;
	pthread_mutex_lock(&s->ref_lock);
	struct schema_snap *g = s->graveyard;
	s->graveyard = NULL;
	atomic_store(&s->graves, false);
	pthread_mutex_unlock(&s->ref_lock);
	while (g) {
		struct schema_snap *next = g->grave_next;
		snap_free(s, g);
		g = next;
	}
}

void schema_snap_unref(struct schema *s, const struct schema_snap *csnap)
{
	struct schema_snap *snap = (struct schema_snap *)csnap;
	bool owner = pthread_equal(pthread_self(), s->owner);
	if (__atomic_sub_fetch(&snap->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		if (owner) {
			snap_free(s, snap);
		} else {
			pthread_mutex_lock(&s->ref_lock);
			snap->grave_next = s->graveyard;
			s->graveyard = snap;
			atomic_store(&s->graves, true);
			pthread_mutex_unlock(&s->ref_lock);
		}
	}
	if (owner)
		schema_collect(s);
}

uint64_t schema_generation(const struct schema *s)
{
	return atomic_load(&((struct schema *)s)->cur_generation);
}

/* ---- lookups ------------------------------------------------------------------------------ */

/*
 * Binary search of items[0..n) (pointers to structs sorted by a `char *name`
 * at name_off) for `name`: the item, or NULL.
 */
static void *find_named(void *const *items, size_t n, size_t name_off, const char *name)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(*(char *const *)((const char *)items[mid] + name_off), name);
		if (c == 0)
			return items[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct schema_keyspace *schema_snap_keyspace(const struct schema_snap *snap, const char *ks)
{
	return find_named((void *const *)snap->keyspaces, snap->n_keyspaces,
	                  offsetof(struct schema_keyspace, name), ks);
}

const struct schema_table *schema_keyspace_table(const struct schema_keyspace *k, const char *table)
{
	return find_named((void *const *)k->tables, k->n_tables,
	                  offsetof(struct schema_table, name), table);
}

const struct schema_table *schema_snap_table(const struct schema_snap *snap, const char *ks,
                                             const char *table)
{
	const struct schema_keyspace *k = schema_snap_keyspace(snap, ks);
	return k ? schema_keyspace_table(k, table) : NULL;
}

const struct schema_table *schema_keyspace_table_by_id(const struct schema_keyspace *k,
                                                       const uint8_t id[16])
{
	for (uint32_t i = 0; i < k->n_tables; i++)
		if (memcmp(k->tables[i]->id, id, 16) == 0)
			return k->tables[i];
	return NULL;
}

const struct schema_table *schema_snap_table_by_id(const struct schema_snap *snap,
                                                   const uint8_t id[16])
{
	for (uint32_t i = 0; i < snap->n_keyspaces; i++) {
		const struct schema_table *t = schema_keyspace_table_by_id(snap->keyspaces[i], id);
		if (t)
			return t;
	}
	return NULL;
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
	const uint8_t *k, *v;
	uint32_t kl, vl;
	while ((rc = batch_next(&r, &k, &kl, &v, &vl, err)) > 0) {
		rc = schema_rows_set(s, (const char *)k, kl, v, vl);
		if (rc)
			return cerr_set(err, rc, "out of memory applying a schema change");
	}
	if (rc < 0)
		return rc;
	struct schema_snap *snap;
	rc = build_snapshot(s, &snap, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&s->ref_lock); /* no reader between its load and its increment */
	struct schema_snap *old = atomic_exchange(&s->cur, snap);
	atomic_store(&s->cur_generation, snap->generation);
	pthread_mutex_unlock(&s->ref_lock);
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
	char vs[37];
	uuid_format(snap->version, vs);
	log_info(MOD, "schema changed: version %s", vs);
	notify(s, snap);
	return 0;
}

static void batch_add(struct buf *batch, const struct buf *key, const struct buf *val)
{
	schema_batch_add(batch, key->data, key->len, val->data, val->len);
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
			vals[0] = (char *)schema_repl_class_full(def->repl[i].val);
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
	schema_ks_key(&key, def->name);
	schema_encode_keyspace(&val, &k, false, ts);
	batch_add(batch, &key, &val);
	buf_release(&key);
	buf_release(&val);
	(void)s;
	return 0;
}

int64_t schema_next_ts(const struct schema *s, const char *key, size_t klen, int64_t ts)
{
	/* A change must win over the row it replaces, even with a lagging clock. */
	long i = schema_rows_find(s, key, klen);
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
	schema_ks_key(&k, ks);
	ts = schema_next_ts(s, (const char *)k.data, k.len, ts);
	buf_release(&k);
	return ts;
}

static int64_t tb_ts(const struct schema *s, const char *ks, const char *t, int64_t ts)
{
	struct buf k;
	buf_init(&k);
	schema_tb_key(&k, ks, t);
	ts = schema_next_ts(s, (const char *)k.data, k.len, ts);
	buf_release(&k);
	return ts;
}

int schema_finish_batch(struct schema *s, struct buf *batch, struct cerr *err)
{
	int rc = buf_ok(batch) ? apply_rows(s, batch, err)
	                       : cerr_set(err, COL_ENOMEM, "out of memory");
	buf_release(batch);
	return rc;
}

/* Write the keyspace row of def (CREATE or ALTER, already checked). */
int schema_write_keyspace(struct schema *s, const struct schema_keyspace_def *def,
                          int64_t timestamp, struct cerr *err)
{
	struct buf batch;
	buf_init(&batch);
	int rc = keyspace_row(s, def, ks_ts(s, def->name, timestamp), &batch, err);
	if (rc) {
		buf_release(&batch);
		return rc;
	}
	return schema_finish_batch(s, &batch, err);
}

int schema_create_keyspace(struct schema *s, const struct schema_keyspace_def *def,
                           int64_t timestamp, struct cerr *err)
{
	const struct schema_snap *snap = schema_current(s);
	if (!schema_valid_name(def->name))
		return cerr_set(err, COL_EINVAL,
		                "Keyspace name must not be empty, more than %d characters long, or "
		                "contain non-alphanumeric-underscore characters (got \"%s\")",
		                SCHEMA_NAME_MAX, def->name);
	if (schema_snap_keyspace(snap, def->name) || schema_is_system_keyspace(def->name))
		return cerr_set(err, COL_EEXIST, "Keyspace %s already exists", def->name);
	return schema_write_keyspace(s, def, timestamp, err);
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
	return schema_write_keyspace(s, def, timestamp, err);
}

static void drop_table_row(struct buf *batch, const char *ks, const char *t, int64_t ts)
{
	struct buf key, val;
	buf_init(&key);
	buf_init(&val);
	schema_tb_key(&key, ks, t);
	schema_encode_table(&val, NULL, true, ts);
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
	if (k->virtual_ || schema_is_replicated_system_keyspace(ks))
		return cerr_set(err, COL_EINVAL, "Cannot drop system keyspace %s", ks);
	struct buf batch, key, val;
	buf_init(&batch);
	buf_init(&key);
	buf_init(&val);
	for (uint32_t i = 0; i < k->n_tables; i++)
		drop_table_row(&batch, ks, k->tables[i]->name,
		               tb_ts(s, ks, k->tables[i]->name, timestamp));
	schema_ks_key(&key, ks);
	schema_encode_keyspace(&val, NULL, true, ks_ts(s, ks, timestamp));
	batch_add(&batch, &key, &val);
	buf_release(&key);
	buf_release(&val);
	return schema_finish_batch(s, &batch, err);
}

static int table_row(struct buf *batch, const struct schema_table *t, const char *ks, int64_t ts)
{
	struct buf key, val;
	buf_init(&key);
	buf_init(&val);
	schema_tb_key(&key, ks, t->name);
	schema_encode_table(&val, t, false, ts);
	batch_add(batch, &key, &val);
	int rc = buf_ok(&key) && buf_ok(&val) ? 0 : COL_ENOMEM;
	buf_release(&key);
	buf_release(&val);
	return rc;
}

static int64_t co_ts(const struct schema *s, const char *ks, const char *t, const char *col,
                     int64_t ts)
{
	struct buf k;
	buf_init(&k);
	schema_co_key(&k, ks, t, col);
	ts = schema_next_ts(s, (const char *)k.data, k.len, ts);
	buf_release(&k);
	return ts;
}

/* The column row of t's column c (a tombstone when dropped) into batch.  0 or COL_ENOMEM. */
static int column_row(struct buf *batch, const char *ks, const struct schema_table *t,
                      const struct schema_column *c, bool dropped, int64_t ts)
{
	struct buf key, val;
	buf_init(&key);
	buf_init(&val);
	schema_co_key(&key, ks, t->name, c->name);
	schema_encode_column(&val, t->id, c, dropped, ts);
	batch_add(batch, &key, &val);
	int rc = buf_ok(&key) && buf_ok(&val) ? 0 : COL_ENOMEM;
	buf_release(&key);
	buf_release(&val);
	return rc;
}

/* A keyspace DDL may change: it exists and is not a system keyspace.  0 or COL_E*. */
static int user_keyspace(const struct schema_snap *snap, const char *ks,
                         const struct schema_keyspace **out, struct cerr *err)
{
	const struct schema_keyspace *k = schema_snap_keyspace(snap, ks);
	if (!k)
		return cerr_set(err, COL_ENOTFOUND, "Keyspace '%s' does not exist", ks);
	if (k->virtual_)
		return cerr_set(err, COL_EINVAL, "%s keyspace is not user-modifiable.", ks);
	*out = k;
	return 0;
}

int schema_create_table(struct schema *s, const struct schema_table_def *def, int64_t timestamp,
                        struct cerr *err)
{
	return schema_create_table_id(s, def, NULL, timestamp, err);
}

int schema_create_table_id(struct schema *s, const struct schema_table_def *def, const uint8_t *id,
                           int64_t timestamp, struct cerr *err)
{
	const struct schema_snap *snap = schema_current(s);
	const struct schema_keyspace *k = NULL;
	int urc = user_keyspace(snap, def->ks, &k, err);
	if (urc)
		return urc;
	if (!schema_valid_name(def->name))
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
	        .speculative_retry = (char *)def->speculative_retry,
	        .opts = (struct schema_table_opt *)def->opts,
	        .n_opts = def->n_opts,
	};
	if (id)
		memcpy(t.id, id, 16);
	else
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
	/* One timestamp for the table row and its column rows, newer than each row it replaces. */
	int64_t ts = tb_ts(s, def->ks, def->name, timestamp);
	for (uint32_t i = 0; i < t.n_cols; i++)
		if (cols[i].kind == SCHEMA_COL_REGULAR || cols[i].kind == SCHEMA_COL_STATIC)
			ts = co_ts(s, def->ks, def->name, cols[i].name, ts);
	struct buf batch;
	buf_init(&batch);
	int rc = table_row(&batch, &t, def->ks, ts);
	for (uint32_t i = 0; i < t.n_cols && !rc; i++)
		if (cols[i].kind == SCHEMA_COL_REGULAR || cols[i].kind == SCHEMA_COL_STATIC)
			rc = column_row(&batch, def->ks, &t, &cols[i], false, ts);
	free(cols);
	if (rc) {
		buf_release(&batch);
		return cerr_set(err, rc, "out of memory");
	}
	return schema_finish_batch(s, &batch, err);
}

/* A table DDL may change: in a user keyspace.  0 or COL_E*. */
static int user_table(const struct schema_snap *snap, const char *ks, const char *table,
                      const struct schema_table **out, struct cerr *err)
{
	const struct schema_keyspace *k = NULL;
	int rc = user_keyspace(snap, ks, &k, err);
	if (rc)
		return rc;
	*out = schema_keyspace_table(k, table);
	if (!*out)
		return cerr_set(err, COL_ENOTFOUND, "Table '%s.%s' does not exist", ks, table);
	return 0;
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

/* A copy of a user table for ALTER, with room for `extra` more columns.  0 or COL_E*. */
static int table_to_alter(struct schema *s, const char *ks, const char *table, uint32_t extra,
                          struct schema_table **out, struct cerr *err)
{
	const struct schema_table *t = NULL;
	int rc = user_table(schema_current(s), ks, table, &t, err);
	if (rc)
		return rc;
	*out = table_shallow(t, extra);
	if (!*out)
		return cerr_set(err, COL_ENOMEM, "out of memory copying table %s.%s", ks, table);
	return 0;
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
	return schema_finish_batch(s, &batch, err);
}

/* Whether t has, or had (dropped), a column with this id. */
static bool column_id_taken(const struct schema_table *t, uint32_t id)
{
	for (uint32_t i = 0; i < t->n_cols; i++)
		if (t->cols[i].id == id)
			return true;
	for (uint32_t i = 0; i < t->n_dropped; i++)
		if (t->dropped[i].id == id)
			return true;
	return false;
}

/*
 * The id of a column added to t (schema.h): a hash of (table id, name, type,
 * when that name was last dropped) with COLUMN_ID_ADDED set, re-hashed while
 * t has or had that id.  0 or COL_ENOMEM.
 */
static int added_column_id(const struct schema_table *t, const char *name,
                           const struct cqltype *type, uint32_t *out)
{
	int64_t dropped_at = 0;
	for (uint32_t i = 0; i < t->n_dropped; i++)
		if (strcmp(t->dropped[i].name, name) == 0)
			dropped_at = t->dropped[i].dropped_time;
	struct buf in;
	buf_init(&in);
	buf_put(&in, t->id, 16);
	buf_put_str(&in, name);
	buf_put_u8(&in, 0);
	cqltype_name(type, &in);
	buf_put_u64be(&in, (uint64_t)dropped_at);
	if (!buf_ok(&in)) {
		buf_release(&in);
		return COL_ENOMEM;
	}
	uint64_t seed = 0;
	do
		*out = COLUMN_ID_ADDED |
		       (uint32_t)(XXH3_64bits_withSeed(in.data, in.len, seed++) & 0x7fffffffu);
	while (column_id_taken(t, *out));
	buf_release(&in);
	return 0;
}

/* The checks of one column of ALTER TABLE ... ADD against the table c.  0 or COL_EINVAL. */
static int check_added_column(const struct schema_table *c, const struct schema_column_def *col,
                              struct cerr *err)
{
	if (strlen(col->name) > UINT16_MAX)
		return cerr_set(err, COL_EINVAL, "column name longer than %u bytes", UINT16_MAX);
	if (schema_table_column(c, col->name))
		return cerr_set(err, COL_EINVAL,
		                "Invalid column name %s because it conflicts with an existing "
		                "column",
		                col->name);
	if (col->kind == SCHEMA_COL_STATIC && c->n_ck == 0)
		return cerr_set(err, COL_EINVAL,
		                "Static columns are not allowed in COMPACT STORAGE tables "
		                "or tables without clustering columns (%s)",
		                col->name);
	return 0;
}

int schema_alter_table_add(struct schema *s, const char *ks, const char *table,
                           const struct schema_column_def *cols, uint32_t n, int64_t timestamp,
                           struct cerr *err)
{
	struct schema_table *c = NULL;
	int rc = table_to_alter(s, ks, table, n, &c, err);
	if (rc)
		return rc;
	struct buf batch;
	buf_init(&batch);
	for (uint32_t i = 0; i < n && !rc; i++) {
		rc = check_added_column(c, &cols[i], err);
		if (rc)
			break;
		struct schema_column *nc = &c->cols[c->n_cols];
		nc->name = (char *)cols[i].name;
		nc->type = cols[i].type;
		nc->kind =
		        cols[i].kind == SCHEMA_COL_STATIC ? SCHEMA_COL_STATIC : SCHEMA_COL_REGULAR;
		nc->position = -1;
		if (added_column_id(c, nc->name, nc->type, &nc->id) ||
		    column_row(&batch, ks, c, nc, false, co_ts(s, ks, table, nc->name, timestamp)))
			rc = cerr_set(err, COL_ENOMEM, "out of memory adding column %s", nc->name);
		c->n_cols++;
	}
	table_shallow_free(c);
	if (rc) {
		buf_release(&batch);
		return rc;
	}
	return schema_finish_batch(s, &batch, err);
}

int schema_alter_table_drop(struct schema *s, const char *ks, const char *table,
                            const char *const *names, uint32_t n, int64_t timestamp,
                            struct cerr *err)
{
	struct schema_table *c = NULL;
	int rc = table_to_alter(s, ks, table, 0, &c, err);
	if (rc)
		return rc;
	struct buf batch;
	buf_init(&batch);
	for (uint32_t i = 0; i < n && !rc; i++) {
		uint32_t j = 0;
		while (j < c->n_cols && strcmp(c->cols[j].name, names[i]) != 0)
			j++;
		if (j == c->n_cols) {
			rc = cerr_set(err, COL_EINVAL, "Column %s was not found in table %s.%s",
			              names[i], ks, table);
			break;
		}
		if (c->cols[j].kind == SCHEMA_COL_PARTITION_KEY ||
		    c->cols[j].kind == SCHEMA_COL_CLUSTERING) {
			rc = cerr_set(err, COL_EINVAL, "Cannot drop PRIMARY KEY part %s", names[i]);
			break;
		}
		for (uint32_t x = 0; x < c->n_indexes && !rc; x++)
			if (strcmp(c->indexes[x].column, names[i]) == 0)
				rc = cerr_set(
				        err, COL_EINVAL,
				        "Cannot drop column %s because it has dependent secondary "
				        "indexes (%s)",
				        names[i], c->indexes[x].name);
		if (rc)
			break;
		/* The tombstone keeps the column's id, kind and type: its time is the drop time. */
		if (column_row(&batch, ks, c, &c->cols[j], true,
		               co_ts(s, ks, table, names[i], timestamp)))
			rc = cerr_set(err, COL_ENOMEM, "out of memory dropping column %s",
			              names[i]);
		memmove(&c->cols[j], &c->cols[j + 1], (c->n_cols - j - 1) * sizeof(*c->cols));
		c->n_cols--;
	}
	table_shallow_free(c);
	if (rc) {
		buf_release(&batch);
		return rc;
	}
	return schema_finish_batch(s, &batch, err);
}

int schema_alter_table_options(struct schema *s, const char *ks, const char *table,
                               int32_t gc_grace_seconds, int32_t default_ttl, const char *comment,
                               const char *speculative_retry, const struct schema_table_opt *opts,
                               int32_t n_opts, int64_t timestamp, struct cerr *err)
{
	struct schema_table *c = NULL;
	int rc = table_to_alter(s, ks, table, 0, &c, err);
	if (rc)
		return rc;
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
	if (speculative_retry)
		c->speculative_retry = (char *)speculative_retry;
	if (n_opts >= 0) {
		c->opts = (struct schema_table_opt *)opts;
		c->n_opts = (uint32_t)n_opts;
	}
	return write_table(s, c, ks, timestamp, err);
}

int schema_drop_table(struct schema *s, const char *ks, const char *table, int64_t timestamp,
                      struct cerr *err)
{
	const struct schema_table *t = NULL;
	int rc = user_table(schema_current(s), ks, table, &t, err);
	if (rc)
		return rc;
	struct buf batch;
	buf_init(&batch);
	drop_table_row(&batch, ks, table, tb_ts(s, ks, table, timestamp));
	return schema_finish_batch(s, &batch, err);
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
	if (klen < 10 || schema_decode_row_header(&r, &kind, &ts, &dropped) ||
	    (kind != 'K' && kind != 'T' && kind != 'C' && kind != 'I' && kind != 'Y'))
		return cerr_set(err, COL_ECORRUPT, "malformed schema row from a peer");
	long i = schema_rows_find(s, key, klen);
	if (i >= 0) {
		const struct row *old = &s->rows[i];
		int64_t ots = (int64_t)be64_load(old->val + 2);
		if (ts < ots)
			return 0;
		if (ts == ots &&
		    schema_row_cmp((const char *)val, vlen, (const char *)old->val, old->vlen) <= 0)
			return 0;
	}
	struct buf batch;
	buf_init(&batch);
	buf_put_u32be(&batch, (uint32_t)klen);
	buf_put(&batch, key, klen);
	buf_put_u32be(&batch, (uint32_t)vlen);
	buf_put(&batch, val, vlen);
	return schema_finish_batch(s, &batch, err);
}
