/*
 * libFuzzer target: the decoders of hinted handoff (coordinator/hints/hints.h)
 * — a stored hint value (read back from disk, which may be torn or corrupt)
 * and the HINT verb's payload (from another node).  The first byte picks the
 * decoder; the rest is the input.  Decoders must refuse garbage with
 * COL_ECORRUPT, never read out of bounds, and a value that decodes must be the
 * one its checksum vouches for: encoding any bytes and decoding them gives
 * them back.
 */
#include "coordinator/hints/hints.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	switch (data[0] % 3) {
	case 0: {
		struct buf out;
		buf_init(&out);
		struct cerr e = {0};
		(void)hints_value_decode(p, n, &out, &e);
		buf_release(&out);
		break;
	}
	case 1: {
		uint8_t host[16];
		int64_t created;
		const uint8_t *mut;
		size_t len;
		if (hints_msg_decode(p, n, host, &created, &mut, &len) == 0 &&
		    (mut < p || mut + len > p + n))
			abort(); /* the mutation must lie inside the payload */
		break;
	}
	default: {
		struct buf v, out;
		buf_init(&v);
		buf_init(&out);
		struct cerr e = {0};
		if (hints_value_encode(&v, p, n) == 0) {
			if (hints_value_decode(v.data, v.len, &out, &e) != 0 || out.len != n ||
			    (n && memcmp(out.data, p, n) != 0))
				abort();
		}
		buf_release(&v);
		buf_release(&out);
		break;
	}
	}
	return 0;
}
