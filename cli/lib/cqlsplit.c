/*
 * cqlsplit.c — tokenizer and statement splitter; see cqlsplit.h.
 */
#include "cli/lib/cqlsplit.h"

#include "core/err.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- tokens ---------------------------------------------------------------------------------- */

static bool word_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}
static bool word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* Skip blanks and comments; false if a block comment is unterminated. */
static bool skip_space(const char *s, size_t len, size_t *pos)
{
	size_t p = *pos;
	for (;;) {
		while (p < len && isspace((unsigned char)s[p]))
			p++;
		if (p + 1 < len &&
		    ((s[p] == '-' && s[p + 1] == '-') || (s[p] == '/' && s[p + 1] == '/'))) {
			while (p < len && s[p] != '\n')
				p++;
			continue;
		}
		if (p + 1 < len && s[p] == '/' && s[p + 1] == '*') {
			const char *e = NULL;
			for (size_t q = p + 2; q + 1 < len; q++)
				if (s[q] == '*' && s[q + 1] == '/') {
					e = s + q;
					break;
				}
			if (!e) {
				*pos = p;
				return false;
			}
			p = (size_t)(e - s) + 2;
			continue;
		}
		break;
	}
	*pos = p;
	return true;
}

struct cqltok cqltok_next(const char *s, size_t len, size_t *pos)
{
	struct cqltok t = {CQLTOK_END, 0, 0};
	size_t p = *pos;
	if (!skip_space(s, len, &p)) {
		t.kind = CQLTOK_UNTERMINATED;
		t.start = p;
		t.len = len - p;
		*pos = len;
		return t;
	}
	t.start = p;
	if (p >= len) {
		*pos = p;
		return t;
	}
	char c = s[p];
	if (c == '\'' || c == '"') {
		t.kind = c == '\'' ? CQLTOK_STRING : CQLTOK_QNAME;
		size_t q = p + 1;
		for (;;) {
			if (q >= len) {
				t.kind = CQLTOK_UNTERMINATED;
				break;
			}
			if (s[q] == c) {
				if (q + 1 < len && s[q + 1] == c) {
					q += 2;
					continue;
				}
				q++;
				break;
			}
			q++;
		}
		t.len = q - p;
		*pos = q;
		return t;
	}
	if (c == '$' && p + 1 < len && s[p + 1] == '$') {
		t.kind = CQLTOK_UNTERMINATED;
		size_t q = p + 2;
		for (; q + 1 < len; q++)
			if (s[q] == '$' && s[q + 1] == '$') {
				t.kind = CQLTOK_STRING;
				q += 2;
				break;
			}
		if (t.kind == CQLTOK_UNTERMINATED)
			q = len;
		t.len = q - p;
		*pos = q;
		return t;
	}
	if (word_start(c)) {
		size_t q = p;
		while (q < len && word_char(s[q]))
			q++;
		/* uuids and hex that start with a letter are numbers to the lexer, but
		 * for splitting and completion a word is as good. */
		t.kind = CQLTOK_WORD;
		t.len = q - p;
		*pos = q;
		return t;
	}
	if (isdigit((unsigned char)c) ||
	    ((c == '-' || c == '.') && p + 1 < len && isdigit((unsigned char)s[p + 1]))) {
		size_t q = p + 1;
		while (q < len && (isalnum((unsigned char)s[q]) || s[q] == '.' || s[q] == '-' ||
		                   ((s[q] == '+') && (s[q - 1] == 'e' || s[q - 1] == 'E'))))
			q++;
		t.kind = CQLTOK_NUMBER;
		t.len = q - p;
		*pos = q;
		return t;
	}
	t.kind = CQLTOK_PUNCT;
	t.len = 1;
	*pos = p + 1;
	return t;
}

bool cqltok_is(const char *s, const struct cqltok *t, const char *word)
{
	return t->kind == CQLTOK_WORD && strlen(word) == t->len &&
	       strncasecmp(s + t->start, word, t->len) == 0;
}

void cqltok_name(const char *s, const struct cqltok *t, struct buf *out)
{
	if (t->kind == CQLTOK_QNAME && t->len >= 2) {
		for (size_t i = t->start + 1; i < t->start + t->len - 1; i++) {
			buf_put_u8(out, (uint8_t)s[i]);
			if (s[i] == '"')
				i++; /* "" -> " */
		}
		return;
	}
	for (size_t i = 0; i < t->len; i++)
		buf_put_u8(out, (uint8_t)tolower((unsigned char)s[t->start + i]));
}

static const char *const shell_commands[] = {
        "help",   "?",      "consistency", "serial", "describe", "desc",
        "show",   "source", "capture",     "login",  "tracing",  "expand",
        "paging", "exit",   "quit",        "clear",  "cls",
};

bool cqlsplit_is_shell_command(const char *word, size_t len)
{
	for (size_t i = 0; i < sizeof(shell_commands) / sizeof(shell_commands[0]); i++)
		if (strlen(shell_commands[i]) == len &&
		    strncasecmp(word, shell_commands[i], len) == 0)
			return true;
	return false;
}

