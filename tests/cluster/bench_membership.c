/*
 * bench_membership — cluster membership figures for docs/BENCHMARKS.md:
 * convergence time (5 and 20 nodes), time to detect a killed node, gossip
 * bytes per node per second, time from process start to serving CQL, idle
 * resident memory.  Prints figures; asserts nothing about speed.
 *
 *   COLONNADE_BIN=build/cli/colonnade COLONNADE_TEST_NET=127.0.4 \
 *       build/tests/cluster/bench_membership [--quick]
 *
 * Uses the cluster harness (real processes on COLONNADE_TEST_NET.x).
 */
#include "cli/lib/admin_client.h"
#include "tests/cluster/harness/cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* One CQL OPTIONS -> SUPPORTED exchange with node k; true if it answered. */
static bool cql_answers(struct cluster *c, int k)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in src = {.sin_family = AF_INET};
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(9042)};
	inet_pton(AF_INET, c->client_addr, &src.sin_addr);
	inet_pton(AF_INET, c->nodes[k].addr, &dst.sin_addr);
	bool ok = false;
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == 0 &&
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == 0) {
		/* v4 request, flags 0, stream 1, opcode OPTIONS (5), body length 0. */
		const unsigned char options[9] = {0x04, 0, 0, 1, 0x05, 0, 0, 0, 0};
		if (send(fd, options, sizeof(options), MSG_NOSIGNAL) == (ssize_t)sizeof(options)) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			unsigned char h[9];
			if (poll(&p, 1, 2000) == 1 && recv(fd, h, sizeof(h), MSG_WAITALL) == 9)
				ok = h[0] == 0x84 && h[4] == 0x06; /* response v4, SUPPORTED */
		}
	}
	close(fd);
	return ok;
}

static double metric(struct cluster *c, int k, const char *name)
{
	struct admin_target t;
	struct cerr e = {0};
	admin_target_parse(c->nodes[k].addr, ADMIN_DEFAULT_PORT, &t, &e);
	snprintf(t.bind_host, sizeof(t.bind_host), "%s", c->client_addr);
	int status;
	char *body;
	size_t len;
	if (admin_get(&t, "/metrics", &status, &body, &len, &e))
		return -1;
	double v = -1;
	size_t nl = strlen(name);
	for (char *l = body; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, name, nl) && l[nl] == ' ') {
			v = strtod(l + nl + 1, NULL);
			break;
		}
	}
	free(body);
	return v;
}

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long v = -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			v = strtol(line + 6, NULL, 10);
	fclose(f);
	return v;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void converge(int n, int interval_ms)
{
	struct cluster_opts o = {0};
	o.n = n;
	o.gossip_interval_ms = interval_ms;
	o.no_start = true;
	struct cluster *c;
	if (cluster_new(&o, &c)) {
		printf("converge %d: cannot create\n", n);
		return;
	}
	int64_t t0 = cluster_now_ms();
	for (int k = 1; k <= n; k++)
		cluster_start_node(c, k);
	int64_t spawned = cluster_now_ms() - t0;
	int64_t up = cluster_wait_all_up(c, 120000);
	printf("converge: %2d nodes, gossip %4d ms: all UN on every node %lld ms after the "
	       "first spawn (%lld ms to spawn all; %.1f rounds)\n",
	       n, interval_ms, (long long)(up < 0 ? -1 : up + spawned), (long long)spawned,
	       up < 0 ? -1.0 : (double)(up + spawned) / interval_ms);
	cluster_free(c);
}

