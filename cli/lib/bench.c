/*
 * bench.c — `colonnade bench`: setup (contact points, ring, schema, prepared
 * statements, a probe at the requested consistency levels), the populate
 * phase, and the run loop.
 *
 * One libev loop drives every connection (struct cqlconn from
 * cli/lib/cqlclient.h).  The loop is a pump: whenever a request finishes or
 * the open-loop timer fires, pump() sends every op that is due while some
 * connection has a free in-flight slot.  An op that has been scheduled but
 * finds no free slot waits as `pending` — its clock keeps running, which is
 * exactly the queueing a real client would see.
 *
 * Routing: the key's token (Murmur3 of the 8-byte big-endian key) picks its
 * replicas from the ring; the first replica with a free slot gets the request
 * (primary first).  If every replica is saturated or down, any node with a
 * free slot coordinates instead (as the drivers' query plans do).
 *
 * The bench is single-threaded; its own CPU use is reported so a
 * client-bound result is visible.
 */
#include "cli/lib/bench.h"

#include "cli/lib/bench_int.h"
#include "cli/lib/cqlclient.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/cqlproto.h"
#include "core/murmur3.h"

#include <arpa/inet.h>
#include <ev.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct bench;
struct bnode;

struct bconn {
	struct bench *b;
	struct bnode *node;
	struct cqlconn *cc;
	unsigned inflight; /* our requests on it (not counting orphaned timeouts) */
	bool ready;
	bool connecting;
	bool failed;  /* reconnect on the next tick */
	bool blocked; /* the connection refused a request (COL_EFULL) until an answer */
};

struct bnode {
	char host[256];
	uint16_t port;
	char label[300];
	struct bconn *conns;
	int n_conns;
	int rr;
};

struct breq {
	struct bench *b;
	struct bconn *conn;
	enum bench_op op;
	uint8_t phase; /* RMW: 0 = the read, 1 = the write */
	uint64_t key;
	int64_t intended_us, sent_us;
	uint8_t keybytes[8];
	struct cql_slice vals[2];
	struct breq *next_free;
};

enum bphase { PH_SETUP, PH_POPULATE, PH_RUN };

struct bench {
	struct bench_opts *o;
	struct ev_loop *loop;
	struct bnode nodes[BENCH_MAX_NODES];
	int n_nodes;
	int node_rr;
	struct ring *ring;              /* as system.local/peers describe it, or NULL */
	int ring_node[BENCH_MAX_NODES]; /* ring node index -> b->nodes index */
	struct bench_route route;       /* replicas per ring position, for routing */
	bool routed;    /* token-aware routing in use */
	bool have_ring; /* the ring is known (even with --no-token-aware) */
	int rf;         /* total replicas of a key (all datacenters), -1 unknown */
	struct cqlprepared *ins, *sel;
	uint8_t *value;
	struct breq *reqs, *free_reqs;
	unsigned cap_per_conn;
	int conns_pending; /* connects in progress during setup */
	uint64_t inflight;
	struct bench_stats stats;
	struct keyrng rng;
	struct keydist *dist;
	struct keyseq *seq;

	enum bphase phase;
	bool open_loop;
	struct bench_sched sched;
	int64_t start_us, end_us, last_done_us, last_tick_us;
	int64_t stop_us; /* when scheduling stopped (end, --ops reached, ^C) */
	uint64_t max_ops, issued, sent;
	bool stop_issuing, done;
	bool have_pending;
	enum bench_op p_op;
	uint64_t p_key;
	int64_t p_intended;
	bool fatal;
	bool interrupted;
	char fatal_msg[CERR_MSG_MAX];
	char first_error[BERR__N][160];

	ev_timer sched_timer, tick_timer, end_timer, wait_timer;
	ev_signal sigint;
	struct bench_runinfo ri;
	FILE *progress;
};

/* ---- small helpers -------------------------------------------------------------------------- */

static void key_bytes(uint64_t key, uint8_t out[8])
{
	be64_store(out, key);
}

static const char *res_error_text(const struct cqlresult *r)
{
	return r->error.message ? r->error.message : "(no message)";
}

static bool workload_reads(const struct bench_opts *o)
{
	return o->mix.w[BOP_READ] || o->mix.w[BOP_RMW];
}
static bool workload_writes(const struct bench_opts *o)
{
	return o->mix.w[BOP_WRITE] || o->mix.w[BOP_INSERT] || o->mix.w[BOP_RMW] || o->populate;
}

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

/* ---- blocking waits on the shared loop ---------------------------------------------------- */

static void wait_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

