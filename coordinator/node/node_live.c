/*
 * node_live.c — what the request loops' storage proxies read of gossip: each
 * ring node's liveness and internode address, as an immutable snapshot the
 * main loop publishes (docs/ARCHITECTURE.md, Threads).
 *
 * Gossip's endpoints belong to the main loop.  The main loop rebuilds the
 * snapshot from them (node_ring_alive / node_ring_addr, exactly what its own
 * storage proxy asks) when gossip reports a peer UP or DOWN and every
 * NODE_LIVE_POLL_S (a ring change, a new address), and swaps it in only when
 * something differs.  The swap is under n->ring_lock; a generation counter
 * (atomic) tells a loop to take the new one.  A loop keeps its reference
 * between requests, so reading liveness costs one atomic load per call.
 */
#include "coordinator/node/node_int.h"

#include "core/log.h"
#include "core/ring.h"

#include <stdlib.h>
#include <string.h>

/* How often the main loop looks for changes gossip did not announce (ring, addresses). */
#define NODE_LIVE_POLL_S 0.2

struct node_live_ent {
	uint8_t host[16];
	bool up;
	int addr_rc; /* node_ring_addr's answer; addr valid when 0 */
	struct net_addr addr;
};

struct node_live {
	atomic_uint refs;
	size_t n;
	struct node_live_ent e[];
};

static void live_unref(struct node_live *t)
{
	if (t && atomic_fetch_sub(&t->refs, 1) == 1)
		free(t);
}

/* The snapshot of `r` as the main loop sees it now (zeroed padding: compared with memcmp). */
static struct node_live *live_build(struct node *n, const struct ring *r)
{
	size_t cnt = ring_node_count(r);
	struct node_live *t = calloc(1, sizeof(*t) + cnt * sizeof(t->e[0]));
	if (!t)
		return NULL;
	atomic_init(&t->refs, 1);
	t->n = cnt;
	for (size_t i = 0; i < cnt; i++) {
		struct node_live_ent *e = &t->e[i];
		memcpy(e->host, ring_node_at(r, i)->host_id, 16);
		e->up = node_ring_alive(n, r, i);
		e->addr_rc = node_ring_addr(n, r, i, &e->addr);
	}
	return t;
}

static bool live_same(const struct node_live *a, const struct node_live *b)
{
	return a && b && a->n == b->n && memcmp(a->e, b->e, a->n * sizeof(a->e[0])) == 0;
}

void node_live_refresh(struct node *n)
{
	if (!n->live_on || !n->ring)
		return;
	struct node_live *t = live_build(n, n->ring);
	if (!t) {
		log_warn("node", "out of memory publishing liveness to the request loops");
		return;
	}
	if (live_same(t, n->live)) {
		live_unref(t);
		return;
	}
	pthread_mutex_lock(&n->ring_lock);
	struct node_live *old = n->live;
	n->live = t;
	atomic_fetch_add(&n->live_gen, 1);
	pthread_mutex_unlock(&n->ring_lock);
	live_unref(old);
}

static void on_live_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	node_live_refresh(w->data);
}

void node_live_start(struct node *n)
{
	n->live_on = true;
	node_live_refresh(n);
	ev_timer_init(&n->live_timer, on_live_timer, NODE_LIVE_POLL_S, NODE_LIVE_POLL_S);
	n->live_timer.data = n;
	ev_timer_start(n->loop, &n->live_timer);
}

void node_live_stop(struct node *n)
{
	if (!n->live_on)
		return;
	ev_timer_stop(n->loop, &n->live_timer);
	n->live_on = false;
	pthread_mutex_lock(&n->ring_lock);
	struct node_live *old = n->live;
	n->live = NULL;
	pthread_mutex_unlock(&n->ring_lock);
	live_unref(old);
}

/* ---- a loop's side --------------------------------------------------------------------------- */

void node_live_view_release(struct node_live_view *v)
{
	live_unref(v->snap);
	v->snap = NULL;
}

static const struct node_live *view_current(struct node_live_view *v)
{
	unsigned gen = atomic_load(&v->n->live_gen);
	if (gen != v->gen || !v->snap) {
		pthread_mutex_lock(&v->n->ring_lock);
		struct node_live *t = v->n->live;
		if (t)
			atomic_fetch_add(&t->refs, 1);
		gen = atomic_load(&v->n->live_gen);
		pthread_mutex_unlock(&v->n->ring_lock);
		live_unref(v->snap);
		v->snap = t;
		v->gen = gen;
	}
	return v->snap;
}

static const struct node_live_ent *view_find(struct node_live_view *v, const struct ring *r,
                                             size_t idx)
{
	const struct node_live *t = view_current(v);
	const struct ring_node *rn = ring_node_at(r, idx);
	if (!t || !rn)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		if (memcmp(t->e[i].host, rn->host_id, 16) == 0)
			return &t->e[i];
	return NULL;
}

bool node_live_alive(void *view, const struct ring *r, size_t idx)
{
	const struct node_live_ent *e = view_find(view, r, idx);
	return e && e->up; /* a node the main loop has not published yet: not known up */
}

int node_live_addr(void *view, const struct ring *r, size_t idx, struct net_addr *out)
{
	const struct node_live_ent *e = view_find(view, r, idx);
	if (!e)
		return COL_ENOTFOUND;
	if (e->addr_rc == 0)
		*out = e->addr;
	return e->addr_rc;
}
