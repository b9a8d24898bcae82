/*
 * bench_setup.c — `colonnade bench` before the run: contact points and the
 * control connection, the ring and the replication map (system.local/peers,
 * system_schema.keyspaces), the schema, the data connections, statements
 * prepared on every node, and a probe at each consistency level.
 */
#include "cli/lib/bench_run.h"
#include "core/clock.h"
#include "core/cqlproto.h"

#include <stdlib.h>
#include <string.h>

struct sync_call {
	bool done;
	int status;
	struct cqlresult *res;
	char why[256];
};

/* Split "host[:port]" (one colon only; IPv6 literals take --port). */
static void split_host(const char *spec, uint16_t dflt, char *host, size_t hlen, uint16_t *port)
{
	const char *colon = strchr(spec, ':');
	*port = dflt;
	if (colon && !strchr(colon + 1, ':')) {
		snprintf(host, hlen, "%.*s", (int)(colon - spec), spec);
		*port = (uint16_t)atoi(colon + 1);
	} else {
		snprintf(host, hlen, "%s", spec);
	}
}

static int add_node(struct bench *b, const char *host, uint16_t port)
{
	for (int i = 0; i < b->n_nodes; i++)
		if (!strcmp(b->nodes[i].host, host) && b->nodes[i].port == port)
			return i;
	if (b->n_nodes == BENCH_MAX_NODES)
		return -1;
	struct bnode *n = &b->nodes[b->n_nodes];
	memset(n, 0, sizeof(*n));
	snprintf(n->host, sizeof(n->host), "%s", host);
	n->port = port;
	snprintf(n->label, sizeof(n->label), "%s:%u", host, port);
	return b->n_nodes++;
}

static int control_query(struct cqlclient *cl, const char *cql, struct cqlresult **out,
                         struct cerr *err)
{
	struct cql_qparams p;
	cql_qparams_init(&p);
	p.consistency = CL_ONE;
	struct cqlresult *res = NULL;
	int rc = cqlclient_query(cl, cql, &p, &res, err);
	if (rc)
		return rc;
	if (res->kind == CQLRES_ERROR) {
		rc = cerr_set(err, COL_EINVAL, "%s (error 0x%04x %s) for: %s", res_error_text(res),
		              res->error.code, cql_error_name(res->error.code), cql);
		cqlresult_free(res);
		return rc;
	}
	*out = res;
	return COL_OK;
}

/*
 * Learn the nodes and the ring (tokenmap.h) through the control connection
 * and add every node to b->nodes (same native port as the contact point).
 * Leaves the ring unknown on any failure, with the reason in err.
 */
static int discover_ring(struct bench *b, struct cqlclient *cl, const char *ctl_host,
                         uint16_t ctl_port, struct cerr *err)
{
	int rc = tokenmap_learn_ring(&b->tm, cl, ctl_host, err);
	for (size_t i = 0; !rc && i < b->tm.n_nodes; i++) {
		b->tm_node[i] = add_node(b, b->tm.hosts[i], ctl_port);
		if (b->tm_node[i] < 0)
			rc = cerr_set(err, COL_ETOOBIG, "more than %d nodes", BENCH_MAX_NODES);
	}
	if (rc) {
		tokenmap_release(&b->tm);
		return rc;
	}
	b->have_ring = true;
	b->routed = b->o->token_aware;
	return COL_OK;
}

