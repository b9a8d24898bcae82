/*
 * messaging.h — internode messaging (port 7000): framed, verb-dispatched
 * messages between nodes, with request/response matching and timeouts.
 * It never interprets a payload of a verb it does not own and knows no
 * verb of the coordinator: those modules register their verbs and handlers.
 *
 * Connections.  One TCP connection per peer and direction.  Our requests and
 * one-way messages to peer P go on OUR outgoing connection to P, bound to our
 * listen address (a firewall cut by address isolates exactly one node).
 * Responses go the same way as Cassandra sends them: on the RESPONDER's own
 * outgoing connection to the requester's listen address (learnt from the
 * handshake), never back on the connection the request came in on.  So every
 * connection carries data one way only, except the single handshake reply —
 * and except a request flagged REPLY_HERE: its response (or failure) goes back
 * on the connection the request came in on.  A node's request loops send with
 * that flag from messaging instances of their own that have no listener
 * (cfg.no_listen), so the answers reach the loop that asked
 * without passing through the main loop (docs/ARCHITECTURE.md, Threads).
 *
 * Handshake.  The connecting side's first frame is HANDSHAKE; the accepting
 * side checks cluster name, messaging version and that the host id is not
 * its own from another address (a copied data directory), answers with its own
 * HANDSHAKE (flag RESPONSE) and, on a mismatch, logs one line naming both
 * cluster names and the address, then closes.  Nothing but a handshake is
 * accepted before it.  Messages are pipelined behind the handshake (no round
 * trip on reconnect).
 *
 * The handshake carries the address peers should use for us: the broadcast
 * address (cfg.broadcast; len 0 = the listen address, port 0 = the listen
 * port), which behind NAT is not the one we bind (a container's published or
 * public address).  Peers are identified by that address; a peer's host id
 * is known once a handshake passed either way.  A peer object is created on the first send
 * and lives until messaging_forget_peer() or messaging_free().
 *
 * Queues are bounded.  Messages for a connected (or connecting) peer are
 * encoded straight into the connection's output buffer (capped at
 * peer_queue_bytes: beyond it a send fails with COL_EFULL); while a peer is
 * in reconnect backoff they wait in a pending buffer (pending_bytes,
 * pending_msgs), dropped when the next connect fails.  Every drop is counted
 * (struct messaging_peer_stats).  In-flight requests are bounded by
 * max_requests.
 *
 * Performance.  A message is encoded in place (no per-message malloc: see
 * messaging_begin_*), and frames queued in one loop iteration leave in one
 * write per connection (core/net.h).  Bodies above compress_threshold are
 * zstd-compressed (flag ZSTD) when that makes them smaller.
 *
 * Threading: one libev loop; every call on that loop's thread.
 *
 * ---- Wire format (all integers big-endian; msgpack is canonical, see core/msgpk.h) ----
 *
 * Frame:
 *   | offset | size    | field                                                      |
 *   |--------|---------|------------------------------------------------------------|
 *   | 0      | 4       | u32 length L of what follows (flags + body), 1..max+1      |
 *   | 4      | 1       | flags: bit0 ZSTD (body is one zstd frame of the msgpack,   |
 *   |        |         | content size in its header), bit1 RESPONSE (id is one of   |
 *   |        |         | the receiver's requests), bit2 FAILURE (with RESPONSE:     |
 *   |        |         | payload is [code, message]), bit3 REPLY_HERE (a request    |
 *   |        |         | (id != 0, no RESPONSE) whose response goes back on the     |
 *   |        |         | connection it came in on); other bits must be 0            |
 *   | 5      | L - 1   | body                                                       |
 *
 * Body: msgpack array(3) [verb: uint 0..63, id: uint, payload: one msgpack value].
 * id is 0 for one-way messages; a request's id is chosen by the requester and
 * echoed in the response.  Verbs are fixed numbers, never renumbered.
 * Messaging owns 0..9 (its own and the gossiper's); 10..63 belong to the
 * modules above it, which define their numbers and payloads in their own
 * headers and register them at start (messaging_register_verbs); the table
 * of every number in use is in docs/ARCHITECTURE.md.
 *
 *   | verb | name               | payload                                              |
 *   |------|--------------------|------------------------------------------------------|
 *   | 0    | HANDSHAKE          | [cluster: str, version: uint, host_id: bin16,        |
 *   |      |                    |  listen_host: str, listen_port: uint, status: uint,  |
 *   |      |                    |  reason: str]  status 0 OK, 1 wrong cluster,         |
 *   |      |                    |  2 wrong version, 3 our own host id at another       |
 *   |      |                    |  address, 4 unauthenticated, 5 plaintext from a      |
 *   |      |                    |  peer that must use TLS; the request has status 0,   |
 *   |      |                    |  reason ""                                           |
 *   | 1-4  | GOSSIP_SYN/ACK/    | see gossip/gossiper.h                                |
 *   |      | ACK2/SHUTDOWN      |                                                      |
 *   | 5/6  | ECHO / ECHO_RSP    | [] / []                                              |
 *   | 10.. | registered         | in the header of the module that registers them      |
 *
 * Failure response (flags RESPONSE|FAILURE): payload [code: int (COL_E*), message: str].
 */
