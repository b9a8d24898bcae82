/*
 * gossiper_seeds.c — the seeds: every address each seed name resolves to,
 * looked up again at every try without blocking the loop (getaddrinfo_a, or
 * the configured resolver), and the choice of the seed a round gossips to.
 */
#include "gossip/gossiper_int.h"

#include "core/log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * Cancel a lookup; if the resolver is already working on it, wait a moment for
 * it to finish, and if it does not, leave the small block to the resolver
 * (freeing memory it still writes to would be worse).
 */
void gsp_seed_lookup_abandon(struct seed_lookup *lk)
{
	if (!lk)
		return;
	int rc = gai_cancel(&lk->cb);
	if (rc == EAI_NOTCANCELED) {
		const struct gaicb *list[1] = {&lk->cb};
		struct timespec t = {.tv_sec = 1};
		(void)gai_suspend(list, 1, &t);
		if (gai_error(&lk->cb) == EAI_INPROGRESS) {
			log_debug(MOD, "a seed lookup of %s is still running at shutdown",
			          lk->name);
			return;
		}
	}
	if (gai_error(&lk->cb) == 0 && lk->cb.ar_result)
		freeaddrinfo(lk->cb.ar_result);
	free(lk);
}

uint16_t gsp_seed_port(const struct gossiper *g, const struct seed *s)
{
	return s->port ? s->port : net_addr_port(messaging_listen_addr(g->m));
}

bool gsp_is_seed(const struct gossiper *g, const struct net_addr *a)
{
	for (unsigned i = 0; i < g->n_seeds; i++)
		for (unsigned k = 0; k < g->seeds[i].n_addrs; k++)
			if (net_addr_equal(&g->seeds[i].addrs[k], a))
				return true;
	return false;
}

/* Start resolving s->host for the next try (if no lookup is in flight). */
void gsp_seed_lookup_start(struct gossiper *g, struct seed *s)
{
	if (s->numeric || s->lk || g->resolve)
		return;
	size_t n = strlen(s->host) + 1;
	struct seed_lookup *lk = calloc(1, sizeof(*lk) + n);
	if (!lk)
		return;
	memcpy(lk->name, s->host, n);
	lk->hints.ai_family = AF_UNSPEC;
	lk->hints.ai_socktype = SOCK_STREAM;
	lk->cb.ar_name = lk->name;
	lk->cb.ar_request = &lk->hints;
	struct gaicb *list[1] = {&lk->cb};
	int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (rc != 0) {
		g->st.seed_resolve_failures++;
		if (!s->failing)
			log_warn(MOD, "seed %s: cannot start resolving it: %s; will try again",
			         s->host, gai_strerror(rc));
		s->failing = true;
		free(lk);
		return;
	}
	s->lk = lk;
}

/* A resolution's outcome: the new address set, or the reason there is none. */
static void seed_resolved(struct gossiper *g, struct seed *s, unsigned n, const char *why)
{
	s->n_addrs = n; /* a name that went away no longer names those addresses */
	if (n > 0) {
		if (s->failing)
			log_info(MOD, "seed %s resolves again (%u address%s)", s->host, n,
			         n == 1 ? "" : "es");
		s->failing = false;
		return;
	}
	g->st.seed_resolve_failures++;
	if (!s->failing)
		log_warn(MOD, "seed %s: cannot resolve it: %s; will try again", s->host, why);
	s->failing = true;
}

/* Take the result of a finished lookup, if any: every IPv4 and IPv6 address, once each. */
static void seed_lookup_collect(struct gossiper *g, struct seed *s)
{
	if (g->resolve && !s->numeric) {
		struct net_addr got[GOSSIP_SEED_MAX_ADDRS];
		int n = g->resolve(g->resolve_ctx, s->host, got, GOSSIP_SEED_MAX_ADDRS);
		unsigned k = 0;
		for (int i = 0; i < n && i < GOSSIP_SEED_MAX_ADDRS; i++) {
			s->addrs[k] = got[i];
			net_addr_set_port(&s->addrs[k++], gsp_seed_port(g, s));
		}
		seed_resolved(g, s, k, "the resolver found no address");
		return;
	}
	if (!s->lk)
		return;
	int e = gai_error(&s->lk->cb);
	if (e == EAI_INPROGRESS)
		return;
	struct addrinfo *res = s->lk->cb.ar_result;
	unsigned n = 0;
	for (struct addrinfo *ai = e == 0 ? res : NULL; ai && n < GOSSIP_SEED_MAX_ADDRS;
	     ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(s->addrs[0].ss))
			continue;
		struct net_addr a;
		memset(&a, 0, sizeof(a));
		memcpy(&a.ss, ai->ai_addr, ai->ai_addrlen);
		a.len = ai->ai_addrlen;
		net_addr_set_port(&a, gsp_seed_port(g, s));
		bool dup = false;
		for (unsigned k = 0; k < n && !dup; k++)
			dup = net_addr_equal(&s->addrs[k], &a);
		if (!dup)
			s->addrs[n++] = a;
	}
	seed_resolved(g, s, n, e ? gai_strerror(e) : "no IPv4/IPv6 address");
	if (res)
		freeaddrinfo(res);
	free(s->lk);
	s->lk = NULL;
}

/*
 * Gossip to one seed address, picked at random among every address of every
 * seed that is not us.  Names are looked up again at every try: the try uses
 * the addresses found by the previous lookups and starts the next ones, so
 * resolution never blocks the loop and a seed that moved is found one try
 * later; a name with several addresses (a DNS round robin, a service name
 * standing for all the seeds of a datacenter) contributes all of them.
 */
bool gsp_gossip_to_seed(struct gossiper *g)
{
	unsigned total = 0;
	for (unsigned i = 0; i < g->n_seeds; i++) {
		struct seed *s = &g->seeds[i];
		seed_lookup_collect(g, s);
		gsp_seed_lookup_start(g, s);
		for (unsigned k = 0; k < s->n_addrs; k++)
			total += !messaging_is_own_addr(g->m, &s->addrs[k]);
	}
	if (total == 0)
		return false;
	unsigned pick = gsp_rng_below(g, total);
	for (unsigned i = 0; i < g->n_seeds; i++) {
		struct seed *s = &g->seeds[i];
		for (unsigned k = 0; k < s->n_addrs; k++) {
			if (messaging_is_own_addr(g->m, &s->addrs[k]))
				continue; /* we are this seed */
			if (pick-- == 0) {
				gsp_send_syn(g, &s->addrs[k]);
				return true;
			}
		}
	}
	return false;
}

/* Every seed is us: a one-node cluster (or the first seed), alone by design. */
bool gsp_seeds_all_self(const struct gossiper *g)
{
	for (unsigned i = 0; i < g->n_seeds; i++) {
		const struct seed *s = &g->seeds[i];
		if (s->n_addrs == 0)
			return false;
		for (unsigned k = 0; k < s->n_addrs; k++)
			if (!messaging_is_own_addr(g->m, &s->addrs[k]))
				return false;
	}
	return true;
}
