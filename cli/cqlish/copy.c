/*
 * copy.c — COPY's grammar and options (see copy.h).
 *
 * COPY TO is copy_to.c, COPY FROM copy_from.c; both reach the nodes through
 * copy_conns.c.
 */
#include "cli/cqlish/copy.h"

#include "cli/lib/cqlfmt.h"
#include "cli/lib/cqlsplit.h"
#include "core/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *tokdup(const char *s, const struct cqltok *t)
{
	return strndup(s + t->start, t->len);
}

static void cmd_free(struct copy_cmd *c)
{
	free(c->table);
	free(c->ks);
	free(c->t);
	for (size_t i = 0; i < c->n_cols; i++)
		free(c->cols[i]);
	free(c->cols);
	free(c->file);
	free(c->null_str);
	free(c->errfile);
}

/* 'text' -> text (quotes removed, '' unescaped). */
static char *unquote(const char *s, const struct cqltok *t)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = t->start + 1; i + 1 < t->start + t->len; i++) {
		buf_put_u8(&b, (uint8_t)s[i]);
		if (s[i] == '\'' && s[i + 1] == '\'')
			i++;
	}
	buf_put_u8(&b, 0);
	return (char *)buf_detach(&b, NULL);
}

static int opt_int(const char *v, int64_t *out)
{
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || end == v || *end)
		return -1;
	*out = x;
	return 0;
}

static int opt_char(const char *v, char *out)
{
	if (strlen(v) != 1)
		return -1;
	*out = v[0];
	return 0;
}

/* One `name = value` of WITH; -1 with the message printed. */
static int set_option(struct shell *sh, struct copy_cmd *c, const char *name, const char *v)
{
	int rc = 0;
	if (strcasecmp(name, "header") == 0) {
		c->header = strcasecmp(v, "true") == 0;
		rc = c->header || strcasecmp(v, "false") == 0 ? 0 : -1;
	} else if (strcasecmp(name, "delimiter") == 0) {
		rc = opt_char(v, &c->csv.delim);
	} else if (strcasecmp(name, "quote") == 0) {
		rc = opt_char(v, &c->csv.quote);
	} else if (strcasecmp(name, "escape") == 0) {
		rc = opt_char(v, &c->csv.escape);
	} else if (strcasecmp(name, "null") == 0 || strcasecmp(name, "nullval") == 0) {
		free(c->null_str);
		c->null_str = strdup(v);
	} else if (strcasecmp(name, "errfile") == 0) {
		free(c->errfile);
		c->errfile = strdup(v);
	} else {
		static const char *const names[] = {
		        "pagesize",        "maxrows",     "chunksize",
		        "ingestrate",      "maxattempts", "maxparseerrors",
		        "maxinserterrors", "maxrequests", "numprocesses"};
		int64_t *fields[] = {&c->pagesize,        &c->maxrows,     &c->chunksize,
		                     &c->ingestrate,      &c->maxattempts, &c->maxparseerrors,
		                     &c->maxinserterrors, &c->maxrequests, &c->numprocesses};
		size_t i = 0;
		while (i < sizeof(names) / sizeof(names[0]) && strcasecmp(name, names[i]) != 0)
			i++;
		if (i == sizeof(names) / sizeof(names[0])) {
			shell_printerr(sh, "Unrecognized COPY %s options: %s",
			               c->to ? "TO" : "FROM", name);
			return -1;
		}
		rc = opt_int(v, fields[i]);
	}
	if (rc)
		shell_printerr(sh, "Invalid value '%s' for COPY option %s", v, name);
	return rc;
}

static int parse_with(struct shell *sh, struct copy_cmd *c, const char *s, size_t len, size_t *pos)
{
	for (;;) {
		struct cqltok n = cqltok_next(s, len, pos);
		struct cqltok eq = cqltok_next(s, len, pos);
		struct cqltok v = cqltok_next(s, len, pos);
		if (n.kind != CQLTOK_WORD || eq.kind != CQLTOK_PUNCT || s[eq.start] != '=' ||
		    (v.kind != CQLTOK_STRING && v.kind != CQLTOK_NUMBER && v.kind != CQLTOK_WORD)) {
			shell_printerr(sh,
			               "Improper COPY command: expected name = value after WITH");
			return -1;
		}
		char *name = tokdup(s, &n);
		char *val = v.kind == CQLTOK_STRING ? unquote(s, &v) : tokdup(s, &v);
		int rc = name && val ? set_option(sh, c, name, val) : -1;
		free(name);
		free(val);
		if (rc)
			return -1;
		struct cqltok a = cqltok_next(s, len, pos);
		if (a.kind == CQLTOK_END || (a.kind == CQLTOK_PUNCT && s[a.start] == ';'))
			return 0;
		if (!cqltok_is(s, &a, "and")) {
			shell_printerr(sh, "Improper COPY command: expected AND between options");
			return -1;
		}
	}
}

/* Table name: name [. name]; sets table, ks, t. */
static int parse_table(struct copy_cmd *c, const char *s, size_t len, size_t *pos,
                       struct cqltok *next)
{
	struct cqltok a = cqltok_next(s, len, pos);
	if (a.kind != CQLTOK_WORD && a.kind != CQLTOK_QNAME)
		return -1;
	size_t start = a.start, end = a.start + a.len;
	struct buf n1, n2;
	buf_init(&n1);
	buf_init(&n2);
	cqltok_name(s, &a, &n1);
	*next = cqltok_next(s, len, pos);
	if (next->kind == CQLTOK_PUNCT && s[next->start] == '.') {
		struct cqltok b = cqltok_next(s, len, pos);
		if (b.kind != CQLTOK_WORD && b.kind != CQLTOK_QNAME) {
			buf_release(&n1);
			return -1;
		}
		cqltok_name(s, &b, &n2);
		end = b.start + b.len;
		*next = cqltok_next(s, len, pos);
	}
	buf_put_u8(&n1, 0);
	buf_put_u8(&n2, 0);
	if (n2.len > 1) {
		c->ks = (char *)buf_detach(&n1, NULL);
		c->t = (char *)buf_detach(&n2, NULL);
	} else {
		c->t = (char *)buf_detach(&n1, NULL);
		buf_release(&n2);
	}
	c->table = strndup(s + start, end - start);
	return 0;
}

