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
struct replication;
struct ring;

struct token_range {
	int64_t lo, hi;      /* (lo, hi] */
	bool has_lo, has_hi; /* false: unbounded on that side */
	uint32_t reps[TOKENMAP_MAX_REPS];
	size_t n_reps; /* replicas, primary first; 0 only for the unbounded range: node 0 */
};

/*
 * Replicas per ring position: every token in (previous ring token, T] has T's
 * replicas (core/ring.h's ring_replicas(), the function the nodes place data
 * with), so they are computed once per position and a lookup is a binary
 * search.  Replica i of position p is node node_map[ring node], the caller's
 * numbering.
 */
struct token_route {
	struct ring *ring;    /* one reference, NULL when not built */
	uint32_t *replicas;   /* n_pos * width node indexes, placement order */
	uint32_t *n_replicas; /* per ring position (< width when the ring lacks nodes) */
	size_t n_pos, width;
};

/* Build for `rep` on `ring` (a reference is taken).  0, or COL_ENOMEM with rt left empty. */
int token_route_build(struct token_route *rt, struct ring *ring, const int *node_map,
                      const struct replication *rep);
void token_route_release(struct token_route *rt);
/* The replicas of a token (primary first), *n of them; *n is 0 for an empty route. */
const uint32_t *token_route_replicas(const struct token_route *rt, int64_t token, size_t *n);

struct tokenmap {
	size_t n_nodes;
	char hosts[TOKENMAP_MAX_NODES][256]; /* as given for node 0, numeric for the peers */
	struct token_range *ranges;
	size_t n_ranges;
	/* internal */
	struct ring *ring;
	int ring_node[TOKENMAP_MAX_NODES]; /* ring node index -> index in hosts */
	struct token_route route;
};

/*
 * Learn the map through the blocking client `cl` (connected to `host`) for
 * keyspace `ks`: tokenmap_learn_ring, tokenmap_read_replication and
 * tokenmap_place.  0, or an error in err — the map is then the one-range,
 * one-node map on `host` (still usable: the coordinator routes).
 */
int tokenmap_discover(struct tokenmap *m, struct cqlclient *cl, const char *host, const char *ks,
                      struct cerr *err);
/*
 * The steps of tokenmap_discover, for a caller that needs the nodes before
 * the keyspace exists (`colonnade bench` sizes its default replication by
 * them).  tokenmap_learn_ring: the nodes (hosts) and the ring from
 * system.local and system.peers; on failure the map is empty.
 * tokenmap_read_replication: the keyspace's replication (COL_ENOTFOUND when
 * it does not exist).  tokenmap_place: the replicas and ranges under `rep`
 * on the learned ring.
 */
int tokenmap_learn_ring(struct tokenmap *m, struct cqlclient *cl, const char *host,
                        struct cerr *err);
int tokenmap_read_replication(struct cqlclient *cl, const char *ks, struct replication *rep,
                              struct cerr *err);
int tokenmap_place(struct tokenmap *m, const struct replication *rep, struct cerr *err);
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
