/*
 * shell.c — cqlish's statement runner and shell commands (cqlsh's Shell);
 * see shell.h.
 */
#include "cli/cqlish/shell.h"
#include "cli/cqlish/copy.h"

#include "cli/lib/cqlfmt.h"
#include "core/hex.h"
#include "cli/lib/cqlsplit.h"
#include "core/clock.h"
#include "core/cqlproto.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* Shell output (messages of shell commands): always the terminal. */
static void out_buf(struct buf *b)
{
	if (b->len)
		fwrite(b->data, 1, b->len, stdout);
	fflush(stdout);
}

/* Query results: stdout, or the CAPTURE file (cqlsh's query_out). */
static void out_result(struct shell *sh, struct buf *b)
{
	FILE *f = sh->capture ? sh->capture : stdout;
	if (b->len)
		fwrite(b->data, 1, b->len, f);
	fflush(f);
}

void shell_printerr(struct shell *sh, const char *fmt, ...)
{
	if (sh->quiet)
		return;
	sh->error = true;
	char msg[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fflush(stdout);
	bool color = sh->color && isatty(STDERR_FILENO);
	if (color)
		fputs(CQLFMT_RED, stderr);
	if (sh->show_line_nums)
		fprintf(stderr, "%s:%zu:", sh->src_name, sh->lineno);
	fputs(msg, stderr);
	if (color)
		fputs(CQLFMT_RESET, stderr);
	fputc('\n', stderr);
	fflush(stderr);
}

static void print_server_error(struct shell *sh, const struct cql_error_info *e)
{
	struct buf b;
	buf_init(&b);
	cqlfmt_error(&b, e);
	buf_put_u8(&b, 0);
	shell_printerr(sh, "%s", buf_ok(&b) ? (const char *)b.data : "out of memory");
	buf_release(&b);
}

/* A transport failure, named like the python driver's exceptions cqlsh prints. */
static void print_transport_error(struct shell *sh, const struct cerr *err)
{
	if (err->code == COL_ETIMEDOUT)
		shell_printerr(sh,
		               "OperationTimedOut: errors={'%s': 'Client request timeout: %s'}, "
		               "last_host=%s",
		               sh->cl ? cqlclient_peer(sh->cl) : sh->host, err->msg,
		               sh->cl ? cqlclient_peer(sh->cl) : sh->host);
	else
		shell_printerr(sh, "NoHostAvailable: %s", err->msg);
}

static int64_t next_timestamp(struct shell *sh)
{
	int64_t t = clock_wall_us();
	if (t <= sh->last_ts)
		t = sh->last_ts + 1;
	sh->last_ts = t;
	return t;
}

static void qparams(struct shell *sh, struct cql_qparams *p, bool paged)
{
	cql_qparams_init(p);
	p->consistency = sh->consistency;
	p->serial_consistency = sh->serial_consistency;
	p->page_size = paged && sh->paging ? sh->page_size : 0;
	p->timestamp = next_timestamp(sh);
}

static char *dupstr(const char *s)
{
	char *d = strdup(s ? s : "");
	if (!d) {
		fputs("cqlish: out of memory\n", stderr);
		exit(1);
	}
	return d;
}

/* ---- connection ---------------------------------------------------------------------------- */

static char *local_text(struct cqlresult *r, const char *col)
{
	int c = cqlresult_column(r, col);
	if (c < 0 || r->n_rows == 0)
		return NULL;
	return cqlresult_text(r, 0, (uint32_t)c);
}

int shell_connect(struct shell *sh, struct cerr *err)
{
	if (sh->cl) {
		cqlclient_free(sh->cl);
		sh->cl = NULL;
	}
	int rc = cqlclient_connect(sh->host, sh->port, &sh->copts, &sh->cl, err);
	if (rc)
		return rc;
	cqlclient_set_interrupt(sh->cl, sh->interrupt);
	struct cql_qparams p;
	cql_qparams_init(&p);
	struct cqlresult *r = NULL;
	rc = cqlclient_query(sh->cl, "select * from system.local where key = 'local'", &p, &r, err);
	if (rc)
		return rc;
	if (r->kind == CQLRES_ROWS) {
		free(sh->cluster_name);
		free(sh->release_version);
		free(sh->cql_version);
		sh->cluster_name = local_text(r, "cluster_name");
		sh->release_version = local_text(r, "release_version");
		sh->cql_version = local_text(r, "cql_version");
	}
	cqlresult_free(r);
	if (sh->keyspace) {
		struct buf q;
		buf_init(&q);
		buf_put_str(&q, "USE ");
		cqlfmt_quote_name(&q, sh->keyspace);
		buf_put_u8(&q, 0);
		rc = cqlclient_query(sh->cl, (const char *)q.data, &p, &r, err);
		buf_release(&q);
		if (rc)
			return rc;
		if (r->kind == CQLRES_ERROR) {
			struct buf e;
			buf_init(&e);
			cqlfmt_error(&e, &r->error);
			buf_put_u8(&e, 0);
			rc = cerr_set(err, COL_EINVAL, "%s", (const char *)e.data);
			buf_release(&e);
			cqlresult_free(r);
			return rc;
		}
		cqlresult_free(r);
	}
	return COL_OK;
}

void shell_release(struct shell *sh)
{
	if (sh->capture)
		fclose(sh->capture);
	free(sh->capture_path);
	cqlclient_free(sh->cl);
	sh->cl = NULL;
	free(sh->keyspace);
	free(sh->cluster_name);
	free(sh->release_version);
	free(sh->cql_version);
	free(sh->login_user);
	free(sh->login_password);
	for (size_t i = 0; i < sh->n_warned; i++)
		free(sh->warned[i]);
	free(sh->warned);
}

/* Make sure there is a healthy connection; false (error printed) if not. */
static bool ensure_connected(struct shell *sh)
{
	if (sh->cl)
		cqlclient_poll(sh->cl); /* notice a close that happened while we were idle */
	if (sh->cl && cqlconn_ready(cqlclient_conn(sh->cl)))
		return true;
	struct cerr err = {0};
	if (shell_connect(sh, &err) != COL_OK) {
		shell_printerr(sh, "NoHostAvailable: %s", err.msg);
		return false;
	}
	return true;
}

/* Run one request; NULL after printing a transport error. */
static struct cqlresult *request(struct shell *sh, const char *cql, const struct cql_qparams *p)
{
	if (!ensure_connected(sh))
		return NULL;
	struct cqlresult *r = NULL;
	struct cerr err = {0};
	if (cqlclient_query(sh->cl, cql, p, &r, &err) != COL_OK) {
		if (err.code == COL_EAGAIN) { /* Ctrl-C: cqlsh just starts a new line */
			if (!sh->quiet)
				putchar('\n');
		} else {
			print_transport_error(sh, &err);
		}
		return NULL;
	}
	return r;
}

struct cqlresult *shell_query(struct shell *sh, const char *cql)
{
	struct cql_qparams p;
	cql_qparams_init(&p);
	return request(sh, cql, &p);
}

struct cqlresult *shell_select(struct shell *sh, const char *cql, bool report)
{
	struct cql_qparams p;
	cql_qparams_init(&p);
	struct cqlresult *r = request(sh, cql, &p);
	if (!r)
		return NULL;
	if (r->kind != CQLRES_ROWS) {
		if (report && r->kind == CQLRES_ERROR)
			print_server_error(sh, &r->error);
		cqlresult_free(r);
		return NULL;
	}
	return r;
}

/* ---- multi-DC consistency warning ------------------------------------------------------------ */

/*
 * Datacenters a keyspace replicates to (NetworkTopologyStrategy options other
 * than 'class' with a non-zero factor), as "dc1: 3, dc2: 3" in `dcs`.
 */
static int keyspace_dcs(struct shell *sh, const char *ks, struct buf *dcs)
{
	struct buf q;
	buf_init(&q);
	buf_put_str(&q, "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ");
	cqlfmt_quote_string(&q, ks, strlen(ks));
	buf_put_u8(&q, 0);
	struct cqlresult *r = buf_ok(&q) ? shell_select(sh, (const char *)q.data, false) : NULL;
	buf_release(&q);
	if (!r)
		return 0;
	int n = 0;
	if (r->n_rows == 1 && r->meta.n_cols == 1) {
		const struct cql_slice *v = cqlresult_cell(r, 0, 0);
		struct bufreader rd;
		bufreader_init(&rd, v->p, v->len > 0 ? (size_t)v->len : 0);
		int32_t cnt = v->len > 0 ? (int32_t)bufreader_u32be(&rd) : 0;
		bool nts = false;
		struct buf tmp;
		buf_init(&tmp);
		for (int32_t i = 0; i < cnt && bufreader_ok(&rd); i++) {
			uint32_t kl = bufreader_u32be(&rd);
			const uint8_t *k = bufreader_take(&rd, kl);
			uint32_t vl = bufreader_u32be(&rd);
			const uint8_t *val = bufreader_take(&rd, vl);
			if (!k || !val)
				break;
			if (kl == 5 && memcmp(k, "class", 5) == 0) {
				nts = vl >= 23 && memmem(val, vl, "NetworkTopologyStrategy", 23);
				continue;
			}
			if ((kl == 18 && memcmp(k, "replication_factor", 18) == 0) ||
			    (vl == 1 && val[0] == '0'))
				continue;
			if (tmp.len)
				buf_put_str(&tmp, ", ");
			buf_put(&tmp, k, kl);
			buf_put_str(&tmp, ": ");
			buf_put(&tmp, val, vl);
			n++;
		}
		if (nts)
			buf_put(dcs, tmp.data, tmp.len);
		else
			n = 0;
		buf_release(&tmp);
	}
	cqlresult_free(r);
	return n;
}

static void maybe_warn_consistency(struct shell *sh, const char *ks)
{
	const char *lvl = cql_consistency_name(sh->consistency);
	if (!ks || !lvl || strncmp(lvl, "LOCAL_", 6) == 0)
		return;
	struct buf key;
	buf_init(&key);
	buf_printf(&key, "%s\x1f%s", ks, lvl);
	buf_put_u8(&key, 0);
	if (!buf_ok(&key)) {
		buf_release(&key);
		return;
	}
	for (size_t i = 0; i < sh->n_warned; i++)
		if (strcmp(sh->warned[i], (const char *)key.data) == 0) {
			buf_release(&key);
			return;
		}
	struct buf dcs;
	buf_init(&dcs);
	int n = keyspace_dcs(sh, ks, &dcs);
	if (n > 1) {
		buf_put_u8(&dcs, 0);
		fflush(stdout);
		bool strict = sh->consistency == CL_QUORUM || sh->consistency == CL_ALL ||
		              sh->consistency == CL_EACH_QUORUM;
		fprintf(stderr,
		        "Warning: consistency level %s is not local to a datacenter, but keyspace "
		        "'%s' is replicated to %d datacenters (%s); %s. Use LOCAL_QUORUM or "
		        "LOCAL_ONE to stay in the local datacenter.\n",
		        lvl, ks, n, (const char *)dcs.data,
		        strict ? "every request waits on replicas in remote datacenters and fails "
		                 "when a datacenter is cut off"
		               : "requests may be served by replicas in remote datacenters");
		char **nw = realloc(sh->warned, (sh->n_warned + 1) * sizeof(*nw));
		if (nw) {
			sh->warned = nw;
			sh->warned[sh->n_warned++] = dupstr((const char *)key.data);
		}
	}
	buf_release(&dcs);
	buf_release(&key);
}

/* The keyspace a DML statement works on (explicit ks.t or the current one). */
static char *statement_keyspace(const struct shell *sh, const char *s)
{
	size_t len = strlen(s), pos = 0;
	struct cqltok first = cqltok_next(s, len, &pos);
	static const char *const dml[] = {"select", "insert", "update",
	                                  "delete", "begin",  "truncate"};
	bool is_dml = false;
	for (size_t i = 0; i < sizeof(dml) / sizeof(dml[0]); i++)
		is_dml |= cqltok_is(s, &first, dml[i]);
	if (!is_dml)
		return NULL;
	struct cqltok prev = first;
	for (;;) {
		struct cqltok t = cqltok_next(s, len, &pos);
		if (t.kind == CQLTOK_END || t.kind == CQLTOK_UNTERMINATED)
			break;
		bool marker = cqltok_is(s, &prev, "from") || cqltok_is(s, &prev, "into") ||
		              cqltok_is(s, &prev, "update") || cqltok_is(s, &prev, "truncate") ||
		              cqltok_is(s, &prev, "table");
		if (marker && (t.kind == CQLTOK_WORD || t.kind == CQLTOK_QNAME) &&
		    !cqltok_is(s, &t, "table")) {
			struct cqltok dot = cqltok_next(s, len, &pos);
			struct buf name;
			buf_init(&name);
			if (dot.kind == CQLTOK_PUNCT && s[dot.start] == '.')
				cqltok_name(s, &t, &name);
			else if (sh->keyspace)
				buf_put_str(&name, sh->keyspace);
			buf_put_u8(&name, 0);
			char *ks = (buf_ok(&name) && name.data[0]) ? dupstr((const char *)name.data)
			                                           : NULL;
			buf_release(&name);
			return ks;
		}
		prev = t;
	}
	return NULL;
}

/* ---- schema agreement --------------------------------------------------------------------------
 */

/*
 * After DDL wait until system.local and every row of system.peers show the
 * same schema version, like the python driver under cqlsh
 * (max_schema_agreement_wait = 10 s, polled every 200 ms).
 */
#define SCHEMA_AGREEMENT_WAIT_MS 10000
#define SCHEMA_AGREEMENT_POLL_MS 200

/*
 * Is a peer up?  The python driver under cqlsh only waits for hosts it sees
 * up; we ask the peer's CQL port (the shared native port) with a short
 * connect, so a node that is down does not stall every DDL for the full wait.
 */
#define PEER_PROBE_MS 300

static bool peer_alive(const struct cql_slice *inet, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	if (inet->len == 4) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		memcpy(&a->sin_addr, inet->p, 4);
		sl = sizeof(*a);
	} else if (inet->len == 16) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		memcpy(&a->sin6_addr, inet->p, 16);
		sl = sizeof(*a);
	} else {
		return true; /* cannot tell: wait for it */
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return true;
	bool up = false;
	if (connect(fd, (struct sockaddr *)&ss, sl) == 0) {
		up = true;
	} else if (errno == EINPROGRESS) {
		struct pollfd pf = {fd, POLLOUT, 0};
		int soerr = 0;
		socklen_t el = sizeof(soerr);
		if (poll(&pf, 1, PEER_PROBE_MS) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) == 0 && soerr == 0)
			up = true;
	}
	close(fd);
	return up;
}

