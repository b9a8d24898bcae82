/*
 * admin_client.c — blocking HTTP/1.0 GET (and empty POST) with a deadline, over one socket.
 */
#include "cli/lib/admin_client.h"
#include "core/net.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* A token goes into a header line: visible ASCII only. */
static int token_check(const char *tok, struct cerr *err)
{
	for (const char *p = tok; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return cerr_set(err, COL_EINVAL,
			                "the admin token may hold only visible ASCII characters");
	return 0;
}

/* $COLONNADE_ADMIN_CAFILE and friends into t's HTTPS fields. */
static int tls_from_env(struct admin_target *t, struct cerr *err)
{
	static const char *const vars[] = {"COLONNADE_ADMIN_CAFILE", "COLONNADE_ADMIN_CERTFILE",
	                                   "COLONNADE_ADMIN_KEYFILE"};
	char *dst[] = {t->cafile, t->certfile, t->keyfile};
	for (int i = 0; i < 3; i++) {
		const char *v = getenv(vars[i]);
		dst[i][0] = 0;
		if (!v || !*v)
			continue;
		if (strlen(v) >= sizeof(t->cafile))
			return cerr_set(err, COL_EINVAL, "%s is longer than %zu bytes", vars[i],
			                sizeof(t->cafile) - 1);
		memcpy(dst[i], v, strlen(v) + 1);
	}
	if ((t->certfile[0] || t->keyfile[0]) && !t->cafile[0])
		return cerr_set(err, COL_EINVAL,
		                "COLONNADE_ADMIN_CERTFILE/KEYFILE need COLONNADE_ADMIN_CAFILE (the "
		                "CA of the node's HTTPS certificate)");
	return 0;
}

int admin_target_token_from_env(struct admin_target *t, struct cerr *err)
{
	if (tls_from_env(t, err))
		return COL_EINVAL;
	const char *tok = getenv("COLONNADE_ADMIN_TOKEN");
	const char *file = getenv("COLONNADE_ADMIN_TOKEN_FILE");
	t->token[0] = 0;
	if (tok && *tok) {
		if (strlen(tok) >= sizeof(t->token))
			return cerr_set(err, COL_EINVAL,
			                "COLONNADE_ADMIN_TOKEN is longer than %zu bytes",
			                sizeof(t->token) - 1);
		memcpy(t->token, tok, strlen(tok) + 1);
		return token_check(t->token, err);
	}
	if (!file || !*file)
		return 0;
	FILE *f = fopen(file, "re");
	if (!f)
		return cerr_set(err, COL_EINVAL, "COLONNADE_ADMIN_TOKEN_FILE: cannot read %s: %s",
		                file, strerror(errno));
	char *line = fgets(t->token, sizeof(t->token), f);
	fclose(f);
	if (!line)
		t->token[0] = 0;
	t->token[strcspn(t->token, "\r\n")] = 0;
	size_t n = strlen(t->token);
	while (n && (t->token[n - 1] == ' ' || t->token[n - 1] == '\t'))
		t->token[--n] = 0;
	if (!n)
		return cerr_set(err, COL_EINVAL, "COLONNADE_ADMIN_TOKEN_FILE: %s holds no token",
		                file);
	return token_check(t->token, err);
}

int admin_target_parse(const char *spec, uint16_t default_port, struct admin_target *out,
                       struct cerr *err)
{
	struct admin_target t = {.port = default_port};
	char tmp[300];
	if (!spec || !*spec)
		return cerr_set(err, COL_EINVAL, "empty host");
	if (strlen(spec) >= sizeof(tmp))
		return cerr_set(err, COL_EINVAL, "host '%.40s...' is too long", spec);
	snprintf(tmp, sizeof(tmp), "%s", spec);
	char *host = tmp, *port = NULL;
	if (tmp[0] == '[') {
		char *close = strchr(tmp, ']');
		if (!close || (close[1] && close[1] != ':'))
			return cerr_set(err, COL_EINVAL, "host '%s': unbalanced '['", spec);
		*close = 0;
		host = tmp + 1;
		if (close[1] == ':')
			port = close + 2;
	} else {
		char *colon = strchr(tmp, ':');
		if (colon && !strchr(colon + 1, ':')) {
			*colon = 0;
			port = colon + 1;
		}
	}
	if (!*host)
		return cerr_set(err, COL_EINVAL, "host '%s': empty host name", spec);
	if (port) {
		char *end;
		errno = 0;
		long p = strtol(port, &end, 10);
		if (errno || end == port || *end || p < 1 || p > 65535)
			return cerr_set(err, COL_EINVAL, "host '%s': port must be 1..65535", spec);
		t.port = (uint16_t)p;
	}
	if (admin_target_token_from_env(&t, err))
		return COL_EINVAL;
	if (!strcmp(host, "auto")) {
		/* This host's own address: where a node with listen_address auto listens. */
		if (net_own_address(t.host, sizeof(t.host), err))
			return COL_EINVAL;
		*out = t;
		return 0;
	}
	if (strlen(host) >= sizeof(t.host))
		return cerr_set(err, COL_EINVAL, "host '%.40s...' is too long", spec);
	memcpy(t.host, host, strlen(host) + 1);
	*out = t;
	return 0;
}

static int remaining_ms(int64_t deadline)
{
	int64_t left = deadline - clock_mono_ms();
	return left < 0 ? 0 : (int)left;
}

static int connect_to(const struct admin_target *t, int64_t deadline, int *out, struct cerr *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
	struct addrinfo *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", t->port);
	int g = getaddrinfo(t->host, port, &hints, &res);
	if (g)
		return cerr_set(err, COL_EIO, "cannot resolve %s: %s", t->host, gai_strerror(g));
	int rc = COL_EIO;
	char why[256] = "no address";
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			snprintf(why, sizeof(why), "socket: %s", strerror(errno));
			continue;
		}
		if (t->bind_host[0]) {
			struct addrinfo bh = {.ai_family = ai->ai_family,
			                      .ai_socktype = SOCK_STREAM,
			                      .ai_flags = AI_NUMERICHOST};
			struct addrinfo *br = NULL;
			if (getaddrinfo(t->bind_host, "0", &bh, &br) ||
			    bind(fd, br->ai_addr, br->ai_addrlen) < 0) {
				snprintf(why, sizeof(why), "bind to source %s: %s", t->bind_host,
				         br ? strerror(errno) : "not a numeric address");
				if (br)
					freeaddrinfo(br);
				close(fd);
				continue;
			}
			freeaddrinfo(br);
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			snprintf(why, sizeof(why), "%s", strerror(errno));
			close(fd);
			continue;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int pr = poll(&pfd, 1, remaining_ms(deadline));
		if (pr == 0) {
			snprintf(why, sizeof(why), "connect timed out");
			close(fd);
			rc = COL_ETIMEDOUT;
			continue;
		}
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (pr < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
			snprintf(why, sizeof(why), "%s", strerror(soerr ? soerr : errno));
			close(fd);
			continue;
		}
		freeaddrinfo(res);
		*out = fd;
		return 0;
	}
	freeaddrinfo(res);
	return cerr_set(err, rc, "cannot connect to %s:%u: %s", t->host, t->port, why);
}

