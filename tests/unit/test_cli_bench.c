/*
 * Tests for `colonnade bench`'s parts that need no server: option parsing and
 * its error messages, the open-loop timetable, the op mix, consistency
 * requirements, stats, the ring, /proc lookups and the reports.
 */
#include "cli/lib/bench_int.h"
#include "cli/lib/tokenmap.h"
#include "core/buf.h"
#include "core/cqlproto.h"
#include "core/json.h"
#include "core/murmur3.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- options ---- */

static int parse(struct bench_opts *o, struct cerr *err, bool *help, int n, ...)
{
	char *argv[40];
	va_list ap;
	va_start(ap, n);
	argv[0] = (char *)"bench";
	for (int i = 0; i < n; i++)
		argv[i + 1] = va_arg(ap, char *);
	va_end(ap);
	argv[n + 1] = NULL;
	bench_opts_init(o);
	memset(err, 0, sizeof(*err));
	return bench_opts_parse(o, n + 1, argv, help, err);
}

#define EXPECT_BAD(substr, ...)                                                                    \
	do {                                                                                       \
		struct bench_opts o;                                                               \
		struct cerr err;                                                                   \
		bool help;                                                                         \
		int rc_ = parse(&o, &err, &help, __VA_ARGS__);                                     \
		cr_assert_eq(rc_, COL_EINVAL, "should fail: %s", substr);                          \
		cr_assert(strstr(err.msg, substr), "message '%s' lacks '%s'", err.msg, substr);    \
		bench_opts_release(&o);                                                            \
	} while (0)

Test(bench_opts, full_command_line)
{
	struct bench_opts o;
	struct cerr err;
	bool help;
	int rc = parse(&o, &err, &help, 24, "mixed", "--nodes", "127.0.0.1,127.0.0.2:9043",
	               "--connections", "3", "--inflight", "16", "--ratio", "read=3,write=1",
	               "--duration", "1.5s", "--rate", "5k", "--records", "2M", "--value-size",
	               "1000", "--cl-read", "one", "--cl-write", "ALL", "--replication",
	               "{'class':'SimpleStrategy','replication_factor':3}", "--json");
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_eq(o.workload, BW_MIXED);
	cr_assert_eq(o.n_nodes, 2);
	cr_assert_str_eq(o.nodes[1], "127.0.0.2:9043");
	cr_assert_eq(o.connections, 3);
	cr_assert_eq(o.inflight, 16);
	cr_assert_eq(o.mix.w[BOP_READ], 3);
	cr_assert_eq(o.mix.w[BOP_WRITE], 1);
	cr_assert_eq(o.duration_us, 1500000);
	cr_assert_eq(o.rate, 5000);
	cr_assert_eq(o.records, 2000000);
	cr_assert_eq(o.value_size, 1000);
	cr_assert_eq(o.cl_read, CL_ONE);
	cr_assert_eq(o.cl_write, CL_ALL);
	cr_assert_eq(o.dist, BD_UNIFORM);
	cr_assert(o.json);
	cr_assert_str_eq(o.replication, "{'class':'SimpleStrategy','replication_factor':3}");
	bench_opts_release(&o);
}

Test(bench_opts, workload_defaults)
{
	struct bench_opts o;
	struct cerr err;
	bool help;
	cr_assert_eq(parse(&o, &err, &help, 1, "D"), 0);
	cr_assert_eq(o.dist, BD_LATEST);
	cr_assert_eq(o.mix.w[BOP_READ], 95);
	cr_assert_eq(o.mix.w[BOP_INSERT], 5);
	cr_assert_eq(o.duration_us, 30000000);
	cr_assert_str_eq(o.nodes[0], "127.0.0.1");
	bench_opts_release(&o);
	cr_assert_eq(parse(&o, &err, &help, 3, "--ops", "100", "workloadf"), 0);
	cr_assert_eq(o.workload, BW_YCSB_F);
	cr_assert_eq(o.dist, BD_ZIPFIAN);
	cr_assert_eq(o.mix.w[BOP_RMW], 50);
	cr_assert_eq(o.ops, 100);
	cr_assert_eq(o.duration_us, 0);
	bench_opts_release(&o);
	cr_assert_eq(parse(&o, &err, &help, 3, "write", "--populate", "5000"), 0);
	cr_assert_eq(o.records, 5000, "records default to the populated count");
	cr_assert_eq(o.dist, BD_SEQUENTIAL);
	bench_opts_release(&o);
	cr_assert_eq(parse(&o, &err, &help, 3, "read", "--total-connections", "50"), 0);
	cr_assert_eq(o.total_connections, 50);
	bench_opts_release(&o);
	/* One connection over three nodes is a single client, not an error. */
	cr_assert_eq(
	        parse(&o, &err, &help, 5, "read", "--nodes", "a,b,c", "--total-connections", "1"),
	        0, "%s", err.msg);
	cr_assert_eq(o.total_connections, 1);
	bench_opts_release(&o);
	cr_assert_eq(parse(&o, &err, &help, 2, "read", "--help"), 0);
	cr_assert(help);
	bench_opts_release(&o);
}

