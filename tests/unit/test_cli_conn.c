/*
 * test_cli_conn.c — the asynchronous client connection (cli/lib/cqlclient.h)
 * against a peer scripted byte by byte in the test: handshake, stream ids and
 * out-of-order answers, re-prepare on Unprepared, request timeouts, an
 * oversized frame, a wrong protocol version, a peer that closes, the in-flight
 * bound, the written notification (what the socket took, not what was queued).  Binds
 * ${COLONNADE_TEST_NET:-127.0.0}.1 on an ephemeral port.
 */
#include "cli/lib/cqlclient.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct peer {
	struct ev_loop *loop;
	int lfd, fd;
	char host[32];
	uint16_t port;
	struct cqlconn *c;
	int ready_status;
	bool ready_called;
	char ready_why[CERR_MSG_MAX];
	struct buf in;
};

struct answer {
	bool called;
	int status;
	struct cqlresult *res;
	char why[CERR_MSG_MAX];
};

static void on_ready(struct cqlconn *c, void *arg, int status, const char *why)
{
	(void)c;
	struct peer *p = arg;
	p->ready_called = true;
	p->ready_status = status;
	snprintf(p->ready_why, sizeof(p->ready_why), "%s", why ? why : "");
}

static void on_answer(struct cqlconn *c, void *arg, int status, struct cqlresult *res,
                      const char *why)
{
	(void)c;
	struct answer *a = arg;
	cr_assert_not(a->called, "callback ran twice");
	a->called = true;
	a->status = status;
	a->res = res;
	snprintf(a->why, sizeof(a->why), "%s", why ? why : "");
}

static void peer_listen(struct peer *p)
{
	memset(p, 0, sizeof(*p));
	const char *net = getenv("COLONNADE_TEST_NET");
	snprintf(p->host, sizeof(p->host), "%s.1", net && *net ? net : "127.0.0");
	p->loop = ev_loop_new(EVFLAG_AUTO);
	p->lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	inet_pton(AF_INET, p->host, &a.sin_addr);
	cr_assert_eq(bind(p->lfd, (struct sockaddr *)&a, sizeof(a)), 0, "bind %s: %s", p->host,
	             strerror(errno));
	cr_assert_eq(listen(p->lfd, 4), 0);
	socklen_t sl = sizeof(a);
	getsockname(p->lfd, (struct sockaddr *)&a, &sl);
	p->port = ntohs(a.sin_port);
	p->fd = -1;
	buf_init(&p->in);
}

