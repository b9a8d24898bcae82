/*
 * config_int.h — what the parts of the configuration code share (config.c
 * parses and checks, config_units.c reads numbers with units, config_describe.c prints
 * the effective configuration):
 * the key table and its row type.  Not for other modules.
 */
#ifndef COLONNADE_CORE_CONFIG_INT_H
#define COLONNADE_CORE_CONFIG_INT_H

#include "core/config.h"

#include <stddef.h>
#include <stdint.h>

enum ktype {
	K_STR,
	K_SECRET, /* a K_STR the effective-config log never prints */
	K_INT,
	K_BOOL,
	K_DOUBLE,
	K_DURATION,    /* "10s", "500ms" -> ms */
	K_DURATION_MS, /* legacy *_in_ms: plain number of ms */
	K_SIZE,        /* "16MiB" -> bytes */
	K_SIZE_MB,     /* legacy *_in_mb: plain number of MiB */
	K_KIB,         /* a plain number of KiB, or a size with a unit ("1MiB"), kept in KiB */
	K_LIST,        /* comma-separated names (a YAML list is joined with commas) */
	K_COMMITLOG_SYNC,
	K_SNITCH,
	K_LOG_LEVEL,
	K_SEEDS,
	K_DIRS,
	K_SEED_PROVIDER, /* YAML structure only; sets seeds */
};

struct keydef {
	const char *name;
	const char *canon; /* key this row sets; NULL = itself */
	enum ktype type;
	size_t off;
	int64_t min, max; /* K_INT (value), K_DURATION* (ms), K_SIZE* (bytes) */
	double dmin, dmax;
	const char *defval; /* NULL: no default (derived in config_finish) */
};

#define HOUR_MS (3600LL * 1000)
#define DAY_MS  (24 * HOUR_MS)
#define MIB     (1024LL * 1024)
#define GIB     (1024 * MIB)
#define TIB     (1024 * GIB)

/* bytes as text the size parser reads back, in the largest unit that divides it exactly
 * ("1TiB", "64KiB", "1000B"). */
void config_format_size(char *out, size_t len, int64_t bytes);

/* Every key, in the order the effective configuration prints them. */
extern const struct keydef *const config_keys;
extern const size_t config_nkeys;
/* Where row i's value came from ("default", "colonnade.yaml:12", "flag --x"), or NULL. */
const char *config_origin_at(const struct config *c, size_t i);

/* config_units.c: past leading spaces; a whole-text integer (COL_EINVAL otherwise). */
const char *config_skip_space(const char *s);
int config_parse_i64(const char *s, int64_t *out);
/* config_parse_duration_ms(), and on a refusal whether it was for a nonzero duration
 * below the 1 ms resolution every duration key is kept in (*below_ms; "500us" would read
 * as 0, which several keys take as "off"), not for text that is no duration. */
int config_parse_duration(const char *s, int64_t *out_ms, bool *below_ms);

#endif
