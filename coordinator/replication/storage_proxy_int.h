/*
 * storage_proxy_int.h — internals shared by the storage proxy's files (the
 * write, read, resolve and range paths); not for the rest of the tree.
 *
 * Request state (struct sp_write, struct sp_read) is pooled: a finished
 * request goes back on a free list once it has been answered AND every
 * messaging callback it is owed has arrived (messaging calls each request's
 * callback exactly once, at the latest at its timeout).  Writes carry a slot
 * number and a generation so relayed acks (one-way messages naming the write)
 * that arrive after the write was recycled are recognised and ignored.
 *
 *   storage_proxy.c            life, topology cache, replica plans
 *   storage_proxy_write.c      writes and batches, forwarding, hints, relayed acks
 *   storage_proxy_read.c       read requests: contacts, digests, data, steps
 *   storage_proxy_shortread.c  rows handed out, short-read protection
 *   storage_proxy_resolve.c    merging replicas' versions, read-repair mutations
 *   storage_proxy_range.c      token-range reads, step by step over the ring
 *   storage_proxy_spec.c       speculative retry: per-table latency, the extra replica
 *   storage_proxy_truncate.c   TRUNCATE on every node
 */
#ifndef COLONNADE_COORDINATOR_STORAGE_PROXY_INT_H
#define COLONNADE_COORDINATOR_STORAGE_PROXY_INT_H

#include "coordinator/replication/consistency.h"
#include "coordinator/replication/storage_proxy.h"
#include "coordinator/replication/verbs.h"
#include "coordinator/tracing/trace.h"
#include "core/buf.h"

#include <ev.h>

/* ---- topology: ring snapshot, addresses, our index, latency scores ----------------------------
 */

struct topo {
	struct ring *ring; /* referenced; NULL before the first request */
	size_t n;
	struct net_addr *addrs;
	bool *addr_ok;
	double *lat_us; /* exponentially weighted moving average of answer times, 0 = unknown */
	long self;
	char local_dc[RING_NAME_MAX];
};

struct sp_write;
struct sp_read;

/* Per-table replica read latency (speculative retry): log buckets, halved every window. */
#define SP_LAT_BUCKETS     96
#define SP_LAT_TABLES      64
#define SP_LAT_WINDOW      2048
#define SP_LAT_MIN_SAMPLES 20
#define SP_LAT_RECOMPUTE   16 /* answers between two computations of a percentile */
struct sp_lat {
	uint8_t id[16];
	bool used;
	uint32_t n;
	uint32_t b[SP_LAT_BUCKETS];
	/* the last percentile computed: p_at its percentile, p_us its value (-1: too few
	 * samples), p_age answers recorded since */
	double p_at;
	int64_t p_us;
	uint32_t p_age;
};

/*
 * Pooled request states give memory back after a burst: every SP_TRIM_PERIOD_S the pool
 * keeps idle only what the busiest of the last SP_TRIM_WINDOWS periods had in use beyond
 * what is in use now (at least SP_IDLE_MIN), and frees the rest, at most SP_TRIM_MAX a
 * period (docs/STORAGE.md, Memory).
 */
#define SP_TRIM_PERIOD_S 1.0
#define SP_TRIM_WINDOWS  10
#define SP_IDLE_MIN      64
#define SP_TRIM_MAX      4096
/* Freed bytes in one period past which the allocator is asked to return free pages. */
#define SP_TRIM_RETURN_BYTES (1u << 20)
struct sp_peaks {
	unsigned now; /* the most in use this period */
	unsigned past[SP_TRIM_WINDOWS];
	unsigned at;
};

/* A freed write's slot and the generation its next write takes (relayed acks name both). */
struct sp_free_slot {
	uint32_t slot, gen;
};

struct storage_proxy {
	struct messaging *msg;
	struct store *store;
	struct ev_loop *ev;
	struct storage_proxy_config cfg;
	char default_dc[RING_NAME_MAX];
	/* the topology of the newest ring and of the one before it: requests still
	 * running on the previous ring during a swap do not rebuild the cache */
	struct topo tcache[2];
	struct topo *t; /* the one in use */
	/* writes by slot, for relayed acks */
	struct sp_write **wslots; /* NULL: a slot whose write was freed (in free_slots) */
	uint32_t n_wslots, cap_wslots;
	struct sp_free_slot *free_slots; /* cap_wslots of them */
	uint32_t n_free_slots;
	struct sp_write *free_writes;
	struct sp_read *free_reads;
	/* states allocated and idle (on the free lists), their recent use, the trim timer */
	unsigned n_reads, idle_reads, n_writes, idle_writes;
	size_t read_block_bytes, write_block_bytes; /* the wide requests' slot blocks */
	struct sp_peaks read_peaks, write_peaks;
	ev_timer trim_timer;
	struct storage_proxy_stats stats;
	struct sp_lat lat[SP_LAT_TABLES];
};

