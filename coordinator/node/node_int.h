/*
 * node_int.h — struct node's insides, shared by node.c (life cycle, wiring),
 * node_admin.c (the admin endpoints) and node_metrics.c (/metrics).  Nothing
 * outside node/ includes it.
 */
#ifndef COLONNADE_COORDINATOR_NODE_INT_H
#define COLONNADE_COORDINATOR_NODE_INT_H

#include "coordinator/admin/admin.h"
#include "coordinator/auth/auth.h"
#include "coordinator/auth/roles.h"
#include "coordinator/query/prepared.h"
#include "coordinator/auth/roles_file.h"
#include "coordinator/node/identity.h"
#include "coordinator/node/node.h"
#include "coordinator/schema/schema.h"
#include "coordinator/query/systables.h"

#include "core/admit.h"
#include "core/mailbox.h"
#include "core/net.h"

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct net_loop;
struct store;
struct schema;
struct cqlserver;
struct messaging;
struct gossiper;
struct router;
struct ring;
struct storage_proxy;
struct verbs;
struct schema_sync;
struct hints;
struct repair;
struct gossip_endpoint;

#define NODE_ADDR_MAX 64
/* Request loops besides the main loop (io_threads - 1 at most). */
#define NODE_MAX_LOOPS 63
/* UP held back after REMOVED_NODE for the same address (node_events.c) */
#define NODE_EVENT_HOLD_MAX 16
#define NODE_EVENT_HOLD_MS  1000

struct node_loop;
struct prepared_cache;
struct cqlserver_stats;

/* A peer remembered in the system table (node_peers.c). */
struct node_peer {
	uint8_t host_id[16];
	char address[NODE_ADDR_MAX], rpc_address[NODE_ADDR_MAX];
	char dc[64], rack[64];
	char schema_version[40];
	int64_t *tokens;
	size_t n_tokens;
	bool unsaved; /* its row could not be written (a write stall): retried at the next save */
};

/* The node's TLS contexts (node_tls.c); NULL where that side has no TLS. */
struct node_tls {
	struct tls_ctx *cql;              /* client_encryption_options */
	struct tls_ctx *internode_server; /* server_encryption_options, accepting */
	struct tls_ctx *internode_client; /* server_encryption_options, connecting */
};

/* server_encryption_options.internode_encryption */
enum node_internode_enc { NODE_ENC_NONE, NODE_ENC_DC, NODE_ENC_RACK, NODE_ENC_ALL };

struct node {
	struct config cfg;               /* shallow copy; strings borrowed from node_new's caller */
	char listen_host[NODE_ADDR_MAX]; /* listen_address, resolved to a numeric address */
	char admin_host[NODE_ADDR_MAX];  /* admin_address, resolved */
	char rpc_host[NODE_ADDR_MAX];    /* rpc_address, resolved */
	char broadcast_host[NODE_ADDR_MAX];     /* broadcast_address, resolved: what peers use */
	char broadcast_rpc_host[NODE_ADDR_MAX]; /* broadcast_rpc_address, resolved: for clients */
	struct ev_loop *loop;
	struct net_loop *net;
	struct store *store;
	struct store_lane *lane; /* the loop's group-commit lane (storage.h) */
	struct schema *schema;
	struct identity id;
	struct messaging *msg;
	struct gossiper *gossiper;
	struct cqlserver *cql;
	struct router *router;
	struct storage_proxy *sp; /* replicated reads/writes (coordinator side) */
	struct verbs *verbs;      /* MUTATION / READ handlers (replica side) */
	/* the main loop's mutation bytes in flight (sp, verbs, cql; core/admit.h) */
	struct admit_bytes mut_bytes;
	struct schema_sync *sync;  /* schema push/pull/agreement (schema_sync.h) */
	struct hints *hints;       /* hinted handoff (coordinator/hints/hints.h) */
	struct batchlog *batchlog; /* LOGGED batches (coordinator/batchlog/batchlog.h) */
	struct repair *repair;     /* anti-entropy repair (coordinator/repair/repair.h) */
	struct admin *admin;
	struct node_tls tls;
	struct auth *auth;             /* PasswordAuthenticator; NULL = AllowAllAuthenticator */
	struct roles_file *roles_file; /* the per-node roles file of earlier versions, to copy */
	struct roles *roles;           /* roles and permissions in system_auth */
	struct prepared_cache *roles_prepared; /* its executor's (it prepares nothing) */
	struct node_traces *traces;            /* the trace writer (node_traces.c) */
	ev_timer roles_timer;                  /* its setup; the system_auth RF warning */
	char auth_dir[1024];
	char auth_rf_warned[512];                          /* the warning last logged ("" = none) */
	uint8_t tokens_value[5 + 8 * IDENTITY_MAX_TOKENS]; /* our TOKENS app state */
	size_t tokens_value_len;
	struct cluster_view view;  /* system.local / system.peers for the CQL server */
	struct ring *ring;         /* current ring snapshot (core/ring.h), rebuilt from gossip */
	pthread_mutex_t ring_lock; /* the swaps of `ring` and `live`, and their readers on loops */
	uint64_t ring_rebuilds;    /* snapshots built (for /metrics) */
	struct {
		struct node_peer *v;
		size_t n, cap;
	} peers; /* the system peers table, in memory (node_peers.c) */

