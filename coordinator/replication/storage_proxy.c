/*
 * storage_proxy.c — the coordinator side of replicated reads and writes:
 * life, the topology cache (ring snapshot, addresses, latency scores) and the
 * replica plan of a token with its Unavailable check.  The contract is in
 * storage_proxy.h; the paths are in storage_proxy_write.c, _read.c,
 * _shortread.c, _resolve.c and _range.c, their shared state in
 * storage_proxy_int.h.
 */
#include "coordinator/replication/storage_proxy_int.h"

#include "core/clock.h"
#include "core/cqlproto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

void sp_set_msg(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = 0;
}

void sp_topo_release(struct topo *t)
{
	if (t->ring)
		ring_unref(t->ring);
	free(t->addrs);
	free(t->addr_ok);
	free(t->lat_us);
	memset(t, 0, sizeof(*t));
}

static int default_addr(struct storage_proxy *sp, const struct ring *r, size_t idx,
                        struct net_addr *out)
{
	return net_addr_parse(ring_node_at(r, idx)->address, sp->cfg.storage_port, out, NULL);
}

/*
 * Make sp->t describe `ring`.  Called on entry to every request step and
 * callback (topology indexes are only meaningful with their ring).  Two
 * snapshots are cached; a third evicts the one not in use.
 */
int sp_topo_use(struct storage_proxy *sp, struct ring *ring)
{
	for (int i = 0; i < 2; i++)
		if (sp->tcache[i].ring == ring) {
			sp->t = &sp->tcache[i];
			return 0;
		}
	struct topo *old = sp->t; /* latency scores carry over from the newest we had */
	struct topo *t = sp->t == &sp->tcache[0] ? &sp->tcache[1] : &sp->tcache[0];
	struct topo nt = {0};
	nt.n = ring_node_count(ring);
	nt.addrs = calloc(nt.n ? nt.n : 1, sizeof(*nt.addrs));
	nt.addr_ok = calloc(nt.n ? nt.n : 1, sizeof(*nt.addr_ok));
	nt.lat_us = calloc(nt.n ? nt.n : 1, sizeof(*nt.lat_us));
	if (!nt.addrs || !nt.addr_ok || !nt.lat_us) {
		sp_topo_release(&nt);
		return COL_ENOMEM;
	}
	nt.ring = ring_ref(ring);
	nt.self = ring_find_host(ring, messaging_host_id(sp->msg)->b);
	snprintf(nt.local_dc, sizeof(nt.local_dc), "%s",
	         nt.self >= 0 ? ring_node_at(ring, (size_t)nt.self)->dc : sp->default_dc);
	for (size_t i = 0; i < nt.n; i++) {
		int rc = sp->cfg.addr_of ? sp->cfg.addr_of(sp->cfg.addr_ctx, ring, i, &nt.addrs[i])
		                         : default_addr(sp, ring, i, &nt.addrs[i]);
		nt.addr_ok[i] = rc == 0;
		for (size_t k = 0; old && old->ring && k < old->n; k++)
			if (old->addr_ok[k] && nt.addr_ok[i] &&
			    net_addr_equal(&old->addrs[k], &nt.addrs[i]))
				nt.lat_us[i] = old->lat_us[k];
	}
	sp_topo_release(t);
	*t = nt;
	sp->t = t;
	return 0;
}

bool sp_node_alive(struct storage_proxy *sp, size_t idx)
{
	if ((long)idx == sp->t->self)
		return true;
	if (!sp->t->addr_ok[idx])
		return false;
	return sp->cfg.is_alive ? sp->cfg.is_alive(sp->cfg.alive_ctx, sp->t->ring, idx) : true;
}

bool sp_node_local(struct storage_proxy *sp, size_t idx)
{
	return strcmp(ring_node_at(sp->t->ring, idx)->dc, sp->t->local_dc) == 0;
}

void sp_note_latency(struct storage_proxy *sp, const struct ring *ring, size_t idx, int64_t sent_us)
{
	if (!sp->t || sp->t->ring != ring || idx >= sp->t->n)
		return;
	double d = (double)(clock_mono_us() - sent_us);
	double *l = &sp->t->lat_us[idx];
	/* alpha 0.2: follows a replica slowing down within ~10 answers, ignores one outlier */
	*l = *l == 0 ? d : *l * 0.8 + d * 0.2;
}

void sp_outcome_init(struct cerr *o, uint16_t cl)
{
	cerr_clear(o);
	o->rep.cl = cl;
}

