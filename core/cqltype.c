/*
 * cqltype.c — CQL types: descriptors, type text, protocol [option]s and
 * validation of values (see cqltype.h for the contracts; the other parts of
 * the module are listed in cqltype_int.h).
 */
#include "core/cqltype_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- kinds */

#define SIMPLE(k) [k] = {.kind = k}
static const struct cqltype simple_types[0x16] = {
        SIMPLE(CQLTYPE_ASCII),     SIMPLE(CQLTYPE_BIGINT),   SIMPLE(CQLTYPE_BLOB),
        SIMPLE(CQLTYPE_BOOLEAN),   SIMPLE(CQLTYPE_COUNTER),  SIMPLE(CQLTYPE_DECIMAL),
        SIMPLE(CQLTYPE_DOUBLE),    SIMPLE(CQLTYPE_FLOAT),    SIMPLE(CQLTYPE_INT),
        SIMPLE(CQLTYPE_TIMESTAMP), SIMPLE(CQLTYPE_UUID),     SIMPLE(CQLTYPE_VARCHAR),
        SIMPLE(CQLTYPE_VARINT),    SIMPLE(CQLTYPE_TIMEUUID), SIMPLE(CQLTYPE_INET),
        SIMPLE(CQLTYPE_DATE),      SIMPLE(CQLTYPE_TIME),     SIMPLE(CQLTYPE_SMALLINT),
        SIMPLE(CQLTYPE_TINYINT),   SIMPLE(CQLTYPE_DURATION),
};

static const struct {
	const char *name;
	enum cqltype_kind kind;
} kind_names[] = {
        {"ascii", CQLTYPE_ASCII},       {"bigint", CQLTYPE_BIGINT},
        {"blob", CQLTYPE_BLOB},         {"boolean", CQLTYPE_BOOLEAN},
        {"counter", CQLTYPE_COUNTER},   {"decimal", CQLTYPE_DECIMAL},
        {"double", CQLTYPE_DOUBLE},     {"float", CQLTYPE_FLOAT},
        {"int", CQLTYPE_INT},           {"timestamp", CQLTYPE_TIMESTAMP},
        {"uuid", CQLTYPE_UUID},         {"text", CQLTYPE_VARCHAR},
        {"varchar", CQLTYPE_VARCHAR},   {"varint", CQLTYPE_VARINT},
        {"timeuuid", CQLTYPE_TIMEUUID}, {"inet", CQLTYPE_INET},
        {"date", CQLTYPE_DATE},         {"time", CQLTYPE_TIME},
        {"smallint", CQLTYPE_SMALLINT}, {"tinyint", CQLTYPE_TINYINT},
        {"list", CQLTYPE_LIST},         {"map", CQLTYPE_MAP},
        {"set", CQLTYPE_SET},           {"duration", CQLTYPE_DURATION},
        {"tuple", CQLTYPE_TUPLE},
};

const struct cqltype *cqltype_simple(enum cqltype_kind kind)
{
	if ((unsigned)kind >= sizeof(simple_types) / sizeof(simple_types[0]))
		return NULL;
	const struct cqltype *t = &simple_types[kind];
	return t->kind == kind && kind != CQLTYPE_CUSTOM ? t : NULL;
}

const char *cqltype_kind_name(enum cqltype_kind kind)
{
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (kind_names[i].kind == kind)
			return kind_names[i].name;
	return "?";
}

struct cqltype *cqltype_collection_new(enum cqltype_kind kind, bool frozen,
                                       const struct cqltype *elem, const struct cqltype *value)
{
	struct cqltype *t = calloc(1, sizeof(*t));
	if (!t || !elem || (kind == CQLTYPE_MAP) != (value != NULL) ||
	    !(kind == CQLTYPE_LIST || kind == CQLTYPE_SET || kind == CQLTYPE_MAP)) {
		free(t);
		cqltype_free(elem);
		cqltype_free(value);
		return NULL;
	}
	t->kind = kind;
	t->frozen = frozen;
	t->heap_ = true;
	t->elem = elem;
	t->value = value;
	return t;
}

