#include "coordinator/query/query_int.h"

#include "core/cqltype.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void schema_changed(struct executor *ex, struct exec_req *req, enum exec_change c,
                           enum exec_target t, const char *ks, const char *table)
{
	cql_put_int(&req->body_out, CQL_RESULT_SCHEMA_CHANGE);
	exec_schema_change_encode(&req->body_out, c, t, ks, table);
	if (ex->d.on_schema_event)
		ex->d.on_schema_event(ex->d.event_ctx, c, t, ks, table);
}

static int term_text(const struct cql_term *t, char *out, size_t len)
{
	if (!t || !t->text ||
	    (t->kind != CQL_TERM_STRING && t->kind != CQL_TERM_INTEGER &&
	     t->kind != CQL_TERM_BOOL && t->kind != CQL_TERM_IDENT && t->kind != CQL_TERM_FLOAT))
		return -1;
	if (t->text_len >= len || memchr(t->text, 0, t->text_len))
		return -1; /* too long for an option (names are <= 48 bytes), or a NUL */
	memcpy(out, t->text, t->text_len + 1);
	return 0;
}

static int keyspace_options(struct exec_req *req, const struct cql_keyspace_stmt *k,
                            struct schema_repl_opt *repl, char (*store)[2][64], uint32_t *n_repl,
                            bool *durable, bool *have_repl)
{
	*n_repl = 0;
	*have_repl = false;
	for (uint32_t i = 0; i < k->n_options; i++) {
		const struct cql_option *o = &k->options[i];
		if (strcmp(o->name.name, "replication") == 0) {
			if (!o->value || o->value->kind != CQL_TERM_MAP)
				return req_fail(
				        req, CQL_ERR_SYNTAX,
				        "Invalid value for property 'replication': a map is "
				        "expected");
			if (o->value->map.n_entries > 32)
				return req_fail(req, CQL_ERR_CONFIG,
				                "too many replication options");
			for (uint32_t j = 0; j < o->value->map.n_entries; j++) {
				if (term_text(o->value->map.keys[j], store[j][0], 64) ||
				    term_text(o->value->map.values[j], store[j][1], 64))
					return req_fail(
					        req, CQL_ERR_CONFIG,
					        "Invalid replication option: keys and values must "
					        "be strings or numbers of at most 63 bytes");
				repl[j].key = store[j][0];
				repl[j].val = store[j][1];
			}
			*n_repl = o->value->map.n_entries;
			*have_repl = true;
		} else if (strcmp(o->name.name, "durable_writes") == 0) {
			char v[16];
			if (term_text(o->value, v, sizeof(v)) ||
			    (strcasecmp(v, "true") != 0 && strcasecmp(v, "false") != 0))
				return req_fail(
				        req, CQL_ERR_SYNTAX,
				        "Invalid boolean value for property 'durable_writes'");
			*durable = strcasecmp(v, "true") == 0;
		} else {
			return req_fail(req, CQL_ERR_SYNTAX, "Unknown property '%s'", o->name.name);
		}
	}
	return 0;
}

