/*
 * node_peers.c — the peers this node has seen own tokens, kept in the system
 * column family so that a restarted node knows the ring before gossip answers
 * (Cassandra's system.peers).
 *
 * DISK LAYOUT (system CF):
 *
 * | key                          | value (msgpack)                                          |
 * |------------------------------|----------------------------------------------------------|
 * | "peers/" + 16-byte host id   | [1, address, rpc address, dc, rack, tokens, schema]      |
 *
 * address, rpc address, dc, rack and schema (version uuid text, "" unknown)
 * are strings; tokens is a bin holding the identity's token encoding
 * (identity.h).  A record that does not decode is skipped with a log line:
 * gossip tells us that peer again.
 */
#include "coordinator/node/node_int.h"

#include "core/array.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/msgpk.h"
#include "gossip/gossiper.h"
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEERS_PREFIX     "peers/"
#define PEERS_PREFIX_LEN 6
#define PEERS_FORMAT     1
/* Peers remembered at most (a ring far larger than any we run). */
#define PEERS_MAX 4096

static void peer_free(struct node_peer *p)
{
	free(p->tokens);
	p->tokens = NULL;
}

struct node_peer *node_peers_find(struct node *n, const uint8_t host_id[16])
{
	for (size_t i = 0; i < n->peers.n; i++)
		if (!memcmp(n->peers.v[i].host_id, host_id, 16))
			return &n->peers.v[i];
	return NULL;
}

static int read_text(struct bufreader *r, char *out, size_t cap)
{
	const uint8_t *p;
	uint32_t len;
	if (msgpk_read_str(r, &p, &len) || len >= cap)
		return COL_ECORRUPT;
	memcpy(out, p, len);
	out[len] = 0;
	return 0;
}

static int peer_decode(const uint8_t *v, size_t vlen, struct node_peer *p)
{
	struct bufreader r;
	bufreader_init(&r, v, vlen);
	uint64_t fmt;
	const uint8_t *tp;
	uint32_t tl;
	if (msgpk_expect_array(&r, 7) || msgpk_read_uint(&r, &fmt) || fmt != PEERS_FORMAT ||
	    read_text(&r, p->address, sizeof(p->address)) ||
	    read_text(&r, p->rpc_address, sizeof(p->rpc_address)) ||
	    read_text(&r, p->dc, sizeof(p->dc)) || read_text(&r, p->rack, sizeof(p->rack)) ||
	    msgpk_read_bin(&r, &tp, &tl) ||
	    read_text(&r, p->schema_version, sizeof(p->schema_version)))
		return COL_ECORRUPT;
	p->tokens = malloc(IDENTITY_MAX_TOKENS * sizeof(int64_t));
	if (!p->tokens)
		return COL_ENOMEM;
	if (node_tokens_decode(tp, tl, p->tokens, IDENTITY_MAX_TOKENS, &p->n_tokens) ||
	    p->n_tokens == 0) {
		peer_free(p);
		return COL_ECORRUPT;
	}
	return 0;
}

static int load_cb(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct node *n = ctx;
	if (klen != PEERS_PREFIX_LEN + 16)
		return 0;
	if (n->peers.n >= PEERS_MAX)
		return 0;
	if (ARRAY_GROW(n->peers.v, n->peers.cap, n->peers.n + 1))
		return COL_ENOMEM;
	struct node_peer *p = &n->peers.v[n->peers.n];
	memset(p, 0, sizeof(*p));
	memcpy(p->host_id, (const uint8_t *)key + PEERS_PREFIX_LEN, 16);
	int rc = peer_decode(val, vlen, p);
	if (rc == COL_ENOMEM)
		return rc;
	if (rc) {
		log_warn("node", "system peers: a record of %zu bytes does not decode; skipped",
		         vlen);
		return 0;
	}
	if (!memcmp(p->host_id, n->id.host_id, 16)) {
		peer_free(p);
		return 0;
	}
	n->peers.n++;
	return 0;
}

int node_peers_load(struct node *n, struct cerr *err)
{
	int rc = store_kv_scan(n->store, STORE_CF_SYSTEM, PEERS_PREFIX, PEERS_PREFIX_LEN, load_cb,
	                       n, err);
	if (rc)
		return rc;
	if (n->peers.n)
		log_info("node", "ring loaded from the system peers: %zu peer(s) besides us",
		         n->peers.n);
	return 0;
}

static bool same(const struct node_peer *p, const struct node_endpoint *ep)
{
	return !p->unsaved && !strcmp(p->address, ep->address) &&
	       !strcmp(p->rpc_address, ep->rpc_address) && !strcmp(p->dc, ep->dc) &&
	       !strcmp(p->rack, ep->rack) && !strcmp(p->schema_version, ep->schema_version) &&
	       p->n_tokens == ep->n_tokens &&
	       !memcmp(p->tokens, ep->tokens, ep->n_tokens * sizeof(int64_t));
}

