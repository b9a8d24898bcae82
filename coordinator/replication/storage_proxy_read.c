/*
 * storage_proxy_read.c — replicated single-partition reads and the steps every
 * read goes through: contacts chosen by proximity, data from the closest and
 * digests from the rest, full data on a mismatch, then resolution
 * (storage_proxy_resolve.c) and read repair before rows are handed out
 * (storage_proxy_shortread.c, which continues a read cut by a replica's row
 * limit).
 */
#include "coordinator/replication/storage_proxy_int.h"

#include "core/clock.h"
#include "core/cqlproto.h"
#include "core/msgpk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sp_read_release_muts(struct sp_read *r)
{
	for (size_t i = 0; i < r->n_rmuts; i++)
		store_mutation_release(&r->rmuts[i].m);
	r->n_rmuts = 0;
}

/* The most replicas rep places on one token of ring (what a read's slots must hold). */
static size_t slots_needed(const struct ring *ring, const struct replication *rep)
{
	if (rep->cls == REPL_LOCAL)
		return 1;
	int rf = replication_total_rf(rep);
	size_t n = rf > 0 ? (size_t)rf : 1;
	size_t nodes = ring_node_count(ring);
	if (n > nodes)
		n = nodes;
	if (n > SP_MAX_REPLICAS)
		n = SP_MAX_REPLICAS;
	return n ? n : 1;
}

static void slots_init(struct rtarget *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		buf_init(&t[i].data);
		rres_init(&t[i].dec);
	}
}

static void slots_release(struct rtarget *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		buf_release(&t[i].data);
		rres_release(&t[i].dec);
	}
}

#define SLOT_BYTES (sizeof(struct rtarget) + 2 * sizeof(struct sp_target) + sizeof(uint32_t))

int sp_read_slots(struct sp_read *r, size_t need)
{
	if (need > SP_READ_INLINE && need > r->slots_block_cap) {
		void *b = calloc(need, SLOT_BYTES);
		if (!b)
			return COL_ENOMEM;
		if (r->slots_block)
			slots_release(r->slots_block, r->slots_block_cap);
		free(r->slots_block);
		r->sp->read_block_bytes += (need - r->slots_block_cap) * SLOT_BYTES;
		r->slots_block = b;
		r->slots_block_cap = need;
		slots_init(b, need);
	}
	if (need <= SP_READ_INLINE) {
		r->cap_tgt = SP_READ_INLINE;
		r->tgt = r->in_tgt;
		r->cbs = r->in_cbs;
		r->cbs2 = r->in_cbs2;
		r->spare = r->in_spare;
	} else {
		/* one block: the targets, both callback contexts, the spares */
		size_t cap = r->slots_block_cap;
		r->cap_tgt = cap;
		r->tgt = r->slots_block;
		r->cbs = (struct sp_target *)(r->tgt + cap);
		r->cbs2 = r->cbs + cap;
		r->spare = (uint32_t *)(r->cbs2 + cap);
	}
	for (size_t i = 0; i < r->cap_tgt; i++)
		r->tgt[i].abandoned = 0;
	return 0;
}

void sp_read_set_why(struct sp_read *r, size_t i, const char *msg)
{
	if (r->why_at != SIZE_MAX && r->why_at < i)
		return;
	r->why_at = i;
	sp_set_msg(r->why, sizeof(r->why), msg);
}

struct sp_read *sp_read_begin(struct storage_proxy *sp, const struct sp_read_args *a, bool is_scan)
{
	struct sp_read *r = sp_read_get(sp);
	if (!r) {
		sp_fail_now(a->done, a->ctx, a->cl, COL_EOVERLOADED,
		            "coordinator overloaded: too many requests");
		return NULL;
	}
	if (sp_read_slots(r, slots_needed(a->ring, a->rep)) != 0) {
		r->answered = true;
		sp_read_release(r);
		sp_fail_now(a->done, a->ctx, a->cl, COL_ENOMEM,
		            "out of memory allocating the read's replica slots");
		return NULL;
	}
	r->ring = ring_ref(a->ring);
	/* kept for the read's later steps (the caller's is borrowed for the call): only the
	 * datacenters it names are copied, not all RING_MAX_DCS */
	r->rep.cls = a->rep->cls;
	r->rep.rf = a->rep->rf;
	r->rep.n_dcs = a->rep->n_dcs < RING_MAX_DCS ? a->rep->n_dcs : RING_MAX_DCS;
	memcpy(r->rep.dcs, a->rep->dcs, r->rep.n_dcs * sizeof(r->rep.dcs[0]));
	r->cl = a->cl;
	r->is_scan = is_scan;
	r->table = a->table;
	memcpy(r->table_id, store_table_desc(a->table)->id, 16);
	r->flags = 0;
	r->limit = a->limit;
	r->now_s = a->now_s > 0 ? a->now_s : clock_wall_s();
	r->row_fn = a->row_fn;
	r->row_ctx = a->row_ctx;
	r->done = a->done;
	r->ctx = a->ctx;
	r->trace = sp_trace_take();
	return r;
}