int sp_plan_make(struct storage_proxy *sp, struct ring *ring, const struct replication *rep,
                 int64_t token, uint16_t cl, bool write, struct plan *p, struct cerr *err)
{
	sp_outcome_init(err, cl);
	if (cl_validate(cl, write, err) != 0)
		return err->code;
	if (sp_topo_use(sp, ring) != 0)
		return cerr_set(err, COL_ENOMEM, "out of memory building the ring cache");
	if (rep->cls == REPL_LOCAL) {
		/* LocalStrategy (system keyspaces): this node is the one replica of everything */
		p->n = 0;
		if (sp->t->self >= 0)
			p->node[p->n++] = (uint32_t)sp->t->self;
	} else {
		p->n = ring_replicas(ring, rep, token, p->node, SP_MAX_REPLICAS);
	}
	p->n_live = 0;
	struct cl_live live;
	cl_live_init(&live);
	for (size_t i = 0; i < p->n; i++) {
		if (!sp_node_alive(sp, p->node[i]))
			continue;
		p->live[p->n_live++] = p->node[i];
		cl_live_add(&live, ring_node_at(ring, p->node[i])->dc,
		            sp_node_local(sp, p->node[i]));
	}
	struct cl_unavailable u;
	if (write && cl == CL_ANY && sp->cfg.hint)
		return 0; /* Cassandra: a hint always satisfies ANY */
	if (cl_assure_live(cl, rep, sp->t->local_dc, &live, &u) != 0) {
		err->rep.required = u.required;
		err->rep.received = u.alive;
		sp->stats.unavailables++;
		if (u.dc[0])
			return cerr_set(err, COL_EUNAVAILABLE,
			                "Cannot achieve consistency level %s in DC %s",
			                cql_consistency_name(cl), u.dc);
		return cerr_set(err, COL_EUNAVAILABLE, "Cannot achieve consistency level %s",
		                cql_consistency_name(cl));
	}
	return 0;
}

int storage_proxy_check(struct storage_proxy *sp, struct ring *ring, const struct replication *rep,
                        int64_t token, uint16_t cl, bool write, struct cerr *err)
{
	struct plan p;
	return sp_plan_make(sp, ring, rep, token, cl, write, &p, err);
}

/* The token of a mutation: its partition key components are in its bytes. */

/* ---- pooled states ------------------------------------------------------------------------------
 */

/* Close a period: the most in use over the last SP_TRIM_WINDOWS periods. */
static unsigned peaks_roll(struct sp_peaks *p, unsigned in_use)
{
	p->past[p->at] = p->now > in_use ? p->now : in_use;
	p->at = (p->at + 1) % SP_TRIM_WINDOWS;
	p->now = in_use;
	unsigned m = 0;
	for (size_t i = 0; i < SP_TRIM_WINDOWS; i++)
		if (p->past[i] > m)
			m = p->past[i];
	return m;
}

/* Idle states beyond what recent use may ask for again (at most SP_TRIM_MAX). */
static unsigned idle_excess(unsigned recent, unsigned in_use, unsigned idle)
{
	unsigned keep = recent > in_use ? recent - in_use : 0;
	if (keep < SP_IDLE_MIN)
		keep = SP_IDLE_MIN;
	unsigned x = idle > keep ? idle - keep : 0;
	return x < SP_TRIM_MAX ? x : SP_TRIM_MAX;
}

/*
 * The trim timer.  A timer rather than trimming on release: once a burst is over no
 * request comes to release anything, and the pools must still shrink.
 */
static void trim_tick(struct ev_loop *l, ev_timer *tm, int revents)
{
	(void)l;
	(void)revents;
	struct storage_proxy *sp = tm->data;
	unsigned r_use = sp->n_reads - sp->idle_reads, w_use = sp->n_writes - sp->idle_writes;
	unsigned r_recent = peaks_roll(&sp->read_peaks, r_use);
	unsigned w_recent = peaks_roll(&sp->write_peaks, w_use);
	size_t freed = sp_read_trim(sp, idle_excess(r_recent, r_use, sp->idle_reads));
	freed += sp_write_trim(sp, idle_excess(w_recent, w_use, sp->idle_writes));
#ifdef __GLIBC__
	/* free() keeps pages inside the heap; a burst's worth goes back to the system */
	if (freed >= SP_TRIM_RETURN_BYTES)
		malloc_trim(0);
#endif
}

