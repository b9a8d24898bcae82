/*
 * request.h — the shape of a read or write request as both paths take it: the
 * request router (router.h) and the replicated path (storage_proxy.h).  Pure
 * declarations; nothing here talks to a store or a replica.
 */
#ifndef COLONNADE_COORDINATOR_REQUEST_H
#define COLONNADE_COORDINATOR_REQUEST_H

#include "core/err.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A request's outcome, given once to its request_done_fn: a struct cerr
 * (core/err.h).  code 0 = success; otherwise msg names what failed and why,
 * and for the replica-counting failures rep says how many:
 *   COL_EUNAVAILABLE  rep.cl, rep.required, rep.received (= replicas alive)
 *   COL_ETIMEDOUT     rep.cl, rep.required (block-for), rep.received (acks or
 *                     answers), rep.write; writes: rep.write_type; reads:
 *                     rep.data_present
 *   COL_EFAILED       as a timeout, plus rep.failures (replicas that answered
 *                     with an error; the level could no longer be met)
 *   COL_EOVERLOADED   the coordinator's bound on requests in flight was reached
 *   COL_EINVAL        the level is not valid for the operation
 *   COL_EIO, COL_ENOMEM, ...  msg says what failed
 */
typedef void (*request_done_fn)(void *ctx, const struct cerr *outcome);

/*
 * A table's speculative_retry (rapid read protection, Cassandra's table
 * option): when a contacted replica has not answered within the threshold,
 * one more replica is asked.  Zero-initialised = the default, 99p.
 */
enum spec_retry_kind {
	SPEC_DEFAULT = 0,    /* '99p' */
	SPEC_PERCENTILE = 1, /* 'Xp' / 'XPERCENTILE': the table's observed replica latency */
	SPEC_FIXED = 2,      /* 'Xms' */
	SPEC_ALWAYS = 3,     /* 'ALWAYS': ask the extra replica at once */
	SPEC_NONE = 4,       /* 'NONE' */
};
struct spec_retry {
	enum spec_retry_kind kind;
	double value; /* percentile in (0, 100), or milliseconds */
};
/* Parse a speculative_retry value (case-insensitive): 0, or COL_EINVAL with the reason in err. */
int spec_retry_parse(const char *text, struct spec_retry *out, struct cerr *err);
/* The canonical text of a speculative_retry ('99p', '50ms', 'ALWAYS', 'NONE') into out. */
void spec_retry_format(const struct spec_retry *s, char *out, size_t cap);

/* A single-partition read (store_read_partition's arguments). */
struct partition_read {
	struct store_table *table;
	const struct store_value *pk;
	size_t n_pk;
	const struct store_slice *slice; /* NULL = whole partition */
	unsigned flags;                  /* STORE_READ_REVERSE */
	size_t limit;                    /* rows, 0 = none */
	int64_t now_s;
	struct spec_retry spec; /* the table's speculative_retry */
};

/* A read through a secondary index (store_index_read's index and value(s)). */
struct range_index {
	struct store_index ix;
	struct store_value vals[2];
	size_t n_vals; /* 1, 2 for ENTRIES */
};

/* A token-range read (store_scan's arguments; with index, store_index_read's). */
struct range_read {
	struct store_table *table;
	int64_t start, end; /* (start, end]; start == end: the whole ring */
	const struct store_position *after;
	size_t limit;
	int64_t now_s;
	const struct range_index *index; /* NULL: every row of the range */
};

#endif
