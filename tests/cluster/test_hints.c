/*
 * Hinted handoff on real processes (docs/HINTS.md):
 *  - missed writes arrive: 3 nodes RF 3, node 3 SIGKILLed (and, in its own
 *    test, frozen with SIGSTOP: hints for writes that timed out), 10,000 rows
 *    written at QUORUM through nodes 1 and 2 (unlogged batches of 100
 *    partitions, each partition its own QUORUM write and its own hint), plus
 *    row, range and partition deletes; node 3 back: within 30 s nodes 1 and
 *    2 list no pending hint; with 1 and 2 stopped, node 3 alone answers
 *    COUNT(*) = 10,000 at ONE with every value, and the deleted rows stay
 *    deleted;
 *  - disabled and window: hinted_handoff_enabled false stores nothing (the
 *    dropped metric counts each by reason); with max_hint_window 5s and a 15 s
 *    outage only the first 5 s are hinted, and the ranges are recorded for
 *    repair;
 *  - ANY with RF 1 and the one replica down: the C client, the python driver
 *    and cqlish all succeed; the rows are readable at ONE once it is back;
 *  - crash during delivery: the hinting node SIGKILLed in the middle of a
 *    replay of 100,000 hints, restarted: the target holds every row;
 *  - two DCs: a dc2 node down during LOCAL_QUORUM writes in dc1 gets them all
 *    back; the dc2 forwarder stored the hints, the dc1 coordinator none;
 *  - bad input: stored hints torn and corrupted while their node was down
 *    (tests/helpers/coordinator_helper_hintcorrupt.c), and hints for a table
 *    dropped meanwhile: logged, counted, skipped; every other hint delivered;
 *  - throttle: hinted_handoff_throttle 1024 KiB/s, two nodes replaying to a
 *    third: the rate its metrics show over 5 s stays within 10 % of 1024
 *    KiB/s (a window that falls short only by less time than a node waited
 *    for a CPU in it is the machine's: measured again, up to 3 windows); then
 *    pausehandoff holds the replay, listpendinghints lists the target,
 *    truncatehints empties one node (counted), resumehandoff drains the other,
 *    info shows no pending hint.
 */
#include "tests/cluster/harness/cluster_test.h"

#include "cli/lib/admin_client.h"
#include "cli/lib/cqlclient.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/cqlproto.h"

#include <criterion/criterion.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define START_MS  60000
#define DETECT_MS 20000

static struct cluster *c;

#define CL_ASSERT(...) CLUSTER_ASSERT(c, __VA_ARGS__)
#define CL_EXPECT(...) CLUSTER_EXPECT(c, __VA_ARGS__)

static void start(int n, const char *const *dcs, const char *yaml)
{
	struct cluster_opts o = {.n = n, .extra_yaml = yaml};
	for (int k = 0; dcs && k < n; k++)
		o.dcs[k] = dcs[k];
	c = cluster_test_start(&o, true);
}

/* ---- CQL ------------------------------------------------------------------------------------ */

static struct cqlclient *conn(int k)
{
	return cluster_test_conn(c, k);
}

/* Run a statement on node k at cl; the result (to free), never NULL. */
static struct cqlresult *query(int k, uint16_t cl, const char *stmt)
{
	return cluster_test_query(c, conn(k), cl, CQL_NO_TIMESTAMP, stmt);
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
	CL_ASSERT(r->kind != CQLRES_ERROR, "node %d: %.200s at %s: %s", k, stmt,
	          cql_consistency_name(cl), r->error.message);
	cqlresult_free(r);
}

/* The value written for key k with `tag`. */
static void value_of(int k, const char *tag, char *out, size_t cap)
{
	snprintf(out, cap, "%s-%d", tag, k);
}

/*
 * Rows [from, to) of table ks.t (k int PRIMARY KEY, v text) at cl, in unlogged
 * batches of `per` partitions, alternating the coordinators in `via`.
 */
static void write_rows(const char *ks, int from, int to, const char *tag, uint16_t cl,
                       const int *via, int n_via, int per)
{
	struct buf b;
	buf_init(&b);
	for (int at = from, i = 0; at < to; at += per, i++) {
		buf_reset(&b);
		buf_put_str(&b, "BEGIN UNLOGGED BATCH ");
		for (int k = at; k < at + per && k < to; k++) {
			char v[64];
			value_of(k, tag, v, sizeof(v));
			buf_printf(&b, "INSERT INTO %s.t (k, v) VALUES (%d, '%s'); ", ks, k, v);
		}
		buf_put_str(&b, "APPLY BATCH");
		buf_put_u8(&b, 0);
		struct cqlresult *r = query(via[i % n_via], cl, (const char *)b.data);
		CL_ASSERT(r->kind != CQLRES_ERROR, "batch at %d via node %d: %s", at,
		          via[i % n_via], r->error.message);
		cqlresult_free(r);
	}
	buf_release(&b);
}

