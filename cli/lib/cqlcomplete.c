/*
 * cqlcomplete.c — completion candidates; see cqlcomplete.h.
 */
#include "cli/lib/cqlcomplete.h"

#include "cli/lib/cqlsplit.h"
#include "core/array.h"
#include "core/buf.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const start_words[] = {
        "ALTER",    "APPLY",  "BEGIN",    "CAPTURE", "CLEAR",  "CONSISTENCY", "CREATE",
        "DELETE",   "DESC",   "DESCRIBE", "DROP",    "EXIT",   "EXPAND",      "HELP",
        "INSERT",   "PAGING", "QUIT",     "SELECT",  "SERIAL", "SHOW",        "SOURCE",
        "TRUNCATE", "UPDATE", "USE",      NULL,
};
static const char *const describe_words[] = {"CLUSTER", "FULL",  "KEYSPACE", "KEYSPACES",
                                             "SCHEMA",  "TABLE", "TABLES",   NULL};
static const char *const levels[] = {"ANY",    "ONE",          "TWO",          "THREE",
                                     "QUORUM", "ALL",          "LOCAL_QUORUM", "EACH_QUORUM",
                                     "SERIAL", "LOCAL_SERIAL", "LOCAL_ONE",    NULL};
static const char *const serial_levels[] = {"SERIAL", "LOCAL_SERIAL", NULL};
static const char *const on_off[] = {"ON", "OFF", NULL};
static const char *const show_words[] = {"VERSION", "HOST", NULL};
static const char *const clause_words[] = {
        "AND",   "ASC",    "BY",    "DESC",    "DISTINCT", "FROM",      "IF",
        "IN",    "INTO",   "KEY",   "LIMIT",   "ORDER",    "SET",       "TIMESTAMP",
        "TOKEN", "TTL",    "USING", "VALUES",  "WHERE",    "WITH",      "WRITETIME",
        "COUNT", "EXISTS", "NOT",   "PRIMARY", "ALLOW",    "FILTERING", NULL,
};
static const char *const create_words[] = {"KEYSPACE", "TABLE", "IF", "NOT", "EXISTS", NULL};
static const char *const type_words[] = {
        "ascii",  "bigint",   "blob",   "boolean", "counter",   "date",     "decimal",
        "double", "float",    "frozen", "inet",    "int",       "list",     "map",
        "set",    "smallint", "text",   "time",    "timestamp", "timeuuid", "tinyint",
        "uuid",   "varchar",  "varint", NULL,
};

struct cands {
	char **v;
	size_t n, cap;
	bool oom;
};

static void add(struct cands *c, const char *s, const char *word, bool upper_case_kw, bool kw)
{
	size_t wl = strlen(word);
	if (strncasecmp(s, word, wl) != 0)
		return;
	if (!kw && strncmp(s, word, wl) != 0 && wl) {
		/* names are case-sensitive unless the word is all lower case */
		bool lower = true;
		for (size_t i = 0; i < wl; i++)
			lower &= !isupper((unsigned char)word[i]);
		if (!lower)
			return;
	}
	if (ARRAY_GROW(c->v, c->cap, c->n + 2)) {
		c->oom = true;
		return;
	}
	char *d = strdup(s);
	if (!d) {
		c->oom = true;
		return;
	}
	if (kw)
		for (char *p = d; *p; p++)
			*p = (char)(upper_case_kw ? toupper((unsigned char)*p)
			                          : tolower((unsigned char)*p));
	c->v[c->n++] = d;
}

static void add_list(struct cands *c, const char *const *list, const char *word, bool upper)
{
	for (size_t i = 0; list[i]; i++)
		add(c, list[i], word, upper, true);
}

