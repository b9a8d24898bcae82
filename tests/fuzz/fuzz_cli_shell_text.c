/*
 * libFuzzer target: what a user types, through the shell's pure text code —
 * the statement splitter (cli/lib/cqlsplit.h) line by line, then the tab
 * completer (cli/lib/cqlcomplete.h) at every line end, with a schema provider
 * that answers fixed names.
 */
#include "cli/lib/cqlcomplete.h"
#include "cli/lib/cqlsplit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char **names(void *ctx, enum cqlcomplete_what what, const char *ks, const char *table)
{
	(void)ctx;
	(void)what;
	(void)ks;
	(void)table;
	char **v = calloc(3, sizeof(*v));
	if (v) {
		v[0] = strdup("orders");
		v[1] = strdup("shop");
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct cqlsplit sp;
	cqlsplit_init(&sp);
	struct cqlcomplete_schema sc = {NULL, names, "shop"};
	size_t start = 0;
	for (size_t i = 0; i <= size; i++) {
		if (i < size && s[i] != '\n')
			continue;
		cqlsplit_feed(&sp, s + start, i - start);
		/* complete the last word of this line */
		size_t w = i;
		while (w > start && s[w - 1] != ' ')
			w--;
		char word[64];
		size_t wl = i - w < sizeof(word) - 1 ? i - w : sizeof(word) - 1;
		memcpy(word, s + w, wl);
		word[wl] = '\0';
		if (!memchr(word, '\0', wl))
			cqlcomplete_free(cqlcomplete(s + start, w - start, word, &sc));
		char *stmt;
		size_t line;
		while (cqlsplit_next(&sp, &stmt, &line) == 1)
			free(stmt);
		start = i + 1;
	}
	size_t line;
	free(cqlsplit_take_rest(&sp, &line));
	cqlsplit_release(&sp);
	return 0;
}
