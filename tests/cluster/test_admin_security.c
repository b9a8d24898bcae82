/*
 * The admin port of a real node under attack and behind its token:
 *
 * - 200 half-open and slow connections from 20 source addresses in
 *   127.0.0.0/8 (plus one source that tries 40 more than its share) sit on
 *   the admin port, re-opened as the node cuts them; /health from another
 *   address never fails and answers within 100 ms throughout: a probe the
 *   machine's scheduler delays past 100 ms is followed by a quick one before
 *   500 ms of slow answers add up (a port held behind the flood, or one
 *   slowed down by it, keeps every probe slow and fails).  A probe's time is
 *   its wall-clock time less the longer of what the node's main loop and the
 *   prober spent waiting for a CPU meanwhile (on a loaded machine that is the
 *   machine's, not the node's; a stopped or busy node still counts in full).
 *   Measured without the flood first, for comparison.
 * - With admin_token set, /v1/dump and POST endpoints answer 401 without it
 *   (logged with the source address), and the `colonnade` program passes it
 *   from COLONNADE_ADMIN_TOKEN or COLONNADE_ADMIN_TOKEN_FILE.
 */
#include "tests/cluster/harness/cluster_test.h"

#include "cli/lib/admin_client.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FLOOD_SOURCES   20
#define FLOOD_PER_SRC   10 /* 20 x 10 = 200 held connections */
#define GREEDY_CONNS    40 /* from one more source: over its per-source bound */
#define FLOOD_MS        9000
#define HEALTH_MAX_MS   100 /* a quick answer */
#define HEALTH_SPELL_MS 500 /* the most time consecutive slow answers may take */
#define ADMIN_PORT_NUM  7199

static struct cluster *c;

struct flood_conn {
	int fd;
	char src[48];
	int sent; /* bytes of the slow head sent so far */
	bool slow;
};

static int open_conn(const char *src, const char *dst)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in s = {.sin_family = AF_INET};
	inet_pton(AF_INET, src, &s.sin_addr);
	struct sockaddr_in d = {.sin_family = AF_INET, .sin_port = htons(ADMIN_PORT_NUM)};
	inet_pton(AF_INET, dst, &d.sin_addr);
	if (bind(fd, (struct sockaddr *)&s, sizeof(s)) < 0 ||
	    (connect(fd, (struct sockaddr *)&d, sizeof(d)) < 0 && errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Keep every flood connection open: re-open the ones the node closed; feed the slow ones. */
static int tend(struct flood_conn *fc, int n, const char *dst, int64_t now_ms)
{
	static const char head[] = "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaa";
	int reopened = 0;
	for (int i = 0; i < n; i++) {
		char b[512];
		if (fc[i].fd >= 0) {
			ssize_t r = read(fc[i].fd, b, sizeof(b));
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != ENOTCONN)) {
				close(fc[i].fd);
				fc[i].fd = -1;
			}
		}
		if (fc[i].fd < 0) {
			fc[i].fd = open_conn(fc[i].src, dst);
			fc[i].sent = 0;
			reopened++;
		} else if (fc[i].slow && (now_ms / 250) % 2 == 0 &&
		           fc[i].sent < (int)sizeof(head) - 1) {
			if (write(fc[i].fd, head + fc[i].sent, 1) == 1)
				fc[i].sent++;
		}
	}
	return reopened;
}

/* /health from the harness's client address to node 1: its latency in ms, less the longer
 * of the times node 1's main loop and this thread waited for a CPU meanwhile (that time in
 * *cpu_wait_ms); -1 when it failed. */
