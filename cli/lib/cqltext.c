/*
 * cqltext.c — cqlsh's value text back to native bytes (see cqltext.h).
 */
#include "cli/lib/cqltext.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Literal kind of unquoted text for a simple type. */
static enum cqllit_kind bare_kind(const struct cqltype *t, const char *s, size_t len)
{
	switch (t->kind) {
	case CQLTYPE_BLOB: return CQLLIT_HEX;
	case CQLTYPE_BOOLEAN: return CQLLIT_BOOLEAN;
	case CQLTYPE_TINYINT:
	case CQLTYPE_SMALLINT:
	case CQLTYPE_INT:
	case CQLTYPE_BIGINT:
	case CQLTYPE_COUNTER:
	case CQLTYPE_VARINT: return CQLLIT_INTEGER;
	case CQLTYPE_FLOAT:
	case CQLTYPE_DOUBLE:
	case CQLTYPE_DECIMAL: {
		size_t i = len && (s[0] == '-' || s[0] == '+') ? 1 : 0;
		bool digits = i < len;
		for (; i < len; i++)
			digits = digits && s[i] >= '0' && s[i] <= '9';
		return digits ? CQLLIT_INTEGER : CQLLIT_FLOAT;
	}
	case CQLTYPE_UUID:
	case CQLTYPE_TIMEUUID: return CQLLIT_UUID;
	case CQLTYPE_DURATION: return CQLLIT_DURATION;
	default: return CQLLIT_STRING;
	}
}

struct tparser {
	const char *s;
	size_t len, pos;
	struct buf tmp; /* unescaped quoted strings */
	struct cerr *err;
};

static void skip_ws(struct tparser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'))
		p->pos++;
}

static int expect(struct tparser *p, char c)
{
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == c) {
		p->pos++;
		return 0;
	}
	return cerr_set(p->err, COL_ESYNTAX, "expected '%c' at offset %zu of '%.*s'", c, p->pos,
	                (int)(p->len > 200 ? 200 : p->len), p->s);
}

static bool peek(struct tparser *p, char c)
{
	skip_ws(p);
	return p->pos < p->len && p->s[p->pos] == c;
}

/* A quoted string ('' = one quote) into p->tmp, or a bare token; *quoted says which. */
static int token(struct tparser *p, const char **out, size_t *out_len, bool *quoted)
{
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '\'') {
		buf_reset(&p->tmp);
		for (size_t i = p->pos + 1; i < p->len; i++) {
			if (p->s[i] != '\'') {
				buf_put_u8(&p->tmp, (uint8_t)p->s[i]);
				continue;
			}
			if (i + 1 < p->len && p->s[i + 1] == '\'') {
				buf_put_u8(&p->tmp, '\'');
				i++;
				continue;
			}
			p->pos = i + 1;
			*out = p->tmp.data ? (const char *)p->tmp.data : "";
			*out_len = p->tmp.len;
			*quoted = true;
			return buf_ok(&p->tmp) ? 0 : cerr_set(p->err, COL_ENOMEM, "out of memory");
		}
		return cerr_set(p->err, COL_ESYNTAX, "unterminated string at offset %zu", p->pos);
	}
	size_t start = p->pos;
	while (p->pos < p->len && !strchr(" \t,:[]{}()'", p->s[p->pos]))
		p->pos++;
	if (p->pos == start)
		return cerr_set(p->err, COL_ESYNTAX, "expected a value at offset %zu of '%.*s'",
		                start, (int)(p->len > 200 ? 200 : p->len), p->s);
	*out = p->s + start;
	*out_len = p->pos - start;
	*quoted = false;
	return 0;
}

static int parse_value(struct tparser *p, const struct cqltype *t, struct buf *out, int depth);

static int parse_simple(struct tparser *p, const struct cqltype *t, struct buf *out)
{
	const char *s = "";
	size_t n = 0;
	bool quoted = false;
	int rc = token(p, &s, &n, &quoted);
	if (rc)
		return rc;
	if (quoted && n == 0 && t->kind != CQLTYPE_VARCHAR && t->kind != CQLTYPE_ASCII)
		return 0; /* the empty value */
	return cqltype_from_literal(t, quoted ? CQLLIT_STRING : bare_kind(t, s, n), s, n, out,
	                            p->err);
}

