/*
 * libFuzzer target: the HANDSHAKE payload of an internode connection, as a
 * node with internode_authenticator_secret checks it (gossip/internode_auth.h):
 * decode (seven or eight values, torn or oversized proofs), the MAC check as a
 * hello and as an answer to a fixed challenge, and the replay guard at a fixed
 * clock.  Seeds: a signed hello, a signed answer, an unsigned handshake.
 */
#include "core/log.h"
#include "gossip/internode_auth.h"
#include "gossip/messaging.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t KEY[] = "0123456789abcdef-secret";
static struct iauth_seen *seen;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	seen = malloc(sizeof(*seen));
	if (!seen)
		abort();
	iauth_seen_init(seen, 1700000000000ULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_handshake h;
	struct cerr e = {0};
	if (msg_handshake_decode(data, size, &h, &e) != 0) {
		if (!e.msg[0])
			abort(); /* every refusal says why */
		return 0;
	}
	if (h.fields < data || h.fields + h.fields_len > data + size)
		abort(); /* the signed range lies inside the input */
	if (!h.has_proof)
		return 0;
	uint8_t challenge[IAUTH_NONCE_LEN];
	memset(challenge, 0x60, sizeof(challenge));
	bool hello = iauth_check(KEY, sizeof(KEY) - 1, h.fields, h.fields_len, NULL, &h.proof);
	bool answer =
	        iauth_check(KEY, sizeof(KEY) - 1, h.fields, h.fields_len, challenge, &h.proof);
	if (hello && answer)
		abort(); /* one MAC cannot be both: the labels differ */
	if (hello)
		(void)iauth_seen_admit(seen, &h.proof, h.proof.time_ms, &e);
	return 0;
}