	/* Start-up: CQL opens once the ring is known and gossip has settled. */
	ev_timer settle_timer;
	unsigned settle_polls, settle_stable;
	uint64_t settle_last; /* endpoint and live counts at the previous poll */
	int64_t settle_logged_ms;
	bool joining;   /* not yet announced NORMAL (first boot, until gossip settled) */
	bool serving;   /* the CQL server is open */
	bool self_seed; /* one of the seeds is this node */
	int exit_code;  /* node_main's status when the loop stopped on a start-up failure */

	ev_signal sigterm, sigint;
	ev_signal sighup; /* reload certificates (node_tls.c) */
	ev_timer load_timer;
	ev_timer bg_timer;   /* storage_adaptive_background_priority */
	ev_timer ring_timer; /* deferred ring rebuild (node_ring_dirty) */
	int64_t load_bytes;  /* size of the data directory, refreshed by load_timer */
	int64_t disk_sst_bytes, disk_sst_files; /* RocksDB SST files, same refresh */
	int64_t disk_wal_bytes, disk_wal_files; /* RocksDB write-ahead logs */
	int64_t start_mono_ms;
	int64_t start_wall_s;
	/* Request loops (node_loops.c): jobs for the main loop from them, and the loops. */
	struct mailbox main_mb;
	bool main_mb_open, main_mb_closed;
	struct node_loop *loops[NODE_MAX_LOOPS];
	unsigned n_loops, next_loop;
	/* Liveness and addresses for the loops' storage proxies (node_live.c): swapped under
	 * ring_lock, live_gen bumped after each swap. */
	struct node_live *live;
	atomic_uint live_gen;
	bool live_on;
	ev_timer live_timer;
	struct prepared_cache *prepared; /* shared by every loop's CQL server */

	/* Client events (node_events.c): addresses lately announced REMOVED_NODE, and the
	 * UP events held back until drivers have dropped the host they had there. */
	struct {
		uint8_t addr[16];
		uint8_t len;
		int64_t at_ms;
	} removed[NODE_EVENT_HOLD_MAX];
	unsigned removed_next;
	struct {
		uint8_t host[16]; /* host id */
		int64_t due_ms;
	} held_up[NODE_EVENT_HOLD_MAX];
	unsigned n_held_up;
	ev_timer hold_timer;

	bool started; /* node_run() reached the loop */
	bool stopping;
	int stop_signal;
};

