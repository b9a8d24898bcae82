/*
 * cqlconn.c — one asynchronous CQL connection on a caller's libev loop: I/O,
 * stream ids, deadlines, transparent re-prepare (see cqlclient.h, layer 2).
 */
#include "cli/lib/cqlclient.h"
#include "cli/lib/cqlclient_int.h"

#include "core/clock.h"
#include "core/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/*
 * v4 stream ids are 0..32767; drivers use up to 32768 per connection.  Our
 * default of 1024 is far above what one shell needs and what one bench
 * connection profits from (the server answers in order per connection anyway).
 */
#define STREAMS_MAX        32768u
#define DEFAULT_INFLIGHT   1024u
#define DEFAULT_MAX_OUT    (64u * 1024 * 1024)
#define DEFAULT_CONNECT_MS 5000u
#define DEFAULT_REQUEST_MS 12000u /* cqlsh's request timeout is 10 s; leave the server room */
#define READ_CHUNK         (64u * 1024)
/* How often pending requests are checked against their deadline. */
#define TIMEOUT_TICK_S 0.1

enum slot_state { SLOT_FREE, SLOT_BUSY, SLOT_ORPHAN, SLOT_REPREPARE };
enum req_kind { REQ_HANDSHAKE_OPTIONS, REQ_HANDSHAKE_STARTUP, REQ_HANDSHAKE_AUTH, REQ_USER };

/* Where a prepared id sits inside a saved frame, for re-preparing. */
struct id_ref {
	size_t off; /* offset of the [short bytes] length */
	struct cqlprepared *ps;
};

struct slot {
	uint8_t state;
	uint8_t kind;
	bool reprepared;
	cqlconn_result_fn cb;
	void *arg;
	int64_t deadline_ms;
	/* EXECUTE / BATCH with prepared statements: the frame as sent and its ids. */
	struct buf frame;
	struct id_ref *ids; /* &one_ref for EXECUTE (no allocation per request) */
	struct id_ref one_ref;
	uint16_t n_ids;
	struct cqlprepared *repreparing; /* SLOT_REPREPARE: which statement */
	uint32_t seq;                    /* which request holds the slot (written marks) */
	int16_t dl_prev, dl_next;        /* the deadline list (-1: none) */
	bool dl_linked;
};

/* Where a user request's frame ends in the byte stream sent on the connection:
 * once stats.bytes_out reaches `end`, opts.on_written is told. */
struct wmark {
	uint64_t end;
	uint32_t seq;
	int16_t id;
};

struct cqlconn {
	struct ev_loop *loop;
	ev_io rio, wio;
	ev_timer connect_timer, tick;
	int fd;
	bool connected, ready, failed, freeing;
	int busy;       /* callback nesting depth: free only at 0 */
	char peer[80];  /* numeric "[v6]:port" */
	char host[256]; /* as given: what a TLS certificate must name */
	char failure[CERR_MSG_MAX];
	struct cqlconn_opts opts;
	cqlconn_ready_fn on_ready;
	void *ready_arg;

	struct slot *slots; /* opts.max_inflight entries, indexed by stream id */
	int16_t *free_ids;
	unsigned n_free;
	unsigned orphans;
	/* Slots waiting for an answer in the order they were taken, which is their
	 * deadlines' order (one timeout per connection, a monotonic clock): the
	 * timeout tick looks only at the expired head, never at every slot. */
	int16_t dl_head, dl_tail;

	struct buf in, out;
	struct cqlconn_stats stats;
	struct tls_conn *tls; /* NULL: plaintext */

	/* opts.on_written: requests not yet wholly written, in stream order (one
	 * per request in flight at most, so max_inflight entries). */
	struct wmark *marks;
	unsigned m_head, m_len;
	uint32_t next_seq;
};

