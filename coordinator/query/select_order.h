/*
 * select_order.h — ORDER BY over several partitions (an IN on the partition key),
 * which Cassandra sorts after the reads ("post-query ordering"): each partition
 * comes back in clustering order, the rows of all of them are kept, sorted by the
 * ORDER BY columns (stably: equal keys keep the order the partitions were read in)
 * and only then cut to the LIMIT.
 *
 * Cassandra refuses it when the query is paged (a page size, and no LIMIT at or
 * below it), with the message of ORDER_IN_PAGED_MSG; unpaged, the rows are held
 * in memory, so they are bounded: each partition contributes at most LIMIT rows
 * (the first LIMIT of the merged order are among them), and a result past the
 * executor's unpaged bound fails rather than being cut.
 */
#ifndef COLONNADE_COORDINATOR_SELECT_ORDER_H
#define COLONNADE_COORDINATOR_SELECT_ORDER_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cql_select;
struct schema_table;
struct store_row;

#define ORDER_IN_PAGED_MSG                                                                         \
	"Cannot page queries with both ORDER BY and a IN restriction on the partition key; you "   \
	"must either remove the ORDER BY or the IN and sort client-side, or disable paging for "   \
	"this query"

/* Whether s needs post-query ordering on t: ORDER BY and an IN on a partition key column. */
bool select_order_post(const struct cql_select *s, const struct schema_table *t);

/* Whether a query with this page size and LIMIT (-1: none) is paged, as Cassandra decides. */
bool select_order_paged(int32_t page_size, int64_t limit);

/* The rows of one SELECT waiting to be sorted: where each is in the rows buffer and
 * its ORDER BY values. */
struct order_rows {
	struct buf index; /* per row: u64 offset, u64 length, u64 offset into keys */
	struct buf keys;  /* per row: n_order x ([u32 len][bytes]) */
	uint32_t n_order;
	size_t n;
};

void order_rows_init(struct order_rows *o, uint32_t n_order);
void order_rows_release(struct order_rows *o);
/* Note the row just appended to the rows buffer at [off, off + len), of store row r. */
void order_rows_add(struct order_rows *o, size_t off, size_t len, const struct store_row *r);
/*
 * Sort the rows of `rows` by the ORDER BY of s (columns of t), keep the first
 * `limit` (-1: all) and rewrite `rows` in that order; *nrows gets their count.
 * COL_ENOMEM on allocation failure, else 0.
 */
int order_rows_sort(struct order_rows *o, const struct cql_select *s, const struct schema_table *t,
                    struct buf *rows, int64_t limit, int32_t *nrows);

#endif
