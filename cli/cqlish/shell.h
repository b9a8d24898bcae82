/*
 * shell.h — cqlish's shell state and its statement runner (cqlsh's Shell).
 *
 * One shell owns one blocking connection (cli/lib/cqlclient.h) and runs
 * statements one at a time: shell commands locally, everything else on the
 * server.  Output goes to stdout, errors to stderr as cqlsh prints them
 * (prefixed "<file>:<line>:" when not interactive).  A statement that fails
 * marks the shell (`error`) so that -e/-f runs exit with status 2 like cqlsh.
 * A connection that failed is reopened before the next statement.
 */
#ifndef COLONNADE_CLI_CQLISH_SHELL_H
#define COLONNADE_CLI_CQLISH_SHELL_H

#include "cli/lib/cqlclient.h"
#include "core/buf.h"
#include "core/version.h"

#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>

#define CQLISH_DEFAULT_PAGE_SIZE 100

struct shell {
	struct cqlclient *cl;
	char host[256];
	uint16_t port;
	struct cqlconn_opts copts;

	char *keyspace; /* current keyspace (NULL: none) */
	uint16_t consistency;
	uint16_t serial_consistency;
	bool expand;
	bool paging;
	bool tracing; /* TRACING ON: statements are traced and their trace printed */
	int32_t page_size;

	bool tty;   /* interactive (prompt, ---MORE---, banner) */
	bool color; /* colour on stdout */
	bool show_line_nums;
	const char *src_name; /* "<stdin>" or the -f / SOURCE file */
	size_t lineno;        /* line of the statement being run */
	bool error;           /* some statement failed */
	bool stop;            /* EXIT / QUIT */
	int source_depth;
	int quiet; /* > 0: errors are neither printed nor counted (tab completion) */
	volatile sig_atomic_t *interrupt; /* Ctrl-C flag of the interactive loop, or NULL */
	FILE *capture;                    /* CAPTURE: query results go here instead of stdout */
	char *capture_path;
	bool capture_color; /* colour setting to restore after CAPTURE OFF */

	int64_t last_ts; /* client timestamps strictly increase */

	char *cluster_name, *release_version, *cql_version;
	char *login_user, *login_password; /* from LOGIN (copts points at them) */

	char **warned; /* "ks\x1fLEVEL" strings already warned about */
	size_t n_warned;
};

/* Connect (or reconnect) and read system.local.  0 or an error in err. */
int shell_connect(struct shell *sh, struct cerr *err);
void shell_release(struct shell *sh);

/* Run one complete statement (without its ';'). */
void shell_run(struct shell *sh, const char *stmt);

/* Print an error line the cqlsh way (stderr, line prefix in batch mode, red). */
void shell_printerr(struct shell *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Run every statement of a file (SOURCE and -f); errors do not stop it. */
void shell_run_file(struct shell *sh, FILE *f, const char *name);

/* The prompt for the current state ("cqlish:ks> " or the continuation). */
void shell_prompt(const struct shell *sh, bool continuation, struct buf *out);

/* TRACING ON's output for the statement traced as session `id` (tracing.c): wait until the
 * session is complete (TRACING ON), or show what is there (SHOW SESSION). */
void shell_print_trace(struct shell *sh, const uint8_t id[16], bool wait);

/* DESCRIBE (describe.c).  `args` is the text after the DESCRIBE/DESC word. */
void shell_describe(struct shell *sh, const char *args);

/* Run `cql` at ONE without paging limits: NULL (a transport error, printed) or a
 * result of any kind (an ERROR too) to free. */
struct cqlresult *shell_query(struct shell *sh, const char *cql);

/* Query helper: run `cql` at ONE without paging limits; NULL (error printed
 * when `report`) or a Rows result to free. */
struct cqlresult *shell_select(struct shell *sh, const char *cql, bool report);

#endif
