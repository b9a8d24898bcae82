/*
 * writer.c — group commit.  Every event loop that writes has a lane: the mutations that
 * arrive during one iteration of the loop gather in the lane's open group (one
 * WriteBatch) and are applied together just before the loop sleeps (an ev_prepare).
 *
 * A group is applied on the loop itself when that cannot block: sync periodic, the
 * writer has nothing of this store queued, no stall was seen since it drained, and the
 * write is made with no_slowdown (RocksDB answers "incomplete" instead of delaying or
 * stopping it).  Otherwise — sync batch, a stall, a backlog — the group goes through a
 * bounded queue to the store's writer thread, which takes everything queued at once,
 * writes it as one WriteBatch (with sync batch: sync=true, so one fsync for the round
 * before any of its mutations is acknowledged) and hands each group back to its lane's
 * loop through the lane's ev_async.  A RocksDB stall therefore blocks the writer thread,
 * never a loop: gossip and reads go on, and writes beyond write_queue_max mutations or
 * write_queue_max_bytes bytes are refused with COL_EOVERLOADED instead of queueing
 * without limit.
 *
 * Threads: a lane is used only by its loop's thread; the queue, each lane's done list
 * and in_writer count are guarded by s->wq_mu; counters are atomics.
 */
#include "storage/storage_int.h"

#include "core/log.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

#define MOD "storage"
/* A group this full is closed and a new one opened.  Where groups are written inline,
 * an iteration that reads a burst (after a stall of the loop) applies it as several
 * batches at its end, still on the loop: a hop to the writer thread would add two thread
 * wake-ups, on cores that were just too busy to run the loop.  Otherwise the full group
 * goes to the writer at once. */
#define GROUP_MAX_MUTATIONS 1024
#define GROUP_MAX_BYTES     (8u << 20)
/* Groups a lane keeps for reuse, and the largest batch it keeps (bytes). */
#define LANE_SPARE_GROUPS 4
#define SPARE_MAX_BYTES   (1u << 20)
/* A WriteBatch's representation: sequence (fixed64), count (fixed32), then records. */
#define WB_HEADER 12
/* Inline rounds per ev_prepare: completions that write again go to the writer after it. */
#define FLUSH_ROUNDS 4

struct wdone {
	store_write_done_fn fn;
	void *ctx;
};

struct wgroup {
	struct wgroup *next;
	struct store_lane *lane;
	rocksdb_writebatch_t *wb;
	struct wdone *done;
	size_t n, cap;
	size_t bytes; /* its write batch's, once closed (counted in wq_bytes or full_bytes) */
	int rc;
	struct cerr err;
};

struct store_lane {
	struct store *s;
	struct ev_loop *loop;
	ev_prepare flush;
	ev_async wake;
	struct wgroup *open;                  /* this iteration's mutations */
	struct wgroup *full_head, *full_tail; /* this iteration's groups closed full, in order */
	size_t full_muts;                     /* their mutations */
	size_t full_bytes;                    /* and their write batches' bytes */
	struct wgroup *spare;                 /* for reuse */
	size_t n_spare;
	size_t handed;                /* groups handed to the writer whose callbacks have not run */
	struct emit_scratch *scratch; /* this loop's mutations are encoded in it */
	struct wgroup *done_head, *done_tail; /* s->wq_mu: applied, callbacks to run */
	size_t in_writer;                     /* s->wq_mu: handed, not yet on the done list */
};

static void stat_max(_Atomic uint64_t *m, uint64_t v)
{
	uint64_t cur = atomic_load_explicit(m, memory_order_relaxed);
	while (v > cur && !atomic_compare_exchange_weak(m, &cur, v))
		;
}

static void group_destroy(struct wgroup *g)
{
	if (!g)
		return;
	rocksdb_writebatch_destroy(g->wb);
	free(g->done);
	free(g);
}

static struct wgroup *group_get(struct store_lane *l)
{
	struct wgroup *g = l->spare;
	if (g) {
		l->spare = g->next;
		l->n_spare--;
	} else {
		g = calloc(1, sizeof(*g));
		if (!g)
			return NULL;
		g->wb = rocksdb_writebatch_create();
	}
	g->next = NULL;
	g->lane = l;
	g->n = 0;
	g->bytes = 0;
	g->rc = 0;
	return g;
}

