/*
 * node_loops.c — a node's request loops (io_threads; docs/ARCHITECTURE.md,
 * Threads): threads that each run a libev loop with a CQL server of their own.
 *
 * The main loop keeps its listener and its own CQL server; it hands accepted
 * clients round-robin to itself and the request loops (a bounded mailbox per
 * loop).  A request loop decodes frames, parses, plans, binds and encodes
 * results, and serves from this node's replica what it answers alone.  In a
 * cluster it also coordinates replicated requests itself: a messaging
 * instance of its own (no listener; its requests' answers come back on its
 * own connections), a storage proxy of its own reading liveness and addresses
 * from the main loop's published snapshot (node_live.c), its hints handed to
 * the main loop's hint store.  Its router hops the rest to the main loop
 * (router.h, router_new_hop) and the answer comes back to the loop that asked.
 * Statements only the schema's owner runs (DDL, virtual tables) are forwarded
 * whole to the main loop's server.  EVENTs the main server sends are relayed
 * to every loop's server.  Each loop publishes its server's counters twice a
 * second for /metrics.
 */
#include "coordinator/node/node_int.h"

#include "coordinator/query/executor.h"
#include "coordinator/query/prepared.h"
#include "coordinator/replication/router.h"
#include "coordinator/replication/storage_proxy.h"
#include "coordinator/transport/cqlserver.h"
#include "core/log.h"
#include "core/mailbox.h"
#include "core/net.h"
#include "core/ring.h"
#include "gossip/messaging.h"
#include "storage/storage.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOD "node"

/* Accepted sockets waiting for a loop; beyond this the main loop serves the client. */
#define LOOP_FD_QUEUE 1024
/* Requests a loop may have away at the main loop (hops and forwards). */
#define LOOP_MAX_HOPS 65536
/* Prepared statements kept (LRU), one cache for every loop's CQL server. */
#define NODE_PREPARED_MAX 10000
/* How often a loop publishes its counters. */
#define LOOP_STATS_S 0.5

struct node_loop {
	struct node *n;
	unsigned idx; /* 1.. (the main loop is 0) */
	pthread_t thread;
	bool running;
	struct ev_loop *ev;
	struct net_loop *net;
	struct mailbox mb;
	struct router *router;
	struct store_lane *lane; /* group commit for the writes this loop applies */
	/* Coordination on this loop (a node in a cluster, internode TLS off): NULL otherwise. */
	struct messaging *msg;
	struct storage_proxy *sp;
	struct node_live_view live;   /* liveness and addresses, for sp */
	struct admit_bytes mut_bytes; /* mutation bytes in flight (sp, cql; core/admit.h) */
	struct cqlserver *cql;
	ev_timer stats_timer;
	pthread_mutex_t stats_lock;
	struct cqlserver_stats stats;       /* published under stats_lock */
	struct router_stats rstats;         /* requests it served from this node's replica */
	struct storage_proxy_stats spstats; /* requests it coordinated */
	struct messaging_stats mstats;
};

/* ---- jobs ------------------------------------------------------------------------------------ */

struct fd_job {
	struct mailbox_job job;
	struct node_loop *l;
	int fd;
	struct net_addr peer;
};

static void fd_job_run(struct mailbox_job *job, bool closing)
{
	struct fd_job *j = (struct fd_job *)job;
	if (closing || !j->l->cql)
		close(j->fd);
	else
		(void)cqlserver_adopt(j->l->cql, j->fd, &j->peer);
	free(j);
}

/* The main CQL server's hand-off: round-robin over the main loop (0) and the request loops. */
static int cql_handoff(void *ctx, int fd, const struct net_addr *peer)
{
	struct node *n = ctx;
	if (n->stopping || !n->n_loops)
		return 1;
	unsigned k = ++n->next_loop % (n->n_loops + 1); /* the first client to a request loop */
	if (k == 0)
		return 1;
	struct node_loop *l = n->loops[k - 1];
	struct fd_job *j = malloc(sizeof(*j));
	if (!j)
		return 1;
	j->job.fn = fd_job_run;
	j->l = l;
	j->fd = fd;
	j->peer = *peer;
	if (mailbox_try_post(&l->mb, &j->job)) {
		free(j);
		return 1; /* that loop is backed up (or stopping): serve it here */
	}
	return 0;
}