/* 1 agreed, 0 not yet, -1 cannot tell (query failed). */
static int schema_agreed(struct shell *sh)
{
	struct cqlresult *l = shell_select(
	        sh, "SELECT schema_version FROM system.local WHERE key = 'local'", false);
	if (!l)
		return -1;
	struct cqlresult *p = shell_select(
	        sh, "SELECT peer, rpc_address, schema_version FROM system.peers", false);
	int rc = -1;
	if (p && l->n_rows == 1 && l->meta.n_cols == 1) {
		const struct cql_slice *mine = cqlresult_cell(l, 0, 0);
		int pc = cqlresult_column(p, "schema_version");
		int ac = cqlresult_column(p, "rpc_address");
		rc = pc >= 0 ? 1 : -1;
		for (uint32_t i = 0; rc == 1 && i < p->n_rows; i++) {
			const struct cql_slice *v = cqlresult_cell(p, i, (uint32_t)pc);
			bool same = v->len == mine->len &&
			            (v->len <= 0 || memcmp(v->p, mine->p, (size_t)v->len) == 0);
			if (!same &&
			    (ac < 0 || peer_alive(cqlresult_cell(p, i, (uint32_t)ac), sh->port)))
				rc = 0;
		}
	}
	cqlresult_free(l);
	cqlresult_free(p);
	return rc;
}

