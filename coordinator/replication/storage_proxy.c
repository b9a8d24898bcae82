/*
 * storage_proxy.c — coordinator side of replicated reads and writes.  The
 * contract is in storage_proxy.h, wire formats in verbs.h, the level
 * arithmetic in consistency.h.
 *
 * Request state (struct sp_write, struct sp_read) is pooled: a finished
 * request goes back on a free list once it has been answered AND every
 * messaging callback it is owed has arrived (messaging calls each request's
 * callback exactly once, at the latest at its timeout).  Writes carry a slot
 * number and a generation so relayed acks (one-way messages naming the write)
 * that arrive after the write was recycled are recognised and ignored.
 */
#include "coordinator/replication/storage_proxy.h"

#include "coordinator/replication/consistency.h"
#include "coordinator/replication/verbs.h"
#include "core/clock.h"
#include "core/cqlproto.h"
#include "core/cqltype.h"
#include "core/log.h"
#include "core/msgpk.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copy a message, cut to fit (what snprintf("%s") does, without -Wformat-truncation). */
static void set_msg(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* ---- topology: ring snapshot, addresses, our index, latency scores ----------------------------
 */

struct topo {
	struct ring *ring; /* referenced; NULL before the first request */
	size_t n;
	struct net_addr *addrs;
	bool *addr_ok;
	double *lat_us; /* exponentially weighted moving average of answer times, 0 = unknown */
	long self;
	char local_dc[RING_NAME_MAX];
};

struct sp_write;
struct sp_read;

struct storage_proxy {
	struct messaging *msg;
	struct store *store;
	struct ev_loop *ev;
	struct storage_proxy_config cfg;
	char default_dc[RING_NAME_MAX];
	/* the topology of the newest ring and of the one before it: requests still
	 * running on the previous ring during a swap do not rebuild the cache */
	struct topo tcache[2];
	struct topo *t; /* the one in use */
	/* writes by slot, for relayed acks */
	struct sp_write **wslots;
	uint32_t n_wslots, cap_wslots;
	struct sp_write *free_writes;
	struct sp_read *free_reads;
	struct storage_proxy_stats stats;
};

static void topo_release(struct topo *t)
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
static int topo_use(struct storage_proxy *sp, struct ring *ring)
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
		topo_release(&nt);
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
	topo_release(t);
	*t = nt;
	sp->t = t;
	return 0;
}

static bool node_alive(struct storage_proxy *sp, size_t idx)
{
	if ((long)idx == sp->t->self)
		return true;
	if (!sp->t->addr_ok[idx])
		return false;
	return sp->cfg.is_alive ? sp->cfg.is_alive(sp->cfg.alive_ctx, sp->t->ring, idx) : true;
}

static bool node_local(struct storage_proxy *sp, size_t idx)
{
	return strcmp(ring_node_at(sp->t->ring, idx)->dc, sp->t->local_dc) == 0;
}

static void note_latency(struct storage_proxy *sp, const struct ring *ring, size_t idx,
                         int64_t sent_us)
{
	if (!sp->t || sp->t->ring != ring || idx >= sp->t->n)
		return;
	double d = (double)(clock_mono_us() - sent_us);
	double *l = &sp->t->lat_us[idx];
	/* alpha 0.2: follows a replica slowing down within ~10 answers, ignores one outlier */
	*l = *l == 0 ? d : *l * 0.8 + d * 0.2;
}

/* Live replicas of `token`, Unavailable check included. */
struct plan {
	size_t n; /* all replicas */
	uint32_t node[SP_MAX_REPLICAS];
	size_t n_live;
	uint32_t live[SP_MAX_REPLICAS];
};

static void result_init(struct proxy_result *res, uint16_t cl)
{
	memset(res, 0, sizeof(*res));
	res->cl = cl;
}

static int plan_make(struct storage_proxy *sp, struct ring *ring, const struct replication *rep,
                     int64_t token, uint16_t cl, bool write, struct plan *p,
                     struct proxy_result *res)
{
	struct cerr e = {0};
	result_init(res, cl);
	if (cl_validate(cl, write, &e) != 0) {
		res->code = e.code;
		set_msg(res->msg, sizeof(res->msg), e.msg);
		return res->code;
	}
	if (topo_use(sp, ring) != 0) {
		res->code = COL_ENOMEM;
		snprintf(res->msg, sizeof(res->msg), "out of memory building the ring cache");
		return res->code;
	}
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
		if (!node_alive(sp, p->node[i]))
			continue;
		p->live[p->n_live++] = p->node[i];
		cl_live_add(&live, ring_node_at(ring, p->node[i])->dc, node_local(sp, p->node[i]));
	}
	struct cl_unavailable u;
	if (write && cl == CL_ANY && sp->cfg.hint)
		return 0; /* Cassandra: a hint always satisfies ANY */
	if (cl_assure_live(cl, rep, sp->t->local_dc, &live, &u) != 0) {
		res->code = COL_EUNAVAILABLE;
		res->required = u.required;
		res->alive = u.alive;
		if (u.dc[0])
			snprintf(res->msg, sizeof(res->msg),
			         "Cannot achieve consistency level %s in DC %s",
			         cql_consistency_name(cl), u.dc);
		else
			snprintf(res->msg, sizeof(res->msg), "Cannot achieve consistency level %s",
			         cql_consistency_name(cl));
		sp->stats.unavailables++;
		return res->code;
	}
	return 0;
}

int storage_proxy_check(struct storage_proxy *sp, struct ring *ring, const struct replication *rep,
                        int64_t token, uint16_t cl, bool write, struct proxy_result *res)
{
	struct plan p;
	return plan_make(sp, ring, rep, token, cl, write, &p, res);
}

/* The token of a mutation: its partition key components are in its bytes. */
static int mutation_token(const struct store_mutation *m, int64_t *token, struct cerr *err)
{
	size_t len;
	const uint8_t *b = store_mutation_bytes(m, &len);
	struct bufreader r;
	bufreader_init(&r, b, len);
	uint64_t ver;
	const uint8_t *id;
	uint32_t id_len, n;
	int64_t now;
	if (msgpk_read_array(&r, &n) || n != 5 || msgpk_read_uint(&r, &ver) ||
	    msgpk_read_bin(&r, &id, &id_len) || msgpk_read_int(&r, &now) ||
	    msgpk_read_array(&r, &n) || n > STORE_MAX_PK_COLS)
		return cerr_set(err, COL_EINVAL, "mutation bytes are malformed");
	struct store_value pk[STORE_MAX_PK_COLS];
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *p;
		uint32_t l;
		if (msgpk_read_bin(&r, &p, &l))
			return cerr_set(err, COL_EINVAL, "mutation bytes are malformed");
		pk[i].p = p;
		pk[i].len = l;
	}
	return store_partition_token(m->table, pk, n, token, err);
}

/* ---- writes ------------------------------------------------------------------------------------
 */

enum { T_NONE = 0, T_PENDING = 1, T_ACKED = 2, T_FAILED = 3 };

struct sp_target {
	void *req; /* the sp_write or sp_read */
	uint32_t i;
};

struct sp_write {
	struct storage_proxy *sp;
	uint32_t slot, gen;
	struct sp_write *next_free;
	struct ring *ring;
	uint16_t cl;
	enum proxy_write_type wt;
	struct cl_acks acks;
	size_t n;
	uint32_t node[SP_MAX_REPLICAS];
	uint8_t state[SP_MAX_REPLICAS];
	int64_t sent_us;
	struct sp_target tgt[SP_MAX_REPLICAS];
	int pending_cbs;
	int relays_pending;              /* forwarded peers whose outcome has not come back */
	bool forwarded[SP_MAX_REPLICAS]; /* slot reached through a forwarder */
	bool answered, live, expired;
	ev_timer timer;
	struct buf mut; /* the mutation's bytes, kept for hints (only with a hint sink) */
	proxy_done_fn done;
	void *ctx;
	char why[200]; /* first replica failure */
};

