/* core/msgpk: canonical bytes (checked against msgpack-c) and defensive reading. */
#include "core/msgpk.h"

#include "core/err.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

static void same_as_msgpack_c(const struct buf *mine, const msgpack_sbuffer *ref)
{
	cr_assert_eq(mine->len, ref->size, "length %zu vs msgpack-c %zu", mine->len, ref->size);
	cr_assert(memcmp(mine->data, ref->data, ref->size) == 0, "bytes differ from msgpack-c");
}

Test(msgpk, integers_match_msgpack_c)
{
	static const int64_t vals[] = {
	        0,         1,  127, 128, 255,  256,  65535,  65536,  4294967295LL, 4294967296LL,
	        INT64_MAX, -1, -32, -33, -128, -129, -32768, -32769, INT32_MIN,    INT32_MIN - 1LL,
	        INT64_MIN};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		struct buf b;
		buf_init(&b);
		msgpk_put_int(&b, vals[i]);
		msgpack_sbuffer sb;
		msgpack_sbuffer_init(&sb);
		msgpack_packer pk;
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_int64(&pk, vals[i]);
		same_as_msgpack_c(&b, &sb);
		struct bufreader r;
		bufreader_init(&r, b.data, b.len);
		int64_t back;
		cr_assert_eq(msgpk_read_int(&r, &back), 0);
		cr_expect_eq(back, vals[i]);
		cr_expect_eq(bufreader_left(&r), 0);
		msgpack_sbuffer_destroy(&sb);
		buf_release(&b);
	}
	struct buf b;
	buf_init(&b);
	msgpk_put_uint(&b, UINT64_MAX);
	struct bufreader r;
	bufreader_init(&r, b.data, b.len);
	uint64_t u;
	cr_assert_eq(msgpk_read_uint(&r, &u), 0);
	cr_expect_eq(u, UINT64_MAX);
	bufreader_init(&r, b.data, b.len);
	int64_t s;
	cr_expect_eq(msgpk_read_int(&r, &s), COL_ECORRUPT, "UINT64_MAX does not fit int64");
	buf_release(&b);
}

Test(msgpk, containers_and_bytes_match_msgpack_c)
{
	struct buf b;
	buf_init(&b);
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	static char big[70000];
	memset(big, 'x', sizeof(big));
	size_t lens[] = {0, 5, 31, 32, 255, 256, 65535, 65536, 70000};
	msgpk_put_array(&b, 3 * 9 + 4);
	msgpack_pack_array(&pk, 3 * 9 + 4);
	for (size_t i = 0; i < 9; i++) {
		msgpk_put_str(&b, big, lens[i]);
		msgpack_pack_str_with_body(&pk, big, lens[i]);
		msgpk_put_bin(&b, big, lens[i]);
		msgpack_pack_bin_with_body(&pk, big, lens[i]);
		msgpk_put_map(&b, (uint32_t)lens[i] > 20 ? 0 : (uint32_t)lens[i] / 5);
		msgpack_pack_map(&pk, lens[i] > 20 ? 0 : lens[i] / 5);
		for (size_t k = 0; k < (lens[i] > 20 ? 0 : lens[i] / 5); k++) {
			msgpk_put_uint(&b, k);
			msgpack_pack_uint64(&pk, k);
			msgpk_put_nil(&b);
			msgpack_pack_nil(&pk);
		}
	}
	msgpk_put_bool(&b, true);
	msgpack_pack_true(&pk);
	msgpk_put_bool(&b, false);
	msgpack_pack_false(&pk);
	msgpk_put_double(&b, 1.5);
	msgpack_pack_double(&pk, 1.5);
	msgpk_put_array(&b, 70000);
	msgpack_pack_array(&pk, 70000);
	cr_assert(buf_ok(&b));
	same_as_msgpack_c(&b, &sb);
	/* Reading back: the last array claims 70000 elements with none present. */
	struct bufreader r;
	bufreader_init(&r, b.data, b.len);
	uint32_t n;
	cr_assert_eq(msgpk_read_array(&r, &n), 0);
	cr_assert_eq(n, 31);
	for (size_t i = 0; i < 9; i++) {
		const uint8_t *p;
		uint32_t len;
		cr_assert_eq(msgpk_read_str(&r, &p, &len), 0);
		cr_expect_eq(len, lens[i]);
		cr_assert_eq(msgpk_read_bin(&r, &p, &len), 0);
		cr_expect_eq(len, lens[i]);
		cr_assert_eq(msgpk_skip(&r, 4), 0);
	}
	bool t, f;
	double d;
	cr_assert_eq(msgpk_read_bool(&r, &t), 0);
	cr_assert_eq(msgpk_read_bool(&r, &f), 0);
	cr_expect(t && !f);
	cr_assert_eq(msgpk_read_double(&r, &d), 0);
	cr_expect_eq(d, 1.5);
	cr_expect_eq(msgpk_read_array(&r, &n), COL_ECORRUPT, "count larger than bytes left");
	cr_expect(!bufreader_ok(&r));
	msgpack_sbuffer_destroy(&sb);
	buf_release(&b);
}

