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
        "paging", "exit",   "quit",        "clear",  "cls",    "copy",
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

enum scan_state {
	SC_NORMAL,
	SC_SQUOTE,     /* inside '...' */
	SC_SQUOTE_END, /* saw ' inside '...': end, or '' escape */
	SC_DQUOTE,     /* inside "..." */
	SC_DQUOTE_END,
	SC_DOLLAR,     /* inside $$...$$ */
	SC_DOLLAR_END, /* saw $ inside $$...$$ */
	SC_LINE_COMMENT,
	SC_BLOCK_COMMENT,
	SC_BLOCK_STAR, /* saw * inside a block comment */
	SC_DASH,       /* saw '-' in normal text: comment or minus */
	SC_SLASH,      /* saw '/' in normal text: comment or slash */
	SC_DOLLAR1,    /* saw '$' in normal text */
};

static void scan_restart(struct cqlsplit *s)
{
	s->pos = 0;
	s->newlines = 0;
	s->state = SC_NORMAL;
	s->stmt_start = -1;
	s->last_end = 0;
	s->word_start = -1;
	s->words = 0;
	s->shell = s->batch = s->after_apply = s->batch_done = false;
	s->ended = false;
}

void cqlsplit_init(struct cqlsplit *s)
{
	buf_init(&s->text);
	s->base_line = 1;
	scan_restart(s);
}

void cqlsplit_release(struct cqlsplit *s)
{
	buf_release(&s->text);
}

static size_t count_lines(const uint8_t *p, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += p[i] == '\n';
	return k;
}

