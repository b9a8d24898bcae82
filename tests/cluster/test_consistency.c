/*
 * Replicated reads and writes at every consistency level (issue 5
 * acceptance), on real `colonnade` processes (COLONNADE_BIN) on
 * COLONNADE_TEST_NET.x, driven over CQL from this process with
 * cli/lib/cqlclient.h, bound to the harness's client address (never a
 * node's, so partitions between nodes never cut the test off):
 *
 *  - availability (Cassandra dtest TestAvailability): SimpleStrategy RF=3 on
 *    3 and on 5 nodes, NetworkTopologyStrategy {dc1: 3, dc2: 3} on 2 x 3:
 *    for every level and every number of live replicas (nodes SIGKILLed),
 *    each write and each read succeeds or fails with Unavailable(required,
 *    alive) exactly as Cassandra's rules say — the expectation is computed
 *    here from those rules (expect()), not taken from the server's code;
 *  - accuracy (dtest TestAccuracy): for every pair of write and read levels
 *    whose acknowledged replica sets must intersect (found by enumerating
 *    every replica set each level can be satisfied by), a read through
 *    another coordinator returns the write — 1 DC and 2 DCs;
 *  - read repair: a replica SIGKILLed during a write (no hints exist) holds
 *    the new value, with the write's timestamp, after one QUORUM read, as
 *    `colonnade dump` on that node shows (and showed it stale before);
 *  - two datacenters partitioned apart (nftables): LOCAL_QUORUM writes and
 *    reads succeed in each DC, EACH_QUORUM and QUORUM fail with Unavailable;
 *    after healing, ALL reads see every write.
 *
 * ANY: no hint sink is configured in the node yet, so ANY behaves as ONE
 * (coordinator/replication/consistency.h, docs/REPLICATION.md); expect() says so.  Once
 * hints exist, a write at ANY succeeds with no live replica and expect()
 * must follow.
 */
#include "cli/lib/admin_client.h"
#include "cli/lib/cqlclient.h"
#include "core/buf.h"
#include "core/cqlproto.h"
#include "tests/cluster/harness/cluster.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUND_MS  50
#define START_MS  30000
#define DETECT_MS 15000

static struct cluster *c;
static struct cqlclient *conns[CLUSTER_MAX_NODES + 1];

#define CL_ASSERT(cond, ...)                                                                       \
	do {                                                                                       \
		bool ok_ = (cond);                                                                 \
		if (!ok_ && c)                                                                     \
			cluster_mark_failed(c);                                                    \
		cr_assert(ok_, __VA_ARGS__);                                                       \
	} while (0)
#define CL_EXPECT(cond, ...)                                                                       \
	do {                                                                                       \
		bool ok_ = (cond);                                                                 \
		if (!ok_ && c)                                                                     \
			cluster_mark_failed(c);                                                    \
		cr_expect(ok_, __VA_ARGS__);                                                       \
	} while (0)

static void drop_conn(int k)
{
	cqlclient_free(conns[k]);
	conns[k] = NULL;
}

static void fini(void)
{
	for (int k = 0; k <= CLUSTER_MAX_NODES; k++)
		drop_conn(k);
	cluster_free(c);
	c = NULL;
}

static void start(int n, const char *const *dcs)
{
	struct cluster_opts o = {.n = n, .gossip_interval_ms = ROUND_MS};
	for (int k = 0; dcs && k < n; k++)
		o.dcs[k] = dcs[k];
	cr_assert(cluster_new(&o, &c) == 0, "cannot start the cluster");
	for (int k = 1; k <= n; k++)
		CL_ASSERT(cluster_wait_admin(c, k, START_MS) >= 0, "node %d did not start", k);
	CL_ASSERT(cluster_wait_all_up(c, START_MS) >= 0, "not every node sees every node UN");
}

/* ---- CQL ------------------------------------------------------------------------------------ */

struct res {
	bool error;
	uint32_t code; /* CQL error code */
	int32_t required, alive;
	uint32_t rows;
	bool has_v;
	int32_t v; /* first row's v */
	char msg[300];
};

