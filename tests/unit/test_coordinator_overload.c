/*
 * The CQL server's admission limit on real sockets (docs/PERFORMANCE.md,
 * "Overload"): requests held in flight (DDLs parked by the ddl_wait hook, as
 * the node parks them for schema agreement) fill the server's limit; past it,
 * while the loop is saturated (a timer keeps it busy), a connection that asked
 * with THROW_ON_OVERLOAD gets ERROR 0x1001 at once; any other connection, or
 * any connection of a loop with time to spare, stops being read; all recover
 * when a request completes.
 */
#include "coordinator/query/executor.h"
#include "coordinator/query/prepared.h"
#include "coordinator/query/systables.h"
#include "coordinator/replication/router.h"
#include "coordinator/schema/schema.h"
#include "coordinator/transport/cqlserver.h"
#include "core/admit.h"
#include "core/buf.h"
#include "core/cqlproto.h"
#include "core/net.h"
#include "storage/storage.h"
#include "tests/unit/local_node.h"
#include "tests/unit/local_view.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LIMIT 4

static struct local_node ln;
static struct cqlserver *srv;
static struct ev_loop *L;
static struct net_loop *nl;
static struct exec_req *held[64];
static int n_held;
static ev_timer burner; /* keeps the loop busy: 19 ms of every 20 */
/* the loop's byte budget for mutations in flight (its storage proxy's, charged here) */
#define BYTES_MAX (1u << 20)
static struct admit_bytes bytes;

static const struct cluster_view view = LOCAL_VIEW("Test Cluster");

/* Park every DDL's answer: it stays in flight until release_one(). */
static void hold_ddl(void *ctx, struct exec_req *req)
{
	(void)ctx;
	cr_assert_lt(n_held, 64);
	held[n_held++] = req;
}

static void release_one(void)
{
	cr_assert_gt(n_held, 0);
	struct exec_req *r = held[--n_held];
	r->done(r);
}

static void start_with(bool throw_all, int64_t max_queue_wait_us)
{
	local_node_open(&ln, "overload", 100);
	struct cerr e = {0};
	L = ev_loop_new(EVFLAG_AUTO);
	cr_assert(L);
	cr_assert_eq(net_loop_new(L, &nl), 0);
	struct cqlserver_options co = {.address = "127.0.0.1",
	                               .max_requests = LIMIT,
	                               .latency_target_us = 10000,
	                               .throw_on_overload = throw_all,
	                               .max_queue_wait_us = max_queue_wait_us};
	struct cqlserver_deps d = {.schema = ln.sch,
	                           .store = ln.st,
	                           .router = ln.px,
	                           .view = &view,
	                           .prepared = ln.pc,
	                           .ddl_wait = hold_ddl,
	                           .bytes = &bytes};
	bytes = (struct admit_bytes){.max = BYTES_MAX};
	cr_assert_eq(cqlserver_new(nl, &co, &d, &srv, &e), 0, "%s", e.msg);
	n_held = 0;
}

static void start(bool throw_all)
{
	start_with(throw_all, 0);
}

static void stop(void)
{
	while (n_held > 0)
		release_one();
	net_loop_run_pending(nl);
	cqlserver_free(srv);
	net_loop_free(nl);
	ev_loop_destroy(L);
	local_node_close(&ln);
}

static void burn(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 19000000L);
}

static void tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

/* Let the server read, run and flush what is there: 20 iterations of at most
 * 1 ms, waiting inside the loop (so the wait counts as the loop's idle time). */
static void spin(void)
{
	for (int i = 0; i < 20; i++) {
		ev_timer t;
		ev_timer_init(&t, tick, 0.001, 0);
		ev_timer_start(L, &t);
		ev_run(L, EVRUN_ONCE);
		ev_timer_stop(L, &t);
		net_loop_run_pending(nl);
	}
}

static int client(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(cqlserver_port(srv))};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "%s", strerror(errno));
	cr_assert_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	int one = 1; /* each frame leaves at once (no Nagle wait for the server's delayed ack) */
	cr_assert_eq(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
	return fd;
}

