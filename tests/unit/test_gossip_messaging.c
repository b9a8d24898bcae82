/*
 * gossip/messaging: golden bytes of the wire format, decoder robustness, and
 * live nodes on loopback (COLONNADE_TEST_NET, ephemeral ports).
 */
#include "gossip/messaging.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/msgpk.h"

#include <criterion/criterion.h>
#include <ev.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * Verbs of a module above messaging, as one would register them; their
 * numbers are the replication verbs' (10..13), so the golden bytes below are
 * those of real MUTATION and READ frames.
 */
enum { T_VERB_A = 10, T_VERB_A_RSP = 11, T_VERB_B = 12, T_VERB_B_RSP = 13 };

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

static void expect_bytes(const struct buf *b, const uint8_t *want, size_t n)
{
	cr_assert_eq(b->len, n, "length %zu, want %zu", b->len, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(b->data[i], want[i], "byte %zu: %02x, want %02x", i, b->data[i],
		             want[i]);
}

/* ---- codec ----------------------------------------------------------------------------------- */

Test(msg_codec, golden_oneway_and_request)
{
	struct msg_codec c;
	cr_assert_eq(msg_codec_init(&c, 0, 0), 0);
	struct buf b;
	buf_init(&b);
	size_t mark = msg_frame_begin(&b, VERB_GOSSIP_SYN, 0);
	msgpk_put_array(&b, 0);
	cr_assert_eq(msg_frame_end(&c, &b, mark, 0), 0);
	static const uint8_t oneway[] = {0, 0, 0, 5, 0x00, 0x93, 0x01, 0x00, 0x90};
	expect_bytes(&b, oneway, sizeof(oneway));

	buf_reset(&b);
	mark = msg_frame_begin(&b, T_VERB_A, 0x100001);
	msgpk_put_cstr(&b, "x");
	cr_assert_eq(msg_frame_end(&c, &b, mark, 0), 0);
	static const uint8_t req[] = {0,    0,    0,    10,   0x00, 0x93, 0x0a,
	                              0xce, 0x00, 0x10, 0x00, 0x01, 0xa1, 'x'};
	expect_bytes(&b, req, sizeof(req));

	buf_reset(&b);
	mark = msg_frame_begin(&b, T_VERB_A_RSP, 7);
	msgpk_put_nil(&b);
	cr_assert_eq(msg_frame_end(&c, &b, mark, MSG_F_RESPONSE), 0);
	static const uint8_t rsp[] = {0, 0, 0, 5, 0x02, 0x93, 0x0b, 0x07, 0xc0};
	expect_bytes(&b, rsp, sizeof(rsp));
	struct msg_in in;
	cr_assert_eq(msg_decode(&c, b.data, b.len, &in, NULL), 0);
	cr_expect_eq(in.verb, T_VERB_A_RSP);
	cr_expect_eq(in.id, 7);
	cr_expect_eq(in.flags, MSG_F_RESPONSE);
	cr_expect_eq(in.payload_len, 1);
	cr_expect_eq(in.payload[0], 0xc0);
	buf_release(&b);
	msg_codec_release(&c);
}

Test(msg_codec, golden_handshake)
{
	struct buf b;
	buf_init(&b);
	struct host_id h = hid(0);
	struct net_addr a;
	cr_assert_eq(net_addr_parse("127.0.3.1", 7000, &a, NULL), 0);
	msg_handshake_encode(&b, "test", &h, &a, HANDSHAKE_OK, "");
	static const uint8_t want[] = {
	        0x97,                       /* array of 7 */
	        0xa4, 't',  'e',  's', 't', /* cluster */
	        0x01,                       /* version */
	        0xc4, 0x10, 0,    1,   2,   3,   4,   5,   6,   7,
	        8,    9,    10,   11,  12,  13,  14,  15,            /* host id */
	        0xa9, '1',  '2',  '7', '.', '0', '.', '3', '.', '1', /* listen host */
	        0xcd, 0x1b, 0x58,                                    /* port 7000 */
	        0x00,                                                /* status */
	        0xa0,                                                /* reason "" */
	};
	expect_bytes(&b, want, sizeof(want));
	struct msg_handshake d;
	cr_assert_eq(msg_handshake_decode(b.data, b.len, &d, NULL), 0);
	cr_expect_eq(d.cluster_len, 4);
	cr_expect(memcmp(d.cluster, "test", 4) == 0);
	cr_expect_str_eq(d.listen_host, "127.0.3.1");
	cr_expect_eq(d.listen_port, 7000);
	cr_expect(host_id_equal(&d.host_id, &h));
	buf_release(&b);
}

Test(msg_codec, host_id_text)
{
	struct host_id h = hid(0xf0), back;
	char s[HOST_ID_STRLEN];
	host_id_format(&h, s);
	cr_expect_str_eq(s, "f0f1f2f3-f4f5-f6f7-f8f9-fafbfcfdfeff");
	cr_assert_eq(host_id_parse(s, &back), 0);
	cr_expect(host_id_equal(&h, &back));
	cr_expect_eq(host_id_parse("f0f1f2f3-f4f5-f6f7-f8f9-fafbfcfdfef", &back), COL_EINVAL);
	cr_expect_eq(host_id_parse("f0f1f2f3f4f5-f6f7-f8f9-fafbfcfdfeff0", &back), COL_EINVAL);
}

Test(msg_codec, large_bodies_compressed_and_restored)
{
	struct msg_codec c;
	cr_assert_eq(msg_codec_init(&c, 1 << 20, 4096), 0);
	struct buf b;
	buf_init(&b);
	char text[20000];
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = "colonnade gossip "[i % 17];
	size_t mark = msg_frame_begin(&b, T_VERB_B_RSP, 99);
	msgpk_put_str(&b, text, sizeof(text));
	cr_assert_eq(msg_frame_end(&c, &b, mark, MSG_F_RESPONSE), 0);
	cr_expect_eq(b.data[4], MSG_F_RESPONSE | MSG_F_ZSTD);
	cr_expect(b.len < 2000, "compressed to %zu bytes", b.len);
	struct msg_in in;
	struct cerr e = {0};
	cr_assert_eq(msg_decode(&c, b.data, b.len, &in, &e), 0, "%s", e.msg);
	struct bufreader r;
	bufreader_init(&r, in.payload, in.payload_len);
	const uint8_t *p;
	uint32_t n;
	cr_assert_eq(msgpk_read_str(&r, &p, &n), 0);
	cr_assert_eq(n, sizeof(text));
	cr_expect(memcmp(p, text, n) == 0);
	/* Small bodies stay plain. */
	buf_reset(&b);
	mark = msg_frame_begin(&b, T_VERB_B_RSP, 99);
	msgpk_put_str(&b, text, 100);
	cr_assert_eq(msg_frame_end(&c, &b, mark, MSG_F_RESPONSE), 0);
	cr_expect_eq(b.data[4], MSG_F_RESPONSE);
	/* Over max_message: refused and rolled back. */
	buf_reset(&b);
	mark = msg_frame_begin(&b, T_VERB_B_RSP, 99);
	static char big[(1 << 20) + 10];
	msgpk_put_bin(&b, big, sizeof(big));
	cr_expect_eq(msg_frame_end(&c, &b, mark, 0), COL_ETOOBIG);
	cr_expect_eq(b.len, 0);
	buf_release(&b);
	msg_codec_release(&c);
}

static int decode_bytes(struct msg_codec *c, const uint8_t *p, size_t n, struct cerr *e)
{
	struct msg_in in;
	cerr_clear(e);
	return msg_decode(c, p, n, &in, e);
}

Test(msg_codec, decoder_refuses_bad_frames)
{
	struct msg_codec c;
	cr_assert_eq(msg_codec_init(&c, 1 << 16, 0), 0);
	struct cerr e = {0};
	static const uint8_t ok[] = {0, 0, 0, 5, 0, 0x93, 0x01, 0x00, 0x90};
	cr_assert_eq(decode_bytes(&c, ok, sizeof(ok), &e), 0);
	/* Truncated anywhere. */
	for (size_t n = 0; n < sizeof(ok); n++)
		cr_expect_neq(decode_bytes(&c, ok, n, &e), 0, "truncated to %zu accepted", n);
	/* Unknown flag bits. */
	uint8_t f[sizeof(ok)];
	memcpy(f, ok, sizeof(ok));
	f[4] = 0x80;
	cr_expect_eq(decode_bytes(&c, f, sizeof(f), &e), COL_EPROTO);
	cr_expect(strstr(e.msg, "flags") != NULL, "%s", e.msg);
	f[4] = MSG_F_FAILURE;
	cr_expect_eq(decode_bytes(&c, f, sizeof(f), &e), COL_EPROTO);
	/* REPLY_HERE only on a request: not on a one-way message (id 0), nor on a response. */
	f[4] = MSG_F_REPLY_HERE;
	cr_expect_eq(decode_bytes(&c, f, sizeof(f), &e), COL_EPROTO);
	cr_expect(strstr(e.msg, "REPLY_HERE") != NULL, "%s", e.msg);
	static const uint8_t req[] = {0, 0, 0, 5, MSG_F_REPLY_HERE, 0x93, 0x01, 0x07, 0x90};
	cr_expect_eq(decode_bytes(&c, req, sizeof(req), &e), 0, "%s", e.msg);
	uint8_t rr[sizeof(req)];
	memcpy(rr, req, sizeof(req));
	rr[4] = MSG_F_REPLY_HERE | MSG_F_RESPONSE;
	cr_expect_eq(decode_bytes(&c, rr, sizeof(rr), &e), COL_EPROTO);
	/* Body not an array of 3; verb out of range; trailing bytes; response with id 0. */
	static const uint8_t two[] = {0, 0, 0, 4, 0, 0x92, 0x01, 0x00};
	cr_expect_eq(decode_bytes(&c, two, sizeof(two), &e), COL_ECORRUPT);
	static const uint8_t verb99[] = {0, 0, 0, 5, 0, 0x93, 0x40, 0x00, 0x90};
	cr_expect_eq(decode_bytes(&c, verb99, sizeof(verb99), &e), COL_ECORRUPT);
	static const uint8_t trail[] = {0, 0, 0, 6, 0, 0x93, 0x01, 0x00, 0x90, 0x90};
	cr_expect_eq(decode_bytes(&c, trail, sizeof(trail), &e), COL_ECORRUPT);
	cr_expect(strstr(e.msg, "after the payload") != NULL, "%s", e.msg);
	static const uint8_t rsp0[] = {0, 0, 0, 5, 2, 0x93, 0x0b, 0x00, 0x90};
	cr_expect_eq(decode_bytes(&c, rsp0, sizeof(rsp0), &e), COL_EPROTO);
	/* An array that claims 4 billion elements. */
	static const uint8_t liar[] = {0,    0,    0,    9,    0,    0x93, 0x01,
	                               0x00, 0xdd, 0xff, 0xff, 0xff, 0xff};
	cr_expect_eq(decode_bytes(&c, liar, sizeof(liar), &e), COL_ECORRUPT);
	/* zstd flag on bytes that are not zstd, and a zstd frame claiming 4 GiB. */
	static const uint8_t notz[] = {0, 0, 0, 5, 1, 0x93, 0x01, 0x00, 0x90};
	cr_expect_eq(decode_bytes(&c, notz, sizeof(notz), &e), COL_ECORRUPT);
	static const uint8_t bomb[] = {0,    0,    0,    14,   1,    0x28, 0xb5, 0x2f, 0xfd,
	                               0xa0, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00};
	int rc = decode_bytes(&c, bomb, sizeof(bomb), &e);
	cr_expect(rc == COL_ETOOBIG || rc == COL_ECORRUPT, "rc %d: %s", rc, e.msg);
	/* Random garbage never crashes and is never accepted as a valid frame header. */
	srand(7);
	uint8_t g[64];
	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)(rand() % 64);
		for (size_t k = 0; k < n; k++)
			g[k] = (uint8_t)rand();
		if (n >= 4)
			be32_store(g, (uint32_t)(n - 4));
		(void)decode_bytes(&c, g, n, &e);
	}
	msg_codec_release(&c);
}