static void wait_schema_agreement(struct shell *sh)
{
	int64_t deadline = clock_mono_ms() + SCHEMA_AGREEMENT_WAIT_MS;
	sh->quiet++;
	int rc;
	while ((rc = schema_agreed(sh)) == 0 && clock_mono_ms() < deadline)
		usleep(SCHEMA_AGREEMENT_POLL_MS * 1000);
	sh->quiet--;
	if (rc == 0)
		shell_printerr(sh, "Warning: schema version mismatch detected; check the schema "
		                   "versions of your nodes in system.local and system.peers.");
}

/* ---- results --------------------------------------------------------------------------------- */

/* cqlsh's print_warnings text for the server's warnings of a result (printed after it). */
static void format_warnings(const struct cqlresult *r, struct buf *out)
{
	if (!r->n_warnings)
		return;
	buf_put_str(out, "\nWarnings :\n");
	for (size_t i = 0; i < r->n_warnings; i++)
		buf_printf(out, "%s\n\n", r->warnings[i]);
}

/* Column roles of the result's table, for header colours (NULL if unknown). */
static uint8_t *result_roles(struct shell *sh, const struct cqlresult *r)
{
	if (!sh->color || !r->meta.cols || r->meta.n_cols == 0)
		return NULL;
	struct buf q;
	buf_init(&q);
	buf_put_str(&q,
	            "SELECT column_name, kind FROM system_schema.columns WHERE keyspace_name = ");
	cqlfmt_quote_string(&q, r->meta.cols[0].keyspace, strlen(r->meta.cols[0].keyspace));
	buf_put_str(&q, " AND table_name = ");
	cqlfmt_quote_string(&q, r->meta.cols[0].table, strlen(r->meta.cols[0].table));
	buf_put_u8(&q, 0);
	sh->quiet++;
	struct cqlresult *cr = buf_ok(&q) ? shell_select(sh, (const char *)q.data, false) : NULL;
	sh->quiet--;
	buf_release(&q);
	if (!cr)
		return NULL;
	uint8_t *roles = calloc(r->meta.n_cols, 1);
	int cn = cqlresult_column(cr, "column_name"), ck = cqlresult_column(cr, "kind");
	for (uint32_t i = 0; roles && cn >= 0 && ck >= 0 && i < cr->n_rows; i++) {
		char *name = cqlresult_text(cr, i, (uint32_t)cn);
		char *kind = cqlresult_text(cr, i, (uint32_t)ck);
		for (uint32_t j = 0; name && kind && j < r->meta.n_cols; j++) {
			if (strcmp(r->meta.cols[j].name, name) != 0)
				continue;
			if (strcmp(kind, "partition_key") == 0)
				roles[j] = CQLFMT_PARTITION_KEY;
			else if (strcmp(kind, "clustering") == 0)
				roles[j] = CQLFMT_CLUSTERING;
			else if (strcmp(kind, "static") == 0)
				roles[j] = CQLFMT_STATIC;
		}
		free(name);
		free(kind);
	}
	cqlresult_free(cr);
	return roles;
}

/* "---MORE---" and wait for Enter; false on EOF or 'q'. */
static bool more_prompt(void)
{
	fputs("---MORE---", stdout);
	fflush(stdout);
	char line[64];
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return true;
}

