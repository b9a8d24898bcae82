/*
 * `colonnade getendpoints` against a real driver: on 3
 * nodes (dc1: nodes 1 and 2, dc2: node 3) with a SimpleStrategy RF=2 keyspace
 * and a NetworkTopologyStrategy {dc1: 1, dc2: 1} keyspace with a composite
 * partition key, the replicas each node names for 1000 keys equal the replica
 * set Debian's python3-cassandra computes (cluster.metadata.get_replicas,
 * tests/cluster/py/replicas.py), the tokens agree, and the driver's
 * token-aware query plan starts at one of them.  Every node is asked (key i
 * goes to node i % 3 + 1), through /v1/endpoints for all keys and through the
 * `colonnade getendpoints` program for a sample.
 */
#include "tests/cluster/harness/cluster_test.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_KEYS    1000
#define CLI_EVERY 50 /* every 50th key also through the colonnade program */

static struct cluster *c;

/* Run one statement on node k; assert it succeeded. */
static void cql_on(int k, const char *stmt)
{
	cluster_test_ok(c, cluster_test_conn(c, k), CL_ONE, stmt);
}

/* The source directory of this file (CMake compiles it by absolute path). */
static void src_dir(char *out, size_t cap)
{
	snprintf(out, cap, "%s", __FILE__);
	char *slash = strrchr(out, '/');
	if (slash)
		*slash = 0;
}

/* The replicas node k names, sorted and comma-joined, and the token. */
static int node_replicas(int k, const char *ks, const char *key, char *out, size_t cap,
                         long long *token)
{
	char path[256];
	snprintf(path, sizeof(path), "/v1/endpoints?keyspace=%s&table=t&key=%s", ks, key);
	struct json *j = cluster_admin(c, k, path);
	if (!j)
		return -1;
	const struct json *eps = json_get(j, "endpoints");
	size_t n = json_len(eps);
	const char *addrs[64];
	for (size_t i = 0; i < n && i < 64; i++)
		addrs[i] = json_str(json_at(eps, i), "?");
	/* sort (insertion: a handful of entries) */
	for (size_t i = 1; i < n && i < 64; i++)
		for (size_t m = i; m > 0 && strcmp(addrs[m - 1], addrs[m]) > 0; m--) {
			const char *t = addrs[m];
			addrs[m] = addrs[m - 1];
			addrs[m - 1] = t;
		}
	out[0] = 0;
	for (size_t i = 0; i < n && i < 64; i++) {
		size_t l = strlen(out);
		snprintf(out + l, cap - l, "%s%s", i ? "," : "", addrs[i]);
	}
	*token = json_int(json_get(j, "token"), 0);
	json_free(j);
	return 0;
}

/* The replicas `colonnade getendpoints` prints (one per line), sorted and comma-joined. */
static int cli_replicas(int k, const char *ks, const char *key, char *out, size_t cap)
{
	const char *args[] = {"getendpoints", ks, "t", key, "-h", c->nodes[k].addr, NULL};
	char buf[1024];
	int status = -1;
	if (cluster_run(c, args, NULL, buf, sizeof(buf), 10000, &status) != 0 || status != 0) {
		fprintf(stderr, "colonnade getendpoints %s t %s: status %d: %s\n", ks, key, status,
		        buf);
		return -1;
	}
	char *lines[64];
	size_t n = 0;
	for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l && n < 64;
	     l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	for (size_t i = 1; i < n; i++)
		for (size_t m = i; m > 0 && strcmp(lines[m - 1], lines[m]) > 0; m--) {
			char *t = lines[m];
			lines[m] = lines[m - 1];
			lines[m - 1] = t;
		}
	out[0] = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(out);
		snprintf(out + l, cap - l, "%s%s", i ? "," : "", lines[i]);
	}
	return 0;
}

