/*
 * node.c — a node's life: start-up in order, the loop, clean shutdown.
 */
#include "coordinator/node/node_int.h"

#include "coordinator/transport/cqlserver.h"
#include "coordinator/query/executor.h"
#include "coordinator/replication/router.h"
#include "coordinator/schema/schema.h"
#include "coordinator/schema/schema_sync.h"
#include "coordinator/batchlog/batchlog.h"
#include "coordinator/replication/storage_proxy.h"
#include "coordinator/replication/verbs.h"
#include "coordinator/hints/hints.h"
#include "coordinator/repair/repair.h"
#include "core/array.h"
#include "core/clock.h"
#include "core/hex.h"
#include "core/ring.h"
#include "core/log.h"
#include "core/net.h"
#include "gossip/gossiper.h"
#include "gossip/messaging.h"
#include "storage/storage.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How often the data directory's size (nodetool's Load) is measured. */
#define NODE_LOAD_INTERVAL_S 10.0

int64_t node_rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return 0;
	long long size, resident;
	int n = fscanf(f, "%lld %lld", &size, &resident);
	fclose(f);
	if (n != 2)
		return 0;
	return resident * (int64_t)sysconf(_SC_PAGESIZE);
}

/* What the data directory holds, by kind of RocksDB file. */
struct disk_usage {
	int64_t total;
	int64_t sst_bytes, sst_files;
	int64_t wal_bytes, wal_files;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Regular files under `path` (depth-bounded; symlinks not followed). */
static void dir_usage(const char *path, int depth, struct disk_usage *u)
{
	if (depth > 8)
		return;
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[4096];
		if (snprintf(p, sizeof(p), "%s/%s", path, e->d_name) >= (int)sizeof(p))
			continue;
		struct stat st;
		if (lstat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			dir_usage(p, depth + 1, u);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		u->total += st.st_size;
		if (ends_with(e->d_name, ".sst")) {
			u->sst_bytes += st.st_size;
			u->sst_files++;
		} else if (ends_with(e->d_name, ".log")) { /* RocksDB WAL: NNNNNN.log */
			u->wal_bytes += st.st_size;
			u->wal_files++;
		}
	}
	closedir(d);
}

static int64_t dir_bytes(struct node *n)
{
	struct disk_usage u;
	memset(&u, 0, sizeof(u));
	dir_usage(n->cfg.data_directory, 0, &u);
	n->disk_sst_bytes = u.sst_bytes;
	n->disk_sst_files = u.sst_files;
	n->disk_wal_bytes = u.wal_bytes;
	n->disk_wal_files = u.wal_files;
	return u.total;
}

static void on_load_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct node *n = w->data;
	/* snapshots the request loops released wait for the owner (schema.h, Threads) */
	if (n->schema)
		schema_collect(n->schema);
	n->load_bytes = dir_bytes(n);
	if (n->gossiper) {
		char v[32];
		snprintf(v, sizeof(v), "%lld", (long long)n->load_bytes);
		gossiper_set_app_str(n->gossiper, APP_LOAD, v);
	}
}

static void on_bg_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct node *n = w->data;
	store_background_priority_tick(n->store);
}

static const char *signal_name(int sig)
{
	return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "a signal";
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	struct node *n = w->data;
	if (n->stopping) {
		log_warn("node", "second %s while shutting down; still shutting down",
		         signal_name(w->signum));
		return;
	}
	n->stopping = true;
	n->stop_signal = w->signum;
	log_info("node", "received %s, shutting down", signal_name(w->signum));
	ev_break(loop, EVBREAK_ALL);
}

static void describe_line(const char *line, void *ctx)
{
	(void)ctx;
	log_info("config", "  %s", line);
}

/* ---- the view the CQL server's system tables read --------------------------------------- */

bool node_parse_inet(const char *text, uint8_t out[16], uint8_t *len)
{
	struct net_addr a;
	if (net_addr_parse(text, 0, &a, NULL))
		return false;
	if (a.ss.ss_family == AF_INET) {
		memcpy(out, &((struct sockaddr_in *)&a.ss)->sin_addr, 4);
		*len = 4;
	} else {
		memcpy(out, &((struct sockaddr_in6 *)&a.ss)->sin6_addr, 16);
		*len = 16;
	}
	return true;
}

static bool parse_uuid(const char *s, uint8_t out[16])
{
	size_t o = 0;
	for (size_t i = 0; s[i] && o < 16; i++) {
		if (s[i] == '-')
			continue;
		char hex[3] = {s[i], s[i + 1], 0};
		if (!s[i + 1])
			return false;
		char *end;
		unsigned long v = strtoul(hex, &end, 16);
		if (*end)
			return false;
		out[o++] = (uint8_t)v;
		i++;
	}
	return o == 16;
}

struct view_emit {
	struct node *n;
	cluster_node_emit_fn emit;
	void *ectx;
	bool want_local;
};

/*
 * system.peers has one row per address, as Cassandra's (keyed by peer): a
 * node whose address another node holds now (displaced by gossip, or known
 * only from the peers table at an address gossip gives another host id) is
 * left out until it shows up at an address of its own.  Listed, it would sit
 * beside the address's holder with its own host id and DC, and a driver that
 * reads the table then keeps whichever row it meets first.
 */
static bool view_shadowed(const struct node *n, const struct node_endpoint *ep)
{
	if (ep->displaced)
		return true;
	struct net_addr a;
	return ep->from_table && n->gossiper &&
	       !net_addr_parse(ep->address, (uint16_t)n->cfg.storage_port, &a, NULL) &&
	       gossiper_find_addr(n->gossiper, &a);
}

static void view_endpoint(void *ctx, const struct node_endpoint *ep)
{
	struct view_emit *ve = ctx;
	if (ep->local != ve->want_local || !ep->has_host_id || view_shadowed(ve->n, ep))
		return;
	struct cluster_node_info info;
	memset(&info, 0, sizeof(info));
	memcpy(info.host_id, ep->host_id, 16);
	info.dc = ep->dc;
	info.rack = ep->rack;
	if (!node_parse_inet(ep->address, info.addr, &info.addr_len))
		return;
	if (!node_parse_inet(ep->rpc_address[0] ? ep->rpc_address : ep->address, info.rpc_addr,
	                     &info.rpc_addr_len))
		return;
	info.tokens = ep->tokens;
	info.n_tokens = ep->n_tokens;
	info.has_schema_version =
	        ep->schema_version[0] && parse_uuid(ep->schema_version, info.schema_version);
	ve->emit(ve->ectx, &info);
}

static void view_local(void *ctx, cluster_node_emit_fn emit, void *ectx)
{
	struct view_emit ve = {ctx, emit, ectx, true};
	node_each_endpoint(ctx, view_endpoint, &ve);
}

static void view_peers(void *ctx, cluster_node_emit_fn emit, void *ectx)
{
	struct view_emit ve = {ctx, emit, ectx, false};
	node_each_endpoint(ctx, view_endpoint, &ve);
}

/* ---- endpoints ---------------------------------------------------------------------------- */