void cqlsplit_reset(struct cqlsplit *s)
{
	s->base_line += count_lines(s->text.data, s->text.len);
	buf_reset(&s->text);
	scan_restart(s);
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

/* A token (or the start of one) at i: the statement has begun. */
static void token_at(struct cqlsplit *s, size_t i)
{
	if (s->stmt_start < 0)
		s->stmt_start = (long)i;
}

/* A word text[ws..we) ended. */
static void word_done(struct cqlsplit *s, size_t ws, size_t we)
{
	const char *w = (const char *)s->text.data + ws;
	size_t n = we - ws;
	s->last_end = we;
	if (s->words == 0 && (long)ws == s->stmt_start) { /* the statement's first token */
		s->shell = cqlsplit_is_shell_command(w, n);
		s->batch = n == 5 && strncasecmp(w, "begin", 5) == 0;
	}
	if (s->words < 2)
		s->words++;
	if (s->batch && !s->batch_done) {
		if (s->after_apply && n == 5 && strncasecmp(w, "batch", 5) == 0)
			s->batch_done = true;
		s->after_apply = n == 5 && strncasecmp(w, "apply", 5) == 0;
	}
}

static void end_word(struct cqlsplit *s, size_t i)
{
	if (s->word_start >= 0) {
		word_done(s, (size_t)s->word_start, i);
		s->word_start = -1;
	}
}

/* Statement end at i (the ';' or the newline); consumed through i. */
static void statement_end(struct cqlsplit *s, size_t i)
{
	s->ended = true;
	s->term = i;
	s->end_line = s->base_line + s->newlines;
}

/* One character outside any literal or comment. */
static void scan_normal(struct cqlsplit *s, size_t i, uint8_t c)
{
	if (isalnum(c) || c == '_') {
		token_at(s, i);
		if (s->word_start < 0)
			s->word_start = (long)i;
		return;
	}
	end_word(s, i);
	if (c == '\n' && s->shell && s->stmt_start >= 0) {
		statement_end(s, i);
		return;
	}
	if (isspace(c))
		return;
	if (c == '\'') {
		token_at(s, i);
		s->state = SC_SQUOTE;
	} else if (c == '"') {
		token_at(s, i);
		s->state = SC_DQUOTE;
	} else if (c == '-') {
		s->state = SC_DASH;
	} else if (c == '/') {
		s->state = SC_SLASH;
	} else if (c == '$') {
		s->state = SC_DOLLAR1;
	} else if (c == ';' && (!s->batch || s->batch_done)) {
		statement_end(s, i);
	} else {
		if (c == '?' && s->stmt_start < 0) {
			s->stmt_start = (long)i;
			word_done(s, i, i + 1); /* "?" is HELP */
		}
		token_at(s, i);
		s->last_end = i + 1;
	}
}

/* One character inside a '...', "..." or $$...$$ literal (or just after a
 * quote that may be doubled); true if c must be read again in the new state. */
static bool scan_literal(struct cqlsplit *s, size_t i, uint8_t c)
{
	switch (s->state) {
	case SC_SQUOTE:
	case SC_DQUOTE:
		if (c == (s->state == SC_SQUOTE ? '\'' : '"'))
			s->state = s->state == SC_SQUOTE ? SC_SQUOTE_END : SC_DQUOTE_END;
		else if (c == '\n')
			s->newlines++;
		return false;
	case SC_SQUOTE_END:
	case SC_DQUOTE_END:
		if (c == (s->state == SC_SQUOTE_END ? '\'' : '"')) {
			s->state = s->state == SC_SQUOTE_END ? SC_SQUOTE : SC_DQUOTE;
			return false;
		}
		s->state = SC_NORMAL;
		s->last_end = i;
		return true;
	case SC_DOLLAR:
		if (c == '$')
			s->state = SC_DOLLAR_END;
		else if (c == '\n')
			s->newlines++;
		return false;
	default: /* SC_DOLLAR_END */
		if (c == '$') {
			s->state = SC_NORMAL;
			s->last_end = i + 1;
			return false;
		}
		s->state = SC_DOLLAR;
		return true;
	}
}

/* One character inside a comment, or after a '-', '/' or '$' that may open
 * one (or a $$ literal); true if c must be read again in the new state. */
static bool scan_comment(struct cqlsplit *s, size_t i, uint8_t c)
{
	switch (s->state) {
	case SC_LINE_COMMENT:
		if (c != '\n')
			return false;
		s->state = SC_NORMAL;
		return true; /* the newline may end a shell command */
	case SC_BLOCK_COMMENT:
		if (c == '*')
			s->state = SC_BLOCK_STAR;
		else if (c == '\n')
			s->newlines++;
		return false;
	case SC_BLOCK_STAR:
		if (c == '/') {
			s->state = SC_NORMAL;
			return false;
		}
		if (c == '*')
			return false;
		s->state = SC_BLOCK_COMMENT;
		return true;
	case SC_DASH:
	case SC_SLASH:
		if (c == (s->state == SC_DASH ? '-' : '/')) {
			s->state = SC_LINE_COMMENT;
			return false;
		}
		if (s->state == SC_SLASH && c == '*') {
			s->state = SC_BLOCK_COMMENT;
			return false;
		}
		break;
	default: /* SC_DOLLAR1 */
		if (c == '$') {
			token_at(s, i - 1);
			s->state = SC_DOLLAR;
			return false;
		}
		break;
	}
	/* the '-', '/' or '$' was a token of its own */
	token_at(s, i - 1);
	s->last_end = i;
	s->state = SC_NORMAL;
	return true;
}

/* Scan until a statement end or the end of the text. */
static void scan(struct cqlsplit *s)
{
	const uint8_t *t = s->text.data;
	size_t n = s->text.len;
	while (s->pos < n && !s->ended) {
		size_t i = s->pos;
		uint8_t c = t[i];
		bool again; /* reprocess c in the new state */
		switch (s->state) {
		case SC_NORMAL:
			scan_normal(s, i, c);
			again = false;
			break;
		case SC_SQUOTE:
		case SC_DQUOTE:
		case SC_SQUOTE_END:
		case SC_DQUOTE_END:
		case SC_DOLLAR:
		case SC_DOLLAR_END: again = scan_literal(s, i, c); break;
		default: again = scan_comment(s, i, c); break;
		}
		if (again)
			continue;
		if (c == '\n' && (s->state == SC_NORMAL || s->state == SC_LINE_COMMENT))
			s->newlines++;
		s->pos = i + 1;
	}
}

int cqlsplit_next(struct cqlsplit *s, char **stmt, size_t *end_line)
{
	for (;;) {
		scan(s);
		if (!s->ended)
			return 0;
		char *out = NULL;
		if (s->stmt_start >= 0 && s->last_end > (size_t)s->stmt_start) {
			size_t slen = s->last_end - (size_t)s->stmt_start;
			out = malloc(slen + 1);
			if (!out)
				return COL_ENOMEM;
			memcpy(out, s->text.data + s->stmt_start, slen);
			out[slen] = '\0';
		}
		size_t line = s->end_line;
		/* consume through the terminator; a newline ending a shell command counts */
		size_t consumed = s->term + 1;
		s->base_line += count_lines(s->text.data, consumed);
		buf_consume(&s->text, consumed);
		scan_restart(s);
		if (!out)
			continue; /* an empty statement */
		*stmt = out;
		*end_line = line;
		return 1;
	}
}

bool cqlsplit_pending(struct cqlsplit *s)
{
	scan(s);
	return s->stmt_start >= 0 || s->state == SC_BLOCK_COMMENT || s->state == SC_BLOCK_STAR;
}

char *cqlsplit_take_rest(struct cqlsplit *s, size_t *end_line)
{
	scan(s);
	char *out = NULL;
	if (s->stmt_start >= 0) {
		size_t end = s->last_end;
		bool open = s->state != SC_NORMAL && s->state != SC_LINE_COMMENT;
		if (s->word_start >= 0 || open) /* an unfinished word, string or comment */
			end = s->text.len;
		while (end > (size_t)s->stmt_start && isspace(s->text.data[end - 1]))
			end--;
		if (end < (size_t)s->stmt_start)
			end = (size_t)s->stmt_start;
		out = malloc(end - (size_t)s->stmt_start + 1);
		if (out) {
			memcpy(out, s->text.data + s->stmt_start, end - (size_t)s->stmt_start);
			out[end - (size_t)s->stmt_start] = '\0';
		}
		if (end_line)
			*end_line = s->base_line + count_lines(s->text.data, end);
	}
	cqlsplit_reset(s);
	return out;
}
