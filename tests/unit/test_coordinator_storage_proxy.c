/*
 * coordinator/storage_proxy + verbs: in-process clusters.  Each "node" is a
 * store in a temp dir, a messaging instance on its own loopback address
 * (COLONNADE_TEST_NET, default 127.0.0; ephemeral ports), the replica verbs
 * and a storage proxy, all on one libev loop, with a ring over them.
 * Liveness comes from a bitmap the tests flip; faults are real where it
 * matters: a node whose messaging is gone (connection refused), replicas that
 * accept messages and never answer.
 */
#include "coordinator/replication/storage_proxy.h"
#include "coordinator/replication/router.h"
#include "coordinator/schema/schema.h"
#include "coordinator/replication/storage_proxy_int.h" /* SP_READ_INLINE */

#include "coordinator/replication/verbs.h"
#include "core/clock.h"
#include "core/cqlproto.h"
#include "core/log.h"
#include "core/msgpk.h"

#include <criterion/criterion.h>
#include <ev.h>
#include <fcntl.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXN 10

struct tnode {
	char dir[64];
	struct store *store;
	struct store_lane *lane; /* local writes through group commit, as a node makes them */
	struct store_table *tbl;
	struct messaging *msg;
	struct verbs *verbs;
	struct storage_proxy *sp;
	struct net_addr addr;
	struct host_id hid;
	bool down;   /* what the failure detector says */
	bool silent; /* swallow MUTATION and READ: accept, never answer */
	unsigned swallowed;
	char dc[16];
};

static struct ev_loop *L;
static struct net_loop *NL;
static struct tnode N[MAXN];
static size_t NN;
static struct ring *RING;
static struct replication REP;
/*
 * Request timeouts.  A test that waits for a timeout (a silent or refusing replica) takes
 * the short ones (short_timeouts(), before its cluster starts); every other test the long
 * ones, so that no request live replicas answer times out on a loaded machine, where the
 * one loop running every node can stall for hundreds of milliseconds (a paged read of
 * many steps has one deadline for all of them).
 */
#define WTO_SHORT 1000
#define RTO_SHORT 1200
#define TO_LONG   5000
static unsigned WTO = TO_LONG, RTO = TO_LONG;
/* A request answers by its timeout at the latest: the tests wait for that much longer. */
#define ANSWER_MS (TO_LONG + 15000)

static void short_timeouts(void)
{
	WTO = WTO_SHORT;
	RTO = RTO_SHORT;
}
static unsigned PAGE_ROWS; /* replica_page_rows (0: the default) */
static unsigned MAX_REQ;   /* max_requests (0: the default) */
static unsigned SHED_MS;   /* the replicas' mutation_shed_ms (0: off) */
/* Each node's byte budget for mutations in flight (its proxy's and forwarder's), bounded at
 * BYTES_MAX (0: the nodes have none) */
static uint64_t BYTES_MAX;
static struct admit_bytes BYTES[MAXN];
static struct ring_endpoint EPS[MAXN];

/* The hint sink: what the coordinator asked to hint, per node (by host id). */
struct hinted {
	int n;
	struct buf last;
	unsigned flags; /* of the last hint */
	int by;         /* hints this node stored as a forwarder */
};
static struct hinted HINTS[MAXN];
static bool USE_HINTS;
static bool HINTS_FAIL; /* the sink cannot store (disabled, disk full) */

/* The node whose store stops writes at its first L0 file (stall_writes(); -1: none). */
static int STALL_NODE = -1;
static void stall_release_join(void);

static const uint8_t TABLE_ID[16] = {0x7a, 0xb1, 0xe0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};

static struct net_addr test_addr(int n, uint16_t port)
{
	const char *base = getenv("COLONNADE_TEST_NET");
	char h[64];
	snprintf(h, sizeof(h), "%s.%d", base && *base ? base : "127.0.0", n);
	struct net_addr a;
	cr_assert_eq(net_addr_parse(h, port, &a, NULL), 0);
	return a;
}

static void tick_cb(struct ev_loop *l, ev_timer *w, int r)
{
	(void)l;
	(void)w;
	(void)r;
}

static bool run_until(const bool *flag, int ms)
{
	ev_now_update(L); /* the loop's clock is stale after slow set-up work (store opens) */
	ev_timer t;
	ev_timer_init(&t, tick_cb, 0.005, 0.005);
	ev_timer_start(L, &t);
	int64_t end = clock_mono_ms() + ms;
	while (!*flag && clock_mono_ms() < end)
		ev_run(L, EVRUN_ONCE);
	ev_timer_stop(L, &t);
	return *flag;
}

static void run_ms(int ms)
{
	bool never = false;
	run_until(&never, ms);
}

/* The test node behind ring node idx (by host id: snapshots may order nodes differently). */
static struct tnode *node_of(const struct ring *r, size_t idx)
{
	const struct ring_node *rn = ring_node_at(r, idx);
	for (size_t i = 0; i < NN; i++)
		if (memcmp(rn->host_id, N[i].hid.b, 16) == 0)
			return &N[i];
	return NULL;
}

static int hint_fn(void *ctx, const struct ring *r, size_t idx, const uint8_t *mut, size_t len,
                   unsigned flags);
static bool v_alive_fn(void *ctx, const struct net_addr *peer);
static int v_hint_fn(void *ctx, const struct net_addr *peer, const uint8_t *mut, size_t len);

static bool alive_fn(void *ctx, const struct ring *r, size_t idx)
{
	(void)ctx;
	struct tnode *n = node_of(r, idx);
	return n && !n->down;
}

static int addr_fn(void *ctx, const struct ring *r, size_t idx, struct net_addr *out)
{
	(void)ctx;
	struct tnode *n = node_of(r, idx);
	if (!n)
		return COL_ENOTFOUND;
	*out = n->addr;
	return 0;
}

static const struct cqltype *PK_T[1], *CK_T[1];
static struct store_column COLS[2];

static void open_table(struct tnode *n)
{
	PK_T[0] = cqltype_simple(CQLTYPE_VARCHAR);
	CK_T[0] = cqltype_simple(CQLTYPE_INT);
	COLS[0] = (struct store_column){.id = 1, .type = cqltype_simple(CQLTYPE_VARCHAR)};
	COLS[1] = (struct store_column){.id = 2, .type = cqltype_simple(CQLTYPE_INT)};
	struct store_table_desc d = {.keyspace = "ks",
	                             .name = "t",
	                             .n_pk = 1,
	                             .pk_types = PK_T,
	                             .n_ck = 1,
	                             .ck_types = CK_T,
	                             .n_cols = 2,
	                             .cols = COLS,
	                             .gc_grace_seconds = 864000};
	memcpy(d.id, TABLE_ID, 16);
	struct cerr e = {0};
	cr_assert_eq(store_table_open(n->store, &d, &n->tbl, &e), 0, "%s", e.msg);
}

static int silent_handler(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	(void)m;
	(void)msg;
	struct tnode *n = ctx;
	n->swallowed++;
	return 0;
}

/* (Re)start node i's messaging, verbs and proxy on its address. */
static void node_up(size_t i)
{
	struct tnode *n = &N[i];
	struct messaging_config c = {0};
	c.cluster_name = "sptest";
	c.host_id = n->hid;
	c.listen = n->addr;
	c.reconnect_min_ms = 20;
	c.reconnect_max_ms = 50;
	c.connect_timeout_ms = 300;
	struct cerr e = {0};
	cr_assert_eq(messaging_new(NL, &c, &n->msg, &e), 0, "%s", e.msg);
	n->addr = *messaging_listen_addr(n->msg); /* keeps the port on restarts */
	if (!n->lane)
		cr_assert_eq(store_lane_new(n->store, L, &n->lane, &e), 0, "%s", e.msg);
	struct verbs_config vc = {.msg = n->msg,
	                          .store = n->store,
	                          .lane = n->lane,
	                          .forward_timeout_ms = WTO * 3 / 4, /* as the node sets it */
	                          .mutation_shed_ms = SHED_MS,
	                          .peer_alive = USE_HINTS ? v_alive_fn : NULL,
	                          .hint = USE_HINTS ? v_hint_fn : NULL,
	                          .hint_ctx = n,
	                          .bytes = BYTES_MAX ? &BYTES[i] : NULL};
	cr_assert_eq(verbs_new(&vc, &n->verbs, &e), 0, "%s", e.msg);
	struct storage_proxy_config sc = {.msg = n->msg,
	                                  .store = n->store,
	                                  .lane = n->lane,
	                                  .write_timeout_ms = WTO,
	                                  .read_timeout_ms = RTO,
	                                  .range_timeout_ms = RTO,
	                                  .is_alive = alive_fn,
	                                  .hint = USE_HINTS ? hint_fn : NULL,
	                                  .replica_page_rows = PAGE_ROWS,
	                                  .max_requests = MAX_REQ,
	                                  .bytes = BYTES_MAX ? &BYTES[i] : NULL,
	                                  .addr_of = addr_fn};
	cr_assert_eq(storage_proxy_new(&sc, &n->sp, &e), 0, "%s", e.msg);
	if (n->silent) {
		messaging_register(n->msg, VERB_MUTATION, silent_handler, n);
		messaging_register(n->msg, VERB_READ, silent_handler, n);
	}
}

/* Stop node i's networking (its store stays): peers get connection refused. */
static void node_cut(size_t i)
{
	struct tnode *n = &N[i];
	/* writes in the lane answer through messaging: they finish first */
	store_lane_free(n->lane);
	n->lane = NULL;
	messaging_free(n->msg);
	storage_proxy_free(n->sp);
	verbs_free(n->verbs);
	n->msg = NULL;
	n->sp = NULL;
	n->verbs = NULL;
}

static void set_silent(size_t i, bool on)
{
	N[i].silent = on;
	if (on) {
		messaging_register(N[i].msg, VERB_MUTATION, silent_handler, &N[i]);
		messaging_register(N[i].msg, VERB_READ, silent_handler, &N[i]);
	} else {
		/* fresh handlers (no forwards are in flight in the tests that do this) */
		verbs_free(N[i].verbs);
		struct verbs_config vc = {.msg = N[i].msg,
		                          .store = N[i].store,
		                          .lane = N[i].lane,
		                          .peer_alive = USE_HINTS ? v_alive_fn : NULL,
		                          .hint = USE_HINTS ? v_hint_fn : NULL,
		                          .hint_ctx = &N[i]};
		cr_assert_eq(verbs_new(&vc, &N[i].verbs, NULL), 0);
	}
}

/*
 * A cluster of n nodes: dcs[i] names node i's DC.  Each node owns 4 tokens
 * spread over the ring.  rep_keys/vals: the keyspace's replication.
 */
static void cluster(size_t n, const char *const *dcs, const char *const *rk, const char *const *rv,
                    size_t nr)
{
	L = ev_loop_new(EVFLAG_AUTO);
	cr_assert_eq(net_loop_new(L, &NL), 0);
	if (!getenv("SPTEST_LOG"))
		log_set_fd(open("/dev/null", O_WRONLY));
	NN = n;
	static int64_t toks[MAXN][4];
	struct ring_endpoint *eps = EPS;
	memset(EPS, 0, sizeof(EPS));
	uint64_t step = UINT64_MAX / (4 * n);
	for (size_t i = 0; i < n; i++) {
		struct tnode *t = &N[i];
		memset(t, 0, sizeof(*t));
		BYTES[i] = (struct admit_bytes){.max = BYTES_MAX};
		snprintf(t->dc, sizeof(t->dc), "%s", dcs[i]);
		snprintf(t->dir, sizeof(t->dir), "/tmp/colonnade-sp-XXXXXX");
		cr_assert(mkdtemp(t->dir) != NULL);
		struct store_options o;
		store_options_init(&o);
		o.data_dir = t->dir;
		o.block_cache_bytes = 4u << 20;
		o.write_buffer_bytes = 4u << 20;
		o.background_jobs = 1;
		if ((int)i == STALL_NODE)
			o.l0_compaction_trigger = o.l0_slowdown_trigger = o.l0_stop_trigger = 1;
		struct cerr e = {0};
		cr_assert_eq(store_open(&o, &t->store, &e), 0, "%s", e.msg);
		open_table(t);
		for (int k = 0; k < HOST_ID_LEN; k++)
			t->hid.b[k] = (uint8_t)(0x40 + i * 16 + k);
		t->addr = test_addr((int)i + 1, 0);
		node_up(i);
		for (size_t j = 0; j < 4; j++)
			toks[i][j] = (int64_t)((uint64_t)INT64_MIN + step / 2 + (j * n + i) * step);
		memcpy(eps[i].host_id, t->hid.b, 16);
		net_addr_host(&t->addr, eps[i].address, sizeof(eps[i].address));
		snprintf(eps[i].dc, sizeof(eps[i].dc), "%s", dcs[i]);
		snprintf(eps[i].rack, sizeof(eps[i].rack), "rack%zu", i);
		eps[i].tokens = toks[i];
		eps[i].n_tokens = 4;
	}
	struct cerr e = {0};
	cr_assert_eq(ring_new(eps, n, &RING, &e), 0, "%s", e.msg);
	cr_assert_eq(replication_parse(rk, rv, nr, &REP, &e), 0, "%s", e.msg);
}

static void cluster_simple(size_t n, const char *rf)
{
	const char *dcs[MAXN];
	for (size_t i = 0; i < MAXN; i++)
		dcs[i] = "dc1";
	const char *k[] = {"class", "replication_factor"}, *v[] = {"SimpleStrategy", rf};
	cluster(n, dcs, k, v, 2);
}

static void cluster_2dc(void)
{
	const char *dcs[] = {"dc1", "dc1", "dc1", "dc2", "dc2", "dc2"};
	const char *k[] = {"class", "dc1", "dc2"}, *v[] = {"NetworkTopologyStrategy", "3", "3"};
	cluster(6, dcs, k, v, 3);
}

static void teardown(void)
{
	stall_release_join(); /* a lane's writer held by the stall finishes */
	STALL_NODE = -1;
	for (size_t i = 0; i < NN; i++) {
		store_lane_free(N[i].lane);
		N[i].lane = NULL;
	}
	for (size_t i = 0; i < NN; i++)
		if (N[i].msg)
			messaging_free(N[i].msg);
	for (size_t i = 0; i < NN; i++) {
		storage_proxy_free(N[i].sp);
		verbs_free(N[i].verbs);
		store_close(N[i].store);
		char cmd[1024];
		snprintf(cmd, sizeof(cmd), "rm -rf %.63s", N[i].dir);
		cr_expect_eq(system(cmd), 0);
	}
	ring_unref(RING);
	RING = NULL;
	for (size_t i = 0; i < MAXN; i++)
		buf_release(&HINTS[i].last);
	memset(HINTS, 0, sizeof(HINTS));
	USE_HINTS = false;
	HINTS_FAIL = false;
	PAGE_ROWS = 0;
	MAX_REQ = 0;
	SHED_MS = 0;
	BYTES_MAX = 0;
	WTO = RTO = TO_LONG;
	net_loop_free(NL);
	ev_loop_destroy(L);
	log_set_fd(2);
}

/* ---- request helpers ------------------------------------------------------------------------- */

struct outcome {
	bool done;
	struct cerr res;
	int rows;
	char value[64]; /* col 1 of the last row */
	int64_t ts;
	int seen_n; /* col 2 of the last row */
	char keys[256][16];
	int cks[256];
};

static void on_done(void *ctx, const struct cerr *res)
{
	struct outcome *o = ctx;
	cr_assert(!o->done, "done called twice");
	o->done = true;
	o->res = *res;
}

static int on_row(void *ctx, const struct store_partition *p, const struct store_row *r)
{
	struct outcome *o = ctx;
	if (o->rows < 256) {
		snprintf(o->keys[o->rows], 16, "%.*s", (int)p->pk[0].len, (const char *)p->pk[0].p);
		o->cks[o->rows] = r->n_ck ? (int)(int32_t)be32_load(r->ck[0].p) : -1;
	}
	o->rows++;
	o->value[0] = 0;
	for (size_t i = 0; i < r->n_cells; i++) {
		cr_assert(!r->cells[i].tombstone, "tombstones never reach the caller");
		if (r->cells[i].col == 1) {
			snprintf(o->value, sizeof(o->value), "%.*s", (int)r->cells[i].value_len,
			         (const char *)r->cells[i].value);
			o->ts = r->cells[i].ts;
		}
		if (r->cells[i].col == 2)
			o->seen_n = (int)be32_load(r->cells[i].value);
	}
	return 0;
}

static void ck_of(int ck, uint8_t out[4])
{
	be32_store(out, (uint32_t)ck);
}

/* A mutation of key/ck on node i's table: col 1 = value (NULL: delete the cell). */
static void mk_mutation(struct store_mutation *m, size_t i, const char *key, int ck,
                        const char *value, int64_t ts)
{
	struct store_value pk = {key, strlen(key)};
	uint8_t c[4];
	ck_of(ck, c);
	struct store_value cv = {c, 4};
	struct cerr e = {0};
	cr_assert_eq(store_mutation_init(m, N[i].tbl, &pk, 1, 0, &e), 0, "%s", e.msg);
	if (value) {
		cr_assert_eq(store_mutation_row_marker(m, &cv, 1, ts, 0), 0);
		cr_assert_eq(
		        store_mutation_set_cell(m, &cv, 1, 1, NULL, value, strlen(value), ts, 0),
		        0);
	} else {
		cr_assert_eq(store_mutation_delete_cell(m, &cv, 1, 1, NULL, ts), 0);
	}
}

