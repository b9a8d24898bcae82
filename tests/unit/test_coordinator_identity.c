/*
 * Node identity in the system column family: created once, kept across
 * restarts, generation always increasing; the stored layout pinned by bytes.
 */
#include "coordinator/node/identity.h"
#include "storage/storage.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/colonnade-identity-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

static struct store *open_store(void)
{
	struct store_options o;
	store_options_init(&o);
	o.data_dir = dir;
	struct store *s = NULL;
	struct cerr e = {0};
	cr_assert_eq(store_open(&o, &s, &e), 0, "%s", e.msg);
	return s;
}

TestSuite(identity, .init = setup, .fini = teardown);

Test(identity, tokens_layout_golden_bytes)
{
	const int64_t t[2] = {-2, 0x0102030405060708LL};
	uint8_t b[64];
	size_t len = 0;
	cr_assert_eq(identity_tokens_encode(t, 2, b, sizeof(b), &len), 0);
	const uint8_t want[] = {0x01,                                           /* format */
	                        0x00, 0x00, 0x00, 0x02,                         /* n */
	                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, /* -2 */
	                        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
	cr_assert_eq(len, sizeof(want));
	cr_expect_arr_eq(b, want, sizeof(want));
	int64_t back[4];
	size_t n = 0;
	cr_assert_eq(identity_tokens_decode(b, len, back, 4, &n), 0);
	cr_expect_eq(n, 2);
	cr_expect_eq(back[0], -2);
	cr_expect_eq(back[1], 0x0102030405060708LL);
}

Test(identity, tokens_decode_refuses_malformed_values)
{
	int64_t back[4];
	size_t n;
	const uint8_t bad_format[] = {2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
	cr_expect_eq(identity_tokens_decode(bad_format, sizeof(bad_format), back, 4, &n),
	             COL_ECORRUPT);
	const uint8_t short_v[] = {1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1};
	cr_expect_eq(identity_tokens_decode(short_v, sizeof(short_v), back, 4, &n), COL_ECORRUPT);
	const uint8_t too_many[] = {1, 0, 0, 0, 5};
	cr_expect_eq(identity_tokens_decode(too_many, sizeof(too_many), back, 4, &n), COL_ECORRUPT);
	const uint8_t unsorted[] = {1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1};
	cr_expect_eq(identity_tokens_decode(unsorted, sizeof(unsorted), back, 4, &n), COL_ECORRUPT);
	const uint8_t none[] = {1, 0, 0, 0, 0};
	cr_expect_eq(identity_tokens_decode(none, sizeof(none), back, 4, &n), COL_ECORRUPT);
	cr_expect_eq(identity_tokens_decode(none, 2, back, 4, &n), COL_ECORRUPT);
}

Test(identity, first_boot_then_kept)
{
	struct store *s = open_store();
	struct identity a, b;
	struct cerr e = {0};
	cr_assert_eq(identity_load(s, 16, 1000, &a, &e), 0, "%s", e.msg);
	cr_expect(a.first_boot);
	cr_expect_eq(a.n_tokens, 16);
	cr_expect_eq(a.generation, 1000);
	cr_expect_eq(a.host_id[6] >> 4, 4, "UUID version 4");
	cr_expect_eq(a.host_id[8] >> 6, 2, "IETF variant");
	for (size_t i = 1; i < a.n_tokens; i++)
		cr_expect_gt(a.tokens[i], a.tokens[i - 1], "tokens ascending and distinct");
	for (size_t i = 0; i < a.n_tokens; i++)
		cr_expect_neq(a.tokens[i], INT64_MIN);
	store_close(s);

	/* Restart with another num_tokens and a clock that went backwards. */
	s = open_store();
	cr_assert_eq(identity_load(s, 4, 900, &b, &e), 0, "%s", e.msg);
	cr_expect(!b.first_boot);
	cr_expect_arr_eq(b.host_id, a.host_id, 16);
	cr_assert_eq(b.n_tokens, 16, "tokens are kept whatever num_tokens says");
	cr_expect_arr_eq(b.tokens, a.tokens, 16 * sizeof(int64_t));
	cr_expect_eq(b.generation, 1001, "generation above the previous one");
	store_close(s);

	s = open_store();
	struct identity c;
	cr_assert_eq(identity_load(s, 16, 5000, &c, &e), 0);
	cr_expect_eq(c.generation, 5000, "the wall clock when it is ahead");
	store_close(s);
}

Test(identity, two_nodes_differ)
{
	struct store *s = open_store();
	struct identity a;
	struct cerr e = {0};
	cr_assert_eq(identity_load(s, 16, 1, &a, &e), 0);
	store_close(s);
	teardown();
	setup();
	s = open_store();
	struct identity b;
	cr_assert_eq(identity_load(s, 16, 1, &b, &e), 0);
	store_close(s);
	cr_expect(memcmp(a.host_id, b.host_id, 16) != 0);
	cr_expect(memcmp(a.tokens, b.tokens, sizeof(a.tokens[0]) * 16) != 0);
}

Test(identity, corrupt_values_refuse_to_start)
{
	struct store *s = open_store();
	struct cerr e = {0};
	cr_assert_eq(store_kv_put(s, STORE_CF_SYSTEM, "local/host_id", 13, "short", 5, &e), 0);
	struct identity a;
	cr_expect_eq(identity_load(s, 16, 1, &a, &e), COL_ECORRUPT);
	cr_expect(strstr(e.msg, "host id is 5 bytes"), "%s", e.msg);
	uint8_t id[16] = {1};
	cr_assert_eq(store_kv_put(s, STORE_CF_SYSTEM, "local/host_id", 13, id, 16, &e), 0);
	cr_expect_eq(identity_load(s, 16, 1, &a, &e), COL_ECORRUPT);
	cr_expect(strstr(e.msg, "no tokens"), "%s", e.msg);
	cr_assert_eq(store_kv_put(s, STORE_CF_SYSTEM, "local/tokens", 12, "xx", 2, &e), 0);
	cr_expect_eq(identity_load(s, 16, 1, &a, &e), COL_ECORRUPT);
	cr_expect(strstr(e.msg, "tokens are malformed"), "%s", e.msg);
	store_close(s);
}
