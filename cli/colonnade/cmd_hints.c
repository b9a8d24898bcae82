/*
 * cmd_hints.c — nodetool's hinted-handoff commands: statushandoff,
 * enablehandoff, disablehandoff, pausehandoff, resumehandoff,
 * listpendinghints, truncatehints [host].  Each is one request to the node's
 * admin endpoint /v1/hints (GET) or /v1/hints/<switch> (POST); the JSON is in
 * docs/OPERATIONS.md, the design in docs/HINTS.md.
 */
#include "cli/colonnade/commands.h"
#include "cli/lib/admin_client.h"
#include "core/clock.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -h host[:port] and at most one positional argument (truncatehints' host). */
static int parse(int argc, char **argv, bool allow_host_arg, struct admin_target *t,
                 const char **host_arg)
{
	const char *host = getenv("COLONNADE_HOST");
	if (!host || !*host)
		host = "127.0.0.1";
	*host_arg = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--host")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "colonnade %s: -h needs host[:port]\n", argv[0]);
				return 2;
			}
			host = argv[++i];
		} else if (!strncmp(argv[i], "--host=", 7)) {
			host = argv[i] + 7;
		} else if (!strcmp(argv[i], "--help")) {
			printf("usage: colonnade %s [-h host[:port]]%s\n", argv[0],
			       allow_host_arg ? " [host id or address]" : "");
			return 1;
		} else if (allow_host_arg && !*host_arg && argv[i][0] != '-') {
			*host_arg = argv[i];
		} else {
			fprintf(stderr, "colonnade %s: unexpected argument '%s'\n", argv[0],
			        argv[i]);
			return 2;
		}
	}
	struct cerr err = {0};
	if (admin_target_parse(host, ADMIN_DEFAULT_PORT, t, &err)) {
		fprintf(stderr, "colonnade %s: %s\n", argv[0], err.msg);
		return 2;
	}
	return 0;
}

static int simple(int argc, char **argv, const char *path, bool post, bool print_status)
{
	struct admin_target t;
	const char *unused;
	int rc = parse(argc, argv, false, &t, &unused);
	if (rc)
		return rc == 1 ? 0 : rc;
	struct json *j = admin_call(argv[0], &t, path, post);
	if (!j)
		return 1;
	if (print_status) {
		bool on = json_bool(json_get(j, "enabled"), false);
		bool paused = json_bool(json_get(j, "paused"), false);
		printf("Hinted handoff is %s\n", on ? "running" : "not running");
		if (paused)
			printf("Hint delivery is paused\n");
	}
	json_free(j);
	return 0;
}

int cmd_statushandoff(int argc, char **argv)
{
	return simple(argc, argv, "/v1/hints", false, true);
}

int cmd_enablehandoff(int argc, char **argv)
{
	return simple(argc, argv, "/v1/hints/enable", true, false);
}

int cmd_disablehandoff(int argc, char **argv)
{
	return simple(argc, argv, "/v1/hints/disable", true, false);
}

int cmd_pausehandoff(int argc, char **argv)
{
	return simple(argc, argv, "/v1/hints/pause", true, false);
}

int cmd_resumehandoff(int argc, char **argv)
{
	return simple(argc, argv, "/v1/hints/resume", true, false);
}

/* A query-string value: unreserved bytes as they are, the rest %XX. */
static void put_query_value(char *out, size_t cap, const char *v)
{
	size_t o = 0;
	for (; *v && o + 4 < cap; v++) {
		unsigned char c = (unsigned char)*v;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
	}
	out[o] = 0;
}

int cmd_truncatehints(int argc, char **argv)
{
	struct admin_target t;
	const char *host;
	int rc = parse(argc, argv, true, &t, &host);
	if (rc)
		return rc == 1 ? 0 : rc;
	char path[400] = "/v1/hints/truncate";
	if (host) {
		char q[256];
		put_query_value(q, sizeof(q), host);
		snprintf(path, sizeof(path), "/v1/hints/truncate?host=%s", q);
	}
	struct json *j = admin_call(argv[0], &t, path, true);
	if (!j)
		return 1;
	json_free(j);
	return 0;
}

static void fmt_time(int64_t ms, char *out, size_t cap)
{
	if (ms <= 0) {
		snprintf(out, cap, "-");
		return;
	}
	clock_format_iso(ms * 1000, out, cap);
}

int cmd_listpendinghints(int argc, char **argv)
{
	struct admin_target t;
	const char *unused;
	int rc = parse(argc, argv, false, &t, &unused);
	if (rc)
		return rc == 1 ? 0 : rc;
	struct json *j = admin_call(argv[0], &t, "/v1/hints", false);
	if (!j)
		return 1;
	const struct json *ts = json_get(j, "targets");
	size_t shown = 0;
	for (size_t i = 0; i < json_len(ts); i++) {
		const struct json *x = json_at(ts, i);
		if (json_int(json_get(x, "total_hints"), 0) <= 0)
			continue;
		if (shown++ == 0)
			printf("%-36s  %-15s  %-6s  %11s  %12s  %-24s  %-24s\n", "Host ID",
			       "Address", "Status", "Total hints", "Total bytes", "Newest",
			       "Oldest");
		char newest[40], oldest[40];
		fmt_time(json_int(json_get(x, "newest_ms"), 0), newest, sizeof(newest));
		fmt_time(json_int(json_get(x, "oldest_ms"), 0), oldest, sizeof(oldest));
		printf("%-36s  %-15s  %-6s  %11lld  %12lld  %-24s  %-24s\n",
		       json_str(json_get(x, "host_id"), "?"), json_str(json_get(x, "address"), "?"),
		       json_bool(json_get(x, "alive"), false) ? "UP" : "DOWN",
		       (long long)json_int(json_get(x, "total_hints"), 0),
		       (long long)json_int(json_get(x, "total_bytes"), 0), newest, oldest);
	}
	if (!shown)
		printf("This node does not have any pending hints\n");
	json_free(j);
	return 0;
}
