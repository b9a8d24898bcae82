/*
 * libFuzzer target: a CSV file as COPY FROM reads it (cli/lib/csv.h) — every record
 * with tiny bounds so the limit paths run too — and each field read as the value of a
 * few column types (cli/lib/cqltext.h), nested collections and tuples included.
 */
#include "cli/lib/cqltext.h"
#include "cli/lib/csv.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const TYPES[] = {
        "int",
        "text",
        "blob",
        "timestamp",
        "decimal",
        "double",
        "uuid",
        "duration",
        "inet",
        "list<text>",
        "map<text, frozen<list<int>>>",
        "set<frozen<tuple<int, text, date>>>",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct cqltype *types[sizeof(TYPES) / sizeof(TYPES[0])];
	size_t nt = sizeof(TYPES) / sizeof(TYPES[0]);
	for (size_t i = 0; i < nt; i++) {
		struct cerr err = {0};
		if (cqltype_parse(TYPES[i], strlen(TYPES[i]), &types[i], &err) != 0)
			__builtin_trap();
	}
	struct csv_opts o;
	csv_opts_init(&o);
	o.max_record = 4096;
	o.max_fields = 64;
	if (size && data[0] == '|') { /* another dialect */
		o.delim = '|';
		o.quote = '\'';
		o.escape = 0;
	}
	struct csv_reader r;
	csv_reader_mem(&r, data, size, &o);
	struct buf v;
	buf_init(&v);
	for (int rc; (rc = csv_read(&r, &(struct cerr){0})) != 0;) {
		if (rc < 0 && rc != COL_ESYNTAX && rc != COL_ETOOBIG)
			break;
		if (rc < 0)
			continue;
		for (size_t i = 0; i < r.n_fields; i++) {
			const struct csv_field *f = &r.fields[i];
			if (f->len == 0) /* COPY FROM binds an empty field without parsing it */
				continue;
			buf_reset(&v);
			struct cerr err = {0};
			cqltext_parse(types[i % nt], (const char *)r.data.data + f->off, f->len, &v,
			              &err);
		}
	}
	buf_release(&v);
	csv_reader_release(&r);
	for (size_t i = 0; i < nt; i++)
		cqltype_free(types[i]);
	return 0;
}