#ifndef COLONNADE_GOSSIP_MESSAGING_H
#define COLONNADE_GOSSIP_MESSAGING_H

#include "core/buf.h"
#include "core/err.h"
#include "core/net.h"
#include "gossip/internode_auth.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct messaging messaging;
typedef struct messaging_peer messaging_peer;

/* Bumped on any incompatible change of the formats above; peers must match. */
#define MESSAGING_VERSION 1

/*
 * Messaging's own verbs and the gossiper's: fixed numbers, never renumbered;
 * a gap is a retired verb.  Numbers from VERB_REGISTERED_MIN up are defined
 * by the modules that register them.
 */
enum verb {
	VERB_HANDSHAKE = 0,
	VERB_GOSSIP_SYN = 1,
	VERB_GOSSIP_ACK = 2,
	VERB_GOSSIP_ACK2 = 3,
	VERB_GOSSIP_SHUTDOWN = 4,
	VERB_ECHO = 5,
	VERB_ECHO_RSP = 6,
	VERB_REGISTERED_MIN = 10, /* first number a module above messaging may register */
	VERB_MAX = 64             /* verbs are 0..VERB_MAX-1 */
};

#define MSG_F_ZSTD       0x01u
#define MSG_F_RESPONSE   0x02u
#define MSG_F_FAILURE    0x04u
#define MSG_F_REPLY_HERE 0x08u
#define MSG_F_KNOWN_     (MSG_F_ZSTD | MSG_F_RESPONSE | MSG_F_FAILURE | MSG_F_REPLY_HERE)

#define HOST_ID_LEN 16
/* A node's identity: a random (v4) UUID made at first boot and kept. */
struct host_id {
	uint8_t b[HOST_ID_LEN];
};
#define HOST_ID_STRLEN 37
/* "6f1c...-..." lowercase hyphenated into out (HOST_ID_STRLEN bytes). */
void host_id_format(const struct host_id *h, char *out);
/* Parse the hyphenated form; 0 or COL_EINVAL. */
int host_id_parse(const char *s, struct host_id *out);
bool host_id_equal(const struct host_id *a, const struct host_id *b);
bool host_id_is_zero(const struct host_id *h);

/* ---- configuration and life ------------------------------------------------------------------ */