static void w_release(struct sp_write *w)
{
	struct storage_proxy *sp = w->sp;
	ev_timer_stop(sp->ev, &w->timer);
	if (w->ring)
		ring_unref(w->ring);
	w->ring = NULL;
	w->gen++;
	w->live = false;
	w->next_free = sp->free_writes;
	sp->free_writes = w;
	sp->stats.in_flight--;
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
	if (sp->cfg.hint(sp->cfg.hint_ctx, w->ring, w->node[i], w->mut.data, w->mut.len) == 0)
		sp->stats.hints++;
}

static void w_answer(struct sp_write *w, int code)
{
	struct storage_proxy *sp = w->sp;
	struct proxy_result res;
	result_init(&res, w->cl);
	res.write_type = w->wt;
	res.code = code;
	if (code == COL_ETIMEDOUT) {
		res.required = w->acks.block_for;
		res.alive = w->acks.received;
		snprintf(res.msg, sizeof(res.msg),
		         "Operation timed out - received only %d responses (%d required) at %s",
		         res.alive, res.required, cql_consistency_name(w->cl));
		sp->stats.write_timeouts++;
	} else if (code != 0) {
		res.required = w->acks.block_for;
		res.alive = w->acks.received;
		snprintf(res.msg, sizeof(res.msg), "write failed at %s: %s",
		         cql_consistency_name(w->cl), w->why);
		sp->stats.write_failures++;
	} else {
		sp->stats.writes++;
	}
	w->answered = true;
	if (w->relays_pending == 0)
		ev_timer_stop(sp->ev, &w->timer); /* else it still bounds the wait for relays */
	w->done(w->ctx, &res);
}

/* Could the level still be met if every pending replica acked? */
static bool w_can_succeed(struct sp_write *w)
{
	struct cl_acks a = w->acks;
	for (size_t i = 0; i < w->n; i++)
		if (w->state[i] == T_PENDING) {
			uint32_t nd = w->node[i];
			cl_acks_add(&a, ring_node_at(w->ring, nd)->dc, node_local(w->sp, nd));
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
	if (status == COL_ETIMEDOUT || status == COL_EFULL || status == COL_ECLOSED)
		w_hint(w, i); /* never reached it, or no word back in time */
	if (status == 0) {
		w->state[i] = T_ACKED;
		cl_acks_add(&w->acks, ring_node_at(w->ring, nd)->dc, node_local(w->sp, nd));
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
		w_answer(w, COL_EIO);
}

static void w_rsp(void *ctx, int status, const struct msg_in *rsp)
{
	struct sp_target *t = ctx;
	struct sp_write *w = t->req;
	w->pending_cbs--;
	if (topo_use(w->sp, w->ring) != 0) {
		if (!w->answered) {
			set_msg(w->why, sizeof(w->why), "out of memory building the ring cache");
			w_answer(w, COL_ENOMEM);
		}
		w_maybe_release(w);
		return;
	}
	char why[160] = "";
	if (status == 0)
		note_latency(w->sp, w->ring, w->node[t->i], w->sent_us);
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
	if (topo_use(w->sp, w->ring) == 0)
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
	} else {
		if (sp->n_wslots == sp->cap_wslots) {
			uint32_t c = sp->cap_wslots ? sp->cap_wslots * 2 : 64;
			struct sp_write **s = realloc(sp->wslots, c * sizeof(*s));
			if (!s)
				return NULL;
			sp->wslots = s;
			sp->cap_wslots = c;
		}
		w = calloc(1, sizeof(*w));
		if (!w)
			return NULL;
		w->sp = sp;
		w->slot = sp->n_wslots;
		sp->wslots[sp->n_wslots++] = w;
		ev_init(&w->timer, w_timeout);
		buf_init(&w->mut);
	}
	sp->stats.in_flight++;
	w->live = true;
	w->answered = w->expired = false;
	w->pending_cbs = 0;
	w->relays_pending = 0;
	memset(w->forwarded, 0, sizeof(w->forwarded));
	buf_reset(&w->mut);
	w->why[0] = 0;
	return w;
}

static uint64_t w_id(const struct sp_write *w)
{
	return ((uint64_t)w->gen << 32) | w->slot;
}

/* Relayed acks from a remote DC's forwarder. */
static int on_relay(struct messaging *m, const struct msg_in *msg, void *ctx)
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
	if (!w->live || w->gen != (uint32_t)(id >> 32) || slot >= w->n)
		return 0; /* late: the write is over */
	sp->stats.relayed_acks++;
	if (topo_use(sp, w->ring) != 0)
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
		verbs_put_mutation(o.b, mut, len, w_id(w), fwd, n_fwd);
		rc = messaging_commit(&o);
	}
	if (rc == 0)
		w->pending_cbs++;
	return rc;
}

/* Send one mutation (its plan already checked); the handler answers through done. */
static void write_one(struct storage_proxy *sp, struct ring *ring, const struct replication *rep,
                      uint16_t cl, const struct plan *p, struct store_mutation *m,
                      enum proxy_write_type wt, proxy_done_fn done, void *ctx)
{
	struct sp_write *w = w_get(sp);
	if (!w) {
		struct proxy_result res;
		result_init(&res, cl);
		res.code = COL_EFULL;
		res.write_type = wt;
		snprintf(res.msg, sizeof(res.msg), "coordinator overloaded: %u requests in flight",
		         sp->stats.in_flight);
		done(ctx, &res);
		return;
	}
	w->ring = ring_ref(ring);
	w->cl = cl;
	w->wt = wt;
	w->done = done;
	w->ctx = ctx;
	cl_acks_init(&w->acks, cl, rep, sp->t->local_dc);
	w->n = p->n_live;
	memcpy(w->node, p->live, p->n_live * sizeof(uint32_t));
	memset(w->state, T_NONE, sizeof(w->state));
	w->sent_us = clock_mono_us();
	ev_timer_set(&w->timer, sp->cfg.write_timeout_ms / 1000.0, 0.);
	ev_timer_start(sp->ev, &w->timer);

