/*
 * admin.h — the node's admin HTTP endpoint (port 7199): JSON for the
 * operator tools and Prometheus text at /metrics.
 *
 * A GET or HEAD never changes node state: routes that do (the hinted-handoff
 * operations) answer POST only.
 *
 * libmicrohttpd runs in its external-epoll mode on the node's own libev loop:
 * one ev_io watches MHD's epoll fd and one ev_timer its connection timeouts,
 * so every handler runs on the loop thread and reads live node state (gossip,
 * storage, CQL server counters) without locks.  Handlers answer at once; an
 * answer is built in a struct buf and handed to MHD (which frees it).
 *
 * The listening socket is opened here (so a taken port gives "admin: listen
 * on 127.0.0.1:7199: Address already in use"), then given to MHD.  Bounds,
 * so that slow or half-open clients cannot starve /health: at most
 * ADMIN_MAX_CONNS connections, ADMIN_MAX_CONNS_PER_IP from one source address
 * (MHD closes the rest at accept), ADMIN_HEADER_TIMEOUT_S seconds for a request
 * head to arrive (a sweep timer shuts the socket down, MHD then closes it),
 * ADMIN_CONN_TIMEOUT_S idle seconds, and one request per connection.  GET and
 * HEAD, and POST for routes that change state (their request bodies are
 * ignored: options go in the query string).  POST routes and `guarded` ones
 * (stored data) need the admin token, see admin_new().
 *
 * Routes are a table the owner passes in (path -> handler); unknown paths
 * answer 404 with {"error": "..."} listing the known ones.  The endpoints the
 * node serves, and their JSON, are in docs/OPERATIONS.md.
 *
 * Ownership: the admin borrows `loop` and `ctx` (they outlive it); the route
 * table must stay valid until admin_free().
 */
#ifndef COLONNADE_COORDINATOR_ADMIN_H
#define COLONNADE_COORDINATOR_ADMIN_H

#include "core/buf.h"
#include "core/err.h"
#include "core/json.h"

#include <stdbool.h>
#include <stdint.h>

struct ev_loop;
typedef struct admin admin;

#define ADMIN_MAX_CONNS        512 /* open at once, from everyone */
#define ADMIN_MAX_CONNS_PER_IP 16  /* from one source address; more are closed at accept */
#define ADMIN_CONN_TIMEOUT_S   10  /* idle seconds, any state */
#define ADMIN_HEADER_TIMEOUT_S 3   /* seconds from accept to a complete request head */
#define ADMIN_BACKLOG          512
#define ADMIN_MAX_QUERY        16384 /* rebuilt query string, bytes */

/*
 * A handler writes the answer body into `out` and returns the HTTP status
 * (200, 404, 500, ...).  *content_type starts as "application/json"; JSON
 * answers are written with core/json.h's struct jw.
 * `query` is the query string or "" (no '?'), rebuilt from what MHD decoded:
 * "k=v&k2=v2" with every byte outside [A-Za-z0-9-_.~] percent-encoded
 * (inspect_query_param() in coordinator/admin/inspect.h decodes one parameter).
 */
typedef int (*admin_handler_fn)(void *ctx, const char *query, struct buf *out,
                                const char **content_type);

struct admin_route {
	const char *path; /* exact match, e.g. "/v1/status" */
	admin_handler_fn handler;
	bool post;    /* changes state: served to POST (empty body) only, GET gets 405 */
	bool guarded; /* serves stored data: needs the token as a POST route does */
};

/*
 * Listen on address:port and serve `routes`.  `token` (copied; NULL or "" for
 * none) guards the POST and `guarded` routes: a request needs
 * "Authorization: Bearer <token>" (else 401).  Without a token those routes are
 * served only when `address` is a loopback address (else 403).  0, or COL_EIO /
 * COL_EINVAL / COL_ENOMEM with the reason in err.
 */
int admin_new(struct ev_loop *loop, const char *address, uint16_t port,
              const struct admin_route *routes, size_t n_routes, void *ctx, const char *token,
              struct admin **out, struct cerr *err);
/*
 * HTTPS on the admin port (admin_encryption_options): PEM files, checked with
 * OpenSSL at start so that errors name the file; served by libmicrohttpd's
 * GnuTLS.  With a truststore, a client certificate that chains to it opens the
 * guarded routes as the token does (either suffices).  Certificates are read
 * once: the admin port does not reload them on SIGHUP.
 */
struct admin_tls {
	const char *certificate, *private_key; /* required */
	const char *truststore;                /* NULL: no client certificates asked for */
};
/* admin_new, over HTTPS when tls is not NULL. */
int admin_new_tls(struct ev_loop *loop, const char *address, uint16_t port,
                  const struct admin_route *routes, size_t n_routes, void *ctx, const char *token,
                  const struct admin_tls *tls, struct admin **out, struct cerr *err);
/* Stop listening and close connections.  NULL is fine. */
void admin_free(struct admin *a);

/* Counters for /metrics: requests served, by status class, and time spent. */
struct admin_stats {
	uint64_t requests;
	uint64_t not_found;
	uint64_t errors;          /* 5xx answers */
	uint64_t handler_us;      /* total time inside handlers */
	uint64_t refused;         /* guarded routes refused: no or a wrong token */
	uint64_t cert_logins;     /* guarded routes opened by a client certificate */
	uint64_t header_timeouts; /* connections cut for a late request head */
	uint64_t open_conns;      /* open now */
};
void admin_get_stats(const struct admin *a, struct admin_stats *out);
/* Is it bound to a loopback address (reachable from this host only)? */
bool admin_on_loopback(const struct admin *a);

#endif
