/*
 * storage_proxy.h — the coordinator side of replicated reads and writes
 * (Cassandra's StorageProxy): any node sends a request to the replicas of its
 * token, waits for the consistency level's answers, and resolves them.
 *
 * It touches no store but this node's own and never parses CQL.
 *
 * Requests have the shapes of request.h, as the request router's do, so the
 * router (router.h) hands a replicated keyspace's request over with one call
 * once the node is in a cluster.  Each request takes a ring snapshot (the
 * request holds its own reference until it finishes, so a ring swap never
 * disturbs it) and the keyspace's parsed replication.
 *
 * Writes: Unavailable (cl, required, alive) before anything is sent when too
 * few replicas are alive (consistency.h).  Otherwise the mutation's bytes go
 * to every live replica — to each one of our datacenter directly, and to ONE
 * live replica of each other datacenter with the list of its live DC peers,
 * which forwards and relays their acks (verbs.h) so a WAN link carries each
 * write once.  Replicas known down, and those that do not answer in time, are
 * handed to the hint sink when there is one.  This node, when a replica,
 * applies the mutation to its store without a network hop or a re-encoding.
 * Acks count per the level (LOCAL_*:
 * our DC only; EACH_QUORUM: a quorum per DC); the answer goes out when they
 * suffice, or WriteTimeout (received, blockfor, write type) after
 * write_timeout_ms.  A replica's failure answer counts against the level:
 * when the level can no longer be met the write fails (COL_EFAILED with the
 * failure count: WriteFailure, naming the first failed replica and its
 * reason).  ANY behaves as ONE unless a hint sink is configured.  A remote
 * datacenter's replicas known down are hinted by its forwarder (which relays
 * VERBS_RELAY_HINTED), not by the coordinator, unless the whole datacenter is
 * down.
 *
 * Reads: live replicas sorted by proximity — this node, then our datacenter,
 * then by a latency score (moving average of answer times) — and the first
 * block-for of them contacted (LOCAL_*: our DC only; EACH_QUORUM: a quorum of
 * each DC): full data from the first, digests (verbs.h) from the rest.  When
 * every digest matches the data, the data is the answer.  Otherwise full data
 * from all of them, merged cell by cell with the storage engine's
 * last-write-wins rules, the difference written back to each stale replica
 * and acknowledged (blocking read repair), then the answer.  ReadTimeout
 * (received, blockfor, data_present) after read_timeout_ms; a contacted replica
 * that answers with an error fails the read (COL_EFAILED: ReadFailure).  A lone local
 * replica (ONE on a replica) reads straight from the store.
 *
 * Range reads walk the query's token range in ring order, one ring range at
 * a time (consecutive ranges with the same replicas merged), each at the
 * requested level with full data from every contacted replica, merged and
 * repaired like single reads, until `limit` rows.  `after` resumes strictly
 * after a position, so a page state is valid on any coordinator.
 *
 * With a row limit, merged rows stop at the earliest last row of a replica
 * the limit cut, and the read continues after it (short-read protection).
 *
 * Range tombstones and partition deletions travel in READ RESULTs (verbs.h) and are merged and
 * repaired like the rest (docs/REPLICATION.md).
 *
 * Speculative retry (the table's speculative_retry, partition_read.spec): a replica slower than
 * the threshold is replaced by one more live replica (docs/REPLICATION.md, Reads 6).
 *
 * Ownership and lifetime: requests in flight hold messaging callbacks that
 * point into the proxy: free it after messaging_free() (which ends them).
 * Request state is pooled (no allocation per request after warm-up except
 * for batches of several partitions).  Threading: the loop thread.
 */
#ifndef COLONNADE_COORDINATOR_STORAGE_PROXY_H
#define COLONNADE_COORDINATOR_STORAGE_PROXY_H

#include "coordinator/replication/request.h"
#include "core/admit.h"
#include "core/err.h"
#include "core/net.h"
#include "core/ring.h"
#include "gossip/messaging.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct storage_proxy storage_proxy;

/* Replicas one request may touch (sum of RFs over DCs). */
#define SP_MAX_REPLICAS 64

/* Is ring node idx of ring r up (the failure detector's view)? */
typedef bool (*sp_alive_fn)(void *ctx, const struct ring *r, size_t idx);
/*
 * The hinted-handoff seam (coordinator/hints/hints.h's hints_store): store
 * `mut` (serialized mutation bytes, borrowed for the call) for ring node idx,
 * which is down (called before sending) or did not answer in time (called at
 * the write timeout).  0 when the hint is stored.  flags SP_HINT_SYNC: the
 * hint is the write's only acknowledgement (ANY), so it must be durable (WAL
 * synced) before 0 is returned.  With a hint sink, ANY is Cassandra's ANY: no
 * live replica is needed, a stored hint counts as the one acknowledgement,
 * and the write is Unavailable only when no replica is alive and no hint
 * could be stored.
 */
#define SP_HINT_SYNC 1u
typedef int (*sp_hint_fn)(void *ctx, const struct ring *r, size_t idx, const uint8_t *mut,
                          size_t len, unsigned flags);
/* The internode (messaging listen) address of ring node idx: 0 or an error. */
typedef int (*sp_addr_fn)(void *ctx, const struct ring *r, size_t idx, struct net_addr *out);

