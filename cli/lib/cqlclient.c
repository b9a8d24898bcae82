/*
 * cqlclient.c — the blocking wrapper over one struct cqlconn on a private
 * loop, for the shell (see cqlclient.h, layer 3).
 */
#include "cli/lib/cqlclient.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * One outstanding request of the blocking client.  Heap-allocated so that an
 * interrupted wait can walk away: the callback frees an abandoned ticket (and
 * its answer) whenever the answer or the connection's end arrives.
 */
struct ticket {
	struct cqlclient *cl;
	bool abandoned;
	bool done;
	int status;
	struct cqlresult *res;
	char why[CERR_MSG_MAX];
};

struct cqlclient {
	struct ev_loop *loop;
	struct cqlconn *conn;
	volatile sig_atomic_t *interrupt;
	/* connect */
	bool ready_done;
	int ready_status;
	char ready_why[CERR_MSG_MAX];
};

static void sync_ready(struct cqlconn *c, void *arg, int status, const char *why)
{
	(void)c;
	struct cqlclient *cl = arg;
	cl->ready_done = true;
	cl->ready_status = status;
	snprintf(cl->ready_why, sizeof(cl->ready_why), "%s", why ? why : "");
}

static void sync_done(struct cqlconn *c, void *arg, int status, struct cqlresult *res,
                      const char *why)
{
	(void)c;
	struct ticket *t = arg;
	if (t->abandoned) {
		cqlresult_free(res);
		free(t);
		return;
	}
	t->done = true;
	t->status = status;
	t->res = res;
	snprintf(t->why, sizeof(t->why), "%s", why ? why : "");
}

int cqlclient_connect(const char *host, uint16_t port, const struct cqlconn_opts *opts,
                      struct cqlclient **out, struct cerr *err)
{
	struct cqlclient *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	cl->loop = ev_loop_new(EVFLAG_AUTO);
	if (!cl->loop) {
		free(cl);
		return cerr_set(err, COL_EIO, "cannot create an event loop");
	}
	int rc = cqlconn_open(cl->loop, host, port, opts, sync_ready, cl, &cl->conn, err);
	if (rc) {
		ev_loop_destroy(cl->loop);
		free(cl);
		return rc;
	}
	while (!cl->ready_done)
		ev_run(cl->loop, EVRUN_ONCE);
	if (cl->ready_status != COL_OK) {
		rc = cerr_set(err, cl->ready_status, "%s", cl->ready_why);
		cqlclient_free(cl);
		return rc;
	}
	*out = cl;
	return COL_OK;
}

void cqlclient_free(struct cqlclient *cl)
{
	if (!cl)
		return;
	if (cl->conn)
		cqlconn_free(cl->conn);
	ev_loop_destroy(cl->loop);
	free(cl);
}

static struct ticket *ticket_new(struct cqlclient *cl)
{
	struct ticket *t = calloc(1, sizeof(*t));
	if (t)
		t->cl = cl;
	return t;
}

/* Wait for t after a send that returned rc; frees t unless abandoned. */
static int sync_wait(struct cqlclient *cl, struct ticket *t, int rc, struct cqlresult **out,
                     struct cerr *err)
{
	if (rc != COL_OK) {
		free(t);
		const char *f = cqlconn_failure(cl->conn);
		return cerr_set(err, rc, "cannot send request to %s: %s", cqlconn_peer(cl->conn),
		                *f ? f : col_strerror(rc));
	}
	while (!t->done) {
		if (cl->interrupt && *cl->interrupt) {
			t->abandoned = true; /* sync_done frees it */
			return cerr_set(err, COL_EAGAIN, "request to %s interrupted",
			                cqlconn_peer(cl->conn));
		}
		ev_run(cl->loop, EVRUN_ONCE);
	}
	rc = t->status;
	if (rc != COL_OK)
		cerr_set(err, rc, "%s", t->why);
	else
		*out = t->res;
	free(t);
	return rc;
}

#define SYNC_SEND(cl, send_expr, out, err)                                                         \
	do {                                                                                       \
		struct ticket *t = ticket_new(cl);                                                 \
		if (!t)                                                                            \
			return cerr_set(err, COL_ENOMEM, "out of memory");                         \
		return sync_wait(cl, t, (send_expr), out, err);                                    \
	} while (0)

int cqlclient_query(struct cqlclient *cl, const char *cql, const struct cql_qparams *p,
                    struct cqlresult **out, struct cerr *err)
{
	SYNC_SEND(cl, cqlconn_query(cl->conn, cql, strlen(cql), p, sync_done, t), out, err);
}

int cqlclient_prepare(struct cqlclient *cl, const char *cql, struct cqlresult **out,
                      struct cerr *err)
{
	SYNC_SEND(cl, cqlconn_prepare(cl->conn, cql, strlen(cql), sync_done, t), out, err);
}

int cqlclient_execute(struct cqlclient *cl, struct cqlprepared *ps, const struct cql_qparams *p,
                      struct cqlresult **out, struct cerr *err)
{
	SYNC_SEND(cl, cqlconn_execute(cl->conn, ps, p, sync_done, t), out, err);
}

int cqlclient_batch(struct cqlclient *cl, uint8_t type, const struct cql_batch_item *items,
                    uint16_t n, const struct cql_qparams *p, struct cqlresult **out,
                    struct cerr *err)
{
	SYNC_SEND(cl, cqlconn_batch(cl->conn, type, items, n, p, sync_done, t), out, err);
}

void cqlclient_poll(struct cqlclient *cl)
{
	ev_run(cl->loop, EVRUN_NOWAIT);
}

void cqlclient_set_interrupt(struct cqlclient *cl, volatile sig_atomic_t *flag)
{
	cl->interrupt = flag;
}

const char *cqlclient_peer(const struct cqlclient *cl)
{
	return cqlconn_peer(cl->conn);
}
struct cqlconn *cqlclient_conn(struct cqlclient *cl)
{
	return cl->conn;
}
