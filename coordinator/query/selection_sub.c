/*
 * selection_sub.c — selectors that take a part of a value (Cassandra 4):
 *
 *   m['k']          the value of key 'k' of map m (null when absent)
 *   s['x']          'x' if set s holds it, else null
 *   m['a'..'c']     the entries of m with keys from 'a' to 'c' inclusive
 *   s[..'c']        the elements of s up to 'c' (either bound may be open)
 *
 * on frozen and non-frozen sets and maps; lists are refused with Cassandra's
 * message (their positions are not keys).  A slice that leaves nothing is null,
 * as an empty non-frozen collection is.  Keys and bounds are literals of the
 * key's type, converted when the statement is planned, or bind markers (typed as
 * the key, named "key(m)" / "value(s)" as Cassandra's specs), read per execution.
 */
#include "coordinator/query/query_int.h"

#include "core/cqltype.h"
#include "core/cqlproto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The literal key or bound t of collection type ct into *v (arena memory). */
static int plan_key(struct exec_req *req, struct plan *p, const struct cql_term *t,
                    const struct cqltype *kt, const char *sel, struct val *v)
{
	*v = (struct val){NULL, CQL_VALUE_NULL};
	if (!t || t->kind == CQL_TERM_BIND) /* a marker: bound per execution (bound_key) */
		return 0;
	if (t->kind == CQL_TERM_NULL)
		return req_fail(req, COL_EINVAL, "Invalid null value for %s", sel);
	if (cqltype_is_collection(kt) || !t->text)
		return req_fail(req, COL_EINVAL,
		                "Invalid %s constant for the key of %s: only keys of simple types "
		                "are supported",
		                cql_term_kind_name(t->kind), sel);
	struct buf b;
	buf_init(&b);
	struct cerr e = {0};
	if (cqltype_from_literal(kt, term_lit_kind(t->kind), t->text, t->text_len, &b, &e)) {
		buf_release(&b);
		return req_fail(req, COL_EINVAL, "Invalid %s constant (%.*s) for %s of type %s",
		                cql_term_kind_name(t->kind),
		                (int)(t->text_len > 64 ? 64 : t->text_len), t->text, sel,
		                cqltype_kind_name(kt->kind));
	}
	uint8_t *m = cql_arena_alloc(p->arena, b.len ? b.len : 1);
	if (!m || !buf_ok(&b)) {
		buf_release(&b);
		return req_fail(req, COL_ENOMEM, "out of memory");
	}
	memcpy(m, b.data, b.len);
	*v = (struct val){b.len ? m : exec_empty_value, (int32_t)b.len};
	buf_release(&b);
	return 0;
}

/* The selector as Cassandra names its result column: "m['k']", "s[1..3]". */
static const char *subsel_name(struct plan *p, const struct cql_selector *x, const char *inner)
{
	struct buf b;
	buf_init(&b);
	buf_put_str(&b, inner);
	if (x->kind == CQL_SEL_FIELD) {
		buf_put_u8(&b, '.');
		buf_put_str(&b, x->column.name);
	} else {
		buf_put_u8(&b, '[');
		if (x->term)
			cql_term_format(x->term, &b);
		if (x->kind == CQL_SEL_SLICE) {
			buf_put_str(&b, "..");
			if (x->term2)
				cql_term_format(x->term2, &b);
		}
		buf_put_u8(&b, ']');
	}
	char *s = buf_ok(&b) ? cql_arena_strndup(p->arena, (const char *)b.data, b.len) : NULL;
	buf_release(&b);
	return s ? s : "?";
}

