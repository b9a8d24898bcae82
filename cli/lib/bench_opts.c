/*
 * bench_opts.c — `colonnade bench` command line: parsing and validation only.
 */
#include "cli/lib/bench_int.h"

#include "core/cqlproto.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const op_names[BOP__N] = {"read", "write", "insert", "rmw"};
const char *bench_op_name(enum bench_op op)
{
	return (unsigned)op < BOP__N ? op_names[op] : "?";
}

static const char *const workload_names[BW__N] = {"write", "read", "mixed", "A",
                                                  "B",     "C",    "D",     "F"};
const char *bench_workload_name(enum bench_workload w)
{
	return (unsigned)w < BW__N ? workload_names[w] : "?";
}

static const char *const dist_names[] = {"uniform", "zipfian", "latest", "sequential"};
const char *bench_dist_name(enum bench_dist d)
{
	return (unsigned)d < 4 ? dist_names[d] : "?";
}

void bench_opts_init(struct bench_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->workload = BW_WRITE;
	o->dist = BD_SEQUENTIAL;
	o->zipf_theta = KEYDIST_DEFAULT_THETA;
	o->port = 9042;
	o->admin_port = 7199;
	o->connections = 4;
	o->inflight = 1;
	o->token_aware = true;
	o->discover = true;
	o->records = 1000000;
	o->value_size = 100;
	o->duration_us = 30 * 1000000LL;
	o->timeout_us = 12 * 1000000LL; /* the drivers' default request timeout */
	o->cl_read = CL_QUORUM;
	o->cl_write = CL_QUORUM;
	strcpy(o->keyspace, "colonnade_bench");
	strcpy(o->table, "standard1");
	o->create_schema = true;
	o->seed = 1;
}

void bench_opts_release(struct bench_opts *o)
{
	for (int i = 0; i < o->n_nodes; i++)
		free(o->nodes[i]);
	free(o->replication);
	free(o->hdr_out);
	free(o->plot);
	memset(o, 0, sizeof(*o));
}

void bench_usage(FILE *f)
{
	fputs("usage: colonnade bench WORKLOAD [options]\n"
	      "\n"
	      "workloads:\n"
	      "  write            upserts (keys sequential over --records unless --dist)\n"
	      "  read             reads by key (uniform)\n"
	      "  mixed            reads and writes, --ratio read=3,write=1 (uniform)\n"
	      "  A | B | C        YCSB: 50/50 read/update, 95/5 read/update, read only (zipfian)\n"
	      "  D                YCSB: 95% read latest, 5% insert new keys (latest)\n"
	      "  F                YCSB: 50% read, 50% read-modify-write (zipfian)\n"
	      "\n"
	      "cluster:\n"
	      "  --nodes LIST           contact points host[:port],... [127.0.0.1]\n"
	      "  --port N               native port for hosts given without one [9042]\n"
	      "  --connections N        connections per node [4]\n"
	      "  --total-connections N  spread N connections over the nodes instead\n"
	      "  --inflight N           requests in flight per connection [1]\n"
	      "  --no-token-aware       round-robin instead of routing to a replica of the key\n"
	      "  --no-discover          use only the contact points, not their peers\n"
	      "load:\n"
	      "  --duration T           run time: 60s, 500ms, 2m [30s]\n"
	      "  --ops N                run N operations instead of a duration (10k, 1M ok)\n"
	      "  --rate N               target ops/s: open loop on a fixed timetable,\n"
	      "                         latency from the scheduled start [closed loop]\n"
	      "  --records N            key space [0, N) [1M]\n"
	      "  --populate N           write keys [0, N) first (closed loop, progress shown)\n"
	      "  --value-size N         value bytes [100]\n"
	      "  --ratio R              mixed only: read=3,write=1 (also insert, rmw)\n"
	      "  --dist D               uniform | zipfian | latest | sequential\n"
	      "  --zipf-theta X         Zipfian constant [0.99]\n"
	      "  --cl-read L, --cl-write L, --cl L   consistency levels [QUORUM]\n"
	      "  --timeout T            client-side request timeout [12s]\n"
	      "  --throw-on-overload    ask the nodes to answer Overloaded past their admission\n"
	      "                         limit instead of pausing the connection\n"
	      "  --seed N               random seed [1]\n"
	      "schema:\n"
	      "  --keyspace K --table T [colonnade_bench.standard1]\n"
	      "  --replication MAP      e.g. "
	      "\"{'class':'SimpleStrategy','replication_factor':3}\"\n"
	      "                         [SimpleStrategy, RF = min(3, nodes)]\n"
	      "  --no-schema            do not create the keyspace and table\n"
	      "  --drop                 drop the keyspace first\n"
	      "output:\n"
	      "  --json                 summary as JSON on stdout (progress goes to stderr)\n"
	      "  --quiet                no progress lines\n"
	      "  --hdr-out FILE         latency distribution in HdrHistogram .hgrm form (ms)\n"
	      "  --plot FILE.png        latency over time and percentile curve (gnuplot)\n"
	      "  --pids LIST            node pids to report CPU/memory for (else found by\n"
	      "                         the nodes' listening addresses)\n"
	      "  --admin-port N         nodes not on this machine: CPU and peak memory from\n"
	      "                         their /metrics on this port [7199]; 0 = do not ask\n"
	      "  --node-cpu auto|metrics  auto: /proc for nodes on this machine, /metrics for\n"
	      "                         the others; metrics: /metrics for every node [auto]\n",
	      f);
}

