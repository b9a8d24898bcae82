/*
 * Replicated reads and writes at every consistency level, on real `colonnade`
 * processes (COLONNADE_BIN) on COLONNADE_TEST_NET.x, driven over CQL from this
 * process (cluster_test.h: connections bound to the harness's client address,
 * never a node's, so partitions between nodes never cut the test off):
 *
 *  - availability (Cassandra dtest TestAvailability): SimpleStrategy RF=3 on
 *    3 and on 5 nodes, NetworkTopologyStrategy {dc1: 3, dc2: 3} on 2 x 3:
 *    for every level and every number of live replicas (nodes SIGKILLed and
 *    seen DN), each write and each read succeeds or fails with
 *    Unavailable(required, alive) exactly as Cassandra's rules say;
 *    SERIAL/LOCAL_SERIAL requests and reads at ANY are Invalid;
 *  - accuracy (dtest TestAccuracy): for every pair of write and read levels
 *    whose acknowledged replica sets must intersect (found by enumerating
 *    every replica set each level can be satisfied by), a read through
 *    another coordinator returns the write — 1 DC and 2 DCs, same and other DC;
 *  - read repair: a replica SIGKILLed during a write (hinted handoff disabled) holds
 *    the new value, with the write's timestamp, after one QUORUM read, as
 *    `colonnade dump` on that node shows (and showed it stale before);
 *  - two datacenters partitioned apart (nftables): LOCAL_QUORUM writes and
 *    reads succeed in each DC, EACH_QUORUM and QUORUM fail with Unavailable;
 *    after healing, ALL reads through the other DC see every write.
 *
 * The expectations are computed here from Cassandra's rules (expect(),
 * satisfies()), not taken from the server's code, over a topology that is
 * derived, not written down: the replicas of the key as the coordinator
 * places them (/v1/endpoints), grouped by their nodes' datacenters, the
 * running ones counted live, and the strategy read from
 * system_schema.keyspaces (topo_of()).
 */
