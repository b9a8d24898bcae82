#include "core/buf.h"

#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->oom = false;
}

void buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

int buf_reserve(struct buf *b, size_t extra)
{
	if (b->oom)
		return COL_ENOMEM;
	if (extra <= b->cap - b->len)
		return COL_OK;
	if (extra > SIZE_MAX / 2 - b->len) {
		b->oom = true;
		return COL_ENOMEM;
	}
	size_t need = b->len + extra;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	uint8_t *p = realloc(b->data, cap);
	if (!p) {
		b->oom = true;
		return COL_ENOMEM;
	}
	b->data = p;
	b->cap = cap;
	return COL_OK;
}

uint8_t *buf_detach(struct buf *b, size_t *len)
{
	uint8_t *p = b->data;
	if (len)
		*len = b->len;
	buf_init(b);
	return p;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void buf_put(struct buf *b, const void *p, size_t n)
{
	if (n == 0 || buf_reserve(b, n) != COL_OK)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void buf_put_u8(struct buf *b, uint8_t v) { buf_put(b, &v, 1); }

void buf_put_u16be(struct buf *b, uint16_t v)
{
	uint8_t t[2];
	be16_store(t, v);
	buf_put(b, t, 2);
}

void buf_put_u32be(struct buf *b, uint32_t v)
{
	uint8_t t[4];
	be32_store(t, v);
	buf_put(b, t, 4);
}

void buf_put_u64be(struct buf *b, uint64_t v)
{
	uint8_t t[8];
	be64_store(t, v);
	buf_put(b, t, 8);
}

void buf_put_str(struct buf *b, const char *s) { buf_put(b, s, strlen(s)); }

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n + 1) != COL_OK)
		return;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void buf_patch_u32be(struct buf *b, size_t at, uint32_t v)
{
	if (b->oom || at + 4 > b->len)
		return;
	be32_store(b->data + at, v);
}

void buf_put_escaped(struct buf *b, const void *p, size_t n)
{
	const uint8_t *s = p;
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == 0) {
			buf_put(b, s + run, i - run);
			buf_put_u8(b, 0x00);
			buf_put_u8(b, 0xFF);
			run = i + 1;
		}
	}
	buf_put(b, s + run, n - run);
	buf_put_u8(b, 0x00);
	buf_put_u8(b, 0x01);
}

int bytes_compare(const void *a, size_t alen, const void *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c < 0 ? -1 : 1;
	return alen < blen ? -1 : alen > blen;
}

/* Append n bytes of p, each XORed with inv. */
static void put_inverted(struct buf *out, const uint8_t *p, size_t n, uint8_t inv)
{
	if (!out || n == 0)
		return;
	if (inv == 0) {
		buf_put(out, p, n);
		return;
	}
	if (buf_reserve(out, n) != COL_OK)
		return;
	for (size_t i = 0; i < n; i++)
		out->data[out->len + i] = p[i] ^ inv;
	out->len += n;
}

void bufreader_escaped(struct bufreader *r, uint8_t inv, struct buf *out)
{
	if (r->err)
		return;
	const uint8_t *p = r->p + r->pos;
	size_t n = r->len - r->pos, run = 0;
	for (size_t i = 0; i + 1 < n; i++) {
		if ((p[i] ^ inv) != 0)
			continue;
		put_inverted(out, p + run, i - run, inv);
		uint8_t e = p[i + 1] ^ inv;
		if (e == 0x01) {
			r->pos += i + 2;
			return;
		}
		if (e != 0xFF)
			break;
		if (out)
			buf_put_u8(out, 0);
		i++;
		run = i + 1;
	}
	r->err = true;
}

const uint8_t *bufreader_take(struct bufreader *r, size_t n)
{
	if (r->err || n > r->len - r->pos) {
		r->err = true;
		return NULL;
	}
	const uint8_t *p = r->p + r->pos;
	r->pos += n;
	return p;
}

uint8_t bufreader_u8(struct bufreader *r)
{
	const uint8_t *p = bufreader_take(r, 1);
	return p ? p[0] : 0;
}

uint16_t bufreader_u16be(struct bufreader *r)
{
	const uint8_t *p = bufreader_take(r, 2);
	return p ? be16_load(p) : 0;
}

uint32_t bufreader_u32be(struct bufreader *r)
{
	const uint8_t *p = bufreader_take(r, 4);
	return p ? be32_load(p) : 0;
}

uint64_t bufreader_u64be(struct bufreader *r)
{
	const uint8_t *p = bufreader_take(r, 8);
	return p ? be64_load(p) : 0;
}