/* The decimal digits that start `s` (no sign, no leading space); *end
 * points past them. */
static int parse_leading_u64(const char *s, unsigned long long *v, char **end)
{
	if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
		return COL_EINVAL;
	errno = 0;
	*v = strtoull(s, end, 10);
	if (errno || *end == s)
		return COL_EINVAL;
	return COL_OK;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	if (parse_leading_u64(s, &v, &end) || *end)
		return COL_EINVAL;
	*out = v;
	return COL_OK;
}

int bench_parse_count(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	if (parse_leading_u64(s, &v, &end))
		return COL_EINVAL;
	uint64_t mul = 1;
	if (*end) {
		switch (*end) {
		case 'k':
		case 'K': mul = 1000; break;
		case 'm':
		case 'M': mul = 1000000; break;
		case 'g':
		case 'G': mul = 1000000000; break;
		default: return COL_EINVAL;
		}
		if (end[1])
			return COL_EINVAL;
	}
	if (v > UINT64_MAX / mul)
		return COL_EINVAL;
	*out = v * mul;
	return COL_OK;
}

int bench_parse_duration(const char *s, int64_t *us)
{
	if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
		return COL_EINVAL;
	errno = 0;
	char *end;
	double v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return COL_EINVAL;
	double mul;
	if (!*end || !strcmp(end, "s"))
		mul = 1e6;
	else if (!strcmp(end, "ms"))
		mul = 1e3;
	else if (!strcmp(end, "us"))
		mul = 1;
	else if (!strcmp(end, "m"))
		mul = 60e6;
	else if (!strcmp(end, "h"))
		mul = 3600e6;
	else
		return COL_EINVAL;
	double r = v * mul;
	if (r > 1e15) /* about 31 years */
		return COL_EINVAL;
	*us = (int64_t)llround(r);
	return COL_OK;
}

