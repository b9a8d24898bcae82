/*
 * net.h — libev TCP connections with pluggable framing, for the CQL server
 * (port 9042) and internode messaging (port 7000).
 *
 * It knows no protocol: the caller's framer finds frames and its callbacks
 * give them meaning.
 *
 * A struct net_loop is bound to one libev loop (one per I/O thread) and owns
 * every server and connection created on it.  A struct net_conn owns its fd,
 * an input buffer and a bounded output buffer.  The user supplies a framer
 * (how long is the next frame, given the bytes so far) and callbacks; net
 * delivers whole frames, never partial ones, and never a frame over
 * `max_frame` bytes.
 *
 * Writes are copied (or encoded in place) into the connection's output
 * buffer and flushed once per loop iteration, from an ev_prepare watcher,
 * with one write(2) per connection: many small frames queued in one
 * iteration leave in one syscall.  A write that would not complete arms a
 * write watcher and continues when the socket drains.
 *
 * Bounds and backpressure: queued output above `out_high` stops reading
 * from that connection until it drains below out_high / 2 (a client that
 * pipelines requests but does not read answers stops being served, instead
 * of growing our memory); a write that would take the queue above `out_cap`
 * is refused with COL_EFULL and nothing of it is queued.
 * net_conn_queued() and struct net_loop_stats are the metrics.
 *
 * Closing: net_conn_close() may be called from anywhere, including inside
 * this connection's own callbacks.  It marks the connection closing, stops
 * its watchers and closes the fd at once; on_close runs and the struct is
 * freed later, from the loop (Redis freeClientAsync), so no callback chain
 * ever touches freed memory.  After on_close returns the pointer is invalid.
 * on_close is called exactly once for every connection that was handed to
 * the user (accepted or returned by net_connect).
 *
 * TLS (core/tls.h) is a layer of the connection, under the buffered output
 * and the framer: a server given a context (net_server_set_tls) either
 * requires TLS or, when optional, sniffs the first byte (0x16 starts a TLS
 * ClientHello; nothing else does, in CQL or in internode frames) and serves
 * TLS and plaintext on the same port; an outgoing connection with
 * opts.tls does the client side.  The handshake is driven by the same
 * watchers as the data (SSL_read/SSL_write answer WANT_READ/WANT_WRITE),
 * must finish within handshake_timeout_ms, and frames, writes, flushing and
 * backpressure work the same above it.  Replacing a server's context affects
 * only connections accepted afterwards.
 *
 * Threading: every function must be called on the thread running the loop.
 */
#ifndef COLONNADE_CORE_NET_H
#define COLONNADE_CORE_NET_H

#include "core/buf.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct ev_loop;
struct tls_ctx;
typedef struct net_loop net_loop;
typedef struct net_conn net_conn;
typedef struct net_server net_server;

/* ---- addresses ---------------------------------------------------------------------------- */

/* An IPv4 or IPv6 socket address. */
struct net_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Longest text net_addr_format() produces ("[v6]:port" + NUL). */
#define NET_ADDR_STRLEN 64

/*
 * Parse a numeric host ("127.0.3.1", "::1") and a port into `out`, without
 * DNS.  0, or COL_EINVAL (with a message in err) if `host` is not numeric.
 */
int net_addr_parse(const char *host, uint16_t port, struct net_addr *out, struct cerr *err);

/*
 * Resolve `host` (a name or a numeric address) with getaddrinfo(3); the
 * first result wins, IPv4 preferred.  Blocks on DNS: call it where a short
 * stall is acceptable (a seed lookup once per gossip round at most).
 * 0, or COL_ENOTFOUND with the resolver's message in err.
 */
int net_addr_resolve(const char *host, uint16_t port, struct net_addr *out, struct cerr *err);

/* "127.0.3.1:7000" or "[::1]:7000" into buf (NET_ADDR_STRLEN bytes is enough). */
void net_addr_format(const struct net_addr *a, char *buf, size_t len);
/* The host part only ("127.0.3.1", "::1"). */
void net_addr_host(const struct net_addr *a, char *buf, size_t len);
uint16_t net_addr_port(const struct net_addr *a);
void net_addr_set_port(struct net_addr *a, uint16_t port);
/* Same family, host and port. */
bool net_addr_equal(const struct net_addr *a, const struct net_addr *b);
/* Same family and host (ports ignored). */
bool net_addr_same_host(const struct net_addr *a, const struct net_addr *b);