static const char *cl_name(uint16_t cl)
{
	static const char *const names[] = {"ANY",    "ONE",          "TWO",          "THREE",
	                                    "QUORUM", "ALL",          "LOCAL_QUORUM", "EACH_QUORUM",
	                                    "SERIAL", "LOCAL_SERIAL", "LOCAL_ONE"};
	return cl < sizeof(names) / sizeof(names[0]) ? names[cl] : "?";
}

/* Run one statement on node k at level cl (timestamp ts µs, or CQL_NO_TIMESTAMP). */
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
	struct cerr e = {0};
	if (!conns[k]) {
		struct cqlconn_opts o = {.bind_host = c->client_addr, .request_timeout_ms = 30000};
		CL_ASSERT(cqlclient_connect(c->nodes[k].addr, 9042, &o, &conns[k], &e) == 0,
		          "node %d: %s", k, e.msg);
	}
	struct cql_qparams p;
	cql_qparams_init(&p);
	p.consistency = cl;
	p.timestamp = ts;
	struct cqlresult *r = NULL;
	int rc = cqlclient_query(conns[k], stmt, &p, &r, &e);
	CL_ASSERT(rc == 0, "node %d: %s: %s", k, stmt, e.msg);
	if (r->kind == CQLRES_ERROR) {
		out->error = true;
		out->code = r->error.code;
		out->required = r->error.required;
		out->alive = r->error.alive;
		snprintf(out->msg, sizeof(out->msg), "%.290s", r->error.message);
	} else if (r->kind == CQLRES_ROWS) {
		out->rows = r->n_rows;
		int col = cqlresult_column(r, "v");
		if (r->n_rows && col >= 0) {
			const struct cql_slice *s = cqlresult_cell(r, 0, (uint32_t)col);
			if (s->len == 4) {
				out->has_v = true;
				out->v = (int32_t)be32_load(s->p);
			}
		}
	}
	cqlresult_free(r);
}

static void cql_ok(int k, const char *stmt)
{
	struct res r;
	cql(k, CL_ONE, CQL_NO_TIMESTAMP, &r, "%s", stmt);
	CL_ASSERT(!r.error, "node %d: %s: error 0x%04x %s", k, stmt, r.code, r.msg);
}

/* ---- Cassandra's rules ---------------------------------------------------------------------- */

/* Replication and liveness as the coordinator sees them: up to 2 DCs. */
struct topo {
	bool nts;    /* NetworkTopologyStrategy (else SimpleStrategy, all nodes in dc1) */
	int n_dcs;   /* 1 or 2 */
	int rf[2];   /* per DC (SimpleStrategy: rf[0]) */
	int live[2]; /* live replicas per DC */
	int local;   /* the coordinator's DC index */
};

enum outcome { OK, UNAVAILABLE, INVALID };

static int quorum(int rf)
{
	return rf / 2 + 1;
}

/*
 * What Cassandra answers (ConsistencyLevel.blockFor / assureSufficientLiveReplicas /
 * validateForRead).  For UNAVAILABLE, *req and *alive are the expected error
 * fields; for EACH_QUORUM under NTS, those of the first DC short of a quorum
 * (*any_dc set: the test accepts any DC that is short).
 */
static enum outcome expect(uint16_t cl, bool write, const struct topo *t, int *req, int *alive,
                           bool *any_dc)
{
	int rft = 0, livet = 0;
	for (int d = 0; d < t->n_dcs; d++) {
		rft += t->rf[d];
		livet += t->live[d];
	}
	*any_dc = false;
	int need = 0, have = livet;
	switch (cl) {
	case CL_ANY:
		if (!write)
			return INVALID; /* "ANY ConsistencyLevel is only supported for writes" */
		need = 1;               /* no hints yet: as ONE (see the file comment) */
		break;
	case CL_ONE: need = 1; break;
	case CL_TWO: need = 2; break;
	case CL_THREE: need = 3; break;
	case CL_QUORUM: need = quorum(rft); break;
	case CL_ALL: need = rft; break;
	case CL_LOCAL_ONE:
		need = 1;
		have = t->live[t->local];
		break;
	case CL_LOCAL_QUORUM:
		need = quorum(t->nts ? t->rf[t->local] : rft);
		have = t->live[t->local];
		break;
	case CL_EACH_QUORUM:
		if (!t->nts) {
			need = quorum(rft); /* other strategies: as QUORUM */
			break;
		}
		for (int d = 0; d < t->n_dcs; d++) {
			if (t->live[d] < quorum(t->rf[d])) {
				*req = quorum(t->rf[d]);
				*alive = t->live[d];
				*any_dc = true;
				return UNAVAILABLE;
			}
		}
		return OK;
	default: return INVALID;
	}
	if (have >= need)
		return OK;
	*req = need;
	*alive = have;
	return UNAVAILABLE;
}

