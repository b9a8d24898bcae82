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
 *   /metrics             Prometheus text exposition (node_metrics.c)
 *   /health              "ok" while the node runs (for scripts)
 *
 * Everything runs on the loop thread (admin.h), so it reads live state.
 */
#include "coordinator/node/node_int.h"

#include "coordinator/admin/inspect.h"
#include "coordinator/replication/router.h"
#include "coordinator/schema/schema.h"
#include "core/ring.h"
#include "core/array.h"
#include "core/clock.h"
#include "core/hex.h"
#include "core/config.h"
#include "core/log.h"
#include "gossip/gossiper.h"

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
	struct ring *ring; /* SNAP_RING: the ring of the endpoints with tokens */
	size_t *ring_idx;  /* SNAP_RING: ring node index -> eps index */
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
	free(s->ring_idx);
	if (s->ring)
		ring_unref(s->ring);
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

enum { SNAP_PLAIN = 0, SNAP_OWNS = 1, SNAP_RING = 2 };

/*
 * Every endpoint (node_each_endpoint), and with SNAP_OWNS their ownership
 * (plain, or effective under `rep`), with SNAP_RING also the ring they make.
 * COL_OK, or COL_ENOMEM with s already freed.
 */
static int snap_take(struct node *n, unsigned what, const struct replication *rep, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	node_each_endpoint(n, snap_add, s);
	if (!s->oom && (what & SNAP_RING)) {
		s->ring_idx = calloc(s->n ? s->n : 1, sizeof(size_t));
		s->oom = !s->ring_idx;
	}
	if (!s->oom && (what & (SNAP_OWNS | SNAP_RING)))
		snap_ownership(s, rep, (what & SNAP_RING) ? &s->ring : NULL, s->ring_idx);
	if (s->oom) {
		snap_free(s);
		return COL_ENOMEM;
	}
	return COL_OK;
}

/* "key": value pairs of an object being written. */
static void kv_str(struct jw *w, const char *key, const char *v)
{
	jw_key(w, key);
	jw_str(w, v);
}

static void kv_int(struct jw *w, const char *key, int64_t v)
{
	jw_key(w, key);
	jw_int(w, v);
}

static void kv_bool(struct jw *w, const char *key, bool v)
{
	jw_key(w, key);
	jw_bool(w, v);
}

static void write_endpoint(struct jw *w, const struct snap *s, size_t i)
{
	const struct node_endpoint *ep = &s->eps[i];
	char hid[37];
	if (ep->has_host_id)
		uuid_format(ep->host_id, hid);
	jw_obj(w);
	kv_str(w, "address", ep->address);
	kv_str(w, "rpc_address", ep->rpc_address);
	kv_str(w, "host_id", ep->has_host_id ? hid : NULL);
	kv_str(w, "dc", ep->dc);
	kv_str(w, "rack", ep->rack);
	kv_bool(w, "up", ep->up);
	kv_str(w, "state", ep->state);
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
	kv_int(w, "generation", ep->generation);
	kv_int(w, "heartbeat", ep->heartbeat);
	kv_str(w, "schema_version", ep->schema_version[0] ? ep->schema_version : NULL);
	kv_str(w, "release_version", ep->release_version);
	kv_bool(w, "local", ep->local);
	jw_obj_end(w);
}

/* "nodes": every endpoint of the snapshot. */
static void write_nodes(struct jw *w, const struct snap *s)
{
	jw_key(w, "nodes");
	jw_arr(w);
	for (size_t i = 0; i < s->n; i++)
		write_endpoint(w, s, i);
	jw_arr_end(w);
}

static const char *snitch_name(const struct config *c)
{
	return c->endpoint_snitch == CONFIG_SNITCH_SIMPLE
	               ? "org.apache.cassandra.locator.SimpleSnitch"
	               : "org.apache.cassandra.locator.GossipingPropertyFileSnitch";
}

/* 400/404/500/503 answers: {"error": "..."}. */
static int answer_error(struct buf *out, int status, const char *msg)
{
	struct jw w;
	out->len = 0;
	jw_init(&w, out);
	jw_obj(&w);
	kv_str(&w, "error", msg);
	jw_obj_end(&w);
	return status;
}