static void send_buf(int fd, struct buf *b)
{
	cr_assert_eq(write(fd, b->data, b->len), (ssize_t)b->len);
	buf_reset(b);
}

static void startup(int fd, bool throw_on_overload)
{
	struct buf b;
	buf_init(&b);
	size_t f = cql_frame_begin(&b, 4, 0, 0, CQL_OP_STARTUP);
	const char *k[] = {"CQL_VERSION", "THROW_ON_OVERLOAD"}, *v[] = {"3.0.0", "1"};
	cql_put_string_map(&b, k, v, throw_on_overload ? 2 : 1);
	cql_frame_end(&b, f);
	send_buf(fd, &b);
	buf_release(&b);
}

static void query(int fd, int16_t stream, const char *q)
{
	struct buf b;
	buf_init(&b);
	size_t f = cql_frame_begin(&b, 4, 0, stream, CQL_OP_QUERY);
	cql_put_long_string(&b, q, strlen(q));
	cql_put_short(&b, CL_ONE);
	cql_put_byte(&b, 0);
	cql_frame_end(&b, f);
	send_buf(fd, &b);
	buf_release(&b);
}

/* Every whole response frame the client has: (stream, opcode, error code) triples. */
struct rsp {
	int16_t stream;
	uint8_t opcode;
	int32_t code;
	char msg[200];
};
static int responses(int fd, struct rsp *out, int max)
{
	static uint8_t acc[1 << 16];
	static size_t len;
	ssize_t n;
	while ((n = read(fd, acc + len, sizeof(acc) - len)) > 0)
		len += (size_t)n;
	int k = 0;
	size_t pos = 0;
	while (k < max && len - pos >= 9) {
		struct cql_header h;
		cql_header_decode(acc + pos, 9, &h);
		if (len - pos < 9 + h.length)
			break;
		struct bufreader r;
		bufreader_init(&r, acc + pos + 9, h.length);
		out[k] = (struct rsp){.stream = h.stream, .opcode = h.opcode};
		if (h.opcode == CQL_OP_ERROR) {
			out[k].code = (int32_t)bufreader_u32be(&r);
			struct cql_slice m = cql_get_string(&r);
			snprintf(out[k].msg, sizeof(out[k].msg), "%.*s", (int)m.len,
			         (const char *)m.p);
		}
		k++;
		pos += 9 + h.length;
	}
	memmove(acc, acc + pos, len - pos);
	len -= pos;
	return k;
}

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* `stream`'s SELECT, sent fresh on fd and run: its one response, or a refusal because it
 * waited past max_queue_wait_ms in the socket, which is then only right when this process
 * itself took that long from the write to reading the answer (the scheduler of a loaded
 * machine held it): true when it ran. */
static bool fresh_query_ran(int fd, int16_t stream, int64_t max_queue_wait_ms, struct rsp *r)
{
	int64_t t0 = now_ms();
	query(fd, stream, "SELECT cluster_name FROM system.local");
	spin();
	int n = responses(fd, r, 1);
	int64_t took = now_ms() - t0;
	cr_assert_eq(n, 1, "%d responses", n);
	cr_assert_eq(r->stream, stream);
	if (r->opcode == CQL_OP_RESULT)
		return true;
	cr_assert_eq(r->opcode, CQL_OP_ERROR, "opcode 0x%x", r->opcode);
	cr_assert_eq(r->code, CQL_ERR_OVERLOADED, "code 0x%x: %s", r->code, r->msg);
	cr_assert(strstr(r->msg, "in the socket"), "%s", r->msg);
	cr_assert_geq(took, max_queue_wait_ms,
	              "a request refused for its wait in the socket %lld ms after it was sent: %s",
	              (long long)took, r->msg);
	return false;
}