/* Run the loop until *flag or the deadline. */
static void wait_for(struct bench *b, const bool *flag, int64_t timeout_us)
{
	int64_t deadline = clock_mono_us() + timeout_us;
	while (!*flag) {
		int64_t left = deadline - clock_mono_us();
		if (left <= 0)
			break;
		ev_timer_set(&b->wait_timer, (double)left / 1e6, 0);
		ev_timer_start(b->loop, &b->wait_timer);
		ev_run(b->loop, EVRUN_ONCE);
		ev_timer_stop(b->loop, &b->wait_timer);
	}
}

/* ---- control queries (blocking client) ---------------------------------------------------- */

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

static void format_inet_cell(const struct cql_slice *s, char *out, size_t len)
{
	out[0] = 0;
	if (s->len == 4)
		inet_ntop(AF_INET, s->p, out, (socklen_t)len);
	else if (s->len == 16)
		inet_ntop(AF_INET6, s->p, out, (socklen_t)len);
}

/* The address a system.peers row names the peer by (rpc_address, else peer), or "". */
static void peer_address(const struct cqlresult *r, uint32_t row, char *addr, size_t len)
{
	int cpeer = cqlresult_column(r, "peer"), crpc = cqlresult_column(r, "rpc_address");
	addr[0] = 0;
	if (crpc >= 0)
		format_inet_cell(cqlresult_cell(r, row, (uint32_t)crpc), addr, len);
	if ((!addr[0] || !strcmp(addr, "0.0.0.0") || !strcmp(addr, "::")) && cpeer >= 0)
		format_inet_cell(cqlresult_cell(r, row, (uint32_t)cpeer), addr, len);
}

/*
 * Learn the ring: system.local describes the control connection's node, each
 * system.peers row a peer (tokens, datacenter, rack).  Adds every node to
 * b->nodes (same native port as the contact point) and builds b->ring.
 * Leaves b->ring NULL on any failure, with the reason in err.
 */
static int discover_ring(struct bench *b, struct cqlclient *cl, const char *ctl_host,
                         uint16_t ctl_port, struct cerr *err)
{
	struct cqlresult *res[2] = {NULL, NULL};
	struct ring_endpoint eps[BENCH_MAX_NODES];
	size_t n_eps = 0;
	int rc = control_query(cl, "SELECT host_id, data_center, rack, tokens FROM system.local",
	                       &res[0], err);
	if (!rc)
		rc = control_query(cl,
		                   "SELECT peer, rpc_address, host_id, data_center, rack, tokens "
		                   "FROM system.peers",
		                   &res[1], err);
	for (int si = 0; si < 2 && !rc; si++) {
		const struct cqlresult *r = res[si];
		if (r->kind != CQLRES_ROWS) {
			rc = cerr_set(err, COL_EPROTO, "system tables answered without rows");
			break;
		}
		for (uint32_t row = 0; row < r->n_rows && !rc; row++) {
			char addr[sizeof(b->nodes[0].host)];
			snprintf(addr, sizeof(addr), "%s", ctl_host);
			if (si == 1)
				peer_address(r, row, addr, sizeof(addr));
			if (!addr[0])
				continue;
			int idx = add_node(b, addr, ctl_port);
			if (idx < 0) {
				rc = cerr_set(err, COL_ETOOBIG, "more than %d nodes",
				              BENCH_MAX_NODES);
				break;
			}
			struct ring_endpoint *ep = &eps[n_eps];
			if ((rc = bench_ring_endpoint(r, row, ep, err)))
				break;
			snprintf(ep->address, sizeof(ep->address), "%s", addr);
			b->ring_node[n_eps++] = idx;
		}
	}
	if (!rc && n_eps == 0)
		rc = cerr_set(err, COL_ENOTFOUND, "the cluster reports no tokens");
	if (!rc && !(rc = ring_new(eps, n_eps, &b->ring, err))) {
		b->have_ring = true;
		b->routed = b->o->token_aware;
	}
	for (size_t i = 0; i < n_eps; i++)
		free((void *)eps[i].tokens);
	for (int si = 0; si < 2; si++)
		if (res[si])
			cqlresult_free(res[si]);
	return rc;
}

