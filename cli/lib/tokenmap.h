/*
 * tokenmap.h — a client's picture of where a keyspace's data lives, as the
 * drivers build it for token-aware routing: the nodes (system.local, then
 * system.peers by rpc_address), their tokens, the keyspace's replication
 * (system_schema.keyspaces) and, through core/ring.h's ring_replicas() (the
 * function the nodes place data with), the replicas of every token range.
 *
 * Node 0 is always the host the control client is connected to; the others
 * follow in system.peers order and are reached on the same port.
 *
 * Token ranges: with ring tokens t0 < t1 < ... < tn-1, range i (1 <= i < n) is
 * (t(i-1), t(i)] and belongs to t(i)'s replicas; the wrap-around range is cut
 * in two, token <= t0 and token > t(n-1), both t0's.  A map without a ring
 * (tokenmap_discover failed, or the cluster reports no tokens) has one range
 * with no bounds, on node 0.
 */
#ifndef COLONNADE_CLI_TOKENMAP_H
#define COLONNADE_CLI_TOKENMAP_H

#include "core/cqlproto.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOKENMAP_MAX_NODES 64
#define TOKENMAP_MAX_REPS  16

struct cqlclient;
struct ring;

struct token_range {
	int64_t lo, hi;      /* (lo, hi] */
	bool has_lo, has_hi; /* false: unbounded on that side */
	uint32_t reps[TOKENMAP_MAX_REPS];
	size_t n_reps; /* replicas, primary first; 0 only for the unbounded range: node 0 */
};

struct tokenmap {
	size_t n_nodes;
	char hosts[TOKENMAP_MAX_NODES][64];
	struct token_range *ranges;
	size_t n_ranges;
	/* internal */
	struct ring *ring;
	uint32_t *pos_reps; /* per ring position, width each */
	size_t *pos_n, n_pos, width;
};

/*
 * Learn the map through the blocking client `cl` (connected to `host`) for
 * keyspace `ks`.  0, or an error in err — the map is then the one-range,
 * one-node map on `host` (still usable: the coordinator routes).
 */
int tokenmap_discover(struct tokenmap *m, struct cqlclient *cl, const char *host, const char *ks,
                      struct cerr *err);
void tokenmap_release(struct tokenmap *m);

/* The replicas of a token (primary first), node indexes; *n 0 without a ring. */
const uint32_t *tokenmap_replicas(const struct tokenmap *m, int64_t token, size_t *n);

/*
 * The Murmur3 token of a row's partition key from its bound values: the key
 * columns' values in key order (pk[i] the bind index of component i), single
 * or composite (each component as u16 length, bytes, 0, as Cassandra's
 * CompositeType).  false when a component is null or too long (no routing).
 */
bool tokenmap_key_token(const struct cql_slice *vals, const uint16_t *pk, size_t n_pk,
                        int64_t *token);

#endif
