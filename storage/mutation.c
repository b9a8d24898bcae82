/*
 * mutation.c — building mutations in their serialized (msgpack) form,
 * decoding and validating them, and applying them as one WriteBatch of
 * Merges.  Format table: storage.h.
 */
#include "storage/storage_int.h"

#include "core/clock.h"
#include "core/murmur3.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MUTATION_VERSION 1

enum op_kind {
	OP_MARKER = 1,
	OP_CELL = 2,
	OP_CELL_DEL = 3,
	OP_ROW_DEL = 4,
	OP_PART_DEL = 5,
	OP_RANGE_DEL = 6,
};

struct op {
	int kind;
	int64_t ts;
	int32_t ttl;
	size_t n_ck;
	struct store_value ck[STORE_MAX_CK_COLS];
	bool start_incl, end_incl;
	size_t n_end;
	struct store_value end[STORE_MAX_CK_COLS];
	uint32_t col;
	bool has_path; /* an element of a non-frozen collection (its bytes may be empty) */
	struct store_value path;
	struct store_value value;
};

/* ---- msgpack (the subset we write; reading accepts every int width) ------------------------ */

static void mp_array(struct buf *b, uint32_t n)
{
	if (n < 16) {
		buf_put_u8(b, (uint8_t)(0x90 | n));
	} else if (n <= 0xFFFF) {
		buf_put_u8(b, 0xdc);
		buf_put_u16be(b, (uint16_t)n);
	} else {
		buf_put_u8(b, 0xdd);
		buf_put_u32be(b, n);
	}
}

static void mp_int(struct buf *b, int64_t v)
{
	if (v >= 0) {
		uint64_t u = (uint64_t)v;
		if (u < 128) {
			buf_put_u8(b, (uint8_t)u);
		} else if (u <= 0xFF) {
			buf_put_u8(b, 0xcc);
			buf_put_u8(b, (uint8_t)u);
		} else if (u <= 0xFFFF) {
			buf_put_u8(b, 0xcd);
			buf_put_u16be(b, (uint16_t)u);
		} else if (u <= 0xFFFFFFFFu) {
			buf_put_u8(b, 0xce);
			buf_put_u32be(b, (uint32_t)u);
		} else {
			buf_put_u8(b, 0xcf);
			buf_put_u64be(b, u);
		}
	} else if (v >= -32) {
		buf_put_u8(b, (uint8_t)(int8_t)v);
	} else if (v >= INT8_MIN) {
		buf_put_u8(b, 0xd0);
		buf_put_u8(b, (uint8_t)(int8_t)v);
	} else if (v >= INT16_MIN) {
		buf_put_u8(b, 0xd1);
		buf_put_u16be(b, (uint16_t)(int16_t)v);
	} else if (v >= INT32_MIN) {
		buf_put_u8(b, 0xd2);
		buf_put_u32be(b, (uint32_t)(int32_t)v);
	} else {
		buf_put_u8(b, 0xd3);
		buf_put_u64be(b, (uint64_t)v);
	}
}

static void mp_bin(struct buf *b, const void *p, size_t n)
{
	if (n <= 0xFF) {
		buf_put_u8(b, 0xc4);
		buf_put_u8(b, (uint8_t)n);
	} else if (n <= 0xFFFF) {
		buf_put_u8(b, 0xc5);
		buf_put_u16be(b, (uint16_t)n);
	} else {
		buf_put_u8(b, 0xc6);
		buf_put_u32be(b, (uint32_t)n);
	}
	buf_put(b, p, n);
}

static void mp_nil(struct buf *b)
{
	buf_put_u8(b, 0xc0);
}

static void mp_bool(struct buf *b, bool v)
{
	buf_put_u8(b, v ? 0xc3 : 0xc2);
}

static bool mpr_array(struct bufreader *r, uint32_t *n)
{
	uint8_t t = bufreader_u8(r);
	if ((t & 0xF0) == 0x90)
		*n = t & 0x0F;
	else if (t == 0xdc)
		*n = bufreader_u16be(r);
	else if (t == 0xdd)
		*n = bufreader_u32be(r);
	else
		return false;
	return bufreader_ok(r);
}

