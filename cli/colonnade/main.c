/*
 * main.c — the `colonnade` program: `colonnade server` runs a node, the other
 * subcommands are the operator's tools (nodetool is the model).
 */
#include "cli/colonnade/commands.h"
#include "cli/lib/bench.h" /* `bench`: the load generator */
#include "core/version.h"

#include <stdio.h>
#include <string.h>

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
	const char *summary;
};

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
        {"server", cmd_server, "server [-c colonnade.yaml] [--<key>=<value> ...]",
         "run a node (config keys: docs/CONFIG.md)"},
        {"status", cmd_status, "status [-h host[:port]] [keyspace]",
         "nodes per datacenter: up/down, state, load, tokens, ownership"},
        {"info", cmd_info, "info [-h host[:port]] [-T]", "this node: id, generation, uptime, load"},
        {"gossipinfo", cmd_gossipinfo, "gossipinfo [-h host[:port]]",
         "the gossip state of every endpoint"},
        {"describecluster", cmd_describecluster, "describecluster [-h host[:port]]",
         "cluster name, partitioner, snitch, schema versions"},
        {"ring", cmd_ring, "ring [-h host[:port]]", "every token and its owner"},
        {"getendpoints", cmd_getendpoints, "getendpoints <keyspace> <table> <key> [-h host[:port]]",
         "the replicas of a partition key (composite keys as a:b)"},
        {"dump", cmd_dump, "dump <keyspace> <table> <key> [-h host[:port]] [--json]",
         "what one node stores of a partition: cells, timestamps, TTLs, tombstones"},
        {"health", cmd_health, "health [-h host[:port]] [--timeout SECONDS]",
         "exit 0 when the node is UN in its own view and answers CQL (healthcheck)"},
        {"statushandoff", cmd_statushandoff, "statushandoff [-h host[:port]]",
         "is hinted handoff storing hints; is delivery paused"},
        {"enablehandoff", cmd_enablehandoff, "enablehandoff [-h host[:port]]",
         "store hints for unreachable replicas again"},
        {"disablehandoff", cmd_disablehandoff, "disablehandoff [-h host[:port]]",
         "stop storing hints (each refusal counted, its range kept for repair)"},
        {"pausehandoff", cmd_pausehandoff, "pausehandoff [-h host[:port]]",
         "stop delivering hints (they are kept)"},
        {"resumehandoff", cmd_resumehandoff, "resumehandoff [-h host[:port]]",
         "deliver hints again"},
        {"listpendinghints", cmd_listpendinghints, "listpendinghints [-h host[:port]]",
         "hints this node holds, per target host"},
        {"truncatehints", cmd_truncatehints, "truncatehints [-h host[:port]] [host]",
         "delete the hints for one host (id or address), or for all"},
        {"repair", cmd_repair,
         "repair [keyspace [table ...]] [-pr] [-st T -et T] [-dc DC | --local] [--preview]",
         "anti-entropy repair: compare Merkle trees, stream what differs (docs/REPAIR.md)"},
        {"repair_admin", cmd_repair_admin, "repair_admin list [limit] | cancel [id]",
         "repair history (newest first); cancel the running session"},
        {"compact", cmd_compact, "compact <keyspace> [table] [--no-wait] [-h host[:port]]",
         "full compaction on the node, waited for (tombstones purged where tombstone_gc "
         "allows)"},
        {"bench", bench_main, "bench WORKLOAD [options]",
         "load generator: throughput and honest latency (docs/BENCH.md)"},
        {"version", cmd_version, "version", "print the version"},
        {"help", cmd_help, "help [command]", "this text"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: colonnade <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-50s %s\n", commands[i].usage, commands[i].summary);
	fprintf(f, "\nOperator commands talk to a node's admin port (default 127.0.0.1:7199).\n"
	           "See docs/OPERATIONS.md.\n");
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("colonnade %s\n", COLONNADE_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	if (argc > 1) {
		for (size_t i = 0; i < NCOMMANDS; i++) {
			if (strcmp(commands[i].name, argv[1]) == 0) {
				printf("usage: colonnade %s\n  %s\n", commands[i].usage,
				       commands[i].summary);
				return 0;
			}
		}
		fprintf(stderr, "colonnade: unknown command '%s'\n", argv[1]);
		return 2;
	}
	usage(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h"))
		return cmd_help(1, argv + 1);
	if (!strcmp(name, "--version") || !strcmp(name, "-V"))
		return cmd_version(1, argv + 1);
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "colonnade: unknown command '%s' (try 'colonnade help')\n", name);
	return 2;
}
