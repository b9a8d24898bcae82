/*
 * cqltype.h — CQL data types: names, native-protocol bytes, validation,
 * Cassandra's ordering, an order-preserving key encoding, cqlsh-style text,
 * and CQL literal conversion.
 *
 * It knows no schema and no storage: a type and bytes in, bytes or text out.
 *
 * A value is always handled in its *native form*: the bytes the CQL native
 * protocol v4 carries for it ([bytes] body without the length), e.g. int = 4
 * bytes big-endian two's complement, text = UTF-8, timestamp = int64 ms since
 * the epoch, date = uint32 days with the epoch at 2^31, collections =
 * [int n] then n elements each as [int len][bytes] (maps: key then value).
 * An empty (zero-length) value is valid for every type, as in Cassandra, and
 * sorts before every non-empty value.
 *
 * Types are trees of `struct cqltype`.  Simple types are shared immutable
 * singletons (cqltype_simple()); cqltype_parse() and cqltype_collection_new()
 * return heap trees the caller frees with cqltype_free() (which ignores
 * singletons, so every type pointer may be passed to it).  Types are immutable
 * once built and may be shared between threads.
 *
 * Ordered encoding (cqltype_encode_ordered): for clustering keys. memcmp of two
 * encodings orders exactly as cqltype_compare() orders the values; DESC
 * inverts every byte.  Encodings are self-delimiting (prefix-free), so
 * components can be concatenated.  Each component starts with a marker byte,
 * 0x01 = empty value, 0x02 = non-empty (DESC: 0xFE / 0xFD), so the first byte
 * of a component is never 0x00 or 0xFF: a key prefix P followed by 0xFF is
 * greater than every key that continues P.  Payload after marker 0x02, ASC:
 *
 * | type                               | payload                                        |
 * |------------------------------------|------------------------------------------------|
 * | tinyint/smallint/int/bigint/       | big-endian with the sign bit flipped           |
 * |   counter/timestamp/time           |                                                |
 * | boolean                            | 1 byte, 0x00 false, 0x01 true                  |
 * | float, double                      | IEEE bits: negative -> all bits inverted,      |
 * |                                    | else sign bit set; every NaN -> canonical NaN  |
 * | date                               | 4 bytes as is (unsigned order)                 |
 * | ascii/text/blob/inet               | bytes with 0x00 -> 0x00 0xFF, then 0x00 0x01   |
 * | timeuuid                           | reordered msb (time_hi|mid|low) sign-flipped,  |
 * |                                    | then each lsb byte ^ 0x80 (Cassandra's signed  |
 * |                                    | byte order)                                    |
 * | uuid                               | version nibble byte, msb (reordered if v1),    |
 * |                                    | lsb — 17 bytes                                 |
 * | varint                             | sign 0x00 neg / 0x01 zero / 0x02 pos, u32 len  |
 * |                                    | of magnitude, magnitude BE (negative: len and  |
 * |                                    | magnitude inverted)                            |
 * | decimal                            | sign byte as varint; then int64 exponent E     |
 * |                                    | (value = 0.d1d2.. x 10^E) sign-flipped, digits |
 * |                                    | as 0x01..0x0A, terminator 0x00 (negative: all  |
 * |                                    | after the sign byte inverted)                  |
 * | frozen list/set                    | per element 0x02 + element encoding, then 0x01 |
 * | frozen map                         | per entry 0x02 + key enc + value enc, then 0x01|
 * | tuple                              | per field of the type: 0x01 null (or missing), |
 * |                                    | else 0x02 + the field's encoding               |
 *
 * Decoding gives back native bytes that compare equal to the original; they
 * are byte-identical for canonical inputs (minimal varints, decimals without
 * trailing zeros, canonical NaN, boolean 0/1).
 */
#ifndef COLONNADE_CORE_CQLTYPE_H
#define COLONNADE_CORE_CQLTYPE_H

#include "core/buf.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Native protocol v4 [option] ids; never renumbered (they cross the wire). */
enum cqltype_kind {
	CQLTYPE_CUSTOM = 0x00, /* not supported; listed for completeness */
	CQLTYPE_ASCII = 0x01,
	CQLTYPE_BIGINT = 0x02,
	CQLTYPE_BLOB = 0x03,
	CQLTYPE_BOOLEAN = 0x04,
	CQLTYPE_COUNTER = 0x05,
	CQLTYPE_DECIMAL = 0x06,
	CQLTYPE_DOUBLE = 0x07,
	CQLTYPE_FLOAT = 0x08,
	CQLTYPE_INT = 0x09,
	CQLTYPE_TIMESTAMP = 0x0B,
	CQLTYPE_UUID = 0x0C,
	CQLTYPE_VARCHAR = 0x0D, /* "text" and "varchar" are the same type */
	CQLTYPE_VARINT = 0x0E,
	CQLTYPE_TIMEUUID = 0x0F,
	CQLTYPE_INET = 0x10,
	CQLTYPE_DATE = 0x11,
	CQLTYPE_TIME = 0x12,
	CQLTYPE_SMALLINT = 0x13,
	CQLTYPE_TINYINT = 0x14,
	CQLTYPE_DURATION = 0x15, /* months, days, nanoseconds: three vints (cqltype_duration.c) */
	CQLTYPE_LIST = 0x20,
	CQLTYPE_MAP = 0x21,
	CQLTYPE_SET = 0x22,
	CQLTYPE_UDT = 0x30,   /* a user-defined type: a tuple whose fields have names */
	CQLTYPE_TUPLE = 0x31, /* frozen: [int len][bytes] per field (len -1: null) */
};

