/*
 * The CQL server's connection state machine and message layouts, through
 * cqlserver_feed() (no sockets): handshake, version refusal, golden bytes of
 * SUPPORTED/READY/ERROR, PREPARE/EXECUTE layouts, pipelined streams, paging
 * through EXECUTE, BATCH, the prepared cache's LRU, and schema agreement
 * between two catalogues fed the same rows.
 */
#include "coordinator/transport/cqlserver.h"
#include "coordinator/query/executor.h"
#include "coordinator/query/prepared.h"
#include "coordinator/replication/router.h"
#include "coordinator/schema/schema.h"
#include "coordinator/query/systables.h"
#include "core/buf.h"
#include "core/cqlproto.h"
#include "storage/storage.h"
#include "tests/unit/local_node.h"
#include "tests/unit/local_view.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct local_node ln;
static struct cqlserver *srv;
static struct buf in, out;

static const struct cluster_view view = LOCAL_VIEW("Test Cluster");

static void setup_n(size_t prepared_max)
{
	local_node_open(&ln, "cqlsrv", prepared_max);
	struct cerr e = {0};
	struct cqlserver_options co = {.max_frame_size = 4096};
	struct cqlserver_deps d = {.schema = ln.sch,
	                           .store = ln.st,
	                           .router = ln.px,
	                           .view = &view,
	                           .prepared = ln.pc};
	cr_assert_eq(cqlserver_new_detached(&co, &d, &srv, &e), 0, "%s", e.msg);
	buf_init(&in);
	buf_init(&out);
}

static void setup(void)
{
	setup_n(100);
}

static void teardown(void)
{
	cqlserver_free(srv);
	buf_release(&in);
	buf_release(&out);
	local_node_close(&ln);
}

static void startup_frame(struct buf *b)
{
	size_t f = cql_frame_begin(b, 4, 0, 0, CQL_OP_STARTUP);
	const char *k[] = {"CQL_VERSION", "DRIVER_NAME"}, *v[] = {"3.0.0", "test"};
	cql_put_string_map(b, k, v, 2);
	cql_frame_end(b, f);
}

static void query_frame(struct buf *b, int16_t stream, const char *q, uint8_t flags,
                        int32_t page_size, const struct cql_slice *state)
{
	size_t f = cql_frame_begin(b, 4, 0, stream, CQL_OP_QUERY);
	cql_put_long_string(b, q, strlen(q));
	cql_put_short(b, CL_ONE);
	cql_put_byte(b, flags);
	if (flags & CQL_QF_PAGE_SIZE)
		cql_put_int(b, page_size);
	if (flags & CQL_QF_PAGING_STATE)
		cql_put_bytes(b, state->p, state->len);
	cql_frame_end(b, f);
}

static int feed(void)
{
	buf_reset(&out);
	int rc = cqlserver_feed(srv, in.data, in.len, &out);
	buf_reset(&in);
	return rc;
}

/* Next response frame from r. */
static struct cql_header next(struct bufreader *r, struct bufreader *body)
{
	struct cql_header h;
	const uint8_t *p = bufreader_take(r, 9);
	cr_assert(p, "no more frames");
	cql_header_decode(p, 9, &h);
	const uint8_t *b = bufreader_take(r, h.length);
	cr_assert(b);
	bufreader_init(body, b, h.length);
	return h;
}

static void ddl(const char *q)
{
	startup_frame(&in);
	query_frame(&in, 1, q, 0, 0, NULL);
	cr_assert_eq(feed(), 0);
	struct bufreader r, b;
	bufreader_init(&r, out.data, out.len);
	next(&r, &b);
	struct cql_header h = next(&r, &b);
	cr_assert_eq(h.opcode, CQL_OP_RESULT, "%s failed: %.*s", q, (int)b.len - 6, b.p + 6);
}

TestSuite(cqlserver, .init = setup, .fini = teardown);

