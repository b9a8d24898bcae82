/*
 * User-defined types in the schema catalogue (coordinator/schema/schema_types.c):
 * CREATE / ALTER / DROP TYPE with Cassandra's messages, columns that name a
 * type seeing its current fields, persistence across a restart, and types
 * travelling to peers with the schema rows (in key order: column rows before
 * the type rows they name).
 */
#include "coordinator/schema/schema.h"
#include "coordinator/schema/schema_sync.h"
#include "core/cqltype.h"
#include "core/hex.h"
#include "core/msgpk.h"
#include "storage/storage.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_NODES_DIR "stypes"
#include "schema_nodes.h"

TestSuite(schema_types, .init = schema_nodes_setup, .fini = schema_nodes_teardown);

static const struct schema_keyspace *ks_of(int i, const char *ks)
{
	const struct schema_keyspace *k = schema_snap_keyspace(schema_current(sch[i]), ks);
	cr_assert(k != NULL, "keyspace %s on node %d", ks, i);
	return k;
}

/* A type text parsed with keyspace ks's user types on node i. */
static const struct cqltype *ptype(int i, const char *ks, const char *text, struct cerr *e)
{
	const struct cqltype *t = NULL;
	if (cqltype_parse_in(text, strlen(text), schema_resolve_type, (void *)ks_of(i, ks), &t, e))
		return NULL;
	return t;
}

/* CREATE TYPE ks.name (fields[0] types[0], ...): 0 or the error code, message in e. */
static int create_type(int i, const char *ks, const char *name, const char *const *fields,
                       const char *const *types, uint32_t n, int64_t ts, struct cerr *e)
{
	const struct cqltype *t[8] = {0};
	int rc = 0;
	for (uint32_t f = 0; f < n && !rc; f++)
		if (!(t[f] = ptype(i, ks, types[f], e)))
			rc = e->code ? e->code : -1;
	if (!rc)
		rc = schema_create_type(sch[i], ks, name, fields, t, n, ts, e);
	for (uint32_t f = 0; f < n; f++)
		cqltype_free(t[f]);
	return rc;
}

static void make_address(int i, int64_t ts)
{
	static const char *const f[] = {"street", "city"};
	static const char *const t[] = {"text", "text"};
	struct cerr e = {0};
	cr_assert_eq(create_type(i, "ks", "address", f, t, 2, ts, &e), 0, "%s", e.msg);
}

/* Table ks.name (k int PRIMARY KEY, col <coltype>) with coltype naming user types. */
static void create_udt_table(int i, const char *name, const char *coltype, int64_t ts)
{
	struct cerr e = {0};
	const struct cqltype *t2 = ptype(i, "ks", coltype, &e);
	cr_assert(t2 != NULL, "%s", e.msg);
	struct schema_column_def cols[] = {
	        {"k", cqltype_simple(CQLTYPE_INT), SCHEMA_COL_PARTITION_KEY, 0, false},
	        {"col", t2, SCHEMA_COL_REGULAR, -1, false}};
	struct schema_table_def def = {.ks = "ks",
	                               .name = name,
	                               .cols = cols,
	                               .n_cols = 2,
	                               .gc_grace_seconds = -1,
	                               .default_time_to_live = -1};
	cr_assert_eq(schema_create_table(sch[i], &def, ts, &e), 0, "%s", e.msg);
	cqltype_free(t2);
}

static void expect_fields(const struct cqltype *t, const char *want)
{
	char got[256] = "";
	cr_assert_eq(t->kind, CQLTYPE_UDT);
	for (uint32_t f = 0; f < t->n_fields; f++) {
		struct buf b;
		buf_init(&b);
		cqltype_name(t->fields[f], &b);
		size_t at = strlen(got);
		snprintf(got + at, sizeof(got) - at, "%s%s %.*s", f ? ", " : "", t->field_names[f],
		         (int)b.len, (const char *)b.data);
		buf_release(&b);
	}
	cr_expect_str_eq(got, want);
}

static const struct cqltype *col_type(int i, const char *table)
{
	const struct schema_table *t = schema_snap_table(schema_current(sch[i]), "ks", table);
	cr_assert(t != NULL, "table ks.%s on node %d", table, i);
	const struct schema_column *c = schema_table_column(t, "col");
	cr_assert(c != NULL);
	return c->type;
}

static int make_address_again(void)
{
	static const char *const f[] = {"x"};
	static const char *const t[] = {"int"};
	struct cerr e = {0};
	int rc = create_type(0, "ks", "address", f, t, 1, 10, &e);
	cr_expect_str_eq(e.msg, "A user type with name 'address' already exists");
	return rc;
}