int exec_keyspace_ddl(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                      int64_t ts)
{
	const struct cql_keyspace_stmt *k = &st->keyspace;
	const char *name = k->keyspace.name;
	struct cerr e = {0};
	const struct schema_snap *snap = schema_current(ex->d.schema);
	if (st->kind == CQL_STMT_DROP_KEYSPACE) {
		if (!schema_snap_keyspace(snap, name) && k->if_exists) {
			cql_put_int(&req->body_out, CQL_RESULT_VOID);
			return 0;
		}
		int rc = schema_drop_keyspace(ex->d.schema, name, ts, &e);
		if (rc == COL_ENOTFOUND)
			return req_fail(req, CQL_ERR_CONFIG,
			                "Cannot drop non existing keyspace '%s'.", name);
		if (rc)
			return req_fail_cerr(req, rc, &e);
		if (strcmp(req->session->keyspace, name) == 0)
			req->session->keyspace[0] = 0;
		schema_changed(ex, req, EXEC_CHANGE_DROPPED, EXEC_TARGET_KEYSPACE, name, NULL);
		return 0;
	}
	struct schema_repl_opt repl[32];
	char store[32][2][64];
	uint32_t n_repl;
	bool durable = true, have_repl;
	const struct schema_keyspace *old = schema_snap_keyspace(snap, name);
	if (st->kind == CQL_STMT_ALTER_KEYSPACE && old)
		durable = old->durable_writes;
	if (keyspace_options(req, k, repl, store, &n_repl, &durable, &have_repl))
		return -1;
	struct schema_keyspace_def def = {name, durable, repl, n_repl};
	struct schema_repl_opt old_repl[64];
	if (st->kind == CQL_STMT_CREATE_KEYSPACE) {
		if (old && k->if_not_exists) {
			cql_put_int(&req->body_out, CQL_RESULT_VOID);
			return 0;
		}
		if (!have_repl)
			return req_fail(req, CQL_ERR_CONFIG,
			                "Missing mandatory replication strategy class");
		int rc = schema_create_keyspace(ex->d.schema, &def, ts, &e);
		if (rc == COL_EEXIST) {
			req_fail(req, CQL_ERR_ALREADY_EXISTS, "Keyspace %s already exists", name);
			snprintf(req->error.ks, sizeof(req->error.ks), "%s", name);
			return -1;
		}
		if (rc)
			return req_fail_cerr(req, rc, &e);
		schema_changed(ex, req, EXEC_CHANGE_CREATED, EXEC_TARGET_KEYSPACE, name, NULL);
		return 0;
	}
	if (!old) {
		if (k->if_exists) {
			cql_put_int(&req->body_out, CQL_RESULT_VOID);
			return 0;
		}
		return req_fail(req, CQL_ERR_INVALID, "Keyspace '%s' does not exist", name);
	}
	if (!have_repl) {
		for (uint32_t i = 0; i < old->n_repl && i < 64; i++)
			old_repl[i] =
			        (struct schema_repl_opt){old->repl_keys[i], old->repl_vals[i]};
		def.repl = old_repl;
		def.n_repl = old->n_repl < 64 ? old->n_repl : 64;
	}
	int rc = schema_alter_keyspace(ex->d.schema, &def, ts, &e);
	if (rc)
		return req_fail_cerr(req, rc, &e);
	schema_changed(ex, req, EXEC_CHANGE_UPDATED, EXEC_TARGET_KEYSPACE, name, NULL);
	return 0;
}

/* Table options we store, and the Cassandra ones we accept and ignore. */
static const char *const ignored_table_options[] = {"bloom_filter_fp_chance",
                                                    "caching",
                                                    "cdc",
                                                    "compaction",
                                                    "compression",
                                                    "crc_check_chance",
                                                    "dclocal_read_repair_chance",
                                                    "max_index_interval",
                                                    "memtable_flush_period_in_ms",
                                                    "min_index_interval",
                                                    "read_repair_chance",
                                                    "speculative_retry",
                                                    "additional_write_policy",
                                                    "extensions",
                                                    "read_repair",
                                                    NULL};

static int table_options(struct exec_req *req, const struct cql_option *opts, uint32_t n,
                         int32_t *gc, int32_t *ttl, const char **comment)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct cql_option *o = &opts[i];
		const char *nm = o->name.name;
		char v[64];
		if (strcmp(nm, "gc_grace_seconds") == 0 ||
		    strcmp(nm, "default_time_to_live") == 0) {
			if (!o->value || o->value->kind != CQL_TERM_INTEGER ||
			    !o->value->integer.fits || o->value->integer.value < 0 ||
			    o->value->integer.value > INT32_MAX)
				return req_fail(
				        req, CQL_ERR_CONFIG,
				        "Invalid value for property '%s': a non-negative integer "
				        "is expected",
				        nm);
			if (nm[0] == 'g')
				*gc = (int32_t)o->value->integer.value;
			else {
				if (o->value->integer.value > STORE_MAX_TTL)
					return req_fail(
					        req, CQL_ERR_CONFIG,
					        "default_time_to_live must be less than or equal "
					        "to %d (got %" PRId64 ")",
					        STORE_MAX_TTL, o->value->integer.value);
				*ttl = (int32_t)o->value->integer.value;
			}
			continue;
		}
		if (strcmp(nm, "comment") == 0) {
			if (!o->value || o->value->kind != CQL_TERM_STRING)
				return req_fail(req, CQL_ERR_SYNTAX,
				                "Invalid value for property 'comment'");
			if (memchr(o->value->text, 0, o->value->text_len))
				return req_fail(req, CQL_ERR_SYNTAX,
				                "Invalid value for property 'comment'");
			*comment = o->value->text; /* lives in the statement's arena */
			continue;
		}
		bool known = false;
		for (int k = 0; ignored_table_options[k]; k++)
			if (strcmp(nm, ignored_table_options[k]) == 0)
				known = true;
		(void)v;
		if (!known)
			return req_fail(req, CQL_ERR_SYNTAX, "Unknown property '%s'", nm);
	}
	return 0;
}

