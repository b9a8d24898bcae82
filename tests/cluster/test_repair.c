/*
 * Anti-entropy repair on real processes (docs/REPAIR.md):
 *  - converges: 3 nodes RF 3, hinted handoff off; node 3 down while rows are
 *    inserted, updated and deleted (rows, partitions, clustering ranges)
 *    through nodes 1 and 2; node 3 back; `colonnade repair --preview` reports
 *    differing leaves and streams nothing; `colonnade repair` on node 1; then
 *    every replica's dump of every partition is the same bytes, and with
 *    nodes 1 and 2 stopped node 3 alone returns exactly the expected rows at
 *    ONE; a second repair streams 0 bytes.  REPAIR_TEST_ROWS sets the size
 *    (default 20,000 rows; the 100,000 by hand);
 *  - raised RF: RF 1 → 3 with ALTER KEYSPACE, then repair: each node alone
 *    returns every row at ONE;
 *  - SIGKILL of a participant mid-session: the command names the failed
 *    ranges and why and exits 1, no node crashes, the next run completes;
 *  - SIGSTOP of a participant: the session fails its ranges within
 *    repair_request_timeout (5 s here) and ends;
 *  - background: with repair_interval 30s and no command, a divergent
 *    replica is identical within the interval and the history lists the
 *    sessions.
 */
#include "tests/cluster/harness/cluster_test.h"

#include "cli/lib/admin_client.h"
#include "cli/lib/cqlclient.h"
#include "core/buf.h"
#include "core/cqlproto.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define START_MS  60000
#define DETECT_MS 20000
#define YAML_BASE "hinted_handoff_enabled: false\nrepair_request_timeout: 5s\n"

static struct cluster *c;

#define CL_ASSERT(...) CLUSTER_ASSERT(c, __VA_ARGS__)
#define CL_EXPECT(...) CLUSTER_EXPECT(c, __VA_ARGS__)

static int n_part = 1000, n_ck = 20; /* REPAIR_TEST_ROWS = n_part * n_ck */

static void sizes(void)
{
	const char *e = getenv("REPAIR_TEST_ROWS");
	long rows = e ? strtol(e, NULL, 10) : 20000;
	if (rows < 2000)
		rows = 2000;
	n_part = (int)(rows / n_ck);
}

static void start(int n, const char *yaml)
{
	struct cluster_opts o = {.n = n, .extra_yaml = yaml};
	c = cluster_test_start(&o, true);
}

static struct cqlresult *query(int k, uint16_t cl, const char *stmt)
{
	return cluster_test_query(c, cluster_test_conn(c, k), cl, CQL_NO_TIMESTAMP, stmt);
}

