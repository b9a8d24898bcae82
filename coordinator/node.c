/*
 * node.c — a node's life: start-up in order, the loop, clean shutdown.
 */
#include "coordinator/node_int.h"

#include "coordinator/schema.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/net.h"
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

/* Bytes of regular files under `path` (depth-bounded; symlinks not followed). */
static int64_t dir_bytes(const char *path, int depth)
{
	if (depth > 8)
		return 0;
	DIR *d = opendir(path);
	if (!d)
		return 0;
	int64_t total = 0;
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
		if (S_ISREG(st.st_mode))
			total += st.st_size;
		else if (S_ISDIR(st.st_mode))
			total += dir_bytes(p, depth + 1);
	}
	closedir(d);
	return total;
}

static void on_load_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct node *n = w->data;
	n->load_bytes = dir_bytes(n->cfg.data_directory, 0);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	struct node *n = w->data;
	if (n->stopping) {
		log_warn("node", "second %s while shutting down; still shutting down",
		         strsignal(w->signum));
		return;
	}
	n->stopping = true;
	n->stop_signal = w->signum;
	log_info("node", "received %s, shutting down", strsignal(w->signum));
	ev_break(loop, EVBREAK_ALL);
}

static void describe_line(const char *line, void *ctx)
{
	(void)ctx;
	log_info("config", "  %s", line);
}

/* ---- the view the CQL server's system tables read --------------------------------------- */

static bool parse_inet(const char *text, uint8_t out[16], uint8_t *len)
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
	cluster_node_emit_fn emit;
	void *ectx;
	bool want_local;
};

static void view_endpoint(void *ctx, const struct node_endpoint *ep)
{
	struct view_emit *ve = ctx;
	if (ep->local != ve->want_local || !ep->has_host_id)
		return;
	struct cluster_node_info info;
	memset(&info, 0, sizeof(info));
	memcpy(info.host_id, ep->host_id, 16);
	info.dc = ep->dc;
	info.rack = ep->rack;
	if (!parse_inet(ep->address, info.addr, &info.addr_len))
		return;
	if (!parse_inet(ep->rpc_address[0] ? ep->rpc_address : ep->address, info.rpc_addr,
	                &info.rpc_addr_len))
		return;
	info.tokens = ep->tokens;
	info.n_tokens = ep->n_tokens;
	info.has_schema_version =
	        ep->schema_version[0] && parse_uuid(ep->schema_version, info.schema_version);
	info.release_version = ep->local ? NULL : ep->release_version;
	ve->emit(ve->ectx, &info);
}

static void view_local(void *ctx, cluster_node_emit_fn emit, void *ectx)
{
	struct view_emit ve = {emit, ectx, true};
	node_each_endpoint(ctx, view_endpoint, &ve);
}

static void view_peers(void *ctx, cluster_node_emit_fn emit, void *ectx)
{
	struct view_emit ve = {emit, ectx, false};
	node_each_endpoint(ctx, view_endpoint, &ve);
}

/* ---- endpoints ---------------------------------------------------------------------------- */

void node_each_endpoint(struct node *n, node_endpoint_fn fn, void *ctx)
{
	struct node_endpoint ep;
	memset(&ep, 0, sizeof(ep));
	ep.local = true;
	snprintf(ep.address, sizeof(ep.address), "%s", n->cfg.broadcast_address);
	snprintf(ep.rpc_address, sizeof(ep.rpc_address), "%s", n->cfg.broadcast_rpc_address);
	memcpy(ep.host_id, n->id.host_id, 16);
	ep.has_host_id = true;
	snprintf(ep.dc, sizeof(ep.dc), "%s", n->cfg.dc);
	snprintf(ep.rack, sizeof(ep.rack), "%s", n->cfg.rack);
	ep.up = true;
	ep.state = n->stopping ? "SHUTDOWN" : "NORMAL";
	ep.load = n->load_bytes;
	ep.tokens = n->id.tokens;
	ep.n_tokens = n->id.n_tokens;
	ep.generation = n->id.generation;
	ep.heartbeat = 0;
	if (n->schema)
		schema_uuid_format(schema_current(n->schema)->version, ep.schema_version);
	snprintf(ep.release_version, sizeof(ep.release_version), "%s", SYSTABLES_RELEASE_VERSION);
	fn(ctx, &ep);
	/* Peers come from gossip (gossiper endpoint iteration) once wired. */
}