static int parse_cols(struct copy_cmd *c, const char *s, size_t len, size_t *pos,
                      struct cqltok *next)
{
	c->cols = calloc(COPY_MAX_COLUMNS, sizeof(char *));
	if (!c->cols)
		return -1;
	for (;;) {
		struct cqltok t = cqltok_next(s, len, pos);
		if ((t.kind != CQLTOK_WORD && t.kind != CQLTOK_QNAME) ||
		    c->n_cols == COPY_MAX_COLUMNS)
			return -1;
		c->cols[c->n_cols++] = tokdup(s, &t);
		t = cqltok_next(s, len, pos);
		if (t.kind == CQLTOK_PUNCT && s[t.start] == ')')
			break;
		if (t.kind != CQLTOK_PUNCT || s[t.start] != ',')
			return -1;
	}
	*next = cqltok_next(s, len, pos);
	return 0;
}

static void cmd_defaults(struct copy_cmd *c)
{
	memset(c, 0, sizeof(*c));
	csv_opts_init(&c->csv);
	c->pagesize = 1000;
	c->maxrows = -1;
	c->chunksize = 5000;
	c->ingestrate = 100000;
	c->maxattempts = 5;
	c->maxparseerrors = -1;
	c->maxinserterrors = 1000;
	c->maxrequests = 256;
	c->numprocesses = 8;
}

static int parse_copy(struct shell *sh, const char *s, struct copy_cmd *c)
{
	size_t len = strlen(s), pos = 0;
	cmd_defaults(c);
	cqltok_next(s, len, &pos); /* COPY */
	struct cqltok t;
	if (parse_table(c, s, len, &pos, &t) ||
	    (t.kind == CQLTOK_PUNCT && s[t.start] == '(' && parse_cols(c, s, len, &pos, &t))) {
		shell_printerr(sh, "Improper COPY command.");
		return -1;
	}
	if (cqltok_is(s, &t, "to") || cqltok_is(s, &t, "from")) {
		c->to = cqltok_is(s, &t, "to");
		t = cqltok_next(s, len, &pos);
	} else {
		shell_printerr(sh, "Improper COPY command.");
		return -1;
	}
	if (t.kind != CQLTOK_STRING) {
		shell_printerr(sh, "Improper COPY command: the file name must be a quoted string");
		return -1;
	}
	c->file = unquote(s, &t);
	t = cqltok_next(s, len, &pos);
	if (t.kind == CQLTOK_END || (t.kind == CQLTOK_PUNCT && s[t.start] == ';'))
		goto ok;
	if (!cqltok_is(s, &t, "with")) {
		shell_printerr(sh, "Improper COPY command.");
		return -1;
	}
	if (parse_with(sh, c, s, len, &pos))
		return -1;
ok:
	if (!c->null_str)
		c->null_str = strdup("");
	if (c->pagesize <= 0 || c->chunksize <= 0 || c->ingestrate <= 0 || c->maxattempts <= 0 ||
	    c->maxrequests <= 0 || c->maxrequests > 4096 || c->numprocesses <= 0 ||
	    c->numprocesses > 256) {
		shell_printerr(sh,
		               "Invalid COPY option: PAGESIZE, CHUNKSIZE, INGESTRATE and "
		               "MAXATTEMPTS must be positive, MAXREQUESTS 1..4096, NUMPROCESSES "
		               "1..256");
		return -1;
	}
	if (!c->ks && !sh->keyspace) {
		shell_printerr(sh,
		               "Improper COPY command: no keyspace given and none in use (USE ks)");
		return -1;
	}
	return 0;
}

void copy_describe_interval(double secs, char *out, size_t cap)
{
	if (secs < 60) {
		snprintf(out, cap, "%.3f seconds", secs);
		return;
	}
	long m = (long)(secs / 60);
	snprintf(out, cap, "%ld minute%s and %.3f seconds", m, m == 1 ? "" : "s", secs - m * 60.0);
}

void copy_progress(bool tty, uint64_t n, double rate, double avg)
{
	printf("%sProcessed: %llu rows; Rate: %7.0f rows/s; Avg. rate: %7.0f rows/s%s",
	       tty ? "\r" : "", (unsigned long long)n, rate, avg, tty ? "" : "\n");
	fflush(stdout);
}

void shell_copy(struct shell *sh, const char *stmt)
{
	struct copy_cmd c;
	if (parse_copy(sh, stmt, &c) == 0) {
		if (!sh->cl) {
			struct cerr err = {0};
			if (shell_connect(sh, &err) != 0) {
				shell_printerr(sh, "Connection error: %s", err.msg);
				cmd_free(&c);
				return;
			}
		}
		if (!c.ks && sh->keyspace) {
			struct buf q;
			buf_init(&q);
			cql_quote_name(&q, sh->keyspace, cqlfmt_is_reserved);
			buf_printf(&q, ".%s", c.table);
			buf_put_u8(&q, 0);
			free(c.table);
			c.table = (char *)buf_detach(&q, NULL);
			c.ks = strdup(sh->keyspace);
		}
		if (c.to)
			copy_to_run(sh, &c);
		else
			copy_from_run(sh, &c);
	}
	cmd_free(&c);
	fflush(stdout);
}
