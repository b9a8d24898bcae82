/*
 * schema_auth.c — the replicated system keyspaces (schema.h): system_auth
 * (schema_ensure_system_auth) and system_traces (schema_ensure_system_traces),
 * Cassandra's tables, made identically on every node.
 *
 *   roles            (role text PRIMARY KEY, can_login boolean, is_superuser boolean,
 *                     member_of set<text>, salted_hash text)
 *   role_members     (role text, member text, PRIMARY KEY (role, member))
 *   role_permissions (role text, resource text, permissions set<text>,
 *                     PRIMARY KEY (role, resource))
 *
 *   system_traces (Cassandra 4.0's TraceKeyspace; gc_grace_seconds 0, rows written with TTL):
 *   sessions (session_id uuid PRIMARY KEY, command text, client inet, coordinator inet,
 *             coordinator_port int, duration int, parameters map<text, text>,
 *             request text, started_at timestamp)
 *   events   (session_id uuid, event_id timeuuid, activity text, source inet,
 *             source_port int, source_elapsed int, thread text,
 *             PRIMARY KEY ((session_id), event_id))
 */
#include "coordinator/schema/schema_int.h"

#include "core/buf.h"
#include "core/cqltype.h"

#include <stdio.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#define AUTH_KS   "system_auth"
#define TRACES_KS "system_traces"
#define MAX_COLS  9

struct col_text {
	const char *name, *type;
	enum schema_col_kind kind;
	int position;
};

struct table_text {
	const char *name;
	struct col_text cols[MAX_COLS];
	uint32_t n;
	int gc_grace_seconds;
	const char *comment;
};

static const struct table_text tables[] = {
        {"roles",
         {{"role", "text", SCHEMA_COL_PARTITION_KEY, 0},
          {"can_login", "boolean", SCHEMA_COL_REGULAR, -1},
          {"is_superuser", "boolean", SCHEMA_COL_REGULAR, -1},
          {"member_of", "set<text>", SCHEMA_COL_REGULAR, -1},
          {"salted_hash", "text", SCHEMA_COL_REGULAR, -1}},
         5,
         7776000, /* Cassandra's: 90 days */
         NULL},
        {"role_members",
         {{"role", "text", SCHEMA_COL_PARTITION_KEY, 0},
          {"member", "text", SCHEMA_COL_CLUSTERING, 0}},
         2,
         7776000,
         NULL},
        {"role_permissions",
         {{"role", "text", SCHEMA_COL_PARTITION_KEY, 0},
          {"resource", "text", SCHEMA_COL_CLUSTERING, 0},
          {"permissions", "set<text>", SCHEMA_COL_REGULAR, -1}},
         3,
         7776000,
         NULL},
};

static const struct table_text trace_tables[] = {
        {"sessions",
         {{"session_id", "uuid", SCHEMA_COL_PARTITION_KEY, 0},
          {"client", "inet", SCHEMA_COL_REGULAR, -1},
          {"command", "text", SCHEMA_COL_REGULAR, -1},
          {"coordinator", "inet", SCHEMA_COL_REGULAR, -1},
          {"coordinator_port", "int", SCHEMA_COL_REGULAR, -1},
          {"duration", "int", SCHEMA_COL_REGULAR, -1},
          {"parameters", "map<text, text>", SCHEMA_COL_REGULAR, -1},
          {"request", "text", SCHEMA_COL_REGULAR, -1},
          {"started_at", "timestamp", SCHEMA_COL_REGULAR, -1}},
         9,
         0,
         "tracing sessions"},
        {"events",
         {{"session_id", "uuid", SCHEMA_COL_PARTITION_KEY, 0},
          {"event_id", "timeuuid", SCHEMA_COL_CLUSTERING, 0},
          {"activity", "text", SCHEMA_COL_REGULAR, -1},
          {"source", "inet", SCHEMA_COL_REGULAR, -1},
          {"source_elapsed", "int", SCHEMA_COL_REGULAR, -1},
          {"source_port", "int", SCHEMA_COL_REGULAR, -1},
          {"thread", "text", SCHEMA_COL_REGULAR, -1}},
         7,
         0,
         "tracing events"},
};