Test(msg_codec, handshake_decoder_refuses_bad_payloads)
{
	struct msg_handshake h;
	struct cerr e = {0};
	struct buf b;
	buf_init(&b);
	msgpk_put_array(&b, 7);
	msgpk_put_cstr(&b, "c");
	msgpk_put_uint(&b, 1);
	msgpk_put_bin(&b, "short", 5);
	cr_expect_eq(msg_handshake_decode(b.data, b.len, &h, &e), COL_ECORRUPT);
	cr_expect(strstr(e.msg, "host id") != NULL, "%s", e.msg);
	buf_reset(&b);
	msgpk_put_array(&b, 6);
	cr_expect_eq(msg_handshake_decode(b.data, b.len, &h, &e), COL_ECORRUPT);
	buf_release(&b);
}

/* ---- live ------------------------------------------------------------------------------------ */

static struct ev_loop *L;
static struct net_loop *NL;
static char LOGPATH[] = "/tmp/colonnade-msgtest-XXXXXX";
static int LOGFD = -1;

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

static void run_ms(int ms)
{
	int never = 0;
	run_until(&never, 1, ms);
}

static void setup(void)
{
	L = ev_loop_new(EVFLAG_AUTO);
	cr_assert_eq(net_loop_new(L, &NL), 0);
	strcpy(LOGPATH, "/tmp/colonnade-msgtest-XXXXXX");
	LOGFD = mkstemp(LOGPATH);
	cr_assert(LOGFD >= 0);
	log_set_fd(LOGFD);
}

