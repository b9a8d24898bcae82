/*
 * schema_types.c — user-defined types in the catalogue: their 'Y' rows
 * (schema.h's persistence table), read into their keyspace's snapshot, the
 * resolution of type names in column and field types, and CREATE / ALTER /
 * DROP TYPE.
 *
 * A type row is keyed "schema/ty/" ks \0 name and holds its fields in order,
 * each a name and the CQL text of its type ("text", "frozen<address>"); rows
 * merge between nodes like every schema row (newest timestamp wins).  A type
 * is resolved when the snapshot is built, so a column or field that names a
 * type sees the type's current fields (ALTER TYPE ADD / RENAME shows at once
 * in every table that uses it).  A row that names a type this node does not
 * know yet (its row is still on its way from a peer) is left out of the
 * snapshot, logged, and comes back with the next rebuild.
 */
#include "coordinator/schema/schema_int.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "schema"

void schema_ty_key(struct buf *b, const char *ks, const char *name)
{
	buf_put_str(b, KEY_TY);
	buf_put_str(b, ks);
	buf_put_u8(b, 0);
	buf_put_str(b, name);
}

/* The body of a 'Y' row: n u16, n x (field name str, field type str). */
static void encode_type(struct buf *b, const char *const *names, const char *const *types,
                        uint32_t n, bool dropped, int64_t ts)
{
	schema_row_header(b, 'Y', ts, dropped);
	buf_put_u16be(b, (uint16_t)n);
	for (uint32_t i = 0; i < n; i++) {
		schema_put_str(b, names[i]);
		schema_put_str(b, types[i]);
	}
}

struct type_body {
	char **names, **types;
	uint32_t n;
};

static void type_body_free(struct type_body *tb)
{
	for (uint32_t i = 0; i < tb->n; i++) {
		free(tb->names ? tb->names[i] : NULL);
		free(tb->types ? tb->types[i] : NULL);
	}
	free(tb->names);
	free(tb->types);
	*tb = (struct type_body){0};
}

static int decode_type(struct bufreader *r, struct type_body *tb, struct cerr *err)
{
	uint16_t n = bufreader_u16be(r);
	if (!bufreader_ok(r) || n == 0 || n > CQLTYPE_MAX_FIELDS)
		return cerr_set(err, COL_ECORRUPT, "type row with %u fields", n);
	tb->names = calloc(n, sizeof(*tb->names));
	tb->types = calloc(n, sizeof(*tb->types));
	if (!tb->names || !tb->types) {
		type_body_free(tb);
		return cerr_set(err, COL_ENOMEM, "out of memory");
	}
	tb->n = n;
	for (uint16_t i = 0; i < n; i++) {
		tb->names[i] = schema_get_str(r);
		tb->types[i] = schema_get_str(r);
		if (!bufreader_ok(r) || !tb->names[i] || !tb->types[i] || !tb->names[i][0]) {
			type_body_free(tb);
			return cerr_set(err, COL_ECORRUPT, "type row field %u malformed", i);
		}
	}
	return 0;
}

const struct cqltype *schema_keyspace_type(const struct schema_keyspace *k, const char *name)
{
	for (uint32_t i = 0; k && i < k->n_types; i++)
		if (strcmp(k->types[i]->udt_name, name) == 0)
			return k->types[i];
	return NULL;
}

/* A stand-in for a type name while only checking that a row decodes. */
static int placeholder_type(const char *name, size_t len, const struct cqltype **out,
                            struct cerr *err)
{
	char **names = calloc(1, sizeof(*names));
	const struct cqltype **f = calloc(1, sizeof(*f));
	char *nm = schema_strndup(name, len);
	if (names)
		names[0] = schema_strndup("?", 1);
	if (f)
		f[0] = cqltype_simple(CQLTYPE_BLOB);
	struct cqltype *t = NULL;
	if (nm && names && f)
		t = cqltype_udt_new("", nm, names, f, 1, false);
	else {
		free(names ? names[0] : NULL);
		free(names);
		free(f);
	}
	free(nm);
	if (!t)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	*out = t;
	return 0;
}

