/*
 * The admin endpoints behind `colonnade getendpoints` and `colonnade dump`
 * (coordinator/admin/inspect.h): query parameters, key text -> partition key,
 * replicas against an independent computation (murmur3 over the
 * serialization written out here, ring_replicas), and the dump's exact JSON
 * for cells, TTLs, row markers, cell/row/range/partition tombstones and
 * statics, from mutations with fixed timestamps.
 */
#include "coordinator/admin/inspect.h"

#include "coordinator/admin/admin.h"
#include "coordinator/schema/schema.h"
#include "core/buf.h"
#include "core/cqltype.h"
#include "core/murmur3.h"
#include "core/ring.h"
#include "storage/storage.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char dir[64];
static struct store *st;
static struct schema *sch;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/colonnade-inspect-XXXXXX");
	cr_assert(mkdtemp(dir));
	struct cerr e = {0};
	struct store_options o;
	store_options_init(&o);
	o.data_dir = dir;
	cr_assert_eq(store_open(&o, &st, &e), 0, "%s", e.msg);
	cr_assert_eq(schema_open(st, &sch, &e), 0, "%s", e.msg);
	const struct schema_repl_opt simple[] = {{"class", "SimpleStrategy"},
	                                         {"replication_factor", "2"}};
	struct schema_keyspace_def ks = {
	        .name = "ks", .durable_writes = true, .repl = simple, .n_repl = 2};
	cr_assert_eq(schema_create_keyspace(sch, &ks, 1, &e), 0, "%s", e.msg);
	const struct schema_repl_opt nts[] = {
	        {"class", "NetworkTopologyStrategy"}, {"dc1", "1"}, {"dc2", "1"}};
	struct schema_keyspace_def ks2 = {
	        .name = "nts", .durable_writes = true, .repl = nts, .n_repl = 3};
	cr_assert_eq(schema_create_keyspace(sch, &ks2, 1, &e), 0, "%s", e.msg);
	const struct cqltype *mapt = NULL;
	cr_assert_eq(cqltype_parse("map<text, int>", 14, &mapt, &e), 0, "%s", e.msg);
	const struct schema_column_def t_cols[] = {
	        {"k", cqltype_simple(CQLTYPE_VARCHAR), SCHEMA_COL_PARTITION_KEY, 0, false},
	        {"c", cqltype_simple(CQLTYPE_INT), SCHEMA_COL_CLUSTERING, 0, true},
	        {"s", cqltype_simple(CQLTYPE_INT), SCHEMA_COL_STATIC, -1, false},
	        {"v", cqltype_simple(CQLTYPE_VARCHAR), SCHEMA_COL_REGULAR, -1, false},
	        {"m", mapt, SCHEMA_COL_REGULAR, -1, false},
	};
	struct schema_table_def t = {.ks = "ks",
	                             .name = "t",
	                             .cols = t_cols,
	                             .n_cols = 5,
	                             .gc_grace_seconds = -1,
	                             .default_time_to_live = -1};
	cr_assert_eq(schema_create_table(sch, &t, 2, &e), 0, "%s", e.msg);
	cqltype_free(mapt);
	const struct schema_column_def c_cols[] = {
	        {"a", cqltype_simple(CQLTYPE_INT), SCHEMA_COL_PARTITION_KEY, 0, false},
	        {"b", cqltype_simple(CQLTYPE_BLOB), SCHEMA_COL_PARTITION_KEY, 1, false},
	        {"v", cqltype_simple(CQLTYPE_INT), SCHEMA_COL_REGULAR, -1, false},
	};
	struct schema_table_def t2 = {.ks = "nts",
	                              .name = "c",
	                              .cols = c_cols,
	                              .n_cols = 3,
	                              .gc_grace_seconds = -1,
	                              .default_time_to_live = -1};
	cr_assert_eq(schema_create_table(sch, &t2, 2, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	schema_free(sch);
	store_close(st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(inspect, .init = setup, .fini = teardown);

Test(inspect, query_params)
{
	char v[16];
	cr_assert_eq(inspect_query_param("keyspace=ks&table=t&key=a%3Ab+c", "key", v, sizeof(v)),
	             0);
	cr_assert_str_eq(v, "a:b c");
	cr_assert_eq(inspect_query_param("keyspace=ks&table=t", "table", v, sizeof(v)), 0);
	cr_assert_str_eq(v, "t");
	cr_assert_eq(inspect_query_param("keyspace=ks&keys=x", "key", v, sizeof(v)), COL_ENOTFOUND);
	cr_assert_eq(inspect_query_param("", "key", v, sizeof(v)), COL_ENOTFOUND);
	cr_assert_eq(inspect_query_param("key=%4", "key", v, sizeof(v)), COL_EINVAL);
	cr_assert_eq(inspect_query_param("key=%zz", "key", v, sizeof(v)), COL_EINVAL);
	cr_assert_eq(inspect_query_param("key=0123456789abcdef", "key", v, sizeof(v)), COL_EINVAL);
	cr_assert_eq(inspect_query_param("key=", "key", v, sizeof(v)), 0);
	cr_assert_str_eq(v, "");
	cr_assert_eq(inspect_query_param("key=%00x", "key", v, sizeof(v)), 0); /* NUL ends it */
}

Test(inspect, key_text_to_partition_key)
{
	const struct schema_table *t = schema_snap_table(schema_current(sch), "nts", "c");
	cr_assert_not_null(t);
	struct buf vals;
	buf_init(&vals);
	struct store_value pk[STORE_MAX_PK_COLS];
	size_t n = 0;
	struct cerr e = {0};
	cr_assert_eq(inspect_key_parse(t, "-5:0aff", &vals, pk, STORE_MAX_PK_COLS, &n, &e), 0, "%s",
	             e.msg);
	cr_assert_eq(n, 2);
	cr_assert_eq(pk[0].len, 4);
	cr_assert_eq(memcmp(pk[0].p, "\xff\xff\xff\xfb", 4), 0);
	cr_assert_eq(pk[1].len, 2);
	cr_assert_eq(memcmp(pk[1].p, "\x0a\xff", 2), 0);
	/* blobs with 0x too */
	cr_assert_eq(inspect_key_parse(t, "7:0x0AFF", &vals, pk, STORE_MAX_PK_COLS, &n, &e), 0);
	cr_assert_eq(memcmp(pk[1].p, "\x0a\xff", 2), 0);
	/* errors name what is wrong */
	cr_assert_eq(inspect_key_parse(t, "7", &vals, pk, STORE_MAX_PK_COLS, &n, &e), COL_EINVAL);
	cr_assert(strstr(e.msg, "2 partition key columns"), "%s", e.msg);
	cr_assert_eq(inspect_key_parse(t, "7:00:01", &vals, pk, STORE_MAX_PK_COLS, &n, &e),
	             COL_EINVAL);
	cr_assert(strstr(e.msg, "more components"), "%s", e.msg);
	cr_assert_eq(inspect_key_parse(t, "x:00", &vals, pk, STORE_MAX_PK_COLS, &n, &e),
	             COL_EINVAL);
	cr_assert(strstr(e.msg, "'a'"), "%s", e.msg);
	cr_assert_eq(inspect_key_parse(t, "99999999999:00", &vals, pk, STORE_MAX_PK_COLS, &n, &e),
	             COL_EINVAL);
	cr_assert_eq(inspect_key_parse(t, "1:0g", &vals, pk, STORE_MAX_PK_COLS, &n, &e),
	             COL_EINVAL);
	cr_assert(strstr(e.msg, "'b'"), "%s", e.msg);
	buf_release(&vals);
}

/* A 4-node ring over 2 DCs with 2 tokens each. */
static struct ring *test_ring(void)
{
	static const int64_t toks[4][2] = {{-8000000000000000000, 1000},
	                                   {-4000000000000000000, 3000000000000000000},
	                                   {-1000, 5000000000000000000},
	                                   {100, 8000000000000000000}};
	static const char *const dcs[4] = {"dc1", "dc2", "dc1", "dc2"};
	struct ring_endpoint eps[4];
	memset(eps, 0, sizeof(eps));
	for (int i = 0; i < 4; i++) {
		eps[i].host_id[0] = (uint8_t)(i + 1);
		snprintf(eps[i].address, sizeof(eps[i].address), "127.0.9.%d", i + 1);
		snprintf(eps[i].dc, sizeof(eps[i].dc), "%s", dcs[i]);
		snprintf(eps[i].rack, sizeof(eps[i].rack), "r1");
		eps[i].tokens = toks[i];
		eps[i].n_tokens = 2;
	}
	struct ring *r = NULL;
	struct cerr e = {0};
	cr_assert_eq(ring_new(eps, 4, &r, &e), 0, "%s", e.msg);
	return r;
}

/* Expected JSON endpoint list for a token under rep, computed with ring_replicas. */
static void want_endpoints(const struct ring *r, const char *cls, int rf, int64_t tok, char *out,
                           size_t cap)
{
	const char *keys[3] = {"class", "replication_factor", NULL};
	const char *vals[3] = {cls, "2", NULL};
	size_t n = 2;
	if (!strcmp(cls, "NetworkTopologyStrategy")) {
		keys[1] = "dc1";
		vals[1] = "1";
		keys[2] = "dc2";
		vals[2] = "1";
		n = 3;
	}
	(void)rf;
	struct replication rep;
	struct cerr e = {0};
	cr_assert_eq(replication_parse(keys, vals, n, &rep, &e), 0, "%s", e.msg);
	uint32_t idx[8];
	size_t m = ring_replicas(r, &rep, tok, idx, 8);
	cr_assert_eq(m, 2);
	snprintf(out, cap, "\"endpoints\":[\"%s\",\"%s\"]", ring_node_at(r, idx[0])->address,
	         ring_node_at(r, idx[1])->address);
}

Test(inspect, endpoints_follow_the_token_and_the_strategy)
{
	struct ring *r = test_ring();
	const struct schema_snap *snap = schema_current(sch);
	int64_t prev_first = 0;
	int distinct = 0;
	for (int i = 0; i < 50; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		struct buf out;
		buf_init(&out);
		struct cerr e = {0};
		cr_assert_eq(inspect_endpoints(snap, r, "127.0.9.9", "ks", "t", key, &out, &e), 200,
		             "%s", e.msg);
		buf_put_u8(&out, 0);
		/* one text column: the token is murmur3 of its UTF-8 bytes */
		int64_t tok = murmur3_token(key, strlen(key));
		char want[200];
		snprintf(want, sizeof(want), "\"token\":%lld,", (long long)tok);
		cr_assert(strstr((char *)out.data, want), "%s: %s", want, (char *)out.data);
		want_endpoints(r, "SimpleStrategy", 2, tok, want, sizeof(want));
		cr_assert(strstr((char *)out.data, want), "%s: %s", want, (char *)out.data);
		distinct += i && tok != prev_first;
		prev_first = tok;
		buf_release(&out);

		/* composite (int, blob): [u16 len][bytes][0] per component */
		snprintf(key, sizeof(key), "%d:0a%02x", i, i);
		uint8_t ser[] = {0, 4, 0, 0, 0, (uint8_t)i, 0, 0, 2, 0x0a, (uint8_t)i, 0};
		tok = murmur3_token(ser, sizeof(ser));
		buf_init(&out);
		cr_assert_eq(inspect_endpoints(snap, r, "127.0.9.9", "nts", "c", key, &out, &e),
		             200, "%s", e.msg);
		buf_put_u8(&out, 0);
		want_endpoints(r, "NetworkTopologyStrategy", 1, tok, want, sizeof(want));
		cr_assert(strstr((char *)out.data, want), "%s: %s", want, (char *)out.data);
		buf_release(&out);
	}
	cr_assert_gt(distinct, 40);
	ring_unref(r);
}

Test(inspect, endpoint_errors)
{
	const struct schema_snap *snap = schema_current(sch);
	struct buf out;
	buf_init(&out);
	struct cerr e = {0};
	cr_assert_eq(inspect_endpoints(snap, NULL, "x", "nope", "t", "k", &out, &e), 404);
	cr_assert(strstr(e.msg, "keyspace 'nope' does not exist"), "%s", e.msg);
	cr_assert_eq(inspect_endpoints(snap, NULL, "x", "ks", "nope", "k", &out, &e), 404);
	cr_assert(strstr(e.msg, "table 'ks.nope' does not exist"), "%s", e.msg);
	cr_assert_eq(inspect_endpoints(snap, NULL, "x", "nts", "c", "z:00", &out, &e), 400);
	cr_assert_eq(inspect_endpoints(snap, NULL, "x", "ks", "t", "k", &out, &e), 503);
	cr_assert(strstr(e.msg, "no ring"), "%s", e.msg);
	/* virtual tables have no stored data */
	cr_assert_eq(inspect_endpoints(snap, NULL, "x", "system", "local", "local", &out, &e), 400);
	cr_assert_eq(inspect_dump(snap, "system", "local", "local", 0, &out, &e), 400);
	cr_assert_eq(inspect_dump(snap, "ks", "t9", "k", 0, &out, &e), 404);
	cr_assert_eq(out.len, 0, "errors write no body (the handler writes {\"error\"})");
	buf_release(&out);
}

static struct store_value sv(const void *p, size_t n)
{
	return (struct store_value){p, n};
}

/* Apply a mutation built by fn on partition pk of ks.t at now_s. */
static void apply(const char *pk, int64_t now_s, void (*fn)(struct store_mutation *m))
{
	const struct schema_table *t = schema_snap_table(schema_current(sch), "ks", "t");
	struct store_value k = sv(pk, strlen(pk));
	struct store_mutation m;
	struct cerr e = {0};
	cr_assert_eq(store_mutation_init(&m, t->st, &k, 1, now_s, &e), 0, "%s", e.msg);
	fn(&m);
	cr_assert_eq(m.error, 0, "%s", m.err.msg);
	cr_assert_eq(store_apply(st, &m, &e), 0, "%s", e.msg);
	store_mutation_release(&m);
}

static uint32_t col_id(const char *name)
{
	const struct schema_table *t = schema_snap_table(schema_current(sch), "ks", "t");
	return schema_table_column(t, name)->id;
}

#define NOW 1800000000 /* seconds */
#define TS  1800000000000000LL

static void m_rows(struct store_mutation *m)
{
	uint8_t c1[4] = {0, 0, 0, 1}, c2[4] = {0, 0, 0, 2}, c5[4] = {0, 0, 0, 5},
	        c9[4] = {0, 0, 0, 9}, s7[4] = {0, 0, 0, 7}, one[4] = {0, 0, 0, 1};
	struct store_value k1 = sv(c1, 4), k2 = sv(c2, 4), k5 = sv(c5, 4), k9 = sv(c9, 4);
	struct store_value path = sv("a", 1);
	store_mutation_row_marker(m, &k1, 1, TS + 1, 100);
	store_mutation_set_cell(m, &k1, 1, col_id("v"), NULL, "hello", 5, TS + 1, 100);
	store_mutation_set_cell(m, &k1, 1, col_id("m"), &path, one, 4, TS + 1, 0);
	store_mutation_row_marker(m, &k2, 1, TS + 2, 0);
	store_mutation_delete_cell(m, &k2, 1, col_id("v"), NULL, TS + 3);
	store_mutation_set_cell(m, NULL, 0, col_id("s"), NULL, s7, 4, TS + 4, 0);
	/* c is DESC: the range (9, 5) in clustering order */
	store_mutation_delete_range(m, &k9, 1, false, &k5, 1, false, TS + 5);
	store_mutation_delete_row(m, &k5, 1, TS + 6);
}

static void m_partition_delete(struct store_mutation *m)
{
	store_mutation_delete_partition(m, TS + 9);
}

static char *dump(const char *key, int want_status)
{
	struct buf out;
	buf_init(&out);
	struct cerr e = {0};
	int rc = inspect_dump(schema_current(sch), "ks", "t", key, NOW + 10, &out, &e);
	cr_assert_eq(rc, want_status, "dump %s: %d %s", key, rc, e.msg);
	buf_put_u8(&out, 0);
	return (char *)out.data;
}

Test(inspect, dump_shows_cells_timestamps_ttls_and_tombstones)
{
	apply("x", NOW, m_rows);
	apply("gone", NOW, m_partition_delete);
	char *j = dump("x", 200);
	const char *want[] = {
	        "\"partition_key\":[\"x\"],\"found\":true,\"partition_deletion\":null",
	        "\"range_tombstones\":[{\"start\":{\"clustering\":[\"9\"],\"inclusive\":false},"
	        "\"end\":{\"clustering\":[\"5\"],\"inclusive\":false},"
	        "\"tstamp\":1800000000000005,\"local_delete_time\":1800000000}]",
	        /* the static row first */
	        "{\"type\":\"static\",\"clustering\":[],\"liveness_info\":null,\"deletion_info\":"
	        "null,"
	        "\"cells\":[{\"name\":\"s\",\"path\":null,\"value\":\"7\",\"tstamp\":"
	        "1800000000000004,"
	        "\"ttl\":0,\"expires_at\":0,\"deleted\":false,\"local_delete_time\":0}]}",
	        /* DESC: row 5 (deleted) before 2 before 1 */
	        "{\"type\":\"row\",\"clustering\":[\"5\"],\"liveness_info\":null,"
	        "\"deletion_info\":{\"tstamp\":1800000000000006,\"local_delete_time\":1800000000},"
	        "\"cells\":[]}",
	        "{\"type\":\"row\",\"clustering\":[\"2\"],\"liveness_info\":{\"tstamp\":"
	        "1800000000000002,\"ttl\":0,\"expires_at\":0},\"deletion_info\":null,"
	        "\"cells\":[{\"name\":\"v\",\"path\":null,\"value\":null,\"tstamp\":"
	        "1800000000000003,"
	        "\"ttl\":0,\"expires_at\":0,\"deleted\":true,\"local_delete_time\":1800000000}]}",
	        "{\"type\":\"row\",\"clustering\":[\"1\"],\"liveness_info\":{\"tstamp\":"
	        "1800000000000001,\"ttl\":100,\"expires_at\":1800000100},\"deletion_info\":null,"
	        "\"cells\":[{\"name\":\"v\",\"path\":null,\"value\":\"hello\","
	        "\"tstamp\":1800000000000001,\"ttl\":100,\"expires_at\":1800000100,"
	        "\"deleted\":false,\"local_delete_time\":0},"
	        "{\"name\":\"m\",\"path\":\"a\",\"value\":\"1\",\"tstamp\":1800000000000001,"
	        "\"ttl\":0,\"expires_at\":0,\"deleted\":false,\"local_delete_time\":0}]}",
	        "\"truncated\":false}",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert(strstr(j, want[i]), "missing %s\nin %s", want[i], j);
	cr_assert(strstr(j, "\"clustering\":[\"5\"]") < strstr(j, "\"clustering\":[\"2\"]"));
	free(j);

	/* after the TTL the cell shows as a tombstone whose deletion time is its expiry */
	struct buf out;
	buf_init(&out);
	struct cerr e = {0};
	cr_assert_eq(inspect_dump(schema_current(sch), "ks", "t", "x", NOW + 200, &out, &e), 200);
	buf_put_u8(&out, 0);
	cr_assert(strstr((char *)out.data,
	                 "{\"name\":\"v\",\"path\":null,\"value\":null,\"tstamp\":1800000000000001,"
	                 "\"ttl\":0,\"expires_at\":0,\"deleted\":true,"
	                 "\"local_delete_time\":1800000100}"),
	          "%s", (char *)out.data);
	buf_release(&out);

	j = dump("gone", 200);
	cr_assert(strstr(j,
	                 "\"found\":true,\"partition_deletion\":{\"tstamp\":1800000000000009,"
	                 "\"local_delete_time\":1800000000},\"range_tombstones\":[],\"rows\":[]"),
	          "%s", j);
	free(j);
	j = dump("never", 200);
	cr_assert(strstr(j, "\"found\":false,\"partition_deletion\":null,\"range_tombstones\":[],"
	                    "\"rows\":[]"),
	          "%s", j);
	free(j);
}

/* ---- the admin endpoint hands handlers every parameter, re-encoded -------------------------- */

static char seen_key[64], seen_table[64], seen_query[256];

static int h_echo(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)ctx;
	(void)ctype;
	snprintf(seen_query, sizeof(seen_query), "%s", query);
	if (inspect_query_param(query, "key", seen_key, sizeof(seen_key)))
		seen_key[0] = 0;
	if (inspect_query_param(query, "table", seen_table, sizeof(seen_table)))
		seen_table[0] = 0;
	buf_put_str(out, "{}");
	return 200;
}

Test(inspect_admin, query_reaches_the_handler_intact)
{
	const char *net = getenv("COLONNADE_TEST_NET");
	char host[32];
	snprintf(host, sizeof(host), "%s.1", net && *net ? net : "127.0.0");
	static const struct admin_route routes[] = {{"/v1/echo", h_echo}};
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct admin *a = NULL;
	struct cerr e = {0};
	uint16_t port = 0;
	for (uint16_t p = 17391; p < 17420 && !a; p++)
		if (admin_new(loop, host, p, routes, 1, NULL, NULL, &a, &e) == 0)
			port = p;
	cr_assert_not_null(a, "%s", e.msg);
	const char *req =
	        "GET /v1/echo?keyspace=ks&table=t+x&key=a%3Ab%26c%20%C3%A9 HTTP/1.0\r\n\r\n";
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, host, &sa.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	char ans[2048];
	size_t n = 0;
	for (int i = 0; i < 2000; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		ssize_t r = read(fd, ans + n, sizeof(ans) - 1 - n);
		if (r > 0)
			n += (size_t)r;
		else if (r == 0)
			break;
		usleep(1000);
	}
	ans[n] = 0;
	close(fd);
	admin_free(a);
	ev_loop_destroy(loop);
	cr_assert(strstr(ans, "200 OK"), "%s", ans);
	cr_assert_str_eq(seen_key, "a:b&c \xc3\xa9", "query was '%s'", seen_query);
	cr_assert_str_eq(seen_table, "t x", "query was '%s'", seen_query);
}