/* cqlsh's print_result: every page, then "(N rows)". */
static void print_rows(struct shell *sh, const char *cql, struct cqlresult *r)
{
	uint8_t *roles = result_roles(sh, r);
	struct cqlfmt_opts o = {
	        .color = sh->color, .expand = sh->expand, .tty = sh->tty, .roles = roles};
	struct buf b;
	buf_init(&b);
	buf_put_u8(&b, '\n');
	uint64_t num = 0;
	bool first = true;
	for (;;) {
		if (r->n_rows || first) {
			cqlfmt_rows(&b, r, &o, first || sh->tty, num);
			num += r->n_rows;
		}
		out_result(sh, &b);
		buf_reset(&b);
		bool more = (r->meta.flags & CQL_ROWS_HAS_MORE_PAGES) && r->meta.paging_state;
		if (!more) {
			if (!sh->tty)
				buf_put_u8(&b, '\n');
			break;
		}
		if (sh->tty && !sh->capture && !more_prompt()) /* no pause while capturing */
			break;
		struct cql_qparams p;
		qparams(sh, &p, true);
		p.paging_state = r->meta.paging_state;
		p.paging_state_len = r->meta.paging_state_len;
		struct cqlresult *next = request(sh, cql, &p);
		cqlresult_free(r);
		r = next;
		if (!r)
			goto out;
		if (r->kind == CQLRES_ERROR) {
			print_server_error(sh, &r->error);
			goto out;
		}
		if (r->kind != CQLRES_ROWS) {
			shell_printerr(sh, "ProtocolException: next page answered with a non-Rows "
			                   "result");
			goto out;
		}
		first = false;
	}
	buf_printf(&b, "(%llu rows)\n", (unsigned long long)num);
	out_result(sh, &b);
out:
	cqlresult_free(r);
	buf_release(&b);
	free(roles);
}

static void run_cql(struct shell *sh, const char *stmt)
{
	char *ks = statement_keyspace(sh, stmt);
	if (ks) {
		sh->quiet++;
		maybe_warn_consistency(sh, ks);
		sh->quiet--;
		free(ks);
	}
	struct cql_qparams p;
	qparams(sh, &p, true);
	p.tracing = sh->tracing;
	struct cqlresult *r = request(sh, stmt, &p);
	if (!r)
		return;
	struct buf warnings;
	buf_init(&warnings);
	format_warnings(r, &warnings);
	/* cqlsh prints the trace after the result and its warnings; none after an error */
	bool traced = r->traced && r->kind != CQLRES_ERROR;
	uint8_t trace_id[16];
	memcpy(trace_id, r->trace_id, 16);
	switch (r->kind) {
	case CQLRES_ERROR: print_server_error(sh, &r->error); break;
	case CQLRES_ROWS:
		if (strncasecmp(stmt, "select", 6) == 0) {
			print_rows(sh, stmt, r); /* frees r */
			r = NULL;
		} else {
			struct cqlfmt_opts o = {
			        .color = sh->color, .expand = sh->expand, .tty = sh->tty};
			struct buf b;
			buf_init(&b);
			buf_put_u8(&b, '\n');
			cqlfmt_rows(&b, r, &o, true, 0);
			out_result(sh, &b);
			buf_release(&b);
		}
		break;
	case CQLRES_SET_KEYSPACE:
		free(sh->keyspace);
		sh->keyspace = dupstr(r->keyspace);
		break;
	case CQLRES_SCHEMA_CHANGE: wait_schema_agreement(sh); break;
	default: break;
	}
	out_result(sh, &warnings);
	buf_release(&warnings);
	cqlresult_free(r);
	if (traced)
		shell_print_trace(sh, trace_id, true);
}

/* ---- shell commands ----------------------------------------------------------------------------
 */

/* The words of a shell command, lower-cased WORD tokens or raw text otherwise. */
struct words {
	char *w[8];
	size_t n;
	bool extra; /* more than 8 tokens */
};

static void words_split(const char *s, struct words *w)
{
	memset(w, 0, sizeof(*w));
	size_t len = strlen(s), pos = 0;
	for (;;) {
		struct cqltok t = cqltok_next(s, len, &pos);
		if (t.kind == CQLTOK_END)
			break;
		if (w->n == 8) {
			w->extra = true;
			break;
		}
		w->w[w->n] = malloc(t.len + 1);
		if (!w->w[w->n])
			break;
		memcpy(w->w[w->n], s + t.start, t.len);
		w->w[w->n][t.len] = '\0';
		w->n++;
	}
}

static void words_free(struct words *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->w[i]);
}

static void cmd_consistency(struct shell *sh, struct words *w)
{
	if (w->n == 1) {
		printf("Current consistency level is %s.\n", cql_consistency_name(sh->consistency));
		return;
	}
	uint16_t cl;
	if (w->n != 2 || w->extra || cql_consistency_parse(w->w[1], &cl) != COL_OK) {
		shell_printerr(sh, "Improper CONSISTENCY command.");
		return;
	}
	sh->consistency = cl;
	printf("Consistency level set to %s.\n", cql_consistency_name(cl));
	if (sh->keyspace) {
		fflush(stdout);
		sh->quiet++;
		maybe_warn_consistency(sh, sh->keyspace);
		sh->quiet--;
	}
}

static void cmd_serial(struct shell *sh, struct words *w)
{
	if (w->n < 2 || strcasecmp(w->w[1], "consistency") != 0 || w->n > 3 || w->extra) {
		shell_printerr(sh, "Improper SERIAL command.");
		return;
	}
	if (w->n == 2) {
		printf("Current serial consistency level is %s.\n",
		       cql_consistency_name(sh->serial_consistency));
		return;
	}
	uint16_t cl;
	if (cql_consistency_parse(w->w[2], &cl) != COL_OK ||
	    (cl != CL_SERIAL && cl != CL_LOCAL_SERIAL)) {
		shell_printerr(sh, "Improper SERIAL command.");
		return;
	}
	sh->serial_consistency = cl;
	printf("Serial consistency level set to %s.\n", cql_consistency_name(cl));
}

/* cqlsh's SwitchCommand; returns the new state.  value: PAGING <n>. */
static bool switch_command(struct shell *sh, struct words *w, const char *cmd, const char *desc,
                           bool state, bool *handled)
{
	*handled = true;
	if (w->n == 1) {
		if (state)
			printf("%s is currently enabled. Use %s OFF to disable\n", desc, cmd);
		else
			printf("%s is currently disabled. Use %s ON to enable.\n", desc, cmd);
		return state;
	}
	if (w->n == 2 && strcasecmp(w->w[1], "on") == 0) {
		if (state) {
			shell_printerr(sh, "%s is already enabled. Use %s OFF to disable.", desc,
			               cmd);
			return state;
		}
		printf("Now %s is enabled\n", desc);
		return true;
	}
	if (w->n == 2 && strcasecmp(w->w[1], "off") == 0) {
		if (!state) {
			shell_printerr(sh, "%s is not enabled.", desc);
			return state;
		}
		printf("Disabled %s.\n", desc);
		return false;
	}
	*handled = false;
	return state;
}

