/*
 * gossiper.h — cluster membership: who is in the cluster, what each node
 * announces about itself, and who is up.  Cassandra's Gossiper.java is the
 * model; docs/GOSSIP.md explains the choices.
 *
 * It keeps nothing on disk and interprets no application state (it only
 * publishes HOST_ID): other modules publish theirs through it and read them.
 *
 * Identity is the host id.  Every endpoint state is keyed by host id; the
 * address is part of the state of one generation.  A node that restarts at a
 * new address (higher generation, same host id) replaces its old entry: peers
 * update its address, forget the old one (on_restart says both), and the old
 * address is gone.  A different host id at an address someone else had is a
 * different node; the entry with the older generation is removed (on_remove).
 *
 * Endpoint state = generation (the node's boot time in wall seconds, persisted
 * by the caller, always increasing across restarts) + heartbeat version +
 * application states (enum app_state).  One version counter per node orders
 * the heartbeat and every application state (Cassandra's VersionGenerator):
 * "newer" means higher (generation, version).
 *
 * Each round (interval_ms, 1 s by default; tens of ms in tests) the gossiper
 * bumps its heartbeat and sends a SYN (digests of everything it knows) to one
 * random live peer; to one unreachable peer with probability U / (L + 1);
 * and, if it did not just talk to a seed or knows fewer live peers than there
 * are seeds, to a random seed with probability S / (L + U) (always when no
 * peer is live).  Seeds are host names or addresses; names are looked up again
 * at every try, asynchronously (getaddrinfo_a: DNS never blocks the loop; a
 * try uses the previous lookup's answers), so a seed container that came back
 * at another address is still found.  Every address a name resolves to is a
 * seed address (a try picks one of all of them at random), and an address
 * that is our own listen or broadcast address is skipped.  A node that
 * reaches no seed keeps trying and says so in the log with growing intervals,
 * rather than exiting.  Then it runs the failure detector
 * (gossip/failure_detector.h) over every endpoint.
 *
 * Liveness: an endpoint is UP once a newer heartbeat arrived AND it answered
 * an ECHO sent straight to its address (Cassandra's markAlive: hearing of a
 * node through a third party does not prove we can reach it).  DOWN when phi
 * passes phi_convict_threshold, or at once when it announces a shutdown.
 *
 * Listeners (struct gossip_listener) are how the layers above learn about
 * changes; gossip never calls up otherwise.  Callbacks run on the loop,
 * inside message processing: they may query the gossiper and send messages,
 * but must not free it.
 *
 * ---- Wire format: payloads of the gossip verbs (gossip/messaging.h frames) ----
 *
 *   digest = [host_id: bin16, generation: int, max_version: uint]
 *   state  = [host_id: bin16, generation: int, heartbeat: uint, host: str, port: uint,
 *             apps: [[key: uint (enum app_state), version: uint, value: bin], ...]]
 *            (apps holds only the states newer than what the receiver has)
 *
 *   | verb | name            | payload                                                   |
 *   |------|-----------------|-----------------------------------------------------------|
 *   | 1    | GOSSIP_SYN      | [cluster: str, partitioner: str, digests: [digest, ...]]  |
 *   | 2    | GOSSIP_ACK      | [requests: [digest, ...], states: [state, ...]]           |
 *   | 3    | GOSSIP_ACK2     | [states: [state, ...]]                                    |
 *   | 4    | GOSSIP_SHUTDOWN | [host_id: bin16, generation: int]                         |
 *   | 5/6  | ECHO / ECHO_RSP | [] / []   (request / response)                            |
 *
 * A request digest asks for the states of that endpoint newer than
 * max_version (0 = everything).  All gossip messages are one-way (id 0)
 * except ECHO.  Unknown app-state keys below APP_MAX are kept and passed on.
 */
#ifndef COLONNADE_GOSSIP_GOSSIPER_H
#define COLONNADE_GOSSIP_GOSSIPER_H

