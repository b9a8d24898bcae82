/*
 * Server-side DESCRIBE through the executor against a real store: the CREATE
 * text Cassandra 4.0 prints (column order, quoting, options), every form's rows,
 * its errors in Cassandra's words, paging, and the parser's forms.
 */
#include "coordinator/cql/cql_parser.h"
#include "coordinator/query/executor.h"
#include "coordinator/query/systables.h"
#include "coordinator/replication/router.h"
#include "coordinator/schema/schema.h"
#include "core/cqlproto.h"
#include "storage/storage.h"
#include "executor_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The rows of the last result: cells joined by '|', rows ended by '\n'.  Returns the
 * column count; *more gets the paging state (length 0: none). */
static int rows(struct buf *out, struct cql_slice *more)
{
	struct bufreader r;
	bufreader_init(&r, req.body_out.data, req.body_out.len);
	cr_assert_eq(cql_get_int(&r), CQL_RESULT_ROWS);
	int32_t flags = cql_get_int(&r);
	int32_t ncols = cql_get_int(&r);
	more->len = 0;
	if (flags & CQL_ROWS_HAS_MORE_PAGES)
		*more = cql_get_bytes(&r);
	cr_assert(flags & CQL_ROWS_GLOBAL_TABLES_SPEC);
	struct cql_slice k = cql_get_string(&r), t = cql_get_string(&r);
	cr_assert(k.len == 6 && !memcmp(k.p, "system", 6));
	cr_assert(t.len == 8 && !memcmp(t.p, "describe", 8));
	for (int i = 0; i < ncols; i++) {
		cql_get_string(&r);
		uint16_t kind = cql_get_short(&r);
		if (kind == 0x21) {
			cql_get_short(&r);
			if (cql_get_short(&r) == 0x20)
				cql_get_short(&r);
		}
	}
	int32_t n = cql_get_int(&r);
	buf_reset(out);
	for (int32_t i = 0; i < n; i++)
		for (int c = 0; c < ncols; c++) {
			struct cql_slice v = cql_get_bytes(&r);
			buf_put(out, v.p, (size_t)v.len);
			buf_put_u8(out, c + 1 < ncols ? '|' : '\n');
		}
	buf_put_u8(out, 0);
	cr_assert(bufreader_ok(&r));
	return ncols;
}

static void expect_rows(const char *cql, const char *want)
{
	run_ok(cql);
	struct buf b;
	buf_init(&b);
	struct cql_slice more;
	rows(&b, &more);
	cr_assert_str_eq((const char *)b.data, want, "%s", cql);
	cr_assert_eq(more.len, 0);
	buf_release(&b);
}

TestSuite(describe, .init = exec_fixture_setup, .fini = exec_fixture_teardown);

#define OPTS(comment, ttl, gc)                                                                     \
	"    AND additional_write_policy = '99p'\n"                                                \
	"    AND bloom_filter_fp_chance = 0.01\n"                                                  \
	"    AND caching = {'keys': 'ALL', 'rows_per_partition': 'NONE'}\n"                        \
	"    AND cdc = false\n"                                                                    \
	"    AND comment = " comment "\n"                                                          \
	"    AND compaction = {'class': "                                                          \
	"'org.apache.cassandra.db.compaction.LeveledCompactionStrategy'}\n"                        \
	"    AND compression = {'chunk_length_in_kb': '64', 'class': "                             \
	"'org.apache.cassandra.io.compress.ZstdCompressor'}\n"                                     \
	"    AND crc_check_chance = 1.0\n"                                                         \
	"    AND default_time_to_live = " ttl "\n"                                                 \
	"    AND extensions = {}\n"                                                                \
	"    AND gc_grace_seconds = " gc "\n"                                                      \
	"    AND max_index_interval = 2048\n"                                                      \
	"    AND memtable_flush_period_in_ms = 0\n"                                                \
	"    AND min_index_interval = 128\n"                                                       \
	"    AND read_repair = 'BLOCKING'\n"                                                       \
	"    AND speculative_retry = '99p';"

static const char ks_cql[] = "CREATE KEYSPACE shop WITH replication = {'class': "
                             "'SimpleStrategy', 'replication_factor': '1'}  AND durable_writes "
                             "= true;";

