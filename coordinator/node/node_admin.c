/*
 * node_admin.c — what the admin endpoint answers (docs/OPERATIONS.md):
 *
 *   /v1/status           every endpoint: up/down, state, load, tokens, owns, ids
 *   /v1/info             this node: ids, generation, uptime, memory, addresses
 *   /v1/gossipinfo       every endpoint's gossip state (generation, heartbeat,
 *                        application states with their versions)
 *   /v1/describecluster  cluster name, partitioner, snitch, schema versions
 *   /v1/ring             tokens in ring order with their owner
 *   /v1/endpoints        replicas of a partition key (inspect.h)
 *   /v1/dump             what this node stores of a partition (inspect.h)
 *   /metrics             Prometheus text exposition (version 0.0.4)
 *   /health              "ok" while the node runs (for scripts)
 *
 * Everything runs on the loop thread (admin.h), so it reads live state.
 */
#include "coordinator/node/node_int.h"

#include "coordinator/transport/cqlserver.h"
#include "coordinator/admin/inspect.h"
#include "coordinator/replication/router.h"
#include "coordinator/schema/schema.h"
#include "coordinator/schema/schema_sync.h"
#include "coordinator/replication/storage_proxy.h"
#include "coordinator/replication/verbs.h"
#include "core/array.h"
#include "core/ring.h"
#include "core/clock.h"
#include "core/hex.h"
#include "core/config.h"
#include "core/log.h"
#include "core/net.h"
#include "gossip/gossiper.h"
#include "gossip/messaging.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A snapshot of every endpoint, with ownership computed from the tokens. */
struct snap {
	struct node_endpoint *eps;
	int64_t **tokens; /* owned copies */
	double *owns;     /* -1 when not computable */
	size_t n, cap;
	bool oom;
};

static void snap_add(void *ctx, const struct node_endpoint *ep)
{
	struct snap *s = ctx;
	if (s->oom)
		return;
	if (s->n == s->cap) {
		size_t nc = array_next_cap(s->cap, s->n + 1);
		struct node_endpoint *e = array_resize(s->eps, nc, sizeof(*e));
		int64_t **t = e ? array_resize(s->tokens, nc, sizeof(*t)) : NULL;
		if (e)
			s->eps = e;
		if (t)
			s->tokens = t;
		if (!e || !t) {
			s->oom = true;
			return;
		}
		s->cap = nc;
	}
	s->eps[s->n] = *ep;
	s->tokens[s->n] = NULL;
	if (ep->n_tokens) {
		s->tokens[s->n] = malloc(ep->n_tokens * sizeof(int64_t));
		if (!s->tokens[s->n]) {
			s->oom = true;
			return;
		}
		memcpy(s->tokens[s->n], ep->tokens, ep->n_tokens * sizeof(int64_t));
	}
	s->eps[s->n].tokens = s->tokens[s->n];
	s->n++;
}

static void snap_free(struct snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->tokens[i]);
	free(s->tokens);
	free(s->eps);
	free(s->owns);
}

/*
 * Token ownership (core/ring.h) for endpoints with tokens: plain (rep NULL, sums
 * to 1) or effective under a keyspace's replication (sums to its total RF).
 */
static void snap_ownership(struct snap *s, const struct replication *rep, struct ring **ring_out,
                           size_t *ring_index)
{
	s->owns = calloc(s->n ? s->n : 1, sizeof(double));
	if (!s->owns) {
		s->oom = true;
		return;
	}
	for (size_t i = 0; i < s->n; i++)
		s->owns[i] = -1;
	struct ring_endpoint *re = calloc(s->n ? s->n : 1, sizeof(*re));
	size_t *map = calloc(s->n ? s->n : 1, sizeof(*map));
	if (!re || !map) {
		free(re);
		free(map);
		return;
	}
	size_t m = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct node_endpoint *ep = &s->eps[i];
		if (!ep->n_tokens || !ep->has_host_id)
			continue;
		memcpy(re[m].host_id, ep->host_id, 16);
		snprintf(re[m].address, sizeof(re[m].address), "%s", ep->address);
		snprintf(re[m].dc, sizeof(re[m].dc), "%s", ep->dc);
		snprintf(re[m].rack, sizeof(re[m].rack), "%s", ep->rack);
		re[m].tokens = ep->tokens;
		re[m].n_tokens = ep->n_tokens;
		map[m++] = i;
	}
	struct ring *r = NULL;
	struct cerr e = {0};
	if (m && ring_new(re, m, &r, &e) == 0) {
		double *o = calloc(m, sizeof(double));
		if (o) {
			ring_ownership(r, rep, o);
			for (size_t k = 0; k < m; k++)
				s->owns[map[k]] = o[k];
			free(o);
		}
	} else if (m) {
		log_warn("admin", "cannot build the ring for ownership: %s", e.msg);
	}
	if (ring_out && r) {
		*ring_out = r;
		for (size_t k = 0; k < m; k++)
			ring_index[k] = map[k];
	} else if (r) {
		ring_unref(r);
	}
	free(re);
	free(map);
}