static void buf_keep_small(struct buf *b)
{
	if (b->cap > SP_READ_BUF_KEEP) {
		buf_release(b);
		buf_init(b);
	}
}

static void rres_keep_small(struct rres *d)
{
	size_t bytes = d->cap_parts * sizeof(*d->parts) + d->cap_rows * sizeof(*d->rows) +
	               d->cap_cells * sizeof(*d->cells) + d->cap_vals * sizeof(*d->vals) +
	               d->cap_rts * sizeof(*d->rts);
	if (bytes > SP_READ_BUF_KEEP)
		rres_release(d); /* leaves it empty, as rres_init does */
}

/* Drop the buffers one large answer grew (the slots used, the merge, the copies). */
static void read_shrink(struct sp_read *r)
{
	for (size_t i = 0; i < r->hw_tgt; i++) {
		buf_keep_small(&r->tgt[i].data);
		rres_keep_small(&r->tgt[i].dec);
	}
	rres_keep_small(&r->merged);
	buf_keep_small(&r->keybuf);
	buf_keep_small(&r->ixbuf);
	buf_keep_small(&r->hzbuf);
	if (r->cap_outcells * sizeof(*r->outcells) > SP_READ_BUF_KEEP) {
		free(r->outcells);
		r->outcells = NULL;
		r->cap_outcells = 0;
	}
	if (r->cap_rmuts * sizeof(*r->rmuts) > SP_READ_BUF_KEEP) {
		free(r->rmuts);
		r->rmuts = NULL;
		r->cap_rmuts = 0;
	}
}

void sp_read_release(struct sp_read *r)
{
	struct storage_proxy *sp = r->sp;
	ev_timer_stop(sp->ev, &r->timer);
	ev_timer_stop(sp->ev, &r->spec_timer);
	if (r->ring)
		ring_unref(r->ring);
	r->ring = NULL;
	trace_unref(r->trace);
	r->trace = NULL;
	sp_read_release_muts(r);
	read_shrink(r);
	r->next_free = sp->free_reads;
	sp->free_reads = r;
	sp->idle_reads++;
	sp->stats.in_flight--;
}

void sp_read_maybe_release(struct sp_read *r)
{
	if (r->answered && r->pending_cbs == 0)
		sp_read_release(r);
}

void sp_read_answer(struct sp_read *r, int code, const char *msg)
{
	struct storage_proxy *sp = r->sp;
	struct cerr out;
	sp_outcome_init(&out, r->cl);
	out.code = code;
	if (code == COL_ETIMEDOUT || code == COL_EFAILED) {
		out.rep.required = r->block_for;
		out.rep.received = r->received;
		out.rep.data_present = r->data_present;
		for (size_t i = 0; i < r->n_tgt; i++)
			out.rep.failures += r->tgt[i].failed;
	}
	if (code == COL_ETIMEDOUT) {
		snprintf(out.msg, sizeof(out.msg),
		         "Operation timed out - received only %d responses (%d required) at %s",
		         r->received, r->block_for, cql_consistency_name(r->cl));
		sp->stats.read_timeouts++;
		for (size_t i = 0; r->trace && i < r->n_tgt; i++)
			if (!r->tgt[i].responded)
				trace_event(r->trace,
				            "Timed out waiting for /%s (read timeout %u ms)",
				            sp_node_name(r->ring, r->tgt[i].node),
				            r->is_scan ? sp->cfg.range_timeout_ms
				                       : sp->cfg.read_timeout_ms);
	} else if (code != 0) {
		sp_set_msg(out.msg, sizeof(out.msg), msg ? msg : col_strerror(code));
	}
	r->answered = true;
	ev_timer_stop(sp->ev, &r->timer);
	ev_timer_stop(sp->ev, &r->spec_timer);
	sp_done_traced(r->trace, r->done, r->ctx, &out);
}

