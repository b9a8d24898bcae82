/*
 * The batchlog (docs/REPLICATION.md, "LOGGED batches"): a LOGGED batch whose
 * coordinator is SIGKILLed after storing it in the batchlog and before sending
 * its mutations is applied by the batchlog nodes' replay; a driver sees write
 * type BATCH_LOG on a timeout only when the batchlog write itself timed out
 * (nothing was sent), and BATCH when the batchlog holds the batch — our
 * client and Debian's python3-cassandra alike.  Real
 * `colonnade` processes (COLONNADE_BIN) on COLONNADE_TEST_NET.x; see
 * tests/cluster/README.md.
 */
#include "cli/lib/cqlclient.h"
#include "tests/cluster/harness/cluster_test.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct cluster *c;

TestSuite(batchlog, .fini = cluster_test_fini, .timeout = 600);

#define BATCH(ks)                                                                                  \
	"BEGIN BATCH INSERT INTO " ks ".t (k, v) VALUES (1, 10); "                                 \
	"INSERT INTO " ks ".t (k, v) VALUES (2, 20); APPLY BATCH"

/* Rows of `SELECT v FROM <ks>.t WHERE k = <key>` at cl through node k: -1 on an error. */
static int rows_of(int k, uint16_t cl, const char *ks, int key, int *v)
{
	char cql[128];
	snprintf(cql, sizeof(cql), "SELECT v FROM %s.t WHERE k = %d", ks, key);
	struct cqlresult *r =
	        cluster_test_query(c, cluster_test_conn(c, k), cl, CQL_NO_TIMESTAMP, cql);
	int n = r->kind == CQLRES_ROWS ? (int)r->n_rows : -1;
	if (n == 1 && v) {
		const struct cql_slice *s = cqlresult_cell(r, 0, 0);
		*v = s->len == 4 ? (int32_t)((uint32_t)s->p[0] << 24 | (uint32_t)s->p[1] << 16 |
		                             (uint32_t)s->p[2] << 8 | s->p[3])
		                 : -1;
	}
	cqlresult_free(r);
	return n;
}

/* The error of a LOGGED batch at cl through node k ("ok" when it succeeded). */
static void batch_outcome(int k, uint16_t cl, const char *cql, char *out, size_t len)
{
	struct cqlresult *r =
	        cluster_test_query(c, cluster_test_conn(c, k), cl, CQL_NO_TIMESTAMP, cql);
	if (r->kind != CQLRES_ERROR)
		snprintf(out, len, "ok");
	else
		snprintf(out, len, "0x%04x %s (%d of %d) %s", r->error.code,
		         r->error.write_type ? r->error.write_type : "-", r->error.received,
		         r->error.required, r->error.message ? r->error.message : "");
	cqlresult_free(r);
}

/*
 * Debian's python3-cassandra, pinned to one node: a LOGGED batch of keys 5 and 6
 * into a.t at ONE once file <go1> exists, then into b.t at ALL once <go2> exists;
 * each outcome printed as "result ok" or "result WriteTimeout <type> <received>
 * <required>".
 */
static const char PY_LOGGED_BATCHES[] =
        "import os, sys, time\n"
        "from cassandra import ConsistencyLevel, WriteTimeout\n"
        "from cassandra.cluster import Cluster\n"
        "from cassandra.policies import WhiteListRoundRobinPolicy, WriteType\n"
        "from cassandra.query import BatchStatement, BatchType, SimpleStatement\n"
        "host, go1, go2 = sys.argv[1], sys.argv[2], sys.argv[3]\n"
        "cl = Cluster([host], load_balancing_policy=WhiteListRoundRobinPolicy([host]),\n"
        "             protocol_version=4)\n"
        "s = cl.connect()\n"
        "print('connected', flush=True)\n"
        "for ks, level, go in (('a', ConsistencyLevel.ONE, go1),\n"
        "                      ('b', ConsistencyLevel.ALL, go2)):\n"
        "    while not os.path.exists(go):\n"
        "        time.sleep(0.01)\n"
        "    b = BatchStatement(batch_type=BatchType.LOGGED, consistency_level=level)\n"
        "    for k in (5, 6):\n"
        "        b.add(SimpleStatement('INSERT INTO %s.t (k, v) VALUES (%d, %d)' % (ks, k, k)))\n"
        "    try:\n"
        "        s.execute(b, timeout=30)\n"
        "        print('result ok', flush=True)\n"
        "    except WriteTimeout as e:\n"
        "        print('result WriteTimeout', WriteType.value_to_name[e.write_type],\n"
        "              e.received_responses, e.required_responses, flush=True)\n"
        "    except Exception as e:\n"
        "        print('result', type(e).__name__, e, flush=True)\n"
        "cl.shutdown()\n";