static void write_endpoint(struct jw *w, const struct snap *s, size_t i)
{
	const struct node_endpoint *ep = &s->eps[i];
	char hid[37];
	jw_obj(w);
	jw_key(w, "address");
	jw_str(w, ep->address);
	jw_key(w, "rpc_address");
	jw_str(w, ep->rpc_address);
	jw_key(w, "host_id");
	if (ep->has_host_id) {
		uuid_format(ep->host_id, hid);
		jw_str(w, hid);
	} else {
		jw_null(w);
	}
	jw_key(w, "dc");
	jw_str(w, ep->dc);
	jw_key(w, "rack");
	jw_str(w, ep->rack);
	jw_key(w, "up");
	jw_bool(w, ep->up);
	jw_key(w, "state");
	jw_str(w, ep->state);
	jw_key(w, "load");
	if (ep->load >= 0)
		jw_int(w, ep->load);
	else
		jw_null(w);
	jw_key(w, "tokens");
	jw_uint(w, ep->n_tokens);
	jw_key(w, "owns");
	if (s->owns && s->owns[i] >= 0)
		jw_double(w, s->owns[i]);
	else
		jw_null(w);
	jw_key(w, "generation");
	jw_int(w, ep->generation);
	jw_key(w, "heartbeat");
	jw_int(w, ep->heartbeat);
	jw_key(w, "schema_version");
	jw_str(w, ep->schema_version[0] ? ep->schema_version : NULL);
	jw_key(w, "release_version");
	jw_str(w, ep->release_version);
	jw_key(w, "local");
	jw_bool(w, ep->local);
	jw_obj_end(w);
}

static const char *snitch_name(const struct config *c)
{
	return c->endpoint_snitch == CONFIG_SNITCH_SIMPLE
	               ? "org.apache.cassandra.locator.SimpleSnitch"
	               : "org.apache.cassandra.locator.GossipingPropertyFileSnitch";
}

/* 400/404/503 answers: {"error": "..."}. */
static int answer_error(struct buf *out, int status, const char *msg)
{
	struct jw w;
	out->len = 0;
	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "error");
	jw_str(&w, msg);
	jw_obj_end(&w);
	return status;
}

static int h_status(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)query;
	(void)ctype;
	struct node *n = ctx;
	struct jw w;
	/* ?keyspace=ks: "effective" ownership under that keyspace's replication. */
	struct replication rep;
	char ksbuf[SCHEMA_NAME_MAX + 1];
	int qrc = inspect_query_param(query, "keyspace", ksbuf, sizeof(ksbuf));
	if (qrc == COL_EINVAL)
		return answer_error(out, 404, "keyspace name too long or badly %-encoded");
	const char *ks = qrc == 0 ? ksbuf : NULL;
	if (ks) {
		const struct schema_keyspace *k =
		        n->schema ? schema_snap_keyspace(schema_current(n->schema), ks) : NULL;
		struct cerr e = {0};
		if (!k ||
		    replication_parse((const char *const *)k->repl_keys,
		                      (const char *const *)k->repl_vals, k->n_repl, &rep, &e)) {
			jw_init(&w, out);
			jw_obj(&w);
			jw_key(&w, "error");
			char msg[300];
			if (!k)
				snprintf(msg, sizeof(msg), "keyspace '%.100s' does not exist", ks);
			else
				snprintf(msg, sizeof(msg), "keyspace '%.100s': %.180s", ks, e.msg);
			jw_str(&w, msg);
			jw_obj_end(&w);
			return k ? 500 : 404;
		}
	}
	struct snap s = {0};
	node_each_endpoint(n, snap_add, &s);
	snap_ownership(&s, ks ? &rep : NULL, NULL, NULL);
	if (s.oom) {
		snap_free(&s);
		return 500;
	}
	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "cluster_name");
	jw_str(&w, n->cfg.cluster_name);
	jw_key(&w, "partitioner");
	jw_str(&w, SYSTABLES_PARTITIONER);
	jw_key(&w, "ownership");
	jw_str(&w, ks ? "effective" : "plain");
	jw_key(&w, "keyspace");
	jw_str(&w, ks);
	jw_key(&w, "nodes");
	jw_arr(&w);
	for (size_t i = 0; i < s.n; i++)
		write_endpoint(&w, &s, i);
	jw_arr_end(&w);
	jw_obj_end(&w);
	snap_free(&s);
	return 200;
}

