/*
 * Storage stalls never stop gossip (docs/STORAGE.md, "Group commit and write stalls"):
 * 3 nodes whose table memtables are 64 KiB, two at most, with L0 triggers 2/3/4 files, so
 * RocksDB keeps slowing down and stopping writes; `colonnade bench` writes at QUORUM for
 * 60 s.  Every second each node's /v1/gossipinfo is read: no node ever lists a peer DOWN
 * (a poll the node does not answer within the harness's 1 s says nothing either way: it is
 * counted, and every node must answer some; the end-of-run counters below see every DOWN).
 * At the end, on every node: no conviction, no peer ever marked DOWN, the longest
 * interval between two heartbeats of each peer reaching it and between two of its own
 * gossip rounds stay under HB_GAP_MAX_MS (the failure detector convicts after about 18
 * mean intervals: ~1 s at this 50 ms gossip); and RocksDB did stall (some node's inline
 * writes were refused by a stall and went through the writer thread) while the bench
 * still completed writes.
 *
 * Env: COLONNADE_BIN, COLONNADE_TEST_NET; STALL_TEST_SECONDS shortens the load (default 60).
 */
#include "tests/cluster/harness/cluster_test.h"

#include "core/json.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N 3
/* A peer's heartbeats and a node's own rounds: never further apart than this. */
#define HB_GAP_MAX_MS 1000.0

static struct cluster *c;

static const char *const STALL_YAML = "rocksdb_write_buffer_size: 64KiB\n"
                                      "rocksdb_max_write_buffer_number: 2\n"
                                      "rocksdb_level0_file_num_compaction_trigger: 2\n"
                                      "rocksdb_level0_slowdown_writes_trigger: 3\n"
                                      "rocksdb_level0_stop_writes_trigger: 4\n";

static void fini(void)
{
	cluster_test_fini();
	c = NULL;
}

TestSuite(storage_stall, .fini = fini, .timeout = 600);

