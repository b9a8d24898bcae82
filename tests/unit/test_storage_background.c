/*
 * The CPU priority of RocksDB's flush and compaction threads (storage/background.c): the
 * pressures, the nice value each gives, and the real threads of an open store, read back
 * from /proc as the kernel has them: lowered while nothing is behind, raised as a pool
 * falls behind, given back at close.
 */
#include "core/err.h"
#include "core/log.h"
#include "storage/storage.h"
#include "storage/storage_int.h"
#include "tests/unit/store_fixture.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static char dir[256];
static struct store *st;

static void setup(void)
{
	test_dir_make(dir, sizeof(dir), "bgprio");
	struct store_options o;
	store_options_init(&o);
	o.data_dir = dir;
	o.block_cache_bytes = 8 << 20;
	struct cerr e = {0};
	cr_assert_eq(store_open(&o, &st, &e), 0, "%s", e.msg);
}

static void teardown(void)
{
	store_close(st);
	st = NULL;
	test_dir_remove(dir);
}

TestSuite(bgprio, .init = setup, .fini = teardown);

Test(bgprio, flush_pressure_is_the_share_of_the_headroom_used_since_a_flush_was_due)
{
	cr_assert_float_eq(store_flush_pressure(0, 0.9, 2), 0.0, 1e-9, "no flush due");
	cr_assert_float_eq(store_flush_pressure(1, 0.0, 2), 0.0, 1e-9);
	cr_assert_float_eq(store_flush_pressure(1, 0.5, 2), 0.5, 1e-9);
	cr_assert_float_eq(store_flush_pressure(2, 0.0, 3), 0.5, 1e-9);
	cr_assert_float_eq(store_flush_pressure(2, 1.0, 3), 1.0, 1e-9, "writes stop here");
	cr_assert_float_eq(store_flush_pressure(1, 1.7, 2), 1.0, 1e-9, "clamped");
	cr_assert_float_eq(store_flush_pressure(1, 0.0, 1), 1.0, 1e-9, "no headroom at all");
}

#define GIB (1ull << 30)

Test(bgprio, compaction_pressure_is_l0_between_its_triggers)
{
	cr_assert_float_eq(store_compaction_pressure(0, 4, 20, 0, 64 * GIB), 0.0, 1e-9);
	cr_assert_float_eq(store_compaction_pressure(4, 4, 20, 0, 64 * GIB), 0.0, 1e-9);
	cr_assert_float_eq(store_compaction_pressure(12, 4, 20, 0, 64 * GIB), 0.5, 1e-9);
	cr_assert_float_eq(store_compaction_pressure(20, 4, 20, 0, 64 * GIB), 1.0, 1e-9);
	cr_assert_float_eq(store_compaction_pressure(36, 4, 20, 0, 64 * GIB), 1.0, 1e-9);
	cr_assert_float_eq(store_compaction_pressure(5, 4, 4, 0, 64 * GIB), 1.0, 1e-9);
}

