/*
 * coordinator_helper_spbench — in-process benchmark of the replicated write
 * and read paths: 3 nodes (store + messaging + verbs + storage proxy each) on
 * ONE libev loop and thread, RF=3, 100-byte values, a window of requests in
 * flight.  Prints ops/s per level; never passes or fails on a time.  One
 * thread does the work of all three nodes, so the figures are a floor for
 * what three processes reach.
 *
 *   coordinator_helper_spbench [ops per level = 100000] [in flight = 50]
 *   (addresses from COLONNADE_TEST_NET, default 127.0.0 -> .1 .. .3)
 */
#include "coordinator/replication/storage_proxy.h"

#include "coordinator/replication/verbs.h"
#include "core/clock.h"
#include "core/cqlproto.h"
#include "core/log.h"

#include <ev.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NODES 3

struct bnode {
	char dir[64];
	struct store *store;
	struct store_table *tbl;
	struct messaging *msg;
	struct verbs *verbs;
	struct storage_proxy *sp;
	struct net_addr addr;
};

static struct bnode B[NODES];
static struct ev_loop *L;
static struct ring *RING;
static struct replication REP;
static long total, issued, finished, failed;
static int window;
static uint16_t CL;
static bool READS;
static char VALUE[100];

static int addr_fn(void *ctx, const struct ring *r, size_t idx, struct net_addr *out)
{
	(void)ctx;
	(void)r;
	*out = B[idx].addr;
	return 0;
}

static void die(const char *what, const struct cerr *e)
{
	fprintf(stderr, "spbench: %s: %s\n", what, e ? e->msg : "");
	exit(1);
}

static void issue(void);
static ev_prepare PREP;
static ev_idle SPIN;    /* keeps the loop from blocking while replacements wait */
static long free_slots; /* completions whose replacement is not issued yet */
static bool in_issue;   /* inside issue(): completions are deferred */

/* Replacements are issued once per loop iteration (before it polls), not from
 * inside on_done: a request can complete before storage_proxy_* returns (a
 * local ack meets ONE), and issuing from there would recurse once per request. */
static void prep_cb(struct ev_loop *l, ev_prepare *w, int revents)
{
	(void)w;
	(void)revents;
	/* at most one window per iteration, so replies and flushes interleave even
	 * when every request completes at once (ONE on a replica) */
	in_issue = true;
	for (int k = 0; k < window && free_slots > 0 && issued < total; k++) {
		free_slots--;
		issue();
	}
	in_issue = false;
	if (free_slots > 0 && issued < total)
		ev_idle_start(l, &SPIN);
	else
		ev_idle_stop(l, &SPIN);
}

static void spin_cb(struct ev_loop *l, ev_idle *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
}

static void on_done(void *ctx, const struct cerr *res)
{
	(void)ctx;
	finished++;
	if (res->code != 0 && failed++ == 0)
		fprintf(stderr, "spbench: first failure: %s\n", res->msg);
	if (issued < total) {
		if (in_issue) {
			free_slots++; /* completed inside issue(): the prepare watcher replaces it
			               */
		} else {
			in_issue = true;
			issue();
			in_issue = false;
		}
	} else if (finished == total) {
		ev_break(L, EVBREAK_ALL);
	}
}

static int on_row(void *ctx, const struct store_partition *p, const struct store_row *r)
{
	(void)ctx;
	(void)p;
	(void)r;
	return 0;
}

static void issue(void)
{
	long i = issued++;
	size_t coord = (size_t)i % NODES;
	char key[32];
	snprintf(key, sizeof(key), "user%ld", i % 100000);
	struct store_value pk = {key, strlen(key)};
	if (READS) {
		struct partition_read rd = {.table = B[coord].tbl, .pk = &pk, .n_pk = 1};
		storage_proxy_read_partition(B[coord].sp, RING, &REP, CL, &rd, on_row, NULL,
		                             on_done, NULL);
		return;
	}
	struct store_mutation m;
	struct cerr e = {0};
	if (store_mutation_init(&m, B[coord].tbl, &pk, 1, 0, &e))
		die("mutation", &e);
	store_mutation_set_cell(&m, NULL, 0, 1, NULL, VALUE, sizeof(VALUE), clock_wall_us(), 0);
	struct store_mutation *ms[1] = {&m};
	storage_proxy_write(B[coord].sp, RING, &REP, CL, ms, 1, CERR_WRITE_SIMPLE, on_done, NULL);
	store_mutation_release(&m);
}

