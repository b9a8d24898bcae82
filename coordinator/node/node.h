/*
 * node.h — one Colonnade node: everything `colonnade server` runs.
 *
 * Nothing but the `colonnade server` subcommand and tests uses it.
 *
 * A struct node owns, for the life of the process, every piece of a running
 * node and wires them together; no module keeps global mutable state, so
 * everything a node has is reachable from here (docs/ARCHITECTURE.md):
 *
 *   config       the effective configuration (a copy the node owns)
 *   loop         the main libev loop: internode messaging, gossip, request
 *                coordination and storage, a CQL server and admin HTTP all run
 *                on it; io_threads - 1 request loops (node_loops.c) serve more
 *                CQL clients and hand it their storage work
 *                (docs/ARCHITECTURE.md, Threads)
 *   store        the RocksDB data directory (storage/), holding in its system
 *                column family the host id, tokens and last generation
 *   messaging    internode connections on listen_address:storage_port
 *   gossiper     membership, failure detection (gossip/)
 *   cqlserver    native protocol on rpc_address:native_transport_port
 *   admin        HTTP JSON + /metrics on listen_address:admin_port
 *
 * Start-up order: storage (identity: host id and tokens created at first boot,
 * generation = wall seconds, always above the one persisted), messaging,
 * gossip, CQL server, admin.  Shutdown (SIGTERM/SIGINT, or node_stop()) runs
 * in reverse: stop accepting clients, announce shutdown to peers, stop
 * gossip, flush and close storage.  Any start-up failure is logged with its
 * reason and node_main() returns 1.
 *
 * Threading: all of the node's state is touched only on its main loop's thread;
 * the request loops reach it only through mailboxes (core/mailbox.h).
 * Signals reach the loop through libev's ev_signal (the only process-wide
 * state is libev's signal plumbing).
 */
#ifndef COLONNADE_COORDINATOR_NODE_H
#define COLONNADE_COORDINATOR_NODE_H

#include "core/config.h"
#include "core/err.h"
#include "core/version.h"

typedef struct node node;

/*
 * Open storage, load or create the node's identity, bind every port and
 * start gossip.  `cfg` must have passed config_finish(); it is copied (by
 * reference to its strings: keep `cfg` alive until node_free()).  0, or a
 * COL_E* code with the reason in err (COL_ELOCKED: the data directory is
 * held by another process; COL_EIO: a port is taken; ...).
 */
int node_new(const struct config *cfg, struct node **out, struct cerr *err);

/*
 * Run the loop until SIGTERM/SIGINT or node_stop().  Installs the signal
 * watchers for the duration of the call.  Returns 0.
 */
int node_run(struct node *n);

/* Ask the loop to return (callable from the loop's thread, e.g. a test). */
void node_stop(struct node *n);

/* Clean shutdown and free.  NULL is fine. */
void node_free(struct node *n);

/*
 * `colonnade server`: node_new + node_run + node_free with the log lines an
 * operator expects.  Returns the process exit status (0 clean, 1 failure).
 */
int node_main(const struct config *cfg);

#endif