static void group_put(struct store_lane *l, struct wgroup *g)
{
	size_t len;
	rocksdb_writebatch_data(g->wb, &len);
	if (l->n_spare >= LANE_SPARE_GROUPS || len > SPARE_MAX_BYTES) {
		group_destroy(g);
		return;
	}
	rocksdb_writebatch_clear(g->wb);
	g->next = l->spare;
	l->spare = g;
	l->n_spare++;
}

/* On the lane's loop: every mutation of g learns its outcome, in submission order. */
static void group_complete(struct store_lane *l, struct wgroup *g)
{
	for (size_t i = 0; i < g->n; i++)
		g->done[i].fn(g->done[i].ctx, g->rc, g->rc ? &g->err : NULL);
	group_put(l, g);
}

static bool is_stall(const char *rerr)
{
	/* Status::Incomplete: the only answer no_slowdown adds ("Result incomplete: Write
	 * stall"). */
	return strncmp(rerr, "Result incomplete", 17) == 0;
}

static void hand_to_writer(struct store_lane *l, struct wgroup *g)
{
	struct store *s = l->s;
	l->handed++;
	rocksdb_writebatch_data(g->wb, &g->bytes);
	pthread_mutex_lock(&s->wq_mu);
	g->next = NULL;
	if (s->wq_tail)
		s->wq_tail->next = g;
	else
		s->wq_head = g;
	s->wq_tail = g;
	l->in_writer++;
	atomic_fetch_add(&s->wq_muts, g->n);
	atomic_fetch_add(&s->wq_bytes, g->bytes);
	pthread_cond_signal(&s->wq_cv);
	pthread_mutex_unlock(&s->wq_mu);
}

/* Apply g: inline if that cannot block and keeps the lane's order, else via the writer.
 * May run callbacks (inline) unless `no_callbacks`. */
static void group_submit(struct store_lane *l, struct wgroup *g, bool no_callbacks)
{
	struct store *s = l->s;
	atomic_fetch_add_explicit(&s->ws.groups, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->ws.mutations, g->n, memory_order_relaxed);
	stat_max(&s->ws.max_group, g->n);
	if (!no_callbacks && s->opt.write_inline && s->opt.sync == STORE_SYNC_PERIODIC &&
	    l->handed == 0 && atomic_load(&s->wq_muts) == 0 && !atomic_load(&s->stalled)) {
		char *rerr = NULL;
		rocksdb_write(s->db, s->wo_nostall, g->wb, &rerr);
		if (!rerr || !is_stall(rerr)) {
			g->rc = rerr ? store_rocks_err(&g->err, rerr, "write to", s->dir) : 0;
			atomic_fetch_add_explicit(&s->ws.inline_groups, 1, memory_order_relaxed);
			group_complete(l, g);
			return;
		}
		free(rerr);
		if (!atomic_exchange(&s->stalled, 1))
			log_info(MOD,
			         "RocksDB is stalling writes: they go through the writer thread");
		atomic_fetch_add_explicit(&s->ws.stalls, 1, memory_order_relaxed);
	}
	hand_to_writer(l, g);
}

static bool lane_has_work(const struct store_lane *l)
{
	return l->full_head || (l->open && l->open->n);
}

/* Submit the groups closed full, then the open one, in the order they were filled. */
static void lane_submit(struct store_lane *l, bool no_callbacks)
{
	while (l->full_head) {
		struct wgroup *g = l->full_head;
		l->full_head = g->next;
		if (!l->full_head)
			l->full_tail = NULL;
		g->next = NULL;
		l->full_muts -= g->n;
		l->full_bytes -= g->bytes;
		group_submit(l, g, no_callbacks);
	}
	struct wgroup *g = l->open;
	if (!g || g->n == 0)
		return;
	l->open = NULL;
	group_submit(l, g, no_callbacks);
}

static void on_flush(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop, (void)revents;
	struct store_lane *l = w->data;
	/* Inline completions may write again: a few rounds, then the writer takes the rest. */
	for (int i = 0; i < FLUSH_ROUNDS && lane_has_work(l); i++)
		lane_submit(l, false);
	lane_submit(l, true);
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop, (void)revents;
	struct store_lane *l = w->data;
	struct store *s = l->s;
	pthread_mutex_lock(&s->wq_mu);
	struct wgroup *g = l->done_head;
	l->done_head = l->done_tail = NULL;
	pthread_mutex_unlock(&s->wq_mu);
	while (g) {
		struct wgroup *next = g->next;
		l->handed--;
		group_complete(l, g);
		g = next;
	}
}

