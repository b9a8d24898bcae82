/*
 * Cluster membership: convergence, failure detection,
 * pauses, partitions, two datacenters, a node moving address, bad input on
 * the internode port.  Real `colonnade` processes (COLONNADE_BIN) on
 * COLONNADE_TEST_NET.x, gossip every 50 ms; see tests/cluster/README.md.
 *
 * Bounds: a wait's timeout is the bound the acceptance asks for, stated in
 * gossip rounds; the measured time is printed (a figure, not an assertion on
 * speed).
 */
#include "tests/cluster/harness/cluster_test.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUND_MS 50
/* Convergence: every node must see every other UN within this many rounds. */
#define CONVERGE_ROUNDS 300
/* Conviction: phi 8 over 50 ms heartbeats convicts in about a second; the
 * bound leaves room for sanitizer builds sharing 2 cores with 5 nodes. */
#define DETECT_MS 15000
#define START_MS  30000

static struct cluster *c;

static void start(int n, const struct cluster_opts *extra)
{
	struct cluster_opts o = {0};
	if (extra)
		o = *extra;
	o.n = n;
	if (!o.gossip_interval_ms)
		o.gossip_interval_ms = ROUND_MS;
	c = cluster_test_start(&o, false);
}

static void expect_all_up(const char *what)
{
	int64_t ms = cluster_wait_all_up(c, START_MS + CONVERGE_ROUNDS * ROUND_MS);
	CLUSTER_ASSERT(c, ms >= 0, "%s: not every node sees every node UN", what);
	cr_log_info("%s: all UN after %lld ms (%lld rounds)", what, (long long)ms,
	            (long long)(ms / ROUND_MS));
}

/* Wait until every running node's ring snapshot holds `nodes` nodes. */
static bool rings_hold(int nodes, int timeout_ms)
{
	int64_t deadline = cluster_now_ms() + timeout_ms;
	for (;;) {
		bool all = true;
		for (int k = 1; k <= c->n; k++)
			if (c->nodes[k].pid > 0 && !c->nodes[k].paused)
				all &= cluster_test_metric(c, k, "colonnade_ring_nodes") == nodes &&
				       cluster_test_metric(c, k, "colonnade_ring_tokens") ==
				               nodes * 16;
		if (all)
			return true;
		if (cluster_now_ms() > deadline)
			return false;
		usleep(20000);
	}
}

/* Heartbeat of the endpoint at `addr` in node k's gossipinfo, or -1. */
static int64_t heartbeat_at(int k, const char *addr, int64_t *generation)
{
	struct json *j = cluster_admin(c, k, "/v1/gossipinfo");
	if (!j)
		return -1;
	int64_t hb = -1;
	const struct json *eps = json_get(j, "endpoints");
	for (size_t i = 0; i < json_len(eps); i++) {
		const struct json *ep = json_at(eps, i);
		if (!strcmp(json_str(json_get(ep, "address"), ""), addr)) {
			hb = json_int(json_get(ep, "heartbeat"), -1);
			if (generation)
				*generation = json_int(json_get(ep, "generation"), -1);
		}
	}
	json_free(j);
	return hb;
}