static void r_timeout(struct ev_loop *l, ev_timer *tm, int revents)
{
	(void)l;
	(void)revents;
	struct sp_read *r = (struct sp_read *)((char *)tm - offsetof(struct sp_read, timer));
	if (!r->answered)
		sp_read_answer(r, COL_ETIMEDOUT, NULL);
	sp_read_maybe_release(r);
}

struct sp_read *sp_read_get(struct storage_proxy *sp)
{
	if (sp->stats.in_flight >= sp->cfg.max_requests)
		return NULL;
	struct sp_read *r = sp->free_reads;
	if (r) {
		sp->free_reads = r->next_free;
		sp->idle_reads--;
	} else {
		r = calloc(1, sizeof(*r));
		if (!r)
			return NULL;
		sp->n_reads++;
		r->sp = sp;
		buf_init(&r->keybuf);
		buf_init(&r->ixbuf);
		slots_init(r->in_tgt, SP_READ_INLINE);
		r->tgt = r->in_tgt;
		r->cbs = r->in_cbs;
		r->cbs2 = r->in_cbs2;
		r->spare = r->in_spare;
		r->cap_tgt = SP_READ_INLINE;
		rres_init(&r->merged);
		buf_init(&r->hzbuf);
		ev_init(&r->timer, r_timeout);
		ev_init(&r->spec_timer, sp_spec_fire);
		/* after the answers that arrived in the same iteration: an answer already
		 * read is not a replica to replace */
		ev_set_priority(&r->spec_timer, EV_MINPRI);
	}
	sp->stats.in_flight++;
	sp_peaks_note(&sp->read_peaks, sp->n_reads - sp->idle_reads);
	r->answered = r->stopped = false;
	r->hz_set = r->cont = false;
	r->has_ix = r->ix_off = false;
	r->step_limit = 0;
	r->pending_cbs = 0;
	r->emitted = 0;
	r->n_rmuts = 0;
	r->n_abandoned = 0;
	r->spec = (struct spec_retry){.kind = SPEC_NONE};
	r->n_tgt = r->hw_tgt = 0;
	r->why_at = SIZE_MAX;
	return r;
}

size_t sp_read_free(struct sp_read *r)
{
	size_t bytes = sizeof(*r) + r->slots_block_cap * SLOT_BYTES;
	r->sp->read_block_bytes -= r->slots_block_cap * SLOT_BYTES;
	r->sp->n_reads--;
	buf_release(&r->keybuf);
	buf_release(&r->ixbuf);
	slots_release(r->in_tgt, SP_READ_INLINE);
	if (r->slots_block)
		slots_release(r->slots_block, r->slots_block_cap);
	free(r->slots_block);
	rres_release(&r->merged);
	buf_release(&r->hzbuf);
	free(r->rmuts);
	free(r->outcells);
	free(r);
	return bytes;
}

size_t sp_read_trim(struct storage_proxy *sp, unsigned n)
{
	size_t bytes = 0;
	for (; n > 0 && sp->free_reads; n--) {
		struct sp_read *r = sp->free_reads;
		sp->free_reads = r->next_free;
		sp->idle_reads--;
		bytes += sp_read_free(r);
	}
	return bytes;
}

/* Sort live replicas by proximity: us, our DC, then latency score, then placement order. */
static void sort_by_proximity(struct storage_proxy *sp, uint32_t *nodes, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint32_t x = nodes[i];
		size_t j = i;
		while (j > 0) {
			uint32_t y = nodes[j - 1];
			int rx = (long)x == sp->t->self ? 0 : sp_node_local(sp, x) ? 1 : 2;
			int ry = (long)y == sp->t->self ? 0 : sp_node_local(sp, y) ? 1 : 2;
			double lx = sp->t->lat_us[x], ly = sp->t->lat_us[y];
			bool before = rx < ry || (rx == ry && lx > 0 && (ly == 0 || lx < ly));
			if (!before)
				break;
			nodes[j] = y;
			j--;
		}
		nodes[j] = x;
	}
}