static void cmd_expand(struct shell *sh, struct words *w)
{
	bool handled;
	sh->expand = switch_command(sh, w, "EXPAND", "Expanded output", sh->expand, &handled);
	if (!handled)
		shell_printerr(sh, "Improper EXPAND command.");
}

static void cmd_tracing(struct shell *sh, struct words *w)
{
	bool handled;
	sh->tracing = switch_command(sh, w, "TRACING", "Tracing", sh->tracing, &handled);
	if (!handled)
		shell_printerr(sh, "Improper TRACING command.");
}

static void cmd_paging(struct shell *sh, struct words *w)
{
	bool handled;
	bool state = switch_command(sh, w, "PAGING", "Query paging", sh->paging, &handled);
	if (!handled) {
		char *end = NULL;
		errno = 0;
		long n = w->n == 2 ? strtol(w->w[1], &end, 10) : 0;
		if (w->n != 2 || errno || !end || *end || n <= 0 || n > INT32_MAX) {
			shell_printerr(sh, "Improper PAGING command.");
			return;
		}
		state = true;
		sh->page_size = (int32_t)n;
	}
	sh->paging = state;
	if (sh->paging)
		printf("Page size: %d\n", sh->page_size);
	else
		sh->page_size = CQLISH_DEFAULT_PAGE_SIZE;
}

static void show_host(struct shell *sh)
{
	const char *name = sh->cluster_name ? sh->cluster_name : "Unknown Cluster";
	printf("Connected to %s%s%s at %s:%u\n", sh->color ? CQLFMT_BLUE : "", name,
	       sh->color ? CQLFMT_RESET : "", sh->host, sh->port);
}

static void show_version(struct shell *sh)
{
	printf("[cqlish %s | Cassandra %s | CQL spec %s | Native protocol v%d]\n",
	       COLONNADE_VERSION, sh->release_version ? sh->release_version : "unknown",
	       sh->cql_version ? sh->cql_version : "unknown", CQLPROTO_VERSION);
}

/* SHOW SESSION <id>: the id is the raw text after SESSION (a uuid starting with a letter is
 * several tokens to the CQL lexer). */
static void show_session(struct shell *sh, const char *stmt)
{
	const char *p = strcasestr(stmt, "session") + 7;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strcspn(p, " \t;");
	uint8_t id[16];
	if (uuid_parse(p, n, id))
		shell_print_trace(sh, id, false);
	else
		shell_printerr(sh, "Improper SHOW command: '%.*s' is not a session id.", (int)n, p);
}

static void cmd_show(struct shell *sh, struct words *w, const char *stmt)
{
	if (w->n == 2 && strcasecmp(w->w[1], "version") == 0) {
		show_version(sh);
	} else if (w->n == 2 && strcasecmp(w->w[1], "host") == 0) {
		show_host(sh);
	} else if (w->n >= 3 && strcasecmp(w->w[1], "session") == 0) {
		show_session(sh, stmt);
	} else {
		shell_printerr(sh, "Improper SHOW command.");
	}
}

static void cmd_source(struct shell *sh, const char *stmt)
{
	size_t len = strlen(stmt), pos = 0;
	(void)cqltok_next(stmt, len, &pos);
	struct cqltok t = cqltok_next(stmt, len, &pos);
	struct cqltok end = cqltok_next(stmt, len, &pos);
	if (t.kind != CQLTOK_STRING || stmt[t.start] != '\'' || end.kind != CQLTOK_END) {
		shell_printerr(sh, "Improper SOURCE command.");
		return;
	}
	struct buf path;
	buf_init(&path);
	if (stmt[t.start + 1] == '~' && getenv("HOME")) {
		buf_put_str(&path, getenv("HOME"));
		t.start++;
		t.len--;
	}
	for (size_t i = t.start + 1; i + 1 < t.start + t.len; i++) {
		buf_put_u8(&path, (uint8_t)stmt[i]);
		if (stmt[i] == '\'')
			i++;
	}
	buf_put_u8(&path, 0);
	if (sh->source_depth >= 16) {
		shell_printerr(sh, "Could not open '%s': SOURCE nested more than 16 deep",
		               (const char *)path.data);
		buf_release(&path);
		return;
	}
	FILE *f = fopen((const char *)path.data, "r");
	if (!f) {
		shell_printerr(sh, "Could not open '%s': %s", (const char *)path.data,
		               strerror(errno));
		buf_release(&path);
		return;
	}
	/* A sourced file runs like -f: line numbers in errors, no prompts. */
	bool tty = sh->tty, nums = sh->show_line_nums;
	const char *name = sh->src_name;
	size_t line = sh->lineno;
	sh->tty = false;
	sh->show_line_nums = true;
	sh->source_depth++;
	char *pname = dupstr((const char *)path.data);
	shell_run_file(sh, f, pname);
	sh->source_depth--;
	fclose(f);
	sh->tty = tty;
	sh->show_line_nums = nums;
	sh->src_name = name;
	sh->lineno = line;
	free(pname);
	buf_release(&path);
}

/* CAPTURE ['<file>' | OFF]: cqlsh's do_capture. */
static void cmd_capture(struct shell *sh, const char *stmt)
{
	size_t len = strlen(stmt), pos = 0;
	(void)cqltok_next(stmt, len, &pos);
	struct cqltok t = cqltok_next(stmt, len, &pos);
	struct cqltok end = cqltok_next(stmt, len, &pos);
	if (t.kind == CQLTOK_END) {
		if (sh->capture)
			printf("Currently capturing query output to '%s'.\n", sh->capture_path);
		else
			printf("Currently not capturing query output.\n");
		return;
	}
	if (end.kind != CQLTOK_END ||
	    !(cqltok_is(stmt, &t, "off") || (t.kind == CQLTOK_STRING && stmt[t.start] == '\''))) {
		shell_printerr(sh, "Improper CAPTURE command.");
		return;
	}
	if (t.kind == CQLTOK_WORD) { /* OFF */
		if (!sh->capture) {
			shell_printerr(sh, "Not currently capturing output.");
			return;
		}
		fclose(sh->capture);
		sh->capture = NULL;
		free(sh->capture_path);
		sh->capture_path = NULL;
		sh->color = sh->capture_color;
		return;
	}
	if (sh->capture) {
		shell_printerr(sh, "Already capturing output to %s. Use CAPTURE OFF to disable.",
		               sh->capture_path);
		return;
	}
	struct buf path;
	buf_init(&path);
	size_t from = t.start + 1;
	if (stmt[from] == '~' && getenv("HOME")) {
		buf_put_str(&path, getenv("HOME"));
		from++;
	}
	for (size_t i = from; i + 1 < t.start + t.len; i++) {
		buf_put_u8(&path, (uint8_t)stmt[i]);
		if (stmt[i] == '\'')
			i++;
	}
	buf_put_u8(&path, 0);
	FILE *f = buf_ok(&path) ? fopen((const char *)path.data, "a") : NULL;
	if (!f) {
		shell_printerr(sh, "Could not open '%s' for append: %s", (const char *)path.data,
		               strerror(errno));
		buf_release(&path);
		return;
	}
	sh->capture = f;
	sh->capture_path = dupstr((const char *)path.data);
	sh->capture_color = sh->color;
	sh->color = false;
	printf("Now capturing query output to '%s'.\n", sh->capture_path);
	buf_release(&path);
}

