/*
 * codec.c — the key and value encodings of storage.h's layout tables.
 */
#include "storage/storage_int.h"

#include "core/murmur3.h"

#include <string.h>

/* ---- values --------------------------------------------------------------------------------- */

int cellval_parse(const void *p, size_t len, struct cellval *out)
{
	const uint8_t *b = p;
	if (len < VAL_HEADER)
		return COL_ECORRUPT;
	out->flags = b[0];
	if ((out->flags & ~(VAL_TOMBSTONE | VAL_EXPIRING)) ||
	    out->flags == (VAL_TOMBSTONE | VAL_EXPIRING))
		return COL_ECORRUPT;
	out->ts = (int64_t)be64_load(b + 1);
	size_t at = VAL_HEADER;
	out->ttl = 0;
	out->ldt = 0;
	if (out->flags & VAL_EXPIRING) {
		if (len < at + 8)
			return COL_ECORRUPT;
		out->ttl = (int32_t)be32_load(b + at);
		out->ldt = be32_load(b + at + 4);
		at += 8;
		if (out->ttl <= 0)
			return COL_ECORRUPT; /* expiring means a TTL of at least a second */
	} else if (out->flags & VAL_TOMBSTONE) {
		if (len < at + 4)
			return COL_ECORRUPT;
		out->ldt = be32_load(b + at);
		at += 4;
	}
	if ((out->flags & VAL_TOMBSTONE) && at != len)
		return COL_ECORRUPT;
	out->value = b + at;
	out->value_len = len - at;
	return 0;
}

void cellval_put(struct buf *out, uint8_t flags, int64_t ts, int32_t ttl, uint32_t ldt,
                 const void *value, size_t len)
{
	buf_put_u8(out, flags);
	buf_put_u64be(out, (uint64_t)ts);
	if (flags & VAL_EXPIRING) {
		buf_put_u32be(out, (uint32_t)ttl);
		buf_put_u32be(out, ldt);
	} else if (flags & VAL_TOMBSTONE) {
		buf_put_u32be(out, ldt);
	}
	if (!(flags & VAL_TOMBSTONE))
		buf_put(out, value, len);
}

/* ---- partition keys ------------------------------------------------------------------------- */

/* Component i of a partition key: non-empty, within the size limit, a valid value of its type. */
static int pk_component_check(const struct store_table_desc *td, const struct store_value *pk,
                              size_t i, struct cerr *err)
{
	if (pk[i].len == 0)
		return cerr_set(err, COL_EINVAL,
		                "table %s.%s: partition key component %zu is empty", td->keyspace,
		                td->name, i);
	if (pk[i].len > STORE_MAX_KEY_PART)
		return cerr_set(err, COL_ETOOBIG,
		                "table %s.%s: partition key component %zu is %zu bytes, "
		                "the limit is %u",
		                td->keyspace, td->name, i, pk[i].len, STORE_MAX_KEY_PART);
	int rc = cqltype_validate(td->pk_types[i], pk[i].p, pk[i].len, err);
	if (rc)
		cerr_prefix(err, "table %s.%s partition key component %zu: ", td->keyspace,
		            td->name, i);
	return rc;
}

int codec_pk_serialize(const struct tdesc *d, const struct store_value *pk, size_t n,
                       struct buf *out, struct cerr *err)
{
	const struct store_table_desc *td = &d->pub;
	if (n != td->n_pk)
		return cerr_set(err, COL_EINVAL,
		                "table %s.%s: partition key has %zu components, expected %zu",
		                td->keyspace, td->name, n, td->n_pk);
	size_t start = out->len;
	for (size_t i = 0; i < n; i++) {
		int rc = pk_component_check(td, pk, i, err);
		if (rc)
			return rc;
		if (n == 1) {
			buf_put(out, pk[i].p, pk[i].len);
		} else {
			buf_put_u16be(out, (uint16_t)pk[i].len);
			buf_put(out, pk[i].p, pk[i].len);
			buf_put_u8(out, 0);
		}
	}
	if (out->len - start > STORE_MAX_KEY_PART) {
		size_t l = out->len - start;
		out->len = start;
		return cerr_set(err, COL_ETOOBIG,
		                "table %s.%s: partition key is %zu bytes, the limit is %u",
		                td->keyspace, td->name, l, STORE_MAX_KEY_PART);
	}
	if (!buf_ok(out))
		return cerr_set(err, COL_ENOMEM, "out of memory encoding a partition key");
	return 0;
}