static int h_info(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)query;
	(void)ctype;
	struct node *n = ctx;
	char hid[37];
	uuid_format(n->id.host_id, hid);
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "host_id");
	jw_str(&w, hid);
	jw_key(&w, "cluster_name");
	jw_str(&w, n->cfg.cluster_name);
	jw_key(&w, "gossip_active");
	jw_bool(&w, n->gossiper != NULL && !n->stopping);
	jw_key(&w, "native_transport_active");
	jw_bool(&w, n->cql != NULL && !n->stopping);
	jw_key(&w, "load");
	jw_int(&w, n->load_bytes);
	jw_key(&w, "generation");
	jw_int(&w, n->id.generation);
	jw_key(&w, "uptime_s");
	jw_int(&w, (clock_mono_ms() - n->start_mono_ms) / 1000);
	jw_key(&w, "rss_bytes");
	jw_int(&w, node_rss_bytes());
	jw_key(&w, "dc");
	jw_str(&w, n->cfg.dc);
	jw_key(&w, "rack");
	jw_str(&w, n->cfg.rack);
	jw_key(&w, "listen_address");
	jw_str(&w, n->cfg.listen_address);
	jw_key(&w, "broadcast_address");
	jw_str(&w, n->cfg.broadcast_address);
	jw_key(&w, "rpc_address");
	jw_str(&w, n->cfg.broadcast_rpc_address);
	jw_key(&w, "storage_port");
	jw_int(&w, n->cfg.storage_port);
	jw_key(&w, "native_transport_port");
	jw_int(&w, n->cfg.native_transport_port);
	jw_key(&w, "data_directory");
	jw_str(&w, n->cfg.data_directory);
	jw_key(&w, "release_version");
	jw_str(&w, SYSTABLES_RELEASE_VERSION);
	jw_key(&w, "version");
	jw_str(&w, COLONNADE_VERSION);
	jw_key(&w, "pid");
	jw_int(&w, (int64_t)getpid());
	jw_key(&w, "tokens");
	jw_arr(&w);
	for (size_t i = 0; i < n->id.n_tokens; i++) {
		char t[24];
		snprintf(t, sizeof(t), "%lld", (long long)n->id.tokens[i]);
		jw_str(&w, t); /* strings: a JSON number loses int64 precision in many readers */
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	return 200;
}