Test(msgpk, golden_bytes)
{
	struct buf b;
	buf_init(&b);
	msgpk_put_array(&b, 3);
	msgpk_put_uint(&b, 1);
	msgpk_put_uint(&b, 300);
	msgpk_put_cstr(&b, "hi");
	static const uint8_t want[] = {0x93, 0x01, 0xcd, 0x01, 0x2c, 0xa2, 'h', 'i'};
	cr_assert_eq(b.len, sizeof(want));
	cr_expect(memcmp(b.data, want, sizeof(want)) == 0);
	buf_release(&b);
}

Test(msgpk, wrong_types_and_truncation_latch)
{
	static const uint8_t str[] = {0xa3, 'a', 'b'}; /* claims 3, has 2 */
	struct bufreader r;
	const uint8_t *p = NULL;
	uint32_t len = 99;
	bufreader_init(&r, str, sizeof(str));
	cr_expect_eq(msgpk_read_str(&r, &p, &len), COL_ECORRUPT);
	cr_expect_eq(len, 99, "out-parameters untouched on failure");
	static const uint8_t one[] = {0x01};
	bufreader_init(&r, one, 1);
	cr_expect_eq(msgpk_read_str(&r, &p, &len), COL_ECORRUPT);
	bufreader_init(&r, one, 1);
	uint64_t u;
	cr_expect_eq(msgpk_read_uint_max(&r, 0, &u), COL_ECORRUPT);
	static const uint8_t neg[] = {0xff};
	bufreader_init(&r, neg, 1);
	cr_expect_eq(msgpk_read_uint(&r, &u), COL_ECORRUPT);
	static const uint8_t trunc64[] = {0xcf, 0, 0, 0};
	bufreader_init(&r, trunc64, sizeof(trunc64));
	cr_expect_eq(msgpk_read_uint(&r, &u), COL_ECORRUPT);
	static const uint8_t reserved[] = {0xc1};
	bufreader_init(&r, reserved, 1);
	cr_expect_eq(msgpk_skip(&r, 4), COL_ECORRUPT);
	/* A signed encoding of a non-negative value reads as unsigned. */
	static const uint8_t d0[] = {0xd0, 0x05};
	bufreader_init(&r, d0, 2);
	cr_expect_eq(msgpk_peek(&r), MSGPK_UINT);
	cr_assert_eq(msgpk_read_uint(&r, &u), 0);
	cr_expect_eq(u, 5);
}

Test(msgpk, skip_bounds_depth)
{
	uint8_t deep[100];
	memset(deep, 0x91, sizeof(deep)); /* [[[[...]]]] */
	deep[99] = 0xc0;
	struct bufreader r;
	bufreader_init(&r, deep, sizeof(deep));
	cr_expect_eq(msgpk_skip(&r, MSGPK_MAX_DEPTH), COL_ECORRUPT);
	bufreader_init(&r, deep + 90, 10);
	cr_expect_eq(msgpk_skip(&r, MSGPK_MAX_DEPTH), 0);
	cr_expect_eq(bufreader_left(&r), 0);
	static const uint8_t ext[] = {0xd5, 0x01, 0xaa, 0xbb, 0xc0};
	bufreader_init(&r, ext, sizeof(ext));
	cr_expect_eq(msgpk_skip(&r, 1), 0);
	cr_expect_eq(msgpk_read_nil(&r), 0);
}