static int create_schema(struct bench *b, struct cqlclient *cl, int n_nodes, struct cerr *err)
{
	const struct bench_opts *o = b->o;
	char cql[1400];
	struct cqlresult *r;
	int rc;
	if (o->drop_first) {
		snprintf(cql, sizeof(cql), "DROP KEYSPACE IF EXISTS %s", o->keyspace);
		if ((rc = control_query(cl, cql, &r, err)))
			return rc;
		cqlresult_free(r);
	}
	if (!o->create_schema)
		return COL_OK;
	if (o->replication)
		snprintf(cql, sizeof(cql), "CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s",
		         o->keyspace, o->replication);
	else
		snprintf(cql, sizeof(cql),
		         "CREATE KEYSPACE IF NOT EXISTS %s WITH replication = "
		         "{'class': 'SimpleStrategy', 'replication_factor': %d}",
		         o->keyspace, n_nodes < 3 ? n_nodes : 3);
	if ((rc = control_query(cl, cql, &r, err)))
		return rc;
	cqlresult_free(r);
	snprintf(cql, sizeof(cql),
	         "CREATE TABLE IF NOT EXISTS %s.%s (key blob PRIMARY KEY, value blob)", o->keyspace,
	         o->table);
	if ((rc = control_query(cl, cql, &r, err)))
		return rc;
	cqlresult_free(r);
	return COL_OK;
}

static void on_sync(struct cqlconn *cc, void *arg, int status, struct cqlresult *res,
                    const char *why)
{
	struct sync_call *s = arg;
	(void)cc;
	s->done = true;
	s->status = status;
	s->res = res;
	snprintf(s->why, sizeof(s->why), "%s", why ? why : "");
}

/* A synchronous call on `c` got no answer in time: close the connection now,
 * so its callback (which points at the caller's stack) runs before the
 * caller returns. */
static void abandon_conn(struct bconn *c)
{
	if (c->cc)
		cqlconn_free(c->cc);
	c->cc = NULL;
	c->ready = false;
	c->failed = true;
}

static struct bconn *first_ready(struct bnode *n)
{
	for (int k = 0; k < n->n_conns; k++)
		if (n->conns[k].ready)
			return &n->conns[k];
	return NULL;
}

/* Prepare `cql` on every node with a ready connection; the table may take a
 * moment to reach every node after CREATE, so errors are retried for 10 s. */
static int prepare_everywhere(struct bench *b, const char *cql, struct cqlprepared **out,
                              struct cerr *err)
{
	*out = NULL;
	for (int i = 0; i < b->n_nodes; i++) {
		struct bconn *c = first_ready(&b->nodes[i]);
		if (!c)
			continue;
		int64_t deadline = clock_mono_us() + 10 * 1000000LL;
		for (;;) {
			struct sync_call s = {0};
			int rc = cqlconn_prepare(c->cc, cql, strlen(cql), on_sync, &s);
			if (rc)
				return cerr_set(err, rc, "cannot prepare on %s: %s", c->node->label,
				                col_strerror(rc));
			bench_wait_for(b, &s.done, b->o->timeout_us + 1000000);
			if (!s.done) {
				abandon_conn(c);
				return cerr_set(err, COL_ETIMEDOUT, "%s did not answer PREPARE",
				                c->node->label);
			}
			if (s.status)
				return cerr_set(err, s.status, "preparing on %s: %s",
				                c->node->label, s.why);
			if (s.res->kind == CQLRES_PREPARED) {
				if (!*out) {
					rc = cqlprepared_new(cql, strlen(cql), s.res, out, err);
					if (rc) {
						cqlresult_free(s.res);
						return rc;
					}
				} else {
					if (s.res->prepared_id_len != (*out)->id_len ||
					    memcmp(s.res->prepared_id, (*out)->id, (*out)->id_len))
						fprintf(stderr,
						        "colonnade bench: warning: %s gives "
						        "another "
						        "prepared id for '%s' (it will "
						        "re-prepare)\n",
						        c->node->label, cql);
					cqlresult_free(s.res);
				}
				break;
			}
			char msg[300];
			snprintf(msg, sizeof(msg), "%s",
			         s.res->kind == CQLRES_ERROR ? res_error_text(s.res)
			                                     : "unexpected answer");
			cqlresult_free(s.res);
			if (clock_mono_us() > deadline)
				return cerr_set(err, COL_EINVAL, "cannot prepare '%s' on %s: %s",
				                cql, c->node->label, msg);
			bool never = false;
			bench_wait_for(b, &never, 200000);
		}
	}
	if (!*out)
		return cerr_set(err, COL_ENOTFOUND, "no node to prepare statements on");
	return COL_OK;
}