struct cqltype *cqltype_tuple_new(const struct cqltype **fields, uint32_t n)
{
	struct cqltype *t = calloc(1, sizeof(*t));
	bool ok = t && fields && n > 0 && n <= CQLTYPE_MAX_FIELDS;
	for (uint32_t i = 0; ok && i < n; i++)
		ok = fields[i] != NULL;
	if (!ok) {
		for (uint32_t i = 0; fields && i < n; i++)
			cqltype_free(fields[i]);
		free(fields);
		free(t);
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++)
		if (cqltype_is_collection(fields[i]))
			((struct cqltype *)fields[i])->frozen = true;
	t->kind = CQLTYPE_TUPLE;
	t->frozen = true;
	t->heap_ = true;
	t->fields = fields;
	t->n_fields = n;
	return t;
}

struct cqltype *cqltype_udt_new(const char *ks, const char *name, char **names,
                                const struct cqltype **fields, uint32_t n, bool frozen)
{
	struct cqltype *t = calloc(1, sizeof(*t));
	bool ok = t && names && fields && n > 0 && n <= CQLTYPE_MAX_FIELDS;
	for (uint32_t i = 0; ok && i < n; i++)
		ok = fields[i] != NULL && names[i] != NULL;
	if (t) {
		t->udt_keyspace = strdup(ks);
		t->udt_name = strdup(name);
		ok = ok && t->udt_keyspace && t->udt_name;
	}
	if (!ok) {
		for (uint32_t i = 0; i < n; i++) {
			if (fields)
				cqltype_free(fields[i]);
			if (names)
				free(names[i]);
		}
		free(fields);
		free(names);
		if (t) {
			free(t->udt_keyspace);
			free(t->udt_name);
		}
		free(t);
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++)
		if (cqltype_is_collection(fields[i]))
			((struct cqltype *)fields[i])->frozen = true;
	t->kind = CQLTYPE_UDT;
	t->frozen = frozen;
	t->heap_ = true;
	t->fields = fields;
	t->field_names = names;
	t->n_fields = n;
	return t;
}

int cqltype_udt_field(const struct cqltype *t, const char *name, size_t len)
{
	if (t->kind != CQLTYPE_UDT)
		return -1;
	for (uint32_t i = 0; i < t->n_fields; i++)
		if (strlen(t->field_names[i]) == len && memcmp(t->field_names[i], name, len) == 0)
			return (int)i;
	return -1;
}

void cqltype_free(const struct cqltype *t)
{
	if (!t || !t->heap_)
		return;
	cqltype_free(t->elem);
	cqltype_free(t->value);
	for (uint32_t i = 0; i < t->n_fields; i++) {
		cqltype_free(t->fields[i]);
		if (t->field_names)
			free(t->field_names[i]);
	}
	free(t->fields);
	free(t->field_names);
	free(t->udt_keyspace);
	free(t->udt_name);
	free((void *)t);
}

static const struct cqltype *udt_copy(const struct cqltype *t)
{
	const struct cqltype **f = calloc(t->n_fields, sizeof(*f));
	char **names = calloc(t->n_fields, sizeof(*names));
	for (uint32_t i = 0; f && names && i < t->n_fields; i++) {
		f[i] = cqltype_copy(t->fields[i]);
		names[i] = strdup(t->field_names[i]);
	}
	if (!f || !names) {
		free(f);
		free(names);
		return NULL;
	}
	return cqltype_udt_new(t->udt_keyspace, t->udt_name, names, f, t->n_fields, t->frozen);
}

static const struct cqltype *tuple_copy(const struct cqltype *t)
{
	const struct cqltype **f = calloc(t->n_fields, sizeof(*f));
	for (uint32_t i = 0; f && i < t->n_fields; i++)
		f[i] = cqltype_copy(t->fields[i]);
	return f ? cqltype_tuple_new(f, t->n_fields) : NULL;
}

const struct cqltype *cqltype_copy(const struct cqltype *t)
{
	if (!t || !t->heap_)
		return t;
	if (t->kind == CQLTYPE_TUPLE)
		return tuple_copy(t);
	if (t->kind == CQLTYPE_UDT)
		return udt_copy(t);
	const struct cqltype *e = cqltype_copy(t->elem);
	const struct cqltype *v = t->value ? cqltype_copy(t->value) : NULL;
	if (!e || (t->value && !v)) {
		cqltype_free(e);
		cqltype_free(v);
		return NULL;
	}
	return cqltype_collection_new(t->kind, t->frozen, e, v);
}

