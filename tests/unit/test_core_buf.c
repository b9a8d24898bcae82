#include "core/buf.h"
#include "core/err.h"

#include <criterion/criterion.h>
#include <string.h>

Test(buf, big_endian_round_trip)
{
	struct buf b;
	buf_init(&b);
	buf_put_u8(&b, 0xab);
	buf_put_u16be(&b, 0x1234);
	buf_put_u32be(&b, 0xdeadbeef);
	buf_put_u64be(&b, 0x0102030405060708ULL);
	cr_assert(buf_ok(&b));
	cr_assert_eq(b.len, 15);
	cr_expect_eq(b.data[1], 0x12);
	struct bufreader r;
	bufreader_init(&r, b.data, b.len);
	cr_expect_eq(bufreader_u8(&r), 0xab);
	cr_expect_eq(bufreader_u16be(&r), 0x1234);
	cr_expect_eq(bufreader_u32be(&r), 0xdeadbeef);
	cr_expect_eq(bufreader_u64be(&r), 0x0102030405060708ULL);
	cr_expect(bufreader_ok(&r));
	cr_expect_eq(bufreader_left(&r), 0);
	buf_release(&b);
}

Test(buf, reader_latches_on_short_input)
{
	const uint8_t d[3] = {1, 2, 3};
	struct bufreader r;
	bufreader_init(&r, d, sizeof(d));
	cr_expect_eq(bufreader_u16be(&r), 0x0102);
	cr_expect_eq(bufreader_u32be(&r), 0); /* only 1 byte left */
	cr_expect(!bufreader_ok(&r));
	cr_expect_null(bufreader_take(&r, 1)); /* stays failed */
}

Test(buf, printf_consume_and_patch)
{
	struct buf b;
	buf_init(&b);
	buf_put_u32be(&b, 0);
	buf_printf(&b, "%s-%d", "abc", 42);
	buf_patch_u32be(&b, 0, (uint32_t)(b.len - 4));
	cr_expect_eq(be32_load(b.data), 6);
	buf_consume(&b, 4);
	cr_expect_eq(b.len, 6);
	cr_expect(memcmp(b.data, "abc-42", 6) == 0);
	buf_release(&b);
}

Test(buf, escaped_strings_round_trip_and_keep_order)
{
	static const uint8_t a[] = {'a', 0x00, 'b', 0x00};
	struct buf b, out;
	buf_init(&b);
	buf_init(&out);
	buf_put_escaped(&b, a, sizeof(a));
	buf_put_escaped(&b, "", 0);
	static const uint8_t want[] = {'a', 0x00, 0xFF, 'b', 0x00, 0xFF, 0x00, 0x01, 0x00, 0x01};
	cr_assert_eq(b.len, sizeof(want));
	cr_expect(memcmp(b.data, want, sizeof(want)) == 0);

	struct bufreader r;
	bufreader_init(&r, b.data, b.len);
	bufreader_escaped(&r, 0, &out);
	cr_assert(bufreader_ok(&r));
	cr_expect_eq(out.len, sizeof(a));
	cr_expect(memcmp(out.data, a, sizeof(a)) == 0);
	cr_expect_eq(r.pos, 8);
	bufreader_escaped(&r, 0, NULL);
	cr_expect(bufreader_ok(&r));
	cr_expect_eq(bufreader_left(&r), 0);

	/* inverted (descending) bytes read back with inv 0xFF */
	for (size_t i = 0; i < b.len; i++)
		b.data[i] ^= 0xFF;
	buf_reset(&out);
	bufreader_init(&r, b.data, b.len);
	bufreader_escaped(&r, 0xFF, &out);
	cr_expect(bufreader_ok(&r));
	cr_expect(out.len == sizeof(a) && memcmp(out.data, a, sizeof(a)) == 0);

	/* "a" < "a\0" < "b": escaped forms order the same */
	struct buf x, y, z;
	buf_init(&x);
	buf_init(&y);
	buf_init(&z);
	buf_put_escaped(&x, "a", 1);
	buf_put_escaped(&y, "a\0", 2);
	buf_put_escaped(&z, "b", 1);
	cr_expect(memcmp(x.data, y.data, x.len < y.len ? x.len : y.len) < 0);
	cr_expect(memcmp(y.data, z.data, 1) < 0);
	buf_release(&x);
	buf_release(&y);
	buf_release(&z);
	buf_release(&out);
	buf_release(&b);
}

Test(buf, escaped_reader_rejects_torn_input)
{
	static const uint8_t bad_escape[] = {'a', 0x00, 0x02};
	static const uint8_t unterminated[] = {'a', 'b', 0x00, 0xFF};
	static const uint8_t lone_zero[] = {'a', 0x00};
	const uint8_t *cases[] = {bad_escape, unterminated, lone_zero};
	size_t lens[] = {sizeof(bad_escape), sizeof(unterminated), sizeof(lone_zero)};
	for (size_t i = 0; i < 3; i++) {
		struct bufreader r;
		bufreader_init(&r, cases[i], lens[i]);
		bufreader_escaped(&r, 0, NULL);
		cr_expect(!bufreader_ok(&r), "case %zu accepted", i);
	}
}

Test(err, messages_name_the_failure)
{
	struct cerr e = {0};
	int rc = cerr_set(&e, COL_ENOTFOUND, "keyspace '%s' does not exist", "shop");
	cr_expect_eq(rc, COL_ENOTFOUND);
	cerr_prefix(&e, "USE");
	cr_expect_str_eq(e.msg, "USE: keyspace 'shop' does not exist");
	cr_expect_str_eq(col_strerror(COL_ETIMEDOUT), "timed out");
	cr_expect_str_eq(col_strerror(12345), "unknown error");
	cr_expect_eq(cerr_set(NULL, COL_EIO, "x"), COL_EIO);
}
