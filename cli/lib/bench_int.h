/*
 * bench_int.h — the parts of `colonnade bench`, shared by bench_*.c and their
 * unit tests only (the program's face is bench.h).
 *
 *   bench_opts.c    command line -> struct bench_opts (validated, no I/O)
 *   bench_sched.c   the open-loop timetable and the operation mix
 *   bench_stats.c   histograms, error counts by kind, per-second series
 *   bench_proc.c    a local node's pid (by listening address), CPU and memory
 *   bench_report.c  progress lines, the summary, --json, --hdr-out, --plot
 *   bench_route.c   system-table cells for token-aware routing (tokenmap.c)
 *   bench_setup.c   contact points, ring and schema, prepare, probe (bench_run.h)
 *   bench.c         connections, the run loop, populate/run/report (bench_run.h)
 *
 * Time is monotonic microseconds (core/clock.h) throughout.
 */
#ifndef COLONNADE_CLI_BENCH_INT_H
#define COLONNADE_CLI_BENCH_INT_H

#include "cli/lib/hdr.h"
#include "cli/lib/keydist.h"
#include "core/err.h"
#include "core/ring.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- operations and workloads --------------------------------------------------------------- */

enum bench_op {
	BOP_READ,   /* SELECT value WHERE key = ? */
	BOP_WRITE,  /* INSERT (an upsert) of an existing-range key: write, update */
	BOP_INSERT, /* INSERT of a new key past the loaded range (YCSB D) */
	BOP_RMW,    /* read, then write the same key; one op (YCSB F) */
	BOP__N
};
const char *bench_op_name(enum bench_op op);

enum bench_workload {
	BW_WRITE,
	BW_READ,
	BW_MIXED,
	BW_YCSB_A,
	BW_YCSB_B,
	BW_YCSB_C,
	BW_YCSB_D,
	BW_YCSB_F,
	BW__N
};
const char *bench_workload_name(enum bench_workload w);

/* Weights of each op in the mix (any scale; all zero is invalid). */
struct bench_mix {
	unsigned w[BOP__N];
};

/* Key choice: the YCSB distributions, or sequential (op i -> key i mod records). */
enum bench_dist { BD_UNIFORM, BD_ZIPFIAN, BD_LATEST, BD_SEQUENTIAL };
const char *bench_dist_name(enum bench_dist d);

/* ---- options ------------------------------------------------------------------------------ */

#define BENCH_MAX_NODES       64
#define BENCH_MAX_PIDS        16
#define BENCH_MAX_INFLIGHT    16384 /* per connection; the protocol has 32768 stream ids */
#define BENCH_MAX_STREAMS     30000 /* an open loop's per connection (the rest: orphans) */
#define BENCH_MAX_CONNECTIONS 1024  /* per node */
#define BENCH_MAX_VALUE       (16 * 1024 * 1024)
#define BENCH_NAME_MAX        48 /* keyspace and table names (Cassandra allows 48) */
/* Requests in flight over all connections: each holds a ~100-byte slot, and
 * beyond this a 2-core client measures its own queueing, not the server. */
#define BENCH_MAX_SLOTS 262144

struct bench_opts {
	enum bench_workload workload;
	struct bench_mix mix;
	enum bench_dist dist;
	double zipf_theta;

	char *nodes[BENCH_MAX_NODES]; /* "host" or "host:port", malloc'ed */
	int n_nodes;
	uint16_t port;         /* default native port for hosts without one */
	int connections;       /* per node */
	int total_connections; /* > 0: spread this many over the nodes instead */
	int inflight;          /* per connection */
	bool token_aware;
	bool discover; /* also connect to the peers the contact points list */

	uint64_t records;  /* key space [0, records) */
	uint64_t populate; /* keys [0, populate) written before the run; 0 = none */
	int value_size;
	int64_t duration_us; /* 0 with ops > 0 */
	uint64_t ops;        /* 0 = run for duration_us */
	uint64_t rate;       /* target ops/s; 0 = closed loop */
	int64_t timeout_us;  /* client-side request timeout */
	uint16_t cl_read, cl_write;

	char keyspace[BENCH_NAME_MAX + 1];
	char table[BENCH_NAME_MAX + 1];
	char *replication; /* CQL map literal, malloc'ed */
	bool create_schema;
	bool drop_first;

	uint64_t seed;
	bool json;
	bool quiet;
	char *hdr_out;
	char *plot;
	pid_t pids[BENCH_MAX_PIDS];
	int n_pids;
	uint16_t admin_port;    /* /metrics of nodes without a local pid; 0 = not asked */
	bool node_cpu_metrics;  /* --node-cpu metrics: every node through /metrics */
	bool throw_on_overload; /* STARTUP THROW_ON_OVERLOAD: Overloaded, not backpressure */
};

/* Defaults (see docs/BENCH.md). */
void bench_opts_init(struct bench_opts *o);
void bench_opts_release(struct bench_opts *o);
/*
 * Parse argv (argv[0] = "bench").  0, or COL_EINVAL with a message naming the
 * option and what is wrong ("--connections: '0' is not an integer in
 * 1..1024").  *help is set for --help (then 0 is returned and nothing else is
 * checked).
 */
