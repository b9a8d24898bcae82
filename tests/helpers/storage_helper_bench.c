/*
 * storage_helper_bench — the storage engine benchmark: writes and reads N
 * cells through the storage API (store_mutation_* + store_apply,
 * store_read_partition), one thread, and prints ops/s and p50/p99/p99.9
 * latency.  Shaped like db_bench's fillrandom and readrandom (on a database
 * filled in key order) so the figures sit beside db_bench's: 16-byte keys
 * (the partition key, a blob "%016d"), one value cell of --value-size bytes.
 *
 *   storage_helper_bench --dir /tmp/sb --num 1000000 --value-size 100 \
 *       [--benchmarks fillrandom,readrandom] [--reads N] [--sync periodic|batch]
 *       [--group G [--inline 0|1] [--threads T]] [--write-buffer-mb M]
 *
 * fillrandom writes keys 0..N-1 in a random order (each once);
 * readrandom first fills the keys in order (fillseq, not timed) into a fresh
 * table, then with --compact wait (default) flushes and waits for the
 * background compactions to finish (db_bench's waitforcompaction), with
 * --compact full runs a full manual compaction (all data in the last level),
 * with --compact none only flushes; then reads --reads random keys (default
 * N) and checks each was found.
 *
 * --group G writes fillrandom through a group-commit lane (store_lane_apply): G
 * mutations per loop iteration, as a node under load gathers them, one WriteBatch per
 * group; --inline 0 sends every group through the writer thread (as a stall or sync
 * batch does); --threads T runs T such lanes, each on a thread and loop of its own
 * (a node's request loops), writing its share of the keys.  Without --group each
 * write is its own store_apply.
 */
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <ev.h>
#include <pthread.h>
#include <time.h>

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU time of the whole process (all threads, user + system), µs. */
static int64_t cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *name, long n, int64_t total_ns, uint32_t *lat, size_t vsize)
{
	qsort(lat, (size_t)n, sizeof(*lat), cmp_u32);
	double secs = (double)total_ns / 1e9;
	printf("%-12s value=%zu ops=%ld  %10.0f ops/s  %6.2f us/op  p50 %.1f  p99 %.1f  p99.9 %.1f "
	       "us\n",
	       name, vsize, n, (double)n / secs, secs * 1e6 / (double)n, lat[n / 2] / 1000.0,
	       lat[(long)((double)n * 0.99)] / 1000.0, lat[(long)((double)n * 0.999)] / 1000.0);
	fflush(stdout);
}

static struct store_table *make_table(struct store *s, uint8_t idb)
{
	const struct cqltype *pk[1] = {cqltype_simple(CQLTYPE_BLOB)};
	struct store_column col = {.id = 1, .type = cqltype_simple(CQLTYPE_BLOB)};
	struct store_table_desc d = {.keyspace = "bench",
	                             .name = idb == 1 ? "fill" : "read",
	                             .n_pk = 1,
	                             .pk_types = pk,
	                             .n_cols = 1,
	                             .cols = &col,
	                             .gc_grace_seconds = 864000};
	d.id[15] = idb;
	struct store_table *t;
	struct cerr e = {0};
	if (store_table_open(s, &d, &t, &e)) {
		fprintf(stderr, "table: %s\n", e.msg);
		exit(1);
	}
	return t;
}

static void write_one(struct store *s, struct store_table *t, long key, const uint8_t *val,
                      size_t vsize, int64_t ts)
{
	char k[24];
	snprintf(k, sizeof(k), "%016ld", key);
	struct store_value kv = {k, 16};
	struct store_mutation m;
	struct cerr e = {0};
	if (store_mutation_init(&m, t, &kv, 1, 0, &e) ||
	    store_mutation_set_cell(&m, NULL, 0, 1, NULL, val, vsize, ts, 0) ||
	    store_apply(s, &m, &e)) {
		fprintf(stderr, "write: %s %s\n", e.msg, m.err.msg);
		exit(1);
	}
	store_mutation_release(&m);
}

static void on_done(void *ctx, int rc, const struct cerr *e)
{
	if (rc) {
		fprintf(stderr, "write: %s\n", e->msg);
		exit(1);
	}
	(*(long *)ctx)++;
}

