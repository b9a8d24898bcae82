/*
 * Group commit (storage/writer.c): one loop iteration's mutations in one WriteBatch,
 * callbacks in submission order and never inside the apply call, fsync before any ack
 * with sync batch (one per writer round), a real RocksDB write stop that blocks the
 * writer thread but never the loop, the bounded queue answering Overloaded, recovery.
 */
#include "core/buf.h"
#include "core/cqltype.h"
#include "core/err.h"
#include "storage/storage.h"
#include "tests/unit/store_fixture.h"
#include "storage/storage_int.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOW 1800000000LL

static char dir[256];
static struct store *st;
static struct store_table *tbl;
static struct ev_loop *loop;
static struct store_lane *lane;

/* (pk int, ck int) v text */
static void open_all(const struct store_options *over)
{
	struct store_options o;
	store_options_init(&o);
	if (over)
		o = *over;
	o.data_dir = dir;
	o.block_cache_bytes = 8 << 20;
	struct cerr e = {0};
	cr_assert_eq(store_open(&o, &st, &e), 0, "%s", e.msg);
	static const struct cqltype *pk[1], *ck[1];
	static bool ckd[1];
	static struct store_column cols[1];
	pk[0] = cqltype_simple(CQLTYPE_INT);
	ck[0] = cqltype_simple(CQLTYPE_INT);
	cols[0] = (struct store_column){.id = 1, .type = cqltype_simple(CQLTYPE_VARCHAR)};
	struct store_table_desc d = {.keyspace = "ks",
	                             .name = "w",
	                             .n_pk = 1,
	                             .pk_types = pk,
	                             .n_ck = 1,
	                             .ck_types = ck,
	                             .ck_desc = ckd,
	                             .n_cols = 1,
	                             .cols = cols,
	                             .gc_grace_seconds = 864000};
	d.id[15] = 7;
	cr_assert_eq(store_table_open(st, &d, &tbl, &e), 0, "%s", e.msg);
	loop = ev_loop_new(EVFLAG_AUTO);
	cr_assert_eq(store_lane_new(st, loop, &lane, &e), 0, "%s", e.msg);
}

static void setup(void)
{
	test_dir_make(dir, sizeof(dir), "writer");
}

static void restart_compactions(void);

static void teardown(void)
{
	restart_compactions(); /* a stall test that failed half-way: the writer finishes */
	store_lane_free(lane);
	lane = NULL;
	store_close(st);
	st = NULL;
	if (loop)
		ev_loop_destroy(loop);
	loop = NULL;
	test_dir_remove(dir);
}

TestSuite(writer, .init = setup, .fini = teardown);

static void mutation(struct store_mutation *m, int32_t pk, int32_t ck, size_t vlen)
{
	uint8_t pkb[4], ckb[4];
	be32_store(pkb, (uint32_t)pk);
	be32_store(ckb, (uint32_t)ck);
	struct store_value pv = {pkb, 4}, cv = {ckb, 4};
	struct cerr e = {0};
	cr_assert_eq(store_mutation_init(m, tbl, &pv, 1, NOW, &e), 0, "%s", e.msg);
	char *val = malloc(vlen + 1);
	memset(val, 'a' + pk % 26, vlen);
	cr_assert_eq(store_mutation_set_cell(m, &cv, 1, 1, NULL, val, vlen, 1000 + pk, 0), 0);
	free(val);
}

/* Outcome of one submitted mutation. */
struct rec {
	int idx;
	int rc;
	uint64_t syncs_at_done; /* the store's fsync count when the callback ran */
	char msg[CERR_MSG_MAX];
};
static struct rec recs[4096];
static int n_done;
static bool in_apply;

static void on_done(void *ctx, int rc, const struct cerr *e)
{
	cr_assert_not(in_apply, "a done callback ran inside store_lane_apply");
	struct rec *r = &recs[n_done++];
	r->idx = (int)(intptr_t)ctx;
	r->rc = rc;
	struct store_write_stats ws;
	store_write_stats(st, &ws);
	r->syncs_at_done = ws.syncs;
	if (e)
		snprintf(r->msg, sizeof(r->msg), "%s", e->msg);
	cr_assert_eq(rc == 0, e == NULL, "err is NULL exactly when rc is 0");
}

