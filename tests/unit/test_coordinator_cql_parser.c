/*
 * test_coordinator_cql_parser.c — the cqlish parser: every statement form, literals of
 * every kind, identifier rules, bind-marker numbering and receivers, error positions
 * and messages, scripts, and adversarial input.
 */
#include "coordinator/cql/cql_parser.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct cql_arena *arena;
static struct cerr err;
static char printed[8192];

static void setup(void)
{
	arena = cql_arena_new();
	cr_assert_not_null(arena);
	memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
	cql_arena_free(arena);
}

TestSuite(cql_parser, .init = setup, .fini = teardown);

static struct cql_stmt *parse_ok(const char *text)
{
	struct cql_stmt *s = NULL;
	int rc = cql_parse(arena, text, strlen(text), &s, &err);
	cr_assert_eq(rc, 0, "parse of <%s> failed: %d %s", text, rc, err.msg);
	cr_assert_not_null(s);
	return s;
}

static const char *parse_fail(const char *text, size_t len, int code)
{
	struct cql_stmt *s = NULL;
	memset(&err, 0, sizeof(err));
	int rc = cql_parse(arena, text, len, &s, &err);
	cr_assert_eq(rc, code, "parse of <%.*s>: rc %d (%s), want %d", (int)(len > 200 ? 200 : len),
	             text, rc, err.msg, code);
	cr_assert_null(s, "no statement on failure");
	return err.msg;
}

static const char *fail(const char *text, int code)
{
	return parse_fail(text, strlen(text), code);
}

static const char *print(const struct cql_stmt *s)
{
	struct buf b;
	buf_init(&b);
	cql_stmt_format(s, &b);
	cr_assert(buf_ok(&b));
	cr_assert_lt(b.len, sizeof(printed));
	memcpy(printed, b.data, b.len);
	printed[b.len] = '\0';
	buf_release(&b);
	return printed;
}

static const struct cql_term *where_term(const struct cql_select *q, uint32_t i)
{
	cr_assert_lt(i, q->n_where);
	return q->where[i]->term;
}

/* ------------------------------------------------------------------ SELECT */

Test(cql_parser, select_full)
{
	struct cql_stmt *s = parse_ok("SELECT a, b AS bee FROM ks.t WHERE a = 1 AND b IN (1, 2) "
	                              "AND c > ? ORDER BY c DESC, d LIMIT 10 ALLOW FILTERING;");
	cr_assert_eq(s->kind, CQL_STMT_SELECT);
	const struct cql_select *q = &s->select;
	cr_expect(!q->star && !q->distinct && !q->json);
	cr_assert_eq(q->n_selectors, 2);
	cr_expect_eq(q->selectors[0].kind, CQL_SEL_COLUMN);
	cr_expect_str_eq(q->selectors[0].column.name, "a");
	cr_expect_null(q->selectors[0].alias.name);
	cr_expect_str_eq(q->selectors[1].alias.name, "bee");
	cr_expect_str_eq(q->table.ks.name, "ks");
	cr_expect_str_eq(q->table.name.name, "t");
	cr_assert_eq(q->n_where, 3);
	cr_expect_eq(q->where[0]->kind, CQL_REL_COLUMN);
	cr_expect_eq(q->where[0]->op, CQL_OP_EQ);
	cr_expect_eq(where_term(q, 0)->kind, CQL_TERM_INTEGER);
	cr_expect_eq(where_term(q, 0)->integer.value, 1);
	cr_expect_eq(q->where[1]->op, CQL_OP_IN);
	cr_expect_eq(q->where[1]->n_in, 2);
	cr_expect_eq(q->where[1]->in_items[1]->integer.value, 2);
	cr_expect_eq(q->where[2]->op, CQL_OP_GT);
	cr_expect_eq(where_term(q, 2)->kind, CQL_TERM_BIND);
	cr_assert_eq(q->n_order_by, 2);
	cr_expect_str_eq(q->order_by[0].column.name, "c");
	cr_expect(q->order_by[0].desc);
	cr_expect(!q->order_by[1].desc);
	cr_expect_eq(q->limit->integer.value, 10);
	cr_expect(q->allow_filtering);
	cr_expect_str_eq(s->text, "SELECT a, b AS bee FROM ks.t WHERE a = 1 AND b IN (1, 2) AND "
	                          "c > ? ORDER BY c DESC, d LIMIT 10 ALLOW FILTERING");
	cr_expect_eq(s->pos.line, 1);
	cr_expect_eq(s->pos.col, 0);
}

Test(cql_parser, select_star_without_where)
{
	struct cql_stmt *s = parse_ok("select * from t");
	cr_expect(s->select.star);
	cr_expect_eq(s->select.n_selectors, 0);
	cr_expect_null(s->select.table.ks.name);
	cr_expect_eq(s->select.n_where, 0);
	cr_expect_null(s->select.limit);
	cr_expect_eq(s->n_binds, 0);
	cr_expect_null(s->binds);
}

Test(cql_parser, select_special_selectors)
{
	struct cql_stmt *s = parse_ok("SELECT COUNT(*), count(1), WRITETIME(v), TTL(v) AS t, "
	                              "token(a, b), count(c), toJson(m), ks.f(1, 'x') FROM t");
	const struct cql_select *q = &s->select;
	cr_assert_eq(q->n_selectors, 8);
	cr_expect_eq(q->selectors[0].kind, CQL_SEL_COUNT);
	cr_expect_eq(q->selectors[1].kind, CQL_SEL_COUNT);
	cr_expect_eq(q->selectors[2].kind, CQL_SEL_WRITETIME);
	cr_expect_str_eq(q->selectors[2].column.name, "v");
	cr_expect_eq(q->selectors[3].kind, CQL_SEL_TTL);
	cr_expect_str_eq(q->selectors[3].alias.name, "t");
	cr_expect_eq(q->selectors[4].kind, CQL_SEL_FUNC);
	cr_expect_str_eq(q->selectors[4].func.name.name, "token");
	cr_assert_eq(q->selectors[4].n_args, 2);
	cr_expect_str_eq(q->selectors[4].args[1].column.name, "b");
	cr_expect_eq(q->selectors[5].kind, CQL_SEL_FUNC);
	cr_expect_str_eq(q->selectors[5].func.name.name, "count");
	cr_expect_str_eq(q->selectors[6].func.name.name, "tojson");
	cr_expect_str_eq(q->selectors[7].func.ks.name, "ks");
	cr_expect_eq(q->selectors[7].args[0].kind, CQL_SEL_TERM);
	cr_expect_eq(q->selectors[7].args[1].term->kind, CQL_TERM_STRING);
	cr_expect_str_eq(fail("SELECT COUNT(2) FROM t", COL_ESYNTAX),
	                 "line 1:13 only COUNT(*) and COUNT(1) are supported, not COUNT(2)");
}

Test(cql_parser, select_group_by_and_cast)
{
	struct cql_stmt *s = parse_ok("SELECT k, CAST(max(v) AS text) AS m, cast(toDate(t) AS "
	                              "timestamp) FROM t WHERE k = 1 GROUP BY k, c "
	                              "PER PARTITION LIMIT 2 ALLOW FILTERING");
	const struct cql_select *q = &s->select;
	cr_assert_eq(q->n_group_by, 2);
	cr_expect_str_eq(q->group_by[0].name, "k");
	cr_expect_str_eq(q->group_by[1].name, "c");
	cr_assert_eq(q->selectors[1].kind, CQL_SEL_CAST);
	cr_expect_str_eq(q->selectors[1].cast_type->text, "text");
	cr_expect_str_eq(q->selectors[1].args[0].func.name.name, "max");
	cr_expect_str_eq(q->selectors[1].alias.name, "m");
	cr_expect_str_eq(q->selectors[2].args[0].func.name.name, "todate");
	cr_expect_str_eq(print(s), "SELECT k, CAST(max(v) AS text) AS m, CAST(todate(t) AS "
	                           "timestamp) FROM t WHERE k = 1 GROUP BY k, c PER PARTITION "
	                           "LIMIT 2 ALLOW FILTERING");
	/* cast is not reserved: a column may be called so */
	parse_ok("SELECT cast FROM t GROUP BY cast");
	fail("SELECT CAST(v) FROM t", COL_ESYNTAX);
	fail("SELECT CAST(v AS m AS text) FROM t", COL_ESYNTAX);
	fail("SELECT a FROM t GROUP BY", COL_ESYNTAX);
}

Test(cql_parser, select_distinct_json_and_unreserved_column_names)
{
	struct cql_stmt *s = parse_ok("SELECT DISTINCT a FROM t PER PARTITION LIMIT 2 LIMIT ?");
	cr_expect(s->select.distinct);
	cr_expect_eq(s->select.per_partition_limit->integer.value, 2);
	cr_expect_eq(s->binds[0].role, CQL_BIND_LIMIT);
	s = parse_ok("SELECT JSON * FROM t");
	cr_expect(s->select.json && s->select.star);
	/* words that are keywords elsewhere but not reserved stay usable as names */
	s = parse_ok("SELECT distinct, json, key, ttl, writetime, count, type, values FROM t "
	             "WHERE key = 'local'");
	cr_expect(!s->select.distinct && !s->select.json);
	cr_assert_eq(s->select.n_selectors, 8);
	cr_expect_str_eq(s->select.selectors[0].column.name, "distinct");
	cr_expect_str_eq(s->select.selectors[5].column.name, "count");
	cr_expect_str_eq(s->select.where[0]->cols[0].name, "key");
	s = parse_ok("SELECT distinct FROM t");
	cr_expect(!s->select.distinct);
	cr_expect_eq(s->select.n_selectors, 1);
}

Test(cql_parser, driver_queries_parse)
{
	/* what the Python and Node drivers send at connect time */
	static const char *q[] = {
	        "SELECT * FROM system.peers_v2",
	        "SELECT * FROM system.local WHERE key='local'",
	        "SELECT peer, host_id, rpc_address, schema_version FROM system.peers",
	        "select * from system_schema.tables where keyspace_name='k' and table_name='t'",
	        "SELECT schema_version FROM system.local WHERE key='local'",
	        "USE \"ks\"",
	};
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++)
		parse_ok(q[i]);
}

