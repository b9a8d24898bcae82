#include "core/cqlproto.h"

#include "core/err.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const cl_names[] = {
	[CL_ANY] = "ANY",
	[CL_ONE] = "ONE",
	[CL_TWO] = "TWO",
	[CL_THREE] = "THREE",
	[CL_QUORUM] = "QUORUM",
	[CL_ALL] = "ALL",
	[CL_LOCAL_QUORUM] = "LOCAL_QUORUM",
	[CL_EACH_QUORUM] = "EACH_QUORUM",
	[CL_SERIAL] = "SERIAL",
	[CL_LOCAL_SERIAL] = "LOCAL_SERIAL",
	[CL_LOCAL_ONE] = "LOCAL_ONE",
};

static const char *const opcode_names[] = {
	[CQL_OP_ERROR] = "ERROR",
	[CQL_OP_STARTUP] = "STARTUP",
	[CQL_OP_READY] = "READY",
	[CQL_OP_AUTHENTICATE] = "AUTHENTICATE",
	[CQL_OP_OPTIONS] = "OPTIONS",
	[CQL_OP_SUPPORTED] = "SUPPORTED",
	[CQL_OP_QUERY] = "QUERY",
	[CQL_OP_RESULT] = "RESULT",
	[CQL_OP_PREPARE] = "PREPARE",
	[CQL_OP_EXECUTE] = "EXECUTE",
	[CQL_OP_REGISTER] = "REGISTER",
	[CQL_OP_EVENT] = "EVENT",
	[CQL_OP_BATCH] = "BATCH",
	[CQL_OP_AUTH_CHALLENGE] = "AUTH_CHALLENGE",
	[CQL_OP_AUTH_RESPONSE] = "AUTH_RESPONSE",
	[CQL_OP_AUTH_SUCCESS] = "AUTH_SUCCESS",
};

const char *cql_opcode_name(uint8_t op)
{
	return op < sizeof(opcode_names) / sizeof(opcode_names[0]) ? opcode_names[op] : NULL;
}

const char *cql_consistency_name(uint16_t cl)
{
	return cl < sizeof(cl_names) / sizeof(cl_names[0]) ? cl_names[cl] : NULL;
}

int cql_consistency_parse(const char *name, uint16_t *out)
{
	for (uint16_t i = 0; i < sizeof(cl_names) / sizeof(cl_names[0]); i++) {
		if (strcasecmp(name, cl_names[i]) == 0) {
			*out = i;
			return COL_OK;
		}
	}
	return COL_EINVAL;
}

const char *cql_error_name(uint32_t code)
{
	switch (code) {
	case CQL_ERR_SERVER: return "ServerError";
	case CQL_ERR_PROTOCOL: return "ProtocolError";
	case CQL_ERR_BAD_CREDENTIALS: return "AuthenticationFailed";
	case CQL_ERR_UNAVAILABLE: return "Unavailable";
	case CQL_ERR_OVERLOADED: return "OverloadedError";
	case CQL_ERR_BOOTSTRAPPING: return "IsBootstrappingError";
	case CQL_ERR_TRUNCATE: return "TruncateError";
	case CQL_ERR_WRITE_TIMEOUT: return "WriteTimeout";
	case CQL_ERR_READ_TIMEOUT: return "ReadTimeout";
	case CQL_ERR_READ_FAILURE: return "ReadFailure";
	case CQL_ERR_FUNCTION_FAILURE: return "FunctionFailure";
	case CQL_ERR_WRITE_FAILURE: return "WriteFailure";
	case CQL_ERR_SYNTAX: return "SyntaxException";
	case CQL_ERR_UNAUTHORIZED: return "Unauthorized";
	case CQL_ERR_INVALID: return "InvalidRequest";
	case CQL_ERR_CONFIG: return "ConfigurationException";
	case CQL_ERR_ALREADY_EXISTS: return "AlreadyExists";
	case CQL_ERR_UNPREPARED: return "Unprepared";
	default: return "UnknownError";
	}
}