Test(getendpoints, equals_python_driver_replicas, .fini = cluster_test_fini, .timeout = 600)
{
	if (system("/usr/bin/python3 -c 'import cassandra' 2>/dev/null") != 0)
		cr_assert_fail("python3-cassandra is not installed (deploy/install-deps.sh)");
	struct cluster_opts o = {.n = 3, .gossip_interval_ms = 50, .dcs = {"dc1", "dc1", "dc2"}};
	c = cluster_test_start(&o, true);

	/* DDL on node 1 only: schema propagates (a DDL answers once all live nodes agree). */
	cql_on(1, "CREATE KEYSPACE ge_simple WITH replication = "
	          "{'class': 'SimpleStrategy', 'replication_factor': 2}");
	cql_on(1, "CREATE TABLE ge_simple.t (k text PRIMARY KEY, v int)");
	cql_on(1, "CREATE KEYSPACE ge_nts WITH replication = "
	          "{'class': 'NetworkTopologyStrategy', 'dc1': 1, 'dc2': 1}");
	cql_on(1, "CREATE TABLE ge_nts.t (a int, b text, v int, PRIMARY KEY ((a, b)))");
	for (int k = 2; k <= 3; k++) {
		struct json *j =
		        cluster_admin(c, k, "/v1/endpoints?keyspace=ge_nts&table=t&key=1:x");
		CLUSTER_ASSERT(c, j && json_len(json_get(j, "endpoints")) == 2,
		               "node %d does not know ge_nts.t after the DDL on node 1 answered",
		               k);
		json_free(j);
	}

	char dir[512], cmd[1200];
	src_dir(dir, sizeof(dir));
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/py/replicas.py %s %d", dir,
	         c->nodes[1].addr, N_KEYS);
	FILE *f = popen(cmd, "r");
	CLUSTER_ASSERT(c, f != NULL, "cannot run %s", cmd);
	char line[1024];
	int compared = 0, via_cli = 0, mismatches = 0, line_no = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char ks[64], key[128], want[512] = "";
		long long drv_token = 0;
		if (sscanf(line, "%63s %127s %lld %511s", ks, key, &drv_token, want) < 3) {
			fprintf(stderr, "replicas.py: %s\n", line);
			mismatches++;
			continue;
		}
		int k = line_no++ / 2 % 3 + 1;
		char got[512];
		long long token = 0;
		CLUSTER_ASSERT(c, node_replicas(k, ks, key, got, sizeof(got), &token) == 0,
		               "node %d: no answer for %s %s", k, ks, key);
		if (strcmp(got, want) != 0 || token != drv_token) {
			if (mismatches++ < 10)
				fprintf(stderr,
				        "%s key %s: node %d says %s (token %lld), the driver %s "
				        "(token %lld)\n",
				        ks, key, k, got, token, want, drv_token);
		}
		compared++;
		if (line_no % CLI_EVERY == 0) {
			char cli[512];
			CLUSTER_ASSERT(c, cli_replicas(k, ks, key, cli, sizeof(cli)) == 0,
			               "colonnade getendpoints failed");
			if (strcmp(cli, want) != 0 && mismatches++ < 10)
				fprintf(stderr,
				        "colonnade getendpoints %s t %s -h node%d: %s, driver %s\n",
				        ks, key, k, cli, want);
			via_cli++;
		}
	}
	int st = pclose(f);
	cr_log_info("compared %d keys (%d through the colonnade program), %d mismatches", compared,
	            via_cli, mismatches);
	fprintf(stderr,
	        "getendpoints: compared %d keys (%d through the colonnade program), %d "
	        "mismatches\n",
	        compared, via_cli, mismatches);
	CLUSTER_ASSERT(c, st == 0,
	               "replicas.py failed (status %d): the driver's routing or metadata", st);
	CLUSTER_ASSERT(c, compared == 2 * N_KEYS, "compared %d keys, want %d", compared,
	               2 * N_KEYS);
	CLUSTER_ASSERT(c, mismatches == 0, "%d keys where a node and the driver disagree",
	               mismatches);
}
