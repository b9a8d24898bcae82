/*
 * reconcile.c — which of two versions of a cell wins (storage.h RECONCILE):
 * the one rule the merge operator, read resolution, read repair and
 * anti-entropy repair all apply, so that every replica and every coordinator
 * reach the same bytes from the same versions, in any order.
 */
#include "storage/storage_int.h"

#include <string.h>

/* Rank within equal timestamps: plain live 0 < expiring 1 < tombstone 2. */
static int version_rank(const struct store_cell_version *v)
{
	if (v->tombstone)
		return 2;
	return v->ttl > 0 ? 1 : 0;
}

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

int store_cell_reconcile(const struct store_cell_version *a, const struct store_cell_version *b)
{
	if (a->ts != b->ts)
		return cmp_i64(a->ts, b->ts);
	int ra = version_rank(a), rb = version_rank(b);
	if (ra != rb)
		return ra < rb ? -1 : 1;
	if (a->ldt != b->ldt)
		return cmp_i64(a->ldt, b->ldt);
	if (!a->tombstone) {
		int c = bytes_compare(a->value, a->value_len, b->value, b->value_len);
		if (c)
			return c;
	}
	/* Same write time, kind, expiry and value: written at different times with
	 * different TTLs.  The longer TTL wins (the merge operator's original rule:
	 * the greater encoded value, whose first difference is then the TTL). */
	return a->tombstone ? 0 : cmp_i64(a->ttl, b->ttl);
}

static void version_of(const struct cellval *v, struct store_cell_version *out)
{
	out->ts = v->ts;
	out->tombstone = (v->flags & VAL_TOMBSTONE) != 0;
	out->ttl = (v->flags & VAL_EXPIRING) ? v->ttl : 0;
	out->ldt = (v->flags & (VAL_TOMBSTONE | VAL_EXPIRING)) ? (int64_t)v->ldt : 0;
	out->value = out->tombstone ? NULL : v->value;
	out->value_len = out->tombstone ? 0 : v->value_len;
}

int cellval_reconcile_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	struct cellval x = {0}, y = {0};
	int xa = cellval_parse(a, alen, &x), yb = cellval_parse(b, blen, &y);
	if (xa || yb) {
		/* A malformed value loses to a well-formed one; two malformed: bytes. */
		if (xa && yb)
			return bytes_compare(a, alen, b, blen);
		return xa ? -1 : 1;
	}
	struct store_cell_version vx, vy;
	version_of(&x, &vx);
	version_of(&y, &vy);
	return store_cell_reconcile(&vx, &vy);
}