/* One op at the requested level before the run: a level the cluster cannot
 * meet is a usage error, not a run full of Unavailable. 0, 1 or 2 (exit). */
int bench_probe(struct bench *b, bool is_read)
{
	struct breq r = {0};
	r.b = b;
	r.op = is_read ? BOP_READ : BOP_WRITE;
	r.key = 0;
	key_bytes(0, r.keybytes);
	r.conn = bench_route(b, r.keybytes);
	if (!r.conn) {
		fprintf(stderr, "colonnade bench: no connection is ready\n");
		return 1;
	}
	struct cql_qparams p;
	cql_qparams_init(&p);
	p.consistency = is_read ? b->o->cl_read : b->o->cl_write;
	r.vals[0].p = r.keybytes;
	r.vals[0].len = 8;
	r.vals[1].p = b->value;
	r.vals[1].len = b->o->value_size;
	p.values = r.vals;
	p.n_values = is_read ? 1 : 2;
	struct sync_call s = {0};
	int rc = cqlconn_execute(r.conn->cc, is_read ? b->sel : b->ins, &p, on_sync, &s);
	if (rc) {
		fprintf(stderr, "colonnade bench: cannot send the probe to %s: %s\n",
		        r.conn->node->label, col_strerror(rc));
		return 1;
	}
	bench_wait_for(b, &s.done, b->o->timeout_us + 1000000);
	if (!s.done)
		abandon_conn(r.conn);
	const char *what = is_read ? "reads" : "writes";
	const char *lvl = cql_consistency_name(p.consistency);
	if (!s.done || s.status) {
		fprintf(stderr, "colonnade bench: the probe %s at %s to %s failed: %s\n",
		        is_read ? "read" : "write", lvl, r.conn->node->label,
		        s.done ? s.why : "no answer");
		return 1;
	}
	int exit_code = 0;
	if (s.res->kind == CQLRES_ERROR) {
		const struct cql_error_info *e = &s.res->error;
		if (e->code == CQL_ERR_UNAVAILABLE) {
			fprintf(stderr,
			        "colonnade bench: consistency level %s cannot be met for %s to "
			        "%s.%s: %d replicas required, %d alive (server: %s)\n",
			        lvl, what, b->o->keyspace, b->o->table, e->required, e->alive,
			        res_error_text(s.res));
			exit_code = 2;
		} else if (e->code == CQL_ERR_WRITE_TIMEOUT || e->code == CQL_ERR_READ_TIMEOUT ||
		           e->code == CQL_ERR_OVERLOADED) {
			fprintf(stderr, "colonnade bench: warning: the probe %s got %s: %s\n",
			        is_read ? "read" : "write", cql_error_name(e->code),
			        res_error_text(s.res));
		} else {
			fprintf(stderr,
			        "colonnade bench: %s at %s on %s.%s fail: %s (error 0x%04x %s)\n",
			        what, lvl, b->o->keyspace, b->o->table, res_error_text(s.res),
			        e->code, cql_error_name(e->code));
			exit_code = e->code == CQL_ERR_INVALID || e->code == CQL_ERR_CONFIG ? 2 : 1;
		}
	}
	cqlresult_free(s.res);
	return exit_code;
}

