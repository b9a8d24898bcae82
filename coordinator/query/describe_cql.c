/*
 * describe_cql.c — the CREATE statements of server-side DESCRIBE, in the text
 * Cassandra 4.0 prints (its TableMetadata / KeyspaceMetadata toCqlString):
 *
 *   CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}
 * AND durable_writes = true;
 *
 *   CREATE TABLE ks.t (
 *       id int,
 *       c int,
 *       v text,
 *       PRIMARY KEY (id, c)
 *   ) WITH CLUSTERING ORDER BY (c ASC)
 *       AND additional_write_policy = '99p'
 *       ...
 *       AND speculative_retry = '99p';
 *
 * Columns: partition key, clustering (by position), then regular and static
 * merged by name; a lone partition key without clustering is "id int PRIMARY
 * KEY".  Options in name order, maps with sorted keys, names quoted only when
 * needed, strings with '' for a quote, doubles as Java prints them (0.01, 1.0).
 */
#include "coordinator/query/describe.h"

#include "coordinator/cql/cql_ast.h"
#include "coordinator/query/tableopts.h"
#include "coordinator/schema/schema.h"
#include "core/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_quoted(struct buf *out, const char *s)
{
	buf_put_u8(out, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			buf_put_u8(out, '\'');
		buf_put_u8(out, (uint8_t)*s);
	}
	buf_put_u8(out, '\'');
}

/* {'k': 'v', ...} from sorted pairs */
static void put_map(struct buf *out, const char *const *kv, size_t npairs)
{
	buf_put_u8(out, '{');
	for (size_t i = 0; i < npairs; i++) {
		if (i)
			buf_put_str(out, ", ");
		put_quoted(out, kv[2 * i]);
		buf_put_str(out, ": ");
		put_quoted(out, kv[2 * i + 1]);
	}
	buf_put_u8(out, '}');
}

/* Java's Double.toString for the values options take: the shortest digits that
 * read back, with at least one decimal ("1.0", "0.01"). */
