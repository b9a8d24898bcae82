/*
 * internode_auth.h — proof that the other end of an internode connection
 * holds the cluster's shared secret (internode_authenticator_secret), without
 * TLS.  docs/GOSSIP.md ("Authenticated handshake") has the design.
 *
 * The connecting side's HANDSHAKE carries a proof [time_ms, nonce, mac]:
 *   mac = HMAC-SHA256(secret, "colonnade-internode-hello-v1\0" || fields ||
 *                     time_ms (u64 BE) || nonce)
 * where `fields` are the handshake's seven msgpack values exactly as sent.
 * The accepting side checks the mac, that time_ms is within
 * IAUTH_WINDOW_MS of its own clock and not before it started, and that it has
 * not seen the nonce (a replayed hello is refused); only then does any frame
 * of that connection reach a verb handler.  Its answer carries a proof over
 * its own fields with the hello's nonce as the challenge:
 *   mac = HMAC-SHA256(secret, "colonnade-internode-answer-v1\0" || fields ||
 *                     time_ms || nonce || hello nonce)
 * so the connecting side knows it reached a member too.  The two labels keep
 * an answer from being replayed as a hello.
 *
 * This authenticates the handshake, not every frame: an on-path attacker who
 * can rewrite a live TCP stream needs TLS to be kept out.
 */
#ifndef COLONNADE_GOSSIP_INTERNODE_AUTH_H
#define COLONNADE_GOSSIP_INTERNODE_AUTH_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IAUTH_NONCE_LEN  16
#define IAUTH_MAC_LEN    32
#define IAUTH_MIN_SECRET 16    /* bytes: shorter secrets are refused at start */
#define IAUTH_WINDOW_MS  60000 /* a hello's clock may differ from ours by this much */
#define IAUTH_SEEN_MAX   4096  /* hello nonces remembered for IAUTH_WINDOW_MS */

/* The proof as carried in a handshake (the eighth element). */
struct iauth_proof {
	uint64_t time_ms; /* the sender's wall clock, ms since the epoch */
	uint8_t nonce[IAUTH_NONCE_LEN];
	uint8_t mac[IAUTH_MAC_LEN];
};

/*
 * Compute p->mac over `fields` (the handshake's seven values as encoded),
 * p->time_ms and p->nonce; `challenge` is NULL for a hello, the hello's nonce
 * for an answer.
 */
void iauth_sign(const uint8_t *secret, size_t secret_len, const uint8_t *fields, size_t fields_len,
                const uint8_t *challenge, struct iauth_proof *p);
/* Does p->mac match?  Constant time. */
bool iauth_check(const uint8_t *secret, size_t secret_len, const uint8_t *fields, size_t fields_len,
                 const uint8_t *challenge, const struct iauth_proof *p);
/* Fill `out` with n random bytes (OpenSSL's RAND_bytes).  0 or COL_EIO. */
int iauth_random(uint8_t *out, size_t n);

/*
 * Replay guard: the hello nonces accepted in the last IAUTH_WINDOW_MS.
 * iauth_seen_admit() says why a hello is refused (clock outside the window,
 * before we started, nonce seen, too many hellos in the window), or returns
 * 0 and remembers the nonce.
 */
struct iauth_seen {
	struct {
		uint64_t expires_ms;
		uint8_t nonce[IAUTH_NONCE_LEN];
	} e[IAUTH_SEEN_MAX];
	uint64_t started_ms;
};
void iauth_seen_init(struct iauth_seen *s, uint64_t now_ms);
int iauth_seen_admit(struct iauth_seen *s, const struct iauth_proof *p, uint64_t now_ms,
                     struct cerr *err);

#endif
