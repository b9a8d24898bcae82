/*
 * identity.c — host id, tokens and generation in the system column family.
 */
#include "coordinator/node/identity.h"

#include "core/buf.h"
#include "storage/storage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define KEY_HOST_ID    "local/host_id"
#define KEY_TOKENS     "local/tokens"
#define KEY_JOINING    "local/joining"
#define KEY_GENERATION "local/generation"
#define TOKENS_FORMAT  1

static int random_bytes(void *p, size_t n, struct cerr *err)
{
	uint8_t *b = p;
	while (n > 0) {
		ssize_t r = getrandom(b, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return cerr_set(err, COL_EIO, "getrandom: %s", strerror(errno));
		}
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int identity_tokens_encode(const int64_t *tokens, size_t n, uint8_t *out, size_t cap, size_t *len)
{
	size_t need = 1 + 4 + 8 * n;
	if (cap < need || n > IDENTITY_MAX_TOKENS)
		return COL_ETOOBIG;
	out[0] = TOKENS_FORMAT;
	out[1] = (uint8_t)(n >> 24);
	out[2] = (uint8_t)(n >> 16);
	out[3] = (uint8_t)(n >> 8);
	out[4] = (uint8_t)n;
	for (size_t i = 0; i < n; i++) {
		uint64_t v = (uint64_t)tokens[i];
		for (int k = 0; k < 8; k++)
			out[5 + 8 * i + (size_t)k] = (uint8_t)(v >> (56 - 8 * k));
	}
	*len = need;
	return 0;
}

int identity_tokens_decode(const uint8_t *p, size_t len, int64_t *tokens, size_t cap, size_t *n)
{
	struct bufreader r;
	bufreader_init(&r, p, len);
	uint8_t fmt = bufreader_u8(&r);
	uint32_t cnt = bufreader_u32be(&r);
	if (!bufreader_ok(&r) || fmt != TOKENS_FORMAT || cnt == 0 || cnt > cap ||
	    bufreader_left(&r) != (size_t)cnt * 8)
		return COL_ECORRUPT;
	for (uint32_t i = 0; i < cnt; i++) {
		tokens[i] = (int64_t)bufreader_u64be(&r);
		if (i > 0 && tokens[i] <= tokens[i - 1])
			return COL_ECORRUPT; /* stored ascending and distinct */
	}
	*n = cnt;
	return 0;
}

static int new_tokens(int num, int64_t *tokens, struct cerr *err)
{
	for (int i = 0; i < num;) {
		uint64_t v;
		if (random_bytes(&v, sizeof(v), err))
			return COL_EIO;
		int64_t t = (int64_t)v;
		if (t == INT64_MIN)
			continue;
		bool dup = false;
		for (int k = 0; k < i; k++)
			dup |= tokens[k] == t;
		if (dup)
			continue;
		tokens[i++] = t;
	}
	qsort(tokens, (size_t)num, sizeof(tokens[0]), cmp_i64);
	return 0;
}

int identity_load(struct store *s, int num_tokens, int64_t now_s, struct identity *out,
                  struct cerr *err)
{
	if (num_tokens < 1 || num_tokens > IDENTITY_MAX_TOKENS)
		return cerr_set(err, COL_EINVAL, "num_tokens %d is outside 1..%d", num_tokens,
		                IDENTITY_MAX_TOKENS);
	struct identity id;
	memset(&id, 0, sizeof(id));
	struct buf v;
	buf_init(&v);
	int rc = store_kv_get(s, STORE_CF_SYSTEM, KEY_HOST_ID, strlen(KEY_HOST_ID), &v, err);
	if (rc == COL_ENOTFOUND) {
		id.first_boot = true;
		if (random_bytes(id.host_id, 16, err))
			goto fail;
		id.host_id[6] = (uint8_t)((id.host_id[6] & 0x0f) | 0x40); /* version 4 */
		id.host_id[8] = (uint8_t)((id.host_id[8] & 0x3f) | 0x80); /* IETF variant */
		if (new_tokens(num_tokens, id.tokens, err))
			goto fail;
		id.n_tokens = (size_t)num_tokens;
		uint8_t enc[5 + 8 * IDENTITY_MAX_TOKENS];
		size_t elen;
		identity_tokens_encode(id.tokens, id.n_tokens, enc, sizeof(enc), &elen);
		/* Tokens first: a crash in between leaves no host id, so the next boot
		 * starts over instead of finding a host id without tokens. */
		rc = store_kv_put(s, STORE_CF_SYSTEM, KEY_TOKENS, strlen(KEY_TOKENS), enc, elen,
		                  err);
		if (!rc)
			rc = store_kv_put(s, STORE_CF_SYSTEM, KEY_JOINING, strlen(KEY_JOINING), "",
			                  0, err);
		id.joining = true;
		if (!rc)
			rc = store_kv_put(s, STORE_CF_SYSTEM, KEY_HOST_ID, strlen(KEY_HOST_ID),
			                  id.host_id, 16, err);
		if (rc)
			goto fail;
	} else if (rc) {
		goto fail;
	} else {
		if (v.len != 16) {
			rc = cerr_set(err, COL_ECORRUPT,
			              "system: stored host id is %zu bytes, expected 16", v.len);
			goto fail;
		}
		memcpy(id.host_id, v.data, 16);
		buf_reset(&v);
		rc = store_kv_get(s, STORE_CF_SYSTEM, KEY_TOKENS, strlen(KEY_TOKENS), &v, err);
		if (rc == COL_ENOTFOUND) {
			rc = cerr_set(err, COL_ECORRUPT, "system: host id stored but no tokens");
			goto fail;
		}
		if (rc)
			goto fail;
		if (identity_tokens_decode(v.data, v.len, id.tokens, IDENTITY_MAX_TOKENS,
		                           &id.n_tokens)) {
			rc = cerr_set(err, COL_ECORRUPT,
			              "system: stored tokens are malformed (%zu bytes)", v.len);
			goto fail;
		}
		buf_reset(&v);
		rc = store_kv_get(s, STORE_CF_SYSTEM, KEY_JOINING, strlen(KEY_JOINING), &v, err);
		if (rc && rc != COL_ENOTFOUND)
			goto fail;
		id.joining = rc == 0;
	}
	buf_reset(&v);
	int64_t prev = 0;
	rc = store_kv_get(s, STORE_CF_SYSTEM, KEY_GENERATION, strlen(KEY_GENERATION), &v, err);
	if (rc == 0) {
		if (v.len != 8) {
			rc = cerr_set(err, COL_ECORRUPT,
			              "system: stored generation is %zu bytes, expected 8", v.len);
			goto fail;
		}
		prev = (int64_t)be64_load(v.data);
	} else if (rc != COL_ENOTFOUND) {
		goto fail;
	}
	id.generation = now_s > prev ? now_s : prev + 1;
	uint8_t g[8];
	be64_store(g, (uint64_t)id.generation);
	rc = store_kv_put(s, STORE_CF_SYSTEM, KEY_GENERATION, strlen(KEY_GENERATION), g, 8, err);
	if (rc)
		goto fail;
	buf_release(&v);
	*out = id;
	return 0;
fail:
	buf_release(&v);
	return rc ? rc : COL_EIO;
}

int identity_joined(struct store *s, struct identity *id, struct cerr *err)
{
	int rc = store_kv_delete(s, STORE_CF_SYSTEM, KEY_JOINING, strlen(KEY_JOINING), err);
	if (!rc)
		id->joining = false;
	return rc;
}

int identity_adopt_tokens(struct store *s, struct identity *id, const int64_t *tokens, size_t n,
                          struct cerr *err)
{
	if (!id->joining)
		return cerr_set(err, COL_EINVAL, "tokens change only before the node joined");
	if (n == 0 || n > IDENTITY_MAX_TOKENS)
		return cerr_set(err, COL_EINVAL, "%zu tokens is outside 1..%d", n,
		                IDENTITY_MAX_TOKENS);
	int64_t t[IDENTITY_MAX_TOKENS];
	memcpy(t, tokens, n * sizeof(*t));
	qsort(t, n, sizeof(t[0]), cmp_i64);
	uint8_t enc[5 + 8 * IDENTITY_MAX_TOKENS];
	size_t elen;
	identity_tokens_encode(t, n, enc, sizeof(enc), &elen);
	int rc = store_kv_put(s, STORE_CF_SYSTEM, KEY_TOKENS, strlen(KEY_TOKENS), enc, elen, err);
	if (rc)
		return rc;
	memcpy(id->tokens, t, n * sizeof(*t));
	id->n_tokens = n;
	return 0;
}