Test(bench_opts, errors_name_the_option)
{
	EXPECT_BAD("no workload", 2, "--ops", "5");
	EXPECT_BAD("unknown workload 'E'", 1, "E");
	EXPECT_BAD("--connections: '0'", 3, "read", "--connections", "0");
	EXPECT_BAD("--connections: 'x'", 3, "read", "--connections", "x");
	EXPECT_BAD("--inflight: '99999'", 3, "read", "--inflight", "99999");
	EXPECT_BAD("--duration: '5parsecs'", 3, "read", "--duration", "5parsecs");
	EXPECT_BAD("--duration: '-5s'", 3, "read", "--duration", "-5s");
	EXPECT_BAD("--ops: '0'", 3, "read", "--ops", "0");
	EXPECT_BAD("--rate: 'fast'", 3, "read", "--rate", "fast");
	EXPECT_BAD("give --duration or --ops", 5, "read", "--ops", "10", "--duration", "5s");
	EXPECT_BAD("--ratio applies to the mixed workload only", 3, "A", "--ratio", "read=1");
	EXPECT_BAD("unknown operation 'scan'", 3, "mixed", "--ratio", "read=1,scan=2");
	EXPECT_BAD("every weight is zero", 3, "mixed", "--ratio", "read=0");
	EXPECT_BAD("not name=weight", 3, "mixed", "--ratio", "read");
	EXPECT_BAD("--cl-read: unknown consistency level 'MOST'", 3, "read", "--cl-read", "MOST");
	EXPECT_BAD("only a serial consistency", 3, "read", "--cl-read", "SERIAL");
	EXPECT_BAD("--keyspace: 'drop table'", 3, "read", "--keyspace", "drop table");
	EXPECT_BAD("--replication: 'SimpleStrategy'", 3, "read", "--replication", "SimpleStrategy");
	EXPECT_BAD("--populate 10 is more than --records 5", 5, "write", "--populate", "10",
	           "--records", "5");
	EXPECT_BAD("--nodes: empty host", 3, "read", "--nodes", "a,,b");
	EXPECT_BAD("--nodes: bad port in 'h:99999'", 3, "read", "--nodes", "h:99999");
	EXPECT_BAD("--value-size: '-1'", 3, "read", "--value-size", "-1");
	EXPECT_BAD("--zipf-theta: '1.5'", 3, "read", "--zipf-theta", "1.5");
	EXPECT_BAD("--pids: 'abc'", 3, "read", "--pids", "1,abc");
	EXPECT_BAD("--node-cpu: 'top' is not auto or metrics", 3, "read", "--node-cpu", "top");
	EXPECT_BAD("--admin-port: '70000'", 3, "read", "--admin-port", "70000");
	EXPECT_BAD("--node-cpu metrics needs the nodes' admin port", 5, "read", "--node-cpu",
	           "metrics", "--admin-port", "0");
	EXPECT_BAD("unknown option '--frobnicate'", 2, "read", "--frobnicate");
	EXPECT_BAD("--rate: needs a value", 2, "read", "--rate");
	EXPECT_BAD("unexpected argument 'extra'", 2, "read", "extra");
	EXPECT_BAD("--dist: unknown distribution 'gauss'", 3, "read", "--dist", "gauss");
}

Test(bench_opts, durations_and_counts)
{
	int64_t us;
	cr_assert_eq(bench_parse_duration("60s", &us), 0);
	cr_assert_eq(us, 60000000);
	cr_assert_eq(bench_parse_duration("250ms", &us), 0);
	cr_assert_eq(us, 250000);
	cr_assert_eq(bench_parse_duration("2m", &us), 0);
	cr_assert_eq(us, 120000000);
	cr_assert_eq(bench_parse_duration("1h", &us), 0);
	cr_assert_eq(us, 3600000000LL);
	cr_assert_eq(bench_parse_duration("7", &us), 0);
	cr_assert_eq(us, 7000000);
	cr_assert_eq(bench_parse_duration("", &us), COL_EINVAL);
	cr_assert_eq(bench_parse_duration("s", &us), COL_EINVAL);
	cr_assert_eq(bench_parse_duration("1e300s", &us), COL_EINVAL);
	uint64_t n;
	cr_assert_eq(bench_parse_count("10k", &n), 0);
	cr_assert_eq(n, 10000);
	cr_assert_eq(bench_parse_count("3G", &n), 0);
	cr_assert_eq(n, 3000000000ull);
	cr_assert_eq(bench_parse_count("10kk", &n), COL_EINVAL);
	cr_assert_eq(bench_parse_count("-1", &n), COL_EINVAL);
	cr_assert_eq(bench_parse_count("99999999999999999999", &n), COL_EINVAL);
}

