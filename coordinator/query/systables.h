/*
 * systables.h — the virtual system tables drivers and cqlsh read: system.local,
 * system.peers, system.repair_history (this node's repair sessions),
 * system_virtual_schema.{keyspaces, tables, columns}, and system_schema.{keyspaces, tables,
 * columns, dropped_columns, types, functions, aggregates, triggers, indexes, views}.
 *
 * Nothing here is stored: rows exist only for the read that asked.
 *
 * Rows are generated on each read from live state: the schema snapshot (which
 * lists the system tables themselves, so cqlsh finds them in its metadata) and
 * the cluster view the node supplies (host id, dc, rack, tokens, addresses,
 * peers from gossip).  Their columns are declared in schema.c (the virtual
 * keyspaces) with Cassandra 4.0's names and types.  system.peers_v2 holds what
 * system.peers does plus the ports, which are the same on every node (one
 * storage_port and native_transport_port per cluster, as drivers assume for
 * system.peers too).
 *
 * A generated row is an array of native values, one per column of the table
 * in schema order (pk, clustering, then the rest by name); len -1 = null.
 * The executor filters (WHERE keyspace_name = 'k' AND table_name = 't'),
 * projects and encodes them like any other rows.
 */
#ifndef COLONNADE_COORDINATOR_SYSTABLES_H
#define COLONNADE_COORDINATOR_SYSTABLES_H

#include "core/buf.h"
#include "core/cqlproto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct schema_snap;
struct schema_table;
struct ring;

/* What system.local / system.peers say about one node. */
struct cluster_node_info {
	uint8_t host_id[16];
	const char *dc, *rack;
	uint8_t addr[16];     /* broadcast (listen) address: peers.peer */
	uint8_t addr_len;     /* 4 or 16 */
	uint8_t rpc_addr[16]; /* where clients connect */
	uint8_t rpc_addr_len;
	const int64_t *tokens;
	size_t n_tokens;
	uint8_t schema_version[16];
	bool has_schema_version; /* peers: known from gossip; local: ignored (ours) */
};

typedef void (*cluster_node_emit_fn)(void *ectx, const struct cluster_node_info *n);

/* One row of system.repair_history (this node's repair sessions, docs/REPAIR.md). */
struct repair_history_info {
	const char *keyspace, *table;
	int64_t start, end; /* the range (start, end] */
	int64_t started_ms, finished_ms;
	uint64_t leaves_differing, bytes;
	const char *outcome;
};
typedef int (*repair_history_emit_fn)(void *ectx, const struct repair_history_info *h);

/*
 * Supplied by the node (coordinator/node/node.c), so the CQL server needs no gossip
 * headers.  Callbacks run on the loop thread; the data they emit is valid
 * during the emit call only.
 */
struct cluster_view {
	void *ctx;
	const char *cluster_name;
	const char *snitch; /* "GossipingPropertyFileSnitch", as DESCRIBE CLUSTER names it */
	int storage_port;   /* every node's gossip/storage port (0: 7000) */
	int native_port;    /* every node's CQL port (0: 9042), as system.peers_v2 shows it */
	int32_t gossip_generation;
	/* Emit exactly one node: this one. */
	void (*local)(void *ctx, cluster_node_emit_fn emit, void *ectx);
	/* Emit every other known node (none on a single node). */
	void (*peers)(void *ctx, cluster_node_emit_fn emit, void *ectx);
	/* Emit this node's repair history rows, oldest first (NULL: none); stops when emit
	 * returns non-zero. */
	void (*repair_history)(void *ctx, repair_history_emit_fn emit, void *ectx);
	/* A reference to the current ring (ring_unref it), NULL when there is none yet.
	 * NULL callback: no ring (DESCRIBE CLUSTER then shows no range ownership). */
	struct ring *(*ring_ref)(void *ctx);
};

/* What Cassandra version every node presents, in system.local and in system.peers alike: drivers
 * pick their schema parser per host from it (4.0: the V4 parser, which also reads
 * system_virtual_schema), and cqlsh 6 sends DESCRIBE to the server only for 4.x (docs/CQL.md,
 * "Server identity").  Colonnade's own version travels in gossip (RELEASE_VERSION) for the
 * operator tools. */
#define SYSTABLES_RELEASE_VERSION "4.0.11"
#define SYSTABLES_CQL_VERSION     "3.4.5"
#define SYSTABLES_PARTITIONER     "org.apache.cassandra.dht.Murmur3Partitioner"

/* One generated row: values[i] is column i of the table; valid during the call. */
typedef int (*systables_row_fn)(void *ctx, const struct cql_slice *values);

/*
 * Generate the rows of virtual table t.  `ks_filter` / `name_filter` (may be
 * NULL) restrict system_schema tables to one keyspace / one table (the
 * clustering column after keyspace_name) without generating the others; the
 * executor still checks every relation.  Stops early and returns what emit
 * returns if it is non-zero.  COL_ENOTFOUND for an unknown virtual table.
 */
int systables_scan(const struct schema_snap *snap, const struct cluster_view *view,
                   const struct schema_table *t, const char *ks_filter, const char *name_filter,
                   systables_row_fn emit, void *ctx);

#endif
