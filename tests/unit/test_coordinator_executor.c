/*
 * The executor against a real store in a temp dir: DDL, DML, SELECT shapes,
 * paging, errors with Cassandra's wording, consistency checks.
 */
#include "coordinator/query/executor.h"
#include "coordinator/query/paging.h"
#include "coordinator/query/prepared.h"
#include "coordinator/replication/router.h"
#include "coordinator/schema/schema.h"
#include "coordinator/schema/schema_int.h"
#include "coordinator/transport/cqlserver.h"
#include "coordinator/query/systables.h"
#include "core/cqlproto.h"
#include "core/mailbox.h"
#include "storage/storage.h"
#include "tests/unit/local_node.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct local_node ln;
static struct executor *ex;
static struct exec_session sess;
static struct exec_req req;

static void view_local(void *ctx, cluster_node_emit_fn emit, void *ectx)
{
	(void)ctx;
	static const int64_t toks[] = {-100, 100};
	struct cluster_node_info n = {.dc = "datacenter1",
	                              .rack = "rack1",
	                              .addr = {127, 0, 2, 1},
	                              .addr_len = 4,
	                              .rpc_addr = {127, 0, 2, 1},
	                              .rpc_addr_len = 4,
	                              .tokens = toks,
	                              .n_tokens = 2};
	n.host_id[0] = 0xab;
	emit(ectx, &n);
}

static void view_peers(void *ctx, cluster_node_emit_fn emit, void *ectx)
{
	(void)ctx;
	(void)emit;
	(void)ectx;
}

static const struct cluster_view view = {
        .cluster_name = "Test Cluster", .local = view_local, .peers = view_peers};

static void open_all(void)
{
	local_node_open_pieces(&ln, 100);
	struct executor_deps d = {.schema = ln.sch,
	                          .store = ln.st,
	                          .router = ln.px,
	                          .prepared = ln.pc,
	                          .view = &view};
	cr_assert_eq(executor_new(&d, &ex), 0);
}

static void close_all(void)
{
	executor_free(ex);
	local_node_close_pieces(&ln);
}

static void setup(void)
{
	local_node_make_dir(&ln, "exec");
	buf_init(&req.body_out);
	memset(&sess, 0, sizeof(sess));
	open_all();
}

static void teardown(void)
{
	close_all();
	buf_release(&req.body_out);
	local_node_remove_dir(&ln);
}

/* Run and expect success; returns the RESULT kind. */
static int run_ok(const char *cql)
{
	executor_run_text(ex, &sess, cql, &req);
	cr_assert(!req.err.code, "%s -> error %d %s", cql, req.err.code, req.err.msg);
	return (int)be32_load(req.body_out.data);
}

static uint32_t run_err(const char *cql)
{
	executor_run_text(ex, &sess, cql, &req);
	cr_assert(req.err.code, "%s should fail", cql);
	/* the code a client sees */
	return cqlserver_error_code(&req.err, &req.about);
}

/* Rows of the last result as "a|b|c" lines (ints and text decoded) into out. */
static int rows_text(char *out, size_t len)
{
	struct bufreader r;
	bufreader_init(&r, req.body_out.data, req.body_out.len);
	cr_assert_eq(cql_get_int(&r), CQL_RESULT_ROWS);
	int32_t flags = cql_get_int(&r);
	int32_t ncols = cql_get_int(&r);
	if (flags & CQL_ROWS_HAS_MORE_PAGES)
		cql_get_bytes(&r);
	uint8_t kinds[64];
	if (flags & CQL_ROWS_GLOBAL_TABLES_SPEC) {
		cql_get_string(&r);
		cql_get_string(&r);
	}
	for (int i = 0; i < ncols; i++) {
		cql_get_string(&r);
		kinds[i] = (uint8_t)cql_get_short(&r);
		if (kinds[i] == 0x20 || kinds[i] == 0x22)
			cql_get_short(&r);
		if (kinds[i] == 0x21) {
			cql_get_short(&r);
			cql_get_short(&r);
		}
	}
	int32_t n = cql_get_int(&r);
	size_t o = 0;
	out[0] = 0;
	for (int32_t i = 0; i < n; i++) {
		for (int c = 0; c < ncols; c++) {
			struct cql_slice v = cql_get_bytes(&r);
			char cell[64];
			if (v.len < 0)
				snprintf(cell, sizeof(cell), "null");
			else if (kinds[c] == 0x09 && v.len == 4)
				snprintf(cell, sizeof(cell), "%d", (int32_t)be32_load(v.p));
			else if (kinds[c] == 0x02 && v.len == 8)
				snprintf(cell, sizeof(cell), "%lld", (long long)be64_load(v.p));
			else
				snprintf(cell, sizeof(cell), "%.*s", v.len, (const char *)v.p);
			o += (size_t)snprintf(out + o, len - o, "%s%s", c ? "|" : "", cell);
		}
		o += (size_t)snprintf(out + o, len - o, ";");
	}
	cr_assert(bufreader_ok(&r));
	return n;
}

TestSuite(executor, .init = setup, .fini = teardown);

