/*
 * schema_sync.h — the schema in a cluster: every node converges on the same
 * schema rows (coordinator/schema/schema.h) and says which version it holds in gossip.
 *
 * It never changes a row itself: it moves rows between nodes and merges them
 * with schema_merge_rows().
 *
 * Push.  After a local DDL (a schema change not caused by a merge) the node
 * sends its WHOLE schema (every row, tombstones included) to every live peer
 * as one SCHEMA_PUSH.  The whole schema rather than the changed rows: it is
 * small (a row per keyspace and table, a few hundred bytes each), it needs no
 * record of what changed, and a push then also repairs anything the receiver
 * missed before.  A catalogue of 1,000 tables is ~300 KB, well under
 * messaging's 16 MiB frame limit (zstd-compressed on the wire).
 *
 * Merge.  The receiver merges row by row with schema_merge_rows(): per row the
 * newest timestamp wins, ties broken by the row bytes, drops are timestamped
 * tombstone rows.  Every node applies the same rule to the same rows, so
 * concurrent DDL on two nodes converges to one set of rows, hence one version
 * (the version is a hash of the rows).  Table CFs are opened or dropped by the
 * snapshot rebuild; the version change reaches gossip through the node's
 * schema listener (APP_SCHEMA).
 *
 * Pull.  When gossip shows a live peer with another SCHEMA version for
 * pull_delay_ms (looked at on on_change, on_alive, on_join and every 50 ms),
 * we ask that peer for its rows (SCHEMA_PULL) and merge the answer: a node
 * that was down during a DDL, or is new, catches up this way.  The delay lets
 * the usual difference end by itself (a push in flight; a peer that merged a
 * push but whose new version has not reached us), so a DDL does not set every
 * node pulling from every other.  At most one pull is in flight per peer, and
 * pulls to one peer start at least pull_interval_ms apart.  Both sides of a
 * difference pull from each other, so rows each side lacks travel both ways.
 *
 * Agreement.  schema_sync_wait() calls back when every live peer gossips our
 * current version (Cassandra's schema agreement, what drivers poll in
 * system.peers), or when the timeout passes.  The CQL server holds a DDL's
 * answer on it and adds a warning on timeout.
 *
 * Bad input.  A message that is not the format below, of another format
 * number, whose rows do not hash to the version it claims (the version is the
 * hash of the sender's rows: schema_rows_version), or whose rows do not check
 * (schema_row_check) is refused with a log line naming the sender and the
 * reason; nothing of it is applied.
 *
 * ---- Wire format (msgpack payloads, gossip/messaging.h frames) ----
 *
 *   rowset = [format: uint (1), version: bin16 (the sender's schema version),
 *             rows: [[key: bin, value: bin], ...]]   keys strictly ascending;
 *             key and value as in schema.h's persistence table
 *
 *   | verb | name            | kind     | payload                                   |
 *   |------|-----------------|----------|-------------------------------------------|
 *   | 16   | SCHEMA_PUSH     | one-way  | rowset                                    |
 *   | 17   | SCHEMA_PULL     | request  | [format: uint (1), version: bin16 (ours)] |
 *   | 18   | SCHEMA_PULL_RSP | response | rowset                                    |
 *
 * Bounds: at most SCHEMA_SYNC_MAX_ROWS rows per rowset, waiters at most
 * SCHEMA_SYNC_MAX_WAITERS (beyond: answered at once as not agreed), peer
 * records at most SCHEMA_SYNC_MAX_PEERS.
 *
 * Threading: the node's loop thread only.  Ownership: borrows messaging,
 * gossiper and schema, which must outlive it; registers its verbs and
 * listeners in schema_sync_new().
 */
#ifndef COLONNADE_COORDINATOR_SCHEMA_SYNC_H
#define COLONNADE_COORDINATOR_SCHEMA_SYNC_H

#include "coordinator/schema/schema.h"
#include "core/buf.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct messaging;
struct gossiper;
struct schema;
struct schema_row_ref;

typedef struct schema_sync schema_sync;

