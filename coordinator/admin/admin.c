/*
 * admin.c — libmicrohttpd in external-epoll mode, driven by libev.
 */
#include "coordinator/admin/admin.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/net.h"
#include "core/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#if MHD_VERSION < 0x00097002
typedef int MHD_RESULT;
#else
typedef enum MHD_Result MHD_RESULT;
#endif

/* One open connection, from MHD's STARTED notice to its CLOSED one. */
struct admin_conn {
	struct admin_conn *prev, *next;
	int fd;
	int64_t started_us;
	bool headed; /* its request head arrived */
	bool cut;    /* shut down for a late head */
};

struct admin {
	struct ev_loop *loop;
	struct MHD_Daemon *mhd;
	int listen_fd;
	ev_io io;
	ev_timer timer;
	ev_timer sweep; /* cuts connections whose head is late */
	struct admin_conn *conns;
	char *token; /* NULL: none configured */
	/* HTTPS: PEM texts libmicrohttpd reads for the daemon's life; NULL = plain HTTP */
	char *tls_cert, *tls_key, *tls_trust;
	bool loopback;
	int64_t refusal_logged_us;
	uint64_t refusals_unlogged;
	const struct admin_route *routes;
	size_t n_routes;
	void *ctx;
	struct admin_stats stats;
	char where[NET_ADDR_STRLEN];
};

static void admin_pump(struct admin *a);

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	admin_pump((struct admin *)w->data);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	admin_pump((struct admin *)w->data);
}

/* Let MHD do its work, then arm the timer for its next deadline. */
static void admin_pump(struct admin *a)
{
	MHD_run(a->mhd);
	MHD_UNSIGNED_LONG_LONG ms;
	ev_timer_stop(a->loop, &a->timer);
	if (MHD_get_timeout(a->mhd, &ms) == MHD_YES) {
		ev_timer_set(&a->timer, (double)ms / 1000.0, 0.);
		ev_timer_start(a->loop, &a->timer);
	}
}

/* Shut down every connection whose request head is later than ADMIN_HEADER_TIMEOUT_S;
 * MHD then reads the end of stream and closes it. */
static void on_sweep(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct admin *a = w->data;
	int64_t limit = clock_mono_us() - (int64_t)ADMIN_HEADER_TIMEOUT_S * 1000000;
	bool cut = false;
	for (struct admin_conn *c = a->conns; c; c = c->next) {
		if (c->headed || c->cut || c->fd < 0 || c->started_us > limit)
			continue;
		shutdown(c->fd, SHUT_RDWR);
		c->cut = true;
		cut = true;
		a->stats.header_timeouts++;
	}
	if (cut)
		admin_pump(a);
}

static void on_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                           enum MHD_ConnectionNotificationCode code)
{
	struct admin *a = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		struct admin_conn *c = calloc(1, sizeof(*c));
		if (!c)
			return; /* untracked: the idle timeout still bounds it */
		const union MHD_ConnectionInfo *ci =
		        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		c->fd = ci ? (int)ci->connect_fd : -1;
		c->started_us = clock_mono_us();
		c->next = a->conns;
		if (a->conns)
			a->conns->prev = c;
		a->conns = c;
		a->stats.open_conns++;
		*socket_ctx = c;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_ctx) {
		struct admin_conn *c = *socket_ctx;
		if (c->prev)
			c->prev->next = c->next;
		else
			a->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		free(c);
		a->stats.open_conns--;
		*socket_ctx = NULL;
	}
}

static void mark_headed(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci && ci->socket_context)
		((struct admin_conn *)ci->socket_context)->headed = true;
}

static void client_address(struct MHD_Connection *conn, char *out, size_t cap)
{
	snprintf(out, cap, "?");
	const union MHD_ConnectionInfo *ci =
	        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
		          (socklen_t)cap);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		          out, (socklen_t)cap);
}

/* Equal, in a time that does not depend on where they differ. */
static bool token_equal(const char *given, size_t given_len, const char *want)
{
	size_t want_len = strlen(want);
	unsigned diff = given_len != want_len;
	for (size_t i = 0; i < want_len; i++)
		diff |= (unsigned char)want[i] ^ (unsigned char)(i < given_len ? given[i] : 0);
	return diff == 0;
}

/*
 * May this request reach a guarded route?  NULL, or the reason it may not
 * (*status 401: no or a wrong token; 403: no token configured off loopback).
 */
