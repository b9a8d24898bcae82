/*
 * libFuzzer target: the replica and coordinator decoders of internode
 * payloads (coordinator/replication/verbs.h) — MUTATION, READ, the relayed ack, READ
 * RESULTs and TRUNCATE.  The first byte picks the decoder; the rest is the payload.
 * Decoders must refuse garbage with COL_ECORRUPT and never read out of bounds.
 */
#include "coordinator/replication/verbs.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	switch (data[0] % 5) {
	case 0: {
		static struct verbs_mutation_msg mm;
		(void)verbs_mutation_decode(p, n, &mm);
		break;
	}
	case 1: {
		static struct verbs_read_req q;
		(void)verbs_read_decode(p, n, &q);
		break;
	}
	case 2: {
		uint64_t id;
		uint32_t slot;
		int st;
		(void)verbs_decode_relay_ack(p, n, &id, &slot, &st);
		break;
	}
	case 3: {
		uint8_t id[16];
		int64_t at;
		(void)verbs_truncate_decode(p, n, id, &at);
		break;
	}
	default: {
		struct rres r;
		rres_init(&r);
		(void)rres_decode(&r, p, n, NULL);
		rres_release(&r);
		break;
	}
	}
	return 0;
}