Test(executor, ddl_dml_select)
{
	cr_assert_eq(run_ok("CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', "
	                    "'replication_factor': 1}"),
	             CQL_RESULT_SCHEMA_CHANGE);
	cr_assert_eq(run_ok("USE shop"), CQL_RESULT_SET_KEYSPACE);
	run_ok("CREATE TABLE orders (id int, line int, item text, PRIMARY KEY (id, line))");
	cr_assert_eq(run_ok("INSERT INTO orders (id, line, item) VALUES (1, 2, 'b')"),
	             CQL_RESULT_VOID);
	run_ok("INSERT INTO orders (id, line, item) VALUES (1, 1, 'a')");
	run_ok("INSERT INTO orders (id, line, item) VALUES (2, 1, 'z')");
	char out[4096];
	run_ok("SELECT * FROM orders WHERE id = 1");
	cr_assert_eq(rows_text(out, sizeof(out)), 2);
	cr_assert_str_eq(out, "1|1|a;1|2|b;");
	run_ok("SELECT item FROM orders WHERE id = 1 ORDER BY line DESC");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "b;a;");
	run_ok("SELECT item FROM orders WHERE id = 1 AND line > 1");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "b;");
	run_ok("SELECT count(*) FROM orders");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "3;");
	run_ok("DELETE FROM orders WHERE id = 1 AND line = 1");
	run_ok("SELECT item FROM orders WHERE id IN (1, 2)");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "b;z;");
}

Test(executor, select_states_are_reused_without_carrying_anything_over)
{
	/* the executor keeps emptied SELECT states for its next SELECTs: every shape of
	 * query, run again in other orders after others, answers exactly what it did first */
	run_ok("CREATE KEYSPACE r WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 1}");
	run_ok("USE r");
	run_ok("CREATE TABLE t (p int, c int, s text STATIC, v text, PRIMARY KEY (p, c))");
	char q[160];
	for (int p = 0; p < 4; p++) {
		snprintf(q, sizeof(q), "INSERT INTO t (p, s) VALUES (%d, 'static%d')", p, p);
		run_ok(q);
		for (int c = 0; c < 40; c++) {
			snprintf(q, sizeof(q), "INSERT INTO t (p, c, v) VALUES (%d, %d, 'v%d-%d')",
			         p, c, p, c);
			run_ok(q);
		}
	}
	run_ok("INSERT INTO t (p, s) VALUES (9, 'alone')");
	/* a row larger than what a kept state holds on to */
	static char big[100 << 10];
	memset(big, 'x', sizeof(big) - 1);
	static char ins[sizeof(big) + 80];
	snprintf(ins, sizeof(ins), "INSERT INTO t (p, c, v) VALUES (7, 0, '%s')", big);
	run_ok(ins);
	const char *shapes[] = {
	        "SELECT * FROM t WHERE p = 1",
	        "SELECT v FROM t WHERE p = 2 AND c > 30 ORDER BY c DESC",
	        "SELECT count(*), min(v), max(v) FROM t",
	        "SELECT p, count(*) FROM t GROUP BY p",
	        "SELECT DISTINCT p, s FROM t",
	        "SELECT * FROM t PER PARTITION LIMIT 2",
	        "SELECT v FROM t WHERE p IN (3, 1) ORDER BY c DESC LIMIT 5",
	        "SELECT * FROM t WHERE p = 9",
	        "SELECT * FROM t WHERE p = 7",
	        "SELECT * FROM t WHERE p = 5",
	        "SELECT c, v FROM t WHERE p = 0 LIMIT 3",
	};
	enum { N = sizeof(shapes) / sizeof(shapes[0]) };
	struct buf first[N];
	for (size_t i = 0; i < N; i++) {
		run_ok(shapes[i]);
		buf_init(&first[i]);
		buf_put(&first[i], req.body_out.data, req.body_out.len);
		cr_assert(buf_ok(&first[i]));
	}
	for (size_t round = 1; round <= 6; round++) {
		for (size_t k = 0; k < N; k++) {
			size_t i = (k * (round + 1) + round) % N;
			run_ok(shapes[i]);
			cr_assert_eq(req.body_out.len, first[i].len,
			             "round %zu: %s: %zu bytes, first %zu", round, shapes[i],
			             req.body_out.len, first[i].len);
			cr_assert(memcmp(req.body_out.data, first[i].data, first[i].len) == 0,
			          "round %zu: %s answers differently", round, shapes[i]);
		}
	}
	for (size_t i = 0; i < N; i++)
		buf_release(&first[i]);
}

Test(executor, errors_are_worded_like_cassandra)
{
	run_ok("CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 1}");
	run_ok("CREATE TABLE shop.orders (id int PRIMARY KEY, item text)");
	cr_assert_eq(run_err("SELEC * FROM shop.orders"), CQL_ERR_SYNTAX);
	cr_assert_eq(run_err("SELECT x FROM shop.orders"), CQL_ERR_INVALID);
	cr_assert_str_eq(req.err.msg, "Undefined column name x in table shop.orders");
	cr_assert_eq(run_err("SELECT * FROM nope.t"), CQL_ERR_INVALID);
	cr_assert_str_eq(req.err.msg, "Keyspace 'nope' does not exist");
	cr_assert_eq(run_err("SELECT * FROM system.peers_v3"), CQL_ERR_INVALID);
	cr_assert_str_eq(req.err.msg, "unconfigured table peers_v3");
	cr_assert_eq(run_err("CREATE TABLE shop.orders (id int PRIMARY KEY)"),
	             CQL_ERR_ALREADY_EXISTS);
	cr_assert_str_eq(req.about.ks, "shop");
	cr_assert_str_eq(req.about.table, "orders");
	cr_assert_eq(run_err("CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', "
	                     "'replication_factor': 1}"),
	             CQL_ERR_ALREADY_EXISTS);
	cr_assert_eq(run_err("CREATE KEYSPACE k2 WITH replication = {'class': 'Bogus'}"),
	             CQL_ERR_CONFIG);
	cr_assert_eq(run_err("INSERT INTO shop.orders (item) VALUES ('x')"), CQL_ERR_INVALID);
	cr_assert_eq(run_err("INSERT INTO shop.orders (id, item) VALUES ('notanint', 'x')"),
	             CQL_ERR_INVALID);
	cr_assert_eq(run_err("SELECT * FROM orders"), CQL_ERR_INVALID); /* no keyspace */
}

