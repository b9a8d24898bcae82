/*
 * copy_from.c — COPY FROM: CSV records to prepared INSERTs, many in flight,
 * each sent to a replica of its row.
 *
 * One connection per node (copy_conns.c, on a private libev loop) carries the
 * INSERTs: the statement is prepared on each, each record becomes one EXECUTE
 * with its values bound, up to MAXREQUESTS in flight, and no more than
 * INGESTRATE rows per second are sent.  Routing is token-aware, as the
 * drivers do it: the partition key's values (the PREPARED result's pk
 * indexes) give the row's Murmur3 token, the token map its replicas, and the
 * EXECUTE goes to the first replica that is connected, so the coordinator
 * holds a copy and saves a hop.  A row whose INSERT fails (server error,
 * timeout, lost connection) is reported and sent again, to its next replica,
 * up to MAXATTEMPTS times in all; then it counts as an insert error.  A record that does not parse
 * (CSV error, wrong field count, a value that does not fit its column's type) counts as a parse
 * error.  Both kinds go, as their CSV text, to the error file (ERRFILE, default
 * import_<ks>_<table>.err) and are reported on stderr with the line of the input; past
 * MAXPARSEERRORS / MAXINSERTERRORS (-1: unlimited) the import stops.
 */
#include "cli/cqlish/copy.h"

#include "cli/lib/cqlfmt.h"
#include "cli/lib/cqltext.h"
#include "core/clock.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Rows whose failure is printed on stderr; later ones only go to the error file. */
#define COPY_MAX_PRINTED_ERRORS 50

struct from;

struct slot {
	struct from *cf;
	struct buf vals;
	struct cql_slice *sl;
	struct buf raw;
	size_t line;
	int attempts;
	struct cqlconn *conn; /* where it was sent last */
	struct slot *next_free;
};

struct from {
	struct shell *sh;
	struct copy_cmd *c;
	struct copy_conns cc;
	struct cqlprepared *ps;
	bool ready_done;
	int ready_status;
	char why[CERR_MSG_MAX];
	struct cqlresult *prep_res;

	struct slot *slots, *free_list;
	unsigned inflight;
	uint64_t done, parse_errors, insert_errors, printed, retries;
	FILE *errf;
	char *errpath;
	bool stop;
};

static void on_prepared(struct cqlconn *c, void *arg, int status, struct cqlresult *res,
                        const char *why)
{
	(void)c;
	struct from *f = arg;
	f->ready_done = true;
	f->ready_status = status;
	f->prep_res = res;
	snprintf(f->why, sizeof(f->why), "%s", why ? why : "");
}

static void record_failure(struct from *f, const char *raw, size_t raw_len, size_t line,
                           const char *kind, const char *why)
{
	if (!f->errf && f->errpath) {
		f->errf = fopen(f->errpath, "w");
		if (!f->errf)
			shell_printerr(f->sh, "Cannot open error file %s: %s", f->errpath,
			               strerror(errno));
		free(f->errpath);
		f->errpath = NULL;
	}
	if (f->errf) {
		fwrite(raw, 1, raw_len, f->errf);
		fputc('\n', f->errf);
	}
	if (f->printed++ < COPY_MAX_PRINTED_ERRORS)
		shell_printerr(f->sh, "Failed to import row at line %zu of %s: %s - %s", line,
		               f->c->file, kind, why);
}

static void check_limits(struct from *f)
{
	const struct copy_cmd *c = f->c;
	if (c->maxparseerrors >= 0 && f->parse_errors > (uint64_t)c->maxparseerrors) {
		shell_printerr(f->sh, "Exceeded maximum number of parse errors %lld",
		               (long long)c->maxparseerrors);
		f->stop = true;
	}
	if (c->maxinserterrors >= 0 && f->insert_errors > (uint64_t)c->maxinserterrors) {
		shell_printerr(f->sh, "Exceeded maximum number of insert errors %lld",
		               (long long)c->maxinserterrors);
		f->stop = true;
	}
}

static int send_slot(struct from *f, struct slot *s);

static void slot_release(struct from *f, struct slot *s)
{
	s->next_free = f->free_list;
	f->free_list = s;
	f->inflight--;
}

