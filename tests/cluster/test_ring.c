/*
 * test_ring.c — what a node knows of the ring when it starts, and who owns an
 * address (docs/GOSSIP.md "Identity is the host id", docs/REPLICATION.md
 * "The ring at start-up"), with real processes:
 *
 * - a whole cluster restarted with every node cut off from the others for
 *   30 s acknowledges no write as a non-replica (each node knows the ring from
 *   its system peers table; where each acknowledged row is stored agrees with
 *   getendpoints);
 * - a new node whose seeds are unreachable at first boot does not open CQL;
 * - a new host id at the address of a DOWN token owner is refused (the
 *   owner's tokens stay in every ring), and joins with
 *   replace_address_first_boot, taking the owner's tokens;
 * - two nodes that swap addresses (containers re-created) keep their host
 *   ids, tokens and the ring.
 */
#include "tests/cluster/harness/cluster_test.h"

#include "core/cqlproto.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define START_MS 60000

static struct cluster *c;

#define CL_ASSERT(...) CLUSTER_ASSERT(c, __VA_ARGS__)
#define CL_EXPECT(...) CLUSTER_EXPECT(c, __VA_ARGS__)

TestSuite(ring, .fini = cluster_test_fini, .timeout = 600);

static void start(int n, bool no_start)
{
	struct cluster_opts o;
	memset(&o, 0, sizeof(o));
	o.n = n;
	o.no_start = no_start;
	c = cluster_test_start(&o, false);
}

static void start_nodes(const int *nodes, int n)
{
	for (int i = 0; i < n; i++)
		CL_ASSERT(cluster_start_node(c, nodes[i]) == 0, "start node %d", nodes[i]);
	for (int i = 0; i < n; i++)
		CL_ASSERT(cluster_wait_admin(c, nodes[i], START_MS) >= 0, "node %d answers",
		          nodes[i]);
}

/* Wait until every node of `obs` sees every node of `targets` as `want` (by address). */
static bool wait_codes(const int *obs, int n_obs, const int *targets, int n_targets,
                       const char *want, int timeout_ms)
{
	int64_t t0 = cluster_now_ms();
	for (;;) {
		bool all = true;
		for (int i = 0; i < n_obs && all; i++)
			for (int t = 0; t < n_targets && all; t++) {
				char code[3] = "";
				all = cluster_status_code(c, obs[i], c->nodes[targets[t]].addr,
				                          code) == 0 &&
				      !strcmp(code, want);
			}
		if (all)
			return true;
		if (cluster_now_ms() - t0 > timeout_ms)
			return false;
		usleep(100000);
	}
}

/* Is the row of key `key` in x.t in node k's own store (/v1/dump)? -1: no answer. */
static int stored_on(int k, int key)
{
	char path[128];
	snprintf(path, sizeof(path), "/v1/dump?keyspace=x&table=t&key=%d", key);
	struct json *j = cluster_admin(c, k, path);
	if (!j)
		return -1;
	int found = json_bool(json_get(j, "found"), false) && json_len(json_get(j, "rows")) > 0;
	json_free(j);
	return found;
}

/* /v1/info's native_transport_active of node k (-1: no answer). */
static int cql_active(int k)
{
	struct json *j = cluster_admin(c, k, "/v1/info");
	if (!j)
		return -1;
	int on = json_bool(json_get(j, "native_transport_active"), false);
	json_free(j);
	return on;
}

static void schema_rf(int rf)
{
	struct cqlclient *cl = cluster_test_conn(c, 1);
	char q[256];
	snprintf(q, sizeof(q),
	         "CREATE KEYSPACE x WITH replication = {'class': 'SimpleStrategy', "
	         "'replication_factor': %d}",
	         rf);
	cluster_test_ok(c, cl, CL_ONE, q);
	cluster_test_ok(c, cl, CL_ONE, "CREATE TABLE x.t (k int PRIMARY KEY, v int)");
}

#define NKEYS 60

/*
 * Restart all three nodes (RF 1) with each cut off from the others for 30 s;
 * write at ONE through every node meanwhile.  Every acknowledged row must be
 * stored on the replica getendpoints names, and on no other node.
 */