/* Bound on nesting of collection types (frozen<list<frozen<map<...>>>>). */
#define CQLTYPE_MAX_DEPTH 8
/* Bound on the fields of a tuple (Cassandra has none; a type text is bounded). */
#define CQLTYPE_MAX_FIELDS 256

struct cqltype {
	enum cqltype_kind kind;
	bool frozen;                   /* collections only: frozen<...> */
	bool heap_;                    /* internal: allocated by this module */
	const struct cqltype *elem;    /* list/set element type; map key type */
	const struct cqltype *value;   /* map value type; NULL otherwise */
	const struct cqltype **fields; /* tuple, udt: the type of each field */
	uint32_t n_fields;
	char *udt_keyspace; /* udt: the keyspace that defines it */
	char *udt_name;     /* udt: its name in that keyspace */
	char **field_names; /* udt: the name of each field */
};

/* A tuple or a user-defined type: values are [int len][bytes] per field. */
static inline bool cqltype_is_tuple_like(const struct cqltype *t)
{
	return t->kind == CQLTYPE_TUPLE || t->kind == CQLTYPE_UDT;
}

static inline bool cqltype_is_collection(const struct cqltype *t)
{
	return t->kind == CQLTYPE_LIST || t->kind == CQLTYPE_MAP || t->kind == CQLTYPE_SET;
}

/*
 * A column of this type is stored a cell per element (non-frozen list, set,
 * map: path = list slot, set element, map key) or per field (non-frozen UDT:
 * path = the field's index as a smallint, as Cassandra's cellPathForField).
 */
static inline bool cqltype_is_multicell(const struct cqltype *t)
{
	return !t->frozen && (cqltype_is_collection(t) || t->kind == CQLTYPE_UDT);
}

/*
 * A new tuple type of n field types (n >= 1), always frozen, as in Cassandra
 * (collections in it are frozen too).  Takes ownership of `fields` (a malloc'd
 * array) and of the types in it, also on failure.  NULL on allocation failure.
 */
struct cqltype *cqltype_tuple_new(const struct cqltype **fields, uint32_t n);

/*
 * A new user-defined type ks.name with n >= 1 named fields (a UDT value is
 * encoded as a tuple of its field types, fields in declaration order; a value
 * written before fields were added simply ends early).  frozen: frozen<name>
 * (a whole value) or not (a column whose fields are cells of their own).
 * Collections in fields are frozen, as in Cassandra.  Takes ownership of
 * `names` and `fields` (malloc'd arrays of n malloc'd strings / types), also
 * on failure; copies ks and name.  NULL on allocation failure or n out of
 * 1..CQLTYPE_MAX_FIELDS.
 */
struct cqltype *cqltype_udt_new(const char *ks, const char *name, char **names,
                                const struct cqltype **fields, uint32_t n, bool frozen);

/* The index of UDT field `name`, or -1. */
int cqltype_udt_field(const struct cqltype *t, const char *name, size_t len);

/*
 * Looks up user-defined type `name` (not NUL-terminated) for cqltype_parse_in:
 * 0 and *out = a new copy (not frozen) if known; else COL_ETYPE with
 * Cassandra's message in err.
 */
typedef int (*cqltype_resolver)(void *ctx, const char *name, size_t len, const struct cqltype **out,
                                struct cerr *err);

/* The shared singleton of a simple (non-collection) kind; NULL for a collection
 * kind or an unknown id. */
const struct cqltype *cqltype_simple(enum cqltype_kind kind);

/*
 * A new collection type (kind LIST/SET: elem; MAP: elem=key, value).  Takes
 * ownership of `elem`/`value` (freed with the result, or on failure).  NULL on
 * allocation failure.
 */
struct cqltype *cqltype_collection_new(enum cqltype_kind kind, bool frozen,
                                       const struct cqltype *elem, const struct cqltype *value);

