/*
 * core/tls and the TLS layer of core/net: real sockets on loopback
 * (COLONNADE_TEST_NET.1 serves, .2 connects), certificates made at run time
 * (tests/unit/tls_testcert.h).
 */
#include "core/net.h"
#include "core/tls.h"

#include "core/buf.h"
#include "core/clock.h"
#include "tests/unit/tls_testcert.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char dir[] = "/tmp/colonnade-tlstest-XXXXXX";
static char ip1[64], ip2[64];

/* What one side's callbacks saw. */
struct side {
	int frames, closes, connects, refused;
	int reason;
	char why[400];
	struct buf data;
	bool echo;
	struct net_conn *conn;
};
static struct side SRV, CLI;

static const char *path(const char *name)
{
	static char p[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static void setup(void)
{
	const char *base = getenv("COLONNADE_TEST_NET");
	snprintf(ip1, sizeof(ip1), "%s.1", base && *base ? base : "127.0.0");
	snprintf(ip2, sizeof(ip2), "%s.2", base && *base ? base : "127.0.0");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(tls_testcerts_make(dir, ip1), 0, "making test certificates");
	memset(&SRV, 0, sizeof(SRV));
	memset(&CLI, 0, sizeof(CLI));
	buf_init(&SRV.data);
	buf_init(&CLI.data);
}

static void teardown(void)
{
	buf_release(&SRV.data);
	buf_release(&CLI.data);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)system(cmd);
}

TestSuite(tls, .init = setup, .fini = teardown);

static int on_frame(struct net_conn *c, const uint8_t *f, size_t len)
{
	struct side *s = net_conn_ctx(c);
	s->frames++;
	buf_put(&s->data, f, len);
	if (s->echo)
		cr_assert_eq(net_conn_write(c, f, len), 0);
	return 0;
}

static void on_close(struct net_conn *c, int reason, const char *why)
{
	struct side *s = net_conn_ctx(c);
	s->closes++;
	s->reason = reason;
	snprintf(s->why, sizeof(s->why), "%s", why ? why : "");
	if (s->conn == c)
		s->conn = NULL;
}

static void on_connect(struct net_conn *c)
{
	((struct side *)net_conn_ctx(c))->connects++;
}

static void on_refused(struct net_conn *c)
{
	((struct side *)net_conn_ctx(c))->refused++;
	net_conn_close(c, COL_EPROTO, "test protocol refuses plaintext");
}

static const struct net_conn_ops OPS = {
        .frame_len = net_framer_u32be,
        .on_frame = on_frame,
        .on_connect = on_connect,
        .on_close = on_close,
};

static int on_accept(struct net_server *s, struct net_conn *c, void *ctx)
{
	(void)s;
	(void)ctx;
	net_conn_set_ctx(c, &SRV);
	SRV.conn = c;
	return 0;
}

static struct tls_ctx *ctx(enum tls_role role, const char *cert, const char *ca, bool need_cert)
{
	char c[64], k[64];
	snprintf(c, sizeof(c), "%s.pem", cert ? cert : "");
	snprintf(k, sizeof(k), "%s.key", cert ? cert : "");
	struct tls_options o = {.certificate = cert ? path(c) : NULL,
	                        .private_key = cert ? path(k) : NULL,
	                        .truststore = ca ? path(ca) : NULL,
	                        .require_client_auth = need_cert,
	                        .what = "test"};
	struct tls_ctx *t = NULL;
	struct cerr e = {0};
	cr_assert_eq(tls_ctx_new(&o, role, &t, &e), 0, "tls_ctx_new: %s", e.msg);
	return t;
}

struct rig {
	struct ev_loop *loop;
	struct net_loop *nl;
	struct net_server *srv;
	struct net_addr addr;
};

static void rig_up(struct rig *r, struct tls_ctx *server_tls, enum net_tls_mode mode,
                   unsigned handshake_ms)
{
	r->loop = ev_loop_new(EVFLAG_AUTO);
	cr_assert_eq(net_loop_new(r->loop, &r->nl), 0);
	struct net_addr a;
	cr_assert_eq(net_addr_parse(ip1, 0, &a, NULL), 0);
	struct net_server_opts so = {.conn = {.handshake_timeout_ms = handshake_ms}};
	struct cerr e = {0};
	cr_assert_eq(net_server_new(r->nl, &a, &so, &OPS, on_accept, NULL, &r->srv, &e), 0, "%s",
	             e.msg);
	net_server_set_tls(r->srv, server_tls, mode);
	r->addr = *net_server_addr(r->srv);
}

static void rig_down(struct rig *r)
{
	net_loop_free(r->nl);
	ev_loop_destroy(r->loop);
}

static struct net_conn *dial(struct rig *r, struct tls_ctx *client_tls)
{
	struct net_addr local;
	cr_assert_eq(net_addr_parse(ip2, 0, &local, NULL), 0);
	struct net_conn_opts o = {.tls = client_tls};
	struct net_conn *c = NULL;
	struct cerr e = {0};
	cr_assert_eq(net_connect(r->nl, &local, &r->addr, &OPS, &o, &CLI, &c, &e), 0, "%s", e.msg);
	CLI.conn = c;
	return c;
}

/* Run the loop until cond holds or ms pass. */
#define SPIN(r, cond, ms)                                                                          \
	do {                                                                                       \
		int64_t until_ = clock_mono_ms() + (ms);                                           \
		while (!(cond) && clock_mono_ms() < until_) {                                      \
			ev_run((r)->loop, EVRUN_NOWAIT);                                           \
			net_loop_run_pending((r)->nl);                                             \
			usleep(500);                                                               \
		}                                                                                  \
	} while (0)

static void send_frame(struct net_conn *c, const void *p, uint32_t len)
{
	uint8_t h[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
	                (uint8_t)len};
	cr_assert_eq(net_conn_write(c, h, 4), 0);
	cr_assert_eq(net_conn_write(c, p, len), 0);
}

Test(tls, mutual_tls_carries_small_and_large_frames_both_ways)
{
	struct tls_ctx *st = ctx(TLS_SERVER, "leaf", "ca.pem", true);
	struct tls_ctx *ct = ctx(TLS_CLIENT, "leaf", "ca.pem", false);
	struct rig r;
	rig_up(&r, st, NET_TLS_REQUIRED, 5000);
	SRV.echo = true;
	struct net_conn *c = dial(&r, ct);
	cr_assert(net_conn_is_tls(c));
	/* queued before the handshake: leaves once it is done */
	send_frame(c, "hello", 5);
	size_t big = 3u << 20;
	uint8_t *p = malloc(big);
	for (size_t i = 0; i < big; i++)
		p[i] = (uint8_t)(i * 7 + 3);
	send_frame(c, p, (uint32_t)big);
	send_frame(c, "bye", 3);
	SPIN(&r, CLI.frames == 3 || CLI.closes, 20000);
	cr_assert_eq(CLI.frames, 3, "client got %d frames (close: %s)", CLI.frames, CLI.why);
	cr_assert_eq(CLI.connects, 1);
	cr_assert_eq(CLI.data.len, 3 * 4 + 5 + big + 3);
	cr_assert_eq(memcmp(CLI.data.data + 4 + 5 + 4, p, big), 0,
	             "the large frame came back intact");
	char d[300], peer[200];
	net_conn_tls_describe(c, d, sizeof(d));
	cr_assert(strstr(d, "TLSv1.3"), "%s", d);
	net_conn_tls_peer(SRV.conn, peer, sizeof(peer));
	cr_assert(strstr(peer, "CN=leaf"), "the server saw the client certificate: '%s'", peer);
	free(p);
	rig_down(&r);
	tls_ctx_unref(st);
	tls_ctx_unref(ct);
}

Test(tls, optional_serves_tls_and_plaintext_on_one_port)
{
	struct tls_ctx *st = ctx(TLS_SERVER, "leaf", NULL, false);
	struct tls_ctx *ct = ctx(TLS_CLIENT, NULL, "ca.pem", false);
	struct rig r;
	rig_up(&r, st, NET_TLS_OPTIONAL, 5000);
	SRV.echo = true;
	struct net_conn *plain = dial(&r, NULL);
	send_frame(plain, "plain", 5);
	SPIN(&r, CLI.frames == 1 || CLI.closes, 5000);
	cr_assert_eq(CLI.frames, 1, "plaintext echo (close: %s)", CLI.why);
	cr_assert_not(net_conn_is_tls(SRV.conn));
	struct net_conn *tls = dial(&r, ct);
	send_frame(tls, "secret", 6);
	SPIN(&r, CLI.frames == 2 || CLI.closes, 5000);
	cr_assert_eq(CLI.frames, 2, "TLS echo (close: %s)", CLI.why);
	cr_assert(net_conn_is_tls(SRV.conn));
	(void)plain;
	rig_down(&r);
	tls_ctx_unref(st);
	tls_ctx_unref(ct);
}

Test(tls, plaintext_to_a_tls_only_port_is_closed_or_handed_to_the_protocol)
{
	struct tls_ctx *st = ctx(TLS_SERVER, "leaf", NULL, false);
	struct rig r;
	rig_up(&r, st, NET_TLS_REQUIRED, 5000);
	struct net_conn *c = dial(&r, NULL);
	send_frame(c, "plain", 5);
	SPIN(&r, SRV.closes && CLI.closes, 5000);
	cr_assert_eq(SRV.reason, COL_EPROTO, "server closed with %d: %s", SRV.reason, SRV.why);
	cr_assert(strstr(SRV.why, "plaintext on a TLS-only port"), "%s", SRV.why);
	cr_assert_eq(SRV.frames, 0, "no plaintext frame reached the protocol");
	rig_down(&r);
	/* With on_plaintext_refused the protocol hears of it and answers itself. */
	struct net_conn_ops ops = OPS;
	ops.on_plaintext_refused = on_refused;
	memset(&SRV, 0, sizeof(SRV));
	memset(&CLI, 0, sizeof(CLI));
	r.loop = ev_loop_new(EVFLAG_AUTO);
	cr_assert_eq(net_loop_new(r.loop, &r.nl), 0);
	struct net_addr a;
	cr_assert_eq(net_addr_parse(ip1, 0, &a, NULL), 0);
	cr_assert_eq(net_server_new(r.nl, &a, NULL, &ops, on_accept, NULL, &r.srv, NULL), 0);
	net_server_set_tls(r.srv, st, NET_TLS_REQUIRED);
	r.addr = *net_server_addr(r.srv);
	c = dial(&r, NULL);
	send_frame(c, "plain", 5);
	SPIN(&r, SRV.closes && CLI.closes, 5000);
	cr_assert_eq(SRV.refused, 1);
	cr_assert(strstr(SRV.why, "test protocol refuses plaintext"), "%s", SRV.why);
	rig_down(&r);
	tls_ctx_unref(st);
}

Test(tls, a_silent_client_is_closed_at_the_handshake_deadline)
{
	struct tls_ctx *st = ctx(TLS_SERVER, "leaf", NULL, false);
	struct rig r;
	rig_up(&r, st, NET_TLS_REQUIRED, 300);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&r.addr.ss, r.addr.len), 0);
	int64_t t0 = clock_mono_ms();
	SPIN(&r, SRV.closes, 3000);
	int64_t waited = clock_mono_ms() - t0;
	cr_assert_eq(SRV.reason, COL_ETIMEDOUT, "closed with %d: %s", SRV.reason, SRV.why);
	cr_assert(waited >= 250 && waited < 2000, "closed after %lld ms", (long long)waited);
	cr_assert(strstr(SRV.why, "TLS handshake not completed within 300 ms"), "%s", SRV.why);
	close(fd);
	rig_down(&r);
	tls_ctx_unref(st);
}

