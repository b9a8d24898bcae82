#include "coordinator/query/query_int.h"

#include "coordinator/query/tableopts.h"
#include "core/cqltype.h"
#include "core/log.h"

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

/* Copy the text of an option value (string, number, boolean, name) to out;
 * false if it is another kind of term, longer than len - 1 or holds a NUL. */
static bool term_text(const struct cql_term *t, char *out, size_t len)
{
	if (!t || !t->text ||
	    (t->kind != CQL_TERM_STRING && t->kind != CQL_TERM_INTEGER &&
	     t->kind != CQL_TERM_BOOL && t->kind != CQL_TERM_IDENT && t->kind != CQL_TERM_FLOAT))
		return false;
	if (t->text_len >= len || memchr(t->text, 0, t->text_len))
		return false; /* too long for an option (names are <= 48 bytes), or a NUL */
	memcpy(out, t->text, t->text_len + 1);
	return true;
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
				        req, COL_ESYNTAX,
				        "Invalid value for property 'replication': a map is "
				        "expected");
			if (o->value->map.n_entries > 32)
				return req_fail(req, COL_ECONFIG, "too many replication options");
			for (uint32_t j = 0; j < o->value->map.n_entries; j++) {
				if (!term_text(o->value->map.keys[j], store[j][0], 64) ||
				    !term_text(o->value->map.values[j], store[j][1], 64))
					return req_fail(
					        req, COL_ECONFIG,
					        "Invalid replication option: keys and values must "
					        "be strings or numbers of at most 63 bytes");
				repl[j].key = store[j][0];
				repl[j].val = store[j][1];
			}
			*n_repl = o->value->map.n_entries;
			*have_repl = true;
		} else if (strcmp(o->name.name, "durable_writes") == 0) {
			char v[16];
			if (!term_text(o->value, v, sizeof(v)) ||
			    (strcasecmp(v, "true") != 0 && strcasecmp(v, "false") != 0))
				return req_fail(
				        req, COL_ESYNTAX,
				        "Invalid boolean value for property 'durable_writes'");
			*durable = strcasecmp(v, "true") == 0;
		} else {
			return req_fail(req, COL_ESYNTAX, "Unknown property '%s'", o->name.name);
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
	const struct schema_snap *snap = ex->snap;
	if (st->kind == CQL_STMT_DROP_KEYSPACE) {
		if (!schema_snap_keyspace(snap, name) && k->if_exists) {
			cql_put_int(&req->body_out, CQL_RESULT_VOID);
			return 0;
		}
		int rc = schema_drop_keyspace(ex->d.schema, name, ts, &e);
		if (rc == COL_ENOTFOUND)
			return req_fail(req, COL_ECONFIG, "Cannot drop non existing keyspace '%s'.",
			                name);
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
	int rc = keyspace_options(req, k, repl, store, &n_repl, &durable, &have_repl);
	if (rc)
		return rc;
	struct schema_keyspace_def def = {name, durable, repl, n_repl};
	struct schema_repl_opt old_repl[64];
	if (st->kind == CQL_STMT_CREATE_KEYSPACE) {
		if (old && k->if_not_exists) {
			cql_put_int(&req->body_out, CQL_RESULT_VOID);
			return 0;
		}
		if (!have_repl)
			return req_fail(req, COL_ECONFIG,
			                "Missing mandatory replication strategy class");
		rc = schema_create_keyspace(ex->d.schema, &def, ts, &e);
		if (rc == COL_EEXIST) {
			rc = req_fail(req, COL_EEXIST, "Keyspace %s already exists", name);
			snprintf(req->about.ks, sizeof(req->about.ks), "%s", name);
			return rc;
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
		return req_fail(req, COL_EINVAL, "Keyspace '%s' does not exist", name);
	}
	if (!have_repl) {
		for (uint32_t i = 0; i < old->n_repl && i < 64; i++)
			old_repl[i] =
			        (struct schema_repl_opt){old->repl_keys[i], old->repl_vals[i]};
		def.repl = old_repl;
		def.n_repl = old->n_repl < 64 ? old->n_repl : 64;
	}
	rc = schema_alter_keyspace(ex->d.schema, &def, ts, &e);
	if (rc)
		return req_fail_cerr(req, rc, &e);
	schema_changed(ex, req, EXEC_CHANGE_UPDATED, EXEC_TARGET_KEYSPACE, name, NULL);
	return 0;
}

/* speculative_retry's value, validated, in its canonical text (spec[] holds it). */
static int table_spec_retry(struct exec_req *req, const struct cql_option *o, char *spec,
                            size_t cap)
{
	struct spec_retry sr;
	struct cerr e = {0};
	if (!o->value || o->value->kind != CQL_TERM_STRING ||
	    memchr(o->value->text, 0, o->value->text_len))
		return req_fail(req, COL_ECONFIG, "Invalid value for property 'speculative_retry'");
	if (spec_retry_parse(o->value->text, &sr, &e))
		return req_fail(req, COL_ECONFIG, "%s", e.msg);
	spec_retry_format(&sr, spec, cap);
	return 0;
}

static int table_options(struct exec_req *req, const struct cql_option *opts, uint32_t n,
                         int32_t *gc, int32_t *ttl, const char **comment, char *spec,
                         size_t spec_cap, struct topt_list *kept)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct cql_option *o = &opts[i];
		const char *nm = o->name.name;
		if (strcmp(nm, "gc_grace_seconds") == 0 ||
		    strcmp(nm, "default_time_to_live") == 0) {
			if (!o->value || o->value->kind != CQL_TERM_INTEGER ||
			    !o->value->integer.fits || o->value->integer.value < 0 ||
			    o->value->integer.value > INT32_MAX)
				return req_fail(
				        req, COL_ECONFIG,
				        "Invalid value for property '%s': a non-negative integer "
				        "is expected",
				        nm);
			if (nm[0] == 'g')
				*gc = (int32_t)o->value->integer.value;
			else {
				if (o->value->integer.value > STORE_MAX_TTL)
					return req_fail(
					        req, COL_ECONFIG,
					        "default_time_to_live must be less than or equal "
					        "to %d (got %" PRId64 ")",
					        STORE_MAX_TTL, o->value->integer.value);
				*ttl = (int32_t)o->value->integer.value;
			}
			continue;
		}
		if (strcmp(nm, "speculative_retry") == 0) {
			int rc = table_spec_retry(req, o, spec, spec_cap);
			if (rc)
				return rc;
			continue;
		}
		if (strcmp(nm, "comment") == 0) {
			if (!o->value || o->value->kind != CQL_TERM_STRING)
				return req_fail(req, COL_ESYNTAX,
				                "Invalid value for property 'comment'");
			if (memchr(o->value->text, 0, o->value->text_len))
				return req_fail(req, COL_ESYNTAX,
				                "Invalid value for property 'comment'");
			*comment = o->value->text; /* lives in the statement's arena */
			continue;
		}
		/* the options kept and shown but not acted on (tableopts.h), or unknown */
		int rc = tableopts_add(req, o, kept);
		if (rc)
			return rc;
	}
	return 0;
}

