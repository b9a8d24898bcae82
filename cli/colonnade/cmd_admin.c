/*
 * cmd_admin.c — the operator's view: status, info, gossipinfo,
 * describecluster, ring.  Each asks one node's admin endpoint for JSON
 * (docs/OPERATIONS.md lists the endpoints) and prints what nodetool prints.
 */
#include "cli/colonnade/commands.h"
#include "cli/lib/admin_client.h"
#include "core/array.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct opts {
	struct admin_target target;
	bool tokens;          /* info -T */
	const char *keyspace; /* status <keyspace> */
};

static int parse_opts(int argc, char **argv, struct opts *o, bool allow_tokens, bool allow_keyspace)
{
	memset(o, 0, sizeof(*o));
	struct host_opt host;
	host_opt_init(&host);
	for (int i = 1; i < argc; i++) {
		if (host_opt_take(&host, argc, argv, &i))
			continue;
		if (allow_tokens && (!strcmp(argv[i], "-T") || !strcmp(argv[i], "--tokens"))) {
			o->tokens = true;
		} else if (allow_keyspace && !o->keyspace && argv[i][0] != '-') {
			o->keyspace = argv[i];
			for (const char *p = o->keyspace; *p; p++) {
				if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				      (*p >= '0' && *p <= '9') || *p == '_')) {
					fprintf(stderr,
					        "colonnade %s: '%s' is not a keyspace name\n",
					        argv[0], o->keyspace);
					return 2;
				}
			}
		} else if (!strcmp(argv[i], "--help")) {
			printf("usage: colonnade %s [-h host[:port]]%s%s\n", argv[0],
			       allow_tokens ? " [-T]" : "", allow_keyspace ? " [keyspace]" : "");
			return 1;
		} else {
			fprintf(stderr, "colonnade %s: unexpected argument '%s'\n", argv[0],
			        argv[i]);
			return 2;
		}
	}
	return host_opt_target(&host, argv[0], &o->target);
}

static struct json *fetch(const char *cmd, const struct opts *o, const char *path)
{
	return admin_call(cmd, &o->target, path, false);
}

/* Cassandra's FileUtils.stringifyFileSize: "102.53 KiB", "1.2 MiB", "345 bytes". */
static void fmt_size(char *out, size_t len, double v)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
	if (v < 1024) {
		snprintf(out, len, "%.0f bytes", v);
		return;
	}
	int u = -1;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, len, "%.2f %s", v, units[u]);
}

static const char *state_letter(const char *state)
{
	if (!strcmp(state, "JOINING"))
		return "J";
	if (!strcmp(state, "LEAVING"))
		return "L";
	if (!strcmp(state, "MOVING"))
		return "M";
	return "N";
}

static const char *state_word(const char *state)
{
	if (!strcmp(state, "JOINING"))
		return "Joining";
	if (!strcmp(state, "LEAVING"))
		return "Leaving";
	if (!strcmp(state, "MOVING"))
		return "Moving";
	return "Normal";
}

/* ---- a minimal table printer (nodetool's TableBuilder) ------------------ */

#define TCOLS 8
#define TCELL 128

struct table {
	size_t rows, cap, cols;
	char (*cell)[TCOLS][TCELL];
};

static int table_row(struct table *t, const char *const *cells)
{
	if (ARRAY_GROW(t->cell, t->cap, t->rows + 1))
		return -1;
	for (size_t c = 0; c < t->cols; c++)
		snprintf(t->cell[t->rows][c], TCELL, "%s", cells[c] ? cells[c] : "");
	t->rows++;
	return 0;
}

static void table_print(const struct table *t)
{
	size_t w[TCOLS] = {0};
	for (size_t r = 0; r < t->rows; r++)
		for (size_t c = 0; c < t->cols; c++)
			if (strlen(t->cell[r][c]) > w[c])
				w[c] = strlen(t->cell[r][c]);
	for (size_t r = 0; r < t->rows; r++) {
		for (size_t c = 0; c < t->cols; c++) {
			if (c + 1 == t->cols)
				printf("%s", t->cell[r][c]);
			else
				printf("%-*s  ", (int)w[c], t->cell[r][c]);
		}
		printf("\n");
	}
}

static void table_free(struct table *t)
{
	free(t->cell);
	t->cell = NULL;
	t->rows = t->cap = 0;
}

/* Distinct datacenter names of the nodes, in order of first appearance sorted. */
static size_t datacenters(const struct json *nodes, const char **dcs, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < json_len(nodes); i++) {
		const char *dc = json_str(json_get(json_at(nodes, i), "dc"), "?");
		bool seen = false;
		for (size_t k = 0; k < n; k++)
			seen |= !strcmp(dcs[k], dc);
		if (!seen && n < max)
			dcs[n++] = dc;
	}
	for (size_t a = 0; a < n; a++)
		for (size_t b = a + 1; b < n; b++)
			if (strcmp(dcs[b], dcs[a]) < 0) {
				const char *x = dcs[a];
				dcs[a] = dcs[b];
				dcs[b] = x;
			}
	return n;
}