/* A fresh request on fd runs (see fresh_query_ran), within 10 s of tries. */
static void expect_fresh_query_runs(int fd, int16_t stream, int64_t max_queue_wait_ms)
{
	struct rsp r;
	for (int64_t until = now_ms() + 10000; !fresh_query_ran(fd, stream, max_queue_wait_ms, &r);)
		cr_assert_lt(now_ms(), until, "no fresh request ran in 10 s: %s", r.msg);
}

/* Fresh requests on fd until one ran that the kernel had stamped on arrival (its wait in
 * the socket counted, at index k of the wait stats): Linux turns receive timestamps on
 * for the whole machine from a work queue after the first socket asks, so the first
 * packets of a process can come unstamped (no age: never refused for it). */
static void warm_until_stamped(int fd, int k, int64_t max_queue_wait_ms)
{
	struct rsp r;
	for (int64_t until = now_ms() + 10000;;) {
		bool ran = fresh_query_ran(fd, 1, max_queue_wait_ms, &r);
		struct cqlserver_stats st;
		cqlserver_get_stats(srv, &st);
		if (ran && st.wait_count[k] > 0)
			return;
		cr_assert_lt(now_ms(), until, "no stamped request ran in 10 s");
	}
}

static void fill_with_held_ddls(int fd)
{
	char q[160];
	for (int i = 0; i < LIMIT; i++) {
		snprintf(q, sizeof(q),
		         "CREATE KEYSPACE k%d WITH replication = {'class': 'SimpleStrategy', "
		         "'replication_factor': 1}",
		         i);
		query(fd, (int16_t)(10 + i), q);
	}
	spin();
	cr_assert_eq(n_held, LIMIT, "%d DDLs held", n_held);
	struct cqlserver_stats st;
	cqlserver_get_stats(srv, &st);
	cr_assert_eq(st.inflight, LIMIT);
}

/* Two connections, both READY: fd asked for THROW_ON_OVERLOAD, fd2 did not. */
static void two_clients(int *fd, int *fd2)
{
	*fd = client();
	*fd2 = client();
	startup(*fd, true);
	startup(*fd2, false);
	spin();
	struct rsp r[16];
	cr_assert_eq(responses(*fd, r, 16), 1);
	cr_assert_eq(r[0].opcode, CQL_OP_READY);
	cr_assert_eq(responses(*fd2, r, 16), 1);
	cr_assert_eq(r[0].opcode, CQL_OP_READY);
}

Test(overload, throw_on_overload_answers_overloaded_past_the_limit_of_a_busy_loop)
{
	start(false);
	int fd = client();
	startup(fd, true);
	spin();
	struct rsp r[16];
	cr_assert_eq(responses(fd, r, 16), 1);
	cr_assert_eq(r[0].opcode, CQL_OP_READY);
	fill_with_held_ddls(fd);
	/* saturate the loop for a few admission windows */
	ev_timer_init(&burner, burn, 0.001, 0.020);
	ev_timer_start(L, &burner);
	for (int i = 0; i < 15; i++)
		spin();
	query(fd, 50, "SELECT cluster_name FROM system.local");
	spin();
	int n = responses(fd, r, 16);
	cr_assert_eq(n, 1, "%d responses", n);
	cr_expect_eq(r[0].stream, 50);
	cr_expect_eq(r[0].opcode, CQL_OP_ERROR);
	cr_expect_eq(r[0].code, CQL_ERR_OVERLOADED, "code 0x%x", r[0].code);
	cr_expect(strstr(r[0].msg, "overloaded") && strstr(r[0].msg, "limit of 4"), "%s", r[0].msg);
	struct cqlserver_stats st;
	cqlserver_get_stats(srv, &st);
	cr_expect_eq(st.overloaded, 1);
	cr_expect_eq(st.overload_pauses, 0);
	ev_timer_stop(L, &burner);
	/* one completes: the next request runs */
	release_one();
	spin();
	cr_assert_eq(responses(fd, r, 16), 1);
	cr_expect_eq(r[0].opcode, CQL_OP_RESULT);
	query(fd, 51, "SELECT cluster_name FROM system.local");
	spin();
	cr_assert_eq(responses(fd, r, 16), 1);
	cr_expect_eq(r[0].stream, 51);
	cr_expect_eq(r[0].opcode, CQL_OP_RESULT);
	close(fd);
	stop();
}

