#include "core/ring.h"

#include "core/cqlproto.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ring_token {
	int64_t token;
	uint32_t owner;
};

struct ring {
	atomic_int refs;
	size_t n_nodes;
	struct ring_node *nodes;
	size_t n_tokens;
	struct ring_token *tokens; /* sorted by token */
	size_t n_dcs;
	const char *dcs[RING_MAX_DCS]; /* sorted, pointing into nodes[] */
	size_t dc_nodes[RING_MAX_DCS]; /* node count per dc */
	size_t dc_racks[RING_MAX_DCS]; /* distinct racks per dc */
	uint32_t *node_dc;             /* node -> dc index */
};

static int cmp_token(const void *a, const void *b)
{
	const struct ring_token *x = a, *y = b;
	return (x->token > y->token) - (x->token < y->token);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static long dc_index(const struct ring *r, const char *dc)
{
	for (size_t i = 0; i < r->n_dcs; i++)
		if (strcmp(r->dcs[i], dc) == 0)
			return (long)i;
	return -1;
}

static int copy_name(char *dst, size_t cap, const char *src, const char *what, size_t node,
                     struct cerr *err)
{
	size_t n = strlen(src);
	if (n == 0 || n >= cap)
		return cerr_set(err, COL_EINVAL, "ring: node %zu has an empty or too long %s", node,
		                what);
	memcpy(dst, src, n + 1);
	return COL_OK;
}

int ring_new(const struct ring_endpoint *eps, size_t n, struct ring **out, struct cerr *err)
{
	struct ring *r = calloc(1, sizeof(*r));
	if (!r)
		return cerr_set(err, COL_ENOMEM, "ring: out of memory");
	atomic_init(&r->refs, 1);
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (eps[i].n_tokens == 0) {
			ring_unref(r);
			return cerr_set(err, COL_EINVAL, "ring: node %s has no tokens",
			                eps[i].address);
		}
		total += eps[i].n_tokens;
	}
	r->nodes = calloc(n ? n : 1, sizeof(*r->nodes));
	r->node_dc = calloc(n ? n : 1, sizeof(*r->node_dc));
	r->tokens = calloc(total ? total : 1, sizeof(*r->tokens));
	if (!r->nodes || !r->tokens || !r->node_dc) {
		ring_unref(r);
		return cerr_set(err, COL_ENOMEM, "ring: out of memory");
	}
	r->n_nodes = n;
	for (size_t i = 0; i < n; i++) {
		struct ring_node *nd = &r->nodes[i];
		memcpy(nd->host_id, eps[i].host_id, 16);
		int rc = copy_name(nd->address, sizeof(nd->address), eps[i].address, "address", i,
		                   err);
		if (!rc)
			rc = copy_name(nd->dc, sizeof(nd->dc), eps[i].dc, "datacenter", i, err);
		if (!rc)
			rc = copy_name(nd->rack, sizeof(nd->rack), eps[i].rack, "rack", i, err);
		if (rc) {
			ring_unref(r);
			return rc;
		}
		nd->n_tokens = eps[i].n_tokens;
		for (size_t t = 0; t < eps[i].n_tokens; t++)
			r->tokens[r->n_tokens++] =
			        (struct ring_token){eps[i].tokens[t], (uint32_t)i};
		if (dc_index(r, nd->dc) < 0) {
			if (r->n_dcs == RING_MAX_DCS) {
				ring_unref(r);
				return cerr_set(err, COL_EINVAL, "ring: more than %d datacenters",
				                RING_MAX_DCS);
			}
			r->dcs[r->n_dcs++] = nd->dc;
		}
	}
	qsort(r->tokens, r->n_tokens, sizeof(*r->tokens), cmp_token);
	for (size_t i = 1; i < r->n_tokens; i++) {
		if (r->tokens[i].token == r->tokens[i - 1].token) {
			int rc = cerr_set(err, COL_EINVAL,
			                  "ring: token %lld is owned by both %s and %s",
			                  (long long)r->tokens[i].token,
			                  r->nodes[r->tokens[i - 1].owner].address,
			                  r->nodes[r->tokens[i].owner].address);
			ring_unref(r);
			return rc;
		}
	}
	qsort(r->dcs, r->n_dcs, sizeof(r->dcs[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		size_t d = (size_t)dc_index(r, r->nodes[i].dc);
		r->node_dc[i] = (uint32_t)d;
		r->dc_nodes[d]++;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = r->node_dc[j] == d &&
			       strcmp(r->nodes[j].rack, r->nodes[i].rack) == 0;
		if (!seen)
			r->dc_racks[d]++;
	}
	*out = r;
	return COL_OK;
}

struct ring *ring_ref(struct ring *r)
{
	atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
	return r;
}

void ring_unref(struct ring *r)
{
	if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(r->nodes);
	free(r->tokens);
	free(r->node_dc);
	free(r);
}

size_t ring_node_count(const struct ring *r)
{
	return r->n_nodes;
}
const struct ring_node *ring_node_at(const struct ring *r, size_t idx)
{
	return idx < r->n_nodes ? &r->nodes[idx] : NULL;
}

long ring_find_host(const struct ring *r, const uint8_t host_id[16])
{
	for (size_t i = 0; i < r->n_nodes; i++)
		if (memcmp(r->nodes[i].host_id, host_id, 16) == 0)
			return (long)i;
	return -1;
}

size_t ring_dc_size(const struct ring *r, const char *dc)
{
	long d = dc_index(r, dc);
	return d < 0 ? 0 : r->dc_nodes[d];
}

size_t ring_datacenters(const struct ring *r, const char *out[RING_MAX_DCS])
{
	for (size_t i = 0; i < r->n_dcs; i++)
		out[i] = r->dcs[i];
	return r->n_dcs;
}

size_t ring_token_count(const struct ring *r)
{
	return r->n_tokens;
}

int64_t ring_token_at(const struct ring *r, size_t i, size_t *owner)
{
	if (owner)
		*owner = r->tokens[i].owner;
	return r->tokens[i].token;
}

size_t ring_token_index(const struct ring *r, int64_t t)
{
	size_t lo = 0, hi = r->n_tokens;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->tokens[mid].token < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == r->n_tokens ? 0 : lo;
}

static const char *strip_class(const char *cls)
{
	static const char prefix[] = "org.apache.cassandra.locator.";
	return strncmp(cls, prefix, sizeof(prefix) - 1) == 0 ? cls + sizeof(prefix) - 1 : cls;
}

static int parse_rf(const char *key, const char *val, int *out, struct cerr *err)
{
	char *end = NULL;
	long v = strtol(val, &end, 10);
	if (!val[0] || *end || v < 0 || v > RING_MAX_RF)
		return cerr_set(err, COL_EINVAL,
		                "replication factor for '%s' must be an integer between 0 and %d, "
		                "got '%s'",
		                key, RING_MAX_RF, val);
	*out = (int)v;
	return COL_OK;
}

static int cmp_repl_dc(const void *a, const void *b)
{
	return strcmp(((const struct replication_dc *)a)->dc,
	              ((const struct replication_dc *)b)->dc);
}

int replication_parse(const char *const *keys, const char *const *vals, size_t n,
                      struct replication *out, struct cerr *err)
{
	memset(out, 0, sizeof(*out));
	const char *cls = NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i], "class") == 0)
			cls = strip_class(vals[i]);
	if (!cls)
		return cerr_set(err, COL_EINVAL, "missing replication strategy class");
	if (strcasecmp(cls, "SimpleStrategy") == 0) {
		out->cls = REPL_SIMPLE;
		bool have_rf = false;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(keys[i], "class") == 0)
				continue;
			if (strcmp(keys[i], "replication_factor") != 0)
				return cerr_set(err, COL_EINVAL,
				                "unrecognized strategy option {%s} passed to "
				                "SimpleStrategy",
				                keys[i]);
			int rc = parse_rf(keys[i], vals[i], &out->rf, err);
			if (rc)
				return rc;
			have_rf = true;
		}
		if (!have_rf)
			return cerr_set(
			        err, COL_EINVAL,
			        "SimpleStrategy requires a replication_factor strategy option");
		return COL_OK;
	}
	if (strcasecmp(cls, "NetworkTopologyStrategy") == 0) {
		out->cls = REPL_NETWORK_TOPOLOGY;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(keys[i], "class") == 0)
				continue;
			if (strcmp(keys[i], "replication_factor") == 0)
				return cerr_set(err, COL_EINVAL,
				                "NetworkTopologyStrategy takes per-datacenter "
				                "factors ('dc1': 3); 'replication_factor' is not "
				                "expanded here");
			if (out->n_dcs == RING_MAX_DCS)
				return cerr_set(err, COL_EINVAL, "more than %d datacenters",
				                RING_MAX_DCS);
			struct replication_dc *d = &out->dcs[out->n_dcs];
			size_t len = strlen(keys[i]);
			if (len == 0 || len >= sizeof(d->dc))
				return cerr_set(err, COL_EINVAL, "bad datacenter name '%s'",
				                keys[i]);
			memcpy(d->dc, keys[i], len + 1);
			int rc = parse_rf(keys[i], vals[i], &d->rf, err);
			if (rc)
				return rc;
			out->n_dcs++;
		}
		qsort(out->dcs, out->n_dcs, sizeof(out->dcs[0]), cmp_repl_dc);
		for (size_t i = 1; i < out->n_dcs; i++)
			if (strcmp(out->dcs[i].dc, out->dcs[i - 1].dc) == 0)
				return cerr_set(err, COL_EINVAL, "datacenter '%s' given twice",
				                out->dcs[i].dc);
		return COL_OK;
	}
	if (strcasecmp(cls, "LocalStrategy") == 0) {
		out->cls = REPL_LOCAL;
		return COL_OK;
	}
	return cerr_set(err, COL_EINVAL, "unknown replication strategy class '%s'", cls);
}

