/*
 * bench_repair — anti-entropy repair figures for docs/BENCHMARKS.md, in one
 * sitting: 3 nodes RF 3 (hinted handoff off, repair_throttle 0), N rows of
 * `colonnade bench` (one row per partition, 100-byte values; N = argv[1],
 * default 1,000,000); `colonnade repair` of identical replicas (time, bytes,
 * the tree build rate from the metrics); node 3 killed while 1 % of the rows
 * are rewritten at QUORUM, back; --preview, then repair (time, bytes streamed
 * against the divergent data); a second repair; then QUORUM writes/s of
 * `colonnade bench` alone and with repair sessions running back to back
 * beside it.  Prints figures; asserts nothing about speed.
 *
 *   COLONNADE_BIN=build/cli/colonnade COLONNADE_TEST_NET=127.0.20 \
 *       build/tests/cluster/bench_repair [rows] [seconds per throughput run]
 */
#include "cli/lib/admin_client.h"
#include "core/json.h"
#include "tests/cluster/harness/cluster_test.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct cluster *c;
static char all[200];

/* `colonnade bench write` of `ops` keys from 0 (or `secs` seconds, ops 0); its JSON summary. */
static struct json *bench(const char *records, const char *ops, const char *dur, bool first,
                          const char *nodes)
{
	const char *args[40];
	int n = 0;
	args[n++] = "bench";
	args[n++] = "write";
	args[n++] = "--nodes";
	args[n++] = nodes;
	args[n++] = "--no-discover";
	args[n++] = "--keyspace";
	args[n++] = "rb";
	if (first) {
		args[n++] = "--replication";
		args[n++] = "{'class':'SimpleStrategy','replication_factor':3}";
	} else {
		args[n++] = "--no-schema";
	}
	args[n++] = "--records";
	args[n++] = records;
	args[n++] = "--value-size";
	args[n++] = "100";
	args[n++] = "--total-connections";
	args[n++] = "50";
	args[n++] = "--cl-write";
	args[n++] = "QUORUM";
	if (ops) {
		args[n++] = "--dist";
		args[n++] = "sequential";
		args[n++] = "--ops";
		args[n++] = ops;
	} else {
		args[n++] = "--dist";
		args[n++] = "uniform";
		args[n++] = "--duration";
		args[n++] = dur;
	}
	args[n++] = "--json";
	args[n++] = "--quiet";
	args[n] = NULL;
	static char out[1 << 16];
	int st = -1;
	if (cluster_run(c, args, NULL, out, sizeof(out), 3600 * 1000, &st) != 0 || st != 0) {
		fprintf(stderr, "bench failed (%d): %s\n", st, out);
		return NULL;
	}
	char *j0 = strstr(out, "{\""), *j1 = strrchr(out, '}');
	struct json *j = NULL;
	struct cerr e = {0};
	if (!j0 || !j1 || j1 < j0 || json_parse(j0, (size_t)(j1 - j0 + 1), &j, &e)) {
		fprintf(stderr, "bench: no JSON summary: %s\n", out);
		return NULL;
	}
	return j;
}

/* `colonnade repair rb [extra]` on node 1: seconds, and the summary line into line. */
static double repair(const char *extra, char *line, size_t cap)
{
	const char *args[] = {"repair", "rb", "-h", c->nodes[1].addr, extra, NULL};
	static char out[1 << 16];
	int st = -1;
	int64_t t0 = cluster_now_ms();
	if (cluster_run(c, args, NULL, out, sizeof(out), 3600 * 1000, &st) != 0)
		fprintf(stderr, "repair did not end: %s\n", out);
	double s = (double)(cluster_now_ms() - t0) / 1000.;
	char *l = strstr(out, "Repair session");
	snprintf(line, cap, "%.*s", l ? (int)strcspn(l, "\n") : 0, l ? l : "");
	return s;
}

static long long streamed(const char *line)
{
	const char *p = strstr(line, " bytes) streamed");
	if (!p)
		return -1;
	while (p > line && p[-1] != '(')
		p--;
	return strtoll(p, NULL, 10);
}

static double metric(int k, const char *m)
{
	return cluster_test_metric(c, k, m);
}