Test(tls, certificates_from_another_ca_fail_the_handshake_both_ways)
{
	struct tls_ctx *st = ctx(TLS_SERVER, "leaf", "ca.pem", true);
	struct tls_ctx *wrong_trust = ctx(TLS_CLIENT, "leaf", "rogue-ca.pem", false);
	struct tls_ctx *rogue = ctx(TLS_CLIENT, "rogue", NULL, false);
	struct rig r;
	rig_up(&r, st, NET_TLS_REQUIRED, 5000);
	SRV.echo = true;
	struct net_conn *c = dial(&r, wrong_trust);
	send_frame(c, "x", 1);
	SPIN(&r, CLI.closes, 5000);
	cr_assert_eq(CLI.reason, COL_EPROTO, "%d: %s", CLI.reason, CLI.why);
	cr_assert(strstr(CLI.why, "certificate verify failed"), "%s", CLI.why);
	cr_assert_eq(CLI.connects, 0);
	memset(&CLI, 0, sizeof(CLI));
	SRV.closes = 0;
	c = dial(&r, rogue);
	send_frame(c, "x", 1);
	SPIN(&r, SRV.closes && CLI.closes, 5000);
	cr_assert_eq(SRV.reason, COL_EPROTO, "%d: %s", SRV.reason, SRV.why);
	cr_assert(strstr(SRV.why, "certificate"), "server: %s", SRV.why);
	cr_assert_eq(SRV.frames, 0);
	rig_down(&r);
	tls_ctx_unref(st);
	tls_ctx_unref(wrong_trust);
	tls_ctx_unref(rogue);
}