/* A statement for the schema's owner: runs on the main loop's server, answers on its loop. */
struct fwd_job {
	struct mailbox_job job;
	struct node_loop *l;
	struct exec_req *req; /* the loop's request, untouched until the answer is back */
	struct exec_req x;    /* the same request as the main loop runs it */
	struct exec_session session;
	size_t len;
	uint8_t body[];
};

static void fwd_back(struct mailbox_job *job, bool closing)
{
	struct fwd_job *f = (struct fwd_job *)job;
	struct exec_req *req = f->req;
	if (!closing) {
		buf_reset(&req->body_out);
		buf_put(&req->body_out, f->x.body_out.data, f->x.body_out.len);
		req->err = f->x.err;
		req->about = f->x.about;
		memcpy(req->warning, f->x.warning, sizeof(req->warning));
		if (!req->err.code && !buf_ok(&req->body_out))
			cerr_set(&req->err, COL_ENOMEM, "out of memory copying a forwarded answer");
		req->done(req);
	}
	buf_release(&f->x.body_out);
	free(f);
}

static void fwd_done(struct exec_req *x)
{
	struct fwd_job *f = (struct fwd_job *)((char *)x - offsetof(struct fwd_job, x));
	f->job.fn = fwd_back;
	mailbox_post(&f->l->mb, &f->job);
}

static void fwd_run(struct mailbox_job *job, bool closing)
{
	struct fwd_job *f = (struct fwd_job *)job;
	struct node *n = f->l->n;
	if (closing || !n->cql) {
		cerr_set(&f->x.err, COL_ECLOSED, "the node is shutting down");
		fwd_done(&f->x);
		return;
	}
	f->x.session = &f->session;
	f->x.body = f->body;
	f->x.body_len = f->len;
	f->x.done = fwd_done;
	cqlserver_run(n->cql, &f->x);
}

static void loop_forward(void *ctx, struct exec_req *req)
{
	struct node_loop *l = ctx;
	struct fwd_job *f = calloc(1, sizeof(*f) + req->body_len);
	int rc = f ? 0 : COL_ENOMEM;
	if (f) {
		f->job.fn = fwd_run;
		f->l = l;
		f->req = req;
		f->session = *req->session;
		f->x.opcode = req->opcode;
		buf_init(&f->x.body_out);
		f->len = req->body_len;
		memcpy(f->body, req->body, req->body_len);
		rc = mailbox_try_post(&l->n->main_mb, &f->job);
		if (rc == 0)
			return;
		free(f);
	}
	buf_reset(&req->body_out);
	if (rc == COL_EFULL)
		cerr_set(&req->err, COL_EOVERLOADED, "the main loop's request queue is full");
	else if (rc == COL_ECLOSED)
		cerr_set(&req->err, COL_ECLOSED, "the node is shutting down");
	else
		cerr_set(&req->err, rc, "out of memory forwarding a statement to the main loop");
	req->done(req);
}

/* An EVENT the main server sent, for one loop's clients. */
struct event_job {
	struct mailbox_job job;
	struct node_loop *l;
	unsigned mask;
	size_t len;
	uint8_t body[];
};

static void event_run(struct mailbox_job *job, bool closing)
{
	struct event_job *e = (struct event_job *)job;
	if (!closing && e->l->cql)
		cqlserver_event_raw(e->l->cql, e->mask, e->body, e->len);
	free(e);
}

static void event_tap(void *ctx, unsigned mask, const uint8_t *body, size_t len)
{
	struct node *n = ctx;
	for (unsigned i = 0; i < n->n_loops; i++) {
		struct event_job *e = malloc(sizeof(*e) + len);
		if (!e)
			continue;
		e->job.fn = event_run;
		e->l = n->loops[i];
		e->mask = mask;
		e->len = len;
		memcpy(e->body, body, len);
		if (mailbox_try_post(&e->l->mb, &e->job)) {
			log_warn(
			        MOD,
			        "request loop %u is backed up: an EVENT for its clients is dropped",
			        e->l->idx);
			free(e);
		}
	}
}