static void on_inserted(struct cqlconn *c, void *arg, int status, struct cqlresult *res,
                        const char *why)
{
	(void)c;
	struct slot *s = arg;
	struct from *f = s->cf;
	char msg[CERR_MSG_MAX];
	if (status == COL_OK && res->kind != CQLRES_ERROR) {
		cqlresult_free(res);
		f->done++;
		slot_release(f, s);
		return;
	}
	if (status == COL_OK) {
		struct buf e;
		buf_init(&e);
		cqlfmt_error(&e, &res->error);
		snprintf(msg, sizeof(msg), "%.*s", (int)e.len, e.data ? (char *)e.data : "");
		buf_release(&e);
		cqlresult_free(res);
	} else {
		snprintf(msg, sizeof(msg), "%s", why ? why : col_strerror(status));
	}
	if (++s->attempts < f->c->maxattempts && !f->stop) {
		if (f->retries++ < COPY_MAX_PRINTED_ERRORS)
			fprintf(stderr,
			        "Failed to import 1 rows (line %zu of %s): %s, will retry, "
			        "attempt %d of %lld\n",
			        s->line, f->c->file, msg, s->attempts + 1,
			        (long long)f->c->maxattempts);
		if (send_slot(f, s) == COL_OK)
			return;
	}
	f->insert_errors++;
	record_failure(f, (const char *)s->raw.data, s->raw.len, s->line, "InsertError", msg);
	check_limits(f);
	slot_release(f, s);
}

/* The EXECUTE of s to its row's replica (the next one on each retry). */
static int send_slot(struct from *f, struct slot *s)
{
	const struct cqlresult *pr = f->ps->prepared;
	size_t n_reps = 0;
	const uint32_t *reps = NULL;
	int64_t token;
	if (tokenmap_key_token(s->sl, pr->pk_indexes, pr->n_pk_indexes, &token))
		reps = tokenmap_replicas(&f->cc.map, token, &n_reps);
	struct cqlconn *conn = copy_conns_pick(&f->cc, reps, n_reps, (unsigned)s->attempts);
	if (!conn)
		return COL_ECLOSED;
	s->conn = conn;
	struct cql_qparams p;
	cql_qparams_init(&p);
	p.consistency = f->sh->consistency;
	p.values = s->sl;
	p.n_values = (uint16_t)pr->bind_meta.n_cols;
	return cqlconn_execute(conn, f->ps, &p, on_inserted, s);
}

/* Record -> bound values of s; 0 or a message in err. */
static int bind_record(struct from *f, const struct csv_reader *r, struct slot *s, struct cerr *err)
{
	const struct cql_rows_meta *bm = &f->ps->prepared->bind_meta;
	if (r->n_fields != bm->n_cols)
		return cerr_set(err, COL_EINVAL, "expected %u fields, got %zu", bm->n_cols,
		                r->n_fields);
	buf_reset(&s->vals);
	size_t nl = strlen(f->c->null_str);
	/* p holds the value's offset in vals until vals stops growing */
	for (size_t i = 0; i < r->n_fields; i++) {
		const struct csv_field *fd = &r->fields[i];
		const char *txt = (const char *)r->data.data + fd->off;
		if (!fd->quoted && fd->len == nl &&
		    (nl == 0 || memcmp(txt, f->c->null_str, nl) == 0)) {
			s->sl[i].len = -1;
			continue;
		}
		size_t at = s->vals.len;
		if (fd->len > 0) {
			int rc = cqltext_parse(bm->cols[i].type, txt, fd->len, &s->vals, err);
			if (rc)
				return cerr_prefix(err, "column %s", bm->cols[i].name), rc;
		}
		s->sl[i].len = (int32_t)(s->vals.len - at);
		s->sl[i].p = (const uint8_t *)(uintptr_t)at;
	}
	if (!buf_ok(&s->vals))
		return cerr_set(err, COL_ENOMEM, "out of memory");
	for (size_t i = 0; i < r->n_fields; i++)
		if (s->sl[i].len >= 0)
			s->sl[i].p = s->vals.data ? s->vals.data + (uintptr_t)s->sl[i].p
			                          : (const uint8_t *)"";
	return 0;
}

/* Prepare the INSERT on connection `conn`; 0 or the error printed. */
static int prepare_on(struct from *f, struct cqlconn *conn, const char *insert,
                      struct cqlresult **out)
{
	struct shell *sh = f->sh;
	f->ready_done = false;
	f->prep_res = NULL;
	if (cqlconn_prepare(conn, insert, strlen(insert), on_prepared, f) != COL_OK) {
		shell_printerr(sh, "Error for COPY FROM %s: cannot prepare on %s: %s", f->c->table,
		               cqlconn_peer(conn), cqlconn_failure(conn));
		return -1;
	}
	while (!f->ready_done)
		ev_run(f->cc.loop, EVRUN_ONCE);
	if (f->ready_status != COL_OK || !f->prep_res || f->prep_res->kind != CQLRES_PREPARED) {
		struct buf e;
		buf_init(&e);
		if (f->prep_res && f->prep_res->kind == CQLRES_ERROR)
			cqlfmt_error(&e, &f->prep_res->error);
		else
			buf_put_str(&e, f->why);
		buf_put_u8(&e, 0);
		shell_printerr(sh, "%s", (char *)e.data);
		buf_release(&e);
		cqlresult_free(f->prep_res);
		return -1;
	}
	*out = f->prep_res;
	return 0;
}

