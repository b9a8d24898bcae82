/*
 * No stale, resurrected or misplaced data, on real `colonnade` processes
 * (COLONNADE_BIN) on COLONNADE_TEST_NET.x, driven over CQL from this process
 * and checked replica by replica with `colonnade dump` (what each node's own
 * store holds):
 *
 *  - TRUNCATE empties every replica, not only the coordinator; with a node
 *    down it is refused as Unavailable before anything changes (our client
 *    and the python driver see Unavailable, 3 required, 2 alive); a hint
 *    written before the truncation and delivered after it brings nothing
 *    back; nor does a write whose timestamp is older than the truncation,
 *    after the replicas restarted (the truncation time is persisted);
 *  - a range deletion (DELETE ... WHERE c >= 5 AND c < 7) one replica missed:
 *    a QUORUM read pairing it with one that has the deletion returns none of
 *    the deleted rows, and read repair copies the range tombstone (not the
 *    rows) to the stale replica; a partition deleted as a whole on the other
 *    replicas (with rows shadowed there, or none at all) stays deleted in
 *    range scans (SELECT without a key) and is repaired;
 *  - a replica SIGKILLed but not yet convicted: an INSERT at ALL reaches our
 *    client and the python driver as WriteTimeout, write type SIMPLE, 2 of 3;
 *    an UNLOGGED batch of several partitions as UNLOGGED_BATCH, a LOGGED one
 *    as BATCH_LOG (its batchlog write to the dead node timed out), a batch of
 *    one partition as SIMPLE;
 *  - a deletion past gc_grace one replica never saw does not split digests
 *    (no mismatch, no read repair);
 *  - speculative retry: QUORUM reads outrun a SIGKILLed, not yet convicted
 *    replica; with speculative_retry 'NONE' they time out.
 */
#include "core/buf.h"
#include "core/cqlproto.h"
#include "core/json.h"
#include "tests/cluster/harness/cluster_test.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct cluster *c;

TestSuite(correctness, .fini = cluster_test_fini, .timeout = 600);

/* ---- CQL and tools -------------------------------------------------------------------------- */

struct res {
	bool error;
	uint32_t code; /* CQL error code */
	int32_t required, alive;
	uint32_t rows;
	char msg[300];
};

