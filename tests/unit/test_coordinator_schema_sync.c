/*
 * schema_sync codec and the merge of rows from peers (coordinator/schema/schema_sync.h,
 * schema_merge_rows in schema.h): rowset golden bytes, refusal of malformed
 * or foreign-format rowsets and of bad rows (all or nothing), last-write-wins
 * convergence whatever the order rows arrive in, tombstones.
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

#define SCHEMA_NODES_DIR "ssync"
#include "schema_nodes.h"

TestSuite(schema_sync, .init = schema_nodes_setup, .fini = schema_nodes_teardown);

/* Table (k <pktype> PRIMARY KEY, <col> <coltype>). */
static void create_table(int i, const char *ks, const char *name, const char *pktype,
                         const char *col, const char *coltype, int64_t ts)
{
	struct cerr e = {0};
	const struct cqltype *t1, *t2;
	cr_assert_eq(cqltype_parse(pktype, strlen(pktype), &t1, &e), 0);
	cr_assert_eq(cqltype_parse(coltype, strlen(coltype), &t2, &e), 0);
	struct schema_column_def cols[] = {{"k", t1, SCHEMA_COL_PARTITION_KEY, 0, false},
	                                   {col, t2, SCHEMA_COL_REGULAR, -1, false}};
	struct schema_table_def def = {.ks = ks,
	                               .name = name,
	                               .cols = cols,
	                               .n_cols = 2,
	                               .gc_grace_seconds = -1,
	                               .default_time_to_live = -1};
	cr_assert_eq(schema_create_table(sch[i], &def, ts, &e), 0, "%s", e.msg);
	cqltype_free(t1);
	cqltype_free(t2);
}

Test(schema_sync, rowset_golden_bytes)
{
	create_ks(0, "ks", 0x0102030405060708LL);
	struct buf b;
	buf_init(&b);
	schema_sync_encode_rowset(sch[0], &b);
	struct buf g;
	buf_init(&g);
	buf_put_u8(&g, 0x93); /* [format, version, rows] */
	buf_put_u8(&g, 0x01);
	buf_put_u8(&g, 0xc4);
	buf_put_u8(&g, 16);
	buf_put(&g, schema_current(sch[0])->version, 16);
	buf_put_u8(&g, 0x91); /* one row */
	buf_put_u8(&g, 0x92);
	buf_put_u8(&g, 0xc4);
	buf_put_u8(&g, 12);
	buf_put(&g, "schema/ks/ks", 12);
	static const char cls[] = "org.apache.cassandra.locator.SimpleStrategy";
	size_t vlen = 11 + 1 + 2 + (2 + 5) + (2 + strlen(cls)) + (2 + 18) + (2 + 1);
	buf_put_u8(&g, 0xc4);
	buf_put_u8(&g, (uint8_t)vlen);
	static const uint8_t hdr[] = {2, 'K', 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2};
	buf_put(&g, hdr, sizeof(hdr));
	buf_put_u16be(&g, 5);
	buf_put(&g, "class", 5);
	buf_put_u16be(&g, (uint16_t)strlen(cls));
	buf_put(&g, cls, strlen(cls));
	buf_put_u16be(&g, 18);
	buf_put(&g, "replication_factor", 18);
	buf_put_u16be(&g, 1);
	buf_put(&g, "3", 1);
	cr_assert_eq(b.len, g.len, "rowset is %zu bytes, expected %zu", b.len, g.len);
	cr_assert(memcmp(b.data, g.data, g.len) == 0, "rowset bytes");
	/* and it decodes to the same row */
	uint8_t v[16];
	struct schema_row_ref *rows;
	size_t n;
	struct cerr e = {0};
	cr_assert_eq(schema_sync_decode_rowset(b.data, b.len, v, &rows, &n, &e), 0, "%s", e.msg);
	cr_assert_eq(n, 1);
	cr_assert_eq(rows[0].klen, 12);
	cr_assert_eq(rows[0].vlen, vlen);
	cr_assert(memcmp(v, schema_current(sch[0])->version, 16) == 0);
	free(rows);
	buf_release(&b);
	buf_release(&g);
}

Test(schema_sync, malformed_and_foreign_rowsets_are_refused)
{
	create_ks(0, "ks", 100);
	char before[40], after[40];
	version(1, before);
	struct {
		const char *what;
		uint8_t bytes[40];
		size_t len;
		int code;
	} cases[] = {
	        {"empty", {0}, 0, COL_ECORRUPT},
	        {"not an array", {0x01}, 1, COL_ECORRUPT},
	        {"format 2", {0x93, 0x02, 0xc4, 0x00, 0x90}, 5, COL_EPROTO},
	        {"short version", {0x93, 0x01, 0xc4, 0x01, 0x00, 0x90}, 6, COL_ECORRUPT},
	        {"row count beyond the bytes",
	         {0x93, 0x01, 0xc4, 16, [20] = 0xdc, 0xff, 0xff},
	         23,
	         COL_ECORRUPT},
	        {"row not a pair",
	         {0x93, 0x01, 0xc4, 16, [20] = 0x91, 0x93, 0xc4, 0, 0xc4, 0, 0xc4, 0},
	         28,
	         COL_ECORRUPT},
	        {"trailing bytes", {0x93, 0x01, 0xc4, 16, [20] = 0x90, 0x00}, 22, COL_ECORRUPT},
	        {"a 2^31 row count in 25 bytes",
	         {0x93, 0x01, 0xc4, 16, [20] = 0xdd, 0x7f, 0xff, 0xff, 0xff},
	         25,
	         COL_ECORRUPT},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t applied = 99;
		struct cerr e = {0};
		int rc = schema_sync_apply_rowset(sch[1], cases[i].bytes, cases[i].len, &applied,
		                                  &e);
		cr_expect_eq(rc, cases[i].code, "%s: got %d (%s)", cases[i].what, rc, e.msg);
		cr_expect(e.msg[0], "%s: a reason is given", cases[i].what);
		cr_expect_eq(applied, 0);
	}
	/* a good rowset whose version was changed: refused */
	struct buf b;
	buf_init(&b);
	schema_sync_encode_rowset(sch[0], &b);
	b.data[4] ^= 1;
	size_t applied = 99;
	struct cerr e = {0};
	cr_expect_eq(schema_sync_apply_rowset(sch[1], b.data, b.len, &applied, &e), COL_ECORRUPT);
	cr_expect(strstr(e.msg, "claims version"), "%s", e.msg);
	buf_release(&b);
	version(1, after);
	cr_assert_str_eq(before, after);
}