static struct cerr write_at(size_t coord, uint16_t cl, const char *key, int ck, const char *value,
                            int64_t ts)
{
	struct store_mutation m;
	mk_mutation(&m, coord, key, ck, value, ts);
	struct outcome o = {0};
	struct store_mutation *ms[1] = {&m};
	ev_now_update(L);
	storage_proxy_write(N[coord].sp, RING, &REP, cl, ms, 1, CERR_WRITE_SIMPLE, on_done, &o);
	store_mutation_release(&m);
	cr_assert(run_until(&o.done, ANSWER_MS), "write never answered");
	return o.res;
}

/* Apply a write to one node's store only (a replica that alone saw it). */
static void write_local(size_t i, const char *key, int ck, const char *value, int64_t ts)
{
	struct store_mutation m;
	mk_mutation(&m, i, key, ck, value, ts);
	struct cerr e = {0};
	cr_assert_eq(store_apply(N[i].store, &m, &e), 0, "%s", e.msg);
	store_mutation_release(&m);
}

static struct outcome read_at(size_t coord, uint16_t cl, const char *key)
{
	struct store_value pk = {key, strlen(key)};
	struct partition_read rd = {.table = N[coord].tbl, .pk = &pk, .n_pk = 1};
	struct outcome o = {0};
	ev_now_update(L);
	storage_proxy_read_partition(N[coord].sp, RING, &REP, cl, &rd, on_row, &o, on_done, &o);
	cr_assert(run_until(&o.done, ANSWER_MS), "read never answered");
	return o;
}

/* What node i's own store holds for key/ck col 1 ("" if nothing). */
static struct outcome local_read(size_t i, const char *key)
{
	struct store_value pk = {key, strlen(key)};
	struct outcome o = {0};
	struct cerr e = {0};
	cr_assert_eq(store_read_partition(N[i].tbl, &pk, 1, NULL, 0, 0, 0, on_row, &o, &e), 0, "%s",
	             e.msg);
	return o;
}

static size_t replicas_of(const char *key, uint32_t *out)
{
	struct store_value pk = {key, strlen(key)};
	int64_t token;
	cr_assert_eq(store_partition_token(N[0].tbl, &pk, 1, &token, NULL), 0);
	return ring_replicas(RING, &REP, token, out, SP_MAX_REPLICAS);
}

static bool is_replica(const char *key, size_t node)
{
	uint32_t r[SP_MAX_REPLICAS];
	size_t n = replicas_of(key, r);
	for (size_t i = 0; i < n; i++)
		if (r[i] == node)
			return true;
	return false;
}

/*
 * Waiting for the cluster to settle: the loop runs until a condition holds, at most
 * SETTLE_MS.  Replicas apply writes on their store lanes' threads and requests end at
 * their timeouts, so on a loaded machine "after 30 ms" or "after the write timeout and
 * 200 ms" is not "after it happened"; the conditions are what the checks that follow
 * rely on, and those checks stay as they are.
 */
#define SETTLE_MS 20000

typedef bool (*settled_fn)(const void *arg);

static bool run_until_settled(settled_fn fn, const void *arg)
{
	ev_now_update(L);
	ev_timer t;
	ev_timer_init(&t, tick_cb, 0.005, 0.005);
	ev_timer_start(L, &t);
	int64_t end = clock_mono_ms() + SETTLE_MS;
	bool ok;
	while (!(ok = fn(arg)) && clock_mono_ms() < end)
		ev_run(L, EVRUN_ONCE);
	ev_timer_stop(L, &t);
	return ok;
}

/* Every node's coordinator has ended every request (acknowledged, failed or timed out). */
static bool proxies_idle(const void *arg)
{
	(void)arg;
	for (size_t i = 0; i < NN; i++) {
		if (!N[i].sp)
			continue;
		struct storage_proxy_stats st;
		storage_proxy_get_stats(N[i].sp, &st);
		if (st.in_flight)
			return false;
	}
	return true;
}

static void settle_requests(void)
{
	cr_assert(run_until_settled(proxies_idle, NULL), "requests still in flight after %d ms",
	          SETTLE_MS);
}

/* The nodes of `mask` hold `val` for key (col 1). */
struct held {
	const char *key, *val;
	unsigned mask;
};

static bool is_held(const void *arg)
{
	const struct held *h = arg;
	for (size_t i = 0; i < NN; i++)
		if ((h->mask & (1u << i)) && strcmp(local_read(i, h->key).value, h->val) != 0)
			return false;
	return true;
}

/* Until the nodes of mask hold val for key; the checks that follow say what is expected. */
static void settle_held(const char *key, const char *val, unsigned mask)
{
	struct held h = {key, val, mask};
	(void)run_until_settled(is_held, &h);
}

/* Hints stored for nodes [from, to): at least `total`, and every request ended. */
struct hinted_at_least {
	size_t from, to;
	int total;
};

static bool hints_stored(const void *arg)
{
	const struct hinted_at_least *w = arg;
	int n = 0;
	for (size_t i = w->from; i < w->to; i++)
		n += HINTS[i].n;
	return n >= w->total && proxies_idle(NULL);
}

static void settle_hints(size_t from, size_t to, int total)
{
	struct hinted_at_least w = {from, to, total};
	(void)run_until_settled(hints_stored, &w);
}

static const uint16_t ALL_CLS[] = {CL_ANY,         CL_ONE,       CL_TWO,
                                   CL_THREE,       CL_QUORUM,    CL_LOCAL_QUORUM,
                                   CL_EACH_QUORUM, CL_LOCAL_ONE, CL_ALL};
#define N_CLS (sizeof(ALL_CLS) / sizeof(ALL_CLS[0]))

/* ---- tests ----------------------------------------------------------------------------------- */

TestSuite(storage_proxy, .fini = teardown, .timeout = 120);

Test(storage_proxy, write_then_read_every_level_all_up)
{
	cluster_simple(3, "3");
	for (size_t i = 0; i < N_CLS; i++) {
		char key[16], val[16];
		snprintf(key, sizeof(key), "k%zu", i);
		snprintf(val, sizeof(val), "v%zu", i);
		struct cerr w = write_at(i % 3, ALL_CLS[i], key, 1, val, 1000 + (int64_t)i);
		cr_expect_eq(w.code, 0, "%s: %s", cql_consistency_name(ALL_CLS[i]), w.msg);
		if (ALL_CLS[i] == CL_ANY)
			continue;
		settle_held(key, val, 0x7); /* W + R may be <= RF: every replica applies it first */
		struct outcome r = read_at((i + 1) % 3, ALL_CLS[i], key);
		cr_expect_eq(r.res.code, 0, "%s: %s", cql_consistency_name(ALL_CLS[i]), r.res.msg);
		cr_expect_eq(r.rows, 1);
		cr_expect_str_eq(r.value, val);
	}
	settle_held("k0", "v0", 0x7);
	/* every replica holds every write */
	for (size_t n = 0; n < 3; n++)
		cr_expect_str_eq(local_read(n, "k0").value, "v0");
	/* ANY reads are refused, SERIAL writes too */
	struct outcome r = read_at(0, CL_ANY, "k0");
	cr_expect_eq(r.res.code, COL_EINVAL);
	cr_expect_str_eq(r.res.msg, "ANY ConsistencyLevel is only supported for writes");
	struct cerr w = write_at(0, CL_SERIAL, "k0", 1, "x", 1);
	cr_expect_eq(w.code, COL_EINVAL);
}

/*
 * TestAvailability: for each number of live replicas of a key (the others
 * marked down), every level's write and read succeeds or fails with
 * Unavailable(required, alive) exactly as Cassandra's rules say.
 */
static void availability(size_t coord_pick_nonreplica)
{
	const char *key = "avail";
	uint32_t reps[SP_MAX_REPLICAS];
	size_t nr = replicas_of(key, reps);
	cr_assert_eq(nr, 3);
	size_t coord = reps[0];
	if (coord_pick_nonreplica) {
		for (size_t i = 0; i < NN; i++)
			if (!is_replica(key, i))
				coord = i;
	}
	int64_t ts = 5000;
	for (int dead = 0; dead <= 2; dead++) {
		for (size_t i = 0; i < NN; i++)
			N[i].down = false;
		/* take down `dead` replicas other than the coordinator */
		int k = 0;
		for (size_t i = 0; i < nr && k < dead; i++)
			if (reps[i] != coord) {
				N[reps[i]].down = true;
				k++;
			}
		int alive = 3 - dead;
		for (size_t c = 0; c < N_CLS; c++) {
			uint16_t cl = ALL_CLS[c];
			int need =
			        cl == CL_TWO                     ? 2
			        : cl == CL_THREE || cl == CL_ALL ? 3
			        : cl == CL_QUORUM || cl == CL_LOCAL_QUORUM || cl == CL_EACH_QUORUM
			                ? 2
			                : 1;
			struct store_value pkv = {key, strlen(key)};
			int64_t token;
			cr_assert_eq(store_partition_token(N[0].tbl, &pkv, 1, &token, NULL), 0);
			struct cerr chk;
			cr_expect_eq(
			        storage_proxy_check(N[coord].sp, RING, &REP, token, cl, true, &chk),
			        alive >= need ? 0 : COL_EUNAVAILABLE, "check %s",
			        cql_consistency_name(cl));
			struct cerr w = write_at(coord, cl, key, 1, "x", ++ts);
			if (alive >= need) {
				cr_expect_eq(w.code, 0, "write %s, %d alive: %s",
				             cql_consistency_name(cl), alive, w.msg);
			} else {
				cr_expect_eq(w.code, COL_EUNAVAILABLE, "write %s, %d alive",
				             cql_consistency_name(cl), alive);
				cr_expect_eq(w.rep.required, need);
				cr_expect_eq(w.rep.received, alive);
			}
			if (cl == CL_ANY)
				continue;
			struct outcome r = read_at(coord, cl, key);
			if (alive >= need) {
				cr_expect_eq(r.res.code, 0, "read %s, %d alive: %s",
				             cql_consistency_name(cl), alive, r.res.msg);
				cr_expect_eq(r.rows, 1);
			} else {
				cr_expect_eq(r.res.code, COL_EUNAVAILABLE, "read %s, %d alive",
				             cql_consistency_name(cl), alive);
				cr_expect_eq(r.res.rep.required, need);
				cr_expect_eq(r.res.rep.received, alive);
			}
		}
	}
}

Test(storage_proxy, availability_simple_rf3_3_nodes)
{
	cluster_simple(3, "3");
	availability(0);
}

Test(storage_proxy, availability_simple_rf3_5_nodes)
{
	cluster_simple(5, "3");
	availability(0);
	availability(1);
}

Test(storage_proxy, availability_nts_3_3)
{
	cluster_2dc();
	const char *key = "nts";
	size_t coord = 0; /* dc1 */
	int64_t ts = 100;
	for (int d1 = 0; d1 <= 2; d1++) {
		for (int d2 = 0; d2 <= 3; d2++) {
			for (size_t i = 0; i < 6; i++)
				N[i].down = false;
			for (int i = 0; i < d1; i++)
				N[2 - i].down =
				        true; /* nodes 2, 1 of dc1 (never the coordinator) */
			for (int i = 0; i < d2; i++)
				N[3 + i].down = true;
			int a = 3 - d1, b = 3 - d2;
			for (size_t c = 0; c < N_CLS; c++) {
				uint16_t cl = ALL_CLS[c];
				bool ok;
				int need, have;
				switch (cl) {
				case CL_TWO: need = 2, have = a + b; break;
				case CL_THREE: need = 3, have = a + b; break;
				case CL_QUORUM: need = 4, have = a + b; break;
				case CL_ALL: need = 6, have = a + b; break;
				case CL_LOCAL_QUORUM: need = 2, have = a; break;
				case CL_LOCAL_ONE: need = 1, have = a; break;
				case CL_EACH_QUORUM: need = 2, have = a < 2 ? a : b; break;
				default: need = 1, have = a + b;
				}
				ok = cl == CL_EACH_QUORUM ? (a >= 2 && b >= 2) : have >= need;
				struct cerr w = write_at(coord, cl, key, 1, "y", ++ts);
				cr_expect_eq(w.code, ok ? 0 : COL_EUNAVAILABLE,
				             "write %s dc1 %d dc2 %d: %s", cql_consistency_name(cl),
				             a, b, w.msg);
				if (!ok) {
					cr_expect_eq(w.rep.required, need, "%s",
					             cql_consistency_name(cl));
					cr_expect_eq(w.rep.received, have, "%s",
					             cql_consistency_name(cl));
				}
				if (cl == CL_ANY)
					continue;
				struct outcome r = read_at(coord, cl, key);
				cr_expect_eq(r.res.code, ok ? 0 : COL_EUNAVAILABLE,
				             "read %s dc1 %d dc2 %d: %s", cql_consistency_name(cl),
				             a, b, r.res.msg);
			}
		}
	}
}

/*
 * TestAccuracy: for every (W, R) with W + R > RF, a write acknowledged by
 * exactly W replicas (the others silently drop it) is seen by a read at R
 * from another coordinator.
 */
Test(storage_proxy, accuracy_every_w_r_pair)
{
	WTO = WTO_SHORT; /* the silent replicas time out */
	cluster_simple(3, "3");
	const uint16_t lv[] = {CL_ONE, CL_TWO, CL_THREE, CL_QUORUM, CL_ALL};
	const int n_of[] = {1, 2, 3, 2, 3};
	int64_t ts = 1;
	int pairs = 0;
	for (size_t wi = 0; wi < 5; wi++) {
		for (size_t ri = 0; ri < 5; ri++) {
			if (n_of[wi] + n_of[ri] <= 3)
				continue;
			pairs++;
			char key[32], val[32];
			snprintf(key, sizeof(key), "acc-%zu-%zu", wi, ri);
			snprintf(val, sizeof(val), "val-%zu-%zu", wi, ri);
			size_t wc = pairs % 3, rc = (wc + 1) % 3;
			/* the RF - W replicas other than the write coordinator miss the write */
			int stale = 3 - n_of[wi];
			for (size_t k = 1; k <= (size_t)stale; k++)
				set_silent((wc + k) % 3, true);
			struct cerr w = write_at(wc, lv[wi], key, 1, val, ++ts);
			cr_assert_eq(w.code, 0, "W=%s: %s", cql_consistency_name(lv[wi]), w.msg);
			for (size_t k = 1; k <= (size_t)stale; k++)
				set_silent((wc + k) % 3, false);
			struct outcome r = read_at(rc, lv[ri], key);
			cr_expect_eq(r.res.code, 0, "W=%s R=%s: %s", cql_consistency_name(lv[wi]),
			             cql_consistency_name(lv[ri]), r.res.msg);
			cr_expect_str_eq(r.value, val, "W=%s R=%s", cql_consistency_name(lv[wi]),
			                 cql_consistency_name(lv[ri]));
			settle_requests(); /* the dropped requests time out */
		}
	}
	cr_expect_eq(pairs, 20);
}

/* A replica cut off during writes is stale; one QUORUM read through it repairs it. */
Test(storage_proxy, read_repair_of_a_replica_that_was_down)
{
	WTO = WTO_SHORT; /* ALL times out on the cut replica */
	cluster_simple(3, "3");
	cr_assert_eq(write_at(0, CL_ALL, "rr", 1, "old", 10).code, 0);
	node_cut(2); /* connection refused from now on; the failure detector has not noticed */
	struct cerr w = write_at(0, CL_QUORUM, "rr", 1, "new", 20);
	cr_assert_eq(w.code, 0, "%s", w.msg);
	w = write_at(1, CL_QUORUM, "rr", 2, "other-row", 21);
	cr_assert_eq(w.code, 0, "%s", w.msg);
	struct cerr all = write_at(0, CL_ALL, "rr", 3, "z", 22);
	cr_expect_eq(all.code, COL_ETIMEDOUT, "ALL cannot be met with a replica refusing");
	cr_expect_eq(all.rep.required, 3);
	cr_expect_eq(all.rep.received, 2);
	node_up(2);
	cr_expect_str_eq(local_read(2, "rr").value, "old", "node 3 missed the writes");
	cr_expect_eq(local_read(2, "rr").rows, 1);
	struct storage_proxy_stats st0;
	storage_proxy_get_stats(N[2].sp, &st0);
	struct outcome r = read_at(2, CL_QUORUM, "rr");
	cr_assert_eq(r.res.code, 0, "%s", r.res.msg);
	cr_expect_eq(r.rows, 3, "rows 1, 2 and 3 (3 reached two replicas before the timeout)");
	struct storage_proxy_stats st;
	storage_proxy_get_stats(N[2].sp, &st);
	cr_expect_eq(st.digest_mismatches, st0.digest_mismatches + 1);
	cr_expect(st.read_repairs > st0.read_repairs);
	/* the repair was written before the answer: node 3's own store is current */
	struct outcome l = local_read(2, "rr");
	cr_expect_eq(l.rows, 3);
	cr_expect_str_eq(l.keys[0], "rr");
	/* row 1 carries "new" at ts 20 */
	struct store_value pk = {"rr", 2};
	uint8_t c1[4];
	ck_of(1, c1);
	struct store_value cv = {c1, 4};
	struct store_slice sl = {.start = &cv,
	                         .n_start = 1,
	                         .start_incl = true,
	                         .end = &cv,
	                         .n_end = 1,
	                         .end_incl = true};
	struct outcome one = {0};
	cr_assert_eq(store_read_partition(N[2].tbl, &pk, 1, &sl, 0, 0, 0, on_row, &one, NULL), 0);
	cr_expect_str_eq(one.value, "new");
	cr_expect_eq(one.ts, 20);
	/* a second read finds nothing to repair */
	r = read_at(2, CL_QUORUM, "rr");
	storage_proxy_get_stats(N[2].sp, &st0);
	cr_expect_eq(st0.digest_mismatches, st.digest_mismatches);
}