static const uint16_t LEVELS[] = {CL_ANY, CL_ONE,       CL_TWO,          CL_THREE,      CL_QUORUM,
                                  CL_ALL, CL_LOCAL_ONE, CL_LOCAL_QUORUM, CL_EACH_QUORUM};
#define N_LEVELS (sizeof(LEVELS) / sizeof(LEVELS[0]))

/*
 * Check one write and one read at every level (level i on keys[i]) through
 * node `coord`, under topology t.  Returns the number of requests checked.
 */
static int check_levels(const char *ks, int coord, const struct topo *t, const int *keys)
{
	int checked = 0;
	for (size_t i = 0; i < N_LEVELS; i++) {
		uint16_t cl = LEVELS[i];
		int key = keys[i];
		for (int w = 1; w >= 0; w--) {
			int req = 0, alive = 0;
			bool any_dc = false;
			enum outcome want = expect(cl, w, t, &req, &alive, &any_dc);
			struct res r;
			if (w)
				cql(coord, cl, CQL_NO_TIMESTAMP, &r,
				    "INSERT INTO %s.t (k, v) VALUES (%d, %d)", ks, key, key);
			else
				cql(coord, cl, CQL_NO_TIMESTAMP, &r,
				    "SELECT v FROM %s.t WHERE k = %d", ks, key);
			char state[96];
			if (t->n_dcs > 1)
				snprintf(state, sizeof(state), "live dc1=%d dc2=%d", t->live[0],
				         t->live[1]);
			else
				snprintf(state, sizeof(state), "%d live replicas", t->live[0]);
			const char *op = w ? "write" : "read";
			if (want == OK) {
				CL_EXPECT(!r.error,
				          "%s %s at %s via node %d (%s): want success, got "
				          "0x%04x %s",
				          ks, op, cl_name(cl), coord, state, r.code, r.msg);
			} else if (want == INVALID) {
				CL_EXPECT(r.error && r.code == CQL_ERR_INVALID,
				          "%s %s at %s (%s): want Invalid, got %s 0x%04x %s", ks,
				          op, cl_name(cl), state, r.error ? "error" : "success",
				          r.code, r.msg);
			} else {
				CL_EXPECT(r.error && r.code == CQL_ERR_UNAVAILABLE,
				          "%s %s at %s via node %d (%s): want Unavailable(%d, %d), "
				          "got "
				          "%s 0x%04x %s",
				          ks, op, cl_name(cl), coord, state, req, alive,
				          r.error ? "error" : "success", r.code, r.msg);
				if (r.error && r.code == CQL_ERR_UNAVAILABLE && !any_dc)
					CL_EXPECT(r.required == req && r.alive == alive,
					          "%s %s at %s (%s): Unavailable(required %d, "
					          "alive %d), "
					          "want (%d, %d)",
					          ks, op, cl_name(cl), state, r.required, r.alive,
					          req, alive);
				if (r.error && r.code == CQL_ERR_UNAVAILABLE && any_dc) {
					/* EACH_QUORUM: some DC is short: required is its quorum */
					bool short_dc = false;
					for (int d = 0; d < t->n_dcs; d++)
						short_dc |= r.required == quorum(t->rf[d]) &&
						            r.alive == t->live[d] &&
						            t->live[d] < quorum(t->rf[d]);
					CL_EXPECT(short_dc,
					          "%s %s at EACH_QUORUM (%s): Unavailable(%d, %d) "
					          "names "
					          "no DC short of a quorum",
					          ks, op, state, r.required, r.alive);
				}
			}
			checked++;
		}
	}
	return checked;
}

static void kill_and_wait(int victim, int observer)
{
	drop_conn(victim);
	CL_ASSERT(cluster_kill(c, victim) == 0, "SIGKILL node %d", victim);
	int obs[] = {observer}, tg[] = {victim};
	CL_ASSERT(cluster_wait_status(c, obs, 1, tg, 1, "DN", DETECT_MS) >= 0,
	          "node %d does not see node %d DN", observer, victim);
}