static int submit(int idx, int32_t pk, size_t vlen, struct cerr *e)
{
	struct store_mutation m;
	mutation(&m, pk, 1, vlen);
	in_apply = true;
	int rc = store_lane_apply(lane, &m, on_done, (void *)(intptr_t)idx, e);
	in_apply = false;
	store_mutation_release(&m);
	return rc;
}

static void run_until_done(int n, double max_s)
{
	double t0 = ev_time();
	while (n_done < n && ev_time() - t0 < max_s)
		ev_run(loop, EVRUN_ONCE);
	cr_assert_eq(n_done, n, "%d of %d mutations completed within %.0f s", n_done, n, max_s);
}

static int count_row(void *ctx, const struct store_partition *p, const struct store_row *r)
{
	(void)p;
	if (r)
		(*(int *)ctx)++;
	return 0;
}

static int rows_of(int32_t pk)
{
	uint8_t pkb[4];
	be32_store(pkb, (uint32_t)pk);
	struct store_value pv = {pkb, 4};
	int n = 0;
	struct cerr e = {0};
	cr_assert_eq(store_read_partition(tbl, &pv, 1, NULL, 0, 0, NOW, count_row, &n, &e), 0, "%s",
	             e.msg);
	return n;
}

Test(writer, one_iteration_is_one_group_in_order)
{
	open_all(NULL);
	struct cerr e = {0};
	for (int i = 0; i < 100; i++)
		cr_assert_eq(submit(i, i, 10, &e), 0, "%s", e.msg);
	cr_assert_eq(n_done, 0, "nothing completes before the loop runs");
	run_until_done(100, 10);
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(recs[i].idx, i, "completion %d was mutation %d", i, recs[i].idx);
		cr_assert_eq(recs[i].rc, 0, "%s", recs[i].msg);
		cr_assert_eq(rows_of(i), 1);
	}
	struct store_write_stats ws;
	store_write_stats(st, &ws);
	cr_expect_eq(ws.groups, 1, "100 mutations of one iteration: %lu groups", ws.groups);
	cr_expect_eq(ws.inline_groups, 1, "idle, periodic: written on the loop");
	cr_expect_eq(ws.max_group, 100);
	cr_expect_eq(ws.mutations, 100);
}

Test(writer, validation_errors_come_back_at_once_and_write_nothing)
{
	open_all(NULL);
	struct cerr e = {0};
	uint8_t junk[] = {0x95, 0x01, 0x02};
	cr_assert_eq(store_lane_apply_bytes(lane, junk, sizeof(junk), on_done, NULL, &e),
	             COL_ECORRUPT);
	cr_assert(strstr(e.msg, "malformed"), "%s", e.msg);
	cr_assert_eq(submit(0, 5, 10, &e), 0, "%s", e.msg);
	run_until_done(1, 10);
	ev_run(loop, EVRUN_NOWAIT);
	cr_assert_eq(n_done, 1, "the refused mutation has no callback");
	cr_assert_eq(rows_of(5), 1);
}

Test(writer, batch_sync_fsyncs_before_any_ack_once_per_round)
{
	struct store_options o;
	store_options_init(&o);
	o.sync = STORE_SYNC_BATCH;
	open_all(&o);
	struct cerr e = {0};
	int n = 0;
	/* three loop iterations of 50: at most three rounds, each fsynced before its acks */
	for (int round = 0; round < 3; round++) {
		struct store_write_stats before;
		store_write_stats(st, &before);
		for (int i = 0; i < 50; i++, n++)
			cr_assert_eq(submit(n, n, 10, &e), 0, "%s", e.msg);
		run_until_done(n, 10);
		for (int i = n - 50; i < n; i++) {
			cr_assert_eq(recs[i].rc, 0, "%s", recs[i].msg);
			cr_assert_gt(recs[i].syncs_at_done, before.syncs,
			             "mutation %d was acknowledged before its fsync", i);
		}
	}
	struct store_write_stats ws;
	store_write_stats(st, &ws);
	cr_expect_eq(ws.inline_groups, 0, "sync batch never writes on the loop");
	cr_expect_eq(ws.syncs, ws.writer_rounds, "one fsync per writer round");
	cr_expect_leq(ws.syncs, 3, "150 mutations in 3 iterations: %lu fsyncs", ws.syncs);
	for (int i = 0; i < n; i++)
		cr_assert_eq(recs[i].idx, i, "completion order");
}

