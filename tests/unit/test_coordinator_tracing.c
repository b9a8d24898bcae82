/*
 * Request tracing's encodings: a trace part's CQL batch (trace_take: events,
 * quoting, TTL, the session row last), its bounds, timeuuids; the trace session
 * in MUTATION and READ payloads (with and without it, torn); and a traced QUERY
 * through the CQL server: flag TRACING and the session id before the RESULT,
 * events recorded and handed to the sink; an untraced one unchanged; a failed one
 * answers its ERROR after the session id.
 */
#include "coordinator/query/prepared.h"
#include "coordinator/query/systables.h"
#include "coordinator/replication/router.h"
#include "coordinator/replication/verbs.h"
#include "coordinator/schema/schema.h"
#include "coordinator/tracing/trace.h"
#include "coordinator/transport/cqlserver.h"
#include "core/buf.h"
#include "core/cqlproto.h"
#include "core/hex.h"
#include "core/msgpk.h"
#include "storage/storage.h"
#include "tests/unit/local_node.h"
#include "tests/unit/local_view.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A sink that keeps what it is handed (one reference each). */
static struct trace *got[8];
static int n_got;

static void keep(void *ctx, struct trace *t)
{
	(void)ctx;
	cr_assert_lt(n_got, 8);
	got[n_got++] = t;
}

static struct trace_sink sink = {.submit = keep, .host = "10.1.2.3", .port = 7000};

static void release_got(void)
{
	for (int i = 0; i < n_got; i++) {
		trace_discard(got[i]);
		trace_unref(got[i]);
	}
	n_got = 0;
}