static int read_replication(struct bench *b, struct cqlclient *cl, struct replication *rep,
                            struct cerr *err)
{
	char cql[256];
	snprintf(cql, sizeof(cql),
	         "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = '%s'",
	         b->o->keyspace);
	struct cqlresult *r;
	int rc = control_query(cl, cql, &r, err);
	if (rc)
		return rc;
	int col = cqlresult_column(r, "replication");
	if (r->kind != CQLRES_ROWS || r->n_rows < 1 || col < 0) {
		cqlresult_free(r);
		return cerr_set(err, COL_ENOTFOUND, "keyspace '%s' does not exist", b->o->keyspace);
	}
	const struct cql_slice *cell = cqlresult_cell(r, 0, (uint32_t)col);
	rc = bench_parse_replication(cell->p, cell->len, rep, err);
	cqlresult_free(r);
	if (!rc)
		b->rf = replication_total_rf(rep);
	return rc;
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

/* ---- data connections ----------------------------------------------------------------------- */

static void on_ready(struct cqlconn *cc, void *arg, int status, const char *why)
{
	struct bconn *c = arg;
	(void)cc;
	c->connecting = false;
	if (c->b->phase == PH_SETUP)
		c->b->conns_pending--;
	if (status) {
		c->failed = true;
		c->ready = false;
		if (c->b->phase == PH_SETUP)
			fprintf(stderr, "colonnade bench: %s\n", why);
		return;
	}
	c->ready = true;
	c->failed = false;
	c->blocked = false;
}

static int conn_open(struct bench *b, struct bconn *c, struct cerr *err)
{
	struct cqlconn_opts co = {0};
	/* Room for our slots plus orphaned (timed-out) streams. */
	unsigned cap = b->cap_per_conn * 2 + 64;
	co.max_inflight = cap > 32768 ? 32768 : cap;
	co.request_timeout_ms = (unsigned)(b->o->timeout_us / 1000);
	co.connect_timeout_ms = 5000;
	c->b = b;
	c->ready = c->failed = c->blocked = false;
	c->connecting = true;
	c->inflight = 0;
	int rc = cqlconn_open(b->loop, c->node->host, c->node->port, &co, on_ready, c, &c->cc, err);
	if (rc) {
		c->connecting = false;
		c->failed = true;
		c->cc = NULL;
	}
	return rc;
}

/* Conns that failed during the run: free and reopen (from the tick timer,
 * never from inside a cqlconn callback). */
static void reconnect_failed(struct bench *b)
{
	for (int i = 0; i < b->n_nodes; i++)
		for (int k = 0; k < b->nodes[i].n_conns; k++) {
			struct bconn *c = &b->nodes[i].conns[k];
			if (c->connecting || (!c->failed && (!c->cc || cqlconn_ready(c->cc))))
				continue;
			if (c->cc && c->inflight)
				continue; /* let its requests fail first */
			if (c->cc)
				cqlconn_free(c->cc);
			c->cc = NULL;
			struct cerr err = {0};
			conn_open(b, c, &err);
		}
}

/* ---- the run loop ------------------------------------------------------------------------- */

static struct bconn *pick_conn(struct bench *b, struct bnode *n)
{
	for (int k = 0; k < n->n_conns; k++) {
		int i = (n->rr + k) % n->n_conns;
		struct bconn *c = &n->conns[i];
		if (c->ready && !c->failed && !c->blocked && c->inflight < b->cap_per_conn) {
			n->rr = (i + 1) % n->n_conns;
			return c;
		}
	}
	return NULL;
}

static bool node_usable(const struct bnode *n)
{
	for (int k = 0; k < n->n_conns; k++)
		if (n->conns[k].ready && !n->conns[k].failed)
			return true;
	return false;
}

/*
 * The connection for a key: a replica's (primary first) with a free slot.
 * While some replica is connected but every replica is busy, NULL: the op
 * waits for a replica rather than spilling onto a node that would forward
 * it (a closed loop would otherwise fill every slot and route around the
 * ring).  Only when no replica is reachable does any node coordinate.
 */
static struct bconn *route(struct bench *b, const uint8_t keybytes[8])
{
	if (b->routed) {
		size_t n_reps;
		const uint32_t *reps =
		        bench_route_replicas(&b->route, murmur3_token(keybytes, 8), &n_reps);
		bool replica_up = false;
		for (size_t i = 0; i < n_reps; i++) {
			struct bnode *n = &b->nodes[reps[i]];
			struct bconn *c = pick_conn(b, n);
			if (c)
				return c;
			replica_up |= node_usable(n);
		}
		if (replica_up)
			return NULL;
	}
	for (int k = 0; k < b->n_nodes; k++) {
		int i = (b->node_rr + k) % b->n_nodes;
		struct bconn *c = pick_conn(b, &b->nodes[i]);
		if (c) {
			b->node_rr = (i + 1) % b->n_nodes;
			return c;
		}
	}
	return NULL;
}

static void pump(struct bench *b);
static void on_result(struct cqlconn *cc, void *arg, int status, struct cqlresult *res,
                      const char *why);

static int send_req(struct bench *b, struct breq *r)
{
	struct cql_qparams p;
	cql_qparams_init(&p);
	bool is_read = r->op == BOP_READ || (r->op == BOP_RMW && r->phase == 0);
	p.consistency = is_read ? b->o->cl_read : b->o->cl_write;
	r->vals[0].p = r->keybytes;
	r->vals[0].len = 8;
	r->vals[1].p = b->value + (r->key & 255) + (r->phase ? 1 : 0);
	r->vals[1].len = b->o->value_size;
	p.values = r->vals;
	p.n_values = is_read ? 1 : 2;
	p.skip_metadata = is_read;
	return cqlconn_execute(r->conn->cc, is_read ? b->sel : b->ins, &p, on_result, r);
}

static void free_req(struct bench *b, struct breq *r)
{
	r->next_free = b->free_reqs;
	b->free_reqs = r;
}

static void remember_error(struct bench *b, enum bench_err kind, const char *msg)
{
	if (!b->first_error[kind][0])
		snprintf(b->first_error[kind], sizeof(b->first_error[kind]), "%s", msg);
}

static void finish(struct bench *b, struct breq *r, bool ok, int64_t now)
{
	if (ok)
		b->stats.ok++;
	int64_t service = b->open_loop ? now - r->sent_us : -1;
	if (b->open_loop)
		hdr_record(b->stats.send_delay, r->sent_us - r->intended_us);
	bench_stats_record(&b->stats, r->op, now - r->intended_us, service);
	b->last_done_us = now;
}

static void on_result(struct cqlconn *cc, void *arg, int status, struct cqlresult *res,
                      const char *why)
{
	struct breq *r = arg;
	struct bench *b = r->b;
	struct bconn *c = r->conn;
	int64_t now = clock_mono_us();
	(void)cc;
	c->inflight--;
	c->blocked = false;
	b->inflight--;
	if (status < 0) {
		enum bench_err kind =
		        status == COL_ETIMEDOUT ? BERR_CLIENT_TIMEOUT : BERR_CONNECTION;
		bench_stats_error(&b->stats, kind, 0);
		remember_error(b, kind, why ? why : col_strerror(status));
		if (kind == BERR_CONNECTION && !cqlconn_ready(c->cc))
			c->failed = true;
		finish(b, r, false, now);
	} else if (res->kind == CQLRES_ERROR) {
		enum bench_err kind = bench_err_of_code(res->error.code);
		bench_stats_error(&b->stats, kind, res->error.code);
		remember_error(b, kind, res_error_text(res));
		finish(b, r, false, now);
	} else {
		bool is_read = r->op == BOP_READ || (r->op == BOP_RMW && r->phase == 0);
		if (is_read && res->kind == CQLRES_ROWS && res->n_rows == 0)
			b->stats.read_misses++;
		if (r->op == BOP_RMW && r->phase == 0) {
			/* The modify-write half, on the same connection. */
			cqlresult_free(res);
			r->phase = 1;
			int rc = send_req(b, r);
			if (rc == 0) {
				c->inflight++;
				b->inflight++;
				return;
			}
			bench_stats_error(&b->stats, BERR_CONNECTION, 0);
			remember_error(b, BERR_CONNECTION, "could not send the write of a rmw");
			finish(b, r, false, now);
			free_req(b, r);
			pump(b);
			return;
		}
		if (r->op == BOP_INSERT)
			keyseq_ack(b->seq, r->key);
		finish(b, r, true, now);
	}
	if (res)
		cqlresult_free(res);
	free_req(b, r);
	pump(b);
}

static void arm_sched_timer(struct bench *b, int64_t at, int64_t now)
{
	ev_timer_stop(b->loop, &b->sched_timer);
	ev_now_update(b->loop); /* timers count from the loop's cached time */
	ev_timer_set(&b->sched_timer, (double)(at - now) / 1e6, 0);
	ev_timer_start(b->loop, &b->sched_timer);
}

static void stop_issuing(struct bench *b);

/* Choose the next op: its kind, key and intended start.  false: nothing now. */
static bool next_op(struct bench *b, int64_t now)
{
	if (b->max_ops && b->issued >= b->max_ops) {
		stop_issuing(b);
		return false;
	}
	int64_t intended = now;
	if (b->open_loop) {
		intended = bench_sched_due(&b->sched, b->issued);
		if (b->end_us && intended >= b->end_us) {
			stop_issuing(b);
			return false;
		}
		if (intended > now) {
			arm_sched_timer(b, intended, now);
			return false;
		}
	} else if (b->end_us && now >= b->end_us) {
		stop_issuing(b);
		return false;
	}
	enum bench_op op;
	uint64_t key;
	if (b->phase == PH_POPULATE) {
		op = BOP_WRITE;
		key = b->issued;
	} else {
		op = bench_mix_pick(&b->o->mix, keyrng_double(&b->rng));
		if (op == BOP_INSERT) {
			if (keyseq_next(b->seq, &key))
				return false; /* acks lag 64k keys behind: wait for answers */
		} else if (b->o->dist == BD_SEQUENTIAL) {
			key = b->issued % b->o->records;
		} else {
			key = keydist_next(b->dist, &b->rng);
		}
	}
	b->have_pending = true;
	b->p_op = op;
	b->p_key = key;
	b->p_intended = intended;
	b->issued++;
	return true;
}

static void stop_issuing(struct bench *b)
{
	if (!b->stop_issuing)
		b->stop_us = clock_mono_us();
	b->stop_issuing = true;
}

static void check_done(struct bench *b)
{
	if (b->stop_issuing && b->inflight == 0 && !b->done) {
		b->done = true;
		ev_break(b->loop, EVBREAK_ONE);
	}
}

static void pump(struct bench *b)
{
	while (!b->stop_issuing && !b->fatal) {
		int64_t now = clock_mono_us();
		if (!b->have_pending && !next_op(b, now))
			break;
		uint8_t kb[8];
		key_bytes(b->p_key, kb);
		struct bconn *c = route(b, kb);
		if (!c || !b->free_reqs)
			break; /* wait for an answer to free a slot */
		struct breq *r = b->free_reqs;
		b->free_reqs = r->next_free;
		memset(r, 0, sizeof(*r));
		r->b = b;
		r->conn = c;
		r->op = b->p_op;
		r->key = b->p_key;
		memcpy(r->keybytes, kb, 8);
		r->sent_us = now;
		r->intended_us = b->open_loop ? b->p_intended : now;
		int rc = send_req(b, r);
		if (rc) {
			free_req(b, r);
			if (rc == COL_EFULL) {
				c->blocked = true;
			} else if (rc == COL_ECLOSED) {
				c->failed = true;
			} else {
				b->fatal = true;
				snprintf(b->fatal_msg, sizeof(b->fatal_msg),
				         "cannot send a request to %s: %s", c->node->label,
				         col_strerror(rc));
				ev_break(b->loop, EVBREAK_ONE);
				return;
			}
			continue;
		}
		b->have_pending = false;
		b->sent++;
		c->inflight++;
		b->inflight++;
	}
	check_done(b);
}

#define BENCH_OF(ptr, member) ((struct bench *)((char *)(ptr)-offsetof(struct bench, member)))

static void sched_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	pump(BENCH_OF(w, sched_timer));
}