int replication_total_rf(const struct replication *rep)
{
	if (rep->cls == REPL_SIMPLE)
		return rep->rf;
	if (rep->cls == REPL_LOCAL)
		return 1;
	int sum = 0;
	for (size_t i = 0; i < rep->n_dcs; i++)
		sum += rep->dcs[i].rf;
	return sum;
}

int replication_dc_rf(const struct replication *rep, const char *dc)
{
	if (rep->cls != REPL_NETWORK_TOPOLOGY)
		return replication_total_rf(rep);
	for (size_t i = 0; i < rep->n_dcs; i++)
		if (strcmp(rep->dcs[i].dc, dc) == 0)
			return rep->dcs[i].rf;
	return 0;
}

int cl_dc_quorum(const struct replication *rep, const char *dc)
{
	int rf = replication_dc_rf(rep, dc);
	return rf > 0 ? rf / 2 + 1 : 0;
}

/* Cassandra's localQuorumFor: NTS quorum of the DC, else the strategy's quorum. */
static int local_quorum(const struct replication *rep, const char *local_dc)
{
	if (rep->cls == REPL_NETWORK_TOPOLOGY)
		return replication_dc_rf(rep, local_dc) / 2 + 1;
	return replication_total_rf(rep) / 2 + 1;
}

int cl_block_for(uint16_t cl, const struct replication *rep, const char *local_dc)
{
	int total = replication_total_rf(rep);
	switch (cl) {
	case CL_ANY:
	case CL_ONE:
	case CL_LOCAL_ONE: return 1;
	case CL_TWO: return 2;
	case CL_THREE: return 3;
	case CL_QUORUM:
	case CL_SERIAL: return total / 2 + 1;
	case CL_ALL: return total;
	case CL_LOCAL_QUORUM:
	case CL_LOCAL_SERIAL: return local_quorum(rep, local_dc);
	case CL_EACH_QUORUM:
		if (rep->cls == REPL_NETWORK_TOPOLOGY) {
			int n = 0;
			for (size_t i = 0; i < rep->n_dcs; i++)
				n += cl_dc_quorum(rep, rep->dcs[i].dc);
			return n;
		}
		return total / 2 + 1;
	default: return 1;
	}
}

