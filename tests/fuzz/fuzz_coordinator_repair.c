/*
 * libFuzzer target: the decoders of anti-entropy repair's messages
 * (coordinator/repair/repair.h) — REPAIR_TREE, REPAIR_STREAM and REPAIR_SYNC
 * requests and their responses, REPAIR_DONE, and the Merkle tree's wire form
 * (core/merkle.h), all from other nodes.  The first byte picks the decoder
 * (and for trees, the depth asked for); the rest is the input.  Decoders must
 * refuse garbage with COL_ECORRUPT, never read out of bounds, keep their
 * pointers inside the input, and a request that decodes must encode back to
 * one that decodes to the same fields.
 */
#include "coordinator/repair/repair.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const uint8_t *p, size_t n, const uint8_t *q, size_t len)
{
	if (len && (q < p || q + len > p + n))
		abort();
}

static void request(unsigned verb, const uint8_t *p, size_t n)
{
	struct repair_req q, q2;
	struct cerr e = {0};
	if (repair_req_decode(verb, p, n, &q, &e) != 0)
		return;
	inside(p, n, q.after, q.after_len);
	inside(p, n, q.chunk, q.chunk_len);
	if (q.depth > REPAIR_MAX_DEPTH || q.max_bytes > REPAIR_MAX_CHUNK)
		abort();
	struct buf b;
	buf_init(&b);
	repair_req_put(&b, &q);
	if (!buf_ok(&b) || repair_req_decode(verb, b.data, b.len, &q2, &e) != 0 ||
	    q2.session != q.session || q2.start != q.start || q2.end != q.end ||
	    q2.now_s != q.now_s || q2.depth != q.depth || q2.max_bytes != q.max_bytes ||
	    q2.after_len != q.after_len || q2.chunk_len != q.chunk_len ||
	    memcmp(q2.table_id, q.table_id, 16) != 0)
		abort();
	buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	struct cerr e = {0};
	switch (data[0] % 8) {
	case 0: request(VERB_REPAIR_TREE, p, n); break;
	case 1: request(VERB_REPAIR_STREAM, p, n); break;
	case 2: request(VERB_REPAIR_SYNC, p, n); break;
	case 3: {
		struct merkle *t = NULL;
		uint64_t parts;
		unsigned depth = (data[0] >> 3) % (REPAIR_MAX_DEPTH + 1);
		if (repair_tree_rsp_decode(p, n, depth, 0, 0, &t, &parts, &e) == 0 &&
		    (t->depth != depth || t->start != 0 || t->end != 0))
			abort();
		merkle_free(t);
		break;
	}
	case 4: {
		const uint8_t *chunk, *last;
		uint32_t cl, ll;
		bool more;
		if (repair_stream_rsp_decode(p, n, 1024, &chunk, &cl, &last, &ll, &more, &e) == 0) {
			inside(p, n, chunk, cl);
			inside(p, n, last, ll);
		}
		break;
	}
	case 5: {
		uint64_t pairs;
		(void)repair_sync_rsp_decode(p, n, &pairs, &e);
		break;
	}
	case 7: {
		uint8_t id[16];
		int64_t start, end, began;
		(void)repair_done_decode(p, n, id, &start, &end, &began, &e);
		break;
	}
	default: {
		struct merkle *t = NULL;
		if (merkle_decode(p, n, 12, &t, &e) == 0) {
			struct buf b;
			buf_init(&b);
			merkle_encode(t, &b);
			if (!buf_ok(&b) || b.len != n || memcmp(b.data, p, n) != 0)
				abort(); /* the wire form is canonical */
			buf_release(&b);
			merkle_free(t);
		}
		break;
	}
	}
	return 0;
}
