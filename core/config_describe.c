/*
 * config_describe.c — the effective configuration, one line per key with
 * where its value came from (logged at start-up, `colonnade config`).
 */
#include "core/config.h"
#include "core/config_int.h"

#include <stdio.h>
#include <string.h>

/* ---- effective configuration -------------------------------------------- */

static void fmt_duration(char *out, size_t len, int64_t ms)
{
	if (ms != 0 && ms % HOUR_MS == 0)
		snprintf(out, len, "%lldh", (long long)(ms / HOUR_MS));
	else if (ms != 0 && ms % 1000 == 0)
		snprintf(out, len, "%llds", (long long)(ms / 1000));
	else
		snprintf(out, len, "%lldms", (long long)ms);
}

void config_describe(const struct config *c, void (*emit)(const char *line, void *ctx), void *ctx)
{
	static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct keydef *k = &config_keys[i];
		if (k->canon)
			continue; /* legacy names and aliases print as their key */
		char val[1024];
		val[0] = 0;
		switch (k->type) {
		case K_STR:
		case K_LIST: {
			const char *s = *(char *const *)((const char *)c + k->off);
			snprintf(val, sizeof(val), "%s", s ? s : "");
			break;
		}
		case K_SECRET: {
			const char *s = *(char *const *)((const char *)c + k->off);
			snprintf(val, sizeof(val), "%s", s && *s ? "(set, not shown)" : "");
			break;
		}
		case K_INT:
			snprintf(val, sizeof(val), "%d", *(const int *)((const char *)c + k->off));
			break;
		case K_BOOL:
			snprintf(val, sizeof(val), "%s",
			         *(const bool *)((const char *)c + k->off) ? "true" : "false");
			break;
		case K_DOUBLE:
			snprintf(val, sizeof(val), "%g",
			         *(const double *)((const char *)c + k->off));
			break;
		case K_DURATION:
		case K_DURATION_MS:
			fmt_duration(val, sizeof(val),
			             *(const int64_t *)((const char *)c + k->off));
			break;
		case K_SIZE:
		case K_SIZE_MB:
			config_format_size(val, sizeof(val),
			                   *(const int64_t *)((const char *)c + k->off));
			break;
		case K_KIB:
			snprintf(val, sizeof(val), "%lldKiB",
			         (long long)*(const int64_t *)((const char *)c + k->off));
			break;
		case K_COMMITLOG_SYNC:
			snprintf(val, sizeof(val), "%s",
			         c->commitlog_sync == CONFIG_SYNC_BATCH ? "batch" : "periodic");
			break;
		case K_SNITCH:
			snprintf(val, sizeof(val), "%s",
			         c->endpoint_snitch == CONFIG_SNITCH_SIMPLE
			                 ? "SimpleSnitch"
			                 : "GossipingPropertyFileSnitch");
			break;
		case K_LOG_LEVEL:
			snprintf(val, sizeof(val), "%s", level_names[c->log_level]);
			break;
		case K_SEEDS: {
			size_t off = 0;
			for (int s = 0; s < c->n_seeds && off < sizeof(val); s++) {
				int w = snprintf(val + off, sizeof(val) - off, "%s%s", s ? "," : "",
				                 c->seeds[s].host);
				if (w > 0)
					off += (size_t)w;
				if (c->seeds[s].port && off < sizeof(val)) {
					w = snprintf(val + off, sizeof(val) - off, ":%u",
					             c->seeds[s].port);
					if (w > 0)
						off += (size_t)w;
				}
			}
			break;
		}
		case K_DIRS: {
			size_t off = 0;
			for (int d = 0; d < c->n_data_dirs && off < sizeof(val); d++) {
				int w = snprintf(val + off, sizeof(val) - off, "%s%s", d ? "," : "",
				                 c->data_file_directories[d]);
				if (w > 0)
					off += (size_t)w;
			}
			break;
		}
		case K_SEED_PROVIDER: break;
		}
		char line[1400];
		const char *origin = config_origin_at(c, i);
		snprintf(line, sizeof(line), "%-44s %-30s (%s)", k->name, val,
		         origin ? origin : "derived");
		emit(line, ctx);
	}
}