Test(cql_parser, relations_of_every_shape)
{
	struct cql_stmt *s =
	        parse_ok("SELECT * FROM t WHERE token(a, b) > ? AND token(a, b) <= 100 AND "
	                 "(c1, c2) >= (1, ?) AND (c1, c2) IN ((1, 2), (3, 4)) AND x IN ? AND "
	                 "y IN () AND m CONTAINS KEY 'k' AND l CONTAINS 3 AND m['k'] = 1 AND "
	                 "n != 2 AND s LIKE 'a%' AND ((z < 5))");
	const struct cql_select *q = &s->select;
	cr_assert_eq(q->n_where, 12);
	cr_expect_eq(q->where[0]->kind, CQL_REL_TOKEN);
	cr_expect_eq(q->where[0]->n_cols, 2);
	cr_expect_str_eq(q->where[0]->cols[1].name, "b");
	cr_expect_eq(q->where[1]->op, CQL_OP_LTE);
	cr_expect_eq(q->where[2]->kind, CQL_REL_MULTI);
	cr_expect_eq(q->where[2]->term->kind, CQL_TERM_TUPLE);
	cr_expect_eq(q->where[2]->term->coll.n_items, 2);
	cr_expect_eq(q->where[3]->n_in, 2);
	cr_expect_eq(q->where[3]->in_items[1]->kind, CQL_TERM_TUPLE);
	cr_expect_eq(q->where[4]->n_in, 0);
	cr_expect_eq(q->where[4]->term->kind, CQL_TERM_BIND);
	cr_expect_eq(q->where[5]->op, CQL_OP_IN);
	cr_expect_eq(q->where[5]->n_in, 0);
	cr_expect_null(q->where[5]->term);
	cr_expect_eq(q->where[6]->op, CQL_OP_CONTAINS_KEY);
	cr_expect_eq(q->where[7]->op, CQL_OP_CONTAINS);
	cr_expect_eq(q->where[8]->kind, CQL_REL_ELEMENT);
	cr_expect_str_eq(q->where[8]->key->text, "k");
	cr_expect_eq(q->where[9]->op, CQL_OP_NEQ);
	cr_expect_eq(q->where[10]->op, CQL_OP_LIKE);
	cr_expect_eq(q->where[11]->op, CQL_OP_LT);
	cr_expect_str_eq(q->where[11]->cols[0].name, "z");
}

/* ----------------------------------------------------------------- INSERT */

Test(cql_parser, insert_with_options)
{
	struct cql_stmt *s = parse_ok("INSERT INTO ks.t (a, b, c) VALUES (1, 'two', [3]) "
	                              "IF NOT EXISTS USING TTL 86400 AND TIMESTAMP 123456789");
	const struct cql_insert *q = &s->insert;
	cr_assert_eq(q->n_columns, 3);
	cr_expect_str_eq(q->columns[2].name, "c");
	cr_expect_eq(q->values[1]->kind, CQL_TERM_STRING);
	cr_expect_str_eq(q->values[1]->text, "two");
	cr_expect_eq(q->values[2]->kind, CQL_TERM_LIST);
	cr_expect(q->if_not_exists);
	cr_expect_eq(q->using.ttl->integer.value, 86400);
	cr_expect_eq(q->using.timestamp->integer.value, 123456789);
	s = parse_ok("INSERT INTO t (a) VALUES (1) USING TIMESTAMP 5 AND TTL 7");
	cr_expect_eq(s->insert.using.ttl->integer.value, 7);
	cr_expect_eq(s->insert.using.timestamp->integer.value, 5);
	cr_expect(!s->insert.if_not_exists);
	s = parse_ok("INSERT INTO t JSON '{\"a\": 1}'");
	cr_expect(s->insert.json);
	cr_expect_str_eq(s->insert.values[0]->text, "{\"a\": 1}");
	cr_expect(!s->insert.default_unset);
	s = parse_ok("INSERT INTO t JSON ? DEFAULT UNSET USING TTL 5");
	cr_expect(s->insert.default_unset);
	cr_expect_eq(s->n_binds, 1);
	cr_expect_eq(s->binds[0].role, CQL_BIND_JSON);
	s = parse_ok("INSERT INTO t JSON '{}' DEFAULT NULL");
	cr_expect(!s->insert.default_unset);
}

Test(cql_parser, insert_count_mismatch_is_invalid)
{
	cr_expect_str_eq(fail("INSERT INTO t (a, b) VALUES (1)", COL_EINVAL),
	                 "line 1:21 Unmatched column names/values: 2 columns but 1 values");
	fail("INSERT INTO t (a) VALUES (1, 2)", COL_EINVAL);
	fail("INSERT INTO t (a) VALUES (1) USING TTL 1 AND TTL 2", COL_ESYNTAX);
}

/* ----------------------------------------------------------------- UPDATE */

Test(cql_parser, update_assignments)
{
	struct cql_stmt *s = parse_ok("UPDATE t USING TTL 10 SET a = 1, l = l + [2], l = [0] + l, "
	                              "s = s - {'x'}, m['k'] = 'v', c = c - 1, n += 2, o -= 3 "
	                              "WHERE k = 0 IF a = 1 AND m['k'] = 'w'");
	const struct cql_update *q = &s->update;
	cr_expect_eq(q->using.ttl->integer.value, 10);
	cr_assert_eq(q->n_assignments, 8);
	cr_expect_eq(q->assignments[0]->kind, CQL_ASSIGN_SET);
	cr_expect_eq(q->assignments[1]->kind, CQL_ASSIGN_ADD);
	cr_expect_eq(q->assignments[1]->value->kind, CQL_TERM_LIST);
	cr_expect_eq(q->assignments[2]->kind, CQL_ASSIGN_PREPEND);
	cr_expect_eq(q->assignments[3]->kind, CQL_ASSIGN_SUB);
	cr_expect_eq(q->assignments[3]->value->kind, CQL_TERM_SET);
	cr_expect_eq(q->assignments[4]->kind, CQL_ASSIGN_ELEMENT);
	cr_expect_str_eq(q->assignments[4]->key->text, "k");
	cr_expect_eq(q->assignments[5]->kind, CQL_ASSIGN_SUB);
	cr_expect_eq(q->assignments[5]->value->integer.value, 1);
	cr_expect_eq(q->assignments[6]->kind, CQL_ASSIGN_ADD);
	cr_expect_eq(q->assignments[7]->kind, CQL_ASSIGN_SUB);
	cr_expect_eq(q->n_where, 1);
	cr_expect(!q->cond.if_exists);
	cr_assert_eq(q->cond.n_conds, 2);
	cr_expect_eq(q->cond.conds[1]->kind, CQL_REL_ELEMENT);
	s = parse_ok("UPDATE t SET a = ? WHERE k = ? IF EXISTS");
	cr_expect(s->update.cond.if_exists);
	cr_expect_str_eq(fail("UPDATE t SET a = b + 1 WHERE k = 0", COL_ESYNTAX),
	                 "line 1:17 only expressions of the form a = a + <value> are supported "
	                 "(found b)");
	cr_expect_str_eq(fail("UPDATE t SET a = [1] + b WHERE k = 0", COL_ESYNTAX),
	                 "line 1:23 only expressions of the form a = <value> + a are supported "
	                 "(found b)");
	fail("UPDATE t SET a = 1", COL_ESYNTAX); /* WHERE is required */
}

/* ----------------------------------------------------------------- DELETE */

Test(cql_parser, delete_forms)
{
	struct cql_stmt *s = parse_ok("DELETE FROM t USING TIMESTAMP 99 WHERE k = 1");
	cr_expect_eq(s->del.n_targets, 0);
	cr_expect_eq(s->del.using.timestamp->integer.value, 99);
	s = parse_ok("DELETE a, m['k'], l[?] FROM ks.t WHERE k = 1 AND c > 2 IF EXISTS");
	cr_assert_eq(s->del.n_targets, 3);
	cr_expect_null(s->del.targets[0]->key);
	cr_expect_str_eq(s->del.targets[1]->key->text, "k");
	cr_expect_eq(s->binds[0].role, CQL_BIND_SUBSCRIPT);
	cr_expect_str_eq(s->binds[0].column->name, "l");
	cr_expect(s->del.cond.if_exists);
	cr_expect_str_eq(fail("DELETE FROM t USING TTL 5 WHERE k = 1", COL_ESYNTAX),
	                 "line 1:20 mismatched input 'TTL' expecting K_TIMESTAMP "
	                 "(DELETE FROM t USING [TTL] 5...)");
}

/* ------------------------------------------------------------------ BATCH */

Test(cql_parser, batch_statements_and_bind_slices)
{
	struct cql_stmt *s = parse_ok("BEGIN UNLOGGED BATCH USING TIMESTAMP ?\n"
	                              "  INSERT INTO t (a, b) VALUES (?, ?);\n"
	                              "  UPDATE t SET b = ? WHERE a = ?\n"
	                              "  DELETE FROM t WHERE a = 3;\n"
	                              "APPLY BATCH;");
	cr_assert_eq(s->kind, CQL_STMT_BATCH);
	const struct cql_batch *q = &s->batch;
	cr_expect_eq(q->type, CQL_BATCH_UNLOGGED);
	cr_assert_eq(q->n_stmts, 3);
	cr_expect_eq(q->stmts[0]->kind, CQL_STMT_INSERT);
	cr_expect_eq(q->stmts[1]->kind, CQL_STMT_UPDATE);
	cr_expect_eq(q->stmts[2]->kind, CQL_STMT_DELETE);
	cr_expect_str_eq(q->stmts[1]->text, "UPDATE t SET b = ? WHERE a = ?");
	cr_expect_eq(q->stmts[1]->pos.line, 3);
	cr_expect_eq(q->stmts[1]->pos.col, 2);
	cr_assert_eq(s->n_binds, 5);
	cr_expect_eq(s->binds[0].role, CQL_BIND_TIMESTAMP);
	cr_expect_eq(s->binds[0].stmt, s);
	cr_assert_eq(q->stmts[0]->n_binds, 2);
	cr_expect_eq(q->stmts[0]->binds, &s->binds[1]);
	cr_expect_eq(q->stmts[0]->binds[1].index, 2);
	cr_expect_eq(q->stmts[0]->binds[1].stmt, q->stmts[0]);
	cr_assert_eq(q->stmts[1]->n_binds, 2);
	cr_expect_eq(q->stmts[1]->binds[0].index, 3);
	cr_expect_str_eq(q->stmts[1]->binds[0].column->name, "b");
	cr_expect_eq(q->stmts[2]->n_binds, 0);
	cr_expect_null(q->stmts[2]->binds);

	s = parse_ok("BEGIN BATCH APPLY BATCH");
	cr_expect_eq(s->batch.type, CQL_BATCH_LOGGED);
	cr_expect_eq(s->batch.n_stmts, 0);
	cr_expect_eq(parse_ok("begin counter batch update c set n = n + 1 where k = 1 apply batch")
	                     ->batch.type,
	             CQL_BATCH_COUNTER);
	cr_expect_str_eq(fail("BEGIN BATCH SELECT * FROM t; APPLY BATCH", COL_ESYNTAX),
	                 "line 1:12 mismatched input 'SELECT' expecting K_INSERT, K_UPDATE, "
	                 "K_DELETE or K_APPLY (BEGIN BATCH [SELECT] *...)");
	fail("BEGIN BATCH INSERT INTO t (a) VALUES (1)", COL_ESYNTAX); /* no APPLY */
	fail("BEGIN BATCH USING TTL 5 APPLY BATCH", COL_ESYNTAX);
}

