/*
 * Several gossipers in one process, one loop, each with its own messaging on
 * its own loopback address (COLONNADE_TEST_NET.1, .2, ...) and real sockets,
 * gossiping every 50 ms: convergence, a killed node seen DOWN then UP after a
 * restart, a move to a new address, addresses taken over and given back
 * (displaced nodes), an announced shutdown, another cluster
 * kept out, seeds that do not resolve, two datacenters started at once.
 * Figures (convergence and detection times) are printed, never asserted
 * tighter than generous bounds.
 */
#include "gossip/gossiper.h"

#include "core/clock.h"
#include "core/log.h"

#include <criterion/criterion.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXN        24
#define INTERVAL_MS 50

struct tnode {
	struct messaging *m;
	struct gossiper *g;
	struct host_id h;
	int addr_idx;
	int64_t gen;
	int joins, alives, deads, restarts, removes, changes, displaces, displaced_flagged;
	int reclaims,
	        reclaimed_down; /* on_reclaimed; of them, the entry no longer displaced, DOWN */
	char last_change[32];
	bool running;
};

static struct tnode N[MAXN];
static struct ev_loop *L;
static struct net_loop *NL;
static uint16_t PORT;
static char SEED1[64], SEED2[64];
static char LOGPATH[64];
static char REPLACING[HOST_ID_STRLEN]; /* APP_REPLACING of the next node started, "" none */
static int LOGFD = -1;

static void host_of(int idx, char *out, size_t len)
{
	const char *base = getenv("COLONNADE_TEST_NET");
	snprintf(out, len, "%s.%d", base && *base ? base : "127.0.0", idx);
}

static void on_join(void *ctx, const struct gossip_endpoint *ep)
{
	(void)ep;
	((struct tnode *)ctx)->joins++;
}
static void on_alive(void *ctx, const struct gossip_endpoint *ep)
{
	(void)ep;
	((struct tnode *)ctx)->alives++;
}
static void on_dead(void *ctx, const struct gossip_endpoint *ep)
{
	(void)ep;
	((struct tnode *)ctx)->deads++;
}
static void on_restart(void *ctx, const struct gossip_endpoint *ep, int64_t g,
                       const struct net_addr *a)
{
	(void)ep;
	(void)g;
	(void)a;
	((struct tnode *)ctx)->restarts++;
}
static void on_remove(void *ctx, const struct gossip_endpoint *ep)
{
	(void)ep;
	((struct tnode *)ctx)->removes++;
}
static void on_displaced(void *ctx, const struct gossip_endpoint *ep)
{
	struct tnode *t = ctx;
	t->displaces++;
	t->displaced_flagged += gossip_endpoint_is_displaced(ep) && !gossip_endpoint_is_alive(ep);
}
static void on_reclaimed(void *ctx, const struct gossip_endpoint *ep)
{
	struct tnode *t = ctx;
	t->reclaims++;
	t->reclaimed_down += !gossip_endpoint_is_displaced(ep) && !gossip_endpoint_is_alive(ep);
}
static void on_change(void *ctx, const struct gossip_endpoint *ep, enum app_state key,
                      const uint8_t *v, size_t len)
{
	(void)ep;
	struct tnode *t = ctx;
	t->changes++;
	if (key == APP_STATUS && len < sizeof(t->last_change)) {
		memcpy(t->last_change, v, len);
		t->last_change[len] = 0;
	}
}

static const struct gossip_listener LISTENER = {
        .on_join = on_join,
        .on_alive = on_alive,
        .on_dead = on_dead,
        .on_change = on_change,
        .on_restart = on_restart,
        .on_remove = on_remove,
        .on_displaced = on_displaced,
        .on_reclaimed = on_reclaimed,
};