static void teardown(void)
{
	net_loop_free(NL);
	ev_loop_destroy(L);
	log_set_fd(2);
	close(LOGFD);
	unlink(LOGPATH);
}

static bool log_has(const char *needle)
{
	char buf[65536];
	ssize_t n = pread(LOGFD, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return strstr(buf, needle) != NULL;
}

/* Runs the loop until `cond` holds or `ms` pass; the caller asserts what it wanted. */
#define RUN_UNTIL(cond, ms)                                                                        \
	do {                                                                                       \
		int64_t end_ = clock_mono_ms() + (ms);                                             \
		while (!(cond) && clock_mono_ms() < end_)                                          \
			run_ms(5);                                                                 \
	} while (0)

/* m's view of its peer `to` (all zero if it has none). */
static struct messaging_peer_stats peer_stats(struct messaging *m, const struct net_addr *to)
{
	struct messaging_peer_stats st = {0};
	(void)messaging_peer_get_stats(m, to, &st);
	return st;
}

static struct messaging_stats msg_stats(struct messaging *m)
{
	struct messaging_stats st;
	messaging_get_stats(m, &st);
	return st;
}

static bool readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) == 1;
}

static uint64_t loop_bytes_in(void)
{
	struct net_loop_stats st;
	net_loop_get_stats(NL, &st);
	return st.bytes_in;
}

static struct messaging *node(int n, const char *cluster, const struct messaging_config *tmpl)
{
	struct messaging_config c;
	if (tmpl)
		c = *tmpl;
	else
		memset(&c, 0, sizeof(c));
	c.cluster_name = cluster;
	c.host_id = hid((uint8_t)(n * 16));
	c.listen = test_addr(n, 0);
	if (!c.reconnect_min_ms)
		c.reconnect_min_ms = 20;
	if (!c.reconnect_max_ms)
		c.reconnect_max_ms = 100;
	struct messaging *m;
	struct cerr e = {0};
	cr_assert_eq(messaging_new(NL, &c, &m, &e), 0, "%s", e.msg);
	return m;
}

struct counter {
	int n;
	int status;
	int last_code;
	char text[128];
	struct host_id from;
	uint64_t bytes;
	bool respond;
};

static int echo_handler(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	struct counter *k = ctx;
	k->n++;
	k->bytes += msg->payload_len;
	if (!k->respond || msg->id == 0)
		return 0;
	struct msg_out o;
	int rc = messaging_begin_response(m, msg, VERB_ECHO_RSP, &o);
	if (rc != 0)
		return 0;
	buf_put(o.b, msg->payload, msg->payload_len); /* echo the payload */
	return messaging_commit(&o) == 0 ? 0 : 0;
}

static int strict_handler(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	(void)m;
	struct counter *k = ctx;
	struct bufreader r;
	bufreader_init(&r, msg->payload, msg->payload_len);
	uint64_t v;
	if (msgpk_read_uint(&r, &v) != 0)
		return COL_ECORRUPT;
	k->n++;
	return 0;
}

static void on_rsp(void *ctx, int status, const struct msg_in *rsp)
{
	struct counter *k = ctx;
	k->n++;
	k->status = status;
	if (rsp && status == 0) {
		k->from = *rsp->from_host;
		struct bufreader r;
		bufreader_init(&r, rsp->payload, rsp->payload_len);
		const uint8_t *p;
		uint32_t n;
		if (msgpk_read_str(&r, &p, &n) == 0 && n < sizeof(k->text)) {
			memcpy(k->text, p, n);
			k->text[n] = 0;
		}
	} else if (rsp) {
		messaging_failure_text(rsp, &k->last_code, k->text, sizeof(k->text));
	}
}

