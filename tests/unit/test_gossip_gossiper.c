/*
 * gossip/gossiper: digest logic, golden bytes of SYN and ACK2 as a real
 * gossiper sends them to a fake peer (a bare messaging), and bad payloads.
 */
#include "gossip/gossiper.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/msgpk.h"

#include <criterion/criterion.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Test(gossip_digest, examine_like_cassandra)
{
	uint64_t from = 99;
	/* Unknown endpoint: ask for everything. */
	cr_expect_eq(gossip_examine_digest(false, 0, 0, 5, 10, &from), DIGEST_REQUEST);
	cr_expect_eq(from, 0);
	/* They have a newer generation: ask for everything. */
	cr_expect_eq(gossip_examine_digest(true, 4, 100, 5, 10, &from), DIGEST_REQUEST);
	cr_expect_eq(from, 0);
	/* They have an older generation: send all of ours. */
	cr_expect_eq(gossip_examine_digest(true, 5, 3, 4, 100, &from), DIGEST_SEND);
	cr_expect_eq(from, 0);
	/* Same generation, they are ahead: ask for what is above our max. */
	cr_expect_eq(gossip_examine_digest(true, 5, 7, 5, 10, &from), DIGEST_REQUEST);
	cr_expect_eq(from, 7);
	/* Same generation, we are ahead: send what is above their max. */
	cr_expect_eq(gossip_examine_digest(true, 5, 10, 5, 7, &from), DIGEST_SEND);
	cr_expect_eq(from, 7);
	/* Equal: nothing. */
	cr_expect_eq(gossip_examine_digest(true, 5, 10, 5, 10, &from), DIGEST_NOTHING);
}

Test(gossip_digest, next_generation_always_increases)
{
	int64_t now = clock_wall_s();
	cr_expect(gossiper_next_generation(0) >= now);
	cr_expect_eq(gossiper_next_generation(now + 1000), now + 1001,
	             "a clock behind the persisted generation still moves it forward");
}

/* ---- a gossiper against a fake peer --------------------------------------------------------- */

static struct ev_loop *L;
static struct net_loop *NL;
static char LOGPATH[64];
static int LOGFD = -1;

static struct net_addr test_addr(int n, uint16_t port)
{
	const char *base = getenv("COLONNADE_TEST_NET");
	char h[64];
	snprintf(h, sizeof(h), "%s.%d", base && *base ? base : "127.0.0", n);
	struct net_addr a;
	cr_assert_eq(net_addr_parse(h, port, &a, NULL), 0);
	return a;
}

static struct host_id hid(uint8_t seed)
{
	struct host_id h;
	for (int i = 0; i < HOST_ID_LEN; i++)
		h.b[i] = (uint8_t)(seed + i);
	return h;
}

static void tick_cb(struct ev_loop *l, ev_timer *w, int r)
{
	(void)l;
	(void)w;
	(void)r;
}

static bool run_until(const int *flag, int want, int ms)
{
	ev_timer t;
	ev_timer_init(&t, tick_cb, 0.005, 0.005);
	ev_timer_start(L, &t);
	int64_t end = clock_mono_ms() + ms;
	while (*flag < want && clock_mono_ms() < end)
		ev_run(L, EVRUN_ONCE);
	ev_timer_stop(L, &t);
	return *flag >= want;
}