/* Start node i on address .addr_idx with the given seeds (NULL = SEED1 only). */
static void start_node_ex(int i, int addr_idx, const char *cluster, const char *dc,
                          const struct gossip_seed *seeds, unsigned n_seeds)
{
	struct tnode *t = &N[i];
	char host[64];
	host_of(addr_idx, host, sizeof(host));
	struct messaging_config mc = {.cluster_name = cluster,
	                              .reconnect_min_ms = 20,
	                              .reconnect_max_ms = 200,
	                              .connect_timeout_ms = 500};
	for (int k = 0; k < HOST_ID_LEN; k++)
		t->h.b[k] = (uint8_t)(0x10 * k + 1);
	t->h.b[0] = (uint8_t)(i + 1); /* distinct for every node index */

	mc.host_id = t->h;
	cr_assert_eq(net_addr_parse(host, PORT, &mc.listen, NULL), 0);
	struct cerr e = {0};
	cr_assert_eq(messaging_new(NL, &mc, &t->m, &e), 0, "node %d: %s", i, e.msg);
	if (PORT == 0)
		PORT = net_addr_port(messaging_listen_addr(t->m));
	struct gossip_seed def = {.host = SEED1, .port = PORT};
	if (!seeds) {
		seeds = &def;
		n_seeds = 1;
	}
	t->gen = t->gen ? t->gen + 1 : 1700000000 + i;
	struct gossiper_config gc = {.messaging = t->m,
	                             .generation = t->gen,
	                             .interval_ms = INTERVAL_MS,
	                             .seeds = seeds,
	                             .n_seeds = n_seeds};
	cr_assert_eq(gossiper_new(&gc, &t->g, &e), 0, "%s", e.msg);
	cr_assert_eq(gossiper_add_listener(t->g, &LISTENER, t), 0);
	gossiper_set_app_str(t->g, APP_DC, dc);
	gossiper_set_app_str(t->g, APP_RACK, "rack1");
	gossiper_set_app_str(t->g, APP_STATUS, GOSSIP_STATUS_NORMAL);
	if (REPLACING[0])
		gossiper_set_app_str(t->g, APP_REPLACING, REPLACING);
	cr_assert_eq(gossiper_start(t->g), 0);
	t->addr_idx = addr_idx;
	t->running = true;
}

static void start_node(int i, int addr_idx)
{
	start_node_ex(i, addr_idx, "test", "dc1", NULL, 0);
}

/* A kill: no goodbye, sockets just close. */
static void kill_node(int i)
{
	gossiper_free(N[i].g);
	messaging_free(N[i].m);
	N[i].g = NULL;
	N[i].m = NULL;
	N[i].running = false;
}

static void tick_cb(struct ev_loop *l, ev_timer *w, int r)
{
	(void)l;
	(void)w;
	(void)r;
}

static void run_ms(int ms)
{
	ev_timer t;
	ev_timer_init(&t, tick_cb, 0.005, 0.005);
	ev_timer_start(L, &t);
	int64_t end = clock_mono_ms() + ms;
	while (clock_mono_ms() < end)
		ev_run(L, EVRUN_ONCE);
	ev_timer_stop(L, &t);
}

/* Run until pred() or timeout; returns the ms it took, or -1. */
static int wait_for(bool (*pred)(void *), void *arg, int timeout_ms)
{
	int64_t t0 = clock_mono_ms();
	while (clock_mono_ms() - t0 < timeout_ms) {
		if (pred(arg))
			return (int)(clock_mono_ms() - t0);
		run_ms(10);
	}
	return pred(arg) ? (int)(clock_mono_ms() - t0) : -1;
}

/* Every running node sees every other running node UP and knows `total` endpoints. */
static bool converged(void *arg)
{
	int total = *(int *)arg;
	int running = 0;
	for (int i = 0; i < MAXN; i++)
		running += N[i].running;
	for (int i = 0; i < MAXN; i++) {
		if (!N[i].running)
			continue;
		if ((int)gossiper_endpoint_count(N[i].g) != total ||
		    (int)gossiper_live_count(N[i].g) != running - 1)
			return false;
	}
	return true;
}

struct seen {
	int who;
	bool alive;
};