/*
 * Every row of ks.t through node k at ONE: count how many of [from, to) hold
 * their `tag` value into *match, rows outside or with another value into *other.
 */
static void read_rows(int k, const char *ks, int from, int to, const char *tag, int *match,
                      int *other, uint8_t *seen)
{
	char q[128];
	snprintf(q, sizeof(q), "SELECT k, v FROM %s.t", ks);
	*match = *other = 0;
	uint8_t *state = NULL;
	int32_t state_len = -1;
	do { /* pages of 5000 rows */
		struct cql_qparams p;
		cql_qparams_init(&p);
		p.consistency = CL_ONE;
		p.page_size = 5000;
		p.paging_state = state;
		p.paging_state_len = state_len;
		struct cqlresult *r = NULL;
		struct cerr e = {0};
		CL_ASSERT(cqlclient_query(conn(k), q, &p, &r, &e) == 0, "%s: %s", q, e.msg);
		free(state);
		state = NULL;
		state_len = -1;
		CL_ASSERT(r->kind == CQLRES_ROWS, "%s via node %d: %s", q, k,
		          r->kind == CQLRES_ERROR ? r->error.message : "not rows");
		for (uint32_t i = 0; i < r->n_rows; i++) {
			const struct cql_slice *ks_ = cqlresult_cell(r, i, 0);
			char *v = cqlresult_text(r, i, 1);
			int key = ks_->len == 4 ? (int32_t)be32_load(ks_->p) : -1;
			char want[64];
			value_of(key, tag, want, sizeof(want));
			if (key >= from && key < to && v && strcmp(v, want) == 0) {
				(*match)++;
				if (seen)
					seen[key - from] = 1;
			} else {
				(*other)++;
			}
			free(v);
		}
		if ((r->meta.flags & CQL_ROWS_HAS_MORE_PAGES) && r->meta.paging_state_len > 0) {
			state = malloc((size_t)r->meta.paging_state_len);
			CL_ASSERT(state, "out of memory");
			memcpy(state, r->meta.paging_state, (size_t)r->meta.paging_state_len);
			state_len = r->meta.paging_state_len;
		}
		cqlresult_free(r);
	} while (state);
}

/* ---- admin ---------------------------------------------------------------------------------- */

static int64_t pending(int k)
{
	struct json *j = cluster_admin(c, k, "/v1/hints");
	CL_ASSERT(j != NULL, "node %d: /v1/hints", k);
	int64_t n = json_int(json_get(j, "pending"), -1);
	json_free(j);
	return n;
}

/* Wait until none of the nodes holds a hint; ms waited, or -1. */
static int64_t wait_no_pending(const int *nodes, int n, int timeout_ms)
{
	int64_t t0 = cluster_now_ms();
	while (cluster_now_ms() - t0 < timeout_ms) {
		int64_t total = 0;
		for (int i = 0; i < n; i++)
			total += pending(nodes[i]);
		if (total == 0)
			return cluster_now_ms() - t0;
		usleep(200 * 1000);
	}
	return -1;
}

/* A series of node k's /metrics (labels included in `series`), -1 when absent. */
static double metric(int k, const char *series)
{
	return cluster_test_metric(c, k, series);
}

static void run_cli(const char *const *args, char *out, size_t cap)
{
	int st = -1;
	CL_ASSERT(cluster_run(c, args, NULL, out, cap, 20000, &st) == 0 && st == 0,
	          "colonnade %s: %s", args[0], out);
}

static void kill_and_wait(int victim, const int *obs, int n_obs)
{
	cluster_test_drop_conn(victim);
	CL_ASSERT(cluster_kill(c, victim) == 0, "SIGKILL node %d", victim);
	int tg[] = {victim};
	CL_ASSERT(cluster_wait_status(c, obs, n_obs, tg, 1, "DN", DETECT_MS) >= 0,
	          "node %d is not seen DN", victim);
}

static void restart(int k)
{
	CL_ASSERT(cluster_start_node(c, k) == 0, "restart node %d", k);
	CL_ASSERT(cluster_wait_admin(c, k, START_MS) >= 0, "node %d back", k);
}

static void stop(int k)
{
	cluster_test_drop_conn(k);
	int st = 0;
	CL_ASSERT(cluster_stop(c, k, 30000, &st) == 0, "SIGTERM node %d", k);
}

static void schema_rf(int k, const char *ks, int rf)
{
	ok(k, CL_ONE,
	   "CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', "
	   "'replication_factor': %d}",
	   ks, rf);
	ok(k, CL_ONE, "CREATE TABLE %s.t (k int PRIMARY KEY, v text)", ks);
}

TestSuite(hints, .fini = cluster_test_fini, .timeout = 900);

/* ---- missed writes arrive ------------------------------------------------------------------- */

#define NROWS 10000

