/*
 * The authenticated internode handshake (gossip/internode_auth.h): golden
 * bytes and MACs (computed independently with Python's hmac module), the
 * replay guard, and live messaging pairs with the same, a wrong and no
 * secret — a stranger's frames never reach a handler.
 */
#include "gossip/internode_auth.h"
#include "gossip/messaging.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/msgpk.h"

#include <criterion/criterion.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char KEY[] = "0123456789abcdef-secret";
#define KEYLEN (sizeof(KEY) - 1)
#define T0     1700000000123ULL

static struct host_id hid(uint8_t seed)
{
	struct host_id h;
	for (int i = 0; i < HOST_ID_LEN; i++)
		h.b[i] = (uint8_t)(seed + i);
	return h;
}

static void seq(uint8_t *o, uint8_t from)
{
	for (int i = 0; i < IAUTH_NONCE_LEN; i++)
		o[i] = (uint8_t)(from + i);
}

static const uint8_t HELLO_MAC[] = {0x28, 0x14, 0x2d, 0x4a, 0x3e, 0xd5, 0xe6, 0x4a,
                                    0x6c, 0x6b, 0xc7, 0x4d, 0xdd, 0xc7, 0x18, 0x56,
                                    0x11, 0xb7, 0x85, 0xed, 0x5a, 0xc7, 0xe5, 0x12,
                                    0xdd, 0x94, 0xa4, 0x57, 0x60, 0xb5, 0x0e, 0x36};
static const uint8_t ANSWER_MAC[] = {0x43, 0x40, 0x1f, 0xf8, 0xb3, 0x89, 0x36, 0x51,
                                     0x92, 0x8d, 0x14, 0x79, 0xba, 0x69, 0x20, 0x0a,
                                     0x35, 0xd1, 0x24, 0xdd, 0x83, 0x18, 0xa7, 0xb0,
                                     0x7d, 0x19, 0x89, 0xbc, 0x59, 0x75, 0x5b, 0x38};

static void encode(struct buf *b, const uint8_t *challenge)
{
	struct host_id h = hid(0);
	struct net_addr a;
	cr_assert_eq(net_addr_parse("127.0.3.1", 7000, &a, NULL), 0);
	uint8_t nonce[IAUTH_NONCE_LEN];
	seq(nonce, 0x40);
	msg_handshake_encode_proved(b, "test", &h, &a, HANDSHAKE_OK, "", (const uint8_t *)KEY,
	                            KEYLEN, T0, nonce, challenge);
}