static void pump(struct peer *p, int ms)
{
	for (int i = 0; i < ms; i++) {
		ev_run(p->loop, EVRUN_NOWAIT);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

/* Pump the loop until *flag or 3 s. */
static void pump_until(struct peer *p, const bool *flag)
{
	for (int i = 0; i < 3000 && !*flag; i++)
		pump(p, 1);
	cr_assert(*flag, "timed out waiting");
}

static void peer_open(struct peer *p, const struct cqlconn_opts *o)
{
	struct cerr err = {0};
	cr_assert_eq(cqlconn_open(p->loop, p->host, p->port, o, on_ready, p, &p->c, &err), 0, "%s",
	             err.msg);
	struct pollfd pf = {p->lfd, POLLIN, 0};
	for (int i = 0; i < 3000 && poll(&pf, 1, 0) == 0; i++)
		pump(p, 1);
	p->fd = accept(p->lfd, NULL, NULL);
	cr_assert(p->fd >= 0);
	fcntl(p->fd, F_SETFL, O_NONBLOCK);
}

/* Next request frame from the client (pumping its loop meanwhile). */
static void peer_recv(struct peer *p, struct cql_header *h, struct buf *body)
{
	for (int i = 0; i < 3000; i++) {
		if (p->in.len >= 9) {
			cql_header_decode(p->in.data, p->in.len, h);
			if (p->in.len >= 9 + (size_t)h->length) {
				buf_reset(body);
				buf_put(body, p->in.data + 9, h->length);
				buf_consume(&p->in, 9 + h->length);
				return;
			}
		}
		uint8_t tmp[4096];
		ssize_t n = recv(p->fd, tmp, sizeof(tmp), 0);
		if (n > 0) {
			buf_put(&p->in, tmp, (size_t)n);
			continue;
		}
		pump(p, 1);
	}
	cr_assert_fail("no request frame from the client");
}

static void peer_send(struct peer *p, int16_t stream, uint8_t op, const struct buf *body)
{
	struct buf f;
	buf_init(&f);
	size_t s = cql_frame_begin(&f, 0x84, 0, stream, op);
	if (body)
		buf_put(&f, body->data, body->len);
	cql_frame_end(&f, s);
	cr_assert_eq(send(p->fd, f.data, f.len, 0), (ssize_t)f.len);
	buf_release(&f);
}

static void peer_handshake(struct peer *p)
{
	struct cql_header h;
	struct buf body, out;
	buf_init(&body);
	buf_init(&out);
	peer_recv(p, &h, &body);
	cr_assert_eq(h.opcode, CQL_OP_OPTIONS);
	cr_assert_eq(h.version, 4);
	cql_put_short(&out, 1);
	cql_put_string(&out, "CQL_VERSION");
	const char *v[] = {"3.4.4"};
	cql_put_string_list(&out, v, 1);
	peer_send(p, h.stream, CQL_OP_SUPPORTED, &out);
	peer_recv(p, &h, &body);
	cr_assert_eq(h.opcode, CQL_OP_STARTUP);
	struct bufreader r;
	bufreader_init(&r, body.data, body.len);
	struct cql_slice ver;
	cql_get_string_map_find(&r, "CQL_VERSION", &ver);
	cr_assert_eq(ver.len, 5);
	peer_send(p, h.stream, CQL_OP_READY, NULL);
	pump_until(p, &p->ready_called);
	cr_assert_eq(p->ready_status, 0, "%s", p->ready_why);
	cr_assert(cqlconn_ready(p->c));
	buf_release(&body);
	buf_release(&out);
}

/* A client connection to a listening peer, through its handshake to ready. */
static void peer_connect(struct peer *p, const struct cqlconn_opts *o)
{
	peer_listen(p);
	peer_open(p, o);
	peer_handshake(p);
}

static void peer_close(struct peer *p)
{
	if (p->c)
		cqlconn_free(p->c);
	if (p->fd >= 0)
		close(p->fd);
	close(p->lfd);
	ev_loop_destroy(p->loop);
	buf_release(&p->in);
}

static void void_body(struct buf *b)
{
	buf_reset(b);
	cql_put_int(b, CQL_RESULT_VOID);
}

/* The client sends a SELECT whose answer goes to *a; the peer reads its frame into *h. */
static void query_sent(struct peer *p, struct answer *a, struct cql_header *h)
{
	struct cql_qparams qp;
	cql_qparams_init(&qp);
	cr_assert_eq(cqlconn_query(p->c, "SELECT", 6, &qp, on_answer, a), 0);
	struct buf body;
	buf_init(&body);
	peer_recv(p, h, &body);
	buf_release(&body);
}

/* A SELECT that the peer answers with a VOID result succeeds (the connection serves). */
static void query_answered(struct peer *p)
{
	struct answer a = {0};
	struct cql_header h;
	query_sent(p, &a, &h);
	struct buf out;
	buf_init(&out);
	void_body(&out);
	peer_send(p, h.stream, CQL_OP_RESULT, &out);
	pump_until(p, &a.called);
	cr_assert_eq(a.status, 0, "%s", a.why);
	cqlresult_free(a.res);
	buf_release(&out);
}

/* An Unprepared error naming the statement id the server does not know. */
static void unprepared_body(struct buf *b, const char *msg, const char *id, size_t id_len)
{
	buf_reset(b);
	cql_put_int(b, CQL_ERR_UNPREPARED);
	cql_put_string(b, msg);
	cql_put_short_bytes(b, id, id_len);
}

/* A PREPARED result giving the statement id `id`, without metadata. */
static void prepared_body(struct buf *b, const char *id, size_t id_len)
{
	buf_reset(b);
	cql_put_int(b, CQL_RESULT_PREPARED);
	cql_put_short_bytes(b, id, id_len);
	cql_put_int(b, 0);
	cql_put_int(b, 0);
	cql_put_int(b, 0);
	cql_put_int(b, CQL_ROWS_NO_METADATA);
	cql_put_int(b, 0);
}

/* A statement the client holds as prepared under the one-byte id `id`. */
static struct cqlprepared *prepared_statement(const char *cql, uint8_t id)
{
	struct cqlresult *pr = calloc(1, sizeof(*pr));
	cr_assert_not_null(pr);
	pr->kind = CQLRES_PREPARED;
	pr->prepared_id = malloc(1);
	pr->prepared_id[0] = id;
	pr->prepared_id_len = 1;
	pr->meta.paging_state_len = pr->bind_meta.paging_state_len = -1;
	struct cqlprepared *ps = NULL;
	cr_assert_eq(cqlprepared_new(cql, strlen(cql), pr, &ps, NULL), 0);
	return ps;
}

static void set_keyspace_body(struct buf *b, const char *ks)
{
	buf_reset(b);
	cql_put_int(b, CQL_RESULT_SET_KEYSPACE);
	cql_put_string(b, ks);
}

Test(conn, handshake_and_out_of_order_answers)
{
	struct peer p;
	peer_connect(&p, NULL);
	struct cql_qparams qp;
	cql_qparams_init(&qp);
	struct answer a[3] = {0};
	const char *q[3] = {"USE a", "USE b", "USE c"};
	for (int i = 0; i < 3; i++)
		cr_assert_eq(cqlconn_query(p.c, q[i], 5, &qp, on_answer, &a[i]), 0);
	cr_assert_eq(cqlconn_inflight(p.c), 3);
	struct cql_header h[3];
	struct buf body, out;
	buf_init(&body);
	buf_init(&out);
	char seen[3] = {0};
	for (int i = 0; i < 3; i++) {
		peer_recv(&p, &h[i], &body);
		cr_assert_eq(h[i].opcode, CQL_OP_QUERY);
		seen[i] = (char)body.data[8]; /* the keyspace letter of "USE x" */
		for (int j = 0; j < i; j++)
			cr_assert_neq(h[i].stream, h[j].stream, "stream ids must differ");
	}
	/* Answer in reverse order; each answer must reach its own request. */
	for (int i = 2; i >= 0; i--) {
		char ks[2] = {seen[i], 0};
		set_keyspace_body(&out, ks);
		peer_send(&p, h[i].stream, CQL_OP_RESULT, &out);
	}
	pump_until(&p, &a[0].called);
	pump(&p, 20);
	for (int i = 0; i < 3; i++) {
		cr_assert(a[i].called);
		cr_assert_eq(a[i].status, 0);
		cr_assert_eq(a[i].res->kind, CQLRES_SET_KEYSPACE);
		cr_assert_eq(a[i].res->keyspace[0], q[i][4]);
		cqlresult_free(a[i].res);
	}
	cr_assert_eq(cqlconn_inflight(p.c), 0);
	struct cqlconn_stats st;
	cqlconn_get_stats(p.c, &st);
	cr_assert_eq(st.requests, 3);
	buf_release(&body);
	buf_release(&out);
	peer_close(&p);
}

Test(conn, reprepares_on_unprepared_and_resends_on_the_same_stream)
{
	struct peer p;
	peer_connect(&p, NULL);
	struct cqlprepared *ps = prepared_statement("INSERT X", 0x01);
	struct cql_qparams qp;
	cql_qparams_init(&qp);
	struct answer a = {0};
	cr_assert_eq(cqlconn_execute(p.c, ps, &qp, on_answer, &a), 0);

	struct cql_header h;
	struct buf body, out;
	buf_init(&body);
	buf_init(&out);
	peer_recv(&p, &h, &body);
	cr_assert_eq(h.opcode, CQL_OP_EXECUTE);
	int16_t stream = h.stream;
	unprepared_body(&out, "Prepared query with ID 01 not found", "\x01", 1);
	peer_send(&p, stream, CQL_OP_ERROR, &out);

	peer_recv(&p, &h, &body);
	cr_assert_eq(h.opcode, CQL_OP_PREPARE);
	cr_assert_eq(h.stream, stream);
	cr_assert(body.len == 12 && memcmp(body.data + 4, "INSERT X", 8) == 0);
	prepared_body(&out, "\x07\x08", 2);
	peer_send(&p, stream, CQL_OP_RESULT, &out);

	peer_recv(&p, &h, &body);
	cr_assert_eq(h.opcode, CQL_OP_EXECUTE);
	cr_assert_eq(h.stream, stream);
	cr_assert(body.len >= 4 && body.data[1] == 2 && body.data[2] == 7 && body.data[3] == 8,
	          "EXECUTE must carry the new id");
	cr_assert_eq(a.called, false);
	void_body(&out);
	peer_send(&p, stream, CQL_OP_RESULT, &out);
	pump_until(&p, &a.called);
	cr_assert_eq(a.status, 0);
	cr_assert_eq(a.res->kind, CQLRES_VOID);
	cr_assert_eq(ps->id_len, 2);
	cqlresult_free(a.res);

	/* A second Unprepared for the same request is handed to the caller. */
	struct answer b = {0};
	cr_assert_eq(cqlconn_execute(p.c, ps, &qp, on_answer, &b), 0);
	peer_recv(&p, &h, &body);
	unprepared_body(&out, "gone", "\x07\x08", 2);
	peer_send(&p, h.stream, CQL_OP_ERROR, &out);
	peer_recv(&p, &h, &body);
	cr_assert_eq(h.opcode, CQL_OP_PREPARE);
	buf_reset(&out);
	cql_put_int(&out, CQL_ERR_SYNTAX);
	cql_put_string(&out, "line 1:0 no viable alternative");
	peer_send(&p, h.stream, CQL_OP_ERROR, &out);
	pump_until(&p, &b.called);
	cr_assert_eq(b.res->kind, CQLRES_ERROR);
	cr_assert_eq(b.res->error.code, CQL_ERR_SYNTAX);
	cqlresult_free(b.res);
	struct cqlconn_stats st;
	cqlconn_get_stats(p.c, &st);
	cr_assert_eq(st.reprepares, 2);
	buf_release(&body);
	buf_release(&out);
	peer_close(&p);
	cqlprepared_free(ps);
}

Test(conn, batch_reprepares_its_prepared_statement)
{
	struct peer p;
	peer_connect(&p, NULL);
	struct cqlprepared *ps = prepared_statement("INSERT P", 0x05);
	struct cql_slice v = {(const uint8_t *)"vv", 2};
	struct cql_batch_item items[3] = {
	        {.cql = "INSERT A", .cql_len = 8},
	        {.ps = ps, .values = &v, .n_values = 1},
	        {.cql = "INSERT B", .cql_len = 8, .values = &v, .n_values = 1}};
	struct cql_qparams qp;
	cql_qparams_init(&qp);
	qp.timestamp = 77;
	struct answer a = {0};
	cr_assert_eq(cqlconn_batch(p.c, CQL_BATCH_LOGGED, items, 3, &qp, on_answer, &a), 0);
	struct cql_header h;
	struct buf body, out, want;
	buf_init(&body);
	buf_init(&out);
	buf_init(&want);
	peer_recv(&p, &h, &body);
	cr_assert_eq(h.opcode, CQL_OP_BATCH);
	unprepared_body(&out, "unknown", "\x05", 1);
	peer_send(&p, h.stream, CQL_OP_ERROR, &out);
	peer_recv(&p, &h, &body);
	cr_assert_eq(h.opcode, CQL_OP_PREPARE);
	prepared_body(&out, "\x0a\x0b\x0c", 3); /* a longer id */
	peer_send(&p, h.stream, CQL_OP_RESULT, &out);
	peer_recv(&p, &h, &body);
	cr_assert_eq(h.opcode, CQL_OP_BATCH);
	/* The resent batch is exactly a fresh encoding with the new id. */
	cqlreq_batch(&want, h.stream, CQL_BATCH_LOGGED, items, 3, &qp);
	cr_assert_eq(body.len, want.len - 9);
	cr_assert(memcmp(body.data, want.data + 9, body.len) == 0, "batch body differs");
	void_body(&out);
	peer_send(&p, h.stream, CQL_OP_RESULT, &out);
	pump_until(&p, &a.called);
	cr_assert_eq(a.status, 0);
	cr_assert_eq(a.res->kind, CQLRES_VOID);
	cqlresult_free(a.res);
	buf_release(&body);
	buf_release(&out);
	buf_release(&want);
	peer_close(&p);
	cqlprepared_free(ps);
}

Test(conn, timeout_orphans_the_stream_until_the_late_answer)
{
	struct peer p;
	struct cqlconn_opts o = {.request_timeout_ms = 150};
	peer_connect(&p, &o);
	struct answer a = {0};
	struct cql_header h;
	query_sent(&p, &a, &h);
	pump_until(&p, &a.called);
	cr_assert_eq(a.status, COL_ETIMEDOUT);
	cr_assert_null(a.res);
	struct cqlconn_stats st;
	cqlconn_get_stats(p.c, &st);
	cr_assert_eq(st.timeouts, 1);
	cr_assert_eq(st.orphans, 1);
	cr_assert_eq(cqlconn_inflight(p.c), 0);
	cr_assert(strstr(a.why, "within 150 ms"), "%s", a.why);
	/* The late answer is swallowed; the connection stays usable. */
	struct buf out;
	buf_init(&out);
	void_body(&out);
	peer_send(&p, h.stream, CQL_OP_RESULT, &out);
	buf_release(&out);
	pump(&p, 30);
	cr_assert(cqlconn_ready(p.c));
	query_answered(&p);
	peer_close(&p);
}

/* Only the requests still unanswered at their deadline time out, whatever order the
 * answers come in, and a request sent after the others keeps its own deadline. */
Test(conn, timeouts_follow_each_request_deadline)
{
	struct peer p;
	struct cqlconn_opts o = {.request_timeout_ms = 1500};
	peer_connect(&p, &o);
	struct answer a[3] = {0};
	struct cql_header h[3];
	struct buf out;
	buf_init(&out);
	for (int i = 0; i < 3; i++)
		query_sent(&p, &a[i], &h[i]);
	/* The middle one is answered; the first and last are not. */
	void_body(&out);
	peer_send(&p, h[1].stream, CQL_OP_RESULT, &out);
	pump_until(&p, &a[1].called);
	cr_assert_eq(a[1].status, 0);
	cqlresult_free(a[1].res);
	pump_until(&p, &a[0].called);
	pump_until(&p, &a[2].called);
	cr_assert_eq(a[0].status, COL_ETIMEDOUT);
	cr_assert_eq(a[2].status, COL_ETIMEDOUT);
	struct cqlconn_stats st;
	cqlconn_get_stats(p.c, &st);
	cr_assert_eq(st.timeouts, 2);
	cr_assert_eq(st.orphans, 2);
	/* A new request is answered normally and is not taken for an expired one. */
	query_answered(&p);
	cqlconn_get_stats(p.c, &st);
	cr_assert_eq(st.timeouts, 2);
	buf_release(&out);
	peer_close(&p);
}

Test(conn, oversized_frame_fails_the_connection)
{
	struct peer p;
	struct cqlconn_opts o = {.max_frame = 4096};
	peer_connect(&p, &o);
	struct answer a = {0};
	struct cql_header h;
	query_sent(&p, &a, &h);
	uint8_t hdr[9] = {0x84, 0, 0, 0, CQL_OP_RESULT, 0, 0x10, 0, 0}; /* 1 MiB body */
	hdr[2] = (uint8_t)(h.stream >> 8);
	hdr[3] = (uint8_t)h.stream;
	cr_assert_eq(send(p.fd, hdr, 9, 0), 9);
	pump_until(&p, &a.called);
	cr_assert_eq(a.status, COL_ETOOBIG);
	cr_assert(strstr(a.why, "exceeds the limit of 4096 bytes"), "%s", a.why);
	cr_assert_not(cqlconn_ready(p.c));
	struct cql_qparams qp;
	cql_qparams_init(&qp);
	cr_assert_eq(cqlconn_query(p.c, "SELECT", 6, &qp, on_answer, &a), COL_ECLOSED);
	peer_close(&p);
}

Test(conn, wrong_version_and_garbage_are_protocol_errors)
{
	struct peer p;
	peer_connect(&p, NULL);
	struct answer a = {0};
	struct cql_header h;
	query_sent(&p, &a, &h);
	uint8_t hdr[9] = {0x83, 0, 0, 0, CQL_OP_RESULT, 0, 0, 0, 0};
	send(p.fd, hdr, 9, 0);
	pump_until(&p, &a.called);
	cr_assert_eq(a.status, COL_EPROTO);
	cr_assert(strstr(a.why, "version byte 0x83"), "%s", a.why);
	peer_close(&p);

	/* A RESULT whose body is cut short. */
	peer_connect(&p, NULL);
	struct answer b = {0};
	query_sent(&p, &b, &h);
	struct buf out;
	buf_init(&out);
	cql_put_int(&out, CQL_RESULT_SET_KEYSPACE);
	cql_put_short(&out, 50); /* string length beyond the body */
	peer_send(&p, h.stream, CQL_OP_RESULT, &out);
	pump_until(&p, &b.called);
	cr_assert_eq(b.status, COL_EPROTO);
	cr_assert(strstr(b.why, "truncated"), "%s", b.why);
	buf_release(&out);
	peer_close(&p);
}

Test(conn, peer_close_fails_pending_requests)
{
	struct peer p;
	peer_connect(&p, NULL);
	struct cql_qparams qp;
	cql_qparams_init(&qp);
	struct answer a = {0}, b = {0};
	cr_assert_eq(cqlconn_query(p.c, "SELECT", 6, &qp, on_answer, &a), 0);
	cr_assert_eq(cqlconn_query(p.c, "SELECT", 6, &qp, on_answer, &b), 0);
	struct cql_header h;
	struct buf body;
	buf_init(&body);
	peer_recv(&p, &h, &body);
	peer_recv(&p, &h, &body);
	buf_release(&body);
	close(p.fd); /* everything read: an orderly close (FIN) */
	p.fd = -1;
	pump_until(&p, &b.called);
	cr_assert(a.called);
	cr_assert_eq(a.status, COL_ECLOSED);
	cr_assert(strstr(a.why, "closed the connection"), "%s", a.why);
	cr_assert(strstr(cqlconn_failure(p.c), p.host), "%s", cqlconn_failure(p.c));
	peer_close(&p);
}

Test(conn, in_flight_bound_and_client_close)
{
	struct peer p;
	struct cqlconn_opts o = {.max_inflight = 2};
	peer_connect(&p, &o);
	struct cql_qparams qp;
	cql_qparams_init(&qp);
	struct answer a[3] = {0};
	cr_assert_eq(cqlconn_query(p.c, "S", 1, &qp, on_answer, &a[0]), 0);
	cr_assert_eq(cqlconn_query(p.c, "S", 1, &qp, on_answer, &a[1]), 0);
	cr_assert_eq(cqlconn_query(p.c, "S", 1, &qp, on_answer, &a[2]), COL_EFULL);
	/* Closing from the client runs every pending callback once. */
	cqlconn_free(p.c);
	p.c = NULL;
	cr_assert(a[0].called && a[1].called);
	cr_assert_eq(a[0].status, COL_ECLOSED);
	cr_assert(strstr(a[1].why, "closed by the client"), "%s", a[1].why);
	cr_assert_not(a[2].called);
	peer_close(&p);
}

/* A request whose last byte the kernel took: on_written's arg is the request's. */
struct wreq {
	struct answer a;
	bool written;
};

static void on_wreq_written(void *arg)
{
	struct wreq *w = arg;
	cr_assert_not(w->written, "on_written ran twice");
	cr_assert_not(w->a.called, "on_written ran after the result");
	w->written = true;
}

static unsigned written_prefix(const struct wreq *w, unsigned n)
{
	unsigned k = 0;
	while (k < n && w[k].written)
		k++;
	for (unsigned i = k; i < n; i++)
		cr_assert_not(w[i].written, "request %u written before request %u", i, k);
	return k;
}

Test(conn, on_written_follows_the_socket_not_the_queue)
{
	struct peer p;
	peer_listen(&p);
	int small = 4096;
	setsockopt(p.lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	struct cqlconn_opts o = {.on_written = on_wreq_written};
	peer_open(&p, &o);
	peer_handshake(&p);
	struct cql_qparams qp;
	cql_qparams_init(&qp);

	/* Idle connection: a flush writes at once, without the loop. */
	struct wreq one = {0};
	cr_assert_eq(cqlconn_query(p.c, "S", 1, &qp, on_answer, &one), 0);
	cr_assert_not(one.written);
	cqlconn_flush(p.c);
	cr_assert(one.written, "a flushed request on an idle socket is written");

	/* A peer that reads nothing: the socket takes a prefix, the rest waits. */
	enum { N = 256, Q = 64 * 1024 };
	char *big = malloc(Q);
	memset(big, ' ', Q);
	memcpy(big, "SELECT", 6);
	struct wreq *w = calloc(N, sizeof(*w));
	for (unsigned i = 0; i < N; i++)
		cr_assert_eq(cqlconn_query(p.c, big, Q, &qp, on_answer, &w[i]), 0);
	cqlconn_flush(p.c);
	pump(&p, 20);
	unsigned k = written_prefix(w, N);
	cr_assert_lt(k, N,
	             "16 MiB cannot all fit in the socket buffers of a peer that does not read");

	/* The peer reads: every request is reported written, in order, before any answer. */
	struct cql_header h;
	struct buf body;
	buf_init(&body);
	struct cql_header first = {0};
	for (unsigned i = 0; i < N + 1; i++) {
		peer_recv(&p, &h, &body);
		if (i == 0)
			first = h;
	}
	pump(&p, 5);
	cr_assert_eq(written_prefix(w, N), N);
	for (unsigned i = 0; i < N; i++)
		cr_assert_not(w[i].a.called);
	struct buf out;
	buf_init(&out);
	void_body(&out);
	peer_send(&p, first.stream, CQL_OP_RESULT, &out);
	pump_until(&p, &one.a.called);
	cr_assert_eq(one.a.status, 0);
	cqlresult_free(one.a.res);

	/* Failing before the write: the result runs, on_written never does. */
	struct wreq late[N] = {0};
	for (unsigned i = 0; i < N; i++)
		cr_assert_eq(cqlconn_query(p.c, big, Q, &qp, on_answer, &late[i]), 0);
	cqlconn_flush(p.c);
	unsigned lk = written_prefix(late, N);
	cr_assert_lt(lk, N);
	cqlconn_free(p.c);
	p.c = NULL;
	for (unsigned i = 0; i < N; i++) {
		cr_assert(late[i].a.called && late[i].a.status == COL_ECLOSED);
		cr_assert_eq(late[i].written, i < lk);
	}
	for (unsigned i = 0; i < N; i++)
		cr_assert(w[i].a.called && w[i].a.status == COL_ECLOSED);
	free(w);
	free(big);
	buf_release(&body);
	buf_release(&out);
	peer_close(&p);
}

Test(conn, handshake_error_and_refused_connection)
{
	struct peer p;
	peer_listen(&p);
	peer_open(&p, NULL);
	struct cql_header h;
	struct buf body, out;
	buf_init(&body);
	buf_init(&out);
	peer_recv(&p, &h, &body);
	cql_put_int(&out, CQL_ERR_PROTOCOL);
	cql_put_string(&out, "Invalid or unsupported protocol version (4)");
	peer_send(&p, h.stream, CQL_OP_ERROR, &out);
	pump_until(&p, &p.ready_called);
	cr_assert_eq(p.ready_status, COL_EPROTO);
	cr_assert(strstr(p.ready_why, "unsupported protocol version"), "%s", p.ready_why);
	buf_release(&body);
	buf_release(&out);
	uint16_t port = p.port;
	char host[32];
	snprintf(host, sizeof(host), "%s", p.host);
	peer_close(&p);

	/* Nobody listens on that port any more. */
	struct cqlclient *cl = NULL;
	struct cerr err = {0};
	int rc = cqlclient_connect(host, port, NULL, &cl, &err);
	cr_assert_eq(rc, COL_EIO);
	char want[128];
	snprintf(want, sizeof(want), "cannot connect to %s:%u: Connection refused", host, port);
	cr_assert_str_eq(err.msg, want);

	rc = cqlclient_connect("no-such-host.invalid", 9042, NULL, &cl, &err);
	cr_assert_eq(rc, COL_ENOTFOUND);
	cr_assert(strstr(err.msg, "cannot resolve host 'no-such-host.invalid'"), "%s", err.msg);
}

/* ---- the blocking client, with a peer thread ---- */

#include <pthread.h>

struct tpeer {
	int lfd;
	int delay_ms[8]; /* before answering the i-th QUERY */
};

static int read_full(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = recv(fd, p + got, n - got, 0);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int tpeer_frame(int fd, struct cql_header *h, uint8_t *body, size_t cap)
{
	uint8_t hb[9];
	if (read_full(fd, hb, 9))
		return -1;
	cql_header_decode(hb, 9, h);
	if (h->length > cap)
		return -1;
	return read_full(fd, body, h->length);
}

static void tpeer_send(int fd, int16_t stream, uint8_t op, const struct buf *body)
{
	struct buf f;
	buf_init(&f);
	size_t s = cql_frame_begin(&f, 0x84, 0, stream, op);
	if (body)
		buf_put(&f, body->data, body->len);
	cql_frame_end(&f, s);
	(void)!send(fd, f.data, f.len, MSG_NOSIGNAL);
	buf_release(&f);
}

/* Answers the handshake, then QUERY "USE x" with Set_keyspace x. */
static void *tpeer_main(void *arg)
{
	struct tpeer *tp = arg;
	int fd = accept(tp->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	uint8_t body[4096];
	struct cql_header h;
	struct buf out;
	buf_init(&out);
	int q = 0;
	while (tpeer_frame(fd, &h, body, sizeof(body)) == 0) {
		buf_reset(&out);
		if (h.opcode == CQL_OP_OPTIONS) {
			cql_put_short(&out, 0);
			tpeer_send(fd, h.stream, CQL_OP_SUPPORTED, &out);
		} else if (h.opcode == CQL_OP_STARTUP) {
			tpeer_send(fd, h.stream, CQL_OP_READY, NULL);
		} else if (h.opcode == CQL_OP_QUERY) {
			if (q < 8 && tp->delay_ms[q]) {
				struct timespec ts = {0, tp->delay_ms[q] * 1000000L};
				nanosleep(&ts, NULL);
			}
			q++;
			uint32_t len = be32_load(body);
			cql_put_int(&out, CQL_RESULT_SET_KEYSPACE);
			cql_put_string_n(&out, (const char *)body + 8, len - 4); /* after "USE " */
			tpeer_send(fd, h.stream, CQL_OP_RESULT, &out);
		}
	}
	buf_release(&out);
	close(fd);
	return NULL;
}

static struct cqlresult *use(struct cqlclient *cl, const char *cql, int *rc, struct cerr *err)
{
	struct cql_qparams qp;
	cql_qparams_init(&qp);
	struct cqlresult *r = NULL;
	*rc = cqlclient_query(cl, cql, &qp, &r, err);
	return r;
}

Test(client, blocking_queries_and_interrupted_wait)
{
	struct peer p;
	peer_listen(&p); /* for its socket only */
	struct tpeer tp = {.lfd = p.lfd, .delay_ms = {0, 300, 0}};
	pthread_t th;
	pthread_create(&th, NULL, tpeer_main, &tp);
	struct cqlclient *cl = NULL;
	struct cerr err = {0};
	cr_assert_eq(cqlclient_connect(p.host, p.port, NULL, &cl, &err), 0, "%s", err.msg);
	int rc;
	struct cqlresult *r = use(cl, "USE one", &rc, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_str_eq(r->keyspace, "one");
	cqlresult_free(r);

	volatile sig_atomic_t flag = 1;
	cqlclient_set_interrupt(cl, &flag);
	r = use(cl, "USE late", &rc, &err);
	cr_assert_eq(rc, COL_EAGAIN);
	cr_assert(strstr(err.msg, "interrupted"), "%s", err.msg);
	flag = 0;
	/* The late answer to the abandoned request must not be taken for this one. */
	r = use(cl, "USE three", &rc, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_str_eq(r->keyspace, "three");
	cqlresult_free(r);
	cr_assert_str_eq(cqlclient_peer(cl), cqlconn_peer(cqlclient_conn(cl)));
	cqlclient_free(cl);
	pthread_join(th, NULL);
	close(p.lfd);
	ev_loop_destroy(p.loop);
	buf_release(&p.in);
}