/*
 * A RocksDB write stop on STALL_NODE: the process's compactions stop (the low-priority pool
 * gets no thread; criterion runs each test in a process of its own) and one flush makes the
 * L0 file at which that node's store stops every write.  A thread ends the stall after
 * STALL_MS (compactions run again), whatever the loop does meanwhile, so that a write
 * that waits for the stall on the loop holds the loop that long instead of forever.
 */
#define STALL_MS 3000
static rocksdb_env_t *STALL_ENV;
static pthread_t STALL_THREAD;
static bool STALL_STARTED;
static atomic_llong STALL_RELEASED_MS; /* clock_mono_ms() when the stall ended, 0 before */

static void *stall_release_later(void *arg)
{
	(void)arg;
	usleep(STALL_MS * 1000);
	atomic_store(&STALL_RELEASED_MS, clock_mono_ms()); /* before: nothing written precedes it */
	rocksdb_env_set_background_threads(STALL_ENV, 1);
	return NULL;
}

static void stall_writes(void)
{
	cr_assert_geq(STALL_NODE, 0);
	STALL_ENV = rocksdb_create_default_env();
	rocksdb_env_set_background_threads(STALL_ENV, 0);
	struct cerr e = {0};
	cr_assert_eq(store_table_flush(N[STALL_NODE].tbl, &e), 0, "%s", e.msg);
	atomic_store(&STALL_RELEASED_MS, 0);
	cr_assert_eq(pthread_create(&STALL_THREAD, NULL, stall_release_later, NULL), 0);
	STALL_STARTED = true;
	/* the store really stops writes: a write that may not wait is refused */
	int rc = store_kv_put(N[STALL_NODE].store, STORE_SYSTEM_NOWAIT, "stall", 5, "1", 1, &e);
	cr_assert_eq(rc, COL_EOVERLOADED, "node %d's store is not stalling: %s", STALL_NODE + 1,
	             rc ? e.msg : "the write went through");
}

static void stall_release_join(void)
{
	if (STALL_STARTED)
		pthread_join(STALL_THREAD, NULL);
	STALL_STARTED = false;
	if (STALL_ENV) {
		rocksdb_env_set_background_threads(STALL_ENV, 1);
		rocksdb_env_destroy(STALL_ENV); /* the wrapper: the default env itself stays */
	}
	STALL_ENV = NULL;
}

/*
 * Runs the loop (a 5 ms timer keeps it turning) until *done or ANSWER_MS after the stall
 * began, then ends the stall.  *longest: the longest iteration of the loop, in ms;
 * *answered_ms: when *done was seen (clock_mono_ms(), 0: never).
 */
static void run_through_the_stall(const bool *done, int64_t stalled_ms, int64_t *longest,
                                  int64_t *answered_ms)
{
	ev_now_update(L);
	ev_timer t;
	ev_timer_init(&t, tick_cb, 0.005, 0.005);
	ev_timer_start(L, &t);
	int64_t prev = clock_mono_ms();
	*longest = *answered_ms = 0;
	while (!*done && clock_mono_ms() < stalled_ms + ANSWER_MS) {
		ev_run(L, EVRUN_ONCE);
		int64_t now = clock_mono_ms();
		if (now - prev > *longest)
			*longest = now - prev;
		prev = now;
		if (*done)
			*answered_ms = now;
	}
	ev_timer_stop(L, &t);
	stall_release_join();
}

/*
 * A read that repairs the coordinator's own replica while RocksDB stops that node's writes:
 * the repair waits in the loop's group-commit lane (the store's writer thread holds the
 * stall), not on the loop, which keeps running — on a node that loop is gossip's, and peers
 * convict a node whose loop stops for a stall.  The read answers once the stall ends, with
 * the repair written.  A repair applied on the loop (store_apply) would hold the loop for
 * the whole stall.
 */
Test(storage_proxy, read_repair_of_the_local_replica_waits_in_the_lane_not_on_the_loop)
{
	STALL_NODE = 0;
	cluster_simple(3, "3");
	write_local(0, "st", 1, "old", 10);
	write_local(1, "st", 1, "new", 20);
	write_local(2, "st", 1, "new", 20);
	stall_writes();
	int64_t stalled_ms = clock_mono_ms();

	struct store_value pk = {"st", 2};
	struct partition_read rd = {.table = N[0].tbl, .pk = &pk, .n_pk = 1};
	struct outcome o = {0};
	ev_now_update(L);
	storage_proxy_read_partition(N[0].sp, RING, &REP, CL_ALL, &rd, on_row, &o, on_done, &o);
	int64_t longest, answered_ms;
	run_through_the_stall(&o.done, stalled_ms, &longest, &answered_ms);

	cr_expect_lt(longest, STALL_MS / 2,
	             "one iteration of the loop took %lld ms of a %d ms stall: the local read "
	             "repair waited for the stall on the loop",
	             (long long)longest, STALL_MS);
	cr_assert(o.done, "the read never answered");
	cr_assert_eq(o.res.code, 0, "%s", o.res.msg);
	cr_expect_str_eq(o.value, "new");
	int64_t released_ms = atomic_load(&STALL_RELEASED_MS);
	cr_expect(released_ms && answered_ms >= released_ms,
	          "the read answered before its local repair could be written");
	struct storage_proxy_stats st;
	storage_proxy_get_stats(N[0].sp, &st);
	cr_expect_eq(st.read_repairs, 1);
	cr_expect_str_eq(local_read(0, "st").value, "new", "the repair was written");
}

/*
 * The router's local path (router.h; on a node, the main loop's writes while it has no
 * ring) with the loop's lane (router_set_lane): a write during a RocksDB write stop waits
 * in the lane, the loop runs on, and done() comes once the stall ends, with the write made.
 */
Test(storage_proxy, router_local_writes_wait_in_the_lane_not_on_the_loop)
{
	STALL_NODE = 0;
	cluster_simple(1, "1");
	write_local(0, "rt", 1, "old", 10);
	struct router *rt;
	cr_assert_eq(router_new_local(N[0].store, "dc1", &rt), 0);
	router_set_lane(rt, N[0].lane);
	static char k_class[] = "class", k_rf[] = "replication_factor", ks_name[] = "ks";
	static char v_class[] = "org.apache.cassandra.locator.SimpleStrategy", v_rf[] = "1";
	char *rk[] = {k_class, k_rf}, *rv[] = {v_class, v_rf};
	struct schema_keyspace ks = {.name = ks_name,
	                             .repl_keys = rk,
	                             .repl_vals = rv,
	                             .n_repl = 2,
	                             .replication_factor = 1};
	stall_writes();
	int64_t stalled_ms = clock_mono_ms();

	struct store_mutation m;
	mk_mutation(&m, 0, "rt", 1, "new", 20);
	struct store_mutation *ms[1] = {&m};
	struct outcome o = {0};
	router_write(rt, &ks, CL_ONE, ms, 1, CERR_WRITE_SIMPLE, on_done, &o);
	int64_t call_ms = clock_mono_ms() - stalled_ms;
	int64_t longest, answered_ms;
	run_through_the_stall(&o.done, stalled_ms, &longest, &answered_ms);
	store_mutation_release(&m);

	cr_expect_lt(call_ms, STALL_MS / 2,
	             "router_write took %lld ms of a %d ms stall: it waited for the stall on the "
	             "loop",
	             (long long)call_ms, STALL_MS);
	cr_expect_lt(longest, STALL_MS / 2,
	             "one iteration of the loop took %lld ms of a %d ms stall: the router's write "
	             "waited for the stall on the loop",
	             (long long)longest, STALL_MS);
	cr_assert(o.done, "the write never answered");
	cr_assert_eq(o.res.code, 0, "%s", o.res.msg);
	int64_t released_ms = atomic_load(&STALL_RELEASED_MS);
	cr_expect(released_ms && answered_ms >= released_ms,
	          "the write answered before it could be written");
	struct router_stats rs;
	router_get_stats(rt, &rs);
	cr_expect_eq(rs.writes, 1);
	cr_expect_str_eq(local_read(0, "rt").value, "new");
	router_free(rt);
}

/* Cell-by-cell LWW across replicas that each hold part of the truth. */
Test(storage_proxy, resolve_cell_by_cell_and_repair_everyone)
{
	cluster_simple(3, "3");
	/* node 0: row 1 "a"@5; node 1: row 1 "b"@7; node 2: row 1 deleted@7 (tombstone wins the
	 * tie), row 2 "only-on-2"@3 */
	write_local(0, "lww", 1, "a", 5);
	write_local(1, "lww", 1, "b", 7);
	write_local(2, "lww", 1, NULL, 7);
	write_local(2, "lww", 2, "only-on-2", 3);
	struct outcome r = read_at(0, CL_ALL, "lww");
	cr_assert_eq(r.res.code, 0, "%s", r.res.msg);
	/* row 1 keeps its marker (ts 7 from node 1) but its cell is deleted; row 2 is live */
	cr_expect_eq(r.rows, 2);
	cr_expect_str_eq(r.value, "only-on-2");
	for (size_t n = 0; n < 3; n++) {
		struct outcome l = local_read(n, "lww");
		cr_expect_eq(l.rows, 2, "node %zu", n);
		cr_expect_str_eq(l.value, "only-on-2", "node %zu", n);
	}
	/* the three replicas now agree byte for byte: digests match */
	struct storage_proxy_stats a, b;
	storage_proxy_get_stats(N[1].sp, &a);
	r = read_at(1, CL_ALL, "lww");
	storage_proxy_get_stats(N[1].sp, &b);
	cr_expect_eq(b.digest_mismatches, a.digest_mismatches);
}

/* Apply col 1 = value with a TTL to node i's store only, as a mutation made at `now`. */
static void write_local_ttl(size_t i, const char *key, const char *value, int64_t ts, int32_t ttl,
                            int64_t now)
{
	struct store_value pk = {key, strlen(key)};
	uint8_t c[4];
	ck_of(1, c);
	struct store_value cv = {c, 4};
	struct store_mutation m;
	struct cerr e = {0};
	cr_assert_eq(store_mutation_init(&m, N[i].tbl, &pk, 1, now, &e), 0, "%s", e.msg);
	cr_assert_eq(store_mutation_set_cell(&m, &cv, 1, 1, NULL, value, strlen(value), ts, ttl),
	             0);
	cr_assert_eq(store_apply(N[i].store, &m, &e), 0, "%s", e.msg);
	store_mutation_release(&m);
}

static int dump_cb(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
	struct buf *b = ctx;
	buf_put_u32be(b, (uint32_t)kl);
	buf_put(b, k, kl);
	buf_put_u32be(b, (uint32_t)vl);
	buf_put(b, v, vl);
	return 0;
}

/*
 * Two versions of a cell with the same timestamp, value and expiry but different
 * TTLs (written 1000 s apart): resolution picks the one the storage merge keeps
 * (the longer TTL), so one read repair leaves every replica byte-identical and
 * the next read finds the digests equal.
 */
Test(storage_proxy, resolve_ttl_tie_break_converges)
{
	cluster_simple(3, "3");
	int64_t now = clock_wall_s();
	write_local_ttl(0, "ttl", "v", 50, 1000, now);
	write_local_ttl(1, "ttl", "v", 50, 2000, now - 1000);
	write_local_ttl(2, "ttl", "v", 50, 1000, now);
	struct outcome r = read_at(0, CL_ALL, "ttl");
	cr_assert_eq(r.res.code, 0, "%s", r.res.msg);
	cr_expect_str_eq(r.value, "v");
	struct buf d[3];
	for (size_t n = 0; n < 3; n++) {
		buf_init(&d[n]);
		cr_assert_eq(store_scan_raw(N[n].tbl, 0, 0, dump_cb, &d[n], NULL), 0);
	}
	for (size_t n = 1; n < 3; n++)
		cr_expect(d[n].len == d[0].len && memcmp(d[n].data, d[0].data, d[0].len) == 0,
		          "node %zu's bytes differ from node 0's after read repair", n);
	for (size_t n = 0; n < 3; n++)
		buf_release(&d[n]);
	struct storage_proxy_stats a, b;
	storage_proxy_get_stats(N[2].sp, &a);
	r = read_at(2, CL_ALL, "ttl");
	cr_assert_eq(r.res.code, 0, "%s", r.res.msg);
	storage_proxy_get_stats(N[2].sp, &b);
	cr_expect_eq(b.digest_mismatches, a.digest_mismatches, "the replicas still disagree");
	cr_expect_eq(b.read_repairs, a.read_repairs, "a converged read repairs nothing");
}

/* Node i's store only: a partition deletion at ts, and a row marker (ck 1) at ts with ttl,
 * both as a mutation made at `now`. */
static void delete_and_mark_local(size_t i, const char *key, int64_t ts, int32_t ttl, int64_t now)
{
	struct store_value pk = {key, strlen(key)};
	uint8_t c[4];
	ck_of(1, c);
	struct store_value cv = {c, 4};
	struct store_mutation m;
	struct cerr e = {0};
	cr_assert_eq(store_mutation_init(&m, N[i].tbl, &pk, 1, now, &e), 0, "%s", e.msg);
	cr_assert_eq(store_mutation_delete_partition(&m, ts), 0);
	cr_assert_eq(store_mutation_row_marker(&m, &cv, 1, ts + 1, ttl), 0);
	cr_assert_eq(store_apply(N[i].store, &m, &e), 0, "%s", e.msg);
	store_mutation_release(&m);
}

/*
 * Replicas whose partition deletions differ only in deletion time, and whose
 * row markers differ only in TTL (same expiry), are told the winner too: one
 * read leaves them byte-identical, and the next finds the digests equal.
 */
Test(storage_proxy, resolve_deletion_times_and_marker_ttls_converge)
{
	cluster_simple(3, "3");
	int64_t now = clock_wall_s();
	delete_and_mark_local(0, "dt", 40, 1000, now);
	delete_and_mark_local(1, "dt", 40, 1005, now - 5);
	delete_and_mark_local(2, "dt", 40, 1000, now);
	struct outcome r = read_at(0, CL_ALL, "dt");
	cr_assert_eq(r.res.code, 0, "%s", r.res.msg);
	cr_expect_eq(r.rows, 1, "the marker (ts 41) is newer than the deletion (ts 40)");
	struct buf d[3];
	for (size_t n = 0; n < 3; n++) {
		buf_init(&d[n]);
		cr_assert_eq(store_scan_raw(N[n].tbl, 0, 0, dump_cb, &d[n], NULL), 0);
	}
	for (size_t n = 1; n < 3; n++)
		cr_expect(d[n].len == d[0].len && memcmp(d[n].data, d[0].data, d[0].len) == 0,
		          "node %zu's bytes differ from node 0's after read repair", n);
	for (size_t n = 0; n < 3; n++)
		buf_release(&d[n]);
	struct storage_proxy_stats a, b;
	storage_proxy_get_stats(N[1].sp, &a);
	r = read_at(1, CL_ALL, "dt");
	cr_assert_eq(r.res.code, 0, "%s", r.res.msg);
	storage_proxy_get_stats(N[1].sp, &b);
	cr_expect_eq(b.digest_mismatches, a.digest_mismatches, "the replicas still disagree");
}

/*
 * Past max_requests in flight a request is refused at once as overloaded
 * (the client's Overloaded), write or read; the slot frees when the request
 * ends (here: at the write timeout, the other replicas being silent).
 */
Test(storage_proxy, overloaded_past_max_requests)
{
	WTO = WTO_SHORT; /* the first write times out */
	MAX_REQ = 1;
	cluster_simple(3, "3");
	set_silent(1, true);
	set_silent(2, true);
	struct store_mutation m;
	mk_mutation(&m, 0, "busy", 1, "x", 1);
	struct store_mutation *ms[1] = {&m};
	struct outcome first = {0}, second = {0};
	storage_proxy_write(N[0].sp, RING, &REP, CL_ALL, ms, 1, CERR_WRITE_SIMPLE, on_done, &first);
	cr_expect(!first.done, "ALL waits for the silent replicas");
	storage_proxy_write(N[0].sp, RING, &REP, CL_ONE, ms, 1, CERR_WRITE_BATCH, on_done, &second);
	store_mutation_release(&m);
	cr_assert(second.done, "refused at once");
	cr_expect_eq(second.res.code, COL_EOVERLOADED, "%s", second.res.msg);
	cr_expect(second.res.rep.write);
	cr_expect_eq(second.res.rep.write_type, CERR_WRITE_BATCH);
	cr_expect(strstr(second.res.msg, "overloaded") != NULL, "%s", second.res.msg);
	struct outcome r = read_at(0, CL_ALL, "busy");
	cr_expect_eq(r.res.code, COL_EOVERLOADED, "%s", r.res.msg);
	cr_assert(run_until(&first.done, ANSWER_MS), "the first write never answered");
	cr_expect_eq(first.res.code, COL_ETIMEDOUT, "%s", first.res.msg);
	set_silent(1, false);
	set_silent(2, false);
	run_ms(50);
	cr_expect_eq(write_at(0, CL_ALL, "busy", 1, "y", 2).code, 0, "the slot is free again");
}