bool cqltype_equal(const struct cqltype *a, const struct cqltype *b)
{
	if (a == b)
		return true;
	if (!a || !b || a->kind != b->kind)
		return false;
	if (a->kind == CQLTYPE_UDT &&
	    (a->frozen != b->frozen || strcmp(a->udt_keyspace, b->udt_keyspace) != 0 ||
	     strcmp(a->udt_name, b->udt_name) != 0))
		return false;
	if (cqltype_is_tuple_like(a)) {
		if (a->n_fields != b->n_fields)
			return false;
		for (uint32_t i = 0; i < a->n_fields; i++)
			if (!cqltype_equal(a->fields[i], b->fields[i]) ||
			    (a->field_names && strcmp(a->field_names[i], b->field_names[i]) != 0))
				return false;
		return true;
	}
	if (!cqltype_is_collection(a))
		return true;
	return a->frozen == b->frozen && cqltype_equal(a->elem, b->elem) &&
	       cqltype_equal(a->value, b->value);
}

/* ---------------------------------------------------------------- parse */

struct tparser {
	const char *s;
	size_t len, pos;
	struct cerr *err;
	const char *whole;
	size_t whole_len;
	cqltype_resolver resolve;
	void *ctx;
};

static void tp_blank(struct tparser *p)
{
	while (p->pos < p->len && isspace((unsigned char)p->s[p->pos]))
		p->pos++;
}

static int tp_syntax(struct tparser *p, const char *what)
{
	return cerr_set(p->err, COL_ESYNTAX, "malformed type '%.*s': %s at offset %zu",
	                (int)(p->whole_len > 200 ? 200 : p->whole_len), p->whole, what, p->pos);
}

static int tp_type(struct tparser *p, int depth, const struct cqltype **out);

static int tp_args(struct tparser *p, int depth, const struct cqltype **a, const struct cqltype **b)
{
	tp_blank(p);
	if (p->pos >= p->len || p->s[p->pos] != '<')
		return tp_syntax(p, "expected '<'");
	p->pos++;
	int rc = tp_type(p, depth + 1, a);
	if (rc)
		return rc;
	tp_blank(p);
	if (b) {
		if (p->pos >= p->len || p->s[p->pos] != ',') {
			cqltype_free(*a);
			return tp_syntax(p, "expected ','");
		}
		p->pos++;
		rc = tp_type(p, depth + 1, b);
		if (rc) {
			cqltype_free(*a);
			return rc;
		}
		tp_blank(p);
	}
	if (p->pos >= p->len || p->s[p->pos] != '>') {
		cqltype_free(*a);
		if (b)
			cqltype_free(*b);
		return tp_syntax(p, "expected '>'");
	}
	p->pos++;
	return 0;
}

/* tuple<t1, t2, ...> after the word. */
static int tp_tuple(struct tparser *p, int depth, const struct cqltype **out)
{
	tp_blank(p);
	if (p->pos >= p->len || p->s[p->pos] != '<')
		return tp_syntax(p, "expected '<'");
	p->pos++;
	const struct cqltype **f = calloc(CQLTYPE_MAX_FIELDS, sizeof(*f));
	if (!f)
		return cerr_set(p->err, COL_ENOMEM, "out of memory parsing a type");
	uint32_t n = 0;
	int rc = 0;
	for (;;) {
		if (n == CQLTYPE_MAX_FIELDS) {
			rc = tp_syntax(p, "too many tuple fields");
			break;
		}
		if ((rc = tp_type(p, depth + 1, &f[n])))
			break;
		if (f[n]->kind == CQLTYPE_UDT) /* a tuple freezes what it holds */
			((struct cqltype *)f[n])->frozen = true;
		n++;
		tp_blank(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos >= p->len || p->s[p->pos] != '>')
			rc = tp_syntax(p, "expected '>'");
		else
			p->pos++;
		break;
	}
	if (rc) {
		for (uint32_t i = 0; i < n; i++)
			cqltype_free(f[i]);
		free(f);
		return rc;
	}
	struct cqltype *t = cqltype_tuple_new(f, n);
	if (!t)
		return cerr_set(p->err, COL_ENOMEM, "out of memory parsing a type");
	*out = t;
	return 0;
}

