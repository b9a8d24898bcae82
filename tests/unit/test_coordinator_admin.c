/*
 * The admin HTTP endpoint on a libev loop: routing, 404/405, GET-only and POST-only routes,
 * a taken port.
 */
#include "coordinator/admin/admin.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ev.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char host[32];

static void pick_host(void)
{
	const char *net = getenv("COLONNADE_TEST_NET");
	snprintf(host, sizeof(host), "%s.1", net && *net ? net : "127.0.0");
}

static int calls;

static int h_hello(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)query;
	calls++;
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "hello");
	jw_str(&w, (const char *)ctx);
	jw_obj_end(&w);
	(void)ctype;
	return 200;
}

static int h_text(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)ctx;
	(void)query;
	*ctype = "text/plain";
	buf_put_str(out, "metric 1\n");
	return 200;
}

static const struct admin_route routes[] = {
        {"/v1/hello", h_hello}, {"/metrics", h_text}, {"/v1/switch", h_hello, true}};

/* Send `req` to host:port and run the loop until the answer is complete. */
static void exchange(struct ev_loop *loop, uint16_t port, const char *req, char *out, size_t cap)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, host, &a.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	size_t n = 0;
	for (int i = 0; i < 2000; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		ssize_t r = read(fd, out + n, cap - 1 - n);
		if (r > 0)
			n += (size_t)r;
		else if (r == 0)
			break;
		usleep(1000);
	}
	out[n] = 0;
	close(fd);
}

Test(admin, routes_answers_and_errors)
{
	pick_host();
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct admin *a = NULL;
	struct cerr e = {0};
	uint16_t port = 17199;
	static char name[] = "node \"one\"";
	cr_assert_eq(admin_new(loop, host, port, routes, 3, name, NULL, &a, &e), 0, "%s", e.msg);
	char out[4096];
	exchange(loop, port, "GET /v1/hello HTTP/1.0\r\n\r\n", out, sizeof(out));
	cr_expect(strstr(out, "HTTP/1.0 200") || strstr(out, "HTTP/1.1 200"), "%s", out);
	cr_expect(strstr(out, "application/json"), "%s", out);
	cr_expect(strstr(out, "{\"hello\":\"node \\\"one\\\"\"}"), "%s", out);
	exchange(loop, port, "GET /metrics HTTP/1.0\r\n\r\n", out, sizeof(out));
	cr_expect(strstr(out, "text/plain") && strstr(out, "metric 1"), "%s", out);
	exchange(loop, port, "GET /nope HTTP/1.0\r\n\r\n", out, sizeof(out));
	cr_expect(strstr(out, " 404 "), "%s", out);
	cr_expect(strstr(out, "no such endpoint: /nope") && strstr(out, "/v1/hello"), "%s", out);
	exchange(loop, port, "DELETE /v1/hello HTTP/1.0\r\n\r\n", out, sizeof(out));
	cr_expect(strstr(out, " 405 "), "%s", out);
	exchange(loop, port, "garbage\r\n\r\n", out, sizeof(out));
	cr_expect(strstr(out, " 400 ") || out[0] == 0, "a non-HTTP line is refused: %s", out);
	cr_expect_eq(calls, 1, "only the one GET reached the handler");
	/* a route that changes state: POST only; a read-only route refuses POST */
	exchange(loop, port, "GET /v1/switch HTTP/1.0\r\n\r\n", out, sizeof(out));
	cr_expect(strstr(out, " 405 ") && strstr(out, "use POST"), "%s", out);
	exchange(loop, port, "POST /v1/hello HTTP/1.0\r\nContent-Length: 0\r\n\r\n", out,
	         sizeof(out));
	cr_expect(strstr(out, " 405 ") && strstr(out, "use GET"), "%s", out);
	cr_expect_eq(calls, 1);
	exchange(loop, port, "POST /v1/switch HTTP/1.0\r\nContent-Length: 0\r\n\r\n", out,
	         sizeof(out));
	cr_expect(strstr(out, " 200 ") && strstr(out, "hello"), "%s", out);
	exchange(loop, port, "POST /v1/switch HTTP/1.0\r\nContent-Length: 4\r\n\r\nbody", out,
	         sizeof(out));
	cr_expect(strstr(out, " 200 "), "a body is ignored: %s", out);
	cr_expect_eq(calls, 3, "both POSTs reached the handler");
	struct admin_stats st;
	admin_get_stats(a, &st);
	cr_expect_geq(st.requests, 4);
	cr_expect_eq(st.not_found, 1);

	/* A second admin on the same address and port: a clear error. */
	struct admin *b = NULL;
	cr_expect_eq(admin_new(loop, host, port, routes, 3, NULL, NULL, &b, &e), COL_EIO);
	cr_expect(strstr(e.msg, "admin: listen on") && strstr(e.msg, "Address already in use"),
	          "%s", e.msg);
	cr_expect_eq(admin_new(loop, "not-an-ip", port, routes, 2, NULL, NULL, &b, &e), COL_EINVAL);
	admin_free(a);
	ev_loop_destroy(loop);
}