struct messaging_config {
	const char *cluster_name;    /* required; copied */
	struct host_id host_id;      /* required: ours */
	struct net_addr listen;      /* required: bind address for the server and our sources */
	struct net_addr broadcast;   /* announced to peers (NAT: the public side) [listen] */
	size_t max_message;          /* largest body, compressed or not [16 MiB] */
	size_t peer_queue_bytes;     /* per-connection output cap [64 MiB] */
	size_t pending_bytes;        /* per-peer queue while in backoff [4 MiB] */
	unsigned pending_msgs;       /* per-peer messages while in backoff [4096] */
	unsigned max_requests;       /* in-flight requests, all peers [65536] */
	unsigned reconnect_min_ms;   /* first backoff [100]; doubles per failure */
	unsigned reconnect_max_ms;   /* backoff ceiling [5000] */
	unsigned connect_timeout_ms; /* [2000] */
	size_t compress_threshold;   /* compress bodies larger than this [4096]; 0 = default */
	unsigned max_inbound;        /* inbound connections at once [1024] */
	/* Unacknowledged data closes a connection after this long (core/net.h) [10000] */
	unsigned tcp_user_timeout_ms;
	/*
	 * The cluster's shared secret (copied; NULL = none): with one, every
	 * handshake both ways must prove it (gossip/internode_auth.h) and a
	 * connection that does not is refused before any frame reaches a handler.
	 * At least IAUTH_MIN_SECRET bytes.
	 */
	const uint8_t *secret;
	size_t secret_len;
	/*
	 * TLS (server_encryption_options; core/tls.h): contexts for accepting and
	 * connecting (messaging takes references; NULL = plaintext).  The listener
	 * requires TLS unless tls_optional, when it sniffs and also takes plaintext
	 * hellos, each from a peer that plaintext_from() allows (NULL: any); the
	 * others are answered HANDSHAKE_NEEDS_TLS.  Outgoing connections are TLS to
	 * the peers tls_to() names (NULL: all).  Peers verify each other's
	 * certificates against the truststore both ways (mutual TLS); the secret's
	 * proofs, when set, still run inside.
	 */
	struct tls_ctx *tls_server, *tls_client;
	bool tls_optional;
	bool (*tls_to)(void *ctx, const struct net_addr *peer);
	bool (*plaintext_from)(void *ctx, const struct net_addr *peer);
	void *tls_policy_ctx;
	/*
	 * A sender only (a request loop's): no listener; its outgoing connections
	 * also carry back the responses to its requests, which it sends with
	 * REPLY_HERE.  Handlers registered on it are never called.
	 */
	bool no_listen;
};

/*
 * Listen on cfg->listen and get ready to send.  `nl` is shared with the other
 * servers of the loop.  0, or COL_EIO ("listen on 127.0.3.1:7000: Address
 * already in use") / COL_EINVAL / COL_ENOMEM with the reason in err.
 */
int messaging_new(struct net_loop *nl, const struct messaging_config *cfg, struct messaging **out,
                  struct cerr *err);
/*
 * Close every connection, call every pending request's callback with
 * COL_ECLOSED (sends from those callbacks fail with COL_ECLOSED), free.  Not
 * from inside a messaging callback; before net_loop_free() of its loop.
 * NULL is fine.
 */
void messaging_free(struct messaging *m);
/* New certificates (SIGHUP): connections accepted and made from now on use them. */
void messaging_set_tls(struct messaging *m, struct tls_ctx *server, struct tls_ctx *client);
const struct net_addr *messaging_listen_addr(const struct messaging *m);
/* The address we announce (cfg.broadcast, or the listen address). */
const struct net_addr *messaging_broadcast_addr(const struct messaging *m);
/* Is `a` one of our own addresses (listen or broadcast, port included)? */
bool messaging_is_own_addr(const struct messaging *m, const struct net_addr *a);
const struct host_id *messaging_host_id(const struct messaging *m);
const char *messaging_cluster_name(const struct messaging *m);
struct ev_loop *messaging_ev(const struct messaging *m);

/* ---- receiving ------------------------------------------------------------------------------- */

/* One received message; valid only during the callback that gets it. */
struct msg_in {
	unsigned verb;
	unsigned flags; /* MSG_F_* */
	uint64_t id;
	const uint8_t *payload; /* the payload's msgpack bytes (one complete value) */
	size_t payload_len;
	const struct net_addr *from;     /* the sender's listen address (from its handshake) */
	const struct host_id *from_host; /* the sender's host id */
	/* A REPLY_HERE request: the connection it came in on (copy it with the rest when
	 * answering later; a connection closed since makes the answer a no-op). */
	uint64_t via;
	/* A message on an incoming connection: how long it waited in this node's socket
	 * before it was read, µs (the kernel's receive time of the newest bytes of its
	 * read: a lower bound); -1 unknown (TLS, no timestamp), 0 for other messages. */
	int64_t age_us;
};