static int tp_type(struct tparser *p, int depth, const struct cqltype **out)
{
	if (depth > CQLTYPE_MAX_DEPTH)
		return tp_syntax(p, "types nested too deeply");
	tp_blank(p);
	size_t start = p->pos;
	while (p->pos < p->len && (isalnum((unsigned char)p->s[p->pos]) || p->s[p->pos] == '_'))
		p->pos++;
	size_t n = p->pos - start;
	if (n == 0)
		return tp_syntax(p, "expected a type name");
	const char *word = p->s + start;
	if (n == 5 && strncasecmp(word, "tuple", 5) == 0)
		return tp_tuple(p, depth, out);
	if (n == 6 && strncasecmp(word, "frozen", 6) == 0) {
		const struct cqltype *inner = NULL;
		int rc = tp_args(p, depth, &inner, NULL);
		if (rc)
			return rc;
		if (cqltype_is_collection(inner) || inner->kind == CQLTYPE_UDT)
			((struct cqltype *)inner)->frozen = true;
		/* frozen<simple> is the simple type itself, as in Cassandra. */
		*out = inner;
		return 0;
	}
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
		if (strlen(kind_names[i].name) != n ||
		    strncasecmp(word, kind_names[i].name, n) != 0)
			continue;
		enum cqltype_kind k = kind_names[i].kind;
		if (k != CQLTYPE_LIST && k != CQLTYPE_SET && k != CQLTYPE_MAP) {
			*out = cqltype_simple(k);
			return 0;
		}
		const struct cqltype *a = NULL, *b = NULL;
		int rc = tp_args(p, depth, &a, k == CQLTYPE_MAP ? &b : NULL);
		if (rc)
			return rc;
		if ((cqltype_is_collection(a) && !a->frozen) ||
		    (b && cqltype_is_collection(b) && !b->frozen)) {
			cqltype_free(a);
			cqltype_free(b);
			return cerr_set(
			        p->err, COL_ETYPE,
			        "invalid type '%.*s': non-frozen collections are not allowed "
			        "inside collections",
			        (int)(p->whole_len > 200 ? 200 : p->whole_len), p->whole);
		}
		if ((a->kind == CQLTYPE_UDT && !a->frozen) ||
		    (b && b->kind == CQLTYPE_UDT && !b->frozen)) {
			cqltype_free(a);
			cqltype_free(b);
			return cerr_set(p->err, COL_ETYPE,
			                "Non-frozen UDTs are not allowed inside collections: %.*s",
			                (int)(p->whole_len > 200 ? 200 : p->whole_len), p->whole);
		}
		if ((k == CQLTYPE_SET || k == CQLTYPE_MAP) && a->kind == CQLTYPE_DURATION) {
			cqltype_free(a);
			cqltype_free(b);
			return cerr_set(p->err, COL_ETYPE, "Durations are not allowed %s: %.*s",
			                k == CQLTYPE_SET ? "inside sets" : "as map keys",
			                (int)(p->whole_len > 200 ? 200 : p->whole_len), p->whole);
		}
		if (k == CQLTYPE_SET || k == CQLTYPE_MAP) {
			if (a->kind == CQLTYPE_COUNTER || (b && b->kind == CQLTYPE_COUNTER)) {
				cqltype_free(a);
				cqltype_free(b);
				return cerr_set(
				        p->err, COL_ETYPE,
				        "invalid type '%.*s': counters are not allowed inside "
				        "collections",
				        (int)(p->whole_len > 200 ? 200 : p->whole_len), p->whole);
			}
		}
		struct cqltype *t = cqltype_collection_new(k, false, a, b);
		if (!t)
			return cerr_set(p->err, COL_ENOMEM, "out of memory parsing a type");
		*out = t;
		return 0;
	}
	if (p->resolve)
		return p->resolve(p->ctx, word, n, out, p->err);
	return cerr_set(p->err, COL_ETYPE, "unknown type '%.*s'", (int)(n > 100 ? 100 : n), word);
}

