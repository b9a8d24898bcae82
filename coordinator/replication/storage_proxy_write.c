/*
 * storage_proxy_write.c — replicated writes: the plan of every partition
 * checked before anything is sent, mutations to local replicas directly and
 * to one forwarder per remote datacenter, acks counted per the level, hints
 * for replicas down or silent, WriteTimeout / write failure answers.
 */
#include "coordinator/replication/storage_proxy_int.h"

#include "core/clock.h"
#include "core/cqlproto.h"
#include "core/msgpk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void w_release(struct sp_write *w)
{
	struct storage_proxy *sp = w->sp;
	ev_timer_stop(sp->ev, &w->timer);
	cl_acks_release(&w->acks);
	if (w->ring)
		ring_unref(w->ring);
	w->ring = NULL;
	trace_unref(w->trace);
	w->trace = NULL;
	w->gen++;
	w->live = false;
	if (w->charged) {
		admit_bytes_release(sp->cfg.bytes, w->charged);
		w->charged = 0;
	}
	if (w->mut.cap > SP_READ_BUF_KEEP) { /* one big mutation does not pin its copy */
		buf_release(&w->mut);
		buf_init(&w->mut);
	}
	w->next_free = sp->free_writes;
	sp->free_writes = w;
	sp->idle_writes++;
	sp->stats.in_flight--;
}

size_t sp_write_trim(struct storage_proxy *sp, unsigned n)
{
	size_t bytes = 0;
	for (; n > 0 && sp->free_writes; n--) {
		struct sp_write *w = sp->free_writes;
		sp->free_writes = w->next_free;
		sp->idle_writes--;
		/* the slot stays: a late relayed ack names it with an older generation */
		sp->free_slots[sp->n_free_slots++] = (struct sp_free_slot){w->slot, w->gen};
		sp->wslots[w->slot] = NULL;
		bytes += sp_write_free(w);
	}
	return bytes;
}

#define W_SLOT_BYTES (sizeof(struct sp_target) + sizeof(uint32_t) + sizeof(uint8_t) + sizeof(bool))

size_t sp_write_free(struct sp_write *w)
{
	size_t bytes = sizeof(*w) + w->slots_block_cap * W_SLOT_BYTES;
	w->sp->write_block_bytes -= w->slots_block_cap * W_SLOT_BYTES;
	w->sp->n_writes--;
	if (w->charged)
		admit_bytes_release(w->sp->cfg.bytes, w->charged);
	buf_release(&w->mut);
	free(w->slots_block);
	free(w);
	return bytes;
}

/* Give the write slots for `need` replicas, cleared: 0, or COL_ENOMEM. */
static int w_slots(struct sp_write *w, size_t need)
{
	if (need > SP_WRITE_INLINE && need > w->slots_block_cap) {
		void *b = calloc(need, W_SLOT_BYTES);
		if (!b)
			return COL_ENOMEM;
		free(w->slots_block);
		w->sp->write_block_bytes += (need - w->slots_block_cap) * W_SLOT_BYTES;
		w->slots_block = b;
		w->slots_block_cap = need;
	}
	if (need <= SP_WRITE_INLINE) {
		w->cap = SP_WRITE_INLINE;
		w->tgt = w->in_tgt;
		w->node = w->in_node;
		w->state = w->in_state;
		w->forwarded = w->in_forwarded;
	} else {
		/* one block: the callback contexts, the nodes, their states, forwarded flags */
		w->cap = w->slots_block_cap;
		w->tgt = w->slots_block;
		w->node = (uint32_t *)(w->tgt + w->cap);
		w->state = (uint8_t *)(w->node + w->cap);
		w->forwarded = (bool *)(w->state + w->cap);
	}
	memset(w->state, T_NONE, w->cap);
	memset(w->forwarded, 0, w->cap * sizeof(bool));
	return 0;
}

/*
 * A write is recycled once answered, with every messaging callback in, and
 * every forwarded peer's relayed outcome in (or the write timeout passed):
 * otherwise a late relay could not be matched and its peer not hinted.
 */
static void w_maybe_release(struct sp_write *w)
{
	if (w->answered && w->pending_cbs == 0 && (w->relays_pending == 0 || w->expired))
		w_release(w);
}