/* Every endpoint's gossip state, as `nodetool gossipinfo` lists it. */
static void gi_endpoint(void *ctx, const struct gossip_endpoint *ge)
{
	struct jw *w = ctx;
	jw_obj(w);
	jw_key(w, "address");
	jw_str(w, gossip_endpoint_host(ge));
	jw_key(w, "generation");
	jw_int(w, gossip_endpoint_generation(ge));
	jw_key(w, "heartbeat");
	jw_uint(w, gossip_endpoint_heartbeat(ge));
	jw_key(w, "up");
	jw_bool(w, gossip_endpoint_is_self(ge) || gossip_endpoint_is_alive(ge));
	jw_key(w, "phi");
	jw_double(w, gossip_endpoint_phi(ge));
	jw_key(w, "states");
	jw_arr(w);
	for (unsigned key = 0; key < APP_MAX; key++) {
		size_t len = 0;
		uint64_t version = 0;
		const uint8_t *v = gossip_endpoint_app(ge, key, &len, &version);
		if (!v)
			continue;
		char name[24];
		jw_obj(w);
		jw_key(w, "name");
		jw_str(w, app_state_name(key, name, sizeof(name)));
		jw_key(w, "version");
		jw_uint(w, version);
		jw_key(w, "value");
		if (key == APP_TOKENS) {
			/* Binary (identity.h layout): show the count, `ring` shows the tokens. */
			int64_t t[IDENTITY_MAX_TOKENS];
			size_t n = 0;
			char text[48];
			if (node_tokens_decode(v, len, t, IDENTITY_MAX_TOKENS, &n) == 0)
				snprintf(text, sizeof(text), "<%zu tokens>", n);
			else
				snprintf(text, sizeof(text), "<%zu bytes, undecodable>", len);
			jw_str(w, text);
		} else {
			jw_strn(w, (const char *)v, len);
		}
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

static int h_gossipinfo(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)query;
	(void)ctype;
	struct node *n = ctx;
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "endpoints");
	jw_arr(&w);
	if (n->gossiper)
		gossiper_foreach(n->gossiper, gi_endpoint, &w);
	jw_arr_end(&w);
	jw_obj_end(&w);
	return 200;
}

static int h_describecluster(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)query;
	(void)ctype;
	struct node *n = ctx;
	struct snap s = {0};
	node_each_endpoint(n, snap_add, &s);
	if (s.oom) {
		snap_free(&s);
		return 500;
	}
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "name");
	jw_str(&w, n->cfg.cluster_name);
	jw_key(&w, "snitch");
	jw_str(&w, snitch_name(&n->cfg));
	jw_key(&w, "partitioner");
	jw_str(&w, SYSTABLES_PARTITIONER);
	/* Schema versions of live nodes; unreachable ones listed apart, as nodetool does. */
	jw_key(&w, "schema_versions");
	jw_arr(&w);
	bool *done = calloc(s.n ? s.n : 1, sizeof(bool));
	for (size_t i = 0; done && i < s.n; i++) {
		if (done[i] || !s.eps[i].up)
			continue;
		jw_obj(&w);
		jw_key(&w, "version");
		jw_str(&w, s.eps[i].schema_version[0] ? s.eps[i].schema_version : "unknown");
		jw_key(&w, "endpoints");
		jw_arr(&w);
		for (size_t k = i; k < s.n; k++) {
			if (done[k] || !s.eps[k].up ||
			    strcmp(s.eps[k].schema_version, s.eps[i].schema_version))
				continue;
			done[k] = true;
			jw_str(&w, s.eps[k].address);
		}
		jw_arr_end(&w);
		jw_obj_end(&w);
	}
	bool any_down = false;
	for (size_t i = 0; i < s.n; i++)
		any_down |= !s.eps[i].up;
	if (any_down) {
		jw_obj(&w);
		jw_key(&w, "version");
		jw_str(&w, "UNREACHABLE");
		jw_key(&w, "endpoints");
		jw_arr(&w);
		for (size_t i = 0; i < s.n; i++)
			if (!s.eps[i].up)
				jw_str(&w, s.eps[i].address);
		jw_arr_end(&w);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	free(done);
	int live = 0, joining = 0, leaving = 0, moving = 0, down = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (!s.eps[i].up) {
			down++;
			continue;
		}
		live++;
		joining += !strcmp(s.eps[i].state, "JOINING");
		leaving += !strcmp(s.eps[i].state, "LEAVING");
		moving += !strcmp(s.eps[i].state, "MOVING");
	}
	jw_key(&w, "live");
	jw_int(&w, live);
	jw_key(&w, "joining");
	jw_int(&w, joining);
	jw_key(&w, "moving");
	jw_int(&w, moving);
	jw_key(&w, "leaving");
	jw_int(&w, leaving);
	jw_key(&w, "unreachable");
	jw_int(&w, down);
	jw_key(&w, "datacenters");
	jw_arr(&w);
	for (size_t i = 0; i < s.n; i++) {
		bool first = true;
		for (size_t k = 0; k < i; k++)
			first &= strcmp(s.eps[k].dc, s.eps[i].dc) != 0;
		if (!first)
			continue;
		int nodes = 0, dn = 0;
		for (size_t k = i; k < s.n; k++) {
			if (strcmp(s.eps[k].dc, s.eps[i].dc))
				continue;
			nodes++;
			dn += !s.eps[k].up;
		}
		jw_obj(&w);
		jw_key(&w, "name");
		jw_str(&w, s.eps[i].dc);
		jw_key(&w, "nodes");
		jw_int(&w, nodes);
		jw_key(&w, "down");
		jw_int(&w, dn);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	snap_free(&s);
	return 200;
}