int cqltype_parse(const char *text, size_t len, const struct cqltype **out, struct cerr *err)
{
	return cqltype_parse_in(text, len, NULL, NULL, out, err);
}

int cqltype_parse_in(const char *text, size_t len, cqltype_resolver resolve, void *ctx,
                     const struct cqltype **out, struct cerr *err)
{
	struct tparser p = {.s = text,
	                    .len = len,
	                    .err = err,
	                    .whole = text,
	                    .whole_len = len,
	                    .resolve = resolve,
	                    .ctx = ctx};
	const struct cqltype *t = NULL;
	int rc = tp_type(&p, 0, &t);
	if (rc)
		return rc;
	tp_blank(&p);
	if (p.pos != p.len) {
		cqltype_free(t);
		return tp_syntax(&p, "unexpected text after the type");
	}
	*out = t;
	return 0;
}

void cqltype_name(const struct cqltype *t, struct buf *out)
{
	if (t->kind == CQLTYPE_TUPLE) { /* always frozen, and named so (Cassandra) */
		buf_put_str(out, "frozen<tuple<");
		for (uint32_t i = 0; i < t->n_fields; i++) {
			if (i)
				buf_put_str(out, ", ");
			cqltype_name(t->fields[i], out);
		}
		buf_put_str(out, ">>");
		return;
	}
	if (t->kind == CQLTYPE_UDT) { /* Cassandra names it without its keyspace */
		if (t->frozen)
			buf_put_str(out, "frozen<");
		cql_quote_name(out, t->udt_name, NULL);
		if (t->frozen)
			buf_put_u8(out, '>');
		return;
	}
	if (!cqltype_is_collection(t)) {
		buf_put_str(out, cqltype_kind_name(t->kind));
		return;
	}
	if (t->frozen)
		buf_put_str(out, "frozen<");
	buf_put_str(out, cqltype_kind_name(t->kind));
	buf_put_u8(out, '<');
	cqltype_name(t->elem, out);
	if (t->value) {
		buf_put_str(out, ", ");
		cqltype_name(t->value, out);
	}
	buf_put_u8(out, '>');
	if (t->frozen)
		buf_put_u8(out, '>');
}

/* A short printable name into a fixed buffer, for error messages. */
const char *cqlt_tname(const struct cqltype *t, char *dst, size_t cap)
{
	struct buf b;
	buf_init(&b);
	cqltype_name(t, &b);
	size_t n = b.len < cap - 1 ? b.len : cap - 1;
	if (b.data)
		memcpy(dst, b.data, n);
	dst[n] = 0;
	buf_release(&b);
	return dst;
}

/* A native-protocol [string]: [short n] then n bytes (names are short). */
static void put_string(struct buf *out, const char *s)
{
	size_t n = strlen(s);
	n = n > UINT16_MAX ? UINT16_MAX : n;
	buf_put_u16be(out, (uint16_t)n);
	buf_put(out, s, n);
}

void cqltype_write_option(const struct cqltype *t, struct buf *out)
{
	buf_put_u16be(out, (uint16_t)t->kind);
	if (t->kind == CQLTYPE_UDT) { /* [string ks][string name][short n] n x ([string][option]) */
		put_string(out, t->udt_keyspace);
		put_string(out, t->udt_name);
	}
	if (cqltype_is_tuple_like(t)) {
		buf_put_u16be(out, (uint16_t)t->n_fields);
		for (uint32_t i = 0; i < t->n_fields; i++) {
			if (t->kind == CQLTYPE_UDT)
				put_string(out, t->field_names[i]);
			cqltype_write_option(t->fields[i], out);
		}
	}
	if (cqltype_is_collection(t)) {
		cqltype_write_option(t->elem, out);
		if (t->value)
			cqltype_write_option(t->value, out);
	}
}

static int read_option(struct bufreader *r, int depth, const struct cqltype **out,
                       struct cerr *err);

