/*
 * libFuzzer target: the SASL PLAIN token of a CQL AUTH_RESPONSE
 * (coordinator/auth/auth.h), as the PasswordAuthenticator splits it before
 * any password check: "authzid \0 role \0 password" with bounds on both.  An
 * accepted split must lie inside the input, hold no NUL, tab or newline in
 * the role and no NUL in the password.  (auth_login's hashing is not fuzzed:
 * one argon2id costs tens of ms; tests/unit/test_coordinator_auth.c covers it.)
 */
#include "coordinator/auth/auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_plain p;
	struct cerr e = {0};
	if (auth_sasl_plain(data, size, &p, &e) != 0) {
		if (!e.msg[0])
			abort(); /* every refusal says why */
		return 0;
	}
	if (p.role < data || p.role + p.role_len > data + size || p.password < data ||
	    p.password + p.password_len != data + size)
		abort();
	if (!p.role_len || p.role_len >= AUTH_MAX_NAME || p.password_len > AUTH_MAX_PASSWORD)
		abort();
	if (memchr(p.role, 0, p.role_len) || memchr(p.role, '\t', p.role_len) ||
	    memchr(p.role, '\n', p.role_len) || memchr(p.password, 0, p.password_len))
		abort();
	return 0;
}
