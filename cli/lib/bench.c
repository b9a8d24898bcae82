/*
 * bench.c — `colonnade bench`: the data connections, the run loop, and the
 * run's steps (setup from bench_setup.c, then populate, run, report).
 *
 * One libev loop drives every connection (struct cqlconn from
 * cli/lib/cqlclient.h).  The loop is a pump: whenever a request finishes or
 * the open-loop timer fires, pump() sends every op that is due while some
 * connection has a free in-flight slot.  An op that has been scheduled but
 * finds no free slot waits as `pending` — its clock keeps running, which is
 * exactly the queueing a real client would see.
 *
 * An open loop never makes a due op wait for its own connections: past
 * --inflight on every replica's connection it puts more streams in flight on
 * the least busy one (up to stream_cap, and the pool grows up to
 * BENCH_MAX_SLOTS), so what delays a request is the server, and what is left
 * of the client's own lag is measured: the send delay runs from the scheduled
 * start to when the request's last byte went to the kernel (cqlconn's
 * on_written).  Requests queued during one loop iteration are written together
 * just before the loop blocks (flush_cb), one send per connection.
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

#include "cli/lib/bench_run.h"
#include "core/clock.h"
#include "core/cqlproto.h"
#include "core/murmur3.h"

#include <ev.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* ---- blocking waits on the shared loop ---------------------------------------------------- */

static void wait_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

/* Run the loop until *flag or the deadline. */
void bench_wait_for(struct bench *b, const bool *flag, int64_t timeout_us)
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
		snprintf(c->why, sizeof(c->why), "%s", why ? why : "connection failed");
		if (c->b->phase == PH_SETUP)
			fprintf(stderr, "colonnade bench: %s\n", why);
		return;
	}
	c->ready = true;
	c->failed = false;
	c->blocked = false;
}

/* The request's first frame left (a read-modify-write's write half is part of
 * its service time, not of the client's delay). */
static void on_written(void *arg)
{
	struct breq *r = arg;
	if (!r->written_us)
		r->written_us = clock_mono_us();
}

int bench_conn_open(struct bench *b, struct bconn *c, struct cerr *err)
{
	struct cqlconn_opts co = {0};
	/* Room for our streams plus orphaned (timed-out) ones. */
	unsigned cap = b->stream_cap + (b->stream_cap < 1024 ? b->stream_cap : 1024) + 64;
	co.max_inflight = cap > 32768 ? 32768 : cap;
	co.on_written = on_written;
	co.throw_on_overload = b->o->throw_on_overload;
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
			bench_conn_open(b, c, &err);
		}
}

/* ---- the run loop ------------------------------------------------------------------------- */