/* One endpoint as the admin endpoints and the CQL server's view describe it. */
struct node_endpoint {
	bool local;
	bool from_table; /* known only from the system peers table, not (yet) from gossip */
	bool displaced;  /* its last address is another node's now (gossip_endpoint_is_displaced) */
	char address[NODE_ADDR_MAX];     /* broadcast (internode) address */
	char rpc_address[NODE_ADDR_MAX]; /* where clients connect */
	uint8_t host_id[16];
	bool has_host_id;
	char dc[64], rack[64];
	bool up;
	const char *state;     /* "NORMAL", "JOINING", "LEAVING", "MOVING", "SHUTDOWN", ... */
	int64_t load;          /* bytes; -1 unknown */
	const int64_t *tokens; /* valid during the callback */
	size_t n_tokens;
	int64_t generation, heartbeat;
	char schema_version[40]; /* "" unknown */
	char release_version[32];
};

typedef void (*node_endpoint_fn)(void *ctx, const struct node_endpoint *ep);
/* This node first, then every endpoint gossip knows, on the loop thread. */
void node_each_endpoint(struct node *n, node_endpoint_fn fn, void *ctx);

/*
 * The ring: this node and every peer whose gossiped STATUS is NORMAL or
 * LEAVING (Cassandra's token metadata: joining nodes are pending, LEFT ones
 * gone), down or not, with their tokens, dc and rack.  Rebuilt on the loop
 * when gossip reports a join, restart, removal or a change of TOKENS,
 * STATUS, DC or RACK; requests hold a reference to the snapshot they started
 * with (ring_ref/ring_unref), so a swap never disturbs them.
 * node_ring_ref() returns a new reference (NULL before the first build), from
 * any thread (the request loops' routers take it).
 */
struct ring *node_ring_ref(struct node *n);
/*
 * A storage proxy's config from the node's (node_loops.c): store, dc, request timeouts
 * and storage port as the node is configured, over msg and lane (the main loop's or a
 * request loop's); the caller sets the liveness, address and hint callbacks.
 */
struct messaging;
struct store_lane;
struct storage_proxy_config;
void node_proxy_config(const struct node *n, struct messaging *msg, struct store_lane *lane,
                       struct storage_proxy_config *sc);
/* A loop's byte budget for the mutations it holds in flight (max_coordinated_mutation_bytes). */
void node_mut_bytes_init(const struct node *n, struct admit_bytes *b);
/*
 * A CQL server's limits from the node's config (native_transport_*: frame size,
 * connections, requests, latency target, queue wait, throw_on_overload) and its
 * deps (the node's schema, store, cluster view and shared prepared cache, with
 * `router`: the main loop's or a request loop's), for the main loop's server and
 * the request loops' (node_loops.c).  The caller sets the rest.
 */
struct cqlserver_options;
struct cqlserver_deps;
struct router;
void node_cql_options(const struct node *n, struct cqlserver_options *o);
void node_cql_deps(struct node *n, struct router *router, struct cqlserver_deps *d);
/* For struct storage_proxy_config: is ring node idx up; its internode address. */
bool node_ring_alive(void *node, const struct ring *r, size_t idx);
int node_ring_addr(void *node, const struct ring *r, size_t idx, struct net_addr *out);

/* /metrics (node_metrics.c): the Prometheus text exposition, an admin_handler_fn. */
int node_h_metrics(void *ctx, const char *query, struct buf *out, const char **ctype);
/*
 * Hinted handoff (node_hints.c): start the hint store; the storage proxy's and
 * the forwarder's hint sinks; gossip's UP (after ECHO) / DOWN news.
 */
int node_start_hints(struct node *n, struct cerr *err);
int node_hint(void *node, const struct ring *r, size_t idx, const uint8_t *mut, size_t len,
              unsigned flags);
bool node_peer_alive(void *node, const struct net_addr *peer);
int node_peer_hint(void *node, const struct net_addr *peer, const uint8_t *mut, size_t len);
void node_hints_peer(struct node *n, const struct gossip_endpoint *ep, bool up);
/* A host gossip forgot (another host took its address): its hints can never be delivered. */
void node_hints_forget(struct node *n, const struct gossip_endpoint *ep);

