/*
 * copy_to.c — COPY TO: the table read by token ranges in parallel.
 *
 * As cqlsh's COPY TO workers do, the ring is cut into its token ranges
 * (cli/lib/tokenmap.h) and each range is read with
 * `SELECT cols FROM table WHERE token(pk) > lo AND token(pk) <= hi`, paged by
 * PAGESIZE at the shell's consistency level, on a connection to a replica of
 * the range (so the coordinator reads locally).  NUMPROCESSES ranges are in
 * flight at once, over one connection per node (copy_conns.c); pages are
 * written as they arrive, so the file's row order is the arrival order.
 *
 * A page that fails (timeout, unavailable, overloaded, a lost connection) is
 * asked again with the same paging state from the range's next replica, after
 * a back-off, up to MAXATTEMPTS tries; each retry is reported.  A range that
 * fails every try is reported and the export goes on with the others, ending
 * with cqlsh's "Exported N ranges out of M total ranges, some records might
 * be missing".  An error no retry can cure (an unknown table or column, a
 * syntax or permission error) stops the export with the server's message.
 *
 * Each row is one CSV record: a null cell is the NULL string unquoted, any
 * other value cqlsh's text of it (quoted when it is empty or equals the NULL
 * string, so that it reads back as a value).
 */
#include "cli/cqlish/copy.h"

#include "cli/lib/cqlfmt.h"
#include "core/clock.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Retries printed on stderr; later ones are only counted. */
#define COPY_TO_MAX_PRINTED 50
#define RETRY_BASE_US       100000
#define RETRY_MAX_US        2000000

struct to;

struct xrange {
	struct to *t;
	const struct token_range *tr;
	char *cql;
	uint8_t *state; /* paging state of the next page; NULL: first page */
	int32_t state_len;
	unsigned attempts; /* failed tries of the current page */
	int64_t retry_at_us;
	bool queued, done;
};

struct to {
	struct shell *sh;
	struct copy_cmd *c;
	FILE *f;
	struct copy_conns cc;
	char *pk; /* "token(pk1, pk2)" or NULL: one unbounded range */
	struct xrange *r;
	size_t n_r, next, inflight, waiting, failed, ok, printed;
	int64_t rows;
	bool header_done, fatal, stop;
	struct buf out, tmp;
	int64_t start_us, last_us;
	int64_t last_rows;
};

/* One result row as a CSV record. */
static void put_row(struct buf *out, const struct cqlresult *r, uint32_t row,
                    const struct copy_cmd *c, struct buf *tmp)
{
	size_t nl = strlen(c->null_str);
	for (uint32_t col = 0; col < r->meta.n_cols; col++) {
		if (col)
			buf_put_u8(out, (uint8_t)c->csv.delim);
		const struct cql_slice *v = cqlresult_cell(r, row, col);
		if (v->len < 0) {
			buf_put(out, c->null_str, nl);
			continue;
		}
		buf_reset(tmp);
		cqltype_format(r->meta.cols[col].type, v->p, (size_t)v->len, tmp);
		bool force = tmp->len == 0 ||
		             (tmp->len == nl && memcmp(tmp->data, c->null_str, nl) == 0);
		csv_put_field(out, (const char *)tmp->data, tmp->len, &c->csv, force);
	}
	buf_put_u8(out, '\n');
}

static void progress_tick(struct to *t, bool force)
{
	int64_t now = clock_mono_us();
	if (!force && now - t->last_us < 1000000)
		return;
	double dt = (double)(now - t->last_us) / 1e6, all = (double)(now - t->start_us) / 1e6;
	copy_progress(t->sh->tty, (uint64_t)t->rows,
	              dt > 0 ? (double)(t->rows - t->last_rows) / dt : 0,
	              all > 0 ? (double)t->rows / all : 0);
	t->last_us = now;
	t->last_rows = t->rows;
}

