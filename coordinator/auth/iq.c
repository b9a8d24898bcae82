/*
 * iq.c — internal CQL queries over an executor (iq.h).
 */
#include "coordinator/auth/iq.h"

#include <stdlib.h>
#include <string.h>

#define IQ_PAGE 100000 /* rows one internal read may return */

struct iq {
	struct exec_req x; /* first: done() recovers the iq from it */
	struct exec_session s;
	struct buf body;
	iq_cb cb;
	void *arg;
};

static void iq_done(struct exec_req *x)
{
	struct iq *q = (struct iq *)x;
	q->cb(q->arg, x);
	buf_release(&q->x.body_out);
	buf_release(&q->body);
	free(q);
}

void iq_run(struct executor *ex, const char *cql, uint16_t cl, iq_cb cb, void *arg)
{
	struct iq *q = calloc(1, sizeof(*q));
	if (!q) {
		struct exec_req x = {0};
		buf_init(&x.body_out);
		cerr_set(&x.err, COL_ENOMEM, "out of memory for an internal query");
		cb(arg, &x);
		return;
	}
	buf_init(&q->body);
	buf_init(&q->x.body_out);
	q->cb = cb;
	q->arg = arg;
	cql_put_long_string(&q->body, cql, strlen(cql));
	cql_put_short(&q->body, cl);
	cql_put_byte(&q->body, CQL_QF_SKIP_METADATA | CQL_QF_PAGE_SIZE);
	cql_put_int(&q->body, IQ_PAGE);
	if (!buf_ok(&q->body)) {
		cerr_set(&q->x.err, COL_ENOMEM, "out of memory for an internal query");
		iq_done(&q->x);
		return;
	}
	q->x.session = &q->s;
	q->x.opcode = CQL_OP_QUERY;
	q->x.body = q->body.data;
	q->x.body_len = q->body.len;
	q->x.done = iq_done;
	executor_run(ex, &q->x);
}

void iq_quote(struct buf *b, const char *s)
{
	buf_put_u8(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			buf_put_u8(b, '\'');
		buf_put_u8(b, (uint8_t)*s);
	}
	buf_put_u8(b, '\'');
}

int iq_rows_open(const struct exec_req *req, struct iq_rows *out)
{
	memset(out, 0, sizeof(*out));
	bufreader_init(&out->r, req->body_out.data, req->body_out.len);
	if (cql_get_int(&out->r) != CQL_RESULT_ROWS)
		return COL_EPROTO;
	int32_t flags = cql_get_int(&out->r);
	out->n_cols = cql_get_int(&out->r);
	if (flags & CQL_ROWS_HAS_MORE_PAGES) {
		out->more_pages = true;
		cql_get_bytes(&out->r);
	}
	if (!(flags & CQL_ROWS_NO_METADATA))
		return COL_EPROTO; /* asked with SKIP_METADATA */
	out->n_rows = cql_get_int(&out->r);
	if (!bufreader_ok(&out->r) || out->n_cols < 0 || out->n_cols > 16 || out->n_rows < 0)
		return COL_EPROTO;
	return 0;
}

bool iq_rows_next(struct iq_rows *rs, struct cql_slice *cells)
{
	if (rs->row >= rs->n_rows)
		return false;
	for (int32_t i = 0; i < rs->n_cols; i++)
		cells[i] = cql_get_bytes(&rs->r);
	rs->row++;
	return bufreader_ok(&rs->r);
}

bool iq_text(const struct cql_slice *c, char *out, size_t cap)
{
	if (c->len < 0 || (size_t)c->len >= cap) {
		out[0] = 0;
		return c->len < 0;
	}
	memcpy(out, c->p, (size_t)c->len);
	out[c->len] = 0;
	return !memchr(out, 0, (size_t)c->len);
}

bool iq_bool(const struct cql_slice *c)
{
	return c->len == 1 && c->p[0] != 0;
}

bool iq_text_set(const struct cql_slice *c, void (*each)(void *arg, const char *s, size_t len),
                 void *arg)
{
	if (c->len < 0)
		return true;
	struct bufreader r;
	bufreader_init(&r, c->p, (size_t)c->len);
	int32_t n = cql_get_int(&r);
	for (int32_t i = 0; i < n && bufreader_ok(&r); i++) {
		struct cql_slice e = cql_get_bytes(&r);
		if (!bufreader_ok(&r) || e.len < 0)
			return false;
		each(arg, (const char *)e.p, (size_t)e.len);
	}
	return bufreader_ok(&r) && n >= 0;
}