static int column_type(struct exec_req *req, const struct cql_column_def *cd,
                       const struct cqltype **out)
{
	struct cerr e = {0};
	int rc = cqltype_parse(cd->type->text, strlen(cd->type->text), out, &e);
	if (rc)
		return req_fail(req, CQL_ERR_INVALID, "Invalid type for column %s: %s",
		                cd->name.name, e.msg);
	if ((*out)->kind == CQLTYPE_COUNTER) {
		cqltype_free(*out);
		return req_fail(req, CQL_ERR_INVALID,
		                "counter columns are not supported (column %s)", cd->name.name);
	}
	return 0;
}

int exec_create_table(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                      int64_t ts)
{
	const struct cql_create_table *ct = &st->create_table;
	const char *ks = qname_ks(&ct->table, req->session);
	if (!ks)
		return req_fail(
		        req, CQL_ERR_INVALID,
		        "No keyspace has been specified. USE a keyspace, or explicitly specify "
		        "keyspace.tablename");
	const char *name = ct->table.name.name;
	const struct schema_snap *snap = schema_current(ex->d.schema);
	const struct schema_keyspace *k = schema_snap_keyspace(snap, ks);
	if (!k)
		return req_fail(req, CQL_ERR_INVALID, "Keyspace '%s' does not exist", ks);
	if (schema_keyspace_table(k, name)) {
		if (ct->if_not_exists) {
			cql_put_int(&req->body_out, CQL_RESULT_VOID);
			return 0;
		}
		req_fail(req, CQL_ERR_ALREADY_EXISTS, "Table %s.%s already exists", ks, name);
		snprintf(req->error.ks, sizeof(req->error.ks), "%s", ks);
		snprintf(req->error.table, sizeof(req->error.table), "%s", name);
		return -1;
	}
	if (ct->compact_storage)
		return req_fail(req, CQL_ERR_INVALID, "COMPACT STORAGE tables are not supported");
	if (ct->n_partition_key > STORE_MAX_PK_COLS || ct->n_clustering_key > STORE_MAX_CK_COLS)
		return req_fail(req, CQL_ERR_INVALID, "too many primary key columns");
	struct schema_column_def *cols = calloc(ct->n_columns ? ct->n_columns : 1, sizeof(*cols));
	if (!cols)
		return req_fail(req, CQL_ERR_SERVER, "out of memory");
	int rc = 0;
	uint32_t built = 0;
	for (uint32_t i = 0; i < ct->n_columns && !rc; i++) {
		const struct cql_column_def *cd = &ct->columns[i];
		cols[i].name = cd->name.name;
		cols[i].kind = cd->is_static ? SCHEMA_COL_STATIC : SCHEMA_COL_REGULAR;
		cols[i].position = -1;
		rc = column_type(req, cd, &cols[i].type);
		if (!rc)
			built++;
	}
	for (uint32_t i = 0; i < ct->n_partition_key && !rc; i++) {
		uint32_t j = 0;
		while (j < ct->n_columns && strcmp(cols[j].name, ct->partition_key[i].name) != 0)
			j++;
		if (j == ct->n_columns) {
			rc = req_fail(req, CQL_ERR_INVALID,
			              "Unknown definition %s referenced in PRIMARY KEY",
			              ct->partition_key[i].name);
			break;
		}
		cols[j].kind = SCHEMA_COL_PARTITION_KEY;
		cols[j].position = (int)i;
	}
	for (uint32_t i = 0; i < ct->n_clustering_key && !rc; i++) {
		uint32_t j = 0;
		while (j < ct->n_columns && strcmp(cols[j].name, ct->clustering_key[i].name) != 0)
			j++;
		if (j == ct->n_columns) {
			rc = req_fail(req, CQL_ERR_INVALID,
			              "Unknown definition %s referenced in PRIMARY KEY",
			              ct->clustering_key[i].name);
			break;
		}
		if (cols[j].kind == SCHEMA_COL_PARTITION_KEY) {
			rc = req_fail(req, CQL_ERR_INVALID,
			              "Column %s appears twice in PRIMARY KEY", cols[j].name);
			break;
		}
		cols[j].kind = SCHEMA_COL_CLUSTERING;
		cols[j].position = (int)i;
	}
	for (uint32_t i = 0; i < ct->n_columns && !rc; i++) {
		bool key = cols[i].kind == SCHEMA_COL_PARTITION_KEY ||
		           cols[i].kind == SCHEMA_COL_CLUSTERING;
		if (key && ct->columns[i].is_static)
			rc = req_fail(req, CQL_ERR_INVALID,
			              "Static column %s cannot be part of the PRIMARY KEY",
			              cols[i].name);
		else if (key && cqltype_is_collection(cols[i].type) && !cols[i].type->frozen)
			rc = req_fail(
			        req, CQL_ERR_INVALID,
			        "Invalid non-frozen collection type for PRIMARY KEY component %s",
			        cols[i].name);
		else if (cols[i].kind == SCHEMA_COL_STATIC && ct->n_clustering_key == 0)
			rc = req_fail(
			        req, CQL_ERR_INVALID,
			        "Static columns are only useful (and thus allowed) if the table "
			        "has "
			        "at least one clustering column");
	}
	for (uint32_t i = 0; i < ct->n_clustering_order && !rc; i++) {
		uint32_t j = 0;
		while (j < ct->n_columns &&
		       strcmp(cols[j].name, ct->clustering_order[i].column.name) != 0)
			j++;
		if (j == ct->n_columns || cols[j].kind != SCHEMA_COL_CLUSTERING)
			rc = req_fail(
			        req, CQL_ERR_INVALID,
			        "Only clustering key columns can be defined in CLUSTERING ORDER "
			        "directive (%s)",
			        ct->clustering_order[i].column.name);
		else if (cols[j].position != (int)i)
			rc = req_fail(
			        req, CQL_ERR_INVALID,
			        "The order of columns in the CLUSTERING ORDER directive must be "
			        "the "
			        "one of the clustering key (%s must appear before %s)",
			        ct->clustering_key[i].name, cols[j].name);
		else
			cols[j].desc = ct->clustering_order[i].desc;
	}
	int32_t gc = -1, ttl = -1;
	const char *comment = NULL;
	if (!rc)
		rc = table_options(req, ct->options, ct->n_options, &gc, &ttl, &comment);
	if (!rc) {
		struct schema_table_def def = {ks, name, cols, ct->n_columns, gc, ttl, comment};
		struct cerr e = {0};
		int r2 = schema_create_table(ex->d.schema, &def, ts, &e);
		if (r2)
			rc = req_fail_cerr(req, r2, &e);
	}
	for (uint32_t i = 0; i < built; i++)
		cqltype_free(cols[i].type);
	free(cols);
	if (rc)
		return -1;
	schema_changed(ex, req, EXEC_CHANGE_CREATED, EXEC_TARGET_TABLE, ks, name);
	return 0;
}

