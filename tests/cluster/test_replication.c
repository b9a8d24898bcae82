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

static void two_dcs(void)
{
	struct cluster_opts o = {0};
	o.n = 6;
	for (int i = 0; i < 6; i++) {
		o.dcs[i] = i < 3 ? "dc1" : "dc2";
		o.racks[i] = i % 3 == 0 ? "r1" : i % 3 == 1 ? "r2" : "r3";
	}
	cr_assert(cluster_new(&o, &c) == 0, "cannot create the cluster");
	CL_ASSERT(cluster_wait_all_up(c, 90000) >= 0, "nodes did not see each other up");
	struct cqlclient *cl = connect_to(1);
	ok(cl, CL_ONE,
	   "CREATE KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', "
	   "'dc1': 3, 'dc2': 3}");
	ok(cl, CL_ONE, "CREATE TABLE ks.t (k int PRIMARY KEY, v text)");
	cqlclient_free(cl);
}

/* Expected outcome of a level with a live replicas in dc1 (ours) and b in dc2. */
static bool nts_ok(uint16_t lv, int a, int b, int *need, int *have)
{
	switch (lv) {
	case CL_TWO: *need = 2, *have = a + b; break;
	case CL_THREE: *need = 3, *have = a + b; break;
	case CL_QUORUM: *need = 4, *have = a + b; break;
	case CL_ALL: *need = 6, *have = a + b; break;
	case CL_LOCAL_QUORUM: *need = 2, *have = a; break;
	case CL_LOCAL_ONE: *need = 1, *have = a; break;
	case CL_EACH_QUORUM: *need = 2, *have = a < 2 ? a : b; return a >= 2 && b >= 2;
	default: *need = 1, *have = a + b;
	}
	return *have >= *need;
}

static void check_levels(struct cqlclient *cl, int a, int b, int key)
{
	static const uint16_t levels[] = {CL_ONE,          CL_TWO,         CL_THREE,     CL_QUORUM,
	                                  CL_LOCAL_QUORUM, CL_EACH_QUORUM, CL_LOCAL_ONE, CL_ALL};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		int need, have;
		bool want = nts_ok(levels[i], a, b, &need, &have);
		char q[128];
		snprintf(q, sizeof(q), "INSERT INTO ks.t (k, v) VALUES (%d, 'x')", key);
		for (int read = 0; read < 2; read++) {
			struct cqlresult *r =
			        run(cl, levels[i], read ? "SELECT v FROM ks.t WHERE k = 1" : q);
			bool unavailable =
			        r->kind == CQLRES_ERROR && r->error.code == CQL_ERR_UNAVAILABLE;
			CL_EXPECT(want ? r->kind != CQLRES_ERROR : unavailable,
			          "%s %s with dc1 %d, dc2 %d alive: %s", read ? "read" : "write",
			          cql_consistency_name(levels[i]), a, b,
			          r->kind == CQLRES_ERROR ? r->error.message : "success");
			if (!want && unavailable) {
				CL_EXPECT(r->error.required == need, "%s required %d",
				          cql_consistency_name(levels[i]), r->error.required);
				CL_EXPECT(r->error.alive == have, "%s alive %d",
				          cql_consistency_name(levels[i]), r->error.alive);
			}
			cqlresult_free(r);
		}
	}
}

/* NetworkTopologyStrategy {dc1: 3, dc2: 3}: dc2 loses nodes, then dc1 does. */
Test(replication, availability_nts_two_dcs_sigkill)
{
	two_dcs();
	struct cqlclient *cl = connect_to(1);
	check_levels(cl, 3, 3, 1);
	const int kills[][2] = {{6, 0}, {5, 0}, {3, 0}}; /* dc2: 2 left, 1 left; dc1: 2 left */
	int a = 3, b = 3;
	for (size_t i = 0; i < 3; i++) {
		int k = kills[i][0];
		CL_ASSERT(cluster_kill(c, k) == 0, "kill node %d", k);
		int obs[] = {1}, tgt[] = {k};
		CL_ASSERT(cluster_wait_status(c, obs, 1, tgt, 1, "DN", 30000) >= 0,
		          "node 1 never saw node %d down", k);
		if (k > 3)
			b--;
		else
			a--;
		check_levels(cl, a, b, 10 + (int)i);
	}
	cqlclient_free(cl);
}