/*
 * This host's own address, for `listen_address: auto` (a container's address
 * on its network): what the host name resolves to, first IPv4 then IPv6,
 * loopback skipped (Debian maps the host name to 127.0.1.1); failing that,
 * the first non-loopback address of an interface that is up.  Blocks on the
 * resolver once.  0, or COL_ENOTFOUND with what was tried in err.
 */
int net_own_address(char *out, size_t cap, struct cerr *err);

/* ---- connections ---------------------------------------------------------------------------- */

/*
 * The framer: given the unconsumed input bytes p[0..len) (len may be 0),
 * return the total length of the next frame (header included, > 0) once the
 * header says it, 0 if more bytes are needed to know, or a negative COL_*
 * code if the bytes are not a valid frame header (the connection is closed
 * with that code).  It must not assume len covers the whole frame.
 */
typedef long (*net_framer_fn)(const uint8_t *p, size_t len);

/* Frames `[u32 big-endian length of what follows][...]`: total = 4 + length. */
long net_framer_u32be(const uint8_t *p, size_t len);

struct net_conn_ops {
	/* Required.  How long the next frame is; see net_framer_fn. */
	net_framer_fn frame_len;
	/*
	 * Required.  One whole frame (header included), valid only during the
	 * call.  Return 0 to go on, or a negative COL_* code to close the
	 * connection with that reason (bad input from the peer).  May write to
	 * and close this (or any) connection.
	 */
	int (*on_frame)(struct net_conn *c, const uint8_t *frame, size_t len);
	/*
	 * Optional.  A frame header announced `frame_len` > max_frame.  Called
	 * with the bytes received so far (at least the header) so that the
	 * protocol can answer (CQL sends an error carrying the stream id); what
	 * it writes is flushed, then the connection is closed with COL_ETOOBIG.
	 */
	void (*on_oversized)(struct net_conn *c, const uint8_t *head, size_t head_len,
	                     size_t frame_len);
	/* Optional.  An outgoing connection (net_connect) is established (with TLS: the
	 * handshake is done and the server's certificate verified). */
	void (*on_connect)(struct net_conn *c);
	/*
	 * Optional.  A server that requires TLS got plaintext (the first byte is not a TLS
	 * record): the connection goes on in plaintext so that the protocol can answer
	 * with an error of its own and close (it is closed at handshake_timeout_ms
	 * anyway).  Without this callback the connection is closed at once.  Either way
	 * net logs one line naming the client's address.
	 */
	void (*on_plaintext_refused)(struct net_conn *c);
	/*
	 * Optional.  Queued output fell back under out_high / 2 after having been
	 * above out_high (writers that got COL_EFULL may retry).
	 */
	void (*on_drain)(struct net_conn *c);
	/*
	 * Required.  Called once, from the loop, after the connection closed:
	 * `reason` is 0 for a local net_conn_close(c, 0), COL_ECLOSED for an
	 * orderly close by the peer, COL_EIO (reset, refused, unreachable),
	 * COL_ETIMEDOUT (connect timeout), COL_EPROTO (framer / on_frame
	 * error), COL_ETOOBIG (oversized frame); `why` says it in words and
	 * names the peer ("127.0.3.2:7000: connection refused").  Free the
	 * user context here; the conn is freed when this returns.
	 */
	void (*on_close)(struct net_conn *c, int reason, const char *why);
};

/* Per-connection limits.  Zero fields take the defaults in brackets. */
struct net_conn_opts {
	size_t max_frame;            /* largest frame accepted [16 MiB] */
	size_t out_high;             /* stop reading above this many queued bytes [4 MiB] */
	size_t out_cap;              /* refuse writes (COL_EFULL) beyond this [64 MiB] */
	size_t read_chunk;           /* bytes asked of each read(2) [64 KiB] */
	unsigned connect_timeout_ms; /* outgoing connect deadline [2000] */
	/*
	 * TCP_USER_TIMEOUT: close the connection (COL_EIO) when sent data stays
	 * unacknowledged this long, instead of the kernel's minutes of
	 * retransmissions; a link cut by a firewall is noticed and re-dialled.
	 * [0 = the kernel's default]
	 */
	unsigned user_timeout_ms;
	unsigned handshake_timeout_ms; /* TLS handshake deadline [10000] */
	/* Ask the kernel when received data arrived (SO_TIMESTAMPING, plaintext only):
	 * net_conn_input_age_us() then says how long input waited in the socket. */
	bool rx_timestamps;
	/* net_connect only: TLS with this client context (the connection takes a
	 * reference).  NULL = plaintext. */
	struct tls_ctx *tls;
};