/* Rows of h.d (k, c) before the outage: partitions 1..3, c 0..9. */
static void deletes_prepare(void)
{
	ok(1, CL_ONE, "CREATE TABLE h.d (k int, c int, v text, PRIMARY KEY (k, c))");
	for (int k = 1; k <= 3; k++)
		for (int cc = 0; cc < 10; cc++)
			ok(1, CL_ALL, "INSERT INTO h.d (k, c, v) VALUES (%d, %d, 'x')", k, cc);
}

/* While node 3 is away: a row, a range and a partition deleted at QUORUM. */
static void deletes_apply(void)
{
	ok(1, CL_QUORUM, "DELETE FROM h.d WHERE k = 1 AND c = 5");
	ok(2, CL_QUORUM, "DELETE FROM h.d WHERE k = 2 AND c >= 3 AND c < 7");
	ok(1, CL_QUORUM, "DELETE FROM h.d WHERE k = 3");
}

/* Through node 3 alone: what is left of h.d. */
static void deletes_check(void)
{
	struct cqlresult *r = query(3, CL_ONE, "SELECT c FROM h.d WHERE k = 1");
	CL_EXPECT(r->kind == CQLRES_ROWS && r->n_rows == 9, "k=1: 9 rows after the row delete");
	for (uint32_t i = 0; r->kind == CQLRES_ROWS && i < r->n_rows; i++)
		CL_EXPECT(be32_load(cqlresult_cell(r, i, 0)->p) != 5, "row c=5 stays deleted");
	cqlresult_free(r);
	r = query(3, CL_ONE, "SELECT c FROM h.d WHERE k = 2");
	CL_EXPECT(r->kind == CQLRES_ROWS && r->n_rows == 6, "k=2: 6 rows after the range delete");
	for (uint32_t i = 0; r->kind == CQLRES_ROWS && i < r->n_rows; i++) {
		uint32_t cc = be32_load(cqlresult_cell(r, i, 0)->p);
		CL_EXPECT(cc < 3 || cc >= 7, "row c=%u stays deleted", cc);
	}
	cqlresult_free(r);
	r = query(3, CL_ONE, "SELECT c FROM h.d WHERE k = 3");
	CL_EXPECT(r->kind == CQLRES_ROWS && r->n_rows == 0, "k=3: the partition stays deleted");
	cqlresult_free(r);
}

/* After the outage: no hint left within 30 s, then node 3 alone holds everything. */
static void check_arrived(const char *tag, bool with_deletes)
{
	int hinting[] = {1, 2};
	int64_t waited = wait_no_pending(hinting, 2, 30000);
	CL_ASSERT(waited >= 0, "nodes 1 and 2 still hold %lld and %lld hints after 30 s",
	          (long long)pending(1), (long long)pending(2));
	fprintf(stderr, "hints: every hint delivered %lld ms after node 3 answered\n",
	        (long long)waited);
	char out[2048];
	for (int k = 1; k <= 2; k++) {
		const char *args[] = {"listpendinghints", "-h", c->nodes[k].addr, NULL};
		run_cli(args, out, sizeof(out));
		CL_EXPECT(strstr(out, "This node does not have any pending hints"), "node %d: %s",
		          k, out);
	}
	stop(1);
	stop(2);
	struct cqlresult *r = query(3, CL_ONE, "SELECT COUNT(*) FROM h.t");
	CL_ASSERT(r->kind == CQLRES_ROWS && r->n_rows == 1, "COUNT(*) via node 3");
	const struct cql_slice *s = cqlresult_cell(r, 0, 0);
	int64_t count = s->len == 8 ? (int64_t)be64_load(s->p) : -1;
	cqlresult_free(r);
	CL_EXPECT(count == NROWS, "COUNT(*) at ONE through node 3 alone: %lld, want %d",
	          (long long)count, NROWS);
	int match, other;
	read_rows(3, "h", 0, NROWS, tag, &match, &other, NULL);
	CL_EXPECT(match == NROWS && other == 0, "node 3: %d rows match, %d do not", match, other);
	if (with_deletes)
		deletes_check();
}

Test(hints, missed_writes_arrive_after_sigkill_with_deletes)
{
	start(3, NULL, NULL);
	schema_rf(1, "h", 3);
	deletes_prepare();
	int obs[] = {1, 2};
	kill_and_wait(3, obs, 2);
	int via[] = {1, 2};
	int64_t t0 = cluster_now_ms();
	write_rows("h", 0, NROWS, "kill", CL_QUORUM, via, 2, 100);
	fprintf(stderr, "hints: %d rows at QUORUM in %lld ms with node 3 down\n", NROWS,
	        (long long)(cluster_now_ms() - t0));
	deletes_apply();
	CL_EXPECT(pending(1) + pending(2) == NROWS + 3, "one hint per missed write: %lld + %lld",
	          (long long)pending(1), (long long)pending(2));
	restart(3);
	check_arrived("kill", true);
}