struct help_topic {
	const char *name;
	const char *text;
};

static const struct help_topic shell_help[] = {
        {"CAPTURE",
         "\n        CAPTURE [cqlish only]\n\n"
         "        Begins capturing command output and appending it to a specified file.\n"
         "        Output will not be shown at the console while it is captured.\n\n"
         "        Usage:\n\n          CAPTURE '<file>';\n          CAPTURE OFF;\n"
         "          CAPTURE;\n\n"
         "        Only query result output is captured. Errors and output from "
         "cqlish-only\n        commands will still be shown in the cqlish session.\n"},
        {"CONSISTENCY",
         "\n        CONSISTENCY [cqlish only]\n\n"
         "           Overrides default consistency level (default level is ONE).\n\n"
         "        CONSISTENCY <level>\n\n"
         "           Sets consistency level for future requests.\n\n"
         "           Valid consistency levels:\n\n"
         "           ANY, ONE, TWO, THREE, QUORUM, ALL, LOCAL_ONE, LOCAL_QUORUM, "
         "EACH_QUORUM, SERIAL and LOCAL_SERIAL.\n\n"
         "           A level that is not LOCAL_* used on a keyspace replicated to more "
         "than one\n           datacenter prints a warning once.\n\n"
         "        CONSISTENCY\n\n"
         "           CONSISTENCY with no arguments shows the current consistency "
         "level.\n"},
        {"COPY",
         "\n        COPY [cqlish only]\n\n"
         "        COPY [ks.]t [(c1, c2, ...)] TO 'file.csv' [WITH opt = value [AND ...]];\n"
         "        COPY [ks.]t [(c1, c2, ...)] FROM 'file.csv' [WITH opt = value [AND ...]];\n\n"
         "        Options (both): HEADER, DELIMITER, QUOTE, ESCAPE, NULL, MAXROWS.\n"
         "        COPY TO: PAGESIZE.  COPY FROM: CHUNKSIZE, INGESTRATE, MAXREQUESTS,\n"
         "        MAXATTEMPTS, MAXPARSEERRORS, MAXINSERTERRORS, ERRFILE.\n"},
        {"DESCRIBE",
         "\n        DESCRIBE\n\n"
         "        (DESC may be used as a shorthand.)\n\n"
         "        DESCRIBE KEYSPACES            names of all keyspaces\n"
         "        DESCRIBE [ONLY] KEYSPACE [<ks>]  CREATE statements of a keyspace and its "
         "tables\n"
         "        DESCRIBE TABLES               names of the tables (per keyspace when no "
         "keyspace is in use)\n"
         "        DESCRIBE TABLE [<ks>.]<t>     CREATE statement of a table\n"
         "        DESCRIBE CLUSTER              cluster name, partitioner, snitch, range "
         "ownership\n"
         "        DESCRIBE [FULL] SCHEMA        every (non-system) keyspace\n"
         "        DESCRIBE TYPES | FUNCTIONS | AGGREGATES, DESCRIBE TYPE | FUNCTION | "
         "AGGREGATE | INDEX <name>\n"
         "        DESCRIBE <name>               a keyspace, or else a table of the current "
         "keyspace\n"
         "        ... WITH INTERNALS            the table's id and its dropped columns too\n\n"
         "        The server answers DESCRIBE (as Cassandra 4 does); cqlish prints its rows.\n"},
        {"EXIT", "\n        EXIT/QUIT [cqlish only]\n\n        Exits cqlish.\n"},
        {"EXPAND",
         "\n        EXPAND [cqlish]\n\n"
         "          Enables or disables expanded (vertical) output.\n\n"
         "        EXPAND ON\n\n          Enables expanded (vertical) output.\n\n"
         "        EXPAND OFF\n\n          Disables expanded (vertical) output.\n\n"
         "        EXPAND\n\n          EXPAND with no arguments shows the current value of "
         "expand setting.\n"},
        {"HELP", "\n        HELP [cqlish only]\n\n"
                 "        Gives information about cqlish commands. To see available topics,\n"
                 "        enter \"HELP\" without any arguments. To see help on a topic,\n"
                 "        use \"HELP <topic>\".\n"},
        {"LOGIN", "\n        LOGIN <user> ['<password>']\n\n"
                  "          Reconnects as <user> (a node with PasswordAuthenticator). Without a\n"
                  "          password, $CQLISH_PASSWORD. A failed login keeps the old session.\n"},
        {"PAGING",
         "\n        PAGING [cqlish]\n\n"
         "          Enables or disables query paging.\n\n"
         "        PAGING ON\n\n          Enables query paging for all further queries.\n\n"
         "        PAGING OFF\n\n          Disables paging.\n\n"
         "        PAGING <n>\n\n          Enables paging with a page size of n rows.\n\n"
         "        PAGING\n\n          PAGING with no arguments shows the current query "
         "paging status.\n\n"
         "        On a terminal each page ends with ---MORE---; press Enter for the next "
         "one.\n        With -e or -f every page is fetched and printed.\n"},
        {"SERIAL", "\n        SERIAL CONSISTENCY [cqlish only]\n\n"
                   "           Overrides serial consistency level (default level is SERIAL).\n\n"
                   "        SERIAL CONSISTENCY <level>\n\n"
                   "           Sets consistency level for future conditional updates.\n\n"
                   "           Valid consistency levels:\n\n           SERIAL, LOCAL_SERIAL.\n\n"
                   "        SERIAL CONSISTENCY\n\n"
                   "           SERIAL CONSISTENCY with no arguments shows the current consistency "
                   "level.\n"},
        {"SHOW",
         "\n        SHOW [cqlish only]\n\n"
         "          Displays information about the current cqlish session.\n\n"
         "        SHOW VERSION\n\n          Shows the version of cqlish and of the connected "
         "node, and the CQL spec it understands.\n\n"
         "        SHOW HOST\n\n          Shows where cqlish is currently connected.\n"},
        {"SOURCE", "\n        SOURCE [cqlish only]\n\n"
                   "        Executes a file containing CQL statements. Gives the output for each\n"
                   "        statement in turn, if any, or any errors that occur along the way.\n\n"
                   "        Errors do NOT abort execution of the CQL source file.\n\n"
                   "        Usage:\n\n          SOURCE '<file>';\n\n"
                   "        The path is relative to the current directory; '~/' means $HOME.\n"},
        {"TRACING", "\n        TRACING [cqlish]\n\n"
                    "          Enables or disables request tracing.\n\n"
                    "        TRACING ON\n\n          Enables tracing for all further requests.\n\n"
                    "        TRACING OFF\n\n          Disables tracing.\n\n"
                    "        TRACING\n\n          TRACING with no arguments shows the current "
                    "tracing status.\n\n"
                    "        Each traced statement's trace (system_traces) is printed after its "
                    "result.\n"},
};