/* ---- timetable ---- */

Test(bench_sched, due_times_follow_the_rate_without_drift)
{
	struct bench_sched s = {.start_us = 1000, .rate = 3};
	cr_assert_eq(bench_sched_due(&s, 0), 1000);
	cr_assert_eq(bench_sched_due(&s, 1), 1000 + 333333);
	cr_assert_eq(bench_sched_due(&s, 2), 1000 + 666666);
	cr_assert_eq(bench_sched_due(&s, 3), 1000 + 1000000);
	/* After a billion ops at 7 ops/s the schedule is still exact. */
	s.rate = 7;
	cr_assert_eq(bench_sched_due(&s, 7000000000ull), 1000 + 1000000000000000LL);
	s.rate = 100000;
	cr_assert_eq(bench_sched_due(&s, 100000), 1000 + 1000000);
}

Test(bench_sched, due_count_is_consistent_with_due)
{
	static const uint64_t rates[] = {1, 3, 7, 1000, 33333, 250000, 1000000, 3000000};
	for (size_t ri = 0; ri < sizeof(rates) / sizeof(rates[0]); ri++) {
		struct bench_sched s = {.start_us = 5000000, .rate = rates[ri]};
		cr_assert_eq(bench_sched_due_count(&s, 4999999), 0);
		uint64_t c0 = bench_sched_due_count(&s, 5000000);
		cr_assert_geq(c0, 1, "op 0 is due at start");
		cr_assert_eq(bench_sched_due(&s, c0 - 1), 5000000);
		cr_assert_gt(bench_sched_due(&s, c0), 5000000);
		struct keyrng r;
		keyrng_seed(&r, rates[ri]);
		for (int k = 0; k < 2000; k++) {
			int64_t now = 5000000 + (int64_t)keyrng_below(&r, 100000000);
			uint64_t c = bench_sched_due_count(&s, now);
			cr_assert_geq(c, 1);
			cr_assert_leq(bench_sched_due(&s, c - 1), now, "rate %llu now %lld",
			              (unsigned long long)rates[ri], (long long)now);
			cr_assert_gt(bench_sched_due(&s, c), now, "rate %llu now %lld",
			             (unsigned long long)rates[ri], (long long)now);
		}
	}
}

Test(bench_sched, a_stall_makes_every_missed_op_late)
{
	/* 1000 ops/s; nothing can be sent during a 2 s stall from t=1s to t=3s.
	 * Latency from the intended start makes the ops due during the stall
	 * wait up to 2 s: this is what --rate reports and a closed loop hides. */
	struct bench_sched s = {.start_us = 0, .rate = 1000};
	uint64_t first = bench_sched_due_count(&s, 1000000);
	uint64_t last = bench_sched_due_count(&s, 3000000);
	cr_assert_eq(last - first, 2000, "ops due during the stall");
	int64_t worst = 3000000 - bench_sched_due(&s, first);
	cr_assert_geq(worst, 1999000);
}

Test(bench_mix, picks_in_proportion)
{
	struct bench_mix m = {{0}};
	m.w[BOP_READ] = 3;
	m.w[BOP_WRITE] = 1;
	cr_assert_eq(bench_mix_pick(&m, 0.0), BOP_READ);
	cr_assert_eq(bench_mix_pick(&m, 0.7499), BOP_READ);
	cr_assert_eq(bench_mix_pick(&m, 0.75), BOP_WRITE);
	cr_assert_eq(bench_mix_pick(&m, 0.999999), BOP_WRITE);
	struct keyrng r;
	keyrng_seed(&r, 8);
	int n[BOP__N] = {0};
	for (int i = 0; i < 100000; i++)
		n[bench_mix_pick(&m, keyrng_double(&r))]++;
	cr_assert(n[BOP_READ] > 74000 && n[BOP_READ] < 76000);
	cr_assert_eq(n[BOP_INSERT] + n[BOP_RMW], 0);
}

Test(bench_cl, replicas_required)
{
	cr_assert_eq(bench_cl_required(CL_ONE, 3), 1);
	cr_assert_eq(bench_cl_required(CL_QUORUM, 3), 2);
	cr_assert_eq(bench_cl_required(CL_QUORUM, 4), 3);
	cr_assert_eq(bench_cl_required(CL_QUORUM, 1), 1);
	cr_assert_eq(bench_cl_required(CL_ALL, 3), 3);
	cr_assert_eq(bench_cl_required(CL_THREE, 2), 3);
	cr_assert_eq(bench_cl_required(CL_ALL, -1), -1);
}