/* A burst read in one iteration (a loop that was stalled) is written as batches of at
 * most 1,024 mutations at the iteration's end, on the loop, in order. */
Test(writer, a_burst_is_several_inline_groups_at_the_iteration_end)
{
	open_all(NULL);
	struct cerr e = {0};
	int n = 3 * 1024 + 10;
	for (int i = 0; i < n; i++)
		cr_assert_eq(submit(i, i, 10, &e), 0, "%s", e.msg);
	cr_assert_eq(n_done, 0, "nothing completes before the loop runs");
	run_until_done(n, 20);
	for (int i = 0; i < n; i++) {
		cr_assert_eq(recs[i].idx, i, "completion %d was mutation %d", i, recs[i].idx);
		cr_assert_eq(recs[i].rc, 0, "%s", recs[i].msg);
	}
	cr_assert_eq(rows_of(0), 1);
	cr_assert_eq(rows_of(n - 1), 1);
	struct store_write_stats ws;
	store_write_stats(st, &ws);
	cr_expect_eq(ws.groups, 4, "%lu groups", ws.groups);
	cr_expect_eq(ws.inline_groups, 4, "written on the loop");
	cr_expect_eq(ws.writer_rounds, 0);
	cr_expect_eq(ws.max_group, 1024);
}

/* The full groups an iteration holds count against storage_write_queue: past it a
 * mutation is refused at once, and what was accepted is written. */
Test(writer, a_burst_past_the_queue_bound_is_refused_overloaded)
{
	struct store_options o;
	store_options_init(&o);
	o.write_queue_max = 2048;
	open_all(&o);
	struct cerr e = {0};
	int accepted = 0, refused = 0;
	for (int i = 0; i < 3000; i++) {
		int rc = submit(accepted, i, 10, &e);
		if (rc == 0) {
			cr_assert_eq(refused, 0, "accepted after a refusal in the same iteration");
			accepted++;
		} else {
			cr_assert_eq(rc, COL_EOVERLOADED, "%s", e.msg);
			cr_assert(strstr(e.msg, "storage overloaded"), "%s", e.msg);
			refused++;
		}
	}
	cr_expect_eq(accepted, 2048);
	cr_expect_eq(refused, 3000 - 2048);
	run_until_done(accepted, 20);
	for (int i = 0; i < accepted; i++)
		cr_assert_eq(recs[i].rc, 0, "%s", recs[i].msg);
	struct store_write_stats ws;
	store_write_stats(st, &ws);
	cr_expect_eq(ws.overloaded, (uint64_t)refused);
	/* The next iteration is accepted again. */
	cr_assert_eq(submit(accepted, 5000, 10, &e), 0, "%s", e.msg);
	run_until_done(accepted + 1, 20);
}

/* Rounds the writer joins into one WriteBatch: groups of several iterations. */
Test(writer, writer_joins_queued_groups)
{
	struct store_options o;
	store_options_init(&o);
	o.write_inline = false;
	open_all(&o);
	struct cerr e = {0};
	/* Without the inline path a full group goes to the writer at once, without waiting
	 * for the iteration's end: three full groups, handed over while the writer works,
	 * take at most three rounds. */
	int n = 0;
	for (int g = 0; g < 3; g++)
		for (int i = 0; i < 1024; i++, n++)
			cr_assert_eq(submit(n, n, 10, &e), 0, "%s", e.msg);
	run_until_done(n, 20);
	for (int i = 0; i < n; i++) {
		cr_assert_eq(recs[i].idx, i);
		cr_assert_eq(recs[i].rc, 0, "%s", recs[i].msg);
	}
	cr_assert_eq(rows_of(0), 1);
	cr_assert_eq(rows_of(n - 1), 1);
	struct store_write_stats ws;
	store_write_stats(st, &ws);
	cr_expect_eq(ws.groups, 3);
	cr_expect_leq(ws.writer_rounds, 3);
}

/*
 * Compactions can no longer run (the process's low-priority RocksDB pool gets no thread:
 * criterion runs each test in a process of its own), then one flush makes an L0 file:
 * with the stop trigger at 1, RocksDB stops every write until a compaction runs.  The
 * teardown restarts them, so a failed check in a stall test ends the test at once instead
 * of leaving store_lane_free() waiting for a writer RocksDB never lets go.
 */
