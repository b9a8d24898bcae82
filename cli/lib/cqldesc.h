/*
 * cqldesc.h — CREATE statements for cqlish's client-side DESCRIBE, built from
 * system_schema rows the way the python driver's metadata export (what cqlsh
 * prints) builds them:
 *
 *   CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy',
 *       'replication_factor': '1'}  AND durable_writes = true;
 *
 *   CREATE TABLE ks.t (
 *       id int,
 *       c int,
 *       v text,
 *       PRIMARY KEY (id, c)
 *   ) WITH CLUSTERING ORDER BY (c ASC)
 *       AND default_time_to_live = 0
 *       AND gc_grace_seconds = 864000;
 *
 * (the double blank before AND in the keyspace line is the driver's, kept).
 * Columns come partition key (by position), clustering (by position), then the
 * rest by name; a lone partition key without clustering columns is written
 * "id int PRIMARY KEY".  Table options are listed sorted by name.  Names are
 * quoted with cqlfmt_quote_name.  Pure text functions: the shell queries.
 */
#ifndef COLONNADE_CLI_CQLDESC_H
#define COLONNADE_CLI_CQLDESC_H

#include "core/buf.h"
#include "core/cqlproto.h"
#include "core/cqltype.h"

#include <stdbool.h>
#include <stddef.h>

/* One row of system_schema.columns. */
struct cqldesc_column {
	const char *name;
	const char *type;  /* CQL type text, "frozen<set<text>>" */
	const char *kind;  /* partition_key | clustering | regular | static */
	int position;      /* -1 for regular/static */
	const char *order; /* asc | desc | none */
};

/* One table option with its value already as CQL literal text. */
struct cqldesc_option {
	const char *name;
	const char *literal;
};

/* "CREATE KEYSPACE ..." (no ';').  'class' is printed first, then the other
 * replication keys sorted. */
void cqldesc_keyspace(struct buf *out, const char *name, bool durable_writes,
                      const char *const *repl_keys, const char *const *repl_vals, size_t n);

/* "CREATE TABLE ks.t (...) WITH ..." (no ';').  cols and opts are not modified. */
void cqldesc_table(struct buf *out, const char *ks, const char *table,
                   const struct cqldesc_column *cols, size_t ncols,
                   const struct cqldesc_option *opts, size_t nopts);

/*
 * A value of a system_schema option as a CQL literal: text quoted, numbers as
 * is (doubles in Python's repr: 0.01, 1.0), booleans true/false, maps
 * {'k': 'v'}, sets {'a'}, lists ['a'].  Appends nothing for null.
 */
void cqldesc_literal(struct buf *out, const struct cqltype *t, const struct cql_slice *v);

/* True for the table options DESCRIBE prints (Cassandra 4.1's set). */
bool cqldesc_is_table_option(const char *name);

#endif
