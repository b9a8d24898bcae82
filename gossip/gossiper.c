/*
 * gossiper.c — see gossiper.h.
 *
 * Endpoints live in an array of pointers (each endpoint is allocated once; its
 * failure-detector window makes it ~4 KiB).  Lookups are linear: a cluster of
 * tens of nodes costs microseconds per message; a hash would pay off only in
 * the hundreds.
 */
#include "gossip/gossiper.h"
#include "core/array.h"
#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/msgpk.h"

#include <arpa/inet.h>
#include <ev.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gossip/gossiper_int.h"

/* ---- small helpers --------------------------------------------------------------------------- */

const char *app_state_name(unsigned key, char *scratch, size_t len)
{
	static const char *const names[APP_MAX] = {
	        [APP_STATUS] = "STATUS",
	        [APP_DC] = "DC",
	        [APP_RACK] = "RACK",
	        [APP_TOKENS] = "TOKENS",
	        [APP_SCHEMA] = "SCHEMA",
	        [APP_HOST_ID] = "HOST_ID",
	        [APP_LOAD] = "LOAD",
	        [APP_RPC_ADDRESS] = "RPC_ADDRESS",
	        [APP_RELEASE_VERSION] = "RELEASE_VERSION",
	        [APP_NATIVE_PORT] = "NATIVE_PORT",
	        [APP_REPLACING] = "REPLACING",
	        [APP_RPC_READY] = "RPC_READY",
	};
	if (key < APP_MAX && names[key])
		return names[key];
	snprintf(scratch, len, "app %u", key);
	return scratch;
}

int64_t gossiper_next_generation(int64_t persisted)
{
	int64_t now = clock_wall_s();
	return now > persisted ? now : persisted + 1;
}