struct fill_job {
	struct store *s;
	struct store_table *t;
	const long *order;
	long from, to, group;
	const uint8_t *val;
	size_t vsize;
	uint32_t *lat;
};

static void on_nothing(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop, (void)w, (void)revents;
}

/* Keys order[from..to) through a lane of its own, `group` per loop iteration; per-op
 * latency = its group's.  The loop sleeps while it waits for a completion, as a node's
 * loop does (its sockets keep it active): the idle watcher below. */
static void *fill_grouped(void *arg)
{
	struct fill_job *j = arg;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	ev_async idle;
	ev_async_init(&idle, on_nothing);
	ev_async_start(loop, &idle);
	struct store_lane *lane;
	struct cerr e = {0};
	long done = 0;
	if (store_lane_new(j->s, loop, &lane, &e)) {
		fprintf(stderr, "lane: %s\n", e.msg);
		exit(1);
	}
	for (long i = j->from; i < j->to; i += j->group) {
		long n = j->to - i < j->group ? j->to - i : j->group;
		int64_t a = now_ns();
		for (long k = i; k < i + n; k++) {
			char key[24];
			snprintf(key, sizeof(key), "%016ld", j->order[k]);
			struct store_value kv = {key, 16};
			struct store_mutation m;
			if (store_mutation_init(&m, j->t, &kv, 1, 0, &e) ||
			    store_mutation_set_cell(&m, NULL, 0, 1, NULL, j->val, j->vsize,
			                            1000 + k, 0) ||
			    store_lane_apply(lane, &m, on_done, &done, &e)) {
				fprintf(stderr, "write: %s %s\n", e.msg, m.err.msg);
				exit(1);
			}
			store_mutation_release(&m);
		}
		ev_run(loop, EVRUN_NOWAIT); /* the group is applied before the loop would sleep */
		while (done < i + n - j->from)
			ev_run(loop, EVRUN_ONCE);
		uint32_t d = (uint32_t)(now_ns() - a);
		for (long k = i; k < i + n; k++)
			j->lat[k] = d;
	}
	store_lane_free(lane);
	ev_async_stop(loop, &idle);
	ev_loop_destroy(loop);
	return NULL;
}

/* --threads T lanes on T threads, each its share of the keys. */
static void fill_threads(struct fill_job *base, long num, int threads)
{
	pthread_t tid[64];
	struct fill_job jobs[64];
	for (int i = 0; i < threads; i++) {
		jobs[i] = *base;
		jobs[i].from = num * i / threads;
		jobs[i].to = num * (i + 1) / threads;
		if (pthread_create(&tid[i], NULL, fill_grouped, &jobs[i])) {
			fprintf(stderr, "cannot start a writer thread\n");
			exit(1);
		}
	}
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
}

