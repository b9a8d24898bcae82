/*
 * coordinator/consistency: block-for, live-replica checks and ack counting,
 * against Cassandra 4's ConsistencyLevel (TestAvailability's expectations).
 */
#include "coordinator/replication/consistency.h"

#include "core/cqlproto.h"

#include <criterion/criterion.h>
#include <string.h>

static struct replication simple(const char *rf)
{
	const char *k[] = {"class", "replication_factor"};
	const char *v[] = {"SimpleStrategy", rf};
	struct replication r;
	struct cerr e = {0};
	cr_assert_eq(replication_parse(k, v, 2, &r, &e), 0, "%s", e.msg);
	return r;
}

static struct replication nts(const char *rf1, const char *rf2)
{
	const char *k[] = {"class", "dc1", "dc2"};
	const char *v[] = {"NetworkTopologyStrategy", rf1, rf2};
	struct replication r;
	struct cerr e = {0};
	cr_assert_eq(replication_parse(k, v, 3, &r, &e), 0, "%s", e.msg);
	return r;
}

Test(consistency, block_for)
{
	struct replication s3 = simple("3"), s5 = simple("5"), n33 = nts("3", "3"),
	                   n52 = nts("5", "2");
	cr_expect_eq(cl_block_for(CL_ANY, &s3, "dc1"), 1);
	cr_expect_eq(cl_block_for(CL_ONE, &s3, "dc1"), 1);
	cr_expect_eq(cl_block_for(CL_TWO, &s3, "dc1"), 2);
	cr_expect_eq(cl_block_for(CL_THREE, &s3, "dc1"), 3);
	cr_expect_eq(cl_block_for(CL_QUORUM, &s3, "dc1"), 2);
	cr_expect_eq(cl_block_for(CL_QUORUM, &s5, "dc1"), 3);
	cr_expect_eq(cl_block_for(CL_ALL, &s5, "dc1"), 5);
	cr_expect_eq(cl_block_for(CL_LOCAL_QUORUM, &s3, "dc1"), 2,
	             "non-NTS: the strategy's quorum");
	cr_expect_eq(cl_block_for(CL_EACH_QUORUM, &s3, "dc1"), 2, "non-NTS: as QUORUM");
	cr_expect_eq(cl_block_for(CL_LOCAL_ONE, &s3, "dc1"), 1);
	/* NTS {dc1: 3, dc2: 3}: QUORUM = 6/2+1 = 4, LOCAL_QUORUM 2, EACH_QUORUM 2+2 */
	cr_expect_eq(cl_block_for(CL_QUORUM, &n33, "dc1"), 4);
	cr_expect_eq(cl_block_for(CL_LOCAL_QUORUM, &n33, "dc1"), 2);
	cr_expect_eq(cl_block_for(CL_EACH_QUORUM, &n33, "dc1"), 4);
	cr_expect_eq(cl_block_for(CL_ALL, &n33, "dc2"), 6);
	/* {dc1: 5, dc2: 2}: QUORUM 4, LOCAL_QUORUM 3 in dc1, 2 in dc2, EACH 3+2 */
	cr_expect_eq(cl_block_for(CL_QUORUM, &n52, "dc1"), 4);
	cr_expect_eq(cl_block_for(CL_LOCAL_QUORUM, &n52, "dc1"), 3);
	cr_expect_eq(cl_block_for(CL_LOCAL_QUORUM, &n52, "dc2"), 2);
	cr_expect_eq(cl_block_for(CL_EACH_QUORUM, &n52, "dc2"), 5);
	/* a DC the keyspace does not replicate to: LOCAL_QUORUM = 0/2+1 = 1, never met */
	cr_expect_eq(cl_block_for(CL_LOCAL_QUORUM, &n52, "dc3"), 1);
}

Test(consistency, validate_wording)
{
	struct cerr e = {0};
	cr_expect_eq(cl_validate(CL_ANY, true, &e), 0);
	cr_expect_eq(cl_validate(CL_ANY, false, &e), COL_EINVAL);
	cr_expect_str_eq(e.msg, "ANY ConsistencyLevel is only supported for writes");
	cr_expect_eq(cl_validate(CL_SERIAL, true, &e), COL_EINVAL);
	cr_expect_str_eq(e.msg, "You must use conditional updates for serializable writes");
	cr_expect_eq(cl_validate(CL_LOCAL_SERIAL, false, &e), COL_EINVAL);
	cr_expect(strstr(e.msg, "LOCAL_SERIAL") && strstr(e.msg, "lightweight transactions"), "%s",
	          e.msg);
	cr_expect_eq(cl_validate(0x0042, false, &e), COL_EINVAL);
	cr_expect(strstr(e.msg, "0x0042") != NULL, "%s", e.msg);
	const uint16_t ok[] = {CL_ONE, CL_TWO,          CL_THREE,       CL_QUORUM,
	                       CL_ALL, CL_LOCAL_QUORUM, CL_EACH_QUORUM, CL_LOCAL_ONE};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_expect_eq(cl_validate(ok[i], true, &e), 0);
		cr_expect_eq(cl_validate(ok[i], false, &e), 0);
	}
}

/* Live replicas: n1 in dc1 (local), n2 in dc2. */
static struct cl_live live(int n1, int n2)
{
	struct cl_live l;
	cl_live_init(&l);
	for (int i = 0; i < n1; i++)
		cl_live_add(&l, "dc1", true);
	for (int i = 0; i < n2; i++)
		cl_live_add(&l, "dc2", false);
	return l;
}