/* A rowset of the given (key, value) pairs with the version they hash to. */
static void rowset(struct buf *b, const struct schema_row_ref *rows, size_t n)
{
	uint8_t v[16];
	schema_rows_version(rows, n, v);
	msgpk_put_array(b, 3);
	msgpk_put_uint(b, 1);
	msgpk_put_bin(b, v, 16);
	msgpk_put_array(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		msgpk_put_array(b, 2);
		msgpk_put_bin(b, rows[i].key, rows[i].klen);
		msgpk_put_bin(b, rows[i].val, rows[i].vlen);
	}
}

struct grab {
	struct buf keys[8], vals[8];
	size_t n;
};

static void grab_row(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct grab *g = ctx;
	if (g->n < 8) {
		buf_init(&g->keys[g->n]);
		buf_init(&g->vals[g->n]);
		buf_put(&g->keys[g->n], k, kl);
		buf_put(&g->vals[g->n], v, vl);
		g->n++;
	}
}

static void grab_free(struct grab *g)
{
	for (size_t i = 0; i < g->n; i++) {
		buf_release(&g->keys[i]);
		buf_release(&g->vals[i]);
	}
}

Test(schema_sync, one_bad_row_refuses_the_whole_set)
{
	create_ks(0, "ks", 100);
	create_table(0, "ks", "t", "int", "v", "text", 200);
	struct grab g = {0};
	schema_rows(sch[0], grab_row, &g);
	cr_assert_eq(g.n, 3); /* column row v, ks row, table row (key order) */
	char before[40], after[40];
	version(1, before);

	uint8_t bad_body[64];
	memcpy(bad_body, g.vals[2].data, 11);
	memset(bad_body + 11, 0xee, sizeof(bad_body) - 11);
	uint8_t bad_kind[11];
	memcpy(bad_kind, g.vals[1].data, 11);
	bad_kind[1] = 'X';
	uint8_t sys_ks[256];
	cr_assert(g.vals[1].len <= sizeof(sys_ks));
	memcpy(sys_ks, g.vals[1].data, g.vals[1].len);
	struct {
		const char *what;
		struct schema_row_ref rows[2];
	} cases[] = {
	        {"table row with a garbage body",
	         {{(char *)g.keys[1].data, g.keys[1].len, g.vals[1].data, g.vals[1].len},
	          {(char *)g.keys[2].data, g.keys[2].len, bad_body, sizeof(bad_body)}}},
	        {"unknown row kind",
	         {{(char *)g.keys[1].data, g.keys[1].len, bad_kind, sizeof(bad_kind)},
	          {(char *)g.keys[2].data, g.keys[2].len, g.vals[2].data, g.vals[2].len}}},
	        {"keys out of order",
	         {{(char *)g.keys[2].data, g.keys[2].len, g.vals[2].data, g.vals[2].len},
	          {(char *)g.keys[1].data, g.keys[1].len, g.vals[1].data, g.vals[1].len}}},
	        {"a keyspace row under a table key",
	         {{(char *)g.keys[1].data, g.keys[1].len, g.vals[1].data, g.vals[1].len},
	          {(char *)g.keys[2].data, g.keys[2].len, g.vals[1].data, g.vals[1].len}}},
	        {"a row for the system keyspace",
	         {{"schema/ks/system", 16, sys_ks, g.vals[1].len},
	          {(char *)g.keys[2].data, g.keys[2].len, g.vals[2].data, g.vals[2].len}}},
	        {"a bad keyspace name",
	         {{"schema/ks/no-dash", 17, g.vals[1].data, g.vals[1].len},
	          {(char *)g.keys[2].data, g.keys[2].len, g.vals[2].data, g.vals[2].len}}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		buf_init(&b);
		rowset(&b, cases[i].rows, 2);
		size_t applied = 99;
		struct cerr e = {0};
		int rc = schema_sync_apply_rowset(sch[1], b.data, b.len, &applied, &e);
		cr_expect_eq(rc, COL_ECORRUPT, "%s: got %d (%s)", cases[i].what, rc, e.msg);
		cr_expect_eq(applied, 0, "%s", cases[i].what);
		buf_release(&b);
	}
	version(1, after);
	cr_assert_str_eq(before, after, "nothing applied");
	cr_assert_null(schema_snap_keyspace(schema_current(sch[1]), "ks"), "good rows not taken");
	/* the good set goes in */
	cr_assert_eq(sync_rows(0, 1), 3);
	cr_assert_not_null(schema_snap_table(schema_current(sch[1]), "ks", "t"));
	grab_free(&g);
}

Test(schema_sync, table_id_reused_with_other_key_columns_is_refused)
{
	create_ks(0, "ks", 100);
	create_table(0, "ks", "t", "int", "v", "text", 200);
	cr_assert_eq(sync_rows(0, 1), 3);
	/* node 2 makes a table row with the same id but a text partition key */
	create_ks(2, "ks", 100);
	create_table(2, "ks", "t", "text", "v", "text", 300);
	struct grab g0 = {0}, g2 = {0};
	schema_rows(sch[0], grab_row, &g0);
	schema_rows(sch[2], grab_row, &g2);
	uint8_t forged[512];
	cr_assert(g2.vals[2].len <= sizeof(forged));
	memcpy(forged, g2.vals[2].data, g2.vals[2].len);
	memcpy(forged + 11, g0.vals[2].data + 11, 16); /* node 0's table id */
	struct schema_row_ref r = {(char *)g2.keys[2].data, g2.keys[2].len, forged, g2.vals[2].len};
	struct buf b;
	buf_init(&b);
	rowset(&b, &r, 1);
	size_t applied = 0;
	struct cerr e = {0};
	cr_expect_eq(schema_sync_apply_rowset(sch[1], b.data, b.len, &applied, &e), COL_ECORRUPT,
	             "%s", e.msg);
	cr_expect(strstr(e.msg, "key columns"), "%s", e.msg);
	buf_release(&b);
	/* the same id under another table's name: one id is one column family */
	memcpy(forged, g0.vals[2].data, g0.vals[2].len);
	static const char other[] = "schema/tb/ks\0t2";
	struct schema_row_ref r2 = {other, sizeof(other) - 1, forged, g0.vals[2].len};
	buf_init(&b);
	rowset(&b, &r2, 1);
	cr_expect_eq(schema_sync_apply_rowset(sch[1], b.data, b.len, &applied, &e), COL_ECORRUPT,
	             "%s", e.msg);
	cr_expect(strstr(e.msg, "another table"), "%s", e.msg);
	cr_expect_null(schema_snap_table(schema_current(sch[1]), "ks", "t2"));
	buf_release(&b);
	grab_free(&g0);
	grab_free(&g2);
	const struct schema_table *t = schema_snap_table(schema_current(sch[1]), "ks", "t");
	cr_assert_not_null(t);
	cr_assert_eq(t->cols[0].type->kind, CQLTYPE_INT, "key column still int");
}

Test(schema_sync, concurrent_ddl_converges_in_any_order)
{
	/* node 0 and node 1 create the same keyspace, different tables, and the
	 * same table with different definitions; neither has seen the other. */
	create_ks(0, "ks", 100);
	create_table(0, "ks", "a", "int", "v", "text", 200);
	create_table(0, "ks", "same", "int", "v", "text", 300);
	create_ks(1, "ks", 150);
	create_table(1, "ks", "b", "int", "v", "text", 250);
	create_table(1, "ks", "same", "text", "w", "int", 350); /* newer: wins */
	/* node 2 hears node 1 first, then node 0; nodes 0 and 1 exchange */
	sync_rows(1, 2);
	sync_rows(0, 2);
	sync_rows(0, 1);
	sync_rows(1, 0);
	char v0[40], v1[40], v2[40];
	version(0, v0);
	version(1, v1);
	version(2, v2);
	cr_assert_str_eq(v0, v1);
	cr_assert_str_eq(v0, v2);
	for (int i = 0; i < N_NODES; i++) {
		const struct schema_snap *s = schema_current(sch[i]);
		cr_assert_not_null(schema_snap_table(s, "ks", "a"), "node %d has a", i);
		cr_assert_not_null(schema_snap_table(s, "ks", "b"), "node %d has b", i);
		const struct schema_table *t = schema_snap_table(s, "ks", "same");
		cr_assert_not_null(t);
		cr_assert_not_null(schema_table_column(t, "w"), "node %d: the newer definition", i);
		cr_assert_null(schema_table_column(t, "v"), "node %d", i);
		cr_assert_eq(schema_snap_keyspace(s, "ks")->timestamp, 150, "newer keyspace row");
		cr_assert_not_null(t->st, "node %d opened the table's storage", i);
	}
	/* a second exchange changes nothing */
	cr_assert_eq(sync_rows(0, 1), 0);
	cr_assert_eq(sync_rows(2, 0), 0);
	/* and it survives a restart */
	close_node(2);
	open_node(2);
	version(2, v2);
	cr_assert_str_eq(v0, v2);
}

Test(schema_sync, tables_are_found_by_id_until_dropped_and_not_by_a_new_table_of_that_name)
{
	create_ks(0, "ks", 100);
	create_ks(0, "other", 100);
	create_table(0, "ks", "t", "int", "v", "text", 200);
	create_table(0, "other", "u", "int", "v", "text", 200);
	const struct schema_snap *s = schema_current(sch[0]);
	const struct schema_table *t = schema_snap_table(s, "ks", "t");
	const struct schema_table *u = schema_snap_table(s, "other", "u");
	uint8_t tid[16];
	memcpy(tid, t->id, 16);
	cr_expect_eq(schema_snap_table_by_id(s, tid), t);
	cr_expect_eq(schema_snap_table_by_id(s, u->id), u);
	cr_expect_eq(schema_keyspace_table_by_id(schema_snap_keyspace(s, "ks"), tid), t);
	cr_expect_null(schema_keyspace_table_by_id(schema_snap_keyspace(s, "ks"), u->id),
	               "u is in another keyspace");
	struct cerr e = {0};
	cr_assert_eq(schema_drop_table(sch[0], "ks", "t", 300, &e), 0, "%s", e.msg);
	create_table(0, "ks", "t", "int", "v", "text", 400);
	s = schema_current(sch[0]);
	cr_assert_not_null(schema_snap_table(s, "ks", "t"));
	cr_expect_null(schema_snap_table_by_id(s, tid), "the dropped table's id is gone");
	cr_expect_null(schema_keyspace_table_by_id(schema_snap_keyspace(s, "ks"), tid));
}

Test(schema_sync, drops_travel_as_tombstones_and_older_rows_do_not_resurrect)
{
	create_ks(0, "ks", 100);
	create_table(0, "ks", "t", "int", "v", "text", 200);
	sync_rows(0, 1);
	sync_rows(0, 2); /* node 2 keeps the live row: it will replay it later */
	struct cerr e = {0};
	cr_assert_eq(schema_drop_table(sch[0], "ks", "t", 300, &e), 0, "%s", e.msg);
	cr_assert_eq(sync_rows(0, 1), 1);
	cr_assert_null(schema_snap_table(schema_current(sch[1]), "ks", "t"), "dropped on node 1");
	/* node 2's stale live row reaches node 1: the tombstone is newer */
	cr_assert_eq(sync_rows(2, 1), 0);
	cr_assert_null(schema_snap_table(schema_current(sch[1]), "ks", "t"));
	/* node 2 learns the drop */
	cr_assert_eq(sync_rows(1, 2), 1);
	cr_assert_null(schema_snap_table(schema_current(sch[2]), "ks", "t"));
	char v0[40], v2[40];
	version(0, v0);
	version(2, v2);
	cr_assert_str_eq(v0, v2);
	/* re-created later: the new row wins over the tombstone everywhere */
	create_table(2, "ks", "t", "text", "x", "int", 400);
	cr_assert_eq(sync_rows(2, 0), 2); /* table row and column row x */
	const struct schema_table *t = schema_snap_table(schema_current(sch[0]), "ks", "t");
	cr_assert_not_null(t);
	cr_assert_not_null(schema_table_column(t, "x"));
}

/*
 * A rowset written by hand from the formats in schema.h and schema_sync.h (also
 * the fuzz seed tests/fuzz/corpus/fuzz_coordinator_schema_sync/keyspace_table_tombstone):
 * keyspace ks, a tombstone for ks.gone, and ks.t (table row: k int, c text DESC
 * clustering, comment "a comment", table id 00 01 .. 0f; column row: v
 * map<text, frozen<list<int>>>, id 2).
 */
static const uint8_t handmade_rowset[] = {
        0x93, 0x01, 0xc4, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x94, 0x92, 0xc4, 0x10, 0x73, 0x63, 0x68, 0x65, 0x6d, 0x61,
        0x2f, 0x63, 0x6f, 0x2f, 0x6b, 0x73, 0x00, 0x74, 0x00, 0x76, 0xc4, 0x3e, 0x02, 0x43, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc8, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
        0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00,
        0x1c, 0x6d, 0x61, 0x70, 0x3c, 0x74, 0x65, 0x78, 0x74, 0x2c, 0x20, 0x66, 0x72, 0x6f, 0x7a,
        0x65, 0x6e, 0x3c, 0x6c, 0x69, 0x73, 0x74, 0x3c, 0x69, 0x6e, 0x74, 0x3e, 0x3e, 0x3e, 0x92,
        0xc4, 0x0c, 0x73, 0x63, 0x68, 0x65, 0x6d, 0x61, 0x2f, 0x6b, 0x73, 0x2f, 0x6b, 0x73, 0xc4,
        0x59, 0x02, 0x4b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64, 0x00, 0x01, 0x00, 0x02,
        0x00, 0x05, 0x63, 0x6c, 0x61, 0x73, 0x73, 0x00, 0x2b, 0x6f, 0x72, 0x67, 0x2e, 0x61, 0x70,
        0x61, 0x63, 0x68, 0x65, 0x2e, 0x63, 0x61, 0x73, 0x73, 0x61, 0x6e, 0x64, 0x72, 0x61, 0x2e,
        0x6c, 0x6f, 0x63, 0x61, 0x74, 0x6f, 0x72, 0x2e, 0x53, 0x69, 0x6d, 0x70, 0x6c, 0x65, 0x53,
        0x74, 0x72, 0x61, 0x74, 0x65, 0x67, 0x79, 0x00, 0x12, 0x72, 0x65, 0x70, 0x6c, 0x69, 0x63,
        0x61, 0x74, 0x69, 0x6f, 0x6e, 0x5f, 0x66, 0x61, 0x63, 0x74, 0x6f, 0x72, 0x00, 0x01, 0x33,
        0x92, 0xc4, 0x11, 0x73, 0x63, 0x68, 0x65, 0x6d, 0x61, 0x2f, 0x74, 0x62, 0x2f, 0x6b, 0x73,
        0x00, 0x67, 0x6f, 0x6e, 0x65, 0xc4, 0x0b, 0x02, 0x54, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x2c, 0x01, 0x92, 0xc4, 0x0e, 0x73, 0x63, 0x68, 0x65, 0x6d, 0x61, 0x2f, 0x74, 0x62,
        0x2f, 0x6b, 0x73, 0x00, 0x74, 0xc4, 0x51, 0x02, 0x54, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0xc8, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
        0x0c, 0x0d, 0x0e, 0x0f, 0x00, 0x0d, 0x2f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x61,
        0x20, 0x63, 0x6f, 0x6d, 0x6d, 0x65, 0x6e, 0x74, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x6b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x69, 0x6e, 0x74, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x01, 0x63, 0x01, 0x00, 0x00, 0x01, 0x00, 0x04, 0x74, 0x65, 0x78, 0x74,
};

/* Copy of a rowset (version zero) with the version its rows hash to patched in. */
static uint8_t *with_version(const uint8_t *p, size_t len)
{
	uint8_t *c = malloc(len);
	cr_assert_not_null(c);
	memcpy(c, p, len);
	uint8_t v[16];
	struct schema_row_ref *rows;
	size_t n;
	struct cerr e = {0};
	cr_assert_eq(schema_sync_decode_rowset(c, len, v, &rows, &n, &e), 0, "%s", e.msg);
	schema_rows_version(rows, n, c + 4); /* after 0x93 0x01 0xc4 0x10 */
	free(rows);
	return c;
}

Test(schema_sync, handmade_rowset_decodes_to_the_documented_table)
{
	size_t applied = 0;
	struct cerr e = {0};
	/* as written (version zero): its rows do not hash to it */
	cr_assert_eq(schema_sync_apply_rowset(sch[0], handmade_rowset, sizeof(handmade_rowset),
	                                      &applied, &e),
	             COL_ECORRUPT);
	cr_assert(strstr(e.msg, "claims version 00000000-0000-0000-0000-000000000000"), "%s",
	          e.msg);
	uint8_t *fixed = with_version(handmade_rowset, sizeof(handmade_rowset));
	int rc = schema_sync_apply_rowset(sch[0], fixed, sizeof(handmade_rowset), &applied, &e);
	free(fixed);
	cr_assert_eq(rc, 0, "%s", e.msg);
	cr_assert_eq(applied, 4);
	const struct schema_snap *s = schema_current(sch[0]);
	const struct schema_keyspace *k = schema_snap_keyspace(s, "ks");
	cr_assert_not_null(k);
	cr_assert_eq(k->replication_factor, 3);
	cr_assert_eq(k->timestamp, 100);
	cr_assert_null(schema_snap_table(s, "ks", "gone"));
	const struct schema_table *t = schema_snap_table(s, "ks", "t");
	cr_assert_not_null(t);
	cr_assert_eq(t->timestamp, 200);
	cr_assert_eq(t->n_pk, 1);
	cr_assert_eq(t->n_ck, 1);
	cr_assert_eq(t->n_cols, 3);
	cr_assert_eq(t->n_dropped, 0);
	cr_assert_eq(t->gc_grace_seconds, 864000);
	cr_assert_str_eq(t->comment, "a comment");
	for (int i = 0; i < 16; i++)
		cr_assert_eq(t->id[i], i);
	cr_assert_str_eq(t->cols[0].name, "k");
	cr_assert_eq(t->cols[0].type->kind, CQLTYPE_INT);
	cr_assert_str_eq(t->cols[1].name, "c");
	cr_assert(t->cols[1].desc);
	cr_assert_eq(t->cols[1].kind, SCHEMA_COL_CLUSTERING);
	const struct schema_column *v = schema_table_column(t, "v");
	cr_assert_not_null(v);
	cr_assert_eq(v->id, 2);
	cr_assert_eq(v->kind, SCHEMA_COL_REGULAR);
	struct buf tn;
	buf_init(&tn);
	cqltype_name(v->type, &tn);
	cr_assert_eq(tn.len, strlen("map<text, frozen<list<int>>>"));
	cr_assert(memcmp(tn.data, "map<text, frozen<list<int>>>", tn.len) == 0);
	buf_release(&tn);
	cr_assert_not_null(t->st, "storage opened");
	/* and our own encoding of what we merged is byte-identical to the input's rows */
	struct buf b;
	buf_init(&b);
	schema_sync_encode_rowset(sch[0], &b);
	cr_assert_eq(b.len, sizeof(handmade_rowset));
	cr_assert(memcmp(b.data + 20, handmade_rowset + 20, b.len - 20) == 0, "rows re-encode");
	buf_release(&b);
}

/* Table and column rows the store would refuse (storage.h's descriptor rules), rows of
 * another layout or format: each refused up front.  Each is one row of ks.t (table id
 * 00 01 .. 0f, timestamp 200) in the layout of schema.h, built by bad_row(). */
struct key_col {
	uint32_t id;
	const char *name;
	enum schema_col_kind kind;
	int16_t position;
	const char *type;
};
struct bad_table_case {
	const char *what;
	char kind;      /* 'T': the table row, 'C': the row of column `column` */
	uint8_t format; /* 2, the current one */
	/* 'T' */
	int32_t default_ttl;
	struct key_col cols[2];
	uint16_t n_cols;
	/* 'C' */
	const char *column;
	enum schema_col_kind col_kind;
	const char *col_type;
	bool trailing_byte;
};
static const struct bad_table_case bad_tables[] = {
        {"a counter column", 'C', 2, .column = "n", .col_kind = SCHEMA_COL_REGULAR,
         .col_type = "counter"},
        {"a key column at position 1", 'T', 2,
         .cols = {{0, "k", SCHEMA_COL_PARTITION_KEY, 1, "int"}}, .n_cols = 1},
        {"a non-frozen collection key", 'T', 2,
         .cols = {{0, "k", SCHEMA_COL_PARTITION_KEY, 0, "list<int>"}}, .n_cols = 1},
        {"two columns with one name", 'T', 2,
         .cols = {{0, "k", SCHEMA_COL_PARTITION_KEY, 0, "int"},
                  {1, "k", SCHEMA_COL_CLUSTERING, 0, "int"}},
         .n_cols = 2},
        {"two columns with one id", 'T', 2,
         .cols = {{0, "k", SCHEMA_COL_PARTITION_KEY, 0, "int"},
                  {0, "c", SCHEMA_COL_CLUSTERING, 0, "int"}},
         .n_cols = 2},
        {"a negative default ttl", 'T', 2, .default_ttl = -5,
         .cols = {{0, "k", SCHEMA_COL_PARTITION_KEY, 0, "int"}}, .n_cols = 1},
        {"no partition key", 'T', 2, .cols = {{0, "c", SCHEMA_COL_CLUSTERING, 0, "int"}},
         .n_cols = 1},
        {"a regular column in a table row", 'T', 2,
         .cols = {{0, "k", SCHEMA_COL_PARTITION_KEY, 0, "int"},
                  {1, "v", SCHEMA_COL_REGULAR, -1, "int"}},
         .n_cols = 2},
        {"a column row of a key kind", 'C', 2, .column = "v", .col_kind = SCHEMA_COL_CLUSTERING,
         .col_type = "int"},
        {"a column row with trailing bytes", 'C', 2, .column = "v", .col_kind = SCHEMA_COL_REGULAR,
         .col_type = "int", .trailing_byte = true},
        {"a format 1 row", 'T', 1, .cols = {{0, "k", SCHEMA_COL_PARTITION_KEY, 0, "int"}},
         .n_cols = 1},
};

static void put_str16(struct buf *b, const char *s)
{
	buf_put_u16be(b, (uint16_t)strlen(s));
	buf_put(b, s, strlen(s));
}

/* Case c as a rowset of its one row, with the version its row hashes to (free it). */
static uint8_t *bad_row(const struct bad_table_case *c, size_t *len)
{
	static const char table_key[] = "schema/tb/ks\0t";
	char col_key[64];
	int col_klen = snprintf(col_key, sizeof(col_key), "schema/co/ks%ct%c%s", 0, 0,
	                        c->column ? c->column : "");
	struct buf v;
	buf_init(&v);
	buf_put_u8(&v, c->format);
	buf_put_u8(&v, (uint8_t)c->kind);
	buf_put_u64be(&v, 200); /* timestamp */
	buf_put_u8(&v, 0);      /* not dropped */
	for (uint8_t i = 0; i < 16; i++)
		buf_put_u8(&v, i); /* table id */
	if (c->kind == 'T') {
		buf_put_u32be(&v, 864000); /* gc_grace_seconds */
		buf_put_u32be(&v, (uint32_t)c->default_ttl);
		put_str16(&v, ""); /* comment */
		buf_put_u16be(&v, c->n_cols);
		for (uint16_t i = 0; i < c->n_cols; i++) {
			const struct key_col *k = &c->cols[i];
			buf_put_u32be(&v, k->id);
			put_str16(&v, k->name);
			buf_put_u8(&v, (uint8_t)k->kind);
			buf_put_u16be(&v, (uint16_t)k->position);
			buf_put_u8(&v, 0); /* not DESC */
			put_str16(&v, k->type);
		}
	} else {
		buf_put_u32be(&v, 2); /* column id */
		buf_put_u8(&v, (uint8_t)c->col_kind);
		put_str16(&v, c->col_type);
		if (c->trailing_byte)
			buf_put_u8(&v, 0);
	}
	static const uint8_t zero_version[16];
	struct buf b;
	buf_init(&b);
	msgpk_put_array(&b, 3);
	msgpk_put_uint(&b, 1);
	msgpk_put_bin(&b, zero_version, 16);
	msgpk_put_array(&b, 1);
	msgpk_put_array(&b, 2);
	if (c->kind == 'T')
		msgpk_put_bin(&b, table_key, sizeof(table_key) - 1);
	else
		msgpk_put_bin(&b, col_key, (size_t)col_klen);
	msgpk_put_bin(&b, v.data, v.len);
	cr_assert(buf_ok(&b) && buf_ok(&v));
	uint8_t *fixed = with_version(b.data, b.len);
	*len = b.len;
	buf_release(&v);
	buf_release(&b);
	return fixed;
}

Test(schema_sync, table_rows_the_store_would_refuse_are_refused)
{
	create_ks(1, "ks", 100);
	char before[40], after[40];
	version(1, before);
	for (size_t i = 0; i < sizeof(bad_tables) / sizeof(bad_tables[0]); i++) {
		size_t applied = 99;
		struct cerr e = {0};
		size_t len;
		uint8_t *fixed = bad_row(&bad_tables[i], &len);
		int rc = schema_sync_apply_rowset(sch[1], fixed, len, &applied, &e);
		free(fixed);
		cr_expect_eq(rc, COL_ECORRUPT, "%s: got %d (%s)", bad_tables[i].what, rc, e.msg);
		cr_expect_eq(applied, 0, "%s", bad_tables[i].what);
	}
	version(1, after);
	cr_assert_str_eq(before, after);
	/* the node still restarts with its schema */
	close_node(1);
	open_node(1);
	version(1, after);
	cr_assert_str_eq(before, after);
}

/* ---- columns: each merges on its own -------------------------------------------------------- */

/* ALTER TABLE ks.t ADD <col> <type> on node i at ts. */
static void add_column(int i, const char *col, const char *type, int64_t ts)
{
	struct cerr e = {0};
	const struct cqltype *t;
	cr_assert_eq(cqltype_parse(type, strlen(type), &t, &e), 0);
	struct schema_column_def def = {col, t, SCHEMA_COL_REGULAR, -1, false};
	cr_assert_eq(schema_alter_table_add(sch[i], "ks", "t", &def, 1, ts, &e), 0, "%s", e.msg);
	cqltype_free(t);
}

static void drop_column(int i, const char *col, int64_t ts)
{
	struct cerr e = {0};
	const char *names[] = {col};
	cr_assert_eq(schema_alter_table_drop(sch[i], "ks", "t", names, 1, ts, &e), 0, "%s", e.msg);
}

/* The id of column col of ks.t on node i, or -1 when it has no such column. */
static int64_t column_id(int i, const char *col)
{
	const struct schema_table *t = schema_snap_table(schema_current(sch[i]), "ks", "t");
	cr_assert_not_null(t);
	const struct schema_column *c = schema_table_column(t, col);
	return c ? (int64_t)c->id : -1;
}

static void expect_same_version(int a, int b)
{
	char va[40], vb[40];
	version(a, va);
	version(b, vb);
	cr_assert_str_eq(va, vb, "nodes %d and %d agree", a, b);
}

Test(schema_sync, concurrent_adds_on_two_nodes_keep_both_columns_with_distinct_ids)
{
	create_ks(0, "ks", 100);
	create_table(0, "ks", "t", "int", "v", "text", 200);
	sync_rows(0, 1);
	/* different columns at the same instant on two nodes */
	add_column(0, "a", "int", 300);
	add_column(1, "b", "text", 300);
	cr_assert_eq(sync_rows(0, 1), 1);
	cr_assert_eq(sync_rows(1, 0), 1);
	expect_same_version(0, 1);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(column_id(i, "v"), 1, "CREATE TABLE's ids are kept");
		cr_assert_geq(column_id(i, "a"), 0, "a on node %d", i);
		cr_assert_geq(column_id(i, "b"), 0, "b on node %d", i);
		cr_assert_neq(column_id(i, "a"), column_id(i, "b"));
	}
	cr_assert_eq(column_id(0, "a"), column_id(1, "a"));
	cr_assert_eq(column_id(0, "b"), column_id(1, "b"));
	/* the same column added on both: one id, so writes through either node are kept */
	add_column(0, "c", "int", 400);
	add_column(1, "c", "int", 401);
	cr_assert_eq(column_id(0, "c"), column_id(1, "c"));
	sync_rows(0, 1);
	sync_rows(1, 0);
	expect_same_version(0, 1);
	/* with another type it is another column: its id differs */
	add_column(0, "d", "int", 500);
	add_column(1, "d", "text", 501);
	cr_assert_neq(column_id(0, "d"), column_id(1, "d"));
	sync_rows(0, 1);
	sync_rows(1, 0);
	expect_same_version(0, 1);
	cr_assert_eq(column_id(0, "d"), column_id(1, "d"), "the later ADD won on both");
}