/* The run ends: stop scheduling.  Open loop: ops that were due but never sent
 * go into the histogram with the time they have waited so far (a lower bound
 * of their latency) — never silently dropped. */
static void end_run(struct bench *b)
{
	if (b->stop_issuing)
		return;
	int64_t now = clock_mono_us();
	stop_issuing(b);
	if (b->open_loop && b->phase == PH_RUN) {
		/* Ops due strictly before the end were owed; next_op() never
		 * schedules one due at or after it. */
		int64_t end = b->end_us && now >= b->end_us ? b->end_us - 1 : now;
		uint64_t due = bench_sched_due_count(&b->sched, end);
		if (b->max_ops && due > b->max_ops)
			due = b->max_ops;
		for (uint64_t i = b->sent; i < due; i++)
			hdr_record(b->stats.all, now - bench_sched_due(&b->sched, i));
		b->stats.backlog = due > b->sent ? due - b->sent : 0;
	}
	b->have_pending = false;
	ev_timer_stop(b->loop, &b->sched_timer);
	check_done(b);
}

static void end_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	struct bench *b = BENCH_OF(w, end_timer);
	int64_t now = clock_mono_us();
	if (now < b->end_us) {
		/* libev times from its cached loop time, which may be early. */
		ev_now_update(loop);
		ev_timer_set(w, (double)(b->end_us - now) / 1e6, 0);
		ev_timer_start(loop, w);
		return;
	}
	end_run(b);
}