#include "core/err.h"
#include "core/net.h"
#include "gossip/failure_detector.h"
#include "gossip/messaging.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gossiper gossiper;
typedef struct gossip_endpoint gossip_endpoint;

/* Application states: fixed numbers, never renumbered. */
enum app_state {
	APP_STATUS = 0,          /* "BOOT", "NORMAL", "LEAVING", "LEFT" (GOSSIP_STATUS_*) */
	APP_DC = 1,              /* datacenter name */
	APP_RACK = 2,            /* rack name */
	APP_TOKENS = 3,          /* the node's tokens; encoding chosen by the coordinator */
	APP_SCHEMA = 4,          /* schema version (uuid text) */
	APP_HOST_ID = 5,         /* host id text; set by the gossiper itself */
	APP_LOAD = 6,            /* bytes on disk, decimal text */
	APP_RPC_ADDRESS = 7,     /* address clients connect to (CQL) */
	APP_RELEASE_VERSION = 8, /* Colonnade version text */
	APP_NATIVE_PORT = 9,     /* CQL port, decimal text */
	APP_REPLACING = 10,      /* host id text of the node this one replaces (first boot) */
	APP_RPC_READY = 11, /* "true" once the node serves CQL clients (Cassandra's RPC_READY) */
	APP_MAX = 16        /* keys are 0..APP_MAX-1 */
};

#define GOSSIP_STATUS_BOOT    "BOOT"
#define GOSSIP_STATUS_NORMAL  "NORMAL"
#define GOSSIP_STATUS_LEAVING "LEAVING"
#define GOSSIP_STATUS_LEFT    "LEFT"

/* Largest application-state value accepted (TOKENS of 16 tokens is ~350 bytes). */
#define GOSSIP_MAX_VALUE (64u << 10)

/* Name of an app state ("STATUS", "app 12"). */
const char *app_state_name(unsigned key, char *scratch, size_t len);

/* A seed: host name or address, and port (0 = our own listen port). */
struct gossip_seed {
	const char *host;
	uint16_t port;
};

/* Addresses one seed name contributes at most. */
#define GOSSIP_SEED_MAX_ADDRS 16

/*
 * A synchronous resolver standing in for the asynchronous system one (tests
 * give names the address sets they need): fill at most `cap` addresses of
 * `name` (ports ignored) and return how many, 0 when it names nothing.
 */
typedef int (*gossip_resolve_fn)(void *ctx, const char *name, struct net_addr *out, unsigned cap);

struct gossiper_config {
	struct messaging *messaging;     /* required: cluster name, host id, listen address */
	int64_t generation;              /* required, > 0: see gossiper_next_generation() */
	unsigned interval_ms;            /* gossip round [1000] */
	double phi_convict_threshold;    /* [8] */
	unsigned max_local_pause_ms;     /* pause guard [5 x interval] */
	const struct gossip_seed *seeds; /* copied */
	unsigned n_seeds;
	const char *partitioner;   /* must match among peers ["Murmur3Partitioner"] */
	unsigned max_endpoints;    /* endpoints tracked at most [1024] */
	uint64_t rng_seed;         /* 0 = from the clock and address */
	gossip_resolve_fn resolve; /* NULL = getaddrinfo_a (the system's resolver) */
	void *resolve_ctx;
};

/*
 * The generation for this boot: the wall clock in seconds, but always above
 * the one persisted at the previous boot (clocks can step backwards).  The
 * caller persists the result before gossiping.
 */
int64_t gossiper_next_generation(int64_t persisted);

/*
 * Create the gossiper and register its verbs with cfg->messaging (which must
 * outlive it).  Nothing is sent before gossiper_start().  0, or COL_EINVAL /
 * COL_ENOMEM with the reason in err.
 */
int gossiper_new(const struct gossiper_config *cfg, struct gossiper **out, struct cerr *err);
/* Stop (without announcing) and free; unregisters the verbs.  NULL is fine. */
void gossiper_free(struct gossiper *g);

