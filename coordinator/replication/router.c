/*
 * router.c — the request router (router.h): the local path's consistency
 * checks and store calls, the queue that defers requests for tests, and the
 * hand-over of replicated keyspaces to the storage proxy.
 */
#include "coordinator/replication/router.h"

#include "coordinator/schema/schema.h"
#include "coordinator/replication/consistency.h"
#include "coordinator/replication/reqmetrics.h"
#include "coordinator/replication/storage_proxy.h"
#include "coordinator/tracing/trace.h"
#include "core/array.h"
#include "core/clock.h"
#include "core/ring.h"
#include "core/cqlproto.h"
#include "core/mailbox.h"

#include <stdatomic.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Row-callback stops are signalled with this value; it is not an error. */
#define PROXY_STOP 1

enum pending_kind { PENDING_WRITE, PENDING_READ, PENDING_SCAN, PENDING_TRUNCATE };

/* A request queued while deferring (tests): its borrowed arguments, as given. */
struct pending {
	enum pending_kind kind;
	const struct schema_keyspace *ks;
	uint16_t cl;
	struct store_mutation *const *muts;
	size_t n;
	enum cerr_write_type wt;
	const struct partition_read *rd;
	const struct range_read *sc;
	store_row_fn row_fn;
	void *row_ctx;
	request_done_fn done;
	void *ctx;
	struct store_table *table; /* PENDING_TRUNCATE */
	int64_t truncated_at;
};

struct router {
	struct store *store;
	char dc[64];
	struct router_stats stats;
	bool defer;
	struct pending *pend;
	size_t n_pend, cap_pend;
	/* cluster mode (router_attach_cluster) */
	struct storage_proxy *sp;
	router_ring_fn ring_ref;
	void *ring_ctx;
	router_batchlog_fn batchlog; /* LOGGED batches of several partitions */
	void *batchlog_ctx;
	/* a loop's router (router_new_hop): every request runs on `main`'s loop */
	struct router *main;
	struct mailbox *main_mb, *own_mb;
	unsigned max_hops;
	atomic_uint hops;           /* requests on the main loop or on their way back */
	uint8_t self_host[16];      /* this node, to find its own replica in the ring */
	struct store_lane *lane;    /* this loop's group-commit lane (NULL: store_apply) */
	struct reqmetrics *metrics; /* NULL: requests are not timed */
};

static bool hop(struct router *rt, const struct pending *x);
static bool lane_write(struct router *rt, const struct pending *x, const struct cerr *base);

struct reqmetrics *router_metrics(const struct router *rt)
{
	return rt->metrics;
}

/* A request being timed: the caller's callback, and what to record when it runs. */
struct timed {
	struct reqmetrics *m;
	enum reqmetrics_op op;
	int64_t start_us;
	request_done_fn done;
	void *ctx;
	size_t n;
	struct reqmetrics_table_ref refs[]; /* n */
};

static void timed_done(void *arg, const struct cerr *outcome)
{
	struct timed *t = arg;
	int64_t us = clock_mono_us() - t->start_us;
	reqmetrics_record(t->m, t->op, us > 0 ? (uint64_t)us : 0, outcome && outcome->code != 0,
	                  t->refs, t->n);
	request_done_fn done = t->done;
	void *ctx = t->ctx;
	free(t);
	done(ctx, outcome);
}

/*
 * Wrap done/ctx so the request's latency is recorded for each table in
 * tables[0..n) (one per mutation for writes).  Without metrics, or when the
 * wrapper cannot be allocated, the request runs untimed.
 */
static void timed_wrap(struct router *rt, enum reqmetrics_op op, struct store_table *table,
                       struct store_mutation *const *muts, size_t n, request_done_fn *done,
                       void **ctx)
{
	if (!rt->metrics)
		return;
	for (size_t i = 0; i < n; i++)
		if (!(muts ? muts[i]->table : table))
			return; /* a table without storage (virtual): not timed */
	struct timed *t = malloc(sizeof(*t) + n * sizeof(t->refs[0]));
	if (!t)
		return;
	*t = (struct timed){.m = rt->metrics,
	                    .op = op,
	                    .start_us = clock_mono_us(),
	                    .done = *done,
	                    .ctx = *ctx,
	                    .n = n};
	struct store_table *prev = NULL;
	for (size_t i = 0; i < n; i++) {
		struct store_table *st = muts ? muts[i]->table : table;
		const struct store_table_desc *d = store_table_desc(st);
		memcpy(t->refs[i].id, d->id, 16);
		t->refs[i].ops = 1;
		if (st != prev)
			reqmetrics_register(rt->metrics, d->id, d->keyspace, d->name);
		prev = st;
	}
	*done = timed_done;
	*ctx = t;
}

