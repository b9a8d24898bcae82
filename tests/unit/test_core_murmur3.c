/*
 * Murmur3 tokens must equal Cassandra's for the same serialized key, or
 * drivers' token-aware routing sends requests to the wrong replicas.
 *
 * Reference values: the DataStax python driver's own tests
 * (datastax/python-driver tests/unit/test_metadata.py, `_verify_hash` cases in
 * the Murmur3 token tests: b'123', b'\x00\xff\x10\xfa\x99' * 10, b'\xfe' * 8,
 * b'\x10' * 8, str(MAX_LONG)), which that project checked against Cassandra;
 * the others were computed with Debian's python3-cassandra
 * `cassandra.murmur3.murmur3` (3.25.0) on this machine.
 */
#include "core/murmur3.h"

#include <criterion/criterion.h>
#include <string.h>

struct token_case {
	const char *key;
	size_t len;
	int64_t token;
};

Test(murmur3, matches_cassandra_reference_tokens)
{
	static uint8_t rep[50];
	for (int i = 0; i < 10; i++)
		memcpy(rep + i * 5, "\x00\xff\x10\xfa\x99", 5);
	const struct token_case cases[] = {
		{"123", 3, -7468325962851647638LL},
		{(const char *)rep, 50, 5837342703291459765LL},
		{"\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe", 8, -8927430733708461935LL},
		{"\x10\x10\x10\x10\x10\x10\x10\x10", 8, 1446172840243228796LL},
		{"9223372036854775807", 19, 7162290910810015547LL},
		{"", 0, 0},
		{"a", 1, -8839064797231613815LL},
		{"hello world, this is a long key!", 32, 667565634541421592LL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_eq(murmur3_token(cases[i].key, cases[i].len), cases[i].token,
			     "case %zu: got %lld want %lld", i,
			     (long long)murmur3_token(cases[i].key, cases[i].len),
			     (long long)cases[i].token);
}

Test(murmur3, signed_tail_bytes_follow_java)
{
	/* A 4-byte int partition key 0x00000080-ish with high tail bytes: the
	 * classic place where an unsigned implementation disagrees. */
	const uint8_t k[3] = {0x80, 0xff, 0x01};
	int64_t h[2];
	murmur3_x64_128_cassandra(k, 3, 0, h);
	cr_expect_eq(murmur3_token(k, 3), h[0] == INT64_MIN ? INT64_MAX : h[0]);
}
