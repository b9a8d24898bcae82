/*
 * Crash safety: a writer process (storage_helper_crashwriter) is SIGKILLed
 * mid-stream; after reopening its data directory every write it had
 * acknowledged must be there, whole (both cells of each mutation).  Run for
 * both sync policies: `batch` syncs the WAL before acknowledging; `periodic`
 * survives a process crash because acknowledged writes are already in the
 * OS page cache (the WAL is written, not buffered, before Write returns).
 */
#include "core/buf.h"
#include "storage/storage.h"
#include "tests/unit/store_fixture.h"

#include <criterion/criterion.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void helper_path(char *out, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	cr_assert_gt(n, 0);
	self[n] = 0;
	snprintf(out, cap, "%s/storage_helper_crashwriter", dirname(self));
	cr_assert_eq(access(out, X_OK), 0, "helper %s not built", out);
}

struct check {
	long found;
	bool bad;
	char seen_text[64];
};

static int on_row(void *ctx, const struct store_partition *p, const struct store_row *r)
{
	(void)p;
	struct check *c = ctx;
	c->found = 0;
	int have = 0;
	for (size_t i = 0; i < r->n_cells; i++) {
		if (r->cells[i].col == 1) {
			snprintf(c->seen_text, sizeof(c->seen_text), "%.*s",
			         (int)r->cells[i].value_len, (const char *)r->cells[i].value);
			have |= 1;
		} else if (r->cells[i].col == 2) {
			c->found = (int32_t)be32_load(r->cells[i].value);
			have |= 2;
		}
	}
	c->bad = have != 3; /* a torn mutation */
	return 0;
}

static void crash_and_check(const char *policy, long min_acks)
{
	char dir[64];
	test_dir_make(dir, sizeof(dir), "crash");
	char helper[PATH_MAX + 64];
	helper_path(helper, sizeof(helper));
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execl(helper, helper, dir, policy, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	FILE *in = fdopen(p[0], "r");
	char line[64];
	long last = -1, acks = 0;
	while (acks < min_acks && fgets(line, sizeof(line), in)) {
		long i;
		cr_assert_eq(sscanf(line, "ACK %ld", &i), 1, "bad helper line '%s'", line);
		cr_assert_eq(i, last + 1);
		last = i;
		acks++;
	}
	cr_assert_eq(acks, min_acks, "helper stopped early");
	kill(pid, SIGKILL);
	/* lines already in the pipe were acknowledged before the kill */
	while (fgets(line, sizeof(line), in)) {
		long i;
		if (sscanf(line, "ACK %ld", &i) == 1 && i == last + 1)
			last = i;
	}
	fclose(in);
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	struct store_options o;
	store_options_init(&o);
	o.data_dir = dir;
	struct store *s;
	struct cerr e = {0};
	cr_assert_eq(store_open(&o, &s, &e), 0, "reopen after crash: %s", e.msg);
	const struct cqltype *pk[1] = {cqltype_simple(CQLTYPE_INT)};
	struct store_column cols[2] = {{.id = 1, .type = cqltype_simple(CQLTYPE_VARCHAR)},
	                               {.id = 2, .type = cqltype_simple(CQLTYPE_INT)}};
	struct store_table_desc d = {.keyspace = "crash",
	                             .name = "t",
	                             .n_pk = 1,
	                             .pk_types = pk,
	                             .n_cols = 2,
	                             .cols = cols,
	                             .gc_grace_seconds = 864000};
	d.id[15] = 0xc7;
	struct store_table *t;
	cr_assert_eq(store_table_open(s, &d, &t, &e), 0, "%s", e.msg);
	long missing = 0;
	for (long i = 0; i <= last; i++) {
		uint8_t k[4];
		be32_store(k, (uint32_t)i);
		struct store_value kv = {k, 4};
		struct check c = {.found = -1};
		cr_assert_eq(store_read_partition(t, &kv, 1, NULL, 0, 0, 0, on_row, &c, &e), 0,
		             "%s", e.msg);
		char want[32];
		snprintf(want, sizeof(want), "value-%ld", i);
		if (c.found != i || c.bad || strcmp(c.seen_text, want) != 0)
			missing++;
	}
	cr_expect_eq(missing, 0, "%s: %ld of %ld acknowledged writes missing or torn", policy,
	             missing, last + 1);
	/* the write after the last ack is either whole or absent */
	uint8_t k[4];
	be32_store(k, (uint32_t)(last + 1));
	struct store_value kv = {k, 4};
	struct check c = {.found = -1};
	store_read_partition(t, &kv, 1, NULL, 0, 0, 0, on_row, &c, NULL);
	cr_expect(c.found == -1 || !c.bad, "mutation %ld is torn", last + 1);
	store_close(s);
	test_dir_remove(dir);
	fprintf(stderr, "crash test (%s): %ld acknowledged writes, all present\n", policy,
	        last + 1);
}

Test(storage_crash, sigkill_batch_policy_loses_no_acknowledged_write)
{
	crash_and_check("batch", 300);
}

Test(storage_crash, sigkill_periodic_policy_loses_no_acknowledged_write)
{
	crash_and_check("periodic", 20000);
}
