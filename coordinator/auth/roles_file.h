/*
 * roles_file.h — the per-node roles file <dir>/roles: "<name>\t<superuser 0|1>\t<argon2id>\n"
 * per role, written atomically (temp file, fsync, rename), mode 0600.  On the
 * first start the first superuser is created in it from the operator's password
 * (auth_superuser_password / _file / COLONNADE_AUTH_SUPERUSER_PASSWORD); there
 * is no default password, and without a stored role and without that password
 * roles_file_open() refuses.  It answers auth.h's role lookups synchronously.
 */
#ifndef COLONNADE_COORDINATOR_ROLES_FILE_H
#define COLONNADE_COORDINATOR_ROLES_FILE_H

#include "coordinator/auth/auth.h"

struct roles_file;

/* 0, or COL_ECONFIG (no role and no password) / COL_EIO / COL_ENOMEM. */
int roles_file_open(const char *dir, const char *superuser, const char *password,
                    struct roles_file **out, struct cerr *err);
void roles_file_free(struct roles_file *f);
/* A role source over the file (f outlives its use). */
void roles_file_source(struct roles_file *f, struct auth_role_source *out);
/* Roles in the file, in file order: name, superuser, hash.  i in [0, n). */
int roles_file_count(const struct roles_file *f);
void roles_file_get(const struct roles_file *f, int i, const char **name, bool *super,
                    const char **hash);

#endif