/* Every running node other than `who` sees `who` (by host id) alive / dead. */
static bool all_see(void *arg)
{
	struct seen *s = arg;
	for (int i = 0; i < MAXN; i++) {
		if (!N[i].running || i == s->who)
			continue;
		const struct gossip_endpoint *ep = gossiper_find(N[i].g, &N[s->who].h);
		if (!ep || gossip_endpoint_is_alive(ep) != s->alive)
			return false;
		if (s->alive && N[s->who].running &&
		    gossip_endpoint_generation(ep) != N[s->who].gen)
			return false;
	}
	return true;
}

static bool log_has(const char *needle)
{
	static char buf[1 << 20];
	ssize_t n = pread(LOGFD, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return strstr(buf, needle) != NULL;
}

static void setup(void)
{
	memset(N, 0, sizeof(N));
	REPLACING[0] = 0;
	PORT = 0;
	host_of(1, SEED1, sizeof(SEED1));
	host_of(4, SEED2, sizeof(SEED2));
	L = ev_loop_new(EVFLAG_AUTO);
	cr_assert_eq(net_loop_new(L, &NL), 0);
	strcpy(LOGPATH, "/tmp/colonnade-gossipcluster-XXXXXX");
	LOGFD = mkstemp(LOGPATH);
	log_set_fd(LOGFD);
}

static void teardown(void)
{
	for (int i = 0; i < MAXN; i++)
		if (N[i].running)
			kill_node(i);
	net_loop_free(NL);
	ev_loop_destroy(L);
	log_set_fd(2);
	if (getenv("GOSSIP_TEST_LOG")) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "cat %s >&2", LOGPATH);
		if (system(cmd) != 0)
			fprintf(stderr, "could not print the log\n");
	}
	close(LOGFD);
	unlink(LOGPATH);
}

TestSuite(gossip_cluster, .init = setup, .fini = teardown, .timeout = 120);

Test(gossip_cluster, five_nodes_converge_detect_kill_and_restart)
{
	for (int i = 0; i < 5; i++)
		start_node(i, i + 1);
	int five = 5;
	int ms = wait_for(converged, &five, 10000);
	cr_assert(ms >= 0, "5 nodes did not converge in 10 s");
	struct gossiper_stats st;
	gossiper_get_stats(N[0].g, &st);
	fprintf(stderr, "gossip: 5 nodes converged in %d ms (%llu rounds of %d ms on node 1)\n", ms,
	        (unsigned long long)st.rounds, INTERVAL_MS);
	/* App states travelled: node 5 knows node 2's DC and status. */
	const struct gossip_endpoint *ep = gossiper_find(N[4].g, &N[1].h);
	cr_assert(ep);
	size_t len;
	const uint8_t *dc = gossip_endpoint_app(ep, APP_DC, &len, NULL);
	cr_assert(dc && len == 3 && memcmp(dc, "dc1", 3) == 0);
	cr_expect_eq(N[4].joins, 4);
	cr_expect_eq(N[4].alives, 4);

	/* A state change reaches everyone through on_change. */
	gossiper_set_app_str(N[1].g, APP_STATUS, GOSSIP_STATUS_LEAVING);
	run_ms(1000);
	for (int i = 0; i < 5; i++)
		if (i != 1)
			cr_expect_str_eq(N[i].last_change, "LEAVING", "node %d", i + 1);

	/* Kill node 3: DOWN everywhere within the phi window. */
	kill_node(2);
	int64_t t0 = clock_mono_ms();
	struct seen down = {.who = 2, .alive = false};
	ms = wait_for(all_see, &down, 20000);
	cr_assert(ms >= 0, "the killed node was not seen DOWN by everyone in 20 s");
	fprintf(stderr, "gossip: killed node seen DOWN by all 4 others after %lld ms\n",
	        (long long)(clock_mono_ms() - t0));
	for (int i = 0; i < 5; i++)
		if (i != 2)
			cr_expect_eq(N[i].deads, 1, "node %d got one on_dead", i + 1);
	double phi = gossip_endpoint_phi(gossiper_find(N[0].g, &N[2].h));
	cr_expect(phi > 8.0, "phi %.2f past the threshold", phi);

	/* Restart it with a higher generation: UP again, on_restart everywhere. */
	start_node(2, 3);
	t0 = clock_mono_ms();
	struct seen up = {.who = 2, .alive = true};
	ms = wait_for(all_see, &up, 20000);
	cr_assert(ms >= 0, "the restarted node was not seen UP by everyone in 20 s");
	fprintf(stderr, "gossip: restarted node seen UP by all after %lld ms\n",
	        (long long)(clock_mono_ms() - t0));
	for (int i = 0; i < 5; i++)
		if (i != 2)
			cr_expect_eq(N[i].restarts, 1, "node %d got on_restart", i + 1);
	cr_expect(wait_for(converged, &five, 5000) >= 0);
}