/* A name-based id (version 3 nibble): the same on every node. */
static void fixed_id(const char *ks, const char *table, uint8_t id[16])
{
	char name[64];
	int n = snprintf(name, sizeof(name), "%s.%s", ks, table);
	XXH128_hash_t h = XXH3_128bits(name, (size_t)n);
	be64_store(id, h.high64);
	be64_store(id + 8, h.low64);
	id[6] = (uint8_t)((id[6] & 0x0f) | 0x30);
	id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
}

static int make_table(struct schema *s, const char *ks, const struct table_text *tt,
                      struct cerr *err)
{
	struct schema_column_def cols[MAX_COLS];
	const struct cqltype *types[MAX_COLS] = {0};
	int rc = 0;
	for (uint32_t i = 0; i < tt->n && !rc; i++) {
		rc = cqltype_parse(tt->cols[i].type, strlen(tt->cols[i].type), &types[i], err);
		cols[i] = (struct schema_column_def){.name = tt->cols[i].name,
		                                     .type = types[i],
		                                     .kind = tt->cols[i].kind,
		                                     .position = tt->cols[i].position};
	}
	if (!rc) {
		uint8_t id[16];
		fixed_id(ks, tt->name, id);
		struct schema_table_def def = {.ks = ks,
		                               .name = tt->name,
		                               .cols = cols,
		                               .n_cols = tt->n,
		                               .gc_grace_seconds = tt->gc_grace_seconds,
		                               .default_time_to_live = -1,
		                               .comment = tt->comment};
		rc = schema_create_table_id(s, &def, id, 0, err);
	}
	for (uint32_t i = 0; i < tt->n; i++)
		cqltype_free(types[i]);
	return rc;
}

/* Make keyspace ks (replication repl) and its tables tt[0..n) where missing. */
static int ensure_keyspace(struct schema *s, const char *ks, const struct schema_repl_opt *repl,
                           uint32_t n_repl, const struct table_text *tt, size_t n, struct cerr *err)
{
	const struct schema_snap *snap = schema_current(s);
	const struct schema_keyspace *k = schema_snap_keyspace(snap, ks);
	if (!k) {
		struct schema_keyspace_def def = {
		        .name = ks, .durable_writes = true, .repl = repl, .n_repl = n_repl};
		int rc = schema_check_replication(repl, n_repl, err);
		if (!rc)
			rc = schema_write_keyspace(s, &def, 0, err);
		if (rc)
			return rc;
		k = schema_snap_keyspace(schema_current(s), ks);
		if (!k)
			return cerr_set(err, COL_EIO, "%s was written but is not in the schema",
			                ks);
	}
	for (size_t i = 0; i < n; i++) {
		if (schema_keyspace_table(k, tt[i].name))
			continue;
		int rc = make_table(s, ks, &tt[i], err);
		if (rc)
			return rc;
		k = schema_snap_keyspace(schema_current(s), ks);
	}
	return 0;
}

int schema_ensure_system_auth(struct schema *s, const char *dc, struct cerr *err)
{
	struct schema_repl_opt repl[2] = {
	        {"class", "org.apache.cassandra.locator.NetworkTopologyStrategy"},
	        {dc, "3"},
	};
	return ensure_keyspace(s, AUTH_KS, repl, 2, tables, sizeof(tables) / sizeof(tables[0]),
	                       err);
}

int schema_ensure_system_traces(struct schema *s, struct cerr *err)
{
	struct schema_repl_opt repl[2] = {
	        {"class", "org.apache.cassandra.locator.SimpleStrategy"},
	        {"replication_factor", "2"},
	};
	return ensure_keyspace(s, TRACES_KS, repl, 2, trace_tables,
	                       sizeof(trace_tables) / sizeof(trace_tables[0]), err);
}