static bool mpr_int(struct bufreader *r, int64_t *v)
{
	uint8_t t = bufreader_u8(r);
	if (t < 0x80) {
		*v = t;
	} else if (t >= 0xe0) {
		*v = (int8_t)t;
	} else {
		switch (t) {
		case 0xcc: *v = bufreader_u8(r); break;
		case 0xcd: *v = bufreader_u16be(r); break;
		case 0xce: *v = bufreader_u32be(r); break;
		case 0xcf: {
			uint64_t u = bufreader_u64be(r);
			if (u > INT64_MAX)
				return false;
			*v = (int64_t)u;
			break;
		}
		case 0xd0: *v = (int8_t)bufreader_u8(r); break;
		case 0xd1: *v = (int16_t)bufreader_u16be(r); break;
		case 0xd2: *v = (int32_t)bufreader_u32be(r); break;
		case 0xd3: *v = (int64_t)bufreader_u64be(r); break;
		default: return false;
		}
	}
	return bufreader_ok(r);
}

static bool mpr_bin(struct bufreader *r, struct store_value *v)
{
	uint8_t t = bufreader_u8(r);
	size_t n;
	if (t == 0xc4)
		n = bufreader_u8(r);
	else if (t == 0xc5)
		n = bufreader_u16be(r);
	else if (t == 0xc6)
		n = bufreader_u32be(r);
	else
		return false;
	v->p = bufreader_take(r, n);
	v->len = n;
	return bufreader_ok(r);
}

static bool mpr_bool(struct bufreader *r, bool *v)
{
	uint8_t t = bufreader_u8(r);
	if (t != 0xc2 && t != 0xc3)
		return false;
	*v = t == 0xc3;
	return bufreader_ok(r);
}

static bool mpr_values(struct bufreader *r, struct store_value *vals, size_t max, size_t *n)
{
	uint32_t cnt;
	if (!mpr_array(r, &cnt) || cnt > max)
		return false;
	for (uint32_t i = 0; i < cnt; i++)
		if (!mpr_bin(r, &vals[i]))
			return false;
	*n = cnt;
	return true;
}