Test(bgprio, compaction_pressure_counts_the_pending_bytes_against_the_soft_limit)
{
	/* L0 under its trigger, the debt below L0 growing towards the 64 GiB that slow writes */
	cr_assert_float_eq(store_compaction_pressure(2, 4, 20, 1 * GIB, 64 * GIB), 1.0 / 64, 1e-9);
	cr_assert_eq(store_bg_nice_for(store_compaction_pressure(2, 4, 20, 8 * GIB, 64 * GIB)), 19);
	cr_assert_float_eq(store_compaction_pressure(2, 4, 20, 16 * GIB, 64 * GIB), 0.25, 1e-9);
	cr_assert_eq(store_bg_nice_for(store_compaction_pressure(2, 4, 20, 16 * GIB, 64 * GIB)), 10,
	             "a quarter of the way: nice 10");
	cr_assert_eq(store_bg_nice_for(store_compaction_pressure(2, 4, 20, 32 * GIB, 64 * GIB)), 0,
	             "half way: the process's own priority");
	cr_assert_float_eq(store_compaction_pressure(2, 4, 20, 64 * GIB, 64 * GIB), 1.0, 1e-9,
	                   "writes slow down here");
	cr_assert_float_eq(store_compaction_pressure(2, 4, 20, 200 * GIB, 64 * GIB), 1.0, 1e-9,
	                   "clamped");
	/* the higher of the two */
	cr_assert_float_eq(store_compaction_pressure(12, 4, 20, 16 * GIB, 64 * GIB), 0.5, 1e-9);
	cr_assert_float_eq(store_compaction_pressure(8, 4, 20, 48 * GIB, 64 * GIB), 0.75, 1e-9);
	/* a smaller configured limit counts as much */
	cr_assert_float_eq(store_compaction_pressure(0, 4, 20, 1 * GIB, 2 * GIB), 0.5, 1e-9);
	/* no soft limit: the debt never slows writes, so it is not counted */
	cr_assert_float_eq(store_compaction_pressure(0, 4, 20, 500 * GIB, 0), 0.0, 1e-9);
}

Test(bgprio, the_nice_value_falls_as_the_pressure_rises)
{
	cr_assert_eq(store_bg_nice_for(0.0), 19);
	cr_assert_eq(store_bg_nice_for(0.249), 19);
	cr_assert_eq(store_bg_nice_for(0.25), 10);
	cr_assert_eq(store_bg_nice_for(0.499), 10);
	cr_assert_eq(store_bg_nice_for(0.5), 0);
	cr_assert_eq(store_bg_nice_for(1.0), 0);
}

/* The kernel's nice value of every thread of this process whose name starts with `prefix`
 * (field 19 of /proc/self/task/T/stat); returns how many, -1 if they disagree. */
static int threads_nice(const char *prefix, int *nice)
{
	DIR *d = opendir("/proc/self/task");
	cr_assert(d);
	struct dirent *e;
	int n = 0, seen = 0;
	bool agree = true;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[300], comm[64] = "", stat[1024];
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		bool ok = fgets(comm, sizeof(comm), f) != NULL;
		fclose(f);
		if (!ok || strncmp(comm, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		f = fopen(path, "r");
		cr_assert(f);
		cr_assert(fgets(stat, sizeof(stat), f));
		fclose(f);
		/* after the ")" closing the name: state is field 3, nice field 19 */
		const char *p = strrchr(stat, ')');
		cr_assert(p);
		int field = 2, v = 0;
		for (p++; *p && field < 19; p++)
			if (*p == ' ')
				field++;
		cr_assert(sscanf(p, "%d", &v) == 1);
		if (n++ && v != seen)
			agree = false;
		seen = v;
	}
	closedir(d);
	*nice = seen;
	return agree ? n : -1;
}

Test(bgprio, the_threads_run_low_until_their_pool_falls_behind_and_get_it_back_at_close)
{
	int base = getpriority(PRIO_PROCESS, 0);
	if (base > 9)
		cr_skip_test("the test runs at nice %d: nothing to lower", base);
	if (!store_bgprio_set(st, 0, 0)) {
		/* no right to raise a priority again: the controller must leave them alone */
		int fl, co;
		store_background_nice(st, &fl, &co);
		cr_assert_eq(fl, -1);
		cr_assert_eq(co, -1);
		cr_skip_test("this process may not raise a thread's priority (not root, no "
		             "CAP_SYS_NICE): the controller is off, as it logs");
	}
	int nice, fl, co;
	cr_assert_gt(threads_nice("rocksdb:high", &nice), 0, "RocksDB's flush thread");
	cr_assert_eq(nice, 19, "nothing behind: flushes at nice 19 (got %d)", nice);
	cr_assert_gt(threads_nice("rocksdb:low", &nice), 0, "RocksDB's compaction thread");
	cr_assert_eq(nice, 19);
	store_background_nice(st, &fl, &co);
	cr_assert_eq(fl, 19);
	cr_assert_eq(co, 19);

	/* flushes halfway to a write stop, compactions a third of the way to the slowdown */
	cr_assert(store_bgprio_set(st, 0.6, 0.3));
	threads_nice("rocksdb:high", &nice);
	cr_assert_eq(nice, base, "a flush behind runs at the process's priority (got %d)", nice);
	threads_nice("rocksdb:low", &nice);
	cr_assert_eq(nice, 10, "got %d", nice);
	store_background_nice(st, &fl, &co);
	cr_assert_eq(fl, base);
	cr_assert_eq(co, 10);

	/* the store's own pressures: an idle store is behind on nothing */
	store_background_priority_tick(st);
	threads_nice("rocksdb:high", &nice);
	cr_assert_eq(nice, 19, "got %d", nice);

	store_close(st);
	st = NULL;
	threads_nice("rocksdb:high", &nice);
	cr_assert_eq(nice, base, "closed: its last flush ran at full priority (got %d)", nice);
	threads_nice("rocksdb:low", &nice);
	cr_assert_eq(nice, base);
}

/* Take CAP_SYS_NICE out of this thread's effective set (on = false) or put it back; true if
 * the thread no longer has it / has it again.  Without it and with RLIMIT_NICE at 0 the
 * kernel refuses to raise a thread's priority: what a node meets when its RLIMIT_NICE is
 * lowered after the controller's first-tick probe. */
static bool sys_nice_effective(bool on)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) != 0)
		return !on;
	uint32_t bit = 1u << CAP_SYS_NICE;
	if (!(d[0].permitted & bit))
		return !on;
	d[0].effective = on ? d[0].effective | bit : d[0].effective & ~bit;
	return syscall(SYS_capset, &h, d) == 0;
}

