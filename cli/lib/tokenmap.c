/*
 * tokenmap.c — the nodes, ring and replicas of one keyspace as a client sees
 * them (tokenmap.h).  The system-table row parsers and the ring placement are
 * the ones `colonnade bench` routes with (bench_route.c, core/ring.h).
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

/* The nodes and the ring from system.local and system.peers. */
static int learn_ring(struct tokenmap *m, struct cqlclient *cl, const char *host, int *node_map,
                      struct cerr *err)
{
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
			char addr[64];
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
			struct ring_endpoint *ep = &eps[n_eps];
			if ((rc = bench_ring_endpoint(res[si], row, ep, err)))
				break;
			snprintf(ep->address, sizeof(ep->address), "%s", addr);
			snprintf(m->hosts[m->n_nodes], sizeof(m->hosts[0]), "%s", addr);
			node_map[n_eps++] = (int)m->n_nodes++;
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
	return rc;
}

static int read_replication(struct cqlclient *cl, const char *ks, struct replication *rep,
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

/* Per ring position, its replicas (node indexes); then the ranges. */
static int build_ranges(struct tokenmap *m, const int *node_map, const struct replication *rep)
{
	m->n_pos = ring_token_count(m->ring);
	m->width = (size_t)replication_total_rf(rep);
	if (m->width > TOKENMAP_MAX_REPS)
		m->width = TOKENMAP_MAX_REPS;
	if (m->width == 0)
		m->width = 1;
	m->pos_reps = calloc(m->n_pos * m->width, sizeof(*m->pos_reps));
	m->pos_n = calloc(m->n_pos, sizeof(*m->pos_n));
	m->ranges = calloc(m->n_pos + 1, sizeof(*m->ranges));
	if (!m->pos_reps || !m->pos_n || !m->ranges)
		return COL_ENOMEM;
	for (size_t i = 0; i < m->n_pos; i++) {
		uint32_t *out = &m->pos_reps[i * m->width];
		m->pos_n[i] =
		        ring_replicas(m->ring, rep, ring_token_at(m->ring, i, NULL), out, m->width);
		for (size_t k = 0; k < m->pos_n[i]; k++)
			out[k] = (uint32_t)node_map[out[k]];
	}
	for (size_t i = 0; i <= m->n_pos; i++) {
		struct token_range *r = &m->ranges[m->n_ranges];
		size_t pos = i < m->n_pos ? i : 0;
		if (i == 0) {
			r->hi = ring_token_at(m->ring, 0, NULL);
			r->has_hi = true;
		} else if (i < m->n_pos) {
			r->lo = ring_token_at(m->ring, i - 1, NULL);
			r->hi = ring_token_at(m->ring, i, NULL);
			r->has_lo = r->has_hi = true;
		} else {
			r->lo = ring_token_at(m->ring, m->n_pos - 1, NULL);
			r->has_lo = true;
			if (r->lo == INT64_MAX)
				break; /* nothing above the last token */
		}
		r->n_reps = m->pos_n[pos];
		memcpy(r->reps, &m->pos_reps[pos * m->width], r->n_reps * sizeof(r->reps[0]));
		m->n_ranges++;
	}
	return COL_OK;
}

int tokenmap_discover(struct tokenmap *m, struct cqlclient *cl, const char *host, const char *ks,
                      struct cerr *err)
{
	memset(m, 0, sizeof(*m));
	int node_map[TOKENMAP_MAX_NODES];
	struct replication rep;
	int rc = learn_ring(m, cl, host, node_map, err);
	if (!rc)
		rc = read_replication(cl, ks, &rep, err);
	if (!rc && (rc = build_ranges(m, node_map, &rep)) != COL_OK)
		cerr_set(err, rc, "out of memory");
	if (rc)
		single(m, host);
	return rc;
}

void tokenmap_release(struct tokenmap *m)
{
	if (m->ring)
		ring_unref(m->ring);
	free(m->pos_reps);
	free(m->pos_n);
	free(m->ranges);
	memset(m, 0, sizeof(*m));
}

const uint32_t *tokenmap_replicas(const struct tokenmap *m, int64_t token, size_t *n)
{
	if (!m->ring || !m->n_pos) {
		*n = 0;
		return NULL;
	}
	size_t i = ring_token_index(m->ring, token);
	*n = m->pos_n[i];
	return &m->pos_reps[i * m->width];
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
