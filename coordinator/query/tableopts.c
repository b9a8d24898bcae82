#include "coordinator/query/tableopts.h"

#include "coordinator/cql/cql_ast.h"
#include "coordinator/query/query_int.h"
#include "coordinator/replication/request.h"
#include "coordinator/schema/schema.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- what a table shows ------------------------------------------------------------------ */

static const char *const dflt_caching[] = {"keys", "ALL", "rows_per_partition", "NONE"};
static const char *const dflt_compaction[] = {
        "class", "org.apache.cassandra.db.compaction.LeveledCompactionStrategy"};
static const char *const dflt_compression[] = {"chunk_length_in_kb", "64", "class",
                                               "org.apache.cassandra.io.compress.ZstdCompressor"};

static void set_map(const char **dst, size_t *n, const char *const *src, size_t pairs)
{
	memcpy(dst, src, pairs * 2 * sizeof(*dst));
	*n = pairs;
}

/* The kept entries "name.key" of a map option (sorted, as the list is), if any. */
static void kept_map(const struct schema_table *t, const char *name, const char **dst, size_t *n)
{
	size_t nl = strlen(name), k = 0;
	for (uint32_t i = 0; i < t->n_opts && k < TABLEOPTS_MAX_MAP; i++) {
		const struct schema_table_opt *o = &t->opts[i];
		if (strncmp(o->name, name, nl) == 0 && o->name[nl] == '.') {
			dst[2 * k] = o->name + nl + 1;
			dst[2 * k + 1] = o->value;
			k++;
		}
	}
	if (k)
		*n = k;
}

static const char *kept(const struct schema_table *t, const char *name)
{
	for (uint32_t i = 0; i < t->n_opts; i++)
		if (strcmp(t->opts[i].name, name) == 0)
			return t->opts[i].value;
	return NULL;
}

void table_opts_get(const struct schema_table *t, struct table_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->additional_write_policy = "99p";
	o->bloom_filter_fp_chance = 0.01;
	set_map(o->caching, &o->n_caching, dflt_caching, 2);
	o->comment = t->comment ? t->comment : "";
	set_map(o->compaction, &o->n_compaction, dflt_compaction, 1);
	set_map(o->compression, &o->n_compression, dflt_compression, 2);
	o->crc_check_chance = 1.0;
	o->default_time_to_live = t->default_time_to_live;
	o->gc_grace_seconds = t->gc_grace_seconds;
	o->max_index_interval = 2048;
	o->min_index_interval = 128;
	o->read_repair = "BLOCKING";
	o->speculative_retry = t->speculative_retry ? t->speculative_retry : "99p";
	if (!t->n_opts)
		return;
	const char *v;
	if ((v = kept(t, "additional_write_policy")))
		o->additional_write_policy = v;
	if ((v = kept(t, "bloom_filter_fp_chance")))
		o->bloom_filter_fp_chance = strtod(v, NULL);
	if ((v = kept(t, "cdc")))
		o->cdc = strcmp(v, "true") == 0;
	if ((v = kept(t, "crc_check_chance")))
		o->crc_check_chance = strtod(v, NULL);
	if ((v = kept(t, "max_index_interval")))
		o->max_index_interval = (int32_t)strtol(v, NULL, 10);
	if ((v = kept(t, "memtable_flush_period_in_ms")))
		o->memtable_flush_period_in_ms = (int32_t)strtol(v, NULL, 10);
	if ((v = kept(t, "min_index_interval")))
		o->min_index_interval = (int32_t)strtol(v, NULL, 10);
	if ((v = kept(t, "read_repair")))
		o->read_repair = v;
	kept_map(t, "caching", o->caching, &o->n_caching);
	kept_map(t, "compaction", o->compaction, &o->n_compaction);
	kept_map(t, "compression", o->compression, &o->n_compression);
}

/* ---- what a statement sets ---------------------------------------------------------------- */

enum topt_kind { TK_DOUBLE, TK_INT, TK_BOOL, TK_POLICY, TK_READ_REPAIR, TK_MAP, TK_DROP };

static const struct {
	const char *name;
	enum topt_kind kind;
} topts[] = {
        {"additional_write_policy", TK_POLICY},
        {"bloom_filter_fp_chance", TK_DOUBLE},
        {"caching", TK_MAP},
        {"cdc", TK_BOOL},
        {"compaction", TK_MAP},
        {"compression", TK_MAP},
        {"crc_check_chance", TK_DOUBLE},
        {"dclocal_read_repair_chance", TK_DROP},
        {"extensions", TK_DROP},
        {"max_index_interval", TK_INT},
        {"memtable_flush_period_in_ms", TK_INT},
        {"min_index_interval", TK_INT},
        {"read_repair", TK_READ_REPAIR},
        {"read_repair_chance", TK_DROP},
};