/* From here on the kernel refuses this thread every raise of a priority: RLIMIT_NICE 0
 * (the old limit kept in *saved) and CAP_SYS_NICE out of its effective set. */
static void refuse_raises(struct rlimit *saved)
{
	cr_assert_eq(getrlimit(RLIMIT_NICE, saved), 0);
	struct rlimit none = {.rlim_cur = 0, .rlim_max = saved->rlim_max};
	cr_assert_eq(setrlimit(RLIMIT_NICE, &none), 0);
	if (!sys_nice_effective(false))
		cr_skip_test("cannot drop CAP_SYS_NICE from this thread");
}

/* Undoes refuse_raises(). */
static void allow_raises(const struct rlimit *saved)
{
	cr_assert(sys_nice_effective(true));
	cr_assert_eq(setrlimit(RLIMIT_NICE, saved), 0);
}

/* How many times `needle` occurs in what was written to fd. */
static int count_in(int fd, const char *needle)
{
	static char text[1 << 16];
	ssize_t k = pread(fd, text, sizeof(text) - 1, 0);
	cr_assert_geq(k, 0);
	text[k] = 0;
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

Test(bgprio, a_priority_the_kernel_refuses_is_neither_shown_nor_forgotten_and_is_logged_once)
{
	int base = getpriority(PRIO_PROCESS, 0);
	if (base > 9)
		cr_skip_test("the test runs at nice %d: nothing to lower", base);
	if (!store_bgprio_set(st, 0, 0))
		cr_skip_test("this process may not raise a thread's priority: the controller is "
		             "off");
	int nice, fl, co;
	threads_nice("rocksdb:high", &nice);
	cr_assert_eq(nice, 19);

	/* from here on the kernel refuses every raise */
	struct rlimit rl;
	refuse_raises(&rl);
	FILE *log = tmpfile();
	cr_assert(log);
	log_set_fd(fileno(log));

	/* 20 ticks' worth (2 s) of flushes and compactions far behind */
	for (int i = 0; i < 20; i++)
		cr_assert(store_bgprio_set(st, 0.9, 0.9));
	threads_nice("rocksdb:high", &nice);
	cr_assert_eq(nice, 19, "the kernel refused the raise (got %d)", nice);
	store_background_nice(st, &fl, &co);
	cr_assert_eq(fl, 19, "the gauge shows what the threads have, not what was refused");
	cr_assert_eq(co, 19);
	cr_assert_eq(count_in(fileno(log), "cannot set RocksDB's"), 1,
	             "one line for all those refusals, not one per tick");

	/* the right comes back: the next tick raises them, as nothing was recorded as done */
	allow_raises(&rl);
	cr_assert(store_bgprio_set(st, 0.9, 0.9));
	log_set_fd(2);
	fclose(log);
	threads_nice("rocksdb:high", &nice);
	cr_assert_eq(nice, base, "got %d", nice);
	threads_nice("rocksdb:low", &nice);
	cr_assert_eq(nice, base, "got %d", nice);
	store_background_nice(st, &fl, &co);
	cr_assert_eq(fl, base);
	cr_assert_eq(co, base);
}

/* Where the kernel refuses the raise from the start (RLIMIT_NICE 0, no CAP_SYS_NICE: a
 * container's unprivileged user), the controller is off and leaves every RocksDB thread
 * at the process's priority: its try was made on a thread of its own. */
Test(bgprio, a_refused_first_try_leaves_no_thread_lowered)
{
	int base = getpriority(PRIO_PROCESS, 0);
	if (base > 9)
		cr_skip_test("the test runs at nice %d: nothing to lower", base);
	struct rlimit rl;
	refuse_raises(&rl);
	bool on = store_bgprio_set(st, 0, 0);
	allow_raises(&rl);
	cr_assert(!on, "the controller is off where a raise is refused");
	int nice, fl, co;
	cr_assert_gt(threads_nice("rocksdb:", &nice), 0, "RocksDB's threads, all alike");
	cr_assert_eq(nice, base, "no thread left at nice %d by the try", nice);
	store_background_nice(st, &fl, &co);
	cr_assert_eq(fl, -1);
	cr_assert_eq(co, -1);
}

Test(bgprio, each_column_family_is_measured_against_the_limits_it_was_opened_with)
{
	store_close(st);
	struct store_options o;
	store_options_init(&o);
	o.data_dir = dir;
	o.block_cache_bytes = 8 << 20;
	o.write_buffer_bytes = 1 << 20;
	o.max_memtables = 5;
	o.l0_compaction_trigger = 8;
	o.l0_slowdown_trigger = 30;
	struct cerr e = {0};
	cr_assert_eq(store_open(&o, &st, &e), 0, "%s", e.msg);
	/* table CFs: store_options */
	cr_assert_eq(st->lim_tables.write_buffer, 1u << 20);
	cr_assert_eq(st->lim_tables.max_memtables, 5);
	cr_assert_eq(st->lim_tables.l0_compaction, 8);
	cr_assert_eq(st->lim_tables.l0_slowdown, 30);
	cr_assert_eq(st->lim_tables.soft_pending_bytes, 64 * GIB, "RocksDB's default");
	/* the index CF: store_options' write buffer, RocksDB's memtable count and L0 triggers
	 * (sindex_cf_options sets no others) */
	cr_assert_eq(st->lim_sindex.write_buffer, 1u << 20);
	cr_assert_eq(st->lim_sindex.max_memtables, 2);
	cr_assert_eq(st->lim_sindex.l0_compaction, 4);
	cr_assert_eq(st->lim_sindex.l0_slowdown, 20);
	cr_assert_eq(st->lim_sindex.soft_pending_bytes, 64 * GIB);
	/* default, system, hints: RocksDB's defaults throughout */
	cr_assert_eq(st->lim_kv.write_buffer, 64u << 20);
	cr_assert_eq(st->lim_kv.max_memtables, 2);
	cr_assert_eq(st->lim_kv.l0_compaction, 4);
	cr_assert_eq(st->lim_kv.l0_slowdown, 20);
	cr_assert_eq(st->lim_kv.soft_pending_bytes, 64 * GIB);
}