int node_tokens_decode(const uint8_t *p, size_t len, int64_t *out, size_t cap, size_t *n)
{
	return identity_tokens_decode(p, len, out, cap, n);
}

void node_app_text(const struct gossip_endpoint *ep, unsigned key, char *out, size_t cap)
{
	size_t len = 0;
	const uint8_t *v = gossip_endpoint_app(ep, key, &len, NULL);
	if (!v)
		len = 0;
	if (len >= cap)
		len = cap - 1;
	memcpy(out, v ? (const char *)v : "", len);
	out[len] = 0;
}

struct each_ctx {
	struct node *n;
	node_endpoint_fn fn;
	void *ctx;
	int64_t tokens[IDENTITY_MAX_TOKENS];
};

static void each_peer(void *ctx, const struct gossip_endpoint *ge)
{
	struct each_ctx *ec = ctx;
	if (gossip_endpoint_is_self(ge))
		return;
	char status[32];
	node_app_text(ge, APP_STATUS, status, sizeof(status));
	if (!strcmp(status, GOSSIP_STATUS_LEFT))
		return; /* gone for good: nodetool status does not list it either */
	struct node_endpoint ep;
	memset(&ep, 0, sizeof(ep));
	snprintf(ep.address, sizeof(ep.address), "%s", gossip_endpoint_host(ge));
	node_app_text(ge, APP_RPC_ADDRESS, ep.rpc_address, sizeof(ep.rpc_address));
	memcpy(ep.host_id, gossip_endpoint_host_id(ge)->b, 16);
	ep.has_host_id = !host_id_is_zero(gossip_endpoint_host_id(ge));
	node_app_text(ge, APP_DC, ep.dc, sizeof(ep.dc));
	node_app_text(ge, APP_RACK, ep.rack, sizeof(ep.rack));
	ep.up = gossip_endpoint_is_alive(ge);
	ep.displaced = gossip_endpoint_is_displaced(ge);
	if (gossip_endpoint_is_shutdown(ge))
		ep.state = "SHUTDOWN";
	else if (!strcmp(status, GOSSIP_STATUS_BOOT) || !status[0])
		ep.state = "JOINING";
	else if (!strcmp(status, GOSSIP_STATUS_LEAVING))
		ep.state = "LEAVING";
	else
		ep.state = "NORMAL";
	char load[32];
	node_app_text(ge, APP_LOAD, load, sizeof(load));
	ep.load = load[0] ? strtoll(load, NULL, 10) : -1;
	size_t tl = 0;
	const uint8_t *tv = gossip_endpoint_app(ge, APP_TOKENS, &tl, NULL);
	if (!tv || node_tokens_decode(tv, tl, ec->tokens, IDENTITY_MAX_TOKENS, &ep.n_tokens))
		ep.n_tokens = 0;
	ep.tokens = ec->tokens;
	ep.generation = gossip_endpoint_generation(ge);
	ep.heartbeat = (int64_t)gossip_endpoint_heartbeat(ge);
	node_app_text(ge, APP_SCHEMA, ep.schema_version, sizeof(ep.schema_version));
	node_app_text(ge, APP_RELEASE_VERSION, ep.release_version, sizeof(ep.release_version));
	ec->fn(ec->ctx, &ep);
}

void node_each_endpoint(struct node *n, node_endpoint_fn fn, void *ctx)
{
	struct node_endpoint ep;
	memset(&ep, 0, sizeof(ep));
	ep.local = true;
	snprintf(ep.address, sizeof(ep.address), "%s", n->broadcast_host);
	snprintf(ep.rpc_address, sizeof(ep.rpc_address), "%s", n->broadcast_rpc_host);
	memcpy(ep.host_id, n->id.host_id, 16);
	ep.has_host_id = true;
	snprintf(ep.dc, sizeof(ep.dc), "%s", n->cfg.dc);
	snprintf(ep.rack, sizeof(ep.rack), "%s", n->cfg.rack);
	ep.up = true;
	ep.state = n->stopping ? "SHUTDOWN" : n->joining ? "JOINING" : "NORMAL";
	ep.load = n->load_bytes;
	ep.tokens = n->id.tokens;
	ep.n_tokens = n->id.n_tokens;
	ep.generation = n->id.generation;
	if (n->gossiper)
		ep.heartbeat = (int64_t)gossip_endpoint_heartbeat(gossiper_self(n->gossiper));
	if (n->schema)
		uuid_format(schema_current(n->schema)->version, ep.schema_version);
	snprintf(ep.release_version, sizeof(ep.release_version), "%s", COLONNADE_VERSION);
	fn(ctx, &ep);
	if (n->gossiper) {
		struct each_ctx *ec = malloc(sizeof(*ec));
		if (!ec)
			return;
		ec->n = n;
		ec->fn = fn;
		ec->ctx = ctx;
		gossiper_foreach(n->gossiper, each_peer, ec);
		free(ec);
	}
	node_peers_each_unknown(n, fn, ctx);
}

/* ---- the ring ----------------------------------------------------------------------------- */

struct ring_build {
	struct node *node;
	bool skip_table; /* leave out peers known only from the system table */
	size_t n_table;  /* such peers taken */
	struct ring_endpoint *eps;
	int64_t **tokens;
	size_t n, cap;
	bool oom;
};

static void ring_collect(void *ctx, const struct node_endpoint *ep)
{
	struct ring_build *b = ctx;
	if (b->oom || !ep->has_host_id || !ep->n_tokens || (ep->from_table && b->skip_table))
		return;
	if (strcmp(ep->state, "NORMAL") != 0 && strcmp(ep->state, "LEAVING") != 0 &&
	    strcmp(ep->state, "SHUTDOWN") != 0)
		return; /* joining: pending, not yet an owner */
	node_peers_save(b->node, ep);
	if (b->n == b->cap) {
		size_t nc = array_next_cap(b->cap, b->n + 1);
		struct ring_endpoint *e = array_resize(b->eps, nc, sizeof(*e));
		int64_t **t = e ? array_resize(b->tokens, nc, sizeof(*t)) : NULL;
		if (e)
			b->eps = e;
		if (t)
			b->tokens = t;
		if (!e || !t) {
			b->oom = true;
			return;
		}
		b->cap = nc;
	}
	struct ring_endpoint *re = &b->eps[b->n];
	memset(re, 0, sizeof(*re));
	b->tokens[b->n] = malloc(ep->n_tokens * sizeof(int64_t));
	if (!b->tokens[b->n]) {
		b->oom = true;
		return;
	}
	memcpy(b->tokens[b->n], ep->tokens, ep->n_tokens * sizeof(int64_t));
	b->n_table += ep->from_table;
	memcpy(re->host_id, ep->host_id, 16);
	snprintf(re->address, sizeof(re->address), "%s", ep->address);
	snprintf(re->dc, sizeof(re->dc), "%s", ep->dc);
	snprintf(re->rack, sizeof(re->rack), "%s", ep->rack);
	re->tokens = b->tokens[b->n];
	re->n_tokens = ep->n_tokens;
	b->n++;
}

static void ring_build_free(struct ring_build *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->tokens[i]);
	free(b->tokens);
	free(b->eps);
}

