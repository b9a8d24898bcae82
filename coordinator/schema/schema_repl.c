/*
 * Keyspace replication options: the strategy class named short or in full,
 * and Cassandra's checks of the options each strategy takes.
 */
#include "coordinator/schema/schema_int.h"
#include "core/err.h"
#include <stdbool.h>
#include <string.h>
#include <strings.h>

const char *schema_repl_class_full(const char *c)
{
	if (strcasecmp(c, "SimpleStrategy") == 0 ||
	    strcmp(c, "org.apache.cassandra.locator.SimpleStrategy") == 0)
		return "org.apache.cassandra.locator.SimpleStrategy";
	if (strcasecmp(c, "NetworkTopologyStrategy") == 0 ||
	    strcmp(c, "org.apache.cassandra.locator.NetworkTopologyStrategy") == 0)
		return "org.apache.cassandra.locator.NetworkTopologyStrategy";
	return NULL;
}

static bool is_count(const char *v)
{
	if (!*v || strlen(v) > 4)
		return false;
	for (const char *p = v; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

int schema_check_replication(const struct schema_repl_opt *o, uint32_t n, struct cerr *err)
{
	const char *cls = NULL;
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(o[i].key, "class") == 0)
			cls = o[i].val;
	if (!cls)
		return cerr_set(err, COL_ECONFIG, "Missing replication strategy class");
	const char *fc = schema_repl_class_full(cls);
	if (!fc)
		return cerr_set(err, COL_ECONFIG,
		                "Unable to find replication strategy class '%s' (supported: "
		                "SimpleStrategy, NetworkTopologyStrategy)",
		                cls);
	bool simple = strstr(fc, "SimpleStrategy") != NULL;
	bool have_rf = false;
	for (uint32_t i = 0; i < n; i++) {
		if (strcmp(o[i].key, "class") == 0)
			continue;
		if (simple && strcmp(o[i].key, "replication_factor") != 0)
			return cerr_set(
			        err, COL_ECONFIG,
			        "Unrecognized strategy option {%s} passed to SimpleStrategy "
			        "for keyspace",
			        o[i].key);
		if (!is_count(o[i].val))
			return cerr_set(err, COL_ECONFIG,
			                "Replication factor must be non-negative integer; found %s",
			                o[i].val);
		have_rf = true;
	}
	if (simple && !have_rf)
		return cerr_set(err, COL_ECONFIG,
		                "SimpleStrategy requires a replication_factor strategy option.");
	return 0;
}