static void sigint_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	struct bench *b = BENCH_OF(w, sigint);
	if (b->stop_issuing) {
		/* Second ^C: give up waiting for requests in flight. */
		b->done = true;
		ev_break(b->loop, EVBREAK_ONE);
		return;
	}
	fprintf(stderr, "colonnade bench: interrupted, finishing requests in flight\n");
	b->interrupted = true;
	end_run(b);
}

static void tick_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct bench *b = BENCH_OF(w, tick_timer);
	int64_t now = clock_mono_us();
	double interval = (double)(now - b->last_tick_us) / 1e6;
	double t = (double)(now - b->start_us) / 1e6;
	b->last_tick_us = now;
	if (b->phase == PH_POPULATE) {
		const struct bench_point *p = bench_stats_tick(&b->stats, t, interval);
		if (!b->o->quiet) {
			fprintf(b->progress,
			        "[%6.1fs] populate %llu/%llu (%.1f%%)  %.0f rows/s  errors %llu\n",
			        t, (unsigned long long)b->sent, (unsigned long long)b->o->populate,
			        100.0 * (double)b->sent / (double)b->o->populate, p->ops_per_s,
			        (unsigned long long)bench_stats_total_errors(&b->stats));
			fflush(b->progress);
		}
	} else if (b->phase == PH_RUN) {
		const struct bench_point *p = bench_stats_tick(&b->stats, t, interval);
		if (!b->o->quiet) {
			int64_t behind = -1;
			if (b->open_loop) {
				uint64_t due = bench_sched_due_count(&b->sched, now);
				if (b->max_ops && due > b->max_ops)
					due = b->max_ops;
				behind = due > b->sent ? (int64_t)(due - b->sent) : 0;
			}
			bench_report_progress(b->progress, p, b->inflight, behind);
		}
		for (int i = 0; i < b->ri.n_procs; i++)
			bench_nodeproc_sample(&b->ri.procs[i]);
	}
	reconnect_failed(b);
	pump(b);
}