/* A client certificate that chains to the truststore (verified by GnuTLS). */
static bool client_cert_ok(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return false;
	gnutls_session_t s = (gnutls_session_t)ci->tls_session;
	unsigned n = 0, st = 0;
	return gnutls_certificate_get_peers(s, &n) && n > 0 &&
	       gnutls_certificate_verify_peers2(s, &st) == 0 && st == 0;
}

static const char *guard_refusal(struct admin *a, struct MHD_Connection *conn, int *status)
{
	if (a->tls_trust && client_cert_ok(conn)) {
		a->stats.cert_logins++;
		return NULL;
	}
	if (!a->token) {
		if (a->loopback)
			return NULL;
		*status = 403;
		return "no admin_token is configured and the admin port is not on a loopback "
		       "address: stored data and state-changing endpoints are disabled (set "
		       "admin_token or admin_token_file)";
	}
	const char *h =
	        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (h && strncasecmp(h, "Bearer ", 7) == 0) {
		const char *t = h + 7;
		while (*t == ' ')
			t++;
		if (token_equal(t, strlen(t), a->token))
			return NULL;
	}
	*status = 401;
	return h ? "wrong admin token"
	         : "this endpoint needs the admin token (Authorization: "
	           "Bearer <admin_token>; the tools read "
	           "COLONNADE_ADMIN_TOKEN or COLONNADE_ADMIN_TOKEN_FILE)";
}

/* A refused request: counted, and logged at most once a second with its source. */
static void note_refusal(struct admin *a, struct MHD_Connection *conn, const char *url,
                         const char *why)
{
	a->stats.refused++;
	int64_t now = clock_mono_us();
	if (now - a->refusal_logged_us < 1000000) {
		a->refusals_unlogged++;
		return;
	}
	char from[INET6_ADDRSTRLEN + 1];
	client_address(conn, from, sizeof(from));
	log_warn("admin", "%s: refused %.200s from %s: %s (%llu more refusals not logged)",
	         a->where, url, from, why, (unsigned long long)a->refusals_unlogged);
	a->refusal_logged_us = now;
	a->refusals_unlogged = 0;
}

static MHD_RESULT send_answer(struct MHD_Connection *conn, int status, struct buf *body,
                              const char *ctype)
{
	size_t len;
	uint8_t *data = buf_detach(body, &len);
	struct MHD_Response *r = MHD_create_response_from_buffer(len, data ? data : (void *)"",
	                                                         data ? MHD_RESPMEM_MUST_FREE
	                                                              : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "Connection", "close"); /* one request per connection */
	if (status == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"colonnade admin\"");
	MHD_RESULT ret = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Append key=value (percent-encoded, '&'-separated) to the query being rebuilt. */
static MHD_RESULT query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct buf *b = cls;
	if (b->len)
		buf_put_u8(b, '&');
	for (int part = 0; part < 2; part++) {
		const char *s = part ? value : key;
		if (part)
			buf_put_u8(b, '=');
		for (; s && *s; s++) {
			unsigned char c = (unsigned char)*s;
			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~')
				buf_put_u8(b, c);
			else
				buf_printf(b, "%%%02X", c);
		}
	}
	return b->len > ADMIN_MAX_QUERY ? MHD_NO : MHD_YES;
}