/* `colonnade bench write` against every node for `seconds`, JSON summary into `out`. */
static pid_t start_bench(int seconds, const char *out, const char *log)
{
	char nodes[256] = "", dur[32];
	for (int k = 1; k <= N; k++)
		snprintf(nodes + strlen(nodes), sizeof(nodes) - strlen(nodes), "%s%s",
		         k > 1 ? "," : "", c->nodes[k].addr);
	snprintf(dur, sizeof(dur), "%ds", seconds);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int fl = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fo < 0 || fl < 0)
			_exit(126);
		dup2(fo, 1);
		dup2(fl, 2);
		execl(c->bin, "colonnade", "bench", "write", "--nodes", nodes, "--duration", dur,
		      "--connections", "8", "--cl", "QUORUM", "--json", "--quiet", "--timeout",
		      "5s", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Node k's view: how many peers it lists DOWN now (-1: no answer within 1 s). */
static int peers_down(int k)
{
	struct json *j = cluster_admin(c, k, "/v1/gossipinfo");
	if (!j)
		return -1;
	const struct json *eps = json_get(j, "endpoints");
	int down = 0;
	for (size_t i = 0; i < json_len(eps); i++)
		down += !json_bool(json_get(json_at(eps, i), "up"), false);
	json_free(j);
	return down;
}

static double metric_sum(const char *name)
{
	double sum = 0;
	for (int k = 1; k <= N; k++) {
		double v = cluster_test_metric(c, k, name);
		if (v > 0)
			sum += v;
	}
	return sum;
}

/* Node k's /v1/gossipinfo, asked again until it answers (for at most 10 s). */
static struct json *gossipinfo(int k)
{
	int64_t until = cluster_now_ms() + 10000;
	struct json *j;
	while (!(j = cluster_admin(c, k, "/v1/gossipinfo")) && cluster_now_ms() < until)
		usleep(100000);
	return j;
}

/* The end-of-run checks of node k's gossip view. */
static void check_gossip(int k)
{
	struct json *j = gossipinfo(k);
	CLUSTER_ASSERT(c, j, "node %d: no /v1/gossipinfo", k);
	double round_gap = json_num(json_get(j, "round_gap_max_ms"), -1);
	int64_t convictions = json_int(json_get(j, "convictions"), -1);
	printf("node %d: longest gap between its own gossip rounds %.0f ms, convictions %lld\n", k,
	       round_gap, (long long)convictions);
	CLUSTER_EXPECT(c, round_gap >= 0 && round_gap < HB_GAP_MAX_MS,
	               "node %d: its gossip rounds were %.0f ms apart at worst", k, round_gap);
	CLUSTER_EXPECT(c, convictions == 0, "node %d convicted %lld peers", k,
	               (long long)convictions);
	const struct json *eps = json_get(j, "endpoints");
	int peers = 0;
	for (size_t i = 0; i < json_len(eps); i++) {
		const struct json *e = json_at(eps, i);
		const char *addr = json_str(json_get(e, "address"), "?");
		if (!strcmp(addr, c->nodes[k].addr))
			continue;
		peers++;
		double gap = json_num(json_get(e, "heartbeat_gap_max_ms"), -1);
		int64_t downs = json_int(json_get(e, "times_down"), -1);
		printf("node %d sees %s: longest heartbeat gap %.0f ms, marked down %lld times\n",
		       k, addr, gap, (long long)downs);
		CLUSTER_EXPECT(c, gap >= 0 && gap < HB_GAP_MAX_MS,
		               "node %d: heartbeats of %s were %.0f ms apart at worst", k, addr,
		               gap);
		CLUSTER_EXPECT(c, downs == 0, "node %d marked %s DOWN %lld times", k, addr,
		               (long long)downs);
	}
	CLUSTER_EXPECT(c, peers == N - 1, "node %d lists %d peers", k, peers);
	json_free(j);
}

Test(storage_stall, gossip_keeps_its_interval_while_rocksdb_stalls)
{
	struct cluster_opts o = {.n = N, .extra_yaml = STALL_YAML};
	c = cluster_test_start(&o, true);
	const char *env = getenv("STALL_TEST_SECONDS");
	int seconds = env && atoi(env) > 0 ? atoi(env) : 60;
	char out[512], log[512];
	snprintf(out, sizeof(out), "%s/bench.json", c->root);
	snprintf(log, sizeof(log), "%s/bench.log", c->root);
	pid_t bench = start_bench(seconds, out, log);

	int worst_down = 0, polls = 0, status = 0, unanswered[N + 1] = {0};
	time_t until = time(NULL) + seconds + 60;
	for (;;) {
		pid_t r = waitpid(bench, &status, WNOHANG);
		if (r == bench)
			break;
		CLUSTER_ASSERT(c, time(NULL) < until, "bench did not finish within %d s",
		               seconds + 60);
		for (int k = 1; k <= N; k++) {
			int d = peers_down(k);
			unanswered[k] += d < 0;
			CLUSTER_EXPECT(c, d <= 0,
			               "node %d lists %d peers DOWN during the load (poll %d)", k,
			               d, polls);
			if (d > worst_down)
				worst_down = d;
		}
		polls++;
		sleep(1);
	}
	CLUSTER_ASSERT(c, WIFEXITED(status) && WEXITSTATUS(status) == 0,
	               "bench exited with status %d (log %s)", status, log);
	printf("%d polls of every node's gossip view during the load; most peers down at once: "
	       "%d\n",
	       polls, worst_down);
	for (int k = 1; k <= N; k++) {
		printf("node %d did not answer %d of the polls within 1 s\n", k, unanswered[k]);
		CLUSTER_EXPECT(c, unanswered[k] < polls, "node %d answered none of %d polls", k,
		               polls);
	}

	struct json *res = NULL;
	FILE *f = fopen(out, "r");
	CLUSTER_ASSERT(c, f, "no bench output %s", out);
	char body[65536];
	size_t len = fread(body, 1, sizeof(body) - 1, f);
	fclose(f);
	body[len] = 0;
	struct cerr e = {0};
	CLUSTER_ASSERT(c, json_parse(body, len, &res, &e) == 0, "bench output: %s", e.msg);
	int64_t ok = json_int(json_get(res, "ok"), -1), ops = json_int(json_get(res, "ops"), -1);
	json_free(res);
	double stalls = metric_sum("colonnade_storage_write_stalls_total");
	double overloaded = metric_sum("colonnade_storage_write_overloaded_total");
	double rounds = metric_sum("colonnade_storage_writer_rounds_total");
	printf("bench: %lld of %lld writes acknowledged; nodes: %.0f stalled inline writes, %.0f "
	       "writer rounds, %.0f mutations refused Overloaded\n",
	       (long long)ok, (long long)ops, stalls, rounds, overloaded);
	CLUSTER_EXPECT(c, ok > 0, "no write was acknowledged");
	CLUSTER_EXPECT(c, stalls > 0, "RocksDB never stalled: the test proved nothing");
	for (int k = 1; k <= N; k++)
		check_gossip(k);
}