static void mp_values(struct buf *b, const struct store_value *v, size_t n)
{
	mp_array(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		mp_bin(b, v[i].p, v[i].len);
}

/* ---- op encoding ---------------------------------------------------------------------------- */

/* The element path: nil for a plain cell (or a whole collection), bin otherwise. */
static void mp_path(struct buf *b, const struct op *op)
{
	if (op->has_path)
		mp_bin(b, op->path.p, op->path.len);
	else
		mp_nil(b);
}

static bool mpr_path(struct bufreader *r, struct op *op)
{
	if (bufreader_left(r) && r->p[r->pos] == 0xc0) {
		r->pos++;
		op->has_path = false;
		return true;
	}
	op->has_path = true;
	return mpr_bin(r, &op->path);
}

/*
 * The fields after kind and ts, in wire order, for each op kind: ttl, the
 * clustering prefix, the range's end (start_incl, end values, end_incl), the
 * column (id and element path), the value.
 */
enum { F_TTL = 1, F_CK = 2, F_RANGE = 4, F_COL = 8, F_VALUE = 16 };
static const uint8_t op_fields[] = {
        [OP_MARKER] = F_TTL | F_CK,
        [OP_CELL] = F_TTL | F_CK | F_COL | F_VALUE,
        [OP_CELL_DEL] = F_CK | F_COL,
        [OP_ROW_DEL] = F_CK,
        [OP_PART_DEL] = 0,
        [OP_RANGE_DEL] = F_CK | F_RANGE,
};

/* Length of an op's msgpack array. */
static uint32_t op_arity(uint8_t f)
{
	return 2 + !!(f & F_TTL) + !!(f & F_CK) + 3 * !!(f & F_RANGE) + 2 * !!(f & F_COL) +
	       !!(f & F_VALUE);
}

static void op_write(struct buf *b, const struct op *op)
{
	uint8_t f = op_fields[op->kind];
	mp_array(b, op_arity(f));
	mp_int(b, op->kind);
	mp_int(b, op->ts);
	if (f & F_TTL)
		mp_int(b, op->ttl);
	if (f & F_CK)
		mp_values(b, op->ck, op->n_ck);
	if (f & F_RANGE) {
		mp_bool(b, op->start_incl);
		mp_values(b, op->end, op->n_end);
		mp_bool(b, op->end_incl);
	}
	if (f & F_COL) {
		mp_int(b, op->col);
		mp_path(b, op);
	}
	if (f & F_VALUE)
		mp_bin(b, op->value.p, op->value.len);
}

static bool op_read(struct bufreader *r, struct op *op)
{
	uint32_t n;
	int64_t kind, ts, v;
	memset(op, 0, offsetof(struct op, ck));
	op->path.p = op->value.p = NULL;
	op->path.len = op->value.len = 0;
	op->has_path = false;
	op->n_end = 0;
	if (!mpr_array(r, &n) || n < 2 || !mpr_int(r, &kind) || !mpr_int(r, &ts))
		return false;
	if (kind < OP_MARKER || kind > OP_RANGE_DEL || n != op_arity(op_fields[kind]))
		return false;
	uint8_t f = op_fields[kind];
	op->kind = (int)kind;
	op->ts = ts;
	if (f & F_TTL) {
		if (!mpr_int(r, &v) || v < 0 || v > STORE_MAX_TTL)
			return false;
		op->ttl = (int32_t)v;
	}
	if ((f & F_CK) && !mpr_values(r, op->ck, STORE_MAX_CK_COLS, &op->n_ck))
		return false;
	if ((f & F_RANGE) &&
	    !(mpr_bool(r, &op->start_incl) &&
	      mpr_values(r, op->end, STORE_MAX_CK_COLS, &op->n_end) && mpr_bool(r, &op->end_incl)))
		return false;
	if (f & F_COL) {
		if (!mpr_int(r, &v) || v < 0 || v > UINT32_MAX || !mpr_path(r, op))
			return false;
		op->col = (uint32_t)v;
	}
	return !(f & F_VALUE) || mpr_bin(r, &op->value);
}

/* ---- validation ----------------------------------------------------------------------------- */

static const char *op_name(int kind)
{
	static const char *const names[] = {"?",           "row marker", "set cell",
	                                    "delete cell", "delete row", "delete partition",
	                                    "delete range"};
	return kind >= 1 && kind <= 6 ? names[kind] : "?";
}

static int op_check(const struct tdesc *d, const struct op *op, struct buf *scratch,
                    struct cerr *err)
{
	const struct store_table_desc *td = &d->pub;
	const char *ks = td->keyspace, *tn = td->name;
	if (op->ts == INT64_MIN)
		return cerr_set(err, COL_EINVAL, "table %s.%s: %s: timestamp %lld is reserved", ks,
		                tn, op_name(op->kind), (long long)op->ts);
	if (op->ttl < 0 || op->ttl > STORE_MAX_TTL)
		return cerr_set(err, COL_EINVAL, "table %s.%s: %s: ttl %d is outside 0..%d seconds",
		                ks, tn, op_name(op->kind), op->ttl, STORE_MAX_TTL);
	scratch->len = 0;
	const struct store_column *col = NULL;
	if (op->kind == OP_CELL || op->kind == OP_CELL_DEL) {
		col = tdesc_column(d, op->col);
		if (!col)
			return cerr_set(err, COL_EINVAL, "table %s.%s: no column with id %u", ks,
			                tn, op->col);
		if (col->is_static ? op->n_ck != 0 : op->n_ck != td->n_ck)
			return cerr_set(err, COL_EINVAL,
			                "table %s.%s: %s of %s column %u needs %zu clustering "
			                "values, got %zu",
			                ks, tn, op_name(op->kind),
			                col->is_static ? "static" : "regular", op->col,
			                col->is_static ? (size_t)0 : td->n_ck, op->n_ck);
		const struct cqltype *pt = codec_path_type(col->type);
		if (!pt && op->has_path)
			return cerr_set(err, COL_EINVAL,
			                "table %s.%s: column %u holds whole values, an element "
			                "path was given",
			                ks, tn, op->col);
		if (pt && op->kind == OP_CELL && !op->has_path)
			return cerr_set(err, COL_EINVAL,
			                "table %s.%s: column %u is a non-frozen collection: a cell "
			                "needs an element path",
			                ks, tn, op->col);
		if (op->path.len > STORE_MAX_KEY_PART)
			return cerr_set(err, COL_ETOOBIG,
			                "table %s.%s: column %u: element path of %zu bytes, the "
			                "limit is %u",
			                ks, tn, op->col, op->path.len, STORE_MAX_KEY_PART);
		if (pt && op->has_path) {
			int rc = cqltype_encode_ordered(pt, op->path.p, op->path.len, false,
			                                scratch, err);
			if (rc) {
				cerr_prefix(err, "table %s.%s column %u element: ", ks, tn,
				            op->col);
				return rc;
			}
		}
		if (op->kind == OP_CELL) {
			const struct cqltype *vt =
			        codec_cell_value_type(col->type, op->path.p, op->path.len);
			if (op->value.len > STORE_MAX_VALUE)
				return cerr_set(err, COL_ETOOBIG,
				                "table %s.%s: column %u: value of %zu bytes, the "
				                "limit is %u",
				                ks, tn, op->col, op->value.len, STORE_MAX_VALUE);
			if (!vt && col->type->kind == CQLTYPE_UDT)
				return cerr_set(err, COL_EINVAL,
				                "table %s.%s: column %u: the user type %s has no "
				                "field at that path",
				                ks, tn, op->col, col->type->udt_name);
			if (!vt && op->value.len)
				return cerr_set(err, COL_EINVAL,
				                "table %s.%s: column %u is a set: element cells "
				                "carry no value",
				                ks, tn, op->col);
			if (vt) {
				int rc = cqltype_validate(vt, op->value.p, op->value.len, err);
				if (rc) {
					cerr_prefix(err, "table %s.%s column %u: ", ks, tn,
					            op->col);
					return rc;
				}
			}
		}
	} else if (op->kind == OP_MARKER || op->kind == OP_ROW_DEL) {
		if (op->n_ck != td->n_ck)
			return cerr_set(err, COL_EINVAL,
			                "table %s.%s: %s needs %zu clustering values, got %zu", ks,
			                tn, op_name(op->kind), td->n_ck, op->n_ck);
	}
	int rc = codec_ck_encode(d, op->ck, op->n_ck, scratch, err);
	if (!rc && op->kind == OP_RANGE_DEL)
		rc = codec_ck_encode(d, op->end, op->n_end, scratch, err);
	return rc;
}

/* ---- building ------------------------------------------------------------------------------- */

int store_mutation_init(struct store_mutation *m, struct store_table *t,
                        const struct store_value *pk, size_t n_pk, int64_t now_s, struct cerr *err)
{
	memset(m, 0, sizeof(*m));
	buf_init(&m->body);
	m->table = t;
	const struct tdesc *d = table_tdesc(t);
	if (!d)
		return cerr_set(err, COL_EINVAL, "table %s is not described", t->cf_name);
	struct buf key;
	buf_init(&key);
	int rc = codec_pk_serialize(d, pk, n_pk, &key, err);
	buf_release(&key);
	if (rc)
		return rc;
	if (now_s <= 0)
		now_s = clock_wall_s();
	mp_array(&m->body, 5);
	mp_int(&m->body, MUTATION_VERSION);
	mp_bin(&m->body, t->id, 16);
	mp_int(&m->body, now_s);
	mp_values(&m->body, pk, n_pk);
	m->ops_count_at = m->body.len + 1;
	buf_put_u8(&m->body, 0xdd);
	buf_put_u32be(&m->body, 0);
	if (!buf_ok(&m->body)) {
		buf_release(&m->body);
		return cerr_set(err, COL_ENOMEM, "storage: out of memory building a mutation");
	}
	return 0;
}

void store_mutation_release(struct store_mutation *m)
{
	buf_release(&m->body);
}

static int mutation_add(struct store_mutation *m, struct op *op)
{
	if (m->error)
		return m->error;
	if (!m->body.data) {
		m->error = cerr_set(&m->err, COL_EINVAL, "mutation was not initialised");
		return m->error;
	}
	const struct tdesc *d = table_tdesc(m->table);
	if (op->ttl == STORE_TTL_DEFAULT)
		op->ttl = d->pub.default_ttl;
	struct buf scratch;
	buf_init(&scratch);
	int rc = op_check(d, op, &scratch, &m->err);
	buf_release(&scratch);
	if (rc) {
		m->error = rc;
		return rc;
	}
	size_t before = m->body.len;
	op_write(&m->body, op);
	if (!buf_ok(&m->body)) {
		m->body.len = before;
		m->error = cerr_set(&m->err, COL_ENOMEM, "out of memory building a mutation");
		return m->error;
	}
	m->n_ops++;
	buf_patch_u32be(&m->body, m->ops_count_at, m->n_ops);
	return 0;
}

static void op_set_ck(struct op *op, const struct store_value *ck, size_t n)
{
	op->n_ck = n > STORE_MAX_CK_COLS ? STORE_MAX_CK_COLS + 1 : n;
	for (size_t i = 0; i < n && i < STORE_MAX_CK_COLS; i++)
		op->ck[i] = ck[i];
}

static int too_many_ck(struct store_mutation *m, size_t n)
{
	if (n <= STORE_MAX_CK_COLS)
		return 0;
	m->error = cerr_set(&m->err, COL_EINVAL, "%zu clustering values, the limit is %d", n,
	                    STORE_MAX_CK_COLS);
	return m->error;
}

/* Fill op's clustering prefix and (path not NULL) element path: 0, or m's latched error. */
static int op_start(struct store_mutation *m, struct op *op, const struct store_value *ck,
                    size_t n_ck, const struct store_value *path)
{
	if (too_many_ck(m, n_ck))
		return m->error;
	op_set_ck(op, ck, n_ck);
	if (path) {
		op->has_path = true;
		op->path = *path;
	}
	return 0;
}

int store_mutation_row_marker(struct store_mutation *m, const struct store_value *ck, size_t n_ck,
                              int64_t ts, int32_t ttl)
{
	struct op op = {.kind = OP_MARKER, .ts = ts, .ttl = ttl};
	if (op_start(m, &op, ck, n_ck, NULL))
		return m->error;
	return mutation_add(m, &op);
}

int store_mutation_set_cell(struct store_mutation *m, const struct store_value *ck, size_t n_ck,
                            uint32_t col, const struct store_value *path, const void *value,
                            size_t len, int64_t ts, int32_t ttl)
{
	struct op op = {.kind = OP_CELL, .ts = ts, .ttl = ttl, .col = col};
	if (op_start(m, &op, ck, n_ck, path))
		return m->error;
	op.value.p = value;
	op.value.len = len;
	return mutation_add(m, &op);
}

int store_mutation_delete_cell(struct store_mutation *m, const struct store_value *ck, size_t n_ck,
                               uint32_t col, const struct store_value *path, int64_t ts)
{
	struct op op = {.kind = OP_CELL_DEL, .ts = ts, .col = col};
	if (op_start(m, &op, ck, n_ck, path))
		return m->error;
	return mutation_add(m, &op);
}

int store_mutation_delete_row(struct store_mutation *m, const struct store_value *ck, size_t n_ck,
                              int64_t ts)
{
	struct op op = {.kind = OP_ROW_DEL, .ts = ts};
	if (op_start(m, &op, ck, n_ck, NULL))
		return m->error;
	return mutation_add(m, &op);
}

int store_mutation_delete_partition(struct store_mutation *m, int64_t ts)
{
	struct op op = {.kind = OP_PART_DEL, .ts = ts};
	return mutation_add(m, &op);
}

int store_mutation_delete_range(struct store_mutation *m, const struct store_value *start,
                                size_t n_start, bool start_incl, const struct store_value *end,
                                size_t n_end, bool end_incl, int64_t ts)
{
	struct op op = {
	        .kind = OP_RANGE_DEL, .ts = ts, .start_incl = start_incl, .end_incl = end_incl};
	if (too_many_ck(m, n_start) || too_many_ck(m, n_end))
		return m->error;
	op_set_ck(&op, start, n_start);
	op.n_end = n_end;
	for (size_t i = 0; i < n_end; i++)
		op.end[i] = end[i];
	return mutation_add(m, &op);
}

/* ---- apply ---------------------------------------------------------------------------------- */

struct emit_scratch {
	struct buf prefix, key, val;
	struct sindex_scratch ix;
};

/* A scratch keeps buffers up to this size between mutations (a huge one gives its back). */
#define SCRATCH_KEEP_BYTES (64u << 10)

static void scratch_init(struct emit_scratch *sc)
{
	buf_init(&sc->prefix);
	buf_init(&sc->key);
	buf_init(&sc->val);
	sindex_scratch_init(&sc->ix);
}

static void scratch_release(struct emit_scratch *sc)
{
	buf_release(&sc->prefix);
	buf_release(&sc->key);
	buf_release(&sc->val);
	sindex_scratch_release(&sc->ix);
}

struct emit_scratch *emit_scratch_new(void)
{
	struct emit_scratch *sc = malloc(sizeof(*sc));
	if (sc)
		scratch_init(sc);
	return sc;
}

void emit_scratch_free(struct emit_scratch *sc)
{
	if (!sc)
		return;
	scratch_release(sc);
	free(sc);
}

/* Empty b for the next mutation: kept unless it grew large or ran out of memory. */
static void scratch_reuse(struct buf *b)
{
	if (b->oom || b->cap > SCRATCH_KEEP_BYTES)
		buf_release(b);
	b->len = 0;
}

/* After a mutation: the buffers stay for the next one, within SCRATCH_KEEP_BYTES. */
static void scratch_done(struct emit_scratch *sc)
{
	scratch_reuse(&sc->prefix);
	scratch_reuse(&sc->key);
	scratch_reuse(&sc->val);
	scratch_reuse(&sc->ix.key);
	scratch_reuse(&sc->ix.val);
	scratch_reuse(&sc->ix.a);
	scratch_reuse(&sc->ix.b);
}

struct emit {
	struct store *s;
	const struct tdesc *d;
	rocksdb_writebatch_t *wb;
	rocksdb_column_family_handle_t *cf;
	const struct buf *prefix;
	uint32_t now;
	struct buf *key, *val;
	struct sindex_scratch *ix;
};

static int op_emit(struct emit *e, const struct op *op, struct cerr *err)
{
	struct buf *k = e->key, *v = e->val;
	k->len = 0;
	v->len = 0;
	buf_put(k, e->prefix->data, e->prefix->len);
	int rc = 0;
	uint8_t flags = 0;
	uint32_t ldt = 0;
	switch (op->kind) {
	case OP_PART_DEL: buf_put_u8(k, SEC_PARTITION_DEL); break;
	case OP_RANGE_DEL:
		buf_put_u8(k, SEC_RANGE_DEL);
		rc = codec_ck_encode(e->d, op->ck, op->n_ck, k, err);
		/* An empty bound is unbounded on its side, whatever its flag says. */
		buf_put_u8(k, op->start_incl || op->n_ck == 0 ? BOUND_BEFORE : BOUND_AFTER);
		if (!rc)
			rc = codec_ck_encode(e->d, op->end, op->n_end, k, err);
		buf_put_u8(k, op->end_incl || op->n_end == 0 ? BOUND_AFTER : BOUND_BEFORE);
		break;
	default: {
		const struct store_column *col = NULL;
		if (op->kind == OP_CELL || op->kind == OP_CELL_DEL)
			col = tdesc_column(e->d, op->col);
		if (col && col->is_static) {
			buf_put_u8(k, SEC_STATIC);
		} else {
			buf_put_u8(k, SEC_ROW);
			rc = codec_ck_encode(e->d, op->ck, op->n_ck, k, err);
			buf_put_u8(k, op->kind == OP_ROW_DEL  ? KIND_ROW_DEL
			              : op->kind == OP_MARKER ? KIND_MARKER
			                                      : KIND_CELL);
		}
		if (col) {
			buf_put_u32be(k, op->col);
			const struct cqltype *pt = codec_path_type(col->type);
			if (pt && op->has_path && !rc)
				rc = cqltype_encode_ordered(pt, op->path.p, op->path.len, false, k,
				                            err);
		} else if (op->kind == OP_CELL || op->kind == OP_CELL_DEL) {
			rc = cerr_set(err, COL_EINVAL, "no column with id %u", op->col);
		}
		break;
	}
	}
	if (rc)
		return rc;
	if (op->kind == OP_MARKER || op->kind == OP_CELL) {
		if (op->ttl > 0) {
			flags = VAL_EXPIRING;
			ldt = e->now + (uint32_t)op->ttl;
		}
	} else {
		flags = VAL_TOMBSTONE;
		ldt = e->now;
	}
	cellval_put(v, flags, op->ts, op->ttl, ldt, op->value.p, op->value.len);
	if (!buf_ok(k) || !buf_ok(v))
		return cerr_set(err, COL_ENOMEM, "storage: out of memory applying a mutation");
	rocksdb_writebatch_merge_cf(e->wb, e->cf, (const char *)k->data, k->len,
	                            (const char *)v->data, v->len);
	if (sindex_emit(e->s, e->d, NULL, k->data, k->len, v->data, v->len, e->wb, e->ix))
		return cerr_set(err, COL_ENOMEM, "storage: out of memory indexing a mutation");
	return 0;
}

/* The ops of a decoded mutation header's table into e->wb (the emit's buffers set up). */
static int emit_ops(struct emit *e, struct store_table *t, struct bufreader *r, bool validate,
                    struct cerr *err)
{
	uint32_t n_ops;
	if (!mpr_array(r, &n_ops))
		return cerr_set(err, COL_ECORRUPT, "malformed mutation: no op list");
	int64_t truncated_at = table_truncated_at(t);
	struct op op;
	for (uint32_t i = 0; i < n_ops; i++) {
		if (!op_read(r, &op))
			return cerr_set(err, COL_ECORRUPT, "malformed mutation op %u", i);
		int rc;
		if (validate && (rc = op_check(e->d, &op, e->val, err)))
			return rc;
		/* written before the table's TRUNCATE: gone, whoever delivers it */
		if (op.ts <= truncated_at)
			continue;
		if ((rc = op_emit(e, &op, err)))
			return rc;
	}
	if (bufreader_left(r))
		return cerr_set(err, COL_ECORRUPT, "%zu bytes after the mutation's last op",
		                bufreader_left(r));
	return 0;
}

static int emit_held(struct store *s, struct store_table *known, const uint8_t *bytes, size_t len,
                     bool validate, rocksdb_writebatch_t *wb, struct emit_scratch *sc,
                     struct cerr *err);

/* The batch records the column family by id: only the encoding needs the handle held. */
int mutation_emit(struct store *s, struct store_table *known, const uint8_t *bytes, size_t len,
                  bool validate, rocksdb_writebatch_t *wb, struct emit_scratch *sc,
                  struct cerr *err)
{
	struct emit_scratch own; /* buffers are only allocated once written to */
	scratch_init(&own);
	pthread_rwlock_rdlock(&s->cf_lock);
	int rc = emit_held(s, known, bytes, len, validate, wb, sc ? sc : &own, err);
	pthread_rwlock_unlock(&s->cf_lock);
	if (sc)
		scratch_done(sc);
	else
		scratch_release(&own);
	return rc;
}

static int emit_held(struct store *s, struct store_table *known, const uint8_t *bytes, size_t len,
                     bool validate, rocksdb_writebatch_t *wb, struct emit_scratch *sc,
                     struct cerr *err)
{
	struct bufreader r;
	bufreader_init(&r, bytes, len);
	uint32_t n;
	int64_t version, now;
	struct store_value id;
	struct store_value pk[STORE_MAX_PK_COLS];
	size_t n_pk;
	if (!mpr_array(&r, &n) || n != 5 || !mpr_int(&r, &version) || !mpr_bin(&r, &id) ||
	    id.len != 16 || !mpr_int(&r, &now) || !mpr_values(&r, pk, STORE_MAX_PK_COLS, &n_pk))
		return cerr_set(err, COL_ECORRUPT, "malformed mutation header");
	if (version != MUTATION_VERSION)
		return cerr_set(err, COL_ECORRUPT, "mutation format version %lld, expected %d",
		                (long long)version, MUTATION_VERSION);
	if (now <= 0 || now > UINT32_MAX)
		return cerr_set(err, COL_ECORRUPT, "mutation time %lld is out of range",
		                (long long)now);
	struct store_table *t = known ? known : store_table_find(s, id.p);
	if (!t || memcmp(t->id, id.p, 16) != 0)
		return cerr_set(err, COL_ENOTFOUND, "mutation for an unknown table");
	const struct tdesc *d = table_tdesc(t);
	if (!d)
		return cerr_set(err, COL_ENOTFOUND, "mutation for table %s, not yet described",
		                t->cf_name);
	if (!t->cf)
		return cerr_set(err, COL_ECLOSED,
		                "table %s.%s is unusable after a failed "
		                "truncate",
		                d->pub.keyspace, d->pub.name);
	struct emit e = {.s = s,
	                 .d = d,
	                 .cf = t->cf,
	                 .now = (uint32_t)now,
	                 .wb = wb,
	                 .prefix = &sc->prefix,
	                 .key = &sc->key,
	                 .val = &sc->val,
	                 .ix = &sc->ix};
	int rc = codec_pk_serialize(d, pk, n_pk, e.key, err);
	if (!rc) {
		codec_partition_prefix(&sc->prefix, murmur3_token(e.key->data, e.key->len),
		                       e.key->data, e.key->len);
		if (!buf_ok(&sc->prefix))
			return cerr_set(err, COL_ENOMEM,
			                "storage: out of memory applying a mutation");
		rocksdb_writebatch_set_save_point(wb);
		rc = emit_ops(&e, t, &r, validate, err);
		char *rerr = NULL;
		if (rc)
			rocksdb_writebatch_rollback_to_save_point(wb, &rerr);
		else
			rocksdb_writebatch_pop_save_point(wb, &rerr);
		free(rerr); /* only "no save point", and there is one */
	}
	return rc;
}

int mutation_apply_bytes(struct store *s, struct store_table *known, const uint8_t *bytes,
                         size_t len, bool validate, struct cerr *err)
{
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	int rc = mutation_emit(s, known, bytes, len, validate, wb, NULL, err);
	if (!rc && rocksdb_writebatch_count(wb) > 0) {
		char *rerr = NULL;
		rocksdb_write(s->db, s->wo, wb, &rerr);
		if (rerr)
			rc = store_rocks_err(err, rerr, "write to", "the store");
	}
	rocksdb_writebatch_destroy(wb);
	return rc;
}

int store_apply(struct store *s, const struct store_mutation *m, struct cerr *err)
{
	if (m->error) {
		if (err && err != &m->err)
			*err = m->err;
		return m->error;
	}
	if (!m->body.data)
		return cerr_set(err, COL_EINVAL, "mutation was not initialised");
	return mutation_apply_bytes(s, m->table, m->body.data, m->body.len, false, err);
}

int store_apply_bytes(struct store *s, const void *bytes, size_t len, struct cerr *err)
{
	return mutation_apply_bytes(s, NULL, bytes, len, true, err);
}

/* The table id and (pk not NULL) partition key at the head of mutation bytes: 0 or -1. */
static int mutation_head(const void *bytes, size_t len, uint8_t id[16], struct store_value *pk,
                         size_t *n_pk)
{
	struct bufreader r;
	bufreader_init(&r, bytes, len);
	uint32_t n;
	int64_t version, now;
	struct store_value v;
	if (!mpr_array(&r, &n) || n != 5 || !mpr_int(&r, &version) || !mpr_bin(&r, &v) ||
	    v.len != 16)
		return -1;
	memcpy(id, v.p, 16);
	if (pk && (!mpr_int(&r, &now) || !mpr_values(&r, pk, STORE_MAX_PK_COLS, n_pk)))
		return -1;
	return 0;
}

int store_mutation_peek_table(const void *bytes, size_t len, uint8_t id[16], struct cerr *err)
{
	if (mutation_head(bytes, len, id, NULL, NULL))
		return cerr_set(err, COL_ECORRUPT, "malformed mutation header");
	return 0;
}

int store_mutation_bytes_token(struct store *s, const void *bytes, size_t len, int64_t *token,
                               struct cerr *err)
{
	uint8_t id[16];
	struct store_value pk[STORE_MAX_PK_COLS];
	size_t n_pk;
	if (mutation_head(bytes, len, id, pk, &n_pk))
		return cerr_set(err, COL_ECORRUPT, "malformed mutation header");
	struct store_table *t = store_table_find(s, id);
	if (!t)
		return cerr_set(err, COL_ENOTFOUND, "mutation for an unknown table");
	return store_partition_token(t, pk, n_pk, token, err);
}

int store_mutation_token(const struct store_mutation *m, int64_t *token, struct cerr *err)
{
	uint8_t id[16];
	struct store_value pk[STORE_MAX_PK_COLS];
	size_t n_pk;
	if (mutation_head(m->body.data, m->body.len, id, pk, &n_pk))
		return cerr_set(err, COL_ECORRUPT, "malformed mutation header");
	return store_partition_token(m->table, pk, n_pk, token, err);
}

int store_apply_raw(struct store_table *t, const void *key, size_t klen, const void *val,
                    size_t vlen, struct cerr *err)
{
	struct cellval cv;
	if (klen < 11 || codec_partition_prefix_len(key, klen, NULL) == 0)
		return cerr_set(err, COL_ECORRUPT, "raw key of %zu bytes is malformed", klen);
	if (cellval_parse(val, vlen, &cv))
		return cerr_set(err, COL_ECORRUPT, "raw value of %zu bytes is malformed", vlen);
	if (cv.ts <= table_truncated_at(t))
		return 0; /* written before the table's TRUNCATE */
	char *rerr = NULL;
	struct sindex_scratch x;
	sindex_scratch_init(&x);
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
	pthread_rwlock_rdlock(&t->s->cf_lock);
	rocksdb_writebatch_merge_cf(wb, t->cf, key, klen, val, vlen);
	int rc = sindex_emit(t->s, table_tdesc(t), NULL, key, klen, val, vlen, wb, &x);
	if (!rc)
		rocksdb_write(t->s->db, t->s->wo, wb, &rerr);
	pthread_rwlock_unlock(&t->s->cf_lock);
	rocksdb_writebatch_destroy(wb);
	sindex_scratch_release(&x);
	if (rc)
		return cerr_set(err, COL_ENOMEM, "storage: out of memory indexing a raw write");
	return rerr ? store_rocks_err(err, rerr, "merge into", t->cf_name) : 0;
}