static int h_ring(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)query;
	(void)ctype;
	struct node *n = ctx;
	struct snap s = {0};
	node_each_endpoint(n, snap_add, &s);
	struct ring *r = NULL;
	size_t *idx = calloc(s.n ? s.n : 1, sizeof(size_t));
	if (!idx || s.oom) {
		free(idx);
		snap_free(&s);
		return 500;
	}
	snap_ownership(&s, NULL, &r, idx);
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "nodes");
	jw_arr(&w);
	for (size_t i = 0; i < s.n; i++)
		write_endpoint(&w, &s, i);
	jw_arr_end(&w);
	jw_key(&w, "tokens");
	jw_arr(&w);
	for (size_t i = 0; r && i < ring_token_count(r); i++) {
		size_t owner;
		int64_t t = ring_token_at(r, i, &owner);
		char ts[24];
		snprintf(ts, sizeof(ts), "%lld", (long long)t);
		jw_obj(&w);
		jw_key(&w, "token");
		jw_str(&w, ts);
		jw_key(&w, "node");
		jw_uint(&w, idx[owner]);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	if (r)
		ring_unref(r);
	free(idx);
	snap_free(&s);
	return 200;
}

static void metric(struct buf *b, const char *name, const char *type, const char *help,
                   double value)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name,
	           value);
}

/* A Prometheus label value: quoted, with \\, " and newline escaped. */
static void put_label(struct buf *b, const char *v)
{
	buf_put_u8(b, '"');
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_put_u8(b, '\\');
		if (*v == '\n') {
			buf_put_str(b, "\\n");
			continue;
		}
		buf_put_u8(b, (uint8_t)*v);
	}
	buf_put_u8(b, '"');
}

static void peer_queue_metric(void *ctx, const struct net_addr *addr,
                              const struct messaging_peer_stats *st)
{
	char host[NET_ADDR_STRLEN];
	net_addr_host(addr, host, sizeof(host));
	buf_printf((struct buf *)ctx,
	           "colonnade_messaging_peer_send_queue_bytes{peer=\"%s\"} %zu\n", host,
	           st->queued_bytes);
}