Test(schema_types, create_checks_and_messages)
{
	struct cerr e = {0};
	static const char *const two[] = {"a", "a"};
	static const char *const tt[] = {"int", "text"};
	cr_expect_eq(schema_create_type(sch[0], "nosuch", "t", two, NULL, 0, 1, &e), COL_EINVAL);
	cr_expect_str_eq(e.msg, "Keyspace 'nosuch' doesn't exist");
	create_ks(0, "ks", 1);
	cr_expect_eq(create_type(0, "ks", "t", two, tt, 2, 2, &e), COL_EINVAL);
	cr_expect_str_eq(e.msg, "Duplicate field name 'a' in type 't'");
	static const char *const one[] = {"c"};
	static const char *const counter[] = {"counter"};
	cr_expect_eq(create_type(0, "ks", "t", one, counter, 1, 2, &e), COL_EINVAL);
	cr_expect_str_eq(e.msg, "A user type cannot contain counters");
	make_address(0, 3);
	static const char *const nf[] = {"address"};
	cr_expect_eq(create_type(0, "ks", "t", one, nf, 1, 4, &e), COL_EINVAL);
	cr_expect_str_eq(e.msg, "A user type cannot contain non-frozen UDTs");
	cr_expect_eq(make_address_again(), COL_EEXIST);
	static const char *const unknown[] = {"frozen<nosuch>"};
	cr_expect_eq(create_type(0, "ks", "t", one, unknown, 1, 4, &e), COL_ENOTFOUND);
	cr_expect_str_eq(e.msg, "Unknown type ks.nosuch");
	expect_fields(schema_keyspace_type(ks_of(0, "ks"), "address"), "street text, city text");
}

Test(schema_types, alter_and_drop_seen_by_columns_and_refused_while_used)
{
	struct cerr e = {0};
	create_ks(0, "ks", 1);
	make_address(0, 2);
	create_udt_table(0, "people", "frozen<address>", 3);
	create_udt_table(0, "keyed", "list<frozen<address>>", 3);
	expect_fields(col_type(0, "people"), "street text, city text");
	cr_expect(col_type(0, "people")->frozen);

	const struct cqltype *zip = cqltype_simple(CQLTYPE_INT);
	cr_assert_eq(schema_alter_type_add(sch[0], "ks", "address", "zip", zip, 4, &e), 0, "%s",
	             e.msg);
	expect_fields(col_type(0, "people"), "street text, city text, zip int");
	expect_fields(col_type(0, "keyed")->elem, "street text, city text, zip int");
	cr_expect_eq(schema_alter_type_add(sch[0], "ks", "address", "zip", zip, 5, &e), COL_EINVAL);
	cr_expect_str_eq(e.msg,
	                 "Cannot add field zip to type ks.address: a field with name zip already "
	                 "exists");
	const struct cqltype *self = ptype(0, "ks", "frozen<address>", &e);
	cr_expect_eq(schema_alter_type_add(sch[0], "ks", "address", "me", self, 5, &e), COL_EINVAL);
	cr_expect_str_eq(e.msg, "Cannot add new field me of type frozen<address> to user type "
	                        "ks.address as it would create a circular reference");
	cqltype_free(self);
	cr_expect_eq(schema_alter_type_add(sch[0], "ks", "nosuch", "x", zip, 5, &e), COL_ENOTFOUND);
	cr_expect_str_eq(e.msg, "Type ks.nosuch doesn't exist");

	const char *from[] = {"city"}, *to[] = {"town"}, *bad[] = {"nope"}, *dup[] = {"street"};
	cr_assert_eq(schema_alter_type_rename(sch[0], "ks", "address", from, to, 1, 6, &e), 0, "%s",
	             e.msg);
	expect_fields(col_type(0, "people"), "street text, town text, zip int");
	cr_expect_eq(schema_alter_type_rename(sch[0], "ks", "address", bad, to, 1, 7, &e),
	             COL_EINVAL);
	cr_expect_str_eq(e.msg, "Unkown field nope in user type ks.address");
	cr_expect_eq(schema_alter_type_rename(sch[0], "ks", "address", to, dup, 1, 7, &e),
	             COL_EINVAL);
	cr_expect_str_eq(e.msg, "Duplicate field name street in type ks.address");

	static const char *const hf[] = {"home"};
	static const char *const ht[] = {"frozen<address>"};
	cr_assert_eq(create_type(0, "ks", "person", hf, ht, 1, 8, &e), 0, "%s", e.msg);
	cr_expect_eq(schema_drop_type(sch[0], "ks", "address", 9, &e), COL_EINVAL);
	cr_expect_str_eq(e.msg,
	                 "Cannot drop user type 'ks.address' as it is still used by user types "
	                 "person");
	cr_assert_eq(schema_drop_type(sch[0], "ks", "person", 9, &e), 0, "%s", e.msg);
	cr_expect_eq(schema_drop_type(sch[0], "ks", "address", 10, &e), COL_EINVAL);
	cr_expect_str_eq(e.msg, "Cannot drop user type 'ks.address' as it is still used by tables "
	                        "keyed, people");
	cr_assert_eq(schema_drop_table(sch[0], "ks", "people", 11, &e), 0, "%s", e.msg);
	cr_assert_eq(schema_drop_table(sch[0], "ks", "keyed", 11, &e), 0, "%s", e.msg);
	cr_assert_eq(schema_drop_type(sch[0], "ks", "address", 12, &e), 0, "%s", e.msg);
	cr_expect_null(schema_keyspace_type(ks_of(0, "ks"), "address"));
	cr_expect_eq(schema_drop_type(sch[0], "ks", "address", 13, &e), COL_ENOTFOUND);
	cr_expect_str_eq(e.msg, "Type 'ks.address' doesn't exist");
	make_address(0, 14); /* made again after its drop */
	expect_fields(schema_keyspace_type(ks_of(0, "ks"), "address"), "street text, city text");
}

