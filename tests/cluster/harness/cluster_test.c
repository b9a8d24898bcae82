/*
 * cluster_test.c — the criterion side of the cluster harness (cluster_test.h).
 */
#include "tests/cluster/harness/cluster_test.h"

#include "cli/lib/admin_client.h"
#include "core/cqlproto.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROUND_MS 50

static struct cluster *the_cluster;                    /* cluster_test_start()'s */
static struct cqlclient *conns[CLUSTER_MAX_NODES + 1]; /* cluster_test_conn()'s */

struct cluster *cluster_test_start(const struct cluster_opts *o, bool all_up)
{
	struct cluster_opts opts = *o;
	if (!opts.gossip_interval_ms)
		opts.gossip_interval_ms = ROUND_MS;
	struct cluster *c = NULL;
	cr_assert(cluster_new(&opts, &c) == 0, "cannot start a cluster of %d nodes", opts.n);
	the_cluster = c;
	if (opts.no_start)
		return c;
	for (int k = 1; k <= c->n; k++)
		CLUSTER_ASSERT(c, cluster_wait_admin(c, k, CLUSTER_TEST_START_MS) >= 0,
		               "node %d did not start", k);
	if (all_up)
		CLUSTER_ASSERT(c, cluster_wait_all_up(c, CLUSTER_TEST_START_MS) >= 0,
		               "not every node sees every node UN");
	return c;
}

void cluster_test_drop_conn(int k)
{
	if (k < 0 || k > CLUSTER_MAX_NODES)
		return;
	cqlclient_free(conns[k]);
	conns[k] = NULL;
}

void cluster_test_fini(void)
{
	for (int k = 0; k <= CLUSTER_MAX_NODES; k++)
		cluster_test_drop_conn(k);
	cluster_free(the_cluster);
	the_cluster = NULL;
}

void cluster_test_kill(struct cluster *c, int victim, int observer)
{
	cluster_test_drop_conn(victim);
	CLUSTER_ASSERT(c, cluster_kill(c, victim) == 0, "SIGKILL node %d", victim);
	int obs[] = {observer}, tgt[] = {victim};
	CLUSTER_ASSERT(c, cluster_wait_status(c, obs, 1, tgt, 1, "DN", CLUSTER_TEST_DETECT_MS) >= 0,
	               "node %d does not see node %d DN", observer, victim);
}

struct cqlclient *cluster_test_connect(struct cluster *c, int k)
{
	struct cqlconn_opts o = {.bind_host = c->client_addr, .request_timeout_ms = 30000};
	struct cqlclient *cl = NULL;
	struct cerr e = {0};
	int64_t deadline = cluster_now_ms() + CLUSTER_TEST_START_MS;
	int rc;
	while ((rc = cqlclient_connect(c->nodes[k].addr, 9042, &o, &cl, &e)) != 0 &&
	       cluster_now_ms() < deadline)
		usleep(100 * 1000);
	CLUSTER_ASSERT(c, rc == 0, "CQL connection to node %d (%s): %s", k, c->nodes[k].addr,
	               e.msg);
	return cl;
}

struct cqlclient *cluster_test_conn(struct cluster *c, int k)
{
	cr_assert(k >= 1 && k <= CLUSTER_MAX_NODES, "no node %d", k);
	if (!conns[k])
		conns[k] = cluster_test_connect(c, k);
	return conns[k];
}

struct cqlresult *cluster_test_query(struct cluster *c, struct cqlclient *cl, uint16_t level,
                                     int64_t ts, const char *cql)
{
	struct cql_qparams p;
	cql_qparams_init(&p);
	p.consistency = level;
	p.timestamp = ts;
	struct cqlresult *r = NULL;
	struct cerr e = {0};
	CLUSTER_ASSERT(c, cqlclient_query(cl, cql, &p, &r, &e) == 0, "%s: %s", cql, e.msg);
	return r;
}

size_t cluster_test_ok(struct cluster *c, struct cqlclient *cl, uint16_t level, const char *cql)
{
	struct cqlresult *r = cluster_test_query(c, cl, level, CQL_NO_TIMESTAMP, cql);
	bool ok = r->kind != CQLRES_ERROR;
	char why[400];
	snprintf(why, sizeof(why), "error 0x%04x %.360s", ok ? 0 : r->error.code,
	         ok ? "" : (r->error.message ? r->error.message : ""));
	size_t warnings = r->n_warnings;
	for (size_t i = 0; i < warnings; i++)
		cr_log_info("%s: warning: %s", cql, r->warnings[i]);
	cqlresult_free(r);
	CLUSTER_ASSERT(c, ok, "%s at %s: %s", cql, cql_consistency_name(level), why);
	return warnings;
}

double cluster_test_metric(struct cluster *c, int k, const char *name)
{
	struct admin_target t;
	struct cerr e = {0};
	if (admin_target_parse(c->nodes[k].addr, ADMIN_DEFAULT_PORT, &t, &e))
		return -1;
	snprintf(t.bind_host, sizeof(t.bind_host), "%s", c->client_addr);
	int status;
	char *body;
	size_t len;
	if (admin_get(&t, "/metrics", &status, &body, &len, &e))
		return -1;
	double v = -1;
	size_t nl = strlen(name);
	for (char *l = body; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, name, nl) && l[nl] == ' ') {
			v = strtod(l + nl + 1, NULL);
			break;
		}
	}
	free(body);
	return v;
}

/* key, percent-encoded for a query string, into out[cap]; false if it does not fit. */
static bool url_encode(const char *key, char *out, size_t cap)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		bool plain = isalnum(*p) || strchr("-_.~:", *p);
		if (n + (plain ? 1 : 3) >= cap)
			return false;
		if (plain)
			out[n++] = (char)*p;
		else
			n += (size_t)snprintf(out + n, cap - n, "%%%02X", *p);
	}
	out[n] = 0;
	return true;
}

int cluster_test_replicas(struct cluster *c, int asker, const char *ks, const char *table,
                          const char *key, int *nodes, int max)
{
	char enc[256], path[512];
	CLUSTER_ASSERT(c, url_encode(key, enc, sizeof(enc)), "key too long: %s", key);
	snprintf(path, sizeof(path), "/v1/endpoints?keyspace=%s&table=%s&key=%s", ks, table, enc);
	struct json *j = cluster_admin(c, asker, path);
	CLUSTER_ASSERT(c, j != NULL, "node %d: no answer from %s", asker, path);
	const struct json *eps = json_get(j, "endpoints");
	int n = 0;
	for (size_t i = 0; i < json_len(eps) && n < max; i++) {
		const char *a = json_str(json_at(eps, i), "");
		for (int k = 1; k <= c->n; k++)
			if (!strcmp(c->nodes[k].addr, a))
				nodes[n++] = k;
	}
	json_free(j);
	return n;
}
