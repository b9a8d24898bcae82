/*
 * node_metrics.c — /metrics: the node's figures in the Prometheus text
 * exposition format (version 0.0.4), one function per subsystem, in a fixed
 * order.  It only reads statistics each module keeps; it never changes them
 * and never blocks (everything runs on the loop thread, admin.h).
 */
#include "coordinator/node/node_int.h"

#include "coordinator/batchlog/batchlog.h"
#include "coordinator/replication/reqmetrics.h"
#include "coordinator/replication/router.h"
#include "coordinator/replication/storage_proxy.h"
#include "coordinator/replication/verbs.h"
#include "coordinator/schema/schema_sync.h"
#include "coordinator/transport/cqlserver.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/hex.h"
#include "core/net.h"
#include "core/ring.h"
#include "gossip/gossiper.h"
#include "gossip/messaging.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

/* One figure: its kind, its name and the help line Prometheus shows for it. */
enum metric_kind { M_GAUGE, M_COUNTER };
struct metric_def {
	enum metric_kind kind;
	const char *name;
	const char *help;
};

/* Each of defs[0..n) with its value v[i]. */
static void metrics(struct buf *b, const struct metric_def *defs, const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *type = defs[i].kind == M_GAUGE ? "gauge" : "counter";
		buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", defs[i].name, defs[i].help,
		           defs[i].name, type, defs[i].name, v[i]);
	}
}

/* A Prometheus label value: quoted, with \\, " and newline escaped. */
static void put_label(struct buf *b, const char *v)
{
	buf_put_u8(b, '"');
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_put_u8(b, '\\');
		if (*v == '\n') {
			buf_put_str(b, "\\n");
			continue;
		}
		buf_put_u8(b, (uint8_t)*v);
	}
	buf_put_u8(b, '"');
}

static void peer_queue_metric(void *ctx, const struct net_addr *addr,
                              const struct messaging_peer_stats *st)
{
	char host[NET_ADDR_STRLEN];
	net_addr_host(addr, host, sizeof(host));
	buf_printf((struct buf *)ctx,
	           "colonnade_messaging_peer_send_queue_bytes{peer=\"%s\"} %zu\n", host,
	           st->queued_bytes);
}

/* defs[] and their values v[], checked to be as many. */
#define METRICS(out, defs, v)                                                                      \
	do {                                                                                       \
		_Static_assert(sizeof(defs) / sizeof(defs[0]) == sizeof(v) / sizeof(v[0]),         \
		               "one value per metric");                                            \
		metrics(out, defs, v, sizeof(defs) / sizeof(defs[0]));                             \
	} while (0)

/* Who this node is, how long it has run, its memory and data size. */
static void m_node(struct buf *out, struct node *n)
{
	char hid[37];
	uuid_format(n->id.host_id, hid);
	buf_put_str(out, "# HELP colonnade_info Static facts about this node.\n"
	                 "# TYPE colonnade_info gauge\ncolonnade_info{version=");
	put_label(out, COLONNADE_VERSION);
	buf_put_str(out, ",host_id=");
	put_label(out, hid);
	buf_put_str(out, ",dc=");
	put_label(out, n->cfg.dc);
	buf_put_str(out, ",rack=");
	put_label(out, n->cfg.rack);
	buf_put_str(out, ",cluster=");
	put_label(out, n->cfg.cluster_name);
	buf_put_str(out, "} 1\n");
	static const struct metric_def defs[] = {
	        {M_GAUGE, "colonnade_uptime_seconds", "Seconds since the node started."},
	        {M_GAUGE, "colonnade_generation", "Gossip generation of this boot."},
	        {M_GAUGE, "colonnade_resident_memory_bytes", "Resident set size."},
	        {M_GAUGE, "colonnade_load_bytes", "Size of the data directory (nodetool's Load)."},
	};
	const double v[] = {
	        (double)(clock_mono_ms() - n->start_mono_ms) / 1000.0,
	        (double)n->id.generation,
	        (double)node_rss_bytes(),
	        (double)n->load_bytes,
	};
	METRICS(out, defs, v);
}

/* The process as Prometheus' client libraries name it: CPU time of every thread
 * (what a benchmark divides by operations), memory now and at its peak. */