Test(schema_sync, a_dropped_column_stays_dropped_whatever_the_merge_order)
{
	create_ks(0, "ks", 100);
	create_table(0, "ks", "t", "int", "v", "text", 200);
	sync_rows(0, 1);
	sync_rows(0, 2); /* node 2 keeps the old rows to replay them later */
	int64_t old = column_id(0, "v");
	/* DROP on node 0 racing a later ADD on node 1 */
	drop_column(0, "v", 300);
	add_column(1, "y", "int", 400);
	cr_assert_eq(sync_rows(1, 0), 1);
	cr_assert_eq(sync_rows(0, 1), 1);
	expect_same_version(0, 1);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(column_id(i, "v"), -1, "v stays dropped on node %d", i);
		cr_assert_geq(column_id(i, "y"), 0, "y on node %d", i);
		const struct schema_table *t = schema_snap_table(schema_current(sch[i]), "ks", "t");
		cr_assert_eq(t->n_dropped, 1);
		cr_assert_str_eq(t->dropped[0].name, "v");
		cr_assert_eq(t->dropped[0].id, old);
		cr_assert_eq(t->dropped[0].dropped_time, 300);
	}
	/* node 2's stale rows change nothing */
	cr_assert_eq(sync_rows(2, 0), 0);
	cr_assert_eq(column_id(0, "v"), -1);
	/* added again: a new id, so the old cells stay invisible */
	add_column(2, "z", "int", 250); /* node 2 still has v: its ADD is older than the drop */
	sync_rows(0, 2);
	sync_rows(2, 0);
	expect_same_version(0, 2);
	cr_assert_eq(column_id(2, "v"), -1);
	add_column(1, "v", "text", 600);
	int64_t again = column_id(1, "v");
	cr_assert_geq(again, 0);
	cr_assert_neq(again, old);
	sync_rows(1, 0);
	cr_assert_eq(column_id(0, "v"), again);
	/* and it survives a restart */
	close_node(0);
	open_node(0);
	cr_assert_eq(column_id(0, "v"), again);
	cr_assert_geq(column_id(0, "z"), 0);
}