int cql_header_decode(const uint8_t *p, size_t avail, struct cql_header *out)
{
	if (avail < CQLPROTO_HEADER_LEN)
		return COL_EAGAIN;
	out->version = p[0];
	out->flags = p[1];
	out->stream = (int16_t)be16_load(p + 2);
	out->opcode = p[4];
	out->length = be32_load(p + 5);
	return COL_OK;
}

void cql_header_encode(uint8_t out[CQLPROTO_HEADER_LEN], const struct cql_header *h)
{
	out[0] = h->version;
	out[1] = h->flags;
	be16_store(out + 2, (uint16_t)h->stream);
	out[4] = h->opcode;
	be32_store(out + 5, h->length);
}

size_t cql_frame_need(const uint8_t *p, size_t avail)
{
	if (avail < CQLPROTO_HEADER_LEN)
		return CQLPROTO_HEADER_LEN;
	return CQLPROTO_HEADER_LEN + (size_t)be32_load(p + 5);
}

size_t cql_frame_begin(struct buf *b, uint8_t version, uint8_t flags, int16_t stream,
		       uint8_t opcode)
{
	size_t start = b->len;
	struct cql_header h = {version, flags, stream, opcode, 0};
	uint8_t raw[CQLPROTO_HEADER_LEN];
	cql_header_encode(raw, &h);
	buf_put(b, raw, sizeof(raw));
	return start;
}

void cql_frame_end(struct buf *b, size_t frame_start)
{
	buf_patch_u32be(b, frame_start + 5, (uint32_t)(b->len - frame_start - CQLPROTO_HEADER_LEN));
}

void cql_put_int(struct buf *b, int32_t v) { buf_put_u32be(b, (uint32_t)v); }
void cql_put_long(struct buf *b, int64_t v) { buf_put_u64be(b, (uint64_t)v); }
void cql_put_short(struct buf *b, uint16_t v) { buf_put_u16be(b, v); }
void cql_put_byte(struct buf *b, uint8_t v) { buf_put_u8(b, v); }

void cql_put_string_n(struct buf *b, const char *s, size_t n)
{
	if (n > UINT16_MAX)
		n = UINT16_MAX; /* [string] cannot say more; callers bound names first */
	buf_put_u16be(b, (uint16_t)n);
	buf_put(b, s, n);
}

void cql_put_string(struct buf *b, const char *s) { cql_put_string_n(b, s, strlen(s)); }

void cql_put_long_string(struct buf *b, const char *s, size_t n)
{
	buf_put_u32be(b, (uint32_t)n);
	buf_put(b, s, n);
}

void cql_put_bytes(struct buf *b, const void *p, int32_t n)
{
	buf_put_u32be(b, (uint32_t)n);
	if (n > 0)
		buf_put(b, p, (size_t)n);
}

void cql_put_short_bytes(struct buf *b, const void *p, uint16_t n)
{
	buf_put_u16be(b, n);
	buf_put(b, p, n);
}

void cql_put_uuid(struct buf *b, const uint8_t uuid[16]) { buf_put(b, uuid, 16); }

void cql_put_string_list(struct buf *b, const char *const *items, size_t n)
{
	buf_put_u16be(b, (uint16_t)n);
	for (size_t i = 0; i < n; i++)
		cql_put_string(b, items[i]);
}

void cql_put_string_map(struct buf *b, const char *const *keys, const char *const *vals, size_t n)
{
	buf_put_u16be(b, (uint16_t)n);
	for (size_t i = 0; i < n; i++) {
		cql_put_string(b, keys[i]);
		cql_put_string(b, vals[i]);
	}
}

void cql_put_inet(struct buf *b, const uint8_t *addr, uint8_t addr_len, int32_t port)
{
	buf_put_u8(b, addr_len);
	buf_put(b, addr, addr_len);
	cql_put_int(b, port);
}

int32_t cql_get_int(struct bufreader *r) { return (int32_t)bufreader_u32be(r); }
int64_t cql_get_long(struct bufreader *r) { return (int64_t)bufreader_u64be(r); }
uint16_t cql_get_short(struct bufreader *r) { return bufreader_u16be(r); }
uint8_t cql_get_byte(struct bufreader *r) { return bufreader_u8(r); }