static void m_process(struct buf *out, struct node *n)
{
	(void)n;
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		memset(&ru, 0, sizeof(ru));
	static const struct metric_def defs[] = {
	        {M_COUNTER, "process_cpu_seconds_total",
	         "User and system CPU time of every thread of the process, in seconds."},
	        {M_GAUGE, "process_resident_memory_bytes", "Resident set size."},
	        {M_GAUGE, "process_max_resident_memory_bytes",
	         "Largest resident set size since the process started."},
	};
	const double v[] = {
	        (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	                (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
	        (double)node_rss_bytes(),
	        (double)ru.ru_maxrss * 1024.0,
	};
	METRICS(out, defs, v);
}

/* The store's files on disk (refreshed with the load). */
static void m_storage(struct buf *out, struct node *n)
{
	static const struct metric_def defs[] = {
	        {M_GAUGE, "colonnade_storage_sst_bytes", "Bytes in SST files."},
	        {M_GAUGE, "colonnade_storage_sst_files", "SST files."},
	        {M_GAUGE, "colonnade_storage_wal_bytes", "Bytes in write-ahead log files."},
	        {M_GAUGE, "colonnade_storage_wal_files", "Write-ahead log files."},
	};
	const double v[] = {
	        (double)n->disk_sst_bytes,
	        (double)n->disk_sst_files,
	        (double)n->disk_wal_bytes,
	        (double)n->disk_wal_files,
	};
	METRICS(out, defs, v);
}

/* Group commit (storage.h, store_lane_apply): how writes reached RocksDB. */
static void m_storage_writes(struct buf *out, struct node *n)
{
	static const struct metric_def defs[] = {
	        {M_COUNTER, "colonnade_storage_write_mutations_total",
	         "Mutations applied through the group-commit write path."},
	        {M_COUNTER, "colonnade_storage_write_groups_total",
	         "Write groups (one loop iteration's mutations, one WriteBatch each)."},
	        {M_COUNTER, "colonnade_storage_write_inline_groups_total",
	         "Groups written on the event loop itself (no backlog, no stall)."},
	        {M_COUNTER, "colonnade_storage_writer_rounds_total",
	         "Rounds of the writer thread (every queued group in one WriteBatch)."},
	        {M_COUNTER, "colonnade_storage_write_syncs_total",
	         "WAL fsyncs of the writer thread (commitlog_sync batch: one per round)."},
	        {M_COUNTER, "colonnade_storage_write_stalls_total",
	         "Inline writes RocksDB refused because it was stalling writes."},
	        {M_COUNTER, "colonnade_storage_write_overloaded_total",
	         "Mutations refused Overloaded: storage_write_queue mutations (or "
	         "storage_write_queue_bytes bytes) were waiting."},
	        {M_GAUGE, "colonnade_storage_write_queued",
	         "Mutations waiting for the writer thread now."},
	        {M_GAUGE, "colonnade_storage_write_group_max", "Largest write group so far."},
	        {M_GAUGE, "colonnade_storage_write_queued_bytes",
	         "Bytes of the mutations waiting for the writer thread now."},
	};
	struct store_write_stats ws;
	store_write_stats(n->store, &ws);
	const double v[] = {
	        (double)ws.mutations,     (double)ws.groups, (double)ws.inline_groups,
	        (double)ws.writer_rounds, (double)ws.syncs,  (double)ws.stalls,
	        (double)ws.overloaded,    (double)ws.queued, (double)ws.max_group,
	        (double)ws.queued_bytes,
	};
	METRICS(out, defs, v);
}

/* RocksDB's background work now (storage.h, store_background). */
static void m_storage_background(struct buf *out, struct node *n)
{
	static const struct metric_def defs[] = {
	        {M_GAUGE, "colonnade_storage_compactions_running", "RocksDB compactions running."},
	        {M_GAUGE, "colonnade_storage_flushes_running", "RocksDB memtable flushes running."},
	        {M_GAUGE, "colonnade_storage_compactions_pending",
	         "Column families with a compaction due."},
	        {M_GAUGE, "colonnade_storage_flushes_pending",
	         "Column families with a memtable flush due."},
	        {M_GAUGE, "colonnade_storage_compaction_pending_bytes",
	         "Bytes RocksDB estimates its due compactions will rewrite."},
	        {M_GAUGE, "colonnade_storage_flush_pressure",
	         "How far memtable flushes are behind: 0, to 1 where RocksDB stops writes."},
	        {M_GAUGE, "colonnade_storage_compaction_pressure",
	         "How far compactions are behind: L0 from the compaction (0) to the slowdown "
	         "trigger (1)."},
	        {M_GAUGE, "colonnade_storage_flush_nice",
	         "Nice value of RocksDB's flush threads (-1: not controlled)."},
	        {M_GAUGE, "colonnade_storage_compaction_nice",
	         "Nice value of RocksDB's compaction threads (-1: not controlled)."},
	};
	struct store_background b;
	store_background(n->store, &b);
	int fnice, cnice;
	store_background_nice(n->store, &fnice, &cnice);
	const double v[] = {
	        (double)b.compactions_running,
	        (double)b.flushes_running,
	        (double)b.compactions_pending,
	        (double)b.flushes_pending,
	        (double)b.pending_compaction_bytes,
	        b.flush_pressure,
	        b.compaction_pressure,
	        (double)fnice,
	        (double)cnice,
	};
	METRICS(out, defs, v);
}

/* RocksDB's memory and its configured bounds (storage.h, store_memory). */
static void m_storage_memory(struct buf *out, struct node *n)
{
	static const struct metric_def defs[] = {
	        {M_GAUGE, "colonnade_storage_block_cache_capacity_bytes",
	         "The block cache's bound (rocksdb_block_cache_size)."},
	        {M_GAUGE, "colonnade_storage_block_cache_usage_bytes",
	         "Bytes the block cache holds, pinned ones included."},
	        {M_GAUGE, "colonnade_storage_block_cache_pinned_bytes",
	         "Bytes of the block cache pinned by readers."},
	        {M_GAUGE, "colonnade_storage_memtable_budget_bytes",
	         "All memtables' budget (rocksdb_db_write_buffer_size; 0 = none)."},
	        {M_GAUGE, "colonnade_storage_memtable_bytes",
	         "Bytes in every column family's memtables, immutable ones included."},
	        {M_GAUGE, "colonnade_storage_table_readers_bytes",
	         "Index and filter blocks of open SST files, held outside the block cache."},
	};
	struct store_memory m;
	store_memory(n->store, &m);
	const double v[] = {
	        (double)m.block_cache_capacity,
	        (double)m.block_cache_usage,
	        (double)m.block_cache_pinned,
	        (double)m.memtable_budget,
	        (double)m.memtables,
	        (double)m.table_readers,
	};
	METRICS(out, defs, v);
}

/* Secondary indexes in this node's store (storage.h, SECONDARY INDEXES). */
static void m_index(struct buf *out, struct node *n)
{
	static const struct metric_def defs[] = {
	        {M_COUNTER, "colonnade_index_reads_total",
	         "Reads through a secondary index served by this node's store."},
	        {M_COUNTER, "colonnade_index_entries_read_total",
	         "Index entries those reads visited."},
	        {M_COUNTER, "colonnade_index_stale_entries_total",
	         "Index entries found stale (row gone or value changed) and deleted by reads."},
	        {M_COUNTER, "colonnade_index_rows_read_total", "Rows index reads reported."},
	        {M_GAUGE, "colonnade_index_builds_running", "Index builds queued or running."},
	        {M_COUNTER, "colonnade_index_builds_completed_total", "Index builds finished."},
	        {M_COUNTER, "colonnade_index_build_pairs_total",
	         "Stored pairs of tables walked by index builds."},
	        {M_COUNTER, "colonnade_index_build_entries_total",
	         "Index entries written by index builds."},
	};
	struct store_index_stats is;
	store_index_stats(n->store, &is);
	const double v[] = {
	        (double)is.reads,       (double)is.entries,        (double)is.stale,
	        (double)is.rows,        (double)is.builds_running, (double)is.builds_done,
	        (double)is.build_pairs, (double)is.build_entries,
	};
	METRICS(out, defs, v);
}

/* The current ring snapshot. */
static void m_ring(struct buf *out, struct node *n)
{
	static const struct metric_def defs[] = {
	        {M_GAUGE, "colonnade_ring_nodes",
	         "Nodes owning tokens in the current ring snapshot."},
	        {M_GAUGE, "colonnade_ring_tokens", "Tokens in the current ring snapshot."},
	        {M_COUNTER, "colonnade_ring_rebuilds_total",
	         "Ring snapshots built from gossip changes."},
	};
	const double v[] = {
	        n->ring ? (double)ring_node_count(n->ring) : 0,
	        n->ring ? (double)ring_token_count(n->ring) : 0,
	        (double)n->ring_rebuilds,
	};
	METRICS(out, defs, v);
}

/* Schema agreement and the traffic that reaches it (schema_sync.h). */
static void m_schema(struct buf *out, struct node *n)
{
	if (!n->sync)
		return;
	struct schema_sync_stats sy;
	schema_sync_get_stats(n->sync, &sy);
	static const struct metric_def defs[] = {
	        {M_GAUGE, "colonnade_schema_agreement",
	         "1 when every live node gossips this node's schema version."},
	        {M_COUNTER, "colonnade_schema_pushes_sent_total",
	         "Schema pushes sent to peers after local DDL."},
	        {M_COUNTER, "colonnade_schema_pulls_sent_total",
	         "Schema pulls sent to peers gossiping another version."},
	        {M_COUNTER, "colonnade_schema_rows_merged_total", "Schema rows taken from peers."},
	        {M_COUNTER, "colonnade_schema_refused_total",
	         "Schema messages from peers refused as malformed."},
	        {M_COUNTER, "colonnade_schema_agreement_timeouts_total",
	         "DDL answered without schema agreement."},
	};
	const double v[] = {
	        schema_sync_agreed(n->sync) ? 1 : 0,
	        (double)sy.pushes_out,
	        (double)sy.pulls_out,
	        (double)sy.rows_applied,
	        (double)sy.refused,
	        (double)sy.wait_timeouts,
	};
	METRICS(out, defs, v);
}

/* Requests coordinated by the router (replication/router.h). */
static void m_proxy(struct buf *out, struct node *n)
{
	if (!n->router)
		return;
	struct router_stats ps;
	router_get_stats(n->router, &ps);
	node_loops_router_stats(n, &ps); /* served by request loops from this node's replica */
	static const struct metric_def defs[] = {
	        {M_COUNTER, "colonnade_proxy_writes_total", "Mutations coordinated."},
	        {M_COUNTER, "colonnade_proxy_reads_total", "Partition reads coordinated."},
	        {M_COUNTER, "colonnade_proxy_scans_total", "Range scans coordinated."},
	        {M_COUNTER, "colonnade_proxy_unavailables_total",
	         "Requests refused as Unavailable."},
	};
	const double v[] = {
	        (double)ps.writes,
	        (double)ps.reads,
	        (double)ps.scans,
	        (double)ps.unavailables,
	};
	METRICS(out, defs, v);
}

/* LOGGED batches (coordinator/batchlog/batchlog.h). */
static void m_batchlog(struct buf *out, struct node *n)
{
	if (!n->batchlog)
		return;
	struct batchlog_stats bs;
	batchlog_get_stats(n->batchlog, &bs);
	static const struct metric_def defs[] = {
	        {M_COUNTER, "colonnade_batchlog_logged_total",
	         "LOGGED batches this node coordinated, stored on their batchlog nodes."},
	        {M_COUNTER, "colonnade_batchlog_log_timeouts_total",
	         "LOGGED batches whose batchlog write failed or timed out (BATCH_LOG)."},
	        {M_COUNTER, "colonnade_batchlog_removed_total",
	         "LOGGED batches removed from the batchlog after their write succeeded."},
	        {M_COUNTER, "colonnade_batchlog_stored_total",
	         "Batches other coordinators stored on this node."},
	        {M_COUNTER, "colonnade_batchlog_replayed_total",
	         "Stored batches this node replayed (their coordinator did not finish them)."},
	        {M_COUNTER, "colonnade_batchlog_replay_failures_total",
	         "Replays that failed and wait for the next check."},
	};
	const double v[] = {
	        (double)bs.logged, (double)bs.log_timeouts, (double)bs.removed,
	        (double)bs.stored, (double)bs.replayed,     (double)bs.replay_failed,
	};
	METRICS(out, defs, v);
}

/* The trace writer (node_traces.c): traces written to system_traces, and those dropped. */
static void m_traces(struct buf *out, struct node *n)
{
	if (!n->traces)
		return;
	struct node_traces_stats ts;
	node_traces_stats(n, &ts);
	static const struct metric_def defs[] = {
	        {M_COUNTER, "colonnade_traces_submitted_total",
	         "Trace session parts (this node's events of a traced request) handed to the "
	         "writer."},
	        {M_COUNTER, "colonnade_traces_written_total",
	         "Trace batches written to system_traces."},
	        {M_COUNTER, "colonnade_traces_write_failures_total",
	         "Trace batches whose write to system_traces failed."},
	        {M_COUNTER, "colonnade_traces_dropped_total",
	         "Traces dropped unwritten because the writer's queue was full."},
	        {M_COUNTER, "colonnade_traces_events_dropped_total",
	         "Trace events not recorded: over the per-session bound."},
	        {M_GAUGE, "colonnade_traces_pending", "Trace batches in flight or waiting."},
	};
	const double v[] = {
	        (double)ts.submitted,      (double)ts.written,
	        (double)ts.failed,         (double)ts.dropped,
	        (double)ts.events_dropped, (double)(ts.in_flight + ts.waiting),
	};
	METRICS(out, defs, v);
}

/* The coordinator side of replication (storage_proxy.h). */
static void m_coordinated(struct buf *out, struct node *n)
{
	if (!n->sp)
		return;
	struct storage_proxy_stats ss;
	storage_proxy_get_stats(n->sp, &ss);
	node_loops_sp_stats(n, &ss); /* what the request loops coordinated */
	static const struct metric_def defs[] = {
	        {M_COUNTER, "colonnade_replicated_writes_total", "Writes coordinated to replicas."},
	        {M_COUNTER, "colonnade_replicated_write_timeouts_total",
	         "Coordinated writes that timed out."},
	        {M_COUNTER, "colonnade_replicated_reads_total", "Reads coordinated to replicas."},
	        {M_COUNTER, "colonnade_replicated_read_timeouts_total",
	         "Coordinated reads that timed out."},
	        {M_COUNTER, "colonnade_replicated_unavailables_total",
	         "Coordinated requests refused as Unavailable."},
	        {M_COUNTER, "colonnade_read_repairs_total", "Read-repair mutations sent."},
	        {M_COUNTER, "colonnade_digest_mismatches_total",
	         "Reads whose replicas' digests disagreed (full data read and resolved)."},
	        {M_COUNTER, "colonnade_speculative_retries_total",
	         "Extra replicas asked in place of one slower than the table's speculative_retry."},
	        {M_COUNTER, "colonnade_index_read_fallbacks_total",
	         "Indexed range read steps read again without the index: replicas disagreed."},
	        {M_GAUGE, "colonnade_replicated_in_flight", "Coordinated requests in flight."},
	        {M_GAUGE, "colonnade_coordinator_read_states",
	         "Coordinated read states allocated (in flight or idle in the pools)."},
	        {M_GAUGE, "colonnade_coordinator_read_states_idle",
	         "Coordinated read states idle in the pools (trimmed after a burst)."},
	        {M_GAUGE, "colonnade_coordinator_write_states",
	         "Coordinated write states allocated (in flight or idle in the pools)."},
	        {M_GAUGE, "colonnade_coordinator_write_states_idle",
	         "Coordinated write states idle in the pools (trimmed after a burst)."},
	        {M_GAUGE, "colonnade_coordinator_state_bytes",
	         "Bytes of the coordinator's request states (not the answers' buffers they "
	         "hold)."},
	        {M_GAUGE, "colonnade_coordinator_mutation_bytes",
	         "Bytes of mutation copies held for writes in flight (kept to hint them) and "
	         "for forwarded mutations, all request loops."},
	        {M_GAUGE, "colonnade_coordinator_mutation_bytes_limit",
	         "The bound of those bytes, all request loops (max_coordinated_mutation_bytes "
	         "each)."},
	        {M_COUNTER, "colonnade_coordinator_mutation_bytes_refused_total",
	         "Writes refused Overloaded, and forwards that kept no copy, because the "
	         "mutation bytes were at their bound."},
	};
	const double v[] = {
	        (double)ss.writes,
	        (double)ss.write_timeouts,
	        (double)ss.reads,
	        (double)ss.read_timeouts,
	        (double)ss.unavailables,
	        (double)ss.read_repairs,
	        (double)ss.digest_mismatches,
	        (double)ss.speculative_retries,
	        (double)ss.index_fallbacks,
	        (double)ss.in_flight,
	        (double)ss.read_states,
	        (double)ss.read_states_idle,
	        (double)ss.write_states,
	        (double)ss.write_states_idle,
	        (double)ss.state_bytes,
	        (double)ss.mutation_bytes,
	        (double)ss.mutation_bytes_max,
	        (double)ss.mutation_bytes_refused,
	};
	METRICS(out, defs, v);
}

static void m_histogram(struct buf *out, const char *name, const char *label, const char *help,
                        const uint64_t *b, uint64_t sum_us, uint64_t count);

/* The replica side of replication (verbs.h). */
static void m_replica(struct buf *out, struct node *n)
{
	if (!n->verbs)
		return;
	struct verbs_stats vs;
	verbs_get_stats(n->verbs, &vs);
	static const struct metric_def defs[] = {
	        {M_COUNTER, "colonnade_replica_mutations_total",
	         "Mutations applied for coordinators."},
	        {M_COUNTER, "colonnade_replica_mutation_failures_total",
	         "Mutations refused (malformed, unknown table, store error)."},
	        {M_COUNTER, "colonnade_replica_reads_total",
	         "Reads served for coordinators (data, digest, range)."},
	        {M_COUNTER, "colonnade_replica_mutations_shed_total",
	         "Mutations dropped unapplied: they had waited longer than the write timeout "
	         "in the socket (their coordinator hinted them)."},
	        {M_COUNTER, "colonnade_replica_reads_shed_total",
	         "Reads dropped unserved: they had waited longer than the read timeout in the "
	         "socket."},
	};
	const double v[] = {
	        (double)vs.mutations,
	        (double)vs.mutation_fails,
	        (double)(vs.reads + vs.digests + vs.range_reads),
	        (double)vs.mutations_shed,
	        (double)vs.reads_shed,
	};
	METRICS(out, defs, v);
	m_histogram(out, "colonnade_replica_mutation_wait_seconds", "verb=\"MUTATION\"",
	            "MUTATIONs read from coordinators, by the time they had waited in the socket "
	            "before this node read them (plaintext connections).",
	            vs.mutation_wait_buckets, vs.mutation_wait_sum_us, vs.mutation_wait_count);
}

/* This endpoint's own cost. */
static void m_admin(struct buf *out, struct node *n)
{
	struct admin_stats as;
	admin_get_stats(n->admin, &as);
	static const struct metric_def defs[] = {
	        {M_COUNTER, "colonnade_admin_requests_total", "Admin HTTP requests."},
	        {M_COUNTER, "colonnade_admin_handler_seconds_total",
	         "Time spent answering admin requests."},
	        {M_COUNTER, "colonnade_admin_refused_total",
	         "Admin requests for stored data or a state change refused: no or a wrong token."},
	        {M_COUNTER, "colonnade_admin_header_timeouts_total",
	         "Admin connections cut because their request head was late."},
	        {M_GAUGE, "colonnade_admin_connections", "Open admin HTTP connections."},
	};
	const double v[] = {
	        (double)as.requests,        (double)as.handler_us / 1e6, (double)as.refused,
	        (double)as.header_timeouts, (double)as.open_conns,
	};
	METRICS(out, defs, v);
}

/* PasswordAuthenticator logins (zero with AllowAllAuthenticator). */
static void m_auth(struct buf *out, struct node *n)
{
	struct auth_stats as = {0};
	if (n->auth)
		auth_get_stats(n->auth, &as);
	static const struct metric_def defs[] = {
	        {M_COUNTER, "colonnade_auth_successes_total", "CQL logins that succeeded."},
	        {M_COUNTER, "colonnade_auth_failures_total",
	         "CQL logins refused: wrong password, unknown role or a malformed token."},
	        {M_COUNTER, "colonnade_auth_throttled_total",
	         "CQL logins refused without checking: too many failures from that address."},
	        {M_COUNTER, "colonnade_auth_cache_hits_total",
	         "Logins answered from the credentials cache (no password hash)."},
	        {M_COUNTER, "colonnade_auth_hashes_total",
	         "argon2id computations (password checks and new passwords)."},
	        {M_COUNTER, "colonnade_auth_busy_total",
	         "CQL logins refused because the password threads' queue was full."},
	};
	const double v[] = {(double)as.successes,  (double)as.failures, (double)as.throttled,
	                    (double)as.cache_hits, (double)as.hashes,   (double)as.busy};
	METRICS(out, defs, v);
}

/* A Prometheus histogram over net_iter_bounds_us (`b`: per bucket, not cumulative);
 * `help` NULL for a further labelled series of one already described. */
static void m_histogram(struct buf *out, const char *name, const char *label, const char *help,
                        const uint64_t *b, uint64_t sum_us, uint64_t count)
{
	if (help) /* NULL: another series of a histogram already described */
		buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	const char *sep = *label ? "," : "";
	uint64_t cum = 0;
	for (size_t i = 0; i < NET_ITER_BUCKETS; i++) {
		cum += b[i];
		if (i < NET_ITER_BUCKETS - 1)
			buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, label, sep,
			           (double)net_iter_bounds_us[i] / 1e6, (unsigned long long)cum);
		else
			buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, label, sep,
			           (unsigned long long)cum);
	}
	const char *open = *label ? "{" : "", *close = *label ? "}" : "";
	buf_printf(out, "%s_sum%s%s%s %.6f\n%s_count%s%s%s %llu\n", name, open, label, close,
	           (double)sum_us / 1e6, name, open, label, close, (unsigned long long)count);
}