/* Hand replica slot i to the hint sink (it is down or did not answer in time). */
static void w_hint(struct sp_write *w, size_t i)
{
	struct storage_proxy *sp = w->sp;
	if (!sp->cfg.hint || !w->mut.len)
		return;
	if (sp->cfg.hint(sp->cfg.hint_ctx, w->ring, w->node[i], w->mut.data, w->mut.len, 0) == 0) {
		sp->stats.hints++;
		trace_event(w->trace, "Writing a hint for /%s", sp_node_name(w->ring, w->node[i]));
	}
}

/* Answer the write once: code 0, COL_ETIMEDOUT, COL_EFAILED or COL_EOVERLOADED (w->why names the
 * first failed replica) or another error with w->why. */
static void w_answer(struct sp_write *w, int code)
{
	struct storage_proxy *sp = w->sp;
	struct cerr out;
	sp_outcome_init(&out, w->cl);
	out.code = code;
	out.rep.write = true;
	out.rep.write_type = (uint8_t)w->wt;
	out.rep.required = w->acks.block_for;
	out.rep.received = w->acks.received;
	for (size_t i = 0; i < w->n; i++)
		out.rep.failures += w->state[i] == T_FAILED;
	if (code == COL_ETIMEDOUT) {
		snprintf(out.msg, sizeof(out.msg),
		         "Operation timed out - received only %d responses (%d required) at %s",
		         out.rep.received, out.rep.required, cql_consistency_name(w->cl));
		sp->stats.write_timeouts++;
		for (size_t i = 0; i < w->n; i++)
			if (w->state[i] == T_PENDING)
				trace_event(w->trace,
				            "Timed out waiting for /%s (write timeout %u ms)",
				            sp_node_name(w->ring, w->node[i]),
				            sp->cfg.write_timeout_ms);
	} else if (code != 0) {
		snprintf(out.msg, sizeof(out.msg), "write failed at %s: %s",
		         cql_consistency_name(w->cl), w->why);
		sp->stats.write_failures++;
	} else {
		sp->stats.writes++;
	}
	w->answered = true;
	if (w->relays_pending == 0)
		ev_timer_stop(sp->ev, &w->timer); /* else it still bounds the wait for relays */
	sp_done_traced(w->trace, w->done, w->ctx, &out);
}

/* Could the level still be met if every pending replica acked? */
static bool w_can_succeed(struct sp_write *w)
{
	struct cl_acks a = w->acks;
	struct cl_acks_dc dcs[RING_MAX_DCS];
	if (a.n_dcs) { /* counted on a copy: w's own stay as they are */
		memcpy(dcs, a.dcs, a.n_dcs * sizeof(*dcs));
		a.dcs = dcs;
	}
	for (size_t i = 0; i < w->n; i++)
		if (w->state[i] == T_PENDING) {
			uint32_t nd = w->node[i];
			cl_acks_add(&a, ring_node_at(w->ring, nd)->dc, sp_node_local(w->sp, nd));
		}
	return cl_acks_done(&a);
}

