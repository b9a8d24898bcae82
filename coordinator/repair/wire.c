/*
 * wire.c — the REPAIR_* payloads (tables in repair.h).  Decoders are strict:
 * exact array lengths, the version, bounds on depth and sizes; they point
 * into the payload and never allocate except for a decoded tree.
 */
#include "coordinator/repair/repair_int.h"

#include "core/msgpk.h"

#include <string.h>

static unsigned req_fields(unsigned verb)
{
	switch (verb) {
	case VERB_REPAIR_TREE: return 7;
	case VERB_REPAIR_STREAM: return 8;
	case VERB_REPAIR_SYNC: return 6;
	default: return 0;
	}
}

void repair_req_put(struct buf *b, const struct repair_req *q)
{
	msgpk_put_array(b, req_fields(q->verb));
	msgpk_put_uint(b, REPAIR_WIRE_VERSION);
	msgpk_put_uint(b, q->session);
	msgpk_put_bin(b, q->table_id, 16);
	msgpk_put_int(b, q->start);
	msgpk_put_int(b, q->end);
	switch (q->verb) {
	case VERB_REPAIR_TREE:
		msgpk_put_int(b, q->now_s);
		msgpk_put_uint(b, q->depth);
		break;
	case VERB_REPAIR_STREAM:
		msgpk_put_int(b, q->now_s);
		if (q->after)
			msgpk_put_bin(b, q->after, q->after_len);
		else
			msgpk_put_nil(b);
		msgpk_put_uint(b, q->max_bytes);
		break;
	case VERB_REPAIR_SYNC: msgpk_put_bin(b, q->chunk, q->chunk_len); break;
	}
}

static int bad(struct cerr *err, unsigned verb, const char *what)
{
	const char *name = verb == VERB_REPAIR_TREE     ? "REPAIR_TREE"
	                   : verb == VERB_REPAIR_STREAM ? "REPAIR_STREAM"
	                   : verb == VERB_REPAIR_SYNC   ? "REPAIR_SYNC"
	                                                : "repair";
	return cerr_set(err, COL_ECORRUPT, "%s: %s", name, what);
}

static int req_tail(unsigned verb, struct bufreader *r, struct repair_req *q, struct cerr *err)
{
	uint64_t u;
	switch (verb) {
	case VERB_REPAIR_TREE:
		if (msgpk_read_int(r, &q->now_s))
			return bad(err, verb, "now_s is not an integer");
		if (msgpk_read_uint_max(r, REPAIR_MAX_DEPTH, &u))
			return bad(err, verb, "depth is not an integer up to REPAIR_MAX_DEPTH");
		q->depth = (unsigned)u;
		return 0;
	case VERB_REPAIR_STREAM:
		if (msgpk_read_int(r, &q->now_s))
			return bad(err, verb, "now_s is not an integer");
		if (msgpk_peek(r) == MSGPK_NIL) {
			msgpk_read_nil(r);
			q->after = NULL;
			q->after_len = 0;
		} else if (msgpk_read_bin(r, &q->after, &q->after_len) || q->after_len < 11) {
			return bad(err, verb, "after is neither nil nor a key");
		}
		if (msgpk_read_uint_max(r, REPAIR_MAX_CHUNK, &u) || u == 0)
			return bad(err, verb, "max_bytes is not in 1..REPAIR_MAX_CHUNK");
		q->max_bytes = (uint32_t)u;
		return 0;
	case VERB_REPAIR_SYNC:
		if (msgpk_read_bin(r, &q->chunk, &q->chunk_len))
			return bad(err, verb, "chunk is not binary");
		if (q->chunk_len > REPAIR_MAX_CHUNK + REPAIR_PAIR_SLACK)
			return bad(err, verb, "chunk over the bound");
		return 0;
	default: return bad(err, verb, "not a repair request");
	}
}

int repair_req_decode(unsigned verb, const uint8_t *p, size_t len, struct repair_req *q,
                      struct cerr *err)
{
	memset(q, 0, sizeof(*q));
	q->verb = verb;
	struct bufreader r;
	bufreader_init(&r, p, len);
	uint64_t v;
	const uint8_t *id;
	uint32_t idlen;
	unsigned n = req_fields(verb);
	if (!n || msgpk_expect_array(&r, n))
		return bad(err, verb, "not an array of the request's length");
	if (msgpk_read_uint(&r, &v) || v != REPAIR_WIRE_VERSION)
		return bad(err, verb, "unknown version");
	if (msgpk_read_uint(&r, &q->session))
		return bad(err, verb, "session is not an unsigned integer");
	if (msgpk_read_bin(&r, &id, &idlen) || idlen != 16)
		return bad(err, verb, "table id is not 16 bytes");
	memcpy(q->table_id, id, 16);
	if (msgpk_read_int(&r, &q->start) || msgpk_read_int(&r, &q->end))
		return bad(err, verb, "range bounds are not integers");
	int rc = req_tail(verb, &r, q, err);
	if (rc)
		return rc;
	if (bufreader_left(&r))
		return bad(err, verb, "trailing bytes");
	return 0;
}