TestSuite(messaging, .init = setup, .fini = teardown, .timeout = 60);

Test(messaging, registered_verbs_are_named_routed_and_not_stolen)
{
	struct messaging *a = node(1, "test", NULL), *b = node(2, "test", NULL);
	struct counter hb = {.respond = true}, rsp = {0};
	static const struct messaging_verb mine[] = {
	        {T_VERB_A, "T_A", echo_handler},
	        {T_VERB_A_RSP, "T_A_RSP", NULL},
	};
	char vs[16];
	cr_expect_str_eq(messaging_verb_name(b, T_VERB_A, vs, sizeof(vs)), "verb 10");
	cr_assert_eq(messaging_register_verbs(b, mine, 2, &hb), 0);
	cr_expect_str_eq(messaging_verb_name(b, T_VERB_A, vs, sizeof(vs)), "T_A");
	cr_expect_str_eq(messaging_verb_name(b, T_VERB_A_RSP, vs, sizeof(vs)), "T_A_RSP");
	cr_expect_str_eq(messaging_verb_name(b, VERB_GOSSIP_ACK2, vs, sizeof(vs)), "GOSSIP_ACK2");
	/* The same table again (a second owner of a shared verb) is fine. */
	cr_expect_eq(messaging_register_verbs(b, mine, 2, &hb), 0);
	/* Another name for a claimed number, or a number of messaging's own: refused, nothing
	 * changed. */
	static const struct messaging_verb thief[] = {
	        {T_VERB_B, "T_B", strict_handler},
	        {T_VERB_A, "OTHER", strict_handler},
	};
	cr_expect_eq(messaging_register_verbs(b, thief, 2, NULL), COL_EEXIST);
	cr_expect_str_eq(messaging_verb_name(b, T_VERB_B, vs, sizeof(vs)), "verb 12");
	static const struct messaging_verb low[] = {{VERB_ECHO, "ECHO2", strict_handler}};
	cr_expect_eq(messaging_register_verbs(b, low, 1, NULL), COL_EINVAL);
	static const struct messaging_verb high[] = {{VERB_MAX, "HIGH", strict_handler}};
	cr_expect_eq(messaging_register_verbs(b, high, 1, NULL), COL_EINVAL);
	/* Routed to the handler with the table's context. */
	struct msg_out o;
	cr_assert_eq(messaging_begin_request(a, messaging_listen_addr(b), T_VERB_A, 2000, on_rsp,
	                                     &rsp, &o),
	             0);
	msgpk_put_cstr(o.b, "hello");
	cr_assert_eq(messaging_commit(&o), 0);
	cr_assert(run_until(&rsp.n, 1, 3000));
	cr_expect_eq(rsp.status, 0);
	cr_expect_eq(hb.n, 1);
	/* Unregistered: a request is answered "no handler"; the name stays for log lines. */
	messaging_unregister_verbs(b, mine, 2);
	cr_expect_str_eq(messaging_verb_name(b, T_VERB_A, vs, sizeof(vs)), "T_A");
	cr_assert_eq(messaging_begin_request(a, messaging_listen_addr(b), T_VERB_A, 2000, on_rsp,
	                                     &rsp, &o),
	             0);
	msgpk_put_cstr(o.b, "again");
	cr_assert_eq(messaging_commit(&o), 0);
	cr_assert(run_until(&rsp.n, 2, 3000));
	cr_expect_eq(rsp.status, COL_EUNSUPPORTED);
	cr_expect_eq(hb.n, 1);
	messaging_free(a);
	messaging_free(b);
}

Test(messaging, request_response_over_two_connections)
{
	struct messaging *a = node(1, "test", NULL), *b = node(2, "test", NULL);
	struct counter hb = {.respond = true}, rsp = {0};
	messaging_register(b, VERB_ECHO, echo_handler, &hb);
	struct msg_out o;
	cr_assert_eq(messaging_begin_request(a, messaging_listen_addr(b), VERB_ECHO, 2000, on_rsp,
	                                     &rsp, &o),
	             0);
	msgpk_put_cstr(o.b, "ping");
	cr_assert_eq(messaging_commit(&o), 0);
	cr_expect_eq(rsp.n, 0, "never called from inside commit");
	cr_assert(run_until(&rsp.n, 1, 3000));
	cr_expect_eq(rsp.status, 0);
	cr_expect_str_eq(rsp.text, "ping");
	/* b's handshake answer from a may still be on its way */
	RUN_UNTIL(peer_stats(b, messaging_listen_addr(a)).state == PEER_READY &&
	                  peer_stats(a, messaging_listen_addr(b)).host_known,
	          3000);
	struct host_id bh = hid(32);
	cr_expect(host_id_equal(&rsp.from, &bh), "response names the responder's host id");
	/* The answer came on b's own outgoing connection to a. */
	struct messaging_peer_stats st;
	cr_assert_eq(messaging_peer_get_stats(b, messaging_listen_addr(a), &st), 0);
	cr_expect_eq(st.sent_msgs, 1);
	cr_expect_eq(st.state, PEER_READY);
	cr_assert_eq(messaging_peer_get_stats(a, messaging_listen_addr(b), &st), 0);
	cr_expect(st.host_known);
	cr_expect(host_id_equal(&st.host_id, &bh));
	messaging_free(a);
	messaging_free(b);
}

/* A handler that keeps the request to answer it later, as a replica whose write is in a lane. */
struct held {
	int n;
	struct msg_in msg;
	struct net_addr from;
};