/* Choose the replicas to contact for the level (closest first). */
static size_t choose_contacts(struct storage_proxy *sp, struct sp_read *r, const struct plan *p,
                              uint32_t *out)
{
	uint32_t live[SP_MAX_REPLICAS];
	memcpy(live, p->live, p->n_live * sizeof(uint32_t));
	sort_by_proximity(sp, live, p->n_live);
	size_t n = 0;
	if (cl_each_quorum_per_dc(r->cl, &r->rep)) {
		for (size_t d = 0; d < r->rep.n_dcs; d++) {
			int need = cl_dc_quorum(&r->rep, r->rep.dcs[d].dc);
			for (size_t i = 0; i < p->n_live && need > 0; i++)
				if (strcmp(ring_node_at(r->ring, live[i])->dc, r->rep.dcs[d].dc) ==
				    0) {
					out[n++] = live[i];
					need--;
				}
		}
		/* the closest one (ours if possible) gives the data */
		sort_by_proximity(sp, out, n);
		return n;
	}
	int block = cl_block_for(r->cl, &r->rep, sp->t->local_dc);
	bool local_only = cl_is_local(r->cl);
	uint32_t spare[SP_MAX_REPLICAS];
	size_t n_spare = 0;
	for (size_t i = 0; i < p->n_live; i++) {
		if (local_only && !sp_node_local(sp, live[i]))
			continue;
		if ((int)n < block)
			out[n++] = live[i];
		else
			spare[n_spare++] = live[i];
	}
	/* speculation takes the closest spare first: kept last */
	for (size_t i = 0; i < n_spare; i++)
		r->spare[i] = spare[n_spare - 1 - i];
	r->n_spare = n_spare;
	return n;
}

static void fill_verbs_read(struct sp_read *r, enum verbs_read_kind kind, struct verbs_read *vr)
{
	memset(vr, 0, sizeof(*vr));
	vr->kind = kind;
	memcpy(vr->table_id, r->table_id, 16);
	vr->now_s = r->now_s;
	vr->flags = r->flags;
	vr->limit = r->limit ? r->limit - r->emitted : 0;
	/* digests cover exactly what the data request returns: same limit */
	if (vr->limit == 0 || vr->limit > r->sp->cfg.replica_page_rows)
		vr->limit = r->sp->cfg.replica_page_rows;
	if (kind != VERBS_READ_DIGEST)
		r->step_limit = vr->limit;
	if (kind == VERBS_READ_RANGE) {
		vr->start = r->step_start;
		vr->end = r->step_end;
		vr->after = r->has_after ? &r->after : NULL;
		if (r->has_ix && !r->ix_off) {
			vr->kind = VERBS_READ_INDEX;
			vr->ix = r->ix;
			vr->ix_vals = r->ix_vals;
			vr->n_ix_vals = r->n_ix_vals;
		}
	} else {
		vr->pk = r->pk;
		vr->n_pk = r->n_pk;
		vr->slice = r->has_slice ? &r->slice : NULL;
	}
}

/* Ask target i for data or a digest (phase DIGEST/DATA); local targets are read inline. */
static void r_ask(struct sp_read *r, size_t i, enum verbs_read_kind kind)
{
	struct storage_proxy *sp = r->sp;
	struct rtarget *t = &r->tgt[i];
	struct verbs_read vr;
	fill_verbs_read(r, kind, &vr);
	t->responded = t->failed = false;
	if ((long)t->node == sp->t->self)
		return; /* done inline by r_local() after the remote requests left */
	struct msg_out o;
	/* the context a speculation did not leave in flight */
	t->cb = t->abandoned == 1 ? &r->cbs2[i] : &r->cbs[i];
	t->cb->req = r;
	t->cb->i = (uint32_t)i;
	t->sent_us = t->cb->sent_us = clock_mono_us();
	unsigned tmo = r->is_scan ? sp->cfg.range_timeout_ms : sp->cfg.read_timeout_ms;
	int rc = messaging_begin_request(sp->msg, &sp->t->addrs[t->node], VERB_READ, tmo,
	                                 sp_read_rsp, t->cb, &o);
	if (rc == 0) {
		vr.trace_session = r->trace ? trace_session_id(r->trace) : NULL;
		verbs_put_read(o.b, &vr);
		rc = messaging_commit(&o);
	}
	if (rc == 0) {
		r->pending_cbs++;
		trace_event(r->trace, "Sending READ message to /%s (%s)",
		            sp_node_name(r->ring, t->node),
		            kind == VERBS_READ_DIGEST ? "digest" : "data");
		return;
	}
	trace_event(r->trace, "Could not send READ to /%s: %s", sp_node_name(r->ring, t->node),
	            col_strerror(rc));
	t->responded = t->failed = true;
	char why[240];
	snprintf(why, sizeof(why), "could not send to replica %s: %s",
	         ring_node_at(r->ring, t->node)->address, col_strerror(rc));
	sp_read_set_why(r, i, why);
}

