/*
 * The coordinator's verbs on the wire: their numbers never change (a node
 * of another build must understand them), and the modules that own them
 * register them on messaging under their names without colliding.
 */
#include "coordinator/replication/verbs.h"
#include "coordinator/schema/schema_sync.h"
#include "core/msgpk.h"
#include "gossip/messaging.h"
#include "storage/storage.h"

#include <criterion/criterion.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(verb_table, numbers_are_pinned)
{
	cr_expect_eq(VERB_MUTATION, 10);
	cr_expect_eq(VERB_MUTATION_RSP, 11);
	cr_expect_eq(VERB_READ, 12);
	cr_expect_eq(VERB_READ_RSP, 13);
	cr_expect_eq(VERB_SCHEMA_PUSH, 16);
	cr_expect_eq(VERB_SCHEMA_PULL, 17);
	cr_expect_eq(VERB_SCHEMA_PULL_RSP, 18);
	/* And a MUTATION frame carries that number as its first body field. */
	struct msg_codec c;
	cr_assert_eq(msg_codec_init(&c, 0, 0), 0);
	struct buf b;
	buf_init(&b);
	size_t mark = msg_frame_begin(&b, VERB_MUTATION, 3);
	msgpk_put_nil(&b);
	cr_assert_eq(msg_frame_end(&c, &b, mark, 0), 0);
	static const uint8_t want[] = {0, 0, 0, 5, 0x00, 0x93, 0x0a, 0x03, 0xc0};
	cr_assert_eq(b.len, sizeof(want));
	cr_expect(memcmp(b.data, want, sizeof(want)) == 0);
	buf_release(&b);
	msg_codec_release(&c);
}

Test(verb_table, replication_verbs_register_by_name)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct net_loop *nl;
	cr_assert_eq(net_loop_new(loop, &nl), 0);
	const char *net = getenv("COLONNADE_TEST_NET");
	char host[64];
	snprintf(host, sizeof(host), "%s.1", net && *net ? net : "127.0.0");
	struct messaging_config mc = {.cluster_name = "verbs"};
	memset(mc.host_id.b, 7, HOST_ID_LEN);
	cr_assert_eq(net_addr_parse(host, 0, &mc.listen, NULL), 0);
	struct messaging *m;
	struct cerr e = {0};
	cr_assert_eq(messaging_new(nl, &mc, &m, &e), 0, "%s", e.msg);
	char dir[] = "/tmp/colonnade-verbtable-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	struct store_options so;
	store_options_init(&so);
	so.data_dir = dir;
	so.block_cache_bytes = 8u << 20;
	so.write_buffer_bytes = 1u << 20;
	struct store *st;
	cr_assert_eq(store_open(&so, &st, &e), 0, "%s", e.msg);
	struct verbs *v;
	cr_assert_eq(verbs_new(&(struct verbs_config){.msg = m, .store = st}, &v, &e), 0, "%s",
	             e.msg);
	char vs[16];
	cr_expect_str_eq(messaging_verb_name(m, VERB_MUTATION, vs, sizeof(vs)), "MUTATION");
	cr_expect_str_eq(messaging_verb_name(m, VERB_READ_RSP, vs, sizeof(vs)), "READ_RSP");
	/* Another module claiming a replication number under another name is refused. */
	static const struct messaging_verb other[] = {{VERB_READ, "NOT_READ", NULL}};
	cr_expect_eq(messaging_register_verbs(m, other, 1, NULL), COL_EEXIST);
	messaging_free(m);
	verbs_free(v);
	store_close(st);
	net_loop_free(nl);
	ev_loop_destroy(loop);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}
