/*
 * local_node.h — one node's pieces over a real store in a temp directory, for the unit
 * tests that run CQL through an executor or a CQL server without peers: the store, its
 * schema, a local router (every statement is answered by this store) and a prepared-
 * statement cache.  Include it once, in the test's .c file; local_node_open in the
 * suite's init, local_node_close in its fini after whatever borrows the pieces is freed
 * (local_node_close_pieces / local_node_open_pieces restart the node over the same files).
 */
#ifndef COLONNADE_TESTS_LOCAL_NODE_H
#define COLONNADE_TESTS_LOCAL_NODE_H

#include "coordinator/query/prepared.h"
#include "coordinator/replication/router.h"
#include "coordinator/schema/schema.h"
#include "storage/storage.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

struct local_node {
	char dir[64];
	struct store *st;
	struct schema *sch;
	struct router *px;
	struct prepared_cache *pc;
};

/* The store, schema, router and cache in ln->dir (which exists). */
static inline void local_node_open_pieces(struct local_node *ln, size_t prepared_max)
{
	struct cerr e = {0};
	struct store_options o;
	store_options_init(&o);
	o.data_dir = ln->dir;
	cr_assert_eq(store_open(&o, &ln->st, &e), 0, "%s", e.msg);
	cr_assert_eq(schema_open(ln->st, &ln->sch, &e), 0, "%s", e.msg);
	cr_assert_eq(router_new_local(ln->st, "datacenter1", &ln->px), 0);
	cr_assert_eq(prepared_cache_new(prepared_max, &ln->pc), 0);
}

static inline void local_node_close_pieces(struct local_node *ln)
{
	prepared_cache_free(ln->pc);
	router_free(ln->px);
	schema_free(ln->sch);
	store_close(ln->st);
}

/* A fresh /tmp/colonnade-<what>-XXXXXX for the node. */
static inline void local_node_make_dir(struct local_node *ln, const char *what)
{
	snprintf(ln->dir, sizeof(ln->dir), "/tmp/colonnade-%s-XXXXXX", what);
	cr_assert(mkdtemp(ln->dir), "mkdtemp %s", ln->dir);
}

static inline void local_node_remove_dir(struct local_node *ln)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", ln->dir);
	cr_assert_eq(system(cmd), 0);
}

/* The directory and the pieces in it (prepared_max statements in the cache). */
static inline void local_node_open(struct local_node *ln, const char *what, size_t prepared_max)
{
	local_node_make_dir(ln, what);
	local_node_open_pieces(ln, prepared_max);
}

/* The pieces closed and the directory removed. */
static inline void local_node_close(struct local_node *ln)
{
	local_node_close_pieces(ln);
	local_node_remove_dir(ln);
}

#endif
