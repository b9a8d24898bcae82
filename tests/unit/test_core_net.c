/*
 * core/net: real sockets on loopback.  Addresses come from COLONNADE_TEST_NET
 * ("127.0.3" → 127.0.3.1 server, 127.0.3.2 client); ports are ephemeral.
 */
#include "core/net.h"

#include "core/buf.h"
#include "core/clock.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void test_host(int n, char *out, size_t len)
{
	const char *base = getenv("COLONNADE_TEST_NET");
	snprintf(out, len, "%s.%d", base && *base ? base : "127.0.0", n);
}

static struct net_addr test_addr(int n, uint16_t port)
{
	char h[64];
	test_host(n, h, sizeof(h));
	struct net_addr a;
	cr_assert_eq(net_addr_parse(h, port, &a, NULL), 0, "parse %s", h);
	return a;
}

/* What the callbacks saw; one per test. */
struct seen {
	int frames;
	struct buf data; /* concatenated frame bodies */
	size_t sizes[64];
	int closes;
	int close_reason;
	char close_why[256];
	int connects;
	int drains;
	int oversized;
	size_t oversized_len;
	int close_after_frames; /* close the conn when this many frames were seen (0 = never) */
	struct net_conn *accepted;
	struct net_conn *other; /* closed from inside a callback of another conn */
	int echo;
	int64_t age; /* net_conn_input_age_us() at the last frame */
};

static struct seen S;

static int on_frame(struct net_conn *c, const uint8_t *f, size_t len)
{
	if (S.frames < 64)
		S.sizes[S.frames] = len;
	S.frames++;
	S.age = net_conn_input_age_us(c);
	buf_put(&S.data, f, len);
	if (S.echo)
		cr_assert_eq(net_conn_write(c, f, len), 0);
	if (S.close_after_frames && S.frames == S.close_after_frames) {
		net_conn_close(c, 0, "test closes inside on_frame");
		if (S.other)
			net_conn_close(S.other, 0, "closed by a neighbour's callback");
		/* The conn must still be usable memory here: ask it something. */
		cr_assert(net_conn_closing(c));
		cr_assert_eq(net_conn_write(c, "x", 1), COL_ECLOSED);
	}
	return 0;
}

static void on_close(struct net_conn *c, int reason, const char *why)
{
	(void)c;
	S.closes++;
	S.close_reason = reason;
	snprintf(S.close_why, sizeof(S.close_why), "%s", why);
}

static void on_connect(struct net_conn *c)
{
	(void)c;
	S.connects++;
}

static void on_drain(struct net_conn *c)
{
	(void)c;
	S.drains++;
}

static void on_oversized(struct net_conn *c, const uint8_t *head, size_t hl, size_t flen)
{
	(void)head;
	(void)hl;
	S.oversized++;
	S.oversized_len = flen;
	/* The protocol answers before the close: this must reach the peer. */
	cr_assert_eq(net_conn_write(c, "\x00\x00\x00\x03TOO", 7), 0);
}

static int on_accept(struct net_server *s, struct net_conn *c, void *ctx)
{
	(void)s;
	(void)ctx;
	S.accepted = c;
	return 0;
}

static const struct net_conn_ops OPS = {
        .frame_len = net_framer_u32be,
        .on_frame = on_frame,
        .on_oversized = on_oversized,
        .on_connect = on_connect,
        .on_drain = on_drain,
        .on_close = on_close,
};

static struct ev_loop *L;
static struct net_loop *NL;

static void tick_cb(struct ev_loop *l, ev_timer *w, int r)
{
	(void)l;
	(void)w;
	(void)r;
}

static void setup(void)
{
	memset(&S, 0, sizeof(S));
	buf_init(&S.data);
	L = ev_loop_new(EVFLAG_AUTO);
	cr_assert(L);
	cr_assert_eq(net_loop_new(L, &NL), 0);
}

static void teardown(void)
{
	net_loop_free(NL);
	ev_loop_destroy(L);
	buf_release(&S.data);
}

/* Run the loop until *flag >= want or 3 s pass; returns whether it got there. */
static bool run_until(const int *flag, int want)
{
	ev_timer t;
	ev_timer_init(&t, tick_cb, 0.005, 0.005);
	ev_timer_start(L, &t);
	int64_t end = clock_mono_ms() + 3000;
	while (*flag < want && clock_mono_ms() < end)
		ev_run(L, EVRUN_ONCE);
	ev_timer_stop(L, &t);
	return *flag >= want;
}

static void run_for_ms(int ms)
{
	int never = 0;
	ev_timer t;
	ev_timer_init(&t, tick_cb, 0.005, 0.005);
	ev_timer_start(L, &t);
	int64_t end = clock_mono_ms() + ms;
	while (!never && clock_mono_ms() < end)
		ev_run(L, EVRUN_ONCE);
	ev_timer_stop(L, &t);
}

