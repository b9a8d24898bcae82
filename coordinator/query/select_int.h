/*
 * select_int.h — the row side of a table SELECT (select_rows.c), shared with
 * the read side (select.c): what each row the read returns goes through —
 * filters, DISTINCT, PER PARTITION LIMIT, LIMIT, the page bound — and how it
 * becomes an answer row, directly or folded into an aggregate or a group.
 */
#ifndef COLONNADE_COORDINATOR_QUERY_SELECT_INT_H
#define COLONNADE_COORDINATOR_QUERY_SELECT_INT_H

#include "coordinator/query/query_int.h"

struct order_rows;

/* A page also ends once its rows take this many bytes, whatever the page size: a
 * response stays far below the 256 MiB frame ceiling and the output bounds. */
#define MAX_PAGE_BYTES (8u << 20)

/* Where a row came from: enough to resume right after it (paging state). */
struct rpos {
	int64_t token;
	struct buf key; /* serialized partition key */
	struct buf ck;  /* [u32 len][bytes] per clustering value */
	uint32_t idx;   /* IN combination it was read under */
	bool set;
};

struct rsel {
	struct xq *q;
	const struct plan *p;
	const struct schema_table *t;
	const struct where *w; /* its filters are checked on every row */
	struct buf *out;       /* answer rows */
	int32_t nrows;
	int32_t page;      /* answer rows per page; 0 = unbounded */
	int64_t remaining; /* LIMIT left, -1 none */
	bool more;         /* stopped with rows left: the answer gets a paging state */
	bool distinct;
	bool part_reads; /* reads of single partitions (a read may be cut short) */
	int64_t now_s;
	struct rpos last; /* the last row returned (of a group: its last row) */
	struct rpos cand; /* aggregates: the last row folded into the open group */
	uint32_t cur_idx; /* IN combination being read */
	/* the static row of partition cur_key, copied (rows borrow it) */
	struct buf cur_key;
	bool have_statics;
	struct buf sbytes;
	struct store_cell *scells;
	size_t cap_scells;
	struct store_row srow;
	/* a partition's static row alone is a row of the answer when the query
	 * restricts no clustering or regular column (Cassandra's
	 * queriesFullPartitions) and the partition has no live row: static_pending
	 * while none has come yet */
	bool static_rows;
	bool static_pending;
	struct store_partition spart; /* static_pending: its partition, copied */
	struct store_value spk[STORE_MAX_PK_COLS];
	struct buf spk_bytes;
	struct buf resumed_key; /* a page resumed inside this partition: it had rows */
	struct buf distinct_key;
	struct buf scratch;
	/* PER PARTITION LIMIT: rows (groups) of partition ppl_key returned so far */
	int64_t ppl; /* 0 = none */
	struct buf ppl_key;
	int64_t ppl_n;
	/* aggregates: per selector state; the open group, its key and its first
	 * row's values of the other selectors ([bytes] each, in selector order) */
	struct agg_state *aggs;
	bool group_open;
	struct buf group_key;
	struct buf first;
	struct buf gkey;
	/* ORDER BY over an IN on the partition key (select_order.h): every answer row
	 * noted for the sort after the reads; NULL otherwise */
	struct order_rows *ord;
};

/* A recycled rsel keeps buffers up to this size for its next query, and its static row's
 * cell array up to this many cells: a loop's idle SELECT states stay small. */
#define RSEL_KEEP_BYTES (16u << 10)
#define RSEL_KEEP_CELLS 256u

/* The aggregate states of rs (zeroed or recycled; p, t set); COL_ENOMEM. */
int rsel_init(struct rsel *rs, const struct plan *p);
void rsel_release(struct rsel *rs);
/* Free what rs holds for its query and zero it, except its buffers, emptied (the large
 * ones freed), which the next query's rsel_init keeps writing into. */
void rsel_recycle(struct rsel *rs);
/* The store's row callback (ctx: struct rsel). */
int rsel_row(void *ctx, const struct store_partition *part, const struct store_row *r);
/* The read is over (not cut by the page): emit the open group, or the one row an
 * aggregate without GROUP BY always answers. */
void rsel_end(struct rsel *rs);
/* The partition read last has ended: answer its static row alone if it had no
 * live row (static_rows). */
void rsel_flush_static(struct rsel *rs);

#endif