static MHD_RESULT on_request(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload_data,
                             size_t *upload_data_size, void **con_cls)
{
	(void)version;
	(void)upload_data;
	(void)con_cls;
	struct admin *a = cls;
	mark_headed(conn);
	struct buf out;
	buf_init(&out);
	struct jw w;
	a->stats.requests++;
	bool post = strcmp(method, "POST") == 0;
	const struct admin_route *route = NULL;
	for (size_t i = 0; i < a->n_routes && !route; i++)
		if (strcmp(a->routes[i].path, url) == 0)
			route = &a->routes[i];
	const char *refuse = NULL;
	if (!post && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		refuse = "only GET and POST are served";
	else if (route && route->post && !post)
		refuse = "this endpoint changes state: use POST";
	else if (route && !route->post && post)
		refuse = "this endpoint is read-only: use GET";
	int refuse_status = 405;
	if (!refuse && (post || (route && route->guarded))) {
		refuse = guard_refusal(a, conn, &refuse_status);
		if (refuse)
			note_refusal(a, conn, url, refuse);
	}
	if (refuse) {
		jw_init(&w, &out);
		jw_obj(&w);
		jw_key(&w, "error");
		jw_str(&w, refuse);
		jw_obj_end(&w);
		return send_answer(conn, refuse_status, &out, "application/json");
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* a body: ignored */
		buf_release(&out);
		return MHD_YES;
	}
	/* Rebuild the query string (MHD decoded it) for handlers that take options. */
	struct buf qb;
	buf_init(&qb);
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_arg, &qb);
	buf_put_u8(&qb, 0);
	if (!buf_ok(&qb) || qb.len > ADMIN_MAX_QUERY) {
		buf_release(&qb);
		jw_init(&w, &out);
		jw_obj(&w);
		jw_key(&w, "error");
		jw_str(&w, "query string too long");
		jw_obj_end(&w);
		return send_answer(conn, 414, &out, "application/json");
	}
	const char *query = (const char *)qb.data;
	for (size_t i = 0; i < a->n_routes; i++) {
		if (strcmp(a->routes[i].path, url) != 0)
			continue;
		const char *ctype = "application/json";
		int64_t t0 = clock_mono_us();
		int status = a->routes[i].handler(a->ctx, query, &out, &ctype);
		buf_release(&qb);
		a->stats.handler_us += (uint64_t)(clock_mono_us() - t0);
		if (status >= 500)
			a->stats.errors++;
		if (!buf_ok(&out)) {
			buf_release(&out);
			buf_init(&out);
			buf_put_str(&out, "{\"error\":\"out of memory\"}");
			status = 500;
			a->stats.errors++;
		}
		return send_answer(conn, status, &out, ctype);
	}
	buf_release(&qb);
	a->stats.not_found++;
	jw_init(&w, &out);
	jw_obj(&w);
	jw_key(&w, "error");
	char msg[300];
	snprintf(msg, sizeof(msg), "no such endpoint: %.200s", url);
	jw_str(&w, msg);
	jw_key(&w, "endpoints");
	jw_arr(&w);
	for (size_t i = 0; i < a->n_routes; i++)
		jw_str(&w, a->routes[i].path);
	jw_arr_end(&w);
	jw_obj_end(&w);
	return send_answer(conn, 404, &out, "application/json");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct admin *a = cls;
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = 0;
	log_debug("admin", "%s: %s", a->where, line);
}

static void admin_release(struct admin *a)
{
	if (a->token)
		explicit_bzero(a->token, strlen(a->token));
	if (a->tls_key)
		explicit_bzero(a->tls_key, strlen(a->tls_key));
	free(a->token);
	free(a->tls_cert);
	free(a->tls_key);
	free(a->tls_trust);
	free(a);
}

/* A PEM file's text (at most 1 MiB), NUL-terminated. */
static int read_pem(const char *path, char **out, struct cerr *err)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return cerr_set(err, COL_ECONFIG, "admin_encryption_options: %s: %s", path,
		                strerror(errno));
	struct buf b;
	buf_init(&b);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < (1u << 20))
		buf_put(&b, chunk, n);
	fclose(f);
	buf_put_u8(&b, 0);
	if (!buf_ok(&b)) {
		buf_release(&b);
		return cerr_set(err, COL_ENOMEM, "admin: out of memory");
	}
	*out = (char *)buf_detach(&b, &n);
	return 0;
}

/* Check the files with OpenSSL (errors that name the file), then keep their texts. */
static int load_tls(struct admin *a, const struct admin_tls *tls, struct cerr *err)
{
	struct tls_options o = {.certificate = tls->certificate,
	                        .private_key = tls->private_key,
	                        .truststore = tls->truststore,
	                        .require_client_auth = tls->truststore && *tls->truststore,
	                        .what = "admin_encryption_options"};
	struct tls_ctx *check = NULL;
	int rc = tls_ctx_new(&o, TLS_SERVER, &check, err);
	tls_ctx_unref(check);
	if (!rc)
		rc = read_pem(tls->certificate, &a->tls_cert, err);
	if (!rc)
		rc = read_pem(tls->private_key, &a->tls_key, err);
	if (!rc && tls->truststore && *tls->truststore)
		rc = read_pem(tls->truststore, &a->tls_trust, err);
	return rc;
}