Test(hints, missed_writes_arrive_after_sigstop)
{
	start(3, NULL, NULL);
	schema_rf(1, "h", 3);
	cluster_test_drop_conn(3);
	CL_ASSERT(cluster_pause(c, 3) == 0, "SIGSTOP node 3");
	/* no wait for DN: the first writes time out on node 3 and are hinted then */
	int via[] = {1, 2};
	write_rows("h", 0, NROWS, "stop", CL_QUORUM, via, 2, 100);
	/* A write node 3 never answered is hinted when its timeout passes (at once, once node 3
	 * is DN): polled, as a loop slowed by a sanitizer and a second test may fire the last
	 * timeouts late. */
	double timed_out = 0;
	for (int64_t t0 = cluster_now_ms(); cluster_now_ms() - t0 < 30000; usleep(200 * 1000)) {
		timed_out = metric(1, "colonnade_hints_stored_total") +
		            metric(2, "colonnade_hints_stored_total");
		if (timed_out >= NROWS)
			break;
	}
	CL_EXPECT(timed_out >= NROWS, "hints stored within 30 s: %.0f", timed_out);
	CL_ASSERT(cluster_resume(c, 3) == 0, "SIGCONT node 3");
	CL_ASSERT(cluster_wait_all_up(c, START_MS) >= 0, "node 3 UP again");
	check_arrived("stop", false);
}

/* ---- disabled / window ------------------------------------------------------------------------
 */

/* When node k marked node `target` down (its /v1/hints down_since_ms, wall-clock ms), 0 if it
 * does not say. */
static int64_t down_since(int k, int target)
{
	struct json *j = cluster_admin(c, k, "/v1/hints");
	CL_ASSERT(j != NULL, "node %d: /v1/hints", k);
	const struct json *ts = json_get(j, "targets");
	int64_t ms = 0;
	for (size_t i = 0; i < json_len(ts); i++) {
		const struct json *t = json_at(ts, i);
		if (!strcmp(json_str(json_get(t, "address"), ""), c->nodes[target].addr))
			ms = json_int(json_get(t, "down_since_ms"), 0);
	}
	json_free(j);
	return ms;
}

Test(hints, disabled_stores_nothing_and_window_keeps_the_first_5s)
{
	start(3, NULL, "hinted_handoff_enabled: false\nmax_hint_window: 5s\n");
	schema_rf(1, "w", 3);
	int obs[] = {1, 2}, via[] = {1};
	kill_and_wait(3, obs, 2);
	write_rows("w", 0, 300, "off", CL_QUORUM, via, 1, 50);
	CL_EXPECT(pending(1) == 0, "disabled: no hint stored");
	double dropped = metric(1, "colonnade_hints_dropped_total{reason=\"disabled\"}");
	CL_EXPECT(dropped == 300, "dropped{reason=disabled} = %.0f, want 300", dropped);
	char out[4096];
	const char *st[] = {"statushandoff", "-h", c->nodes[1].addr, NULL};
	run_cli(st, out, sizeof(out));
	CL_EXPECT(strstr(out, "Hinted handoff is not running"), "%s", out);

	/* a new outage of 15 s with hinting on and a 5 s window */
	restart(3);
	CL_ASSERT(cluster_wait_all_up(c, START_MS) >= 0, "node 3 UP");
	const char *on[] = {"enablehandoff", "-h", c->nodes[1].addr, NULL};
	run_cli(on, out, sizeof(out));
	kill_and_wait(3, obs, 2);
	/* The window counts from the moment node 1 convicted node 3, which the harness sees
	 * late (after node 2 convicted it too, a poll later): a key's time is taken from there. */
	int64_t down_ms = down_since(1, 3);
	CL_ASSERT(down_ms > 0, "node 1 records when node 3 went down");
	fprintf(stderr, "hints: node 1 marked node 3 down %lld ms before the harness saw it DN\n",
	        (long long)(clock_wall_us() / 1000 - down_ms));
	int64_t t_dn = cluster_now_ms();
	int first_late = -1, last_early = -1, key = 1000;
	while (cluster_now_ms() - t_dn < 15000) {
		int64_t at = clock_wall_us() / 1000 - down_ms;
		write_rows("w", key, key + 1, "win", CL_QUORUM, via, 1, 1);
		if (at < 3000) /* 2 s for the write to reach node 1's decision */
			last_early = key;
		if (at > 6500 && first_late < 0)
			first_late = key;
		key++;
		usleep(20 * 1000);
	}
	int64_t kept = pending(1);
	CL_EXPECT(kept > 0 && kept < key - 1000, "hints kept: %lld of %d", (long long)kept,
	          key - 1000);
	double win = metric(1, "colonnade_hints_dropped_total{reason=\"window\"}");
	CL_EXPECT(win > 0, "dropped{reason=window} = %.0f", win);
	struct json *j = cluster_admin(c, 1, "/v1/hints");
	CL_ASSERT(j, "/v1/hints");
	const struct json *rs = json_get(j, "repair_ranges");
	bool window_range = false, disabled_range = false;
	for (size_t i = 0; i < json_len(rs); i++) {
		const struct json *rr = json_get(json_at(rs, i), "reasons");
		for (size_t m = 0; m < json_len(rr); m++) {
			window_range |= !strcmp(json_str(json_at(rr, m), ""), "window");
			disabled_range |= !strcmp(json_str(json_at(rr, m), ""), "disabled");
		}
	}
	CL_EXPECT(window_range && disabled_range,
	          "ranges recorded for repair by reason (window %d, disabled %d), %zu listed",
	          window_range, disabled_range, json_len(rs));
	json_free(j);

	restart(3);
	int hinting[] = {1};
	CL_ASSERT(wait_no_pending(hinting, 1, 30000) >= 0, "hints delivered");
	stop(1);
	stop(2);
	uint8_t *seen = calloc((size_t)(key - 1000), 1);
	int match, other;
	read_rows(3, "w", 1000, key, "win", &match, &other, seen);
	CL_EXPECT(match == kept, "node 3 holds %d outage rows, %lld were hinted", match,
	          (long long)kept);
	for (int k = 1000; k <= last_early; k++)
		CL_EXPECT(seen[k - 1000], "key %d (written in the first 3 s) is on node 3", k);
	for (int k = first_late; first_late > 0 && k < key; k++)
		CL_EXPECT(!seen[k - 1000], "key %d (written after 6.5 s) is not on node 3", k);
	CL_EXPECT(other == 0, "none of the 300 rows written while disabled reached node 3 (%d)",
	          other);
	free(seen);
}