static bool log_has(const char *needle)
{
	static char buf[1 << 16];
	ssize_t n = pread(LOGFD, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return strstr(buf, needle) != NULL;
}

struct capture {
	int n;
	struct buf first; /* payload of the first message */
};

static int capture_handler(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	(void)m;
	struct capture *c = ctx;
	if (c->n++ == 0)
		buf_put(&c->first, msg->payload, msg->payload_len);
	return 0;
}

static struct messaging *A_m, *B_m;
static struct gossiper *A_g;
static struct capture syn, ack, ack2;

static void setup(void)
{
	L = ev_loop_new(EVFLAG_AUTO);
	cr_assert_eq(net_loop_new(L, &NL), 0);
	strcpy(LOGPATH, "/tmp/colonnade-gossiptest-XXXXXX");
	LOGFD = mkstemp(LOGPATH);
	log_set_fd(LOGFD);
	memset(&syn, 0, sizeof(syn));
	memset(&ack, 0, sizeof(ack));
	memset(&ack2, 0, sizeof(ack2));
	struct messaging_config c = {.cluster_name = "test"};
	c.host_id = hid(0x20);
	c.listen = test_addr(2, 0);
	struct cerr e = {0};
	cr_assert_eq(messaging_new(NL, &c, &B_m, &e), 0, "%s", e.msg);
	messaging_register(B_m, VERB_GOSSIP_SYN, capture_handler, &syn);
	messaging_register(B_m, VERB_GOSSIP_ACK, capture_handler, &ack);
	messaging_register(B_m, VERB_GOSSIP_ACK2, capture_handler, &ack2);
	c.host_id = hid(0);
	c.listen = test_addr(1, 0);
	cr_assert_eq(messaging_new(NL, &c, &A_m, &e), 0, "%s", e.msg);
	char bhost[64];
	net_addr_host(messaging_listen_addr(B_m), bhost, sizeof(bhost));
	struct gossip_seed seed = {.host = bhost,
	                           .port = net_addr_port(messaging_listen_addr(B_m))};
	/* One round only during the test: the heartbeat stays put for golden bytes. */
	struct gossiper_config gc = {.messaging = A_m,
	                             .generation = 1700000000,
	                             .interval_ms = 60000,
	                             .seeds = &seed,
	                             .n_seeds = 1,
	                             .rng_seed = 1};
	cr_assert_eq(gossiper_new(&gc, &A_g, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	gossiper_free(A_g);
	messaging_free(A_m);
	messaging_free(B_m);
	net_loop_free(NL);
	ev_loop_destroy(L);
	buf_release(&syn.first);
	buf_release(&ack.first);
	buf_release(&ack2.first);
	log_set_fd(2);
	close(LOGFD);
	unlink(LOGPATH);
}

static void expect_bytes(const struct buf *b, const uint8_t *want, size_t n)
{
	cr_assert_eq(b->len, n, "length %zu, want %zu", b->len, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(b->data[i], want[i], "byte %zu: %02x, want %02x", i, b->data[i],
		             want[i]);
}

TestSuite(gossip_wire, .init = setup, .fini = teardown, .timeout = 30);

Test(gossip_wire, syn_and_ack2_golden_bytes)
{
	cr_assert_eq(gossiper_start(A_g), 0);
	cr_assert(run_until(&syn.n, 1, 3000), "the seed gets a SYN in the first round");
	/* heartbeat 1 at creation, HOST_ID is version 2, the round bumped the heartbeat to 3. */
	struct buf want;
	buf_init(&want);
	static const uint8_t head[] = {0x93, 0xa4, 't', 'e', 's', 't', 0xb2};
	buf_put(&want, head, sizeof(head));
	buf_put_str(&want, "Murmur3Partitioner");
	static const uint8_t dig[] = {0x91, 0x93, 0xc4, 0x10, 0,    1,    2,    3,   4,
	                              5,    6,    7,    8,    9,    10,   11,   12,  13,
	                              14,   15,   0xce, 0x65, 0x53, 0xf1, 0x00, 0x03};
	buf_put(&want, dig, sizeof(dig));
	expect_bytes(&syn.first, want.data, want.len);

	/* The fake peer asks for all of A's state. */
	struct host_id ah = hid(0);
	struct msg_out o;
	cr_assert_eq(messaging_begin_oneway(B_m, messaging_listen_addr(A_m), VERB_GOSSIP_ACK, &o),
	             0);
	msgpk_put_array(o.b, 2);
	msgpk_put_array(o.b, 1);
	msgpk_put_array(o.b, 3);
	msgpk_put_bin(o.b, ah.b, HOST_ID_LEN);
	msgpk_put_int(o.b, 1700000000);
	msgpk_put_uint(o.b, 0);
	msgpk_put_array(o.b, 0);
	cr_assert_eq(messaging_commit(&o), 0);
	cr_assert(run_until(&ack2.n, 1, 3000), "A answers with an ACK2");
	buf_reset(&want);
	static const uint8_t st[] = {0x91, 0x91, 0x96, 0xc4, 0x10, 0,    1,    2,    3,
	                             4,    5,    6,    7,    8,    9,    10,   11,   12,
	                             13,   14,   15,   0xce, 0x65, 0x53, 0xf1, 0x00, 0x03};
	buf_put(&want, st, sizeof(st));
	char ahost[64];
	net_addr_host(messaging_listen_addr(A_m), ahost, sizeof(ahost));
	msgpk_put_cstr(&want, ahost);
	msgpk_put_uint(&want, net_addr_port(messaging_listen_addr(A_m)));
	static const uint8_t apps[] = {0x91, 0x93, 0x05, 0x02, 0xc4, 36};
	buf_put(&want, apps, sizeof(apps));
	buf_put_str(&want, "00010203-0405-0607-0809-0a0b0c0d0e0f");
	expect_bytes(&ack2.first, want.data, want.len);
	cr_expect(gossiper_has_contact(A_g));
	buf_release(&want);
}

Test(gossip_wire, learns_a_peer_and_marks_it_up_after_echo)
{
	/*
	 * B is a bare messaging without an ECHO handler: it answers A's ECHO with a
	 * failure, so A learns B's state but never marks it UP.
	 */

	cr_assert_eq(gossiper_start(A_g), 0);
	cr_assert(run_until(&syn.n, 1, 3000));
	struct host_id bh = hid(0x20);
	struct msg_out o;
	cr_assert_eq(messaging_begin_oneway(B_m, messaging_listen_addr(A_m), VERB_GOSSIP_ACK2, &o),
	             0);
	msgpk_put_array(o.b, 1);
	msgpk_put_array(o.b, 1);
	msgpk_put_array(o.b, 6);
	msgpk_put_bin(o.b, bh.b, HOST_ID_LEN);
	msgpk_put_int(o.b, 1700000005);
	msgpk_put_uint(o.b, 9);
	char bhost[64];
	net_addr_host(messaging_listen_addr(B_m), bhost, sizeof(bhost));
	msgpk_put_cstr(o.b, bhost);
	msgpk_put_uint(o.b, net_addr_port(messaging_listen_addr(B_m)));
	msgpk_put_array(o.b, 2);
	msgpk_put_array(o.b, 3);
	msgpk_put_uint(o.b, APP_DC);
	msgpk_put_uint(o.b, 4);
	msgpk_put_bin(o.b, "dc2", 3);
	msgpk_put_array(o.b, 3);
	msgpk_put_uint(o.b, 40); /* an app state from a future release: skipped */
	msgpk_put_uint(o.b, 5);
	msgpk_put_bin(o.b, "?", 1);
	cr_assert_eq(messaging_commit(&o), 0);
	int known = 0;
	for (int i = 0; i < 100 && !known; i++) {
		int never = 0;
		run_until(&never, 1, 10);
		known = gossiper_endpoint_count(A_g) == 2;
	}
	cr_assert(known, "A learnt B from the ACK2");
	const struct gossip_endpoint *ep = gossiper_find(A_g, &bh);
	cr_assert(ep);
	size_t len;
	uint64_t ver;
	const uint8_t *dc = gossip_endpoint_app(ep, APP_DC, &len, &ver);
	cr_assert(dc);
	cr_expect_eq(len, 3);
	cr_expect(memcmp(dc, "dc2", 3) == 0);
	cr_expect_eq(ver, 4);
	cr_expect_eq(gossip_endpoint_generation(ep), 1700000005);
	cr_expect_eq(gossip_endpoint_heartbeat(ep), 9);
	cr_expect_str_eq(gossip_endpoint_host(ep), bhost);
	int never = 0;
	run_until(&never, 1, 200);
	cr_expect(!gossip_endpoint_is_alive(ep), "no echo answer: not UP");
}

Test(gossip_wire, malformed_payloads_are_refused_and_gossip_goes_on)
{
	cr_assert_eq(gossiper_start(A_g), 0);
	cr_assert(run_until(&syn.n, 1, 3000));
	/* A SYN that is not [cluster, partitioner, digests]. */
	cr_assert_eq(messaging_send(B_m, messaging_listen_addr(A_m), VERB_GOSSIP_SYN,
	                            "\x93\x01\x02\x03", 4),
	             0);
	/* An ACK2 whose state has an address that is not one. */
	struct host_id bh = hid(0x20);
	struct msg_out o;
	cr_assert_eq(messaging_begin_oneway(B_m, messaging_listen_addr(A_m), VERB_GOSSIP_ACK2, &o),
	             0);
	msgpk_put_array(o.b, 1);
	msgpk_put_array(o.b, 1);
	msgpk_put_array(o.b, 6);
	msgpk_put_bin(o.b, bh.b, HOST_ID_LEN);
	msgpk_put_int(o.b, 1700000005);
	msgpk_put_uint(o.b, 9);
	msgpk_put_cstr(o.b, "not-an-address");
	msgpk_put_uint(o.b, 7000);
	msgpk_put_array(o.b, 0);
	cr_assert_eq(messaging_commit(&o), 0);
	int never = 0;
	run_until(&never, 1, 300);
	cr_expect(log_has("malformed GOSSIP_SYN"), "the bad SYN is logged");
	cr_expect_eq(gossiper_endpoint_count(A_g), 1, "nothing was learnt from bad states");
	/* A valid SYN with B's digest still gets an ACK asking for B's state. */
	cr_assert_eq(messaging_begin_oneway(B_m, messaging_listen_addr(A_m), VERB_GOSSIP_SYN, &o),
	             0);
	msgpk_put_array(o.b, 3);
	msgpk_put_cstr(o.b, "test");
	msgpk_put_cstr(o.b, "Murmur3Partitioner");
	msgpk_put_array(o.b, 1);
	msgpk_put_array(o.b, 3);
	msgpk_put_bin(o.b, bh.b, HOST_ID_LEN);
	msgpk_put_int(o.b, 1700000005);
	msgpk_put_uint(o.b, 9);
	cr_assert_eq(messaging_commit(&o), 0);
	cr_assert(run_until(&ack.n, 1, 3000), "A still answers gossip");
	struct bufreader r;
	bufreader_init(&r, ack.first.data, ack.first.len);
	uint32_t n;
	cr_assert_eq(msgpk_expect_array(&r, 2), 0);
	cr_assert_eq(msgpk_read_array(&r, &n), 0);
	cr_expect_eq(n, 1, "one request: B's state");
	cr_assert_eq(msgpk_expect_array(&r, 3), 0);
	const uint8_t *p;
	uint32_t l;
	cr_assert_eq(msgpk_read_bin(&r, &p, &l), 0);
	cr_expect(l == 16 && memcmp(p, bh.b, 16) == 0);
	int64_t gen;
	uint64_t from;
	cr_assert_eq(msgpk_read_int(&r, &gen), 0);
	cr_assert_eq(msgpk_read_uint(&r, &from), 0);
	cr_expect_eq(gen, 1700000005);
	cr_expect_eq(from, 0);
	cr_assert_eq(msgpk_read_array(&r, &n), 0);
	cr_expect_eq(n, 1, "and A's own state, which B did not mention");
}

Test(gossip_wire, lying_digest_count_is_refused_without_a_big_allocation)
{
	struct buf b;
	buf_init(&b);
	msgpk_put_array(&b, 3);
	msgpk_put_cstr(&b, "test");
	msgpk_put_cstr(&b, "Murmur3Partitioner");
	msgpk_put_array(&b, 60000); /* 60000 digests claimed ... */
	for (int i = 0; i < 60000; i++)
		msgpk_put_nil(&b); /* ... one byte each: no digest is that small */
	struct host_id bh = hid(0x20);
	struct msg_in msg = {.verb = VERB_GOSSIP_SYN,
	                     .payload = b.data,
	                     .payload_len = b.len,
	                     .from = messaging_listen_addr(B_m),
	                     .from_host = &bh};
	cr_expect_eq(gossiper_receive(A_g, &msg), COL_ECORRUPT);
	msg.verb = VERB_GOSSIP_ACK;
	buf_reset(&b);
	msgpk_put_array(&b, 2);
	msgpk_put_array(&b, 100);
	for (int i = 0; i < 101; i++)
		msgpk_put_nil(&b);
	msg.payload = b.data;
	msg.payload_len = b.len;
	cr_expect_eq(gossiper_receive(A_g, &msg), COL_ECORRUPT);
	msg.verb = VERB_REGISTERED_MIN + 2; /* a verb above messaging */
	cr_expect_eq(gossiper_receive(A_g, &msg), COL_EINVAL, "not a gossip verb");
	buf_release(&b);
}

static void put_min_state(struct buf *b, const struct host_id *h, int64_t gen, uint64_t hb,
                          const struct net_addr *a)
{
	char host[64];
	net_addr_host(a, host, sizeof(host));
	msgpk_put_array(b, 6);
	msgpk_put_bin(b, h->b, HOST_ID_LEN);
	msgpk_put_int(b, gen);
	msgpk_put_uint(b, hb);
	msgpk_put_cstr(b, host);
	msgpk_put_uint(b, net_addr_port(a));
	msgpk_put_array(b, 0);
}

static int ack2_of(const struct host_id *h, int64_t gen, uint64_t hb, const struct net_addr *a)
{
	struct buf b;
	buf_init(&b);
	msgpk_put_array(&b, 1);
	msgpk_put_array(&b, 1);
	put_min_state(&b, h, gen, hb, a);
	struct host_id from = hid(0x20);
	struct msg_in msg = {.verb = VERB_GOSSIP_ACK2,
	                     .payload = b.data,
	                     .payload_len = b.len,
	                     .from = messaging_listen_addr(B_m),
	                     .from_host = &from};
	int rc = gossiper_receive(A_g, &msg);
	buf_release(&b);
	return rc;
}

static int count_lines(const char *needle)
{
	static char buf[1 << 16];
	ssize_t n = pread(LOGFD, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	int k = 0;
	for (const char *p = buf; (p = strstr(p, needle)) != NULL; p++)
		k++;
	return k;
}

Test(gossip_wire, implausible_generations_are_ignored_and_said_once)
{
	struct host_id ah = hid(0), bh = hid(0x20);
	const struct net_addr *ba = messaging_listen_addr(B_m);
	/* Our own host id, newer generation, from elsewhere: ignored, logged once. */
	cr_assert_eq(ack2_of(&ah, 1700000100, 5, ba), 0);
	cr_assert_eq(ack2_of(&ah, 1700000100, 6, ba), 0);
	cr_expect_eq(gossiper_endpoint_count(A_g), 1);
	cr_expect_eq(gossip_endpoint_generation(gossiper_self(A_g)), 1700000000);
	cr_expect_eq(count_lines("another node running with our identity"), 1);
	/* B at generation G, then a generation two years ahead: ignored, logged once. */
	cr_assert_eq(ack2_of(&bh, 1700000005, 3, ba), 0);
	int64_t far = 1700000005LL + 2 * 365 * 86400;
	cr_assert_eq(ack2_of(&bh, far, 1, ba), 0);
	cr_assert_eq(ack2_of(&bh, far, 2, ba), 0);
	const struct gossip_endpoint *ep = gossiper_find(A_g, &bh);
	cr_assert(ep);
	cr_expect_eq(gossip_endpoint_generation(ep), 1700000005);
	cr_expect_eq(count_lines("more than a year ahead"), 1);
	/* An older generation is ignored too, a plausible newer one is a restart. */
	cr_assert_eq(ack2_of(&bh, 1700000001, 50, ba), 0);
	cr_expect_eq(gossip_endpoint_heartbeat(ep), 3);
	cr_assert_eq(ack2_of(&bh, 1700000900, 1, ba), 0);
	cr_expect_eq(gossip_endpoint_generation(ep), 1700000900);
	cr_expect_eq(gossip_endpoint_heartbeat(ep), 1);
}

Test(gossip_wire, seed_given_by_name_is_resolved_without_blocking)
{
	/* A listener on 127.0.0.1 (ephemeral port) stands for a seed named "localhost". */
	struct messaging_config c = {.cluster_name = "test"};
	c.host_id = hid(0x40);
	cr_assert_eq(net_addr_parse("127.0.0.1", 0, &c.listen, NULL), 0);
	struct messaging *lm, *cm;
	cr_assert_eq(messaging_new(NL, &c, &lm, NULL), 0);
	struct capture got = {0};
	messaging_register(lm, VERB_GOSSIP_SYN, capture_handler, &got);
	c.host_id = hid(0x60);
	c.listen = test_addr(3, 0);
	cr_assert_eq(messaging_new(NL, &c, &cm, NULL), 0);
	struct gossip_seed seed = {.host = "localhost",
	                           .port = net_addr_port(messaging_listen_addr(lm))};
	struct gossiper_config gc = {.messaging = cm,
	                             .generation = 1700000000,
	                             .interval_ms = 50,
	                             .seeds = &seed,
	                             .n_seeds = 1};
	struct gossiper *cg;
	cr_assert_eq(gossiper_new(&gc, &cg, NULL), 0);
	int64_t t0 = clock_mono_ms();
	cr_assert_eq(gossiper_start(cg), 0);
	cr_expect(clock_mono_ms() - t0 < 50, "start does not wait for DNS");
	cr_assert(run_until(&got.n, 1, 5000), "the seed named localhost gets our SYN");
	struct gossiper_stats st;
	gossiper_get_stats(cg, &st);
	cr_expect_eq(st.seed_resolve_failures, 0);
	gossiper_free(cg);
	messaging_free(cm);
	messaging_free(lm);
	buf_release(&got.first);
}

/* ---- seeds with several addresses, re-resolved; the broadcast address -------------------------
 */

/* A resolver whose answer the test changes between rounds. */
struct fake_dns {
	struct net_addr addrs[8];
	int n;
	int calls;
};

static int fake_resolve(void *ctx, const char *name, struct net_addr *out, unsigned cap)
{
	struct fake_dns *d = ctx;
	cr_assert_str_eq(name, "dc1-seeds");
	d->calls++;
	int n = d->n < (int)cap ? d->n : (int)cap;
	for (int i = 0; i < n; i++)
		out[i] = d->addrs[i];
	return n;
}

static struct messaging *listener_at(int host, uint16_t port, uint8_t id, struct capture *cap)
{
	struct messaging_config c = {.cluster_name = "test"};
	c.host_id = hid(id);
	c.listen = test_addr(host, port);
	struct messaging *m;
	struct cerr e = {0};
	cr_assert_eq(messaging_new(NL, &c, &m, &e), 0, "%s", e.msg);
	messaging_register(m, VERB_GOSSIP_SYN, capture_handler, cap);
	return m;
}

Test(gossip_wire, seed_name_contributes_every_address_and_is_resolved_again)
{
	/* Three listeners on one port at three addresses: the seed's port is one. */
	struct capture c5 = {0}, c6 = {0}, c8 = {0}, self = {0};
	struct messaging *m5 = listener_at(5, 0, 0x50, &c5);
	uint16_t port = net_addr_port(messaging_listen_addr(m5));
	struct messaging *m6 = listener_at(6, port, 0x60, &c6);
	struct messaging *m8 = listener_at(8, port, 0x80, &c8);
	struct messaging *cm = listener_at(9, port, 0x90, &self);
	/* The name stands for a dead address, two live ones and the gossiper itself. */
	struct fake_dns d = {.n = 4};
	d.addrs[0] = test_addr(7, 0);
	d.addrs[1] = test_addr(5, 0);
	d.addrs[2] = test_addr(6, 0);
	d.addrs[3] = test_addr(9, 0);
	struct gossip_seed seed = {.host = "dc1-seeds", .port = port};
	struct gossiper_config gc = {.messaging = cm,
	                             .generation = 1700000000,
	                             .interval_ms = 10,
	                             .seeds = &seed,
	                             .n_seeds = 1,
	                             .resolve = fake_resolve,
	                             .resolve_ctx = &d};
	struct gossiper *cg;
	cr_assert_eq(gossiper_new(&gc, &cg, NULL), 0);
	cr_assert_eq(gossiper_start(cg), 0);
	cr_assert(run_until(&c5.n, 1, 5000), "the name's second address gets a SYN");
	cr_assert(run_until(&c6.n, 1, 5000), "the name's third address gets a SYN");
	cr_expect_eq(self.n, 0, "an address that is our own is never a seed to gossip to");

	/* The name now stands for another address only: the next tries follow it. */
	d.n = 1;
	d.addrs[0] = test_addr(8, 0);
	int calls = d.calls;
	cr_assert(run_until(&c8.n, 1, 5000), "the address the name resolves to now gets a SYN");
	cr_expect_gt(d.calls, calls, "the name is looked up again at every try");
	int n5 = c5.n, n6 = c6.n;
	int after = c8.n;
	cr_assert(run_until(&c8.n, after + 20, 5000));
	cr_expect(c5.n - n5 <= 1 && c6.n - n6 <= 1,
	          "addresses the name no longer has are dropped (%d, %d more SYNs)", c5.n - n5,
	          c6.n - n6);

	/* A name that resolves to nothing: counted, said once, and the gossiper keeps trying. */
	d.n = 0;
	calls = d.calls;
	int zero = 0;
	run_until(&zero, 1, 200);
	struct gossiper_stats st;
	gossiper_get_stats(cg, &st);
	cr_expect_gt(st.seed_resolve_failures, 0);
	cr_expect_gt(d.calls, calls + 3);
	cr_expect(log_has("seed dc1-seeds: cannot resolve it"));
	gossiper_free(cg);
	messaging_free(cm);
	messaging_free(m8);
	messaging_free(m6);
	messaging_free(m5);
	buf_release(&c5.first);
	buf_release(&c6.first);
	buf_release(&c8.first);
	buf_release(&self.first);
}

struct from_capture {
	int n;
	struct net_addr from;
};

static int from_handler(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	(void)m;
	struct from_capture *c = ctx;
	c->from = *msg->from;
	c->n++;
	return 0;
}

Test(gossip_wire, broadcast_address_is_announced_in_gossip_and_handshake)
{
	/* C binds test_addr(12) and announces test_addr(13) (a NAT's public side). */
	struct capture got = {0};
	struct messaging *peer = listener_at(11, 0, 0x11, &got);
	struct messaging_config c = {.cluster_name = "test"};
	c.host_id = hid(0x12);
	c.listen = test_addr(12, 0);
	c.broadcast = test_addr(13, 7777);
	struct messaging *cm;
	cr_assert_eq(messaging_new(NL, &c, &cm, NULL), 0);
	struct net_addr want = test_addr(13, 7777);
	cr_expect(net_addr_equal(messaging_broadcast_addr(cm), &want));
	cr_expect(messaging_is_own_addr(cm, &want));
	cr_expect(messaging_is_own_addr(cm, messaging_listen_addr(cm)));

	/* A seed list naming our own public address and the peer: only the peer gets SYNs. */
	char phost[64], bhost[64];
	net_addr_host(messaging_listen_addr(peer), phost, sizeof(phost));
	net_addr_host(&want, bhost, sizeof(bhost));
	struct gossip_seed seeds[2] = {
	        {.host = bhost, .port = 7777},
	        {.host = phost, .port = net_addr_port(messaging_listen_addr(peer))}};
	struct gossiper_config gc = {.messaging = cm,
	                             .generation = 1700000000,
	                             .interval_ms = 10,
	                             .seeds = seeds,
	                             .n_seeds = 2};
	struct gossiper *cg;
	cr_assert_eq(gossiper_new(&gc, &cg, NULL), 0);
	cr_expect(net_addr_equal(gossip_endpoint_addr(gossiper_self(cg)), &want),
	          "our own endpoint state carries the broadcast address");
	cr_assert_eq(gossiper_start(cg), 0);
	cr_assert(run_until(&got.n, 1, 5000));

	/* A message's sender, as the peer's messaging knows it from the handshake. */
	struct from_capture from = {0};
	messaging_register(peer, VERB_ECHO, from_handler, &from);
	cr_assert_eq(messaging_send(cm, messaging_listen_addr(peer), VERB_ECHO, "\x90", 1), 0);
	cr_assert(run_until(&from.n, 1, 5000));
	cr_expect(net_addr_equal(&from.from, &want),
	          "the peer knows us by our broadcast address (from the handshake)");
	gossiper_free(cg);
	messaging_free(cm);
	messaging_free(peer);
	buf_release(&got.first);
}