/* Create file path (the python script's go signal) and read its next "result" line. */
static void py_result(FILE *py, const char *path, char *line, size_t len)
{
	FILE *f = fopen(path, "w");
	CLUSTER_ASSERT(c, f && fclose(f) == 0, "create %s", path);
	line[0] = 0;
	while (fgets(line, (int)len, py) && strncmp(line, "result", 6) != 0)
		;
}

Test(batchlog, batch_log_write_type_only_when_the_batchlog_does_not_hold_the_batch)
{
	/* dc1: nodes 1-3, dc2: node 4; conviction slow (phi 16, 250 ms rounds) so paused
	 * nodes stay UP for the coordinator while the batches run */
	struct cluster_opts o = {.n = 4,
	                         .gossip_interval_ms = 250,
	                         .phi = 16,
	                         .dcs = {"dc1", "dc1", "dc1", "dc2"},
	                         .extra_yaml = "write_request_timeout_in_ms: 1000\n"};
	c = cluster_test_start(&o, true);
	cluster_test_ok(c, cluster_test_conn(c, 1), CL_ONE,
	                "CREATE KEYSPACE a WITH replication = {'class': "
	                "'NetworkTopologyStrategy', 'dc1': 3}");
	cluster_test_ok(c, cluster_test_conn(c, 1), CL_ONE,
	                "CREATE KEYSPACE b WITH replication = {'class': "
	                "'NetworkTopologyStrategy', 'dc1': 1, 'dc2': 1}");
	cluster_test_ok(c, cluster_test_conn(c, 1), CL_ONE,
	                "CREATE TABLE a.t (k int PRIMARY KEY, v int)");
	cluster_test_ok(c, cluster_test_conn(c, 1), CL_ONE,
	                "CREATE TABLE b.t (k int PRIMARY KEY, v int)");
	char script[400], go1[400], go2[400], cmd[1600], line[512] = "", last[512] = "";
	snprintf(script, sizeof(script), "%s/logged_batches.py", c->root);
	snprintf(go1, sizeof(go1), "%s/go1", c->root);
	snprintf(go2, sizeof(go2), "%s/go2", c->root);
	FILE *f = fopen(script, "w");
	CLUSTER_ASSERT(c, f && fputs(PY_LOGGED_BATCHES, f) >= 0 && fclose(f) == 0, "write %s",
	               script);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -W ignore %s %s %s %s 2>&1", script,
	         c->nodes[1].addr, go1, go2);
	FILE *py = popen(cmd, "r");
	CLUSTER_ASSERT(c, py, "start %s", cmd);
	while (fgets(line, sizeof(line), py) && strncmp(line, "connected", 9) != 0)
		snprintf(last, sizeof(last), "%s", line);
	CLUSTER_ASSERT(c, strncmp(line, "connected", 9) == 0, "python driver did not connect: %s",
	               last);

	/* The batchlog nodes (2 and 3, the other nodes of dc1) are paused: storing the batch
	 * times out, nothing is sent, and the driver may retry: BATCH_LOG. */
	CLUSTER_ASSERT(c, cluster_pause(c, 2) == 0 && cluster_pause(c, 3) == 0, "SIGSTOP 2, 3");
	char out[512];
	batch_outcome(1, CL_ONE, BATCH("a"), out, sizeof(out));
	CLUSTER_EXPECT(c, strncmp(out, "0x1100 BATCH_LOG (0 of 2)", 25) == 0,
	               "LOGGED batch with its batchlog nodes paused: %s, want WriteTimeout "
	               "BATCH_LOG (0 of 2)",
	               out);
	CLUSTER_EXPECT(
	        c, rows_of(1, CL_ONE, "a", 1, NULL) == 0 && rows_of(1, CL_ONE, "a", 2, NULL) == 0,
	        "no mutation was applied on the coordinator");
	py_result(py, go1, line, sizeof(line));
	CLUSTER_EXPECT(c, strncmp(line, "result WriteTimeout BATCH_LOG 0 2", 33) == 0,
	               "python driver, LOGGED batch with its batchlog nodes paused: %s", line);
	CLUSTER_ASSERT(c, cluster_resume(c, 2) == 0 && cluster_resume(c, 3) == 0, "SIGCONT 2, 3");
	/* every node of dc1 answers again (a read at ALL through node 1) */
	int64_t t0 = cluster_now_ms();
	while (rows_of(1, CL_ALL, "a", 3, NULL) != 0 && cluster_now_ms() - t0 < 20000)
		usleep(100 * 1000);

	/* Node 4 (dc2, a replica of every partition of b) is paused: the batchlog (nodes 2
	 * and 3) holds the batch, the write at ALL times out: BATCH, and it is applied. */
	CLUSTER_ASSERT(c, cluster_pause(c, 4) == 0, "SIGSTOP 4");
	batch_outcome(1, CL_ALL, BATCH("b"), out, sizeof(out));
	CLUSTER_EXPECT(c, strncmp(out, "0x1100 BATCH (", 14) == 0,
	               "LOGGED batch at ALL with node 4 paused: %s, want WriteTimeout BATCH", out);
	py_result(py, go2, line, sizeof(line));
	CLUSTER_EXPECT(c, strncmp(line, "result WriteTimeout BATCH ", 26) == 0,
	               "python driver, LOGGED batch at ALL with node 4 paused: %s", line);
	pclose(py);
	CLUSTER_ASSERT(c, cluster_resume(c, 4) == 0, "SIGCONT 4");
	double lt = cluster_test_metric(c, 1, "colonnade_batchlog_log_timeouts_total"),
	       lg = cluster_test_metric(c, 1, "colonnade_batchlog_logged_total");
	/* ours and the driver's BATCH_LOG, plus the driver's one retry of it (its default
	 * retry policy retries a BATCH_LOG timeout once: nothing was sent); two logged */
	CLUSTER_EXPECT(c, lt == 3 && lg == 2, "node 1: %g batchlog write timeout(s), %g logged", lt,
	               lg);
	t0 = cluster_now_ms();
	int v1 = 0, v2 = 0;
	while ((rows_of(4, CL_ONE, "b", 1, &v1) != 1 || rows_of(4, CL_ONE, "b", 2, &v2) != 1) &&
	       cluster_now_ms() - t0 < 20000)
		usleep(200 * 1000);
	CLUSTER_EXPECT(c, v1 == 10 && v2 == 20, "the batch reached node 4: v = %d, %d", v1, v2);
}