static bool contains(const uint32_t *v, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static size_t simple_replicas(const struct ring *r, int rf, size_t start, uint32_t *out, size_t max)
{
	size_t want = (size_t)rf < max ? (size_t)rf : max;
	size_t got = 0;
	for (size_t i = 0; i < r->n_tokens && got < want; i++) {
		uint32_t owner = r->tokens[(start + i) % r->n_tokens].owner;
		if (!contains(out, got, owner))
			out[got++] = owner;
	}
	return got;
}

/* NetworkTopologyStrategy.calculateNaturalReplicas (Cassandra 4.x). */
static size_t nts_replicas(const struct ring *r, const struct replication *rep, size_t start,
                           uint32_t *out, size_t max)
{
	int rf_left[RING_MAX_DCS] = {0};
	int rack_repeats[RING_MAX_DCS] = {0};
	int dcs_to_fill = 0;
	for (size_t d = 0; d < r->n_dcs; d++) {
		int rf = replication_dc_rf(rep, r->dcs[d]);
		if (rf <= 0 || r->dc_nodes[d] == 0)
			continue;
		rf_left[d] = rf < (int)r->dc_nodes[d] ? rf : (int)r->dc_nodes[d];
		/* Not enough racks for the RF: every rack gets one replica and the
		 * difference goes to the first nodes met on already-used racks. */
		rack_repeats[d] = rf - (int)r->dc_racks[d];
		dcs_to_fill++;
	}
	size_t got = 0;
	/* Racks already used, as (dc, rack) via the first node seen on each. */
	uint32_t rack_nodes[RING_MAX_DCS * RING_MAX_RF];
	size_t n_rack_nodes = 0;
	for (size_t i = 0; i < r->n_tokens && dcs_to_fill > 0 && got < max; i++) {
		uint32_t ep = r->tokens[(start + i) % r->n_tokens].owner;
		uint32_t d = r->node_dc[ep];
		if (rf_left[d] <= 0 || contains(out, got, ep))
			continue;
		bool new_rack = true;
		for (size_t k = 0; k < n_rack_nodes && new_rack; k++)
			new_rack = !(r->node_dc[rack_nodes[k]] == d &&
			             strcmp(r->nodes[rack_nodes[k]].rack, r->nodes[ep].rack) == 0);
		if (new_rack) {
			if (n_rack_nodes < sizeof(rack_nodes) / sizeof(rack_nodes[0]))
				rack_nodes[n_rack_nodes++] = ep;
		} else {
			if (rack_repeats[d] <= 0)
				continue;
			rack_repeats[d]--;
		}
		out[got++] = ep;
		if (--rf_left[d] == 0)
			dcs_to_fill--;
	}
	return got;
}

size_t ring_replicas(const struct ring *r, const struct replication *rep, int64_t token,
                     uint32_t *out, size_t max)
{
	if (r->n_tokens == 0 || max == 0)
		return 0;
	size_t start = ring_token_index(r, token);
	switch (rep->cls) {
	case REPL_SIMPLE: return simple_replicas(r, rep->rf, start, out, max);
	case REPL_NETWORK_TOPOLOGY: return nts_replicas(r, rep, start, out, max);
	default: return 0;
	}
}

void ring_ownership(const struct ring *r, const struct replication *rep, double *out)
{
	for (size_t i = 0; i < r->n_nodes; i++)
		out[i] = 0;
	if (r->n_tokens == 0)
		return;
	const double ring_size = 18446744073709551616.0; /* 2^64 */
	uint32_t reps[RING_MAX_DCS * RING_MAX_RF];
	for (size_t i = 0; i < r->n_tokens; i++) {
		/* Range (previous token, this token]; a single token owns it all. */
		uint64_t prev = (uint64_t)r->tokens[(i + r->n_tokens - 1) % r->n_tokens].token;
		uint64_t width = (uint64_t)r->tokens[i].token - prev;
		double frac = r->n_tokens == 1 ? 1.0 : (double)width / ring_size;
		if (!rep) {
			out[r->tokens[i].owner] += frac;
			continue;
		}
		size_t n = ring_replicas(r, rep, r->tokens[i].token, reps,
		                         sizeof(reps) / sizeof(reps[0]));
		for (size_t k = 0; k < n; k++)
			out[reps[k]] += frac;
	}
}