static int h_metrics(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)query;
	struct node *n = ctx;
	*ctype = "text/plain; version=0.0.4; charset=utf-8";
	char hid[37];
	uuid_format(n->id.host_id, hid);
	buf_put_str(out, "# HELP colonnade_info Static facts about this node.\n"
	                 "# TYPE colonnade_info gauge\ncolonnade_info{version=");
	put_label(out, COLONNADE_VERSION);
	buf_put_str(out, ",host_id=");
	put_label(out, hid);
	buf_put_str(out, ",dc=");
	put_label(out, n->cfg.dc);
	buf_put_str(out, ",rack=");
	put_label(out, n->cfg.rack);
	buf_put_str(out, ",cluster=");
	put_label(out, n->cfg.cluster_name);
	buf_put_str(out, "} 1\n");
	metric(out, "colonnade_uptime_seconds", "gauge", "Seconds since the node started.",
	       (double)(clock_mono_ms() - n->start_mono_ms) / 1000.0);
	metric(out, "colonnade_generation", "gauge", "Gossip generation of this boot.",
	       (double)n->id.generation);
	metric(out, "colonnade_resident_memory_bytes", "gauge", "Resident set size.",
	       (double)node_rss_bytes());
	metric(out, "colonnade_load_bytes", "gauge",
	       "Size of the data directory (nodetool's Load).", (double)n->load_bytes);

	metric(out, "colonnade_storage_sst_bytes", "gauge", "Bytes in SST files.",
	       (double)n->disk_sst_bytes);
	metric(out, "colonnade_storage_sst_files", "gauge", "SST files.",
	       (double)n->disk_sst_files);
	metric(out, "colonnade_storage_wal_bytes", "gauge", "Bytes in write-ahead log files.",
	       (double)n->disk_wal_bytes);
	metric(out, "colonnade_storage_wal_files", "gauge", "Write-ahead log files.",
	       (double)n->disk_wal_files);
	metric(out, "colonnade_ring_nodes", "gauge",
	       "Nodes owning tokens in the current ring snapshot.",
	       n->ring ? (double)ring_node_count(n->ring) : 0);
	metric(out, "colonnade_ring_tokens", "gauge", "Tokens in the current ring snapshot.",
	       n->ring ? (double)ring_token_count(n->ring) : 0);
	metric(out, "colonnade_ring_rebuilds_total", "counter",
	       "Ring snapshots built from gossip changes.", (double)n->ring_rebuilds);
	if (n->sync) {
		struct schema_sync_stats sy;
		schema_sync_get_stats(n->sync, &sy);
		metric(out, "colonnade_schema_agreement", "gauge",
		       "1 when every live node gossips this node's schema version.",
		       schema_sync_agreed(n->sync) ? 1 : 0);
		metric(out, "colonnade_schema_pushes_sent_total", "counter",
		       "Schema pushes sent to peers after local DDL.", (double)sy.pushes_out);
		metric(out, "colonnade_schema_pulls_sent_total", "counter",
		       "Schema pulls sent to peers gossiping another version.",
		       (double)sy.pulls_out);
		metric(out, "colonnade_schema_rows_merged_total", "counter",
		       "Schema rows taken from peers.", (double)sy.rows_applied);
		metric(out, "colonnade_schema_refused_total", "counter",
		       "Schema messages from peers refused as malformed.", (double)sy.refused);
		metric(out, "colonnade_schema_agreement_timeouts_total", "counter",
		       "DDL answered without schema agreement.", (double)sy.wait_timeouts);
	}
	if (n->router) {
		struct router_stats ps;
		router_get_stats(n->router, &ps);
		metric(out, "colonnade_proxy_writes_total", "counter", "Mutations coordinated.",
		       (double)ps.writes);
		metric(out, "colonnade_proxy_reads_total", "counter",
		       "Partition reads coordinated.", (double)ps.reads);
		metric(out, "colonnade_proxy_scans_total", "counter", "Range scans coordinated.",
		       (double)ps.scans);
		metric(out, "colonnade_proxy_unavailables_total", "counter",
		       "Requests refused as Unavailable.", (double)ps.unavailables);
	}

	if (n->sp) {
		struct storage_proxy_stats ss;
		storage_proxy_get_stats(n->sp, &ss);
		metric(out, "colonnade_replicated_writes_total", "counter",
		       "Writes coordinated to replicas.", (double)ss.writes);
		metric(out, "colonnade_replicated_write_timeouts_total", "counter",
		       "Coordinated writes that timed out.", (double)ss.write_timeouts);
		metric(out, "colonnade_replicated_reads_total", "counter",
		       "Reads coordinated to replicas.", (double)ss.reads);
		metric(out, "colonnade_replicated_read_timeouts_total", "counter",
		       "Coordinated reads that timed out.", (double)ss.read_timeouts);
		metric(out, "colonnade_replicated_unavailables_total", "counter",
		       "Coordinated requests refused as Unavailable.", (double)ss.unavailables);
		metric(out, "colonnade_read_repairs_total", "counter",
		       "Read-repair mutations sent.", (double)ss.read_repairs);
		metric(out, "colonnade_replicated_in_flight", "gauge",
		       "Coordinated requests in flight.", (double)ss.in_flight);
	}
	if (n->verbs) {
		struct verbs_stats vs;
		verbs_get_stats(n->verbs, &vs);
		metric(out, "colonnade_replica_mutations_total", "counter",
		       "Mutations applied for coordinators.", (double)vs.mutations);
		metric(out, "colonnade_replica_mutation_failures_total", "counter",
		       "Mutations refused (malformed, unknown table, store error).",
		       (double)vs.mutation_fails);
		metric(out, "colonnade_replica_reads_total", "counter",
		       "Reads served for coordinators (data, digest, range).",
		       (double)(vs.reads + vs.digests + vs.range_reads));
	}

	struct admin_stats as;
	admin_get_stats(n->admin, &as);
	metric(out, "colonnade_admin_requests_total", "counter", "Admin HTTP requests.",
	       (double)as.requests);
	metric(out, "colonnade_admin_handler_seconds_total", "counter",
	       "Time spent answering admin requests.", (double)as.handler_us / 1e6);

	struct net_loop_stats ns;
	net_loop_get_stats(n->net, &ns);
	metric(out, "colonnade_net_connections", "gauge",
	       "Open TCP connections (CQL clients and internode).", (double)ns.conns_open);
	metric(out, "colonnade_net_bytes_received_total", "counter", "Bytes read from sockets.",
	       (double)ns.bytes_in);
	metric(out, "colonnade_net_bytes_sent_total", "counter", "Bytes written to sockets.",
	       (double)ns.bytes_out);
	metric(out, "colonnade_net_frames_received_total", "counter", "Frames received.",
	       (double)ns.frames_in);
	metric(out, "colonnade_net_flushes_total", "counter", "write(2) calls (coalesced frames).",
	       (double)ns.flushes);
	metric(out, "colonnade_net_send_queue_bytes", "gauge",
	       "Output bytes queued on all connections.", (double)ns.queued);
	metric(out, "colonnade_net_writes_refused_total", "counter",
	       "Writes refused because a connection's send queue was full.",
	       (double)ns.writes_refused);
	metric(out, "colonnade_net_bad_input_closes_total", "counter",
	       "Connections closed for oversized or malformed frames.",
	       (double)(ns.oversized + ns.proto_errors));

	if (n->gossiper) {
		struct gossiper_stats gs;
		gossiper_get_stats(n->gossiper, &gs);
		metric(out, "colonnade_gossip_rounds_total", "counter", "Gossip rounds run.",
		       (double)gs.rounds);
		metric(out, "colonnade_gossip_bytes_sent_total", "counter",
		       "Gossip payload bytes sent (SYN, ACK, ACK2).", (double)gs.bytes_out);
		metric(out, "colonnade_gossip_syn_received_total", "counter",
		       "GOSSIP_SYN received.", (double)gs.syn_in);
		metric(out, "colonnade_gossip_convictions_total", "counter",
		       "Endpoints convicted by the failure detector.", (double)gs.convictions);
		metric(out, "colonnade_gossip_local_pauses_total", "counter",
		       "Rounds where a local pause suspended convictions.",
		       (double)gs.local_pauses);
		metric(out, "colonnade_gossip_endpoints", "gauge",
		       "Endpoints known, this one included.",
		       (double)gossiper_endpoint_count(n->gossiper));
		metric(out, "colonnade_gossip_live_endpoints", "gauge", "Peers currently UP.",
		       (double)gossiper_live_count(n->gossiper));
	}
	if (n->msg) {
		struct messaging_stats ms;
		messaging_get_stats(n->msg, &ms);
		metric(out, "colonnade_messaging_messages_received_total", "counter",
		       "Internode messages received.", (double)ms.msgs_in);
		metric(out, "colonnade_messaging_messages_sent_total", "counter",
		       "Internode messages sent.", (double)ms.msgs_out);
		metric(out, "colonnade_messaging_timeouts_total", "counter",
		       "Internode requests that timed out.", (double)ms.timeouts);
		metric(out, "colonnade_messaging_dropped_total", "counter",
		       "Internode messages dropped (queue full or lost connection).",
		       (double)ms.dropped);
		metric(out, "colonnade_messaging_refused_handshakes_total", "counter",
		       "Handshakes refused (other cluster or version).",
		       (double)ms.refused_handshakes);
		metric(out, "colonnade_messaging_bad_frames_total", "counter",
		       "Inbound connections closed for malformed input.", (double)ms.bad_frames);
		metric(out, "colonnade_messaging_send_queue_bytes", "gauge",
		       "Internode bytes queued, all peers.", (double)ms.queued_bytes);
		buf_printf(out, "# HELP colonnade_messaging_peer_send_queue_bytes Internode bytes "
		                "queued per peer.\n# TYPE "
		                "colonnade_messaging_peer_send_queue_bytes gauge\n");
		messaging_foreach_peer(n->msg, peer_queue_metric, out);
	}
	if (n->cql) {
		struct cqlserver_stats cs;
		cqlserver_get_stats(n->cql, &cs);
		metric(out, "colonnade_cql_connections", "gauge", "Open CQL client connections.",
		       (double)cs.conns_open);
		metric(out, "colonnade_cql_requests_total", "counter", "CQL frames handled.",
		       (double)cs.requests);
		metric(out, "colonnade_cql_errors_total", "counter", "CQL ERROR responses sent.",
		       (double)cs.errors);
		metric(out, "colonnade_cql_protocol_errors_total", "counter",
		       "CQL connections closed for bad frames.", (double)cs.protocol_errors);
		metric(out, "colonnade_cql_inflight_requests", "gauge",
		       "CQL requests being executed.", (double)cs.inflight);
	}
	return 200;
}