struct span {
	size_t off, len;
};

static int parse_collection(struct tparser *p, const struct cqltype *t, struct buf *out, int depth)
{
	bool is_list = t->kind == CQLTYPE_LIST, is_map = t->kind == CQLTYPE_MAP;
	int rc = expect(p, is_list ? '[' : '{');
	if (rc)
		return rc;
	struct buf elems;
	buf_init(&elems);
	struct span *sp = NULL;
	size_t n = 0, cap = 0;
	char close = is_list ? ']' : '}';
	while (!rc && !peek(p, close) && p->pos < p->len) {
		if (n && (rc = expect(p, ',')) != 0)
			break;
		if (n + 2 > cap) {
			cap = cap ? cap * 2 : 16;
			struct span *ns = realloc(sp, cap * sizeof(*ns));
			if (!ns) {
				rc = cerr_set(p->err, COL_ENOMEM, "out of memory");
				break;
			}
			sp = ns;
		}
		size_t at = elems.len;
		rc = parse_value(p, t->elem, &elems, depth + 1);
		sp[n++] = (struct span){at, elems.len - at};
		if (!rc && is_map && (rc = expect(p, ':')) == 0) {
			at = elems.len;
			rc = parse_value(p, t->value, &elems, depth + 1);
			sp[n++] = (struct span){at, elems.len - at};
		}
	}
	if (!rc)
		rc = expect(p, close);
	if (!rc && !buf_ok(&elems))
		rc = cerr_set(p->err, COL_ENOMEM, "out of memory");
	size_t step = is_map ? 2 : 1, count = n / step;
	struct cqlcoll_item *items = rc ? NULL : calloc(count ? count : 1, sizeof(*items));
	if (!rc && !items)
		rc = cerr_set(p->err, COL_ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < count; i++) {
		items[i].key = elems.data + sp[i * step].off;
		items[i].key_len = sp[i * step].len;
		if (is_map) {
			items[i].val = elems.data + sp[i * step + 1].off;
			items[i].val_len = sp[i * step + 1].len;
		}
	}
	if (!rc)
		rc = cqltype_collection_build(t, items, count, out, p->err);
	free(items);
	free(sp);
	buf_release(&elems);
	return rc;
}

static int parse_tuple(struct tparser *p, const struct cqltype *t, struct buf *out, int depth)
{
	int rc = expect(p, '(');
	for (uint32_t i = 0; !rc && i < t->n_fields && !peek(p, ')'); i++) {
		if (i && (rc = expect(p, ',')) != 0)
			break;
		skip_ws(p);
		if (p->len - p->pos >= 4 && strncasecmp(p->s + p->pos, "null", 4) == 0 &&
		    (p->pos + 4 == p->len || strchr(" \t,)", p->s[p->pos + 4]))) {
			p->pos += 4;
			buf_put_u32be(out, UINT32_MAX);
			continue;
		}
		size_t at = out->len;
		buf_put_u32be(out, 0);
		rc = parse_value(p, t->fields[i], out, depth + 1);
		if (!rc && buf_ok(out))
			buf_patch_u32be(out, at, (uint32_t)(out->len - at - 4));
	}
	return rc ? rc : expect(p, ')');
}

/* A UDT field name: bare (lower-cased) or "quoted" ("" for a quote), into p->tmp. */
static int field_name(struct tparser *p)
{
	skip_ws(p);
	buf_reset(&p->tmp);
	if (p->pos < p->len && p->s[p->pos] == '"') {
		for (size_t i = p->pos + 1; i < p->len; i++) {
			if (p->s[i] == '"' && !(i + 1 < p->len && p->s[i + 1] == '"')) {
				p->pos = i + 1;
				return 0;
			}
			buf_put_u8(&p->tmp, (uint8_t)p->s[i]);
			i += p->s[i] == '"';
		}
		return cerr_set(p->err, COL_ESYNTAX, "unterminated field name at offset %zu",
		                p->pos);
	}
	while (p->pos < p->len && (isalnum((unsigned char)p->s[p->pos]) || p->s[p->pos] == '_'))
		buf_put_u8(&p->tmp, (uint8_t)tolower((unsigned char)p->s[p->pos++]));
	if (!p->tmp.len)
		return cerr_set(p->err, COL_ESYNTAX, "expected a field name at offset %zu", p->pos);
	return 0;
}

