/*
 * test_cli_desc.c — DESCRIBE's CREATE statements (cli/lib/cqldesc.h), in the
 * python driver's export format that cqlsh prints.
 */
#include "cli/lib/cqldesc.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static char *done(struct buf *b)
{
	buf_put_u8(b, 0);
	return (char *)b->data;
}

Test(desc, keyspace_statement)
{
	struct buf b;
	buf_init(&b);
	const char *k[] = {"dc2", "class", "dc1"};
	const char *v[] = {"2", "org.apache.cassandra.locator.NetworkTopologyStrategy", "3"};
	cqldesc_keyspace(&b, "Shop", false, k, v, 3);
	char *s = done(&b);
	cr_assert_str_eq(s, "CREATE KEYSPACE \"Shop\" WITH replication = {'class': "
	                    "'org.apache.cassandra.locator.NetworkTopologyStrategy', 'dc1': '3', "
	                    "'dc2': '2'}  AND durable_writes = false");
	free(s);
}

Test(desc, table_with_composite_key_clustering_order_and_options)
{
	struct cqldesc_column cols[] = {
	        {"v", "text", "regular", -1, "none"},
	        {"c2", "timestamp", "clustering", 1, "desc"},
	        {"b", "int", "partition_key", 1, "none"},
	        {"s", "set<text>", "static", -1, "none"},
	        {"a", "text", "partition_key", 0, "none"},
	        {"c1", "int", "clustering", 0, "asc"},
	        {"select", "int", "regular", -1, "none"},
	};
	struct cqldesc_option opts[] = {
	        {"gc_grace_seconds", "864000"}, {"default_time_to_live", "0"}, {"comment", "''"}};
	struct buf b;
	buf_init(&b);
	cqldesc_table(&b, "shop", "events", cols, 7, opts, 3);
	char *s = done(&b);
	cr_assert_str_eq(s, "CREATE TABLE shop.events (\n"
	                    "    a text,\n"
	                    "    b int,\n"
	                    "    c1 int,\n"
	                    "    c2 timestamp,\n"
	                    "    s set<text> static,\n"
	                    "    \"select\" int,\n"
	                    "    v text,\n"
	                    "    PRIMARY KEY ((a, b), c1, c2)\n"
	                    ") WITH CLUSTERING ORDER BY (c1 ASC, c2 DESC)\n"
	                    "    AND comment = ''\n"
	                    "    AND default_time_to_live = 0\n"
	                    "    AND gc_grace_seconds = 864000");
	free(s);
}

Test(desc, single_key_table)
{
	struct cqldesc_column cols[] = {{"name", "text", "regular", -1, "none"},
	                                {"id", "uuid", "partition_key", 0, "none"}};
	struct buf b;
	buf_init(&b);
	cqldesc_table(&b, "ks", "users", cols, 2, NULL, 0);
	char *s = done(&b);
	cr_assert_str_eq(s, "CREATE TABLE ks.users (\n    id uuid PRIMARY KEY,\n    name text\n)");
	free(s);
	buf_init(&b);
	struct cqldesc_option o[] = {{"gc_grace_seconds", "10"}};
	cqldesc_table(&b, "ks", "users", cols, 2, o, 1);
	s = done(&b);
	cr_assert(strstr(s, "\n) WITH gc_grace_seconds = 10"), "%s", s);
	free(s);
}

Test(desc, literals)
{
	struct buf b, v;
	buf_init(&b);
	buf_init(&v);
	/* double 0.01 and 1.0 as Python repr */
	double d = 0.01;
	uint64_t u;
	memcpy(&u, &d, 8);
	uint8_t be[8];
	be64_store(be, u);
	struct cql_slice s = {be, 8};
	cqldesc_literal(&b, cqltype_simple(CQLTYPE_DOUBLE), &s);
	buf_put_u8(&b, ' ');
	d = 1.0;
	memcpy(&u, &d, 8);
	be64_store(be, u);
	cqldesc_literal(&b, cqltype_simple(CQLTYPE_DOUBLE), &s);
	buf_put_u8(&b, ' ');
	struct cql_slice t = {(const uint8_t *)"it's", 4};
	cqldesc_literal(&b, cqltype_simple(CQLTYPE_VARCHAR), &t);
	buf_put_u8(&b, ' ');
	/* map<text,text> {'keys': 'ALL'} */
	buf_put_u32be(&v, 1);
	buf_put_u32be(&v, 4);
	buf_put(&v, "keys", 4);
	buf_put_u32be(&v, 3);
	buf_put(&v, "ALL", 3);
	const struct cqltype *mt = NULL;
	cr_assert_eq(cqltype_parse("frozen<map<text, text>>", 23, &mt, NULL), 0);
	struct cql_slice m = {v.data, (int32_t)v.len};
	cqldesc_literal(&b, mt, &m);
	struct cql_slice null = {NULL, -1};
	cqldesc_literal(&b, mt, &null); /* nothing */
	char *out = done(&b);
	cr_assert_str_eq(out, "0.01 1.0 'it''s' {'keys': 'ALL'}");
	free(out);
	cqltype_free(mt);
	buf_release(&v);
	cr_assert(cqldesc_is_table_option("gc_grace_seconds"));
	cr_assert_not(cqldesc_is_table_option("id"));
}