static void r_local(struct sp_read *r, size_t i, enum verbs_read_kind kind)
{
	struct rtarget *t = &r->tgt[i];
	struct verbs_read vr;
	fill_verbs_read(r, kind, &vr);
	buf_reset(&t->data);
	struct cerr e = {0};
	int rc = verbs_read_local(r->sp->store, &vr, &t->data, &e);
	t->responded = true;
	if (rc != 0) {
		t->failed = true;
		sp_read_set_why(r, i, e.msg);
		trace_event(r->trace, "Reading locally failed: %s", e.msg);
		return;
	}
	trace_event(r->trace, "Read %zu bytes of %s locally (this node is a replica)", t->data.len,
	            kind == VERBS_READ_DIGEST ? "digest input" : "data");
	r->received++;
	if (kind == VERBS_READ_DIGEST) {
		t->has_digest = true;
		t->digest = verbs_digest(t->data.data, t->data.len);
	} else {
		t->has_data = true;
		r->data_present = true;
	}
}

void sp_read_ask(struct sp_read *r, size_t i, enum verbs_read_kind kind)
{
	r_ask(r, i, kind);
	if ((long)r->tgt[i].node == r->sp->t->self)
		r_local(r, i, kind);
}

/* Start a read phase: target 0 data and the others `others` (digest or data). */
static void r_send_phase(struct sp_read *r, enum rphase ph, bool only_missing)
{
	enum verbs_read_kind data = r->is_scan ? VERBS_READ_RANGE : VERBS_READ_DATA;
	r->phase = ph;
	r->received = 0;
	long local_i = -1;
	for (size_t i = 0; i < r->n_tgt; i++) {
		struct rtarget *t = &r->tgt[i];
		if (only_missing && t->has_data) {
			r->received++;
			continue;
		}
		enum verbs_read_kind k = (ph == PH_DIGEST && i > 0) ? VERBS_READ_DIGEST : data;
		if (k != VERBS_READ_DIGEST)
			t->has_data = false;
		t->has_digest = false;
		r_ask(r, i, k);
		if ((long)t->node == r->sp->t->self)
			local_i = (long)i;
	}
	if (local_i >= 0)
		r_local(r, (size_t)local_i,
		        (ph == PH_DIGEST && local_i > 0) ? VERBS_READ_DIGEST : data);
	sp_spec_arm(r);
	sp_read_progress(r);
}