Test(schema_types, types_persist_and_travel_to_peers)
{
	struct cerr e = {0};
	create_ks(0, "ks", 1);
	make_address(0, 2);
	static const char *const hf[] = {"home", "tags"};
	static const char *const ht[] = {"frozen<address>", "set<text>"};
	cr_assert_eq(create_type(0, "ks", "person", hf, ht, 2, 3, &e), 0, "%s", e.msg);
	create_udt_table(0, "people", "frozen<person>", 4);
	/* node 1 gets every row in key order: the column rows before the type rows */
	cr_expect_gt(sync_rows(0, 1), 0);
	char v0[40], v1[40];
	version(0, v0);
	version(1, v1);
	cr_expect_str_eq(v0, v1);
	const struct cqltype *pt = col_type(1, "people");
	expect_fields(pt, "home frozen<address>, tags frozen<set<text>>");
	expect_fields(pt->fields[0], "street text, city text");
	/* a rename on node 1 reaches node 0 */
	const char *from[] = {"city"}, *to[] = {"town"};
	cr_assert_eq(schema_alter_type_rename(sch[1], "ks", "address", from, to, 1, 5, &e), 0, "%s",
	             e.msg);
	sync_rows(1, 0);
	expect_fields(col_type(0, "people")->fields[0], "street text, town text");
	/* restart: the types come back from the store */
	close_node(0);
	open_node(0);
	expect_fields(col_type(0, "people")->fields[0], "street text, town text");
	version(0, v0);
	version(1, v1);
	cr_expect_str_eq(v0, v1);
}

Test(schema_types, malformed_type_rows_from_peers_are_refused)
{
	create_ks(0, "ks", 1);
	struct cerr e = {0};
	/* header: format 2, kind 'Y', ts 5, live; then 0 fields */
	const uint8_t zero[] = {2, 'Y', 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0};
	const char key[] = "schema/ty/ks\0t";
	struct schema_row_ref r0 = {key, sizeof(key) - 1, zero, sizeof(zero)};
	cr_expect_eq(schema_merge_rows(sch[0], &r0, 1, NULL, &e), COL_ECORRUPT);
	/* one field "a" of type "list<" (malformed) */
	const uint8_t bad[] = {2, 'Y', 0, 0,   0, 0, 0,   0,   0,   5,   0,  0,
	                       1, 0,   1, 'a', 0, 5, 'l', 'i', 's', 't', '<'};
	struct schema_row_ref r1 = {key, sizeof(key) - 1, bad, sizeof(bad)};
	cr_expect_eq(schema_merge_rows(sch[0], &r1, 1, NULL, &e), COL_ECORRUPT);
	/* a well-formed one is taken */
	const uint8_t good[] = {2, 'Y', 0, 0, 0,   0, 0, 0,   0,   5,  0,
	                        0, 1,   0, 1, 'a', 0, 3, 'i', 'n', 't'};
	struct schema_row_ref r2 = {key, sizeof(key) - 1, good, sizeof(good)};
	cr_expect_eq(schema_merge_rows(sch[0], &r2, 1, NULL, &e), 0, "%s", e.msg);
	expect_fields(schema_keyspace_type(ks_of(0, "ks"), "t"), "a int");
}
