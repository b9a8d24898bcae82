/*
 * session.c — the repairing side: for each task (table, range) in turn,
 * trees from every replica (REPAIR_TREE, or a local worker job), pairwise
 * comparison, then for each differing sub-range and pair one chunk at a time
 * pulled from one side (REPAIR_STREAM) and pushed to the other (REPAIR_SYNC),
 * both ways.  Every step carries the session's generation, so an answer that
 * arrives after its task failed or moved on is ignored.
 */
#include "coordinator/repair/repair_int.h"

#include "core/array.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/msgpk.h"
#include "gossip/messaging.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_STREAM (RING_MAX_RF * 2)

int64_t repair_now_ms(void)
{
	return clock_wall_us() / 1000;
}

static void task_next(struct rsession *s);
static void stream_step(struct rsession *s);

static void task_reset(struct rsession *s)
{
	for (size_t i = 0; i < RING_MAX_RF * 2; i++) {
		merkle_free(s->trees[i]);
		s->trees[i] = NULL;
	}
	free(s->diffs);
	s->diffs = NULL;
	s->n_diffs = s->cap_diffs = s->di = 0;
	s->push_to = 0;
	s->after.len = 0;
	s->chunk.len = 0;
	s->task_err[0] = 0;
	s->gen++;
}

void session_free(struct rsession *s)
{
	if (!s)
		return;
	if (s->inflight) { /* answers still to come hold a pointer to it */
		s->orphaned = true;
		return;
	}
	task_reset(s);
	ev_timer_stop(s->r->cfg.loop, &s->throttle);
	ev_timer_stop(s->r->cfg.loop, &s->kick);
	if (s->ring)
		ring_unref(s->ring);
	buf_release(&s->after);
	buf_release(&s->chunk);
	for (size_t i = 0; i < s->opt.n_tables; i++)
		free((char *)s->opt.tables[i]);
	free((void *)s->opt.tables);
	free((char *)s->opt.dc);
	free(s->tasks);
	free(s->fails);
	free(s);
}

/* An answer arrived: false when the session is gone or the step is stale. */
static bool answer_current(struct rsession *s, unsigned gen)
{
	s->inflight--;
	if (s->orphaned) {
		session_free(s);
		return false;
	}
	return s->state == RS_RUNNING && gen == s->gen;
}

static void finish(struct rsession *s, enum rsess_state st)
{
	task_reset(s);
	s->state = st;
	s->finished_ms = repair_now_ms();
	session_finished(s->r, s);
}

static void task_done(struct rsession *s, const char *outcome)
{
	struct rtask *t = &s->tasks[s->cur];
	history_record(s->r, s, t, outcome);
	s->done++;
	s->cur++;
	task_reset(s);
	/* the next task starts from the loop, not from inside this one's callbacks */
	ev_timer_set(&s->kick, 0., 0.);
	ev_timer_start(s->r->cfg.loop, &s->kick);
}