Test(ring, restart_with_seeds_unreachable_acknowledges_no_write_as_non_replica)
{
	start(3, false);
	CL_ASSERT(cluster_wait_all_up(c, START_MS) >= 0, "cluster up");
	schema_rf(1);
	for (int k = 1; k <= 3; k++) {
		cluster_test_drop_conn(k);
		CL_ASSERT(cluster_kill(c, k) == 0, "SIGKILL node %d", k);
	}
	int one[] = {1}, two[] = {2}, rest[] = {2, 3}, three[] = {3};
	CL_ASSERT(cluster_partition(c, one, 1, rest, 2) == 0, "cut node 1 off");
	CL_ASSERT(cluster_partition(c, two, 1, three, 1) == 0, "cut node 2 from node 3");
	int64_t cut = cluster_now_ms();
	int all[] = {1, 2, 3};
	start_nodes(all, 3);
	int acked_by[NKEYS * 3];
	int acked = 0, refused = 0;
	memset(acked_by, 0, sizeof(acked_by));
	for (int k = 1; k <= 3; k++) {
		struct cqlclient *cl = cluster_test_conn(c, k);
		for (int i = 0; i < NKEYS; i++) {
			int key = (k - 1) * NKEYS + i;
			char q[128];
			snprintf(q, sizeof(q), "INSERT INTO x.t (k, v) VALUES (%d, %d)", key, k);
			struct cqlresult *r =
			        cluster_test_query(c, cl, CL_ONE, CQL_NO_TIMESTAMP, q);
			if (r->kind == CQLRES_ERROR) {
				refused++;
			} else {
				acked_by[key] = k;
				acked++;
			}
			cqlresult_free(r);
		}
	}
	CL_EXPECT(cluster_now_ms() - cut < 30000, "the writes ran while cut off (%lld ms)",
	          (long long)(cluster_now_ms() - cut));
	fprintf(stderr, "ring: cut off: %d writes acknowledged, %d refused\n", acked, refused);
	CL_EXPECT(acked > 0 && refused > 0, "some writes are local, some not: %d acked, %d refused",
	          acked, refused);
	while (cluster_now_ms() - cut < 30000)
		usleep(200000);
	CL_ASSERT(cluster_heal(c) == 0, "heal");
	CL_ASSERT(cluster_wait_all_up(c, START_MS) >= 0, "all up after the heal");
	int misplaced = 0;
	for (int key = 0; key < NKEYS * 3; key++) {
		if (!acked_by[key])
			continue;
		char kt[16];
		snprintf(kt, sizeof(kt), "%d", key);
		int rep[3];
		int nr = cluster_test_replicas(c, 1, "x", "t", kt, rep, 3);
		CL_ASSERT(nr == 1, "key %d: %d replicas at RF 1", key, nr);
		for (int k = 1; k <= 3; k++) {
			int s = stored_on(k, key);
			CL_ASSERT(s >= 0, "dump on node %d", k);
			if (s != (k == rep[0])) {
				misplaced++;
				CL_EXPECT(false,
				          "key %d acknowledged by node %d: replica is node %d, but "
				          "node "
				          "%d %s it",
				          key, acked_by[key], rep[0], k, s ? "stores" : "lacks");
			}
		}
	}
	fprintf(stderr, "ring: %d acknowledged rows checked on 3 nodes, %d misplaced\n", acked,
	        misplaced);
}

/* A new, non-seed node whose seeds are unreachable keeps CQL closed until one answers. */
Test(ring, first_boot_without_seeds_does_not_serve)
{
	start(4, true);
	int first[] = {1, 2, 3};
	start_nodes(first, 3);
	CL_ASSERT(wait_codes(first, 3, first, 3, "UN", START_MS), "nodes 1-3 up");
	int four[] = {4};
	CL_ASSERT(cluster_partition(c, four, 1, first, 3) == 0, "cut node 4 off");
	start_nodes(four, 1);
	sleep(5);
	CL_EXPECT(cql_active(4) == 0, "node 4 does not serve CQL without knowing the ring");
	CL_EXPECT(cluster_wait_log(c, 4, "not serving CQL yet", 1, 15000) >= 1,
	          "node 4 says why it does not serve");
	CL_ASSERT(cluster_heal(c) == 0, "heal");
	int64_t t0 = cluster_now_ms();
	while (cql_active(4) != 1 && cluster_now_ms() - t0 < 30000)
		usleep(100000);
	CL_EXPECT(cql_active(4) == 1, "node 4 serves once a seed answered");
	CL_ASSERT(cluster_wait_all_up(c, START_MS) >= 0, "all four UN");
}