/* -------------------------------------------------------------------- DDL */

Test(cql_parser, create_keyspace_simple_and_nts)
{
	struct cql_stmt *s = parse_ok(
	        "CREATE KEYSPACE IF NOT EXISTS Shop WITH replication = {'class': 'SimpleStrategy', "
	        "'replication_factor': 3} AND durable_writes = true");
	cr_assert_eq(s->kind, CQL_STMT_CREATE_KEYSPACE);
	const struct cql_keyspace_stmt *q = &s->keyspace;
	cr_expect(q->if_not_exists);
	cr_expect_str_eq(q->keyspace.name, "shop");
	cr_assert_eq(q->n_options, 2);
	cr_expect_str_eq(q->options[0].name.name, "replication");
	const struct cql_term *m = q->options[0].value;
	cr_assert_eq(m->kind, CQL_TERM_MAP);
	cr_assert_eq(m->map.n_entries, 2);
	cr_expect_str_eq(m->map.keys[0]->text, "class");
	cr_expect_str_eq(m->map.values[0]->text, "SimpleStrategy");
	cr_expect_eq(m->map.values[1]->integer.value, 3);
	cr_expect_eq(q->options[1].value->kind, CQL_TERM_BOOL);
	cr_expect(q->options[1].value->boolean);

	s = parse_ok("CREATE SCHEMA k WITH replication = {'class': 'NetworkTopologyStrategy', "
	             "'dc1': 3, 'dc2': '2'}");
	cr_expect_eq(s->keyspace.options[0].value->map.n_entries, 3);
	s = parse_ok("ALTER KEYSPACE k WITH durable_writes = false");
	cr_expect_eq(s->kind, CQL_STMT_ALTER_KEYSPACE);
	s = parse_ok("DROP KEYSPACE IF EXISTS k");
	cr_expect_eq(s->kind, CQL_STMT_DROP_KEYSPACE);
	cr_expect(s->keyspace.if_exists);
	cr_expect_str_eq(
	        fail("CREATE KEYSPACE k", COL_ESYNTAX),
	        "line 1:17 mismatched input '<EOF>' expecting K_WITH (CREATE KEYSPACE k[])");
	fail("CREATE KEYSPACE k WITH a = 1 AND a = 2", COL_ESYNTAX);
}

Test(cql_parser, create_table_composite_key_and_options)
{
	struct cql_stmt *s = parse_ok(
	        "CREATE TABLE IF NOT EXISTS ks.t (a int, b text, c timestamp, d bigint, "
	        "l list<int>, s set<text>, m map<text, int>, f frozen<map<text, list<int>>>, "
	        "st text static, PRIMARY KEY ((a, b), c, d)) WITH CLUSTERING ORDER BY (c DESC, d "
	        "ASC) "
	        "AND default_time_to_live = 0 AND gc_grace_seconds = 864000 AND comment = 'x' "
	        "AND compaction = {'class': 'LeveledCompactionStrategy'} AND speculative_retry = "
	        "'99p' AND caching = {'keys': 'ALL'}");
	const struct cql_create_table *q = &s->create_table;
	cr_expect(q->if_not_exists);
	cr_expect_str_eq(q->table.ks.name, "ks");
	cr_assert_eq(q->n_columns, 9);
	cr_expect_str_eq(q->columns[0].type->name, "int");
	cr_expect_str_eq(q->columns[4].type->text, "list<int>");
	cr_expect_str_eq(q->columns[5].type->name, "set");
	cr_expect_str_eq(q->columns[6].type->text, "map<text, int>");
	cr_expect_eq(q->columns[6].type->n_args, 2);
	cr_expect_str_eq(q->columns[7].type->text, "frozen<map<text, list<int>>>");
	cr_expect_str_eq(q->columns[7].type->args[0]->args[1]->name, "list");
	cr_expect(q->columns[8].is_static);
	cr_assert_eq(q->n_partition_key, 2);
	cr_expect_str_eq(q->partition_key[1].name, "b");
	cr_assert_eq(q->n_clustering_key, 2);
	cr_expect_str_eq(q->clustering_key[0].name, "c");
	cr_assert_eq(q->n_clustering_order, 2);
	cr_expect(q->clustering_order[0].desc);
	cr_expect(!q->clustering_order[1].desc);
	cr_assert_eq(q->n_options, 6);
	cr_expect_str_eq(q->options[1].name.name, "gc_grace_seconds");
	cr_expect_eq(q->options[1].value->integer.value, 864000);
	cr_expect_eq(q->options[3].value->kind, CQL_TERM_MAP);
	cr_expect_eq(q->columns[0].name.pos.col, 33);
}

Test(cql_parser, create_table_inline_and_single_keys)
{
	/* no column definitions, only the key: the print parses back (found by the parser fuzz
	 * target) */
	struct cql_stmt *nk = parse_ok("CREATE TABLE t (PRIMARY KEY (k))");
	cr_expect_str_eq(print(nk), "CREATE TABLE t (PRIMARY KEY ((k)))");
	parse_ok(print(nk));
	struct cql_stmt *s = parse_ok("create table t (id uuid PRIMARY KEY, v text,)");
	cr_assert_eq(s->create_table.n_partition_key, 1);
	cr_expect_str_eq(s->create_table.partition_key[0].name, "id");
	cr_expect_eq(s->create_table.n_clustering_key, 0);
	cr_expect_eq(s->create_table.n_columns, 2);
	s = parse_ok(
	        "CREATE COLUMNFAMILY t (a int, b int, PRIMARY KEY (a, b)) WITH COMPACT STORAGE");
	cr_expect_eq(s->create_table.n_partition_key, 1);
	cr_expect_eq(s->create_table.n_clustering_key, 1);
	cr_expect(s->create_table.compact_storage);
	cr_expect_str_eq(
	        fail("CREATE TABLE t (a int PRIMARY KEY, b int, PRIMARY KEY (b))", COL_EINVAL),
	        "line 1:42 Multiple PRIMARY KEYs specified (exactly one required)");
	cr_expect_str_eq(fail("CREATE TABLE t (a int, b int)", COL_EINVAL),
	                 "line 1:0 No PRIMARY KEY specified (exactly one required)");
	cr_expect_str_eq(fail("CREATE TABLE t (a map<int>, PRIMARY KEY (a))", COL_ESYNTAX),
	                 "line 1:18 map takes 2 type arguments, not 1: map<text, int>");
	fail("CREATE TABLE t (a list, PRIMARY KEY (a))", COL_ESYNTAX);
	s = parse_ok("CREATE TABLE t (a int PRIMARY KEY, u ks.\"MyType\", v \"Other\", "
	             "w tuple<int, text>, x 'org.example.Custom', y SET<INT>)");
	cr_expect_str_eq(s->create_table.columns[1].type->name, "ks.MyType");
	cr_expect_str_eq(s->create_table.columns[1].type->text, "ks.\"MyType\"");
	cr_expect(s->create_table.columns[1].type->quoted);
	cr_expect_str_eq(s->create_table.columns[2].type->text, "\"Other\"");
	cr_expect_str_eq(s->create_table.columns[3].type->text, "tuple<int, text>");
	cr_expect_str_eq(s->create_table.columns[4].type->name, "org.example.Custom");
	cr_expect_str_eq(s->create_table.columns[4].type->text, "'org.example.Custom'");
	cr_expect_str_eq(s->create_table.columns[5].type->text, "set<int>");
	fail("CREATE TABLE t ()", COL_ESYNTAX);
}

Test(cql_parser, alter_drop_truncate_use)
{
	struct cql_stmt *s = parse_ok("ALTER TABLE ks.t ADD c int");
	cr_assert_eq(s->alter_table.kind, CQL_ALTER_ADD);
	cr_expect_eq(s->alter_table.n_add, 1);
	cr_expect_str_eq(s->alter_table.add[0].type->name, "int");
	s = parse_ok("ALTER TABLE t ADD (c int, d map<int, text> static)");
	cr_expect_eq(s->alter_table.n_add, 2);
	cr_expect(s->alter_table.add[1].is_static);
	s = parse_ok("ALTER TABLE t DROP c");
	cr_expect_eq(s->alter_table.kind, CQL_ALTER_DROP);
	cr_expect_str_eq(s->alter_table.drop[0].name, "c");
	s = parse_ok("ALTER TABLE t DROP (c, d)");
	cr_expect_eq(s->alter_table.n_drop, 2);
	s = parse_ok("ALTER TABLE t WITH default_time_to_live = 60 AND comment = 'c'");
	cr_expect_eq(s->alter_table.kind, CQL_ALTER_WITH);
	cr_expect_eq(s->alter_table.n_options, 2);
	s = parse_ok("ALTER TABLE t RENAME a TO b AND c TO d");
	cr_expect_eq(s->alter_table.kind, CQL_ALTER_RENAME);
	cr_expect_eq(s->alter_table.n_rename, 2);
	cr_expect_str_eq(s->alter_table.rename_to[1].name, "d");
	s = parse_ok("ALTER TABLE t ALTER a TYPE blob");
	cr_expect_eq(s->alter_table.kind, CQL_ALTER_TYPE);
	s = parse_ok("DROP TABLE IF EXISTS ks.t");
	cr_expect_eq(s->kind, CQL_STMT_DROP_TABLE);
	cr_expect(s->drop_table.if_exists);
	s = parse_ok("TRUNCATE ks.t");
	cr_expect_eq(s->kind, CQL_STMT_TRUNCATE);
	cr_expect_str_eq(s->truncate.table.name.name, "t");
	s = parse_ok("TRUNCATE TABLE t");
	cr_expect_eq(s->kind, CQL_STMT_TRUNCATE);
	s = parse_ok("USE \"MyKs\"");
	cr_expect_str_eq(s->use.keyspace.name, "MyKs");
	cr_expect(s->use.keyspace.quoted);
	fail("ALTER TABLE t FROB c", COL_ESYNTAX);
}