static void task_fail(struct rsession *s, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void task_fail(struct rsession *s, const char *fmt, ...)
{
	struct rtask *t = &s->tasks[s->cur];
	char reason[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	log_warn("repair", "session %lu: %s.%s (%ld,%ld] failed: %s", (unsigned long)s->id, t->ks,
	         t->table, (long)t->start, (long)t->end, reason);
	s->failed++;
	s->r->stats.ranges_failed++;
	if (s->n_fails < REPAIR_MAX_FAILURES_LISTED) {
		struct rfail *f = &s->fails[s->n_fails++];
		snprintf(f->table, sizeof(f->table), "%s.%s", t->ks, t->table);
		f->start = t->start;
		f->end = t->end;
		snprintf(f->reason, sizeof(f->reason), "%s", reason);
	}
	char outcome[160];
	snprintf(outcome, sizeof(outcome), "failed: %.150s", reason);
	if (s->cancel)
		snprintf(outcome, sizeof(outcome), "cancelled");
	task_done(s, outcome);
}

/* The reason a request failed, for task_fail. */
static void request_failure(struct rsession *s, const char *verb, const struct rpeer *p, int status,
                            const struct msg_in *rsp)
{
	char msg[160] = "";
	int code = status;
	if (status == COL_ETIMEDOUT)
		task_fail(s, "%s to %s timed out after %u ms", verb, p->name, s->r->cfg.timeout_ms);
	else if (rsp && messaging_failure_text(rsp, &code, msg, sizeof(msg)) == 0)
		task_fail(s, "%s to %s failed there: %s", verb, p->name, msg);
	else
		task_fail(s, "%s to %s failed: %s", verb, p->name, col_strerror(status));
}

/* ---- sending a step: to a peer, or to the local worker ----------------------------------------
 */

static int send_req(struct rsession *s, unsigned slot, unsigned peer, const struct repair_req *q,
                    messaging_rsp_fn cb)
{
	struct msg_out o;
	s->slots[slot] = (struct rslot){.s = s, .peer = peer, .gen = s->gen};
	int rc = messaging_begin_request(s->r->cfg.msg, &s->tasks[s->cur].peers[peer].addr, q->verb,
	                                 s->r->cfg.timeout_ms, cb, &s->slots[slot], &o);
	if (rc)
		return rc;
	repair_req_put(o.b, q);
	if (!buf_ok(o.b)) {
		messaging_abort(&o);
		return COL_ENOMEM;
	}
	rc = messaging_commit(&o);
	if (!rc)
		s->inflight++;
	return rc;
}

static int submit_local(struct rsession *s, unsigned peer, const struct repair_req *q,
                        rjob_done_fn done)
{
	struct rjob *j = rjob_from_req(q);
	if (!j)
		return COL_ENOMEM;
	j->owner = s;
	j->peer = peer;
	j->done = done;
	j->gen = s->gen;
	int rc = worker_submit(s->r, j);
	if (rc)
		rjob_free(j);
	else
		s->inflight++;
	return rc;
}

/* ---- trees ------------------------------------------------------------------------------------
 */

/* Add leaf's (src -> dst_mask) to the diffs, extending the run the previous leaf left open. */
static int diff_add(struct rsession *s, const struct merkle *t, size_t leaf, unsigned src,
                    uint32_t dst_mask, size_t open_from)
{
	for (size_t k = open_from; k < s->n_diffs; k++) {
		struct rdiff *d = &s->diffs[k];
		if (d->src == src && d->dst_mask == dst_mask && d->last_leaf + 1 == leaf) {
			int64_t lo;
			merkle_leaf_range(t, leaf, &lo, &d->hi);
			d->last_leaf = leaf;
			return 0;
		}
	}
	if (ARRAY_GROW(s->diffs, s->cap_diffs, s->n_diffs + 1))
		return COL_ENOMEM;
	struct rdiff *d = &s->diffs[s->n_diffs++];
	*d = (struct rdiff){.src = (uint8_t)src, .dst_mask = dst_mask, .last_leaf = leaf};
	merkle_leaf_range(t, leaf, &d->lo, &d->hi);
	return 0;
}

static bool leaf_equal(const struct merkle_leaf *x, const struct merkle_leaf *y)
{
	return x->h.lo == y->h.lo && x->h.hi == y->h.hi && x->count == y->count;
}

/*
 * One leaf: the peers fall into classes of equal hashes.  With one class
 * nothing moves.  Else a hub (the first peer of the largest class) gathers:
 * the first peer of every other class streams the leaf to the hub, then the
 * hub streams its merged leaf to every peer outside its class.  With one
 * stale replica of three that is two streams of the leaf (stale → hub, hub
 * → stale) where pairwise exchange makes four; when the stale side held
 * newer data the hub's class-mates still lack it, which the next round's
 * trees show (REPAIR_ROUNDS).
 */
static int diff_one_leaf(struct rsession *s, unsigned n_peers, size_t leaf, size_t *open_from)
{
	int cls[RING_MAX_RF * 2];
	unsigned n_cls = 0, size[RING_MAX_RF * 2] = {0};
	for (unsigned p = 0; p < n_peers; p++) {
		cls[p] = -1;
		for (unsigned q = 0; q < p && cls[p] < 0; q++)
			if (leaf_equal(&s->trees[p]->leaves[leaf], &s->trees[q]->leaves[leaf]))
				cls[p] = cls[q];
		if (cls[p] < 0)
			cls[p] = (int)n_cls++;
		size[cls[p]]++;
	}
	if (n_cls < 2)
		return 0;
	if (s->round == 0)
		s->task_leaves++;
	unsigned hub = 0;
	for (unsigned p = 1; p < n_peers; p++)
		if (size[cls[p]] > size[cls[hub]])
			hub = p;
	size_t from = s->n_diffs;
	uint32_t out = 0;
	for (unsigned rep = 0; rep < n_peers; rep++) {
		if (cls[rep] == cls[hub])
			continue;
		out |= 1u << rep;
		bool first = true;
		for (unsigned q = 0; q < rep && first; q++)
			first = cls[q] != cls[rep];
		int rc = first ? diff_add(s, s->trees[0], leaf, rep, 1u << hub, *open_from) : 0;
		if (rc)
			return rc;
	}
	int rc = diff_add(s, s->trees[0], leaf, hub, out, *open_from);
	*open_from = from;
	return rc;
}

/* Every tree is in: compare leaf by leaf, then stream (or stop at a preview). */
static void trees_compared(struct rsession *s)
{
	struct rtask *t = &s->tasks[s->cur];
	int rc = 0;
	size_t open_from = 0;
	for (size_t leaf = 0; leaf < merkle_n_leaves(s->trees[0]) && !rc; leaf++)
		rc = diff_one_leaf(s, t->n_peers, leaf, &open_from);
	if (s->round == 0)
		s->leaves_total += merkle_n_leaves(s->trees[0]);
	for (size_t i = 0; i < RING_MAX_RF * 2; i++) { /* the diffs are all we keep */
		merkle_free(s->trees[i]);
		s->trees[i] = NULL;
	}
	if (rc) {
		task_fail(s, "comparing trees: %s", col_strerror(rc));
		return;
	}
	if (s->round == 0) {
		s->leaves_differing += s->task_leaves;
		s->r->stats.leaves_differing += s->task_leaves;
	}
	if (s->opt.preview || !s->n_diffs) {
		s->r->stats.ranges_ok++;
		task_done(s, s->opt.preview ? "preview" : "ok");
		return;
	}
	s->last_chunk = false;
	stream_step(s);
}

static void tree_in(struct rsession *s, unsigned peer, struct merkle *tree)
{
	s->trees[peer] = tree;
	if (--s->trees_pending == 0)
		trees_compared(s);
}

static void on_tree_rsp(void *ctx, int status, const struct msg_in *rsp)
{
	struct rslot *sl = ctx;
	struct rsession *s = sl->s;
	if (!answer_current(s, sl->gen))
		return;
	struct rtask *t = &s->tasks[s->cur];
	const struct rpeer *p = &t->peers[sl->peer];
	if (status) {
		request_failure(s, "REPAIR_TREE", p, status, rsp);
		return;
	}
	struct merkle *tree;
	uint64_t parts;
	struct cerr err = {0};
	if (repair_tree_rsp_decode(rsp->payload, rsp->payload_len, s->depth, t->start, t->end,
	                           &tree, &parts, &err)) {
		log_warn("repair", "refused a tree from %s: %s", p->name, err.msg);
		task_fail(s, "%s sent a malformed tree: %s", p->name, err.msg);
		return;
	}
	tree_in(s, sl->peer, tree);
}

static void on_local_tree(struct repair *r, struct rjob *j)
{
	(void)r;
	struct rsession *s = j->owner;
	if (!answer_current(s, j->gen) || r->stopping) {
		rjob_free(j);
		return;
	}
	if (j->rc) {
		task_fail(s, "building the local tree: %s", j->err.msg);
	} else {
		struct merkle *tree = j->tree;
		j->tree = NULL;
		tree_in(s, j->peer, tree);
	}
	rjob_free(j);
}

static void trees_ask(struct rsession *s)
{
	struct rtask *t = &s->tasks[s->cur];
	struct store_table *st = store_table_find(s->r->cfg.store, t->table_id);
	if (!st) {
		task_fail(s, "the table is not open on this node (dropped?)");
		return;
	}
	s->depth = merkle_depth_for(store_repair_estimate_partitions(st, t->start, t->end),
	                            REPAIR_MAX_DEPTH);
	for (unsigned i = 0; i < t->n_peers; i++)
		if (!t->peers[i].self &&
		    !s->r->cfg.alive(s->r->cfg.ctx, s->ring, t->peers[i].ring_idx)) {
			task_fail(s, "replica %s is down", t->peers[i].name);
			return;
		}
	struct repair_req q = {.verb = VERB_REPAIR_TREE,
	                       .session = s->id,
	                       .start = t->start,
	                       .end = t->end,
	                       .now_s = s->now_s,
	                       .depth = s->depth};
	memcpy(q.table_id, t->table_id, 16);
	s->trees_pending = t->n_peers;
	unsigned gen = s->gen;
	for (unsigned i = 0; i < t->n_peers && gen == s->gen; i++) {
		int rc = t->peers[i].self ? submit_local(s, i, &q, on_local_tree)
		                          : send_req(s, i, i, &q, on_tree_rsp);
		if (rc)
			task_fail(s, "REPAIR_TREE to %s not sent: %s", t->peers[i].name,
			          col_strerror(rc));
	}
}

static void task_next(struct rsession *s)
{
	if (s->cancel) {
		finish(s, RS_CANCELLED);
		return;
	}
	if (s->cur >= s->n_tasks) {
		finish(s, RS_DONE);
		return;
	}
	s->task_started_ms = repair_now_ms();
	s->task_leaves = s->task_bytes = 0;
	s->round = 0;
	trees_ask(s);
}

/* ---- streaming: pull a chunk from one peer, push it to the others -------------------------------
 */

static void stream_advance(struct rsession *s)
{
	s->after.len = 0;
	s->last_chunk = false;
	s->di++;
	stream_step(s);
}

static void on_sync_rsp(void *ctx, int status, const struct msg_in *rsp);
static void on_local_sync(struct repair *r, struct rjob *j);

/* The chunk has reached every destination: wait for the byte budget, then pull the next. */
static void chunk_delivered(struct rsession *s)
{
	uint64_t sent = s->chunk.len;
	s->chunk.len = 0;
	if (s->last_chunk) { /* the sub-range is done */
		stream_advance(s);
		return;
	}
	uint64_t rate = atomic_load(&s->r->throttle_bytes_per_s);
	int64_t now = clock_mono_us();
	if (rate) {
		if (!s->throttle_from_us || now - s->throttle_from_us > 1000000) {
			s->throttle_from_us = now;
			s->throttle_bytes = 0;
		}
		s->throttle_bytes += sent;
		int64_t due = s->throttle_from_us + (int64_t)(s->throttle_bytes * 1000000 / rate);
		if (due > now) {
			ev_timer_set(&s->throttle, (double)(due - now) / 1e6, 0.);
			ev_timer_start(s->r->cfg.loop, &s->throttle);
			return;
		}
	}
	stream_step(s);
}

/* Push the chunk in hand to the next peer of the diff's destinations. */
static void push_next(struct rsession *s)
{
	struct rtask *t = &s->tasks[s->cur];
	const struct rdiff *d = &s->diffs[s->di];
	unsigned dst = s->push_to;
	while (dst < t->n_peers && !(d->dst_mask & (1u << dst)))
		dst++;
	if (dst >= t->n_peers) {
		chunk_delivered(s);
		return;
	}
	s->push_to = dst + 1;
	struct repair_req q = {.verb = VERB_REPAIR_SYNC,
	                       .session = s->id,
	                       .start = d->lo,
	                       .end = d->hi,
	                       .chunk = s->chunk.data,
	                       .chunk_len = (uint32_t)s->chunk.len};
	memcpy(q.table_id, t->table_id, 16);
	int rc = t->peers[dst].self ? submit_local(s, dst, &q, on_local_sync)
	                            : send_req(s, SLOT_STREAM, dst, &q, on_sync_rsp);
	if (rc)
		task_fail(s, "REPAIR_SYNC to %s not sent: %s", t->peers[dst].name,
		          col_strerror(rc));
}

static void on_pushed(struct rsession *s, uint64_t pairs)
{
	s->pairs += pairs;
	s->bytes += s->chunk.len;
	s->task_bytes += s->chunk.len;
	s->r->stats.bytes_streamed += s->chunk.len;
	push_next(s);
}

static void on_sync_rsp(void *ctx, int status, const struct msg_in *rsp)
{
	struct rslot *sl = ctx;
	struct rsession *s = sl->s;
	if (!answer_current(s, sl->gen))
		return;
	const struct rpeer *p = &s->tasks[s->cur].peers[sl->peer];
	uint64_t pairs;
	struct cerr err = {0};
	if (status)
		request_failure(s, "REPAIR_SYNC", p, status, rsp);
	else if (repair_sync_rsp_decode(rsp->payload, rsp->payload_len, &pairs, &err))
		task_fail(s, "%s: %s", p->name, err.msg);
	else
		on_pushed(s, pairs);
}

static void on_local_sync(struct repair *r, struct rjob *j)
{
	struct rsession *s = j->owner;
	if (!answer_current(s, j->gen) || r->stopping) {
		rjob_free(j);
		return;
	}
	if (j->rc)
		task_fail(s, "applying a chunk locally: %s", j->err.msg);
	else
		on_pushed(s, j->pairs);
	rjob_free(j);
}

/* A pulled chunk: remember where to resume, push it to every destination. */
static void on_pulled(struct rsession *s, const uint8_t *chunk, uint32_t clen, const uint8_t *last,
                      uint32_t llen, bool more)
{
	if (clen == 0) {
		stream_advance(s);
		return;
	}
	s->chunk.len = 0;
	buf_put(&s->chunk, chunk, clen);
	s->after.len = 0;
	if (more)
		buf_put(&s->after, last, llen);
	s->last_chunk = !more;
	if (!buf_ok(&s->chunk) || !buf_ok(&s->after)) {
		task_fail(s, "out of memory holding a chunk");
		return;
	}
	s->push_to = 0;
	push_next(s);
}

static void on_stream_rsp(void *ctx, int status, const struct msg_in *rsp)
{
	struct rslot *sl = ctx;
	struct rsession *s = sl->s;
	if (!answer_current(s, sl->gen))
		return;
	const struct rpeer *p = &s->tasks[s->cur].peers[sl->peer];
	if (status) {
		request_failure(s, "REPAIR_STREAM", p, status, rsp);
		return;
	}
	const uint8_t *chunk, *last;
	uint32_t clen, llen;
	bool more;
	struct cerr err = {0};
	if (repair_stream_rsp_decode(rsp->payload, rsp->payload_len, REPAIR_CHUNK, &chunk, &clen,
	                             &last, &llen, &more, &err)) {
		log_warn("repair", "refused a chunk from %s: %s", p->name, err.msg);
		task_fail(s, "%s sent a malformed chunk: %s", p->name, err.msg);
		return;
	}
	on_pulled(s, chunk, clen, last, llen, more);
}

static void on_local_stream(struct repair *r, struct rjob *j)
{
	struct rsession *s = j->owner;
	if (!answer_current(s, j->gen) || r->stopping) {
		rjob_free(j);
		return;
	}
	if (j->rc)
		task_fail(s, "reading a chunk locally: %s", j->err.msg);
	else
		on_pulled(s, j->chunk.data, (uint32_t)j->chunk.len, j->last.data,
		          (uint32_t)j->last.len, j->more);
	rjob_free(j);
}

static void stream_step(struct rsession *s)
{
	if (s->cancel) {
		task_fail(s, "cancelled");
		return;
	}
	if (s->di >= s->n_diffs) {
		if (++s->round < REPAIR_ROUNDS) { /* compare again: what is left to move? */
			unsigned round = s->round;
			task_reset(s);
			s->round = round;
			trees_ask(s);
			return;
		}
		s->r->stats.ranges_ok++;
		task_done(s, "ok");
		return;
	}
	struct rtask *t = &s->tasks[s->cur];
	const struct rdiff *d = &s->diffs[s->di];
	unsigned src = d->src;
	struct repair_req q = {.verb = VERB_REPAIR_STREAM,
	                       .session = s->id,
	                       .start = d->lo,
	                       .end = d->hi,
	                       .now_s = s->now_s,
	                       .max_bytes = REPAIR_CHUNK};
	memcpy(q.table_id, t->table_id, 16);
	if (s->after.len) {
		q.after = s->after.data;
		q.after_len = (uint32_t)s->after.len;
	}
	int rc = t->peers[src].self ? submit_local(s, src, &q, on_local_stream)
	                            : send_req(s, SLOT_STREAM, src, &q, on_stream_rsp);
	if (rc)
		task_fail(s, "REPAIR_STREAM to %s not sent: %s", t->peers[src].name,
		          col_strerror(rc));
}

static void on_throttle(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	struct rsession *s = w->data;
	if (s->state == RS_RUNNING)
		stream_step(s);
}

static void on_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	struct rsession *s = w->data;
	if (s->state == RS_RUNNING)
		task_next(s);
}

static char *dup_or_null(const char *p)
{
	return p ? strdup(p) : NULL;
}

struct rsession *session_new(struct repair *r, const struct repair_options *o)
{
	struct rsession *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->r = r;
	buf_init(&s->after);
	buf_init(&s->chunk);
	ev_timer_init(&s->throttle, on_throttle, 0., 0.);
	s->throttle.data = s;
	ev_timer_init(&s->kick, on_kick, 0., 0.);
	s->kick.data = s;
	s->opt = *o;
	snprintf(s->keyspace, sizeof(s->keyspace), "%s", o->keyspace ? o->keyspace : "");
	s->opt.keyspace = o->keyspace ? s->keyspace : NULL;
	s->opt.dc = dup_or_null(o->dc);
	s->opt.tables = o->n_tables ? calloc(o->n_tables, sizeof(char *)) : NULL;
	s->fails = calloc(REPAIR_MAX_FAILURES_LISTED, sizeof(*s->fails));
	bool ok = s->fails && (!o->dc || s->opt.dc) && (!o->n_tables || s->opt.tables);
	for (size_t i = 0; ok && i < o->n_tables; i++)
		ok = (((char **)s->opt.tables)[i] = strdup(o->tables[i])) != NULL;
	if (!ok) {
		s->opt.n_tables = s->opt.tables ? o->n_tables : 0;
		session_free(s);
		return NULL;
	}
	return s;
}

void session_begin(struct rsession *s)
{
	s->state = RS_RUNNING;
	s->started_ms = repair_now_ms();
	s->now_s = s->started_ms / 1000;
	ev_timer_start(s->r->cfg.loop, &s->kick);
}
