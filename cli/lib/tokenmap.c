/*
 * tokenmap.c — the nodes, ring and replicas of one keyspace as a client sees
 * them (tokenmap.h): what cqlish COPY and `colonnade bench` route with.  The
 * system-table row parsers are bench_route.c's, the placement core/ring.h's.
 */
#include "cli/lib/tokenmap.h"

#include "cli/lib/bench_int.h"
#include "cli/lib/cqlclient.h"
#include "core/murmur3.h"
#include "core/ring.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int control_query(struct cqlclient *cl, const char *cql, struct cqlresult **out,
                         struct cerr *err)
{
	struct cql_qparams p;
	cql_qparams_init(&p);
	p.consistency = CL_ONE;
	struct cqlresult *res = NULL;
	int rc = cqlclient_query(cl, cql, &p, &res, err);
	if (rc)
		return rc;
	if (res->kind != CQLRES_ROWS) {
		rc = cerr_set(err, COL_EPROTO, "%s: %s", cql,
		              res->kind == CQLRES_ERROR && res->error.message ? res->error.message
		                                                              : "no rows");
		cqlresult_free(res);
		return rc;
	}
	*out = res;
	return COL_OK;
}

static void inet_cell(const struct cqlresult *r, uint32_t row, const char *col, char *out,
                      size_t len)
{
	int c = cqlresult_column(r, col);
	out[0] = 0;
	if (c < 0)
		return;
	const struct cql_slice *s = cqlresult_cell(r, row, (uint32_t)c);
	if (s->len == 4)
		inet_ntop(AF_INET, s->p, out, (socklen_t)len);
	else if (s->len == 16)
		inet_ntop(AF_INET6, s->p, out, (socklen_t)len);
}

/* One-range, one-node map on `host`. */
static void single(struct tokenmap *m, const char *host)
{
	tokenmap_release(m);
	m->n_nodes = 1;
	snprintf(m->hosts[0], sizeof(m->hosts[0]), "%s", host);
	m->ranges = calloc(1, sizeof(*m->ranges));
	m->n_ranges = m->ranges ? 1 : 0;
}

int tokenmap_learn_ring(struct tokenmap *m, struct cqlclient *cl, const char *host,
                        struct cerr *err)
{
	memset(m, 0, sizeof(*m));
	struct cqlresult *res[2] = {NULL, NULL};
	struct ring_endpoint eps[TOKENMAP_MAX_NODES];
	size_t n_eps = 0;
	int rc = control_query(cl, "SELECT host_id, data_center, rack, tokens FROM system.local",
	                       &res[0], err);
	if (!rc)
		rc = control_query(cl,
		                   "SELECT peer, rpc_address, host_id, data_center, rack, tokens "
		                   "FROM system.peers",
		                   &res[1], err);
	for (int si = 0; si < 2 && !rc; si++) {
		for (uint32_t row = 0; row < res[si]->n_rows && !rc; row++) {
			char addr[sizeof(m->hosts[0])];
			snprintf(addr, sizeof(addr), "%s", host);
			if (si == 1) {
				inet_cell(res[si], row, "rpc_address", addr, sizeof(addr));
				if (!addr[0] || !strcmp(addr, "0.0.0.0") || !strcmp(addr, "::"))
					inet_cell(res[si], row, "peer", addr, sizeof(addr));
			}
			if (!addr[0])
				continue;
			if (m->n_nodes == TOKENMAP_MAX_NODES) {
				rc = cerr_set(err, COL_ETOOBIG, "more than %d nodes",
				              TOKENMAP_MAX_NODES);
				break;
			}
			size_t alen = strlen(addr);
			if (alen >= RING_ADDR_MAX) {
				rc = cerr_set(err, COL_ETOOBIG,
				              "node address '%s' is longer than %d bytes", addr,
				              RING_ADDR_MAX - 1);
				break;
			}
			struct ring_endpoint *ep = &eps[n_eps];
			if ((rc = bench_ring_endpoint(res[si], row, ep, err)))
				break;
			memcpy(ep->address, addr, alen + 1);
			snprintf(m->hosts[m->n_nodes], sizeof(m->hosts[0]), "%s", addr);
			m->ring_node[n_eps++] = (int)m->n_nodes++;
		}
	}
	if (!rc && n_eps == 0)
		rc = cerr_set(err, COL_ENOTFOUND, "the cluster reports no tokens");
	if (!rc)
		rc = ring_new(eps, n_eps, &m->ring, err);
	for (size_t i = 0; i < n_eps; i++)
		free((void *)eps[i].tokens);
	for (int si = 0; si < 2; si++)
		if (res[si])
			cqlresult_free(res[si]);
	if (rc)
		tokenmap_release(m);
	return rc;
}

int tokenmap_read_replication(struct cqlclient *cl, const char *ks, struct replication *rep,
                              struct cerr *err)
{
	char cql[512];
	snprintf(cql, sizeof(cql),
	         "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = '%.200s'",
	         ks);
	struct cqlresult *r = NULL;
	int rc = control_query(cl, cql, &r, err);
	if (rc)
		return rc;
	int col = cqlresult_column(r, "replication");
	if (r->n_rows < 1 || col < 0) {
		cqlresult_free(r);
		return cerr_set(err, COL_ENOTFOUND, "keyspace '%s' does not exist", ks);
	}
	const struct cql_slice *cell = cqlresult_cell(r, 0, (uint32_t)col);
	rc = bench_parse_replication(cell->p, cell->len, rep, err);
	cqlresult_free(r);
	return rc;
}