static int hold_handler(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	(void)m;
	struct held *h = ctx;
	h->n++;
	h->msg = *msg;
	h->from = *msg->from;
	h->msg.from = &h->from;
	h->msg.payload = NULL; /* the frame is gone after the handler */
	h->msg.payload_len = 0;
	return 0;
}

static int answer_held(struct messaging *m, struct held *h, const char *text)
{
	struct msg_out o;
	int rc = messaging_begin_response(m, &h->msg, VERB_ECHO_RSP, &o);
	if (rc)
		return rc;
	msgpk_put_cstr(o.b, text);
	return messaging_commit(&o);
}

Test(messaging, a_sender_without_listener_gets_its_answers_on_its_own_connection)
{
	struct messaging *b = node(2, "test", NULL);
	struct messaging_config sc;
	memset(&sc, 0, sizeof(sc));
	sc.no_listen = true;
	struct messaging *a = node(1, "test", &sc); /* nothing listens at a's address */
	struct held h = {0};
	struct counter rsp = {0};
	messaging_register(b, VERB_ECHO, hold_handler, &h);
	struct msg_out o;
	cr_assert_eq(messaging_begin_request(a, messaging_listen_addr(b), VERB_ECHO, 3000, on_rsp,
	                                     &rsp, &o),
	             0);
	msgpk_put_cstr(o.b, "ping");
	cr_assert_eq(messaging_commit(&o), 0);
	cr_assert(run_until(&h.n, 1, 3000));
	cr_expect(h.msg.flags & MSG_F_REPLY_HERE);
	cr_expect_neq(h.msg.via, 0);
	/* Answered after the handler returned, on the connection the request came in on. */
	cr_assert_eq(answer_held(b, &h, "pong"), 0);
	cr_assert(run_until(&rsp.n, 1, 3000));
	cr_expect_eq(rsp.status, 0);
	cr_expect_str_eq(rsp.text, "pong");
	struct host_id bh = hid(32);
	cr_expect(host_id_equal(&rsp.from, &bh), "response names the responder's host id");
	struct messaging_peer_stats st;
	cr_expect_eq(messaging_peer_get_stats(b, messaging_listen_addr(a), &st), COL_ENOTFOUND,
	             "b never dialled a");
	/* A failure answer takes the same way back. */
	cr_assert_eq(messaging_begin_request(a, messaging_listen_addr(b), VERB_ECHO, 3000, on_rsp,
	                                     &rsp, &o),
	             0);
	msgpk_put_cstr(o.b, "ping2");
	cr_assert_eq(messaging_commit(&o), 0);
	cr_assert(run_until(&h.n, 2, 3000));
	cr_assert_eq(messaging_respond_failure(b, &h.msg, COL_EOVERLOADED, "too busy"), 0);
	cr_assert(run_until(&rsp.n, 2, 3000));
	cr_expect_eq(rsp.status, COL_EOVERLOADED);
	cr_expect_str_eq(rsp.text, "too busy");
	/* The requester's connection gone: the late answer has nowhere to go, and says so. */
	cr_assert_eq(messaging_begin_request(a, messaging_listen_addr(b), VERB_ECHO, 3000, on_rsp,
	                                     &rsp, &o),
	             0);
	msgpk_put_cstr(o.b, "ping3");
	cr_assert_eq(messaging_commit(&o), 0);
	cr_assert(run_until(&h.n, 3, 3000));
	messaging_free(a);
	cr_expect_eq(rsp.n, 3);
	cr_expect_eq(rsp.status, COL_ECLOSED);
	int gone = 0;
	int64_t end = clock_mono_ms() + 3000;
	while (!gone && clock_mono_ms() < end) {
		run_ms(10);
		gone = answer_held(b, &h, "late") == COL_ECLOSED;
	}
	cr_expect(gone, "an answer on a closed connection is refused with COL_ECLOSED");
	messaging_free(b);
}

Test(messaging, timeout_unsupported_and_closed)
{
	struct messaging *a = node(1, "test", NULL), *b = node(2, "test", NULL);
	struct counter silent = {.respond = false}, r1 = {0}, r2 = {0}, r3 = {0};
	messaging_register(b, VERB_ECHO, echo_handler, &silent);
	struct msg_out o;
	ev_now_update(
	        L); /* the timer counts from the loop's time, stale since the nodes were made */
	int64_t t0 = clock_mono_ms();
	cr_assert_eq(messaging_begin_request(a, messaging_listen_addr(b), VERB_ECHO, 150, on_rsp,
	                                     &r1, &o),
	             0);
	msgpk_put_nil(o.b);
	cr_assert_eq(messaging_commit(&o), 0);
	cr_assert(run_until(&r1.n, 1, 3000));
	int64_t took = clock_mono_ms() - t0;
	cr_expect_eq(r1.status, COL_ETIMEDOUT);
	cr_expect(took >= 140 && took < 1500, "timed out after %lld ms", (long long)took);
	cr_expect_eq(silent.n, 1);
	/* A verb nobody handles: a failure answer, not a timeout. */
	cr_assert_eq(messaging_begin_request(a, messaging_listen_addr(b), T_VERB_B, 5000, on_rsp,
	                                     &r2, &o),
	             0);
	msgpk_put_nil(o.b);
	cr_assert_eq(messaging_commit(&o), 0);
	cr_assert(run_until(&r2.n, 1, 3000));
	cr_expect_eq(r2.status, COL_EUNSUPPORTED);
	cr_expect(strstr(r2.text, "no handler") != NULL, "%s", r2.text);
	/* Pending at free: the callback says COL_ECLOSED. */
	cr_assert_eq(messaging_begin_request(a, messaging_listen_addr(b), VERB_ECHO, 5000, on_rsp,
	                                     &r3, &o),
	             0);
	msgpk_put_nil(o.b);
	cr_assert_eq(messaging_commit(&o), 0);
	struct messaging_stats ms;
	messaging_get_stats(a, &ms);
	cr_expect_eq(ms.requests_pending, 1);
	cr_expect_eq(ms.timeouts, 1);
	struct messaging_verb_stats vs;
	messaging_get_verb_stats(a, VERB_ECHO, &vs);
	cr_expect_eq(vs.out, 2);
	cr_expect_eq(vs.timeouts, 1);
	messaging_get_verb_stats(a, T_VERB_B, &vs);
	cr_expect_eq(vs.out, 1);
	cr_expect_eq(vs.in, 1, "the failure answer to READ counts as a READ received");
	messaging_get_verb_stats(b, VERB_ECHO, &vs);
	cr_expect_eq(vs.in, 1);

	messaging_free(a);
	cr_expect_eq(r3.n, 1);
	cr_expect_eq(r3.status, COL_ECLOSED);
	messaging_free(b);
}