static uint64_t rng_next(struct gossiper *g)
{
	/* xorshift64*: plenty for picking gossip targets. */
	uint64_t x = g->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	g->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static double rng_double(struct gossiper *g)
{
	return (rng_next(g) >> 11) * (1.0 / 9007199254740992.0);
}

unsigned gsp_rng_below(struct gossiper *g, unsigned n)
{
	return (unsigned)(rng_next(g) % n);
}

static uint64_t ep_max_version(const struct gossip_endpoint *ep)
{
	uint64_t v = ep->heartbeat;
	for (int k = 0; k < APP_MAX; k++)
		if (ep->app[k].version > v)
			v = ep->app[k].version;
	return v;
}

static void ep_describe(const struct gossip_endpoint *ep, char *out, size_t len)
{
	char h[HOST_ID_STRLEN];
	host_id_format(&ep->host, h);
	snprintf(out, len, "%s (host id %s)", ep->host_str, h);
}

static struct gossip_endpoint *find_host(const struct gossiper *g, const struct host_id *h)
{
	for (unsigned i = 0; i < g->n_eps; i++)
		if (host_id_equal(&g->eps[i]->host, h))
			return g->eps[i];
	return NULL;
}

static struct gossip_endpoint *find_addr(const struct gossiper *g, const struct net_addr *a)
{
	for (unsigned i = 0; i < g->n_eps; i++)
		if (!g->eps[i]->displaced && net_addr_equal(&g->eps[i]->addr, a))
			return g->eps[i];
	return NULL;
}

static void ep_set_addr(struct gossip_endpoint *ep, const struct net_addr *a)
{
	ep->addr = *a;
	net_addr_host(a, ep->host_str, sizeof(ep->host_str));
}

static int app_store(struct app_value *v, const uint8_t *data, size_t len, uint64_t version)
{
	uint8_t *p = malloc(len ? len : 1);
	if (!p)
		return COL_ENOMEM;
	if (len)
		memcpy(p, data, len);
	free(v->data);
	v->data = p;
	v->len = (uint32_t)len;
	v->version = version;
	return COL_OK;
}

static void ep_free(struct gossip_endpoint *ep)
{
	for (int k = 0; k < APP_MAX; k++)
		free(ep->app[k].data);
	free(ep);
}

/* ---- listeners ------------------------------------------------------------------------------- */

#define NOTIFY(g, member, ...)                                                                     \
	do {                                                                                       \
		for (unsigned li_ = 0; li_ < (g)->n_listeners; li_++)                              \
			if ((g)->listeners[li_].l.member)                                          \
				(g)->listeners[li_].l.member((g)->listeners[li_].ctx,              \
				                             __VA_ARGS__);                         \
	} while (0)

int gossiper_add_listener(struct gossiper *g, const struct gossip_listener *l, void *ctx)
{
	if (g->n_listeners >= MAX_LISTENERS)
		return COL_EFULL;
	g->listeners[g->n_listeners].l = *l;
	g->listeners[g->n_listeners].ctx = ctx;
	g->n_listeners++;
	return COL_OK;
}

/* ---- liveness -------------------------------------------------------------------------------- */

static void mark_dead(struct gossiper *g, struct gossip_endpoint *ep, const char *why)
{
	if (!ep->alive || ep->self)
		return;
	ep->alive = false;
	ep->downs++;
	/* A stalled connection must not hold what we send once it is back: dial afresh. */
	messaging_reset_peer(g->m, &ep->addr);
	char d[128];
	ep_describe(ep, d, sizeof(d));
	log_info(MOD, "node %s is now DOWN (%s)", d, why);

	NOTIFY(g, on_dead, ep);
}

static void echo_unlink(struct gossiper *g, struct echo_ctx *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		g->echoes = e->next;
	if (e->next)
		e->next->prev = e->prev;
}

static void echo_done(void *ctx, int status, const struct msg_in *rsp)
{
	(void)rsp;
	struct echo_ctx *e = ctx;
	struct gossiper *g = e->g;
	if (!g) {
		free(e);
		return;
	}
	echo_unlink(g, e);
	struct gossip_endpoint *ep = find_host(g, &e->host);
	if (ep && ep->generation == e->generation) {
		ep->echo_pending = false;
		if (status == COL_OK && !ep->alive && !ep->shutdown) {
			ep->alive = true;
			char d[128];
			ep_describe(ep, d, sizeof(d));
			log_info(MOD, "node %s is now UP", d);
			NOTIFY(g, on_alive, ep);
		} else if (status != COL_OK) {
			log_debug(MOD, "echo to %s failed: %s", ep->host_str, col_strerror(status));
		}
	}
	free(e);
}

/* Cassandra's markAlive: prove we can reach it before calling it UP. */
static void mark_alive(struct gossiper *g, struct gossip_endpoint *ep)
{
	if (ep->self || ep->alive || ep->echo_pending || ep->shutdown || ep->displaced)
		return;
	struct echo_ctx *e = calloc(1, sizeof(*e));
	if (!e)
		return;
	e->g = g;
	e->host = ep->host;
	e->generation = ep->generation;
	unsigned timeout = g->interval_ms * 5 > 200 ? g->interval_ms * 5 : 200;
	struct msg_out o;
	if (messaging_begin_request(g->m, &ep->addr, VERB_ECHO, timeout, echo_done, e, &o) !=
	    COL_OK) {
		free(e);
		return;
	}
	msgpk_put_array(o.b, 0);
	if (messaging_commit(&o) != COL_OK) {
		free(e);
		return;
	}
	ep->echo_pending = true;
	e->next = g->echoes;
	if (g->echoes)
		g->echoes->prev = e;
	g->echoes = e;
}

static int on_echo(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	(void)ctx;
	if (msg->id == 0)
		return 0;
	struct msg_out o;
	if (messaging_begin_response(m, msg, VERB_ECHO_RSP, &o) == COL_OK) {
		msgpk_put_array(o.b, 0);
		(void)messaging_commit(&o);
	}
	return 0;
}

/* ---- encoding -------------------------------------------------------------------------------- */

static void put_digest(struct buf *b, const struct host_id *h, int64_t gen, uint64_t v)
{
	msgpk_put_array(b, 3);
	msgpk_put_bin(b, h->b, HOST_ID_LEN);
	msgpk_put_int(b, gen);
	msgpk_put_uint(b, v);
}

/* The state of ep with the app states newer than `from` (heartbeat and address always). */
static void put_state(struct buf *b, const struct gossip_endpoint *ep, uint64_t from)
{
	msgpk_put_array(b, 6);
	msgpk_put_bin(b, ep->host.b, HOST_ID_LEN);
	msgpk_put_int(b, ep->generation);
	msgpk_put_uint(b, ep->heartbeat);
	msgpk_put_cstr(b, ep->host_str);
	msgpk_put_uint(b, net_addr_port(&ep->addr));
	uint32_t n = 0;
	for (int k = 0; k < APP_MAX; k++)
		if (ep->app[k].version > from)
			n++;
	msgpk_put_array(b, n);
	for (int k = 0; k < APP_MAX; k++) {
		const struct app_value *v = &ep->app[k];
		if (v->version <= from)
			continue;
		msgpk_put_array(b, 3);
		msgpk_put_uint(b, (uint64_t)k);
		msgpk_put_uint(b, v->version);
		msgpk_put_bin(b, v->data, v->len);
	}
}

static int commit_counted(struct gossiper *g, struct msg_out *o)
{
	size_t n = o->b->len - o->mark;
	int rc = messaging_commit(o);
	if (rc == COL_OK)
		g->st.bytes_out += n;
	return rc;
}

void gsp_send_syn(struct gossiper *g, const struct net_addr *to)
{
	struct msg_out o;
	if (messaging_begin_oneway(g->m, to, VERB_GOSSIP_SYN, &o) != COL_OK)
		return;
	msgpk_put_array(o.b, 3);
	msgpk_put_cstr(o.b, messaging_cluster_name(g->m));
	msgpk_put_cstr(o.b, g->partitioner);
	msgpk_put_array(o.b, g->n_eps);
	for (unsigned i = 0; i < g->n_eps; i++) {
		const struct gossip_endpoint *ep = g->eps[i];
		put_digest(o.b, &ep->host, ep->generation, ep_max_version(ep));
	}
	if (commit_counted(g, &o) == COL_OK)
		g->st.syn_out++;
}

/* ---- decoding -------------------------------------------------------------------------------- */

static int read_host_id(struct bufreader *r, struct host_id *h)
{
	const uint8_t *p;
	uint32_t n;
	if (msgpk_read_bin(r, &p, &n) != COL_OK || n != HOST_ID_LEN)
		return COL_ECORRUPT;
	memcpy(h->b, p, HOST_ID_LEN);
	return COL_OK;
}

static int read_digest(struct bufreader *r, struct rdigest *d)
{
	if (msgpk_expect_array(r, 3) != COL_OK || read_host_id(r, &d->host) != COL_OK ||
	    msgpk_read_int(r, &d->gen) != COL_OK || msgpk_read_uint(r, &d->maxv) != COL_OK)
		return COL_ECORRUPT;
	return COL_OK;
}

static int read_state(struct bufreader *r, struct rstate *s)
{
	const uint8_t *p;
	uint32_t n;
	uint64_t port;
	memset(s, 0, sizeof(*s));
	if (msgpk_expect_array(r, 6) != COL_OK || read_host_id(r, &s->host) != COL_OK ||
	    msgpk_read_int(r, &s->gen) != COL_OK || msgpk_read_uint(r, &s->hb) != COL_OK)
		return COL_ECORRUPT;
	if (s->gen <= 0 || host_id_is_zero(&s->host))
		return COL_ECORRUPT;
	if (msgpk_read_str(r, &p, &n) != COL_OK || n == 0 || n >= sizeof(s->host_str))
		return COL_ECORRUPT;
	memcpy(s->host_str, p, n);
	s->host_str[n] = 0;
	if (msgpk_read_uint_max(r, 65535, &port) != COL_OK)
		return COL_ECORRUPT;
	if (net_addr_parse(s->host_str, (uint16_t)port, &s->addr, NULL) != COL_OK)
		return COL_ECORRUPT;
	uint32_t napps;
	if (msgpk_read_array(r, &napps) != COL_OK || napps > MAX_APPS_PER_STATE)
		return COL_ECORRUPT;
	for (uint32_t i = 0; i < napps; i++) {
		uint64_t key, ver;
		if (msgpk_expect_array(r, 3) != COL_OK || msgpk_read_uint(r, &key) != COL_OK ||
		    msgpk_read_uint(r, &ver) != COL_OK || msgpk_read_raw(r, &p, &n) != COL_OK)
			return COL_ECORRUPT;
		if (n > GOSSIP_MAX_VALUE || ver == 0)
			return COL_ECORRUPT;
		if (key >= APP_MAX)
			continue; /* a newer node's state we cannot hold */
		unsigned j;
		for (j = 0; j < s->napps && s->apps[j].key != key; j++)
			;
		if (j == s->napps)
			s->napps++;
		else if (s->apps[j].version >= ver)
			continue;
		s->apps[j] =
		        (struct rapp){.key = (unsigned)key, .version = ver, .val = p, .len = n};
	}
	return COL_OK;
}

/* The smallest encoded digest: array header, bin16 with its 2-byte header, two 1-byte ints. */
#define MIN_DIGEST_BYTES 21
/* Digests in one message at most: far above any cluster we track (max_endpoints). */
#define MAX_DIGESTS 65536u

/*
 * Room for n digests read from r: n must be plausible for the bytes left, so a
 * lying count cannot make us allocate 50 times the message size.
 */
static int dig_reserve(struct gossiper *g, const struct bufreader *r, uint32_t n)
{
	if (n > MAX_DIGESTS || (size_t)n * MIN_DIGEST_BYTES > bufreader_left(r))
		return COL_ECORRUPT;
	if (n <= g->dig_cap)
		return COL_OK;

	struct rdigest *d = realloc(g->dig, (size_t)n * sizeof(*d));
	if (!d)
		return COL_ENOMEM;
	g->dig = d;
	g->dig_cap = n;
	return COL_OK;
}

/* ---- applying states ------------------------------------------------------------------------- */

static void remove_endpoint(struct gossiper *g, struct gossip_endpoint *ep, const char *why)
{
	char d[128];
	ep_describe(ep, d, sizeof(d));
	log_info(MOD, "removing node %s: %s", d, why);
	g->removed[g->next_removed].host = ep->host;
	g->removed[g->next_removed].generation = ep->generation;
	g->next_removed = (g->next_removed + 1) % REMOVED_MAX;
	if (g->n_removed < REMOVED_MAX)
		g->n_removed++;
	NOTIFY(g, on_remove, ep);
	for (unsigned i = 0; i < g->n_eps; i++) {
		if (g->eps[i] == ep) {
			g->eps[i] = g->eps[--g->n_eps];
			break;
		}
	}
	ep_free(ep);
}

/* The value of app state `key` in rs, or NULL. */
static const struct rapp *rs_app(const struct rstate *rs, unsigned key)
{
	for (unsigned i = 0; i < rs->napps; i++)
		if (rs->apps[i].key == key)
			return &rs->apps[i];
	return NULL;
}

/* The entry owns tokens: its STATUS is NORMAL or LEAVING. */
static bool ep_owns_tokens(const struct gossip_endpoint *ep)
{
	const struct app_value *v = &ep->app[APP_STATUS];
	return v->data && ((v->len == strlen(GOSSIP_STATUS_NORMAL) &&
	                    !memcmp(v->data, GOSSIP_STATUS_NORMAL, v->len)) ||
	                   (v->len == strlen(GOSSIP_STATUS_LEAVING) &&
	                    !memcmp(v->data, GOSSIP_STATUS_LEAVING, v->len)));
}

/* rs says it replaces `ep` (APP_REPLACING holds ep's host id). */
static bool rs_replaces(const struct rstate *rs, const struct gossip_endpoint *ep)
{
	const struct rapp *a = rs_app(rs, APP_REPLACING);
	char h[HOST_ID_STRLEN];
	host_id_format(&ep->host, h);
	return a && a->len == strlen(h) && !memcmp(a->val, h, a->len);
}

static void displace(struct gossiper *g, struct gossip_endpoint *ep, const char *by)
{
	ep->displaced = true; /* first: on_dead listeners see why */
	mark_dead(g, ep, "another node took its address");
	char d[128];
	ep_describe(ep, d, sizeof(d));
	log_info(MOD, "node %s keeps its tokens as DOWN: its address is now host id %s's", d, by);
	NOTIFY(g, on_displaced, ep);
}

/*
 * ep says it replaces another host id (APP_REPLACING): that node, if we track
 * it and it is DOWN, leaves the ring now, whatever its address was.
 */
static void honour_replacing(struct gossiper *g, const struct gossip_endpoint *ep)
{
	const struct app_value *v = &ep->app[APP_REPLACING];
	struct host_id h;
	if (!v->data || !uuid_parse((const char *)v->data, v->len, h.b))
		return;
	struct gossip_endpoint *old = find_host(g, &h);
	if (!old || old == ep || old->self || old->alive)
		return;
	char why[160];
	snprintf(why, sizeof(why), "replaced by %s (replace_address_first_boot)", ep->host_str);
	remove_endpoint(g, old, why);
}

enum claim { CLAIM_TAKE, CLAIM_DISPLACED, CLAIM_REFUSE };

/*
 * Another entry may hold the address `rs` comes with (`known`: rs's host id
 * is one we track).  Addresses move between host ids (containers swap them),
 * but a token owner never leaves the ring because another node took its
 * address: the older claim is kept as a displaced entry (DOWN, tokens kept)
 * until it shows up elsewhere.  A host id we never knew, claiming the
 * address of a token owner with a newer generation, is refused unless it
 * says it replaces that owner (APP_REPLACING): then the owner is removed.
 */
static enum claim settle_address(struct gossiper *g, const struct rstate *rs, bool known)
{
	struct gossip_endpoint *other = find_addr(g, &rs->addr);
	if (!other || host_id_equal(&other->host, &rs->host))
		return CLAIM_TAKE;
	char h[HOST_ID_STRLEN];
	host_id_format(&rs->host, h);
	if (other->self || other->generation >= rs->gen)
		return CLAIM_DISPLACED; /* an older claim of an address given up since */
	char why[160];
	if (rs_replaces(rs, other)) {
		snprintf(why, sizeof(why), "host id %s replaces it (replace_address_first_boot)",
		         h);
		remove_endpoint(g, other, why);
		return CLAIM_TAKE;
	}
	if (!ep_owns_tokens(other)) {
		snprintf(why, sizeof(why), "host id %s now has its address", h);
		remove_endpoint(g, other, why);
		return CLAIM_TAKE;
	}
	if (known) {
		displace(g, other, h);
		return CLAIM_TAKE;
	}
	if (g->warned_claim != rs->gen) {
		g->warned_claim = rs->gen;
		char d[128];
		ep_describe(other, d, sizeof(d));
		log_warn(MOD,
		         "refusing new host id %s at %s: that is the address of token owner %s; "
		         "a node that replaces it must start with replace_address_first_boot",
		         h, rs->host_str, d);
	}
	return CLAIM_REFUSE;
}

static int ep_fill(struct gossip_endpoint *ep, const struct rstate *rs)
{
	for (unsigned i = 0; i < rs->napps; i++) {
		const struct rapp *a = &rs->apps[i];
		if (app_store(&ep->app[a->key], a->val, a->len, a->version) != COL_OK)
			return COL_ENOMEM;
	}
	return COL_OK;
}

/* rs is a state of a node removed since, not newer than when it was removed. */
static bool was_removed(const struct gossiper *g, const struct rstate *rs)
{
	for (unsigned i = 0; i < g->n_removed; i++)
		if (host_id_equal(&g->removed[i].host, &rs->host) &&
		    rs->gen <= g->removed[i].generation)
			return true;
	return false;
}

static void apply_new(struct gossiper *g, const struct rstate *rs, int64_t now)
{
	if (was_removed(g, rs))
		return;
	if (g->n_eps >= g->max_endpoints) {
		log_warn(MOD, "ignoring node %s: already tracking %u endpoints (max_endpoints)",
		         rs->host_str, g->n_eps);
		return;
	}
	enum claim claim = settle_address(g, rs, false);
	if (claim == CLAIM_REFUSE)
		return;
	if (ARRAY_GROW(g->eps, g->cap_eps, (size_t)g->n_eps + 1))
		return;
	struct gossip_endpoint *ep = calloc(1, sizeof(*ep));
	if (!ep)
		return;
	ep->g = g;
	ep->host = rs->host;
	ep_set_addr(ep, &rs->addr);
	ep->generation = rs->gen;
	ep->heartbeat = rs->hb;
	fd_window_init(&ep->fdw);
	if (ep_fill(ep, rs) != COL_OK) {
		ep_free(ep);
		return;
	}
	ep->displaced = claim == CLAIM_DISPLACED;
	g->eps[g->n_eps++] = ep;
	fd_window_report(&g->fd, &ep->fdw, now);
	char d[128];
	ep_describe(ep, d, sizeof(d));
	log_info(MOD, "node %s joined (generation %lld)%s", d, (long long)ep->generation,
	         ep->displaced ? ", DOWN: another node holds its address" : "");
	NOTIFY(g, on_join, ep);
	honour_replacing(g, ep);
	mark_alive(g, ep);
}

static void apply_restart(struct gossiper *g, struct gossip_endpoint *ep, const struct rstate *rs,
                          int64_t now)
{
	enum claim claim = CLAIM_TAKE;
	if (ep->displaced || !net_addr_equal(&ep->addr, &rs->addr))
		claim = settle_address(g, rs, true);
	if (claim == CLAIM_REFUSE)
		return;
	int64_t old_gen = ep->generation;
	struct net_addr old_addr = ep->addr;
	bool was_displaced = ep->displaced;
	if (ep->alive)
		mark_dead(g, ep, "restarted");
	for (int k = 0; k < APP_MAX; k++) {
		free(ep->app[k].data);
		ep->app[k] = (struct app_value){0};
	}
	ep->generation = rs->gen;
	ep->heartbeat = rs->hb;
	ep->shutdown = false;
	ep->echo_pending = false; /* an echo to the old generation no longer counts */
	ep_set_addr(ep, &rs->addr);
	ep->displaced = claim == CLAIM_DISPLACED;
	(void)ep_fill(ep, rs);
	fd_window_report(&g->fd, &ep->fdw, now);
	char d[128], oa[NET_ADDR_STRLEN];
	ep_describe(ep, d, sizeof(d));
	net_addr_host(&old_addr, oa, sizeof(oa));
	if (!net_addr_equal(&old_addr, &ep->addr)) {
		log_info(MOD,
		         "node %s restarted at a new address (was %s, generation %lld -> %lld)", d,
		         oa, (long long)old_gen, (long long)ep->generation);
		if (!was_displaced) /* else the old address is another node's now */
			messaging_forget_peer(g->m, &old_addr);
	} else {
		log_info(MOD, "node %s restarted (generation %lld -> %lld)", d, (long long)old_gen,
		         (long long)ep->generation);
	}
	NOTIFY(g, on_restart, ep, old_gen, &old_addr);
	NOTIFY(g, on_join, ep);
	honour_replacing(g, ep);
	mark_alive(g, ep);
}

static void apply_state(struct gossiper *g, const struct rstate *rs)
{
	int64_t now = clock_mono_us();
	if (host_id_equal(&rs->host, &g->self->host)) {
		/* Said once per foreign generation: gossip repeats it every round. */
		if (rs->gen > g->self->generation && rs->gen != g->warned_self_gen) {
			g->warned_self_gen = rs->gen;
			log_warn(MOD,
			         "a state of our own host id with a newer generation (%lld > "
			         "%lld) came from %s: is another node running with our "
			         "identity?",
			         (long long)rs->gen, (long long)g->self->generation, rs->host_str);
		}
		return;
	}
	struct gossip_endpoint *ep = find_host(g, &rs->host);
	if (!ep) {
		apply_new(g, rs, now);
		return;
	}
	if (rs->gen > ep->generation + MAX_GENERATION_DIFFERENCE) {
		if (rs->gen != ep->warned_gen)
			log_warn(MOD,
			         "ignoring generation %lld for %s: more than a year ahead of %lld",
			         (long long)rs->gen, ep->host_str, (long long)ep->generation);
		ep->warned_gen = rs->gen;
		return;
	}
	if (rs->gen > ep->generation) {
		apply_restart(g, ep, rs, now);
		return;
	}
	if (rs->gen < ep->generation)
		return;
	uint64_t local_max = ep_max_version(ep);
	uint64_t remote_max = rs->hb;
	if (rs->hb > ep->heartbeat)
		ep->heartbeat = rs->hb;
	for (unsigned i = 0; i < rs->napps; i++) {
		const struct rapp *a = &rs->apps[i];
		if (a->version > remote_max)
			remote_max = a->version;
		struct app_value *v = &ep->app[a->key];
		if (a->version <= v->version)
			continue;
		if (app_store(v, a->val, a->len, a->version) != COL_OK)
			continue;
		NOTIFY(g, on_change, ep, (enum app_state)a->key, v->data, v->len);
		if (a->key == APP_REPLACING)
			honour_replacing(g, ep);
	}
	if (remote_max > local_max && ep->displaced && !find_addr(g, &ep->addr)) {
		/* the node that held its address moved on: the address is its own again */
		ep->displaced = false;
		char d[128];
		ep_describe(ep, d, sizeof(d));
		log_info(MOD, "node %s has its address to itself again", d);
		NOTIFY(g, on_reclaimed, ep);
	}
	if (remote_max > local_max) {
		fd_window_report(&g->fd, &ep->fdw, now);
		if (ep->shutdown && remote_max > ep->shutdown_version)
			ep->shutdown = false;
		mark_alive(g, ep);
	}
}

/* ---- verb handlers --------------------------------------------------------------------------- */

enum gossip_digest_action gossip_examine_digest(bool have, int64_t local_gen, uint64_t local_max,
                                                int64_t remote_gen, uint64_t remote_max,
                                                uint64_t *from_version)
{
	if (!have || remote_gen > local_gen) {
		*from_version = 0;
		return DIGEST_REQUEST;
	}
	if (remote_gen < local_gen) {
		*from_version = 0;
		return DIGEST_SEND;
	}
	if (remote_max > local_max) {
		*from_version = local_max;
		return DIGEST_REQUEST;
	}
	if (remote_max < local_max) {
		*from_version = remote_max;
		return DIGEST_SEND;
	}
	return DIGEST_NOTHING;
}

static bool same_str(const uint8_t *p, uint32_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
}

static void note_contact(struct gossiper *g)
{
	if (!g->contact)
		log_info(MOD, "in touch with the cluster");
	g->contact = true;
}

static int on_syn(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	struct gossiper *g = ctx;
	struct bufreader r;
	bufreader_init(&r, msg->payload, msg->payload_len);
	const uint8_t *cl, *pa;
	uint32_t cl_len, pa_len, n;
	if (msgpk_expect_array(&r, 3) != COL_OK || msgpk_read_str(&r, &cl, &cl_len) != COL_OK ||
	    msgpk_read_str(&r, &pa, &pa_len) != COL_OK || msgpk_read_array(&r, &n) != COL_OK)
		return COL_ECORRUPT;
	int drc = dig_reserve(g, &r, n);
	if (drc != COL_OK)
		return drc == COL_ECORRUPT ? COL_ECORRUPT : 0;
	for (uint32_t i = 0; i < n; i++)
		if (read_digest(&r, &g->dig[i]) != COL_OK)
			return COL_ECORRUPT;
	char fs[NET_ADDR_STRLEN];
	net_addr_format(msg->from, fs, sizeof(fs));
	if (!same_str(cl, cl_len, messaging_cluster_name(m))) {
		log_warn(MOD, "ignoring gossip from %s: cluster '%.*s', we are '%s'", fs,
		         (int)(cl_len > 100 ? 100 : cl_len), (const char *)cl,
		         messaging_cluster_name(m));
		return 0;
	}
	if (!same_str(pa, pa_len, g->partitioner)) {
		log_warn(MOD, "ignoring gossip from %s: partitioner '%.*s', ours is '%s'", fs,
		         (int)(pa_len > 100 ? 100 : pa_len), (const char *)pa, g->partitioner);
		return 0;
	}
	g->st.syn_in++;
	note_contact(g);
	for (unsigned i = 0; i < g->n_eps; i++)
		g->eps[i]->mentioned = false;
	uint32_t nreq = 0, nsend = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct rdigest *d = &g->dig[i];
		struct gossip_endpoint *ep = find_host(g, &d->host);
		if (ep) {
			if (ep->mentioned) { /* a duplicate digest: answer it once */
				d->action = DIGEST_NOTHING;
				continue;
			}
			ep->mentioned = true;
		}
		d->action = gossip_examine_digest(ep != NULL, ep ? ep->generation : 0,
		                                  ep ? ep_max_version(ep) : 0, d->gen, d->maxv,
		                                  &d->from);
		if (ep && ep->self && d->action == DIGEST_REQUEST)
			d->action = DIGEST_NOTHING; /* nobody knows us better than we do */
		if (d->action == DIGEST_REQUEST)
			nreq++;
		else if (d->action == DIGEST_SEND)
			nsend++;
	}
	/* Endpoints the sender did not mention: it has never heard of them; send them whole. */
	for (unsigned i = 0; i < g->n_eps; i++)
		if (!g->eps[i]->mentioned)
			nsend++;
	struct msg_out o;
	if (messaging_begin_oneway(m, msg->from, VERB_GOSSIP_ACK, &o) != COL_OK)
		return 0;
	msgpk_put_array(o.b, 2);
	msgpk_put_array(o.b, nreq);
	for (uint32_t i = 0; i < n; i++)
		if (g->dig[i].action == DIGEST_REQUEST)
			put_digest(o.b, &g->dig[i].host, g->dig[i].gen, g->dig[i].from);
	msgpk_put_array(o.b, nsend);
	for (uint32_t i = 0; i < n; i++)
		if (g->dig[i].action == DIGEST_SEND)
			put_state(o.b, find_host(g, &g->dig[i].host), g->dig[i].from);
	for (unsigned i = 0; i < g->n_eps; i++)
		if (!g->eps[i]->mentioned)
			put_state(o.b, g->eps[i], 0);
	if (commit_counted(g, &o) == COL_OK)
		g->st.ack_out++;
	return 0;
}

