/*
 * libFuzzer target: the TLS-wrapped CQL frame path.  Sessions run over memory
 * BIOs (core/tls.h), with certificates made at start-up (tests/unit/tls_testcert.h).
 * The first byte picks what the rest is:
 *
 *   0  raw bytes a client sends to a fresh server session: ClientHello and
 *      record parsing, handshake failures; nothing may be delivered as data.
 *   1  plaintext a connected client sends (after a STARTUP frame): encrypted
 *      by the client session, handed to the server in pieces whose sizes come
 *      from the input (torn records), decrypted, run through the CQL server
 *      (cqlserver_feed, as fuzz_coordinator_frame does) and the answers sent
 *      back the same way.  What the server decrypts must be exactly what was
 *      sent, and what the client decrypts exactly what the server answered.
 *   2  the same, with one byte of the ciphertext flipped (position and bits
 *      from the input) on a fresh session pair: the server must refuse the
 *      record, never deliver altered data.
 */
#include "coordinator/query/systables.h"
#include "coordinator/replication/router.h"
#include "coordinator/schema/schema.h"
#include "coordinator/transport/cqlserver.h"
#include "core/buf.h"
#include "core/cqlproto.h"
#include "core/log.h"
#include "core/tls.h"
#include "storage/storage.h"
#include "tests/unit/local_view.h"
#include "tests/unit/tls_testcert.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct cqlserver *srv;
static struct tls_ctx *server_ctx, *client_ctx;
static struct tls_conn *pc, *ps; /* the connected pair modes 1 reuses */
static struct buf startup;
static char dir[] = "/tmp/colonnade-fuzz-tls-XXXXXX";
static uint8_t chunk[1 << 16];