Test(messaging, other_cluster_refused_with_log_and_node_keeps_working)
{
	struct messaging *a = node(1, "test", NULL), *b = node(2, "test", NULL);
	struct messaging *x = node(3, "other", NULL);
	struct counter ha = {.respond = true}, hx = {0}, rsp = {0};
	messaging_register(a, VERB_ECHO, echo_handler, &ha);
	messaging_register(x, VERB_ECHO, echo_handler, &hx);
	cr_assert_eq(messaging_send(x, messaging_listen_addr(a), VERB_ECHO, "\xc0", 1), 0);
	RUN_UNTIL(peer_stats(x, messaging_listen_addr(a)).state == PEER_REFUSED &&
	                  msg_stats(a).refused_handshakes > 0 &&
	                  log_has("refusing internode connection"),
	          3000);
	cr_expect_eq(ha.n, 0, "a message from another cluster is never handled");
	char want[256], xa[NET_ADDR_STRLEN];
	net_addr_format(messaging_listen_addr(x), xa, sizeof(xa));
	snprintf(want, sizeof(want), "belongs to cluster 'other', %s", "");
	cr_expect(log_has("refusing internode connection"), "a log line says it was refused");
	cr_expect(log_has("cluster 'other'") && log_has("cluster 'test'"),
	          "the log line names both clusters");
	cr_expect(log_has(xa), "the log line names the address %s", xa);
	struct messaging_peer_stats st;
	cr_assert_eq(messaging_peer_get_stats(x, messaging_listen_addr(a), &st), 0);
	cr_expect_eq(st.state, PEER_REFUSED);
	struct messaging_stats ms;
	messaging_get_stats(a, &ms);
	cr_expect_eq(ms.refused_handshakes, 1);
	/* a still serves its own cluster. */
	struct msg_out o;
	cr_assert_eq(messaging_begin_request(b, messaging_listen_addr(a), VERB_ECHO, 2000, on_rsp,
	                                     &rsp, &o),
	             0);
	msgpk_put_cstr(o.b, "still here");
	cr_assert_eq(messaging_commit(&o), 0);
	cr_assert(run_until(&rsp.n, 1, 3000));
	cr_expect_eq(rsp.status, 0);
	cr_expect_str_eq(rsp.text, "still here");
	messaging_free(x);
	messaging_free(a);
	messaging_free(b);
}

Test(messaging, garbage_and_bad_payloads_close_only_that_connection)
{
	struct messaging *a = node(1, "test", NULL), *b = node(2, "test", NULL);
	struct counter h = {0};
	static const struct messaging_verb strict[] = {{T_VERB_A, "T_A", strict_handler}};
	cr_assert_eq(messaging_register_verbs(a, strict, 1, &h), 0);
	/* Raw garbage to a's port. */
	const struct net_addr *aa = messaging_listen_addr(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(fd, (const struct sockaddr *)&aa->ss, aa->len), 0);
	cr_assert_eq(write(fd, "GET / HTTP/1.0\r\n\r\n", 18), 18);
	RUN_UNTIL(readable(fd) && log_has("internode connection from"), 3000);
	cr_assert(readable(fd), "a answers the garbage connection");
	char c;
	cr_expect_eq(read(fd, &c, 1), 0, "a closes the garbage connection");
	close(fd);
	cr_expect(log_has("internode connection from"), "garbage is logged");
	/* A truncated frame: 100 bytes announced, 6 sent, then the peer hangs up. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(fd, (const struct sockaddr *)&aa->ss, aa->len), 0);
	static const unsigned char trunc[] = {0, 0, 0, 100, 0, 0x93, 0x00, 0x00, 0x90, 0x90};
	uint64_t in0 = loop_bytes_in();
	cr_assert_eq(write(fd, trunc, sizeof(trunc)), (ssize_t)sizeof(trunc));
	RUN_UNTIL(loop_bytes_in() >= in0 + sizeof(trunc), 3000); /* a has read them */
	close(fd);
	RUN_UNTIL(log_has("closed inside a frame (10 bytes"), 3000);
	cr_expect(log_has("closed inside a frame (10 bytes"), "a truncated frame is logged");
	/* A payload the handler rejects: connection closed, b reconnects, next one is handled. */
	cr_assert_eq(messaging_send(b, aa, T_VERB_A, "\xa1x", 2), 0);
	RUN_UNTIL(log_has("malformed T_A from"), 3000);
	cr_expect(log_has("malformed T_A from"), "the bad payload is logged with its verb");
	cr_assert_eq(messaging_send(b, aa, T_VERB_A, "\x05", 1), 0);
	cr_assert(run_until(&h.n, 1, 3000));
	struct messaging_stats ms;
	messaging_get_stats(a, &ms);
	cr_expect_eq(ms.bad_frames, 3);

	messaging_free(a);
	messaging_free(b);
}

