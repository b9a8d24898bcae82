/*
 * ORDER BY with an IN on the partition key, as Cassandra does it: the rows of all
 * the partitions sorted (and only then cut to the LIMIT) when the query is not
 * paged, Cassandra's refusal when it is, and the bound on what is sorted.
 */
#include "coordinator/query/executor.h"
#include "coordinator/query/systables.h"
#include "coordinator/replication/router.h"
#include "coordinator/schema/schema.h"
#include "core/cqlproto.h"
#include "storage/storage.h"
#include "executor_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The int columns of the last result's rows as "a,b;" per row. */
static void int_rows(char *out, size_t len)
{
	struct bufreader r;
	bufreader_init(&r, req.body_out.data, req.body_out.len);
	cr_assert_eq(cql_get_int(&r), CQL_RESULT_ROWS);
	int32_t flags = cql_get_int(&r);
	int32_t ncols = cql_get_int(&r);
	cr_assert(!(flags & CQL_ROWS_HAS_MORE_PAGES), "an unpaged sort has no next page");
	cql_get_string(&r);
	cql_get_string(&r);
	for (int i = 0; i < ncols; i++) {
		cql_get_string(&r);
		cql_get_short(&r);
	}
	int32_t n = cql_get_int(&r);
	size_t o = 0;
	out[0] = 0;
	for (int32_t i = 0; i < n; i++) {
		for (int c = 0; c < ncols; c++) {
			struct cql_slice v = cql_get_bytes(&r);
			cr_assert_eq(v.len, 4);
			o += (size_t)snprintf(out + o, len - o, "%s%d", c ? "," : "",
			                      (int32_t)be32_load(v.p));
		}
		o += (size_t)snprintf(out + o, len - o, ";");
	}
	cr_assert(bufreader_ok(&r));
}

static void expect(const char *cql, const char *want)
{
	run_ok(cql);
	char out[4096];
	int_rows(out, sizeof(out));
	cr_assert_str_eq(out, want, "%s", cql);
}

static void query_paged(const char *q, int32_t page_size)
{
	static struct buf body;
	buf_init(&body);
	cql_put_long_string(&body, q, strlen(q));
	cql_put_short(&body, CL_ONE);
	cql_put_byte(&body, page_size > 0 ? CQL_QF_PAGE_SIZE : 0);
	if (page_size > 0)
		cql_put_int(&body, page_size);
	req.session = &sess;
	req.opcode = CQL_OP_QUERY;
	req.body = body.data;
	req.body_len = body.len;
	req.done = NULL;
	executor_run(ex, &req);
	buf_release(&body);
}

TestSuite(order_in, .init = exec_fixture_setup, .fini = exec_fixture_teardown);

static void fill(void)
{
	run_ok("CREATE KEYSPACE k WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 1}");
	run_ok("CREATE TABLE k.t (p int, c int, d int, v int, PRIMARY KEY (p, c, d))");
	/* partition p holds c = p, p + 3, p + 6 (d = 0), so the partitions interleave */
	for (int p = 1; p <= 3; p++)
		for (int k = 0; k < 3; k++) {
			char q[128];
			snprintf(q, sizeof(q),
			         "INSERT INTO k.t (p, c, d, v) VALUES (%d, %d, 0, %d)", p,
			         p + 3 * k, 10 * p + k);
			run_ok(q);
		}
	run_ok("INSERT INTO k.t (p, c, d, v) VALUES (2, 5, 1, 99)");
}