/* A format 1 row (schema.h's layout before column rows): header, then body. */
static void legacy_header(struct buf *b, char kind, int64_t ts, bool dropped)
{
	buf_put_u8(b, 1);
	buf_put_u8(b, (uint8_t)kind);
	buf_put_u64be(b, (uint64_t)ts);
	buf_put_u8(b, dropped);
}

static void legacy_column(struct buf *b, uint32_t id, const char *name, uint8_t kind, int16_t pos,
                          const char *type)
{
	buf_put_u32be(b, id);
	buf_put_u16be(b, (uint16_t)strlen(name));
	buf_put_str(b, name);
	buf_put_u8(b, kind);
	buf_put_u16be(b, (uint16_t)pos);
	buf_put_u8(b, 0);
	buf_put_u16be(b, (uint16_t)strlen(type));
	buf_put_str(b, type);
}

static void put_row(int i, const char *key, size_t klen, const struct buf *val)
{
	struct cerr e = {0};
	cr_assert(buf_ok(val));
	cr_assert_eq(store_kv_put(st[i], STORE_CF_SYSTEM, key, klen, val->data, val->len, &e), 0,
	             "%s", e.msg);
}

static void count_format2(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	(void)k;
	(void)kl;
	int *n = ctx;
	cr_assert(vl > 0 && ((const uint8_t *)v)[0] == 2, "row of format %d",
	          vl ? ((const uint8_t *)v)[0] : -1);
	(*n)++;
}