/* Open the connections and prepare the INSERT on each; 0 or the error printed. */
static int from_open(struct from *f, const char *insert)
{
	struct shell *sh = f->sh;
	struct cerr err = {0};
	if (copy_conns_open(sh, f->c, &f->cc, (unsigned)f->c->maxrequests) != 0)
		return -1;
	struct cqlresult *res;
	if (prepare_on(f, f->cc.conn[0], insert, &res) != 0)
		return -1;
	if (cqlprepared_new(insert, strlen(insert), res, &f->ps, &err) != 0) {
		cqlresult_free(res);
		shell_printerr(sh, "Error for COPY FROM %s: %s", f->c->table, err.msg);
		return -1;
	}
	/* The other nodes: the same id (a hash of keyspace and text), prepared ahead so
	 * the first EXECUTEs there are not answered Unprepared. */
	for (size_t i = 1; i < f->cc.map.n_nodes; i++) {
		if (!f->cc.conn[i])
			continue;
		if (prepare_on(f, f->cc.conn[i], insert, &res) != 0)
			return -1;
		cqlresult_free(res);
	}
	return 0;
}

/* Column names of the table in SELECT * order (when COPY names none). */
static int table_columns(struct shell *sh, struct copy_cmd *c)
{
	char q[1024];
	snprintf(q, sizeof(q), "SELECT * FROM %s LIMIT 1", c->table);
	struct cqlresult *r = shell_select(sh, q, true);
	if (!r)
		return -1;
	c->cols = calloc(r->meta.n_cols ? r->meta.n_cols : 1, sizeof(char *));
	for (uint32_t i = 0; c->cols && i < r->meta.n_cols; i++) {
		struct buf b;
		buf_init(&b);
		cql_quote_name(&b, r->meta.cols[i].name, cqlfmt_is_reserved);
		buf_put_u8(&b, 0);
		c->cols[c->n_cols++] = (char *)buf_detach(&b, NULL);
	}
	cqlresult_free(r);
	return c->cols ? 0 : -1;
}

