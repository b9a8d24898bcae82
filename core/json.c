/*
 * json.c — the JSON writer, and a recursive-descent JSON reader with a depth bound.
 */
#include "core/array.h"
#include "core/json.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct json {
	enum json_type type;
	bool b;
	bool is_int;
	int64_t i;
	double d;
	char *s;  /* JSON_STRING */
	size_t n; /* children */
	struct json **kids;
	char **keys; /* JSON_OBJECT: n keys */
};

struct parser {
	const char *p;
	size_t len, pos;
	struct cerr *err;
	int depth;
};

static int fail(struct parser *ps, const char *what)
{
	return cerr_set(ps->err, COL_ECORRUPT, "JSON offset %zu: %s", ps->pos, what);
}

static void skip_ws(struct parser *ps)
{
	while (ps->pos < ps->len) {
		char c = ps->p[ps->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		ps->pos++;
	}
}

static int peek(struct parser *ps)
{
	return ps->pos < ps->len ? (unsigned char)ps->p[ps->pos] : -1;
}

static int hex4(struct parser *ps, unsigned *out)
{
	if (ps->len - ps->pos < 4)
		return fail(ps, "truncated \\u escape");
	unsigned v = 0;
	for (int k = 0; k < 4; k++) {
		char c = ps->p[ps->pos++];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return fail(ps, "bad hex digit in \\u escape");
	}
	*out = v;
	return 0;
}

static size_t utf8_put(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* At the opening quote; decoded string (malloc'd) in *out. */
static int parse_string(struct parser *ps, char **out)
{
	ps->pos++; /* " */
	size_t start = ps->pos;
	/* Decoded text is never longer than the escaped text. */
	size_t end = start;
	while (end < ps->len && ps->p[end] != '"') {
		if (ps->p[end] == '\\')
			end++;
		end++;
	}
	if (end >= ps->len)
		return fail(ps, "unterminated string");
	char *o = malloc(end - start + 1);
	if (!o)
		return cerr_set(ps->err, COL_ENOMEM, "JSON: out of memory");
	size_t n = 0;
	while (ps->pos < end) {
		unsigned char c = (unsigned char)ps->p[ps->pos++];
		if (c < 0x20) {
			free(o);
			return fail(ps, "control character in string");
		}
		if (c != '\\') {
			o[n++] = (char)c;
			continue;
		}
		char e = ps->p[ps->pos++];
		unsigned cp;
		switch (e) {
		case '"': o[n++] = '"'; break;
		case '\\': o[n++] = '\\'; break;
		case '/': o[n++] = '/'; break;
		case 'b': o[n++] = '\b'; break;
		case 'f': o[n++] = '\f'; break;
		case 'n': o[n++] = '\n'; break;
		case 'r': o[n++] = '\r'; break;
		case 't': o[n++] = '\t'; break;
		case 'u':
			if (hex4(ps, &cp)) {
				free(o);
				return COL_ECORRUPT;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				unsigned lo;
				if (ps->pos + 2 > end || ps->p[ps->pos] != '\\' ||
				    ps->p[ps->pos + 1] != 'u') {
					free(o);
					return fail(ps, "unpaired surrogate");
				}
				ps->pos += 2;
				if (hex4(ps, &lo) || lo < 0xdc00 || lo > 0xdfff) {
					free(o);
					return fail(ps, "bad low surrogate");
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				free(o);
				return fail(ps, "unpaired surrogate");
			}
			if (cp == 0) {
				free(o);
				return fail(ps, "\\u0000 in string");
			}
			/* \uXXXX is 6 bytes of input and at most 3 (4 for a pair of 12) of output.
			 */
			n += utf8_put(o + n, cp);
			break;
		default: free(o); return fail(ps, "bad escape in string");
		}
	}
	o[n] = 0;
	ps->pos = end + 1;
	*out = o;
	return 0;
}

static int parse_value(struct parser *ps, struct json **out);

static struct json *node_new(enum json_type t)
{
	struct json *j = calloc(1, sizeof(*j));
	if (j)
		j->type = t;
	return j;
}

static int add_kid(struct parser *ps, struct json *j, struct json *kid, char *key, size_t *cap)
{
	if (j->n == *cap) {
		size_t nc = array_next_cap(*cap, j->n + 1);
		struct json **k = array_resize(j->kids, nc, sizeof(*k));
		if (!k)
			return cerr_set(ps->err, COL_ENOMEM, "JSON: out of memory");
		j->kids = k;
		if (j->type == JSON_OBJECT) {
			char **ks = array_resize(j->keys, nc, sizeof(*ks));
			if (!ks)
				return cerr_set(ps->err, COL_ENOMEM, "JSON: out of memory");
			j->keys = ks;
		}
		*cap = nc;
	}
	j->kids[j->n] = kid;
	if (j->type == JSON_OBJECT)
		j->keys[j->n] = key;
	j->n++;
	return 0;
}

static int parse_container(struct parser *ps, struct json **out, bool object)
{
	if (++ps->depth > JSON_MAX_DEPTH)
		return fail(ps, "nesting deeper than 64");
	ps->pos++; /* [ or { */
	struct json *j = node_new(object ? JSON_OBJECT : JSON_ARRAY);
	if (!j)
		return cerr_set(ps->err, COL_ENOMEM, "JSON: out of memory");
	size_t cap = 0;
	char close = object ? '}' : ']';
	skip_ws(ps);
	if (peek(ps) == close) {
		ps->pos++;
		ps->depth--;
		*out = j;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		skip_ws(ps);
		if (object) {
			if (peek(ps) != '"') {
				json_free(j);
				return fail(ps, "expected a member name");
			}
			if (parse_string(ps, &key)) {
				json_free(j);
				return COL_ECORRUPT;
			}
			skip_ws(ps);
			if (peek(ps) != ':') {
				free(key);
				json_free(j);
				return fail(ps, "expected ':'");
			}
			ps->pos++;
		}
		struct json *kid;
		int rc = parse_value(ps, &kid);
		if (rc) {
			free(key);
			json_free(j);
			return rc;
		}
		if (add_kid(ps, j, kid, key, &cap)) {
			free(key);
			json_free(kid);
			json_free(j);
			return COL_ENOMEM;
		}
		skip_ws(ps);
		int c = peek(ps);
		if (c == ',') {
			ps->pos++;
			continue;
		}
		if (c == close) {
			ps->pos++;
			break;
		}
		json_free(j);
		return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
	ps->depth--;
	*out = j;
	return 0;
}

static int parse_number(struct parser *ps, struct json **out)
{
	size_t start = ps->pos;
	bool integral = true;
	if (peek(ps) == '-')
		ps->pos++;
	if (!(peek(ps) >= '0' && peek(ps) <= '9'))
		return fail(ps, "bad number");
	while (ps->pos < ps->len) {
		char c = ps->p[ps->pos];
		if (c >= '0' && c <= '9')
			ps->pos++;
		else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			integral = false;
			ps->pos++;
		} else
			break;
	}
	char tmp[JSON_MAX_NUMBER + 1];
	size_t n = ps->pos - start;
	if (n > JSON_MAX_NUMBER)
		return fail(ps, "number too long");
	memcpy(tmp, ps->p + start, n);
	tmp[n] = 0;
	char *end;
	errno = 0;
	double d = strtod(tmp, &end);
	if (*end)
		return fail(ps, "bad number");
	/* Valid JSON beyond a double's range (a decimal's 1E+400): the exact text is kept
	 * (json_num_text); as a double it is the largest finite one of its sign. */
	if (!isfinite(d))
		d = d > 0 ? DBL_MAX : -DBL_MAX;
	struct json *j = node_new(JSON_NUMBER);
	if (!j)
		return cerr_set(ps->err, COL_ENOMEM, "JSON: out of memory");
	j->d = d;
	j->s = strdup(tmp);
	if (!j->s) {
		free(j);
		return cerr_set(ps->err, COL_ENOMEM, "JSON: out of memory");
	}
	if (integral) {
		errno = 0;
		long long v = strtoll(tmp, &end, 10);
		if (!errno && !*end) {
			j->is_int = true;
			j->i = v;
		}
	}
	*out = j;
	return 0;
}

static int literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);
	if (ps->len - ps->pos < n || memcmp(ps->p + ps->pos, word, n) != 0)
		return fail(ps, "unexpected character");
	ps->pos += n;
	return 0;
}

static int parse_value(struct parser *ps, struct json **out)
{
	skip_ws(ps);
	int c = peek(ps);
	struct json *j;
	switch (c) {
	case -1: return fail(ps, "unexpected end of input");
	case '{': return parse_container(ps, out, true);
	case '[': return parse_container(ps, out, false);
	case '"': {
		char *s;
		if (parse_string(ps, &s))
			return COL_ECORRUPT;
		j = node_new(JSON_STRING);
		if (!j) {
			free(s);
			return cerr_set(ps->err, COL_ENOMEM, "JSON: out of memory");
		}
		j->s = s;
		*out = j;
		return 0;
	}
	case 't':
	case 'f':
	case 'n':
		if (literal(ps, c == 't' ? "true" : c == 'f' ? "false" : "null"))
			return COL_ECORRUPT;
		j = node_new(c == 'n' ? JSON_NULL : JSON_BOOL);
		if (!j)
			return cerr_set(ps->err, COL_ENOMEM, "JSON: out of memory");
		j->b = c == 't';
		*out = j;
		return 0;
	default: return parse_number(ps, out);
	}
}

int json_parse(const char *text, size_t len, struct json **out, struct cerr *err)
{
	struct parser ps = {.p = text, .len = len, .err = err};
	struct json *j;
	int rc = parse_value(&ps, &j);
	if (rc)
		return rc;
	skip_ws(&ps);
	if (ps.pos != ps.len) {
		json_free(j);
		return fail(&ps, "trailing characters after the value");
	}
	*out = j;
	return 0;
}

void json_free(struct json *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->n; i++) {
		json_free(j->kids[i]);
		if (j->keys)
			free(j->keys[i]);
	}
	free(j->kids);
	free(j->keys);
	free(j->s);
	free(j);
}

enum json_type json_type(const struct json *j)
{
	return j ? j->type : JSON_NULL;
}

const struct json *json_get(const struct json *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return obj->kids[i];
	return NULL;
}

size_t json_len(const struct json *j)
{
	return j && (j->type == JSON_ARRAY || j->type == JSON_OBJECT) ? j->n : 0;
}

const struct json *json_at(const struct json *j, size_t i)
{
	return i < json_len(j) ? j->kids[i] : NULL;
}

const char *json_key_at(const struct json *j, size_t i)
{
	return j && j->type == JSON_OBJECT && i < j->n ? j->keys[i] : NULL;
}

const char *json_str(const struct json *j, const char *dflt)
{
	return j && j->type == JSON_STRING ? j->s : dflt;
}

const char *json_num_text(const struct json *j)
{
	return j && j->type == JSON_NUMBER ? j->s : NULL;
}

double json_num(const struct json *j, double dflt)
{
	return j && j->type == JSON_NUMBER ? j->d : dflt;
}

int64_t json_int(const struct json *j, int64_t dflt)
{
	if (!j || j->type != JSON_NUMBER)
		return dflt;
	if (j->is_int)
		return j->i;
	if (j->d >= -9.2e18 && j->d <= 9.2e18)
		return (int64_t)j->d;
	return dflt;
}

bool json_bool(const struct json *j, bool dflt)
{
	return j && j->type == JSON_BOOL ? j->b : dflt;
}

/* ---- writer ---------------------------------------------------------------------------------- */

void jw_init(struct jw *w, struct buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

static void jw_sep(struct jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0) {
		if (!w->first[w->depth - 1])
			buf_put_u8(w->b, ',');
		w->first[w->depth - 1] = false;
	}
}

static void jw_open(struct jw *w, char c)
{
	jw_sep(w);
	buf_put_u8(w->b, (uint8_t)c);
	if (w->depth == JW_MAX_DEPTH) {
		w->overflow = true;
		return;
	}
	w->first[w->depth++] = true;
}

static void jw_close(struct jw *w, char c)
{
	buf_put_u8(w->b, (uint8_t)c);
	if (w->depth > 0)
		w->depth--;
}

void jw_obj(struct jw *w)
{
	jw_open(w, '{');
}
void jw_obj_end(struct jw *w)
{
	jw_close(w, '}');
}
void jw_arr(struct jw *w)
{
	jw_open(w, '[');
}
void jw_arr_end(struct jw *w)
{
	jw_close(w, ']');
}

static void put_escaped(struct buf *b, const char *s, size_t n)
{
	buf_put_u8(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': buf_put(b, "\\\"", 2); break;
		case '\\': buf_put(b, "\\\\", 2); break;
		case '\n': buf_put(b, "\\n", 2); break;
		case '\r': buf_put(b, "\\r", 2); break;
		case '\t': buf_put(b, "\\t", 2); break;
		default:
			if (c < 0x20)
				buf_printf(b, "\\u%04x", c);
			else
				buf_put_u8(b, c);
		}
	}
	buf_put_u8(b, '"');
}