	size_t len;
	const uint8_t *bytes = store_mutation_bytes(m, &len);
	long self_i = -1;
	if (sp->cfg.hint) {
		buf_put(&w->mut, bytes, len);
		if (!buf_ok(&w->mut))
			buf_reset(&w->mut); /* no memory to keep it: no hints for this write */
		/* replicas known down get their hint now; one stored hint satisfies ANY */
		for (size_t i = 0; i < p->n; i++) {
			bool live = false;
			for (size_t k = 0; k < p->n_live; k++)
				live |= p->live[k] == p->node[i];
			if (live || !w->mut.len)
				continue;
			if (sp->cfg.hint(sp->cfg.hint_ctx, ring, p->node[i], w->mut.data,
			                 w->mut.len) != 0)
				continue;
			sp->stats.hints++;
			if (cl == CL_ANY && w->acks.received == 0)
				w->acks.received = 1;
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
		if (node_local(sp, nd)) {
			rc = w_send(w, i, bytes, len, NULL, 0);
		} else {
			if (done_dc[i])
				continue;
			const char *dc = ring_node_at(ring, nd)->dc;
			size_t best = i;
			for (size_t k = i + 1; k < w->n; k++) {
				if (strcmp(ring_node_at(ring, w->node[k])->dc, dc) != 0)
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
	if (self_i >= 0) {
		struct cerr e = {0};
		int rc = store_apply(sp->store, m, &e);
		if (rc == 0)
			sp->stats.local_applies++;
		w_outcome(w, (size_t)self_i, rc, rc ? e.msg : NULL);
	}
	if (!w->answered && cl_acks_done(&w->acks))
		w_answer(w, 0); /* ANY met by a hint alone */
	w_maybe_release(w);
}

struct sp_batch {
	size_t n, reported;
	bool answered;
	proxy_done_fn done;
	void *ctx;
};

static void batch_child_done(void *ctx, const struct proxy_result *res)
{
	struct sp_batch *b = ctx;
	b->reported++;
	if (!b->answered && (res->code != 0 || b->reported == b->n)) {
		b->answered = true;
		b->done(b->ctx, res);
	}
	if (b->reported == b->n)
		free(b);
}

void storage_proxy_write(struct storage_proxy *sp, struct ring *ring, const struct replication *rep,
                         uint16_t cl, struct store_mutation *const *muts, size_t n,
                         enum proxy_write_type wt, proxy_done_fn done, void *ctx)
{
	struct proxy_result res;
	result_init(&res, cl);
	res.write_type = wt;
	if (n == 0) {
		done(ctx, &res);
		return;
	}
	struct plan one, *plans = n == 1 ? &one : malloc(n * sizeof(*plans));
	if (!plans) {
		res.code = COL_ENOMEM;
		snprintf(res.msg, sizeof(res.msg), "out of memory planning a batch");
		done(ctx, &res);
		return;
	}
	/* Every partition's replicas must suffice before anything is sent. */
	for (size_t i = 0; i < n; i++) {
		int64_t token;
		struct cerr e = {0};
		if (muts[i]->error) {
			res.code = muts[i]->error;
			set_msg(res.msg, sizeof(res.msg), muts[i]->err.msg);
			goto fail;
		}
		if (mutation_token(muts[i], &token, &e) != 0) {
			res.code = e.code;
			set_msg(res.msg, sizeof(res.msg), e.msg);
			goto fail;
		}
		if (plan_make(sp, ring, rep, token, cl, true, &plans[i], &res) != 0)
			goto fail;
	}
	if (n == 1) {
		write_one(sp, ring, rep, cl, &plans[0], muts[0], wt, done, ctx);
		return;
	}
	struct sp_batch *b = calloc(1, sizeof(*b));
	if (!b) {
		res.code = COL_ENOMEM;
		snprintf(res.msg, sizeof(res.msg), "out of memory starting a batch");
		goto fail;
	}
	b->n = n;
	b->done = done;
	b->ctx = ctx;
	for (size_t i = 0; i < n; i++)
		write_one(sp, ring, rep, cl, &plans[i], muts[i], wt, batch_child_done, b);
	free(plans);
	return;
fail:
	res.write_type = wt;
	if (plans != &one)
		free(plans);
	done(ctx, &res);
}

/* ---- reads -------------------------------------------------------------------------------------
 */

enum rphase { PH_DIGEST = 1, PH_DATA = 2, PH_REPAIR = 3 };

struct rtarget {
	uint32_t node;
	bool responded, failed, has_data, has_digest;
	uint64_t digest;
	int64_t sent_us;
	struct buf data; /* encoded READ RESULT */
	struct rres dec;
	char why[240]; /* kept short: a pooled read holds SP_MAX_REPLICAS of these */
};

/* A repair mutation for one target. */
struct rmut {
	size_t t;
	int64_t now_s;
	size_t part; /* merged partition index it belongs to */
	struct store_mutation m;
};

struct sp_read {
	struct storage_proxy *sp;
	struct sp_read *next_free;
	struct ring *ring;
	struct replication rep;
	uint16_t cl;
	bool is_scan;
	struct store_table *table;
	uint8_t table_id[16];
	unsigned flags;
	size_t limit;
	int64_t now_s;
	/* partition reads: the key and slice (copied) */
	struct buf keybuf;
	struct store_value pk[STORE_MAX_PK_COLS];
	size_t n_pk;
	struct store_value sstart[STORE_MAX_CK_COLS], send[STORE_MAX_CK_COLS];
	struct store_slice slice;
	bool has_slice;
	int64_t token;
	/* scans */
	int64_t pieces[2][2];
	size_t n_pieces, piece;
	int64_t cursor, step_start, step_end;
	bool has_after;
	struct store_position after;
	struct store_value after_ck[STORE_MAX_CK_COLS];
	/* the current step */
	enum rphase phase;
	size_t n_tgt;
	struct rtarget tgt[SP_MAX_REPLICAS];
	struct sp_target cbs[SP_MAX_REPLICAS];
	int block_for;
	int received;
	bool data_present;
	int pending_cbs;
	int repair_pending;
	struct rmut *rmuts;
	size_t n_rmuts, cap_rmuts;
	struct rres merged;
	/* short-read protection: the earliest last row of a replica cut by the limit */
	bool hz_set;
	size_t hz_v, hz_part, hz_row; /* version, its partition and row indexes */
	uint64_t step_limit;          /* rows each replica was asked for (0: all) */
	bool cont;                    /* this step continues after a cut: skip the static row */
	int64_t cont_token;
	struct buf hzbuf; /* the continuation position's bytes */
	size_t cont_key_len;
	struct store_cell *outcells;
	size_t cap_outcells;
	size_t emitted;
	bool stopped, answered;
	ev_timer timer;
	store_row_fn row_fn;
	void *row_ctx;
	proxy_done_fn done;
	void *ctx;
};

static void r_release_muts(struct sp_read *r)
{
	for (size_t i = 0; i < r->n_rmuts; i++)
		store_mutation_release(&r->rmuts[i].m);
	r->n_rmuts = 0;
}

static void r_release(struct sp_read *r)
{
	struct storage_proxy *sp = r->sp;
	ev_timer_stop(sp->ev, &r->timer);
	if (r->ring)
		ring_unref(r->ring);
	r->ring = NULL;
	r_release_muts(r);
	r->next_free = sp->free_reads;
	sp->free_reads = r;
	sp->stats.in_flight--;
}

static void r_maybe_release(struct sp_read *r)
{
	if (r->answered && r->pending_cbs == 0)
		r_release(r);
}

static void r_answer(struct sp_read *r, int code, const char *msg)
{
	struct storage_proxy *sp = r->sp;
	struct proxy_result res;
	result_init(&res, r->cl);
	res.code = code;
	if (code == COL_ETIMEDOUT) {
		res.required = r->block_for;
		res.alive = r->received;
		res.data_present = r->data_present;
		snprintf(res.msg, sizeof(res.msg),
		         "Operation timed out - received only %d responses (%d required) at %s",
		         r->received, r->block_for, cql_consistency_name(r->cl));
		sp->stats.read_timeouts++;
	} else if (code != 0) {
		set_msg(res.msg, sizeof(res.msg), msg ? msg : col_strerror(code));
	}
	r->answered = true;
	ev_timer_stop(sp->ev, &r->timer);
	r->done(r->ctx, &res);
}

static void r_timeout(struct ev_loop *l, ev_timer *tm, int revents)
{
	(void)l;
	(void)revents;
	struct sp_read *r = (struct sp_read *)((char *)tm - offsetof(struct sp_read, timer));
	if (!r->answered)
		r_answer(r, COL_ETIMEDOUT, NULL);
	r_maybe_release(r);
}

static struct sp_read *r_get(struct storage_proxy *sp)
{
	if (sp->stats.in_flight >= sp->cfg.max_requests)
		return NULL;
	struct sp_read *r = sp->free_reads;
	if (r) {
		sp->free_reads = r->next_free;
	} else {
		r = calloc(1, sizeof(*r));
		if (!r)
			return NULL;
		r->sp = sp;
		buf_init(&r->keybuf);
		for (size_t i = 0; i < SP_MAX_REPLICAS; i++) {
			buf_init(&r->tgt[i].data);
			rres_init(&r->tgt[i].dec);
		}
		rres_init(&r->merged);
		buf_init(&r->hzbuf);
		ev_init(&r->timer, r_timeout);
	}
	sp->stats.in_flight++;
	r->answered = r->stopped = false;
	r->hz_set = r->cont = false;
	r->step_limit = 0;
	r->pending_cbs = 0;
	r->emitted = 0;
	r->n_rmuts = 0;
	return r;
}

static void r_free_pooled(struct sp_read *r)
{
	buf_release(&r->keybuf);
	for (size_t i = 0; i < SP_MAX_REPLICAS; i++) {
		buf_release(&r->tgt[i].data);
		rres_release(&r->tgt[i].dec);
	}
	rres_release(&r->merged);
	buf_release(&r->hzbuf);
	free(r->rmuts);
	free(r->outcells);
	free(r);
}

/* Sort live replicas by proximity: us, our DC, then latency score, then placement order. */
static void sort_by_proximity(struct storage_proxy *sp, uint32_t *nodes, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint32_t x = nodes[i];
		size_t j = i;
		while (j > 0) {
			uint32_t y = nodes[j - 1];
			int rx = (long)x == sp->t->self ? 0 : node_local(sp, x) ? 1 : 2;
			int ry = (long)y == sp->t->self ? 0 : node_local(sp, y) ? 1 : 2;
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
static size_t choose_contacts(struct storage_proxy *sp, const struct sp_read *r,
                              const struct plan *p, uint32_t *out)
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
	for (size_t i = 0; i < p->n_live && (int)n < block; i++)
		if (!local_only || node_local(sp, live[i]))
			out[n++] = live[i];
	return n;
}

static void r_rsp(void *ctx, int status, const struct msg_in *rsp);
static void r_progress(struct sp_read *r);

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
	r->cbs[i].req = r;
	r->cbs[i].i = (uint32_t)i;
	t->sent_us = clock_mono_us();
	unsigned tmo = r->is_scan ? sp->cfg.range_timeout_ms : sp->cfg.read_timeout_ms;
	int rc = messaging_begin_request(sp->msg, &sp->t->addrs[t->node], VERB_READ, tmo, r_rsp,
	                                 &r->cbs[i], &o);
	if (rc == 0) {
		verbs_put_read(o.b, &vr);
		rc = messaging_commit(&o);
	}
	if (rc == 0) {
		r->pending_cbs++;
		return;
	}
	t->responded = t->failed = true;
	snprintf(t->why, sizeof(t->why), "could not send to replica %s: %s",
	         ring_node_at(r->ring, t->node)->address, col_strerror(rc));
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
		set_msg(t->why, sizeof(t->why), e.msg);
		return;
	}
	r->received++;
	if (kind == VERBS_READ_DIGEST) {
		t->has_digest = true;
		t->digest = verbs_digest(t->data.data, t->data.len);
	} else {
		t->has_data = true;
		r->data_present = true;
	}
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
	r_progress(r);
}

static void r_rsp(void *ctx, int status, const struct msg_in *rsp)
{
	struct sp_target *c = ctx;
	struct sp_read *r = c->req;
	struct rtarget *t = &r->tgt[c->i];
	r->pending_cbs--;
	if (!r->answered && topo_use(r->sp, r->ring) != 0)
		r_answer(r, COL_ENOMEM, "out of memory building the ring cache");
	if (r->answered) {
		r_maybe_release(r);
		return;
	}
	if (r->phase == PH_REPAIR) {
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
				r_answer(r, COL_EIO, msg);
			}
			/* a timeout answers through the request's own timer */
		} else {
			r->repair_pending--;
			r_progress(r);
		}
		r_maybe_release(r);
		return;
	}
	t->responded = true;
	if (status == COL_ETIMEDOUT) {
		r_answer(r, COL_ETIMEDOUT, NULL);
		r_maybe_release(r);
		return;
	}
	if (status != 0) {
		t->failed = true;
		char why[128] = "";
		int code;
		if (rsp)
			messaging_failure_text(rsp, &code, why, sizeof(why));
		snprintf(t->why, sizeof(t->why), "replica %s: %s",
		         ring_node_at(r->ring, t->node)->address,
		         why[0] ? why : col_strerror(status));
	} else {
		note_latency(r->sp, r->ring, t->node, t->sent_us);
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
			snprintf(t->why, sizeof(t->why), "replica %s sent a malformed READ_RSP",
			         ring_node_at(r->ring, t->node)->address);
		else
			r->received++;
	}
	r_progress(r);
	r_maybe_release(r);
}

/* ---- resolution: merge versions cell by cell, compute repairs ----------------------------------
 */

static const struct cqltype *path_type(const struct store_table_desc *d, uint32_t col)
{
	for (size_t i = 0; i < d->n_cols; i++) {
		if (d->cols[i].id != col)
			continue;
		const struct cqltype *t = d->cols[i].type;
		if (t->kind == CQLTYPE_LIST)
			return cqltype_simple(CQLTYPE_TIMEUUID);
		if (t->kind == CQLTYPE_SET || t->kind == CQLTYPE_MAP)
			return t->elem;
		return NULL;
	}
	return NULL;
}

static int bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	if (c)
		return c;
	return al < bl ? -1 : al > bl ? 1 : 0;
}

