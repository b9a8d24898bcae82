/*
 * ring.h — the token ring and replica placement.
 *
 * A struct ring is an immutable snapshot: which node owns which Murmur3
 * tokens, with each node's datacenter and rack.  It is built from gossip (or
 * any list of endpoints), never changed afterwards, and shared by reference
 * count, so the node can swap in a new ring atomically while requests in
 * flight keep using the old one (readers never lock).
 *
 * Ownership follows Cassandra: a node's token T owns the range (previous
 * token, T]; the replicas of a key with token t start at the first ring token
 * >= t (wrapping past the largest token to the smallest) and walk clockwise.
 *
 * Placement (struct replication, parsed from a keyspace's replication map):
 *  - SimpleStrategy: the next RF distinct nodes clockwise, topology-blind.
 *  - NetworkTopologyStrategy: per-datacenter RF; within a datacenter, nodes on
 *    racks not yet used come first, and nodes skipped for a repeated rack
 *    fill in (in ring order) once every rack of that datacenter is used —
 *    exactly NetworkTopologyStrategy.calculateNaturalReplicas.
 * Replica lists come out in placement order, which the coordinator uses.
 */
#ifndef COLONNADE_CORE_RING_H
#define COLONNADE_CORE_RING_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RING_NAME_MAX 64 /* datacenter and rack names */
#define RING_ADDR_MAX 64 /* textual address */
#define RING_MAX_DCS  32
#define RING_MAX_RF   32 /* per datacenter, like any sane deployment */

/* One node as the ring builder receives it. */
struct ring_endpoint {
	uint8_t host_id[16];
	char address[RING_ADDR_MAX];
	char dc[RING_NAME_MAX];
	char rack[RING_NAME_MAX];
	const int64_t *tokens; /* borrowed during ring_new() only */
	size_t n_tokens;
};

/* A node inside a ring (index = position in the endpoint array given). */
struct ring_node {
	uint8_t host_id[16];
	char address[RING_ADDR_MAX];
	char dc[RING_NAME_MAX];
	char rack[RING_NAME_MAX];
	size_t n_tokens;
};

struct ring;

/*
 * Build a ring from n endpoints (copied).  Fails with COL_EINVAL when a token
 * is owned twice, a node has no tokens, or names are too long.  Returns a ring
 * with one reference.
 */
int ring_new(const struct ring_endpoint *eps, size_t n, struct ring **out, struct cerr *err);
struct ring *ring_ref(struct ring *r);
void ring_unref(struct ring *r);

size_t ring_node_count(const struct ring *r);
const struct ring_node *ring_node_at(const struct ring *r, size_t idx);
/* Index of the node with this host id, or -1. */
long ring_find_host(const struct ring *r, const uint8_t host_id[16]);
/* Number of nodes in datacenter dc. */
size_t ring_dc_size(const struct ring *r, const char *dc);
/* The distinct datacenter names, sorted; returns the count (<= RING_MAX_DCS). */
size_t ring_datacenters(const struct ring *r, const char *out[RING_MAX_DCS]);

/* Total number of tokens, and the i-th smallest with its owner's index. */
size_t ring_token_count(const struct ring *r);
int64_t ring_token_at(const struct ring *r, size_t i, size_t *owner);
/* Index (into the sorted tokens) of the first token >= t, wrapping to 0. */
size_t ring_token_index(const struct ring *r, int64_t t);

enum replication_class { REPL_SIMPLE = 1, REPL_NETWORK_TOPOLOGY = 2, REPL_LOCAL = 3 };

struct replication_dc {
	char dc[RING_NAME_MAX];
	int rf;
};

struct replication {
	enum replication_class cls;
	int rf; /* SimpleStrategy */
	size_t n_dcs;
	struct replication_dc dcs[RING_MAX_DCS]; /* NetworkTopologyStrategy, sorted by dc */
};

/*
 * Parse a keyspace's replication map (keys/values as CQL gives them):
 * {'class': 'SimpleStrategy', 'replication_factor': '3'} or
 * {'class': 'NetworkTopologyStrategy', 'dc1': '3', 'dc2': '2'} (class names
 * may carry the org.apache.cassandra.locator. prefix; LocalStrategy is for the
 * system keyspaces).  Errors name the option that is wrong.
 */
int replication_parse(const char *const *keys, const char *const *vals, size_t n,
                      struct replication *out, struct cerr *err);
/* Sum of replication factors over all datacenters (SimpleStrategy: rf). */
int replication_total_rf(const struct replication *rep);
/* RF in one datacenter (SimpleStrategy: rf, as Cassandra treats it). */
int replication_dc_rf(const struct replication *rep, const char *dc);

/*
 * Acks consistency level `cl` (a CL_* code, core/cqlproto.h) blocks for under
 * rep, in total (EACH_QUORUM: the sum of every DC's quorum under NTS; an
 * unknown level: 1).  local_dc is the coordinator's datacenter.
 */
int cl_block_for(uint16_t cl, const struct replication *rep, const char *local_dc);
/* Quorum of one datacenter under rep: RF(dc) / 2 + 1, 0 when RF(dc) is 0. */
int cl_dc_quorum(const struct replication *rep, const char *dc);

/*
 * The replicas of `token` under `rep`: node indexes in placement order into
 * out[0..max); returns how many (fewer than the RF when the ring or a
 * datacenter has too few nodes).  LocalStrategy yields no replica.
 */
size_t ring_replicas(const struct ring *r, const struct replication *rep, int64_t token,
                     uint32_t *out, size_t max);

/*
 * Ownership of each node, fractions of the whole ring summing to 1:
 * rep == NULL gives plain token ownership (nodetool status "Owns" without a
 * keyspace); with rep, "effective" ownership: the fraction of the ring each
 * node holds a replica of (sums to the total RF).  out has node_count slots.
 */
void ring_ownership(const struct ring *r, const struct replication *rep, double *out);

#endif
