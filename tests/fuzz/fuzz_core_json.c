/*
 * libFuzzer target: an admin endpoint's answer through the operator tools'
 * JSON reader (core/json.h), then a walk over the whole tree with every
 * accessor, as `colonnade status` would read it.
 */
#include "core/json.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const struct json *j, int depth)
{
	size_t n = 1;
	(void)json_str(j, NULL);
	(void)json_num(j, 0);
	(void)json_int(j, 0);
	(void)json_bool(j, false);
	for (size_t i = 0; i < json_len(j) && depth < JSON_MAX_DEPTH + 1; i++) {
		const char *k = json_key_at(j, i);
		if (k)
			(void)json_get(j, k);
		n += walk(json_at(j, i), depth + 1);
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json *j = NULL;
	if (json_parse((const char *)data, size, &j, NULL) == 0) {
		walk(j, 0);
		json_free(j);
	}
	return 0;
}