/* The kept options of a CREATE (old NULL) or ALTER, completed and checked. */
static int table_kept_options(struct exec_req *req, struct topt_list *kept,
                              const struct schema_table *old)
{
	int rc = tableopts_finish(kept, old);
	if (rc == COL_ENOMEM)
		return req_fail(req, rc, "out of memory");
	if (rc)
		return req_fail(req, COL_ECONFIG, "too many table options");
	return tableopts_check(req, kept);
}

/* The statement succeeded: say which options it set that the engine ignores. */
static void table_options_warn(struct exec_req *req, const struct topt_list *kept, const char *ks,
                               const char *table)
{
	tableopts_warning(kept, req->warning, sizeof(req->warning));
	if (req->warning[0])
		log_warn("query", "table %s.%s: %s", ks, table, req->warning);
}

static int column_type(struct exec_req *req, const struct schema_keyspace *k,
                       const struct cql_column_def *cd, const struct cqltype **out)
{
	char what[SCHEMA_NAME_MAX + 32];
	snprintf(what, sizeof(what), "Invalid type for column %s: ", cd->name.name);
	int rc = exec_parse_column_type(req, k, what, cd, out);
	if (rc)
		return rc;
	if ((*out)->kind == CQLTYPE_COUNTER) {
		cqltype_free(*out);
		return req_fail(req, COL_EINVAL, "counter columns are not supported (column %s)",
		                cd->name.name);
	}
	return 0;
}

