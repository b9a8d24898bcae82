/*
 * bench_route.c — the system-table cells that token-aware routing reads
 * (tokenmap.c, for `colonnade bench` and cqlish COPY): a system.local /
 * system.peers row as a ring endpoint, token sets, replication maps.
 */
#include "cli/lib/bench_int.h"

#include "cli/lib/cqlclient.h"
#include "core/buf.h"
#include "core/cqlproto.h"
#include "core/hex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A text cell of column `name` into out ("unknown" when absent, null or too long). */
static void text_cell(const struct cqlresult *r, uint32_t row, const char *name, char *out,
                      size_t cap)
{
	int col = cqlresult_column(r, name);
	const struct cql_slice *c = col >= 0 ? cqlresult_cell(r, row, (uint32_t)col) : NULL;
	if (!c || c->len <= 0 || (size_t)c->len >= cap) {
		snprintf(out, cap, "unknown");
		return;
	}
	memcpy(out, c->p, (size_t)c->len);
	out[c->len] = 0;
}

int bench_ring_endpoint(const struct cqlresult *r, uint32_t row, struct ring_endpoint *ep,
                        struct cerr *err)
{
	int ctok = cqlresult_column(r, "tokens");
	if (ctok < 0)
		return cerr_set(err, COL_EPROTO, "system tables have no 'tokens' column");
	int chost = cqlresult_column(r, "host_id");
	const struct cql_slice *h = chost >= 0 ? cqlresult_cell(r, row, (uint32_t)chost) : NULL;
	memset(ep->host_id, 0, sizeof(ep->host_id));
	if (h && h->len == 16)
		memcpy(ep->host_id, h->p, 16);
	text_cell(r, row, "data_center", ep->dc, sizeof(ep->dc));
	text_cell(r, row, "rack", ep->rack, sizeof(ep->rack));
	const struct cql_slice *cell = cqlresult_cell(r, row, (uint32_t)ctok);
	int64_t *t;
	size_t n;
	int rc = bench_parse_token_set(cell->p, cell->len, &t, &n, err);
	if (rc)
		return rc;
	ep->tokens = t;
	ep->n_tokens = n;
	return COL_OK;
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

int bench_parse_replication(const uint8_t *p, int32_t len, struct replication *out,
                            struct cerr *err)
{
	if (len < 0)
		return cerr_set(err, COL_ECORRUPT, "replication: null");
	struct bufreader r;
	bufreader_init(&r, p, (size_t)len);
	int32_t count = (int32_t)bufreader_u32be(&r);
	if (!bufreader_ok(&r) || count < 0 || (size_t)count > (size_t)len / 8 ||
	    count > RING_MAX_DCS + 1)
		return cerr_set(err, COL_ECORRUPT, "replication: bad entry count %d", count);
	char text[RING_MAX_DCS + 1][2][RING_NAME_MAX];
	const char *keys[RING_MAX_DCS + 1], *vals[RING_MAX_DCS + 1];
	for (int32_t i = 0; i < count; i++) {
		for (int kv = 0; kv < 2; kv++) {
			struct cql_slice s = cql_get_bytes(&r);
			if (!bufreader_ok(&r) || s.len < 0 || s.len >= RING_NAME_MAX)
				return cerr_set(err, COL_ECORRUPT,
				                "replication: entry %d is malformed", i);
			if (s.len)
				memcpy(text[i][kv], s.p, (size_t)s.len);
			text[i][kv][s.len] = 0;
		}
		keys[i] = text[i][0];
		vals[i] = text[i][1];
	}
	int rc = replication_parse(keys, vals, (size_t)count, out, err);
	if (rc)
		cerr_prefix(err, "replication: ");
	return rc;
}
