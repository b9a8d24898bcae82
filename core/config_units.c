/*
 * config_units.c — the numbers of colonnade.yaml: plain integers, durations and sizes
 * with their units (Cassandra 4.1's DurationSpec and DataStorageSpec), and sizes written
 * back in the largest unit that divides them.  Split from config.c, which parses keys.
 */
#include "core/config.h"
#include "core/config_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *config_skip_space(const char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return s;
}

int config_parse_i64(const char *s, int64_t *out)
{
	s = config_skip_space(s);
	if (!*s)
		return COL_EINVAL;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *config_skip_space(end))
		return COL_EINVAL;
	*out = v;
	return COL_OK;
}

/*
 * "<digits><spaces?><unit>"; unit looked up in `units`; result = n * mul / div, rounded
 * down.  COL_EINVAL when the text does not read so, or when a nonzero n rounds down to 0
 * (*below set: the unit is finer than the result's resolution); COL_ETOOBIG when it does
 * but n * mul does not fit the int64_t every duration (ms) and size (bytes) is kept in.
 */
struct unit {
	const char *name;
	int64_t mul, div;
};

static int parse_with_unit(const char *s, const struct unit *units, size_t nunits, int64_t *out,
                           bool *below)
{
	*below = false;
	s = config_skip_space(s);
	if (!isdigit((unsigned char)*s))
		return COL_EINVAL;
	errno = 0;
	char *end;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno && errno != ERANGE)
		return COL_EINVAL;
	bool too_big = errno == ERANGE || n > INT64_MAX;
	const char *u = config_skip_space(end);
	size_t ulen = strlen(u);
	while (ulen > 0 && isspace((unsigned char)u[ulen - 1]))
		ulen--;
	if (ulen == 0)
		return COL_EINVAL;
	for (size_t i = 0; i < nunits; i++) {
		if (strlen(units[i].name) == ulen && strncmp(units[i].name, u, ulen) == 0) {
			if (too_big || (units[i].mul > 1 && (int64_t)n > INT64_MAX / units[i].mul))
				return COL_ETOOBIG;
			int64_t v = (int64_t)n * units[i].mul / units[i].div;
			if (v == 0 && n != 0) {
				*below = true;
				return COL_EINVAL;
			}
			*out = v;
			return COL_OK;
		}
	}
	return COL_EINVAL;
}

int config_parse_duration(const char *s, int64_t *out_ms, bool *below_ms)
{
	/* Cassandra 4.1 DurationSpec units; "m" is minutes, "ms" milliseconds. */
	static const struct unit units[] = {
	        {"d", DAY_MS, 1}, {"h", HOUR_MS, 1}, {"m", 60000, 1},        {"s", 1000, 1},
	        {"ms", 1, 1},     {"us", 1, 1000},   {"\xc2\xb5s", 1, 1000}, {"ns", 1, 1000000},
	};
	return parse_with_unit(s, units, sizeof(units) / sizeof(units[0]), out_ms, below_ms);
}

int config_parse_duration_ms(const char *s, int64_t *out_ms)
{
	bool below_ms;
	return config_parse_duration(s, out_ms, &below_ms);
}

/* Binary units, as Cassandra's DataStorageSpec; KB/MB/GB/TB read as KiB/MiB/GiB/TiB. */
int config_parse_size_bytes(const char *s, int64_t *out_bytes)
{
	static const struct unit units[] = {
	        {"B", 1, 1},     {"KiB", 1024, 1}, {"MiB", MIB, 1},
	        {"GiB", GIB, 1}, {"TiB", TIB, 1},  {"KB", 1024, 1},
	        {"MB", MIB, 1},  {"GB", GIB, 1},   {"TB", TIB, 1},
	};
	bool below; /* never: every unit is a whole number of bytes */
	return parse_with_unit(s, units, sizeof(units) / sizeof(units[0]), out_bytes, &below);
}

void config_format_size(char *out, size_t len, int64_t bytes)
{
	static const struct unit units[] = {
	        {"TiB", TIB, 1}, {"GiB", GIB, 1}, {"MiB", MIB, 1}, {"KiB", 1024, 1}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (bytes != 0 && bytes % units[i].mul == 0) {
			snprintf(out, len, "%lld%s", (long long)(bytes / units[i].mul),
			         units[i].name);
			return;
		}
	}
	snprintf(out, len, "%lldB", (long long)bytes);
}
