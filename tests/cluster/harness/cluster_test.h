/*
 * cluster_test.h — what a criterion test of real `colonnade` processes needs on
 * top of the harness (cluster.h): assertions that mark the run failed, the
 * test's cluster started and stopped, CQL over connections bound to the
 * harness's client address (so partitions between nodes never cut the test
 * off), a node's metrics, and where a key's replicas are.
 *
 * A test file keeps its cluster in a pointer of its own (`c` by convention),
 * starts it with cluster_test_start() and names cluster_test_fini as its
 * suite's .fini, which closes the connections and frees the cluster (printing
 * the nodes' logs and keeping their directory if the run failed).
 *
 * Everything here asserts (criterion) on what it cannot do: a test reads as
 * its checks, not as error handling.
 */
#ifndef COLONNADE_TESTS_CLUSTER_TEST_H
#define COLONNADE_TESTS_CLUSTER_TEST_H

#include "tests/cluster/harness/cluster.h"

#include "cli/lib/cqlclient.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>

/* Bounds, in milliseconds, that leave room for sanitizer builds sharing 2 cores with 6 nodes. */
#define CLUSTER_TEST_START_MS  30000 /* a node answers, every node sees every node UN */
#define CLUSTER_TEST_DETECT_MS 15000 /* a killed node is seen DN (phi 8, 50 ms rounds) */

/*
 * cr_assert / cr_expect that, when the condition fails, also mark cluster `cl`
 * failed (cl may be NULL), so cluster_free() prints the logs and keeps the
 * directory.
 */
#define CLUSTER_ASSERT(cl, cond, ...)                                                              \
	do {                                                                                       \
		bool cluster_ok_ = (cond);                                                         \
		if (!cluster_ok_ && (cl))                                                          \
			cluster_mark_failed(cl);                                                   \
		cr_assert(cluster_ok_, __VA_ARGS__);                                               \
	} while (0)
#define CLUSTER_EXPECT(cl, cond, ...)                                                              \
	do {                                                                                       \
		bool cluster_ok_ = (cond);                                                         \
		if (!cluster_ok_ && (cl))                                                          \
			cluster_mark_failed(cl);                                                   \
		cr_expect(cluster_ok_, __VA_ARGS__);                                               \
	} while (0)

/*
 * Create the test's cluster from `o` (gossip every 50 ms unless o says
 * otherwise); unless o->no_start, wait until every node answers on its admin
 * port and, if all_up, until every node sees every node UN.  Asserts.
 */
struct cluster *cluster_test_start(const struct cluster_opts *o, bool all_up);
/* Suite/test .fini: close every connection, free the cluster of cluster_test_start(). */
void cluster_test_fini(void);

/* SIGKILL node `victim` (closing the connection to it) and wait until `observer` sees it DN. */
void cluster_test_kill(struct cluster *c, int victim, int observer);

/*
 * A new CQL connection to node k of c, bound to c's client address; retries
 * for up to CLUSTER_TEST_START_MS (the CQL port opens after the admin port).
 * Asserts.  The caller frees it.
 */
struct cqlclient *cluster_test_connect(struct cluster *c, int k);
/* The test's own connection to node k (opened on first use, closed by kill and fini). */
struct cqlclient *cluster_test_conn(struct cluster *c, int k);
void cluster_test_drop_conn(int k);

/*
 * Run one statement on `cl` at consistency `level` (CQL_NO_TIMESTAMP or a
 * client timestamp in µs).  Asserts the request got an answer; the answer may
 * be an error result.  The caller frees the result.
 */
struct cqlresult *cluster_test_query(struct cluster *c, struct cqlclient *cl, uint16_t level,
                                     int64_t ts, const char *cql);
/* The same, and asserts the answer is not an error result; returns its warning count. */
size_t cluster_test_ok(struct cluster *c, struct cqlclient *cl, uint16_t level, const char *cql);

/* The value of an unlabelled series in node k's /metrics, or -1 (no answer or no such series). */
double cluster_test_metric(struct cluster *c, int k, const char *name);

/*
 * The replicas of `key` (as `colonnade getendpoints` takes it) of ks.table,
 * as node `asker` places them (/v1/endpoints): node numbers into nodes[max],
 * in ring order.  Returns how many; asserts the node answered.
 */
int cluster_test_replicas(struct cluster *c, int asker, const char *ks, const char *table,
                          const char *key, int *nodes, int max);

#endif
