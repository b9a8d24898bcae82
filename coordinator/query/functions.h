/*
 * functions.h — the registry of native CQL scalar functions (Cassandra's
 * `system` keyspace functions), shared by SELECT selectors and WHERE terms.
 *
 * A function is a name, argument types and a return type, and overloads share
 * a name (toTimestamp(timeuuid), toTimestamp(date)).  Calls are resolved by
 * name, arity and the argument types known at planning time (functions.c:
 * func_resolve); a literal argument takes the type of the only overload that
 * fits.  New functions (toJson, fromJson, user functions) are entries of this
 * table, not new code paths.  Aggregates (count, min, max, sum, avg) are
 * separate: they fold rows (selection.c).
 */
#ifndef COLONNADE_COORDINATOR_QUERY_FUNCTIONS_H
#define COLONNADE_COORDINATOR_QUERY_FUNCTIONS_H

#include "core/buf.h"
#include "core/cqltype.h"
#include "core/err.h"

#include <stdbool.h>
#include <stdint.h>

struct executor;

#define FN_MAX_ARGS 2
/* Room for the receiver type after the arguments (see fn_arg). */
#define FN_ARGS_CAP (FN_MAX_ARGS + 1)

/* An argument value: bytes, or len < 0 for null. */
struct fn_arg {
	const uint8_t *p;
	int32_t len;
	const struct cqltype *type; /* the argument's type when known (a selector), else NULL */
};

/*
 * A function whose return kind is CQLTYPE_CUSTOM (fromJson) returns the type of
 * the value it is assigned to: the caller passes that type as args[n_args].type.
 */

/*
 * Append the result's bytes to out (nothing and *null = true for null).
 * Fails (COL_EINVAL, message in e) on a value it cannot convert.
 */
typedef int (*fn_eval_fn)(struct executor *ex, const struct fn_arg *args, struct buf *out,
                          bool *null, struct cerr *e);

struct func_def {
	const char *name; /* lower case, as Cassandra names it (system.<name>) */
	uint8_t n_args;
	enum cqltype_kind args[FN_MAX_ARGS]; /* CQLTYPE_CUSTOM: any type (toJson) */
	enum cqltype_kind ret;
	bool pure; /* the same arguments give the same result (now() is not pure) */
	fn_eval_fn eval;
};

/* Whether a native function of that (lower-case) name exists, any arity. */
bool func_exists(const char *name);

/*
 * The overload of `name` for n arguments whose known types are types[i]
 * (NULL: a literal or bind marker, any type) and texts[i] as written (for
 * messages).  *out is the one that fits; COL_ENOTFOUND when no function has
 * that name, COL_EINVAL when none or several overloads fit (Cassandra's
 * messages in e).
 */
int func_resolve(const char *name, uint32_t n, const struct cqltype *const *types,
                 const char *const *texts, const struct func_def **out, struct cerr *e);

/* Run f on args (f->n_args of them). */
int func_call(struct executor *ex, const struct func_def *f, const struct fn_arg *args,
              struct buf *out, bool *null, struct cerr *e);

/* Whether a value of type `from` can be CAST to `to` (Cassandra's CastFcts). */
bool cast_allowed(enum cqltype_kind from, enum cqltype_kind to);
/* CAST(v AS to) of a non-null value v of type from; appends the bytes to out. */
int cast_value(const struct cqltype *from, enum cqltype_kind to, const uint8_t *v, size_t len,
               struct buf *out, struct cerr *e);

/* A version 1 (time-based) UUID of now, strictly increasing on this node. */
void func_make_timeuuid(struct executor *ex, uint8_t u[16]);

#endif