/* Read and apply an array of states. */
static int apply_states(struct gossiper *g, struct bufreader *r)
{
	uint32_t n;
	if (msgpk_read_array(r, &n) != COL_OK)
		return COL_ECORRUPT;
	for (uint32_t i = 0; i < n; i++) {
		struct rstate rs;
		if (read_state(r, &rs) != COL_OK)
			return COL_ECORRUPT;
		apply_state(g, &rs);
	}
	return COL_OK;
}

static int on_ack(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	struct gossiper *g = ctx;
	struct bufreader r;
	bufreader_init(&r, msg->payload, msg->payload_len);
	uint32_t nreq;
	if (msgpk_expect_array(&r, 2) != COL_OK || msgpk_read_array(&r, &nreq) != COL_OK)
		return COL_ECORRUPT;
	int drc = dig_reserve(g, &r, nreq);
	if (drc != COL_OK)
		return drc == COL_ECORRUPT ? COL_ECORRUPT : 0;
	for (uint32_t i = 0; i < nreq; i++)
		if (read_digest(&r, &g->dig[i]) != COL_OK)
			return COL_ECORRUPT;
	/* The digests live in g->dig, which applying states does not touch. */
	if (apply_states(g, &r) != COL_OK)
		return COL_ECORRUPT;
	g->st.ack_in++;
	note_contact(g);
	if (nreq == 0)
		return 0;
	uint32_t nsend = 0;
	for (uint32_t i = 0; i < nreq; i++) {
		struct gossip_endpoint *ep = find_host(g, &g->dig[i].host);
		g->dig[i].action = ep ? DIGEST_SEND : DIGEST_NOTHING;
		/* Versions restart with each generation: another generation gets everything. */
		g->dig[i].from = (ep && ep->generation == g->dig[i].gen) ? g->dig[i].maxv : 0;
		if (ep)
			nsend++;
	}
	struct msg_out o;
	if (messaging_begin_oneway(m, msg->from, VERB_GOSSIP_ACK2, &o) != COL_OK)
		return 0;
	msgpk_put_array(o.b, 1);
	msgpk_put_array(o.b, nsend);
	for (uint32_t i = 0; i < nreq; i++)
		if (g->dig[i].action == DIGEST_SEND)
			put_state(o.b, find_host(g, &g->dig[i].host), g->dig[i].from);
	if (commit_counted(g, &o) == COL_OK)
		g->st.ack2_out++;
	return 0;
}

