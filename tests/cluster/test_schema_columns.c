/*
 * Concurrent column changes on one table from two nodes (docs/SCHEMA.md,
 * "Columns"): two ALTER TABLE ... ADD at the same instant on two nodes both
 * survive, with distinct column ids (data written to each reads back from
 * each); an ADD racing a DROP never brings the dropped column or its data
 * back, not even when a column of that name is added again later.  Each race
 * is run several times (two threads released together) so that the DDLs'
 * pushes cross.  Real `colonnade` processes (COLONNADE_BIN) on
 * COLONNADE_TEST_NET.x, gossip every 50 ms; see tests/cluster/README.md.
 */
#include "cli/lib/cqlclient.h"
#include "tests/cluster/harness/cluster_test.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONVERGE_MS 20000
#define ROUNDS      6

static struct cluster *c;

TestSuite(schema_columns, .fini = cluster_test_fini, .timeout = 600);

struct racer {
	struct cqlclient *cl;
	const char *cql;
	pthread_barrier_t *go;
	bool ok;
	char msg[600];
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct cqlresult *res = NULL;
	struct cerr e = {0};
	struct cql_qparams p;
	cql_qparams_init(&p);
	pthread_barrier_wait(r->go);
	if (cqlclient_query(r->cl, r->cql, &p, &res, &e)) {
		snprintf(r->msg, sizeof(r->msg), "%s", e.msg);
	} else {
		r->ok = res->kind != CQLRES_ERROR;
		if (!r->ok)
			snprintf(r->msg, sizeof(r->msg), "error result 0x%04x", res->error.code);
	}
	cqlresult_free(res);
	return NULL;
}

/* Run a on node 1 and b on node 2 at the same instant; both must succeed. */
static void race_two(struct cqlclient **cls, const char *a, const char *b)
{
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, 2);
	struct racer ra = {.cl = cls[1], .cql = a, .go = &go};
	struct racer rb = {.cl = cls[2], .cql = b, .go = &go};
	pthread_t ta, tb;
	CLUSTER_ASSERT(c,
	               pthread_create(&ta, NULL, race, &ra) == 0 &&
	                       pthread_create(&tb, NULL, race, &rb) == 0,
	               "threads");
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&go);
	CLUSTER_ASSERT(c, ra.ok, "%s on node 1: %s", a, ra.msg);
	CLUSTER_ASSERT(c, rb.ok, "%s on node 2: %s", b, rb.msg);
}

/* Node k's schema version from system.local, as hex of the 16 bytes ("" if none). */
static void version_of(struct cqlclient *cl, char out[40])
{
	out[0] = 0;
	struct cqlresult *r = cluster_test_query(c, cl, CL_ONE, CQL_NO_TIMESTAMP,
	                                         "SELECT schema_version FROM system.local");
	if (r->kind == CQLRES_ROWS && r->n_rows == 1 && cqlresult_cell(r, 0, 0)->len == 16)
		for (int i = 0; i < 16; i++)
			snprintf(out + 2 * i, 3, "%02x", cqlresult_cell(r, 0, 0)->p[i]);
	cqlresult_free(r);
}

static void wait_agreement(struct cqlclient **cls, int n)
{
	int64_t t0 = cluster_now_ms();
	for (;;) {
		char first[40], v[40];
		version_of(cls[1], first);
		bool same = first[0] != 0;
		for (int k = 2; k <= n && same; k++) {
			version_of(cls[k], v);
			same = strcmp(v, first) == 0;
		}
		if (same)
			return;
		CLUSTER_ASSERT(c, cluster_now_ms() - t0 < CONVERGE_MS,
		               "schema versions still differ %d ms after the race", CONVERGE_MS);
		usleep(50 * 1000);
	}
}