static struct cql_slice slice_take(struct bufreader *r, size_t n)
{
	struct cql_slice s = {NULL, -1};
	const uint8_t *p = bufreader_take(r, n);
	if (p) {
		s.p = p;
		s.len = (int32_t)n;
	}
	return s;
}

struct cql_slice cql_get_string(struct bufreader *r)
{
	uint16_t n = bufreader_u16be(r);
	if (!bufreader_ok(r))
		return (struct cql_slice){NULL, -1};
	return slice_take(r, n);
}

struct cql_slice cql_get_long_string(struct bufreader *r)
{
	int32_t n = cql_get_int(r);
	if (!bufreader_ok(r) || n < 0) {
		r->err = true;
		return (struct cql_slice){NULL, -1};
	}
	return slice_take(r, (size_t)n);
}

struct cql_slice cql_get_bytes(struct bufreader *r)
{
	int32_t n = cql_get_int(r);
	if (!bufreader_ok(r))
		return (struct cql_slice){NULL, -1};
	if (n < 0)
		return (struct cql_slice){NULL, CQL_VALUE_NULL};
	return slice_take(r, (size_t)n);
}

struct cql_slice cql_get_value(struct bufreader *r)
{
	int32_t n = cql_get_int(r);
	if (!bufreader_ok(r))
		return (struct cql_slice){NULL, -1};
	if (n == CQL_VALUE_NULL || n == CQL_VALUE_UNSET)
		return (struct cql_slice){NULL, n};
	if (n < 0) {
		r->err = true;
		return (struct cql_slice){NULL, -1};
	}
	return slice_take(r, (size_t)n);
}

struct cql_slice cql_get_short_bytes(struct bufreader *r)
{
	uint16_t n = bufreader_u16be(r);
	if (!bufreader_ok(r))
		return (struct cql_slice){NULL, -1};
	return slice_take(r, n);
}

const uint8_t *cql_get_uuid(struct bufreader *r) { return bufreader_take(r, 16); }

int cql_get_inet(struct bufreader *r, uint8_t addr[16], uint8_t *addr_len, int32_t *port)
{
	uint8_t n = bufreader_u8(r);
	if (bufreader_ok(r) && n != 4 && n != 16)
		r->err = true;
	const uint8_t *p = bufreader_take(r, n);
	int32_t pt = cql_get_int(r);
	if (!bufreader_ok(r) || !p)
		return COL_EPROTO;
	memcpy(addr, p, n);
	*addr_len = n;
	*port = pt;
	return COL_OK;
}

void cql_get_string_map_find(struct bufreader *r, const char *key, struct cql_slice *val)
{
	size_t klen = strlen(key);
	val->p = NULL;
	val->len = -1;
	uint16_t n = cql_get_short(r);
	for (uint16_t i = 0; i < n && bufreader_ok(r); i++) {
		struct cql_slice k = cql_get_string(r);
		struct cql_slice v = cql_get_string(r);
		if (bufreader_ok(r) && (size_t)k.len == klen && memcmp(k.p, key, klen) == 0)
			*val = v;
	}
	if (!bufreader_ok(r)) {
		val->p = NULL;
		val->len = -1;
	}
}

void cql_skip_bytes_map(struct bufreader *r)
{
	uint16_t n = cql_get_short(r);
	for (uint16_t i = 0; i < n && bufreader_ok(r); i++) {
		cql_get_string(r);
		cql_get_bytes(r);
	}
}