/*
 * Set one of our application states (copied), bumping our version so peers
 * pick it up in the next rounds.  May be called before start.  0, or
 * COL_EINVAL (key out of range), COL_ETOOBIG (over GOSSIP_MAX_VALUE), COL_ENOMEM.
 */
int gossiper_set_app_state(struct gossiper *g, unsigned key, const void *value, size_t len);
int gossiper_set_app_str(struct gossiper *g, unsigned key, const char *value);

/* Begin gossip rounds (the first one at once).  0 or COL_EINVAL if already running. */
int gossiper_start(struct gossiper *g);
/*
 * Stop rounds; if `announce`, tell every live peer we are shutting down
 * (GOSSIP_SHUTDOWN) so they mark us DOWN at once instead of waiting for phi.
 * The announcements are queued: net_loop_run_pending() (or a loop turn)
 * before freeing messaging sends them on the connections already open.
 */

void gossiper_stop(struct gossiper *g, bool announce);

/* ---- listeners ------------------------------------------------------------------------------- */

/* Any member may be NULL. */
struct gossip_listener {
	/* A node we did not know (or a new generation of one: after on_restart). */
	void (*on_join)(void *ctx, const struct gossip_endpoint *ep);
	/* The node is UP (it answered our ECHO after a newer heartbeat). */
	void (*on_alive)(void *ctx, const struct gossip_endpoint *ep);
	/* The node is DOWN (phi over the threshold, or it announced shutdown). */
	void (*on_dead)(void *ctx, const struct gossip_endpoint *ep);
	/* One application state of a known generation changed (value is the new one). */
	void (*on_change)(void *ctx, const struct gossip_endpoint *ep, enum app_state key,
	                  const uint8_t *value, size_t len);
	/*
	 * The node restarted: ep now holds its new generation, address and
	 * states; old_addr is where it was (compare with gossip_endpoint_addr(ep)
	 * to see a move).  on_join follows.
	 */
	void (*on_restart)(void *ctx, const struct gossip_endpoint *ep, int64_t old_generation,
	                   const struct net_addr *old_addr);
	/* The entry is about to be removed (a node replacing it took its address). */
	void (*on_remove)(void *ctx, const struct gossip_endpoint *ep);
	/*
	 * Another node took the address of this one, which stays in the ring as
	 * DOWN (gossip_endpoint_is_displaced) until it shows up elsewhere (a new
	 * generation: on_restart) or has its address back (on_reclaimed); its
	 * on_dead, if it was UP, came just before.
	 */
	void (*on_displaced)(void *ctx, const struct gossip_endpoint *ep);
	/*
	 * A displaced node has its address to itself again, in the same
	 * generation: the node that held the address moved on or was removed, and
	 * a newer heartbeat of this one came.  It is no longer displaced; on_alive
	 * follows once it answers our ECHO.
	 */
	void (*on_reclaimed)(void *ctx, const struct gossip_endpoint *ep);
};

/* Register a listener (the struct is copied).  0, or COL_EFULL beyond 8 listeners. */
int gossiper_add_listener(struct gossiper *g, const struct gossip_listener *l, void *ctx);

/* ---- queries (operator view, system.peers) --------------------------------------------------- */

/* Call fn for every endpoint, ourselves included (gossip_endpoint_is_self). */
void gossiper_foreach(const struct gossiper *g,
                      void (*fn)(void *ctx, const struct gossip_endpoint *ep), void *ctx);
const struct gossip_endpoint *gossiper_self(const struct gossiper *g);
/* NULL if unknown. */
const struct gossip_endpoint *gossiper_find(const struct gossiper *g, const struct host_id *h);
const struct gossip_endpoint *gossiper_find_addr(const struct gossiper *g,
                                                 const struct net_addr *a);
/*
 * Remove the endpoint of host id h (a node this one replaces): listeners get
 * on_remove, and its states up to the generation it had are not taken back
 * from peers.  0, or COL_ENOTFOUND (unknown, or ourselves).
 */
