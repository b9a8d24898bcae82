/*
 * cqltext.h — the inverse of cqltype_format(): a value as cqlsh prints it
 * (and as cqlsh's COPY writes it to CSV) back to its native bytes, for COPY
 * FROM.
 *
 * Top level, the text is the value itself: text/ascii raw (no quotes),
 * timestamps "2026-11-25 16:24:19.123000+0000" (or anything CQL accepts),
 * blobs "0x0aff", booleans "True"/"false", uuids, numbers, durations.
 * Collections and tuples use CQL literal syntax as cqlsh prints it: "[1, 2]",
 * "{'a', 'b'}", "{'k': 1}", "(1, 'x', null)", user types "{street: 'x', zip: null}"
 * (fields in any order, missing ones null); inside them strings, dates,
 * times, timestamps and inets are single-quoted with '' for a quote, and ''
 * alone is the empty value.
 */
#ifndef COLONNADE_CLI_CQLTEXT_H
#define COLONNADE_CLI_CQLTEXT_H

#include "core/buf.h"
#include "core/cqltype.h"
#include "core/err.h"

#include <stddef.h>

/* Append the native bytes of text[0..len) read as type t.  COL_ETYPE /
 * COL_ESYNTAX with what did not parse ("expected ']' at offset 7 of '[1, 2'"). */
int cqltext_parse(const struct cqltype *t, const char *text, size_t len, struct buf *out,
                  struct cerr *err);

#endif