Test(overload, a_burst_at_the_cap_of_an_idle_loop_waits_in_the_socket)
{
	start(true); /* every connection would be refused, if the loop were saturated */
	int fd = client();
	startup(fd, false);
	spin();
	struct rsp r[16];
	cr_assert_eq(responses(fd, r, 16), 1);
	fill_with_held_ddls(fd);
	for (int i = 0; i < 15; i++)
		spin();
	query(fd, 50, "SELECT cluster_name FROM system.local");
	query(fd, 51, "SELECT cluster_name FROM system.local");
	spin();
	cr_expect_eq(responses(fd, r, 16), 1, "the request past the cap runs");
	cr_expect_eq(r[0].stream, 50);
	cr_expect_eq(r[0].opcode, CQL_OP_RESULT);
	struct cqlserver_stats st;
	cqlserver_get_stats(srv, &st);
	cr_expect_eq(st.overloaded, 0);
	cr_expect_eq(st.overload_paused, 1, "the connection waits");
	release_one();
	spin();
	int n = responses(fd, r, 16);
	cr_assert_eq(n, 2, "the DDL answer and the held SELECT: %d", n);
	cr_expect_eq(r[1].stream, 51);
	cr_expect_eq(r[1].opcode, CQL_OP_RESULT);
	close(fd);
	stop();
}

Test(overload, backpressure_stops_reading_until_back_under_the_limit)
{
	start(false);
	int fd = client();
	startup(fd, false);
	spin();
	struct rsp r[16];
	cr_assert_eq(responses(fd, r, 16), 1);
	fill_with_held_ddls(fd);
	struct cqlserver_stats st;
	cqlserver_get_stats(srv, &st);
	cr_expect_eq(st.overload_paused, 1, "connection stopped at the limit");
	query(fd, 50, "SELECT cluster_name FROM system.local");
	spin();
	cr_expect_eq(responses(fd, r, 16), 0, "a stopped connection is not served");
	/* a second connection is served until it too runs a request past the limit */
	int fd2 = client();
	startup(fd2, false);
	query(fd2, 60, "SELECT cluster_name FROM system.local");
	query(fd2, 61, "SELECT cluster_name FROM system.local");
	spin();
	int n = responses(fd2, r, 16);
	cr_expect_eq(n, 2, "READY and the one request past the limit: %d", n);
	cqlserver_get_stats(srv, &st);
	cr_expect_eq(st.overload_paused, 2, "both connections stopped: %llu",
	             (unsigned long long)st.overload_paused);
	cr_expect_eq(st.overloaded, 0);
	/* completions bring it back under the limit: both connections are read again */
	release_one();
	release_one();
	spin();
	n = responses(fd, r, 16);
	cr_assert_eq(n, 3, "two DDL answers and the waiting SELECT: %d", n);
	cr_expect_eq(r[2].stream, 50);
	cr_expect_eq(r[2].opcode, CQL_OP_RESULT);
	n = responses(fd2, r, 16);
	cr_expect_eq(n, 1, "%d", n);
	cr_expect_eq(r[0].stream, 61);
	cqlserver_get_stats(srv, &st);
	cr_expect_eq(st.overload_paused, 0);
	cr_expect_eq(st.overloaded, 0);
	close(fd);
	close(fd2);
	stop();
}

/* A request that waited in the socket longer than max_queue_wait while the loop was
 * saturated is refused Overloaded at once; a fresh one on a loop with time to spare runs. */