static const char events_cql[] =
        "CREATE TABLE shop.events (\n"
        "    day date,\n"
        "    source text,\n"
        "    at timestamp,\n"
        "    seq int,\n"
        "    note text static,\n"
        "    payload blob,\n"
        "    PRIMARY KEY ((day, source), at, seq)\n"
        ") WITH CLUSTERING ORDER BY (at DESC, seq ASC)\n" OPTS("''", "3600", "600");

static const char audit_cql[] = "CREATE TABLE shop.\"AuditLog\" (\n"
                                "    \"Who\" text PRIMARY KEY,\n"
                                "    comment text,\n"
                                "    \"select\" int\n"
                                ") WITH additional_write_policy = '99p'\n"
                                "    AND bloom_filter_fp_chance = 0.01\n"
                                "    AND caching = {'keys': 'ALL', 'rows_per_partition': 'NONE'}\n"
                                "    AND cdc = false\n"
                                "    AND comment = 'who''s there'\n"
                                "    AND compaction = {'class': "
                                "'org.apache.cassandra.db.compaction.LeveledCompactionStrategy'}\n"
                                "    AND compression = {'chunk_length_in_kb': '64', 'class': "
                                "'org.apache.cassandra.io.compress.ZstdCompressor'}\n"
                                "    AND crc_check_chance = 1.0\n"
                                "    AND default_time_to_live = 0\n"
                                "    AND extensions = {}\n"
                                "    AND gc_grace_seconds = 864000\n"
                                "    AND max_index_interval = 2048\n"
                                "    AND memtable_flush_period_in_ms = 0\n"
                                "    AND min_index_interval = 128\n"
                                "    AND read_repair = 'BLOCKING'\n"
                                "    AND speculative_retry = '99p';";

static void make_schema(void)
{
	run_ok("CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 1}");
	run_ok("CREATE TABLE shop.events (day date, source text, at timestamp, seq int, "
	       "payload blob, note text static, PRIMARY KEY ((day, source), at, seq)) WITH "
	       "CLUSTERING ORDER BY (at DESC, seq ASC) AND default_time_to_live = 3600 AND "
	       "gc_grace_seconds = 600");
	run_ok("CREATE TABLE shop.\"AuditLog\" (\"Who\" text PRIMARY KEY, \"select\" int, comment "
	       "text) WITH comment = 'who''s there'");
}

Test(describe, create_statements_as_cassandra_prints_them)
{
	make_schema();
	char want[8192];
	snprintf(want, sizeof(want), "shop|table|events|%s\n", events_cql);
	expect_rows("DESCRIBE TABLE shop.events", want);
	snprintf(want, sizeof(want), "shop|table|\"AuditLog\"|%s\n", audit_cql);
	expect_rows("DESC COLUMNFAMILY shop.\"AuditLog\"", want);
	snprintf(want, sizeof(want),
	         "shop|keyspace|shop|%s\nshop|table|\"AuditLog\"|%s\nshop|table|events|%s\n",
	         ks_cql, audit_cql, events_cql);
	expect_rows("DESCRIBE KEYSPACE shop", want);
	expect_rows("DESCRIBE SCHEMA", want); /* no system keyspace */
	expect_rows("describe shop", want);   /* a keyspace first */
	snprintf(want, sizeof(want), "shop|keyspace|shop|%s\n", ks_cql);
	expect_rows("DESCRIBE ONLY KEYSPACE shop", want);
	run_ok("CREATE KEYSPACE \"Multi\" WITH replication = {'class': 'NetworkTopologyStrategy', "
	       "'dc2': 1, 'dc1': 3} AND durable_writes = false");
	expect_rows("DESCRIBE KEYSPACE \"Multi\"",
	            "\"Multi\"|keyspace|\"Multi\"|CREATE KEYSPACE \"Multi\" WITH replication = "
	            "{'class': 'NetworkTopologyStrategy', 'dc1': '3', 'dc2': '1'}  AND "
	            "durable_writes = false;\n");
	run_ok("DESCRIBE TABLE shop.events WITH INTERNALS");
	struct buf b;
	buf_init(&b);
	struct cql_slice more;
	rows(&b, &more);
	cr_assert(strstr((const char *)b.data, ") WITH ID = "), "%s", (const char *)b.data);
	cr_assert(strstr((const char *)b.data, "\n    AND CLUSTERING ORDER BY (at DESC, seq ASC)"));
	buf_release(&b);
}