/* ---- ANY ------------------------------------------------------------------------------------- */

/* A key of a.t (RF 1) whose one replica is node `want`, as node 1 places it. */
static int key_on(int want, int from)
{
	for (int key = from; key < from + 10000; key++) {
		char kt[16];
		snprintf(kt, sizeof(kt), "%d", key);
		int nodes[4];
		int n = cluster_test_replicas(c, 1, "a", "t", kt, nodes, 4);
		if (n == 1 && nodes[0] == want)
			return key;
	}
	CL_ASSERT(false, "no key on node %d", want);
	return -1;
}

/* Run a program (python3, cqlish) to completion; its output in out, its exit status. */
static int run_prog(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	CL_ASSERT(p, "popen %s", cmd);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = 0;
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(hints, any_with_the_only_replica_down)
{
	start(3, NULL, NULL);
	schema_rf(1, "a", 1);
	int k1 = key_on(3, 0), k2 = key_on(3, k1 + 1), k3 = key_on(3, k2 + 1);
	int obs[] = {1, 2};
	kill_and_wait(3, obs, 2);
	struct cqlresult *r;
	char q[200];
	snprintf(q, sizeof(q), "INSERT INTO a.t (k, v) VALUES (%d, 'any-c')", k1);
	r = query(1, CL_ONE, q);
	CL_EXPECT(r->kind == CQLRES_ERROR && r->error.code == CQL_ERR_UNAVAILABLE,
	          "ONE is Unavailable with the only replica down");
	cqlresult_free(r);
	ok(1, CL_ANY, "INSERT INTO a.t (k, v) VALUES (%d, 'any-c')", k1);

	/* the python driver */
	char cmd[2048], out[4096];
	snprintf(cmd, sizeof(cmd),
	         "/usr/bin/python3 -c \"\n"
	         "from cassandra.cluster import Cluster\n"
	         "from cassandra.policies import WhiteListRoundRobinPolicy\n"
	         "from cassandra import ConsistencyLevel\n"
	         "from cassandra.query import SimpleStatement\n"
	         "cl = Cluster(['%s'], load_balancing_policy=WhiteListRoundRobinPolicy(['%s']),"
	         " protocol_version=4)\n"
	         "s = cl.connect()\n"
	         "s.execute(SimpleStatement(\\\"INSERT INTO a.t (k, v) VALUES (%d, 'any-py')\\\","
	         " consistency_level=ConsistencyLevel.ANY))\n"
	         "print('python insert at ANY ok')\n"
	         "cl.shutdown()\n\" 2>&1",
	         c->nodes[1].addr, c->nodes[1].addr, k2);
	CL_EXPECT(run_prog(cmd, out, sizeof(out)) == 0 && strstr(out, "at ANY ok"),
	          "python driver: %s", out);

	/* cqlish, statements on its standard input */
	char bin[512], file[600];
	snprintf(bin, sizeof(bin), "%s", c->bin);
	snprintf(file, sizeof(file), "%s/any.cql", c->root);
	FILE *f = fopen(file, "w");
	CL_ASSERT(f, "%s", file);
	fprintf(f, "CONSISTENCY ANY\nINSERT INTO a.t (k, v) VALUES (%d, 'any-sh');\n", k3);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s/cqlish %s 9042 < %s 2>&1", dirname(bin), c->nodes[1].addr,
	         file);
	int st = run_prog(cmd, out, sizeof(out));
	CL_EXPECT(st == 0 && strstr(out, "Consistency level set to ANY") && !strstr(out, "rror"),
	          "cqlish: status %d: %s", st, out);

	CL_EXPECT(pending(1) == 3, "three hints on node 1: %lld", (long long)pending(1));
	restart(3);
	int hinting[] = {1};
	CL_ASSERT(wait_no_pending(hinting, 1, 30000) >= 0, "hints delivered");
	const int keys[] = {k1, k2, k3};
	const char *vals[] = {"any-c", "any-py", "any-sh"};
	for (int i = 0; i < 3; i++) {
		snprintf(q, sizeof(q), "SELECT v FROM a.t WHERE k = %d", keys[i]);
		r = query(1, CL_ONE, q);
		char *v = r->kind == CQLRES_ROWS && r->n_rows == 1 ? cqlresult_text(r, 0, 0) : NULL;
		CL_EXPECT(v && !strcmp(v, vals[i]), "key %d at ONE: %s", keys[i], v ? v : "(none)");
		free(v);
		cqlresult_free(r);
	}
}

