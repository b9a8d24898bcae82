/*
 * Replicated reads and writes on real processes (issue 5): availability per
 * consistency level with SIGKILLed replicas (dtest TestAvailability), and
 * blocking read repair of a replica that was down during writes, checked
 * with `colonnade dump` on that node.
 */
#include "tests/cluster/harness/cluster.h"

#include "cli/lib/cqlclient.h"
#include "core/cqlproto.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct cluster *c;

#define CL_ASSERT(cond, ...)                                                                       \
	do {                                                                                       \
		bool ok_ = (cond);                                                                 \
		if (!ok_ && c)                                                                     \
			cluster_mark_failed(c);                                                    \
		cr_assert(ok_, __VA_ARGS__);                                                       \
	} while (0)
#define CL_EXPECT(cond, ...)                                                                       \
	do {                                                                                       \
		bool ok_ = (cond);                                                                 \
		if (!ok_ && c)                                                                     \
			cluster_mark_failed(c);                                                    \
		cr_expect(ok_, __VA_ARGS__);                                                       \
	} while (0)

static void fini(void)
{
	cluster_free(c);
	c = NULL;
}

static struct cqlclient *connect_to(int k)
{
	struct cqlconn_opts o = {0};
	o.bind_host = c->client_addr;
	o.request_timeout_ms = 20000;
	struct cqlclient *cl = NULL;
	struct cerr e = {0};
	int rc = -1;
	for (int i = 0; i < 100 && rc != 0; i++) { /* the CQL port opens after gossip settles */
		rc = cqlclient_connect(c->nodes[k].addr, 9042, &o, &cl, &e);
		if (rc != 0)
			usleep(100 * 1000);
	}
	CL_ASSERT(rc == 0, "connect to node %d: %s", k, e.msg);
	return cl;
}

/* Run a statement at cl; the result (to free), never NULL. */
static struct cqlresult *run(struct cqlclient *cl, uint16_t level, const char *cql)
{
	struct cql_qparams p;
	cql_qparams_init(&p);
	p.consistency = level;
	struct cqlresult *r = NULL;
	struct cerr e = {0};
	CL_ASSERT(cqlclient_query(cl, cql, &p, &r, &e) == 0, "%s: %s", cql, e.msg);
	return r;
}

static void ok(struct cqlclient *cl, uint16_t level, const char *cql)
{
	struct cqlresult *r = run(cl, level, cql);
	CL_ASSERT(r->kind != CQLRES_ERROR, "%s at %s: %s", cql, cql_consistency_name(level),
	          r->error.message);
	cqlresult_free(r);
}

static void three_nodes_rf3(void)
{
	struct cluster_opts o = {0};
	o.n = 3;
	cr_assert(cluster_new(&o, &c) == 0, "cannot create the cluster");
	CL_ASSERT(cluster_wait_all_up(c, 60000) >= 0, "nodes did not see each other up");
	struct cqlclient *cl = connect_to(1);
	ok(cl, CL_ONE,
	   "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
	   "'replication_factor': 3}");
	ok(cl, CL_ONE, "CREATE TABLE ks.t (k int PRIMARY KEY, v text)");
	cqlclient_free(cl);
}

TestSuite(replication, .fini = fini, .timeout = 300);

/*
 * Every level, for a write and a read, with 3, 2 and 1 live replicas of
 * SimpleStrategy RF=3: success, or Unavailable(required, alive) exactly as
 * Cassandra decides it (killed nodes are SIGKILLed and seen DN first).
 */