/* A tuple [option]'s body: [short n] then n [option]s. */
static int read_tuple_option(struct bufreader *r, int depth, const struct cqltype **out,
                             struct cerr *err)
{
	uint16_t n = bufreader_u16be(r);
	if (!bufreader_ok(r) || n == 0 || n > CQLTYPE_MAX_FIELDS)
		return cerr_set(err, COL_EPROTO, "tuple type option with %u fields", n);
	const struct cqltype **f = calloc(n, sizeof(*f));
	if (!f)
		return cerr_set(err, COL_ENOMEM, "out of memory reading a type option");
	for (uint16_t i = 0; i < n; i++) {
		int rc = read_option(r, depth + 1, &f[i], err);
		if (rc) {
			for (uint16_t k = 0; k < i; k++)
				cqltype_free(f[k]);
			free(f);
			return rc;
		}
	}
	struct cqltype *t = cqltype_tuple_new(f, n);
	if (!t)
		return cerr_set(err, COL_ENOMEM, "out of memory reading a type option");
	*out = t;
	return 0;
}

/* A [string] into a new NUL-terminated copy; NULL if truncated or out of memory. */
static char *read_string_dup(struct bufreader *r)
{
	uint16_t n = bufreader_u16be(r);
	const uint8_t *p = bufreader_take(r, n);
	if (!bufreader_ok(r) || (n && !p))
		return NULL;
	char *s = malloc((size_t)n + 1);
	if (s) {
		if (n)
			memcpy(s, p, n);
		s[n] = 0;
	}
	return s;
}

/* A UDT [option]'s body: [string ks][string name][short n] n x ([string name][option]). */
static int read_udt_option(struct bufreader *r, int depth, const struct cqltype **out,
                           struct cerr *err)
{
	char *ks = read_string_dup(r), *name = read_string_dup(r);
	uint16_t n = bufreader_u16be(r);
	int rc = 0;
	if (!ks || !name || !bufreader_ok(r) || n == 0 || n > CQLTYPE_MAX_FIELDS)
		rc = cerr_set(err, COL_EPROTO, "malformed user type option (%u fields)", n);
	const struct cqltype **f = rc ? NULL : calloc(n, sizeof(*f));
	char **names = rc ? NULL : calloc(n, sizeof(*names));
	if (!rc && (!f || !names))
		rc = cerr_set(err, COL_ENOMEM, "out of memory reading a type option");
	uint16_t got = 0;
	for (; !rc && got < n; got++) {
		names[got] = read_string_dup(r);
		if (!names[got]) {
			rc = cerr_set(err, COL_EPROTO, "truncated user type option field %u", got);
			break;
		}
		if ((rc = read_option(r, depth + 1, &f[got], err))) {
			free(names[got]);
			break;
		}
	}
	struct cqltype *t = NULL;
	if (!rc) {
		t = cqltype_udt_new(ks, name, names, f, n, true);
		if (!t)
			rc = cerr_set(err, COL_ENOMEM, "out of memory reading a type option");
	} else {
		for (uint16_t k = 0; k < got; k++) {
			cqltype_free(f[k]);
			free(names[k]);
		}
		free(f);
		free(names);
	}
	free(ks);
	free(name);
	if (!rc)
		*out = t;
	return rc;
}

static int read_option(struct bufreader *r, int depth, const struct cqltype **out, struct cerr *err)
{
	if (depth > CQLTYPE_MAX_DEPTH)
		return cerr_set(err, COL_EPROTO, "type option nested too deeply");
	uint16_t id = bufreader_u16be(r);
	if (!bufreader_ok(r))
		return cerr_set(err, COL_EPROTO, "truncated type option");
	if (id == CQLTYPE_TUPLE)
		return read_tuple_option(r, depth, out, err);
	if (id == CQLTYPE_UDT)
		return read_udt_option(r, depth, out, err);
	if (id == CQLTYPE_LIST || id == CQLTYPE_SET || id == CQLTYPE_MAP) {
		const struct cqltype *a = NULL, *b = NULL;
		int rc = read_option(r, depth + 1, &a, err);
		if (rc)
			return rc;
		if (id == CQLTYPE_MAP && (rc = read_option(r, depth + 1, &b, err))) {
			cqltype_free(a);
			return rc;
		}
		/* On the wire a collection inside a collection is always frozen. */
		if (cqltype_is_collection(a))
			((struct cqltype *)a)->frozen = true;
		if (b && cqltype_is_collection(b))
			((struct cqltype *)b)->frozen = true;
		struct cqltype *t = cqltype_collection_new((enum cqltype_kind)id, false, a, b);
		if (!t)
			return cerr_set(err, COL_ENOMEM, "out of memory reading a type option");
		*out = t;
		return 0;
	}
	const struct cqltype *t = cqltype_simple((enum cqltype_kind)id);
	if (!t)
		return cerr_set(err, COL_EUNSUPPORTED, "unsupported type option id 0x%04x", id);
	*out = t;
	return 0;
}