/*
 * The start of every answer built on a snapshot: take it and open the
 * answer's object.  0, or the status of the error already answered.
 */
static int snap_begin(struct node *n, unsigned what, const struct replication *rep, struct snap *s,
                      struct jw *w, struct buf *out)
{
	if (snap_take(n, what, rep, s) != COL_OK)
		return answer_error(out, 500, "out of memory taking the endpoint snapshot");
	jw_init(w, out);
	jw_obj(w);
	return 0;
}

/* Close the answer's object and free the snapshot: 200. */
static int snap_end(struct snap *s, struct jw *w)
{
	jw_obj_end(w);
	snap_free(s);
	return 200;
}

/* ?keyspace=ks of /v1/status: that keyspace's replication, or an answer_error() status. */
static int status_keyspace(struct node *n, const char *ks, struct replication *rep, struct buf *out)
{
	const struct schema_keyspace *k =
	        n->schema ? schema_snap_keyspace(schema_current(n->schema), ks) : NULL;
	char msg[300];
	if (!k) {
		snprintf(msg, sizeof(msg), "keyspace '%.100s' does not exist", ks);
		return answer_error(out, 404, msg);
	}
	struct cerr e = {0};
	if (replication_parse((const char *const *)k->repl_keys, (const char *const *)k->repl_vals,
	                      k->n_repl, rep, &e)) {
		snprintf(msg, sizeof(msg), "keyspace '%.100s': %.180s", ks, e.msg);
		return answer_error(out, 500, msg);
	}
	return 0;
}

static int h_status(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)ctype;
	struct node *n = ctx;
	/* ?keyspace=ks: "effective" ownership under that keyspace's replication. */
	struct replication rep;
	char ksbuf[SCHEMA_NAME_MAX + 1];
	int qrc = inspect_query_param(query, "keyspace", ksbuf, sizeof(ksbuf));
	if (qrc == COL_EINVAL)
		return answer_error(out, 404, "keyspace name too long or badly %-encoded");
	const char *ks = qrc == 0 ? ksbuf : NULL;
	int st = ks ? status_keyspace(n, ks, &rep, out) : 0;
	if (st)
		return st;
	struct snap s;
	struct jw w;
	if ((st = snap_begin(n, SNAP_OWNS, ks ? &rep : NULL, &s, &w, out)) != 0)
		return st;
	kv_str(&w, "cluster_name", n->cfg.cluster_name);
	kv_str(&w, "partitioner", SYSTABLES_PARTITIONER);
	kv_str(&w, "ownership", ks ? "effective" : "plain");
	kv_str(&w, "keyspace", ks);
	write_nodes(&w, &s);
	return snap_end(&s, &w);
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
	kv_str(&w, "host_id", hid);
	kv_str(&w, "cluster_name", n->cfg.cluster_name);
	kv_bool(&w, "gossip_active", n->gossiper != NULL && !n->stopping);
	kv_bool(&w, "native_transport_active", n->cql != NULL && !n->stopping);
	kv_int(&w, "load", n->load_bytes);
	kv_int(&w, "generation", n->id.generation);
	kv_int(&w, "uptime_s", (clock_mono_ms() - n->start_mono_ms) / 1000);
	kv_int(&w, "rss_bytes", node_rss_bytes());
	kv_str(&w, "dc", n->cfg.dc);
	kv_str(&w, "rack", n->cfg.rack);
	kv_str(&w, "listen_address", n->listen_host);
	kv_str(&w, "broadcast_address", n->broadcast_host);
	kv_str(&w, "rpc_address", n->broadcast_rpc_host);
	kv_str(&w, "rpc_bind_address", n->rpc_host);
	kv_int(&w, "storage_port", n->cfg.storage_port);
	kv_int(&w, "native_transport_port", n->cfg.native_transport_port);
	kv_str(&w, "data_directory", n->cfg.data_directory);
	kv_str(&w, "release_version", SYSTABLES_RELEASE_VERSION);
	kv_str(&w, "version", COLONNADE_VERSION);
	kv_int(&w, "pid", (int64_t)getpid());
	node_hints_info(n, &w);
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