Test(replication, availability_simple_rf3_sigkill)
{
	three_nodes_rf3();
	struct cqlclient *cl = connect_to(1);
	static const uint16_t levels[] = {CL_ANY,         CL_ONE,       CL_TWO,
	                                  CL_THREE,       CL_QUORUM,    CL_LOCAL_QUORUM,
	                                  CL_EACH_QUORUM, CL_LOCAL_ONE, CL_ALL};
	for (int alive = 3; alive >= 1; alive--) {
		if (alive < 3) {
			CL_ASSERT(cluster_kill(c, alive + 1) == 0, "kill node %d", alive + 1);
			int obs[] = {1}, tgt[] = {alive + 1};
			CL_ASSERT(cluster_wait_status(c, obs, 1, tgt, 1, "DN", 30000) >= 0,
			          "node 1 never saw node %d down", alive + 1);
		}
		for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
			uint16_t lv = levels[i];
			int need =
			        lv == CL_TWO                     ? 2
			        : lv == CL_THREE || lv == CL_ALL ? 3
			        : lv == CL_QUORUM || lv == CL_LOCAL_QUORUM || lv == CL_EACH_QUORUM
			                ? 2
			                : 1;
			char q[128];
			snprintf(q, sizeof(q), "INSERT INTO ks.t (k, v) VALUES (%d, 'x')", alive);
			for (int read = 0; read < 2; read++) {
				if (read && lv == CL_ANY)
					continue;
				struct cqlresult *r =
				        run(cl, lv, read ? "SELECT v FROM ks.t WHERE k = 1" : q);
				if (alive >= need) {
					CL_EXPECT(r->kind != CQLRES_ERROR,
					          "%s %s with %d alive: %s",
					          read ? "read" : "write", cql_consistency_name(lv),
					          alive, r->error.message);
				} else {
					CL_EXPECT(r->kind == CQLRES_ERROR &&
					                  r->error.code == CQL_ERR_UNAVAILABLE,
					          "%s %s with %d alive: want Unavailable, got %s",
					          read ? "read" : "write", cql_consistency_name(lv),
					          alive,
					          r->kind == CQLRES_ERROR ? r->error.message
					                                  : "success");
					if (r->kind == CQLRES_ERROR) {
						CL_EXPECT(r->error.required == need, "required %d",
						          r->error.required);
						CL_EXPECT(r->error.alive == alive, "alive %d",
						          r->error.alive);
					}
				}
				cqlresult_free(r);
			}
		}
	}
	cqlclient_free(cl);
}

/* A replica down during QUORUM writes is stale; one QUORUM read through it repairs it. */
Test(replication, read_repair_of_a_restarted_replica)
{
	three_nodes_rf3();
	struct cqlclient *cl = connect_to(1);
	ok(cl, CL_ALL, "INSERT INTO ks.t (k, v) VALUES (7, 'old-value')");
	CL_ASSERT(cluster_kill(c, 3) == 0, "kill node 3");
	int obs[] = {1}, tgt[] = {3};
	CL_ASSERT(cluster_wait_status(c, obs, 1, tgt, 1, "DN", 30000) >= 0, "node 3 not seen down");
	ok(cl, CL_QUORUM, "INSERT INTO ks.t (k, v) VALUES (7, 'new-value')");
	cqlclient_free(cl);
	CL_ASSERT(cluster_start_node(c, 3) == 0, "restart node 3");
	CL_ASSERT(cluster_wait_all_up(c, 60000) >= 0, "node 3 did not come back");
	char out[16384];
	int st = 0;
	const char *dump[] = {"dump", "ks", "t", "7", "-h", c->nodes[3].addr, NULL};
	CL_ASSERT(cluster_run(c, dump, NULL, out, sizeof(out), 20000, &st) == 0 && st == 0,
	          "colonnade dump: %s", out);
	CL_EXPECT(strstr(out, "old-value") && !strstr(out, "new-value"),
	          "node 3 missed the write (no hints): %s", out);
	struct cqlclient *c3 = connect_to(3);
	struct cqlresult *r = run(c3, CL_QUORUM, "SELECT v FROM ks.t WHERE k = 7");
	CL_ASSERT(r->kind == CQLRES_ROWS && r->n_rows == 1, "one row");
	char *v = cqlresult_text(r, 0, 0);
	CL_EXPECT(v && strcmp(v, "new-value") == 0, "QUORUM read: %s", v ? v : "(null)");
	free(v);
	cqlresult_free(r);
	cqlclient_free(c3);
	CL_ASSERT(cluster_run(c, dump, NULL, out, sizeof(out), 20000, &st) == 0 && st == 0,
	          "colonnade dump: %s", out);
	CL_EXPECT(strstr(out, "new-value") != NULL, "node 3 repaired before the answer: %s", out);
}