/* n_w writes of "burst" (value, ts) and n_r reads of it from node 0, all in flight at once;
 * returns node 0's stats with the burst in flight, once every request answered 0. */
static struct storage_proxy_stats burst(size_t n_w, size_t n_r, const char *value, int64_t ts)
{
	struct outcome *o = calloc(n_w + n_r, sizeof(*o));
	cr_assert(o);
	struct store_mutation m;
	mk_mutation(&m, 0, "burst", 1, value, ts);
	struct store_mutation *ms[1] = {&m};
	ev_now_update(L);
	for (size_t i = 0; i < n_w; i++)
		storage_proxy_write(N[0].sp, RING, &REP, CL_QUORUM, ms, 1, CERR_WRITE_SIMPLE,
		                    on_done, &o[i]);
	store_mutation_release(&m);
	struct store_value pk = {"burst", 5};
	struct partition_read rd = {.table = N[0].tbl, .pk = &pk, .n_pk = 1};
	for (size_t i = n_w; i < n_w + n_r; i++)
		storage_proxy_read_partition(N[0].sp, RING, &REP, CL_QUORUM, &rd, on_row, &o[i],
		                             on_done, &o[i]);
	struct storage_proxy_stats st;
	storage_proxy_get_stats(N[0].sp, &st);
	int64_t end = clock_mono_ms() + 20000;
	for (size_t i = 0; i < n_w + n_r; i++) {
		cr_assert(run_until(&o[i].done, (int)(end - clock_mono_ms())),
		          "request %zu of the burst was not answered", i);
		cr_assert_eq(o[i].res.code, 0, "request %zu: %s", i, o[i].res.msg);
	}
	free(o);
	return st;
}

/*
 * The pools give memory back: a burst of reads and writes leaves as many states as it had
 * in flight; once the burst is SP_TRIM_WINDOWS periods in the past, the idle states beyond
 * SP_IDLE_MIN are freed, and a burst afterwards works (its writes take freed writes' slots).
 */
Test(storage_proxy, pools_shrink_after_a_burst)
{
	enum { BURST = 300 };
	cr_assert_gt(BURST, SP_IDLE_MIN + 100);
	cluster_simple(3, "3");
	struct storage_proxy_stats st = burst(BURST, BURST, "b", 5);
	cr_expect_geq(st.write_states, BURST, "%u write states", st.write_states);
	cr_expect_geq(st.read_states, BURST, "%u read states", st.read_states);
	int64_t end = clock_mono_ms() + 60000;
	do {
		run_ms(200);
		storage_proxy_get_stats(N[0].sp, &st);
	} while ((st.read_states > SP_IDLE_MIN || st.write_states > SP_IDLE_MIN) &&
	         clock_mono_ms() < end);
	cr_expect_eq(st.in_flight, 0);
	cr_expect_leq(st.read_states, SP_IDLE_MIN, "%u read states left", st.read_states);
	cr_expect_leq(st.write_states, SP_IDLE_MIN, "%u write states left", st.write_states);
	cr_expect_eq(st.read_states_idle, st.read_states);
	cr_expect_eq(st.write_states_idle, st.write_states);
	cr_expect_lt(st.state_bytes, (uint64_t)BURST * sizeof(struct sp_read));
	st = burst(BURST / 2, BURST / 2, "after", 10);
	cr_expect_geq(st.write_states, BURST / 2, "%u write states", st.write_states);
	struct outcome r = read_at(0, CL_QUORUM, "burst");
	cr_assert_eq(r.res.code, 0, "%s", r.res.msg);
	cr_expect_str_eq(r.value, "after");
}

Test(storage_proxy, write_timeout_counts_received_and_blockfor)
{
	short_timeouts();
	cluster_simple(3, "3");
	set_silent(1, true);
	set_silent(2, true);
	int64_t t0 = clock_mono_ms();
	struct cerr w = write_at(0, CL_QUORUM, "wt", 1, "x", 1);
	int64_t took = clock_mono_ms() - t0;
	cr_expect_eq(w.code, COL_ETIMEDOUT, "%s", w.msg);
	cr_expect_eq(w.rep.received, 1, "received: only the coordinator's own replica");
	cr_expect_eq(w.rep.required, 2);
	cr_expect_eq(w.rep.write_type, CERR_WRITE_SIMPLE);
	cr_expect(w.rep.write, "a write timeout says it is one (the driver sees WriteTimeout)");
	cr_expect(took >= WTO - 20 && took < WTO + 1000, "answered after %lld ms", (long long)took);
	w = write_at(0, CL_ALL, "wt", 1, "x", 2);
	cr_expect_eq(w.code, COL_ETIMEDOUT);
	cr_expect_eq(w.rep.received, 1);
	cr_expect_eq(w.rep.required, 3);
	/* ONE is met by the local replica at once */
	w = write_at(0, CL_ONE, "wt", 1, "x", 3);
	cr_expect_eq(w.code, 0);
	/* a silent replica does not hold back ONE at another coordinator (its own ack suffices) */
	set_silent(0, true);
	w = write_at(1, CL_ONE, "wt2", 1, "x", 4);
	cr_expect_eq(w.code, 0, "%s", w.msg);
	/* reads: data from the local replica, the digest never comes */
	set_silent(0, false);
	struct outcome r = read_at(0, CL_QUORUM, "wt");
	cr_expect_eq(r.res.code, COL_ETIMEDOUT, "%s", r.res.msg);
	cr_expect_eq(r.res.rep.required, 2);
	cr_expect_eq(r.res.rep.received, 1);
	cr_expect(r.res.rep.data_present);
	settle_requests();
}

Test(storage_proxy, write_timeout_when_coordinator_is_not_a_replica)
{
	short_timeouts();
	cluster_simple(5, "3");
	const char *key = "far";
	size_t coord = 0;
	for (size_t i = 0; i < 5; i++)
		if (!is_replica(key, i))
			coord = i;
	uint32_t reps[SP_MAX_REPLICAS];
	replicas_of(key, reps);
	set_silent(reps[0], true);
	set_silent(reps[1], true);
	struct cerr w = write_at(coord, CL_QUORUM, key, 1, "x", 1);
	cr_expect_eq(w.code, COL_ETIMEDOUT);
	cr_expect_eq(w.rep.received, 1);
	cr_expect_eq(w.rep.required, 2);
	/* ONE from a non-replica goes to the replica with a latency score: the one that
	 * answered the write, not the two that never answer */
	struct outcome r = read_at(coord, CL_ONE, key);
	cr_expect_eq(r.res.code, 0, "%s", r.res.msg);
	cr_expect_str_eq(r.value, "x");
	/* QUORUM must include a silent one: ReadTimeout, 1 of 2, data from the fast one */
	r = read_at(coord, CL_QUORUM, key);
	cr_expect_eq(r.res.code, COL_ETIMEDOUT, "%s", r.res.msg);
	cr_expect_eq(r.res.rep.required, 2);
	cr_expect_eq(r.res.rep.received, 1);
	cr_expect(r.res.rep.data_present);
	settle_requests();
}

/* Cross-DC: one message over the WAN per write; the forwarder relays its peers' acks. */
Test(storage_proxy, two_dc_write_is_forwarded_once)
{
	WTO = WTO_SHORT; /* EACH_QUORUM times out on silent dc2 */
	cluster_2dc();
	struct cerr w = write_at(0, CL_ALL, "fwd", 1, "everywhere", 9);
	cr_assert_eq(w.code, 0, "%s", w.msg);
	int remote_msgs = 0, remote_peers = 0;
	for (size_t i = 3; i < 6; i++) {
		struct messaging_peer_stats ps;
		if (messaging_peer_get_stats(N[0].msg, &N[i].addr, &ps) == 0 && ps.sent_msgs) {
			remote_peers++;
			remote_msgs += (int)ps.sent_msgs;
		}
	}
	cr_expect_eq(remote_peers, 1, "one forwarder in dc2");
	cr_expect_eq(remote_msgs, 1, "one cross-DC message");
	for (size_t i = 0; i < 6; i++)
		cr_expect_str_eq(local_read(i, "fwd").value, "everywhere", "node %zu", i);
	struct storage_proxy_stats st;
	storage_proxy_get_stats(N[0].sp, &st);
	cr_expect_eq(st.forwarded, 1);
	cr_expect_eq(st.relayed_acks, 2);
	/* EACH_QUORUM needs the relayed acks too */
	w = write_at(0, CL_EACH_QUORUM, "fwd", 1, "each", 10);
	cr_expect_eq(w.code, 0, "%s", w.msg);
	/* dc2 silent: LOCAL_QUORUM still succeeds, EACH_QUORUM times out with 2 of 4 */
	for (size_t i = 3; i < 6; i++)
		set_silent(i, true);
	w = write_at(0, CL_LOCAL_QUORUM, "fwd", 1, "local", 11);
	cr_expect_eq(w.code, 0, "%s", w.msg);
	w = write_at(0, CL_EACH_QUORUM, "fwd", 1, "each2", 12);
	cr_expect_eq(w.code, COL_ETIMEDOUT);
	cr_expect_eq(w.rep.required, 4);
	cr_expect_eq(w.rep.received, 2);
	struct outcome r = read_at(1, CL_LOCAL_QUORUM, "fwd");
	cr_expect_eq(r.res.code, 0, "%s", r.res.msg);
	cr_expect_str_eq(r.value, "each2");
	settle_requests();
}

/* Writes to a replication wider than a write's inline slots (5 + 5 in two DCs): one
 * forward to dc2, whose forwarder relays its peers' acks into the write's slot block. */
Test(storage_proxy, wide_two_dc_write_is_forwarded_once)
{
	const char *dcs[] = {"dc1", "dc1", "dc1", "dc1", "dc1", "dc2", "dc2", "dc2", "dc2", "dc2"};
	const char *k[] = {"class", "dc1", "dc2"}, *v[] = {"NetworkTopologyStrategy", "5", "5"};
	cluster(10, dcs, k, v, 3);
	cr_assert_gt(10, SP_WRITE_INLINE);
	struct cerr w = write_at(0, CL_ALL, "wfwd", 1, "everywhere", 9);
	cr_assert_eq(w.code, 0, "%s", w.msg);
	for (size_t i = 0; i < 10; i++)
		cr_expect_str_eq(local_read(i, "wfwd").value, "everywhere", "node %zu", i);
	struct storage_proxy_stats st;
	storage_proxy_get_stats(N[0].sp, &st);
	cr_expect_eq(st.forwarded, 1);
	cr_expect_eq(st.relayed_acks, 4);
	w = write_at(0, CL_EACH_QUORUM, "wfwd", 1, "each", 10);
	cr_expect_eq(w.code, 0, "%s", w.msg);
	struct outcome r = read_at(6, CL_EACH_QUORUM, "wfwd");
	cr_expect_eq(r.res.code, 0, "%s", r.res.msg);
	cr_expect_str_eq(r.value, "each");
	settle_requests();
}

/* A mutation larger than what pooled states keep (16 KiB): forwarded, copied for hints by
 * the coordinator and the forwarder, then released; the next writes reuse the states. */
Test(storage_proxy, big_mutation_through_the_pools)
{
	USE_HINTS = true;
	cluster_2dc();
	size_t big = 100 * 1024;
	char *v = malloc(big + 1);
	cr_assert(v);
	memset(v, 'b', big);
	v[big] = 0;
	for (int round = 0; round < 2; round++) {
		struct cerr w = write_at(0, CL_ALL, "bigm", 1, v, 10 + round);
		cr_assert_eq(w.code, 0, "%s", w.msg);
		for (size_t i = 0; i < 6; i++)
			cr_expect_eq(local_read(i, "bigm").rows, round ? 2 : 1, "node %zu", i);
		w = write_at(0, CL_ALL, "bigm", 2, "small", 20 + round);
		cr_assert_eq(w.code, 0, "%s", w.msg);
		for (size_t i = 0; i < 6; i++)
			cr_expect_str_eq(local_read(i, "bigm").value, "small", "node %zu", i);
	}
	free(v);
	settle_requests();
}

/* Range reads walk the ring at the level, merge replicas, repair, and page by position. */
Test(storage_proxy, range_scan_pages_and_repairs)
{
	cluster_simple(4, "3");
	char key[32];
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "scan%02d", i);
		cr_assert_eq(write_at((size_t)i % 4, CL_ALL, key, 1, "v", 100 + i).code, 0);
	}
	/* a newer value that only one replica of scan07 has */
	uint32_t reps[SP_MAX_REPLICAS];
	replicas_of("scan07", reps);
	write_local(reps[2], "scan07", 1, "fresh", 999);
	/* and a row that only one replica has */
	replicas_of("scan11", reps);
	write_local(reps[1], "scan11", 2, "extra", 500);
	/* full scan at ALL */
	struct range_read sc = {.table = N[0].tbl, .start = INT64_MIN, .end = INT64_MIN};
	struct outcome o = {0};
	storage_proxy_scan(N[0].sp, RING, &REP, CL_ALL, &sc, on_row, &o, on_done, &o);
	cr_assert(run_until(&o.done, ANSWER_MS));
	cr_assert_eq(o.res.code, 0, "%s", o.res.msg);
	cr_expect_eq(o.rows, 41);
	bool fresh = false;
	for (int i = 0; i < o.rows && i < 256; i++)
		if (strcmp(o.keys[i], "scan07") == 0)
			fresh = true;
	cr_expect(fresh);
	for (size_t n = 0; n < 4; n++)
		if (is_replica("scan07", n))
			cr_expect_str_eq(local_read(n, "scan07").value, "fresh",
			                 "node %zu repaired", n);
	/* paging at QUORUM with limit 7: every row once, in the same order */
	struct outcome all = o;
	int got = 0;
	struct store_position pos;
	struct store_value ckv;
	uint8_t ckb[4];
	uint8_t keyb[64];
	bool have_pos = false;
	for (int page = 0; page < 20; page++) {
		struct outcome p = {0};
		struct range_read ps = {.table = N[1].tbl,
		                        .start = INT64_MIN,
		                        .end = INT64_MIN,
		                        .after = have_pos ? &pos : NULL,
		                        .limit = 7};
		storage_proxy_scan(N[(size_t)page % 4].sp, RING, &REP, CL_QUORUM, &ps, on_row, &p,
		                   on_done, &p);
		cr_assert(run_until(&p.done, ANSWER_MS));
		cr_assert_eq(p.res.code, 0, "%s", p.res.msg);
		cr_assert(p.rows <= 7);
		for (int i = 0; i < p.rows; i++) {
			cr_expect_str_eq(p.keys[i], all.keys[got + i], "page %d row %d", page, i);
			cr_expect_eq(p.cks[i], all.cks[got + i]);
		}
		got += p.rows;
		if (p.rows < 7)
			break;
		/* position after the last row of the page */
		const char *lk = p.keys[p.rows - 1];
		size_t kl = strlen(lk);
		memcpy(keyb, lk, kl);
		struct store_value pkv = {keyb, kl};
		cr_assert_eq(store_partition_token(N[1].tbl, &pkv, 1, &pos.token, NULL), 0);
		pos.key = keyb;
		pos.key_len = kl;
		ck_of(p.cks[p.rows - 1], ckb);
		ckv.p = ckb;
		ckv.len = 4;
		pos.ck = &ckv;
		pos.n_ck = 1;
		have_pos = true;
	}
	cr_expect_eq(got, 41);
}

/* ---- wire formats (golden bytes) ------------------------------------------------------------ */

