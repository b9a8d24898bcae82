/*
 * csv.c — cqlsh COPY's CSV dialect (see csv.h).
 */
#include "cli/lib/csv.h"

#include <stdlib.h>
#include <string.h>

void csv_opts_init(struct csv_opts *o)
{
	o->delim = ',';
	o->quote = '"';
	o->escape = '\\';
	o->max_record = CSV_DEFAULT_MAX_RECORD;
	o->max_fields = CSV_DEFAULT_MAX_FIELDS;
}

void csv_put_field(struct buf *out, const char *s, size_t len, const struct csv_opts *o,
                   bool force_quote)
{
	bool quote = force_quote;
	for (size_t i = 0; i < len && !quote; i++) {
		char c = s[i];
		quote = c == o->delim || c == o->quote || c == '\r' || c == '\n' ||
		        (o->escape && c == o->escape);
	}
	if (!quote) {
		buf_put(out, s, len);
		return;
	}
	buf_put_u8(out, (uint8_t)o->quote);
	size_t from = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c != o->quote && !(o->escape && c == o->escape))
			continue;
		buf_put(out, s + from, i - from);
		buf_put_u8(out, (uint8_t)(c == o->quote ? o->quote : o->escape));
		from = i; /* the character itself follows */
	}
	buf_put(out, s + from, len - from);
	buf_put_u8(out, (uint8_t)o->quote);
}

static void reader_init(struct csv_reader *r, const struct csv_opts *o)
{
	memset(r, 0, sizeof(*r));
	r->o = *o;
	if (!r->o.max_record)
		r->o.max_record = CSV_DEFAULT_MAX_RECORD;
	if (!r->o.max_fields)
		r->o.max_fields = CSV_DEFAULT_MAX_FIELDS;
	r->line = 1;
	r->pushback = -2;
	buf_init(&r->data);
	buf_init(&r->raw);
}

void csv_reader_file(struct csv_reader *r, FILE *f, const struct csv_opts *o)
{
	reader_init(r, o);
	r->f = f;
}

void csv_reader_mem(struct csv_reader *r, const void *p, size_t len, const struct csv_opts *o)
{
	reader_init(r, o);
	r->mem = p;
	r->mem_len = len;
}

void csv_reader_release(struct csv_reader *r)
{
	buf_release(&r->data);
	buf_release(&r->raw);
	free(r->fields);
	r->fields = NULL;
}

/* Next byte or -1 at the end; counts lines and keeps the raw text. */
static int next_char(struct csv_reader *r)
{
	int c;
	if (r->pushback != -2) {
		c = r->pushback;
		r->pushback = -2;
		return c;
	}
	if (r->f)
		c = getc_unlocked(r->f);
	else
		c = r->mem_pos < r->mem_len ? r->mem[r->mem_pos++] : -1;
	if (c == EOF)
		return -1;
	if (c == '\n')
		r->line++;
	buf_put_u8(&r->raw, (uint8_t)c);
	return c;
}

static int field_start(struct csv_reader *r, struct cerr *err)
{
	if (r->n_fields == r->o.max_fields)
		return cerr_set(err, COL_ETOOBIG, "line %zu: more than %zu fields", r->rec_line,
		                r->o.max_fields);
	if (r->n_fields == r->cap_fields) {
		size_t cap = r->cap_fields ? r->cap_fields * 2 : 16;
		struct csv_field *nf = realloc(r->fields, cap * sizeof(*nf));
		if (!nf)
			return cerr_set(err, COL_ENOMEM, "out of memory");
		r->fields = nf;
		r->cap_fields = cap;
	}
	r->fields[r->n_fields++] = (struct csv_field){.off = r->data.len};
	return 0;
}

/* Skip the rest of the current physical line after an error. */
static void skip_line(struct csv_reader *r)
{
	int c;
	while ((c = next_char(r)) != -1 && c != '\n')
		;
}

static int fail(struct csv_reader *r, int code, struct cerr *err, const char *what)
{
	cerr_set(err, code, "line %zu: %s", r->rec_line, what);
	if (code != COL_ENOMEM)
		skip_line(r);
	return code;
}