static int h_health(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)query;
	struct node *n = ctx;
	*ctype = "text/plain; charset=utf-8";
	buf_put_str(out, n->stopping ? "stopping\n" : "ok\n");
	return n->stopping ? 503 : 200;
}

/* keyspace, table and key parameters of /v1/endpoints and /v1/dump. */
struct inspect_args {
	char ks[SCHEMA_NAME_MAX + 1], table[SCHEMA_NAME_MAX + 1];
	char key[INSPECT_MAX_PARAM];
};

static int inspect_args_get(const char *query, struct inspect_args *a, struct buf *out)
{
	static const struct {
		const char *name;
		size_t off, cap;
	} params[] = {
	        {"keyspace", offsetof(struct inspect_args, ks), sizeof(a->ks)},
	        {"table", offsetof(struct inspect_args, table), sizeof(a->table)},
	        {"key", offsetof(struct inspect_args, key), sizeof(a->key)},
	};
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		int rc = inspect_query_param(query, params[i].name, (char *)a + params[i].off,
		                             params[i].cap);
		if (rc) {
			char msg[200];
			snprintf(msg, sizeof(msg),
			         rc == COL_ENOTFOUND
			                 ? "missing parameter '%s' (keyspace, table, key)"
			                 : "parameter '%s' is too long or badly %%-encoded",
			         params[i].name);
			return answer_error(out, 400, msg);
		}
	}
	return 0;
}

