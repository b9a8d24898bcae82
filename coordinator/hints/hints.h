/*
 * hints.h — hinted handoff (Cassandra's HintsService and HintsDispatcher): a
 * write a replica missed is kept by the node that noticed, and handed to the
 * replica when it is back.  docs/HINTS.md is the design note.
 *
 * Storing.  hints_store() is the storage proxy's hint sink (sp_hint_fn's
 * shape plus flags): the mutation's bytes exactly as the replica would have
 * applied them (original timestamps, the coordinator's now_s) go into the
 * store's "hints" column family keyed by the target's HOST ID (containers
 * come back at new addresses), creation time and a sequence, so one target's
 * hints form one key range in creation order.  Values above
 * HINTS_COMPRESS_MIN bytes are zstd-compressed; every value carries an xxh3
 * of the mutation, so torn or corrupt values are recognised.  A hint is NOT
 * stored when hinted handoff is disabled, the target's DC is in the disabled
 * list, the target has been down longer than max_window_ms (its down-since
 * time is persisted, so a restart does not reopen the window), or the
 * target's pending bytes would pass max_size_per_host: each counted by
 * reason, logged once per target per outage, and the target's token range
 * recorded for repair.
 *
 * Delivery.  When a target comes UP (the node calls hints_peer_up() after
 * gossip's ECHO round trip), and every flush_period_ms while it has hints, the
 * dispatcher reads the target's hints in creation order in bounded steps on
 * the loop (at most HINTS_STEP_BYTES of values per step, then the loop serves
 * gossip and CQL before the next step), sends each as a HINT request with at
 * most max_in_flight_bytes unacknowledged, and deletes a hint only after the
 * target answered that it applied it.  The send rate per target is
 * throttle_kib KiB/s divided by (nodes in the ring - 1), Cassandra's meaning:
 * the whole cluster replays to one node at about throttle_kib.  A target going
 * down (or not answering) stalls its delivery: answers in flight are awaited
 * and the next attempt starts at the oldest hint not acknowledged.  No
 * delivery cursor is kept on disk: delivered hints are deleted, so a restarted
 * node resumes at the first hint still stored.  At most delivery_targets targets are served at
 * once.
 *
 * Discarded at delivery, and for a target that stays down by a bounded purge
 * every flush period (deleted, counted, range recorded): hints older than the
 * smallest gc_grace_seconds of the table they touch (they could resurrect
 * deleted data), hints for tables or columns this node no longer has, hints
 * the target refuses as invalid, corrupt or truncated values (logged with
 * their key; the whole ring of that target is recorded, since the token is
 * unreadable).
 *
 * The receiving side (VERB_HINT) checks the hint is meant for this host id and
 * applies it with store_apply_bytes().
 *
 * Threading: the messaging loop's thread, every call.  Ownership: the config's
 * store and messaging outlive the hints object; free it after
 * messaging_free() (which ends requests in flight) and before the store.
 *
 * ---- Keys and values in the "hints" column family (integers big-endian) ----
 *
 *   | record       | key                                          | value                   |
 *   |--------------|----------------------------------------------|-------------------------|
 *   | hint         | 0x01, host_id 16, created_ms u64, seq u64     | hint value (below)      |
 *   | down since   | 0x02, host_id 16                             | down_since_ms u64       |
 *   | repair range | 0x03, host_id 16, start u64, end u64         | range value (below)     |
 *
 *   created_ms: wall clock ms; seq: a counter that starts at the wall clock in
 *   µs at each start, so keys never repeat across restarts.  Tokens in range
 *   keys are XORed with 0x8000000000000000 so memcmp orders them as signed.
 *
 *   hint value  = [version 1 u8][flags u8: bit0 zstd][raw_len u32]
 *                 [xxh3-64 of the mutation u64][mutation bytes, or their zstd frame]
 *   range value = [version 1 u8][reasons u16: 1 << enum hints_drop][count u64]
 *                 [first_ms u64][last_ms u64]
 *   A range (start, end] is the ring range (between two consecutive ring tokens)
 *   holding the dropped mutation's token; start == end means the whole ring.
 *
 * ---- HINT verb (numbers below, in docs/ARCHITECTURE.md's table) ----
 *
 *   | verb          | payload                                                        |
 *   |---------------|----------------------------------------------------------------|
 *   | HINT (14)     | [target host_id bin16, created_ms int, mutation]  mutation =   |
 *   |  request      | storage's MUTATION FORMAT embedded as is (one msgpack value)   |
 *   | HINT_RSP (15) | [] — applied; failure response [code, message] otherwise:      |
 *   |               | COL_EPROTO: not this host; COL_ENOTFOUND: unknown table;       |
 *   |               | COL_ECORRUPT / EINVAL / ETYPE / ETOOBIG: the mutation is invalid |
 */