/* A connection of n with fewer than `limit` requests in flight, round robin. */
static struct bconn *pick_conn(struct bnode *n, unsigned limit)
{
	for (int k = 0; k < n->n_conns; k++) {
		int i = (n->rr + k) % n->n_conns;
		struct bconn *c = &n->conns[i];
		if (c->ready && !c->failed && !c->blocked && c->inflight < limit) {
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
static struct bconn *route_within(struct bench *b, const uint8_t keybytes[8], unsigned limit)
{
	if (b->routed) {
		size_t n_reps;
		const uint32_t *reps =
		        tokenmap_replicas(&b->tm, murmur3_token(keybytes, 8), &n_reps);
		bool replica_up = false;
		for (size_t i = 0; i < n_reps; i++) {
			struct bnode *n = &b->nodes[b->tm_node[reps[i]]];
			struct bconn *c = pick_conn(n, limit);
			if (c)
				return c;
			replica_up |= node_usable(n);
		}
		if (replica_up)
			return NULL;
	}
	for (int k = 0; k < b->n_nodes; k++) {
		int i = (b->node_rr + k) % b->n_nodes;
		struct bconn *c = pick_conn(&b->nodes[i], limit);
		if (c) {
			b->node_rr = (i + 1) % b->n_nodes;
			return c;
		}
	}
	return NULL;
}

struct bconn *bench_route(struct bench *b, const uint8_t keybytes[8])
{
	struct bconn *c = route_within(b, keybytes, b->cap_per_conn);
	if (!c && b->open_loop && b->phase == PH_RUN && b->stream_cap > b->cap_per_conn)
		c = route_within(b, keybytes, b->stream_cap);
	return c;
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

void bench_free_req(struct bench *b, struct breq *r)
{
	r->next_free = b->free_reqs;
	b->free_reqs = r;
}

struct breq_chunk {
	struct breq_chunk *next;
	size_t n;
	struct breq reqs[];
};

int bench_grow_reqs(struct bench *b, size_t n)
{
	if (b->n_reqs + n > BENCH_MAX_SLOTS)
		n = BENCH_MAX_SLOTS - b->n_reqs;
	if (n == 0)
		return COL_EFULL;
	struct breq_chunk *ch = calloc(1, sizeof(*ch) + n * sizeof(struct breq));
	if (!ch)
		return COL_ENOMEM;
	ch->n = n;
	ch->next = b->chunks;
	b->chunks = ch;
	b->n_reqs += n;
	for (size_t i = 0; i < n; i++)
		bench_free_req(b, &ch->reqs[i]);
	return COL_OK;
}

/* Queue c for the flush before the loop blocks. */
static void mark_dirty(struct bench *b, struct bconn *c)
{
	if (c->dirty)
		return;
	if (b->n_dirty == b->cap_dirty) {
		cqlconn_flush(c->cc); /* every connection is listed already: cannot happen */
		return;
	}
	c->dirty = true;
	b->dirty[b->n_dirty++] = c;
}

static void remember_error(struct bench *b, enum bench_err kind, const char *msg)
{
	if (!b->first_error[kind][0])
		snprintf(b->first_error[kind], sizeof(b->first_error[kind]), "%s", msg);
}

static void finish(struct bench *b, struct breq *r, bool ok, int64_t now)
{
	if (ok) {
		b->stats.ok++;
		hdr_record(b->stats.ok_lat, now - r->intended_us);
	}
	/* A request that failed before it was written waited all along. */
	int64_t written = r->written_us ? r->written_us : now;
	int64_t service = b->open_loop ? now - written : -1;
	if (b->open_loop)
		hdr_record(b->stats.send_delay, written - r->intended_us);
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
				mark_dirty(b, c);
				return;
			}
			bench_stats_error(&b->stats, BERR_CONNECTION, 0);
			remember_error(b, BERR_CONNECTION, "could not send the write of a rmw");
			finish(b, r, false, now);
			bench_free_req(b, r);
			pump(b);
			return;
		}
		if (r->op == BOP_INSERT)
			keyseq_ack(b->seq, r->key);
		finish(b, r, true, now);
	}
	if (res)
		cqlresult_free(res);
	bench_free_req(b, r);
	pump(b);
}

static void arm_sched_timer(struct bench *b, int64_t at, int64_t now)
{
	/* Every answer pumps, and finds the same next op not due yet: no system call to
	 * set the timer to what it already is. */
	if (b->sched_armed_us == at && (b->sched_fd >= 0 || ev_is_active(&b->sched_timer)))
		return;
	b->sched_armed_us = at;
	if (b->sched_fd >= 0) {
		struct itimerspec its = {0};
		its.it_value.tv_sec = at / 1000000;
		its.it_value.tv_nsec = (at % 1000000) * 1000;
		if (timerfd_settime(b->sched_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
			return;
	}
	ev_timer_stop(b->loop, &b->sched_timer);
	ev_now_update(b->loop); /* timers count from the loop's cached time */
	ev_timer_set(&b->sched_timer, (double)(at - now) / 1e6, 0);
	ev_timer_start(b->loop, &b->sched_timer);
}

static void stop_issuing(struct bench *b);

static void disarm_sched(struct bench *b)
{
	b->sched_armed_us = 0;
	if (b->sched_fd >= 0) {
		struct itimerspec its = {0};
		timerfd_settime(b->sched_fd, 0, &its, NULL);
	}
	ev_timer_stop(b->loop, &b->sched_timer);
}

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
		struct bconn *c = bench_route(b, kb);
		if (c && !b->free_reqs && b->open_loop && b->phase == PH_RUN)
			bench_grow_reqs(b, b->n_reqs < 4096 ? b->n_reqs : 4096);
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
		r->intended_us = b->open_loop ? b->p_intended : now;
		int rc = send_req(b, r);
		if (rc) {
			bench_free_req(b, r);
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
		if (b->open_loop && b->phase == PH_RUN)
			hdr_record(b->stats.queue_lag, now - r->intended_us);
		c->inflight++;
		b->inflight++;
		if (c->inflight > b->ri.max_conn_inflight && b->phase == PH_RUN)
			b->ri.max_conn_inflight = c->inflight;
		mark_dirty(b, c);
	}
	check_done(b);
}

/* Write what was queued, one send per connection. */
static void flush_dirty(struct bench *b)
{
	for (int i = 0; i < b->n_dirty; i++) {
		struct bconn *c = b->dirty[i];
		c->dirty = false;
		if (c->cc)
			cqlconn_flush(c->cc);
	}
	b->n_dirty = 0;
}

/* Before the loop blocks: what this iteration's answers queued (closed loop). */
static void flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	flush_dirty((struct bench *)((char *)w - offsetof(struct bench, flush_w)));
}

#define BENCH_OF(ptr, member) ((struct bench *)((char *)(ptr)-offsetof(struct bench, member)))

/* The schedule timer fired: how late the client woke up for the op it was armed for
 * (the kernel's timer and scheduler, before any of our own work). */
static void sched_fired(struct bench *b)
{
	if (b->sched_armed_us && b->phase == PH_RUN) {
		int64_t lag = clock_mono_us() - b->sched_armed_us;
		hdr_record(b->stats.wake_lag, lag > 0 ? lag : 0);
	}
	b->sched_armed_us = 0;
	pump(b);
	/* The ops that were due go out now, before this iteration's answers are
	 * read (the schedule watcher runs first): their send delay does not
	 * include the answers' processing.  The answers queue nothing that was
	 * due then, so this adds no send. */
	flush_dirty(b);
}

static void sched_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	sched_fired(BENCH_OF(w, sched_timer));
}