/* The replicas of key k of ks.t as node `asker` places them: node numbers. */
static int replicas_of(int asker, const char *ks, int key, int *out, int max)
{
	char path[200];
	snprintf(path, sizeof(path), "/v1/endpoints?keyspace=%s&table=t&key=%d", ks, key);
	struct json *j = cluster_admin(c, asker, path);
	CL_ASSERT(j != NULL, "node %d: no answer from /v1/endpoints", asker);
	const struct json *eps = json_get(j, "endpoints");
	int n = 0;
	for (size_t i = 0; i < json_len(eps) && n < max; i++) {
		const char *a = json_str(json_at(eps, i), "");
		for (int k = 1; k <= c->n; k++)
			if (!strcmp(c->nodes[k].addr, a))
				out[n++] = k;
	}
	json_free(j);
	return n;
}

/* ---- availability --------------------------------------------------------------------------- */

/* SimpleStrategy RF=3 on n nodes: kill the replicas of one key but the coordinator's. */
static void availability_simple(int n)
{
	start(n, NULL);
	cql_ok(1, "CREATE KEYSPACE av WITH replication = {'class': 'SimpleStrategy', "
	          "'replication_factor': 3}");
	cql_ok(1, "CREATE TABLE av.t (k int PRIMARY KEY, v int)");
	/*
	 * On 3 nodes every key has every node as replica; on 5, the checks use
	 * only keys whose replicas are those of key 1000 (the nodes killed).
	 */
	int reps[8];
	CL_ASSERT(replicas_of(1, "av", 1000, reps, 8) == 3, "3 replicas for key 1000");
	/* Coordinator: a non-replica when there is one (routing), else replica reps[0]. */
	int coord = reps[0];
	for (int k = 1; k <= n; k++) {
		bool is_rep = false;
		for (int i = 0; i < 3; i++)
			is_rep |= reps[i] == k;
		if (!is_rep) {
			coord = k;
			break;
		}
	}
	/* Keys with exactly this replica set, for each (state, level) pair. */
	int keys[4 * N_LEVELS], n_keys = 0;
	for (int key = 0; key < 20000 && n_keys < 4 * (int)N_LEVELS; key++) {
		int r2[8];
		if (replicas_of(coord, "av", key, r2, 8) != 3)
			continue;
		int same = 0;
		for (int i = 0; i < 3; i++)
			for (int m = 0; m < 3; m++)
				same += r2[i] == reps[m];
		if (same == 3)
			keys[n_keys++] = key;
	}
	CL_ASSERT(n_keys == 4 * (int)N_LEVELS, "found only %d keys on the same replicas", n_keys);
	struct topo t = {.nts = false, .n_dcs = 1, .rf = {3}, .live = {3}, .local = 0};
	int checked = 0;
	int killable[3], n_killable = 0;
	for (int i = 0; i < 3; i++)
		if (reps[i] != coord)
			killable[n_killable++] = reps[i];
	/* SERIAL and LOCAL_SERIAL: Invalid until lightweight transactions exist. */
	const uint16_t serial[] = {CL_SERIAL, CL_LOCAL_SERIAL};
	for (int i = 0; i < 2; i++) {
		struct res r;
		cql(coord, serial[i], CQL_NO_TIMESTAMP, &r,
		    "INSERT INTO av.t (k, v) VALUES (1, 1)");
		CL_EXPECT(r.error && r.code == CQL_ERR_INVALID,
		          "write at %s: want Invalid, got 0x%04x %s", cl_name(serial[i]), r.code,
		          r.error ? r.msg : "success");
		cql(coord, serial[i], CQL_NO_TIMESTAMP, &r, "SELECT v FROM av.t WHERE k = 1");
		CL_EXPECT(r.error && r.code == CQL_ERR_INVALID,
		          "read at %s: want Invalid, got 0x%04x %s", cl_name(serial[i]), r.code,
		          r.error ? r.msg : "success");
		checked += 2;
	}
	for (int state = 0;; state++) {
		int lk[N_LEVELS];
		for (size_t i = 0; i < N_LEVELS; i++)
			lk[i] = keys[(state * (int)N_LEVELS + (int)i) % n_keys];
		checked += check_levels("av", coord, &t, lk);
		if (state >= n_killable)
			break;
		kill_and_wait(killable[state], coord);
		t.live[0]--;
	}
	cr_log_info("availability SimpleStrategy RF=3 on %d nodes via node %d: %d requests", n,
	            coord, checked);
	fprintf(stderr, "availability SimpleStrategy RF=3 on %d nodes via node %d: %d requests\n",
	        n, coord, checked);
}

