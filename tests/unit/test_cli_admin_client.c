/*
 * The operator tools' admin HTTP client (cli/lib): host[:port] parsing, and
 * HTTP answers (JSON, errors, cut or foreign answers) from a scripted server.
 */
#include "cli/lib/admin_client.h"
#include "core/json.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

Test(admin_target, host_and_port_forms)
{
	struct admin_target t;
	struct cerr e = {0};
	cr_assert_eq(admin_target_parse("127.0.0.2", 7199, &t, &e), 0);
	cr_expect_str_eq(t.host, "127.0.0.2");
	cr_expect_eq(t.port, 7199);
	cr_assert_eq(admin_target_parse("node1:8000", 7199, &t, &e), 0);
	cr_expect_str_eq(t.host, "node1");
	cr_expect_eq(t.port, 8000);
	cr_assert_eq(admin_target_parse("[::1]:7200", 7199, &t, &e), 0);
	cr_expect_str_eq(t.host, "::1");
	cr_expect_eq(t.port, 7200);
	cr_assert_eq(admin_target_parse("::1", 7199, &t, &e), 0);
	cr_expect_str_eq(t.host, "::1");
	cr_expect_eq(t.port, 7199);
	cr_expect_eq(admin_target_parse("host:0", 7199, &t, &e), COL_EINVAL);
	cr_expect_eq(admin_target_parse("host:99999", 7199, &t, &e), COL_EINVAL);
	cr_expect_eq(admin_target_parse("host:x", 7199, &t, &e), COL_EINVAL);
	cr_expect_eq(admin_target_parse(":7199", 7199, &t, &e), COL_EINVAL);
	cr_expect_eq(admin_target_parse("[::1", 7199, &t, &e), COL_EINVAL);
	cr_expect_eq(admin_target_parse("", 7199, &t, &e), COL_EINVAL);
}

/* ---- a scripted HTTP server on 127.0.x.y (COLONNADE_TEST_NET) ---------------------------- */

struct server {
	int fd;
	char addr[32];
	uint16_t port;
	const char *answer; /* sent verbatim, then close */
	size_t answer_len;
	char request[2048];
};

static void *serve_one(void *arg)
{
	struct server *s = arg;
	int c = accept(s->fd, NULL, NULL);
	if (c < 0)
		return NULL;
	ssize_t n = recv(c, s->request, sizeof(s->request) - 1, 0);
	if (n > 0)
		s->request[n] = 0;
	if (s->answer_len)
		(void)!write(c, s->answer, s->answer_len);
	close(c);
	return NULL;
}

static void server_start(struct server *s, const char *answer, pthread_t *th)
{
	const char *net = getenv("COLONNADE_TEST_NET");
	snprintf(s->addr, sizeof(s->addr), "%s.1", net && *net ? net : "127.0.0");
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	inet_pton(AF_INET, s->addr, &a.sin_addr);
	cr_assert_eq(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(s->fd, 4), 0);
	socklen_t l = sizeof(a);
	getsockname(s->fd, (struct sockaddr *)&a, &l);
	s->port = ntohs(a.sin_port);
	s->answer = answer;
	s->answer_len = answer ? strlen(answer) : 0;
	pthread_create(th, NULL, serve_one, s);
}

static int fetch(struct server *s, const char *answer, struct json **j, struct cerr *e)
{
	pthread_t th;
	server_start(s, answer, &th);
	struct admin_target t;
	admin_target_parse(s->addr, s->port, &t, e);
	t.timeout_ms = 2000;
	int rc = admin_get_json(&t, "/v1/status", j, e);
	pthread_join(th, NULL);
	close(s->fd);
	return rc;
}

Test(admin_client, reads_a_json_answer)
{
	struct server s = {0};
	struct json *j = NULL;
	struct cerr e = {0};
	const char *ans = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
	                  "13\r\n\r\n{\"a\":[1,2,3]}";
	cr_assert_eq(fetch(&s, ans, &j, &e), 0, "%s", e.msg);
	cr_expect_eq(json_len(json_get(j, "a")), 3);
	cr_expect(strncmp(s.request, "GET /v1/status HTTP/1.0\r\n", 25) == 0, "%s", s.request);
	json_free(j);
}

Test(admin_client, http_error_carries_the_message)
{
	struct server s = {0};
	struct json *j = NULL;
	struct cerr e = {0};
	const char *ans =
	        "HTTP/1.1 404 Not Found\r\nContent-Length: 25\r\n\r\n{\"error\":\"no such thing\"}";
	cr_assert_eq(fetch(&s, ans, &j, &e), COL_EIO);
	cr_expect(strstr(e.msg, "HTTP 404: no such thing"), "%s", e.msg);
}

Test(admin_client, cut_answers_and_non_http_are_errors)
{
	struct server s = {0};
	struct json *j = NULL;
	struct cerr e = {0};
	cr_expect_eq(fetch(&s, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"a\":", &j, &e),
	             COL_EPROTO);
	cr_expect(strstr(e.msg, "cut short"), "%s", e.msg);
	cr_expect_eq(fetch(&s, "SSH-2.0-OpenSSH\r\n", &j, &e), COL_EPROTO);
	cr_expect(strstr(e.msg, "not HTTP"), "%s", e.msg);
	cr_expect_eq(fetch(&s, "HTTP/1.1 200 OK\r\n\r\n{bad json", &j, &e), COL_ECORRUPT);
	cr_expect(strstr(e.msg, "bad JSON answer"), "%s", e.msg);
	cr_expect_eq(fetch(&s, NULL, &j, &e), COL_EPROTO, "closed without a byte");
}

Test(admin_client, nobody_listening)
{
	struct admin_target t;
	struct cerr e = {0};
	const char *net = getenv("COLONNADE_TEST_NET");
	char host[48];
	snprintf(host, sizeof(host), "%s.1:1", net && *net ? net : "127.0.0");
	cr_assert_eq(admin_target_parse(host, 7199, &t, &e), 0);
	struct json *j = NULL;
	cr_expect_eq(admin_get_json(&t, "/v1/status", &j, &e), COL_EIO);
	cr_expect(strstr(e.msg, "cannot connect to"), "%s", e.msg);
	cr_expect(strstr(e.msg, "Connection refused"), "%s", e.msg);
}
