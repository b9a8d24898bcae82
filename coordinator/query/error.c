#include "coordinator/query/query_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int req_fail(struct exec_req *req, int code, const char *fmt, ...)
{
	if (req->err.code)
		return req->err.code; /* the first failure wins */
	memset(&req->err, 0, sizeof(req->err));
	memset(&req->about, 0, sizeof(req->about));
	req->err.code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(req->err.msg, sizeof(req->err.msg), fmt, ap);
	va_end(ap);
	return code;
}

int req_fail_cerr(struct exec_req *req, int code, const struct cerr *e)
{
	return req_fail(req, code, "%s", e->msg[0] ? e->msg : col_strerror(code));
}

int req_fail_outcome(struct exec_req *req, const struct cerr *outcome)
{
	if (req->err.code)
		return req->err.code; /* the first failure wins */
	memset(&req->about, 0, sizeof(req->about));
	req->err = *outcome;
	if (!req->err.msg[0])
		snprintf(req->err.msg, sizeof(req->err.msg), "%s", col_strerror(outcome->code));
	return req->err.code;
}