/* Runs the loop until `cond` holds or 3 s pass (the bound of run_until); the caller
 * asserts what it wanted. */
#define RUN_UNTIL(cond)                                                                            \
	do {                                                                                       \
		int64_t end_ = clock_mono_ms() + 3000;                                             \
		while (!(cond) && clock_mono_ms() < end_)                                          \
			run_for_ms(1);                                                             \
	} while (0)

static struct net_loop_stats loop_stats(void)
{
	struct net_loop_stats st;
	net_loop_get_stats(NL, &st);
	return st;
}

static struct net_server *start_server(const struct net_server_opts *o)
{
	struct net_server *s;
	struct net_addr a = test_addr(1, 0);
	struct cerr e = {0};
	int rc = net_server_new(NL, &a, o, &OPS, on_accept, NULL, &s, &e);
	cr_assert_eq(rc, 0, "server: %s", e.msg);
	cr_assert_neq(net_addr_port(net_server_addr(s)), 0);
	return s;
}

/* A plain blocking client socket from host .2 to the server. */
static int raw_client(struct net_server *s)
{
	struct net_addr src = test_addr(2, 0);
	const struct net_addr *dst = net_server_addr(s);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&src.ss, src.len), 0, "bind: %s", strerror(errno));
	cr_assert_eq(connect(fd, (const struct sockaddr *)&dst->ss, dst->len), 0, "connect: %s",
	             strerror(errno));
	return fd;
}

static void put_frame(struct buf *b, const char *body)
{
	buf_put_u32be(b, (uint32_t)strlen(body));
	buf_put_str(b, body);
}

TestSuite(net, .init = setup, .fini = teardown, .timeout = 30);

Test(net, addr_parse_format)
{
	struct net_addr a, b;
	char s[NET_ADDR_STRLEN];
	cr_assert_eq(net_addr_parse("127.0.3.9", 7000, &a, NULL), 0);
	net_addr_format(&a, s, sizeof(s));
	cr_expect_str_eq(s, "127.0.3.9:7000");
	cr_assert_eq(net_addr_parse("::1", 9042, &b, NULL), 0);
	net_addr_format(&b, s, sizeof(s));
	cr_expect_str_eq(s, "[::1]:9042");
	cr_expect(!net_addr_same_host(&a, &b));
	struct cerr e = {0};
	cr_expect_eq(net_addr_parse("node-1", 7000, &a, &e), COL_EINVAL);
	cr_expect(strstr(e.msg, "node-1") != NULL, "%s", e.msg);
	cr_assert_eq(net_addr_resolve("localhost", 7000, &a, NULL), 0);
	net_addr_host(&a, s, sizeof(s));
	cr_expect(strcmp(s, "127.0.0.1") == 0 || strcmp(s, "::1") == 0, "%s", s);
	cr_expect_eq(net_addr_resolve("no-such-host.invalid", 7000, &a, &e), COL_ENOTFOUND);
	cr_expect(strstr(e.msg, "no-such-host.invalid") != NULL, "%s", e.msg);
}

Test(net, framer_u32be)
{
	cr_expect_eq(net_framer_u32be((const uint8_t *)"", 0), 0);
	cr_expect_eq(net_framer_u32be((const uint8_t *)"\0\0\0", 3), 0);
	cr_expect_eq(net_framer_u32be((const uint8_t *)"\0\0\1\0", 4), 260);
	cr_expect_eq(net_framer_u32be((const uint8_t *)"\xff\xff\xff\xff", 4), 4 + 0xffffffffL);
}

Test(net, frames_split_across_partial_reads)
{
	struct net_server *s = start_server(NULL);
	int fd = raw_client(s);
	struct buf b;
	buf_init(&b);
	put_frame(&b, "hello");
	put_frame(&b, "");
	put_frame(&b, "a longer frame, to straddle reads");
	/* One byte per read: every header and body arrives torn. */
	for (size_t i = 0; i < b.len; i++) {
		cr_assert_eq(write(fd, b.data + i, 1), 1);
		RUN_UNTIL(loop_stats().bytes_in > i);
		cr_assert_eq(loop_stats().bytes_in, i + 1, "byte %zu read", i);
	}
	cr_assert(run_until(&S.frames, 3));
	cr_expect_eq(S.sizes[0], 9);
	cr_expect_eq(S.sizes[1], 4);
	cr_expect_eq(S.sizes[2], 4 + 33);
	cr_assert_eq(S.data.len, b.len);
	cr_expect(memcmp(S.data.data, b.data, b.len) == 0);
	/* The server saw our bound source address. */
	char h[64], want[64];
	net_addr_host(net_conn_peer(S.accepted), h, sizeof(h));
	test_host(2, want, sizeof(want));
	cr_expect_str_eq(h, want);
	/* Peer closes: on_close with COL_ECLOSED, exactly once. */
	close(fd);
	cr_assert(run_until(&S.closes, 1));
	cr_expect_eq(S.close_reason, COL_ECLOSED);
	run_for_ms(20);
	cr_expect_eq(S.closes, 1);
	buf_release(&b);
}

