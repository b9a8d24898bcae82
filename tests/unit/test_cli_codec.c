/*
 * test_cli_codec.c — golden bytes of the client's requests and decoding of
 * every RESULT kind and ERROR extra fields (cli/lib/cqlclient.h).
 */
#include "cli/lib/cqlclient.h"

#include <criterion/criterion.h>
#include <string.h>

static void expect_bytes(const struct buf *b, const uint8_t *want, size_t n)
{
	cr_assert_eq(b->len, n, "length %zu, want %zu", b->len, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(b->data[i], want[i], "byte %zu: 0x%02x, want 0x%02x", i, b->data[i],
		             want[i]);
}

Test(codec, options_frame)
{
	struct buf b;
	buf_init(&b);
	cqlreq_options(&b, 0);
	const uint8_t want[] = {0x04, 0, 0, 0, 0x05, 0, 0, 0, 0};
	expect_bytes(&b, want, sizeof(want));
	buf_release(&b);
}

Test(codec, query_frame_with_all_parameters)
{
	struct buf b;
	buf_init(&b);
	struct cql_qparams p;
	cql_qparams_init(&p);
	p.consistency = CL_QUORUM;
	p.serial_consistency = CL_LOCAL_SERIAL;
	p.page_size = 100;
	const uint8_t ps[] = {0xAB, 0xCD};
	p.paging_state = ps;
	p.paging_state_len = 2;
	p.timestamp = 0x0102030405060708LL;
	struct cql_slice vals[2] = {{(const uint8_t *)"\x00\x00\x00\x07", 4},
	                            {NULL, CQL_VALUE_NULL}};
	p.values = vals;
	p.n_values = 2;
	cqlreq_query(&b, 3, "SELECT", 6, &p);
	const uint8_t want[] = {
	        0x04, 0x00, 0x00, 0x03, 0x07, 0x00, 0x00, 0x00, 0x2F,      /* header, body 47 */
	        0x00, 0x00, 0x00, 0x06, 'S',  'E',  'L',  'E',  'C',  'T', /* [long string] */
	        0x00, 0x04,                                                /* QUORUM */
	        0x3D,       /* values|page size|paging state|serial|timestamp */
	        0x00, 0x02, /* 2 values */
	        0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x07, 0xFF, 0xFF,
	        0xFF, 0xFF,                                     /* 7, null */
	        0x00, 0x00, 0x00, 0x64,                         /* page size 100 */
	        0x00, 0x00, 0x00, 0x02, 0xAB, 0xCD,             /* paging state */
	        0x00, 0x09,                                     /* LOCAL_SERIAL */
	        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* timestamp */
	};
	expect_bytes(&b, want, sizeof(want));
	buf_release(&b);
}

Test(codec, tracing_sets_the_frame_flag)
{
	struct buf b;
	buf_init(&b);
	struct cql_qparams p;
	cql_qparams_init(&p);
	p.tracing = true;
	cqlreq_query(&b, 1, "SELECT", 6, &p);
	cr_assert_eq(b.data[1], CQL_FLAG_TRACING, "QUERY asks for tracing in its header");
	buf_reset(&b);
	const uint8_t id[] = {1, 2};
	cqlreq_execute(&b, 1, id, 2, &p);
	cr_assert_eq(b.data[1], CQL_FLAG_TRACING);
	buf_reset(&b);
	struct cql_batch_item it = {.cql = "INSERT", .cql_len = 6};
	cqlreq_batch(&b, 1, 1, &it, 1, &p);
	cr_assert_eq(b.data[1], CQL_FLAG_TRACING);
	buf_reset(&b);
	p.tracing = false;
	cqlreq_query(&b, 1, "SELECT", 6, &p);
	cr_assert_eq(b.data[1], 0);
	buf_release(&b);
}

Test(codec, execute_and_batch_frames)
{
	struct buf b;
	buf_init(&b);
	struct cql_qparams p;
	cql_qparams_init(&p);
	const uint8_t id[] = {0xDE, 0xAD};
	cqlreq_execute(&b, 1, id, 2, &p);
	const uint8_t want_exec[] = {0x04, 0, 0, 1, 0x0A, 0, 0, 0, 7, 0, 2, 0xDE, 0xAD, 0, 1, 0};
	expect_bytes(&b, want_exec, sizeof(want_exec));

	buf_reset(&b);
	struct cqlprepared ps = {
	        .cql = (char *)"INSERT", .cql_len = 6, .id = (uint8_t *)id, .id_len = 2};
	struct cql_slice v = {(const uint8_t *)"x", 1};
	struct cql_batch_item items[2] = {{.cql = "Q", .cql_len = 1},
	                                  {.ps = &ps, .values = &v, .n_values = 1}};
	p.timestamp = 5;
	cqlreq_batch(&b, 2, CQL_BATCH_UNLOGGED, items, 2, &p);
	const uint8_t want_batch[] = {
	        0x04, 0, 0,    2,    0x0D, 0,   0, 0, 34,            /* header */
	        1,    0, 2,                                          /* unlogged, 2 statements */
	        0,    0, 0,    0,    1,    'Q', 0, 0,                /* query "Q", no values */
	        1,    0, 2,    0xDE, 0xAD, 0,   1, 0, 0,  0, 1, 'x', /* prepared, one value */
	        0,    1, 0x20, 0,    0,    0,   0, 0, 0,  0, 5,      /* ONE, timestamp flag, ts */
	};
	expect_bytes(&b, want_batch, sizeof(want_batch));
	buf_release(&b);
}

Test(codec, startup_carries_cql_version)
{
	struct buf b;
	buf_init(&b);
	cqlreq_startup(&b, 0, "3.4.4");
	struct bufreader r;
	bufreader_init(&r, b.data + 9, b.len - 9);
	struct cql_slice v;
	cql_get_string_map_find(&r, "CQL_VERSION", &v);
	cr_assert_eq(v.len, 5);
	cr_assert(memcmp(v.p, "3.4.4", 5) == 0);
	cr_assert_eq(b.data[4], CQL_OP_STARTUP);
	bufreader_init(&r, b.data + 9, b.len - 9);
	cql_get_string_map_find(&r, "THROW_ON_OVERLOAD", &v);
	cr_assert_eq(v.len, -1, "not asked for unless wanted");
	buf_reset(&b);
	cqlreq_startup_opts(&b, 0, "3.4.4", true);
	bufreader_init(&r, b.data + 9, b.len - 9);
	cql_get_string_map_find(&r, "THROW_ON_OVERLOAD", &v);
	cr_assert(v.len == 1 && v.p[0] == '1');
	bufreader_init(&r, b.data + 9, b.len - 9);
	cql_get_string_map_find(&r, "CQL_VERSION", &v);
	cr_assert_eq(v.len, 5);
	buf_release(&b);
}

/* ---- decoding ---- */

static struct cqlresult *decode(uint8_t op, uint8_t flags, const struct buf *body)
{
	struct cqlresult *r = NULL;
	struct cerr err = {0};
	int rc = cqlresult_decode(op, flags, body->data, body->len, &r, &err);
	cr_assert_eq(rc, 0, "decode failed: %s", err.msg);
	return r;
}

static int decode_fails(uint8_t op, const struct buf *body, char *msg)
{
	struct cqlresult *r = NULL;
	struct cerr err = {0};
	int rc = cqlresult_decode(op, 0, body->data, body->len, &r, &err);
	cr_assert_null(r);
	if (msg)
		strcpy(msg, err.msg);
	return rc;
}

/* Rows: ks.t (id int, tags set<text>, m map<text,int>) with global spec, 2 rows, more pages. */
static void build_rows(struct buf *b)
{
	cql_put_int(b, CQL_RESULT_ROWS);
	cql_put_int(b, CQL_ROWS_GLOBAL_TABLES_SPEC | CQL_ROWS_HAS_MORE_PAGES);
	cql_put_int(b, 3);
	cql_put_bytes(b, "\x01\x02\x03", 3); /* paging state */
	cql_put_string(b, "ks");
	cql_put_string(b, "t");
	cql_put_string(b, "id");
	cql_put_short(b, CQLTYPE_INT);
	cql_put_string(b, "tags");
	cql_put_short(b, CQLTYPE_SET);
	cql_put_short(b, CQLTYPE_VARCHAR);
	cql_put_string(b, "m");
	cql_put_short(b, CQLTYPE_MAP);
	cql_put_short(b, CQLTYPE_VARCHAR);
	cql_put_short(b, CQLTYPE_INT);
	cql_put_int(b, 2);
	/* row 1 */
	cql_put_bytes(b, "\x00\x00\x00\x01", 4);
	cql_put_bytes(b,
	              "\x00\x00\x00\x01\x00\x00\x00\x01"
	              "a",
	              9);
	cql_put_bytes(b, NULL, -1);
	/* row 2 */
	cql_put_bytes(b, "\x00\x00\x00\x02", 4);
	cql_put_bytes(b, NULL, -1);
	cql_put_bytes(b, "", 0);
}

Test(decode, rows_with_metadata_and_collections)
{
	struct buf b;
	buf_init(&b);
	build_rows(&b);
	struct cqlresult *r = decode(CQL_OP_RESULT, 0, &b);
	cr_assert_eq(r->kind, CQLRES_ROWS);
	cr_assert_eq(r->meta.n_cols, 3);
	cr_assert_eq(r->n_rows, 2);
	cr_assert_str_eq(r->meta.cols[1].keyspace, "ks");
	cr_assert_str_eq(r->meta.cols[2].table, "t");
	cr_assert_str_eq(r->meta.cols[1].name, "tags");
	cr_assert_eq(r->meta.cols[1].type->kind, CQLTYPE_SET);
	cr_assert_eq(r->meta.cols[1].type->elem->kind, CQLTYPE_VARCHAR);
	cr_assert_eq(r->meta.cols[2].type->kind, CQLTYPE_MAP);
	cr_assert_eq(r->meta.cols[2].type->value->kind, CQLTYPE_INT);
	cr_assert_eq(r->meta.paging_state_len, 3);
	cr_assert(memcmp(r->meta.paging_state, "\x01\x02\x03", 3) == 0);
	cr_assert_eq(cqlresult_cell(r, 0, 2)->len, -1);
	cr_assert_eq(cqlresult_cell(r, 1, 2)->len, 0);
	cr_assert_eq(cqlresult_cell(r, 1, 0)->p[3], 2);
	cr_assert_eq(cqlresult_column(r, "m"), 2);
	cr_assert_eq(cqlresult_column(r, "nope"), -1);
	cqlresult_free(r);
	buf_release(&b);
}

Test(decode, every_truncation_of_rows_is_an_error)
{
	struct buf b;
	buf_init(&b);
	build_rows(&b);
	for (size_t n = 0; n < b.len; n++) {
		struct buf t;
		buf_init(&t);
		buf_put(&t, b.data, n);
		char msg[CERR_MSG_MAX];
		int rc = decode_fails(CQL_OP_RESULT, &t, msg);
		cr_assert_eq(rc, COL_EPROTO, "prefix of %zu bytes: rc %d", n, rc);
		cr_assert(strlen(msg) > 0);
		buf_release(&t);
	}
	buf_release(&b);
}

Test(decode, huge_counts_are_refused_without_allocating)
{
	struct buf b;
	buf_init(&b);
	cql_put_int(&b, CQL_RESULT_ROWS);
	cql_put_int(&b, CQL_ROWS_NO_METADATA);
	cql_put_int(&b, 1000);
	cql_put_int(&b, 0x7fffffff); /* rows */
	char msg[CERR_MSG_MAX];
	cr_assert_eq(decode_fails(CQL_OP_RESULT, &b, msg), COL_EPROTO);
	cr_assert(strstr(msg, "do not fit"), "%s", msg);

	buf_reset(&b);
	cql_put_int(&b, CQL_RESULT_ROWS);
	cql_put_int(&b, 0);
	cql_put_int(&b, 100000000); /* columns */
	cr_assert_eq(decode_fails(CQL_OP_RESULT, &b, msg), COL_EPROTO);
	buf_release(&b);
}

Test(decode, void_set_keyspace_schema_change)
{
	struct buf b;
	buf_init(&b);
	cql_put_int(&b, CQL_RESULT_VOID);
	struct cqlresult *r = decode(CQL_OP_RESULT, 0, &b);
	cr_assert_eq(r->kind, CQLRES_VOID);
	cqlresult_free(r);

	buf_reset(&b);
	cql_put_int(&b, CQL_RESULT_SET_KEYSPACE);
	cql_put_string(&b, "shop");
	r = decode(CQL_OP_RESULT, 0, &b);
	cr_assert_eq(r->kind, CQLRES_SET_KEYSPACE);
	cr_assert_str_eq(r->keyspace, "shop");
	cqlresult_free(r);

	buf_reset(&b);
	cql_put_int(&b, CQL_RESULT_SCHEMA_CHANGE);
	cql_put_string(&b, "CREATED");
	cql_put_string(&b, "TABLE");
	cql_put_string(&b, "shop");
	cql_put_string(&b, "orders");
	r = decode(CQL_OP_RESULT, 0, &b);
	cr_assert_eq(r->kind, CQLRES_SCHEMA_CHANGE);
	cr_assert_str_eq(r->change_type, "CREATED");
	cr_assert_str_eq(r->sc_name, "orders");
	cqlresult_free(r);

	buf_reset(&b);
	cql_put_int(&b, CQL_RESULT_SCHEMA_CHANGE);
	cql_put_string(&b, "DROPPED");
	cql_put_string(&b, "KEYSPACE");
	cql_put_string(&b, "shop");
	r = decode(CQL_OP_RESULT, 0, &b);
	cr_assert_null(r->sc_name);
	cr_assert_str_eq(r->sc_keyspace, "shop");
	cqlresult_free(r);

	buf_reset(&b);
	cql_put_int(&b, 42);
	char msg[CERR_MSG_MAX];
	cr_assert_eq(decode_fails(CQL_OP_RESULT, &b, msg), COL_EPROTO);
	cr_assert(strstr(msg, "unknown kind 42"), "%s", msg);
	buf_release(&b);
}

Test(decode, prepared_with_pk_indexes)
{
	struct buf b;
	buf_init(&b);
	cql_put_int(&b, CQL_RESULT_PREPARED);
	cql_put_short_bytes(&b, "\x11\x22\x33", 3);
	cql_put_int(&b, CQL_ROWS_GLOBAL_TABLES_SPEC);
	cql_put_int(&b, 2);
	cql_put_int(&b, 1);
	cql_put_short(&b, 0);
	cql_put_string(&b, "ks");
	cql_put_string(&b, "t");
	cql_put_string(&b, "id");
	cql_put_short(&b, CQLTYPE_BIGINT);
	cql_put_string(&b, "v");
	cql_put_short(&b, CQLTYPE_BLOB);
	cql_put_int(&b, CQL_ROWS_NO_METADATA); /* result metadata */
	cql_put_int(&b, 0);
	struct cqlresult *r = decode(CQL_OP_RESULT, 0, &b);
	cr_assert_eq(r->kind, CQLRES_PREPARED);
	cr_assert_eq(r->prepared_id_len, 3);
	cr_assert_eq(r->bind_meta.n_cols, 2);
	cr_assert_eq(r->n_pk_indexes, 1);
	cr_assert_eq(r->pk_indexes[0], 0);
	cr_assert_str_eq(r->bind_meta.cols[1].name, "v");
	cr_assert_eq(r->bind_meta.cols[0].type->kind, CQLTYPE_BIGINT);
	struct cqlprepared *ps = NULL;
	cr_assert_eq(cqlprepared_new("INSERT", 6, r, &ps, NULL), 0);
	cr_assert_eq(ps->id_len, 3);
	cr_assert_str_eq(ps->cql, "INSERT");
	cqlprepared_free(ps);
	buf_release(&b);
}

Test(decode, errors_with_extra_fields)
{
	struct buf b;
	buf_init(&b);
	cql_put_int(&b, CQL_ERR_UNAVAILABLE);
	cql_put_string(&b, "Cannot achieve consistency level QUORUM");
	cql_put_short(&b, CL_QUORUM);
	cql_put_int(&b, 2);
	cql_put_int(&b, 1);
	struct cqlresult *r = decode(CQL_OP_ERROR, 0, &b);
	cr_assert_eq(r->kind, CQLRES_ERROR);
	cr_assert_eq(r->error.code, CQL_ERR_UNAVAILABLE);
	cr_assert_eq(r->error.consistency, CL_QUORUM);
	cr_assert_eq(r->error.required, 2);
	cr_assert_eq(r->error.alive, 1);
	cqlresult_free(r);

	buf_reset(&b);
	cql_put_int(&b, CQL_ERR_WRITE_TIMEOUT);
	cql_put_string(&b, "timed out");
	cql_put_short(&b, CL_ALL);
	cql_put_int(&b, 1);
	cql_put_int(&b, 3);
	cql_put_string(&b, "BATCH");
	r = decode(CQL_OP_ERROR, 0, &b);
	cr_assert_eq(r->error.received, 1);
	cr_assert_eq(r->error.required, 3);
	cr_assert_str_eq(r->error.write_type, "BATCH");
	cqlresult_free(r);

	buf_reset(&b);
	cql_put_int(&b, CQL_ERR_READ_FAILURE);
	cql_put_string(&b, "failed");
	cql_put_short(&b, CL_ONE);
	cql_put_int(&b, 0);
	cql_put_int(&b, 1);
	cql_put_int(&b, 1);
	cql_put_byte(&b, 1);
	r = decode(CQL_OP_ERROR, 0, &b);
	cr_assert_eq(r->error.failures, 1);
	cr_assert(r->error.data_present);
	cqlresult_free(r);

	buf_reset(&b);
	cql_put_int(&b, CQL_ERR_ALREADY_EXISTS);
	cql_put_string(&b, "exists");
	cql_put_string(&b, "ks");
	cql_put_string(&b, "t");
	r = decode(CQL_OP_ERROR, 0, &b);
	cr_assert_str_eq(r->error.keyspace, "ks");
	cr_assert_str_eq(r->error.table, "t");
	cqlresult_free(r);

	buf_reset(&b);
	cql_put_int(&b, CQL_ERR_UNPREPARED);
	cql_put_string(&b, "unknown id");
	cql_put_short_bytes(&b, "\xAA\xBB", 2);
	r = decode(CQL_OP_ERROR, 0, &b);
	cr_assert_eq(r->error.unprepared_id_len, 2);
	cr_assert_eq(r->error.unprepared_id[1], 0xBB);
	cqlresult_free(r);

	buf_reset(&b);
	cql_put_int(&b, CQL_ERR_FUNCTION_FAILURE);
	cql_put_string(&b, "boom");
	cql_put_string(&b, "ks");
	cql_put_string(&b, "f");
	const char *args[] = {"int", "text"};
	cql_put_string_list(&b, args, 2);
	r = decode(CQL_OP_ERROR, 0, &b);
	cr_assert_eq(r->error.n_arg_types, 2);
	cr_assert_str_eq(r->error.arg_types[1], "text");
	cqlresult_free(r);

	/* A truncated Read_timeout is a protocol error, not a half-filled result. */
	buf_reset(&b);
	cql_put_int(&b, CQL_ERR_READ_TIMEOUT);
	cql_put_string(&b, "x");
	cql_put_short(&b, CL_ONE);
	cr_assert_eq(decode_fails(CQL_OP_ERROR, &b, NULL), COL_EPROTO);
	buf_release(&b);
}

Test(decode, warnings_tracing_and_compression)
{
	struct buf b;
	buf_init(&b);
	for (int i = 0; i < 16; i++)
		buf_put_u8(&b, (uint8_t)i); /* tracing id */
	const char *w[] = {"Aggregation query used without partition key"};
	cql_put_string_list(&b, w, 1);
	cql_put_int(&b, CQL_RESULT_VOID);
	struct cqlresult *r = decode(CQL_OP_RESULT, CQL_FLAG_TRACING | CQL_FLAG_WARNING, &b);
	cr_assert_eq(r->kind, CQLRES_VOID);
	cr_assert_eq(r->n_warnings, 1);
	cr_assert_str_eq(r->warnings[0], w[0]);
	cr_assert(r->traced, "the tracing session id is kept");
	for (int i = 0; i < 16; i++)
		cr_assert_eq(r->trace_id[i], i);
	cqlresult_free(r);
	struct buf v;
	buf_init(&v);
	cql_put_int(&v, CQL_RESULT_VOID);
	r = decode(CQL_OP_RESULT, 0, &v);
	cr_assert(!r->traced);
	cqlresult_free(r);
	buf_release(&v);

	struct cerr err = {0};
	cr_assert_eq(cqlresult_decode(CQL_OP_RESULT, CQL_FLAG_COMPRESSION, b.data, b.len, &r, &err),
	             COL_EPROTO);
	cr_assert(strstr(err.msg, "compressed"), "%s", err.msg);
	buf_release(&b);
}

Test(decode, supported_and_ready)
{
	struct buf b;
	buf_init(&b);
	cql_put_short(&b, 2);
	cql_put_string(&b, "COMPRESSION");
	cql_put_short(&b, 0);
	cql_put_string(&b, "CQL_VERSION");
	const char *v[] = {"3.4.4", "3.4.5"};
	cql_put_string_list(&b, v, 2);
	struct cqlresult *r = decode(CQL_OP_SUPPORTED, 0, &b);
	cr_assert_eq(r->kind, CQLRES_SUPPORTED);
	cr_assert_str_eq(r->cql_versions, "3.4.4,3.4.5");
	cqlresult_free(r);
	buf_reset(&b);
	r = decode(CQL_OP_READY, 0, &b);
	cr_assert_eq(r->kind, CQLRES_READY);
	cqlresult_free(r);
	buf_release(&b);
}

/*
 * Outside bytes never crash the decoder: every single-byte mutation and random
 * truncation of valid frames of each kind either decodes or fails with
 * COL_EPROTO (run under ASan/UBSan in CI).  Deterministic seed.
 */
Test(decode, mutated_frames_never_crash)
{
	struct buf frames[4];
	for (int i = 0; i < 4; i++)
		buf_init(&frames[i]);
	build_rows(&frames[0]);
	cql_put_int(&frames[1], CQL_RESULT_PREPARED);
	cql_put_short_bytes(&frames[1], "\x11", 1);
	cql_put_int(&frames[1], 0);
	cql_put_int(&frames[1], 1);
	cql_put_int(&frames[1], 1);
	cql_put_short(&frames[1], 0);
	cql_put_string(&frames[1], "ks");
	cql_put_string(&frames[1], "t");
	cql_put_string(&frames[1], "k");
	cql_put_short(&frames[1], CQLTYPE_LIST);
	cql_put_short(&frames[1], CQLTYPE_INT);
	cql_put_int(&frames[1], 0);
	cql_put_int(&frames[1], 0);
	cql_put_int(&frames[2], CQL_ERR_WRITE_FAILURE);
	cql_put_string(&frames[2], "failed");
	cql_put_short(&frames[2], CL_ONE);
	cql_put_int(&frames[2], 0);
	cql_put_int(&frames[2], 1);
	cql_put_int(&frames[2], 1);
	cql_put_string(&frames[2], "SIMPLE");
	cql_put_int(&frames[3], CQL_RESULT_SCHEMA_CHANGE);
	cql_put_string(&frames[3], "CREATED");
	cql_put_string(&frames[3], "TABLE");
	cql_put_string(&frames[3], "ks");
	cql_put_string(&frames[3], "t");
	const uint8_t ops[4] = {CQL_OP_RESULT, CQL_OP_RESULT, CQL_OP_ERROR, CQL_OP_RESULT};
	uint32_t seed = 12345;
	int decoded = 0, refused = 0;
	for (int f = 0; f < 4; f++) {
		struct buf *b = &frames[f];
		for (size_t pos = 0; pos < b->len; pos++) {
			for (int k = 0; k < 8; k++) {
				seed = seed * 1103515245u + 12345u;
				uint8_t saved = b->data[pos];
				b->data[pos] = (uint8_t)(seed >> 16);
				size_t len =
				        b->len -
				        ((seed >> 8) % 3 == 0 ? (seed >> 4) % (b->len + 1) : 0);
				struct cqlresult *r = NULL;
				struct cerr err = {0};
				int rc = cqlresult_decode(ops[f],
				                          (uint8_t)(k == 7 ? CQL_FLAG_WARNING : 0),
				                          b->data, len, &r, &err);
				if (rc == 0) {
					decoded++;
					cqlresult_free(r);
				} else {
					cr_assert(rc == COL_EPROTO || rc == COL_ENOMEM, "rc %d",
					          rc);
					cr_assert(err.msg[0], "an error needs a message");
					refused++;
				}
				b->data[pos] = saved;
			}
		}
	}
	cr_assert(decoded > 0 && refused > 0);
	for (int i = 0; i < 4; i++)
		buf_release(&frames[i]);
}
