/*
 * The routing token of a row from its bound partition key values (cli/lib/tokenmap.h):
 * a single key is hashed as is (Cassandra's token of int 1), a composite one as
 * Cassandra's CompositeType (u16 length, bytes, 0 per component), and a null component
 * or no key at all gives no token.
 */
#include "cli/lib/tokenmap.h"
#include "core/murmur3.h"

#include <criterion/criterion.h>

static const uint8_t ONE[4] = {0, 0, 0, 1};

Test(tokenmap, single_key_is_cassandras_token)
{
	struct cql_slice v[2] = {{(const uint8_t *)"x", 1}, {ONE, 4}};
	uint16_t pk[1] = {1};
	int64_t t = 0;
	cr_assert(tokenmap_key_token(v, pk, 1, &t));
	cr_assert_eq(t, -4069959284402364209LL, "token(1) is %lld", (long long)t);
}

Test(tokenmap, composite_key_is_serialized_as_composite_type)
{
	struct cql_slice v[3] = {{(const uint8_t *)"a", 1}, {NULL, -1}, {ONE, 4}};
	uint16_t pk[2] = {2, 0}; /* key order: the int, then the text */
	int64_t t = 0;
	cr_assert(tokenmap_key_token(v, pk, 2, &t));
	static const uint8_t want[] = {0, 4, 0, 0, 0, 1, 0, 0, 1, 'a', 0};
	cr_assert_eq(t, murmur3_token(want, sizeof(want)));
	pk[1] = 1; /* a null component: no token */
	cr_assert_not(tokenmap_key_token(v, pk, 2, &t));
	cr_assert_not(tokenmap_key_token(v, pk, 0, &t));
}

Test(tokenmap, an_empty_map_has_no_replicas)
{
	struct tokenmap m = {0};
	size_t n = 7;
	cr_assert_null(tokenmap_replicas(&m, 42, &n));
	cr_assert_eq(n, 0);
}
