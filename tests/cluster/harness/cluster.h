/*
 * cluster.h — the cluster test harness: real `colonnade` processes on
 * loopback addresses, real faults.
 *
 * A struct cluster starts N nodes from the binary in env COLONNADE_BIN, node k
 * (1-based) on address <net>.k where <net> is env COLONNADE_TEST_NET (default
 * "127.0.0"), all on the same ports (7000 internode, 9042 CQL, 7199 admin),
 * like N hosts.  Each node gets a directory under a fresh temp root with its
 * colonnade.yaml, data directory and log (node.log).  Gossip is fast (50 ms
 * rounds by default), so convergence and failure detection take about a
 * second.
 *
 * Faults: SIGKILL, SIGTERM, SIGSTOP/SIGCONT, restart (same or another
 * address, same data directory), and network partitions between addresses
 * with nftables: rules in a table of our own, `inet colonnade_test_<net>`
 * (e.g. colonnade_test_127_0_4, so engineers testing side by side on other
 * nets never touch each other's rules), dropping packets between the two
 * sides in the output hook.  The harness talks to nodes from <net>.250, an
 * address that is no node's, so a partition never cuts the harness off.
 *
 * Cleanup always happens: cluster_free() kills every node and deletes the
 * nftables table; an atexit handler and handlers for SIGINT/SIGTERM/SIGABRT/
 * SIGSEGV do the same if a test dies; nodes get PR_SET_PDEATHSIG so they die
 * with the test process.  On failure (a wait that timed out, or
 * cluster_mark_failed()) cluster_free() prints the tail of every node's log
 * and keeps the temp root (its path is printed); otherwise the root is
 * removed.  COLONNADE_KEEP=1 keeps it always.
 *
 * All functions assert nothing themselves: they return 0 or -1 (with a line
 * on stderr saying what failed) so tests decide what to assert.
 */
#ifndef COLONNADE_TESTS_CLUSTER_HARNESS_H
#define COLONNADE_TESTS_CLUSTER_HARNESS_H

#include "core/json.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CLUSTER_MAX_NODES 32

struct cluster_opts {
	int n;                              /* nodes to create (1..CLUSTER_MAX_NODES) */
	int n_seeds;                        /* the first n_seeds nodes are the seeds [min(n, 2)] */
	int gossip_interval_ms;             /* [50] */
	double phi;                         /* phi_convict_threshold [8] */
	int num_tokens;                     /* [16] */
	const char *dcs[CLUSTER_MAX_NODES]; /* dc of node k at dcs[k-1]; NULL = "dc1" */
	const char *racks[CLUSTER_MAX_NODES];
	const char *cluster_name; /* ["colonnade-test"] */
	const char *extra_yaml;   /* appended to every node's config */
	int first_host;           /* node k listens on <net>.(first_host + k - 1) [1] */
	const char *seeds;        /* seed list; NULL = the first n_seeds nodes */
	bool no_start;            /* create and configure, start nothing */
};

struct cluster_node {
	int idx; /* 1-based */
	char addr[48];
	char dir[320];
	char log[400];
	char yaml[400];
	char dc[32], rack[32];
	pid_t pid; /* 0 when not running */
	bool paused;
	int64_t started_mono_ms;
};

struct cluster {
	struct cluster_opts o;
	char net[32];
	char client_addr[48];
	char bin[512];
	char root[256];
	char nft_table[64];
	bool nft_active;
	bool failed;
	int n;
	struct cluster_node nodes[CLUSTER_MAX_NODES + 1]; /* [1..n] */
};

/* Create the cluster (and start every node unless o->no_start). */
int cluster_new(const struct cluster_opts *o, struct cluster **out);
/* Kill every node, delete the nftables table, report, remove the root. */
void cluster_free(struct cluster *c);
/* Remember that the test failed: cluster_free() then prints the logs. */
void cluster_mark_failed(struct cluster *c);
/* Print the last `lines` lines of node k's log (k = 0: every node). */
void cluster_dump_logs(struct cluster *c, int k, int lines);