static void cql(int k, uint16_t cl, int64_t ts, struct res *out, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static void cql(int k, uint16_t cl, int64_t ts, struct res *out, const char *fmt, ...)
{
	char stmt[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(stmt, sizeof(stmt), fmt, ap);
	va_end(ap);
	memset(out, 0, sizeof(*out));
	struct cqlresult *r = cluster_test_query(c, cluster_test_conn(c, k), cl, ts, stmt);
	if (r->kind == CQLRES_ERROR) {
		out->error = true;
		out->code = r->error.code;
		out->required = r->error.required;
		out->alive = r->error.alive;
		snprintf(out->msg, sizeof(out->msg), "%.290s", r->error.message);
	} else if (r->kind == CQLRES_ROWS) {
		out->rows = r->n_rows;
	}
	cqlresult_free(r);
}

static void cql_ok(int k, const char *stmt)
{
	cluster_test_ok(c, cluster_test_conn(c, k), CL_ALL, stmt);
}

/* Run `colonnade <args> -h <node k>`; asserts it exits 0. */
static void tool(int k, const char *cmd)
{
	const char *args[] = {cmd, "-h", c->nodes[k].addr, NULL};
	char out[1024];
	int st = -1;
	CLUSTER_ASSERT(c, cluster_run(c, args, NULL, out, sizeof(out), 10000, &st) == 0 && st == 0,
	               "colonnade %s -h node %d: %s", cmd, k, out);
}

/* `colonnade dump ks table key --json` on node k, parsed (the caller frees it). */
static struct json *dump(int k, const char *ks, const char *table, const char *key)
{
	const char *args[] = {"dump", ks, table, key, "-h", c->nodes[k].addr, "--json", NULL};
	char out[65536];
	int st = -1;
	CLUSTER_ASSERT(c, cluster_run(c, args, NULL, out, sizeof(out), 10000, &st) == 0 && st == 0,
	               "colonnade dump %s %s %s on node %d: %s", ks, table, key, k, out);
	struct json *j = NULL;
	struct cerr e = {0};
	CLUSTER_ASSERT(c, json_parse(out, strlen(out), &j, &e) == 0, "dump --json: %s: %s", e.msg,
	               out);
	return j;
}

/* Rows node k's own store holds for the key with a live cell or row marker. */
static size_t live_rows(int k, const char *ks, const char *table, const char *key)
{
	struct json *j = dump(k, ks, table, key);
	const struct json *rows = json_get(j, "rows");
	size_t n = 0;
	for (size_t i = 0; i < json_len(rows); i++) {
		const struct json *row = json_at(rows, i);
		bool live = json_get(row, "liveness_info") &&
		            json_type(json_get(row, "liveness_info")) != JSON_NULL;
		const struct json *cells = json_get(row, "cells");
		for (size_t m = 0; m < json_len(cells) && !live; m++)
			live = !json_bool(json_get(json_at(cells, m), "deleted"), false);
		n += live;
	}
	json_free(j);
	return n;
}

/* Start node k again and wait until it answers (and, if all_up, until every node sees all UN). */
static void restart_node(int k, bool all_up)
{
	CLUSTER_ASSERT(c, cluster_start_node(c, k) == 0, "restart node %d", k);
	CLUSTER_ASSERT(c, cluster_wait_admin(c, k, CLUSTER_TEST_START_MS) >= 0, "node %d back", k);
	if (all_up)
		CLUSTER_ASSERT(c, cluster_wait_all_up(c, CLUSTER_TEST_START_MS) >= 0,
		               "all UN after restarting node %d", k);
}

static void restart(int k)
{
	restart_node(k, true);
}

static void wait_metric_at_least(int k, const char *name, double want)
{
	int64_t until = cluster_now_ms() + CLUSTER_TEST_START_MS;
	double v = -1;
	while (cluster_now_ms() < until) {
		v = cluster_test_metric(c, k, name);
		if (v >= want)
			return;
		struct timespec ts = {0, 100 * 1000000};
		nanosleep(&ts, NULL);
	}
	CLUSTER_ASSERT(c, false, "node %d: %s reached %g, waited for %g", k, name, v, want);
}

/*
 * Run a python driver script (Debian's python3-cassandra, unmodified) with
 * node k's address as its argument; its line starting with "result" into out.
 */
static void py_result(int k, const char *name, const char *code, char *out, size_t cap)
{
	char script[400], cmd[900];
	snprintf(script, sizeof(script), "%s/%s.py", c->root, name);
	FILE *f = fopen(script, "w");
	CLUSTER_ASSERT(c, f && fputs(code, f) >= 0 && fclose(f) == 0, "write %s", script);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -W ignore %s %s 2>&1", script,
	         c->nodes[k].addr);
	FILE *py = popen(cmd, "r");
	CLUSTER_ASSERT(c, py, "start %s", cmd);
	char line[512];
	snprintf(out, cap, "(no result line)");
	while (fgets(line, sizeof(line), py))
		if (strncmp(line, "result", 6) == 0)
			snprintf(out, cap, "%s", line);
	pclose(py);
}

static const char PY_TRUNCATE[] =
        "import sys\n"
        "from cassandra import Unavailable\n"
        "from cassandra.cluster import Cluster, NoHostAvailable\n"
        "from cassandra.policies import WhiteListRoundRobinPolicy\n"
        "host = sys.argv[1]\n"
        "cl = Cluster([host], load_balancing_policy=WhiteListRoundRobinPolicy([host]),\n"
        "             protocol_version=4)\n"
        "s = cl.connect()\n"
        "try:\n"
        "    try:\n"
        "        s.execute('TRUNCATE tk.tr', timeout=30)\n"
        "        print('result ok')\n"
        "    except NoHostAvailable as e:\n"
        "        raise list(e.errors.values())[0]  # the one host's answer\n"
        "except Unavailable as e:\n"
        "    print('result Unavailable', e.required_replicas, e.alive_replicas)\n"
        "except Exception as e:\n"
        "    print('result', type(e).__name__, e)\n"
        "cl.shutdown()\n";

/* ---- TRUNCATE -------------------------------------------------------------------------------- */

Test(correctness, truncate_empties_every_replica_and_stays_empty)
{
	struct cluster_opts o = {.n = 3};
	c = cluster_test_start(&o, true);
	cql_ok(1, "CREATE KEYSPACE tk WITH replication = {'class': 'SimpleStrategy', "
	          "'replication_factor': 3}");
	cql_ok(1, "CREATE TABLE tk.tr (k int, c int, v int, PRIMARY KEY (k, c))");
	struct res r;
	cql(1, CL_ALL, CQL_NO_TIMESTAMP, &r, "INSERT INTO tk.tr (k, c, v) VALUES (1, 1, 1)");
	CLUSTER_ASSERT(c, !r.error, "INSERT at ALL: %s", r.msg);
	cql(1, CL_ALL, CQL_NO_TIMESTAMP, &r, "INSERT INTO tk.tr (k, c, v) VALUES (1, 2, 2)");
	CLUSTER_ASSERT(c, !r.error, "INSERT at ALL: %s", r.msg);

	cql(1, CL_ONE, CQL_NO_TIMESTAMP, &r, "TRUNCATE tk.tr");
	CLUSTER_ASSERT(c, !r.error, "TRUNCATE with all nodes up: %s", r.msg);
	for (int k = 1; k <= 3; k++)
		CLUSTER_EXPECT(c, live_rows(k, "tk", "tr", "1") == 0,
		               "node %d's own store still holds rows after TRUNCATE", k);
	cql(2, CL_ONE, CQL_NO_TIMESTAMP, &r, "SELECT * FROM tk.tr WHERE k = 1");
	CLUSTER_EXPECT(c, !r.error && r.rows == 0, "read at ONE via node 2: %u rows (%s)", r.rows,
	               r.msg);
	cql(3, CL_ALL, CQL_NO_TIMESTAMP, &r, "SELECT * FROM tk.tr");
	CLUSTER_EXPECT(c, !r.error && r.rows == 0, "range read at ALL via node 3: %u rows (%s)",
	               r.rows, r.msg);

	/* A hint for node 3 written before a truncation and delivered after it. */
	cluster_test_kill(c, 3, 1);
	cql(1, CL_QUORUM, CQL_NO_TIMESTAMP, &r, "INSERT INTO tk.tr (k, c, v) VALUES (1, 3, 3)");
	CLUSTER_ASSERT(c, !r.error, "INSERT at QUORUM with node 3 down: %s", r.msg);
	wait_metric_at_least(1, "colonnade_hints_stored_total", 1);
	cql(1, CL_ONE, CQL_NO_TIMESTAMP, &r, "TRUNCATE tk.tr");
	CLUSTER_EXPECT(c,
	               r.error && r.code == CQL_ERR_UNAVAILABLE && r.required == 3 && r.alive == 2,
	               "TRUNCATE with node 3 down: Unavailable(required 3, alive 2), got error %d "
	               "0x%04x (%d, %d): %s",
	               r.error, r.code, r.required, r.alive, r.msg);
	char py[512];
	py_result(1, "truncate", PY_TRUNCATE, py, sizeof(py));
	CLUSTER_EXPECT(c, strncmp(py, "result Unavailable 3 2", 22) == 0,
	               "python driver, TRUNCATE with node 3 down: %s", py);
	tool(1, "pausehandoff");
	restart(3);
	cql(1, CL_ONE, CQL_NO_TIMESTAMP, &r, "TRUNCATE tk.tr");
	CLUSTER_ASSERT(c, !r.error, "TRUNCATE after node 3 came back: %s", r.msg);
	tool(1, "resumehandoff");
	wait_metric_at_least(1, "colonnade_hints_delivered_total", 1);
	for (int k = 1; k <= 3; k++)
		CLUSTER_EXPECT(c, live_rows(k, "tk", "tr", "1") == 0,
		               "node %d holds the row a pre-truncation hint carried", k);
	cql(3, CL_ALL, CQL_NO_TIMESTAMP, &r, "SELECT * FROM tk.tr WHERE k = 1");
	CLUSTER_EXPECT(c, !r.error && r.rows == 0, "read at ALL after the hint: %u rows (%s)",
	               r.rows, r.msg);

	/* The truncation time survives restarts: an older write stays gone. */
	for (int k = 1; k <= 3; k++) {
		cluster_test_kill(c, k, k == 1 ? 2 : 1);
		restart(k);
	}
	cql(2, CL_ALL, 1000000, &r, "INSERT INTO tk.tr (k, c, v) VALUES (1, 4, 4)");
	CLUSTER_ASSERT(c, !r.error, "INSERT at ALL, timestamp before the truncation: %s", r.msg);
	cql(3, CL_ALL, CQL_NO_TIMESTAMP, &r, "SELECT * FROM tk.tr WHERE k = 1");
	CLUSTER_EXPECT(c, !r.error && r.rows == 0,
	               "a write older than the truncation is visible: %u rows (%s)", r.rows, r.msg);
	cql(2, CL_ALL, CQL_NO_TIMESTAMP, &r, "INSERT INTO tk.tr (k, c, v) VALUES (1, 5, 5)");
	CLUSTER_ASSERT(c, !r.error, "INSERT at ALL after the truncation: %s", r.msg);
	cql(3, CL_ALL, CQL_NO_TIMESTAMP, &r, "SELECT * FROM tk.tr WHERE k = 1");
	CLUSTER_EXPECT(c, !r.error && r.rows == 1, "a newer write: %u rows, expected 1 (%s)",
	               r.rows, r.msg);
}

/* ---- range and partition tombstones through reads -------------------------------------------- */

/* The values of int column `name` in the rows a SELECT returned, as "1,2,3". */
static void select_ints(int k, uint16_t cl, const char *stmt, const char *name, char *out,
                        size_t cap)
{
	struct cqlresult *r =
	        cluster_test_query(c, cluster_test_conn(c, k), cl, CQL_NO_TIMESTAMP, stmt);
	CLUSTER_ASSERT(c, r->kind == CQLRES_ROWS, "%s via node %d: %s", stmt, k,
	               r->kind == CQLRES_ERROR ? r->error.message : "no rows result");
	int col = cqlresult_column(r, name);
	CLUSTER_ASSERT(c, col >= 0, "column %s in the result", name);
	out[0] = 0;
	size_t at = 0;
	for (uint32_t i = 0; i < r->n_rows && at + 16 < cap; i++) {
		const struct cql_slice *s = cqlresult_cell(r, i, (uint32_t)col);
		at += (size_t)snprintf(out + at, cap - at, "%s%d", i ? "," : "",
		                       s->len == 4 ? (int)(int32_t)be32_load(s->p) : -1);
	}
	cqlresult_free(r);
}

static void select_cs(int k, uint16_t cl, const char *stmt, char *out, size_t cap)
{
	select_ints(k, cl, stmt, "c", out, cap);
}

Test(correctness, range_and_partition_tombstones_resolve_and_repair)
{
	struct cluster_opts o = {.n = 3};
	c = cluster_test_start(&o, true);
	cql_ok(1, "CREATE KEYSPACE rtk WITH replication = {'class': 'SimpleStrategy', "
	          "'replication_factor': 3}");
	cql_ok(1, "CREATE TABLE rtk.t (k int, c int, v int, PRIMARY KEY (k, c))");
	for (int k = 1; k <= 3; k++)
		tool(k, "disablehandoff"); /* node 3 stays stale until a read repairs it */
	struct res r;
	for (int ck = 1; ck <= 9; ck++) {
		cql(1, CL_ALL, CQL_NO_TIMESTAMP, &r,
		    "INSERT INTO rtk.t (k, c, v) VALUES (1, %d, %d)", ck, ck);
		CLUSTER_ASSERT(c, !r.error, "INSERT at ALL: %s", r.msg);
		cql(1, CL_ALL, CQL_NO_TIMESTAMP, &r,
		    "INSERT INTO rtk.t (k, c, v) VALUES (2, %d, %d)", ck, ck);
		CLUSTER_ASSERT(c, !r.error, "INSERT at ALL: %s", r.msg);
	}
	/* k = 3's rows reach node 3 alone: the others will hold its deletion and nothing else. */
	cluster_test_kill(c, 1, 3);
	cluster_test_kill(c, 2, 3);
	for (int ck = 1; ck <= 3; ck++) {
		cql(3, CL_ONE, CQL_NO_TIMESTAMP, &r,
		    "INSERT INTO rtk.t (k, c, v) VALUES (3, %d, %d)", ck, ck);
		CLUSTER_ASSERT(c, !r.error, "INSERT at ONE with nodes 1 and 2 down: %s", r.msg);
	}
	restart_node(1, false);
	restart(2);
	for (int k = 1; k <= 2; k++)
		tool(k, "disablehandoff"); /* not persisted across the restart */
	cluster_test_kill(c, 3, 1);
	cql(1, CL_QUORUM, CQL_NO_TIMESTAMP, &r, "DELETE FROM rtk.t WHERE k = 3");
	CLUSTER_ASSERT(c, !r.error, "partition DELETE at QUORUM: %s", r.msg);
	cql(1, CL_QUORUM, CQL_NO_TIMESTAMP, &r,
	    "DELETE FROM rtk.t WHERE k = 1 AND c >= 5 AND c < 7");
	CLUSTER_ASSERT(c, !r.error, "range DELETE at QUORUM: %s", r.msg);
	cql(1, CL_QUORUM, CQL_NO_TIMESTAMP, &r, "DELETE FROM rtk.t WHERE k = 2");
	CLUSTER_ASSERT(c, !r.error, "partition DELETE at QUORUM: %s", r.msg);
	restart(3);
	tool(3, "disablehandoff");
	CLUSTER_ASSERT(c,
	               live_rows(3, "rtk", "t", "1") == 9 && live_rows(3, "rtk", "t", "2") == 9 &&
	                       live_rows(3, "rtk", "t", "3") == 3,
	               "node 3 missed the deletions (it must start stale)");

	/* Node 3 coordinates: its own data is paired with a digest of node 1's or 2's. */
	char got[128];
	select_cs(3, CL_QUORUM, "SELECT c FROM rtk.t WHERE k = 1", got, sizeof(got));
	CLUSTER_EXPECT(c, strcmp(got, "1,2,3,4,7,8,9") == 0,
	               "QUORUM read via the stale node 3 returned c = %s, want 1,2,3,4,7,8,9", got);
	struct json *j = dump(3, "rtk", "t", "1");
	size_t n_rt = json_len(json_get(j, "range_tombstones"));
	json_free(j);
	CLUSTER_EXPECT(c, n_rt == 1, "read repair left node 3 with %zu range tombstones, want 1",
	               n_rt);
	CLUSTER_EXPECT(c, live_rows(3, "rtk", "t", "1") == 7,
	               "node 3 after read repair: %zu live rows, want 7",
	               live_rows(3, "rtk", "t", "1"));
	for (int k = 1; k <= 2; k++)
		CLUSTER_EXPECT(c, live_rows(k, "rtk", "t", "1") == 7,
		               "node %d got deleted rows back from the read repair", k);
	select_cs(3, CL_ONE, "SELECT c FROM rtk.t WHERE k = 1", got, sizeof(got));
	CLUSTER_EXPECT(c, strcmp(got, "1,2,3,4,7,8,9") == 0, "node 3 alone at ONE: c = %s", got);

	/* A range scan at ALL meets the partition node 3 still holds whole. */
	select_ints(1, CL_ALL, "SELECT k FROM rtk.t", "k", got, sizeof(got));
	CLUSTER_EXPECT(c, strcmp(got, "1,1,1,1,1,1,1") == 0,
	               "range scan at ALL: k = %s, want the 7 rows of k = 1 only", got);
	j = dump(3, "rtk", "t", "2");
	bool pdel = json_type(json_get(j, "partition_deletion")) == JSON_OBJECT;
	json_free(j);
	CLUSTER_EXPECT(c, pdel, "the range scan's repair gave node 3 the partition deletion");
	CLUSTER_EXPECT(c, live_rows(3, "rtk", "t", "2") == 0, "node 3 still shows k = 2's rows");
	CLUSTER_EXPECT(c, live_rows(3, "rtk", "t", "3") == 0, "node 3 still shows k = 3's rows");
}

/* ---- a replica killed before it is convicted: what drivers see ------------------------------- */

/*
 * The python driver (Debian's python3-cassandra, unmodified): connect to
 * node 1, wait until the file `go` appears, INSERT at ALL, print the error's
 * class and fields.
 */
static const char PY_INSERT_AT_ALL[] =
        "import os, sys, time\n"
        "from cassandra import ConsistencyLevel, WriteTimeout\n"
        "from cassandra.cluster import Cluster\n"
        "from cassandra.policies import WhiteListRoundRobinPolicy, WriteType\n"
        "from cassandra.query import SimpleStatement\n"
        "host, go = sys.argv[1], sys.argv[2]\n"
        "cl = Cluster([host], load_balancing_policy=WhiteListRoundRobinPolicy([host]),\n"
        "             protocol_version=4)\n"
        "s = cl.connect()\n"
        "print('connected', flush=True)\n"
        "while not os.path.exists(go):\n"
        "    time.sleep(0.01)\n"
        "st = SimpleStatement('INSERT INTO wt.t (k, v) VALUES (2, 2)',\n"
        "                     consistency_level=ConsistencyLevel.ALL)\n"
        "try:\n"
        "    s.execute(st, timeout=30)\n"
        "    print('result ok')\n"
        "except WriteTimeout as e:\n"
        "    print('result WriteTimeout', WriteType.value_to_name[e.write_type],\n"
        "          e.received_responses,\n"
        "          e.required_responses)\n"
        "except Exception as e:\n"
        "    print('result', type(e).__name__, e)\n"
        "cl.shutdown()\n";

Test(correctness, killed_replica_write_at_all_is_a_write_timeout)
{
	/* gossip every 250 ms with phi 16: a dead node is convicted only after several seconds */
	struct cluster_opts o = {.n = 3,
	                         .gossip_interval_ms = 250,
	                         .phi = 16,
	                         .extra_yaml = "write_request_timeout_in_ms: 1000\n"};
	c = cluster_test_start(&o, true);
	cql_ok(1, "CREATE KEYSPACE wt WITH replication = {'class': 'SimpleStrategy', "
	          "'replication_factor': 3}");
	cql_ok(1, "CREATE TABLE wt.t (k int PRIMARY KEY, v int)");
	char script[400], go[400], cmd[1400];
	snprintf(script, sizeof(script), "%s/insert_at_all.py", c->root);
	snprintf(go, sizeof(go), "%s/go", c->root);
	FILE *f = fopen(script, "w");
	CLUSTER_ASSERT(c, f && fputs(PY_INSERT_AT_ALL, f) >= 0 && fclose(f) == 0, "write %s",
	               script);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -W ignore %s %s %s 2>&1", script, c->nodes[1].addr, go);
	FILE *py = popen(cmd, "r");
	CLUSTER_ASSERT(c, py, "start %s", cmd);
	char line[512] = "", last[512] = "";
	while (fgets(line, sizeof(line), py) && strncmp(line, "connected", 9) != 0)
		snprintf(last, sizeof(last), "%s", line);
	CLUSTER_ASSERT(c, strncmp(line, "connected", 9) == 0, "python driver did not connect: %s",
	               last);

	CLUSTER_ASSERT(c, cluster_kill(c, 3) == 0, "SIGKILL node 3");
	cluster_test_drop_conn(3);
	char code[3];
	CLUSTER_ASSERT(c, cluster_status_code(c, 1, c->nodes[3].addr, code) == 0, "status");
	CLUSTER_ASSERT(c, strcmp(code, "UN") == 0, "node 3 must not be convicted yet: %s", code);
	struct cqlresult *cr = cluster_test_query(c, cluster_test_conn(c, 1), CL_ALL,
	                                          CQL_NO_TIMESTAMP,
	                                          "INSERT INTO wt.t (k, v) VALUES (1, 1)");
	bool timeout = cr->kind == CQLRES_ERROR && cr->error.code == CQL_ERR_WRITE_TIMEOUT;
	CLUSTER_EXPECT(c, timeout, "INSERT at ALL, node 3 killed: 0x%04x %s, want WriteTimeout",
	               cr->kind == CQLRES_ERROR ? cr->error.code : 0,
	               cr->kind == CQLRES_ERROR ? cr->error.message : "(no error)");
	if (timeout) {
		CLUSTER_EXPECT(c, cr->error.received == 2 && cr->error.required == 3,
		               "WriteTimeout: %d of %d received, want 2 of 3", cr->error.received,
		               cr->error.required);
		CLUSTER_EXPECT(c, cr->error.write_type && !strcmp(cr->error.write_type, "SIMPLE"),
		               "write type %s, want SIMPLE",
		               cr->error.write_type ? cr->error.write_type : "(none)");
	}
	cqlresult_free(cr);
	/* batches: a LOGGED one of several partitions goes to the batchlog first, on nodes 2
	 * and 3 — node 3 does not answer, so the batchlog write times out (BATCH_LOG); an
	 * UNLOGGED one is UNLOGGED_BATCH; one partition is SIMPLE */
	static const struct {
		const char *cql, *want;
	} batches[] = {{"BEGIN BATCH INSERT INTO wt.t (k, v) VALUES (3, 3); "
	                "INSERT INTO wt.t (k, v) VALUES (4, 4); APPLY BATCH",
	                "BATCH_LOG"},
	               {"BEGIN UNLOGGED BATCH INSERT INTO wt.t (k, v) VALUES (5, 5); "
	                "INSERT INTO wt.t (k, v) VALUES (6, 6); APPLY BATCH",
	                "UNLOGGED_BATCH"},
	               {"BEGIN BATCH INSERT INTO wt.t (k, v) VALUES (7, 7); "
	                "UPDATE wt.t SET v = 8 WHERE k = 7; APPLY BATCH",
	                "SIMPLE"}};
	for (size_t i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
		cr = cluster_test_query(c, cluster_test_conn(c, 1), CL_ALL, CQL_NO_TIMESTAMP,
		                        batches[i].cql);
		const char *wt = cr->kind == CQLRES_ERROR && cr->error.write_type
		                         ? cr->error.write_type
		                         : "(none)";
		CLUSTER_EXPECT(c,
		               cr->kind == CQLRES_ERROR && cr->error.code == CQL_ERR_WRITE_TIMEOUT &&
		                       strcmp(wt, batches[i].want) == 0,
		               "%s at ALL, node 3 killed: 0x%04x write type %s, want WriteTimeout %s",
		               batches[i].cql, cr->kind == CQLRES_ERROR ? cr->error.code : 0, wt,
		               batches[i].want);
		cqlresult_free(cr);
	}

	f = fopen(go, "w");
	CLUSTER_ASSERT(c, f && fclose(f) == 0, "create %s", go);
	line[0] = 0;
	while (fgets(line, sizeof(line), py) && strncmp(line, "result", 6) != 0)
		;
	pclose(py);
	CLUSTER_EXPECT(c, strncmp(line, "result WriteTimeout SIMPLE 2 3", 30) == 0,
	               "python driver, INSERT at ALL with node 3 killed: %s", line);
}

/* ---- digests: the same logical data, the same digest ------------------------------------------- */

/*
 * A replica that missed a partition deletion now past gc_grace (and the rows
 * it deleted) holds the same logical data as the replicas that have it — the
 * tombstone may be purged by their next compaction — so a QUORUM read pairing
 * them finds equal digests and repairs nothing.
 */
Test(correctness, purgeable_tombstones_do_not_split_digests)
{
	struct cluster_opts o = {.n = 3};
	c = cluster_test_start(&o, true);
	cql_ok(1, "CREATE KEYSPACE dg WITH replication = {'class': 'SimpleStrategy', "
	          "'replication_factor': 3}");
	cql_ok(1, "CREATE TABLE dg.t (k int, c int, v int, PRIMARY KEY (k, c)) "
	          "WITH gc_grace_seconds = 0");
	for (int k = 1; k <= 3; k++)
		tool(k, "disablehandoff");
	cluster_test_kill(c, 3, 1);
	struct res r;
	cql(1, CL_QUORUM, CQL_NO_TIMESTAMP, &r, "INSERT INTO dg.t (k, c, v) VALUES (1, 1, 1)");
	CLUSTER_ASSERT(c, !r.error, "INSERT at QUORUM: %s", r.msg);
	cql(1, CL_QUORUM, CQL_NO_TIMESTAMP, &r, "DELETE FROM dg.t WHERE k = 1");
	CLUSTER_ASSERT(c, !r.error, "DELETE at QUORUM: %s", r.msg);
	restart(3);
	tool(3, "disablehandoff");
	/* gc_grace 0: the deletion is purgeable once its second has passed */
	struct timespec ts = {2, 0};
	nanosleep(&ts, NULL);
	double repairs = cluster_test_metric(c, 3, "colonnade_read_repairs_total");
	double mismatches = cluster_test_metric(c, 3, "colonnade_digest_mismatches_total");
	cql(3, CL_QUORUM, CQL_NO_TIMESTAMP, &r, "SELECT * FROM dg.t WHERE k = 1");
	CLUSTER_EXPECT(c, !r.error && r.rows == 0, "QUORUM read via node 3: %u rows (%s)", r.rows,
	               r.msg);
	double repairs2 = cluster_test_metric(c, 3, "colonnade_read_repairs_total");
	double mismatches2 = cluster_test_metric(c, 3, "colonnade_digest_mismatches_total");
	CLUSTER_EXPECT(c, repairs2 == repairs, "read repairs on node 3: %g before, %g after",
	               repairs, repairs2);
	CLUSTER_EXPECT(c, mismatches == 0 && mismatches2 == 0,
	               "digest mismatches on node 3: %g before, %g after the read", mismatches,
	               mismatches2);
}

/* ---- speculative retry ----------------------------------------------------------------------- */

/* Run n QUORUM reads of distinct keys through node 1; the slowest one's milliseconds, and the
 * number that failed (first failure's message into why). */
static int64_t quorum_reads(const char *table, int n, int first_key, int *failed, char *why,
                            size_t cap)
{
	int64_t worst = 0;
	*failed = 0;
	for (int i = 0; i < n; i++) {
		struct res r;
		int64_t t0 = cluster_now_ms();
		cql(1, CL_QUORUM, CQL_NO_TIMESTAMP, &r, "SELECT * FROM sr.%s WHERE k = %d", table,
		    first_key + i);
		int64_t took = cluster_now_ms() - t0;
		worst = took > worst ? took : worst;
		if (r.error && (*failed)++ == 0)
			snprintf(why, cap, "0x%04x %s", r.code, r.msg);
	}
	return worst;
}

/*
 * Node 3 shares node 1's datacenter, so node 1's QUORUM reads always contact
 * it (closest first); node 2, in the other datacenter, is the spare.  SIGKILL
 * node 3 (convicted only after seconds: gossip 250 ms, phi 16): with the
 * default speculative_retry ('99p' of the table's observed replica latency)
 * every read asks node 2 in its place and succeeds well within the 5 s read
 * timeout; with 'NONE' the reads time out.
 */
Test(correctness, speculative_retry_outruns_a_dead_replica)
{
	struct cluster_opts o = {.n = 3, .gossip_interval_ms = 250, .phi = 16};
	o.dcs[0] = "dc1";
	o.dcs[1] = "dc2";
	o.dcs[2] = "dc1";
	c = cluster_test_start(&o, true);
	cql_ok(1, "CREATE KEYSPACE sr WITH replication = {'class': 'NetworkTopologyStrategy', "
	          "'dc1': 2, 'dc2': 1}");
	cql_ok(1, "CREATE TABLE sr.t (k int PRIMARY KEY, v int)");
	cql_ok(1, "CREATE TABLE sr.nospec (k int PRIMARY KEY, v int) WITH speculative_retry = "
	          "'NONE'");
	struct res r;
	for (int k = 0; k < 60; k++) {
		cql(1, CL_ALL, CQL_NO_TIMESTAMP, &r, "INSERT INTO sr.t (k, v) VALUES (%d, %d)", k,
		    k);
		CLUSTER_ASSERT(c, !r.error, "INSERT at ALL: %s", r.msg);
	}
	cql(1, CL_ALL, CQL_NO_TIMESTAMP, &r, "INSERT INTO sr.nospec (k, v) VALUES (1, 1)");
	CLUSTER_ASSERT(c, !r.error, "INSERT at ALL: %s", r.msg);
	char why[400] = "";
	int failed = 0;
	quorum_reads("t", 40, 0, &failed, why, sizeof(why)); /* the table's latency, observed */
	CLUSTER_ASSERT(c, failed == 0, "reads with every node up: %s", why);
	quorum_reads("nospec", 1, 1, &failed, why, sizeof(why));
	CLUSTER_ASSERT(c, failed == 0, "reads with every node up: %s", why);
	struct cqlresult *sch = cluster_test_query(
	        c, cluster_test_conn(c, 1), CL_ONE, CQL_NO_TIMESTAMP,
	        "SELECT speculative_retry FROM system_schema.tables WHERE keyspace_name = 'sr' AND "
	        "table_name = 't'");
	const struct cql_slice *sv =
	        sch->kind == CQLRES_ROWS && sch->n_rows == 1 ? cqlresult_cell(sch, 0, 0) : NULL;
	CLUSTER_EXPECT(c, sv && sv->len == 3 && memcmp(sv->p, "99p", 3) == 0,
	               "system_schema.tables shows speculative_retry '99p'");
	cqlresult_free(sch);

	double spec0 = cluster_test_metric(c, 1, "colonnade_speculative_retries_total");
	CLUSTER_ASSERT(c, cluster_kill(c, 3) == 0, "SIGKILL node 3");
	cluster_test_drop_conn(3);
	int64_t worst = quorum_reads("t", 10, 0, &failed, why, sizeof(why));
	char code[3];
	CLUSTER_ASSERT(c, cluster_status_code(c, 1, c->nodes[3].addr, code) == 0, "status");
	CLUSTER_EXPECT(c, failed == 0, "%d of 10 QUORUM reads failed with node 3 dead: %s", failed,
	               why);
	CLUSTER_EXPECT(c, worst < 2500, "slowest QUORUM read took %lld ms (timeout 5000)",
	               (long long)worst);
	double spec1 = cluster_test_metric(c, 1, "colonnade_speculative_retries_total");
	CLUSTER_EXPECT(c, spec1 - spec0 >= 10, "speculative retries: %g before, %g after", spec0,
	               spec1);
	fprintf(stderr, "speculative retry: 10 reads, slowest %lld ms, node 3 seen %s\n",
	        (long long)worst, code);

	/* node 3 is convicted only seconds later: a table with 'NONE' waits for it */
	cql(1, CL_QUORUM, CQL_NO_TIMESTAMP, &r, "SELECT * FROM sr.nospec WHERE k = 1");
	CLUSTER_ASSERT(c, cluster_status_code(c, 1, c->nodes[3].addr, code) == 0, "status");
	CLUSTER_EXPECT(c, r.error && r.code == CQL_ERR_READ_TIMEOUT,
	               "with 'NONE' the read waits for node 3 (seen %s): 0x%04x %s", code, r.code,
	               r.msg);
	cql(1, CL_ONE, CQL_NO_TIMESTAMP, &r, "ALTER TABLE sr.t WITH speculative_retry = '50 ms'");
	CLUSTER_EXPECT(c, r.error && r.code == CQL_ERR_CONFIG, "a malformed value is refused: %s",
	               r.msg);
}
