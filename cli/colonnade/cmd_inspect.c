/*
 * cmd_inspect.c — `colonnade getendpoints` (nodetool getendpoints: the
 * replicas of a partition key, one address per line) and `colonnade dump`
 * (what ONE node stores of a partition, with timestamps, TTLs and
 * tombstones; sstabledump is the model).  Both ask a node's admin endpoint
 * (/v1/endpoints, /v1/dump: coordinator/admin/inspect.h documents the JSON).
 */
#include "cli/colonnade/commands.h"
#include "cli/lib/admin_client.h"
#include "core/json.h"
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct iopts {
	struct admin_target target;
	const char *pos[3]; /* keyspace, table, key */
	int n_pos;
	bool json;
};

static int parse(int argc, char **argv, struct iopts *o, bool allow_json)
{
	memset(o, 0, sizeof(*o));
	struct host_opt host;
	host_opt_init(&host);
	bool only_pos = false;
	for (int i = 1; i < argc; i++) {
		if (!only_pos && host_opt_take(&host, argc, argv, &i))
			continue;
		if (!only_pos && allow_json && !strcmp(argv[i], "--json")) {
			o->json = true;
		} else if (!only_pos && !strcmp(argv[i], "--")) {
			only_pos = true;
		} else if (!only_pos && !strcmp(argv[i], "--help")) {
			printf("usage: colonnade %s <keyspace> <table> <key> [-h host[:port]]%s\n"
			       "  key: the partition key as text; composite keys as a:b\n",
			       argv[0], allow_json ? " [--json]" : "");
			return 1;
		} else if (!only_pos && argv[i][0] == '-' && argv[i][1] && o->n_pos < 2) {
			/* keys may be negative numbers: only before the key is '-x' an option */
			fprintf(stderr, "colonnade %s: unknown option '%s'\n", argv[0], argv[i]);
			return 2;
		} else if (o->n_pos < 3) {
			o->pos[o->n_pos++] = argv[i];
		} else {
			fprintf(stderr, "colonnade %s: unexpected argument '%s'\n", argv[0],
			        argv[i]);
			return 2;
		}
	}
	if (o->n_pos != 3) {
		fprintf(stderr, "usage: colonnade %s <keyspace> <table> <key> [-h host[:port]]%s\n",
		        argv[0], allow_json ? " [--json]" : "");
		return 2;
	}
	return host_opt_target(&host, argv[0], &o->target);
}

static void put_encoded(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~')
			buf_put_u8(b, c);
		else
			buf_printf(b, "%%%02X", c);
	}
}

static void build_url(struct buf *url, const struct iopts *o, const char *path)
{
	buf_put_str(url, path);
	buf_put_str(url, "?keyspace=");
	put_encoded(url, o->pos[0]);
	buf_put_str(url, "&table=");
	put_encoded(url, o->pos[1]);
	buf_put_str(url, "&key=");
	put_encoded(url, o->pos[2]);
	buf_put_u8(url, 0);
}

/* GET path?keyspace=&table=&key= ; the JSON answer or NULL (message printed). */
static struct json *fetch(const char *cmd, const struct iopts *o, const char *path)
{
	struct buf url;
	buf_init(&url);
	build_url(&url, o, path);
	if (!buf_ok(&url)) {
		buf_release(&url);
		fprintf(stderr, "colonnade %s: out of memory\n", cmd);
		return NULL;
	}
	struct json *j = admin_call(cmd, &o->target, (const char *)url.data, false);
	buf_release(&url);
	return j;
}

int cmd_getendpoints(int argc, char **argv)
{
	struct iopts o;
	int rc = parse(argc, argv, &o, false);
	if (rc)
		return rc;
	struct json *j = fetch(argv[0], &o, "/v1/endpoints");
	if (!j)
		return 1;
	const struct json *eps = json_get(j, "endpoints");
	for (size_t i = 0; i < json_len(eps); i++)
		printf("%s\n", json_str(json_at(eps, i), "?"));
	json_free(j);
	return 0;
}

/* "2026-11-25 16:24:19.123456 UTC (1764087859123456)" for µs; seconds likewise. */
static void fmt_time(char *out, size_t cap, int64_t v, bool micros)
{
	int64_t s = micros ? (v >= 0 ? v / 1000000 : -((-v + 999999) / 1000000)) : v;
	time_t t = (time_t)s;
	struct tm tm;
	char d[32] = "?";
	if (gmtime_r(&t, &tm))
		strftime(d, sizeof(d), "%Y-%m-%d %H:%M:%S", &tm);
	if (micros)
		snprintf(out, cap, "%s.%06lld UTC (%lld)", d, (long long)(v - s * 1000000),
		         (long long)v);
	else
		snprintf(out, cap, "%s UTC", d);
}

static void print_list(const struct json *a)
{
	for (size_t i = 0; i < json_len(a); i++)
		printf("%s%s", i ? ", " : "", json_str(json_at(a, i), "?"));
}

static void print_deletion(const char *indent, const char *what, const struct json *d)
{
	char ts[80], ldt[64];
	fmt_time(ts, sizeof(ts), json_int(json_get(d, "tstamp"), 0), true);
	fmt_time(ldt, sizeof(ldt), json_int(json_get(d, "local_delete_time"), 0), false);
	printf("%s%s: deleted at %s, local deletion time %s\n", indent, what, ts, ldt);
}

