/*
 * node_tls.c — the node's TLS contexts from client_encryption_options and
 * server_encryption_options (docs/SECURITY.md), and their reload on SIGHUP:
 * new contexts from the same files go to the CQL listener and to messaging
 * for connections made from then on; open connections keep their sessions.
 * A reload that fails (a missing file, a key that does not match) keeps the
 * old contexts and says why.
 */
#include "coordinator/node/node_int.h"

#include "coordinator/transport/cqlserver.h"
#include "core/log.h"
#include "core/tls.h"
#include "gossip/gossiper.h"
#include "gossip/messaging.h"

#include <string.h>

static void tls_opts(const struct config_tls *t, const char *what, struct tls_options *o)
{
	memset(o, 0, sizeof(*o));
	o->keystore = t->keystore;
	o->certificate = t->certificate;
	o->private_key = t->private_key;
	o->key_password = t->keystore_password;
	o->truststore = t->truststore;
	o->require_client_auth = t->require_client_auth;
	o->protocol = t->protocol;
	o->accepted_protocols = t->accepted_protocols;
	o->cipher_suites = t->cipher_suites;
	o->what = what;
}

enum node_internode_enc node_internode_encryption(const struct config *cfg)
{
	const char *m = cfg->server_tls.internode_encryption ? cfg->server_tls.internode_encryption
	                                                     : "none";
	if (!strcmp(m, "all"))
		return NODE_ENC_ALL;
	if (!strcmp(m, "dc"))
		return NODE_ENC_DC;
	if (!strcmp(m, "rack"))
		return NODE_ENC_RACK;
	return NODE_ENC_NONE;
}

/* Fresh contexts from the files the config names; on failure nothing is changed. */
static int build(const struct config *cfg, struct node_tls *out, struct cerr *err)
{
	memset(out, 0, sizeof(*out));
	struct tls_options o;
	int rc = COL_OK;
	const char *m = cfg->server_tls.internode_encryption;
	if (m && strcmp(m, "none") && strcmp(m, "dc") && strcmp(m, "rack") && strcmp(m, "all"))
		return cerr_set(
		        err, COL_ECONFIG,
		        "server_encryption_options: internode_encryption: '%s' is not none, "
		        "dc, rack or all",
		        m);
	if (cfg->client_tls.enabled) {
		tls_opts(&cfg->client_tls, "client_encryption_options", &o);
		rc = tls_ctx_new(&o, TLS_SERVER, &out->cql, err);
	}
	if (!rc && node_internode_encryption(cfg) != NODE_ENC_NONE) {
		tls_opts(&cfg->server_tls, "server_encryption_options", &o);
		if (!o.truststore || !*o.truststore)
			rc = cerr_set(
			        err, COL_ECONFIG,
			        "server_encryption_options: internode_encryption is %s but no "
			        "truststore is set: nodes verify each other's certificates "
			        "against the cluster's CA",
			        cfg->server_tls.internode_encryption);
		if (!rc)
			rc = tls_ctx_new(&o, TLS_SERVER, &out->internode_server, err);
		if (!rc)
			rc = tls_ctx_new(&o, TLS_CLIENT, &out->internode_client, err);
	}
	if (rc)
		node_tls_release(out);
	return rc;
}

void node_tls_release(struct node_tls *t)
{
	tls_ctx_unref(t->cql);
	tls_ctx_unref(t->internode_server);
	tls_ctx_unref(t->internode_client);
	memset(t, 0, sizeof(*t));
}

/* Does app state `key` of the peer at `a` equal `want`?  False when unknown. */
static bool peer_app_is(const struct node *n, const struct net_addr *a, unsigned key,
                        const char *want)
{
	const struct gossip_endpoint *ep = n->gossiper ? gossiper_find_addr(n->gossiper, a) : NULL;
	size_t len = 0;
	const uint8_t *v = ep ? gossip_endpoint_app(ep, key, &len, NULL) : NULL;
	return v && len == strlen(want) && !memcmp(v, want, len);
}

