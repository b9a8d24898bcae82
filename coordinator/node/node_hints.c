/*
 * node_hints.c — hinted handoff wired into the node: the hint store
 * (coordinator/hints/hints.h) on this node's store and messaging, fed by the
 * storage proxy's hint sink and the forwarder's (verbs.h), told about peers
 * going UP (after ECHO) and DOWN by the gossip listener in node.c.
 */
#include "coordinator/node/node_int.h"

#include "coordinator/admin/admin.h"
#include "coordinator/admin/inspect.h"
#include "coordinator/hints/hints.h"
#include "coordinator/replication/storage_proxy.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/ring.h"
#include "gossip/gossiper.h"

#include <stdio.h>
#include <string.h>

static int hint_peer(void *ctx, const uint8_t host_id[16], struct hints_peer *out)
{
	struct node *n = ctx;
	if (!n->gossiper)
		return COL_ENOTFOUND;
	struct host_id h;
	memcpy(h.b, host_id, 16);
	const struct gossip_endpoint *ep = gossiper_find(n->gossiper, &h);
	if (!ep || gossip_endpoint_is_self(ep))
		return COL_ENOTFOUND;
	out->addr = *gossip_endpoint_addr(ep);
	out->alive = gossip_endpoint_is_alive(ep);
	return 0;
}

static struct ring *hint_ring(void *ctx)
{
	return node_ring_ref(ctx);
}

int node_hint(void *node, const struct ring *r, size_t idx, const uint8_t *mut, size_t len,
              unsigned flags)
{
	struct node *n = node;
	if (!n->hints)
		return COL_EUNAVAILABLE;
	return hints_store(n->hints, r, idx, mut, len, (flags & SP_HINT_SYNC) ? HINTS_SYNC : 0);
}

bool node_peer_alive(void *node, const struct net_addr *peer)
{
	struct node *n = node;
	const struct gossip_endpoint *ep =
	        n->gossiper ? gossiper_find_addr(n->gossiper, peer) : NULL;
	return ep && gossip_endpoint_is_alive(ep);
}

/* A forwarded peer (by its address) hinted as the ring node gossip says it is. */
int node_peer_hint(void *node, const struct net_addr *peer, const uint8_t *mut, size_t len)
{
	struct node *n = node;
	const struct gossip_endpoint *ep =
	        n->gossiper ? gossiper_find_addr(n->gossiper, peer) : NULL;
	if (!ep || !n->hints || !n->ring)
		return COL_ENOTFOUND;
	long idx = ring_find_host(n->ring, gossip_endpoint_host_id(ep)->b);
	if (idx < 0)
		return COL_ENOTFOUND;
	return hints_store(n->hints, n->ring, (size_t)idx, mut, len, 0);
}

void node_hints_peer(struct node *n, const struct gossip_endpoint *ep, bool up)
{
	node_live_refresh(n); /* the request loops' storage proxies see it at once too */
	if (!up)
		node_loops_peer_down(n, gossip_endpoint_addr(ep));
	if (!n->hints)
		return;
	if (up)
		hints_peer_up(n->hints, gossip_endpoint_host_id(ep)->b);
	else
		hints_peer_down(n->hints, gossip_endpoint_host_id(ep)->b);
}

void node_hints_forget(struct node *n, const struct gossip_endpoint *ep)
{
	if (!n->hints)
		return;
	struct cerr e = {0};
	if (hints_truncate(n->hints, gossip_endpoint_host_id(ep)->b, &e) != 0)
		log_warn("node", "cannot delete the hints for %s: %s", gossip_endpoint_host(ep),
		         e.msg);
}