Test(executor, schema_survives_restart_and_version_changes)
{
	uint8_t v0[16];
	memcpy(v0, schema_current(ln.sch)->version, 16);
	run_ok("CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 1}");
	run_ok("CREATE TABLE shop.t (k text, c int, v int, PRIMARY KEY (k, c)) WITH CLUSTERING "
	       "ORDER BY (c DESC) AND default_time_to_live = 100");
	run_ok("INSERT INTO shop.t (k, c, v) VALUES ('a', 1, 10)");
	run_ok("INSERT INTO shop.t (k, c, v) VALUES ('a', 2, 20)");
	uint8_t v1[16];
	memcpy(v1, schema_current(ln.sch)->version, 16);
	cr_assert(memcmp(v0, v1, 16) != 0);
	close_all();
	open_all();
	cr_assert(memcmp(schema_current(ln.sch)->version, v1, 16) == 0);
	const struct schema_table *t = schema_snap_table(schema_current(ln.sch), "shop", "t");
	cr_assert(t);
	cr_assert_eq(t->default_time_to_live, 100);
	cr_assert(t->cols[1].desc);
	char out[256];
	run_ok("SELECT c, v FROM shop.t WHERE k = 'a'");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "2|20;1|10;");
	run_ok("SELECT ttl(v) FROM shop.t WHERE k = 'a' LIMIT 1");
	rows_text(out, sizeof(out));
	int ttl = atoi(out);
	cr_assert(ttl > 90 && ttl <= 100, "default_time_to_live applied: ttl %s", out);
	run_ok("ALTER TABLE shop.t ADD w text");
	run_ok("SELECT * FROM shop.t WHERE k = 'a'");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "a|2|20|null;a|1|10|null;");
	run_ok("TRUNCATE shop.t");
	run_ok("SELECT * FROM shop.t");
	cr_assert_eq(rows_text(out, sizeof(out)), 0);
	run_ok("INSERT INTO shop.t (k, c, v) VALUES ('b', 1, 1)");
	run_ok("SELECT k FROM shop.t");
	cr_assert_eq(rows_text(out, sizeof(out)), 1);
	run_ok("DROP TABLE shop.t");
	cr_assert_eq(run_err("SELECT * FROM shop.t"), CQL_ERR_INVALID);
}

Test(executor, consistency_on_one_node)
{
	run_ok("CREATE KEYSPACE k3 WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 3}");
	struct cerr res;
	const struct schema_keyspace *k = schema_snap_keyspace(schema_current(ln.sch), "k3");
	cr_assert_eq(router_check(ln.px, k, CL_ONE, true, &res), 0);
	cr_assert_eq(router_check(ln.px, k, CL_QUORUM, true, &res), COL_EUNAVAILABLE);
	cr_assert_eq(res.rep.required, 2);
	cr_assert_eq(res.rep.received, 1);
	cr_assert_eq(router_check(ln.px, k, CL_ALL, false, &res), COL_EUNAVAILABLE);
	cr_assert_eq(res.rep.required, 3);
	cr_assert_eq(router_check(ln.px, k, CL_ANY, false, &res), COL_EINVAL);
	cr_assert_str_eq(res.msg, "ANY ConsistencyLevel is only supported for writes");
	cr_assert_eq(router_check(ln.px, k, CL_SERIAL, true, &res), COL_EINVAL);
	cr_assert_eq(router_check(ln.px, k, CL_ANY, true, &res), 0);
}

Test(executor, paging_state_round_trip)
{
	uint8_t key[] = {1, 2, 3};
	struct paging_pos p = {.flags = 1,
	                       .remaining = 7,
	                       .part_index = 2,
	                       .pk = key,
	                       .pk_len = 3,
	                       .part_rows = 5};
	struct buf b;
	buf_init(&b);
	paging_encode(&p, &b);
	/* golden bytes: format, flags, remaining, part_index, pk_len, pk, ck_len, part_rows */
	static const uint8_t golden[] = {2, 1, 0, 0, 0, 7, 0, 0, 0, 2, 0, 0, 0,
	                                 3, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 5};
	cr_assert_eq(b.len, sizeof(golden));
	cr_assert(memcmp(b.data, golden, sizeof(golden)) == 0);
	struct paging_pos q;
	cr_assert_eq(paging_decode(b.data, b.len, &q), 0);
	cr_assert_eq(q.remaining, 7);
	cr_assert_eq(q.part_index, 2);
	cr_assert_eq(q.pk_len, 3);
	cr_assert_eq(q.part_rows, 5);
	cr_assert_eq(paging_decode(b.data, b.len - 1, &q), COL_EINVAL);
	/* format 1 (no part_rows) still decodes, as 0 */
	static const uint8_t v1[] = {1, 1, 0, 0, 0, 7, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0};
	cr_assert_eq(paging_decode(v1, sizeof(v1), &q), 0);
	cr_assert_eq(q.part_rows, 0);
	cr_assert_eq(q.remaining, 7);
	b.data[0] = 9;
	cr_assert_eq(paging_decode(b.data, b.len, &q), COL_EINVAL);
	buf_release(&b);
}