static void run_phase(struct bench *b, enum bphase phase, uint64_t rate, int64_t duration_us,
                      uint64_t max_ops)
{
	b->phase = phase;
	b->open_loop = rate > 0;
	b->issued = b->sent = 0;
	b->stop_issuing = b->done = b->have_pending = false;
	b->start_us = clock_mono_us();
	b->end_us = duration_us ? b->start_us + duration_us : 0;
	b->sched.start_us = b->start_us;
	b->sched.rate = rate ? rate : 1;
	b->max_ops = max_ops;
	b->last_tick_us = b->last_done_us = b->start_us;
	ev_now_update(b->loop);
	ev_timer_set(&b->tick_timer, 1.0, 1.0);
	ev_timer_start(b->loop, &b->tick_timer);
	if (duration_us) {
		ev_timer_set(&b->end_timer, (double)duration_us / 1e6, 0);
		ev_timer_start(b->loop, &b->end_timer);
	}
	pump(b);
	while (!b->done && !b->fatal)
		ev_run(b->loop, 0);
	ev_timer_stop(b->loop, &b->tick_timer);
	ev_timer_stop(b->loop, &b->end_timer);
	ev_timer_stop(b->loop, &b->sched_timer);
}

/* ---- setup ------------------------------------------------------------------------------- */

struct sync_call {
	bool done;
	int status;
	struct cqlresult *res;
	char why[256];
};

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
			wait_for(b, &s.done, b->o->timeout_us + 1000000);
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
			wait_for(b, &never, 200000);
		}
	}
	if (!*out)
		return cerr_set(err, COL_ENOTFOUND, "no node to prepare statements on");
	return COL_OK;
}

/* One op at the requested level before the run: a level the cluster cannot
 * meet is a usage error, not a run full of Unavailable. 0, 1 or 2 (exit). */