#ifndef COLONNADE_COORDINATOR_HINTS_H
#define COLONNADE_COORDINATOR_HINTS_H

#include "core/buf.h"
#include "core/err.h"
#include "core/net.h"
#include "core/ring.h"
#include "gossip/messaging.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hints hints;

/* The verbs this module owns (registered with messaging_register_verbs). */
enum hints_verb {
	VERB_HINT = 14,
	VERB_HINT_RSP = 15,
};

/* Values above this many bytes are stored zstd-compressed (smaller ones gain little). */
#define HINTS_COMPRESS_MIN 256
/* Bytes of hint values one dispatcher step reads before giving the loop back. */
#define HINTS_STEP_BYTES (64u << 10)
/* Targets the node keeps hint state for (every host it ever hinted, until restart). */
#define HINTS_MAX_TARGETS 4096

#define HINTS_KEY_LEN   33
#define HINTS_VALUE_HDR 14

/* Why a hint was not stored or was discarded (metric label: hints_drop_name()). */
enum hints_drop {
	HINTS_DROP_DISABLED = 0, /* hinted_handoff_enabled false / disablehandoff */
	HINTS_DROP_DC = 1,       /* the target's DC is in hinted_handoff_disabled_datacenters */
	HINTS_DROP_WINDOW = 2,   /* target down longer than max_hint_window */
	HINTS_DROP_SIZE = 3,     /* max_hints_size_per_host reached */
	HINTS_DROP_ERROR = 4,    /* the store failed or memory ran out */
	HINTS_DROP_EXPIRED = 5,  /* older than the table's gc_grace_seconds at delivery */
	HINTS_DROP_UNKNOWN_TABLE = 6,   /* table dropped (here or on the target) */
	HINTS_DROP_CORRUPT = 7,         /* stored value unreadable */
	HINTS_DROP_REFUSED = 8,         /* the target refused it as invalid */
	HINTS_DROP_TRUNCATED = 9,       /* truncatehints */
	HINTS_DROP_UNKNOWN_COLUMN = 10, /* a column dropped since (here) */
	HINTS_DROP_MAX = 11
};
const char *hints_drop_name(enum hints_drop d);

/* What the node knows of a target host. */
struct hints_peer {
	struct net_addr addr; /* internode address */
	bool alive;           /* up (failure detector, after ECHO) */
};
/* Look up a host id: 0 and *out, or COL_ENOTFOUND when gossip does not know it. */
typedef int (*hints_peer_fn)(void *ctx, const uint8_t host_id[16], struct hints_peer *out);
/* A new reference to the current ring (NULL when there is none yet). */
typedef struct ring *(*hints_ring_fn)(void *ctx);

struct hints_config {
	struct store *store;        /* required */
	struct store_lane *lane;    /* received hints are applied through it; NULL: inline */
	struct messaging *msg;      /* required: delivery and the HINT handler */
	uint8_t host_id[16];        /* this node */
	bool enabled;               /* hinted_handoff_enabled */
	const char *disabled_dcs;   /* hinted_handoff_disabled_datacenters, comma-separated ["" ] */
	int64_t max_window_ms;      /* max_hint_window [3 h]; 0 = store no hint for a down node */
	int64_t throttle_kib;       /* hinted_handoff_throttle, KiB/s [1024]; 0 = unthrottled */
	int64_t flush_period_ms;    /* hints_flush_period [10000] */
	int64_t max_size_per_host;  /* max_hints_size_per_host bytes; 0 = unbounded */
	unsigned delivery_targets;  /* max_hints_delivery_threads: targets served at once [2] */
	unsigned timeout_ms;        /* one HINT request [write_request_timeout, 2000] */
	size_t max_in_flight_bytes; /* per target [1 MiB] */
	hints_peer_fn peer;         /* required */
	hints_ring_fn ring;         /* required */
	void *ctx;
};

int hints_new(const struct hints_config *cfg, struct hints **out, struct cerr *err);
/* Persist counters and free.  After messaging_free(); NULL is fine. */
void hints_free(struct hints *h);

/* hints_store flags */
#define HINTS_SYNC 1u /* fsync the WAL before returning (a hint that is ANY's only ack) */

/*
 * Store `mut` (serialized mutation, borrowed) for ring node idx of r.  0 when
 * stored; otherwise the drop reason's error (COL_EUNAVAILABLE when refused by
 * policy, COL_EIO / COL_ENOMEM on failure), counted and its range recorded.
 */