Test(tls, a_new_server_context_serves_new_connections_and_keeps_open_ones)
{
	struct tls_ctx *st = ctx(TLS_SERVER, "leaf", NULL, false);
	struct tls_ctx *ct = ctx(TLS_CLIENT, NULL, "ca.pem", false);
	struct rig r;
	rig_up(&r, st, NET_TLS_REQUIRED, 5000);
	SRV.echo = true;
	struct net_conn *old = dial(&r, ct);
	send_frame(old, "a", 1);
	SPIN(&r, CLI.frames == 1, 5000);
	char peer[200];
	net_conn_tls_peer(old, peer, sizeof(peer));
	cr_assert(strstr(peer, "CN=leaf") && !strstr(peer, "leaf2"), "%s", peer);
	struct tls_ctx *st2 = ctx(TLS_SERVER, "leaf2", NULL, false);
	net_server_set_tls(r.srv, st2, NET_TLS_REQUIRED);
	tls_ctx_unref(st2);
	tls_ctx_unref(st); /* the server and the open session keep what they need */
	struct net_conn *fresh = dial(&r, ct);
	send_frame(fresh, "b", 1);
	SPIN(&r, CLI.frames == 2, 5000);
	net_conn_tls_peer(fresh, peer, sizeof(peer));
	cr_assert(strstr(peer, "CN=leaf2"), "new connection: %s", peer);
	send_frame(old, "c", 1);
	SPIN(&r, CLI.frames == 3, 5000);
	cr_assert_eq(CLI.frames, 3, "the old connection still works");
	cr_assert_eq(CLI.closes, 0);
	rig_down(&r);
	tls_ctx_unref(ct);
}

