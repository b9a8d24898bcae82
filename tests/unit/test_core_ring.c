/* Ring placement: SimpleStrategy and NetworkTopologyStrategy as Cassandra places. */
#include "core/ring.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

struct spec {
	const char *addr, *dc, *rack;
	int64_t tokens[4];
	size_t n;
};

static struct ring *build(const struct spec *s, size_t n)
{
	struct ring_endpoint eps[16];
	memset(eps, 0, sizeof(eps));
	for (size_t i = 0; i < n; i++) {
		eps[i].host_id[0] = (uint8_t)(i + 1);
		snprintf(eps[i].address, sizeof(eps[i].address), "%s", s[i].addr);
		snprintf(eps[i].dc, sizeof(eps[i].dc), "%s", s[i].dc);
		snprintf(eps[i].rack, sizeof(eps[i].rack), "%s", s[i].rack);
		eps[i].tokens = s[i].tokens;
		eps[i].n_tokens = s[i].n;
	}
	struct ring *r = NULL;
	struct cerr e = {0};
	cr_assert_eq(ring_new(eps, n, &r, &e), COL_OK, "%s", e.msg);
	return r;
}

static struct replication repl(const char *const *k, const char *const *v, size_t n)
{
	struct replication rep;
	struct cerr e = {0};
	cr_assert_eq(replication_parse(k, v, n, &rep, &e), COL_OK, "%s", e.msg);
	return rep;
}

Test(ring, simple_strategy_walks_clockwise_distinct_nodes)
{
	const struct spec s[] = {
	        {"10.0.0.1", "dc1", "r1", {-100, 300}, 2},
	        {"10.0.0.2", "dc1", "r1", {0, 310}, 2},
	        {"10.0.0.3", "dc1", "r1", {100}, 1},
	};
	struct ring *r = build(s, 3);
	const char *k[] = {"class", "replication_factor"}, *v[] = {"SimpleStrategy", "2"};
	struct replication rep = repl(k, v, 2);
	uint32_t out[8];
	/* token 50 -> first token >= 50 is 100 (node 2), then 300 (node 0) */
	cr_assert_eq(ring_replicas(r, &rep, 50, out, 8), 2);
	cr_expect_eq(out[0], 2);
	cr_expect_eq(out[1], 0);
	/* token 300 is owned by node 0 itself (range (100,300]); then 310 -> node 1 */
	cr_assert_eq(ring_replicas(r, &rep, 300, out, 8), 2);
	cr_expect_eq(out[0], 0);
	cr_expect_eq(out[1], 1);
	/* past the largest token wraps to the smallest (-100, node 0), skips node 0's
	 * second appearance, gets node 1 at 0 */
	cr_assert_eq(ring_replicas(r, &rep, 311, out, 8), 2);
	cr_expect_eq(out[0], 0);
	cr_expect_eq(out[1], 1);
	/* RF larger than the ring: every node once */
	const char *v5[] = {"org.apache.cassandra.locator.SimpleStrategy", "5"};
	struct replication rep5 = repl(k, v5, 2);
	cr_expect_eq(ring_replicas(r, &rep5, 0, out, 8), 3);
	ring_unref(r);
}