static int part_cmp(const struct rres_part *a, const struct rres_part *b)
{
	if (a->token != b->token)
		return a->token < b->token ? -1 : 1;
	return bytes_cmp(a->key, a->key_len, b->key, b->key_len);
}

static int row_cmp(const struct sp_read *r, const struct rres *ra, const struct rres_row *a,
                   const struct rres *rb, const struct rres_row *b)
{
	if (a->is_static || b->is_static)
		return (int)b->is_static - (int)a->is_static;
	const struct store_table_desc *d = store_table_desc(r->table);
	size_t n = a->n_ck < b->n_ck ? a->n_ck : b->n_ck;
	for (size_t i = 0; i < n && i < d->n_ck; i++) {
		const struct store_value *x = &ra->vals[a->ck_at + i], *y = &rb->vals[b->ck_at + i];
		int c = cqltype_compare(d->ck_types[i], x->p, x->len, y->p, y->len);
		if (d->ck_desc && d->ck_desc[i])
			c = -c;
		if (c)
			return (r->flags & STORE_READ_REVERSE) ? -c : c;
	}
	return 0;
}

static int cell_key_cmp(const struct sp_read *r, const struct rres_cell *a,
                        const struct rres_cell *b)
{
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	if (!a->path || !b->path)
		return (a->path != NULL) - (b->path != NULL);
	const struct cqltype *pt = path_type(store_table_desc(r->table), a->col);
	if (pt)
		return cqltype_compare(pt, a->path, a->path_len, b->path, b->path_len);
	return bytes_cmp(a->path, a->path_len, b->path, b->path_len);
}

/* The storage merge's order (storage.h RECONCILE): > 0 when a wins over b. */
static int cell_reconcile(const struct rres_cell *a, const struct rres_cell *b)
{
	if (a->ts != b->ts)
		return a->ts > b->ts ? 1 : -1;
	int ra = a->tombstone ? 2 : a->ttl ? 1 : 0, rb = b->tombstone ? 2 : b->ttl ? 1 : 0;
	if (ra != rb)
		return ra > rb ? 1 : -1;
	if (a->exp != b->exp)
		return a->exp > b->exp ? 1 : -1;
	return bytes_cmp(a->value ? a->value : (const uint8_t *)"", a->value_len,
	                 b->value ? b->value : (const uint8_t *)"", b->value_len);
}

static bool cell_same(const struct rres_cell *a, const struct rres_cell *b)
{
	return a->ts == b->ts && a->tombstone == b->tombstone && a->ttl == b->ttl &&
	       a->exp == b->exp && a->value_len == b->value_len &&
	       (a->value_len == 0 || memcmp(a->value, b->value, a->value_len) == 0);
}

/* The repair mutation of target t for the current merged partition and now_s. */
static struct store_mutation *rmut_for(struct sp_read *r, size_t t, size_t part, int64_t now_s,
                                       const struct rres_part *mp)
{
	for (size_t i = r->n_rmuts; i-- > 0;) {
		struct rmut *x = &r->rmuts[i];
		if (x->part != part)
			break;
		if (x->t == t && x->now_s == now_s)
			return &x->m;
	}
	if (r->n_rmuts == r->cap_rmuts) {
		size_t c = r->cap_rmuts ? r->cap_rmuts * 2 : 8;
		struct rmut *p = realloc(r->rmuts, c * sizeof(*p));
		if (!p)
			return NULL;
		r->rmuts = p;
		r->cap_rmuts = c;
	}
	struct rmut *x = &r->rmuts[r->n_rmuts];
	struct cerr e = {0};
	if (store_mutation_init(&x->m, r->table, &r->merged.vals[mp->pk_at], mp->n_pk,
	                        now_s > 0 ? now_s : r->now_s, &e) != 0)
		return NULL;
	x->t = t;
	x->now_s = now_s;
	x->part = part;
	r->n_rmuts++;
	return &x->m;
}

/*
 * Short-read protection.  A replica that returned as many rows as it was asked
 * for may hold more, and may hold deletions for rows another replica
 * returned after its last one.  Merged rows are complete only up to the
 * earliest "last row" among such cut replicas (the horizon): rows after it
 * are not handed out, and the read continues after the horizon.
 */
