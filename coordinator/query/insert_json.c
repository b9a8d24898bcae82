/*
 * insert_json.c — INSERT INTO t JSON '…' [DEFAULT NULL | DEFAULT UNSET]: the
 * JSON object's members become the values of the columns they name, as
 * Cassandra's Json.java reads them.  A member name is lower-cased unless it is
 * written double-quoted ("\"Name\"").  A member that names no column, text
 * that is not a JSON object and a value its column's type cannot take are
 * refused with Cassandra's messages; a column the object leaves out is null
 * (DEFAULT NULL, the default: its old value is deleted) or left alone
 * (DEFAULT UNSET).  Key columns are then checked as for any INSERT.
 */
#include "coordinator/query/query_int.h"
#include "core/json.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The shortest prefix of the text shown in messages. */
#define JSON_ECHO_MAX 200

/* The column a member name means: "\"Name\"" as written, other names lower-cased. */
static int json_member_column(const struct schema_table *t, const char *key, char *name, size_t cap)
{
	size_t n = strlen(key);
	if (n >= 2 && key[0] == '"' && key[n - 1] == '"') {
		snprintf(name, cap, "%.*s", (int)(n - 2), key + 1);
	} else {
		size_t i = 0;
		for (; key[i] && i + 1 < cap; i++)
			name[i] = (char)tolower((unsigned char)key[i]);
		name[i] = 0;
	}
	for (uint32_t i = 0; i < t->n_cols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int json_member_value(struct xq *q, const struct schema_column *c, const struct json *v,
                             struct val *out)
{
	if (json_type(v) == JSON_NULL) {
		*out = (struct val){NULL, CQL_VALUE_NULL};
		return 0;
	}
	struct buf b;
	buf_init(&b);
	struct cerr e = {0};
	int rc = cqltype_from_json(c->type, v, &b, &e);
	if (rc) {
		buf_release(&b);
		return req_fail(q->req, COL_EINVAL, "Error decoding JSON value for %s: %s", c->name,
		                e.msg);
	}
	uint8_t *m = cql_arena_alloc(q->mem, b.len ? b.len : 1);
	if (!m || !buf_ok(&b)) {
		buf_release(&b);
		return req_fail(q->req, COL_ENOMEM, "out of memory decoding JSON for %s", c->name);
	}
	if (b.len)
		memcpy(m, b.data, b.len);
	*out = (struct val){m, (int32_t)b.len};
	buf_release(&b);
	return 0;
}

/* Every member of the object to vals/set; then the defaults for the columns left out. */
static int json_members(struct xq *q, const struct cql_insert *ins, const struct json *root,
                        struct val *vals, bool *set)
{
	const struct schema_table *t = q->plan->table;
	for (size_t i = 0; i < json_len(root); i++) {
		char name[SCHEMA_NAME_MAX + 8];
		int ci = json_member_column(t, json_key_at(root, i), name, sizeof(name));
		if (ci < 0)
			return req_fail(q->req, COL_EINVAL,
			                "JSON values map contains unrecognized column: %s", name);
		int rc = json_member_value(q, &t->cols[ci], json_at(root, i), &vals[ci]);
		if (rc)
			return rc;
		set[ci] = true;
	}
	for (uint32_t i = 0; i < t->n_cols; i++) {
		if (set[i])
			continue;
		bool key = t->cols[i].kind == SCHEMA_COL_PARTITION_KEY ||
		           t->cols[i].kind == SCHEMA_COL_CLUSTERING;
		if (key || !ins->default_unset) {
			vals[i] = (struct val){NULL, CQL_VALUE_NULL};
			set[i] = !key; /* a key left out is reported as missing */
		}
	}
	return 0;
}

int insert_json_values(struct xq *q, const struct cql_insert *ins, struct val *vals, bool *set)
{
	struct val text;
	int rc = term_value(q, ins->values[0], cqltype_simple(CQLTYPE_VARCHAR), &text, "[json]");
	if (rc)
		return rc;
	if (text.len == CQL_VALUE_UNSET)
		return req_fail(q->req, COL_EINVAL, "Got unset for INSERT JSON values");
	if (text.len < 0)
		return req_fail(q->req, COL_EINVAL, "Got null for INSERT JSON values");
	struct json *root = NULL;
	struct cerr e = {0};
	rc = json_parse((const char *)text.p, (size_t)text.len, &root, &e);
	if (rc || json_type(root) != JSON_OBJECT) {
		json_free(root);
		return req_fail(q->req, COL_EINVAL,
		                "Could not decode JSON string as a map: %s. (String was: %.*s%s)",
		                rc ? e.msg : "not a JSON object",
		                (int)(text.len > JSON_ECHO_MAX ? JSON_ECHO_MAX : text.len),
		                (const char *)text.p, text.len > JSON_ECHO_MAX ? "..." : "");
	}
	rc = json_members(q, ins, root, vals, set);
	json_free(root);
	return rc;
}