static rocksdb_env_t *env;
static void stop_compactions_and_make_l0(void)
{
	env = rocksdb_create_default_env();
	rocksdb_env_set_background_threads(env, 0);
	struct cerr e = {0};
	cr_assert_eq(store_table_flush(tbl, &e), 0, "%s", e.msg);
}
static void restart_compactions(void)
{
	if (!env)
		return;
	rocksdb_env_set_background_threads(env, 1);
	rocksdb_env_destroy(env); /* the wrapper: the default env itself stays */
	env = NULL;
}

static int ticks;
static void on_tick(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l, (void)w, (void)revents;
	ticks++;
}

/*
 * Opens the store with o and L0 triggers of 1, writes one mutation, then stops compactions
 * and makes an L0 file: RocksDB stops every write from then on.  tick counts the loop's
 * 10 ms iterations in ticks until the caller stops it.
 */
static void open_and_stall_writes(struct store_options *o, ev_timer *tick)
{
	o->l0_compaction_trigger = 1;
	o->l0_slowdown_trigger = 1;
	o->l0_stop_trigger = 1;
	open_all(o);
	struct cerr e = {0};
	cr_assert_eq(submit(0, 0, 100, &e), 0, "%s", e.msg);
	run_until_done(1, 10);
	stop_compactions_and_make_l0();

	ev_timer_init(tick, on_tick, 0.01, 0.01);
	ev_timer_start(loop, tick);
}

/* What one second of mutations offered to a stalled writer got. */
struct flood {
	int accepted; /* the one written before the stall included */
	int refused;
};

/* Offers mutations of vlen bytes, eight per loop iteration, for one second after
 * open_and_stall_writes(); check_refusal sees each refused one's code and error. */
static struct flood flood_the_stalled_writer(size_t vlen,
                                             void (*check_refusal)(int rc, const struct cerr *e))
{
	struct cerr e = {0};
	int n = 1, accepted = 1, refused = 0;
	double t0 = ev_time();
	while (ev_time() - t0 < 1.0) {
		for (int i = 0; i < 8; i++, n++) {
			int rc = submit(n, n, vlen, &e);
			if (rc == 0) {
				accepted++;
			} else {
				check_refusal(rc, &e);
				refused++;
			}
		}
		ev_run(loop, EVRUN_ONCE);
	}
	return (struct flood){.accepted = accepted, .refused = refused};
}

static void refused_waiting_for_the_disk(int rc, const struct cerr *e)
{
	cr_assert_eq(rc, COL_EOVERLOADED, "%s", e->msg);
	cr_assert(strstr(e->msg, "waiting for the disk"), "%s", e->msg);
}

Test(writer, stall_blocks_the_writer_not_the_loop_then_overloaded_then_recovers)
{
	struct store_options o;
	store_options_init(&o);
	o.write_queue_max = 64;
	ev_timer tick;
	open_and_stall_writes(&o, &tick);
	struct flood f = flood_the_stalled_writer(100, refused_waiting_for_the_disk);
	int accepted = f.accepted, refused = f.refused;
	struct store_write_stats ws;
	store_write_stats(st, &ws);
	cr_assert_eq(n_done, 1, "nothing completes while RocksDB stops writes");
	cr_assert_geq(ws.stalls, 1, "the inline write met the stall");
	cr_assert_gt(refused, 0, "the bounded queue refused the excess");
	cr_assert_leq(accepted, 1 + 64 + 8, "accepted %d beyond the bound", accepted);
	cr_assert_eq(ws.overloaded, (uint64_t)refused);
	/* the loop kept its 10 ms timer: about 100 ticks in the second */
	cr_assert_geq(ticks, 50, "the loop ran only %d 10 ms ticks in 1 s of stall", ticks);

	/* Compactions run again: L0 empties, the writer finishes, every accepted one is acked. */
	restart_compactions();
	run_until_done(accepted, 30);
	ev_timer_stop(loop, &tick);
	for (int i = 0; i < accepted; i++)
		cr_assert_eq(recs[i].rc, 0, "%s", recs[i].msg);
	for (int i = 1; i < accepted; i++)
		cr_assert_gt(recs[i].idx, recs[i - 1].idx, "completion order");
	cr_assert_eq(rows_of(recs[accepted - 1].idx), 1);
	store_write_stats(st, &ws);
	cr_assert_eq(ws.queued, 0);
	/* and the loop writes inline again */
	n_done = 0;
	uint64_t inl = ws.inline_groups;
	struct cerr e = {0};
	cr_assert_eq(submit(0, 99999, 10, &e), 0, "%s", e.msg);
	run_until_done(1, 10);
	store_write_stats(st, &ws);
	cr_assert_eq(ws.inline_groups, inl + 1);
}