/* TestAvailability, SimpleStrategy RF=3: every level against 0..3 live replicas. */
Test(consistency, availability_simple_rf3)
{
	struct replication s3 = simple("3");
	struct {
		uint16_t cl;
		int need;
	} t[] = {{CL_ANY, 1},         {CL_ONE, 1},       {CL_TWO, 2},
	         {CL_THREE, 3},       {CL_QUORUM, 2},    {CL_LOCAL_QUORUM, 2},
	         {CL_EACH_QUORUM, 2}, {CL_LOCAL_ONE, 1}, {CL_ALL, 3}};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		for (int alive = 0; alive <= 3; alive++) {
			struct cl_live l = live(alive, 0);
			struct cl_unavailable u;
			int rc = cl_assure_live(t[i].cl, &s3, "dc1", &l, &u);
			if (alive >= t[i].need) {
				cr_expect_eq(rc, 0, "%s with %d alive",
				             cql_consistency_name(t[i].cl), alive);
			} else {
				cr_expect_eq(rc, COL_EUNAVAILABLE, "%s with %d alive",
				             cql_consistency_name(t[i].cl), alive);
				cr_expect_eq(u.required, t[i].need);
				cr_expect_eq(u.alive, alive);
			}
		}
	}
}

/* NTS {dc1:3, dc2:3}, coordinator in dc1, every (dc1 live, dc2 live) pair. */
Test(consistency, availability_nts_3_3)
{
	struct replication n = nts("3", "3");
	for (int a = 0; a <= 3; a++) {
		for (int b = 0; b <= 3; b++) {
			struct cl_live l = live(a, b);
			struct cl_unavailable u;
			/* ONE/TWO/THREE/QUORUM/ALL count every DC */
			struct {
				uint16_t cl;
				int need;
			} any[] = {{CL_ONE, 1},
			           {CL_TWO, 2},
			           {CL_THREE, 3},
			           {CL_QUORUM, 4},
			           {CL_ALL, 6}};
			for (size_t i = 0; i < 5; i++) {
				int rc = cl_assure_live(any[i].cl, &n, "dc1", &l, &u);
				cr_expect_eq(rc == 0, a + b >= any[i].need, "%s %d+%d",
				             cql_consistency_name(any[i].cl), a, b);
				if (rc) {
					cr_expect_eq(u.required, any[i].need);
					cr_expect_eq(u.alive, a + b);
				}
			}
			/* LOCAL_*: only dc1 */
			int rc = cl_assure_live(CL_LOCAL_QUORUM, &n, "dc1", &l, &u);
			cr_expect_eq(rc == 0, a >= 2, "LOCAL_QUORUM %d+%d", a, b);
			if (rc) {
				cr_expect_eq(u.required, 2);
				cr_expect_eq(u.alive, a);
			}
			rc = cl_assure_live(CL_LOCAL_ONE, &n, "dc1", &l, &u);
			cr_expect_eq(rc == 0, a >= 1, "LOCAL_ONE %d+%d", a, b);
			/* EACH_QUORUM: each DC on its own; the first DC short is reported */
			rc = cl_assure_live(CL_EACH_QUORUM, &n, "dc1", &l, &u);
			cr_expect_eq(rc == 0, a >= 2 && b >= 2, "EACH_QUORUM %d+%d", a, b);
			if (rc) {
				cr_expect_eq(u.required, 2);
				cr_expect_eq(u.alive, a < 2 ? a : b);
				cr_expect_str_eq(u.dc, a < 2 ? "dc1" : "dc2");
			}
		}
	}
}

Test(consistency, acks_count_per_level)
{
	struct replication n = nts("3", "3");
	struct cl_acks a;
	/* LOCAL_QUORUM: remote acks never count */
	cl_acks_init(&a, CL_LOCAL_QUORUM, &n, "dc1");
	for (int i = 0; i < 3; i++)
		cl_acks_add(&a, "dc2", false);
	cr_expect(!cl_acks_done(&a));
	cr_expect_eq(a.received, 0);
	cl_acks_add(&a, "dc1", true);
	cl_acks_add(&a, "dc1", true);
	cr_expect(cl_acks_done(&a));
	/* EACH_QUORUM: 3 acks in dc1 do not make up for dc2 */
	cl_acks_init(&a, CL_EACH_QUORUM, &n, "dc1");
	cr_expect_eq(a.block_for, 4);
	for (int i = 0; i < 3; i++)
		cl_acks_add(&a, "dc1", true);
	cr_expect(!cl_acks_done(&a));
	cr_expect_eq(a.received, 2, "capped at the DC's quorum");
	cl_acks_add(&a, "dc2", false);
	cr_expect(!cl_acks_done(&a));
	cl_acks_add(&a, "dc2", false);
	cr_expect(cl_acks_done(&a));
	cr_expect_eq(a.received, 4);
	cl_acks_release(&a);
	/* QUORUM: any DC */
	cl_acks_init(&a, CL_QUORUM, &n, "dc1");
	for (int i = 0; i < 3; i++)
		cl_acks_add(&a, "dc2", false);
	cr_expect(!cl_acks_done(&a));
	cl_acks_add(&a, "dc1", true);
	cr_expect(cl_acks_done(&a));
	/* ALL under SimpleStrategy RF 3 */
	struct replication s3 = simple("3");
	cl_acks_init(&a, CL_ALL, &s3, "dc1");
	cl_acks_add(&a, "dc1", true);
	cl_acks_add(&a, "dc2", false);
	cr_expect(!cl_acks_done(&a));
	cl_acks_add(&a, "dc1", true);
	cr_expect(cl_acks_done(&a));
}