/* ---- stats ---- */

Test(bench_stats, errors_are_counted_and_kept_in_latency)
{
	struct bench_stats s;
	cr_assert_eq(bench_stats_init(&s), 0);
	for (int i = 0; i < 98; i++)
		bench_stats_record(&s, BOP_READ, 1000, -1);
	/* Two timed-out requests keep their (long) latency. */
	bench_stats_record(&s, BOP_READ, 12000000, -1);
	bench_stats_error(&s, BERR_CLIENT_TIMEOUT, 0);
	bench_stats_record(&s, BOP_WRITE, 5000000, -1);
	bench_stats_error(&s, bench_err_of_code(CQL_ERR_WRITE_TIMEOUT), CQL_ERR_WRITE_TIMEOUT);
	bench_stats_error(&s, bench_err_of_code(0x2200), 0x2200);
	bench_stats_error(&s, bench_err_of_code(0x2200), 0x2200);
	cr_assert_eq(bench_stats_total_ops(&s), 100);
	cr_assert_eq(bench_stats_total_errors(&s), 4);
	cr_assert_eq(s.errors[BERR_WRITE_TIMEOUT], 1);
	cr_assert_eq(s.errors[BERR_OTHER_SERVER], 2);
	cr_assert_eq(s.n_codes, 1);
	cr_assert_eq(s.by_code[0].n, 2);
	cr_assert_eq(hdr_max(s.all), 12000000);
	cr_assert_geq(hdr_value_at_percentile(s.all, 99), 4950000);
	const struct bench_point *p = bench_stats_tick(&s, 1.0, 0.5);
	cr_assert_float_eq(p->ops_per_s, 200, 1e-9);
	cr_assert_eq(p->errors, 4);
	cr_assert_eq(p->max, 12000000);
	cr_assert_eq(s.n_series, 1);
	cr_assert_eq(hdr_total(s.interval), 0, "interval resets each tick");
	for (int i = 0; i < 200; i++)
		bench_stats_tick(&s, 2.0 + i, 1);
	cr_assert_eq(s.n_series, 201);
	bench_stats_release(&s);
}

/* ---- ring ---- */

/* A ring of n nodes named 10.0.0.<i>, with the given dc/rack and tokens per node. */
static struct ring *test_ring(size_t n, const char *const *dc, const char *const *rack,
                              const int64_t *const *tokens, const size_t *n_tokens)
{
	struct ring_endpoint eps[16];
	cr_assert(n <= 16);
	for (size_t i = 0; i < n; i++) {
		memset(&eps[i], 0, sizeof(eps[i]));
		eps[i].host_id[0] = (uint8_t)(i + 1);
		snprintf(eps[i].address, sizeof(eps[i].address), "10.0.0.%zu", i);
		snprintf(eps[i].dc, sizeof(eps[i].dc), "%s", dc[i]);
		snprintf(eps[i].rack, sizeof(eps[i].rack), "%s", rack[i]);
		eps[i].tokens = tokens[i];
		eps[i].n_tokens = n_tokens[i];
	}
	struct ring *r = NULL;
	struct cerr e = {0};
	cr_assert_eq(ring_new(eps, n, &r, &e), 0, "%s", e.msg);
	return r;
}