/* ---- coordination on a loop ----------------------------------------------------------------- */

/* A hint for the main loop's hint store: a replica this loop's proxy found down or silent. */
struct hint_job {
	struct mailbox_job job;
	struct node *n;
	struct ring *ring; /* a reference: idx is a node of it */
	size_t idx;
	size_t len;
	uint8_t mut[];
};

static void hint_run(struct mailbox_job *job, bool closing)
{
	struct hint_job *h = (struct hint_job *)job;
	if (!closing) /* a refusal (hints disabled, window passed) is the hint store's to count */
		(void)node_hint(h->n, h->ring, h->idx, h->mut, h->len, 0);
	ring_unref(h->ring);
	free(h);
}

/*
 * The loop proxy's hint sink (sp_hint_fn): the mutation goes to the main loop,
 * which owns the hint store and delivers hints.  0 once it is on its way (the
 * store runs there; ANY, which needs it durable first, never runs on a loop),
 * so the loop's `hints` counter counts hints handed over; the hint store's
 * own counters say which it kept.
 */
static int loop_hint(void *ctx, const struct ring *r, size_t idx, const uint8_t *mut, size_t len,
                     unsigned flags)
{
	struct node_loop *l = ctx;
	if (flags & SP_HINT_SYNC)
		return COL_EUNAVAILABLE;
	struct hint_job *h = malloc(sizeof(*h) + len);
	if (!h)
		return COL_ENOMEM;
	h->job.fn = hint_run;
	h->n = l->n;
	h->ring = ring_ref((struct ring *)r);
	h->idx = idx;
	h->len = len;
	memcpy(h->mut, mut, len);
	int rc = mailbox_try_post(&l->n->main_mb, &h->job);
	if (rc) {
		ring_unref(h->ring);
		free(h);
	}
	return rc;
}

void node_proxy_config(const struct node *n, struct messaging *msg, struct store_lane *lane,
                       struct storage_proxy_config *sc)
{
	const struct config *cfg = &n->cfg;
	memset(sc, 0, sizeof(*sc));
	sc->msg = msg;
	sc->store = n->store;
	sc->lane = lane;
	sc->local_dc = cfg->dc;
	sc->write_timeout_ms = (unsigned)cfg->write_request_timeout_ms;
	sc->read_timeout_ms = (unsigned)cfg->read_request_timeout_ms;
	sc->range_timeout_ms = (unsigned)cfg->range_request_timeout_ms;
	sc->truncate_timeout_ms = (unsigned)cfg->truncate_request_timeout_ms;
	sc->storage_port = (uint16_t)cfg->storage_port;
	sc->max_requests = (unsigned)cfg->max_coordinated_requests;
}

void node_mut_bytes_init(const struct node *n, struct admit_bytes *b)
{
	*b = (struct admit_bytes){.max = (uint64_t)n->cfg.max_coordinated_mutation_bytes};
}

void node_cql_options(const struct node *n, struct cqlserver_options *o)
{
	const struct config *cfg = &n->cfg;
	memset(o, 0, sizeof(*o));
	o->max_frame_size = (size_t)cfg->native_transport_max_frame_size;
	o->max_connections = (unsigned)cfg->native_transport_max_concurrent_connections;
	o->max_requests = (unsigned)cfg->native_transport_max_concurrent_requests;
	o->latency_target_us = cfg->native_transport_latency_target_ms * 1000;
	o->max_queue_wait_us = cfg->native_transport_max_queue_wait_ms * 1000;
	o->throw_on_overload = cfg->native_transport_throw_on_overload;
}

void node_cql_deps(struct node *n, struct router *router, struct cqlserver_deps *d)
{
	memset(d, 0, sizeof(*d));
	d->schema = n->schema;
	d->store = n->store;
	d->router = router;
	d->view = &n->view;
	d->prepared = n->prepared;
}

/*
 * The loop's own messaging (a sender: no listener, answers on its own
 * connections) and storage proxy, configured as the main loop's.  Not with
 * internode encryption: which peers get TLS is decided from gossip's view
 * (dc, rack) on the main loop, so those nodes coordinate there.
 */
