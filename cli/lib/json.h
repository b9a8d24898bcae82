/*
 * json.h — a small JSON reader for the operator tools (colonnade status, ...).
 *
 * The admin HTTP endpoint (coordinator/admin/admin.h) answers in JSON; the tools in
 * cli/ parse it with this reader into a read-only tree and format tables from
 * it.  RFC 8259 JSON: objects, arrays, strings (escapes and \u surrogate pairs
 * decoded to UTF-8), numbers, true/false/null.  Nesting is bounded
 * (JSON_MAX_DEPTH) so hostile input cannot exhaust the stack; input is taken
 * with its length and never read past it.
 *
 * Ownership: json_parse() returns a tree the caller frees with json_free();
 * every pointer obtained from it (strings, children) lives as long as the root.
 * Accessors accept NULL and wrong types and return the given default, so
 * `json_str(json_get(root, "dc"), "?")` never crashes on an unexpected answer.
 */
#ifndef COLONNADE_CLI_JSON_H
#define COLONNADE_CLI_JSON_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 64

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
/* Integers beyond 2^53 keep full precision when written without '.'/'e'. */
int64_t json_int(const struct json *j, int64_t dflt);
bool json_bool(const struct json *j, bool dflt);

#endif