Test(schema_sync, format_1_rows_are_converted_on_open_with_column_ids_unchanged)
{
	close_node(0);
	struct cerr e = {0};
	struct store_options o;
	store_options_init(&o);
	o.data_dir = dirs[0];
	cr_assert_eq(store_open(&o, &st[0], &e), 0, "%s", e.msg);
	struct buf b;
	buf_init(&b);
	legacy_header(&b, 'K', 100, false);
	buf_put_u8(&b, 1);
	buf_put_u16be(&b, 2);
	const char *kv[] = {"class", "org.apache.cassandra.locator.SimpleStrategy",
	                    "replication_factor", "1"};
	for (int i = 0; i < 4; i++) {
		buf_put_u16be(&b, (uint16_t)strlen(kv[i]));
		buf_put_str(&b, kv[i]);
	}
	put_row(0, "schema/ks/ks", 12, &b);
	buf_reset(&b);
	legacy_header(&b, 'T', 150, true);
	put_row(0, "schema/tb/ks\0gone", 17, &b);
	/* ks.t: k (0), w (1), v (3); 2 and 4 were dropped long ago */
	buf_reset(&b);
	legacy_header(&b, 'T', 200, false);
	for (uint8_t i = 0; i < 16; i++)
		buf_put_u8(&b, i);
	buf_put_u32be(&b, 864000);
	buf_put_u32be(&b, 0);
	buf_put_u16be(&b, 0);
	buf_put_u32be(&b, 5);
	buf_put_u16be(&b, 3);
	legacy_column(&b, 0, "k", 0, 0, "int");
	legacy_column(&b, 3, "v", 2, -1, "text");
	legacy_column(&b, 1, "w", 2, -1, "int");
	put_row(0, "schema/tb/ks\0t", 14, &b);
	buf_release(&b);
	store_close(st[0]);
	open_node(0);
	cr_assert_eq(column_id(0, "k"), 0);
	cr_assert_eq(column_id(0, "w"), 1);
	cr_assert_eq(column_id(0, "v"), 3);
	cr_assert_null(schema_snap_table(schema_current(sch[0]), "ks", "gone"));
	const struct schema_table *t = schema_snap_table(schema_current(sch[0]), "ks", "t");
	cr_assert_eq(t->timestamp, 200);
	cr_assert_not_null(t->st);
	int n = 0;
	schema_rows(sch[0], count_format2, &n);
	cr_assert_eq(n, 5, "ks, gone, t and column rows v, w");
	/* the conversion was persisted: a restart finds the same rows */
	char before[40], after[40];
	version(0, before);
	close_node(0);
	open_node(0);
	version(0, after);
	cr_assert_str_eq(before, after);
	/* a column added now cannot meet an old id, and a peer takes the whole schema */
	add_column(0, "x", "int", 300);
	cr_assert_geq(column_id(0, "x"), 0x80000000LL);
	cr_assert_eq(sync_rows(0, 1), 6);
	expect_same_version(0, 1);
	cr_assert_eq(column_id(1, "v"), 3);
}

