/*
 * A repair session against a replica that misbehaves (coordinator/repair/):
 * node A (store, schema, messaging, the repair room) repairs a keyspace of
 * RF 2 with a fake replica B on real sockets of COLONNADE_TEST_NET (ephemeral
 * ports) that answers REPAIR_TREE with a malformed tree, with a tree deeper
 * than asked for, or not at all.  Every range fails with the reason, the
 * session ends, and A starts the next one: the node keeps serving.
 */
#include "coordinator/repair/repair.h"
#include "coordinator/schema/schema.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/msgpk.h"
#include "core/ring.h"
#include "gossip/messaging.h"
#include "storage/storage.h"

#include <criterion/criterion.h>
#include <ev.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct ev_loop *L;
static struct net_loop *NL;
static struct store *ST;
static struct schema *SCH;
static struct messaging *MA, *MB;
static struct ring *RING;
static struct net_addr ADDR[2];
static char dir[64];
static int MODE; /* 0 malformed, 1 deeper than asked, 2 silent */

static struct net_addr test_addr(int n)
{
	const char *base = getenv("COLONNADE_TEST_NET");
	char h[64];
	snprintf(h, sizeof(h), "%s.%d", base && *base ? base : "127.0.0", n);
	struct net_addr a;
	cr_assert_eq(net_addr_parse(h, 0, &a, NULL), 0);
	return a;
}

static int bad_tree(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	(void)ctx;
	struct repair_req q;
	struct cerr e = {0};
	cr_assert_eq(repair_req_decode(msg->verb, msg->payload, msg->payload_len, &q, &e), 0);
	if (MODE == 2)
		return 0; /* never answers */
	struct msg_out o;
	cr_assert_eq(messaging_begin_response(m, msg, VERB_REPAIR_TREE_RSP, &o), 0);
	msgpk_put_array(o.b, 3);
	if (MODE == 0) {
		msgpk_put_bin(o.b, "garbage", 7);
	} else {
		struct merkle *t;
		cr_assert_eq(merkle_new(q.start, q.end, q.depth + 1, &t), 0);
		struct buf b;
		buf_init(&b);
		merkle_encode(t, &b);
		msgpk_put_bin(o.b, b.data, (uint32_t)b.len);
		buf_release(&b);
		merkle_free(t);
	}
	msgpk_put_uint(o.b, 0);
	msgpk_put_uint(o.b, 0);
	cr_assert_eq(messaging_commit(&o), 0);
	return 0;
}

static struct ring *ring_cb(void *ctx)
{
	(void)ctx;
	return ring_ref(RING);
}

static int addr_cb(void *ctx, const struct ring *r, size_t idx, struct net_addr *out)
{
	(void)ctx, (void)r;
	*out = ADDR[idx];
	return 0;
}

static bool alive_cb(void *ctx, const struct ring *r, size_t idx)
{
	(void)ctx, (void)r, (void)idx;
	return true;
}