static void w_outcome(struct sp_write *w, size_t i, int status, const char *why)
{
	if (w->state[i] != T_PENDING)
		return;
	uint32_t nd = w->node[i];
	if (w->forwarded[i] && --w->relays_pending == 0 && w->answered)
		ev_timer_stop(w->sp->ev, &w->timer);
	if (status == VERBS_RELAY_HINTED) {
		/* not applied; its DC's forwarder keeps the hint (which ANY counts) */
		w->state[i] = T_HINTED;
		w->sp->stats.forwarder_hints++;
		if (w->cl == CL_ANY && w->acks.received == 0)
			w->acks.received = 1;
		if (!w->answered && cl_acks_done(&w->acks))
			w_answer(w, 0);
		return;
	}
	if (status == COL_ETIMEDOUT || status == COL_EFULL || status == COL_ECLOSED)
		w_hint(w, i); /* never reached it, or no word back in time */
	if (w->trace && (long)nd != w->sp->t->self) {
		if (status == 0)
			trace_event(w->trace, "MUTATION_RSP message received from /%s",
			            sp_node_name(w->ring, nd));
		else
			trace_event(w->trace, "No acknowledgement from /%s: %s",
			            sp_node_name(w->ring, nd), why ? why : col_strerror(status));
	}
	if (status == 0) {
		w->state[i] = T_ACKED;
		cl_acks_add(&w->acks, ring_node_at(w->ring, nd)->dc, sp_node_local(w->sp, nd));
	} else {
		w->state[i] = T_FAILED;
		if (!w->why[0])
			snprintf(w->why, sizeof(w->why), "replica %s: %s",
			         ring_node_at(w->ring, nd)->address,
			         why ? why : col_strerror(status));
	}
	if (w->answered)
		return;
	if (cl_acks_done(&w->acks))
		w_answer(w, 0);
	else if (status != 0 && status != COL_ETIMEDOUT && !w_can_succeed(w))
		/* a replica shedding load makes the write Overloaded (the client backs off), any
		 * other refusal a write failure */
		w_answer(w, status == COL_EOVERLOADED ? COL_EOVERLOADED : COL_EFAILED);
}

static void w_rsp(void *ctx, int status, const struct msg_in *rsp)
{
	struct sp_target *t = ctx;
	struct sp_write *w = t->req;
	w->pending_cbs--;
	if (sp_topo_use(w->sp, w->ring) != 0) {
		if (!w->answered) {
			sp_set_msg(w->why, sizeof(w->why), "out of memory building the ring cache");
			w_answer(w, COL_ENOMEM);
		}
		w_maybe_release(w);
		return;
	}
	char why[160] = "";
	if (status == 0)
		sp_note_latency(w->sp, w->ring, w->node[t->i], w->sent_us);
	else if (rsp) {
		int code;
		messaging_failure_text(rsp, &code, why, sizeof(why));
	}
	w_outcome(w, t->i, status, why[0] ? why : NULL);
	w_maybe_release(w);
}

static void w_timeout(struct ev_loop *l, ev_timer *tm, int revents)
{
	(void)l;
	(void)revents;
	struct sp_write *w = (struct sp_write *)((char *)tm - offsetof(struct sp_write, timer));
	if (!w->answered)
		w_answer(w, COL_ETIMEDOUT);
	w->expired = true;
	/* forwarded peers never heard of: their forwarder is gone or cut off */
	if (sp_topo_use(w->sp, w->ring) == 0)
		for (size_t i = 0; i < w->n; i++)
			if (w->state[i] == T_PENDING && w->forwarded[i])
				w_hint(w, i);
	w_maybe_release(w);
}

static struct sp_write *w_get(struct storage_proxy *sp)
{
	if (sp->stats.in_flight >= sp->cfg.max_requests)
		return NULL;
	struct sp_write *w = sp->free_writes;
	if (w) {
		sp->free_writes = w->next_free;
		sp->idle_writes--;
	} else {
		if (!sp->n_free_slots && sp->n_wslots == sp->cap_wslots) {
			uint32_t c = sp->cap_wslots ? sp->cap_wslots * 2 : 64;
			struct sp_write **s = realloc(sp->wslots, c * sizeof(*s));
			if (!s)
				return NULL;
			sp->wslots = s;
			struct sp_free_slot *f = realloc(sp->free_slots, c * sizeof(*f));
			if (!f)
				return NULL;
			sp->free_slots = f;
			sp->cap_wslots = c;
		}
		w = calloc(1, sizeof(*w));
		if (!w)
			return NULL;
		w->sp = sp;
		w->tgt = w->in_tgt; /* until w_slots chooses */
		w->node = w->in_node;
		w->state = w->in_state;
		w->forwarded = w->in_forwarded;
		if (sp->n_free_slots) {
			struct sp_free_slot f = sp->free_slots[--sp->n_free_slots];
			w->slot = f.slot;
			w->gen = f.gen;
		} else {
			w->slot = sp->n_wslots++;
		}
		sp->wslots[w->slot] = w;
		sp->n_writes++;
		ev_init(&w->timer, w_timeout);
		buf_init(&w->mut);
	}
	sp->stats.in_flight++;
	sp_peaks_note(&sp->write_peaks, sp->n_writes - sp->idle_writes);
	w->live = true;
	w->answered = w->expired = false;
	w->pending_cbs = 0;
	w->relays_pending = 0;
	w->n = 0;
	buf_reset(&w->mut);
	w->why[0] = 0;
	return w;
}

