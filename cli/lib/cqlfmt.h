/*
 * cqlfmt.h — result and error text exactly as cqlsh (Cassandra 4.1's
 * bin/cqlsh.py, pylib/cqlshlib/displaying.py and formatting.py) prints it, for
 * cqlish.  Pure functions appending to a struct buf, so every layout is pinned
 * by unit tests; the shell decides where the text goes.
 *
 * Table layout (cqlsh print_formatted_result), per page of rows:
 *
 *    id | name            <- ' ' + names left-justified to the column width,
 *   ----+-------               joined by ' | ', trailing blanks stripped
 *     1 | alice           <- '-' + '-+-'.join('-' * width) + '-'
 *                         <- values right-justified; widths are display widths
 *                            (wcwidth: CJK counts 2) of this page only
 *
 * Vertical layout (EXPAND ON): per row "@ Row N", a rule as wide as the longest
 * name and the longest value, then " name | value" lines, then an empty line.
 *
 * Colours (only when asked; the shell asks when stdout is a terminal): column
 * names magenta, partition key red, clustering key cyan, static white; text
 * yellow, blobs dark magenta, collections blue, other values green, null red —
 * cqlsh's DEFAULT_VALUE_COLORS and COLUMN_NAME_COLORS.  Padding stays outside
 * the escape codes so the widths are those of the visible text.
 *
 * Values: core/cqltype.h's cqltype_format (cqlsh's formatting), "null" for a
 * null cell, and control characters in top-level text escaped as cqlsh does
 * ("\n", "\x01", backslash doubled) so one value stays on one line.
 */
#ifndef COLONNADE_CLI_CQLFMT_H
#define COLONNADE_CLI_CQLFMT_H

#include "cli/lib/cqlclient.h"
#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ANSI colours, cqlsh's values. */
#define CQLFMT_RED          "\033[1;31m"
#define CQLFMT_GREEN        "\033[1;32m"
#define CQLFMT_YELLOW       "\033[1;33m"
#define CQLFMT_BLUE         "\033[1;34m"
#define CQLFMT_MAGENTA      "\033[1;35m"
#define CQLFMT_CYAN         "\033[1;36m"
#define CQLFMT_WHITE        "\033[1;37m"
#define CQLFMT_DARK_MAGENTA "\033[0;35m"
#define CQLFMT_RESET        "\033[0m"

/* What a result column is in its table, for the header colour. */
enum cqlfmt_role { CQLFMT_REGULAR = 0, CQLFMT_PARTITION_KEY, CQLFMT_CLUSTERING, CQLFMT_STATIC };

struct cqlfmt_opts {
	bool color;
	bool expand;          /* vertical layout */
	bool tty;             /* cqlsh adds an empty line after each page on a terminal */
	const uint8_t *roles; /* enum cqlfmt_role per result column, or NULL */
};

/*
 * One page of a Rows result as cqlsh's print_static_result: the table (or the
 * vertical layout, numbering rows from row_offset + 1).  with_header: print the
 * header and rule (cqlsh: on the first page, and on every page on a tty).  A
 * page without rows prints the header, the rule and an empty line.
 */
void cqlfmt_rows(struct buf *out, const struct cqlresult *r, const struct cqlfmt_opts *o,
                 bool with_header, uint64_t row_offset);

/* A cell as cqlsh shows it (no colour, no padding): "null" for null. */
void cqlfmt_value(struct buf *out, const struct cqltype *t, const struct cql_slice *v);

/*
 * A server error as cqlsh prints it after "<file>:<line>:" (its driver's
 * exception class name, then the text):
 *   InvalidRequest: Error from server: code=2200 [Invalid query] message="..."
 *   SyntaxException: line 1:9 mismatched input ...
 *   Unavailable: Error from server: code=1000 [Unavailable exception]
 *       message="..." info={'consistency': 'QUORUM', 'required_replicas': 2,
 *       'alive_replicas': 1}
 *   AlreadyExists: Table 'ks.t' already exists
 */
void cqlfmt_error(struct buf *out, const struct cql_error_info *e);
/* The class name alone ("InvalidRequest"). */
const char *cqlfmt_error_class(uint32_t code);

/*
 * Python cmd.Cmd.columnize(): the fewest rows such that the columns, two
 * blanks apart, fit in `width`; "<empty>" for no items.  One line per row.
 */
void cqlfmt_columnize(struct buf *out, const char *const *items, size_t n, size_t width);

/* Display width of UTF-8 text (invalid bytes count 1). */
size_t cqlfmt_width(const char *s, size_t len);

/* A CQL identifier as the driver's protect_name: bare if lower-case [a-z][a-z0-9_]* and not a
 * reserved word, else double-quoted with '"' doubled. */
void cqlfmt_quote_name(struct buf *out, const char *name);
/* A CQL string literal: single-quoted, "'" doubled. */
void cqlfmt_quote_string(struct buf *out, const char *s, size_t len);
/* True for the reserved words the driver quotes ("select", "table", ...). */
bool cqlfmt_is_reserved(const char *word);

#endif
