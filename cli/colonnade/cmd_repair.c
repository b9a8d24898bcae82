/*
 * cmd_repair.c — `colonnade repair` (nodetool repair's options) and
 * `colonnade repair_admin list|cancel`: one POST to the node's
 * /v1/repair/start, then its progress polled from /v1/repair?id= until the
 * session ends — a progress bar on a terminal, a line per finished range
 * otherwise — and a summary.  The exit status is 1 when any range failed or
 * the session was cancelled.  Design in docs/REPAIR.md.
 */
#include "cli/colonnade/commands.h"
#include "cli/lib/admin_client.h"
#include "core/buf.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 250

static void put_param(struct buf *q, const char *name, const char *v)
{
	buf_printf(q, "%s%s=", q->len ? "&" : "", name);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~')
			buf_put_u8(q, *p);
		else
			buf_printf(q, "%%%02X", *p);
	}
}

static int usage(void)
{
	fprintf(stderr,
	        "usage: colonnade repair [keyspace [table ...]] [-pr] [-st TOKEN -et TOKEN]\n"
	        "                        [-dc DC | --local] [--preview] [-h host[:port]]\n");
	return 2;
}

static const char *value(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc) {
		fprintf(stderr, "colonnade repair: %s needs a value\n", argv[*i]);
		return NULL;
	}
	return argv[++*i];
}