/* The request head (with the token when there is one), as snprintf counts it. */
static int format_request(const struct admin_target *t, const char *method, const char *path,
                          char *req, size_t cap)
{
	return snprintf(
	        req, cap,
	        "%s %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: colonnade\r\nAccept: "
	        "application/json\r\n%s%s%s%sConnection: close\r\n\r\n",
	        method, path, t->host, strcmp(method, "POST") == 0 ? "Content-Length: 0\r\n" : "",
	        t->token[0] ? "Authorization: Bearer " : "", t->token, t->token[0] ? "\r\n" : "");
}

/* One exchange's connection: the socket and, over HTTPS, its TLS session. */
struct io {
	int fd;
	struct tls_ctx *ctx;
	struct tls_conn *tls;
};

static void io_close(struct io *c)
{
	tls_conn_free(c->tls);
	tls_ctx_unref(c->ctx);
	close(c->fd);
}

/* Wait until the socket is ready for `ev` (POLLIN/POLLOUT); false at the deadline. */
static bool io_wait(const struct io *c, short ev, int64_t deadline)
{
	struct pollfd pfd = {.fd = c->fd, .events = ev};
	return poll(&pfd, 1, remaining_ms(deadline)) > 0;
}

static int io_tls_start(const struct admin_target *t, struct io *c, int64_t deadline,
                        struct cerr *err)
{
	struct tls_options o = {.certificate = t->certfile[0] ? t->certfile : NULL,
	                        .private_key = t->keyfile[0] ? t->keyfile : NULL,
	                        .truststore = t->cafile,
	                        .what = "COLONNADE_ADMIN_CAFILE/_CERTFILE/_KEYFILE"};
	if (tls_ctx_new(&o, TLS_CLIENT, &c->ctx, err))
		return COL_EINVAL;
	c->tls = tls_conn_new(c->ctx, c->fd);
	if (!c->tls)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	tls_conn_verify_name(c->tls, t->host);
	for (;;) {
		int r = tls_conn_handshake(c->tls);
		if (r == TLS_OK)
			return 0;
		if (r == TLS_ERROR)
			return cerr_set(err, COL_EIO, "%s:%u: TLS handshake failed: %s", t->host,
			                t->port, tls_conn_error(c->tls));
		if (!io_wait(c, r == TLS_WANT_READ ? POLLIN : POLLOUT, deadline))
			return cerr_set(err, COL_ETIMEDOUT, "%s:%u: TLS handshake timed out",
			                t->host, t->port);
	}
}