void jw_key(struct jw *w, const char *key)
{
	jw_sep(w);
	put_escaped(w->b, key, strlen(key));
	buf_put_u8(w->b, ':');
	w->after_key = true;
}

void json_put_string(struct buf *b, const char *s, size_t n)
{
	put_escaped(b, s, n);
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
	jw_sep(w);
	put_escaped(w->b, s, n);
}

void jw_str(struct jw *w, const char *s)
{
	if (!s) {
		jw_null(w);
		return;
	}
	jw_strn(w, s, strlen(s));
}

void jw_int(struct jw *w, int64_t v)
{
	jw_sep(w);
	buf_printf(w->b, "%lld", (long long)v);
}

void jw_uint(struct jw *w, uint64_t v)
{
	jw_sep(w);
	buf_printf(w->b, "%llu", (unsigned long long)v);
}

void jw_double(struct jw *w, double v)
{
	jw_sep(w);
	if (!isfinite(v))
		buf_put_str(w->b, "null");
	else
		buf_printf(w->b, "%.17g", v);
}

void jw_fixed(struct jw *w, double v, int decimals)
{
	jw_sep(w);
	if (!isfinite(v))
		buf_put_str(w->b, "null");
	else
		buf_printf(w->b, "%.*f", decimals, v);
}

void jw_bool(struct jw *w, bool v)
{
	jw_sep(w);
	buf_put_str(w->b, v ? "true" : "false");
}

void jw_null(struct jw *w)
{
	jw_sep(w);
	buf_put_str(w->b, "null");
}

void jw_raw(struct jw *w, const void *json, size_t n)
{
	jw_sep(w);
	buf_put(w->b, json, n);
}

void jw_field_str(struct jw *w, const char *key, const char *s)
{
	jw_key(w, key);
	jw_str(w, s);
}

void jw_field_int(struct jw *w, const char *key, int64_t v)
{
	jw_key(w, key);
	jw_int(w, v);
}

void jw_field_uint(struct jw *w, const char *key, uint64_t v)
{
	jw_key(w, key);
	jw_uint(w, v);
}

void jw_field_fixed(struct jw *w, const char *key, double v, int decimals)
{
	jw_key(w, key);
	jw_fixed(w, v, decimals);
}

void jw_field_bool(struct jw *w, const char *key, bool v)
{
	jw_key(w, key);
	jw_bool(w, v);
}