/* The main loop's iterations by busy time (wake-up to sleep), a Prometheus histogram. */
static void m_loop_iterations(struct buf *out, const struct net_loop_stats *ns)
{
	m_histogram(out, "colonnade_net_loop_iteration_seconds", "loop=\"main\"",
	            "Busy time of each iteration of the main event loop, from waking up to "
	            "waiting again: how long a request can wait behind other work.",
	            ns->iter_buckets, ns->iter_busy_us, ns->iter_count);
	static const struct metric_def max_def[] = {
	        {M_GAUGE, "colonnade_net_loop_iteration_max_seconds",
	         "Longest busy iteration of the main event loop since the node started."},
	};
	const double v[] = {(double)ns->iter_max_us / 1e6};
	METRICS(out, max_def, v);
}

/* Every TCP connection of the node's loop (core/net.h). */
static void m_net(struct buf *out, struct node *n)
{
	struct net_loop_stats ns;
	net_loop_get_stats(n->net, &ns);
	static const struct metric_def defs[] = {
	        {M_GAUGE, "colonnade_net_connections",
	         "Open TCP connections (CQL clients and internode)."},
	        {M_COUNTER, "colonnade_net_bytes_received_total", "Bytes read from sockets."},
	        {M_COUNTER, "colonnade_net_bytes_sent_total", "Bytes written to sockets."},
	        {M_COUNTER, "colonnade_net_frames_received_total", "Frames received."},
	        {M_COUNTER, "colonnade_net_flushes_total", "write(2) calls (coalesced frames)."},
	        {M_GAUGE, "colonnade_net_send_queue_bytes",
	         "Output bytes queued on all connections."},
	        {M_COUNTER, "colonnade_net_writes_refused_total",
	         "Writes refused because a connection's send queue was full."},
	        {M_COUNTER, "colonnade_net_bad_input_closes_total",
	         "Connections closed for oversized or malformed frames."},
	        {M_COUNTER, "colonnade_net_loop_idle_seconds_total",
	         "Time the event loop waited for events (the rest of the time it was busy)."},
	        {M_COUNTER, "colonnade_net_loop_cpu_wait_seconds_total",
	         "Time the event loop's thread was ready to run but waited for a core (the "
	         "kernel's run-queue delay; part of the busy time on a shared machine)."},
	        {M_COUNTER, "colonnade_net_loop_stalls_total",
	         "Event loop iterations that ran 200 ms or more without waiting for events "
	         "(each logged, at most one line per 10 s)."},
	        {M_COUNTER, "colonnade_net_loop_stall_seconds_total", "Their time."},
	        {M_COUNTER, "colonnade_net_loop_stall_cpu_wait_seconds_total",
	         "Of their time, what the loop's thread spent waiting for a core."},
	        {M_COUNTER, "colonnade_net_loop_coalescing_iterations_total",
	         "Iterations of the main event loop run with io_coalescing_window_us applied "
	         "(frames were coming fast; libev skips the wait when a timer is due within "
	         "1 ms)."},
	};
	const double v[] = {
	        (double)ns.conns_open,
	        (double)ns.bytes_in,
	        (double)ns.bytes_out,
	        (double)ns.frames_in,
	        (double)ns.flushes,
	        (double)ns.queued,
	        (double)ns.writes_refused,
	        (double)(ns.oversized + ns.proto_errors),
	        (double)ns.idle_us / 1e6,
	        (double)ns.runq_us / 1e6,
	        (double)ns.stalls,
	        (double)ns.stall_us / 1e6,
	        (double)ns.stall_runq_us / 1e6,
	        (double)ns.coalescing_iters,
	};
	METRICS(out, defs, v);
	m_loop_iterations(out, &ns);
}

