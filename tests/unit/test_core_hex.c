/*
 * Hex digits and UUID text: lowercase out, either case in, and every torn or
 * foreign character refused without touching the output.
 */
#include "core/hex.h"

#include <criterion/criterion.h>
#include <string.h>

static const uint8_t ID[16] = {0x3e, 0x6a, 0x0d, 0x84, 0x12, 0x34, 0x45, 0x67,
                               0x89, 0xab, 0xcd, 0xef, 0x00, 0x11, 0x22, 0x33};

Test(hex, digits_both_cases_and_nothing_else)
{
	cr_expect_eq(hex_digit('0'), 0);
	cr_expect_eq(hex_digit('9'), 9);
	cr_expect_eq(hex_digit('a'), 10);
	cr_expect_eq(hex_digit('F'), 15);
	cr_expect_eq(hex_digit('g'), -1);
	cr_expect_eq(hex_digit('G'), -1);
	cr_expect_eq(hex_digit('/'), -1);
	cr_expect_eq(hex_digit(':'), -1);
	cr_expect_eq(hex_digit('\0'), -1);
}

Test(hex, encode_decode_round_trip)
{
	char text[33];
	hex_encode(ID, 16, text);
	cr_expect_str_eq(text, "3e6a0d841234456789abcdef00112233");
	uint8_t back[16];
	cr_assert(hex_decode("3E6A0D841234456789ABCDEF00112233", 16, back));
	cr_expect(memcmp(back, ID, 16) == 0);
	cr_expect(!hex_decode("3e6a0d84123445678 abcdef00112233", 16, back));

	struct buf b;
	buf_init(&b);
	buf_put_str(&b, "0x");
	hex_put(&b, ID, 3);
	hex_put(&b, ID, 0);
	cr_assert(buf_ok(&b));
	cr_expect(b.len == 8 && memcmp(b.data, "0x3e6a0d", 8) == 0);
	buf_release(&b);
}

Test(hex, uuid_format_and_parse)
{
	char out[UUID_TEXT_LEN + 1];
	uuid_format(ID, out);
	cr_expect_str_eq(out, "3e6a0d84-1234-4567-89ab-cdef00112233");
	uint8_t u[16];
	cr_assert(uuid_parse(out, strlen(out), u));
	cr_expect(memcmp(u, ID, 16) == 0);

	struct buf b;
	buf_init(&b);
	uuid_put(&b, ID);
	cr_expect(b.len == UUID_TEXT_LEN && memcmp(b.data, out, UUID_TEXT_LEN) == 0);
	buf_release(&b);
}

Test(hex, uuid_parse_refuses_torn_text)
{
	const char *bad[] = {
	        "3e6a0d84-1234-4567-89ab-cdef0011223",   /* short */
	        "3e6a0d84-1234-4567-89ab-cdef001122334", /* long */
	        "3e6a0d84x1234-4567-89ab-cdef00112233",  /* no hyphen */
	        "3e6a0d8-41234-4567-89ab-cdef00112233",  /* hyphen moved */
	        "3e6a0d84-1234-4567-89ab-cdef0011223g",  /* not hex */
	        "",
	};
	uint8_t u[16];
	memset(u, 0xAA, sizeof(u));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect(!uuid_parse(bad[i], strlen(bad[i]), u), "accepted %s", bad[i]);
		cr_expect_eq(u[0], 0xAA, "touched output on %s", bad[i]);
	}
}