static void ok(int k, uint16_t cl, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void ok(int k, uint16_t cl, const char *fmt, ...)
{
	char stmt[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(stmt, sizeof(stmt), fmt, ap);
	va_end(ap);
	struct cqlresult *r = query(k, cl, stmt);
	CL_ASSERT(r->kind != CQLRES_ERROR, "node %d: %.200s: %s", k, stmt, r->error.message);
	cqlresult_free(r);
}

static void kill_and_wait(int victim)
{
	cluster_test_drop_conn(victim);
	CL_ASSERT(cluster_kill(c, victim) == 0, "SIGKILL node %d", victim);
	int obs[3], n = 0, tg[] = {victim};
	for (int k = 1; k <= c->n; k++)
		if (k != victim && c->nodes[k].pid)
			obs[n++] = k;
	CL_ASSERT(cluster_wait_status(c, obs, n, tg, 1, "DN", DETECT_MS) >= 0,
	          "node %d is not seen DN", victim);
}

static void restart(int k)
{
	CL_ASSERT(cluster_start_node(c, k) == 0, "restart node %d", k);
	CL_ASSERT(cluster_wait_admin(c, k, START_MS) >= 0, "node %d back", k);
	CL_ASSERT(cluster_wait_all_up(c, START_MS) >= 0, "every node up");
}

static void stop(int k)
{
	cluster_test_drop_conn(k);
	int st = 0;
	CL_ASSERT(cluster_stop(c, k, 30000, &st) == 0, "SIGTERM node %d", k);
}

/* ---- the data set and what must be left of it ----------------------------------------------- */

static bool row_updated(int k, int cc)
{
	return (k * n_ck + cc) % 10 == 1;
}
static bool row_deleted(int k, int cc)
{
	return (k * n_ck + cc) % 20 == 7;
}
static bool part_deleted(int k)
{
	return k % (n_part / 100) == 3;
}
static bool range_deleted(int k, int cc)
{
	return k % (n_part / 50) == 5 && cc >= 2 && cc < 6;
}
static bool row_expected(int k, int cc)
{
	return !row_deleted(k, cc) && !part_deleted(k) && !range_deleted(k, cc);
}

static void insert_all(uint16_t cl, const int *via, int n_via)
{
	struct buf b;
	buf_init(&b);
	for (int k = 0; k < n_part; k++) {
		buf_reset(&b);
		buf_put_str(&b, "BEGIN UNLOGGED BATCH ");
		for (int cc = 0; cc < n_ck; cc++)
			buf_printf(&b, "INSERT INTO r.t (k, c, v) VALUES (%d, %d, 'v-%d-%d'); ", k,
			           cc, k, cc);
		buf_put_str(&b, "APPLY BATCH");
		buf_put_u8(&b, 0);
		struct cqlresult *r = query(via[k % n_via], cl, (const char *)b.data);
		CL_ASSERT(r->kind != CQLRES_ERROR, "insert partition %d: %s", k, r->error.message);
		cqlresult_free(r);
	}
	buf_release(&b);
}

/* Updates, row, partition and range deletes through nodes 1 and 2 at QUORUM. */
static void diverge(void)
{
	struct buf b;
	buf_init(&b);
	for (int k = 0; k < n_part; k++) {
		buf_reset(&b);
		buf_put_str(&b, "BEGIN UNLOGGED BATCH ");
		int n = 0;
		for (int cc = 0; cc < n_ck; cc++) {
			if (row_updated(k, cc))
				buf_printf(&b,
				           "UPDATE r.t SET v = 'u-%d-%d' WHERE k = %d AND c = %d; ",
				           k, cc, k, cc),
				        n++;
			if (row_deleted(k, cc))
				buf_printf(&b, "DELETE FROM r.t WHERE k = %d AND c = %d; ", k, cc),
				        n++;
		}
		buf_put_str(&b, "APPLY BATCH");
		buf_put_u8(&b, 0);
		if (n) {
			struct cqlresult *r = query(1 + k % 2, CL_QUORUM, (const char *)b.data);
			CL_ASSERT(r->kind != CQLRES_ERROR, "diverge %d: %s", k, r->error.message);
			cqlresult_free(r);
		}
		if (part_deleted(k))
			ok(1 + k % 2, CL_QUORUM, "DELETE FROM r.t WHERE k = %d", k);
		if (k % (n_part / 50) == 5)
			ok(2 - k % 2, CL_QUORUM,
			   "DELETE FROM r.t WHERE k = %d AND c >= 2 AND c < 6", k);
	}
	buf_release(&b);
}

/* Every row through node k at ONE must be exactly the expected set and values. */
static void check_exact(int k)
{
	int found = 0, wrong = 0, want = 0;
	for (int p = 0; p < n_part; p++) {
		char q[96];
		snprintf(q, sizeof(q), "SELECT c, v FROM r.t WHERE k = %d", p);
		struct cqlresult *r = query(k, CL_ONE, q);
		CL_ASSERT(r->kind == CQLRES_ROWS, "%s via node %d: %s", q, k,
		          r->kind == CQLRES_ERROR ? r->error.message : "not rows");
		uint8_t seen[64] = {0};
		for (uint32_t i = 0; i < r->n_rows; i++) {
			int cc = (int32_t)be32_load(cqlresult_cell(r, i, 0)->p);
			char *v = cqlresult_text(r, i, 1);
			char exp[48];
			snprintf(exp, sizeof(exp), "%s-%d-%d", row_updated(p, cc) ? "u" : "v", p,
			         cc);
			if (cc < 0 || cc >= n_ck || !row_expected(p, cc) || !v || strcmp(v, exp) ||
			    seen[cc])
				wrong++;
			else
				found++, seen[cc] = 1;
			free(v);
		}
		cqlresult_free(r);
		for (int cc = 0; cc < n_ck; cc++)
			want += row_expected(p, cc);
	}
	CL_EXPECT(found == want && wrong == 0,
	          "node %d alone at ONE: %d of %d rows right, %d wrong", k, found, want, wrong);
}

/* ---- the CLI and the admin endpoint --------------------------------------------------------- */

/* `colonnade repair ARGS -h node k`: exit status and output. */
static int repair_cli(int k, const char *const *args, char *out, size_t cap, int timeout_ms)
{
	const char *argv[16];
	int n = 0;
	argv[n++] = "repair";
	for (int i = 0; args && args[i]; i++)
		argv[n++] = args[i];
	argv[n++] = "-h";
	argv[n++] = c->nodes[k].addr;
	argv[n] = NULL;
	int st = -1;
	int rc = cluster_run(c, argv, NULL, out, cap, timeout_ms, &st);
	CL_ASSERT(rc == 0, "colonnade repair did not end within %d ms: %s", timeout_ms, out);
	fprintf(stderr, "repair via node %d (exit %d): %s", k, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
	        out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A number printed after `label` in text, or -1. */
static long long number_after(const char *text, const char *label)
{
	const char *p = strstr(text, label);
	return p ? strtoll(p + strlen(label), NULL, 10) : -1;
}

/* The bytes streamed as the summary prints them: "... (N bytes) streamed". */
static long long streamed(const char *out)
{
	const char *p = strstr(out, " bytes) streamed");
	if (!p)
		return -1;
	while (p > out && p[-1] != '(')
		p--;
	return strtoll(p, NULL, 10);
}

static char *dump_raw(int k, int key)
{
	struct admin_target t;
	struct cerr e = {0};
	CL_ASSERT(admin_target_parse(c->nodes[k].addr, 7199, &t, &e) == 0, "%s", e.msg);
	snprintf(t.bind_host, sizeof(t.bind_host), "%s", c->client_addr);
	char path[128];
	snprintf(path, sizeof(path), "/v1/dump?keyspace=r&table=t&key=%d", key);
	int status = 0;
	char *body = NULL;
	size_t len = 0;
	CL_ASSERT(admin_get(&t, path, &status, &body, &len, &e) == 0 && status == 200,
	          "dump %d on node %d: %s", key, k, e.msg);
	return body;
}

/* Number of partitions whose dump differs between node 1 and node k. */
static int dumps_differ(int k)
{
	int differ = 0;
	for (int p = 0; p < n_part; p++) {
		char *a = dump_raw(1, p), *b = dump_raw(k, p);
		if (strcmp(a, b) != 0) {
			if (!differ)
				fprintf(stderr,
				        "partition %d differs:\nnode 1: %.600s\nnode %d: %.600s\n",
				        p, a, k, b);
			differ++;
		}
		free(a);
		free(b);
	}
	return differ;
}

static void schema(int rf)
{
	ok(1, CL_ONE,
	   "CREATE KEYSPACE r WITH replication = {'class': 'SimpleStrategy', 'replication_factor': "
	   "%d}",
	   rf);
	ok(1, CL_ONE, "CREATE TABLE r.t (k int, c int, v text, PRIMARY KEY (k, c))");
}

TestSuite(repair, .fini = cluster_test_fini, .timeout = 900);

Test(repair, converges_and_a_second_run_streams_nothing)
{
	sizes();
	start(3, YAML_BASE "repair_interval: 0s\n");
	schema(3);
	int all[] = {1, 2, 3};
	insert_all(CL_ALL, all, 3);
	kill_and_wait(3);
	int64_t t0 = cluster_now_ms();
	diverge();
	fprintf(stderr, "repair: %d partitions diverged in %lld ms\n", n_part,
	        (long long)(cluster_now_ms() - t0));
	restart(3);
	CL_EXPECT(dumps_differ(3) > 0, "node 3 missed the changes");
	char out[8192];
	const char *preview[] = {"r", "--preview", NULL};
	CL_EXPECT(repair_cli(1, preview, out, sizeof(out), 300000) == 0, "preview: %s", out);
	CL_EXPECT(streamed(out) == 0, "a preview streams nothing: %s", out);
	CL_EXPECT(number_after(out, "failed; ") > 0, "the preview sees differing leaves: %s", out);
	CL_EXPECT(dumps_differ(3) > 0, "the preview changed nothing");
	t0 = cluster_now_ms();
	CL_ASSERT(repair_cli(1, NULL, out, sizeof(out), 600000) == 0, "repair: %s", out);
	fprintf(stderr, "repair: %d rows repaired in %lld ms, %lld bytes streamed\n", n_part * n_ck,
	        (long long)(cluster_now_ms() - t0), streamed(out));
	CL_EXPECT(streamed(out) > 0, "repair streamed: %s", out);
	CL_EXPECT(dumps_differ(2) == 0, "node 2's dumps equal node 1's");
	CL_EXPECT(dumps_differ(3) == 0, "node 3's dumps equal node 1's");
	CL_ASSERT(repair_cli(1, NULL, out, sizeof(out), 600000) == 0, "second repair: %s", out);
	CL_EXPECT(streamed(out) == 0, "a second repair streams 0 bytes: %s", out);
	stop(1);
	stop(2);
	check_exact(3);
}