Test(cql_parser, create_and_drop_index)
{
	struct cql_stmt *s = parse_ok("CREATE INDEX ON t (v)");
	cr_assert_eq(s->kind, CQL_STMT_CREATE_INDEX);
	cr_expect_null(s->create_index.name.name);
	cr_expect_null(s->create_index.table.ks.name);
	cr_expect_str_eq(s->create_index.table.name.name, "t");
	cr_expect_str_eq(s->create_index.column.name, "v");
	cr_expect_eq(s->create_index.target, CQL_INDEX_PLAIN);
	cr_expect_str_eq(print(s), "CREATE INDEX ON t (v)");
	s = parse_ok("create index if not exists \"Idx\" on ks.t (keys(m))");
	cr_expect(s->create_index.if_not_exists);
	cr_expect_str_eq(s->create_index.name.name, "Idx");
	cr_expect_str_eq(s->create_index.table.ks.name, "ks");
	cr_expect_eq(s->create_index.target, CQL_INDEX_KEYS);
	cr_expect_str_eq(print(s), "CREATE INDEX IF NOT EXISTS \"Idx\" ON ks.t (KEYS(m))");
	cr_expect_eq(parse_ok("CREATE INDEX i ON t (VALUES(s))")->create_index.target,
	             CQL_INDEX_VALUES);
	cr_expect_eq(parse_ok("CREATE INDEX i ON t (ENTRIES(m))")->create_index.target,
	             CQL_INDEX_ENTRIES);
	s = parse_ok("CREATE INDEX i ON t (FULL(f))");
	cr_expect_eq(s->create_index.target, CQL_INDEX_FULL);
	cr_expect_str_eq(print(s), "CREATE INDEX i ON t (FULL(f))");
	/* a column named like a target function is a plain column */
	s = parse_ok("CREATE INDEX i ON t (keys)");
	cr_expect_eq(s->create_index.target, CQL_INDEX_PLAIN);
	cr_expect_str_eq(s->create_index.column.name, "keys");
	s = parse_ok("DROP INDEX IF EXISTS ks.i");
	cr_assert_eq(s->kind, CQL_STMT_DROP_INDEX);
	cr_expect(s->drop_index.if_exists);
	cr_expect_str_eq(s->drop_index.index.ks.name, "ks");
	cr_expect_str_eq(s->drop_index.index.name.name, "i");
	cr_expect_str_eq(print(s), "DROP INDEX IF EXISTS ks.i");
	fail("CREATE INDEX i ON t v", COL_ESYNTAX);
	fail("CREATE INDEX i ON t (KEYS(m)", COL_ESYNTAX);
	fail("CREATE INDEX i t (v)", COL_ESYNTAX);
	fail("DROP INDEX", COL_ESYNTAX);
}

Test(cql_parser, unsupported_statements_say_so)
{
	cr_expect_str_eq(fail("CREATE CUSTOM INDEX ON t (a) USING 'x'", COL_EUNSUPPORTED),
	                 "line 1:0 CREATE CUSTOM INDEX is not supported by colonnade");
	fail("ALTER INDEX i", COL_EUNSUPPORTED);
	cr_expect_str_eq(fail("  create materialized view v as select * from t", COL_EUNSUPPORTED),
	                 "line 1:2 CREATE MATERIALIZED VIEW is not supported by colonnade");
	fail("ALTER TYPE t ALTER a TYPE blob", COL_EUNSUPPORTED);
}

Test(cql_parser, type_statements)
{
	struct cql_stmt *s = parse_ok("create type if not exists ks.addr (street text, "
	                              "\"Zip\" int, tags frozen<set<text>>, home frozen<other>)");
	cr_assert_eq(s->kind, CQL_STMT_CREATE_TYPE);
	cr_expect(s->type_stmt.if_not_exists);
	cr_expect_str_eq(s->type_stmt.type.ks.name, "ks");
	cr_expect_str_eq(s->type_stmt.type.name.name, "addr");
	cr_assert_eq(s->type_stmt.n_fields, 4);
	cr_expect_str_eq(s->type_stmt.fields[1].name.name, "Zip");
	cr_expect_str_eq(print(s), "CREATE TYPE IF NOT EXISTS ks.addr (street text, \"Zip\" int, "
	                           "tags frozen<set<text>>, home frozen<other>)");
	s = parse_ok("ALTER TYPE addr ADD zip int");
	cr_assert_eq(s->kind, CQL_STMT_ALTER_TYPE);
	cr_expect_not(s->type_stmt.rename);
	cr_expect_str_eq(print(s), "ALTER TYPE addr ADD zip int");
	s = parse_ok("ALTER TYPE ks.addr RENAME a TO b AND c TO d");
	cr_expect(s->type_stmt.rename);
	cr_assert_eq(s->type_stmt.n_rename, 2);
	cr_expect_str_eq(s->type_stmt.rename_to[1].name, "d");
	cr_expect_str_eq(print(s), "ALTER TYPE ks.addr RENAME a TO b AND c TO d");
	s = parse_ok("DROP TYPE IF EXISTS addr");
	cr_assert_eq(s->kind, CQL_STMT_DROP_TYPE);
	cr_expect(s->type_stmt.if_exists);
	cr_expect_str_eq(print(s), "DROP TYPE IF EXISTS addr");
	s = parse_ok("INSERT INTO t (k, a) VALUES (1, {street: 'x', \"Zip\": 1, h: {c: null}})");
	const struct cql_term *u = s->insert.values[1];
	cr_assert_eq(u->kind, CQL_TERM_UDT);
	cr_assert_eq(u->udt.n_fields, 3);
	cr_expect_str_eq(u->udt.names[1].name, "Zip");
	cr_expect_eq(u->udt.values[2]->kind, CQL_TERM_UDT);
	cr_expect_str_eq(
	        print(s),
	        "INSERT INTO t (k, a) VALUES (1, {street: 'x', \"Zip\": 1, h: {c: null}})");
	cr_expect_eq(parse_ok("INSERT INTO t (k, m) VALUES (1, {true: 1})")->insert.values[1]->kind,
	             CQL_TERM_MAP);
	s = parse_ok("INSERT INTO t (k, a) VALUES (1, {a: ?, \"B\": :bee, n: {c: ?}})");
	cr_assert_eq(s->n_binds, 3);
	cr_expect_eq(s->binds[0].role, CQL_BIND_FIELD);
	cr_expect_str_eq(s->binds[0].column->name, "a");
	cr_expect_str_eq(s->binds[0].field->name, "a");
	cr_expect_eq(s->binds[1].role, CQL_BIND_FIELD);
	cr_expect_str_eq(s->binds[1].field->name, "B");
	cr_expect_str_eq(s->binds[1].name, "bee");
	cr_expect_eq(s->binds[2].role, CQL_BIND_NESTED, "a field of a nested literal");
	cr_assert_not_null(s->binds[2].step);
	cr_expect_eq(s->binds[2].step->kind, CQL_STEP_FIELD);
	cr_expect_str_eq(s->binds[2].step->field->name, "c");
	cr_assert_not_null(s->binds[2].step->up);
	cr_expect_eq(s->binds[2].step->up->kind, CQL_STEP_FIELD);
	cr_expect_str_eq(s->binds[2].step->up->field->name, "n");
	cr_expect_null(s->binds[2].step->up->up);
	cr_expect_str_eq(print(s),
	                 "INSERT INTO t (k, a) VALUES (1, {a: ?, \"B\": :bee, n: {c: ?}})");
	s = parse_ok("UPDATE t SET l = [{a: ?}], tp = (1, ?), m[?] = [?] WHERE k = 1");
	cr_assert_eq(s->n_binds, 4);
	cr_expect_eq(s->binds[0].role, CQL_BIND_NESTED);
	cr_expect_eq(s->binds[0].step->kind, CQL_STEP_FIELD);
	cr_expect_eq(s->binds[0].step->up->kind, CQL_STEP_ELEMENT);
	cr_expect_eq(s->binds[1].role, CQL_BIND_NESTED);
	cr_expect_eq(s->binds[1].step->kind, CQL_STEP_ITEM);
	cr_expect_eq(s->binds[1].step->index, 1);
	cr_expect_null(s->binds[1].step->up);
	cr_expect_eq(s->binds[2].role, CQL_BIND_SUBSCRIPT);
	cr_expect_eq(s->binds[3].role, CQL_BIND_NESTED);
	cr_expect_eq(s->binds[3].step->kind, CQL_STEP_ELEMENT);
	cr_expect_eq(s->binds[3].step->up->kind, CQL_STEP_SUBVALUE);
	s = parse_ok("UPDATE t SET a.city = ?, a.\"Zip\" = null, b = 1 WHERE k = 1");
	cr_assert_eq(s->update.n_assignments, 3);
	cr_expect_eq(s->update.assignments[0]->kind, CQL_ASSIGN_FIELD);
	cr_expect_str_eq(s->update.assignments[0]->field.name, "city");
	cr_expect_str_eq(s->update.assignments[1]->field.name, "Zip");
	cr_expect_eq(s->binds[0].role, CQL_BIND_FIELD);
	cr_expect_str_eq(s->binds[0].column->name, "a");
	cr_expect_str_eq(s->binds[0].field->name, "city");
	cr_expect_str_eq(print(s), "UPDATE t SET a.city = ?, a.\"Zip\" = null, b = 1 WHERE k = 1");
	s = parse_ok("DELETE a.city, m['k'], v FROM t WHERE k = 1");
	cr_assert_eq(s->del.n_targets, 3);
	cr_expect_str_eq(s->del.targets[0]->field.name, "city");
	cr_expect_null(s->del.targets[1]->field.name);
	cr_expect_str_eq(print(s), "DELETE a.city, m['k'], v FROM t WHERE k = 1");
	fail("UPDATE t SET a. = 1 WHERE k = 1", COL_ESYNTAX);
	fail("UPDATE t SET a.b + 1 WHERE k = 1", COL_ESYNTAX);
	fail("DELETE a.'b' FROM t WHERE k = 1", COL_ESYNTAX);
	fail("INSERT INTO t (k, a) VALUES (1, {a: 1, 'b': 2})", COL_ESYNTAX);
	fail("CREATE TYPE t ()", COL_ESYNTAX);
	fail("CREATE TYPE t (a int", COL_ESYNTAX);
	fail("CREATE TYPE t", COL_ESYNTAX);
	fail("ALTER TYPE t DROP a", COL_ESYNTAX);
	fail("ALTER TYPE t RENAME a b", COL_ESYNTAX);
	fail("DROP TYPE", COL_ESYNTAX);
}