/* Live replicas of `token`, Unavailable check included. */
struct plan {
	size_t n; /* all replicas */
	uint32_t node[SP_MAX_REPLICAS];
	size_t n_live;
	uint32_t live[SP_MAX_REPLICAS];
};

/* T_HINTED: a forwarded peer its forwarder could not reach and hinted. */
enum { T_NONE = 0, T_PENDING = 1, T_ACKED = 2, T_FAILED = 3, T_HINTED = 4 };

struct sp_target {
	void *req; /* the sp_write or sp_read */
	uint32_t i;
	int64_t sent_us; /* reads: when this context's request was sent (clock_mono_us) */
};

/* Replica slots a write holds inline (as SP_READ_INLINE for reads); wider replications
 * take one block (sp_write_slots), kept with the pooled write. */
#define SP_WRITE_INLINE 8

struct sp_write {
	struct storage_proxy *sp;
	uint32_t slot, gen;
	struct sp_write *next_free;
	struct ring *ring;
	uint16_t cl;
	enum cerr_write_type wt;
	struct cl_acks acks;
	size_t n;
	/* cap slots (the replicas of the write's token): the inline arrays or slots_block */
	size_t cap;
	struct sp_target *tgt;
	uint32_t *node;
	uint8_t *state;
	bool *forwarded; /* slot reached through a forwarder */
	void *slots_block;
	size_t slots_block_cap;
	int64_t sent_us;
	int pending_cbs;
	int relays_pending; /* forwarded peers whose outcome has not come back */
	bool answered, live, expired;
	ev_timer timer;
	struct buf mut;      /* the mutation's bytes, kept for hints (only with a hint sink) */
	size_t charged;      /* of them, charged to the loop's byte budget (cfg.bytes) */
	struct trace *trace; /* the request's (trace.h: its events), referenced; NULL: untraced */
	request_done_fn done;
	void *ctx;
	char why[200]; /* first replica failure */
	struct sp_target in_tgt[SP_WRITE_INLINE];
	uint32_t in_node[SP_WRITE_INLINE];
	uint8_t in_state[SP_WRITE_INLINE];
	bool in_forwarded[SP_WRITE_INLINE];
};

enum rphase { PH_DIGEST = 1, PH_DATA = 2, PH_REPAIR = 3 };

struct rtarget {
	uint32_t node;
	bool responded, failed, has_data, has_digest;
	struct sp_target *cb; /* the context of the slot's current request (cbs or cbs2) */
	uint8_t abandoned;    /* 1/2: a speculation left a request in flight on cbs/cbs2 */
	uint64_t digest;
	int64_t sent_us;
	struct buf data; /* encoded READ RESULT */
	struct rres dec;
};

/*
 * Replica slots a read holds inline: a read whose replication places at most this many
 * replicas on a token (RF up to 8 in one datacenter, 3 + 3 in two) uses them and allocates
 * nothing; a larger replication takes one block sized to it (sp_read_slots), kept with the
 * pooled read for the next one.
 */
#define SP_READ_INLINE 8
/* A pooled read keeps a per-slot or per-read buffer (an answer's bytes, a decoded or
 * merged result), and a pooled write its mutation's copy, only while it is at most this
 * big: one large request does not pin its memory in the pool. */
#define SP_READ_BUF_KEEP (16 * 1024)

/* A repair mutation for one target. */
struct rmut {
	size_t t;
	int64_t now_s;
	size_t part; /* merged partition index it belongs to */
	struct store_mutation m;
};