static void sched_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct bench *b = BENCH_OF(w, sched_io);
	sched_fired(b);
	/* Re-arming (timerfd_settime) clears the expiration, so the timerfd is
	 * read only when nothing re-armed it: one system call per wake-up, not
	 * two. */
	if (!b->sched_armed_us || ev_is_active(&b->sched_timer)) {
		uint64_t expirations;
		if (read(b->sched_fd, &expirations, sizeof(expirations)) < 0) {
			/* EAGAIN: nothing to clear. */
		}
	}
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
	disarm_sched(b);
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

/* How long no node may be reachable before the run gives up. */
#define BENCH_UNREACHABLE_US 20000000

/*
 * No node has had a usable connection for BENCH_UNREACHABLE_US (reconnecting every tick
 * meanwhile): give up with what the last attempts said, rather than wait forever (a
 * populate or an --ops run has no end time of its own).  True when it gave up.
 */
static bool give_up_when_unreachable(struct bench *b, int64_t now)
{
	for (int i = 0; i < b->n_nodes; i++)
		if (node_usable(&b->nodes[i])) {
			b->unreachable_since = 0;
			return false;
		}
	if (!b->unreachable_since)
		b->unreachable_since = now;
	if (now - b->unreachable_since < BENCH_UNREACHABLE_US)
		return false;
	const char *why = "no connection could be opened";
	const char *where = b->nodes[0].label;
	for (int i = 0; i < b->n_nodes; i++)
		for (int k = 0; k < b->nodes[i].n_conns; k++)
			if (b->nodes[i].conns[k].why[0]) {
				why = b->nodes[i].conns[k].why;
				where = b->nodes[i].label;
			}
	b->fatal = true;
	snprintf(b->fatal_msg, sizeof(b->fatal_msg),
	         "no node reachable for %d s (%llu requests sent; the last failure, %.100s: "
	         "%.150s): giving up",
	         (int)(BENCH_UNREACHABLE_US / 1000000), (unsigned long long)b->sent, where, why);
	ev_break(b->loop, EVBREAK_ONE);
	return true;
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
	if (give_up_when_unreachable(b, now))
		return;
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
	b->unreachable_since = 0;
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
	disarm_sched(b);
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
		if (ev_is_active(&b->flush_w)) {
			ev_ref(b->loop);
			ev_prepare_stop(b->loop, &b->flush_w);
		}
		if (ev_is_active(&b->sched_io)) {
			ev_ref(b->loop);
			ev_io_stop(b->loop, &b->sched_io);
		}
	}
	if (b->sched_fd >= 0)
		close(b->sched_fd);
	for (int i = 0; i < b->n_nodes; i++)
		free(b->nodes[i].conns);
	if (b->ins)
		cqlprepared_free(b->ins);
	if (b->sel)
		cqlprepared_free(b->sel);
	tokenmap_release(&b->tm);
	bench_stats_release(&b->stats);
	keydist_free(b->dist);
	free(b->seq);
	while (b->chunks) {
		struct breq_chunk *next = b->chunks->next;
		free(b->chunks);
		b->chunks = next;
	}
	free(b->dirty);
	free(b->value);
	if (b->loop)
		ev_loop_destroy(b->loop);
	free(b);
}

