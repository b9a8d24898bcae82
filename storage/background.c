/*
 * background.c — the CPU priority of RocksDB's flush and compaction threads (storage.h,
 * store_background_priority_tick).
 *
 * A memtable flush is a burst of CPU (about 0.7 s for a 64 MiB memtable on this project's
 * machine).  At the default priority it takes its share of a core from the request loops
 * the moment it starts, although the memtable that replaced the flushed one has room for
 * seconds more; on a machine whose cores are busy the loops then wait for a core and every
 * request in flight waits with them.  ScyllaDB solves this with backlog controllers: a
 * flush or a compaction gets CPU shares in proportion to how far behind it is.  Linux
 * threads have no shares but have nice values, which weigh the same way in the CFS
 * scheduler, so this controller sets each RocksDB background thread's nice value from its
 * pool's backlog:
 *
 *   pressure < 0.25: nice 19 (about 1.5 % of a core against a busy nice-0 thread: the
 *                    work runs on what the loops leave)
 *   pressure < 0.50: nice 10 (about 10 %)
 *   otherwise:       the process's own nice (an equal share)
 *
 * Flush pressure is the share of the memtable headroom used since a flush became due:
 * (immutable memtables - 1 + active memtable fill) / (max memtables - 1), 0 while no flush
 * is due; 1 is the point where RocksDB stops writes.  Compaction pressure is the higher of
 * where L0 stands between the compaction trigger (0) and the slowdown trigger (1), and of
 * RocksDB's estimate of the bytes compactions owe over its soft_pending_compaction_bytes_limit
 * (1: writes slow down): compactions below L0 do not touch L0's count, so a long busy spell
 * could otherwise run them at nice 19 until that debt slows writes.  Each is the highest over
 * all column families.  So a flush starts slow and is at full priority by the time half of
 * the next memtable is written, long before writes would stall.
 *
 * Lowering a thread's priority needs no privilege, raising it back needs CAP_SYS_NICE or
 * RLIMIT_NICE: the first tick tries both on a thread made for the try, and where the kernel
 * refuses the raise the controller stays off (logged once), every thread as it was.  Should the
 * kernel refuse a value later (RLIMIT_NICE lowered after the probe), the thread keeps the one
 * it had, the gauge shows that one, the next tick tries again, and the log says so at most
 * once a minute.
 *
 * Threads: the tick runs on one thread (the node's main loop); the published values are
 * atomics.
 */
#include "storage/storage_int.h"

#include "core/clock.h"
#include "core/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MOD         "storage"
#define BG_MAX_TIDS 32
/* RocksDB's thread pools can grow (SetBackgroundThreads): look for new threads this often. */
#define BG_RESCAN_MS 10000
/* A refused setpriority is retried every tick (100 ms) but logged at most this often: the
 * cause (an RLIMIT_NICE lowered, a capability dropped) lasts until an operator acts. */
#define BG_WARN_MS 60000

enum { POOL_FLUSH = 0, POOL_COMPACTION = 1 };

struct store_bgprio {
	bool probed, off;
	int base; /* the process's nice when the threads were found */
	int n;
	pid_t tid[BG_MAX_TIDS];
	unsigned char pool[BG_MAX_TIDS];
	int nice[BG_MAX_TIDS]; /* what the kernel last accepted for the thread */
	int64_t scanned_ms;
	bool warned; /* a refusal was logged, at warned_ms */
	int64_t warned_ms;
	uint64_t refusals;  /* setpriority calls refused (not ESRCH) */
	_Atomic int pub[2]; /* per pool, for metrics; -1 while not controlled */
};

int store_bg_nice_for(double pressure)
{
	if (pressure < 0.25)
		return 19;
	if (pressure < 0.5)
		return 10;
	return 0;
}

static double clamp01(double v)
{
	return v < 0 ? 0 : v > 1 ? 1 : v;
}