static void add_names(struct cands *c, const struct cqlcomplete_schema *sc,
                      enum cqlcomplete_what what, const char *ks, const char *table,
                      const char *word)
{
	if (!sc || !sc->names)
		return;
	char **names = sc->names(sc->ctx, what, ks, table);
	if (!names)
		return;
	for (size_t i = 0; names[i]; i++)
		add(c, names[i], word, false, false);
	cqlcomplete_free(names);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void cqlcomplete_free(char **list)
{
	if (!list)
		return;
	for (size_t i = 0; list[i]; i++)
		free(list[i]);
	free(list);
}

/* Statements longer than this complete from their first tokens only. */
#define MAX_TOKS 1024

char **cqlcomplete(const char *before, size_t before_len, const char *word,
                   const struct cqlcomplete_schema *sc)
{
	struct cands c = {0};
	bool upper = word[0] ? isupper((unsigned char)word[0]) != 0 : true;

	/* Tokens of the statement before the word (only the last statement). */
	size_t pos = 0, first_of_stmt = 0, total = 0;
	struct cqltok all[MAX_TOKS];
	for (;;) {
		struct cqltok t = cqltok_next(before, before_len, &pos);
		if (t.kind == CQLTOK_END || t.kind == CQLTOK_UNTERMINATED)
			break;
		if (total < MAX_TOKS)
			all[total++] = t;
		if (t.kind == CQLTOK_PUNCT && before[t.start] == ';')
			first_of_stmt = total;
	}

	const struct cqltok *s = all + first_of_stmt;
	size_t n = total - first_of_stmt;
	struct buf a, b;
	buf_init(&a);
	buf_init(&b);

	/* "<keyspace>." right before the word: tables of that keyspace. */
	if (n >= 2 && s[n - 1].kind == CQLTOK_PUNCT && before[s[n - 1].start] == '.' &&
	    s[n - 1].start + 1 == before_len &&
	    (s[n - 2].kind == CQLTOK_WORD || s[n - 2].kind == CQLTOK_QNAME)) {
		cqltok_name(before, &s[n - 2], &a);
		buf_put_u8(&a, 0);
		add_names(&c, sc, CQLCOMPLETE_TABLES, (const char *)a.data, NULL, word);
		goto done;
	}
	if (n == 0) {
		add_list(&c, start_words, word, upper);
		goto done;
	}
	const struct cqltok *last = &s[n - 1];
	const char *cur = sc ? sc->current_keyspace : NULL;
	if (cqltok_is(before, last, "use") ||
	    (cqltok_is(before, last, "keyspace") && !cqltok_is(before, &s[0], "create"))) {
		add_names(&c, sc, CQLCOMPLETE_KEYSPACES, NULL, NULL, word);
		goto done;
	}
	bool create = cqltok_is(before, &s[0], "create"), paren = false;
	for (size_t i = 0; i < n; i++)
		paren |= s[i].kind == CQLTOK_PUNCT && before[s[i].start] == '(';
	if (create && !paren && !cqltok_is(before, last, "table") &&
	    !cqltok_is(before, last, "keyspace")) {
		add_list(&c, create_words, word, upper);
		goto done;
	}
	if (cqltok_is(before, last, "from") || cqltok_is(before, last, "into") ||
	    cqltok_is(before, last, "update") || cqltok_is(before, last, "truncate") ||
	    (cqltok_is(before, last, "table") && !cqltok_is(before, &s[0], "create"))) {
		add_names(&c, sc, CQLCOMPLETE_KEYSPACES, NULL, NULL, word);
		if (cur)
			add_names(&c, sc, CQLCOMPLETE_TABLES, cur, NULL, word);
		goto done;
	}
	if (n == 1 && (cqltok_is(before, last, "describe") || cqltok_is(before, last, "desc"))) {
		add_list(&c, describe_words, word, upper);
		add_names(&c, sc, CQLCOMPLETE_KEYSPACES, NULL, NULL, word);
		if (cur)
			add_names(&c, sc, CQLCOMPLETE_TABLES, cur, NULL, word);
		goto done;
	}
	if (n == 1 && cqltok_is(before, last, "consistency")) {
		add_list(&c, levels, word, true);
		goto done;
	}
	if (n == 1 && cqltok_is(before, last, "serial")) {
		add(&c, "CONSISTENCY", word, upper, true);
		goto done;
	}
	if (n == 2 && cqltok_is(before, &s[0], "serial") &&
	    cqltok_is(before, last, "consistency")) {
		add_list(&c, serial_levels, word, true);
		goto done;
	}
	if (n == 1 && (cqltok_is(before, last, "expand") || cqltok_is(before, last, "paging") ||
	               cqltok_is(before, last, "tracing"))) {
		add_list(&c, on_off, word, upper);
		goto done;
	}
	if (n == 1 && cqltok_is(before, last, "show")) {
		add_list(&c, show_words, word, upper);
		goto done;
	}
	if (n == 1 && (cqltok_is(before, last, "help") ||
	               (last->kind == CQLTOK_PUNCT && before[last->start] == '?'))) {
		add_list(&c, start_words, word, upper);
		goto done;
	}
	if (create) {
		/* column definitions: types */
		add_list(&c, type_words, word, false);
		add(&c, "PRIMARY", word, upper, true);
		add(&c, "KEY", word, upper, true);
		goto done;
	}
	/* A table named anywhere after FROM / UPDATE / INTO / TABLE: its columns. */
	for (size_t i = 0; i + 1 < n; i++) {
		if (!(cqltok_is(before, &s[i], "from") || cqltok_is(before, &s[i], "update") ||
		      cqltok_is(before, &s[i], "into") || cqltok_is(before, &s[i], "table")))
			continue;
		const struct cqltok *t1 = &s[i + 1];
		if (t1->kind != CQLTOK_WORD && t1->kind != CQLTOK_QNAME)
			continue;
		buf_reset(&a);
		buf_reset(&b);
		if (i + 3 < n && s[i + 2].kind == CQLTOK_PUNCT && before[s[i + 2].start] == '.') {
			cqltok_name(before, t1, &a);
			cqltok_name(before, &s[i + 3], &b);
		} else {
			if (cur)
				buf_put_str(&a, cur);
			cqltok_name(before, t1, &b);
		}
		buf_put_u8(&a, 0);
		buf_put_u8(&b, 0);
		if (buf_ok(&a) && buf_ok(&b) && a.data[0])
			add_names(&c, sc, CQLCOMPLETE_COLUMNS, (const char *)a.data,
			          (const char *)b.data, word);
		break;
	}
	add_list(&c, clause_words, word, upper);
done:
	buf_release(&a);
	buf_release(&b);
	if (c.oom || c.n == 0) {
		for (size_t i = 0; i < c.n; i++)
			free(c.v[i]);
		free(c.v);
		return NULL;
	}
	qsort(c.v, c.n, sizeof(*c.v), cmp);
	size_t k = 0;
	for (size_t i = 0; i < c.n; i++) {
		if (k && strcmp(c.v[k - 1], c.v[i]) == 0) {
			free(c.v[i]);
			continue;
		}
		c.v[k++] = c.v[i];
	}
	c.v[k] = NULL;
	return c.v;
}