static void node_rebuild_ring(struct node *n)
{
	struct ring_build b = {0};
	b.node = n;
	node_each_endpoint(n, ring_collect, &b);
	struct ring *r = NULL;
	struct cerr e = {0};
	bool built = !b.oom && ring_new(b.eps, b.n, &r, &e) == 0;
	if (!built && !b.oom && b.n_table) {
		/* A remembered peer gossip has not told us of conflicts with a live one. */
		log_warn("node", "ring: %s; leaving out the peers known only from the system table",
		         e.msg);
		ring_build_free(&b);
		memset(&b, 0, sizeof(b));
		b.node = n;
		b.skip_table = true;
		node_each_endpoint(n, ring_collect, &b);
		built = !b.oom && ring_new(b.eps, b.n, &r, &e) == 0;
	}
	if (!built && b.oom)
		log_warn("node", "ring: out of memory; keeping the previous ring");
	else if (!built)
		log_warn("node", "ring: %s; keeping the previous ring", e.msg);
	ring_build_free(&b);
	if (!r)
		return;
	pthread_mutex_lock(&n->ring_lock);
	struct ring *old = n->ring;
	n->ring = r;
	pthread_mutex_unlock(&n->ring_lock);
	ring_unref(old);
	node_live_refresh(n); /* the request loops' liveness follows the ring at once */
	n->ring_rebuilds++;
	log_debug("node", "ring rebuilt: %zu nodes, %zu tokens", ring_node_count(r),
	          ring_token_count(r));
}

static void on_ring_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	node_rebuild_ring(w->data);
}

/*
 * Rebuild at the next loop iteration: listeners run inside gossip's message
 * processing (on_remove before the entry is gone), and one message may carry
 * many changes, all folded into one rebuild.
 */
void node_ring_dirty(struct node *n)
{
	if (!ev_is_active(&n->ring_timer)) {
		ev_timer_set(&n->ring_timer, 0., 0.);
		ev_timer_start(n->loop, &n->ring_timer);
	}
}

struct ring *node_ring_ref(struct node *n)
{
	pthread_mutex_lock(&n->ring_lock);
	struct ring *r = n->ring ? ring_ref(n->ring) : NULL;
	pthread_mutex_unlock(&n->ring_lock);
	return r;
}

static struct ring *node_ring_ref_cb(void *node)
{
	return node_ring_ref(node);
}

static const struct gossip_endpoint *ring_peer(struct node *n, const struct ring *r, size_t idx,
                                               bool *self)
{
	const struct ring_node *rn = ring_node_at(r, idx);
	*self = rn && memcmp(rn->host_id, n->id.host_id, 16) == 0;
	if (!rn || *self || !n->gossiper)
		return NULL;
	struct host_id h;
	memcpy(h.b, rn->host_id, 16);
	return gossiper_find(n->gossiper, &h);
}

bool node_ring_alive(void *node, const struct ring *r, size_t idx)
{
	bool self;
	const struct gossip_endpoint *ep = ring_peer(node, r, idx, &self);
	return self || (ep && gossip_endpoint_is_alive(ep));
}

int node_ring_addr(void *node, const struct ring *r, size_t idx, struct net_addr *out)
{
	struct node *n = node;
	bool self;
	const struct gossip_endpoint *ep = ring_peer(n, r, idx, &self);
	if (self)
		return net_addr_parse(n->broadcast_host, (uint16_t)n->cfg.storage_port, out, NULL);
	if (ep && gossip_endpoint_is_displaced(ep))
		return COL_ENOTFOUND; /* its last address is another node's now */
	if (ep) {
		*out = *gossip_endpoint_addr(ep);
		return 0;
	}
	/* Known from the system peers table only: its last address. */
	const struct ring_node *rn = ring_node_at(r, idx);
	const struct node_peer *p = rn ? node_peers_find(n, rn->host_id) : NULL;
	if (!p)
		return COL_ENOTFOUND;
	return net_addr_parse(p->address, (uint16_t)n->cfg.storage_port, out, NULL);
}

/* ---- gossip listeners: client events and log lines ----------------------------------------- */

/* The rpc address and native port a peer announces, for CQL events. */
static int start_gossip(struct node *n, struct cerr *err)
{
	const struct config *cfg = &n->cfg;
	struct messaging_config mc;
	memset(&mc, 0, sizeof(mc));
	mc.cluster_name = cfg->cluster_name;
	if (cfg->internode_secret && *cfg->internode_secret) {
		mc.secret = (const uint8_t *)cfg->internode_secret;
		mc.secret_len = strlen(cfg->internode_secret);
	}
	memcpy(mc.host_id.b, n->id.host_id, 16);
	mc.peer_queue_bytes = (size_t)cfg->internode_send_queue_capacity;
	if (net_addr_parse(n->listen_host, (uint16_t)cfg->storage_port, &mc.listen, err)) {
		cerr_prefix(err, "listen_address");
		return COL_ECONFIG;
	}
	if (net_addr_parse(n->broadcast_host, (uint16_t)cfg->storage_port, &mc.broadcast, err)) {
		cerr_prefix(err, "broadcast_address");
		return COL_ECONFIG;
	}
	node_tls_messaging(n, &mc);
	int rc = messaging_new(n->net, &mc, &n->msg, err);
	if (rc)
		return rc;
	struct gossip_seed seeds[CONFIG_MAX_SEEDS];
	for (int i = 0; i < cfg->n_seeds; i++) {
		/* `auto` is our own address: a node that is its own seed (one-node image). */
		seeds[i].host =
		        strcmp(cfg->seeds[i].host, "auto") ? cfg->seeds[i].host : n->broadcast_host;
		seeds[i].port = cfg->seeds[i].port;
	}
	struct gossiper_config gc;
	memset(&gc, 0, sizeof(gc));
	gc.messaging = n->msg;
	gc.generation = n->id.generation;
	gc.interval_ms = (unsigned)cfg->gossip_interval_ms;
	gc.phi_convict_threshold = cfg->phi_convict_threshold;
	gc.seeds = seeds;
	gc.n_seeds = (unsigned)cfg->n_seeds;
	gc.partitioner = "Murmur3Partitioner";
	rc = gossiper_new(&gc, &n->gossiper, err);
	if (rc)
		return rc;
	char v[64];
	identity_tokens_encode(n->id.tokens, n->id.n_tokens, n->tokens_value,
	                       sizeof(n->tokens_value), &n->tokens_value_len);
	snprintf(v, sizeof(v), "%d", cfg->native_transport_port);
	char schema[40];
	uuid_format(schema_current(n->schema)->version, schema);
	char load[32];
	snprintf(load, sizeof(load), "%lld", (long long)n->load_bytes);
	if (gossiper_set_app_str(n->gossiper, APP_DC, cfg->dc) ||
	    gossiper_set_app_str(n->gossiper, APP_RACK, cfg->rack) ||
	    gossiper_set_app_state(n->gossiper, APP_TOKENS, n->tokens_value, n->tokens_value_len) ||
	    gossiper_set_app_str(n->gossiper, APP_SCHEMA, schema) ||
	    gossiper_set_app_str(n->gossiper, APP_LOAD, load) ||
	    gossiper_set_app_str(n->gossiper, APP_RPC_ADDRESS, n->broadcast_rpc_host) ||
	    gossiper_set_app_str(n->gossiper, APP_NATIVE_PORT, v) ||
	    gossiper_set_app_str(n->gossiper, APP_RELEASE_VERSION, COLONNADE_VERSION) ||
	    gossiper_set_app_str(n->gossiper, APP_STATUS,
	                         n->joining ? GOSSIP_STATUS_BOOT : GOSSIP_STATUS_NORMAL))
		return cerr_set(err, COL_ENOMEM, "gossip: cannot set our application states");
	rc = node_events_listen(n);
	if (rc)
		return cerr_set(err, rc, "gossip: cannot register listeners");
	rc = gossiper_start(n->gossiper);
	if (rc)
		return cerr_set(err, rc, "gossip: cannot start");
	log_info("node", "gossip on %s:%d (announced as %s) every %lld ms, seeds:%s%s",
	         n->listen_host, cfg->storage_port, n->broadcast_host,
	         (long long)cfg->gossip_interval_ms, cfg->n_seeds ? " " : " none",
	         cfg->n_seeds ? cfg->seeds[0].host : "");
	return 0;
}

