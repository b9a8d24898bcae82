/*
 * selection.c — selectors evaluated on a row (columns, WRITETIME, TTL, token,
 * functions, CAST, literals) and aggregates folded over rows.
 *
 * Aggregates follow Cassandra 4: COUNT is a bigint; MIN and MAX compare in the
 * type's order and ignore nulls (null when no value was seen); SUM and AVG keep
 * the argument's type (AVG of int is an int: the integer quotient), are 0 over
 * no value, and integer sums wrap as Java's do.
 */
#include "coordinator/query/functions.h"
#include "coordinator/query/query_int.h"

#include "core/cqltype.h"

#include <string.h>

static const struct store_cell *find_cells(const struct store_row *r, uint32_t col, size_t *n)
{
	size_t lo = 0, hi = r->n_cells;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (r->cells[mid].col < col)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t e = lo;
	while (e < r->n_cells && r->cells[e].col == col)
		e++;
	*n = e - lo;
	return *n ? &r->cells[lo] : NULL;
}

/* A non-frozen UDT's field cells (path: the field's index) as its tuple value: every field
 * of the type, null where no cell is live (a field the type no longer has is left out). */
static void put_udt_fields(const struct cqltype *t, const struct store_cell *cells, size_t n,
                           struct buf *out)
{
	size_t at = out->len;
	cql_put_int(out, 0);
	size_t k = 0;
	for (uint32_t f = 0; f < t->n_fields; f++) {
		while (k < n && (cells[k].path_len != 2 || be16_load(cells[k].path) < f))
			k++;
		if (k < n && be16_load(cells[k].path) == f)
			cql_put_bytes(out, cells[k].value, (int32_t)cells[k].value_len);
		else
			cql_put_bytes(out, NULL, -1);
	}
	buf_patch_u32be(out, at, (uint32_t)(out->len - at - 4));
}

void put_cell(const struct schema_column *c, const struct store_row *r, enum sel_kind kind,
              int64_t now_s, struct buf *out)
{
	size_t n;
	const struct store_cell *cells = r ? find_cells(r, c->id, &n) : NULL;
	if (!cells) {
		cql_put_bytes(out, NULL, -1);
		return;
	}
	if (kind == SEL_WRITETIME) {
		cql_put_int(out, 8);
		buf_put_u64be(out, (uint64_t)cells[0].ts);
		return;
	}
	if (kind == SEL_TTL) {
		if (!cells[0].expiry_s) {
			cql_put_bytes(out, NULL, -1);
			return;
		}
		int64_t left = cells[0].expiry_s - now_s;
		cql_put_int(out, 4);
		buf_put_u32be(out, (uint32_t)(left > 0 ? left : 0));
		return;
	}
	if (!cqltype_is_multicell(c->type)) {
		cql_put_bytes(out, cells[0].value, (int32_t)cells[0].value_len);
		return;
	}
	if (c->type->kind == CQLTYPE_UDT) {
		put_udt_fields(c->type, cells, n, out);
		return;
	}
	/* non-frozen collection: one cell per element (path = element / key / list slot) */
	size_t at = out->len;
	cql_put_int(out, 0);
	cql_put_int(out, (int32_t)n);
	for (size_t i = 0; i < n; i++) {
		if (c->type->kind == CQLTYPE_SET) {
			cql_put_bytes(out, cells[i].path, (int32_t)cells[i].path_len);
		} else if (c->type->kind == CQLTYPE_MAP) {
			cql_put_bytes(out, cells[i].path, (int32_t)cells[i].path_len);
			cql_put_bytes(out, cells[i].value, (int32_t)cells[i].value_len);
		} else {
			cql_put_bytes(out, cells[i].value, (int32_t)cells[i].value_len);
		}
	}
	buf_patch_u32be(out, at, (uint32_t)(out->len - at - 4));
}