int token_route_build(struct token_route *rt, struct ring *ring, const int *node_map,
                      const struct replication *rep)
{
	memset(rt, 0, sizeof(*rt));
	size_t n_pos = ring_token_count(ring);
	size_t width = (size_t)replication_total_rf(rep);
	if (width > ring_node_count(ring))
		width = ring_node_count(ring);
	if (width > TOKENMAP_MAX_REPS)
		width = TOKENMAP_MAX_REPS;
	if (width == 0)
		width = 1;
	rt->replicas = calloc(n_pos * width, sizeof(*rt->replicas));
	rt->n_replicas = calloc(n_pos ? n_pos : 1, sizeof(*rt->n_replicas));
	if (!rt->replicas || !rt->n_replicas) {
		token_route_release(rt);
		return COL_ENOMEM;
	}
	for (size_t i = 0; i < n_pos; i++) {
		uint32_t *out = &rt->replicas[i * width];
		size_t n = ring_replicas(ring, rep, ring_token_at(ring, i, NULL), out, width);
		for (size_t k = 0; k < n; k++)
			out[k] = (uint32_t)node_map[out[k]];
		rt->n_replicas[i] = (uint32_t)n;
	}
	rt->ring = ring_ref(ring);
	rt->n_pos = n_pos;
	rt->width = width;
	return COL_OK;
}

void token_route_release(struct token_route *rt)
{
	if (rt->ring)
		ring_unref(rt->ring);
	free(rt->replicas);
	free(rt->n_replicas);
	memset(rt, 0, sizeof(*rt));
}

const uint32_t *token_route_replicas(const struct token_route *rt, int64_t token, size_t *n)
{
	if (!rt->ring || rt->n_pos == 0) {
		*n = 0;
		return NULL;
	}
	size_t i = ring_token_index(rt->ring, token);
	*n = rt->n_replicas[i];
	return &rt->replicas[i * rt->width];
}

/* The replicas of every ring position, then the token ranges between them. */
int tokenmap_place(struct tokenmap *m, const struct replication *rep, struct cerr *err)
{
	token_route_release(&m->route);
	free(m->ranges);
	m->ranges = NULL;
	m->n_ranges = 0;
	if (!m->ring)
		return cerr_set(err, COL_EINVAL, "no ring to place replicas on");
	size_t n_pos = ring_token_count(m->ring);
	m->ranges = calloc(n_pos + 1, sizeof(*m->ranges));
	if (!m->ranges || token_route_build(&m->route, m->ring, m->ring_node, rep) != COL_OK)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	for (size_t i = 0; i <= n_pos; i++) {
		struct token_range *r = &m->ranges[m->n_ranges];
		size_t pos = i < n_pos ? i : 0;
		if (i == 0) {
			r->hi = ring_token_at(m->ring, 0, NULL);
			r->has_hi = true;
		} else if (i < n_pos) {
			r->lo = ring_token_at(m->ring, i - 1, NULL);
			r->hi = ring_token_at(m->ring, i, NULL);
			r->has_lo = r->has_hi = true;
		} else {
			r->lo = ring_token_at(m->ring, n_pos - 1, NULL);
			r->has_lo = true;
			if (r->lo == INT64_MAX)
				break; /* nothing above the last token */
		}
		r->n_reps = m->route.n_replicas[pos];
		memcpy(r->reps, &m->route.replicas[pos * m->route.width],
		       r->n_reps * sizeof(r->reps[0]));
		m->n_ranges++;
	}
	return COL_OK;
}

int tokenmap_discover(struct tokenmap *m, struct cqlclient *cl, const char *host, const char *ks,
                      struct cerr *err)
{
	struct replication rep;
	int rc = tokenmap_learn_ring(m, cl, host, err);
	if (!rc)
		rc = tokenmap_read_replication(cl, ks, &rep, err);
	if (!rc)
		rc = tokenmap_place(m, &rep, err);
	if (rc)
		single(m, host);
	return rc;
}

void tokenmap_release(struct tokenmap *m)
{
	token_route_release(&m->route);
	if (m->ring)
		ring_unref(m->ring);
	free(m->ranges);
	memset(m, 0, sizeof(*m));
}

const uint32_t *tokenmap_replicas(const struct tokenmap *m, int64_t token, size_t *n)
{
	return token_route_replicas(&m->route, token, n);
}

bool tokenmap_key_token(const struct cql_slice *vals, const uint16_t *pk, size_t n_pk,
                        int64_t *token)
{
	if (n_pk == 0)
		return false;
	if (n_pk == 1) {
		const struct cql_slice *v = &vals[pk[0]];
		if (v->len < 0)
			return false;
		*token = murmur3_token(v->len ? v->p : (const uint8_t *)"", (size_t)v->len);
		return true;
	}
	uint8_t key[4096];
	size_t at = 0;
	for (size_t i = 0; i < n_pk; i++) {
		const struct cql_slice *v = &vals[pk[i]];
		if (v->len < 0 || v->len > 0xffff || at + 3 + (size_t)v->len > sizeof(key))
			return false;
		key[at++] = (uint8_t)(v->len >> 8);
		key[at++] = (uint8_t)v->len;
		if (v->len)
			memcpy(key + at, v->p, (size_t)v->len);
		at += (size_t)v->len;
		key[at++] = 0;
	}
	*token = murmur3_token(key, at);
	return true;
}