/*
 * The replicated request path: the replica side (MUTATION / READ verbs on
 * messaging) and the coordinator side (storage_proxy, reading the node's ring
 * snapshot, liveness and addresses through node_ring_alive/addr).
 */
static int start_replication(struct node *n, struct cerr *err)
{
	const struct config *cfg = &n->cfg;
	struct verbs_config vc;
	memset(&vc, 0, sizeof(vc));
	vc.msg = n->msg;
	vc.store = n->store;
	vc.lane = n->lane;
	/* A forwarder gives up on a silent peer (and hints it) a quarter of the write
	 * timeout before the coordinator would, so its HINTED relay arrives in time and
	 * the coordinator stores no second hint for that peer. */
	vc.forward_timeout_ms = (unsigned)(cfg->write_request_timeout_ms * 3 / 4);
	if (vc.forward_timeout_ms == 0)
		vc.forward_timeout_ms = 1;
	vc.mutation_shed_ms = (unsigned)cfg->write_request_timeout_ms;
	/* READ carries range reads too: the longer of the two timeouts */
	vc.read_shed_ms = (unsigned)(cfg->range_request_timeout_ms > cfg->read_request_timeout_ms
	                                     ? cfg->range_request_timeout_ms
	                                     : cfg->read_request_timeout_ms);
	vc.peer_alive = node_peer_alive;
	vc.hint = node_peer_hint;
	vc.hint_ctx = n;
	vc.bytes = &n->mut_bytes;
	int rc = node_traces_init(n, err);
	if (rc)
		return rc;
	vc.tracing = node_traces_sink(n);
	rc = verbs_new(&vc, &n->verbs, err);
	if (rc)
		return rc;
	struct storage_proxy_config sc;
	node_proxy_config(n, n->msg, n->lane, &sc);
	sc.is_alive = node_ring_alive;
	sc.alive_ctx = n;
	sc.addr_of = node_ring_addr;
	sc.addr_ctx = n;
	sc.hint = node_hint;
	sc.hint_ctx = n;
	sc.bytes = &n->mut_bytes;
	return storage_proxy_new(&sc, &n->sp, err);
}

/* Schema in a cluster (coordinator/schema/schema_sync.h): pushes after local DDL, pulls from
 * peers gossiping another version, DDL answers held until every live node gossips our version
 * (or schema_agreement_timeout passed), and changes merged from peers told to our clients. */
static int start_schema_sync(struct node *n, struct cerr *err)
{
	struct schema_sync_config c;
	memset(&c, 0, sizeof(c));
	c.msg = n->msg;
	c.gossiper = n->gossiper;
	c.schema = n->schema;
	/* Pull after a difference lasted a few gossip rounds (a push would have
	 * ended it by then); as often to one peer. */
	c.on_merged = node_schema_merged;
	c.merged_ctx = n;
	int64_t iv = n->cfg.gossip_interval_ms * 5;
	c.pull_delay_ms = (unsigned)(iv < 50 ? 50 : iv > 2000 ? 2000 : iv);
	c.pull_interval_ms = c.pull_delay_ms;
	c.agreement_timeout_ms = (unsigned)n->cfg.schema_agreement_timeout_ms;
	return schema_sync_new(&c, &n->sync, err);
}

struct ddl_wait {
	struct node *n;
	struct exec_req *req;
};

static void ddl_agreed(void *ctx, bool agreed, unsigned waited_ms)
{
	struct ddl_wait *w = ctx;
	struct exec_req *req = w->req;
	if (!agreed) {
		char first[NET_ADDR_STRLEN] = "";
		unsigned k = w->n->stopping
		                     ? 0
		                     : schema_sync_disagreeing(w->n->sync, first, sizeof(first));
		if (w->n->stopping)
			snprintf(req->warning, sizeof(req->warning),
			         "The node is shutting down before all live nodes agreed on the "
			         "schema "
			         "version; the change is applied here and will reach the others");
		else
			snprintf(req->warning, sizeof(req->warning),
			         "Schema agreement not reached after %u ms: %u live node(s) (%s%s) "
			         "report another schema version; the change is applied here and "
			         "will "
			         "reach them (check system.peers schema_version)",
			         waited_ms, k, first, k > 1 ? ", ..." : "");
		log_warn("node", "DDL answered without schema agreement after %u ms", waited_ms);
	}
	free(w);
	req->done(req);
}

/* An ALTER KEYSPACE system_auth is answered with the replication warning, if any. */
static void warn_auth_rf(struct node *n, struct exec_req *req)
{
	struct bufreader r;
	bufreader_init(&r, req->body_out.data, req->body_out.len);
	if (cql_get_int(&r) != CQL_RESULT_SCHEMA_CHANGE)
		return;
	struct cql_slice change = cql_get_string(&r), target = cql_get_string(&r),
	                 ks = cql_get_string(&r);
	if (!bufreader_ok(&r) || target.len != 8 || memcmp(target.p, "KEYSPACE", 8) ||
	    change.len != 7 || memcmp(change.p, "UPDATED", 7) || ks.len != 11 ||
	    memcmp(ks.p, "system_auth", 11) || req->warning[0])
		return;
	node_auth_rf_warning(n, req->warning, sizeof(req->warning));
}

static void node_ddl_wait(void *ctx, struct exec_req *req)
{
	struct node *n = ctx;
	warn_auth_rf(n, req);
	struct ddl_wait *w = n->sync && n->cfg.schema_agreement_timeout_ms > 0 && !n->stopping
	                             ? malloc(sizeof(*w))
	                             : NULL;
	if (!w) {
		req->done(req);
		return;
	}
	w->n = n;
	w->req = req;
	schema_sync_wait(n->sync, (unsigned)n->cfg.schema_agreement_timeout_ms, ddl_agreed, w);
}

