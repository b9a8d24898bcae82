/*
 * cqldesc.c — DESCRIBE's CREATE statements; see cqldesc.h.
 */
#include "cli/lib/cqldesc.h"

#include "cli/lib/cqlfmt.h"
#include "core/cqltype.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void cqldesc_keyspace(struct buf *out, const char *name, bool durable_writes,
                      const char *const *repl_keys, const char *const *repl_vals, size_t n)
{
	buf_put_str(out, "CREATE KEYSPACE ");
	cqlfmt_quote_name(out, name);
	buf_put_str(out, " WITH replication = {");
	bool first = true;
	for (size_t i = 0; i < n; i++)
		if (strcmp(repl_keys[i], "class") == 0) {
			buf_put_str(out, "'class': ");
			cqlfmt_quote_string(out, repl_vals[i], strlen(repl_vals[i]));
			first = false;
		}
	/* The other keys in name order: sort indexes by key. */
	const char **keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys) {
		out->oom = true;
		return;
	}
	size_t nk = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(repl_keys[i], "class") != 0)
			keys[nk++] = repl_keys[i];
	qsort(keys, nk, sizeof(*keys), cmp_str);
	for (size_t k = 0; k < nk; k++)
		for (size_t i = 0; i < n; i++)
			if (repl_keys[i] == keys[k]) {
				if (!first)
					buf_put_str(out, ", ");
				first = false;
				cqlfmt_quote_string(out, repl_keys[i], strlen(repl_keys[i]));
				buf_put_str(out, ": ");
				cqlfmt_quote_string(out, repl_vals[i], strlen(repl_vals[i]));
			}
	free(keys);
	buf_printf(out, "}  AND durable_writes = %s", durable_writes ? "true" : "false");
}

static const struct cqldesc_column **sorted_of_kind(const struct cqldesc_column *cols, size_t n,
                                                    const char *kind, size_t *count)
{
	const struct cqldesc_column **v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(cols[i].kind, kind) == 0)
			v[k++] = &cols[i];
	/* insertion sort: by position for keys, by name otherwise */
	bool by_pos = strcmp(kind, "partition_key") == 0 || strcmp(kind, "clustering") == 0;
	for (size_t i = 1; i < k; i++)
		for (size_t j = i; j > 0; j--) {
			bool swap = by_pos ? v[j - 1]->position > v[j]->position
			                   : strcmp(v[j - 1]->name, v[j]->name) > 0;
			if (!swap)
				break;
			const struct cqldesc_column *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*count = k;
	return v;
}

static int cmp_opt(const void *a, const void *b)
{
	return strcmp(((const struct cqldesc_option *)a)->name,
	              ((const struct cqldesc_option *)b)->name);
}

void cqldesc_table(struct buf *out, const char *ks, const char *table,
                   const struct cqldesc_column *cols, size_t ncols,
                   const struct cqldesc_option *opts, size_t nopts)
{
	size_t npk = 0, nck = 0, nreg = 0, nst = 0;
	const struct cqldesc_column **pk = sorted_of_kind(cols, ncols, "partition_key", &npk);
	const struct cqldesc_column **ck = sorted_of_kind(cols, ncols, "clustering", &nck);
	const struct cqldesc_column **reg = sorted_of_kind(cols, ncols, "regular", &nreg);
	const struct cqldesc_column **st = sorted_of_kind(cols, ncols, "static", &nst);
	struct cqldesc_option *so = calloc(nopts ? nopts : 1, sizeof(*so));
	if (!pk || !ck || !reg || !st || !so) {
		out->oom = true;
		goto out;
	}
	buf_put_str(out, "CREATE TABLE ");
	cqlfmt_quote_name(out, ks);
	buf_put_u8(out, '.');
	cqlfmt_quote_name(out, table);
	buf_put_str(out, " (\n");
	/* Static and regular columns together, by name. */
	const struct cqldesc_column **rest = calloc(nreg + nst + 1, sizeof(*rest));
	if (!rest) {
		out->oom = true;
		goto out;
	}
	size_t nrest = 0;
	for (size_t i = 0, j = 0; i < nreg || j < nst;) {
		if (j >= nst || (i < nreg && strcmp(reg[i]->name, st[j]->name) < 0))
			rest[nrest++] = reg[i++];
		else
			rest[nrest++] = st[j++];
	}
	bool first = true;
	const struct cqldesc_column **groups[3] = {pk, ck, rest};
	size_t counts[3] = {npk, nck, nrest};
	for (int g = 0; g < 3; g++)
		for (size_t i = 0; i < counts[g]; i++) {
			const struct cqldesc_column *c = groups[g][i];
			if (!first)
				buf_put_str(out, ",\n");
			first = false;
			buf_put_str(out, "    ");
			cqlfmt_quote_name(out, c->name);
			buf_printf(out, " %s", c->type);
			if (strcmp(c->kind, "static") == 0)
				buf_put_str(out, " static");
			if (g == 0 && npk == 1 && nck == 0)
				buf_put_str(out, " PRIMARY KEY");
		}
	free(rest);
	if (npk > 1 || nck > 0) {
		buf_put_str(out, ",\n    PRIMARY KEY (");
		if (npk > 1) {
			buf_put_u8(out, '(');
			for (size_t i = 0; i < npk; i++) {
				if (i)
					buf_put_str(out, ", ");
				cqlfmt_quote_name(out, pk[i]->name);
			}
			buf_put_u8(out, ')');
		} else if (npk == 1) {
			cqlfmt_quote_name(out, pk[0]->name);
		}
		for (size_t i = 0; i < nck; i++) {
			buf_put_str(out, ", ");
			cqlfmt_quote_name(out, ck[i]->name);
		}
		buf_put_u8(out, ')');
	}
	buf_put_str(out, "\n)");
	if (nopts)
		memcpy(so, opts, nopts * sizeof(*so));
	qsort(so, nopts, sizeof(*so), cmp_opt);
	bool any = false;
	if (nck) {
		buf_put_str(out, " WITH CLUSTERING ORDER BY (");
		for (size_t i = 0; i < nck; i++) {
			if (i)
				buf_put_str(out, ", ");
			cqlfmt_quote_name(out, ck[i]->name);
			buf_put_str(out, ck[i]->order && strcmp(ck[i]->order, "desc") == 0
			                         ? " DESC"
			                         : " ASC");
		}
		buf_put_u8(out, ')');
		any = true;
	}
	for (size_t i = 0; i < nopts; i++) {
		buf_put_str(out, any ? "\n    AND " : " WITH ");
		any = true;
		buf_printf(out, "%s = %s", so[i].name, so[i].literal);
	}
out:
	free(pk);
	free(ck);
	free(reg);
	free(st);
	free(so);
}

