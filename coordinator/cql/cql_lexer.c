/*
 * cql_lexer.c — cqlish tokens (see cql_lexer.h).
 */
#include "coordinator/cql/cql_lexer.h"
#include "core/hex.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void cql_lexer_init(struct cql_lexer *lx, const char *text, size_t len)
{
	lx->text = text;
	lx->len = len;
	lx->off = 0;
	lx->line = 1;
	lx->col = 0;
}

static inline bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}
static inline bool is_letter(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline bool is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static inline bool is_ident_char(int c)
{
	return is_letter(c) || is_digit(c) || c == '_';
}

/* Byte at off + i, or -1 past the end. */
static inline int peekc(const struct cql_lexer *lx, size_t i)
{
	return lx->off + i < lx->len ? (unsigned char)lx->text[lx->off + i] : -1;
}

/* Consume n bytes, keeping line/col (columns count UTF-8 code points); returns
 * the number of characters consumed. */
static uint32_t advance(struct cql_lexer *lx, size_t n)
{
	uint32_t chars = 0;
	for (size_t i = 0; i < n && lx->off < lx->len; i++) {
		unsigned char c = (unsigned char)lx->text[lx->off++];
		if (c == '\n') {
			lx->line++;
			lx->col = 0;
			chars++;
		} else if ((c & 0xC0) != 0x80) {
			lx->col++;
			chars++;
		}
	}
	return chars;
}

/* Length of the UTF-8 sequence at p (1 if invalid), never past end. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
	size_t n = 1;
	if (p[0] >= 0xF0 && p[0] < 0xF8)
		n = 4;
	else if (p[0] >= 0xE0)
		n = 3;
	else if (p[0] >= 0xC0)
		n = 2;
	if (n > left)
		return 1;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 1;
	return n;
}

/* Append a printable rendering of the character at text[off] to out (size >= 16). */
static void render_char(const struct cql_lexer *lx, size_t off, char *out)
{
	const unsigned char *p = (const unsigned char *)lx->text + off;
	size_t n = utf8_len(p, lx->len - off);
	if (n > 1) {
		memcpy(out, p, n);
		out[n] = '\0';
	} else if (p[0] >= 0x20 && p[0] < 0x7f) {
		out[0] = (char)p[0];
		out[1] = '\0';
	} else if (p[0] == '\n') {
		strcpy(out, "\\n");
	} else if (p[0] == '\t') {
		strcpy(out, "\\t");
	} else {
		out[0] = '\\';
		out[1] = 'x';
		hex_encode(p, 1, out + 2);
	}
}

/* 8-4-4-4-12 hex digits at the current position, not followed by a word character. */
static bool at_uuid(const struct cql_lexer *lx)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	if (lx->len - lx->off < 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		int c = peekc(lx, i);
		if (shape[i] == '-' ? c != '-' : !is_hex(c))
			return false;
	}
	return !is_ident_char(peekc(lx, 36));
}

static int lex_error_at(struct cerr *err, uint32_t line, uint32_t col, const char *what,
                        const char *detail)
{
	return cerr_set(err, COL_ESYNTAX, "line %u:%u %s%s", line, col, what, detail);
}

/* Skip whitespace and comments; COL_ESYNTAX on an unterminated block comment. */
static int skip_blank(struct cql_lexer *lx, struct cerr *err)
{
	for (;;) {
		int c = peekc(lx, 0);
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			advance(lx, 1);
		} else if ((c == '-' && peekc(lx, 1) == '-') || (c == '/' && peekc(lx, 1) == '/')) {
			const char *nl = memchr(lx->text + lx->off, '\n', lx->len - lx->off);
			advance(lx, nl ? (size_t)(nl - (lx->text + lx->off)) : lx->len - lx->off);
		} else if (c == '/' && peekc(lx, 1) == '*') {
			uint32_t line = lx->line, col = lx->col;
			advance(lx, 2);
			for (;;) {
				if (lx->off >= lx->len) {
					char detail[64];
					snprintf(detail, sizeof(detail),
					         " (comment opened at line %u:%u)", line, col);
					return lex_error_at(
					        err, lx->line, lx->col,
					        "mismatched character '<EOF>' expecting '*/'",
					        detail);
				}
				if (peekc(lx, 0) == '*' && peekc(lx, 1) == '/') {
					advance(lx, 2);
					break;
				}
				/* jump to the next '*' quickly (comments may be long) */
				const char *star =
				        memchr(lx->text + lx->off + 1, '*', lx->len - lx->off - 1);
				advance(lx, star ? (size_t)(star - (lx->text + lx->off))
				                 : lx->len - lx->off);
			}
		} else {
			return 0;
		}
	}
}