/* The names of table ks.t's indexes on node i, comma-separated, into out. */
static const char *index_names(int i, const char *table, char *out, size_t n)
{
	out[0] = 0;
	const struct schema_table *t = schema_snap_table(schema_current(sch[i]), "ks", table);
	cr_assert_not_null(t, "node %d has ks.%s", i, table);
	size_t at = 0;
	for (uint32_t j = 0; j < t->n_indexes; j++)
		at += (size_t)snprintf(out + at, n - at, "%s%s:%s", j ? "," : "",
		                       t->indexes[j].name, t->indexes[j].column);
	return out;
}

Test(schema_sync, indexes_travel_persist_drop_and_die_with_their_table_or_column)
{
	char names[256], v0[40], v1[40];
	struct cerr e = {0};
	create_ks(0, "ks", 100);
	create_table(0, "ks", "t", "int", "v", "text", 200);
	cr_assert_eq(
	        schema_create_index(sch[0], "ks", "t", "t_v_idx", "v", SCHEMA_INDEX_VALUE, 300, &e),
	        0, "%s", e.msg);
	cr_expect_eq(
	        schema_create_index(sch[0], "ks", "t", "t_v_idx", "v", SCHEMA_INDEX_VALUE, 310, &e),
	        COL_EEXIST);
	cr_expect_eq(
	        schema_create_index(sch[0], "ks", "nope", "i", "v", SCHEMA_INDEX_VALUE, 310, &e),
	        COL_ENOTFOUND);
	cr_expect_str_eq(index_names(0, "t", names, sizeof(names)), "t_v_idx:v");
	/* a peer learns it with the table; the versions agree; a restart keeps it */
	cr_assert_eq(sync_rows(0, 1), 4); /* keyspace, table, column, index */
	cr_expect_str_eq(index_names(1, "t", names, sizeof(names)), "t_v_idx:v");
	version(0, v0);
	version(1, v1);
	cr_assert_str_eq(v0, v1);
	close_node(1);
	open_node(1);
	cr_expect_str_eq(index_names(1, "t", names, sizeof(names)), "t_v_idx:v");
	const struct schema_keyspace *k = schema_snap_keyspace(schema_current(sch[1]), "ks");
	const struct schema_index *ix = NULL;
	cr_expect_not_null(schema_keyspace_index(k, "t_v_idx", &ix));
	cr_expect_eq(ix->kind, SCHEMA_INDEX_VALUE);
	/* the indexed column cannot be dropped while the index exists */
	const char *drop[] = {"v"};
	cr_expect_eq(schema_alter_table_drop(sch[1], "ks", "t", drop, 1, 400, &e), COL_EINVAL);
	cr_expect_str_eq(e.msg, "Cannot drop column v because it has dependent secondary indexes "
	                        "(t_v_idx)");
	/* DROP INDEX travels as a tombstone; an older live row does not bring it back */
	cr_assert_eq(sync_rows(0, 2), 4);
	cr_assert_eq(schema_drop_index(sch[1], "ks", "t_v_idx", 500, &e), 0, "%s", e.msg);
	cr_expect_eq(schema_drop_index(sch[1], "ks", "t_v_idx", 510, &e), COL_ENOTFOUND);
	cr_expect_str_eq(index_names(1, "t", names, sizeof(names)), "");
	cr_expect_eq(sync_rows(2, 1), 0);
	cr_expect_eq(sync_rows(1, 0), 1);
	cr_expect_str_eq(index_names(0, "t", names, sizeof(names)), "");
	/* an index of a dropped table does not pass to a new table of that name */
	cr_assert_eq(
	        schema_create_index(sch[0], "ks", "t", "again", "v", SCHEMA_INDEX_VALUE, 600, &e),
	        0, "%s", e.msg);
	cr_assert_eq(schema_drop_table(sch[0], "ks", "t", 700, &e), 0, "%s", e.msg);
	create_table(0, "ks", "t", "int", "v", "text", 800);
	cr_expect_str_eq(index_names(0, "t", names, sizeof(names)), "");
	cr_expect_null(schema_keyspace_index(schema_snap_keyspace(schema_current(sch[0]), "ks"),
	                                     "again", NULL));
}