static int on_ack2(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	(void)m;
	struct gossiper *g = ctx;
	struct bufreader r;
	bufreader_init(&r, msg->payload, msg->payload_len);
	if (msgpk_expect_array(&r, 1) != COL_OK || apply_states(g, &r) != COL_OK)
		return COL_ECORRUPT;
	g->st.ack2_in++;
	note_contact(g);
	return 0;
}

static int on_shutdown(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	(void)m;
	struct gossiper *g = ctx;
	struct bufreader r;
	bufreader_init(&r, msg->payload, msg->payload_len);
	struct host_id h;
	int64_t gen;
	if (msgpk_expect_array(&r, 2) != COL_OK || read_host_id(&r, &h) != COL_OK ||
	    msgpk_read_int(&r, &gen) != COL_OK)
		return COL_ECORRUPT;
	struct gossip_endpoint *ep = find_host(g, &h);
	if (!ep || ep->self || ep->generation != gen)
		return 0;
	ep->shutdown = true;
	ep->shutdown_version = ep_max_version(ep);
	mark_dead(g, ep, "it announced its shutdown");
	return 0;
}

/* ---- rounds ---------------------------------------------------------------------------------- */
static void check_alone(struct gossiper *g, unsigned live, int64_t now)
{
	if (live > 0 || g->n_seeds == 0 || gsp_seeds_all_self(g)) {

		g->alone_since_us = 0;
		return;
	}
	if (g->alone_since_us == 0) {
		g->alone_since_us = now;
		int64_t first = (int64_t)ALONE_LOG_ROUNDS * g->interval_ms * 1000;
		if (first > ALONE_LOG_FIRST_MAX_US)
			first = ALONE_LOG_FIRST_MAX_US;
		g->alone_log_every_us = first;
		g->alone_next_log_us = now + first;

		return;
	}
	if (now < g->alone_next_log_us)
		return;
	char list[256];
	size_t o = 0;
	list[0] = 0;
	for (unsigned i = 0; i < g->n_seeds && o < sizeof(list) - 1; i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
		                      g->seeds[i].host);
	log_warn(MOD, "no other node reachable for %lld s (seeds: %s); still trying every round",
	         (long long)((now - g->alone_since_us) / 1000000), list);
	g->alone_log_every_us *= 2;
	if (g->alone_log_every_us > ALONE_LOG_MAX_US)
		g->alone_log_every_us = ALONE_LOG_MAX_US;
	g->alone_next_log_us = now + g->alone_log_every_us;
}

