/* Golden bytes for the native protocol v4 codec (spec §1–3, §4.1.4). */
#include "core/cqlproto.h"
#include "core/err.h"

#include <criterion/criterion.h>
#include <string.h>

Test(cqlproto, frame_header_golden)
{
	struct buf b;
	buf_init(&b);
	size_t at = cql_frame_begin(&b, 0x84, 0, 7, CQL_OP_READY);
	cql_frame_end(&b, at);
	const uint8_t want[] = {0x84, 0x00, 0x00, 0x07, 0x02, 0, 0, 0, 0};
	cr_assert_eq(b.len, sizeof(want));
	cr_expect(memcmp(b.data, want, sizeof(want)) == 0);

	buf_reset(&b);
	at = cql_frame_begin(&b, 0x84, 0, -1, CQL_OP_EVENT);
	cql_put_string(&b, "UP");
	cql_frame_end(&b, at);
	const uint8_t want2[] = {0x84, 0, 0xff, 0xff, 0x0c, 0, 0, 0, 4, 0, 2, 'U', 'P'};
	cr_assert_eq(b.len, sizeof(want2));
	cr_expect(memcmp(b.data, want2, sizeof(want2)) == 0);
	struct cql_header h;
	cr_assert_eq(cql_header_decode(b.data, b.len, &h), COL_OK);
	cr_expect_eq(h.stream, -1);
	cr_expect_eq(h.length, 4);
	cr_expect_eq(cql_frame_need(b.data, 3), 9);
	cr_expect_eq(cql_frame_need(b.data, b.len), 13);
	buf_release(&b);
}

Test(cqlproto, query_params_round_trip)
{
	/* Python driver's usual QUERY params: ONE, flags 0x25, one value,
	 * page size 5000, a client timestamp. */
	const uint8_t wire[] = {0x00, 0x01, 0x25, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 42,
				0x00, 0x00, 0x13, 0x88, 0x00, 0x05, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x01};
	struct bufreader r;
	bufreader_init(&r, wire, sizeof(wire));
	struct cql_query_params p;
	struct cerr e = {0};
	cr_assert_eq(cql_query_params_decode(&r, &p, &e), COL_OK, "%s", e.msg);
	cr_expect_eq(p.consistency, CL_ONE);
	cr_expect_eq(p.n_values, 1);
	cr_expect_eq(p.values[0].len, 4);
	cr_expect_eq(p.page_size, 5000);
	cr_expect_eq(p.timestamp, 0x0005f00000000001LL);
	struct buf b;
	buf_init(&b);
	cql_query_params_encode(&b, &p);
	cr_assert_eq(b.len, sizeof(wire));
	cr_expect(memcmp(b.data, wire, sizeof(wire)) == 0);
	cql_query_params_release(&p);
	buf_release(&b);
}

Test(cqlproto, malformed_params_are_protocol_errors)
{
	/* 3 values announced, one given */
	const uint8_t wire[] = {0x00, 0x04, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x7f};
	struct bufreader r;
	bufreader_init(&r, wire, sizeof(wire));
	struct cql_query_params p;
	struct cerr e = {0};
	cr_expect_eq(cql_query_params_decode(&r, &p, &e), COL_EPROTO);
	cr_expect(strstr(e.msg, "truncated") != NULL);
	/* a bad consistency level */
	const uint8_t wire2[] = {0x00, 0x42, 0x00};
	bufreader_init(&r, wire2, sizeof(wire2));
	cr_expect_eq(cql_query_params_decode(&r, &p, &e), COL_EPROTO);
	cr_expect(strstr(e.msg, "consistency") != NULL);
	/* a value with a negative length other than null/unset */
	const uint8_t wire3[] = {0x00, 0x01, 0x01, 0x00, 0x01, 0xff, 0xff, 0xff, 0xf0};
	bufreader_init(&r, wire3, sizeof(wire3));
	cr_expect_eq(cql_query_params_decode(&r, &p, &e), COL_EPROTO);
}

Test(cqlproto, consistency_names)
{
	uint16_t cl;
	cr_expect_eq(cql_consistency_parse("local_quorum", &cl), COL_OK);
	cr_expect_eq(cl, CL_LOCAL_QUORUM);
	cr_expect_str_eq(cql_consistency_name(CL_EACH_QUORUM), "EACH_QUORUM");
	cr_expect_null(cql_consistency_name(0x42));
	cr_expect_eq(cql_consistency_parse("MOST", &cl), COL_EINVAL);
	cr_expect_str_eq(cql_error_name(CQL_ERR_INVALID), "InvalidRequest");
}

Test(cqlproto, opcode_names)
{
	cr_expect_str_eq(cql_opcode_name(CQL_OP_ERROR), "ERROR");
	cr_expect_str_eq(cql_opcode_name(CQL_OP_QUERY), "QUERY");
	cr_expect_str_eq(cql_opcode_name(CQL_OP_AUTH_SUCCESS), "AUTH_SUCCESS");
	cr_expect_null(cql_opcode_name(0x04)); /* a gap in the spec's numbering */
	cr_expect_null(cql_opcode_name(0x11));
	cr_expect_null(cql_opcode_name(0xff));
}