Test(executor, statics_ranges_collections_ttl)
{
	run_ok("CREATE KEYSPACE k WITH replication = {'class': 'NetworkTopologyStrategy', "
	       "'datacenter1': 1}");
	run_ok("USE k");
	run_ok("CREATE TABLE s (p int, c int, st text static, v int, PRIMARY KEY (p, c))");
	run_ok("INSERT INTO s (p, c, st, v) VALUES (1, 1, 'S', 10)");
	run_ok("INSERT INTO s (p, c, v) VALUES (1, 2, 20)");
	run_ok("INSERT INTO s (p, c, v) VALUES (1, 3, 30)");
	run_ok("INSERT INTO s (p, c, v) VALUES (1, 4, 40)");
	char out[1024];
	run_ok("SELECT c, st, v FROM s WHERE p = 1");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "1|S|10;2|S|20;3|S|30;4|S|40;");
	run_ok("UPDATE s SET st = 'T' WHERE p = 1");
	run_ok("DELETE FROM s WHERE p = 1 AND c > 1 AND c <= 3");
	run_ok("SELECT c, st, v FROM s WHERE p = 1");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "1|T|10;4|T|40;");
	run_ok("SELECT c FROM s WHERE p = 1 AND c IN (1, 4, 9)");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "1;4;");
	run_ok("DELETE v FROM s WHERE p = 1 AND c = 4");
	run_ok("SELECT c, v FROM s WHERE p = 1 AND c = 4");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "4|null;"); /* the row marker keeps the row */
	run_ok("DELETE FROM s WHERE p = 1");
	run_ok("SELECT * FROM s WHERE p = 1");
	cr_assert_eq(rows_text(out, sizeof(out)), 0);

	run_ok("CREATE TABLE c (k int PRIMARY KEY, tags set<text>, m map<text, int>, l list<int>)");
	run_ok("INSERT INTO c (k, tags, m, l) VALUES (1, {'b', 'a'}, {'x': 1}, [3, 1])");
	run_ok("UPDATE c SET tags = tags + {'c'}, m['y'] = 2, l = l + [7] WHERE k = 1");
	run_ok("UPDATE c SET tags = tags - {'a'} WHERE k = 1");
	run_ok("SELECT tags, m, l FROM c WHERE k = 1");
	struct bufreader r;
	bufreader_init(&r, req.body_out.data, req.body_out.len);
	cr_assert_eq(cql_get_int(&r), CQL_RESULT_ROWS);
	int32_t flags = cql_get_int(&r);
	cr_assert_eq(cql_get_int(&r), 3);
	cr_assert(flags & CQL_ROWS_GLOBAL_TABLES_SPEC);
	cql_get_string(&r);
	cql_get_string(&r);
	for (int i = 0; i < 3; i++) {
		cql_get_string(&r);
		uint16_t kind = cql_get_short(&r);
		cql_get_short(&r);
		if (kind == CQLTYPE_MAP)
			cql_get_short(&r);
	}
	cr_assert_eq(cql_get_int(&r), 1);
	struct cql_slice tags = cql_get_bytes(&r), m = cql_get_bytes(&r), l = cql_get_bytes(&r);
	static const uint8_t want_tags[] = {0, 0, 0, 2, 0, 0, 0, 1, 'b', 0, 0, 0, 1, 'c'};
	cr_assert_eq(tags.len, (int32_t)sizeof(want_tags));
	cr_assert(memcmp(tags.p, want_tags, sizeof(want_tags)) == 0);
	static const uint8_t want_m[] = {0, 0, 0, 2, 0, 0, 0,   1, 'x', 0, 0, 0, 4, 0, 0,
	                                 0, 1, 0, 0, 0, 1, 'y', 0, 0,   0, 4, 0, 0, 0, 2};
	cr_assert_eq(m.len, (int32_t)sizeof(want_m));
	cr_assert(memcmp(m.p, want_m, sizeof(want_m)) == 0);
	static const uint8_t want_l[] = {0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0,
	                                 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 7};
	cr_assert_eq(l.len, (int32_t)sizeof(want_l));
	cr_assert(memcmp(l.p, want_l, sizeof(want_l)) == 0);
	/* a full write replaces the whole collection */
	run_ok("UPDATE c SET tags = {'z'} WHERE k = 1");
	run_ok("SELECT tags FROM c WHERE k = 1");
	static const uint8_t want_z[] = {0, 0, 0, 1, 0, 0, 0, 1, 'z'};
	cr_assert(memmem(req.body_out.data, req.body_out.len, want_z, sizeof(want_z)));
	cr_assert_null(memmem(req.body_out.data, req.body_out.len, "\x01b", 2));

	/* empty values are valid clustering values and sort first */
	run_ok("CREATE TABLE ec (k int, c text, v int, PRIMARY KEY (k, c))");
	run_ok("INSERT INTO ec (k, c, v) VALUES (1, 'b', 2)");
	run_ok("INSERT INTO ec (k, c, v) VALUES (1, '', 1)");
	run_ok("SELECT c, v FROM ec WHERE k = 1");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "|1;b|2;");

	/* TTL expiry */
	run_ok("CREATE TABLE e (k int PRIMARY KEY, v int)");
	run_ok("INSERT INTO e (k, v) VALUES (1, 1) USING TTL 1");
	run_ok("INSERT INTO e (k, v) VALUES (2, 2)");
	run_ok("SELECT k FROM e");
	cr_assert_eq(rows_text(out, sizeof(out)), 2);
	sleep(2);
	run_ok("SELECT k FROM e");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "2;");
}