Test(gossip_cluster, node_back_at_a_new_address_keeps_its_identity)
{
	for (int i = 0; i < 3; i++)
		start_node(i, i + 1);
	int three = 3;
	cr_assert(wait_for(converged, &three, 10000) >= 0);
	kill_node(2);
	struct seen down = {.who = 2, .alive = false};
	cr_assert(wait_for(all_see, &down, 20000) >= 0);
	/* Same host id, higher generation, address .6 instead of .3. */
	start_node(2, 6);
	struct seen up = {.who = 2, .alive = true};
	cr_assert(wait_for(all_see, &up, 20000) >= 0);
	char want[64];
	host_of(6, want, sizeof(want));
	for (int i = 0; i < 2; i++) {
		const struct gossip_endpoint *ep = gossiper_find(N[i].g, &N[2].h);
		cr_assert(ep);
		cr_expect_str_eq(gossip_endpoint_host(ep), want, "node %d updated the address", i);
		cr_expect_eq(gossiper_endpoint_count(N[i].g), 3, "the old entry is gone");
		char old[64];
		host_of(3, old, sizeof(old));
		struct net_addr oa;
		cr_assert_eq(net_addr_parse(old, PORT, &oa, NULL), 0);
		cr_expect_null(gossiper_find_addr(N[i].g, &oa));
	}
	cr_expect(log_has("restarted at a new address"));
}

static const char *addr_of(int i, int addr_idx, char *out, size_t len)
{
	(void)i;
	host_of(addr_idx, out, len);
	return out;
}

/*
 * Addresses move between host ids, tokens never leave with them: two nodes
 * swapping addresses keep their entries; a new host id at a DOWN owner's
 * address is refused (the owner stays, DOWN); one that says it replaces the
 * owner removes it for good (it does not come back through other peers).
 */
