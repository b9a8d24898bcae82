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