Test(overload, a_request_that_waited_in_the_socket_is_refused_on_a_busy_loop)
{
	start_with(false, 20000);
	int fd = client();
	startup(fd, true);
	spin();
	struct rsp r[16];
	cr_assert_eq(responses(fd, r, 16), 1);
	cr_assert_eq(r[0].opcode, CQL_OP_READY);
	/* The first requests open the admission's measurement window. */
	warm_until_stamped(fd, 1, 20);
	struct cqlserver_stats st0;
	cqlserver_get_stats(srv, &st0);
	ev_timer_init(&burner, burn, 0.001, 0.020);
	ev_timer_start(L, &burner);
	for (int i = 0; i < 15; i++)
		spin();
	query(fd, 60, "SELECT cluster_name FROM system.local");
	struct timespec ts = {0, 80 * 1000000L};
	nanosleep(&ts, NULL); /* the loop does not run: the request waits in the socket */
	spin();
	int n = responses(fd, r, 16);
	cr_assert_eq(n, 1, "%d responses", n);
	cr_expect_eq(r[0].stream, 60);
	cr_expect_eq(r[0].opcode, CQL_OP_ERROR);
	cr_expect_eq(r[0].code, CQL_ERR_OVERLOADED, "code 0x%x", r[0].code);
	cr_expect(strstr(r[0].msg, "in the socket") && strstr(r[0].msg, "limit 20 ms"), "%s",
	          r[0].msg);
	struct cqlserver_stats st;
	cqlserver_get_stats(srv, &st);
	cr_expect_eq(st.queue_expired - st0.queue_expired, 1);
	cr_expect_eq(st.overloaded - st0.overloaded, 1);
	ev_timer_stop(L, &burner);
	for (int i = 0; i < 15; i++)
		spin(); /* windows with time to spare: the loop is no longer saturated */
	expect_fresh_query_runs(fd, 61, 20);
	close(fd);
	stop();
}

/* A request that waited in the socket longer than max_queue_wait is refused Overloaded
 * on a loop with time to spare too, when its connection asked for Overloaded (the
 * server cannot answer it within its target any more); a connection that did not ask
 * has it run.  The wait histogram counts what ran, by its time in the socket. */
Test(overload, a_request_that_waited_in_the_socket_is_refused_on_an_idle_loop_too)
{
	start_with(false, 20000);
	int fd, fd2;
	two_clients(&fd, &fd2);
	struct rsp r[16];
	warm_until_stamped(fd, 1, 20);
	warm_until_stamped(fd2, 0, 20);
	struct cqlserver_stats st0;
	cqlserver_get_stats(srv, &st0);
	query(fd, 60, "SELECT cluster_name FROM system.local");
	query(fd2, 70, "SELECT cluster_name FROM system.local");
	struct timespec ts = {0, 80 * 1000000L};
	nanosleep(&ts, NULL); /* the loop does not run: both requests wait in their sockets */
	spin();
	int n = responses(fd, r, 16);
	cr_assert_eq(n, 1, "%d responses", n);
	cr_expect_eq(r[0].stream, 60);
	cr_expect_eq(r[0].code, CQL_ERR_OVERLOADED, "opcode 0x%x code 0x%x", r[0].opcode,
	             r[0].code);
	cr_expect(strstr(r[0].msg, "in the socket") && strstr(r[0].msg, "limit 20 ms"), "%s",
	          r[0].msg);
	n = responses(fd2, r, 16);
	cr_assert_eq(n, 1, "%d responses", n);
	cr_expect_eq(r[0].stream, 70);
	cr_expect_eq(r[0].opcode, CQL_OP_RESULT);
	struct cqlserver_stats st;
	cqlserver_get_stats(srv, &st);
	cr_expect_eq(st.queue_expired - st0.queue_expired, 1);
	cr_expect_eq(st.overloaded - st0.overloaded, 1);
	uint64_t ran0 = st.wait_count[0] - st0.wait_count[0];
	uint64_t ran1 = st.wait_count[1] - st0.wait_count[1];
	uint64_t waited0 = st.wait_sum_us[0] - st0.wait_sum_us[0];
	cr_expect_eq(ran0, 1, "%llu", (unsigned long long)ran0);
	cr_expect_eq(ran1, 0, "%llu", (unsigned long long)ran1);
	cr_expect_geq(waited0, 80000, "%llu", (unsigned long long)waited0);
	uint64_t over_50ms = 0;
	for (size_t i = 0; i < NET_ITER_BUCKETS; i++)
		if (i == NET_ITER_BUCKETS - 1 || net_iter_bounds_us[i] > 50000)
			over_50ms += st.wait_buckets[0][i] - st0.wait_buckets[0][i];
	cr_expect_eq(over_50ms, 1);
	/* A fresh request on the same connection runs. */
	struct cqlserver_stats st1;
	cqlserver_get_stats(srv, &st1);
	expect_fresh_query_runs(fd, 61, 20);
	cqlserver_get_stats(srv, &st);
	cr_expect_eq(st.wait_count[1] - st1.wait_count[1], 1, "the fresh request ran");
	cr_expect_eq(st.overloaded - st1.overloaded, st.queue_expired - st1.queue_expired,
	             "refused only for a wait in the socket");
	close(fd);
	close(fd2);
	stop();
}

