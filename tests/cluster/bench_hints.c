/*
 * bench_hints — hinted handoff figures for docs/BENCHMARKS.md, in one sitting:
 * QUORUM writes/s of `colonnade bench` (100-byte values, 50 connections) on 3
 * nodes RF 3 with every node up, then with node 3 SIGKILLed (each write
 * stores a hint on its coordinator); the hints' bytes per write (key and
 * stored value); the unthrottled replay rate once node 3 is back.  Prints
 * figures; asserts nothing about speed.
 *
 *   COLONNADE_BIN=build/cli/colonnade COLONNADE_TEST_NET=127.0.5 \
 *       build/tests/cluster/bench_hints [seconds per run, default 20]
 */
#include "cli/lib/admin_client.h"
#include "coordinator/hints/hints.h"
#include "core/json.h"
#include "tests/cluster/harness/cluster_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* One `colonnade bench write` run; its ops/s, or -1. */
static double bench_write(struct cluster *c, const char *nodes, int secs, bool first)
{
	char dur[16];
	snprintf(dur, sizeof(dur), "%ds", secs);
	const char *args[] = {"bench",
	                      "write",
	                      "--nodes",
	                      nodes,
	                      "--no-discover",
	                      "--keyspace",
	                      "hb",
	                      first ? "--replication" : "--no-schema",
	                      first ? "{'class':'SimpleStrategy','replication_factor':3}" : "",
	                      "--dist",
	                      "uniform",
	                      "--records",
	                      "1000000",
	                      "--value-size",
	                      "100",
	                      "--total-connections",
	                      "50",
	                      "--cl-write",
	                      "QUORUM",
	                      "--duration",
	                      dur,
	                      "--json",
	                      "--quiet",
	                      NULL};
	if (!first) /* drop the empty argument after --no-schema */
		for (int i = 8; args[i]; i++)
			args[i] = args[i + 1];
	static char out[1 << 16];
	int st = -1;
	if (cluster_run(c, args, NULL, out, sizeof(out), (secs + 60) * 1000, &st) != 0 || st != 0) {
		fprintf(stderr, "bench failed (%d): %s\n", st, out);
		return -1;
	}
	char *j0 = strchr(out, '{');
	struct json *j = NULL;
	struct cerr e = {0};
	if (!j0 || json_parse(j0, strlen(j0), &j, &e)) {
		fprintf(stderr, "bench: no JSON summary: %s\n", out);
		return -1;
	}
	double ops = json_num(json_get(j, "ops_per_s"), -1);
	json_free(j);
	return ops;
}

static double sum2(struct cluster *c, const char *m)
{
	return cluster_test_metric(c, 1, m) + cluster_test_metric(c, 2, m);
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 20;
	if (secs < 1)
		secs = 20;
	struct cluster_opts o = {
	        .n = 3, .gossip_interval_ms = 50, .extra_yaml = "hinted_handoff_throttle: 0\n"};
	struct cluster *c = NULL;
	if (cluster_new(&o, &c) != 0 || cluster_wait_all_up(c, 60000) < 0) {
		fprintf(stderr, "cluster did not start\n");
		cluster_free(c);
		return 1;
	}
	char all[200], two[200];
	snprintf(all, sizeof(all), "%s,%s,%s", c->nodes[1].addr, c->nodes[2].addr,
	         c->nodes[3].addr);
	snprintf(two, sizeof(two), "%s,%s", c->nodes[1].addr, c->nodes[2].addr);

	double up = bench_write(c, all, secs, true);
	printf("QUORUM writes/s, all 3 up:              %.0f\n", up);

	cluster_kill(c, 3);
	int obs[] = {1, 2}, tgt[] = {3};
	cluster_wait_status(c, obs, 2, tgt, 1, "DN", 30000);
	double n0 = sum2(c, "colonnade_hints_stored_total");
	double b0 = sum2(c, "colonnade_hints_stored_bytes_total");
	double down = bench_write(c, two, secs, false);
	double n1 = sum2(c, "colonnade_hints_stored_total");
	double b1 = sum2(c, "colonnade_hints_stored_bytes_total");
	printf("QUORUM writes/s, node 3 down (hinting): %.0f (%.0f %% of all up)\n", down,
	       up > 0 ? 100.0 * down / up : 0);
	double hints = n1 - n0;
	printf("hints stored: %.0f; per hint %.1f value bytes + %d key bytes = %.1f bytes\n", hints,
	       hints > 0 ? (b1 - b0) / hints : 0, HINTS_KEY_LEN,
	       hints > 0 ? (b1 - b0) / hints + HINTS_KEY_LEN : 0);

	double d0 = sum2(c, "colonnade_hints_delivered_total");
	double db0 = sum2(c, "colonnade_hints_delivered_bytes_total");
	int64_t t0 = cluster_now_ms();
	cluster_start_node(c, 3);
	double pending = 1;
	double peak = 0;
	while (pending > 0 && cluster_now_ms() - t0 < 600000) {
		msleep(200);
		pending = sum2(c, "colonnade_hints_pending_total");
		double r = sum2(c, "colonnade_hints_replay_bytes_per_second");
		if (r > peak)
			peak = r;
	}
	double s = (double)(cluster_now_ms() - t0) / 1000.0;
	double dn = sum2(c, "colonnade_hints_delivered_total") - d0;
	double dbytes = sum2(c, "colonnade_hints_delivered_bytes_total") - db0;
	printf("replay, unthrottled: %.0f hints in %.1f s from the restart = %.0f hints/s, "
	       "%.2f MiB/s of mutations (peak second %.2f MiB/s); %s\n",
	       dn, s, dn / s, dbytes / s / 1048576.0, peak / 1048576.0,
	       pending > 0 ? "NOT finished" : "all delivered");
	double step1 = cluster_test_metric(c, 1, "colonnade_hints_step_cpu_seconds_max");
	double step2 = cluster_test_metric(c, 2, "colonnade_hints_step_cpu_seconds_max");
	printf("most CPU one delivery step took on the event loop: %.2f ms (node 1), %.2f ms (node "
	       "2)\n",
	       step1 * 1000, step2 * 1000);
	cluster_free(c);
	return 0;
}