/*
 * Parse a CQL type name: "bigint", "TEXT", "varchar", "set<text>",
 * "frozen<map<text, text>>", "list<frozen<set<int>>>".  Case-insensitive,
 * blanks allowed around tokens.  Nested non-frozen collections are refused as
 * Cassandra refuses them.  On success *out is a type to cqltype_free().
 * Errors: COL_ETYPE "unknown type 'x'", COL_ESYNTAX for malformed text.
 */
int cqltype_parse(const char *text, size_t len, const struct cqltype **out, struct cerr *err);
/*
 * cqltype_parse, with the names that are not built-in types looked up with
 * `resolve` (NULL: none are known): "address", "frozen<address>",
 * "list<frozen<address>>".  A non-frozen UDT inside a collection or a tuple is
 * refused (COL_ETYPE), as Cassandra refuses it.
 */
int cqltype_parse_in(const char *text, size_t len, cqltype_resolver resolve, void *ctx,
                     const struct cqltype **out, struct cerr *err);

/* Deep copy (singletons are returned as is); NULL on allocation failure. */
const struct cqltype *cqltype_copy(const struct cqltype *t);
/* Free a type from cqltype_parse/copy/collection_new; NULL and singletons ok. */
void cqltype_free(const struct cqltype *t);
/* Structural equality (text and varchar are equal). */
bool cqltype_equal(const struct cqltype *a, const struct cqltype *b);

/* CQL name as Cassandra prints it: "text", "set<text>", "frozen<map<text, text>>".
 * Appends to out. */
void cqltype_name(const struct cqltype *t, struct buf *out);
/* Name of a simple kind ("bigint"); "?" for unknown. */
const char *cqltype_kind_name(enum cqltype_kind kind);

/* Native protocol [option] of the type (id, then sub-options for collections). */
void cqltype_write_option(const struct cqltype *t, struct buf *out);
/* Read an [option]; on success *out is a type to cqltype_free(). */
int cqltype_read_option(struct bufreader *r, const struct cqltype **out, struct cerr *err);

/* Fixed native width of a simple type (int 4, uuid 16, ...), 0 if variable. */
size_t cqltype_fixed_size(const struct cqltype *t);

/*
 * Check that bytes[0..len) is a valid native value of type t: right length for
 * fixed types, UTF-8 for text, 7-bit for ascii, 4 or 16 bytes for inet, v1 for
 * timeuuid, 0..86399999999999 for time, well-formed collections with valid
 * elements.  COL_ETYPE with a message naming the type and the problem.
 */
int cqltype_validate(const struct cqltype *t, const void *bytes, size_t len, struct cerr *err);

/*
 * Compare two valid native values as Cassandra orders them: <0, 0, >0.  Empty
 * sorts first; signed integers; float/double by value (Java's Float.compare:
 * -0.0 < 0.0, NaN above +Infinity); timeuuid by time then signed bytes; uuid
 * by version, then time for v1, else unsigned bytes; text/ascii/blob/inet
 * bytewise unsigned (shorter prefix first); varint/decimal numerically;
 * boolean false < true; date unsigned; collections element by element, then
 * by size; tuples field by field, null (or missing) first.
 */
int cqltype_compare(const struct cqltype *t, const void *a, size_t alen, const void *b,
                    size_t blen);

/*
 * Append the order-preserving encoding of a valid native value (see the table
 * above); desc inverts it.  Validates first: COL_ETYPE and nothing appended on
 * invalid input.
 */
int cqltype_encode_ordered(const struct cqltype *t, const void *bytes, size_t len, bool desc,
                           struct buf *out, struct cerr *err);

/*
 * Decode one ordered component from r (advancing past it) and append its native
 * form to out.  COL_ECORRUPT if the bytes are not a valid encoding.
 */
int cqltype_decode_ordered(const struct cqltype *t, struct bufreader *r, bool desc, struct buf *out,
                           struct cerr *err);

/*
 * Append the value as cqlsh prints it: text raw at top level and quoted inside
 * collections, timestamps "2026-11-25 16:24:19.123000+0000", dates
 * "2026-11-25", times "16:24:19.123456789", uuids lowercase hyphenated, blobs
 * "0x0aff", booleans "True"/"False", floats with cqlsh's precision (5 digits
 * for float, 12 for double), collections "[1, 2]" "{'a', 'b'}" "{'k': 'v'}".
 * The empty value prints as "" (cqlsh shows an empty cell).  Invalid bytes
 * print as "<invalid TYPE>" rather than failing.
 */
void cqltype_format(const struct cqltype *t, const void *bytes, size_t len, struct buf *out);
/*
 * Append "NaN", "Infinity" or "-Infinity" (CQL's and cqlsh's spelling) for a
 * non-finite v and return true; for a finite v append nothing, return false.
 */
bool cqltype_put_nonfinite(struct buf *out, double v);

