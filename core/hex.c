#include "core/hex.h"

#include <string.h>

static const char hex_lower[] = "0123456789abcdef";

int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void hex_encode(const void *p, size_t n, char *out)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex_lower[b[i] >> 4];
		out[2 * i + 1] = hex_lower[b[i] & 15];
	}
	out[2 * n] = 0;
}

void hex_put(struct buf *b, const void *p, size_t n)
{
	const uint8_t *s = p;
	if (buf_reserve(b, 2 * n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		b->data[b->len++] = (uint8_t)hex_lower[s[i] >> 4];
		b->data[b->len++] = (uint8_t)hex_lower[s[i] & 15];
	}
}

bool hex_decode(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* Byte offsets after which the text form has a hyphen. */
static bool uuid_hyphen_before(int i) { return i == 4 || i == 6 || i == 8 || i == 10; }

void uuid_format(const uint8_t u[16], char *out)
{
	size_t o = 0;
	for (int i = 0; i < 16; i++) {
		if (uuid_hyphen_before(i))
			out[o++] = '-';
		out[o++] = hex_lower[u[i] >> 4];
		out[o++] = hex_lower[u[i] & 15];
	}
	out[o] = 0;
}

void uuid_put(struct buf *b, const uint8_t u[16])
{
	char t[UUID_TEXT_LEN + 1];
	uuid_format(u, t);
	buf_put(b, t, UUID_TEXT_LEN);
}

bool uuid_parse(const char *s, size_t len, uint8_t out[16])
{
	if (len != UUID_TEXT_LEN)
		return false;
	uint8_t u[16];
	size_t at = 0;
	for (int i = 0; i < 16; i++) {
		if (uuid_hyphen_before(i) && s[at++] != '-')
			return false;
		if (!hex_decode(s + at, 1, &u[i]))
			return false;
		at += 2;
	}
	memcpy(out, u, sizeof(u));
	return true;
}