int schema_resolve_type(void *ctx, const char *name, size_t len, const struct cqltype **out,
                        struct cerr *err)
{
	const struct schema_keyspace *k = ctx;
	if (!k)
		return placeholder_type(name, len, out, err);
	for (uint32_t i = 0; i < k->n_types; i++) {
		const char *tn = k->types[i]->udt_name;
		if (strlen(tn) == len && memcmp(tn, name, len) == 0) {
			struct cqltype *c = (struct cqltype *)cqltype_copy(k->types[i]);
			if (!c)
				return cerr_set(err, COL_ENOMEM, "out of memory");
			c->frozen = false;
			*out = c;
			return 0;
		}
	}
	return cerr_set(err, COL_ENOTFOUND, "Unknown type %s.%.*s", k->name,
	                (int)(len > 100 ? 100 : len), name);
}

/* The UDT of a decoded row, its field types resolved in k; COL_ENOTFOUND while one
 * names a type k does not have (yet). */
static int build_type(const struct schema_keyspace *k, const char *name, const struct type_body *tb,
                      const struct cqltype **out, struct cerr *err)
{
	char **names = calloc(tb->n, sizeof(*names));
	const struct cqltype **f = calloc(tb->n, sizeof(*f));
	int rc = names && f ? 0 : cerr_set(err, COL_ENOMEM, "out of memory");
	uint32_t i = 0;
	for (; !rc && i < tb->n; i++) {
		rc = cqltype_parse_in(tb->types[i], strlen(tb->types[i]), schema_resolve_type,
		                      (void *)k, &f[i], err);
		if (!rc && !(names[i] = schema_strndup(tb->names[i], strlen(tb->names[i])))) {
			cqltype_free(f[i]);
			rc = cerr_set(err, COL_ENOMEM, "out of memory");
		}
	}
	if (rc) {
		for (uint32_t j = 0; j + 1 < i; j++) {
			cqltype_free(f[j]);
			free(names[j]);
		}
		free(names);
		free(f);
		return rc;
	}
	struct cqltype *t = cqltype_udt_new(k->name, name, names, f, tb->n, false);
	if (!t)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	*out = t;
	return 0;
}

static int type_name_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct cqltype *const *)a)->udt_name,
	              (*(const struct cqltype *const *)b)->udt_name);
}

struct pending_type {
	char *name;
	struct type_body body;
};

/* Resolve the pending types into k, in as many passes as their nesting needs. */
static int resolve_pending(struct schema_keyspace *k, struct pending_type *p, size_t n,
                           struct cerr *err)
{
	size_t left = n;
	bool progress = true;
	int rc = 0;
	while (left && progress && !rc) {
		progress = false;
		for (size_t i = 0; i < n && !rc; i++) {
			if (!p[i].name)
				continue;
			const struct cqltype *t = NULL;
			rc = build_type(k, p[i].name, &p[i].body, &t, err);
			if (rc == COL_ENOTFOUND || rc == COL_ETYPE || rc == COL_ESYNTAX) {
				rc = 0;
				continue;
			}
			if (rc)
				break;
			const struct cqltype **nt =
			        realloc(k->types, (k->n_types + 1) * sizeof(*k->types));
			if (!nt) {
				cqltype_free(t);
				rc = cerr_set(err, COL_ENOMEM, "out of memory");
				break;
			}
			k->types = nt;
			k->types[k->n_types++] = t;
			free(p[i].name);
			p[i].name = NULL;
			left--;
			progress = true;
		}
	}
	for (size_t i = 0; i < n && !rc; i++)
		if (p[i].name)
			log_error(MOD, "type %s.%s names a type this node does not have: left out",
			          k->name, p[i].name);
	if (k->n_types > 1)
		qsort(k->types, k->n_types, sizeof(*k->types), type_name_cmp);
	return rc;
}