static void detect(int interval_ms, int runs)
{
	struct cluster_opts o = {0};
	o.n = 5;
	o.gossip_interval_ms = interval_ms;
	struct cluster *c;
	if (cluster_new(&o, &c) || cluster_wait_all_up(c, 60000) < 0) {
		printf("detect: cluster did not start\n");
		cluster_free(c);
		return;
	}
	int64_t t[16];
	int others[] = {1, 2, 4, 5};
	int dead[] = {3};
	for (int r = 0; r < runs; r++) {
		msleep(2000 + interval_ms * 5); /* let the arrival windows fill */
		int64_t t0 = cluster_now_ms();
		cluster_kill(c, 3);
		int64_t ms = cluster_wait_status(c, others, 4, dead, 1, "DN", 120000);
		t[r] = ms < 0 ? -1 : cluster_now_ms() - t0;
		cluster_start_node(c, 3);
		cluster_wait_all_up(c, 60000);
	}
	qsort(t, (size_t)runs, sizeof(t[0]), cmp_i64);
	printf("detect: gossip %4d ms, phi 8: SIGKILL -> DN on all 4 others: median %lld ms, "
	       "min %lld, max %lld (%d runs)\n",
	       interval_ms, (long long)t[runs / 2], (long long)t[0], (long long)t[runs - 1], runs);
	cluster_free(c);
}

static void bytes_and_rss(int n, int interval_ms, int seconds)
{
	struct cluster_opts o = {0};
	o.n = n;
	o.gossip_interval_ms = interval_ms;
	struct cluster *c;
	if (cluster_new(&o, &c) || cluster_wait_all_up(c, 60000) < 0) {
		printf("bytes: cluster did not start\n");
		cluster_free(c);
		return;
	}
	msleep(2000);
	double b0[CLUSTER_MAX_NODES + 1], tot = 0;
	for (int k = 1; k <= n; k++)
		b0[k] = metric(c, k, "colonnade_gossip_bytes_sent_total");
	int64_t t0 = cluster_now_ms();
	msleep(seconds * 1000);
	double el = (double)(cluster_now_ms() - t0) / 1000.0;
	long rss_min = -1, rss_max = -1;
	for (int k = 1; k <= n; k++) {
		tot += metric(c, k, "colonnade_gossip_bytes_sent_total") - b0[k];
		long r = rss_kib(c->nodes[k].pid);
		if (rss_min < 0 || r < rss_min)
			rss_min = r;
		if (r > rss_max)
			rss_max = r;
	}
	printf("gossip bytes: %d nodes, gossip %4d ms: %.0f payload bytes sent per node per second "
	       "(over %.1f s)\n",
	       n, interval_ms, tot / n / el, el);
	printf("idle RSS: %d nodes, gossip %4d ms: %.1f .. %.1f MiB per node\n", n, interval_ms,
	       rss_min / 1024.0, rss_max / 1024.0);
	cluster_free(c);
}

static void start_to_cql(int runs)
{
	struct cluster_opts o = {0};
	o.n = 1;
	o.no_start = true;
	struct cluster *c;
	if (cluster_new(&o, &c))
		return;
	int64_t t[16];
	for (int r = 0; r < runs; r++) {
		int64_t t0 = cluster_now_ms();
		cluster_start_node(c, 1);
		while (!cql_answers(c, 1) && cluster_now_ms() - t0 < 30000)
			msleep(2);
		t[r] = cluster_now_ms() - t0;
		cluster_stop(c, 1, 10000, NULL);
	}
	qsort(t, (size_t)runs, sizeof(t[0]), cmp_i64);
	printf("start to CQL: fork+exec to first SUPPORTED answer: median %lld ms, min %lld, max "
	       "%lld (%d runs; run 1 is a first boot, the others reopen the data)\n",
	       (long long)t[runs / 2], (long long)t[0], (long long)t[runs - 1], runs);
	cluster_free(c);
}

int main(int argc, char **argv)
{
	bool quick = argc > 1 && !strcmp(argv[1], "--quick");
	setvbuf(stdout, NULL, _IOLBF, 0);
	start_to_cql(quick ? 3 : 7);
	converge(5, 50);
	converge(5, 1000);
	converge(20, 50);
	if (!quick)
		converge(20, 1000);
	detect(50, quick ? 3 : 7);
	if (!quick)
		detect(1000, 3);
	bytes_and_rss(5, 1000, quick ? 5 : 20);
	bytes_and_rss(5, 50, quick ? 3 : 10);
	if (!quick)
		bytes_and_rss(20, 1000, 20);
	return 0;
}