static uint64_t w_id(const struct sp_write *w)
{
	return ((uint64_t)w->gen << 32) | w->slot;
}

/* Relayed acks from a remote DC's forwarder. */
int sp_on_relay(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	(void)m;
	struct storage_proxy *sp = ctx;
	if (msg->flags & MSG_F_RESPONSE)
		return 0;
	uint64_t id;
	uint32_t slot;
	int status;
	if (verbs_decode_relay_ack(msg->payload, msg->payload_len, &id, &slot, &status))
		return COL_ECORRUPT;
	uint32_t ws = (uint32_t)id;
	if (ws >= sp->n_wslots)
		return 0;
	struct sp_write *w = sp->wslots[ws];
	if (!w || !w->live || w->gen != (uint32_t)(id >> 32) || slot >= w->n)
		return 0; /* late: the write is over */
	sp->stats.relayed_acks++;
	if (sp_topo_use(sp, w->ring) != 0)
		return 0;
	w_outcome(w, slot, status, status ? col_strerror(status) : NULL);
	w_maybe_release(w);
	return 0;
}

static int w_send(struct sp_write *w, size_t i, const uint8_t *mut, size_t len,
                  const struct verbs_forward *fwd, size_t n_fwd)
{
	struct storage_proxy *sp = w->sp;
	struct msg_out o;
	w->tgt[i].req = w;
	w->tgt[i].i = (uint32_t)i;
	int rc = messaging_begin_request(sp->msg, &sp->t->addrs[w->node[i]], VERB_MUTATION,
	                                 sp->cfg.write_timeout_ms, w_rsp, &w->tgt[i], &o);
	if (rc == 0) {
		verbs_put_mutation(o.b, mut, len, w_id(w), fwd, n_fwd,
		                   w->trace ? trace_session_id(w->trace) : NULL);
		rc = messaging_commit(&o);
	}
	if (rc == 0)
		w->pending_cbs++;
	if (w->trace) {
		const char *to = sp_node_name(w->ring, w->node[i]);
		if (rc)
			trace_event(w->trace, "Could not send MUTATION to /%s: %s", to,
			            col_strerror(rc));
		else if (n_fwd)
			trace_event(w->trace,
			            "Sending MUTATION message to /%s, to be forwarded to %zu "
			            "replicas of its datacenter",
			            to, n_fwd);
		else
			trace_event(w->trace, "Sending MUTATION message to /%s", to);
	}
	return rc;
}

static void w_local_done(void *ctx, int rc, const struct cerr *e)
{
	struct sp_target *t = ctx;
	struct sp_write *w = t->req;
	w->pending_cbs--;
	if (rc == 0)
		w->sp->stats.local_applies++;
	if (rc == 0)
		trace_event(w->trace, "Applied the mutation locally");
	else
		trace_event(w->trace, "Applying the mutation locally failed: %s",
		            e ? e->msg : col_strerror(rc));
	if (sp_topo_use(w->sp, w->ring) != 0) {
		if (!w->answered) {
			sp_set_msg(w->why, sizeof(w->why), "out of memory building the ring cache");
			w_answer(w, COL_ENOMEM);
		}
	} else {
		w_outcome(w, t->i, rc, rc && e ? e->msg : NULL);
	}
	w_maybe_release(w);
}

/* This node is replica slot i: through the loop's group-commit lane when there is one. */
static void w_apply_local(struct sp_write *w, size_t i, const struct store_mutation *m)
{
	struct storage_proxy *sp = w->sp;
	struct cerr e = {0};
	int rc;
	trace_event(w->trace, "Applying the mutation locally (this node is a replica)");
	if (sp->cfg.lane) {
		w->tgt[i].req = w;
		w->tgt[i].i = (uint32_t)i;
		rc = store_lane_apply(sp->cfg.lane, m, w_local_done, &w->tgt[i], &e);
		if (rc == 0) {
			w->pending_cbs++;
			return;
		}
	} else {
		rc = store_apply(sp->store, m, &e);
		if (rc == 0)
			sp->stats.local_applies++;
		if (rc == 0)
			trace_event(w->trace, "Applied the mutation locally");
	}
	w_outcome(w, i, rc, rc ? e.msg : NULL);
}