static void run(const char *what, uint16_t cl, bool reads, long n)
{
	CL = cl;
	READS = reads;
	total = n;
	issued = finished = failed = 0;
	free_slots = window;
	ev_now_update(L);
	int64_t t0 = clock_mono_us();
	ev_idle_init(&SPIN, spin_cb);
	ev_prepare_init(&PREP, prep_cb);
	ev_prepare_start(L, &PREP);
	prep_cb(L, &PREP, 0);
	if (finished < total)
		ev_run(L, 0);
	ev_prepare_stop(L, &PREP);
	ev_idle_stop(L, &SPIN);
	double s = (double)(clock_mono_us() - t0) / 1e6;
	printf("%-6s %-7s %8ld ops  %6.2f s  %9.0f ops/s  failed %ld\n", what,
	       cql_consistency_name(cl), n, s, (double)n / s, failed);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	window = argc > 2 ? atoi(argv[2]) : 50;
	memset(VALUE, 'x', sizeof(VALUE));
	log_set_fd(open("/dev/null", O_WRONLY));
	L = ev_loop_new(EVFLAG_AUTO);
	struct net_loop *nl;
	if (net_loop_new(L, &nl))
		die("net loop", NULL);
	const char *base = getenv("COLONNADE_TEST_NET");
	static const struct cqltype *pkt[1];
	pkt[0] = cqltype_simple(CQLTYPE_VARCHAR);
	static struct store_column cols[1];
	cols[0] = (struct store_column){.id = 1, .type = cqltype_simple(CQLTYPE_BLOB)};
	struct ring_endpoint eps[NODES];
	memset(eps, 0, sizeof(eps));
	static int64_t toks[NODES][16];
	uint64_t step = UINT64_MAX / (16 * NODES);
	struct cerr e = {0};
	for (size_t i = 0; i < NODES; i++) {
		struct bnode *b = &B[i];
		snprintf(b->dir, sizeof(b->dir), "/tmp/colonnade-spbench-XXXXXX");
		if (!mkdtemp(b->dir))
			die("mkdtemp", NULL);
		struct store_options o;
		store_options_init(&o);
		o.data_dir = b->dir;
		if (store_open(&o, &b->store, &e))
			die("store", &e);
		struct store_table_desc d = {.keyspace = "bench",
		                             .name = "t",
		                             .n_pk = 1,
		                             .pk_types = pkt,
		                             .n_cols = 1,
		                             .cols = cols,
		                             .gc_grace_seconds = 864000};
		memset(d.id, 0x5b, 16);
		if (store_table_open(b->store, &d, &b->tbl, &e))
			die("table", &e);
		char host[64];
		snprintf(host, sizeof(host), "%s.%zu", base && *base ? base : "127.0.0", i + 1);
		struct messaging_config mc = {0};
		mc.cluster_name = "spbench";
		for (int k = 0; k < HOST_ID_LEN; k++)
			mc.host_id.b[k] = (uint8_t)(i * 16 + k + 1);
		if (net_addr_parse(host, 0, &mc.listen, &e))
			die("address", &e);
		if (messaging_new(nl, &mc, &b->msg, &e))
			die("messaging", &e);
		b->addr = *messaging_listen_addr(b->msg);
		struct verbs_config vc = {.msg = b->msg, .store = b->store};
		if (verbs_new(&vc, &b->verbs, &e))
			die("verbs", &e);
		struct storage_proxy_config sc = {
		        .msg = b->msg, .store = b->store, .addr_of = addr_fn};
		if (storage_proxy_new(&sc, &b->sp, &e))
			die("proxy", &e);
		for (size_t j = 0; j < 16; j++)
			toks[i][j] =
			        (int64_t)((uint64_t)INT64_MIN + step / 2 + (j * NODES + i) * step);
		memcpy(eps[i].host_id, mc.host_id.b, 16);
		snprintf(eps[i].address, sizeof(eps[i].address), "%s", host);
		snprintf(eps[i].dc, sizeof(eps[i].dc), "dc1");
		snprintf(eps[i].rack, sizeof(eps[i].rack), "rack1");
		eps[i].tokens = toks[i];
		eps[i].n_tokens = 16;
	}
	if (ring_new(eps, NODES, &RING, &e))
		die("ring", &e);
	const char *rk[] = {"class", "replication_factor"}, *rv[] = {"SimpleStrategy", "3"};
	if (replication_parse(rk, rv, 2, &REP, &e))
		die("replication", &e);
	printf("spbench: 3 nodes in one thread, RF=3, 100-byte values, %d in flight\n", window);
	run("warmup", CL_ONE, false, n / 10 + 1);
	run("write", CL_ONE, false, n);
	run("write", CL_QUORUM, false, n);
	run("write", CL_ALL, false, n);
	run("read", CL_ONE, true, n);
	run("read", CL_QUORUM, true, n);
	run("read", CL_ALL, true, n);
	for (size_t i = 0; i < NODES; i++)
		messaging_free(B[i].msg);
	for (size_t i = 0; i < NODES; i++) {
		storage_proxy_free(B[i].sp);
		verbs_free(B[i].verbs);
		store_close(B[i].store);
		char cmd[1024];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", B[i].dir);
		if (system(cmd) != 0)
			fprintf(stderr, "spbench: could not remove %s\n", B[i].dir);
	}
	ring_unref(RING);
	net_loop_free(nl);
	ev_loop_destroy(L);
	return 0;
}