static double health_ms(const char *dst, double *cpu_wait_ms)
{
	struct admin_target t;
	struct cerr e = {0};
	cr_assert_eq(admin_target_parse(dst, ADMIN_PORT_NUM, &t, &e), 0);
	snprintf(t.bind_host, sizeof(t.bind_host), "%s", c->client_addr);
	t.timeout_ms = 2000;
	int status = 0;
	char *body = NULL;
	size_t len = 0;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int64_t node_w0 = cluster_node_cpu_wait_us(c, 1), self_w0 = cluster_self_cpu_wait_us();
	int rc = admin_get(&t, "/health", &status, &body, &len, &e);
	int64_t node_w1 = cluster_node_cpu_wait_us(c, 1), self_w1 = cluster_self_cpu_wait_us();
	clock_gettime(CLOCK_MONOTONIC, &b);
	/* the longer of the two waits: they may overlap, and what one of them waited is
	 * surely the machine's */
	double node_w = node_w0 >= 0 && node_w1 >= node_w0 ? (double)(node_w1 - node_w0) / 1e3 : 0;
	double self_w = self_w0 >= 0 && self_w1 >= self_w0 ? (double)(self_w1 - self_w0) / 1e3 : 0;
	*cpu_wait_ms = node_w > self_w ? node_w : self_w;
	bool ok = rc == 0 && status == 200 && body && !strncmp(body, "ok", 2);
	free(body);
	if (!ok) {
		fprintf(stderr, "  /health: rc %d status %d: %s\n", rc, status, e.msg);
		return -1;
	}
	double l = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	if (l >= HEALTH_MAX_MS)
		printf("  a slow /health: %.1f ms, node waited %.1f ms, prober %.1f ms for a CPU\n",
		       l, node_w, self_w);
	return l > *cpu_wait_ms ? l - *cpu_wait_ms : 0;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

struct probe_result {
	int answers, fails, slow; /* slow: answers that took HEALTH_MAX_MS or more */
	double max_ms;
	double cpu_wait_ms; /* the most the node's loop and the prober waited for a CPU in one */
	/* the longest run of consecutive slow answers: their time added up (time spent
	 * waiting on the node, not the probe loop's own pauses between probes) */
	double spell_ms;
	int reopened; /* flood connections re-opened after the node closed them */
};

/* Probe /health every 20 ms for `ms`, tending the flood in between. */
static void probe(struct flood_conn *fc, int n, int ms, const char *label, struct probe_result *r)
{
	const char *dst = c->nodes[1].addr;
	static double lat[2000];
	memset(r, 0, sizeof(*r));
	double spell = 0;
	int64_t end = cluster_now_ms() + ms;
	while (cluster_now_ms() < end && r->answers < 2000) {
		if (fc)
			r->reopened += tend(fc, n, dst, cluster_now_ms());
		double w = 0, l = health_ms(dst, &w);
		if (w > r->cpu_wait_ms)
			r->cpu_wait_ms = w;
		if (l < 0) {
			r->fails++;
		} else {
			lat[r->answers++] = l;
			spell = l < HEALTH_MAX_MS ? 0 : spell + l;
			r->slow += l >= HEALTH_MAX_MS;
			if (spell > r->spell_ms)
				r->spell_ms = spell;
		}
		usleep(20000);
	}
	int k = r->answers;
	qsort(lat, (size_t)k, sizeof(double), cmp_double);
	r->max_ms = k ? lat[k - 1] : -1;
	printf("/health %s, less CPU waits: %d answers, p50 %.2f ms, p99 %.2f ms, max %.2f ms, %d "
	       "failed%s\n",
	       label, k, k ? lat[k / 2] : -1, k ? lat[(k * 99) / 100] : -1, r->max_ms, r->fails,
	       fc ? "" : " (no flood)");
	printf("  answers of %d ms or more: %d, the longest run of them %.1f ms; the most one "
	       "waited for a CPU (not counted) %.1f ms\n",
	       HEALTH_MAX_MS, r->slow, r->spell_ms, r->cpu_wait_ms);
	if (fc)
		printf("  flood connections re-opened after the node closed them: %d\n",
		       r->reopened);
}

Test(admin_security, health_answers_under_a_slow_client_flood, .fini = cluster_test_fini,
     .timeout = 300)
{
	struct cluster_opts o = {.n = 1};
	c = cluster_test_start(&o, true);
	struct probe_result r;
	probe(NULL, 0, 2000, "before", &r);

	int n = FLOOD_SOURCES * FLOOD_PER_SRC + GREEDY_CONNS;
	struct flood_conn *fc = calloc((size_t)n, sizeof(*fc));
	cr_assert(fc);
	for (int i = 0; i < n; i++) {
		int src = i < FLOOD_SOURCES * FLOOD_PER_SRC ? i / FLOOD_PER_SRC : FLOOD_SOURCES;
		snprintf(fc[i].src, sizeof(fc[i].src), "%s.%d", c->net, 100 + src);
		fc[i].fd = -1;
		fc[i].slow = i % 2 == 1; /* half send nothing, half a head one byte at a time */
	}
	tend(fc, n, c->nodes[1].addr, cluster_now_ms());
	usleep(300000);
	struct json *m = cluster_admin(c, 1, "/v1/info");
	CLUSTER_ASSERT(c, m, "admin answers while the flood is open");
	json_free(m);
	tend(fc, n, c->nodes[1].addr, cluster_now_ms());
	double held = cluster_test_metric(c, 1, "colonnade_admin_connections");
	printf("  admin connections open on the node: %.0f\n", held);
	CLUSTER_EXPECT(c, held >= FLOOD_SOURCES * FLOOD_PER_SRC,
	               "only %.0f flood connections are held", held);
	probe(fc, n, FLOOD_MS, "during 240 slow/half-open connections", &r);
	CLUSTER_EXPECT(c, r.fails == 0, "%d /health probes failed under the flood", r.fails);
	CLUSTER_EXPECT(c, r.answers > 0 && r.spell_ms < HEALTH_SPELL_MS,
	               "/health kept answering slowly under the flood: %.1f ms of consecutive "
	               "answers of %d ms or more (%d of %d answers slow, max %.1f ms)",
	               r.spell_ms, HEALTH_MAX_MS, r.slow, r.answers, r.max_ms);
	/* The node cut the late heads (ADMIN_HEADER_TIMEOUT_S) and the greedy source's excess. */
	CLUSTER_EXPECT(c, r.reopened > GREEDY_CONNS, "only %d flood connections were closed",
	               r.reopened);
	double cut = cluster_test_metric(c, 1, "colonnade_admin_header_timeouts_total");
	printf("  connections cut for a late request head: %.0f\n", cut);
	CLUSTER_EXPECT(c, cut >= FLOOD_SOURCES * FLOOD_PER_SRC, "only %.0f late heads were cut",
	               cut);
	for (int i = 0; i < n; i++)
		if (fc[i].fd >= 0)
			close(fc[i].fd);
	free(fc);
}

/* Run `colonnade args` with env; its exit status, output in out. */
static int run(const char *const *args, const char *const *env, char *out, size_t cap)
{
	int status = -1;
	cluster_run(c, args, env, out, cap, 20000, &status);
	return status;
}

Test(admin_security, token_guards_dump_and_state_changes, .fini = cluster_test_fini, .timeout = 300)
{
	struct cluster_opts o = {.n = 1, .extra_yaml = "admin_token: tok-Zq81x\n"};
	c = cluster_test_start(&o, true);
	const char *addr = c->nodes[1].addr;
	char out[8192];
	/* read-only endpoints stay open */
	const char *status_args[] = {"status", "-h", addr, NULL};
	CLUSTER_EXPECT(c, run(status_args, NULL, out, sizeof(out)) == 0, "%s", out);
	/* stored data: refused without the token, with a wrong one, served with it */
	const char *dump[] = {"dump", "system", "local", "local", "-h", addr, "--json", NULL};
	CLUSTER_EXPECT(c, run(dump, NULL, out, sizeof(out)) != 0 && strstr(out, "401"), "%s", out);
	CLUSTER_EXPECT(c, strstr(out, "needs the admin token"), "%s", out);
	const char *wrong[] = {"COLONNADE_ADMIN_TOKEN=tok-Zq81", NULL};
	CLUSTER_EXPECT(c,
	               run(dump, wrong, out, sizeof(out)) != 0 && strstr(out, "wrong admin token"),
	               "%s", out);
	const char *right[] = {"COLONNADE_ADMIN_TOKEN=tok-Zq81x", NULL};
	CLUSTER_EXPECT(c, !strstr(out, "tok-Zq81"), "a token is never echoed: %s", out);
	run(dump, right, out, sizeof(out));
	CLUSTER_EXPECT(c, !strstr(out, "401") && !strstr(out, "token"), "%s", out);
	/* a state change: POST, refused without the token, done with it from a file */
	const char *pause[] = {"pausehandoff", "-h", addr, NULL};
	CLUSTER_EXPECT(c, run(pause, NULL, out, sizeof(out)) != 0 && strstr(out, "401"), "%s", out);
	struct json *h = cluster_admin(c, 1, "/v1/hints");
	CLUSTER_ASSERT(c, h, "GET /v1/hints is open");
	CLUSTER_EXPECT(c, !json_bool(json_get(h, "paused"), true),
	               "a refused POST changed nothing");
	json_free(h);
	char path[512];
	snprintf(path, sizeof(path), "%s/admin-token", c->root);
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs("tok-Zq81x\n", f);
	fclose(f);
	char envfile[600];
	snprintf(envfile, sizeof(envfile), "COLONNADE_ADMIN_TOKEN_FILE=%s", path);
	const char *fenv[] = {envfile, NULL};
	CLUSTER_EXPECT(c, run(pause, fenv, out, sizeof(out)) == 0, "%s", out);
	h = cluster_admin(c, 1, "/v1/hints");
	CLUSTER_ASSERT(c, h, "GET /v1/hints");
	CLUSTER_EXPECT(c, json_bool(json_get(h, "paused"), false),
	               "the POST with the token paused");
	json_free(h);
	/* refusals are logged with the source address, never with the token */
	CLUSTER_EXPECT(c, cluster_log_count(c, 1, "refused /v1/") >= 1, "no refusal logged");
	CLUSTER_EXPECT(c, cluster_log_count(c, 1, "tok-Zq81") == 0, "the token is in the log");
	struct json *mt = cluster_admin(c, 1, "/v1/info");
	CLUSTER_EXPECT(c, mt != NULL, "info");
	json_free(mt);
}