Test(bench_route, replicas_walk_clockwise_distinct)
{
	/* Tokens: node 0 at -100 and 300, node 1 at 0, node 2 at 200. */
	const int64_t t0[] = {300, -100}, t1[] = {0}, t2[] = {200};
	const int64_t *const toks[] = {t0, t1, t2};
	const size_t nt[] = {2, 1, 1};
	const char *const dc[] = {"dc1", "dc1", "dc1"}, *const rack[] = {"r1", "r1", "r1"};
	struct ring *ring = test_ring(3, dc, rack, toks, nt);
	/* Bench node indexes differ from ring indexes: the route must translate. */
	const int map[] = {10, 11, 12};
	struct replication rep = {.cls = REPL_SIMPLE, .rf = 2};
	struct token_route rt;
	cr_assert_eq(token_route_build(&rt, ring, map, &rep), 0);
	size_t n;
	const uint32_t *p = token_route_replicas(&rt, -500, &n); /* first token >= -500 is -100 */
	cr_assert_eq(n, 2);
	cr_assert_eq(p[0], 10);
	cr_assert_eq(p[1], 11);
	p = token_route_replicas(&rt, 1, &n); /* -> 200 (node 2), then 300 (node 0) */
	cr_assert_eq(p[0], 12);
	cr_assert_eq(p[1], 10);
	p = token_route_replicas(&rt, 200, &n); /* exactly a token: that node owns it */
	cr_assert_eq(p[0], 12);
	p = token_route_replicas(&rt, 301, &n); /* past the largest: wraps to -100 */
	cr_assert_eq(p[0], 10);
	cr_assert_eq(p[1], 11);
	/* -> 300 (node 0), -100 (node 0 again, skipped), 0 */
	p = token_route_replicas(&rt, 250, &n);
	cr_assert_eq(p[0], 10);
	cr_assert_eq(p[1], 11);
	token_route_release(&rt);
	/* RF above the node count yields every node once. */
	rep.rf = 5;
	cr_assert_eq(token_route_build(&rt, ring, map, &rep), 0);
	token_route_replicas(&rt, 0, &n);
	cr_assert_eq(n, 3);
	token_route_release(&rt);
	ring_unref(ring);
	/* An empty route routes nowhere (the caller falls back to any node). */
	memset(&rt, 0, sizeof(rt));
	cr_assert_null(token_route_replicas(&rt, 0, &n));
	cr_assert_eq(n, 0);
}

/*
 * Two datacenters, two racks each: NetworkTopologyStrategy placement skips a
 * rack already used and fills per datacenter, which a clockwise walk over
 * distinct owners does not.  The route must give exactly core/ring.h's
 * replicas for every token, and at least one token must differ from the
 * SimpleStrategy walk with the summed RF (or the test proves nothing).
 */
Test(bench_route, network_topology_routing_equals_ring_placement)
{
	enum { NODES = 8, PER = 4 };
	static const char *const dc[NODES] = {"dc1", "dc1", "dc1", "dc1",
	                                      "dc2", "dc2", "dc2", "dc2"};
	static const char *const rack[NODES] = {"r1", "r1", "r2", "r2", "r1", "r1", "r2", "r2"};
	int64_t tok[NODES][PER];
	const int64_t *toks[NODES];
	size_t nt[NODES];
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	for (int i = 0; i < NODES; i++) {
		for (int k = 0; k < PER; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			tok[i][k] = (int64_t)x;
		}
		toks[i] = tok[i];
		nt[i] = PER;
	}
	struct ring *ring = test_ring(NODES, dc, rack, toks, nt);
	int map[NODES];
	for (int i = 0; i < NODES; i++)
		map[i] = NODES - 1 - i;

	const char *keys[] = {"class", "dc1", "dc2"};
	const char *vals[] = {"NetworkTopologyStrategy", "3", "2"};
	struct replication nts, simple = {.cls = REPL_SIMPLE, .rf = 5};
	struct cerr e = {0};
	cr_assert_eq(replication_parse(keys, vals, 3, &nts, &e), 0, "%s", e.msg);
	struct token_route rt, rs;
	cr_assert_eq(token_route_build(&rt, ring, map, &nts), 0);
	cr_assert_eq(token_route_build(&rs, ring, map, &simple), 0);
	int differ = 0;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int64_t t = i < NODES * PER ? tok[i / PER][i % PER] : (int64_t)x;
		uint32_t want[RING_MAX_RF];
		size_t nw = ring_replicas(ring, &nts, t, want, RING_MAX_RF);
		size_t n, ns;
		const uint32_t *got = token_route_replicas(&rt, t, &n);
		cr_assert_eq(n, nw, "token %lld: %zu replicas, ring places %zu", (long long)t, n,
		             nw);
		cr_assert_eq(n, 5);
		for (size_t k = 0; k < n; k++)
			cr_assert_eq(got[k], (uint32_t)map[want[k]],
			             "token %lld replica %zu: bench node %u, ring node %u",
			             (long long)t, k, got[k], want[k]);
		const uint32_t *sg = token_route_replicas(&rs, t, &ns);
		differ += ns != n || memcmp(sg, got, n * sizeof(*got)) != 0;
	}
	cr_expect_gt(differ, 0, "NTS placement never differed from SimpleStrategy RF 5");
	token_route_release(&rt);
	token_route_release(&rs);
	ring_unref(ring);
}