Test(messaging, reconnect_with_backoff_and_bounded_pending_queue)
{
	/* A long first backoff: the sends below all land in the pending queue. */
	struct messaging_config tm = {
	        .pending_msgs = 5, .reconnect_min_ms = 500, .reconnect_max_ms = 1000};
	struct messaging *a = node(1, "test", &tm);
	/* d's address: a port with no listener yet. */
	struct messaging *d = node(4, "test", NULL);
	struct net_addr da = *messaging_listen_addr(d);
	messaging_free(d);
	cr_assert_eq(messaging_send(a, &da, VERB_ECHO, "\xc0", 1), 0);
	RUN_UNTIL(peer_stats(a, &da).connect_failures >= 1 &&
	                  peer_stats(a, &da).state == PEER_BACKOFF && log_has("cannot reach"),
	          3000);
	struct messaging_peer_stats st;
	cr_assert_eq(messaging_peer_get_stats(a, &da, &st), 0);
	cr_expect(st.connect_failures >= 1);
	cr_expect_eq(st.state, PEER_BACKOFF);
	cr_expect(log_has("cannot reach"), "the first failure is logged");
	/* In backoff the pending queue holds at most 5 messages. */
	int full = 0;
	for (int i = 0; i < 20; i++) {
		int rc = messaging_send(a, &da, VERB_ECHO, "\xc0", 1);
		if (rc == COL_EFULL)
			full++;
	}
	cr_expect(full > 0, "the pending queue is bounded");
	cr_assert_eq(messaging_peer_get_stats(a, &da, &st), 0);
	cr_expect(st.pending_msgs <= 5);
	cr_expect(st.dropped_msgs >= (uint64_t)full);
	/* d comes up at that address: a gets through after its backoff. */
	struct messaging_config dc = {0};
	dc.cluster_name = "test";
	dc.host_id = hid(64);
	dc.listen = da;
	struct cerr e = {0};
	cr_assert_eq(messaging_new(NL, &dc, &d, &e), 0, "%s", e.msg);
	struct counter hd = {0};
	messaging_register(d, VERB_ECHO, echo_handler, &hd);
	for (int i = 0; i < 100 && hd.n == 0; i++) {
		messaging_send(a, &da, VERB_ECHO, "\xc0", 1);
		run_ms(20);
	}
	cr_expect(hd.n > 0, "messages flow once the peer is back");
	cr_assert_eq(messaging_peer_get_stats(a, &da, &st), 0);
	cr_expect_eq(st.state, PEER_READY);
	messaging_free(a);
	messaging_free(d);
}

Test(messaging, burst_is_coalesced)
{
	struct messaging *a = node(1, "test", NULL), *b = node(2, "test", NULL);
	struct counter h = {0};
	messaging_register(b, T_VERB_A, echo_handler, &h);
	uint8_t payload[100];
	struct buf pb;
	buf_init(&pb);
	msgpk_put_bin(&pb, payload, sizeof(payload));
	struct net_loop_stats before, after;
	net_loop_get_stats(NL, &before);
	const int N = 20000;
	int64_t t0 = clock_mono_us();
	int sent = 0;
	for (int round = 0; round < N / 1000; round++) {
		for (int i = 0; i < 1000; i++)
			if (messaging_send(a, messaging_listen_addr(b), T_VERB_A, pb.data,
			                   pb.len) == 0)
				sent++;
		ev_run(L, EVRUN_NOWAIT);
	}
	cr_assert(run_until(&h.n, N, 10000));
	int64_t us = clock_mono_us() - t0;
	net_loop_get_stats(NL, &after);
	uint64_t flushes = after.flushes - before.flushes;
	cr_expect_eq(sent, N);
	cr_expect(flushes < (uint64_t)N / 20, "%llu send calls for %d messages",
	          (unsigned long long)flushes, N);
	fprintf(stderr,
	        "messaging burst: %d one-way messages of %zu B in %.1f ms (%.0f msg/s), "
	        "%llu send calls\n",
	        N, pb.len, us / 1000.0, N * 1e6 / (double)us, (unsigned long long)flushes);
	buf_release(&pb);
	messaging_free(a);
	messaging_free(b);
}

Test(messaging, reset_peer_dials_afresh_without_backoff)
{
	struct messaging *a = node(1, "test", NULL), *b = node(2, "test", NULL);
	struct counter h = {0};
	messaging_register(b, T_VERB_A, echo_handler, &h);
	cr_assert_eq(messaging_send(a, messaging_listen_addr(b), T_VERB_A, "\x01", 1), 0);
	cr_assert(run_until(&h.n, 1, 3000));
	messaging_reset_peer(a, messaging_listen_addr(b));
	struct messaging_peer_stats st;
	cr_assert_eq(messaging_peer_get_stats(a, messaging_listen_addr(b), &st), 0);
	cr_expect_eq(st.state, PEER_IDLE);
	cr_expect_eq(st.connect_failures, 0, "a reset is not a failure");
	cr_assert_eq(messaging_send(a, messaging_listen_addr(b), T_VERB_A, "\x02", 1), 0);
	cr_assert(run_until(&h.n, 2, 3000), "the next message goes out on a new connection");
	cr_assert_eq(messaging_peer_get_stats(a, messaging_listen_addr(b), &st), 0);
	cr_expect_eq(st.connects, 2);
	messaging_free(a);
	messaging_free(b);
}

struct rr {
	struct messaging *a;
	const struct net_addr *to;
	int done, sent, total, failed;
};

static void rr_send(struct rr *r);

static void rr_rsp(void *ctx, int status, const struct msg_in *rsp)
{
	(void)rsp;
	struct rr *r = ctx;
	r->done++;
	if (status != 0)
		r->failed++;
	if (r->sent < r->total)
		rr_send(r);
}