/*
 * With opts.rx_timestamps: how long ago (µs) the newest bytes of the last read
 * arrived in the kernel — a lower bound of how long every frame delivered from
 * that read waited in the socket before this process read it.  -1 when not
 * known (option off, TLS, no timestamp given by the kernel).
 */
int64_t net_conn_input_age_us(const struct net_conn *c);

/* Counters of one connection (cumulative since it opened). */
struct net_conn_stats {
	uint64_t bytes_in, bytes_out;
	uint64_t frames_in;
	uint64_t writes_refused; /* COL_EFULL answers */
	size_t queued;           /* output bytes not yet written to the socket */
};

/*
 * Queue `len` bytes for sending (copied; flushed before the loop next
 * blocks).  0; COL_EFULL if the queue would exceed out_cap (nothing queued);
 * COL_ECLOSED if the connection is closing.  Writes made on an outgoing
 * connection before on_connect are queued and sent once connected.
 */
int net_conn_write(struct net_conn *c, const void *data, size_t len);

/*
 * Encode in place: net_conn_wbuf() returns the output buffer, whose current
 * length is the mark; append with buf_put_*() (and buf_patch_u32be() for
 * back-patched lengths), then net_conn_wcommit(c, mark).  Commit returns 0,
 * or rolls the buffer back to `mark` and returns COL_EFULL (over out_cap),
 * COL_ENOMEM (an append failed) or COL_ECLOSED.  Never keep the pointer
 * across calls; nothing else may write to c between wbuf and wcommit.
 */
struct buf *net_conn_wbuf(struct net_conn *c, size_t *mark);
int net_conn_wcommit(struct net_conn *c, size_t mark);

/*
 * Close: stop reading and writing now (queued output is dropped), run
 * on_close(c, reason, why) later from the loop.  `why` may be NULL.
 * Idempotent: the first reason wins.
 */
void net_conn_close(struct net_conn *c, int reason, const char *why);
/* Stop reading, send what is queued, then close (reason 0). */
void net_conn_close_after_flush(struct net_conn *c);
/* True once close was requested (writes are refused). */
bool net_conn_closing(const struct net_conn *c);

/*
 * Flow control by the user (e.g. too many requests in flight): a paused
 * connection reads nothing and delivers no buffered frames until resumed.
 */
void net_conn_pause_read(struct net_conn *c);
void net_conn_resume_read(struct net_conn *c);
/* True if the connection is currently reading (not paused by user or by out_high). */
bool net_conn_reading(const struct net_conn *c);

void net_conn_set_ctx(struct net_conn *c, void *ctx);
void *net_conn_ctx(const struct net_conn *c);
const struct net_addr *net_conn_peer(const struct net_conn *c);
const struct net_addr *net_conn_local(const struct net_conn *c);
/* "127.0.3.2:40312" — the peer, for log lines. */
const char *net_conn_peer_str(const struct net_conn *c);
size_t net_conn_queued(const struct net_conn *c);
/*
 * Input bytes received but not delivered (the start of an unfinished frame);
 * valid in on_close too, to tell a peer that hung up mid-frame.
 */
size_t net_conn_unread(const struct net_conn *c);

void net_conn_get_stats(const struct net_conn *c, struct net_conn_stats *out);
struct net_loop *net_conn_loop(const struct net_conn *c);
/* True once an outgoing connection completed (always true for accepted ones). */
bool net_conn_connected(const struct net_conn *c);
/* True if the connection is (or is becoming) a TLS session. */
bool net_conn_is_tls(const struct net_conn *c);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384, peer /CN=node2" once the handshake is done, else "plaintext". */
void net_conn_tls_describe(const struct net_conn *c, char *out, size_t cap);
/* The verified peer certificate's subject, "" if none. */
void net_conn_tls_peer(const struct net_conn *c, char *out, size_t cap);

