/*
 * cqltype_json.c — values to and from JSON, with Cassandra's mapping and
 * spacing (cqltype.h).  Writing trusts nothing: invalid bytes are written as
 * null.  Reading takes a tree from json_parse() and converts scalars through
 * cqltype_from_literal(), so JSON accepts exactly what a CQL literal accepts.
 */
#include "core/cqltype.h"
#include "core/cqltype_int.h"
#include "core/hex.h"
#include "core/json.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- writing */

/* Java's Double.toString / Float.toString: shortest digits that read back,
 * plain for 1e-3 <= |v| < 1e7 (at least one decimal), else d.dddE±x. */
static void put_java_floating(struct buf *out, double v, bool is_float)
{
	if (isnan(v) || isinf(v)) {
		buf_put_str(out, isnan(v) ? "\"NaN\"" : v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return;
	}
	if (v == 0) {
		buf_put_str(out, signbit(v) ? "-0.0" : "0.0");
		return;
	}
	char tmp[64];
	for (int p = 1; p <= 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
		double back = strtod(tmp, NULL);
		if (is_float ? (float)back == (float)v : back == v)
			break;
	}
	/* tmp: [-]d[.ddd]e[+-]xx */
	const char *s = tmp;
	if (*s == '-') {
		buf_put_u8(out, '-');
		s++;
	}
	char digits[32];
	size_t nd = 0;
	for (; *s && *s != 'e'; s++)
		if (*s != '.' && nd < sizeof(digits) - 1)
			digits[nd++] = *s;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	int exp = *s == 'e' ? atoi(s + 1) : 0;
	double a = fabs(v);
	if (a >= 1e-3 && a < 1e7) {
		if (exp < 0) {
			buf_put_str(out, "0.");
			for (int k = 0; k < -exp - 1; k++)
				buf_put_u8(out, '0');
			buf_put(out, digits, nd);
			return;
		}
		size_t ip = (size_t)exp + 1;
		for (size_t k = 0; k < ip; k++)
			buf_put_u8(out, k < nd ? (uint8_t)digits[k] : '0');
		buf_put_u8(out, '.');
		if (nd > ip)
			buf_put(out, digits + ip, nd - ip);
		else
			buf_put_u8(out, '0');
		return;
	}
	buf_put_u8(out, (uint8_t)digits[0]);
	buf_put_u8(out, '.');
	if (nd > 1)
		buf_put(out, digits + 1, nd - 1);
	else
		buf_put_u8(out, '0');
	buf_printf(out, "E%d", exp);
}

static void put_json_timestamp(struct buf *out, int64_t ms)
{
	int64_t days = ms / 86400000LL, rem = ms % 86400000LL;
	if (rem < 0) {
		rem += 86400000LL;
		days--;
	}
	int64_t y;
	unsigned m, d;
	cqlt_civil_from_days(days, &y, &m, &d);
	buf_printf(out, "\"%04" PRId64 "-%02u-%02u %02d:%02d:%02d.%03dZ\"", y, m, d,
	           (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
	           (int)(rem % 1000));
}

/* A value whose JSON is its cqlsh text in a JSON string. */
static void put_as_string(const struct cqltype *t, const uint8_t *p, size_t len, struct buf *out)
{
	struct buf tmp;
	buf_init(&tmp);
	cqltype_format(t, p, len, &tmp);
	if (!buf_ok(&tmp))
		out->oom = true;
	json_put_string(out, (const char *)tmp.data, tmp.len);
	buf_release(&tmp);
}

static void to_json_depth(const struct cqltype *t, const uint8_t *p, size_t len, struct buf *out);

/* A map key: its JSON if that is a string, else that JSON quoted. */
static void put_map_key(const struct cqltype *t, const uint8_t *p, size_t len, struct buf *out)
{
	struct buf tmp;
	buf_init(&tmp);
	to_json_depth(t, p, len, &tmp);
	if (!buf_ok(&tmp))
		out->oom = true;
	if (tmp.len && tmp.data[0] == '"')
		buf_put(out, tmp.data, tmp.len);
	else
		json_put_string(out, (const char *)tmp.data, tmp.len);
	buf_release(&tmp);
}

static void put_collection(const struct cqltype *t, const uint8_t *p, size_t len, struct buf *out)
{
	struct bufreader r;
	bufreader_init(&r, p, len);
	int32_t n = (int32_t)bufreader_u32be(&r);
	bool map = t->kind == CQLTYPE_MAP;
	buf_put_u8(out, map ? '{' : '[');
	for (int32_t i = 0; i < n; i++) {
		if (i)
			buf_put_str(out, ", ");
		uint32_t el = bufreader_u32be(&r);
		const uint8_t *ep = bufreader_take(&r, el);
		if (map) {
			put_map_key(t->elem, ep, el, out);
			buf_put_str(out, ": ");
			el = bufreader_u32be(&r);
			ep = bufreader_take(&r, el);
			to_json_depth(t->value, ep, el, out);
		} else {
			to_json_depth(t->elem, ep, el, out);
		}
	}
	buf_put_u8(out, map ? '}' : ']');
}

static void put_tuple(const struct cqltype *t, const uint8_t *p, size_t len, struct buf *out)
{
	struct bufreader r;
	bufreader_init(&r, p, len);
	buf_put_u8(out, '[');
	for (uint32_t i = 0; i < t->n_fields; i++) {
		if (i)
			buf_put_str(out, ", ");
		int32_t el = bufreader_left(&r) ? (int32_t)bufreader_u32be(&r) : -1;
		if (el < 0)
			buf_put_str(out, "null");
		else
			to_json_depth(t->fields[i], bufreader_take(&r, (size_t)el), (size_t)el,
			              out);
	}
	buf_put_u8(out, ']');
}

/* Cassandra: {"street": "x", "city": null}, every field of the type. */
static void put_udt(const struct cqltype *t, const uint8_t *p, size_t len, struct buf *out)
{
	struct bufreader r;
	bufreader_init(&r, p, len);
	buf_put_u8(out, '{');
	for (uint32_t i = 0; i < t->n_fields; i++) {
		if (i)
			buf_put_str(out, ", ");
		/* a name with upper case is written double-quoted, as Cassandra's toJSONString,
		 * so that reading it back (udt_member_field) does not lower-case it */
		const char *nm = t->field_names[i];
		bool upper = false;
		for (const char *c = nm; *c && !upper; c++)
			upper = *c >= 'A' && *c <= 'Z';
		if (upper) {
			struct buf q;
			buf_init(&q);
			buf_put_u8(&q, '"');
			buf_put_str(&q, nm);
			buf_put_u8(&q, '"');
			if (buf_ok(&q))
				json_put_string(out, (const char *)q.data, q.len);
			buf_release(&q);
		} else {
			json_put_string(out, nm, strlen(nm));
		}
		buf_put_str(out, ": ");
		int32_t el = bufreader_left(&r) ? (int32_t)bufreader_u32be(&r) : -1;
		if (el < 0)
			buf_put_str(out, "null");
		else
			to_json_depth(t->fields[i], bufreader_take(&r, (size_t)el), (size_t)el,
			              out);
	}
	buf_put_u8(out, '}');
}

static void to_json_depth(const struct cqltype *t, const uint8_t *p, size_t len, struct buf *out)
{
	bool text = t->kind == CQLTYPE_ASCII || t->kind == CQLTYPE_VARCHAR;
	if (cqltype_validate(t, p, len, NULL) != 0 ||
	    (len == 0 && !text && t->kind != CQLTYPE_BLOB)) {
		buf_put_str(out, "null");
		return;
	}
	switch (t->kind) {
	case CQLTYPE_ASCII:
	case CQLTYPE_VARCHAR: json_put_string(out, (const char *)p, len); return;
	case CQLTYPE_BLOB:
		buf_put_str(out, "\"0x");
		hex_put(out, p, len);
		buf_put_u8(out, '"');
		return;
	case CQLTYPE_BOOLEAN: buf_put_str(out, p[0] ? "true" : "false"); return;
	case CQLTYPE_TINYINT:
	case CQLTYPE_SMALLINT:
	case CQLTYPE_INT:
	case CQLTYPE_BIGINT:
	case CQLTYPE_COUNTER:
	case CQLTYPE_VARINT: cqltype_format(t, p, len, out); return;
	case CQLTYPE_DECIMAL: cqlt_put_decimal(out, p, len); return;
	case CQLTYPE_FLOAT: put_java_floating(out, load_float(p), true); return;
	case CQLTYPE_DOUBLE: put_java_floating(out, load_double(p), false); return;
	case CQLTYPE_TIMESTAMP: put_json_timestamp(out, (int64_t)be64_load(p)); return;
	case CQLTYPE_LIST:
	case CQLTYPE_SET:
	case CQLTYPE_MAP: put_collection(t, p, len, out); return;
	case CQLTYPE_TUPLE: put_tuple(t, p, len, out); return;
	case CQLTYPE_UDT: put_udt(t, p, len, out); return;
	default: put_as_string(t, p, len, out); return;
	}
}

void cqltype_to_json(const struct cqltype *t, const void *bytes, size_t len, struct buf *out)
{
	to_json_depth(t, bytes, len, out);
}

/* ---------------------------------------------------------------- reading */

/* Jackson's class of a parsed value, as Cassandra's messages name it. */
static const char *java_class(const struct json *j)
{
	switch (json_type(j)) {
	case JSON_BOOL: return "Boolean";
	case JSON_STRING: return "String";
	case JSON_ARRAY: return "ArrayList";
	case JSON_OBJECT: return "LinkedHashMap";
	case JSON_NUMBER: {
		const char *s = json_num_text(j);
		if (s && strpbrk(s, ".eE"))
			return "Double";
		int64_t v = json_int(j, 0);
		return s && strlen(s) > 19 ? "BigInteger" : v == (int32_t)v ? "Integer" : "Long";
	}
	default: return "null";
	}
}

/* A short rendering of j for messages. */
static void describe(const struct json *j, char *dst, size_t cap)
{
	switch (json_type(j)) {
	case JSON_STRING: snprintf(dst, cap, "%s", json_str(j, "")); return;
	case JSON_NUMBER: snprintf(dst, cap, "%s", json_num_text(j)); return;
	case JSON_BOOL: snprintf(dst, cap, "%s", json_bool(j, false) ? "true" : "false"); return;
	case JSON_ARRAY: snprintf(dst, cap, "[%zu elements]", json_len(j)); return;
	case JSON_OBJECT: snprintf(dst, cap, "{%zu entries}", json_len(j)); return;
	default: snprintf(dst, cap, "null"); return;
	}
}

static int expected(const struct json *j, const char *what, struct cerr *err)
{
	char d[200];
	describe(j, d, sizeof(d));
	return cerr_set(err, COL_ETYPE, "Expected %s, but got a %s: %s", what, java_class(j), d);
}

static const char *expectation(enum cqltype_kind k)
{
	switch (k) {
	case CQLTYPE_ASCII: return "an ascii string";
	case CQLTYPE_VARCHAR: return "a UTF-8 string";
	case CQLTYPE_BLOB: return "a string representation of a blob";
	case CQLTYPE_BOOLEAN: return "a boolean value";
	case CQLTYPE_TINYINT: return "a byte value";
	case CQLTYPE_SMALLINT: return "a short value";
	case CQLTYPE_INT: return "an int value";
	case CQLTYPE_BIGINT:
	case CQLTYPE_COUNTER: return "a bigint value";
	case CQLTYPE_VARINT: return "an integer value";
	case CQLTYPE_DECIMAL: return "a decimal value";
	case CQLTYPE_FLOAT: return "a float value";
	case CQLTYPE_DOUBLE: return "a double value";
	case CQLTYPE_TIMESTAMP: return "a long or a datestring representation of a timestamp value";
	case CQLTYPE_DATE: return "a string representation of a date value";
	case CQLTYPE_TIME: return "a string representation of a time value";
	case CQLTYPE_UUID:
	case CQLTYPE_TIMEUUID: return "a string representation of a uuid";
	case CQLTYPE_INET: return "a string representation of an inet value";
	case CQLTYPE_DURATION: return "a string representation of a duration";
	case CQLTYPE_LIST: return "a list";
	case CQLTYPE_SET: return "a list (representing a set)";
	case CQLTYPE_MAP: return "a map";
	case CQLTYPE_TUPLE: return "a list representation of a tuple";
	case CQLTYPE_UDT: return "a map";
	default: return "a value";
	}
}

static bool is_numeric(enum cqltype_kind k)
{
	return k == CQLTYPE_TINYINT || k == CQLTYPE_SMALLINT || k == CQLTYPE_INT ||
	       k == CQLTYPE_BIGINT || k == CQLTYPE_COUNTER || k == CQLTYPE_VARINT ||
	       k == CQLTYPE_DECIMAL || k == CQLTYPE_FLOAT || k == CQLTYPE_DOUBLE;
}

/* The literal kind a JSON string stands for as a value of k. */
static enum cqllit_kind string_kind(enum cqltype_kind k, const char *s)
{
	if (k == CQLTYPE_UUID || k == CQLTYPE_TIMEUUID)
		return CQLLIT_UUID;
	if (k == CQLTYPE_BLOB)
		return CQLLIT_HEX;
	if (k == CQLTYPE_BOOLEAN)
		return CQLLIT_BOOLEAN;
	if (is_numeric(k)) {
		size_t n = strlen(s);
		return cqlt_all_digits(s, n, true) ? CQLLIT_INTEGER : CQLLIT_FLOAT;
	}
	return CQLLIT_STRING;
}

static int scalar_from_json(const struct cqltype *t, const struct json *j, struct buf *out,
                            struct cerr *err)
{
	enum cqltype_kind k = t->kind;
	enum json_type jt = json_type(j);
	const char *text;
	enum cqllit_kind lk;
	if (jt == JSON_STRING) {
		text = json_str(j, "");
		if (k == CQLTYPE_BLOB && !(text[0] == '0' && (text[1] == 'x' || text[1] == 'X')))
			return cerr_set(err, COL_ETYPE,
			                "String representation of blob is missing 0x prefix: %s",
			                text);
		lk = string_kind(k, text);
		if (is_numeric(k) && !*text)
			return 0; /* the empty value, as Cassandra's fromString("") */
	} else if (jt == JSON_NUMBER && (is_numeric(k) || k == CQLTYPE_TIMESTAMP ||
	                                 k == CQLTYPE_DATE || k == CQLTYPE_TIME)) {
		text = json_num_text(j);
		lk = strpbrk(text, ".eE") ? CQLLIT_FLOAT : CQLLIT_INTEGER;
		if (lk == CQLLIT_FLOAT &&
		    !(k == CQLTYPE_DECIMAL || k == CQLTYPE_FLOAT || k == CQLTYPE_DOUBLE))
			return expected(j, expectation(k), err);
	} else if (jt == JSON_BOOL && k == CQLTYPE_BOOLEAN) {
		text = json_bool(j, false) ? "true" : "false";
		lk = CQLLIT_BOOLEAN;
	} else {
		return expected(j, expectation(k), err);
	}
	if (k == CQLTYPE_VARCHAR || k == CQLTYPE_ASCII) {
		if (jt != JSON_STRING)
			return expected(j, expectation(k), err);
	}
	int rc = cqltype_from_literal(t, lk, text, strlen(text), out, err);
	if (rc && jt == JSON_STRING && is_numeric(k))
		return cerr_set(err, COL_ETYPE, "Unable to make %s from '%s'", cqltype_kind_name(k),
		                text);
	return rc;
}

static int from_json_depth(const struct cqltype *t, const struct json *j, struct buf *out,
                           struct cerr *err, int depth);

/* Convert one element into scratch; its offset and length go to pos. */
static int element(const struct cqltype *t, const struct json *j, struct buf *scratch,
                   size_t pos[2], struct cerr *err, int depth)
{
	if (json_type(j) == JSON_NULL)
		return cerr_set(err, COL_ETYPE, "Invalid null element in %s",
		                depth == 0 ? "collection" : "nested collection");
	pos[0] = scratch->len;
	int rc = from_json_depth(t, j, scratch, err, depth + 1);
	pos[1] = scratch->len - pos[0];
	return rc;
}

static int collection_from_json(const struct cqltype *t, const struct json *j, struct buf *out,
                                struct cerr *err, int depth)
{
	bool map = t->kind == CQLTYPE_MAP;
	if (json_type(j) != (map ? JSON_OBJECT : JSON_ARRAY))
		return expected(j, expectation(t->kind), err);
	size_t n = json_len(j);
	struct buf scratch;
	buf_init(&scratch);
	size_t(*pos)[4] = calloc(n ? n : 1, sizeof(*pos));
	struct cqlcoll_item *items = calloc(n ? n : 1, sizeof(*items));
	int rc = pos && items ? 0 : cerr_set(err, COL_ENOMEM, "out of memory");
	for (size_t i = 0; i < n && !rc; i++) {
		if (map) {
			const char *ks = json_key_at(j, i);
			struct json *kj = NULL;
			/* a non-string key is written as its JSON in a string */
			bool stringy =
			        t->elem->kind == CQLTYPE_VARCHAR || t->elem->kind == CQLTYPE_ASCII;
			if (!stringy && json_parse(ks, strlen(ks), &kj, NULL) != 0)
				kj = NULL;
			if (stringy || !kj) {
				pos[i][0] = scratch.len;
				rc = stringy ? cqltype_from_literal(t->elem, CQLLIT_STRING, ks,
				                                    strlen(ks), &scratch, err)
				             : cqltype_from_literal(t->elem,
				                                    string_kind(t->elem->kind, ks),
				                                    ks, strlen(ks), &scratch, err);
				pos[i][1] = scratch.len - pos[i][0];
			} else {
				rc = element(t->elem, kj, &scratch, pos[i], err, depth);
			}
			json_free(kj);
			if (!rc)
				rc = element(t->value, json_at(j, i), &scratch, pos[i] + 2, err,
				             depth);
		} else {
			rc = element(t->elem, json_at(j, i), &scratch, pos[i], err, depth);
		}
	}
	if (!rc && !buf_ok(&scratch))
		rc = cerr_set(err, COL_ENOMEM, "out of memory");
	static const uint8_t none[1];
	const uint8_t *base = scratch.data ? scratch.data : none; /* every element empty */
	for (size_t i = 0; i < n && !rc; i++)
		items[i] = (struct cqlcoll_item){base + pos[i][0], pos[i][1],
		                                 map ? base + pos[i][2] : NULL, pos[i][3]};
	if (!rc)
		rc = cqltype_collection_build(t, items, n, out, err);
	free(pos);
	free(items);
	buf_release(&scratch);
	return rc;
}

static int tuple_from_json(const struct cqltype *t, const struct json *j, struct buf *out,
                           struct cerr *err, int depth)
{
	if (json_type(j) != JSON_ARRAY)
		return expected(j, expectation(t->kind), err);
	if (json_len(j) != t->n_fields)
		return cerr_set(err, COL_ETYPE,
		                "Tuple contains extra items (expected %u): %zu items given",
		                t->n_fields, json_len(j));
	for (uint32_t i = 0; i < t->n_fields; i++) {
		const struct json *f = json_at(j, i);
		if (json_type(f) == JSON_NULL) {
			buf_put_u32be(out, UINT32_MAX);
			continue;
		}
		size_t at = out->len;
		buf_put_u32be(out, 0);
		int rc = from_json_depth(t->fields[i], f, out, err, depth + 1);
		if (rc)
			return rc;
		if (buf_ok(out))
			be32_store(out->data + at, (uint32_t)(out->len - at - 4));
	}
	return 0;
}

/* The field of user type t a JSON member name stands for: lower-cased unless written
 * "\"Name\"" (Cassandra's Json.handleCaseSensitivity); -1 if none. */
static int udt_member_field(const struct cqltype *t, const char *key)
{
	size_t n = strlen(key);
	if (n >= 2 && key[0] == '"' && key[n - 1] == '"')
		return cqltype_udt_field(t, key + 1, n - 2);
	char low[256];
	if (n >= sizeof(low))
		return -1;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)((key[i] >= 'A' && key[i] <= 'Z') ? key[i] - 'A' + 'a' : key[i]);
	return cqltype_udt_field(t, low, n);
}

/* A user type: a JSON object with a member per field given (the others null). */
static int udt_from_json(const struct cqltype *t, const struct json *j, struct buf *out,
                         struct cerr *err, int depth)
{
	if (json_type(j) != JSON_OBJECT)
		return expected(j, expectation(t->kind), err);
	const struct json *vals[CQLTYPE_MAX_FIELDS] = {0};
	for (size_t i = 0; i < json_len(j); i++) {
		int f = udt_member_field(t, json_key_at(j, i));
		if (f < 0)
			return cerr_set(err, COL_ETYPE,
			                "Unknown field '%.100s' in value of user defined type %s",
			                json_key_at(j, i), t->udt_name);
		vals[f] = json_at(j, i);
	}
	for (uint32_t i = 0; i < t->n_fields; i++) {
		if (json_type(vals[i]) == JSON_NULL) {
			buf_put_u32be(out, UINT32_MAX);
			continue;
		}
		size_t at = out->len;
		buf_put_u32be(out, 0);
		int rc = from_json_depth(t->fields[i], vals[i], out, err, depth + 1);
		if (rc)
			return rc;
		if (buf_ok(out))
			be32_store(out->data + at, (uint32_t)(out->len - at - 4));
	}
	return 0;
}

static int from_json_depth(const struct cqltype *t, const struct json *j, struct buf *out,
                           struct cerr *err, int depth)
{
	if (depth > CQLTYPE_MAX_DEPTH)
		return cerr_set(err, COL_ETYPE, "JSON value nested too deeply");
	if (cqltype_is_collection(t))
		return collection_from_json(t, j, out, err, depth);
	if (t->kind == CQLTYPE_TUPLE)
		return tuple_from_json(t, j, out, err, depth);
	if (t->kind == CQLTYPE_UDT)
		return udt_from_json(t, j, out, err, depth);
	return scalar_from_json(t, j, out, err);
}

int cqltype_from_json(const struct cqltype *t, const struct json *j, struct buf *out,
                      struct cerr *err)
{
	if (json_type(j) == JSON_NULL)
		return cerr_set(err, COL_EINVAL, "null is not a value");
	return from_json_depth(t, j, out, err, 0);
}