int repair_tree_rsp_decode(const uint8_t *p, size_t len, unsigned depth, int64_t start, int64_t end,
                           struct merkle **tree, uint64_t *partitions, struct cerr *err)
{
	struct bufreader r;
	bufreader_init(&r, p, len);
	const uint8_t *tp;
	uint32_t tl;
	uint64_t bytes;
	if (msgpk_expect_array(&r, 3) || msgpk_read_bin(&r, &tp, &tl) ||
	    msgpk_read_uint(&r, partitions) || msgpk_read_uint(&r, &bytes) || bufreader_left(&r))
		return cerr_set(err, COL_ECORRUPT,
		                "REPAIR_TREE_RSP: not [tree, partitions, bytes]");
	if (tl != merkle_encoded_len(depth))
		return cerr_set(err, COL_ECORRUPT,
		                "REPAIR_TREE_RSP: a tree of %u bytes where depth %u takes %zu", tl,
		                depth, merkle_encoded_len(depth));
	struct merkle *t;
	int rc = merkle_decode(tp, tl, depth, &t, err);
	if (rc) {
		cerr_prefix(err, "REPAIR_TREE_RSP: ");
		return rc;
	}
	if (t->depth != depth || t->start != start || t->end != end) {
		merkle_free(t);
		return cerr_set(err, COL_ECORRUPT,
		                "REPAIR_TREE_RSP: a tree of another range or depth than asked for");
	}
	*tree = t;
	return 0;
}

int repair_stream_rsp_decode(const uint8_t *p, size_t len, uint32_t max_bytes,
                             const uint8_t **chunk, uint32_t *chunk_len, const uint8_t **last,
                             uint32_t *last_len, bool *more, struct cerr *err)
{
	struct bufreader r;
	bufreader_init(&r, p, len);
	if (msgpk_expect_array(&r, 3) || msgpk_read_bin(&r, chunk, chunk_len) ||
	    msgpk_read_bin(&r, last, last_len) || msgpk_read_bool(&r, more) || bufreader_left(&r))
		return cerr_set(err, COL_ECORRUPT,
		                "REPAIR_STREAM_RSP: not [chunk, last key, more]");
	/* one pair may pass max_bytes (a chunk holds at least one): bounded by a value's size */
	if (*chunk_len > (uint64_t)max_bytes + REPAIR_PAIR_SLACK)
		return cerr_set(err, COL_ECORRUPT,
		                "REPAIR_STREAM_RSP: a chunk of %u bytes where %u were asked for",
		                *chunk_len, max_bytes);
	if (*more && (*last_len < 11 || *chunk_len == 0))
		return cerr_set(err, COL_ECORRUPT,
		                "REPAIR_STREAM_RSP: more data but no resume key");
	return 0;
}

int repair_sync_rsp_decode(const uint8_t *p, size_t len, uint64_t *pairs, struct cerr *err)
{
	struct bufreader r;
	bufreader_init(&r, p, len);
	if (msgpk_expect_array(&r, 1) || msgpk_read_uint(&r, pairs) || bufreader_left(&r))
		return cerr_set(err, COL_ECORRUPT, "REPAIR_SYNC_RSP: not [pairs]");
	return 0;
}

void repair_done_put(struct buf *b, const uint8_t table_id[16], int64_t start, int64_t end,
                     int64_t began_s)
{
	msgpk_put_array(b, 5);
	msgpk_put_uint(b, REPAIR_WIRE_VERSION);
	msgpk_put_bin(b, table_id, 16);
	msgpk_put_int(b, start);
	msgpk_put_int(b, end);
	msgpk_put_int(b, began_s);
}

int repair_done_decode(const uint8_t *p, size_t len, uint8_t table_id[16], int64_t *start,
                       int64_t *end, int64_t *began_s, struct cerr *err)
{
	struct bufreader r;
	bufreader_init(&r, p, len);
	uint64_t v;
	const uint8_t *id;
	uint32_t idlen;
	if (msgpk_expect_array(&r, 5) || msgpk_read_uint(&r, &v) || v != REPAIR_WIRE_VERSION ||
	    msgpk_read_bin(&r, &id, &idlen) || idlen != 16 || msgpk_read_int(&r, start) ||
	    msgpk_read_int(&r, end) || msgpk_read_int(&r, began_s) || bufreader_left(&r))
		return cerr_set(err, COL_ECORRUPT,
		                "REPAIR_DONE: not [1, table id, start, end, began_s]");
	memcpy(table_id, id, 16);
	return 0;
}