Test(schema_sync, malformed_index_rows_are_refused)
{
	struct cerr e = {0};
	/* header: format 2, 'I', timestamp 1, live; table id; kind KEYS; column "m" */
	uint8_t row[11 + 16 + 1 + 2 + 1] = {0x02, 'I', 0, 0, 0, 0, 0, 0, 0, 1, 0};
	row[27] = SCHEMA_INDEX_KEYS;
	row[28] = 0;
	row[29] = 1;
	row[30] = 'm';
	const char key[] = "schema/ix/ks\0t\0i";
	cr_expect_eq(schema_row_check(key, sizeof(key) - 1, row, sizeof(row), NULL, &e), 0, "%s",
	             e.msg);
	/* cut short, a key without an index name, an unknown kind, an empty column */
	cr_expect_eq(schema_row_check(key, sizeof(key) - 1, row, 20, NULL, &e), COL_ECORRUPT);
	const char nokey[] = "schema/ix/ks\0t";
	cr_expect_eq(schema_row_check(nokey, sizeof(nokey) - 1, row, sizeof(row), NULL, &e),
	             COL_ECORRUPT);
	row[27] = 9;
	cr_expect_eq(schema_row_check(key, sizeof(key) - 1, row, sizeof(row), NULL, &e),
	             COL_ECORRUPT);
	row[27] = SCHEMA_INDEX_KEYS;
	row[29] = 0;
	cr_expect_eq(schema_row_check(key, sizeof(key) - 1, row, sizeof(row) - 1, NULL, &e),
	             COL_ECORRUPT);
}

