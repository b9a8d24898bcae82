/*
 * host_opt.c — the -h option every operator command takes, and the call to the
 * node it names (see commands.h).
 */
#include "cli/colonnade/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void host_opt_init(struct host_opt *h)
{
	const char *env = getenv("COLONNADE_HOST");
	h->host = env && *env ? env : "127.0.0.1";
	h->missing_value = false;
}

bool host_opt_take(struct host_opt *h, int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	if (!strncmp(a, "--host=", 7)) {
		h->host = a + 7;
		return true;
	}
	if (strcmp(a, "-h") != 0 && strcmp(a, "--host") != 0)
		return false;
	if (*i + 1 >= argc)
		h->missing_value = true;
	else
		h->host = argv[++*i];
	return true;
}

int host_opt_target(const struct host_opt *h, const char *cmd, struct admin_target *out)
{
	if (h->missing_value) {
		fprintf(stderr, "colonnade %s: -h needs host[:port]\n", cmd);
		return 2;
	}
	struct cerr err = {0};
	if (admin_target_parse(h->host, ADMIN_DEFAULT_PORT, out, &err)) {
		fprintf(stderr, "colonnade %s: %s\n", cmd, err.msg);
		return 2;
	}
	return 0;
}

struct json *admin_call(const char *cmd, const struct admin_target *t, const char *path, bool post)
{
	struct json *j = NULL;
	struct cerr err = {0};
	int rc = post ? admin_post_json(t, path, &j, &err) : admin_get_json(t, path, &j, &err);
	if (rc) {
		fprintf(stderr, "colonnade %s: %s\n", cmd, err.msg);
		if (strstr(err.msg, "cannot connect") || err.code == COL_ETIMEDOUT)
			fprintf(stderr, "  (is a node running with admin_port %u on %s?)\n",
			        t->port, t->host);
		return NULL;
	}
	return j;
}