Test(executor, token_ranges_and_bind_errors)
{
	run_ok("CREATE KEYSPACE k WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 1}");
	run_ok("CREATE TABLE k.t (a int, b text, v int, PRIMARY KEY ((a, b)))");
	for (int i = 0; i < 20; i++) {
		char q[128];
		snprintf(q, sizeof(q), "INSERT INTO k.t (a, b, v) VALUES (%d, 'x', %d)", i, i);
		run_ok(q);
	}
	char out[2048];
	run_ok("SELECT v FROM k.t WHERE token(a, b) > 0");
	int pos = rows_text(out, sizeof(out));
	run_ok("SELECT v FROM k.t WHERE token(a, b) <= 0");
	int neg = rows_text(out, sizeof(out));
	cr_assert_eq(pos + neg, 20);
	cr_assert(pos > 0 && neg > 0);
	run_ok("SELECT v FROM k.t WHERE token(a, b) > 100 AND token(a, b) < 100");
	cr_assert_eq(rows_text(out, sizeof(out)), 0);
	run_ok("SELECT v FROM k.t WHERE a = 3 AND b = 'x'");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "3;");
	cr_assert_eq(run_err("SELECT v FROM k.t WHERE a = 3"), CQL_ERR_INVALID);
	cr_assert_eq(run_err("SELECT v FROM k.t WHERE v = 3"), CQL_ERR_INVALID);
	cr_assert_eq(run_err("INSERT INTO k.t (a, b, v) VALUES (?, 'x', 1)"), CQL_ERR_INVALID);
	cr_assert(strstr(req.err.msg, "bound variables"), "%s", req.err.msg);
	cr_assert_eq(run_err("SELECT v FROM k.t WHERE a = 1 AND b = 'x' LIMIT 0"), CQL_ERR_INVALID);
	cr_assert_eq(run_err("INSERT INTO k.t (a, b, v) VALUES (1, 'x', 1) IF NOT EXISTS"),
	             CQL_ERR_INVALID);
	cr_assert_eq(run_err("UPDATE system.local SET cluster_name = 'x' WHERE key = 'local'"),
	             CQL_ERR_INVALID);
	run_ok("SELECT keyspace_name, table_name FROM system_schema.tables WHERE keyspace_name = "
	       "'k' AND table_name = 't'");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "k|t;");
	run_ok("SELECT column_name, kind, position FROM system_schema.columns WHERE "
	       "keyspace_name = 'k' AND table_name = 't'");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "a|partition_key|0;b|partition_key|1;v|regular|-1;");
	run_ok("SELECT count(*) FROM system_schema.tables WHERE keyspace_name = 'system_schema'");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "10;");
}

struct row_capture {
	uint8_t key[64], val[256];
	size_t klen, vlen;
	int n;
};

static void capture(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct row_capture *c = ctx;
	if (c->n++ == 0 && kl <= sizeof(c->key) && vl <= sizeof(c->val)) {
		memcpy(c->key, k, kl);
		memcpy(c->val, v, vl);
		c->klen = kl;
		c->vlen = vl;
	}
}

Test(executor, schema_row_golden_bytes)
{
	struct schema_repl_opt repl[] = {{"class", "SimpleStrategy"}, {"replication_factor", "3"}};
	struct schema_keyspace_def def = {"ks", true, repl, 2};
	struct cerr e = {0};
	cr_assert_eq(schema_create_keyspace(ln.sch, &def, 0x0102030405060708LL, &e), 0, "%s",
	             e.msg);
	struct row_capture c = {0};
	schema_rows(ln.sch, capture, &c);
	cr_assert_eq(c.n, 1);
	static const char key[] = "schema/ks/ks";
	cr_assert_eq(c.klen, sizeof(key) - 1);
	cr_assert(memcmp(c.key, key, c.klen) == 0);
	static const char cls[] = "org.apache.cassandra.locator.SimpleStrategy";
	struct buf g;
	buf_init(&g);
	buf_put_u8(&g, 2);   /* format */
	buf_put_u8(&g, 'K'); /* kind */
	buf_put_u64be(&g, 0x0102030405060708ULL);
	buf_put_u8(&g, 0); /* not dropped */
	buf_put_u8(&g, 1); /* durable_writes */
	buf_put_u16be(&g, 2);
	buf_put_u16be(&g, 5);
	buf_put(&g, "class", 5);
	buf_put_u16be(&g, (uint16_t)strlen(cls));
	buf_put(&g, cls, strlen(cls));
	buf_put_u16be(&g, 18);
	buf_put(&g, "replication_factor", 18);
	buf_put_u16be(&g, 1);
	buf_put(&g, "3", 1);
	cr_assert_eq(c.vlen, g.len);
	cr_assert(memcmp(c.val, g.data, g.len) == 0);
	buf_release(&g);
	const struct schema_keyspace *k = schema_snap_keyspace(schema_current(ln.sch), "ks");
	cr_assert_eq(k->replication_factor, 3);
	/* a drop leaves a tombstone row, newer than the row it replaces */
	cr_assert_eq(schema_drop_keyspace(ln.sch, "ks", 5, &e), 0, "%s", e.msg);
	memset(&c, 0, sizeof(c));
	schema_rows(ln.sch, capture, &c);
	static const uint8_t tomb[] = {2, 'K', 1, 2, 3, 4, 5, 6, 7, 9, 1};
	cr_assert_eq(c.vlen, sizeof(tomb));
	cr_assert(memcmp(c.val, tomb, sizeof(tomb)) == 0);
	cr_assert_null(schema_snap_keyspace(schema_current(ln.sch), "ks"));
}