static int probe(struct bench *b, bool is_read)
{
	struct breq r = {0};
	r.b = b;
	r.op = is_read ? BOP_READ : BOP_WRITE;
	r.key = 0;
	key_bytes(0, r.keybytes);
	r.conn = route(b, r.keybytes);
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
	wait_for(b, &s.done, b->o->timeout_us + 1000000);
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

static double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void free_bench(struct bench *b)
{
	for (int i = 0; i < b->n_nodes; i++) {
		for (int k = 0; k < b->nodes[i].n_conns; k++)
			if (b->nodes[i].conns[k].cc)
				cqlconn_free(b->nodes[i].conns[k].cc);
	}
	/* cqlconn_free fails pending requests through on_result; let any
	 * deferred frees run before the loop goes. */
	if (b->loop) {
		ev_run(b->loop, EVRUN_NOWAIT);
		ev_ref(b->loop);
		ev_signal_stop(b->loop, &b->sigint);
	}
	for (int i = 0; i < b->n_nodes; i++)
		free(b->nodes[i].conns);
	if (b->ins)
		cqlprepared_free(b->ins);
	if (b->sel)
		cqlprepared_free(b->sel);
	bench_route_release(&b->route);
	if (b->ring)
		ring_unref(b->ring);
	bench_stats_release(&b->stats);
	keydist_free(b->dist);
	free(b->seq);
	free(b->reqs);
	free(b->value);
	if (b->loop)
		ev_loop_destroy(b->loop);
	free(b);
}

/* ---- setup and run, step by step --------------------------------------------------------------
 */

/* The bench with its event loop and watchers; NULL (after saying why) if
 * either cannot be had. */
static struct bench *bench_new(struct bench_opts *o)
{
	struct bench *b = calloc(1, sizeof(*b));
	if (!b) {
		fprintf(stderr, "colonnade bench: out of memory\n");
		return NULL;
	}
	b->o = o;
	b->rf = -1;
	b->progress = o->json ? stderr : stdout;
	b->loop = ev_loop_new(EVFLAG_AUTO);
	if (!b->loop || bench_stats_init(&b->stats)) {
		fprintf(stderr, "colonnade bench: cannot set up the event loop\n");
		free_bench(b);
		return NULL;
	}
	ev_init(&b->sched_timer, sched_timer_cb);
	ev_init(&b->tick_timer, tick_timer_cb);
	ev_init(&b->end_timer, end_timer_cb);
	ev_init(&b->wait_timer, wait_timer_cb);
	ev_signal_init(&b->sigint, sigint_cb, SIGINT);
	ev_signal_start(b->loop, &b->sigint);
	ev_unref(b->loop); /* the signal watcher alone must not keep the loop alive */
	keyrng_seed(&b->rng, o->seed);
	return b;
}

/* The control connection and its address. */
struct bench_ctl {
	struct cqlclient *cl;
	char host[256];
	uint16_t port;
	int n_contacts; /* contact points added as nodes (their indexes are stable) */
};

/* Adds every contact point as a node, then opens the control connection to
 * the first that answers.  Returns 0, or 1 when none answers. */
static int connect_contacts(struct bench *b, struct bench_ctl *ctl)
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
static int setup_ring_and_schema(struct bench *b, const struct bench_ctl *ctl)
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
	if (read_replication(b, ctl->cl, &rep, &err)) {
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
	}
	if (b->routed && bench_route_build(&b->route, b->ring, b->ring_node, &rep))
		b->routed = false;
	int rc = 0;
	if ((workload_writes(o) && (rc = check_cl(b, o->cl_write, "--cl-write", false))) ||
	    (workload_reads(o) && (rc = check_cl(b, o->cl_read, "--cl-read", true))))
		return rc;
	return 0;
}

/* Starts the data connections to the first `connect_nodes` nodes and counts
 * them in *total.  Returns 0 or the exit code. */
