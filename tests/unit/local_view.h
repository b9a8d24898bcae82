/*
 * local_view.h — the cluster view (coordinator/query/systables.h) of a node alone at
 * 127.0.0.1, in datacenter1 / rack1, with no tokens and no peers: what system.local and
 * system.peers show in tests and fuzz targets that run a CQL server without gossip.
 * Include it once, in the .c file, and declare the view with LOCAL_VIEW:
 *     static const struct cluster_view view = LOCAL_VIEW("Test Cluster");
 */
#ifndef COLONNADE_TESTS_LOCAL_VIEW_H
#define COLONNADE_TESTS_LOCAL_VIEW_H

#include "coordinator/query/systables.h"

static inline void local_view_self(void *ctx, cluster_node_emit_fn emit, void *ectx)
{
	(void)ctx;
	struct cluster_node_info n = {.dc = "datacenter1",
	                              .rack = "rack1",
	                              .addr = {127, 0, 0, 1},
	                              .addr_len = 4,
	                              .rpc_addr = {127, 0, 0, 1},
	                              .rpc_addr_len = 4};
	emit(ectx, &n);
}

static inline void local_view_no_peers(void *ctx, cluster_node_emit_fn emit, void *ectx)
{
	(void)ctx;
	(void)emit;
	(void)ectx;
}

#define LOCAL_VIEW(name)                                                                           \
	{                                                                                          \
		.cluster_name = (name), .local = local_view_self, .peers = local_view_no_peers     \
	}

#endif