static int listen_on(struct admin *a, const struct net_addr *addr, struct cerr *err)
{
	a->listen_fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (a->listen_fd < 0)
		return cerr_set(err, COL_EIO, "admin: socket: %s", strerror(errno));
	int one = 1;
	setsockopt(a->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(a->listen_fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 ||
	    listen(a->listen_fd, ADMIN_BACKLOG) < 0) {
		int e = errno;
		close(a->listen_fd);
		return cerr_set(err, COL_EIO, "admin: listen on %s: %s", a->where, strerror(e));
	}
	return 0;
}

static struct MHD_Daemon *start_mhd(struct admin *a, bool v6)
{
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (v6)
		flags |= MHD_USE_IPv6;
	struct MHD_OptionItem o[12];
	size_t n = 0;
#define OPT(k, v, p) (o[n++] = (struct MHD_OptionItem){(k), (intptr_t)(v), (p)})
	OPT(MHD_OPTION_LISTEN_SOCKET, a->listen_fd, NULL);
	OPT(MHD_OPTION_CONNECTION_LIMIT, ADMIN_MAX_CONNS, NULL);
	OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, ADMIN_MAX_CONNS_PER_IP, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, ADMIN_CONN_TIMEOUT_S, NULL);
	OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_conn_notify, a);
	OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, a);
	if (a->tls_cert) {
		flags |= MHD_USE_TLS;
		OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, a->tls_cert);
		OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, a->tls_key);
		if (a->tls_trust)
			OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, a->tls_trust);
	}
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, a, MHD_OPTION_ARRAY, o,
	                        MHD_OPTION_END);
}

int admin_new(struct ev_loop *loop, const char *address, uint16_t port,
              const struct admin_route *routes, size_t n_routes, void *ctx, const char *token,
              struct admin **out, struct cerr *err)
{
	return admin_new_tls(loop, address, port, routes, n_routes, ctx, token, NULL, out, err);
}

int admin_new_tls(struct ev_loop *loop, const char *address, uint16_t port,
                  const struct admin_route *routes, size_t n_routes, void *ctx, const char *token,
                  const struct admin_tls *tls, struct admin **out, struct cerr *err)
{
	struct net_addr addr;
	if (net_addr_parse(address, port, &addr, err)) {
		cerr_prefix(err, "admin");
		return COL_EINVAL;
	}
	struct admin *a = calloc(1, sizeof(*a));
	if (!a)
		return cerr_set(err, COL_ENOMEM, "admin: out of memory");
	a->loop = loop;
	a->routes = routes;
	a->n_routes = n_routes;
	a->ctx = ctx;
	if (addr.ss.ss_family == AF_INET)
		a->loopback =
		        (ntohl(((struct sockaddr_in *)&addr.ss)->sin_addr.s_addr) >> 24) == 127;
	else
		a->loopback = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&addr.ss)->sin6_addr);
	net_addr_format(&addr, a->where, sizeof(a->where));
	int rc = 0;
	if (token && *token && !(a->token = strdup(token)))
		rc = cerr_set(err, COL_ENOMEM, "admin: out of memory");
	if (!rc && tls)
		rc = load_tls(a, tls, err);
	if (!rc)
		rc = listen_on(a, &addr, err);
	if (rc) {
		admin_release(a);
		return rc;
	}
	a->mhd = start_mhd(a, addr.ss.ss_family == AF_INET6);
	if (!a->mhd) {
		close(a->listen_fd);
		admin_release(a);
		return cerr_set(err, COL_EIO, "admin: libmicrohttpd refused to start on %s%s",
		                address, tls ? " (HTTPS)" : "");
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		MHD_stop_daemon(a->mhd);
		close(a->listen_fd);
		admin_release(a);
		return cerr_set(err, COL_EIO, "admin: libmicrohttpd has no epoll fd");
	}
	ev_io_init(&a->io, on_io, info->epoll_fd, EV_READ);
	a->io.data = a;
	ev_init(&a->timer, on_timer);
	a->timer.data = a;
	ev_io_start(loop, &a->io);
	ev_timer_init(&a->sweep, on_sweep, 0.25, 0.25);
	a->sweep.data = a;
	ev_timer_start(loop, &a->sweep);
	admin_pump(a);
	*out = a;
	return 0;
}

void admin_free(struct admin *a)
{
	if (!a)
		return;
	ev_io_stop(a->loop, &a->io);
	ev_timer_stop(a->loop, &a->timer);
	ev_timer_stop(a->loop, &a->sweep);
	/* Quiesce hands the listening socket back to us (we opened it), so it is
	 * closed exactly once whatever MHD's version does with given sockets. */
	MHD_socket fd = MHD_quiesce_daemon(a->mhd);
	MHD_stop_daemon(a->mhd);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	admin_release(a);
}

void admin_get_stats(const struct admin *a, struct admin_stats *out)
{
	*out = a->stats;
}

bool admin_on_loopback(const struct admin *a)
{
	return a->loopback;
}