/* Gossip rounds and the failure detector (gossip/gossiper.h). */
static void m_gossip(struct buf *out, struct node *n)
{
	if (!n->gossiper)
		return;
	struct gossiper_stats gs;
	gossiper_get_stats(n->gossiper, &gs);
	static const struct metric_def defs[] = {
	        {M_COUNTER, "colonnade_gossip_rounds_total", "Gossip rounds run."},
	        {M_COUNTER, "colonnade_gossip_bytes_sent_total",
	         "Gossip payload bytes sent (SYN, ACK, ACK2)."},
	        {M_COUNTER, "colonnade_gossip_syn_received_total", "GOSSIP_SYN received."},
	        {M_COUNTER, "colonnade_gossip_convictions_total",
	         "Endpoints convicted by the failure detector."},
	        {M_COUNTER, "colonnade_gossip_local_pauses_total",
	         "Rounds where a local pause suspended convictions."},
	        {M_GAUGE, "colonnade_gossip_endpoints", "Endpoints known, this one included."},
	        {M_GAUGE, "colonnade_gossip_live_endpoints", "Peers currently UP."},
	        {M_GAUGE, "colonnade_gossip_round_gap_max_seconds",
	         "Longest interval between two gossip rounds (own heartbeats) since start."},
	};
	const double v[] = {
	        (double)gs.rounds,
	        (double)gs.bytes_out,
	        (double)gs.syn_in,
	        (double)gs.convictions,
	        (double)gs.local_pauses,
	        (double)gossiper_endpoint_count(n->gossiper),
	        (double)gossiper_live_count(n->gossiper),
	        (double)gs.round_gap_max_us / 1e6,
	};
	METRICS(out, defs, v);
}