/* One application state of an endpoint, as `nodetool gossipinfo` lists it. */
static void gi_state(struct jw *w, unsigned key, const uint8_t *v, size_t len, uint64_t version)
{
	char name[24];
	jw_obj(w);
	kv_str(w, "name", app_state_name(key, name, sizeof(name)));
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

/* Every endpoint's gossip state, as `nodetool gossipinfo` lists it. */
static void gi_endpoint(void *ctx, const struct gossip_endpoint *ge)
{
	struct jw *w = ctx;
	jw_obj(w);
	kv_str(w, "address", gossip_endpoint_host(ge));
	kv_int(w, "generation", gossip_endpoint_generation(ge));
	jw_key(w, "heartbeat");
	jw_uint(w, gossip_endpoint_heartbeat(ge));
	kv_bool(w, "up", gossip_endpoint_is_self(ge) || gossip_endpoint_is_alive(ge));
	jw_key(w, "phi");
	jw_double(w, gossip_endpoint_phi(ge));
	jw_key(w, "heartbeat_gap_max_ms");
	jw_double(w, (double)gossip_endpoint_heartbeat_gap_max_us(ge) / 1000.0);
	jw_key(w, "times_down");
	jw_uint(w, gossip_endpoint_downs(ge));
	jw_key(w, "states");
	jw_arr(w);
	for (unsigned key = 0; key < APP_MAX; key++) {
		size_t len = 0;
		uint64_t version = 0;
		const uint8_t *v = gossip_endpoint_app(ge, key, &len, &version);
		if (v)
			gi_state(w, key, v, len, version);
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
	if (n->gossiper) {
		struct gossiper_stats gs;
		gossiper_get_stats(n->gossiper, &gs);
		jw_key(&w, "round_gap_max_ms");
		jw_double(&w, (double)gs.round_gap_max_us / 1000.0);
		jw_key(&w, "convictions");
		jw_uint(&w, gs.convictions);
	}
	jw_key(&w, "endpoints");
	jw_arr(&w);
	if (n->gossiper)
		gossiper_foreach(n->gossiper, gi_endpoint, &w);
	jw_arr_end(&w);
	jw_obj_end(&w);
	return 200;
}

/*
 * "schema_versions": live nodes grouped by the schema version they gossip,
 * then the unreachable ones apart, as nodetool describecluster lists them.
 */
static int dc_schema_versions(struct jw *w, const struct snap *s)
{
	bool *done = calloc(s->n ? s->n : 1, sizeof(bool));
	if (!done)
		return COL_ENOMEM;
	jw_key(w, "schema_versions");
	jw_arr(w);
	for (size_t i = 0; i < s->n; i++) {
		if (done[i] || !s->eps[i].up)
			continue;
		const char *v = s->eps[i].schema_version;
		jw_obj(w);
		kv_str(w, "version", v[0] ? v : "unknown");
		jw_key(w, "endpoints");
		jw_arr(w);
		for (size_t k = i; k < s->n; k++) {
			if (done[k] || !s->eps[k].up || strcmp(s->eps[k].schema_version, v))
				continue;
			done[k] = true;
			jw_str(w, s->eps[k].address);
		}
		jw_arr_end(w);
		jw_obj_end(w);
	}
	bool any_down = false;
	for (size_t i = 0; i < s->n; i++)
		any_down |= !s->eps[i].up;
	if (any_down) {
		jw_obj(w);
		kv_str(w, "version", "UNREACHABLE");
		jw_key(w, "endpoints");
		jw_arr(w);
		for (size_t i = 0; i < s->n; i++)
			if (!s->eps[i].up)
				jw_str(w, s->eps[i].address);
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	free(done);
	return COL_OK;
}

/* How many endpoints are live, joining, moving, leaving and unreachable. */
static void dc_counts(struct jw *w, const struct snap *s)
{
	int live = 0, joining = 0, leaving = 0, moving = 0, down = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (!s->eps[i].up) {
			down++;
			continue;
		}
		live++;
		joining += !strcmp(s->eps[i].state, "JOINING");
		leaving += !strcmp(s->eps[i].state, "LEAVING");
		moving += !strcmp(s->eps[i].state, "MOVING");
	}
	kv_int(w, "live", live);
	kv_int(w, "joining", joining);
	kv_int(w, "moving", moving);
	kv_int(w, "leaving", leaving);
	kv_int(w, "unreachable", down);
}

/* "datacenters": each datacenter once, in order of first appearance, with its node counts. */
static void dc_datacenters(struct jw *w, const struct snap *s)
{
	jw_key(w, "datacenters");
	jw_arr(w);
	for (size_t i = 0; i < s->n; i++) {
		bool first = true;
		for (size_t k = 0; k < i; k++)
			first &= strcmp(s->eps[k].dc, s->eps[i].dc) != 0;
		if (!first)
			continue;
		int nodes = 0, dn = 0;
		for (size_t k = i; k < s->n; k++) {
			if (strcmp(s->eps[k].dc, s->eps[i].dc))
				continue;
			nodes++;
			dn += !s->eps[k].up;
		}
		jw_obj(w);
		kv_str(w, "name", s->eps[i].dc);
		kv_int(w, "nodes", nodes);
		kv_int(w, "down", dn);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static int h_describecluster(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)query;
	(void)ctype;
	struct node *n = ctx;
	struct snap s;
	struct jw w;
	int st = snap_begin(n, SNAP_PLAIN, NULL, &s, &w, out);
	if (st)
		return st;
	kv_str(&w, "name", n->cfg.cluster_name);
	kv_str(&w, "snitch", snitch_name(&n->cfg));
	kv_str(&w, "partitioner", SYSTABLES_PARTITIONER);
	int rc = dc_schema_versions(&w, &s);
	dc_counts(&w, &s);
	dc_datacenters(&w, &s);
	snap_end(&s, &w);
	if (rc != COL_OK)
		return answer_error(out, 500, "out of memory grouping schema versions");
	return 200;
}

static int h_ring(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)query;
	(void)ctype;
	struct node *n = ctx;
	struct snap s;
	struct jw w;
	int st = snap_begin(n, SNAP_RING, NULL, &s, &w, out);
	if (st)
		return st;
	write_nodes(&w, &s);
	jw_key(&w, "tokens");
	jw_arr(&w);
	for (size_t i = 0; s.ring && i < ring_token_count(s.ring); i++) {
		size_t owner;
		int64_t t = ring_token_at(s.ring, i, &owner);
		char ts[24];
		snprintf(ts, sizeof(ts), "%lld", (long long)t);
		jw_obj(&w);
		kv_str(&w, "token", ts);
		jw_key(&w, "node");
		jw_uint(&w, s.ring_idx[owner]);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	return snap_end(&s, &w);
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
		st = inspect_endpoints(schema_current(n->schema), r, n->broadcast_host, a->ks,
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
        {"/v1/dump", h_dump, false, true},
        {"/v1/status", h_status},
        {"/v1/info", h_info},
        {"/v1/gossipinfo", h_gossipinfo},
        {"/v1/describecluster", h_describecluster},
        {"/v1/ring", h_ring},
        {"/v1/hints", node_h_hints},
        {"/v1/hints/enable", node_h_hints_enable, true},
        {"/v1/hints/disable", node_h_hints_disable, true},
        {"/v1/hints/pause", node_h_hints_pause, true},
        {"/v1/hints/resume", node_h_hints_resume, true},
        {"/v1/hints/truncate", node_h_hints_truncate, true},
        {"/v1/repair", node_h_repair},
        {"/v1/repair/start", node_h_repair_start, true},
        {"/v1/repair/sessions", node_h_repair_sessions},
        {"/v1/repair/cancel", node_h_repair_cancel, true},
        {"/v1/repair/history", node_h_repair_history},
        {"/v1/compact", node_h_compact, true},
        {"/v1/compactions", node_h_compactions},
        {"/metrics", node_h_metrics},
        {"/health", h_health},
};
const size_t node_admin_n_routes = sizeof(node_admin_routes) / sizeof(node_admin_routes[0]);
