/*
 * main.c — cqlish: the interactive CQL shell (cqlsh is the model).
 *
 *   cqlish [host[:port]] [port] [-k keyspace] [-e 'statements'] [-f file]
 *          [--consistency LEVEL] [-C|--color] [--no-color]
 *          [--connect-timeout S] [--request-timeout S]
 *
 * Interactive when stdin is a terminal and neither -e nor -f is given: line
 * editing, history in ~/.cqlish_history and tab completion through libedit.
 * Exit status: 0; 1 when the connection cannot be made; 2 when a statement
 * failed in -e / -f / piped mode (cqlsh's batch-mode rule).
 */
#include "cli/cqlish/shell.h"
#include "core/net.h"
#include "cli/lib/cqlcomplete.h"
#include "cli/lib/cqlfmt.h"
#include "cli/lib/cqlsplit.h"
#include "core/cqlproto.h"
#include "core/tls.h"

#include <editline/readline.h>
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HISTORY_FILE ".cqlish_history"
#define HISTORY_MAX  1000

static struct shell g_sh;
static struct cqlsplit g_split;
static volatile sig_atomic_t g_interrupted;

static void usage(FILE *f)
{
	fputs("Usage: cqlish [options] [host[:port]] [port]\n\n"
	      "CQL shell for Colonnade (cqlsh is the model).\n\n"
	      "Options:\n"
	      "  -k, --keyspace KS        use keyspace KS\n"
	      "  -e, --execute STMTS      run the statements and quit\n"
	      "  -f, --file FILE          run the statements of FILE and quit\n"
	      "  --consistency LEVEL      initial consistency level (default ONE)\n"
	      "  -u, --username USER      log in as USER (PasswordAuthenticator)\n"
	      "  -p, --password PASSWORD  its password (default: $CQLISH_PASSWORD)\n"
	      "  --ssl                    connect with TLS (client_encryption_options)\n"
	      "  --cafile FILE            CA (PEM) the server's certificate must chain to\n"
	      "                           (default: $SSL_CERTFILE, as cqlsh)\n"
	      "  --certfile FILE          client certificate (PEM) for require_client_auth\n"
	      "  --keyfile FILE           its private key (PEM)\n"
	      "  --no-validate            do not verify the server's certificate\n"
	      "                           (also $SSL_VALIDATE=false, as cqlsh)\n"
	      "  -C, --color              always use colour output\n"
	      "  --no-color               never use colour output\n"
	      "  --connect-timeout SECS   connect timeout (default 5)\n"
	      "  --request-timeout SECS   request timeout (default 10)\n"
	      "  --version                print the version and exit\n"
	      "  -h, --help               this help\n\n"
	      "Connects to 127.0.0.1:9042 by default; $CQLISH_HOST and $CQLISH_PORT change the\n"
	      "default.  A host given on the command line wins.  The host 'auto' is this\n"
	      "host's own address (a container's, where its node listens).\n",
	      f);
}

static int parse_port(const char *s, uint16_t *out)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || !end || *end || v <= 0 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* "host", "host:port", "[v6]:port", "v6" */
static int parse_hostport(const char *arg, char *host, size_t hlen, uint16_t *port)
{
	if (arg[0] == '[') {
		const char *e = strchr(arg, ']');
		if (!e || (size_t)(e - arg - 1) >= hlen)
			return -1;
		snprintf(host, hlen, "%.*s", (int)(e - arg - 1), arg + 1);
		if (e[1] == ':')
			return parse_port(e + 2, port);
		return e[1] ? -1 : 0;
	}
	const char *c = strchr(arg, ':');
	if (c && strchr(c + 1, ':') == NULL) {
		if ((size_t)(c - arg) >= hlen)
			return -1;
		snprintf(host, hlen, "%.*s", (int)(c - arg), arg);
		return parse_port(c + 1, port);
	}
	if (strlen(arg) >= hlen)
		return -1;
	snprintf(host, hlen, "%s", arg);
	return 0;
}

static int parse_seconds(const char *s, unsigned *ms)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || !end || *end || v <= 0 || v > 86400)
		return -1;
	*ms = (unsigned)(v * 1000);
	return 0;
}

/* ---- completion (libedit's readline interface) ------------------------------------------------
 */

static char **g_matches;
static size_t g_match_i;