void sp_read_rsp(void *ctx, int status, const struct msg_in *rsp)
{
	struct sp_target *c = ctx;
	struct sp_read *r = c->req;
	struct rtarget *t = &r->tgt[c->i];
	r->pending_cbs--;
	if (t->abandoned && c != t->cb) {
		/* the slow replica a speculation replaced: its answer is not wanted, but
		 * its latency is the table's tail, which the threshold must see */
		if (status == 0 && !r->is_scan)
			sp_lat_record(r->sp, r->table_id, clock_mono_us() - c->sent_us);
		trace_event(r->trace,
		            "Late answer from /%s ignored (a speculative retry replaced it)",
		            sp_node_name(r->ring, t->node));
		t->abandoned = 0;
		r->n_abandoned--;
		sp_read_maybe_release(r);
		return;
	}
	if (!r->answered && sp_topo_use(r->sp, r->ring) != 0)
		sp_read_answer(r, COL_ENOMEM, "out of memory building the ring cache");
	if (r->answered) {
		trace_event(r->trace, "%s from /%s after the answer",
		            status == 0 ? "READ_RSP message received" : "No answer",
		            sp_node_name(r->ring, t->node));
		sp_read_maybe_release(r);
		return;
	}
	if (r->phase == PH_REPAIR) {
		trace_event(r->trace, "Read repair of /%s %s", sp_node_name(r->ring, t->node),
		            status == 0 ? "acknowledged" : col_strerror(status));
		if (status != 0) {
			char why[160] = "";
			int code;
			if (rsp)
				messaging_failure_text(rsp, &code, why, sizeof(why));
			if (status != COL_ETIMEDOUT) {
				char msg[256];
				snprintf(msg, sizeof(msg), "read repair of replica %s failed: %s",
				         ring_node_at(r->ring, t->node)->address,
				         why[0] ? why : col_strerror(status));
				sp_read_answer(r, COL_EIO, msg);
			}
			/* a timeout answers through the request's own timer */
		} else {
			r->repair_pending--;
			sp_read_progress(r);
		}
		sp_read_maybe_release(r);
		return;
	}
	t->responded = true;
	char fwhy[240] = "";
	if (status == COL_ETIMEDOUT) {
		t->responded = false; /* named as the one that timed out */
		sp_read_answer(r, COL_ETIMEDOUT, NULL);
		t->responded = true;
		sp_read_maybe_release(r);
		return;
	}
	if (status != 0) {
		t->failed = true;
		char why[128] = "";
		int code;
		if (rsp)
			messaging_failure_text(rsp, &code, why, sizeof(why));
		snprintf(fwhy, sizeof(fwhy), "replica %s: %s",
		         ring_node_at(r->ring, t->node)->address,
		         why[0] ? why : col_strerror(status));
	} else {
		sp_note_latency(r->sp, r->ring, t->node, t->sent_us);
		if (!r->is_scan)
			sp_lat_record(r->sp, r->table_id, clock_mono_us() - t->sent_us);
		struct bufreader br;
		bufreader_init(&br, rsp->payload, rsp->payload_len);
		uint64_t kind, digest;
		if (msgpk_expect_array(&br, 2) || msgpk_read_uint_max(&br, 1, &kind)) {
			t->failed = true;
		} else if (kind == 1) {
			if (msgpk_read_uint(&br, &digest) || bufreader_left(&br)) {
				t->failed = true;
			} else {
				t->has_digest = true;
				t->digest = digest;
			}
		} else {
			buf_reset(&t->data);
			buf_put(&t->data, rsp->payload + br.pos, bufreader_left(&br));
			if (!buf_ok(&t->data)) {
				t->failed = true;
			} else {
				t->has_data = true;
				r->data_present = true;
			}
		}
		if (t->failed)
			snprintf(fwhy, sizeof(fwhy), "replica %s sent a malformed READ_RSP",
			         ring_node_at(r->ring, t->node)->address);
		else
			r->received++;
	}
	if (t->failed)
		sp_read_set_why(r, c->i, fwhy);
	if (r->trace && t->failed)
		trace_event(r->trace, "Failure from /%s: %s", sp_node_name(r->ring, t->node), fwhy);
	else if (r->trace)
		trace_event(r->trace, "READ_RSP message received from /%s (%s)",
		            sp_node_name(r->ring, t->node), t->has_digest ? "digest" : "data");
	sp_read_progress(r);
	sp_read_maybe_release(r);
}

void sp_read_progress(struct sp_read *r)
{
	if (r->answered)
		return;
	if (r->phase == PH_REPAIR) {
		if (r->repair_pending > 0)
			return;
		sp_read_emit(r, &r->merged);
		sp_read_step_done(r);
		return;
	}
	for (size_t i = 0; i < r->n_tgt; i++)
		if (!r->tgt[i].responded)
			return;
	for (size_t i = 0; i < r->n_tgt; i++)
		if (r->tgt[i].failed) {
			char msg[CERR_MSG_MAX + 200];
			snprintf(msg, sizeof(msg), "read failed at %s: %s",
			         cql_consistency_name(r->cl),
			         r->why_at == i ? r->why : "no reason recorded");
			sp_read_answer(r, COL_EFAILED, msg);
			return;
		}
	if (r->phase == PH_DIGEST) {
		uint64_t d = verbs_digest(r->tgt[0].data.data, r->tgt[0].data.len);
		bool match = true;
		for (size_t i = 1; i < r->n_tgt; i++)
			if (r->tgt[i].digest != d)
				match = false;
		if (match) {
			trace_event(r->trace, "Digests match: %zu replicas agree", r->n_tgt);
			/* every replica holds the same: the data is the answer, and its last
			 * row the horizon if it was cut by the limit */
			struct cerr e = {0};
			rres_reset(&r->tgt[0].dec);
			if (rres_decode(&r->tgt[0].dec, r->tgt[0].data.data, r->tgt[0].data.len,
			                &e)) {
				sp_read_answer(r, e.code, e.msg);
				return;
			}
			sp_read_horizon(r, 1);
			sp_read_emit(r, &r->tgt[0].dec);
			sp_read_step_done(r);
			return;
		}
		r->sp->stats.digest_mismatches++;
		trace_event(r->trace, "Digest mismatch: asking %zu replicas for full data",
		            r->n_tgt);
		r_send_phase(r, PH_DATA, true);
		return;
	}
	/* PH_DATA: every contacted replica's data is in */
	int rc = sp_resolve(r);
	if (rc != 0) {
		sp_read_answer(r, rc, "could not resolve the replicas' answers");
		return;
	}
	if (r->n_rmuts && r->has_ix && !r->ix_off) {
		/* Replicas answered from their indexes and disagree: one may hold a newer
		 * version of a row that no longer matches (its index does not list it), so
		 * the others' matching rows cannot be trusted.  The step is read again as a
		 * plain range read, which reconciles (and repairs) every row. */
		sp_read_release_muts(r);
		r->hz_set = false;
		r->ix_off = true;
		r->ix_fallbacks++;
		r->sp->stats.index_fallbacks++;
		r_send_phase(r, PH_DATA, false);
		return;
	}
	if (r->n_rmuts) {
		trace_event(r->trace, "Read repair: %zu mutations for stale replicas, blocking",
		            r->n_rmuts);
		sp_read_repair_send(r);
		return;
	}
	sp_read_emit(r, &r->merged);
	sp_read_step_done(r);
}