/* ---- the writer thread ----------------------------------------------------------------------- */

/* The round's groups as one WriteBatch: the first group's own when it is alone, else their
 * records concatenated behind one header (RocksDB's WriteBatch format, which is also the
 * WAL's), built in `scratch`.  NULL when out of memory. */
static rocksdb_writebatch_t *round_batch(struct wgroup *round, struct buf *scratch)
{
	if (!round->next)
		return round->wb;
	buf_reset(scratch);
	uint8_t header[WB_HEADER] = {0};
	buf_put(scratch, header, sizeof(header));
	uint32_t count = 0;
	for (struct wgroup *g = round; g; g = g->next) {
		size_t len;
		const char *rep = rocksdb_writebatch_data(g->wb, &len);
		if (len > WB_HEADER)
			buf_put(scratch, rep + WB_HEADER, len - WB_HEADER);
		count += (uint32_t)rocksdb_writebatch_count(g->wb);
	}
	if (!buf_ok(scratch))
		return NULL;
	for (int i = 0; i < 4; i++) /* fixed32, little-endian */
		scratch->data[8 + i] = (uint8_t)(count >> (8 * i));
	return rocksdb_writebatch_create_from((const char *)scratch->data, scratch->len);
}

/* Write one round (blocking through any stall); every group gets the outcome. */
static void writer_apply(struct store *s, struct wgroup *round, struct buf *scratch)
{
	atomic_fetch_add_explicit(&s->ws.writer_rounds, 1, memory_order_relaxed);
	struct cerr e = {0};
	int rc = 0;
	rocksdb_writebatch_t *wb = round_batch(round, scratch);
	if (!wb) {
		rc = cerr_set(&e, COL_ENOMEM, "storage: out of memory joining a write group");
	} else {
		char *rerr = NULL;
		/* s->wo: sync=true with sync batch, so the round is durable before any ack. */
		rocksdb_write(s->db, s->wo, wb, &rerr);
		if (rerr)
			rc = store_rocks_err(&e, rerr, "write to", s->dir);
		else if (s->opt.sync == STORE_SYNC_BATCH)
			atomic_fetch_add_explicit(&s->ws.syncs, 1, memory_order_relaxed);
		if (wb != round->wb)
			rocksdb_writebatch_destroy(wb);
	}
	for (struct wgroup *g = round; g; g = g->next) {
		g->rc = rc;
		if (rc)
			g->err = e;
	}
}

static void *writer_main(void *arg)
{
	struct store *s = arg;
	pthread_setname_np(pthread_self(), "colonnade-write");
	struct buf scratch;
	buf_init(&scratch);
	pthread_mutex_lock(&s->wq_mu);
	for (;;) {
		while (!s->wq_head && !s->wq_stop)
			pthread_cond_wait(&s->wq_cv, &s->wq_mu);
		if (!s->wq_head)
			break; /* stopping, and nothing left */
		struct wgroup *round = s->wq_head;
		s->wq_head = s->wq_tail = NULL;
		pthread_mutex_unlock(&s->wq_mu);
		writer_apply(s, round, &scratch);
		if (scratch.len > SPARE_MAX_BYTES) {
			buf_release(&scratch);
			buf_init(&scratch);
		}
		pthread_mutex_lock(&s->wq_mu);
		size_t n = 0, bytes = 0;
		while (round) {
			struct wgroup *g = round;
			round = g->next;
			g->next = NULL;
			n += g->n;
			bytes += g->bytes;
			struct store_lane *l = g->lane;
			if (l->done_tail)
				l->done_tail->next = g;
			else
				l->done_head = g;
			l->done_tail = g;
			l->in_writer--;
			ev_async_send(l->loop, &l->wake);
		}
		atomic_fetch_sub(&s->wq_bytes, bytes);
		if (atomic_fetch_sub(&s->wq_muts, n) == n && atomic_exchange(&s->stalled, 0))
			log_info(MOD, "RocksDB accepts writes again: loops write inline");
		pthread_cond_broadcast(&s->wq_done);
	}
	pthread_mutex_unlock(&s->wq_mu);
	buf_release(&scratch);
	return NULL;
}

int writer_start(struct store *s, struct cerr *err)
{
	if (pthread_create(&s->writer, NULL, writer_main, s) != 0)
		return cerr_set(err, COL_EIO, "storage: cannot start the writer thread");
	s->writer_started = true;
	return 0;
}

