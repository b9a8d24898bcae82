/*
 * libFuzzer target: the schema rowsets peers send (coordinator/schema/schema_sync.h,
 * SCHEMA_PUSH and SCHEMA_PULL_RSP payloads) and the check of every row in them
 * (schema_row_check, coordinator/schema/schema.h) — what stands between a peer's
 * bytes and the local catalogue.  Garbage must be refused with an error,
 * never read out of bounds, never leak.
 */
#include "coordinator/schema/schema.h"
#include "coordinator/schema/schema_sync.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t version[16];
	struct schema_row_ref *rows = NULL;
	size_t n = 0;
	struct cerr e = {0};
	if (schema_sync_decode_rowset(data, size, version, &rows, &n, &e) == 0) {
		for (size_t i = 0; i < n; i++) {
			int64_t ts;
			(void)schema_row_check(rows[i].key, rows[i].klen, rows[i].val, rows[i].vlen,
			                       &ts, &e);
		}
		free(rows);
	}
	return 0;
}