struct found {
	size_t len;
};
static int on_row(void *ctx, const struct store_partition *p, const struct store_row *r)
{
	(void)p;
	struct found *f = ctx;
	if (r->n_cells == 1)
		f->len = r->cells[0].value_len;
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *benchmarks = "fillrandom,readrandom", *sync = "periodic";
	const char *compact = "wait";
	long num = 1000000, reads = -1, group = 0;
	int inl = 1, threads = 1;
	long wb_mb = 0;
	size_t vsize = 100;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--num"))
			num = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--reads"))
			reads = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--value-size"))
			vsize = (size_t)atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--benchmarks"))
			benchmarks = argv[i + 1];
		else if (!strcmp(argv[i], "--sync"))
			sync = argv[i + 1];
		else if (!strcmp(argv[i], "--compact"))
			compact = argv[i + 1];
		else if (!strcmp(argv[i], "--group"))
			group = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--threads"))
			threads = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--inline"))
			inl = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--write-buffer-mb"))
			wb_mb = atol(argv[i + 1]);
		else {
			fprintf(stderr, "unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (!dir || num <= 0 || threads < 1 || threads > 64 || (threads > 1 && group <= 0)) {
		fprintf(stderr,
		        "usage: %s --dir DIR [--num N] [--value-size B] [--reads N] "
		        "[--benchmarks fillrandom,readrandom] [--sync periodic|batch] "
		        "[--compact wait|full|none] [--group G [--inline 0|1] [--threads T]] "
		        "[--write-buffer-mb M]\n",
		        argv[0]);
		return 2;
	}
	if (reads < 0)
		reads = num;
	log_set_level(LOG_WARN);
	struct store_options o;
	store_options_init(&o);
	o.data_dir = dir;
	o.sync = strcmp(sync, "batch") == 0 ? STORE_SYNC_BATCH : STORE_SYNC_PERIODIC;
	/* db_bench anchors use a 1 GiB block cache */
	o.block_cache_bytes = 1UL << 30;
	o.write_inline = inl != 0;
	if (wb_mb > 0)
		o.write_buffer_bytes = (size_t)wb_mb << 20;
	struct store *s;
	struct cerr e = {0};
	if (store_open(&o, &s, &e)) {
		fprintf(stderr, "open: %s\n", e.msg);
		return 1;
	}
	uint8_t *val = malloc(vsize);
	for (size_t i = 0; i < vsize; i++)
		val[i] = (uint8_t)(rnd() >> 56);
	uint32_t *lat = malloc(sizeof(uint32_t) * (size_t)(num > reads ? num : reads));
	long *order = malloc(sizeof(long) * (size_t)num);
	if (strstr(benchmarks, "fillrandom")) {
		struct store_table *t = make_table(s, 1);
		for (long i = 0; i < num; i++)
			order[i] = i;
		for (long i = num - 1; i > 0; i--) {
			long j = (long)(rnd() % (uint64_t)(i + 1));
			long x = order[i];
			order[i] = order[j];
			order[j] = x;
		}
		int64_t c0 = cpu_us();
		int64_t t0 = now_ns();
		if (group > 0) {
			struct fill_job job = {.s = s,
			                       .t = t,
			                       .order = order,
			                       .group = group,
			                       .val = val,
			                       .vsize = vsize,
			                       .lat = lat};
			fill_threads(&job, num, threads);
		} else {
			for (long i = 0; i < num; i++) {
				int64_t a = now_ns();
				write_one(s, t, order[i], val, vsize, 1000 + i);
				lat[i] = (uint32_t)(now_ns() - a);
			}
		}
		report("fillrandom", num, now_ns() - t0, lat, vsize);
		/* CPU per write including the flushes and compactions it causes: a
		 * figure that other processes sharing the cores disturb far less
		 * than wall-clock ops/s. */
		if (store_table_wait_compactions(t, &e)) {
			fprintf(stderr, "wait: %s\n", e.msg);
			return 1;
		}
		printf("fillrandom   cpu %.2f us/op (all threads, incl. flush and compaction)\n",
		       (double)(cpu_us() - c0) / (double)num);
	}
	if (strstr(benchmarks, "readrandom")) {
		struct store_table *t = make_table(s, 2);
		for (long i = 0; i < num; i++)
			write_one(s, t, i, val, vsize, 1000 + i);
		int crc = strcmp(compact, "full") == 0   ? store_table_compact(t, 0, &e)
		          : strcmp(compact, "wait") == 0 ? store_table_wait_compactions(t, &e)
		                                         : store_table_flush(t, &e);
		if (crc) {
			fprintf(stderr, "compact/flush: %s\n", e.msg);
			return 1;
		}
		long missing = 0;
		int64_t c0 = cpu_us();
		int64_t t0 = now_ns();
		for (long i = 0; i < reads; i++) {
			char k[24];
			snprintf(k, sizeof(k), "%016ld", (long)(rnd() % (uint64_t)num));
			struct store_value kv = {k, 16};
			struct found f = {0};
			int64_t a = now_ns();
			if (store_read_partition(t, &kv, 1, NULL, 0, 0, 0, on_row, &f, &e)) {
				fprintf(stderr, "read: %s\n", e.msg);
				return 1;
			}
			lat[i] = (uint32_t)(now_ns() - a);
			missing += f.len != vsize;
		}
		report("readrandom", reads, now_ns() - t0, lat, vsize);
		printf("readrandom   cpu %.2f us/op (all threads)\n",
		       (double)(cpu_us() - c0) / (double)reads);
		if (missing)
			printf("readrandom: %ld keys NOT FOUND\n", missing);
	}
	free(order);
	free(lat);
	free(val);
	store_close(s);
	return 0;
}
