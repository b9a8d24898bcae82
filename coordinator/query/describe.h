/*
 * describe.h — server-side DESCRIBE (Cassandra 4.0's DescribeStatement): the
 * statement (describe.c) and the CREATE text it returns (describe_cql.c).
 *
 * Every form answers rows of (keyspace_name, type, name) — the listings
 * (KEYSPACES, TABLES, TYPES, FUNCTIONS, AGGREGATES) — or (keyspace_name, type,
 * name, create_statement) — the elements (KEYSPACE, TABLE, SCHEMA, ...), with
 * the table spec system.describe; CLUSTER answers (cluster, partitioner, snitch
 * [, range_ownership]).  Results page by row like Cassandra's: the paging state
 * carries the schema version, and a page asked after a schema change fails.
 */
#ifndef COLONNADE_COORDINATOR_DESCRIBE_H
#define COLONNADE_COORDINATOR_DESCRIBE_H

#include "core/buf.h"

#include <stdbool.h>

struct schema_keyspace;
struct schema_table;
struct schema_index;
struct cqltype;

/* "CREATE KEYSPACE ... AND durable_writes = true;" (a comment for a virtual keyspace). */
void describe_keyspace_cql(struct buf *out, const struct schema_keyspace *k);
/* "CREATE TABLE ks.t (...) WITH ...;"; `internals` adds "ID = <uuid>". */
void describe_table_cql(struct buf *out, const struct schema_table *t, bool internals);
/* ks.name, each quoted if it needs it. */
/* CREATE INDEX name ON ks.t (target); as Cassandra 4 prints it. */
void describe_index_cql(struct buf *out, const struct schema_table *t,
                        const struct schema_index *ix);
void describe_table_name(struct buf *out, const char *ks, const char *name);
/* CREATE TYPE ks.t (\n    f type,\n ...\n); as Cassandra 4 prints it (ut: a CQLTYPE_UDT). */
void describe_type_cql(struct buf *out, const struct cqltype *ut);

#endif
