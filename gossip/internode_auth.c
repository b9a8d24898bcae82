/*
 * internode_auth.c — HMAC-SHA256 handshake proofs and the replay guard.
 */
#include "gossip/internode_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <string.h>

static const char HELLO_LABEL[] = "colonnade-internode-hello-v1";
static const char ANSWER_LABEL[] = "colonnade-internode-answer-v1";

static void put_u64be(uint8_t *o, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		o[i] = (uint8_t)v;
}

static void mac_of(const uint8_t *secret, size_t secret_len, const uint8_t *fields,
                   size_t fields_len, const uint8_t *challenge, const struct iauth_proof *p,
                   uint8_t out[IAUTH_MAC_LEN])
{
	uint8_t tail[8 + IAUTH_NONCE_LEN * 2];
	put_u64be(tail, p->time_ms);
	memcpy(tail + 8, p->nonce, IAUTH_NONCE_LEN);
	size_t tail_len = 8 + IAUTH_NONCE_LEN;
	if (challenge) {
		memcpy(tail + tail_len, challenge, IAUTH_NONCE_LEN);
		tail_len += IAUTH_NONCE_LEN;
	}
	const char *label = challenge ? ANSWER_LABEL : HELLO_LABEL;
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
	                       OSSL_PARAM_construct_end()};
	size_t got = 0;
	if (!ctx || !EVP_MAC_init(ctx, secret, secret_len, params) ||
	    !EVP_MAC_update(ctx, (const uint8_t *)label, strlen(label) + 1) ||
	    !EVP_MAC_update(ctx, fields, fields_len) || !EVP_MAC_update(ctx, tail, tail_len) ||
	    !EVP_MAC_final(ctx, out, &got, IAUTH_MAC_LEN) || got != IAUTH_MAC_LEN)
		memset(out, 0, IAUTH_MAC_LEN); /* never matches a real mac: check refuses */
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
}

void iauth_sign(const uint8_t *secret, size_t secret_len, const uint8_t *fields, size_t fields_len,
                const uint8_t *challenge, struct iauth_proof *p)
{
	mac_of(secret, secret_len, fields, fields_len, challenge, p, p->mac);
}

bool iauth_check(const uint8_t *secret, size_t secret_len, const uint8_t *fields, size_t fields_len,
                 const uint8_t *challenge, const struct iauth_proof *p)
{
	uint8_t want[IAUTH_MAC_LEN];
	static const uint8_t zero[IAUTH_MAC_LEN];
	mac_of(secret, secret_len, fields, fields_len, challenge, p, want);
	return CRYPTO_memcmp(want, zero, IAUTH_MAC_LEN) != 0 &&
	       CRYPTO_memcmp(want, p->mac, IAUTH_MAC_LEN) == 0;
}

int iauth_random(uint8_t *out, size_t n)
{
	return RAND_bytes(out, (int)n) == 1 ? 0 : COL_EIO;
}

void iauth_seen_init(struct iauth_seen *s, uint64_t now_ms)
{
	memset(s, 0, sizeof(*s));
	s->started_ms = now_ms;
}

int iauth_seen_admit(struct iauth_seen *s, const struct iauth_proof *p, uint64_t now_ms,
                     struct cerr *err)
{
	uint64_t t = p->time_ms;
	if (t + IAUTH_WINDOW_MS < now_ms || t > now_ms + IAUTH_WINDOW_MS)
		return cerr_set(err, COL_EPROTO,
		                "its clock differs from ours by %lld ms (at most %d allowed): a "
		                "replayed handshake, or clocks out of sync",
		                (long long)t - (long long)now_ms, IAUTH_WINDOW_MS);
	if (t < s->started_ms)
		return cerr_set(
		        err, COL_EPROTO,
		        "its handshake is dated %llu ms before this node started: replayed?",
		        (unsigned long long)(s->started_ms - t));
	int free_slot = -1;
	for (int i = 0; i < IAUTH_SEEN_MAX; i++) {
		if (s->e[i].expires_ms <= now_ms) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (memcmp(s->e[i].nonce, p->nonce, IAUTH_NONCE_LEN) == 0)
			return cerr_set(err, COL_EPROTO,
			                "its handshake nonce was used before: replayed");
	}
	if (free_slot < 0)
		return cerr_set(err, COL_EPROTO,
		                "%d authenticated handshakes in the last %d ms: refusing more",
		                IAUTH_SEEN_MAX, IAUTH_WINDOW_MS);
	s->e[free_slot].expires_ms = t + IAUTH_WINDOW_MS + 1; /* after that the window refuses it */
	memcpy(s->e[free_slot].nonce, p->nonce, IAUTH_NONCE_LEN);
	return 0;
}