/* ------------------------------------------------------ roles and permissions */

Test(cql_parser, roles_and_permissions)
{
	struct cql_stmt *s =
	        parse_ok("CREATE ROLE IF NOT EXISTS Bob WITH PASSWORD = 'p''w' AND LOGIN = true");
	cr_expect_eq(s->kind, CQL_STMT_CREATE_ROLE);
	cr_expect_str_eq(s->role.role, "bob", "unquoted names fold");
	cr_expect_str_eq(s->role.password, "p'w");
	cr_expect_eq(s->role.login, 1);
	cr_expect_eq(s->role.superuser, -1);
	cr_expect(s->role.if_not_exists);
	cr_expect_str_eq(print(s),
	                 "CREATE ROLE IF NOT EXISTS 'bob' WITH PASSWORD = 'p''w' AND LOGIN = true");
	s = parse_ok("create user 'Alice' with password 'x' nosuperuser");
	cr_expect_eq(s->kind, CQL_STMT_CREATE_ROLE);
	cr_expect_str_eq(s->role.role, "Alice", "string names keep their case");
	cr_expect_eq(s->role.login, 1, "CREATE USER logs in");
	cr_expect_eq(s->role.superuser, 0);
	cr_expect_str_eq(print(s), "CREATE USER 'Alice' WITH PASSWORD 'x' NOSUPERUSER");
	s = parse_ok("ALTER ROLE bob WITH SUPERUSER = false");
	cr_expect_eq(s->kind, CQL_STMT_ALTER_ROLE);
	cr_expect_eq(s->role.superuser, 0);
	s = parse_ok("DROP USER IF EXISTS bob");
	cr_expect(s->kind == CQL_STMT_DROP_ROLE && s->role.if_exists && s->role.user_syntax);
	s = parse_ok("GRANT readers TO bob");
	cr_expect_eq(s->kind, CQL_STMT_GRANT_ROLE);
	cr_expect_str_eq(s->role.grantee, "bob");
	s = parse_ok("REVOKE readers FROM bob");
	cr_expect_eq(s->kind, CQL_STMT_REVOKE_ROLE);
	s = parse_ok("GRANT SELECT ON ks.t TO bob");
	cr_expect_eq(s->kind, CQL_STMT_GRANT_PERMISSION);
	cr_expect_eq(s->grant.perms, 1u << CQL_PERM_SELECT);
	cr_expect_eq(s->grant.resource.kind, CQL_RES_TABLE);
	cr_expect_str_eq(s->grant.resource.table.ks.name, "ks");
	cr_expect_str_eq(print(s), "GRANT SELECT PERMISSION ON TABLE ks.t TO 'bob'");
	s = parse_ok("GRANT ALL PERMISSIONS ON ALL KEYSPACES TO bob");
	cr_expect(s->grant.all && s->grant.perms == CQL_PERM_ALL_MASK);
	cr_expect_eq(s->grant.resource.kind, CQL_RES_ALL_KEYSPACES);
	s = parse_ok("REVOKE MODIFY ON KEYSPACE ks FROM bob");
	cr_expect_eq(s->kind, CQL_STMT_REVOKE_PERMISSION);
	cr_expect_eq(s->grant.resource.kind, CQL_RES_KEYSPACE);
	s = parse_ok("GRANT AUTHORIZE ON ROLE 'x' TO bob");
	cr_expect_eq(s->grant.resource.kind, CQL_RES_ROLE);
	s = parse_ok("LIST ALL PERMISSIONS ON ALL ROLES OF bob NORECURSIVE");
	cr_expect(s->kind == CQL_STMT_LIST_PERMISSIONS && s->grant.norecursive &&
	          s->grant.has_resource && !strcmp(s->grant.role, "bob"));
	s = parse_ok("LIST SELECT OF bob");
	cr_expect(s->kind == CQL_STMT_LIST_PERMISSIONS && !s->grant.has_resource);
	s = parse_ok("LIST ROLES OF bob");
	cr_expect(s->kind == CQL_STMT_LIST_ROLES && !strcmp(s->role.role, "bob"));
	s = parse_ok("LIST USERS");
	cr_expect(s->kind == CQL_STMT_LIST_ROLES && s->role.user_syntax);
	cr_expect(strstr(fail("ALTER ROLE bob", COL_ESYNTAX), "K_WITH"), "%s", err.msg);
	cr_expect(strstr(fail("CREATE ROLE r WITH LOGIN = true AND LOGIN = false", COL_ESYNTAX),
	                 "Multiple definition for property LOGIN"),
	          "%s", err.msg);
	fail("CREATE ROLE r WITH OPTIONS = {}", COL_ESYNTAX);
	fail("GRANT EXECUTE ON ks.t TO r", COL_ESYNTAX);
	fail("GRANT SELECT ON ks.t r", COL_ESYNTAX);
	fail("CREATE ROLE ''", COL_ESYNTAX);
}

/* What the parser fuzz target checks, for every role statement form: the canonical
 * text parses back to a tree that prints the same. */
Test(cql_parser, role_statements_print_back)
{
	static const char *const texts[] = {
	        "CREATE ROLE r",
	        "create role if not exists \"Quoted\" with login = false and superuser = true",
	        "CREATE ROLE 'it''s' WITH PASSWORD = $$p'w$$",
	        "CREATE USER u WITH PASSWORD 'x' SUPERUSER",
	        "ALTER USER u NOSUPERUSER",
	        "ALTER USER u WITH PASSWORD 'y'",
	        "ALTER ROLE r WITH LOGIN = true AND PASSWORD = 'z'",
	        "DROP ROLE IF EXISTS r",
	        "DROP USER u",
	        "GRANT r TO u",
	        "REVOKE 'R' FROM \"U\"",
	        "GRANT ALL ON ALL KEYSPACES TO r",
	        "GRANT SELECT PERMISSION ON t TO r",
	        "GRANT MODIFY ON COLUMNFAMILY ks.t TO r",
	        "REVOKE AUTHORIZE ON ROLE other FROM r",
	        "GRANT DESCRIBE ON ALL ROLES TO r",
	        "LIST ALL",
	        "LIST ALL PERMISSIONS ON KEYSPACE ks OF r NORECURSIVE",
	        "LIST DROP OF r",
	        "LIST ROLES",
	        "LIST ROLES OF r NORECURSIVE",
	        "LIST USERS",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		char *once = strdup(print(parse_ok(texts[i])));
		cr_assert(once);
		const char *twice = print(parse_ok(once));
		cr_expect_str_eq(twice, once, "<%s> prints as <%s>, which prints as <%s>", texts[i],
		                 once, twice);
		free(once);
	}
}

/* ---------------------------------------------------------------- literals */

static const struct cql_term *value_of(const char *literal)
{
	char text[512];
	snprintf(text, sizeof(text), "INSERT INTO t (v) VALUES (%s)", literal);
	struct cql_stmt *s = parse_ok(text);
	return s->insert.values[0];
}

Test(cql_parser, integer_literals)
{
	const struct cql_term *t = value_of("0");
	cr_expect_eq(t->kind, CQL_TERM_INTEGER);
	cr_expect(t->integer.fits);
	cr_expect_eq(t->integer.value, 0);
	t = value_of("-42");
	cr_expect_eq(t->integer.value, -42);
	cr_expect_str_eq(t->text, "-42");
	t = value_of("9223372036854775807");
	cr_expect(t->integer.fits);
	cr_expect_eq(t->integer.value, INT64_MAX);
	t = value_of("-9223372036854775808");
	cr_expect(t->integer.fits);
	cr_expect_eq(t->integer.value, INT64_MIN);
	t = value_of("9223372036854775808");
	cr_expect(!t->integer.fits);
	cr_expect_str_eq(t->text, "9223372036854775808");
	t = value_of("-123456789012345678901234567890123456789");
	cr_expect(!t->integer.fits);
	cr_expect_str_eq(t->text, "-123456789012345678901234567890123456789");
	cr_expect_eq(t->text_len, 40);
	/* '-' and the digits must touch */
	fail("INSERT INTO t (v) VALUES (- 1)", COL_ESYNTAX);
}

Test(cql_parser, float_literals)
{
	const struct cql_term *t = value_of("1.5");
	cr_expect_eq(t->kind, CQL_TERM_FLOAT);
	cr_expect_float_eq(t->flt, 1.5, 1e-12);
	t = value_of("-2.5e3");
	cr_expect_float_eq(t->flt, -2500.0, 1e-9);
	cr_expect_str_eq(t->text, "-2.5e3");
	t = value_of("NaN");
	cr_expect(isnan(t->flt));
	cr_expect_str_eq(t->text, "NaN");
	t = value_of("infinity");
	cr_expect(isinf(t->flt) && t->flt > 0);
	cr_expect_str_eq(t->text, "Infinity");
	t = value_of("-Infinity");
	cr_expect(isinf(t->flt) && t->flt < 0);
	cr_expect_str_eq(t->text, "-Infinity");
	t = value_of("1e999");
	cr_expect(isinf(t->flt));
}

