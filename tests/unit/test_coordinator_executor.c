/*
 * The executor against a real store in a temp dir: DDL, DML, SELECT shapes,
 * paging, errors with Cassandra's wording, consistency checks.
 */
#include "coordinator/executor.h"
#include "coordinator/paging.h"
#include "coordinator/prepared.h"
#include "coordinator/proxy.h"
#include "coordinator/schema.h"
#include "coordinator/systables.h"
#include "core/cqlproto.h"
#include "storage/storage.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static struct store *st_;
static struct schema *sch;
static struct proxy *px;
static struct prepared_cache *pc;
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
	struct cerr e = {0};
	struct store_options o;
	store_options_init(&o);
	o.data_dir = dir;
	cr_assert_eq(store_open(&o, &st_, &e), 0, "%s", e.msg);
	cr_assert_eq(schema_open(st_, &sch, &e), 0, "%s", e.msg);
	cr_assert_eq(proxy_new_local(st_, "datacenter1", &px), 0);
	cr_assert_eq(prepared_cache_new(100, &pc), 0);
	struct executor_deps d = {
	        .schema = sch, .store = st_, .proxy = px, .prepared = pc, .view = &view};
	cr_assert_eq(executor_new(&d, &ex), 0);
}

static void close_all(void)
{
	executor_free(ex);
	prepared_cache_free(pc);
	proxy_free(px);
	schema_free(sch);
	store_close(st_);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/colonnade-exec-XXXXXX");
	cr_assert(mkdtemp(dir));
	buf_init(&req.body_out);
	memset(&sess, 0, sizeof(sess));
	open_all();
}

static void teardown(void)
{
	close_all();
	buf_release(&req.body_out);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Run and expect success; returns the RESULT kind. */
static int run_ok(const char *cql)
{
	executor_run_text(ex, &sess, cql, &req);
	cr_assert(!req.failed, "%s -> error 0x%04x %s", cql, req.error.code, req.error.msg);
	return (int)be32_load(req.body_out.data);
}

static uint32_t run_err(const char *cql)
{
	executor_run_text(ex, &sess, cql, &req);
	cr_assert(req.failed, "%s should fail", cql);
	return req.error.code;
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

Test(executor, errors_are_worded_like_cassandra)
{
	run_ok("CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 1}");
	run_ok("CREATE TABLE shop.orders (id int PRIMARY KEY, item text)");
	cr_assert_eq(run_err("SELEC * FROM shop.orders"), CQL_ERR_SYNTAX);
	cr_assert_eq(run_err("SELECT x FROM shop.orders"), CQL_ERR_INVALID);
	cr_assert_str_eq(req.error.msg, "Undefined column name x in table shop.orders");
	cr_assert_eq(run_err("SELECT * FROM nope.t"), CQL_ERR_INVALID);
	cr_assert_str_eq(req.error.msg, "Keyspace 'nope' does not exist");
	cr_assert_eq(run_err("SELECT * FROM system.peers_v2"), CQL_ERR_INVALID);
	cr_assert_str_eq(req.error.msg, "unconfigured table peers_v2");
	cr_assert_eq(run_err("CREATE TABLE shop.orders (id int PRIMARY KEY)"),
	             CQL_ERR_ALREADY_EXISTS);
	cr_assert_str_eq(req.error.ks, "shop");
	cr_assert_str_eq(req.error.table, "orders");
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
	memcpy(v0, schema_current(sch)->version, 16);
	run_ok("CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 1}");
	run_ok("CREATE TABLE shop.t (k text, c int, v int, PRIMARY KEY (k, c)) WITH CLUSTERING "
	       "ORDER BY (c DESC) AND default_time_to_live = 100");
	run_ok("INSERT INTO shop.t (k, c, v) VALUES ('a', 1, 10)");
	run_ok("INSERT INTO shop.t (k, c, v) VALUES ('a', 2, 20)");
	uint8_t v1[16];
	memcpy(v1, schema_current(sch)->version, 16);
	cr_assert(memcmp(v0, v1, 16) != 0);
	close_all();
	open_all();
	cr_assert(memcmp(schema_current(sch)->version, v1, 16) == 0);
	const struct schema_table *t = schema_snap_table(schema_current(sch), "shop", "t");
	cr_assert(t);
	cr_assert_eq(t->default_time_to_live, 100);
	cr_assert(t->cols[1].desc);
	char out[256];
	run_ok("SELECT c, v FROM shop.t WHERE k = 'a'");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "2|20;1|10;");
	run_ok("SELECT ttl(v) FROM shop.t WHERE k = 'a' LIMIT 1");
	struct bufreader r;
	bufreader_init(&r, req.body_out.data, req.body_out.len);
	run_ok("ALTER TABLE shop.t ADD w text");
	run_ok("SELECT * FROM shop.t WHERE k = 'a'");
	rows_text(out, sizeof(out));
	cr_assert_str_eq(out, "a|2|20|null;a|1|10|null;");
	run_ok("DROP TABLE shop.t");
	cr_assert_eq(run_err("SELECT * FROM shop.t"), CQL_ERR_INVALID);
}

Test(executor, consistency_on_one_node)
{
	run_ok("CREATE KEYSPACE k3 WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 3}");
	struct proxy_result res;
	const struct schema_keyspace *k = schema_snap_keyspace(schema_current(sch), "k3");
	cr_assert_eq(proxy_check(px, k, CL_ONE, true, &res), 0);
	cr_assert_eq(proxy_check(px, k, CL_QUORUM, true, &res), COL_EUNAVAILABLE);
	cr_assert_eq(res.required, 2);
	cr_assert_eq(res.alive, 1);
	cr_assert_eq(proxy_check(px, k, CL_ALL, false, &res), COL_EUNAVAILABLE);
	cr_assert_eq(res.required, 3);
	cr_assert_eq(proxy_check(px, k, CL_ANY, false, &res), COL_EINVAL);
	cr_assert_str_eq(res.msg, "ANY ConsistencyLevel is only supported for writes");
	cr_assert_eq(proxy_check(px, k, CL_SERIAL, true, &res), COL_EINVAL);
	cr_assert_eq(proxy_check(px, k, CL_ANY, true, &res), 0);
}

Test(executor, paging_state_round_trip)
{
	uint8_t key[] = {1, 2, 3};
	struct paging_pos p = {.flags = 1, .remaining = 7, .part_index = 2, .pk = key, .pk_len = 3};
	struct buf b;
	buf_init(&b);
	paging_encode(&p, &b);
	/* golden bytes: format, flags, remaining, part_index, pk_len, pk, ck_len */
	static const uint8_t golden[] = {1, 1, 0, 0, 0, 7, 0, 0, 0, 2, 0,
	                                 0, 0, 3, 1, 2, 3, 0, 0, 0, 0};
	cr_assert_eq(b.len, sizeof(golden));
	cr_assert(memcmp(b.data, golden, sizeof(golden)) == 0);
	struct paging_pos q;
	cr_assert_eq(paging_decode(b.data, b.len, &q), 0);
	cr_assert_eq(q.remaining, 7);
	cr_assert_eq(q.part_index, 2);
	cr_assert_eq(q.pk_len, 3);
	cr_assert_eq(paging_decode(b.data, b.len - 1, &q), COL_EINVAL);
	b.data[0] = 9;
	cr_assert_eq(paging_decode(b.data, b.len, &q), COL_EINVAL);
	buf_release(&b);
}