static void r_horizon(struct sp_read *r, size_t n_versions)
{
	r->hz_set = false;
	if (!r->step_limit)
		return;
	for (size_t v = 0; v < n_versions; v++) {
		const struct rres *d = &r->tgt[v].dec;
		uint64_t rows = 0;
		size_t lp = 0, lr = 0;
		for (size_t p = 0; p < d->n_parts; p++)
			for (size_t i = 0; i < d->parts[p].n_rows; i++)
				if (!d->rows[d->parts[p].row_at + i].is_static) {
					rows++;
					lp = p;
					lr = d->parts[p].row_at + i;
				}
		if (rows < r->step_limit)
			continue;
		if (r->hz_set) {
			const struct rres *h = &r->tgt[r->hz_v].dec;
			int c = part_cmp(&d->parts[lp], &h->parts[r->hz_part]);
			if (c > 0 ||
			    (c == 0 && row_cmp(r, d, &d->rows[lr], h, &h->rows[r->hz_row]) >= 0))
				continue;
		}
		r->hz_set = true;
		r->hz_v = v;
		r->hz_part = lp;
		r->hz_row = lr;
	}
}

/* Is merged row `row` of partition `mp` after the horizon? */
static bool after_horizon(const struct sp_read *r, const struct rres *m, const struct rres_part *mp,
                          const struct rres_row *row)
{
	if (!r->hz_set)
		return false;
	const struct rres *h = &r->tgt[r->hz_v].dec;
	int c = part_cmp(mp, &h->parts[r->hz_part]);
	if (c != 0)
		return c > 0;
	if (row->is_static)
		return false;
	return row_cmp(r, m, row, h, &h->rows[r->hz_row]) > 0;
}

static int r_merge(struct sp_read *r)
{
	size_t k = r->n_tgt;
	struct rres *m = &r->merged;
	rres_reset(m);
	r_release_muts(r);
	struct cerr e = {0};
	for (size_t v = 0; v < k; v++) {
		rres_reset(&r->tgt[v].dec);
		if (rres_decode(&r->tgt[v].dec, r->tgt[v].data.data, r->tgt[v].data.len, &e) != 0)
			return e.code;
	}
	r_horizon(r, r->n_tgt);
	size_t pi[SP_MAX_REPLICAS] = {0};
	for (;;) {
		/* smallest partition among the versions */
		const struct rres_part *best = NULL;
		size_t bv = 0;
		for (size_t v = 0; v < k; v++) {
			struct rres *d = &r->tgt[v].dec;
			if (pi[v] >= d->n_parts)
				continue;
			if (!best || part_cmp(&d->parts[pi[v]], best) < 0) {
				best = &d->parts[pi[v]];
				bv = v;
			}
		}
		if (!best)
			break;
		const struct rres_part *vp[SP_MAX_REPLICAS];
		for (size_t v = 0; v < k; v++) {
			struct rres *d = &r->tgt[v].dec;
			vp[v] = (pi[v] < d->n_parts && part_cmp(&d->parts[pi[v]], best) == 0)
			                ? &d->parts[pi[v]]
			                : NULL;
		}
		(void)bv;
		struct rres_part *mp = rres_add_part(m);
		if (!mp)
			return COL_ENOMEM;
		size_t mpi = m->n_parts - 1;
		*mp = *best;
		mp->pk_at = m->n_vals;
		mp->row_at = m->n_rows;
		mp->n_rows = 0;
		mp->has_del = false;
		for (size_t i = 0; i < best->n_pk; i++) {
			struct store_value *sv = rres_add_val(m);
			if (!sv)
				return COL_ENOMEM;
			mp = &m->parts[mpi];
			*sv = r->tgt[bv].dec.vals[best->pk_at + i];
		}
		for (size_t v = 0; v < k; v++) {
			if (vp[v] && vp[v]->has_del &&
			    (!mp->has_del || vp[v]->del_ts > mp->del_ts ||
			     (vp[v]->del_ts == mp->del_ts && vp[v]->del_ldt > mp->del_ldt))) {
				mp->has_del = true;
				mp->del_ts = vp[v]->del_ts;
				mp->del_ldt = vp[v]->del_ldt;
			}
		}
		for (size_t v = 0; v < k; v++) {
			if (!mp->has_del)
				break;
			if (vp[v] && vp[v]->has_del && vp[v]->del_ts == mp->del_ts)
				continue;
			struct store_mutation *rm = rmut_for(r, v, mpi, mp->del_ldt, mp);
			if (!rm)
				return COL_ENOMEM;
			mp = &m->parts[mpi];
			store_mutation_delete_partition(rm, mp->del_ts);
		}
		int64_t pdel = mp->has_del ? mp->del_ts : INT64_MIN;
		/* rows */
		size_t ri[SP_MAX_REPLICAS] = {0};
		for (;;) {
			const struct rres_row *brow = NULL;
			size_t brv = 0;
			for (size_t v = 0; v < k; v++) {
				if (!vp[v] || ri[v] >= vp[v]->n_rows)
					continue;
				const struct rres *d = &r->tgt[v].dec;
				const struct rres_row *row = &d->rows[vp[v]->row_at + ri[v]];
				if (!brow || row_cmp(r, d, row, &r->tgt[brv].dec, brow) < 0) {
					brow = row;
					brv = v;
				}
			}
			if (!brow)
				break;
			const struct rres_row *vr[SP_MAX_REPLICAS];
			for (size_t v = 0; v < k; v++) {
				vr[v] = NULL;
				if (!vp[v] || ri[v] >= vp[v]->n_rows)
					continue;
				const struct rres *d = &r->tgt[v].dec;
				const struct rres_row *row = &d->rows[vp[v]->row_at + ri[v]];
				if (row_cmp(r, d, row, &r->tgt[brv].dec, brow) == 0) {
					vr[v] = row;
					ri[v]++;
				}
			}
			struct rres_row *mr = rres_add_row(m);
			if (!mr)
				return COL_ENOMEM;
			size_t mri = m->n_rows - 1;
			m->parts[mpi].n_rows++;
			mr->is_static = brow->is_static;
			mr->n_ck = brow->n_ck;
			mr->ck_at = m->n_vals;
			for (size_t i = 0; i < brow->n_ck; i++) {
				struct store_value *sv = rres_add_val(m);
				if (!sv)
					return COL_ENOMEM;
				*sv = r->tgt[brv].dec.vals[brow->ck_at + i];
			}
			mr = &m->rows[mri];
			/* row deletion, marker */
			for (size_t v = 0; v < k; v++) {
				const struct rres_row *x = vr[v];
				if (!x)
					continue;
				if (x->has_del &&
				    (!mr->has_del || x->del_ts > mr->del_ts ||
				     (x->del_ts == mr->del_ts && x->del_ldt > mr->del_ldt))) {
					mr->has_del = true;
					mr->del_ts = x->del_ts;
					mr->del_ldt = x->del_ldt;
				}
				if (x->has_marker &&
				    (!mr->has_marker || x->marker_ts > mr->marker_ts ||
				     (x->marker_ts == mr->marker_ts &&
				      x->marker_exp > mr->marker_exp))) {
					mr->has_marker = true;
					mr->marker_ts = x->marker_ts;
					mr->marker_ttl = x->marker_ttl;
					mr->marker_exp = x->marker_exp;
				}
			}
			int64_t del = pdel;
			if (mr->has_del && mr->del_ts > del)
				del = mr->del_ts;
			if (mr->has_marker && mr->marker_ts <= del)
				mr->has_marker = false;
			const struct store_value *ck = mr->is_static ? NULL : &m->vals[mr->ck_at];
			size_t n_ck = mr->is_static ? 0 : mr->n_ck;
			for (size_t v = 0; v < k; v++) {
				const struct rres_row *x = vr[v];
				if (mr->has_del && mr->del_ts > pdel &&
				    !(x && x->has_del && x->del_ts == mr->del_ts)) {
					struct store_mutation *rm =
					        rmut_for(r, v, mpi, mr->del_ldt, &m->parts[mpi]);
					if (!rm)
						return COL_ENOMEM;
					store_mutation_delete_row(rm, ck, n_ck, mr->del_ts);
				}
				if (mr->has_marker && !mr->is_static &&
				    !(x && x->has_marker && x->marker_ts == mr->marker_ts &&
				      x->marker_exp == mr->marker_exp)) {
					int64_t ns = mr->marker_ttl
					                     ? mr->marker_exp - mr->marker_ttl
					                     : 0;
					struct store_mutation *rm =
					        rmut_for(r, v, mpi, ns, &m->parts[mpi]);
					if (!rm)
						return COL_ENOMEM;
					store_mutation_row_marker(rm, ck, n_ck, mr->marker_ts,
					                          mr->marker_ttl);
				}
			}
			/* cells */
			mr->cell_at = m->n_cells;
			mr->n_cells = 0;
			size_t ci[SP_MAX_REPLICAS] = {0};
			uint32_t coldel_col = UINT32_MAX;
			int64_t coldel_ts = INT64_MIN;
			for (;;) {
				const struct rres_cell *bc = NULL;
				for (size_t v = 0; v < k; v++) {
					if (!vr[v] || ci[v] >= vr[v]->n_cells)
						continue;
					const struct rres_cell *c =
					        &r->tgt[v].dec.cells[vr[v]->cell_at + ci[v]];
					if (!bc || cell_key_cmp(r, c, bc) < 0)
						bc = c;
				}
				if (!bc)
					break;
				const struct rres_cell *vc[SP_MAX_REPLICAS];
				const struct rres_cell *win = NULL;
				for (size_t v = 0; v < k; v++) {
					vc[v] = NULL;
					if (!vr[v] || ci[v] >= vr[v]->n_cells)
						continue;
					const struct rres_cell *c =
					        &r->tgt[v].dec.cells[vr[v]->cell_at + ci[v]];
					if (cell_key_cmp(r, c, bc) != 0)
						continue;
					vc[v] = c;
					ci[v]++;
					if (!win || cell_reconcile(c, win) > 0)
						win = c;
				}
				if (win->ts <= del)
					continue;
				if (!win->path && win->tombstone) {
					coldel_col = win->col;
					coldel_ts = win->ts;
				} else if (win->path && win->col == coldel_col &&
				           win->ts <= coldel_ts) {
					continue;
				}
				struct rres_cell *mc = rres_add_cell(m);
				if (!mc)
					return COL_ENOMEM;
				*mc = *win;
				m->rows[mri].n_cells++;
				for (size_t v = 0; v < k; v++) {
					if (vc[v] && cell_same(vc[v], win))
						continue;
					struct store_value path = {win->path, win->path_len};
					const struct store_value *pp = win->path ? &path : NULL;
					int64_t ns = win->tombstone ? win->exp
					             : win->ttl     ? win->exp - win->ttl
					                            : 0;
					struct store_mutation *rm =
					        rmut_for(r, v, mpi, ns, &m->parts[mpi]);
					if (!rm)
						return COL_ENOMEM;
					if (win->tombstone)
						store_mutation_delete_cell(rm, ck, n_ck, win->col,
						                           pp, win->ts);
					else
						store_mutation_set_cell(rm, ck, n_ck, win->col, pp,
						                        win->value, win->value_len,
						                        win->ts, win->ttl);
				}
			}
		}
		for (size_t v = 0; v < k; v++)
			if (vp[v])
				pi[v]++;
	}
	return 0;
}