static void print_bound(const struct json *b, bool start)
{
	bool incl = json_bool(json_get(b, "inclusive"), false);
	printf("%s", start ? (incl ? "[" : "(") : "");
	print_list(json_get(b, "clustering"));
	printf("%s", start ? "" : (incl ? "]" : ")"));
}

static void print_dump(const struct json *j, const char *host)
{
	char t1[80], t2[64];
	printf("Partition ");
	print_list(json_get(j, "partition_key"));
	printf(" of %s.%s on %s (token %lld)\n", json_str(json_get(j, "keyspace"), "?"),
	       json_str(json_get(j, "table"), "?"), host,
	       (long long)json_int(json_get(j, "token"), 0));
	if (!json_bool(json_get(j, "found"), false)) {
		printf("  nothing stored on this node\n");
		return;
	}
	const struct json *pd = json_get(j, "partition_deletion");
	if (json_type(pd) == JSON_OBJECT)
		print_deletion("  ", "partition tombstone", pd);
	const struct json *rts = json_get(j, "range_tombstones");
	for (size_t i = 0; i < json_len(rts); i++) {
		const struct json *rt = json_at(rts, i);
		printf("  range tombstone ");
		print_bound(json_get(rt, "start"), true);
		printf(" .. ");
		print_bound(json_get(rt, "end"), false);
		printf("\n");
		print_deletion("    ", "range", rt);
	}
	const struct json *rows = json_get(j, "rows");
	for (size_t i = 0; i < json_len(rows); i++) {
		const struct json *r = json_at(rows, i);
		if (!strcmp(json_str(json_get(r, "type"), ""), "static")) {
			printf("  static row\n");
		} else if (json_len(json_get(r, "clustering")) == 0) {
			printf("  row\n"); /* a table without clustering columns */
		} else {
			printf("  row [");
			print_list(json_get(r, "clustering"));
			printf("]\n");
		}
		const struct json *li = json_get(r, "liveness_info");
		if (json_type(li) == JSON_OBJECT) {
			fmt_time(t1, sizeof(t1), json_int(json_get(li, "tstamp"), 0), true);
			printf("    row marker: written %s", t1);
			if (json_int(json_get(li, "ttl"), 0)) {
				fmt_time(t2, sizeof(t2), json_int(json_get(li, "expires_at"), 0),
				         false);
				printf(", ttl %llds, expires %s",
				       (long long)json_int(json_get(li, "ttl"), 0), t2);
			}
			printf("\n");
		}
		const struct json *di = json_get(r, "deletion_info");
		if (json_type(di) == JSON_OBJECT)
			print_deletion("    ", "row tombstone", di);
		const struct json *cells = json_get(r, "cells");
		for (size_t k = 0; k < json_len(cells); k++) {
			const struct json *c = json_at(cells, k);
			printf("    %s", json_str(json_get(c, "name"), "?"));
			const struct json *path = json_get(c, "path");
			if (json_type(path) == JSON_STRING)
				printf("[%s]", json_str(path, ""));
			fmt_time(t1, sizeof(t1), json_int(json_get(c, "tstamp"), 0), true);
			if (json_bool(json_get(c, "deleted"), false)) {
				fmt_time(t2, sizeof(t2),
				         json_int(json_get(c, "local_delete_time"), 0), false);
				printf(" <tombstone> written %s, local deletion time %s\n", t1, t2);
				continue;
			}
			const struct json *v = json_get(c, "value");
			printf(" = %s  written %s",
			       json_type(v) == JSON_STRING ? json_str(v, "") : "", t1);
			if (json_int(json_get(c, "ttl"), 0)) {
				fmt_time(t2, sizeof(t2), json_int(json_get(c, "expires_at"), 0),
				         false);
				printf(", ttl %llds, expires %s",
				       (long long)json_int(json_get(c, "ttl"), 0), t2);
			}
			printf("\n");
		}
	}
	if (json_bool(json_get(j, "truncated"), false))
		printf("  ... more rows (the dump stops at %zu rows)\n", json_len(rows));
}

int cmd_dump(int argc, char **argv)
{
	struct iopts o;
	int rc = parse(argc, argv, &o, true);
	if (rc)
		return rc;
	if (!o.json) {
		struct json *j = fetch(argv[0], &o, "/v1/dump");
		if (!j)
			return 1;
		print_dump(j, o.target.host);
		json_free(j);
		return 0;
	}
	/* --json: the node's answer byte for byte. */
	struct buf url;
	buf_init(&url);
	build_url(&url, &o, "/v1/dump");
	int status = 0;
	char *body = NULL;
	size_t len = 0;
	struct cerr err = {0};
	rc = buf_ok(&url) ? admin_get(&o.target, (const char *)url.data, &status, &body, &len, &err)
	                  : cerr_set(&err, COL_ENOMEM, "out of memory");
	buf_release(&url);
	if (rc) {
		fprintf(stderr, "colonnade dump: %s\n", err.msg);
		return 1;
	}
	if (status != 200) {
		struct json *j = NULL;
		struct cerr e2 = {0};
		const char *msg = body;
		if (json_parse(body, len, &j, &e2) == 0)
			msg = json_str(json_get(j, "error"), body);
		fprintf(stderr, "colonnade dump: HTTP %d: %s\n", status, msg);
		json_free(j);
		free(body);
		return 1;
	}
	fwrite(body, 1, len, stdout);
	printf("\n");
	free(body);
	return 0;
}