/* A delimiter: the next field starts (an error skips the rest of the line). */
static int next_field(struct csv_reader *r, struct cerr *err)
{
	int rc = field_start(r, err);
	if (rc && rc != COL_ENOMEM)
		skip_line(r);
	return rc;
}

enum rstate { RS_FIELD_START, RS_UNQUOTED, RS_QUOTED, RS_QUOTE_IN_QUOTED };

/* Strip a trailing '\r' that belongs to a "\r\n" line end from the raw text. */
static void raw_strip_eol(struct csv_reader *r)
{
	if (r->raw.len && r->raw.data[r->raw.len - 1] == '\n')
		r->raw.len--;
	if (r->raw.len && r->raw.data[r->raw.len - 1] == '\r')
		r->raw.len--;
}

static int end_record(struct csv_reader *r)
{
	struct csv_field *f = &r->fields[r->n_fields - 1];
	f->len = r->data.len - f->off;
	/* "\r\n": the '\r' of an unquoted last field is the line end. */
	if (!f->quoted && f->len && r->data.data[r->data.len - 1] == '\r') {
		f->len--;
		r->data.len--;
	}
	raw_strip_eol(r);
	return 1;
}

/* One character of a record; 1 = the record ended, 0 = go on, < 0 error. */
static int step(struct csv_reader *r, enum rstate *st, int c, struct cerr *err)
{
	const struct csv_opts *o = &r->o;
	bool esc = o->escape && c == (unsigned char)o->escape;
	switch (*st) {
	case RS_FIELD_START:
		if (c == (unsigned char)o->quote) {
			r->fields[r->n_fields - 1].quoted = true;
			*st = RS_QUOTED;
			return 0;
		}
		*st = RS_UNQUOTED;
		/* fall through */
	case RS_UNQUOTED:
		if (c == '\n')
			return end_record(r);
		if (c == (unsigned char)o->delim) {
			struct csv_field *f = &r->fields[r->n_fields - 1];
			f->len = r->data.len - f->off;
			*st = RS_FIELD_START;
			return next_field(r, err);
		}
		break;
	case RS_QUOTED:
		if (c == (unsigned char)o->quote) {
			*st = RS_QUOTE_IN_QUOTED;
			return 0;
		}
		break;
	case RS_QUOTE_IN_QUOTED:
		if (c == (unsigned char)o->quote) {
			*st = RS_QUOTED;
			break;
		}
		if (c == '\r')
			return 0;
		if (c == '\n')
			return end_record(r);
		if (c == (unsigned char)o->delim) {
			struct csv_field *f = &r->fields[r->n_fields - 1];
			f->len = r->data.len - f->off;
			*st = RS_FIELD_START;
			return next_field(r, err);
		}
		return fail(r, COL_ESYNTAX, err, "text after a closing quote");
	}
	if (esc && *st != RS_QUOTE_IN_QUOTED) {
		int n = next_char(r);
		if (n == -1)
			return fail(r, COL_ESYNTAX, err,
			            "escape character at the end of the input");
		c = n;
	}
	buf_put_u8(&r->data, (uint8_t)c);
	if (r->data.len > r->o.max_record)
		return fail(r, COL_ETOOBIG, err, "record longer than the limit");
	if (!buf_ok(&r->data))
		return fail(r, COL_ENOMEM, err, "out of memory");
	return 0;
}

int csv_read(struct csv_reader *r, struct cerr *err)
{
	int c;
	for (;;) { /* skip blank lines */
		buf_reset(&r->raw);
		r->rec_line = r->line;
		c = next_char(r);
		if (c == -1)
			return 0;
		if (c == '\r') {
			int n = next_char(r);
			if (n == '\n')
				continue;
			r->pushback = n;
			break;
		}
		if (c != '\n')
			break;
	}
	buf_reset(&r->data);
	r->n_fields = 0;
	int rc = field_start(r, err);
	if (rc)
		return rc;
	enum rstate st = RS_FIELD_START;
	for (;;) {
		rc = step(r, &st, c, err);
		if (rc)
			return rc;
		c = next_char(r);
		if (c != -1)
			continue;
		if (st == RS_QUOTED)
			return cerr_set(err, COL_ESYNTAX, "line %zu: unterminated quoted field",
			                r->rec_line);
		return end_record(r);
	}
}