int bench_opts_parse(struct bench_opts *o, int argc, char **argv, bool *help, struct cerr *err);
void bench_usage(FILE *f);

/* "60s", "500ms", "2m", "1h", "1.5s", or a plain number of seconds -> µs. */
int bench_parse_duration(const char *s, int64_t *us);
/* "1000", "10k", "2M", "1G" (powers of 1000) -> count. */
int bench_parse_count(const char *s, uint64_t *out);
/* "read=3,write=1" (names: read, write, update(=write), insert, rmw). */
int bench_parse_ratio(const char *s, struct bench_mix *mix, struct cerr *err);

/* ---- timetable and mix -------------------------------------------------------------------- */

/*
 * The open-loop timetable: op i is due at start + floor(i * 10^6 / rate) µs.
 * Integer arithmetic, so the schedule never drifts however long the run.
 */
struct bench_sched {
	int64_t start_us;
	uint64_t rate; /* ops/s, > 0 */
};
int64_t bench_sched_due(const struct bench_sched *s, uint64_t i);
/* How many ops are due at `now` (those with due <= now); 0 before start. */
uint64_t bench_sched_due_count(const struct bench_sched *s, int64_t now);

/* Pick an op from the mix with a uniform u in [0, 1). */
enum bench_op bench_mix_pick(const struct bench_mix *m, double u);

/* Replicas a level needs out of rf (core/ring.h's cl_block_for); -1 if rf is unknown. */
int bench_cl_required(uint16_t cl, int rf);

/* ---- statistics ---------------------------------------------------------------------------- */

enum bench_err {
	BERR_UNAVAILABLE,
	BERR_WRITE_TIMEOUT,
	BERR_READ_TIMEOUT,
	BERR_OVERLOADED,
	BERR_OTHER_SERVER,   /* every other ERROR code; see by_code */
	BERR_CONNECTION,     /* the connection failed or could not take the request */
	BERR_CLIENT_TIMEOUT, /* no answer within --timeout */
	BERR__N
};
const char *bench_err_name(enum bench_err e);
/* The kind of a server ERROR code (CQL_ERR_*). */
enum bench_err bench_err_of_code(uint32_t code);

#define BENCH_HDR_HIGHEST 3600000000LL /* 1 hour in µs */
#define BENCH_HDR_DIGITS  2            /* < 1 % error */
#define BENCH_MAX_SERIES  86400        /* one point a second for a day */
#define BENCH_MAX_CODES   16

/* One second of the run (for the progress line and --plot). */
struct bench_point {
	double t_s;
	double ops_per_s;
	uint64_t n; /* latencies recorded in the second (0: percentiles are meaningless) */
	uint64_t errors;
	int64_t p50, p90, p99, p999, max; /* µs */
};

struct bench_stats {
	struct hdr *all;    /* every op, latency from its intended start */
	struct hdr *ok_lat; /* the ops that succeeded (what an overloaded server accepted) */
	struct hdr *per_op[BOP__N];
	struct hdr *service;    /* open loop: from send to answer */
	struct hdr *send_delay; /* open loop: from intended start to send (the client's lag) */
	struct hdr *wake_lag;   /* open loop: the schedule timer's firing after its due time */
	struct hdr *queue_lag;  /* open loop: from intended start to encoded on a connection */
	struct hdr *interval;   /* since the last progress line */
	uint64_t ops[BOP__N];   /* completed (ok or failed) */
	uint64_t ok;
	uint64_t errors[BERR__N];
	struct {
		uint32_t code;
		uint64_t n;
	} by_code[BENCH_MAX_CODES]; /* BERR_OTHER_SERVER by protocol code */
	int n_codes;
	uint64_t read_misses; /* reads that found no row */
	uint64_t backlog;     /* open loop: due but never sent when the run ended */
	uint64_t interval_ops, interval_errors;
	struct bench_point *series;
	int n_series, cap_series;
	struct bench_point scratch; /* the last point when the series is full */
};
int bench_stats_init(struct bench_stats *s);
void bench_stats_release(struct bench_stats *s);
void bench_stats_reset(struct bench_stats *s);
/* One finished op: latency from intended start, service time (< 0: none). */
void bench_stats_record(struct bench_stats *s, enum bench_op op, int64_t latency_us,
                        int64_t service_us);
/* The op failed: count it by kind (its latency is recorded separately). */
void bench_stats_error(struct bench_stats *s, enum bench_err kind, uint32_t code);
uint64_t bench_stats_total_errors(const struct bench_stats *s);
uint64_t bench_stats_total_ops(const struct bench_stats *s);
/* Close the current interval as a point at t_s seconds; returns it. */
const struct bench_point *bench_stats_tick(struct bench_stats *s, double t_s, double interval_s);

/* ---- local node processes ------------------------------------------------------------------ */

/*
 * The pid of the process with a TCP socket listening on ip:port (IPv4 or
 * IPv6, wildcard addresses match any ip), found through /proc/net/tcp{,6}
 * and /proc/<pid>/fd.  0, or COL_ENOTFOUND.
 */