/*
 * The batchlog (coordinator/batchlog/batchlog.h): LOGGED batches of several
 * partitions are stored on other nodes of our datacenter before their
 * mutations go out.  batchlog_test_delay (tests only) holds the mutations back
 * that long after the batch is stored, so a test can kill the coordinator in
 * between.
 */
static int start_batchlog(struct node *n, struct cerr *err)
{
	struct batchlog_config c;
	memset(&c, 0, sizeof(c));
	c.msg = n->msg;
	c.store = n->store;
	c.schema = n->schema;
	c.sp = n->sp;
	c.router = n->router;
	c.local_dc = n->cfg.dc;
	c.local_rack = n->cfg.rack;
	c.write_timeout_ms = (unsigned)n->cfg.write_request_timeout_ms;
	c.is_alive = node_ring_alive;
	c.alive_ctx = n;
	c.addr_of = node_ring_addr;
	c.addr_ctx = n;
	c.test_delay_ms = (unsigned)n->cfg.batchlog_test_delay_ms;
	if (c.test_delay_ms)
		log_warn("node",
		         "batchlog_test_delay %u ms: LOGGED batches wait that long between the "
		         "batchlog and their mutations (a test hook; never set it in production)",
		         c.test_delay_ms);
	int rc = batchlog_new(&c, &n->batchlog, err);
	if (!rc)
		router_set_batchlog(n->router, batchlog_write, n->batchlog);
	return rc;
}

static int start_cql(struct node *n, struct cerr *err)
{
	const struct config *cfg = &n->cfg;
	int rc = router_new_local(n->store, cfg->dc, &n->router);
	if (rc)
		return cerr_set(err, rc, "cannot create the request router");
	/* The local path's writes (while the node has no ring) go through the main loop's lane:
	 * a RocksDB stall must not hold gossip's loop. */
	router_set_lane(n->router, n->lane);
	/* Replicated keyspaces go through the storage proxy on the gossip ring. */
	if (n->sp) {
		router_attach_cluster(n->router, n->sp, node_ring_ref_cb, n);
		rc = start_batchlog(n, err);
		if (rc)
			return rc;
	}
	struct cqlserver_options o;
	node_cql_options(n, &o);
	o.address = n->rpc_host;
	o.port = (uint16_t)cfg->native_transport_port;
	o.auth = n->auth;
	o.tls = n->tls.cql;
	o.tls_optional = cfg->client_tls.optional;
	rc = node_loops_prepare(n, err); /* the main loop's mailbox, the shared prepared cache */
	if (rc)
		return rc;
	struct cqlserver_deps d;
	node_cql_deps(n, n->router, &d);
	d.ddl_wait = node_ddl_wait;
	d.ddl_ctx = n;
	struct executor_deps ed = {
	        .schema = n->schema, .store = n->store, .router = n->router, .view = &n->view};
	if (n->auth) {
		rc = prepared_cache_new(16, &n->roles_prepared);
		if (rc)
			return cerr_set(err, rc, "cannot create the role manager's prepared cache");
		ed.prepared = n->roles_prepared;
		rc = node_start_roles(n, &ed, err);
		if (rc)
			return rc;
	}
	o.access = n->roles ? roles_access(n->roles) : NULL;
	rc = node_traces_start(n, &ed, err);
	if (rc)
		return rc;
	d.tracing = node_traces_sink(n);
	d.event_tap = node_loops_event_tap;
	d.event_ctx = n;
	d.bytes = &n->mut_bytes;
	rc = cqlserver_new(n->net, &o, &d, &n->cql, err);
	if (!rc)
		rc = node_loops_start(n, err);
	if (rc)
		return rc;
	/* Peers tell their clients of us (NEW_NODE, UP) only from now on. */
	if (n->gossiper && gossiper_set_app_str(n->gossiper, APP_RPC_READY, "true"))
		return cerr_set(err, COL_ENOMEM, "gossip: cannot announce RPC_READY");
	log_info("node", "CQL native transport on %s:%d (%lld ms after start)", n->rpc_host,
	         cfg->native_transport_port, (long long)(clock_mono_ms() - n->start_mono_ms));
	return 0;
}

/*
 * An address from the config: numeric as is; `auto` is this host's own
 * address (a container's address on its network, net_own_address()); a host
 * name is resolved once at start (containers name their hosts).  Errors name
 * the key.
 */
static int resolve_addr(const char *key, const char *host, char *out, size_t cap, struct cerr *err)
{
	struct net_addr a;
	if (!strcmp(host, "auto")) {
		if (net_own_address(out, cap, err)) {
			cerr_prefix(err, "%s: auto", key);
			return COL_ECONFIG;
		}
		log_info("node", "%s auto is %s", key, out);
		return 0;
	}
	if (net_addr_parse(host, 0, &a, NULL) == 0 || net_addr_resolve(host, 0, &a, NULL) == 0) {
		net_addr_host(&a, out, cap);
		if (strcmp(out, host) != 0)
			log_info("node", "%s %s resolves to %s", key, host, out);
		return 0;
	}
	return cerr_set(err, COL_ECONFIG, "%s: cannot resolve '%s' to an address", key, host);
}

/*
 * The four addresses.  A derived one (broadcast from listen, broadcast_rpc
 * from rpc) that names the same text takes the resolved value as is, so
 * `auto` or a name is looked up once.
 */
static int resolve_addresses(struct node *n, struct cerr *err)
{
	const struct config *c = &n->cfg;
	int rc = resolve_addr("listen_address", c->listen_address, n->listen_host,
	                      sizeof(n->listen_host), err);
	if (!rc)
		rc = resolve_addr("rpc_address", c->rpc_address, n->rpc_host, sizeof(n->rpc_host),
		                  err);
	if (!rc && !strcmp(c->broadcast_address, c->listen_address))
		snprintf(n->broadcast_host, sizeof(n->broadcast_host), "%s", n->listen_host);
	else if (!rc)
		rc = resolve_addr("broadcast_address", c->broadcast_address, n->broadcast_host,
		                  sizeof(n->broadcast_host), err);
	if (!rc && !strcmp(c->broadcast_rpc_address, c->rpc_address))
		snprintf(n->broadcast_rpc_host, sizeof(n->broadcast_rpc_host), "%s", n->rpc_host);
	else if (!rc)
		rc = resolve_addr("broadcast_rpc_address", c->broadcast_rpc_address,
		                  n->broadcast_rpc_host, sizeof(n->broadcast_rpc_host), err);
	if (!rc && !strcmp(c->admin_address, c->listen_address))
		snprintf(n->admin_host, sizeof(n->admin_host), "%s", n->listen_host);
	else if (!rc)
		rc = resolve_addr("admin_address", c->admin_address, n->admin_host,
		                  sizeof(n->admin_host), err);
	if (rc)
		return rc;
	log_set_tag(n->broadcast_host); /* the address peers know us by, not "auto" */
	if (strcmp(n->broadcast_host, n->listen_host) != 0)
		log_info("node",
		         "listening on %s, announcing %s to peers (broadcast_address): they must "
		         "reach us there",
		         n->listen_host, n->broadcast_host);
	return 0;
}

/* ---- start-up: the ring known, gossip settled, then CQL ------------------------------------ */

