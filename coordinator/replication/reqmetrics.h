/*
 * reqmetrics.h — client request latency and counts, per operation and per
 * table, as the coordinator sees them (from the router's call to the answer
 * the CQL layer gets), for /metrics (docs/OPERATIONS.md "Request latency").
 *
 * Operations: read (single partition), write (a mutation or a batch of them),
 * range (a scan over token ranges).  Each keeps a fixed-bucket latency
 * histogram (Prometheus's cumulative `le` buckets, seconds), the sum, and a
 * count of failed requests; per table also the number of rows-level
 * operations (mutations written, partitions read, scans).
 *
 * One registry per node, shared by every event loop: updates and snapshots
 * take its mutex (a few counter increments; no I/O under it).  Tables are
 * keyed by their id; at most REQMETRICS_MAX_TABLES are tracked (requests on
 * further tables count only node-wide).  A dropped table keeps its figures
 * until the node restarts (`reqmetrics_forget` removes them).
 */
#ifndef COLONNADE_COORDINATOR_REPLICATION_REQMETRICS_H
#define COLONNADE_COORDINATOR_REPLICATION_REQMETRICS_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REQMETRICS_MAX_TABLES 4096
#define REQMETRICS_N_BUCKETS  17 /* the finite bounds below, then +Inf */

enum reqmetrics_op { REQOP_READ = 0, REQOP_WRITE, REQOP_RANGE, REQOP_N };

/* Upper bounds of the finite buckets, in microseconds (100 µs .. 10 s). */
extern const uint64_t reqmetrics_bounds_us[REQMETRICS_N_BUCKETS - 1];

struct reqmetrics_hist {
	uint64_t buckets[REQMETRICS_N_BUCKETS]; /* not cumulative; last = above every bound */
	uint64_t count, failures, ops;
	uint64_t sum_us;
};

struct reqmetrics;

int reqmetrics_new(struct reqmetrics **out);
void reqmetrics_free(struct reqmetrics *m);

/* Make sure a table is tracked (its names label its series).  Safe from any thread. */
void reqmetrics_register(struct reqmetrics *m, const uint8_t id[16], const char *keyspace,
                         const char *name);

/*
 * One finished request: node-wide, and for each of the n tables (duplicates
 * allowed, counted once for latency) with `ops` operations on it.  A table
 * not registered (or forgotten since) counts only node-wide.  Safe from any
 * thread.
 */
struct reqmetrics_table_ref {
	uint8_t id[16];
	uint64_t ops;
};
void reqmetrics_record(struct reqmetrics *m, enum reqmetrics_op op, uint64_t latency_us,
                       bool failed, const struct reqmetrics_table_ref *tables, size_t n);

/* Forget a table's figures (it was dropped). */
void reqmetrics_forget(struct reqmetrics *m, const uint8_t id[16]);

/* Append the Prometheus text: node-wide histograms, then per table. */
void reqmetrics_prometheus(struct reqmetrics *m, struct buf *out);

/* A copy of one histogram (node-wide when id is NULL); false if the table is unknown. */
bool reqmetrics_get(struct reqmetrics *m, const uint8_t *id, enum reqmetrics_op op,
                    struct reqmetrics_hist *out);

#endif