/* ---- crash during delivery ---------------------------------------------------------------------
 */

#define NCRASH 100000

Test(hints, hinting_node_killed_mid_replay_loses_nothing)
{
	start(3, NULL, "hinted_handoff_throttle: 1024\n");
	schema_rf(1, "x", 3);
	int obs[] = {1, 2}, via[] = {1};
	kill_and_wait(3, obs, 2);
	int64_t t0 = cluster_now_ms();
	write_rows("x", 0, NCRASH, "crash", CL_QUORUM, via, 1, 250);
	fprintf(stderr, "hints: %d rows in %lld ms\n", NCRASH, (long long)(cluster_now_ms() - t0));
	CL_ASSERT(pending(1) == NCRASH, "node 1 holds %lld hints", (long long)pending(1));
	restart(3);
	/* kill node 1 while it is replaying: between a fifth and four fifths delivered */
	int64_t left = NCRASH;
	t0 = cluster_now_ms();
	while ((left = pending(1)) > NCRASH * 4 / 5 && cluster_now_ms() - t0 < 60000)
		usleep(50 * 1000);
	CL_ASSERT(left > NCRASH / 5 && left < NCRASH, "mid-replay: %lld left", (long long)left);
	cluster_test_drop_conn(1);
	CL_ASSERT(cluster_kill(c, 1) == 0, "SIGKILL node 1 mid-replay (%lld left)",
	          (long long)left);
	fprintf(stderr, "hints: node 1 killed with %lld of %d hints left\n", (long long)left,
	        NCRASH);
	restart(1);
	int hinting[] = {1};
	CL_ASSERT(wait_no_pending(hinting, 1, 120000) >= 0, "hints delivered after the restart");
	stop(1);
	stop(2);
	int match, other;
	read_rows(3, "x", 0, NCRASH, "crash", &match, &other, NULL);
	CL_EXPECT(match == NCRASH && other == 0, "node 3 holds %d of %d rows (%d others)", match,
	          NCRASH, other);
	/* the target's own dump of a few keys */
	for (int key = 0; key < NCRASH; key += NCRASH / 7) {
		char kt[16], out[8192];
		snprintf(kt, sizeof(kt), "%d", key);
		const char *args[] = {"dump", "x", "t", kt, "-h", c->nodes[3].addr, NULL};
		run_cli(args, out, sizeof(out));
		char want[64];
		value_of(key, "crash", want, sizeof(want));
		CL_EXPECT(strstr(out, want), "dump of key %d on node 3: %s", key, out);
	}
}

/* ---- two datacenters ---------------------------------------------------------------------------
 */

Test(hints, remote_dc_forwarder_stores_the_hints)
{
	const char *dcs[] = {"dc1", "dc1", "dc2", "dc2"};
	start(4, dcs, NULL);
	ok(1, CL_ONE,
	   "CREATE KEYSPACE m WITH replication = {'class': 'NetworkTopologyStrategy', "
	   "'dc1': 2, 'dc2': 2}");
	ok(1, CL_ONE, "CREATE TABLE m.t (k int PRIMARY KEY, v text)");
	int obs[] = {1, 2, 3}; /* every coordinator and the forwarder know it is down */
	kill_and_wait(4, obs, 3);
	int via[] = {1, 2};
	write_rows("m", 0, 1000, "dc", CL_LOCAL_QUORUM, via, 2, 50);
	/* After 3 s every write timeout has passed: a hint a dc1 coordinator would store is
	 * stored.  LOCAL_QUORUM answers before dc2 does, so the last relays may still be on
	 * their way to the forwarder: then wait (polled, 30 s at most) until it holds them all. */
	sleep(3);
	for (int64_t t0 = cluster_now_ms(); pending(3) < 1000 && cluster_now_ms() - t0 < 30000;)
		usleep(200 * 1000);
	CL_EXPECT(pending(1) == 0 && pending(2) == 0, "dc1 coordinators hold no hint: %lld, %lld",
	          (long long)pending(1), (long long)pending(2));
	CL_EXPECT(metric(1, "colonnade_hints_stored_total") == 0, "node 1 stored no hint");
	CL_EXPECT(pending(3) == 1000, "the dc2 forwarder holds them: %lld", (long long)pending(3));
	restart(4);
	int fw[] = {3};
	CL_ASSERT(wait_no_pending(fw, 1, 30000) >= 0, "hints delivered");
	stop(1);
	stop(2);
	stop(3);
	int match, other;
	read_rows(4, "m", 0, 1000, "dc", &match, &other, NULL);
	CL_EXPECT(match == 1000 && other == 0, "node 4 holds %d rows", match);
}