double store_flush_pressure(uint64_t immutable, double active_fill, int max_memtables)
{
	if (immutable == 0)
		return 0;
	if (max_memtables < 2)
		return 1;
	return clamp01(((double)immutable - 1 + active_fill) / (double)(max_memtables - 1));
}

static double l0_pressure(uint64_t l0_files, int compaction_trigger, int slowdown_trigger)
{
	if ((int64_t)l0_files <= compaction_trigger)
		return 0;
	if (slowdown_trigger <= compaction_trigger)
		return 1;
	return clamp01((double)((int64_t)l0_files - compaction_trigger) /
	               (double)(slowdown_trigger - compaction_trigger));
}

double store_compaction_pressure(uint64_t l0_files, int compaction_trigger, int slowdown_trigger,
                                 uint64_t pending_bytes, uint64_t soft_pending_limit)
{
	double l0 = l0_pressure(l0_files, compaction_trigger, slowdown_trigger);
	double debt = soft_pending_limit
	                      ? clamp01((double)pending_bytes / (double)soft_pending_limit)
	                      : 0;
	return l0 > debt ? l0 : debt;
}

/* The pool a thread named `comm` works for; -1: not RocksDB's. */
static int pool_of(const char *comm)
{
	if (strncmp(comm, "rocksdb:high", 12) == 0)
		return POOL_FLUSH;
	if (strncmp(comm, "rocksdb:low", 11) == 0 || strncmp(comm, "rocksdb:bottom", 14) == 0)
		return POOL_COMPACTION;
	return -1;
}

/* Add the RocksDB threads of this process not yet known. */
static void scan_threads(struct store_bgprio *b)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && b->n < BG_MAX_TIDS) {
		char *end;
		long tid = strtol(e->d_name, &end, 10);
		if (*end || tid <= 0)
			continue;
		bool known = false;
		for (int i = 0; i < b->n && !known; i++)
			known = b->tid[i] == (pid_t)tid;
		if (known)
			continue;
		char path[64], comm[32];
		snprintf(path, sizeof(path), "/proc/self/task/%ld/comm", tid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t k = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		if (k <= 0)
			continue;
		comm[k] = 0;
		int pool = pool_of(comm);
		if (pool < 0)
			continue;
		b->tid[b->n] = (pid_t)tid;
		b->pool[b->n] = (unsigned char)pool;
		b->nice[b->n] = b->base;
		b->n++;
	}
	closedir(d);
}

struct probe_try {
	int base;
	bool raised;
	int err;
};

static void *probe_main(void *arg)
{
	struct probe_try *p = arg;
	id_t self = (id_t)gettid();
	p->raised = setpriority(PRIO_PROCESS, self, p->base + 1) == 0 &&
	            setpriority(PRIO_PROCESS, self, p->base) == 0;
	p->err = errno;
	return NULL;
}

/* Can this process raise a thread's priority again once lowered?  Tried on a thread made
 * for it (with the loop's nice value and capabilities), so that where the kernel refuses
 * the raise no RocksDB thread is left lowered by the try. */
static bool probe(struct store_bgprio *b)
{
	if (b->base >= 19)
		return false; /* nothing lower to go to */
	struct probe_try p = {.base = b->base};
	pthread_t t;
	int rc = pthread_create(&t, NULL, probe_main, &p);
	if (rc == 0)
		pthread_join(t, NULL);
	else
		p.err = rc;
	if (p.raised)
		return true;
	log_warn(MOD,
	         "cannot raise the priority of RocksDB's background threads again once lowered "
	         "(%s%s; it needs CAP_SYS_NICE or an RLIMIT_NICE): flushes and compactions keep "
	         "the priority of the request loops (storage_adaptive_background_priority)",
	         rc ? "no thread to try it on: " : "", strerror(rc ? rc : p.err));
	return false;
}

static const char *const pool_name[2] = {"flush", "compaction"};