#include "core/buf.h"
#include "core/cqlproto.h"
#include "tests/cluster/harness/cluster_test.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Live replicas a write at ANY needs: 0.  The node stores hints
 * (docs/HINTS.md), and a durably stored hint on the coordinator acknowledges a
 * write at ANY, so it succeeds with no live replica (Cassandra's ANY).
 * expect() and satisfies() follow this one number.
 */
#define ANY_WRITE_NEEDS_LIVE 0

static struct cluster *c;

static void start(int n, const char *const *dcs)
{
	struct cluster_opts o = {.n = n};
	for (int k = 0; dcs && k < n; k++)
		o.dcs[k] = dcs[k];
	c = cluster_test_start(&o, true);
}

/* ---- CQL ------------------------------------------------------------------------------------ */

struct res {
	bool error;
	uint32_t code; /* CQL error code */
	int32_t required, alive;
	int32_t received;    /* timeouts and failures */
	bool data_present;   /* read timeouts */
	char write_type[24]; /* write timeouts */
	uint32_t rows;
	bool has_v;
	int32_t v; /* first row's v */
	char msg[300];
};

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
	struct cqlresult *r = cluster_test_query(c, cluster_test_conn(c, k), cl, ts, stmt);
	if (r->kind == CQLRES_ERROR) {
		out->error = true;
		out->code = r->error.code;
		out->required = r->error.required;
		out->alive = r->error.alive;
		out->received = r->error.received;
		out->data_present = r->error.data_present;
		snprintf(out->write_type, sizeof(out->write_type), "%s",
		         r->error.write_type ? r->error.write_type : "");
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
	cluster_test_ok(c, cluster_test_conn(c, k), CL_ONE, stmt);
}

static const char *cl_name(uint16_t cl)
{
	const char *name = cql_consistency_name(cl);
	return name ? name : "?";
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
		need = ANY_WRITE_NEEDS_LIVE;
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

/* ---- the topology, derived ------------------------------------------------------------------ */

/* Node k's datacenter as an index: datacenters numbered in the order nodes 1..n name them. */
static int dc_index(int k)
{
	const char *names[2];
	int n = 0;
	for (int j = 1; j <= c->n; j++) {
		int d = 0;
		while (d < n && strcmp(names[d], c->nodes[j].dc) != 0)
			d++;
		if (d == n) {
			CLUSTER_ASSERT(c, n < 2, "more than 2 datacenters: %s", c->nodes[j].dc);
			names[n++] = c->nodes[j].dc;
		}
		if (j == k)
			return d;
	}
	CLUSTER_ASSERT(c, false, "no node %d", k);
	return 0;
}

static int n_datacenters(void)
{
	int n = 0;
	for (int k = 1; k <= c->n; k++)
		if (dc_index(k) + 1 > n)
			n = dc_index(k) + 1;
	return n;
}

/* Is keyspace ks NetworkTopologyStrategy (system_schema.keyspaces, read through node k)? */
static bool keyspace_is_nts(int k, const char *ks)
{
	char q[160];
	snprintf(q, sizeof(q),
	         "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = '%s'", ks);
	struct cqlresult *r =
	        cluster_test_query(c, cluster_test_conn(c, k), CL_ONE, CQL_NO_TIMESTAMP, q);
	bool found = r->kind == CQLRES_ROWS && r->n_rows == 1;
	const char cls[] = "NetworkTopologyStrategy";
	bool nts = false;
	if (found) {
		const struct cql_slice *v = cqlresult_cell(r, 0, 0);
		nts = v->len > 0 && memmem(v->p, (size_t)v->len, cls, sizeof(cls) - 1);
	}
	cqlresult_free(r);
	CLUSTER_ASSERT(c, found, "keyspace %s is not in system_schema.keyspaces", ks);
	return nts;
}

/* The replicas of key `key` of ks.t as node `asker` places them: node numbers. */
static int replicas_of(int asker, const char *ks, int key, int *out, int max)
{
	char text[24];
	snprintf(text, sizeof(text), "%d", key);
	return cluster_test_replicas(c, asker, ks, "t", text, out, max);
}

/*
 * What coordinator `coord` faces for `key` of ks.t: the key's replicas as it
 * places them, counted per datacenter (SimpleStrategy: all in one), the ones
 * whose process runs counted live (cluster_test_kill returns once `coord` sees
 * a killed node DN), and coord's own datacenter.
 */
static void topo_of(const char *ks, int key, int coord, struct topo *t)
{
	memset(t, 0, sizeof(*t));
	t->nts = keyspace_is_nts(coord, ks);
	t->n_dcs = t->nts ? n_datacenters() : 1;
	t->local = t->nts ? dc_index(coord) : 0;
	int reps[CLUSTER_MAX_NODES];
	int n = replicas_of(coord, ks, key, reps, CLUSTER_MAX_NODES);
	CLUSTER_ASSERT(c, n > 0, "node %d names no replica for key %d of %s.t", coord, key, ks);
	for (int i = 0; i < n; i++) {
		int d = t->nts ? dc_index(reps[i]) : 0;
		t->rf[d]++;
		t->live[d] += c->nodes[reps[i]].pid > 0;
	}
}

static void describe(const struct topo *t, char *out, size_t cap)
{
	if (t->n_dcs > 1)
		snprintf(out, cap, "live dc1=%d/%d dc2=%d/%d", t->live[0], t->rf[0], t->live[1],
		         t->rf[1]);
	else
		snprintf(out, cap, "%d of %d replicas live", t->live[0], t->rf[0]);
}

/* ---- availability --------------------------------------------------------------------------- */

/* A write (w) or read of `key` at cl through coord answers as Cassandra's rules say for t. */
static void check_request(const char *ks, int coord, uint16_t cl, bool w, int key,
                          const struct topo *t)
{
	int req = 0, alive = 0;
	bool any_dc = false;
	enum outcome want = expect(cl, w, t, &req, &alive, &any_dc);
	struct res r;
	if (w)
		cql(coord, cl, CQL_NO_TIMESTAMP, &r, "INSERT INTO %s.t (k, v) VALUES (%d, %d)", ks,
		    key, key);
	else
		cql(coord, cl, CQL_NO_TIMESTAMP, &r, "SELECT v FROM %s.t WHERE k = %d", ks, key);
	char state[96];
	describe(t, state, sizeof(state));
	const char *op = w ? "write" : "read";
	if (want == OK) {
		CLUSTER_EXPECT(c, !r.error,
		               "%s %s at %s via node %d (%s): want success, got 0x%04x %s", ks, op,
		               cl_name(cl), coord, state, r.code, r.msg);
		return;
	}
	if (want == INVALID) {
		CLUSTER_EXPECT(c, r.error && r.code == CQL_ERR_INVALID,
		               "%s %s at %s (%s): want Invalid, got %s 0x%04x %s", ks, op,
		               cl_name(cl), state, r.error ? "error" : "success", r.code, r.msg);
		return;
	}
	bool unavailable = r.error && r.code == CQL_ERR_UNAVAILABLE;
	CLUSTER_EXPECT(c, unavailable,
	               "%s %s at %s via node %d (%s): want Unavailable(%d, %d), got %s 0x%04x %s",
	               ks, op, cl_name(cl), coord, state, req, alive, r.error ? "error" : "success",
	               r.code, r.msg);
	if (unavailable && !any_dc)
		CLUSTER_EXPECT(
		        c, r.required == req && r.alive == alive,
		        "%s %s at %s (%s): Unavailable(required %d, alive %d), want (%d, %d)", ks,
		        op, cl_name(cl), state, r.required, r.alive, req, alive);
	if (unavailable && any_dc) {
		/* EACH_QUORUM: some DC is short: required is its quorum */
		bool short_dc = false;
		for (int d = 0; d < t->n_dcs; d++)
			short_dc |= r.required == quorum(t->rf[d]) && r.alive == t->live[d] &&
			            t->live[d] < quorum(t->rf[d]);
		CLUSTER_EXPECT(c, short_dc,
		               "%s %s at EACH_QUORUM (%s): Unavailable(%d, %d) names no DC short "
		               "of a quorum",
		               ks, op, state, r.required, r.alive);
	}
}

/*
 * Check one write and one read at every level (level i on keys[i]) through
 * node `coord`, each against the topology derived for its key.  Returns the
 * number of requests checked.
 */
static int check_levels(const char *ks, int coord, const int *keys)
{
	int checked = 0;
	for (size_t i = 0; i < N_LEVELS; i++) {
		struct topo t;
		topo_of(ks, keys[i], coord, &t);
		for (int w = 1; w >= 0; w--) {
			check_request(ks, coord, LEVELS[i], w, keys[i], &t);
			checked++;
		}
	}
	return checked;
}

/* SERIAL and LOCAL_SERIAL: Invalid until lightweight transactions exist. */
static int check_serial_invalid(const char *ks, int coord)
{
	const uint16_t serial[] = {CL_SERIAL, CL_LOCAL_SERIAL};
	for (int i = 0; i < 2; i++) {
		struct res r;
		cql(coord, serial[i], CQL_NO_TIMESTAMP, &r, "INSERT INTO %s.t (k, v) VALUES (1, 1)",
		    ks);
		CLUSTER_EXPECT(c, r.error && r.code == CQL_ERR_INVALID,
		               "write at %s: want Invalid, got 0x%04x %s", cl_name(serial[i]),
		               r.code, r.error ? r.msg : "success");
		cql(coord, serial[i], CQL_NO_TIMESTAMP, &r, "SELECT v FROM %s.t WHERE k = 1", ks);
		CLUSTER_EXPECT(c, r.error && r.code == CQL_ERR_INVALID,
		               "read at %s: want Invalid, got 0x%04x %s", cl_name(serial[i]),
		               r.code, r.error ? r.msg : "success");
	}
	return 4;
}

static bool same_set(const int *a, int na, const int *b, int nb)
{
	if (na != nb)
		return false;
	int same = 0;
	for (int i = 0; i < na; i++)
		for (int m = 0; m < nb; m++)
			same += a[i] == b[m];
	return same == na;
}

/*
 * SimpleStrategy RF=3 on n nodes: the replicas of one key are killed one by
 * one, but the coordinator (a non-replica when there is one, so requests are
 * routed), and every level is checked in every state on keys with exactly
 * that replica set.
 */
static void availability_simple(int n)
{
	start(n, NULL);
	cql_ok(1, "CREATE KEYSPACE av WITH replication = {'class': 'SimpleStrategy', "
	          "'replication_factor': 3}");
	cql_ok(1, "CREATE TABLE av.t (k int PRIMARY KEY, v int)");
	int reps[CLUSTER_MAX_NODES];
	int rf = replicas_of(1, "av", 1000, reps, CLUSTER_MAX_NODES);
	CLUSTER_ASSERT(c, rf > 0, "no replica for key 1000");
	int coord = reps[0];
	for (int k = n; k >= 1; k--) {
		bool is_rep = false;
		for (int i = 0; i < rf; i++)
			is_rep |= reps[i] == k;
		if (!is_rep)
			coord = k; /* the lowest-numbered non-replica */
	}
	int killable[CLUSTER_MAX_NODES], n_killable = 0;
	for (int i = 0; i < rf; i++)
		if (reps[i] != coord)
			killable[n_killable++] = reps[i];
	int n_states = n_killable + 1;
	int keys[CLUSTER_MAX_NODES * N_LEVELS], n_keys = 0, want_keys = n_states * (int)N_LEVELS;
	for (int key = 0; key < 20000 && n_keys < want_keys; key++) {
		int r2[CLUSTER_MAX_NODES];
		int n2 = replicas_of(coord, "av", key, r2, CLUSTER_MAX_NODES);
		if (same_set(r2, n2, reps, rf))
			keys[n_keys++] = key;
	}
	CLUSTER_ASSERT(c, n_keys == want_keys, "found only %d keys on the replicas of key 1000",
	               n_keys);
	int checked = check_serial_invalid("av", coord);
	for (int state = 0; state < n_states; state++) {
		if (state > 0)
			cluster_test_kill(c, killable[state - 1], coord);
		checked += check_levels("av", coord, keys + state * (int)N_LEVELS);
	}
	cr_log_info("availability SimpleStrategy RF=%d on %d nodes via node %d: %d requests", rf, n,
	            coord, checked);
	fprintf(stderr, "availability SimpleStrategy RF=%d on %d nodes via node %d: %d requests\n",
	        rf, n, coord, checked);
}

TestSuite(replication, .fini = cluster_test_fini, .timeout = 600);

Test(replication, availability_simple_rf3_3_nodes)
{
	availability_simple(3);
}

Test(replication, availability_simple_rf3_5_nodes)
{
	availability_simple(5);
}

static const char *const DCS6[] = {"dc1", "dc1", "dc1", "dc2", "dc2", "dc2"};

/*
 * NetworkTopologyStrategy {dc1: 3, dc2: 3} through node 1 (dc1): dc2 is
 * killed down to nothing (live dc1/dc2 3/3, 3/2, 3/1, 3/0), node 6 restarted
 * (3/1), then dc1 loses nodes with one dc2 replica still up (2/1), then the
 * rest (2/0, 1/0): every level checked in every state.
 */
Test(replication, availability_nts_two_dcs)
{
	start(6, DCS6);
	cql_ok(1, "CREATE KEYSPACE av WITH replication = {'class': 'NetworkTopologyStrategy', "
	          "'dc1': 3, 'dc2': 3}");
	cql_ok(1, "CREATE TABLE av.t (k int PRIMARY KEY, v int)");
	/* > 0: SIGKILL that node; < 0: restart it. */
	const int steps[] = {0, 4, 5, 6, -6, 3, 6, 2};
	int checked = 0;
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		if (steps[s] > 0)
			cluster_test_kill(c, steps[s], 1);
		if (steps[s] < 0) {
			int k = -steps[s], obs[] = {1}, tgt[] = {k};
			CLUSTER_ASSERT(c, cluster_start_node(c, k) == 0, "restart node %d", k);
			CLUSTER_ASSERT(c,
			               cluster_wait_status(c, obs, 1, tgt, 1, "UN",
			                                   CLUSTER_TEST_START_MS) >= 0,
			               "node 1 does not see node %d UN again", k);
		}
		int lk[N_LEVELS];
		for (size_t i = 0; i < N_LEVELS; i++)
			lk[i] = 100 * (int)s + (int)i;
		checked += check_levels("av", 1, lk);
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
	case CL_ANY: return total >= ANY_WRITE_NEEDS_LIVE;
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
	CLUSTER_ASSERT(c, t->rf[0] + t->rf[1] <= 8, "too many replicas to enumerate their sets");
	for (int d = 0; d < t->n_dcs; d++)
		for (int i = 0; i < t->rf[d]; i++)
			dc_of[n++] = d;
	for (unsigned a = 0; a < (1u << n); a++) { /* a = {}: ANY acknowledged by a hint alone */
		if (!satisfies(w, a, t, dc_of, n, cw))
			continue;
		for (unsigned b = 0; b < (1u << n); b++)
			if (satisfies(r, b, t, dc_of, n, cr) && !(a & b))
				return false;
	}
	return true;
}

/*
 * For every (W, R) pair whose sets must overlap, and each coordinator pair
 * (writer, reader) given, write a new value and read it back.  The topology
 * is ks's, derived (every key has the same replica count per datacenter).
 */
static void accuracy(const char *ks, const int (*pairs)[2], int n_pairs)
{
	struct topo topo, *t = &topo;
	topo_of(ks, 1, pairs[0][0], t);
	int checked = 0, skipped = 0, key = 0;
	for (int p = 0; p < n_pairs; p++) {
		int wn = pairs[p][0], rn = pairs[p][1];
		int wdc = t->nts ? dc_index(wn) : 0, rdc = t->nts ? dc_index(rn) : 0;
		for (size_t i = 0; i < N_LEVELS; i++) {
			for (size_t j = 1; j < N_LEVELS; j++) { /* reads: no ANY */
				uint16_t w = LEVELS[i], r = LEVELS[j];
				if (!must_overlap(w, wdc, r, rdc, t)) {
					skipped++;
					continue;
				}
				key++;
				struct res res;
				cql(wn, w, CQL_NO_TIMESTAMP, &res,
				    "INSERT INTO %s.t (k, v) VALUES (%d, %d)", ks, key, 1000 + key);
				CLUSTER_EXPECT(c, !res.error, "write at %s via node %d: 0x%04x %s",
				               cl_name(w), wn, res.code, res.msg);
				cql(rn, r, CQL_NO_TIMESTAMP, &res,
				    "SELECT v FROM %s.t WHERE k = %d", ks, key);
				CLUSTER_EXPECT(
				        c, !res.error && res.has_v && res.v == 1000 + key,
				        "write at %s via node %d, read at %s via node %d: got %s "
				        "%d "
				        "(error 0x%04x %s), want %d",
				        cl_name(w), wn, cl_name(r), rn,
				        res.has_v ? "value" : "no value", res.v, res.code, res.msg,
				        1000 + key);
				checked++;
			}
		}
	}
	CLUSTER_ASSERT(c, checked > 0, "no level pair checked");
	cr_log_info("accuracy %s: %d write/read pairs checked, %d pairs skipped (no overlap)", ks,
	            checked, skipped);
	fprintf(stderr, "accuracy %s: %d write/read pairs checked, %d skipped (no overlap)\n", ks,
	        checked, skipped);
}

Test(replication, accuracy_one_dc)
{
	start(3, NULL);
	cql_ok(1, "CREATE KEYSPACE acc WITH replication = {'class': 'SimpleStrategy', "
	          "'replication_factor': 3}");
	cql_ok(1, "CREATE TABLE acc.t (k int PRIMARY KEY, v int)");
	const int pairs[][2] = {{1, 2}, {2, 3}, {3, 1}};
	accuracy("acc", pairs, 3);
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

Test(replication, read_repair_after_missed_write)
{
	start(3, NULL);
	cql_ok(1, "CREATE KEYSPACE rr WITH replication = {'class': 'SimpleStrategy', "
	          "'replication_factor': 3}");
	cql_ok(1, "CREATE TABLE rr.t (k int PRIMARY KEY, v int)");
	const int64_t t1 = 1700000000000000, t2 = 1700000000000001 + 1000;
	struct res r;
	cql(1, CL_ALL, t1, &r, "INSERT INTO rr.t (k, v) VALUES (7, 1)");
	CLUSTER_ASSERT(c, !r.error, "write at ALL: %s", r.msg);
	char val[64];
	int64_t ts = 0;
	CLUSTER_ASSERT(c, dump_v(3, "rr", 7, val, sizeof(val), &ts) == 0, "dump on node 3");
	CLUSTER_ASSERT(c, !strcmp(val, "1") && ts == t1,
	               "node 3 holds v=1 at %lld, shows '%s' at %lld", (long long)t1, val,
	               (long long)ts);

	/* Node 3 misses the second write (hinted handoff off), then comes back. */
	for (int k = 1; k <= 2; k++) {
		const char *off[] = {"disablehandoff", "-h", c->nodes[k].addr, NULL};
		char out[512];
		int st = -1;
		CLUSTER_ASSERT(
		        c, cluster_run(c, off, NULL, out, sizeof(out), 10000, &st) == 0 && st == 0,
		        "disablehandoff on node %d: %s", k, out);
	}
	cluster_test_kill(c, 3, 1);
	cql(1, CL_QUORUM, t2, &r, "INSERT INTO rr.t (k, v) VALUES (7, 2)");
	CLUSTER_ASSERT(c, !r.error, "write at QUORUM with node 3 down: %s", r.msg);
	CLUSTER_ASSERT(c, cluster_start_node(c, 3) == 0, "restart node 3");
	CLUSTER_ASSERT(c, cluster_wait_admin(c, 3, CLUSTER_TEST_START_MS) >= 0, "node 3 back");
	CLUSTER_ASSERT(c, cluster_wait_all_up(c, CLUSTER_TEST_START_MS) >= 0,
	               "all UN after the restart");
	CLUSTER_ASSERT(c, dump_v(3, "rr", 7, val, sizeof(val), &ts) == 0, "dump on node 3");
	CLUSTER_ASSERT(
	        c, !strcmp(val, "1") && ts == t1,
	        "node 3 must still be stale (v=1 at %lld) before the read, shows '%s' at %lld",
	        (long long)t1, val, (long long)ts);
	for (int k = 1; k <= 2; k++) {
		CLUSTER_ASSERT(c, dump_v(k, "rr", 7, val, sizeof(val), &ts) == 0, "dump on node %d",
		               k);
		CLUSTER_ASSERT(c, !strcmp(val, "2") && ts == t2, "node %d holds v=2, shows '%s'", k,
		               val);
	}

	/*
	 * One QUORUM read through node 3: it reads its own (stale) data and a
	 * digest from another replica, sees the mismatch, resolves and writes
	 * the newest cell back before answering.
	 */
	cql(3, CL_QUORUM, CQL_NO_TIMESTAMP, &r, "SELECT v FROM rr.t WHERE k = 7");
	CLUSTER_ASSERT(c, !r.error && r.has_v && r.v == 2, "QUORUM read via node 3: v=%d (%s)", r.v,
	               r.error ? r.msg : "ok");
	CLUSTER_ASSERT(c, dump_v(3, "rr", 7, val, sizeof(val), &ts) == 0, "dump on node 3");
	CLUSTER_EXPECT(c, !strcmp(val, "2") && ts == t2,
	               "after one QUORUM read node 3 must hold v=2 at %lld, shows '%s' at %lld",
	               (long long)t2, val, (long long)ts);
	/* the readable form says the same */
	const char *args[] = {"dump", "rr", "t", "7", "-h", c->nodes[3].addr, NULL};
	char out[4096];
	int status = -1;
	CLUSTER_ASSERT(
	        c, cluster_run(c, args, NULL, out, sizeof(out), 10000, &status) == 0 && status == 0,
	        "colonnade dump rr t 7 -h node 3: %s", out);
	CLUSTER_EXPECT(c, strstr(out, "\n  row\n"), "dump shows the row: %s", out);
	CLUSTER_EXPECT(c, strstr(out, "    v = 2  written ") && strstr(out, "(1700000000001001)"),
	               "dump shows v = 2 with the write's timestamp: %s", out);
}

/* ---- two datacenters: accuracy, partition, heal ---------------------------------------------- */

Test(replication, two_dcs_accuracy_partition_heal)
{
	start(6, DCS6);
	cql_ok(1, "CREATE KEYSPACE md WITH replication = {'class': 'NetworkTopologyStrategy', "
	          "'dc1': 3, 'dc2': 3}");
	cql_ok(1, "CREATE TABLE md.t (k int PRIMARY KEY, v int)");
	/* every node writes and reads; same and other datacenter, both directions */
	const int pairs[][2] = {{1, 2}, {1, 4}, {5, 3}, {4, 6}, {2, 6}, {3, 5}, {6, 1}};
	accuracy("md", pairs, (int)(sizeof(pairs) / sizeof(pairs[0])));

	/* Partition dc1 {1,2,3} from dc2 {4,5,6}. */
	const int a[] = {1, 2, 3}, b[] = {4, 5, 6};
	CLUSTER_ASSERT(c, cluster_partition(c, a, 3, b, 3) == 0, "partition the DCs");
	CLUSTER_ASSERT(c, cluster_wait_status(c, a, 3, b, 3, "DN", CLUSTER_TEST_DETECT_MS) >= 0,
	               "dc1 sees dc2 DN");
	CLUSTER_ASSERT(c, cluster_wait_status(c, b, 3, a, 3, "DN", CLUSTER_TEST_DETECT_MS) >= 0,
	               "dc2 sees dc1 DN");
	const int coords[] = {1, 4};
	int written = 0;
	for (int ci = 0; ci < 2; ci++) {
		int k = coords[ci];
		for (int i = 0; i < 5; i++) {
			int key = 5000 + ci * 100 + i;
			struct res r;
			cql(k, CL_LOCAL_QUORUM, CQL_NO_TIMESTAMP, &r,
			    "INSERT INTO md.t (k, v) VALUES (%d, %d)", key, key);
			CLUSTER_EXPECT(c, !r.error,
			               "partitioned: LOCAL_QUORUM write via node %d: 0x%04x %s", k,
			               r.code, r.msg);
			written += !r.error;
			cql(k, CL_LOCAL_QUORUM, CQL_NO_TIMESTAMP, &r,
			    "SELECT v FROM md.t WHERE k = %d", key);
			CLUSTER_EXPECT(c, !r.error && r.has_v && r.v == key,
			               "partitioned: LOCAL_QUORUM read via node %d: %s", k,
			               r.error ? r.msg : "wrong or no value");
		}
		const uint16_t fail[] = {CL_EACH_QUORUM, CL_QUORUM};
		for (int f = 0; f < 2; f++) {
			struct res r;
			cql(k, fail[f], CQL_NO_TIMESTAMP, &r,
			    "INSERT INTO md.t (k, v) VALUES (1, 1)");
			CLUSTER_EXPECT(
			        c, r.error && r.code == CQL_ERR_UNAVAILABLE,
			        "partitioned: %s write via node %d must be Unavailable, got 0x%04x "
			        "%s",
			        cl_name(fail[f]), k, r.code, r.error ? r.msg : "success");
			cql(k, fail[f], CQL_NO_TIMESTAMP, &r, "SELECT v FROM md.t WHERE k = 1");
			CLUSTER_EXPECT(
			        c, r.error && r.code == CQL_ERR_UNAVAILABLE,
			        "partitioned: %s read via node %d must be Unavailable, got 0x%04x "
			        "%s",
			        cl_name(fail[f]), k, r.code, r.error ? r.msg : "success");
		}
	}
	CLUSTER_ASSERT(c, cluster_heal(c) == 0, "heal");
	CLUSTER_ASSERT(c, cluster_wait_all_up(c, CLUSTER_TEST_START_MS) >= 0,
	               "all UN after healing");
	int seen = 0;
	for (int ci = 0; ci < 2; ci++)
		for (int i = 0; i < 5; i++) {
			int key = 5000 + ci * 100 + i;
			int k = ci ? 2 : 5; /* read through the other DC */
			struct res r;
			cql(k, CL_ALL, CQL_NO_TIMESTAMP, &r, "SELECT v FROM md.t WHERE k = %d",
			    key);
			CLUSTER_EXPECT(c, !r.error && r.has_v && r.v == key,
			               "healed: ALL read of key %d via node %d: %s", key, k,
			               r.error ? r.msg : "wrong or no value");
			seen += !r.error && r.has_v && r.v == key;
		}
	cr_log_info("partitioned: %d LOCAL_QUORUM writes; healed: %d seen at ALL", written, seen);
	fprintf(stderr, "partitioned: %d LOCAL_QUORUM writes; healed: %d seen at ALL\n", written,
	        seen);
}

/* ---- timeouts as the driver sees them ------------------------------------------------------- */

/*
 * A replica that stops answering (SIGSTOP) while the failure detector still
 * counts it up: an INSERT at ALL ends in WriteTimeout (2 of 3 received, write
 * type SIMPLE) and a SELECT at ALL in ReadTimeout (2 of 3, data present), each
 * after its configured timeout; a write is never reported as a read.
 */
Test(replication, timeouts_reach_the_driver_as_write_or_read)
{
	/* gossip every 250 ms with phi 16: a silent node is convicted only after ~9 s */
	struct cluster_opts o = {.n = 3,
	                         .gossip_interval_ms = 250,
	                         .phi = 16,
	                         .extra_yaml = "write_request_timeout_in_ms: 500\n"
	                                       "read_request_timeout_in_ms: 500\n"};
	c = cluster_test_start(&o, true);
	cql_ok(1, "CREATE KEYSPACE tmo WITH replication = {'class': 'SimpleStrategy', "
	          "'replication_factor': 3}");
	cql_ok(1, "CREATE TABLE tmo.t (k int PRIMARY KEY, v int)");
	struct res r;
	cql(1, CL_ALL, CQL_NO_TIMESTAMP, &r, "INSERT INTO tmo.t (k, v) VALUES (1, 1)");
	CLUSTER_ASSERT(c, !r.error, "write at ALL with every node up: %s", r.msg);
	CLUSTER_ASSERT(c, cluster_pause(c, 3) == 0, "SIGSTOP node 3");
	int64_t t0 = cluster_now_ms();
	cql(1, CL_ALL, CQL_NO_TIMESTAMP, &r, "INSERT INTO tmo.t (k, v) VALUES (1, 2)");
	int64_t took = cluster_now_ms() - t0;
	CLUSTER_EXPECT(c, r.error && r.code == CQL_ERR_WRITE_TIMEOUT,
	               "INSERT at ALL with node 3 stopped: error 0x%04x (%s), want WriteTimeout",
	               r.code, r.msg);
	CLUSTER_EXPECT(c, r.received == 2 && r.required == 3,
	               "WriteTimeout received %d of %d, want 2 of 3", r.received, r.required);
	CLUSTER_EXPECT(c, strcmp(r.write_type, "SIMPLE") == 0, "write type '%s'", r.write_type);
	CLUSTER_EXPECT(c, took >= 450, "answered after %lld ms, before the timeout",
	               (long long)took);
	cql(1, CL_ALL, CQL_NO_TIMESTAMP, &r, "SELECT v FROM tmo.t WHERE k = 1");
	CLUSTER_EXPECT(c, r.error && r.code == CQL_ERR_READ_TIMEOUT,
	               "SELECT at ALL with node 3 stopped: error 0x%04x (%s), want ReadTimeout",
	               r.code, r.msg);
	CLUSTER_EXPECT(c, r.received == 2 && r.required == 3 && r.data_present,
	               "ReadTimeout received %d of %d, data present %d", r.received, r.required,
	               r.data_present);
	CLUSTER_ASSERT(c, cluster_resume(c, 3) == 0, "SIGCONT node 3");
}
