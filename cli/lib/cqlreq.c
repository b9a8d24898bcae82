/*
 * cqlreq.c — encoding request frames, and prepared statements built from a
 * PREPARED result (see cqlclient.h, layer 1).
 */
#include "cli/lib/cqlclient.h"
#include "core/version.h"

#include <stdlib.h>
#include <string.h>

void cql_qparams_init(struct cql_qparams *p)
{
	memset(p, 0, sizeof(*p));
	p->consistency = CL_ONE;
	p->paging_state_len = -1;
	p->timestamp = CQL_NO_TIMESTAMP;
}

static void put_qparams(struct buf *b, const struct cql_qparams *p)
{
	struct cql_query_params q = {
	        .consistency = p->consistency,
	        .flags = (uint8_t)((p->skip_metadata ? CQL_QF_SKIP_METADATA : 0) |
	                           (p->serial_consistency ? CQL_QF_SERIAL_CONSISTENCY : 0)),
	        .n_values = p->n_values,
	        .values = (struct cql_slice *)p->values,
	        .names = NULL,
	        .page_size = p->page_size > 0 ? p->page_size : -1,
	        .paging_state = {p->paging_state, p->paging_state ? p->paging_state_len : -1},
	        .serial_consistency = p->serial_consistency,
	        .timestamp = p->timestamp,
	};
	cql_query_params_encode(b, &q);
}

void cqlreq_options(struct buf *b, int16_t stream)
{
	size_t f = cql_frame_begin(b, CQLPROTO_VERSION, 0, stream, CQL_OP_OPTIONS);
	cql_frame_end(b, f);
}

void cqlreq_startup(struct buf *b, int16_t stream, const char *cql_version)
{
	cqlreq_startup_opts(b, stream, cql_version, false);
}

void cqlreq_startup_opts(struct buf *b, int16_t stream, const char *cql_version,
                         bool throw_on_overload)
{
	size_t f = cql_frame_begin(b, CQLPROTO_VERSION, 0, stream, CQL_OP_STARTUP);
	const char *k[] = {"CQL_VERSION", "DRIVER_NAME", "DRIVER_VERSION", "THROW_ON_OVERLOAD"};
	const char *v[] = {cql_version, "colonnade-cqlclient", COLONNADE_VERSION, "1"};
	cql_put_string_map(b, k, v, throw_on_overload ? 4 : 3);
	cql_frame_end(b, f);
}

void cqlreq_auth_plain(struct buf *b, int16_t stream, const char *user, const char *password)
{
	size_t f = cql_frame_begin(b, CQLPROTO_VERSION, 0, stream, CQL_OP_AUTH_RESPONSE);
	size_t ul = strlen(user), pl = strlen(password);
	cql_put_int(b, (int32_t)(2 + ul + pl));
	buf_put_u8(b, 0);
	buf_put(b, user, ul);
	buf_put_u8(b, 0);
	buf_put(b, password, pl);
	cql_frame_end(b, f);
}

/* QUERY (head: the CQL text) or EXECUTE (head: the prepared id), then the parameters. */
static void params_request(struct buf *b, int16_t stream, uint8_t op, const void *head, size_t len,
                           const struct cql_qparams *p)
{
	size_t f =
	        cql_frame_begin(b, CQLPROTO_VERSION, p->tracing ? CQL_FLAG_TRACING : 0, stream, op);
	if (op == CQL_OP_QUERY)
		cql_put_long_string(b, head, len);
	else
		cql_put_short_bytes(b, head, (uint16_t)len);
	put_qparams(b, p);
	cql_frame_end(b, f);
}

void cqlreq_query(struct buf *b, int16_t stream, const char *cql, size_t len,
                  const struct cql_qparams *p)
{
	params_request(b, stream, CQL_OP_QUERY, cql, len, p);
}

void cqlreq_prepare(struct buf *b, int16_t stream, const char *cql, size_t len)
{
	size_t f = cql_frame_begin(b, CQLPROTO_VERSION, 0, stream, CQL_OP_PREPARE);
	cql_put_long_string(b, cql, len);
	cql_frame_end(b, f);
}

void cqlreq_execute(struct buf *b, int16_t stream, const uint8_t *id, uint16_t id_len,
                    const struct cql_qparams *p)
{
	params_request(b, stream, CQL_OP_EXECUTE, id, id_len, p);
}

void cqlreq_batch(struct buf *b, int16_t stream, uint8_t type, const struct cql_batch_item *items,
                  uint16_t n, const struct cql_qparams *p)
{
	size_t f = cql_frame_begin(b, CQLPROTO_VERSION, p->tracing ? CQL_FLAG_TRACING : 0, stream,
	                           CQL_OP_BATCH);
	cql_put_byte(b, type);
	cql_put_short(b, n);
	for (uint16_t i = 0; i < n; i++) {
		const struct cql_batch_item *it = &items[i];
		if (it->ps) {
			cql_put_byte(b, 1);
			cql_put_short_bytes(b, it->ps->id, it->ps->id_len);
		} else {
			cql_put_byte(b, 0);
			cql_put_long_string(b, it->cql, it->cql_len);
		}
		cql_put_short(b, it->n_values);
		for (uint16_t j = 0; j < it->n_values; j++)
			cql_put_bytes(b, it->values[j].p, it->values[j].len);
	}
	cql_put_short(b, p->consistency);
	uint8_t flags =
	        (uint8_t)((p->serial_consistency ? CQL_QF_SERIAL_CONSISTENCY : 0) |
	                  (p->timestamp != CQL_NO_TIMESTAMP ? CQL_QF_DEFAULT_TIMESTAMP : 0));
	cql_put_byte(b, flags);
	if (p->serial_consistency)
		cql_put_short(b, p->serial_consistency);
	if (p->timestamp != CQL_NO_TIMESTAMP)
		cql_put_long(b, p->timestamp);
	cql_frame_end(b, f);
}

int cqlprepared_new(const char *cql, size_t len, struct cqlresult *res, struct cqlprepared **out,
                    struct cerr *err)
{
	if (!res || res->kind != CQLRES_PREPARED)
		return cerr_set(err, COL_EINVAL, "cqlprepared_new: not a PREPARED result");
	struct cqlprepared *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return cerr_set(err, COL_ENOMEM, "out of memory for a prepared statement");
	ps->cql = malloc(len + 1);
	ps->id = malloc(res->prepared_id_len ? res->prepared_id_len : 1);
	if (!ps->cql || !ps->id) {
		free(ps->cql);
		free(ps->id);
		free(ps);
		return cerr_set(err, COL_ENOMEM, "out of memory for a prepared statement");
	}
	memcpy(ps->cql, cql, len);
	ps->cql[len] = '\0';
	ps->cql_len = len;
	memcpy(ps->id, res->prepared_id, res->prepared_id_len);
	ps->id_len = res->prepared_id_len;
	ps->prepared = res;
	*out = ps;
	return COL_OK;
}

void cqlprepared_free(struct cqlprepared *ps)
{
	if (!ps)
		return;
	free(ps->cql);
	free(ps->id);
	cqlresult_free(ps->prepared);
	free(ps);
}
