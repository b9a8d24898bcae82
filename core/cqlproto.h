/*
 * cqlproto.h — the CQL native protocol v4 codec shared by the server
 * (coordinator/) and the clients (cqlish, bench in cli/).
 *
 * Only framing and the spec's notation live here (Cassandra's doc/native_protocol_v4.spec
 * §1–3, §4.1.4); what each message means is the server's and the clients'
 * business.  Readers never allocate for strings or bytes: they return slices
 * pointing into the frame, valid while the frame is.  All readers work on a
 * struct bufreader and latch its error on short or malformed input, so a
 * decoder checks bufreader_ok() once.
 *
 * Frame header (9 bytes, big-endian):
 *   | off | size | field   | notes                                          |
 *   |  0  |  1   | version | 0x04 request, 0x84 response (bit 7 = direction) |
 *   |  1  |  1   | flags   | CQL_FLAG_*                                     |
 *   |  2  |  2   | stream  | i16; responses echo it; -1 = server event      |
 *   |  4  |  1   | opcode  | CQL_OP_*                                       |
 *   |  5  |  4   | length  | body length, u32 (we refuse > max frame size)  |
 */
#ifndef COLONNADE_CORE_CQLPROTO_H
#define COLONNADE_CORE_CQLPROTO_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CQLPROTO_VERSION 4
#define CQLPROTO_RESPONSE 0x80
#define CQLPROTO_HEADER_LEN 9
/* The spec's ceiling; servers and clients apply their own (smaller) limit. */
#define CQLPROTO_MAX_FRAME (256u * 1024 * 1024)

enum cql_opcode {
	CQL_OP_ERROR = 0x00,
	CQL_OP_STARTUP = 0x01,
	CQL_OP_READY = 0x02,
	CQL_OP_AUTHENTICATE = 0x03,
	CQL_OP_OPTIONS = 0x05,
	CQL_OP_SUPPORTED = 0x06,
	CQL_OP_QUERY = 0x07,
	CQL_OP_RESULT = 0x08,
	CQL_OP_PREPARE = 0x09,
	CQL_OP_EXECUTE = 0x0A,
	CQL_OP_REGISTER = 0x0B,
	CQL_OP_EVENT = 0x0C,
	CQL_OP_BATCH = 0x0D,
	CQL_OP_AUTH_CHALLENGE = 0x0E,
	CQL_OP_AUTH_RESPONSE = 0x0F,
	CQL_OP_AUTH_SUCCESS = 0x10,
};

/* The spec's name of an opcode ("QUERY"), or NULL for a value it does not define. */
const char *cql_opcode_name(uint8_t op);

enum cql_frame_flag {
	CQL_FLAG_COMPRESSION = 0x01,
	CQL_FLAG_TRACING = 0x02,
	CQL_FLAG_CUSTOM_PAYLOAD = 0x04,
	CQL_FLAG_WARNING = 0x08,
};

/* Consistency levels, with the protocol's codes (spec §3). */
enum cql_consistency {
	CL_ANY = 0x0000,
	CL_ONE = 0x0001,
	CL_TWO = 0x0002,
	CL_THREE = 0x0003,
	CL_QUORUM = 0x0004,
	CL_ALL = 0x0005,
	CL_LOCAL_QUORUM = 0x0006,
	CL_EACH_QUORUM = 0x0007,
	CL_SERIAL = 0x0008,
	CL_LOCAL_SERIAL = 0x0009,
	CL_LOCAL_ONE = 0x000A,
};
/* "LOCAL_QUORUM" etc.; NULL for an unknown code. */
const char *cql_consistency_name(uint16_t cl);
/* Case-insensitive name to code; 0 (COL_OK) or COL_EINVAL. */
int cql_consistency_parse(const char *name, uint16_t *out);