static int loop_new_proxy(struct node *n, struct node_loop *l, struct cerr *err)
{
	const struct config *cfg = &n->cfg;
	if (!n->sp || !n->msg || n->tls.internode_server || n->tls.internode_client)
		return 0;
	struct messaging_config mc;
	memset(&mc, 0, sizeof(mc));
	mc.cluster_name = messaging_cluster_name(n->msg);
	mc.host_id = *messaging_host_id(n->msg);
	mc.listen = *messaging_listen_addr(n->msg); /* the source address of its connections */
	mc.broadcast = *messaging_broadcast_addr(n->msg);
	mc.peer_queue_bytes = (size_t)cfg->internode_send_queue_capacity;
	if (cfg->internode_secret && *cfg->internode_secret) {
		mc.secret = (const uint8_t *)cfg->internode_secret;
		mc.secret_len = strlen(cfg->internode_secret);
	}
	mc.no_listen = true;
	int rc = messaging_new(l->net, &mc, &l->msg, err);
	if (rc)
		return rc;
	l->live.n = n;
	struct storage_proxy_config sc;
	node_proxy_config(n, l->msg, l->lane, &sc);
	sc.is_alive = node_live_alive;
	sc.alive_ctx = &l->live;
	sc.addr_of = node_live_addr;
	sc.addr_ctx = &l->live;
	sc.hint = loop_hint;
	sc.hint_ctx = l;
	sc.bytes = &l->mut_bytes;
	rc = storage_proxy_new(&sc, &l->sp, err);
	if (rc)
		return rc;
	router_set_loop_proxy(l->router, l->sp);
	return 0;
}

/* A peer gossip convicted: the loop's connection to it is closed, as the main loop's is. */
struct reset_job {
	struct mailbox_job job;
	struct node_loop *l;
	struct net_addr addr;
};

static void reset_run(struct mailbox_job *job, bool closing)
{
	struct reset_job *r = (struct reset_job *)job;
	if (!closing && r->l->msg)
		messaging_reset_peer(r->l->msg, &r->addr);
	free(r);
}

void node_loops_peer_down(struct node *n, const struct net_addr *addr)
{
	for (unsigned i = 0; i < n->n_loops; i++) {
		struct reset_job *r = malloc(sizeof(*r));
		if (!r)
			continue;
		r->job.fn = reset_run;
		r->l = n->loops[i];
		r->addr = *addr;
		if (!r->l->msg || mailbox_try_post(&r->l->mb, &r->job))
			free(r); /* backed up: its connection still ends by the TCP user timeout */
	}
}

/* End what the loop coordinates: its requests to replicas answer COL_ECLOSED, then its
 * own replica's writes in the lane answer; the CQL server is still there for both. */
static void loop_free_proxy(struct node_loop *l)
{
	if (l->router)
		router_set_loop_proxy(l->router, NULL);
	messaging_free(l->msg);
	l->msg = NULL;
	store_lane_free(l->lane);
	l->lane = NULL;
	storage_proxy_free(l->sp);
	l->sp = NULL;
	node_live_view_release(&l->live);
}

/* ---- a loop's life ----------------------------------------------------------------------------
 */

static void publish_stats(struct node_loop *l)
{
	struct cqlserver_stats st;
	struct router_stats rs;
	struct storage_proxy_stats ss;
	struct messaging_stats ms;
	memset(&st, 0, sizeof(st));
	memset(&rs, 0, sizeof(rs));
	memset(&ss, 0, sizeof(ss));
	memset(&ms, 0, sizeof(ms));
	if (l->cql)
		cqlserver_get_stats(l->cql, &st);
	if (l->router)
		router_get_stats(l->router, &rs);
	pthread_mutex_lock(&l->stats_lock);
	if (l->sp) {
		storage_proxy_get_stats(l->sp, &ss);
		messaging_get_stats(l->msg, &ms);
	} else {
		ss = l->spstats; /* the last figures stay after the proxy is gone */
		ms = l->mstats;
	}
	l->stats = st;
	l->rstats = rs;
	l->spstats = ss;
	l->mstats = ms;
	pthread_mutex_unlock(&l->stats_lock);
}

