/*
 * sindex_build.c — the index builder thread: builds an index a table gains over
 * the data already there, in bounded batches, with progress (storage.h, BUILD).
 */
#include "storage/storage_int.h"

#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD          "storage"
#define BUILT_PREFIX "ixbuilt/"
#define LOG_EVERY    20 /* batches between progress lines */

struct ixjob {
	struct ixjob *next;
	uint8_t tid[16];
	struct store_index ix;
	struct buf resume; /* the last table key walked (empty: none yet) */
	uint64_t scanned, entries, batches;
	int64_t started_s;
	bool cancelled;
	bool busy;    /* a step runs (the builder's, or sindex_build_inline's) */
	bool inline_; /* queued by a descriptor change: sindex_build_inline runs it first */
};

static size_t built_key(const uint8_t tid[16], const struct store_index *ix, char *out, size_t cap)
{
	uint8_t p[22];
	memcpy(p, tid, 16);
	p[16] = ix->on;
	be32_store(p + 17, ix->col);
	p[21] = ix->kind;
	char hex[45];
	hex_encode(p, sizeof(p), hex);
	return (size_t)snprintf(out, cap, BUILT_PREFIX "%s", hex);
}

static bool ix_same(const struct store_index *a, const struct store_index *b)
{
	return a->on == b->on && a->kind == b->kind && a->col == b->col;
}

static bool desc_has(const struct tdesc *d, const struct store_index *ix)
{
	for (size_t i = 0; d && i < d->pub.n_indexes; i++)
		if (ix_same(&d->indexes[i], ix))
			return true;
	return false;
}

bool sindex_is_built(struct store *s, const uint8_t tid[16], const struct store_index *ix)
{
	char k[80];
	size_t kl = built_key(tid, ix, k, sizeof(k));
	struct buf v;
	buf_init(&v);
	struct cerr e = {0};
	int rc = store_kv_get(s, STORE_CF_SYSTEM, k, kl, &v, &e);
	buf_release(&v);
	return rc == 0;
}

void sindex_forget_built(struct store *s, const uint8_t tid[16], const struct store_index *ix)
{
	char k[80];
	size_t kl = built_key(tid, ix, k, sizeof(k));
	struct cerr e = {0};
	if (store_kv_delete(s, STORE_CF_SYSTEM, k, kl, &e))
		log_warn(MOD, "forgetting an index's build: %s", e.msg);
}

static int mark_built(struct store *s, const uint8_t tid[16], const struct store_index *ix,
                      struct cerr *err)
{
	char k[80];
	size_t kl = built_key(tid, ix, k, sizeof(k));
	uint8_t v[8];
	be64_store(v, (uint64_t)clock_wall_s());
	int rc = store_kv_put(s, STORE_CF_SYSTEM, k, kl, v, sizeof(v), err);
	return rc ? rc : store_sync_wal(s, err);
}

static void ix_name(const struct tdesc *d, const struct store_index *ix, char *out, size_t cap)
{
	static const char *const on[] = {"column", "partition key", "clustering"};
	static const char *const kind[] = {"values", "keys", "entries"};
	snprintf(out, cap, "%s.%s %s %u (%s)", d ? d->pub.keyspace : "?", d ? d->pub.name : "?",
	         on[ix->on % 3], ix->col, kind[ix->kind % 3]);
}