Test(cqlserver, options_and_startup_golden_bytes)
{
	size_t f = cql_frame_begin(&in, 4, 0, 5, CQL_OP_OPTIONS);
	cql_frame_end(&in, f);
	startup_frame(&in);
	cr_assert_eq(feed(), 0);
	static const uint8_t supported[] = {
	        0x84, 0,  0,   5,   0x06, 0,   0,   0,   39,  0,   2,                   /* */
	        0,    11, 'C', 'Q', 'L',  '_', 'V', 'E', 'R', 'S', 'I', 'O', 'N', 0, 1, /* */
	        0,    5,  '3', '.', '4',  '.', '4',                                     /* */
	        0,    11, 'C', 'O', 'M',  'P', 'R', 'E', 'S', 'S', 'I', 'O', 'N', 0, 0, /* */
	        0x84, 0,  0,   0,   0x02, 0,   0,   0,   0};                            /* READY */
	cr_assert_eq(out.len, sizeof(supported));
	cr_assert(memcmp(out.data, supported, sizeof(supported)) == 0);
}

Test(cqlserver, other_versions_are_refused_and_closed)
{
	size_t f = cql_frame_begin(&in, 5, 0, 0x0102, CQL_OP_OPTIONS);
	cql_frame_end(&in, f);
	cr_assert_eq(feed(), COL_ECLOSED);
	struct bufreader r, b;
	bufreader_init(&r, out.data, out.len);
	struct cql_header h = next(&r, &b);
	cr_assert_eq(h.version, 0x84);
	cr_assert_eq(h.stream, 0x0102);
	cr_assert_eq(h.opcode, CQL_OP_ERROR);
	cr_assert_eq(cql_get_int(&b), CQL_ERR_PROTOCOL);
	struct cql_slice m = cql_get_string(&b);
	cr_assert(memmem(m.p, (size_t)m.len, "Invalid or unsupported protocol version (5)", 43));
	cr_assert_eq(bufreader_left(&r), 0);
}

Test(cqlserver, handshake_rules)
{
	/* QUERY before STARTUP: protocol error, connection kept */
	query_frame(&in, 3, "SELECT * FROM system.local", 0, 0, NULL);
	startup_frame(&in);
	startup_frame(&in);                             /* a second STARTUP is an error */
	size_t f = cql_frame_begin(&in, 4, 0, 4, 0x04); /* no opcode 0x04 */
	cql_frame_end(&in, f);
	f = cql_frame_begin(&in, 4, CQL_FLAG_COMPRESSION, 6, CQL_OP_OPTIONS);
	cql_frame_end(&in, f);
	cr_assert_eq(feed(), COL_ECLOSED);
	struct bufreader r, b;
	bufreader_init(&r, out.data, out.len);
	struct cql_header h = next(&r, &b);
	cr_assert_eq(h.opcode, CQL_OP_ERROR);
	cr_assert_eq(h.stream, 3);
	h = next(&r, &b);
	cr_assert_eq(h.opcode, CQL_OP_READY);
	h = next(&r, &b);
	cr_assert_eq(h.opcode, CQL_OP_ERROR);
	h = next(&r, &b);
	cr_assert_eq(h.opcode, CQL_OP_ERROR);
	cr_assert_eq(h.stream, 4);
	h = next(&r, &b);
	cr_assert_eq(h.opcode, CQL_OP_ERROR);
	cr_assert_eq(h.stream, 6);
}

Test(cqlserver, oversized_and_truncated)
{
	startup_frame(&in);
	uint8_t hdr[9] = {4, 0, 0, 9, CQL_OP_QUERY};
	be32_store(hdr + 5, 5000);
	buf_put(&in, hdr, 9);
	cr_assert_eq(feed(), COL_ECLOSED);
	struct bufreader r, b;
	bufreader_init(&r, out.data, out.len);
	next(&r, &b);
	struct cql_header h = next(&r, &b);
	cr_assert_eq(h.opcode, CQL_OP_ERROR);
	cr_assert_eq(h.stream, 9);
	cr_assert_eq(cql_get_int(&b), CQL_ERR_PROTOCOL);
	/* a body shorter than its content: error on that stream, connection kept */
	startup_frame(&in);
	size_t f = cql_frame_begin(&in, 4, 0, 10, CQL_OP_QUERY);
	cql_put_int(&in, 100);
	buf_put(&in, "SEL", 3);
	cql_frame_end(&in, f);
	size_t f2 = cql_frame_begin(&in, 4, 0, 11, CQL_OP_OPTIONS);
	cql_frame_end(&in, f2);
	cr_assert_eq(feed(), 0);
	bufreader_init(&r, out.data, out.len);
	next(&r, &b);
	h = next(&r, &b);
	cr_assert_eq(h.stream, 10);
	cr_assert_eq(h.opcode, CQL_OP_ERROR);
	h = next(&r, &b);
	cr_assert_eq(h.stream, 11);
	cr_assert_eq(h.opcode, CQL_OP_SUPPORTED);
}