/* Schema column definitions for CQL ones, types parsed; *out is freed with
 * column_defs_free(*out, n), also after a failure. */
static int column_defs(struct exec_req *req, const struct schema_keyspace *k,
                       const struct cql_column_def *defs, uint32_t n,
                       struct schema_column_def **out)
{
	struct schema_column_def *cols = calloc(n ? n : 1, sizeof(*cols));
	*out = cols;
	if (!cols)
		return req_fail(req, COL_ENOMEM, "out of memory");
	int rc = 0;
	for (uint32_t i = 0; i < n && !rc; i++) {
		cols[i].name = defs[i].name.name;
		cols[i].kind = defs[i].is_static ? SCHEMA_COL_STATIC : SCHEMA_COL_REGULAR;
		cols[i].position = -1;
		rc = column_type(req, k, &defs[i], &cols[i].type);
		if (rc)
			cols[i].type = NULL;
	}
	return rc;
}

static void column_defs_free(struct schema_column_def *cols, uint32_t n)
{
	for (uint32_t i = 0; cols && i < n; i++)
		cqltype_free(cols[i].type);
	free(cols);
}

/* The index of column `name` in cols[0..n), n if none. */
static uint32_t column_def_index(const struct schema_column_def *cols, uint32_t n, const char *name)
{
	uint32_t j = 0;
	while (j < n && strcmp(cols[j].name, name) != 0)
		j++;
	return j;
}

/* Mark the PRIMARY KEY's partition and clustering columns with their positions. */
static int table_primary_key(struct exec_req *req, const struct cql_create_table *ct,
                             struct schema_column_def *cols)
{
	uint32_t n_keys = ct->n_partition_key + ct->n_clustering_key;
	for (uint32_t i = 0; i < n_keys; i++) {
		bool part = i < ct->n_partition_key;
		const char *name = part ? ct->partition_key[i].name
		                        : ct->clustering_key[i - ct->n_partition_key].name;
		uint32_t j = column_def_index(cols, ct->n_columns, name);
		if (j == ct->n_columns)
			return req_fail(req, COL_EINVAL,
			                "Unknown definition %s referenced in PRIMARY KEY", name);
		if (!part && cols[j].kind == SCHEMA_COL_PARTITION_KEY)
			return req_fail(req, COL_EINVAL, "Column %s appears twice in PRIMARY KEY",
			                cols[j].name);
		cols[j].kind = part ? SCHEMA_COL_PARTITION_KEY : SCHEMA_COL_CLUSTERING;
		cols[j].position = (int)(part ? i : i - ct->n_partition_key);
	}
	return 0;
}

/* Whether t is or holds a duration (which has no order a key could use). */
static bool refs_duration(const struct cqltype *t)
{
	return t &&
	       (t->kind == CQLTYPE_DURATION || refs_duration(t->elem) || refs_duration(t->value));
}

/* Key columns are neither static nor non-frozen collections or user types; statics need a
 * clustering. */