/* The CQL v4 header: 9 bytes, body length at offset 5. */
static long cql_framer(const uint8_t *p, size_t len)
{
	if (len < 9)
		return 0;
	if ((p[0] & 0x7f) != 4)
		return COL_EPROTO;
	return 9 + (long)be32_load(p + 5);
}

Test(net, cql_style_framer_and_bad_header)
{
	struct net_conn_ops ops = OPS;
	ops.frame_len = cql_framer;
	struct net_server *s;
	struct net_addr a = test_addr(1, 0);
	cr_assert_eq(net_server_new(NL, &a, NULL, &ops, on_accept, NULL, &s, NULL), 0);
	int fd = raw_client(s);
	uint8_t f[9 + 3] = {4, 0, 0, 1, 5, 0, 0, 0, 3, 'a', 'b', 'c'};
	cr_assert_eq(write(fd, f, 6), 6); /* header torn inside the length */
	run_for_ms(10);
	cr_expect_eq(S.frames, 0);
	cr_assert_eq(write(fd, f + 6, 6), 6);
	cr_assert(run_until(&S.frames, 1));
	cr_expect_eq(S.sizes[0], 12);
	uint8_t bad[9] = {3, 0, 0, 1, 5, 0, 0, 0, 0}; /* protocol v3: the framer refuses */
	cr_assert_eq(write(fd, bad, 9), 9);
	cr_assert(run_until(&S.closes, 1));
	cr_expect_eq(S.close_reason, COL_EPROTO);
	cr_expect_eq(S.frames, 1);
	char c;
	cr_expect_eq(read(fd, &c, 1), 0, "server closed the socket");
	struct net_loop_stats st;
	net_loop_get_stats(NL, &st);
	cr_expect_eq(st.proto_errors, 1);
	close(fd);
}

Test(net, oversized_frame_answered_then_closed)
{
	struct net_server_opts o = {.conn = {.max_frame = 1024}};
	struct net_server *s = start_server(&o);
	int fd = raw_client(s);
	uint8_t hdr[4];
	be32_store(hdr, 2000);
	cr_assert_eq(write(fd, hdr, 4), 4);
	cr_assert(run_until(&S.closes, 1));
	cr_expect_eq(S.oversized, 1);
	cr_expect_eq(S.oversized_len, 2004);
	cr_expect_eq(S.close_reason, COL_ETOOBIG);
	cr_expect(strstr(S.close_why, "2004") != NULL, "%s", S.close_why);
	cr_expect_eq(S.frames, 0);
	char got[16] = {0};
	ssize_t n = read(fd, got, sizeof(got));
	cr_expect_eq(n, 7, "the answer written in on_oversized arrives before EOF");
	cr_expect(memcmp(got + 4, "TOO", 3) == 0);
	cr_expect_eq(read(fd, got, 1), 0);
	close(fd);
}

Test(net, output_bound_stops_reading_then_refuses)
{
	struct net_server_opts o = {.conn = {.out_high = 256 << 10, .out_cap = 1 << 20}};
	struct net_server *s = start_server(&o);
	int fd = raw_client(s);
	struct buf b;
	buf_init(&b);
	put_frame(&b, "ping");
	cr_assert_eq(write(fd, b.data, b.len), (ssize_t)b.len);
	cr_assert(run_until(&S.frames, 1));
	struct net_conn *c = S.accepted;
	cr_assert(net_conn_reading(c));
	/* The client does not read: queue until the kernel buffers are full and beyond. */
	static uint8_t chunk[64 << 10];
	int refused = 0;
	for (int i = 0; i < 1000 && !refused; i++) {
		int rc = net_conn_write(c, chunk, sizeof(chunk));
		if (rc == COL_EFULL)
			refused = 1;
		else
			cr_assert_eq(rc, 0);
		run_for_ms(1);
	}
	cr_assert(refused, "a write beyond out_cap must be refused");
	cr_expect(net_conn_queued(c) <= (size_t)(1 << 20));
	cr_expect(net_conn_queued(c) > (size_t)(256 << 10));
	cr_expect(!net_conn_reading(c), "above out_high the connection stops reading");
	struct net_conn_stats cs;
	net_conn_get_stats(c, &cs);
	cr_expect_eq(cs.writes_refused, 1);
	struct net_loop_stats ls;
	net_loop_get_stats(NL, &ls);
	cr_expect_eq(ls.queued, net_conn_queued(c));
	/* A frame sent now is not delivered while reading is stopped. */
	cr_assert_eq(write(fd, b.data, b.len), (ssize_t)b.len);
	run_for_ms(20);
	cr_expect_eq(S.frames, 1);
	/* The client drains everything: reading resumes and the buffered frame arrives. */
	static uint8_t sink[1 << 16];
	int64_t end = clock_mono_ms() + 5000;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (S.drains == 0 && clock_mono_ms() < end) {
		while (read(fd, sink, sizeof(sink)) > 0)
			;
		run_for_ms(1);
	}
	cr_expect_eq(S.drains, 1);
	cr_assert(run_until(&S.frames, 2));
	cr_expect(net_conn_reading(c));
	buf_release(&b);
	close(fd);
}

