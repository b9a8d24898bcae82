/*
 * gossiper_int.h — the gossiper's insides, shared by its files: gossiper.c
 * (state, the three-way exchange, rounds, life) and gossiper_seeds.c (seed
 * addresses and their re-resolution).  Only the gossip module includes it.
 */
#ifndef COLONNADE_GOSSIP_GOSSIPER_INT_H
#define COLONNADE_GOSSIP_GOSSIPER_INT_H

#include "gossip/gossiper.h"

#include <ev.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>

#define MOD           "gossip"
#define MAX_LISTENERS 8
/* Cassandra's MAX_GENERATION_DIFFERENCE: a generation a year ahead of ours is corrupt. */
#define MAX_GENERATION_DIFFERENCE (86400LL * 365)
/* Application states carried per endpoint in one message (duplicates and unknown keys too). */
#define MAX_APPS_PER_STATE 64
#define DEF_INTERVAL_MS    1000u
#define DEF_MAX_ENDPOINTS  1024u
/*
 * "No other node reachable" is logged after 20 rounds alone (at most 5 s), then at doubling
 * intervals up to a minute: loud enough to notice, quiet enough for a long wait.
 */

#define ALONE_LOG_ROUNDS       20
#define ALONE_LOG_FIRST_MAX_US (5 * 1000000LL)
#define ALONE_LOG_MAX_US       (60 * 1000000LL)

struct app_value {
	uint64_t version; /* 0 = never set */
	uint32_t len;
	uint8_t *data;
};

struct gossip_endpoint {
	struct gossiper *g;
	struct host_id host;
	struct net_addr addr;
	char host_str[64];
	int64_t generation;
	uint64_t heartbeat;
	struct app_value app[APP_MAX];
	bool alive, self, shutdown, echo_pending, mentioned;
	bool displaced; /* another node holds our address (gossip_endpoint_is_displaced) */
	uint64_t shutdown_version;
	int64_t warned_gen; /* last implausible generation logged */
	uint64_t downs;     /* times marked DOWN while this generation was alive */
	struct fd_window fdw;
};

struct echo_ctx {
	struct gossiper *g; /* NULL once the gossiper is gone: the callback just frees */
	struct echo_ctx *prev, *next;
	struct host_id host;
	int64_t generation;
};

/*
 * A name lookup in flight (getaddrinfo_a: the resolver works on its own
 * threads, so a slow or dead DNS server never stalls the gossip loop).  On the
 * heap because it may outlive the gossiper if the resolver hangs at shutdown.
 */
struct seed_lookup {
	struct gaicb cb;
	struct addrinfo hints;
	char name[]; /* cb.ar_name points here */
};

struct seed {
	char *host;
	uint16_t port;
	bool numeric;           /* an address: no lookup */
	struct seed_lookup *lk; /* the lookup for the next try, or NULL */
	/* Every address of the last resolution, port set; 0 = none (yet, or any more). */
	struct net_addr addrs[GOSSIP_SEED_MAX_ADDRS];
	unsigned n_addrs;
	bool failing; /* last resolution failed (logged once per change) */
};

struct listener {
	struct gossip_listener l;
	void *ctx;
};

/* A digest read from a message. */
struct rdigest {
	struct host_id host;
	int64_t gen;
	uint64_t maxv;
	enum gossip_digest_action action;
	uint64_t from;
};

struct rapp {
	unsigned key;
	uint64_t version;
	const uint8_t *val;
	uint32_t len;
};

/* A state read from a message (pointers into the message). */
/* Removed endpoints remembered (oldest forgotten first). */
#define REMOVED_MAX 64

struct rstate {
	struct host_id host;
	int64_t gen;
	uint64_t hb;
	struct net_addr addr;
	char host_str[64];
	unsigned napps;
	struct rapp apps[APP_MAX];
};

struct gossiper {
	struct messaging *m;
	gossip_resolve_fn resolve; /* NULL: getaddrinfo_a */
	void *resolve_ctx;
	struct ev_loop *loop;
	unsigned interval_ms;
	char *partitioner;
	unsigned max_endpoints;
	struct failure_detector fd;
	struct seed *seeds;
	unsigned n_seeds;
	struct gossip_endpoint **eps;
	unsigned n_eps;
	size_t cap_eps;
	struct gossip_endpoint *self;
	uint64_t version; /* our version generator */
	ev_timer round;
	bool running;
	struct listener listeners[MAX_LISTENERS];
	unsigned n_listeners;
	uint64_t rng;
	struct echo_ctx *echoes;
	struct rdigest *dig; /* scratch for decoding digests */
	unsigned dig_cap;
	struct gossip_endpoint **pick; /* scratch for choosing targets */
	unsigned pick_cap;
	bool contact;
	int64_t alone_since_us, alone_next_log_us, alone_log_every_us;
	int64_t warned_self_gen; /* last foreign generation of our own host id logged */
	int64_t warned_claim;    /* generation of the last refused address claim logged */
	/* Endpoints removed (replaced): their states up to that generation are not taken back. */
	struct {
		struct host_id host;
		int64_t generation;
	} removed[REMOVED_MAX];
	unsigned n_removed, next_removed;

	struct gossiper_stats st;
	int64_t last_round_us; /* when the previous round ran (its gap: st.round_gap_max_us) */
};

/* gossiper.c */
unsigned gsp_rng_below(struct gossiper *g, unsigned n);
void gsp_send_syn(struct gossiper *g, const struct net_addr *to);

/* gossiper_seeds.c */
void gsp_seed_lookup_abandon(struct seed_lookup *lk);
uint16_t gsp_seed_port(const struct gossiper *g, const struct seed *s);
bool gsp_is_seed(const struct gossiper *g, const struct net_addr *a);
/* Start resolving s->host for the next try (if no lookup is in flight). */
void gsp_seed_lookup_start(struct gossiper *g, struct seed *s);
/* Gossip to one seed address that is not us; false when none is known. */
bool gsp_gossip_to_seed(struct gossiper *g);
/* Every seed is us: a one-node cluster (or the first seed), alone by design. */
bool gsp_seeds_all_self(const struct gossiper *g);

#endif
