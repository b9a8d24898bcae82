/*
 * inspect.h — replica-local inspection for operators and tests: where a
 * partition lives (`colonnade getendpoints`, nodetool getendpoints) and what
 * this one node stores of it (`colonnade dump`, modelled on sstabledump).
 *
 * They only read: nothing here writes to the store or asks another node.
 *
 * Both answer JSON for the admin endpoint (/v1/endpoints, /v1/dump; see
 * docs/OPERATIONS.md).  They are plain functions over a schema snapshot, a
 * ring snapshot and the local store, so they are tested without a node; the
 * node's admin handlers (node_admin.c) pass their live state.
 *
 * Keys are given as text, as nodetool takes them: one component converted
 * with the partition key column's CQL type (core/cqltype.h
 * cqltype_from_literal: 'text' raw without quotes, integers, uuids, blobs as
 * hex with or without 0x, timestamps as ms or '2026-01-01 10:00:00'), and a
 * composite key as its components joined by ':' ("a:b"; like nodetool, a
 * component cannot itself contain ':').  The token is the storage engine's
 * (store_partition_token: Cassandra's serialization and Murmur3), so the
 * replicas are those every coordinator and token-aware driver computes.
 *
 * /v1/endpoints answer:
 *   {"keyspace": k, "table": t, "key": text, "token": i64,
 *    "endpoints": ["127.0.0.2", ...]}                    (placement order)
 *
 * /v1/dump answer (times: "tstamp" µs since the epoch, "local_delete_time"
 * and "expires_at" seconds since the epoch, "ttl" seconds; cqlsh formatting
 * for values; data shadowed by a newer tombstone is not shown, as after a
 * compaction; expired cells show as tombstones whose local_delete_time is
 * their expiry, which is what they are on disk after the next compaction):
 *   {"keyspace", "table", "key", "token", "partition_key": [text...],
 *    "found": bool (anything stored at all),
 *    "partition_deletion": null | {"tstamp", "local_delete_time"},
 *    "range_tombstones": [{"start": {"clustering": [text...], "inclusive": b},
 *                          "end": {...}, "tstamp", "local_delete_time"}],
 *    "rows": [{"type": "static" | "row", "clustering": [text...],
 *              "liveness_info": null | {"tstamp", "ttl", "expires_at"},
 *              "deletion_info": null | {"tstamp", "local_delete_time"},
 *              "cells": [{"name", "path": text | null, "value": text | null,
 *                         "tstamp", "ttl", "expires_at", "deleted": b,
 *                         "local_delete_time"}]}]}
 *
 * Bounds: a dump lists at most INSPECT_MAX_ROWS rows and as many range
 * tombstones (then "truncated": true), so a huge partition cannot make an
 * unbounded answer.
 */
#ifndef COLONNADE_COORDINATOR_INSPECT_H
#define COLONNADE_COORDINATOR_INSPECT_H

#include "core/buf.h"
#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

struct ring;
struct schema_snap;
struct schema_table;
struct store_value;

#define INSPECT_MAX_ROWS  10000
#define INSPECT_MAX_PARAM 4096 /* a decoded query parameter */

/*
 * The value of parameter `name` in a raw query string ("a=1&b=x%3Ay"),
 * percent-decoded ('+' is a space) into out[cap].  0; COL_ENOTFOUND if absent;
 * COL_EINVAL if longer than cap-1 or a bad %-escape.
 */
int inspect_query_param(const char *query, const char *name, char *out, size_t cap);

/*
 * Convert key text to the table's partition key components: native bytes in
 * `vals` (which owns them), out[i] pointing into it (valid until vals
 * changes).  COL_EINVAL naming the component and the type on bad text.
 */
int inspect_key_parse(const struct schema_table *t, const char *text, struct buf *vals,
                      struct store_value *out, size_t cap, size_t *n, struct cerr *err);

/*
 * /v1/endpoints: the replicas of `key` in ks.table under ring (may be NULL
 * before the first ring: error).  local_addr is this node's address (the one
 * replica of a LocalStrategy keyspace).  Returns an HTTP status: 200 with the
 * answer in out, or 400/404/503 with err set.
 */
int inspect_endpoints(const struct schema_snap *snap, const struct ring *ring,
                      const char *local_addr, const char *ks, const char *table, const char *key,
                      struct buf *out, struct cerr *err);

/*
 * /v1/dump: what the local store holds of the partition, read directly
 * (never through the coordinator).  now_s 0 = wall clock.  HTTP status as
 * above (500 for a storage error).
 */
int inspect_dump(const struct schema_snap *snap, const char *ks, const char *table, const char *key,
                 int64_t now_s, struct buf *out, struct cerr *err);

#endif