int codec_pk_split(const struct tdesc *d, const uint8_t *key, size_t len, struct store_value *out)
{
	size_t n = d->pub.n_pk;
	if (n == 1) {
		out[0].p = key;
		out[0].len = len;
		return 0;
	}
	struct bufreader r;
	bufreader_init(&r, key, len);
	for (size_t i = 0; i < n; i++) {
		uint16_t l = bufreader_u16be(&r);
		out[i].p = bufreader_take(&r, l);
		out[i].len = l;
		if (bufreader_u8(&r) != 0 || !bufreader_ok(&r))
			return COL_ECORRUPT;
	}
	return bufreader_left(&r) ? COL_ECORRUPT : 0;
}

void codec_partition_prefix(struct buf *out, int64_t token, const uint8_t *key, size_t len)
{
	buf_put_u64be(out, (uint64_t)token ^ (1ULL << 63));
	buf_put_escaped(out, key, len);
}

/* The prefix's end found with memchr: the prefix extractor runs this on every key RocksDB
 * inserts into a memtable (twice) or filters, and escaped zeros are rare. */
static size_t prefix_len_scan(const uint8_t *k, size_t len)
{
	const uint8_t *p = k + 8, *end = k + len;
	for (;;) {
		const uint8_t *z = memchr(p, 0, (size_t)(end - p));
		if (!z || z + 1 >= end)
			return 0;
		if (z[1] == 0x01)
			return (size_t)(z + 2 - k);
		if (z[1] != 0xFF)
			return 0;
		p = z + 2;
	}
}

size_t codec_partition_prefix_len(const uint8_t *k, size_t len, struct buf *key_out)
{
	if (len < 10)
		return 0;
	if (!key_out)
		return prefix_len_scan(k, len);
	struct bufreader r;
	bufreader_init(&r, k + 8, len - 8);
	bufreader_escaped(&r, 0, key_out);
	return bufreader_ok(&r) ? 8 + r.pos : 0;
}

/* ---- clustering ----------------------------------------------------------------------------- */

int codec_ck_encode(const struct tdesc *d, const struct store_value *ck, size_t n, struct buf *out,
                    struct cerr *err)
{
	const struct store_table_desc *td = &d->pub;
	if (n > td->n_ck)
		return cerr_set(err, COL_EINVAL,
		                "table %s.%s: %zu clustering values given, the table has %zu",
		                td->keyspace, td->name, n, td->n_ck);
	for (size_t i = 0; i < n; i++) {
		if (ck[i].len > STORE_MAX_KEY_PART)
			return cerr_set(err, COL_ETOOBIG,
			                "table %s.%s: clustering value %zu is %zu bytes, the limit "
			                "is %u",
			                td->keyspace, td->name, i, ck[i].len, STORE_MAX_KEY_PART);
		bool desc = td->ck_desc && td->ck_desc[i];
		int rc =
		        cqltype_encode_ordered(td->ck_types[i], ck[i].p, ck[i].len, desc, out, err);
		if (rc) {
			cerr_prefix(err, "table %s.%s clustering column %zu: ", td->keyspace,
			            td->name, i);
			return rc;
		}
	}
	return 0;
}

int codec_ck_decode(const struct tdesc *d, struct bufreader *r, struct buf *native, size_t offs[],
                    size_t lens[])
{
	const struct store_table_desc *td = &d->pub;
	for (size_t i = 0; i < td->n_ck; i++) {
		size_t start = native->len;
		bool desc = td->ck_desc && td->ck_desc[i];
		if (cqltype_decode_ordered(td->ck_types[i], r, desc, native, NULL))
			return COL_ECORRUPT;
		offs[i] = start;
		lens[i] = native->len - start;
	}
	return 0;
}

int codec_ck_skip(const struct tdesc *d, struct bufreader *r, struct buf *scratch)
{
	const struct store_table_desc *td = &d->pub;
	for (size_t i = 0; i < td->n_ck; i++) {
		scratch->len = 0;
		bool desc = td->ck_desc && td->ck_desc[i];
		if (cqltype_decode_ordered(td->ck_types[i], r, desc, scratch, NULL))
			return COL_ECORRUPT;
	}
	return 0;
}

size_t codec_bound_len(const struct tdesc *d, const uint8_t *p, size_t len, struct buf *scratch)
{
	struct bufreader r;
	bufreader_init(&r, p, len);
	for (size_t i = 0;; i++) {
		if (bufreader_left(&r) == 0)
			return 0;
		uint8_t b = p[r.pos];
		if (b == BOUND_BEFORE || b == BOUND_AFTER)
			return r.pos + 1;
		if (i >= d->pub.n_ck)
			return 0;
		bool desc = d->pub.ck_desc && d->pub.ck_desc[i];
		scratch->len = 0;
		if (cqltype_decode_ordered(d->pub.ck_types[i], &r, desc, scratch, NULL))
			return 0;
	}
}

/* Compare a row (its clustering followed by a kind byte, 0x10..0x12) with a
 * bound (components then 0x00 or 0xFF): never equal. */