Test(bench_route, token_set_and_replication_cells)
{
	struct buf b;
	buf_init(&b);
	buf_put_u32be(&b, 3);
	const char *toks[] = {"-9223372036854775807", "0", "4611686018427387904"};
	for (int i = 0; i < 3; i++)
		cql_put_bytes(&b, toks[i], (int32_t)strlen(toks[i]));
	int64_t *t;
	size_t n;
	struct cerr err = {0};
	cr_assert_eq(bench_parse_token_set(b.data, (int32_t)b.len, &t, &n, &err), 0, "%s", err.msg);
	cr_assert_eq(n, 3);
	cr_assert_eq(t[0], -9223372036854775807LL);
	cr_assert_eq(t[2], 4611686018427387904LL);
	free(t);
	/* Truncated and non-numeric cells are refused. */
	cr_assert_eq(bench_parse_token_set(b.data, (int32_t)b.len - 3, &t, &n, &err), COL_ECORRUPT);
	buf_reset(&b);
	buf_put_u32be(&b, 1);
	cql_put_bytes(&b, "12x", 3);
	cr_assert_eq(bench_parse_token_set(b.data, (int32_t)b.len, &t, &n, &err), COL_ECORRUPT);
	cr_assert(strstr(err.msg, "'12x' is not a token"), "%s", err.msg);

	buf_reset(&b);
	buf_put_u32be(&b, 2);
	cql_put_bytes(&b, "class", 5);
	cql_put_bytes(&b, "org.apache.cassandra.locator.SimpleStrategy", 43);
	cql_put_bytes(&b, "replication_factor", 18);
	cql_put_bytes(&b, "3", 1);
	struct replication rep;
	cr_assert_eq(bench_parse_replication(b.data, (int32_t)b.len, &rep, &err), 0, "%s", err.msg);
	cr_assert_eq(rep.cls, REPL_SIMPLE);
	cr_assert_eq(replication_total_rf(&rep), 3);
	buf_reset(&b);
	buf_put_u32be(&b, 3);
	cql_put_bytes(&b, "class", 5);
	cql_put_bytes(&b, "NetworkTopologyStrategy", 23);
	cql_put_bytes(&b, "dc1", 3);
	cql_put_bytes(&b, "3", 1);
	cql_put_bytes(&b, "dc2", 3);
	cql_put_bytes(&b, "2", 1);
	cr_assert_eq(bench_parse_replication(b.data, (int32_t)b.len, &rep, &err), 0, "%s", err.msg);
	cr_assert_eq(rep.cls, REPL_NETWORK_TOPOLOGY);
	cr_assert_eq(replication_total_rf(&rep), 5);
	cr_assert_eq(replication_dc_rf(&rep, "dc2"), 2);
	cr_assert_eq(bench_parse_replication(b.data, 3, &rep, &err), COL_ECORRUPT);
	/* A well-formed map the placement refuses carries the parser's reason. */
	buf_reset(&b);
	buf_put_u32be(&b, 2);
	cql_put_bytes(&b, "class", 5);
	cql_put_bytes(&b, "NetworkTopologyStrategy", 23);
	cql_put_bytes(&b, "dc1", 3);
	cql_put_bytes(&b, "three", 5);
	cr_assert_neq(bench_parse_replication(b.data, (int32_t)b.len, &rep, &err), 0);
	cr_assert(strstr(err.msg, "replication: ") && strstr(err.msg, "dc1"), "%s", err.msg);
	buf_release(&b);
}

Test(bench_route, routing_token_is_murmur3_of_the_key_bytes)
{
	/* The key blob is the 8-byte big-endian key number; its token must be
	 * what the server computes for the partition key. */
	uint8_t k[8];
	be64_store(k, 42);
	int64_t a = murmur3_token(k, 8);
	be64_store(k, 43);
	cr_assert_neq(a, murmur3_token(k, 8));
}

/* ---- /proc ---- */

Test(bench_proc, finds_our_own_listener_and_samples_us)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	const char *net = getenv("COLONNADE_TEST_NET");
	char ip[32];
	snprintf(ip, sizeof(ip), "%s.77", net ? net : "127.0.0");
	inet_pton(AF_INET, ip, &a.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(fd, 1), 0);
	socklen_t len = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &len);
	uint16_t port = ntohs(a.sin_port);
	pid_t pid = 0;
	cr_assert_eq(bench_proc_find_listener(ip, port, &pid), 0);
	cr_assert_eq(pid, getpid());
	/* Another address on the same port is not us. */
	cr_assert_eq(bench_proc_find_listener("127.0.0.254", port, &pid), COL_ENOTFOUND);
	close(fd);
	cr_assert_eq(bench_proc_find_listener(ip, port, &pid), COL_ENOTFOUND);

	struct bench_procstat ps;
	cr_assert_eq(bench_proc_sample(getpid(), &ps), 0);
	cr_assert(ps.alive);
	cr_assert_gt(ps.rss_kb, 0);
	cr_assert_geq(ps.hwm_kb, ps.rss_kb);
	cr_assert_eq(bench_proc_sample(999999999, &ps), COL_ENOTFOUND);

	struct bench_nodeproc np = {.pid = getpid()};
	bench_nodeproc_start(&np);
	volatile double x = 0; /* burn some CPU the sampler must see */
	for (int i = 0; i < 30000000; i++)
		x += i * 0.5;
	bench_nodeproc_end(&np);
	cr_assert_gt(x, 0);
	cr_assert_geq(np.cpu_end_s, np.cpu_start_s);
	cr_assert_gt(np.rss_peak_kb, 0);
	cr_assert(!np.gone);
}