/* The operator's view of the 2-DC cluster, as printed: nodetool's shapes. */
static void check_operator_tools(const char *host)
{
	char out[32768];
	int st = 0;
	const char *status[] = {"status", "-h", host, NULL};
	CLUSTER_ASSERT(c,
	               cluster_run(c, status, NULL, out, sizeof(out), 10000, &st) == 0 && st == 0,
	               "colonnade status: %s", out);
	CLUSTER_EXPECT(c,
	               strstr(out, "Datacenter: dc1\n===============\nStatus=Up/Down\n|/ "
	                           "State=Normal/Leaving/Joining/Moving\n--  Address"),
	               "dc1 banner:\n%s", out);
	CLUSTER_EXPECT(c, strstr(out, "Datacenter: dc2\n===============\n"), "dc2 banner:\n%s",
	               out);
	int un = 0;
	for (char *l = out; (l = strstr(l, "\nUN  ")); l++)
		un++;
	CLUSTER_EXPECT(c, un == 6, "6 UN rows, got %d:\n%s", un, out);
	CLUSTER_EXPECT(c, strstr(out, "Host ID") && strstr(out, "Rack") && strstr(out, "r3"), "%s",
	               out);

	const char *dcl[] = {"describecluster", "-h", host, NULL};
	CLUSTER_ASSERT(c, cluster_run(c, dcl, NULL, out, sizeof(out), 10000, &st) == 0 && st == 0,
	               "colonnade describecluster: %s", out);
	CLUSTER_EXPECT(c, strstr(out, "Partitioner: org.apache.cassandra.dht.Murmur3Partitioner"),
	               "%s", out);
	CLUSTER_EXPECT(c, strstr(out, "Live: 6") && strstr(out, "Unreachable: 0"), "%s", out);
	CLUSTER_EXPECT(
	        c, strstr(out, "dc1 #Nodes: 3 #Down: 0") && strstr(out, "dc2 #Nodes: 3 #Down: 0"),
	        "%s", out);
	char *sv = strstr(out, "Schema versions:");
	int listed = 0;
	for (int k = 1; sv && k <= 6; k++)
		listed += strstr(sv, c->nodes[k].addr) != NULL;
	CLUSTER_EXPECT(c, listed == 6, "all 6 nodes under their schema version:\n%s", out);

	const char *ring[] = {"ring", "-h", host, NULL};
	CLUSTER_ASSERT(c, cluster_run(c, ring, NULL, out, sizeof(out), 10000, &st) == 0 && st == 0,
	               "colonnade ring: %s", out);
	int rows = 0;
	for (char *l = out; (l = strstr(l, "  Up  ")); l++)
		rows++;
	CLUSTER_EXPECT(c, rows == 6 * 16, "one ring row per token: %d", rows);

	const char *gi[] = {"gossipinfo", "-h", host, NULL};
	CLUSTER_ASSERT(c, cluster_run(c, gi, NULL, out, sizeof(out), 10000, &st) == 0 && st == 0,
	               "colonnade gossipinfo: %s", out);
	int eps = 0;
	for (char *l = out; (l = strstr(l, "  generation:")); l++)
		eps++;
	CLUSTER_EXPECT(c,
	               eps == 6 && strstr(out, "STATUS:") && strstr(out, "TOKENS:") &&
	                       strstr(out, ":<hidden>") && strstr(out, "DC:") &&
	                       strstr(out, ":dc2"),
	               "gossipinfo lists 6 endpoints with their states:\n%s", out);
}

TestSuite(membership, .fini = cluster_test_fini, .timeout = 300);

Test(membership, five_nodes_converge)
{
	start(5, NULL);
	expect_all_up("5 nodes");
	/* Everyone agrees on tokens: 16 per node, plain ownership summing to 1. */
	for (int k = 1; k <= 5; k++) {
		struct json *j = cluster_admin(c, k, "/v1/status");
		CLUSTER_ASSERT(c, j != NULL, "node %d: no status", k);
		const struct json *nodes = json_get(j, "nodes");
		CLUSTER_EXPECT(c, json_len(nodes) == 5, "node %d lists %zu nodes", k,
		               json_len(nodes));
		double sum = 0;
		for (size_t i = 0; i < json_len(nodes); i++) {
			const struct json *nd = json_at(nodes, i);
			CLUSTER_EXPECT(c, json_int(json_get(nd, "tokens"), 0) == 16,
			               "node %d: %s has %lld tokens", k,
			               json_str(json_get(nd, "address"), "?"),
			               (long long)json_int(json_get(nd, "tokens"), 0));
			sum += json_num(json_get(nd, "owns"), 0);
		}
		CLUSTER_EXPECT(c, sum > 0.999 && sum < 1.001, "node %d: ownership sums to %f", k,
		               sum);
		json_free(j);
	}
	/* The ring snapshot every node keeps for requests agrees. */
	CLUSTER_EXPECT(c, rings_hold(5, 10000), "every node's ring holds 5 nodes and 80 tokens");
}