/* The kernel refused thread i the nice value `target` (errno `e`): the thread keeps the one
 * recorded and the next tick tries again; logged at most every BG_WARN_MS. */
static void refused(struct store_bgprio *b, int i, int target, int e)
{
	int64_t now = clock_mono_ms();
	b->refusals++;
	if (b->warned && now - b->warned_ms < BG_WARN_MS)
		return;
	log_warn(MOD,
	         "cannot set RocksDB's %s thread %d to nice %d (%s): it stays at nice %d, "
	         "retried every tick (%" PRIu64 " refusals so far; logged at most every %d s)",
	         pool_name[b->pool[i]], (int)b->tid[i], target, strerror(e), b->nice[i],
	         b->refusals, BG_WARN_MS / 1000);
	b->warned = true;
	b->warned_ms = now;
}

/* Give the pool's threads the nice value `target` (not below the process's own).  The
 * published value is one the kernel has: `target` once every thread of the pool has it,
 * else the nice value kept by a thread that was refused it. */
static void apply(struct store_bgprio *b, int pool, int target)
{
	if (target < b->base)
		target = b->base;
	int published = target;
	for (int i = 0; i < b->n; i++) {
		if (b->pool[i] != pool)
			continue;
		if (b->nice[i] != target) {
			if (setpriority(PRIO_PROCESS, (id_t)b->tid[i], target) == 0) {
				b->nice[i] = target;
			} else if (errno != ESRCH) {
				refused(b, i, target, errno);
			} else {
				/* the thread is gone: forget it (a rescan finds its successor) */
				b->n--;
				b->tid[i] = b->tid[b->n];
				b->pool[i] = b->pool[b->n];
				b->nice[i] = b->nice[b->n];
				i--;
				continue;
			}
		}
		if (b->nice[i] != target)
			published = b->nice[i];
	}
	atomic_store(&b->pub[pool], published);
}

struct store_bgprio *store_bgprio_new(void)
{
	struct store_bgprio *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	atomic_store(&b->pub[POOL_FLUSH], -1);
	atomic_store(&b->pub[POOL_COMPACTION], -1);
	errno = 0;
	int nv = getpriority(PRIO_PROCESS, 0);
	b->base = errno ? 0 : nv;
	return b;
}

void store_bgprio_free(struct store_bgprio *b)
{
	free(b);
}

bool store_bgprio_set(struct store *s, double flush_pressure, double compaction_pressure)
{
	struct store_bgprio *b = s->bgprio;
	if (!b || b->off)
		return false;
	int64_t now = clock_mono_ms();
	if (!b->scanned_ms || now - b->scanned_ms >= BG_RESCAN_MS) {
		scan_threads(b);
		b->scanned_ms = now;
	}
	if (b->n == 0)
		return false; /* RocksDB has not started its threads yet */
	if (!b->probed) {
		b->probed = true;
		if (!probe(b)) {
			b->off = true;
			return false;
		}
	}
	apply(b, POOL_FLUSH, store_bg_nice_for(flush_pressure));
	apply(b, POOL_COMPACTION, store_bg_nice_for(compaction_pressure));
	return true;
}

void store_background_priority_tick(struct store *s)
{
	if (!s->bgprio || s->bgprio->off)
		return;
	struct store_pressures p;
	store_background_pressures(s, &p);
	store_bgprio_set(s, p.flush, p.compaction);
}

void store_bgprio_restore(struct store *s)
{
	struct store_bgprio *b = s->bgprio;
	if (!b || b->off || !b->probed)
		return;
	apply(b, POOL_FLUSH, b->base);
	apply(b, POOL_COMPACTION, b->base);
	b->off = true;
}

void store_background_nice(const struct store *s, int *flush, int *compaction)
{
	const struct store_bgprio *b = s->bgprio;
	*flush = b ? atomic_load(&b->pub[POOL_FLUSH]) : -1;
	*compaction = b ? atomic_load(&b->pub[POOL_COMPACTION]) : -1;
}