/* The partition key as "token(a, b)" from system_schema.columns; NULL when unknown. */
static char *token_expr(struct shell *sh, const struct copy_cmd *c)
{
	struct buf q;
	buf_init(&q);
	buf_put_str(&q, "SELECT column_name, kind, position FROM system_schema.columns WHERE "
	                "keyspace_name = ");
	cql_quote_string(&q, c->ks, strlen(c->ks));
	buf_put_str(&q, " AND table_name = ");
	cql_quote_string(&q, c->t, strlen(c->t));
	buf_put_u8(&q, 0);
	struct cql_qparams p;
	cql_qparams_init(&p);
	struct cqlresult *r = NULL;
	struct cerr err = {0};
	int rc = q.data ? cqlclient_query(sh->cl, (const char *)q.data, &p, &r, &err) : COL_ENOMEM;
	buf_release(&q);
	if (rc || r->kind != CQLRES_ROWS) {
		if (!rc)
			cqlresult_free(r);
		return NULL;
	}
	char *names[64] = {0};
	uint32_t n = 0;
	int cn = cqlresult_column(r, "column_name"), ck = cqlresult_column(r, "kind"),
	    cp = cqlresult_column(r, "position");
	for (uint32_t i = 0; cn >= 0 && ck >= 0 && cp >= 0 && i < r->n_rows; i++) {
		char *kind = cqlresult_text(r, i, (uint32_t)ck);
		const struct cql_slice *pos = cqlresult_cell(r, i, (uint32_t)cp);
		int32_t at = pos->len == 4 ? (int32_t)((uint32_t)pos->p[0] << 24 |
		                                       (uint32_t)pos->p[1] << 16 |
		                                       (uint32_t)pos->p[2] << 8 | pos->p[3])
		                           : -1;
		if (kind && strcmp(kind, "partition_key") == 0 && at >= 0 && at < 64 &&
		    !names[at]) {
			names[at] = cqlresult_text(r, i, (uint32_t)cn);
			n++;
		}
		free(kind);
	}
	cqlresult_free(r);
	struct buf e;
	buf_init(&e);
	buf_put_str(&e, "token(");
	bool ok = n > 0;
	for (uint32_t i = 0; i < n; i++) {
		ok = ok && names[i];
		if (names[i]) {
			buf_put_str(&e, i ? ", " : "");
			cql_quote_name(&e, names[i], cqlfmt_is_reserved);
		}
	}
	for (uint32_t i = 0; i < 64; i++)
		free(names[i]);
	buf_put_str(&e, ")");
	buf_put_u8(&e, 0);
	if (!ok || !buf_ok(&e)) {
		buf_release(&e);
		return NULL;
	}
	return (char *)buf_detach(&e, NULL);
}