static bool defer_push(struct router *rt, const struct pending *x)
{
	if (!rt->defer)
		return false;
	if (ARRAY_GROW(rt->pend, rt->cap_pend, rt->n_pend + 1))
		return false; /* run it now rather than lose it */
	rt->pend[rt->n_pend++] = *x;
	return true;
}

int router_new_local(struct store *store, const char *local_dc, struct router **out)
{
	struct router *rt = calloc(1, sizeof(*rt));
	if (!rt || reqmetrics_new(&rt->metrics) != 0) {
		free(rt);
		return COL_ENOMEM;
	}
	rt->store = store;
	snprintf(rt->dc, sizeof(rt->dc), "%s", local_dc ? local_dc : "datacenter1");
	*out = rt;
	return 0;
}

void router_free(struct router *rt)
{
	if (rt) {
		free(rt->pend);
		if (!rt->main) /* a loop's router shares its main router's registry */
			reqmetrics_free(rt->metrics);
	}
	free(rt);
}

void router_attach_cluster(struct router *rt, struct storage_proxy *sp, router_ring_fn ring_ref,
                           void *ctx)
{
	rt->sp = sp;
	rt->ring_ref = ring_ref;
	rt->ring_ctx = ctx;
}

/*
 * Decide whether ks's request goes to the replicas.  Returns 1 with *ring (a
 * reference the caller drops) and *rep filled; 0 for the local path; or a
 * negative code with err filled (a replication map that no longer parses).
 * The replication map is parsed per request: a few string compares, far
 * below the cost of one message.
 */
static int cluster_route(struct router *rt, const struct schema_keyspace *ks, struct ring **ring,
                         struct replication *rep, struct cerr *err)
{
	if (!rt->sp || ks->virtual_)
		return 0;
	struct cerr e = {0};
	if (replication_parse((const char *const *)ks->repl_keys,
	                      (const char *const *)ks->repl_vals, ks->n_repl, rep, &e)) {
		return cerr_set(err, COL_EINVAL, "keyspace '%.64s': %.160s", ks->name, e.msg);
	}
	if (rep->cls == REPL_LOCAL)
		return 0;
	*ring = rt->ring_ref(rt->ring_ctx);
	return *ring ? 1 : 0;
}

/* Levels no replica count can make valid for the operation. */
static int invalid_level(uint16_t cl, bool write, struct cerr *err)
{
	if (write && (cl == CL_SERIAL || cl == CL_LOCAL_SERIAL)) {
		return cerr_set(err, COL_EINVAL,
		                "You must use conditional updates for serializable writes");
	}
	if (!write && cl == CL_ANY) {
		return cerr_set(err, COL_EINVAL,
		                "ANY ConsistencyLevel is only supported for writes");
	}
	if (!cql_consistency_name(cl)) {
		return cerr_set(err, COL_EINVAL, "Unknown consistency level 0x%04x", cl);
	}
	return 0;
}

/*
 * Start a request's result and decide its path: > 0 replicas (*ring, *rep
 * set; the caller drops the ring), 0 local, < 0 refused (err filled).
 */
static int route_request(struct router *rt, const struct schema_keyspace *ks, uint16_t cl,
                         bool write, struct cerr *err, struct ring **ring, struct replication *rep)
{
	cerr_clear(err);
	err->rep.cl = cl;
	if (invalid_level(cl, write, err))
		return err->code;
	return cluster_route(rt, ks, ring, rep, err);
}

void router_set_defer(struct router *rt, bool defer)
{
	rt->defer = defer;
}