/* ---- reports ---- */

static char *capture(void (*fn)(FILE *, const struct bench_runinfo *, const struct bench_stats *),
                     const struct bench_runinfo *ri, const struct bench_stats *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	fn(f, ri, s);
	fclose(f);
	return text;
}

Test(bench_report, summary_and_json_show_the_figures)
{
	struct bench_opts o;
	struct cerr err;
	bool help;
	cr_assert_eq(parse(&o, &err, &help, 3, "A", "--rate", "1000"), 0);
	struct bench_stats s;
	cr_assert_eq(bench_stats_init(&s), 0);
	for (int i = 0; i < 999; i++) {
		bench_stats_record(&s, i % 2 ? BOP_READ : BOP_WRITE, 400, 300);
		hdr_record(s.ok_lat, 400);
		s.ok++;
	}
	bench_stats_record(&s, BOP_READ, 2000000, 1000); /* a 2 s stall, and it failed */
	bench_stats_error(&s, BERR_UNAVAILABLE, 0);
	struct bench_runinfo ri = {.o = &o,
	                           .n_conns = 3,
	                           .rf = 3,
	                           .routed = true,
	                           .elapsed_s = 1.0,
	                           .n_procs = 3,
	                           .max_conn_inflight = 17};
	strcpy(ri.nodes_desc, "127.0.0.1:9042");
	strcpy(ri.procs[0].label, "127.0.0.1:9042");
	ri.procs[0].pid = 1234;
	ri.procs[0].cpu_start_s = 1;
	ri.procs[0].cpu_end_s = 1.5;
	ri.procs[0].rss_peak_kb = 2048;
	strcpy(ri.procs[1].label, "127.0.0.2:9042");
	strcpy(ri.procs[2].label, "10.0.0.3:9042"); /* another machine: its /metrics */
	ri.procs[2].via_metrics = true;
	ri.procs[2].admin_port = 7199;
	ri.procs[2].cpu_start_s = 10;
	ri.procs[2].cpu_end_s = 10.25;

	char *text = capture(bench_report_summary, &ri, &s);
	cr_assert(strstr(text, "OPEN LOOP at a target of 1000 ops/s"), "%s", text);
	cr_assert(strstr(text, "1000 ops, 1000 ops/s, 999 ok, 1 errors"), "%s", text);
	cr_assert(strstr(text, "Unavailable 1"), "%s", text);
	cr_assert(strstr(text, "2000.000"), "max shows the stall: %s", text);
	cr_assert(strstr(text, "pid 1234"), "%s", text);
	cr_assert(strstr(text, "not found on this machine"), "%s", text);
	/* 0.5 s and 0.25 s of node CPU over 1000 ops. */
	cr_assert(strstr(text, "500.0 µs/op"), "%s", text);
	cr_assert(strstr(text, "250.0 µs/op"), "%s", text);
	cr_assert(strstr(text, "all 2 measured nodes: CPU 0.8 s, 750.0 µs per operation"), "%s",
	          text);
	cr_assert(strstr(text, "up to 17 requests were in"), "%s", text);
	cr_assert(strstr(text, "(ok only)             999"), "%s", text);
	free(text);

	text = capture(bench_report_json, &ri, &s);
	struct json *j = NULL;
	struct cerr jerr = {0};
	cr_assert_eq(json_parse(text, strlen(text), &j, &jerr), 0, "%s: %s", jerr.msg, text);
	cr_expect_str_eq(json_str(json_get(j, "loop"), ""), "open");
	cr_expect_eq(json_int(json_get(j, "ops"), -1), 1000);
	cr_expect_eq(json_int(json_get(j, "ok"), -1), 999);
	cr_expect_eq(json_int(json_get(json_get(j, "errors"), "unavailable"), -1), 1);
	cr_expect(strstr(text, "\"max\":2000.000"), "max shows the stall: %s", text);
	cr_expect_eq(json_num(json_get(json_get(j, "ok_latency_ms"), "max"), -1), 0.4,
	             "the failed op is not in the accepted latency: %s", text);
	const struct json *procs = json_get(j, "node_processes");
	cr_assert_eq(json_len(procs), 3, "%s", text);
	cr_expect_eq(json_num(json_get(json_at(procs, 0), "cpu_s"), -1), 0.5);
	cr_expect_eq(json_num(json_get(json_at(procs, 0), "cpu_us_per_op"), -1), 500);
	cr_expect_str_eq(json_str(json_get(json_at(procs, 0), "source"), ""), "proc");
	cr_expect_eq(json_len(json_at(procs, 1)), 2, "a node not found has a null pid: %s", text);
	cr_expect_eq(json_type(json_get(json_at(procs, 1), "pid")), JSON_NULL);
	cr_expect_str_eq(json_str(json_get(json_at(procs, 2), "source"), ""), "metrics");
	cr_expect_eq(json_num(json_get(json_at(procs, 2), "cpu_us_per_op"), -1), 250);
	cr_expect_eq(json_num(json_get(j, "node_cpu_us_per_op"), -1), 750);
	cr_expect_eq(json_int(json_get(j, "nodes_measured"), -1), 2);
	cr_expect_eq(json_int(json_get(j, "max_inflight_per_connection"), -1), 17);
	json_free(j);
	free(text);
	bench_stats_release(&s);
	bench_opts_release(&o);

	cr_assert_eq(parse(&o, &err, &help, 1, "write"), 0);
	cr_assert_eq(bench_stats_init(&s), 0);
	ri.o = &o;
	text = capture(bench_report_summary, &ri, &s);
	cr_assert(strstr(text, "CLOSED LOOP"), "closed loop must say so: %s", text);
	free(text);
	bench_stats_release(&s);
	bench_opts_release(&o);
}