/* Polls (one per gossip round) before serving at least, and unchanged ones in a row. */
#define SETTLE_MIN_POLLS    5
#define SETTLE_STABLE_POLLS 3

/* One of the seeds is this node: it may form a cluster of its own. */
static bool self_is_seed(const struct node *n)
{
	if (n->cfg.n_seeds == 0)
		return true;
	for (int i = 0; i < n->cfg.n_seeds; i++) {
		const char *h = n->cfg.seeds[i].host;
		if (!strcmp(h, "auto") || !strcmp(h, n->broadcast_host) ||
		    !strcmp(h, n->listen_host))
			return true;
		char a[NODE_ADDR_MAX];
		struct cerr e = {0};
		struct net_addr na;
		if (net_addr_parse(h, 0, &na, NULL) == 0 || net_addr_resolve(h, 0, &na, &e) == 0) {
			net_addr_host(&na, a, sizeof(a));
			if (!strcmp(a, n->broadcast_host) || !strcmp(a, n->listen_host))
				return true;
		}
	}
	return false;
}

static bool owns_tokens(const struct gossip_endpoint *ge)
{
	char status[32];
	node_app_text(ge, APP_STATUS, status, sizeof(status));
	return !strcmp(status, GOSSIP_STATUS_NORMAL) || !strcmp(status, GOSSIP_STATUS_LEAVING);
}

struct owner_at {
	const char *addr;
	const struct gossip_endpoint *found;
};

static void find_owner_at(void *ctx, const struct gossip_endpoint *ge)
{
	struct owner_at *o = ctx;
	if (!gossip_endpoint_is_self(ge) && !strcmp(gossip_endpoint_host(ge), o->addr) &&
	    owns_tokens(ge) && !gossip_endpoint_is_alive(ge))
		o->found = ge;
}

/*
 * Replace the DOWN token owner last seen at replace_address_first_boot: take
 * its tokens and tell peers (APP_REPLACING) so they drop it from the ring.
 */
static int node_replace(struct node *n, const struct gossip_endpoint *old, struct cerr *err)
{
	size_t tl = 0;
	const uint8_t *tv = gossip_endpoint_app(old, APP_TOKENS, &tl, NULL);
	int64_t *t = malloc(IDENTITY_MAX_TOKENS * sizeof(*t));
	size_t nt = 0;
	if (!t)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	int rc = tv ? node_tokens_decode(tv, tl, t, IDENTITY_MAX_TOKENS, &nt) : COL_ECORRUPT;
	if (!rc)
		rc = identity_adopt_tokens(n->store, &n->id, t, nt, err);
	else
		cerr_set(err, rc, "its TOKENS state does not decode");
	free(t);
	if (rc)
		return rc;
	identity_tokens_encode(n->id.tokens, n->id.n_tokens, n->tokens_value,
	                       sizeof(n->tokens_value), &n->tokens_value_len);
	char hid[HOST_ID_STRLEN];
	host_id_format(gossip_endpoint_host_id(old), hid);
	if (gossiper_set_app_state(n->gossiper, APP_TOKENS, n->tokens_value, n->tokens_value_len) ||
	    gossiper_set_app_str(n->gossiper, APP_REPLACING, hid))
		return cerr_set(err, COL_ENOMEM, "cannot set our application states");
	log_info("node", "replacing node %s (host id %s): took its %zu tokens",
	         gossip_endpoint_host(old), hid, n->id.n_tokens);
	struct host_id h = *gossip_endpoint_host_id(old);
	(void)gossiper_remove(n->gossiper, &h, "this node replaces it");
	return 0;
}

/*
 * First boot, gossip settled: a token owner last seen at our own address is
 * another node, not us; we join only as its declared replacement.  Then
 * announce NORMAL.  0, or -1 after logging why the node does not join.
 */
static int node_join(struct node *n)
{
	const char *repl = n->cfg.replace_address_first_boot;
	char want[NODE_ADDR_MAX] = "";
	struct cerr err = {0};
	if (repl && repl[0] &&
	    resolve_addr("replace_address_first_boot", repl, want, sizeof(want), &err)) {
		log_error("node", "cannot join: %s", err.msg);
		return -1;
	}
	struct owner_at here = {n->broadcast_host, NULL}, there = {want, NULL};
	gossiper_foreach(n->gossiper, find_owner_at, &here);
	if (want[0])
		gossiper_foreach(n->gossiper, find_owner_at, &there);
	if (here.found && strcmp(want, n->broadcast_host) != 0) {
		char hid[HOST_ID_STRLEN];
		host_id_format(gossip_endpoint_host_id(here.found), hid);
		log_error("node",
		          "refusing to join: %s is the address of node %s, which owns tokens and "
		          "is DOWN; this node (a new host id) is not it.  To replace that node, "
		          "start with replace_address_first_boot: %s; to add a node, give it "
		          "another address",
		          n->broadcast_host, hid, n->broadcast_host);
		return -1;
	}
	if (want[0] && !there.found)
		log_warn("node",
		         "replace_address_first_boot %s: no DOWN node owning tokens was last seen "
		         "there; joining as a new node",
		         want);
	if (there.found && node_replace(n, there.found, &err)) {
		log_error("node", "cannot replace %s: %s", want, err.msg);
		return -1;
	}
	if (gossiper_set_app_str(n->gossiper, APP_STATUS, GOSSIP_STATUS_NORMAL)) {
		log_error("node", "cannot announce NORMAL: out of memory");
		return -1;
	}
	if (identity_joined(n->store, &n->id, &err))
		log_warn("node", "cannot record that we joined: %s", err.msg);
	n->joining = false;
	node_ring_dirty(n);
	log_info("node", "joined the ring: NORMAL with %zu tokens", n->id.n_tokens);
	return 0;
}

/*
 * The ring is known once a peer has gossiped with us, or we are a seed.  A node that
 * joined before may also start from the peers its last run saved; a node still joining
 * may not: whether a DOWN token owner holds its address, and whether it replaces one
 * (node_join), is a question about the cluster now, which peers saved by an earlier,
 * refused start do not answer (they hold no liveness and no tokens' owners' states).
 */
static bool ring_known(const struct node *n)
{
	return gossiper_has_contact(n->gossiper) || n->self_seed || (!n->joining && n->peers.n > 0);
}

/*
 * Every gossip round until CQL opens (Cassandra's waitToSettle): the ring must
 * be known (peers from the system table, a seed answered, or we are a seed),
 * then the endpoints known and live unchanged for a few polls.
 */