/* system_schema.columns of ks.<table> on cl, as "name:type:kind;..." (sorted by name). */
static void columns_of(struct cqlclient *cl, const char *table, char *out, size_t len)
{
	char cql[256];
	snprintf(cql, sizeof(cql),
	         "SELECT column_name, type, kind FROM system_schema.columns WHERE "
	         "keyspace_name = 'ks' AND table_name = '%s'",
	         table);
	out[0] = 0;
	struct cqlresult *r = cluster_test_query(c, cl, CL_ONE, CQL_NO_TIMESTAMP, cql);
	for (uint32_t i = 0; r->kind == CQLRES_ROWS && i < r->n_rows; i++) {
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

/*
 * One cell of `SELECT <col> FROM ks.<table> WHERE k = <key>` at ALL, as text: an int
 * column's value in decimal, a text column's as it is, "null", "none" (no row) or
 * "error 0x....".
 */
static void cell_of(struct cqlclient *cl, const char *table, const char *col, int key, char *out,
                    size_t len)
{
	char cql[256];
	snprintf(cql, sizeof(cql), "SELECT %s FROM ks.%s WHERE k = %d", col, table, key);
	struct cqlresult *r = cluster_test_query(c, cl, CL_ALL, CQL_NO_TIMESTAMP, cql);
	snprintf(out, len, "none");
	if (r->kind == CQLRES_ERROR)
		snprintf(out, len, "error 0x%04x", r->error.code);
	else if (r->kind == CQLRES_ROWS && r->n_rows == 1) {
		const struct cql_slice *s = cqlresult_cell(r, 0, 0);
		bool is_text = strcmp(col, "b") == 0;
		if (s->len < 0)
			snprintf(out, len, "null");
		else if (!is_text && s->len == 4)
			snprintf(out, len, "%d",
			         (int32_t)((uint32_t)s->p[0] << 24 | (uint32_t)s->p[1] << 16 |
			                   (uint32_t)s->p[2] << 8 | s->p[3]));
		else
			snprintf(out, len, "%.*s", (int)s->len, (const char *)s->p);
	}
	cqlresult_free(r);
}

static void start_two(struct cqlclient **cls)
{
	struct cluster_opts o = {.n = 2, .gossip_interval_ms = 50};
	c = cluster_test_start(&o, true);
	for (int k = 1; k <= 2; k++)
		cls[k] = cluster_test_connect(c, k);
	cluster_test_ok(c, cls[1], CL_ONE,
	                "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
	                "'replication_factor': 2}");
}

Test(schema_columns, concurrent_adds_on_two_nodes_both_survive_with_distinct_ids)
{
	struct cqlclient *cls[3];
	start_two(cls);
	int lost = 0;
	for (int round = 0; round < ROUNDS; round++) {
		char table[16], cql[256], a[160], b[160];
		snprintf(table, sizeof(table), "t%d", round);
		snprintf(cql, sizeof(cql), "CREATE TABLE ks.%s (k int PRIMARY KEY, v int)", table);
		cluster_test_ok(c, cls[1], CL_ONE, cql);
		snprintf(a, sizeof(a), "ALTER TABLE ks.%s ADD a int", table);
		snprintf(b, sizeof(b), "ALTER TABLE ks.%s ADD b text", table);
		race_two(cls, a, b);
		wait_agreement(cls, 2);
		char c1[512], c2[512];
		columns_of(cls[1], table, c1, sizeof(c1));
		columns_of(cls[2], table, c2, sizeof(c2));
		CLUSTER_EXPECT(c, strcmp(c1, c2) == 0, "round %d: nodes agree: %s vs %s", round, c1,
		               c2);
		bool both = strstr(c1, "a:int:regular;") && strstr(c1, "b:text:regular;");
		CLUSTER_EXPECT(c, both, "round %d: both added columns are there: %s", round, c1);
		if (!both) {
			lost++;
			continue;
		}
		/* Each column written through another node, then read back from both. */
		snprintf(cql, sizeof(cql), "INSERT INTO ks.%s (k, a) VALUES (1, 11)", table);
		cluster_test_ok(c, cls[1], CL_ALL, cql);
		snprintf(cql, sizeof(cql), "INSERT INTO ks.%s (k, b) VALUES (1, 'bee')", table);
		cluster_test_ok(c, cls[2], CL_ALL, cql);
		for (int k = 1; k <= 2; k++) {
			char va[64], vb[64];
			cell_of(cls[k], table, "a", 1, va, sizeof(va));
			cell_of(cls[k], table, "b", 1, vb, sizeof(vb));
			CLUSTER_EXPECT(c, strcmp(va, "11") == 0 && strcmp(vb, "bee") == 0,
			               "round %d, node %d: a = %s (want 11), b = %s (want bee)",
			               round, k, va, vb);
		}
	}
	cr_log_info("%d of %d rounds lost a column", lost, ROUNDS);
	for (int k = 1; k <= 2; k++)
		cqlclient_free(cls[k]);
}

Test(schema_columns, add_racing_drop_never_brings_the_dropped_data_back)
{
	struct cqlclient *cls[3];
	start_two(cls);
	for (int round = 0; round < ROUNDS; round++) {
		char table[16], cql[256], a[160], b[160];
		snprintf(table, sizeof(table), "d%d", round);
		snprintf(cql, sizeof(cql), "CREATE TABLE ks.%s (k int PRIMARY KEY, v int, x int)",
		         table);
		cluster_test_ok(c, cls[1], CL_ONE, cql);
		snprintf(cql, sizeof(cql), "INSERT INTO ks.%s (k, v, x) VALUES (1, 1, 42)", table);
		cluster_test_ok(c, cls[1], CL_ALL, cql);
		snprintf(a, sizeof(a), "ALTER TABLE ks.%s DROP x", table);
		snprintf(b, sizeof(b), "ALTER TABLE ks.%s ADD y int", table);
		race_two(cls, a, b);
		wait_agreement(cls, 2);
		char c1[512], c2[512];
		columns_of(cls[1], table, c1, sizeof(c1));
		columns_of(cls[2], table, c2, sizeof(c2));
		CLUSTER_EXPECT(c, strcmp(c1, c2) == 0, "round %d: nodes agree: %s vs %s", round, c1,
		               c2);
		CLUSTER_EXPECT(c, strstr(c1, "x:") == NULL, "round %d: x stays dropped: %s", round,
		               c1);
		CLUSTER_EXPECT(c, strstr(c1, "y:int:regular;") != NULL,
		               "round %d: the racing ADD's column is there: %s", round, c1);
		for (int k = 1; k <= 2; k++) {
			char vx[64];
			cell_of(cls[k], table, "x", 1, vx, sizeof(vx));
			CLUSTER_EXPECT(c, strncmp(vx, "error", 5) == 0,
			               "round %d, node %d: x is not selectable (got %s)", round, k,
			               vx);
		}
		for (int k = 1; k <= 2; k++) {
			snprintf(
			        cql, sizeof(cql),
			        "SELECT column_name, kind, type FROM system_schema.dropped_columns "
			        "WHERE keyspace_name = 'ks' AND table_name = '%s'",
			        table);
			struct cqlresult *r =
			        cluster_test_query(c, cls[k], CL_ONE, CQL_NO_TIMESTAMP, cql);
			char *name = r->kind == CQLRES_ROWS && r->n_rows == 1
			                     ? cqlresult_text(r, 0, 0)
			                     : NULL;
			CLUSTER_EXPECT(c, name && strcmp(name, "x") == 0,
			               "round %d, node %d: dropped_columns lists x (%s)", round, k,
			               name ? name : "no single row");
			free(name);
			cqlresult_free(r);
		}
		/* A column of the same name added again starts empty (Cassandra's rule). */
		snprintf(cql, sizeof(cql), "ALTER TABLE ks.%s ADD x int", table);
		cluster_test_ok(c, cls[2], CL_ONE, cql);
		wait_agreement(cls, 2);
		for (int k = 1; k <= 2; k++) {
			char vx[64], vv[64];
			cell_of(cls[k], table, "x", 1, vx, sizeof(vx));
			cell_of(cls[k], table, "v", 1, vv, sizeof(vv));
			CLUSTER_EXPECT(c, strcmp(vx, "null") == 0 && strcmp(vv, "1") == 0,
			               "round %d, node %d: re-added x = %s (want null), v = %s",
			               round, k, vx, vv);
		}
	}
	for (int k = 1; k <= 2; k++)
		cqlclient_free(cls[k]);
}