static char **schema_names(void *ctx, enum cqlcomplete_what what, const char *ks, const char *table)
{
	struct shell *sh = ctx;
	struct buf q;
	buf_init(&q);
	const char *col;
	switch (what) {
	case CQLCOMPLETE_KEYSPACES:
		buf_put_str(&q, "SELECT keyspace_name FROM system_schema.keyspaces");
		col = "keyspace_name";
		break;
	case CQLCOMPLETE_TABLES:
		buf_put_str(&q,
		            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ");
		cqlfmt_quote_string(&q, ks, strlen(ks));
		col = "table_name";
		break;
	default:
		buf_put_str(&q,
		            "SELECT column_name FROM system_schema.columns WHERE keyspace_name = ");
		cqlfmt_quote_string(&q, ks, strlen(ks));
		buf_put_str(&q, " AND table_name = ");
		cqlfmt_quote_string(&q, table, strlen(table));
		col = "column_name";
		break;
	}
	buf_put_u8(&q, 0);
	/* Completion must not mark the session as failed nor print. */
	sh->quiet++;
	struct cqlresult *r = buf_ok(&q) ? shell_select(sh, (const char *)q.data, false) : NULL;
	sh->quiet--;
	buf_release(&q);
	if (!r)
		return NULL;
	int c = cqlresult_column(r, col);
	char **v = c >= 0 ? calloc(r->n_rows + 1, sizeof(*v)) : NULL;
	size_t k = 0;
	for (uint32_t i = 0; v && i < r->n_rows; i++) {
		char *t = cqlresult_text(r, i, (uint32_t)c);
		if (t)
			v[k++] = t;
	}
	cqlresult_free(r);
	return v;
}

static char *match_generator(const char *text, int state)
{
	(void)text;
	if (state == 0)
		g_match_i = 0;
	if (!g_matches || !g_matches[g_match_i])
		return NULL;
	return strdup(g_matches[g_match_i++]);
}

static char **complete(const char *text, int start, int end)
{
	(void)end;
	cqlcomplete_free(g_matches);
	g_matches = NULL;
	/* The statement so far: earlier lines of a multi-line statement, then this line. */
	struct buf before;
	buf_init(&before);
	buf_put(&before, g_split.text.data, g_split.text.len);
	buf_put(&before, rl_line_buffer, (size_t)start);
	struct cqlcomplete_schema sc = {&g_sh, schema_names, g_sh.keyspace};
	if (buf_ok(&before))
		g_matches = cqlcomplete((const char *)before.data, before.len, text, &sc);
	buf_release(&before);
	rl_attempted_completion_over = 1; /* no file-name completion */
	if (!g_matches)
		return NULL;
	return rl_completion_matches(text, match_generator);
}

static void on_sigint(int sig)
{
	(void)sig;
	g_interrupted = 1;
}

static void history_path(struct buf *p)
{
	const char *home = getenv("HOME");
	buf_printf(p, "%s/%s", home ? home : ".", HISTORY_FILE);
	buf_put_u8(p, 0);
}

static void interactive(struct shell *sh)
{
	struct buf hist;
	buf_init(&hist);
	history_path(&hist);
	using_history();
	stifle_history(HISTORY_MAX);
	read_history((const char *)hist.data);
	rl_readline_name = "cqlish";
	rl_attempted_completion_function = complete;
	rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(,.";

	struct sigaction sa = {0};
	sa.sa_handler = on_sigint; /* no SA_RESTART: readline and waits see EINTR */
	sigaction(SIGINT, &sa, NULL);
	sh->interrupt = &g_interrupted;
	cqlclient_set_interrupt(sh->cl, sh->interrupt);

	struct buf prompt;
	buf_init(&prompt);
	int empty_lines = 0; /* blank lines typed into an unfinished statement */
	while (!sh->stop) {
		buf_reset(&prompt);
		bool pending = cqlsplit_pending(&g_split);
		if (!pending)
			empty_lines = 0;
		if (pending && empty_lines >= 3) {
			/* cqlsh's hint, shown as the prompt, after three blank lines */
			buf_put_str(&prompt, "Statements are terminated with a ';'.  You can press "
			                     "CTRL-C to cancel an incomplete statement.");
			empty_lines = 0;
		} else {
			shell_prompt(sh, pending, &prompt);
		}
		buf_put_u8(&prompt, 0);
		char *line = readline((const char *)prompt.data);
		if (!line) {
			if (g_interrupted) { /* Ctrl-C: drop the statement being typed */
				g_interrupted = 0;
				cqlsplit_reset(&g_split);
				putchar('\n');
				continue;
			}
			putchar('\n');
			break; /* EOF */
		}
		/* A Ctrl-C that came between two prompts (while a statement ran, or
		 * before readline started waiting) also drops what was typed before
		 * this line; it is cleared here, before statements run again. */
		if (g_interrupted) {
			g_interrupted = 0;
			cqlsplit_reset(&g_split);
		}
		if (line[0])
			add_history(line);
		sh->lineno++;
		empty_lines = line[0] ? 0 : empty_lines + 1;
		if (cqlsplit_feed(&g_split, line, strlen(line)) != COL_OK) {
			shell_printerr(sh, "statement larger than %u bytes; discarded",
			               CQLSPLIT_MAX_PENDING);
			cqlsplit_reset(&g_split);
		}
		free(line);
		char *stmt;
		size_t end_line;
		while (!sh->stop && cqlsplit_next(&g_split, &stmt, &end_line) == 1) {
			/* Like cqlsh: a statement typed on several lines also enters the
			 * history as one line, so it can be recalled whole. */
			if (strchr(stmt, '\n')) {
				struct buf h;
				buf_init(&h);
				for (const char *c = stmt; *c; c++)
					buf_put_u8(&h, *c == '\n' ? ' ' : (uint8_t)*c);
				buf_put_str(&h, ";");
				buf_put_u8(&h, 0);
				if (buf_ok(&h))
					add_history((const char *)h.data);
				buf_release(&h);
			}
			shell_run(sh, stmt);
			free(stmt);
		}
	}
	write_history((const char *)hist.data);
	buf_release(&prompt);
	buf_release(&hist);
	cqlcomplete_free(g_matches);
	g_matches = NULL;
}

/* What the command line asks for beyond the shell's own settings. */
struct cqlish_args {
	const char *execute, *file, *keyspace;
	int color; /* -1: auto */
	bool ssl, no_validate;
	const char *cafile, *certfile, *keyfile;
};

/* main() goes on after a step that returns this; any other value is the exit status. */
#define GO_ON (-1)

/* The defaults: $CQLISH_HOST, $CQLISH_PORT, cqlsh's consistency, paging and timeouts. */
static int shell_defaults(struct shell *sh)
{
	memset(sh, 0, sizeof(*sh));
	snprintf(sh->host, sizeof(sh->host), "%s",
	         getenv("CQLISH_HOST") ? getenv("CQLISH_HOST") : "127.0.0.1");
	sh->port = 9042;
	if (getenv("CQLISH_PORT") && parse_port(getenv("CQLISH_PORT"), &sh->port) != 0) {
		fprintf(stderr, "cqlish: $CQLISH_PORT '%s' is not a valid port number\n",
		        getenv("CQLISH_PORT"));
		return 1;
	}
	sh->consistency = CL_ONE;
	sh->serial_consistency = CL_SERIAL;
	sh->paging = true;
	sh->page_size = CQLISH_DEFAULT_PAGE_SIZE;
	sh->copts.connect_timeout_ms = 5000;
	sh->copts.request_timeout_ms = 10000;
	return GO_ON;
}

/* An option that takes a value (argv[*i] is the option, argv[*i + 1] its
 * value); GO_ON once applied, else the exit status. */
static int value_option(struct shell *sh, struct cqlish_args *args, int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	if (*i + 1 >= argc) {
		fprintf(stderr, "cqlish: option %s needs a value\n", a);
		return 1;
	}
	const char *val = argv[++*i];
	if (!strcmp(a, "-k") || !strcmp(a, "--keyspace")) {
		args->keyspace = val;
	} else if (!strcmp(a, "-e") || !strcmp(a, "--execute")) {
		args->execute = val;
	} else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
		args->file = val;
	} else if (!strcmp(a, "-u") || !strcmp(a, "--username")) {
		sh->copts.username = val;
	} else if (!strcmp(a, "-p") || !strcmp(a, "--password")) {
		sh->copts.password = val;
	} else if (!strcmp(a, "--cafile")) {
		args->cafile = val;
	} else if (!strcmp(a, "--certfile")) {
		args->certfile = val;
	} else if (!strcmp(a, "--keyfile")) {
		args->keyfile = val;
	} else if (!strcmp(a, "--consistency")) {
		if (cql_consistency_parse(val, &sh->consistency) != COL_OK) {
			fprintf(stderr,
			        "cqlish: '%s' is not a consistency level (ANY, ONE, TWO, "
			        "THREE, QUORUM, ALL, LOCAL_QUORUM, EACH_QUORUM, SERIAL, "
			        "LOCAL_SERIAL, LOCAL_ONE)\n",
			        val);
			return 1;
		}
	} else { /* --connect-timeout, --request-timeout */
		unsigned *dst = !strcmp(a, "--connect-timeout") ? &sh->copts.connect_timeout_ms
		                                                : &sh->copts.request_timeout_ms;
		if (parse_seconds(val, dst) != 0) {
			fprintf(stderr, "cqlish: \"%s\" is not a valid timeout for %s\n", val, a);
			return 1;
		}
	}
	return GO_ON;
}

static bool takes_value(const char *a)
{
	static const char *const opts[] = {"-k",
	                                   "--keyspace",
	                                   "-e",
	                                   "--execute",
	                                   "-f",
	                                   "--file",
	                                   "--consistency",
	                                   "-u",
	                                   "--username",
	                                   "-p",
	                                   "--password",
	                                   "--cafile",
	                                   "--certfile",
	                                   "--keyfile",
	                                   "--connect-timeout",
	                                   "--request-timeout"};
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (!strcmp(a, opts[i]))
			return true;
	return false;
}

/* The command line, cqlsh's: [options] [host[:port] [port]].  GO_ON, or the
 * exit status (0 after --help and --version). */
static int parse_args(struct shell *sh, struct cqlish_args *args, int argc, char **argv)
{
	int positional = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int rc = GO_ON;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			printf("cqlish %s\n", COLONNADE_VERSION);
			return 0;
		} else if (takes_value(a)) {
			rc = value_option(sh, args, argc, argv, &i);
		} else if (!strcmp(a, "-C") || !strcmp(a, "--color")) {
			args->color = 1;
		} else if (!strcmp(a, "--no-color")) {
			args->color = 0;
		} else if (!strcmp(a, "--ssl")) {
			args->ssl = true;
		} else if (!strcmp(a, "--no-validate")) {
			args->no_validate = true;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "cqlish: unknown option %s (see cqlish --help)\n", a);
			return 1;
		} else if (positional == 0) {
			if (parse_hostport(a, sh->host, sizeof(sh->host), &sh->port) != 0) {
				fprintf(stderr, "cqlish: '%s' is not host[:port]\n", a);
				return 1;
			}
			positional++;
		} else if (positional == 1) {
			if (parse_port(a, &sh->port) != 0) {
				fprintf(stderr, "cqlish: '%s' is not a valid port number.\n", a);
				return 1;
			}
			positional++;
		} else {
			fprintf(stderr, "cqlish: unexpected argument '%s'\n", a);
			return 1;
		}
		if (rc != GO_ON)
			return rc;
	}
	if (sh->copts.username && !sh->copts.password)
		sh->copts.password = getenv("CQLISH_PASSWORD");
	if (sh->copts.username && !sh->copts.password) {
		fprintf(stderr, "cqlish: -u %s needs a password: -p PASSWORD or $CQLISH_PASSWORD\n",
		        sh->copts.username);
		return 1;
	}
	if (args->execute && args->file) {
		fprintf(stderr, "cqlish: -e and -f cannot be used together\n");
		return 1;
	}
	return GO_ON;
}