/* > 0 bytes moved; 0 at the peer's close (recv); -1 with *ev set: wait for it and retry;
 * -2: failed, why in `why`. */
static ssize_t io_move(struct io *c, bool out, void *p, size_t n, short *ev, char *why, size_t cap)
{
	if (c->tls) {
		ssize_t r = out ? tls_conn_write(c->tls, p, n) : tls_conn_read(c->tls, p, n);
		if (r > 0)
			return r;
		if (r == TLS_CLOSED && !out)
			return 0;
		if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
			*ev = r == TLS_WANT_READ ? POLLIN : POLLOUT;
			return -1;
		}
		snprintf(why, cap, "%s", tls_conn_error(c->tls));
		return -2;
	}
	ssize_t r = out ? send(c->fd, p, n, MSG_NOSIGNAL) : recv(c->fd, p, n, 0);
	if (r >= 0)
		return r;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		*ev = out ? POLLOUT : POLLIN;
		return -1;
	}
	snprintf(why, cap, "%s", strerror(errno));
	return -2;
}

/* The whole answer into `in` (bounded by ADMIN_MAX_RESPONSE). */
static int read_answer(const struct admin_target *t, struct io *c, int64_t deadline, struct buf *in,
                       struct cerr *err)
{
	char why[300];
	for (;;) {
		if (buf_reserve(in, 16384))
			return cerr_set(err, COL_ENOMEM, "out of memory");
		short ev = POLLIN;
		ssize_t r = io_move(c, false, in->data + in->len, 16384, &ev, why, sizeof(why));
		if (r == -1) {
			if (!io_wait(c, ev, deadline))
				return cerr_set(err, COL_ETIMEDOUT,
				                "%s:%u: no complete answer in time", t->host,
				                t->port);
			continue;
		}
		if (r == -2)
			return cerr_set(err, COL_EIO, "%s:%u: recv: %s", t->host, t->port, why);
		if (r == 0)
			return 0;
		in->len += (size_t)r;
		if (in->len > ADMIN_MAX_RESPONSE)
			return cerr_set(err, COL_ETOOBIG, "%s:%u: answer larger than %u bytes",
			                t->host, t->port, ADMIN_MAX_RESPONSE);
	}
}

/* Connect (and, over HTTPS, shake hands), send the request, read the whole answer. */
static int exchange(const struct admin_target *t, const char *req, size_t n, int64_t deadline,
                    struct buf *in, struct cerr *err)
{
	struct io c = {.fd = -1};
	int rc = connect_to(t, deadline, &c.fd, err);
	if (rc)
		return rc;
	if (t->cafile[0])
		rc = io_tls_start(t, &c, deadline, err);
	char why[300];
	for (size_t off = 0; !rc && off < n;) {
		short ev = POLLOUT;
		ssize_t w = io_move(&c, true, (void *)(req + off), n - off, &ev, why, sizeof(why));
		if (w == -1 && !io_wait(&c, ev, deadline))
			rc = cerr_set(err, COL_ETIMEDOUT, "%s:%u: timed out sending", t->host,
			              t->port);
		else if (w == -2)
			rc = cerr_set(err, COL_EIO, "%s:%u: send: %s", t->host, t->port, why);
		else if (w > 0)
			off += (size_t)w;
	}
	if (!rc)
		rc = read_answer(t, &c, deadline, in, err);
	io_close(&c);
	return rc;
}