Test(cql_parser, string_boolean_null_uuid_blob_literals)
{
	const struct cql_term *t = value_of("'it''s'");
	cr_expect_eq(t->kind, CQL_TERM_STRING);
	cr_expect_str_eq(t->text, "it's");
	cr_expect_eq(t->text_len, 4);
	t = value_of("$$dollar 'quoted'$$");
	cr_expect_str_eq(t->text, "dollar 'quoted'");
	t = value_of("''");
	cr_expect_eq(t->text_len, 0);
	t = value_of("TRUE");
	cr_expect_eq(t->kind, CQL_TERM_BOOL);
	cr_expect(t->boolean);
	cr_expect_str_eq(t->text, "true");
	t = value_of("false");
	cr_expect(!t->boolean);
	t = value_of("NULL");
	cr_expect_eq(t->kind, CQL_TERM_NULL);
	t = value_of("01234567-89AB-cdef-0123-456789abcdef");
	cr_expect_eq(t->kind, CQL_TERM_UUID);
	static const uint8_t want[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	                                 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
	cr_expect_eq(memcmp(t->uuid, want, 16), 0);
	cr_expect_str_eq(t->text, "01234567-89AB-cdef-0123-456789abcdef");
	t = value_of("0xCAfe01");
	cr_expect_eq(t->kind, CQL_TERM_BLOB);
	cr_assert_eq(t->blob.len, 3);
	cr_expect_eq(t->blob.data[0], 0xca);
	cr_expect_eq(t->blob.data[2], 0x01);
	t = value_of("0x");
	cr_expect_eq(t->blob.len, 0);
	cr_expect_str_eq(fail("INSERT INTO t (v) VALUES (0xabc)", COL_ESYNTAX),
	                 "line 1:26 blob literal 0xabc has an odd number of hex digits (3)");
}

Test(cql_parser, collection_tuple_and_function_literals)
{
	const struct cql_term *t = value_of("[1, 2, 3]");
	cr_assert_eq(t->kind, CQL_TERM_LIST);
	cr_expect_eq(t->coll.n_items, 3);
	cr_expect_eq(t->coll.items[2]->integer.value, 3);
	t = value_of("[]");
	cr_expect_eq(t->kind, CQL_TERM_LIST);
	cr_expect_eq(t->coll.n_items, 0);
	t = value_of("{'a', 'b'}");
	cr_assert_eq(t->kind, CQL_TERM_SET);
	cr_expect_eq(t->coll.n_items, 2);
	t = value_of("{'a': 1, 'b': [2]}");
	cr_assert_eq(t->kind, CQL_TERM_MAP);
	cr_expect_eq(t->map.n_entries, 2);
	cr_expect_eq(t->map.values[1]->kind, CQL_TERM_LIST);
	t = value_of("{}");
	cr_expect_eq(t->kind, CQL_TERM_MAP);
	cr_expect_eq(t->map.n_entries, 0);
	t = value_of("(1, 'x', null)");
	cr_assert_eq(t->kind, CQL_TERM_TUPLE);
	cr_expect_eq(t->coll.n_items, 3);
	cr_expect_eq(t->coll.items[2]->kind, CQL_TERM_NULL);
	t = value_of("toTimestamp(now())");
	cr_assert_eq(t->kind, CQL_TERM_FUNC);
	cr_expect_str_eq(t->func.name.name.name, "totimestamp");
	cr_assert_eq(t->func.n_args, 1);
	cr_expect_eq(t->func.args[0]->kind, CQL_TERM_FUNC);
	cr_expect_eq(t->func.args[0]->func.n_args, 0);
	t = value_of("system.uuid()");
	cr_expect_str_eq(t->func.name.ks.name, "system");
	fail("INSERT INTO t (v) VALUES ({'a': 1, 'b'})", COL_ESYNTAX);
	fail("INSERT INTO t (v) VALUES ({'a', 'b': 1})", COL_ESYNTAX);
	fail("INSERT INTO t (v) VALUES ([1, 2)", COL_ESYNTAX);
	cr_expect_str_eq(fail("INSERT INTO t (v) VALUES (b)", COL_ESYNTAX),
	                 "line 1:26 no viable alternative at input 'b' (...(v) VALUES ([b]))");
}

/* ------------------------------------------------------- names and quoting */

Test(cql_parser, identifiers_fold_unless_quoted)
{
	struct cql_stmt *s = parse_ok("SELECT MixedCase, \"MixedCase\", \"with \"\"quote\"\"\", "
	                              "\"select\" FROM \"KS\".Tbl");
	const struct cql_select *q = &s->select;
	cr_expect_str_eq(q->selectors[0].column.name, "mixedcase");
	cr_expect(!q->selectors[0].column.quoted);
	cr_expect_str_eq(q->selectors[1].column.name, "MixedCase");
	cr_expect(q->selectors[1].column.quoted);
	cr_expect_str_eq(q->selectors[2].column.name, "with \"quote\"");
	cr_expect_str_eq(q->selectors[3].column.name, "select");
	cr_expect_str_eq(q->table.ks.name, "KS");
	cr_expect_str_eq(q->table.name.name, "tbl");
	cr_expect_str_eq(
	        fail("SELECT * FROM select", COL_ESYNTAX),
	        "line 1:14 mismatched input 'select' expecting IDENT ('select' is a reserved "
	        "keyword; quote it as \"select\" to use it as a name) (SELECT * FROM [select])");
}

Test(cql_parser, keywords_are_case_insensitive)
{
	struct cql_stmt *s = parse_ok("sElEcT * fRoM t wHeRe a = 1 lImIt 1 AlLoW fIlTeRiNg");
	cr_expect(s->select.allow_filtering);
	s = parse_ok("insert INTO t (a) values (1) if NOT exists");
	cr_expect(s->insert.if_not_exists);
}

Test(cql_parser, comments_anywhere)
{
	struct cql_stmt *s = parse_ok("-- leading\nSELECT /* inline */ a // after a\n"
	                              "FROM t -- trailing\n; /* after the end */ -- more");
	cr_expect_str_eq(s->select.selectors[0].column.name, "a");
	cr_expect_eq(s->select.selectors[0].column.pos.line, 2);
	cr_expect_eq(s->select.selectors[0].column.pos.col, 20);
	cr_expect_eq(s->select.table.name.pos.line, 3);
	cr_expect_str_eq(s->text, "SELECT /* inline */ a // after a\nFROM t");
}

/* ------------------------------------------------------------ bind markers */

Test(cql_parser, bind_markers_numbered_with_receivers)
{
	struct cql_stmt *s = parse_ok(
	        "SELECT * FROM t WHERE pk = ? AND ck IN (?, :second) AND token(pk) > ? AND x IN ? "
	        "AND (c1, c2) > (?, ?) AND (c1, c2) < ? LIMIT :lim");
	cr_assert_eq(s->n_binds, 9);
	for (uint32_t i = 0; i < s->n_binds; i++) {
		cr_expect_eq(s->binds[i].index, i);
		cr_expect_eq(s->binds[i].term->bind.index, i);
	}
	const struct cql_bind *b = s->binds;
	cr_expect_eq(b[0].role, CQL_BIND_COLUMN);
	cr_expect_eq(b[0].op, CQL_OP_EQ);
	cr_expect_str_eq(b[0].column->name, "pk");
	cr_expect_eq(b[0].rel, s->select.where[0]);
	cr_expect_null(b[0].name);
	cr_expect_eq(b[1].role, CQL_BIND_COLUMN);
	cr_expect_eq(b[1].op, CQL_OP_IN);
	cr_expect_str_eq(b[1].column->name, "ck");
	cr_expect_str_eq(b[2].name, "second");
	cr_expect_eq(b[3].role, CQL_BIND_TOKEN);
	cr_expect_eq(b[4].role, CQL_BIND_IN_LIST);
	cr_expect_str_eq(b[4].column->name, "x");
	cr_expect_eq(b[5].role, CQL_BIND_COLUMN);
	cr_expect_str_eq(b[5].column->name, "c1");
	cr_expect_eq(b[5].tuple_index, 0);
	cr_expect_str_eq(b[6].column->name, "c2");
	cr_expect_eq(b[6].tuple_index, 1);
	cr_expect_eq(b[7].role, CQL_BIND_MULTI);
	cr_expect_eq(b[7].rel, s->select.where[5]);
	cr_expect_eq(b[8].role, CQL_BIND_LIMIT);
	cr_expect_str_eq(b[8].name, "lim");
	cr_expect_eq(b[8].pos.col, strlen("SELECT * FROM t WHERE pk = ? AND ck IN (?, :second) AND "
	                                  "token(pk) > ? AND x IN ? AND (c1, c2) > (?, ?) AND "
	                                  "(c1, c2) < ? LIMIT "));
}

Test(cql_parser, bind_receivers_in_writes)
{
	struct cql_stmt *s =
	        parse_ok("UPDATE t USING TTL ? AND TIMESTAMP ? SET l = l + [?], m = m + {?: ?}, "
	                 "s = s + {?}, e[?] = ?, v = ?, f = fn(?, 1) WHERE k = ? IF c = ?");
	cr_assert_eq(s->n_binds, 12);
	const struct cql_bind *b = s->binds;
	cr_expect_eq(b[0].role, CQL_BIND_TTL);
	cr_expect_eq(b[1].role, CQL_BIND_TIMESTAMP);
	cr_expect_eq(b[2].role, CQL_BIND_ELEMENT);
	cr_expect_str_eq(b[2].column->name, "l");
	cr_expect_eq(b[3].role, CQL_BIND_MAP_KEY);
	cr_expect_eq(b[4].role, CQL_BIND_MAP_VALUE);
	cr_expect_str_eq(b[4].column->name, "m");
	cr_expect_eq(b[5].role, CQL_BIND_ELEMENT);
	cr_expect_str_eq(b[5].column->name, "s");
	cr_expect_eq(b[6].role, CQL_BIND_SUBSCRIPT);
	cr_expect_eq(b[7].role, CQL_BIND_SUBSCRIPT_VALUE);
	cr_expect_str_eq(b[7].column->name, "e");
	cr_expect_eq(b[8].role, CQL_BIND_COLUMN);
	cr_expect_eq(b[8].op, CQL_OP_NONE);
	cr_expect_str_eq(b[8].column->name, "v");
	cr_expect_eq(b[9].role, CQL_BIND_FUNC_ARG);
	cr_expect_eq(b[9].arg_index, 0);
	cr_expect_eq(b[9].func, s->update.assignments[5]->value);
	cr_expect_eq(b[10].role, CQL_BIND_COLUMN);
	cr_expect_str_eq(b[10].column->name, "k");
	cr_expect_eq(b[11].rel, s->update.cond.conds[0]);
	cr_expect_eq(b[11].op, CQL_OP_EQ);

	s = parse_ok("INSERT INTO t (a, b, c) VALUES (?, :bee, [?, ?])");
	cr_assert_eq(s->n_binds, 4);
	cr_expect_eq(s->binds[0].column, &s->insert.columns[0]);
	cr_expect_eq(s->binds[1].column, &s->insert.columns[1]);
	cr_expect_str_eq(s->binds[1].name, "bee");
	cr_expect_eq(s->binds[2].role, CQL_BIND_ELEMENT);
	cr_expect_eq(s->binds[3].column, &s->insert.columns[2]);
}

/* ------------------------------------------------------------------ errors */

Test(cql_parser, error_select_form)
{
	cr_expect_str_eq(fail("SELECT * FORM t", COL_ESYNTAX),
	                 "line 1:9 mismatched input 'FORM' expecting K_FROM (SELECT * [FORM] t)");
}

Test(cql_parser, error_positions_on_later_lines)
{
	cr_expect_str_eq(
	        fail("SELECT a,\n       b\n  FROM t\n WHERE a = = 1", COL_ESYNTAX),
	        "line 4:11 no viable alternative at input '=' (...FROM t  WHERE a = [=] 1)");
	cr_expect_str_eq(fail("SELECT * FROM t LIMIT 'x'", COL_ESYNTAX),
	                 "line 1:22 mismatched input ''x'' expecting INTEGER or a bind marker "
	                 "(SELECT * FROM t LIMIT ['x'])");
}

Test(cql_parser, error_unknown_statement_and_trailing_input)
{
	cr_expect_str_eq(fail("SELEC * FROM t", COL_ESYNTAX),
	                 "line 1:0 no viable alternative at input 'SELEC' ([SELEC] *...)");
	cr_expect_str_eq(fail("SELECT * FROM t x", COL_ESYNTAX),
	                 "line 1:16 mismatched input 'x' expecting EOF (SELECT * FROM t [x])");
	cr_expect_str_eq(fail("SELECT * FROM t; SELECT * FROM u", COL_ESYNTAX),
	                 "line 1:17 mismatched input 'SELECT' expecting EOF (SELECT * FROM t; "
	                 "[SELECT] *...)");
	cr_expect_str_eq(fail("", COL_ESYNTAX),
	                 "line 1:0 no viable alternative at input '<EOF>' (empty statement)");
	fail("  -- only a comment\n", COL_ESYNTAX);
	fail(";", COL_ESYNTAX);
}

Test(cql_parser, error_from_lexer_wins)
{
	cr_expect_str_eq(fail("SELECT * FROM t WHERE a = 'oops", COL_ESYNTAX),
	                 "line 1:31 mismatched character '<EOF>' expecting ''' (string literal "
	                 "opened at line 1:26 is not closed)");
	/* even when the statement could end before the bad character */
	cr_expect_str_eq(fail("SELECT * FROM t #", COL_ESYNTAX),
	                 "line 1:16 token recognition error at: '#'");
}

Test(cql_parser, long_tokens_are_shortened_in_messages)
{
	char text[600];
	char name[300];
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(text, sizeof(text), "SELECT * FROM t %s", name);
	const char *msg = fail(text, COL_ESYNTAX);
	cr_expect(strstr(msg, "mismatched input 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' "
	                      "expecting EOF"),
	          "%s", msg);
	cr_expect_lt(strlen(msg), 300);
}

/* ------------------------------------------------------------- adversarial */

Test(cql_parser, deep_nesting_is_refused_not_overflowed)
{
	size_t n = 100000;
	size_t len = strlen("INSERT INTO t (v) VALUES (") + n;
	char *text = malloc(len + 1);
	cr_assert_not_null(text);
	strcpy(text, "INSERT INTO t (v) VALUES (");
	memset(text + strlen(text), '[', n);
	text[len] = '\0';
	const char *msg = parse_fail(text, len, COL_ESYNTAX);
	cr_expect(strstr(msg, "nesting deeper than 64 levels"), "%s", msg);
	/* the same for parentheses in WHERE, tuples, types and function calls */
	strcpy(text, "SELECT * FROM t WHERE ");
	memset(text + strlen(text), '(', n);
	parse_fail(text, strlen("SELECT * FROM t WHERE ") + n, COL_ESYNTAX);
	free(text);

	char buf[4096] = "CREATE TABLE t (a ";
	for (int i = 0; i < 200; i++)
		strcat(buf, "list<");
	cr_expect(strstr(fail(buf, COL_ESYNTAX), "nesting deeper"));
	strcpy(buf, "SELECT ");
	for (int i = 0; i < 200; i++)
		strcat(buf, "f(");
	cr_expect(strstr(fail(buf, COL_ESYNTAX), "nesting deeper"));

	/* 60 levels is fine */
	strcpy(buf, "INSERT INTO t (v) VALUES (");
	for (int i = 0; i < 60; i++)
		strcat(buf, "[");
	for (int i = 0; i < 60; i++)
		strcat(buf, "]");
	strcat(buf, ")");
	parse_ok(buf);
}

Test(cql_parser, nul_bytes_and_garbage)
{
	static const char in_string[] = "INSERT INTO t (v) VALUES ('a\0b')";
	struct cql_stmt *s = NULL;
	cr_assert_eq(cql_parse(arena, in_string, sizeof(in_string) - 1, &s, &err), 0, "%s",
	             err.msg);
	cr_expect_eq(s->insert.values[0]->text_len, 3);
	cr_expect_eq(memcmp(s->insert.values[0]->text, "a\0b", 3), 0);
	static const char outside[] = "SELECT * FROM t\0 WHERE a = 1";
	cr_expect_str_eq(parse_fail(outside, sizeof(outside) - 1, COL_ESYNTAX),
	                 "line 1:15 token recognition error at: '\\x00'");
	static const char bytes[] = "\xff\xfe\x01\x80";
	parse_fail(bytes, sizeof(bytes) - 1, COL_ESYNTAX);
	cr_expect_eq(cql_parse(arena, NULL, 0, &s, &err), COL_ESYNTAX);
}

Test(cql_parser, oversized_text_is_refused)
{
	size_t len = CQL_MAX_TEXT + 1;
	char *text = malloc(len);
	cr_assert_not_null(text);
	memset(text, ' ', len);
	memcpy(text, "SELECT", 6);
	const char *msg = parse_fail(text, len, COL_ETOOBIG);
	cr_expect(strstr(msg, "longer than the 16777216 bytes allowed"), "%s", msg);
	free(text);
}

Test(cql_parser, many_items_are_fine)
{
	/* a 200k-element IN list parses (bounded by the arena, not the stack) */
	size_t n = 200000;
	size_t cap = 64 + n * 8;
	char *text = malloc(cap);
	cr_assert_not_null(text);
	size_t len = (size_t)sprintf(text, "SELECT * FROM t WHERE a IN (");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, i ? ",%zu" : "%zu", i);
	text[len++] = ')';
	text[len] = '\0';
	struct cql_stmt *s = parse_ok(text);
	cr_expect_eq(s->select.where[0]->n_in, n);
	cr_expect_eq(s->select.where[0]->in_items[n - 1]->integer.value, (int64_t)n - 1);
	free(text);
}