Test(cqlserver, prepare_execute_layout_and_paging)
{
	ddl("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
	    "'replication_factor': 1}");
	ddl("CREATE TABLE ks.t (k int, c int, v text, PRIMARY KEY (k, c))");
	startup_frame(&in);
	for (int i = 0; i < 5; i++) {
		char q[128];
		snprintf(q, sizeof(q), "INSERT INTO ks.t (k, c, v) VALUES (7, %d, 'v%d')", i, i);
		query_frame(&in, (int16_t)(100 + i), q, 0, 0, NULL);
	}
	size_t f = cql_frame_begin(&in, 4, 0, 2, CQL_OP_PREPARE);
	const char *q = "SELECT c, v FROM ks.t WHERE k = ?";
	cql_put_long_string(&in, q, strlen(q));
	cql_frame_end(&in, f);
	cr_assert_eq(feed(), 0);
	struct bufreader r, b;
	bufreader_init(&r, out.data, out.len);
	next(&r, &b);
	for (int i = 0; i < 5; i++) {
		struct cql_header h = next(&r, &b);
		cr_assert_eq(h.stream, 100 + i);
		cr_assert_eq(cql_get_int(&b), CQL_RESULT_VOID);
	}
	struct cql_header h = next(&r, &b);
	cr_assert_eq(h.opcode, CQL_OP_RESULT);
	cr_assert_eq(cql_get_int(&b), CQL_RESULT_PREPARED);
	struct cql_slice id = cql_get_short_bytes(&b);
	cr_assert_eq(id.len, 16);
	uint8_t expect[16];
	prepared_id("", q, strlen(q), expect);
	cr_assert(memcmp(id.p, expect, 16) == 0);
	uint8_t pid[16];
	memcpy(pid, id.p, 16);
	cr_assert_eq(cql_get_int(&b), CQL_ROWS_GLOBAL_TABLES_SPEC);
	cr_assert_eq(cql_get_int(&b), 1); /* one bind marker */
	cr_assert_eq(cql_get_int(&b), 1); /* pk_count */
	cr_assert_eq(cql_get_short(&b), 0);
	struct cql_slice s = cql_get_string(&b);
	cr_assert(s.len == 2 && memcmp(s.p, "ks", 2) == 0);
	s = cql_get_string(&b);
	cr_assert(s.len == 1 && memcmp(s.p, "t", 1) == 0);
	s = cql_get_string(&b);
	cr_assert(s.len == 1 && memcmp(s.p, "k", 1) == 0);
	cr_assert_eq(cql_get_short(&b), CQLTYPE_INT);
	cr_assert_eq(cql_get_int(&b), CQL_ROWS_GLOBAL_TABLES_SPEC); /* result metadata */
	cr_assert_eq(cql_get_int(&b), 2);

	/* EXECUTE in pages of 2: 5 rows -> 3 pages, state carried by the client */
	uint8_t state[256];
	int32_t state_len = -1;
	int got = 0, pages = 0;
	do {
		startup_frame(&in);
		f = cql_frame_begin(&in, 4, 0, 3, CQL_OP_EXECUTE);
		cql_put_short_bytes(&in, pid, 16);
		cql_put_short(&in, CL_QUORUM);
		cql_put_byte(&in, CQL_QF_VALUES | CQL_QF_PAGE_SIZE |
		                          (state_len >= 0 ? CQL_QF_PAGING_STATE : 0));
		cql_put_short(&in, 1);
		cql_put_int(&in, 4);
		buf_put_u32be(&in, 7);
		cql_put_int(&in, 2);
		if (state_len >= 0)
			cql_put_bytes(&in, state, state_len);
		cql_frame_end(&in, f);
		cr_assert_eq(feed(), 0);
		bufreader_init(&r, out.data, out.len);
		next(&r, &b);
		h = next(&r, &b);
		cr_assert_eq(h.opcode, CQL_OP_RESULT, "%.*s", (int)b.len - 6, b.p + 6);
		cr_assert_eq(cql_get_int(&b), CQL_RESULT_ROWS);
		int32_t flags = cql_get_int(&b);
		cql_get_int(&b);
		state_len = -1;
		if (flags & CQL_ROWS_HAS_MORE_PAGES) {
			struct cql_slice ps = cql_get_bytes(&b);
			cr_assert(ps.len > 0 && ps.len < (int32_t)sizeof(state));
			memcpy(state, ps.p, (size_t)ps.len);
			state_len = ps.len;
		}
		if (flags & CQL_ROWS_GLOBAL_TABLES_SPEC) {
			cql_get_string(&b);
			cql_get_string(&b);
			for (int i = 0; i < 2; i++) {
				cql_get_string(&b);
				cql_get_short(&b);
			}
		}
		int32_t n = cql_get_int(&b);
		cr_assert(n <= 2);
		for (int i = 0; i < n; i++) {
			struct cql_slice c = cql_get_bytes(&b);
			cr_assert_eq((int32_t)be32_load(c.p), got);
			cql_get_bytes(&b);
			got++;
		}
		pages++;
	} while (state_len >= 0 && pages < 10);
	cr_assert_eq(got, 5);
	cr_assert_eq(pages, 3);
}

