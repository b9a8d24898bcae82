/*
 * repair.h — anti-entropy repair: replicas of a token range compare Merkle
 * trees (core/merkle.h) of their data in canonical form (storage.h, REPAIR
 * CANONICAL FORM) and exchange the data of the leaves that differ, in both
 * directions, merged by the LWW rule.  On demand (repair_start: `colonnade
 * repair`, the admin endpoints) and in the background (each node its primary
 * ranges of every table, in a loop).  docs/REPAIR.md is the design.
 *
 * The repairing node drives everything: for each (table, range) it asks
 * every replica for its tree (REPAIR_TREE), compares the trees pairwise, and
 * for each differing sub-range and each pair (A, B) pulls chunks from A
 * (REPAIR_STREAM) and pushes them to B (REPAIR_SYNC), and B's to A — one
 * chunk in flight at a time, so memory is bounded by the trees and one
 * chunk, never by the data.  A replica that is down, fails, times out or
 * answers malformed bytes fails that range with the reason; the session goes
 * on with the next range.  The repairing node is a replica of every range it
 * repairs and serves its own part locally (no message).
 *
 * Replicas build trees, read and apply chunks on the repair worker thread,
 * never on the event loop; throttled to repair_throttle bytes/s.
 *
 * It never routes client requests, never writes through the storage proxy
 * and keeps no per-row state: storage's canonical walk is the only reader.
 *
 * VERBS (claimed with messaging_register_verbs; payloads msgpack):
 *
 * | verb | name              | payload                                                    |
 * |------|-------------------|------------------------------------------------------------|
 * | 20   | REPAIR_TREE       | [1, session uint, table_id bin16, start int, end int,      |
 * |      |                   |  now_s int, depth uint]                                    |
 * | 21   | REPAIR_TREE_RSP   | [tree bin (core/merkle.h WIRE FORMAT), partitions uint,    |
 * |      |                   |  bytes uint]                                               |
 * | 22   | REPAIR_STREAM     | [1, session uint, table_id bin16, start int, end int,      |
 * |      |                   |  now_s int, after bin or nil, max_bytes uint]              |
 * | 23   | REPAIR_STREAM_RSP | [chunk bin (storage.h CHUNK), last_key bin, more bool]     |
 * | 24   | REPAIR_SYNC       | [1, session uint, table_id bin16, start int, end int,      |
 * |      |                   |  chunk bin]                                                |
 * | 25   | REPAIR_SYNC_RSP   | [pairs uint]                                               |
 * | 28   | REPAIR_DONE       | one-way, to every other replica of a range repaired      |
 * |      |                   | without failure: [1, table_id bin16, start int, end int,   |
 * |      |                   |  began_s int] — tombstone_gc 'repair' may now purge there  |
 *
 * Bounds: depth <= REPAIR_MAX_DEPTH (a tree of that depth fits a message),
 * max_bytes <= REPAIR_MAX_CHUNK, a chunk or a tree larger than asked for is
 * refused.  A replica answers a request it cannot serve (unknown table,
 * store error, worker queue full) with a failure response naming why; a
 * malformed request is dropped and logged by messaging.  Messaging
 * compresses bodies over 4 KiB with zstd, so chunks travel compressed.
 */
#ifndef COLONNADE_COORDINATOR_REPAIR_H
#define COLONNADE_COORDINATOR_REPAIR_H

#include "core/buf.h"
#include "core/err.h"
#include "core/json.h"
#include "core/merkle.h"
#include "core/net.h"

#include <stdbool.h>
#include <stdint.h>

struct ev_loop;
struct messaging;
struct store;
struct schema;
struct ring;
typedef struct repair repair;

enum repair_verb {
	VERB_REPAIR_TREE = 20,
	VERB_REPAIR_TREE_RSP = 21,
	VERB_REPAIR_STREAM = 22,
	VERB_REPAIR_STREAM_RSP = 23,
	VERB_REPAIR_SYNC = 24,
	VERB_REPAIR_SYNC_RSP = 25,
	VERB_REPAIR_DONE = 28,
};

