/*
 * libFuzzer target: INSERT JSON's decoder (core/cqltype.h, cqltype_from_json) on
 * arbitrary text for a table with every type.  The input is parsed as JSON; each
 * member of an object is decoded as the column of that name (a type per column
 * below; unknown names and a non-object top level use every type in turn on the
 * whole value).  A decoded value must validate as its type, and its JSON
 * (cqltype_to_json) must parse back; bad input is an error, never a crash.
 * `address` is a user type (street text, "Zip" int, t frozen<tuple<int, text>>).
 */
#include "core/cqltype.h"
#include "core/json.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const COLUMNS[][2] = {
        {"a", "ascii"},
        {"t", "text"},
        {"bi", "bigint"},
        {"b", "blob"},
        {"bo", "boolean"},
        {"c", "counter"},
        {"de", "decimal"},
        {"d", "double"},
        {"f", "float"},
        {"i", "int"},
        {"ts", "timestamp"},
        {"u", "uuid"},
        {"vi", "varint"},
        {"tu", "timeuuid"},
        {"in", "inet"},
        {"dt", "date"},
        {"tm", "time"},
        {"si", "smallint"},
        {"ti", "tinyint"},
        {"du", "duration"},
        {"l", "list<int>"},
        {"s", "set<text>"},
        {"m", "map<text, int>"},
        {"mt", "map<timestamp, frozen<list<double>>>"},
        {"mu", "map<uuid, frozen<set<varint>>>"},
        {"tp", "tuple<int, text, frozen<map<int, decimal>>>"},
        {"ll", "frozen<list<frozen<list<frozen<tuple<blob, boolean>>>>>>"},
        {"ud", "address"},
        {"lu", "frozen<list<frozen<address>>>"},
};
#define N_COLUMNS (sizeof(COLUMNS) / sizeof(COLUMNS[0]))

static const struct cqltype *types[N_COLUMNS];

/* The one user type the columns name: address. */
static int resolve(void *ctx, const char *name, size_t len, const struct cqltype **out,
                   struct cerr *err)
{
	(void)ctx;
	if (len != 7 || memcmp(name, "address", 7) != 0)
		return cerr_set(err, COL_ETYPE, "unknown type");
	char **names = calloc(3, sizeof(*names));
	const struct cqltype **f = calloc(3, sizeof(*f));
	if (!names || !f)
		abort();
	names[0] = strdup("street");
	names[1] = strdup("Zip");
	names[2] = strdup("t");
	f[0] = cqltype_simple(CQLTYPE_VARCHAR);
	f[1] = cqltype_simple(CQLTYPE_INT);
	if (cqltype_parse("tuple<int, text>", 16, &f[2], NULL) != 0)
		abort();
	*out = cqltype_udt_new("ks", "address", names, f, 3, false);
	return *out ? 0 : COL_ENOMEM;
}

static void decode(const struct cqltype *t, const struct json *v)
{
	struct buf b, o;
	buf_init(&b);
	buf_init(&o);
	struct cerr e = {0};
	if (cqltype_from_json(t, v, &b, &e) == 0 && buf_ok(&b)) {
		if (cqltype_validate(t, b.data, b.len, NULL) != 0)
			abort(); /* decoded bytes that are not a value of the type */
		cqltype_to_json(t, b.data, b.len, &o);
		struct json *back = NULL;
		if (buf_ok(&o) && json_parse((const char *)o.data, o.len, &back, NULL) != 0)
			abort(); /* our own JSON does not read back */
		json_free(back);
	}
	buf_release(&b);
	buf_release(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!types[0]) {
		for (size_t i = 0; i < N_COLUMNS; i++) {
			struct cerr e = {0};
			if (cqltype_parse_in(COLUMNS[i][1], strlen(COLUMNS[i][1]), resolve, NULL,
			                     &types[i], &e) != 0)
				abort();
		}
	}
	struct json *j = NULL;
	if (json_parse((const char *)data, size, &j, NULL) != 0)
		return 0;
	bool object = json_type(j) == JSON_OBJECT;
	for (size_t m = 0; m < (object ? json_len(j) : 1); m++) {
		const char *key = object ? json_key_at(j, m) : "";
		const struct json *v = object ? json_at(j, m) : j;
		bool known = false;
		for (size_t i = 0; i < N_COLUMNS; i++) {
			if (strcmp(key, COLUMNS[i][0]) == 0) {
				decode(types[i], v);
				known = true;
			}
		}
		for (size_t i = 0; !known && i < N_COLUMNS; i++)
			decode(types[i], v);
	}
	json_free(j);
	return 0;
}