/*
 * The datacenters partitioned apart (nftables): LOCAL_QUORUM keeps working in
 * each, EACH_QUORUM and QUORUM are Unavailable; after healing, ALL sees every
 * write made on both sides.
 */
Test(replication, multi_dc_partition)
{
	two_dcs();
	int dc1[] = {1, 2, 3}, dc2[] = {4, 5, 6};
	CL_ASSERT(cluster_partition(c, dc1, 3, dc2, 3) == 0, "partition");
	CL_ASSERT(cluster_wait_status(c, dc1, 3, dc2, 3, "DN", 60000) >= 0, "dc1 sees dc2 down");
	CL_ASSERT(cluster_wait_status(c, dc2, 3, dc1, 3, "DN", 60000) >= 0, "dc2 sees dc1 down");
	struct cqlclient *c1 = connect_to(1), *c4 = connect_to(4);
	ok(c1, CL_LOCAL_QUORUM, "INSERT INTO ks.t (k, v) VALUES (100, 'from-dc1')");
	ok(c4, CL_LOCAL_QUORUM, "INSERT INTO ks.t (k, v) VALUES (200, 'from-dc2')");
	ok(c1, CL_LOCAL_QUORUM, "SELECT v FROM ks.t WHERE k = 100");
	ok(c4, CL_LOCAL_QUORUM, "SELECT v FROM ks.t WHERE k = 200");
	const uint16_t cross[] = {CL_EACH_QUORUM, CL_QUORUM};
	for (size_t i = 0; i < 2; i++) {
		struct cqlresult *r =
		        run(c1, cross[i], "INSERT INTO ks.t (k, v) VALUES (300, 'no')");
		CL_EXPECT(r->kind == CQLRES_ERROR && r->error.code == CQL_ERR_UNAVAILABLE,
		          "%s write across the partition: %s", cql_consistency_name(cross[i]),
		          r->kind == CQLRES_ERROR ? r->error.message : "success");
		cqlresult_free(r);
		r = run(c4, cross[i], "SELECT v FROM ks.t WHERE k = 100");
		CL_EXPECT(r->kind == CQLRES_ERROR && r->error.code == CQL_ERR_UNAVAILABLE,
		          "%s read across the partition: %s", cql_consistency_name(cross[i]),
		          r->kind == CQLRES_ERROR ? r->error.message : "success");
		cqlresult_free(r);
	}
	CL_ASSERT(cluster_heal(c) == 0, "heal");
	CL_ASSERT(cluster_wait_all_up(c, 60000) >= 0, "everyone up again");
	const int keys[] = {100, 200};
	const char *vals[] = {"from-dc1", "from-dc2"};
	for (size_t i = 0; i < 2; i++) {
		char q[96];
		snprintf(q, sizeof(q), "SELECT v FROM ks.t WHERE k = %d", keys[i]);
		struct cqlresult *r = run(i ? c1 : c4, CL_ALL, q);
		CL_EXPECT(r->kind == CQLRES_ROWS && r->n_rows == 1, "ALL read of %d: %s", keys[i],
		          r->kind == CQLRES_ERROR ? r->error.message : "no row");
		if (r->kind == CQLRES_ROWS && r->n_rows == 1) {
			char *v = cqlresult_text(r, 0, 0);
			CL_EXPECT(v && strcmp(v, vals[i]) == 0, "%d = %s", keys[i],
			          v ? v : "(null)");
			free(v);
		}
		cqlresult_free(r);
	}
	cqlclient_free(c1);
	cqlclient_free(c4);
}

