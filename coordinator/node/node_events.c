/*
 * What the node does when gossip or the schema tells it something changed:
 * peers up, down, joined, restarted (perhaps at another address), removed or
 * changed, and our own schema version.  Clients that REGISTERed hear the
 * matching STATUS_CHANGE and TOPOLOGY_CHANGE events; hints start or stop; the
 * ring is rebuilt (deferred, node_ring_dirty).
 *
 * Clients hear of a node only while it serves them: NEW_NODE and UP wait for
 * its RPC_READY (it sets that once its CQL port listens), as in Cassandra, so
 * a driver told of a node can open its pool at once.  A node whose address
 * another node took (displaced) is announced once, REMOVED_NODE at that
 * address, and nothing else names that address for it afterwards: the address
 * is the other node's, until the address is its own again (NEW_NODE there, then
 * UP as usual).  Drivers key hosts by address and act on an event with
 * the host object they held when it came, some of it seconds later; an event
 * naming an address for the wrong node (UP for a host they are about to drop,
 * REMOVED_NODE for the address a live node just took) leaves them without a
 * pool to a live node, or with one in the wrong datacentre.  So an UP for an
 * address announced REMOVED_NODE less than NODE_EVENT_HOLD_MS ago is held
 * until then (the python driver drops the host within milliseconds, but
 * reads the UP's host at once), and sent only if the node is still UP there.
 */
#include "coordinator/node/node_int.h"
#include "coordinator/schema/schema.h"
#include "coordinator/transport/cqlserver.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/hex.h"
#include "gossip/gossiper.h"
#include <stdlib.h>
#include <string.h>

static bool peer_rpc(const struct gossip_endpoint *ge, uint8_t addr[16], uint8_t *alen,
                     int32_t *port)
{
	char rpc[NODE_ADDR_MAX], p[16];
	node_app_text(ge, APP_RPC_ADDRESS, rpc, sizeof(rpc));
	node_app_text(ge, APP_NATIVE_PORT, p, sizeof(p));
	*port = p[0] ? (int32_t)strtol(p, NULL, 10) : 9042;
	return node_parse_inet(rpc[0] ? rpc : gossip_endpoint_host(ge), addr, alen);
}

/* The peer serves CQL clients: its RPC_READY is "true". */
static bool peer_rpc_ready(const struct gossip_endpoint *ge)
{
	size_t len = 0;
	const uint8_t *v = gossip_endpoint_app(ge, APP_RPC_READY, &len, NULL);
	return v && len == 4 && !memcmp(v, "true", 4);
}

static void tell_removed(struct node *n, const uint8_t *a, uint8_t al, int32_t port)
{
	unsigned i = n->removed_next++ % NODE_EVENT_HOLD_MAX;
	memcpy(n->removed[i].addr, a, al);
	n->removed[i].len = al;
	n->removed[i].at_ms = clock_mono_ms();
	cqlserver_event_topology(n->cql, false, a, al, port);
}

/* When an UP for address a may go out: now (0), or the time its REMOVED_NODE hold ends. */
static int64_t up_due_ms(const struct node *n, const uint8_t *a, uint8_t al)
{
	int64_t due = 0, now = clock_mono_ms();
	for (unsigned i = 0; i < NODE_EVENT_HOLD_MAX; i++) {
		int64_t end = n->removed[i].at_ms + NODE_EVENT_HOLD_MS;
		if (n->removed[i].len == al && !memcmp(n->removed[i].addr, a, al) && end > now &&
		    end > due)
			due = end;
	}
	return due;
}

static void arm_hold_timer(struct node *n)
{
	ev_timer_stop(n->loop, &n->hold_timer);
	if (!n->n_held_up)
		return;
	int64_t first = n->held_up[0].due_ms;
	for (unsigned i = 1; i < n->n_held_up; i++)
		if (n->held_up[i].due_ms < first)
			first = n->held_up[i].due_ms;
	int64_t wait = first - clock_mono_ms();
	ev_timer_set(&n->hold_timer, wait > 0 ? (double)wait / 1e3 : 0.0, 0.0);
	ev_timer_start(n->loop, &n->hold_timer);
}