Test(net, close_inside_callback_is_deferred)
{
	struct net_server *s = start_server(NULL);
	int fd = raw_client(s);
	int fd2 = raw_client(s);
	RUN_UNTIL(loop_stats().conns_accepted >= 2);
	cr_assert_eq(loop_stats().conns_accepted, 2);
	struct net_conn *second = S.accepted;
	cr_assert(second);
	struct buf b;
	buf_init(&b);
	put_frame(&b, "one");
	put_frame(&b, "two");
	put_frame(&b, "three");
	S.close_after_frames = 1;
	/* Both accepted; the first frame arrives on fd (not the last accepted). */
	S.other = second;
	S.accepted = NULL;
	cr_assert_eq(write(fd, b.data, b.len), (ssize_t)b.len);
	cr_assert(run_until(&S.closes, 2));
	run_for_ms(20);
	cr_expect_eq(S.frames, 1, "frames after the close are not delivered");
	cr_expect_eq(S.closes, 2);
	cr_expect_eq(S.close_reason, 0);
	struct net_loop_stats st;
	net_loop_get_stats(NL, &st);
	cr_expect_eq(st.conns_open, 0);
	cr_expect_eq(net_server_conns(s), 0);
	buf_release(&b);
	close(fd);
	close(fd2);
}

Test(net, connect_from_bound_source_coalesces_and_echoes)
{
	struct net_server *s = start_server(NULL);
	S.echo = 1;
	struct net_addr src = test_addr(2, 7000); /* the port is ignored: any source port */
	struct net_conn *c;
	struct cerr e = {0};
	cr_assert_eq(net_connect(NL, &src, net_server_addr(s), &OPS, NULL, NULL, &c, &e), 0, "%s",
	             e.msg);
	/* 100 frames queued before the connection is even up leave in one send(). */
	for (int i = 0; i < 100; i++) {
		char body[16];
		snprintf(body, sizeof(body), "m%03d", i);
		uint8_t f[8];
		be32_store(f, 4);
		memcpy(f + 4, body, 4);
		cr_assert_eq(net_conn_write(c, f, 8), 0);
	}
	cr_assert(run_until(&S.connects, 1));
	/* Server gets 100, echoes 100; the client gets 100: 200 frames in all. */
	cr_assert(run_until(&S.frames, 200));
	struct net_loop_stats st;
	net_loop_get_stats(NL, &st);
	cr_expect(st.flushes <= 8, "coalesced: %llu send calls for 200 frames",
	          (unsigned long long)st.flushes);
	char h[64], want[64];
	net_addr_host(net_conn_peer(S.accepted), h, sizeof(h));
	test_host(2, want, sizeof(want));
	cr_expect_str_eq(h, want, "outgoing connections leave from the bound address");
	cr_expect_neq(net_addr_port(net_conn_peer(S.accepted)), 7000);
}

Test(net, wbuf_encode_in_place_and_rollback)
{
	struct net_server *s = start_server(NULL);
	struct net_conn *c;
	struct net_conn_opts o = {.out_cap = 64};
	cr_assert_eq(net_connect(NL, NULL, net_server_addr(s), &OPS, &o, NULL, &c, NULL), 0);
	size_t mark;
	struct buf *w = net_conn_wbuf(c, &mark);
	buf_put_u32be(w, 0);
	buf_put_str(w, "patched");
	buf_patch_u32be(w, mark, (uint32_t)(w->len - mark - 4));
	cr_assert_eq(net_conn_wcommit(c, mark), 0);
	cr_expect_eq(net_conn_queued(c), 11);
	w = net_conn_wbuf(c, &mark);
	static const uint8_t big[100];
	buf_put(w, big, sizeof(big));
	cr_expect_eq(net_conn_wcommit(c, mark), COL_EFULL);
	cr_expect_eq(net_conn_queued(c), 11, "a refused encode is rolled back");
	cr_assert(run_until(&S.frames, 1));
	cr_expect_eq(S.sizes[0], 11);
	cr_expect(memcmp(S.data.data + 4, "patched", 7) == 0);
}