static bool plan_live(const struct plan *p, uint32_t nd)
{
	for (size_t k = 0; k < p->n_live; k++)
		if (p->live[k] == nd)
			return true;
	return false;
}

static bool plan_dc_live(const struct plan *p, const struct ring *r, const char *dc)
{
	for (size_t k = 0; k < p->n_live; k++)
		if (strcmp(ring_node_at(r, p->live[k])->dc, dc) == 0)
			return true;
	return false;
}

/*
 * Replicas known down: a remote datacenter's, when it has a live replica,
 * become slots of the forward list (down_slot[] marks them) and its forwarder
 * hints them; every other one is hinted here and now.  A stored hint is
 * ANY's acknowledgement; the first one of an ANY write with no live replica
 * is synced, since it is the only copy.
 */
static void w_hint_down(struct sp_write *w, const struct plan *p, bool *down_slot)
{
	struct storage_proxy *sp = w->sp;
	for (size_t i = 0; i < p->n && w->mut.len; i++) {
		uint32_t nd = p->node[i];
		if (plan_live(p, nd))
			continue;
		const char *dc = ring_node_at(w->ring, nd)->dc;
		if (!sp_node_local(sp, nd) && plan_dc_live(p, w->ring, dc) && w->n < w->cap) {
			down_slot[w->n] = true;
			w->node[w->n++] = nd;
			continue;
		}
		unsigned flags = w->cl == CL_ANY && p->n_live == 0 && w->acks.received == 0
		                         ? SP_HINT_SYNC
		                         : 0;
		if (sp->cfg.hint(sp->cfg.hint_ctx, w->ring, nd, w->mut.data, w->mut.len, flags) !=
		    0)
			continue;
		sp->stats.hints++;
		if (w->cl == CL_ANY && w->acks.received == 0)
			w->acks.received = 1;
	}
}

/* ANY with no replica alive and no hint stored: Unavailable after all. */
static void w_unavailable_any(struct sp_write *w)
{
	struct storage_proxy *sp = w->sp;
	struct cerr out;
	sp_outcome_init(&out, w->cl);
	out.rep.write = true;
	out.rep.write_type = (uint8_t)w->wt;
	out.rep.required = 1;
	out.rep.received = 0;
	cerr_set(&out, COL_EUNAVAILABLE,
	         "Cannot achieve consistency level ANY: no replica is alive and no hint could be "
	         "stored");
	sp->stats.unavailables++;
	w->answered = true;
	ev_timer_stop(sp->ev, &w->timer);
	w->done(w->ctx, &out);
	w_maybe_release(w);
}

/* Answer a write that could not start (no request state for it). */
static void w_refuse(uint16_t cl, enum cerr_write_type wt, request_done_fn done, void *ctx,
                     int code, const char *why)
{
	struct cerr out;
	sp_outcome_init(&out, cl);
	out.rep.write = true;
	out.rep.write_type = (uint8_t)wt;
	cerr_set(&out, code, "%s", why);
	done(ctx, &out);
}

/* The traced write's replicas. */
static void w_trace_plan(struct sp_write *w, const struct plan *p)
{
	char names[256] = "";
	size_t at = 0;
	for (size_t k = 0; k < p->n_live && at + 1 < sizeof(names); k++)
		at += (size_t)snprintf(names + at, sizeof(names) - at, "%s/%s", k ? ", " : "",
		                       sp_node_name(w->ring, p->live[k]));
	trace_event(w->trace, "Determining replicas for mutation: %zu live of %zu (%s) at %s",
	            p->n_live, p->n, names, cql_consistency_name(w->cl));
}

/* Charge the copy of its mutation a write keeps for hints to the loop's byte budget:
 * false (w->why says why) when the copy does not fit. */