/* node_events.c: the gossip and schema listeners (registered before gossip starts). */
int node_events_listen(struct node *n);
/* Stop the timer of held client events (node_free). */
void node_events_stop(struct node *n);

/* node.c helpers the listeners share. */
void node_ring_dirty(struct node *n); /* rebuild the ring on the next loop iteration */
void node_app_text(const struct gossip_endpoint *ep, unsigned key, char *out, size_t cap);
bool node_parse_inet(const char *text, uint8_t out[16], uint8_t *len); /* numeric only */
/* Admin: GET /v1/hints[?host=], POST /v1/hints/{enable,disable,pause,resume,truncate[?host=]}. */
int node_h_hints(void *ctx, const char *query, struct buf *out, const char **ctype);
int node_h_hints_enable(void *ctx, const char *query, struct buf *out, const char **ctype);
int node_h_hints_disable(void *ctx, const char *query, struct buf *out, const char **ctype);
int node_h_hints_pause(void *ctx, const char *query, struct buf *out, const char **ctype);
int node_h_hints_resume(void *ctx, const char *query, struct buf *out, const char **ctype);
int node_h_hints_truncate(void *ctx, const char *query, struct buf *out, const char **ctype);
/* The colonnade_hints_* Prometheus lines; pending hints in /v1/info. */
void node_hints_metrics(struct buf *b, struct node *n);
struct jw;
void node_hints_info(struct node *n, struct jw *w);

/* Anti-entropy repair (node_repair.c): start it; its admin routes and metrics. */
int node_start_repair(struct node *n, struct cerr *err);
int node_h_repair_start(void *ctx, const char *query, struct buf *out, const char **ctype);
int node_h_repair(void *ctx, const char *query, struct buf *out, const char **ctype);
int node_h_repair_sessions(void *ctx, const char *query, struct buf *out, const char **ctype);
int node_h_repair_cancel(void *ctx, const char *query, struct buf *out, const char **ctype);
int node_h_repair_history(void *ctx, const char *query, struct buf *out, const char **ctype);
void node_repair_metrics(struct buf *b, struct node *n);
int node_h_compact(void *ctx, const char *query, struct buf *out, const char **ctype);
int node_h_compactions(void *ctx, const char *query, struct buf *out, const char **ctype);
void node_view_repair_history(void *ctx, repair_history_emit_fn emit, void *ectx);

/* The admin routes (node_admin.c) and their count. */
extern const struct admin_route node_admin_routes[];
extern const size_t node_admin_n_routes;

/*
 * TOKENS application state: the identity's token encoding (identity.h:
 * u8 format 1, u32 n, n x i64 big-endian, ascending).  Decode into out[cap].
 */
int node_tokens_decode(const uint8_t *p, size_t len, int64_t *out, size_t cap, size_t *n);

/*
 * The system peers table (node_peers.c): load at start; save an endpoint of
 * the ring when what we keep of it changed; forget a removed one; call fn for
 * every remembered peer gossip does not know (as DOWN, NORMAL).
 */
int node_peers_load(struct node *n, struct cerr *err);
void node_peers_save(struct node *n, const struct node_endpoint *ep);
void node_peers_forget(struct node *n, const uint8_t host_id[16]);
struct node_peer *node_peers_find(struct node *n, const uint8_t host_id[16]);
void node_peers_each_unknown(struct node *n, node_endpoint_fn fn, void *ctx);
void node_peers_free(struct node *n);

/*
 * Request loops (node_loops.c; docs/ARCHITECTURE.md, Threads).  prepare: the
 * main loop's mailbox and the prepared-statement cache every loop shares (before
 * the CQL server); start: io_threads - 1 loops
 * fed by the main CQL server's hand-off; event_tap: the main server's EVENTs
 * to every loop; close_main: refuse new work for the main loop (answer what
 * waits with COL_ECLOSED); stop: after the main loop's requests all ended,
 * stop every loop and join its thread, then free the prepared cache.  cql_stats adds the loops'
 * published server counters to *sum.
 */