/* The schema verbs (table above); never renumbered.  schema_sync_new() registers them. */
enum schema_sync_verb {
	VERB_SCHEMA_PUSH = 16,
	VERB_SCHEMA_PULL = 17,
	VERB_SCHEMA_PULL_RSP = 18,
};

#define SCHEMA_SYNC_FORMAT      1
#define SCHEMA_SYNC_MAX_ROWS    100000u
#define SCHEMA_SYNC_MAX_WAITERS 4096u
#define SCHEMA_SYNC_MAX_PEERS   1024u

struct schema_sync_config {
	struct messaging *msg;         /* required */
	struct gossiper *gossiper;     /* required */
	struct schema *schema;         /* required */
	unsigned pull_timeout_ms;      /* a pull's answer [5000] */
	unsigned pull_interval_ms;     /* least time between two pulls to one peer [500] */
	unsigned pull_delay_ms;        /* a difference lasting this long starts a pull [1000] */
	unsigned agreement_timeout_ms; /* schema_sync_wait() default [10000] */
	/* optional: every change a merge from a peer made (schema_snap_diff), for the
	 * SCHEMA_CHANGE events this node's clients get; local DDL announces itself */
	schema_diff_fn on_merged;
	void *merged_ctx;
};

/* Register verbs and listeners, start the scan timer.  0, or COL_ENOMEM / COL_EFULL. */
int schema_sync_new(const struct schema_sync_config *cfg, struct schema_sync **out,
                    struct cerr *err);
/*
 * Stop: answer every waiter (agreed = false), stop timers, unregister the
 * verbs.  Call before the CQL server is freed; pull callbacks arriving later
 * (messaging_free) are ignored.  Idempotent.
 */
void schema_sync_stop(struct schema_sync *ss);
/* After messaging_free().  NULL is fine. */
void schema_sync_free(struct schema_sync *ss);

/*
 * Call cb(ctx, agreed, waited_ms) once every live peer gossips our schema
 * version (at once if they do already, possibly before this returns), or with
 * agreed = false after timeout_ms (0: the configured agreement timeout).  A
 * version change meanwhile (a concurrent DDL merged) moves the target: the
 * wait is for agreement, whatever the version.
 */
typedef void (*schema_sync_wait_fn)(void *ctx, bool agreed, unsigned waited_ms);
void schema_sync_wait(struct schema_sync *ss, unsigned timeout_ms, schema_sync_wait_fn cb,
                      void *ctx);

/* Every live peer gossips our version right now. */
bool schema_sync_agreed(const struct schema_sync *ss);

/*
 * Live peers whose gossiped version differs from ours (for the warning text):
 * their count, and the first one's address into first (may be NULL).
 */
unsigned schema_sync_disagreeing(const struct schema_sync *ss, char *first, size_t len);

struct schema_sync_stats {
	uint64_t pushes_out, pushes_in;
	uint64_t pulls_out, pulls_in, pull_failures;
	uint64_t rows_applied; /* rows taken from peers */
	uint64_t refused;      /* messages refused (malformed, other format, bad rows) */
	uint64_t waits, wait_timeouts;
};
void schema_sync_get_stats(const struct schema_sync *ss, struct schema_sync_stats *out);

/* ---- codec (public for tests and fuzzers) ------------------------------------------------ */

/* Append a rowset of every row of `s` with `s`'s current version. */
void schema_sync_encode_rowset(struct schema *s, struct buf *b);

/*
 * Decode a rowset.  On success *rows (malloc'ed, *n entries, pointing into
 * payload) and version[16]; free(*rows).  COL_ECORRUPT for malformed input,
 * COL_EPROTO for another format number, COL_ETOOBIG over
 * SCHEMA_SYNC_MAX_ROWS, with the reason in err.
 */
int schema_sync_decode_rowset(const uint8_t *payload, size_t len, uint8_t version[16],
                              struct schema_row_ref **rows, size_t *n, struct cerr *err);

/*
 * Decode a rowset, check that its rows hash to its version, merge it into s
 * (schema_merge_rows).  *applied: rows taken.
 */
int schema_sync_apply_rowset(struct schema *s, const uint8_t *payload, size_t len, size_t *applied,
                             struct cerr *err);

#endif