/* ---- life ---------------------------------------------------------------------------------------
 */

int storage_proxy_new(const struct storage_proxy_config *cfg, struct storage_proxy **out,
                      struct cerr *err)
{
	if (!cfg->msg || !cfg->store)
		return cerr_set(err, COL_EINVAL, "storage proxy: messaging and store are required");
	struct storage_proxy *sp = calloc(1, sizeof(*sp));
	if (!sp)
		return cerr_set(err, COL_ENOMEM, "storage proxy: out of memory");
	sp->msg = cfg->msg;
	sp->store = cfg->store;
	sp->ev = messaging_ev(cfg->msg);
	sp->cfg = *cfg;
	if (!sp->cfg.write_timeout_ms)
		sp->cfg.write_timeout_ms = 2000;
	if (!sp->cfg.read_timeout_ms)
		sp->cfg.read_timeout_ms = 5000;
	if (!sp->cfg.range_timeout_ms)
		sp->cfg.range_timeout_ms = 10000;
	if (!sp->cfg.truncate_timeout_ms)
		sp->cfg.truncate_timeout_ms = 60000;
	if (!sp->cfg.storage_port)
		sp->cfg.storage_port = 7000;
	if (!sp->cfg.max_requests)
		sp->cfg.max_requests = 65536;
	if (!sp->cfg.replica_page_rows)
		sp->cfg.replica_page_rows = 10000;
	snprintf(sp->default_dc, sizeof(sp->default_dc), "%s",
	         cfg->local_dc ? cfg->local_dc : "datacenter1");
	sp->cfg.local_dc = sp->default_dc;
	messaging_register(sp->msg, VERB_MUTATION_RSP, sp_on_relay, sp);
	ev_timer_init(&sp->trim_timer, trim_tick, SP_TRIM_PERIOD_S, SP_TRIM_PERIOD_S);
	sp->trim_timer.data = sp;
	ev_timer_start(sp->ev, &sp->trim_timer);
	ev_unref(sp->ev); /* the timer alone does not keep the loop running */
	*out = sp;
	return 0;
}

void storage_proxy_free(struct storage_proxy *sp)
{
	if (!sp)
		return;
	ev_ref(sp->ev);
	ev_timer_stop(sp->ev, &sp->trim_timer);
	for (uint32_t i = 0; i < sp->n_wslots; i++) {
		if (!sp->wslots[i])
			continue;
		ev_timer_stop(sp->ev, &sp->wslots[i]->timer);
		if (sp->wslots[i]->ring)
			ring_unref(sp->wslots[i]->ring);
		cl_acks_release(&sp->wslots[i]->acks);
		sp_write_free(sp->wslots[i]);
	}
	free(sp->wslots);
	free(sp->free_slots);
	while (sp->free_reads) {
		struct sp_read *r = sp->free_reads;
		sp->free_reads = r->next_free;
		sp_read_free(r);
	}
	sp_topo_release(&sp->tcache[0]);
	sp_topo_release(&sp->tcache[1]);
	free(sp);
}

void storage_proxy_get_stats(const struct storage_proxy *sp, struct storage_proxy_stats *out)
{
	*out = sp->stats;
	out->read_states = sp->n_reads;
	out->read_states_idle = sp->idle_reads;
	out->write_states = sp->n_writes;
	out->write_states_idle = sp->idle_writes;
	out->state_bytes = (uint64_t)sp->n_reads * sizeof(struct sp_read) + sp->read_block_bytes +
	                   sp->write_block_bytes +
	                   (uint64_t)sp->n_writes * sizeof(struct sp_write) +
	                   (uint64_t)sp->cap_wslots *
	                           (sizeof(struct sp_write *) + sizeof(struct sp_free_slot));
	if (sp->cfg.bytes) {
		out->mutation_bytes = sp->cfg.bytes->used;
		out->mutation_bytes_max = sp->cfg.bytes->max;
		out->mutation_bytes_refused = sp->cfg.bytes->refused;
	}
}

const char *sp_node_name(const struct ring *ring, size_t idx)
{
	return ring_node_at(ring, idx)->address;
}

struct trace *sp_trace_take(void)
{
	struct trace *t = trace_current();
	if (t)
		trace_ref(t);
	return t;
}

void sp_done_traced(struct trace *t, request_done_fn done, void *ctx, const struct cerr *out)
{
	struct trace *prev = trace_swap_current(t);
	done(ctx, out);
	trace_swap_current(prev);
}