int schema_keyspace_add_types(struct schema *s, struct schema_keyspace *k, struct cerr *err)
{
	struct buf pfx;
	buf_init(&pfx);
	schema_ty_key(&pfx, k->name, "");
	if (!buf_ok(&pfx))
		return cerr_set(err, COL_ENOMEM, "out of memory");
	long at = schema_rows_find(s, (const char *)pfx.data, pfx.len);
	struct pending_type *p = NULL;
	size_t n = 0;
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
		struct type_body tb = {0};
		if (schema_decode_row_header(&r, &kind, &ts, &dropped) || kind != 'Y' ||
		    decode_type(&r, &tb, err)) {
			rc = cerr_set(err, COL_ECORRUPT, "type row '%.*s' malformed",
			              (int)(row->klen - pfx.len), row->key + pfx.len);
			break;
		}
		if (dropped) {
			type_body_free(&tb);
			continue;
		}
		struct pending_type *np = realloc(p, (n + 1) * sizeof(*p));
		char *name = schema_strndup(row->key + pfx.len, row->klen - pfx.len);
		if (np)
			p = np;
		if (!np || !name) {
			free(name);
			type_body_free(&tb);
			rc = cerr_set(err, COL_ENOMEM, "out of memory");
			break;
		}
		p[n++] = (struct pending_type){.name = name, .body = tb};
	}
	buf_release(&pfx);
	if (!rc)
		rc = resolve_pending(k, p, n, err);
	for (size_t i = 0; i < n; i++) {
		free(p[i].name);
		type_body_free(&p[i].body);
	}
	free(p);
	return rc;
}

int schema_check_type_body(struct bufreader *r, struct cerr *err)
{
	struct type_body tb = {0};
	int rc = decode_type(r, &tb, err);
	for (uint32_t i = 0; !rc && i < tb.n; i++) {
		const struct cqltype *t = NULL;
		rc = cqltype_parse_in(tb.types[i], strlen(tb.types[i]), schema_resolve_type, NULL,
		                      &t, err);
		if (rc)
			rc = cerr_set(err, COL_ECORRUPT, "field %s: %s", tb.names[i], err->msg);
		if (!rc && (t->kind == CQLTYPE_COUNTER || t->kind == CQLTYPE_CUSTOM))
			rc = cerr_set(err, COL_ECORRUPT, "field of a type the store refuses");
		cqltype_free(t);
	}
	if (!rc && bufreader_left(r) != 0)
		rc = cerr_set(err, COL_ECORRUPT, "%zu trailing bytes", bufreader_left(r));
	type_body_free(&tb);
	return rc;
}

bool schema_type_references(const struct cqltype *t, const char *ks, const char *name)
{
	if (!t)
		return false;
	if (t->kind == CQLTYPE_UDT && strcmp(t->udt_keyspace, ks) == 0 &&
	    strcmp(t->udt_name, name) == 0)
		return true;
	if (schema_type_references(t->elem, ks, name) || schema_type_references(t->value, ks, name))
		return true;
	for (uint32_t i = 0; i < t->n_fields; i++)
		if (schema_type_references(t->fields[i], ks, name))
			return true;
	return false;
}

static int type_keyspace(struct schema *s, const char *ks, const struct schema_keyspace **out,
                         struct cerr *err)
{
	*out = schema_snap_keyspace(schema_current(s), ks);
	if (!*out)
		return cerr_set(err, COL_EINVAL, "Keyspace '%s' doesn't exist", ks);
	if ((*out)->virtual_ || schema_is_system_keyspace(ks))
		return cerr_set(err, COL_EINVAL, "%s keyspace is not user-modifiable.", ks);
	return 0;
}

/* Cassandra's name of a type in messages: ks.name. */
static const char *cql_type_name(const char *ks, const char *name, char *dst, size_t cap)
{
	snprintf(dst, cap, "%s.%s", ks, name);
	return dst;
}

/* Write the 'Y' row of ks.name with the given fields (types as CQL text). */
static int write_type(struct schema *s, const char *ks, const char *name, const char *const *names,
                      const struct cqltype *const *types, uint32_t n, bool dropped, int64_t ts,
                      struct cerr *err)
{
	char **texts = calloc(n ? n : 1, sizeof(*texts));
	struct buf k, v, tmp;
	buf_init(&k);
	buf_init(&v);
	buf_init(&tmp);
	int rc = texts ? 0 : COL_ENOMEM;
	for (uint32_t i = 0; !rc && i < n; i++) {
		buf_reset(&tmp);
		cqltype_name(types[i], &tmp);
		if (!buf_ok(&tmp) || !(texts[i] = schema_strndup((const char *)tmp.data, tmp.len)))
			rc = COL_ENOMEM;
	}
	schema_ty_key(&k, ks, name);
	if (!rc && buf_ok(&k)) {
		ts = schema_next_ts(s, (const char *)k.data, k.len, ts);
		encode_type(&v, names, (const char *const *)texts, n, dropped, ts);
	}
	struct buf batch;
	buf_init(&batch);
	if (!rc && buf_ok(&k) && buf_ok(&v))
		schema_batch_add(&batch, k.data, k.len, v.data, v.len);
	else
		rc = COL_ENOMEM;
	for (uint32_t i = 0; texts && i < n; i++)
		free(texts[i]);
	free(texts);
	buf_release(&k);
	buf_release(&v);
	buf_release(&tmp);
	if (rc || !buf_ok(&batch)) {
		buf_release(&batch);
		return cerr_set(err, COL_ENOMEM, "out of memory");
	}
	return schema_finish_batch(s, &batch, err);
}