static void conn_fail(struct cqlconn *c, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void slot_release(struct cqlconn *c, int16_t id);

static void conn_really_free(struct cqlconn *c)
{
	for (unsigned i = 0; i < c->opts.max_inflight; i++) {
		buf_release(&c->slots[i].frame);
		if (c->slots[i].ids != &c->slots[i].one_ref)
			free(c->slots[i].ids);
	}
	free(c->slots);
	free(c->free_ids);
	free(c->marks);
	buf_release(&c->in);
	buf_release(&c->out);
	tls_conn_free(c->tls);
	free(c);
}

static void leave(struct cqlconn *c)
{
	if (--c->busy == 0 && c->freeing)
		conn_really_free(c);
}

static void stop_io(struct cqlconn *c)
{
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	ev_timer_stop(c->loop, &c->connect_timer);
	ev_timer_stop(c->loop, &c->tick);
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

/* Fail the connection and every pending request (each callback once). */
static void conn_fail(struct cqlconn *c, int code, const char *fmt, ...)
{
	if (c->failed)
		return;
	c->failed = true;
	c->ready = false;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->failure, sizeof(c->failure), fmt, ap);
	va_end(ap);
	stop_io(c);
	c->m_len = 0; /* nothing more will be written */
	c->busy++;
	bool was_handshaking = c->on_ready != NULL;
	for (unsigned i = 0; i < c->opts.max_inflight; i++) {
		struct slot *s = &c->slots[i];
		if (s->state == SLOT_FREE)
			continue;
		bool user = s->kind == REQ_USER && s->state != SLOT_ORPHAN;
		cqlconn_result_fn cb = s->cb;
		void *arg = s->arg;
		slot_release(c, (int16_t)i);
		if (user && cb)
			cb(c, arg, code, NULL, c->failure);
	}
	if (was_handshaking && c->on_ready) {
		cqlconn_ready_fn f = c->on_ready;
		c->on_ready = NULL;
		f(c, c->ready_arg, code, c->failure);
	}
	leave(c);
}

static void dl_unlink(struct cqlconn *c, int16_t id)
{
	struct slot *s = &c->slots[id];
	if (!s->dl_linked)
		return;
	if (s->dl_prev >= 0)
		c->slots[s->dl_prev].dl_next = s->dl_next;
	else
		c->dl_head = s->dl_next;
	if (s->dl_next >= 0)
		c->slots[s->dl_next].dl_prev = s->dl_prev;
	else
		c->dl_tail = s->dl_prev;
	s->dl_linked = false;
	s->dl_prev = s->dl_next = -1;
}

static void dl_append(struct cqlconn *c, int16_t id)
{
	struct slot *s = &c->slots[id];
	s->dl_prev = c->dl_tail;
	s->dl_next = -1;
	if (c->dl_tail >= 0)
		c->slots[c->dl_tail].dl_next = id;
	else
		c->dl_head = id;
	c->dl_tail = id;
	s->dl_linked = true;
}

static int16_t slot_take(struct cqlconn *c)
{
	if (c->n_free == 0)
		return -1;
	int16_t id = c->free_ids[--c->n_free];
	struct slot *s = &c->slots[id];
	s->state = SLOT_BUSY;
	s->reprepared = false;
	s->n_ids = 0;
	s->repreparing = NULL;
	s->seq = ++c->next_seq;
	buf_reset(&s->frame);
	s->deadline_ms = c->opts.request_timeout_ms == UINT32_MAX
	                         ? INT64_MAX
	                         : clock_mono_ms() + c->opts.request_timeout_ms;
	dl_append(c, id);
	return id;
}

static void slot_release(struct cqlconn *c, int16_t id)
{
	struct slot *s = &c->slots[id];
	if (s->state == SLOT_ORPHAN)
		c->orphans--;
	dl_unlink(c, id);
	s->state = SLOT_FREE;
	s->cb = NULL;
	s->arg = NULL;
	if (s->ids != &s->one_ref)
		free(s->ids);
	s->ids = NULL;
	s->n_ids = 0;
	/* Keep small frame buffers for reuse; drop big ones. */
	if (s->frame.cap > 64 * 1024)
		buf_release(&s->frame);
	else
		buf_reset(&s->frame);
	c->free_ids[c->n_free++] = id;
}

static void want_write(struct cqlconn *c)
{
	if (c->connected && !c->failed && c->out.len && !ev_is_active(&c->wio))
		ev_io_start(c->loop, &c->wio);
}

static void send_handshake(struct cqlconn *c, enum req_kind kind);

/* Go on with the TLS handshake; once done, the CQL handshake starts. */
static void tls_step(struct cqlconn *c)
{
	int r = tls_conn_handshake(c->tls);
	if (r == TLS_WANT_WRITE) {
		ev_io_start(c->loop, &c->wio);
		return;
	}
	ev_io_stop(c->loop, &c->wio);
	if (r == TLS_WANT_READ)
		return;
	if (r != TLS_OK) {
		conn_fail(c, COL_EIO, "TLS handshake with %s failed: %s", c->peer,
		          tls_conn_error(c->tls));
		return;
	}
	send_handshake(c, REQ_HANDSHAKE_OPTIONS);
}

/* send(2) or TLS: > 0 bytes taken; -1 with errno (EAGAIN when it would block). */
static ssize_t io_send(struct cqlconn *c, const void *p, size_t len)
{
	if (!c->tls)
		return send(c->fd, p, len, MSG_NOSIGNAL);
	ssize_t n = tls_conn_write(c->tls, p, len);
	if (n > 0)
		return n;
	errno = n == TLS_WANT_READ || n == TLS_WANT_WRITE ? EAGAIN : EPROTO;
	return -1;
}

/* recv(2) or TLS: > 0 bytes, 0 at the peer's close, -1 with errno. */
static ssize_t io_recv(struct cqlconn *c, void *p, size_t len)
{
	if (!c->tls)
		return recv(c->fd, p, len, 0);
	ssize_t n = tls_conn_read(c->tls, p, len);
	if (n > 0)
		return n;
	if (n == TLS_CLOSED)
		return 0;
	errno = n == TLS_WANT_READ || n == TLS_WANT_WRITE ? EAGAIN : EPROTO;
	return -1;
}

static const char *io_error(const struct cqlconn *c, int e)
{
	return c->tls && e == EPROTO ? tls_conn_error(c->tls) : strerror(e);
}

/* Tell opts.on_written about every request whose frame has now left. */
static void notify_written(struct cqlconn *c)
{
	unsigned cap = c->opts.max_inflight;
	while (c->m_len && c->marks[c->m_head].end <= c->stats.bytes_out) {
		struct wmark m = c->marks[c->m_head];
		c->m_head = (c->m_head + 1) % cap;
		c->m_len--;
		struct slot *s = &c->slots[m.id];
		if (s->state == SLOT_BUSY && s->seq == m.seq && s->kind == REQ_USER && s->cb)
			c->opts.on_written(s->arg);
	}
}

/* Send what is queued until the socket is full.  0, or the errno of a failed send. */
static int send_out(struct cqlconn *c)
{
	int rc = 0;
	if (c->tls && !tls_conn_established(c->tls))
		return 0; /* the TLS handshake first */
	while (c->out.len) {
		ssize_t n = io_send(c, c->out.data, c->out.len);
		if (n > 0) {
			c->stats.bytes_out += (uint64_t)n;
			buf_consume(&c->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		rc = errno;
		break;
	}
	notify_written(c);
	return rc;
}

void cqlconn_flush(struct cqlconn *c)
{
	if (!c->connected || c->failed || c->freeing || !c->out.len)
		return;
	if (send_out(c) == 0 && !c->out.len) {
		ev_io_stop(c->loop, &c->wio);
		return;
	}
	want_write(c); /* the rest, or the error, when the loop sees the socket */
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct cqlconn *c = (struct cqlconn *)((char *)w - offsetof(struct cqlconn, wio));
	if (c->tls && !tls_conn_established(c->tls)) {
		c->busy++;
		tls_step(c);
		leave(c);
		return;
	}
	int e = send_out(c);
	if (e) {
		c->busy++;
		conn_fail(c, COL_EIO, "write to %s failed: %s", c->peer, io_error(c, e));
		leave(c);
		return;
	}
	if (c->out.len)
		return;
	ev_io_stop(c->loop, &c->wio);
	/* Do not keep a large buffer around after a burst. */
	if (c->out.cap > 1024 * 1024)
		buf_release(&c->out);
}

static void send_handshake(struct cqlconn *c, enum req_kind kind)
{
	int16_t id = slot_take(c);
	/* A fresh connection always has free streams. */
	c->slots[id].kind = (uint8_t)kind;
	c->slots[id].deadline_ms = INT64_MAX; /* the connect timer covers the handshake */
	dl_unlink(c, id);
	if (kind == REQ_HANDSHAKE_OPTIONS)
		cqlreq_options(&c->out, id);
	else if (kind == REQ_HANDSHAKE_AUTH)
		cqlreq_auth_plain(&c->out, id, c->opts.username,
		                  c->opts.password ? c->opts.password : "");
	else
		cqlreq_startup_opts(&c->out, id, c->opts.cql_version, c->opts.throw_on_overload);
	want_write(c);
}

/* Rebuild a saved frame with ps's new id spliced in wherever it appears. */
static int rebuild_frame(struct slot *s, struct cqlprepared *ps)
{
	struct buf nb;
	buf_init(&nb);
	size_t pos = 0;
	for (uint16_t i = 0; i < s->n_ids; i++) {
		struct id_ref *ref = &s->ids[i];
		size_t old_len = be16_load(s->frame.data + ref->off);
		buf_put(&nb, s->frame.data + pos, ref->off - pos);
		size_t new_off = nb.len;
		if (ref->ps == ps)
			cql_put_short_bytes(&nb, ps->id, ps->id_len);
		else
			buf_put(&nb, s->frame.data + ref->off, 2 + old_len);
		pos = ref->off + 2 + old_len;
		ref->off = new_off;
	}
	buf_put(&nb, s->frame.data + pos, s->frame.len - pos);
	if (!buf_ok(&nb)) {
		buf_release(&nb);
		return COL_ENOMEM;
	}
	buf_patch_u32be(&nb, 5, (uint32_t)(nb.len - CQLPROTO_HEADER_LEN));
	buf_release(&s->frame);
	s->frame = nb;
	return COL_OK;
}

/*
 * ERROR Unprepared on a saved EXECUTE/BATCH: re-prepare the statement whose id
 * the server named, on the same stream.  True if the re-prepare was sent.
 */
static bool try_reprepare(struct cqlconn *c, int16_t id, const struct cqlresult *res)
{
	struct slot *s = &c->slots[id];
	if (s->reprepared || s->n_ids == 0)
		return false;
	struct cqlprepared *ps = NULL;
	for (uint16_t i = 0; i < s->n_ids && !ps; i++) {
		struct cqlprepared *cand = s->ids[i].ps;
		const uint8_t *sent = s->frame.data + s->ids[i].off;
		uint16_t sent_len = be16_load(sent);
		if (sent_len == res->error.unprepared_id_len &&
		    memcmp(sent + 2, res->error.unprepared_id, sent_len) == 0)
			ps = cand;
	}
	if (!ps)
		return false;
	s->reprepared = true;
	s->state = SLOT_REPREPARE;
	s->repreparing = ps;
	cqlreq_prepare(&c->out, id, ps->cql, ps->cql_len);
	c->stats.reprepares++;
	want_write(c);
	return true;
}

/*
 * The PREPARE sent by try_reprepare answered: 1 = the request went out again
 * (res consumed), 0 = hand res (the PREPARE's error) to the caller, -1 = out
 * of memory (res consumed).
 */
static int finish_reprepare(struct cqlconn *c, int16_t id, struct cqlresult *res)
{
	struct slot *s = &c->slots[id];
	struct cqlprepared *ps = s->repreparing;
	s->state = SLOT_BUSY;
	s->repreparing = NULL;
	if (res->kind != CQLRES_PREPARED)
		return 0;
	uint8_t *nid = malloc(res->prepared_id_len ? res->prepared_id_len : 1);
	if (!nid) {
		cqlresult_free(res);
		return -1;
	}
	memcpy(nid, res->prepared_id, res->prepared_id_len);
	free(ps->id);
	ps->id = nid;
	ps->id_len = res->prepared_id_len;
	cqlresult_free(res);
	if (rebuild_frame(s, ps) != COL_OK)
		return -1;
	buf_put(&c->out, s->frame.data, s->frame.len);
	want_write(c);
	return 1;
}

static void handle_frame(struct cqlconn *c, const struct cql_header *h, const uint8_t *body)
{
	if (h->stream < 0) /* server EVENT: we never REGISTER, ignore */
		return;
	if ((unsigned)h->stream >= c->opts.max_inflight || c->slots[h->stream].state == SLOT_FREE) {
		conn_fail(c, COL_EPROTO, "%s answered on stream %d, which has no request", c->peer,
		          h->stream);
		return;
	}
	struct slot *s = &c->slots[h->stream];
	struct cqlresult *res = NULL;
	struct cerr derr = {0};
	int rc = cqlresult_decode(h->opcode, h->flags, body, h->length, &res, &derr);
	if (rc != COL_OK) {
		conn_fail(c, rc, "bad response from %s: %s", c->peer, derr.msg);
		return;
	}
	c->stats.responses++;
	if (s->state == SLOT_ORPHAN) { /* the caller was told it timed out */
		cqlresult_free(res);
		slot_release(c, h->stream);
		return;
	}
	if (s->kind == REQ_HANDSHAKE_OPTIONS || s->kind == REQ_HANDSHAKE_STARTUP ||
	    s->kind == REQ_HANDSHAKE_AUTH) {
		enum req_kind k = s->kind;
		slot_release(c, h->stream);
		if (res->kind == CQLRES_ERROR) {
			conn_fail(c, COL_EPROTO, "handshake with %s failed: %s (code 0x%04x)",
			          c->peer, res->error.message ? res->error.message : "",
			          res->error.code);
		} else if (k == REQ_HANDSHAKE_OPTIONS && res->kind == CQLRES_SUPPORTED) {
			send_handshake(c, REQ_HANDSHAKE_STARTUP);
		} else if ((k == REQ_HANDSHAKE_STARTUP && res->kind == CQLRES_READY) ||
		           (k == REQ_HANDSHAKE_AUTH && res->kind == CQLRES_AUTH_SUCCESS)) {
			c->ready = true;
			ev_timer_stop(c->loop, &c->connect_timer);
			cqlconn_ready_fn f = c->on_ready;
			c->on_ready = NULL;
			if (f)
				f(c, c->ready_arg, COL_OK, NULL);
		} else if (k == REQ_HANDSHAKE_STARTUP && res->kind == CQLRES_AUTHENTICATE &&
		           c->opts.username) {
			send_handshake(c, REQ_HANDSHAKE_AUTH);
		} else if (res->kind == CQLRES_AUTHENTICATE) {
			conn_fail(c, COL_EUNSUPPORTED,
			          "%s requires authentication (%s): give a user name and password "
			          "(cqlish -u USER -p PASSWORD)",
			          c->peer, res->error.message ? res->error.message : "");
		} else {
			conn_fail(c, COL_EPROTO, "handshake with %s: unexpected %s answer", c->peer,
			          cqlresult_opcode_name(h->opcode));
		}
		cqlresult_free(res);
		return;
	}
	if (s->state == SLOT_REPREPARE) {
		int fr = finish_reprepare(c, h->stream, res);
		if (fr == 1)
			return;
		if (fr < 0) {
			cqlconn_result_fn cb = s->cb;
			void *arg = s->arg;
			slot_release(c, h->stream);
			cb(c, arg, COL_ENOMEM, NULL, "out of memory re-preparing a statement");
			return;
		}
	} else if (res->kind == CQLRES_ERROR && res->error.code == CQL_ERR_UNPREPARED &&
	           try_reprepare(c, h->stream, res)) {
		cqlresult_free(res);
		return;
	}
	cqlconn_result_fn cb = s->cb;
	void *arg = s->arg;
	slot_release(c, h->stream);
	cb(c, arg, COL_OK, res, NULL);
}

static void process_input(struct cqlconn *c)
{
	size_t pos = 0;
	while (!c->failed && !c->freeing) {
		size_t avail = c->in.len - pos;
		struct cql_header h;
		if (cql_header_decode(c->in.data + pos, avail, &h) != COL_OK)
			break;
		if (h.version != (CQLPROTO_RESPONSE | CQLPROTO_VERSION)) {
			conn_fail(c, COL_EPROTO,
			          "%s answered with protocol version byte 0x%02x; this client "
			          "speaks v4 only",
			          c->peer, h.version);
			return;
		}
		if ((size_t)h.length + CQLPROTO_HEADER_LEN > c->opts.max_frame) {
			conn_fail(c, COL_ETOOBIG,
			          "response frame of %zu bytes from %s exceeds the limit of %zu "
			          "bytes",
			          (size_t)h.length + CQLPROTO_HEADER_LEN, c->peer,
			          c->opts.max_frame);
			return;
		}
		if (avail < CQLPROTO_HEADER_LEN + (size_t)h.length)
			break;
		handle_frame(c, &h, c->in.data + pos + CQLPROTO_HEADER_LEN);
		pos += CQLPROTO_HEADER_LEN + h.length;
	}
	if (!c->failed && !c->freeing && pos)
		buf_consume(&c->in, pos);
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct cqlconn *c = (struct cqlconn *)((char *)w - offsetof(struct cqlconn, rio));
	c->busy++;
	if (c->tls && !tls_conn_established(c->tls)) {
		tls_step(c);
		if (c->failed || !tls_conn_established(c->tls)) {
			leave(c);
			return;
		}
	}
	for (int rounds = 0; rounds < 16 && !c->failed && !c->freeing; rounds++) {
		if (buf_reserve(&c->in, READ_CHUNK) != COL_OK) {
			conn_fail(c, COL_ENOMEM, "out of memory reading from %s", c->peer);
			break;
		}
		ssize_t n = io_recv(c, c->in.data + c->in.len, READ_CHUNK);
		if (n > 0) {
			c->in.len += (size_t)n;
			c->stats.bytes_in += (uint64_t)n;
			process_input(c);
			/* TLS hands out one record per read: go on while it holds more */
			if ((size_t)n < READ_CHUNK &&
			    !(c->tls && !c->failed && !c->freeing && tls_conn_pending(c->tls)))
				break;
			continue;
		}
		if (n == 0) {
			conn_fail(c, COL_ECLOSED, "%s closed the connection", c->peer);
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			conn_fail(c, COL_EIO, "read from %s failed: %s", c->peer,
			          io_error(c, errno));
		break;
	}
	leave(c);
}

static void on_connected(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct cqlconn *c = (struct cqlconn *)((char *)w - offsetof(struct cqlconn, wio));
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
		soerr = errno;
	if (soerr == EINPROGRESS)
		return;
	ev_io_stop(c->loop, &c->wio);
	c->busy++;
	if (soerr) {
		conn_fail(c, COL_EIO, "cannot connect to %s: %s", c->peer, strerror(soerr));
	} else {
		c->connected = true;
		ev_io_init(&c->wio, on_writable, c->fd, EV_WRITE);
		ev_io_start(c->loop, &c->rio);
		if (c->opts.tls) {
			c->tls = tls_conn_new(c->opts.tls, c->fd);
			if (!c->tls) {
				conn_fail(c, COL_ENOMEM, "out of memory for TLS to %s", c->peer);
			} else {
				if (c->opts.tls_verify_host)
					tls_conn_verify_name(c->tls, c->host);
				tls_step(c);
			}
		} else {
			send_handshake(c, REQ_HANDSHAKE_OPTIONS);
		}
	}
	leave(c);
}

static void on_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct cqlconn *c = (struct cqlconn *)((char *)w - offsetof(struct cqlconn, connect_timer));
	c->busy++;
	conn_fail(c, COL_ETIMEDOUT, "cannot connect to %s: no %s within %u ms", c->peer,
	          c->connected ? "READY answer" : "connection", c->opts.connect_timeout_ms);
	leave(c);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct cqlconn *c = (struct cqlconn *)((char *)w - offsetof(struct cqlconn, tick));
	int64_t now = clock_mono_ms();
	c->busy++;
	while (c->dl_head >= 0 && !c->failed) {
		int16_t id = c->dl_head;
		struct slot *s = &c->slots[id];
		if (s->deadline_ms > now)
			break;
		dl_unlink(c, id);
		if ((s->state != SLOT_BUSY && s->state != SLOT_REPREPARE) || s->kind != REQ_USER)
			continue;
		cqlconn_result_fn cb = s->cb;
		void *arg = s->arg;
		s->state = SLOT_ORPHAN;
		s->cb = NULL;
		c->orphans++;
		c->stats.timeouts++;
		char why[CERR_MSG_MAX];
		snprintf(why, sizeof(why), "no answer from %s within %u ms", c->peer,
		         c->opts.request_timeout_ms);
		cb(c, arg, COL_ETIMEDOUT, NULL, why);
	}
	if (!c->failed && c->orphans > c->opts.max_inflight / 2)
		conn_fail(c, COL_ETIMEDOUT, "%s left %u requests unanswered; giving up on it",
		          c->peer, c->orphans);
	leave(c);
}

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *sl,
                   char *peer, size_t peer_len, struct cerr *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	char ports[8];
	snprintf(ports, sizeof(ports), "%u", port);
	int rc = getaddrinfo(host, ports, &hints, &res);
	if (rc != 0)
		return cerr_set(err, COL_ENOTFOUND, "cannot resolve host '%s': %s", host,
		                gai_strerror(rc));
	struct addrinfo *pick = res;
	for (struct addrinfo *a = res; a; a = a->ai_next)
		if (a->ai_family == AF_INET) {
			pick = a;
			break;
		}
	memcpy(ss, pick->ai_addr, pick->ai_addrlen);
	*sl = pick->ai_addrlen;
	char hbuf[NI_MAXHOST];
	if (getnameinfo(pick->ai_addr, pick->ai_addrlen, hbuf, sizeof(hbuf), NULL, 0,
	                NI_NUMERICHOST) != 0)
		snprintf(hbuf, sizeof(hbuf), "%s", host);
	if (pick->ai_family == AF_INET6)
		snprintf(peer, peer_len, "[%.64s]:%u", hbuf, port);
	else
		snprintf(peer, peer_len, "%.64s:%u", hbuf, port);
	freeaddrinfo(res);
	return COL_OK;
}

int cqlconn_open(struct ev_loop *loop, const char *host, uint16_t port,
                 const struct cqlconn_opts *opts, cqlconn_ready_fn on_ready, void *arg,
                 struct cqlconn **out, struct cerr *err)
{
	struct cqlconn_opts o = opts ? *opts : (struct cqlconn_opts){0};
	if (!o.max_frame || o.max_frame > CQLPROTO_MAX_FRAME)
		o.max_frame = CQLPROTO_MAX_FRAME;
	if (o.max_frame < CQLPROTO_HEADER_LEN + 64)
		o.max_frame = CQLPROTO_HEADER_LEN + 64;
	if (!o.max_out)
		o.max_out = DEFAULT_MAX_OUT;
	if (!o.max_inflight)
		o.max_inflight = DEFAULT_INFLIGHT;
	if (o.max_inflight > STREAMS_MAX)
		o.max_inflight = STREAMS_MAX;
	if (o.max_inflight < 2)
		o.max_inflight = 2;
	if (!o.connect_timeout_ms)
		o.connect_timeout_ms = DEFAULT_CONNECT_MS;
	if (!o.request_timeout_ms)
		o.request_timeout_ms = DEFAULT_REQUEST_MS;
	if (!o.cql_version)
		o.cql_version = "3.4.4";

	struct sockaddr_storage ss;
	socklen_t sl = 0;
	char peer[sizeof(((struct cqlconn *)0)->peer)];
	int rc = resolve(host, port, &ss, &sl, peer, sizeof(peer), err);
	if (rc)
		return rc;

	struct cqlconn *c = calloc(1, sizeof(*c));
	if (!c)
		return cerr_set(err, COL_ENOMEM, "out of memory for a connection to %s", peer);
	c->slots = calloc(o.max_inflight, sizeof(*c->slots));
	c->free_ids = calloc(o.max_inflight, sizeof(*c->free_ids));
	c->marks = o.on_written ? calloc(o.max_inflight, sizeof(*c->marks)) : NULL;
	if (!c->slots || !c->free_ids || (o.on_written && !c->marks)) {
		free(c->slots);
		free(c->free_ids);
		free(c->marks);
		free(c);
		return cerr_set(err, COL_ENOMEM, "out of memory for a connection to %s", peer);
	}
	c->loop = loop;
	c->opts = o;
	c->fd = -1;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	snprintf(c->host, sizeof(c->host), "%s", host);
	buf_init(&c->in);
	buf_init(&c->out);
	c->dl_head = c->dl_tail = -1;
	for (unsigned i = 0; i < o.max_inflight; i++) {
		c->slots[i].dl_prev = c->slots[i].dl_next = -1;
		buf_init(&c->slots[i].frame);
		/* Lowest ids first, like the drivers. */
		c->free_ids[i] = (int16_t)(o.max_inflight - 1 - i);
	}
	c->n_free = o.max_inflight;
	c->on_ready = on_ready;
	c->ready_arg = arg;

	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		rc = cerr_set(err, COL_EIO, "cannot connect to %s: socket: %s", peer,
		              strerror(errno));
		conn_really_free(c);
		return rc;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (o.bind_host && *o.bind_host) {
		/* A source address of our choosing (test clients outside a partition). */
		struct sockaddr_storage bs;
		memset(&bs, 0, sizeof(bs));
		socklen_t bl = 0;
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *b4 = (struct sockaddr_in *)&bs;
			b4->sin_family = AF_INET;
			bl = inet_pton(AF_INET, o.bind_host, &b4->sin_addr) == 1 ? sizeof(*b4) : 0;
		} else {
			struct sockaddr_in6 *b6 = (struct sockaddr_in6 *)&bs;
			b6->sin6_family = AF_INET6;
			bl = inet_pton(AF_INET6, o.bind_host, &b6->sin6_addr) == 1 ? sizeof(*b6)
			                                                           : 0;
		}
		if (!bl || bind(c->fd, (struct sockaddr *)&bs, bl) != 0) {
			rc = cerr_set(err, COL_EIO, "cannot connect to %s: bind to source %s: %s",
			              peer, o.bind_host,
			              bl ? strerror(errno) : "not a numeric address");
			close(c->fd);
			conn_really_free(c);
			return rc;
		}
	}
	if (connect(c->fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
		rc = cerr_set(err, COL_EIO, "cannot connect to %s: %s", peer, strerror(errno));
		close(c->fd);
		conn_really_free(c);
		return rc;
	}
	ev_io_init(&c->rio, on_readable, c->fd, EV_READ);
	ev_io_init(&c->wio, on_connected, c->fd, EV_WRITE);
	ev_io_start(loop, &c->wio);
	ev_timer_init(&c->connect_timer, on_connect_timeout, o.connect_timeout_ms / 1000.0, 0.);
	ev_timer_start(loop, &c->connect_timer);
	ev_timer_init(&c->tick, on_tick, TIMEOUT_TICK_S, TIMEOUT_TICK_S);
	if (o.request_timeout_ms != UINT32_MAX)
		ev_timer_start(loop, &c->tick);
	*out = c;
	return COL_OK;
}

void cqlconn_free(struct cqlconn *c)
{
	if (!c || c->freeing)
		return;
	c->busy++;
	c->on_ready = NULL;
	conn_fail(c, COL_ECLOSED, "connection to %s closed by the client", c->peer);
	c->freeing = true;
	leave(c);
}

/* Common checks and stream allocation of a user request. */
/* Take a stream id for a request about to be encoded at c->out[*mark..]. */
static int begin_request(struct cqlconn *c, cqlconn_result_fn cb, int16_t *id, size_t *mark)
{
	if (!cb)
		return COL_EINVAL;
	if (c->failed || c->freeing || !c->ready)
		return COL_ECLOSED;
	if (c->out.len > c->opts.max_out)
		return COL_EFULL;
	int16_t s = slot_take(c);
	if (s < 0)
		return COL_EFULL;
	*id = s;
	*mark = c->out.len;
	return COL_OK;
}

/* Undo a request begun at mark (its frame cannot be sent or kept): COL_ENOMEM. */
static int abandon_request(struct cqlconn *c, int16_t id, size_t mark)
{
	c->out.len = mark;
	slot_release(c, id);
	return COL_ENOMEM;
}

static int finish_request(struct cqlconn *c, int16_t id, size_t mark, cqlconn_result_fn cb,
                          void *arg)
{
	if (!buf_ok(&c->out)) {
		c->out.oom = false;
		return abandon_request(c, id, mark);
	}
	if (c->out.len - mark > c->opts.max_frame) {
		abandon_request(c, id, mark);
		return COL_ETOOBIG;
	}
	struct slot *s = &c->slots[id];
	s->kind = REQ_USER;
	s->cb = cb;
	s->arg = arg;
	c->stats.requests++;
	if (c->opts.on_written && c->m_len < c->opts.max_inflight) {
		struct wmark *m = &c->marks[(c->m_head + c->m_len) % c->opts.max_inflight];
		m->end = c->stats.bytes_out + c->out.len;
		m->seq = s->seq;
		m->id = id;
		c->m_len++;
	}
	want_write(c);
	return COL_OK;
}

int cqlconn_query(struct cqlconn *c, const char *cql, size_t len, const struct cql_qparams *p,
                  cqlconn_result_fn cb, void *arg)
{
	int16_t id;
	size_t mark;
	int rc = begin_request(c, cb, &id, &mark);
	if (rc)
		return rc;
	cqlreq_query(&c->out, id, cql, len, p);
	return finish_request(c, id, mark, cb, arg);
}

int cqlconn_prepare(struct cqlconn *c, const char *cql, size_t len, cqlconn_result_fn cb, void *arg)
{
	int16_t id;
	size_t mark;
	int rc = begin_request(c, cb, &id, &mark);
	if (rc)
		return rc;
	cqlreq_prepare(&c->out, id, cql, len);
	return finish_request(c, id, mark, cb, arg);
}

/* Keep a copy of the frame just encoded at out[mark..] for re-preparing. */
static int save_frame(struct cqlconn *c, int16_t id, size_t mark, struct id_ref *refs, uint16_t n)
{
	struct slot *s = &c->slots[id];
	buf_reset(&s->frame);
	buf_put(&s->frame, c->out.data + mark, c->out.len - mark);
	if (!buf_ok(&s->frame))
		return COL_ENOMEM;
	s->ids = refs;
	s->n_ids = n;
	return COL_OK;
}

int cqlconn_execute(struct cqlconn *c, struct cqlprepared *ps, const struct cql_qparams *p,
                    cqlconn_result_fn cb, void *arg)
{
	int16_t id;
	size_t mark;
	int rc = ps ? begin_request(c, cb, &id, &mark) : COL_EINVAL;
	if (rc)
		return rc;
	cqlreq_execute(&c->out, id, ps->id, ps->id_len, p);
	struct id_ref *ref = &c->slots[id].one_ref;
	if (save_frame(c, id, mark, ref, 1) != COL_OK)
		return abandon_request(c, id, mark);
	ref->off = CQLPROTO_HEADER_LEN;
	ref->ps = ps;
	return finish_request(c, id, mark, cb, arg);
}

int cqlconn_batch(struct cqlconn *c, uint8_t type, const struct cql_batch_item *items, uint16_t n,
                  const struct cql_qparams *p, cqlconn_result_fn cb, void *arg)
{
	int16_t id;
	size_t mark;
	int rc = n && !items ? COL_EINVAL : begin_request(c, cb, &id, &mark);
	if (rc)
		return rc;
	cqlreq_batch(&c->out, id, type, items, n, p);
	uint16_t nps = 0;
	for (uint16_t i = 0; i < n; i++)
		nps += items[i].ps != NULL;
	if (nps) {
		struct id_ref *refs = calloc(nps, sizeof(*refs));
		if (!refs || save_frame(c, id, mark, refs, nps) != COL_OK) {
			free(refs);
			return abandon_request(c, id, mark);
		}
		/* Walk the encoded body to find each id's offset. */
		size_t off = CQLPROTO_HEADER_LEN + 1 + 2;
		uint16_t k = 0;
		const uint8_t *f = c->slots[id].frame.data;
		for (uint16_t i = 0; i < n; i++) {
			uint8_t kind = f[off++];
			if (kind == 1) {
				refs[k].off = off;
				refs[k].ps = items[i].ps;
				k++;
				off += 2 + be16_load(f + off);
			} else {
				off += 4 + be32_load(f + off);
			}
			uint16_t nv = be16_load(f + off);
			off += 2;
			for (uint16_t j = 0; j < nv; j++) {
				int32_t l = (int32_t)be32_load(f + off);
				off += 4 + (l > 0 ? (size_t)l : 0);
			}
		}
	}
	return finish_request(c, id, mark, cb, arg);
}

bool cqlconn_ready(const struct cqlconn *c)
{
	return c->ready && !c->failed;
}

unsigned cqlconn_inflight(const struct cqlconn *c)
{
	return c->opts.max_inflight - c->n_free - c->orphans;
}

const char *cqlconn_peer(const struct cqlconn *c)
{
	return c->peer;
}
const char *cqlconn_failure(const struct cqlconn *c)
{
	return c->failure;
}

void cqlconn_get_stats(const struct cqlconn *c, struct cqlconn_stats *out)
{
	*out = c->stats;
	out->queued = c->out.len;
	out->orphans = c->orphans;
}