/* ---- schema_snap_diff: the events a merge announces ------------------------------------ */

struct events {
	char text[1024];
};

static void on_event(void *ctx, enum schema_ev_change c, enum schema_ev_target t, const char *ks,
                     const char *name)
{
	struct events *ev = ctx;
	size_t n = strlen(ev->text);
	snprintf(ev->text + n, sizeof(ev->text) - n, "%s %s %s%s%s;", schema_ev_change_name(c),
	         schema_ev_target_name(t), ks, name ? "." : "", name ? name : "");
}

/* Sync node `from` into node `to`; the events the merge made there. */
static void sync_events(int from, int to, struct events *ev)
{
	memset(ev, 0, sizeof(*ev));
	const struct schema_snap *before = schema_snap_ref(sch[to]);
	sync_rows(from, to);
	schema_snap_diff(before, schema_current(sch[to]), on_event, ev);
	schema_snap_unref(sch[to], before);
}

Test(schema_sync, a_merge_is_announced_as_the_changes_it_made)
{
	struct events ev;
	struct cerr e = {0};
	create_ks(0, "ks", 100);
	const struct cqltype *it;
	cr_assert_eq(cqltype_parse("int", 3, &it, &e), 0);
	const char *f[] = {"a"};
	cr_assert_eq(schema_create_type(sch[0], "ks", "ty", f, &it, 1, 150, &e), 0, "%s", e.msg);
	create_table(0, "ks", "t", "int", "v", "text", 200);
	sync_events(0, 1, &ev);
	cr_assert_str_eq(ev.text, "CREATED KEYSPACE ks;CREATED TYPE ks.ty;CREATED TABLE ks.t;");
	sync_events(0, 1, &ev);
	cr_assert_str_eq(ev.text, "", "nothing new, nothing announced");

	struct schema_column_def add[] = {{"w", it, SCHEMA_COL_REGULAR, -1, false}};
	cr_assert_eq(schema_alter_table_add(sch[0], "ks", "t", add, 1, 300, &e), 0, "%s", e.msg);
	cr_assert_eq(schema_alter_type_add(sch[0], "ks", "ty", "b", it, 300, &e), 0, "%s", e.msg);
	create_table(0, "ks", "u", "int", "v", "text", 300);
	sync_events(0, 1, &ev);
	cr_assert_str_eq(ev.text, "CREATED TABLE ks.u;UPDATED TYPE ks.ty;UPDATED TABLE ks.t;");

	/* dropped and made again under the same name: another table (another id) */
	cr_assert_eq(schema_drop_table(sch[0], "ks", "u", 400, &e), 0, "%s", e.msg);
	create_table(0, "ks", "u", "text", "x", "int", 500);
	struct schema_repl_opt repl[] = {{"class", "SimpleStrategy"}, {"replication_factor", "1"}};
	struct schema_keyspace_def def = {"ks", true, repl, 2};
	cr_assert_eq(schema_alter_keyspace(sch[0], &def, 500, &e), 0, "%s", e.msg);
	sync_events(0, 1, &ev);
	cr_assert_str_eq(ev.text, "DROPPED TABLE ks.u;CREATED TABLE ks.u;UPDATED KEYSPACE ks;");

	cr_assert_eq(schema_drop_keyspace(sch[0], "ks", 600, &e), 0, "%s", e.msg);
	sync_events(0, 1, &ev);
	cr_assert_str_eq(
	        ev.text,
	        "DROPPED TABLE ks.t;DROPPED TABLE ks.u;DROPPED TYPE ks.ty;DROPPED KEYSPACE ks;");
	cqltype_free(it);
}
