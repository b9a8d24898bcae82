/*
 * router.h — the request router: where the executor's reads and writes meet the
 * data.  Each request goes either to this node's store (virtual keyspaces,
 * LocalStrategy keyspaces such as system, and every keyspace while the node
 * has no ring) or to the replicated path (storage_proxy.h) on the current
 * ring.  The caller hands over mutations and reads with a consistency level
 * and gets the outcome through a completion callback, which the local path calls
 * before it returns only when the router has no lane (router_set_lane).
 * The router never talks to replicas itself and never reconciles versions.
 *
 * Consistency on the local path (this node is the only replica it can reach):
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
#ifndef COLONNADE_COORDINATOR_ROUTER_H
#define COLONNADE_COORDINATOR_ROUTER_H

#include "coordinator/replication/request.h"
#include "core/err.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct schema_keyspace;
typedef struct router router;

/* A router over `store` for a node in datacenter `local_dc` (copied). */
int router_new_local(struct store *store, const char *local_dc, struct router **out);
void router_free(struct router *rt);

/*
 * Cluster mode: from now on requests for replicated keyspaces go to `sp`
 * (storage_proxy.h) on the ring that ring_ref(ctx) returns (a new reference;
 * NULL while the node has not built its first ring, in which case the local
 * path above serves, as on one node).  Virtual keyspaces and LocalStrategy
 * keyspaces (system) always read and write this node's copy.  In cluster mode
 * router_check() only refuses levels that are invalid for the operation;
 * Unavailable is decided per token by the write or read itself, before
 * anything is sent.
 */
struct storage_proxy;
struct ring;
typedef struct ring *(*router_ring_fn)(void *ctx);
void router_attach_cluster(struct router *rt, struct storage_proxy *sp, router_ring_fn ring_ref,
                           void *ctx);

/*
 * The group-commit lane (storage.h) of the loop this router runs on: the local path's
 * writes go through it and are answered from its callbacks, so a RocksDB write stall
 * holds the store's writer thread, never the loop (on the main loop's router: gossip's
 * loop, whose peers convict a node whose loop stops).  Without one (NULL, the default)
 * they are applied with store_apply before router_write returns.  Set NULL before the
 * lane is freed.
 */
void router_set_lane(struct router *rt, struct store_lane *lane);

/*
 * The batchlog seam (coordinator/batchlog/batchlog.h's batchlog_write): in
 * cluster mode a LOGGED batch (write type BATCH) of more than one partition
 * of a replicated keyspace goes to fn instead of straight to the storage
 * proxy.  fn takes its own ring reference if it keeps the ring; ks is
 * borrowed for the call, the mutations until done().
 */
struct replication;
typedef void (*router_batchlog_fn)(void *ctx, struct ring *ring, const struct replication *rep,
                                   const char *ks, uint16_t cl, struct store_mutation *const *muts,
                                   size_t n, request_done_fn done, void *done_ctx);
void router_set_batchlog(struct router *rt, router_batchlog_fn fn, void *ctx);

/*
 * Check that `cl` can be met for keyspace ks now (before doing any work):
 * 0, or fills err (COL_EUNAVAILABLE / COL_EINVAL, rep.cl and the counts) and
 * returns its code.
 */
int router_check(struct router *rt, const struct schema_keyspace *ks, uint16_t cl, bool write,
                 struct cerr *err);

/*
 * Apply mutations (each one partition, atomically; a BATCH passes all of its
 * partitions).  done() is called once; the mutations are borrowed until then.
 */
void router_write(struct router *rt, const struct schema_keyspace *ks, uint16_t cl,
                  struct store_mutation *const *muts, size_t n, enum cerr_write_type wt,
                  request_done_fn done, void *ctx);

/*
 * TRUNCATE table t of ks with truncation time truncated_at (µs): on every
 * node of the ring for a replicated keyspace (storage_proxy_truncate: all
 * must be up, else Unavailable), else this node's store.  done() once.
 */
void router_truncate(struct router *p, const struct schema_keyspace *ks, struct store_table *t,
                     int64_t truncated_at, request_done_fn done, void *ctx);

/* Rows go to row_fn (which may stop the read by returning non-zero: not an error). */
void router_read_partition(struct router *rt, const struct schema_keyspace *ks, uint16_t cl,
                           const struct partition_read *rd, store_row_fn row_fn, void *row_ctx,
                           request_done_fn done, void *ctx);

/* A token-range read; rows to row_fn as above. */
void router_scan(struct router *rt, const struct schema_keyspace *ks, uint16_t cl,
                 const struct range_read *sc, store_row_fn row_fn, void *row_ctx,
                 request_done_fn done, void *ctx);

/*
 * Tests: with defer on, every request is queued instead of run, and runs (rows,
 * then done) only from router_run_deferred(), which also runs what those
 * completions queue; it returns how many requests ran.  This is how the
 * executor's asynchronous paths are exercised before replicas exist.
 */
void router_set_defer(struct router *rt, bool defer);
size_t router_run_deferred(struct router *rt);

/*
 * A router for one of the node's request loops (docs/ARCHITECTURE.md,
 * Threads).  What this node's own replica answers, exactly as the storage
 * proxy would answer it locally, it serves on the calling thread: a write
 * whose only replica is this node (self_host) at a level one ack meets, and a
 * single-partition read at a level one replica meets when this node is one
 * of the replicas.  Those writes go through `lane`, this loop's group-commit
 * lane (storage.h; NULL: store_apply), and are answered from its callbacks.  Every other request
 * (with router_set_loop_proxy: every other one that needs the main loop) is
 * posted to `main_mb` and run there by `main` (the main loop's router, with the storage proxy, the
 * hints and the batchlog), and its completion is posted back to `own_mb`, this loop's mailbox,
 * where done() runs; a read's row callbacks then run on the main loop's thread while this loop
 * waits for done().  `main`'s ring_ref must be callable from any thread.  router_check() answers
 * here, without the ring: a replicated keyspace in cluster mode is decided per token on the main
 * loop, anything else is checked as on the local path.  At most max_inflight requests [65536] are
 * away at once; beyond that, or when the main loop's mailbox is full, done() gets COL_EOVERLOADED
 * at once.  `main` must be in cluster mode (router_attach_cluster) before this router serves
 * requests; free it only when router_hops_in_flight() is 0.
 */
struct mailbox;
int router_new_hop(struct router *main, struct mailbox *main_mb, struct mailbox *own_mb,
                   unsigned max_inflight, const uint8_t self_host[16], struct store_lane *lane,
                   struct router **out);
unsigned router_hops_in_flight(struct router *rt);
/*
 * Give a loop's router (router_new_hop) a storage proxy of its own, on this
 * loop's messaging (docs/ARCHITECTURE.md, Threads): from then on it
 * coordinates here, instead of posting to the main loop, the replicated
 * writes, partition reads and range reads that need nothing of the main
 * loop's — all replicas in this node's datacenter, not a LOGGED batch of
 * several partitions (batchlog), not ANY, not TRUNCATE.  Those still go to
 * the main loop.  `sp` is used on this loop's thread only; free it after
 * this router stops taking requests.
 */
void router_set_loop_proxy(struct router *rt, struct storage_proxy *sp);

/* Counters for metrics. */
/* The request latency registry (reqmetrics.h) every write, read and scan taken by
 * this router is timed into: made by router_new_local, shared by its loops' routers
 * (router_new_hop), freed with the main router. */
struct reqmetrics;
struct reqmetrics *router_metrics(const struct router *rt);

struct router_stats {
	uint64_t writes, reads, scans, unavailables;
};
void router_get_stats(const struct router *rt, struct router_stats *out);

#endif
