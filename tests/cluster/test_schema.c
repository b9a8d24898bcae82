/*
 * Schema in a cluster: DDL on one node is usable at once on every
 * node; a change made while a node is down (SIGKILL) reaches it when it
 * returns; concurrent DDL on two nodes (different tables; the same table with
 * different definitions, across a partition) converges to one schema version
 * on every node; system.local/system.peers and `colonnade describecluster`
 * agree.  Real `colonnade` processes (COLONNADE_BIN) on COLONNADE_TEST_NET.x,
 * gossip every 50 ms; see tests/cluster/README.md and docs/SCHEMA.md.
 */
#include "cli/lib/cqlclient.h"
#include "tests/cluster/harness/cluster_test.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROUND_MS    50
#define START_MS    30000
#define CONVERGE_MS 20000
#define DETECT_MS   15000

static struct cluster *c;

static void start_with(int n, const char *extra_yaml)
{
	struct cluster_opts o = {.n = n, .extra_yaml = extra_yaml, .gossip_interval_ms = ROUND_MS};
	c = cluster_test_start(&o, true);
}

static void start(int n)
{
	start_with(n, NULL);
}

/* Run cql; the result (caller frees) or NULL on a transport failure. */
static struct cqlresult *q(struct cqlclient *cl, const char *cql)
{
	struct cqlresult *r = NULL;
	struct cerr e = {0};
	struct cql_qparams p;
	cql_qparams_init(&p);
	if (cqlclient_query(cl, cql, &p, &r, &e)) {
		cr_log_error("%s: %s", cql, e.msg);
		return NULL;
	}
	return r;
}

/* Run cql, which must succeed (no error result); returns its warnings count. */
static size_t ok(struct cqlclient *cl, const char *cql)
{
	return cluster_test_ok(c, cl, CL_ONE, cql);
}

/* A uuid cell as text ("" for null or not 16 bytes). */
static void uuid_cell(const struct cqlresult *r, uint32_t row, uint32_t col, char out[40])
{
	out[0] = 0;
	const struct cql_slice *s = cqlresult_cell(r, row, col);
	if (s->len != 16)
		return;
	const uint8_t *u = s->p;
	snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
	         u[13], u[14], u[15]);
}

/*
 * Node k's own schema version (system.local) and whether every peer it lists
 * in system.peers has that same version.
 */
static bool node_agrees(struct cqlclient *cl, char ver[40])
{
	ver[0] = 0;
	struct cqlresult *r = q(cl, "SELECT schema_version FROM system.local");
	if (r && r->kind == CQLRES_ROWS && r->n_rows == 1)
		uuid_cell(r, 0, 0, ver);
	cqlresult_free(r);
	if (!ver[0])
		return false;
	r = q(cl, "SELECT peer, schema_version FROM system.peers");
	bool all = r && r->kind == CQLRES_ROWS;
	for (uint32_t i = 0; all && i < r->n_rows; i++) {
		char v[40];
		uuid_cell(r, i, 1, v);
		all = strcmp(v, ver) == 0;
	}
	cqlresult_free(r);
	return all;
}

/* Wait until nodes 1..n report one version everywhere (local and peers); that version. */
static int64_t wait_one_version(struct cqlclient **cls, int n, char ver[40], int timeout_ms)
{
	int64_t t0 = cluster_now_ms();
	for (;;) {
		char first[40] = "", v[40];
		bool same = true;
		for (int k = 1; k <= n && same; k++) {
			same = node_agrees(cls[k], v) && (k == 1 || strcmp(v, first) == 0);
			if (k == 1)
				snprintf(first, sizeof(first), "%s", v);
		}
		if (same) {
			snprintf(ver, 40, "%s", first);
			return cluster_now_ms() - t0;
		}
		if (cluster_now_ms() - t0 > timeout_ms)
			return -1;
		usleep(50 * 1000);
	}
}

/* describecluster from node k lists exactly one schema version with every node under it. */
static void expect_describe_one_version(int k, int n, const char *ver)
{
	char out[16384];
	int st = -1;
	const char *args[] = {"describecluster", "-h", c->nodes[k].addr, NULL};
	CLUSTER_ASSERT(c, cluster_run(c, args, NULL, out, sizeof(out), 10000, &st) == 0 && st == 0,
	               "colonnade describecluster: %s", out);
	const char *sv = strstr(out, "Schema versions:");
	CLUSTER_ASSERT(c, sv, "no schema versions in:\n%s", out);
	CLUSTER_EXPECT(c, strstr(sv, ver) != NULL, "version %s listed:\n%s", ver, out);
	int uuids = 0;
	for (const char *p = sv; (p = strchr(p, '-')); p++)
		uuids++;
	/* one uuid has 4 hyphens */
	CLUSTER_EXPECT(c, uuids == 4, "exactly one version listed:\n%s", out);
	int listed = 0;
	for (int j = 1; j <= n; j++)
		listed += strstr(sv, c->nodes[j].addr) != NULL;
	CLUSTER_EXPECT(c, listed == n, "all %d nodes under the version:\n%s", n, out);
}

