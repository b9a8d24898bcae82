/*
 * schema_diff.c — what changed between two snapshots, as the SCHEMA_CHANGE
 * events a client expects (schema.h, schema_snap_diff).
 *
 * Tables are told apart by id, as Cassandra does: a table dropped and made
 * again under the same name is DROPPED then CREATED.  A table is UPDATED when
 * any of its rows (table, columns, dropped columns) or indexes changed; a type
 * when its fields did; a keyspace when its own row did.  The order is
 * Cassandra's: a dropped keyspace's tables and types before the keyspace, a
 * created keyspace before its types and tables; within a keyspace drops, then
 * creations, then updates, types before tables on creation (a table may use
 * them) and after them on drop.
 */
#include "coordinator/schema/schema_int.h"

#include "core/cqltype.h"

#include <string.h>

struct diff {
	schema_diff_fn fn;
	void *ctx;
};

static void emit(const struct diff *d, enum schema_ev_change c, enum schema_ev_target t,
                 const char *ks, const char *name)
{
	d->fn(d->ctx, c, t, ks, name);
}

static bool same_strs(char **a, char **b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static bool keyspace_changed(const struct schema_keyspace *a, const struct schema_keyspace *b)
{
	return a->timestamp != b->timestamp || a->durable_writes != b->durable_writes ||
	       a->n_repl != b->n_repl || !same_strs(a->repl_keys, b->repl_keys, a->n_repl) ||
	       !same_strs(a->repl_vals, b->repl_vals, a->n_repl);
}

static bool table_changed(const struct schema_table *a, const struct schema_table *b)
{
	if (a->digest != b->digest || a->timestamp != b->timestamp || a->n_cols != b->n_cols ||
	    a->n_dropped != b->n_dropped || a->n_indexes != b->n_indexes)
		return true;
	for (uint32_t i = 0; i < a->n_indexes; i++)
		if (strcmp(a->indexes[i].name, b->indexes[i].name) != 0 ||
		    a->indexes[i].timestamp != b->indexes[i].timestamp)
			return true;
	return false;
}

/* The table of `ks` with t's name and id, or NULL. */
static const struct schema_table *same_table(const struct schema_keyspace *ks,
                                             const struct schema_table *t)
{
	const struct schema_table *o = ks ? schema_keyspace_table(ks, t->name) : NULL;
	return o && memcmp(o->id, t->id, 16) == 0 ? o : NULL;
}

static void drops(const struct diff *d, const struct schema_keyspace *before,
                  const struct schema_keyspace *after)
{
	for (uint32_t i = 0; i < before->n_tables; i++)
		if (!same_table(after, before->tables[i]))
			emit(d, SCHEMA_EV_DROPPED, SCHEMA_EV_TABLE, before->name,
			     before->tables[i]->name);
	for (uint32_t i = 0; i < before->n_types; i++) {
		const char *name = before->types[i]->udt_name;
		if (!after || !schema_keyspace_type(after, name))
			emit(d, SCHEMA_EV_DROPPED, SCHEMA_EV_TYPE, before->name, name);
	}
}

static void creations(const struct diff *d, const struct schema_keyspace *before,
                      const struct schema_keyspace *after)
{
	for (uint32_t i = 0; i < after->n_types; i++) {
		const char *name = after->types[i]->udt_name;
		if (!before || !schema_keyspace_type(before, name))
			emit(d, SCHEMA_EV_CREATED, SCHEMA_EV_TYPE, after->name, name);
	}
	for (uint32_t i = 0; i < after->n_tables; i++)
		if (!same_table(before, after->tables[i]))
			emit(d, SCHEMA_EV_CREATED, SCHEMA_EV_TABLE, after->name,
			     after->tables[i]->name);
}

static void updates(const struct diff *d, const struct schema_keyspace *before,
                    const struct schema_keyspace *after)
{
	for (uint32_t i = 0; i < after->n_types; i++) {
		const struct cqltype *a = after->types[i];
		const struct cqltype *b = schema_keyspace_type(before, a->udt_name);
		if (b && !cqltype_equal(a, b))
			emit(d, SCHEMA_EV_UPDATED, SCHEMA_EV_TYPE, after->name, a->udt_name);
	}
	for (uint32_t i = 0; i < after->n_tables; i++) {
		const struct schema_table *b = same_table(before, after->tables[i]);
		if (b && table_changed(b, after->tables[i]))
			emit(d, SCHEMA_EV_UPDATED, SCHEMA_EV_TABLE, after->name,
			     after->tables[i]->name);
	}
}

void schema_snap_diff(const struct schema_snap *before, const struct schema_snap *after,
                      schema_diff_fn fn, void *ctx)
{
	struct diff d = {.fn = fn, .ctx = ctx};
	for (uint32_t i = 0; i < before->n_keyspaces; i++) {
		const struct schema_keyspace *b = before->keyspaces[i];
		if (b->virtual_ || schema_snap_keyspace(after, b->name))
			continue;
		drops(&d, b, NULL);
		emit(&d, SCHEMA_EV_DROPPED, SCHEMA_EV_KEYSPACE, b->name, NULL);
	}
	for (uint32_t i = 0; i < after->n_keyspaces; i++) {
		const struct schema_keyspace *a = after->keyspaces[i];
		if (a->virtual_)
			continue;
		const struct schema_keyspace *b = schema_snap_keyspace(before, a->name);
		if (!b) {
			emit(&d, SCHEMA_EV_CREATED, SCHEMA_EV_KEYSPACE, a->name, NULL);
			creations(&d, NULL, a);
			continue;
		}
		drops(&d, b, a);
		creations(&d, b, a);
		updates(&d, b, a);
		if (keyspace_changed(b, a))
			emit(&d, SCHEMA_EV_UPDATED, SCHEMA_EV_KEYSPACE, a->name, NULL);
	}
}

const char *schema_ev_change_name(enum schema_ev_change c)
{
	switch (c) {
	case SCHEMA_EV_CREATED: return "CREATED";
	case SCHEMA_EV_UPDATED: return "UPDATED";
	case SCHEMA_EV_DROPPED: return "DROPPED";
	}
	return "UPDATED";
}

const char *schema_ev_target_name(enum schema_ev_target t)
{
	switch (t) {
	case SCHEMA_EV_KEYSPACE: return "KEYSPACE";
	case SCHEMA_EV_TABLE: return "TABLE";
	case SCHEMA_EV_TYPE: return "TYPE";
	}
	return "TABLE";
}
