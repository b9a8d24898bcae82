/*
 * iq.h — internal CQL queries: the role manager reads and writes system_auth
 * through an executor of its own (no access control), on the normal read and
 * write path (router, replicas, consistency levels), and reads the answer's
 * rows back.
 */
#ifndef COLONNADE_COORDINATOR_AUTH_IQ_H
#define COLONNADE_COORDINATOR_AUTH_IQ_H

#include "coordinator/query/executor.h"
#include "core/buf.h"
#include "core/cqlproto.h"

#include <stdbool.h>

/* The answer: req->err.code != 0 (failed, why in req->err.msg) or RESULT in req->body_out. */
typedef void (*iq_cb)(void *arg, const struct exec_req *req);

/* Run `cql` at consistency `cl`; cb exactly once, possibly before this returns. */
void iq_run(struct executor *ex, const char *cql, uint16_t cl, iq_cb cb, void *arg);

/* CQL string literal of s ('...' with quotes doubled), appended to b. */
void iq_quote(struct buf *b, const char *s);

/* Rows of a RESULT (the query's columns in its SELECT order). */
struct iq_rows {
	struct bufreader r;
	int32_t n_cols, n_rows, row;
	bool more_pages;
};
/* 0, or COL_EPROTO when the body is not Rows. */
int iq_rows_open(const struct exec_req *req, struct iq_rows *out);
/* The next row's cells (n_cols of them; len -1 = null); false at the end or on a torn body. */
bool iq_rows_next(struct iq_rows *rs, struct cql_slice *cells);
/* Cell helpers: text into out (NUL-terminated, false if over cap), boolean (null: false). */
bool iq_text(const struct cql_slice *c, char *out, size_t cap);
bool iq_bool(const struct cql_slice *c);
/* set<text>: calls each(arg, element, len) per element; false when malformed. */
bool iq_text_set(const struct cql_slice *c, void (*each)(void *arg, const char *s, size_t len),
                 void *arg);

#endif
