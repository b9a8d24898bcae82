#include "coordinator/query/prepared.h"

#include "core/buf.h"
#include "core/err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

struct prepared_cache {
	struct prepared_stmt **buckets;
	size_t nbuckets; /* power of two */
	size_t count, max;
	size_t bytes; /* query texts held (a plan is a few times its text) */
	uint64_t evictions;
	struct prepared_stmt *lru_head, *lru_tail; /* head = most recently used */
	pthread_mutex_t lock; /* prepared_cache_lock(); the counters' readers */
};

void prepared_id(const char *keyspace, const char *query, size_t query_len,
                 uint8_t out[PREPARED_ID_LEN])
{
	XXH3_state_t st;
	XXH3_128bits_reset(&st);
	XXH3_128bits_update(&st, keyspace, strlen(keyspace));
	XXH3_128bits_update(&st, "", 1);
	XXH3_128bits_update(&st, query, query_len);
	XXH128_hash_t h = XXH3_128bits_digest(&st);
	be64_store(out, h.high64);
	be64_store(out + 8, h.low64);
}

int prepared_cache_new(size_t max_entries, struct prepared_cache **out)
{
	struct prepared_cache *pc = calloc(1, sizeof(*pc));
	if (!pc)
		return COL_ENOMEM;
	pc->max = max_entries ? max_entries : 1;
	pthread_mutex_init(&pc->lock, NULL);
	pc->nbuckets = 64;
	while (pc->nbuckets < pc->max && pc->nbuckets < (1u << 20))
		pc->nbuckets <<= 1;
	pc->buckets = calloc(pc->nbuckets, sizeof(*pc->buckets));
	if (!pc->buckets) {
		free(pc);
		return COL_ENOMEM;
	}
	*out = pc;
	return 0;
}

static void stmt_free(struct prepared_stmt *ps)
{
	if (ps->plan && ps->plan_free)
		ps->plan_free(ps->plan);
	free(ps->query);
	free(ps->keyspace);
	free(ps);
}

void prepared_cache_free(struct prepared_cache *pc)
{
	if (!pc)
		return;
	struct prepared_stmt *ps = pc->lru_head;
	while (ps) {
		struct prepared_stmt *n = ps->lru_next;
		stmt_free(ps);
		ps = n;
	}
	free(pc->buckets);
	pthread_mutex_destroy(&pc->lock);
	free(pc);
}

static size_t bucket_of(const struct prepared_cache *pc, const uint8_t *id)
{
	return (size_t)be64_load(id + 8) & (pc->nbuckets - 1);
}

static void lru_unlink(struct prepared_cache *pc, struct prepared_stmt *ps)
{
	if (ps->lru_prev)
		ps->lru_prev->lru_next = ps->lru_next;
	else
		pc->lru_head = ps->lru_next;
	if (ps->lru_next)
		ps->lru_next->lru_prev = ps->lru_prev;
	else
		pc->lru_tail = ps->lru_prev;
	ps->lru_prev = ps->lru_next = NULL;
}

static void lru_push_front(struct prepared_cache *pc, struct prepared_stmt *ps)
{
	ps->lru_prev = NULL;
	ps->lru_next = pc->lru_head;
	if (pc->lru_head)
		pc->lru_head->lru_prev = ps;
	pc->lru_head = ps;
	if (!pc->lru_tail)
		pc->lru_tail = ps;
}

static void hash_remove(struct prepared_cache *pc, struct prepared_stmt *ps)
{
	struct prepared_stmt **pp = &pc->buckets[bucket_of(pc, ps->id)];
	while (*pp && *pp != ps)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = ps->hnext;
}

struct prepared_stmt *prepared_cache_get(struct prepared_cache *pc, const uint8_t *id,
                                         size_t id_len)
{
	if (id_len != PREPARED_ID_LEN)
		return NULL;
	for (struct prepared_stmt *ps = pc->buckets[bucket_of(pc, id)]; ps; ps = ps->hnext) {
		if (memcmp(ps->id, id, PREPARED_ID_LEN) == 0) {
			if (pc->lru_head != ps) {
				lru_unlink(pc, ps);
				lru_push_front(pc, ps);
			}
			return ps;
		}
	}
	return NULL;
}

void prepared_stmt_replan(struct prepared_stmt *ps, void *plan, uint64_t schema_gen)
{
	if (ps->plan && ps->plan_free)
		ps->plan_free(ps->plan);
	ps->plan = plan;
	ps->schema_gen = schema_gen;
}

int prepared_cache_put(struct prepared_cache *pc, const char *keyspace, const char *query,
                       size_t query_len, void *plan, void (*plan_free)(void *), uint64_t schema_gen,
                       struct prepared_stmt **out)
{
	uint8_t id[PREPARED_ID_LEN];
	prepared_id(keyspace, query, query_len, id);
	struct prepared_stmt *ps = prepared_cache_get(pc, id, sizeof(id));
	if (ps) {
		ps->plan_free = plan_free;
		prepared_stmt_replan(ps, plan, schema_gen);
		*out = ps;
		return 0;
	}
	ps = calloc(1, sizeof(*ps));
	if (ps) {
		ps->query = malloc(query_len + 1);
		ps->keyspace = strdup(keyspace);
	}
	if (!ps || !ps->query || !ps->keyspace) {
		if (ps) {
			free(ps->query);
			free(ps->keyspace);
			free(ps);
		}
		if (plan && plan_free)
			plan_free(plan);
		return COL_ENOMEM;
	}
	memcpy(ps->query, query, query_len);
	ps->query[query_len] = 0;
	memcpy(ps->id, id, sizeof(id));
	ps->plan = plan;
	ps->plan_free = plan_free;
	ps->schema_gen = schema_gen;
	while ((pc->count >= pc->max || pc->bytes + query_len > PREPARED_MAX_BYTES) &&
	       pc->lru_tail) {
		struct prepared_stmt *victim = pc->lru_tail;
		lru_unlink(pc, victim);
		hash_remove(pc, victim);
		pc->bytes -= strlen(victim->query);
		stmt_free(victim);
		pc->count--;
		pc->evictions++;
	}
	pc->bytes += query_len;
	size_t b = bucket_of(pc, id);
	ps->hnext = pc->buckets[b];
	pc->buckets[b] = ps;
	lru_push_front(pc, ps);
	pc->count++;
	*out = ps;
	return 0;
}

size_t prepared_cache_count(const struct prepared_cache *pc)
{
	struct prepared_cache *m = (struct prepared_cache *)pc;
	pthread_mutex_lock(&m->lock);
	size_t n = pc->count;
	pthread_mutex_unlock(&m->lock);
	return n;
}

uint64_t prepared_cache_evictions(const struct prepared_cache *pc)
{
	struct prepared_cache *m = (struct prepared_cache *)pc;
	pthread_mutex_lock(&m->lock);
	uint64_t n = pc->evictions;
	pthread_mutex_unlock(&m->lock);
	return n;
}

void prepared_cache_lock(struct prepared_cache *pc)
{
	pthread_mutex_lock(&pc->lock);
}

void prepared_cache_unlock(struct prepared_cache *pc)
{
	pthread_mutex_unlock(&pc->lock);
}