/* Column c of the row (key columns from the key, static ones from the static row). */
static void put_column(const struct sel_col *sc, const struct selrow *row, struct buf *out)
{
	const struct schema_column *c = &row->t->cols[sc->col];
	const struct store_value *v;
	switch (c->kind) {
	case SCHEMA_COL_PARTITION_KEY:
		v = &row->part->pk[c->position];
		cql_put_bytes(out, v->p, (int32_t)v->len);
		return;
	case SCHEMA_COL_CLUSTERING:
		if ((size_t)c->position >= row->r->n_ck) { /* a partition's static row alone */
			cql_put_bytes(out, NULL, -1);
			return;
		}
		v = &row->r->ck[c->position];
		cql_put_bytes(out, v->p, (int32_t)v->len);
		return;
	case SCHEMA_COL_STATIC: put_cell(c, row->statics, sc->kind, row->now_s, out); return;
	default: put_cell(c, row->r, sc->kind, row->now_s, out); return;
	}
}

/* [len][bytes] at r into a (len < 0: null). */
static bool take_arg(struct bufreader *r, struct fn_arg *a)
{
	a->len = (int32_t)bufreader_u32be(r);
	a->p = a->len > 0 ? bufreader_take(r, (size_t)a->len) : exec_empty_value;
	return bufreader_ok(r);
}

/* fn(args) or CAST(arg AS type): the arguments evaluated first, then the call. */
static int put_call(const struct sel_col *sc, const struct selrow *row, struct buf *out,
                    struct cerr *e)
{
	struct buf ab;
	buf_init(&ab);
	int rc = 0;
	for (uint32_t i = 0; i < sc->n_args && !rc; i++)
		rc = sel_put(&sc->args[i], row, &ab, e);
	struct fn_arg args[FN_MAX_ARGS] = {{NULL, -1}, {NULL, -1}};
	struct bufreader r;
	bufreader_init(&r, ab.data, ab.len);
	for (uint32_t i = 0; i < sc->n_args && i < FN_MAX_ARGS && !rc; i++)
		if (!take_arg(&r, &args[i]))
			rc = cerr_set(e, COL_ENOMEM, "out of memory evaluating %s", sc->name);
		else
			args[i].type = sc->args[i].type;
	if (rc) {
		buf_release(&ab);
		return rc;
	}
	size_t at = out->len;
	cql_put_int(out, 0);
	bool null = false;
	if (sc->kind == SEL_CAST) {
		null = args[0].len < 0;
		if (!null)
			rc = cast_value(sc->args[0].type, sc->type->kind, args[0].p,
			                (size_t)args[0].len, out, e);
	} else {
		rc = func_call(row->ex, sc->fn, args, out, &null, e);
	}
	buf_release(&ab);
	if (null) {
		out->len = at;
		cql_put_bytes(out, NULL, -1);
	} else {
		buf_patch_u32be(out, at, (uint32_t)(out->len - at - 4));
	}
	return rc;
}

int sel_put(const struct sel_col *sc, const struct selrow *row, struct buf *out, struct cerr *e)
{
	switch (sc->kind) {
	case SEL_TOKEN:
		cql_put_int(out, 8);
		buf_put_u64be(out, (uint64_t)row->part->token);
		return 0;
	case SEL_CONST: cql_put_bytes(out, sc->konst.p, sc->konst.len); return 0;
	case SEL_FUNC:
	case SEL_CAST: return put_call(sc, row, out, e);
	case SEL_COUNT:
	case SEL_AGG: cql_put_bytes(out, NULL, -1); return 0; /* folded, not evaluated */
	case SEL_ELEMENT:
	case SEL_SLICE:
	case SEL_FIELD: return put_subsel(sc, row, out, e);
	default: put_column(sc, row, out); return 0;
	}
}

/* ---- aggregates ---- */

void agg_reset(struct agg_state *a)
{
	a->count = 0;
	a->isum = 0;
	a->scale = 0;
	a->dsum = 0;
	a->has = false;
	buf_reset(&a->v);
}