/*
 * A verb handler.  Decode msg->payload (core/msgpk.h); answer a request with
 * messaging_begin_response().  Return 0, or a negative code if the payload is
 * malformed: the message is dropped, a line is logged naming the verb and the
 * sender, the connection is closed (the sender reconnects), and a request
 * gets no answer.
 */
typedef int (*messaging_handler_fn)(struct messaging *m, const struct msg_in *msg, void *ctx);

/*
 * Route `verb` to `fn`.  One handler per verb; registering again replaces it
 * (NULL removes it).  A request for a verb without a handler is answered with
 * a failure (COL_EUNSUPPORTED); a one-way message is dropped.
 */
void messaging_register(struct messaging *m, unsigned verb, messaging_handler_fn fn, void *ctx);

/*
 * One verb of a module above messaging, as that module's table lists it:
 * its number (VERB_REGISTERED_MIN..VERB_MAX-1), its name for log lines, and
 * its handler, or NULL for a verb the module only sends (a response, which
 * reaches the request's callback, or a one-way message another module
 * handles).
 */
struct messaging_verb {
	unsigned verb;
	const char *name; /* static storage */
	messaging_handler_fn fn;
};

/*
 * Claim the `n` verbs of `table` for one module: name each, and route the
 * ones with a handler to it with `ctx`.  A number may be claimed again only
 * under the same name (two modules may share a verb, e.g. one sends what the
 * other handles); a number outside the registered range, or already named
 * differently, fails with COL_EINVAL / COL_EEXIST and changes nothing.
 */
int messaging_register_verbs(struct messaging *m, const struct messaging_verb *table, size_t n,
                             void *ctx);
/* Remove the handlers `table` installed (names stay, for late log lines). */
void messaging_unregister_verbs(struct messaging *m, const struct messaging_verb *table, size_t n);

/* Name of a verb for log lines ("GOSSIP_SYN", "MUTATION", "verb 42"). */
const char *messaging_verb_name(const struct messaging *m, unsigned verb, char *scratch,
                                size_t len);

/* ---- sending --------------------------------------------------------------------------------- */

/*
 * Response callback: called exactly once per committed request.  status 0 with
 * rsp = the response; a remote failure: status = its code (< 0), rsp holding
 * [code, message] (messaging_failure_text() reads it); COL_ETIMEDOUT or
 * COL_ECLOSED (messaging_free): rsp NULL.
 */
typedef void (*messaging_rsp_fn)(void *ctx, int status, const struct msg_in *rsp);

/* A message being encoded: fill the payload buffer, then commit or abort. */
struct msg_out {
	struct messaging *m;
	struct messaging_peer *peer; /* NULL for a response on an incoming connection */
	struct net_conn *conn;       /* that connection */
	struct buf *b;               /* append exactly one msgpack value (the payload) here */
	size_t mark;
	unsigned flags;
	unsigned verb;
	void *req; /* for requests: the reserved request slot */
};

/*
 * Start a message to `to` (a listen address): on success o->b is the buffer
 * to append the payload to (one msgpack value, core/msgpk.h).  Then call
 * messaging_commit(o) or messaging_abort(o) before any other messaging call.
 * 0, or COL_EINVAL (bad verb), COL_EFULL (request table full).
 */
int messaging_begin_oneway(struct messaging *m, const struct net_addr *to, unsigned verb,
                           struct msg_out *o);
/*
 * A request: cb(ctx, ...) is called exactly once after a successful commit
 * (response, failure, COL_ETIMEDOUT after timeout_ms, or COL_ECLOSED), never
 * from inside messaging_commit().
 */