/* ---- throttle -------------------------------------------------------------------------------- */

/* The replay rate at node 3 over 5 s from received-bytes series m (v0 now): within 10 % of
 * 1024 KiB/s.  A window short by less time than a node waited for a CPU in it (the
 * scheduler's run delay: a stalled sender loses what its 50 ms burst does not make up)
 * is the machine's and is measured again, up to 3 windows; one that exceeds the rate, or
 * falls short by more than the nodes' waits explain, fails. */
static void measure_replay_rate(const char *m, double v0)
{
	for (int w = 1;; w++) {
		int64_t t1 = cluster_now_ms(), wait0[4];
		for (int k = 1; k <= 3; k++)
			wait0[k] = cluster_node_cpu_wait_us(c, k);
		sleep(5);
		double v1 = metric(3, m);
		double secs = (double)(cluster_now_ms() - t1) / 1000.0;
		double rate = (v1 - v0) / secs / 1024.0;
		double waited_s = 0;
		for (int k = 1; k <= 3; k++) {
			double s = (double)(cluster_node_cpu_wait_us(c, k) - wait0[k]) / 1e6;
			waited_s = s > waited_s ? s : waited_s;
		}
		double short_s = secs * (1.0 - rate / 1024.0);
		fprintf(stderr,
		        "hints: replay at the receiver %.0f KiB/s over %.1f s (throttle 1024); the "
		        "most a node waited for a CPU %.0f ms\n",
		        rate, secs, waited_s * 1e3);
		CL_EXPECT(rate < 1024 * 1.1, "replay %.0f KiB/s, want 1024 +- 10 %%", rate);
		if (rate > 1024 * 0.9)
			return;
		CL_EXPECT(
		        short_s <= waited_s && w < 3,
		        "replay %.0f KiB/s, want 1024 +- 10 %%: %.0f ms short, the nodes waited at "
		        "most %.0f ms for a CPU (window %d)",
		        rate, short_s * 1e3, waited_s * 1e3, w);
		if (short_s > waited_s || w >= 3)
			return;
		v0 = v1;
	}
}

Test(hints, throttle_holds_the_replay_rate)
{
	start(3, NULL, "hinted_handoff_throttle: 1024\n");
	ok(1, CL_ONE,
	   "CREATE KEYSPACE r WITH replication = {'class': 'SimpleStrategy', "
	   "'replication_factor': 3}");
	ok(1, CL_ONE, "CREATE TABLE r.t (k int PRIMARY KEY, v text)");
	int obs[] = {1, 2};
	kill_and_wait(3, obs, 2);
	/* ~20 MiB of hints, half on each of nodes 1 and 2: a replay of ~20 s */
	char big[1001];
	memset(big, 'b', 1000);
	big[1000] = 0;
	struct buf b;
	buf_init(&b);
	for (int at = 0; at < 20000; at += 50) {
		buf_reset(&b);
		buf_put_str(&b, "BEGIN UNLOGGED BATCH ");
		for (int k = at; k < at + 50; k++)
			buf_printf(&b, "INSERT INTO r.t (k, v) VALUES (%d, '%s'); ", k, big);
		buf_put_str(&b, "APPLY BATCH");
		buf_put_u8(&b, 0);
		struct cqlresult *r = query(at / 50 % 2 ? 2 : 1, CL_QUORUM, (const char *)b.data);
		CL_ASSERT(r->kind != CQLRES_ERROR, "batch: %s", r->error.message);
		cqlresult_free(r);
	}
	buf_release(&b);
	restart(3);
	/* measure in the middle of the replay, at the receiver */
	const char *m = "colonnade_hints_received_bytes_total";
	double v0;
	int64_t t0 = cluster_now_ms();
	while ((v0 = metric(3, m)) < 2.0 * 1024 * 1024 && cluster_now_ms() - t0 < 60000)
		usleep(100 * 1000);
	CL_ASSERT(v0 >= 2.0 * 1024 * 1024, "the replay did not start: %.0f bytes received", v0);
	measure_replay_rate(m, v0);
	CL_EXPECT(pending(1) > 0 && pending(2) > 0, "still replaying after the measure");

	/* the operator's switches on a replay in progress */
	char out[4096];
	for (int k = 1; k <= 2; k++) {
		const char *pause[] = {"pausehandoff", "-h", c->nodes[k].addr, NULL};
		run_cli(pause, out, sizeof(out));
	}
	/* the answers in flight come back: wait until neither count moved for 2 s */
	int64_t p1 = pending(1), p2 = pending(2);
	for (int64_t until = cluster_now_ms() + 30000;;) {
		sleep(2);
		int64_t q1 = pending(1), q2 = pending(2);
		if (q1 == p1 && q2 == p2)
			break;
		p1 = q1;
		p2 = q2;
		CL_ASSERT(cluster_now_ms() < until,
		          "paused, yet the pending hints still move: %lld/%lld", (long long)p1,
		          (long long)p2);
	}
	sleep(2);
	CL_EXPECT(pending(1) == p1 && pending(2) == p2, "paused: %lld/%lld then %lld/%lld",
	          (long long)p1, (long long)p2, (long long)pending(1), (long long)pending(2));
	const char *st[] = {"statushandoff", "-h", c->nodes[1].addr, NULL};
	run_cli(st, out, sizeof(out));
	CL_EXPECT(strstr(out, "Hint delivery is paused"), "%s", out);
	const char *list[] = {"listpendinghints", "-h", c->nodes[1].addr, NULL};
	run_cli(list, out, sizeof(out));
	CL_EXPECT(strstr(out, c->nodes[3].addr) && strstr(out, "Total hints"), "%s", out);
	const char *trunc[] = {"truncatehints", "-h", c->nodes[1].addr, c->nodes[3].addr, NULL};
	run_cli(trunc, out, sizeof(out));
	CL_EXPECT(pending(1) == 0, "truncated: %lld left", (long long)pending(1));
	char series[128];
	snprintf(series, sizeof(series), "colonnade_hints_dropped_total{reason=\"truncated\"}");
	CL_EXPECT(metric(1, series) == (double)p1, "truncated %.0f, had %lld", metric(1, series),
	          (long long)p1);
	const char *resume[] = {"resumehandoff", "-h", c->nodes[2].addr, NULL};
	run_cli(resume, out, sizeof(out));
	int hinting[] = {2};
	CL_EXPECT(wait_no_pending(hinting, 1, 60000) >= 0, "node 2 drains after resumehandoff");
	const char *info[] = {"info", "-h", c->nodes[2].addr, NULL};
	run_cli(info, out, sizeof(out));
	CL_EXPECT(strstr(out, "Pending hints") && strstr(out, ": 0 "), "%s", out);
}