static double load_float(enum cqltype_kind k, const uint8_t *p)
{
	if (k == CQLTYPE_FLOAT) {
		uint32_t b = be32_load(p);
		float f;
		memcpy(&f, &b, 4);
		return f;
	}
	uint64_t b = be64_load(p);
	double d;
	memcpy(&d, &b, 8);
	return d;
}

static int64_t load_int(enum cqltype_kind k, const uint8_t *p)
{
	switch (k) {
	case CQLTYPE_TINYINT: return (int8_t)p[0];
	case CQLTYPE_SMALLINT: return (int16_t)be16_load(p);
	case CQLTYPE_INT: return (int32_t)be32_load(p);
	default: return (int64_t)be64_load(p);
	}
}

/* A two's complement big-endian integer of at most 16 bytes. */
static bool load_int128(const uint8_t *p, size_t len, __int128 *out)
{
	if (len == 0 || len > 16)
		return false;
	unsigned __int128 v = (p[0] & 0x80) ? ~(unsigned __int128)0 : 0;
	for (size_t i = 0; i < len; i++)
		v = (v << 8) | p[i];
	*out = (__int128)v;
	return true;
}

/* v * 10^n, false on overflow. */
static bool scale_up(__int128 *v, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		if (__builtin_mul_overflow(*v, 10, v))
			return false;
	return true;
}

/* Add a varint or decimal value to the running exact sum (128 bits, Colonnade's bound). */
static int add_exact(const struct sel_col *sc, struct agg_state *a, enum cqltype_kind k,
                     const uint8_t *p, size_t len, struct cerr *e)
{
	__int128 v;
	int32_t scale = 0;
	bool ok = k == CQLTYPE_DECIMAL ? len > 4 && load_int128(p + 4, len - 4, &v)
	                               : load_int128(p, len, &v);
	if (ok && k == CQLTYPE_DECIMAL) {
		scale = (int32_t)be32_load(p);
		if (scale > a->scale) {
			ok = scale_up(&a->isum, (int64_t)scale - a->scale);
			a->scale = scale;
		} else {
			ok = scale_up(&v, (int64_t)a->scale - scale);
		}
	}
	if (!ok || __builtin_add_overflow(a->isum, v, &a->isum))
		return cerr_set(e, COL_EINVAL,
		                "%s: the %s values exceed the 128 bits colonnade sums them in",
		                sc->name, cqltype_kind_name(k));
	return 0;
}

int agg_add(const struct sel_col *sc, struct agg_state *a, const struct selrow *row,
            struct buf *scratch, struct cerr *e)
{
	if (sc->kind == SEL_COUNT) {
		a->count++;
		return 0;
	}
	const struct sel_col *arg = &sc->args[0];
	buf_reset(scratch);
	int rc = sel_put(arg, row, scratch, e);
	if (rc)
		return rc;
	struct bufreader r;
	bufreader_init(&r, scratch->data, scratch->len);
	struct fn_arg v;
	if (!take_arg(&r, &v))
		return cerr_set(e, COL_ENOMEM, "out of memory evaluating %s", sc->name);
	if (v.len < 0 || (v.len == 0 && (sc->agg == AGG_SUM || sc->agg == AGG_AVG)))
		return 0; /* null, or the empty value, which sums as nothing */
	enum cqltype_kind k = arg->type->kind;
	a->count++;
	switch (sc->agg) {
	case AGG_MIN:
	case AGG_MAX: {
		int c = a->has ? cqltype_compare(arg->type, v.p, (size_t)v.len, a->v.data, a->v.len)
		               : 0;
		if (!a->has || (sc->agg == AGG_MIN ? c < 0 : c > 0)) {
			buf_reset(&a->v);
			buf_put(&a->v, v.p, (size_t)v.len);
			a->has = buf_ok(&a->v);
		}
		return 0;
	}
	case AGG_SUM:
	case AGG_AVG:
		if (k == CQLTYPE_FLOAT || k == CQLTYPE_DOUBLE)
			a->dsum += load_float(k, v.p);
		else if (k == CQLTYPE_VARINT || k == CQLTYPE_DECIMAL)
			return add_exact(sc, a, k, v.p, (size_t)v.len, e);
		else
			a->isum += load_int(k, v.p);
		return 0;
	default: return 0;
	}
}