Test(gossip_cluster, address_takeover_keeps_the_owner_unless_replaced)
{
	for (int i = 0; i < 4; i++)
		start_node(i, i + 1);
	int four = 4;
	cr_assert(wait_for(converged, &four, 10000) >= 0);
	kill_node(2);
	kill_node(3);
	struct seen d2 = {.who = 2, .alive = false}, d3 = {.who = 3, .alive = false};
	cr_assert(wait_for(all_see, &d2, 20000) >= 0 && wait_for(all_see, &d3, 20000) >= 0);
	start_node(3, 3); /* node 3 at node 2's address, node 2 at node 3's */
	start_node(2, 4);
	struct seen u2 = {.who = 2, .alive = true}, u3 = {.who = 3, .alive = true};
	cr_assert(wait_for(all_see, &u2, 20000) >= 0, "node 2 UP at its new address everywhere");
	cr_assert(wait_for(all_see, &u3, 20000) >= 0, "node 3 UP at its new address everywhere");
	char a3[64], a4[64];
	for (int i = 0; i < 2; i++) {
		cr_expect_eq(gossiper_endpoint_count(N[i].g), 4, "node %d tracks 4 nodes", i);
		cr_expect_str_eq(gossip_endpoint_host(gossiper_find(N[i].g, &N[2].h)),
		                 addr_of(2, 4, a4, sizeof(a4)));
		cr_expect_str_eq(gossip_endpoint_host(gossiper_find(N[i].g, &N[3].h)),
		                 addr_of(3, 3, a3, sizeof(a3)));
		cr_expect_eq(N[i].removes, 0, "node %d removed nobody", i);
		/* Whichever of the two came back first at the other's address displaced it,
		 * unless its generation was not newer (then its own claim waited, displaced
		 * from the start, with no on_displaced): at most one, seen DOWN. */
		cr_expect_leq(N[i].displaces, 1, "node %d saw at most one node displaced (%d)", i,
		              N[i].displaces);
		cr_expect_eq(N[i].displaced_flagged, N[i].displaces,
		             "node %d: on_displaced sees the entry DOWN and displaced", i);
	}
	/* A new host id (node 5) at node 3's address while node 3 is down: refused. */
	kill_node(3);
	cr_assert(wait_for(all_see, &d3, 20000) >= 0);
	start_node(5, 3);
	run_ms(1500);
	for (int i = 0; i < 3; i++) {
		cr_expect_null(gossiper_find(N[i].g, &N[5].h), "node %d refused node 5", i);
		const struct gossip_endpoint *ep = gossiper_find(N[i].g, &N[3].h);
		cr_expect(ep && !gossip_endpoint_is_alive(ep), "node %d keeps node 3, DOWN", i);
	}
	cr_expect(log_has("refusing new host id"));
	/* Node 6 replaces node 3 at its address. */
	kill_node(5);
	host_id_format(&N[3].h, REPLACING);
	start_node(6, 3);
	REPLACING[0] = 0;
	struct seen u6 = {.who = 6, .alive = true};
	cr_assert(wait_for(all_see, &u6, 20000) >= 0, "node 6 UP everywhere");
	run_ms(1000);
	for (int i = 0; i < 3; i++) {
		cr_expect_null(gossiper_find(N[i].g, &N[3].h), "node %d removed node 3", i);
		cr_expect_eq(N[i].removes, 1, "node %d: one removal", i);
		cr_expect_eq(gossiper_endpoint_count(N[i].g), 4);
	}
}

struct displaced_at {
	int who, observers;
	uint64_t hb_min;
};

/* Observers 0..observers-1 track `who` at its running generation, displaced and DOWN,
 * with a heartbeat of at least hb_min. */
static bool seen_displaced(void *arg)
{
	struct displaced_at *d = arg;
	for (int i = 0; i < d->observers; i++) {
		const struct gossip_endpoint *ep = gossiper_find(N[i].g, &N[d->who].h);
		if (!ep || gossip_endpoint_generation(ep) != N[d->who].gen ||
		    !gossip_endpoint_is_displaced(ep) || gossip_endpoint_is_alive(ep) ||
		    gossip_endpoint_heartbeat(ep) < d->hb_min)
			return false;
	}
	return true;
}

/*
 * A node displaced from the start while it runs: it came back at its address while
 * the last claim there had a generation at least as high (the clock of the node that
 * held it was ahead).  Once that node shows up elsewhere, the next heartbeat of the
 * displaced one gives it its address back, in the same generation: on_reclaimed once,
 * then UP.
 */