/*
 * --ssl: a client TLS context.  cqlsh's names: its [ssl] certfile (the CA) is
 * --cafile or $SSL_CERTFILE, usercert/userkey are --certfile/--keyfile, validate
 * is --no-validate or $SSL_VALIDATE.  Validation checks the chain and that the
 * certificate names the host connected to.
 */
static int tls_setup(struct shell *sh, struct cqlish_args *args)
{
	if (!args->ssl) {
		if (args->cafile || args->certfile || args->keyfile) {
			fprintf(stderr, "cqlish: --cafile/--certfile/--keyfile need --ssl\n");
			return 1;
		}
		return GO_ON;
	}
	const char *v = getenv("SSL_VALIDATE");
	if (v && (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no")))
		args->no_validate = true;
	if (!args->cafile)
		args->cafile = getenv("SSL_CERTFILE");
	if (!args->no_validate && (!args->cafile || !*args->cafile)) {
		fprintf(stderr, "cqlish: --ssl needs the CA the server's certificate chains to: "
		                "--cafile FILE (or $SSL_CERTFILE), or --no-validate\n");
		return 1;
	}
	struct tls_options o = {.certificate = args->certfile,
	                        .private_key = args->keyfile,
	                        .truststore = args->no_validate ? NULL : args->cafile,
	                        .what = "cqlish --ssl"};
	struct cerr e = {0};
	if (tls_ctx_new(&o, TLS_CLIENT, &sh->copts.tls, &e) != COL_OK) {
		fprintf(stderr, "cqlish: %s\n", e.msg);
		return 1;
	}
	sh->copts.tls_verify_host = !args->no_validate;
	return GO_ON;
}

/* Opens -f's file into *in and settles the terminal-dependent settings. */
static int shell_setup(struct shell *sh, const struct cqlish_args *args, FILE **in)
{
	if (args->file) {
		*in = fopen(args->file, "r");
		if (!*in) {
			fprintf(stderr, "Can't open '%s': %s\n", args->file, strerror(errno));
			return 1;
		}
	}
	sh->tty = !args->execute && !args->file && isatty(STDIN_FILENO);
	int color = args->color;
	if (color < 0) {
		const char *term = getenv("TERM");
		color = !args->file && isatty(STDOUT_FILENO) && term && *term &&
		        strcmp(term, "dumb");
	}
	sh->color = color == 1;
	sh->show_line_nums = !sh->tty;
	sh->src_name = args->file ? args->file : "<stdin>";
	sh->lineno = 1;
	if (args->keyspace) {
		sh->keyspace = strdup(args->keyspace);
		if (!sh->keyspace)
			return 1;
	}
	return GO_ON;
}

/* -e: every statement of the text, the last without its ';' as cqlsh allows. */
static void run_execute(struct shell *sh, const char *execute)
{
	struct cqlsplit sp;
	cqlsplit_init(&sp);
	char *stmt;
	size_t end_line;
	if (cqlsplit_feed(&sp, execute, strlen(execute)) != COL_OK) {
		shell_printerr(sh, "statement larger than %u bytes", CQLSPLIT_MAX_PENDING);
	} else {
		while (!sh->stop && cqlsplit_next(&sp, &stmt, &end_line) == 1) {
			shell_run(sh, stmt);
			free(stmt);
		}
		char *rest = cqlsplit_take_rest(&sp, &end_line);
		if (rest && !sh->stop)
			shell_run(sh, rest);
		free(rest);
	}
	cqlsplit_release(&sp);
}

/* cqlsh's greeting before an interactive session. */
static void print_banner(const struct shell *sh)
{
	printf("Connected to %s%s%s at %s:%u\n", sh->color ? CQLFMT_BLUE : "",
	       sh->cluster_name ? sh->cluster_name : "Unknown Cluster",
	       sh->color ? CQLFMT_RESET : "", sh->host, sh->port);
	printf("[cqlish %s | Cassandra %s | CQL spec %s | Native protocol v%d]\n",
	       COLONNADE_VERSION, sh->release_version ? sh->release_version : "unknown",
	       sh->cql_version ? sh->cql_version : "unknown", CQLPROTO_VERSION);
	printf("Use HELP for help.\n");
}

int main(int argc, char **argv)
{
	setlocale(LC_CTYPE, "");
	struct shell *sh = &g_sh;
	struct cqlish_args args = {.color = -1};
	FILE *in = NULL;
	int rc = shell_defaults(sh);
	if (rc == GO_ON)
		rc = parse_args(sh, &args, argc, argv);
	if (rc == GO_ON)
		rc = tls_setup(sh, &args);
	if (rc == GO_ON)
		rc = shell_setup(sh, &args, &in);
	if (rc != GO_ON)
		return rc;
	signal(SIGPIPE, SIG_IGN);

	struct cerr err = {0};
	if (!strcmp(sh->host, "auto") && net_own_address(sh->host, sizeof(sh->host), &err)) {
		fprintf(stderr, "cqlish: host auto: %s\n", err.msg);
		rc = 1;
	} else if (shell_connect(sh, &err) != COL_OK) {
		fprintf(stderr, "Connection error: %s\n", err.msg);
		rc = 1;
	}
	if (rc != GO_ON) {
		shell_release(sh);
		if (in)
			fclose(in);
		return rc;
	}
	cqlsplit_init(&g_split);
	if (args.execute) {
		run_execute(sh, args.execute);
	} else if (in) {
		shell_run_file(sh, in, args.file);
	} else if (sh->tty) {
		print_banner(sh);
		interactive(sh);
	} else {
		shell_run_file(sh, stdin, "<stdin>");
	}
	if (in)
		fclose(in);
	bool failed = sh->error && !sh->tty;
	cqlsplit_release(&g_split);
	tls_ctx_unref(sh->copts.tls);
	shell_release(sh);
	return failed ? 2 : 0;
}