int exec_alter_table(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                     int64_t ts)
{
	const struct cql_alter_table *at = &st->alter_table;
	struct plan tmp = {0};
	const struct schema_snap *snap = schema_current(ex->d.schema);
	if (resolve_table(req, snap, &at->table, &tmp)) {
		if (at->if_exists) {
			req->failed = false;
			cql_put_int(&req->body_out, CQL_RESULT_VOID);
			return 0;
		}
		return -1;
	}
	if (tmp.table->virtual_)
		return req_fail(req, CQL_ERR_INVALID, "%s keyspace is not user-modifiable.",
		                tmp.ks);
	struct cerr e = {0};
	int rc = 0;
	switch (at->kind) {
	case CQL_ALTER_ADD: {
		struct schema_column_def *cols = calloc(at->n_add ? at->n_add : 1, sizeof(*cols));
		if (!cols)
			return req_fail(req, CQL_ERR_SERVER, "out of memory");
		uint32_t built = 0;
		for (uint32_t i = 0; i < at->n_add && !rc; i++) {
			cols[i].name = at->add[i].name.name;
			cols[i].kind =
			        at->add[i].is_static ? SCHEMA_COL_STATIC : SCHEMA_COL_REGULAR;
			cols[i].position = -1;
			rc = column_type(req, &at->add[i], &cols[i].type);
			if (!rc)
				built++;
		}
		if (!rc) {
			int r2 = schema_alter_table_add(ex->d.schema, tmp.ks, tmp.table_name, cols,
			                                at->n_add, ts, &e);
			if (r2)
				rc = req_fail_cerr(req, r2, &e);
		}
		for (uint32_t i = 0; i < built; i++)
			cqltype_free(cols[i].type);
		free(cols);
		break;
	}
	case CQL_ALTER_DROP: {
		const char **names = calloc(at->n_drop ? at->n_drop : 1, sizeof(*names));
		if (!names)
			return req_fail(req, CQL_ERR_SERVER, "out of memory");
		for (uint32_t i = 0; i < at->n_drop; i++)
			names[i] = at->drop[i].name;
		int r2 = schema_alter_table_drop(ex->d.schema, tmp.ks, tmp.table_name, names,
		                                 at->n_drop, ts, &e);
		free(names);
		if (r2)
			rc = req_fail_cerr(req, r2, &e);
		break;
	}
	case CQL_ALTER_WITH: {
		int32_t gc = -1, ttl = -1;
		const char *comment = NULL;
		rc = table_options(req, at->options, at->n_options, &gc, &ttl, &comment);
		if (!rc) {
			int r2 = schema_alter_table_options(ex->d.schema, tmp.ks, tmp.table_name,
			                                    gc, ttl, comment, ts, &e);
			if (r2)
				rc = req_fail_cerr(req, r2, &e);
		}
		break;
	}
	default:
		return req_fail(req, CQL_ERR_INVALID,
		                "ALTER TABLE ... RENAME and ALTER ... TYPE are not supported");
	}
	if (rc)
		return -1;
	schema_changed(ex, req, EXEC_CHANGE_UPDATED, EXEC_TARGET_TABLE, tmp.ks, tmp.table_name);
	return 0;
}