int node_start_hints(struct node *n, struct cerr *err)
{
	const struct config *cfg = &n->cfg;
	struct hints_config c;
	memset(&c, 0, sizeof(c));
	c.store = n->store;
	c.lane = n->lane;
	c.msg = n->msg;
	memcpy(c.host_id, n->id.host_id, 16);
	c.enabled = cfg->hinted_handoff_enabled;
	c.disabled_dcs = cfg->hinted_handoff_disabled_datacenters;
	c.max_window_ms = cfg->max_hint_window_ms;
	c.throttle_kib = cfg->hinted_handoff_throttle_kib;
	c.flush_period_ms = cfg->hints_flush_period_ms;
	c.max_size_per_host = cfg->max_hints_size_per_host;
	c.delivery_targets = (unsigned)cfg->max_hints_delivery_threads;
	c.timeout_ms = (unsigned)cfg->write_request_timeout_ms;
	c.peer = hint_peer;
	c.ring = hint_ring;
	c.ctx = n;
	return hints_new(&c, &n->hints, err);
}

/* ---- admin: /v1/hints (statushandoff, listpendinghints) and its switches ----------------------
 */

struct list_ctx {
	struct node *n;
	struct jw *w;
	const uint8_t *only; /* one host, or NULL */
};

static void list_target(void *ctx, const struct hints_target_info *t)
{
	struct list_ctx *lc = ctx;
	if (lc->only && memcmp(lc->only, t->host_id, 16) != 0)
		return;
	struct jw *w = lc->w;
	char hid[37];
	uuid_format(t->host_id, hid);
	struct host_id h;
	memcpy(h.b, t->host_id, 16);
	const struct gossip_endpoint *ep =
	        lc->n->gossiper ? gossiper_find(lc->n->gossiper, &h) : NULL;
	jw_obj(w);
	jw_key(w, "host_id");
	jw_str(w, hid);
	jw_key(w, "address");
	if (ep)
		jw_str(w, gossip_endpoint_host(ep));
	else
		jw_null(w);
	jw_key(w, "alive");
	jw_bool(w, ep && gossip_endpoint_is_alive(ep));
	jw_key(w, "total_hints");
	jw_uint(w, t->count);
	jw_key(w, "total_bytes");
	jw_uint(w, t->bytes);
	jw_key(w, "oldest_ms");
	jw_int(w, t->oldest_ms);
	jw_key(w, "newest_ms");
	jw_int(w, t->newest_ms);
	jw_key(w, "down_since_ms");
	jw_int(w, t->down_since_ms);
	jw_key(w, "delivering");
	jw_bool(w, t->delivering);
	jw_key(w, "delivered");
	jw_uint(w, t->delivered);
	jw_obj_end(w);
}

/* ?host= as a host id or an address gossip knows: 0, or an HTTP status with the error. */
static int host_param(struct node *n, const char *query, uint8_t out[16], bool *given,
                      struct buf *err_out)
{
	char v[80];
	*given = false;
	if (inspect_query_param(query, "host", v, sizeof(v)) != 0 || !v[0])
		return 0;
	*given = true;
	if (uuid_parse(v, strlen(v), out))
		return 0;
	struct net_addr a;
	const struct gossip_endpoint *ep = NULL;
	if (n->gossiper && net_addr_parse(v, (uint16_t)n->cfg.storage_port, &a, NULL) == 0)
		ep = gossiper_find_addr(n->gossiper, &a);
	if (ep) {
		memcpy(out, gossip_endpoint_host_id(ep)->b, 16);
		return 0;
	}
	struct jw w;
	jw_init(&w, err_out);
	jw_obj(&w);
	jw_key(&w, "error");
	char msg[160];
	snprintf(msg, sizeof(msg), "host '%.80s' is neither a host id nor a known node's address",
	         v);
	jw_str(&w, msg);
	jw_obj_end(&w);
	return 400;
}

/* The ranges recorded for repair (the first ADMIN_MAX_RANGES listed, all counted). */
#define ADMIN_MAX_RANGES 1000

struct range_ctx {
	struct jw *w;
	const uint8_t *only;
	uint64_t n;
};