Test(net, connect_refused_reports_close)
{
	/* Find a port nobody listens on: bind, read it, close. */
	struct net_server *s = start_server(NULL);
	struct net_addr dst = *net_server_addr(s);
	net_server_free(s);
	struct net_conn *c;
	cr_assert_eq(net_connect(NL, NULL, &dst, &OPS, NULL, NULL, &c, NULL), 0);
	cr_assert(run_until(&S.closes, 1));
	cr_expect_eq(S.close_reason, COL_EIO);
	cr_expect(strstr(S.close_why, "refused") != NULL, "%s", S.close_why);
	cr_expect_eq(S.connects, 0);
}

Test(net, listen_twice_names_the_address)
{
	struct net_server *s = start_server(NULL);
	struct net_server *s2;
	struct cerr e = {0};
	cr_assert_eq(net_server_new(NL, net_server_addr(s), NULL, &OPS, NULL, NULL, &s2, &e),
	             COL_EIO);
	char as[NET_ADDR_STRLEN];
	net_addr_format(net_server_addr(s), as, sizeof(as));
	cr_expect(strstr(e.msg, as) != NULL, "%s", e.msg);
	cr_expect(strstr(e.msg, "in use") != NULL, "%s", e.msg);
}

Test(net, max_conns_refuses_extra)
{
	struct net_server_opts o = {.max_conns = 1};
	struct net_server *s = start_server(&o);
	int fd = raw_client(s);
	RUN_UNTIL(S.accepted);
	cr_assert(S.accepted);
	int fd2 = raw_client(s);
	struct pollfd p = {.fd = fd2, .events = POLLIN};
	RUN_UNTIL(poll(&p, 1, 0) == 1);
	cr_assert_eq(poll(&p, 1, 0), 1, "the second connection is answered");
	char c;
	cr_expect_eq(read(fd2, &c, 1), 0, "the second connection is closed at once");
	cr_expect_eq(net_server_conns(s), 1);
	close(fd);
	close(fd2);
}

static int pause_on_first(struct net_conn *c, const uint8_t *f, size_t len)
{
	on_frame(c, f, len);
	if (S.frames == 1)
		net_conn_pause_read(c); /* e.g. too many requests in flight */
	return 0;
}

Test(net, user_pause_holds_buffered_frames_until_resume)
{
	struct net_conn_ops ops = OPS;
	ops.on_frame = pause_on_first;
	struct net_server *s;
	struct net_addr a = test_addr(1, 0);
	cr_assert_eq(net_server_new(NL, &a, NULL, &ops, on_accept, NULL, &s, NULL), 0);
	int fd = raw_client(s);
	struct buf b;
	buf_init(&b);
	put_frame(&b, "one");
	put_frame(&b, "two");
	put_frame(&b, "three");
	cr_assert_eq(write(fd, b.data, b.len), (ssize_t)b.len);
	cr_assert(run_until(&S.frames, 1));
	run_for_ms(50);
	cr_expect_eq(S.frames, 1, "paused inside on_frame: the frames already read wait");
	cr_expect(!net_conn_reading(S.accepted));
	net_conn_resume_read(S.accepted);
	cr_assert(run_until(&S.frames, 3), "resume delivers the buffered frames");
	cr_expect_eq(S.sizes[2], 4 + 5);
	buf_release(&b);
	close(fd);
}