/* Hold the UP of ge until due; false if the holding place is full (send it now). */
static bool hold_up(struct node *n, const struct gossip_endpoint *ge, int64_t due)
{
	const struct host_id *h = gossip_endpoint_host_id(ge);
	unsigned i = 0;
	while (i < n->n_held_up && memcmp(n->held_up[i].host, h->b, 16))
		i++;
	if (i == NODE_EVENT_HOLD_MAX)
		return false;
	if (i == n->n_held_up)
		n->n_held_up++;
	memcpy(n->held_up[i].host, h->b, 16);
	n->held_up[i].due_ms = due;
	log_info("node", "%s is UP: the event waits %lld ms (its address was announced removed)",
	         gossip_endpoint_host(ge), (long long)(due - clock_mono_ms()));
	arm_hold_timer(n);
	return true;
}

/* STATUS_CHANGE (topology false) or TOPOLOGY_CHANGE for the peer's client address. */
static void tell_clients(struct node *n, const struct gossip_endpoint *ge, bool topology, bool up)
{
	uint8_t a[16], al;
	int32_t port;
	if (!n->cql || gossip_endpoint_is_displaced(ge) || !peer_rpc(ge, a, &al, &port))
		return;
	if (topology && !up) {
		tell_removed(n, a, al, port);
		return;
	}
	int64_t due = !topology && up ? up_due_ms(n, a, al) : 0;
	if (due && hold_up(n, ge, due))
		return;
	if (topology)
		cqlserver_event_topology(n->cql, up, a, al, port);
	else
		cqlserver_event_status(n->cql, up, a, al, port);
}

static void on_hold_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct node *n = w->data;
	int64_t now = clock_mono_ms();
	unsigned i = 0;
	while (i < n->n_held_up) {
		if (n->held_up[i].due_ms > now) {
			i++;
			continue;
		}
		struct host_id h;
		memcpy(h.b, n->held_up[i].host, 16);
		n->held_up[i] = n->held_up[--n->n_held_up];
		const struct gossip_endpoint *ge = gossiper_find(n->gossiper, &h);
		if (ge && gossip_endpoint_is_alive(ge) && peer_rpc_ready(ge))
			tell_clients(n, ge, false, true); /* held again if removed again since */
	}
	arm_hold_timer(n);
}

void node_events_stop(struct node *n)
{
	if (n->loop)
		ev_timer_stop(n->loop, &n->hold_timer);
	n->n_held_up = 0;
}

static void on_peer_alive(void *ctx, const struct gossip_endpoint *ge)
{
	struct node *n = ctx;
	log_info("node", "%s is now UP", gossip_endpoint_host(ge));
	node_hints_peer(n, ge, true);
	if (peer_rpc_ready(ge))
		tell_clients(n, ge, false, true);
}

static void on_peer_dead(void *ctx, const struct gossip_endpoint *ge)
{
	struct node *n = ctx;
	log_info("node", "%s is now DOWN", gossip_endpoint_host(ge));
	node_hints_peer(n, ge, false);
	tell_clients(n, ge, false, false);
}

/* Its address is another node's now: clients drop the host they knew there. */
static void on_peer_displaced(void *ctx, const struct gossip_endpoint *ge)
{
	struct node *n = ctx;
	uint8_t a[16], al;
	int32_t port;
	if (!n->cql || !peer_rpc(ge, a, &al, &port))
		return;
	char hid[HOST_ID_STRLEN];
	host_id_format(gossip_endpoint_host_id(ge), hid);
	log_info("node", "host id %s lost its address %s to another node: REMOVED_NODE %s", hid,
	         gossip_endpoint_host(ge), gossip_endpoint_host(ge));
	tell_removed(n, a, al, port);
}