static int table_column_rules(struct exec_req *req, const struct cql_create_table *ct,
                              const struct schema_column_def *cols)
{
	for (uint32_t i = 0; i < ct->n_columns; i++) {
		bool key = cols[i].kind == SCHEMA_COL_PARTITION_KEY ||
		           cols[i].kind == SCHEMA_COL_CLUSTERING;
		if (key && ct->columns[i].is_static)
			return req_fail(req, COL_EINVAL,
			                "Static column %s cannot be part of the PRIMARY KEY",
			                cols[i].name);
		if (key && cqltype_is_collection(cols[i].type) && !cols[i].type->frozen)
			return req_fail(req, COL_EINVAL,
			                "Invalid non-frozen collection type for PRIMARY KEY "
			                "component %s",
			                cols[i].name);
		if (key && cqltype_is_multicell(cols[i].type))
			return req_fail(
			        req, COL_EINVAL,
			        "Invalid non-frozen user-defined type %s.%s for PRIMARY KEY "
			        "column '%s'",
			        cols[i].type->udt_keyspace, cols[i].type->udt_name, cols[i].name);
		if (key && refs_duration(cols[i].type))
			return req_fail(
			        req, COL_EINVAL,
			        "duration type is not supported for PRIMARY KEY column '%s'",
			        cols[i].name);
		if (cols[i].kind == SCHEMA_COL_STATIC && ct->n_clustering_key == 0)
			return req_fail(req, COL_EINVAL,
			                "Static columns are only useful (and thus allowed) if the "
			                "table has at least one clustering column");
	}
	return 0;
}

/* WITH CLUSTERING ORDER BY: the clustering columns, in key order, each ASC or DESC. */
static int table_clustering_order(struct exec_req *req, const struct cql_create_table *ct,
                                  struct schema_column_def *cols)
{
	for (uint32_t i = 0; i < ct->n_clustering_order; i++) {
		const char *name = ct->clustering_order[i].column.name;
		uint32_t j = column_def_index(cols, ct->n_columns, name);
		if (j == ct->n_columns || cols[j].kind != SCHEMA_COL_CLUSTERING)
			return req_fail(req, COL_EINVAL,
			                "Only clustering key columns can be defined in CLUSTERING "
			                "ORDER directive (%s)",
			                name);
		if (cols[j].position != (int)i)
			return req_fail(
			        req, COL_EINVAL,
			        "The order of columns in the CLUSTERING ORDER directive must "
			        "be the one of the clustering key (%s must appear before %s)",
			        ct->clustering_key[i].name, cols[j].name);
		cols[j].desc = ct->clustering_order[i].desc;
	}
	return 0;
}

/*
 * Where CREATE TABLE goes: *ks is its keyspace, which exists.  *done when the
 * table exists and IF NOT EXISTS makes that a success (VOID is answered).
 */
static int table_target(struct executor *ex, struct exec_req *req,
                        const struct cql_create_table *ct, const char **ks, bool *done)
{
	*ks = qname_ks(&ct->table, req->session);
	*done = false;
	if (!*ks)
		return req_fail(req, COL_EINVAL,
		                "No keyspace has been specified. USE a keyspace, or explicitly "
		                "specify keyspace.tablename");
	const char *name = ct->table.name.name;
	const struct schema_keyspace *k = schema_snap_keyspace(ex->snap, *ks);
	if (!k)
		return req_fail(req, COL_EINVAL, "Keyspace '%s' does not exist", *ks);
	if (!schema_keyspace_table(k, name))
		return 0;
	if (ct->if_not_exists) {
		cql_put_int(&req->body_out, CQL_RESULT_VOID);
		*done = true;
		return 0;
	}
	int rc = req_fail(req, COL_EEXIST, "Table %s.%s already exists", *ks, name);
	snprintf(req->about.ks, sizeof(req->about.ks), "%s", *ks);
	snprintf(req->about.table, sizeof(req->about.table), "%s", name);
	return rc;
}