/* Checked with cr_expect: a failed check must not end the test while the writer is
 * stopped (the teardown waits for it). */
static void refused_past_the_byte_bound(int rc, const struct cerr *e)
{
	cr_expect_eq(rc, COL_EOVERLOADED, "%s", e->msg);
	cr_expect(strstr(e->msg, "bytes of mutations are waiting"), "%s", e->msg);
}

/*
 * The writer's queue is bounded in bytes too: mutations of 16 KiB against a byte bound of
 * 256 KiB (and a count bound far away) are refused Overloaded, naming the bytes, once the
 * stalled writer holds the bound; once RocksDB writes again every accepted one is acked
 * and no byte is left queued.
 */
Test(writer, stall_refuses_past_the_byte_bound_then_recovers)
{
	enum { VLEN = 16 * 1024, MAXB = 256 * 1024 };
	struct store_options o;
	store_options_init(&o);
	o.write_queue_max = 4096;
	o.write_queue_max_bytes = MAXB;
	ev_timer tick;
	open_and_stall_writes(&o, &tick);
	struct flood f = flood_the_stalled_writer(VLEN, refused_past_the_byte_bound);
	int accepted = f.accepted, refused = f.refused;
	struct store_write_stats ws;
	store_write_stats(st, &ws);
	int done_in_stall = n_done;
	/* compactions run again before anything is checked: a failed check must not leave
	 * the writer stopped (the teardown waits for it) */
	restart_compactions();
	cr_expect_eq(done_in_stall, 1, "nothing completes while RocksDB stops writes");
	cr_expect_gt(refused, 0, "the byte bound refused the excess");
	/* what fits the bound, plus one iteration's open group (counted once it is queued) */
	cr_expect_leq(accepted, 1 + MAXB / VLEN + 8, "accepted %d beyond the bound", accepted);
	cr_expect_leq(ws.queued_bytes, (uint64_t)MAXB + 8 * (VLEN + 64), "%llu bytes queued",
	              (unsigned long long)ws.queued_bytes);
	cr_expect_gt(ws.queued_bytes, 0);
	run_until_done(accepted, 30);
	ev_timer_stop(loop, &tick);
	for (int i = 0; i < accepted; i++)
		cr_assert_eq(recs[i].rc, 0, "%s", recs[i].msg);
	store_write_stats(st, &ws);
	cr_assert_eq(ws.queued, 0);
	cr_assert_eq(ws.queued_bytes, 0);
}

/* store_background() sees a compaction due while none can run, and nothing once they ran;
 * store_background_pressures() the same pressures. */
Test(writer, background_work_is_reported_until_compactions_ran)
{
	struct store_options o;
	store_options_init(&o);
	o.l0_compaction_trigger = 1;
	open_all(&o);
	struct cerr e = {0};
	cr_assert_eq(submit(0, 0, 100, &e), 0, "%s", e.msg);
	run_until_done(1, 10);
	stop_compactions_and_make_l0();
	cr_assert_eq(submit(1, 1, 100, &e), 0, "%s", e.msg);
	run_until_done(2, 10);
	cr_assert_eq(store_table_flush(tbl, &e), 0, "%s", e.msg);
	struct store_background b;
	store_background(st, &b);
	cr_assert_eq(b.compactions_running, 0, "no thread can run one");
	cr_assert_geq(b.compactions_pending, 1, "two L0 files over a trigger of 1");
	cr_assert_gt(b.pending_compaction_bytes, 0);
	/* two L0 files, triggers 1 and 20 (RocksDB's slowdown default) */
	cr_assert_float_eq(b.compaction_pressure, 1.0 / 19, 1e-9, "got %f", b.compaction_pressure);
	/* the priority tick's walk, which reads only what the pressures need, agrees */
	struct store_pressures p;
	store_background_pressures(st, &p);
	cr_assert_float_eq(p.compaction, b.compaction_pressure, 1e-9);
	cr_assert_float_eq(p.flush, b.flush_pressure, 1e-9);

	restart_compactions();
	cr_assert_eq(store_table_wait_compactions(tbl, &e), 0, "%s", e.msg);
	store_background(st, &b);
	cr_assert_eq(b.compactions_running + b.flushes_running, 0);
	cr_assert_eq(b.compactions_pending + b.flushes_pending, 0);
}

