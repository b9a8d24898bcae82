/*
 * libFuzzer target: bytes from a client connection, through the CQL server's
 * whole request path (framing, version check, handshake state machine,
 * STARTUP/REGISTER/QUERY/PREPARE/EXECUTE/BATCH decoding, the cqlish parser,
 * the executor, the tracing flag's session and events) against a real store in a
 * temp directory.
 *
 * Each input is one connection.  To reach past the handshake, an input whose
 * first byte is odd is preceded by a valid STARTUP frame.  A few statements
 * create a keyspace and a table at start-up so that inputs can hit real data.
 */
#include "coordinator/transport/cqlserver.h"
#include "coordinator/replication/router.h"
#include "coordinator/schema/schema.h"
#include "coordinator/query/systables.h"
#include "coordinator/tracing/trace.h"
#include "core/buf.h"
#include "core/cqlproto.h"
#include "core/log.h"
#include "storage/storage.h"
#include "tests/unit/local_view.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct cqlserver *srv;
static struct buf startup;

/* Traced requests' traces: built as for a node, then dropped (nothing writes them here). */
static void drop_trace(void *ctx, struct trace *t)
{
	(void)ctx;
	trace_discard(t);
	trace_unref(t);
}

static struct trace_sink sink = {.submit = drop_trace, .host = "127.0.0.1", .port = 7000};
static char dir[] = "/tmp/colonnade-fuzz-frame-XXXXXX";

/* The store stays open until exit (libFuzzer never returns); its files go then. */
static void remove_dir(void)
{
	char cmd[sizeof(dir) + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static const struct cluster_view view = LOCAL_VIEW("fuzz");

static void query_frame(struct buf *b, const char *q)
{
	size_t f = cql_frame_begin(b, CQLPROTO_VERSION, 0, 1, CQL_OP_QUERY);
	cql_put_long_string(b, q, strlen(q));
	cql_put_short(b, CL_ONE);
	cql_put_byte(b, 0);
	cql_frame_end(b, f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	if (!mkdtemp(dir))
		abort();
	atexit(remove_dir);
	struct cerr e = {0};
	struct store_options o;
	store_options_init(&o);
	o.data_dir = dir;
	struct store *st;
	struct schema *sch;
	struct router *px;
	if (store_open(&o, &st, &e) || schema_open(st, &sch, &e) ||
	    router_new_local(st, "datacenter1", &px)) {
		fprintf(stderr, "fuzz setup: %s\n", e.msg);
		abort();
	}
	struct cqlserver_options co = {.max_frame_size = 1 << 20, .prepared_cache_max = 64};
	struct cqlserver_deps d = {
	        .schema = sch, .store = st, .router = px, .view = &view, .tracing = &sink};
	if (cqlserver_new_detached(&co, &d, &srv, &e))
		abort();
	buf_init(&startup);
	size_t f = cql_frame_begin(&startup, CQLPROTO_VERSION, 0, 0, CQL_OP_STARTUP);
	const char *k[] = {"CQL_VERSION"}, *v[] = {"3.0.0"};
	cql_put_string_map(&startup, k, v, 1);
	cql_frame_end(&startup, f);
	struct buf setup, out;
	buf_init(&setup);
	buf_init(&out);
	buf_put(&setup, startup.data, startup.len);
	query_frame(&setup, "CREATE KEYSPACE IF NOT EXISTS f WITH replication = {'class': "
	                    "'SimpleStrategy', 'replication_factor': 1}");
	query_frame(&setup, "CREATE TABLE IF NOT EXISTS f.t (k int, c text, v blob, s int static, "
	                    "m map<text, int>, PRIMARY KEY (k, c))");
	query_frame(&setup, "INSERT INTO f.t (k, c, v, s, m) VALUES (1, 'a', 0x01, 7, {'x': 1})");
	cqlserver_feed(srv, setup.data, setup.len, &out);
	buf_release(&setup);
	buf_release(&out);
	/* the store, schema and router live for the whole run (libFuzzer never returns) */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf in, out;
	buf_init(&in);
	buf_init(&out);
	if (size && (data[0] & 1)) {
		buf_put(&in, startup.data, startup.len);
		data++;
		size--;
	}
	buf_put(&in, data, size);
	cqlserver_feed(srv, in.data, in.len, &out);
	/* every response is a well-formed v4 response frame */
	struct bufreader r;
	bufreader_init(&r, out.data, out.len);
	while (bufreader_left(&r)) {
		const uint8_t *h = bufreader_take(&r, CQLPROTO_HEADER_LEN);
		if (!h || h[0] != (CQLPROTO_VERSION | CQLPROTO_RESPONSE))
			abort();
		if (!bufreader_take(&r, be32_load(h + 5)))
			abort();
	}
	buf_release(&in);
	buf_release(&out);
	return 0;
}