/*
 * Its address is its own again in the same generation (the node that took it
 * moved on or was removed): clients dropped it there (REMOVED_NODE when it was
 * displaced, or when the other node left the address), so they hear NEW_NODE,
 * as for a node that joins, and UP from on_peer_alive once it answers our echo.
 * An UP alone is not enough: it names an address the driver no longer knows,
 * which a driver may ignore (the python driver re-reads system.peers for it,
 * up to 2 s later).  Not RPC_READY yet: on_peer_change sends NEW_NODE when it
 * is.
 */
static void on_peer_reclaimed(void *ctx, const struct gossip_endpoint *ge)
{
	struct node *n = ctx;
	bool ready = peer_rpc_ready(ge);
	log_info("node", "%s has its address back%s", gossip_endpoint_host(ge),
	         ready && n->cql ? ": NEW_NODE" : "");
	if (ready)
		tell_clients(n, ge, true, true);
}

/*
 * A peer that replaces another host id (APP_REPLACING): gossip drops the old
 * one if it tracks it; the system peers table may hold it alone (it was
 * replaced while we were down), so it goes from there too.
 */
static void forget_replaced(struct node *n, const struct gossip_endpoint *ge)
{
	size_t len = 0;
	const uint8_t *v = gossip_endpoint_app(ge, APP_REPLACING, &len, NULL);
	uint8_t old[16];
	if (!v || !uuid_parse((const char *)v, len, old) || !node_peers_find(n, old))
		return;
	struct host_id h;
	memcpy(h.b, old, 16);
	if (gossiper_find(n->gossiper, &h))
		return; /* gossip removes it (on_remove) once it is DOWN */
	log_info("node", "forgetting the system peer replaced by %s", gossip_endpoint_host(ge));
	node_peers_forget(n, old);
	node_ring_dirty(n);
}

static void on_peer_join(void *ctx, const struct gossip_endpoint *ge)
{
	struct node *n = ctx;
	forget_replaced(n, ge);
	char hid[HOST_ID_STRLEN];
	host_id_format(gossip_endpoint_host_id(ge), hid);
	log_info("node", "node %s joined (host id %s, generation %lld)", gossip_endpoint_host(ge),
	         hid, (long long)gossip_endpoint_generation(ge));
	node_ring_dirty(n);
	if (peer_rpc_ready(ge))
		tell_clients(n, ge, true, true);
}

struct rpc_holder {
	const struct gossip_endpoint *except;
	const uint8_t *addr;
	uint8_t len;
	bool held;
};

static void find_rpc_holder(void *ctx, const struct gossip_endpoint *ge)
{
	struct rpc_holder *h = ctx;
	uint8_t a[16], al;
	int32_t port;
	if (ge != h->except && !gossip_endpoint_is_displaced(ge) && peer_rpc(ge, a, &al, &port) &&
	    al == h->len && !memcmp(a, h->addr, al))
		h->held = true;
}

/* Another node (this one included), not displaced, serves clients at addr. */
static bool rpc_held_by_other(const struct node *n, const struct gossip_endpoint *ge,
                              const uint8_t *addr, uint8_t len)
{
	struct rpc_holder h = {.except = ge, .addr = addr, .len = len};
	gossiper_foreach(n->gossiper, find_rpc_holder, &h);
	return h.held;
}

/*
 * A peer back at another client address: clients are told the old one is gone
 * (REMOVED_NODE) before on_join announces the new one, as Cassandra does when
 * a host id changes endpoint.  Without it a driver keeps the old address in
 * its view with the old data centre, and when the addresses of two nodes swap
 * (containers restarted together) it sends a DC's local requests to the other
 * DC's node.  Not when another node serves clients at the old address by
 * now (the two swapped): drivers would drop that live node.  The peers table
 * still holds the previous address: it is rewritten only when the ring is
 * rebuilt after on_join.
 */