static int open_data_conns(struct bench *b, int connect_nodes, int *total)
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
			if (conn_open(b, c, &err) == 0)
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
static int await_data_conns(struct bench *b, int connect_nodes, int total)
{
	bool all_settled = false;
	int64_t deadline = clock_mono_us() + 15 * 1000000LL;
	while (b->conns_pending > 0 && clock_mono_us() < deadline) {
		wait_for(b, &all_settled, 100000);
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
static int prepare_statements(struct bench *b)
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
static int setup_requests(struct bench *b, int total)
{
	const struct bench_opts *o = b->o;
	size_t n_reqs = (size_t)total * (size_t)o->inflight;
	b->reqs = calloc(n_reqs, sizeof(*b->reqs));
	b->value = malloc((size_t)o->value_size + 257);
	b->seq = malloc(sizeof(*b->seq));
	if (!b->reqs || !b->value || !b->seq) {
		fprintf(stderr, "colonnade bench: out of memory for %zu requests\n", n_reqs);
		return 1;
	}
	for (size_t i = 0; i < n_reqs; i++)
		free_req(b, &b->reqs[i]);
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
static void find_node_procs(struct bench *b, int connect_nodes)
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
		if (bench_proc_find_listener(b->nodes[i].host, b->nodes[i].port, &n->pid))
			n->pid = 0;
	}
}

/* The --populate phase.  Returns 0, or 1 if it failed or was interrupted. */
static int populate(struct bench *b)
{
	const struct bench_opts *o = b->o;
	if (!o->quiet)
		fprintf(b->progress, "populating %llu rows (keys 0..%llu) at %s\n",
		        (unsigned long long)o->populate, (unsigned long long)o->populate - 1,
		        cql_consistency_name(o->cl_write));
	run_phase(b, PH_POPULATE, 0, 0, o->populate);
	b->ri.populated = b->sent;
	b->ri.populate_s = (double)(b->last_done_us - b->start_us) / 1e6;
	b->ri.populate_errors = bench_stats_total_errors(&b->stats);
	bench_stats_reset(&b->stats);
	if (b->fatal) {
		fprintf(stderr, "colonnade bench: %s\n", b->fatal_msg);
		return 1;
	}
	if (b->interrupted) {
		fprintf(stderr,
		        "colonnade bench: interrupted while populating (%llu of "
		        "%llu rows written)\n",
		        (unsigned long long)b->ri.populated, (unsigned long long)o->populate);
		return 1;
	}
	return 0;
}

/* The measured phase, with the node processes' and our own CPU around it.
 * Returns 0, or 1 on a fatal error. */
static int run_workload(struct bench *b)
{
	const struct bench_opts *o = b->o;
	if (!o->quiet)
		fprintf(b->progress, "running workload %s for %s%s\n",
		        bench_workload_name(o->workload), o->ops ? "a number of ops" : "a duration",
		        o->rate ? " (open loop)" : " (closed loop)");
	for (int i = 0; i < b->ri.n_procs; i++)
		bench_nodeproc_start(&b->ri.procs[i]);
	double cpu0 = self_cpu_s();
	run_phase(b, PH_RUN, o->rate, o->duration_us, o->ops);
	/* Throughput counts until the last answer, or until scheduling stopped
	 * if that was later (an open loop that ran out of time). */
	int64_t end = b->last_done_us > b->stop_us ? b->last_done_us : b->stop_us;
	if (end <= b->start_us)
		end = clock_mono_us();
	b->ri.elapsed_s = (double)(end - b->start_us) / 1e6;
	b->ri.client_cpu_s = self_cpu_s() - cpu0;
	for (int i = 0; i < b->ri.n_procs; i++)
		bench_nodeproc_end(&b->ri.procs[i]);
	if (b->fatal) {
		fprintf(stderr, "colonnade bench: %s\n", b->fatal_msg);
		return 1;
	}
	return 0;
}

/* Summary or JSON, the first error of each kind, the histogram and plot
 * files.  Returns the exit code. */
static int report(struct bench *b)
{
	const struct bench_opts *o = b->o;
	struct cerr err = {0};
	if (o->json)
		bench_report_json(stdout, &b->ri, &b->stats);
	else
		bench_report_summary(stdout, &b->ri, &b->stats);
	for (int k = 0; k < BERR__N; k++)
		if (b->first_error[k][0])
			fprintf(o->json ? stderr : stdout, "  first %s: %s\n",
			        bench_err_name((enum bench_err)k), b->first_error[k]);
	int exit_code = 0;
	if (o->hdr_out && bench_report_hgrm(o->hdr_out, &b->stats, &err)) {
		fprintf(stderr, "colonnade bench: %s\n", err.msg);
		exit_code = 1;
	}
	if (o->plot && bench_report_plot(o->plot, &b->ri, &b->stats, &err)) {
		fprintf(stderr, "colonnade bench: %s\n", err.msg);
		exit_code = 1;
	}
	if (bench_stats_total_ops(&b->stats) && !b->stats.ok) {
		fprintf(stderr, "colonnade bench: every operation failed\n");
		exit_code = 1;
	}
	return exit_code;
}

/* Setup (control connection, ring and schema, data connections, prepared
 * statements, request pool, probes), then populate, run and report. */
static int bench_run(struct bench_opts *o)
{
	struct bench *b = bench_new(o);
	if (!b)
		return 1;
	struct bench_ctl ctl = {0};
	int total = 0;
	int rc = connect_contacts(b, &ctl);
	if (!rc)
		rc = setup_ring_and_schema(b, &ctl);
	int connect_nodes = o->discover ? b->n_nodes : ctl.n_contacts;
	if (!rc)
		rc = open_data_conns(b, connect_nodes, &total);
	if (!rc)
		rc = await_data_conns(b, connect_nodes, total);
	if (!rc)
		rc = prepare_statements(b);
	if (ctl.cl) {
		cqlclient_free(ctl.cl);
		ctl.cl = NULL;
	}
	if (!rc)
		rc = setup_requests(b, total);
	if (!rc && workload_writes(o))
		rc = probe(b, false);
	if (!rc && workload_reads(o))
		rc = probe(b, true);
	if (rc) {
		free_bench(b);
		return rc;
	}
	find_node_procs(b, connect_nodes);
	b->ri.o = o;
	b->ri.rf = b->rf;
	b->ri.routed = b->routed;
	rc = o->populate ? populate(b) : 0;
	if (!rc)
		rc = run_workload(b);
	if (!rc)
		rc = report(b);
	free_bench(b);
	return rc;
}

int bench_main(int argc, char **argv)
{
	struct bench_opts o;
	bench_opts_init(&o);
	struct cerr err = {0};
	bool help = false;
	if (bench_opts_parse(&o, argc, argv, &help, &err)) {
		fprintf(stderr, "colonnade bench: %s\n", err.msg);
		bench_opts_release(&o);
		return 2;
	}
	if (help) {
		bench_usage(stdout);
		bench_opts_release(&o);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	int rc = bench_run(&o);
	bench_opts_release(&o);
	return rc;
}
