/*
 * PasswordAuthenticator (coordinator/auth): SASL PLAIN splitting, the first
 * superuser (no password, no start), the roles file across restarts, argon2id
 * on disk, the credentials cache (hits cost no hash; a wrong password is never
 * cached), the per-source limit on failed logins.
 */
#include "coordinator/auth/auth.h"
#include "coordinator/auth/roles_file.h"
#include "core/clock.h"

#include <ev.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/colonnade-auth-XXXXXX";

static void setup(void)
{
	strcpy(dir, "/tmp/colonnade-auth-XXXXXX");
	cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(auth, .init = setup, .fini = teardown, .timeout = 120);

struct answer {
	bool done;
	enum auth_result r;
	struct cerr e;
};

static void on_answer(void *arg, enum auth_result r, const char *role, const struct cerr *e)
{
	struct answer *an = arg;
	an->done = true;
	an->r = r;
	if (e)
		an->e = *e;
	if (r == AUTH_OK)
		cr_expect(role && role[0]);
}

/* auth with the roles file of o_dir as its role source (no loop: hashes inline) */
struct fx {
	struct roles_file *f;
	struct auth *a;
};

static int fx_open(struct fx *x, const char *d, const char *su, const char *pw,
                   const struct auth_options *o, struct cerr *e)
{
	memset(x, 0, sizeof(*x));
	int rc = roles_file_open(d, su, pw, &x->f, e);
	if (rc)
		return rc;
	rc = auth_new(o, &x->a, e);
	if (rc)
		return rc;
	struct auth_role_source src;
	roles_file_source(x->f, &src);
	auth_set_role_source(x->a, &src);
	return 0;
}

static void fx_close(struct fx *x)
{
	auth_free(x->a);
	roles_file_free(x->f);
}

static enum auth_result login(struct auth *a, const char *src, const char *role, const char *pw,
                              struct cerr *e)
{
	uint8_t tok[512];
	size_t rl = strlen(role), pl = strlen(pw);
	tok[0] = 0;
	memcpy(tok + 1, role, rl);
	tok[1 + rl] = 0;
	memcpy(tok + 2 + rl, pw, pl);
	struct answer an = {0};
	auth_login(a, src, tok, 2 + rl + pl, on_answer, &an);
	cr_assert(an.done, "without a loop the answer comes before auth_login returns");
	*e = an.e;
	return an.r;
}

Test(auth, sasl_plain_split)
{
	struct auth_plain p;
	struct cerr e = {0};
	cr_assert_eq(auth_sasl_plain((const uint8_t *)"z\0bob\0pw x", 10, &p, &e), 0, "%s", e.msg);
	cr_expect_eq(p.role_len, 3);
	cr_expect(!memcmp(p.role, "bob", 3));
	cr_expect_eq(p.password_len, 4);
	cr_expect_neq(auth_sasl_plain((const uint8_t *)"bob", 3, &p, &e), 0);
	cr_expect_neq(auth_sasl_plain((const uint8_t *)"\0bob", 4, &p, &e), 0);
	cr_expect_neq(auth_sasl_plain((const uint8_t *)"\0\0pw", 4, &p, &e), 0, "empty role");
	cr_expect_neq(auth_sasl_plain((const uint8_t *)"\0b\tb\0pw", 7, &p, &e), 0, "tab in role");
	cr_expect_neq(auth_sasl_plain((const uint8_t *)"\0b\0p\0w", 6, &p, &e), 0, "NUL in pw");
	cr_expect_neq(auth_sasl_plain(NULL, 0, &p, &e), 0);
}

Test(auth, first_superuser_needs_a_password_then_persists)
{
	struct fx x;
	struct cerr e = {0};
	char d[128];
	snprintf(d, sizeof(d), "%s/auth", dir);
	struct auth_options o = {.validity_ms = 2000};
	cr_expect_eq(fx_open(&x, d, "cassandra", NULL, &o, &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "no password is given") && strstr(e.msg, "no default password"),
	          "%s", e.msg);
	cr_assert_eq(fx_open(&x, d, "cassandra", "s3cret-pw", &o, &e), 0, "%s", e.msg);
	struct auth *a = x.a;
	cr_expect_eq(login(a, "10.0.0.1", "cassandra", "s3cret-pw", &e), AUTH_OK, "%s", e.msg);
	cr_expect_eq(login(a, "10.0.0.1", "cassandra", "nope", &e), AUTH_BAD_CREDENTIALS);
	cr_expect(strstr(e.msg, "Provided username cassandra and/or password are incorrect"), "%s",
	          e.msg);
	cr_expect(!strstr(e.msg, "nope"), "the password is never echoed");
	fx_close(&x);
	/* the file holds an argon2id hash, not the password */
	char path[160], line[512];
	snprintf(path, sizeof(path), "%s/roles", d);
	FILE *f = fopen(path, "r");
	cr_assert(f);
	cr_assert(fgets(line, sizeof(line), f));
	fclose(f);
	cr_expect(!strncmp(line, "cassandra\t1\t$argon2id$", 22), "%s", line);
	cr_expect(!strstr(line, "s3cret-pw"));
	/* a restart needs no password; a different one in the config does not replace it */
	cr_assert_eq(fx_open(&x, d, "cassandra", "other", &o, &e), 0, "%s", e.msg);
	a = x.a;
	cr_expect_eq(login(a, "10.0.0.1", "cassandra", "s3cret-pw", &e), AUTH_OK, "%s", e.msg);
	cr_expect_eq(login(a, "10.0.0.1", "cassandra", "other", &e), AUTH_BAD_CREDENTIALS);
	fx_close(&x);
	cr_assert_eq(fx_open(&x, d, "cassandra", NULL, &o, &e), 0, "%s", e.msg);
	fx_close(&x);
}

Test(auth, cache_hits_skip_the_hash_and_failures_are_limited_per_source)
{
	struct fx x;
	struct cerr e = {0};
	char d[128];
	snprintf(d, sizeof(d), "%s/auth", dir);
	struct auth_options o = {
	        .validity_ms = 60000, .max_failures = 3, .failure_window_ms = 60000};
	cr_assert_eq(fx_open(&x, d, "root", "right-pw", &o, &e), 0, "%s", e.msg);
	struct auth *a = x.a;
	struct auth_stats st;
	for (int i = 0; i < 5; i++)
		cr_expect_eq(login(a, "10.0.0.9", "root", "right-pw", &e), AUTH_OK, "%s", e.msg);
	auth_get_stats(a, &st);
	cr_expect_eq(st.hashes, 1, "one hash, then the cache");
	cr_expect_eq(st.cache_hits, 4);
	cr_expect_eq(login(a, "10.0.0.9", "root", "right-pX", &e), AUTH_BAD_CREDENTIALS);
	auth_get_stats(a, &st);
	cr_expect_eq(st.hashes, 2, "a wrong password is hashed, never a cache hit");
	cr_expect_eq(login(a, "10.0.0.9", "ghost", "x", &e), AUTH_BAD_CREDENTIALS);
	cr_expect_eq(login(a, "10.0.0.9", "root", "y", &e), AUTH_BAD_CREDENTIALS);
	auth_get_stats(a, &st);
	cr_expect_eq(st.hashes, 4, "an unknown role costs a hash too");
	/* three failures from 10.0.0.9: refused unchecked, even with the right password */
	cr_expect_eq(login(a, "10.0.0.9", "root", "right-pw", &e), AUTH_THROTTLED);
	cr_expect(strstr(e.msg, "Too many failed logins from 10.0.0.9"), "%s", e.msg);
	auth_get_stats(a, &st);
	cr_expect_eq(st.hashes, 4);
	cr_expect_eq(st.throttled, 1);
	cr_expect_eq(login(a, "10.0.0.10", "root", "right-pw", &e), AUTH_OK, "another source");
	cr_expect_eq(login(a, "10.0.0.10", "\t", "x", &e), AUTH_MALFORMED);
	fx_close(&x);
	/* cache off: every login hashes */
	o.validity_ms = 0;
	cr_assert_eq(fx_open(&x, d, "root", NULL, &o, &e), 0, "%s", e.msg);
	a = x.a;
	for (int i = 0; i < 3; i++)
		cr_expect_eq(login(a, "10.0.0.11", "root", "right-pw", &e), AUTH_OK);
	auth_get_stats(a, &st);
	cr_expect_eq(st.hashes, 3);
	cr_expect_eq(st.cache_hits, 0);
	fx_close(&x);
}

/* ---- password threads: the loop keeps turning while argon2id runs ---------------------------- */

struct loopfx {
	struct ev_loop *loop;
	struct answer an[6];
	int answered;
	int ticks;                           /* timer firings while hashes ran */
	int64_t end_ms;                      /* give up waiting for the answers */
	int64_t last_cpu_us, longest_cpu_us; /* the loop thread's own CPU time between ticks */
	int64_t last_ms, longest_gap_ms;     /* wall clock between ticks (scheduler delay too) */
};

/* CPU time of the calling thread: what it ran, not how long it waited for a core. */
static int64_t thread_cpu_us(void)
{
	struct timespec ts;
	cr_assert_eq(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts), 0);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_loop_answer(void *arg, enum auth_result r, const char *role, const struct cerr *e)
{
	struct answer *an = arg;
	on_answer(arg, r, role, e);
	(void)an;
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)revents;
	struct loopfx *lf = t->data;
	int64_t now = clock_mono_ms(), cpu = thread_cpu_us();
	if (lf->ticks && now - lf->last_ms > lf->longest_gap_ms)
		lf->longest_gap_ms = now - lf->last_ms;
	if (lf->ticks && cpu - lf->last_cpu_us > lf->longest_cpu_us)
		lf->longest_cpu_us = cpu - lf->last_cpu_us;
	lf->last_ms = now;
	lf->last_cpu_us = cpu;
	lf->ticks++;
	int done = 0;
	for (int i = 0; i < 6; i++)
		done += lf->an[i].done;
	if (done == 6 || now > lf->end_ms)
		ev_break(loop, EVBREAK_ALL);
}