size_t router_run_deferred(struct router *rt)
{
	size_t ran = 0;
	bool was = rt->defer;
	while (rt->n_pend) {
		/* take the oldest; completions may queue more behind it */
		struct pending x = rt->pend[0];
		memmove(rt->pend, rt->pend + 1, (rt->n_pend - 1) * sizeof(*rt->pend));
		rt->n_pend--;
		rt->defer = false;
		if (x.kind == PENDING_WRITE)
			router_write(rt, x.ks, x.cl, x.muts, x.n, x.wt, x.done, x.ctx);
		else if (x.kind == PENDING_READ)
			router_read_partition(rt, x.ks, x.cl, x.rd, x.row_fn, x.row_ctx, x.done,
			                      x.ctx);
		else
			router_scan(rt, x.ks, x.cl, x.sc, x.row_fn, x.row_ctx, x.done, x.ctx);
		rt->defer = was;
		ran++;
	}
	return ran;
}

void router_get_stats(const struct router *rt, struct router_stats *out)
{
	*out = rt->stats;
}

/* Replication factors of ks: total, in our dc, and the quorum EACH_QUORUM needs
 * from datacenters other than ours (which this node cannot reach). */
struct rf_info {
	int total, local, each_remote_required;
	bool simple;
};

static struct rf_info rf_of(const struct router *rt, const struct schema_keyspace *ks)
{
	struct rf_info r = {0};
	r.simple = ks->n_repl > 0 && strstr(ks->repl_vals[0], "SimpleStrategy");
	if (ks->virtual_) {
		r.total = r.local = 1;
		return r;
	}
	for (uint32_t i = 1; i < ks->n_repl; i++) {
		int rf = atoi(ks->repl_vals[i]);
		if (r.simple) {
			if (strcmp(ks->repl_keys[i], "replication_factor") == 0)
				r.total = r.local = rf;
			continue;
		}
		r.total += rf;
		if (strcmp(ks->repl_keys[i], rt->dc) == 0)
			r.local = rf;
		else if (rf > 0)
			r.each_remote_required += rf / 2 + 1;
	}
	return r;
}

int router_check(struct router *rt, const struct schema_keyspace *ks, uint16_t cl, bool write,
                 struct cerr *err)
{
	cerr_clear(err);
	err->rep.cl = cl;
	if (invalid_level(cl, write, err))
		return err->code;
	if (rt->main && rt->main->sp && !ks->virtual_) {
		/* a loop's router: a replicated keyspace is decided per token on the main loop */
		struct replication rep;
		struct cerr e = {0};
		if (replication_parse((const char *const *)ks->repl_keys,
		                      (const char *const *)ks->repl_vals, ks->n_repl, &rep, &e))
			return cerr_set(err, COL_EINVAL, "keyspace '%.64s': %.160s", ks->name,
			                e.msg);
		if (rep.cls != REPL_LOCAL)
			return 0;
	} else if (rt->sp) {
		struct ring *ring = NULL;
		struct replication rep;
		int route = cluster_route(rt, ks, &ring, &rep, err);
		if (ring)
			ring_unref(ring);
		if (route < 0)
			return route;
		if (route > 0)
			return 0; /* Unavailable is decided per token by the request */
	}
	struct rf_info rf = rf_of(rt, ks);
	int alive = rf.local >= 1 ? 1 : 0; /* this node, when it is a replica */
	int required;
	switch (cl) {
	case CL_ANY: return 0; /* a hint satisfies ANY */
	case CL_ONE:
	case CL_LOCAL_ONE: required = 1; break;
	case CL_TWO: required = 2; break;
	case CL_THREE: required = 3; break;
	case CL_QUORUM: required = rf.total / 2 + 1; break;
	case CL_LOCAL_QUORUM: required = rf.local / 2 + 1; break;
	case CL_EACH_QUORUM:
		required = rf.local / 2 + 1;
		if (rf.each_remote_required) {
			/* Other datacenters' replicas are unreachable from a lone node. */
			err->rep.required = rf.each_remote_required;
			err->rep.received = 0;
			rt->stats.unavailables++;
			return cerr_set(err, COL_EUNAVAILABLE,
			                "Cannot achieve consistency level EACH_QUORUM");
		}
		break;
	case CL_ALL: required = rf.total; break;
	case CL_SERIAL:
	case CL_LOCAL_SERIAL:
		required = cl == CL_SERIAL ? rf.total / 2 + 1 : rf.local / 2 + 1;
		break;
	default: return cerr_set(err, COL_EINVAL, "Unknown consistency level 0x%04x", cl);
	}
	if (required < 1)
		required = 1;
	if (required > alive) {
		err->rep.required = required;
		err->rep.received = alive;
		rt->stats.unavailables++;
		return cerr_set(err, COL_EUNAVAILABLE, "Cannot achieve consistency level %s",
		                cql_consistency_name(cl));
	}
	return 0;
}