Test(cqlserver, batch_and_unprepared)
{
	ddl("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
	    "'replication_factor': 1}");
	ddl("CREATE TABLE ks.kv (k text PRIMARY KEY, v int)");
	startup_frame(&in);
	size_t f = cql_frame_begin(&in, 4, 0, 1, CQL_OP_BATCH);
	cql_put_byte(&in, CQL_BATCH_LOGGED);
	cql_put_short(&in, 2);
	const char *q1 = "INSERT INTO ks.kv (k, v) VALUES (?, ?)";
	cql_put_byte(&in, 0);
	cql_put_long_string(&in, q1, strlen(q1));
	cql_put_short(&in, 2);
	cql_put_bytes(&in, "a", 1);
	cql_put_int(&in, 4);
	buf_put_u32be(&in, 1);
	const char *q2 = "UPDATE ks.kv SET v = 2 WHERE k = 'b'";
	cql_put_byte(&in, 0);
	cql_put_long_string(&in, q2, strlen(q2));
	cql_put_short(&in, 0);
	cql_put_short(&in, CL_ONE);
	cql_put_byte(&in, 0);
	cql_frame_end(&in, f);
	query_frame(&in, 2, "SELECT count(*) FROM ks.kv", 0, 0, NULL);
	f = cql_frame_begin(&in, 4, 0, 3, CQL_OP_EXECUTE);
	cql_put_short_bytes(&in, "0123456789abcdef", 16);
	cql_put_short(&in, CL_ONE);
	cql_put_byte(&in, 0);
	cql_frame_end(&in, f);
	cr_assert_eq(feed(), 0);
	struct bufreader r, b;
	bufreader_init(&r, out.data, out.len);
	next(&r, &b);
	struct cql_header h = next(&r, &b);
	cr_assert_eq(h.opcode, CQL_OP_RESULT, "%.*s", (int)b.len - 6, b.p + 6);
	cr_assert_eq(cql_get_int(&b), CQL_RESULT_VOID);
	h = next(&r, &b);
	/* COUNT(*) without a partition key carries Cassandra's warning (flag 0x08) */
	cr_assert(h.flags & CQL_FLAG_WARNING);
	cr_assert_eq(cql_get_short(&b), 1);
	struct cql_slice w = cql_get_string(&b);
	cr_assert(w.len > 0 && memmem(w.p, (size_t)w.len, "without partition key", 21));
	cr_assert_eq(cql_get_int(&b), CQL_RESULT_ROWS);
	cql_get_int(&b);
	cql_get_int(&b);
	cql_get_string(&b);
	cql_get_string(&b);
	cql_get_string(&b);
	cql_get_short(&b);
	cr_assert_eq(cql_get_int(&b), 1);
	struct cql_slice c = cql_get_bytes(&b);
	cr_assert_eq(be64_load(c.p), 2);
	h = next(&r, &b);
	cr_assert_eq(h.opcode, CQL_OP_ERROR);
	cr_assert_eq(cql_get_int(&b), CQL_ERR_UNPREPARED);
	cql_get_string(&b);
	struct cql_slice id = cql_get_short_bytes(&b);
	cr_assert(id.len == 16 && memcmp(id.p, "0123456789abcdef", 16) == 0);
}

static int plans_freed;
static void count_free(void *p)
{
	(void)p;
	plans_freed++;
}