Test(membership, killed_node_is_down_then_up_with_higher_generation)
{
	start(5, NULL);
	expect_all_up("start");
	char hid0[37], hid1[37];
	int64_t gen0 = 0, gen1 = 0, seen_gen = 0;
	char tokens[16][24];
	CLUSTER_ASSERT(c, cluster_info(c, 3, hid0, &gen0, tokens, NULL, 16) == 0, "info of node 3");

	int64_t t0 = cluster_now_ms();
	CLUSTER_ASSERT(c, cluster_kill(c, 3) == 0, "SIGKILL node 3");
	int others[] = {1, 2, 4, 5};
	int dead[] = {3};
	int64_t ms = cluster_wait_status(c, others, 4, dead, 1, "DN", DETECT_MS);
	CLUSTER_ASSERT(c, ms >= 0, "the killed node was not seen DN everywhere");
	cr_log_info("SIGKILL: DN on all 4 others after %lld ms",
	            (long long)(cluster_now_ms() - t0));
	CLUSTER_ASSERT(c, cluster_wait_status(c, others, 4, others, 4, "UN", DETECT_MS) >= 0,
	               "the survivors must still see each other UN");
	CLUSTER_EXPECT(c, rings_hold(5, 5000), "a down node keeps its tokens in the ring");

	CLUSTER_ASSERT(c, cluster_start_node(c, 3) == 0, "restart node 3");
	CLUSTER_ASSERT(c, cluster_wait_admin(c, 3, START_MS) >= 0, "node 3 back");
	expect_all_up("restart");
	CLUSTER_ASSERT(c, cluster_info(c, 3, hid1, &gen1, tokens, NULL, 16) == 0, "info of node 3");
	CLUSTER_EXPECT(c, strcmp(hid1, hid0) == 0, "host id %s became %s", hid0, hid1);
	CLUSTER_EXPECT(c, gen1 > gen0, "generation %lld after restart, %lld before",
	               (long long)gen1, (long long)gen0);
	CLUSTER_EXPECT(c, heartbeat_at(1, c->nodes[3].addr, &seen_gen) >= 0 && seen_gen == gen1,
	               "node 1 holds generation %lld for node 3, expected %lld",
	               (long long)seen_gen, (long long)gen1);
}

Test(membership, paused_node_is_down_then_up)
{
	start(3, NULL);
	expect_all_up("start");
	CLUSTER_ASSERT(c, cluster_pause(c, 2) == 0, "SIGSTOP");
	int others[] = {1, 3};
	int paused[] = {2};
	int64_t ms = cluster_wait_status(c, others, 2, paused, 1, "DN", DETECT_MS);
	CLUSTER_ASSERT(c, ms >= 0, "SIGSTOPped node not seen DN");
	cr_log_info("SIGSTOP: DN after %lld ms", (long long)ms);
	CLUSTER_ASSERT(c, cluster_resume(c, 2) == 0, "SIGCONT");
	ms = cluster_wait_all_up(c, DETECT_MS);
	CLUSTER_ASSERT(c, ms >= 0, "SIGCONT: not back to UN");
	cr_log_info("SIGCONT: all UN after %lld ms", (long long)ms);
}