/* Append integer v as a value of integer kind k (Java's narrowing: low bits). */
static void put_int_kind(enum cqltype_kind k, __int128 v, struct buf *out)
{
	switch (k) {
	case CQLTYPE_TINYINT:
		cql_put_int(out, 1);
		buf_put_u8(out, (uint8_t)v);
		return;
	case CQLTYPE_SMALLINT:
		cql_put_int(out, 2);
		buf_put_u16be(out, (uint16_t)v);
		return;
	case CQLTYPE_INT:
		cql_put_int(out, 4);
		buf_put_u32be(out, (uint32_t)v);
		return;
	default: cql_put_int(out, 8); buf_put_u64be(out, (uint64_t)v);
	}
}

/* Append v as the fewest two's complement big-endian bytes. */
static void put_int128(struct buf *out, __int128 v)
{
	uint8_t b[16];
	unsigned __int128 u = (unsigned __int128)v;
	for (int i = 15; i >= 0; i--, u >>= 8)
		b[i] = (uint8_t)u;
	size_t i = 0;
	while (i < 15 &&
	       ((b[i] == 0x00 && !(b[i + 1] & 0x80)) || (b[i] == 0xff && (b[i + 1] & 0x80))))
		i++;
	buf_put(out, b + i, 16 - i);
}

/* SUM or AVG of varint or decimal values as [bytes].  AVG of varints is the integer
 * quotient; of decimals, the quotient at the sum's scale rounded half to even (Java's
 * BigDecimal.divide(count, HALF_EVEN)). */
static void put_exact(enum cqltype_kind k, const struct agg_state *a, bool avg, struct buf *out)
{
	__int128 v = a->isum;
	if (avg && a->count) {
		__int128 q = v / a->count, r = v % a->count;
		if (k == CQLTYPE_DECIMAL && r != 0) {
			__int128 twice = (r < 0 ? -r : r) * 2;
			bool away = twice > a->count || (twice == a->count && (q & 1));
			if (away)
				q += v < 0 ? -1 : 1;
		}
		v = q;
	}
	size_t at = out->len;
	cql_put_int(out, 0);
	if (k == CQLTYPE_DECIMAL)
		buf_put_u32be(out, (uint32_t)a->scale);
	put_int128(out, v);
	buf_patch_u32be(out, at, (uint32_t)(out->len - at - 4));
}

void agg_put(const struct sel_col *sc, const struct agg_state *a, struct buf *out)
{
	if (sc->kind == SEL_COUNT || sc->agg == AGG_COUNT) {
		cql_put_int(out, 8);
		buf_put_u64be(out, (uint64_t)a->count);
		return;
	}
	if (sc->agg == AGG_MIN || sc->agg == AGG_MAX) {
		if (a->has)
			cql_put_bytes(out, a->v.len ? a->v.data : exec_empty_value,
			              (int32_t)a->v.len);
		else
			cql_put_bytes(out, NULL, -1);
		return;
	}
	enum cqltype_kind k = sc->type->kind;
	bool avg = sc->agg == AGG_AVG;
	if (k == CQLTYPE_FLOAT || k == CQLTYPE_DOUBLE) {
		double d = avg ? (a->count ? a->dsum / (double)a->count : 0) : a->dsum;
		if (k == CQLTYPE_FLOAT) {
			float f = (float)d;
			uint32_t b;
			memcpy(&b, &f, 4);
			cql_put_int(out, 4);
			buf_put_u32be(out, b);
		} else {
			uint64_t b;
			memcpy(&b, &d, 8);
			cql_put_int(out, 8);
			buf_put_u64be(out, b);
		}
		return;
	}
	if (k == CQLTYPE_VARINT || k == CQLTYPE_DECIMAL) {
		put_exact(k, a, avg, out);
		return;
	}
	put_int_kind(k, avg ? (a->count ? a->isum / a->count : 0) : a->isum, out);
}