void router_set_batchlog(struct router *rt, router_batchlog_fn fn, void *ctx)
{
	rt->batchlog = fn;
	rt->batchlog_ctx = ctx;
}

/* router_write without the timing (a request the loop's router timed already). */
static void write_untimed(struct router *rt, const struct schema_keyspace *ks, uint16_t cl,
                          struct store_mutation *const *muts, size_t n, enum cerr_write_type wt,
                          request_done_fn done, void *ctx)
{
	struct pending x = {.kind = PENDING_WRITE,
	                    .ks = ks,
	                    .cl = cl,
	                    .muts = muts,
	                    .n = n,
	                    .wt = wt,
	                    .done = done,
	                    .ctx = ctx};
	if (hop(rt, &x) || defer_push(rt, &x))
		return;
	struct cerr err;
	struct ring *ring = NULL;
	struct replication rep;
	int route = route_request(rt, ks, cl, true, &err, &ring, &rep);
	if (route > 0) {
		rt->stats.writes += n;
		if (wt == CERR_WRITE_BATCH && n > 1 && rt->batchlog) {
			trace_event(trace_current(),
			            "Writing a LOGGED batch of %zu partitions through the batchlog",
			            n);
			rt->batchlog(rt->batchlog_ctx, ring, &rep, ks->name, cl, muts, n, done,
			             ctx);
		} else {
			storage_proxy_write(rt->sp, ring, &rep, cl, muts, n, wt, done, ctx);
		}
		ring_unref(ring);
		return;
	}
	if (route < 0 || router_check(rt, ks, cl, true, &err)) {
		err.rep.write_type = wt;
		err.rep.write = true;
		done(ctx, &err);
		return;
	}
	err.rep.write_type = wt;
	err.rep.write = true;
	trace_event(trace_current(), "Applying %zu mutation(s) to this node's store", n);
	if (rt->lane) {
		/* answered from the lane's callbacks: a RocksDB stall holds the writer, not
		 * this loop (the main loop's router: gossip's loop) */
		lane_write(rt, &x, &err);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct cerr e = {0};
		int rc = store_apply(rt->store, muts[i], &e);
		if (rc) {
			cerr_set(&err, rc, "%s", e.msg);
			done(ctx, &err);
			return;
		}
		rt->stats.writes++;
	}
	done(ctx, &err);
}

void router_write(struct router *rt, const struct schema_keyspace *ks, uint16_t cl,
                  struct store_mutation *const *muts, size_t n, enum cerr_write_type wt,
                  request_done_fn done, void *ctx)
{
	timed_wrap(rt, REQOP_WRITE, NULL, muts, n, &done, &ctx);
	write_untimed(rt, ks, cl, muts, n, wt, done, ctx);
}

void router_truncate(struct router *rt, const struct schema_keyspace *ks, struct store_table *t,
                     int64_t truncated_at, request_done_fn done, void *ctx)
{
	struct pending x = {.kind = PENDING_TRUNCATE,
	                    .ks = ks,
	                    .cl = CL_ALL,
	                    .table = t,
	                    .truncated_at = truncated_at,
	                    .done = done,
	                    .ctx = ctx};
	if (hop(rt, &x))
		return;
	struct cerr err;
	struct ring *ring = NULL;
	struct replication rep;
	int route = route_request(rt, ks, CL_ALL, true, &err, &ring, &rep);
	if (route > 0) {
		storage_proxy_truncate(rt->sp, ring, store_table_desc(t)->id, truncated_at, done,
		                       ctx);
		ring_unref(ring);
		return;
	}
	if (route == 0) {
		struct cerr e = {0};
		int rc = store_table_truncate(t, truncated_at, &e);
		if (rc)
			cerr_set(&err, rc, "Error during truncate: %s", e.msg);
	}
	done(ctx, &err);
}