Test(membership, partition_and_heal)
{
	start(5, NULL);
	expect_all_up("start");
	int a[] = {1, 2}, b[] = {3, 4, 5};
	CLUSTER_ASSERT(c, cluster_partition(c, a, 2, b, 3) == 0, "nftables partition failed");
	CLUSTER_ASSERT(c, cluster_wait_status(c, a, 2, b, 3, "DN", DETECT_MS) >= 0,
	               "{1,2} must see {3,4,5} DN");
	CLUSTER_ASSERT(c, cluster_wait_status(c, b, 3, a, 2, "DN", DETECT_MS) >= 0,
	               "{3,4,5} must see {1,2} DN");
	CLUSTER_ASSERT(c, cluster_wait_status(c, a, 2, a, 2, "UN", DETECT_MS) >= 0,
	               "{1,2} still see each other UN");
	CLUSTER_ASSERT(c, cluster_wait_status(c, b, 3, b, 3, "UN", DETECT_MS) >= 0,
	               "{3,4,5} still see each other UN");
	CLUSTER_ASSERT(c, cluster_heal(c) == 0, "heal");
	int64_t ms = cluster_wait_all_up(c, DETECT_MS * 2);
	CLUSTER_ASSERT(c, ms >= 0, "heal: not all back to UN");
	cr_log_info("heal: all UN after %lld ms", (long long)ms);
}

Test(membership, two_datacenters_parallel_startup)
{
	/* Cassandra's dtest test_2dc_parallel_startup: 2 DCs x 3 nodes, started at once,
	 * one seed in each datacenter. */
	struct cluster_opts o = {0};
	for (int k = 0; k < 6; k++) {
		o.dcs[k] = k < 3 ? "dc1" : "dc2";
		o.racks[k] = (k % 3 == 0) ? "r1" : (k % 3 == 1) ? "r2" : "r3";
	}
	char seeds[128];
	const char *net = getenv("COLONNADE_TEST_NET");
	snprintf(seeds, sizeof(seeds), "%s.1,%s.4", net && *net ? net : "127.0.0",
	         net && *net ? net : "127.0.0");
	o.seeds = seeds;
	start(6, &o);
	expect_all_up("2 DCs x 3");
	for (int k = 1; k <= 6; k++) {
		struct json *j = cluster_admin(c, k, "/v1/status");
		CLUSTER_ASSERT(c, j != NULL, "node %d: no status", k);
		int dc1 = 0, dc2 = 0;
		const struct json *nodes = json_get(j, "nodes");
		for (size_t i = 0; i < json_len(nodes); i++) {
			const char *dc = json_str(json_get(json_at(nodes, i), "dc"), "");
			dc1 += !strcmp(dc, "dc1");
			dc2 += !strcmp(dc, "dc2");
		}
		CLUSTER_EXPECT(c, dc1 == 3 && dc2 == 3, "node %d sees %d in dc1 and %d in dc2", k,
		               dc1, dc2);
		json_free(j);
	}
	check_operator_tools(c->nodes[4].addr);
}

Test(membership, moved_node_keeps_host_id_and_tokens)
{
	start(4, NULL);
	expect_all_up("start");
	char hid0[37], hid1[37];
	int64_t g0 = 0, g1 = 0;
	char t0[16][24], t1[16][24];
	int n0 = 0, n1 = 0;
	CLUSTER_ASSERT(c, cluster_info(c, 4, hid0, &g0, t0, &n0, 16) == 0, "info of node 4");
	int st = 0;
	CLUSTER_ASSERT(c, cluster_stop(c, 4, 20000, &st) == 0, "SIGTERM must stop the node");
	CLUSTER_EXPECT(c, WIFEXITED(st) && WEXITSTATUS(st) == 0,
	               "clean exit after SIGTERM (status %d)", st);
	CLUSTER_EXPECT(c, cluster_log_count(c, 4, "shutdown complete") >= 1, "shutdown is logged");
	char addr[48];
	snprintf(addr, sizeof(addr), "%s.%d", c->net, 40);
	CLUSTER_ASSERT(c, cluster_move(c, 4, addr) == 0, "rewrite config");
	CLUSTER_ASSERT(c, cluster_start_node(c, 4) == 0, "start at %s", addr);
	CLUSTER_ASSERT(c, cluster_wait_admin(c, 4, START_MS) >= 0, "node 4 back at %s", addr);
	CLUSTER_ASSERT(c, cluster_info(c, 4, hid1, &g1, t1, &n1, 16) == 0, "info of node 4");
	CLUSTER_EXPECT(c, strcmp(hid1, hid0) == 0, "host id %s became %s at the new address", hid0,
	               hid1);
	CLUSTER_ASSERT(c, n1 == n0 && n0 == 16, "%d tokens before, %d after", n0, n1);
	for (int i = 0; i < n0; i++)
		CLUSTER_EXPECT(c, strcmp(t1[i], t0[i]) == 0, "token %d: %s became %s", i, t0[i],
		               t1[i]);
	CLUSTER_EXPECT(c, g1 > g0, "generation increases");
	/* Peers replace the old address: still 4 nodes, all UN, the new address listed. */
	expect_all_up("moved");
	char code[3] = "";
	CLUSTER_EXPECT(c, cluster_status_code(c, 1, addr, code) == 0 && !strcmp(code, "UN"),
	               "node 1 sees %s as %s", addr, code);
	CLUSTER_EXPECT(c, rings_hold(4, 10000), "the moved node is in every ring once");
}