Test(gossip_cluster, displaced_node_reclaims_its_address_when_the_holder_moves_on)
{
	for (int i = 0; i < 4; i++)
		start_node(i, i + 1);
	int four = 4;
	cr_assert(wait_for(converged, &four, 10000) >= 0);
	kill_node(2);
	kill_node(3);
	struct seen d2 = {.who = 2, .alive = false}, d3 = {.who = 3, .alive = false};
	cr_assert(wait_for(all_see, &d2, 20000) >= 0 && wait_for(all_see, &d3, 20000) >= 0);
	N[3].gen += 1000; /* node 3's clock is ahead */
	start_node(3, 3); /* at node 2's address: node 2 is displaced */
	struct seen u3 = {.who = 3, .alive = true};
	cr_assert(wait_for(all_see, &u3, 20000) >= 0, "node 3 UP at node 2's address");
	kill_node(3);
	cr_assert(wait_for(all_see, &d3, 20000) >= 0);
	start_node(2, 3); /* back at its address, its generation below node 3's there */
	struct displaced_at d = {.who = 2, .observers = 2, .hb_min = 0};
	cr_assert(wait_for(seen_displaced, &d, 20000) >= 0,
	          "nodes 0 and 1 track node 2's new generation, displaced, DOWN");
	/* Its heartbeats keep coming (it gossips to them): still displaced, no UP. */
	for (int i = 0; i < 2; i++) {
		uint64_t hb = gossip_endpoint_heartbeat(gossiper_find(N[i].g, &N[2].h));
		d.hb_min = hb > d.hb_min ? hb : d.hb_min;
	}
	d.hb_min += 20;
	cr_assert(wait_for(seen_displaced, &d, 20000) >= 0,
	          "node 2's heartbeats reach nodes 0 and 1 while it is displaced");
	for (int i = 0; i < 2; i++)
		cr_expect_eq(N[i].reclaims, 0, "node %d: no on_reclaimed while node 3 holds it", i);
	start_node(3, 5); /* node 3 moves on: the address is node 2's alone again */
	struct seen u2 = {.who = 2, .alive = true};
	cr_assert(wait_for(all_see, &u2, 20000) >= 0, "node 2 UP everywhere at its address");
	cr_assert(wait_for(all_see, &u3, 20000) >= 0, "node 3 UP everywhere at its new address");
	char a3[64];
	for (int i = 0; i < 2; i++) {
		const struct gossip_endpoint *ep = gossiper_find(N[i].g, &N[2].h);
		cr_expect(!gossip_endpoint_is_displaced(ep), "node %d: node 2 not displaced", i);
		cr_expect_str_eq(gossip_endpoint_host(ep), addr_of(2, 3, a3, sizeof(a3)));
		cr_expect_eq(N[i].reclaims, 1, "node %d: one on_reclaimed (%d)", i, N[i].reclaims);
		cr_expect_eq(N[i].reclaimed_down, 1,
		             "node %d: on_reclaimed sees node 2 no longer displaced, not UP yet",
		             i);
		cr_expect_eq(N[i].removes, 0, "node %d removed nobody", i);
	}
	cr_expect(log_has("has its address to itself again"));
}

Test(gossip_cluster, announced_shutdown_is_down_at_once)
{
	for (int i = 0; i < 3; i++)
		start_node(i, i + 1);
	int three = 3;
	cr_assert(wait_for(converged, &three, 10000) >= 0);
	gossiper_stop(N[1].g, true);
	run_ms(20); /* let the announcements leave */
	int64_t t0 = clock_mono_ms();
	kill_node(1);
	struct seen down = {.who = 1, .alive = false};
	int ms = wait_for(all_see, &down, 5000);
	cr_assert(ms >= 0);
	cr_expect(clock_mono_ms() - t0 < 300, "DOWN by announcement, not by phi (%lld ms)",
	          (long long)(clock_mono_ms() - t0));
	const struct gossip_endpoint *ep = gossiper_find(N[0].g, &N[1].h);
	cr_expect(gossip_endpoint_is_shutdown(ep));
	cr_expect(log_has("announced its shutdown"));
}

Test(gossip_cluster, other_cluster_is_kept_out)
{
	for (int i = 0; i < 3; i++)
		start_node(i, i + 1);
	int three = 3;
	cr_assert(wait_for(converged, &three, 10000) >= 0);
	start_node_ex(3, 4, "intruders", "dc1", NULL, 0);
	run_ms(1000);
	N[3].running = false; /* do not count it in converged() */
	cr_expect(converged(&three), "the cluster still has exactly its 3 nodes");
	cr_expect_eq(gossiper_endpoint_count(N[3].g), 1, "the intruder learnt nobody");
	N[3].running = true;
	cr_expect(log_has("cluster 'intruders'"), "the refusal names the other cluster");
}