/* Consume a quoted run ('...' or "...") with doubled-quote escaping. */
static int lex_quoted(struct cql_lexer *lx, struct cql_token *tok, int q, struct cerr *err)
{
	tok->chars += advance(lx, 1);
	for (;;) {
		int c = peekc(lx, 0);
		if (c < 0) {
			char detail[80];
			snprintf(detail, sizeof(detail), " (%s opened at line %u:%u is not closed)",
			         q == '\'' ? "string literal" : "quoted identifier", tok->pos.line,
			         tok->pos.col);
			return lex_error_at(err, lx->line, lx->col,
			                    q == '\''
			                            ? "mismatched character '<EOF>' expecting '''"
			                            : "mismatched character '<EOF>' expecting '\"'",
			                    detail);
		}
		if (c == q) {
			if (peekc(lx, 1) == q) {
				tok->chars += advance(lx, 2);
				continue;
			}
			tok->chars += advance(lx, 1);
			return 0;
		}
		/* bulk-skip to the next quote */
		const char *next = memchr(lx->text + lx->off, q, lx->len - lx->off);
		tok->chars += advance(lx, next ? (size_t)(next - (lx->text + lx->off))
		                               : lx->len - lx->off);
	}
}

/* "token recognition error at: 'X'" for a character no token starts with. */
static int lex_stray(const struct cql_lexer *lx, const struct cql_token *tok, struct cerr *err)
{
	char ch[16];
	render_char(lx, lx->off, ch);
	char detail[32];
	snprintf(detail, sizeof(detail), "'%s'", ch);
	return lex_error_at(err, tok->pos.line, tok->pos.col,
	                    "token recognition error at: ", detail);
}

/* 0x... */
static int lex_hex(struct cql_lexer *lx, struct cql_token *tok, struct cerr *err)
{
	size_t n = 2;
	while (is_hex(peekc(lx, n)))
		n++;
	if (is_ident_char(peekc(lx, n))) {
		char ch[16];
		render_char(lx, lx->off + n, ch);
		char detail[64];
		snprintf(detail, sizeof(detail), "'%s' in blob literal", ch);
		return lex_error_at(err, tok->pos.line, tok->pos.col + (uint32_t)n,
		                    "invalid hex digit ", detail);
	}
	tok->kind = CQL_TOK_HEX;
	tok->chars = advance(lx, n);
	return 0;
}

/* Length of a duration literal at the cursor — (digits unit)+ with the units
 * y mo w d h m s ms us µs ns in any case, up to a character that cannot
 * continue a word — or 0 if there is none (the text is then a number). */
static size_t duration_len(const struct cql_lexer *lx)
{
	static const char *const units[] = {"mo", "ms", "us", "ns", "\xc2\xb5s", "y",
	                                    "w",  "d",  "h",  "m",  "s"};
	size_t n = 0;
	bool any = false;
	while (is_digit(peekc(lx, n))) {
		while (is_digit(peekc(lx, n)))
			n++;
		size_t ul = 0;
		for (size_t k = 0; k < sizeof(units) / sizeof(units[0]) && !ul; k++) {
			size_t l = strlen(units[k]);
			size_t i = 0;
			while (i < l && peekc(lx, n + i) >= 0 &&
			       tolower(peekc(lx, n + i)) == (unsigned char)units[k][i])
				i++;
			if (i == l && !is_letter(peekc(lx, n + l)) && peekc(lx, n + l) != '_')
				ul = l;
		}
		if (!ul)
			return 0;
		n += ul;
		any = true;
	}
	return any && !is_ident_char(peekc(lx, n)) && peekc(lx, n) != '.' ? n : 0;
}

/* digits [. digits] [e [+|-] digits]: INTEGER or FLOAT; a word character or
 * '.' right after it is an error, but for "..", a RANGE token (1..3). */
static int lex_number(struct cql_lexer *lx, struct cql_token *tok, struct cerr *err)
{
	size_t n = duration_len(lx);
	if (n) {
		tok->kind = CQL_TOK_DURATION;
		tok->chars = advance(lx, n);
		return 0;
	}
	bool is_float = false;
	while (is_digit(peekc(lx, n)))
		n++;
	bool range = peekc(lx, n) == '.' && peekc(lx, n + 1) == '.'; /* 1..3: INTEGER RANGE */
	if (peekc(lx, n) == '.' && !range) {
		is_float = true;
		n++;
		while (is_digit(peekc(lx, n)))
			n++;
	}
	if (peekc(lx, n) == 'e' || peekc(lx, n) == 'E') {
		size_t m = n + 1;
		if (peekc(lx, m) == '+' || peekc(lx, m) == '-')
			m++;
		if (is_digit(peekc(lx, m))) {
			while (is_digit(peekc(lx, m)))
				m++;
			n = m;
			is_float = true;
		}
	}
	range = peekc(lx, n) == '.' && peekc(lx, n + 1) == '.';
	if (is_ident_char(peekc(lx, n)) || (peekc(lx, n) == '.' && !range)) {
		size_t m = n;
		while (is_ident_char(peekc(lx, m)) || peekc(lx, m) == '.')
			m++;
		char detail[80];
		int shown = m > 40 ? 40 : (int)m;
		snprintf(detail, sizeof(detail), "'%.*s%s'", shown, lx->text + lx->off,
		         m > 40 ? "..." : "");
		return lex_error_at(err, tok->pos.line, tok->pos.col, "invalid number ", detail);
	}
	tok->kind = is_float ? CQL_TOK_FLOAT : CQL_TOK_INTEGER;
	tok->chars = advance(lx, n);
	return 0;
}