/* {name: value, ...} in any field order; missing fields are null. */
static int parse_udt(struct tparser *p, const struct cqltype *t, struct buf *out, int depth)
{
	struct span sp[CQLTYPE_MAX_FIELDS];
	for (uint32_t i = 0; i < t->n_fields; i++)
		sp[i] = (struct span){0, SIZE_MAX}; /* SIZE_MAX: null */
	struct buf vals;
	buf_init(&vals);
	int rc = expect(p, '{');
	for (uint32_t n = 0; !rc && !peek(p, '}') && p->pos < p->len; n++) {
		if (n && (rc = expect(p, ',')) != 0)
			break;
		if ((rc = field_name(p)) != 0)
			break;
		int f = cqltype_udt_field(t, (const char *)p->tmp.data, p->tmp.len);
		if (f < 0) {
			rc = cerr_set(p->err, COL_ETYPE, "no field '%.*s' in type %s",
			              (int)p->tmp.len, (const char *)p->tmp.data,
			              t->udt_name ? t->udt_name : "?");
			break;
		}
		if ((rc = expect(p, ':')) != 0)
			break;
		skip_ws(p);
		if (p->len - p->pos >= 4 && strncasecmp(p->s + p->pos, "null", 4) == 0 &&
		    (p->pos + 4 == p->len || strchr(" \t,}", p->s[p->pos + 4]))) {
			p->pos += 4;
			sp[f].len = SIZE_MAX;
			continue;
		}
		size_t at = vals.len;
		rc = parse_value(p, t->fields[f], &vals, depth + 1);
		sp[f] = (struct span){at, vals.len - at};
	}
	if (!rc)
		rc = expect(p, '}');
	if (!rc && !buf_ok(&vals))
		rc = cerr_set(p->err, COL_ENOMEM, "out of memory");
	for (uint32_t i = 0; !rc && i < t->n_fields; i++) {
		if (sp[i].len == SIZE_MAX) {
			buf_put_u32be(out, UINT32_MAX);
			continue;
		}
		buf_put_u32be(out, (uint32_t)sp[i].len);
		buf_put(out, vals.data + sp[i].off, sp[i].len);
	}
	buf_release(&vals);
	return rc;
}

static int parse_value(struct tparser *p, const struct cqltype *t, struct buf *out, int depth)
{
	if (depth > CQLTYPE_MAX_DEPTH)
		return cerr_set(p->err, COL_ESYNTAX, "value nested too deeply");
	if (cqltype_is_collection(t))
		return parse_collection(p, t, out, depth);
	if (t->kind == CQLTYPE_TUPLE)
		return parse_tuple(p, t, out, depth);
	if (t->kind == CQLTYPE_UDT)
		return parse_udt(p, t, out, depth);
	return parse_simple(p, t, out);
}

int cqltext_parse(const struct cqltype *t, const char *text, size_t len, struct buf *out,
                  struct cerr *err)
{
	if (!cqltype_is_collection(t) && !cqltype_is_tuple_like(t))
		return cqltype_from_literal(t, bare_kind(t, text, len), text, len, out, err);
	struct tparser p = {.s = text, .len = len, .err = err};
	buf_init(&p.tmp);
	int rc = parse_value(&p, t, out, 0);
	skip_ws(&p);
	if (!rc && p.pos != p.len)
		rc = cerr_set(err, COL_ESYNTAX, "unexpected text at offset %zu of '%.*s'", p.pos,
		              (int)(len > 200 ? 200 : len), text);
	buf_release(&p.tmp);
	return rc;
}
