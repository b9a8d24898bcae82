/*
 * What the node does when gossip or the schema tells it something changed:
 * peers up, down, joined, restarted (perhaps at another address), removed or
 * changed, and our own schema version.  Clients that REGISTERed hear the
 * matching STATUS_CHANGE and TOPOLOGY_CHANGE events; hints start or stop; the
 * ring is rebuilt (deferred, node_ring_dirty).
 */
#include "coordinator/node/node_int.h"
#include "coordinator/schema/schema.h"
#include "coordinator/transport/cqlserver.h"
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

static void on_peer_alive(void *ctx, const struct gossip_endpoint *ge)
{
	struct node *n = ctx;
	log_info("node", "%s is now UP", gossip_endpoint_host(ge));
	node_hints_peer(n, ge, true);
	uint8_t a[16], al;
	int32_t port;
	if (n->cql && peer_rpc(ge, a, &al, &port))
		cqlserver_event_status(n->cql, true, a, al, port);
}

static void on_peer_dead(void *ctx, const struct gossip_endpoint *ge)
{
	struct node *n = ctx;
	log_info("node", "%s is now DOWN", gossip_endpoint_host(ge));
	node_hints_peer(n, ge, false);
	uint8_t a[16], al;
	int32_t port;
	if (n->cql && peer_rpc(ge, a, &al, &port))
		cqlserver_event_status(n->cql, false, a, al, port);
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
	uint8_t a[16], al;
	int32_t port;
	if (n->cql && peer_rpc(ge, a, &al, &port))
		cqlserver_event_topology(n->cql, true, a, al, port);
}

/*
 * A peer back at another client address: clients are told the old one is gone
 * (REMOVED_NODE) before on_join announces the new one, as Cassandra does when
 * a host id changes endpoint.  Without it a driver keeps the old address in
 * its view with the old data centre, and when the addresses of two nodes swap
 * (containers restarted together) it sends a DC's local requests to the other
 * DC's node.  The peers table still holds the previous address: it is
 * rewritten only when the ring is rebuilt after on_join.
 */
static void announce_moved_rpc(struct node *n, const struct gossip_endpoint *ge)
{
	const struct node_peer *p = node_peers_find(n, gossip_endpoint_host_id(ge)->b);
	uint8_t a[16], al, old[16], ol;
	int32_t port;
	if (!n->cql || !p || !p->rpc_address[0] || !peer_rpc(ge, a, &al, &port) ||
	    !node_parse_inet(p->rpc_address, old, &ol) || (ol == al && !memcmp(old, a, al)))
		return;
	log_info("node", "%s serves clients at a new address (was %s): REMOVED_NODE %s",
	         gossip_endpoint_host(ge), p->rpc_address, p->rpc_address);
	cqlserver_event_topology(n->cql, false, old, ol, port);
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
	uint8_t a[16], al;
	int32_t port;
	if (n->cql && peer_rpc(ge, a, &al, &port))
		cqlserver_event_topology(n->cql, false, a, al, port);
}

static void on_peer_change(void *ctx, const struct gossip_endpoint *ge, enum app_state key,
                           const uint8_t *value, size_t len)
{
	(void)value;
	(void)len;
	if (key == APP_REPLACING)
		forget_replaced(ctx, ge);
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
	};
	int rc = gossiper_add_listener(n->gossiper, &listener, n);
	if (!rc)
		rc = schema_add_listener(n->schema, on_schema_change, n);
	return rc;
}