int cqltype_read_option(struct bufreader *r, const struct cqltype **out, struct cerr *err)
{
	return read_option(r, 0, out, err);
}

size_t cqltype_fixed_size(const struct cqltype *t)
{
	switch (t->kind) {
	case CQLTYPE_TINYINT:
	case CQLTYPE_BOOLEAN: return 1;
	case CQLTYPE_SMALLINT: return 2;
	case CQLTYPE_INT:
	case CQLTYPE_FLOAT:
	case CQLTYPE_DATE: return 4;
	case CQLTYPE_BIGINT:
	case CQLTYPE_COUNTER:
	case CQLTYPE_DOUBLE:
	case CQLTYPE_TIMESTAMP:
	case CQLTYPE_TIME: return 8;
	case CQLTYPE_UUID:
	case CQLTYPE_TIMEUUID: return 16;
	default: return 0;
	}
}

/* ---------------------------------------------------------------- validate */

/* Length of the valid UTF-8 prefix; == len when all valid.  Rejects overlong
 * forms, surrogates and code points above U+10FFFF. */
static size_t utf8_valid_prefix(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		uint32_t cp;
		if (c >= 0xC2 && c <= 0xDF) {
			n = 2;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 3;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 4;
			cp = c & 0x07;
		} else {
			return i;
		}
		if (len - i < n)
			return i;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return i;
		i += n;
	}
	return i;
}

struct coll_iter {
	struct bufreader r;
	int32_t n;
};

static int validate_depth(const struct cqltype *t, const uint8_t *p, size_t len, int depth,
                          struct cerr *err);

static int validate_collection(const struct cqltype *t, const uint8_t *p, size_t len, int depth,
                               struct cerr *err)
{
	char nb[128];
	struct bufreader r;
	bufreader_init(&r, p, len);
	int32_t n = (int32_t)bufreader_u32be(&r);
	if (!bufreader_ok(&r) || n < 0)
		return cerr_set(err, COL_ETYPE, "invalid %s value: bad element count",
		                cqlt_tname(t, nb, sizeof(nb)));
	for (int32_t i = 0; i < n; i++) {
		for (int part = 0; part < (t->kind == CQLTYPE_MAP ? 2 : 1); part++) {
			int32_t el = (int32_t)bufreader_u32be(&r);
			if (!bufreader_ok(&r) || el < 0 || (size_t)el > bufreader_left(&r))
				return cerr_set(err, COL_ETYPE,
				                "invalid %s value: element %d is truncated or null",
				                cqlt_tname(t, nb, sizeof(nb)), (int)i);
			const uint8_t *ep = bufreader_take(&r, (size_t)el);
			const struct cqltype *et = part ? t->value : t->elem;
			int rc = validate_depth(et, ep, (size_t)el, depth + 1, err);
			if (rc) {
				cerr_prefix(err,
				            "in %s element %d: ", cqlt_tname(t, nb, sizeof(nb)),
				            (int)i);
				return rc;
			}
		}
	}
	if (bufreader_left(&r))
		return cerr_set(err, COL_ETYPE,
		                "invalid %s value: %zu bytes after the last element",
		                cqlt_tname(t, nb, sizeof(nb)), bufreader_left(&r));
	return 0;
}