/* Hand the merged result's live rows to the caller; stops at the limit or when told to. */
static void r_emit(struct sp_read *r, const struct rres *m)
{
	for (size_t p = 0; p < m->n_parts && !r->stopped; p++) {
		const struct rres_part *mp = &m->parts[p];
		struct store_partition part = {
		        .token = mp->token,
		        .pk = &m->vals[mp->pk_at],
		        .n_pk = mp->n_pk,
		        .key = mp->key,
		        .key_len = mp->key_len,
		        .deletion = {INT64_MIN, 0},
		};
		for (size_t i = 0; i < mp->n_rows && !r->stopped; i++) {
			const struct rres_row *row = &m->rows[mp->row_at + i];
			if (after_horizon(r, m, mp, row))
				return; /* the continuation hands these out */
			if (row->is_static && r->cont && mp->token == r->cont_token &&
			    mp->key_len == r->cont_key_len &&
			    memcmp(mp->key, r->hzbuf.data, mp->key_len) == 0)
				continue; /* handed out before the cut */
			if (r->limit && r->emitted >= r->limit && !row->is_static) {
				r->stopped = true;
				break;
			}
			if (r->cap_outcells < row->n_cells) {
				struct store_cell *c =
				        realloc(r->outcells, row->n_cells * sizeof(*c));
				if (!c) {
					r->stopped = true;
					break;
				}
				r->outcells = c;
				r->cap_outcells = row->n_cells;
			}
			size_t n = 0;
			for (size_t c = 0; c < row->n_cells; c++) {
				const struct rres_cell *x = &m->cells[row->cell_at + c];
				if (x->tombstone)
					continue;
				struct store_cell *o = &r->outcells[n++];
				memset(o, 0, sizeof(*o));
				o->col = x->col;
				o->path = x->path;
				o->path_len = x->path_len;
				o->value = x->value;
				o->value_len = x->value_len;
				o->ts = x->ts;
				o->ttl = x->ttl;
				o->expiry_s = x->exp;
			}
			if (!row->has_marker && n == 0)
				continue;
			struct store_row out = {
			        .ck = row->is_static ? NULL : &m->vals[row->ck_at],
			        .n_ck = row->is_static ? 0 : row->n_ck,
			        .is_static = row->is_static,
			        .has_marker = row->has_marker,
			        .marker_ts = row->marker_ts,
			        .marker_ttl = row->marker_ttl,
			        .marker_expiry_s = row->marker_exp,
			        .deletion = {INT64_MIN, 0},
			        .cells = r->outcells,
			        .n_cells = n,
			};
			if (!row->is_static)
				r->emitted++;
			if (r->row_fn(r->row_ctx, &part, &out) != 0)
				r->stopped = true;
		}
	}
}

static void r_step_done(struct sp_read *r);
static void r_next_step(struct sp_read *r);

/* Send the repair mutations; local ones are applied at once. */
static void r_send_repairs(struct sp_read *r)
{
	struct storage_proxy *sp = r->sp;
	r->phase = PH_REPAIR;
	r->repair_pending = 0;
	for (size_t i = 0; i < r->n_rmuts; i++) {
		if (!r->rmuts[i].m.error)
			continue;
		/* a value a replica sent does not fit its column: repair nothing */
		char msg[CERR_MSG_MAX + 64];
		snprintf(msg, sizeof(msg), "read repair could not be built: %.400s",
		         r->rmuts[i].m.err.msg);
		r_answer(r, COL_EIO, msg);
		return;
	}
	for (size_t i = 0; i < r->n_rmuts; i++) {
		struct rmut *x = &r->rmuts[i];
		struct rtarget *t = &r->tgt[x->t];
		sp->stats.read_repairs++;
		if ((long)t->node == sp->t->self) {
			struct cerr e = {0};
			if (store_apply(sp->store, &x->m, &e) != 0) {
				r_answer(r, COL_EIO, e.msg);
				return;
			}
			continue;
		}
		size_t len;
		const uint8_t *bytes = store_mutation_bytes(&x->m, &len);
		struct msg_out o;
		r->cbs[x->t].req = r;
		r->cbs[x->t].i = (uint32_t)x->t;
		int rc =
		        messaging_begin_request(sp->msg, &sp->t->addrs[t->node], VERB_MUTATION,
		                                sp->cfg.write_timeout_ms, r_rsp, &r->cbs[x->t], &o);
		if (rc == 0) {
			verbs_put_mutation(o.b, bytes, len, 0, NULL, 0);
			rc = messaging_commit(&o);
		}
		if (rc != 0) {
			char msg[200];
			snprintf(msg, sizeof(msg),
			         "read repair of replica %s could not be sent: %s",
			         ring_node_at(r->ring, t->node)->address, col_strerror(rc));
			r_answer(r, COL_EIO, msg);
			return;
		}
		r->pending_cbs++;
		r->repair_pending++;
	}
	r_progress(r);
}

