/*
 * worker.c — the repair worker: one thread that builds trees, reads chunks
 * and applies them, so the event loop never waits on a scan.  Jobs arrive in
 * a bounded queue (REPAIR_MAX_JOBS) and go back to the loop through an
 * ev_async, where their done() callbacks run.
 */
#include "coordinator/repair/repair_int.h"

#include "core/clock.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rjob *rjob_new(enum rjob_kind kind)
{
	struct rjob *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->kind = kind;
	buf_init(&j->after);
	buf_init(&j->chunk);
	buf_init(&j->last);
	return j;
}

void rjob_free(struct rjob *j)
{
	if (!j)
		return;
	buf_release(&j->after);
	buf_release(&j->chunk);
	buf_release(&j->last);
	merkle_free(j->tree);
	free(j);
}

void worker_throttle(struct repair *r, int64_t *from_us, uint64_t *sent, uint64_t bytes)
{
	uint64_t rate = atomic_load(&r->throttle_bytes_per_s);
	if (!rate)
		return;
	int64_t now = clock_mono_us();
	if (*from_us == 0 || now - *from_us > 1000000) { /* a fresh one-second window */
		*from_us = now;
		*sent = 0;
	}
	*sent += bytes;
	int64_t due = *from_us + (int64_t)(*sent * 1000000 / rate);
	if (due > now) {
		struct timespec ts = {(due - now) / 1000000, ((due - now) % 1000000) * 1000};
		nanosleep(&ts, NULL);
	}
}

struct tree_build {
	struct repair *r;
	struct merkle *tree;
	int64_t from_us;
	uint64_t sent, last_bytes;
	struct store_repair_counts *counts;
};

static int tree_add(void *ctx, int64_t token, const struct merkle_hash *h)
{
	struct tree_build *b = ctx;
	if (merkle_add(b->tree, token, h))
		return COL_ECORRUPT; /* a partition outside the range: cannot happen */
	uint64_t n = b->counts->bytes - b->last_bytes;
	b->last_bytes = b->counts->bytes;
	worker_throttle(b->r, &b->from_us, &b->sent, n);
	if (b->r->stopping)
		return COL_ECLOSED;
	return 0;
}

static void run_tree(struct repair *r, struct rjob *j, struct store_table *t)
{
	int64_t t0 = clock_mono_us();
	j->rc = merkle_new(j->start, j->end, j->depth, &j->tree);
	if (j->rc) {
		cerr_set(&j->err, j->rc, "repair tree of depth %u: out of memory", j->depth);
		return;
	}
	struct tree_build b = {.r = r, .tree = j->tree, .counts = &j->counts};
	j->rc = store_repair_hash(t, j->start, j->end, j->now_s, tree_add, &b, &j->counts, &j->err);
	if (j->rc == COL_ECLOSED)
		cerr_set(&j->err, j->rc, "repair worker stopping");
	pthread_mutex_lock(&r->mu);
	r->stats.trees_built++;
	r->stats.tree_partitions += j->counts.partitions;
	r->stats.tree_bytes += j->counts.bytes;
	r->stats.tree_us += (uint64_t)(clock_mono_us() - t0);
	pthread_mutex_unlock(&r->mu);
}

static void run_job(struct repair *r, struct rjob *j, int64_t *from_us, uint64_t *sent)
{
	struct store_table *t = store_table_find(r->cfg.store, j->table_id);
	if (!t) {
		j->rc = cerr_set(&j->err, COL_ENOTFOUND, "repair: no table with this id here");
		return;
	}
	switch (j->kind) {
	case RJOB_TREE: run_tree(r, j, t); break;
	case RJOB_STREAM:
		j->chunk.len = 0;
		j->rc = store_repair_chunk(t, j->start, j->end, j->after.len ? j->after.data : NULL,
		                           j->after.len, j->now_s, j->max_bytes, &j->chunk,
		                           &j->last, &j->more, &j->err);
		if (!j->rc)
			worker_throttle(r, from_us, sent, j->chunk.len);
		break;
	case RJOB_COMPACT: {
		int64_t t0 = clock_mono_us();
		const struct store_table_desc *d = store_table_desc(t);
		j->rc = store_table_compact(t, 0, &j->err);
		log_info("repair", "full compaction of %s.%s in %ld ms%s%s", d->keyspace, d->name,
		         (long)((clock_mono_us() - t0) / 1000), j->rc ? ": " : "",
		         j->rc ? j->err.msg : "");
		break;
	}
	case RJOB_SYNC:
		j->rc = store_repair_apply(t, j->start, j->end, j->chunk.data, j->chunk.len,
		                           &j->pairs, &j->err);
		break;
	}
}

static void *worker_main(void *arg)
{
	struct repair *r = arg;
	int64_t from_us = 0;
	uint64_t sent = 0;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->queue && !r->stopping)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->stopping)
			break;
		struct rjob *j = r->queue;
		r->queue = j->next;
		if (!r->queue)
			r->queue_tail = NULL;
		r->queued--;
		pthread_mutex_unlock(&r->mu);
		run_job(r, j, &from_us, &sent);
		pthread_mutex_lock(&r->mu);
		j->next = r->done_list;
		r->done_list = j;
		ev_async_send(r->cfg.loop, &r->async);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* On the loop: hand finished jobs to their owners, oldest first. */
static void on_async(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop, (void)revents;
	struct repair *r = w->data;
	pthread_mutex_lock(&r->mu);
	struct rjob *list = r->done_list;
	r->done_list = NULL;
	pthread_mutex_unlock(&r->mu);
	struct rjob *rev = NULL;
	while (list) {
		struct rjob *n = list->next;
		list->next = rev;
		rev = list;
		list = n;
	}
	while (rev) {
		struct rjob *n = rev->next;
		rev->next = NULL;
		rev->done(r, rev);
		rev = n;
	}
}

int worker_submit(struct repair *r, struct rjob *j)
{
	pthread_mutex_lock(&r->mu);
	int rc = 0;
	if (r->stopping)
		rc = COL_ECLOSED;
	else if (r->queued >= REPAIR_MAX_JOBS)
		rc = COL_EOVERLOADED;
	if (!rc) {
		j->next = NULL;
		if (r->queue_tail)
			r->queue_tail->next = j;
		else
			r->queue = j;
		r->queue_tail = j;
		r->queued++;
		pthread_cond_signal(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int worker_start(struct repair *r, struct cerr *err)
{
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	ev_async_init(&r->async, on_async);
	r->async.data = r;
	ev_async_start(r->cfg.loop, &r->async);
	if (pthread_create(&r->thread, NULL, worker_main, r) != 0) {
		ev_async_stop(r->cfg.loop, &r->async);
		return cerr_set(err, COL_ENOMEM, "repair: cannot start the worker thread");
	}
	r->thread_started = true;
	return 0;
}

/* Jobs still queued or finished are dropped: their owners are being freed too. */
void worker_stop(struct repair *r)
{
	if (!r->thread_started)
		return;
	pthread_mutex_lock(&r->mu);
	r->stopping = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	r->thread_started = false;
	ev_async_stop(r->cfg.loop, &r->async);
	struct rjob *lists[2] = {r->queue, r->done_list};
	for (int i = 0; i < 2; i++)
		while (lists[i]) {
			struct rjob *n = lists[i]->next;
			if (i == 0)
				lists[i]->rc = COL_ECLOSED;
			lists[i]->done(r, lists[i]); /* owners see rc COL_ECLOSED and free */
			lists[i] = n;
		}
	r->queue = r->queue_tail = r->done_list = NULL;
}