/* A tuple: at most n_fields [int len][bytes] (len -1: null), nothing after. */
static int validate_tuple(const struct cqltype *t, const uint8_t *p, size_t len, int depth,
                          struct cerr *err)
{
	char nb[128];
	struct bufreader r;
	bufreader_init(&r, p, len);
	for (uint32_t i = 0; i < t->n_fields && bufreader_left(&r); i++) {
		int32_t el = (int32_t)bufreader_u32be(&r);
		if (!bufreader_ok(&r) || el < -1 || (el > 0 && (size_t)el > bufreader_left(&r)))
			return cerr_set(err, COL_ETYPE, "invalid %s value: field %u is truncated",
			                cqlt_tname(t, nb, sizeof(nb)), i);
		if (el <= 0)
			continue;
		int rc = validate_depth(t->fields[i], bufreader_take(&r, (size_t)el), (size_t)el,
		                        depth + 1, err);
		if (rc) {
			cerr_prefix(err, "in %s field %u: ", cqlt_tname(t, nb, sizeof(nb)), i);
			return rc;
		}
	}
	if (bufreader_left(&r))
		return cerr_set(err, COL_ETYPE, "invalid %s value: %zu bytes after the last field",
		                cqlt_tname(t, nb, sizeof(nb)), bufreader_left(&r));
	return 0;
}

static int validate_depth(const struct cqltype *t, const uint8_t *p, size_t len, int depth,
                          struct cerr *err)
{
	if (depth > CQLTYPE_MAX_DEPTH)
		return cerr_set(err, COL_ETYPE, "value nested too deeply");
	if (len == 0)
		return 0;
	size_t fixed = cqltype_fixed_size(t);
	if (fixed && len != fixed)
		return cerr_set(err, COL_ETYPE, "invalid %s value: expected %zu bytes, got %zu",
		                cqltype_kind_name(t->kind), fixed, len);
	switch (t->kind) {
	case CQLTYPE_ASCII:
		for (size_t i = 0; i < len; i++)
			if (p[i] >= 0x80)
				return cerr_set(
				        err, COL_ETYPE,
				        "invalid ascii value: byte 0x%02x at offset %zu is not "
				        "7-bit ASCII",
				        p[i], i);
		return 0;
	case CQLTYPE_VARCHAR: {
		size_t ok = utf8_valid_prefix(p, len);
		if (ok != len)
			return cerr_set(err, COL_ETYPE,
			                "invalid text value: not valid UTF-8 at offset %zu", ok);
		return 0;
	}
	case CQLTYPE_INET:
		if (len != 4 && len != 16)
			return cerr_set(err, COL_ETYPE,
			                "invalid inet value: expected 4 or 16 bytes, got %zu", len);
		return 0;
	case CQLTYPE_TIMEUUID:
		if ((p[6] >> 4) != 1)
			return cerr_set(err, COL_ETYPE,
			                "invalid timeuuid value: version %d, expected 1",
			                p[6] >> 4);
		return 0;
	case CQLTYPE_TIME: {
		int64_t v = (int64_t)be64_load(p);
		if (v < 0 || v > TIME_MAX_NS)
			return cerr_set(err, COL_ETYPE,
			                "invalid time value: %" PRId64
			                " ns is outside 00:00:00 .. 23:59:59.999999999",
			                v);
		return 0;
	}
	case CQLTYPE_DECIMAL:
		if (len < 4)
			return cerr_set(
			        err, COL_ETYPE,
			        "invalid decimal value: expected at least 4 bytes (scale), got "
			        "%zu",
			        len);
		if (len == 4)
			return cerr_set(err, COL_ETYPE,
			                "invalid decimal value: no unscaled value after the scale");
		return 0;
	case CQLTYPE_DURATION: return cqlt_duration_validate(p, len, err);
	case CQLTYPE_UDT:
	case CQLTYPE_TUPLE: return validate_tuple(t, p, len, depth, err);
	case CQLTYPE_LIST:
	case CQLTYPE_SET:
	case CQLTYPE_MAP: return validate_collection(t, p, len, depth, err);
	case CQLTYPE_CUSTOM: return cerr_set(err, COL_ETYPE, "custom types are not supported");
	default: return 0;
	}
}

int cqltype_validate(const struct cqltype *t, const void *bytes, size_t len, struct cerr *err)
{
	return validate_depth(t, bytes, len, 0, err);
}
