/*
 * tableopts.h — a table's options as Cassandra 4.0 names them, in one place for
 * system_schema.tables (systables.c) and DESCRIBE (describe_cql.c), so the two
 * always agree.
 *
 * Values come from the schema where Colonnade keeps them (gc_grace_seconds,
 * default_time_to_live, comment, speculative_retry) and otherwise say what the
 * engine does: compaction is RocksDB's leveled compaction, compression zstd in
 * 64 KiB blocks, no row cache, no CDC.  Maps are key/value pairs sorted by key.
 */
#ifndef COLONNADE_COORDINATOR_TABLEOPTS_H
#define COLONNADE_COORDINATOR_TABLEOPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct schema_table;

struct table_opts {
	const char *additional_write_policy;
	double bloom_filter_fp_chance;
	const char *const *caching; /* k0, v0, k1, v1, ... */
	size_t n_caching;           /* pairs */
	bool cdc;
	const char *comment;
	const char *const *compaction;
	size_t n_compaction;
	const char *const *compression;
	size_t n_compression;
	double crc_check_chance;
	int32_t default_time_to_live;
	int32_t gc_grace_seconds;
	int32_t max_index_interval;
	int32_t memtable_flush_period_in_ms;
	int32_t min_index_interval;
	const char *read_repair;
	const char *speculative_retry;
};

/* The options of t; the strings live as long as t. */
void table_opts_get(const struct schema_table *t, struct table_opts *o);

#endif
