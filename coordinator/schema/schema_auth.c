/*
 * schema_auth.c — the system_auth keyspace (schema.h, schema_ensure_system_auth):
 * Cassandra's tables, made identically on every node.
 *
 *   roles            (role text PRIMARY KEY, can_login boolean, is_superuser boolean,
 *                     member_of set<text>, salted_hash text)
 *   role_members     (role text, member text, PRIMARY KEY (role, member))
 *   role_permissions (role text, resource text, permissions set<text>,
 *                     PRIMARY KEY (role, resource))
 */
#include "coordinator/schema/schema_int.h"

#include "core/buf.h"
#include "core/cqltype.h"

#include <stdio.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#define AUTH_KS "system_auth"

struct col_text {
	const char *name, *type;
	enum schema_col_kind kind;
	int position;
};

struct table_text {
	const char *name;
	struct col_text cols[5];
	uint32_t n;
};

static const struct table_text tables[] = {
        {"roles",
         {{"role", "text", SCHEMA_COL_PARTITION_KEY, 0},
          {"can_login", "boolean", SCHEMA_COL_REGULAR, -1},
          {"is_superuser", "boolean", SCHEMA_COL_REGULAR, -1},
          {"member_of", "set<text>", SCHEMA_COL_REGULAR, -1},
          {"salted_hash", "text", SCHEMA_COL_REGULAR, -1}},
         5},
        {"role_members",
         {{"role", "text", SCHEMA_COL_PARTITION_KEY, 0},
          {"member", "text", SCHEMA_COL_CLUSTERING, 0}},
         2},
        {"role_permissions",
         {{"role", "text", SCHEMA_COL_PARTITION_KEY, 0},
          {"resource", "text", SCHEMA_COL_CLUSTERING, 0},
          {"permissions", "set<text>", SCHEMA_COL_REGULAR, -1}},
         3},
};

/* A name-based id (version 3 nibble): the same on every node. */
static void fixed_id(const char *table, uint8_t id[16])
{
	char name[64];
	int n = snprintf(name, sizeof(name), "%s.%s", AUTH_KS, table);
	XXH128_hash_t h = XXH3_128bits(name, (size_t)n);
	be64_store(id, h.high64);
	be64_store(id + 8, h.low64);
	id[6] = (uint8_t)((id[6] & 0x0f) | 0x30);
	id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
}

static int make_table(struct schema *s, const struct table_text *tt, struct cerr *err)
{
	struct schema_column_def cols[5];
	const struct cqltype *types[5] = {0};
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
		fixed_id(tt->name, id);
		struct schema_table_def def = {.ks = AUTH_KS,
		                               .name = tt->name,
		                               .cols = cols,
		                               .n_cols = tt->n,
		                               .gc_grace_seconds =
		                                       7776000, /* Cassandra's: 90 days */
		                               .default_time_to_live = -1,
		                               .comment = NULL};
		rc = schema_create_table_id(s, &def, id, 0, err);
	}
	for (uint32_t i = 0; i < tt->n; i++)
		cqltype_free(types[i]);
	return rc;
}

int schema_ensure_system_auth(struct schema *s, const char *dc, struct cerr *err)
{
	const struct schema_snap *snap = schema_current(s);
	const struct schema_keyspace *k = schema_snap_keyspace(snap, AUTH_KS);
	if (!k) {
		struct schema_repl_opt repl[2] = {
		        {"class", "org.apache.cassandra.locator.NetworkTopologyStrategy"},
		        {dc, "3"},
		};
		struct schema_keyspace_def def = {
		        .name = AUTH_KS, .durable_writes = true, .repl = repl, .n_repl = 2};
		int rc = schema_check_replication(repl, 2, err);
		if (!rc)
			rc = schema_write_keyspace(s, &def, 0, err);
		if (rc)
			return rc;
		k = schema_snap_keyspace(schema_current(s), AUTH_KS);
		if (!k)
			return cerr_set(err, COL_EIO,
			                "system_auth was written but is not in the schema");
	}
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		if (schema_keyspace_table(k, tables[i].name))
			continue;
		int rc = make_table(s, &tables[i], err);
		if (rc)
			return rc;
		k = schema_snap_keyspace(schema_current(s), AUTH_KS);
	}
	return 0;
}