/* Error codes (spec §9). */
enum cql_error_code {
	CQL_ERR_SERVER = 0x0000,
	CQL_ERR_PROTOCOL = 0x000A,
	CQL_ERR_BAD_CREDENTIALS = 0x0100,
	CQL_ERR_UNAVAILABLE = 0x1000,
	CQL_ERR_OVERLOADED = 0x1001,
	CQL_ERR_BOOTSTRAPPING = 0x1002,
	CQL_ERR_TRUNCATE = 0x1003,
	CQL_ERR_WRITE_TIMEOUT = 0x1100,
	CQL_ERR_READ_TIMEOUT = 0x1200,
	CQL_ERR_READ_FAILURE = 0x1300,
	CQL_ERR_FUNCTION_FAILURE = 0x1400,
	CQL_ERR_WRITE_FAILURE = 0x1500,
	CQL_ERR_SYNTAX = 0x2000,
	CQL_ERR_UNAUTHORIZED = 0x2100,
	CQL_ERR_INVALID = 0x2200,
	CQL_ERR_CONFIG = 0x2300,
	CQL_ERR_ALREADY_EXISTS = 0x2400,
	CQL_ERR_UNPREPARED = 0x2500,
};
/* The name cqlsh prints for a code ("Unavailable", "SyntaxException", ...). */
const char *cql_error_name(uint32_t code);

enum cql_result_kind {
	CQL_RESULT_VOID = 1,
	CQL_RESULT_ROWS = 2,
	CQL_RESULT_SET_KEYSPACE = 3,
	CQL_RESULT_PREPARED = 4,
	CQL_RESULT_SCHEMA_CHANGE = 5,
};

/* Rows metadata flags (spec §4.2.5.2). */
enum cql_rows_flag {
	CQL_ROWS_GLOBAL_TABLES_SPEC = 0x0001,
	CQL_ROWS_HAS_MORE_PAGES = 0x0002,
	CQL_ROWS_NO_METADATA = 0x0004,
};

/* Query parameter flags (spec §4.1.4). */
enum cql_query_flag {
	CQL_QF_VALUES = 0x01,
	CQL_QF_SKIP_METADATA = 0x02,
	CQL_QF_PAGE_SIZE = 0x04,
	CQL_QF_PAGING_STATE = 0x08,
	CQL_QF_SERIAL_CONSISTENCY = 0x10,
	CQL_QF_DEFAULT_TIMESTAMP = 0x20,
	CQL_QF_NAMES_FOR_VALUES = 0x40,
};

/* Batch types (spec §4.1.7). */
enum cql_batch_type { CQL_BATCH_LOGGED = 0, CQL_BATCH_UNLOGGED = 1, CQL_BATCH_COUNTER = 2 };

/* [value] lengths below zero. */
#define CQL_VALUE_NULL (-1)
#define CQL_VALUE_UNSET (-2)

struct cql_header {
	uint8_t version; /* including the response bit */
	uint8_t flags;
	int16_t stream;
	uint8_t opcode;
	uint32_t length;
};

/* Decode the 9-byte header at p (avail >= 9 required, else COL_EAGAIN). */
int cql_header_decode(const uint8_t *p, size_t avail, struct cql_header *out);
void cql_header_encode(uint8_t out[CQLPROTO_HEADER_LEN], const struct cql_header *h);
/* Bytes the next frame needs in total once `avail` bytes are buffered: 9 while
 * the header is incomplete, else 9 + body length.  For net.h's framer. */
size_t cql_frame_need(const uint8_t *p, size_t avail);

/*
 * Frame building: cql_frame_begin() appends a header with a zero length and
 * returns its offset; write the body; cql_frame_end() patches the length.
 */
size_t cql_frame_begin(struct buf *b, uint8_t version, uint8_t flags, int16_t stream,
		       uint8_t opcode);
void cql_frame_end(struct buf *b, size_t frame_start);

/* A slice of bytes inside a frame.  len < 0: CQL_VALUE_NULL or CQL_VALUE_UNSET. */
struct cql_slice {
	const uint8_t *p;
	int32_t len;
};