/* A connection from `src` (NULL: any) to host:port, non-blocking after connect. */
static int open_from(const char *src, const char *dst, uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	if (src) {
		struct sockaddr_in s = {.sin_family = AF_INET};
		inet_pton(AF_INET, src, &s.sin_addr);
		cr_assert_eq(bind(fd, (struct sockaddr *)&s, sizeof(s)), 0);
	}
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, dst, &a.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Run the loop for ms milliseconds. */
static void spin(struct ev_loop *loop, int ms)
{
	for (int i = 0; i < ms; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
}

/* Has the server closed fd (end of stream or a reset)? */
static bool closed_by_server(int fd)
{
	char b[256];
	ssize_t r = read(fd, b, sizeof(b));
	return r == 0 || (r < 0 && errno != EAGAIN);
}

Test(admin, token_guards_post_and_guarded_routes)
{
	pick_host();
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct admin *a = NULL;
	struct cerr e = {0};
	static const struct admin_route g[] = {{"/v1/hello", h_hello},
	                                       {"/v1/data", h_hello, false, true},
	                                       {"/v1/switch", h_hello, true}};
	static char name[] = "guarded";
	uint16_t port = 17198;
	cr_assert_eq(admin_new(loop, host, port, g, 3, name, "tok-123", &a, &e), 0, "%s", e.msg);
	char out[4096];
	calls = 0;
	exchange(loop, port, "GET /v1/hello HTTP/1.0\r\n\r\n", out, sizeof(out));
	cr_expect(strstr(out, " 200 "), "an open route needs no token: %s", out);
	exchange(loop, port, "GET /v1/data HTTP/1.0\r\n\r\n", out, sizeof(out));
	cr_expect(strstr(out, " 401 ") && strstr(out, "needs the admin token") &&
	                  strstr(out, "WWW-Authenticate"),
	          "%s", out);
	exchange(loop, port, "GET /v1/data HTTP/1.0\r\nAuthorization: Bearer tok-12\r\n\r\n", out,
	         sizeof(out));
	cr_expect(strstr(out, " 401 ") && strstr(out, "wrong admin token"), "%s", out);
	exchange(loop, port, "GET /v1/data HTTP/1.0\r\nAuthorization: Bearer tok-1234\r\n\r\n", out,
	         sizeof(out));
	cr_expect(strstr(out, " 401 "), "a longer token is wrong too: %s", out);
	exchange(loop, port,
	         "POST /v1/switch HTTP/1.0\r\nContent-Length: 0\r\nAuthorization: Basic "
	         "dG9rLTEyMw==\r\n\r\n",
	         out, sizeof(out));
	cr_expect(strstr(out, " 401 "), "%s", out);
	cr_expect_eq(calls, 1, "no refused request reached its handler");
	exchange(loop, port, "GET /v1/data HTTP/1.0\r\nAuthorization: bearer tok-123\r\n\r\n", out,
	         sizeof(out));
	cr_expect(strstr(out, " 200 ") && strstr(out, "guarded"), "%s", out);
	exchange(loop, port,
	         "POST /v1/switch HTTP/1.0\r\nContent-Length: 0\r\nAuthorization: Bearer "
	         "tok-123\r\n\r\n",
	         out, sizeof(out));
	cr_expect(strstr(out, " 200 "), "%s", out);
	struct admin_stats st;
	admin_get_stats(a, &st);
	cr_expect_eq(st.refused, 4);
	cr_expect(admin_on_loopback(a));
	admin_free(a);

	/* No token on a non-loopback bind: guarded routes are refused, open ones served. */
	int probe = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in any = {.sin_family = AF_INET};
	socklen_t al = sizeof(any);
	cr_assert_eq(bind(probe, (struct sockaddr *)&any, sizeof(any)), 0);
	getsockname(probe, (struct sockaddr *)&any, &al);
	uint16_t free_port = ntohs(any.sin_port);
	close(probe);
	cr_assert_eq(admin_new(loop, "0.0.0.0", free_port, g, 3, name, NULL, &a, &e), 0, "%s",
	             e.msg);
	cr_expect(!admin_on_loopback(a));
	exchange(loop, free_port, "GET /v1/data HTTP/1.0\r\n\r\n", out, sizeof(out));
	cr_expect(strstr(out, " 403 ") && strstr(out, "no admin_token is configured"), "%s", out);
	exchange(loop, free_port, "GET /v1/hello HTTP/1.0\r\n\r\n", out, sizeof(out));
	cr_expect(strstr(out, " 200 "), "%s", out);
	admin_free(a);
	ev_loop_destroy(loop);
}

Test(admin, late_heads_cut_and_per_source_bound)
{
	pick_host();
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct admin *a = NULL;
	struct cerr e = {0};
	static char name[] = "bounded";
	uint16_t port = 17197;
	cr_assert_eq(admin_new(loop, host, port, routes, 3, name, NULL, &a, &e), 0, "%s", e.msg);
	/* From one source: ADMIN_MAX_CONNS_PER_IP are held, the rest closed at once. */
	const char *net = getenv("COLONNADE_TEST_NET");
	char src[32], other[32];
	snprintf(src, sizeof(src), "%s.77", net && *net ? net : "127.0.0");
	snprintf(other, sizeof(other), "%s.78", net && *net ? net : "127.0.0");
	int fds[ADMIN_MAX_CONNS_PER_IP + 4];
	int n = (int)(sizeof(fds) / sizeof(fds[0]));
	for (int i = 0; i < n; i++) {
		fds[i] = open_from(src, host, port);
		spin(loop, 5);
	}
	/* a slow head: a few bytes, never the blank line */
	cr_assert_eq(write(fds[0], "GET /v1/hel", 11), 11);
	spin(loop, 200);
	int refused = 0;
	for (int i = 0; i < n; i++)
		refused += closed_by_server(fds[i]);
	cr_expect_eq(refused, n - ADMIN_MAX_CONNS_PER_IP, "%d of %d closed at accept", refused, n);
	struct admin_stats st;
	admin_get_stats(a, &st);
	cr_expect_eq(st.open_conns, ADMIN_MAX_CONNS_PER_IP);
	/* Another source is served meanwhile. */
	int h = open_from(other, host, port);
	cr_assert_eq(write(h, "GET /metrics HTTP/1.0\r\n\r\n", 25), 25);
	char out[2048];
	size_t got = 0;
	for (int i = 0; i < 500 && got < sizeof(out) - 1; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		ssize_t r = read(h, out + got, sizeof(out) - 1 - got);
		if (r == 0)
			break;
		if (r > 0)
			got += (size_t)r;
		usleep(1000);
	}
	out[got] = 0;
	close(h);
	cr_expect(strstr(out, " 200 ") && strstr(out, "metric 1"), "%s", out);
	/* After ADMIN_HEADER_TIMEOUT_S every held connection without a head is cut. */
	spin(loop, ADMIN_HEADER_TIMEOUT_S * 1000 + 700);
	int cut = 0;
	for (int i = 0; i < n; i++) {
		cut += closed_by_server(fds[i]);
		close(fds[i]);
	}
	cr_expect_eq(cut, n, "every late head was cut (%d of %d)", cut, n);
	admin_get_stats(a, &st);
	cr_expect_eq(st.header_timeouts, ADMIN_MAX_CONNS_PER_IP);
	spin(loop, 50);
	admin_get_stats(a, &st);
	cr_expect_eq(st.open_conns, 0);
	admin_free(a);
	ev_loop_destroy(loop);
}