void writer_stop(struct store *s)
{
	if (!s->writer_started)
		return;
	pthread_mutex_lock(&s->wq_mu);
	s->wq_stop = true;
	pthread_cond_signal(&s->wq_cv);
	pthread_mutex_unlock(&s->wq_mu);
	pthread_join(s->writer, NULL);
	s->writer_started = false;
}

/* ---- lanes --------------------------------------------------------------------------------- */

int store_lane_new(struct store *s, struct ev_loop *loop, struct store_lane **out, struct cerr *err)
{
	struct store_lane *l = calloc(1, sizeof(*l));
	if (!l)
		return cerr_set(err, COL_ENOMEM, "storage: out of memory for a write lane");
	l->s = s;
	l->loop = loop;
	l->scratch = emit_scratch_new();
	if (!l->scratch) {
		free(l);
		return cerr_set(err, COL_ENOMEM, "storage: out of memory for a write lane");
	}
	ev_prepare_init(&l->flush, on_flush);
	l->flush.data = l;
	ev_async_init(&l->wake, on_wake);
	l->wake.data = l;
	ev_prepare_start(loop, &l->flush);
	ev_async_start(loop, &l->wake);
	/* Neither watcher alone keeps the loop running. */
	ev_unref(loop);
	ev_unref(loop);
	*out = l;
	return 0;
}

void store_lane_free(struct store_lane *l)
{
	if (!l)
		return;
	struct store *s = l->s;
	lane_submit(l, true);
	pthread_mutex_lock(&s->wq_mu);
	while (l->in_writer)
		pthread_cond_wait(&s->wq_done, &s->wq_mu);
	pthread_mutex_unlock(&s->wq_mu);
	on_wake(l->loop, &l->wake, 0);
	ev_ref(l->loop);
	ev_ref(l->loop);
	ev_prepare_stop(l->loop, &l->flush);
	ev_async_stop(l->loop, &l->wake);
	group_destroy(l->open);
	while (l->spare) {
		struct wgroup *g = l->spare;
		l->spare = g->next;
		group_destroy(g);
	}
	emit_scratch_free(l->scratch);
	free(l);
}

static int lane_add(struct store_lane *l, struct store_table *known, const void *bytes, size_t len,
                    bool validate, store_write_done_fn done, void *ctx, struct cerr *err)
{
	struct store *s = l->s;
	size_t waiting = atomic_load(&s->wq_muts) + l->full_muts;
	if (waiting >= s->opt.write_queue_max) {
		atomic_fetch_add_explicit(&s->ws.overloaded, 1, memory_order_relaxed);
		return cerr_set(err, COL_EOVERLOADED,
		                "storage overloaded: %zu mutations are waiting for the disk "
		                "(RocksDB is stalling writes or the disk is behind)",
		                waiting);
	}
	size_t waiting_bytes = atomic_load(&s->wq_bytes) + l->full_bytes;
	if (s->opt.write_queue_max_bytes && waiting_bytes > 0 &&
	    (len > s->opt.write_queue_max_bytes ||
	     waiting_bytes > s->opt.write_queue_max_bytes - len)) {
		atomic_fetch_add_explicit(&s->ws.overloaded, 1, memory_order_relaxed);
		return cerr_set(err, COL_EOVERLOADED,
		                "storage overloaded: %zu bytes of mutations are waiting for the "
		                "disk, at the limit of %zu (RocksDB is stalling writes or the "
		                "disk is behind)",
		                waiting_bytes, s->opt.write_queue_max_bytes);
	}
	struct wgroup *g = l->open;
	if (!g && !(g = l->open = group_get(l)))
		return cerr_set(err, COL_ENOMEM, "storage: out of memory for a write group");
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		struct wdone *d = realloc(g->done, cap * sizeof(*d));
		if (!d)
			return cerr_set(err, COL_ENOMEM,
			                "storage: out of memory for a write group");
		g->done = d;
		g->cap = cap;
	}
	int rc = mutation_emit(s, known, bytes, len, validate, g->wb, l->scratch, err);
	if (rc)
		return rc;
	g->done[g->n].fn = done;
	g->done[g->n].ctx = ctx;
	g->n++;
	size_t size;
	rocksdb_writebatch_data(g->wb, &size);
	if (g->n >= GROUP_MAX_MUTATIONS || size >= GROUP_MAX_BYTES) {
		if (!s->opt.write_inline || s->opt.sync != STORE_SYNC_PERIODIC) {
			/* It goes to the writer anyway: at once, so that it writes (and with
			 * batch, syncs) while the loop reads on. */
			lane_submit(l, true);
			return 0;
		}
		/* Applied inline at the end of the iteration (no callback may run inside an
		 * add). */
		l->open = NULL;
		if (l->full_tail)
			l->full_tail->next = g;
		else
			l->full_head = g;
		l->full_tail = g;
		g->bytes = size;
		l->full_muts += g->n;
		l->full_bytes += g->bytes;
	}
	return 0;
}