Test(describe, listings_and_the_current_keyspace)
{
	make_schema();
	expect_rows("DESCRIBE KEYSPACES", "shop|keyspace|shop\nsystem|keyspace|system\n"
	                                  "system_schema|keyspace|system_schema\n"
	                                  "system_virtual_schema|keyspace|system_virtual_schema\n");
	run_ok("USE shop");
	expect_rows("DESCRIBE TABLES", "shop|table|\"AuditLog\"\nshop|table|events\n");
	expect_rows("DESCRIBE TYPES", "");
	expect_rows("DESCRIBE FUNCTIONS", "");
	expect_rows("DESCRIBE AGGREGATES", "");
	char want[8192];
	snprintf(want, sizeof(want), "shop|table|events|%s\n", events_cql);
	expect_rows("DESCRIBE events", want);
	expect_rows("DESCRIBE TABLE events", want);
	/* the virtual keyspace is a comment, its tables too */
	expect_rows(
	        "DESCRIBE ONLY KEYSPACE system_virtual_schema",
	        "system_virtual_schema|keyspace|system_virtual_schema|/*\nWarning: Keyspace "
	        "system_virtual_schema is a virtual keyspace and cannot be recreated with CQL.\n"
	        "Structure, for reference:\nVIRTUAL KEYSPACE system_virtual_schema;\n*/\n");
	expect_rows(
	        "DESCRIBE TABLE system_virtual_schema.tables",
	        "system_virtual_schema|table|tables|/*\nWarning: Table "
	        "system_virtual_schema.tables is a virtual table and cannot be recreated with "
	        "CQL.\nStructure, for reference:\nVIRTUAL TABLE system_virtual_schema.tables (\n"
	        "    keyspace_name text,\n    table_name text,\n    comment text,\n"
	        "    PRIMARY KEY (keyspace_name, table_name)\n) WITH CLUSTERING ORDER BY "
	        "(table_name ASC)\n    AND comment = 'virtual table definitions';\n*/\n");
	/* FULL SCHEMA has the system keyspaces too */
	run_ok("DESCRIBE FULL SCHEMA");
	struct buf b;
	buf_init(&b);
	struct cql_slice more;
	rows(&b, &more);
	cr_assert(strstr((const char *)b.data, "system_schema|table|tables|CREATE TABLE "
	                                       "system_schema.tables ("));
	buf_release(&b);
}

Test(describe, errors_in_cassandras_words)
{
	make_schema();
	cr_assert_str_eq(run_err("DESCRIBE KEYSPACE nope"), "'nope' not found in keyspaces");
	cr_assert_str_eq(run_err("DESCRIBE TABLE shop.nope"),
	                 "Table 'nope' not found in keyspace 'shop'");
	cr_assert_str_eq(run_err("DESCRIBE TABLE nope"),
	                 "No keyspace specified and no current keyspace");
	cr_assert_str_eq(run_err("DESCRIBE KEYSPACE"),
	                 "No keyspace specified and no current keyspace");
	cr_assert_str_eq(run_err("DESCRIBE nope"), "'nope' not found in keyspaces");
	cr_assert_str_eq(run_err("DESCRIBE shop.nope"), "'nope' not found in keyspace 'shop'");
	run_ok("USE shop");
	cr_assert_str_eq(run_err("DESCRIBE nope"), "'nope' not found in keyspace 'shop'");
	cr_assert_str_eq(run_err("DESCRIBE TYPE address"),
	                 "User defined type 'address' not found in 'shop'");
	cr_assert_str_eq(run_err("DESCRIBE INDEX by_name"),
	                 "Table for existing index 'by_name' not found in 'shop'");
	cr_assert_str_eq(run_err("DESCRIBE MATERIALIZED VIEW shop.mv"),
	                 "Materialized view 'mv' not found in 'shop'");
	cr_assert_str_eq(run_err("DESCRIBE FUNCTION f"),
	                 "User defined function 'f' not found in 'shop'");
	cr_assert_str_eq(run_err("DESCRIBE AGGREGATE a"),
	                 "User defined aggregate 'a' not found in 'shop'");
	cr_assert_str_eq(run_err("DESCRIBE TYPE nope.t"), "'nope' not found in keyspaces");
	cr_assert(strstr(run_err("DESCRIBE TABLE"), "mismatched input '<EOF>'"));
	cr_assert(strstr(run_err("DESCRIBE FULL KEYSPACE"), "mismatched input 'KEYSPACE'"));
	cr_assert(strstr(run_err("DESCRIBE TABLE t WITH ID"), "mismatched input 'ID'"));
}

