/*
 * prepared.h — the prepared-statement cache shared by every client connection
 * of a node.
 *
 * It never executes anything: it maps ids to parsed statements and their
 * plans.
 *
 * A statement is prepared once (PREPARE) and executed by id from any
 * connection (EXECUTE), so the id depends only on what the statement means:
 *
 *   id = XXH3-128(keyspace "\0" query text), 16 bytes, big-endian halves
 *
 * (Cassandra uses MD5 of the same inputs; drivers treat the id as opaque.)
 * Preparing the same text in the same keyspace twice returns the same id and
 * entry.  The cache keeps at most `max_entries` statements and evicts the
 * least recently executed one; an EXECUTE of an evicted id gets ERROR 0x2500
 * Unprepared, and both drivers then re-prepare by themselves.  The texts held
 * are bounded too (PREPARED_MAX_BYTES), evicting the same way.
 *
 * What an entry holds besides the text is the executor's business: an opaque
 * `plan` (parsed statement, bind specs, pre-encoded metadata) with its free
 * function, and the schema generation it was planned against, so the
 * executor can re-plan after DDL without the client noticing.
 *
 * Threading: one cache serves every loop of a node.  get, put and replan, and
 * every use of the entry they return, happen between prepared_cache_lock()
 * and prepared_cache_unlock() (a pointer is valid only while the lock is
 * held: another loop's put may evict it); the executor takes its own
 * reference to the plan before it unlocks.  count and evictions lock by
 * themselves.
 */
#ifndef COLONNADE_COORDINATOR_PREPARED_H
#define COLONNADE_COORDINATOR_PREPARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct prepared_cache prepared_cache;

#define PREPARED_ID_LEN 16
/* Besides the entry count, the texts held are bounded: statements of a few
 * MiB each (big inline blobs) must not pin the node's memory. */
#define PREPARED_MAX_BYTES (64u << 20)

struct prepared_stmt {
	uint8_t id[PREPARED_ID_LEN];
	char *query;    /* owned, NUL-terminated */
	char *keyspace; /* owned, "" when none was in use */
	void *plan;     /* executor's; freed with plan_free */
	void (*plan_free)(void *plan);
	uint64_t schema_gen; /* schema generation the plan was built against */
	/* internal */
	struct prepared_stmt *hnext, *lru_prev, *lru_next;
};

/* The id a query would get (see the table above). */
void prepared_id(const char *keyspace, const char *query, size_t query_len,
                 uint8_t out[PREPARED_ID_LEN]);

/* 0 or COL_ENOMEM.  max_entries >= 1. */
int prepared_cache_new(size_t max_entries, struct prepared_cache **out);
void prepared_cache_free(struct prepared_cache *pc);

/* Look up by id and mark as recently used; NULL when unknown or evicted. */
struct prepared_stmt *prepared_cache_get(struct prepared_cache *pc, const uint8_t *id,
                                         size_t id_len);

/*
 * Insert a statement for (keyspace, query) with `plan` (ownership of plan
 * passes to the cache, also on failure).  If the id is already present, its
 * old plan is replaced.  May evict the least recently used entry.
 * 0 and *out, or COL_ENOMEM.
 */
int prepared_cache_put(struct prepared_cache *pc, const char *keyspace, const char *query,
                       size_t query_len, void *plan, void (*plan_free)(void *), uint64_t schema_gen,
                       struct prepared_stmt **out);

/* Replace the plan of an entry (after a re-plan); the old one is freed. */
void prepared_stmt_replan(struct prepared_stmt *ps, void *plan, uint64_t schema_gen);

void prepared_cache_lock(struct prepared_cache *pc);
void prepared_cache_unlock(struct prepared_cache *pc);

size_t prepared_cache_count(const struct prepared_cache *pc);
uint64_t prepared_cache_evictions(const struct prepared_cache *pc);

#endif