/*
 * A new host id at the address of a DOWN token owner: refused (the node exits
 * saying why; peers keep the owner DN in their ring); with
 * replace_address_first_boot it joins, with the owner's tokens.
 */
Test(ring, new_host_id_at_an_owner_address_is_refused_unless_replacing)
{
	start(4, true);
	int first[] = {1, 2, 3};
	start_nodes(first, 3);
	CL_ASSERT(wait_codes(first, 3, first, 3, "UN", START_MS), "nodes 1-3 up");
	char hid3[37];
	char tok3[16][24];
	int nt3 = 0;
	int64_t g3;
	CL_ASSERT(cluster_info(c, 3, hid3, &g3, tok3, &nt3, 16) == 0, "info of node 3");
	char addr3[48];
	snprintf(addr3, sizeof(addr3), "%s", c->nodes[3].addr);
	int two[] = {1, 2}, three[] = {3};
	cluster_test_drop_conn(3);
	CL_ASSERT(cluster_kill(c, 3) == 0, "SIGKILL node 3");
	CL_ASSERT(wait_codes(two, 2, three, 1, "DN", 20000), "node 3 DN");
	CL_ASSERT(cluster_move(c, 4, addr3) == 0, "node 4 at node 3's address");
	CL_ASSERT(cluster_start_node(c, 4) == 0, "start node 4");
	int st = 0;
	CL_ASSERT(cluster_wait_exit(c, 4, 30000, &st) == 0, "node 4 refuses to join and exits");
	CL_EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 1, "exit status 1 (%d)", st);
	CL_EXPECT(cluster_log_count(c, 4, "refusing to join") == 1, "node 4 says why");
	for (int k = 1; k <= 2; k++) {
		char code[3] = "";
		CL_EXPECT(cluster_status_code(c, k, addr3, code) == 0 && !strcmp(code, "DN"),
		          "node %d sees node 3's address as %s, want DN", k, code);
		CL_EXPECT(cluster_test_metric(c, k, "colonnade_ring_nodes") == 3,
		          "node %d's ring keeps node 3", k);
	}
	/* Node 2 is down while node 3 is replaced: it learns of it when it comes back. */
	cluster_test_drop_conn(2);
	CL_ASSERT(cluster_stop(c, 2, 20000, &st) == 0, "stop node 2");
	/* The operator says node 4 replaces node 3. */
	FILE *f = fopen(c->nodes[4].yaml, "a");
	CL_ASSERT(f != NULL, "open node 4's config");
	fprintf(f, "replace_address_first_boot: %s\n", addr3);
	fclose(f);
	/* Node 1, the one seed left, is paused: node 4 knows the peers its refused start saved,
	 * but decides to replace only from the cluster's present state, once a seed answers. */
	CL_ASSERT(cluster_pause(c, 1) == 0, "SIGSTOP node 1");
	CL_ASSERT(cluster_start_node(c, 4) == 0, "start node 4 replacing node 3");
	CL_ASSERT(cluster_wait_admin(c, 4, START_MS) >= 0, "node 4 answers");
	usleep(1500 * 1000);
	CL_EXPECT(cluster_log_count(c, 4, "joined the ring") == 0,
	          "node 4 does not join before a seed answered");
	CL_ASSERT(cluster_resume(c, 1) == 0, "SIGCONT node 1");
	CL_EXPECT(cluster_wait_log(c, 4, "replacing node", 1, 30000) >= 1, "node 4 replaces");
	char hid4[37];
	char tok4[16][24];
	int nt4 = 0;
	int64_t g4;
	int64_t t0 = cluster_now_ms();
	bool joined = false;
	int k = 1;
	while (!joined && cluster_now_ms() - t0 < 30000) {
		char code[3] = "";
		joined = cluster_status_code(c, k, addr3, code) == 0 && !strcmp(code, "UN") &&
		         cluster_test_metric(c, k, "colonnade_ring_nodes") == 3;
		if (joined && k == 1) {
			/* node 1 saw it; now node 2, which holds node 3 in its system peers */
			int n2[] = {2};
			start_nodes(n2, 1);
			k = 2;
			joined = false;
		}
		if (!joined)
			usleep(100000);
	}
	CL_EXPECT(joined, "node %d sees node 4 UN at %s, 3 nodes in its ring", k, addr3);
	CL_EXPECT(cluster_log_count(c, 2, "forgetting the system peer replaced") == 1,
	          "node 2 forgets node 3 from its system peers");
	CL_EXPECT(cluster_log_count(c, 2, "is owned by both") == 0,
	          "node 2 never builds a ring with node 3 and node 4");
	CL_ASSERT(cluster_info(c, 4, hid4, &g4, tok4, &nt4, 16) == 0, "info of node 4");
	CL_EXPECT(strcmp(hid4, hid3) != 0, "node 4 has its own host id");
	CL_ASSERT(nt4 == nt3, "node 4 has %d tokens, node 3 had %d", nt4, nt3);
	for (int i = 0; i < nt3; i++)
		CL_EXPECT(!strcmp(tok4[i], tok3[i]), "token %d: %s, node 3 had %s", i, tok4[i],
		          tok3[i]);
}

