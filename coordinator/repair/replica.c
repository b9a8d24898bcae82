/*
 * replica.c — the replica side of repair: REPAIR_TREE, REPAIR_STREAM and
 * REPAIR_SYNC are decoded on the loop, run as worker jobs, and answered when
 * the job is done (the request's id and sender are kept with the job).  A
 * request that cannot be served is answered with a failure naming why.
 */
#include "coordinator/repair/repair_int.h"

#include "core/log.h"
#include "core/msgpk.h"
#include "gossip/messaging.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a delayed answer needs of the request. */
struct pending_req {
	unsigned verb;
	uint64_t id;
	struct net_addr from;
};

static void answer_failure(struct repair *r, const struct pending_req *p, int code, const char *msg)
{
	struct msg_in req = {.verb = p->verb, .id = p->id, .from = &p->from};
	messaging_respond_failure(r->cfg.msg, &req, code, msg);
}

static void job_answered(struct repair *r, struct rjob *j)
{
	struct pending_req *p = j->owner;
	if (r->stopping) {
		free(p);
		rjob_free(j);
		return;
	}
	if (j->rc) {
		answer_failure(r, p, j->rc, j->err.msg[0] ? j->err.msg : "repair job failed");
		free(p);
		rjob_free(j);
		return;
	}
	struct msg_in req = {.verb = p->verb, .id = p->id, .from = &p->from};
	struct msg_out o;
	if (messaging_begin_response(r->cfg.msg, &req, p->verb + 1, &o) == 0) {
		switch (j->kind) {
		case RJOB_TREE: {
			msgpk_put_array(o.b, 3);
			struct buf tb;
			buf_init(&tb);
			merkle_encode(j->tree, &tb);
			msgpk_put_bin(o.b, tb.data, (uint32_t)tb.len);
			buf_release(&tb);
			msgpk_put_uint(o.b, j->counts.partitions);
			msgpk_put_uint(o.b, j->counts.bytes);
			break;
		}
		case RJOB_STREAM:
			msgpk_put_array(o.b, 3);
			msgpk_put_bin(o.b, j->chunk.data, (uint32_t)j->chunk.len);
			msgpk_put_bin(o.b, j->last.data, (uint32_t)j->last.len);
			msgpk_put_bool(o.b, j->more);
			r->stats.chunks_served++;
			break;
		case RJOB_SYNC:
			msgpk_put_array(o.b, 1);
			msgpk_put_uint(o.b, j->pairs);
			r->stats.chunks_applied++;
			break;
		case RJOB_COMPACT: break; /* never a request */
		}
		if (!buf_ok(o.b)) {
			messaging_abort(&o);
			answer_failure(r, p, COL_ENOMEM, "repair: out of memory for the answer");
		} else if (messaging_commit(&o)) {
			char a[NET_ADDR_STRLEN];
			net_addr_format(&p->from, a, sizeof(a));
			log_warn("repair", "answer to %s dropped: the peer's queue is full", a);
		}
	}
	free(p);
	rjob_free(j);
}

struct rjob *rjob_from_req(const struct repair_req *q)
{
	enum rjob_kind k = q->verb == VERB_REPAIR_TREE     ? RJOB_TREE
	                   : q->verb == VERB_REPAIR_STREAM ? RJOB_STREAM
	                                                   : RJOB_SYNC;
	struct rjob *j = rjob_new(k);
	if (!j)
		return NULL;
	memcpy(j->table_id, q->table_id, 16);
	j->start = q->start;
	j->end = q->end;
	j->now_s = q->now_s;
	j->depth = q->depth;
	j->max_bytes = q->max_bytes;
	if (q->after)
		buf_put(&j->after, q->after, q->after_len);
	if (q->chunk)
		buf_put(&j->chunk, q->chunk, q->chunk_len);
	if (!buf_ok(&j->after) || !buf_ok(&j->chunk)) {
		rjob_free(j);
		return NULL;
	}
	return j;
}

static int on_request(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	struct repair *r = ctx;
	struct repair_req q;
	struct cerr err = {0};
	if (repair_req_decode(msg->verb, msg->payload, msg->payload_len, &q, &err)) {
		r->stats.requests_refused++;
		char a[NET_ADDR_STRLEN];
		net_addr_format(msg->from, a, sizeof(a));
		log_warn("repair", "refused a request from %s: %s", a, err.msg);
		messaging_respond_failure(m, msg, COL_ECORRUPT, err.msg);
		return 0; /* answered: the connection stays */
	}
	struct rjob *j = rjob_from_req(&q);
	struct pending_req *p = j ? malloc(sizeof(*p)) : NULL;
	if (!p) {
		rjob_free(j);
		return messaging_respond_failure(m, msg, COL_ENOMEM, "repair: out of memory"), 0;
	}
	p->verb = msg->verb;
	p->id = msg->id;
	p->from = *msg->from;
	j->owner = p;
	j->done = job_answered;
	int rc = worker_submit(r, j);
	if (rc) {
		r->stats.requests_refused++;
		messaging_respond_failure(m, msg, rc,
		                          rc == COL_EOVERLOADED
		                                  ? "repair: the worker queue is full, try later"
		                                  : "repair: shutting down");
		free(p);
		rjob_free(j);
	}
	return 0;
}

static int on_done(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	(void)m;
	struct repair *r = ctx;
	uint8_t id[16];
	int64_t start, end, began_s;
	struct cerr err = {0};
	if (repair_done_decode(msg->payload, msg->payload_len, id, &start, &end, &began_s, &err)) {
		r->stats.requests_refused++;
		return COL_ECORRUPT; /* messaging logs it */
	}
	history_mark(r, id, start, end, began_s * 1000);
	return 0;
}

static const struct messaging_verb repair_verbs[] = {
        {VERB_REPAIR_TREE, "REPAIR_TREE", on_request},
        {VERB_REPAIR_TREE_RSP, "REPAIR_TREE_RSP", NULL},
        {VERB_REPAIR_STREAM, "REPAIR_STREAM", on_request},
        {VERB_REPAIR_STREAM_RSP, "REPAIR_STREAM_RSP", NULL},
        {VERB_REPAIR_SYNC, "REPAIR_SYNC", on_request},
        {VERB_REPAIR_SYNC_RSP, "REPAIR_SYNC_RSP", NULL},
        {VERB_REPAIR_DONE, "REPAIR_DONE", on_done},
};

int replica_register(struct repair *r, struct cerr *err)
{
	int rc = messaging_register_verbs(r->cfg.msg, repair_verbs,
	                                  sizeof(repair_verbs) / sizeof(repair_verbs[0]), r);
	if (rc)
		return cerr_set(err, rc, "repair: cannot claim the REPAIR verbs 20-25 and 28");
	return 0;
}

void replica_unregister(struct repair *r)
{
	messaging_unregister_verbs(r->cfg.msg, repair_verbs,
	                           sizeof(repair_verbs) / sizeof(repair_verbs[0]));
}
