/*
 * libFuzzer target: colonnade.yaml bytes through the config reader
 * (core/config.h): YAML parsing, every key's value parser, seed_provider's
 * structure, then the cross-checks and the effective-config description.
 * Any input must give 0 or a clean COL_ECONFIG, never a crash or a leak.
 */
#include "core/config.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sink(const char *line, void *ctx)
{
	(void)line;
	(void)ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	if (config_init(&c))
		return 0;
	struct cerr e = {0};
	if (config_load_string(&c, "fuzz.yaml", (const char *)data, size, &e) == 0 &&
	    config_finish(&c, &e) == 0)
		config_describe(&c, sink, NULL);
	(void)config_warnings(&c);
	config_release(&c);
	return 0;
}
