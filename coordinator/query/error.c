#include "coordinator/query/query_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void exec_error_encode(const struct exec_error *e, struct buf *out)
{
	cql_put_int(out, (int32_t)e->code);
	cql_put_string(out, e->msg);
	switch (e->code) {
	case CQL_ERR_UNAVAILABLE:
		cql_put_short(out, e->cl);
		cql_put_int(out, e->required);
		cql_put_int(out, e->alive);
		break;
	case CQL_ERR_WRITE_TIMEOUT:
		cql_put_short(out, e->cl);
		cql_put_int(out, e->alive);
		cql_put_int(out, e->required);
		cql_put_string(out, e->write_type ? e->write_type : "SIMPLE");
		break;
	case CQL_ERR_READ_TIMEOUT:
		cql_put_short(out, e->cl);
		cql_put_int(out, e->alive);
		cql_put_int(out, e->required);
		cql_put_byte(out, e->data_present);
		break;
	case CQL_ERR_READ_FAILURE:
		cql_put_short(out, e->cl);
		cql_put_int(out, e->alive);
		cql_put_int(out, e->required);
		cql_put_int(out, e->numfailures);
		cql_put_byte(out, e->data_present);
		break;
	case CQL_ERR_WRITE_FAILURE:
		cql_put_short(out, e->cl);
		cql_put_int(out, e->alive);
		cql_put_int(out, e->required);
		cql_put_int(out, e->numfailures);
		cql_put_string(out, e->write_type ? e->write_type : "SIMPLE");
		break;
	case CQL_ERR_FUNCTION_FAILURE:
		cql_put_string(out, e->ks);
		cql_put_string(out, e->table);
		cql_put_short(out, 0);
		break;
	case CQL_ERR_ALREADY_EXISTS:
		cql_put_string(out, e->ks);
		cql_put_string(out, e->table);
		break;
	case CQL_ERR_UNPREPARED: cql_put_short_bytes(out, e->id, e->id_len); break;
	default: break;
	}
}

int req_fail(struct exec_req *req, uint32_t code, const char *fmt, ...)
{
	if (req->failed)
		return -1; /* the first error wins */
	req->failed = true;
	memset(&req->error, 0, sizeof(req->error));
	req->error.code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(req->error.msg, sizeof(req->error.msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* Map a COL_E* code from the schema/storage layers to a CQL error. */
int req_fail_cerr(struct exec_req *req, int code, const struct cerr *e)
{
	uint32_t cql;
	switch (code) {
	case COL_ESYNTAX: cql = CQL_ERR_SYNTAX; break;
	case COL_ECONFIG: cql = CQL_ERR_CONFIG; break;
	case COL_EEXIST: cql = CQL_ERR_ALREADY_EXISTS; break;
	case COL_EINVAL:
	case COL_ETYPE:
	case COL_ENOTFOUND:
	case COL_ETOOBIG: cql = CQL_ERR_INVALID; break;
	default: cql = CQL_ERR_SERVER; break;
	}
	return req_fail(req, cql, "%s", e->msg[0] ? e->msg : col_strerror(code));
}

int req_fail_proxy(struct exec_req *req, const struct cerr *r)
{
	if (req->failed)
		return -1; /* the first error wins */
	uint32_t cql;
	switch (r->code) {
	case COL_EUNAVAILABLE: cql = CQL_ERR_UNAVAILABLE; break;
	case COL_ETIMEDOUT:
		cql = r->rep.write ? CQL_ERR_WRITE_TIMEOUT : CQL_ERR_READ_TIMEOUT;
		break;
	case COL_EFAILED: cql = r->rep.write ? CQL_ERR_WRITE_FAILURE : CQL_ERR_READ_FAILURE; break;
	case COL_EOVERLOADED: cql = CQL_ERR_OVERLOADED; break;
	case COL_EINVAL: cql = CQL_ERR_INVALID; break;
	default: cql = CQL_ERR_SERVER; break;
	}
	req_fail(req, cql, "%s", r->msg[0] ? r->msg : col_strerror(r->code));
	req->error.cl = r->rep.cl;
	req->error.required = r->rep.required;
	req->error.alive = r->rep.received;
	req->error.numfailures = r->rep.failures;
	req->error.data_present = r->rep.data_present;
	req->error.write_type = cerr_write_type_name((enum cerr_write_type)r->rep.write_type);
	return -1;
}