/* Start node k (its config as written; after a move, at its new address). */
int cluster_start_node(struct cluster *c, int k);
/* SIGKILL node k and reap it. */
int cluster_kill(struct cluster *c, int k);
/* SIGTERM node k and wait up to timeout_ms for a clean exit; its exit status in *status. */
int cluster_stop(struct cluster *c, int k, int timeout_ms, int *status);
int cluster_pause(struct cluster *c, int k);  /* SIGSTOP */
int cluster_resume(struct cluster *c, int k); /* SIGCONT */
/* Rewrite node k's config to listen on `addr` (same data directory). Node must be down. */
int cluster_move(struct cluster *c, int k, const char *addr);

/* Drop all traffic between every node of side a and every node of side b. */
int cluster_partition(struct cluster *c, const int *a, int na, const int *b, int nb);
/* Remove every rule (and the table). */
int cluster_heal(struct cluster *c);

/* GET path from node k's admin port, parsed.  NULL on failure (message on stderr). */
struct json *cluster_admin(struct cluster *c, int k, const char *path);

/*
 * Node k's status code for the node at `addr` as `colonnade status` prints it
 * ("UN", "DN", "UJ", ...), into code[3]; "??" if k does not list it.
 * 0, or -1 if k's admin endpoint did not answer.
 */
int cluster_status_code(struct cluster *c, int k, const char *addr, char code[3]);

/*
 * Wait until every running, unpaused observer in `observers` (NULL = all
 * such nodes) lists every node in `targets` (NULL = every node) with status
 * `want` ("UN"/"DN"), and lists exactly the expected number of nodes.
 * Returns the milliseconds it took, or -1 after timeout_ms (logs dumped,
 * cluster marked failed).
 */
int64_t cluster_wait_status(struct cluster *c, const int *observers, int n_obs, const int *targets,
                            int n_targets, const char *want, int timeout_ms);
/* Wait until every running node sees every node UN. */
int64_t cluster_wait_all_up(struct cluster *c, int timeout_ms);
/* Wait until node k answers on its admin port. */
int64_t cluster_wait_admin(struct cluster *c, int k, int timeout_ms);

/* Node k's /v1/info: host id, generation (0 on failure). */
int cluster_info(struct cluster *c, int k, char host_id[37], int64_t *generation, char tokens[][24],
                 int *n_tokens, int max_tokens);

/* Send raw bytes to node k's storage port (bad-input tests); 0 or -1. */
int cluster_send_raw(struct cluster *c, int k, const void *bytes, size_t len, int linger_ms);
/* Count lines of node k's log that contain `needle`. */
int cluster_log_count(struct cluster *c, int k, const char *needle);
/* Wait until node k's log has at least `count` lines with `needle`; the count reached. */
int cluster_wait_log(struct cluster *c, int k, const char *needle, int count, int timeout_ms);

/*
 * Run the colonnade binary with `args` (NULL-terminated, without argv[0]) and
 * extra environment `env` (NULL-terminated "K=V", may be NULL) in the cluster
 * root; its stdout and stderr (at most cap-1 bytes) into out.  Exit status
 * in *status; -1 if it did not exit within timeout_ms (it is killed then).
 */
int cluster_run(struct cluster *c, const char *const *args, const char *const *env, char *out,
                size_t cap, int timeout_ms, int *status);

/* Send `sig` to node k (SIGINT, SIGHUP, ...). */
int cluster_signal(struct cluster *c, int k, int sig);
/* Wait up to timeout_ms for node k to exit; its wait status in *status. */
int cluster_wait_exit(struct cluster *c, int k, int timeout_ms, int *status);

int64_t cluster_now_ms(void);

/*
 * Time spent runnable but waiting for a CPU (the scheduler's run delay,
 * /proc/.../schedstat), in µs, -1 when unknown: of node k's main thread (its
 * main event loop), or of the calling thread.  A wall-clock bound on the
 * product measured on a shared machine takes these out: they are the machine's.
 */
int64_t cluster_node_cpu_wait_us(struct cluster *c, int k);
int64_t cluster_self_cpu_wait_us(void);

#endif
