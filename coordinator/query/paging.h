/*
 * paging.h — the opaque paging_state of RESULT Rows (spec §8), as a position.
 *
 * A paging state says where the next page starts, never which server-side
 * cursor to resume: the client may send it to any coordinator, any time later,
 * and the query resumes after the last row it received.  It holds the last
 * returned partition (its partition key in the storage engine's key form) and
 * clustering (the storage engine's ordered clustering encoding; empty when the
 * partition is finished), plus what is left of the LIMIT and, for COUNT and
 * IN queries, the progress made so far.
 *
 *   | off | size | field        | notes                                        |
 *   |-----|------|--------------|----------------------------------------------|
 *   |  0  |  1   | format       | 2                                            |
 *   |  1  |  1   | flags        | bit0: partition finished (resume at the next)|
 *   |  2  |  4   | remaining    | i32 rows left under LIMIT, -1 = no limit     |
 *   |  6  |  4   | part_index   | u32 index in the IN list (0 otherwise)       |
 *   | 10  |  4   | pk_len       | u32                                          |
 *   | 14  |  n   | pk           | partition key, storage form                  |
 *   |  .  |  4   | ck_len       | u32                                          |
 *   |  .  |  m   | ck           | clustering prefix, storage ordered form      |
 *   |  .  |  4   | part_rows    | i32 rows (groups) already returned from that |
 *   |     |      |              | partition (PER PARTITION LIMIT); format 2    |
 *
 * Format 1 (without part_rows) is still read, as part_rows 0.
 *
 * A state that does not decode is the client's error: the executor answers
 * Invalid ("Invalid value for the paging state").
 */
#ifndef COLONNADE_COORDINATOR_PAGING_H
#define COLONNADE_COORDINATOR_PAGING_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGING_FORMAT         2
#define PAGING_PARTITION_DONE 0x01

struct paging_pos {
	uint8_t flags;
	int32_t remaining;
	uint32_t part_index;
	const uint8_t *pk; /* decode: points into the state */
	uint32_t pk_len;
	const uint8_t *ck;
	uint32_t ck_len;
	int32_t part_rows;
};

/* Append the encoded state. */
void paging_encode(const struct paging_pos *p, struct buf *out);
/* Decode; slices point into `state`.  0 or COL_EINVAL (malformed). */
int paging_decode(const uint8_t *state, size_t len, struct paging_pos *out);

#endif