static void on_settle(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct node *n = w->data;
	if (n->stopping)
		return;
	if (!ring_known(n)) {
		int64_t now = clock_mono_ms();
		if (now - n->settle_logged_ms >= 10000) {
			n->settle_logged_ms = now;
			log_warn("node",
			         "not serving CQL yet: no seed has answered and %s, so this node "
			         "does not know the ring (seeds: %s%s)",
			         n->joining ? "a node joins only from the cluster's present state"
			                    : "no peer is known from an earlier run",
			         n->cfg.n_seeds ? n->cfg.seeds[0].host : "none",
			         n->cfg.n_seeds > 1 ? ", ..." : "");
		}
		return;
	}
	uint64_t sig = (uint64_t)gossiper_endpoint_count(n->gossiper) << 32 |
	               gossiper_live_count(n->gossiper);
	n->settle_stable = n->settle_polls && sig == n->settle_last ? n->settle_stable + 1 : 0;
	n->settle_last = sig;
	if (++n->settle_polls < SETTLE_MIN_POLLS || n->settle_stable < SETTLE_STABLE_POLLS)
		return;
	ev_timer_stop(n->loop, &n->settle_timer);
	struct cerr err = {0};
	if ((n->joining && node_join(n)) || start_cql(n, &err)) {
		if (err.msg[0])
			log_error("node", "cannot start: %s", err.msg);
		n->exit_code = 1;
		node_stop(n);
		return;
	}
	n->serving = true;
}

/* ---- life cycle ------------------------------------------------------------------------- */

static void log_admin_guard(const struct node *n);

/* The authenticator (CQL logins wait for it) and the admin endpoint. */
static int start_auth_and_admin(struct node *n, struct cerr *err)
{
	int rc = node_start_auth(n, err);
	const struct config_tls *at = &n->cfg.admin_tls;
	struct admin_tls tls = {at->certificate, at->private_key, at->truststore};
	if (!rc)
		rc = admin_new_tls(n->loop, n->admin_host, (uint16_t)n->cfg.admin_port,
		                   node_admin_routes, node_admin_n_routes, n, n->cfg.admin_token,
		                   at->enabled ? &tls : NULL, &n->admin, err);
	if (!rc)
		log_admin_guard(n);
	return rc;
}

static void log_admin_guard(const struct node *n)
{
	const struct config *cfg = &n->cfg;
	const char *guard = cfg->admin_token && *cfg->admin_token ? "need the admin token"
	                    : admin_on_loopback(n->admin)
	                            ? "open to local clients: no admin_token is configured"
	                            : "refused: no admin_token is configured";
	log_info("node",
	         "admin HTTP on %s:%d (JSON under /v1/, Prometheus /metrics; /v1/dump and "
	         "POST %s)",
	         n->admin_host, cfg->admin_port, guard);
}

/* Storage: the data directory and, in it, who we are (host id, tokens, generation). */
static int open_store_and_identity(struct node *n, struct cerr *err)
{
	const struct config *cfg = &n->cfg;
	int rc;
	struct store_options so;
	store_options_init(&so);
	so.data_dir = cfg->data_directory;
	so.sync = cfg->commitlog_sync == CONFIG_SYNC_BATCH ? STORE_SYNC_BATCH : STORE_SYNC_PERIODIC;
	so.sync_period_ms = (unsigned)cfg->commitlog_sync_period_ms;
	so.write_buffer_bytes = (size_t)cfg->rocksdb_write_buffer_size;
	so.memtable_budget_bytes = (size_t)cfg->rocksdb_db_write_buffer_size;
	so.block_cache_bytes = (size_t)cfg->rocksdb_block_cache_size;
	so.max_memtables = cfg->rocksdb_max_write_buffer_number;
	so.l0_compaction_trigger = cfg->rocksdb_level0_file_num_compaction_trigger;
	so.l0_slowdown_trigger = cfg->rocksdb_level0_slowdown_writes_trigger;
	so.l0_stop_trigger = cfg->rocksdb_level0_stop_writes_trigger;
	so.write_queue_max = (size_t)cfg->storage_write_queue;
	so.write_queue_max_bytes = (size_t)cfg->storage_write_queue_bytes;
	so.write_inline = cfg->storage_write_inline;
	if (cfg->tombstone_gc && strcmp(cfg->tombstone_gc, "timeout") == 0) {
		so.tombstone_gc = STORE_GC_TIMEOUT;
	} else if (cfg->tombstone_gc && strcmp(cfg->tombstone_gc, "repair") != 0) {
		rc = cerr_set(err, COL_ECONFIG,
		              "tombstone_gc: '%s': expected 'repair' or 'timeout'",
		              cfg->tombstone_gc);
		return rc;
	}
	rc = store_open(&so, &n->store, err);
	if (rc)
		return rc;
	rc = identity_load(n->store, cfg->num_tokens, clock_wall_s(), &n->id, err);
	if (rc) {
		cerr_prefix(err, "data directory %s", cfg->data_directory);
		return rc;
	}
	char hid[37];
	uuid_format(n->id.host_id, hid);
	if (n->id.first_boot)
		log_info("node", "first boot: host id %s, %zu random tokens, stored in %s", hid,
		         n->id.n_tokens, cfg->data_directory);
	else
		log_info("node", "host id %s with %zu tokens loaded from %s", hid, n->id.n_tokens,
		         cfg->data_directory);
	if (!n->id.first_boot && (int)n->id.n_tokens != cfg->num_tokens)
		log_warn("node",
		         "num_tokens is %d but this node already owns %zu tokens; keeping them "
		         "(changing a node's tokens needs a decommission)",
		         cfg->num_tokens, n->id.n_tokens);
	log_info("node", "generation %lld", (long long)n->id.generation);
	n->load_bytes = dir_bytes(n);
	return 0;
}

