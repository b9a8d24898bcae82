/*
 * cqlfmt.c — cqlsh's text layouts; see cqlfmt.h.
 */
#include "cli/lib/cqlfmt.h"

#include "core/cqlproto.h"
#include "core/cqltype.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>

/* ---- widths -----------------------------------------------------------------------------------
 */

/* Decode one UTF-8 sequence at s[0..len); returns its length (1 for invalid bytes). */
static size_t utf8_next(const unsigned char *s, size_t len, unsigned *cp)
{
	unsigned c = s[0];
	size_t n;
	unsigned v;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xE0) == 0xC0) {
		n = 2;
		v = c & 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		n = 3;
		v = c & 0x0F;
	} else if ((c & 0xF8) == 0xF0) {
		n = 4;
		v = c & 0x07;
	} else {
		*cp = 0xFFFD;
		return 1;
	}
	if (n > len) {
		*cp = 0xFFFD;
		return 1;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80) {
			*cp = 0xFFFD;
			return 1;
		}
		v = (v << 6) | (s[i] & 0x3F);
	}
	*cp = v;
	return n;
}

/* East Asian wide and fullwidth ranges (for when wcwidth() has no UTF-8 locale). */
static int wide_cp(unsigned cp)
{
	return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
	       (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
	       (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
	       (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
	       (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

size_t cqlfmt_width(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0;
	for (size_t i = 0; i < len;) {
		unsigned cp;
		i += utf8_next(p + i, len - i, &cp);
		if (cp < 0x80) {
			w += 1;
			continue;
		}
		int cw = wcwidth((wchar_t)cp);
		if (cw < 0)
			cw = wide_cp(cp) ? 2 : 1;
		w += (size_t)cw;
	}
	return w;
}

static void pad(struct buf *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_put_u8(out, ' ');
}

/* ---- values -----------------------------------------------------------------------------------
 */

/* cqlsh's format_value_text: backslashes doubled, control characters as Python escapes. */
static void put_escaped_text(struct buf *out, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];
		if (c == '\\')
			buf_put_str(out, "\\\\");
		else if (c == '\n')
			buf_put_str(out, "\\n");
		else if (c == '\t')
			buf_put_str(out, "\\t");
		else if (c == '\r')
			buf_put_str(out, "\\r");
		else if (c < 0x20 || c == 0x7f)
			buf_printf(out, "\\x%02x", c);
		else
			buf_put_u8(out, c);
	}
}

void cqlfmt_value(struct buf *out, const struct cqltype *t, const struct cql_slice *v)
{
	if (v->len < 0) {
		buf_put_str(out, "null");
		return;
	}
	if ((t->kind == CQLTYPE_VARCHAR || t->kind == CQLTYPE_ASCII) &&
	    cqltype_validate(t, v->p, (size_t)v->len, NULL) == COL_OK) {
		put_escaped_text(out, v->p, (size_t)v->len);
		return;
	}
	if (cqltype_is_collection(t)) {
		/* Text elements get the same escapes inside collections (cqlsh formats them
		 * with format_value_text too); no other element type yields a control
		 * character or a backslash. */
		struct buf tmp;
		buf_init(&tmp);
		cqltype_format(t, v->p, (size_t)v->len, &tmp);
		if (!buf_ok(&tmp))
			out->oom = true;
		put_escaped_text(out, tmp.data, tmp.len);
		buf_release(&tmp);
		return;
	}
	cqltype_format(t, v->p, (size_t)v->len, out);
}

static const char *value_color(const struct cqltype *t, bool null)
{
	if (null)
		return CQLFMT_RED;
	switch (t->kind) {
	case CQLTYPE_ASCII:
	case CQLTYPE_VARCHAR: return CQLFMT_YELLOW;
	case CQLTYPE_BLOB: return CQLFMT_DARK_MAGENTA;
	case CQLTYPE_LIST:
	case CQLTYPE_SET:
	case CQLTYPE_MAP: return CQLFMT_BLUE;
	case CQLTYPE_CUSTOM: return CQLFMT_YELLOW;
	default: return CQLFMT_GREEN;
	}
}

static const char *name_color(const struct cqlfmt_opts *o, uint32_t col)
{
	if (!o->roles)
		return CQLFMT_MAGENTA;
	switch (o->roles[col]) {
	case CQLFMT_PARTITION_KEY: return CQLFMT_RED;
	case CQLFMT_CLUSTERING: return CQLFMT_CYAN;
	case CQLFMT_STATIC: return CQLFMT_WHITE;
	default: return CQLFMT_MAGENTA;
	}
}

/* A formatted cell: its text (offset into a shared buffer), width and colour. */
struct cell {
	size_t off, len, width;
	const char *color;
};

static void put_colored(struct buf *out, const struct buf *text, const struct cell *c, bool color)
{
	if (color && c->color)
		buf_put_str(out, c->color);
	buf_put(out, text->data + c->off, c->len);
	if (color && c->color)
		buf_put_str(out, CQLFMT_RESET);
}

/* Every cell of a result as text: row 0 the column names, then the values;
 * widths[j] the widest of column j. */
struct grid {
	struct buf text; /* cells index into text.data */
	struct cell *cells;
	size_t *widths;
	uint32_t nc;
	size_t ncells;
};

static int grid_fill(struct grid *g, const struct cqlresult *r, const struct cqlfmt_opts *o)
{
	uint32_t nc = g->nc;
	/* Allocated up front: cells index into text.data even when all are empty. */
	if (buf_reserve(&g->text, 256) != COL_OK)
		return COL_ENOMEM;
	g->ncells = (size_t)nc * (1 + (size_t)r->n_rows);
	g->cells = calloc(g->ncells, sizeof(*g->cells));
	g->widths = calloc(nc, sizeof(*g->widths));
	if (!g->cells || !g->widths)
		return COL_ENOMEM;
	for (uint32_t j = 0; j < nc; j++) {
		struct cell *c = &g->cells[j];
		c->off = g->text.len;
		buf_put_str(&g->text, r->meta.cols[j].name);
		c->len = g->text.len - c->off;
		c->width = cqlfmt_width((const char *)g->text.data + c->off, c->len);
		c->color = name_color(o, j);
		g->widths[j] = c->width;
	}
	for (uint32_t i = 0; i < r->n_rows; i++)
		for (uint32_t j = 0; j < nc; j++) {
			struct cell *c = &g->cells[(size_t)(i + 1) * nc + j];
			const struct cql_slice *v = cqlresult_cell(r, i, j);
			c->off = g->text.len;
			cqlfmt_value(&g->text, r->meta.cols[j].type, v);
			c->len = g->text.len - c->off;
			c->width = cqlfmt_width((const char *)g->text.data + c->off, c->len);
			c->color = value_color(r->meta.cols[j].type, v->len < 0);
			if (c->width > g->widths[j])
				g->widths[j] = c->width;
		}
	return buf_ok(&g->text) ? COL_OK : COL_ENOMEM;
}

static void grid_release(struct grid *g)
{
	free(g->cells);
	free(g->widths);
	buf_release(&g->text);
}

/* EXPAND ON: "@ Row N" and one "name | value" line per column. */
static void put_expanded(struct buf *out, const struct grid *g, uint32_t n_rows,
                         const struct cqlfmt_opts *o, uint64_t row_offset)
{
	uint32_t nc = g->nc;
	size_t wn = 0, wv = 0;
	for (uint32_t j = 0; j < nc; j++)
		if (g->cells[j].width > wn)
			wn = g->cells[j].width;
	for (size_t k = nc; k < g->ncells; k++)
		if (g->cells[k].width > wv)
			wv = g->cells[k].width;
	for (uint32_t i = 0; i < n_rows; i++) {
		buf_printf(out, "@ Row %llu\n", (unsigned long long)(row_offset + i + 1));
		buf_put_u8(out, '-');
		for (size_t k = 0; k < wn; k++)
			buf_put_u8(out, '-');
		buf_put_str(out, "-+-");
		for (size_t k = 0; k < wv; k++)
			buf_put_u8(out, '-');
		buf_put_str(out, "-\n");
		for (uint32_t j = 0; j < nc; j++) {
			buf_put_u8(out, ' ');
			put_colored(out, &g->text, &g->cells[j], o->color);
			pad(out, wn - g->cells[j].width);
			buf_put_str(out, " | ");
			put_colored(out, &g->text, &g->cells[(size_t)(i + 1) * nc + j], o->color);
			buf_put_u8(out, '\n');
		}
		buf_put_u8(out, '\n');
	}
}

/* The column names (right-trimmed) and the dashed rule under them. */
static void put_header(struct buf *out, const struct grid *g, const struct cqlfmt_opts *o)
{
	size_t line_start = out->len;
	buf_put_u8(out, ' ');
	for (uint32_t j = 0; j < g->nc; j++) {
		if (j)
			buf_put_str(out, " | ");
		put_colored(out, &g->text, &g->cells[j], o->color);
		pad(out, g->widths[j] - g->cells[j].width);
	}
	/* header.rstrip() */
	while (out->len > line_start && out->data[out->len - 1] == ' ')
		out->len--;
	buf_put_u8(out, '\n');
	buf_put_u8(out, '-');
	for (uint32_t j = 0; j < g->nc; j++) {
		if (j)
			buf_put_str(out, "-+-");
		for (size_t k = 0; k < g->widths[j]; k++)
			buf_put_u8(out, '-');
	}
	buf_put_str(out, "-\n");
}

void cqlfmt_rows(struct buf *out, const struct cqlresult *r, const struct cqlfmt_opts *o,
                 bool with_header, uint64_t row_offset)
{
	uint32_t nc = r->meta.n_cols;
	if (nc == 0 || !r->meta.cols)
		return;
	struct grid g = {.nc = nc};
	buf_init(&g.text);
	if (grid_fill(&g, r, o) != COL_OK) {
		out->oom = true;
		grid_release(&g);
		return;
	}
	if (o->expand && r->n_rows > 0) {
		put_expanded(out, &g, r->n_rows, o, row_offset);
		grid_release(&g);
		return;
	}
	if (with_header || r->n_rows == 0)
		put_header(out, &g, o);
	if (r->n_rows == 0) {
		buf_put_u8(out, '\n');
		grid_release(&g);
		return;
	}
	for (uint32_t i = 0; i < r->n_rows; i++) {
		buf_put_u8(out, ' ');
		for (uint32_t j = 0; j < nc; j++) {
			const struct cell *c = &g.cells[(size_t)(i + 1) * nc + j];
			if (j)
				buf_put_str(out, " | ");
			pad(out, g.widths[j] - c->width);
			put_colored(out, &g.text, c, o->color);
		}
		buf_put_u8(out, '\n');
	}
	if (o->tty)
		buf_put_u8(out, '\n');
	grid_release(&g);
}

/* ---- errors -----------------------------------------------------------------------------------
 */

/* The python driver's exception class and summary for each code (cassandra/protocol.py). */
struct errdesc {
	uint32_t code;
	const char *cls;
	const char *summary;
	/* How cqlsh prints it: 0 = message only (ErrorMessage subclasses keep .message),
	 * 1 = "Error from server: ..." summary, 2 = summary + info dict. */
	int style;
};

static const struct errdesc errdescs[] = {
        {CQL_ERR_SERVER, "ServerError", "Server error", 0},
        {CQL_ERR_PROTOCOL, "ProtocolException", "Protocol error", 0},
        {CQL_ERR_BAD_CREDENTIALS, "BadCredentials", "Bad credentials", 0},
        {CQL_ERR_UNAVAILABLE, "Unavailable", "Unavailable exception", 2},
        {CQL_ERR_OVERLOADED, "OverloadedErrorMessage", "Coordinator node overloaded", 0},
        {CQL_ERR_BOOTSTRAPPING, "IsBootstrappingErrorMessage", "Coordinator node is bootstrapping",
         0},
        {CQL_ERR_TRUNCATE, "TruncateError", "Error during truncate", 0},
        {CQL_ERR_WRITE_TIMEOUT, "WriteTimeout",
         "Coordinator node timed out waiting for replica nodes' responses", 2},
        {CQL_ERR_READ_TIMEOUT, "ReadTimeout",
         "Coordinator node timed out waiting for replica nodes' responses", 2},
        {CQL_ERR_READ_FAILURE, "ReadFailure", "Replica(s) failed to execute read", 2},
        {CQL_ERR_FUNCTION_FAILURE, "FunctionFailure", "User Defined Function failure", 1},
        {CQL_ERR_WRITE_FAILURE, "WriteFailure", "Replica(s) failed to execute write", 2},
        {CQL_ERR_SYNTAX, "SyntaxException", "Syntax error in CQL query", 0},
        {CQL_ERR_UNAUTHORIZED, "Unauthorized", "Unauthorized", 1},
        {CQL_ERR_INVALID, "InvalidRequest", "Invalid query", 1},
        {CQL_ERR_CONFIG, "ConfigurationException", "Query invalid because of configuration issue",
         0},
        {CQL_ERR_ALREADY_EXISTS, "AlreadyExists", "Item already exists", 3},
        {CQL_ERR_UNPREPARED, "PreparedQueryNotFound",
         "Matching prepared statement not found on this node", 0},
};

static const struct errdesc *errdesc_find(uint32_t code)
{
	for (size_t i = 0; i < sizeof(errdescs) / sizeof(errdescs[0]); i++)
		if (errdescs[i].code == code)
			return &errdescs[i];
	return NULL;
}

const char *cqlfmt_error_class(uint32_t code)
{
	const struct errdesc *d = errdesc_find(code);
	return d ? d->cls : "ErrorMessage";
}

static void put_cl(struct buf *out, uint16_t cl)
{
	const char *n = cql_consistency_name(cl);
	if (n)
		buf_printf(out, "'%s'", n);
	else
		buf_put_str(out, "None");
}

void cqlfmt_error(struct buf *out, const struct cql_error_info *e)
{
	const struct errdesc *d = errdesc_find(e->code);
	const char *msg = e->message ? e->message : "";
	if (!d) {
		buf_printf(out, "ErrorMessage: %s", msg);
		return;
	}
	buf_printf(out, "%s: ", d->cls);
	if (d->style == 0) {
		buf_put_str(out, msg);
		return;
	}
	if (d->style == 3) { /* cassandra.AlreadyExists builds its own text */
		if (e->table && e->table[0])
			buf_printf(out, "Table '%s.%s' already exists",
			           e->keyspace ? e->keyspace : "", e->table);
		else
			buf_printf(out, "Keyspace '%s' already exists",
			           e->keyspace ? e->keyspace : "");
		return;
	}
	buf_printf(out, "Error from server: code=%04x [%s] message=\"%s\"", e->code, d->summary,
	           msg);
	if (d->style == 1)
		return;
	buf_put_str(out, " info={'consistency': ");
	put_cl(out, e->consistency);
	switch (e->code) {
	case CQL_ERR_UNAVAILABLE:
		buf_printf(out, ", 'required_replicas': %d, 'alive_replicas': %d}", e->required,
		           e->alive);
		break;
	case CQL_ERR_WRITE_TIMEOUT:
		buf_printf(out,
		           ", 'required_responses': %d, 'received_responses': %d, "
		           "'write_type': '%s'}",
		           e->required, e->received, e->write_type ? e->write_type : "");
		break;
	case CQL_ERR_READ_TIMEOUT:
		buf_printf(out, ", 'required_responses': %d, 'received_responses': %d}",
		           e->required, e->received);
		break;
	default: /* read/write failure */
		buf_printf(out,
		           ", 'required_responses': %d, 'received_responses': %d, "
		           "'failures': %d}",
		           e->required, e->received, e->failures);
		break;
	}
}

/* ---- columnize --------------------------------------------------------------------------------
 */

void cqlfmt_columnize(struct buf *out, const char *const *items, size_t n, size_t width)
{
	if (n == 0) {
		buf_put_str(out, "<empty>\n");
		return;
	}
	if (n == 1) {
		buf_printf(out, "%s\n", items[0]);
		return;
	}
	size_t *lens = calloc(n, sizeof(*lens));
	size_t *colw = calloc(n, sizeof(*colw));
	if (!lens || !colw) {
		free(lens);
		free(colw);
		out->oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		lens[i] = cqlfmt_width(items[i], strlen(items[i]));
	size_t nrows = 0, ncols = 0;
	bool fit = false;
	for (nrows = 1; nrows < n; nrows++) {
		ncols = (n + nrows - 1) / nrows;
		long tot = -2;
		for (size_t col = 0; col < ncols; col++) {
			size_t cw = 0;
			for (size_t row = 0; row < nrows; row++) {
				size_t i = row + nrows * col;
				if (i >= n)
					break;
				if (lens[i] > cw)
					cw = lens[i];
			}
			colw[col] = cw;
			tot += (long)cw + 2;
			if (tot > (long)width)
				break;
		}
		if (tot <= (long)width) {
			fit = true;
			break;
		}
	}
	if (!fit) {
		nrows = n;
		ncols = 1;
		colw[0] = 0;
	}
	for (size_t row = 0; row < nrows; row++) {
		/* Trailing empty cells are dropped, as Python does. */
		size_t last = 0;
		for (size_t col = 0; col < ncols; col++)
			if (row + nrows * col < n)
				last = col + 1;
		for (size_t col = 0; col < last; col++) {
			size_t i = row + nrows * col;
			if (col)
				buf_put_str(out, "  ");
			buf_put_str(out, items[i]);
			if (colw[col] > lens[i]) /* Python pads the last column too */
				pad(out, colw[col] - lens[i]);
		}
		buf_put_u8(out, '\n');
	}
	free(lens);
	free(colw);
}

/* ---- CQL quoting ------------------------------------------------------------------------------
 */

/*
 * The python driver's cql_keywords_reserved (cassandra/metadata.py), which
 * cqlsh quotes names by: Cassandra's reserved keywords less DEFAULT.
 */
bool cqlfmt_is_reserved(const char *word)
{
	return strcasecmp(word, "default") != 0 && cql_is_reserved(word, strlen(word));
}

void cqlfmt_quote_name(struct buf *out, const char *name)
{
	cql_quote_name(out, name, cqlfmt_is_reserved);
}

void cqlfmt_quote_string(struct buf *out, const char *s, size_t len)
{
	cql_quote_string(out, s, len);
}