/* Replicas a level reaches in a cluster of RF `rf` per DC × `dcs` datacenters (for W + R > RF). */
static int reach(uint16_t lv, int rf, int dcs)
{
	switch (lv) {
	case CL_ONE: return 1;
	case CL_TWO: return 2;
	case CL_THREE: return 3;
	case CL_QUORUM: return rf * dcs / 2 + 1;
	case CL_LOCAL_QUORUM:
	case CL_EACH_QUORUM: return (rf / 2 + 1) * (lv == CL_EACH_QUORUM ? dcs : 1);
	default: return rf * dcs; /* ALL */
	}
}

/*
 * TestAccuracy: every (W, R) with W + R > RF (counted over all replicas; for
 * LOCAL_QUORUM in one DC, within it), written through one node and read
 * through another (in 2 DCs: through the other datacenter too).
 */
static void accuracy(int dcs)
{
	static const uint16_t lv[] = {CL_ONE, CL_TWO,          CL_THREE,      CL_QUORUM,
	                              CL_ALL, CL_LOCAL_QUORUM, CL_EACH_QUORUM};
	size_t nlv = dcs == 1 ? 5 : 7;
	int n = 3 * dcs, key = 1000, pairs = 0;
	struct cqlclient *cls[7] = {0};
	for (int k = 1; k <= n; k++)
		cls[k] = connect_to(k);
	for (size_t w = 0; w < nlv; w++) {
		for (size_t r = 0; r < nlv; r++) {
			bool local_pair = lv[w] == CL_LOCAL_QUORUM || lv[r] == CL_LOCAL_QUORUM;
			int rf = local_pair ? 3 : 3 * dcs;
			int ww = lv[w] == CL_LOCAL_QUORUM ? 2 : reach(lv[w], 3, dcs);
			int rr = lv[r] == CL_LOCAL_QUORUM ? 2 : reach(lv[r], 3, dcs);
			if (local_pair && (lv[w] == CL_EACH_QUORUM || lv[r] == CL_EACH_QUORUM))
				ww = rr = 2, rf = 3; /* both hold a quorum of each DC */
			if (ww + rr <= rf)
				continue;
			int wc = 1 + (pairs % n);
			/* LOCAL_QUORUM pairs only overlap within one DC: read from the writer's DC
			 */
			int rc = local_pair ? (wc - 1) / 3 * 3 + 1 + (wc % 3)
			                    : 1 + ((pairs + 1 + 3) % n);
			char q[128];
			snprintf(q, sizeof(q), "INSERT INTO ks.t (k, v) VALUES (%d, 'v%d')", key,
			         key);
			ok(cls[wc], lv[w], q);
			snprintf(q, sizeof(q), "SELECT v FROM ks.t WHERE k = %d", key);
			struct cqlresult *res = run(cls[rc], lv[r], q);
			char want[16];
			snprintf(want, sizeof(want), "v%d", key);
			char *v = res->kind == CQLRES_ROWS && res->n_rows == 1
			                  ? cqlresult_text(res, 0, 0)
			                  : NULL;
			CL_EXPECT(v && strcmp(v, want) == 0, "W=%s via %d, R=%s via %d: %s",
			          cql_consistency_name(lv[w]), wc, cql_consistency_name(lv[r]), rc,
			          v                           ? v
			          : res->kind == CQLRES_ERROR ? res->error.message
			                                      : "no row");
			free(v);
			cqlresult_free(res);
			key++;
			pairs++;
		}
	}
	CL_EXPECT(pairs >= (dcs == 1 ? 20 : 25), "%d pairs", pairs);
	for (int k = 1; k <= n; k++)
		cqlclient_free(cls[k]);
}

Test(replication, accuracy_one_dc)
{
	three_nodes_rf3();
	accuracy(1);
}

Test(replication, accuracy_two_dcs)
{
	two_dcs();
	accuracy(2);
}