/* One batch of j's build.  true when the job is over (built, or its table or index gone). */
static bool build_step(struct store *s, struct ixjob *j, struct sindex_scratch *x)
{
	pthread_rwlock_rdlock(&s->cf_lock);
	struct store_table *t = store_table_find(s, j->tid);
	const struct tdesc *d = t ? table_tdesc(t) : NULL;
	char name[160];
	ix_name(d, &j->ix, name, sizeof(name));
	if (!t || !t->cf || !desc_has(d, &j->ix)) {
		pthread_rwlock_unlock(&s->cf_lock);
		log_info(MOD, "index build of %s stopped: the table or index is gone", name);
		return true;
	}
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, s->ro, t->cf);
	if (j->resume.len) {
		rocksdb_iter_seek(it, (const char *)j->resume.data, j->resume.len);
		size_t kl;
		const char *k = rocksdb_iter_valid(it) ? rocksdb_iter_key(it, &kl) : NULL;
		if (k && kl == j->resume.len && memcmp(k, j->resume.data, kl) == 0)
			rocksdb_iter_next(it);
	} else {
		rocksdb_iter_seek_to_first(it);
	}
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	int rc = 0;
	size_t n = 0;
	for (; rocksdb_iter_valid(it) && n < STORE_INDEX_BUILD_BATCH && !rc;
	     rocksdb_iter_next(it)) {
		size_t kl, vl;
		const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
		const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vl);
		rc = sindex_emit(s, d, &j->ix, k, kl, v, vl, wb, x);
		j->resume.len = 0;
		buf_put(&j->resume, k, kl);
		if (!buf_ok(&j->resume))
			rc = COL_ENOMEM;
		n++;
	}
	bool end = !rc && !rocksdb_iter_valid(it);
	struct cerr e = {0};
	if (!rc)
		rc = store_iter_error(it, &e, "build an index of", t->cf_name);
	rocksdb_iter_destroy(it);
	if (!rc && rocksdb_writebatch_count(wb) > 0) {
		char *rerr = NULL;
		rocksdb_write(s->db, s->wo, wb, &rerr);
		if (rerr)
			rc = store_rocks_err(&e, rerr, "write index entries of", t->cf_name);
	}
	j->entries += (uint64_t)rocksdb_writebatch_count(wb);
	atomic_fetch_add(&s->ixs.build_entries, (uint64_t)rocksdb_writebatch_count(wb));
	rocksdb_writebatch_destroy(wb);
	pthread_rwlock_unlock(&s->cf_lock);
	j->scanned += n;
	j->batches++;
	atomic_fetch_add(&s->ixs.build_pairs, n);
	if (rc) {
		/* A write error or no memory: give up; the index stays unbuilt (queries on it are
		 * refused) and the next start builds it again. */
		log_error(MOD, "index build of %s failed after %llu pairs: %s", name,
		          (unsigned long long)j->scanned,
		          rc == COL_ENOMEM ? "out of memory" : e.msg);
		return true;
	}
	if (end) {
		if (mark_built(s, j->tid, &j->ix, &e)) {
			log_error(MOD, "index %s built, but recording it failed: %s", name, e.msg);
			return true;
		}
		atomic_fetch_add(&s->ixs.builds_done, 1);
		log_info(MOD, "index %s built: %llu stored pairs walked, %llu entries, %lld s",
		         name, (unsigned long long)j->scanned, (unsigned long long)j->entries,
		         (long long)(clock_wall_s() - j->started_s));
		return true;
	}
	if (j->batches % LOG_EVERY == 0)
		log_info(MOD, "index build of %s: %llu stored pairs walked, %llu entries", name,
		         (unsigned long long)j->scanned, (unsigned long long)j->entries);
	return false;
}

static void job_free(struct ixjob *j)
{
	buf_release(&j->resume);
	free(j);
}

/* Take j off the queue and free it (ixb_mu held). */
static void job_unlink(struct store *s, struct ixjob *j)
{
	struct ixjob **pp = &s->ixb_jobs;
	while (*pp && *pp != j)
		pp = &(*pp)->next;
	if (*pp)
		*pp = j->next;
	job_free(j);
	if (!s->ixb_jobs)
		pthread_cond_broadcast(&s->ixb_idle);
}

void sindex_build_inline(struct store_table *t)
{
	struct store *s = t->s;
	if (!s->ixb_started)
		return;
	struct sindex_scratch x;
	sindex_scratch_init(&x);
	pthread_mutex_lock(&s->ixb_mu);
	for (struct ixjob *j = s->ixb_jobs; j;) {
		if (!j->inline_ || memcmp(j->tid, t->id, 16) != 0) {
			j = j->next;
			continue;
		}
		j->inline_ = false; /* busy since job_add */
		pthread_mutex_unlock(&s->ixb_mu);
		bool over = false;
		for (int i = 0; i < STORE_INDEX_INLINE_BATCHES && !over; i++)
			over = build_step(s, j, &x);
		pthread_mutex_lock(&s->ixb_mu);
		j->busy = false;
		struct ixjob *next = j->next;
		if (over || j->cancelled)
			job_unlink(s, j);
		pthread_cond_signal(&s->ixb_cv); /* the builder may wait for this job */
		j = next;
	}
	pthread_mutex_unlock(&s->ixb_mu);
	sindex_scratch_release(&x);
}

static void *builder_main(void *arg)
{
	struct store *s = arg;
	struct sindex_scratch x;
	sindex_scratch_init(&x);
	pthread_mutex_lock(&s->ixb_mu);
	for (;;) {
		while (!s->ixb_stop && (!s->ixb_jobs || s->ixb_jobs->busy)) {
			if (!s->ixb_jobs)
				pthread_cond_broadcast(&s->ixb_idle);
			pthread_cond_wait(&s->ixb_cv, &s->ixb_mu);
		}
		if (s->ixb_stop)
			break;
		struct ixjob *j = s->ixb_jobs;
		bool over = j->cancelled;
		if (!over) {
			j->busy = true;
			pthread_mutex_unlock(&s->ixb_mu);
			over = build_step(s, j, &x);
			pthread_mutex_lock(&s->ixb_mu);
			j->busy = false;
		}
		if (over)
			job_unlink(s, j);
	}
	pthread_cond_broadcast(&s->ixb_idle);
	pthread_mutex_unlock(&s->ixb_mu);
	sindex_scratch_release(&x);
	return NULL;
}