int messaging_begin_request(struct messaging *m, const struct net_addr *to, unsigned verb,
                            unsigned timeout_ms, messaging_rsp_fn cb, void *ctx, struct msg_out *o);
/* A response to `req` (a request received by a handler), sent to req->from, or back on
 * the connection it came in on when it has REPLY_HERE (COL_ECLOSED: that one is gone). */
int messaging_begin_response(struct messaging *m, const struct msg_in *req, unsigned verb,
                             struct msg_out *o);
/*
 * Queue the message.  0; COL_EFULL (peer queue full: dropped and counted),
 * COL_ETOOBIG (over max_message), COL_ENOMEM.  On failure of a request its
 * callback is not called.
 */
int messaging_commit(struct msg_out *o);
void messaging_abort(struct msg_out *o);

/* Convenience: a one-way message whose payload is already encoded msgpack. */
int messaging_send(struct messaging *m, const struct net_addr *to, unsigned verb,
                   const void *payload, size_t len);
/* Convenience: answer `req` with a failure [code, message]. */
int messaging_respond_failure(struct messaging *m, const struct msg_in *req, int code,
                              const char *message);
/* The code and message of a failure response. */
int messaging_failure_text(const struct msg_in *rsp, int *code, char *msg, size_t len);

/*
 * Forget a peer address (a node moved to another address): close its
 * connection, drop its queue.  Its pending requests still time out.
 */
void messaging_forget_peer(struct messaging *m, const struct net_addr *addr);

/*
 * Close our outgoing connection to `addr` now (the gossiper does it when it
 * convicts a node, as Cassandra interrupts its outbound connections): bytes
 * stuck in a stalled connection are dropped and the next message dials
 * afresh, without backoff.  No-op for an unknown address.
 */
void messaging_reset_peer(struct messaging *m, const struct net_addr *addr);

/* ---- metrics --------------------------------------------------------------------------------- */

enum messaging_peer_state {
	PEER_IDLE = 0,       /* no connection, none needed yet */
	PEER_CONNECTING = 1, /* connect or handshake in progress */
	PEER_READY = 2,      /* handshake answered OK */
	PEER_BACKOFF = 3,    /* last attempt failed; waiting to retry */
	PEER_REFUSED = 4     /* the peer refused our handshake (other cluster/version) */
};

struct messaging_peer_stats {
	enum messaging_peer_state state;
	bool host_known;
	struct host_id host_id;
	size_t queued_bytes;   /* output bytes not yet written (connection + pending) */
	unsigned pending_msgs; /* messages waiting for a connection */
	uint64_t sent_msgs;    /* committed messages */
	uint64_t dropped_msgs; /* refused (queue full) or lost with a failed connection */
	uint64_t connects, connect_failures;
	unsigned backoff_ms; /* current backoff */
};

struct messaging_stats {
	uint64_t msgs_in, msgs_out;
	uint64_t requests_pending;
	uint64_t timeouts;
	uint64_t late_responses; /* responses after their timeout */
	uint64_t dropped;        /* all peers */
	uint64_t refused_handshakes;
	uint64_t bad_frames; /* inbound connections closed for malformed input */
	uint64_t compressed_out;
	size_t queued_bytes; /* all peers */
};

void messaging_get_stats(const struct messaging *m, struct messaging_stats *out);

/* Per verb (Cassandra's DroppedMessages by verb), cumulative. */
struct messaging_verb_stats {
	uint64_t in;       /* received (requests, one-way messages and responses) */
	uint64_t out;      /* committed for sending */
	uint64_t dropped;  /* refused at send time: queue full */
	uint64_t timeouts; /* requests of this verb that timed out */
};
/* Zeroes for a verb out of range. */
void messaging_get_verb_stats(const struct messaging *m, unsigned verb,
                              struct messaging_verb_stats *out);

/* Stats of the peer at `addr`; COL_ENOTFOUND if we never sent to it. */
int messaging_peer_get_stats(const struct messaging *m, const struct net_addr *addr,
                             struct messaging_peer_stats *out);