/* Writers (spec §3 notation). */
void cql_put_int(struct buf *b, int32_t v);
void cql_put_long(struct buf *b, int64_t v);
void cql_put_short(struct buf *b, uint16_t v);
void cql_put_byte(struct buf *b, uint8_t v);
void cql_put_string(struct buf *b, const char *s);            /* [string] */
void cql_put_string_n(struct buf *b, const char *s, size_t n); /* [string] */
void cql_put_long_string(struct buf *b, const char *s, size_t n);
void cql_put_bytes(struct buf *b, const void *p, int32_t n); /* n < 0: null/unset */
void cql_put_short_bytes(struct buf *b, const void *p, uint16_t n);
void cql_put_uuid(struct buf *b, const uint8_t uuid[16]);
void cql_put_string_list(struct buf *b, const char *const *items, size_t n);
/* [string map] from parallel key/value arrays. */
void cql_put_string_map(struct buf *b, const char *const *keys, const char *const *vals, size_t n);
/* [inet]: u8 size (4|16), address bytes, int port. */
void cql_put_inet(struct buf *b, const uint8_t *addr, uint8_t addr_len, int32_t port);

/* Readers: latch r->err on short input. */
int32_t cql_get_int(struct bufreader *r);
int64_t cql_get_long(struct bufreader *r);
uint16_t cql_get_short(struct bufreader *r);
uint8_t cql_get_byte(struct bufreader *r);
struct cql_slice cql_get_string(struct bufreader *r);      /* [string] */
struct cql_slice cql_get_long_string(struct bufreader *r); /* [long string], len >= 0 */
struct cql_slice cql_get_bytes(struct bufreader *r);       /* [bytes]: len -1 = null */
struct cql_slice cql_get_value(struct bufreader *r);       /* [value]: -1 null, -2 unset */
struct cql_slice cql_get_short_bytes(struct bufreader *r);
/* [uuid]: pointer to 16 bytes inside the frame, or NULL. */
const uint8_t *cql_get_uuid(struct bufreader *r);
/* [inet]: copies the address (<= 16 bytes) and the port. */
int cql_get_inet(struct bufreader *r, uint8_t addr[16], uint8_t *addr_len, int32_t *port);

/*
 * [string map] / [string list] / [string multimap] iteration without
 * allocation: call cql_get_short() for the count, then the element readers.
 * Helpers for the common case:
 */
/* Find `key` in a [string map] at r's position (consumes the whole map);
 * *val->len == -1 when absent. */
void cql_get_string_map_find(struct bufreader *r, const char *key, struct cql_slice *val);
/* Skip a [bytes map] (custom payload). */
void cql_skip_bytes_map(struct bufreader *r);

/* Query parameters of QUERY and EXECUTE (spec §4.1.4). */
#define CQL_MAX_BOUND_VALUES 65535
struct cql_query_params {
	uint16_t consistency;
	uint8_t flags;
	uint16_t n_values;
	struct cql_slice *values; /* n_values entries, malloc'ed; NULL when none */
	struct cql_slice *names;  /* with CQL_QF_NAMES_FOR_VALUES, else NULL */
	int32_t page_size;        /* -1 when absent */
	struct cql_slice paging_state; /* len -1 when absent */
	uint16_t serial_consistency;   /* CL_SERIAL when absent */
	int64_t timestamp;             /* INT64_MIN when absent */
};
/* Decode; on success the caller calls cql_query_params_release().  Errors:
 * COL_EPROTO (malformed, message in err is for a protocol error reply),
 * COL_ENOMEM. */
struct cerr;
int cql_query_params_decode(struct bufreader *r, struct cql_query_params *out, struct cerr *err);
void cql_query_params_release(struct cql_query_params *p);
/* Encode (clients).  values/names may be NULL when n_values == 0. */
void cql_query_params_encode(struct buf *b, const struct cql_query_params *p);

#endif