Test(iauth, golden_hello_and_answer)
{
	struct buf b;
	buf_init(&b);
	encode(&b, NULL);
	static const uint8_t head[] = {
	        0x98,                                                      /* array of 8 */
	        0xa4, 't',  'e',  's',  't',                               /* cluster */
	        0x01,                                                      /* version */
	        0xc4, 0x10, 0,    1,    2,    3,    4,    5,    6,    7,   /* host id */
	        8,    9,    10,   11,   12,   13,   14,   15,              /* */
	        0xa9, '1',  '2',  '7',  '.',  '0',  '.',  '3',  '.',  '1', /* listen host */
	        0xcd, 0x1b, 0x58,                                          /* port 7000 */
	        0x00,                                                      /* status */
	        0xa0,                                                      /* reason "" */
	        0x93,                                                      /* proof: array of 3 */
	        0xcf, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b,      /* time_ms */
	        0xc4, 0x10,                                                /* nonce, 16 bytes */
	};
	size_t hl = sizeof(head);
	cr_assert_eq(b.len, hl + IAUTH_NONCE_LEN + 2 + IAUTH_MAC_LEN, "length %zu", b.len);
	cr_expect(memcmp(b.data, head, hl) == 0);
	uint8_t nonce[IAUTH_NONCE_LEN];
	seq(nonce, 0x40);
	cr_expect(memcmp(b.data + hl, nonce, IAUTH_NONCE_LEN) == 0);
	cr_expect_eq(b.data[hl + 16], 0xc4);
	cr_expect_eq(b.data[hl + 17], 0x20);
	cr_expect(memcmp(b.data + hl + 18, HELLO_MAC, IAUTH_MAC_LEN) == 0, "hello mac");
	struct msg_handshake d;
	cr_assert_eq(msg_handshake_decode(b.data, b.len, &d, NULL), 0);
	cr_expect(d.has_proof);
	cr_expect_eq(d.proof.time_ms, T0);
	cr_expect_eq(d.fields_len, hl - 1 - 1 - 9 - 2, "the seven values are what is signed");
	cr_expect(
	        iauth_check((const uint8_t *)KEY, KEYLEN, d.fields, d.fields_len, NULL, &d.proof));
	cr_expect(!iauth_check((const uint8_t *)"0123456789abcdef-secreT", KEYLEN, d.fields,
	                       d.fields_len, NULL, &d.proof),
	          "another secret");
	uint8_t ch[IAUTH_NONCE_LEN];
	seq(ch, 0x60);
	cr_expect(!iauth_check((const uint8_t *)KEY, KEYLEN, d.fields, d.fields_len, ch, &d.proof),
	          "a hello is no answer");
	/* every signed byte counts: one of the listen address changed */
	b.data[31] ^= 1;
	cr_assert_eq(msg_handshake_decode(b.data, b.len, &d, NULL), 0);
	cr_expect(
	        !iauth_check((const uint8_t *)KEY, KEYLEN, d.fields, d.fields_len, NULL, &d.proof));
	buf_release(&b);

	buf_init(&b);
	encode(&b, ch);
	cr_expect(memcmp(b.data + b.len - IAUTH_MAC_LEN, ANSWER_MAC, IAUTH_MAC_LEN) == 0,
	          "answer mac");
	cr_assert_eq(msg_handshake_decode(b.data, b.len, &d, NULL), 0);
	cr_expect(iauth_check((const uint8_t *)KEY, KEYLEN, d.fields, d.fields_len, ch, &d.proof));
	cr_expect(
	        !iauth_check((const uint8_t *)KEY, KEYLEN, d.fields, d.fields_len, NULL, &d.proof),
	        "an answer is no hello");
	/* torn proofs are refused by the decoder */
	for (size_t cut = 1; cut < 52; cut++) {
		uint8_t tmp[256];
		memcpy(tmp, b.data, b.len);
		cr_expect_neq(msg_handshake_decode(tmp, b.len - cut, &d, NULL), 0, "cut %zu", cut);
	}
	buf_release(&b);
}

Test(iauth, replay_guard)
{
	static struct iauth_seen s;
	uint64_t now = T0;
	iauth_seen_init(&s, now - 1000);
	struct iauth_proof p = {.time_ms = now};
	seq(p.nonce, 1);
	struct cerr e = {0};
	cr_expect_eq(iauth_seen_admit(&s, &p, now, &e), 0, "%s", e.msg);
	cr_expect_neq(iauth_seen_admit(&s, &p, now + 10, &e), 0);
	cr_expect(strstr(e.msg, "used before"), "%s", e.msg);
	p.nonce[0] = 99;
	cr_expect_neq(iauth_seen_admit(&s, &p, now + IAUTH_WINDOW_MS + 1, &e), 0);
	cr_expect(strstr(e.msg, "clock differs"), "%s", e.msg);
	p.time_ms = now - 2000;
	cr_expect_neq(iauth_seen_admit(&s, &p, now, &e), 0);
	cr_expect(strstr(e.msg, "before this node started"), "%s", e.msg);
	/* bounded: IAUTH_SEEN_MAX fresh hellos in one window, then refusals until they expire */
	iauth_seen_init(&s, now - 1000);
	p.time_ms = now;
	for (uint32_t i = 0; i < IAUTH_SEEN_MAX; i++) {
		memcpy(p.nonce, &i, sizeof(i));
		cr_assert_eq(iauth_seen_admit(&s, &p, now, &e), 0, "%u: %s", i, e.msg);
	}
	uint32_t more = IAUTH_SEEN_MAX;
	memcpy(p.nonce, &more, sizeof(more));
	cr_expect_neq(iauth_seen_admit(&s, &p, now, &e), 0);
	p.time_ms = now + IAUTH_WINDOW_MS + 5;
	cr_expect_eq(iauth_seen_admit(&s, &p, now + IAUTH_WINDOW_MS + 5, &e), 0, "%s", e.msg);
}

/* ---- live pairs ------------------------------------------------------------------------------ */

static struct ev_loop *L;
static struct net_loop *NL;
static char LOGPATH[64];
static int LOGFD;