/* Whether the database directory d holds an SST file. */
static bool sst_files_in(const char *d)
{
	DIR *dh = opendir(d);
	cr_assert(dh, "opendir %s", d);
	bool any = false;
	struct dirent *de;
	while (!any && (de = readdir(dh)) != NULL) {
		size_t l = strlen(de->d_name);
		any = l > 4 && strcmp(de->d_name + l - 4, ".sst") == 0;
	}
	closedir(dh);
	return any;
}

/* store_memory() reports the configured bounds and what RocksDB holds; the database-wide
 * memtable budget flushes a table whose own memtable (64 MiB) would hold every write. */
Test(writer, memory_reports_bounds_and_the_memtable_budget_flushes)
{
	struct store_options o;
	store_options_init(&o);
	o.memtable_budget_bytes = 1 << 20;
	open_all(&o);
	struct store_memory m;
	store_memory(st, &m);
	cr_assert_eq(m.block_cache_capacity, 8u << 20);
	cr_assert_eq(m.memtable_budget, 1u << 20);
	cr_assert_leq(m.block_cache_usage, m.block_cache_capacity);

	/* 8 MB in groups of 100 */
	struct cerr e = {0};
	for (int g = 0; g < 20; g++) {
		for (int i = 0; i < 100; i++)
			cr_assert_eq(submit(g * 100 + i, g * 100 + i, 4000, &e), 0, "%s", e.msg);
		run_until_done((g + 1) * 100, 30);
	}
	for (int i = 0; i < n_done; i++)
		cr_assert_eq(recs[i].rc, 0, "%s", recs[i].msg);
	/* RocksDB checks the budget as a write comes in and flushes in the background: write a
	 * little more until an SST file appears (a generous deadline; without the budget none
	 * would, 8 MB being far under the table's 64 MiB memtable) */
	double t0 = ev_time();
	int extra = 0;
	while (!sst_files_in(dir) && ev_time() - t0 < 60 && extra < 2000) {
		cr_assert_eq(submit(2000 + extra, 0, 10, &e), 0, "%s", e.msg);
		run_until_done(2000 + ++extra, 30);
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	cr_assert(sst_files_in(dir), "no memtable was flushed within 60 s of 8 MB written");
	cr_assert_eq(rows_of(0), 1);
	cr_assert_eq(rows_of(1999), 1);
	store_memory(st, &m);
	cr_assert_gt(m.block_cache_usage, 0, "the reads went through the block cache");
	cr_assert_leq(m.block_cache_usage, m.block_cache_capacity);
}

/* A flush puts the blocks it writes into the block cache (prepopulate_block_cache =
 * kFlushOnly, storage/store.c): the first reads after it do not each fetch a block from
 * the file. */
Test(writer, a_flush_puts_its_blocks_in_the_block_cache)
{
	open_all(NULL);
	struct cerr e = {0};
	for (int i = 0; i < 200; i++)
		cr_assert_eq(submit(i, i, 1000, &e), 0, "%s", e.msg);
	run_until_done(200, 30);
	for (int i = 0; i < n_done; i++)
		cr_assert_eq(recs[i].rc, 0, "%s", recs[i].msg);
	struct store_memory m;
	store_memory(st, &m);
	uint64_t before = m.block_cache_usage;
	cr_assert_eq(store_flush(st, &e), 0, "%s", e.msg);
	cr_assert(sst_files_in(dir), "the flush wrote no SST file");
	store_memory(st, &m);
	/* 200 rows of 1,000 bytes: about 200 KB of data blocks, cached before any read */
	cr_assert_gt(m.block_cache_usage, before + 150000,
	             "block cache %llu bytes after the flush, %llu before",
	             (unsigned long long)m.block_cache_usage, (unsigned long long)before);
	cr_assert_eq(rows_of(0), 1);
	cr_assert_eq(rows_of(199), 1);
}

/* A group encoded before a TRUNCATE replaced the table's column family is written after
 * it (another loop's lane, or later in this loop's iteration): its records are dropped with
 * the old family, and the store keeps taking writes. */
Test(writer, a_group_encoded_before_a_truncate_is_written_after_it)
{
	open_all(NULL);
	n_done = 0;
	struct cerr e = {0};
	cr_assert_eq(submit(0, 1, 8, &e), 0, "%s", e.msg);
	cr_assert_eq(store_table_truncate(tbl, 1, &e), 0, "%s", e.msg);
	run_until_done(1, 5.0);
	cr_expect_eq(recs[0].rc, 0, "the stale group is not an error: %s", recs[0].msg);
	/* the store still writes (a failed memtable insert would stop every later write) */
	cr_assert_eq(submit(1, 2, 8, &e), 0, "%s", e.msg);
	run_until_done(2, 5.0);
	cr_expect_eq(recs[1].rc, 0, "a write after it succeeds: %s", recs[1].msg);
	cr_expect_eq(rows_of(2), 1);
}

static int value_of(void *ctx, const struct store_partition *p, const struct store_row *r)
{
	(void)p;
	if (r && r->n_cells == 1) {
		const struct store_cell *c = &r->cells[0];
		char *v = ctx;
		size_t n = c->value_len < 255 ? c->value_len : 255;
		memcpy(v, c->value, n);
		v[n] = 0;
		/* the length, checked apart from the bytes kept */
		*(size_t *)(v + 256) = c->value_len;
	}
	return 0;
}

/* A lane encodes every mutation in the same buffers: mutations of very different sizes,
 * partition keys with escaped zero bytes, and a refused one between them each write exactly
 * their own cells. */
Test(writer, a_lanes_reused_buffers_write_each_mutation_exactly)
{
	open_all(NULL);
	struct cerr e = {0};
	const int32_t pks[] = {0, 7, 0x00000100, 0x12000000, 0x01000000};
	const size_t lens[] = {3, 200000, 1, 70000, 12};
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(submit(i, pks[i], lens[i], &e), 0, "%s", e.msg);
		if (i == 2) {
			uint8_t junk[] = {0x95, 0x01, 0x02};
			cr_assert_eq(
			        store_lane_apply_bytes(lane, junk, sizeof(junk), on_done, NULL, &e),
			        COL_ECORRUPT);
		}
		run_until_done(i + 1, 10);
	}
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(recs[i].rc, 0, "%s", recs[i].msg);
		uint8_t pkb[4];
		be32_store(pkb, (uint32_t)pks[i]);
		struct store_value pv = {pkb, 4};
		_Alignas(size_t) char got[256 + sizeof(size_t)] = {0};
		cr_assert_eq(store_read_partition(tbl, &pv, 1, NULL, 0, 0, NOW, value_of, got, &e),
		             0, "%s", e.msg);
		cr_assert_eq(*(size_t *)(got + 256), lens[i], "pk %d: %zu bytes, wrote %zu", pks[i],
		             *(size_t *)(got + 256), lens[i]);
		char c = (char)('a' + pks[i] % 26);
		for (size_t k = 0; k < lens[i] && k < 255; k++)
			cr_assert_eq(got[k], c, "pk %d byte %zu", pks[i], k);
	}
}

