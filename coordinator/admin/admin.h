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
 * on 127.0.0.1:7199: Address already in use"), then given to MHD.  Bounds:
 * at most ADMIN_MAX_CONNS connections, ADMIN_CONN_TIMEOUT_S idle seconds
 * each; GET and HEAD, and POST for routes that change state (their request
 * bodies are ignored: options go in the query string).
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

#define ADMIN_MAX_CONNS      64
#define ADMIN_CONN_TIMEOUT_S 10
#define ADMIN_MAX_QUERY      16384 /* rebuilt query string, bytes */

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
	bool post; /* changes state: served to POST (empty body) only, GET gets 405 */
};

/*
 * Listen on address:port and serve `routes`.  0, or COL_EIO / COL_EINVAL with
 * the reason in err.
 */
int admin_new(struct ev_loop *loop, const char *address, uint16_t port,
              const struct admin_route *routes, size_t n_routes, void *ctx, struct admin **out,
              struct cerr *err);
/* Stop listening and close connections.  NULL is fine. */
void admin_free(struct admin *a);

/* Counters for /metrics: requests served, by status class, and time spent. */
struct admin_stats {
	uint64_t requests;
	uint64_t not_found;
	uint64_t errors;     /* 5xx answers */
	uint64_t handler_us; /* total time inside handlers */
};
void admin_get_stats(const struct admin *a, struct admin_stats *out);

#endif