static bool w_charge(struct sp_write *w, size_t len)
{
	struct storage_proxy *sp = w->sp;
	if (!sp->cfg.hint || !sp->cfg.bytes)
		return true; /* no copy kept, or no bound */
	if (!admit_bytes_charge(sp->cfg.bytes, len)) {
		snprintf(w->why, sizeof(w->why),
		         "coordinator overloaded: %llu bytes of mutations held for writes in "
		         "flight, at its limit of %llu (a mutation of %zu bytes does not fit)",
		         (unsigned long long)sp->cfg.bytes->used,
		         (unsigned long long)sp->cfg.bytes->max, len);
		return false;
	}
	w->charged = len;
	return true;
}

/* Keep the mutation's bytes for hints (w_charge charged them). */
static void w_keep_copy(struct sp_write *w, const uint8_t *bytes, size_t len)
{
	buf_put(&w->mut, bytes, len);
	if (buf_ok(&w->mut))
		return;
	buf_reset(&w->mut); /* no memory to keep it: no hints for this write */
	if (w->charged)
		admit_bytes_release(w->sp->cfg.bytes, w->charged);
	w->charged = 0;
}

/* Send one mutation (its plan already checked); the handler answers through done. */
static void write_one(struct storage_proxy *sp, struct ring *ring, const struct replication *rep,
                      uint16_t cl, const struct plan *p, struct store_mutation *m,
                      enum cerr_write_type wt, request_done_fn done, void *ctx)
{
	struct sp_write *w = w_get(sp);
	if (!w) {
		char why[96];
		snprintf(why, sizeof(why), "coordinator overloaded: %u requests in flight",
		         sp->stats.in_flight);
		w_refuse(cl, wt, done, ctx, COL_EOVERLOADED, why);
		return;
	}
	size_t len;
	const uint8_t *bytes = store_mutation_bytes(m, &len);
	if (!w_charge(w, len)) {
		w_refuse(cl, wt, done, ctx, COL_EOVERLOADED, w->why);
		w_release(w);
		return;
	}
	if (w_slots(w, p->n)) {
		w_release(w);
		w_refuse(cl, wt, done, ctx, COL_ENOMEM,
		         "coordinator out of memory for a write's replica slots");
		return;
	}
	if (cl_acks_init(&w->acks, cl, rep, sp->t->local_dc)) {
		w_release(w);
		w_refuse(cl, wt, done, ctx, COL_ENOMEM,
		         "coordinator out of memory for a write's acknowledgements");
		return;
	}
	w->ring = ring_ref(ring);
	w->cl = cl;
	w->wt = wt;
	w->done = done;
	w->ctx = ctx;
	w->trace = sp_trace_take();
	if (w->trace)
		w_trace_plan(w, p);
	w->n = p->n_live;
	memcpy(w->node, p->live, p->n_live * sizeof(uint32_t));
	w->sent_us = clock_mono_us();
	ev_timer_set(&w->timer, sp->cfg.write_timeout_ms / 1000.0, 0.);
	ev_timer_start(sp->ev, &w->timer);