static const struct help_topic cql_help[] = {
        {"ALTER_KEYSPACE", "\n        ALTER KEYSPACE <ks> WITH replication = {...} [AND "
                           "durable_writes = <bool>];\n"},
        {"ALTER_TABLE", "\n        ALTER TABLE [<ks>.]<t> ADD <col> <type> | DROP <col> | WITH "
                        "<option> = <value>;\n"},
        {"BATCH", "\n        BEGIN [UNLOGGED] BATCH [USING TIMESTAMP <t>]\n"
                  "          <insert/update/delete>; ...\n        APPLY BATCH;\n"},
        {"CREATE_KEYSPACE",
         "\n        CREATE KEYSPACE [IF NOT EXISTS] <ks>\n"
         "          WITH replication = {'class': 'SimpleStrategy', 'replication_factor': <n>}\n"
         "             | {'class': 'NetworkTopologyStrategy', '<dc>': <n>, ...}\n"
         "          [AND durable_writes = <bool>];\n"},
        {"CREATE_TABLE",
         "\n        CREATE TABLE [IF NOT EXISTS] [<ks>.]<t> (\n"
         "          <col> <type> [PRIMARY KEY], ...\n"
         "          [, PRIMARY KEY ((<pk>, ...), <ck>, ...)]\n"
         "        ) [WITH CLUSTERING ORDER BY (<ck> ASC|DESC, ...)\n"
         "           AND default_time_to_live = <s> AND gc_grace_seconds = <s>];\n"},
        {"DELETE", "\n        DELETE [<col>, ...] FROM [<ks>.]<t> [USING TIMESTAMP <t>] WHERE "
                   "<key conditions>;\n"},
        {"DROP_KEYSPACE", "\n        DROP KEYSPACE [IF EXISTS] <ks>;\n"},
        {"DROP_TABLE", "\n        DROP TABLE [IF EXISTS] [<ks>.]<t>;\n"},
        {"INSERT", "\n        INSERT INTO [<ks>.]<t> (<col>, ...) VALUES (<value>, ...)\n"
                   "          [USING TTL <s> [AND TIMESTAMP <t>]];\n"},
        {"SELECT", "\n        SELECT <cols> | * | COUNT(*) | WRITETIME(<col>) | TTL(<col>)\n"
                   "          FROM [<ks>.]<t>\n"
                   "          [WHERE <pk> = <v> | <pk> IN (...) [AND <ck> =|<|<=|>|>= <v> ...]\n"
                   "                 | token(<pk>) > <n>]\n"
                   "          [ORDER BY <ck> ASC|DESC] [LIMIT <n>];\n"},
        {"TRUNCATE", "\n        TRUNCATE [TABLE] [<ks>.]<t>;\n"},
        {"UPDATE", "\n        UPDATE [<ks>.]<t> [USING TTL <s> [AND TIMESTAMP <t>]]\n"
                   "          SET <col> = <value>, ... WHERE <key conditions>;\n"},
        {"USE", "\n        USE <ks>;\n"},
};

static void print_topics(const char *header, const struct help_topic *t, size_t n)
{
	struct buf b;
	buf_init(&b);
	buf_printf(&b, "%s\n", header);
	/* cmd.Cmd's ruler is as long as the header, its leading newline included */
	for (size_t i = 0; i < strlen(header); i++)
		buf_put_u8(&b, '=');
	buf_put_u8(&b, '\n');
	const char **names = calloc(n, sizeof(*names));
	for (size_t i = 0; names && i < n; i++)
		names[i] = t[i].name;
	if (names)
		cqlfmt_columnize(&b, names, n, 79);
	free(names);
	buf_put_u8(&b, '\n');
	out_buf(&b);
	buf_release(&b);
}

static void cmd_help(struct shell *sh, struct words *w)
{
	size_t ns = sizeof(shell_help) / sizeof(shell_help[0]);
	size_t nc = sizeof(cql_help) / sizeof(cql_help[0]);
	if (w->n == 1) {
		print_topics("\nDocumented shell commands:", shell_help, ns);
		print_topics("CQL help topics:", cql_help, nc);
		return;
	}
	for (size_t k = 1; k < w->n; k++) {
		const char *t = w->w[k];
		bool found = false;
		for (size_t i = 0; i < ns && !found; i++)
			if (strcasecmp(t, shell_help[i].name) == 0 ||
			    (strcasecmp(t, "quit") == 0 &&
			     strcmp(shell_help[i].name, "EXIT") == 0) ||
			    (strcasecmp(t, "desc") == 0 &&
			     strcmp(shell_help[i].name, "DESCRIBE") == 0)) {
				fputs(shell_help[i].text, stdout);
				found = true;
			}
		for (size_t i = 0; i < nc && !found; i++)
			if (strcasecmp(t, cql_help[i].name) == 0) {
				fputs(cql_help[i].text, stdout);
				found = true;
			}
		if (!found)
			shell_printerr(sh, "*** No help on %s", t);
	}
}

/* One word of LOGIN's text: up to blank or ';', surrounding single quotes removed. */
static const char *login_word(const char *p, char *out, size_t cap)
{
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	size_t n = 0;
	if (*p == '\'') {
		for (p++; *p && *p != '\''; p++)
			if (n + 1 < cap)
				out[n++] = *p;
		if (*p == '\'')
			p++;
	} else {
		for (; *p && *p != ' ' && *p != '\t' && *p != '\n' && *p != ';'; p++)
			if (n + 1 < cap)
				out[n++] = *p;
	}
	out[n] = 0;
	return p;
}