static int pick_reserve(struct gossiper *g)
{
	if (g->pick_cap >= g->n_eps)
		return COL_OK;
	struct gossip_endpoint **p = realloc(g->pick, g->cap_eps * sizeof(*p));
	if (!p)
		return COL_ENOMEM;
	g->pick = p;
	g->pick_cap = g->cap_eps;
	return COL_OK;
}

static void status_check(struct gossiper *g, int64_t now)
{
	bool allowed = failure_detector_round(&g->fd, now);
	g->st.local_pauses = g->fd.pauses;
	if (!allowed)
		return;
	for (unsigned i = 0; i < g->n_eps; i++) {
		struct gossip_endpoint *ep = g->eps[i];
		if (ep->self || !ep->alive)
			continue;
		if (failure_detector_convict(&g->fd, &ep->fdw, now)) {
			char why[64];
			snprintf(why, sizeof(why), "phi %.1f > %.1f", fd_window_phi(&ep->fdw, now),
			         g->fd.cfg.phi_convict_threshold);
			g->st.convictions++;
			mark_dead(g, ep, why);
		}
	}
}

static void round_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct gossiper *g = (struct gossiper *)((char *)w - offsetof(struct gossiper, round));
	int64_t now = clock_mono_us();
	g->self->heartbeat = ++g->version;
	g->st.rounds++;
	if (g->last_round_us && now - g->last_round_us > g->st.round_gap_max_us)
		g->st.round_gap_max_us = now - g->last_round_us;
	g->last_round_us = now;
	if (pick_reserve(g) != COL_OK)
		return;
	/* Live peers first in pick[0..L), unreachable ones after, in pick[L..L+U). */
	unsigned live = 0, unreachable = 0;
	for (unsigned i = 0; i < g->n_eps; i++)
		if (!g->eps[i]->self && g->eps[i]->alive)
			g->pick[live++] = g->eps[i];
	for (unsigned i = 0; i < g->n_eps; i++)
		if (!g->eps[i]->self && !g->eps[i]->alive && !g->eps[i]->displaced)
			g->pick[live + unreachable++] = g->eps[i];
	bool to_seed = false;
	if (live > 0) {
		struct gossip_endpoint *t = g->pick[gsp_rng_below(g, live)];
		gsp_send_syn(g, &t->addr);
		to_seed = gsp_is_seed(g, &t->addr);
	}
	if (unreachable > 0 && rng_double(g) < (double)unreachable / (live + 1)) {
		struct gossip_endpoint *t = g->pick[live + gsp_rng_below(g, unreachable)];
		gsp_send_syn(g, &t->addr);
	}
	if (g->n_seeds > 0 && (!to_seed || live < g->n_seeds)) {
		if (live == 0 || rng_double(g) <= (double)g->n_seeds / (live + unreachable))
			gsp_gossip_to_seed(g);
	}
	status_check(g, now);
	check_alone(g, live, now);
}