static void announce_moved_rpc(struct node *n, const struct gossip_endpoint *ge)
{
	const struct node_peer *p = node_peers_find(n, gossip_endpoint_host_id(ge)->b);
	uint8_t a[16], al, old[16], ol;
	int32_t port;
	if (!n->cql || !p || !p->rpc_address[0] || !peer_rpc(ge, a, &al, &port) ||
	    !node_parse_inet(p->rpc_address, old, &ol) || (ol == al && !memcmp(old, a, al)))
		return;
	if (rpc_held_by_other(n, ge, old, ol)) {
		log_info("node", "%s serves clients at a new address (was %s, another node's now)",
		         gossip_endpoint_host(ge), p->rpc_address);
		return;
	}
	log_info("node", "%s serves clients at a new address (was %s): REMOVED_NODE %s",
	         gossip_endpoint_host(ge), p->rpc_address, p->rpc_address);
	tell_removed(n, old, ol, port);
}

static void on_peer_restart(void *ctx, const struct gossip_endpoint *ge, int64_t old_generation,
                            const struct net_addr *old_addr)
{
	announce_moved_rpc(ctx, ge);
	char old[NET_ADDR_STRLEN];
	net_addr_host(old_addr, old, sizeof(old));
	if (strcmp(old, gossip_endpoint_host(ge)) != 0)
		log_info("node", "node %s moved from %s (generation %lld -> %lld)",
		         gossip_endpoint_host(ge), old, (long long)old_generation,
		         (long long)gossip_endpoint_generation(ge));
	else
		log_info("node", "node %s restarted (generation %lld -> %lld)",
		         gossip_endpoint_host(ge), (long long)old_generation,
		         (long long)gossip_endpoint_generation(ge));
}

static void on_peer_remove(void *ctx, const struct gossip_endpoint *ge)
{
	struct node *n = ctx;
	log_info("node", "forgetting %s", gossip_endpoint_host(ge));
	node_hints_forget(n, ge);
	node_peers_forget(n, gossip_endpoint_host_id(ge)->b);
	node_ring_dirty(n);
	tell_clients(n, ge, true, false);
}

static void on_peer_change(void *ctx, const struct gossip_endpoint *ge, enum app_state key,
                           const uint8_t *value, size_t len)
{
	(void)value;
	(void)len;
	if (key == APP_REPLACING)
		forget_replaced(ctx, ge);
	if (key == APP_RPC_READY) {
		/* Its NEW_NODE waited for this (on_peer_join); its UP too if it is UP already,
		 * else on_peer_alive sends it. */
		bool ready = peer_rpc_ready(ge);
		log_info("node", "%s %s CQL clients", gossip_endpoint_host(ge),
		         ready ? "serves" : "no longer serves");
		if (ready)
			tell_clients(ctx, ge, true, true);
		if (gossip_endpoint_is_alive(ge))
			tell_clients(ctx, ge, false, ready);
	}
	if (key == APP_TOKENS || key == APP_STATUS || key == APP_DC || key == APP_RACK)
		node_ring_dirty(ctx);
}

static void on_schema_change(void *ctx, const struct schema_snap *snap)
{
	struct node *n = ctx;
	char v[40];
	uuid_format(snap->version, v);
	if (n->gossiper)
		gossiper_set_app_str(n->gossiper, APP_SCHEMA, v);
}

int node_events_listen(struct node *n)
{
	static const struct gossip_listener listener = {
	        .on_join = on_peer_join,
	        .on_alive = on_peer_alive,
	        .on_dead = on_peer_dead,
	        .on_restart = on_peer_restart,
	        .on_remove = on_peer_remove,
	        .on_change = on_peer_change,
	        .on_displaced = on_peer_displaced,
	        .on_reclaimed = on_peer_reclaimed,
	};
	ev_timer_init(&n->hold_timer, on_hold_timer, 0.0, 0.0);
	n->hold_timer.data = n;
	int rc = gossiper_add_listener(n->gossiper, &listener, n);
	if (!rc)
		rc = schema_add_listener(n->schema, on_schema_change, n);
	return rc;
}