TestSuite(schema, .fini = cluster_test_fini, .timeout = 300);

Test(schema, table_created_on_one_node_is_usable_at_once_everywhere)
{
	start(3);
	struct cqlclient *cls[4];
	for (int k = 1; k <= 3; k++)
		cls[k] = cluster_test_connect(c, k);
	/* Pushes before the DDL below (a node making system_traces at start pushes it). */
	double pushes_before = 0;
	for (int k = 1; k <= 3; k++)
		pushes_before += cluster_test_metric(c, k, "colonnade_schema_pushes_sent_total");
	int64_t t0 = cluster_now_ms();
	CLUSTER_EXPECT(c,
	               ok(cls[1],
	                  "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
	                  "'replication_factor': 3}") == 0,
	               "no agreement warning with every node up");
	CLUSTER_EXPECT(c, ok(cls[1], "CREATE TABLE ks.t (k int PRIMARY KEY, v text)") == 0,
	               "no agreement warning with every node up");
	cr_log_info("two DDL answered (with agreement) in %lld ms",
	            (long long)(cluster_now_ms() - t0));
	/*
	 * Right after the answer: node 1's system.peers agrees with its
	 * system.local (what drivers check on the coordinator), and every node
	 * holds the table at that version (their own gossip views of the others
	 * may lag a round: not checked here).
	 */
	char ver[40], v[40];
	CLUSTER_ASSERT(c, node_agrees(cls[1], ver),
	               "node 1: system.peers agrees with system.local");
	for (int k = 2; k <= 3; k++) {
		char cql[128];
		snprintf(cql, sizeof(cql), "INSERT INTO ks.t (k, v) VALUES (%d, 'from %d')", k, k);
		ok(cls[k], cql);
		ok(cls[k], "SELECT * FROM ks.t WHERE k = 1");
		node_agrees(cls[k], v);
		CLUSTER_EXPECT(c, strcmp(v, ver) == 0, "node %d at version %s like node 1 (%s)", k,
		               v, ver);
	}
	/* ALTER and DROP travel the same way. */
	ok(cls[2], "ALTER TABLE ks.t ADD w int");
	ok(cls[3], "INSERT INTO ks.t (k, w) VALUES (7, 7)");
	ok(cls[3], "DROP TABLE ks.t");
	struct cqlresult *r = q(cls[1], "SELECT * FROM ks.t");
	CLUSTER_EXPECT(c, r && r->kind == CQLRES_ERROR && r->error.code == CQL_ERR_INVALID,
	               "ks.t dropped on node 1 right after node 3's DROP answered");
	cqlresult_free(r);
	CLUSTER_ASSERT(c, wait_one_version(cls, 3, ver, CONVERGE_MS) >= 0, "one schema version");
	expect_describe_one_version(2, 3, ver);
	double pulls = 0, pushes = 0;
	for (int k = 1; k <= 3; k++) {
		pulls += cluster_test_metric(c, k, "colonnade_schema_pulls_sent_total");
		pushes += cluster_test_metric(c, k, "colonnade_schema_pushes_sent_total");
	}
	pushes -= pushes_before;
	cr_log_info("4 DDL: %.0f pushes and %.0f pulls sent in all", pushes, pulls);
	CLUSTER_EXPECT(c, pushes == 8, "each of 4 DDL pushed to the 2 other nodes (%.0f)", pushes);
	for (int k = 1; k <= 3; k++)
		cqlclient_free(cls[k]);
}