static void rr_send(struct rr *r)
{
	struct msg_out o;
	if (messaging_begin_request(r->a, r->to, VERB_ECHO, 5000, rr_rsp, r, &o) != 0) {
		r->failed++;
		r->done++;
		return;
	}
	msgpk_put_bin(o.b, "0123456789012345678901234567890123456789", 40);
	if (messaging_commit(&o) != 0) {
		r->failed++;
		r->done++;
		return;
	}
	r->sent++;
}

Test(messaging, request_response_throughput_figure)
{
	struct messaging *a = node(1, "test", NULL), *b = node(2, "test", NULL);
	struct counter hb = {.respond = true};
	messaging_register(b, VERB_ECHO, echo_handler, &hb);
	struct rr r = {.a = a, .to = messaging_listen_addr(b), .total = 100000};
	int64_t t0 = clock_mono_us();
	for (int i = 0; i < 256; i++) /* 256 requests in flight, each answer sends the next */
		rr_send(&r);
	cr_assert(run_until(&r.done, r.total, 30000));
	int64_t us = clock_mono_us() - t0;
	cr_expect_eq(r.failed, 0);
	struct messaging_stats st;
	messaging_get_stats(a, &st);
	cr_expect_eq(st.requests_pending, 0);
	struct net_loop_stats ns;
	net_loop_get_stats(NL, &ns);
	fprintf(stderr,
	        "messaging: %d request/response pairs (256 in flight, both nodes on one loop) in "
	        "%.0f ms: %.0f pairs/s, %.1f frames per send call\n",
	        r.total, us / 1000.0, r.total * 1e6 / (double)us,
	        (2.0 * r.total) / (double)(ns.flushes ? ns.flushes : 1));
	messaging_free(a);
	messaging_free(b);
}

Test(messaging, our_host_id_at_another_address_is_refused)
{
	struct messaging *a = node(1, "test", NULL);
	struct messaging_config c = {.cluster_name = "test", .reconnect_min_ms = 20};
	c.host_id = *messaging_host_id(a); /* a copied data directory */
	c.listen = test_addr(2, 0);
	struct messaging *twin;
	cr_assert_eq(messaging_new(NL, &c, &twin, NULL), 0);
	struct counter h = {0};
	messaging_register(a, T_VERB_A, echo_handler, &h);
	cr_assert_eq(messaging_send(twin, messaging_listen_addr(a), T_VERB_A, "\x01", 1), 0);
	RUN_UNTIL(peer_stats(twin, messaging_listen_addr(a)).state == PEER_REFUSED &&
	                  log_has("was a data directory copied?"),
	          3000);
	cr_expect_eq(h.n, 0);
	cr_expect(log_has("was a data directory copied?"), "the refusal says why");
	struct messaging_peer_stats st;
	cr_assert_eq(messaging_peer_get_stats(twin, messaging_listen_addr(a), &st), 0);
	cr_expect_eq(st.state, PEER_REFUSED);
	/* Talking to oneself (same host id, same address) is fine. */
	cr_assert_eq(messaging_send(a, messaging_listen_addr(a), T_VERB_A, "\x02", 1), 0);
	cr_assert(run_until(&h.n, 1, 3000));
	messaging_free(twin);
	messaging_free(a);
}

struct aged {
	int n;
	int64_t age_us;
};

static int age_handler(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	struct aged *k = ctx;
	k->n++;
	k->age_us = msg->age_us;
	struct msg_out o;
	if (msg->id && messaging_begin_response(m, msg, VERB_ECHO_RSP, &o) == 0) {
		msgpk_put_cstr(o.b, "ok");
		(void)messaging_commit(&o);
	}
	return 0;
}

/* msg_in.age_us of a request is how long it waited in the receiver's socket before
 * the receiver read it (the kernel's receive timestamps): a replica tells a MUTATION
 * its coordinator has given up on by it. */
Test(messaging, a_request_says_how_long_it_waited_in_the_socket)
{
	struct messaging *a = node(1, "test", NULL), *b = node(2, "test", NULL);
	struct aged hb = {0};
	struct counter rsp = {0};
	messaging_register(b, VERB_ECHO, age_handler, &hb);
	struct msg_out o;
	/* Requests until one comes stamped: the kernel turns receive timestamps on for the
	 * whole machine from a work queue after the first socket asks, so the first packets
	 * of a process can come unstamped (age -1: never shed). */
	int64_t until = clock_mono_ms() + 10000;
	for (int i = 0;; i++) {
		bool hold = hb.age_us >= 0 && i > 0; /* stamped: now the one held in the socket */
		cr_assert_eq(messaging_begin_request(a, messaging_listen_addr(b), VERB_ECHO, 5000,
		                                     on_rsp, &rsp, &o),
		             0);
		msgpk_put_cstr(o.b, "ping");
		cr_assert_eq(messaging_commit(&o), 0);
		if (hold) {
			net_loop_run_pending(NL); /* sent: it is in b's socket now */
			struct timespec ts = {0, 80 * 1000000L};
			nanosleep(&ts, NULL); /* the loop does not run: b does not read it */
		}
		cr_assert(run_until(&rsp.n, i + 1, 5000), "request %d answered", i);
		cr_assert_eq(hb.n, i + 1);
		if (hold)
			break;
		cr_assert_lt(clock_mono_ms(), until, "no stamped request in 10 s (age %lld us)",
		             (long long)hb.age_us);
	}
	cr_expect_geq(hb.age_us, 80000, "age %lld us", (long long)hb.age_us);
	cr_expect_lt(hb.age_us, 60000000, "age %lld us", (long long)hb.age_us);
	messaging_free(a);
	messaging_free(b);
}