static void expect_bytes(const struct buf *b, const uint8_t *want, size_t n)
{
	cr_assert_eq(b->len, n, "length %zu, want %zu", b->len, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(b->data[i], want[i], "byte %zu: %02x, want %02x", i, b->data[i],
		             want[i]);
}

Test(verbs_format, golden_mutation_and_relay)
{
	struct buf b;
	buf_init(&b);
	static const uint8_t mut[] = {0x91, 0x01}; /* stands for the storage bytes, copied as is */
	verbs_put_mutation(&b, mut, sizeof(mut), 0, NULL, 0, NULL);
	static const uint8_t plain[] = {0x92, 0x91, 0x01, 0xc0};
	expect_bytes(&b, plain, sizeof(plain));
	buf_reset(&b);
	struct verbs_forward f[1];
	cr_assert_eq(net_addr_parse("127.0.7.4", 7000, &f[0].addr, NULL), 0);
	f[0].slot = 3;
	verbs_put_mutation(&b, mut, sizeof(mut), 0x100000002ull, f, 1, NULL);
	static const uint8_t fwd[] = {0x92, 0x91, 0x01, 0x92, 0xcf, 0,    0,    0,    1,   0,
	                              0,    0,    2,    0x91, 0x93, 0xa9, '1',  '2',  '7', '.',
	                              '0',  '.',  '7',  '.',  '4',  0xcd, 0x1b, 0x58, 0x03};
	expect_bytes(&b, fwd, sizeof(fwd));
	struct verbs_mutation_msg mm;
	cr_assert_eq(verbs_mutation_decode(b.data, b.len, &mm), 0);
	cr_expect_eq(mm.mut_len, 2);
	cr_expect_eq(mm.mut[0], 0x91);
	cr_expect_eq(mm.write_id, 0x100000002ull);
	cr_expect_eq(mm.n_fwd, 1);
	cr_expect_eq(mm.fwd[0].slot, 3);
	cr_expect(net_addr_equal(&mm.fwd[0].addr, &f[0].addr));
	for (size_t k = 0; k < b.len; k++)
		cr_expect_eq(verbs_mutation_decode(b.data, k, &mm), COL_ECORRUPT, "cut at %zu", k);
	buf_reset(&b);
	verbs_put_relay_ack(&b, 5, 2, COL_ETIMEDOUT);
	static const uint8_t ack[] = {0x93, 0x05, 0x02, 0xf7};
	expect_bytes(&b, ack, sizeof(ack));
	uint64_t id;
	uint32_t slot;
	int st;
	cr_assert_eq(verbs_decode_relay_ack(b.data, b.len, &id, &slot, &st), 0);
	cr_expect_eq(id, 5);
	cr_expect_eq(slot, 2);
	cr_expect_eq(st, COL_ETIMEDOUT);
	static const uint8_t bad[] = {0x93, 0x05, 0x02, 0x05};
	cr_expect_eq(verbs_decode_relay_ack(bad, sizeof(bad), &id, &slot, &st), COL_ECORRUPT,
	             "positive status refused");
	buf_release(&b);
}

Test(verbs_format, golden_read_requests)
{
	struct buf b;
	buf_init(&b);
	struct store_value pk = {"k", 1};
	struct verbs_read rd = {
	        .kind = VERBS_READ_DIGEST, .now_s = 1000, .limit = 0, .pk = &pk, .n_pk = 1};
	memset(rd.table_id, 0xab, 16);
	verbs_put_read(&b, &rd);
	static const uint8_t dig[] = {0x96, 0x01, 0xc4, 0x10, 0xab, 0xab, 0xab, 0xab,
	                              0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
	                              0xab, 0xab, 0xab, 0xab, 0xcd, 0x03, 0xe8, 0x00,
	                              0x00, 0x92, 0x91, 0xc4, 0x01, 'k',  0xc0};
	expect_bytes(&b, dig, sizeof(dig));
	struct verbs_read_req q;
	cr_assert_eq(verbs_read_decode(b.data, b.len, &q), 0);
	cr_expect_eq(q.rd.kind, VERBS_READ_DIGEST);
	cr_expect_eq(q.rd.now_s, 1000);
	cr_expect_eq(q.rd.n_pk, 1);
	cr_expect_eq(q.rd.pk[0].len, 1);
	cr_expect(q.rd.slice == NULL);
	for (size_t k = 0; k < b.len; k++)
		cr_expect_eq(verbs_read_decode(b.data, k, &q), COL_ECORRUPT, "cut at %zu", k);
	buf_reset(&b);
	struct verbs_read rg = {
	        .kind = VERBS_READ_RANGE, .now_s = 1, .limit = 10, .start = -1, .end = 5};
	memset(rg.table_id, 0, 16);
	verbs_put_read(&b, &rg);
	static const uint8_t rng[] = {0x96, 0x02, 0xc4, 0x10, 0,    0,    0,    0,    0,
	                              0,    0,    0,    0,    0,    0,    0,    0,    0,
	                              0,    0,    0x01, 0x00, 0x0a, 0x93, 0xff, 0x05, 0xc0};
	expect_bytes(&b, rng, sizeof(rng));
	cr_assert_eq(verbs_read_decode(b.data, b.len, &q), 0);
	cr_expect_eq(q.rd.kind, VERBS_READ_RANGE);
	cr_expect_eq(q.rd.start, -1);
	cr_expect_eq(q.rd.end, 5);
	cr_expect_eq(q.rd.limit, 10);
	cr_expect(q.rd.after == NULL);
	/* through an index: ENTRIES (two values), resuming after a row */
	buf_reset(&b);
	struct store_value ck = {"\x02", 1}, vals[2] = {{"a", 1}, {"\x01", 1}};
	struct store_position after = {
	        .token = 3, .key = (const uint8_t *)"\x01", .key_len = 1, .ck = &ck, .n_ck = 1};
	struct verbs_read ix = {.kind = VERBS_READ_INDEX,
	                        .now_s = 1,
	                        .limit = 10,
	                        .start = 0,
	                        .end = 0,
	                        .after = &after,
	                        .ix = {STORE_IX_COLUMN, STORE_IX_ENTRIES, 4},
	                        .ix_vals = vals,
	                        .n_ix_vals = 2};
	memset(ix.table_id, 0, 16);
	verbs_put_read(&b, &ix);
	static const uint8_t ixr[] = {0x96, 0x03, 0xc4, 0x10, 0,    0,    0,    0,    0,    0,
	                              0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
	                              0x01, 0x00, 0x0a, 0x95, 0x00, 0x00, 0x93, 0x03, 0xc4, 0x01,
	                              0x01, 0x91, 0xc4, 0x01, 0x02, 0x93, 0x00, 0x02, 0x04, 0x92,
	                              0xc4, 0x01, 'a',  0xc4, 0x01, 0x01};
	expect_bytes(&b, ixr, sizeof(ixr));
	cr_assert_eq(verbs_read_decode(b.data, b.len, &q), 0);
	cr_expect_eq(q.rd.kind, VERBS_READ_INDEX);
	cr_expect_eq(q.rd.ix.on, STORE_IX_COLUMN);
	cr_expect_eq(q.rd.ix.kind, STORE_IX_ENTRIES);
	cr_expect_eq(q.rd.ix.col, 4);
	cr_expect_eq(q.rd.n_ix_vals, 2);
	cr_expect_eq(q.rd.ix_vals[0].len, 1);
	cr_expect_eq(((const uint8_t *)q.rd.ix_vals[1].p)[0], 1);
	cr_expect_eq(q.rd.after->token, 3);
	cr_expect_eq(q.rd.after->n_ck, 1);
	for (size_t k = 0; k < b.len; k++)
		cr_expect_eq(verbs_read_decode(b.data, k, &q), COL_ECORRUPT, "cut at %zu", k);
	/* refused: no value, three values, an unknown index kind */
	static const uint8_t novals[] = {0x96, 0x03, 0xc4, 0x10, 0,    0,    0, 0, 0, 0,   0,
	                                 0,    0,    0,    0,    0,    0,    0, 0, 0, 1,   0,
	                                 0x0a, 0x95, 0,    0,    0xc0, 0x93, 0, 0, 4, 0x90};
	cr_expect_eq(verbs_read_decode(novals, sizeof(novals), &q), COL_ECORRUPT);
	static const uint8_t badkind[] = {
	        0x96, 0x03, 0xc4, 0x10, 0, 0,    0,    0, 0, 0,    0,    0, 0, 0, 0,    0,    0,
	        0,    0,    0,    1,    0, 0x0a, 0x95, 0, 0, 0xc0, 0x93, 0, 7, 4, 0x91, 0xc4, 0x00};
	cr_expect_eq(verbs_read_decode(badkind, sizeof(badkind), &q), COL_ECORRUPT);
	buf_release(&b);
}

Test(verbs_format, golden_read_result_and_digest, .fini = teardown)
{
	/* One partition "k" (token pinned below), one row ck 1 with a marker and a cell. */
	cluster_simple(1, "1");
	write_local(0, "k", 1, "v", 7);
	struct store_value pk = {"k", 1};
	struct verbs_read rd = {.kind = VERBS_READ_DATA, .now_s = 1000, .pk = &pk, .n_pk = 1};
	memcpy(rd.table_id, TABLE_ID, 16);
	struct buf b;
	buf_init(&b);
	cr_assert_eq(verbs_read_local(N[0].store, &rd, &b, NULL), 0);
	int64_t tok;
	cr_assert_eq(store_partition_token(N[0].tbl, &pk, 1, &tok, NULL), 0);
	const uint8_t head[] = {0xdd, 0, 0, 0, 1, /* one partition */
	                        0x96};
	const uint8_t rest[] = {0xc4, 0x01, 'k',                       /* key */
	                        0x91, 0xc4, 0x01, 'k',                 /* pk */
	                        0xc0,                                  /* no partition deletion */
	                        0x90,                                  /* no range tombstones */
	                        0xdd, 0,    0,    0,    1,             /* one row */
	                        0x95, 0xc2,                            /* not static */
	                        0x91, 0xc4, 0x04, 0,    0,    0,    1, /* ck 1 (int, native) */
	                        0x93, 0x07, 0x00, 0x00,                /* marker ts 7 */
	                        0xc0,                                  /* no row deletion */
	                        0x91, 0x97, 0x01, 0xc0, 0x07, 0xc2, 0xc4, 0x01, 'v', 0x00, 0x00};
	/* the token in msgpack's shortest form */
	struct buf w;
	buf_init(&w);
	buf_put(&w, head, sizeof(head));
	msgpk_put_int(&w, tok);
	buf_put(&w, rest, sizeof(rest));
	expect_bytes(&b, w.data, w.len);
	/* digest = xxh3-64 of those bytes; a different timestamp changes it */
	uint64_t d1 = verbs_digest(b.data, b.len);
	write_local(0, "k", 1, "v", 8);
	struct buf b2;
	buf_init(&b2);
	cr_assert_eq(verbs_read_local(N[0].store, &rd, &b2, NULL), 0);
	cr_expect_neq(verbs_digest(b2.data, b2.len), d1);
	/* the decoder reads it back */
	struct rres rr;
	rres_init(&rr);
	cr_assert_eq(rres_decode(&rr, b2.data, b2.len, NULL), 0);
	cr_expect_eq(rr.n_parts, 1);
	cr_expect_eq(rr.n_rows, 1);
	cr_expect_eq(rr.n_cells, 1);
	cr_expect_eq(rr.cells[0].ts, 8);
	/* truncations never decode */
	for (size_t k = 0; k < b2.len; k++) {
		rres_reset(&rr);
		cr_expect_neq(rres_decode(&rr, b2.data, k, NULL), 0, "truncated at %zu", k);
	}
	rres_release(&rr);
	buf_release(&b);
	buf_release(&b2);
	buf_release(&w);
}

static void delete_partition_local(size_t i, const char *key, int64_t ts)
{
	struct store_value pk = {key, strlen(key)};
	struct store_mutation m;
	struct cerr e = {0};
	cr_assert_eq(store_mutation_init(&m, N[i].tbl, &pk, 1, 0, &e), 0, "%s", e.msg);
	cr_assert_eq(store_mutation_delete_partition(&m, ts), 0);
	cr_assert_eq(store_apply(N[i].store, &m, &e), 0, "%s", e.msg);
	store_mutation_release(&m);
}

/* A partition tombstone on one replica hides older rows everywhere, and is repaired. */
Test(storage_proxy, partition_tombstone_wins_and_is_repaired)
{
	cluster_simple(3, "3");
	cr_assert_eq(write_at(0, CL_ALL, "gone", 1, "a", 5).code, 0);
	cr_assert_eq(write_at(0, CL_ALL, "gone", 2, "b", 6).code, 0);
	delete_partition_local(2, "gone", 10);
	cr_expect_eq(local_read(2, "gone").rows, 0);
	cr_expect_eq(local_read(0, "gone").rows, 2);
	struct outcome r = read_at(0, CL_ALL, "gone");
	cr_assert_eq(r.res.code, 0, "%s", r.res.msg);
	cr_expect_eq(r.rows, 0, "the deletion at ts 10 shadows both rows");
	for (size_t n = 0; n < 3; n++)
		cr_expect_eq(local_read(n, "gone").rows, 0, "node %zu holds the tombstone", n);
	/* a newer row after the deletion is live again, on every replica */
	cr_assert_eq(write_at(1, CL_QUORUM, "gone", 3, "c", 11).code, 0);
	settle_held("gone", "c", 0x7);
	r = read_at(2, CL_ALL, "gone");
	cr_expect_eq(r.rows, 1);
	cr_expect_str_eq(r.value, "c");
}

/* A batch of partitions succeeds when every one meets the level. */
Test(storage_proxy, batch_of_partitions)
{
	cluster_simple(4, "3");
	struct store_mutation m[5];
	struct store_mutation *ms[5];
	char key[16];
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "b%d", i);
		mk_mutation(&m[i], 0, key, 1, "batched", 50);
		ms[i] = &m[i];
	}
	struct outcome o = {0};
	ev_now_update(L);
	storage_proxy_write(N[0].sp, RING, &REP, CL_QUORUM, ms, 5, CERR_WRITE_UNLOGGED_BATCH,
	                    on_done, &o);
	for (int i = 0; i < 5; i++)
		store_mutation_release(&m[i]);
	cr_assert(run_until(&o.done, ANSWER_MS));
	cr_expect_eq(o.res.code, 0, "%s", o.res.msg);
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "b%d", i);
		struct outcome r = read_at((size_t)i % 4, CL_QUORUM, key);
		cr_expect_str_eq(r.value, "batched", "%s", key);
	}
	/* one partition short of replicas: Unavailable, and nothing is sent for any */
	uint32_t reps[SP_MAX_REPLICAS];
	replicas_of("bx1", reps);
	N[reps[0]].down = true;
	N[reps[1]].down = true;
	size_t coord = reps[2]; /* up, and bx1's only live replica */
	mk_mutation(&m[0], coord, "bx0", 1, "no", 60);
	mk_mutation(&m[1], coord, "bx1", 1, "no", 60);
	struct outcome u = {0};
	storage_proxy_write(N[coord].sp, RING, &REP, CL_QUORUM, ms, 2, CERR_WRITE_BATCH, on_done,
	                    &u);
	store_mutation_release(&m[0]);
	store_mutation_release(&m[1]);
	cr_assert(run_until(&u.done, ANSWER_MS));
	cr_expect_eq(u.res.code, COL_EUNAVAILABLE);
	cr_expect_eq(u.res.rep.write_type, CERR_WRITE_BATCH);
	run_ms(50);
	for (size_t n = 0; n < 4; n++)
		cr_expect_eq(local_read(n, "bx0").rows, 0, "node %zu got nothing", n);
}

/* A replica that refuses (unknown table) fails the write at once, naming it. */
Test(storage_proxy, replica_failure_fails_the_write)
{
	cluster_simple(3, "3");
	struct cerr e = {0};
	cr_assert_eq(store_table_drop(N[1].tbl, &e), 0, "%s", e.msg);
	cr_assert_eq(store_table_drop(N[2].tbl, &e), 0, "%s", e.msg);
	int64_t t0 = clock_mono_ms();
	struct cerr w = write_at(0, CL_QUORUM, "nt", 1, "x", 1);
	cr_expect_eq(w.code, COL_EFAILED, "%s", w.msg);
	cr_expect(clock_mono_ms() - t0 < WTO, "did not wait for the timeout");
	cr_expect(strstr(w.msg, "replica 127.") != NULL, "%s", w.msg);
	cr_expect(w.rep.write);
	cr_expect_eq(w.rep.write_type, CERR_WRITE_SIMPLE);
	cr_expect_eq(w.rep.required, 2);
	cr_expect_geq(w.rep.failures, 1, "failures %d", w.rep.failures);
	cr_expect_leq(w.rep.received + w.rep.failures, 3);
	struct outcome r = read_at(0, CL_QUORUM, "nt");
	cr_expect_eq(r.res.code, COL_EFAILED, "%s", r.res.msg);
	cr_expect_not(r.res.rep.write);
	cr_expect_eq(r.res.rep.required, 2);
	cr_expect_geq(r.res.rep.failures, 1, "failures %d", r.res.rep.failures);
	cr_expect(strstr(r.res.msg, "unknown on this replica") != NULL, "%s", r.res.msg);
	N[1].tbl = N[2].tbl = NULL;
}

/* EACH_QUORUM and LOCAL_QUORUM reads across two DCs. */
Test(storage_proxy, two_dc_reads)
{
	cluster_2dc();
	cr_assert_eq(write_at(4, CL_EACH_QUORUM, "dc", 1, "both", 5).code, 0);
	settle_held("dc", "both", 0x3f);
	/* a dc2-only newer value: LOCAL_QUORUM in dc1 cannot see it, EACH_QUORUM does and repairs
	 */
	write_local(3, "dc", 1, "dc2-only", 9);
	write_local(4, "dc", 1, "dc2-only", 9);
	write_local(5, "dc", 1, "dc2-only", 9);
	struct outcome r = read_at(0, CL_LOCAL_QUORUM, "dc");
	cr_expect_eq(r.res.code, 0, "%s", r.res.msg);
	cr_expect_str_eq(r.value, "both");
	r = read_at(0, CL_EACH_QUORUM, "dc");
	cr_expect_eq(r.res.code, 0, "%s", r.res.msg);
	cr_expect_str_eq(r.value, "dc2-only");
	r = read_at(1, CL_LOCAL_QUORUM, "dc");
	cr_expect_str_eq(r.value, "dc2-only", "the EACH_QUORUM read repaired dc1's quorum");
}

