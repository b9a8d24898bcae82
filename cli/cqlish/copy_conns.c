/*
 * copy_conns.c — COPY's connections: one to every node of the table's
 * keyspace's token map (cli/lib/tokenmap.h), opened together on a private
 * libev loop, and the choice of one for a token range or a row.
 *
 * A node that cannot be reached is reported once and left out: its ranges and
 * rows go to their other replicas, else to the shell's host.  Only a failure
 * to reach the shell's host itself (node 0) stops the COPY.  Without a token
 * map (the system tables could not be read) COPY runs on the shell's host
 * alone and its coordinator routes.
 */
#include "cli/cqlish/copy.h"

#include <ev.h>
#include <stdio.h>
#include <string.h>

struct opening {
	bool done;
	int status;
	char why[CERR_MSG_MAX];
};

static void on_ready(struct cqlconn *c, void *arg, int status, const char *why)
{
	(void)c;
	struct opening *o = arg;
	o->done = true;
	o->status = status;
	snprintf(o->why, sizeof(o->why), "%s", why ? why : "");
}

int copy_conns_open(struct shell *sh, const struct copy_cmd *c, struct copy_conns *cc,
                    unsigned max_inflight)
{
	memset(cc, 0, sizeof(*cc));
	const char *verb = c->to ? "TO" : "FROM";
	cc->loop = ev_loop_new(EVFLAG_AUTO);
	if (!cc->loop) {
		shell_printerr(sh, "Error for COPY %s %s: out of memory", verb, c->table);
		return -1;
	}
	struct cerr err = {0};
	if (tokenmap_discover(&cc->map, sh->cl, sh->host, c->ks, &err) != 0)
		fprintf(stderr,
		        "COPY %s %s: token-aware routing off (%s): every request goes to %s\n",
		        verb, c->table, err.msg, sh->host);
	struct cqlconn_opts o = sh->copts;
	o.max_inflight = max_inflight;
	struct opening op[TOKENMAP_MAX_NODES];
	memset(op, 0, sizeof(op));
	for (size_t i = 0; i < cc->map.n_nodes; i++) {
		cerr_clear(&err);
		if (cqlconn_open(cc->loop, cc->map.hosts[i], sh->port, &o, on_ready, &op[i],
		                 &cc->conn[i], &err) != 0) {
			op[i].done = true;
			op[i].status = err.code ? err.code : COL_EIO;
			snprintf(op[i].why, sizeof(op[i].why), "%s", err.msg);
			cc->conn[i] = NULL;
		}
	}
	for (size_t i = 0; i < cc->map.n_nodes; i++)
		while (!op[i].done)
			ev_run(cc->loop, EVRUN_ONCE);
	for (size_t i = 0; i < cc->map.n_nodes; i++) {
		if (op[i].status == COL_OK)
			continue;
		if (i == 0) {
			shell_printerr(sh, "Error for COPY %s %s: %s", verb, c->table, op[i].why);
			return -1;
		}
		fprintf(stderr,
		        "COPY %s %s: node %s left out (%s); its ranges go to other replicas\n",
		        verb, c->table, cc->map.hosts[i], op[i].why);
		if (cc->conn[i])
			cqlconn_free(cc->conn[i]);
		cc->conn[i] = NULL;
	}
	return 0;
}

struct cqlconn *copy_conns_pick(struct copy_conns *cc, const uint32_t *reps, size_t n,
                                unsigned attempt)
{
	for (size_t k = 0; k < n; k++) {
		uint32_t node = reps[(attempt + k) % n];
		if (node < cc->map.n_nodes && cc->conn[node] && cqlconn_ready(cc->conn[node]))
			return cc->conn[node];
	}
	/* no replica reachable: any node coordinates (the shell's host first) */
	for (size_t k = 0; k < cc->map.n_nodes; k++) {
		size_t node = (k + (n ? 0 : attempt)) % cc->map.n_nodes;
		if (cc->conn[node] && cqlconn_ready(cc->conn[node]))
			return cc->conn[node];
	}
	return NULL;
}

void copy_conns_close(struct copy_conns *cc)
{
	for (size_t i = 0; i < cc->map.n_nodes; i++)
		if (cc->conn[i])
			cqlconn_free(cc->conn[i]);
	if (cc->loop) {
		ev_run(cc->loop, EVRUN_NOWAIT);
		ev_loop_destroy(cc->loop);
	}
	tokenmap_release(&cc->map);
	memset(cc, 0, sizeof(*cc));
}