static int range_item(void *ctx, const struct hints_range *r)
{
	struct range_ctx *rc = ctx;
	if (rc->only && memcmp(rc->only, r->host_id, 16) != 0)
		return 0;
	if (rc->n++ >= ADMIN_MAX_RANGES)
		return 0;
	struct jw *w = rc->w;
	char hid[37], t[24];
	uuid_format(r->host_id, hid);
	jw_obj(w);
	jw_key(w, "host_id");
	jw_str(w, hid);
	jw_key(w, "start");
	snprintf(t, sizeof(t), "%lld", (long long)r->start);
	jw_str(w, t);
	jw_key(w, "end");
	snprintf(t, sizeof(t), "%lld", (long long)r->end);
	jw_str(w, t);
	jw_key(w, "count");
	jw_uint(w, r->count);
	jw_key(w, "reasons");
	jw_arr(w);
	for (int k = 0; k < HINTS_DROP_MAX; k++)
		if (r->reasons & (1u << k))
			jw_str(w, hints_drop_name((enum hints_drop)k));
	jw_arr_end(w);
	jw_key(w, "first_ms");
	jw_int(w, r->first_ms);
	jw_key(w, "last_ms");
	jw_int(w, r->last_ms);
	jw_obj_end(w);
	return 0;
}

static void status_fields(struct node *n, struct jw *w)
{
	struct hints_stats st;
	hints_get_stats(n->hints, &st);
	jw_key(w, "enabled");
	jw_bool(w, hints_enabled(n->hints));
	jw_key(w, "paused");
	jw_bool(w, hints_paused(n->hints));
	jw_key(w, "pending");
	jw_uint(w, st.pending);
	jw_key(w, "pending_bytes");
	jw_uint(w, st.pending_bytes);
	jw_key(w, "delivering");
	jw_uint(w, st.delivering);
}

int node_h_hints(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)ctype;
	struct node *n = ctx;
	uint8_t only[16];
	bool given;
	int st = host_param(n, query, only, &given, out);
	if (st)
		return st;
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	status_fields(n, &w);
	jw_key(&w, "disabled_datacenters");
	jw_str(&w, n->cfg.hinted_handoff_disabled_datacenters);
	jw_key(&w, "targets");
	jw_arr(&w);
	struct list_ctx lc = {n, &w, given ? only : NULL};
	hints_each_target(n->hints, true, list_target, &lc);
	jw_arr_end(&w);
	jw_key(&w, "repair_ranges");
	jw_arr(&w);
	struct cerr e = {0};
	struct range_ctx rc = {&w, given ? only : NULL, 0};
	(void)hints_ranges(n->store, range_item, &rc, &e);
	jw_arr_end(&w);
	jw_key(&w, "repair_ranges_total");
	jw_uint(&w, rc.n);
	jw_obj_end(&w);
	return 200;
}

static int switch_answer(struct node *n, struct buf *out)
{
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	status_fields(n, &w);
	jw_obj_end(&w);
	return 200;
}

int node_h_hints_enable(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)query;
	(void)ctype;
	hints_set_enabled(((struct node *)ctx)->hints, true);
	return switch_answer(ctx, out);
}

int node_h_hints_disable(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)query;
	(void)ctype;
	hints_set_enabled(((struct node *)ctx)->hints, false);
	return switch_answer(ctx, out);
}

int node_h_hints_pause(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)query;
	(void)ctype;
	hints_set_paused(((struct node *)ctx)->hints, true);
	return switch_answer(ctx, out);
}

int node_h_hints_resume(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)query;
	(void)ctype;
	hints_set_paused(((struct node *)ctx)->hints, false);
	return switch_answer(ctx, out);
}

int node_h_hints_truncate(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)ctype;
	struct node *n = ctx;
	uint8_t host[16];
	bool given;
	int st = host_param(n, query, host, &given, out);
	if (st)
		return st;
	struct cerr e = {0};
	if (hints_truncate(n->hints, given ? host : NULL, &e) != 0) {
		struct jw w;
		jw_init(&w, out);
		jw_obj(&w);
		jw_key(&w, "error");
		jw_str(&w, e.msg);
		jw_obj_end(&w);
		return 500;
	}
	return switch_answer(n, out);
}