/* '...' (STRING) or "..." (QIDENT, neither empty nor holding a NUL). */
static int lex_quoted_token(struct cql_lexer *lx, struct cql_token *tok, int q, struct cerr *err)
{
	tok->kind = q == '"' ? CQL_TOK_QIDENT : CQL_TOK_STRING;
	int rc = lex_quoted(lx, tok, q, err);
	if (rc)
		return rc;
	if (q == '"') {
		if (lx->text + lx->off - tok->start == 2)
			return lex_error_at(err, tok->pos.line, tok->pos.col,
			                    "empty quoted identifier \"\"", "");
		if (memchr(tok->start, '\0', (size_t)(lx->text + lx->off - tok->start)))
			return lex_error_at(err, tok->pos.line, tok->pos.col,
			                    "quoted identifier contains a NUL byte", "");
	}
	return 0;
}

/* $$...$$ (a STRING, no escapes). */
static int lex_dollar(struct cql_lexer *lx, struct cql_token *tok, struct cerr *err)
{
	tok->kind = CQL_TOK_STRING;
	tok->chars = advance(lx, 2);
	const char *s = lx->text + lx->off;
	size_t left = lx->len - lx->off;
	const char *end = NULL;
	for (size_t i = 0; i + 1 < left; i++) {
		const char *d = memchr(s + i, '$', left - i - 1);
		if (!d)
			break;
		if (d[1] == '$') {
			end = d;
			break;
		}
		i = (size_t)(d - s);
	}
	if (!end) {
		tok->chars += advance(lx, left);
		char detail[80];
		snprintf(detail, sizeof(detail), " ($$ string opened at line %u:%u)", tok->pos.line,
		         tok->pos.col);
		return lex_error_at(err, lx->line, lx->col,
		                    "mismatched character '<EOF>' expecting '$$'", detail);
	}
	tok->chars += advance(lx, (size_t)(end - s) + 2);
	return 0;
}

/* One- and two-character operators and punctuation (a flat table of
 * characters); anything else is a stray character. */
static int lex_punct(struct cql_lexer *lx, struct cql_token *tok, int c, struct cerr *err)
{
	enum cql_tok_kind k;
	size_t n = 1;
	int c1 = peekc(lx, 1);
	switch (c) {
	case '?': k = CQL_TOK_QMARK; break;
	case '(': k = CQL_TOK_LPAREN; break;
	case ')': k = CQL_TOK_RPAREN; break;
	case '[': k = CQL_TOK_LBRACKET; break;
	case ']': k = CQL_TOK_RBRACKET; break;
	case '{': k = CQL_TOK_LBRACE; break;
	case '}': k = CQL_TOK_RBRACE; break;
	case ',': k = CQL_TOK_COMMA; break;
	case ';': k = CQL_TOK_SEMI; break;
	case '.':
		k = c1 == '.' ? CQL_TOK_RANGE : CQL_TOK_DOT;
		n = c1 == '.' ? 2 : 1;
		break;
	case ':': k = CQL_TOK_COLON; break;
	case '*': k = CQL_TOK_STAR; break;
	case '=': k = CQL_TOK_EQ; break;
	case '!':
		k = CQL_TOK_NEQ;
		if (c1 != '=')
			return lex_stray(lx, tok, err);
		n = 2;
		break;
	case '<':
		k = c1 == '=' ? CQL_TOK_LTE : CQL_TOK_LT;
		n = c1 == '=' ? 2 : 1;
		break;
	case '>':
		k = c1 == '=' ? CQL_TOK_GTE : CQL_TOK_GT;
		n = c1 == '=' ? 2 : 1;
		break;
	case '+':
		k = c1 == '=' ? CQL_TOK_PLUSEQ : CQL_TOK_PLUS;
		n = c1 == '=' ? 2 : 1;
		break;
	case '-':
		k = c1 == '=' ? CQL_TOK_MINUSEQ : CQL_TOK_MINUS;
		n = c1 == '=' ? 2 : 1;
		break;
	default: return lex_stray(lx, tok, err);
	}
	tok->kind = k;
	tok->chars = advance(lx, n);
	return 0;
}