int sindex_start(struct store *s, struct cerr *err)
{
	pthread_mutex_init(&s->ixb_mu, NULL);
	pthread_cond_init(&s->ixb_cv, NULL);
	pthread_cond_init(&s->ixb_idle, NULL);
	if (pthread_create(&s->ixb, NULL, builder_main, s) != 0)
		return cerr_set(err, COL_EIO, "storage: cannot start the index builder thread");
	s->ixb_started = true;
	return 0;
}

void sindex_stop(struct store *s)
{
	if (!s->ixb_started)
		return;
	pthread_mutex_lock(&s->ixb_mu);
	s->ixb_stop = true;
	pthread_cond_signal(&s->ixb_cv);
	pthread_mutex_unlock(&s->ixb_mu);
	pthread_join(s->ixb, NULL);
	s->ixb_started = false;
	while (s->ixb_jobs) {
		struct ixjob *j = s->ixb_jobs;
		s->ixb_jobs = j->next;
		job_free(j);
	}
}

/* Queue a build of ix of table tid (ixb_mu held). */
static void job_add(struct store *s, const uint8_t tid[16], const struct store_index *ix)
{
	struct ixjob *j = calloc(1, sizeof(*j));
	if (!j) {
		log_error(MOD, "out of memory queueing an index build: it runs at the next start");
		return;
	}
	memcpy(j->tid, tid, 16);
	j->ix = *ix;
	buf_init(&j->resume);
	j->started_s = clock_wall_s();
	j->busy = j->inline_ = true; /* the builder waits for sindex_build_inline */
	struct ixjob **pp = &s->ixb_jobs;
	while (*pp)
		pp = &(*pp)->next;
	*pp = j;
	pthread_cond_signal(&s->ixb_cv);
}

void sindex_desc_changed(struct store_table *t, const struct tdesc *old, const struct tdesc *d,
                         bool fresh)
{
	struct store *s = t->s;
	if (!s->ixb_started)
		return;
	pthread_mutex_lock(&s->ixb_mu);
	for (size_t i = 0; old && i < old->pub.n_indexes; i++) {
		const struct store_index *ix = &old->indexes[i];
		if (desc_has(d, ix))
			continue;
		for (struct ixjob *j = s->ixb_jobs; j; j = j->next)
			if (memcmp(j->tid, t->id, 16) == 0 && ix_same(&j->ix, ix))
				j->cancelled = true;
		sindex_index_gone(s, t->id, ix);
	}
	for (size_t i = 0; i < d->pub.n_indexes; i++) {
		const struct store_index *ix = &d->indexes[i];
		if (desc_has(old, ix) || sindex_is_built(s, t->id, ix))
			continue;
		struct cerr e = {0};
		if (fresh) { /* a new table: nothing to build over */
			if (mark_built(s, t->id, ix, &e))
				log_error(MOD, "recording an index of a new table as built: %s",
				          e.msg);
			continue;
		}
		bool queued = false;
		for (struct ixjob *j = s->ixb_jobs; j; j = j->next)
			queued |= memcmp(j->tid, t->id, 16) == 0 && ix_same(&j->ix, ix) &&
			          !j->cancelled;
		if (!queued)
			job_add(s, t->id, ix);
	}
	pthread_mutex_unlock(&s->ixb_mu);
}

void store_index_progress(struct store_table *t, const struct store_index *ix,
                          struct store_index_progress *out)
{
	struct store *s = t->s;
	memset(out, 0, sizeof(*out));
	out->known = desc_has(table_tdesc(t), ix);
	if (!out->known)
		return;
	pthread_mutex_lock(&s->ixb_mu);
	for (struct ixjob *j = s->ixb_jobs; j; j = j->next) {
		if (memcmp(j->tid, t->id, 16) == 0 && ix_same(&j->ix, ix) && !j->cancelled) {
			out->scanned = j->scanned;
			out->entries = j->entries;
			out->started_s = j->started_s;
		}
	}
	pthread_mutex_unlock(&s->ixb_mu);
	out->built = sindex_is_built(s, t->id, ix);
}

void store_index_stats(struct store *s, struct store_index_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->reads = atomic_load(&s->ixs.reads);
	out->entries = atomic_load(&s->ixs.entries);
	out->stale = atomic_load(&s->ixs.stale);
	out->rows = atomic_load(&s->ixs.rows);
	out->builds_done = atomic_load(&s->ixs.builds_done);
	out->build_pairs = atomic_load(&s->ixs.build_pairs);
	out->build_entries = atomic_load(&s->ixs.build_entries);
	if (!s->ixb_started)
		return;
	pthread_mutex_lock(&s->ixb_mu);
	for (struct ixjob *j = s->ixb_jobs; j; j = j->next)
		out->builds_running += !j->cancelled;
	pthread_mutex_unlock(&s->ixb_mu);
}

void store_index_wait_builds(struct store *s)
{
	pthread_mutex_lock(&s->ixb_mu);
	while (s->ixb_jobs && !s->ixb_stop)
		pthread_cond_wait(&s->ixb_idle, &s->ixb_mu);
	pthread_mutex_unlock(&s->ixb_mu);
}
