/*
 * coordinator_helper_cqlnode — a single node's CQL server without gossip, for
 * the CQL server's own tests (protocol, drivers) independent of node.c.
 *
 *   coordinator_helper_cqlnode --address 127.0.2.1 --port 9042 --data DIR
 *                              [--max-frame BYTES] [--dc NAME]
 *
 * Opens the store in DIR, loads the schema, serves CQL until SIGTERM/SIGINT,
 * then closes everything cleanly.  Prints "ready" on stdout once listening.
 */
#include "coordinator/transport/cqlserver.h"
#include "coordinator/replication/router.h"
#include "coordinator/schema/schema.h"
#include "coordinator/query/systables.h"
#include "core/log.h"
#include "core/net.h"
#include "storage/storage.h"

#include <arpa/inet.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

struct view_ctx {
	struct cluster_node_info self;
	int64_t tokens[16];
};

static void view_local(void *ctx, cluster_node_emit_fn emit, void *ectx)
{
	struct view_ctx *v = ctx;
	emit(ectx, &v->self);
}

static void view_peers(void *ctx, cluster_node_emit_fn emit, void *ectx)
{
	(void)ctx;
	(void)emit;
	(void)ectx;
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
	const char *address = "127.0.0.1", *data = NULL, *dc = "datacenter1";
	int port = 9042;
	size_t max_frame = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--address") == 0)
			address = argv[i + 1];
		else if (strcmp(argv[i], "--port") == 0)
			port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--data") == 0)
			data = argv[i + 1];
		else if (strcmp(argv[i], "--max-frame") == 0)
			max_frame = (size_t)strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--dc") == 0)
			dc = argv[i + 1];
		else {
			fprintf(stderr, "unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (!data) {
		fprintf(stderr, "usage: %s --address A --port P --data DIR\n", argv[0]);
		return 2;
	}
	struct cerr err = {0};
	struct store_options so;
	store_options_init(&so);
	so.data_dir = data;
	struct store *store;
	if (store_open(&so, &store, &err)) {
		fprintf(stderr, "store: %s\n", err.msg);
		return 1;
	}
	struct schema *schema;
	if (schema_open(store, &schema, &err)) {
		fprintf(stderr, "schema: %s\n", err.msg);
		store_close(store);
		return 1;
	}
	struct router *router;
	if (router_new_local(store, dc, &router)) {
		fprintf(stderr, "router: out of memory\n");
		return 1;
	}
	struct view_ctx vc = {0};
	if (getrandom(vc.self.host_id, 16, 0) != 16)
		memset(vc.self.host_id, 7, 16);
	vc.self.host_id[6] = (uint8_t)((vc.self.host_id[6] & 0x0f) | 0x40);
	vc.self.host_id[8] = (uint8_t)((vc.self.host_id[8] & 0x3f) | 0x80);
	vc.self.dc = dc;
	vc.self.rack = "rack1";
	inet_pton(AF_INET, address, vc.self.addr);
	vc.self.addr_len = 4;
	memcpy(vc.self.rpc_addr, vc.self.addr, 4);
	vc.self.rpc_addr_len = 4;
	for (int i = 0; i < 16; i++)
		vc.tokens[i] = INT64_MIN / 16 * (8 - i) + 12345;
	vc.self.tokens = vc.tokens;
	vc.self.n_tokens = 16;
	struct cluster_view view = {
	        .ctx = &vc,
	        .cluster_name = "Test Cluster",
	        .gossip_generation = (int32_t)time(NULL),
	        .local = view_local,
	        .peers = view_peers,
	};
	struct ev_loop *loop = ev_default_loop(0);
	struct net_loop *nl;
	if (net_loop_new(loop, &nl)) {
		fprintf(stderr, "net: out of memory\n");
		return 1;
	}
	struct cqlserver_options co = {
	        .address = address, .port = (uint16_t)port, .max_frame_size = max_frame};
	struct cqlserver_deps deps = {
	        .schema = schema, .store = store, .router = router, .view = &view};
	struct cqlserver *srv;
	if (cqlserver_new(nl, &co, &deps, &srv, &err)) {
		fprintf(stderr, "cqlserver: %s\n", err.msg);
		return 1;
	}
	ev_signal sigterm, sigint;
	ev_signal_init(&sigterm, on_signal, SIGTERM);
	ev_signal_init(&sigint, on_signal, SIGINT);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigint);
	printf("ready\n");
	fflush(stdout);
	ev_run(loop, 0);
	cqlserver_free(srv);
	net_loop_free(nl);
	router_free(router);
	schema_free(schema);
	store_close(store);
	ev_loop_destroy(loop);
	return 0;
}