static void remove_dir(void)
{
	char cmd[sizeof(dir) + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static const struct cluster_view view = LOCAL_VIEW("fuzz");

/* Move what `from` has to send into `to`, in pieces of the sizes `sizes` cycles through. */
static void pump(struct tls_conn *from, struct tls_conn *to, const uint8_t *sizes, size_t ns)
{
	size_t n, i = 0;
	while ((n = tls_conn_bio_take(from, chunk, sizeof(chunk))) > 0) {
		for (size_t off = 0; off < n;) {
			size_t piece = ns ? 1 + (size_t)sizes[i++ % ns] * 5 : n;
			if (piece > n - off)
				piece = n - off;
			if (tls_conn_bio_put(to, chunk + off, piece) != 0)
				abort();
			off += piece;
		}
	}
}

static bool connect_pair(struct tls_conn **c, struct tls_conn **s)
{
	*c = tls_conn_new_mem(client_ctx);
	*s = tls_conn_new_mem(server_ctx);
	if (!*c || !*s)
		abort();
	for (int round = 0; round < 8; round++) {
		int rc = tls_conn_handshake(*c), rs;
		pump(*c, *s, NULL, 0);
		rs = tls_conn_handshake(*s);
		pump(*s, *c, NULL, 0);
		if (rc == TLS_OK && rs == TLS_OK)
			return true;
		if (rc == TLS_ERROR || rs == TLS_ERROR)
			return false;
	}
	return tls_conn_handshake(*c) == TLS_OK && tls_conn_established(*s);
}

/* Read everything `t` can decrypt now into out; false on a TLS failure. */
static bool drain(struct tls_conn *t, struct buf *out)
{
	for (;;) {
		ssize_t n = tls_conn_read(t, chunk, sizeof(chunk));
		if (n > 0) {
			buf_put(out, chunk, (size_t)n);
			continue;
		}
		return n == TLS_WANT_READ;
	}
}

static void send_all(struct tls_conn *t, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = tls_conn_write(t, p, len);
		if (n <= 0)
			abort(); /* memory BIOs always take it */
		p += n;
		len -= (size_t)n;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	if (!mkdtemp(dir) || tls_testcerts_make(dir, "127.0.0.1") != 0)
		abort();
	atexit(remove_dir);
	char cert[128], key[128], ca[128];
	snprintf(cert, sizeof(cert), "%s/leaf.pem", dir);
	snprintf(key, sizeof(key), "%s/leaf.key", dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	struct tls_options so = {.certificate = cert, .private_key = key, .what = "fuzz"};
	struct tls_options co = {.truststore = ca, .what = "fuzz"};
	struct cerr e = {0};
	if (tls_ctx_new(&so, TLS_SERVER, &server_ctx, &e) ||
	    tls_ctx_new(&co, TLS_CLIENT, &client_ctx, &e) || !connect_pair(&pc, &ps)) {
		fprintf(stderr, "fuzz setup: %s\n", e.msg);
		abort();
	}
	struct store_options o;
	store_options_init(&o);
	o.data_dir = dir;
	struct store *st;
	struct schema *sch;
	struct router *px;
	if (store_open(&o, &st, &e) || schema_open(st, &sch, &e) ||
	    router_new_local(st, "datacenter1", &px))
		abort();
	struct cqlserver_options qo = {.max_frame_size = 1 << 20, .prepared_cache_max = 64};
	struct cqlserver_deps d = {.schema = sch, .store = st, .router = px, .view = &view};
	if (cqlserver_new_detached(&qo, &d, &srv, &e))
		abort();
	buf_init(&startup);
	size_t f = cql_frame_begin(&startup, CQLPROTO_VERSION, 0, 0, CQL_OP_STARTUP);
	const char *k[] = {"CQL_VERSION"}, *v[] = {"3.0.0"};
	cql_put_string_map(&startup, k, v, 1);
	cql_frame_end(&startup, f);
	return 0;
}

/* Mode 0: raw client bytes into a fresh server session. */
static void raw_records(const uint8_t *data, size_t size)
{
	struct tls_conn *s = tls_conn_new_mem(server_ctx);
	if (!s || tls_conn_bio_put(s, data, size) != 0)
		abort();
	if (tls_conn_handshake(s) == TLS_OK) {
		struct buf got;
		buf_init(&got);
		(void)drain(s, &got);
		buf_release(&got);
	}
	while (tls_conn_bio_take(s, chunk, sizeof(chunk)) > 0)
		;
	tls_conn_free(s);
}

/* Modes 1 and 2: plaintext through client -> server -> cqlserver -> server -> client. */
static void frame_path(struct tls_conn *c, struct tls_conn *s, const uint8_t *data, size_t size,
                       bool tamper)
{
	struct buf in, got, out, back;
	buf_init(&in);
	buf_init(&got);
	buf_init(&out);
	buf_init(&back);
	buf_put(&in, startup.data, startup.len);
	buf_put(&in, data, size);
	send_all(c, in.data, in.len);
	if (tamper) {
		size_t n = tls_conn_bio_take(c, chunk, sizeof(chunk));
		if (n && size >= 2)
			chunk[(data[0] | (size_t)data[1] << 8) % n] ^=
			        (uint8_t)(data[size - 1] | 1);
		if (tls_conn_bio_put(s, chunk, n) != 0)
			abort();
	}
	pump(c, s, data, size < 8 ? size : 8);
	bool ok = drain(s, &got);
	/* decrypted bytes are always a prefix of what was sent: never altered data */
	if (got.len > in.len || (got.len && memcmp(got.data, in.data, got.len) != 0))
		abort();
	if (!tamper && (!ok || got.len != in.len))
		abort();
	if (ok && got.len) {
		cqlserver_feed(srv, got.data, got.len, &out);
		if (out.len) {
			send_all(s, out.data, out.len);
			pump(s, c, NULL, 0);
			if (!drain(c, &back) || back.len != out.len ||
			    (out.len && memcmp(back.data, out.data, out.len) != 0))
				abort();
		}
	}
	buf_release(&in);
	buf_release(&got);
	buf_release(&out);
	buf_release(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	uint8_t mode = data[0] % 3;
	data++;
	size--;
	if (mode == 0) {
		raw_records(data, size);
	} else if (mode == 1) {
		frame_path(pc, ps, data, size, false);
	} else {
		struct tls_conn *c, *s;
		if (connect_pair(&c, &s))
			frame_path(c, s, data, size, true);
		tls_conn_free(c);
		tls_conn_free(s);
	}
	return 0;
}