/*
 * True if word[0..len) is one of Cassandra's reserved keywords (any case),
 * which cannot be an unquoted identifier ("select", "from", "table", ...).
 */
bool cql_is_reserved(const char *word, size_t len);

/*
 * Append a CQL name (keyspace, table, column): bare when it reads back as the
 * same identifier — [a-z][a-z0-9_]* and not a word `keyword` says a reader
 * takes as a keyword (NULL: none) — else double-quoted with '"' doubled.
 */
void cql_quote_name(struct buf *out, const char *name, bool (*keyword)(const char *word));
/* Append a CQL string literal: single-quoted, "'" doubled. */
void cql_quote_string(struct buf *out, const void *s, size_t len);

/* Kinds of CQL literal tokens the parser produces. */
enum cqllit_kind {
	CQLLIT_STRING,   /* '...' with the quotes removed and '' already unescaped */
	CQLLIT_INTEGER,  /* -?[0-9]+ */
	CQLLIT_FLOAT,    /* -?[0-9]+(.[0-9]*)?([eE][+-]?[0-9]+)? or NaN, Infinity, -Infinity */
	CQLLIT_BOOLEAN,  /* true / false (any case) */
	CQLLIT_UUID,     /* 01234567-89ab-cdef-0123-456789abcdef */
	CQLLIT_HEX,      /* 0x[0-9a-fA-F]* */
	CQLLIT_NULL,     /* null: not a value; the caller turns it into a deletion */
	CQLLIT_DURATION, /* -?1h30m, unquoted (a quoted one is a STRING) */
};

/*
 * Convert literal text of `kind` to the native bytes of simple type t,
 * appended to out.  Accepts what Cassandra accepts: integers for the integer
 * types with range checks (and for varint/decimal/float/double, timestamp as
 * ms, date as raw days, time as ns); floats for float/double/decimal; strings
 * for text/ascii (checked), timestamp ('2026-01-01', '2026-01-01 10:00:00.123',
 * 'T' separator, 'Z' or +hhmm/+hh:mm zone; no zone = UTC), date
 * ('2026-01-01'), time ('10:00:00.123456789'), inet (v4/v6);
 * uuids for uuid/timeuuid (timeuuid must be v1); hex for blob; booleans for
 * boolean.  Collection values are built by the caller (see
 * cqltype_collection_build).  COL_ETYPE naming the literal and the type on a
 * mismatch; CQLLIT_NULL is refused (COL_EINVAL).
 */
int cqltype_from_literal(const struct cqltype *t, enum cqllit_kind kind, const char *text,
                         size_t len, struct buf *out, struct cerr *err);

/* One element of a collection being built: native bytes of elem (and of value for maps). */
struct cqlcoll_item {
	const void *key;
	size_t key_len;
	const void *val; /* maps only */
	size_t val_len;
};

/*
 * Append the native collection form of items to out: lists keep the order;
 * sets and maps are sorted by cqltype_compare of the element/key and
 * de-duplicated (the last duplicate wins for maps), as Cassandra stores them.
 * Each element is validated.  COL_ETYPE naming the bad element.
 */
int cqltype_collection_build(const struct cqltype *t, const struct cqlcoll_item *items, size_t n,
                             struct buf *out, struct cerr *err);

/*
 * JSON (cqltype_json.c), Cassandra's mapping: text, ascii, blob ("0x..."),
 * timestamp ("2026-01-02 03:04:05.000Z"), date, time, uuid, timeuuid, inet
 * and duration as strings; integer types, varint, decimal, float and double
 * as numbers (non-finite floats as "NaN", "Infinity" strings); boolean as
 * true/false; list, set and tuple as arrays; map as an object whose keys are
 * strings (a non-string key's JSON quoted); user type as an object keyed by
 * field name (a name with upper case written "\"Name\"", as Cassandra does).
 * Spacing as Cassandra writes it: "[1, 2]", {"k": 1}.
 */
/* Append the JSON of a value (the empty value of a non-text type is null). */
void cqltype_to_json(const struct cqltype *t, const void *bytes, size_t len, struct buf *out);
struct json;
/*
 * Native bytes of t for the JSON value j, appended to out.  Accepts what
 * Cassandra's fromJSONObject accepts: the JSON form above, and for non-string
 * types also their CQL literal text in a string ("12", "true").  A JSON null is
 * refused here (the caller decides what null means); COL_ETYPE with
 * Cassandra's message otherwise ("Expected an int value, but got a String: x").
 */
int cqltype_from_json(const struct cqltype *t, const struct json *j, struct buf *out,
                      struct cerr *err);

/* Time helpers shared with the executor and the shell. */
/* Parse a CQL timestamp string to ms since the epoch (UTC if no zone). */
int cqltype_parse_timestamp(const char *s, size_t len, int64_t *ms_out);
/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
int64_t cqltype_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