static void print_dc_banner(const char *dc)
{
	char title[200];
	int n = snprintf(title, sizeof(title), "Datacenter: %s", dc);
	printf("%s\n", title);
	for (int i = 0; i < n && i < (int)sizeof(title); i++)
		putchar('=');
	putchar('\n');
}

/* Node indexes of one dc, sorted by address (numerically for IPv4). */
static size_t nodes_in_dc(const struct json *nodes, const char *dc, size_t *idx, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < json_len(nodes) && n < max; i++)
		if (!strcmp(json_str(json_get(json_at(nodes, i), "dc"), "?"), dc))
			idx[n++] = i;
	for (size_t a = 0; a < n; a++) {
		for (size_t b = a + 1; b < n; b++) {
			const char *x = json_str(json_get(json_at(nodes, idx[a]), "address"), "");
			const char *y = json_str(json_get(json_at(nodes, idx[b]), "address"), "");
			unsigned xa[4] = {0}, ya[4] = {0};
			int cmp;
			if (sscanf(x, "%u.%u.%u.%u", &xa[0], &xa[1], &xa[2], &xa[3]) == 4 &&
			    sscanf(y, "%u.%u.%u.%u", &ya[0], &ya[1], &ya[2], &ya[3]) == 4) {
				unsigned long xv = ((unsigned long)xa[0] << 24) | (xa[1] << 16) |
				                   (xa[2] << 8) | xa[3];
				unsigned long yv = ((unsigned long)ya[0] << 24) | (ya[1] << 16) |
				                   (ya[2] << 8) | ya[3];
				cmp = xv < yv ? -1 : xv > yv;
			} else {
				cmp = strcmp(x, y);
			}
			if (cmp > 0) {
				size_t t = idx[a];
				idx[a] = idx[b];
				idx[b] = t;
			}
		}
	}
	return n;
}

#define MAX_NODES 4096

int cmd_status(int argc, char **argv)
{
	struct opts o;
	int rc = parse_opts(argc, argv, &o, false, true);
	if (rc)
		return rc == 1 ? 0 : rc;
	char path[200];
	if (o.keyspace)
		snprintf(path, sizeof(path), "/v1/status?keyspace=%.150s", o.keyspace);
	else
		snprintf(path, sizeof(path), "/v1/status");
	struct json *j = fetch("status", &o, path);
	if (!j)
		return 1;
	const struct json *nodes = json_get(j, "nodes");
	const char *dcs[64];
	size_t ndc = datacenters(nodes, dcs, 64);
	size_t *idx = calloc(MAX_NODES, sizeof(*idx));
	if (!idx) {
		json_free(j);
		return 1;
	}
	for (size_t d = 0; d < ndc; d++) {
		if (d)
			printf("\n");
		print_dc_banner(dcs[d]);
		printf("Status=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n");
		struct table t = {.cols = 7};
		const char *hdr[] = {"--",
		                     "Address",
		                     "Load",
		                     "Tokens",
		                     o.keyspace ? "Owns (effective)" : "Owns",
		                     "Host ID",
		                     "Rack"};
		table_row(&t, hdr);
		size_t n = nodes_in_dc(nodes, dcs[d], idx, MAX_NODES);
		for (size_t k = 0; k < n; k++) {
			const struct json *nd = json_at(nodes, idx[k]);
			char code[4], load[32], tokens[16], owns[16];
			snprintf(code, sizeof(code), "%s%s",
			         json_bool(json_get(nd, "up"), false) ? "U" : "D",
			         state_letter(json_str(json_get(nd, "state"), "NORMAL")));
			const struct json *l = json_get(nd, "load");
			if (json_type(l) == JSON_NUMBER)
				fmt_size(load, sizeof(load), json_num(l, 0));
			else
				snprintf(load, sizeof(load), "?");
			snprintf(tokens, sizeof(tokens), "%lld",
			         (long long)json_int(json_get(nd, "tokens"), 0));
			const struct json *ow = json_get(nd, "owns");
			if (json_type(ow) == JSON_NUMBER)
				snprintf(owns, sizeof(owns), "%.1f%%", json_num(ow, 0) * 100.0);
			else
				snprintf(owns, sizeof(owns), "?");
			const char *row[] = {code,
			                     json_str(json_get(nd, "address"), "?"),
			                     load,
			                     tokens,
			                     owns,
			                     json_str(json_get(nd, "host_id"), "?"),
			                     json_str(json_get(nd, "rack"), "?")};
			table_row(&t, row);
		}
		table_print(&t);
		table_free(&t);
	}
	if (!o.keyspace)
		printf("\nNote: Owns is each node's share of the token ring (no replication "
		       "applied); 'colonnade status <keyspace>' shows effective ownership.\n");
	free(idx);
	json_free(j);
	return 0;
}