/*
 * internode_encryption: all — every connection; dc — to peers of another
 * datacenter; rack — to peers of another rack or datacenter.  A peer gossip
 * does not know yet (a seed at first contact) gets TLS: plaintext only once
 * it is known to be near.
 */
static bool tls_to(void *ctx, const struct net_addr *peer)
{
	struct node *n = ctx;
	enum node_internode_enc mode = node_internode_encryption(&n->cfg);
	if (mode == NODE_ENC_NONE)
		return false;
	if (mode == NODE_ENC_ALL || !peer_app_is(n, peer, APP_DC, n->cfg.dc))
		return true;
	return mode == NODE_ENC_RACK && !peer_app_is(n, peer, APP_RACK, n->cfg.rack);
}

static bool plaintext_from(void *ctx, const struct net_addr *peer)
{
	return !tls_to(ctx, peer);
}

void node_tls_messaging(struct node *n, struct messaging_config *mc)
{
	enum node_internode_enc mode = node_internode_encryption(&n->cfg);
	if (mode == NODE_ENC_NONE || !n->tls.internode_server)
		return;
	mc->tls_server = n->tls.internode_server;
	mc->tls_client = n->tls.internode_client;
	/* dc and rack take plaintext from near peers on the same port */
	mc->tls_optional = mode != NODE_ENC_ALL || n->cfg.server_tls.optional;
	mc->tls_to = tls_to;
	mc->plaintext_from =
	        mode == NODE_ENC_ALL && n->cfg.server_tls.optional ? NULL : plaintext_from;
	mc->tls_policy_ctx = n;
	log_info("tls", "internode encryption: %s (%s)", n->cfg.server_tls.internode_encryption,
	         mode == NODE_ENC_ALL
	                 ? (n->cfg.server_tls.optional ? "TLS, plaintext still accepted"
	                                               : "TLS only")
	         : mode == NODE_ENC_DC ? "TLS to other datacenters and unknown peers"
	                               : "TLS to other racks and unknown peers");
}

static void describe(const char *what, const struct tls_ctx *t)
{
	if (!t)
		return;
	char d[400];
	tls_ctx_describe(t, d, sizeof(d));
	log_info("tls", "%s: certificate %s", what, d);
}

int node_tls_load(struct node *n, struct cerr *err)
{
	int rc = build(&n->cfg, &n->tls, err);
	if (rc)
		return rc;
	describe("client_encryption_options", n->tls.cql);
	describe("server_encryption_options", n->tls.internode_server);
	return COL_OK;
}

static void on_sighup(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	struct node *n = w->data;
	if (!n->tls.cql && !n->tls.internode_server) {
		log_info("tls", "SIGHUP: no TLS configured, nothing to reload");
		return;
	}
	struct node_tls fresh;
	struct cerr e = {0};
	if (build(&n->cfg, &fresh, &e)) {
		log_error("tls", "SIGHUP: certificates not reloaded, the current ones stay: %s",
		          e.msg);
		return;
	}
	if (n->cql)
		cqlserver_set_tls(n->cql, fresh.cql, n->cfg.client_tls.optional);
	if (n->msg && fresh.internode_server)
		messaging_set_tls(n->msg, fresh.internode_server, fresh.internode_client);
	node_tls_release(&n->tls);
	n->tls = fresh;
	describe("client_encryption_options reloaded", n->tls.cql);
	describe("server_encryption_options reloaded", n->tls.internode_server);
	log_info("tls", "SIGHUP: certificates reloaded; new connections use them, open ones "
	                "keep theirs");
}

void node_tls_watch(struct node *n)
{
	ev_signal_init(&n->sighup, on_sighup, SIGHUP);
	n->sighup.data = n;
	ev_signal_start(n->loop, &n->sighup);
}

void node_tls_unwatch(struct node *n)
{
	ev_signal_stop(n->loop, &n->sighup);
}