Test(bench_proc, prometheus_series_by_name)
{
	const char *text = "# HELP process_cpu_seconds_total CPU.\n"
	                   "# TYPE process_cpu_seconds_total counter\n"
	                   "process_cpu_seconds_total_extra 9\n"
	                   "process_cpu_seconds_total 12.5\n"
	                   "colonnade_x{peer=\"a\"} 3\n"
	                   "process_resident_memory_bytes 1.048576e+06\n"
	                   "broken_value abc\n";
	double v = -1;
	cr_assert_eq(bench_parse_metric(text, "process_cpu_seconds_total", &v), 0);
	cr_assert_eq(v, 12.5, "the longer name that shares its prefix is not it");
	cr_assert_eq(bench_parse_metric(text, "process_resident_memory_bytes", &v), 0);
	cr_assert_eq(v, 1048576);
	cr_assert_eq(bench_parse_metric(text, "colonnade_x", &v), COL_ENOTFOUND, "labelled");
	cr_assert_eq(bench_parse_metric(text, "broken_value", &v), COL_ENOTFOUND);
	cr_assert_eq(bench_parse_metric(text, "absent", &v), COL_ENOTFOUND);
	cr_assert_eq(bench_parse_metric("", "absent", &v), COL_ENOTFOUND);
}

Test(bench_report, hgrm_file_and_plot)
{
	struct bench_stats s;
	cr_assert_eq(bench_stats_init(&s), 0);
	for (int i = 1; i <= 1000; i++)
		bench_stats_record(&s, BOP_READ, i * 10, -1);
	for (int t = 1; t <= 5; t++) {
		for (int i = 1; i <= 100; i++)
			bench_stats_record(&s, BOP_READ, i * 10 * t, -1);
		bench_stats_tick(&s, t, 1);
	}
	char dir[] = "/tmp/bench-test-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/out.hgrm", dir);
	struct cerr err = {0};
	cr_assert_eq(bench_report_hgrm(path, &s, &err), 0, "%s", err.msg);
	FILE *f = fopen(path, "r");
	char line[200];
	cr_assert_not_null(fgets(line, sizeof(line), f));
	cr_assert(strstr(line, "Value"));
	fclose(f);
	cr_assert_eq(bench_report_hgrm("/nonexistent-dir/x.hgrm", &s, &err), COL_EIO);
	cr_assert(strstr(err.msg, "/nonexistent-dir/x.hgrm"), "%s", err.msg);
	unlink(path);

	if (access("/usr/bin/gnuplot", X_OK) == 0) {
		struct bench_opts o;
		bench_opts_init(&o);
		struct bench_runinfo ri = {.o = &o};
		snprintf(path, sizeof(path), "%s/out.png", dir);
		cr_assert_eq(bench_report_plot(path, &ri, &s, &err), 0, "%s", err.msg);
		f = fopen(path, "rb");
		cr_assert_not_null(f);
		unsigned char magic[8];
		cr_assert_eq(fread(magic, 1, 8, f), 8);
		cr_assert(!memcmp(magic, "\x89PNG", 4), "not a PNG");
		fclose(f);
		unlink(path);
		bench_opts_release(&o);
	}
	rmdir(dir);
	bench_stats_release(&s);
}