int bench_proc_find_listener(const char *ip, uint16_t port, pid_t *out);

struct bench_procstat {
	pid_t pid;
	bool alive;
	double cpu_s; /* utime + stime, seconds since the process started */
	long rss_kb;  /* VmRSS now */
	long hwm_kb;  /* VmHWM: peak RSS since the process started */
};
/* Read /proc/<pid>/stat and status.  0 or COL_ENOTFOUND (process gone). */
int bench_proc_sample(pid_t pid, struct bench_procstat *out);

/*
 * The value of an unlabelled series `name` in a Prometheus text exposition.
 * 0, or COL_ENOTFOUND (absent or not a number).
 */
int bench_parse_metric(const char *text, const char *name, double *out);

/* What the report shows per node process over the run. */
struct bench_nodeproc {
	char label[300]; /* "127.0.0.1:9042" or "pid 123" */
	pid_t pid;       /* 0: not found on this machine */
	/* No local pid: the node's /metrics (process_cpu_seconds_total) at
	 * host:admin_port, read before and after the run. */
	char host[256];
	uint16_t admin_port; /* 0: not asked */
	bool via_metrics;    /* cpu_* come from /metrics (no RSS sampling) */
	double cpu_start_s, cpu_end_s;
	long rss_peak_kb; /* largest VmRSS sampled during the run */
	long hwm_kb;      /* VmHWM at the end (includes time before the run) */
	bool gone;        /* exited during the run */
};
/* Whether the report has CPU figures for n. */
static inline bool bench_nodeproc_measured(const struct bench_nodeproc *n)
{
	return n->pid || n->via_metrics;
}
void bench_nodeproc_start(struct bench_nodeproc *n);
void bench_nodeproc_sample(struct bench_nodeproc *n);
void bench_nodeproc_end(struct bench_nodeproc *n);

/* ---- routing ------------------------------------------------------------------------------ */

/*
 * Token-aware routing (what the drivers' TokenAwarePolicy does): each request
 * goes to a replica of its key, so the coordinator is also a replica and one
 * network hop is saved.  The nodes, the ring and the replicas come from
 * cli/lib/tokenmap.h (placement by core/ring.h's ring_replicas(), the function
 * the nodes themselves place data with, so SimpleStrategy and
 * NetworkTopologyStrategy keyspaces route exactly as the cluster stores
 * them); these parse the system-table cells it reads.
 */
struct cqlresult;

/*
 * One row of system.local or system.peers as a ring endpoint: host_id,
 * data_center, rack and tokens (ep->tokens malloc'ed, the caller frees it;
 * ep->address is left to the caller).  A missing or null data_center or rack
 * reads "unknown" (such a node holds no NetworkTopologyStrategy replica).
 * COL_ECORRUPT / COL_EPROTO with a message on bad input.
 */
int bench_ring_endpoint(const struct cqlresult *r, uint32_t row, struct ring_endpoint *ep,
                        struct cerr *err);
/*
 * Parse a [set<text>] or [list<text>] cell of decimal tokens (system.local
 * tokens) into a malloc'ed array.  COL_ECORRUPT with a message on bad input.
 */
int bench_parse_token_set(const uint8_t *p, int32_t len, int64_t **out, size_t *n,
                          struct cerr *err);
/*
 * A system_schema.keyspaces replication map cell (map<text,text>) through
 * core/ring.h's replication_parse().  COL_ECORRUPT on a malformed cell, the
 * parser's code and message on a map it refuses.
 */
int bench_parse_replication(const uint8_t *p, int32_t len, struct replication *out,
                            struct cerr *err);

/* ---- reports ------------------------------------------------------------------------------ */

/* Everything the report needs besides the stats. */
struct bench_runinfo {
	const struct bench_opts *o;
	char nodes_desc[512]; /* "127.0.0.1:9042, 127.0.0.2:9042" */
	int n_nodes, n_conns;
	unsigned max_conn_inflight; /* most requests in flight on one connection */
	int rf;                     /* -1 unknown */
	bool routed;                /* token-aware routing in use */
	double elapsed_s;
	double client_cpu_s; /* this process */
	struct bench_nodeproc procs[BENCH_MAX_NODES];
	int n_procs;
	uint64_t populated;
	double populate_s;
	uint64_t populate_errors;
};

/* behind: open loop, ops due but not sent yet (< 0: closed loop, not shown). */
void bench_report_progress(FILE *f, const struct bench_point *p, uint64_t inflight, int64_t behind);
void bench_report_summary(FILE *f, const struct bench_runinfo *ri, const struct bench_stats *s);
void bench_report_json(FILE *f, const struct bench_runinfo *ri, const struct bench_stats *s);
/* Write the .hgrm of every op (values in ms).  0 or COL_EIO with err. */
int bench_report_hgrm(const char *path, const struct bench_stats *s, struct cerr *err);
/* Draw latency over time and the percentile curve with gnuplot. */
int bench_report_plot(const char *png, const struct bench_runinfo *ri, const struct bench_stats *s,
                      struct cerr *err);

#endif