/* ---- asynchronous completion: the router answers after executor_run returns ---- */

static int done_calls;
static void on_done(struct exec_req *r)
{
	(void)r;
	done_calls++;
}

/* Run one request body whose frame is destroyed as soon as executor_run returns. */
static void run_deferred(uint8_t opcode, const struct buf *body)
{
	uint8_t *frame = malloc(body->len);
	cr_assert(frame);
	memcpy(frame, body->data, body->len);
	req.session = &sess;
	req.opcode = opcode;
	req.body = frame;
	req.body_len = body->len;
	req.done = on_done;
	done_calls = 0;
	router_set_defer(ln.px, true);
	executor_run(ex, &req);
	memset(frame, 0xAA, body->len); /* the executor must have copied what it needs */
	free(frame);
	cr_assert_eq(done_calls, 0, "answered before the router completed (failed %d: %s)",
	             req.err.code, req.err.msg);
	cr_assert(router_run_deferred(ln.px) > 0);
	router_set_defer(ln.px, false);
	cr_assert_eq(done_calls, 1);
	cr_assert(!req.err.code, "error %d %s", req.err.code, req.err.msg);
}

static void query_body(struct buf *b, const char *q, int32_t page_size, const struct cql_slice *st,
                       const struct cql_slice *vals, uint16_t nvals)
{
	buf_reset(b);
	cql_put_long_string(b, q, strlen(q));
	cql_put_short(b, CL_QUORUM);
	uint8_t flags = (nvals ? CQL_QF_VALUES : 0) | (page_size > 0 ? CQL_QF_PAGE_SIZE : 0) |
	                (st && st->len > 0 ? CQL_QF_PAGING_STATE : 0);
	cql_put_byte(b, flags);
	if (nvals) {
		cql_put_short(b, nvals);
		for (uint16_t i = 0; i < nvals; i++)
			cql_put_bytes(b, vals[i].p, vals[i].len);
	}
	if (page_size > 0)
		cql_put_int(b, page_size);
	if (st && st->len > 0)
		cql_put_bytes(b, st->p, st->len);
}

Test(executor, asynchronous_router_completion)
{
	run_ok("CREATE KEYSPACE a WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 1}");
	run_ok("CREATE TABLE a.t (k int, c int, v text, PRIMARY KEY (k, c))");
	struct buf body;
	buf_init(&body);
	/* writes with bound values: the values outlive the frame */
	for (int k = 0; k < 3; k++)
		for (int c = 0; c < 4; c++) {
			uint8_t kb[4], cb[4];
			be32_store(kb, (uint32_t)k);
			be32_store(cb, (uint32_t)c);
			char v[8];
			snprintf(v, sizeof(v), "v%d%d", k, c);
			struct cql_slice vals[3] = {{kb, 4}, {cb, 4}, {(const uint8_t *)v, 3}};
			query_body(&body, "INSERT INTO a.t (k, c, v) VALUES (?, ?, ?)", 0, NULL,
			           vals, 3);
			run_deferred(CQL_OP_QUERY, &body);
			cr_assert_eq(be32_load(req.body_out.data), CQL_RESULT_VOID);
		}
	/* a SELECT over an IN list, in pages of 5: several reads per page, each completing
	 * later, and the paging state carried across */
	uint8_t state[256];
	struct cql_slice st = {state, -1};
	char all[512] = "";
	int pages = 0;
	do {
		query_body(&body, "SELECT v FROM a.t WHERE k IN (2, 0, 1)", 5, &st, NULL, 0);
		run_deferred(CQL_OP_QUERY, &body);
		pages++;
		struct bufreader r;
		bufreader_init(&r, req.body_out.data, req.body_out.len);
		cr_assert_eq(cql_get_int(&r), CQL_RESULT_ROWS);
		int32_t flags = cql_get_int(&r);
		cql_get_int(&r);
		st.len = -1;
		if (flags & CQL_ROWS_HAS_MORE_PAGES) {
			struct cql_slice ps = cql_get_bytes(&r);
			memcpy(state, ps.p, (size_t)ps.len);
			st.len = ps.len;
		}
		cql_get_string(&r);
		cql_get_string(&r);
		cql_get_string(&r);
		cql_get_short(&r);
		int32_t n = cql_get_int(&r);
		cr_assert(n <= 5);
		for (int32_t i = 0; i < n; i++) {
			struct cql_slice v = cql_get_bytes(&r);
			strncat(all, (const char *)v.p, (size_t)v.len);
			strcat(all, ",");
		}
	} while (st.len > 0 && pages < 10);
	cr_assert_eq(pages, 3);
	cr_assert_str_eq(all, "v20,v21,v22,v23,v00,v01,v02,v03,v10,v11,v12,v13,");
	/* a full scan, completing later */
	query_body(&body, "SELECT count(*) FROM a.t", 0, NULL, NULL, 0);
	run_deferred(CQL_OP_QUERY, &body);
	char out[64];
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "12;");
	/* a protocol BATCH, completing later */
	buf_reset(&body);
	cql_put_byte(&body, CQL_BATCH_LOGGED);
	cql_put_short(&body, 2);
	const char *d1 = "DELETE FROM a.t WHERE k = ?";
	uint8_t kb[4];
	be32_store(kb, 1);
	cql_put_byte(&body, 0);
	cql_put_long_string(&body, d1, strlen(d1));
	cql_put_short(&body, 1);
	cql_put_bytes(&body, kb, 4);
	const char *d2 = "DELETE FROM a.t WHERE k = 2 AND c = 3";
	cql_put_byte(&body, 0);
	cql_put_long_string(&body, d2, strlen(d2));
	cql_put_short(&body, 0);
	cql_put_short(&body, CL_ONE);
	cql_put_byte(&body, 0);
	run_deferred(CQL_OP_BATCH, &body);
	cr_assert_eq(be32_load(req.body_out.data), CQL_RESULT_VOID);
	run_ok("SELECT count(*) FROM a.t");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "7;");
	/* Unavailable still answers at once, before anything is queued */
	run_ok("CREATE KEYSPACE a3 WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 3}");
	run_ok("CREATE TABLE a3.t (k int PRIMARY KEY)");
	query_body(&body, "SELECT * FROM a3.t WHERE k = 1", 0, NULL, NULL, 0);
	req.body = body.data;
	req.body_len = body.len;
	req.opcode = CQL_OP_QUERY;
	req.done = on_done;
	done_calls = 0;
	router_set_defer(ln.px, true);
	executor_run(ex, &req);
	router_set_defer(ln.px, false);
	cr_assert_eq(done_calls, 1);
	cr_assert_eq(req.err.code, COL_EUNAVAILABLE);
	cr_assert_eq(cqlserver_error_code(&req.err, &req.about), CQL_ERR_UNAVAILABLE);
	cr_assert_eq(req.err.rep.required, 2);
	buf_release(&body);
}