/* ----------------------------------------------------------------- scripts */

Test(cql_parser, script_statement_by_statement)
{
	const char *script =
	        "-- setup\n"
	        "CREATE KEYSPACE k WITH replication = {'class': 'SimpleStrategy', "
	        "'replication_factor': 1};\n"
	        ";;\n"
	        "USE k;\n"
	        "BEGIN BATCH\n  INSERT INTO t (a) VALUES (1);\n  INSERT INTO t (a) VALUES "
	        "(2);\nAPPLY BATCH;\n"
	        "SELECT * FROM t /* no semicolon at the end */";
	size_t len = strlen(script);
	struct cql_cursor cur = {0};
	struct cql_stmt *s;
	enum cql_stmt_kind want[] = {CQL_STMT_CREATE_KEYSPACE, CQL_STMT_USE, CQL_STMT_BATCH,
	                             CQL_STMT_SELECT};
	uint32_t lines[] = {2, 4, 5, 9};
	for (size_t i = 0; i < 4; i++) {
		cr_assert_eq(cql_parse_next(arena, script, len, &cur, &s, &err), 0, "%s", err.msg);
		cr_assert_not_null(s);
		cr_expect_eq(s->kind, want[i]);
		cr_expect_eq(s->pos.line, lines[i]);
	}
	cr_expect_eq(s->kind, CQL_STMT_SELECT);
	cr_expect_str_eq(s->text, "SELECT * FROM t");
	cr_assert_eq(cql_parse_next(arena, script, len, &cur, &s, &err), 0);
	cr_expect_null(s);
	cr_expect_eq(cur.off, len);
	cr_assert_eq(cql_parse_next(arena, script, len, &cur, &s, &err), 0);
	cr_expect_null(s);
}

Test(cql_parser, script_error_positions_and_cursor)
{
	const char *script = "USE k;\nSELECT *\nFORM t;\nUSE j;";
	size_t len = strlen(script);
	struct cql_cursor cur = {0};
	struct cql_stmt *s;
	cr_assert_eq(cql_parse_next(arena, script, len, &cur, &s, &err), 0);
	cr_expect_eq(cur.off, 6);
	struct cql_cursor before = cur;
	cr_assert_eq(cql_parse_next(arena, script, len, &cur, &s, &err), COL_ESYNTAX);
	cr_expect_str_eq(err.msg, "line 3:0 mismatched input 'FORM' expecting K_FROM "
	                          "(SELECT * [FORM] t...)");
	cr_expect_eq(cur.off, before.off);
	cr_expect_eq(cur.line, before.line);
	/* a caller skips to the next ';' and carries on */
	cur.off = (size_t)(strstr(script, "USE j") - script);
	cur.line = 4;
	cur.col = 0;
	cr_assert_eq(cql_parse_next(arena, script, len, &cur, &s, &err), 0, "%s", err.msg);
	cr_expect_str_eq(s->use.keyspace.name, "j");
	cr_expect_eq(s->pos.line, 4);
	cr_expect_str_eq(fail("USE k; USE j", COL_ESYNTAX),
	                 "line 1:7 mismatched input 'USE' expecting EOF (USE k; [USE] j)");
}

/* ------------------------------------------------------------ printing */