/*
 * A read (PENDING_READ: one partition; PENDING_SCAN: a token range): deferred while
 * the node waits for its ring, else to the replicas, else this node's store.
 */
static void route_read(struct router *rt, const struct pending *x)
{
	if (hop(rt, x) || defer_push(rt, x))
		return;
	bool partition = x->kind == PENDING_READ;
	struct cerr err;
	struct ring *ring = NULL;
	struct replication rep;
	int route = route_request(rt, x->ks, x->cl, false, &err, &ring, &rep);
	if (route > 0) {
		if (partition) {
			rt->stats.reads++;
			storage_proxy_read_partition(rt->sp, ring, &rep, x->cl, x->rd, x->row_fn,
			                             x->row_ctx, x->done, x->ctx);
		} else {
			rt->stats.scans++;
			storage_proxy_scan(rt->sp, ring, &rep, x->cl, x->sc, x->row_fn, x->row_ctx,
			                   x->done, x->ctx);
		}
		ring_unref(ring);
		return;
	}
	if (route < 0 || router_check(rt, x->ks, x->cl, false, &err)) {
		x->done(x->ctx, &err);
		return;
	}
	struct cerr e = {0};
	int rc;
	trace_event(trace_current(), "Reading %s from this node's store",
	            partition ? "the partition" : "a token range");
	if (partition) {
		const struct partition_read *rd = x->rd;
		rc = store_read_partition(rd->table, rd->pk, rd->n_pk, rd->slice, rd->flags,
		                          rd->limit, rd->now_s, x->row_fn, x->row_ctx, &e);
		rt->stats.reads++;
	} else {
		const struct range_read *sc = x->sc;
		if (sc->index)
			rc = store_index_read(sc->table, &sc->index->ix, sc->index->vals,
			                      sc->index->n_vals, sc->start, sc->end, sc->after, 0,
			                      sc->limit, sc->now_s, x->row_fn, x->row_ctx, NULL,
			                      &e);
		else
			rc = store_scan(sc->table, sc->start, sc->end, sc->after, 0, sc->limit,
			                sc->now_s, x->row_fn, x->row_ctx, &e);
		if (rc == COL_EAGAIN) /* the index is still being built: Cassandra's ReadFailure */
			rc = COL_EFAILED;
		rt->stats.scans++;
	}
	if (rc < 0)
		cerr_set(&err, rc, "%s", e.msg);
	if (rc == COL_EFAILED) /* this node, the one replica, failed */
		err.rep = (struct cerr_replicas){.cl = x->cl, .required = 1, .failures = 1};
	x->done(x->ctx, &err);
}

void router_read_partition(struct router *rt, const struct schema_keyspace *ks, uint16_t cl,
                           const struct partition_read *rd, store_row_fn row_fn, void *row_ctx,
                           request_done_fn done, void *ctx)
{
	timed_wrap(rt, REQOP_READ, rd->table, NULL, 1, &done, &ctx);
	struct pending x = {.kind = PENDING_READ,
	                    .ks = ks,
	                    .cl = cl,
	                    .rd = rd,
	                    .row_fn = row_fn,
	                    .row_ctx = row_ctx,
	                    .done = done,
	                    .ctx = ctx};
	route_read(rt, &x);
}

void router_scan(struct router *rt, const struct schema_keyspace *ks, uint16_t cl,
                 const struct range_read *sc, store_row_fn row_fn, void *row_ctx,
                 request_done_fn done, void *ctx)
{
	timed_wrap(rt, REQOP_RANGE, sc->table, NULL, 1, &done, &ctx);
	struct pending x = {.kind = PENDING_SCAN,
	                    .ks = ks,
	                    .cl = cl,
	                    .sc = sc,
	                    .row_fn = row_fn,
	                    .row_ctx = row_ctx,
	                    .done = done,
	                    .ctx = ctx};
	route_read(rt, &x);
}

/* ---- a loop's router: requests hop to the main loop and their completions back ----------------
 */

/* One request between a loop and the main loop. */
struct hop_req {
	struct mailbox_job job;
	struct router *rt; /* the loop's router */
	struct pending x;  /* the request as the executor gave it (borrowed until done) */
	struct cerr outcome;
	struct trace *trace; /* the request's, current on both loops while it runs; referenced */
};