/* Options into the query string of /v1/repair/start; 0, or the exit status. */
static int parse(int argc, char **argv, struct host_opt *h, struct buf *q)
{
	struct buf tables;
	buf_init(&tables);
	const char *ks = NULL;
	int rc = 0;
	for (int i = 1; i < argc && !rc; i++) {
		const char *a = argv[i], *v;
		if (host_opt_take(h, argc, argv, &i))
			continue;
		if (!strcmp(a, "-pr") || !strcmp(a, "--partitioner-range"))
			put_param(q, "pr", "1");
		else if (!strcmp(a, "--preview"))
			put_param(q, "preview", "1");
		else if (!strcmp(a, "--local") || !strcmp(a, "-local") ||
		         !strcmp(a, "--in-local-dc"))
			put_param(q, "local", "1");
		else if (!strcmp(a, "-st") || !strcmp(a, "--start-token"))
			rc = (v = value(argc, argv, &i)) ? (put_param(q, "st", v), 0) : 2;
		else if (!strcmp(a, "-et") || !strcmp(a, "--end-token"))
			rc = (v = value(argc, argv, &i)) ? (put_param(q, "et", v), 0) : 2;
		else if (!strcmp(a, "-dc") || !strcmp(a, "--in-dc"))
			rc = (v = value(argc, argv, &i)) ? (put_param(q, "dc", v), 0) : 2;
		else if (!strcmp(a, "--help"))
			rc = usage() - 1;
		else if (a[0] == '-')
			rc = (fprintf(stderr, "colonnade repair: unknown option '%s'\n", a),
			      usage());
		else if (!ks)
			ks = a;
		else
			buf_printf(&tables, "%s%s", tables.len ? "," : "", a);
	}
	if (!rc && ks)
		put_param(q, "keyspace", ks);
	if (!rc && tables.len) {
		buf_put_u8(&tables, 0);
		put_param(q, "tables", (const char *)tables.data);
	}
	buf_release(&tables);
	return rc;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static void human_bytes(double b, char *out, size_t len)
{
	const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int i = 0;
	while (b >= 1024 && i < 4)
		b /= 1024, i++;
	snprintf(out, len, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

static void progress(const struct json *j, bool tty, int64_t *last_done)
{
	int64_t total = json_int(json_get(j, "ranges_total"), 0);
	int64_t done = json_int(json_get(j, "ranges_done"), 0);
	int64_t failed = json_int(json_get(j, "ranges_failed"), 0);
	int64_t leaves = json_int(json_get(j, "leaves_differing"), 0);
	double bytes = json_num(json_get(j, "bytes_streamed"), 0);
	double secs = json_num(json_get(j, "elapsed_ms"), 0) / 1000.;
	char b[32], rate[32];
	human_bytes(bytes, b, sizeof(b));
	human_bytes(secs > 0 ? bytes / secs : 0, rate, sizeof(rate));
	double eta = done > 0 && total > done ? secs / (double)done * (double)(total - done) : 0;
	if (tty) {
		int width = 30, fill = total ? (int)(width * done / total) : width;
		printf("\r[%.*s%*s] %ld/%ld ranges, %ld failed, %ld leaves differing, %s streamed, "
		       "%s/s, ETA %.0fs   ",
		       fill, "##############################", width - fill, "", (long)done,
		       (long)total, (long)failed, (long)leaves, b, rate, eta);
		fflush(stdout);
	} else if (done != *last_done) {
		printf("repair: %ld/%ld ranges done, %ld failed, %ld leaves differing, %s "
		       "streamed\n",
		       (long)done, (long)total, (long)failed, (long)leaves, b);
		fflush(stdout);
	}
	*last_done = done;
}

static int summary(const struct json *j, bool tty)
{
	if (tty)
		printf("\n");
	const char *state = json_str(json_get(j, "state"), "?");
	int64_t total = json_int(json_get(j, "ranges_total"), 0);
	int64_t failed = json_int(json_get(j, "ranges_failed"), 0);
	char b[32];
	human_bytes(json_num(json_get(j, "bytes_streamed"), 0), b, sizeof(b));
	printf("Repair session %ld %s: %ld ranges, %ld repaired, %ld failed; %ld of %ld leaves "
	       "differing; %s (%ld bytes) streamed in %.1f s%s\n",
	       (long)json_int(json_get(j, "id"), 0), state, (long)total, (long)(total - failed),
	       (long)failed, (long)json_int(json_get(j, "leaves_differing"), 0),
	       (long)json_int(json_get(j, "leaves_compared"), 0), b,
	       (long)json_int(json_get(j, "bytes_streamed"), 0),
	       json_num(json_get(j, "elapsed_ms"), 0) / 1000.,
	       json_bool(json_get(j, "preview"), false) ? " (preview: nothing streamed)" : "");
	const struct json *f = json_get(j, "failures");
	for (size_t i = 0; i < json_len(f); i++) {
		const struct json *x = json_at(f, i);
		printf("  failed: %s %s: %s\n", json_str(json_get(x, "table"), "?"),
		       json_str(json_get(x, "range"), "?"), json_str(json_get(x, "reason"), "?"));
	}
	if (failed > (int64_t)json_len(f))
		printf("  (%ld more failed ranges: colonnade repair_admin list)\n",
		       (long)(failed - (int64_t)json_len(f)));
	return failed || strcmp(state, "done") != 0 ? 1 : 0;
}

int cmd_repair(int argc, char **argv)
{
	struct host_opt h;
	host_opt_init(&h);
	struct buf q;
	buf_init(&q);
	int rc = parse(argc, argv, &h, &q);
	struct admin_target t;
	if (rc || (rc = host_opt_target(&h, argv[0], &t)) != 0) {
		buf_release(&q);
		return rc < 0 ? 0 : rc;
	}
	char path[4200];
	snprintf(path, sizeof(path), "/v1/repair/start%s%.*s", q.len ? "?" : "", (int)q.len,
	         (const char *)q.data);
	buf_release(&q);
	struct json *j = admin_call(argv[0], &t, path, true);
	if (!j)
		return 1;
	long id = (long)json_int(json_get(j, "id"), 0);
	json_free(j);
	bool tty = isatty(STDOUT_FILENO);
	if (!tty)
		printf("repair: session %ld started\n", id);
	int64_t last = -1;
	for (;;) {
		snprintf(path, sizeof(path), "/v1/repair?id=%ld", id);
		j = admin_call(argv[0], &t, path, false);
		if (!j)
			return 1;
		progress(j, tty, &last);
		if (strcmp(json_str(json_get(j, "state"), "running"), "running") != 0) {
			rc = summary(j, tty);
			json_free(j);
			return rc;
		}
		json_free(j);
		sleep_ms(POLL_MS);
	}
}

/* Poll /v1/compactions until the compactions up to `ticket` (the last of `n` queued) have
 * finished, with a line every 5 s; 1 if one of them failed or the node restarted. */
static int compact_wait(const char *cmd, const struct admin_target *t, uint64_t ticket, size_t n,
                        const char *ks)
{
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	double said = 0;
	for (;;) {
		struct json *j = admin_call(cmd, t, "/v1/compactions", false);
		if (!j)
			return 1;
		uint64_t queued = (uint64_t)json_int(json_get(j, "queued"), 0);
		uint64_t through = (uint64_t)json_int(json_get(j, "finished_through"), 0);
		uint64_t failed = (uint64_t)json_int(json_get(j, "last_failed"), 0);
		clock_gettime(CLOCK_MONOTONIC, &now);
		double secs =
		        (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
		int rc = -1;
		if (queued < ticket) {
			fprintf(stderr,
			        "%s: the node restarted before its compactions of %s finished\n",
			        cmd, ks);
			rc = 1;
		} else if (through >= ticket) {
			rc = failed > ticket - n && failed <= ticket;
			if (rc)
				fprintf(stderr, "%s: a compaction of %s failed: %s\n", cmd, ks,
				        json_str(json_get(j, "last_error"), "?"));
			else
				printf("compaction of %s done in %.1f s\n", ks, secs);
		} else if (secs - said >= 5) {
			printf("compaction of %s: %lu of %zu still running or queued (%.0f s)\n",
			       ks, (unsigned long)(ticket - through < n ? ticket - through : n), n,
			       secs);
			fflush(stdout);
			said = secs;
		}
		json_free(j);
		if (rc >= 0)
			return rc;
		sleep_ms(POLL_MS);
	}
}

/* `colonnade compact <keyspace> [table] [--no-wait]`: full compactions (tombstones purged
 * where tombstone_gc allows), waited for as nodetool compact does. */
int cmd_compact(int argc, char **argv)
{
	struct host_opt h;
	host_opt_init(&h);
	const char *ks = NULL, *table = NULL;
	bool wait = true;
	for (int i = 1; i < argc; i++) {
		if (host_opt_take(&h, argc, argv, &i))
			continue;
		if (strcmp(argv[i], "--no-wait") == 0)
			wait = false;
		else if (!ks)
			ks = argv[i];
		else if (!table)
			table = argv[i];
	}
	if (!ks) {
		fprintf(stderr, "usage: colonnade compact <keyspace> [table] [--no-wait] [-h "
		                "host[:port]]\n");
		return 2;
	}
	struct admin_target t;
	int rc = host_opt_target(&h, argv[0], &t);
	if (rc)
		return rc;
	struct buf q;
	buf_init(&q);
	put_param(&q, "keyspace", ks);
	if (table)
		put_param(&q, "table", table);
	char path[1200];
	snprintf(path, sizeof(path), "/v1/compact?%.*s", (int)q.len, (const char *)q.data);
	buf_release(&q);
	struct json *j = admin_call(argv[0], &t, path, true);
	if (!j)
		return 1;
	const struct json *qd = json_get(j, "queued");
	size_t n = json_len(qd);
	uint64_t ticket = (uint64_t)json_int(json_get(j, "ticket"), 0);
	for (size_t i = 0; i < n; i++)
		printf("compaction of %s.%s queued\n", ks, json_str(json_at(qd, i), "?"));
	fflush(stdout);
	const struct json *rf = json_get(j, "refused");
	for (size_t i = 0; i < json_len(rf); i++)
		fprintf(stderr, "%s: the compaction of %s.%s was not queued: %s\n", argv[0], ks,
		        json_str(json_get(json_at(rf, i), "table"), "?"),
		        json_str(json_get(json_at(rf, i), "error"), "?"));
	rc = json_len(rf) || (table && !n) ? 1 : 0;
	if (table && !n && !json_len(rf))
		fprintf(stderr, "%s: %s has no table %s\n", argv[0], ks, table);
	json_free(j);
	char what[600];
	snprintf(what, sizeof(what), "%s%s%s", ks, table ? "." : "", table ? table : "");
	if (wait && n && compact_wait(argv[0], &t, ticket, n, what))
		rc = 1;
	return rc;
}

static int admin_list(const struct admin_target *t, const char *cmd, long limit)
{
	char path[64];
	snprintf(path, sizeof(path), "/v1/repair/history?limit=%ld", limit);
	struct json *j = admin_call(cmd, t, path, false);
	if (!j)
		return 1;
	printf("%-24s %-20s %-44s %-24s %8s %12s %s\n", "finished", "table", "range", "duration",
	       "leaves", "bytes", "outcome");
	for (size_t i = 0; i < json_len(j); i++) {
		const struct json *r = json_at(j, i);
		char when[32], tbl[160];
		time_t fin = (time_t)(json_int(json_get(r, "finished_ms"), 0) / 1000);
		struct tm tm;
		gmtime_r(&fin, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(tbl, sizeof(tbl), "%s.%s", json_str(json_get(r, "keyspace"), "?"),
		         json_str(json_get(r, "table"), "?"));
		char dur[24];
		snprintf(dur, sizeof(dur), "%ld ms",
		         (long)(json_int(json_get(r, "finished_ms"), 0) -
		                json_int(json_get(r, "started_ms"), 0)));
		printf("%-24s %-20s %-44s %-24s %8ld %12ld %s\n", when, tbl,
		       json_str(json_get(r, "range"), "?"), dur,
		       (long)json_int(json_get(r, "leaves_differing"), 0),
		       (long)json_int(json_get(r, "bytes"), 0),
		       json_str(json_get(r, "outcome"), "?"));
	}
	json_free(j);
	return 0;
}

int cmd_repair_admin(int argc, char **argv)
{
	struct host_opt h;
	host_opt_init(&h);
	const char *sub = NULL, *arg = NULL;
	for (int i = 1; i < argc; i++) {
		if (host_opt_take(&h, argc, argv, &i))
			continue;
		if (!sub)
			sub = argv[i];
		else if (!arg)
			arg = argv[i];
		else
			sub = "";
	}
	if (!sub || (strcmp(sub, "list") && strcmp(sub, "cancel"))) {
		fprintf(stderr,
		        "usage: colonnade repair_admin list [limit] [-h host[:port]]\n"
		        "       colonnade repair_admin cancel [session id] [-h host[:port]]\n");
		return 2;
	}
	struct admin_target t;
	int rc = host_opt_target(&h, argv[0], &t);
	if (rc)
		return rc;
	if (!strcmp(sub, "list"))
		return admin_list(&t, argv[0], arg ? strtol(arg, NULL, 10) : 100);
	char path[64];
	snprintf(path, sizeof(path), "/v1/repair/cancel%s%s", arg ? "?id=" : "", arg ? arg : "");
	struct json *j = admin_call(argv[0], &t, path, true);
	if (!j)
		return 1;
	printf("cancelling\n");
	json_free(j);
	return 0;
}
