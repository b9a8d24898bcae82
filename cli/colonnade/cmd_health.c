/*
 * cmd_health.c — `colonnade health`: is this node fit to take traffic?
 *
 * The container healthcheck (a FROM scratch image has no shell, so the check
 * is a subcommand).  Healthy means both:
 *   1. the node is UN in its own view: its admin endpoint answers, gossip is
 *      active, and its own entry in /v1/status is up and NORMAL;
 *   2. it serves CQL: a connection to its native port completes the protocol
 *      handshake and `SELECT release_version FROM system.local` answers.
 * Exit 0 and one line saying so, or exit 1 and one line naming what failed.
 * Every step shares one deadline (--timeout, 5 s by default), so a hung node
 * fails the check instead of hanging it.
 *
 * In a container the check sees the node's own environment: when
 * COLONNADE_CLIENT_ENCRYPTION_OPTIONS_ENABLED is true (and OPTIONAL is not), it
 * speaks TLS, presenting the node's own certificate (for require_client_auth)
 * and verifying the server's chain against $SSL_CERTFILE when that is set
 * (a probe of its own node: the name in the certificate is not checked).
 */
#include "cli/colonnade/commands.h"
#include "cli/lib/admin_client.h"
#include "cli/lib/cqlclient.h"
#include "core/json.h"
#include "core/clock.h"
#include "core/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct health_opts {
	struct admin_target target;
	unsigned timeout_ms;
};

static int health_usage(FILE *f)
{
	fprintf(f, "usage: colonnade health [-h host[:port]] [--timeout SECONDS]\n"
	           "  exit 0 when the node is UN in its own view and answers CQL, else 1\n");
	return f == stdout ? 1 : 2;
}

static int health_parse(int argc, char **argv, struct health_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->timeout_ms = 5000;
	struct host_opt host;
	host_opt_init(&host);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (host_opt_take(&host, argc, argv, &i))
			continue;
		if (!strcmp(a, "--timeout") && i + 1 < argc) {
			char *end;
			double s = strtod(argv[++i], &end);
			if (*end || end == argv[i] || !(s > 0 && s <= 600)) {
				fprintf(stderr,
				        "colonnade health: --timeout takes 0..600 seconds\n");
				return 2;
			}
			o->timeout_ms = (unsigned)(s * 1000);
		} else if (!strcmp(a, "--help")) {
			return health_usage(stdout);
		} else {
			fprintf(stderr, "colonnade health: unexpected argument '%s'\n", a);
			return health_usage(stderr);
		}
	}
	return host_opt_target(&host, "health", &o->target);
}

static int left_ms(int64_t deadline)
{
	int64_t l = deadline - clock_mono_ms();
	return l < 1 ? 1 : (int)l;
}

/* Step 1: UN in its own view.  Fills the CQL address to try. */
static int health_gossip(struct health_opts *o, int64_t deadline, char *cql_host, size_t cap,
                         uint16_t *cql_port)
{
	struct json *info = NULL, *st = NULL;
	struct cerr err = {0};
	o->target.timeout_ms = left_ms(deadline);
	if (admin_get_json(&o->target, "/v1/info", &info, &err)) {
		printf("unhealthy: admin endpoint %s:%u: %s\n", o->target.host, o->target.port,
		       err.msg);
		return 1;
	}
	int rc = 1;
	const char *bind = json_str(json_get(info, "rpc_bind_address"), "");
	snprintf(cql_host, cap, "%s",
	         bind[0] && strcmp(bind, "0.0.0.0") && strcmp(bind, "::") ? bind : o->target.host);
	*cql_port = (uint16_t)json_int(json_get(info, "native_transport_port"), 9042);
	if (!json_bool(json_get(info, "gossip_active"), false)) {
		printf("unhealthy: gossip is not active\n");
		goto out;
	}
	o->target.timeout_ms = left_ms(deadline);
	if (admin_get_json(&o->target, "/v1/status", &st, &err)) {
		printf("unhealthy: admin endpoint %s:%u /v1/status: %s\n", o->target.host,
		       o->target.port, err.msg);
		goto out;
	}
	const struct json *nodes = json_get(st, "nodes");
	for (size_t i = 0; i < json_len(nodes); i++) {
		const struct json *nd = json_at(nodes, i);
		if (!json_bool(json_get(nd, "local"), false))
			continue;
		const char *state = json_str(json_get(nd, "state"), "?");
		if (!json_bool(json_get(nd, "up"), false) || strcmp(state, "NORMAL") != 0) {
			printf("unhealthy: this node is %s %s in its own view\n",
			       json_bool(json_get(nd, "up"), false) ? "up" : "down", state);
			goto out;
		}
		rc = 0;
		goto out;
	}
	printf("unhealthy: /v1/status does not list this node\n");
out:
	json_free(st);
	json_free(info);
	return rc;
}