Test(schema, change_while_a_node_is_down_reaches_it_when_it_returns)
{
	start(3);
	struct cqlclient *cls[4];
	for (int k = 1; k <= 3; k++)
		cls[k] = cluster_test_connect(c, k);
	ok(cls[1], "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
	           "'replication_factor': 3}");
	ok(cls[1], "CREATE TABLE ks.gone (k int PRIMARY KEY, v text)");
	cqlclient_free(cls[3]);
	CLUSTER_ASSERT(c, cluster_kill(c, 3) == 0, "SIGKILL node 3");
	int obs[] = {1, 2}, tgt[] = {3};
	CLUSTER_ASSERT(c, cluster_wait_status(c, obs, 2, tgt, 1, "DN", DETECT_MS) >= 0,
	               "node 3 DN");
	/* Node 3 is down: not waited for, so no warning. */
	CLUSTER_EXPECT(c, ok(cls[1], "CREATE TABLE ks.added (k int PRIMARY KEY, v text)") == 0,
	               "a down node is not waited for");
	ok(cls[2], "DROP TABLE ks.gone");
	ok(cls[2], "INSERT INTO ks.added (k, v) VALUES (1, 'x')");
	CLUSTER_ASSERT(c, cluster_start_node(c, 3) == 0, "restart node 3");
	CLUSTER_ASSERT(c, cluster_wait_admin(c, 3, START_MS) >= 0, "node 3 back");
	CLUSTER_ASSERT(c, cluster_wait_all_up(c, START_MS) >= 0, "all UN again");
	cls[3] = cluster_test_connect(c, 3);
	char ver[40];
	int64_t ms = wait_one_version(cls, 3, ver, CONVERGE_MS);
	CLUSTER_ASSERT(c, ms >= 0, "node 3 caught up with the schema");
	cr_log_info("node 3 at the cluster's schema version %lld ms after it was UN",
	            (long long)ms);
	ok(cls[3], "SELECT * FROM ks.added");
	ok(cls[3], "INSERT INTO ks.added (k, v) VALUES (2, 'y')");
	struct cqlresult *r = q(cls[3], "SELECT * FROM ks.gone");
	CLUSTER_EXPECT(c, r && r->kind == CQLRES_ERROR && r->error.code == CQL_ERR_INVALID,
	               "the table dropped while node 3 was down is gone there");
	cqlresult_free(r);
	CLUSTER_EXPECT(c, cluster_log_count(c, 3, "merged") >= 1, "node 3 logged the merge");
	expect_describe_one_version(3, 3, ver);
	for (int k = 1; k <= 3; k++)
		cqlclient_free(cls[k]);
}

struct ddl_thread {
	int node;
	const char *cql[4];
	int n;
};

static void *run_ddl(void *arg)
{
	struct ddl_thread *t = arg;
	struct cqlconn_opts o = {0};
	o.bind_host = c->client_addr;
	o.request_timeout_ms = 30000;
	struct cqlclient *cl = NULL;
	struct cerr e = {0};
	if (cqlclient_connect(c->nodes[t->node].addr, 9042, &o, &cl, &e))
		return NULL;
	for (int i = 0; i < t->n; i++) {
		struct cqlresult *r = NULL;
		struct cql_qparams p;
		cql_qparams_init(&p);
		/* The same table created on both: one of them may answer Already_exists. */
		if (cqlclient_query(cl, t->cql[i], &p, &r, &e) == 0)
			cqlresult_free(r);
	}
	cqlclient_free(cl);
	return NULL;
}

/* system_schema.columns of a table on node k, as one "name:type:kind;..." string. */
static void columns_of(struct cqlclient *cl, const char *table, char *out, size_t len)
{
	char cql[256];
	snprintf(cql, sizeof(cql),
	         "SELECT column_name, type, kind FROM system_schema.columns WHERE "
	         "keyspace_name = 'ks' AND table_name = '%s'",
	         table);
	out[0] = 0;
	struct cqlresult *r = q(cl, cql);
	for (uint32_t i = 0; r && r->kind == CQLRES_ROWS && i < r->n_rows; i++) {
		char *a = cqlresult_text(r, i, 0), *b = cqlresult_text(r, i, 1),
		     *k = cqlresult_text(r, i, 2);
		size_t l = strlen(out);
		snprintf(out + l, len - l, "%s:%s:%s;", a ? a : "?", b ? b : "?", k ? k : "?");
		free(a);
		free(b);
		free(k);
	}
	cqlresult_free(r);
}

