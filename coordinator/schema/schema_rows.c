/*
 * schema_rows.c — the schema's persisted rows (format in schema.h): the
 * sorted row table, encoding and decoding rows, and the checks and merge of
 * rows that come from peers (schema_sync.h).  It never touches the store:
 * schema.c persists what these functions build.
 */
#include "coordinator/schema/schema_int.h"

#include "core/array.h"
#include "core/buf.h"
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

char *schema_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

int schema_decode_row_header(struct bufreader *r, char *kind, int64_t *ts, bool *dropped)
{
	uint8_t fmt = bufreader_u8(r);
	*kind = (char)bufreader_u8(r);
	*ts = (int64_t)bufreader_u64be(r);
	*dropped = bufreader_u8(r) != 0;
	if (!bufreader_ok(r) || fmt != ROW_FORMAT)
		return COL_ECORRUPT;
	return 0;
}

bool schema_valid_name(const char *n)
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

/* ---- persisted rows ----------------------------------------------------------------------- */

int schema_row_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = memcmp(a, b, n);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* Index of the row with key, or -(insertion point) - 1. */
long schema_rows_find(const struct schema *s, const char *key, size_t klen)
{
	size_t lo = 0, hi = s->n_rows;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = schema_row_cmp(s->rows[mid].key, s->rows[mid].klen, key, klen);
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
int schema_rows_set(struct schema *s, const char *key, size_t klen, const void *val, size_t vlen)
{
	uint8_t *v = malloc(vlen ? vlen : 1);
	if (!v)
		return COL_ENOMEM;
	memcpy(v, val, vlen);
	long i = schema_rows_find(s, key, klen);
	if (i >= 0) {
		free(s->rows[i].val);
		s->rows[i].val = v;
		s->rows[i].vlen = vlen;
		return 0;
	}
	char *k = schema_strndup(key, klen);
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

void schema_put_str(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	buf_put_u16be(b, (uint16_t)n);
	buf_put(b, s, n);
}

char *schema_get_str(struct bufreader *r)
{
	uint16_t n = bufreader_u16be(r);
	const uint8_t *p = bufreader_take(r, n);
	if (!p)
		return NULL;
	if (memchr(p, 0, n)) {
		r->err = true;
		return NULL;
	}
	return schema_strndup((const char *)p, n);
}

void schema_row_header(struct buf *b, char kind, int64_t ts, bool dropped)
{
	buf_put_u8(b, ROW_FORMAT);
	buf_put_u8(b, (uint8_t)kind);
	buf_put_u64be(b, (uint64_t)ts);
	buf_put_u8(b, dropped ? 1 : 0);
}

void schema_encode_keyspace(struct buf *b, const struct schema_keyspace *k, bool dropped,
                            int64_t ts)
{
	schema_row_header(b, 'K', ts, dropped);
	if (dropped)
		return;
	buf_put_u8(b, k->durable_writes ? 1 : 0);
	buf_put_u16be(b, (uint16_t)k->n_repl);
	for (uint32_t i = 0; i < k->n_repl; i++) {
		schema_put_str(b, k->repl_keys[i]);
		schema_put_str(b, k->repl_vals[i]);
	}
}

static void put_type(struct buf *b, struct buf *tn, const struct cqltype *t)
{
	buf_reset(tn);
	cqltype_name(t, tn);
	buf_put_u16be(b, (uint16_t)tn->len);
	buf_put(b, tn->data, tn->len);
	if (tn->oom)
		b->oom = true;
}

static bool is_key_kind(enum schema_col_kind k)
{
	return k == SCHEMA_COL_PARTITION_KEY || k == SCHEMA_COL_CLUSTERING;
}

void schema_encode_table(struct buf *b, const struct schema_table *t, bool dropped, int64_t ts)
{
	schema_row_header(b, 'T', ts, dropped);
	if (dropped)
		return;
	buf_put(b, t->id, 16);
	buf_put_u32be(b, (uint32_t)t->gc_grace_seconds);
	buf_put_u32be(b, (uint32_t)t->default_time_to_live);
	schema_put_str(b, t->comment ? t->comment : "");
	uint16_t n_key = 0;
	for (uint32_t i = 0; i < t->n_cols; i++)
		n_key += is_key_kind(t->cols[i].kind);
	buf_put_u16be(b, n_key);
	struct buf tn;
	buf_init(&tn);
	for (uint32_t i = 0; i < t->n_cols; i++) {
		const struct schema_column *c = &t->cols[i];
		if (!is_key_kind(c->kind))
			continue;
		buf_put_u32be(b, c->id);
		schema_put_str(b, c->name);
		buf_put_u8(b, (uint8_t)c->kind);
		buf_put_u16be(b, (uint16_t)(int16_t)c->position);
		buf_put_u8(b, c->desc ? 1 : 0);
		put_type(b, &tn, c->type);
	}
	buf_release(&tn);
	/* optional trailing fields: rows of tables on the defaults stay as they were.
	 * speculative_retry, then the kept options (u16 count, name and value each) */
	bool spec = t->speculative_retry && strcmp(t->speculative_retry, "99p") != 0;
	if (spec || t->n_opts)
		schema_put_str(b, t->speculative_retry ? t->speculative_retry : "99p");
	if (t->n_opts) {
		buf_put_u16be(b, (uint16_t)t->n_opts);
		for (uint32_t i = 0; i < t->n_opts; i++) {
			schema_put_str(b, t->opts[i].name);
			schema_put_str(b, t->opts[i].value);
		}
	}
}

void schema_encode_column(struct buf *b, const uint8_t table_id[16], const struct schema_column *c,
                          bool dropped, int64_t ts)
{
	schema_row_header(b, 'C', ts, dropped);
	buf_put(b, table_id, 16);
	buf_put_u32be(b, c->id);
	buf_put_u8(b, (uint8_t)c->kind);
	struct buf tn;
	buf_init(&tn);
	put_type(b, &tn, c->type);
	buf_release(&tn);
}

int schema_decode_column(struct bufreader *r, uint8_t tid[16], struct schema_column *c,
                         const struct schema_keyspace *k, struct cerr *err)
{
	const uint8_t *id = bufreader_take(r, 16);
	if (id)
		memcpy(tid, id, 16);
	c->id = bufreader_u32be(r);
	uint8_t kind = bufreader_u8(r);
	uint16_t tl = bufreader_u16be(r);
	const uint8_t *tp = bufreader_take(r, tl);
	if (!bufreader_ok(r))
		return cerr_set(err, COL_ECORRUPT, "truncated column row");
	if (kind != SCHEMA_COL_REGULAR && kind != SCHEMA_COL_STATIC)
		return cerr_set(err, COL_ECORRUPT, "column row of kind %u (regular or static only)",
		                kind);
	c->kind = (enum schema_col_kind)kind;
	c->position = -1;
	c->desc = false;
	int rc = cqltype_parse_in((const char *)tp, tl, schema_resolve_type, (void *)k, &c->type,
	                          err);
	if (rc)
		return cerr_set(err, rc == COL_ENOTFOUND ? COL_ENOTFOUND : COL_ECORRUPT,
		                "column type: %s", err->msg);
	return 0;
}

void schema_ks_key(struct buf *b, const char *ks)
{
	buf_put_str(b, KEY_KS);
	buf_put_str(b, ks);
}

void schema_tb_key(struct buf *b, const char *ks, const char *table)
{
	buf_put_str(b, KEY_TB);
	buf_put_str(b, ks);
	buf_put_u8(b, 0);
	buf_put_str(b, table);
}

void schema_co_key(struct buf *b, const char *ks, const char *table, const char *column)
{
	buf_put_str(b, KEY_CO);
	buf_put_str(b, ks);
	buf_put_u8(b, 0);
	buf_put_str(b, table);
	buf_put_u8(b, 0);
	buf_put_str(b, column);
}

/* ---- snapshot objects --------------------------------------------------------------------- */

void schema_table_free(struct schema_table *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < t->n_cols; i++) {
		free(t->cols[i].name);
		cqltype_free(t->cols[i].type);
	}
	free(t->cols);
	for (uint32_t i = 0; i < t->n_dropped; i++) {
		free(t->dropped[i].name);
		cqltype_free(t->dropped[i].type);
	}
	free(t->dropped);
	free(t->name);
	free(t->comment);
	free(t->speculative_retry);
	for (uint32_t i = 0; i < t->n_opts; i++) {
		free(t->opts[i].name);
		free(t->opts[i].value);
	}
	free(t->opts);
	for (uint32_t i = 0; i < t->n_indexes; i++) {
		free(t->indexes[i].name);
		free(t->indexes[i].column);
	}
	free(t->indexes);
	free(t);
}

void schema_keyspace_free(struct schema_keyspace *k)
{
	if (!k)
		return;
	for (uint32_t i = 0; i < k->n_tables; i++)
		schema_table_free(k->tables[i]);
	free(k->tables);
	for (uint32_t i = 0; i < k->n_types; i++)
		cqltype_free(k->types[i]);
	free(k->types);
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

void schema_table_sort_columns(struct schema_table *t)
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

int schema_decode_table(struct bufreader *r, struct schema_table *t, bool legacy,
                        const struct schema_keyspace *k, struct cerr *err)
{
	const uint8_t *id = bufreader_take(r, 16);
	if (id)
		memcpy(t->id, id, 16);
	t->gc_grace_seconds = (int32_t)bufreader_u32be(r);
	t->default_time_to_live = (int32_t)bufreader_u32be(r);
	t->comment = schema_get_str(r);
	if (legacy)
		(void)bufreader_u32be(r); /* next_column_id */
	uint16_t n = bufreader_u16be(r);
	if (!bufreader_ok(r) || !t->comment)
		return cerr_set(err, COL_ECORRUPT, "truncated table row");
	t->cols = calloc(n ? n : 1, sizeof(*t->cols));
	if (!t->cols)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	for (uint16_t i = 0; i < n; i++) {
		struct schema_column *c = &t->cols[i];
		c->id = bufreader_u32be(r);
		c->name = schema_get_str(r);
		t->n_cols = i + 1u;
		c->kind = (enum schema_col_kind)bufreader_u8(r);
		c->position = (int16_t)bufreader_u16be(r);
		c->desc = bufreader_u8(r) != 0;
		uint16_t tl = bufreader_u16be(r);
		const uint8_t *tp = bufreader_take(r, tl);
		if (!bufreader_ok(r) || !c->name || c->kind > SCHEMA_COL_STATIC ||
		    (!legacy && !is_key_kind(c->kind)))
			return cerr_set(err, COL_ECORRUPT, "malformed column %u of table row", i);
		int rc = cqltype_parse_in((const char *)tp, tl, schema_resolve_type, (void *)k,
		                          &c->type, err);
		if (rc)
			return cerr_set(err, rc == COL_ENOTFOUND ? COL_ENOTFOUND : COL_ECORRUPT,
			                "column '%s': %s", c->name, err->msg);
	}
	if (!legacy && bufreader_left(r)) {
		t->speculative_retry = schema_get_str(r);
		if (!bufreader_ok(r) || !t->speculative_retry)
			return cerr_set(err, COL_ECORRUPT,
			                "malformed speculative_retry of table row");
	}
	if (!legacy && bufreader_left(r)) {
		uint16_t no = bufreader_u16be(r);
		t->opts = calloc(no ? no : 1, sizeof(*t->opts));
		if (!t->opts)
			return cerr_set(err, COL_ENOMEM, "out of memory");
		for (uint16_t i = 0; i < no; i++) {
			t->opts[i].name = schema_get_str(r);
			t->opts[i].value = schema_get_str(r);
			t->n_opts = i + 1u;
			if (!bufreader_ok(r) || !t->opts[i].name || !t->opts[i].value ||
			    (i && strcmp(t->opts[i - 1].name, t->opts[i].name) >= 0))
				return cerr_set(err, COL_ECORRUPT,
				                "malformed option %u of table row", i);
		}
	}
	schema_table_sort_columns(t);
	return 0;
}

int schema_decode_keyspace(struct bufreader *r, struct schema_keyspace *k, struct cerr *err)
{
	k->durable_writes = bufreader_u8(r) != 0;
	uint16_t n = bufreader_u16be(r);
	k->repl_keys = calloc(n ? n : 1, sizeof(char *));
	k->repl_vals = calloc(n ? n : 1, sizeof(char *));
	if (!k->repl_keys || !k->repl_vals)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	for (uint16_t j = 0; j < n; j++) {
		k->repl_keys[j] = schema_get_str(r);
		k->repl_vals[j] = schema_get_str(r);
		k->n_repl = j + 1u;
	}
	if (!bufreader_ok(r) || n == 0 || !k->repl_keys[0] || strcmp(k->repl_keys[0], "class") != 0)
		return cerr_set(err, COL_ECORRUPT, "malformed replication options");
	return 0;
}

/* ---- rows from peers (schema_sync.h) ----------------------------------------------------------
 */

/* A name from a row key: schema_valid_name() over (p, n). */
static bool valid_name_n(const char *p, size_t n)
{
	char tmp[SCHEMA_NAME_MAX + 1];
	if (n == 0 || n > SCHEMA_NAME_MAX)
		return false;
	memcpy(tmp, p, n);
	tmp[n] = 0;
	return schema_valid_name(tmp);
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
		    (key && cqltype_is_multicell(c->type)))
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

/* A keyspace row's key and body.  0 or COL_ECORRUPT. */
static int check_keyspace_row(const char *k, size_t klen, struct bufreader *r, bool dropped,
                              struct cerr *err)
{
	size_t lks = strlen(KEY_KS);
	if (klen <= lks || memcmp(k, KEY_KS, lks) != 0 || !valid_name_n(k + lks, klen - lks))
		return cerr_set(err, COL_ECORRUPT, "keyspace row with a bad key '%.*s'",
		                (int)(klen > 64 ? 64 : klen), k);
	char name[SCHEMA_NAME_MAX + 1];
	memcpy(name, k + lks, klen - lks);
	name[klen - lks] = 0;
	if (schema_is_system_keyspace(name) && !schema_is_replicated_system_keyspace(name))
		return cerr_set(err, COL_ECORRUPT, "row for system keyspace %s", name);
	if (dropped)
		return 0;
	bufreader_u8(r);
	uint16_t n = bufreader_u16be(r);
	bool first_class = false;
	for (uint16_t j = 0; j < n && bufreader_ok(r); j++) {
		char *a = schema_get_str(r), *b = schema_get_str(r);
		if (j == 0 && a && strcmp(a, "class") == 0)
			first_class = true;
		free(a);
		free(b);
	}
	if (!bufreader_ok(r) || n == 0 || !first_class || bufreader_left(r) != 0)
		return cerr_set(err, COL_ECORRUPT, "keyspace row of %s is malformed", name);
	return 0;
}

/*
 * A row key of `prefix` followed by `parts` names separated by NULs: valid
 * keyspace and table names (schema_valid_name), the first not a system
 * keyspace, then for a column row a column name (any bytes but NUL, as quoted
 * CQL names may be): the start of each name into at[] (and its length into
 * len[]).  False when malformed.
 */
static bool split_key(const char *k, size_t klen, const char *prefix, int parts, const char **at,
                      size_t *len)
{
	size_t lp = strlen(prefix);
	if (klen <= lp || memcmp(k, prefix, lp) != 0)
		return false;
	const char *p = k + lp, *end = k + klen;
	for (int i = 0; i < parts; i++) {
		const char *nul = i + 1 < parts ? memchr(p, 0, (size_t)(end - p)) : end;
		if (!nul)
			return false;
		if (i < 2 ? !valid_name_n(p, (size_t)(nul - p))
		          : nul == p || memchr(p, 0, (size_t)(nul - p)) || nul - p > UINT16_MAX)
			return false;
		at[i] = p;
		len[i] = (size_t)(nul - p);
		p = nul + 1;
	}
	char ks[SCHEMA_NAME_MAX + 1];
	memcpy(ks, at[0], len[0]);
	ks[len[0]] = 0;
	return !schema_is_system_keyspace(ks) || schema_is_replicated_system_keyspace(ks);
}

/* A table row's body (live): key columns only, a partition key, storable.  0 or COL_E*. */
static int check_table_body(struct bufreader *r, struct cerr *err)
{
	struct schema_table *t = calloc(1, sizeof(*t));
	if (!t)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	int rc = schema_decode_table(r, t, false, NULL, err);
	if (!rc && bufreader_left(r) != 0)
		rc = cerr_set(err, COL_ECORRUPT, "%zu trailing bytes", bufreader_left(r));
	if (!rc && t->n_pk == 0)
		rc = cerr_set(err, COL_ECORRUPT, "no partition key column");
	if (!rc)
		rc = check_storable(t, err);
	schema_table_free(t);
	return rc;
}

/* A column row's body (live or dropped): regular or static, a type the store keeps. */
static int check_column_body(struct bufreader *r, struct cerr *err)
{
	uint8_t tid[16];
	struct schema_column c = {0};
	int rc = schema_decode_column(r, tid, &c, NULL, err);
	if (!rc && bufreader_left(r) != 0)
		rc = cerr_set(err, COL_ECORRUPT, "%zu trailing bytes", bufreader_left(r));
	if (!rc && (c.type->kind == CQLTYPE_CUSTOM || c.type->kind == CQLTYPE_COUNTER))
		rc = cerr_set(err, COL_ECORRUPT, "a type the store refuses");
	if (c.type)
		cqltype_free(c.type);
	return rc;
}

/* An index row's body (live or dropped): table id, a known kind, a column name. */
static int check_index_body(struct bufreader *r, struct cerr *err)
{
	uint8_t tid[16];
	struct schema_index ix = {0};
	int rc = schema_decode_index(r, tid, &ix, err);
	if (!rc && bufreader_left(r) != 0)
		rc = cerr_set(err, COL_ECORRUPT, "%zu trailing bytes", bufreader_left(r));
	free(ix.column);
	return rc;
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
	if (vlen > 0 && ((const uint8_t *)val)[0] == ROW_FORMAT_LEGACY)
		return cerr_set(err, COL_ECORRUPT,
		                "schema row '%.*s' is of format %d (a node of an older version)",
		                (int)(klen > 64 ? 64 : klen), k, ROW_FORMAT_LEGACY);
	if (schema_decode_row_header(&r, &kind, &ts, &dropped))
		return cerr_set(err, COL_ECORRUPT, "schema row '%.*s': bad header (%zu bytes)",
		                (int)(klen > 64 ? 64 : klen), k, vlen);
	const char *at[3];
	size_t len[3];
	int rc = 0;
	if (kind == 'K') {
		rc = check_keyspace_row(k, klen, &r, dropped, err);
	} else if (kind == 'T') {
		if (!split_key(k, klen, KEY_TB, 2, at, len))
			return cerr_set(err, COL_ECORRUPT, "table row with a bad key");
		if (!dropped && (rc = check_table_body(&r, err)) != 0)
			cerr_prefix(err, "table row of %.*s.%.*s", (int)len[0], at[0], (int)len[1],
			            at[1]);
	} else if (kind == 'C') {
		if (!split_key(k, klen, KEY_CO, 3, at, len))
			return cerr_set(err, COL_ECORRUPT, "column row with a bad key");
		if ((rc = check_column_body(&r, err)) != 0)
			cerr_prefix(err, "column row of %.*s.%.*s.%.*s", (int)len[0], at[0],
			            (int)len[1], at[1], (int)len[2], at[2]);
	} else if (kind == 'Y') {
		if (!split_key(k, klen, KEY_TY, 2, at, len))
			return cerr_set(err, COL_ECORRUPT, "type row with a bad key");
		if ((rc = schema_check_type_body(&r, err)) != 0)
			cerr_prefix(err, "type row of %.*s.%.*s", (int)len[0], at[0], (int)len[1],
			            at[1]);
	} else if (kind == 'I') {
		if (!split_key(k, klen, KEY_IX, 3, at, len))
			return cerr_set(err, COL_ECORRUPT, "index row with a bad key");
		if ((rc = check_index_body(&r, err)) != 0)
			cerr_prefix(err, "index row of %.*s.%.*s.%.*s", (int)len[0], at[0],
			            (int)len[1], at[1], (int)len[2], at[2]);
	} else {
		return cerr_set(err, COL_ECORRUPT, "schema row of unknown kind 0x%02x",
		                (unsigned)(uint8_t)kind);
	}
	if (!rc && ts_out)
		*ts_out = ts;
	return rc;
}

/* Same CQL type text (a user type compares by name: a row alone cannot resolve it). */
static bool type_text_equal(const struct cqltype *a, const struct cqltype *b)
{
	struct buf x, y;
	buf_init(&x);
	buf_init(&y);
	cqltype_name(a, &x);
	cqltype_name(b, &y);
	bool eq = buf_ok(&x) && buf_ok(&y) && x.len == y.len &&
	          (x.len == 0 || memcmp(x.data, y.data, x.len) == 0);
	buf_release(&x);
	buf_release(&y);
	return eq;
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
	if (schema_decode_row_header(&r, &kind, &ts, &dropped) || kind != 'T' || dropped)
		return 0;
	struct schema_table *t = calloc(1, sizeof(*t));
	if (!t)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	int rc = schema_decode_table(&r, t, false, NULL, err);
	const struct schema_snap *snap = schema_current(s);
	for (uint32_t i = 0; !rc && i < snap->n_keyspaces; i++) {
		const struct schema_keyspace *ks = snap->keyspaces[i];
		for (uint32_t j = 0; !rc && j < ks->n_tables; j++) {
			const struct schema_table *o = ks->tables[j];
			if (o->virtual_ || memcmp(o->id, t->id, 16) != 0)
				continue;
			struct buf k;
			buf_init(&k);
			schema_tb_key(&k, ks->name, o->name);
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
				       type_text_equal(o->cols[c].type, t->cols[c].type);
			if (!same)
				rc = cerr_set(
				        err, COL_ECORRUPT,
				        "table row reuses the id of %s.%s with other key columns",
				        ks->name, o->name);
		}
	}
	schema_table_free(t);
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
		if (i > 0 && schema_row_cmp(rows[i - 1].key, rows[i - 1].klen, rows[i].key,
		                            rows[i].klen) >= 0)
			return cerr_set(err, COL_ECORRUPT,
			                "row %zu of %zu: keys not in strictly ascending order",
			                i + 1, n);
	}
	struct buf batch;
	buf_init(&batch);
	size_t took = 0;
	for (size_t i = 0; i < n; i++) {
		const struct schema_row_ref *in = &rows[i];
		long at = schema_rows_find(s, in->key, in->klen);
		if (at >= 0) {
			const struct row *old = &s->rows[at];
			int64_t ts = (int64_t)be64_load((const uint8_t *)in->val + 2);
			int64_t ots =
			        old->vlen >= 10 ? (int64_t)be64_load(old->val + 2) : INT64_MIN;
			if (ts < ots)
				continue;
			if (ts == ots && schema_row_cmp(in->val, in->vlen, (const char *)old->val,
			                                old->vlen) <= 0)
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
	int rc = schema_finish_batch(s, &batch, err);
	if (!rc && applied)
		*applied = took;
	return rc;
}

void schema_hash_uuid(uint64_t high, uint64_t low, uint8_t out[16])
{
	be64_store(out, high);
	be64_store(out + 8, low);
	out[6] = (uint8_t)((out[6] & 0x0f) | 0x30);
	out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}

/* One row into the version hash: key, NUL, value. */
static void version_update(XXH3_state_t *hs, const void *key, size_t klen, const void *val,
                           size_t vlen)
{
	XXH3_128bits_update(hs, key, klen);
	XXH3_128bits_update(hs, "\0", 1);
	XXH3_128bits_update(hs, val, vlen);
}

void schema_rows_version(const struct schema_row_ref *rows, size_t n, uint8_t out[16])
{
	XXH3_state_t hs;
	XXH3_128bits_reset(&hs);
	for (size_t i = 0; i < n; i++)
		version_update(&hs, rows[i].key, rows[i].klen, rows[i].val, rows[i].vlen);
	XXH128_hash_t h = XXH3_128bits_digest(&hs);
	schema_hash_uuid(h.high64, h.low64, out);
}

void schema_rows_table_version(const struct schema *s, uint8_t out[16])
{
	XXH3_state_t hs;
	XXH3_128bits_reset(&hs);
	for (size_t i = 0; i < s->n_rows; i++)
		version_update(&hs, s->rows[i].key, s->rows[i].klen, s->rows[i].val,
		               s->rows[i].vlen);
	XXH128_hash_t h = XXH3_128bits_digest(&hs);
	schema_hash_uuid(h.high64, h.low64, out);
}

/* ---- format 1 rows (stores written before column rows) ------------------------------------ */

void schema_batch_add(struct buf *batch, const void *key, size_t klen, const void *val, size_t vlen)
{
	buf_put_u32be(batch, (uint32_t)klen);
	buf_put(batch, key, klen);
	buf_put_u32be(batch, (uint32_t)vlen);
	buf_put(batch, val, vlen);
}

/* A live format 1 table row: its table row and one column row per regular/static column. */
static int convert_legacy_table(const char *key, size_t klen, struct bufreader *r, int64_t ts,
                                struct buf *batch, struct cerr *err)
{
	const char *at[2];
	size_t len[2];
	if (!split_key(key, klen, KEY_TB, 2, at, len))
		return cerr_set(err, COL_ECORRUPT, "format 1 table row with a bad key");
	struct schema_table *t = calloc(1, sizeof(*t));
	if (!t)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	int rc = schema_decode_table(r, t, true, NULL, err);
	struct buf v, k;
	buf_init(&v);
	buf_init(&k);
	if (!rc) {
		schema_encode_table(&v, t, false, ts);
		schema_batch_add(batch, key, klen, v.data, v.len);
	}
	char ks[SCHEMA_NAME_MAX + 1], tb[SCHEMA_NAME_MAX + 1];
	snprintf(ks, sizeof(ks), "%.*s", (int)len[0], at[0]);
	snprintf(tb, sizeof(tb), "%.*s", (int)len[1], at[1]);
	for (uint32_t i = 0; !rc && i < t->n_cols; i++) {
		if (is_key_kind(t->cols[i].kind))
			continue;
		buf_reset(&v);
		buf_reset(&k);
		schema_co_key(&k, ks, tb, t->cols[i].name);
		schema_encode_column(&v, t->id, &t->cols[i], false, ts);
		schema_batch_add(batch, k.data, k.len, v.data, v.len);
	}
	if (!rc && (!buf_ok(&v) || !buf_ok(&k)))
		rc = cerr_set(err, COL_ENOMEM, "out of memory");
	buf_release(&v);
	buf_release(&k);
	schema_table_free(t);
	if (rc)
		cerr_prefix(err, "format 1 table row of %s.%s", ks, tb);
	return rc;
}

int schema_convert_legacy_row(const char *key, size_t klen, const uint8_t *val, size_t vlen,
                              struct buf *batch, bool *converted, struct cerr *err)
{
	*converted = false;
	if (vlen < 11 || val[0] != ROW_FORMAT_LEGACY)
		return 0;
	struct bufreader r;
	bufreader_init(&r, val, vlen);
	bufreader_u8(&r);
	char kind = (char)bufreader_u8(&r);
	int64_t ts = (int64_t)bufreader_u64be(&r);
	bool dropped = bufreader_u8(&r) != 0;
	*converted = true;
	if (kind == 'T' && !dropped)
		return convert_legacy_table(key, klen, &r, ts, batch, err);
	if (kind != 'K' && kind != 'T')
		return cerr_set(err, COL_ECORRUPT, "format 1 schema row '%.*s' of kind 0x%02x",
		                (int)(klen > 64 ? 64 : klen), key, (unsigned)(uint8_t)kind);
	/* A keyspace row or a tombstone: the same bytes under the new format number. */
	size_t at = batch->len;
	schema_batch_add(batch, key, klen, val, vlen);
	if (buf_ok(batch))
		batch->data[at + 4 + klen + 4] = ROW_FORMAT;
	return 0;
}
