/*
 * Anti-entropy repair on real processes (docs/REPAIR.md):
 *  - converges: 3 nodes RF 3, hinted handoff off; node 3 down while rows are
 *    inserted, then 10 % updated, 5 % deleted, 100 partitions and 50 clustering
 *    ranges deleted
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
	fprintf(stderr, "repair: node %d alone at ONE: %d of %d rows right, %d wrong\n", k, found,
	        want, wrong);
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
			if (!differ) {
				size_t at = 0;
				while (a[at] && a[at] == b[at])
					at++;
				at = at > 200 ? at - 200 : 0;
				fprintf(stderr,
				        "partition %d differs from byte %zu:\nnode 1: %.500s\nnode "
				        "%d: %.500s\n",
				        p, at, a + at, k, b + at);
			}
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
	kill_and_wait(3);
	int via[] = {1, 2};
	int64_t t0 = cluster_now_ms();
	insert_all(CL_QUORUM, via, 2); /* node 3 misses every row */
	diverge();
	fprintf(stderr, "repair: %d rows inserted, updated and deleted in %lld ms\n", n_part * n_ck,
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

Test(repair, raised_rf_fills_the_new_replicas)
{
	n_part = 300;
	start(3, YAML_BASE "repair_interval: 0s\n");
	schema(1);
	int all[] = {1, 2, 3};
	insert_all(CL_ONE, all, 3);
	ok(1, CL_ONE,
	   "ALTER KEYSPACE r WITH replication = {'class': 'SimpleStrategy', 'replication_factor': "
	   "3}");
	usleep(500 * 1000); /* the schema change reaches every node */
	char out[8192];
	CL_ASSERT(repair_cli(1, NULL, out, sizeof(out), 300000) == 0, "repair: %s", out);
	CL_EXPECT(streamed(out) > 0, "the new replicas were filled: %s", out);
	/* a replica reads its own store at ONE: each node alone */
	for (int k = 1; k <= 3; k++) {
		int rows = 0;
		for (int p = 0; p < n_part; p++) {
			char q[64];
			snprintf(q, sizeof(q), "SELECT c FROM r.t WHERE k = %d", p);
			struct cqlresult *r = query(k, CL_ONE, q);
			rows += r->kind == CQLRES_ROWS ? (int)r->n_rows : 0;
			cqlresult_free(r);
		}
		CL_EXPECT(rows == n_part * n_ck, "node %d alone at ONE: %d rows of %d", k, rows,
		          n_part * n_ck);
		char *d = dump_raw(k, n_part / 2);
		CL_EXPECT(strstr(d, "\"found\":true"), "node %d stores partition %d: %.200s", k,
		          n_part / 2, d);
		free(d);
	}
}

/* `colonnade repair` on node k in the background, its output into a file of the root. */
static pid_t repair_spawn(int k, const char *outfile)
{
	pid_t pid = fork();
	CL_ASSERT(pid >= 0, "fork");
	if (pid == 0) {
		int fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(c->bin, c->bin, "repair", "r", "-h", c->nodes[k].addr, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Wait for pid up to timeout_ms; its exit status, or -1 (killed then). */
static int wait_pid(pid_t pid, int timeout_ms)
{
	int64_t t0 = cluster_now_ms();
	int st;
	while (cluster_now_ms() - t0 < timeout_ms) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		usleep(100 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/* Wait until node k's running session has streamed something. */
static void wait_streaming(int k)
{
	int64_t t0 = cluster_now_ms();
	while (cluster_now_ms() - t0 < 60000) {
		struct json *j = cluster_admin(c, k, "/v1/repair");
		bool go = j && !strcmp(json_str(json_get(j, "state"), ""), "running") &&
		          json_int(json_get(j, "bytes_streamed"), 0) > 0;
		json_free(j);
		if (go)
			return;
		usleep(50 * 1000);
	}
	CL_ASSERT(false, "node %d's session never started streaming", k);
}

static void read_file(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(out, 1, cap - 1, f) : 0;
	out[n] = 0;
	if (f)
		fclose(f);
}

/* A slow session (throttled) with node 3 diverged, ready for a fault. */
static void slow_session_setup(void)
{
	n_part = 400;
	start(3, YAML_BASE "repair_interval: 0s\nrepair_throttle: 64KiB\n");
	schema(3);
	int all[] = {1, 2, 3};
	insert_all(CL_ALL, all, 3);
	kill_and_wait(3);
	int via[] = {1, 2};
	insert_all(CL_QUORUM, via, 2); /* rewrites every row: node 3 misses them all */
	diverge();
	restart(3);
}

Test(repair, sigkill_of_a_participant_fails_its_ranges_and_the_next_run_completes)
{
	slow_session_setup();
	char path[400], out[16384];
	snprintf(path, sizeof(path), "%s/repair-kill.out", c->root);
	pid_t pid = repair_spawn(1, path);
	wait_streaming(1);
	cluster_test_drop_conn(3);
	CL_ASSERT(cluster_kill(c, 3) == 0, "SIGKILL node 3 mid-session");
	int st = wait_pid(pid, 300000);
	read_file(path, out, sizeof(out));
	fprintf(stderr, "repair with node 3 killed (exit %d): %s", st, out);
	CL_EXPECT(st == 1, "the command exits 1 when ranges failed");
	CL_EXPECT(strstr(out, "failed: r.t (") && strstr(out, c->nodes[3].addr),
	          "the failed ranges are named with node 3 and why: %s", out);
	for (int k = 1; k <= 2; k++)
		CL_EXPECT(cluster_wait_admin(c, k, 5000) >= 0, "node %d still serves", k);
	restart(3);
	CL_ASSERT(repair_cli(1, NULL, out, sizeof(out), 600000) == 0, "the next run: %s", out);
	CL_EXPECT(strstr(out, " 0 failed"), "the next run completes: %s", out);
	CL_EXPECT(dumps_differ(3) == 0, "node 3 equals node 1 after the second run");
}

Test(repair, sigstop_of_a_participant_times_out_within_the_timeout)
{
	slow_session_setup();
	char path[400], out[16384];
	snprintf(path, sizeof(path), "%s/repair-stop.out", c->root);
	pid_t pid = repair_spawn(1, path);
	wait_streaming(1);
	CL_ASSERT(cluster_pause(c, 3) == 0, "SIGSTOP node 3");
	int64_t t0 = cluster_now_ms();
	/* the running task waits at most repair_request_timeout (5 s) for node 3 */
	bool failed = false;
	while (!failed && cluster_now_ms() - t0 < 5000 + 3000) {
		struct json *j = cluster_admin(c, 1, "/v1/repair");
		failed = j && json_int(json_get(j, "ranges_failed"), 0) > 0;
		json_free(j);
		if (!failed)
			usleep(100 * 1000);
	}
	int64_t took = cluster_now_ms() - t0;
	fprintf(stderr, "repair: first range failed %lld ms after SIGSTOP\n", (long long)took);
	CL_EXPECT(failed, "no range failed within 8 s of SIGSTOP (timeout 5 s)");
	int st = wait_pid(pid, 300000);
	read_file(path, out, sizeof(out));
	fprintf(stderr, "repair with node 3 stopped (exit %d): %s", st, out);
	CL_EXPECT(st == 1, "the command exits 1");
	CL_EXPECT(strstr(out, "timed out after 5000 ms") || strstr(out, "is down"),
	          "the reason is the timeout or node 3 down: %s", out);
	CL_ASSERT(cluster_resume(c, 3) == 0, "SIGCONT node 3");
}

Test(repair, background_repair_converges_within_the_interval)
{
	n_part = 300;
	start(3, YAML_BASE "repair_interval: 30s\n");
	schema(3);
	int all[] = {1, 2, 3};
	insert_all(CL_ALL, all, 3);
	kill_and_wait(3);
	diverge();
	restart(3);
	int64_t t0 = cluster_now_ms();
	int d2 = -1, d3 = -1;
	while (cluster_now_ms() - t0 < 30000 + 10000) {
		d3 = dumps_differ(3);
		d2 = dumps_differ(2);
		if (d2 == 0 && d3 == 0)
			break;
		sleep(2);
	}
	fprintf(stderr, "repair: background converged %lld ms after node 3 returned\n",
	        (long long)(cluster_now_ms() - t0));
	CL_EXPECT(d2 == 0 && d3 == 0, "replicas identical within the interval (+10 s): %d, %d", d2,
	          d3);
	char out[16384];
	const char *args[] = {"repair_admin", "list", "-h", c->nodes[1].addr, NULL};
	int st = -1;
	CL_ASSERT(cluster_run(c, args, NULL, out, sizeof(out), 20000, &st) == 0 && st == 0,
	          "repair_admin list: %s", out);
	CL_EXPECT(strstr(out, "r.t") && strstr(out, " ok"), "history lists the sessions: %.2000s",
	          out);
	struct cqlresult *r = query(1, CL_ONE,
	                            "SELECT keyspace_name, table_name, outcome FROM "
	                            "system.repair_history");
	CL_EXPECT(r->kind == CQLRES_ROWS && r->n_rows > 0, "system.repair_history: %s",
	          r->kind == CQLRES_ERROR ? r->error.message : "no rows");
	cqlresult_free(r);
}

static char *dump_of(int k, const char *table, int key)
{
	struct admin_target t;
	struct cerr e = {0};
	CL_ASSERT(admin_target_parse(c->nodes[k].addr, 7199, &t, &e) == 0, "%s", e.msg);
	snprintf(t.bind_host, sizeof(t.bind_host), "%s", c->client_addr);
	char path[128];
	snprintf(path, sizeof(path), "/v1/dump?keyspace=r&table=%s&key=%d", table, key);
	int status = 0;
	char *body = NULL;
	size_t len = 0;
	CL_ASSERT(admin_get(&t, path, &status, &body, &len, &e) == 0 && status == 200,
	          "dump %d on node %d: %s", key, k, e.msg);
	return body;
}

/* `colonnade compact` waits for the compaction: when it returns, nothing is pending. */
static void compact(int k)
{
	char out[1024];
	const char *args[] = {"compact", "r", "g", "-h", c->nodes[k].addr, NULL};
	int st = -1;
	CL_ASSERT(cluster_run(c, args, NULL, out, sizeof(out), 20000, &st) == 0 && st == 0,
	          "colonnade compact on node %d: %s", k, out);
	CL_EXPECT(strstr(out, "compaction of r.g done in") != NULL, "compact says it is done: %s",
	          out);
	struct json *j = cluster_admin(c, k, "/v1/compactions");
	CL_EXPECT(j && json_int(json_get(j, "pending"), -1) == 0 &&
	                  json_int(json_get(j, "finished_through"), 0) >= 1,
	          "node %d has no compaction pending once compact returned", k);
	json_free(j);
}

/* Does node k still store a deletion of row (1, 1) of r.g? */
static bool holds_tombstone(int k)
{
	char *d = dump_of(k, "g", 1);
	bool has = strstr(d, "\"deletion_info\":{") != NULL;
	free(d);
	return has;
}

Test(repair, no_resurrection_with_gc_grace_10)
{
	start(3, YAML_BASE "repair_interval: 0s\n");
	ok(1, CL_ONE,
	   "CREATE KEYSPACE r WITH replication = {'class': 'SimpleStrategy', 'replication_factor': "
	   "3}");
	ok(1, CL_ONE,
	   "CREATE TABLE r.g (k int, c int, v text, PRIMARY KEY (k, c)) WITH gc_grace_seconds = "
	   "10");
	ok(1, CL_ALL, "INSERT INTO r.g (k, c, v) VALUES (1, 1, 'deleted later')");
	ok(1, CL_ALL, "INSERT INTO r.g (k, c, v) VALUES (1, 2, 'stays')");
	kill_and_wait(3);
	ok(1, CL_QUORUM, "DELETE FROM r.g WHERE k = 1 AND c = 1");
	restart(3);
	sleep(12); /* past gc_grace_seconds */
	compact(1);
	compact(2);
	CL_EXPECT(holds_tombstone(1) && holds_tombstone(2),
	          "without repair the tombstone is kept past gc_grace");
	CL_EXPECT(!holds_tombstone(3), "node 3 missed the delete");
	CL_EXPECT(cluster_wait_log(c, 1, "over its gc_grace_seconds", 1, 15000) >= 1,
	          "node 1 warns that r.g was not repaired within gc_grace");
	CL_EXPECT(cluster_test_metric(c, 1, "colonnade_repair_tables_past_gc_grace") >= 1,
	          "the metric counts the table");
	char out[8192];
	CL_ASSERT(repair_cli(1, NULL, out, sizeof(out), 300000) == 0, "repair: %s", out);
	for (int k = 1; k <= 3; k++)
		compact(k);
	int64_t t0 = cluster_now_ms();
	bool any = true;
	while (any && cluster_now_ms() - t0 < 15000) {
		any = holds_tombstone(1) || holds_tombstone(2) || holds_tombstone(3);
		if (any)
			usleep(200 * 1000);
	}
	CL_EXPECT(!any, "after repair the tombstone is purged everywhere");
	struct cqlresult *r = query(1, CL_ALL, "SELECT c FROM r.g WHERE k = 1");
	CL_EXPECT(r->kind == CQLRES_ROWS && r->n_rows == 1 &&
	                  be32_load(cqlresult_cell(r, 0, 0)->p) == 2,
	          "the deleted row never comes back: %u rows", r->n_rows);
	cqlresult_free(r);
	for (int k = 1; k <= 3; k++) {
		char *d = dump_of(k, "g", 1);
		CL_EXPECT(!strstr(d, "\"clustering\":[\"1\"]"),
		          "node %d holds nothing of row 1: %.300s", k, d);
		free(d);
	}
}

static int64_t hint_ranges(int k)
{
	struct json *j = cluster_admin(c, k, "/v1/hints");
	CL_ASSERT(j != NULL, "node %d: /v1/hints", k);
	int64_t n = json_int(json_get(j, "repair_ranges_total"), -1);
	json_free(j);
	return n;
}

Test(repair, ranges_hinted_handoff_missed_go_first_and_are_cleared)
{
	n_part = 200;
	start(3, YAML_BASE "repair_interval: 100s\n"); /* a tick every 10 s; due every 90 s */
	schema(3); /* a new table: its ranges are first due 90 s after its creation */
	kill_and_wait(3);
	int via[] = {1, 2};
	insert_all(CL_QUORUM, via, 2);
	CL_EXPECT(hint_ranges(1) > 0,
	          "hinted handoff (disabled) recorded the ranges node 3 missed");
	for (int k = 1; k <= 2; k++) {
		struct json *j = cluster_admin(c, k, "/v1/repair/history?limit=1");
		CL_EXPECT(j && json_len(j) == 0,
		          "node %d ran no background session: the new table is not due yet", k);
		json_free(j);
	}
	restart(3);
	int64_t t0 = cluster_now_ms();
	int d3 = -1;
	int64_t left = -1;
	while (cluster_now_ms() - t0 < 40000) {
		d3 = dumps_differ(3);
		left = hint_ranges(1) + hint_ranges(2);
		if (d3 == 0 && left == 0)
			break;
		sleep(2);
	}
	fprintf(stderr, "repair: hinted ranges repaired %lld ms after node 3 returned\n",
	        (long long)(cluster_now_ms() - t0));
	CL_EXPECT(d3 == 0, "node 3 identical long before the interval (90 s) was due: %d differ",
	          d3);
	CL_EXPECT(left == 0, "the repaired ranges' records are cleared: %lld left",
	          (long long)left);
}
