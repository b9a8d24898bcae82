/*
 * schema_index.c — secondary index definitions in the catalogue: their 'I'
 * rows (schema.h's persistence table), read into their table's snapshot,
 * CREATE INDEX and DROP INDEX.
 *
 * An index row is keyed by its table ("schema/ix/" ks \0 table \0 index) and
 * carries the table's id, so a table dropped and made again under the same
 * name does not inherit the old table's indexes, and its rows merge between
 * nodes like column rows (newest timestamp wins per row).  Index names are
 * unique within a keyspace, as in Cassandra; that is checked when an index is
 * made (two nodes making the same name at once on two tables keep both).
 */
#include "coordinator/schema/schema_int.h"

#include "core/buf.h"
#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void schema_ix_key(struct buf *b, const char *ks, const char *table, const char *index)
{
	buf_put_str(b, KEY_IX);
	buf_put_str(b, ks);
	buf_put_u8(b, 0);
	buf_put_str(b, table);
	buf_put_u8(b, 0);
	buf_put_str(b, index);
}

void schema_index_target(const struct schema_index *ix, const struct schema_column *c, char *out,
                         size_t n)
{
	static const char *const fn[] = {
	        [SCHEMA_INDEX_KEYS] = "keys",
	        [SCHEMA_INDEX_ENTRIES] = "entries",
	        [SCHEMA_INDEX_FULL] = "full",
	};
	bool values = ix->kind == SCHEMA_INDEX_VALUE && c && cqltype_is_collection(c->type) &&
	              !c->type->frozen;
	if (ix->kind == SCHEMA_INDEX_VALUE && !values)
		snprintf(out, n, "%s", ix->column);
	else
		snprintf(out, n, "%s(%s)", values ? "values" : fn[ix->kind], ix->column);
}

static void encode_index(struct buf *b, const uint8_t tid[16], enum schema_index_kind kind,
                         const char *column, bool dropped, int64_t ts)
{
	schema_row_header(b, 'I', ts, dropped);
	buf_put(b, tid, 16);
	buf_put_u8(b, (uint8_t)kind);
	schema_put_str(b, column);
}

int schema_decode_index(struct bufreader *r, uint8_t tid[16], struct schema_index *ix,
                        struct cerr *err)
{
	const uint8_t *id = bufreader_take(r, 16);
	uint8_t kind = bufreader_u8(r);
	if (!id || !bufreader_ok(r) || kind > SCHEMA_INDEX_FULL)
		return cerr_set(err, COL_ECORRUPT, "index row body malformed");
	memcpy(tid, id, 16);
	ix->kind = (enum schema_index_kind)kind;
	ix->column = schema_get_str(r);
	if (!ix->column || !ix->column[0]) {
		free(ix->column);
		ix->column = NULL;
		return cerr_set(err, COL_ECORRUPT, "index row without a column");
	}
	return 0;
}

static int index_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct schema_index *)a)->name,
	              ((const struct schema_index *)b)->name);
}

/* An index whose column the table no longer has is left out (DROP COLUMN drops it). */
static int take_index(struct schema_table *t, struct schema_index *ix, struct cerr *err)
{
	if (!schema_table_column(t, ix->column)) {
		free(ix->name);
		free(ix->column);
		return 0;
	}
	struct schema_index *n = realloc(t->indexes, (t->n_indexes + 1) * sizeof(*n));
	if (!n) {
		free(ix->name);
		free(ix->column);
		return cerr_set(err, COL_ENOMEM, "out of memory");
	}
	t->indexes = n;
	t->indexes[t->n_indexes++] = *ix;
	return 0;
}

int schema_table_add_indexes(struct schema *s, struct schema_table *t, const char *ks,
                             struct cerr *err)
{
	struct buf pfx;
	buf_init(&pfx);
	schema_ix_key(&pfx, ks, t->name, "");
	if (!buf_ok(&pfx))
		return cerr_set(err, COL_ENOMEM, "out of memory");
	long at = schema_rows_find(s, (const char *)pfx.data, pfx.len);
	int rc = 0;
	for (size_t i = at >= 0 ? (size_t)at : (size_t)(-at - 1); i < s->n_rows && !rc; i++) {
		const struct row *row = &s->rows[i];
		if (row->klen <= pfx.len || memcmp(row->key, pfx.data, pfx.len) != 0)
			break;
		struct bufreader r;
		bufreader_init(&r, row->val, row->vlen);
		char kind;
		int64_t ts;
		bool dropped;
		uint8_t tid[16];
		struct schema_index ix = {0};
		if (schema_decode_row_header(&r, &kind, &ts, &dropped) || kind != 'I' ||
		    schema_decode_index(&r, tid, &ix, err)) {
			rc = cerr_set(err, COL_ECORRUPT, "index row '%.*s' malformed",
			              (int)(row->klen - pfx.len), row->key + pfx.len);
			break;
		}
		if (dropped || memcmp(tid, t->id, 16) != 0) {
			free(ix.column);
			continue;
		}
		ix.timestamp = ts;
		ix.name = schema_strndup(row->key + pfx.len, row->klen - pfx.len);
		if (!ix.name) {
			free(ix.column);
			rc = cerr_set(err, COL_ENOMEM, "out of memory");
			break;
		}
		rc = take_index(t, &ix, err);
	}
	buf_release(&pfx);
	if (!rc && t->n_indexes > 1)
		qsort(t->indexes, t->n_indexes, sizeof(*t->indexes), index_name_cmp);
	return rc;
}