/* ---- the loop ------------------------------------------------------------------------------- */

/*
 * How long the loop's iterations are busy, from waking up (events ready) to
 * blocking again: the batching window of everything done in one iteration
 * (group commit, coalesced writes), and the stalls a request waits behind.
 * Upper bounds of the finite buckets in µs; the last bucket counts the rest.
 */
#define NET_ITER_BUCKETS 13
extern const uint32_t net_iter_bounds_us[NET_ITER_BUCKETS - 1];

/* Totals over every connection of a loop. */
struct net_loop_stats {
	uint64_t conns_open;
	uint64_t conns_accepted, conns_connected, conns_closed;
	uint64_t bytes_in, bytes_out, frames_in;
	uint64_t flushes;        /* write(2) calls: frames_out / flushes is the coalescing */
	uint64_t writes_refused; /* COL_EFULL answers, all connections */
	uint64_t oversized, proto_errors; /* connections closed for bad input */
	uint64_t idle_us; /* time the loop waited for events (1 - idle / wall = how busy it is) */
	/* Time the loop's thread was ready to run but waited for a core (the kernel's run-queue
	 * delay, /proc/thread-self/schedstat), sampled on wake-ups at most every
	 * NET_RUNQ_SAMPLE_US; 0 where the kernel does not keep it.  On a machine shared with
	 * other work it is part of the wall time the loop seems busy. */
	uint64_t runq_us;
	/* Iterations that ran NET_STALL_US or longer from waking up to waiting again (each is
	 * logged, at most one line per NET_STALL_LOG_US, with the part spent waiting for a
	 * core), and of their time the part waiting for a core. */
	uint64_t stalls, stall_us, stall_runq_us;
	size_t queued;                           /* output bytes queued, all connections */
	uint64_t iter_buckets[NET_ITER_BUCKETS]; /* iterations by busy time, not cumulative */
	uint64_t iter_count, iter_busy_us;       /* iterations measured, their busy time */
	uint64_t iter_max_us;                    /* the longest one */
	uint64_t coalescing_iters; /* iterations run with the coalescing window applied */
};

/*
 * Create the net state for `loop` (which the caller keeps running).  It
 * installs one ev_prepare watcher that does not keep the loop alive.
 * 0 or COL_ENOMEM.
 */
int net_loop_new(struct ev_loop *loop, struct net_loop **out);
/*
 * Close every server and connection (their on_close runs now, reason 0),
 * then free.  Call it outside callbacks of this net_loop.
 */
void net_loop_free(struct net_loop *nl);
struct ev_loop *net_loop_ev(const struct net_loop *nl);
void net_loop_get_stats(const struct net_loop *nl, struct net_loop_stats *out);
/* net_loop_stats.idle_us alone (cheap: for admission on the request path). */
uint64_t net_loop_idle_us(const struct net_loop *nl);
/* net_loop_stats.runq_us alone (as cheap: sampled by the loop itself). */
uint64_t net_loop_runq_us(const struct net_loop *nl);
/*
 * Wait up to `window_us` after each iteration before polling again, while frames arrive
 * on the loop's connections at NET_COALESCE_ON or more per window (sampled every
 * NET_COALESCE_SAMPLE_US; off again below NET_COALESCE_OFF): under load, a wake-up then
 * takes a window's frames instead of one or two; idle or at a low rate the loop answers
 * at once.  0 (the default) never waits.  docs/PERFORMANCE.md, "Coalescing wake-ups".
 */
void net_loop_set_coalescing(struct net_loop *nl, uint32_t window_us);
#define NET_COALESCE_SAMPLE_US 100000
#define NET_COALESCE_ON        2
#define NET_COALESCE_OFF       1
#define NET_RUNQ_SAMPLE_US     5000
#define NET_STALL_US           200000
#define NET_STALL_LOG_US       10000000
/*
 * Flush queued output and reap closed connections now (what the loop does
 * before it blocks).  Rarely needed: tests, or a caller about to stop the loop.
 */
void net_loop_run_pending(struct net_loop *nl);

