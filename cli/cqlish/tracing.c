/*
 * tracing.c — TRACING ON's output: a statement's trace read back from
 * system_traces and printed as cqlsh 6 prints it (pylib/cqlshlib/tracing.py):
 *
 *   <empty line>
 *   Tracing session: 1c5a9f2e-...
 *   <empty line>
 *    activity                  | timestamp                  | source    | source_elapsed | client
 *   ---------------------------+----------------------------+-----------+----------------+---------
 *          Execute CQL3 query  | 2026-12-06 14:31:38.620000 | 10.0.0.1  |              0 | 10.0.0.9
 *    ...one row per event (its time from event_id, local time)...
 *            Request complete  | 2026-12-06 14:31:38.620114 | 10.0.0.1  |            114 | 10.0.0.9
 *   <empty line>
 *
 * The session row is polled until its duration is set (as the drivers do), for at
 * most TRACE_WAIT_MS; past that cqlsh's warning is printed and what is there is shown.
 * Timestamps are Python's str(datetime) in local time: no fraction when it is zero.
 */
#include "cli/cqlish/shell.h"
#include "cli/lib/cqlfmt.h"
#include "core/hex.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TRACE_WAIT_MS 10000

/* 100 ns intervals between 1582-10-15 and 1970-01-01. */
#define UUID_EPOCH_OFFSET 0x01b21dd213814000ULL

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Python's str() of a local datetime of `us` µs since the epoch. */
static void put_local_time(struct buf *out, int64_t us)
{
	time_t s = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
	int64_t frac = us - (int64_t)s * 1000000;
	struct tm tm;
	localtime_r(&s, &tm);
	buf_printf(out, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
	           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (frac)
		buf_printf(out, ".%06lld", (long long)frac);
}

/* µs since the epoch of a version 1 uuid. */
static int64_t timeuuid_us(const uint8_t *u)
{
	uint64_t t = ((uint64_t)(be16_load(u + 6) & 0x0fff) << 48) |
	             ((uint64_t)be16_load(u + 4) << 32) | be32_load(u);
	return ((int64_t)t - (int64_t)UUID_EPOCH_OFFSET) / 10;
}

static int64_t cell_i64(const struct cql_slice *c)
{
	if (c->len == 8)
		return (int64_t)be64_load(c->p);
	if (c->len == 4)
		return (int32_t)be32_load(c->p);
	return 0;
}

/* A cell as text ("" for null) appended to b, NUL-terminated; returns its offset. */
static size_t put_cell(struct buf *b, const struct cqlresult *r, uint32_t row, uint32_t col)
{
	size_t at = b->len;
	const struct cql_slice *c = cqlresult_cell(r, row, col);
	if (c->len > 0)
		cqlfmt_value(b, r->meta.cols[col].type, c);
	buf_put_u8(b, 0);
	return at;
}

/* The table: rows of 5 text cells (offsets into text), through cqlfmt as a Rows result. */
static void print_table(struct shell *sh, const struct buf *text, const size_t *cells,
                        uint32_t n_rows, struct buf *out)
{
	static const char *names[5] = {"activity", "timestamp", "source", "source_elapsed",
	                               "client"};
	const struct cqltype *ttext = NULL;
	struct cerr e = {0};
	if (cqltype_parse("text", 4, &ttext, &e) != 0)
		return;
	struct cql_column cols[5];
	for (int i = 0; i < 5; i++)
		cols[i] = (struct cql_column){.name = (char *)names[i], .type = ttext};
	struct cql_slice *sl = calloc((size_t)n_rows * 5 + 1, sizeof(*sl));
	if (sl) {
		for (size_t i = 0; i < (size_t)n_rows * 5; i++) {
			const char *s = (const char *)text->data + cells[i];
			sl[i] = (struct cql_slice){.p = (const uint8_t *)s,
			                           .len = (int32_t)strlen(s)};
		}
		struct cqlresult res = {.kind = CQLRES_ROWS, .n_rows = n_rows, .cells = sl};
		res.meta.n_cols = 5;
		res.meta.cols = cols;
		res.meta.paging_state_len = -1;
		struct cqlfmt_opts o = {.color = sh->color, .tty = sh->tty};
		cqlfmt_rows(out, &res, &o, true, 0);
		free(sl);
	}
	cqltype_free(ttext);
}

/* Poll the session row until its duration is set (wait), or read it once: the row (to
 * free), or NULL. */
static struct cqlresult *wait_session(struct shell *sh, const char *sid, bool wait, bool *complete)
{
	char q[256];
	snprintf(q, sizeof(q),
	         "SELECT request, started_at, coordinator, duration, client FROM "
	         "system_traces.sessions WHERE session_id = %s",
	         sid);
	int64_t deadline = mono_ms() + TRACE_WAIT_MS;
	long sleep_ms = 3;
	*complete = false;
	for (;;) {
		struct cqlresult *r = shell_select(sh, q, true);
		if (!r)
			return NULL;
		if (r->n_rows == 1 && cqlresult_cell(r, 0, 3)->len == 4 &&
		    cqlresult_cell(r, 0, 1)->len == 8) {
			*complete = true;
			return r;
		}
		if (!wait || mono_ms() >= deadline)
			return r;
		cqlresult_free(r);
		struct timespec ts = {.tv_sec = 0, .tv_nsec = sleep_ms * 1000000L};
		nanosleep(&ts, NULL);
		if (sleep_ms < 200)
			sleep_ms *= 2;
	}
}

void shell_print_trace(struct shell *sh, const uint8_t id[16], bool wait)
{
	char sid[UUID_TEXT_LEN + 1];
	uuid_format(id, sid);
	bool complete;
	struct cqlresult *ses = wait_session(sh, sid, wait, &complete);
	struct cqlresult *ev = NULL;
	struct buf out;
	buf_init(&out);
	if (ses && ses->n_rows == 0 && !wait) {
		shell_printerr(sh, "Session %s wasn't found.", sid);
		goto out;
	}
	if (!complete && wait)
		buf_printf(
		        &out,
		        "%sStatement trace did not complete within %d seconds; trace data may be "
		        "incomplete.%s\n",
		        sh->color ? CQLFMT_RED : "", TRACE_WAIT_MS / 1000,
		        sh->color ? CQLFMT_RESET : "");
	char q[256];
	snprintf(q, sizeof(q),
	         "SELECT activity, event_id, source, source_elapsed FROM system_traces.events "
	         "WHERE session_id = %s",
	         sid);
	ev = ses ? shell_select(sh, q, true) : NULL;
	if (!ses || !ev || ses->n_rows == 0 || ev->n_rows == 0) {
		if (ses && ev)
			shell_printerr(sh, "No rows for session %s found.", sid);
		goto out;
	}
	struct buf text;
	buf_init(&text);
	uint32_t n_rows = ev->n_rows + 2;
	size_t *cells = calloc((size_t)n_rows * 5, sizeof(*cells));
	if (!cells) {
		buf_release(&text);
		goto out;
	}
	int64_t started_us = cell_i64(cqlresult_cell(ses, 0, 1)) * 1000;
	int64_t dur_us = cell_i64(cqlresult_cell(ses, 0, 3));
	size_t client = put_cell(&text, ses, 0, 4), coord = put_cell(&text, ses, 0, 2);
	/* the first row: the request, at its start, elapsed 0 */
	cells[0] = put_cell(&text, ses, 0, 0);
	cells[1] = text.len;
	put_local_time(&text, started_us);
	buf_put_u8(&text, 0);
	cells[2] = coord;
	cells[3] = text.len;
	buf_put_str(&text, "0");
	buf_put_u8(&text, 0);
	cells[4] = client;
	for (uint32_t i = 0; i < ev->n_rows; i++) {
		size_t *c = &cells[(size_t)(i + 1) * 5];
		c[0] = put_cell(&text, ev, i, 0);
		c[1] = text.len;
		const struct cql_slice *eid = cqlresult_cell(ev, i, 1);
		if (eid->len == 16)
			put_local_time(&text, timeuuid_us(eid->p));
		buf_put_u8(&text, 0);
		c[2] = put_cell(&text, ev, i, 2);
		c[3] = text.len;
		if (cqlresult_cell(ev, i, 3)->len == 4)
			buf_printf(&text, "%lld", (long long)cell_i64(cqlresult_cell(ev, i, 3)));
		else
			buf_put_str(&text, "--");
		buf_put_u8(&text, 0);
		c[4] = client;
	}
	/* the last row: the request complete, at start + duration */
	size_t *c = &cells[(size_t)(n_rows - 1) * 5];
	c[0] = text.len;
	buf_put_str(&text, "Request complete");
	buf_put_u8(&text, 0);
	c[1] = text.len;
	if (complete)
		put_local_time(&text, started_us + dur_us);
	else
		buf_put_str(&text, "--");
	buf_put_u8(&text, 0);
	c[2] = coord;
	c[3] = text.len;
	if (complete)
		buf_printf(&text, "%lld", (long long)dur_us);
	else
		buf_put_str(&text, "--");
	buf_put_u8(&text, 0);
	c[4] = client;
	if (buf_ok(&text)) {
		buf_printf(&out, "\n%sTracing session: %s%s\n\n", sh->color ? CQLFMT_MAGENTA : "",
		           sh->color ? CQLFMT_RESET : "", sid);
		print_table(sh, &text, cells, n_rows, &out);
		buf_put_u8(&out, '\n');
	}
	free(cells);
	buf_release(&text);
out:
	if (out.len) {
		fwrite(out.data, 1, out.len, sh->capture ? sh->capture : stdout);
		fflush(sh->capture ? sh->capture : stdout);
	}
	buf_release(&out);
	cqlresult_free(ses);
	cqlresult_free(ev);
}