Test(describe, cluster_without_a_keyspace_in_use)
{
	run_ok("DESCRIBE CLUSTER");
	struct bufreader r;
	bufreader_init(&r, req.body_out.data, req.body_out.len);
	cr_assert_eq(cql_get_int(&r), CQL_RESULT_ROWS);
	cql_get_int(&r);
	cr_assert_eq(cql_get_int(&r), 3);
	cql_get_string(&r);
	cql_get_string(&r);
	for (int i = 0; i < 3; i++) {
		cql_get_string(&r);
		cql_get_short(&r);
	}
	cr_assert_eq(cql_get_int(&r), 1);
	struct cql_slice c = cql_get_bytes(&r), p = cql_get_bytes(&r), s = cql_get_bytes(&r);
	cr_assert(c.len == 12 && !memcmp(c.p, "Test Cluster", 12));
	cr_assert(p.len == 18 && !memcmp(p.p, "Murmur3Partitioner", 18));
	cr_assert(s.len == 12 && !memcmp(s.p, "SimpleSnitch", 12));
}

static void query_body(struct buf *b, const char *q, int32_t page_size, const struct cql_slice *st)
{
	buf_reset(b);
	cql_put_long_string(b, q, strlen(q));
	cql_put_short(b, CL_ONE);
	cql_put_byte(b, CQL_QF_PAGE_SIZE | (st->len > 0 ? CQL_QF_PAGING_STATE : 0));
	cql_put_int(b, page_size);
	if (st->len > 0)
		cql_put_bytes(b, st->p, st->len);
}

static void run_body(const struct buf *body)
{
	req.session = &sess;
	req.opcode = CQL_OP_QUERY;
	req.body = body->data;
	req.body_len = body->len;
	req.done = NULL;
	executor_run(ex, &req);
}

Test(describe, pages_by_row_and_refuses_a_page_of_an_older_schema)
{
	make_schema();
	run_ok("CREATE TABLE shop.more (k int PRIMARY KEY)");
	/* 1 keyspace + 3 tables in pages of 3 */
	struct buf body, out, all;
	buf_init(&body);
	buf_init(&out);
	buf_init(&all);
	uint8_t state[128];
	struct cql_slice st = {state, -1};
	int pages = 0;
	do {
		query_body(&body, "DESCRIBE KEYSPACE shop", 3, &st);
		run_body(&body);
		cr_assert(!req.err.code, "%s", req.err.msg);
		struct cql_slice more;
		rows(&out, &more);
		buf_put(&all, out.data, strlen((const char *)out.data));
		st.len = more.len > 0 ? more.len : -1;
		if (more.len > 0)
			memcpy(state, more.p, (size_t)more.len);
		pages++;
	} while (st.len > 0 && pages < 5);
	cr_assert_eq(pages, 2);
	buf_put_u8(&all, 0);
	run_ok("DESCRIBE KEYSPACE shop");
	struct cql_slice more;
	rows(&out, &more);
	cr_assert_str_eq((const char *)all.data, (const char *)out.data);
	/* a page asked after a schema change */
	st.len = -1;
	query_body(&body, "DESCRIBE KEYSPACE shop", 2, &st);
	run_body(&body);
	rows(&out, &more);
	cr_assert(more.len > 0);
	memcpy(state, more.p, (size_t)more.len);
	st.len = more.len;
	run_ok("DROP TABLE shop.more");
	query_body(&body, "DESCRIBE KEYSPACE shop", 2, &st);
	run_body(&body);
	cr_assert_eq(req.err.code, COL_EINVAL);
	cr_assert_str_eq(req.err.msg,
	                 "The schema has changed since the previous page of the DESCRIBE statement "
	                 "result. Please retry the DESCRIBE statement.");
	/* a paging state of something else */
	st.p = (const uint8_t *)"garbage";
	st.len = 7;
	query_body(&body, "DESCRIBE KEYSPACE shop", 2, &st);
	run_body(&body);
	cr_assert_str_eq(req.err.msg, "Invalid paging state.");
	buf_release(&body);
	buf_release(&out);
	buf_release(&all);
}

