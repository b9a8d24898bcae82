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

/* A single-partition read (store_read_partition's arguments). */
struct partition_read {
	struct store_table *table;
	const struct store_value *pk;
	size_t n_pk;
	const struct store_slice *slice; /* NULL = whole partition */
	unsigned flags;                  /* STORE_READ_REVERSE */
	size_t limit;                    /* rows, 0 = none */
	int64_t now_s;
};

/* A token-range read (store_scan's arguments). */
struct range_read {
	struct store_table *table;
	int64_t start, end; /* (start, end]; start == end: the whole ring */
	const struct store_position *after;
	size_t limit;
	int64_t now_s;
};

#endif