/* Check a level against the keyspace's replication and the ring size. */
static int check_cl(struct bench *b, uint16_t cl, const char *opt, bool reads)
{
	const char *name = cql_consistency_name(cl);
	if (reads && cl == CL_ANY) {
		fprintf(stderr, "colonnade bench: %s ANY is not supported for reads\n", opt);
		return 2;
	}
	int need = bench_cl_required(cl, b->rf);
	if (b->rf > 0 && need > b->rf) {
		fprintf(stderr,
		        "colonnade bench: %s %s cannot be met: keyspace '%s' has replication "
		        "factor %d and %s needs %d replicas\n",
		        opt, name, b->o->keyspace, b->rf, name, need);
		return 2;
	}
	if (b->have_ring && need > 0 && need > b->n_nodes) {
		fprintf(stderr,
		        "colonnade bench: %s %s cannot be met: %s needs %d replicas but the "
		        "cluster has %d node%s\n",
		        opt, name, name, need, b->n_nodes, b->n_nodes == 1 ? "" : "s");
		return 2;
	}
	return 0;
}

/* Adds every contact point as a node, then opens the control connection to
 * the first that answers.  Returns 0, or 1 when none answers. */
int bench_connect_contacts(struct bench *b, struct bench_ctl *ctl)
{
	const struct bench_opts *o = b->o;
	for (int i = 0; i < o->n_nodes; i++) {
		char host[256];
		uint16_t port;
		split_host(o->nodes[i], o->port, host, sizeof(host), &port);
		if (add_node(b, host, port) >= 0)
			ctl->n_contacts = b->n_nodes;
		if (ctl->cl)
			continue;
		struct cqlconn_opts co = {0};
		co.connect_timeout_ms = 5000;
		co.request_timeout_ms = 10000;
		struct cerr e = {0};
		if (cqlclient_connect(host, port, &co, &ctl->cl, &e) == 0) {
			snprintf(ctl->host, sizeof(ctl->host), "%s", host);
			ctl->port = port;
		} else {
			fprintf(stderr, "colonnade bench: contact point %s:%u unreachable: %s\n",
			        host, port, e.msg);
			ctl->cl = NULL;
		}
	}
	if (!ctl->cl) {
		fprintf(stderr, "colonnade bench: cannot connect to any contact point (%d tried)\n",
		        o->n_nodes);
		return 1;
	}
	return 0;
}

/* Ring, schema, replication factor and the consistency levels' feasibility.
 * Returns 0 or the exit code. */
int bench_setup_ring_and_schema(struct bench *b, const struct bench_ctl *ctl)
{
	const struct bench_opts *o = b->o;
	struct cerr err = {0};
	/* Ring before the schema: the default RF depends on the node count. */
	if (discover_ring(b, ctl->cl, ctl->host, ctl->port, &err)) {
		fprintf(stderr, "colonnade bench: warning: token-aware routing off: %s\n", err.msg);
		b->routed = false;
		cerr_clear(&err);
	}
	int ring_nodes = b->n_nodes;
	if (create_schema(b, ctl->cl, ring_nodes, &err)) {
		fprintf(stderr, "colonnade bench: cannot create the schema: %s\n", err.msg);
		return 1;
	}
	struct replication rep;
	if (tokenmap_read_replication(ctl->cl, o->keyspace, &rep, &err)) {
		if (!o->create_schema && err.code == COL_ENOTFOUND) {
			fprintf(stderr, "colonnade bench: %s (drop --no-schema to create it)\n",
			        err.msg);
			return 1;
		}
		fprintf(stderr,
		        "colonnade bench: warning: replication unknown (%s); routing to "
		        "the primary replica only\n",
		        err.msg);
		cerr_clear(&err);
		b->rf = -1;
		rep = (struct replication){.cls = REPL_SIMPLE, .rf = 1};
	} else {
		b->rf = replication_total_rf(&rep);
	}
	if (b->routed && tokenmap_place(&b->tm, &rep, &err)) {
		fprintf(stderr, "colonnade bench: warning: token-aware routing off: %s\n", err.msg);
		b->routed = false;
		cerr_clear(&err);
	}
	int rc = 0;
	if ((workload_writes(o) && (rc = check_cl(b, o->cl_write, "--cl-write", false))) ||
	    (workload_reads(o) && (rc = check_cl(b, o->cl_read, "--cl-read", true))))
		return rc;
	return 0;
}

