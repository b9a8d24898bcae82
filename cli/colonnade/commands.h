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

#endif