static void hop_back(struct mailbox_job *job, bool closing)
{
	struct hop_req *h = (struct hop_req *)job;
	struct router *rt = h->rt;
	atomic_fetch_sub(&rt->hops, 1);
	/* The loop's mailbox closes only after every hop came back (node.c's shutdown). */
	struct trace *prev = trace_swap_current(h->trace);
	if (!closing)
		h->x.done(h->x.ctx, &h->outcome);
	trace_swap_current(prev);
	trace_unref(h->trace);
	free(h);
}

static void hop_done(void *ctx, const struct cerr *outcome)
{
	struct hop_req *h = ctx;
	h->outcome = *outcome;
	h->job.fn = hop_back;
	mailbox_post(h->rt->own_mb, &h->job);
}

static void hop_run(struct mailbox_job *job, bool closing)
{
	struct hop_req *h = (struct hop_req *)job;
	struct router *m = h->rt->main;
	const struct pending *x = &h->x;
	if (closing) {
		struct cerr e = {0};
		cerr_set(&e, COL_ECLOSED, "the node is shutting down");
		e.rep.cl = x->cl;
		e.rep.write = x->kind == PENDING_WRITE;
		hop_done(h, &e);
		return;
	}
	/* Untimed here: the loop's router timed the request when it took it. */
	struct pending on_main = *x;
	on_main.done = hop_done;
	on_main.ctx = h;
	struct trace *prev = trace_swap_current(h->trace);
	trace_event(h->trace, "Handed to the main loop");
	switch (x->kind) {
	case PENDING_WRITE:
		write_untimed(m, x->ks, x->cl, x->muts, x->n, x->wt, hop_done, h);
		break;
	case PENDING_READ:
	case PENDING_SCAN: route_read(m, &on_main); break;
	case PENDING_TRUNCATE:
		router_truncate(m, x->ks, x->table, x->truncated_at, hop_done, h);
		break;
	}
	trace_swap_current(prev);
}

/* Is this node the only replica of every mutation's partition? */
static bool writes_only_self(const struct ring *ring, const struct replication *rep, long self,
                             const struct pending *x)
{
	if (x->wt == CERR_WRITE_BATCH && x->n > 1)
		return false; /* a LOGGED batch goes through the batchlog */
	for (size_t i = 0; i < x->n; i++) {
		int64_t token;
		uint32_t reps[SP_MAX_REPLICAS];
		struct cerr e = {0};
		if (store_mutation_token(x->muts[i], &token, &e))
			return false;
		size_t nr = ring_replicas(ring, rep, token, reps, SP_MAX_REPLICAS);
		if (nr != 1 || reps[0] != (uint32_t)self)
			return false;
	}
	return true;
}

/* Is this node a replica of the read's partition? */
static bool reads_self(const struct ring *ring, const struct replication *rep, long self,
                       const struct partition_read *rd)
{
	int64_t token;
	uint32_t reps[SP_MAX_REPLICAS];
	struct cerr e = {0};
	if (store_partition_token(rd->table, rd->pk, rd->n_pk, &token, &e))
		return false;
	size_t nr = ring_replicas(ring, rep, token, reps, SP_MAX_REPLICAS);
	for (size_t i = 0; i < nr; i++)
		if (reps[i] == (uint32_t)self)
			return true;
	return false;
}

/* A write a loop applies through its own group-commit lane (storage.h, store_lane_apply). */
struct lane_write {
	struct router *rt;
	request_done_fn done;
	void *ctx;
	size_t waiting; /* lane callbacks still to come */
	struct cerr outcome;
};

static void lane_write_done(void *ctx, int rc, const struct cerr *e)
{
	struct lane_write *w = ctx;
	if (rc == 0)
		w->rt->stats.writes++;
	else if (!w->outcome.code)
		cerr_set(&w->outcome, rc, "%s", e ? e->msg : col_strerror(rc));
	if (--w->waiting)
		return;
	w->done(w->ctx, &w->outcome);
	free(w);
}

/* Hand x's mutations to the lane; done() runs from the lane's callbacks (or now, on a
 * refusal before any was queued). */