int store_lane_apply(struct store_lane *l, const struct store_mutation *m, store_write_done_fn done,
                     void *ctx, struct cerr *err)
{
	if (m->error) {
		if (err && err != &m->err)
			*err = m->err;
		return m->error;
	}
	if (!m->body.data)
		return cerr_set(err, COL_EINVAL, "mutation was not initialised");
	return lane_add(l, m->table, m->body.data, m->body.len, false, done, ctx, err);
}

int store_lane_apply_bytes(struct store_lane *l, const void *bytes, size_t len,
                           store_write_done_fn done, void *ctx, struct cerr *err)
{
	return lane_add(l, NULL, bytes, len, true, done, ctx, err);
}

void store_write_stats(struct store *s, struct store_write_stats *out)
{
	out->mutations = atomic_load(&s->ws.mutations);
	out->groups = atomic_load(&s->ws.groups);
	out->inline_groups = atomic_load(&s->ws.inline_groups);
	out->writer_rounds = atomic_load(&s->ws.writer_rounds);
	out->syncs = atomic_load(&s->ws.syncs);
	out->stalls = atomic_load(&s->ws.stalls);
	out->overloaded = atomic_load(&s->ws.overloaded);
	out->queued = atomic_load(&s->wq_muts);
	out->queued_bytes = atomic_load(&s->wq_bytes);
	out->max_group = atomic_load(&s->ws.max_group);
}

void cf_limits_take(struct cf_limits *l, rocksdb_options_t *o)
{
	l->write_buffer = rocksdb_options_get_write_buffer_size(o);
	l->max_memtables = rocksdb_options_get_max_write_buffer_number(o);
	l->l0_compaction = rocksdb_options_get_level0_file_num_compaction_trigger(o);
	l->l0_slowdown = rocksdb_options_get_level0_slowdown_writes_trigger(o);
	l->soft_pending_bytes = rocksdb_options_get_soft_pending_compaction_bytes_limit(o);
	uint64_t hard = rocksdb_options_get_hard_pending_compaction_bytes_limit(o);
	rocksdb_options_destroy(o);
	/* As ColumnFamilyData's SanitizeOptions corrects them when the family opens. */
	if (l->write_buffer < (64u << 10))
		l->write_buffer = 64u << 10;
	if (l->max_memtables < 2)
		l->max_memtables = 2;
	if (l->l0_compaction < 1)
		l->l0_compaction = 1;
	if (l->l0_slowdown < l->l0_compaction)
		l->l0_slowdown = l->l0_compaction;
	if (!l->soft_pending_bytes || (hard && l->soft_pending_bytes > hard))
		l->soft_pending_bytes = hard;
}

/* What the walk over every column family gathers (all_cfs): a visitor and its result. */
typedef void cf_visit_fn(struct store *s, rocksdb_column_family_handle_t *cf,
                         const struct cf_limits *lim, void *out);

/* The files in a column family's L0.  "rocksdb.num-files-at-level<N>" is a string property
 * only: RocksDB's GetIntProperty answers false for it, so it is read as text. */
static uint64_t cf_l0_files(struct store *s, rocksdb_column_family_handle_t *cf)
{
	char *v = rocksdb_property_value_cf(s->db, cf, "rocksdb.num-files-at-level0");
	uint64_t n = v ? strtoull(v, NULL, 10) : 0;
	free(v);
	return n;
}

/* One column family's flush and compaction pressure against its limits, the highest so far
 * kept in p, and its pending compaction bytes added to p's.  Four property reads: all the
 * priority tick needs. */