static void on_stats_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	publish_stats(w->data);
}

/*
 * The last job a loop runs: every answer the main loop owed it came before it
 * (node_loops_stop posts it after the main loop's requests ended), so its
 * server closes with nothing in flight.
 */
struct stop_job {
	struct mailbox_job job;
	struct node_loop *l;
};

static void loop_stop_run(struct mailbox_job *job, bool closing)
{
	(void)closing;
	struct stop_job *s = (struct stop_job *)job;
	struct node_loop *l = s->l;
	free(s);
	publish_stats(l);
	loop_free_proxy(l);
	store_lane_free(l->lane); /* its writes answer while the server is still there */
	l->lane = NULL;
	cqlserver_free(l->cql);
	l->cql = NULL;
	unsigned away = router_hops_in_flight(l->router);
	if (away)
		log_warn(MOD, "request loop %u stops with %u requests unanswered", l->idx, away);
	else
		router_free(l->router);
	l->router = NULL;
	ev_timer_stop(l->ev, &l->stats_timer);
	ev_break(l->ev, EVBREAK_ALL);
}

static void *loop_main(void *arg)
{
	struct node_loop *l = arg;
	char name[16];
	snprintf(name, sizeof(name), "colonnade-io%u", l->idx);
	pthread_setname_np(pthread_self(), name);
	ev_run(l->ev, 0);
	mailbox_close(&l->mb);
	net_loop_free(l->net);
	l->net = NULL;
	return NULL;
}

static void loop_free(struct node_loop *l)
{
	if (!l)
		return;
	loop_free_proxy(l);
	store_lane_free(l->lane);
	if (l->cql)
		cqlserver_free(l->cql);
	if (l->router)
		router_free(l->router);
	if (l->net)
		net_loop_free(l->net);
	if (l->ev) {
		mailbox_destroy(&l->mb);
		ev_loop_destroy(l->ev);
	}
	pthread_mutex_destroy(&l->stats_lock);
	free(l);
}

static int loop_new(struct node *n, unsigned idx, struct node_loop **out, struct cerr *err)
{
	struct node_loop *l = calloc(1, sizeof(*l));
	if (!l)
		return cerr_set(err, COL_ENOMEM, "request loop %u: out of memory", idx);
	l->n = n;
	l->idx = idx;
	node_mut_bytes_init(n, &l->mut_bytes);
	pthread_mutex_init(&l->stats_lock, NULL);
	l->ev = ev_loop_new(EVFLAG_AUTO);
	int rc = l->ev ? 0 : COL_EIO;
	if (!rc)
		rc = mailbox_init(&l->mb, l->ev, LOOP_FD_QUEUE);
	if (!rc)
		rc = net_loop_new(l->ev, &l->net);
	if (!rc)
		net_loop_set_coalescing(l->net, (uint32_t)n->cfg.io_coalescing_window_us);
	if (!rc)
		rc = store_lane_new(n->store, l->ev, &l->lane, err) ? COL_EIO : 0;
	if (!rc)
		rc = router_new_hop(n->router, &n->main_mb, &l->mb, LOOP_MAX_HOPS, n->id.host_id,
		                    l->lane, &l->router);
	if (rc) {
		loop_free(l);
		return cerr_set(err, rc, "request loop %u: cannot create its event loop", idx);
	}
	rc = loop_new_proxy(n, l, err);
	if (rc) {
		loop_free(l);
		cerr_prefix(err, "request loop %u: ", idx);
		return rc;
	}
	struct cqlserver_options o;
	node_cql_options(n, &o);
	o.no_listen = true;
	struct cqlserver_deps d;
	node_cql_deps(n, l->router, &d);
	d.forward = loop_forward;
	d.forward_ctx = l;
	d.bytes = &l->mut_bytes;
	d.tracing = node_traces_sink(n);
	rc = cqlserver_new(l->net, &o, &d, &l->cql, err);
	if (rc) {
		loop_free(l);
		return rc;
	}
	ev_timer_init(&l->stats_timer, on_stats_timer, LOOP_STATS_S, LOOP_STATS_S);
	l->stats_timer.data = l;
	ev_timer_start(l->ev, &l->stats_timer); /* also keeps the loop running */
	*out = l;
	return 0;
}

