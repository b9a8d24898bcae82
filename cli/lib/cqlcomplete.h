/*
 * cqlcomplete.h — tab-completion candidates for cqlish: keywords, shell
 * commands, consistency levels, keyspaces, tables and columns, chosen by
 * where the cursor is in the statement (a small context model, not cqlsh's
 * full grammar-driven completer):
 *
 *   (start)                         statement keywords and shell commands
 *   USE | KEYSPACE                  keyspaces
 *   FROM | INTO | UPDATE | TABLE |  keyspaces and tables of the current keyspace
 *   TRUNCATE
 *   <keyspace>.                     tables of that keyspace
 *   DESCRIBE | DESC                 DESCRIBE's words, keyspaces, tables
 *   CONSISTENCY / SERIAL CONSISTENCY consistency levels / SERIAL, LOCAL_SERIAL
 *   EXPAND | PAGING | TRACING        ON, OFF
 *   SHOW                            VERSION, HOST
 *   anywhere after a table is named columns of that table and clause keywords
 *
 * Keywords come back in the case of the word being completed (upper if it
 * starts upper-case, lower otherwise).  Names come from a schema provider so
 * this stays pure and testable; the shell's provider reads system_schema.
 */
#ifndef COLONNADE_CLI_CQLCOMPLETE_H
#define COLONNADE_CLI_CQLCOMPLETE_H

#include <stddef.h>

enum cqlcomplete_what { CQLCOMPLETE_KEYSPACES, CQLCOMPLETE_TABLES, CQLCOMPLETE_COLUMNS };

struct cqlcomplete_schema {
	void *ctx;
	/* NULL-terminated malloc'ed array of malloc'ed names (NULL = none):
	 * keyspaces; tables of ks; columns of ks.table. */
	char **(*names)(void *ctx, enum cqlcomplete_what what, const char *ks, const char *table);
	const char *current_keyspace; /* may be NULL */
};

/*
 * Candidates for `word` (the text being completed, possibly empty) given the
 * statement text before it.  Returns a NULL-terminated malloc'ed array of
 * malloc'ed strings, sorted and without duplicates, all starting with `word`
 * (case-insensitively); NULL when there are none or on OOM.
 */
char **cqlcomplete(const char *before, size_t before_len, const char *word,
                   const struct cqlcomplete_schema *sc);
void cqlcomplete_free(char **list);

#endif