static int persist(struct node *n, struct node_peer *p)
{
	uint8_t key[PEERS_PREFIX_LEN + 16];
	memcpy(key, PEERS_PREFIX, PEERS_PREFIX_LEN);
	memcpy(key + PEERS_PREFIX_LEN, p->host_id, 16);
	static uint8_t tok[5 + 8 * IDENTITY_MAX_TOKENS];
	size_t tl;
	if (identity_tokens_encode(p->tokens, p->n_tokens, tok, sizeof(tok), &tl))
		return COL_EINVAL;
	struct buf b;
	buf_init(&b);
	msgpk_put_array(&b, 7);
	msgpk_put_uint(&b, PEERS_FORMAT);
	msgpk_put_cstr(&b, p->address);
	msgpk_put_cstr(&b, p->rpc_address);
	msgpk_put_cstr(&b, p->dc);
	msgpk_put_cstr(&b, p->rack);
	msgpk_put_bin(&b, tok, tl);
	msgpk_put_cstr(&b, p->schema_version);
	struct cerr e = {0};
	/* on the main loop: a write stall must not stop gossip, so the row waits for the next
	 * ring rebuild instead */
	int rc = buf_ok(&b) ? store_kv_put(n->store, STORE_SYSTEM_NOWAIT, key, sizeof(key), b.data,
	                                   b.len, &e)
	                    : COL_ENOMEM;
	buf_release(&b);
	p->unsaved = rc != 0;
	if (rc)
		log_warn("node", "system peers: cannot store %s: %s", p->address,
		         e.msg[0] ? e.msg : "out of memory");
	return rc;
}

void node_peers_save(struct node *n, const struct node_endpoint *ep)
{
	if (ep->local || ep->from_table || !ep->has_host_id || !ep->n_tokens ||
	    ep->n_tokens > IDENTITY_MAX_TOKENS)
		return;
	struct node_peer *p = node_peers_find(n, ep->host_id);
	if (p && same(p, ep))
		return;
	if (!p) {
		if (n->peers.n >= PEERS_MAX)
			return;
		if (ARRAY_GROW(n->peers.v, n->peers.cap, n->peers.n + 1))
			return;
		p = &n->peers.v[n->peers.n];
		memset(p, 0, sizeof(*p));
		memcpy(p->host_id, ep->host_id, 16);
		n->peers.n++;
	}
	int64_t *t = realloc(p->tokens, ep->n_tokens * sizeof(int64_t));
	if (!t) {
		peer_free(p);
		*p = n->peers.v[--n->peers.n];
		return;
	}
	p->tokens = t;
	memcpy(p->tokens, ep->tokens, ep->n_tokens * sizeof(int64_t));
	p->n_tokens = ep->n_tokens;
	snprintf(p->address, sizeof(p->address), "%s", ep->address);
	snprintf(p->rpc_address, sizeof(p->rpc_address), "%s", ep->rpc_address);
	snprintf(p->dc, sizeof(p->dc), "%s", ep->dc);
	snprintf(p->rack, sizeof(p->rack), "%s", ep->rack);
	snprintf(p->schema_version, sizeof(p->schema_version), "%s", ep->schema_version);
	(void)persist(n, p);
}

void node_peers_forget(struct node *n, const uint8_t host_id[16])
{
	struct node_peer *p = node_peers_find(n, host_id);
	if (!p)
		return;
	uint8_t key[PEERS_PREFIX_LEN + 16];
	memcpy(key, PEERS_PREFIX, PEERS_PREFIX_LEN);
	memcpy(key + PEERS_PREFIX_LEN, host_id, 16);
	struct cerr e = {0};
	if (store_kv_delete(n->store, STORE_SYSTEM_NOWAIT, key, sizeof(key), &e))
		log_warn("node", "system peers: cannot delete %s: %s", p->address, e.msg);
	peer_free(p);
	*p = n->peers.v[--n->peers.n];
}

void node_peers_free(struct node *n)
{
	for (size_t i = 0; i < n->peers.n; i++)
		peer_free(&n->peers.v[i]);
	free(n->peers.v);
	memset(&n->peers, 0, sizeof(n->peers));
}

/* Peers known only from the system table (gossip has not told us of them yet), as DOWN. */
void node_peers_each_unknown(struct node *n, node_endpoint_fn fn, void *ctx)
{
	for (size_t i = 0; i < n->peers.n; i++) {
		const struct node_peer *p = &n->peers.v[i];
		struct host_id h;
		memcpy(h.b, p->host_id, 16);
		if (n->gossiper && gossiper_find(n->gossiper, &h))
			continue;
		struct node_endpoint ep;
		memset(&ep, 0, sizeof(ep));
		snprintf(ep.address, sizeof(ep.address), "%s", p->address);
		snprintf(ep.rpc_address, sizeof(ep.rpc_address), "%s", p->rpc_address);
		memcpy(ep.host_id, p->host_id, 16);
		ep.has_host_id = true;
		ep.from_table = true;
		snprintf(ep.dc, sizeof(ep.dc), "%s", p->dc);
		snprintf(ep.rack, sizeof(ep.rack), "%s", p->rack);
		ep.up = false;
		ep.state = "NORMAL";
		ep.load = -1;
		ep.tokens = p->tokens;
		ep.n_tokens = p->n_tokens;
		snprintf(ep.schema_version, sizeof(ep.schema_version), "%s", p->schema_version);
		fn(ctx, &ep);
	}
}
