/*
 * A node stopped with client requests in flight exits cleanly: 2 nodes, a keyspace of
 * RF 2, node 2 paused (SIGSTOP) so node 1's QUORUM writes and reads wait on it; clients
 * pipeline many of each to node 1, which is then sent SIGTERM while they wait.  Its
 * shutdown ends them (messaging_free fails the replica requests, the lane runs its
 * writes' callbacks) and each answer runs through the executor and the CQL connection
 * that asked: the node must exit 0, and a sanitizer build must report nothing
 * (docs/ARCHITECTURE.md, "Shutdown").
 *
 * Env: COLONNADE_BIN, COLONNADE_TEST_NET.
 */
#include "tests/cluster/harness/cluster_test.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/cqlproto.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Requests of each kind a client pipelines: well under a connection's 1024 in flight. */
#define PIPELINED 100

static struct cluster *c;

TestSuite(shutdown, .fini = cluster_test_fini, .timeout = 300);

/* A CQL connection to node k's port 9042 from the harness's client address, or -1. */
static int raw_cql_connect(int k)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in src = {.sin_family = AF_INET};
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(9042)};
	inet_pton(AF_INET, c->client_addr, &src.sin_addr);
	inet_pton(AF_INET, c->nodes[k].addr, &dst.sin_addr);
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool send_all(int fd, const struct buf *b)
{
	size_t off = 0;
	while (off < b->len) {
		ssize_t w = send(fd, b->data + off, b->len - off, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		off += (size_t)w;
	}
	return true;
}

/*
 * Node 1 of 2 (RF 2, node 2 paused) stopped by SIGTERM while `conns` clients each have
 * PIPELINED QUORUM writes and reads waiting on node 2; node 1 runs `io_threads` loops.
 */
static void stop_with_requests_in_flight(int io_threads, int conns)
{
	char yaml[160];
	/* Slow gossip and the highest phi: node 2 stays UP in node 1's view for many seconds,
	 * so its requests wait on it (not refused as Unavailable, nor failed by a conviction)
	 * until the shutdown ends them; timeouts long, so none answers before the SIGTERM. */
	snprintf(yaml, sizeof(yaml),
	         "io_threads: %d\nwrite_request_timeout: 60000ms\nread_request_timeout: 60000ms\n",
	         io_threads);
	struct cluster_opts o = {.n = 2, .phi = 16, .gossip_interval_ms = 250, .extra_yaml = yaml};
	c = cluster_test_start(&o, true);
	struct cqlclient *cl = cluster_test_conn(c, 1);
	cluster_test_ok(c, cl, CL_ONE,
	                "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
	                "'replication_factor': 2}");
	cluster_test_ok(c, cl, CL_ONE, "CREATE TABLE ks.t (k int PRIMARY KEY, v int)");
	cluster_test_ok(c, cl, CL_ALL, "INSERT INTO ks.t (k, v) VALUES (0, 0)");

	CLUSTER_ASSERT(c, cluster_pause(c, 2) == 0, "SIGSTOP node 2");
	int fds[8];
	cr_assert(conns <= 8);
	struct cql_qparams p;
	cql_qparams_init(&p);
	p.consistency = CL_QUORUM;
	for (int j = 0; j < conns; j++) {
		/* the node hands clients round-robin to its loops: one or more on each */
		fds[j] = raw_cql_connect(1);
		CLUSTER_ASSERT(c, fds[j] >= 0, "a CQL connection to node 1");
		struct buf b;
		buf_init(&b);
		cqlreq_startup(&b, 0, "3.0.0");
		for (int i = 1; i <= PIPELINED; i++) {
			char cql[96];
			int k = j * PIPELINED + i;
			snprintf(cql, sizeof(cql), "INSERT INTO ks.t (k, v) VALUES (%d, %d)", k, k);
			cqlreq_query(&b, (int16_t)(2 * i), cql, strlen(cql), &p);
			snprintf(cql, sizeof(cql), "SELECT v FROM ks.t WHERE k = %d", k);
			cqlreq_query(&b, (int16_t)(2 * i + 1), cql, strlen(cql), &p);
		}
		CLUSTER_ASSERT(c, buf_ok(&b) && send_all(fds[j], &b), "the requests are sent");
		buf_release(&b);
	}

	/* Wait until node 1 holds requests waiting on node 2, then stop it. */
	double inflight = 0;
	int64_t deadline = clock_mono_ms() + 30000;
	while (clock_mono_ms() < deadline &&
	       (inflight = cluster_test_metric(c, 1, "colonnade_replicated_in_flight")) < 1)
		usleep(50 * 1000);
	CLUSTER_ASSERT(c, inflight >= 1, "node 1 coordinates requests waiting on node 2 (%g)",
	               inflight);
	CLUSTER_ASSERT(c, cluster_signal(c, 1, SIGTERM) == 0, "SIGTERM node 1");
	int st = 0;
	CLUSTER_ASSERT(c, cluster_wait_exit(c, 1, 60000, &st) == 0, "node 1 exits after SIGTERM");
	for (int j = 0; j < conns; j++)
		close(fds[j]);
	cluster_test_drop_conn(1);
	CLUSTER_EXPECT(c, WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status 0 (got %d)", st);
	CLUSTER_EXPECT(c, cluster_log_count(c, 1, "AddressSanitizer") == 0,
	               "no AddressSanitizer report in node 1's log");
	CLUSTER_EXPECT(c, cluster_log_count(c, 1, "runtime error") == 0,
	               "no UndefinedBehaviorSanitizer report in node 1's log");
	CLUSTER_EXPECT(c, cluster_log_count(c, 1, "shutdown complete") == 1, "shutdown logged");
	cluster_resume(c, 2);
}

/* Every client on the main loop: its lane, messaging and proxy end them. */
Test(shutdown, sigterm_with_quorum_requests_in_flight_on_the_main_loop)
{
	stop_with_requests_in_flight(1, 2);
}

/* Clients on the main loop and a request loop (which coordinates its own). */
Test(shutdown, sigterm_with_quorum_requests_in_flight_on_two_loops)
{
	stop_with_requests_in_flight(2, 4);
}