struct storage_proxy_config {
	struct messaging *msg; /* required */
	struct store *store;   /* required: this node's data */
	/* this loop's group-commit lane (storage.h): local replica writes and read repairs go
	 * through it; NULL: applied inline with store_apply */
	struct store_lane *lane;
	const char *local_dc;         /* used when this node is not in the ring ["datacenter1"] */
	unsigned write_timeout_ms;    /* write_request_timeout [2000] */
	unsigned read_timeout_ms;     /* read_request_timeout [5000] */
	unsigned range_timeout_ms;    /* range_request_timeout, per ring range [10000] */
	unsigned truncate_timeout_ms; /* truncate_request_timeout [60000] */
	uint16_t storage_port;        /* port of ring addresses, when addr_of is NULL [7000] */
	sp_alive_fn is_alive;         /* NULL: every node is up */
	sp_hint_fn hint;              /* NULL: no hints (ANY behaves as ONE) */
	void *hint_ctx;
	void *alive_ctx;
	sp_addr_fn addr_of; /* NULL: the ring node's address with storage_port */
	void *addr_ctx;
	unsigned max_requests; /* requests in flight; beyond: COL_EOVERLOADED [65536] */
	/* the loop's byte budget (core/admit.h): each write charges the copy of its mutation
	 * it keeps for hints, and is refused COL_EOVERLOADED when the copy does not fit;
	 * NULL: no bound */
	struct admit_bytes *bytes;
	/* rows one replica returns per data request [10000]: bounds answer sizes (a big
	 * partition or range comes in pieces, continued like a short read) */
	unsigned replica_page_rows;
};

int storage_proxy_new(const struct storage_proxy_config *cfg, struct storage_proxy **out,
                      struct cerr *err);
/* Free: after messaging_free() (see above).  NULL is fine. */
void storage_proxy_free(struct storage_proxy *sp);

/*
 * Check the level for a write or read of `token` now: 0, or fills err with
 * COL_EINVAL (level not valid for the operation) or COL_EUNAVAILABLE (rep).
 */
int storage_proxy_check(struct storage_proxy *sp, struct ring *ring, const struct replication *rep,
                        int64_t token, uint16_t cl, bool write, struct cerr *err);

/*
 * Write mutations (each one partition, applied atomically on each replica; a
 * batch passes several and succeeds when every one of them meets the level).
 * Mutations are borrowed for the call only (their bytes are copied into the
 * outgoing messages).  done() is called exactly once, possibly before this
 * returns (when this node's own ack meets the level).
 */
void storage_proxy_write(struct storage_proxy *sp, struct ring *ring, const struct replication *rep,
                         uint16_t cl, struct store_mutation *const *muts, size_t n,
                         enum cerr_write_type wt, request_done_fn done, void *ctx);

/*
 * Read one partition at `cl`.  Rows (live ones: no tombstones) go to row_fn,
 * which may stop the read by returning non-zero (not an error), then done()
 * once.  rd is borrowed for the call only (its values are copied).
 */
void storage_proxy_read_partition(struct storage_proxy *sp, struct ring *ring,
                                  const struct replication *rep, uint16_t cl,
                                  const struct partition_read *rd, store_row_fn row_fn,
                                  void *row_ctx, request_done_fn done, void *ctx);

/* Read a token range (store_scan's meaning of start/end/after/limit) at `cl`. */
void storage_proxy_scan(struct storage_proxy *sp, struct ring *ring, const struct replication *rep,
                        uint16_t cl, const struct range_read *sc, store_row_fn row_fn,
                        void *row_ctx, request_done_fn done, void *ctx);

/*
 * TRUNCATE a table on every node of the ring with one truncation time (µs,
 * store_table_truncate's): Unavailable (cl ALL, required = ring nodes,
 * received = those up) when any is known down, before anything is sent;
 * COL_EFAILED naming the first node that failed or did not answer within
 * truncate_timeout_ms; 0 once all have truncated.  done() is called once.
 */
void storage_proxy_truncate(struct storage_proxy *sp, struct ring *ring, const uint8_t table_id[16],
                            int64_t truncated_at, request_done_fn done, void *ctx);

struct storage_proxy_stats {
	uint64_t writes, write_timeouts, write_failures;
	uint64_t reads, read_timeouts, range_reads;
	uint64_t unavailables;
	uint64_t hints;           /* hints stored through the hint sink */
	uint64_t forwarder_hints; /* remote replicas their DC's forwarder hinted */
	uint64_t local_applies;   /* mutations applied to this node's store directly */
	uint64_t forwarded;       /* mutations sent to a remote DC's forwarder */
	uint64_t digest_mismatches;
	uint64_t read_repairs;        /* repair mutations sent (or applied locally) */
	uint64_t relayed_acks;        /* forwarded acks that arrived */
	uint64_t speculative_retries; /* extra replicas asked in a slow one's place */
	uint64_t index_fallbacks; /* indexed range steps read again whole (replicas disagreed) */
	unsigned in_flight;
	/* pooled request states: allocated (in flight or idle) and idle; the bytes of the
	 * states themselves (not the answers' buffers they hold) */
	unsigned read_states, read_states_idle, write_states, write_states_idle;
	uint64_t state_bytes;
	/* the loop's byte budget (storage_proxy_config.bytes): held now (by this proxy's
	 * writes and, sharing it, the loop's forwarder), its bound, charges refused */
	uint64_t mutation_bytes, mutation_bytes_max, mutation_bytes_refused;
};
void storage_proxy_get_stats(const struct storage_proxy *sp, struct storage_proxy_stats *out);

#endif
