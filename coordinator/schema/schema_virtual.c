/*
 * schema_virtual.c — the system keyspaces drivers and cqlsh read (system,
 * system_schema): their tables and columns, built once per schema and shared
 * by every snapshot.  Definitions only: the rows are produced from live state
 * by query/systables.h, and nothing here is ever persisted.
 */
#include "coordinator/schema/schema_int.h"

#include "core/buf.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#define MOD "schema"

/*
 * The tables drivers and cqlsh read, with Cassandra 4.0's columns
 * (SystemKeyspace.java, SchemaKeyspace.java, VirtualSchemaKeyspace.java).  Each
 * column: "name type [pk|ck]"; comment as Cassandra's (system_virtual_schema shows it).
 */
struct vt_def {
	const char *ks, *name, *cols, *comment;
};
static const struct vt_def vt_defs[] = {
        {"system", "local",
         "key text pk;bootstrapped text;broadcast_address inet;broadcast_port int;"
         "cluster_name text;cql_version text;data_center text;gossip_generation int;"
         "host_id uuid;listen_address inet;listen_port int;native_protocol_version text;"
         "partitioner text;rack text;release_version text;rpc_address inet;rpc_port int;"
         "schema_version uuid;tokens set<text>"},
        {"system", "peers",
         "peer inet pk;data_center text;host_id uuid;preferred_ip inet;rack text;"
         "release_version text;rpc_address inet;schema_version uuid;tokens set<text>"},
        {"system", "peers_v2",
         "peer inet pk;peer_port int ck;data_center text;host_id uuid;native_address inet;"
         "native_port int;preferred_ip inet;preferred_port int;rack text;release_version text;"
         "schema_version uuid;tokens set<text>"},
        {"system", "IndexInfo", "table_name text pk;index_name text ck;value blob"},
        {"system", "repair_history",
         "keyspace_name text pk;table_name text ck;finished_at timestamp ck;range_start text ck;"
         "bytes_streamed bigint;leaves_differing bigint;outcome text;range_end text;"
         "started_at timestamp"},
        {"system_schema", "keyspaces",
         "keyspace_name text pk;durable_writes boolean;replication frozen<map<text, text>>"},
        {"system_schema", "tables",
         "keyspace_name text pk;table_name text ck;bloom_filter_fp_chance double;"
         "caching frozen<map<text, text>>;cdc boolean;comment text;"
         "compaction frozen<map<text, text>>;compression frozen<map<text, text>>;"
         "crc_check_chance double;default_time_to_live int;"
         "extensions frozen<map<text, blob>>;flags frozen<set<text>>;gc_grace_seconds int;"
         "id uuid;max_index_interval int;memtable_flush_period_in_ms int;"
         "min_index_interval int;read_repair text;speculative_retry text;"
         "additional_write_policy text"},
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
         "crc_check_chance double;default_time_to_live int;"
         "extensions frozen<map<text, blob>>;gc_grace_seconds int;id uuid;"
         "include_all_columns boolean;max_index_interval int;memtable_flush_period_in_ms int;"
         "min_index_interval int;read_repair text;speculative_retry text;"
         "where_clause text;additional_write_policy text"},
        {"system_virtual_schema", "keyspaces", "keyspace_name text pk",
         "virtual keyspace definitions"},
        {"system_virtual_schema", "tables", "keyspace_name text pk;table_name text ck;comment text",
         "virtual table definitions"},
        {"system_virtual_schema", "columns",
         "keyspace_name text pk;table_name text ck;column_name text ck;clustering_order text;"
         "column_name_bytes blob;kind text;position int;type text",
         "virtual column definitions"},
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
	t->comment = strdup(d->comment ? d->comment : "");
	/* A stable id: the hash of the name, so it is the same on every node. */
	char full[128];
	snprintf(full, sizeof(full), "%s.%s", d->ks, d->name);
	XXH128_hash_t h = XXH3_128bits(full, strlen(full));
	schema_hash_uuid(h.high64, h.low64, t->id);
	size_t n = 1;
	for (const char *p = d->cols; *p; p++)
		n += *p == ';';
	t->cols = calloc(n, sizeof(*t->cols));
	if (!t->name || !t->comment || !t->cols) {
		schema_table_free(t);
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
			schema_table_free(t);
			return NULL;
		}
		t->n_cols++;
		p = e ? e + 1 : p + len;
	}
	schema_table_sort_columns(t);
	return t;
}

int schema_table_name_cmp(const void *a, const void *b)
{
	return strcmp((*(struct schema_table *const *)a)->name,
	              (*(struct schema_table *const *)b)->name);
}

int schema_ks_name_cmp(const void *a, const void *b)
{
	return strcmp((*(struct schema_keyspace *const *)a)->name,
	              (*(struct schema_keyspace *const *)b)->name);
}

struct schema_keyspace *schema_virtual_keyspace_new(const char *name)
{
	struct schema_keyspace *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->name = strdup(name);
	k->durable_writes = true;
	k->virtual_ = true;
	k->in_virtual_schema = strcmp(name, "system_virtual_schema") == 0;
	k->replication_factor = 1;
	k->repl_keys = calloc(1, sizeof(char *));
	k->repl_vals = calloc(1, sizeof(char *));
	if (!k->name || !k->repl_keys || !k->repl_vals) {
		schema_keyspace_free(k);
		return NULL;
	}
	k->repl_keys[0] = strdup("class");
	k->repl_vals[0] = strdup("org.apache.cassandra.locator.LocalStrategy");
	k->n_repl = 1;
	k->tables = calloc(sizeof(vt_defs) / sizeof(vt_defs[0]), sizeof(*k->tables));
	if (!k->tables || !k->repl_keys[0] || !k->repl_vals[0]) {
		schema_keyspace_free(k);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(vt_defs) / sizeof(vt_defs[0]); i++) {
		if (strcmp(vt_defs[i].ks, name) != 0)
			continue;
		struct schema_table *t = vt_build(k, &vt_defs[i]);
		if (!t) {
			schema_keyspace_free(k);
			return NULL;
		}
		k->tables[k->n_tables++] = t;
	}
	qsort(k->tables, k->n_tables, sizeof(*k->tables), schema_table_name_cmp);
	return k;
}