static void put_double(struct buf *out, double v)
{
	char tmp[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	buf_put_str(out, tmp);
	if (!strpbrk(tmp, ".eEn"))
		buf_put_str(out, ".0");
}

void describe_table_name(struct buf *out, const char *ks, const char *name)
{
	cql_name_format(ks, out);
	buf_put_u8(out, '.');
	cql_name_format(name, out);
}

void describe_keyspace_cql(struct buf *out, const struct schema_keyspace *k)
{
	if (k->in_virtual_schema) {
		buf_put_str(out, "/*\nWarning: Keyspace ");
		cql_name_format(k->name, out);
		buf_put_str(out, " is a virtual keyspace and cannot be recreated with CQL.\n"
		                 "Structure, for reference:\nVIRTUAL KEYSPACE ");
		cql_name_format(k->name, out);
		buf_put_str(out, ";\n*/");
		return;
	}
	buf_put_str(out, "CREATE KEYSPACE ");
	cql_name_format(k->name, out);
	buf_put_str(out, " WITH replication = {'class': ");
	static const char pkg[] = "org.apache.cassandra.locator.";
	for (uint32_t i = 0; i < k->n_repl; i++)
		if (strcmp(k->repl_keys[i], "class") == 0) {
			const char *c = k->repl_vals[i];
			if (strncmp(c, pkg, sizeof(pkg) - 1) == 0 &&
			    !strchr(c + sizeof(pkg) - 1, '.'))
				c += sizeof(pkg) - 1;
			put_quoted(out, c);
		}
	/* the other options by name */
	const char *last = "";
	for (;;) {
		int next = -1;
		for (uint32_t i = 0; i < k->n_repl; i++) {
			const char *key = k->repl_keys[i];
			if (strcmp(key, "class") == 0 || strcmp(key, last) <= 0)
				continue;
			if (next < 0 || strcmp(key, k->repl_keys[next]) < 0)
				next = (int)i;
		}
		if (next < 0)
			break;
		buf_put_str(out, ", ");
		put_quoted(out, k->repl_keys[next]);
		buf_put_str(out, ": ");
		put_quoted(out, k->repl_vals[next]);
		last = k->repl_keys[next];
	}
	buf_printf(out, "}  AND durable_writes = %s;", k->durable_writes ? "true" : "false");
}

static void put_column(struct buf *out, const struct schema_column *c)
{
	buf_put_str(out, "    ");
	cql_name_format(c->name, out);
	buf_put_u8(out, ' ');
	cqltype_name(c->type, out);
	if (c->kind == SCHEMA_COL_STATIC)
		buf_put_str(out, " static");
}

/* The columns in CREATE order: keys by position, then regular and static merged by name
 * (t->cols holds them so); `order` has t->n_cols slots. */
static void create_order(const struct schema_table *t, const struct schema_column **order)
{
	uint32_t first = t->n_pk + t->n_ck;
	for (uint32_t i = 0; i < first; i++)
		order[i] = &t->cols[i];
	const char *last = NULL;
	for (uint32_t k = first; k < t->n_cols; k++) {
		const struct schema_column *best = NULL;
		for (uint32_t i = first; i < t->n_cols; i++) {
			const struct schema_column *c = &t->cols[i];
			if ((!last || strcmp(c->name, last) > 0) &&
			    (!best || strcmp(c->name, best->name) < 0))
				best = c;
		}
		order[k] = best;
		last = best->name;
	}
}

static const struct schema_dropped_column *dropped_named(const struct schema_table *t,
                                                         const char *name)
{
	for (uint32_t i = 0; i < t->n_dropped; i++)
		if (strcmp(t->dropped[i].name, name) == 0)
			return &t->dropped[i];
	return NULL;
}

static void put_dropped_def(struct buf *out, const struct schema_dropped_column *d)
{
	struct schema_column c = {.name = d->name, .type = d->type, .kind = d->kind};
	put_column(out, &c);
}

/*
 * The column definitions, with Cassandra's commas: after every column unless the key is a
 * lone partition key and nothing follows.  With `dropped` (WITH INTERNALS) a column dropped
 * and added again is left for the ALTERs after the statement, and the dropped columns are
 * defined after the others.
 */
static int put_columns(struct buf *out, const struct schema_table *t, bool single, bool dropped)
{
	const struct schema_column **order = calloc(t->n_cols ? t->n_cols : 1, sizeof(*order));
	if (!order)
		return -1;
	create_order(t, order);
	bool with_dropped = dropped && t->n_dropped;
	for (uint32_t i = 0; i < t->n_cols; i++) {
		const struct schema_column *c = order[i];
		if (dropped && dropped_named(t, c->name))
			continue;
		put_column(out, c);
		if (single && c->kind == SCHEMA_COL_PARTITION_KEY)
			buf_put_str(out, " PRIMARY KEY");
		buf_put_str(out, !single || with_dropped || i + 1 < t->n_cols ? ",\n" : "\n");
	}
	for (uint32_t i = 0; with_dropped && i < t->n_dropped; i++) {
		put_dropped_def(out, &t->dropped[i]);
		buf_put_str(out, !single || i + 1 < t->n_dropped ? ",\n" : "\n");
	}
	free(order);
	return 0;
}

/* WITH INTERNALS: each dropped column's DROP at its time, and its ADD if it is back. */
static void put_drops(struct buf *out, const struct schema_table *t)
{
	for (uint32_t i = 0; i < t->n_dropped; i++) {
		const struct schema_dropped_column *d = &t->dropped[i];
		buf_put_str(out, "\nALTER TABLE ");
		describe_table_name(out, t->ks->name, t->name);
		buf_put_str(out, " DROP ");
		cql_name_format(d->name, out);
		buf_printf(out, " USING TIMESTAMP %lld;", (long long)d->dropped_time);
		const struct schema_column *c = schema_table_column(t, d->name);
		if (c) {
			buf_put_str(out, "\nALTER TABLE ");
			describe_table_name(out, t->ks->name, t->name);
			buf_put_str(out, " ADD ");
			size_t at = out->len;
			put_column(out, c);
			/* put_column indents for the CREATE statement's body */
			if (out->len >= at + 4 && buf_ok(out)) {
				memmove(out->data + at, out->data + at + 4, out->len - at - 4);
				out->len -= 4;
			}
			buf_put_u8(out, ';');
		}
	}
}

static void put_primary_key(struct buf *out, const struct schema_table *t)
{
	buf_put_str(out, "    PRIMARY KEY (");
	if (t->n_pk > 1)
		buf_put_u8(out, '(');
	for (uint32_t i = 0; i < t->n_pk; i++) {
		if (i)
			buf_put_str(out, ", ");
		cql_name_format(t->cols[i].name, out);
	}
	if (t->n_pk > 1)
		buf_put_u8(out, ')');
	for (uint32_t i = 0; i < t->n_ck; i++) {
		buf_put_str(out, ", ");
		cql_name_format(t->cols[t->n_pk + i].name, out);
	}
	buf_put_str(out, ")\n");
}

static void put_options(struct buf *out, const struct schema_table *t)
{
	struct table_opts o;
	table_opts_get(t, &o);
	buf_put_str(out, "additional_write_policy = ");
	put_quoted(out, o.additional_write_policy);
	buf_put_str(out, "\n    AND bloom_filter_fp_chance = ");
	put_double(out, o.bloom_filter_fp_chance);
	buf_put_str(out, "\n    AND caching = ");
	put_map(out, o.caching, o.n_caching);
	buf_printf(out, "\n    AND cdc = %s", o.cdc ? "true" : "false");
	buf_put_str(out, "\n    AND comment = ");
	put_quoted(out, o.comment);
	buf_put_str(out, "\n    AND compaction = ");
	put_map(out, o.compaction, o.n_compaction);
	buf_put_str(out, "\n    AND compression = ");
	put_map(out, o.compression, o.n_compression);
	buf_put_str(out, "\n    AND crc_check_chance = ");
	put_double(out, o.crc_check_chance);
	buf_printf(out, "\n    AND default_time_to_live = %d", (int)o.default_time_to_live);
	buf_put_str(out, "\n    AND extensions = {}");
	buf_printf(out, "\n    AND gc_grace_seconds = %d", (int)o.gc_grace_seconds);
	buf_printf(out, "\n    AND max_index_interval = %d", (int)o.max_index_interval);
	buf_printf(out, "\n    AND memtable_flush_period_in_ms = %d",
	           (int)o.memtable_flush_period_in_ms);
	buf_printf(out, "\n    AND min_index_interval = %d", (int)o.min_index_interval);
	buf_put_str(out, "\n    AND read_repair = ");
	put_quoted(out, o.read_repair);
	buf_put_str(out, "\n    AND speculative_retry = ");
	put_quoted(out, o.speculative_retry);
}

void describe_table_cql(struct buf *out, const struct schema_table *t, bool internals)
{
	bool virt = t->ks->in_virtual_schema;
	if (virt) {
		buf_put_str(out, "/*\nWarning: Table ");
		describe_table_name(out, t->ks->name, t->name);
		buf_put_str(out, " is a virtual table and cannot be recreated with CQL.\n"
		                 "Structure, for reference:\nVIRTUAL TABLE ");
	} else {
		buf_put_str(out, "CREATE TABLE ");
	}
	describe_table_name(out, t->ks->name, t->name);
	buf_put_str(out, " (\n");
	bool single = t->n_pk == 1 && t->n_ck == 0;
	if (put_columns(out, t, single, internals && !virt)) {
		out->oom = true;
		return;
	}
	if (!single)
		put_primary_key(out, t);
	buf_put_str(out, ") WITH ");
	if (internals) {
		char id[37];
		uuid_format(t->id, id);
		buf_printf(out, "ID = %s\n    AND ", id);
	}
	if (t->n_ck) {
		buf_put_str(out, "CLUSTERING ORDER BY (");
		for (uint32_t i = 0; i < t->n_ck; i++) {
			const struct schema_column *c = &t->cols[t->n_pk + i];
			if (i)
				buf_put_str(out, ", ");
			cql_name_format(c->name, out);
			buf_put_str(out, c->desc ? " DESC" : " ASC");
		}
		buf_put_str(out, ")\n    AND ");
	}
	if (virt) {
		buf_put_str(out, "comment = ");
		put_quoted(out, t->comment ? t->comment : "");
		buf_put_str(out, ";\n*/");
		return;
	}
	put_options(out, t);
	buf_put_u8(out, ';');
	if (internals)
		put_drops(out, t);
}

void describe_index_cql(struct buf *out, const struct schema_table *t,
                        const struct schema_index *ix)
{
	const struct schema_column *c = schema_table_column(t, ix->column);
	buf_put_str(out, "CREATE INDEX ");
	cql_name_format(ix->name, out);
	buf_put_str(out, " ON ");
	describe_table_name(out, t->ks->name, t->name);
	buf_put_str(out, " (");
	bool plain = ix->kind == SCHEMA_INDEX_VALUE &&
	             !(c && cqltype_is_collection(c->type) && !c->type->frozen);
	if (plain) {
		cql_name_format(ix->column, out);
	} else {
		char target[2 * SCHEMA_NAME_MAX + 16];
		schema_index_target(ix, c, target, sizeof(target));
		buf_put(out, target, (size_t)(strchr(target, '(') - target + 1));
		cql_name_format(ix->column, out);
		buf_put_u8(out, ')');
	}
	buf_put_str(out, ");");
}

void describe_type_cql(struct buf *out, const struct cqltype *ut)
{
	buf_put_str(out, "CREATE TYPE ");
	describe_table_name(out, ut->udt_keyspace, ut->udt_name);
	buf_put_str(out, " (\n");
	for (uint32_t i = 0; i < ut->n_fields; i++) {
		buf_put_str(out, "    ");
		cql_name_format(ut->field_names[i], out);
		buf_put_u8(out, ' ');
		cqltype_name(ut->fields[i], out);
		buf_put_str(out, i + 1 < ut->n_fields ? ",\n" : "\n");
	}
	buf_put_str(out, ");");
}