/* LOGIN user ['password']: reconnect as that role; on failure keep the old session. */
static void cmd_login(struct shell *sh, const char *args)
{
	char user[256], pw[1024];
	args = login_word(args, user, sizeof(user));
	login_word(args, pw, sizeof(pw));
	if (!user[0]) {
		shell_printerr(sh, "Improper LOGIN command: LOGIN <user> ['<password>']");
		return;
	}
	if (!pw[0] && getenv("CQLISH_PASSWORD"))
		snprintf(pw, sizeof(pw), "%s", getenv("CQLISH_PASSWORD"));
	if (!pw[0]) {
		shell_printerr(sh, "LOGIN %s needs a password: LOGIN %s '<password>'", user, user);
		return;
	}
	char *nu = strdup(user), *np = strdup(pw);
	explicit_bzero(pw, sizeof(pw));
	if (!nu || !np) {
		free(nu);
		free(np);
		shell_printerr(sh, "out of memory");
		return;
	}
	struct cqlconn_opts old = sh->copts;
	sh->copts.username = nu;
	sh->copts.password = np;
	struct cerr e = {0};
	if (shell_connect(sh, &e) != 0) {
		shell_printerr(sh, "Login failed: %s", e.msg);
		sh->copts = old;
		free(nu);
		free(np);
		struct cerr e2 = {0};
		if (shell_connect(sh, &e2) != 0)
			shell_printerr(sh, "and the previous session is gone: %s", e2.msg);
		return;
	}
	free(sh->login_user);
	free(sh->login_password);
	sh->login_user = nu;
	sh->login_password = np;
	printf("Logged in as %s.\n", nu);
}

void shell_run(struct shell *sh, const char *stmt)
{
	size_t len = strlen(stmt), pos = 0;
	struct cqltok first = cqltok_next(stmt, len, &pos);
	if (first.kind == CQLTOK_END)
		return;
	bool is_shell = (first.kind == CQLTOK_WORD ||
	                 (first.kind == CQLTOK_PUNCT && stmt[first.start] == '?')) &&
	                cqlsplit_is_shell_command(stmt + first.start, first.len);
	if (!is_shell) {
		run_cql(sh, stmt);
		return;
	}
	if (first.len == 5 && strncasecmp(stmt + first.start, "login", 5) == 0) {
		cmd_login(sh, stmt + first.start + first.len);
		fflush(stdout);
		return;
	}
	struct words w;
	words_split(stmt, &w);
	const char *c = w.w[0];
	if (strcasecmp(c, "consistency") == 0) {
		cmd_consistency(sh, &w);
	} else if (strcasecmp(c, "serial") == 0) {
		cmd_serial(sh, &w);
	} else if (strcasecmp(c, "expand") == 0) {
		cmd_expand(sh, &w);
	} else if (strcasecmp(c, "paging") == 0) {
		cmd_paging(sh, &w);
	} else if (strcasecmp(c, "tracing") == 0) {
		cmd_tracing(sh, &w);
	} else if (strcasecmp(c, "show") == 0) {
		cmd_show(sh, &w, stmt);
	} else if (strcasecmp(c, "source") == 0) {
		cmd_source(sh, stmt);
	} else if (strcasecmp(c, "capture") == 0) {
		cmd_capture(sh, stmt);
	} else if (strcasecmp(c, "copy") == 0) {
		shell_copy(sh, stmt);
	} else if (strcasecmp(c, "help") == 0 || strcmp(c, "?") == 0) {
		cmd_help(sh, &w);
	} else if (strcasecmp(c, "exit") == 0 || strcasecmp(c, "quit") == 0) {
		if (w.n != 1)
			shell_printerr(sh, "Improper %s command.", c);
		else
			sh->stop = true;
	} else if (strcasecmp(c, "describe") == 0 || strcasecmp(c, "desc") == 0) {
		shell_describe(sh, stmt + first.start + first.len);
	} else if (strcasecmp(c, "clear") == 0 || strcasecmp(c, "cls") == 0) {
		if (sh->tty)
			fputs("\033[H\033[2J", stdout);
	} else {
		for (char *p = w.w[0]; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		shell_printerr(sh, "%s is not supported by cqlish.", w.w[0]);
	}
	fflush(stdout);
	words_free(&w);
}

void shell_run_file(struct shell *sh, FILE *f, const char *name)
{
	struct cqlsplit sp;
	cqlsplit_init(&sp);
	sh->src_name = name;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	bool first = true;
	while (!sh->stop && (n = getline(&line, &cap, f)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			n--;
		const char *text = line;
		/* a UTF-8 byte order mark, as cqlsh skips it (get_file_encoding_bomsize) */
		if (first && n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
			text += 3;
			n -= 3;
		}
		first = false;
		int rc = cqlsplit_feed(&sp, text, (size_t)n);
		if (rc != COL_OK) {
			sh->lineno = sp.base_line;
			shell_printerr(sh,
			               "statement starting at line %zu is larger than %u bytes; "
			               "skipped",
			               sp.base_line, CQLSPLIT_MAX_PENDING);
			cqlsplit_reset(&sp);
			continue;
		}
		char *stmt;
		size_t end_line;
		while (!sh->stop && cqlsplit_next(&sp, &stmt, &end_line) == 1) {
			sh->lineno = end_line;
			shell_run(sh, stmt);
			free(stmt);
		}
	}
	free(line);
	if (!sh->stop) {
		size_t end_line = sp.base_line;
		char *rest = cqlsplit_take_rest(&sp, &end_line);
		if (rest) {
			sh->lineno = end_line;
			shell_printerr(sh, "Incomplete statement at end of file");
			free(rest);
		}
	}
	cqlsplit_release(&sp);
}

void shell_prompt(const struct shell *sh, bool continuation, struct buf *out)
{
	if (!continuation) {
		if (sh->keyspace)
			buf_printf(out, "cqlish:%s> ", sh->keyspace);
		else
			buf_put_str(out, "cqlish> ");
		return;
	}
	/* As wide as the main prompt, like cqlsh's "   ... ". */
	size_t w = sh->keyspace ? strlen("cqlish:> ") + strlen(sh->keyspace) : strlen("cqlish> ");
	for (size_t i = 0; i + 4 < w; i++)
		buf_put_u8(out, ' ');
	buf_put_str(out, "... ");
}
