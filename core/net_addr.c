/*
 * net_addr.c — addresses (net.h): numeric parsing, name resolution (at start
 * only: getaddrinfo blocks), formatting, comparison, and the node's own
 * address for `auto`.
 */
#include "core/net.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int net_addr_parse(const char *host, uint16_t port, struct net_addr *out, struct cerr *err)
{
	struct net_addr a;
	memset(&a, 0, sizeof(a));
	struct sockaddr_in *v4 = (struct sockaddr_in *)&a.ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a.ss;
	if (host && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		a.len = sizeof(*v4);
	} else if (host && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		a.len = sizeof(*v6);
	} else {
		return cerr_set(err, COL_EINVAL, "'%s' is not a numeric IPv4 or IPv6 address",
		                host ? host : "(null)");
	}
	*out = a;
	return COL_OK;
}

int net_addr_resolve(const char *host, uint16_t port, struct net_addr *out, struct cerr *err)
{
	if (!host || !*host)
		return cerr_set(err, COL_EINVAL, "empty host name");
	if (net_addr_parse(host, port, out, NULL) == COL_OK)
		return COL_OK;
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0)
		return cerr_set(err, COL_ENOTFOUND, "cannot resolve '%s': %s", host,
		                gai_strerror(rc));
	struct addrinfo *pick = NULL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			pick = ai;
			break;
		}
		if (ai->ai_family == AF_INET6 && !pick)
			pick = ai;
	}
	if (!pick || pick->ai_addrlen > sizeof(out->ss)) {
		freeaddrinfo(res);
		return cerr_set(err, COL_ENOTFOUND, "cannot resolve '%s': no IPv4/IPv6 address",
		                host);
	}
	struct net_addr a;
	memset(&a, 0, sizeof(a));
	memcpy(&a.ss, pick->ai_addr, pick->ai_addrlen);
	a.len = pick->ai_addrlen;
	if (a.ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a.ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&a.ss)->sin6_port = htons(port);
	freeaddrinfo(res);
	*out = a;
	return COL_OK;
}

void net_addr_host(const struct net_addr *a, char *buf, size_t len)
{
	if (!len)
		return;
	buf[0] = 0;
	if (a->ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->ss)->sin_addr, buf,
		          (socklen_t)len);
	else if (a->ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, buf,
		          (socklen_t)len);
	else
		snprintf(buf, len, "?");
}

void net_addr_set_port(struct net_addr *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
	else if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

/* Loopback or IPv6 link-local (or not IP at all): no address for peers on other hosts. */
static bool sockaddr_local_only(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr) ||
		       IN6_IS_ADDR_LINKLOCAL(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return true;
}

static int sockaddr_host(const struct sockaddr *sa, char *out, size_t cap)
{
	const void *src = sa->sa_family == AF_INET
	                          ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
	                          : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	return inet_ntop(sa->sa_family, src, out, (socklen_t)cap) ? 0 : COL_EINVAL;
}

/* The first non-loopback address of `family` the host name resolves to. */
static int own_by_name(const char *name, int family, char *out, size_t cap)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(name, NULL, &hints, &res) != 0)
		return COL_ENOTFOUND;
	int rc = COL_ENOTFOUND;
	for (struct addrinfo *ai = res; ai && rc; ai = ai->ai_next)
		if (!sockaddr_local_only(ai->ai_addr))
			rc = sockaddr_host(ai->ai_addr, out, cap);
	freeaddrinfo(res);
	return rc;
}

/* The first non-loopback address of `family` on an interface that is up. */
static int own_by_interface(int family, char *out, size_t cap)
{
	struct ifaddrs *ifs = NULL;
	if (getifaddrs(&ifs) != 0)
		return COL_ENOTFOUND;
	int rc = COL_ENOTFOUND;
	for (struct ifaddrs *i = ifs; i && rc; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == family && (i->ifa_flags & IFF_UP) &&
		    !(i->ifa_flags & IFF_LOOPBACK) && !sockaddr_local_only(i->ifa_addr))
			rc = sockaddr_host(i->ifa_addr, out, cap);
	freeifaddrs(ifs);
	return rc;
}

int net_own_address(char *out, size_t cap, struct cerr *err)
{
	char name[256];
	if (gethostname(name, sizeof(name)) != 0)
		name[0] = 0;
	name[sizeof(name) - 1] = 0;
	if (name[0] && (own_by_name(name, AF_INET, out, cap) == 0 ||
	                own_by_name(name, AF_INET6, out, cap) == 0))
		return COL_OK;
	if (own_by_interface(AF_INET, out, cap) == 0 || own_by_interface(AF_INET6, out, cap) == 0)
		return COL_OK;
	return cerr_set(err, COL_ENOTFOUND,
	                "no address of our own: host name '%s' resolves to no non-loopback "
	                "address and no interface that is up has one",
	                name);
}

uint16_t net_addr_port(const struct net_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return 0;
}

void net_addr_format(const struct net_addr *a, char *buf, size_t len)
{
	char h[INET6_ADDRSTRLEN];
	net_addr_host(a, h, sizeof(h));
	if (a->ss.ss_family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", h, (unsigned)net_addr_port(a));
	else
		snprintf(buf, len, "%s:%u", h, (unsigned)net_addr_port(a));
}

bool net_addr_same_host(const struct net_addr *a, const struct net_addr *b)
{
	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	if (a->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)&b->ss)->sin_addr.s_addr;
	if (a->ss.ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
		              &((const struct sockaddr_in6 *)&b->ss)->sin6_addr,
		              sizeof(struct in6_addr)) == 0;
	return false;
}

bool net_addr_equal(const struct net_addr *a, const struct net_addr *b)
{
	return net_addr_same_host(a, b) && net_addr_port(a) == net_addr_port(b);
}