unsigned node_io_threads(const struct config *cfg);
int node_loops_prepare(struct node *n, struct cerr *err);
int node_loops_start(struct node *n, struct cerr *err);
void node_loops_event_tap(void *ctx, unsigned mask, const uint8_t *body, size_t len);
/* schema_sync's on_merged: a SCHEMA_CHANGE event from the main server (and so every loop's). */
void node_schema_merged(void *ctx, enum schema_ev_change c, enum schema_ev_target t, const char *ks,
                        const char *name);
void node_loops_close_main(struct node *n);
void node_loops_stop(struct node *n);
void node_loops_cql_stats(struct node *n, struct cqlserver_stats *sum);
struct router_stats;
void node_loops_router_stats(struct node *n, struct router_stats *sum);
/* The loops' storage proxies' published counters, added to *sum. */
struct storage_proxy_stats;
void node_loops_sp_stats(struct node *n, struct storage_proxy_stats *sum);
struct messaging_stats;
void node_loops_msg_stats(struct node *n, struct messaging_stats *sum);
/* Gossip convicted the peer at addr: every loop closes its connection to it (main loop). */
void node_loops_peer_down(struct node *n, const struct net_addr *addr);

/*
 * Liveness for the request loops (node_live.c): start (main loop: publish now
 * and on changes), refresh (gossip's UP/DOWN news), stop (before the loops
 * stop).  A loop reads it through its own view (a cached snapshot reference):
 * node_live_alive / node_live_addr are sp_alive_fn / sp_addr_fn with the view
 * as context, answering as node_ring_alive / node_ring_addr did on the main loop
 * when the snapshot was published.
 */
struct node_live_view {
	struct node *n;
	struct node_live *snap;
	unsigned gen;
};
void node_live_start(struct node *n);
void node_live_refresh(struct node *n);
void node_live_stop(struct node *n);
bool node_live_alive(void *view, const struct ring *r, size_t idx);
int node_live_addr(void *view, const struct ring *r, size_t idx, struct net_addr *out);
void node_live_view_release(struct node_live_view *v);

/* Resident set size of this process in bytes (0 if unknown). */
int64_t node_rss_bytes(void);

/* TLS (node_tls.c): contexts from the config at start (errors name the key and file),
 * their release, and the SIGHUP reload. */
int node_tls_load(struct node *n, struct cerr *err);
void node_tls_release(struct node_tls *t);
enum node_internode_enc node_internode_encryption(const struct config *cfg);
void node_tls_watch(struct node *n);
/* server_encryption_options into messaging's config (contexts and the dc/rack policy). */
struct messaging_config;
void node_tls_messaging(struct node *n, struct messaging_config *mc);
void node_tls_unwatch(struct node *n);
/* ---- node_auth.c ---- */

/* PasswordAuthenticator (before CQL): refuses to start without a first password. */
int node_start_auth(struct node *n, struct cerr *err);
/* The role manager over system_auth (with the CQL server's executor deps). */
int node_start_roles(struct node *n, const struct executor_deps *deps, struct cerr *err);
/* Before the CQL server is freed / after the router is. */
void node_stop_roles(struct node *n);
void node_free_auth(struct node *n);
/* "" or the warning on system_auth's replication against the ring. */
void node_auth_rf_warning(struct node *n, char *out, size_t cap);

/* ---- node_traces.c: the trace writer ---- */

struct node_traces;
struct trace_sink;
/* Its mailbox and sink (before the verbs and the CQL servers, which borrow the sink). */
int node_traces_init(struct node *n, struct cerr *err);
/* Its executor (with the CQL server's executor deps): traces are written from here on. */
int node_traces_start(struct node *n, const struct executor_deps *deps, struct cerr *err);
const struct trace_sink *node_traces_sink(struct node *n);
struct node_traces_stats {
	uint64_t submitted, dropped, written, failed, events_dropped;
	uint64_t in_flight, waiting;
};
void node_traces_stats(struct node *n, struct node_traces_stats *out);
/* After the router and every request loop stopped. */
void node_traces_free(struct node *n);

#endif
