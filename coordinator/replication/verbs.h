/*
 * verbs.h — the replica side of replicated reads and writes: handlers for the
 * MUTATION and READ verbs, the forwarding of cross-datacenter mutations, and
 * the wire formats both sides use (the coordinator side is storage_proxy.h).
 *
 * A replica never coordinates: it applies, answers and forwards what it is
 * sent.
 *
 * A replica applies a MUTATION to its store and acknowledges it.  A MUTATION
 * that carries a forward list came from a coordinator in another datacenter:
 * the replica applies it, acknowledges it, sends the same mutation bytes to
 * each listed peer of its own datacenter, and RELAYS each peer's outcome to
 * the coordinator as a one-way MUTATION_RSP naming the coordinator's write id
 * and the peer's slot.  Relaying (instead of having the peers answer the
 * coordinator themselves, as Cassandra does) keeps every cross-DC byte of a
 * write on the one forwarder <-> coordinator link, so a partition between
 * datacenters cuts exactly that link and nothing needs a WAN connection from
 * every remote replica to every coordinator.  A listed peer the forwarder
 * knows down, cannot reach, or that does not answer in time is hinted BY THE
 * FORWARDER (with a hint sink configured), which relays VERBS_RELAY_HINTED:
 * each DC hints its own replicas, and the coordinator stores no second hint.
 *
 * A READ returns a partition's or a token range's rows as the storage engine
 * holds them, tombstones and timestamps included (STORE_READ_TOMBSTONES), in
 * the canonical READ RESULT encoding below, or only the digest of that
 * encoding: xxh3-64 (libxxhash XXH3_64bits) of its bytes.  Every replica of
 * the same data at the same now_s produces the same bytes, so digests agree
 * exactly when contents agree.
 *
 * ---- Payloads (msgpack, core/msgpk.h; frames of gossip/messaging.h) ----
 *
 *   | verb              | payload                                                  |
 *   |-------------------|----------------------------------------------------------|
 *   | MUTATION (10)     | [mutation, forward(, trace)]  mutation = storage's       |
 *   |  request          | MUTATION FORMAT embedded as is (one msgpack value,       |
 *   |                   | storage/storage.h); forward = nil, or [write_id uint,    |
 *   |                   | [[host str, port uint, slot uint]...]] (peers of the     |
 *   |                   | receiver's DC); trace = bin16, the trace session this    |
 *   |                   | request belongs to (only on traced requests)             |
 *   | MUTATION_RSP (11) | [] — applied                                             |
 *   |  response         | (failure response [code, message] when not applied)      |
 *   | MUTATION_RSP (11) | [write_id uint, slot uint, status int] — a forwarded     |
 *   |  one-way (id 0)   | peer's outcome relayed to the coordinator; status 0 =    |
 *   |                   | applied, 1 = not applied, hinted by the forwarder        |
 *   |                   | (VERBS_RELAY_HINTED), else the COL_E* code               |
 *   | READ (12)         | [kind uint, table_id bin16, now_s int, flags uint,       |
 *   |  request          |  limit uint, target(, trace)]  trace as for MUTATION     |
 *   |                   | kind 0 data / 1 digest: target = [[pk bin...], slice]    |
 *   |                   |   slice = nil | [[start ck bin...], start_incl bool,     |
 *   |                   |   [end ck bin...], end_incl bool]                        |
 *   |                   | kind 2 range data: target = [start int, end int, after]  |
 *   |                   |   after = nil | [token int, key bin, [ck bin...] | nil]   |
 *   |                   | kind 3 index data: target = [start int, end int, after, |
 *   |                   |   [on uint, kind uint, col uint], [value bin...]]: the     |
 *   |                   |   range's rows holding value(s) in that index              |
 *   |                   |   (store_index_read; 1 value, 2 for ENTRIES)               |
 *   |                   | flags: STORE_READ_REVERSE only; limit 0 = none           |
 *   | READ_RSP (13)     | kind 0/2/3: [0, result]; kind 1: [1, digest uint64]      |
 *   | TRUNCATE (26)     | [table_id bin16, truncated_at int] (µs; store_table_     |
 *   |  request          | truncate's time, the same on every replica)              |
 *   | TRUNCATE_RSP (27) | [] — truncated (failure response when not)               |
 *
 * The trailing trace session (docs/CQL-SERVER.md, Tracing) is sent only with a
 * traced request, so untraced traffic is byte for byte what peers without it
 * expect, and a message without it is always accepted.  A replica that gets
 * one records its own events for that session (received, applied or read,
 * reply sent) through the trace sink.  A peer that predates the field refuses
 * a traced request's message as malformed (the request then fails or times
 * out on that replica): trace only once every node has it.
 *
 * ---- READ RESULT (canonical: same data, same bytes) ----
 *
 *   result    = array32 of partition (count back-patched)
 *   partition = [token int, key bin, [pk bin...], deletion, [rtomb...],
 *                array32 of row]
 *   deletion  = nil | [ts int, ldt int]
 *   rtomb     = [[start ck bin...], start_incl bool, [end ck bin...],
 *                end_incl bool, ts int, ldt int]  (range tombstones in key
 *               order; an empty bound is unbounded on its side)
 *               (a partition with a deletion or range tombstones appears
 *               with them even when none of its rows is left, in partition
 *               and range reads: storage's STORE_READ_HEADERS)
 *   row       = [static bool, [ck bin...], marker, deletion, [cell...]]
 *   marker    = nil | [ts int, ttl int, expiry int]
 *   cell      = [col uint, path bin | nil, ts int, tombstone bool,
 *                value bin (live) | nil (tombstone), ttl int,
 *                expiry int (live; 0 = none) | ldt int (tombstone)]
 *
 * Threading: the loop thread of the messaging instance.
 */