	long self_i = -1;
	bool down_slot[SP_MAX_REPLICAS] = {false};
	if (sp->cfg.hint) {
		w_keep_copy(w, bytes, len);
		w_hint_down(w, p, down_slot);
		if (cl == CL_ANY && p->n_live == 0 && w->acks.received == 0) {
			w_unavailable_any(w);
			return;
		}
	}
	for (size_t i = 0; i < w->n; i++)
		w->state[i] = T_PENDING;
	/* Our datacenter: directly. Others: one forwarder per DC (the fastest known). */
	bool done_dc[SP_MAX_REPLICAS] = {false};
	for (size_t i = 0; i < w->n; i++) {
		uint32_t nd = w->node[i];
		if ((long)nd == sp->t->self) {
			self_i = (long)i;
			continue;
		}
		int rc;
		if (sp_node_local(sp, nd)) {
			rc = w_send(w, i, bytes, len, NULL, 0);
		} else {
			if (done_dc[i])
				continue;
			const char *dc = ring_node_at(ring, nd)->dc;
			size_t best = i;
			for (size_t k = i + 1; k < w->n; k++) {
				if (down_slot[k] ||
				    strcmp(ring_node_at(ring, w->node[k])->dc, dc) != 0)
					continue;
				double lk = sp->t->lat_us[w->node[k]],
				       lb = sp->t->lat_us[w->node[best]];
				if (lk > 0 && (lb == 0 || lk < lb))
					best = k;
			}
			struct verbs_forward fwd[SP_MAX_REPLICAS];
			size_t n_fwd = 0;
			for (size_t k = i; k < w->n; k++) {
				if (strcmp(ring_node_at(ring, w->node[k])->dc, dc) != 0)
					continue;
				done_dc[k] = true;
				if (k == best)
					continue;
				fwd[n_fwd].addr = sp->t->addrs[w->node[k]];
				fwd[n_fwd].slot = (uint32_t)k;
				n_fwd++;
			}
			rc = w_send(w, best, bytes, len, fwd, n_fwd);
			if (rc == 0 && n_fwd) {
				sp->stats.forwarded++;
				for (size_t k = 0; k < n_fwd; k++)
					w->forwarded[fwd[k].slot] = true;
				w->relays_pending += (int)n_fwd;
			}
			if (rc != 0)
				for (size_t k = 0; k < n_fwd; k++)
					w_outcome(w, fwd[k].slot, rc,
					          "could not reach the forwarder");
			if (rc != 0)
				w_outcome(w, best, rc, "could not send");
			continue;
		}
		if (rc != 0)
			w_outcome(w, i, rc, "could not send");
	}
	if (self_i >= 0)
		w_apply_local(w, (size_t)self_i, m);
	if (!w->answered && cl_acks_done(&w->acks))
		w_answer(w, 0); /* ANY met by a hint alone */
	w_maybe_release(w);
}

struct sp_batch {
	size_t n, reported;
	bool answered;
	request_done_fn done;
	void *ctx;
};

static void batch_child_done(void *ctx, const struct cerr *out)
{
	struct sp_batch *b = ctx;
	b->reported++;
	if (!b->answered && (out->code != 0 || b->reported == b->n)) {
		b->answered = true;
		b->done(b->ctx, out);
	}
	if (b->reported == b->n)
		free(b);
}

void storage_proxy_write(struct storage_proxy *sp, struct ring *ring, const struct replication *rep,
                         uint16_t cl, struct store_mutation *const *muts, size_t n,
                         enum cerr_write_type wt, request_done_fn done, void *ctx)
{
	struct cerr out;
	sp_outcome_init(&out, cl);
	struct plan one, *plans = n <= 1 ? &one : malloc(n * sizeof(*plans));
	if (n == 0)
		goto answer;
	if (!plans) {
		cerr_set(&out, COL_ENOMEM, "out of memory planning a batch of %zu partitions", n);
		goto answer;
	}
	/* Every partition's replicas must suffice before anything is sent. */
	for (size_t i = 0; i < n; i++) {
		int64_t token;
		struct cerr e = {0};
		if (muts[i]->error) {
			cerr_set(&out, muts[i]->error, "%s", muts[i]->err.msg);
			goto answer;
		}
		if (store_mutation_token(muts[i], &token, &e) != 0) {
			cerr_set(&out, e.code, "%s", e.msg);
			goto answer;
		}
		if (sp_plan_make(sp, ring, rep, token, cl, true, &plans[i], &out) != 0)
			goto answer;
	}
	if (n == 1) {
		write_one(sp, ring, rep, cl, &plans[0], muts[0], wt, done, ctx);
		return;
	}
	struct sp_batch *b = calloc(1, sizeof(*b));
	if (!b) {
		cerr_set(&out, COL_ENOMEM, "out of memory starting a batch of %zu partitions", n);
		goto answer;
	}
	b->n = n;
	b->done = done;
	b->ctx = ctx;
	for (size_t i = 0; i < n; i++)
		write_one(sp, ring, rep, cl, &plans[i], muts[i], wt, batch_child_done, b);
	free(plans);
	return;
answer:
	out.rep.write = true;
	out.rep.write_type = (uint8_t)wt;
	if (plans != &one)
		free(plans);
	done(ctx, &out);
}