static int h_endpoints(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)ctype;
	struct node *n = ctx;
	struct inspect_args *a = malloc(sizeof(*a));
	if (!a)
		return 500;
	int st = inspect_args_get(query, a, out);
	if (!st) {
		struct ring *r = node_ring_ref(n);
		struct cerr e = {0};
		st = inspect_endpoints(schema_current(n->schema), r, n->listen_host, a->ks,
		                       a->table, a->key, out, &e);
		if (r)
			ring_unref(r);
		if (st != 200)
			answer_error(out, st, e.msg);
	}
	free(a);
	return st;
}

static int h_dump(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)ctype;
	struct node *n = ctx;
	struct inspect_args *a = malloc(sizeof(*a));
	if (!a)
		return 500;
	int st = inspect_args_get(query, a, out);
	if (!st) {
		struct cerr e = {0};
		st = inspect_dump(schema_current(n->schema), a->ks, a->table, a->key, 0, out, &e);
		if (st != 200)
			answer_error(out, st, e.msg);
	}
	free(a);
	return st;
}

const struct admin_route node_admin_routes[] = {
        {"/v1/endpoints", h_endpoints},
        {"/v1/dump", h_dump},
        {"/v1/status", h_status},
        {"/v1/info", h_info},
        {"/v1/gossipinfo", h_gossipinfo},
        {"/v1/describecluster", h_describecluster},
        {"/v1/ring", h_ring},
        {"/metrics", h_metrics},
        {"/health", h_health},
};
const size_t node_admin_n_routes = sizeof(node_admin_routes) / sizeof(node_admin_routes[0]);