#ifndef COLONNADE_COORDINATOR_VERBS_H
#define COLONNADE_COORDINATOR_VERBS_H

#include "core/admit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/net.h"
#include "gossip/messaging.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct verbs verbs;
struct trace_sink;

/*
 * The replication verbs: numbers on the wire, never renumbered (the table of
 * every number in use is in docs/ARCHITECTURE.md).  verbs_new() registers
 * them; the coordinator side (storage_proxy) sends MUTATION and READ and
 * handles the relayed MUTATION_RSP.
 */
enum verbs_verb {
	VERB_MUTATION = 10,
	VERB_MUTATION_RSP = 11,
	VERB_READ = 12,
	VERB_READ_RSP = 13,
	VERB_TRUNCATE = 26,
	VERB_TRUNCATE_RSP = 27,
};

enum verbs_read_kind {
	VERBS_READ_DATA = 0,
	VERBS_READ_DIGEST = 1,
	VERBS_READ_RANGE = 2,
	VERBS_READ_INDEX = 3, /* a token range through a secondary index */
};

/* Relayed status: the forwarder could not deliver to the peer and stored a hint for it. */
#define VERBS_RELAY_HINTED 1

/* The forwarder's hinting: is a peer of its DC up; store a hint for it (0 = stored). */
typedef bool (*verbs_alive_fn)(void *ctx, const struct net_addr *peer);
typedef int (*verbs_hint_fn)(void *ctx, const struct net_addr *peer, const uint8_t *mut,
                             size_t len);

struct verbs_config {
	struct messaging *msg; /* required */
	struct store *store;   /* required: this node's data */
	/* this loop's group-commit lane (storage.h): MUTATIONs are applied through it and
	 * answered when their group is written; NULL: store_apply_bytes inline */
	struct store_lane *lane;
	unsigned forward_timeout_ms; /* forwarded mutations to peers [2000] */
	unsigned max_forwards;       /* forwarded peer requests in flight [65536] */
	verbs_alive_fn peer_alive;   /* NULL: every peer is tried */
	verbs_hint_fn hint;          /* NULL: the coordinator hints what fails */
	void *hint_ctx;
	/* the loop's byte budget (core/admit.h), charged with the copy of each mutation a
	 * forward keeps to hint its peer; a copy that does not fit is not kept (the peer's
	 * failure is relayed and its coordinator hints it).  NULL: no bound */
	struct admit_bytes *bytes;
	/* where a replica's trace events go (coordinator/tracing/trace.h); NULL: messages
	 * naming a trace session are served untraced */
	const struct trace_sink *tracing;
	/* A MUTATION (READ) that waited longer than this in the socket before it was read
	 * is dropped unanswered and counted: its coordinator has given up on it (and hinted
	 * a mutation) by then.  The write request timeout (the longer of the read and range
	 * timeouts: READ carries both); 0 = never dropped. */
	unsigned mutation_shed_ms, read_shed_ms;
};