int hints_store(struct hints *h, const struct ring *r, size_t idx, const uint8_t *mut, size_t len,
                unsigned flags);

/* Gossip's news: a target is up (after ECHO) or down. */
void hints_peer_up(struct hints *h, const uint8_t host_id[16]);
void hints_peer_down(struct hints *h, const uint8_t host_id[16]);

/* Operator switches (nodetool's enable/disable/pause/resumehandoff).  Not persisted. */
void hints_set_enabled(struct hints *h, bool on);
void hints_set_paused(struct hints *h, bool paused);
bool hints_enabled(const struct hints *h);
bool hints_paused(const struct hints *h);
/* Delete every hint for host_id (NULL: for every host); ranges recorded as TRUNCATED. */
int hints_truncate(struct hints *h, const uint8_t *host_id, struct cerr *err);

struct hints_target_info {
	uint8_t host_id[16];
	uint64_t count, bytes;        /* pending hints; their stored bytes */
	int64_t oldest_ms, newest_ms; /* creation times (0: unknown) */
	int64_t down_since_ms;        /* 0: not known down */
	bool delivering;
	uint64_t delivered, delivered_bytes; /* since start */
};
/*
 * Every target with pending hints or a known outage, on the loop thread.
 * with_oldest: look up each target's oldest hint (one store seek per target,
 * which walks the deleted keys before it: for listpendinghints, not /metrics).
 */
typedef void (*hints_target_fn)(void *ctx, const struct hints_target_info *t);
void hints_each_target(struct hints *h, bool with_oldest, hints_target_fn fn, void *ctx);

struct hints_stats {
	uint64_t stored, stored_bytes;       /* hints written (value bytes) */
	uint64_t delivered, delivered_bytes; /* acknowledged by targets (mutation bytes) */
	uint64_t failed;                     /* HINT requests that failed (retried later) */
	uint64_t dropped[HINTS_DROP_MAX];    /* not stored or discarded, by reason */
	uint64_t received, received_bytes;   /* hints applied here as a target */
	uint64_t received_refused;           /* HINTs this node refused */
	uint64_t pending, pending_bytes;     /* over all targets */
	double replay_bytes_per_s;           /* mutation bytes acked per second, last second */
	uint64_t max_step_us;                /* most CPU one dispatcher step took on the loop */
	unsigned delivering;                 /* targets being served */
};
void hints_get_stats(const struct hints *h, struct hints_stats *out);

/* ---- the repair face: ranges whose hints were lost ------------------------------------------- */

struct hints_range {
	uint8_t host_id[16];
	int64_t start, end; /* (start, end]; start == end: the whole ring */
	unsigned reasons;   /* bit 1 << enum hints_drop */
	uint64_t count;
	int64_t first_ms, last_ms;
};
typedef int (*hints_range_fn)(void *ctx, const struct hints_range *r);
/*
 * Every recorded range in the store (for the repair room: repair these first,
 * then hints_range_clear()).  A running node flushes its counters every
 * flush period; a range appears in the store as soon as it is first recorded.
 */
int hints_ranges(struct store *s, hints_range_fn fn, void *ctx, struct cerr *err);
int hints_range_clear(struct store *s, const uint8_t host_id[16], int64_t start, int64_t end,
                      struct cerr *err);

/* ---- formats (pinned by golden-bytes tests, decoded by the fuzz target) ---------------------- */

void hints_key(uint8_t out[HINTS_KEY_LEN], const uint8_t host_id[16], uint64_t created_ms,
               uint64_t seq);
/* Append the stored value of a mutation to out (compressed above HINTS_COMPRESS_MIN). */
int hints_value_encode(struct buf *out, const uint8_t *mut, size_t len);
/*
 * Decode a stored value into out (the mutation bytes): 0, or COL_ECORRUPT with
 * what is wrong in err (short, unknown version or flags, size over
 * STORE_MAX_VALUE * 4, zstd error, checksum mismatch).
 */
int hints_value_decode(const uint8_t *v, size_t len, struct buf *out, struct cerr *err);
/* HINT request payload. */
void hints_put_msg(struct buf *b, const uint8_t host_id[16], int64_t created_ms, const uint8_t *mut,
                   size_t len);
/* Decode a HINT payload; mut points into p.  0 or COL_ECORRUPT. */
int hints_msg_decode(const uint8_t *p, size_t len, uint8_t host_id[16], int64_t *created_ms,
                     const uint8_t **mut, size_t *mut_len);

#endif