/* The prefix extractor's scan (no key wanted) and the escaped-key reader agree on every
 * key: random bytes rich in the escape's 0x00, 0x01 and 0xFF, and real partition
 * prefixes of keys holding zeros, followed by more bytes. */
Test(writer, the_partition_prefix_scan_agrees_with_the_escaped_reader)
{
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	const uint8_t alphabet[] = {0x00, 0x01, 0xFF, 0x02, 0x00, 0x41};
	struct buf key, k;
	buf_init(&key);
	buf_init(&k);
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t len = (size_t)(x % 40);
		uint8_t b[40];
		for (size_t j = 0; j < len; j++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			b[j] = j < 8 ? (uint8_t)x : alphabet[x % sizeof(alphabet)];
		}
		key.len = 0;
		cr_assert_eq(codec_partition_prefix_len(b, len, NULL),
		             codec_partition_prefix_len(b, len, &key), "key %d of %zu bytes", i,
		             len);
	}
	const uint8_t pk[][5] = {{0, 0, 0, 0, 9}, {1, 0, 0xFF, 0, 1}, {0xFF, 0xFF, 0, 1, 0}};
	for (int i = 0; i < 3; i++) {
		k.len = 0;
		codec_partition_prefix(&k, i - 1, pk[i], 5);
		size_t plen = k.len;
		buf_put(&k, "\x01\x00\x00\x01", 4);
		cr_assert_eq(codec_partition_prefix_len(k.data, k.len, NULL), plen);
		key.len = 0;
		cr_assert_eq(codec_partition_prefix_len(k.data, k.len, &key), plen);
		cr_assert_eq(key.len, 5);
		cr_assert_eq(memcmp(key.data, pk[i], 5), 0);
	}
	buf_release(&key);
	buf_release(&k);
}