/* A node that hears garbage on port 7000 logs it, naming the sender, and keeps gossiping. */
Test(membership, bad_internode_input_is_refused)
{
	start(3, NULL);
	expect_all_up("start");
	int before = cluster_log_count(c, 1, c->client_addr);

	/* 1. A frame whose body is not msgpack. */
	const unsigned char bad_body[] = {0, 0, 0, 6, 0, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1};
	CLUSTER_ASSERT(c, cluster_send_raw(c, 1, bad_body, sizeof(bad_body), 200) == 0, "send");
	/* 2. Not our protocol at all (its first 4 bytes read as a ~1.2 GB length). */
	const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	CLUSTER_ASSERT(c, cluster_send_raw(c, 1, http, sizeof(http) - 1, 200) == 0, "send");
	/* 3. A truncated frame: 100 bytes announced, 6 sent, then the connection closes. */
	const unsigned char trunc[] = {0, 0, 0, 100, 0, 0x93, 0x00, 0x00, 0x90, 0x90};
	CLUSTER_ASSERT(c, cluster_send_raw(c, 1, trunc, sizeof(trunc), 200) == 0, "send");
	int after = cluster_wait_log(c, 1, c->client_addr, before + 3, 5000);
	CLUSTER_EXPECT(c, after >= before + 3,
	               "each bad connection gets a log line naming %s (got %d)", c->client_addr,
	               after - before);

	/* 4. A node of another cluster whose seed is node 1. */
	struct cluster_opts o = {0};
	o.n = 1;
	o.first_host = 30;
	o.cluster_name = "other-cluster";
	o.gossip_interval_ms = ROUND_MS;
	o.seeds = c->nodes[1].addr;
	struct cluster *other = NULL;
	CLUSTER_ASSERT(c, cluster_new(&o, &other) == 0, "start the stranger");
	int refused = cluster_wait_log(c, 1, "other-cluster", 1, 10000);
	CLUSTER_EXPECT(c, refused >= 1,
	               "node 1 logs the refused handshake naming the other cluster");
	char code[3] = "";
	CLUSTER_EXPECT(c,
	               cluster_status_code(c, 1, other->nodes[1].addr, code) == 0 &&
	                       !strcmp(code, "??"),
	               "the stranger must not join (node 1 sees it as %s)", code);
	cluster_free(other);

	/* Still gossiping: node 1's heartbeat advances at node 2, and all stay UN. */
	int64_t hb1 = heartbeat_at(2, c->nodes[1].addr, NULL), hb2 = hb1;
	int64_t deadline = cluster_now_ms() + 5000;
	while (hb2 <= hb1 && cluster_now_ms() < deadline)
		hb2 = heartbeat_at(2, c->nodes[1].addr, NULL);
	CLUSTER_EXPECT(c, hb1 >= 0 && hb2 > hb1, "node 1's heartbeat at node 2: %lld then %lld",
	               (long long)hb1, (long long)hb2);
	expect_all_up("after bad input");
}