static char *take_text(struct trace *t, size_t *n)
{
	struct buf b;
	buf_init(&b);
	*n = trace_take(t, &b);
	buf_put_u8(&b, 0);
	cr_assert(buf_ok(&b));
	return (char *)b.data;
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

Test(trace, coordinator_part_is_one_batch_session_last)
{
	struct trace *t = trace_new(&sink, NULL);
	cr_assert(t);
	trace_set_session(t, "QUERY", "Execute CQL3 query", "192.168.0.9");
	trace_add_param(t, "query", "SELECT * FROM ks.t WHERE k = 'it''s'");
	trace_add_param(t, "consistency_level", "QUORUM");
	trace_event(t, "Parsing %s", "SELECT 'a'");
	trace_event(t, "Sending READ message to /%s", "10.1.2.4");
	trace_finish(t);
	cr_assert_eq(n_got, 1, "finish hands the trace to the sink");
	size_t n;
	char *q = take_text(t, &n);
	cr_assert_eq(n, 3, "two events and the session row: %s", q);
	cr_assert(strncmp(q, "BEGIN UNLOGGED BATCH\n", 21) == 0, "%s", q);
	cr_assert(strstr(q, "APPLY BATCH") && !strstr(q, "APPLY BATCH\n"), "%s", q);
	cr_assert_eq(count(q, "INSERT INTO system_traces.events"), 2);
	cr_assert_eq(count(q, "USING TTL 86400;"), 3, "%s", q);
	const char *ses = strstr(q, "INSERT INTO system_traces.sessions");
	cr_assert(ses, "%s", q);
	cr_assert_null(strstr(ses, "system_traces.events"), "the session row comes last");
	cr_assert(strstr(q, "'Parsing SELECT ''a'''"), "quotes doubled: %s", q);
	cr_assert(strstr(q, "'10.1.2.3', 7000, "), "source and source_port: %s", q);
	cr_assert(strstr(ses, "'QUERY', '192.168.0.9', '10.1.2.3', 7000, "), "%s", ses);
	cr_assert(strstr(ses, "{'query': 'SELECT * FROM ks.t WHERE k = ''it''''s''', "
	                      "'consistency_level': 'QUORUM'}"),
	          "%s", ses);
	char sid[UUID_TEXT_LEN + 1];
	uuid_format(trace_session_id(t), sid);
	cr_assert_eq(count(q, sid), 3, "every row is in the session's partition");
	cr_assert_eq(trace_session_id(t)[6] >> 4, 1, "the session id is a timeuuid");
	free(q);
	/* a late event goes alone; the session row is not written twice */
	trace_event(t, "READ_RSP message received from /%s", "10.1.2.5");
	q = take_text(t, &n);
	cr_assert_eq(n, 1, "%s", q);
	cr_assert_null(strstr(q, "system_traces.sessions"));
	free(q);
	q = take_text(t, &n);
	cr_assert_eq(n, 0);
	free(q);
	release_got();
	trace_unref(t);
}

Test(trace, replica_part_has_events_only_and_last_reference_resubmits)
{
	uint8_t sid[16];
	memset(sid, 0xab, sizeof(sid));
	struct trace *t = trace_new(&sink, sid);
	cr_assert_eq(memcmp(trace_session_id(t), sid, 16), 0);
	trace_event(t, "MUTATION message received from /%s", "10.1.2.3");
	trace_finish(t);
	cr_assert_eq(n_got, 1);
	size_t n;
	char *q = take_text(t, &n);
	cr_assert_eq(n, 1);
	cr_assert_null(strstr(q, "system_traces.sessions"), "a replica writes no session row");
	free(q);
	trace_unref(got[0]); /* the sink wrote it */
	n_got = 0;
	trace_event(t, "Enqueuing response to /%s", "10.1.2.3");
	trace_unref(t); /* the last reference: the unwritten event goes to the sink */
	cr_assert_eq(n_got, 1);
	q = take_text(got[0], &n);
	cr_assert_eq(n, 1, "%s", q);
	free(q);
	trace_unref(got[0]); /* nothing unwritten: freed */
	n_got = 0;
}

Test(trace, events_are_bounded_and_the_last_says_how_many_were_left_out)
{
	struct trace *t = trace_new(NULL, NULL);
	for (int i = 0; i < TRACE_MAX_EVENTS + 40; i++)
		trace_event(t, "event %d", i);
	cr_assert_eq(trace_events_dropped(t), 40);
	cr_assert_eq(trace_events_dropped(t), 0, "each drop is told once");
	size_t n;
	char *q = take_text(t, &n);
	cr_assert_eq(n, TRACE_MAX_EVENTS);
	cr_assert(strstr(q, "'41 more events were not recorded (at most 256 per node and "
	                    "session)'"),
	          "the last kept event names the rest");
	free(q);
	char big[TRACE_ACTIVITY_MAX * 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	trace_unref(t);
	t = trace_new(NULL, NULL);
	trace_event(t, "%s", big);
	q = take_text(t, &n);
	cr_assert_eq(n, 1);
	cr_assert_lt(strlen(q), TRACE_ACTIVITY_MAX + 400, "activity cut to its bound");
	free(q);
	trace_unref(t);
}

Test(trace, timeuuid_carries_time_and_version)
{
	uint8_t u[16];
	int64_t us = 1796567486123456LL;
	trace_timeuuid(us, 0x1122334455667788ULL, u);
	cr_assert_eq(u[6] >> 4, 1);
	cr_assert_eq(u[8] & 0xc0, 0x80, "IETF variant");
	uint64_t ticks = ((uint64_t)(be16_load(u + 6) & 0x0fff) << 48) |
	                 ((uint64_t)be16_load(u + 4) << 32) | be32_load(u);
	cr_assert_eq((int64_t)((ticks - 0x01b21dd213814000ULL) / 10), us);
}

Test(trace, current_trace_is_per_thread_and_restored)
{
	struct trace *t = trace_new(NULL, NULL);
	cr_assert_null(trace_current());
	struct trace *prev = trace_swap_current(t);
	cr_assert_null(prev);
	cr_assert_eq(trace_current(), t);
	trace_swap_current(prev);
	cr_assert_null(trace_current());
	trace_event(NULL, "no trace: nothing happens");
	trace_unref(t);
}

/* ---- the trace session on the wire ---------------------------------------------------------- */

Test(trace_wire, mutation_with_and_without_session)
{
	const uint8_t mut[] = {0x91, 0x01}; /* any one msgpack value */
	uint8_t sid[16];
	for (int i = 0; i < 16; i++)
		sid[i] = (uint8_t)i;
	struct buf b;
	buf_init(&b);
	verbs_put_mutation(&b, mut, sizeof(mut), 0, NULL, 0, NULL);
	struct verbs_mutation_msg mm;
	cr_assert_eq(verbs_mutation_decode(b.data, b.len, &mm), 0);
	cr_assert_null(mm.trace_session, "untraced: a peer's two-field message");
	cr_assert_eq(b.data[0], 0x92, "untraced bytes are unchanged");
	buf_reset(&b);
	verbs_put_mutation(&b, mut, sizeof(mut), 0, NULL, 0, sid);
	cr_assert_eq(b.data[0], 0x93);
	cr_assert_eq(verbs_mutation_decode(b.data, b.len, &mm), 0);
	cr_assert(mm.trace_session);
	cr_assert_eq(memcmp(mm.trace_session, sid, 16), 0);
	cr_assert_eq(mm.mut_len, sizeof(mut));
	/* every cut of it is refused, never read past */
	for (size_t cut = 0; cut < b.len; cut++)
		cr_assert_neq(verbs_mutation_decode(b.data, cut, &mm), 0, "cut at %zu", cut);
	/* a session that is not 16 bytes, or a fourth field, is refused */
	buf_reset(&b);
	msgpk_put_array(&b, 3);
	buf_put(&b, mut, sizeof(mut));
	msgpk_put_nil(&b);
	msgpk_put_bin(&b, sid, 15);
	cr_assert_eq(verbs_mutation_decode(b.data, b.len, &mm), COL_ECORRUPT);
	buf_reset(&b);
	msgpk_put_array(&b, 4);
	buf_put(&b, mut, sizeof(mut));
	msgpk_put_nil(&b);
	msgpk_put_bin(&b, sid, 16);
	msgpk_put_nil(&b);
	cr_assert_eq(verbs_mutation_decode(b.data, b.len, &mm), COL_ECORRUPT);
	buf_release(&b);
}

Test(trace_wire, read_with_and_without_session)
{
	uint8_t sid[16];
	memset(sid, 7, sizeof(sid));
	struct store_value pk = {.p = (const uint8_t *)"k1", .len = 2};
	struct verbs_read rd = {
	        .kind = VERBS_READ_DIGEST, .now_s = 99, .limit = 5, .pk = &pk, .n_pk = 1};
	memset(rd.table_id, 3, 16);
	struct buf b;
	buf_init(&b);
	verbs_put_read(&b, &rd);
	static struct verbs_read_req q;
	cr_assert_eq(verbs_read_decode(b.data, b.len, &q), 0);
	cr_assert_null(q.rd.trace_session);
	cr_assert_eq(b.data[0], 0x96);
	buf_reset(&b);
	rd.trace_session = sid;
	verbs_put_read(&b, &rd);
	cr_assert_eq(b.data[0], 0x97);
	cr_assert_eq(verbs_read_decode(b.data, b.len, &q), 0);
	cr_assert(q.rd.trace_session);
	cr_assert_eq(memcmp(q.rd.trace_session, sid, 16), 0);
	cr_assert_eq(q.rd.kind, VERBS_READ_DIGEST);
	cr_assert_eq(q.rd.n_pk, 1);
	cr_assert_eq(q.rd.limit, 5);
	for (size_t cut = 0; cut < b.len; cut++)
		cr_assert_neq(verbs_read_decode(b.data, cut, &q), 0, "cut at %zu", cut);
	/* range reads carry it the same way */
	buf_reset(&b);
	struct verbs_read rr = {
	        .kind = VERBS_READ_RANGE, .start = -5, .end = 5, .trace_session = sid};
	verbs_put_read(&b, &rr);
	cr_assert_eq(verbs_read_decode(b.data, b.len, &q), 0);
	cr_assert(q.rd.trace_session && q.rd.start == -5 && q.rd.end == 5);
	buf_release(&b);
}

/* ---- a traced QUERY through the CQL server ----------------------------------------------------
 */

static struct local_node ln;
static struct cqlserver *srv;

static const struct cluster_view view = LOCAL_VIEW("Test Cluster");

static void srv_setup(void)
{
	local_node_open(&ln, "trace", 100);
	struct cerr e = {0};
	struct cqlserver_options co = {.max_frame_size = 1 << 20};
	struct cqlserver_deps d = {.schema = ln.sch,
	                           .store = ln.st,
	                           .router = ln.px,
	                           .view = &view,
	                           .prepared = ln.pc,
	                           .tracing = &sink};
	cr_assert_eq(cqlserver_new_detached(&co, &d, &srv, &e), 0, "%s", e.msg);
}

static void srv_teardown(void)
{
	release_got();
	cqlserver_free(srv);
	local_node_close(&ln);
}

static void put_query(struct buf *b, uint8_t frame_flags, int16_t stream, const char *q)
{
	size_t f = cql_frame_begin(b, 4, frame_flags, stream, CQL_OP_QUERY);
	cql_put_long_string(b, q, strlen(q));
	cql_put_short(b, CL_ONE);
	cql_put_byte(b, 0);
	cql_frame_end(b, f);
}

/* The response frame of stream `stream` in out (header into h, body into body). */
static void find_frame(const struct buf *out, int16_t stream, struct cql_header *h,
                       struct bufreader *body)
{
	struct bufreader r;
	bufreader_init(&r, out->data, out->len);
	while (bufreader_left(&r) >= 9) {
		const uint8_t *p = bufreader_take(&r, 9);
		cql_header_decode(p, 9, h);
		const uint8_t *b = bufreader_take(&r, h->length);
		cr_assert(b);
		if (h->stream == stream) {
			bufreader_init(body, b, h->length);
			return;
		}
	}
	cr_assert_fail("no response on stream %d", stream);
}

Test(trace_server, traced_query_answers_with_its_session_id, .init = srv_setup,
     .fini = srv_teardown)
{
	struct buf in, out;
	buf_init(&in);
	buf_init(&out);
	size_t f = cql_frame_begin(&in, 4, 0, 0, CQL_OP_STARTUP);
	const char *k[] = {"CQL_VERSION"}, *v[] = {"3.0.0"};
	cql_put_string_map(&in, k, v, 1);
	cql_frame_end(&in, f);
	put_query(&in, 0, 1,
	          "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
	          "'replication_factor': 1}");
	put_query(&in, 0, 2, "CREATE TABLE ks.t (k int PRIMARY KEY, v text)");
	put_query(&in, CQL_FLAG_TRACING, 3, "INSERT INTO ks.t (k, v) VALUES (1, 'a')");
	put_query(&in, 0, 4, "SELECT v FROM ks.t WHERE k = 1");
	put_query(&in, CQL_FLAG_TRACING, 5, "SELECT v FROM ks.t WHERE k = 1");
	cr_assert_eq(cqlserver_feed(srv, in.data, in.len, &out), 0);

	struct cql_header h3, h4, h5;
	struct bufreader b3, b4, b5;
	find_frame(&out, 3, &h3, &b3);
	find_frame(&out, 4, &h4, &b4);
	find_frame(&out, 5, &h5, &b5);
	cr_assert_eq(h3.opcode, CQL_OP_RESULT);
	cr_assert_eq(h3.flags & CQL_FLAG_TRACING, CQL_FLAG_TRACING);
	cr_assert_eq(h4.flags & CQL_FLAG_TRACING, 0, "an untraced request is answered as before");
	cr_assert_eq(h5.flags & CQL_FLAG_TRACING, CQL_FLAG_TRACING);
	cr_assert_eq(n_got, 2, "each traced request went to the sink once");
	const uint8_t *id3 = bufreader_take(&b3, 16);
	const uint8_t *id5 = bufreader_take(&b5, 16);
	cr_assert_eq(memcmp(id3, trace_session_id(got[0]), 16), 0, "the body starts with its id");
	cr_assert_eq(memcmp(id5, trace_session_id(got[1]), 16), 0);
	cr_assert_eq(cql_get_int(&b3), CQL_RESULT_VOID, "then the RESULT as usual");
	cr_assert_eq(cql_get_int(&b5), CQL_RESULT_ROWS);
	cr_assert_eq(cql_get_int(&b4), CQL_RESULT_ROWS);
	size_t n;
	char *q = take_text(got[1], &n);
	cr_assert(strstr(q, "'Parsing SELECT v FROM ks.t WHERE k = 1'"), "%s", q);
	cr_assert(strstr(q, "'Reading the partition from this node''s store'"), "%s", q);
	cr_assert_null(strstr(q, "'Request complete'"), "cqlsh adds that row itself: %s", q);
	cr_assert(strstr(q, "'Execute CQL3 query'"), "%s", q);
	cr_assert(strstr(q, "'consistency_level': 'ONE'"), "%s", q);
	free(q);
	buf_release(&in);
	buf_release(&out);
}

Test(trace_server, failed_traced_request_records_why_and_answers_the_error, .init = srv_setup,
     .fini = srv_teardown)
{
	struct buf in, out;
	buf_init(&in);
	buf_init(&out);
	size_t f = cql_frame_begin(&in, 4, 0, 0, CQL_OP_STARTUP);
	const char *k[] = {"CQL_VERSION"}, *v[] = {"3.0.0"};
	cql_put_string_map(&in, k, v, 1);
	cql_frame_end(&in, f);
	put_query(&in, CQL_FLAG_TRACING, 1, "SELECT * FROM nope.t");
	cr_assert_eq(cqlserver_feed(srv, in.data, in.len, &out), 0);
	struct cql_header h;
	struct bufreader b;
	find_frame(&out, 1, &h, &b);
	cr_assert_eq(h.opcode, CQL_OP_ERROR);
	cr_assert_eq(h.flags & CQL_FLAG_TRACING, CQL_FLAG_TRACING,
	             "a failed traced request names its session too, as Cassandra 4's");
	cr_assert_eq(n_got, 1);
	const uint8_t *id = bufreader_take(&b, 16);
	cr_assert_eq(memcmp(id, trace_session_id(got[0]), 16), 0);
	cr_assert_eq(cql_get_int(&b), 0x2200, "then the ERROR body");
	size_t n;
	char *q = take_text(got[0], &n);
	cr_assert(strstr(q, "'Request failed: "), "%s", q);
	cr_assert(strstr(q, "system_traces.sessions"), "%s", q);
	free(q);
	buf_release(&in);
	buf_release(&out);
}