/* The three refusals nowait_kv_writes_are_refused_during_a_stall_not_waited_for expects,
 * made on a thread of their own so that a write that waits for the stall fails the test
 * instead of holding it until ctest's timeout. */
struct nowait_writes {
	int put, del, del_prefix;
	struct cerr put_e, del_e, del_prefix_e;
	atomic_bool returned;
};

static void *nowait_writes_run(void *arg)
{
	struct nowait_writes *w = arg;
	w->put = store_kv_put(st, STORE_SYSTEM_NOWAIT, "k", 1, "v", 1, &w->put_e);
	w->del = store_kv_delete(st, STORE_SYSTEM_NOWAIT, "k", 1, &w->del_e);
	w->del_prefix = store_kv_delete_prefix(st, STORE_CF_HINTS, "h", 1, &w->del_prefix_e);
	atomic_store(&w->returned, true);
	return NULL;
}

/*
 * A loop's system-CF writes made with STORE_SYSTEM_NOWAIT (the peers table, the repair
 * scheduler's rows, the batchlog) and every hints-CF write are refused at once while
 * RocksDB stops writes, instead of holding the loop (and gossip with it) until the stall
 * ends; once RocksDB writes again they go through.  Without the flag these writes would wait
 * until compactions restart: the test gives them 5 s, then fails, restarts compactions so the
 * waiting thread returns, and joins it.
 */
Test(writer, nowait_kv_writes_are_refused_during_a_stall_not_waited_for)
{
	struct store_options o;
	store_options_init(&o);
	ev_timer tick;
	open_and_stall_writes(&o, &tick);
	static struct nowait_writes w;
	atomic_init(&w.returned, false);
	pthread_t th;
	double t0 = ev_time();
	cr_assert_eq(pthread_create(&th, NULL, nowait_writes_run, &w), 0);
	while (!atomic_load(&w.returned) && ev_time() - t0 < 5.0)
		usleep(1000);
	double waited = ev_time() - t0;
	bool returned = atomic_load(&w.returned);
	if (!returned)
		restart_compactions(); /* the stall ends: the waiting write returns */
	pthread_join(th, NULL);
	cr_assert(returned, "a STORE_SYSTEM_NOWAIT or hints write waited out the stall (over 5 s)");
	cr_expect_lt(waited, 1.0, "the refused writes took %.1f s", waited);
	int rc = w.put;
	cr_expect_eq(rc, COL_EOVERLOADED, "%s", w.put_e.msg);
	cr_expect(strstr(w.put_e.msg, "stalling writes") && strstr(w.put_e.msg, "system"), "%s",
	          w.put_e.msg);
	cr_expect_eq(w.del, COL_EOVERLOADED, "%s", w.del_e.msg);
	cr_expect_eq(w.del_prefix, COL_EOVERLOADED, "%s", w.del_prefix_e.msg);
	struct cerr e = {0};
	restart_compactions();
	ev_timer_stop(loop, &tick);
	for (int i = 0; i < 3000 && rc; i++) {
		rc = store_kv_put(st, STORE_SYSTEM_NOWAIT, "k", 1, "v", 1, &e);
		if (rc)
			usleep(10 * 1000);
	}
	cr_assert_eq(rc, 0, "still refused 30 s after compactions restarted: %s", e.msg);
	struct buf v;
	buf_init(&v);
	cr_assert_eq(store_kv_get(st, STORE_CF_SYSTEM, "k", 1, &v, &e), 0, "%s", e.msg);
	cr_assert(v.len == 1 && v.data[0] == 'v');
	buf_release(&v);
}
