/*
 * describe.c — cqlish's DESCRIBE: the server answers it (Cassandra 4's
 * server-side DESCRIBE, coordinator/query/describe.h), and the shell prints the
 * rows the way cqlsh 6 does: name listings columnized, CREATE statements each
 * between blank lines, DESCRIBE CLUSTER as "Cluster: / Partitioner: / Snitch:"
 * with the range ownership of the keyspace in use.
 */
#include "cli/cqlish/shell.h"

#include "cli/lib/cqlfmt.h"
#include "cli/lib/cqlsplit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void emit(struct buf *b)
{
	if (b->len)
		fwrite(b->data, 1, b->len, stdout);
	fflush(stdout);
}

/* The text of column `col` of row i, or "" (the caller frees). */
static char *cell_text(struct cqlresult *r, uint32_t i, int col)
{
	char *t = col >= 0 ? cqlresult_text(r, i, (uint32_t)col) : NULL;
	return t ? t : strdup("");
}

/* Columnize rows [from, to) of column `col` into b. */
static void columnize_rows(struct buf *b, struct cqlresult *r, int col, uint32_t from, uint32_t to)
{
	size_t n = to - from;
	char **names = calloc(n + 1, sizeof(*names));
	if (!names) {
		b->oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		names[i] = cell_text(r, from + (uint32_t)i, col);
	cqlfmt_columnize(b, (const char *const *)names, n, 80);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* TABLES, TYPES, FUNCTIONS, AGGREGATES: names per keyspace (with a heading when no
 * keyspace is in use). */
static void print_list(struct shell *sh, struct cqlresult *r, struct buf *b)
{
	int ck = cqlresult_column(r, "keyspace_name"), cn = cqlresult_column(r, "name");
	uint32_t start = 0;
	while (start < r->n_rows) {
		char *ks = cell_text(r, start, ck);
		uint32_t end = start + 1;
		for (; end < r->n_rows; end++) {
			char *k2 = cell_text(r, end, ck);
			bool same = strcmp(ks, k2) == 0;
			free(k2);
			if (!same)
				break;
		}
		buf_put_u8(b, '\n');
		if (!sh->keyspace) {
			buf_printf(b, "Keyspace %s\n---------", ks);
			for (size_t i = 0; i < strlen(ks); i++)
				buf_put_u8(b, '-');
			buf_put_u8(b, '\n');
		}
		columnize_rows(b, r, cn, start, end);
		free(ks);
		start = end;
	}
	if (r->n_rows)
		buf_put_u8(b, '\n');
}

/* range_ownership map<text, list<text>>: " %39s  [a, b]" per range. */
static void print_ranges(const struct cql_slice *v, struct buf *b)
{
	struct bufreader rd;
	bufreader_init(&rd, v->p, v->len > 0 ? (size_t)v->len : 0);
	int32_t n = v->len > 0 ? (int32_t)bufreader_u32be(&rd) : 0;
	buf_put_str(b, "Range ownership:\n");
	for (int32_t i = 0; i < n && bufreader_ok(&rd); i++) {
		uint32_t kl = bufreader_u32be(&rd);
		const uint8_t *k = bufreader_take(&rd, kl);
		uint32_t ll = bufreader_u32be(&rd);
		const uint8_t *l = bufreader_take(&rd, ll);
		if (!k || !l)
			break;
		buf_printf(b, " %39.*s  [", (int)kl, (const char *)k);
		struct bufreader lr;
		bufreader_init(&lr, l, ll);
		int32_t m = ll >= 4 ? (int32_t)bufreader_u32be(&lr) : 0;
		for (int32_t j = 0; j < m && bufreader_ok(&lr); j++) {
			uint32_t el = bufreader_u32be(&lr);
			const uint8_t *e = bufreader_take(&lr, el);
			if (!e)
				break;
			buf_printf(b, "%s%.*s", j ? ", " : "", (int)el, (const char *)e);
		}
		buf_put_str(b, "]\n");
	}
	buf_put_u8(b, '\n');
}

static void print_cluster(struct cqlresult *r, struct buf *b)
{
	int rc = cqlresult_column(r, "range_ownership");
	for (uint32_t i = 0; i < r->n_rows; i++) {
		char *c = cell_text(r, i, cqlresult_column(r, "cluster"));
		char *p = cell_text(r, i, cqlresult_column(r, "partitioner"));
		char *s = cell_text(r, i, cqlresult_column(r, "snitch"));
		buf_printf(b, "\nCluster: %s\nPartitioner: %s\nSnitch: %s\n\n", c, p, s);
		free(c);
		free(p);
		free(s);
		if (rc >= 0)
			print_ranges(cqlresult_cell(r, i, (uint32_t)rc), b);
	}
}

void shell_describe(struct shell *sh, const char *args)
{
	size_t len = strlen(args), pos = 0;
	struct cqltok w = cqltok_next(args, len, &pos);
	struct buf what, q;
	buf_init(&what);
	buf_init(&q);
	if (w.kind == CQLTOK_WORD)
		buf_put(&what, args + w.start, w.len);
	buf_put_u8(&what, 0);
	buf_printf(&q, "DESCRIBE%s", args);
	buf_put_u8(&q, 0);
	struct cqlresult *r = NULL;
	if (buf_ok(&q) && buf_ok(&what))
		r = shell_query(sh, (const char *)q.data);
	if (r && r->kind == CQLRES_ERROR) {
		/* cqlsh prints only the server's message for DESCRIBE */
		shell_printerr(sh, "%s", r->error.message ? r->error.message : "");
	} else if (r && r->kind != CQLRES_ROWS) {
		shell_printerr(sh, "DESCRIBE: the server answered with no rows");
	} else if (r) {
		const char *wd = (const char *)what.data;
		struct buf b;
		buf_init(&b);
		if (!strcasecmp(wd, "tables") || !strcasecmp(wd, "columnfamilies") ||
		    !strcasecmp(wd, "types") || !strcasecmp(wd, "functions") ||
		    !strcasecmp(wd, "aggregates")) {
			print_list(sh, r, &b);
		} else if (!strcasecmp(wd, "keyspaces")) {
			buf_put_u8(&b, '\n');
			columnize_rows(&b, r, cqlresult_column(r, "name"), 0, r->n_rows);
			buf_put_u8(&b, '\n');
		} else if (!strcasecmp(wd, "cluster")) {
			print_cluster(r, &b);
		} else {
			int cs = cqlresult_column(r, "create_statement");
			for (uint32_t i = 0; i < r->n_rows; i++) {
				char *s = cell_text(r, i, cs);
				buf_printf(&b, "\n%s\n", s);
				free(s);
			}
		}
		emit(&b);
		buf_release(&b);
	}
	cqlresult_free(r);
	buf_release(&what);
	buf_release(&q);
}