static void expect_ctx_error(struct tls_options o, enum tls_role role, const char *needle)
{
	struct tls_ctx *t = NULL;
	struct cerr e = {0};
	o.what = "client_encryption_options";
	cr_assert_eq(tls_ctx_new(&o, role, &t, &e), COL_ECONFIG, "expected a refusal with '%s'",
	             needle);
	cr_assert(strstr(e.msg, needle), "'%s' does not say '%s'", e.msg, needle);
	cr_assert(strstr(e.msg, "client_encryption_options"), "%s", e.msg);
}

Test(tls, bad_configurations_are_refused_with_what_is_wrong)
{
	expect_ctx_error((struct tls_options){.certificate = "/nonexistent/cert.pem",
	                                      .private_key = path("leaf.key")},
	                 TLS_SERVER, "/nonexistent/cert.pem: No such file");
	expect_ctx_error((struct tls_options){0}, TLS_SERVER, "no certificate");
	expect_ctx_error((struct tls_options){.certificate = path("leaf.pem"),
	                                      .private_key = path("leaf2.key")},
	                 TLS_SERVER, "does not match the certificate");
	expect_ctx_error((struct tls_options){.certificate = path("leaf.pem"),
	                                      .private_key = path("leaf.key"),
	                                      .require_client_auth = true},
	                 TLS_SERVER, "require_client_auth needs a truststore");
	expect_ctx_error((struct tls_options){.certificate = path("leaf.pem"),
	                                      .private_key = path("leaf.key"),
	                                      .cipher_suites = "TLS_NOT_A_SUITE"},
	                 TLS_SERVER, "'TLS_NOT_A_SUITE' is not a cipher suite");
	expect_ctx_error((struct tls_options){.certificate = path("leaf.pem"),
	                                      .private_key = path("leaf.key"),
	                                      .accepted_protocols = "TLSv1.2,SSLv3"},
	                 TLS_SERVER, "'SSLv3' is not TLSv1.2 or TLSv1.3");
	expect_ctx_error((struct tls_options){.certificate = path("leaf.pem"),
	                                      .private_key = path("ca.pem")},
	                 TLS_SERVER, "no usable PEM private key");
	/* JSSE names (as in cassandra.yaml) and OpenSSL names both work */
	struct tls_options ok = {.certificate = path("leaf.pem"),
	                         .private_key = path("leaf.key"),
	                         .accepted_protocols = "TLSv1.2",
	                         .cipher_suites = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "
	                                          "ECDHE-ECDSA-AES128-GCM-SHA256"};
	struct tls_ctx *t = NULL;
	struct cerr e = {0};
	cr_assert_eq(tls_ctx_new(&ok, TLS_SERVER, &t, &e), 0, "%s", e.msg);
	char d[300];
	tls_ctx_describe(t, d, sizeof(d));
	cr_assert(strstr(d, "CN=leaf"), "%s", d);
	tls_ctx_unref(t);
}