/*
 * A replication wider than a read's inline slots (RF 10 on 10 nodes): the read takes a block
 * of slots, finds the stale replica among ten, repairs it, keeps the block for the next read
 * (QUORUM: six contacts, four spares), and names the lowest failed replica when some fail.
 */
Test(storage_proxy, reads_wider_than_the_inline_slots)
{
	cluster_simple(10, "10");
	cr_assert_gt(10, SP_READ_INLINE);
	cr_assert_eq(write_at(0, CL_ALL, "wide", 1, "old", 10).code, 0);
	for (size_t i = 0; i < 9; i++)
		write_local(i, "wide", 1, "new", 20); /* node 10 alone is stale */
	struct storage_proxy_stats st0, st;
	storage_proxy_get_stats(N[9].sp, &st0);
	struct outcome r = read_at(9, CL_ALL, "wide");
	cr_assert_eq(r.res.code, 0, "%s", r.res.msg);
	cr_expect_str_eq(r.value, "new");
	storage_proxy_get_stats(N[9].sp, &st);
	cr_expect_eq(st.digest_mismatches, st0.digest_mismatches + 1);
	cr_expect_gt(st.read_repairs, st0.read_repairs);
	cr_expect_str_eq(local_read(9, "wide").value, "new", "repaired before the answer");
	for (int k = 0; k < 3; k++) {
		r = read_at(9, CL_QUORUM, "wide");
		cr_assert_eq(r.res.code, 0, "%s", r.res.msg);
		cr_expect_str_eq(r.value, "new");
	}
	storage_proxy_get_stats(N[9].sp, &st0);
	cr_expect_eq(st0.digest_mismatches, st.digest_mismatches, "nothing left to repair");
	struct cerr e = {0};
	cr_assert_eq(store_table_drop(N[3].tbl, &e), 0, "%s", e.msg);
	cr_assert_eq(store_table_drop(N[6].tbl, &e), 0, "%s", e.msg);
	N[3].tbl = N[6].tbl = NULL;
	r = read_at(9, CL_ALL, "wide");
	cr_expect_eq(r.res.code, COL_EFAILED, "%s", r.res.msg);
	cr_expect_eq(r.res.rep.required, 10);
	cr_expect_geq(r.res.rep.failures, 1, "failures %d", r.res.rep.failures);
	cr_expect(strstr(r.res.msg, "read failed at ALL: replica 127.") != NULL, "%s", r.res.msg);
	cr_expect(strstr(r.res.msg, "unknown on this replica") != NULL, "%s", r.res.msg);
}

/* The same cluster as a ring whose node indexes run backwards (a new snapshot). */
static struct ring *ring_reversed(void)
{
	struct ring_endpoint rev[MAXN];
	for (size_t i = 0; i < NN; i++)
		rev[i] = EPS[NN - 1 - i];
	struct ring *r;
	struct cerr e = {0};
	cr_assert_eq(ring_new(rev, NN, &r, &e), 0, "%s", e.msg);
	return r;
}

/*
 * A ring swap while requests are in flight: requests started on the old
 * snapshot finish on it (its node indexes, its addresses), requests on the new
 * one use the new indexes, and neither disturbs the other.
 */
Test(storage_proxy, ring_swap_mid_request)
{
	cluster_simple(4, "3");
	struct ring *a = RING, *b = ring_reversed();
	uint32_t reps[SP_MAX_REPLICAS];
	replicas_of("swap", reps);
	size_t coord = reps[0];
	cr_assert_eq(write_at(coord, CL_ALL, "swap", 1, "old", 5).code, 0);
	write_local(reps[1], "swap", 1, "newer", 9); /* a mismatch: the read needs phase 2 */
	for (int round = 0; round < 3; round++) {
		struct store_value pk = {"swap", 4};
		struct partition_read rd = {.table = N[coord].tbl, .pk = &pk, .n_pk = 1};
		struct outcome o1 = {0}, o2 = {0}, w1 = {0};
		ev_now_update(L);
		storage_proxy_read_partition(N[coord].sp, a, &REP, CL_ALL, &rd, on_row, &o1,
		                             on_done, &o1);
		/* a request on the new ring switches the proxy's cache while o1 is in flight */
		storage_proxy_read_partition(N[coord].sp, b, &REP, CL_ALL, &rd, on_row, &o2,
		                             on_done, &o2);
		struct store_mutation m;
		mk_mutation(&m, coord, "swap2", 1, "w", 20 + round);
		struct store_mutation *ms[1] = {&m};
		storage_proxy_write(N[coord].sp, a, &REP, CL_ALL, ms, 1, CERR_WRITE_SIMPLE, on_done,
		                    &w1);
		store_mutation_release(&m);
		struct outcome o3 = {0};
		storage_proxy_read_partition(N[coord].sp, b, &REP, CL_ALL, &rd, on_row, &o3,
		                             on_done, &o3);
		cr_assert(run_until(&o1.done, ANSWER_MS) && run_until(&o2.done, ANSWER_MS) &&
		          run_until(&w1.done, ANSWER_MS) && run_until(&o3.done, ANSWER_MS));
		cr_expect_eq(o1.res.code, 0, "%s", o1.res.msg);
		cr_expect_eq(o2.res.code, 0, "%s", o2.res.msg);
		cr_expect_eq(o3.res.code, 0, "%s", o3.res.msg);
		cr_expect_eq(w1.res.code, 0, "%s", w1.res.msg);
		const char *want = round == 0 ? "newer" : "newest";
		cr_expect_str_eq(o1.value, want, "round %d", round);
		cr_expect_str_eq(o2.value, want, "round %d: %s rows %d", round, o2.value, o2.rows);
		cr_expect_str_eq(o3.value, want, "round %d: %s rows %d", round, o3.value, o3.rows);
		if (round == 0)
			write_local(reps[2], "swap", 1, "newest", 30);
	}
	for (size_t n = 0; n < 3; n++)
		cr_expect_str_eq(local_read(reps[n], "swap").value, "newest", "replica %zu", n);
	ring_unref(b);
}

/* LocalStrategy: every node is the lone replica of its own copy. */
Test(storage_proxy, local_strategy_stays_local)
{
	cluster_simple(3, "3");
	const char *k[] = {"class"}, *v[] = {"LocalStrategy"};
	struct cerr e = {0};
	cr_assert_eq(replication_parse(k, v, 1, &REP, &e), 0, "%s", e.msg);
	cr_expect_eq(write_at(1, CL_ONE, "loc", 1, "mine", 3).code, 0);
	cr_expect_eq(write_at(1, CL_ALL, "loc", 2, "mine", 3).code, 0);
	struct cerr w = write_at(1, CL_TWO, "loc", 1, "x", 4);
	cr_expect_eq(w.code, COL_EUNAVAILABLE);
	cr_expect_eq(w.rep.required, 2);
	cr_expect_eq(w.rep.received, 1);
	settle_requests();
	cr_expect_eq(local_read(1, "loc").rows, 2);
	cr_expect_eq(local_read(0, "loc").rows, 0);
	cr_expect_eq(local_read(2, "loc").rows, 0);
	struct outcome r = read_at(1, CL_QUORUM, "loc");
	cr_expect_eq(r.rows, 2);
	r = read_at(0, CL_QUORUM, "loc");
	cr_expect_eq(r.res.code, 0, "%s", r.res.msg);
	cr_expect_eq(r.rows, 0, "node 1 has its own, empty, copy");
}

/*
 * TestAccuracy across two datacenters (NTS {dc1: 3, dc2: 3}): a write
 * coordinated in dc1 reaches exactly the smallest replica set its level
 * accepts (the others are down while it is written, and no hints exist), then
 * a read from another node of dc1 and from a node of dc2 at every level whose
 * replica choice must overlap that set returns it.
 */
Test(storage_proxy, accuracy_two_dcs)
{
	cluster_2dc();
	struct {
		uint16_t cl;
		unsigned set; /* bit i: node i acked the write */
	} w[] = {{CL_ONE, 0x01},       {CL_TWO, 0x03},          {CL_THREE, 0x07},
	         {CL_QUORUM, 0x0f},    {CL_LOCAL_QUORUM, 0x03}, {CL_EACH_QUORUM, 0x1b},
	         {CL_LOCAL_ONE, 0x01}, {CL_ALL, 0x3f}};
	const uint16_t rl[] = {CL_ONE,          CL_TWO,         CL_THREE,     CL_QUORUM,
	                       CL_LOCAL_QUORUM, CL_EACH_QUORUM, CL_LOCAL_ONE, CL_ALL};
	const int r_count[] = {1, 2, 3, 4, 2, 0, 1, 6};
	int tested = 0;
	int64_t ts = 1;
	for (size_t wi = 0; wi < sizeof(w) / sizeof(w[0]); wi++) {
		int in_dc1 = __builtin_popcount(w[wi].set & 0x07);
		int in_dc2 = __builtin_popcount(w[wi].set & 0x38);
		int size = in_dc1 + in_dc2;
		for (size_t ri = 0; ri < sizeof(rl) / sizeof(rl[0]); ri++) {
			const size_t readers[] = {2, 5};
			for (size_t k = 0; k < 2; k++) {
				size_t reader = readers[k];
				int mine = reader < 3 ? in_dc1 : in_dc2;
				bool overlap;
				if (rl[ri] == CL_EACH_QUORUM)
					overlap = 2 + in_dc1 > 3 || 2 + in_dc2 > 3;
				else if (rl[ri] == CL_LOCAL_QUORUM || rl[ri] == CL_LOCAL_ONE)
					overlap = r_count[ri] + mine > 3;
				else
					overlap = r_count[ri] + size > 6;
				if (!overlap)
					continue;
				char key[48], val[48];
				snprintf(key, sizeof(key), "acc2-%zu-%zu-%zu", wi, ri, k);
				snprintf(val, sizeof(val), "v-%zu-%zu-%zu", wi, ri, k);
				for (size_t n = 0; n < 6; n++)
					N[n].down = !(w[wi].set & (1u << n));
				struct cerr wr = write_at(0, w[wi].cl, key, 1, val, ++ts);
				cr_assert_eq(wr.code, 0, "W=%s: %s", cql_consistency_name(w[wi].cl),
				             wr.msg);
				/* every live replica has it, the down ones never will */
				unsigned live = 0;
				for (size_t n = 0; n < 6; n++)
					if (!N[n].down && is_replica(key, n))
						live |= 1u << n;
				settle_held(key, val, live);
				for (size_t n = 0; n < 6; n++)
					N[n].down = false;
				struct outcome r = read_at(reader, rl[ri], key);
				cr_expect_eq(r.res.code, 0, "W=%s R=%s from node %zu: %s",
				             cql_consistency_name(w[wi].cl),
				             cql_consistency_name(rl[ri]), reader, r.res.msg);
				cr_expect_str_eq(r.value, val, "W=%s R=%s from node %zu",
				                 cql_consistency_name(w[wi].cl),
				                 cql_consistency_name(rl[ri]), reader);
				tested++;
			}
		}
	}
	cr_expect(tested >= 40, "%d pairs", tested);
}

static int hint_fn(void *ctx, const struct ring *r, size_t idx, const uint8_t *mut, size_t len,
                   unsigned flags)
{
	(void)ctx;
	if (HINTS_FAIL)
		return COL_EIO;
	struct tnode *n = node_of(r, idx);
	cr_assert(n != NULL);
	struct hinted *h = &HINTS[n - N];
	h->n++;
	h->flags = flags;
	buf_reset(&h->last);
	buf_put(&h->last, mut, len);
	return 0;
}

static struct tnode *node_at(const struct net_addr *a)
{
	for (size_t i = 0; i < NN; i++)
		if (net_addr_equal(&N[i].addr, a))
			return &N[i];
	return NULL;
}

/* The forwarder's view of its DC's peers, and its hint sink. */
static bool v_alive_fn(void *ctx, const struct net_addr *peer)
{
	(void)ctx;
	struct tnode *n = node_at(peer);
	return n && !n->down;
}

static int v_hint_fn(void *ctx, const struct net_addr *peer, const uint8_t *mut, size_t len)
{
	struct tnode *fw = ctx;
	if (HINTS_FAIL)
		return COL_EIO;
	struct tnode *n = node_at(peer);
	cr_assert(n != NULL);
	struct hinted *h = &HINTS[n - N];
	h->n++;
	buf_reset(&h->last);
	buf_put(&h->last, mut, len);
	HINTS[fw - N].by++;
	return 0;
}

/* The hinted-handoff seam: down replicas, silent ones, and ANY. */
Test(storage_proxy, hints_for_down_and_silent_replicas)
{
	WTO = WTO_SHORT; /* the silent replicas time out */
	USE_HINTS = true;
	cluster_simple(5, "3");
	const char *key = "hinted";
	uint32_t reps[SP_MAX_REPLICAS];
	replicas_of(key, reps);
	size_t coord = 0;
	for (size_t i = 0; i < 5; i++)
		if (!is_replica(key, i))
			coord = i;
	/* a replica known down is hinted at once, with the mutation's own bytes */
	N[reps[2]].down = true;
	struct cerr w = write_at(coord, CL_QUORUM, key, 1, "h1", 10);
	cr_expect_eq(w.code, 0, "%s", w.msg);
	cr_expect_eq(HINTS[reps[2]].n, 1);
	cr_expect_eq(HINTS[reps[0]].n + HINTS[reps[1]].n, 0);
	struct cerr e = {0};
	cr_assert_eq(store_apply_bytes(N[reps[2]].store, HINTS[reps[2]].last.data,
	                               HINTS[reps[2]].last.len, &e),
	             0, "%s", e.msg);
	cr_expect_str_eq(local_read(reps[2], key).value, "h1", "the hint replays the write");
	/* every replica down: ANY is met by hints alone (Cassandra's ANY) */
	for (size_t i = 0; i < 3; i++)
		N[reps[i]].down = true;
	w = write_at(coord, CL_ANY, key, 1, "h2", 11);
	cr_expect_eq(w.code, 0, "%s", w.msg);
	w = write_at(coord, CL_ONE, key, 1, "h3", 12);
	cr_expect_eq(w.code, COL_EUNAVAILABLE, "ONE still needs a live replica");
	for (size_t i = 0; i < 3; i++) {
		N[reps[i]].down = false;
		cr_expect_eq(HINTS[reps[i]].n, i == 2 ? 2 : 1, "replica %zu", i);
	}
	/* a silent replica is hinted when its answer does not come in time */
	set_silent(reps[1], true);
	w = write_at(coord, CL_QUORUM, key, 1, "h4", 13);
	cr_expect_eq(w.code, 0, "%s", w.msg);
	int before = HINTS[reps[1]].n;
	settle_hints(reps[1], reps[1] + 1, before + 1);
	cr_expect_eq(HINTS[reps[1]].n, before + 1);
	struct storage_proxy_stats st;
	storage_proxy_get_stats(N[coord].sp, &st);
	cr_expect_eq(st.hints, 5, "1 down + 3 for ANY + 1 silent; none for the Unavailable write");
	set_silent(reps[1], false);
	/* ANY with every replica down: the first hint is the only copy, so it is synced */
	for (size_t i = 0; i < 3; i++)
		N[reps[i]].down = true;
	w = write_at(coord, CL_ANY, key, 1, "h5", 14);
	cr_expect_eq(w.code, 0, "%s", w.msg);
	cr_expect_eq(HINTS[reps[0]].flags, SP_HINT_SYNC, "the first hint is the ack");
	cr_expect_eq(HINTS[reps[2]].flags, 0);
	/* ... and when no hint can be stored either, ANY is Unavailable */
	HINTS_FAIL = true;
	w = write_at(coord, CL_ANY, key, 1, "h6", 15);
	cr_expect_eq(w.code, COL_EUNAVAILABLE, "%s", w.msg);
	cr_expect_eq(w.rep.required, 1);
	cr_expect_eq(w.rep.received, 0);
	HINTS_FAIL = false;
}

/*
 * A dc2 replica that accepts and never answers: its forwarder gives up first (three quarters
 * of the write timeout), hints it and relays HINTED, so the coordinator stores no second hint.
 */