Test(gossip_cluster, unresolvable_seed_and_lonely_node)
{
	struct gossip_seed seeds[2] = {{.host = "no-such-host.invalid", .port = 0},
	                               {.host = SEED1, .port = 0}};
	start_node(0, 1);
	seeds[1].port = PORT;
	start_node_ex(1, 2, "test", "dc1", seeds, 2);
	int two = 2;
	cr_assert(wait_for(converged, &two, 10000) >= 0, "the resolvable seed is enough");
	run_ms(600); /* the seed tried first is random: give the bad one its turns */
	cr_expect(log_has("no-such-host.invalid"), "the bad seed is named in the log");

	/* A node whose only seed is an address where nobody listens keeps trying and says so. */
	char dead[64];
	host_of(7, dead, sizeof(dead));
	struct gossip_seed lonely = {.host = dead, .port = PORT};
	start_node_ex(2, 3, "test", "dc1", &lonely, 1);
	run_ms(1500);
	cr_expect(log_has("no other node reachable"), "a lonely node says it is alone");
	cr_expect(N[2].running && gossiper_endpoint_count(N[2].g) == 1);
}

Test(gossip_cluster, single_node_seeded_by_itself_does_not_complain)
{
	start_node(0, 1); /* its seed is its own address */
	run_ms(1500);
	cr_expect(!log_has("no other node reachable"), "a one-node cluster is alone by design");
	cr_expect_eq(gossiper_endpoint_count(N[0].g), 1);
}

Test(gossip_cluster, two_datacenters_started_all_at_once)
{
	struct gossip_seed seeds[2] = {{.host = SEED1, .port = 0}, {.host = SEED2, .port = 0}};
	/* Bind node 1 first to learn the port, then start everything in one go. */
	start_node_ex(0, 1, "test", "dc1", NULL, 0);
	seeds[0].port = seeds[1].port = PORT;
	gossiper_free(N[0].g);
	messaging_free(N[0].m);
	N[0].gen = 0;
	for (int i = 0; i < 6; i++)
		start_node_ex(i, i + 1, "test", i < 3 ? "dc1" : "dc2", seeds, 2);
	int six = 6;
	int ms = wait_for(converged, &six, 15000);
	cr_assert(ms >= 0, "2 x 3 nodes did not converge");
	fprintf(stderr, "gossip: 2 DCs x 3 nodes started at once converged in %d ms\n", ms);
	const struct gossip_endpoint *ep = gossiper_find(N[0].g, &N[5].h);
	size_t len;
	const uint8_t *dc = gossip_endpoint_app(ep, APP_DC, &len, NULL);
	cr_assert(dc && len == 3 && memcmp(dc, "dc2", 3) == 0);
}

Test(gossip_cluster, twenty_nodes_figures)
{
	for (int i = 0; i < 20; i++)
		start_node(i, i + 1);
	int twenty = 20;
	int ms = wait_for(converged, &twenty, 20000);
	if (ms < 0)
		for (int i = 0; i < 20; i++)
			fprintf(stderr, "node %d: %u endpoints, %u live\n", i + 1,
			        gossiper_endpoint_count(N[i].g), gossiper_live_count(N[i].g));
	cr_assert(ms >= 0, "20 nodes did not converge in 20 s");

	struct gossiper_stats st0[20], st1[20];
	for (int i = 0; i < 20; i++)
		gossiper_get_stats(N[i].g, &st0[i]);
	run_ms(2000);
	uint64_t bytes = 0, rounds = 0;
	for (int i = 0; i < 20; i++) {
		gossiper_get_stats(N[i].g, &st1[i]);
		bytes += st1[i].bytes_out - st0[i].bytes_out;
		rounds += st1[i].rounds - st0[i].rounds;
	}
	cr_expect(converged(&twenty), "still converged after 2 s");
	double per_round = (double)bytes / (double)rounds;
	fprintf(stderr,
	        "gossip: 20 nodes converged in %d ms (%d ms rounds); steady state %.0f gossip "
	        "bytes "
	        "sent per node per round (= bytes/s per node at the default 1 s interval)\n",
	        ms, INTERVAL_MS, per_round);
}