Test(net, own_address_is_not_loopback)
{
	char a[64];
	struct cerr e = {0};
	int rc = net_own_address(a, sizeof(a), &e);
	if (rc != 0) {
		/* Only a host with nothing but loopback may fail, and it says why. */
		cr_expect_eq(rc, COL_ENOTFOUND);
		cr_expect(strstr(e.msg, "no address of our own") != NULL, "%s", e.msg);
		cr_skip_test("this host has no non-loopback address: %s", e.msg);
	}
	struct net_addr na;
	cr_assert_eq(net_addr_parse(a, 7000, &na, NULL), 0, "'%s' is an address", a);
	cr_expect(strncmp(a, "127.", 4) != 0 && strcmp(a, "::1") != 0, "'%s' is not loopback", a);
	/* A socket can be bound to it: it is one of ours. */
	int fd = socket(na.ss.ss_family, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	net_addr_set_port(&na, 0);
	cr_expect_eq(bind(fd, (struct sockaddr *)&na.ss, na.len), 0, "bind %s: %s", a,
	             strerror(errno));
	close(fd);
}

/* ---- hand-off of accepted sockets to another loop -------------------------------------------- */

struct handoff_seen {
	int fds[4];
	int n;
	struct net_addr peer;
	bool refuse; /* serve on the accepting loop instead */
};
static struct handoff_seen H;

static int take_fd(void *ctx, int fd, const struct net_addr *peer)
{
	(void)ctx;
	if (H.refuse || H.n >= 4)
		return 1;
	H.fds[H.n++] = fd;
	H.peer = *peer;
	return 0;
}

Test(net, handoff_moves_an_accepted_socket_to_another_loop)
{
	memset(&H, 0, sizeof(H));
	struct net_server *s = start_server(NULL);
	net_server_set_handoff(s, take_fd, NULL);
	int fd = raw_client(s);
	RUN_UNTIL(H.n > 0);
	cr_assert_eq(H.n, 1, "the accepted socket went to the hand-off");
	cr_expect_null(S.accepted, "the accepting server made no connection of it");
	cr_expect_eq(net_server_conns(s), 0);
	char ph[64];
	net_addr_host(&H.peer, ph, sizeof(ph));
	char want[64];
	test_host(2, want, sizeof(want));
	cr_expect_str_eq(ph, want, "the peer address travels with the fd");

	/* the other loop (run on this thread for the test) serves it */
	struct ev_loop *l2 = ev_loop_new(EVFLAG_AUTO);
	struct net_loop *nl2;
	cr_assert_eq(net_loop_new(l2, &nl2), 0);
	struct net_conn *c;
	cr_assert_eq(net_conn_adopt(nl2, H.fds[0], &H.peer, &OPS, NULL, NULL, &c), 0);
	net_conn_start(c);
	struct buf b;
	buf_init(&b);
	put_frame(&b, "moved");
	cr_assert_eq(write(fd, b.data, b.len), (ssize_t)b.len);
	int64_t end = clock_mono_ms() + 3000;
	while (S.frames < 1 && clock_mono_ms() < end)
		ev_run(l2, EVRUN_NOWAIT);
	cr_assert_eq(S.frames, 1, "the frame arrived on the adopting loop");
	cr_expect_eq(memcmp(S.data.data + 4, "moved", 5), 0);
	cr_assert_eq(net_conn_write(c, "\x00\x00\x00\x02ok", 6), 0);
	net_loop_run_pending(nl2);
	char in[8];
	cr_expect_eq(read(fd, in, 6), 6, "the answer leaves from the adopting loop");
	close(fd);
	end = clock_mono_ms() + 3000;
	while (S.closes < 1 && clock_mono_ms() < end)
		ev_run(l2, EVRUN_NOWAIT);
	cr_expect_eq(S.closes, 1);
	net_loop_free(nl2);
	ev_loop_destroy(l2);
	buf_release(&b);
	net_server_free(s);
}

Test(net, handoff_declined_is_served_here)
{
	memset(&H, 0, sizeof(H));
	H.refuse = true;
	struct net_server *s = start_server(NULL);
	net_server_set_handoff(s, take_fd, NULL);
	int fd = raw_client(s);
	int got = 0;
	for (int i = 0; i < 100 && !S.accepted; i++)
		run_for_ms(10);
	got = S.accepted != NULL;
	cr_expect(got, "a declined hand-off is accepted by the server itself");
	cr_expect_eq(net_server_conns(s), 1);
	close(fd);
	net_server_free(s);
}

static void spin_cb(struct ev_loop *l, ev_timer *w, int r)
{
	(void)l;
	(void)r;
	int64_t until = clock_mono_us() + 3000;
	while (clock_mono_us() < until)
		;
	*(int *)w->data = 1;
}

Test(net, loop_iterations_are_measured_by_busy_time)
{
	int spun = 0;
	ev_timer t;
	ev_timer_init(&t, spin_cb, 0.001, 0);
	t.data = &spun;
	ev_timer_start(L, &t);
	cr_assert(run_until(&spun, 1));
	/* The spinning iteration is measured when the next one starts; an idle one follows. */
	uint64_t before = loop_stats().iter_count;
	RUN_UNTIL(loop_stats().iter_count >= before + 2);
	struct net_loop_stats st;
	net_loop_get_stats(NL, &st);
	uint64_t n = 0, above = 0;
	for (size_t i = 0; i < NET_ITER_BUCKETS; i++) {
		n += st.iter_buckets[i];
		if (i > 0 && net_iter_bounds_us[i - 1] >= 2500)
			above += st.iter_buckets[i];
	}
	cr_expect_eq(n, st.iter_count, "every iteration is in one bucket");
	cr_expect_geq(st.iter_count, 2, "the spinning iteration and the idle ones after it");
	cr_expect_geq(above, 1, "the 3 ms iteration is counted above 2.5 ms");
	cr_expect_geq(st.iter_max_us, 3000);
	cr_expect_geq(st.iter_busy_us, 3000);
}

/* A thread that keeps one core busy until told to stop. */
static void *hog(void *arg)
{
	volatile int *stop = arg;
	while (!*stop)
		;
	return NULL;
}

static void busy_tick_cb(struct ev_loop *l, ev_timer *w, int r)
{
	(void)l;
	(void)r;
	int64_t until = clock_mono_us() + 1000;
	while (clock_mono_us() < until)
		;
	(*(int *)w->data)++;
}

/* The loop's thread and another busy thread on one core: the loop waits for the core
 * about half the time, and net_loop_stats.runq_us says so (the kernel's run-queue
 * delay), where the wall clock alone would call the loop busy all along. */
Test(net, time_waiting_for_a_core_is_counted)
{
	if (access("/proc/thread-self/schedstat", R_OK) != 0)
		cr_skip_test(
		        "the kernel keeps no run-queue delay (no /proc/thread-self/schedstat)");
	cpu_set_t old, one;
	cr_assert_eq(sched_getaffinity(0, sizeof(old), &old), 0);
	int cpu = -1;
	for (int i = 0; i < CPU_SETSIZE && cpu < 0; i++)
		if (CPU_ISSET(i, &old))
			cpu = i;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	cr_assert_eq(sched_setaffinity(0, sizeof(one), &one), 0);
	run_for_ms(10); /* the first sample opens the file on this thread */
	uint64_t before = loop_stats().runq_us;
	volatile int stop = 0;
	pthread_t th;
	pthread_attr_t at;
	pthread_attr_init(&at);
	cr_assert_eq(pthread_attr_setaffinity_np(&at, sizeof(one), &one), 0);
	cr_assert_eq(pthread_create(&th, &at, hog, (void *)&stop), 0);
	pthread_attr_destroy(&at);
	int ticks = 0;
	ev_timer t;
	ev_timer_init(&t, busy_tick_cb, 0.001, 0.001);
	t.data = &ticks;
	ev_timer_start(L, &t);
	int64_t t0 = clock_mono_us();
	run_for_ms(400);
	int64_t wall = clock_mono_us() - t0;
	ev_timer_stop(L, &t);
	stop = 1;
	pthread_join(th, NULL);
	cr_assert_eq(sched_setaffinity(0, sizeof(old), &old), 0);
	uint64_t runq = loop_stats().runq_us - before;
	cr_expect_gt(ticks, 10, "%d ticks", ticks);
	/* about half of the wall time; a quarter leaves room for the sampling's 5 ms steps */
	cr_expect_geq(runq, (uint64_t)wall / 4, "waited %llu us for a core of %lld us",
	              (unsigned long long)runq, (long long)wall);
	cr_expect_leq(runq, (uint64_t)wall, "waited %llu us of %lld us", (unsigned long long)runq,
	              (long long)wall);
}

static void stall_cb(struct ev_loop *l, ev_timer *w, int r)
{
	(void)l;
	(void)r;
	int64_t until = clock_mono_us() + NET_STALL_US + 50000;
	while (clock_mono_us() < until)
		;
	(*(int *)w->data)++;
}

/* An iteration that runs past NET_STALL_US is counted as a stall with its time; the
 * second within NET_STALL_LOG_US is counted too (only its log line is held back). */
Test(net, a_long_iteration_is_counted_as_a_stall)
{
	struct net_loop_stats st0 = loop_stats();
	int n = 0;
	ev_timer t;
	ev_timer_init(&t, stall_cb, 0.001, 0);
	t.data = &n;
	ev_timer_start(L, &t);
	cr_assert(run_until(&n, 1));
	RUN_UNTIL(loop_stats().stalls > st0.stalls);
	ev_timer_set(&t, 0.001, 0);
	ev_timer_start(L, &t);
	cr_assert(run_until(&n, 2));
	RUN_UNTIL(loop_stats().stalls > st0.stalls + 1);
	run_for_ms(5); /* short iterations: no more stalls */
	struct net_loop_stats st = loop_stats();
	cr_expect_eq(st.stalls - st0.stalls, 2);
	cr_expect_geq(st.stall_us - st0.stall_us, 2 * (uint64_t)(NET_STALL_US + 50000));
	cr_expect_leq(st.stall_runq_us - st0.stall_runq_us, st.stall_us - st0.stall_us);
}

/* Input that waited in the socket says so: the kernel's receive timestamp of the newest
 * bytes read is a lower bound of how long the frame waited before the loop read it. */
Test(net, input_age_is_the_time_spent_in_the_socket)
{
	struct net_server_opts so = {.conn = {.rx_timestamps = true}};
	struct net_server *s = start_server(&so);
	int fd = raw_client(s);
	for (int i = 0; i < 3000 && !S.accepted; i++)
		run_for_ms(1);
	cr_assert(S.accepted, "accepted");
	struct buf b;
	buf_init(&b);
	/* Frames until one comes stamped: Linux turns receive timestamps on for the whole
	 * machine from a work queue after the first socket asks, so the first packets of a
	 * process can come unstamped (age -1). */
	for (int64_t until = clock_mono_ms() + 10000;;) {
		put_frame(&b, "warm");
		cr_assert_eq(write(fd, b.data, b.len), (ssize_t)b.len);
		buf_reset(&b);
		cr_assert(run_until(&S.frames, S.frames + 1));
		if (S.age >= 0)
			break;
		cr_assert_lt(clock_mono_ms(), until, "no stamped frame in 10 s");
		run_for_ms(20);
	}
	int warm = S.frames;
	put_frame(&b, "waited");
	cr_assert_eq(write(fd, b.data, b.len), (ssize_t)b.len);
	struct timespec ts = {0, 100 * 1000000L};
	nanosleep(&ts, NULL); /* the loop does not run: the frame waits in the socket */
	cr_assert(run_until(&S.frames, warm + 1));
	cr_expect_geq(S.age, 50000, "waited 100 ms, age %lld us", (long long)S.age);
	cr_expect_lt(S.age, 60 * 1000000LL, "age %lld us", (long long)S.age);
	close(fd);
	buf_release(&b);
}

Test(net, input_age_unknown_without_rx_timestamps)
{
	struct net_server *s = start_server(NULL);
	int fd = raw_client(s);
	struct buf b;
	buf_init(&b);
	put_frame(&b, "x");
	cr_assert_eq(write(fd, b.data, b.len), (ssize_t)b.len);
	cr_assert(run_until(&S.frames, 1));
	cr_expect_eq(S.age, -1);
	close(fd);
	buf_release(&b);
}

/* A client thread writing 4-byte frames to a blocking socket, one every `gap_us`. */
struct pacer {
	int fd;
	int gap_us;
	volatile int stop;
	uint64_t sent;
};

static void *pace(void *arg)
{
	struct pacer *p = arg;
	static const uint8_t f[8] = {0, 0, 0, 4, 'p', 'i', 'n', 'g'};
	while (!p->stop) {
		if (write(p->fd, f, sizeof(f)) != (ssize_t)sizeof(f))
			break;
		p->sent++;
		struct timespec ts = {0, (long)p->gap_us * 1000};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* run_for_ms with a 50 ms tick: libev waits out a window only when no timer is due within
 * its backend's minimum wait (1 ms for epoll), which a 5 ms tick would be a fifth of the time. */
static void run_slow_ticks_ms(int ms)
{
	ev_timer t;
	ev_timer_init(&t, tick_cb, 0.05, 0.05);
	ev_timer_start(L, &t);
	int64_t end = clock_mono_ms() + ms;
	while (clock_mono_ms() < end)
		ev_run(L, EVRUN_ONCE);
	ev_timer_stop(L, &t);
}

/* Frames coming fast turn coalescing on: each wake-up then takes a window's worth of them
 * (a few iterations per window instead of one per frame or two).  Coming slowly, they turn
 * it off again within a sample, and the loop no longer waits after its iterations. */
Test(net, frames_coming_fast_are_taken_a_window_at_a_time)
{
	enum { WINDOW_US = 2000 };
	net_loop_set_coalescing(NL, WINDOW_US);
	struct net_server *s = start_server(NULL);
	struct pacer p = {.fd = raw_client(s), .gap_us = 50};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, pace, &p), 0);
	/* one sample to see the rate, one to coalesce in */
	run_slow_ticks_ms(NET_COALESCE_SAMPLE_US / 1000 + 20);
	struct net_loop_stats a = loop_stats();
	run_slow_ticks_ms(300);
	struct net_loop_stats b = loop_stats();
	uint64_t frames = b.frames_in - a.frames_in, iters = b.iter_count - a.iter_count;
	cr_assert_gt(b.coalescing_iters, a.coalescing_iters,
	             "coalescing on at %llu frames in 300 ms", (unsigned long long)frames);
	/* at most one iteration per window (150 in 300 ms), and some slack */
	cr_expect_leq(iters, 200, "%llu frames in %llu iterations", (unsigned long long)frames,
	              (unsigned long long)iters);
	cr_expect_geq(frames, 4 * iters, "%llu frames in %llu iterations",
	              (unsigned long long)frames, (unsigned long long)iters);
	/* slow: 1 frame per 10 windows turns it off within a sample or two */
	p.gap_us = 20000;
	run_slow_ticks_ms(2 * NET_COALESCE_SAMPLE_US / 1000 + 50);
	struct net_loop_stats c = loop_stats();
	run_slow_ticks_ms(300);
	struct net_loop_stats d = loop_stats();
	cr_expect_eq(d.coalescing_iters, c.coalescing_iters, "no iteration waits at 50 frames/s");
	cr_expect_gt(d.frames_in, c.frames_in);
	p.stop = 1;
	pthread_join(th, NULL);
	close(p.fd);
}

/* Off (window 0, the default) the loop never waits after an iteration, however fast. */
Test(net, no_coalescing_without_a_window)
{
	struct net_server *s = start_server(NULL);
	struct pacer p = {.fd = raw_client(s), .gap_us = 50};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, pace, &p), 0);
	run_for_ms(300);
	p.stop = 1;
	pthread_join(th, NULL);
	run_for_ms(10);
	cr_expect_gt(loop_stats().frames_in, 100);
	cr_expect_eq(loop_stats().coalescing_iters, 0);
	close(p.fd);
}
