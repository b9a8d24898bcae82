/*
 * tableopts.h — a table's options as Cassandra 4.0 names them, in one place for
 * system_schema.tables (systables.c), DESCRIBE (describe_cql.c) and CREATE/ALTER
 * TABLE (ddl.c), so the three always agree.
 *
 * Colonnade acts on gc_grace_seconds, default_time_to_live, speculative_retry
 * and comment (kept in the schema's own fields).  The other Cassandra options
 * — additional_write_policy, bloom_filter_fp_chance, caching, cdc, compaction,
 * compression, crc_check_chance, max_index_interval, memtable_flush_period_in_ms,
 * min_index_interval, read_repair — are validated as Cassandra validates them,
 * kept in the schema as given (struct schema_table_opt) and shown, but do not
 * change what the engine does; the statement that sets one gets a warning
 * saying so.  Unset, each shows what the engine does: compaction is RocksDB's
 * leveled compaction, compression zstd in 64 KiB blocks, no row cache, no CDC.
 * read_repair_chance and dclocal_read_repair_chance (obsolete in 4.0) are
 * accepted, warned about and dropped; `extensions` likewise.
 */
#ifndef COLONNADE_COORDINATOR_TABLEOPTS_H
#define COLONNADE_COORDINATOR_TABLEOPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct schema_table;
struct schema_table_opt;
struct cql_option;
struct exec_req;

#define TABLEOPTS_MAX_MAP 32 /* keys of one map option */

struct table_opts {
	const char *additional_write_policy;
	double bloom_filter_fp_chance;
	const char *caching[2 * TABLEOPTS_MAX_MAP]; /* k0, v0, k1, v1, ...: sorted by key */
	size_t n_caching;                           /* pairs */
	bool cdc;
	const char *comment;
	const char *compaction[2 * TABLEOPTS_MAX_MAP];
	size_t n_compaction;
	const char *compression[2 * TABLEOPTS_MAX_MAP];
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

/* The kept options of one CREATE or ALTER TABLE, being built (malloc'd strings). */
struct topt_list {
	struct schema_table_opt *v;
	uint32_t n, cap;
	char warned[160]; /* names of the options set that are kept, not acted on */
	char dropped[96]; /* names of the obsolete / unsupported ones accepted and dropped */
	bool oom;
};

/* True when the option `name` is one tableopts handles (kept or dropped). */
bool tableopts_handles(const char *name);
/* Validate option o as Cassandra does and add its canonical entries to l; 0, or
 * the failure recorded on req. */
int tableopts_add(struct exec_req *req, const struct cql_option *o, struct topt_list *l);
/* ALTER: add old's entries of the options l does not set, then sort l by name;
 * COL_ENOMEM.  With old NULL (CREATE), only the sort. */
int tableopts_finish(struct topt_list *l, const struct schema_table *old);
/* max_index_interval >= min_index_interval, as the table will have them; 0 or failed. */
int tableopts_check(struct exec_req *req, const struct topt_list *l);
/* The warning for the statement ("" when every option set is acted on). */
void tableopts_warning(const struct topt_list *l, char *out, size_t cap);
void topt_list_free(struct topt_list *l);

#endif