/* Python's repr() of a float: the shortest text that reads back the same. */
static void put_double_repr(struct buf *out, double v)
{
	if (cqltype_put_nonfinite(out, v))
		return;
	char tmp[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	buf_put_str(out, tmp);
	if (!strpbrk(tmp, ".eE"))
		buf_put_str(out, ".0");
}

static void literal_depth(struct buf *out, const struct cqltype *t, const uint8_t *p, size_t len,
                          int depth)
{
	if (depth > CQLTYPE_MAX_DEPTH || cqltype_validate(t, p, len, NULL) != COL_OK) {
		buf_put_str(out, "null");
		return;
	}
	switch (t->kind) {
	case CQLTYPE_ASCII:
	case CQLTYPE_VARCHAR:
	case CQLTYPE_INET:
		if (t->kind == CQLTYPE_INET) {
			struct buf tmp;
			buf_init(&tmp);
			cqltype_format(t, p, len, &tmp);
			cqlfmt_quote_string(out, (const char *)tmp.data, tmp.len);
			buf_release(&tmp);
		} else {
			cqlfmt_quote_string(out, (const char *)p, len);
		}
		return;
	case CQLTYPE_BOOLEAN: buf_put_str(out, len && p[0] ? "true" : "false"); return;
	case CQLTYPE_DOUBLE:
		if (len == 8) {
			uint64_t u = be64_load(p);
			double d;
			memcpy(&d, &u, sizeof(d));
			put_double_repr(out, d);
			return;
		}
		break;
	case CQLTYPE_FLOAT:
		if (len == 4) {
			uint32_t u = be32_load(p);
			float f;
			memcpy(&f, &u, sizeof(f));
			put_double_repr(out, (double)f);
			return;
		}
		break;
	case CQLTYPE_LIST:
	case CQLTYPE_SET:
	case CQLTYPE_MAP: {
		struct bufreader r;
		bufreader_init(&r, p, len);
		int32_t n = len ? (int32_t)bufreader_u32be(&r) : 0;
		buf_put_u8(out, t->kind == CQLTYPE_LIST ? '[' : '{');
		for (int32_t i = 0; i < n && bufreader_ok(&r); i++) {
			if (i)
				buf_put_str(out, ", ");
			uint32_t el = bufreader_u32be(&r);
			const uint8_t *ep = bufreader_take(&r, el);
			if (!ep)
				break;
			literal_depth(out, t->elem, ep, el, depth + 1);
			if (t->kind == CQLTYPE_MAP) {
				buf_put_str(out, ": ");
				el = bufreader_u32be(&r);
				ep = bufreader_take(&r, el);
				if (!ep)
					break;
				literal_depth(out, t->value, ep, el, depth + 1);
			}
		}
		buf_put_u8(out, t->kind == CQLTYPE_LIST ? ']' : '}');
		return;
	}
	default: break;
	}
	if (t->kind == CQLTYPE_TIMESTAMP || t->kind == CQLTYPE_DATE || t->kind == CQLTYPE_TIME) {
		struct buf tmp;
		buf_init(&tmp);
		cqltype_format(t, p, len, &tmp);
		cqlfmt_quote_string(out, (const char *)tmp.data, tmp.len);
		buf_release(&tmp);
		return;
	}
	cqltype_format(t, p, len, out);
}

void cqldesc_literal(struct buf *out, const struct cqltype *t, const struct cql_slice *v)
{
	if (v->len < 0)
		return;
	literal_depth(out, t, v->p, (size_t)v->len, 0);
}

static const char *const table_options[] = {
        "additional_write_policy",
        "bloom_filter_fp_chance",
        "caching",
        "cdc",
        "comment",
        "compaction",
        "compression",
        "crc_check_chance",
        "dclocal_read_repair_chance",
        "default_time_to_live",
        "extensions",
        "gc_grace_seconds",
        "max_index_interval",
        "memtable_flush_period_in_ms",
        "min_index_interval",
        "read_repair",
        "read_repair_chance",
        "speculative_retry",
};

bool cqldesc_is_table_option(const char *name)
{
	for (size_t i = 0; i < sizeof(table_options) / sizeof(table_options[0]); i++)
		if (strcmp(name, table_options[i]) == 0)
			return true;
	return false;
}