/* ---- threads: snapshots released off the owner thread, statements for the owner ----------------
 */

struct unref_arg {
	struct schema *s;
	const struct schema_snap *snap;
};

static void *unref_elsewhere(void *p)
{
	struct unref_arg *a = p;
	schema_snap_unref(a->s, a->snap);
	return NULL;
}

Test(executor, snapshot_released_on_another_thread_waits_for_the_owner)
{
	const struct schema_snap *old = schema_snap_ref(ln.sch);
	uint64_t gen = schema_generation(ln.sch);
	cr_expect_eq(gen, old->generation);
	run_ok("CREATE KEYSPACE swap WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 1}");
	cr_expect_gt(schema_generation(ln.sch), gen, "the change swapped in a new snapshot");
	cr_expect_neq(schema_current(ln.sch), old);
	/* ours is now the last reference to the old snapshot: drop it on another thread */
	struct unref_arg a = {ln.sch, old};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, unref_elsewhere, &a), 0);
	pthread_join(th, NULL);
	cr_expect_eq(ln.sch->graveyard, old, "not freed off the owner thread");
	cr_expect_eq(old->generation, gen, "still readable until the owner collects it");
	schema_collect(ln.sch);
	cr_expect_null(ln.sch->graveyard, "the owner freed it");
}

struct fwd_seen {
	int calls;
	uint8_t opcode;
	size_t body_len;
};
static struct fwd_seen fwd;

static void forward_hook(void *ctx, struct exec_req *r)
{
	(void)ctx;
	fwd.calls++;
	fwd.opcode = r->opcode;
	fwd.body_len = r->body_len;
}

static void noop_done(struct exec_req *r)
{
	(void)r;
}

/* A QUERY body: [long string] then consistency ONE and no flags. */
static void plain_query(struct buf *b, const char *cql)
{
	buf_reset(b);
	cql_put_long_string(b, cql, strlen(cql));
	cql_put_short(b, CL_ONE);
	buf_put_u8(b, 0);
}

Test(executor, a_loop_that_does_not_own_the_schema_forwards_ddl_and_virtual_reads)
{
	run_ok("CREATE KEYSPACE k WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 1}");
	run_ok("CREATE TABLE k.t (a int PRIMARY KEY, b int)");
	struct executor *lx;
	struct executor_deps d = {.schema = ln.sch,
	                          .store = ln.st,
	                          .router = ln.px,
	                          .prepared = ln.pc,
	                          .view = &view,
	                          .forward = forward_hook};
	cr_assert_eq(executor_new(&d, &lx), 0);
	struct buf body;
	buf_init(&body);
	struct exec_req r = {.session = &sess, .opcode = CQL_OP_QUERY, .done = noop_done};
	buf_init(&r.body_out);
	memset(&fwd, 0, sizeof(fwd));

	const char *owner_only[] = {"CREATE TABLE k.u (a int PRIMARY KEY)", "DROP TABLE k.t",
	                            "SELECT * FROM system.local"};
	for (size_t i = 0; i < 3; i++) {
		plain_query(&body, owner_only[i]);
		r.body = body.data;
		r.body_len = body.len;
		executor_run(lx, &r);
		cr_expect_eq(fwd.calls, (int)i + 1, "%s is forwarded", owner_only[i]);
		cr_expect_eq(fwd.body_len, body.len, "with its body");
	}
	cr_expect_null(schema_snap_table(schema_current(ln.sch), "k", "u"), "not run here");

	const char *local[] = {"INSERT INTO k.t (a, b) VALUES (1, 2)", "SELECT * FROM k.t",
	                       "USE k"};
	for (size_t i = 0; i < 3; i++) {
		plain_query(&body, local[i]);
		r.body = body.data;
		r.body_len = body.len;
		executor_run(lx, &r);
		cr_expect_eq(r.err.code, 0, "%s runs here: %s", local[i], r.err.msg);
	}
	cr_expect_eq(fwd.calls, 3, "reads, writes and USE are not forwarded");
	executor_free(lx);
	buf_release(&body);
	buf_release(&r.body_out);
}

