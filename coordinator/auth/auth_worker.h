/*
 * auth_worker.h — argon2id off the event loop: a few threads take password
 * jobs (verify a password against a stored hash, or hash a new password)
 * from a bounded queue, and hand them back to the loop through an ev_async,
 * where each job's done() runs.  A loop thread never waits for a hash (one
 * costs ~80 ms and 64 MiB): the connection that asked waits instead.
 *
 * Without a loop (unit tests, fuzzing) a job runs inline and done() is
 * called before auth_worker_submit() returns.
 */
#ifndef COLONNADE_COORDINATOR_AUTH_WORKER_H
#define COLONNADE_COORDINATOR_AUTH_WORKER_H

#include "core/err.h"

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>

struct ev_loop;
struct auth_worker;

enum auth_job_kind { AUTH_JOB_VERIFY, AUTH_JOB_HASH };

struct auth_job {
	enum auth_job_kind kind;
	char hash[crypto_pwhash_STRBYTES]; /* VERIFY: in; HASH: out */
	char *password;                    /* owned by the job's owner; not NUL-terminated */
	size_t password_len;
	/* out, valid in done(): VERIFY: ok = the password matches; HASH: rc 0 = hash set.
	 * rc COL_ECLOSED: the worker stopped before running the job. */
	bool ok;
	int rc;
	void (*done)(struct auth_job *j); /* on the loop thread, exactly once */
	void *arg;
	struct auth_job *next; /* worker's */
};

/* threads >= 1; at most max_queued jobs waiting or running (more are refused). */
int auth_worker_new(struct ev_loop *loop, unsigned threads, unsigned max_queued,
                    struct auth_worker **out, struct cerr *err);
/* Jobs still queued complete with rc COL_ECLOSED, on this thread, before it returns. */
void auth_worker_free(struct auth_worker *w);
/*
 * Queue j (w may be NULL: run inline).  0, or COL_EOVERLOADED when max_queued
 * jobs wait already (done() is not called then).
 */
int auth_worker_submit(struct auth_worker *w, struct auth_job *j);
/* Jobs waiting or running now. */
unsigned auth_worker_pending(const struct auth_worker *w);

#endif