static void cf_pressures(struct store *s, rocksdb_column_family_handle_t *cf,
                         const struct cf_limits *lim, void *out)
{
	struct store_pressures *p = out;
	uint64_t imm = 0, active = 0, pending = 0, l0 = cf_l0_files(s, cf);
	rocksdb_property_int_cf(s->db, cf, "rocksdb.num-immutable-mem-table", &imm);
	rocksdb_property_int_cf(s->db, cf, "rocksdb.cur-size-active-mem-table", &active);
	rocksdb_property_int_cf(s->db, cf, "rocksdb.estimate-pending-compaction-bytes", &pending);
	p->pending_compaction_bytes += pending;
	double fp = store_flush_pressure(imm, (double)active / (double)lim->write_buffer,
	                                 lim->max_memtables);
	double cp = store_compaction_pressure(l0, lim->l0_compaction, lim->l0_slowdown, pending,
	                                      lim->soft_pending_bytes);
	if (fp > p->flush)
		p->flush = fp;
	if (cp > p->compaction)
		p->compaction = cp;
}

/* One column family's share of store_background(): its pressures and what is due. */
static void cf_background(struct store *s, rocksdb_column_family_handle_t *cf,
                          const struct cf_limits *lim, void *out)
{
	struct store_background *bg = out;
	uint64_t v;
	if (rocksdb_property_int_cf(s->db, cf, "rocksdb.compaction-pending", &v) == 0 && v)
		bg->compactions_pending++;
	if (rocksdb_property_int_cf(s->db, cf, "rocksdb.mem-table-flush-pending", &v) == 0 && v)
		bg->flushes_pending++;
	struct store_pressures p = {bg->flush_pressure, bg->compaction_pressure,
	                            bg->pending_compaction_bytes};
	cf_pressures(s, cf, lim, &p);
	bg->flush_pressure = p.flush;
	bg->compaction_pressure = p.compaction;
	bg->pending_compaction_bytes = p.pending_compaction_bytes;
}

/* One column family's share of store_memory(). */
static void cf_memory(struct store *s, rocksdb_column_family_handle_t *cf,
                      const struct cf_limits *lim, void *out)
{
	(void)lim;
	struct store_memory *mem = out;
	uint64_t v;
	if (rocksdb_property_int_cf(s->db, cf, "rocksdb.size-all-mem-tables", &v) == 0)
		mem->memtables += v;
	if (rocksdb_property_int_cf(s->db, cf, "rocksdb.estimate-table-readers-mem", &v) == 0)
		mem->table_readers += v;
}

/* visit(s, cf, its limits, out) for every column family open. */
static void all_cfs(struct store *s, cf_visit_fn *visit, void *out)
{
	rocksdb_column_family_handle_t *fixed[] = {s->cf_default, s->cf_system, s->cf_hints};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (fixed[i])
			visit(s, fixed[i], &s->lim_kv, out);
	if (s->cf_sindex)
		visit(s, s->cf_sindex, &s->lim_sindex, out);
	/* cf_lock keeps each handle alive (TRUNCATE and DROP replace them under it), the
	 * mutex the list; in that order, as they are taken everywhere. */
	pthread_rwlock_rdlock(&s->cf_lock);
	pthread_mutex_lock(&s->lock);
	for (struct store_table *t = s->tables; t; t = t->next)
		if (t->cf)
			visit(s, t->cf, &s->lim_tables, out);
	pthread_mutex_unlock(&s->lock);
	pthread_rwlock_unlock(&s->cf_lock);
}

void store_background(struct store *s, struct store_background *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t v;
	if (rocksdb_property_int(s->db, "rocksdb.num-running-compactions", &v) == 0)
		out->compactions_running = v;
	if (rocksdb_property_int(s->db, "rocksdb.num-running-flushes", &v) == 0)
		out->flushes_running = v;
	all_cfs(s, cf_background, out);
}

void store_background_pressures(struct store *s, struct store_pressures *out)
{
	memset(out, 0, sizeof(*out));
	all_cfs(s, cf_pressures, out);
}

void store_memory(struct store *s, struct store_memory *out)
{
	memset(out, 0, sizeof(*out));
	out->block_cache_capacity = rocksdb_cache_get_capacity(s->cache);
	out->block_cache_usage = rocksdb_cache_get_usage(s->cache);
	out->block_cache_pinned = rocksdb_cache_get_pinned_usage(s->cache);
	out->memtable_budget = s->opt.memtable_budget_bytes;
	all_cfs(s, cf_memory, out);
}