static void setup(void)
{
	if (!getenv("REPAIRTEST_LOG"))
		log_set_fd(open("/dev/null", O_WRONLY));
	L = ev_loop_new(EVFLAG_AUTO);
	cr_assert_eq(net_loop_new(L, &NL), 0);
	snprintf(dir, sizeof(dir), "/tmp/colonnade-repairsess-XXXXXX");
	cr_assert(mkdtemp(dir));
	struct cerr e = {0};
	struct store_options o;
	store_options_init(&o);
	o.data_dir = dir;
	cr_assert_eq(store_open(&o, &ST, &e), 0, "%s", e.msg);
	cr_assert_eq(schema_open(ST, &SCH, &e), 0, "%s", e.msg);
	const struct schema_repl_opt simple[] = {{"class", "SimpleStrategy"},
	                                         {"replication_factor", "2"}};
	struct schema_keyspace_def ks = {
	        .name = "ks", .durable_writes = true, .repl = simple, .n_repl = 2};
	cr_assert_eq(schema_create_keyspace(SCH, &ks, 1, &e), 0, "%s", e.msg);
	const struct schema_column_def cols[] = {
	        {"k", cqltype_simple(CQLTYPE_INT), SCHEMA_COL_PARTITION_KEY, 0, false},
	        {"v", cqltype_simple(CQLTYPE_VARCHAR), SCHEMA_COL_REGULAR, -1, false},
	};
	struct schema_table_def t = {.ks = "ks",
	                             .name = "t",
	                             .cols = cols,
	                             .n_cols = 2,
	                             .gc_grace_seconds = -1,
	                             .default_time_to_live = -1};
	cr_assert_eq(schema_create_table(SCH, &t, 2, &e), 0, "%s", e.msg);
	struct host_id ha = {{1}}, hb = {{2}};
	struct messaging_config ca = {
	        .cluster_name = "repairtest", .host_id = ha, .listen = test_addr(201)};
	struct messaging_config cb = {
	        .cluster_name = "repairtest", .host_id = hb, .listen = test_addr(202)};
	cr_assert_eq(messaging_new(NL, &ca, &MA, &e), 0, "%s", e.msg);
	cr_assert_eq(messaging_new(NL, &cb, &MB, &e), 0, "%s", e.msg);
	ADDR[0] = *messaging_listen_addr(MA);
	ADDR[1] = *messaging_listen_addr(MB);
	messaging_register(MB, VERB_REPAIR_TREE, bad_tree, NULL);
	int64_t ta[] = {-1000}, tb[] = {INT64_MAX / 2};
	struct ring_endpoint eps[2] = {{.tokens = ta, .n_tokens = 1},
	                               {.tokens = tb, .n_tokens = 1}};
	memcpy(eps[0].host_id, ha.b, 16);
	memcpy(eps[1].host_id, hb.b, 16);
	snprintf(eps[0].address, sizeof(eps[0].address), "A");
	snprintf(eps[1].address, sizeof(eps[1].address), "B");
	snprintf(eps[0].dc, sizeof(eps[0].dc), "dc1");
	snprintf(eps[1].dc, sizeof(eps[1].dc), "dc1");
	snprintf(eps[0].rack, sizeof(eps[0].rack), "r1");
	snprintf(eps[1].rack, sizeof(eps[1].rack), "r1");
	cr_assert_eq(ring_new(eps, 2, &RING, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	messaging_free(MA);
	messaging_free(MB);
	ring_unref(RING);
	schema_free(SCH);
	store_close(ST);
	net_loop_free(NL);
	ev_loop_destroy(L);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(repair_session, .init = setup, .fini = teardown);

static void tick(struct ev_loop *l, ev_timer *w, int r)
{
	(void)l, (void)w, (void)r;
}

/* Run one session to its end; its JSON. */
static void run_session(struct repair *r, struct buf *out)
{
	struct repair_options o = {.keyspace = "ks"};
	uint64_t id;
	struct cerr e = {0};
	cr_assert_eq(repair_start(r, &o, &id, &e), 0, "%s", e.msg);
	ev_timer t;
	ev_timer_init(&t, tick, 0.005, 0.005);
	ev_timer_start(L, &t);
	int64_t end = clock_mono_ms() + 10000;
	for (;;) {
		out->len = 0;
		struct jw w;
		jw_init(&w, out);
		cr_assert_eq(repair_status_json(r, id, &w), 0);
		buf_put_u8(out, 0);
		if (!strstr((const char *)out->data, "\"state\":\"running\""))
			break;
		cr_assert_lt(clock_mono_ms(), end, "the session did not end: %s", out->data);
		ev_run(L, EVRUN_ONCE);
	}
	ev_timer_stop(L, &t);
}

/* A repair room on node A; interval_ms > 0 runs the background scheduler too. */
static struct repair *new_repair_tracking(int64_t interval_ms, unsigned max_table_ages)
{
	struct repair_config c = {.loop = L,
	                          .msg = MA,
	                          .store = ST,
	                          .schema = SCH,
	                          .local_dc = "dc1",
	                          .timeout_ms = 300,
	                          .interval_ms = interval_ms,
	                          .max_table_ages = max_table_ages,
	                          .ring = ring_cb,
	                          .addr_of = addr_cb,
	                          .alive = alive_cb};
	c.host_id[0] = 1;
	struct repair *r;
	struct cerr e = {0};
	cr_assert_eq(repair_new(&c, &r, &e), 0, "%s", e.msg);
	return r;
}

static struct repair *new_repair(int64_t interval_ms)
{
	return new_repair_tracking(interval_ms, 0);
}

static void expect_failed(const char *json, const char *reason)
{
	cr_expect(strstr(json, "\"ranges_total\":2"), "%s", json);
	cr_expect(strstr(json, "\"ranges_failed\":2"), "both ranges fail: %s", json);
	cr_expect(strstr(json, reason), "the reason names '%s': %s", reason, json);
}

Test(repair_session, malformed_deeper_or_missing_trees_fail_their_ranges)
{
	struct repair *r = new_repair(0);
	struct buf out;
	buf_init(&out);
	MODE = 0;
	run_session(r, &out);
	expect_failed((const char *)out.data, "sent a malformed tree");
	MODE = 1;
	run_session(r, &out); /* the node keeps serving: the next session starts */
	expect_failed((const char *)out.data, "where depth");
	MODE = 2;
	int64_t t0 = clock_mono_ms();
	run_session(r, &out);
	expect_failed((const char *)out.data, "REPAIR_TREE to B timed out after 300 ms");
	cr_expect_lt(clock_mono_ms() - t0, 2000, "two ranges time out in about 600 ms");
	buf_release(&out);
	repair_stop(r);     /* its verbs go while messaging lives */
	messaging_free(MA); /* then messaging: it ends the requests in flight */
	MA = NULL;
	repair_free(r);
}

struct first_rows {
	int64_t t_ms, fresh_ms; /* started_ms of the first row of ks.t and of ks.fresh, 0: none */
};

static int first_row(void *ctx, const struct repair_history_row *row)
{
	struct first_rows *f = ctx;
	int64_t *at = strcmp(row->table, "t") == 0       ? &f->t_ms
	              : strcmp(row->table, "fresh") == 0 ? &f->fresh_ms
	                                                 : NULL;
	if (at && (!*at || row->started_ms < *at))
		*at = row->started_ms;
	return 0;
}

/*
 * The background scheduler repairs a range that was never repaired when its table is
 * old — ks.t's DDL is from 1970, as a table a new or replacing node learns with the
 * schema — and a table created now only once it is due: here half its gc_grace_seconds
 * of 20, 10 s after its creation, whatever the interval (sessions fail against the
 * malformed replica; a failed range stays due, so ks.t is planned every tick).
 */
Test(repair_session, a_new_table_is_first_repaired_when_due_an_old_one_at_once)
{
	MODE = 0;
	struct cerr e = {0};
	const struct schema_column_def cols[] = {
	        {"k", cqltype_simple(CQLTYPE_INT), SCHEMA_COL_PARTITION_KEY, 0, false},
	};
	struct schema_table_def fresh = {.ks = "ks",
	                                 .name = "fresh",
	                                 .cols = cols,
	                                 .n_cols = 1,
	                                 .gc_grace_seconds = 20,
	                                 .default_time_to_live = -1};
	int64_t created_ms = clock_wall_us() / 1000;
	cr_assert_eq(schema_create_table(SCH, &fresh, created_ms * 1000, &e), 0, "%s", e.msg);
	struct repair *r = new_repair(20000); /* a tick every 2 s, due after 18 s */
	ev_timer t;
	ev_timer_init(&t, tick, 0.005, 0.005);
	ev_timer_start(L, &t);
	struct first_rows f = {0};
	int64_t end = clock_mono_ms() + 60000;
	while (!f.fresh_ms && clock_mono_ms() < end) {
		ev_run(L, EVRUN_ONCE);
		f = (struct first_rows){0};
		cr_assert_eq(repair_history_scan(ST, first_row, &f, &e), 0, "%s", e.msg);
	}
	ev_timer_stop(L, &t);
	cr_expect_gt(f.t_ms, 0, "the old table was repaired");
	cr_expect_lt(f.t_ms - created_ms, 9000, "the old table at the first ticks: %lld ms",
	             (long long)(f.t_ms - created_ms));
	cr_expect_gt(f.fresh_ms, 0, "the new table was repaired once due");
	cr_expect_geq(f.fresh_ms - created_ms, 10000,
	              "the new table not before half its gc_grace: %lld ms after its creation",
	              (long long)(f.fresh_ms - created_ms));
	repair_stop(r);
	messaging_free(MA);
	MA = NULL;
	repair_free(r);
}

static int count_row(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)key, (void)klen, (void)val, (void)vlen;
	(*(int *)ctx)++;
	return 0;
}

/* Rows of the system CF under "repair/<kind>/" + table id (history.c's key layout). */
static int repair_rows(char kind, const uint8_t id[16])
{
	uint8_t prefix[9 + 16];
	snprintf((char *)prefix, 10, "repair/%c/", kind);
	memcpy(prefix + 9, id, 16);
	int n = 0;
	struct cerr e = {0};
	cr_assert_geq(store_kv_scan(ST, STORE_CF_SYSTEM, prefix, sizeof(prefix), count_row, &n, &e),
	              0, "%s", e.msg);
	return n;
}

static void table_id(const char *ks, const char *table, uint8_t id[16])
{
	const struct schema_snap *snap = schema_current_ref(SCH);
	const struct schema_table *t = schema_snap_table(snap, ks, table);
	cr_assert_not_null(t, "%s.%s", ks, table);
	memcpy(id, t->id, 16);
	schema_snap_unref(SCH, snap);
}

/* B tells A that it repaired the whole of one of A's ranges of table `id` (REPAIR_DONE). */
static void send_done(const uint8_t id[16])
{
	struct msg_out o;
	cr_assert_eq(messaging_begin_oneway(MB, &ADDR[0], VERB_REPAIR_DONE, &o), 0);
	repair_done_put(o.b, id, -1000, INT64_MAX / 2, clock_wall_us() / 1000000);
	cr_assert_eq(messaging_commit(&o), 0);
}

/* Run A's loop until both counts of table `id` are (want) or (!want) zero, 10 s at most. */
static void run_until_rows(const uint8_t id[16], bool want, const char *what)
{
	ev_timer t;
	ev_timer_init(&t, tick, 0.005, 0.005);
	ev_timer_start(L, &t);
	int64_t end = clock_mono_ms() + 10000;
	while ((repair_rows('f', id) > 0) != want || (repair_rows('r', id) > 0) != want) {
		cr_assert_lt(clock_mono_ms(), end, "%s: repair/f rows %d, repair/r rows %d", what,
		             repair_rows('f', id), repair_rows('r', id));
		ev_run(L, EVRUN_ONCE);
	}
	ev_timer_stop(L, &t);
}

/*
 * A table's repair state keyed by its id — when this node first planned it
 * (repair/f/<id>, written by the scheduler's tick) and when each of its ranges was last
 * repaired (repair/r/<id>..., here from a peer's REPAIR_DONE) — is deleted once the
 * table is dropped, by DROP TABLE or DROP KEYSPACE, and only that table's; rows of a
 * table dropped before this node started (left by an older version) go at its first
 * tick.  Table ids are never reused, so nothing would ever read them again.
 */
Test(repair_session, a_dropped_tables_repair_rows_are_deleted)
{
	MODE = 0; /* sessions fail: every range stays never repaired, planned every tick */
	struct cerr e = {0};
	const struct schema_repl_opt simple[] = {{"class", "SimpleStrategy"},
	                                         {"replication_factor", "2"}};
	struct schema_keyspace_def ks2 = {
	        .name = "ks2", .durable_writes = true, .repl = simple, .n_repl = 2};
	cr_assert_eq(schema_create_keyspace(SCH, &ks2, 3, &e), 0, "%s", e.msg);
	const struct schema_column_def cols[] = {
	        {"k", cqltype_simple(CQLTYPE_INT), SCHEMA_COL_PARTITION_KEY, 0, false},
	};
	struct schema_table_def other = {.ks = "ks2",
	                                 .name = "other",
	                                 .cols = cols,
	                                 .n_cols = 1,
	                                 .gc_grace_seconds = -1,
	                                 .default_time_to_live = -1};
	cr_assert_eq(schema_create_table(SCH, &other, 4, &e), 0, "%s", e.msg);
	uint8_t t_id[16], other_id[16], stale_id[16];
	table_id("ks", "t", t_id);
	table_id("ks2", "other", other_id);
	memset(stale_id, 0xab, 16); /* a table dropped while an older version ran */
	uint8_t k[9 + 32], v[8] = {0, 0, 0, 0, 0, 0, 0, 1};
	memcpy(k, "repair/f/", 9);
	memcpy(k + 9, stale_id, 16);
	cr_assert_eq(store_kv_put(ST, STORE_CF_SYSTEM, k, 9 + 16, v, 8, &e), 0, "%s", e.msg);
	memcpy(k, "repair/r/", 9);
	memset(k + 25, 0, 16);
	cr_assert_eq(store_kv_put(ST, STORE_CF_SYSTEM, k, sizeof(k), v, 8, &e), 0, "%s", e.msg);

	struct repair *r = new_repair(10000); /* a tick every second */
	send_done(t_id);
	send_done(other_id);
	run_until_rows(t_id, true, "ks.t planned and repaired");
	run_until_rows(other_id, true, "ks2.other planned and repaired");
	run_until_rows(stale_id, false, "the rows of a table unknown at start");

	cr_assert_eq(schema_drop_table(SCH, "ks", "t", 5, &e), 0, "%s", e.msg);
	run_until_rows(t_id, false, "DROP TABLE ks.t");
	cr_expect_gt(repair_rows('f', other_id), 0, "another table's rows stay");
	cr_expect_gt(repair_rows('r', other_id), 0, "another table's rows stay");

	cr_assert_eq(schema_drop_keyspace(SCH, "ks2", 6, &e), 0, "%s", e.msg);
	run_until_rows(other_id, false, "DROP KEYSPACE ks2");
	repair_stop(r);
	messaging_free(MA);
	MA = NULL;
	repair_free(r);
}

/* Tables of ks named <prefix>0.. shown in the per-table age metric. */
static int tables_in_metric(struct repair *r, const char *prefix)
{
	struct buf b;
	buf_init(&b);
	repair_metrics(r, &b);
	buf_put_u8(&b, 0);
	char needle[64];
	snprintf(needle, sizeof(needle), "{keyspace=\"ks\",table=\"%s", prefix);
	int n = 0;
	for (const char *p = (const char *)b.data; (p = strstr(p, needle)) != NULL; p++)
		n++;
	buf_release(&b);
	return n;
}

/* Run A's loop until `want` tables named <prefix>... are in the metric, 10 s at most. */
static void run_until_metric(struct repair *r, const char *prefix, int want)
{
	ev_timer t;
	ev_timer_init(&t, tick, 0.005, 0.005);
	ev_timer_start(L, &t);
	int64_t end = clock_mono_ms() + 10000;
	while (tables_in_metric(r, prefix) != want) {
		cr_assert_lt(clock_mono_ms(), end, "%d tables %s... in the metric, want %d",
		             tables_in_metric(r, prefix), prefix, want);
		ev_run(L, EVRUN_ONCE);
	}
	ev_timer_stop(L, &t);
}

static void create_tables(const char *prefix, int n)
{
	struct cerr e = {0};
	const struct schema_column_def cols[] = {
	        {"k", cqltype_simple(CQLTYPE_INT), SCHEMA_COL_PARTITION_KEY, 0, false},
	};
	for (int i = 0; i < n; i++) {
		char name[16];
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		struct schema_table_def d = {.ks = "ks",
		                             .name = name,
		                             .cols = cols,
		                             .n_cols = 1,
		                             .gc_grace_seconds = -1,
		                             .default_time_to_live = -1};
		cr_assert_eq(schema_create_table(SCH, &d, clock_wall_us(), &e), 0, "%s", e.msg);
	}
}

/*
 * The scheduler tracks the age of a bounded number of tables (256; 16 here, so the test
 * creates tens of tables, not hundreds): the slots of dropped tables are freed at the next
 * tick, so tables created after many were dropped are tracked too.  Here 12 tables are
 * created and dropped, then 12 others created: kept, the dropped ones' slots would leave
 * room for only 4 of them.
 */
Test(repair_session, dropped_tables_free_their_age_slots_for_new_ones)
{
	MODE = 0;
	enum { SLOTS = 16, N = 12 };
	struct cerr e = {0};
	/* created now: planned (a slot each), not due */
	create_tables("a", N);
	struct repair *r = new_repair_tracking(10000, SLOTS); /* a tick every second */
	run_until_metric(r, "a", N);
	for (int i = 0; i < N; i++) {
		char name[16];
		snprintf(name, sizeof(name), "a%d", i);
		cr_assert_eq(schema_drop_table(SCH, "ks", name, clock_wall_us(), &e), 0, "%s",
		             e.msg);
	}
	create_tables("b", N);
	run_until_metric(r, "b", N);
	cr_expect_eq(tables_in_metric(r, "a"), 0, "the dropped tables left the metric");
	repair_stop(r);
	messaging_free(MA);
	MA = NULL;
	repair_free(r);
}

struct answer {
	bool got;
	int status;
};

static void on_answer(void *ctx, int status, const struct msg_in *rsp)
{
	(void)rsp;
	struct answer *a = ctx;
	a->got = true;
	a->status = status;
}

/*
 * repair_free() leaves no handler behind with the freed room as its context: a REPAIR_TREE
 * that reaches the node after two rooms were made and freed (messaging still up) is
 * answered "no handler", and the verbs can be claimed again.
 */
Test(repair_session, a_freed_room_leaves_no_repair_verb_handlers)
{
	for (int i = 0; i < 2; i++)
		repair_free(new_repair(0));
	struct repair_req q = {.verb = VERB_REPAIR_TREE, .session = 1, .end = 5, .depth = 1};
	table_id("ks", "t", q.table_id);
	struct answer a = {0};
	struct msg_out o;
	cr_assert_eq(
	        messaging_begin_request(MB, &ADDR[0], VERB_REPAIR_TREE, 2000, on_answer, &a, &o),
	        0);
	repair_req_put(o.b, &q);
	cr_assert_eq(messaging_commit(&o), 0);
	int64_t end = clock_mono_ms() + 10000;
	while (!a.got) {
		cr_assert_lt(clock_mono_ms(), end, "no answer to REPAIR_TREE");
		ev_run(L, EVRUN_ONCE);
	}
	cr_expect_eq(a.status, COL_EUNSUPPORTED, "answered %d", a.status);
	struct repair *r = new_repair(0);
	repair_stop(r);
	repair_free(r);
}