Test(schema, concurrent_ddl_on_two_nodes_converges_to_one_version)
{
	start(3);
	struct cqlclient *cls[4];
	for (int k = 1; k <= 3; k++)
		cls[k] = cluster_test_connect(c, k);
	ok(cls[1], "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
	           "'replication_factor': 3}");
	/* Different tables, and one same-named table, from two nodes at once. */
	struct ddl_thread a = {.node = 1,
	                       .cql = {"CREATE TABLE ks.a (k int PRIMARY KEY, v text)",
	                               "CREATE TABLE ks.same1 (k int PRIMARY KEY, v text)"},
	                       .n = 2};
	struct ddl_thread b = {.node = 2,
	                       .cql = {"CREATE TABLE ks.b (k int PRIMARY KEY, v text)",
	                               "CREATE TABLE ks.same1 (id text PRIMARY KEY, w int)"},
	                       .n = 2};
	pthread_t ta, tb;
	CLUSTER_ASSERT(c,
	               pthread_create(&ta, NULL, run_ddl, &a) == 0 &&
	                       pthread_create(&tb, NULL, run_ddl, &b) == 0,
	               "threads");
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	char ver[40];
	CLUSTER_ASSERT(c, wait_one_version(cls, 3, ver, CONVERGE_MS) >= 0,
	               "one version after racing DDL");
	for (int k = 1; k <= 3; k++) {
		ok(cls[k], "SELECT * FROM ks.a");
		ok(cls[k], "SELECT * FROM ks.b");
	}

	/*
	 * A true conflict: node 1 cut off from nodes 2 and 3, each side creates
	 * ks.same2 with its own definition; after the heal every node holds the
	 * same one (the newer row), at one version.
	 */
	int one[] = {1}, rest[] = {2, 3};
	CLUSTER_ASSERT(c, cluster_partition(c, one, 1, rest, 2) == 0, "partition");
	CLUSTER_ASSERT(c, cluster_wait_status(c, one, 1, rest, 2, "DN", DETECT_MS) >= 0,
	               "2, 3 DN on 1");
	CLUSTER_ASSERT(c, cluster_wait_status(c, rest, 2, one, 1, "DN", DETECT_MS) >= 0,
	               "1 DN on 2, 3");
	ok(cls[1], "CREATE TABLE ks.same2 (k int PRIMARY KEY, v text)");
	ok(cls[2], "CREATE TABLE ks.same2 (id text PRIMARY KEY, w int, x int)");
	ok(cls[1], "INSERT INTO ks.same2 (k, v) VALUES (1, 'one')");
	CLUSTER_ASSERT(c, cluster_heal(c) == 0, "heal");
	CLUSTER_ASSERT(c, cluster_wait_all_up(c, START_MS) >= 0, "all UN after the heal");
	int64_t ms = wait_one_version(cls, 3, ver, CONVERGE_MS);
	CLUSTER_ASSERT(c, ms >= 0, "one version after the heal");
	cr_log_info("one schema version %lld ms after every node was UN again", (long long)ms);
	char c1[512], ck[512];
	columns_of(cls[1], "same2", c1, sizeof(c1));
	CLUSTER_EXPECT(c, strstr(c1, "id:text:partition_key;") != NULL,
	               "the later definition (node 2's) won: %s", c1);
	for (int k = 1; k <= 3; k++) {
		columns_of(cls[k], "same2", ck, sizeof(ck));
		CLUSTER_EXPECT(c, strcmp(ck, c1) == 0, "node %d holds ks.same2 as node 1: %s vs %s",
		               k, ck, c1);
		columns_of(cls[k], "same1", ck, sizeof(ck));
		columns_of(cls[1], "same1", c1, sizeof(c1));
		CLUSTER_EXPECT(c, ck[0] && strcmp(ck, c1) == 0,
		               "node %d holds ks.same1 as node 1: %s vs %s", k, ck, c1);
		columns_of(cls[1], "same2", c1, sizeof(c1));
		ok(cls[k], "SELECT * FROM ks.same2");
	}
	expect_describe_one_version(1, 3, ver);
	for (int k = 1; k <= 3; k++)
		cqlclient_free(cls[k]);
}

