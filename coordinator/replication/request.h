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

enum proxy_write_type { PROXY_WRITE_SIMPLE, PROXY_WRITE_BATCH, PROXY_WRITE_UNLOGGED_BATCH };
/* "SIMPLE", "BATCH", "UNLOGGED_BATCH" (the protocol's writeType strings). */
const char *proxy_write_type_name(enum proxy_write_type t);

/*
 * The outcome of a request.  code 0 = success; COL_EUNAVAILABLE (cl, required,
 * alive), COL_ETIMEDOUT (cl, received, blockfor; data_present for reads),
 * COL_EINVAL (the level is not valid for the operation), COL_EIO / COL_ENOMEM
 * (msg says what failed).
 */
struct proxy_result {
	int code;
	uint16_t cl;
	int32_t required; /* Unavailable: required; timeouts: blockfor */
	int32_t alive;    /* Unavailable: alive; timeouts: received */
	bool data_present;
	bool write; /* the request was a write (timeouts: Write_timeout, else Read_timeout) */
	enum proxy_write_type write_type;
	char msg[CERR_MSG_MAX];
};

typedef void (*proxy_done_fn)(void *ctx, const struct proxy_result *res);

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