struct sp_read {
	struct storage_proxy *sp;
	struct sp_read *next_free;
	struct ring *ring;
	struct replication rep;
	uint16_t cl;
	bool is_scan;
	struct store_table *table;
	uint8_t table_id[16];
	unsigned flags;
	size_t limit;
	int64_t now_s;
	/* partition reads: the key and slice (copied) */
	struct buf keybuf;
	struct store_value pk[STORE_MAX_PK_COLS];
	size_t n_pk;
	struct store_value sstart[STORE_MAX_CK_COLS], send[STORE_MAX_CK_COLS];
	struct store_slice slice;
	bool has_slice;
	int64_t token;
	/* scans */
	int64_t pieces[2][2];
	size_t n_pieces, piece;
	int64_t cursor, step_start, step_end;
	bool has_after;
	struct store_position after;
	struct store_value after_ck[STORE_MAX_CK_COLS];
	/* scans through a secondary index: replicas answer from their index (VERBS_READ_INDEX);
	 * a step whose replicas disagree is read again without it (ix_off) */
	bool has_ix, ix_off;
	struct store_index ix;
	struct store_value ix_vals[2];
	size_t n_ix_vals;
	struct buf ixbuf;
	uint64_t ix_fallbacks;
	/* the current step */
	enum rphase phase;
	size_t n_tgt;
	size_t hw_tgt; /* the most slots a step of this read used */
	/* cap_tgt slots (the most replicas the read's replication places on a token): the
	 * inline arrays below, or slots_block */
	size_t cap_tgt;
	struct rtarget *tgt;
	struct sp_target *cbs;
	struct sp_target *cbs2; /* a slot's second context (speculation) */
	uint32_t *spare;        /* live replicas not contacted (the closest last) */
	void *slots_block;      /* NULL, or slots_block_cap slots of each in one allocation */
	size_t slots_block_cap;
	/* the first failure of the step (the lowest failed slot's, why_at; SIZE_MAX: none) */
	size_t why_at;
	char why[240];
	/* speculative retry: the table's option, one speculation per step */
	struct spec_retry spec;
	size_t n_spare;
	bool speculated;
	int n_abandoned; /* requests left in flight by a speculation */
	ev_timer spec_timer;
	int block_for;
	int received;
	bool data_present;
	int pending_cbs;
	int repair_pending;
	struct rmut *rmuts;
	size_t n_rmuts, cap_rmuts;
	struct rres merged;
	/* short-read protection: the earliest last row of a replica cut by the limit */
	bool hz_set;
	size_t hz_v, hz_part, hz_row; /* version, its partition and row indexes */
	uint64_t step_limit;          /* rows each replica was asked for (0: all) */
	bool cont;                    /* this step continues after a cut: skip the static row */
	int64_t cont_token;
	struct buf hzbuf; /* the continuation position's bytes */
	size_t cont_key_len;
	struct store_cell *outcells;
	size_t cap_outcells;
	size_t emitted;
	bool stopped, answered;
	ev_timer timer;
	store_row_fn row_fn;
	void *row_ctx;
	struct trace *trace; /* the request's (trace.h: its events), referenced; NULL: untraced */
	request_done_fn done;
	void *ctx;
	struct rtarget in_tgt[SP_READ_INLINE];
	struct sp_target in_cbs[SP_READ_INLINE], in_cbs2[SP_READ_INLINE];
	uint32_t in_spare[SP_READ_INLINE];
};

/* ---- storage_proxy.c --------------------------------------------------------------------------
 */

/* The address events name ring node idx by. */
const char *sp_node_name(const struct ring *ring, size_t idx);
/* Take the thread's current trace for a request (a reference), or NULL. */
struct trace *sp_trace_take(void);
/* Call done(ctx, out) with the request's trace current (its continuations record into it). */
void sp_done_traced(struct trace *t, request_done_fn done, void *ctx, const struct cerr *out);

/* Copy a message, cut to fit (what snprintf("%s") does, without -Wformat-truncation). */
void sp_set_msg(char *dst, size_t cap, const char *src);
void sp_topo_release(struct topo *t);
/*
 * Make sp->t describe `ring`.  Called on entry to every request step and
 * callback (topology indexes are only meaningful with their ring).
 */
int sp_topo_use(struct storage_proxy *sp, struct ring *ring);
bool sp_node_alive(struct storage_proxy *sp, size_t idx);
/* Is ring node idx in this node's datacenter? */
bool sp_node_local(struct storage_proxy *sp, size_t idx);
/* Fold one answer time into node idx's latency score. */
void sp_note_latency(struct storage_proxy *sp, const struct ring *ring, size_t idx,
                     int64_t sent_us);
/* A request's outcome, cleared, at level cl. */
void sp_outcome_init(struct cerr *out, uint16_t cl);
/* The replicas of `token` and the live ones; fills err and returns its code when the level
 * is invalid or cannot be met. */
int sp_plan_make(struct storage_proxy *sp, struct ring *ring, const struct replication *rep,
                 int64_t token, uint16_t cl, bool write, struct plan *p, struct cerr *err);

/* Note n states in use in a pool's current period. */
static inline void sp_peaks_note(struct sp_peaks *p, unsigned n)
{
	if (n > p->now)
		p->now = n;
}

/* ---- storage_proxy_write.c --------------------------------------------------------------------
 */

/* Free up to n idle writes (their slots kept for relayed acks); returns the bytes freed. */
size_t sp_write_trim(struct storage_proxy *sp, unsigned n);
/* Free a write and what it holds; returns the bytes of its state freed. */
size_t sp_write_free(struct sp_write *w);