Test(schema, bad_schema_messages_are_refused_and_change_nothing)
{
	start(2);
	struct cqlclient *cl = cluster_test_connect(c, 1);
	ok(cl, "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 2}");
	char before[40], after[40];
	CLUSTER_ASSERT(c, node_agrees(cl, before), "agreement before");
	/*
	 * From the harness address on node 1's internode port: a handshake, then
	 * SCHEMA_PUSH frames with a wrong format number and with a corrupt row.
	 */
	struct buf b;
	buf_init(&b);
	/* handshake: [cluster, version, host_id, host, port, status, reason] */
	size_t m = b.len;
	buf_put_u32be(&b, 0);
	buf_put_u8(&b, 0);
	buf_put_u8(&b, 0x93);
	buf_put_u8(&b, 0); /* verb 0 */
	buf_put_u8(&b, 0); /* id 0 */
	buf_put_u8(&b, 0x97);
	const char *cn = "colonnade-test";
	buf_put_u8(&b, (uint8_t)(0xa0 | strlen(cn)));
	buf_put(&b, cn, strlen(cn));
	buf_put_u8(&b, 1);
	buf_put_u8(&b, 0xc4);
	buf_put_u8(&b, 16);
	for (int i = 0; i < 16; i++)
		buf_put_u8(&b, (uint8_t)(0x40 + i));
	buf_put_u8(&b, (uint8_t)(0xa0 | strlen(c->client_addr)));
	buf_put(&b, c->client_addr, strlen(c->client_addr));
	buf_put_u8(&b, 0xcd);
	buf_put_u16be(&b, 7000);
	buf_put_u8(&b, 0);
	buf_put_u8(&b, 0xa0);
	be32_store(b.data + m, (uint32_t)(b.len - m - 4));
	/* SCHEMA_PUSH [2, version, []]: a format this node does not read */
	m = b.len;
	buf_put_u32be(&b, 0);
	buf_put_u8(&b, 0);
	buf_put_u8(&b, 0x93);
	buf_put_u8(&b, 16);
	buf_put_u8(&b, 0);
	buf_put_u8(&b, 0x93);
	buf_put_u8(&b, 2);
	buf_put_u8(&b, 0xc4);
	buf_put_u8(&b, 16);
	for (int i = 0; i < 16; i++)
		buf_put_u8(&b, 0);
	buf_put_u8(&b, 0x90);
	be32_store(b.data + m, (uint32_t)(b.len - m - 4));
	/* SCHEMA_PUSH [1, version, [[key, garbage]]]: a keyspace row that does not decode */
	m = b.len;
	buf_put_u32be(&b, 0);
	buf_put_u8(&b, 0);
	buf_put_u8(&b, 0x93);
	buf_put_u8(&b, 16);
	buf_put_u8(&b, 0);
	buf_put_u8(&b, 0x93);
	buf_put_u8(&b, 1);
	buf_put_u8(&b, 0xc4);
	buf_put_u8(&b, 16);
	for (int i = 0; i < 16; i++)
		buf_put_u8(&b, 0);
	buf_put_u8(&b, 0x91);
	buf_put_u8(&b, 0x92);
	const char *key = "schema/ks/evil";
	buf_put_u8(&b, 0xc4);
	buf_put_u8(&b, (uint8_t)strlen(key));
	buf_put(&b, key, strlen(key));
	uint8_t row[] = {1, 'K', 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1, 0, 9, 'x'};
	buf_put_u8(&b, 0xc4);
	buf_put_u8(&b, sizeof(row));
	buf_put(&b, row, sizeof(row));
	be32_store(b.data + m, (uint32_t)(b.len - m - 4));
	CLUSTER_ASSERT(c, buf_ok(&b), "frames");
	CLUSTER_ASSERT(c, cluster_send_raw(c, 1, b.data, b.len, 500) == 0, "send");
	buf_release(&b);
	CLUSTER_EXPECT(c, cluster_wait_log(c, 1, "schema push from", 2, 10000) >= 2,
	               "both pushes refused with a log line");
	CLUSTER_EXPECT(c, cluster_log_count(c, 1, "format 2") >= 1, "the format is named");
	CLUSTER_EXPECT(c, cluster_test_metric(c, 1, "colonnade_schema_refused_total") == 2,
	               "two refusals counted");
	CLUSTER_EXPECT(c, cluster_test_metric(c, 1, "colonnade_schema_agreement") == 1,
	               "still in agreement");
	CLUSTER_ASSERT(c, node_agrees(cl, after), "agreement after");
	CLUSTER_EXPECT(c, strcmp(before, after) == 0, "schema version unchanged: %s -> %s", before,
	               after);
	struct cqlresult *r = q(cl, "USE evil");
	CLUSTER_EXPECT(c, r && r->kind == CQLRES_ERROR, "no keyspace evil");
	cqlresult_free(r);
	ok(cl, "CREATE TABLE ks.t (k int PRIMARY KEY)");
	cqlclient_free(cl);
}