/* ---- the splitter ------------------------------------------------------------------------------
 */

void cqlsplit_init(struct cqlsplit *s)
{
	buf_init(&s->text);
	s->base_line = 1;
}

void cqlsplit_release(struct cqlsplit *s)
{
	buf_release(&s->text);
}

void cqlsplit_reset(struct cqlsplit *s)
{
	for (size_t i = 0; i < s->text.len; i++)
		if (s->text.data[i] == '\n')
			s->base_line++;
	buf_reset(&s->text);
}

int cqlsplit_feed(struct cqlsplit *s, const char *line, size_t len)
{
	if (s->text.len + len + 1 > CQLSPLIT_MAX_PENDING)
		return COL_ETOOBIG;
	buf_put(&s->text, line, len);
	buf_put_u8(&s->text, '\n');
	if (!buf_ok(&s->text)) {
		s->text.oom = false;
		return COL_ENOMEM;
	}
	return COL_OK;
}

/* Where the next statement is: 1 complete, 0 incomplete, -1 nothing but blanks. */
static int find_statement(const char *t, size_t n, size_t *start, size_t *end, size_t *term,
                          size_t *consumed)
{
	size_t pos = 0;
	struct cqltok first = cqltok_next(t, n, &pos);
	if (first.kind == CQLTOK_END)
		return -1;
	if (first.kind == CQLTOK_UNTERMINATED)
		return 0;
	*start = first.start;
	bool shell = (first.kind == CQLTOK_WORD ||
	              (first.kind == CQLTOK_PUNCT && t[first.start] == '?')) &&
	             cqlsplit_is_shell_command(t + first.start, first.len);
	bool batch = cqltok_is(t, &first, "begin");
	bool after_apply = false, batch_done = false;
	size_t last_end = first.start + first.len;
	if (first.kind == CQLTOK_PUNCT && t[first.start] == ';') {
		*end = first.start;
		*term = first.start;
		*consumed = first.start + 1;
		return 1;
	}
	for (;;) {
		size_t gap = pos;
		struct cqltok tok = cqltok_next(t, n, &pos);
		if (shell) {
			/* A newline before the next token ends a shell command. */
			size_t stop = tok.kind == CQLTOK_END ? n : tok.start;
			for (size_t i = gap; i < stop; i++)
				if (t[i] == '\n') {
					*end = last_end;
					*term = i;
					*consumed = i + 1;
					return 1;
				}
		}
		if (tok.kind == CQLTOK_END || tok.kind == CQLTOK_UNTERMINATED)
			return 0;
		if (tok.kind == CQLTOK_PUNCT && t[tok.start] == ';' && (!batch || batch_done)) {
			*end = last_end;
			*term = tok.start;
			*consumed = tok.start + 1;
			return 1;
		}
		if (batch && !batch_done) {
			if (after_apply && cqltok_is(t, &tok, "batch"))
				batch_done = true;
			after_apply = cqltok_is(t, &tok, "apply");
		}
		last_end = tok.start + tok.len;
	}
}

static size_t count_lines(const uint8_t *p, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += p[i] == '\n';
	return k;
}

int cqlsplit_next(struct cqlsplit *s, char **stmt, size_t *end_line)
{
	for (;;) {
		size_t start = 0, end = 0, term = 0, consumed = 0;
		int rc = find_statement((const char *)s->text.data, s->text.len, &start, &end,
		                        &term, &consumed);
		if (rc <= 0)
			return 0;
		size_t line = s->base_line + count_lines(s->text.data, term);
		size_t slen = end - start;
		char *out = NULL;
		if (slen) {
			out = malloc(slen + 1);
			if (!out)
				return COL_ENOMEM;
			memcpy(out, s->text.data + start, slen);
			out[slen] = '\0';
		}
		s->base_line += count_lines(s->text.data, consumed);
		buf_consume(&s->text, consumed);
		if (!out)
			continue; /* an empty statement */
		*stmt = out;
		*end_line = line;
		return 1;
	}
}

bool cqlsplit_pending(const struct cqlsplit *s)
{
	size_t pos = 0;
	struct cqltok t = cqltok_next((const char *)s->text.data, s->text.len, &pos);
	return t.kind != CQLTOK_END;
}

char *cqlsplit_take_rest(struct cqlsplit *s, size_t *end_line)
{
	const char *t = (const char *)s->text.data;
	size_t pos = 0, start = 0, last_end = 0;
	bool any = false;
	for (;;) {
		struct cqltok tok = cqltok_next(t, s->text.len, &pos);
		if (tok.kind == CQLTOK_END)
			break;
		if (!any)
			start = tok.start;
		any = true;
		last_end = tok.start + tok.len;
		if (tok.kind == CQLTOK_UNTERMINATED)
			break;
	}
	char *out = NULL;
	if (any) {
		out = malloc(last_end - start + 1);
		if (out) {
			memcpy(out, t + start, last_end - start);
			out[last_end - start] = '\0';
		}
		if (end_line)
			*end_line = s->base_line + count_lines(s->text.data, last_end);
	}
	cqlsplit_reset(s);
	return out;
}