/* ---- life ------------------------------------------------------------------------------------ */

int gossiper_new(const struct gossiper_config *cfg, struct gossiper **out, struct cerr *err)
{
	if (!cfg->messaging)
		return cerr_set(err, COL_EINVAL, "gossiper: no messaging");
	if (cfg->generation <= 0)
		return cerr_set(err, COL_EINVAL, "gossiper: generation must be positive, not %lld",
		                (long long)cfg->generation);
	struct gossiper *g = calloc(1, sizeof(*g));
	if (!g)
		return cerr_set(err, COL_ENOMEM, "gossiper: out of memory");
	g->m = cfg->messaging;
	g->resolve = cfg->resolve;
	g->resolve_ctx = cfg->resolve_ctx;
	g->loop = messaging_ev(g->m);
	g->interval_ms = cfg->interval_ms ? cfg->interval_ms : DEF_INTERVAL_MS;
	g->max_endpoints = cfg->max_endpoints ? cfg->max_endpoints : DEF_MAX_ENDPOINTS;
	g->partitioner = strdup(cfg->partitioner ? cfg->partitioner : "Murmur3Partitioner");
	struct failure_detector_config fc = {
	        .phi_convict_threshold = cfg->phi_convict_threshold,
	        .initial_interval_us = 2LL * g->interval_ms * 1000,
	        .max_local_pause_us = cfg->max_local_pause_ms ? cfg->max_local_pause_ms * 1000LL
	                                                      : 5LL * g->interval_ms * 1000,
	};
	failure_detector_init(&g->fd, &fc);
	g->seeds = calloc(cfg->n_seeds ? cfg->n_seeds : 1, sizeof(*g->seeds));
	g->eps = calloc(16, sizeof(*g->eps));
	g->cap_eps = 16;
	struct gossip_endpoint *self = calloc(1, sizeof(*self));
	if (!g->partitioner || !g->seeds || !g->eps || !self) {
		free(self);
		gossiper_free(g);
		return cerr_set(err, COL_ENOMEM, "gossiper: out of memory");
	}
	for (unsigned i = 0; i < cfg->n_seeds; i++) {
		if (!cfg->seeds[i].host || !*cfg->seeds[i].host) {
			free(self);
			gossiper_free(g);
			return cerr_set(err, COL_EINVAL, "gossiper: seed %u has no host", i + 1);
		}
		g->seeds[i].host = strdup(cfg->seeds[i].host);
		g->seeds[i].port = cfg->seeds[i].port;
		if (g->seeds[i].host &&
		    net_addr_parse(g->seeds[i].host, 0, &g->seeds[i].addrs[0], NULL) == COL_OK) {
			g->seeds[i].numeric = true;
			g->seeds[i].n_addrs = 1;
			net_addr_set_port(&g->seeds[i].addrs[0], gsp_seed_port(g, &g->seeds[i]));
		}
		g->n_seeds++;
		if (!g->seeds[i].host) {
			free(self);
			gossiper_free(g);
			return cerr_set(err, COL_ENOMEM, "gossiper: out of memory");
		}
	}
	self->g = g;
	self->self = true;
	self->alive = true;
	self->host = *messaging_host_id(g->m);
	ep_set_addr(self, messaging_broadcast_addr(g->m));
	self->generation = cfg->generation;
	self->heartbeat = ++g->version;
	fd_window_init(&self->fdw);
	g->eps[g->n_eps++] = self;
	g->self = self;
	char h[HOST_ID_STRLEN];
	host_id_format(&self->host, h);
	if (gossiper_set_app_str(g, APP_HOST_ID, h) != COL_OK) {
		gossiper_free(g);
		return cerr_set(err, COL_ENOMEM, "gossiper: out of memory");
	}
	g->rng = cfg->rng_seed ? cfg->rng_seed
	                       : ((uint64_t)clock_mono_us() * 0x9E3779B97F4A7C15ULL) ^
	                                 ((uint64_t)self->host.b[0] << 56 | self->host.b[15]);
	if (!g->rng)
		g->rng = 0x9E3779B97F4A7C15ULL;
	ev_timer_init(&g->round, round_cb, 0., g->interval_ms / 1000.0);
	messaging_register(g->m, VERB_GOSSIP_SYN, on_syn, g);
	messaging_register(g->m, VERB_GOSSIP_ACK, on_ack, g);
	messaging_register(g->m, VERB_GOSSIP_ACK2, on_ack2, g);
	messaging_register(g->m, VERB_GOSSIP_SHUTDOWN, on_shutdown, g);
	messaging_register(g->m, VERB_ECHO, on_echo, g);
	*out = g;
	return COL_OK;
}

