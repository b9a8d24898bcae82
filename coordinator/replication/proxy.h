/*
 * proxy.h — where the executor's reads and writes meet the replicas (Cassandra's
 * StorageProxy).  The executor hands over mutations and reads with a
 * consistency level and gets the outcome through a completion callback; the
 * shape is asynchronous even though, on one node, every call completes before
 * it returns.  The coordinator issue replaces the local implementation with
 * one that sends to the ring's replicas, waits for the level's acks, hints,
 * and read-repairs; the executor does not change.
 *
 * Consistency on one node (this node is the only replica it can reach):
 *   replicas(ks) = 1 when the keyspace places data in this node's datacenter
 *                  (SimpleStrategy rf >= 1, or NTS with rf >= 1 for our dc), else 0
 *   required(cl) = ANY/ONE/LOCAL_ONE 1, TWO 2, THREE 3, QUORUM rf/2+1 (rf summed
 *                  over datacenters), LOCAL_QUORUM local_rf/2+1, EACH_QUORUM
 *                  quorum of every datacenter, ALL rf
 *   required > alive -> Unavailable(cl, required, alive), nothing applied.
 *   Writes at SERIAL/LOCAL_SERIAL and reads at ANY are refused as Invalid
 *   (Cassandra's words).  A write at ANY always succeeds (a hint would do).
 *
 * Row callbacks (reads) run before the completion callback, on the loop thread.
 * Every argument (mutations, read and scan descriptions, the slices they point
 * to) is borrowed until done() is called, which may be after the call returns.
 */
#ifndef COLONNADE_COORDINATOR_PROXY_H
#define COLONNADE_COORDINATOR_PROXY_H

#include "core/err.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct schema_keyspace;
typedef struct proxy proxy;

enum proxy_write_type { PROXY_WRITE_SIMPLE, PROXY_WRITE_BATCH, PROXY_WRITE_UNLOGGED_BATCH };
/* "SIMPLE", "BATCH", "UNLOGGED_BATCH" (the protocol's writeType strings). */
const char *proxy_write_type_name(enum proxy_write_type t);

/*
 * The outcome of a request.  code 0 = success; COL_EUNAVAILABLE (cl, required,
 * alive), COL_ETIMEDOUT (cl, received, blockfor; data_present for reads),
 * COL_EINVAL (the level is not valid for the operation), COL_EIO / COL_ENOMEM
 * (msg says what failed).
 */
struct proxy_result {
	int code;
	uint16_t cl;
	int32_t required; /* Unavailable: required; timeouts: blockfor */
	int32_t alive;    /* Unavailable: alive; timeouts: received */
	bool data_present;
	bool write; /* the request was a write (timeouts: Write_timeout, else Read_timeout) */
	enum proxy_write_type write_type;
	char msg[CERR_MSG_MAX];
};

typedef void (*proxy_done_fn)(void *ctx, const struct proxy_result *res);

/* A local proxy over `store` for a node in datacenter `local_dc` (copied). */
int proxy_new_local(struct store *store, const char *local_dc, struct proxy **out);
void proxy_free(struct proxy *p);

/*
 * Cluster mode: from now on requests for replicated keyspaces go to `sp`
 * (storage_proxy.h) on the ring that ring_ref(ctx) returns (a new reference;
 * NULL while the node has not built its first ring, in which case the local
 * path above serves, as on one node).  Virtual keyspaces and LocalStrategy
 * keyspaces (system) always read and write this node's copy.  In cluster mode
 * proxy_check() only refuses levels that are invalid for the operation;
 * Unavailable is decided per token by the write or read itself, before
 * anything is sent.
 */
struct storage_proxy;
struct ring;
typedef struct ring *(*proxy_ring_fn)(void *ctx);
void proxy_attach_cluster(struct proxy *p, struct storage_proxy *sp, proxy_ring_fn ring_ref,
                          void *ctx);

/*
 * Check that `cl` can be met for keyspace ks now (before doing any work):
 * 0, or fills res (COL_EUNAVAILABLE / COL_EINVAL) and returns its code.
 */
int proxy_check(struct proxy *p, const struct schema_keyspace *ks, uint16_t cl, bool write,
                struct proxy_result *res);

/*
 * Apply mutations (each one partition, atomically; a BATCH passes all of its
 * partitions).  done() is called once; the mutations are borrowed until then.
 */
void proxy_write(struct proxy *p, const struct schema_keyspace *ks, uint16_t cl,
                 struct store_mutation *const *muts, size_t n, enum proxy_write_type wt,
                 proxy_done_fn done, void *ctx);

/* A single-partition read (store_read_partition's arguments). */
struct proxy_read {
	struct store_table *table;
	const struct store_value *pk;
	size_t n_pk;
	const struct store_slice *slice; /* NULL = whole partition */
	unsigned flags;                  /* STORE_READ_REVERSE */
	size_t limit;                    /* rows, 0 = none */
	int64_t now_s;
};

/* Rows go to row_fn (which may stop the read by returning non-zero: not an error). */
void proxy_read_partition(struct proxy *p, const struct schema_keyspace *ks, uint16_t cl,
                          const struct proxy_read *rd, store_row_fn row_fn, void *row_ctx,
                          proxy_done_fn done, void *ctx);

/* A token-range read (store_scan's arguments). */
struct proxy_scan {
	struct store_table *table;
	int64_t start, end; /* (start, end]; start == end: the whole ring */
	const struct store_position *after;
	size_t limit;
	int64_t now_s;
};
void proxy_scan(struct proxy *p, const struct schema_keyspace *ks, uint16_t cl,
                const struct proxy_scan *sc, store_row_fn row_fn, void *row_ctx, proxy_done_fn done,
                void *ctx);

/*
 * Tests: with defer on, every request is queued instead of run, and runs (rows,
 * then done) only from proxy_run_deferred(), which also runs what those
 * completions queue; it returns how many requests ran.  This is how the
 * executor's asynchronous paths are exercised before replicas exist.
 */
void proxy_set_defer(struct proxy *p, bool defer);
size_t proxy_run_deferred(struct proxy *p);

/* Counters for metrics. */
struct proxy_stats {
	uint64_t writes, reads, scans, unavailables;
};
void proxy_get_stats(const struct proxy *p, struct proxy_stats *out);

#endif