static char *range_text(const struct to *t, const struct token_range *tr)
{
	const struct copy_cmd *c = t->c;
	struct buf b;
	buf_init(&b);
	buf_put_str(&b, "SELECT ");
	for (size_t i = 0; i < c->n_cols; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", c->cols[i]);
	if (!c->n_cols)
		buf_put_str(&b, "*");
	buf_printf(&b, " FROM %s", c->table);
	if (t->pk && tr->has_lo)
		buf_printf(&b, " WHERE %s > %lld", t->pk, (long long)tr->lo);
	if (t->pk && tr->has_hi)
		buf_printf(&b, " %s %s <= %lld", tr->has_lo ? "AND" : "WHERE", t->pk,
		           (long long)tr->hi);
	buf_put_u8(&b, 0);
	return (char *)buf_detach(&b, NULL);
}

static void range_desc(const struct token_range *tr, char *out, size_t cap)
{
	if (!tr->has_lo && !tr->has_hi)
		snprintf(out, cap, "the whole ring");
	else if (!tr->has_lo)
		snprintf(out, cap, "token range (min, %lld]", (long long)tr->hi);
	else if (!tr->has_hi)
		snprintf(out, cap, "token range (%lld, max]", (long long)tr->lo);
	else
		snprintf(out, cap, "token range (%lld, %lld]", (long long)tr->lo,
		         (long long)tr->hi);
}

static void range_finish(struct xrange *x)
{
	x->done = true;
	free(x->cql);
	x->cql = NULL;
	free(x->state);
	x->state = NULL;
}

/* A page failed with `why`: ask again later from the next replica, or give the range up. */
static void range_failed(struct xrange *x, const char *why)
{
	struct to *t = x->t;
	char d[96];
	range_desc(x->tr, d, sizeof(d));
	x->attempts++;
	if (x->attempts >= (unsigned)t->c->maxattempts) {
		shell_printerr(t->sh, "Error for COPY TO %s: %s failed %u times, giving up: %s",
		               t->c->table, d, x->attempts, why);
		t->failed++;
		range_finish(x);
		return;
	}
	if (t->printed++ < COPY_TO_MAX_PRINTED)
		fprintf(stderr, "Error for COPY TO %s: %s: %s, will retry, attempt %u of %lld\n",
		        t->c->table, d, why, x->attempts + 1, (long long)t->c->maxattempts);
	int64_t delay = (int64_t)RETRY_BASE_US << (x->attempts - 1 < 5 ? x->attempts - 1 : 5);
	x->retry_at_us = clock_mono_us() + (delay < RETRY_MAX_US ? delay : RETRY_MAX_US);
	x->queued = true;
	t->waiting++;
}

/* Errors that another try cannot cure (the statement itself is wrong). */
static bool error_is_final(uint32_t code)
{
	return code == 0x2000 || code == 0x2100 || code == 0x2200 || code == 0x2300 ||
	       code == 0x2400 || code == 0x000A || code == 0x0100;
}

static int range_send(struct xrange *x);

/* Rows of one page into the file; false when the export must stop. */
static bool write_page(struct to *t, const struct cqlresult *r)
{
	const struct copy_cmd *c = t->c;
	if (!t->header_done && c->header) {
		for (uint32_t i = 0; i < r->meta.n_cols; i++) {
			if (i)
				buf_put_u8(&t->out, (uint8_t)c->csv.delim);
			const char *nm = r->meta.cols[i].name;
			csv_put_field(&t->out, nm, strlen(nm), &c->csv, false);
		}
		buf_put_u8(&t->out, '\n');
	}
	t->header_done = true;
	for (uint32_t i = 0; i < r->n_rows && (c->maxrows < 0 || t->rows < c->maxrows);
	     i++, t->rows++)
		put_row(&t->out, r, i, c, &t->tmp);
	if (t->out.len && fwrite(t->out.data, 1, t->out.len, t->f) != t->out.len) {
		shell_printerr(t->sh, "Error for COPY TO %s: cannot write %s: %s", c->table,
		               c->file, strerror(errno));
		return false;
	}
	buf_reset(&t->out);
	return true;
}

static void on_page(struct cqlconn *conn, void *arg, int status, struct cqlresult *res,
                    const char *why)
{
	(void)conn;
	struct xrange *x = arg;
	struct to *t = x->t;
	t->inflight--;
	if (t->fatal || t->stop) {
		cqlresult_free(res);
		range_finish(x);
		return;
	}
	if (status != COL_OK) {
		range_failed(x, why && *why ? why : col_strerror(status));
		return;
	}
	if (res->kind != CQLRES_ROWS) {
		struct buf e;
		buf_init(&e);
		if (res->kind == CQLRES_ERROR)
			cqlfmt_error(&e, &res->error);
		else
			buf_put_str(&e, "unexpected answer");
		buf_put_u8(&e, 0);
		bool final = res->kind != CQLRES_ERROR || error_is_final(res->error.code);
		if (final) {
			shell_printerr(t->sh, "%s", e.data ? (char *)e.data : "out of memory");
			t->fatal = true;
			range_finish(x);
		} else {
			range_failed(x, e.data ? (char *)e.data : "out of memory");
		}
		buf_release(&e);
		cqlresult_free(res);
		return;
	}
	if (!write_page(t, res)) {
		t->fatal = true;
		cqlresult_free(res);
		range_finish(x);
		return;
	}
	x->attempts = 0;
	free(x->state);
	x->state = NULL;
	bool more = (res->meta.flags & CQL_ROWS_HAS_MORE_PAGES) && res->meta.paging_state &&
	            (t->c->maxrows < 0 || t->rows < t->c->maxrows);
	if (more) {
		x->state_len = res->meta.paging_state_len;
		x->state = malloc((size_t)x->state_len + 1);
		if (x->state)
			memcpy(x->state, res->meta.paging_state, (size_t)x->state_len);
	}
	cqlresult_free(res);
	if (!more) {
		t->ok++;
		range_finish(x);
	} else if (!x->state)
		range_failed(x, "out of memory");
	else if (range_send(x) != COL_OK)
		range_failed(x, "cannot send the next page");
}

/* Send the range's next page to one of its replicas. */
static int range_send(struct xrange *x)
{
	struct to *t = x->t;
	if (!x->cql && !(x->cql = range_text(t, x->tr)))
		return COL_ENOMEM;
	struct cqlconn *conn = copy_conns_pick(&t->cc, x->tr->reps, x->tr->n_reps, x->attempts);
	if (!conn)
		return COL_ECLOSED;
	struct cql_qparams p;
	cql_qparams_init(&p);
	p.consistency = t->sh->consistency;
	p.page_size = (int32_t)t->c->pagesize;
	p.paging_state = x->state;
	p.paging_state_len = x->state ? x->state_len : -1;
	int rc = cqlconn_query(conn, x->cql, strlen(x->cql), &p, on_page, x);
	if (rc == COL_OK) {
		t->inflight++;
		cqlconn_flush(conn);
	}
	return rc;
}

/* Start new ranges and due retries, NUMPROCESSES at most in flight. */
static void launch(struct to *t)
{
	int64_t now = clock_mono_us();
	for (size_t i = 0; t->waiting && i < t->next; i++) {
		struct xrange *x = &t->r[i];
		if (!x->queued || x->retry_at_us > now || t->inflight >= (size_t)t->c->numprocesses)
			continue;
		x->queued = false;
		t->waiting--;
		int rc = range_send(x);
		if (rc != COL_OK)
			range_failed(x, rc == COL_ECLOSED ? "no node reachable" : col_strerror(rc));
	}
	while (t->next < t->n_r && t->inflight + t->waiting < (size_t)t->c->numprocesses &&
	       (t->c->maxrows < 0 || t->rows < t->c->maxrows)) {
		struct xrange *x = &t->r[t->next++];
		int rc = range_send(x);
		if (rc != COL_OK)
			range_failed(x, rc == COL_ECLOSED ? "no node reachable" : col_strerror(rc));
	}
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
}

static void export_loop(struct to *t)
{
	ev_timer tick;
	ev_timer_init(&tick, on_tick, 0.05, 0.05);
	ev_timer_start(t->cc.loop, &tick);
	for (;;) {
		if (!t->fatal && !t->stop)
			launch(t);
		bool maxed = t->c->maxrows >= 0 && t->rows >= t->c->maxrows;
		if (t->inflight == 0 &&
		    (t->fatal || t->stop || maxed || (t->next == t->n_r && t->waiting == 0)))
			break;
		ev_run(t->cc.loop, EVRUN_ONCE);
		if (t->sh->interrupt && *t->sh->interrupt)
			t->stop = true;
		progress_tick(t, false);
	}
	ev_timer_stop(t->cc.loop, &tick);
}

static void summary(struct to *t, int64_t t0)
{
	progress_tick(t, true);
	if (t->sh->tty)
		putchar('\n');
	if (t->failed)
		shell_printerr(t->sh,
		               "Exported %zu ranges out of %zu total ranges, some records might be "
		               "missing",
		               t->ok, t->n_r);
	char iv[64];
	copy_describe_interval((double)(clock_mono_us() - t0) / 1e6, iv, sizeof(iv));
	printf("%lld rows exported to 1 files in %s.\n", (long long)t->rows, iv);
}

void copy_to_run(struct shell *sh, struct copy_cmd *c)
{
	struct to t = {.sh = sh, .c = c};
	buf_init(&t.out);
	buf_init(&t.tmp);
	int64_t t0 = clock_mono_us();
	t.f = fopen(c->file, "w");
	if (!t.f) {
		shell_printerr(sh, "Error for COPY TO %s: cannot open %s: %s", c->table, c->file,
		               strerror(errno));
		return;
	}
	if (copy_conns_open(sh, c, &t.cc, 1024) == 0) {
		t.pk = t.cc.map.n_ranges > 1 ? token_expr(sh, c) : NULL;
		static const struct token_range whole = {0};
		size_t n = t.pk ? t.cc.map.n_ranges : 1;
		t.r = calloc(n, sizeof(*t.r));
		for (size_t i = 0; t.r && i < n; i++) {
			t.r[i].t = &t;
			t.r[i].tr = t.pk ? &t.cc.map.ranges[i] : &whole;
		}
		t.n_r = t.r ? n : 0;
		if (!t.r)
			shell_printerr(sh, "Error for COPY TO %s: out of memory", c->table);
		t.start_us = t.last_us = clock_mono_us();
		export_loop(&t);
		for (size_t i = 0; i < t.n_r; i++)
			range_finish(&t.r[i]);
	} else {
		t.fatal = true;
	}
	copy_conns_close(&t.cc);
	if (fclose(t.f) != 0 && !t.fatal) {
		shell_printerr(sh, "Error for COPY TO %s: cannot write %s: %s", c->table, c->file,
		               strerror(errno));
		t.fatal = true;
	}
	if (!t.fatal && t.r)
		summary(&t, t0);
	free(t.r);
	free(t.pk);
	buf_release(&t.out);
	buf_release(&t.tmp);
}