/*
 * Register the replication verbs on cfg->msg (MUTATION and READ handled
 * here).  0, or COL_EINVAL / COL_EEXIST (a number another module claimed) /
 * COL_ENOMEM with the reason in err.
 */
int verbs_new(const struct verbs_config *cfg, struct verbs **out, struct cerr *err);
/*
 * Free.  Handlers and forwarded requests in flight refer to v: call this
 * after messaging_free(), which ends them (or never receive again).
 */
void verbs_free(struct verbs *v);

struct verbs_stats {
	uint64_t mutations;      /* applied */
	uint64_t mutation_fails; /* refused: malformed, unknown table, store error */
	uint64_t forwarded;      /* mutations sent on to same-DC peers */
	uint64_t relayed_acks;   /* peer outcomes relayed to coordinators */
	uint64_t forward_hints;  /* hints stored for peers of a forwarded write */
	uint64_t reads, digests, range_reads, read_fails;
	/* MUTATIONs and READs dropped for their time in the socket (mutation_shed_ms) */
	uint64_t mutations_shed, reads_shed;
	/* MUTATIONs read, by their time in the socket (when known), in net_iter_bounds_us
	 * buckets (core/net.h; not cumulative), their count and sum */
	uint64_t mutation_wait_buckets[NET_ITER_BUCKETS];
	uint64_t mutation_wait_count, mutation_wait_sum_us;
};
void verbs_get_stats(const struct verbs *v, struct verbs_stats *out);

/* ---- encoding (both sides; pinned by golden-bytes tests) ---------------------------------------
 */

/* A forwarding target: a peer's listen address and the coordinator's slot for it. */
struct verbs_forward {
	struct net_addr addr;
	uint32_t slot;
};

/* MUTATION payload: the mutation bytes as they are, then the forward list (n = 0: nil), then
 * the trace session when trace_session is not NULL. */
void verbs_put_mutation(struct buf *b, const void *mut, size_t len, uint64_t write_id,
                        const struct verbs_forward *fwd, size_t n, const uint8_t *trace_session);
/* The one-way relayed ack. */
void verbs_put_relay_ack(struct buf *b, uint64_t write_id, uint32_t slot, int status);
int verbs_decode_relay_ack(const uint8_t *p, size_t len, uint64_t *write_id, uint32_t *slot,
                           int *status);

/* Forward lists are at most this long (a DC's RF bounds them). */
#define VERBS_MAX_FORWARD 64

/* A decoded MUTATION payload; mut points into the payload. */
struct verbs_mutation_msg {
	const uint8_t *mut;
	size_t mut_len;
	uint64_t write_id;
	size_t n_fwd;
	struct verbs_forward fwd[VERBS_MAX_FORWARD];
	const uint8_t *trace_session; /* 16 bytes into the payload, or NULL: not traced */
};
/* Decode (and check the shape of) a MUTATION payload: 0 or COL_ECORRUPT. */
int verbs_mutation_decode(const uint8_t *p, size_t len, struct verbs_mutation_msg *out);

/* A read: single partition (DATA, DIGEST) or token range (RANGE). */
struct verbs_read {
	enum verbs_read_kind kind;
	uint8_t table_id[16];
	int64_t now_s;
	unsigned flags; /* STORE_READ_REVERSE */
	uint64_t limit;
	/* DATA/DIGEST */
	const struct store_value *pk;
	size_t n_pk;
	const struct store_slice *slice; /* NULL: whole partition */
	/* RANGE, INDEX */
	int64_t start, end;
	const struct store_position *after;
	/* INDEX */
	struct store_index ix;
	const struct store_value *ix_vals;
	size_t n_ix_vals; /* 1, or 2 (ENTRIES) */
	/* the trace session (16 bytes) of a traced request, or NULL */
	const uint8_t *trace_session;
};
void verbs_put_read(struct buf *b, const struct verbs_read *rd);