int plan_subsel(struct exec_req *req, struct plan *p, const struct cql_selector *x,
                struct sel_col *o,
                int (*plan_inner)(struct exec_req *, struct plan *, const struct cql_selector *,
                                  struct sel_col *, bool))
{
	struct sel_col *a = cql_arena_alloc(p->arena, sizeof(*a));
	if (!a)
		return req_fail(req, COL_ENOMEM, "out of memory");
	int rc = plan_inner(req, p, &x->args[0], a, false);
	if (rc)
		return rc;
	const struct cqltype *ct = a->type;
	struct buf tn;
	buf_init(&tn);
	cqltype_name(ct, &tn);
	buf_put_u8(&tn, 0);
	const char *tname = buf_ok(&tn) ? (const char *)tn.data : "?";
	const char *what = x->kind == CQL_SEL_ELEMENT ? "element" : "slice";
	if (x->kind == CQL_SEL_FIELD && ct->kind == CQLTYPE_UDT) {
		const char *f = x->column.name;
		int at = cqltype_udt_field(ct, f, strlen(f));
		if (at < 0)
			rc = req_fail(req, COL_EINVAL, "%s of type %s has no field %s", a->name,
			              tname, f);
		buf_release(&tn);
		if (rc)
			return rc;
		*o = (struct sel_col){.args = a, .n_args = 1, .kind = SEL_FIELD, .col = at};
		o->name = subsel_name(p, x, a->name);
		o->type = ct->fields[at];
		return 0;
	}
	if (x->kind == CQL_SEL_FIELD)
		rc = req_fail(req, COL_EINVAL,
		              "Invalid field selection: %s of type %s is not a user type", a->name,
		              tname);
	else if (!cqltype_is_collection(ct))
		rc = req_fail(req, COL_EINVAL,
		              "Invalid %s selection: %s is of type %s is not a collection", what,
		              a->name, tname);
	else if (ct->kind == CQLTYPE_LIST)
		rc = req_fail(req, COL_EINVAL,
		              "%s selection is only allowed on sets and maps, but %s is a list",
		              x->kind == CQL_SEL_ELEMENT ? "Element" : "Slice", a->name);
	buf_release(&tn);
	if (rc)
		return rc;
	*o = (struct sel_col){.args = a, .n_args = 1};
	o->name = subsel_name(p, x, a->name);
	o->kind = x->kind == CQL_SEL_ELEMENT ? SEL_ELEMENT : SEL_SLICE;
	o->type = x->kind == CQL_SEL_SLICE ? ct : ct->kind == CQLTYPE_MAP ? ct->value : ct->elem;
	if ((rc = plan_key(req, p, x->term, ct->elem, o->name, &o->konst)))
		return rc;
	o->kbind = x->term && x->term->kind == CQL_TERM_BIND ? x->term->bind.index + 1 : 0;
	o->kbind2 = x->term2 && x->term2->kind == CQL_TERM_BIND ? x->term2->bind.index + 1 : 0;
	return plan_key(req, p, x->term2, ct->elem, o->name, &o->konst2);
}

/* The value bound to marker kbind - 1 as a key of type kt, or Cassandra's refusal. */
static int bound_key(const struct sel_col *sc, const struct selrow *row, uint32_t kbind,
                     const struct cqltype *kt, struct val *v, struct cerr *e)
{
	if (kbind - 1 >= row->n_values)
		return cerr_set(e, COL_EINVAL, "no value bound for the key of %s", sc->name);
	const struct cql_slice *b = &row->values[kbind - 1];
	if (b->len < 0)
		return cerr_set(e, COL_EINVAL, "Invalid %s value for %s",
		                b->len == CQL_VALUE_UNSET ? "unset" : "null", sc->name);
	if (cqltype_validate(kt, b->p, (size_t)b->len, e)) {
		cerr_prefix(e, "Invalid value for the key of %s: ", sc->name);
		return COL_EINVAL;
	}
	*v = (struct val){b->len ? b->p : exec_empty_value, b->len};
	return 0;
}

/* Whether key (k, kl) is within [lo, hi] (a null bound is open). */
static bool in_slice(const struct sel_col *sc, const struct cqltype *kt, const uint8_t *k,
                     size_t kl)
{
	if (sc->konst.len >= 0 &&
	    cqltype_compare(kt, k, kl, sc->konst.p, (size_t)sc->konst.len) < 0)
		return false;
	return sc->konst2.len < 0 ||
	       cqltype_compare(kt, k, kl, sc->konst2.p, (size_t)sc->konst2.len) <= 0;
}

