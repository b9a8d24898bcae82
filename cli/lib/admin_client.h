/*
 * admin_client.h — the operator tools' side of the admin HTTP endpoint.
 *
 * `colonnade status|info|gossipinfo|describecluster|ring` and the cluster test
 * harness talk to a node's admin port (7199 by default, coordinator/admin/admin.h)
 * with one HTTP/1.0 GET per question and read a JSON answer.  This is a
 * deliberately tiny blocking client: one request per connection, a deadline
 * for the whole exchange, a bound on the answer's size, and an optional
 * source address (the test harness talks from an address that is no node's,
 * so that a partition cut by address never cuts the harness off).
 *
 * The endpoints and their JSON are documented in docs/OPERATIONS.md.
 */
#ifndef COLONNADE_CLI_ADMIN_CLIENT_H
#define COLONNADE_CLI_ADMIN_CLIENT_H

#include "core/json.h"
#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

#define ADMIN_DEFAULT_PORT 7199
/* A larger answer is not one of ours. */
#define ADMIN_MAX_RESPONSE (16u * 1024 * 1024)

struct admin_target {
	char host[256];
	uint16_t port;
	char bind_host[64]; /* "" = let the kernel choose the source address */
	int timeout_ms;     /* whole exchange; 0 = 5000 */
	char token[512];    /* admin token sent as "Authorization: Bearer"; "" = none */
	/* HTTPS (admin_encryption_options): the CA the node's certificate must chain to ("" =
	 * plain HTTP), and a client certificate and key that open the guarded routes instead
	 * of the token ("" = none).  From $COLONNADE_ADMIN_CAFILE, _CERTFILE, _KEYFILE. */
	char cafile[256], certfile[256], keyfile[256];
};

/*
 * Parse "-h" syntax: "host", "host:port", "[v6]" or "[v6]:port" (a bare IPv6
 * address with several colons has no port).  "auto" is this host's own address
 * (net_own_address: a container's, where a node with listen_address auto is).  The
 * admin token comes from $COLONNADE_ADMIN_TOKEN, else from the first line of the file
 * $COLONNADE_ADMIN_TOKEN_FILE names (admin_target_token_from_env).  0, or COL_EINVAL
 * with a message.
 */
int admin_target_parse(const char *spec, uint16_t default_port, struct admin_target *out,
                       struct cerr *err);
/* Fill t->token (and the HTTPS files) from the environment as above.  0, or COL_EINVAL
 * (unreadable file, a name too long). */
int admin_target_token_from_env(struct admin_target *t, struct cerr *err);

/*
 * GET `path`.  On success *status is the HTTP status and *body a NUL-terminated
 * malloc'd copy of the body (caller frees), *len its length.  Errors:
 * COL_EIO ("cannot connect to 127.0.0.1:7199: Connection refused"),
 * COL_ETIMEDOUT, COL_EPROTO (not HTTP), COL_ETOOBIG.
 */
int admin_get(const struct admin_target *t, const char *path, int *status, char **body, size_t *len,
              struct cerr *err);

/*
 * GET `path` and parse the JSON answer.  A status other than 200 is COL_EIO
 * with the status and the body's "error" member in the message.
 */
int admin_get_json(const struct admin_target *t, const char *path, struct json **out,
                   struct cerr *err);
/* POST `path` with an empty body (the node's state-changing endpoints), as admin_get_json. */
int admin_post_json(const struct admin_target *t, const char *path, struct json **out,
                    struct cerr *err);

#endif