void sp_copy_values(struct buf *b, struct store_value *dst, const struct store_value *src, size_t n,
                    size_t *offs)
{
	for (size_t i = 0; i < n; i++) {
		offs[i] = b->len;
		buf_put(b, src[i].p, src[i].len);
		dst[i].len = src[i].len;
	}
}

void sp_fix_values(struct buf *b, struct store_value *dst, size_t n, const size_t *offs)
{
	for (size_t i = 0; i < n; i++)
		dst[i].p = b->data + offs[i];
}

void sp_read_step_done(struct sp_read *r)
{
	if (r->answered)
		return;
	if (r->stopped || (r->limit && r->emitted >= r->limit)) {
		sp_read_answer(r, 0, NULL);
		return;
	}
	if (r->hz_set) {
		if (sp_read_continue(r) != 0)
			sp_read_answer(r, COL_ENOMEM, "out of memory continuing a short read");
		return;
	}
	if (!r->is_scan) {
		sp_read_answer(r, 0, NULL);
		return;
	}
	r->has_after = false;
	r->cont = false;
	r->ix_off = false;
	sp_range_next_step(r);
}

/* Start a step: contacts for `token`, then the first phase. */
void sp_read_start_step(struct sp_read *r, int64_t token)
{
	struct plan p;
	struct cerr out;
	if (sp_plan_make(r->sp, r->ring, &r->rep, token, r->cl, false, &p, &out) != 0) {
		/* the ring and liveness can change between steps of a range read */
		r->answered = true;
		ev_timer_stop(r->sp->ev, &r->timer);
		sp_done_traced(r->trace, r->done, r->ctx, &out);
		return;
	}
	if (p.n > r->cap_tgt) {
		/* not expected: the slots hold every replica the read's replication places */
		char msg[160];
		snprintf(msg, sizeof(msg),
		         "token %lld has %zu replicas, more than the read's %zu slots",
		         (long long)token, p.n, r->cap_tgt);
		sp_read_answer(r, COL_EIO, msg);
		return;
	}
	uint32_t contacts[SP_MAX_REPLICAS];
	r->n_spare = 0;
	r->speculated = false;
	ev_timer_stop(r->sp->ev, &r->spec_timer);
	r->n_tgt = choose_contacts(r->sp, r, &p, contacts);
	r->block_for = cl_block_for(r->cl, &r->rep, r->sp->t->local_dc);
	r->received = 0;
	r->data_present = false;
	for (size_t i = 0; i < r->n_tgt; i++) {
		r->tgt[i].node = contacts[i];
		r->tgt[i].has_data = r->tgt[i].has_digest = false;
	}
	r->why_at = SIZE_MAX;
	if (r->n_tgt > r->hw_tgt)
		r->hw_tgt = r->n_tgt;
	r->hz_set = false;
	if (r->trace) {
		char names[256] = "";
		size_t at = 0;
		for (size_t i = 0; i < r->n_tgt && at + 1 < sizeof(names); i++)
			at += (size_t)snprintf(names + at, sizeof(names) - at, "%s/%s",
			                       i ? ", " : "",
			                       sp_node_name(r->ring, r->tgt[i].node));
		trace_event(r->trace, "Contacting %zu of %zu live replicas at %s: %s", r->n_tgt,
		            p.n_live, cql_consistency_name(r->cl), names);
	}
	/* one deadline per request (per ring range for range reads); continuing a
	 * short read stays within it */
	if (!r->cont || !ev_is_active(&r->timer)) {
		unsigned tmo =
		        r->is_scan ? r->sp->cfg.range_timeout_ms : r->sp->cfg.read_timeout_ms;
		ev_timer_stop(r->sp->ev, &r->timer);
		ev_timer_set(&r->timer, tmo / 1000.0, 0.);
		ev_timer_start(r->sp->ev, &r->timer);
	}
	/* range reads ask every contact for data (as Cassandra does); single reads use digests */
	r_send_phase(r, r->is_scan || r->n_tgt == 1 ? PH_DATA : PH_DIGEST, false);
}

