/*
 * describe.c — cqlish's client-side DESCRIBE: reads system_schema and prints
 * what cqlsh's (client-side, cqlsh 5) DESCRIBE prints, using cli/lib/cqldesc.h
 * for the CREATE statements and cqlfmt_columnize for name lists.
 */
#include "cli/cqlish/shell.h"

#include "cli/lib/cqldesc.h"
#include "cli/lib/cqlfmt.h"
#include "cli/lib/cqlsplit.h"
#include "core/ring.h"

#include <errno.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Keyspaces cqlsh leaves out of DESCRIBE SCHEMA (cql3handling.SYSTEM_KEYSPACES). */
static const char *const system_keyspaces[] = {
        "system",
        "system_schema",
        "system_traces",
        "system_auth",
        "system_distributed",
        "system_views",
        "system_virtual_schema",
};

static bool is_system_keyspace(const char *ks)
{
	for (size_t i = 0; i < sizeof(system_keyspaces) / sizeof(system_keyspaces[0]); i++)
		if (strcmp(ks, system_keyspaces[i]) == 0)
			return true;
	return false;
}

/* Free a NULL-terminated list of strings. */
static void free_list(char **v)
{
	if (!v)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

/* The text values of column `col` of every row, NULL-terminated. */
static char **column_texts(struct cqlresult *r, const char *col)
{
	int c = cqlresult_column(r, col);
	if (c < 0)
		return NULL;
	char **v = calloc(r->n_rows + 1, sizeof(*v));
	if (!v)
		return NULL;
	size_t k = 0;
	for (uint32_t i = 0; i < r->n_rows; i++) {
		char *t = cqlresult_text(r, i, (uint32_t)c);
		if (t)
			v[k++] = t;
	}
	return v;
}

static struct cqlresult *select_where(struct shell *sh, const char *what, const char *ks)
{
	struct buf q;
	buf_init(&q);
	buf_printf(&q, "SELECT %s", what);
	if (ks) {
		buf_put_str(&q, " WHERE keyspace_name = ");
		cqlfmt_quote_string(&q, ks, strlen(ks));
	}
	buf_put_u8(&q, 0);
	struct cqlresult *r = buf_ok(&q) ? shell_select(sh, (const char *)q.data, true) : NULL;
	buf_release(&q);
	return r;
}

/* Index of the first row whose text column `col` equals `val`, or -1. */
static int find_row(struct cqlresult *r, const char *col, const char *val)
{
	int c = cqlresult_column(r, col);
	if (c < 0)
		return -1;
	size_t n = strlen(val);
	for (uint32_t i = 0; i < r->n_rows; i++) {
		const struct cql_slice *s = cqlresult_cell(r, i, (uint32_t)c);
		if (s->len >= 0 && (size_t)s->len == n && memcmp(s->p, val, n) == 0)
			return (int)i;
	}
	return -1;
}

/* CREATE KEYSPACE for row `row` of a system_schema.keyspaces result. */
static void keyspace_cql(struct cqlresult *r, int row, struct buf *out)
{
	int cn = cqlresult_column(r, "keyspace_name"), cd = cqlresult_column(r, "durable_writes"),
	    cr = cqlresult_column(r, "replication");
	char *name = cqlresult_text(r, (uint32_t)row, (uint32_t)cn);
	bool durable = true;
	if (cd >= 0) {
		const struct cql_slice *d = cqlresult_cell(r, (uint32_t)row, (uint32_t)cd);
		durable = d->len != 1 || d->p[0] != 0;
	}
	char *keys[64], *vals[64];
	size_t n = 0;
	if (cr >= 0) {
		const struct cql_slice *m = cqlresult_cell(r, (uint32_t)row, (uint32_t)cr);
		struct bufreader rd;
		bufreader_init(&rd, m->p, m->len > 0 ? (size_t)m->len : 0);
		int32_t cnt = m->len > 0 ? (int32_t)bufreader_u32be(&rd) : 0;
		for (int32_t i = 0; i < cnt && n < 64 && bufreader_ok(&rd); i++) {
			uint32_t kl = bufreader_u32be(&rd);
			const uint8_t *k = bufreader_take(&rd, kl);
			uint32_t vl = bufreader_u32be(&rd);
			const uint8_t *v = bufreader_take(&rd, vl);
			if (!k || !v)
				break;
			keys[n] = strndup((const char *)k, kl);
			vals[n] = strndup((const char *)v, vl);
			if (!keys[n] || !vals[n]) {
				free(keys[n]);
				free(vals[n]);
				break;
			}
			n++;
		}
	}
	cqldesc_keyspace(out, name ? name : "", durable, (const char *const *)keys,
	                 (const char *const *)vals, n);
	for (size_t i = 0; i < n; i++) {
		free(keys[i]);
		free(vals[i]);
	}
	free(name);
}

/* CREATE TABLE for row `row` of a system_schema.tables result, columns from `cols`. */
static void table_cql(struct cqlresult *tabs, int row, struct cqlresult *cols, struct buf *out)
{
	int ck = cqlresult_column(tabs, "keyspace_name"), ct = cqlresult_column(tabs, "table_name");
	char *ks = cqlresult_text(tabs, (uint32_t)row, (uint32_t)ck);
	char *table = cqlresult_text(tabs, (uint32_t)row, (uint32_t)ct);
	if (!ks || !table) {
		free(ks);
		free(table);
		return;
	}
	int xt = cqlresult_column(cols, "table_name"), xn = cqlresult_column(cols, "column_name"),
	    xy = cqlresult_column(cols, "type"), xk = cqlresult_column(cols, "kind"),
	    xp = cqlresult_column(cols, "position"),
	    xo = cqlresult_column(cols, "clustering_order");
	struct cqldesc_column *dc = calloc(cols->n_rows + 1, sizeof(*dc));
	char **strs = calloc(4 * (size_t)cols->n_rows + 1, sizeof(*strs));
	size_t nc = 0, ns = 0;
	for (uint32_t i = 0;
	     dc && strs && xt >= 0 && xn >= 0 && xy >= 0 && xk >= 0 && i < cols->n_rows; i++) {
		char *t = cqlresult_text(cols, i, (uint32_t)xt);
		bool mine = t && strcmp(t, table) == 0;
		free(t);
		if (!mine)
			continue;
		struct cqldesc_column *c = &dc[nc];
		c->name = strs[ns++] = cqlresult_text(cols, i, (uint32_t)xn);
		c->type = strs[ns++] = cqlresult_text(cols, i, (uint32_t)xy);
		c->kind = strs[ns++] = cqlresult_text(cols, i, (uint32_t)xk);
		c->order = xo >= 0 ? (strs[ns++] = cqlresult_text(cols, i, (uint32_t)xo)) : NULL;
		c->position = -1;
		if (xp >= 0) {
			const struct cql_slice *p = cqlresult_cell(cols, i, (uint32_t)xp);
			if (p->len == 4)
				c->position = (int32_t)be32_load(p->p);
		}
		if (c->name && c->type && c->kind)
			nc++;
	}
	/* Options: every known option column with a value. */
	struct cqldesc_option *opts = calloc(tabs->meta.n_cols + 1, sizeof(*opts));
	struct buf lits;
	buf_init(&lits);
	size_t *offs = calloc(tabs->meta.n_cols + 1, sizeof(*offs));
	size_t no = 0;
	for (uint32_t j = 0; opts && offs && j < tabs->meta.n_cols; j++) {
		const struct cql_column *col = &tabs->meta.cols[j];
		const struct cql_slice *v = cqlresult_cell(tabs, (uint32_t)row, j);
		if (!cqldesc_is_table_option(col->name) || v->len < 0)
			continue;
		opts[no].name = col->name;
		offs[no] = lits.len;
		cqldesc_literal(&lits, col->type, v);
		buf_put_u8(&lits, 0);
		no++;
	}
	if (opts && offs && buf_ok(&lits))
		for (size_t i = 0; i < no; i++)
			opts[i].literal = (const char *)lits.data + offs[i];
	else
		no = 0;
	if (dc)
		cqldesc_table(out, ks, table, dc, nc, opts, no);
	for (size_t i = 0; strs && i < ns; i++)
		free(strs[i]);
	free(strs);
	free(dc);
	free(opts);
	free(offs);
	buf_release(&lits);
	free(ks);
	free(table);
}

#define TABLES_SELECT "* FROM system_schema.tables"
#define COLUMNS_SELECT                                                                             \
	"keyspace_name, table_name, column_name, clustering_order, kind, position, type FROM "     \
	"system_schema.columns"
#define KEYSPACES_SELECT "keyspace_name, durable_writes, replication FROM system_schema.keyspaces"

/* Keyspace + its tables, as the driver's KeyspaceMetadata.export_as_string(). */
static bool export_keyspace(struct shell *sh, struct cqlresult *kss, int row, struct buf *out)
{
	int cn = cqlresult_column(kss, "keyspace_name");
	char *ks = cqlresult_text(kss, (uint32_t)row, (uint32_t)cn);
	if (!ks)
		return false;
	keyspace_cql(kss, row, out);
	buf_put_u8(out, ';');
	struct cqlresult *tabs = select_where(sh, TABLES_SELECT, ks);
	struct cqlresult *cols = tabs ? select_where(sh, COLUMNS_SELECT, ks) : NULL;
	bool ok = tabs && cols;
	for (uint32_t i = 0; ok && i < tabs->n_rows; i++) {
		buf_put_str(out, "\n\n");
		table_cql(tabs, (int)i, cols, out);
		buf_put_u8(out, ';');
	}
	cqlresult_free(tabs);
	cqlresult_free(cols);
	free(ks);
	return ok;
}

static void emit(struct buf *b)
{
	if (b->len)
		fwrite(b->data, 1, b->len, stdout);
	fflush(stdout);
}

static void describe_keyspace(struct shell *sh, const char *ks)
{
	struct cqlresult *kss = select_where(sh, KEYSPACES_SELECT, NULL);
	if (!kss)
		return;
	int row = find_row(kss, "keyspace_name", ks);
	if (row < 0) {
		shell_printerr(sh, "Keyspace '%s' not found.", ks);
		cqlresult_free(kss);
		return;
	}
	struct buf b;
	buf_init(&b);
	buf_put_u8(&b, '\n');
	if (export_keyspace(sh, kss, row, &b)) {
		buf_put_str(&b, "\n\n");
		emit(&b);
	}
	buf_release(&b);
	cqlresult_free(kss);
}

static void describe_table(struct shell *sh, const char *ks, const char *table)
{
	struct cqlresult *tabs = select_where(sh, TABLES_SELECT, ks);
	if (!tabs)
		return;
	int row = find_row(tabs, "table_name", table);
	if (row < 0) {
		struct cqlresult *kss = select_where(sh, KEYSPACES_SELECT, NULL);
		if (kss && find_row(kss, "keyspace_name", ks) < 0)
			shell_printerr(sh, "Keyspace '%s' not found.", ks);
		else if (kss)
			shell_printerr(sh, "Column family '%s' not found", table);
		cqlresult_free(kss);
		cqlresult_free(tabs);
		return;
	}
	struct cqlresult *cols = select_where(sh, COLUMNS_SELECT, ks);
	if (cols) {
		struct buf b;
		buf_init(&b);
		buf_put_u8(&b, '\n');
		table_cql(tabs, row, cols, &b);
		buf_put_str(&b, ";\n\n");
		emit(&b);
		buf_release(&b);
		cqlresult_free(cols);
	}
	cqlresult_free(tabs);
}

static void columnize_quoted(struct buf *b, char **names)
{
	size_t n = 0;
	while (names && names[n])
		n++;
	struct buf q;
	buf_init(&q);
	size_t *offs = calloc(n + 1, sizeof(*offs));
	const char **v = calloc(n + 1, sizeof(*v));
	for (size_t i = 0; offs && v && i < n; i++) {
		offs[i] = q.len;
		cqlfmt_quote_name(&q, names[i]);
		buf_put_u8(&q, 0);
	}
	if (offs && v && buf_ok(&q)) {
		for (size_t i = 0; i < n; i++)
			v[i] = (const char *)q.data + offs[i];
		cqlfmt_columnize(b, v, n, 80);
	}
	free(offs);
	free(v);
	buf_release(&q);
}

static void describe_keyspaces(struct shell *sh)
{
	struct cqlresult *kss = select_where(sh, KEYSPACES_SELECT, NULL);
	if (!kss)
		return;
	char **names = column_texts(kss, "keyspace_name");
	struct buf b;
	buf_init(&b);
	buf_put_u8(&b, '\n');
	columnize_quoted(&b, names);
	buf_put_u8(&b, '\n');
	emit(&b);
	buf_release(&b);
	free_list(names);
	cqlresult_free(kss);
}

static void describe_tables(struct shell *sh)
{
	struct buf b;
	buf_init(&b);
	buf_put_u8(&b, '\n');
	if (sh->keyspace) {
		struct cqlresult *tabs =
		        select_where(sh, "table_name FROM system_schema.tables", sh->keyspace);
		if (!tabs) {
			buf_release(&b);
			return;
		}
		char **names = column_texts(tabs, "table_name");
		columnize_quoted(&b, names);
		buf_put_u8(&b, '\n');
		free_list(names);
		cqlresult_free(tabs);
	} else {
		struct cqlresult *kss = select_where(sh, KEYSPACES_SELECT, NULL);
		struct cqlresult *tabs =
		        kss ? select_where(sh,
		                           "keyspace_name, table_name FROM system_schema.tables",
		                           NULL)
		            : NULL;
		if (!kss || !tabs) {
			cqlresult_free(kss);
			cqlresult_free(tabs);
			buf_release(&b);
			return;
		}
		char **kn = column_texts(kss, "keyspace_name");
		for (size_t k = 0; kn && kn[k]; k++) {
			struct buf qn;
			buf_init(&qn);
			cqlfmt_quote_name(&qn, kn[k]);
			buf_put_u8(&qn, 0);
			buf_printf(&b, "Keyspace %s\n---------", (const char *)qn.data);
			for (size_t i = 0; i + 1 < qn.len; i++)
				buf_put_u8(&b, '-');
			buf_put_u8(&b, '\n');
			buf_release(&qn);
			char **names = calloc(tabs->n_rows + 1, sizeof(*names));
			size_t n = 0;
			int ck = cqlresult_column(tabs, "keyspace_name"),
			    ct = cqlresult_column(tabs, "table_name");
			for (uint32_t i = 0; names && ck >= 0 && ct >= 0 && i < tabs->n_rows; i++) {
				char *ksn = cqlresult_text(tabs, i, (uint32_t)ck);
				if (ksn && strcmp(ksn, kn[k]) == 0)
					names[n++] = cqlresult_text(tabs, i, (uint32_t)ct);
				free(ksn);
			}
			columnize_quoted(&b, names);
			buf_put_u8(&b, '\n');
			free_list(names);
		}
		free_list(kn);
		cqlresult_free(kss);
		cqlresult_free(tabs);
	}
	emit(&b);
	buf_release(&b);
}

/* Map<text,text> / set<text> cell elements as strings (NULL-terminated lists). */
static size_t coll_strings(const struct cql_slice *v, bool map, char **keys, char **vals,
                           size_t max)
{
	struct bufreader rd;
	bufreader_init(&rd, v->p, v->len > 0 ? (size_t)v->len : 0);
	int32_t cnt = v->len > 0 ? (int32_t)bufreader_u32be(&rd) : 0;
	size_t n = 0;
	for (int32_t i = 0; i < cnt && n < max && bufreader_ok(&rd); i++) {
		uint32_t kl = bufreader_u32be(&rd);
		const uint8_t *k = bufreader_take(&rd, kl);
		const uint8_t *val = NULL;
		uint32_t vl = 0;
		if (map) {
			vl = bufreader_u32be(&rd);
			val = bufreader_take(&rd, vl);
		}
		if (!k || (map && !val))
			break;
		keys[n] = strndup((const char *)k, kl);
		if (map)
			vals[n] = strndup((const char *)val, vl);
		if (!keys[n] || (map && !vals[n])) {
			free(keys[n]);
			if (map)
				free(vals[n]);
			break;
		}
		n++;
	}
	return n;
}

/* Adds the nodes of a system.local / system.peers result to eps. */
static void add_endpoints(struct cqlresult *r, const char *addr_col, struct ring_endpoint *eps,
                          size_t *neps, size_t max, int64_t *toks, size_t *ntoks, size_t max_toks)
{
	int ca = cqlresult_column(r, addr_col), ch = cqlresult_column(r, "host_id"),
	    cd = cqlresult_column(r, "data_center"), cr = cqlresult_column(r, "rack"),
	    ct = cqlresult_column(r, "tokens");
	if (ca < 0 || ch < 0 || cd < 0 || cr < 0 || ct < 0)
		return;
	for (uint32_t i = 0; i < r->n_rows && *neps < max; i++) {
		struct ring_endpoint *e = &eps[*neps];
		memset(e, 0, sizeof(*e));
		const struct cql_slice *a = cqlresult_cell(r, i, (uint32_t)ca);
		const struct cql_slice *h = cqlresult_cell(r, i, (uint32_t)ch);
		if (a->len < 0 || h->len != 16)
			continue;
		struct buf t;
		buf_init(&t);
		cqltype_format(cqltype_simple(CQLTYPE_INET), a->p, (size_t)a->len, &t);
		snprintf(e->address, sizeof(e->address), "%.*s", (int)t.len,
		         t.data ? (const char *)t.data : "");
		buf_release(&t);
		memcpy(e->host_id, h->p, 16);
		char *dc = cqlresult_text(r, i, (uint32_t)cd),
		     *rack = cqlresult_text(r, i, (uint32_t)cr);
		snprintf(e->dc, sizeof(e->dc), "%s", dc ? dc : "");
		snprintf(e->rack, sizeof(e->rack), "%s", rack ? rack : "");
		free(dc);
		free(rack);
		char *strs[4096];
		size_t ns =
		        coll_strings(cqlresult_cell(r, i, (uint32_t)ct), false, strs, NULL, 4096);
		e->tokens = toks + *ntoks;
		for (size_t k = 0; k < ns; k++) {
			char *end = NULL;
			errno = 0;
			long long v = strtoll(strs[k], &end, 10);
			if (!errno && end && !*end && *ntoks < max_toks)
				toks[(*ntoks)++] = v;
			free(strs[k]);
		}
		e->n_tokens = (size_t)(toks + *ntoks - e->tokens);
		if (e->n_tokens)
			(*neps)++;
	}
}

/*
 * cqlsh's "Range ownership:" of DESCRIBE CLUSTER for keyspace ks: the
 * replicas of the range ending at each ring token, from system.local,
 * system.peers and the keyspace's replication (core/ring.h's placement).
 */
static void range_ownership(struct shell *sh, const char *ks, struct buf *out)
{
	enum { MAX_EPS = 1024, MAX_TOKS = 1 << 16 };
	struct cqlresult *kss = select_where(sh, KEYSPACES_SELECT, NULL);
	struct cqlresult *loc =
	        kss ? shell_select(sh, "SELECT * FROM system.local WHERE key = 'local'", true)
	            : NULL;
	struct cqlresult *peers = loc ? shell_select(sh, "SELECT * FROM system.peers", true) : NULL;
	struct ring_endpoint *eps = calloc(MAX_EPS, sizeof(*eps));
	int64_t *toks = calloc(MAX_TOKS, sizeof(*toks));
	struct ring *ring = NULL;
	int row = kss ? find_row(kss, "keyspace_name", ks) : -1;
	int crep = kss ? cqlresult_column(kss, "replication") : -1;
	if (!peers || !eps || !toks || row < 0 || crep < 0)
		goto out;
	size_t neps = 0, ntoks = 0;
	add_endpoints(loc, "rpc_address", eps, &neps, MAX_EPS, toks, &ntoks, MAX_TOKS);
	add_endpoints(peers, "rpc_address", eps, &neps, MAX_EPS, toks, &ntoks, MAX_TOKS);
	char *keys[64], *vals[64];
	size_t nk = coll_strings(cqlresult_cell(kss, (uint32_t)row, (uint32_t)crep), true, keys,
	                         vals, 64);
	struct replication rep;
	struct cerr err = {0};
	int rc = replication_parse((const char *const *)keys, (const char *const *)vals, nk, &rep,
	                           &err);
	for (size_t i = 0; i < nk; i++) {
		free(keys[i]);
		free(vals[i]);
	}
	if (rc == COL_OK && neps)
		rc = ring_new(eps, neps, &ring, &err);
	if (rc != COL_OK || !ring) {
		shell_printerr(sh, "cannot compute the range ownership of '%s': %s", ks, err.msg);
		goto out;
	}
	buf_put_str(out, "Range ownership:\n");
	for (size_t i = 0; i < ring_token_count(ring); i++) {
		int64_t t = ring_token_at(ring, i, NULL);
		uint32_t reps[RING_MAX_RF * RING_MAX_DCS];
		size_t nr = ring_replicas(ring, &rep, t, reps, sizeof(reps) / sizeof(reps[0]));
		char tok[24];
		snprintf(tok, sizeof(tok), "%lld", (long long)t);
		buf_printf(out, " %39s  [", tok);
		for (size_t k = 0; k < nr; k++)
			buf_printf(out, "%s%s", k ? ", " : "",
			           ring_node_at(ring, reps[k])->address);
		buf_put_str(out, "]\n");
	}
	buf_put_u8(out, '\n');
out:
	if (ring)
		ring_unref(ring);
	free(eps);
	free(toks);
	cqlresult_free(kss);
	cqlresult_free(loc);
	cqlresult_free(peers);
}

static void describe_cluster(struct shell *sh)
{
	struct cqlresult *r =
	        shell_select(sh,
	                     "SELECT cluster_name, partitioner FROM system.local WHERE key = "
	                     "'local'",
	                     true);
	if (!r)
		return;
	char *name = r->n_rows ? cqlresult_text(r, 0, 0) : NULL;
	char *part = r->n_rows ? cqlresult_text(r, 0, 1) : NULL;
	const char *p = part ? part : "";
	if (strncmp(p, "org.apache.cassandra.dht.", 25) == 0)
		p += 25;
	struct buf b;
	buf_init(&b);
	buf_printf(&b, "\nCluster: %s\nPartitioner: %s\n\n", name ? name : "", p);
	/* cqlsh adds the token ranges of the keyspace in use, unless it is a system one */
	if (sh->keyspace && !is_system_keyspace(sh->keyspace))
		range_ownership(sh, sh->keyspace, &b);
	emit(&b);
	buf_release(&b);
	free(name);
	free(part);
	cqlresult_free(r);
}

static void describe_schema(struct shell *sh, bool full)
{
	struct cqlresult *kss = select_where(sh, KEYSPACES_SELECT, NULL);
	if (!kss)
		return;
	struct buf b;
	buf_init(&b);
	buf_put_u8(&b, '\n');
	int cn = cqlresult_column(kss, "keyspace_name");
	for (uint32_t i = 0; cn >= 0 && i < kss->n_rows; i++) {
		char *ks = cqlresult_text(kss, i, (uint32_t)cn);
		if (ks && (full || !is_system_keyspace(ks)) && export_keyspace(sh, kss, (int)i, &b))
			buf_put_str(&b, "\n\n");
		free(ks);
	}
	emit(&b);
	buf_release(&b);
	cqlresult_free(kss);
}

/* Parse "[ks.]name" from tokens starting at *pos; false if malformed. */
static bool parse_qualified(const char *s, size_t len, size_t *pos, struct buf *ks,
                            struct buf *name)
{
	struct cqltok t = cqltok_next(s, len, pos);
	if (t.kind != CQLTOK_WORD && t.kind != CQLTOK_QNAME)
		return false;
	size_t save = *pos;
	struct cqltok dot = cqltok_next(s, len, pos);
	if (dot.kind == CQLTOK_PUNCT && s[dot.start] == '.') {
		struct cqltok t2 = cqltok_next(s, len, pos);
		if (t2.kind != CQLTOK_WORD && t2.kind != CQLTOK_QNAME)
			return false;
		cqltok_name(s, &t, ks);
		cqltok_name(s, &t2, name);
	} else {
		*pos = save;
		cqltok_name(s, &t, name);
	}
	buf_put_u8(ks, 0);
	buf_put_u8(name, 0);
	struct cqltok end = cqltok_next(s, len, pos);
	return end.kind == CQLTOK_END && buf_ok(ks) && buf_ok(name);
}

void shell_describe(struct shell *sh, const char *args)
{
	size_t len = strlen(args), pos = 0;
	struct cqltok w = cqltok_next(args, len, &pos);
	size_t after = pos;
	struct cqltok w2 = cqltok_next(args, len, &pos);
	struct buf ks, name;
	buf_init(&ks);
	buf_init(&name);
	if (w.kind == CQLTOK_END) {
		shell_printerr(sh, "Improper DESCRIBE command.");
	} else if (cqltok_is(args, &w, "keyspaces") && w2.kind == CQLTOK_END) {
		describe_keyspaces(sh);
	} else if (cqltok_is(args, &w, "tables") && w2.kind == CQLTOK_END) {
		describe_tables(sh);
	} else if (cqltok_is(args, &w, "cluster") && w2.kind == CQLTOK_END) {
		describe_cluster(sh);
	} else if (cqltok_is(args, &w, "schema") && w2.kind == CQLTOK_END) {
		describe_schema(sh, false);
	} else if (cqltok_is(args, &w, "full") && cqltok_is(args, &w2, "schema")) {
		describe_schema(sh, true);
	} else if (cqltok_is(args, &w, "keyspace")) {
		pos = after;
		if (w2.kind == CQLTOK_END) {
			if (sh->keyspace)
				describe_keyspace(sh, sh->keyspace);
			else
				shell_printerr(sh, "Not in any keyspace.");
		} else if (parse_qualified(args, len, &pos, &ks, &name) && ks.len <= 1) {
			describe_keyspace(sh, (const char *)name.data);
		} else {
			shell_printerr(sh, "Improper DESCRIBE command.");
		}
	} else if (cqltok_is(args, &w, "table") || cqltok_is(args, &w, "columnfamily")) {
		pos = after;
		if (!parse_qualified(args, len, &pos, &ks, &name)) {
			shell_printerr(sh, "Improper DESCRIBE command.");
		} else if (ks.len > 1) {
			describe_table(sh, (const char *)ks.data, (const char *)name.data);
		} else if (sh->keyspace) {
			describe_table(sh, sh->keyspace, (const char *)name.data);
		} else {
			shell_printerr(sh, "No keyspace specified and no current keyspace");
		}
	} else {
		pos = 0;
		if (!parse_qualified(args, len, &pos, &ks, &name)) {
			shell_printerr(sh, "Improper DESCRIBE command.");
		} else if (ks.len > 1) {
			describe_table(sh, (const char *)ks.data, (const char *)name.data);
		} else {
			/* a keyspace, else a table of the current keyspace */
			struct cqlresult *kss = select_where(sh, KEYSPACES_SELECT, NULL);
			if (kss && find_row(kss, "keyspace_name", (const char *)name.data) >= 0)
				describe_keyspace(sh, (const char *)name.data);
			else if (kss && sh->keyspace)
				describe_table(sh, sh->keyspace, (const char *)name.data);
			else if (kss)
				shell_printerr(sh, "'%s' not found in keyspaces",
				               (const char *)name.data);
			cqlresult_free(kss);
		}
	}
	buf_release(&ks);
	buf_release(&name);
}