static char *insert_text(const struct copy_cmd *c)
{
	struct buf b;
	buf_init(&b);
	buf_printf(&b, "INSERT INTO %s (", c->table);
	for (size_t i = 0; i < c->n_cols; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", c->cols[i]);
	buf_put_str(&b, ") VALUES (");
	for (size_t i = 0; i < c->n_cols; i++)
		buf_put_str(&b, i ? ", ?" : "?");
	buf_put_str(&b, ")");
	buf_put_u8(&b, 0);
	return (char *)buf_detach(&b, NULL);
}

struct meter {
	int64_t start_us, last_us;
	uint64_t last_n;
};

static void meter_tick(struct from *f, struct meter *m, bool force)
{
	int64_t now = clock_mono_us();
	if (!force && now - m->last_us < 1000000)
		return;
	double dt = (double)(now - m->last_us) / 1e6, all = (double)(now - m->start_us) / 1e6;
	uint64_t n = f->done;
	copy_progress(f->sh->tty, n, dt > 0 ? (double)(n - m->last_n) / dt : 0,
	              all > 0 ? (double)n / all : 0);
	m->last_us = now;
	m->last_n = n;
}

/* Read one record into a free slot and send it; false at the end of the input. */
static bool feed_one(struct from *f, struct csv_reader *r)
{
	struct cerr err = {0};
	int rc = csv_read(r, &err);
	if (rc == 0)
		return false;
	struct slot *s = f->free_list;
	f->free_list = s->next_free;
	f->inflight++;
	if (rc > 0)
		rc = bind_record(f, r, s, &err);
	if (rc < 0) {
		f->parse_errors++;
		record_failure(f, (const char *)r->raw.data, r->raw.len, r->rec_line, "ParseError",
		               err.msg);
		check_limits(f);
		slot_release(f, s);
		return rc != COL_ENOMEM;
	}
	buf_reset(&s->raw);
	buf_put(&s->raw, r->raw.data, r->raw.len);
	s->line = r->rec_line;
	s->attempts = 0;
	s->conn = NULL;
	rc = send_slot(f, s);
	if (rc != COL_OK) {
		f->insert_errors++;
		const char *why = rc == COL_ECLOSED ? "no node reachable" : col_strerror(rc);
		if (rc != COL_ECLOSED && s->conn && *cqlconn_failure(s->conn))
			why = cqlconn_failure(s->conn);
		record_failure(f, (const char *)s->raw.data, s->raw.len, s->line, "InsertError",
		               why);
		check_limits(f);
		slot_release(f, s);
		if (rc == COL_ECLOSED)
			f->stop = true;
	}
	return true;
}

/* The import loop; rows read (excluding the header). */
static uint64_t import_loop(struct from *f, FILE *in)
{
	struct csv_reader r;
	csv_reader_file(&r, in, &f->c->csv);
	struct cerr err = {0};
	if (f->c->header && csv_read(&r, &err) < 0)
		shell_printerr(f->sh, "%s: header: %s", f->c->file, err.msg);
	struct meter m = {.start_us = clock_mono_us()};
	m.last_us = m.start_us;
	uint64_t sent = 0;
	bool eof = false;
	while (!f->stop && (!eof || f->inflight)) {
		double secs = (double)(clock_mono_us() - m.start_us) / 1e6;
		bool throttled = (double)sent >= (double)f->c->ingestrate * (secs + 0.05);
		while (!eof && !f->stop && !throttled && f->free_list &&
		       (f->c->maxrows < 0 || sent < (uint64_t)f->c->maxrows)) {
			eof = !feed_one(f, &r);
			if (!eof)
				sent++;
			throttled = (double)sent >= (double)f->c->ingestrate * (secs + 0.05);
		}
		if (f->c->maxrows >= 0 && sent >= (uint64_t)f->c->maxrows)
			eof = true;
		for (size_t i = 0; i < f->cc.map.n_nodes; i++)
			if (f->cc.conn[i])
				cqlconn_flush(f->cc.conn[i]);
		if (f->inflight)
			ev_run(f->cc.loop, EVRUN_ONCE);
		else if (throttled)
			usleep(2000);
		if (f->sh->interrupt && *f->sh->interrupt)
			f->stop = true;
		meter_tick(f, &m, false);
	}
	while (f->inflight) /* after a stop: let what was sent finish */
		ev_run(f->cc.loop, EVRUN_ONCE);
	meter_tick(f, &m, true);
	if (f->sh->tty)
		putchar('\n');
	csv_reader_release(&r);
	return sent;
}

static void from_free(struct from *f)
{
	copy_conns_close(&f->cc);
	cqlprepared_free(f->ps);
	for (int64_t i = 0; f->slots && i < f->c->maxrequests; i++) {
		buf_release(&f->slots[i].vals);
		buf_release(&f->slots[i].raw);
		free(f->slots[i].sl);
	}
	free(f->slots);
	if (f->errf)
		fclose(f->errf);
	free(f->errpath);
}

static int slots_init(struct from *f)
{
	size_t n = (size_t)f->c->maxrequests;
	f->slots = calloc(n, sizeof(*f->slots));
	if (!f->slots)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct slot *s = &f->slots[i];
		s->cf = f;
		buf_init(&s->vals);
		buf_init(&s->raw);
		s->sl = calloc(f->c->n_cols ? f->c->n_cols : 1, sizeof(*s->sl));
		if (!s->sl)
			return -1;
		s->next_free = f->free_list;
		f->free_list = s;
	}
	return 0;
}

void copy_from_run(struct shell *sh, struct copy_cmd *c)
{
	if (!c->n_cols && table_columns(sh, c) != 0)
		return;
	FILE *in = fopen(c->file, "r");
	if (!in) {
		shell_printerr(sh, "Error for COPY FROM %s: cannot open %s: %s", c->table, c->file,
		               strerror(errno));
		return;
	}
	struct from f = {.sh = sh, .c = c};
	char ep[512];
	snprintf(ep, sizeof(ep), "import_%s_%s.err", c->ks, c->t);
	f.errpath = strdup(c->errfile ? c->errfile : ep);
	char *insert = insert_text(c);
	int64_t t0 = clock_mono_us();
	if (insert && slots_init(&f) == 0 && from_open(&f, insert) == 0) {
		if (f.ps->prepared->bind_meta.n_cols != c->n_cols) {
			shell_printerr(sh,
			               "Error for COPY FROM %s: the INSERT binds %u values for %zu "
			               "columns",
			               c->table, f.ps->prepared->bind_meta.n_cols, c->n_cols);
		} else {
			uint64_t sent = import_loop(&f, in);
			(void)sent;
			char iv[64];
			copy_describe_interval((double)(clock_mono_us() - t0) / 1e6, iv,
			                       sizeof(iv));
			printf("%llu rows imported from 1 files in %s (%llu skipped).\n",
			       (unsigned long long)f.done, iv,
			       (unsigned long long)(f.parse_errors + f.insert_errors));
		}
	}
	fclose(in);
	free(insert);
	from_free(&f);
}