Test(schema, ddl_answers_with_a_warning_when_a_live_node_does_not_agree_in_time)
{
	/* 300 ms: shorter than the failure detector needs to convict a paused node */
	start_with(3, "schema_agreement_timeout: 300ms\n");
	struct cqlclient *cl = cluster_test_connect(c, 1);
	ok(cl, "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 3}");
	CLUSTER_ASSERT(c, cluster_pause(c, 3) == 0, "SIGSTOP node 3");
	int64_t t0 = cluster_now_ms();
	struct cqlresult *r = q(cl, "CREATE TABLE ks.t (k int PRIMARY KEY, v text)");
	int64_t took = cluster_now_ms() - t0;
	CLUSTER_ASSERT(c, r && r->kind == CQLRES_SCHEMA_CHANGE, "the DDL succeeds");
	CLUSTER_EXPECT(c,
	               r->n_warnings == 1 &&
	                       strstr(r->warnings[0], "Schema agreement not reached") &&
	                       strstr(r->warnings[0], c->nodes[3].addr),
	               "one warning naming node 3 (%zu warnings%s%s)", r->n_warnings,
	               r->n_warnings ? ": " : "", r->n_warnings ? r->warnings[0] : "");
	CLUSTER_EXPECT(c, took >= 300 && took < 5000, "answered after the 300 ms timeout (%lld ms)",
	               (long long)took);
	CLUSTER_EXPECT(c,
	               cluster_test_metric(c, 1, "colonnade_schema_agreement_timeouts_total") == 1,
	               "counted");
	cqlresult_free(r);
	/* The table is there on node 2 already; node 3 catches up once resumed. */
	struct cqlclient *c2 = cluster_test_connect(c, 2);
	ok(c2, "SELECT * FROM ks.t");
	CLUSTER_ASSERT(c, cluster_resume(c, 3) == 0, "SIGCONT node 3");
	CLUSTER_ASSERT(c, cluster_wait_all_up(c, START_MS) >= 0, "all UN");
	struct cqlclient *cls[4] = {NULL, cl, c2, cluster_test_connect(c, 3)};
	char ver[40];
	CLUSTER_ASSERT(c, wait_one_version(cls, 3, ver, CONVERGE_MS) >= 0,
	               "one version after resume");
	ok(cls[3], "SELECT * FROM ks.t");
	for (int k = 1; k <= 3; k++)
		cqlclient_free(cls[k]);
}

Test(schema, new_node_learns_the_schema_when_it_joins)
{
	start(2);
	struct cqlclient *cl = cluster_test_connect(c, 1);
	ok(cl, "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 2}");
	ok(cl, "CREATE TABLE ks.t (k int PRIMARY KEY, v text)");
	ok(cl, "CREATE TABLE ks.gone (k int PRIMARY KEY)");
	ok(cl, "DROP TABLE ks.gone");
	char ver[40];
	CLUSTER_ASSERT(c, node_agrees(cl, ver), "nodes 1 and 2 agree");
	/* A third node, empty, with node 1 as its seed (a second harness cluster of one). */
	struct cluster_opts o = {0};
	o.n = 1;
	o.first_host = 3;
	o.gossip_interval_ms = ROUND_MS;
	o.seeds = c->nodes[1].addr;
	struct cluster *nc = NULL;
	CLUSTER_ASSERT(c, cluster_new(&o, &nc) == 0, "start node 3");
	CLUSTER_ASSERT(c, cluster_wait_admin(nc, 1, START_MS) >= 0, "node 3 up");
	struct cqlclient *n3 = cluster_test_connect(nc, 1);
	int64_t t0 = cluster_now_ms();
	char v3[40] = "";
	while (cluster_now_ms() - t0 < CONVERGE_MS) {
		if (node_agrees(n3, v3) && strcmp(v3, ver) == 0)
			break;
		usleep(50 * 1000);
	}
	cr_log_info("the new node reached the cluster's version in %lld ms",
	            (long long)(cluster_now_ms() - t0));
	CLUSTER_EXPECT(c, strcmp(v3, ver) == 0, "node 3 at the cluster's version (%s vs %s)", v3,
	               ver);
	CLUSTER_EXPECT(c, cluster_log_count(nc, 1, "merged") >= 1, "node 3 (%s) merged the schema",
	               nc->nodes[1].addr);
	ok(n3, "INSERT INTO ks.t (k, v) VALUES (3, 'three')");
	struct cqlresult *r = q(n3, "SELECT * FROM ks.gone");
	CLUSTER_EXPECT(c, r && r->kind == CQLRES_ERROR, "the dropped table is not there");
	cqlresult_free(r);
	cqlclient_free(n3);
	cqlclient_free(cl);
	if (c->failed)
		cluster_mark_failed(nc);
	cluster_free(nc);
}