/* Internode messages (gossip/messaging.h), with the send queue per peer. */
static void m_messaging(struct buf *out, struct node *n)
{
	if (!n->msg)
		return;
	struct messaging_stats ms;
	messaging_get_stats(n->msg, &ms);
	node_loops_msg_stats(n, &ms); /* the request loops' own connections */
	static const struct metric_def defs[] = {
	        {M_COUNTER, "colonnade_messaging_messages_received_total",
	         "Internode messages received."},
	        {M_COUNTER, "colonnade_messaging_messages_sent_total", "Internode messages sent."},
	        {M_COUNTER, "colonnade_messaging_timeouts_total",
	         "Internode requests that timed out."},
	        {M_COUNTER, "colonnade_messaging_dropped_total",
	         "Internode messages dropped (queue full or lost connection)."},
	        {M_COUNTER, "colonnade_messaging_refused_handshakes_total",
	         "Handshakes refused (other cluster or version)."},
	        {M_COUNTER, "colonnade_messaging_bad_frames_total",
	         "Inbound connections closed for malformed input."},
	        {M_GAUGE, "colonnade_messaging_send_queue_bytes",
	         "Internode bytes queued, all peers."},
	};
	const double v[] = {
	        (double)ms.msgs_in,      (double)ms.msgs_out,           (double)ms.timeouts,
	        (double)ms.dropped,      (double)ms.refused_handshakes, (double)ms.bad_frames,
	        (double)ms.queued_bytes,
	};
	METRICS(out, defs, v);
	buf_printf(out, "# HELP colonnade_messaging_peer_send_queue_bytes Internode bytes "
	                "queued per peer.\n# TYPE "
	                "colonnade_messaging_peer_send_queue_bytes gauge\n");
	messaging_foreach_peer(n->msg, peer_queue_metric, out);
}

