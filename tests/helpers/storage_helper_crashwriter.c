/*
 * storage_helper_crashwriter DIR batch|periodic [N] — writes through the
 * storage API until killed (or N mutations) and prints "ACK <i>" on stdout
 * after store_apply() returns for mutation i.  Used by test_storage_crash:
 * the test SIGKILLs this process mid-stream, reopens DIR and checks that
 * every acknowledged mutation is there.
 *
 * Table: id 00..00c7, partition key int, no clustering, column 1 text and
 * column 2 int; mutation i writes partition i: text "value-<i>" and int i in
 * one batch (both or neither must be visible).
 */
#include "core/buf.h"
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s DIR batch|periodic [N]\n", argv[0]);
		return 2;
	}
	struct store_options o;
	store_options_init(&o);
	o.data_dir = argv[1];
	o.sync = strcmp(argv[2], "batch") == 0 ? STORE_SYNC_BATCH : STORE_SYNC_PERIODIC;
	long n = argc > 3 ? atol(argv[3]) : -1;
	struct cerr e = {0};
	struct store *s;
	if (store_open(&o, &s, &e)) {
		fprintf(stderr, "open: %s\n", e.msg);
		return 1;
	}
	const struct cqltype *pk[1] = {cqltype_simple(CQLTYPE_INT)};
	struct store_column cols[2] = {{.id = 1, .type = cqltype_simple(CQLTYPE_VARCHAR)},
	                               {.id = 2, .type = cqltype_simple(CQLTYPE_INT)}};
	struct store_table_desc d = {.keyspace = "crash",
	                             .name = "t",
	                             .n_pk = 1,
	                             .pk_types = pk,
	                             .n_cols = 2,
	                             .cols = cols,
	                             .gc_grace_seconds = 864000};
	d.id[15] = 0xc7;
	struct store_table *t;
	if (store_table_open(s, &d, &t, &e)) {
		fprintf(stderr, "table: %s\n", e.msg);
		return 1;
	}
	char line[64];
	for (long i = 0; n < 0 || i < n; i++) {
		uint8_t k[4];
		be32_store(k, (uint32_t)i);
		struct store_value kv = {k, 4};
		struct store_mutation m;
		char v[32];
		int vl = snprintf(v, sizeof(v), "value-%ld", i);
		if (store_mutation_init(&m, t, &kv, 1, 0, &e) ||
		    store_mutation_set_cell(&m, NULL, 0, 1, NULL, v, (size_t)vl, 1000 + i, 0) ||
		    store_mutation_set_cell(&m, NULL, 0, 2, NULL, k, 4, 1000 + i, 0) ||
		    store_apply(s, &m, &e)) {
			fprintf(stderr, "write %ld: %s %s\n", i, e.msg, m.err.msg);
			return 1;
		}
		store_mutation_release(&m);
		int ll = snprintf(line, sizeof(line), "ACK %ld\n", i);
		if (write(1, line, (size_t)ll) != ll)
			return 1;
	}
	store_close(s);
	return 0;
}
