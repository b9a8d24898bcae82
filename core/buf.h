/*
 * buf.h — growable byte buffers (writer) and bounds-checked readers.
 *
 * A reader never reads past its end: a short read latches an error instead.
 *
 * struct buf owns its memory: buf_init() on caller storage, buf_release() to
 * free.  Appends grow geometrically; an allocation failure latches `oom` so a
 * sequence of puts can be checked once at the end (buf_ok()).  Big-endian
 * helpers because every wire format we speak (CQL, internode, keys) is.
 *
 * struct bufreader reads a byte range it does not own.  Any read past the end
 * latches `err` and returns zeroes, so decoders of outside bytes check once
 * (bufreader_ok()) instead of after every field, and never read out of bounds.
 */
#ifndef COLONNADE_CORE_BUF_H
#define COLONNADE_CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	bool oom;
};

void buf_init(struct buf *b);
void buf_release(struct buf *b);
/* Forget the contents, keep the memory. */
static inline void buf_reset(struct buf *b) { b->len = 0; }
static inline bool buf_ok(const struct buf *b) { return !b->oom; }
/* Ensure room for `extra` more bytes; 0 or COL_ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);
/* Hand the memory to the caller (who frees it); b is left empty. */
uint8_t *buf_detach(struct buf *b, size_t *len);
/* Drop the first n bytes (consumed output). */
void buf_consume(struct buf *b, size_t n);

void buf_put(struct buf *b, const void *p, size_t n);
void buf_put_u8(struct buf *b, uint8_t v);
void buf_put_u16be(struct buf *b, uint16_t v);
void buf_put_u32be(struct buf *b, uint32_t v);
void buf_put_u64be(struct buf *b, uint64_t v);
void buf_put_str(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Overwrite 4 bytes at `at` (for back-patched lengths). */
void buf_patch_u32be(struct buf *b, size_t at, uint32_t v);

/*
 * Escaped byte strings: the self-delimiting, order-preserving form of a
 * variable-length key part (the partition key in every storage key, text and
 * blob clustering values).  Each 0x00 is written 0x00 0xFF and the string ends
 * with 0x00 0x01, so the escaped forms compare bytewise exactly as the strings
 * do, a prefix first.  On-disk key order depends on this one form; golden-bytes
 * tests pin it.
 */
void buf_put_escaped(struct buf *b, const void *p, size_t n);

/* Unsigned bytewise order of two byte strings, a prefix first: -1, 0 or 1. */
int bytes_compare(const void *a, size_t alen, const void *b, size_t blen);

struct bufreader {
	const uint8_t *p;
	size_t len;
	size_t pos;
	bool err;
};

static inline void bufreader_init(struct bufreader *r, const void *p, size_t len)
{
	r->p = (const uint8_t *)p;
	r->len = len;
	r->pos = 0;
	r->err = false;
}
static inline bool bufreader_ok(const struct bufreader *r) { return !r->err; }
static inline size_t bufreader_left(const struct bufreader *r) { return r->len - r->pos; }

uint8_t bufreader_u8(struct bufreader *r);
uint16_t bufreader_u16be(struct bufreader *r);
uint32_t bufreader_u32be(struct bufreader *r);
uint64_t bufreader_u64be(struct bufreader *r);
/* Pointer to the next n bytes (inside the source) and advance; NULL + err if short. */
const uint8_t *bufreader_take(struct bufreader *r, size_t n);
/*
 * Read one escaped string (buf_put_escaped) and advance past its terminator,
 * XORing every byte with `inv` first (0xFF reads a descending component).  The
 * unescaped bytes are appended to `out` unless it is NULL.  A malformed escape
 * or a missing terminator latches r->err.
 */
void bufreader_escaped(struct bufreader *r, uint8_t inv, struct buf *out);

/* Big-endian load/store on raw memory. */
static inline uint16_t be16_load(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t be32_load(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t be64_load(const uint8_t *p)
{
	return ((uint64_t)be32_load(p) << 32) | be32_load(p + 4);
}
static inline void be16_store(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void be32_store(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void be64_store(uint8_t *p, uint64_t v)
{
	be32_store(p, (uint32_t)(v >> 32));
	be32_store(p + 4, (uint32_t)v);
}

#endif