Test(storage_proxy, silent_remote_replica_is_hinted_once_by_its_forwarder)
{
	/* The forwarder's HINTED must reach the coordinator in the last quarter of the write
	 * timeout: 250 ms of the short 1 s can be less than a loaded machine's scheduling
	 * delays between the loop's turns, so this one has the 4 s of a slow network. */
	WTO = 4000;
	USE_HINTS = true;
	cluster_2dc();
	const char *key = "quiet";
	uint32_t reps[SP_MAX_REPLICAS];
	size_t n = replicas_of(key, reps);
	/* no latency known yet: the forwarder is the first dc2 replica in placement order */
	long fw = -1, quiet = -1;
	for (size_t i = 0; i < n; i++) {
		if (reps[i] < 3)
			continue;
		if (fw < 0)
			fw = reps[i];
		else if (quiet < 0)
			quiet = reps[i];
	}
	cr_assert(fw >= 0 && quiet >= 0);
	set_silent((size_t)quiet, true);
	struct cerr w = write_at(0, CL_LOCAL_QUORUM, key, 1, "q", 1);
	cr_expect_eq(w.code, 0, "%s", w.msg);
	/* the forwarder's hint, then the coordinator's request ends: a second hint would come
	 * from it by then */
	settle_hints((size_t)quiet, (size_t)quiet + 1, 1);
	cr_expect_eq(HINTS[quiet].n, 1, "hinted once, not %d", HINTS[quiet].n);
	cr_expect_eq(HINTS[fw].by, 1, "by the forwarder");
	struct storage_proxy_stats st;
	storage_proxy_get_stats(N[0].sp, &st);
	cr_expect_eq(st.hints, 0, "the coordinator stored none");
	cr_expect_eq(st.forwarder_hints, 1);
}

/* A dc2 replica down during a dc1 write: the dc2 forwarder hints it, the coordinator does not. */
Test(storage_proxy, remote_dc_down_replica_is_hinted_by_its_forwarder)
{
	USE_HINTS = true;
	cluster_2dc();
	N[4].down = true; /* both sides' failure detectors agree */
	struct cerr w = write_at(0, CL_LOCAL_QUORUM, "fw", 1, "x", 1);
	cr_expect_eq(w.code, 0, "%s", w.msg);
	settle_hints(4, 5, 1);
	cr_expect_eq(HINTS[4].n, 1, "node 4 hinted once, not %d (by %d %d %d)", HINTS[4].n,
	             HINTS[3].by, HINTS[5].by, HINTS[0].by);
	cr_expect_eq(HINTS[0].by, 0, "not by the coordinator");
	cr_expect_eq(HINTS[3].by + HINTS[5].by, 1, "by the dc2 forwarder");
	struct storage_proxy_stats st;
	storage_proxy_get_stats(N[0].sp, &st);
	cr_expect_eq(st.hints, 0);
	cr_expect_eq(st.forwarder_hints, 1);
	struct cerr e = {0};
	cr_assert_eq(store_apply_bytes(N[4].store, HINTS[4].last.data, HINTS[4].last.len, &e), 0,
	             "%s", e.msg);
	cr_expect_str_eq(local_read(4, "fw").value, "x");
	/* ANY counts a forwarder's hint: dc1 all down, dc2's forwarder alive, its peers down */
	for (size_t i = 0; i < 3; i++)
		N[i].down = true;
	N[0].down = false; /* the coordinator itself is always alive to itself */
	N[5].down = true;
	w = write_at(0, CL_ANY, "fw2", 1, "y", 2);
	cr_expect_eq(w.code, 0, "%s", w.msg);
	for (size_t i = 0; i < 6; i++)
		N[i].down = false;
}

/* A remote DC that never answers: its forwarder and the peers it would have reached are hinted. */
Test(storage_proxy, hints_for_a_silent_remote_dc)
{
	WTO = WTO_SHORT; /* silent dc2 is hinted at the timeout */
	USE_HINTS = true;
	cluster_2dc();
	for (size_t i = 3; i < 6; i++)
		set_silent(i, true);
	struct cerr w = write_at(0, CL_LOCAL_QUORUM, "wan", 1, "x", 1);
	cr_expect_eq(w.code, 0, "%s", w.msg);
	cr_expect_eq(HINTS[3].n + HINTS[4].n + HINTS[5].n, 0, "nothing known yet");
	settle_hints(3, 6, 3);
	for (size_t i = 3; i < 6; i++)
		cr_expect_eq(HINTS[i].n, 1, "node %zu", i);
	for (size_t i = 0; i < 3; i++)
		cr_expect_eq(HINTS[i].n, 0, "node %zu", i);
	/* with dc2 answering again, a write leaves no hint behind */
	for (size_t i = 3; i < 6; i++)
		set_silent(i, false);
	w = write_at(0, CL_LOCAL_QUORUM, "wan", 1, "y", 2);
	cr_expect_eq(w.code, 0, "%s", w.msg);
	settle_requests();
	settle_held("wan", "y", 1u << 5);
	for (size_t i = 3; i < 6; i++)
		cr_expect_eq(HINTS[i].n, 1, "node %zu", i);
	cr_expect_str_eq(local_read(5, "wan").value, "y");
}

static void delete_row_local(size_t i, const char *key, int ck, int64_t ts)
{
	struct store_value pk = {key, strlen(key)};
	uint8_t c[4];
	ck_of(ck, c);
	struct store_value cv = {c, 4};
	struct store_mutation m;
	struct cerr e = {0};
	cr_assert_eq(store_mutation_init(&m, N[i].tbl, &pk, 1, 0, &e), 0, "%s", e.msg);
	cr_assert_eq(store_mutation_delete_row(&m, &cv, 1, ts), 0);
	cr_assert_eq(store_apply(N[i].store, &m, &e), 0, "%s", e.msg);
	store_mutation_release(&m);
}

/*
 * Short reads: with a row limit, replicas holding deletions the others lack
 * return fewer live rows; the read continues after the last row every cut
 * replica vouched for, until the limit or the end (partition and range reads,
 * both directions).
 */
Test(storage_proxy, short_read_protection)
{
	cluster_simple(3, "3");
	for (int ck = 1; ck <= 30; ck++)
		cr_assert_eq(write_at(0, CL_ALL, "sr", ck, "v", 100).code, 0);
	for (int ck = 1; ck <= 10; ck++)
		delete_row_local(0, "sr", ck, 200);
	for (int ck = 21; ck <= 25; ck++)
		delete_row_local(2, "sr", ck, 200);
	/* live: 11..20 and 26..30 */
	const int fwd[] = {11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 26, 27, 28, 29, 30};
	struct store_value pk = {"sr", 2};
	for (int rev = 0; rev < 2; rev++) {
		struct partition_read rd = {.table = N[1].tbl,
		                            .pk = &pk,
		                            .n_pk = 1,
		                            .flags = rev ? STORE_READ_REVERSE : 0,
		                            .limit = 15};
		struct outcome o = {0};
		ev_now_update(L);
		storage_proxy_read_partition(N[1].sp, RING, &REP, CL_ALL, &rd, on_row, &o, on_done,
		                             &o);
		cr_assert(run_until(&o.done, ANSWER_MS));
		cr_assert_eq(o.res.code, 0, "%s", o.res.msg);
		cr_expect_eq(o.rows, 15, "reverse %d", rev);
		for (int i = 0; i < o.rows && i < 15; i++)
			cr_expect_eq(o.cks[i], rev ? fwd[14 - i] : fwd[i], "reverse %d row %d", rev,
			             i);
		/* a smaller limit stops there */
		rd.limit = 4;
		struct outcome s4 = {0};
		storage_proxy_read_partition(N[2].sp, RING, &REP, CL_ALL, &rd, on_row, &s4, on_done,
		                             &s4);
		cr_assert(run_until(&s4.done, ANSWER_MS));
		cr_expect_eq(s4.rows, 4);
		cr_expect_eq(s4.cks[3], rev ? 27 : 14);
	}
	struct range_read sc = {
	        .table = N[0].tbl, .start = INT64_MIN, .end = INT64_MIN, .limit = 15};
	struct outcome o = {0};
	storage_proxy_scan(N[0].sp, RING, &REP, CL_ALL, &sc, on_row, &o, on_done, &o);
	cr_assert(run_until(&o.done, ANSWER_MS));
	cr_assert_eq(o.res.code, 0, "%s", o.res.msg);
	cr_expect_eq(o.rows, 15);
	for (int i = 0; i < o.rows && i < 15; i++)
		cr_expect_eq(o.cks[i], fwd[i], "scan row %d", i);
}

/* Replicas answer in pieces of replica_page_rows; reads without a limit still see everything. */
Test(storage_proxy, replica_pages_without_a_limit)
{
	PAGE_ROWS = 4;
	cluster_simple(3, "3");
	for (int ck = 1; ck <= 30; ck++)
		cr_assert_eq(write_at(0, CL_ALL, "pg", ck, "v", 100).code, 0);
	char key[16];
	for (int i = 0; i < 9; i++) {
		snprintf(key, sizeof(key), "pk%d", i);
		cr_assert_eq(write_at(1, CL_ALL, key, 1, "w", 100).code, 0);
	}
	for (int ck = 3; ck <= 12; ck++)
		delete_row_local(2, "pg", ck, 200);
	/* QUORUM through node 3 includes its deletions (it is its own closest replica) */
	struct outcome r = read_at(2, CL_QUORUM, "pg");
	cr_assert_eq(r.res.code, 0, "%s", r.res.msg);
	cr_expect_eq(r.rows, 20, "QUORUM through node 3: %d rows", r.rows);
	r = read_at(1, CL_ALL, "pg");
	cr_assert_eq(r.res.code, 0, "%s", r.res.msg);
	cr_expect_eq(r.rows, 20, "ALL through node 2: %d rows", r.rows);
	for (int i = 0; i < 20 && i < r.rows; i++)
		cr_expect_eq(r.cks[i], i < 2 ? i + 1 : i + 11, "row %d", i);
	struct range_read sc = {.table = N[0].tbl, .start = INT64_MIN, .end = INT64_MIN};
	struct outcome o = {0};
	ev_now_update(L);
	storage_proxy_scan(N[0].sp, RING, &REP, CL_QUORUM, &sc, on_row, &o, on_done, &o);
	cr_assert(run_until(&o.done, ANSWER_MS));
	cr_assert_eq(o.res.code, 0, "%s", o.res.msg);
	cr_expect_eq(o.rows, 29, "20 rows of pg, 9 partitions of one row");
}

/* Node i's DATA answer for key at now_s (a READ RESULT), into out. */
static void data_answer(size_t i, const char *key, int64_t now_s, struct buf *out)
{
	struct store_value pk = {key, strlen(key)};
	struct verbs_read rd = {.kind = VERBS_READ_DATA, .now_s = now_s, .pk = &pk, .n_pk = 1};
	memcpy(rd.table_id, TABLE_ID, 16);
	buf_reset(out);
	struct cerr e = {0};
	cr_assert_eq(verbs_read_local(N[i].store, &rd, out, &e), 0, "%s", e.msg);
}

static bool same_bytes(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/*
 * Replicas holding the same logical data answer with the same bytes (so the
 * same digest) whatever their compaction state: a row marker and cell a
 * partition deletion shadows, dropped by one replica's compaction and still
 * stored on the other's, leave no empty row behind; a tombstone past
 * gc_grace, which one replica may have purged, is not reported at all.
 */
Test(verbs_format, same_data_same_answer_whatever_the_compaction_state, .fini = teardown)
{
	cluster_simple(2, "2");
	int64_t now = clock_wall_s();
	for (size_t i = 0; i < 2; i++) {
		write_local(i, "k", 1, "v", 5);
		delete_partition_local(i, "k", 10);
	}
	struct cerr e = {0};
	cr_assert_eq(store_table_compact(N[1].tbl, 0, &e), 0, "%s", e.msg);
	struct buf a, b;
	buf_init(&a);
	buf_init(&b);
	data_answer(0, "k", now, &a);
	data_answer(1, "k", now, &b);
	cr_expect(same_bytes(&a, &b), "compacted and not: %zu and %zu bytes", a.len, b.len);
	cr_expect_eq(verbs_digest(a.data, a.len), verbs_digest(b.data, b.len));

	/* node 0 alone holds a partition deletion: it counts until gc_grace has passed */
	delete_partition_local(0, "gone", 20);
	data_answer(0, "gone", now, &a);
	data_answer(1, "gone", now, &b);
	cr_expect(!same_bytes(&a, &b), "a live tombstone is reported");
	int64_t later = now + 864000 + 10;
	data_answer(0, "gone", later, &a);
	data_answer(1, "gone", later, &b);
	cr_expect(same_bytes(&a, &b), "a purgeable tombstone is not: %zu and %zu bytes", a.len,
	          b.len);
	buf_release(&a);
	buf_release(&b);
}

Test(verbs_format, speculative_retry_values)
{
	static const struct {
		const char *in;
		enum spec_retry_kind kind;
		double value;
		const char *out;
	} ok[] = {{"99p", SPEC_PERCENTILE, 99, "99p"},
	          {"99PERCENTILE", SPEC_PERCENTILE, 99, "99p"},
	          {"95.5p", SPEC_PERCENTILE, 95.5, "95.5p"},
	          {"50ms", SPEC_FIXED, 50, "50ms"},
	          {"0ms", SPEC_FIXED, 0, "0ms"},
	          {"always", SPEC_ALWAYS, 0, "ALWAYS"},
	          {"NONE", SPEC_NONE, 0, "NONE"}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct spec_retry s;
		struct cerr e = {0};
		cr_assert_eq(spec_retry_parse(ok[i].in, &s, &e), 0, "%s: %s", ok[i].in, e.msg);
		cr_expect_eq(s.kind, ok[i].kind, "%s", ok[i].in);
		cr_expect(s.value == ok[i].value, "%s: %g", ok[i].in, s.value);
		char txt[32];
		spec_retry_format(&s, txt, sizeof(txt));
		cr_expect_str_eq(txt, ok[i].out);
	}
	static const char *const bad[] = {"",      "p",  "0p",   "100p", "-1ms",
	                                  "50 ms", "99", "x99p", "ms",   "NEVER"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct spec_retry s;
		struct cerr e = {0};
		cr_expect_eq(spec_retry_parse(bad[i], &s, &e), COL_EINVAL, "'%s' accepted", bad[i]);
		cr_expect(strstr(e.msg, "speculative_retry") != NULL, "%s", e.msg);
	}
	struct spec_retry d = {0};
	char txt[32];
	spec_retry_format(&d, txt, sizeof(txt));
	cr_expect_str_eq(txt, "99p", "zero-initialised is the default");
}

static void delete_range_local(size_t i, const char *key, int from, int to, int64_t ts)
{
	struct store_value pk = {key, strlen(key)};
	uint8_t a[4], b[4];
	be32_store(a, (uint32_t)from);
	be32_store(b, (uint32_t)to);
	struct store_value av = {a, 4}, bv = {b, 4};
	struct store_mutation m;
	struct cerr e = {0};
	cr_assert_eq(store_mutation_init(&m, N[i].tbl, &pk, 1, 0, &e), 0, "%s", e.msg);
	cr_assert_eq(store_mutation_delete_range(&m, &av, 1, true, &bv, 1, false, ts), 0);
	cr_assert_eq(store_apply(N[i].store, &m, &e), 0, "%s", e.msg);
	store_mutation_release(&m);
}

/*
 * A range tombstone one replica holds hides the rows it covers on the others
 * at read time, and read repair copies the tombstone (not the rows); a newer
 * row inside the range stays live; the repaired replicas' answers then agree.
 */
Test(storage_proxy, range_tombstone_wins_and_is_repaired)
{
	cluster_simple(3, "3");
	for (int ck = 1; ck <= 9; ck++)
		cr_assert_eq(write_at(0, CL_ALL, "rt", ck, "v", 5).code, 0);
	delete_range_local(2, "rt", 4, 7, 10); /* [4, 7) on node 2 only */
	write_local(1, "rt", 5, "newer", 11);  /* newer than the deletion, node 1 only */
	cr_expect_eq(local_read(2, "rt").rows, 6);
	cr_expect_eq(local_read(0, "rt").rows, 9);
	struct outcome r = read_at(0, CL_ALL, "rt");
	cr_assert_eq(r.res.code, 0, "%s", r.res.msg);
	cr_expect_eq(r.rows, 7, "1-3, 5 (newer), 7-9: %d rows", r.rows);
	for (size_t n = 0; n < 3; n++)
		cr_expect_eq(local_read(n, "rt").rows, 7, "node %zu after read repair: %d rows", n,
		             local_read(n, "rt").rows);
	struct buf a, b;
	buf_init(&a);
	buf_init(&b);
	data_answer(0, "rt", clock_wall_s(), &a);
	data_answer(2, "rt", clock_wall_s(), &b);
	cr_expect(same_bytes(&a, &b), "repaired replicas answer alike (%zu and %zu bytes)", a.len,
	          b.len);
	buf_release(&a);
	buf_release(&b);
}

/* A MUTATION that waited in a replica's socket longer than the replica's shed age (its
 * write timeout in a node) is dropped there unapplied and counted; its coordinator
 * times out on that replica and hints it, so the replica gets the write later. */
Test(storage_proxy, a_replica_sheds_a_late_mutation_and_the_coordinator_hints_it)
{
	/* The shedding replicas are hinted at the write timeout: one longer than the 1.5 s the
	 * held write waits below (the coordinator's own replica acks it first) and than a
	 * loaded machine's stalls during the warm-up writes. */
	WTO = 2500;
	USE_HINTS = true;
	SHED_MS = 1000; /* far above a loaded machine's stalls: only the held write is late */
	cluster_simple(3, "3");
	/* Connections up first: the late MUTATIONs must not wait in a pending queue.  And
	 * writes until both replicas saw a stamped one: the kernel turns receive timestamps
	 * on for the whole machine from a work queue, after the first socket asks, so the
	 * first packets of a process can come unstamped (never shed, not counted). */
	int warm = 0;
	for (int64_t until = clock_mono_ms() + 10000;;) {
		struct cerr w = write_at(0, CL_ALL, "warm", 1, "w", 1);
		cr_assert_eq(w.code, 0, "%s", w.msg);
		warm++;
		struct verbs_stats v1, v2;
		verbs_get_stats(N[1].verbs, &v1);
		verbs_get_stats(N[2].verbs, &v2);
		if (v1.mutation_wait_count && v2.mutation_wait_count)
			break;
		cr_assert_lt(clock_mono_ms(), until,
		             "no stamped MUTATION reached the replicas in 10 s");
		struct timespec pause = {0, 20 * 1000000L};
		nanosleep(&pause, NULL);
	}
	struct store_mutation m;
	mk_mutation(&m, 0, "late", 1, "v", 2);
	struct outcome o = {0};
	struct store_mutation *ms[1] = {&m};
	ev_now_update(L);
	storage_proxy_write(N[0].sp, RING, &REP, CL_ONE, ms, 1, CERR_WRITE_SIMPLE, on_done, &o);
	store_mutation_release(&m);
	net_loop_run_pending(NL); /* the MUTATIONs are in the replicas' sockets now */
	struct timespec ts = {1, 500 * 1000000L};
	nanosleep(&ts, NULL); /* the loop does not run: nobody reads them */
	cr_assert(run_until(&o.done, ANSWER_MS), "write never answered");
	cr_expect_eq(o.res.code, 0, "ONE is met by the coordinator's own replica: %s", o.res.msg);
	settle_hints(1, 3, 2);
	for (size_t i = 1; i < 3; i++) {
		struct verbs_stats vs;
		verbs_get_stats(N[i].verbs, &vs);
		cr_expect_eq(vs.mutations_shed, 1, "replica %zu", i);
		cr_expect_eq(vs.mutations, (uint64_t)warm, "replica %zu applied only the warm-up",
		             i);
		cr_expect_geq(vs.mutation_wait_count, 2, "replica %zu", i);
		cr_expect_str_eq(local_read(i, "late").value, "", "replica %zu", i);
		cr_expect_eq(HINTS[i].n, 1, "replica %zu hinted", i);
		struct cerr e = {0};
		cr_assert_eq(
		        store_apply_bytes(N[i].store, HINTS[i].last.data, HINTS[i].last.len, &e), 0,
		        "%s", e.msg);
		cr_expect_str_eq(local_read(i, "late").value, "v", "the hint replays the write");
	}
	cr_expect_str_eq(local_read(0, "late").value, "v");
}

/* ---- speculative retry: the threshold sees the tail ------------------------------------------ */

/*
 * A replica whose every SLOW_EVERY-th READ is answered SLOW_MS late, the rest at once,
 * as the real handler answers (verbs_read_local, a digest or the data).
 */
#define SLOW_EVERY 8
#define SLOW_MS    25
#define SLOW_MAX   64

struct held_read {
	bool used;
	struct tnode *n;
	uint64_t id;
	unsigned flags;
	uint64_t via;
	struct net_addr from;
	struct host_id host;
	struct buf payload;
	ev_timer t;
};
static struct held_read HELD[SLOW_MAX];
static unsigned SLOW_SEEN[MAXN], SLOW_HELD;

static void answer_read(struct tnode *n, const struct msg_in *msg)
{
	struct verbs_read_req q;
	cr_assert_eq(verbs_read_decode(msg->payload, msg->payload_len, &q), 0);
	struct buf b;
	buf_init(&b);
	struct cerr e = {0};
	cr_assert_eq(verbs_read_local(n->store, &q.rd, &b, &e), 0, "%s", e.msg);
	struct msg_out o;
	if (messaging_begin_response(n->msg, msg, VERB_READ_RSP, &o) == 0) {
		msgpk_put_array(o.b, 2);
		if (q.rd.kind == VERBS_READ_DIGEST) {
			msgpk_put_uint(o.b, 1);
			msgpk_put_uint(o.b, verbs_digest(b.data, b.len));
		} else {
			msgpk_put_uint(o.b, 0);
			buf_put(o.b, b.data, b.len);
		}
		(void)messaging_commit(&o);
	}
	buf_release(&b);
}

static void held_fire(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)revents;
	struct held_read *h = (struct held_read *)((char *)w - offsetof(struct held_read, t));
	struct msg_in in = {.verb = VERB_READ,
	                    .flags = h->flags,
	                    .id = h->id,
	                    .payload = h->payload.data,
	                    .payload_len = h->payload.len,
	                    .from = &h->from,
	                    .from_host = &h->host,
	                    .via = h->via};
	if (h->n->msg)
		answer_read(h->n, &in);
	buf_release(&h->payload);
	h->used = false;
}