Test(ring, nts_prefers_distinct_racks_then_fills)
{
	/* dc1: n0 r1, n1 r1, n2 r2 in ring order; dc2: n3 r1 */
	const struct spec s[] = {
	        {"a", "dc1", "r1", {10}, 1},
	        {"b", "dc1", "r1", {20}, 1},
	        {"c", "dc1", "r2", {30}, 1},
	        {"d", "dc2", "r1", {40}, 1},
	};
	struct ring *r = build(s, 4);
	const char *k[] = {"class", "dc1", "dc2"}, *v[] = {"NetworkTopologyStrategy", "2", "1"};
	struct replication rep = repl(k, v, 3);
	uint32_t out[8];
	/* from token 5: a (r1), b skipped (r1 repeat, 2 racks for rf 2), c (r2), d */
	size_t n = ring_replicas(r, &rep, 5, out, 8);
	cr_assert_eq(n, 3);
	cr_expect_eq(out[0], 0);
	cr_expect_eq(out[1], 2);
	cr_expect_eq(out[2], 3);
	/* rf 3 in dc1 with 2 racks: one rack repeat allowed, taken by the first met */
	const char *v3[] = {"NetworkTopologyStrategy", "3", "1"};
	struct replication rep3 = repl(k, v3, 3);
	n = ring_replicas(r, &rep3, 5, out, 8);
	cr_assert_eq(n, 4);
	cr_expect_eq(out[0], 0);
	cr_expect_eq(out[1], 1);
	cr_expect_eq(out[2], 2);
	cr_expect_eq(out[3], 3);
	/* a dc the ring does not have contributes nothing */
	const char *k2[] = {"class", "dc9"}, *v2[] = {"NetworkTopologyStrategy", "3"};
	struct replication rep9 = repl(k2, v2, 2);
	cr_expect_eq(ring_replicas(r, &rep9, 5, out, 8), 0);
	cr_expect_eq(replication_total_rf(&rep), 3);
	cr_expect_eq(replication_dc_rf(&rep, "dc2"), 1);
	ring_unref(r);
}

Test(ring, ownership_sums)
{
	const struct spec s[] = {
	        {"a", "dc1", "r1", {INT64_MIN / 2, 0}, 2},
	        {"b", "dc1", "r1", {INT64_MAX / 2}, 1},
	        {"c", "dc1", "r1", {INT64_MAX}, 1},
	};
	struct ring *r = build(s, 3);
	double own[3];
	ring_ownership(r, NULL, own);
	cr_expect(fabs(own[0] + own[1] + own[2] - 1.0) < 1e-9);
	cr_expect(fabs(own[0] - 0.5) < 1e-6, "a owns %f", own[0]); /* (max, min/2] + (min/2, 0] */
	const char *k[] = {"class", "replication_factor"}, *v[] = {"SimpleStrategy", "2"};
	struct replication rep = repl(k, v, 2);
	ring_ownership(r, &rep, own);
	cr_expect(fabs(own[0] + own[1] + own[2] - 2.0) < 1e-9);
	ring_unref(r);
}

Test(ring, bad_input_is_named)
{
	struct replication rep;
	struct cerr e = {0};
	const char *k[] = {"class", "replication_factor"}, *v[] = {"SimpleStrategy", "three"};
	cr_expect_eq(replication_parse(k, v, 2, &rep, &e), COL_EINVAL);
	cr_expect(strstr(e.msg, "three") != NULL, "%s", e.msg);
	const char *k2[] = {"class"}, *v2[] = {"FancyStrategy"};
	cr_expect_eq(replication_parse(k2, v2, 1, &rep, &e), COL_EINVAL);
	cr_expect(strstr(e.msg, "FancyStrategy") != NULL);
	const char *k3[] = {"class", "dc1"}, *v3[] = {"SimpleStrategy", "1"};
	cr_expect_eq(replication_parse(k3, v3, 2, &rep, &e), COL_EINVAL);
	cr_expect(strstr(e.msg, "dc1") != NULL);

	const struct spec dup[] = {{"a", "dc1", "r1", {5}, 1}, {"b", "dc1", "r1", {5}, 1}};
	struct ring_endpoint eps[2];
	memset(eps, 0, sizeof(eps));
	for (int i = 0; i < 2; i++) {
		strcpy(eps[i].address, dup[i].addr);
		strcpy(eps[i].dc, dup[i].dc);
		strcpy(eps[i].rack, dup[i].rack);
		eps[i].tokens = dup[i].tokens;
		eps[i].n_tokens = 1;
	}
	struct ring *r;
	cr_expect_eq(ring_new(eps, 2, &r, &e), COL_EINVAL);
	cr_expect(strstr(e.msg, "owned by both") != NULL, "%s", e.msg);
}