struct sender {
	int node;
	char msg[600];
};

static void *send_batch(void *arg)
{
	struct sender *s = arg;
	struct cqlconn_opts o = {0};
	o.bind_host = c->client_addr;
	o.request_timeout_ms = 60000;
	struct cqlclient *cl = NULL;
	struct cerr e = {0};
	if (cqlclient_connect(c->nodes[s->node].addr, 9042, &o, &cl, &e)) {
		snprintf(s->msg, sizeof(s->msg), "connect: %s", e.msg);
		return NULL;
	}
	struct cqlresult *r = NULL;
	struct cql_qparams p;
	cql_qparams_init(&p);
	p.consistency = CL_ONE;
	if (cqlclient_query(cl, BATCH("ks"), &p, &r, &e))
		snprintf(s->msg, sizeof(s->msg), "%s", e.msg);
	else
		snprintf(s->msg, sizeof(s->msg), "answered (kind %d)", (int)r->kind);
	cqlresult_free(r);
	cqlclient_free(cl);
	return NULL;
}

Test(batchlog, batch_of_a_coordinator_killed_after_logging_it_is_replayed)
{
	/* Every node holds a LOGGED batch's mutations back 60 s after logging it: node 1,
	 * the coordinator, is SIGKILLed in that window, well before the batchlog nodes
	 * replay it (2 x write_request_timeout after it was logged). */
	struct cluster_opts o = {.n = 3,
	                         .gossip_interval_ms = 50,
	                         .extra_yaml = "write_request_timeout_in_ms: 5000\n"
	                                       "batchlog_test_delay: 60000ms\n"};
	c = cluster_test_start(&o, true);
	cluster_test_ok(c, cluster_test_conn(c, 1), CL_ONE,
	                "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
	                "'replication_factor': 3}");
	cluster_test_ok(c, cluster_test_conn(c, 1), CL_ONE,
	                "CREATE TABLE ks.t (k int PRIMARY KEY, v int)");
	struct sender s = {.node = 1};
	pthread_t th;
	CLUSTER_ASSERT(c, pthread_create(&th, NULL, send_batch, &s) == 0, "thread");
	/* The batch is logged on nodes 2 and 3 within milliseconds; the kill waits until both
	 * hold it (polled: a sanitized node sharing the machine may take longer than a second). */
	int64_t t0 = cluster_now_ms();
	while ((cluster_test_metric(c, 2, "colonnade_batchlog_stored_total") < 1 ||
	        cluster_test_metric(c, 3, "colonnade_batchlog_stored_total") < 1) &&
	       cluster_now_ms() - t0 < 20000)
		usleep(50 * 1000);
	fprintf(stderr, "batchlog: stored on nodes 2 and 3 within %lld ms\n",
	        (long long)(cluster_now_ms() - t0));
	cluster_test_kill(c, 1, 2);
	pthread_join(th, NULL);
	cr_log_info("the client of the killed coordinator saw: %s", s.msg);
	double stored2 = cluster_test_metric(c, 2, "colonnade_batchlog_stored_total"),
	       stored3 = cluster_test_metric(c, 3, "colonnade_batchlog_stored_total");
	CLUSTER_EXPECT(c, stored2 == 1 && stored3 == 1,
	               "the batch was stored on nodes 2 and 3 (stored_total %g, %g)", stored2,
	               stored3);
	int before = rows_of(2, CL_ONE, "ks", 1, NULL);
	CLUSTER_EXPECT(c, before == 0,
	               "nothing was applied before the replay: node 2 holds %d row(s)", before);
	/* Replayed 2 x write_request_timeout (10 s) after it was logged, by the nodes
	 * holding it. */
	bool replayed = cluster_wait_log(c, 2, "replayed a batch of 2 partitions", 1, 30000) >= 1 ||
	                cluster_wait_log(c, 3, "replayed a batch of 2 partitions", 1, 1000) >= 1;
	CLUSTER_EXPECT(c, replayed, "node 2 or 3 replayed the batch");
	double rp = cluster_test_metric(c, 2, "colonnade_batchlog_replayed_total") +
	            cluster_test_metric(c, 3, "colonnade_batchlog_replayed_total");
	CLUSTER_EXPECT(c, rp >= 1, "colonnade_batchlog_replayed_total on nodes 2 + 3: %g", rp);
	int v1 = 0, v2 = 0;
	int n1 = rows_of(2, CL_TWO, "ks", 1, &v1), n2 = rows_of(2, CL_TWO, "ks", 2, &v2);
	CLUSTER_EXPECT(c, n1 == 1 && n2 == 1 && v1 == 10 && v2 == 20,
	               "both partitions of the batch at TWO: %d row(s) v=%d, %d row(s) v=%d", n1,
	               v1, n2, v2);
}
