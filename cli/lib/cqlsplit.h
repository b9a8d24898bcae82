/*
 * cqlsplit.h — the shell side of CQL text: a light tokenizer and the
 * statement splitter that cqlish (like cqlsh's cql_split_statements) runs on
 * its input before anything reaches a server.
 *
 * Splitting rules (cqlsh's):
 *  - a statement ends at ';' outside string literals ('...' with '' escapes,
 *    $$...$$), quoted identifiers ("..." with "" escapes) and comments
 *    (-- and // to the end of the line, block comments);
 *  - BEGIN [UNLOGGED|COUNTER] BATCH ... APPLY BATCH is one statement, whatever
 *    ';' it contains inside;
 *  - shell commands (HELP, CONSISTENCY, SERIAL, DESCRIBE/DESC, SHOW, SOURCE,
 *    EXPAND, PAGING, TRACING, CAPTURE, LOGIN, EXIT, QUIT, CLEAR, CLS) also end
 *    at the end of their line, so "EXPAND ON" needs no ';'.
 * The statement handed out starts at its first token (leading blanks and
 * comments dropped) and stops before the ';' (trailing blanks dropped);
 * comments inside are kept for the server's lexer.
 *
 * The splitter owns a copy of the pending input; the input size is bounded by
 * CQLSPLIT_MAX_PENDING (a statement larger than that is refused with
 * COL_ETOOBIG, which the shell reports and then discards the input).
 */
#ifndef COLONNADE_CLI_CQLSPLIT_H
#define COLONNADE_CLI_CQLSPLIT_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* Largest pending statement text: generous for scripts, bounded for memory. */
#define CQLSPLIT_MAX_PENDING (64u * 1024 * 1024)

/* ---- tokens ---------------------------------------------------------------------------------- */

enum cqltok_kind {
	CQLTOK_END = 0,
	CQLTOK_WORD,         /* identifier or keyword: [A-Za-z_][A-Za-z0-9_]* */
	CQLTOK_QNAME,        /* "quoted identifier" (text includes the quotes) */
	CQLTOK_STRING,       /* 'string' or $$string$$ (text includes the quotes) */
	CQLTOK_NUMBER,       /* digits, sign, '.', exponent, hex, uuid-ish */
	CQLTOK_PUNCT,        /* any other single character */
	CQLTOK_UNTERMINATED, /* a string, quoted name or block comment runs past the end */
};

struct cqltok {
	enum cqltok_kind kind;
	size_t start, len; /* byte range in the text */
};

/* Next token at or after *pos (blanks and comments skipped); advances *pos. */
struct cqltok cqltok_next(const char *s, size_t len, size_t *pos);
/* Case-insensitive comparison of a WORD token with `word`. */
bool cqltok_is(const char *s, const struct cqltok *t, const char *word);
/* An identifier token's name: WORD lower-cased, QNAME unquoted.  Appends to out. */
void cqltok_name(const char *s, const struct cqltok *t, struct buf *out);

/* True for the first words of shell commands that also end at a newline. */
bool cqlsplit_is_shell_command(const char *word, size_t len);

/* ---- the splitter ------------------------------------------------------------------------------
 */

/*
 * The splitter scans incrementally: each byte of input is looked at once (a
 * statement fed line by line costs O(its length), even when it is one huge
 * unterminated string), so the state of the scan is kept between feeds.
 */
struct cqlsplit {
	struct buf text;  /* input not yet handed out */
	size_t base_line; /* input line number of text's first byte (1-based) */
	/* scan state (internal) */
	size_t pos;      /* next byte of text to look at */
	size_t newlines; /* '\n' in text[0..pos) */
	int state;       /* lexical state at pos */
	long stmt_start; /* first token of the pending statement, -1 none yet */
	size_t last_end; /* end of the last token seen */
	long word_start; /* start of the word being read, -1 outside a word */
	int words;       /* words seen in this statement (up to 2 matter) */
	bool shell, batch, after_apply, batch_done;
	bool ended;            /* a statement end was found at pos - 1 */
	size_t term, end_line; /* where it ended */
};

void cqlsplit_init(struct cqlsplit *s);
void cqlsplit_release(struct cqlsplit *s);
/* Append one line of input (a '\n' is added).  0, COL_ENOMEM, COL_ETOOBIG. */
int cqlsplit_feed(struct cqlsplit *s, const char *line, size_t len);
/*
 * Hand out the next complete statement: 1 with *stmt (malloc'ed, to free) and
 * *end_line (input line of its terminator); 0 if none is complete;
 * COL_ENOMEM.  Empty statements (";" alone) are skipped.
 */
int cqlsplit_next(struct cqlsplit *s, char **stmt, size_t *end_line);
/* True if the pending input holds more than blanks and comments (scans it). */
bool cqlsplit_pending(struct cqlsplit *s);
/* At end of input: the unterminated rest as a statement (malloc'ed) or NULL
 * if there is none; the splitter is empty afterwards. */
char *cqlsplit_take_rest(struct cqlsplit *s, size_t *end_line);
/* Drop everything pending (Ctrl-C). */
void cqlsplit_reset(struct cqlsplit *s);

#endif