int bench_parse_ratio(const char *s, struct bench_mix *mix, struct cerr *err)
{
	struct bench_mix m = {{0}};
	const char *p = s;
	if (!*p)
		return cerr_set(err, COL_EINVAL, "--ratio: empty (want e.g. read=3,write=1)");
	while (*p) {
		const char *eq = strchr(p, '=');
		const char *comma = strchr(p, ',');
		if (!comma)
			comma = p + strlen(p);
		if (!eq || eq > comma)
			return cerr_set(err, COL_EINVAL,
			                "--ratio: '%.*s' is not name=weight (want e.g. "
			                "read=3,write=1)",
			                (int)(comma - p), p);
		size_t nlen = (size_t)(eq - p);
		int op = -1;
		if (nlen == 4 && !strncasecmp(p, "read", 4))
			op = BOP_READ;
		else if ((nlen == 5 && !strncasecmp(p, "write", 5)) ||
		         (nlen == 6 && !strncasecmp(p, "update", 6)))
			op = BOP_WRITE;
		else if (nlen == 6 && !strncasecmp(p, "insert", 6))
			op = BOP_INSERT;
		else if (nlen == 3 && !strncasecmp(p, "rmw", 3))
			op = BOP_RMW;
		if (op < 0)
			return cerr_set(err, COL_EINVAL,
			                "--ratio: unknown operation '%.*s' (read, write, "
			                "update, insert, rmw)",
			                (int)nlen, p);
		char num[32];
		size_t vlen = (size_t)(comma - eq - 1);
		uint64_t w;
		if (vlen == 0 || vlen >= sizeof(num))
			return cerr_set(err, COL_EINVAL, "--ratio: '%.*s' has no weight",
			                (int)(comma - p), p);
		memcpy(num, eq + 1, vlen);
		num[vlen] = 0;
		if (parse_u64(num, &w) || w > 1000000)
			return cerr_set(err, COL_EINVAL,
			                "--ratio: weight '%s' of %.*s is not an integer in "
			                "0..1000000",
			                num, (int)nlen, p);
		m.w[op] += (unsigned)w;
		p = *comma ? comma + 1 : comma;
	}
	unsigned sum = 0;
	for (int i = 0; i < BOP__N; i++)
		sum += m.w[i];
	if (!sum)
		return cerr_set(err, COL_EINVAL, "--ratio: every weight is zero");
	*mix = m;
	return COL_OK;
}