int cql_query_params_decode(struct bufreader *r, struct cql_query_params *out, struct cerr *err)
{
	memset(out, 0, sizeof(*out));
	out->page_size = -1;
	out->paging_state.len = -1;
	out->serial_consistency = CL_SERIAL;
	out->timestamp = INT64_MIN;
	out->consistency = cql_get_short(r);
	out->flags = cql_get_byte(r);
	if (!bufreader_ok(r))
		return cerr_set(err, COL_EPROTO, "query parameters truncated (consistency/flags)");
	if (out->flags & 0x80)
		return cerr_set(err, COL_EPROTO, "unknown query flags 0x%02x", out->flags);
	if (out->flags & CQL_QF_VALUES) {
		out->n_values = cql_get_short(r);
		if (!bufreader_ok(r))
			return cerr_set(err, COL_EPROTO, "query parameters truncated (value count)");
		if (out->n_values) {
			out->values = calloc(out->n_values, sizeof(*out->values));
			if (out->flags & CQL_QF_NAMES_FOR_VALUES)
				out->names = calloc(out->n_values, sizeof(*out->names));
			if (!out->values ||
			    ((out->flags & CQL_QF_NAMES_FOR_VALUES) && !out->names)) {
				cql_query_params_release(out);
				return cerr_set(err, COL_ENOMEM, "no memory for %u bound values",
						out->n_values);
			}
		}
		for (uint16_t i = 0; i < out->n_values; i++) {
			if (out->names)
				out->names[i] = cql_get_string(r);
			out->values[i] = cql_get_value(r);
		}
		if (!bufreader_ok(r)) {
			cql_query_params_release(out);
			return cerr_set(err, COL_EPROTO, "query parameters truncated (bound values)");
		}
	}
	if (out->flags & CQL_QF_PAGE_SIZE)
		out->page_size = cql_get_int(r);
	if (out->flags & CQL_QF_PAGING_STATE)
		out->paging_state = cql_get_bytes(r);
	if (out->flags & CQL_QF_SERIAL_CONSISTENCY)
		out->serial_consistency = cql_get_short(r);
	if (out->flags & CQL_QF_DEFAULT_TIMESTAMP)
		out->timestamp = cql_get_long(r);
	if (!bufreader_ok(r)) {
		cql_query_params_release(out);
		return cerr_set(err, COL_EPROTO, "query parameters truncated");
	}
	if (!cql_consistency_name(out->consistency)) {
		uint16_t cl = out->consistency;
		cql_query_params_release(out);
		return cerr_set(err, COL_EPROTO, "unknown consistency level 0x%04x", cl);
	}
	return COL_OK;
}

void cql_query_params_release(struct cql_query_params *p)
{
	free(p->values);
	free(p->names);
	p->values = NULL;
	p->names = NULL;
	p->n_values = 0;
}

void cql_query_params_encode(struct buf *b, const struct cql_query_params *p)
{
	uint8_t flags = p->flags & (uint8_t)~(CQL_QF_VALUES | CQL_QF_PAGE_SIZE | CQL_QF_PAGING_STATE |
					      CQL_QF_DEFAULT_TIMESTAMP | CQL_QF_NAMES_FOR_VALUES);
	if (p->n_values)
		flags |= CQL_QF_VALUES | (p->names ? CQL_QF_NAMES_FOR_VALUES : 0);
	if (p->page_size > 0)
		flags |= CQL_QF_PAGE_SIZE;
	if (p->paging_state.len >= 0 && p->paging_state.p)
		flags |= CQL_QF_PAGING_STATE;
	if (p->timestamp != INT64_MIN)
		flags |= CQL_QF_DEFAULT_TIMESTAMP;
	cql_put_short(b, p->consistency);
	cql_put_byte(b, flags);
	if (flags & CQL_QF_VALUES) {
		cql_put_short(b, p->n_values);
		for (uint16_t i = 0; i < p->n_values; i++) {
			if (p->names)
				cql_put_string_n(b, (const char *)p->names[i].p,
						 (size_t)p->names[i].len);
			cql_put_bytes(b, p->values[i].p, p->values[i].len);
		}
	}
	if (flags & CQL_QF_PAGE_SIZE)
		cql_put_int(b, p->page_size);
	if (flags & CQL_QF_PAGING_STATE)
		cql_put_bytes(b, p->paging_state.p, p->paging_state.len);
	if (flags & CQL_QF_SERIAL_CONSISTENCY)
		cql_put_short(b, p->serial_consistency);
	if (flags & CQL_QF_DEFAULT_TIMESTAMP)
		cql_put_long(b, p->timestamp);
}