static void setup(void)
{
	L = ev_loop_new(EVFLAG_AUTO);
	cr_assert_eq(net_loop_new(L, &NL), 0);
	strcpy(LOGPATH, "/tmp/colonnade-iauth-XXXXXX");
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

static struct messaging *node(int n, const char *secret)
{
	const char *base = getenv("COLONNADE_TEST_NET");
	char h[64];
	snprintf(h, sizeof(h), "%s.%d", base && *base ? base : "127.0.0", n);
	struct messaging_config c;
	memset(&c, 0, sizeof(c));
	c.cluster_name = "test";
	c.host_id = hid((uint8_t)(n * 16));
	cr_assert_eq(net_addr_parse(h, 0, &c.listen, NULL), 0);
	c.reconnect_min_ms = 20;
	c.reconnect_max_ms = 100;
	c.secret = (const uint8_t *)secret;
	c.secret_len = secret ? strlen(secret) : 0;
	struct messaging *m;
	struct cerr e = {0};
	cr_assert_eq(messaging_new(NL, &c, &m, &e), 0, "%s", e.msg);
	return m;
}

struct counter {
	int n;
};

/* Stands for MUTATION: counts what reaches it. */
static int mutation_handler(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	(void)m;
	(void)msg;
	((struct counter *)ctx)->n++;
	return 0;
}

static void run_ms(int ms)
{
	int64_t end = clock_mono_ms() + ms;
	while (clock_mono_ms() < end) {
		ev_run(L, EVRUN_NOWAIT);
		usleep(1000);
	}
}

TestSuite(iauth_live, .init = setup, .fini = teardown, .timeout = 60);

#define S1 "the-cluster-secret-1"
#define S2 "the-cluster-secret-2"

Test(iauth_live, same_secret_delivers_other_or_none_is_refused)
{
	struct messaging *a = node(31, S1), *b = node(32, S1), *x = node(33, S2),
	                 *y = node(34, NULL);
	struct counter ka = {0}, ky = {0};
	messaging_register(a, 10, mutation_handler, &ka);
	messaging_register(y, 10, mutation_handler, &ky);
	cr_assert_eq(messaging_send(b, messaging_listen_addr(a), 10, "\x01", 1), 0);
	run_ms(300);
	cr_expect_eq(ka.n, 1, "a member's message is delivered");
	/* a stranger with another secret, and one with none: refused, nothing delivered */
	cr_assert_eq(messaging_send(x, messaging_listen_addr(a), 10, "\x02", 1), 0);
	cr_assert_eq(messaging_send(y, messaging_listen_addr(a), 10, "\x03", 1), 0);
	run_ms(400);
	cr_expect_eq(ka.n, 1, "no stranger's message reached the handler");
	cr_expect(log_has("its proof of the cluster secret is wrong"), "wrong secret logged");
	cr_expect(log_has("it did not prove the cluster secret"), "missing proof logged");
	struct messaging_stats ms;
	messaging_get_stats(a, &ms);
	cr_expect_geq(ms.refused_handshakes, 2);
	struct messaging_peer_stats ps;
	cr_assert_eq(messaging_peer_get_stats(x, messaging_listen_addr(a), &ps), 0);
	cr_expect_eq(ps.state, PEER_REFUSED);
	/* a member reaching a node without the secret: the answer proves nothing, we stop */
	cr_assert_eq(messaging_send(a, messaging_listen_addr(y), 10, "\x04", 1), 0);
	run_ms(300);
	cr_expect(log_has("did not prove the cluster secret (internode_authenticator_secret); not "
	                  "talking to it"),
	          "the member refuses an unproven answer");
	cr_assert_eq(messaging_peer_get_stats(a, messaging_listen_addr(y), &ps), 0);
	cr_expect_eq(ps.state, PEER_REFUSED);
	/* a still serves its own */
	cr_assert_eq(messaging_send(b, messaging_listen_addr(a), 10, "\x05", 1), 0);
	run_ms(200);
	cr_expect_eq(ka.n, 2);
	messaging_free(x);
	messaging_free(y);
	messaging_free(a);
	messaging_free(b);
}

Test(iauth_live, short_secret_refused_at_start)
{
	struct messaging_config c;
	memset(&c, 0, sizeof(c));
	c.cluster_name = "test";
	c.host_id = hid(1);
	cr_assert_eq(net_addr_parse("127.0.0.1", 0, &c.listen, NULL), 0);
	c.secret = (const uint8_t *)"short";
	c.secret_len = 5;
	struct messaging *m = NULL;
	struct cerr e = {0};
	cr_expect_eq(messaging_new(NL, &c, &m, &e), COL_EINVAL);
	cr_expect(strstr(e.msg, "at least 16"), "%s", e.msg);
}