/*
 * Connect to `remote` from `local` (bind(2) to local's host, any port, before
 * connecting, so the peer sees — and a firewall rule by address cuts —
 * exactly our listen address; NULL = let the kernel choose).  Non-blocking:
 * the conn is returned at once; on_connect or on_close(COL_EIO /
 * COL_ETIMEDOUT) follows.  Writes made before on_connect are queued.
 * 0, or COL_EIO / COL_EINVAL with the reason in err (socket or bind failed;
 * no conn and no on_close then).
 */
int net_connect(struct net_loop *nl, const struct net_addr *local, const struct net_addr *remote,
                const struct net_conn_ops *ops, const struct net_conn_opts *opts, void *ctx,
                struct net_conn **out, struct cerr *err);

/* ---- servers -------------------------------------------------------------------------------- */

struct net_server_opts {
	struct net_conn_opts conn; /* limits of each accepted connection */
	unsigned max_conns;        /* accepted connections open at once; more are refused [4096] */
	int backlog;               /* listen(2) backlog [511] */
};

/*
 * Called for each accepted connection before any frame.  Set the per-connection
 * context with net_conn_set_ctx() (it starts as the server's ctx).  Return 0
 * to keep the connection, negative to refuse it (closed without on_close).
 */
typedef int (*net_accept_fn)(struct net_server *s, struct net_conn *c, void *server_ctx);

/*
 * Listen on `addr` with SO_REUSEADDR.  Accepted connections use `ops` and
 * opts->conn.  0, or COL_EIO with "listen on 127.0.3.1:7000: Address already
 * in use" in err.
 */
int net_server_new(struct net_loop *nl, const struct net_addr *addr,
                   const struct net_server_opts *opts, const struct net_conn_ops *ops,
                   net_accept_fn on_accept, void *ctx, struct net_server **out, struct cerr *err);
enum net_tls_mode {
	NET_TLS_OFF = 0,  /* plaintext only */
	NET_TLS_REQUIRED, /* TLS only: plaintext gets on_plaintext_refused or is closed */
	NET_TLS_OPTIONAL, /* TLS or plaintext on the same port, told apart by the first byte */
};
/*
 * Serve TLS with server context `tls` (a reference is taken; NULL with NET_TLS_OFF).
 * Connections accepted from now on use it; those already open keep their session.
 */
void net_server_set_tls(struct net_server *s, struct tls_ctx *tls, enum net_tls_mode mode);

/*
 * Hand accepted connections to other loops: fn(ctx, fd, peer) runs for each
 * accepted socket (non-blocking, close-on-exec, socket options set) before a
 * connection is made of it; returning 0 means fn took the fd (another loop
 * serves it: net_conn_adopt there), anything else serves it here as usual.
 * Handed-off connections do not count against this server's max_conns.
 * A server serving TLS (net_server_set_tls) hands nothing off unless told that
 * the adopters apply TLS themselves (net_server_set_handoff_tls: they call
 * net_conn_serve_tls before net_conn_start): a connection is never served in
 * plaintext because it moved to another loop.
 */
typedef int (*net_handoff_fn)(void *ctx, int fd, const struct net_addr *peer);
void net_server_set_handoff(struct net_server *s, net_handoff_fn fn, void *ctx);
void net_server_set_handoff_tls(struct net_server *s, bool adopters_serve_tls);
/*
 * Serve an accepted socket (from a handoff) on `nl`, the calling thread's
 * loop: the connection is made with ops/opts/ctx but reads nothing until
 * net_conn_start(c) (call it after setting the context).  0, or COL_ENOMEM
 * (the fd is left to the caller then).
 */
int net_conn_adopt(struct net_loop *nl, int fd, const struct net_addr *peer,
                   const struct net_conn_ops *ops, const struct net_conn_opts *opts, void *ctx,
                   struct net_conn **out);
void net_conn_start(struct net_conn *c);
/*
 * Serve TLS on an adopted connection (before net_conn_start), as a server given
 * net_server_set_tls() does for those it accepts itself.  The connection takes a
 * reference; tls NULL or NET_TLS_OFF leaves it plaintext.
 */
void net_conn_serve_tls(struct net_conn *c, struct tls_ctx *tls, enum net_tls_mode mode);
/* Stop listening; connections already accepted stay open.  Not from its own callbacks. */
void net_server_free(struct net_server *s);
/* The bound address (its port filled in when 0 was asked). */
const struct net_addr *net_server_addr(const struct net_server *s);
unsigned net_server_conns(const struct net_server *s);

#endif