/* A decoded READ payload: rd points into the arrays beside it and into the payload. */
struct verbs_read_req {
	struct verbs_read rd;
	struct store_value pk[STORE_MAX_PK_COLS];
	struct store_value start[STORE_MAX_CK_COLS], end[STORE_MAX_CK_COLS];
	struct store_slice slice;
	struct store_position after;
	struct store_value after_ck[STORE_MAX_CK_COLS];
	struct store_value ix_vals[2];
};
/* Decode a READ payload: 0 or COL_ECORRUPT. */
int verbs_read_decode(const uint8_t *p, size_t len, struct verbs_read_req *q);

/*
 * Run a read against a local store, the way a replica answers READ: data
 * (kinds DATA and RANGE) encoded as a READ RESULT appended to out.  0, or
 * the error with err set.
 */
int verbs_read_local(struct store *s, const struct verbs_read *rd, struct buf *out,
                     struct cerr *err);
/* Digest of an encoded READ RESULT. */
uint64_t verbs_digest(const void *result, size_t len);

/* TRUNCATE payload. */
void verbs_put_truncate(struct buf *b, const uint8_t table_id[16], int64_t truncated_at);
int verbs_truncate_decode(const uint8_t *p, size_t len, uint8_t table_id[16],
                          int64_t *truncated_at);
/*
 * Truncate a table of a local store as a replica answers TRUNCATE:
 * COL_ENOTFOUND when the table is unknown here, else store_table_truncate's result.
 */
int verbs_truncate_local(struct store *s, const uint8_t table_id[16], int64_t truncated_at,
                         struct cerr *err);

/* ---- decoded READ RESULTs (pointers into the encoded bytes, which must outlive them) ------- */

struct rres_cell {
	uint32_t col;
	const uint8_t *path; /* NULL: no path */
	uint32_t path_len;
	int64_t ts;
	bool tombstone;
	const uint8_t *value;
	uint32_t value_len;
	int32_t ttl;
	int64_t exp; /* live: expiry (0 none); tombstone: local deletion time */
};

struct rres_row {
	bool is_static;
	size_t ck_at, n_ck; /* into rres.vals */
	bool has_marker;
	int64_t marker_ts;
	int32_t marker_ttl;
	int64_t marker_exp;
	bool has_del;
	int64_t del_ts, del_ldt;
	size_t cell_at, n_cells; /* into rres.cells */
};

/* A range tombstone: its bounds' components in rres.vals. */
struct rres_rt {
	size_t start_at, n_start;
	bool start_incl;
	size_t end_at, n_end;
	bool end_incl;
	int64_t ts, ldt;
};

struct rres_part {
	int64_t token;
	const uint8_t *key;
	uint32_t key_len;
	size_t pk_at, n_pk; /* into rres.vals */
	bool has_del;
	int64_t del_ts, del_ldt;
	size_t rt_at, n_rts;   /* into rres.rts */
	size_t row_at, n_rows; /* into rres.rows */
};

/* Growable arrays, reused across decodes (release frees them). */
struct rres {
	struct rres_part *parts;
	size_t n_parts, cap_parts;
	struct rres_row *rows;
	size_t n_rows, cap_rows;
	struct rres_cell *cells;
	size_t n_cells, cap_cells;
	struct store_value *vals;
	size_t n_vals, cap_vals;
	struct rres_rt *rts;
	size_t n_rts, cap_rts;
};

void rres_init(struct rres *r);
void rres_release(struct rres *r);
void rres_reset(struct rres *r);
/* Decode an encoded READ RESULT (appending to r).  COL_ECORRUPT / COL_ENOMEM. */
int rres_decode(struct rres *r, const uint8_t *p, size_t len, struct cerr *err);
/* Append one element to each array (the merge builds results with these). */
struct rres_part *rres_add_part(struct rres *r);
struct rres_row *rres_add_row(struct rres *r);
struct rres_cell *rres_add_cell(struct rres *r);
struct store_value *rres_add_val(struct rres *r);
struct rres_rt *rres_add_rt(struct rres *r);

#endif