Test(prepared, evicts_least_recently_used)
{
	struct prepared_cache *pc;
	cr_assert_eq(prepared_cache_new(2, &pc), 0);
	struct prepared_stmt *a, *b, *c;
	cr_assert_eq(prepared_cache_put(pc, "", "A", 1, &plans_freed, count_free, 0, &a), 0);
	cr_assert_eq(prepared_cache_put(pc, "", "B", 1, &plans_freed, count_free, 0, &b), 0);
	uint8_t ida[16], idb[16];
	memcpy(ida, a->id, 16);
	memcpy(idb, b->id, 16);
	cr_assert(prepared_cache_get(pc, ida, 16)); /* A is now the most recent */
	cr_assert_eq(prepared_cache_put(pc, "", "C", 1, NULL, NULL, 0, &c), 0);
	cr_assert(prepared_cache_get(pc, ida, 16));
	cr_assert_null(prepared_cache_get(pc, idb, 16));
	cr_assert_eq(prepared_cache_count(pc), 2);
	cr_assert_eq(prepared_cache_evictions(pc), 1);
	cr_assert_eq(plans_freed, 1); /* B's plan went with it */
	prepared_cache_free(pc);
	cr_assert_eq(plans_freed, 2);
	/* same text, different keyspace: a different id */
	uint8_t x[16], y[16];
	prepared_id("k1", "A", 1, x);
	prepared_id("k2", "A", 1, y);
	cr_assert(memcmp(x, y, 16) != 0);
}

struct rows_ctx {
	struct schema *to;
	int n;
};

static void copy_row(const void *k, size_t kl, const void *v, size_t vl, void *ctx)
{
	struct rows_ctx *rc = ctx;
	struct cerr e = {0};
	cr_assert_eq(schema_merge_row(rc->to, k, kl, v, vl, &e), 0, "%s", e.msg);
	rc->n++;
}

Test(cqlserver, two_catalogues_with_the_same_rows_agree)
{
	ddl("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
	    "'replication_factor': 1}");
	ddl("CREATE TABLE ks.t (k int PRIMARY KEY, v text)");
	ddl("DROP TABLE ks.t");
	ddl("CREATE TABLE ks.u (k int PRIMARY KEY, v text)");
	char dir2[64];
	snprintf(dir2, sizeof(dir2), "/tmp/colonnade-cqlsrv2-XXXXXX");
	cr_assert(mkdtemp(dir2));
	struct cerr e = {0};
	struct store_options o;
	store_options_init(&o);
	o.data_dir = dir2;
	struct store *s2;
	struct schema *sc2;
	cr_assert_eq(store_open(&o, &s2, &e), 0, "%s", e.msg);
	cr_assert_eq(schema_open(s2, &sc2, &e), 0, "%s", e.msg);
	cr_assert(memcmp(schema_current(sc2)->version, schema_current(ln.sch)->version, 16) != 0);
	struct rows_ctx rc = {sc2, 0};
	schema_rows(ln.sch, copy_row, &rc);
	/* column rows of t.v (left by the dropped table) and u.v, keyspace, tombstone of t, u */
	cr_assert_eq(rc.n, 5);
	cr_assert(memcmp(schema_current(sc2)->version, schema_current(ln.sch)->version, 16) == 0);
	cr_assert(schema_snap_table(schema_current(sc2), "ks", "u"));
	cr_assert_null(schema_snap_table(schema_current(sc2), "ks", "t"));
	/* merging again changes nothing */
	uint64_t gen = schema_current(sc2)->generation;
	schema_rows(ln.sch, copy_row, &rc);
	cr_assert_eq(schema_current(sc2)->generation, gen);
	schema_free(sc2);
	store_close(s2);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir2);
	cr_assert_eq(system(cmd), 0);
}

/* The ERROR body of a failure with message "x". */
static void error_body(struct buf *b, int code, struct cerr_replicas rep,
                       const struct exec_err_about *about)
{
	struct cerr e = {.code = code, .rep = rep};
	strcpy(e.msg, "x");
	buf_reset(b);
	cqlserver_error_encode(b, &e, about);
}

#define assert_body(b, want)                                                                       \
	do {                                                                                       \
		cr_assert_eq((b)->len, sizeof(want));                                              \
		cr_assert(memcmp((b)->data, want, (b)->len) == 0);                                 \
	} while (0)