/* ---- a request loop's router: requests hop to the main loop, answers come back ----------------
 */

struct hop_seen {
	int done;
	int code;
	char msg[sizeof(((struct cerr *)0)->msg)];
};
static struct hop_seen hs[4];
static int hs_next;

static void hop_req_done(struct exec_req *r)
{
	struct hop_seen *h = &hs[hs_next++ % 4];
	h->done++;
	h->code = r->err.code;
	snprintf(h->msg, sizeof(h->msg), "%s", r->err.msg);
}

Test(executor, a_request_loops_writes_hop_to_the_main_loop_within_a_bound)
{
	run_ok("CREATE KEYSPACE h WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 1}");
	run_ok("CREATE TABLE h.t (a int PRIMARY KEY, b int)");
	struct ev_loop *main_ev = ev_loop_new(EVFLAG_AUTO), *own_ev = ev_loop_new(EVFLAG_AUTO);
	struct mailbox main_mb, own_mb;
	cr_assert_eq(mailbox_init(&main_mb, main_ev, 8), 0);
	cr_assert_eq(mailbox_init(&own_mb, own_ev, 8), 0);
	struct router *hop;
	const uint8_t host[16] = {1};
	cr_assert_eq(router_new_hop(ln.px, &main_mb, &own_mb, 1, host, NULL, &hop), 0);
	struct executor *lx;
	struct executor_deps d = {.schema = ln.sch,
	                          .store = ln.st,
	                          .router = hop,
	                          .prepared = ln.pc,
	                          .view = &view,
	                          .forward = forward_hook};
	cr_assert_eq(executor_new(&d, &lx), 0);
	struct buf body;
	buf_init(&body);
	struct exec_req r[3];
	memset(r, 0, sizeof(r));
	memset(hs, 0, sizeof(hs));
	hs_next = 0;
	const char *ins[] = {"INSERT INTO h.t (a, b) VALUES (1, 10)",
	                     "INSERT INTO h.t (a, b) VALUES (2, 20)",
	                     "INSERT INTO h.t (a, b) VALUES (3, 30)"};
	for (int i = 0; i < 2; i++) {
		r[i] = (struct exec_req){
		        .session = &sess, .opcode = CQL_OP_QUERY, .done = hop_req_done};
		buf_init(&r[i].body_out);
		plain_query(&body, ins[i]);
		r[i].body = body.data;
		r[i].body_len = body.len;
		executor_run(lx, &r[i]);
	}
	cr_expect_eq(hs_next, 1, "the first is away, the second answered at once");
	cr_expect_eq(hs[0].code, COL_EOVERLOADED, "beyond max_inflight 1: %s", hs[0].msg);
	cr_expect_eq(router_hops_in_flight(hop), 1);
	cr_expect_eq(mailbox_drain(&own_mb), 0, "nothing came back before the main loop ran it");
	cr_expect_eq(mailbox_drain(&main_mb), 1, "the main loop runs the write");
	cr_expect_eq(hs_next, 1, "its answer waits for the requesting loop");
	cr_expect_eq(mailbox_drain(&own_mb), 1);
	cr_expect_eq(hs_next, 2);
	cr_expect_eq(hs[1].code, 0, "written: %s", hs[1].msg);
	cr_expect_eq(router_hops_in_flight(hop), 0);
	run_ok("SELECT b FROM h.t WHERE a = 1");
	char out[64];
	cr_expect_eq(rows_text(out, sizeof(out)), 1, "the write is in the store");

	/* a main loop that stopped taking work: answered at once, ECLOSED */
	mailbox_close(&main_mb);
	r[2] = (struct exec_req){.session = &sess, .opcode = CQL_OP_QUERY, .done = hop_req_done};
	buf_init(&r[2].body_out);
	plain_query(&body, ins[2]);
	r[2].body = body.data;
	r[2].body_len = body.len;
	executor_run(lx, &r[2]);
	cr_expect_eq(hs_next, 3);
	cr_expect_eq(hs[2].code, COL_ECLOSED, "%s", hs[2].msg);
	cr_expect_eq(router_hops_in_flight(hop), 0);

	executor_free(lx);
	router_free(hop);
	mailbox_close(&own_mb);
	mailbox_destroy(&own_mb);
	mailbox_destroy(&main_mb);
	ev_loop_destroy(main_ev);
	ev_loop_destroy(own_ev);
	for (int i = 0; i < 3; i++)
		buf_release(&r[i].body_out);
	buf_release(&body);
}