/* Every form parses, and prints back as text that parses to the same. */
Test(describe, parser_forms_round_trip)
{
	static const char *const forms[][2] = {
	        {"DESCRIBE CLUSTER", "DESCRIBE CLUSTER"},
	        {"desc full schema", "DESCRIBE FULL SCHEMA"},
	        {"DESCRIBE SCHEMA", "DESCRIBE SCHEMA"},
	        {"DESCRIBE KEYSPACES", "DESCRIBE KEYSPACES"},
	        {"DESCRIBE ONLY KEYSPACE \"Ks\"", "DESCRIBE ONLY KEYSPACE \"Ks\""},
	        {"DESCRIBE KEYSPACE", "DESCRIBE KEYSPACE"},
	        {"DESCRIBE COLUMNFAMILIES", "DESCRIBE TABLES"},
	        {"DESCRIBE COLUMNFAMILY k.t", "DESCRIBE TABLE k.t"},
	        {"DESCRIBE TABLE t WITH INTERNALS", "DESCRIBE TABLE t WITH INTERNALS"},
	        {"DESCRIBE INDEX k.i", "DESCRIBE INDEX k.i"},
	        {"DESCRIBE MATERIALIZED VIEW v", "DESCRIBE MATERIALIZED VIEW v"},
	        {"DESCRIBE TYPE k.t", "DESCRIBE TYPE k.t"},
	        {"DESCRIBE TYPES", "DESCRIBE TYPES"},
	        {"DESCRIBE FUNCTION f", "DESCRIBE FUNCTION f"},
	        {"DESCRIBE AGGREGATES", "DESCRIBE AGGREGATES"},
	        {"DESCRIBE \"cluster\"", "DESCRIBE \"cluster\""},
	        {"DESCRIBE \"table\".x", "DESCRIBE \"table\".x"},
	        {"DESCRIBE k.\"T\"", "DESCRIBE k.\"T\""},
	        {"DESC ks;", "DESCRIBE ks"},
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct cql_arena *a = cql_arena_new();
		struct cql_stmt *s;
		struct cerr e = {0};
		cr_assert_eq(cql_parse(a, forms[i][0], strlen(forms[i][0]), &s, &e), 0, "%s: %s",
		             forms[i][0], e.msg);
		cr_assert_eq(s->kind, CQL_STMT_DESCRIBE);
		struct buf b;
		buf_init(&b);
		cql_stmt_format(s, &b);
		buf_put_u8(&b, 0);
		cr_assert_str_eq((const char *)b.data, forms[i][1]);
		buf_release(&b);
		cql_arena_free(a);
	}
}

/* The line of `opt` in the DESCRIBE TABLE text of the last result ("" if absent). */
static void option_line(const char *opt, char *out, size_t cap)
{
	struct buf b;
	buf_init(&b);
	struct cql_slice more;
	rows(&b, &more);
	char key[64];
	snprintf(key, sizeof(key), "AND %s = ", opt);
	const char *p = strstr((const char *)b.data, key);
	if (!p) {
		snprintf(key, sizeof(key), "WITH %s = ", opt);
		p = strstr((const char *)b.data, key);
	}
	out[0] = 0;
	if (p) {
		p += strlen(key);
		size_t n = strcspn(p, "\n;");
		snprintf(out, cap, "%.*s", (int)n, p);
	}
	buf_release(&b);
}

static void expect_option(const char *table, const char *opt, const char *want)
{
	char q[128], got[512];
	snprintf(q, sizeof(q), "DESCRIBE TABLE %s", table);
	run_ok(q);
	option_line(opt, got, sizeof(got));
	cr_assert_str_eq(got, want, "%s of %s", opt, table);
}

