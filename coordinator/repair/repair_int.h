/*
 * repair_int.h — struct repair's insides, shared by the files of the repair
 * room only:
 *
 *   worker.c   the worker thread: trees, chunk reads and applies off the loop
 *   wire.c     the REPAIR_* payloads (tables in repair.h)
 *   replica.c  the replica side: verb handlers answering from worker jobs
 *   plan.c     a session's (table, range) tasks from the ring and the schema
 *   session.c  the repairing side: trees, diffs, streaming
 *   history.c  history and last-repaired rows, JSON
 *   scheduler.c  continuous background repair
 *   repair.c   the face: life cycle, start, cancel, status, metrics
 */
#ifndef COLONNADE_COORDINATOR_REPAIR_INT_H
#define COLONNADE_COORDINATOR_REPAIR_INT_H

#include "coordinator/repair/repair.h"

#include "core/ring.h"
#include "storage/storage.h"

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>

/* A chunk holds at least one pair, so it may pass what was asked for by one pair. */
#define REPAIR_PAIR_SLACK ((uint64_t)STORE_MAX_VALUE + 2 * STORE_MAX_KEY_PART + 64)

/* Tree comparisons per task at most: the first, and checks after streaming. */
#define REPAIR_ROUNDS 3

/* Tables whose oldest unrepaired range the scheduler tracks. */
#define REPAIR_MAX_TABLE_AGES 256

/* ---- worker -------------------------------------------------------------------------------- */

enum rjob_kind { RJOB_TREE, RJOB_STREAM, RJOB_SYNC, RJOB_COMPACT };

struct rjob;
typedef void (*rjob_done_fn)(struct repair *r, struct rjob *j);

/* One piece of work for the worker; its result is read on the loop in done(). */
struct rjob {
	enum rjob_kind kind;
	uint8_t table_id[16];
	int64_t start, end, now_s;
	unsigned depth;   /* TREE */
	struct buf after; /* STREAM: resume after this key (empty: from the start) */
	size_t max_bytes; /* STREAM */
	struct buf chunk; /* SYNC: input; STREAM: output */
	/* results */
	int rc;
	struct cerr err;
	struct merkle *tree; /* TREE */
	struct store_repair_counts counts;
	struct buf last; /* STREAM: last key in chunk */
	bool more;       /* STREAM */
	uint64_t pairs;  /* SYNC */
	/* who waits */
	rjob_done_fn done;
	void *owner;        /* the session, or the replica request */
	unsigned gen, peer; /* the session's step and peer the job serves */
	uint64_t ticket;    /* COMPACT: its number in the order compactions were queued */
	struct rjob *next;
};

struct rjob *rjob_new(enum rjob_kind kind);
/* A tree, stream or sync job for request q (its bounds, table and bytes copied), or NULL
 * when out of memory (replica.c). */
struct rjob *rjob_from_req(const struct repair_req *q);
void rjob_free(struct rjob *j);
/* Queue a job (COL_EOVERLOADED past REPAIR_MAX_JOBS, COL_ECLOSED when stopping). */
int worker_submit(struct repair *r, struct rjob *j);
int worker_start(struct repair *r, struct cerr *err);
void worker_stop(struct repair *r);

/* ---- sessions ------------------------------------------------------------------------------ */

/* One replica of a task's range. */
struct rpeer {
	struct net_addr addr;
	char name[64]; /* the ring's address, for messages */
	uint32_t ring_idx;
	bool self;
};

/* One (table, range) to repair. */
struct rtask {
	uint8_t table_id[16];
	char ks[64], table[64];
	int64_t start, end;
	bool primary; /* this node is the range's first replica */
	uint32_t n_peers;
	struct rpeer peers[RING_MAX_RF * 2];
};

struct rfail {
	char table[130];
	int64_t start, end;
	char reason[200];
};

/* A sub-range to stream between peers a and b. */
/* A sub-range (leaves first..last) that peer src streams to every peer in dst_mask. */
struct rdiff {
	uint8_t src;
	uint32_t dst_mask;
	size_t last_leaf;
	int64_t lo, hi;
};

enum rsess_state { RS_RUNNING, RS_DONE, RS_CANCELLED };