/* The element or slice of collection value (v, vl) of type ct, appended as [bytes]. */
static int put_part(const struct sel_col *sc, const struct cqltype *ct, const uint8_t *v, size_t vl,
                    struct buf *out, struct cerr *e)
{
	bool map = ct->kind == CQLTYPE_MAP;
	struct bufreader r;
	bufreader_init(&r, v, vl);
	int32_t n = (int32_t)bufreader_u32be(&r);
	size_t at = out->len;
	uint32_t kept = 0;
	if (sc->kind == SEL_SLICE) {
		cql_put_int(out, 0);
		cql_put_int(out, 0);
	}
	for (int32_t i = 0; i < n && bufreader_ok(&r); i++) {
		int32_t kl = (int32_t)bufreader_u32be(&r);
		const uint8_t *k = kl > 0 ? bufreader_take(&r, (size_t)kl) : exec_empty_value;
		int32_t val_l = 0;
		const uint8_t *val = NULL;
		if (map) {
			val_l = (int32_t)bufreader_u32be(&r);
			val = val_l > 0 ? bufreader_take(&r, (size_t)val_l) : exec_empty_value;
		}
		if (!bufreader_ok(&r) || kl < 0)
			break;
		if (sc->kind == SEL_ELEMENT) {
			if (cqltype_compare(ct->elem, k, (size_t)kl, sc->konst.p,
			                    (size_t)sc->konst.len) != 0)
				continue;
			if (map)
				cql_put_bytes(out, val, val_l);
			else
				cql_put_bytes(out, k, kl);
			return 0;
		}
		if (!in_slice(sc, ct->elem, k, (size_t)kl))
			continue;
		cql_put_bytes(out, k, kl);
		if (map)
			cql_put_bytes(out, val, val_l);
		kept++;
	}
	if (!bufreader_ok(&r))
		return cerr_set(e, COL_ECORRUPT, "malformed collection value for %s", sc->name);
	if (sc->kind == SEL_ELEMENT || kept == 0) {
		out->len = at;
		cql_put_bytes(out, NULL, -1);
		return 0;
	}
	buf_patch_u32be(out, at, (uint32_t)(out->len - at - 4));
	buf_patch_u32be(out, at + 4, kept);
	return 0;
}

/* Field number `at` of a user type value as [bytes]; null when the value ends before it. */
static void put_field(int at, const uint8_t *v, size_t vl, struct buf *out)
{
	struct bufreader r;
	bufreader_init(&r, v, vl);
	for (int i = 0; bufreader_left(&r); i++) {
		int32_t fl = (int32_t)bufreader_u32be(&r);
		const uint8_t *fp = fl > 0 ? bufreader_take(&r, (size_t)fl) : exec_empty_value;
		if (!bufreader_ok(&r))
			break;
		if (i == at) {
			cql_put_bytes(out, fl < 0 ? NULL : fp, fl < 0 ? -1 : fl);
			return;
		}
	}
	cql_put_bytes(out, NULL, -1);
}

int put_subsel(const struct sel_col *sc, const struct selrow *row, struct buf *out, struct cerr *e)
{
	struct buf ab;
	buf_init(&ab);
	int rc = sel_put(&sc->args[0], row, &ab, e);
	if (!rc && !buf_ok(&ab))
		rc = cerr_set(e, COL_ENOMEM, "out of memory evaluating %s", sc->name);
	if (rc) {
		buf_release(&ab);
		return rc;
	}
	struct bufreader r;
	bufreader_init(&r, ab.data, ab.len);
	int32_t len = (int32_t)bufreader_u32be(&r);
	const uint8_t *v = len > 0 ? bufreader_take(&r, (size_t)len) : exec_empty_value;
	if (!bufreader_ok(&r) || len <= 0)
		cql_put_bytes(out, NULL, -1); /* null (or empty): no part of it */
	else if (sc->kind == SEL_FIELD)
		put_field(sc->col, v, (size_t)len, out);
	else if (!sc->kbind && !sc->kbind2)
		rc = put_part(sc, sc->args[0].type, v, (size_t)len, out, e);
	else { /* the keys bound to markers: this execution's copy of the selector */
		struct sel_col b = *sc;
		const struct cqltype *kt = sc->args[0].type->elem;
		rc = sc->kbind ? bound_key(sc, row, sc->kbind, kt, &b.konst, e) : 0;
		if (!rc && sc->kbind2)
			rc = bound_key(sc, row, sc->kbind2, kt, &b.konst2, e);
		if (!rc)
			rc = put_part(&b, sc->args[0].type, v, (size_t)len, out, e);
	}
	buf_release(&ab);
	return rc;
}