Test(describe, table_options_kept_shown_and_warned)
{
	run_ok("CREATE KEYSPACE k WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 1}");
	run_ok("CREATE TABLE k.t (id int PRIMARY KEY, v text) WITH compaction = {'class': "
	       "'SizeTieredCompactionStrategy', 'max_threshold': 16} AND caching = {'keys': "
	       "'NONE'} AND bloom_filter_fp_chance = 0.1 AND gc_grace_seconds = 100 AND "
	       "read_repair_chance = 0.2 AND read_repair = 'none' AND cdc = TRUE");
	cr_assert_str_eq(req.warning,
	                 "Table options kept but not acted on by Colonnade (shown by DESCRIBE and "
	                 "system_schema.tables): compaction, caching, bloom_filter_fp_chance, "
	                 "read_repair, cdc; read_repair_chance: obsolete or unsupported, ignored "
	                 "and not kept");
	expect_option(
	        "k.t", "compaction",
	        "{'class': 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy', "
	        "'max_threshold': '16'}");
	expect_option("k.t", "caching", "{'keys': 'NONE', 'rows_per_partition': 'NONE'}");
	expect_option("k.t", "bloom_filter_fp_chance", "0.1");
	expect_option("k.t", "read_repair", "'NONE'");
	expect_option("k.t", "cdc", "true");
	expect_option("k.t", "gc_grace_seconds", "100");
	/* unset ones say what the engine does */
	expect_option("k.t", "compression",
	              "{'chunk_length_in_kb': '64', 'class': "
	              "'org.apache.cassandra.io.compress.ZstdCompressor'}");
	/* ALTER replaces the options it names and keeps the others; options the engine acts
	 * on give no warning */
	run_ok("ALTER TABLE k.t WITH compaction = {'class': 'org.apache.cassandra.db.compaction."
	       "LeveledCompactionStrategy'} AND comment = 'c' AND min_index_interval = 64 AND "
	       "additional_write_policy = '50PERCENTILE'");
	cr_assert(strstr(req.warning, "compaction, min_index_interval, additional_write_policy"),
	          "%s", req.warning);
	expect_option("k.t", "compaction",
	              "{'class': 'org.apache.cassandra.db.compaction.LeveledCompactionStrategy'}");
	expect_option("k.t", "caching", "{'keys': 'NONE', 'rows_per_partition': 'NONE'}");
	expect_option("k.t", "min_index_interval", "64");
	expect_option("k.t", "additional_write_policy", "'50p'");
	expect_option("k.t", "comment", "'c'");
	run_ok("ALTER TABLE k.t WITH default_time_to_live = 5 AND speculative_retry = 'ALWAYS'");
	cr_assert_str_eq(req.warning, "");
	run_ok("ALTER TABLE k.t ADD w int");
	expect_option("k.t", "bloom_filter_fp_chance", "0.1");
	/* system_schema.tables shows the same values */
	run_ok("SELECT bloom_filter_fp_chance, cdc, read_repair FROM system_schema.tables WHERE "
	       "keyspace_name = 'k' AND table_name = 't'");
	struct bufreader r;
	bufreader_init(&r, req.body_out.data, req.body_out.len);
	cr_assert_eq(cql_get_int(&r), CQL_RESULT_ROWS);
	int32_t flags = cql_get_int(&r);
	cr_assert_eq(cql_get_int(&r), 3);
	if (flags & CQL_ROWS_GLOBAL_TABLES_SPEC) {
		cql_get_string(&r);
		cql_get_string(&r);
	}
	for (int i = 0; i < 3; i++) {
		cql_get_string(&r);
		cql_get_short(&r);
	}
	cr_assert_eq(cql_get_int(&r), 1);
	struct cql_slice bf = cql_get_bytes(&r), cdc = cql_get_bytes(&r), rr = cql_get_bytes(&r);
	uint64_t u = be64_load(bf.p);
	double d;
	memcpy(&d, &u, 8);
	cr_assert(d == 0.1);
	cr_assert(cdc.len == 1 && cdc.p[0] == 1);
	cr_assert(rr.len == 4 && !memcmp(rr.p, "NONE", 4));
}