int cql_lexer_next(struct cql_lexer *lx, struct cql_token *tok, struct cerr *err)
{
	int rc = skip_blank(lx, err);
	if (rc)
		return rc;
	memset(tok, 0, sizeof(*tok));
	tok->pos.line = lx->line;
	tok->pos.col = lx->col;
	tok->pos.off = (uint32_t)lx->off;
	tok->start = lx->text + lx->off;
	int c = peekc(lx, 0);
	if (c < 0) {
		tok->kind = CQL_TOK_EOF;
		return 0;
	}
	if (is_hex(c) && at_uuid(lx)) {
		tok->kind = CQL_TOK_UUID;
		tok->chars = advance(lx, 36);
	} else if (c == '0' && (peekc(lx, 1) == 'x' || peekc(lx, 1) == 'X')) {
		rc = lex_hex(lx, tok, err);
	} else if (is_digit(c)) {
		rc = lex_number(lx, tok, err);
	} else if (is_letter(c)) {
		size_t n = 1;
		while (is_ident_char(peekc(lx, n)))
			n++;
		tok->kind = CQL_TOK_WORD;
		tok->chars = advance(lx, n);
	} else if (c == '"' || c == '\'') {
		rc = lex_quoted_token(lx, tok, c, err);
	} else if (c == '$' && peekc(lx, 1) == '$') {
		rc = lex_dollar(lx, tok, err);
	} else {
		rc = lex_punct(lx, tok, c, err);
	}
	if (rc)
		return rc;
	tok->len = (size_t)(lx->text + lx->off - tok->start);
	return 0;
}

const char *cql_tok_kind_name(enum cql_tok_kind k)
{
	switch (k) {
	case CQL_TOK_EOF: return "EOF";
	case CQL_TOK_WORD: return "IDENT";
	case CQL_TOK_QIDENT: return "QUOTED_NAME";
	case CQL_TOK_STRING: return "STRING_LITERAL";
	case CQL_TOK_INTEGER: return "INTEGER";
	case CQL_TOK_FLOAT: return "FLOAT";
	case CQL_TOK_UUID: return "UUID";
	case CQL_TOK_HEX: return "HEXNUMBER";
	case CQL_TOK_QMARK: return "'?'";
	case CQL_TOK_LPAREN: return "'('";
	case CQL_TOK_RPAREN: return "')'";
	case CQL_TOK_LBRACKET: return "'['";
	case CQL_TOK_RBRACKET: return "']'";
	case CQL_TOK_LBRACE: return "'{'";
	case CQL_TOK_RBRACE: return "'}'";
	case CQL_TOK_COMMA: return "','";
	case CQL_TOK_SEMI: return "';'";
	case CQL_TOK_DOT: return "'.'";
	case CQL_TOK_COLON: return "':'";
	case CQL_TOK_STAR: return "'*'";
	case CQL_TOK_EQ: return "'='";
	case CQL_TOK_NEQ: return "'!='";
	case CQL_TOK_LT: return "'<'";
	case CQL_TOK_LTE: return "'<='";
	case CQL_TOK_GT: return "'>'";
	case CQL_TOK_GTE: return "'>='";
	case CQL_TOK_PLUS: return "'+'";
	case CQL_TOK_MINUS: return "'-'";
	case CQL_TOK_PLUSEQ: return "'+='";
	case CQL_TOK_MINUSEQ: return "'-='";
	case CQL_TOK_RANGE: return "'..'";
	case CQL_TOK_DURATION: return "DURATION";
	}
	return "?";
}

size_t cql_token_string(const struct cql_token *tok, char *out)
{
	size_t n = 0;
	if (tok->len >= 4 && tok->start[0] == '$') {
		n = tok->len - 4;
		memcpy(out, tok->start + 2, n);
	} else {
		for (size_t i = 1; i + 1 < tok->len; i++) {
			out[n++] = tok->start[i];
			if (tok->start[i] == '\'')
				i++; /* '' -> ' */
		}
	}
	out[n] = '\0';
	return n;
}

size_t cql_token_qident(const struct cql_token *tok, char *out)
{
	size_t n = 0;
	for (size_t i = 1; i + 1 < tok->len; i++) {
		out[n++] = tok->start[i];
		if (tok->start[i] == '"')
			i++;
	}
	out[n] = '\0';
	return n;
}

bool cql_token_is_word(const struct cql_token *tok, const char *kw)
{
	if (tok->kind != CQL_TOK_WORD)
		return false;
	size_t i = 0;
	for (; i < tok->len; i++) {
		char c = tok->start[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (kw[i] != c)
			return false;
	}
	return kw[i] == '\0';
}