static bool lane_write(struct router *rt, const struct pending *x, const struct cerr *base)
{
	struct lane_write *w = malloc(sizeof(*w));
	struct cerr e = *base;
	if (!w) {
		cerr_set(&e, COL_ENOMEM, "out of memory applying a write");
		x->done(x->ctx, &e);
		return true;
	}
	*w = (struct lane_write){.rt = rt, .done = x->done, .ctx = x->ctx, .outcome = *base};
	w->waiting = 1; /* held until every mutation is queued */
	for (size_t i = 0; i < x->n; i++) {
		struct cerr le = {0};
		w->waiting++;
		if (store_lane_apply(rt->lane, x->muts[i], lane_write_done, w, &le)) {
			w->waiting--;
			if (!w->outcome.code)
				cerr_set(&w->outcome, le.code ? le.code : COL_EIO, "%s", le.msg);
			break; /* the mutations before it are applied, as on the main loop's path */
		}
	}
	if (--w->waiting == 0) {
		w->done(w->ctx, &w->outcome);
		free(w);
	}
	return true;
}

/*
 * The requests a loop serves from this node's own replica, as the storage
 * proxy would (storage_proxy.h): a write whose only replica is this node (a
 * level one ack meets), and a read whose level one replica meets when this
 * node is one of the replicas ("a lone local replica").  Everything else
 * needs the main loop.
 */
static bool hop_local(struct router *rt, const struct pending *x)
{
	struct router *m = rt->main;
	bool write = x->kind == PENDING_WRITE;
	if ((!write && x->kind != PENDING_READ) || !m->sp || !m->ring_ref || x->ks->virtual_)
		return false;
	struct cerr err = {0};
	struct replication rep;
	if (invalid_level(x->cl, write, &err) ||
	    replication_parse((const char *const *)x->ks->repl_keys,
	                      (const char *const *)x->ks->repl_vals, x->ks->n_repl, &rep, &err) ||
	    rep.cls == REPL_LOCAL || cl_each_quorum_per_dc(x->cl, &rep))
		return false;
	struct ring *ring = m->ring_ref(m->ring_ctx);
	if (!ring)
		return false;
	long self = ring_find_host(ring, rt->self_host);
	bool local = self >= 0 &&
	             cl_block_for(x->cl, &rep, ring_node_at(ring, (size_t)self)->dc) == 1 &&
	             (write ? writes_only_self(ring, &rep, self, x)
	                    : reads_self(ring, &rep, self, x->rd));
	ring_unref(ring);
	if (!local)
		return false;
	cerr_clear(&err);
	err.rep.cl = x->cl;
	err.rep.write = write;
	err.rep.write_type = x->wt;
	struct cerr e = {0};
	int rc = 0;
	trace_event(trace_current(),
	            write ? "Applying the mutation here: this node is its only replica"
	                  : "Reading here: this node is a replica and one answer meets %s",
	            cql_consistency_name(x->cl));
	if (write && rt->lane)
		return lane_write(rt, x, &err);
	if (write) {
		for (size_t i = 0; i < x->n && !rc; i++)
			if (!(rc = store_apply(rt->store, x->muts[i], &e)))
				rt->stats.writes++;
	} else {
		const struct partition_read *rd = x->rd;
		rc = store_read_partition(rd->table, rd->pk, rd->n_pk, rd->slice,
		                          rd->flags & STORE_READ_REVERSE, rd->limit, rd->now_s,
		                          x->row_fn, x->row_ctx, &e);
		rt->stats.reads++;
	}
	if (rc < 0)
		cerr_set(&err, rc, "%s", e.msg);
	x->done(x->ctx, &err);
	return true;
}

/*
 * On a loop's router with a storage proxy of its own (router_set_loop_proxy):
 * coordinate x here, as the main loop's router would, when nothing of it needs
 * the main loop — every replica in this node's datacenter (no forwarder
 * relays, which reach the main loop's proxy), no batchlog (a LOGGED batch of
 * several partitions), no ANY (its hints must be durable before the answer),
 * no TRUNCATE.
 */