Test(consistency, availability_simple_rf3_3_nodes, .fini = fini, .timeout = 600)
{
	availability_simple(3);
}

Test(consistency, availability_simple_rf3_5_nodes, .fini = fini, .timeout = 600)
{
	availability_simple(5);
}

static const char *const DCS6[] = {"dc1", "dc1", "dc1", "dc2", "dc2", "dc2"};

Test(consistency, availability_nts_2x3, .fini = fini, .timeout = 600)
{
	start(6, DCS6);
	cql_ok(1, "CREATE KEYSPACE av WITH replication = {'class': 'NetworkTopologyStrategy', "
	          "'dc1': 3, 'dc2': 3}");
	cql_ok(1, "CREATE TABLE av.t (k int PRIMARY KEY, v int)");
	struct topo t = {.nts = true, .n_dcs = 2, .rf = {3, 3}, .live = {3, 3}, .local = 0};
	/* Coordinator node 1 (dc1).  Kill dc2 down to nothing, then dc1 down to node 1. */
	const int order[] = {4, 5, 6, 2, 3};
	int checked = 0;
	for (int s = 0;; s++) {
		int lk[N_LEVELS];
		for (size_t i = 0; i < N_LEVELS; i++)
			lk[i] = 100 * s + (int)i;
		checked += check_levels("av", 1, &t, lk);
		if (s == 5)
			break;
		kill_and_wait(order[s], 1);
		t.live[order[s] >= 4 ? 1 : 0]--;
	}
	cr_log_info("availability NTS {dc1: 3, dc2: 3} via node 1: %d requests", checked);
	fprintf(stderr, "availability NTS {dc1: 3, dc2: 3} via node 1: %d requests\n", checked);
}

/* ---- accuracy ------------------------------------------------------------------------------- */

/*
 * May `set` (bit i = replica i, replicas of DC d at dc_of[i]) be all the
 * replicas holding a write acknowledged at cl through a coordinator in DC `cd`?
 */
static bool satisfies(uint16_t cl, unsigned set, const struct topo *t, const int *dc_of, int n,
                      int cd)
{
	int total = 0, in[2] = {0, 0}, rft = t->rf[0] + (t->n_dcs > 1 ? t->rf[1] : 0);
	for (int i = 0; i < n; i++)
		if (set & (1u << i)) {
			total++;
			in[dc_of[i]]++;
		}
	switch (cl) {
	case CL_ANY:
	case CL_ONE: return total >= 1;
	case CL_TWO: return total >= 2;
	case CL_THREE: return total >= 3;
	case CL_QUORUM: return total >= quorum(rft);
	case CL_ALL: return total >= rft;
	case CL_LOCAL_ONE: return in[cd] >= 1;
	case CL_LOCAL_QUORUM: return in[cd] >= quorum(t->nts ? t->rf[cd] : rft);
	case CL_EACH_QUORUM:
		if (!t->nts)
			return total >= quorum(rft);
		for (int d = 0; d < t->n_dcs; d++)
			if (in[d] < quorum(t->rf[d]))
				return false;
		return true;
	default: return false;
	}
}

/* Must every replica set satisfying W (coordinator DC cw) meet every one satisfying R (cr)? */
static bool must_overlap(uint16_t w, int cw, uint16_t r, int cr, const struct topo *t)
{
	int dc_of[8], n = 0;
	for (int d = 0; d < t->n_dcs; d++)
		for (int i = 0; i < t->rf[d]; i++)
			dc_of[n++] = d;
	for (unsigned a = 1; a < (1u << n); a++) {
		if (!satisfies(w, a, t, dc_of, n, cw))
			continue;
		for (unsigned b = 1; b < (1u << n); b++)
			if (satisfies(r, b, t, dc_of, n, cr) && !(a & b))
				return false;
	}
	return true;
}

