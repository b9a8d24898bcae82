/*
 * bench_run.h — the state of one `colonnade bench` run, shared by bench.c
 * (connections, the run loop; populate, run and report) and bench_setup.c
 * (contact points, ring and schema, data connections, prepared statements,
 * probes).  Only those two files include it.
 *
 * Everything runs on the one libev loop in struct bench; setup blocks on it
 * with bench_wait_for() while the connections' callbacks run.
 */
#ifndef COLONNADE_CLI_BENCH_RUN_H
#define COLONNADE_CLI_BENCH_RUN_H

#include "cli/lib/bench_int.h"
#include "cli/lib/cqlclient.h"
#include "cli/lib/tokenmap.h"
#include "core/buf.h"

#include <ev.h>
#include <stdio.h>

struct bench;
struct bnode;

struct bconn {
	struct bench *b;
	struct bnode *node;
	struct cqlconn *cc;
	unsigned inflight; /* our requests on it (not counting orphaned timeouts) */
	bool ready;
	bool connecting;
	bool failed;   /* reconnect on the next tick */
	bool blocked;  /* the connection refused a request (COL_EFULL) until an answer */
	bool dirty;    /* requests queued since the last flush */
	char why[160]; /* why it last failed to connect ("" = it never did) */
};

struct bnode {
	char host[256];
	uint16_t port;
	char label[300];
	struct bconn *conns;
	int n_conns;
	int rr;
};

struct breq {
	struct bench *b;
	struct bconn *conn;
	enum bench_op op;
	uint8_t phase; /* RMW: 0 = the read, 1 = the write */
	uint64_t key;
	int64_t intended_us;
	int64_t written_us; /* its last byte went to the kernel; 0 = not yet */
	uint8_t keybytes[8];
	struct cql_slice vals[2];
	struct breq *next_free;
};

enum bphase { PH_SETUP, PH_POPULATE, PH_RUN };

struct bench {
	struct bench_opts *o;
	struct ev_loop *loop;
	struct bnode nodes[BENCH_MAX_NODES];
	int n_nodes;
	int node_rr;
	struct tokenmap tm;              /* the nodes, ring and replicas (tokenmap.h) */
	int tm_node[TOKENMAP_MAX_NODES]; /* tm node index -> b->nodes index */
	bool routed;                     /* token-aware routing in use */
	bool have_ring;                  /* the ring is known (even with --no-token-aware) */
	int rf;                          /* total replicas of a key (all datacenters), -1 unknown */
	struct cqlprepared *ins, *sel;
	uint8_t *value;
	struct breq_chunk *chunks; /* the request pool, grown on demand */
	struct breq *free_reqs;
	size_t n_reqs; /* allocated, at most BENCH_MAX_SLOTS */
	/* Requests in flight per connection: a closed loop keeps --inflight; an open
	 * loop prefers connections below it but goes up to stream_cap rather than
	 * delay a due request (the protocol has 32768 stream ids). */
	unsigned cap_per_conn, stream_cap;
	struct bconn **dirty; /* connections to flush before the loop blocks */
	int n_dirty, cap_dirty;
	int conns_pending; /* connects in progress during setup */
	uint64_t inflight;
	struct bench_stats stats;
	struct keyrng rng;
	struct keydist *dist;
	struct keyseq *seq;

	enum bphase phase;
	bool open_loop;
	struct bench_sched sched;
	int64_t start_us, end_us, last_done_us, last_tick_us;
	int64_t stop_us;           /* when scheduling stopped (end, --ops reached, ^C) */
	int64_t unreachable_since; /* since when no node has had a usable connection; 0: one has */
	uint64_t max_ops, issued, sent;
	bool stop_issuing, done;
	bool have_pending;
	enum bench_op p_op;
	uint64_t p_key;
	int64_t p_intended;
	bool fatal;
	bool interrupted;
	char fatal_msg[CERR_MSG_MAX];
	char first_error[BERR__N][160];

	/* The open-loop timetable wakes on a timerfd (an absolute CLOCK_MONOTONIC
	 * deadline to the nanosecond; libev's own timers round waits up to 1 ms);
	 * sched_timer when no timerfd can be had. */
	int sched_fd;
	int64_t sched_armed_us; /* the due time the schedule timer is armed for; 0: none */
	ev_io sched_io;
	ev_prepare flush_w;
	ev_timer sched_timer, tick_timer, end_timer, wait_timer;
	ev_signal sigint;
	struct bench_runinfo ri;
	FILE *progress;
};

/* The control connection and its address. */
struct bench_ctl {
	struct cqlclient *cl;
	char host[256];
	uint16_t port;
	int n_contacts; /* contact points added as nodes (their indexes are stable) */
};

static inline void key_bytes(uint64_t key, uint8_t out[8])
{
	be64_store(out, key);
}

static inline const char *res_error_text(const struct cqlresult *r)
{
	return r->error.message ? r->error.message : "(no message)";
}

static inline bool workload_reads(const struct bench_opts *o)
{
	return o->mix.w[BOP_READ] || o->mix.w[BOP_RMW];
}

static inline bool workload_writes(const struct bench_opts *o)
{
	return o->mix.w[BOP_WRITE] || o->mix.w[BOP_INSERT] || o->mix.w[BOP_RMW] || o->populate;
}

/* ---- bench.c: connections and the run loop ---- */

/* Runs the loop until *flag or the deadline. */
void bench_wait_for(struct bench *b, const bool *flag, int64_t timeout_us);
/* Starts connecting c (answered through the loop); 0 or the reason in err. */
int bench_conn_open(struct bench *b, struct bconn *c, struct cerr *err);
/* The connection a key's request goes to (a replica of its token with a free
 * slot, primary first; else any node's), or NULL when none is ready. */
struct bconn *bench_route(struct bench *b, const uint8_t keybytes[8]);
/* Returns r to the request pool. */
void bench_free_req(struct bench *b, struct breq *r);
/* Adds n requests to the pool (never past BENCH_MAX_SLOTS); 0 or COL_ENOMEM/COL_EFULL. */
int bench_grow_reqs(struct bench *b, size_t n);

/* ---- bench_setup.c: each returns 0 or the exit status, having said why ---- */

/* Adds every contact point as a node, then opens the control connection to
 * the first that answers. */
int bench_connect_contacts(struct bench *b, struct bench_ctl *ctl);
/* Ring, schema, replication and the consistency levels' feasibility. */
int bench_setup_ring_and_schema(struct bench *b, const struct bench_ctl *ctl);
/* Starts the data connections to the first connect_nodes nodes, counted in *total. */
int bench_open_data_conns(struct bench *b, int connect_nodes, int *total);
/* Waits (15 s at most) for them to settle; fails when none is ready. */
int bench_await_data_conns(struct bench *b, int connect_nodes, int total);
/* Prepares the INSERT and the SELECT on every node. */
int bench_prepare_statements(struct bench *b);
/* Request pool, value bytes, key generators. */
int bench_setup_requests(struct bench *b, int total);
/* One op at the requested level before the run: a level the cluster cannot
 * meet is a usage error (2), not a run full of Unavailable. */
int bench_probe(struct bench *b, bool is_read);
/* The node processes whose CPU the report shows: --pid, else the listeners
 * of the connected nodes found on this machine. */
void bench_find_node_procs(struct bench *b, int connect_nodes);

#endif