static bool coordinate_here(struct router *rt, const struct pending *x)
{
	struct router *m = rt->main;
	bool write = x->kind == PENDING_WRITE;
	if (!rt->sp || x->kind == PENDING_TRUNCATE || x->ks->virtual_ || !m->ring_ref ||
	    (write && (x->cl == CL_ANY || (x->wt == CERR_WRITE_BATCH && x->n > 1))))
		return false;
	struct cerr err = {0};
	struct replication rep;
	if (invalid_level(x->cl, write, &err) ||
	    replication_parse((const char *const *)x->ks->repl_keys,
	                      (const char *const *)x->ks->repl_vals, x->ks->n_repl, &rep, &err) ||
	    rep.cls == REPL_LOCAL)
		return false;
	struct ring *ring = m->ring_ref(m->ring_ctx);
	if (!ring)
		return false;
	if (ring_dc_size(ring, rt->dc) != ring_node_count(ring)) {
		ring_unref(ring);
		return false;
	}
	if (write) {
		rt->stats.writes += x->n;
		storage_proxy_write(rt->sp, ring, &rep, x->cl, x->muts, x->n, x->wt, x->done,
		                    x->ctx);
	} else if (x->kind == PENDING_READ) {
		rt->stats.reads++;
		storage_proxy_read_partition(rt->sp, ring, &rep, x->cl, x->rd, x->row_fn,
		                             x->row_ctx, x->done, x->ctx);
	} else {
		rt->stats.scans++;
		storage_proxy_scan(rt->sp, ring, &rep, x->cl, x->sc, x->row_fn, x->row_ctx, x->done,
		                   x->ctx);
	}
	ring_unref(ring);
	return true;
}

/* On a loop's router: serve x from this node's replica, or coordinate it here, or send it
 * to the main loop (true), or answer it now when the bound is reached (true); false on any
 * other router. */
static bool hop(struct router *rt, const struct pending *x)
{
	if (!rt->main)
		return false;
	if (hop_local(rt, x) || coordinate_here(rt, x))
		return true;
	struct cerr e = {0};
	e.rep.cl = x->cl;
	e.rep.write = x->kind == PENDING_WRITE;
	e.rep.write_type = x->wt;
	struct hop_req *h = NULL;
	if (atomic_fetch_add(&rt->hops, 1) >= rt->max_hops) {
		cerr_set(&e, COL_EOVERLOADED, "%u requests of this loop are in flight (the limit)",
		         rt->max_hops);
	} else if (!(h = malloc(sizeof(*h)))) {
		cerr_set(&e, COL_ENOMEM, "out of memory handing a request to the main loop");
	} else {
		h->job.fn = hop_run;
		h->rt = rt;
		h->x = *x;
		h->trace = trace_current();
		if (h->trace)
			trace_ref(h->trace);
		int rc = mailbox_try_post(rt->main_mb, &h->job);
		if (rc == 0)
			return true; /* counted by the main loop's router */
		trace_unref(h->trace);
		free(h);
		if (rc == COL_EFULL)
			cerr_set(&e, COL_EOVERLOADED, "the main loop's request queue is full");
		else
			cerr_set(&e, COL_ECLOSED, "the node is shutting down");
	}
	atomic_fetch_sub(&rt->hops, 1);
	x->done(x->ctx, &e);
	return true;
}

int router_new_hop(struct router *main, struct mailbox *main_mb, struct mailbox *own_mb,
                   unsigned max_inflight, const uint8_t self_host[16], struct store_lane *lane,
                   struct router **out)
{
	struct router *rt = calloc(1, sizeof(*rt));
	if (!rt)
		return COL_ENOMEM;
	rt->store = main->store;
	memcpy(rt->dc, main->dc, sizeof(rt->dc));
	rt->main = main;
	rt->main_mb = main_mb;
	rt->own_mb = own_mb;
	rt->max_hops = max_inflight ? max_inflight : 65536;
	memcpy(rt->self_host, self_host, 16);
	rt->lane = lane;
	rt->metrics = main->metrics;
	atomic_init(&rt->hops, 0);
	*out = rt;
	return 0;
}

void router_set_lane(struct router *rt, struct store_lane *lane)
{
	rt->lane = lane;
}

void router_set_loop_proxy(struct router *rt, struct storage_proxy *sp)
{
	rt->sp = sp;
}

unsigned router_hops_in_flight(struct router *rt)
{
	return atomic_load(&rt->hops);
}