/*
 * For every (W, R) pair whose sets must overlap, and each coordinator pair
 * (writer, reader) given, write a new value and read it back.
 */
static void accuracy(const char *ks, const struct topo *t, const int (*pairs)[2], int n_pairs,
                     const int *dc_of_node)
{
	int checked = 0, skipped = 0, key = 0;
	for (int p = 0; p < n_pairs; p++) {
		int wn = pairs[p][0], rn = pairs[p][1];
		for (size_t i = 0; i < N_LEVELS; i++) {
			for (size_t j = 1; j < N_LEVELS; j++) { /* reads: no ANY */
				uint16_t w = LEVELS[i], r = LEVELS[j];
				if (!must_overlap(w, dc_of_node[wn], r, dc_of_node[rn], t)) {
					skipped++;
					continue;
				}
				key++;
				struct res res;
				cql(wn, w, CQL_NO_TIMESTAMP, &res,
				    "INSERT INTO %s.t (k, v) VALUES (%d, %d)", ks, key, 1000 + key);
				CL_EXPECT(!res.error, "write at %s via node %d: 0x%04x %s",
				          cl_name(w), wn, res.code, res.msg);
				cql(rn, r, CQL_NO_TIMESTAMP, &res,
				    "SELECT v FROM %s.t WHERE k = %d", ks, key);
				CL_EXPECT(!res.error && res.has_v && res.v == 1000 + key,
				          "write at %s via node %d, read at %s via node %d: got %s "
				          "%d "
				          "(error 0x%04x %s), want %d",
				          cl_name(w), wn, cl_name(r), rn,
				          res.has_v ? "value" : "no value", res.v, res.code,
				          res.msg, 1000 + key);
				checked++;
			}
		}
	}
	CL_ASSERT(checked > 0, "no level pair checked");
	cr_log_info("accuracy %s: %d write/read pairs checked, %d pairs skipped (no overlap)", ks,
	            checked, skipped);
	fprintf(stderr, "accuracy %s: %d write/read pairs checked, %d skipped (no overlap)\n", ks,
	        checked, skipped);
}

Test(consistency, accuracy_one_dc, .fini = fini, .timeout = 600)
{
	start(3, NULL);
	cql_ok(1, "CREATE KEYSPACE acc WITH replication = {'class': 'SimpleStrategy', "
	          "'replication_factor': 3}");
	cql_ok(1, "CREATE TABLE acc.t (k int PRIMARY KEY, v int)");
	struct topo t = {.nts = false, .n_dcs = 1, .rf = {3}, .live = {3}, .local = 0};
	const int pairs[][2] = {{1, 2}, {2, 3}, {3, 1}};
	const int dc_of[] = {0, 0, 0, 0};
	accuracy("acc", &t, pairs, 3, dc_of);
}

/* ---- read repair ---------------------------------------------------------------------------- */

/* `colonnade dump ks t key -h node k --json`: the value and timestamp of cell v. */
static int dump_v(int k, const char *ks, int key, char *val, size_t cap, int64_t *ts)
{
	char keytext[24];
	snprintf(keytext, sizeof(keytext), "%d", key);
	const char *args[] = {"dump", ks, "t", keytext, "-h", c->nodes[k].addr, "--json", NULL};
	char out[16384];
	int status = -1;
	if (cluster_run(c, args, NULL, out, sizeof(out), 10000, &status) != 0 || status != 0) {
		fprintf(stderr, "colonnade dump on node %d: status %d: %s\n", k, status, out);
		return -1;
	}
	struct json *j = NULL;
	struct cerr e = {0};
	if (json_parse(out, strlen(out), &j, &e)) {
		fprintf(stderr, "colonnade dump --json: %s: %s\n", e.msg, out);
		return -1;
	}
	val[0] = 0;
	*ts = 0;
	const struct json *rows = json_get(j, "rows");
	for (size_t i = 0; i < json_len(rows); i++) {
		const struct json *cells = json_get(json_at(rows, i), "cells");
		for (size_t m = 0; m < json_len(cells); m++) {
			const struct json *cell = json_at(cells, m);
			if (strcmp(json_str(json_get(cell, "name"), ""), "v") != 0)
				continue;
			snprintf(val, cap, "%s", json_str(json_get(cell, "value"), "(null)"));
			*ts = json_int(json_get(cell, "tstamp"), 0);
		}
	}
	json_free(j);
	return 0;
}