/* The MUTATION_RSP one-way handler: relayed acks from a remote DC's forwarder. */
int sp_on_relay(struct messaging *m, const struct msg_in *msg, void *ctx);

/* ---- storage_proxy_read.c ---------------------------------------------------------------------
 */

struct sp_read *sp_read_get(struct storage_proxy *sp);
/* What every read starts from (a partition read's or a range scan's). */
struct sp_read_args {
	struct ring *ring;
	const struct replication *rep;
	uint16_t cl;
	struct store_table *table;
	size_t limit;
	int64_t now_s;
	store_row_fn row_fn;
	void *row_ctx;
	request_done_fn done;
	void *ctx;
};
/* A pooled read filled from a (its own ring reference taken), or NULL once done()
 * was answered Overloaded. */
struct sp_read *sp_read_begin(struct storage_proxy *sp, const struct sp_read_args *a, bool is_scan);
void sp_read_release(struct sp_read *r);
void sp_read_maybe_release(struct sp_read *r);
/* Free a pooled read and everything it holds; returns the bytes of its state freed. */
size_t sp_read_free(struct sp_read *r);
/* Free up to n idle reads; returns the bytes freed. */
size_t sp_read_trim(struct storage_proxy *sp, unsigned n);
void sp_read_release_muts(struct sp_read *r);
/* Give the read slots for up to `need` replicas per token: 0, or COL_ENOMEM.  Only
 * while no request of the read is in flight (callbacks point into the slots). */
int sp_read_slots(struct sp_read *r, size_t need);
/* Slot i failed: keep msg as the step's failure when it is the lowest failed slot. */
void sp_read_set_why(struct sp_read *r, size_t i, const char *msg);
/* Answer the request once: code 0, COL_ETIMEDOUT (counts filled in) or an error with msg. */
void sp_read_answer(struct sp_read *r, int code, const char *msg);
/* The messaging callback of data, digest and repair requests. */
void sp_read_rsp(void *ctx, int status, const struct msg_in *rsp);
/* Move the current step on once answers are in (resolve, repair, emit, next step). */
void sp_read_progress(struct sp_read *r);
/* Start a step: contacts for `token`, then the first phase. */
void sp_read_start_step(struct sp_read *r, int64_t token);
/* Ask slot i's replica for data or a digest (this node: read inline). */
void sp_read_ask(struct sp_read *r, size_t i, enum verbs_read_kind kind);
void sp_read_step_done(struct sp_read *r);

/* Copy n values' bytes into b (offsets in offs), then point dst at them once b stops moving. */
void sp_copy_values(struct buf *b, struct store_value *dst, const struct store_value *src, size_t n,
                    size_t *offs);
void sp_fix_values(struct buf *b, struct store_value *dst, size_t n, const size_t *offs);
void sp_fail_now(request_done_fn done, void *ctx, uint16_t cl, int code, const char *msg);

/* ---- storage_proxy_shortread.c ----------------------------------------------------------------
 */

/* Short-read protection: the earliest last row among the first n_versions cut replicas. */
void sp_read_horizon(struct sp_read *r, size_t n_versions);
/* Hand m's live rows to the caller, up to the horizon and the limit, or until told to stop. */
void sp_read_emit(struct sp_read *r, const struct rres *m);
/* Continue the step after the horizon: 0, or COL_ENOMEM. */
int sp_read_continue(struct sp_read *r);

/* ---- storage_proxy_resolve.c ------------------------------------------------------------------
 */

/* Partition order of READ RESULTs: token, then key bytes. */
int sp_part_cmp(const struct rres_part *a, const struct rres_part *b);
/* Row order within a partition (static first, then clustering order, reversed reads reversed). */
int sp_row_cmp(const struct sp_read *r, const struct rres *ra, const struct rres_row *a,
               const struct rres *rb, const struct rres_row *b);
/* Merge every contacted replica's data into r->merged and build the repair mutations. */
int sp_resolve(struct sp_read *r);
/* Send the repair mutations; local ones are applied at once. */
void sp_read_repair_send(struct sp_read *r);

/* ---- storage_proxy_spec.c ----------------------------------------------------------------------
 */

/* Fold one replica answer time into table id's latency. */
void sp_lat_record(struct storage_proxy *sp, const uint8_t id[16], int64_t us);
/* Arm the speculation timer for the phase just sent (when the table's option and a spare
 * replica allow one). */
void sp_spec_arm(struct sp_read *r);
void sp_spec_fire(struct ev_loop *l, ev_timer *tm, int revents);

/* ---- storage_proxy_range.c --------------------------------------------------------------------
 */

/* The next step of a range read (or its answer when the range is done). */
void sp_range_next_step(struct sp_read *r);

#endif