Test(order_in, sorts_the_rows_of_all_partitions)
{
	fill();
	/* without ORDER BY: partition by partition, as before */
	expect("SELECT p, c FROM k.t WHERE p IN (3, 1)", "3,3;3,6;3,9;1,1;1,4;1,7;");
	expect("SELECT p, c FROM k.t WHERE p IN (3, 1, 2) ORDER BY c ASC",
	       "1,1;2,2;3,3;1,4;2,5;2,5;3,6;1,7;2,8;3,9;");
	expect("SELECT p, c, d FROM k.t WHERE p IN (1, 2, 3) ORDER BY c DESC, d DESC",
	       "3,9,0;2,8,0;1,7,0;3,6,0;2,5,1;2,5,0;1,4,0;3,3,0;2,2,0;1,1,0;");
	/* the ORDER BY column need not be selected */
	expect("SELECT v FROM k.t WHERE p IN (1, 3) ORDER BY c DESC", "32;12;31;11;30;10;");
	/* LIMIT after the sort, not per partition or in read order */
	expect("SELECT p, c FROM k.t WHERE p IN (3, 2, 1) ORDER BY c LIMIT 4", "1,1;2,2;3,3;1,4;");
	expect("SELECT p, c FROM k.t WHERE p IN (3, 2, 1) ORDER BY c DESC LIMIT 2", "3,9;2,8;");
	/* a clustering restriction and a reversed read inside each partition */
	expect("SELECT p, c FROM k.t WHERE p IN (1, 2) AND c > 2 ORDER BY c DESC",
	       "2,8;1,7;2,5;2,5;1,4;");
	/* a single-value IN is an IN too */
	expect("SELECT c FROM k.t WHERE p IN (2) ORDER BY c DESC", "8;5;5;2;");
}

Test(order_in, refused_when_paged_as_cassandra_does)
{
	fill();
	query_paged("SELECT p, c FROM k.t WHERE p IN (1, 2) ORDER BY c", 100);
	cr_assert_eq(req.err.code, COL_EINVAL);
	cr_assert_str_eq(req.err.msg,
	                 "Cannot page queries with both ORDER BY and a IN restriction on the "
	                 "partition key; you must either remove the ORDER BY or the IN and sort "
	                 "client-side, or disable paging for this query");
	/* a LIMIT within the page size is not paged: sorted */
	query_paged("SELECT p, c FROM k.t WHERE p IN (1, 2) ORDER BY c LIMIT 3", 3);
	cr_assert(!req.err.code, "%s", req.err.msg);
	char out[256];
	int_rows(out, sizeof(out));
	cr_assert_str_eq(out, "1,1;2,2;1,4;");
	query_paged("SELECT p, c FROM k.t WHERE p IN (1, 2) ORDER BY c LIMIT 4", 3);
	cr_assert_eq(req.err.code, COL_EINVAL);
	/* no IN on the partition key, or no ORDER BY: paged as always */
	query_paged("SELECT p, c FROM k.t WHERE p = 1 ORDER BY c DESC", 2);
	cr_assert(!req.err.code, "%s", req.err.msg);
	query_paged("SELECT p, c FROM k.t WHERE p IN (1, 2)", 2);
	cr_assert(!req.err.code, "%s", req.err.msg);
	/* paging off (page size 0): sorted */
	query_paged("SELECT p, c FROM k.t WHERE p IN (2, 1) ORDER BY c", 0);
	cr_assert(!req.err.code, "%s", req.err.msg);
	int_rows(out, sizeof(out));
	cr_assert_str_eq(out, "1,1;2,2;1,4;2,5;2,5;1,7;2,8;");
}

Test(order_in, bounded_in_memory)
{
	run_ok("CREATE KEYSPACE k WITH replication = {'class': 'SimpleStrategy', "
	       "'replication_factor': 1}");
	run_ok("CREATE TABLE k.big (p int, c int, PRIMARY KEY (p, c))");
	for (int p = 0; p < 2; p++)
		for (int c = 0; c < 5001; c++) {
			char q[96];
			snprintf(q, sizeof(q), "INSERT INTO k.big (p, c) VALUES (%d, %d)", p, c);
			run_ok(q);
		}
	const char *msg = run_err("SELECT c FROM k.big WHERE p IN (0, 1) ORDER BY c");
	cr_assert(strstr(msg, "more than 10000 rows"), "%s", msg);
	/* with a LIMIT each partition gives only that many: fine */
	expect("SELECT p, c FROM k.big WHERE p IN (1, 0) ORDER BY c DESC LIMIT 3",
	       "1,5000;0,5000;1,4999;");
}