Test(consistency, read_repair_after_missed_write, .fini = fini, .timeout = 600)
{
	start(3, NULL);
	cql_ok(1, "CREATE KEYSPACE rr WITH replication = {'class': 'SimpleStrategy', "
	          "'replication_factor': 3}");
	cql_ok(1, "CREATE TABLE rr.t (k int PRIMARY KEY, v int)");
	const int64_t t1 = 1700000000000000, t2 = 1700000000000001 + 1000;
	struct res r;
	cql(1, CL_ALL, t1, &r, "INSERT INTO rr.t (k, v) VALUES (7, 1)");
	CL_ASSERT(!r.error, "write at ALL: %s", r.msg);
	char val[64];
	int64_t ts = 0;
	CL_ASSERT(dump_v(3, "rr", 7, val, sizeof(val), &ts) == 0, "dump on node 3");
	CL_ASSERT(!strcmp(val, "1") && ts == t1, "node 3 holds v=1 at %lld, shows '%s' at %lld",
	          (long long)t1, val, (long long)ts);

	/* Node 3 misses the second write (no hints exist), then comes back. */
	kill_and_wait(3, 1);
	cql(1, CL_QUORUM, t2, &r, "INSERT INTO rr.t (k, v) VALUES (7, 2)");
	CL_ASSERT(!r.error, "write at QUORUM with node 3 down: %s", r.msg);
	CL_ASSERT(cluster_start_node(c, 3) == 0, "restart node 3");
	CL_ASSERT(cluster_wait_admin(c, 3, START_MS) >= 0, "node 3 back");
	CL_ASSERT(cluster_wait_all_up(c, START_MS) >= 0, "all UN after the restart");
	CL_ASSERT(dump_v(3, "rr", 7, val, sizeof(val), &ts) == 0, "dump on node 3");
	CL_ASSERT(!strcmp(val, "1") && ts == t1,
	          "node 3 must still be stale (v=1 at %lld) before the read, shows '%s' at %lld",
	          (long long)t1, val, (long long)ts);
	for (int k = 1; k <= 2; k++) {
		CL_ASSERT(dump_v(k, "rr", 7, val, sizeof(val), &ts) == 0, "dump on node %d", k);
		CL_ASSERT(!strcmp(val, "2") && ts == t2, "node %d holds v=2, shows '%s'", k, val);
	}

	/*
	 * One QUORUM read through node 3: it reads its own (stale) data and a
	 * digest from another replica, sees the mismatch, resolves and writes
	 * the newest cell back before answering.
	 */
	cql(3, CL_QUORUM, CQL_NO_TIMESTAMP, &r, "SELECT v FROM rr.t WHERE k = 7");
	CL_ASSERT(!r.error && r.has_v && r.v == 2, "QUORUM read via node 3: v=%d (%s)", r.v,
	          r.error ? r.msg : "ok");
	CL_ASSERT(dump_v(3, "rr", 7, val, sizeof(val), &ts) == 0, "dump on node 3");
	CL_EXPECT(!strcmp(val, "2") && ts == t2,
	          "after one QUORUM read node 3 must hold v=2 at %lld, shows '%s' at %lld",
	          (long long)t2, val, (long long)ts);
	/* the readable form says the same */
	const char *args[] = {"dump", "rr", "t", "7", "-h", c->nodes[3].addr, NULL};
	char out[4096];
	int status = -1;
	CL_ASSERT(cluster_run(c, args, NULL, out, sizeof(out), 10000, &status) == 0 && status == 0,
	          "colonnade dump rr t 7 -h node 3: %s", out);
	CL_EXPECT(strstr(out, "\n  row\n"), "dump shows the row: %s", out);
	CL_EXPECT(strstr(out, "    v = 2  written ") && strstr(out, "(1700000000001001)"),
	          "dump shows v = 2 with the write's timestamp: %s", out);
}

/* ---- two datacenters: accuracy, partition, heal ---------------------------------------------- */

