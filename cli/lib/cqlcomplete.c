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

/* The statement being completed: its tokens before the word. */
struct ctx {
	const char *before;
	size_t before_len;
	const char *word;
	const struct cqlcomplete_schema *sc;
	const char *cur_ks; /* the session's keyspace, or NULL */
	const struct cqltok *s;
	size_t n;
	bool upper; /* keywords in upper case (the word starts upper case, or is empty) */
	struct cands *c;
};

static bool last_is(const struct ctx *x, const char *kw)
{
	return x->n && cqltok_is(x->before, &x->s[x->n - 1], kw);
}

static bool first_is(const struct ctx *x, const char *kw)
{
	return x->n && cqltok_is(x->before, &x->s[0], kw);
}

static bool is_punct(const struct ctx *x, const struct cqltok *t, char ch)
{
	return t->kind == CQLTOK_PUNCT && x->before[t->start] == ch;
}

/* Keyspaces, and the session keyspace's tables. */
static void add_tables_anywhere(const struct ctx *x)
{
	add_names(x->c, x->sc, CQLCOMPLETE_KEYSPACES, NULL, NULL, x->word);
	if (x->cur_ks)
		add_names(x->c, x->sc, CQLCOMPLETE_TABLES, x->cur_ks, NULL, x->word);
}

/* Where a keyspace or table name goes (after "ks.", USE, FROM, INTO, ...)
 * and the words of CREATE; false if the word is none of these. */
static bool complete_name_or_create(const struct ctx *x)
{
	const struct cqltok *s = x->s;
	size_t n = x->n;
	/* "<keyspace>." right before the word: tables of that keyspace. */
	if (n >= 2 && is_punct(x, &s[n - 1], '.') && s[n - 1].start + 1 == x->before_len &&
	    (s[n - 2].kind == CQLTOK_WORD || s[n - 2].kind == CQLTOK_QNAME)) {
		struct buf ks;
		buf_init(&ks);
		cqltok_name(x->before, &s[n - 2], &ks);
		buf_put_u8(&ks, 0);
		add_names(x->c, x->sc, CQLCOMPLETE_TABLES, (const char *)ks.data, NULL, x->word);
		buf_release(&ks);
		return true;
	}
	if (n == 0) {
		add_list(x->c, start_words, x->word, x->upper);
		return true;
	}
	bool create = first_is(x, "create");
	if (last_is(x, "use") || (last_is(x, "keyspace") && !create)) {
		add_names(x->c, x->sc, CQLCOMPLETE_KEYSPACES, NULL, NULL, x->word);
		return true;
	}
	bool paren = false;
	for (size_t i = 0; i < n; i++)
		paren |= is_punct(x, &s[i], '(');
	if (create && !paren && !last_is(x, "table") && !last_is(x, "keyspace")) {
		add_list(x->c, create_words, x->word, x->upper);
		return true;
	}
	if (last_is(x, "from") || last_is(x, "into") || last_is(x, "update") ||
	    last_is(x, "truncate") || (last_is(x, "table") && !create)) {
		add_tables_anywhere(x);
		return true;
	}
	return false;
}

/* The argument of a one-word shell command (DESCRIBE, CONSISTENCY, SERIAL
 * CONSISTENCY, EXPAND, PAGING, TRACING, SHOW, HELP); false if none. */
static bool complete_shell_command(const struct ctx *x)
{
	if (x->n == 1 && (last_is(x, "describe") || last_is(x, "desc"))) {
		add_list(x->c, describe_words, x->word, x->upper);
		add_tables_anywhere(x);
	} else if (x->n == 1 && last_is(x, "consistency")) {
		add_list(x->c, levels, x->word, true);
	} else if (x->n == 1 && last_is(x, "serial")) {
		add(x->c, "CONSISTENCY", x->word, x->upper, true);
	} else if (x->n == 2 && first_is(x, "serial") && last_is(x, "consistency")) {
		add_list(x->c, serial_levels, x->word, true);
	} else if (x->n == 1 &&
	           (last_is(x, "expand") || last_is(x, "paging") || last_is(x, "tracing"))) {
		add_list(x->c, on_off, x->word, x->upper);
	} else if (x->n == 1 && last_is(x, "show")) {
		add_list(x->c, show_words, x->word, x->upper);
	} else if (x->n == 1 && (last_is(x, "help") || is_punct(x, &x->s[x->n - 1], '?'))) {
		add_list(x->c, start_words, x->word, x->upper);
	} else {
		return false;
	}
	return true;
}

/* The columns of the first table named after FROM / UPDATE / INTO / TABLE. */
static void complete_columns(const struct ctx *x)
{
	const struct cqltok *s = x->s;
	struct buf ks, table;
	buf_init(&ks);
	buf_init(&table);
	for (size_t i = 0; i + 1 < x->n; i++) {
		if (!(cqltok_is(x->before, &s[i], "from") ||
		      cqltok_is(x->before, &s[i], "update") ||
		      cqltok_is(x->before, &s[i], "into") || cqltok_is(x->before, &s[i], "table")))
			continue;
		const struct cqltok *t1 = &s[i + 1];
		if (t1->kind != CQLTOK_WORD && t1->kind != CQLTOK_QNAME)
			continue;
		if (i + 3 < x->n && is_punct(x, &s[i + 2], '.')) {
			cqltok_name(x->before, t1, &ks);
			cqltok_name(x->before, &s[i + 3], &table);
		} else {
			if (x->cur_ks)
				buf_put_str(&ks, x->cur_ks);
			cqltok_name(x->before, t1, &table);
		}
		buf_put_u8(&ks, 0);
		buf_put_u8(&table, 0);
		if (buf_ok(&ks) && buf_ok(&table) && ks.data[0])
			add_names(x->c, x->sc, CQLCOMPLETE_COLUMNS, (const char *)ks.data,
			          (const char *)table.data, x->word);
		break;
	}
	buf_release(&ks);
	buf_release(&table);
}

/* The candidates sorted, without duplicates, NULL-terminated; NULL (all
 * freed) when there are none or memory ran out. */
static char **cands_finish(struct cands *c)
{
	if (c->oom || c->n == 0) {
		for (size_t i = 0; i < c->n; i++)
			free(c->v[i]);
		free(c->v);
		return NULL;
	}
	qsort(c->v, c->n, sizeof(*c->v), cmp);
	size_t k = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (k && strcmp(c->v[k - 1], c->v[i]) == 0) {
			free(c->v[i]);
			continue;
		}
		c->v[k++] = c->v[i];
	}
	c->v[k] = NULL;
	return c->v;
}

char **cqlcomplete(const char *before, size_t before_len, const char *word,
                   const struct cqlcomplete_schema *sc)
{
	struct cands c = {0};
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
	const struct ctx x = {
	        .before = before,
	        .before_len = before_len,
	        .word = word,
	        .sc = sc,
	        .cur_ks = sc ? sc->current_keyspace : NULL,
	        .s = all + first_of_stmt,
	        .n = total - first_of_stmt,
	        .upper = word[0] ? isupper((unsigned char)word[0]) != 0 : true,
	        .c = &c,
	};
	if (complete_name_or_create(&x) || complete_shell_command(&x))
		return cands_finish(&c);
	if (first_is(&x, "create")) {
		/* column definitions: types */
		add_list(&c, type_words, word, false);
		add(&c, "PRIMARY", word, x.upper, true);
		add(&c, "KEY", word, x.upper, true);
		return cands_finish(&c);
	}
	complete_columns(&x);
	add_list(&c, clause_words, word, x.upper);
	return cands_finish(&c);
}
