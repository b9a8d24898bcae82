/*
 * json.h — JSON text: a writer for the admin endpoints and the tools' reports,
 * and a reader for the operator tools (colonnade status, ...) and tests.
 *
 * Writer (struct jw): appends to a struct buf the caller owns (an allocation
 * failure latches the buf's `oom`).  It places commas itself, escapes strings
 * (quote, backslash, \n \r \t, other control characters as \u00XX; invalid
 * UTF-8 passes through as is — our strings are addresses, names and ids), and
 * writes non-finite numbers as null.  Output is compact: no spaces.  Depth is
 * bounded by JW_MAX_DEPTH; deeper opens are not tracked and latch `overflow`
 * (a bug in the caller, caught by tests).
 *
 * Reader: RFC 8259 JSON into a read-only tree: objects, arrays, strings
 * (escapes and \u surrogate pairs decoded to UTF-8), numbers (their text kept;
 * beyond a double's range json_num clamps to +-DBL_MAX), true/false/null.
 * Nesting is bounded (JSON_MAX_DEPTH) so hostile input cannot exhaust the
 * stack; input is taken with its length and never read past it.
 * json_parse() returns a tree the caller frees with json_free(); every pointer
 * obtained from it (strings, children) lives as long as the root.  Accessors
 * accept NULL and wrong types and return the given default, so
 * `json_str(json_get(root, "dc"), "?")` never crashes on an unexpected answer.
 */
#ifndef COLONNADE_CORE_JSON_H
#define COLONNADE_CORE_JSON_H

#include "core/buf.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- writer ---- */

#define JW_MAX_DEPTH 16
struct jw {
	struct buf *b;
	int depth;
	bool first[JW_MAX_DEPTH];
	bool after_key;
	bool overflow;
};
void jw_init(struct jw *w, struct buf *b);
void jw_obj(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr(struct jw *w);
void jw_arr_end(struct jw *w);
void jw_key(struct jw *w, const char *key);
/* A NUL-terminated string; NULL writes null. */
void jw_str(struct jw *w, const char *s);
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, int64_t v);
void jw_uint(struct jw *w, uint64_t v);
/* Round-trip precision (%.17g). */
void jw_double(struct jw *w, double v);
/* Fixed-point with `decimals` digits after the point (%.*f), for figures people read. */
void jw_fixed(struct jw *w, double v, int decimals);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
/* One complete JSON value written elsewhere (by another jw), placed as is. */
void jw_raw(struct jw *w, const void *json, size_t n);
/* An object member in one call: jw_key(w, key) then the value. */
void jw_field_str(struct jw *w, const char *key, const char *s);
void jw_field_int(struct jw *w, const char *key, int64_t v);
void jw_field_uint(struct jw *w, const char *key, uint64_t v);
void jw_field_fixed(struct jw *w, const char *key, double v, int decimals);
void jw_field_bool(struct jw *w, const char *key, bool v);
/* s[0..n) as a quoted, escaped JSON string appended to b (no separators). */
void json_put_string(struct buf *b, const char *s, size_t n);

/* ---- reader ---- */

#define JSON_MAX_DEPTH 64
/* Longest number text accepted (a varint or decimal may be long). */
#define JSON_MAX_NUMBER 1024

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json;

/* Parse text[0..len).  0, or COL_ECORRUPT with "offset N: what" in err. */
int json_parse(const char *text, size_t len, struct json **out, struct cerr *err);
void json_free(struct json *j);

enum json_type json_type(const struct json *j); /* JSON_NULL for NULL */
/* Member of an object (first match), or NULL. */
const struct json *json_get(const struct json *obj, const char *key);
/* Number of elements of an array or members of an object; 0 otherwise. */
size_t json_len(const struct json *j);
/* i-th element of an array, or i-th member value of an object; NULL out of range. */
const struct json *json_at(const struct json *j, size_t i);
/* i-th member name of an object, or NULL. */
const char *json_key_at(const struct json *j, size_t i);

const char *json_str(const struct json *j, const char *dflt);
double json_num(const struct json *j, double dflt);
/* A number's text exactly as written (full precision for varint/decimal), or NULL. */
const char *json_num_text(const struct json *j);
/* Integers beyond 2^53 keep full precision when written without '.'/'e'. */
int64_t json_int(const struct json *j, int64_t dflt);
bool json_bool(const struct json *j, bool dflt);

#endif
