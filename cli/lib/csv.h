/*
 * csv.h — the CSV dialect of cqlsh's COPY (Python's csv module with cqlsh's
 * options), for cqlish's COPY TO / COPY FROM.
 *
 * Writing (csv_put_field): a field is quoted when it contains the delimiter,
 * the quote character, the escape character, '\r' or '\n', or when the caller
 * forces it (COPY TO: an empty value, or one equal to the NULL string, so that
 * it reads back as a value and not as NULL); quote characters inside are doubled (cqlsh's
 * DOUBLEQUOTE=true), escape characters are doubled by prefixing the escape.
 * Records end with "\n".
 *
 * Reading (struct csv_reader): records may span lines inside quotes; "\r\n"
 * and "\n" both end a record; inside or outside quotes the escape character
 * takes the next character literally; "" inside quotes is one quote.  Each
 * field remembers whether it was quoted (a quoted empty field is an empty
 * string, never NULL).  A record longer than max_record bytes, more than
 * max_fields fields, an unterminated quote at the end of the input or text
 * after a closing quote is an error naming the line where the record starts;
 * the reader then skips to the end of that line and can go on.
 */
#ifndef COLONNADE_CLI_CSV_H
#define COLONNADE_CLI_CSV_H

#include "core/buf.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CSV_DEFAULT_MAX_RECORD (16u << 20)
#define CSV_DEFAULT_MAX_FIELDS 4096u

struct csv_opts {
	char delim;  /* ',' */
	char quote;  /* '"' */
	char escape; /* '\\'; 0 = none */
	size_t max_record;
	size_t max_fields;
};
void csv_opts_init(struct csv_opts *o);

/* Append one field (no delimiter, no line end). */
void csv_put_field(struct buf *out, const char *s, size_t len, const struct csv_opts *o,
                   bool force_quote);

struct csv_field {
	size_t off, len; /* into csv_reader.data */
	bool quoted;
};

/*
 * Reads records from a stdio stream or from memory (csv_reader_mem, for the
 * unit tests and the fuzz target).
 */
struct csv_reader {
	struct csv_opts o;
	FILE *f;
	const unsigned char *mem;
	size_t mem_len, mem_pos;
	size_t line;     /* physical line of the next character (1-based) */
	size_t rec_line; /* line where the last record started */
	struct buf data; /* unescaped field bytes of the last record */
	struct buf raw;  /* the record's text as read (for an error file), without its line end */
	struct csv_field *fields;
	size_t n_fields, cap_fields;
	int pushback;
};

void csv_reader_file(struct csv_reader *r, FILE *f, const struct csv_opts *o);
void csv_reader_mem(struct csv_reader *r, const void *p, size_t len, const struct csv_opts *o);
void csv_reader_release(struct csv_reader *r);

/*
 * Read the next record.  1: a record (fields, data, raw, rec_line); 0: end of
 * input; COL_ESYNTAX / COL_ETOOBIG with "line N: ..." in err (the rest of
 * that line was skipped; reading may go on); COL_ENOMEM.  Blank lines are
 * skipped.
 */
int csv_read(struct csv_reader *r, struct cerr *err);

#endif