/* Starts the data connections to the first `connect_nodes` nodes and counts
 * them in *total.  Returns 0 or the exit code. */
int bench_open_data_conns(struct bench *b, int connect_nodes, int *total)
{
	const struct bench_opts *o = b->o;
	struct cerr err = {0};
	b->cap_per_conn = (unsigned)o->inflight;
	/* Bound the slots before opening anything. */
	long planned =
	        o->total_connections ? o->total_connections : (long)o->connections * connect_nodes;
	if ((size_t)planned * (size_t)o->inflight > BENCH_MAX_SLOTS) {
		fprintf(stderr,
		        "colonnade bench: %ld connections x %d in flight is more than %d "
		        "requests in flight; lower --connections or --inflight\n",
		        planned, o->inflight, BENCH_MAX_SLOTS);
		return 2;
	}
	/* An open loop may go past --inflight (bench.c): its share of the slots. */
	b->stream_cap = b->cap_per_conn;
	if (o->rate && planned > 0) {
		long share = BENCH_MAX_SLOTS / planned;
		if (share > BENCH_MAX_STREAMS)
			share = BENCH_MAX_STREAMS;
		if (share > (long)b->stream_cap)
			b->stream_cap = (unsigned)share;
	}
	b->dirty = calloc((size_t)planned > 0 ? (size_t)planned : 1, sizeof(*b->dirty));
	if (!b->dirty) {
		fprintf(stderr, "colonnade bench: out of memory for %ld connections\n", planned);
		return 1;
	}
	b->cap_dirty = (int)planned;
	for (int i = 0; i < connect_nodes; i++) {
		int n = o->connections;
		if (o->total_connections)
			n = o->total_connections / connect_nodes +
			    (i < o->total_connections % connect_nodes ? 1 : 0);
		if (n < 1)
			continue;
		b->nodes[i].conns = calloc((size_t)n, sizeof(struct bconn));
		if (!b->nodes[i].conns) {
			fprintf(stderr, "colonnade bench: out of memory\n");
			return 1;
		}
		b->nodes[i].n_conns = n;
		for (int k = 0; k < n; k++) {
			struct bconn *c = &b->nodes[i].conns[k];
			c->node = &b->nodes[i];
			if (bench_conn_open(b, c, &err) == 0)
				b->conns_pending++;
			else if (k == 0)
				fprintf(stderr, "colonnade bench: %s\n", err.msg);
			(*total)++;
		}
	}
	return 0;
}

/* Waits (15 s at most) for the data connections to settle and records which
 * nodes have one.  Returns 0, or 1 when no connection is ready. */
int bench_await_data_conns(struct bench *b, int connect_nodes, int total)
{
	bool all_settled = false;
	int64_t deadline = clock_mono_us() + 15 * 1000000LL;
	while (b->conns_pending > 0 && clock_mono_us() < deadline) {
		bench_wait_for(b, &all_settled, 100000);
	}
	int ready = 0;
	b->ri.nodes_desc[0] = 0;
	for (int i = 0; i < connect_nodes; i++) {
		int r = 0;
		for (int k = 0; k < b->nodes[i].n_conns; k++)
			r += b->nodes[i].conns[k].ready;
		ready += r;
		if (r) {
			size_t off = strlen(b->ri.nodes_desc);
			snprintf(b->ri.nodes_desc + off, sizeof(b->ri.nodes_desc) - off, "%s%s",
			         off ? ", " : "", b->nodes[i].label);
			b->ri.n_nodes++;
		} else if (b->nodes[i].n_conns) {
			fprintf(stderr, "colonnade bench: warning: no connection to %s\n",
			        b->nodes[i].label);
		}
	}
	if (!ready) {
		fprintf(stderr, "colonnade bench: no connection to any node could be opened\n");
		return 1;
	}
	b->ri.n_conns = total;
	return 0;
}

