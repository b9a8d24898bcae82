/*
 * The admin HTTP endpoint on a libev loop: routing, 404/405, GET-only and POST-only routes,
 * a taken port.
 */
#include "coordinator/admin/admin.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ev.h>
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
	cr_assert_eq(admin_new(loop, host, port, routes, 3, name, &a, &e), 0, "%s", e.msg);
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
	cr_expect_eq(admin_new(loop, host, port, routes, 3, NULL, &b, &e), COL_EIO);
	cr_expect(strstr(e.msg, "admin: listen on") && strstr(e.msg, "Address already in use"),
	          "%s", e.msg);
	cr_expect_eq(admin_new(loop, "not-an-ip", port, routes, 2, NULL, &b, &e), COL_EINVAL);
	admin_free(a);
	ev_loop_destroy(loop);
}