int cmd_info(int argc, char **argv)
{
	struct opts o;
	int rc = parse_opts(argc, argv, &o, true, false);
	if (rc)
		return rc == 1 ? 0 : rc;
	struct json *j = fetch("info", &o, "/v1/info");
	if (!j)
		return 1;
	char load[32], rss[32];
	fmt_size(load, sizeof(load), json_num(json_get(j, "load"), 0));
	snprintf(rss, sizeof(rss), "%.2f", json_num(json_get(j, "rss_bytes"), 0) / (1024.0 * 1024));
	const struct json *tokens = json_get(j, "tokens");
	printf("%-23s: %s\n", "ID", json_str(json_get(j, "host_id"), "?"));
	printf("%-23s: %s\n", "Gossip active",
	       json_bool(json_get(j, "gossip_active"), false) ? "true" : "false");
	printf("%-23s: %s\n", "Native Transport active",
	       json_bool(json_get(j, "native_transport_active"), false) ? "true" : "false");
	printf("%-23s: %s\n", "Load", load);
	printf("%-23s: %lld\n", "Generation No", (long long)json_int(json_get(j, "generation"), 0));
	printf("%-23s: %lld\n", "Uptime (seconds)",
	       (long long)json_int(json_get(j, "uptime_s"), 0));
	printf("%-23s: %s\n", "Resident Memory (MiB)", rss);
	printf("%-23s: %s\n", "Data Center", json_str(json_get(j, "dc"), "?"));
	printf("%-23s: %s\n", "Rack", json_str(json_get(j, "rack"), "?"));
	printf("%-23s: %s\n", "Cluster Name", json_str(json_get(j, "cluster_name"), "?"));
	printf("%-23s: %s:%lld\n", "Listen Address", json_str(json_get(j, "listen_address"), "?"),
	       (long long)json_int(json_get(j, "storage_port"), 0));
	printf("%-23s: %s:%lld\n", "Native Address", json_str(json_get(j, "rpc_address"), "?"),
	       (long long)json_int(json_get(j, "native_transport_port"), 0));
	printf("%-23s: %s\n", "Data Directory", json_str(json_get(j, "data_directory"), "?"));
	if (json_get(j, "pending_hints")) {
		char hb[32];
		fmt_size(hb, sizeof(hb), json_num(json_get(j, "pending_hint_bytes"), 0));
		printf("%-23s: %lld (%s)\n", "Pending hints",
		       (long long)json_int(json_get(j, "pending_hints"), 0), hb);
	}
	if (o.tokens) {
		for (size_t i = 0; i < json_len(tokens); i++)
			printf("%-23s: %s\n", "Token", json_str(json_at(tokens, i), "?"));
	} else {
		printf("%-23s: (invoke with -T/--tokens to see all %zu tokens)\n", "Token",
		       json_len(tokens));
	}
	json_free(j);
	return 0;
}

int cmd_gossipinfo(int argc, char **argv)
{
	struct opts o;
	int rc = parse_opts(argc, argv, &o, false, false);
	if (rc)
		return rc == 1 ? 0 : rc;
	struct json *j = fetch("gossipinfo", &o, "/v1/gossipinfo");
	if (!j)
		return 1;
	const struct json *eps = json_get(j, "endpoints");
	for (size_t i = 0; i < json_len(eps); i++) {
		const struct json *ep = json_at(eps, i);
		printf("/%s\n", json_str(json_get(ep, "address"), "?"));
		printf("  generation:%lld\n", (long long)json_int(json_get(ep, "generation"), 0));
		printf("  heartbeat:%lld\n", (long long)json_int(json_get(ep, "heartbeat"), 0));
		const struct json *st = json_get(ep, "states");
		for (size_t k = 0; k < json_len(st); k++) {
			const struct json *s = json_at(st, k);
			const char *name = json_str(json_get(s, "name"), "?");
			const char *value = json_str(json_get(s, "value"), "");
			/* nodetool hides the token list; it is `colonnade ring`'s business. */
			if (!strcmp(name, "TOKENS"))
				value = "<hidden>";
			printf("  %s:%lld:%s\n", name,
			       (long long)json_int(json_get(s, "version"), 0), value);
		}
	}
	json_free(j);
	return 0;
}