void gossiper_free(struct gossiper *g)
{
	if (!g)
		return;
	ev_timer_stop(g->loop, &g->round);
	if (g->self) {
		messaging_register(g->m, VERB_GOSSIP_SYN, NULL, NULL);
		messaging_register(g->m, VERB_GOSSIP_ACK, NULL, NULL);
		messaging_register(g->m, VERB_GOSSIP_ACK2, NULL, NULL);
		messaging_register(g->m, VERB_GOSSIP_SHUTDOWN, NULL, NULL);
		messaging_register(g->m, VERB_ECHO, NULL, NULL);
	}
	/* Echo callbacks still in messaging's table free their context when they fire. */
	for (struct echo_ctx *e = g->echoes; e; e = e->next)
		e->g = NULL;
	for (unsigned i = 0; i < g->n_eps; i++)
		ep_free(g->eps[i]);
	free(g->eps);
	for (unsigned i = 0; i < g->n_seeds; i++) {
		gsp_seed_lookup_abandon(g->seeds[i].lk);
		free(g->seeds[i].host);
	}
	free(g->seeds);
	free(g->dig);
	free(g->pick);
	free(g->partitioner);
	free(g);
}

int gossiper_set_app_state(struct gossiper *g, unsigned key, const void *value, size_t len)
{
	if (key >= APP_MAX)
		return COL_EINVAL;
	if (len > GOSSIP_MAX_VALUE)
		return COL_ETOOBIG;
	return app_store(&g->self->app[key], value, len, ++g->version);
}