/* Field types a user type may hold (CreateTypeStatement's rules). */
static int check_field_type(const struct cqltype *t, struct cerr *err)
{
	if (t->kind == CQLTYPE_COUNTER)
		return cerr_set(err, COL_EINVAL, "A user type cannot contain counters");
	if (t->kind == CQLTYPE_UDT && !t->frozen)
		return cerr_set(err, COL_EINVAL, "A user type cannot contain non-frozen UDTs");
	return 0;
}

int schema_create_type(struct schema *s, const char *ks, const char *name,
                       const char *const *fields, const struct cqltype *const *types, uint32_t n,
                       int64_t timestamp, struct cerr *err)
{
	const struct schema_keyspace *k = NULL;
	int rc = type_keyspace(s, ks, &k, err);
	if (rc)
		return rc;
	if (schema_keyspace_type(k, name))
		return cerr_set(err, COL_EEXIST, "A user type with name '%s' already exists", name);
	if (!schema_valid_name(name))
		return cerr_set(err, COL_EINVAL, "Invalid type name '%s'", name);
	if (n == 0 || n > CQLTYPE_MAX_FIELDS)
		return cerr_set(err, COL_EINVAL, "A user type needs 1 to %d fields, not %u",
		                CQLTYPE_MAX_FIELDS, n);
	for (uint32_t i = 0; i < n; i++) {
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(fields[i], fields[j]) == 0)
				return cerr_set(err, COL_EINVAL,
				                "Duplicate field name '%s' in type '%s'", fields[i],
				                name);
		if ((rc = check_field_type(types[i], err)))
			return rc;
	}
	return write_type(s, ks, name, fields, types, n, false, timestamp, err);
}

/* The live type ks.name for ALTER / DROP. */
static int existing_type(struct schema *s, const char *ks, const char *name, bool quoted,
                         const struct schema_keyspace **k, const struct cqltype **t,
                         struct cerr *err)
{
	*k = schema_snap_keyspace(schema_current(s), ks);
	*t = schema_keyspace_type(*k, name);
	if (!*t)
		return cerr_set(err, COL_ENOTFOUND,
		                quoted ? "Type '%s.%s' doesn't exist" : "Type %s.%s doesn't exist",
		                ks, name);
	return 0;
}

/* ", "-joined names of the tables of k with a column whose type uses ks.name
 * (partition key columns only if pk_only) into out; false if none. */
static bool tables_using(const struct schema_keyspace *k, const char *name, bool pk_only,
                         bool qualified, struct buf *out)
{
	bool any = false;
	for (uint32_t i = 0; i < k->n_tables; i++) {
		const struct schema_table *tb = k->tables[i];
		bool uses = false;
		for (uint32_t c = 0; c < (pk_only ? tb->n_pk : tb->n_cols) && !uses; c++)
			uses = schema_type_references(tb->cols[c].type, k->name, name);
		if (!uses)
			continue;
		if (any)
			buf_put_str(out, ", ");
		if (qualified) {
			buf_put_str(out, k->name);
			buf_put_u8(out, '.');
		}
		buf_put_str(out, tb->name);
		any = true;
	}
	buf_put_u8(out, 0);
	return any;
}