Test(errors, extra_fields_golden_bytes)
{
	struct buf b;
	buf_init(&b);
	error_body(&b, COL_EUNAVAILABLE,
	           (struct cerr_replicas){.cl = CL_QUORUM, .required = 2, .received = 1}, NULL);
	static const uint8_t unavailable[] = {0, 0, 0x10, 0, 0, 1, 'x', 0, 4,
	                                      0, 0, 0,    2, 0, 0, 0,   1};
	assert_body(&b, unavailable);

	error_body(&b, COL_ETIMEDOUT,
	           (struct cerr_replicas){.cl = CL_ONE,
	                                  .required = 1,
	                                  .received = 0,
	                                  .write = true,
	                                  .write_type = CERR_WRITE_BATCH},
	           NULL);
	static const uint8_t wto[] = {0, 0, 0x11, 0, 0, 1, 'x', 0,   1,   0,   0,   0,
	                              0, 0, 0,    0, 1, 0, 5,   'B', 'A', 'T', 'C', 'H'};
	assert_body(&b, wto);

	error_body(&b, COL_ETIMEDOUT,
	           (struct cerr_replicas){
	                   .cl = CL_ALL, .required = 3, .received = 2, .data_present = true},
	           NULL);
	static const uint8_t rto[] = {0, 0, 0x12, 0, 0, 1, 'x', 0, 5, 0, 0, 0, 2, 0, 0, 0, 3, 1};
	assert_body(&b, rto);

	error_body(
	        &b, COL_EFAILED,
	        (struct cerr_replicas){.cl = CL_ALL, .required = 3, .received = 1, .failures = 2},
	        NULL);
	static const uint8_t rfail[] = {0, 0, 0x13, 0, 0, 1, 'x', 0, 5, 0, 0,
	                                0, 1, 0,    0, 0, 3, 0,   0, 0, 2, 0};
	assert_body(&b, rfail);

	error_body(
	        &b, COL_EFAILED,
	        (struct cerr_replicas){
	                .cl = CL_ONE, .required = 1, .received = 0, .failures = 1, .write = true},
	        NULL);
	static const uint8_t wfail[] = {0, 0, 0x15, 0, 0, 1, 'x', 0, 1,   0,   0,   0,   0,   0,  0,
	                                0, 1, 0,    0, 0, 1, 0,   6, 'S', 'I', 'M', 'P', 'L', 'E'};
	assert_body(&b, wfail);

	struct exec_err_about about = {.ks = "ks"};
	error_body(&b, COL_EEXIST, (struct cerr_replicas){0}, &about);
	static const uint8_t ae[] = {0, 0, 0x24, 0, 0, 1, 'x', 0, 2, 'k', 's', 0, 0};
	assert_body(&b, ae);

	about = (struct exec_err_about){.id_len = 2, .id = {0xab, 0xcd}};
	error_body(&b, COL_ENOTFOUND, (struct cerr_replicas){0}, &about);
	static const uint8_t un[] = {0, 0, 0x25, 0, 0, 1, 'x', 0, 2, 0xab, 0xcd};
	assert_body(&b, un);

	about = (struct exec_err_about){.truncate = true};
	error_body(&b, COL_EIO, (struct cerr_replicas){0}, &about);
	static const uint8_t trunc[] = {0, 0, 0x10, 0x03, 0, 1, 'x'};
	assert_body(&b, trunc);

	/* codes with no extra fields */
	static const struct {
		int code;
		uint32_t cql;
	} plain[] = {
	        {COL_ESYNTAX, CQL_ERR_SYNTAX},
	        {COL_EINVAL, CQL_ERR_INVALID},
	        {COL_ETYPE, CQL_ERR_INVALID},
	        {COL_ENOTFOUND, CQL_ERR_INVALID},
	        {COL_ECONFIG, CQL_ERR_CONFIG},
	        {COL_EPROTO, CQL_ERR_PROTOCOL},
	        {COL_EOVERLOADED, CQL_ERR_OVERLOADED},
	        {COL_ENOMEM, CQL_ERR_SERVER},
	        {COL_EIO, CQL_ERR_SERVER},
	};
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		error_body(&b, plain[i].code, (struct cerr_replicas){0}, NULL);
		uint8_t want[7] = {0, 0, 0, 0, 0, 1, 'x'};
		be32_store(want, plain[i].cql);
		cr_assert_eq(b.len, sizeof(want), "code %d", plain[i].code);
		cr_assert(memcmp(b.data, want, b.len) == 0, "code %d", plain[i].code);
	}
	buf_release(&b);
}