static void r_progress(struct sp_read *r)
{
	if (r->answered)
		return;
	if (r->phase == PH_REPAIR) {
		if (r->repair_pending > 0)
			return;
		r_emit(r, &r->merged);
		r_step_done(r);
		return;
	}
	for (size_t i = 0; i < r->n_tgt; i++)
		if (!r->tgt[i].responded)
			return;
	for (size_t i = 0; i < r->n_tgt; i++)
		if (r->tgt[i].failed) {
			char msg[CERR_MSG_MAX + 200];
			snprintf(msg, sizeof(msg), "read failed at %s: %s",
			         cql_consistency_name(r->cl), r->tgt[i].why);
			r_answer(r, COL_EIO, msg);
			return;
		}
	if (r->phase == PH_DIGEST) {
		uint64_t d = verbs_digest(r->tgt[0].data.data, r->tgt[0].data.len);
		bool match = true;
		for (size_t i = 1; i < r->n_tgt; i++)
			if (r->tgt[i].digest != d)
				match = false;
		if (match) {
			/* every replica holds the same: the data is the answer, and its last
			 * row the horizon if it was cut by the limit */
			struct cerr e = {0};
			rres_reset(&r->tgt[0].dec);
			if (rres_decode(&r->tgt[0].dec, r->tgt[0].data.data, r->tgt[0].data.len,
			                &e)) {
				r_answer(r, e.code, e.msg);
				return;
			}
			r_horizon(r, 1);
			r_emit(r, &r->tgt[0].dec);
			r_step_done(r);
			return;
		}
		r->sp->stats.digest_mismatches++;
		r_send_phase(r, PH_DATA, true);
		return;
	}
	/* PH_DATA: every contacted replica's data is in */
	int rc = r_merge(r);
	if (rc != 0) {
		r_answer(r, rc, "could not resolve the replicas' answers");
		return;
	}
	if (r->n_rmuts) {
		r_send_repairs(r);
		return;
	}
	r_emit(r, &r->merged);
	r_step_done(r);
}

static void copy_values(struct buf *b, struct store_value *dst, const struct store_value *src,
                        size_t n, size_t *offs)
{
	for (size_t i = 0; i < n; i++) {
		offs[i] = b->len;
		buf_put(b, src[i].p, src[i].len);
		dst[i].len = src[i].len;
	}
}

static void fix_values(struct buf *b, struct store_value *dst, size_t n, const size_t *offs)
{
	for (size_t i = 0; i < n; i++)
		dst[i].p = b->data + offs[i];
}

static void r_start_step(struct sp_read *r, int64_t token);

/*
 * Continue the same step after the horizon: range reads resume after its
 * position; single-partition reads narrow their slice to start (or, reversed,
 * end) just past its clustering.
 */
static int r_continue(struct sp_read *r)
{
	const struct rres *h = &r->tgt[r->hz_v].dec;
	const struct rres_part *hp = &h->parts[r->hz_part];
	const struct rres_row *hr = &h->rows[r->hz_row];
	struct buf *b = &r->hzbuf;
	buf_reset(b);
	buf_put(b, hp->key, hp->key_len);
	size_t offs[STORE_MAX_CK_COLS];
	struct store_value *dst = r->is_scan                        ? r->after_ck
	                          : (r->flags & STORE_READ_REVERSE) ? r->send
	                                                            : r->sstart;
	copy_values(b, dst, &h->vals[hr->ck_at], hr->n_ck, offs);
	if (!buf_ok(b))
		return COL_ENOMEM;
	fix_values(b, dst, hr->n_ck, offs);
	r->cont = true;
	r->cont_token = hp->token;
	r->cont_key_len = hp->key_len;
	if (r->is_scan) {
		r->after.token = hp->token;
		r->after.key = b->data;
		r->after.key_len = hp->key_len;
		r->after.ck = r->after_ck;
		r->after.n_ck = hr->n_ck;
		r->has_after = true;
	} else {
		if (!r->has_slice) {
			memset(&r->slice, 0, sizeof(r->slice));
			r->has_slice = true;
		}
		if (r->flags & STORE_READ_REVERSE) {
			r->slice.end = r->send;
			r->slice.n_end = hr->n_ck;
			r->slice.end_incl = false;
		} else {
			r->slice.start = r->sstart;
			r->slice.n_start = hr->n_ck;
			r->slice.start_incl = false;
		}
	}
	r_start_step(r, r->is_scan ? r->step_end : r->token);
	return 0;
}

static void r_step_done(struct sp_read *r)
{
	if (r->answered)
		return;
	if (r->stopped || (r->limit && r->emitted >= r->limit)) {
		r_answer(r, 0, NULL);
		return;
	}
	if (r->hz_set) {
		if (r_continue(r) != 0)
			r_answer(r, COL_ENOMEM, "out of memory continuing a short read");
		return;
	}
	if (!r->is_scan) {
		r_answer(r, 0, NULL);
		return;
	}
	r->has_after = false;
	r->cont = false;
	r_next_step(r);
}

/* Start a step: contacts for `token`, then the first phase. */
static void r_start_step(struct sp_read *r, int64_t token)
{
	struct plan p;
	struct proxy_result res;
	if (plan_make(r->sp, r->ring, &r->rep, token, r->cl, false, &p, &res) != 0) {
		/* the ring and liveness can change between steps of a range read */
		r->answered = true;
		ev_timer_stop(r->sp->ev, &r->timer);
		r->done(r->ctx, &res);
		return;
	}
	uint32_t contacts[SP_MAX_REPLICAS];
	r->n_tgt = choose_contacts(r->sp, r, &p, contacts);
	r->block_for = cl_block_for(r->cl, &r->rep, r->sp->t->local_dc);
	r->received = 0;
	r->data_present = false;
	for (size_t i = 0; i < r->n_tgt; i++) {
		r->tgt[i].node = contacts[i];
		r->tgt[i].has_data = r->tgt[i].has_digest = false;
		r->tgt[i].why[0] = 0;
	}
	r->hz_set = false;
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

static void fail_now(proxy_done_fn done, void *ctx, uint16_t cl, int code, const char *msg)
{
	struct proxy_result res;
	result_init(&res, cl);
	res.code = code;
	set_msg(res.msg, sizeof(res.msg), msg);
	done(ctx, &res);
}

void storage_proxy_read_partition(struct storage_proxy *sp, struct ring *ring,
                                  const struct replication *rep, uint16_t cl,
                                  const struct proxy_read *rd, store_row_fn row_fn, void *row_ctx,
                                  proxy_done_fn done, void *ctx)
{
	struct cerr e = {0};
	int64_t token;
	if (store_partition_token(rd->table, rd->pk, rd->n_pk, &token, &e) != 0) {
		fail_now(done, ctx, cl, e.code, e.msg);
		return;
	}
	struct plan p;
	struct proxy_result res;
	if (plan_make(sp, ring, rep, token, cl, false, &p, &res) != 0) {
		done(ctx, &res);
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
			result_init(&res, cl);
			int rc = store_read_partition(rd->table, rd->pk, rd->n_pk, rd->slice,
			                              rd->flags & STORE_READ_REVERSE, rd->limit,
			                              rd->now_s, row_fn, row_ctx, &e);
			if (rc < 0) {
				res.code = rc;
				set_msg(res.msg, sizeof(res.msg), e.msg);
			}
			done(ctx, &res);
			return;
		}
	}
	struct sp_read *r = r_get(sp);
	if (!r) {
		fail_now(done, ctx, cl, COL_EFULL, "coordinator overloaded: too many requests");
		return;
	}
	r->ring = ring_ref(ring);
	r->rep = *rep;
	r->cl = cl;
	r->is_scan = false;
	r->table = rd->table;
	memcpy(r->table_id, store_table_desc(rd->table)->id, 16);
	r->flags = rd->flags & STORE_READ_REVERSE;
	r->limit = rd->limit;
	r->now_s = rd->now_s > 0 ? rd->now_s : clock_wall_s();
	r->token = token;
	r->row_fn = row_fn;
	r->row_ctx = row_ctx;
	r->done = done;
	r->ctx = ctx;
	buf_reset(&r->keybuf);
	size_t o_pk[STORE_MAX_PK_COLS], o_s[STORE_MAX_CK_COLS], o_e[STORE_MAX_CK_COLS];
	r->n_pk = rd->n_pk;
	copy_values(&r->keybuf, r->pk, rd->pk, rd->n_pk, o_pk);
	r->has_slice = rd->slice != NULL;
	if (rd->slice) {
		r->slice = *rd->slice;
		copy_values(&r->keybuf, r->sstart, rd->slice->start, rd->slice->n_start, o_s);
		copy_values(&r->keybuf, r->send, rd->slice->end, rd->slice->n_end, o_e);
	}
	if (!buf_ok(&r->keybuf)) {
		r->answered = true;
		r_release(r);
		fail_now(done, ctx, cl, COL_ENOMEM, "out of memory copying the read");
		return;
	}
	fix_values(&r->keybuf, r->pk, r->n_pk, o_pk);
	if (rd->slice) {
		fix_values(&r->keybuf, r->sstart, rd->slice->n_start, o_s);
		fix_values(&r->keybuf, r->send, rd->slice->n_end, o_e);
		r->slice.start = r->sstart;
		r->slice.end = r->send;
	}
	r_start_step(r, token);
	r_maybe_release(r);
}