static int request(const struct admin_target *t, const char *method, const char *path, int *status,
                   char **body, size_t *len, struct cerr *err)
{
	int64_t deadline = clock_mono_ms() + (t->timeout_ms > 0 ? t->timeout_ms : 5000);
	char req[2048];
	int n = format_request(t, method, path, req, sizeof(req));
	if (n < 0 || (size_t)n >= sizeof(req))
		return cerr_set(err, COL_EINVAL, "request path too long");
	struct buf in;
	buf_init(&in);
	int rc = exchange(t, req, (size_t)n, deadline, &in, err);
	if (rc) {
		buf_release(&in);
		return rc;
	}
	buf_put_u8(&in, 0);
	if (!buf_ok(&in)) {
		buf_release(&in);
		return cerr_set(err, COL_ENOMEM, "out of memory");
	}
	char *text = (char *)in.data;
	int major, minor, st;
	if (sscanf(text, "HTTP/%d.%d %d", &major, &minor, &st) != 3) {
		buf_release(&in);
		return cerr_set(err, COL_EPROTO, "%s:%u: the answer is not HTTP", t->host, t->port);
	}
	char *sep = strstr(text, "\r\n\r\n");
	if (!sep) {
		buf_release(&in);
		return cerr_set(err, COL_EPROTO, "%s:%u: truncated HTTP answer", t->host, t->port);
	}
	size_t hlen = (size_t)(sep + 4 - text);
	size_t blen = in.len - 1 - hlen;
	/* Honour Content-Length when present: a short body means a cut answer. */
	for (char *h = strstr(text, "\r\n"); h && h < sep; h = strstr(h + 2, "\r\n")) {
		if (strncasecmp(h + 2, "Content-Length:", 15) == 0) {
			long cl = strtol(h + 17, NULL, 10);
			if (cl >= 0 && (size_t)cl > blen) {
				buf_release(&in);
				return cerr_set(err, COL_EPROTO,
				                "%s:%u: answer cut short (%zu of %ld bytes)",
				                t->host, t->port, blen, cl);
			}
			if (cl >= 0)
				blen = (size_t)cl;
		}
	}
	char *b = malloc(blen + 1);
	if (!b) {
		buf_release(&in);
		return cerr_set(err, COL_ENOMEM, "out of memory");
	}
	memcpy(b, text + hlen, blen);
	b[blen] = 0;
	buf_release(&in);
	*status = st;
	*body = b;
	*len = blen;
	return 0;
}

int admin_get(const struct admin_target *t, const char *path, int *status, char **body, size_t *len,
              struct cerr *err)
{
	return request(t, "GET", path, status, body, len, err);
}

static int request_json(const struct admin_target *t, const char *method, const char *path,
                        struct json **out, struct cerr *err)
{
	int status;
	char *body;
	size_t len;
	int rc = request(t, method, path, &status, &body, &len, err);
	if (rc)
		return rc;
	struct json *j = NULL;
	rc = json_parse(body, len, &j, err);
	if (status != 200) {
		const char *msg = rc == 0 ? json_str(json_get(j, "error"), NULL) : NULL;
		rc = cerr_set(err, COL_EIO, "%s:%u%s: HTTP %d%s%s", t->host, t->port, path, status,
		              msg ? ": " : "", msg ? msg : "");
		json_free(j);
		free(body);
		return rc;
	}
	free(body);
	if (rc) {
		cerr_prefix(err, "%s:%u%s: bad JSON answer", t->host, t->port, path);
		return rc;
	}
	*out = j;
	return 0;
}

int admin_get_json(const struct admin_target *t, const char *path, struct json **out,
                   struct cerr *err)
{
	return request_json(t, "GET", path, out, err);
}

int admin_post_json(const struct admin_target *t, const char *path, struct json **out,
                    struct cerr *err)
{
	return request_json(t, "POST", path, out, err);
}
