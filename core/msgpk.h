/*
 * msgpk.h — MessagePack written straight into a struct buf and read straight
 * out of a struct bufreader: no allocation, no intermediate object tree.
 *
 * Internode messages (gossip/messaging.h) and anything they carry are encoded
 * with these.  The bytes are standard MessagePack (msgpack-c or any other
 * implementation reads them); the writer always picks the shortest encoding,
 * as msgpack-c does, so encodings are canonical and golden-bytes tests can
 * pin them.
 *
 * Readers validate as they go: a wrong type, a short buffer or a container
 * count that cannot fit in the bytes left returns COL_ECORRUPT and latches the
 * reader's err flag (so a decoder may also check once at the end with
 * bufreader_ok()).  Out-parameters are set only on success.  Strings and
 * binaries are returned as pointers into the reader's bytes (zero copy).
 */
#ifndef COLONNADE_CORE_MSGPK_H
#define COLONNADE_CORE_MSGPK_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- writing (errors latch buf->oom; check buf_ok() once) ---------------------------------- */

void msgpk_put_nil(struct buf *b);
void msgpk_put_bool(struct buf *b, bool v);
void msgpk_put_uint(struct buf *b, uint64_t v);
/* Non-negative values take the unsigned forms (as msgpack-c packs them). */
void msgpk_put_int(struct buf *b, int64_t v);
void msgpk_put_double(struct buf *b, double v);
void msgpk_put_str(struct buf *b, const void *p, size_t len);
void msgpk_put_cstr(struct buf *b, const char *s);
void msgpk_put_bin(struct buf *b, const void *p, size_t len);
void msgpk_put_array(struct buf *b, uint32_t n);
void msgpk_put_map(struct buf *b, uint32_t n);

/* ---- reading ------------------------------------------------------------------------------- */

enum msgpk_type {
	MSGPK_NIL = 0,
	MSGPK_BOOL = 1,
	MSGPK_UINT = 2, /* non-negative integer, any width */
	MSGPK_INT = 3,  /* negative integer */
	MSGPK_FLOAT = 4,
	MSGPK_STR = 5,
	MSGPK_BIN = 6,
	MSGPK_ARRAY = 7,
	MSGPK_MAP = 8,
	MSGPK_EXT = 9,
	MSGPK_INVALID = 10 /* end of input or the reserved byte 0xc1 */
};

/* The type of the next value, without consuming it. */
enum msgpk_type msgpk_peek(const struct bufreader *r);

int msgpk_read_nil(struct bufreader *r);
int msgpk_read_bool(struct bufreader *r, bool *out);
/* Any integer encoding holding a value in [0, UINT64_MAX]. */
int msgpk_read_uint(struct bufreader *r, uint64_t *out);
/* An unsigned value that must be <= max (else COL_ECORRUPT). */
int msgpk_read_uint_max(struct bufreader *r, uint64_t max, uint64_t *out);
/* Any integer encoding holding a value in [INT64_MIN, INT64_MAX]. */
int msgpk_read_int(struct bufreader *r, int64_t *out);
int msgpk_read_double(struct bufreader *r, double *out);
int msgpk_read_str(struct bufreader *r, const uint8_t **p, uint32_t *len);
int msgpk_read_bin(struct bufreader *r, const uint8_t **p, uint32_t *len);
/* A str or a bin (for byte strings whose writer may have used either). */
int msgpk_read_raw(struct bufreader *r, const uint8_t **p, uint32_t *len);
/* Container headers; the count is checked against the bytes left (each element >= 1 byte). */
int msgpk_read_array(struct bufreader *r, uint32_t *n);
int msgpk_read_map(struct bufreader *r, uint32_t *n);
/* An array header whose count must be exactly n. */
int msgpk_expect_array(struct bufreader *r, uint32_t n);
/*
 * Skip one value with everything nested in it; nesting deeper than
 * max_depth is COL_ECORRUPT (outside bytes cannot make us recurse without
 * bound).
 */
int msgpk_skip(struct bufreader *r, unsigned max_depth);

/* Default nesting bound for msgpk_skip callers that have no better one. */
#define MSGPK_MAX_DEPTH 32

#endif
