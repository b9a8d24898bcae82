/*
 * Repair's wire (coordinator/repair/repair.h): the verb numbers are pinned,
 * a request's golden bytes, every request round-trips, and malformed or
 * oversized trees and chunks from a peer are refused with the reason.
 */
#include "coordinator/repair/repair.h"
#include "core/msgpk.h"

#include <criterion/criterion.h>
#include <string.h>

Test(repair_wire, verb_numbers_are_pinned)
{
	cr_expect_eq(VERB_REPAIR_TREE, 20);
	cr_expect_eq(VERB_REPAIR_TREE_RSP, 21);
	cr_expect_eq(VERB_REPAIR_STREAM, 22);
	cr_expect_eq(VERB_REPAIR_STREAM_RSP, 23);
	cr_expect_eq(VERB_REPAIR_SYNC, 24);
	cr_expect_eq(VERB_REPAIR_SYNC_RSP, 25);
}

Test(repair_wire, tree_request_golden_bytes)
{
	struct repair_req q = {.verb = VERB_REPAIR_TREE,
	                       .session = 7,
	                       .start = -1,
	                       .end = 5,
	                       .now_s = 100,
	                       .depth = 3};
	memset(q.table_id, 0xAB, 16);
	struct buf b;
	buf_init(&b);
	repair_req_put(&b, &q);
	static const uint8_t want[] = {0x97, 0x01, 0x07, 0xc4, 0x10, 0xab, 0xab, 0xab, 0xab,
	                               0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
	                               0xab, 0xab, 0xab, 0xff, 0x05, 0x64, 0x03};
	cr_assert_eq(b.len, sizeof(want), "%zu bytes", b.len);
	cr_assert(memcmp(b.data, want, sizeof(want)) == 0);
	struct repair_req d;
	struct cerr e = {0};
	cr_assert_eq(repair_req_decode(VERB_REPAIR_TREE, b.data, b.len, &d, &e), 0, "%s", e.msg);
	cr_expect_eq(d.session, 7);
	cr_expect_eq(d.start, -1);
	cr_expect_eq(d.depth, 3);
	/* every truncation and a trailing byte are refused */
	for (size_t n = 0; n < b.len; n++)
		cr_expect_eq(repair_req_decode(VERB_REPAIR_TREE, b.data, n, &d, &e), COL_ECORRUPT);
	buf_put_u8(&b, 0);
	cr_expect_eq(repair_req_decode(VERB_REPAIR_TREE, b.data, b.len, &d, &e), COL_ECORRUPT);
	/* a depth over the bound */
	b.len--;
	b.data[b.len - 1] = REPAIR_MAX_DEPTH + 1;
	cr_expect_eq(repair_req_decode(VERB_REPAIR_TREE, b.data, b.len, &d, &e), COL_ECORRUPT);
	cr_expect(strstr(e.msg, "depth"), "%s", e.msg);
	buf_release(&b);
}

Test(repair_wire, stream_and_sync_requests_round_trip)
{
	uint8_t after[20], chunk[33];
	memset(after, 1, sizeof(after));
	memset(chunk, 2, sizeof(chunk));
	struct repair_req q = {.verb = VERB_REPAIR_STREAM,
	                       .session = 1,
	                       .start = INT64_MIN,
	                       .end = INT64_MAX,
	                       .now_s = 9,
	                       .after = after,
	                       .after_len = 20,
	                       .max_bytes = 1 << 20};
	struct buf b;
	buf_init(&b);
	repair_req_put(&b, &q);
	struct repair_req d;
	struct cerr e = {0};
	cr_assert_eq(repair_req_decode(VERB_REPAIR_STREAM, b.data, b.len, &d, &e), 0, "%s", e.msg);
	cr_expect_eq(d.after_len, 20);
	cr_expect(memcmp(d.after, after, 20) == 0);
	cr_expect_eq(d.max_bytes, 1u << 20);
	cr_expect_eq(d.start, INT64_MIN);
	/* the wrong verb's decoder refuses it */
	cr_expect_eq(repair_req_decode(VERB_REPAIR_SYNC, b.data, b.len, &d, &e), COL_ECORRUPT);
	b.len = 0;
	q = (struct repair_req){.verb = VERB_REPAIR_SYNC,
	                        .start = 1,
	                        .end = 2,
	                        .chunk = chunk,
	                        .chunk_len = sizeof(chunk)};
	repair_req_put(&b, &q);
	cr_assert_eq(repair_req_decode(VERB_REPAIR_SYNC, b.data, b.len, &d, &e), 0, "%s", e.msg);
	cr_expect_eq(d.chunk_len, sizeof(chunk));
	buf_release(&b);
}