int cmd_describecluster(int argc, char **argv)
{
	struct opts o;
	int rc = parse_opts(argc, argv, &o, false, false);
	if (rc)
		return rc == 1 ? 0 : rc;
	struct json *j = fetch("describecluster", &o, "/v1/describecluster");
	if (!j)
		return 1;
	printf("Cluster Information:\n");
	printf("\tName: %s\n", json_str(json_get(j, "name"), "?"));
	printf("\tSnitch: %s\n", json_str(json_get(j, "snitch"), "?"));
	printf("\tDynamicEndPointSnitch: disabled\n");
	printf("\tPartitioner: %s\n", json_str(json_get(j, "partitioner"), "?"));
	printf("\tSchema versions:\n");
	const struct json *sv = json_get(j, "schema_versions");
	for (size_t i = 0; i < json_len(sv); i++) {
		const struct json *v = json_at(sv, i);
		const struct json *eps = json_get(v, "endpoints");
		printf("\t\t%s: [", json_str(json_get(v, "version"), "?"));
		for (size_t k = 0; k < json_len(eps); k++)
			printf("%s%s", k ? ", " : "", json_str(json_at(eps, k), "?"));
		printf("]\n\n");
	}
	printf("Stats for all nodes:\n");
	printf("\tLive: %lld\n", (long long)json_int(json_get(j, "live"), 0));
	printf("\tJoining: %lld\n", (long long)json_int(json_get(j, "joining"), 0));
	printf("\tMoving: %lld\n", (long long)json_int(json_get(j, "moving"), 0));
	printf("\tLeaving: %lld\n", (long long)json_int(json_get(j, "leaving"), 0));
	printf("\tUnreachable: %lld\n", (long long)json_int(json_get(j, "unreachable"), 0));
	printf("\nData Centers: \n");
	const struct json *dcs = json_get(j, "datacenters");
	for (size_t i = 0; i < json_len(dcs); i++) {
		const struct json *d = json_at(dcs, i);
		printf("\t%s #Nodes: %lld #Down: %lld\n", json_str(json_get(d, "name"), "?"),
		       (long long)json_int(json_get(d, "nodes"), 0),
		       (long long)json_int(json_get(d, "down"), 0));
	}
	json_free(j);
	return 0;
}

int cmd_ring(int argc, char **argv)
{
	struct opts o;
	int rc = parse_opts(argc, argv, &o, false, false);
	if (rc)
		return rc == 1 ? 0 : rc;
	struct json *j = fetch("ring", &o, "/v1/ring");
	if (!j)
		return 1;
	const struct json *nodes = json_get(j, "nodes");
	const struct json *toks = json_get(j, "tokens");
	const char *dcs[64];
	size_t ndc = datacenters(nodes, dcs, 64);
	for (size_t d = 0; d < ndc; d++) {
		if (d)
			printf("\n");
		print_dc_banner(dcs[d]);
		struct table t = {.cols = 7};
		const char *hdr[] = {"Address", "Rack", "Status", "State", "Load", "Owns", "Token"};
		table_row(&t, hdr);
		const char *last = NULL;
		for (size_t i = 0; i < json_len(toks); i++) {
			const struct json *tk = json_at(toks, i);
			const struct json *nd =
			        json_at(nodes, (size_t)json_int(json_get(tk, "node"), -1));
			if (nd && !strcmp(json_str(json_get(nd, "dc"), "?"), dcs[d]))
				last = json_str(json_get(tk, "token"), "?");
		}
		const char *first[] = {"", "", "", "", "", "", last ? last : ""};
		table_row(&t, first);
		for (size_t i = 0; i < json_len(toks); i++) {
			const struct json *tk = json_at(toks, i);
			const struct json *nd =
			        json_at(nodes, (size_t)json_int(json_get(tk, "node"), -1));
			if (!nd || strcmp(json_str(json_get(nd, "dc"), "?"), dcs[d]))
				continue;
			char load[32], owns[16];
			const struct json *l = json_get(nd, "load");
			if (json_type(l) == JSON_NUMBER)
				fmt_size(load, sizeof(load), json_num(l, 0));
			else
				snprintf(load, sizeof(load), "?");
			snprintf(owns, sizeof(owns), "%.2f%%",
			         json_num(json_get(nd, "owns"), 0) * 100);
			const char *row[] = {json_str(json_get(nd, "address"), "?"),
			                     json_str(json_get(nd, "rack"), "?"),
			                     json_bool(json_get(nd, "up"), false) ? "Up" : "Down",
			                     state_word(json_str(json_get(nd, "state"), "NORMAL")),
			                     load,
			                     owns,
			                     json_str(json_get(tk, "token"), "?")};
			table_row(&t, row);
		}
		table_print(&t);
		table_free(&t);
	}
	json_free(j);
	return 0;
}