int exec_drop_table(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                    int64_t ts)
{
	const struct cql_drop_table *dt = &st->drop_table;
	struct plan tmp = {0};
	if (resolve_table(req, schema_current(ex->d.schema), &dt->table, &tmp)) {
		if (dt->if_exists && req->error.code == CQL_ERR_INVALID) {
			req->failed = false;
			cql_put_int(&req->body_out, CQL_RESULT_VOID);
			return 0;
		}
		return -1;
	}
	if (tmp.table->virtual_)
		return req_fail(req, CQL_ERR_INVALID, "%s keyspace is not user-modifiable.",
		                tmp.ks);
	struct cerr e = {0};
	int rc = schema_drop_table(ex->d.schema, tmp.ks, tmp.table_name, ts, &e);
	if (rc)
		return req_fail_cerr(req, rc, &e);
	schema_changed(ex, req, EXEC_CHANGE_DROPPED, EXEC_TARGET_TABLE, tmp.ks, tmp.table_name);
	return 0;
}

int exec_truncate(struct executor *ex, struct exec_req *req, const struct cql_stmt *st)
{
	struct plan tmp = {0};
	if (resolve_table(req, schema_current(ex->d.schema), &st->truncate.table, &tmp))
		return -1;
	if (tmp.table->virtual_)
		return req_fail(req, CQL_ERR_INVALID, "%s keyspace is not user-modifiable.",
		                tmp.ks);
	struct cerr e = {0};
	int rc = store_table_truncate(tmp.table->st, &e);
	if (rc)
		return req_fail(req, CQL_ERR_TRUNCATE, "Error during truncate: %s", e.msg);
	cql_put_int(&req->body_out, CQL_RESULT_VOID);
	return 0;
}

int exec_use(struct executor *ex, struct exec_req *req, const struct cql_stmt *st)
{
	const char *ks = st->use.keyspace.name;
	if (!schema_snap_keyspace(schema_current(ex->d.schema), ks))
		return req_fail(req, CQL_ERR_INVALID, "Keyspace '%s' does not exist", ks);
	snprintf(req->session->keyspace, sizeof(req->session->keyspace), "%s", ks);
	cql_put_int(&req->body_out, CQL_RESULT_SET_KEYSPACE);
	cql_put_string(&req->body_out, ks);
	return 0;
}