/* ---- the node's side ------------------------------------------------------------------------ */

unsigned node_io_threads(const struct config *cfg)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want =
	        cfg->io_threads > 0 ? (unsigned)cfg->io_threads : (cores > 0 ? (unsigned)cores : 1);
	return want > NODE_MAX_LOOPS + 1 ? NODE_MAX_LOOPS + 1 : want;
}

int node_loops_prepare(struct node *n, struct cerr *err)
{
	int rc = prepared_cache_new(NODE_PREPARED_MAX, &n->prepared);
	if (rc)
		return cerr_set(err, rc, "cannot create the prepared-statement cache");
	if (mailbox_init(&n->main_mb, n->loop, LOOP_MAX_HOPS))
		return cerr_set(err, COL_EIO, "cannot create the main loop's mailbox");
	n->main_mb_open = true;
	return 0;
}

int node_loops_start(struct node *n, struct cerr *err)
{
	unsigned want = node_io_threads(&n->cfg);
	if (want <= 1)
		return 0;
	if (n->auth || n->roles || n->tls.cql) {
		log_warn(MOD,
		         "io_threads %u: with %s every CQL client is served on the main loop (%s)",
		         want, n->auth ? "PasswordAuthenticator" : "client encryption",
		         n->auth ? "logins answer on it" : "TLS sessions are set up there");
		return 0;
	}
	for (unsigned i = 1; i < want; i++) {
		struct node_loop *l = NULL;
		int rc = loop_new(n, i, &l, err);
		if (rc)
			return rc;
		if (pthread_create(&l->thread, NULL, loop_main, l)) {
			loop_free(l);
			return cerr_set(err, COL_EIO, "request loop %u: cannot start its thread",
			                i);
		}
		l->running = true;
		n->loops[n->n_loops++] = l;
	}
	if (n->loops[0]->sp)
		node_live_start(n);
	cqlserver_set_handoff(n->cql, cql_handoff, n);
	log_info(MOD, "io_threads %u: the main loop and %u request loops serve CQL clients", want,
	         n->n_loops);
	return 0;
}

void node_loops_event_tap(void *ctx, unsigned mask, const uint8_t *body, size_t len)
{
	event_tap(ctx, mask, body, len);
}

void node_schema_merged(void *ctx, enum schema_ev_change c, enum schema_ev_target t, const char *ks,
                        const char *name)
{
	struct node *n = ctx;
	log_debug(MOD, "schema merged from a peer: %s %s %s%s%s", schema_ev_change_name(c),
	          schema_ev_target_name(t), ks, name ? "." : "", name ? name : "");
	if (n->cql)
		cqlserver_event_schema(n->cql, schema_ev_change_name(c), schema_ev_target_name(t),
		                       ks, name);
}

void node_loops_close_main(struct node *n)
{
	node_live_stop(n);
	if (n->main_mb_open) {
		mailbox_close(&n->main_mb);
		n->main_mb_open = false;
		n->main_mb_closed = true;
	}
}

void node_loops_stop(struct node *n)
{
	node_loops_close_main(n);
	for (unsigned i = 0; i < n->n_loops; i++) {
		struct node_loop *l = n->loops[i];
		struct stop_job *s = malloc(sizeof(*s));
		if (s) {
			s->job.fn = loop_stop_run;
			s->l = l;
			mailbox_post(&l->mb, &s->job);
		} else {
			ev_break(l->ev,
			         EVBREAK_ALL); /* unsafe only in theory: out of memory at exit */
		}
	}
	for (unsigned i = 0; i < n->n_loops; i++) {
		struct node_loop *l = n->loops[i];
		if (l->running)
			pthread_join(l->thread, NULL);
		l->running = false;
		loop_free(l);
		n->loops[i] = NULL;
	}
	n->n_loops = 0;
	if (n->main_mb_closed) {
		mailbox_destroy(&n->main_mb);
		n->main_mb_closed = false;
	}
	prepared_cache_free(n->prepared);
	n->prepared = NULL;
}