/* ---- metrics -------------------------------------------------------------------------------- */

static void metric(struct buf *b, const char *name, const char *type, const char *help, double v)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

struct metric_ctx {
	struct buf *b;
	bool bytes;
};

static void pending_line(void *ctx, const struct hints_target_info *t)
{
	struct metric_ctx *mc = ctx;
	char hid[37];
	uuid_format(t->host_id, hid);
	buf_printf(mc->b, "%s{host_id=\"%s\"} %llu\n",
	           mc->bytes ? "colonnade_hints_pending_bytes" : "colonnade_hints_pending", hid,
	           (unsigned long long)(mc->bytes ? t->bytes : t->count));
}

void node_hints_metrics(struct buf *b, struct node *n)
{
	if (!n->hints)
		return;
	struct hints_stats st;
	hints_get_stats(n->hints, &st);
	metric(b, "colonnade_hints_stored_total", "counter", "Hints written for other nodes.",
	       (double)st.stored);
	metric(b, "colonnade_hints_stored_bytes_total", "counter", "Bytes of hints written.",
	       (double)st.stored_bytes);
	metric(b, "colonnade_hints_delivered_total", "counter",
	       "Hints their target acknowledged (then deleted).", (double)st.delivered);
	metric(b, "colonnade_hints_delivered_bytes_total", "counter",
	       "Mutation bytes of delivered hints.", (double)st.delivered_bytes);
	metric(b, "colonnade_hints_failed_total", "counter",
	       "HINT requests that failed or timed out (retried later).", (double)st.failed);
	buf_printf(b, "# HELP colonnade_hints_dropped_total Hints not stored or discarded, by "
	              "reason.\n# TYPE colonnade_hints_dropped_total counter\n");
	for (int r = 0; r < HINTS_DROP_MAX; r++)
		buf_printf(b, "colonnade_hints_dropped_total{reason=\"%s\"} %llu\n",
		           hints_drop_name((enum hints_drop)r), (unsigned long long)st.dropped[r]);
	metric(b, "colonnade_hints_expired_total", "counter",
	       "Hints discarded at delivery as older than gc_grace_seconds.",
	       (double)st.dropped[HINTS_DROP_EXPIRED]);
	metric(b, "colonnade_hints_received_total", "counter",
	       "Hints applied here as their target.", (double)st.received);
	metric(b, "colonnade_hints_received_bytes_total", "counter",
	       "Mutation bytes of hints applied here.", (double)st.received_bytes);
	metric(b, "colonnade_hints_pending_total", "gauge", "Hints stored here, all targets.",
	       (double)st.pending);
	metric(b, "colonnade_hints_pending_bytes_total", "gauge",
	       "Bytes of hints stored here, all targets.", (double)st.pending_bytes);
	metric(b, "colonnade_hints_replay_bytes_per_second", "gauge",
	       "Mutation bytes delivered in the last second.", st.replay_bytes_per_s);
	metric(b, "colonnade_hints_step_cpu_seconds_max", "gauge",
	       "Most CPU time one delivery step (store read and sends) took on the event loop.",
	       (double)st.max_step_us / 1e6);
	buf_printf(b, "# HELP colonnade_hints_pending Hints stored here per target.\n"
	              "# TYPE colonnade_hints_pending gauge\n");
	struct metric_ctx mc = {b, false};
	hints_each_target(n->hints, false, pending_line, &mc);
	buf_printf(b, "# HELP colonnade_hints_pending_bytes Bytes of hints per target.\n"
	              "# TYPE colonnade_hints_pending_bytes gauge\n");
	mc.bytes = true;
	hints_each_target(n->hints, false, pending_line, &mc);
}

void node_hints_info(struct node *n, struct jw *w)
{
	if (!n->hints)
		return;
	struct hints_stats hs;
	hints_get_stats(n->hints, &hs);
	jw_key(w, "pending_hints");
	jw_uint(w, hs.pending);
	jw_key(w, "pending_hint_bytes");
	jw_uint(w, hs.pending_bytes);
}