/*
 * The loop's mutation bytes in flight (what its coordinator holds for writes, charged to the
 * budget as the storage proxy does) at their mark: a connection that takes Overloaded is
 * refused at once, naming the bytes, whatever the loop's load; any other runs its request
 * and stops being read; both are served again once the bytes fall under the mark.
 */
Test(overload, mutation_bytes_at_their_mark_refuse_or_stop_reading)
{
	start(false);
	int fd, fd2;
	two_clients(&fd, &fd2);
	struct rsp r[16];
	uint64_t mark = ADMIT_BYTES_MARK(BYTES_MAX);
	cr_assert(admit_bytes_charge(&bytes, mark - 1));
	query(fd, 49, "SELECT cluster_name FROM system.local");
	spin();
	cr_assert_eq(responses(fd, r, 16), 1);
	cr_expect_eq(r[0].opcode, CQL_OP_RESULT, "under the mark a request runs");
	cr_assert(admit_bytes_charge(&bytes, 1));
	query(fd, 50, "SELECT cluster_name FROM system.local");
	spin();
	cr_assert_eq(responses(fd, r, 16), 1);
	cr_expect_eq(r[0].stream, 50);
	cr_expect_eq(r[0].opcode, CQL_OP_ERROR);
	cr_expect_eq(r[0].code, CQL_ERR_OVERLOADED, "code 0x%x", r[0].code);
	cr_expect(strstr(r[0].msg, "bytes of mutations") != NULL, "%s", r[0].msg);
	query(fd2, 60, "SELECT cluster_name FROM system.local");
	query(fd2, 61, "SELECT cluster_name FROM system.local");
	spin();
	int n = responses(fd2, r, 16);
	cr_assert_eq(n, 1, "the one request past the mark runs, the next waits: %d", n);
	cr_expect_eq(r[0].stream, 60);
	cr_expect_eq(r[0].opcode, CQL_OP_RESULT);
	struct cqlserver_stats st;
	cqlserver_get_stats(srv, &st);
	cr_expect_eq(st.overloaded, 1);
	cr_expect_eq(st.bytes_refused, 1);
	cr_expect_eq(st.overload_paused, 1, "the backpressure connection stopped");
	/* the bytes fall under the mark (a held write ends): both are served again */
	admit_bytes_release(&bytes, 1);
	spin();
	n = responses(fd2, r, 16);
	cr_assert_eq(n, 1, "%d", n);
	cr_expect_eq(r[0].stream, 61);
	cr_expect_eq(r[0].opcode, CQL_OP_RESULT);
	query(fd, 51, "SELECT cluster_name FROM system.local");
	spin();
	cr_assert_eq(responses(fd, r, 16), 1);
	cr_expect_eq(r[0].opcode, CQL_OP_RESULT);
	cqlserver_get_stats(srv, &st);
	cr_expect_eq(st.overload_paused, 0);
	cr_expect_eq(st.overloaded, 1);
	admit_bytes_release(&bytes, mark - 1);
	cr_expect_eq(bytes.used, 0);
	close(fd);
	close(fd2);
	stop();
}