/* 2^19 leaves: 12 MiB encoded, under messaging's 16 MiB message bound. */
#define REPAIR_MAX_DEPTH    19
#define REPAIR_MAX_CHUNK    (4u << 20)
#define REPAIR_CHUNK        (1u << 20) /* what sessions ask for */
#define REPAIR_WIRE_VERSION 1
/* Jobs (trees, chunks) queued for the worker at once; more are refused. */
#define REPAIR_MAX_JOBS 64
/* Finished sessions kept for the admin endpoints. */
#define REPAIR_KEEP_SESSIONS 16
/* Failed ranges a session lists (all are counted). */
#define REPAIR_MAX_FAILURES_LISTED 64

struct repair_config {
	struct ev_loop *loop;
	struct messaging *msg;
	struct store *store;
	struct schema *schema;
	uint8_t host_id[16];
	const char *local_dc;          /* copied */
	unsigned timeout_ms;           /* per message [30000] */
	uint64_t throttle_bytes_per_s; /* 0 = unthrottled */
	int64_t interval_ms;           /* background repair loop; 0 = off */
	unsigned max_table_ages;       /* tables whose repair age is tracked [and at most:
	                                  REPAIR_MAX_TABLE_AGES, 256] */
	/* The node's answers: a new ring reference (NULL: no ring yet), a ring node's
	 * internode address, whether it is up. */
	struct ring *(*ring)(void *ctx);
	int (*addr_of)(void *ctx, const struct ring *r, size_t idx, struct net_addr *out);
	bool (*alive)(void *ctx, const struct ring *r, size_t idx);
	void *ctx;
};

/* Claims the REPAIR verbs on cfg->msg (handlers with r as their context) and starts the
 * worker and, with a schema, the scheduler. */
int repair_new(const struct repair_config *cfg, struct repair **out, struct cerr *err);
/*
 * Stop serving and starting: unregister the REPAIR verbs repair_new() claimed (a request
 * arriving later is answered "no handler") and stop the background scheduler.  Call while
 * messaging lives, before messaging_free(); sessions in flight go on until messaging ends
 * them.  Idempotent; NULL is fine.
 */
void repair_stop(struct repair *r);
/*
 * Stop the worker (after its current job), fail running sessions, free.  After
 * messaging_free(), which ends the sessions' requests in flight (their callbacks touch r),
 * and after repair_stop(): a repair_free() without it calls it, which needs messaging
 * still alive (messaging's handlers must not keep a freed r).  NULL is fine.
 */
void repair_free(struct repair *r);

/* What to repair (nodetool repair's options). */
struct repair_options {
	const char *keyspace;      /* NULL: every non-system keyspace */
	const char *const *tables; /* NULL/0: every table of the keyspace */
	size_t n_tables;
	bool primary_only; /* -pr: ranges this node is the first replica of */
	bool has_range;    /* -st/-et: only (st, et] (cut at ring tokens) */
	int64_t st, et;
	const char *dc;  /* -dc: only replicas in this datacenter */
	bool local_dc;   /* --local: only replicas in our datacenter */
	bool preview;    /* compare trees, stream nothing */
	bool background; /* started by the scheduler */
	bool plan_only;  /* the scheduler measuring ages: plan, start nothing */
};

/*
 * Start a session; its id in *id.  COL_EINVAL (unknown keyspace or table, bad
 * range, a system keyspace), COL_EUNAVAILABLE (no ring yet), COL_EAGAIN (a
 * session is running: one at a time).
 */