static void tree_rsp(struct buf *b, const struct merkle *t)
{
	struct buf tb;
	buf_init(&tb);
	merkle_encode(t, &tb);
	b->len = 0;
	msgpk_put_array(b, 3);
	msgpk_put_bin(b, tb.data, (uint32_t)tb.len);
	msgpk_put_uint(b, 10);
	msgpk_put_uint(b, 999);
	buf_release(&tb);
}

Test(repair_wire, malformed_or_oversized_trees_are_refused)
{
	struct merkle *t, *got = NULL;
	cr_assert_eq(merkle_new(-50, 50, 4, &t), 0);
	struct buf b;
	buf_init(&b);
	tree_rsp(&b, t);
	uint64_t parts;
	struct cerr e = {0};
	cr_assert_eq(repair_tree_rsp_decode(b.data, b.len, 4, -50, 50, &got, &parts, &e), 0, "%s",
	             e.msg);
	cr_expect_eq(parts, 10);
	merkle_free(got);
	/* deeper than asked for (a peer sending more than the session can hold) */
	cr_expect_eq(repair_tree_rsp_decode(b.data, b.len, 3, -50, 50, &got, &parts, &e),
	             COL_ECORRUPT);
	cr_expect(strstr(e.msg, "depth 3 takes"), "%s", e.msg);
	/* another range */
	cr_expect_eq(repair_tree_rsp_decode(b.data, b.len, 4, -50, 51, &got, &parts, &e),
	             COL_ECORRUPT);
	cr_expect(strstr(e.msg, "another range"), "%s", e.msg);
	/* torn */
	for (size_t n = 0; n < b.len; n += 5)
		cr_expect_eq(repair_tree_rsp_decode(b.data, n, 4, -50, 50, &got, &parts, &e),
		             COL_ECORRUPT);
	merkle_free(t);
	buf_release(&b);
}

Test(repair_wire, oversized_chunks_are_refused)
{
	static uint8_t big[2 << 20];
	struct buf b;
	buf_init(&b);
	msgpk_put_array(&b, 3);
	msgpk_put_bin(&b, big, sizeof(big));
	msgpk_put_bin(&b, big, 20);
	msgpk_put_bool(&b, true);
	const uint8_t *chunk, *last;
	uint32_t cl, ll;
	bool more;
	struct cerr e = {0};
	cr_expect_eq(repair_stream_rsp_decode(b.data, b.len, 1 << 20, &chunk, &cl, &last, &ll,
	                                      &more, &e),
	             0, "one pair may pass what was asked for: %s", e.msg);
	cr_expect_eq(
	        repair_stream_rsp_decode(b.data, b.len, 1024, &chunk, &cl, &last, &ll, &more, &e),
	        0);
	b.len = 0;
	static uint8_t huge[(18 << 20) + 1];
	msgpk_put_array(&b, 3);
	msgpk_put_bin(&b, huge, sizeof(huge));
	msgpk_put_bin(&b, huge, 20);
	msgpk_put_bool(&b, true);
	cr_expect_eq(
	        repair_stream_rsp_decode(b.data, b.len, 1024, &chunk, &cl, &last, &ll, &more, &e),
	        COL_ECORRUPT);
	cr_expect(strstr(e.msg, "where 1024 were asked for"), "%s", e.msg);
	/* more data without a resume key */
	b.len = 0;
	msgpk_put_array(&b, 3);
	msgpk_put_bin(&b, big, 10);
	msgpk_put_bin(&b, big, 0);
	msgpk_put_bool(&b, true);
	cr_expect_eq(
	        repair_stream_rsp_decode(b.data, b.len, 1024, &chunk, &cl, &last, &ll, &more, &e),
	        COL_ECORRUPT);
	buf_release(&b);
}