int node_new(const struct config *cfg, struct node **out, struct cerr *err)
{
	struct node *n = calloc(1, sizeof(*n));
	if (!n)
		return cerr_set(err, COL_ENOMEM, "node: out of memory");
	pthread_mutex_init(&n->ring_lock, NULL);
	n->cfg = *cfg;
	node_mut_bytes_init(n, &n->mut_bytes);
	n->start_mono_ms = clock_mono_ms();
	/* SIGPIPE: a peer that vanished is an EPIPE on write, not a dead node. */
	signal(SIGPIPE, SIG_IGN);
	int rc0 = resolve_addresses(n, err);
	if (rc0) {
		free(n);
		return rc0;
	}
	n->start_wall_s = clock_wall_s();
	int rc;

	n->loop = ev_loop_new(EVFLAG_AUTO);
	if (!n->loop) {
		free(n);
		return cerr_set(err, COL_ENOMEM, "node: cannot create the event loop");
	}
	rc = net_loop_new(n->loop, &n->net);
	if (rc) {
		cerr_set(err, rc, "node: cannot create the network loop");
		goto fail;
	}
	net_loop_set_coalescing(n->net, (uint32_t)n->cfg.io_coalescing_window_us);

	rc = open_store_and_identity(n, err);
	if (rc)
		goto fail;
	rc = store_lane_new(n->store, n->loop, &n->lane, err);
	if (rc)
		goto fail;

	rc = schema_open(n->store, &n->schema, err);
	if (rc)
		goto fail;
	n->joining = n->id.joining;
	n->self_seed = self_is_seed(n);
	rc = node_peers_load(n, err);
	if (rc) {
		cerr_prefix(err, "system peers");
		goto fail;
	}

	n->view.ctx = n;
	n->view.cluster_name = cfg->cluster_name;
	n->view.gossip_generation = (int32_t)n->id.generation;
	n->view.local = view_local;
	n->view.peers = view_peers;
	n->view.repair_history = node_view_repair_history;
	n->view.ring_ref = node_ring_ref_cb;
	n->view.storage_port = cfg->storage_port;
	n->view.native_port = cfg->native_transport_port;
	n->view.snitch = cfg->endpoint_snitch == CONFIG_SNITCH_SIMPLE
	                         ? "SimpleSnitch"
	                         : "GossipingPropertyFileSnitch";

	ev_init(&n->ring_timer, on_ring_timer);
	n->ring_timer.data = n;
	rc = node_tls_load(n, err);
	if (rc)
		goto fail;
	rc = start_gossip(n, err);
	if (rc)
		goto fail;
	node_rebuild_ring(n);
	rc = start_schema_sync(n, err);
	if (rc)
		goto fail;
	rc = node_start_hints(n, err);
	if (rc)
		goto fail;
	rc = start_replication(n, err);
	if (rc)
		goto fail;
	rc = node_start_repair(n, err);
	if (rc)
		goto fail;
	/* Admin HTTP before CQL: the operator sees the node while it waits for the ring. */
	rc = start_auth_and_admin(n, err);
	if (rc)
		goto fail;

	ev_timer_init(&n->load_timer, on_load_timer, NODE_LOAD_INTERVAL_S, NODE_LOAD_INTERVAL_S);
	n->load_timer.data = n;
	ev_timer_start(n->loop, &n->load_timer);
	if (cfg->storage_adaptive_background_priority) {
		double tick = STORE_BG_TICK_MS / 1000.0;
		ev_timer_init(&n->bg_timer, on_bg_timer, tick, tick);
		n->bg_timer.data = n;
		ev_timer_start(n->loop, &n->bg_timer);
	}
	double poll = (double)cfg->gossip_interval_ms / 1000.0;
	ev_timer_init(&n->settle_timer, on_settle, poll, poll);
	n->settle_timer.data = n;
	ev_timer_start(n->loop, &n->settle_timer);
	*out = n;
	return 0;
fail:
	node_free(n);
	return rc ? rc : COL_EIO;
}

int node_run(struct node *n)
{
	ev_signal_init(&n->sigterm, on_signal, SIGTERM);
	ev_signal_init(&n->sigint, on_signal, SIGINT);
	n->sigterm.data = n->sigint.data = n;
	ev_signal_start(n->loop, &n->sigterm);
	ev_signal_start(n->loop, &n->sigint);
	node_tls_watch(n);
	n->started = true;
	log_info("node", "node started in %lld ms",
	         (long long)(clock_mono_ms() - n->start_mono_ms));
	while (!n->stopping)
		ev_run(n->loop, 0);
	ev_signal_stop(n->loop, &n->sigterm);
	ev_signal_stop(n->loop, &n->sigint);
	node_tls_unwatch(n);
	return 0;
}

void node_stop(struct node *n)
{
	n->stopping = true;
	ev_break(n->loop, EVBREAK_ALL);
}

void node_free(struct node *n)
{
	if (!n)
		return;
	int64_t t0 = clock_mono_ms();
	n->stopping = true;
	/* Reverse of start-up: stop answering, then leave the cluster, then storage. */
	if (n->loop) {
		ev_timer_stop(n->loop, &n->load_timer);
		ev_timer_stop(n->loop, &n->bg_timer);
		ev_timer_stop(n->loop, &n->ring_timer);
		ev_timer_stop(n->loop, &n->settle_timer);
		node_events_stop(n);
	}
	admin_free(n->admin);
	n->admin = NULL;
	/* DDL answers held for agreement go out (with a warning) before the CQL server closes. */
	if (n->sync) {
		schema_sync_stop(n->sync);
		net_loop_run_pending(n->net);
	}
	node_stop_roles(n);
	node_loops_close_main(n); /* the request loops' new work is refused from here */
	/* Clients go now; the server and its executor stay until its requests in flight end
	 * (below: the lane and messaging finish or fail them, and their answers run through
	 * the executor). */
	if (n->cql) {
		cqlserver_close(n->cql);
		log_info("node", "stopped accepting CQL clients");
	}
	if (n->gossiper) {
		/* Tell live peers now, so they mark us DOWN without waiting for phi. */
		gossiper_stop(n->gossiper, true);
		net_loop_run_pending(n->net);
		gossiper_free(n->gossiper);
		n->gossiper = NULL;
		log_info("node", "left gossip (announced shutdown to live peers)");
	}
	/* Writes in the lane finish (and answer through messaging) before messaging goes. */
	if (n->router)
		router_set_lane(n->router, NULL);
	store_lane_free(n->lane);
	n->lane = NULL;
	/* While messaging lives: its REPAIR handlers must not outlive the repair room. */
	repair_stop(n->repair);
	if (n->msg) {
		messaging_free(n->msg);
		n->msg = NULL;
	}
	node_tls_release(&n->tls);
	/* After messaging_free(), which ends their requests in flight. */
	schema_sync_free(n->sync);
	n->sync = NULL;
	batchlog_free(n->batchlog);
	n->batchlog = NULL;
	storage_proxy_free(n->sp);
	n->sp = NULL;
	repair_free(n->repair);
	n->repair = NULL;
	hints_free(n->hints);
	n->hints = NULL;
	verbs_free(n->verbs);
	n->verbs = NULL;
	node_loops_stop(n); /* every request the main loop ran for them has answered */
	/* After the lane, messaging and the storage proxy: no request of its clients is in
	 * flight, and no request loop forwards it more. */
	cqlserver_free(n->cql);
	n->cql = NULL;
	if (n->router) {
		router_free(n->router);
		n->router = NULL;
	}
	/* After the router: its internal reads in flight have answered. */
	node_free_auth(n);
	node_traces_free(n);
	if (n->roles_prepared)
		prepared_cache_free(n->roles_prepared);
	n->roles_prepared = NULL;
	schema_free(n->schema);
	n->schema = NULL;
	if (n->ring) {
		ring_unref(n->ring);
		n->ring = NULL;
	}
	node_peers_free(n);
	if (n->store) {
		struct cerr e = {0};
		if (store_flush(n->store, &e))
			log_warn("node", "flush at shutdown: %s", e.msg);
		store_close(n->store);
		n->store = NULL;
		if (n->started)
			log_info("node", "storage flushed and closed");
	}
	if (n->net)
		net_loop_free(n->net);
	if (n->loop)
		ev_loop_destroy(n->loop);
	if (n->started)
		log_info("node", "shutdown complete in %lld ms", (long long)(clock_mono_ms() - t0));
	pthread_mutex_destroy(&n->ring_lock);
	free(n);
}

int node_main(const struct config *cfg)
{
	log_info("node",
	         "Colonnade %s starting (pid %d); effective configuration:", COLONNADE_VERSION,
	         (int)getpid());
	config_describe(cfg, describe_line, NULL);
	struct node *n = NULL;
	struct cerr err = {0};
	int rc = node_new(cfg, &n, &err);
	if (rc) {
		log_error("node", "cannot start: %s", err.msg);
		return 1;
	}
	node_run(n);
	int status = n->exit_code;
	node_free(n);
	return status;
}
