#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const messages[] = {
	[0] = "success",
	[-COL_ENOMEM] = "out of memory",
	[-COL_EINVAL] = "invalid argument",
	[-COL_EIO] = "I/O error",
	[-COL_ENOTFOUND] = "not found",
	[-COL_EEXIST] = "already exists",
	[-COL_ELOCKED] = "held by another process",
	[-COL_ECORRUPT] = "malformed data",
	[-COL_ETOOBIG] = "too large",
	[-COL_ETIMEDOUT] = "timed out",
	[-COL_EUNAVAILABLE] = "not enough replicas available",
	[-COL_EPROTO] = "protocol error",
	[-COL_ECLOSED] = "closed",
	[-COL_EFULL] = "queue full",
	[-COL_ESYNTAX] = "syntax error",
	[-COL_ETYPE] = "type error",
	[-COL_ECONFIG] = "configuration error",
	[-COL_EAGAIN] = "try again",
	[-COL_EUNSUPPORTED] = "not supported",
	[-COL_EFAILED] = "replicas failed",
	[-COL_EOVERLOADED] = "overloaded",
	[-COL_EUNAUTHORIZED] = "unauthorized",
};

const char *cerr_write_type_name(enum cerr_write_type t)
{
	static const char *const names[] = {
		[CERR_WRITE_SIMPLE] = "SIMPLE", [CERR_WRITE_BATCH] = "BATCH",
		[CERR_WRITE_UNLOGGED_BATCH] = "UNLOGGED_BATCH", [CERR_WRITE_BATCH_LOG] = "BATCH_LOG",
		[CERR_WRITE_CAS] = "CAS", [CERR_WRITE_VIEW] = "VIEW", [CERR_WRITE_CDC] = "CDC",
	};
	if ((unsigned)t >= sizeof(names) / sizeof(names[0]))
		return "SIMPLE";
	return names[t];
}

const char *col_strerror(int code)
{
	if (code > 0 || code <= COL_ERR_MIN_ || !messages[-code])
		return "unknown error";
	return messages[-code];
}

int cerr_set(struct cerr *e, int code, const char *fmt, ...)
{
	if (!e)
		return code;
	e->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

void cerr_prefix(struct cerr *e, const char *fmt, ...)
{
	if (!e)
		return;
	char prefix[CERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	char old[CERR_MSG_MAX];
	memcpy(old, e->msg, sizeof(old));
	/* Truncation is fine: the message is for people and stays terminated. */
	size_t n = strnlen(prefix, sizeof(e->msg) - 3);
	memcpy(e->msg, prefix, n);
	memcpy(e->msg + n, ": ", 2);
	size_t room = sizeof(e->msg) - n - 3;
	size_t m = strnlen(old, room);
	memcpy(e->msg + n + 2, old, m);
	e->msg[n + 2 + m] = '\0';
}

void cerr_clear(struct cerr *e)
{
	if (!e)
		return;
	memset(e, 0, sizeof(*e));
}