Test(auth, password_checks_run_off_the_loop_with_a_bounded_queue)
{
	struct loopfx lf = {.loop = ev_loop_new(EVFLAG_AUTO)};
	cr_assert(lf.loop);
	char d[128];
	snprintf(d, sizeof(d), "%s/auth", dir);
	struct cerr e = {0};
	struct fx x;
	/* one thread, three checks at most: of six logins at once, the last three are refused */
	struct auth_options o = {.loop = lf.loop, .hash_threads = 1, .hash_queue = 3};
	cr_assert_eq(fx_open(&x, d, "root", "right-pw", &o, &e), 0, "%s", e.msg);
	const char *pws[6] = {"right-pw", "wrong", "right-pw", "x", "y", "z"};
	for (int i = 0; i < 6; i++) {
		uint8_t tok[64];
		size_t n = (size_t)snprintf((char *)tok, sizeof(tok), "%croot%c%s", 0, 0, pws[i]);
		auth_login(x.a, "10.1.0.1", tok, n, on_loop_answer, &lf.an[i]);
	}
	int busy_now = 0;
	for (int i = 0; i < 6; i++)
		busy_now += lf.an[i].done && lf.an[i].r == AUTH_BUSY;
	cr_expect_eq(busy_now, 3, "three accepted; the rest refused at once");
	for (int i = 0; i < 3; i++)
		cr_expect(!lf.an[i].done, "login %d waits for its hash, not the loop", i);
	ev_timer t;
	ev_timer_init(&t, on_tick, 0.002, 0.002);
	t.data = &lf;
	ev_timer_start(lf.loop, &t);
	/* three argon2id hashes take seconds on a loaded machine: wait for them, not for a
	 * number of ticks (each tick is at least 2 ms of wall clock) */
	lf.end_ms = clock_mono_ms() + 60000;
	ev_run(lf.loop, 0);
	ev_timer_stop(lf.loop, &t);
	cr_expect_eq(lf.an[0].r, AUTH_OK, "%s", lf.an[0].e.msg);
	cr_expect_eq(lf.an[1].r, AUTH_BAD_CREDENTIALS);
	cr_expect_eq(lf.an[2].r, AUTH_OK);
	cr_expect(strstr(lf.an[5].e.msg, "too many logins are waiting"), "%s", lf.an[5].e.msg);
	/* a hash on the loop would answer before ev_run (checked above) and stop it at the
	 * first tick; the timer turning many times means the loop ran during the hashes */
	cr_expect_gt(lf.ticks, 10,
	             "the loop ran its timer while three hashes were computed "
	             "(longest gap %lld ms)",
	             (long long)lf.longest_gap_ms);
	/* No loop stall: no iteration between two ticks ran a hash (tens of ms of CPU at
	 * least). Measured in the loop thread's own CPU time: the wall clock between ticks
	 * also holds the time the thread waited for a core, which a loaded machine makes
	 * hundreds of ms without the loop doing anything. */
	cr_log_info("loop between ticks: %lld us of CPU at most, %lld ms of wall clock at most",
	            (long long)lf.longest_cpu_us, (long long)lf.longest_gap_ms);
	cr_expect_lt(lf.longest_cpu_us, 20000,
	             "no hash-long stall of the loop: longest CPU time between two ticks %lld us "
	             "(wall clock %lld ms)",
	             (long long)lf.longest_cpu_us, (long long)lf.longest_gap_ms);
	struct auth_stats st;
	auth_get_stats(x.a, &st);
	cr_expect_eq(st.busy, 3);
	fx_close(&x);
	ev_loop_destroy(lf.loop);
}