static int parse_workload(const char *s, enum bench_workload *w)
{
	static const struct {
		const char *name;
		enum bench_workload w;
	} names[] = {
	        {"write", BW_WRITE},      {"insert", BW_WRITE}, {"read", BW_READ},
	        {"mixed", BW_MIXED},      {"a", BW_YCSB_A},     {"ycsb-a", BW_YCSB_A},
	        {"workloada", BW_YCSB_A}, {"b", BW_YCSB_B},     {"ycsb-b", BW_YCSB_B},
	        {"workloadb", BW_YCSB_B}, {"c", BW_YCSB_C},     {"ycsb-c", BW_YCSB_C},
	        {"workloadc", BW_YCSB_C}, {"d", BW_YCSB_D},     {"ycsb-d", BW_YCSB_D},
	        {"workloadd", BW_YCSB_D}, {"f", BW_YCSB_F},     {"ycsb-f", BW_YCSB_F},
	        {"workloadf", BW_YCSB_F},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i].name)) {
			*w = names[i].w;
			return COL_OK;
		}
	return COL_EINVAL;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > BENCH_NAME_MAX || !isalpha((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

static int int_opt(const char *name, const char *arg, long lo, long hi, int *out, struct cerr *err)
{
	uint64_t v;
	if (parse_u64(arg, &v) || v < (uint64_t)lo || v > (uint64_t)hi)
		return cerr_set(err, COL_EINVAL, "%s: '%s' is not an integer in %ld..%ld", name,
		                arg, lo, hi);
	*out = (int)v;
	return COL_OK;
}

static int split_nodes(struct bench_opts *o, const char *arg, struct cerr *err)
{
	for (int i = 0; i < o->n_nodes; i++)
		free(o->nodes[i]);
	o->n_nodes = 0;
	const char *p = arg;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == 0)
			return cerr_set(err, COL_EINVAL, "--nodes: empty host in '%s'", arg);
		if (o->n_nodes == BENCH_MAX_NODES)
			return cerr_set(err, COL_EINVAL, "--nodes: more than %d contact points",
			                BENCH_MAX_NODES);
		if (len > 255)
			return cerr_set(err, COL_EINVAL, "--nodes: host '%.40s...' is too long", p);
		char *h = strndup(p, len);
		if (!h)
			return cerr_set(err, COL_ENOMEM, "out of memory");
		o->nodes[o->n_nodes++] = h;
		char *colon = strchr(h, ':');
		if (colon && strchr(colon + 1, ':') == NULL) {
			uint64_t port;
			if (parse_u64(colon + 1, &port) || port < 1 || port > 65535)
				return cerr_set(err, COL_EINVAL, "--nodes: bad port in '%s'", h);
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	return COL_OK;
}

static int split_pids(struct bench_opts *o, const char *arg, struct cerr *err)
{
	o->n_pids = 0;
	char *copy = strdup(arg), *save = NULL;
	if (!copy)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	int rc = COL_OK;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		if (parse_u64(t, &v) || v < 1 || v > INT_MAX) {
			rc = cerr_set(err, COL_EINVAL, "--pids: '%s' is not a process id", t);
			break;
		}
		if (o->n_pids == BENCH_MAX_PIDS) {
			rc = cerr_set(err, COL_EINVAL, "--pids: more than %d", BENCH_MAX_PIDS);
			break;
		}
		o->pids[o->n_pids++] = (pid_t)v;
	}
	free(copy);
	if (!rc && !o->n_pids)
		rc = cerr_set(err, COL_EINVAL, "--pids: no process id given");
	return rc;
}

enum {
	OPT_NODES = 256,
	OPT_PORT,
	OPT_CONNECTIONS,
	OPT_TOTAL_CONNECTIONS,
	OPT_INFLIGHT,
	OPT_NO_TOKEN_AWARE,
	OPT_NO_DISCOVER,
	OPT_DURATION,
	OPT_OPS,
	OPT_RATE,
	OPT_RECORDS,
	OPT_POPULATE,
	OPT_VALUE_SIZE,
	OPT_RATIO,
	OPT_DIST,
	OPT_THETA,
	OPT_CL,
	OPT_CL_READ,
	OPT_CL_WRITE,
	OPT_TIMEOUT,
	OPT_SEED,
	OPT_KEYSPACE,
	OPT_TABLE,
	OPT_REPLICATION,
	OPT_NO_SCHEMA,
	OPT_DROP,
	OPT_JSON,
	OPT_QUIET,
	OPT_HDR_OUT,
	OPT_PLOT,
	OPT_PIDS,
	OPT_ADMIN_PORT,
	OPT_NODE_CPU,
	OPT_THROW_ON_OVERLOAD,
	OPT_HELP,
};

static const struct option long_opts[] = {
        {"nodes", required_argument, 0, OPT_NODES},
        {"port", required_argument, 0, OPT_PORT},
        {"connections", required_argument, 0, OPT_CONNECTIONS},
        {"total-connections", required_argument, 0, OPT_TOTAL_CONNECTIONS},
        {"inflight", required_argument, 0, OPT_INFLIGHT},
        {"no-token-aware", no_argument, 0, OPT_NO_TOKEN_AWARE},
        {"no-discover", no_argument, 0, OPT_NO_DISCOVER},
        {"duration", required_argument, 0, OPT_DURATION},
        {"ops", required_argument, 0, OPT_OPS},
        {"rate", required_argument, 0, OPT_RATE},
        {"records", required_argument, 0, OPT_RECORDS},
        {"populate", required_argument, 0, OPT_POPULATE},
        {"value-size", required_argument, 0, OPT_VALUE_SIZE},
        {"ratio", required_argument, 0, OPT_RATIO},
        {"dist", required_argument, 0, OPT_DIST},
        {"zipf-theta", required_argument, 0, OPT_THETA},
        {"cl", required_argument, 0, OPT_CL},
        {"cl-read", required_argument, 0, OPT_CL_READ},
        {"cl-write", required_argument, 0, OPT_CL_WRITE},
        {"timeout", required_argument, 0, OPT_TIMEOUT},
        {"seed", required_argument, 0, OPT_SEED},
        {"keyspace", required_argument, 0, OPT_KEYSPACE},
        {"table", required_argument, 0, OPT_TABLE},
        {"replication", required_argument, 0, OPT_REPLICATION},
        {"no-schema", no_argument, 0, OPT_NO_SCHEMA},
        {"drop", no_argument, 0, OPT_DROP},
        {"json", no_argument, 0, OPT_JSON},
        {"quiet", no_argument, 0, OPT_QUIET},
        {"hdr-out", required_argument, 0, OPT_HDR_OUT},
        {"plot", required_argument, 0, OPT_PLOT},
        {"pids", required_argument, 0, OPT_PIDS},
        {"admin-port", required_argument, 0, OPT_ADMIN_PORT},
        {"node-cpu", required_argument, 0, OPT_NODE_CPU},
        {"throw-on-overload", no_argument, 0, OPT_THROW_ON_OVERLOAD},
        {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0},
};

static int set_str(char **dst, const char *src, struct cerr *err)
{
	free(*dst);
	*dst = strdup(src);
	return *dst ? COL_OK : cerr_set(err, COL_ENOMEM, "out of memory");
}

static int parse_cl(const char *name, const char *arg, uint16_t *out, struct cerr *err)
{
	uint16_t cl;
	if (cql_consistency_parse(arg, &cl))
		return cerr_set(err, COL_EINVAL,
		                "%s: unknown consistency level '%s' (ANY, ONE, TWO, THREE, "
		                "QUORUM, ALL, LOCAL_QUORUM, EACH_QUORUM, LOCAL_ONE)",
		                name, arg);
	if (cl == CL_SERIAL || cl == CL_LOCAL_SERIAL)
		return cerr_set(err, COL_EINVAL,
		                "%s: %s is only a serial consistency level (for lightweight "
		                "transactions)",
		                name, arg);
	*out = cl;
	return COL_OK;
}

/* What the command line gave, for the checks that span options. */
struct opts_seen {
	bool dist, ratio, duration, ops, records, workload;
	int total_connections;
};

static int opt_port(struct bench_opts *o, const char *arg, struct cerr *err)
{
	int port = 0;
	int rc = int_opt("--port", arg, 1, 65535, &port, err);
	o->port = (uint16_t)port;
	return rc;
}

static int opt_admin_port(struct bench_opts *o, const char *arg, struct cerr *err)
{
	int port = 0;
	int rc = int_opt("--admin-port", arg, 0, 65535, &port, err);
	o->admin_port = (uint16_t)port;
	return rc;
}

static int opt_duration(struct bench_opts *o, const char *arg, struct cerr *err)
{
	if (bench_parse_duration(arg, &o->duration_us) || o->duration_us < 1000)
		return cerr_set(err, COL_EINVAL,
		                "--duration: '%s' is not a duration of at least "
		                "1ms (e.g. 60s, 500ms, 2m)",
		                arg);
	return COL_OK;
}

static int opt_ops(struct bench_opts *o, const char *arg, struct cerr *err)
{
	if (bench_parse_count(arg, &o->ops) || o->ops < 1)
		return cerr_set(err, COL_EINVAL,
		                "--ops: '%s' is not a positive count (e.g. 100000, "
		                "10k, 1M)",
		                arg);
	return COL_OK;
}

static int opt_rate(struct bench_opts *o, const char *arg, struct cerr *err)
{
	if (bench_parse_count(arg, &o->rate) || o->rate < 1 || o->rate > 100000000)
		return cerr_set(err, COL_EINVAL, "--rate: '%s' is not an op/s rate in 1..100M",
		                arg);
	return COL_OK;
}

/* --records or --populate: a positive count up to 2^62. */
static int opt_key_count(const char *name, const char *arg, uint64_t *out, struct cerr *err)
{
	if (bench_parse_count(arg, out) || *out < 1 || *out > (1ull << 62))
		return cerr_set(err, COL_EINVAL, "%s: '%s' is not a positive count", name, arg);
	return COL_OK;
}

static int opt_dist(struct bench_opts *o, const char *arg, struct cerr *err)
{
	enum keydist_kind k;
	if (!strcasecmp(arg, "sequential") || !strcasecmp(arg, "seq")) {
		o->dist = BD_SEQUENTIAL;
	} else if (!keydist_parse(arg, &k)) {
		o->dist = k == KEYDIST_UNIFORM   ? BD_UNIFORM
		          : k == KEYDIST_ZIPFIAN ? BD_ZIPFIAN
		                                 : BD_LATEST;
	} else {
		return cerr_set(err, COL_EINVAL,
		                "--dist: unknown distribution '%s' (uniform, "
		                "zipfian, latest, sequential)",
		                arg);
	}
	return COL_OK;
}

static int opt_theta(struct bench_opts *o, const char *arg, struct cerr *err)
{
	char *end;
	errno = 0;
	double t = strtod(arg, &end);
	if (errno || end == arg || *end || !(t > 0 && t < 1))
		return cerr_set(err, COL_EINVAL,
		                "--zipf-theta: '%s' is not a number strictly "
		                "between 0 and 1",
		                arg);
	o->zipf_theta = t;
	return COL_OK;
}

static int opt_timeout(struct bench_opts *o, const char *arg, struct cerr *err)
{
	if (bench_parse_duration(arg, &o->timeout_us) || o->timeout_us < 1000 ||
	    o->timeout_us > 3600 * 1000000LL)
		return cerr_set(err, COL_EINVAL, "--timeout: '%s' is not a duration in 1ms..1h",
		                arg);
	return COL_OK;
}

static int opt_seed(struct bench_opts *o, const char *arg, struct cerr *err)
{
	uint64_t v;
	if (parse_u64(arg, &v))
		return cerr_set(err, COL_EINVAL, "--seed: '%s' is not a non-negative integer", arg);
	o->seed = v;
	return COL_OK;
}

/* --keyspace or --table. */
static int opt_name(const char *name, char *dst, const char *arg, struct cerr *err)
{
	if (!valid_name(arg))
		return cerr_set(err, COL_EINVAL,
		                "%s: '%s' is not a name (a letter, then letters, "
		                "digits or _; at most %d)",
		                name, arg, BENCH_NAME_MAX);
	strcpy(dst, arg);
	return COL_OK;
}

static int opt_replication(struct bench_opts *o, const char *arg, struct cerr *err)
{
	size_t n = strlen(arg);
	if (n < 2 || arg[0] != '{' || arg[n - 1] != '}' || strchr(arg, ';') || n > 1024)
		return cerr_set(err, COL_EINVAL,
		                "--replication: '%s' is not a CQL map literal such "
		                "as \"{'class':'SimpleStrategy','replication_"
		                "factor':3}\"",
		                arg);
	return set_str(&o->replication, arg, err);
}

/* One option from getopt_long (`c`, with optarg `arg`): a flat dispatch to
 * its parser. */
static int parse_option(struct bench_opts *o, struct opts_seen *seen, int c, const char *arg,
                        char **argv, struct cerr *err)
{
	switch (c) {
	case OPT_NODES: return split_nodes(o, arg, err);
	case OPT_PORT: return opt_port(o, arg, err);
	case OPT_CONNECTIONS:
		return int_opt("--connections", arg, 1, BENCH_MAX_CONNECTIONS, &o->connections,
		               err);
	case OPT_TOTAL_CONNECTIONS:
		return int_opt("--total-connections", arg, 1, BENCH_MAX_CONNECTIONS,
		               &seen->total_connections, err);
	case OPT_INFLIGHT:
		return int_opt("--inflight", arg, 1, BENCH_MAX_INFLIGHT, &o->inflight, err);
	case OPT_NO_TOKEN_AWARE: o->token_aware = false; return COL_OK;
	case OPT_NO_DISCOVER: o->discover = false; return COL_OK;
	case OPT_DURATION: seen->duration = true; return opt_duration(o, arg, err);
	case OPT_OPS: seen->ops = true; return opt_ops(o, arg, err);
	case OPT_RATE: return opt_rate(o, arg, err);
	case OPT_RECORDS:
		seen->records = true;
		return opt_key_count("--records", arg, &o->records, err);
	case OPT_POPULATE: return opt_key_count("--populate", arg, &o->populate, err);
	case OPT_VALUE_SIZE:
		return int_opt("--value-size", arg, 0, BENCH_MAX_VALUE, &o->value_size, err);
	case OPT_RATIO: seen->ratio = true; return bench_parse_ratio(arg, &o->mix, err);
	case OPT_DIST: seen->dist = true; return opt_dist(o, arg, err);
	case OPT_THETA: return opt_theta(o, arg, err);
	case OPT_CL: {
		int rc = parse_cl("--cl", arg, &o->cl_read, err);
		o->cl_write = o->cl_read;
		return rc;
	}
	case OPT_CL_READ: return parse_cl("--cl-read", arg, &o->cl_read, err);
	case OPT_CL_WRITE: return parse_cl("--cl-write", arg, &o->cl_write, err);
	case OPT_TIMEOUT: return opt_timeout(o, arg, err);
	case OPT_SEED: return opt_seed(o, arg, err);
	case OPT_KEYSPACE: return opt_name("--keyspace", o->keyspace, arg, err);
	case OPT_TABLE: return opt_name("--table", o->table, arg, err);
	case OPT_REPLICATION: return opt_replication(o, arg, err);
	case OPT_NO_SCHEMA: o->create_schema = false; return COL_OK;
	case OPT_DROP: o->drop_first = true; return COL_OK;
	case OPT_JSON: o->json = true; return COL_OK;
	case OPT_QUIET: o->quiet = true; return COL_OK;
	case OPT_HDR_OUT: return set_str(&o->hdr_out, arg, err);
	case OPT_PLOT: return set_str(&o->plot, arg, err);
	case OPT_PIDS: return split_pids(o, arg, err);
	case OPT_ADMIN_PORT: return opt_admin_port(o, arg, err);
	case OPT_THROW_ON_OVERLOAD: o->throw_on_overload = true; return COL_OK;
	case OPT_NODE_CPU:
		if (strcmp(arg, "auto") && strcmp(arg, "metrics"))
			return cerr_set(err, COL_EINVAL, "--node-cpu: '%s' is not auto or metrics",
			                arg);
		o->node_cpu_metrics = !strcmp(arg, "metrics");
		return COL_OK;
	case ':': return cerr_set(err, COL_EINVAL, "%s: needs a value", argv[optind - 1]);
	case '?':
	default:
		if (optopt > 0 && optopt < 128)
			return cerr_set(err, COL_EINVAL, "unknown option '-%c'", optopt);
		return cerr_set(err, COL_EINVAL, "unknown option '%s' (see colonnade bench --help)",
		                argv[optind - 1]);
	}
}

/* The fixed operation mix and key distribution of each workload (YCSB's
 * for A..F); --ratio and --dist override them. */
static void workload_defaults(struct bench_opts *o, const struct opts_seen *seen)
{
	struct bench_mix m = {{0}};
	enum bench_dist d = BD_UNIFORM;
	switch (o->workload) {
	case BW_WRITE:
		m.w[BOP_WRITE] = 1;
		d = BD_SEQUENTIAL;
		break;
	case BW_READ: m.w[BOP_READ] = 1; break;
	case BW_MIXED:
		if (seen->ratio)
			m = o->mix;
		else
			m.w[BOP_READ] = m.w[BOP_WRITE] = 1;
		break;
	case BW_YCSB_A:
		m.w[BOP_READ] = 50;
		m.w[BOP_WRITE] = 50;
		d = BD_ZIPFIAN;
		break;
	case BW_YCSB_B:
		m.w[BOP_READ] = 95;
		m.w[BOP_WRITE] = 5;
		d = BD_ZIPFIAN;
		break;
	case BW_YCSB_C:
		m.w[BOP_READ] = 100;
		d = BD_ZIPFIAN;
		break;
	case BW_YCSB_D:
		m.w[BOP_READ] = 95;
		m.w[BOP_INSERT] = 5;
		d = BD_LATEST;
		break;
	case BW_YCSB_F:
		m.w[BOP_READ] = 50;
		m.w[BOP_RMW] = 50;
		d = BD_ZIPFIAN;
		break;
	case BW__N: break;
	}
	o->mix = m;
	if (!seen->dist)
		o->dist = d;
}

/* The workload argument after the options; nothing may follow it. */
static int parse_workload_arg(struct bench_opts *o, struct opts_seen *seen, int argc, char **argv,
                              struct cerr *err)
{
	if (optind < argc) {
		if (parse_workload(argv[optind], &o->workload))
			return cerr_set(err, COL_EINVAL,
			                "unknown workload '%s' (write, read, mixed, A, B, C, D, "
			                "F)",
			                argv[optind]);
		seen->workload = true;
		optind++;
	}
	if (optind < argc)
		return cerr_set(err, COL_EINVAL, "unexpected argument '%s'", argv[optind]);
	if (!seen->workload)
		return cerr_set(err, COL_EINVAL,
		                "no workload given (write, read, mixed, A, B, C, D, F; see "
		                "--help)");
	return COL_OK;
}

/* The checks and defaults that span options, once all are read. */
static int finish_opts(struct bench_opts *o, const struct opts_seen *seen, struct cerr *err)
{
	if (seen->ratio && o->workload != BW_MIXED)
		return cerr_set(err, COL_EINVAL,
		                "--ratio applies to the mixed workload only (workload %s has a "
		                "fixed mix)",
		                bench_workload_name(o->workload));
	if (seen->duration && seen->ops)
		return cerr_set(err, COL_EINVAL, "give --duration or --ops, not both");
	if (seen->ops)
		o->duration_us = 0;
	if (o->node_cpu_metrics && !o->admin_port)
		return cerr_set(
		        err, COL_EINVAL,
		        "--node-cpu metrics needs the nodes' admin port (--admin-port is 0)");
	workload_defaults(o, seen);
	if (o->populate && !seen->records)
		o->records = o->populate;
	if (o->populate > o->records)
		return cerr_set(err, COL_EINVAL,
		                "--populate %llu is more than --records %llu (the key space)",
		                (unsigned long long)o->populate, (unsigned long long)o->records);
	int rc;
	if (o->n_nodes == 0 && (rc = split_nodes(o, "127.0.0.1", err)))
		return rc;
	/* Fewer than the nodes is fine: the first nodes get one each. */
	o->total_connections = seen->total_connections;
	return COL_OK;
}

int bench_opts_parse(struct bench_opts *o, int argc, char **argv, bool *help, struct cerr *err)
{
	*help = false;
	struct opts_seen seen = {0};
	/* Re-entrant use (tests parse many command lines): reset getopt. */
	optind = 0;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		if (c == OPT_HELP || c == 'h') {
			*help = true;
			return COL_OK;
		}
		int rc = parse_option(o, &seen, c, optarg, argv, err);
		if (rc)
			return rc;
	}
	int rc = parse_workload_arg(o, &seen, argc, argv, err);
	return rc ? rc : finish_opts(o, &seen, err);
}
