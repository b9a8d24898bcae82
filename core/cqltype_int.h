/*
 * cqltype_int.h — what the cqltype files share beyond cqltype.h: arbitrary
 * precision helpers, float loads, date/time part parsers and the short type
 * name for messages.  Only core/cqltype*.c and their tests include it.
 *
 * The files, one concern each (the face is cqltype.h):
 *   cqltype.c          type descriptors, type text, protocol [option]s, validation
 *   cqltype_order.c    varint/decimal arithmetic, comparison, the ordered encoding
 *   cqltype_text.c     timestamps in text, rendering values as CQL literals
 *   cqltype_literal.c  CQL literals to values, collection values from items
 */
#ifndef COLONNADE_CORE_CQLTYPE_INT_H
#define COLONNADE_CORE_CQLTYPE_INT_H

#include "core/cqltype.h"

#include <stdbool.h>
#include <string.h>

/* The largest time of day: 23:59:59.999999999 in ns. */
#define TIME_MAX_NS 86399999999999LL

/* A short printable name of t into dst (cap bytes), for error messages; returns dst. */
const char *cqlt_tname(const struct cqltype *t, char *dst, size_t cap);

/* ---- arbitrary precision (cqltype_order.c); magnitudes are big-endian, no leading zeros ---- */

/* Magnitude of a two's complement varint into out; returns the sign. */
int cqlt_varint_magnitude(const uint8_t *p, size_t len, struct buf *out);
/* Two's complement (minimal) of sign * magnitude, appended to out. */
void cqlt_varint_from_magnitude(int sign, const uint8_t *m, size_t mlen, struct buf *out);
/* Decimal digits ('0'..'9', no leading zeros, "" for zero) of a magnitude. */
int cqlt_magnitude_to_digits(const uint8_t *m, size_t mlen, struct buf *digits);
/* Magnitude bytes of a decimal digit string. */
int cqlt_digits_to_magnitude(const char *d, size_t n, struct buf *out);

/* ---- float and double values (big-endian IEEE 754) ---- */

static inline double load_float(const uint8_t *p)
{
	uint32_t u = be32_load(p);
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static inline double load_double(const uint8_t *p)
{
	uint64_t u = be64_load(p);
	double d;
	memcpy(&d, &u, 8);
	return d;
}

/* ---- duration (cqltype_duration.c) ---- */

/* Append the native duration of the three parts (one sign). */
void cqlt_duration_put(struct buf *out, int32_t months, int32_t days, int64_t nanos);
/* The parts of a native duration; false if it is not three vints in range. */
bool cqlt_duration_get(const uint8_t *p, size_t len, int32_t *months, int32_t *days,
                       int64_t *nanos);
/* COL_ETYPE unless p is a valid duration (three vints, one sign). */
int cqlt_duration_validate(const uint8_t *p, size_t len, struct cerr *err);
/* 1h30m, P1DT2H, P2W, P0001-02-03T04:05:06 (optional '-') to the native form;
 * COL_ETYPE "Unable to convert 'x' to a duration". */
int cqlt_duration_from_text(const char *s, size_t len, struct buf *out, struct cerr *err);
/* Append cqlsh's text of a duration: "1y2mo3d4h5m6s7ms8us9ns", "-1h". */
void cqlt_duration_format(const uint8_t *p, size_t len, struct buf *out);

/* ---- date and time text (cqltype_text.c) ---- */

/* "yyyy-mm-dd" (year may have a sign and more digits) at s[*i] -> days since epoch. */
bool cqlt_parse_date_part(const char *s, size_t len, size_t *i, int64_t *days);
/* "hh:mm[:ss[.fffffffff]]" at s[*i] -> ns since midnight. */
bool cqlt_parse_time_part(const char *s, size_t len, size_t *i, bool need_seconds, int64_t *ns);
/* s is one or more decimal digits, after an optional sign when allow_sign. */
bool cqlt_all_digits(const char *s, size_t len, bool allow_sign);
/* s is a whole signed decimal integer that fits in 64 bits. */
bool cqlt_parse_i64(const char *s, size_t len, int64_t *out);
/* Civil date of days since 1970-01-01. */
void cqlt_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
/* Decimal text of a varint / a decimal (Python's and Java's BigDecimal spelling). */
void cqlt_put_varint(struct buf *out, const uint8_t *p, size_t len);
void cqlt_put_decimal(struct buf *out, const uint8_t *p, size_t len);

#endif
