/*
 * storage_proxy_truncate.c — TRUNCATE across the cluster (Cassandra's
 * StorageProxy.truncateBlocking): every node of the ring truncates the table
 * with the one truncation time the coordinator chose, and the statement
 * succeeds only when all of them have.  A node known down makes it
 * Unavailable before anything is sent (a truncation that misses a replica
 * would leave it to bring the rows back); a node that fails or does not
 * answer within truncate_timeout_ms fails it.  The replica side is
 * verbs_truncate_local() (verbs.c).
 */
#include "coordinator/replication/storage_proxy_int.h"

#include "core/cqlproto.h"
#include "core/msgpk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sp_truncate {
	struct storage_proxy *sp;
	size_t n;       /* ring nodes asked */
	size_t acked;   /* truncated */
	size_t failed;  /* answered with a failure or did not answer */
	size_t pending; /* messaging callbacks still owed */
	bool answered;
	request_done_fn done;
	void *ctx;
	char why[240]; /* the first failure */
};

static void tr_note_failure(struct sp_truncate *tr, const char *who, const char *what)
{
	if (tr->failed++ == 0) {
		/* "<who>: <what>", cut to fit */
		sp_set_msg(tr->why, sizeof(tr->why) - 2, who);
		size_t n = strlen(tr->why);
		memcpy(tr->why + n, ": ", 3);
		sp_set_msg(tr->why + n + 2, sizeof(tr->why) - n - 2, what);
	}
}

/* Answer once every node answered or one failed; free once no callback is owed. */
static void tr_progress(struct sp_truncate *tr)
{
	if (!tr->answered && (tr->failed || tr->acked == tr->n)) {
		tr->answered = true;
		struct cerr out;
		sp_outcome_init(&out, CL_ALL);
		out.rep.required = (int32_t)tr->n;
		out.rep.received = (int32_t)tr->acked;
		if (tr->failed)
			cerr_set(&out, COL_EFAILED,
			         "Error during truncate: %zu of %zu nodes truncated, %zu failed "
			         "(first: %s)",
			         tr->acked, tr->n, tr->failed, tr->why);
		tr->done(tr->ctx, &out);
	}
	if (tr->answered && tr->pending == 0)
		free(tr);
}

struct tr_target {
	struct sp_truncate *tr;
	char who[NET_ADDR_STRLEN];
};

static void tr_rsp(void *ctx, int status, const struct msg_in *rsp)
{
	struct tr_target *tt = ctx;
	struct sp_truncate *tr = tt->tr;
	tr->pending--;
	if (status == 0) {
		tr->acked++;
	} else if (status == COL_ETIMEDOUT) {
		char what[64];
		snprintf(what, sizeof(what), "no answer within %u ms",
		         tr->sp->cfg.truncate_timeout_ms);
		tr_note_failure(tr, tt->who, what);
	} else {
		int code = status;
		char msg[200] = "";
		if (rsp)
			(void)messaging_failure_text(rsp, &code, msg, sizeof(msg));
		tr_note_failure(tr, tt->who, msg[0] ? msg : col_strerror(code));
	}
	free(tt);
	tr_progress(tr);
}

/* Ask ring node i to truncate (this node: at once). */
static void tr_send(struct sp_truncate *tr, size_t i, const uint8_t table_id[16],
                    int64_t truncated_at)
{
	struct storage_proxy *sp = tr->sp;
	const char *addr = ring_node_at(sp->t->ring, i)->address;
	if ((long)i == sp->t->self) {
		struct cerr e = {0};
		if (verbs_truncate_local(sp->store, table_id, truncated_at, &e) == 0)
			tr->acked++;
		else
			tr_note_failure(tr, addr, e.msg);
		return;
	}
	struct tr_target *tt = calloc(1, sizeof(*tt));
	if (!tt) {
		tr_note_failure(tr, addr, "out of memory");
		return;
	}
	tt->tr = tr;
	snprintf(tt->who, sizeof(tt->who), "%s", addr);
	struct msg_out o;
	int rc = messaging_begin_request(sp->msg, &sp->t->addrs[i], VERB_TRUNCATE,
	                                 sp->cfg.truncate_timeout_ms, tr_rsp, tt, &o);
	if (rc == 0) {
		verbs_put_truncate(o.b, table_id, truncated_at);
		rc = messaging_commit(&o);
	}
	if (rc != 0) {
		free(tt);
		tr_note_failure(tr, addr, col_strerror(rc));
		return;
	}
	tr->pending++;
}

/* Unavailable unless every ring node is up: 0, or done() was called. */
static int tr_check_alive(struct storage_proxy *sp, request_done_fn done, void *ctx)
{
	size_t alive = 0;
	long down = -1;
	for (size_t i = 0; i < sp->t->n; i++) {
		if (sp_node_alive(sp, i))
			alive++;
		else if (down < 0)
			down = (long)i;
	}
	if (down < 0)
		return 0;
	struct cerr out;
	sp_outcome_init(&out, CL_ALL);
	out.rep.required = (int32_t)sp->t->n;
	out.rep.received = (int32_t)alive;
	sp->stats.unavailables++;
	cerr_set(&out, COL_EUNAVAILABLE,
	         "Cannot perform truncate, some hosts are down: %zu of %zu up (%s is down)", alive,
	         sp->t->n, ring_node_at(sp->t->ring, (size_t)down)->address);
	done(ctx, &out);
	return COL_EUNAVAILABLE;
}

void storage_proxy_truncate(struct storage_proxy *sp, struct ring *ring, const uint8_t table_id[16],
                            int64_t truncated_at, request_done_fn done, void *ctx)
{
	if (sp_topo_use(sp, ring) != 0) {
		sp_fail_now(done, ctx, CL_ALL, COL_ENOMEM, "out of memory building the ring cache");
		return;
	}
	if (tr_check_alive(sp, done, ctx) != 0)
		return;
	struct sp_truncate *tr = calloc(1, sizeof(*tr));
	if (!tr) {
		sp_fail_now(done, ctx, CL_ALL, COL_ENOMEM, "out of memory starting a truncate");
		return;
	}
	tr->sp = sp;
	tr->n = sp->t->n;
	tr->done = done;
	tr->ctx = ctx;
	/* pending stays above 0 while sending, so no answer frees tr under us */
	tr->pending = 1;
	for (size_t i = 0; i < tr->n; i++)
		tr_send(tr, i, table_id, truncated_at);
	tr->pending--;
	tr_progress(tr);
}