static bool env_true(const char *name)
{
	const char *v = getenv(name);
	return v && (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"));
}

/* The node's client_encryption_options, from its environment: a client context or NULL. */
static int health_tls(struct tls_ctx **out, struct cerr *err)
{
	*out = NULL;
	if (!env_true("COLONNADE_CLIENT_ENCRYPTION_OPTIONS_ENABLED") ||
	    env_true("COLONNADE_CLIENT_ENCRYPTION_OPTIONS_OPTIONAL"))
		return 0;
	const char *ca = getenv("SSL_CERTFILE");
	struct tls_options o = {
	        .certificate = getenv("COLONNADE_CLIENT_ENCRYPTION_OPTIONS_CERTIFICATE"),
	        .private_key = getenv("COLONNADE_CLIENT_ENCRYPTION_OPTIONS_PRIVATE_KEY"),
	        .keystore = getenv("COLONNADE_CLIENT_ENCRYPTION_OPTIONS_KEYSTORE"),
	        .key_password = getenv("COLONNADE_CLIENT_ENCRYPTION_OPTIONS_KEYSTORE_PASSWORD"),
	        .truststore = ca && *ca ? ca : NULL,
	        .what = "health check TLS (the node's client_encryption_options)"};
	return tls_ctx_new(&o, TLS_CLIENT, out, err);
}

/* Step 2: serves CQL. */
static int health_cql(const char *host, uint16_t port, int64_t deadline)
{
	struct cqlconn_opts co = {.connect_timeout_ms = (unsigned)left_ms(deadline),
	                          .request_timeout_ms = (unsigned)left_ms(deadline)};
	struct cqlclient *cl = NULL;
	struct cerr err = {0};
	if (health_tls(&co.tls, &err)) {
		printf("unhealthy: %s\n", err.msg);
		return 1;
	}
	int crc = cqlclient_connect(host, port, &co, &cl, &err);
	tls_ctx_unref(co.tls); /* the connection holds what it needs */
	if (crc) {
		printf("unhealthy: CQL on %s:%u%s: %s\n", host, port, co.tls ? " (TLS)" : "",
		       err.msg);
		return 1;
	}
	struct cqlresult *res = NULL;
	struct cql_qparams qp;
	cql_qparams_init(&qp);
	int rc = cqlclient_query(cl, "SELECT release_version FROM system.local", &qp, &res, &err);
	if (rc) {
		printf("unhealthy: CQL on %s:%u: %s\n", host, port, err.msg);
	} else if (res->kind != CQLRES_ROWS || res->n_rows != 1) {
		printf("unhealthy: CQL on %s:%u answers system.local with %s\n", host, port,
		       res->kind == CQLRES_ERROR && res->error.message ? res->error.message
		                                                       : "no row");
		rc = 1;
	}
	cqlresult_free(res);
	cqlclient_free(cl);
	return rc ? 1 : 0;
}

int cmd_health(int argc, char **argv)
{
	struct health_opts o;
	int rc = health_parse(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : rc;
	int64_t t0 = clock_mono_ms(), deadline = t0 + o.timeout_ms;
	char cql_host[256];
	uint16_t cql_port;
	if (health_gossip(&o, deadline, cql_host, sizeof(cql_host), &cql_port))
		return 1;
	if (health_cql(cql_host, cql_port, deadline))
		return 1;
	printf("healthy: UN, CQL on %s:%u answers (%lld ms)\n", cql_host, cql_port,
	       (long long)(clock_mono_ms() - t0));
	return 0;
}