Test(consistency, two_dcs_accuracy_partition_heal, .fini = fini, .timeout = 600)
{
	start(6, DCS6);
	cql_ok(1, "CREATE KEYSPACE md WITH replication = {'class': 'NetworkTopologyStrategy', "
	          "'dc1': 3, 'dc2': 3}");
	cql_ok(1, "CREATE TABLE md.t (k int PRIMARY KEY, v int)");
	struct topo t = {.nts = true, .n_dcs = 2, .rf = {3, 3}, .live = {3, 3}, .local = 0};
	const int pairs[][2] = {{1, 2}, {1, 4}, {5, 3}, {4, 6}};
	const int dc_of[] = {0, 0, 0, 0, 1, 1, 1};
	accuracy("md", &t, pairs, 4, dc_of);

	/* Partition dc1 {1,2,3} from dc2 {4,5,6}. */
	const int a[] = {1, 2, 3}, b[] = {4, 5, 6};
	CL_ASSERT(cluster_partition(c, a, 3, b, 3) == 0, "partition the DCs");
	CL_ASSERT(cluster_wait_status(c, a, 3, b, 3, "DN", DETECT_MS) >= 0, "dc1 sees dc2 DN");
	CL_ASSERT(cluster_wait_status(c, b, 3, a, 3, "DN", DETECT_MS) >= 0, "dc2 sees dc1 DN");
	const int coords[] = {1, 4};
	int written = 0;
	for (int ci = 0; ci < 2; ci++) {
		int k = coords[ci];
		for (int i = 0; i < 5; i++) {
			int key = 5000 + ci * 100 + i;
			struct res r;
			cql(k, CL_LOCAL_QUORUM, CQL_NO_TIMESTAMP, &r,
			    "INSERT INTO md.t (k, v) VALUES (%d, %d)", key, key);
			CL_EXPECT(!r.error,
			          "partitioned: LOCAL_QUORUM write via node %d: 0x%04x %s", k,
			          r.code, r.msg);
			written += !r.error;
			cql(k, CL_LOCAL_QUORUM, CQL_NO_TIMESTAMP, &r,
			    "SELECT v FROM md.t WHERE k = %d", key);
			CL_EXPECT(!r.error && r.has_v && r.v == key,
			          "partitioned: LOCAL_QUORUM read via node %d: %s", k,
			          r.error ? r.msg : "wrong or no value");
		}
		const uint16_t fail[] = {CL_EACH_QUORUM, CL_QUORUM};
		for (int f = 0; f < 2; f++) {
			struct res r;
			cql(k, fail[f], CQL_NO_TIMESTAMP, &r,
			    "INSERT INTO md.t (k, v) VALUES (1, 1)");
			CL_EXPECT(
			        r.error && r.code == CQL_ERR_UNAVAILABLE,
			        "partitioned: %s write via node %d must be Unavailable, got 0x%04x "
			        "%s",
			        cl_name(fail[f]), k, r.code, r.error ? r.msg : "success");
			cql(k, fail[f], CQL_NO_TIMESTAMP, &r, "SELECT v FROM md.t WHERE k = 1");
			CL_EXPECT(
			        r.error && r.code == CQL_ERR_UNAVAILABLE,
			        "partitioned: %s read via node %d must be Unavailable, got 0x%04x "
			        "%s",
			        cl_name(fail[f]), k, r.code, r.error ? r.msg : "success");
		}
	}
	CL_ASSERT(cluster_heal(c) == 0, "heal");
	CL_ASSERT(cluster_wait_all_up(c, START_MS) >= 0, "all UN after healing");
	int seen = 0;
	for (int ci = 0; ci < 2; ci++)
		for (int i = 0; i < 5; i++) {
			int key = 5000 + ci * 100 + i;
			int k = ci ? 2 : 5; /* read through the other DC */
			struct res r;
			cql(k, CL_ALL, CQL_NO_TIMESTAMP, &r, "SELECT v FROM md.t WHERE k = %d",
			    key);
			CL_EXPECT(!r.error && r.has_v && r.v == key,
			          "healed: ALL read of key %d via node %d: %s", key, k,
			          r.error ? r.msg : "wrong or no value");
			seen += !r.error && r.has_v && r.v == key;
		}
	cr_log_info("partitioned: %d LOCAL_QUORUM writes; healed: %d seen at ALL", written, seen);
	fprintf(stderr, "partitioned: %d LOCAL_QUORUM writes; healed: %d seen at ALL\n", written,
	        seen);
}