int repair_start(struct repair *r, const struct repair_options *o, uint64_t *id, struct cerr *err);
/* Ask a running session to stop after its current message; COL_ENOTFOUND if not running. */
int repair_cancel(struct repair *r, uint64_t id);
/* A session as JSON (docs/OPERATIONS.md); 0 = the latest.  COL_ENOTFOUND if unknown. */
int repair_status_json(struct repair *r, uint64_t id, struct jw *w);
/* Sessions kept, newest first, as a JSON array. */
void repair_sessions_json(struct repair *r, struct jw *w);
/* History rows (newest first, at most `limit`) as a JSON array. */
int repair_history_json(struct repair *r, size_t limit, struct jw *w, struct cerr *err);
/*
 * Full compaction of a table (store_table_compact: every tombstone kind that
 * tombstone_gc allows is purged) on the repair worker, off the loop.
 * COL_ENOTFOUND (no such table here), COL_EOVERLOADED (worker queue full).
 */
int repair_compact(struct repair *r, const uint8_t table_id[16], uint64_t *ticket);
/* Full compactions since the node started: each queued one gets the next ticket (1, 2, ...);
 * the worker runs them in that order, so every ticket up to finished_through is done. */
struct repair_compactions {
	uint64_t queued;           /* the last ticket given */
	uint64_t finished_through; /* the last ticket finished, well or not */
	uint64_t failed;           /* how many of them failed */
	uint64_t last_failed;      /* the ticket of the latest failure, 0 = none */
	char last_error[480];      /* why it failed: the table and the storage error */
};
void repair_compactions(struct repair *r, struct repair_compactions *out);
/* The colonnade_repair_* Prometheus lines. */
void repair_metrics(struct repair *r, struct buf *out);

/* ---- history (system CF, key prefix "repair/h/") ----------------------------------------- */

struct repair_history_row {
	char keyspace[64], table[64];
	int64_t start, end;
	int64_t started_ms, finished_ms;
	uint64_t leaves_differing, bytes;
	char outcome[160]; /* "ok", "preview", "failed: <reason>", "cancelled" */
};
typedef int (*repair_history_fn)(void *ctx, const struct repair_history_row *row);
/* Every history row in the store, oldest first (for system.repair_history). */
int repair_history_scan(struct store *s, repair_history_fn fn, void *ctx, struct cerr *err);

/* ---- wire (for the fuzz target and tests) -----------------------------------------------------
 */

struct repair_req {
	unsigned verb; /* VERB_REPAIR_TREE / _STREAM / _SYNC */
	uint64_t session;
	uint8_t table_id[16];
	int64_t start, end, now_s;
	unsigned depth;       /* TREE */
	const uint8_t *after; /* STREAM, NULL = from the start */
	uint32_t after_len;
	uint32_t max_bytes;   /* STREAM */
	const uint8_t *chunk; /* SYNC */
	uint32_t chunk_len;
};
void repair_req_put(struct buf *b, const struct repair_req *q);
/* Decode a request payload of verb q->verb (pointers into p); 0 or COL_ECORRUPT with why. */
int repair_req_decode(unsigned verb, const uint8_t *p, size_t len, struct repair_req *q,
                      struct cerr *err);
/* Responses: a tree (decoded and bounded by depth), a chunk (bounded by max_bytes). */
int repair_tree_rsp_decode(const uint8_t *p, size_t len, unsigned depth, int64_t start, int64_t end,
                           struct merkle **tree, uint64_t *partitions, struct cerr *err);
int repair_stream_rsp_decode(const uint8_t *p, size_t len, uint32_t max_bytes,
                             const uint8_t **chunk, uint32_t *chunk_len, const uint8_t **last,
                             uint32_t *last_len, bool *more, struct cerr *err);
int repair_sync_rsp_decode(const uint8_t *p, size_t len, uint64_t *pairs, struct cerr *err);
/* REPAIR_DONE payload. */
void repair_done_put(struct buf *b, const uint8_t table_id[16], int64_t start, int64_t end,
                     int64_t began_s);
int repair_done_decode(const uint8_t *p, size_t len, uint8_t table_id[16], int64_t *start,
                       int64_t *end, int64_t *began_s, struct cerr *err);

#endif