/* ---- life cycle ------------------------------------------------------------------------- */

int node_new(const struct config *cfg, struct node **out, struct cerr *err)
{
	struct node *n = calloc(1, sizeof(*n));
	if (!n)
		return cerr_set(err, COL_ENOMEM, "node: out of memory");
	n->cfg = *cfg;
	n->start_mono_ms = clock_mono_ms();
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

	/* Storage: the data directory and, in it, who we are. */
	struct store_options so;
	store_options_init(&so);
	so.data_dir = cfg->data_directory;
	so.sync = cfg->commitlog_sync == CONFIG_SYNC_BATCH ? STORE_SYNC_BATCH : STORE_SYNC_PERIODIC;
	so.sync_period_ms = (unsigned)cfg->commitlog_sync_period_ms;
	rc = store_open(&so, &n->store, err);
	if (rc)
		goto fail;
	rc = identity_load(n->store, cfg->num_tokens, clock_wall_s(), &n->id, err);
	if (rc) {
		cerr_prefix(err, "data directory %s", cfg->data_directory);
		goto fail;
	}
	char hid[37];
	identity_uuid_format(n->id.host_id, hid);
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
	n->load_bytes = dir_bytes(cfg->data_directory, 0);

	rc = schema_open(n->store, &n->schema, err);
	if (rc)
		goto fail;

	n->view.ctx = n;
	n->view.cluster_name = cfg->cluster_name;
	n->view.gossip_generation = (int32_t)n->id.generation;
	n->view.local = view_local;
	n->view.peers = view_peers;

	/* Admin HTTP last: when it answers, everything it reports exists. */
	rc = admin_new(n->loop, cfg->listen_address, (uint16_t)cfg->admin_port, node_admin_routes,
	               node_admin_n_routes, n, &n->admin, err);
	if (rc)
		goto fail;
	log_info("node", "admin HTTP on %s:%d (JSON under /v1/, Prometheus /metrics)",
	         cfg->listen_address, cfg->admin_port);

	ev_timer_init(&n->load_timer, on_load_timer, NODE_LOAD_INTERVAL_S, NODE_LOAD_INTERVAL_S);
	n->load_timer.data = n;
	ev_timer_start(n->loop, &n->load_timer);
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
	/* SIGPIPE: a peer that vanished is an EPIPE on write, not a dead node. */
	signal(SIGPIPE, SIG_IGN);
	log_info("node", "node started in %lld ms",
	         (long long)(clock_mono_ms() - n->start_mono_ms));
	while (!n->stopping)
		ev_run(n->loop, 0);
	ev_signal_stop(n->loop, &n->sigterm);
	ev_signal_stop(n->loop, &n->sigint);
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
	if (n->loop)
		ev_timer_stop(n->loop, &n->load_timer);
	admin_free(n->admin);
	n->admin = NULL;
	schema_free(n->schema);
	n->schema = NULL;
	if (n->store) {
		struct cerr e = {0};
		if (store_flush(n->store, &e))
			log_warn("node", "flush at shutdown: %s", e.msg);
		store_close(n->store);
		n->store = NULL;
	}
	if (n->net)
		net_loop_free(n->net);
	if (n->loop)
		ev_loop_destroy(n->loop);
	log_info("node", "shutdown complete in %lld ms", (long long)(clock_mono_ms() - t0));
	free(n);
}

int node_main(const struct config *cfg)
{
	log_info("node",
	         "Colonnade %s starting (pid %d); effective configuration:", COLONNADE_VERSION,
	         (int)getpid());
	config_describe(cfg, describe_line, NULL);
	if (cfg->io_threads != 1)
		log_info("node", "io_threads=%d: this version runs one event loop per node",
		         cfg->io_threads);
	struct node *n = NULL;
	struct cerr err = {0};
	int rc = node_new(cfg, &n, &err);
	if (rc) {
		log_error("node", "cannot start: %s", err.msg);
		return 1;
	}
	node_run(n);
	node_free(n);
	return 0;
}