int exec_create_table(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                      int64_t ts)
{
	const struct cql_create_table *ct = &st->create_table;
	const char *ks, *name = ct->table.name.name;
	bool done;
	int rc = table_target(ex, req, ct, &ks, &done);
	if (rc || done)
		return rc;
	if (ct->compact_storage)
		return req_fail(req, COL_EINVAL, "COMPACT STORAGE tables are not supported");
	if (ct->n_partition_key > STORE_MAX_PK_COLS || ct->n_clustering_key > STORE_MAX_CK_COLS)
		return req_fail(req, COL_EINVAL, "too many primary key columns");
	struct schema_column_def *cols;
	rc = column_defs(req, schema_snap_keyspace(ex->snap, ks), ct->columns, ct->n_columns,
	                 &cols);
	if (!rc)
		rc = table_primary_key(req, ct, cols);
	if (!rc)
		rc = table_column_rules(req, ct, cols);
	if (!rc)
		rc = table_clustering_order(req, ct, cols);
	int32_t gc = -1, ttl = -1;
	const char *comment = NULL;
	char spec[32] = "";
	struct topt_list kept = {0};
	if (!rc)
		rc = table_options(req, ct->options, ct->n_options, &gc, &ttl, &comment, spec,
		                   sizeof(spec), &kept);
	if (!rc)
		rc = table_kept_options(req, &kept, NULL);
	if (!rc) {
		struct schema_table_def def = {ks,     name,  cols,    ct->n_columns,
		                               gc,     ttl,   comment, spec[0] ? spec : NULL,
		                               kept.v, kept.n};
		struct cerr e = {0};
		int r2 = schema_create_table(ex->d.schema, &def, ts, &e);
		if (r2)
			rc = req_fail_cerr(req, r2, &e);
	}
	column_defs_free(cols, ct->n_columns);
	if (!rc)
		table_options_warn(req, &kept, ks, name);
	topt_list_free(&kept);
	if (rc)
		return rc;
	schema_changed(ex, req, EXEC_CHANGE_CREATED, EXEC_TARGET_TABLE, ks, name);
	return 0;
}

/* ALTER TABLE ADD / DROP / WITH on a resolved table. */
static int alter_table_change(struct executor *ex, struct exec_req *req,
                              const struct cql_alter_table *at, const struct plan *tbl, int64_t ts)
{
	struct cerr e = {0};
	int rc = 0, r2 = 0;
	switch (at->kind) {
	case CQL_ALTER_ADD: {
		struct schema_column_def *cols;
		rc = column_defs(req, tbl->table->ks, at->add, at->n_add, &cols);
		if (!rc)
			r2 = schema_alter_table_add(ex->d.schema, tbl->ks, tbl->table_name, cols,
			                            at->n_add, ts, &e);
		column_defs_free(cols, at->n_add);
		break;
	}
	case CQL_ALTER_DROP: {
		const char **names = calloc(at->n_drop ? at->n_drop : 1, sizeof(*names));
		if (!names)
			return req_fail(req, COL_ENOMEM, "out of memory");
		for (uint32_t i = 0; i < at->n_drop; i++)
			names[i] = at->drop[i].name;
		r2 = schema_alter_table_drop(ex->d.schema, tbl->ks, tbl->table_name, names,
		                             at->n_drop, ts, &e);
		free(names);
		break;
	}
	case CQL_ALTER_WITH: {
		int32_t gc = -1, ttl = -1;
		const char *comment = NULL;
		char spec[32] = "";
		struct topt_list kept = {0};
		rc = table_options(req, at->options, at->n_options, &gc, &ttl, &comment, spec,
		                   sizeof(spec), &kept);
		bool set_kept = kept.n > 0;
		if (!rc)
			rc = table_kept_options(req, &kept, tbl->table);
		if (!rc)
			r2 = schema_alter_table_options(ex->d.schema, tbl->ks, tbl->table_name, gc,
			                                ttl, comment, spec[0] ? spec : NULL, kept.v,
			                                set_kept ? (int32_t)kept.n : -1, ts, &e);
		if (!rc && !r2)
			table_options_warn(req, &kept, tbl->ks, tbl->table_name);
		topt_list_free(&kept);
		break;
	}
	default:
		return req_fail(req, COL_EINVAL,
		                "ALTER TABLE ... RENAME and ALTER ... TYPE are not supported");
	}
	return rc ? rc : r2 ? req_fail_cerr(req, r2, &e) : 0;
}

