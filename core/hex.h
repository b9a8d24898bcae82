/*
 * hex.h — hexadecimal text for bytes, and the 8-4-4-4-12 text form of UUIDs.
 *
 * Output is lowercase (as Cassandra prints blobs and uuids); input accepts
 * either case.  Functions work on caller memory and never allocate, except the
 * _put variants, which append to a struct buf (whose `oom` latches).  Parsers
 * take the text with its length, so they never read past it.
 */
#ifndef COLONNADE_CORE_HEX_H
#define COLONNADE_CORE_HEX_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value 0..15 of one hex digit, -1 if c is not one. */
int hex_digit(char c);

/* Write 2n lowercase hex digits of p[0..n) and a NUL to out (2n + 1 bytes). */
void hex_encode(const void *p, size_t n, char *out);
/* Append 2n lowercase hex digits of p[0..n) to b (no NUL). */
void hex_put(struct buf *b, const void *p, size_t n);
/* Decode the 2n hex digits at s into out[0..n); false (out undefined) if one is not a digit. */
bool hex_decode(const char *s, size_t n, uint8_t *out);

/* Text length of a UUID: 32 hex digits and 4 hyphens. */
#define UUID_TEXT_LEN 36
/* Write u as "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" and a NUL (UUID_TEXT_LEN + 1 bytes). */
void uuid_format(const uint8_t u[16], char *out);
/* Append the same text (no NUL) to b. */
void uuid_put(struct buf *b, const uint8_t u[16]);
/* Parse exactly that text from s[0..len); false (out untouched) if it is anything else. */
bool uuid_parse(const char *s, size_t len, uint8_t out[16]);

#endif