/* Call fn for every peer (address + stats). */
void messaging_foreach_peer(const struct messaging *m,
                            void (*fn)(void *ctx, const struct net_addr *addr,
                                       const struct messaging_peer_stats *st),
                            void *ctx);

/* ---- codec (used by the above; public for tests and fuzzers) --------------------------------- */

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;

/* Compression contexts and a scratch buffer reused across messages. */
struct msg_codec {
	struct ZSTD_CCtx_s *cctx;
	struct ZSTD_DCtx_s *dctx;
	struct buf cscratch; /* compression output (sending) */
	struct buf dscratch; /* decompressed bodies (receiving) */
	size_t max_message;
	size_t compress_threshold;
};

int msg_codec_init(struct msg_codec *c, size_t max_message, size_t compress_threshold);
void msg_codec_release(struct msg_codec *c);

/*
 * Append a frame header and the body's first two fields ([verb, id, ...) to
 * b; returns the mark to pass to msg_frame_end() after the payload is
 * appended.
 */
size_t msg_frame_begin(struct buf *b, unsigned verb, uint64_t id);
/*
 * Finish the frame started at `mark`: compress the body if worthwhile, set
 * flags and the length.  0, COL_ETOOBIG (body over max_message; b rolled back
 * to mark), COL_ENOMEM.
 */
int msg_frame_end(struct msg_codec *c, struct buf *b, size_t mark, unsigned flags);

/*
 * Decode one whole frame (as net delivers it).  out->payload points into
 * `frame` or into c->dscratch (valid until the next decode).  out->from and
 * from_host are left NULL.  0, or COL_EPROTO / COL_ECORRUPT / COL_ETOOBIG
 * with what is wrong in err.
 */
int msg_decode(struct msg_codec *c, const uint8_t *frame, size_t len, struct msg_in *out,
               struct cerr *err);

/* A decoded HANDSHAKE payload; strings point into the payload. */
struct msg_handshake {
	const uint8_t *fields; /* the seven values as encoded (what a proof signs) */
	size_t fields_len;
	bool has_proof; /* an eighth value [time_ms, nonce, mac] was present */
	struct iauth_proof proof;
	const uint8_t *cluster;
	uint32_t cluster_len;
	uint64_t version;
	struct host_id host_id;
	char listen_host[64];
	uint16_t listen_port;
	uint64_t status;
	const uint8_t *reason;
	uint32_t reason_len;
};

enum {
	HANDSHAKE_OK = 0,
	HANDSHAKE_WRONG_CLUSTER = 1,
	HANDSHAKE_WRONG_VERSION = 2,
	HANDSHAKE_SAME_HOST_ID = 3,    /* another address with our host id (a copied data dir) */
	HANDSHAKE_UNAUTHENTICATED = 4, /* no, a wrong or a replayed proof of the cluster secret */
	HANDSHAKE_NEEDS_TLS = 5        /* a plaintext hello from a peer that must use TLS */
};

/* The seven values; no proof (a cluster without internode_authenticator_secret). */
void msg_handshake_encode(struct buf *b, const char *cluster, const struct host_id *host,
                          const struct net_addr *listen, unsigned status, const char *reason);
/*
 * The seven values and an eighth, the proof [time_ms, nonce, mac] signed with
 * `secret` (internode_auth.h); `challenge` NULL for a hello, the hello's nonce
 * for an answer.
 *
 * Wire: msgpack array(8): the seven values of msg_handshake_encode, then
 * array(3) [time_ms: uint, nonce: bin 16, mac: bin 32].
 */
void msg_handshake_encode_proved(struct buf *b, const char *cluster, const struct host_id *host,
                                 const struct net_addr *listen, unsigned status, const char *reason,
                                 const uint8_t *secret, size_t secret_len, uint64_t time_ms,
                                 const uint8_t nonce[IAUTH_NONCE_LEN], const uint8_t *challenge);
int msg_handshake_decode(const uint8_t *payload, size_t len, struct msg_handshake *out,
                         struct cerr *err);

#endif