/* Prepares the INSERT and the SELECT on every node.  Returns 0 or 1. */
int bench_prepare_statements(struct bench *b)
{
	const struct bench_opts *o = b->o;
	struct cerr err = {0};
	char cql[300];
	snprintf(cql, sizeof(cql), "INSERT INTO %s.%s (key, value) VALUES (?, ?)", o->keyspace,
	         o->table);
	if (prepare_everywhere(b, cql, &b->ins, &err)) {
		fprintf(stderr, "colonnade bench: %s\n", err.msg);
		return 1;
	}
	snprintf(cql, sizeof(cql), "SELECT value FROM %s.%s WHERE key = ?", o->keyspace, o->table);
	if (prepare_everywhere(b, cql, &b->sel, &err)) {
		fprintf(stderr, "colonnade bench: %s\n", err.msg);
		return 1;
	}
	/* Routing hashes bind value 0 (the key): the server must agree that it
	 * is the whole partition key. */
	const struct cqlresult *pr = b->ins->prepared;
	if (b->routed && pr && pr->n_pk_indexes &&
	    (pr->n_pk_indexes != 1 || pr->pk_indexes[0] != 0)) {
		fprintf(stderr, "colonnade bench: warning: the server's partition key indexes for "
		                "the INSERT are not [0]; token-aware routing off\n");
		b->routed = false;
	}
	return 0;
}

/* Request pool, value bytes, key generators.  Returns 0 or 1. */
int bench_setup_requests(struct bench *b, int total)
{
	const struct bench_opts *o = b->o;
	size_t n_reqs = (size_t)total * (size_t)o->inflight;
	b->value = malloc((size_t)o->value_size + 257);
	b->seq = malloc(sizeof(*b->seq));
	if (bench_grow_reqs(b, n_reqs) || !b->value || !b->seq) {
		fprintf(stderr, "colonnade bench: out of memory for %zu requests\n", n_reqs);
		return 1;
	}
	for (size_t i = 0; i < (size_t)o->value_size + 257; i++)
		b->value[i] = (uint8_t)keyrng_next(&b->rng);
	keyseq_init(b->seq, o->records);
	if (o->dist != BD_SEQUENTIAL) {
		enum keydist_kind k = o->dist == BD_UNIFORM   ? KEYDIST_UNIFORM
		                      : o->dist == BD_ZIPFIAN ? KEYDIST_ZIPFIAN
		                                              : KEYDIST_LATEST;
		if (keydist_new(k, o->records, o->zipf_theta, b->seq, &b->dist)) {
			fprintf(stderr, "colonnade bench: cannot set up the %s distribution\n",
			        bench_dist_name(o->dist));
			return 1;
		}
	}
	return 0;
}

/* The node processes whose CPU the report shows: --pid, else the listeners
 * of the connected nodes found on this machine. */
void bench_find_node_procs(struct bench *b, int connect_nodes)
{
	const struct bench_opts *o = b->o;
	if (o->n_pids) {
		for (int i = 0; i < o->n_pids; i++) {
			struct bench_nodeproc *n = &b->ri.procs[b->ri.n_procs++];
			n->pid = o->pids[i];
			snprintf(n->label, sizeof(n->label), "pid %d", (int)o->pids[i]);
		}
		return;
	}
	for (int i = 0; i < connect_nodes && b->ri.n_procs < BENCH_MAX_NODES; i++) {
		struct bench_nodeproc *n = &b->ri.procs[b->ri.n_procs++];
		snprintf(n->label, sizeof(n->label), "%s", b->nodes[i].label);
		if (o->node_cpu_metrics ||
		    bench_proc_find_listener(b->nodes[i].host, b->nodes[i].port, &n->pid))
			n->pid = 0;
		snprintf(n->host, sizeof(n->host), "%s", b->nodes[i].host);
		n->admin_port = o->admin_port;
	}
}
