/*
 * batchlog.h — Cassandra's batchlog: what makes a LOGGED batch of several
 * partitions atomic (all of it applied eventually, or none of it).
 *
 * The coordinator of a LOGGED batch first stores the whole batch on up to two
 * other live nodes of its datacenter (other racks first; this node itself when
 * it is alone in its datacenter), and waits for every one of them.  Only then
 * are the batch's mutations sent to their replicas (storage_proxy_write, write
 * type BATCH).  When they meet the consistency level the coordinator removes
 * the batch from those nodes (BATCH_REMOVE, one-way).  A node holding a batch
 * that was not removed within 2 x write_request_timeout of its arrival (the
 * coordinator died, or the write failed) replays it: every mutation is written
 * again at ONE through the request router, its other replicas handed to hints
 * as any write's are, and the batch is removed once that succeeds (else it is
 * tried again at the next check).  Replaying twice is harmless: mutations
 * carry their timestamps.
 *
 * Write types on a timeout, as drivers read them: BATCH_LOG when storing the
 * batch timed out (nothing was sent to the replicas; the client may retry),
 * BATCH when the batchlog holds it (it will be applied: do not retry).
 *
 * ---- Verbs (msgpack payloads; frames of gossip/messaging.h) ----
 *
 *   | verb                | payload                                              |
 *   |---------------------|------------------------------------------------------|
 *   | BATCH_STORE (29)    | [id bin16, keyspace str, [mutation...]]  (mutation = |
 *   |  request            | storage's MUTATION FORMAT, embedded as is)           |
 *   | BATCH_STORE_RSP (30)| [] — stored (failure response when not)              |
 *   | BATCH_REMOVE (31)   | [id bin16] — one-way                                 |
 *
 * ---- Stored batches (storage's system column family) ----
 *
 *   key "batchlog/" id(16 bytes)  ->  stored_at_ms u64 (big-endian, wall clock) ++ payload
 *
 * Bounds: a batch of at most BATCHLOG_MAX_MUTATIONS mutations; at most
 * BATCHLOG_MAX_INFLIGHT batches being logged at once (beyond: Overloaded);
 * one replay at a time, started by a check every write_request_timeout
 * (0.1..10 s) that examines at most BATCHLOG_REPLAY_BATCH stored batches.
 *
 * Trust: a node checks the shape of a BATCH_STORE and each mutation's header
 * (batchlog_check_store); the mutations themselves are checked by each replica
 * that receives them at replay, as any MUTATION is, except this node's own
 * copy, which is applied as the coordinator's own writes are.
 *
 * Threading: the loop thread.  Free after messaging_free() (pending requests
 * point into it).
 */
#ifndef COLONNADE_COORDINATOR_BATCHLOG_H
#define COLONNADE_COORDINATOR_BATCHLOG_H

#include "coordinator/replication/request.h"
#include "coordinator/replication/router.h"
#include "coordinator/replication/storage_proxy.h"
#include "core/err.h"
#include "core/ring.h"
#include "gossip/messaging.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct schema;
typedef struct batchlog batchlog;

enum {
	VERB_BATCH_STORE = 29,
	VERB_BATCH_STORE_RSP = 30,
	VERB_BATCH_REMOVE = 31,
};

#define BATCHLOG_MAX_MUTATIONS 65535
#define BATCHLOG_MAX_INFLIGHT  4096
#define BATCHLOG_REPLAY_BATCH  16

struct batchlog_config {
	struct messaging *msg;     /* required */
	struct store *store;       /* required: where batches given to this node are kept */
	struct schema *schema;     /* required: keyspaces and tables of replayed batches */
	struct storage_proxy *sp;  /* required: the batch's own write */
	struct router *router;     /* required: replays */
	const char *local_dc;      /* this node's datacenter (copied) */
	const char *local_rack;    /* and rack (copied) */
	unsigned write_timeout_ms; /* write_request_timeout [2000] */
	sp_alive_fn is_alive;      /* required */
	void *alive_ctx;
	sp_addr_fn addr_of; /* required */
	void *addr_ctx;
	/* Tests: wait this long between storing a batch and sending its mutations [0]. */
	unsigned test_delay_ms;
};

int batchlog_new(const struct batchlog_config *cfg, struct batchlog **out, struct cerr *err);
void batchlog_free(struct batchlog *bl);

/*
 * Write a LOGGED batch of n mutations (all of keyspace `ks`) on `ring` at cl,
 * as described above; done() once.  Mutations are borrowed until done().
 * The router calls this for replicated LOGGED batches of more than one
 * partition (router_set_batchlog); its signature is router_batchlog_fn's.
 */
void batchlog_write(void *bl, struct ring *ring, const struct replication *rep, const char *ks,
                    uint16_t cl, struct store_mutation *const *muts, size_t n, request_done_fn done,
                    void *ctx);

/*
 * Check a BATCH_STORE payload as a node receiving it does before keeping it:
 * the shape above, 1..BATCHLOG_MAX_MUTATIONS mutations each with a readable
 * header, nothing after.  0 with *id pointing at the batch id, or COL_ECORRUPT.
 */
int batchlog_check_store(const uint8_t *payload, size_t len, const uint8_t **id);

struct batchlog_stats {
	uint64_t logged;        /* batches stored on their batchlog nodes */
	uint64_t log_timeouts;  /* batchlog writes that timed out or failed (BATCH_LOG) */
	uint64_t removed;       /* batches removed after their write succeeded */
	uint64_t stored;        /* batches other coordinators stored here */
	uint64_t replayed;      /* batches this node replayed */
	uint64_t replay_failed; /* replays that failed (tried again later) */
};
void batchlog_get_stats(const struct batchlog *bl, struct batchlog_stats *out);

#endif
