/*
 * cmd_server.c — `colonnade server [-c colonnade.yaml] [--<key>=<value> ...]`.
 *
 * Builds the configuration in its four layers (defaults, file, environment
 * COLONNADE_<KEY>, flags) and hands it to the node (coordinator/node/node.h).
 */
#include "cli/colonnade/commands.h"
#include "coordinator/node/node.h"
#include "core/config.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static void server_usage(void)
{
	fprintf(stderr,
	        "usage: colonnade server [-c colonnade.yaml] [--<key>=<value> ...]\n"
	        "  -c, --config FILE   read FILE (cassandra.yaml key names; docs/CONFIG.md)\n"
	        "  --<key>=<value>     override one key, e.g. --seeds=127.0.0.1 --num_tokens=16\n"
	        "Precedence: flag > environment COLONNADE_<KEY> > file > default.\n");
}

int cmd_server(int argc, char **argv)
{
	const char *file = NULL;
	struct config cfg;
	if (config_init(&cfg)) {
		fprintf(stderr, "colonnade server: out of memory\n");
		return 1;
	}
	struct cerr err = {0};
	int rc = 0;
	/* First pass: find the file, so flags apply over it whatever their order. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) {
			if (i + 1 >= argc) {
				server_usage();
				config_release(&cfg);
				return 2;
			}
			file = argv[++i];
		} else if (!strncmp(argv[i], "--config=", 9)) {
			file = argv[i] + 9;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			server_usage();
			config_release(&cfg);
			return 0;
		}
	}
	if (file)
		rc = config_load_file(&cfg, file, &err);
	if (!rc)
		rc = config_apply_env(&cfg, (const char *const *)environ, &err);
	for (int i = 1; i < argc && !rc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
			i++;
			continue;
		}
		if (!strncmp(a, "--config=", 9))
			continue;
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "colonnade server: unexpected argument '%s'\n", a);
			server_usage();
			config_release(&cfg);
			return 2;
		}
		char key[128];
		const char *eq = strchr(a + 2, '=');
		const char *value;
		size_t klen = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
		if (klen == 0 || klen >= sizeof(key)) {
			fprintf(stderr, "colonnade server: bad flag '%s'\n", a);
			config_release(&cfg);
			return 2;
		}
		memcpy(key, a + 2, klen);
		key[klen] = 0;
		for (char *p = key; *p; p++)
			if (*p == '-')
				*p = '_'; /* --num-tokens is --num_tokens */
		if (eq) {
			value = eq + 1;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			fprintf(stderr, "colonnade server: flag --%s needs a value\n", key);
			config_release(&cfg);
			return 2;
		}
		char origin[160];
		snprintf(origin, sizeof(origin), "flag --%s", key);
		rc = config_set(&cfg, key, value, origin, &err);
	}
	if (!rc)
		rc = config_finish(&cfg, &err);
	if (rc) {
		fprintf(stderr, "colonnade server: %s\n", err.msg);
		config_release(&cfg);
		return 1;
	}
	log_set_level(cfg.log_level);
	log_set_tag(cfg.broadcast_address);
	/* Warnings are logged once the log carries the node's tag. */
	const char *w = config_warnings(&cfg);
	while (*w) {
		const char *nl = strchr(w, '\n');
		int n = nl ? (int)(nl - w) : (int)strlen(w);
		log_warn("config", "%.*s", n, w);
		w += n + (nl ? 1 : 0);
	}
	if (file)
		log_info("config", "configuration file %s", file);
	else
		log_info("config",
		         "no configuration file (-c): running with defaults, env and flags");
	rc = node_main(&cfg);
	config_release(&cfg);
	return rc;
}