/* ---- bad input --------------------------------------------------------------------------------
 */

Test(hints, corrupt_and_dropped_table_hints_are_skipped)
{
	start(3, NULL, NULL);
	schema_rf(1, "b", 3);
	ok(1, CL_ONE, "CREATE TABLE b.gone (k int PRIMARY KEY, v text)");
	int obs[] = {1, 2}, via[] = {1};
	kill_and_wait(3, obs, 2);
	write_rows("b", 0, 200, "bad", CL_QUORUM, via, 1, 50);
	for (int k = 0; k < 5; k++)
		ok(1, CL_QUORUM, "INSERT INTO b.gone (k, v) VALUES (%d, 'x')", k);
	ok(1, CL_ONE, "DROP TABLE b.gone");
	CL_ASSERT(pending(1) == 205, "node 1 holds %lld hints", (long long)pending(1));
	/* damage 3 stored hints while node 1 is down */
	stop(1);
	char helper[1024], cmd[2048], out[4096];
	snprintf(helper, sizeof(helper), "%s", c->bin);
	snprintf(cmd, sizeof(cmd), "%s/../tests/coordinator_helper_hintcorrupt %s/data 2 1 2>&1",
	         dirname(helper), c->nodes[1].dir);
	CL_ASSERT(run_prog(cmd, out, sizeof(out)) == 0 &&
	                  strstr(out, "damaged 2 truncated, 1 flipped"),
	          "%s: %s", cmd, out);
	restart(1);
	restart(3);
	int hinting[] = {1};
	CL_ASSERT(wait_no_pending(hinting, 1, 30000) >= 0, "every hint handled");
	CL_EXPECT(metric(1, "colonnade_hints_dropped_total{reason=\"corrupt\"}") == 3,
	          "corrupt: %.0f", metric(1, "colonnade_hints_dropped_total{reason=\"corrupt\"}"));
	CL_EXPECT(metric(1, "colonnade_hints_dropped_total{reason=\"unknown_table\"}") == 5,
	          "unknown_table: %.0f",
	          metric(1, "colonnade_hints_dropped_total{reason=\"unknown_table\"}"));
	CL_EXPECT(metric(1, "colonnade_hints_delivered_total") == 197, "delivered %.0f",
	          metric(1, "colonnade_hints_delivered_total"));
	CL_EXPECT(cluster_log_count(c, 1, "is unreadable") == 3, "each damaged hint logged");
	stop(1);
	stop(2);
	int match, other;
	read_rows(3, "b", 0, 200, "bad", &match, &other, NULL);
	CL_EXPECT(match == 197 && other == 0, "node 3 holds %d rows (%d others)", match, other);
}