struct rsession {
	struct repair *r;
	uint64_t id;
	struct repair_options opt;
	char keyspace[64];
	enum rsess_state state;
	bool cancel;
	int64_t started_ms, finished_ms, now_s;
	/* the plan */
	struct ring *ring;
	struct rtask *tasks;
	size_t n_tasks, cur;
	/* progress */
	size_t done, failed;
	uint64_t leaves_differing, leaves_total, bytes, pairs;
	struct rfail *fails;
	size_t n_fails;
	/* the current task */
	int64_t task_started_ms;
	uint64_t task_leaves, task_bytes;
	unsigned depth;
	struct merkle *trees[RING_MAX_RF * 2];
	unsigned trees_pending;
	char task_err[200];
	struct rdiff *diffs;
	size_t n_diffs, cap_diffs, di;
	unsigned push_to; /* the next peer of the diff's dst_mask the chunk goes to */
	unsigned round;   /* trees compared again after streaming (REPAIR_ROUNDS) */
	struct buf after; /* resume key of the stream in progress */
	bool last_chunk;  /* the chunk in flight ends its sub-range's stream */
	struct buf chunk; /* the chunk in flight (pulled, being pushed) */
	unsigned gen;     /* bumps on every new step: stale answers are ignored */
	struct rslot {
		struct rsession *s;
		unsigned peer, gen;
	} slots[RING_MAX_RF * 2 + 1];
	unsigned inflight; /* requests and local jobs not yet answered: the session lives on */
	bool orphaned;     /* dropped from the kept list while inflight: freed by the last answer */
	ev_timer throttle; /* the next chunk waits for the byte budget */
	ev_timer kick;     /* the next task starts from the loop */
	int64_t throttle_from_us;
	uint64_t throttle_bytes;
	struct rsession *next; /* kept sessions, newest first */
};

struct repair_stats {
	uint64_t sessions, ranges_ok, ranges_failed, bytes_streamed, leaves_differing;
	uint64_t trees_built, tree_partitions, tree_bytes, tree_us; /* this node as a replica */
	uint64_t chunks_served, chunks_applied, requests_refused;
	struct repair_compactions compactions; /* under mu */
};

struct repair {
	struct repair_config cfg;
	char local_dc[64];
	/* worker */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rjob *queue, *queue_tail, *done_list;
	size_t queued;
	bool stopping;
	ev_async async;
	_Atomic uint64_t throttle_bytes_per_s;
	bool stopped; /* repair_stop(): verbs unregistered, scheduler stopped */
	/* sessions */
	struct rsession *running;
	struct rsession *kept; /* newest first, at most REPAIR_KEEP_SESSIONS */
	uint64_t next_id;
	/* history */
	uint64_t history_rows, history_seq;
	uint64_t forgot_generation; /* schema generation + 1 of the last forget; 0 = none yet */
	/* background */
	ev_timer sched;
	bool sched_hinted; /* the running background session started with hint ranges */
	size_t sched_hints;
	struct tick *tick; /* during planning by the scheduler */
	struct repair_table_age {
		uint8_t id[16];
		char ks[64], table[64];
		int64_t oldest_ms; /* age of the table's oldest unrepaired primary range */
		int32_t gc_grace_s;
		bool warned;
		int64_t compacted_ms; /* last full compaction after a background session */
		int64_t first_ms;     /* history_first_planned(), 0 until read */
	} ages[REPAIR_MAX_TABLE_AGES];
	size_t n_ages;
	struct repair_stats stats;
};

/* Sleep on the worker so that `bytes` more keep the rate at or under the throttle. */
void worker_throttle(struct repair *r, int64_t *from_us, uint64_t *sent, uint64_t bytes);

/* Replica side: claim the verbs. */
int replica_register(struct repair *r, struct cerr *err);
void replica_unregister(struct repair *r);

/* Repairing side. */
struct rsession *session_new(struct repair *r, const struct repair_options *o);
int session_plan(struct repair *r, struct rsession *s, struct cerr *err);
void session_begin(struct rsession *s);
void session_free(struct rsession *s);
void session_finished(struct repair *r, struct rsession *s); /* history.c: keep, record */
void session_json(const struct rsession *s, struct jw *w);

/* History (history.c). */
void history_init(struct repair *r);
void history_mark(struct repair *r, const uint8_t table_id[16], int64_t start, int64_t end,
                  int64_t began_ms);
void history_record(struct repair *r, const struct rsession *s, const struct rtask *t,
                    const char *outcome);
int64_t history_first_planned(struct repair *r, const uint8_t table_id[16], int64_t table_ms);
int64_t history_last_repaired(struct repair *r, const uint8_t table_id[16], int64_t start,
                              int64_t end);
/* Delete the "repair/r/" and "repair/f/" rows of tables no longer in the schema, once per
 * schema generation (on the loop: RocksDB scans and deletes, one seek per table). */
void history_forget_dropped(struct repair *r);
void scheduler_start(struct repair *r);
void scheduler_stop(struct repair *r);
void scheduler_hints_repaired(struct repair *r, const struct rsession *s);
void scheduler_compact(struct repair *r, const struct rsession *s);
void scheduler_metrics(struct repair *r, struct buf *b);
/* Start a session whose planned tasks `prio` keeps (> 0), higher priorities first;
 * a background session with nothing due is not started (returns 1). */
int repair_start_session(struct repair *r, const struct repair_options *o,
                         int (*prio)(struct repair *, struct rsession *, struct rtask *),
                         uint64_t *id, struct cerr *err);

int64_t repair_now_ms(void);

#endif