/*
 * The user table a table statement names, into *tbl.  *done when it does not
 * exist and IF EXISTS makes that a success (VOID is answered).
 */
static int ddl_table(struct executor *ex, struct exec_req *req, const struct cql_qname *name,
                     bool if_exists, struct plan *tbl, bool *done)
{
	*done = false;
	int rc = resolve_table(req, ex->snap, name, tbl);
	if (rc == COL_EINVAL && if_exists) {
		cerr_clear(&req->err);
		cql_put_int(&req->body_out, CQL_RESULT_VOID);
		*done = true;
		return 0;
	}
	if (rc)
		return rc;
	if (tbl->table->virtual_)
		return req_fail(req, COL_EINVAL, "%s keyspace is not user-modifiable.", tbl->ks);
	return 0;
}

int exec_alter_table(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                     int64_t ts)
{
	const struct cql_alter_table *at = &st->alter_table;
	struct plan tmp = {0};
	bool done;
	int rc = ddl_table(ex, req, &at->table, at->if_exists, &tmp, &done);
	if (rc || done)
		return rc;
	if ((rc = alter_table_change(ex, req, at, &tmp, ts)))
		return rc;
	schema_changed(ex, req, EXEC_CHANGE_UPDATED, EXEC_TARGET_TABLE, tmp.ks, tmp.table_name);
	return 0;
}

int exec_drop_table(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                    int64_t ts)
{
	const struct cql_drop_table *dt = &st->drop_table;
	struct plan tmp = {0};
	bool done;
	int rc = ddl_table(ex, req, &dt->table, dt->if_exists, &tmp, &done);
	if (rc || done)
		return rc;
	struct cerr e = {0};
	rc = schema_drop_table(ex->d.schema, tmp.ks, tmp.table_name, ts, &e);
	if (rc)
		return req_fail_cerr(req, rc, &e);
	schema_changed(ex, req, EXEC_CHANGE_DROPPED, EXEC_TARGET_TABLE, tmp.ks, tmp.table_name);
	return 0;
}

static void truncate_done(void *ctx, const struct cerr *res)
{
	struct xq *q = ctx;
	if (res->code) {
		req_fail_outcome(q->req, res);
		/* Unavailable stays Unavailable; every other failure is a TruncateError */
		q->req->about.truncate = res->code != COL_EUNAVAILABLE;
	} else {
		cql_put_int(&q->req->body_out, CQL_RESULT_VOID);
	}
	xq_finish(q);
}

void truncate_run(struct xq *q)
{
	struct executor *ex = q->ex;
	struct exec_req *req = q->req;
	struct plan tmp = {0};
	bool done;
	if (ddl_table(ex, req, &q->plan->stmt->truncate.table, false, &tmp, &done)) {
		xq_finish(q);
		return;
	}
	router_truncate(ex->d.router, tmp.table->ks, tmp.table->st, exec_now_us(ex), truncate_done,
	                q);
}

int exec_use(struct executor *ex, struct exec_req *req, const struct cql_stmt *st)
{
	const char *ks = st->use.keyspace.name;
	if (!schema_snap_keyspace(ex->snap, ks))
		return req_fail(req, COL_EINVAL, "Keyspace '%s' does not exist", ks);
	snprintf(req->session->keyspace, sizeof(req->session->keyspace), "%s", ks);
	cql_put_int(&req->body_out, CQL_RESULT_SET_KEYSPACE);
	cql_put_string(&req->body_out, ks);
	return 0;
}