/* ---- partition reads ----------------------------------------------------------------------------
 */

void sp_fail_now(request_done_fn done, void *ctx, uint16_t cl, int code, const char *msg)
{
	struct cerr out;
	sp_outcome_init(&out, cl);
	cerr_set(&out, code, "%s", msg);
	done(ctx, &out);
}

void storage_proxy_read_partition(struct storage_proxy *sp, struct ring *ring,
                                  const struct replication *rep, uint16_t cl,
                                  const struct partition_read *rd, store_row_fn row_fn,
                                  void *row_ctx, request_done_fn done, void *ctx)
{
	struct cerr e = {0};
	int64_t token;
	if (store_partition_token(rd->table, rd->pk, rd->n_pk, &token, &e) != 0) {
		sp_fail_now(done, ctx, cl, e.code, e.msg);
		return;
	}
	struct plan p;
	struct cerr out;
	if (sp_plan_make(sp, ring, rep, token, cl, false, &p, &out) != 0) {
		done(ctx, &out);
		return;
	}
	sp->stats.reads++;
	int block = cl_block_for(cl, rep, sp->t->local_dc);
	/* a lone local replica: straight from the store, no encoding */
	if (block == 1 && sp->t->self >= 0 && !cl_each_quorum_per_dc(cl, rep)) {
		bool self_replica = false;
		for (size_t i = 0; i < p.n_live; i++)
			if ((long)p.live[i] == sp->t->self)
				self_replica = true;
		if (self_replica) {
			trace_event(
			        trace_current(),
			        "Reading locally: this node is a replica and one answer is enough "
			        "at %s",
			        cql_consistency_name(cl));
			sp_outcome_init(&out, cl);
			int rc = store_read_partition(rd->table, rd->pk, rd->n_pk, rd->slice,
			                              rd->flags & STORE_READ_REVERSE, rd->limit,
			                              rd->now_s, row_fn, row_ctx, &e);
			if (rc < 0)
				cerr_set(&out, rc, "%s", e.msg);
			done(ctx, &out);
			return;
		}
	}
	struct sp_read_args a = {ring,      rep,    cl,      rd->table, rd->limit,
	                         rd->now_s, row_fn, row_ctx, done,      ctx};
	struct sp_read *r = sp_read_begin(sp, &a, false);
	if (!r)
		return;
	r->flags = rd->flags & STORE_READ_REVERSE;
	r->spec = rd->spec;
	r->token = token;
	buf_reset(&r->keybuf);
	size_t o_pk[STORE_MAX_PK_COLS], o_s[STORE_MAX_CK_COLS], o_e[STORE_MAX_CK_COLS];
	r->n_pk = rd->n_pk;
	sp_copy_values(&r->keybuf, r->pk, rd->pk, rd->n_pk, o_pk);
	r->has_slice = rd->slice != NULL;
	if (rd->slice) {
		r->slice = *rd->slice;
		sp_copy_values(&r->keybuf, r->sstart, rd->slice->start, rd->slice->n_start, o_s);
		sp_copy_values(&r->keybuf, r->send, rd->slice->end, rd->slice->n_end, o_e);
	}
	if (!buf_ok(&r->keybuf)) {
		r->answered = true;
		sp_read_release(r);
		sp_fail_now(done, ctx, cl, COL_ENOMEM, "out of memory copying the read");
		return;
	}
	sp_fix_values(&r->keybuf, r->pk, r->n_pk, o_pk);
	if (rd->slice) {
		sp_fix_values(&r->keybuf, r->sstart, rd->slice->n_start, o_s);
		sp_fix_values(&r->keybuf, r->send, rd->slice->n_end, o_e);
		r->slice.start = r->sstart;
		r->slice.end = r->send;
	}
	sp_read_start_step(r, token);
	sp_read_maybe_release(r);
}