/* ---- range reads ------------------------------------------------------------------------------
 */

/* Sorted replica set of a token, for merging consecutive ring ranges. */
static size_t replica_set(struct sp_read *r, int64_t token, uint32_t *out)
{
	size_t n = ring_replicas(r->ring, &r->rep, token, out, SP_MAX_REPLICAS);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
			uint32_t t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

/* The first ring token > t, or INT64_MAX when t is at or past the last one. */
static int64_t next_boundary(const struct ring *ring, int64_t t)
{
	if (t == INT64_MAX)
		return INT64_MAX;
	if (ring_token_count(ring) == 0)
		return INT64_MAX;
	size_t owner;
	int64_t tok = ring_token_at(ring, ring_token_index(ring, t + 1), &owner);
	if (tok <= t)
		return INT64_MAX;
	return tok;
}

static void r_next_step(struct sp_read *r)
{
	while (r->piece < r->n_pieces) {
		int64_t end = r->pieces[r->piece][1];
		if (r->cursor >= end) {
			r->piece++;
			if (r->piece < r->n_pieces)
				r->cursor = r->pieces[r->piece][0];
			continue;
		}
		int64_t b = next_boundary(r->ring, r->cursor);
		if (b > end)
			b = end;
		uint32_t set[SP_MAX_REPLICAS], set2[SP_MAX_REPLICAS];
		size_t n = replica_set(r, b, set);
		/* extend over following ranges with the same replicas */
		while (b < end) {
			int64_t nb = next_boundary(r->ring, b);
			if (nb > end)
				nb = end;
			size_t n2 = replica_set(r, nb, set2);
			if (n2 != n || memcmp(set, set2, n * sizeof(uint32_t)) != 0)
				break;
			b = nb;
		}
		/* the step covers (step_start, step_end]; set the cursor first: the step
		 * may complete (and the next begin) before r_start_step returns */
		r->step_start = r->cursor;
		r->step_end = b;
		r->cursor = b;
		r_start_step(r, b);
		return;
	}
	r_answer(r, 0, NULL);
}

void storage_proxy_scan(struct storage_proxy *sp, struct ring *ring, const struct replication *rep,
                        uint16_t cl, const struct proxy_scan *sc, store_row_fn row_fn,
                        void *row_ctx, proxy_done_fn done, void *ctx)
{
	struct cerr e = {0};
	if (cl_validate(cl, false, &e) != 0) {
		fail_now(done, ctx, cl, e.code, e.msg);
		return;
	}
	if (topo_use(sp, ring) != 0) {
		fail_now(done, ctx, cl, COL_ENOMEM, "out of memory building the ring cache");
		return;
	}
	struct sp_read *r = r_get(sp);
	if (!r) {
		fail_now(done, ctx, cl, COL_EFULL, "coordinator overloaded: too many requests");
		return;
	}
	sp->stats.range_reads++;
	r->ring = ring_ref(ring);
	r->rep = *rep;
	r->cl = cl;
	r->is_scan = true;
	r->table = sc->table;
	memcpy(r->table_id, store_table_desc(sc->table)->id, 16);
	r->flags = 0;
	r->limit = sc->limit;
	r->now_s = sc->now_s > 0 ? sc->now_s : clock_wall_s();
	r->row_fn = row_fn;
	r->row_ctx = row_ctx;
	r->done = done;
	r->ctx = ctx;
	/* pieces in ascending token order, never wrapping */
	r->n_pieces = 0;
	if (sc->start < sc->end) {
		r->pieces[r->n_pieces][0] = sc->start;
		r->pieces[r->n_pieces++][1] = sc->end;
	} else {
		r->pieces[r->n_pieces][0] = sc->start;
		r->pieces[r->n_pieces++][1] = INT64_MAX;
		if (sc->end > INT64_MIN) {
			r->pieces[r->n_pieces][0] = INT64_MIN;
			r->pieces[r->n_pieces++][1] = sc->end;
		}
	}
	r->piece = 0;
	r->cursor = r->pieces[0][0];
	r->has_after = false;
	if (sc->after) {
		/* resume: skip to the piece holding the position's token */
		int64_t t = sc->after->token;
		while (r->piece < r->n_pieces &&
		       !(t > r->pieces[r->piece][0] && t <= r->pieces[r->piece][1]))
			r->piece++;
		if (r->piece < r->n_pieces) {
			if (t - 1 > r->pieces[r->piece][0])
				r->cursor = t - 1;
			else
				r->cursor = r->pieces[r->piece][0];
			buf_reset(&r->keybuf);
			size_t o_ck[STORE_MAX_CK_COLS];
			buf_put(&r->keybuf, sc->after->key, sc->after->key_len);
			size_t n_ck = sc->after->ck ? sc->after->n_ck : 0;
			copy_values(&r->keybuf, r->after_ck, sc->after->ck, n_ck, o_ck);
			if (!buf_ok(&r->keybuf)) {
				r->answered = true;
				r_release(r);
				fail_now(done, ctx, cl, COL_ENOMEM,
				         "out of memory copying the position");
				return;
			}
			fix_values(&r->keybuf, r->after_ck, n_ck, o_ck);
			r->after = *sc->after;
			r->after.key = r->keybuf.data;
			r->after.ck = sc->after->ck ? r->after_ck : NULL;
			r->has_after = true;
		}
	}
	r_next_step(r);
	r_maybe_release(r);
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
	if (!sp->cfg.storage_port)
		sp->cfg.storage_port = 7000;
	if (!sp->cfg.max_requests)
		sp->cfg.max_requests = 65536;
	if (!sp->cfg.replica_page_rows)
		sp->cfg.replica_page_rows = 10000;
	snprintf(sp->default_dc, sizeof(sp->default_dc), "%s",
	         cfg->local_dc ? cfg->local_dc : "datacenter1");
	sp->cfg.local_dc = sp->default_dc;
	messaging_register(sp->msg, VERB_MUTATION_RSP, on_relay, sp);
	*out = sp;
	return 0;
}

void storage_proxy_free(struct storage_proxy *sp)
{
	if (!sp)
		return;
	for (uint32_t i = 0; i < sp->n_wslots; i++) {
		ev_timer_stop(sp->ev, &sp->wslots[i]->timer);
		if (sp->wslots[i]->ring)
			ring_unref(sp->wslots[i]->ring);
		buf_release(&sp->wslots[i]->mut);
		free(sp->wslots[i]);
	}
	free(sp->wslots);
	while (sp->free_reads) {
		struct sp_read *r = sp->free_reads;
		sp->free_reads = r->next_free;
		r_free_pooled(r);
	}
	topo_release(&sp->tcache[0]);
	topo_release(&sp->tcache[1]);
	free(sp);
}

void storage_proxy_get_stats(const struct storage_proxy *sp, struct storage_proxy_stats *out)
{
	*out = sp->stats;
}
