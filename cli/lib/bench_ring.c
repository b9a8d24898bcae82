/*
 * bench_ring.c — the client's view of the token ring, for token-aware
 * routing: send each request to a node that holds its key, so the
 * coordinator is also a replica and one network hop is saved (what the
 * drivers' TokenAwarePolicy does).  Built from system.local / system.peers
 * tokens and the keyspace's replication map.
 */
#include "cli/lib/bench_int.h"

#include "core/buf.h"
#include "core/cqlproto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct pair {
	int64_t token;
	int owner;
};

static int cmp_pair(const void *a, const void *b)
{
	int64_t x = ((const struct pair *)a)->token, y = ((const struct pair *)b)->token;
	return x < y ? -1 : x > y;
}

int bench_ring_build(struct bench_ring *r, const int64_t *tokens, const int *owner, size_t n,
                     int n_nodes, int rf)
{
	memset(r, 0, sizeof(*r));
	if (!n || n_nodes < 1)
		return COL_EINVAL;
	if (rf < 1)
		rf = 1;
	if (rf > n_nodes)
		rf = n_nodes;
	struct pair *p = malloc(n * sizeof(*p));
	r->tokens = malloc(n * sizeof(*r->tokens));
	r->owner = malloc(n * sizeof(*r->owner));
	r->replicas = malloc(n * (size_t)rf * sizeof(*r->replicas));
	if (!p || !r->tokens || !r->owner || !r->replicas) {
		free(p);
		bench_ring_release(r);
		return COL_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		p[i].token = tokens[i];
		p[i].owner = owner[i];
	}
	qsort(p, n, sizeof(*p), cmp_pair);
	for (size_t i = 0; i < n; i++) {
		if (i && p[i].token == p[i - 1].token) {
			free(p);
			bench_ring_release(r);
			return COL_EINVAL;
		}
		r->tokens[i] = p[i].token;
		r->owner[i] = p[i].owner;
	}
	free(p);
	r->n_tokens = n;
	r->rf = rf;
	/* SimpleStrategy placement: walk clockwise, take rf distinct owners. */
	for (size_t i = 0; i < n; i++) {
		int *out = &r->replicas[i * (size_t)rf];
		int got = 0;
		for (size_t k = 0; k < n && got < rf; k++) {
			int o = r->owner[(i + k) % n];
			bool seen = false;
			for (int j = 0; j < got; j++)
				seen |= out[j] == o;
			if (!seen)
				out[got++] = o;
		}
		/* Fewer distinct owners than rf (a ring that lists fewer nodes than
		 * n_nodes): repeat the primary, harmless for routing. */
		while (got < rf)
			out[got++] = out[0];
	}
	return COL_OK;
}

void bench_ring_release(struct bench_ring *r)
{
	free(r->tokens);
	free(r->owner);
	free(r->replicas);
	memset(r, 0, sizeof(*r));
}

const int *bench_ring_replicas(const struct bench_ring *r, int64_t token)
{
	/* First ring token >= token, wrapping to 0 past the largest. */
	size_t lo = 0, hi = r->n_tokens;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->tokens[mid] < token)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == r->n_tokens)
		lo = 0;
	return &r->replicas[lo * (size_t)r->rf];
}

int bench_parse_token_set(const uint8_t *p, int32_t len, int64_t **out, size_t *n, struct cerr *err)
{
	if (len < 0)
		return cerr_set(err, COL_ECORRUPT, "tokens: null");
	struct bufreader r;
	bufreader_init(&r, p, (size_t)len);
	int32_t count = (int32_t)bufreader_u32be(&r);
	if (!bufreader_ok(&r) || count < 0 || (size_t)count > (size_t)len / 4)
		return cerr_set(err, COL_ECORRUPT, "tokens: bad element count %d in %d bytes",
		                count, len);
	int64_t *t = malloc(((size_t)count + 1) * sizeof(*t));
	if (!t)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	for (int32_t i = 0; i < count; i++) {
		struct cql_slice s = cql_get_bytes(&r);
		char num[32];
		if (!bufreader_ok(&r) || s.len <= 0 || s.len >= (int32_t)sizeof(num)) {
			free(t);
			return cerr_set(err, COL_ECORRUPT, "tokens: element %d is malformed", i);
		}
		memcpy(num, s.p, (size_t)s.len);
		num[s.len] = 0;
		char *end;
		errno = 0;
		long long v = strtoll(num, &end, 10);
		if (errno || *end || end == num) {
			free(t);
			return cerr_set(err, COL_ECORRUPT, "tokens: '%s' is not a token", num);
		}
		t[i] = v;
	}
	*out = t;
	*n = (size_t)count;
	return COL_OK;
}

int bench_parse_replication(const uint8_t *p, int32_t len, int *rf, char *cls, size_t cls_len,
                            struct cerr *err)
{
	if (len < 0)
		return cerr_set(err, COL_ECORRUPT, "replication: null");
	struct bufreader r;
	bufreader_init(&r, p, (size_t)len);
	int32_t count = (int32_t)bufreader_u32be(&r);
	if (!bufreader_ok(&r) || count < 0 || (size_t)count > (size_t)len / 8)
		return cerr_set(err, COL_ECORRUPT, "replication: bad entry count %d", count);
	char klass[128] = "";
	int simple_rf = -1, dc_sum = 0;
	for (int32_t i = 0; i < count; i++) {
		struct cql_slice k = cql_get_bytes(&r), v = cql_get_bytes(&r);
		if (!bufreader_ok(&r) || k.len < 0 || v.len < 0 || v.len > 100)
			return cerr_set(err, COL_ECORRUPT, "replication: entry %d is malformed", i);
		char val[128];
		memcpy(val, v.p, (size_t)v.len);
		val[v.len] = 0;
		if (k.len == 5 && !memcmp(k.p, "class", 5)) {
			snprintf(klass, sizeof(klass), "%s", val);
			continue;
		}
		char *end;
		long x = strtol(val, &end, 10);
		if (*end || end == val || x < 0 || x > 1000)
			continue; /* not a replication factor (e.g. a future option) */
		if (k.len == 18 && !memcmp(k.p, "replication_factor", 18))
			simple_rf = (int)x;
		else
			dc_sum += (int)x;
	}
	snprintf(cls, cls_len, "%s", klass);
	const char *shortname = strrchr(klass, '.') ? strrchr(klass, '.') + 1 : klass;
	if (!strcasecmp(shortname, "NetworkTopologyStrategy"))
		*rf = dc_sum;
	else if (simple_rf >= 0)
		*rf = simple_rf;
	else
		return cerr_set(err, COL_ECORRUPT,
		                "replication: no replication_factor for class '%s'", klass);
	return COL_OK;
}
