/*
 * PasswordAuthenticator (coordinator/auth): SASL PLAIN splitting, the first
 * superuser (no password, no start), the roles file across restarts, argon2id
 * on disk, the credentials cache (hits cost no hash; a wrong password is never
 * cached), the per-source limit on failed logins.
 */
#include "coordinator/auth/auth.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static enum auth_result login(struct auth *a, const char *src, const char *role, const char *pw,
                              struct cerr *e)
{
	uint8_t tok[512];
	size_t rl = strlen(role), pl = strlen(pw);
	tok[0] = 0;
	memcpy(tok + 1, role, rl);
	tok[1 + rl] = 0;
	memcpy(tok + 2 + rl, pw, pl);
	char out[AUTH_MAX_NAME];
	return auth_login(a, src, tok, 2 + rl + pl, out, sizeof(out), e);
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
	struct auth *a = NULL;
	struct cerr e = {0};
	char d[128];
	snprintf(d, sizeof(d), "%s/auth", dir);
	struct auth_options o = {.dir = d, .superuser = "cassandra", .validity_ms = 2000};
	cr_expect_eq(auth_new(&o, &a, &e), COL_ECONFIG);
	cr_expect(strstr(e.msg, "no password is given") && strstr(e.msg, "no default password"),
	          "%s", e.msg);
	o.superuser_password = "s3cret-pw";
	cr_assert_eq(auth_new(&o, &a, &e), 0, "%s", e.msg);
	cr_expect_eq(login(a, "10.0.0.1", "cassandra", "s3cret-pw", &e), AUTH_OK, "%s", e.msg);
	cr_expect_eq(login(a, "10.0.0.1", "cassandra", "nope", &e), AUTH_BAD_CREDENTIALS);
	cr_expect(strstr(e.msg, "Provided username cassandra and/or password are incorrect"), "%s",
	          e.msg);
	cr_expect(!strstr(e.msg, "nope"), "the password is never echoed");
	auth_free(a);
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
	o.superuser_password = "other";
	cr_assert_eq(auth_new(&o, &a, &e), 0, "%s", e.msg);
	cr_expect_eq(login(a, "10.0.0.1", "cassandra", "s3cret-pw", &e), AUTH_OK, "%s", e.msg);
	cr_expect_eq(login(a, "10.0.0.1", "cassandra", "other", &e), AUTH_BAD_CREDENTIALS);
	auth_free(a);
	o.superuser_password = NULL;
	cr_assert_eq(auth_new(&o, &a, &e), 0, "%s", e.msg);
	auth_free(a);
}

Test(auth, cache_hits_skip_the_hash_and_failures_are_limited_per_source)
{
	struct auth *a = NULL;
	struct cerr e = {0};
	char d[128];
	snprintf(d, sizeof(d), "%s/auth", dir);
	struct auth_options o = {.dir = d,
	                         .superuser = "root",
	                         .superuser_password = "right-pw",
	                         .validity_ms = 60000,
	                         .max_failures = 3,
	                         .failure_window_ms = 60000};
	cr_assert_eq(auth_new(&o, &a, &e), 0, "%s", e.msg);
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
	auth_free(a);
	/* cache off: every login hashes */
	o.validity_ms = 0;
	cr_assert_eq(auth_new(&o, &a, &e), 0, "%s", e.msg);
	for (int i = 0; i < 3; i++)
		cr_expect_eq(login(a, "10.0.0.11", "root", "right-pw", &e), AUTH_OK);
	auth_get_stats(a, &st);
	cr_expect_eq(st.hashes, 3);
	cr_expect_eq(st.cache_hits, 0);
	auth_free(a);
}