static int row_vs_bound(const uint8_t *ck, size_t n, const uint8_t *b, size_t bl)
{
	size_t m = n < bl ? n : bl;
	int c = m ? memcmp(ck, b, m) : 0;
	if (c)
		return c;
	return n < bl ? (KIND_ROW_DEL < b[n] ? -1 : 1) : 1;
}

bool codec_bounds_cover(const uint8_t *ck, size_t n, const uint8_t *start, size_t start_len,
                        const uint8_t *end, size_t end_len)
{
	return row_vs_bound(ck, n, start, start_len) > 0 && row_vs_bound(ck, n, end, end_len) < 0;
}

const struct cqltype *codec_path_type(const struct cqltype *t)
{
	if (!cqltype_is_multicell(t))
		return NULL;
	if (t->kind == CQLTYPE_UDT)
		return cqltype_simple(CQLTYPE_SMALLINT);
	if (t->kind == CQLTYPE_LIST)
		return cqltype_simple(CQLTYPE_TIMEUUID);
	return t->elem; /* set element, map key */
}

const struct cqltype *codec_cell_value_type(const struct cqltype *t, const void *path,
                                            size_t path_len)
{
	if (!cqltype_is_multicell(t))
		return t;
	if (t->kind == CQLTYPE_UDT) {
		if (path_len != 2)
			return NULL;
		uint16_t f = be16_load(path);
		return f < t->n_fields ? t->fields[f] : NULL;
	}
	if (t->kind == CQLTYPE_LIST)
		return t->elem;
	if (t->kind == CQLTYPE_MAP)
		return t->value;
	return NULL; /* set: cells carry no value */
}

/* ---- public helpers -------------------------------------------------------------------------- */

int store_partition_key(const struct store_table *t, const struct store_value *pk, size_t n_pk,
                        struct buf *out, struct cerr *err)
{
	const struct tdesc *d = table_tdesc(t);
	if (!d)
		return cerr_set(err, COL_EINVAL, "table %s is not described", t->cf_name);
	return codec_pk_serialize(d, pk, n_pk, out, err);
}

int store_partition_token(const struct store_table *t, const struct store_value *pk, size_t n_pk,
                          int64_t *token, struct cerr *err)
{
	const struct tdesc *d = table_tdesc(t);
	if (d && n_pk == 1 && d->pub.n_pk == 1) {
		/* a single component is its own serialized form: hashed where it is */
		int rc = pk_component_check(&d->pub, pk, 0, err);
		if (!rc)
			*token = murmur3_token(pk[0].p, pk[0].len);
		return rc;
	}
	struct buf b;
	buf_init(&b);
	int rc = store_partition_key(t, pk, n_pk, &b, err);
	if (!rc)
		*token = murmur3_token(b.data, b.len);
	buf_release(&b);
	return rc;
}

int64_t store_raw_key_token(const void *key, size_t klen)
{
	if (klen < 8)
		return INT64_MIN;
	return codec_token_load(key);
}

/* ---- range tombstones of a partition -------------------------------------------------------- */

bool codec_range_bounds(const struct tdesc *d, const uint8_t *k, size_t klen, size_t plen,
                        size_t *sl, size_t *el, struct buf *scratch)
{
	size_t at = plen + 1;
	if (at >= klen)
		return false;
	size_t s = codec_bound_len(d, k + at, klen - at, scratch);
	size_t e = s ? codec_bound_len(d, k + at + s, klen - at - s, scratch) : 0;
	if (!s || !e || at + s + e != klen)
		return false;
	*sl = s;
	*el = e;
	return true;
}

int codec_rts_add(struct buf *rts, const uint8_t *p, size_t sl, size_t el, int64_t ts)
{
	size_t before = rts->len;
	buf_put_u32be(rts, (uint32_t)sl);
	buf_put(rts, p, sl);
	buf_put_u32be(rts, (uint32_t)el);
	buf_put(rts, p + sl, el);
	buf_put_u64be(rts, (uint64_t)ts);
	if (buf_ok(rts))
		return 0;
	rts->oom = false;
	rts->len = before;
	return COL_ENOMEM;
}

bool codec_rts_shadow(const struct buf *rts, const uint8_t *ck, size_t n, int64_t ts)
{
	struct bufreader r;
	bufreader_init(&r, rts->data, rts->len);
	while (bufreader_left(&r)) {
		uint32_t sl = bufreader_u32be(&r);
		const uint8_t *sp = bufreader_take(&r, sl);
		uint32_t el = bufreader_u32be(&r);
		const uint8_t *ep = bufreader_take(&r, el);
		int64_t rts_ts = (int64_t)bufreader_u64be(&r);
		if (!bufreader_ok(&r))
			return false;
		if (ts <= rts_ts && codec_bounds_cover(ck, n, sp, sl, ep, el))
			return true;
	}
	return false;
}