/* The CQL native-protocol server (transport/cqlserver.h). */
static void m_cql(struct buf *out, struct node *n)
{
	if (!n->cql)
		return;
	struct cqlserver_stats cs;
	cqlserver_get_stats(n->cql, &cs);
	node_loops_cql_stats(n, &cs); /* the request loops' servers, published twice a second */
	static const struct metric_def defs[] = {
	        {M_GAUGE, "colonnade_cql_connections", "Open CQL client connections."},
	        {M_COUNTER, "colonnade_cql_requests_total", "CQL frames handled."},
	        {M_COUNTER, "colonnade_cql_errors_total", "CQL ERROR responses sent."},
	        {M_COUNTER, "colonnade_cql_protocol_errors_total",
	         "CQL connections closed for bad frames."},
	        {M_GAUGE, "colonnade_cql_inflight_requests", "CQL requests being executed."},
	        {M_COUNTER, "colonnade_cql_overloaded_total",
	         "CQL requests refused with Overloaded (admission limit reached)."},
	        {M_COUNTER, "colonnade_cql_overload_pauses_total",
	         "CQL connections stopped being read because the admission limit was reached."},
	        {M_GAUGE, "colonnade_cql_overload_paused_connections",
	         "CQL connections not read now because the admission limit is reached."},
	        {M_GAUGE, "colonnade_cql_admit_limit",
	         "CQL requests admitted in flight now (adaptive limit or the hard cap)."},
	        {M_GAUGE, "colonnade_cql_admit_target_limit",
	         "CQL requests admitted in flight now from clients that take Overloaded "
	         "(what the node gets done within its latency target)."},
	        {M_COUNTER, "colonnade_cql_queue_wait_refused_total",
	         "Of the Overloaded answers: requests that had waited longer than "
	         "native_transport_max_queue_wait in the socket."},
	        {M_COUNTER, "colonnade_cql_mutation_bytes_refused_total",
	         "Of the Overloaded answers: requests refused because the request loop's "
	         "mutation bytes in flight were at their mark."},
	};
	const double v[] = {
	        (double)cs.conns_open,         (double)cs.requests,        (double)cs.errors,
	        (double)cs.protocol_errors,    (double)cs.inflight,        (double)cs.overloaded,
	        (double)cs.overload_pauses,    (double)cs.overload_paused, (double)cs.admit_limit,
	        (double)cs.admit_target_limit, (double)cs.queue_expired,   (double)cs.bytes_refused,
	};
	METRICS(out, defs, v);
	for (int k = 0; k < 2; k++)
		m_histogram(out, "colonnade_cql_queue_wait_seconds",
		            k ? "takes_overloaded=\"true\"" : "takes_overloaded=\"false\"",
		            k ? NULL
		              : "CQL QUERY, EXECUTE and BATCH requests run, by the time they had "
		                "waited in the socket before the node read them (plaintext "
		                "connections), from clients that take Overloaded or not.",
		            cs.wait_buckets[k], cs.wait_sum_us[k], cs.wait_count[k]);
}

/* Client request latency per operation and per table (reqmetrics.h). */
static void m_requests(struct buf *out, struct node *n)
{
	if (n->router)
		reqmetrics_prometheus(router_metrics(n->router), out);
}

int node_h_metrics(void *ctx, const char *query, struct buf *out, const char **ctype)
{
	(void)query;
	static void (*const parts[])(struct buf *, struct node *) = {
	        m_node,
	        m_process,
	        m_storage,
	        m_storage_writes,
	        m_storage_background,
	        m_storage_memory,
	        m_ring,
	        m_schema,
	        m_proxy,
	        m_requests,
	        m_coordinated,
	        m_replica,
	        m_index,
	        m_admin,
	        m_auth,
	        m_net,
	        m_gossip,
	        m_messaging,
	        m_cql,
	        node_hints_metrics,
	        node_repair_metrics,
	        m_batchlog,
	        m_traces,
	};
	*ctype = "text/plain; version=0.0.4; charset=utf-8";
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		parts[i](out, ctx);
	return 200;
}
