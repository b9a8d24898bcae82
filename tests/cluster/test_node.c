/*
 * The node program: `colonnade server` refuses a data directory held
 * by another process, names file, line and key of a bad config, honours the
 * flag > env > file precedence, and shuts down cleanly on SIGINT/SIGTERM
 * keeping its identity.  Real processes through the cluster harness.
 */
#include "tests/cluster/harness/cluster_test.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static struct cluster *c;

static void one_node(bool start)
{
	struct cluster_opts o = {.n = 1, .first_host = 60, .no_start = !start};
	c = cluster_test_start(&o, false);
}

TestSuite(node, .fini = cluster_test_fini, .timeout = 120);

Test(node, data_directory_held_by_another_process)
{
	one_node(true);
	/* At first boot a node is UJ until gossip settled (a few rounds), then UN. */
	CLUSTER_ASSERT(c, cluster_wait_all_up(c, CLUSTER_TEST_START_MS) >= 0, "the node is UN");
	char addr[64], pid[32];
	snprintf(addr, sizeof(addr), "--listen_address=%s.61", c->net);
	snprintf(pid, sizeof(pid), "(pid %d)", (int)c->nodes[1].pid);
	const char *args[] = {"server", "-c", c->nodes[1].yaml, addr, NULL};
	char out[16384];
	int st = 0;
	CLUSTER_ASSERT(c, cluster_run(c, args, NULL, out, sizeof(out), 20000, &st) == 0,
	               "the second process must exit by itself");
	CLUSTER_EXPECT(c, WIFEXITED(st) && WEXITSTATUS(st) == 1, "exit status 1 (got %d)", st);
	CLUSTER_EXPECT(c, strstr(out, "is in use by another colonnade process") && strstr(out, pid),
	               "the refusal names the holder %s:\n%s", pid, out);
	char code[3];
	CLUSTER_EXPECT(
	        c, cluster_status_code(c, 1, c->nodes[1].addr, code) == 0 && !strcmp(code, "UN"),
	        "the first node is undisturbed");
}

Test(node, sigint_shuts_down_cleanly_and_identity_survives)
{
	one_node(true);
	char hid0[37], hid1[37];
	int64_t g0, g1;
	char t0[16][24], t1[16][24];
	int n0, n1;
	CLUSTER_ASSERT(c, cluster_info(c, 1, hid0, &g0, t0, &n0, 16) == 0, "info");
	CLUSTER_ASSERT(c, cluster_signal(c, 1, SIGINT) == 0, "SIGINT");
	int st = 0;
	CLUSTER_ASSERT(c, cluster_wait_exit(c, 1, 20000, &st) == 0, "exits after SIGINT");
	CLUSTER_EXPECT(c, WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status 0 (got %d)", st);
	CLUSTER_EXPECT(c, cluster_log_count(c, 1, "received SIGINT, shutting down") == 1,
	               "SIGINT logged");
	CLUSTER_EXPECT(c, cluster_log_count(c, 1, "shutdown complete") == 1, "shutdown logged");
	CLUSTER_ASSERT(c, cluster_start_node(c, 1) == 0, "restart");
	CLUSTER_ASSERT(c, cluster_wait_admin(c, 1, 30000) >= 0, "back");
	CLUSTER_ASSERT(c, cluster_info(c, 1, hid1, &g1, t1, &n1, 16) == 0, "info");
	CLUSTER_EXPECT(c, !strcmp(hid0, hid1), "host id kept: %s then %s", hid0, hid1);
	CLUSTER_ASSERT(c, n0 == n1 && n0 == 16, "%d tokens, then %d", n0, n1);
	for (int i = 0; i < n0; i++)
		CLUSTER_EXPECT(c, !strcmp(t0[i], t1[i]), "token %d: %s then %s", i, t0[i], t1[i]);
	CLUSTER_EXPECT(c, g1 > g0, "generation grows: %lld then %lld", (long long)g0,
	               (long long)g1);
	CLUSTER_EXPECT(c, cluster_log_count(c, 1, "loaded from") == 1,
	               "second boot loads the identity");
	CLUSTER_EXPECT(c, cluster_log_count(c, 1, "first boot") == 1, "only one first boot");
}

Test(node, bad_config_names_file_line_and_key)
{
	one_node(false);
	char path[600];
	snprintf(path, sizeof(path), "%s/bad.yaml", c->root);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "cluster_name: x\n# comment\nnum_tokens: many\n");
	fclose(f);
	const char *args[] = {"server", "-c", path, NULL};
	char out[8192], want[700];
	int st = 0;
	CLUSTER_ASSERT(c, cluster_run(c, args, NULL, out, sizeof(out), 10000, &st) == 0, "exits");
	CLUSTER_EXPECT(c, WIFEXITED(st) && WEXITSTATUS(st) == 1, "exit status 1 (got %d)", st);
	snprintf(want, sizeof(want),
	         "%s:3: num_tokens: expected an integer between 1 and 1024, got 'many'", path);
	CLUSTER_EXPECT(c, strstr(out, want), "want '%s' in:\n%s", want, out);

	const char *flag[] = {"server", "--num_tokes=4", NULL};
	CLUSTER_ASSERT(c, cluster_run(c, flag, NULL, out, sizeof(out), 10000, &st) == 0, "exits");
	CLUSTER_EXPECT(c, WIFEXITED(st) && WEXITSTATUS(st) == 1, "exit status 1 (got %d)", st);
	CLUSTER_EXPECT(c,
	               strstr(out, "flag --num_tokes: unknown key 'num_tokes' (did you mean "
	                           "'num_tokens'?)"),
	               "%s", out);

	const char *env[] = {"COLONNADE_GOSSIP_INTERVAL=fast", NULL};
	const char *plain[] = {"server", NULL};
	CLUSTER_ASSERT(c, cluster_run(c, plain, env, out, sizeof(out), 10000, &st) == 0, "exits");
	CLUSTER_EXPECT(c, WIFEXITED(st) && WEXITSTATUS(st) == 1, "exit status 1 (got %d)", st);
	CLUSTER_EXPECT(c,
	               strstr(out,
	                      "environment COLONNADE_GOSSIP_INTERVAL: gossip_interval: expected a "
	                      "duration"),
	               "%s", out);
}

Test(node, flag_beats_env_beats_file)
{
	/* The harness's file says dc1/rack1 and 16 tokens; env and flags override. */
	one_node(false);
	char rack[64];
	snprintf(rack, sizeof(rack), "--rack=flagrack");
	const char *args[] = {"server", "-c", c->nodes[1].yaml, rack, "--num_tokens", "4", NULL};
	const char *env[] = {"COLONNADE_DC=envdc", "COLONNADE_RACK=envrack", NULL};
	char out[32768];
	int st = 0;
	/* Run it for real and stop it with a signal once it serves. */
	CLUSTER_ASSERT(c, cluster_run(c, args, env, out, sizeof(out), 3000, &st) == -1,
	               "the node keeps running until stopped:\n%s", out);
	CLUSTER_EXPECT(c, strstr(out, "envdc") && strstr(out, "(environment COLONNADE_DC)"), "%s",
	               out);
	CLUSTER_EXPECT(c, strstr(out, "flagrack") && strstr(out, "(flag --rack)"), "%s", out);
	CLUSTER_EXPECT(c, !strstr(out, "envrack"), "the flag wins over the environment");
	CLUSTER_EXPECT(c, strstr(out, "4 random tokens"), "num_tokens from the flag: %s", out);
	CLUSTER_EXPECT(c, strstr(out, "node started in"), "%s", out);
}