Test(cql_parser, canonical_print_round_trips)
{
	static const char *in[] = {
	        "select a as \"A\", count(*), ttl(b) from ks.\"T\" where a in (1, -2) and "
	        "token(a) > ? and (b, c) >= (1, 'x') limit 5 allow filtering",
	        "insert into t (a, \"B\", c) values (0x01, {'k': [1.5, NaN]}, "
	        "123e4567-e89b-12d3-a456-426614174000) if not exists using ttl 1",
	        "insert into t json ? default unset using ttl 1",
	        "insert into t json '{\"a\": 1}' default null",
	        "update t set l = [1] + l, c = c - 1, m['a'] = null where k = :k if exists",
	        "delete a, m[?] from t using timestamp 5 where k = 1 if a = 2",
	        "begin unlogged batch insert into t (a) values (1); delete from t where a = 2; "
	        "apply "
	        "batch",
	        "create table if not exists t (a int primary key, b frozen<set<text>>) with "
	        "clustering order by (b desc) and comment = 'it''s' and compaction = {'class': "
	        "'L'}",
	        "create keyspace \"Select\" with replication = {'class': 'SimpleStrategy'}",
	        "alter table t add (x int, y text static)",
	        "alter table t rename a to b",
	        "truncate t",
	        "use k",
	};
	static const char *want[] = {
	        "SELECT a AS \"A\", COUNT(*), TTL(b) FROM ks.\"T\" WHERE a IN (1, -2) AND token(a) "
	        "> "
	        "? AND (b, c) >= (1, 'x') LIMIT 5 ALLOW FILTERING",
	        "INSERT INTO t (a, \"B\", c) VALUES (0x01, {'k': [1.5, NaN]}, "
	        "123e4567-e89b-12d3-a456-426614174000) IF NOT EXISTS USING TTL 1",
	        "INSERT INTO t JSON ? DEFAULT UNSET USING TTL 1",
	        "INSERT INTO t JSON '{\"a\": 1}'",
	        "UPDATE t SET l = [1] + l, c -= 1, m['a'] = null WHERE k = :k IF EXISTS",
	        "DELETE a, m[?] FROM t USING TIMESTAMP 5 WHERE k = 1 IF a = 2",
	        "BEGIN UNLOGGED BATCH INSERT INTO t (a) VALUES (1); DELETE FROM t WHERE a = 2; "
	        "APPLY "
	        "BATCH",
	        "CREATE TABLE IF NOT EXISTS t (a int, b frozen<set<text>>, PRIMARY KEY ((a))) WITH "
	        "CLUSTERING ORDER BY (b DESC) AND comment = 'it''s' AND compaction = {'class': "
	        "'L'}",
	        "CREATE KEYSPACE \"Select\" WITH replication = {'class': 'SimpleStrategy'}",
	        "ALTER TABLE t ADD (x int, y text STATIC)",
	        "ALTER TABLE t RENAME a TO b",
	        "TRUNCATE t",
	        "USE k",
	};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		const char *p = print(parse_ok(in[i]));
		cr_expect_str_eq(p, want[i]);
		char again[8192];
		strcpy(again, p);
		cr_expect_str_eq(print(parse_ok(again)), again);
	}
}

Test(cql_parser, arena_accounting)
{
	size_t before = cql_arena_used(arena);
	parse_ok("SELECT * FROM t WHERE a = 1");
	cr_expect_gt(cql_arena_used(arena), before);
	void *p = cql_arena_alloc(arena, 3);
	cr_expect_eq((uintptr_t)p % 16, 0);
	cr_expect_null(cql_arena_alloc(arena, (size_t)CQL_ARENA_MAX_BYTES + 1));
	char *d = cql_arena_strndup(arena, "abcdef", 3);
	cr_expect_str_eq(d, "abc");
	cql_arena_free(NULL);
}

/* An emptied arena hands out zeroed memory again, from its kept first chunk, and grows
 * past it as a new one would; a reset of a fresh arena is harmless. */
Test(cql_parser, arena_reset_reuses_the_first_chunk)
{
	struct cql_arena *a = cql_arena_new();
	cql_arena_reset(a);
	cr_expect_eq(cql_arena_used(a), 0);
	unsigned char *first = cql_arena_alloc(a, 100);
	memset(first, 0xAB, 100);
	for (int i = 0; i < 40; i++) /* past the first chunk, and a one-off big block */
		memset(cql_arena_alloc(a, i == 20 ? 100000 : 1000), 0xCD, i == 20 ? 100000 : 1000);
	cr_expect_gt(cql_arena_used(a), 100000);
	cql_arena_reset(a);
	cr_expect_eq(cql_arena_used(a), 0);
	unsigned char *again = cql_arena_alloc(a, 100);
	cr_expect_eq(again, first, "the first chunk is reused");
	for (int i = 0; i < 100; i++)
		cr_assert_eq(again[i], 0, "byte %d of a reused allocation is not zeroed", i);
	for (int i = 0; i < 40; i++) {
		unsigned char *p = cql_arena_alloc(a, 1000);
		cr_assert_not_null(p);
		cr_assert_eq(p[0] | p[999], 0);
	}
	cr_expect_eq(cql_arena_used(a), 112 + 40 * 1008, "sizes rounded up to 16 bytes");
	cql_arena_free(a);
}

Test(cql_parser, bind_receivers_in_relations)
{
	struct cql_stmt *s = parse_ok("SELECT * FROM t WHERE l CONTAINS ? AND m CONTAINS KEY ? AND "
	                              "(a, b) IN ? AND (a, b) IN (?, (?, ?)) AND m[?] = ? AND "
	                              "v IN (?, fn(?))");
	cr_assert_eq(s->n_binds, 10);
	const struct cql_bind *b = s->binds;
	cr_expect_eq(b[0].role, CQL_BIND_ELEMENT);
	cr_expect_str_eq(b[0].column->name, "l");
	cr_expect_eq(b[0].op, CQL_OP_CONTAINS);
	cr_expect_eq(b[1].role, CQL_BIND_MAP_KEY);
	cr_expect_eq(b[1].op, CQL_OP_CONTAINS_KEY);
	cr_expect_eq(b[2].role, CQL_BIND_MULTI_IN_LIST);
	cr_expect_eq(b[3].role, CQL_BIND_MULTI);
	cr_expect_eq(b[4].role, CQL_BIND_COLUMN);
	cr_expect_str_eq(b[4].column->name, "a");
	cr_expect_eq(b[5].tuple_index, 1);
	cr_expect_str_eq(b[5].column->name, "b");
	cr_expect_eq(b[6].role, CQL_BIND_SUBSCRIPT);
	cr_expect_eq(b[7].role, CQL_BIND_SUBSCRIPT_VALUE);
	cr_expect_str_eq(b[7].column->name, "m");
	cr_expect_eq(b[8].role, CQL_BIND_COLUMN);
	cr_expect_eq(b[8].op, CQL_OP_IN);
	cr_expect_eq(b[9].role, CQL_BIND_FUNC_ARG);
	for (uint32_t i = 0; i < s->n_binds; i++)
		cr_expect_eq(b[i].stmt, s);
}

Test(cql_parser, option_values_of_every_kind)
{
	struct cql_stmt *s = parse_ok("ALTER TABLE t WITH comment = 'c' AND ttl = -1 AND ratio = "
	                              "0.5 AND flag = false AND strategy = LeveledCompaction AND "
	                              "caching = {'keys': 'ALL', 'rows_per_partition': 'NONE'}");
	const struct cql_alter_table *q = &s->alter_table;
	cr_assert_eq(q->n_options, 6);
	cr_expect_eq(q->options[0].value->kind, CQL_TERM_STRING);
	cr_expect_eq(q->options[1].value->kind, CQL_TERM_INTEGER);
	cr_expect_eq(q->options[1].value->integer.value, -1);
	cr_expect_eq(q->options[2].value->kind, CQL_TERM_FLOAT);
	cr_expect_eq(q->options[3].value->kind, CQL_TERM_BOOL);
	cr_expect_eq(q->options[4].value->kind, CQL_TERM_IDENT);
	cr_expect_str_eq(q->options[4].value->text, "LeveledCompaction");
	cr_expect_eq(q->options[5].value->kind, CQL_TERM_MAP);
	cr_expect_eq(q->options[5].name.pos.col, strlen("ALTER TABLE t WITH comment = 'c' AND "
	                                                "ttl = -1 AND ratio = 0.5 AND flag = "
	                                                "false AND strategy = LeveledCompaction "
	                                                "AND "));
}

Test(cql_parser, script_lexer_error_after_a_statement)
{
	/* the bad token after the ';' belongs to the next statement, not this one */
	const char *script = "SELECT * FROM t WHERE a = b; 'open";
	size_t len = strlen(script);
	struct cql_cursor cur = {0};
	struct cql_stmt *s = NULL;
	cr_assert_eq(cql_parse_next(arena, script, len, &cur, &s, &err), COL_ESYNTAX);
	cr_expect_str_eq(err.msg,
	                 "line 1:26 no viable alternative at input 'b' (...FROM t WHERE a = "
	                 "[b];...)");
	script = "USE k; 'open";
	len = strlen(script);
	cr_assert_eq(cql_parse_next(arena, script, len, &cur, &s, &err), 0, "%s", err.msg);
	cr_expect_eq(s->kind, CQL_STMT_USE);
	cr_assert_eq(cql_parse_next(arena, script, len, &cur, &s, &err), COL_ESYNTAX);
	cr_expect(strstr(err.msg, "string literal opened at line 1:7"), "%s", err.msg);
}

Test(cql_parser, element_slice_and_field_selectors)
{
	struct cql_stmt *s = parse_ok("SELECT m['k'], s[1..3], s[..'z'], m[1.5..], u.city, "
	                              "fm['a'].f AS x, m[?] FROM t");
	const struct cql_select *q = &s->select;
	cr_assert_eq(q->n_selectors, 7);
	cr_expect_eq(q->selectors[0].kind, CQL_SEL_ELEMENT);
	cr_expect_str_eq(q->selectors[0].args[0].column.name, "m");
	cr_expect_eq(q->selectors[0].term->kind, CQL_TERM_STRING);
	cr_expect_eq(q->selectors[1].kind, CQL_SEL_SLICE);
	cr_expect_eq(q->selectors[1].term->integer.value, 1);
	cr_expect_eq(q->selectors[1].term2->integer.value, 3);
	cr_expect_null(q->selectors[2].term);
	cr_expect_not_null(q->selectors[2].term2);
	cr_expect_eq(q->selectors[3].term->kind, CQL_TERM_FLOAT);
	cr_expect_null(q->selectors[3].term2);
	cr_expect_eq(q->selectors[4].kind, CQL_SEL_FIELD);
	cr_expect_str_eq(q->selectors[4].column.name, "city");
	cr_expect_str_eq(q->selectors[4].args[0].column.name, "u");
	cr_expect_eq(q->selectors[5].kind, CQL_SEL_FIELD);
	cr_expect_eq(q->selectors[5].args[0].kind, CQL_SEL_ELEMENT);
	cr_expect_str_eq(q->selectors[5].alias.name, "x");
	cr_expect_null(q->selectors[5].args[0].alias.name);
	cr_assert_eq(s->n_binds, 1);
	cr_expect_eq(s->binds[0].role, CQL_BIND_MAP_KEY);
	cr_expect_str_eq(s->binds[0].column->name, "m");
	cr_expect_str_eq(print(s), "SELECT m['k'], s[1..3], s[..'z'], m[1.5..], u.city, "
	                           "fm['a'].f AS x, m[?] FROM t");
	fail("SELECT m[..] FROM t", COL_ESYNTAX);
	fail("SELECT m[] FROM t", COL_ESYNTAX);
	fail("SELECT 1..2 FROM t", COL_ESYNTAX);
}