int main(int argc, char **argv)
{
	const char *rows = argc > 1 ? argv[1] : "1000000";
	int secs = argc > 2 ? atoi(argv[2]) : 20;
	long nrows = strtol(rows, NULL, 10);
	struct cluster_opts o = {.n = 3,
	                         .gossip_interval_ms = 50,
	                         .extra_yaml =
	                                 "hinted_handoff_enabled: false\nrepair_interval: 0s\n"
	                                 "repair_throttle: 0B\n"};
	if (cluster_new(&o, &c) != 0 || cluster_wait_all_up(c, 60000) < 0) {
		fprintf(stderr, "cluster did not start\n");
		cluster_free(c);
		return 1;
	}
	snprintf(all, sizeof(all), "%s,%s,%s", c->nodes[1].addr, c->nodes[2].addr,
	         c->nodes[3].addr);
	int64_t t0 = cluster_now_ms();
	struct json *j = bench(rows, rows, NULL, true, all);
	printf("load: %ld rows at QUORUM in %.1f s\n", nrows, (cluster_now_ms() - t0) / 1000.);
	json_free(j);
	char line[512];
	double s = repair(NULL, line, sizeof(line));
	double parts = metric(1, "colonnade_repair_tree_partitions_total");
	double tbytes = metric(1, "colonnade_repair_tree_bytes_total");
	double tsecs = metric(1, "colonnade_repair_tree_seconds_total");
	printf("identical: repair %.1f s, %lld bytes streamed\n  %s\n", s, streamed(line), line);
	printf("tree build (node 1, its own trees): %.0f partitions, %.1f MB canonical in %.2f s "
	       "of worker time: %.0f partitions/s, %.1f MB/s\n",
	       parts, tbytes / 1e6, tsecs, parts / tsecs, tbytes / 1e6 / tsecs);
	double per_row = parts > 0 ? tbytes / parts : 0;
	cluster_kill(c, 3);
	int obs[] = {1, 2}, tg[] = {3};
	cluster_wait_status(c, obs, 2, tg, 1, "DN", 30000);
	char ops[32], two[200];
	snprintf(ops, sizeof(ops), "%ld", nrows / 100);
	snprintf(two, sizeof(two), "%s,%s", c->nodes[1].addr, c->nodes[2].addr);
	j = bench(rows, ops, NULL, false, two); /* 1 %: keys [0, N/100) rewritten */
	json_free(j);
	cluster_start_node(c, 3);
	cluster_wait_all_up(c, 60000);
	s = repair("--preview", line, sizeof(line));
	printf("1%% divergent, preview: %.1f s\n  %s\n", s, line);
	s = repair(NULL, line, sizeof(line));
	double divergent = (double)(nrows / 100) * per_row;
	printf("1%% divergent: repair %.1f s, %lld bytes streamed; divergent data %ld rows x %.0f "
	       "canonical bytes = %.0f bytes; streamed / divergent = %.2f\n  %s\n",
	       s, streamed(line), nrows / 100, per_row, divergent,
	       divergent > 0 ? (double)streamed(line) / divergent : 0, line);
	s = repair(NULL, line, sizeof(line));
	printf("second repair: %.1f s, %lld bytes streamed\n", s, streamed(line));
	/* QUORUM writes alone, then with repair sessions back to back beside them */
	char dur[16];
	snprintf(dur, sizeof(dur), "%ds", secs);
	j = bench(rows, NULL, dur, false, all);
	double alone = j ? json_num(json_get(j, "ops_per_s"), -1) : -1;
	json_free(j);
	pid_t pid = fork();
	if (pid == 0) {
		for (;;) {
			pid_t p = fork();
			if (p == 0) {
				int fd = open("/dev/null", 1);
				dup2(fd, 1), dup2(fd, 2);
				execl(c->bin, c->bin, "repair", "rb", "-h", c->nodes[1].addr,
				      (char *)NULL);
				_exit(127);
			}
			int st;
			waitpid(p, &st, 0);
		}
	}
	sleep(1);
	j = bench(rows, NULL, dur, false, all);
	double beside = j ? json_num(json_get(j, "ops_per_s"), -1) : -1;
	double errors = j ? json_num(json_get(json_get(j, "errors"), "total"), -1) : -1;
	json_free(j);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	printf("QUORUM writes/s (50 connections, 100-byte values): %.0f alone, %.0f with repair "
	       "sessions back to back beside them (%.2fx, %.0f errors); %.0f repair sessions ran\n",
	       alone, beside, alone > 0 ? beside / alone : 0, errors,
	       metric(1, "colonnade_repair_sessions_total"));
	cluster_free(c);
	return 0;
}