void node_loops_cql_stats(struct node *n, struct cqlserver_stats *sum)
{
	for (unsigned i = 0; i < n->n_loops; i++) {
		struct node_loop *l = n->loops[i];
		pthread_mutex_lock(&l->stats_lock);
		sum->conns_open += l->stats.conns_open;
		sum->requests += l->stats.requests;
		sum->errors += l->stats.errors;
		sum->protocol_errors += l->stats.protocol_errors;
		sum->events_sent += l->stats.events_sent;
		sum->inflight += l->stats.inflight;
		sum->overloaded += l->stats.overloaded;
		sum->queue_expired += l->stats.queue_expired;
		sum->bytes_refused += l->stats.bytes_refused;
		for (int k = 0; k < 2; k++) {
			for (size_t b = 0; b < NET_ITER_BUCKETS; b++)
				sum->wait_buckets[k][b] += l->stats.wait_buckets[k][b];
			sum->wait_count[k] += l->stats.wait_count[k];
			sum->wait_sum_us[k] += l->stats.wait_sum_us[k];
		}
		pthread_mutex_unlock(&l->stats_lock);
	}
}

void node_loops_sp_stats(struct node *n, struct storage_proxy_stats *sum)
{
	for (unsigned i = 0; i < n->n_loops; i++) {
		struct node_loop *l = n->loops[i];
		pthread_mutex_lock(&l->stats_lock);
		const struct storage_proxy_stats *s = &l->spstats;
		sum->writes += s->writes;
		sum->write_timeouts += s->write_timeouts;
		sum->write_failures += s->write_failures;
		sum->reads += s->reads;
		sum->read_timeouts += s->read_timeouts;
		sum->range_reads += s->range_reads;
		sum->unavailables += s->unavailables;
		sum->hints += s->hints;
		sum->forwarder_hints += s->forwarder_hints;
		sum->local_applies += s->local_applies;
		sum->forwarded += s->forwarded;
		sum->digest_mismatches += s->digest_mismatches;
		sum->read_repairs += s->read_repairs;
		sum->relayed_acks += s->relayed_acks;
		sum->speculative_retries += s->speculative_retries;
		sum->index_fallbacks += s->index_fallbacks;
		sum->in_flight += s->in_flight;
		sum->read_states += s->read_states;
		sum->read_states_idle += s->read_states_idle;
		sum->write_states += s->write_states;
		sum->write_states_idle += s->write_states_idle;
		sum->state_bytes += s->state_bytes;
		sum->mutation_bytes += s->mutation_bytes;
		sum->mutation_bytes_max += s->mutation_bytes_max;
		sum->mutation_bytes_refused += s->mutation_bytes_refused;
		pthread_mutex_unlock(&l->stats_lock);
	}
}

void node_loops_msg_stats(struct node *n, struct messaging_stats *sum)
{
	for (unsigned i = 0; i < n->n_loops; i++) {
		struct node_loop *l = n->loops[i];
		pthread_mutex_lock(&l->stats_lock);
		const struct messaging_stats *s = &l->mstats;
		sum->msgs_in += s->msgs_in;
		sum->msgs_out += s->msgs_out;
		sum->requests_pending += s->requests_pending;
		sum->timeouts += s->timeouts;
		sum->late_responses += s->late_responses;
		sum->dropped += s->dropped;
		sum->refused_handshakes += s->refused_handshakes;
		sum->bad_frames += s->bad_frames;
		sum->compressed_out += s->compressed_out;
		sum->queued_bytes += s->queued_bytes;
		pthread_mutex_unlock(&l->stats_lock);
	}
}

void node_loops_router_stats(struct node *n, struct router_stats *sum)
{
	for (unsigned i = 0; i < n->n_loops; i++) {
		struct node_loop *l = n->loops[i];
		pthread_mutex_lock(&l->stats_lock);
		sum->writes += l->rstats.writes;
		sum->reads += l->rstats.reads;
		sum->scans += l->rstats.scans;
		sum->unavailables += l->rstats.unavailables;
		pthread_mutex_unlock(&l->stats_lock);
	}
}