/* ---- the run, step by step ------------------------------------------------------------------ */

/* The bench with its event loop and watchers; NULL (after saying why) if
 * either cannot be had. */
static struct bench *bench_new(struct bench_opts *o)
{
	struct bench *b = calloc(1, sizeof(*b));
	if (!b) {
		fprintf(stderr, "colonnade bench: out of memory\n");
		return NULL;
	}
	b->sched_fd = -1;
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
	ev_set_priority(&b->sched_timer, EV_MAXPRI);
	ev_init(&b->tick_timer, tick_timer_cb);
	ev_init(&b->end_timer, end_timer_cb);
	ev_init(&b->wait_timer, wait_timer_cb);
	ev_signal_init(&b->sigint, sigint_cb, SIGINT);
	ev_signal_start(b->loop, &b->sigint);
	ev_unref(b->loop); /* the signal watcher alone must not keep the loop alive */
	ev_prepare_init(&b->flush_w, flush_cb);
	ev_prepare_start(b->loop, &b->flush_w);
	ev_unref(b->loop);
	/* Timer slack would add up to 50 µs to every scheduled wake-up. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	b->sched_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (b->sched_fd >= 0) {
		ev_io_init(&b->sched_io, sched_io_cb, b->sched_fd, EV_READ);
		/* Due ops before answers in one iteration (see sched_fired). */
		ev_set_priority(&b->sched_io, EV_MAXPRI);
		ev_io_start(b->loop, &b->sched_io);
		ev_unref(b->loop);
	}
	keyrng_seed(&b->rng, o->seed);
	return b;
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
	int rc = bench_connect_contacts(b, &ctl);
	if (!rc)
		rc = bench_setup_ring_and_schema(b, &ctl);
	int connect_nodes = o->discover ? b->n_nodes : ctl.n_contacts;
	if (!rc)
		rc = bench_open_data_conns(b, connect_nodes, &total);
	if (!rc)
		rc = bench_await_data_conns(b, connect_nodes, total);
	if (!rc)
		rc = bench_prepare_statements(b);
	if (ctl.cl) {
		cqlclient_free(ctl.cl);
		ctl.cl = NULL;
	}
	if (!rc)
		rc = bench_setup_requests(b, total);
	if (!rc && workload_writes(o))
		rc = bench_probe(b, false);
	if (!rc && workload_reads(o))
		rc = bench_probe(b, true);
	if (rc) {
		free_bench(b);
		return rc;
	}
	bench_find_node_procs(b, connect_nodes);
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
