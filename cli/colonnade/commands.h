/*
 * commands.h — the `colonnade` program's subcommands.
 *
 * Each subcommand is `int cmd_<name>(int argc, char **argv)` with argv[0] the
 * subcommand's name, returning the process exit status (0 ok, 1 failure,
 * 2 usage error).  main.c holds the table; adding a subcommand is one file
 * here and one row there.  Operator commands (status, info, ...) talk to a
 * node's admin HTTP port through cli/lib/admin_client.h and never include
 * server code; only `server` reaches into coordinator/ (node.h).
 */
#ifndef COLONNADE_CLI_COLONNADE_COMMANDS_H
#define COLONNADE_CLI_COLONNADE_COMMANDS_H

#include "cli/lib/admin_client.h"

#include <stdbool.h>

int cmd_server(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_gossipinfo(int argc, char **argv);
int cmd_describecluster(int argc, char **argv);
int cmd_ring(int argc, char **argv);
int cmd_getendpoints(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_health(int argc, char **argv);
int cmd_statushandoff(int argc, char **argv);
int cmd_enablehandoff(int argc, char **argv);
int cmd_disablehandoff(int argc, char **argv);
int cmd_pausehandoff(int argc, char **argv);
int cmd_resumehandoff(int argc, char **argv);
int cmd_listpendinghints(int argc, char **argv);
int cmd_truncatehints(int argc, char **argv);
int cmd_repair(int argc, char **argv);
int cmd_repair_admin(int argc, char **argv);
int cmd_compact(int argc, char **argv);

/*
 * The node an operator command talks to: -h/--host host[:port] or
 * --host=host[:port]; default $COLONNADE_HOST, else 127.0.0.1.  While argv is
 * walked, host_opt_take() consumes argv[*i] (and its value, advancing *i) when
 * it is that option and returns true; host_opt_target() then parses the
 * choice, printing "colonnade CMD: why" and returning 2 (the exit status) when
 * it is missing or malformed, else 0.
 */
struct host_opt {
	const char *host;
	bool missing_value; /* -h was the last argument */
};
void host_opt_init(struct host_opt *h);
bool host_opt_take(struct host_opt *h, int argc, char **argv, int *i);
int host_opt_target(const struct host_opt *h, const char *cmd, struct admin_target *out);

/*
 * GET (or, when post, POST) `path` on the node t and return its JSON answer
 * (the caller frees it), or NULL after printing "colonnade CMD: why" — with a
 * hint about admin_port when the node cannot be reached.
 */
struct json *admin_call(const char *cmd, const struct admin_target *t, const char *path, bool post);

#endif