static int slow_read_handler(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	(void)m;
	struct tnode *n = ctx;
	size_t i = (size_t)(n - N);
	if (++SLOW_SEEN[i] % SLOW_EVERY != 0) {
		answer_read(n, msg);
		return 0;
	}
	struct held_read *h = NULL;
	for (size_t k = 0; k < SLOW_MAX && !h; k++)
		if (!HELD[k].used)
			h = &HELD[k];
	cr_assert(h != NULL, "more than %d READs held", SLOW_MAX);
	*h = (struct held_read){.used = true,
	                        .n = n,
	                        .id = msg->id,
	                        .flags = msg->flags,
	                        .via = msg->via,
	                        .from = *msg->from,
	                        .host = *msg->from_host};
	buf_init(&h->payload);
	buf_put(&h->payload, msg->payload, msg->payload_len);
	ev_timer_init(&h->t, held_fire, SLOW_MS / 1000.0, 0.);
	ev_timer_start(L, &h->t);
	SLOW_HELD++;
	return 0;
}

static bool none_held(const void *arg)
{
	(void)arg;
	for (size_t k = 0; k < SLOW_MAX; k++)
		if (HELD[k].used)
			return false;
	return proxies_idle(NULL);
}

/*
 * With the default speculative_retry ('99p'): the replicas are fast, then one READ in
 * SLOW_EVERY to either remote replica is slow: an eighth of the replicas' answers, so
 * the 99th percentile becomes a slow one and a slow replica is waited for, not replaced.  The late
 * answers of the replicas a speculation replaced are part of that tail: a threshold that saw only
 * the answers it waited for would stay fast and replace every slow replica — an eighth of the reads
 * sent twice, and more the slower the replicas become together.
 */
Test(storage_proxy, speculation_threshold_counts_the_answers_it_did_not_wait_for)
{
	cluster_simple(3, "3");
	cr_assert(!write_at(0, CL_ALL, "spec", 1, "v", 1).code);
	struct storage_proxy_stats st;
	for (int k = 0; k < 40; k++) { /* the table's latency while every replica is fast */
		struct outcome o = read_at(0, CL_QUORUM, "spec");
		cr_assert(!o.res.code && o.rows == 1, "read %d: %s", k, o.res.msg);
	}
	memset(SLOW_SEEN, 0, sizeof(SLOW_SEEN));
	SLOW_HELD = 0;
	for (size_t i = 1; i < 3; i++)
		messaging_register(N[i].msg, VERB_READ, slow_read_handler, &N[i]);
	/* until the first late answers are in: the slow reads meanwhile are replaced */
	for (int k = 0; k < 80; k++) {
		struct outcome o = read_at(0, CL_QUORUM, "spec");
		cr_assert(!o.res.code && o.rows == 1, "read %d: %s", k, o.res.msg);
	}
	cr_assert(run_until_settled(none_held, NULL), "held READs still unanswered");
	storage_proxy_get_stats(N[0].sp, &st);
	uint64_t spec0 = st.speculative_retries;
	unsigned held0 = SLOW_HELD;
	for (int k = 0; k < 240; k++) {
		struct outcome o = read_at(0, CL_QUORUM, "spec");
		cr_assert(!o.res.code && o.rows == 1, "read %d: %s", k, o.res.msg);
	}
	storage_proxy_get_stats(N[0].sp, &st);
	unsigned slow = SLOW_HELD - held0;
	cr_expect_geq(slow, 20, "%u of 240 reads met a slow replica", slow);
	cr_expect_leq(st.speculative_retries - spec0, slow / 6,
	              "%llu speculative retries for %u slow replica answers in 240 reads",
	              (unsigned long long)(st.speculative_retries - spec0), slow);
	cr_assert(run_until_settled(none_held, NULL), "held READs still unanswered");
}

/* ---- the byte bound on mutations held in flight (docs/PERFORMANCE.md, "Other bounds") ---- */

/* A mutation of key with a value of `size` bytes; its encoded length in *len. */
static void mk_big(struct store_mutation *m, size_t node, const char *key, size_t size, size_t *len)
{
	char *v = malloc(size + 1);
	cr_assert(v);
	memset(v, 'b', size);
	v[size] = 0;
	mk_mutation(m, node, key, 1, v, 1);
	free(v);
	(void)store_mutation_bytes(m, len);
}

/* Node i's budget is back at 0 and no request is in flight. */
static bool bytes_released(const void *arg)
{
	const size_t *i = arg;
	return BYTES[*i].used == 0 && proxies_idle(NULL);
}

/*
 * n writes of m from node 0 at cl, all started before the loop runs: those whose copy fits
 * the budget are taken, the rest refused Overloaded at once, naming the bytes.  Returns
 * how many were taken (o[] gets every outcome).
 */
static size_t write_past_budget(struct store_mutation *m, size_t len, uint16_t cl,
                                struct outcome *o, size_t n)
{
	struct store_mutation *ms[1] = {m};
	ev_now_update(L);
	for (size_t i = 0; i < n; i++)
		storage_proxy_write(N[0].sp, RING, &REP, cl, ms, 1, CERR_WRITE_SIMPLE, on_done,
		                    &o[i]);
	size_t fit = (size_t)(BYTES_MAX / len), taken = 0;
	for (size_t i = 0; i < n; i++) {
		if (i < fit) {
			cr_expect(!o[i].done || o[i].res.code != COL_EOVERLOADED,
			          "write %zu fits the budget: %s", i, o[i].res.msg);
			taken++;
			continue;
		}
		cr_assert(o[i].done, "write %zu past the budget is refused at once", i);
		cr_expect_eq(o[i].res.code, COL_EOVERLOADED, "write %zu: %s", i, o[i].res.msg);
		cr_expect(o[i].res.rep.write);
		cr_expect(strstr(o[i].res.msg, "bytes of mutations") != NULL, "%s", o[i].res.msg);
	}
	cr_expect_eq(BYTES[0].used, (uint64_t)fit * len, "%llu bytes held",
	             (unsigned long long)BYTES[0].used);
	cr_expect_eq(BYTES[0].refused, n - fit);
	struct storage_proxy_stats st;
	storage_proxy_get_stats(N[0].sp, &st);
	cr_expect_eq(st.mutation_bytes, (uint64_t)fit * len);
	cr_expect_eq(st.mutation_bytes_max, BYTES_MAX);
	cr_expect_eq(st.mutation_bytes_refused, n - fit);
	return taken;
}

/*
 * The copies a coordinator keeps for hints are bounded in bytes: writes answered at ONE
 * but held for two silent replicas fill the budget, the writes past it are refused
 * Overloaded; at the write timeout the held ones are hinted and their bytes given back, and
 * writes are taken again.
 */
Test(storage_proxy, mutation_bytes_bounded_and_released_at_the_timeout)
{
	short_timeouts();
	USE_HINTS = true;
	BYTES_MAX = 1u << 20;
	cluster_simple(3, "3");
	set_silent(1, true);
	set_silent(2, true);
	struct store_mutation m;
	size_t len;
	mk_big(&m, 0, "big", 200 * 1024, &len);
	cr_assert_gt(len, 200 * 1024);
	enum { W = 12 };
	struct outcome o[W];
	memset(o, 0, sizeof(o));
	size_t taken = write_past_budget(&m, len, CL_ONE, o, W);
	store_mutation_release(&m);
	cr_assert_eq(taken, 5, "1 MiB holds five copies of %zu bytes", len);
	for (size_t i = 0; i < taken; i++) {
		cr_assert(run_until(&o[i].done, ANSWER_MS), "write %zu never answered", i);
		cr_expect_eq(o[i].res.code, 0, "write %zu: %s", i, o[i].res.msg);
	}
	/* answered at ONE, the copies stay for the silent replicas' hints */
	cr_expect_eq(BYTES[0].used, (uint64_t)taken * len);
	size_t at = 0;
	cr_assert(run_until_settled(bytes_released, &at), "%llu bytes still held",
	          (unsigned long long)BYTES[0].used);
	cr_expect_eq(HINTS[1].n, (int)taken, "node 1 hinted %d times", HINTS[1].n);
	cr_expect_eq(HINTS[2].n, (int)taken, "node 2 hinted %d times", HINTS[2].n);
	struct storage_proxy_stats st;
	storage_proxy_get_stats(N[0].sp, &st);
	cr_expect_eq(st.mutation_bytes, 0);
	cr_expect_eq(write_at(0, CL_ONE, "small", 1, "x", 2).code, 0, "room again");
}

/* Replicas that refuse: the writes fail, and their copies' bytes are given back. */
Test(storage_proxy, mutation_bytes_released_when_replicas_fail)
{
	USE_HINTS = true;
	BYTES_MAX = 1u << 20;
	cluster_simple(3, "3");
	struct cerr e = {0};
	cr_assert_eq(store_table_drop(N[1].tbl, &e), 0, "%s", e.msg);
	cr_assert_eq(store_table_drop(N[2].tbl, &e), 0, "%s", e.msg);
	struct store_mutation m;
	size_t len;
	mk_big(&m, 0, "bigf", 300 * 1024, &len);
	enum { W = 8 };
	struct outcome o[W];
	memset(o, 0, sizeof(o));
	size_t taken = write_past_budget(&m, len, CL_QUORUM, o, W);
	store_mutation_release(&m);
	cr_assert_eq(taken, 3);
	for (size_t i = 0; i < taken; i++) {
		cr_assert(run_until(&o[i].done, ANSWER_MS), "write %zu never answered", i);
		cr_expect_eq(o[i].res.code, COL_EFAILED, "write %zu: %s", i, o[i].res.msg);
	}
	size_t at = 0;
	cr_assert(run_until_settled(bytes_released, &at), "%llu bytes still held",
	          (unsigned long long)BYTES[0].used);
	cr_expect_eq(write_at(0, CL_ONE, "smallf", 1, "x", 2).code, 0, "room again");
	N[1].tbl = N[2].tbl = NULL;
}

/*
 * A forwarder's copies share its budget: dc2's forwarder keeps a copy for the one silent
 * peer that fits, not for the other; at the forward timeout it hints the first and relays
 * the second's timeout, which the coordinator hints.  Every byte comes back on both sides.
 */
Test(storage_proxy, forwarder_copies_bounded_and_released)
{
	short_timeouts();
	USE_HINTS = true;
	BYTES_MAX = 400 * 1024; /* one copy of the mutation below, not two */
	cluster_2dc();
	/* the forwarder is the first dc2 replica of the key (no latencies known yet) */
	uint32_t reps[SP_MAX_REPLICAS];
	size_t n = replicas_of("bigw", reps);
	size_t fw = MAXN;
	for (size_t k = 0; k < n && fw == MAXN; k++) {
		struct tnode *t = node_of(RING, reps[k]);
		if (strcmp(t->dc, "dc2") == 0)
			fw = (size_t)(t - N);
	}
	cr_assert_neq(fw, MAXN);
	for (size_t i = 3; i < 6; i++)
		if (i != fw)
			set_silent(i, true);
	struct store_mutation m;
	size_t len;
	mk_big(&m, 0, "bigw", 250 * 1024, &len);
	struct outcome o = {0};
	struct store_mutation *ms[1] = {&m};
	ev_now_update(L);
	storage_proxy_write(N[0].sp, RING, &REP, CL_LOCAL_QUORUM, ms, 1, CERR_WRITE_SIMPLE, on_done,
	                    &o);
	store_mutation_release(&m);
	cr_assert(run_until(&o.done, ANSWER_MS));
	cr_expect_eq(o.res.code, 0, "%s", o.res.msg);
	struct hinted_at_least w = {3, 6, 2};
	cr_assert(run_until_settled(hints_stored, &w), "dc2's silent peers hinted: %d %d %d",
	          HINTS[3].n, HINTS[4].n, HINTS[5].n);
	for (size_t i = 3; i < 6; i++)
		cr_expect_eq(HINTS[i].n, i == fw ? 0 : 1, "node %zu hinted %d times", i,
		             HINTS[i].n);
	cr_expect_eq(HINTS[fw].by, 1, "the forwarder hinted the peer it kept a copy for");
	cr_expect_eq(BYTES[fw].refused, 1, "no room for the second peer's copy");
	cr_assert(run_until_settled(bytes_released, &fw), "%llu bytes still held by the forwarder",
	          (unsigned long long)BYTES[fw].used);
	cr_expect_eq(BYTES[0].used, 0);
	cr_expect_eq(BYTES[0].refused, 0);
}