static int topt_index(const char *name)
{
	for (size_t i = 0; i < sizeof(topts) / sizeof(topts[0]); i++)
		if (strcmp(topts[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool tableopts_handles(const char *name)
{
	return topt_index(name) >= 0;
}

static void push(struct topt_list *l, const char *name, const char *key, const char *value)
{
	if (l->n == l->cap) {
		uint32_t cap = l->cap ? l->cap * 2 : 16;
		struct schema_table_opt *v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			l->oom = true;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	size_t nl = strlen(name) + (key ? strlen(key) + 1 : 0) + 1;
	char *n = malloc(nl), *val = strdup(value);
	if (!n || !val) {
		free(n);
		free(val);
		l->oom = true;
		return;
	}
	snprintf(n, nl, key ? "%s.%s" : "%s", name, key ? key : "");
	l->v[l->n++] = (struct schema_table_opt){n, val};
}

static void note(char *list, size_t cap, const char *name)
{
	size_t at = strlen(list);
	if (at + strlen(name) + 3 < cap)
		snprintf(list + at, cap - at, "%s%s", at ? ", " : "", name);
}

/* A literal's text (string, number, boolean, word), or NULL for anything else. */
static const char *scalar_text(const struct cql_term *v)
{
	if (!v || !v->text || memchr(v->text, 0, v->text_len))
		return NULL;
	switch (v->kind) {
	case CQL_TERM_STRING:
	case CQL_TERM_INTEGER:
	case CQL_TERM_FLOAT:
	case CQL_TERM_BOOL:
	case CQL_TERM_IDENT: return v->text;
	default: return NULL;
	}
}

static int add_double(struct exec_req *req, const char *name, const char *s, struct topt_list *l)
{
	char *end;
	double d = s ? strtod(s, &end) : 0;
	if (!s || !*s || *end || !isfinite(d))
		return req_fail(req, COL_ESYNTAX, "Invalid double value %s for '%s'", s ? s : "?",
		                name);
	/* canonical: the shortest text that reads back, with a decimal point (as Java) */
	char buf[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (!strpbrk(buf, ".eE"))
		strcat(buf, ".0");
	bool bloom = name[0] == 'b';
	if (bloom && (d <= 0 || d > 1.0))
		return req_fail(req, COL_ECONFIG,
		                "%s must be larger than 0.0 and less than or equal to 1.0 (got %s)",
		                name, buf);
	if (!bloom && (d < 0 || d > 1.0))
		return req_fail(req, COL_ECONFIG,
		                "%s must be larger than or equal to 0 and smaller than or equal to "
		                "1.0 (got %s)",
		                name, buf);
	push(l, name, NULL, buf);
	return 0;
}

static int add_int(struct exec_req *req, const char *name, const char *s, struct topt_list *l)
{
	char *end;
	long long v = s ? strtoll(s, &end, 10) : 0;
	if (!s || !*s || *end || v < INT32_MIN || v > INT32_MAX)
		return req_fail(req, COL_ESYNTAX, "Invalid integer value %s for '%s'", s ? s : "?",
		                name);
	bool flush = name[1] == 'e';
	if (flush && v < 0)
		return req_fail(req, COL_ECONFIG,
		                "%s must be greater than or equal to 0 (got %lld)", name, v);
	if (!flush && strncmp(name, "min", 3) == 0 && v < 1)
		return req_fail(req, COL_ECONFIG,
		                "%s must be greater than or equal to 1 (got %lld)", name, v);
	char buf[24];
	snprintf(buf, sizeof(buf), "%lld", v);
	push(l, name, NULL, buf);
	return 0;
}

/* A map option's {'k': v, ...}: keys strings, values literals. */
static int map_entries(struct exec_req *req, const char *name, const struct cql_term *v)
{
	if (!v || v->kind != CQL_TERM_MAP)
		return req_fail(req, COL_ESYNTAX,
		                "Invalid value for property '%s'. It should be a map.", name);
	if (v->map.n_entries > TABLEOPTS_MAX_MAP)
		return req_fail(req, COL_ECONFIG, "'%s' has more than %d sub-options", name,
		                TABLEOPTS_MAX_MAP);
	for (uint32_t i = 0; i < v->map.n_entries; i++)
		if (v->map.keys[i]->kind != CQL_TERM_STRING || !scalar_text(v->map.keys[i]) ||
		    !scalar_text(v->map.values[i]))
			return req_fail(req, COL_ESYNTAX,
			                "Invalid value for property '%s': keys must be strings and "
			                "values constants",
			                name);
	return 0;
}

/* A class given short or in Cassandra's package, as the full name; NULL if unknown. */
static const char *class_name(const char *given, const char *pkg, const char *const *known,
                              char *buf, size_t cap)
{
	size_t pl = strlen(pkg);
	const char *simple = strncmp(given, pkg, pl) == 0 ? given + pl : given;
	for (size_t i = 0; known[i]; i++)
		if (strcmp(simple, known[i]) == 0) {
			snprintf(buf, cap, "%s%s", pkg, known[i]);
			return buf;
		}
	return NULL;
}

static int add_caching(struct exec_req *req, const struct cql_term *v, struct topt_list *l)
{
	const char *keys = "ALL", *rows = "NONE";
	char rbuf[24];
	for (uint32_t i = 0; i < v->map.n_entries; i++) {
		const char *k = v->map.keys[i]->text, *val = scalar_text(v->map.values[i]);
		if (strcmp(k, "keys") == 0) {
			if (strcasecmp(val, "ALL") && strcasecmp(val, "NONE"))
				return req_fail(
				        req, COL_ECONFIG,
				        "Invalid value '%s' for caching sub-option 'keys': only "
				        "'ALL' and 'NONE' are allowed",
				        val);
			keys = strcasecmp(val, "ALL") == 0 ? "ALL" : "NONE";
		} else if (strcmp(k, "rows_per_partition") == 0) {
			char *end;
			long long n = strtoll(val, &end, 10);
			if (!strcasecmp(val, "ALL") || !strcasecmp(val, "NONE")) {
				rows = strcasecmp(val, "ALL") == 0 ? "ALL" : "NONE";
			} else if (*val && !*end && n > 0 && n <= INT32_MAX) {
				snprintf(rbuf, sizeof(rbuf), "%lld", n);
				rows = rbuf;
			} else {
				return req_fail(
				        req, COL_ECONFIG,
				        "Invalid value '%s' for caching sub-option "
				        "'rows_per_partition': only 'ALL', 'NONE' or a positive "
				        "integer are allowed",
				        val);
			}
		} else {
			return req_fail(req, COL_ECONFIG,
			                "Invalid caching sub-options {'%s'}: only 'keys' and "
			                "'rows_per_partition' are allowed",
			                k);
		}
	}
	push(l, "caching", "keys", keys);
	push(l, "caching", "rows_per_partition", rows);
	return 0;
}

static const char *const compaction_classes[] = {
        "SizeTieredCompactionStrategy", "LeveledCompactionStrategy", "TimeWindowCompactionStrategy",
        "DateTieredCompactionStrategy", NULL};
static const char *const compression_classes[] = {"LZ4Compressor",     "SnappyCompressor",
                                                  "DeflateCompressor", "ZstdCompressor",
                                                  "NoopCompressor",    NULL};

/* compaction / compression: 'class' known and written in full, the rest as given. */
static int add_class_map(struct exec_req *req, const char *name, const struct cql_term *v,
                         struct topt_list *l)
{
	bool compaction = name[3] == 'p' && name[4] == 'a';
	const char *cls = NULL;
	bool disabled = false;
	for (uint32_t i = 0; i < v->map.n_entries; i++) {
		if (strcmp(v->map.keys[i]->text, "class") == 0)
			cls = scalar_text(v->map.values[i]);
		if (strcmp(v->map.keys[i]->text, "enabled") == 0)
			disabled = strcasecmp(scalar_text(v->map.values[i]), "false") == 0;
	}
	char full[128];
	const char *canon = NULL;
	if (cls) {
		canon = compaction ? class_name(cls, "org.apache.cassandra.db.compaction.",
		                                compaction_classes, full, sizeof(full))
		                   : class_name(cls, "org.apache.cassandra.io.compress.",
		                                compression_classes, full, sizeof(full));
		if (!canon)
			return compaction
			               ? req_fail(req, COL_ECONFIG,
			                          "Unable to find compaction strategy class '%s'",
			                          cls)
			               : req_fail(req, COL_ECONFIG,
			                          "Could not create Compression for type %s", cls);
	} else if (compaction || (v->map.n_entries && !disabled)) {
		return req_fail(req, COL_ECONFIG, "Missing sub-option 'class' for the '%s' option.",
		                name);
	}
	for (uint32_t i = 0; i < v->map.n_entries; i++) {
		const char *k = v->map.keys[i]->text;
		push(l, name, k, strcmp(k, "class") == 0 ? canon : scalar_text(v->map.values[i]));
	}
	return 0;
}

/* additional_write_policy: speculative_retry's syntax, in its canonical text. */
static int add_policy(struct exec_req *req, const char *name, const char *s, struct topt_list *l)
{
	struct spec_retry sr;
	struct cerr e = {0};
	if (!s || spec_retry_parse(s, &sr, &e))
		return req_fail(req, COL_ECONFIG, "Invalid value for property '%s': %s", name,
		                s ? e.msg : "a string is expected");
	char buf[64];
	spec_retry_format(&sr, buf, sizeof(buf));
	push(l, name, NULL, buf);
	return 0;
}

int tableopts_add(struct exec_req *req, const struct cql_option *o, struct topt_list *l)
{
	const char *name = o->name.name;
	int k = topt_index(name);
	if (k < 0)
		return req_fail(req, COL_ESYNTAX, "Unknown property '%s'", name);
	const char *s = scalar_text(o->value);
	int rc = 0;
	switch (topts[k].kind) {
	case TK_DROP: note(l->dropped, sizeof(l->dropped), name); return 0;
	case TK_DOUBLE: rc = add_double(req, name, s, l); break;
	case TK_INT: rc = add_int(req, name, s, l); break;
	case TK_BOOL:
		if (!s || (strcasecmp(s, "true") && strcasecmp(s, "false")))
			return req_fail(
			        req, COL_ESYNTAX,
			        "Invalid boolean value %s for '%s'. Valid values are true and "
			        "false",
			        s ? s : "?", name);
		push(l, name, NULL, strcasecmp(s, "true") == 0 ? "true" : "false");
		break;
	case TK_POLICY: rc = add_policy(req, name, s, l); break;
	case TK_READ_REPAIR:
		if (!s || (strcasecmp(s, "BLOCKING") && strcasecmp(s, "NONE")))
			return req_fail(
			        req, COL_ECONFIG,
			        "Invalid value '%s' for 'read_repair': 'BLOCKING' or 'NONE'",
			        s ? s : "?");
		push(l, name, NULL, strcasecmp(s, "NONE") == 0 ? "NONE" : "BLOCKING");
		break;
	case TK_MAP:
		if ((rc = map_entries(req, name, o->value)))
			return rc;
		rc = name[1] == 'a' ? add_caching(req, o->value, l)
		                    : add_class_map(req, name, o->value, l);
		break;
	}
	if (!rc)
		note(l->warned, sizeof(l->warned), name);
	return rc;
}

/* The option an entry belongs to: "compaction" of "compaction.class". */
static size_t opt_len(const char *entry)
{
	const char *dot = strchr(entry, '.');
	return dot ? (size_t)(dot - entry) : strlen(entry);
}

static bool list_sets(const struct topt_list *l, const char *entry)
{
	size_t n = opt_len(entry);
	for (uint32_t i = 0; i < l->n; i++)
		if (opt_len(l->v[i].name) == n && strncmp(l->v[i].name, entry, n) == 0)
			return true;
	return false;
}

static int cmp_opt(const void *a, const void *b)
{
	return strcmp(((const struct schema_table_opt *)a)->name,
	              ((const struct schema_table_opt *)b)->name);
}

int tableopts_finish(struct topt_list *l, const struct schema_table *old)
{
	uint32_t given = l->n;
	for (uint32_t i = 0; old && i < old->n_opts; i++) {
		struct topt_list probe = {.v = l->v, .n = given};
		if (!list_sets(&probe, old->opts[i].name))
			push(l, old->opts[i].name, NULL, old->opts[i].value);
	}
	if (l->oom)
		return COL_ENOMEM;
	if (l->n > UINT16_MAX)
		return COL_EINVAL;
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_opt);
	return 0;
}

int tableopts_check(struct exec_req *req, const struct topt_list *l)
{
	long mn = 128, mx = 2048;
	for (uint32_t i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].name, "min_index_interval") == 0)
			mn = strtol(l->v[i].value, NULL, 10);
		if (strcmp(l->v[i].name, "max_index_interval") == 0)
			mx = strtol(l->v[i].value, NULL, 10);
	}
	if (mx < mn)
		return req_fail(req, COL_ECONFIG,
		                "max_index_interval must be greater than or equal to "
		                "min_index_interval (%ld) (got %ld)",
		                mn, mx);
	return 0;
}

void tableopts_warning(const struct topt_list *l, char *out, size_t cap)
{
	size_t at = 0;
	out[0] = 0;
	if (l->warned[0])
		at += (size_t)snprintf(out, cap,
		                       "Table options kept but not acted on by Colonnade (shown by "
		                       "DESCRIBE and system_schema.tables): %s",
		                       l->warned);
	if (l->dropped[0] && at < cap)
		snprintf(out + at, cap - at, "%s%s: obsolete or unsupported, ignored and not kept",
		         at ? "; " : "", l->dropped);
}

void topt_list_free(struct topt_list *l)
{
	for (uint32_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