int gossiper_remove(struct gossiper *g, const struct host_id *h, const char *why);
/* Endpoints known (ourselves included) and UP (ourselves excluded). */
unsigned gossiper_endpoint_count(const struct gossiper *g);
unsigned gossiper_live_count(const struct gossiper *g);
/* True once any peer answered (we are not alone). */
bool gossiper_has_contact(const struct gossiper *g);

const struct host_id *gossip_endpoint_host_id(const struct gossip_endpoint *ep);
const struct net_addr *gossip_endpoint_addr(const struct gossip_endpoint *ep);
/* "127.0.3.2" (no port), for display. */
const char *gossip_endpoint_host(const struct gossip_endpoint *ep);
int64_t gossip_endpoint_generation(const struct gossip_endpoint *ep);
uint64_t gossip_endpoint_heartbeat(const struct gossip_endpoint *ep);
/* The highest version in the state (heartbeat or any app state). */
uint64_t gossip_endpoint_max_version(const struct gossip_endpoint *ep);
/* The value of an app state, NULL if never set; *len and *version (may be NULL) filled. */
const uint8_t *gossip_endpoint_app(const struct gossip_endpoint *ep, unsigned key, size_t *len,
                                   uint64_t *version);
bool gossip_endpoint_is_alive(const struct gossip_endpoint *ep);
bool gossip_endpoint_is_self(const struct gossip_endpoint *ep);
/*
 * Another node holds the address this entry was last seen at (it moved or
 * was replaced at it): the entry is DOWN and kept, its address is no longer
 * its own, until a newer generation of it shows up elsewhere.
 */
bool gossip_endpoint_is_displaced(const struct gossip_endpoint *ep);
/* It announced a shutdown (and no newer heartbeat came since). */
bool gossip_endpoint_is_shutdown(const struct gossip_endpoint *ep);
/* Current phi (0 for ourselves). */
double gossip_endpoint_phi(const struct gossip_endpoint *ep);
/* The longest interval between two of its heartbeats reaching us, µs (0 for ourselves). */
int64_t gossip_endpoint_heartbeat_gap_max_us(const struct gossip_endpoint *ep);
/* Times we marked it DOWN (convicted, announced a shutdown, restarted). */
uint64_t gossip_endpoint_downs(const struct gossip_endpoint *ep);

struct gossiper_stats {
	uint64_t rounds;
	uint64_t syn_out, ack_out, ack2_out;
	uint64_t syn_in, ack_in, ack2_in;
	uint64_t bytes_out; /* gossip payload bytes sent (for "gossip bytes per second") */
	uint64_t convictions, local_pauses;
	int64_t round_gap_max_us; /* longest interval between two of our rounds (heartbeats) */
	uint64_t seed_resolve_failures;
};
void gossiper_get_stats(const struct gossiper *g, struct gossiper_stats *out);

/*
 * Handle one gossip message (SYN, ACK, ACK2, SHUTDOWN, ECHO) as if it had
 * arrived from msg->from; answers go to msg->from through messaging.  The
 * registered verb handlers do exactly this; public for tests and fuzzers.
 * 0, or COL_ECORRUPT for a malformed payload, COL_EINVAL for another verb.
 */
int gossiper_receive(struct gossiper *g, const struct msg_in *msg);

/* ---- digest logic (pure; public for tests) --------------------------------------------------- */

/*
 * What to do with one digest of a SYN, given what we hold for that endpoint
 * (have == false: nothing): request their newer states from version
 * *req_from, and/or send ours newer than *send_from.
 */
enum gossip_digest_action { DIGEST_NOTHING = 0, DIGEST_REQUEST = 1, DIGEST_SEND = 2 };
enum gossip_digest_action gossip_examine_digest(bool have, int64_t local_gen, uint64_t local_max,
                                                int64_t remote_gen, uint64_t remote_max,
                                                uint64_t *from_version);

#endif
