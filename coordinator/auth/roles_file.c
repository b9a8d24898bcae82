/*
 * roles_file.c — the per-node roles file (roles_file.h).
 */
#include "coordinator/auth/roles_file.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOD       "auth"
#define MAX_ROLES 64

struct frole {
	char name[AUTH_MAX_NAME];
	bool super;
	char hash[AUTH_HASH_MAX];
};

struct roles_file {
	char path[600];
	struct frole roles[MAX_ROLES];
	int n_roles;
};

static int load_roles(struct roles_file *f, struct cerr *err)
{
	FILE *in = fopen(f->path, "re");
	if (!in) {
		if (errno == ENOENT)
			return 0;
		return cerr_set(err, COL_EIO, "auth: cannot read %s: %s", f->path, strerror(errno));
	}
	char line[AUTH_MAX_NAME + AUTH_HASH_MAX + 16];
	int lineno = 0, rc = 0;
	while (!rc && fgets(line, sizeof(line), in)) {
		lineno++;
		line[strcspn(line, "\n")] = 0;
		char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2 || t1 == line || (size_t)(t1 - line) >= AUTH_MAX_NAME ||
		    strlen(t2 + 1) >= AUTH_HASH_MAX || f->n_roles == MAX_ROLES) {
			rc = cerr_set(err, COL_EIO,
			              "auth: %s:%d: not <name>\\t<0|1>\\t<argon2id hash>", f->path,
			              lineno);
			break;
		}
		struct frole *r = &f->roles[f->n_roles++];
		memcpy(r->name, line, (size_t)(t1 - line));
		r->name[t1 - line] = 0;
		r->super = t1[1] == '1';
		snprintf(r->hash, sizeof(r->hash), "%s", t2 + 1);
	}
	fclose(in);
	return rc;
}

static int save_roles(struct roles_file *f, struct cerr *err)
{
	char tmp[620];
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return cerr_set(err, COL_EIO, "auth: cannot write %s: %s", tmp, strerror(errno));
	FILE *out = fdopen(fd, "w");
	if (!out) {
		close(fd);
		return cerr_set(err, COL_ENOMEM, "auth: out of memory");
	}
	for (int i = 0; i < f->n_roles; i++)
		fprintf(out, "%s\t%d\t%s\n", f->roles[i].name, f->roles[i].super ? 1 : 0,
		        f->roles[i].hash);
	bool ok = fflush(out) == 0 && fsync(fd) == 0;
	ok = fclose(out) == 0 && ok;
	if (!ok || rename(tmp, f->path) != 0)
		return cerr_set(err, COL_EIO, "auth: cannot write %s: %s", f->path,
		                strerror(errno));
	return 0;
}

static int create_superuser(struct roles_file *f, const char *name, const char *pw,
                            struct cerr *err)
{
	if (!pw || !*pw)
		return cerr_set(err, COL_ECONFIG,
		                "authenticator is PasswordAuthenticator but no role exists yet and "
		                "no password is given for the first superuser '%s' (set "
		                "auth_superuser_password, auth_superuser_password_file or "
		                "COLONNADE_AUTH_SUPERUSER_PASSWORD); there is no default password",
		                name);
	if (strlen(name) >= AUTH_MAX_NAME || strchr(name, '\t') || strchr(name, '\n'))
		return cerr_set(err, COL_ECONFIG, "auth_superuser: not a usable role name");
	struct frole *r = &f->roles[f->n_roles++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->super = true;
	int rc = auth_hash_password_now(pw, strlen(pw), r->hash);
	if (rc)
		return cerr_set(err, rc, "auth: out of memory hashing");
	rc = save_roles(f, err);
	if (!rc)
		log_info(MOD, "created superuser '%s' (argon2id) in %s", r->name, f->path);
	return rc;
}

int roles_file_open(const char *dir, const char *superuser, const char *password,
                    struct roles_file **out, struct cerr *err)
{
	if (sodium_init() < 0)
		return cerr_set(err, COL_EIO, "auth: libsodium failed to initialise");
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return cerr_set(err, COL_EIO, "auth: cannot create %s: %s", dir, strerror(errno));
	struct roles_file *f = calloc(1, sizeof(*f));
	if (!f)
		return cerr_set(err, COL_ENOMEM, "auth: out of memory");
	snprintf(f->path, sizeof(f->path), "%s/roles", dir);
	int rc = load_roles(f, err);
	if (!rc && f->n_roles == 0)
		rc = create_superuser(f, superuser, password, err);
	if (rc) {
		roles_file_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

void roles_file_free(struct roles_file *f)
{
	if (!f)
		return;
	sodium_memzero(f, sizeof(*f));
	free(f);
}

static void file_lookup(void *ctx, const char *role, auth_role_cb cb, void *arg)
{
	struct roles_file *f = ctx;
	for (int i = 0; i < f->n_roles; i++)
		if (!strcmp(f->roles[i].name, role)) {
			struct auth_role_info ri = {.can_login = true, .super = f->roles[i].super};
			snprintf(ri.hash, sizeof(ri.hash), "%s", f->roles[i].hash);
			cb(arg, 0, &ri, NULL);
			return;
		}
	cb(arg, COL_ENOTFOUND, NULL, NULL);
}

void roles_file_source(struct roles_file *f, struct auth_role_source *out)
{
	out->lookup = file_lookup;
	out->ctx = f;
}

int roles_file_count(const struct roles_file *f)
{
	return f->n_roles;
}

void roles_file_get(const struct roles_file *f, int i, const char **name, bool *super,
                    const char **hash)
{
	*name = f->roles[i].name;
	*super = f->roles[i].super;
	*hash = f->roles[i].hash;
}