int gossiper_set_app_str(struct gossiper *g, unsigned key, const char *value)
{
	return gossiper_set_app_state(g, key, value, strlen(value));
}

int gossiper_start(struct gossiper *g)
{
	if (g->running)
		return COL_EINVAL;
	g->running = true;
	/* Names start resolving now, so that the first rounds can use them. */
	for (unsigned i = 0; i < g->n_seeds; i++)
		gsp_seed_lookup_start(g, &g->seeds[i]);
	ev_timer_set(&g->round, 0., g->interval_ms / 1000.0);
	ev_timer_start(g->loop, &g->round);
	char h[HOST_ID_STRLEN], a[NET_ADDR_STRLEN];
	host_id_format(&g->self->host, h);
	net_addr_format(&g->self->addr, a, sizeof(a));
	log_info(MOD, "gossiping from %s as host id %s, generation %lld, every %u ms, %u seed(s)",
	         a, h, (long long)g->self->generation, g->interval_ms, g->n_seeds);
	return COL_OK;
}

void gossiper_stop(struct gossiper *g, bool announce)
{
	if (!g->running)
		return;
	g->running = false;
	ev_timer_stop(g->loop, &g->round);
	if (!announce)
		return;
	for (unsigned i = 0; i < g->n_eps; i++) {
		struct gossip_endpoint *ep = g->eps[i];
		if (ep->self || !ep->alive)
			continue;
		struct msg_out o;
		if (messaging_begin_oneway(g->m, &ep->addr, VERB_GOSSIP_SHUTDOWN, &o) != COL_OK)
			continue;
		msgpk_put_array(o.b, 2);
		msgpk_put_bin(o.b, g->self->host.b, HOST_ID_LEN);
		msgpk_put_int(o.b, g->self->generation);
		(void)commit_counted(g, &o);
	}
}

/* ---- queries --------------------------------------------------------------------------------- */

void gossiper_foreach(const struct gossiper *g,
                      void (*fn)(void *ctx, const struct gossip_endpoint *ep), void *ctx)
{
	for (unsigned i = 0; i < g->n_eps; i++)
		fn(ctx, g->eps[i]);
}

const struct gossip_endpoint *gossiper_self(const struct gossiper *g)
{
	return g->self;
}

const struct gossip_endpoint *gossiper_find(const struct gossiper *g, const struct host_id *h)
{
	return find_host(g, h);
}

const struct gossip_endpoint *gossiper_find_addr(const struct gossiper *g, const struct net_addr *a)
{
	return find_addr(g, a);
}

unsigned gossiper_endpoint_count(const struct gossiper *g)
{
	return g->n_eps;
}

unsigned gossiper_live_count(const struct gossiper *g)
{
	unsigned n = 0;
	for (unsigned i = 0; i < g->n_eps; i++)
		if (!g->eps[i]->self && g->eps[i]->alive)
			n++;
	return n;
}

int gossiper_remove(struct gossiper *g, const struct host_id *h, const char *why)
{
	struct gossip_endpoint *ep = find_host(g, h);
	if (!ep || ep->self)
		return COL_ENOTFOUND;
	remove_endpoint(g, ep, why);
	return COL_OK;
}

bool gossip_endpoint_is_displaced(const struct gossip_endpoint *ep)
{
	return ep->displaced;
}

bool gossiper_has_contact(const struct gossiper *g)
{
	return g->contact;
}

void gossiper_get_stats(const struct gossiper *g, struct gossiper_stats *out)
{
	*out = g->st;
}

const struct host_id *gossip_endpoint_host_id(const struct gossip_endpoint *ep)
{
	return &ep->host;
}
const struct net_addr *gossip_endpoint_addr(const struct gossip_endpoint *ep)
{
	return &ep->addr;
}
const char *gossip_endpoint_host(const struct gossip_endpoint *ep)
{
	return ep->host_str;
}
int64_t gossip_endpoint_generation(const struct gossip_endpoint *ep)
{
	return ep->generation;
}
uint64_t gossip_endpoint_heartbeat(const struct gossip_endpoint *ep)
{
	return ep->heartbeat;
}
uint64_t gossip_endpoint_max_version(const struct gossip_endpoint *ep)
{
	return ep_max_version(ep);
}
bool gossip_endpoint_is_alive(const struct gossip_endpoint *ep)
{
	return ep->alive;
}
bool gossip_endpoint_is_self(const struct gossip_endpoint *ep)
{
	return ep->self;
}
bool gossip_endpoint_is_shutdown(const struct gossip_endpoint *ep)
{
	return ep->shutdown;
}

const uint8_t *gossip_endpoint_app(const struct gossip_endpoint *ep, unsigned key, size_t *len,
                                   uint64_t *version)
{
	if (key >= APP_MAX || ep->app[key].version == 0)
		return NULL;
	if (len)
		*len = ep->app[key].len;
	if (version)
		*version = ep->app[key].version;
	return ep->app[key].data;
}

double gossip_endpoint_phi(const struct gossip_endpoint *ep)
{
	return ep->self ? 0.0 : fd_window_phi(&ep->fdw, clock_mono_us());
}

int64_t gossip_endpoint_heartbeat_gap_max_us(const struct gossip_endpoint *ep)
{
	return ep->self ? 0 : ep->fdw.gap_max_us;
}

uint64_t gossip_endpoint_downs(const struct gossip_endpoint *ep)
{
	return ep->downs;
}

int gossiper_receive(struct gossiper *g, const struct msg_in *msg)
{
	switch (msg->verb) {
	case VERB_GOSSIP_SYN: return on_syn(g->m, msg, g);
	case VERB_GOSSIP_ACK: return on_ack(g->m, msg, g);
	case VERB_GOSSIP_ACK2: return on_ack2(g->m, msg, g);
	case VERB_GOSSIP_SHUTDOWN: return on_shutdown(g->m, msg, g);
	case VERB_ECHO: return on_echo(g->m, msg, g);
	default: return COL_EINVAL;
	}
}