/* Two nodes swap addresses (containers re-created): same host ids, same ring, writes at ALL. */
Test(ring, nodes_that_swap_addresses_keep_their_identity)
{
	start(4, false);
	CL_ASSERT(cluster_wait_all_up(c, START_MS) >= 0, "cluster up");
	schema_rf(3);
	char hid3[37], hid4[37], h[37];
	int64_t g;
	CL_ASSERT(cluster_info(c, 3, hid3, &g, NULL, NULL, 0) == 0, "info of node 3");
	CL_ASSERT(cluster_info(c, 4, hid4, &g, NULL, NULL, 0) == 0, "info of node 4");
	char a3[48], a4[48];
	snprintf(a3, sizeof(a3), "%s", c->nodes[3].addr);
	snprintf(a4, sizeof(a4), "%s", c->nodes[4].addr);
	int st;
	CL_ASSERT(cluster_stop(c, 3, 20000, &st) == 0, "stop node 3");
	CL_ASSERT(cluster_stop(c, 4, 20000, &st) == 0, "stop node 4");
	CL_ASSERT(cluster_move(c, 3, a4) == 0, "node 3 to %s", a4);
	CL_ASSERT(cluster_move(c, 4, a3) == 0, "node 4 to %s", a3);
	int both[] = {4, 3};
	start_nodes(both, 2);
	CL_ASSERT(cluster_wait_all_up(c, START_MS) >= 0, "all up after the swap");
	CL_ASSERT(cluster_info(c, 3, h, &g, NULL, NULL, 0) == 0, "info of node 3");
	CL_EXPECT(!strcmp(h, hid3), "node 3 kept host id %s (%s)", hid3, h);
	CL_ASSERT(cluster_info(c, 4, h, &g, NULL, NULL, 0) == 0, "info of node 4");
	CL_EXPECT(!strcmp(h, hid4), "node 4 kept host id %s (%s)", hid4, h);
	int64_t t0 = cluster_now_ms();
	bool rings = false;
	while (!rings && cluster_now_ms() - t0 < 20000) {
		rings = true;
		for (int k = 1; k <= 4; k++)
			rings &= cluster_test_metric(c, k, "colonnade_ring_nodes") == 4 &&
			         cluster_test_metric(c, k, "colonnade_ring_tokens") == 64;
		if (!rings)
			usleep(100000);
	}
	CL_EXPECT(rings, "every ring holds 4 nodes and 64 tokens");
	for (int k = 1; k <= 4; k++) {
		struct cqlclient *cl = cluster_test_conn(c, k);
		char q[128];
		snprintf(q, sizeof(q), "INSERT INTO x.t (k, v) VALUES (%d, %d)", k, k);
		cluster_test_ok(c, cl, CL_ALL, q);
	}
}