Test(describe, table_option_errors_in_cassandras_words)
{
	run_ok("CREATE KEYSPACE k WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 1}");
	run_ok("CREATE TABLE k.t (id int PRIMARY KEY)");
	static const char *const cases[][2] = {
	        {"compaction = {'class': 'Foo'}", "Unable to find compaction strategy class 'Foo'"},
	        {"compaction = {'max_threshold': 4}",
	         "Missing sub-option 'class' for the 'compaction' option."},
	        {"compaction = 'x'",
	         "Invalid value for property 'compaction'. It should be a map."},
	        {"compression = {'class': 'BrotliCompressor'}",
	         "Could not create Compression for type BrotliCompressor"},
	        {"bloom_filter_fp_chance = 2", "bloom_filter_fp_chance must be larger than 0.0 and "
	                                       "less than or equal to 1.0 (got "
	                                       "2.0)"},
	        {"bloom_filter_fp_chance = 'x'",
	         "Invalid double value x for 'bloom_filter_fp_chance'"},
	        {"crc_check_chance = 1.5",
	         "crc_check_chance must be larger than or equal to 0 and smaller than or equal to "
	         "1.0 (got 1.5)"},
	        {"min_index_interval = 0",
	         "min_index_interval must be greater than or equal to 1 (got 0)"},
	        {"max_index_interval = 100", "max_index_interval must be greater than or equal to "
	                                     "min_index_interval (128) (got "
	                                     "100)"},
	        {"memtable_flush_period_in_ms = -1",
	         "memtable_flush_period_in_ms must be greater than or equal to 0 (got -1)"},
	        {"caching = {'keys': 'SOME'}",
	         "Invalid value 'SOME' for caching sub-option 'keys': only 'ALL' and 'NONE' are "
	         "allowed"},
	        {"caching = {'rows_per_partition': -3}",
	         "Invalid value '-3' for caching sub-option 'rows_per_partition': only 'ALL', "
	         "'NONE' or a positive integer are allowed"},
	        {"caching = {'cells': 'ALL'}",
	         "Invalid caching sub-options {'cells'}: only 'keys' and 'rows_per_partition' are "
	         "allowed"},
	        {"cdc = 'maybe'",
	         "Invalid boolean value maybe for 'cdc'. Valid values are true and "
	         "false"},
	        {"read_repair = 'SOMETIMES'",
	         "Invalid value 'SOMETIMES' for 'read_repair': 'BLOCKING' or 'NONE'"},
	        {"nope = 1", "Unknown property 'nope'"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char q[256];
		snprintf(q, sizeof(q), "ALTER TABLE k.t WITH %s", cases[i][0]);
		cr_assert_str_eq(run_err(q), cases[i][1], "%s", q);
	}
	/* nothing was kept by the failed statements */
	expect_option("k.t", "compaction",
	              "{'class': 'org.apache.cassandra.db.compaction.LeveledCompactionStrategy'}");
}

Test(describe, with_internals_replays_dropped_columns)
{
	run_ok("CREATE KEYSPACE k WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 1}");
	run_ok("CREATE TABLE k.d (id int PRIMARY KEY, a int, b text, s int)");
	run_ok("ALTER TABLE k.d DROP b");
	run_ok("ALTER TABLE k.d DROP a");
	run_ok("ALTER TABLE k.d ADD a int");
	run_ok("DESCRIBE TABLE k.d WITH INTERNALS");
	struct buf b;
	buf_init(&b);
	struct cql_slice more;
	rows(&b, &more);
	const char *s = (const char *)b.data;
	/* a was added again (a new column to Colonnade, not the dropped one): b alone is
	 * dropped, defined after the others and dropped again at its time */
	cr_assert(strstr(s, "|CREATE TABLE k.d (\n    id int PRIMARY KEY,\n    a int,\n    s int,\n"
	                    "    b text\n) WITH ID = "),
	          "%s", s);
	const char *d =
	        strstr(s, "    AND speculative_retry = '99p';\nALTER TABLE k.d DROP b USING "
	                  "TIMESTAMP ");
	cr_assert(d, "%s", s);
	cr_assert_str_eq(strchr(d, ';') + 1 + strcspn(strchr(d, ';') + 1, ";"), ";\n");
	/* without INTERNALS: the table as it is */
	run_ok("DESCRIBE TABLE k.d");
	rows(&b, &more);
	cr_assert(
	        strstr((const char *)b.data,
	               "CREATE TABLE k.d (\n    id int PRIMARY KEY,\n    a int,\n    s int\n) WITH "
	               "additional_write_policy"),
	        "%s", (const char *)b.data);
	cr_assert(!strstr((const char *)b.data, "ALTER"));
	buf_release(&b);
}