Test(tls, protocol_and_suite_restrictions_are_what_the_session_gets)
{
	struct tls_options so = {.certificate = path("leaf.pem"),
	                         .private_key = path("leaf.key"),
	                         .accepted_protocols = "TLSv1.2",
	                         .cipher_suites = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"};
	struct tls_ctx *st = NULL;
	cr_assert_eq(tls_ctx_new(&so, TLS_SERVER, &st, NULL), 0);
	struct tls_ctx *ct = ctx(TLS_CLIENT, NULL, "ca.pem", false);
	struct rig r;
	rig_up(&r, st, NET_TLS_REQUIRED, 5000);
	SRV.echo = true;
	struct net_conn *c = dial(&r, ct);
	send_frame(c, "v12", 3);
	SPIN(&r, CLI.frames == 1 || CLI.closes, 5000);
	cr_assert_eq(CLI.frames, 1, "%s", CLI.why);
	char d[300];
	net_conn_tls_describe(c, d, sizeof(d));
	cr_assert(strstr(d, "TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"), "%s", d);
	rig_down(&r);
	tls_ctx_unref(st);
	tls_ctx_unref(ct);
}

static int handed;
static int take_fd(void *ctx, int fd, const struct net_addr *peer)
{
	(void)ctx;
	(void)peer;
	handed++;
	close(fd);
	return 0;
}

Test(tls, a_tls_server_hands_connections_off_only_to_adopters_that_apply_tls)
{
	struct tls_ctx *st = ctx(TLS_SERVER, "leaf", NULL, false);
	struct rig r;
	rig_up(&r, st, NET_TLS_REQUIRED, 5000);
	handed = 0;
	net_server_set_handoff(r.srv, take_fd, NULL);
	dial(&r, NULL);
	SPIN(&r, SRV.conn || handed, 3000);
	cr_assert_eq(handed, 0, "a TLS connection must not move to an adopter that ignores TLS");
	cr_assert_not_null(SRV.conn, "served here instead");
	net_server_set_handoff_tls(r.srv, true);
	dial(&r, NULL);
	SPIN(&r, handed, 3000);
	cr_assert_eq(handed, 1);
	/* an adopter applies the server's TLS to the connection it takes */
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct net_conn *c = NULL;
	cr_assert_eq(net_conn_adopt(r.nl, sv[0], &r.addr, &OPS, NULL, &SRV, &c), 0);
	net_conn_serve_tls(c, st, NET_TLS_REQUIRED);
	cr_assert(net_conn_is_tls(c));
	net_conn_start(c);
	rig_down(&r);
	close(sv[1]);
	tls_ctx_unref(st);
}
