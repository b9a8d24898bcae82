/*
 * schema_nodes.h — the schema unit tests' fixture: N_NODES (3) catalogues, each on a
 * store of its own in a temp directory, and the moves between them (a keyspace created
 * on one node, one node's whole schema sent to another as a push or a pull answer).
 * Include it once, in the test's .c file, after defining SCHEMA_NODES_DIR (the temp
 * directories' prefix) if the default does not suit.
 */
#ifndef COLONNADE_TESTS_SCHEMA_NODES_H
#define COLONNADE_TESTS_SCHEMA_NODES_H

#include "coordinator/schema/schema.h"
#include "coordinator/schema/schema_sync.h"
#include "core/hex.h"
#include "storage/storage.h"
#include "store_fixture.h"

#include <criterion/criterion.h>

#define N_NODES 3
#ifndef SCHEMA_NODES_DIR
#define SCHEMA_NODES_DIR "schema"
#endif

static char dirs[N_NODES][64];
static struct store *st[N_NODES];
static struct schema *sch[N_NODES];

static inline void open_node(int i)
{
	struct cerr e = {0};
	struct store_options o;
	store_options_init(&o);
	o.data_dir = dirs[i];
	cr_assert_eq(store_open(&o, &st[i], &e), 0, "%s", e.msg);
	cr_assert_eq(schema_open(st[i], &sch[i], &e), 0, "%s", e.msg);
}

static inline void close_node(int i)
{
	schema_free(sch[i]);
	store_close(st[i]);
	sch[i] = NULL;
	st[i] = NULL;
}

static inline void schema_nodes_setup(void)
{
	for (int i = 0; i < N_NODES; i++) {
		test_dir_make(dirs[i], sizeof(dirs[i]), SCHEMA_NODES_DIR);
		open_node(i);
	}
}

static inline void schema_nodes_teardown(void)
{
	for (int i = 0; i < N_NODES; i++) {
		close_node(i);
		test_dir_remove(dirs[i]);
	}
}

/* CREATE KEYSPACE name (SimpleStrategy, RF 3) on node i at timestamp ts. */
static inline void create_ks(int i, const char *name, int64_t ts)
{
	struct schema_repl_opt repl[] = {{"class", "SimpleStrategy"}, {"replication_factor", "3"}};
	struct schema_keyspace_def def = {name, true, repl, 2};
	struct cerr e = {0};
	cr_assert_eq(schema_create_keyspace(sch[i], &def, ts, &e), 0, "%s", e.msg);
}

/* Send node from's whole schema to node to (a push or a pull answer): rows applied. */
static inline size_t sync_rows(int from, int to)
{
	struct buf b;
	buf_init(&b);
	schema_sync_encode_rowset(sch[from], &b);
	cr_assert(buf_ok(&b));
	size_t applied = 0;
	struct cerr e = {0};
	cr_assert_eq(schema_sync_apply_rowset(sch[to], b.data, b.len, &applied, &e), 0, "%s",
	             e.msg);
	buf_release(&b);
	return applied;
}

/* Node i's schema version, formatted. */
static inline void version(int i, char out[40])
{
	uuid_format(schema_current(sch[i])->version, out);
}

#endif
