#include "coordinator/query/tableopts.h"

#include "coordinator/schema/schema.h"

static const char *const caching[] = {"keys", "ALL", "rows_per_partition", "NONE"};
static const char *const compaction[] = {
        "class", "org.apache.cassandra.db.compaction.LeveledCompactionStrategy"};
static const char *const compression[] = {"chunk_length_in_kb", "64", "class",
                                          "org.apache.cassandra.io.compress.ZstdCompressor"};

void table_opts_get(const struct schema_table *t, struct table_opts *o)
{
	*o = (struct table_opts){
	        .additional_write_policy = "99p",
	        .bloom_filter_fp_chance = 0.01,
	        .caching = caching,
	        .n_caching = 2,
	        .cdc = false,
	        .comment = t->comment ? t->comment : "",
	        .compaction = compaction,
	        .n_compaction = 1,
	        .compression = compression,
	        .n_compression = 2,
	        .crc_check_chance = 1.0,
	        .default_time_to_live = t->default_time_to_live,
	        .gc_grace_seconds = t->gc_grace_seconds,
	        .max_index_interval = 2048,
	        .memtable_flush_period_in_ms = 0,
	        .min_index_interval = 128,
	        .read_repair = "BLOCKING",
	        .speculative_retry = t->speculative_retry ? t->speculative_retry : "99p",
	};
}