int schema_alter_type_add(struct schema *s, const char *ks, const char *name, const char *field,
                          const struct cqltype *type, int64_t timestamp, struct cerr *err)
{
	const struct schema_keyspace *k;
	const struct cqltype *t;
	int rc = existing_type(s, ks, name, false, &k, &t, err);
	if (rc)
		return rc;
	char tn[2 * SCHEMA_NAME_MAX + 2], ftn[256];
	cql_type_name(ks, name, tn, sizeof(tn));
	if (cqltype_udt_field(t, field, strlen(field)) >= 0)
		return cerr_set(
		        err, COL_EINVAL,
		        "Cannot add field %s to type %s: a field with name %s already exists",
		        field, tn, field);
	if ((rc = check_field_type(type, err)))
		return rc;
	struct buf b;
	buf_init(&b);
	cqltype_name(type, &b);
	snprintf(ftn, sizeof(ftn), "%.*s", (int)b.len, b.data ? (const char *)b.data : "");
	buf_reset(&b);
	if (schema_type_references(type, ks, name)) {
		buf_release(&b);
		return cerr_set(err, COL_EINVAL,
		                "Cannot add new field %s of type %s to user type %s as it would "
		                "create a circular reference",
		                field, ftn, tn);
	}
	if (tables_using(k, name, true, true, &b)) {
		rc = cerr_set(err, COL_EINVAL,
		              "Cannot add new field %s of type %s to user type %s as the type is "
		              "being used in partition key by the following tables: %s",
		              field, ftn, tn, (const char *)b.data);
		buf_release(&b);
		return rc;
	}
	buf_release(&b);
	if (t->n_fields >= CQLTYPE_MAX_FIELDS)
		return cerr_set(err, COL_EINVAL, "Type %s already has %d fields", tn,
		                CQLTYPE_MAX_FIELDS);
	const char *names[CQLTYPE_MAX_FIELDS];
	const struct cqltype *types[CQLTYPE_MAX_FIELDS];
	for (uint32_t i = 0; i < t->n_fields; i++) {
		names[i] = t->field_names[i];
		types[i] = t->fields[i];
	}
	names[t->n_fields] = field;
	types[t->n_fields] = type;
	return write_type(s, ks, name, names, types, t->n_fields + 1, false, timestamp, err);
}

int schema_alter_type_rename(struct schema *s, const char *ks, const char *name,
                             const char *const *from, const char *const *to, uint32_t n,
                             int64_t timestamp, struct cerr *err)
{
	const struct schema_keyspace *k;
	const struct cqltype *t;
	int rc = existing_type(s, ks, name, false, &k, &t, err);
	if (rc)
		return rc;
	char tn[2 * SCHEMA_NAME_MAX + 2];
	cql_type_name(ks, name, tn, sizeof(tn));
	const char *names[CQLTYPE_MAX_FIELDS];
	for (uint32_t i = 0; i < t->n_fields; i++)
		names[i] = t->field_names[i];
	for (uint32_t r = 0; r < n; r++) {
		int at = cqltype_udt_field(t, from[r], strlen(from[r]));
		if (at < 0)
			return cerr_set(err, COL_EINVAL, "Unkown field %s in user type %s", from[r],
			                tn);
		names[at] = to[r];
	}
	for (uint32_t i = 0; i < t->n_fields; i++)
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				return cerr_set(err, COL_EINVAL,
				                "Duplicate field name %s in type %s", names[i], tn);
	return write_type(s, ks, name, names, (const struct cqltype *const *)t->fields, t->n_fields,
	                  false, timestamp, err);
}

int schema_drop_type(struct schema *s, const char *ks, const char *name, int64_t timestamp,
                     struct cerr *err)
{
	const struct schema_keyspace *k;
	const struct cqltype *t;
	int rc = existing_type(s, ks, name, true, &k, &t, err);
	if (rc)
		return rc;
	struct buf b;
	buf_init(&b);
	bool by_types = false;
	for (uint32_t i = 0; i < k->n_types; i++) {
		if (k->types[i] == t || !schema_type_references(k->types[i], ks, name))
			continue;
		if (by_types)
			buf_put_str(&b, ", ");
		buf_put_str(&b, k->types[i]->udt_name);
		by_types = true;
	}
	buf_put_u8(&b, 0);
	if (by_types || (buf_reset(&b), tables_using(k, name, false, false, &b))) {
		rc = cerr_set(err, COL_EINVAL,
		              "Cannot drop user type '%s.%s' as it is still used by %s %s", ks,
		              name, by_types ? "user types" : "tables", (const char *)b.data);
		buf_release(&b);
		return rc;
	}
	buf_release(&b);
	return write_type(s, ks, name, (const char *const *)t->field_names,
	                  (const struct cqltype *const *)t->fields, t->n_fields, true, timestamp,
	                  err);
}