const struct schema_table *schema_keyspace_index(const struct schema_keyspace *k, const char *name,
                                                 const struct schema_index **ix)
{
	for (uint32_t i = 0; k && i < k->n_tables; i++) {
		const struct schema_table *t = k->tables[i];
		for (uint32_t j = 0; j < t->n_indexes; j++)
			if (strcmp(t->indexes[j].name, name) == 0) {
				if (ix)
					*ix = &t->indexes[j];
				return t;
			}
	}
	return NULL;
}

static int ix_row(struct schema *s, struct buf *batch, const char *ks, const struct schema_table *t,
                  const char *name, enum schema_index_kind kind, const char *column, bool dropped,
                  int64_t ts)
{
	struct buf k, v;
	buf_init(&k);
	buf_init(&v);
	schema_ix_key(&k, ks, t->name, name);
	int rc = buf_ok(&k) ? 0 : COL_ENOMEM;
	if (!rc) {
		ts = schema_next_ts(s, (const char *)k.data, k.len, ts);
		encode_index(&v, t->id, kind, column, dropped, ts);
		if (buf_ok(&v))
			schema_batch_add(batch, k.data, k.len, v.data, v.len);
		else
			rc = COL_ENOMEM;
	}
	buf_release(&k);
	buf_release(&v);
	return rc;
}

static int index_keyspace(struct schema *s, const char *ks, const struct schema_keyspace **out,
                          struct cerr *err)
{
	*out = schema_snap_keyspace(schema_current(s), ks);
	if (!*out)
		return cerr_set(err, COL_ENOTFOUND, "Keyspace '%s' does not exist", ks);
	if ((*out)->virtual_ || schema_is_system_keyspace(ks))
		return cerr_set(err, COL_EINVAL, "%s keyspace is not user-modifiable.", ks);
	return 0;
}

int schema_create_index(struct schema *s, const char *ks, const char *table, const char *name,
                        const char *column, enum schema_index_kind kind, int64_t timestamp,
                        struct cerr *err)
{
	const struct schema_keyspace *k = NULL;
	int rc = index_keyspace(s, ks, &k, err);
	if (rc)
		return rc;
	const struct schema_table *t = schema_keyspace_table(k, table);
	if (!t)
		return cerr_set(err, COL_ENOTFOUND, "Table '%s.%s' does not exist", ks, table);
	if (!schema_valid_name(name))
		return cerr_set(err, COL_EINVAL, "Invalid index name '%s'", name);
	if (schema_keyspace_index(k, name, NULL))
		return cerr_set(err, COL_EEXIST, "Index '%s' already exists", name);
	if (!schema_table_column(t, column))
		return cerr_set(err, COL_EINVAL, "Column '%s' doesn't exist", column);
	struct buf batch;
	buf_init(&batch);
	if (ix_row(s, &batch, ks, t, name, kind, column, false, timestamp)) {
		buf_release(&batch);
		return cerr_set(err, COL_ENOMEM, "out of memory");
	}
	return schema_finish_batch(s, &batch, err);
}

int schema_drop_index(struct schema *s, const char *ks, const char *name, int64_t timestamp,
                      struct cerr *err)
{
	const struct schema_keyspace *k = NULL;
	int rc = index_keyspace(s, ks, &k, err);
	if (rc)
		return rc;
	const struct schema_index *ix = NULL;
	const struct schema_table *t = schema_keyspace_index(k, name, &ix);
	if (!t)
		return cerr_set(err, COL_ENOTFOUND, "Index '%s.%s' doesn't exist", ks, name);
	struct buf batch;
	buf_init(&batch);
	if (ix_row(s, &batch, ks, t, name, ix->kind, ix->column, true, timestamp)) {
		buf_release(&batch);
		return cerr_set(err, COL_ENOMEM, "out of memory");
	}
	return schema_finish_batch(s, &batch, err);
}
