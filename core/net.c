/*
 * net.c — see net.h.  Connection life: created (accepted, or connecting) →
 * connected → closing (fd closed, on the reap list) → reaped (on_close, free).
 * Three intrusive lists hang off the loop: conns that have output to flush,
 * conns whose buffered input must be delivered after a resume, and conns to
 * reap; the ev_prepare callback drains all three until they stay empty.
 */
#include "core/net.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEF_MAX_FRAME          (16u << 20)
#define DEF_OUT_HIGH           (4u << 20)
#define DEF_OUT_CAP            (64u << 20)
#define DEF_READ_CHUNK         (64u << 10)
#define DEF_CONNECT_TIMEOUT_MS 2000u
#define DEF_MAX_CONNS          4096u
#define DEF_BACKLOG            511
/* An idle connection gives back buffers grown past this (a burst should not pin memory). */
#define SHRINK_ABOVE (1u << 20)
/* How long close_after_flush waits for a peer that does not read before closing hard. */
#define LINGER_S 5.0
/* accept(2) calls per readiness event: fairness with the other watchers. */
#define ACCEPT_BATCH 64
/* After EMFILE, stop accepting for this long instead of spinning on a readable socket. */
#define ACCEPT_BACKOFF_S         0.1
#define DEF_HANDSHAKE_TIMEOUT_MS 10000u

/* Where a connection's TLS layer is. */
enum { NTLS_NONE = 0, NTLS_SNIFF, NTLS_HANDSHAKE, NTLS_OPEN };

struct net_loop {
	struct ev_loop *loop;
	ev_prepare prep;
	ev_check check;           /* with prep: the time the loop waits for events (idle_us) */
	int64_t block_start;      /* when the loop last went to wait; 0 while running */
	int64_t wake;             /* when the loop last woke up; 0 before the first wait */
	int runq_fd;              /* /proc/thread-self/schedstat of the loop's thread; -1 = none */
	int64_t runq_at;          /* when runq_us was last sampled; 0 = never (open the file) */
	uint64_t runq_base_ns;    /* the thread's run-queue delay at the first sample */
	uint64_t runq_at_wake;    /* st.runq_us when the loop last woke up */
	int64_t stall_logged;     /* when a stall was last logged; 0 = never */
	uint64_t stalls_unlogged; /* stalls since then not logged (rate limit) */
	struct net_conn *conns;   /* every live or closing conn, doubly linked */
	struct net_server *servers;
	struct net_conn *flush_head; /* singly linked via flush_next */
	struct net_conn *resume_head;
	struct net_conn *reap_head;
	bool in_pending;
	uint32_t coalesce_us;     /* net_loop_set_coalescing's window; 0 = never */
	bool coalescing;          /* the window is applied now (the frame rate is high) */
	int64_t coalesce_at;      /* start of the frame-rate sample; 0 = not started */
	uint64_t coalesce_frames; /* st.frames_in at coalesce_at */
	struct net_loop_stats st;
};

struct net_conn {
	struct net_loop *nl;
	struct net_server *srv;
	int fd;
	ev_io rio, wio;
	ev_timer timer; /* connect deadline, then linger deadline */
	struct net_conn_ops ops;
	struct net_conn_opts opts;
	void *ctx;
	struct buf in;
	size_t in_pos;
	struct buf out;
	size_t out_pos;
	bool connected, closing, flush_close, user_paused, hw_paused, handed;
	bool on_flush, on_resume, on_reap, in_input;
	int close_reason;
	int linger_reason; /* reason and words for the close after the flush */
	char linger_why[160];
	struct net_conn *prev, *next;
	struct net_conn *flush_next, *resume_next, *reap_next;
	struct net_addr peer, local;
	char peer_str[NET_ADDR_STRLEN];
	char why[192];
	struct net_conn_stats st;
	int64_t rx_stamp_us; /* opts.rx_timestamps: the newest input's arrival, wall µs; 0 unknown
	                      */
	/* TLS: the session once started, the context it is made from until then */
	struct tls_conn *tls;
	struct tls_ctx *tls_ctx;
	uint8_t tls_state, tls_mode; /* NTLS_*, enum net_tls_mode (accepted conns) */
	bool tls_deadline;           /* the timer is the handshake deadline */
	bool outgoing;               /* made by net_connect (on_connect follows the handshake) */
	bool tls_wr_wants_read;      /* a TLS write waits for the next read */
	bool tls_rd_wants_write;     /* a TLS read waits for writability */
};

struct net_server {
	struct net_loop *nl;
	struct net_server *next;
	int fd;
	ev_io lio;
	ev_timer backoff;
	struct net_addr addr;
	struct net_server_opts opts;
	struct net_conn_ops ops;
	net_accept_fn on_accept;
	void *ctx;
	unsigned nconns;
	net_handoff_fn handoff; /* NULL: every connection is served on this loop */
	void *handoff_ctx;
	bool handoff_tls; /* with TLS on, hand off only when adopters apply it */
	struct tls_ctx *tls;
	enum net_tls_mode tls_mode;
};

long net_framer_u32be(const uint8_t *p, size_t len)
{
	if (len < 4)
		return 0;
	return (long)(4 + (uint64_t)be32_load(p));
}

/* ---- connection internals ------------------------------------------------------------------- */

static size_t conn_queued(const struct net_conn *c)
{
	return c->out.len - c->out_pos;
}

static void conn_add_flush(struct net_conn *c)
{
	if (c->on_flush)
		return;
	c->on_flush = true;
	c->flush_next = c->nl->flush_head;
	c->nl->flush_head = c;
}

static void conn_add_resume(struct net_conn *c)
{
	if (c->on_resume)
		return;
	c->on_resume = true;
	c->resume_next = c->nl->resume_head;
	c->nl->resume_head = c;
}

static bool conn_want_read(const struct net_conn *c)
{
	return c->connected && !c->closing && !c->flush_close && !c->user_paused && !c->hw_paused;
}

/* Start or stop the read watcher to match the flags; deliver buffered frames on resume. */
static void conn_update_reading(struct net_conn *c)
{
	bool want = conn_want_read(c);
	if (want && !ev_is_active(&c->rio)) {
		ev_io_start(c->nl->loop, &c->rio);
		if (c->in.len > c->in_pos)
			conn_add_resume(c);
	} else if (!want && ev_is_active(&c->rio)) {
		ev_io_stop(c->nl->loop, &c->rio);
	}
}

void net_conn_close(struct net_conn *c, int reason, const char *why)
{
	if (c->closing)
		return;
	struct net_loop *nl = c->nl;
	c->closing = true;
	c->close_reason = reason;
	/* "peer: reason", a longer reason cut short (it only goes to the log) */
	snprintf(c->why, sizeof(c->why), "%.*s: %.*s", NET_ADDR_STRLEN - 1, c->peer_str,
	         (int)sizeof(c->why) - NET_ADDR_STRLEN - 2,
	         why ? why : (reason ? col_strerror(reason) : "closed locally"));
	ev_io_stop(nl->loop, &c->rio);
	ev_io_stop(nl->loop, &c->wio);
	ev_timer_stop(nl->loop, &c->timer);
	if (c->tls && c->tls_state == NTLS_OPEN && reason == 0)
		tls_conn_shutdown(c->tls);
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	nl->st.queued -= conn_queued(c);
	c->out_pos = c->out.len = 0;
	if (reason == COL_ETOOBIG)
		nl->st.oversized++;
	else if (reason == COL_EPROTO || reason == COL_ECORRUPT)
		nl->st.proto_errors++;
	c->on_reap = true;
	c->reap_next = nl->reap_head;
	nl->reap_head = c;
}

static void conn_close_errno(struct net_conn *c, int reason, const char *what, int e)
{
	char why[160];
	snprintf(why, sizeof(why), "%s: %s", what, strerror(e));
	net_conn_close(c, reason, why);
}

static void conn_tls_handshake(struct net_conn *c);

/*
 * One write of queued output: plain send(2) or TLS.  > 0 bytes taken; 0 when
 * the socket is full (*wait_read: a TLS write waits for a read instead);
 * < 0 after the connection was closed.
 */
static ssize_t conn_send_some(struct net_conn *c, bool *wait_read)
{
	const uint8_t *p = c->out.data + c->out_pos;
	if (c->tls) {
		ssize_t n = tls_conn_write(c->tls, p, conn_queued(c));
		if (n > 0)
			return n;
		if (n == TLS_WANT_READ) {
			c->tls_wr_wants_read = *wait_read = true;
			return 0;
		}
		if (n == TLS_WANT_WRITE)
			return 0;
		char why[300];
		snprintf(why, sizeof(why), "TLS write: %s", tls_conn_error(c->tls));
		net_conn_close(c, COL_EIO, why);
		return -1;
	}
	for (;;) {
		ssize_t n = send(c->fd, p, conn_queued(c), MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		conn_close_errno(c, COL_EIO, "send", errno);
		return -1;
	}
}

/* Write what is queued; arm the write watcher if the socket is full. */
static void conn_flush(struct net_conn *c)
{
	struct net_loop *nl = c->nl;
	if (c->closing || !c->connected || c->tls_state == NTLS_SNIFF)
		return;
	if (c->tls_state == NTLS_HANDSHAKE) {
		conn_tls_handshake(c); /* flushes what waited once it is done */
		return;
	}
	bool wait_read = false;
	while (conn_queued(c) > 0) {
		ssize_t n = conn_send_some(c, &wait_read);
		if (n < 0)
			return;
		if (n == 0)
			break;
		nl->st.flushes++;
		c->out_pos += (size_t)n;
		c->st.bytes_out += (uint64_t)n;
		nl->st.bytes_out += (uint64_t)n;
		nl->st.queued -= (size_t)n;
	}
	if (conn_queued(c) == 0) {
		c->out_pos = c->out.len = 0;
		if (c->out.cap > SHRINK_ABOVE)
			buf_release(&c->out);
		ev_io_stop(nl->loop, &c->wio);
	} else {
		if (c->out_pos > c->out.len / 2) {
			memmove(c->out.data, c->out.data + c->out_pos, conn_queued(c));
			c->out.len -= c->out_pos;
			c->out_pos = 0;
		}
		if (wait_read)
			ev_io_stop(nl->loop, &c->wio);
		else
			ev_io_start(nl->loop, &c->wio);
	}
	if (c->hw_paused && conn_queued(c) <= c->opts.out_high / 2) {
		c->hw_paused = false;
		conn_update_reading(c);
		if (c->ops.on_drain)
			c->ops.on_drain(c);
		if (c->closing)
			return;
	}
	if (c->flush_close && conn_queued(c) == 0)
		net_conn_close(c, c->linger_reason, c->linger_why[0] ? c->linger_why : NULL);
}

/* After bytes were appended to out: account, bound, schedule. */
static void conn_appended(struct net_conn *c, size_t n)
{
	c->nl->st.queued += n;
	if (!c->hw_paused && conn_queued(c) > c->opts.out_high) {
		c->hw_paused = true;
		conn_update_reading(c);
	}
	conn_add_flush(c);
}

int net_conn_write(struct net_conn *c, const void *data, size_t len)
{
	if (c->closing || c->flush_close)
		return COL_ECLOSED;
	if (len > c->opts.out_cap || conn_queued(c) > c->opts.out_cap - len) {
		c->st.writes_refused++;
		c->nl->st.writes_refused++;
		return COL_EFULL;
	}
	buf_put(&c->out, data, len);
	if (!buf_ok(&c->out)) {
		c->out.oom = false;
		return COL_ENOMEM;
	}
	conn_appended(c, len);
	return COL_OK;
}

struct buf *net_conn_wbuf(struct net_conn *c, size_t *mark)
{
	*mark = c->out.len;
	return &c->out;
}

int net_conn_wcommit(struct net_conn *c, size_t mark)
{
	int rc = COL_OK;
	if (c->closing || c->flush_close)
		rc = COL_ECLOSED;
	else if (!buf_ok(&c->out))
		rc = COL_ENOMEM;
	else if (conn_queued(c) > c->opts.out_cap) {
		c->st.writes_refused++;
		c->nl->st.writes_refused++;
		rc = COL_EFULL;
	}
	if (rc != COL_OK) {
		c->out.oom = false;
		if (c->out.len > mark)
			c->out.len = mark;
		if (c->closing)
			c->out.len = c->out_pos = 0;
		return rc;
	}
	if (c->out.len > mark)
		conn_appended(c, c->out.len - mark);
	return COL_OK;
}

static void conn_close_after_flush(struct net_conn *c, int reason, const char *why);

/* The unconsumed input (never NULL + offset: UBSan rejects that). */
static const uint8_t *conn_in_ptr(const struct net_conn *c)
{
	static const uint8_t empty[1];
	return c->in.data ? c->in.data + c->in_pos : empty;
}

/* Deliver every whole frame in the input buffer while reading is allowed. */
static void conn_process_input(struct net_conn *c)
{
	if (c->in_input)
		return; /* a callback re-entered (resume inside on_frame): the outer loop goes on */
	c->in_input = true;
	while (conn_want_read(c)) {
		const uint8_t *p = conn_in_ptr(c);
		size_t avail = c->in.len - c->in_pos;
		long need = c->ops.frame_len(p, avail);
		if (need < 0) {
			net_conn_close(c, (int)need, "malformed frame header");
			break;
		}
		if (need == 0) {
			if (avail > c->opts.max_frame)
				net_conn_close(c, COL_EPROTO, "frame header longer than max frame");
			break;
		}
		if ((unsigned long)need > c->opts.max_frame) {
			char why[160];
			snprintf(why, sizeof(why), "frame of %ld bytes is over the limit of %zu",
			         need, c->opts.max_frame);
			/* The protocol's own callback says it better, naming the protocol. */
			if (c->ops.on_oversized)
				c->ops.on_oversized(c, p, avail, (size_t)need);
			else
				log_warn("net", "%s: %s; closing", c->peer_str, why);
			c->nl->st.oversized++;
			if (!c->closing)
				conn_close_after_flush(c, COL_ETOOBIG, why);
			break;
		}
		if (avail < (size_t)need)
			break;
		c->st.frames_in++;
		c->nl->st.frames_in++;
		c->in_pos += (size_t)need;
		int rc = c->ops.on_frame(c, p, (size_t)need);
		if (rc < 0 && !c->closing) {
			char why[96];
			snprintf(why, sizeof(why), "bad frame: %s", col_strerror(rc));
			net_conn_close(c, rc, why);
		}
	}
	c->in_input = false;
	if (c->closing)
		return;
	if (c->in_pos == c->in.len) {
		c->in_pos = c->in.len = 0;
		if (c->in.cap > SHRINK_ABOVE)
			buf_release(&c->in);
	} else if (c->in_pos > 0) {
		memmove(c->in.data, c->in.data + c->in_pos, c->in.len - c->in_pos);
		c->in.len -= c->in_pos;
		c->in_pos = 0;
	}
}

/* Room for the next read in c->in: a frame whose length is known is read in few calls. */
static bool conn_reserve_input(struct net_conn *c)
{
	size_t want = c->opts.read_chunk;
	long need = c->ops.frame_len(conn_in_ptr(c), c->in.len - c->in_pos);
	if (need > 0 && (unsigned long)need <= c->opts.max_frame &&
	    (size_t)need > c->in.len - c->in_pos + want)
		want = (size_t)need - (c->in.len - c->in_pos);
	if (buf_reserve(&c->in, want) != COL_OK) {
		c->in.oom = false;
		net_conn_close(c, COL_ENOMEM, "out of memory for input");
		return false;
	}
	return true;
}

static void conn_got_input(struct net_conn *c, size_t n)
{
	c->in.len += n;
	c->st.bytes_in += (uint64_t)n;
	c->nl->st.bytes_in += (uint64_t)n;
}

/* ---- the TLS layer ------------------------------------------------------------------------ */

static void conn_arm_deadline(struct net_conn *c)
{
	c->tls_deadline = true;
	ev_timer_stop(c->nl->loop, &c->timer);
	ev_timer_set(&c->timer, c->opts.handshake_timeout_ms / 1000.0, 0.);
	ev_timer_start(c->nl->loop, &c->timer);
}

static bool conn_tls_start(struct net_conn *c)
{
	c->tls = tls_conn_new(c->tls_ctx, c->fd);
	tls_ctx_unref(c->tls_ctx);
	c->tls_ctx = NULL;
	if (!c->tls) {
		net_conn_close(c, COL_ENOMEM, "out of memory for a TLS session");
		return false;
	}
	c->tls_state = NTLS_HANDSHAKE;
	return true;
}

/* Decrypted input: read what the socket and the session hold, then deliver frames. */
static void conn_tls_read(struct net_conn *c)
{
	if (c->tls_wr_wants_read) {
		c->tls_wr_wants_read = false;
		conn_add_flush(c);
	}
	ssize_t n;
	do {
		if (!conn_reserve_input(c))
			return;
		n = tls_conn_read(c->tls, c->in.data + c->in.len, c->in.cap - c->in.len);
		if (n > 0)
			conn_got_input(c, (size_t)n);
	} while (n > 0 && tls_conn_pending(c->tls));
	if (n == TLS_WANT_WRITE) {
		c->tls_rd_wants_write = true;
		ev_io_start(c->nl->loop, &c->wio);
	} else if (n == TLS_CLOSED) {
		net_conn_close(c, COL_ECLOSED, "closed by peer");
		return;
	} else if (n == TLS_ERROR) {
		char why[300];
		snprintf(why, sizeof(why), "TLS read: %s", tls_conn_error(c->tls));
		net_conn_close(c, COL_EPROTO, why);
		return;
	}
	conn_process_input(c);
}

/* Go on with the handshake; once done, the connection is open and queued output leaves. */
static void conn_tls_handshake(struct net_conn *c)
{
	int r = tls_conn_handshake(c->tls);
	if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
		if (r == TLS_WANT_WRITE)
			ev_io_start(c->nl->loop, &c->wio);
		else
			ev_io_stop(c->nl->loop, &c->wio);
		return;
	}
	if (r != TLS_OK) {
		char why[320];
		snprintf(why, sizeof(why), "TLS handshake failed: %s", tls_conn_error(c->tls));
		log_warn("net", "%s: %s", c->peer_str, why);
		net_conn_close(c, COL_EPROTO, why);
		return;
	}
	c->tls_state = NTLS_OPEN;
	c->tls_deadline = false;
	ev_timer_stop(c->nl->loop, &c->timer);
	ev_io_stop(c->nl->loop, &c->wio);
	if (log_get_level() >= LOG_DEBUG) {
		char d[320];
		tls_conn_describe(c->tls, d, sizeof(d));
		log_debug("net", "%s: TLS established: %s", c->peer_str, d);
	}
	if (c->outgoing && c->ops.on_connect) {
		c->ops.on_connect(c);
		if (c->closing)
			return;
	}
	if (conn_queued(c) > 0)
		conn_add_flush(c);
	conn_tls_read(c); /* application data may have come with the last handshake message */
}

/*
 * The first byte of an accepted connection on a TLS port (peeked, not consumed):
 * a TLS record starts the session; plaintext is served (optional), handed to the
 * protocol to refuse, or closed.  False when nothing is to be read now.
 */
static bool conn_tls_sniff(struct net_conn *c)
{
	uint8_t b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK);
	if (n == 0) {
		net_conn_close(c, COL_ECLOSED, "closed by peer before the TLS handshake");
		return false;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_close_errno(c, COL_EIO, "read", errno);
		return false;
	}
	if (b == TLS_RECORD_HANDSHAKE)
		return conn_tls_start(c);
	tls_ctx_unref(c->tls_ctx);
	c->tls_ctx = NULL;
	c->tls_state = NTLS_NONE;
	if (c->tls_mode == NET_TLS_OPTIONAL) {
		c->tls_deadline = false;
		ev_timer_stop(c->nl->loop, &c->timer);
		return true;
	}
	char ls[NET_ADDR_STRLEN];
	net_addr_format(&c->local, ls, sizeof(ls));
	log_warn("net",
	         "%s: plaintext connection to TLS-only port %s (first byte 0x%02x, not a TLS "
	         "handshake): refused; the client must connect with TLS",
	         c->peer_str, ls, b);
	if (!c->ops.on_plaintext_refused) {
		net_conn_close(c, COL_EPROTO, "plaintext on a TLS-only port");
		return false;
	}
	c->ops.on_plaintext_refused(c); /* the deadline still closes it */
	return !c->closing;
}

/* read(2) into c->in with the kernel's receive timestamp of the newest bytes kept in
 * c->rx_stamp_us (CLOCK_REALTIME µs, the clock the kernel stamps with). */
static ssize_t conn_recv_stamped(struct net_conn *c)
{
	struct iovec iov = {c->in.data + c->in.len, c->in.cap - c->in.len};
	union {
		char buf[CMSG_SPACE(sizeof(struct scm_timestamping))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = ctl.buf,
	                    .msg_controllen = sizeof(ctl.buf)};
	ssize_t n = recvmsg(c->fd, &mh, 0);
	if (n <= 0)
		return n;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_TIMESTAMPING)
			continue;
		struct scm_timestamping ts;
		memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
		if (ts.ts[0].tv_sec || ts.ts[0].tv_nsec)
			c->rx_stamp_us =
			        (int64_t)ts.ts[0].tv_sec * 1000000 + ts.ts[0].tv_nsec / 1000;
	}
	return n;
}

int64_t net_conn_input_age_us(const struct net_conn *c)
{
	if (!c->rx_stamp_us)
		return -1;
	int64_t age = clock_wall_us() - c->rx_stamp_us;
	return age > 0 ? age : 0;
}

static void conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct net_conn *c = (struct net_conn *)((char *)w - offsetof(struct net_conn, rio));
	if (c->tls_state == NTLS_SNIFF && !conn_tls_sniff(c))
		return;
	if (c->tls_state == NTLS_HANDSHAKE) {
		conn_tls_handshake(c);
		return;
	}
	if (c->tls_state == NTLS_OPEN) {
		conn_tls_read(c);
		return;
	}
	if (!conn_reserve_input(c))
		return;
	ssize_t n = c->opts.rx_timestamps
	                    ? conn_recv_stamped(c)
	                    : read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
	if (n == 0) {
		net_conn_close(c, COL_ECLOSED, "closed by peer");
		return;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		conn_close_errno(c, COL_EIO, "read", errno);
		return;
	}
	conn_got_input(c, (size_t)n);
	conn_process_input(c);
}

static void conn_set_sockopts(int fd, const struct net_conn_opts *o)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (o->rx_timestamps) {
		int flags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
		(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof(flags));
	}
	if (o->user_timeout_ms) {
		unsigned t = o->user_timeout_ms;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &t, sizeof(t));
	}
}

static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct net_conn *c = (struct net_conn *)((char *)w - offsetof(struct net_conn, wio));
	if (!c->connected) {
		int e = 0;
		socklen_t el = sizeof(e);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
			e = errno;
		if (e == EINPROGRESS)
			return;
		if (e != 0) {
			conn_close_errno(c, COL_EIO, "connect", e);
			return;
		}
		c->connected = true;
		ev_timer_stop(c->nl->loop, &c->timer);
		c->local.len = sizeof(c->local.ss);
		if (getsockname(c->fd, (struct sockaddr *)&c->local.ss, &c->local.len) < 0)
			c->local.len = 0;
		conn_set_sockopts(c->fd, &c->opts);
		c->nl->st.conns_connected++;
		if (c->tls_ctx) {
			/* on_connect follows the handshake */
			if (!conn_tls_start(c))
				return;
			conn_arm_deadline(c);
			conn_update_reading(c);
			conn_tls_handshake(c);
			return;
		}
		if (c->ops.on_connect)
			c->ops.on_connect(c);
		if (c->closing)
			return;
		conn_update_reading(c);
	}
	if (c->tls_rd_wants_write) {
		c->tls_rd_wants_write = false;
		conn_tls_read(c);
		if (c->closing)
			return;
	}
	conn_flush(c);
}

static void conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct net_conn *c = (struct net_conn *)((char *)w - offsetof(struct net_conn, timer));
	if (!c->connected) {
		char why[96];
		snprintf(why, sizeof(why), "connect timed out after %u ms",
		         c->opts.connect_timeout_ms);
		net_conn_close(c, COL_ETIMEDOUT, why);
	} else if (c->tls_deadline) {
		char why[96];
		snprintf(why, sizeof(why), "TLS handshake not completed within %u ms",
		         c->opts.handshake_timeout_ms);
		log_warn("net", "%s: %s; closing", c->peer_str, why);
		net_conn_close(c, COL_ETIMEDOUT, why);
	} else if (c->flush_close) {
		net_conn_close(c, c->linger_reason, "peer did not read the last answer in time");
	}
}

static void conn_fill_opts(struct net_conn_opts *o, const struct net_conn_opts *in)
{
	if (in)
		*o = *in;
	else
		memset(o, 0, sizeof(*o));
	if (!o->max_frame)
		o->max_frame = DEF_MAX_FRAME;
	if (!o->out_high)
		o->out_high = DEF_OUT_HIGH;
	if (!o->out_cap)
		o->out_cap = DEF_OUT_CAP;
	if (o->out_high > o->out_cap)
		o->out_high = o->out_cap;
	if (!o->read_chunk)
		o->read_chunk = DEF_READ_CHUNK;
	if (!o->connect_timeout_ms)
		o->connect_timeout_ms = DEF_CONNECT_TIMEOUT_MS;
	if (!o->handshake_timeout_ms)
		o->handshake_timeout_ms = DEF_HANDSHAKE_TIMEOUT_MS;
	o->tls = NULL; /* held as net_conn.tls_ctx, with a reference */
}

static struct net_conn *conn_new(struct net_loop *nl, int fd, const struct net_conn_ops *ops,
                                 const struct net_conn_opts *opts, void *ctx)
{
	struct net_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->nl = nl;
	c->fd = fd;
	c->ops = *ops;
	conn_fill_opts(&c->opts, opts);
	c->ctx = ctx;
	buf_init(&c->in);
	buf_init(&c->out);
	ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
	ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
	ev_timer_init(&c->timer, conn_timer_cb, 0., 0.);
	c->next = nl->conns;
	if (nl->conns)
		nl->conns->prev = c;
	nl->conns = c;
	nl->st.conns_open++;
	return c;
}

static void conn_free(struct net_conn *c)
{
	struct net_loop *nl = c->nl;
	if (c->prev)
		c->prev->next = c->next;
	else
		nl->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->srv)
		c->srv->nconns--;
	nl->st.conns_open--;
	nl->st.conns_closed++;
	buf_release(&c->in);
	buf_release(&c->out);
	tls_conn_free(c->tls);
	tls_ctx_unref(c->tls_ctx);
	free(c);
}

static void conn_close_after_flush(struct net_conn *c, int reason, const char *why)
{
	if (c->closing || c->flush_close)
		return;
	if (conn_queued(c) == 0 || !c->connected) {
		net_conn_close(c, reason, why);
		return;
	}
	c->flush_close = true;
	c->linger_reason = reason;
	snprintf(c->linger_why, sizeof(c->linger_why), "%s", why ? why : "");
	conn_update_reading(c);
	ev_timer_stop(c->nl->loop, &c->timer);
	ev_timer_set(&c->timer, LINGER_S, 0.);
	ev_timer_start(c->nl->loop, &c->timer);
	conn_add_flush(c);
}

void net_conn_close_after_flush(struct net_conn *c)
{
	conn_close_after_flush(c, 0, NULL);
}

bool net_conn_closing(const struct net_conn *c)
{
	return c->closing || c->flush_close;
}

void net_conn_pause_read(struct net_conn *c)
{
	c->user_paused = true;
	conn_update_reading(c);
}

void net_conn_resume_read(struct net_conn *c)
{
	c->user_paused = false;
	conn_update_reading(c);
}

bool net_conn_reading(const struct net_conn *c)
{
	return conn_want_read(c);
}
void net_conn_set_ctx(struct net_conn *c, void *ctx)
{
	c->ctx = ctx;
}
void *net_conn_ctx(const struct net_conn *c)
{
	return c->ctx;
}
const struct net_addr *net_conn_peer(const struct net_conn *c)
{
	return &c->peer;
}
const struct net_addr *net_conn_local(const struct net_conn *c)
{
	return &c->local;
}
const char *net_conn_peer_str(const struct net_conn *c)
{
	return c->peer_str;
}
size_t net_conn_queued(const struct net_conn *c)
{
	return conn_queued(c);
}
size_t net_conn_unread(const struct net_conn *c)
{
	return c->in.len - c->in_pos;
}

struct net_loop *net_conn_loop(const struct net_conn *c)
{
	return c->nl;
}
bool net_conn_connected(const struct net_conn *c)
{
	return c->connected;
}

bool net_conn_is_tls(const struct net_conn *c)
{
	return c->tls != NULL || c->tls_ctx != NULL;
}

void net_conn_tls_describe(const struct net_conn *c, char *out, size_t cap)
{
	if (c->tls && c->tls_state == NTLS_OPEN)
		tls_conn_describe(c->tls, out, cap);
	else
		snprintf(out, cap, "%s", c->tls ? "TLS handshake pending" : "plaintext");
}

void net_conn_tls_peer(const struct net_conn *c, char *out, size_t cap)
{
	if (c->tls && c->tls_state == NTLS_OPEN)
		tls_conn_peer_subject(c->tls, out, cap);
	else if (cap)
		out[0] = 0;
}

void net_conn_get_stats(const struct net_conn *c, struct net_conn_stats *out)
{
	*out = c->st;
	out->queued = conn_queued(c);
}

/* ---- the loop ------------------------------------------------------------------------------- */

/* Drain flush, resume and reap lists until all are empty (callbacks may refill them). */
void net_loop_run_pending(struct net_loop *nl)
{
	if (nl->in_pending)
		return;
	nl->in_pending = true;
	while (nl->flush_head || nl->resume_head || nl->reap_head) {
		while (nl->resume_head) {
			struct net_conn *c = nl->resume_head;
			nl->resume_head = c->resume_next;
			c->on_resume = false;
			if (!c->closing)
				conn_process_input(c);
		}
		while (nl->flush_head) {
			struct net_conn *c = nl->flush_head;
			nl->flush_head = c->flush_next;
			c->on_flush = false;
			conn_flush(c);
		}
		while (nl->reap_head && !nl->flush_head && !nl->resume_head) {
			struct net_conn *c = nl->reap_head;
			nl->reap_head = c->reap_next;
			c->on_reap = false;
			if (c->handed && c->ops.on_close)
				c->ops.on_close(c, c->close_reason, c->why);
			conn_free(c);
		}
	}
	nl->in_pending = false;
}

const uint32_t net_iter_bounds_us[NET_ITER_BUCKETS - 1] = {
        50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 1000000};

static void record_iteration(struct net_loop_stats *st, int64_t busy_us)
{
	uint64_t v = busy_us > 0 ? (uint64_t)busy_us : 0;
	size_t i = 0;
	while (i < NET_ITER_BUCKETS - 1 && v > net_iter_bounds_us[i])
		i++;
	st->iter_buckets[i]++;
	st->iter_count++;
	st->iter_busy_us += v;
	if (v > st->iter_max_us)
		st->iter_max_us = v;
}

static void note_stall(struct net_loop *nl, int64_t busy_us);

/*
 * Coalescing: with frames arriving faster than NET_COALESCE_ON per window, the loop waits
 * out the rest of the window after each iteration (libev's io_collect_interval) and takes
 * what came meanwhile in one wake-up; slower than NET_COALESCE_OFF per window, it polls at
 * once again.  Sampled every NET_COALESCE_SAMPLE_US of the loop's time.
 */
static void coalesce_sample(struct net_loop *nl, int64_t now)
{
	if (!nl->coalesce_at) {
		nl->coalesce_at = now;
		nl->coalesce_frames = nl->st.frames_in;
		return;
	}
	int64_t span = now - nl->coalesce_at;
	if (span < NET_COALESCE_SAMPLE_US)
		return;
	/* frames per window, times 100 */
	uint64_t per =
	        (nl->st.frames_in - nl->coalesce_frames) * 100u * nl->coalesce_us / (uint64_t)span;
	bool on = nl->coalescing ? per >= NET_COALESCE_OFF * 100u : per >= NET_COALESCE_ON * 100u;
	if (on != nl->coalescing) {
		nl->coalescing = on;
		ev_set_io_collect_interval(nl->loop, on ? nl->coalesce_us / 1e6 : 0.);
	}
	nl->coalesce_at = now;
	nl->coalesce_frames = nl->st.frames_in;
}

void net_loop_set_coalescing(struct net_loop *nl, uint32_t window_us)
{
	nl->coalesce_us = window_us;
	nl->coalesce_at = 0;
	if (!window_us && nl->coalescing) {
		nl->coalescing = false;
		ev_set_io_collect_interval(nl->loop, 0.);
	}
}

/* Runs after the loop's other prepare watchers (libev invokes them in reverse start
 * order, and this one is started first): the iteration's work is done when it returns. */
static void loop_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	struct net_loop *nl = (struct net_loop *)((char *)w - offsetof(struct net_loop, prep));
	net_loop_run_pending(nl);
	nl->block_start = clock_mono_us();
	if (nl->wake) {
		record_iteration(&nl->st, nl->block_start - nl->wake);
		if (nl->block_start - nl->wake >= NET_STALL_US)
			note_stall(nl, nl->block_start - nl->wake);
	}
	if (nl->coalesce_us)
		coalesce_sample(nl, nl->block_start);
	if (nl->coalescing)
		nl->st.coalescing_iters++;
}

/* The loop thread's run-queue delay so far, ns (the second field of schedstat); false when
 * the kernel does not say. */
static bool read_runq_ns(int fd, uint64_t *out)
{
	char b[96];
	ssize_t n = pread(fd, b, sizeof(b) - 1, 0);
	if (n <= 0)
		return false;
	b[n] = 0;
	unsigned long long cpu, wait;
	if (sscanf(b, "%llu %llu", &cpu, &wait) != 2)
		return false;
	*out = wait;
	return true;
}

/* Sample the run-queue delay of the loop's thread at `now` (called on that thread, on a
 * wake-up; `force`: whatever the time since the last sample). */
static void sample_runq(struct net_loop *nl, int64_t now, bool force)
{
	if (!force && nl->runq_at && now - nl->runq_at < NET_RUNQ_SAMPLE_US)
		return;
	uint64_t ns;
	if (!nl->runq_at) {
		/* Opened here, not in net_loop_new: thread-self is the thread that opens it. */
		nl->runq_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
		if (nl->runq_fd >= 0 && !read_runq_ns(nl->runq_fd, &nl->runq_base_ns)) {
			close(nl->runq_fd);
			nl->runq_fd = -1;
		}
	} else if (nl->runq_fd >= 0 && read_runq_ns(nl->runq_fd, &ns) && ns >= nl->runq_base_ns) {
		nl->st.runq_us = (ns - nl->runq_base_ns) / 1000;
	}
	nl->runq_at = now;
}

/*
 * An iteration ran `busy_us` from waking up to waiting again: every event that came in
 * meanwhile waited for it.  Past NET_STALL_US it is counted and logged (at most one line
 * per NET_STALL_LOG_US), with the part of it the thread spent waiting for a core: a stall
 * that was mostly that is the machine's other work; one that was not is this loop's own
 * (a slow callback, a blocking call on the loop).
 */
static void note_stall(struct net_loop *nl, int64_t busy_us)
{
	sample_runq(nl, nl->block_start, true);
	uint64_t runq = nl->st.runq_us - nl->runq_at_wake;
	if (runq > (uint64_t)busy_us)
		runq = (uint64_t)busy_us; /* the wake-up's sample may be up to 5 ms old */
	nl->st.stalls++;
	nl->st.stall_us += (uint64_t)busy_us;
	nl->st.stall_runq_us += runq;
	if (nl->stall_logged && nl->block_start - nl->stall_logged < NET_STALL_LOG_US) {
		nl->stalls_unlogged++;
		return;
	}
	char name[16] = "?";
	pthread_getname_np(pthread_self(), name, sizeof(name));
	char more[64] = "", waited[64] = "its wait for a core unknown here";
	if (nl->stalls_unlogged)
		snprintf(more, sizeof(more), "; %llu more since the last such line",
		         (unsigned long long)nl->stalls_unlogged);
	if (nl->runq_fd >= 0)
		snprintf(waited, sizeof(waited), "%llu ms of it waiting for a core",
		         (unsigned long long)(runq / 1000));
	log_warn("net",
	         "event loop of thread '%s' ran one iteration for %lld ms without waiting for "
	         "events (%s): requests and messages that arrived meanwhile waited for it%s",
	         name, (long long)(busy_us / 1000), waited, more);
	nl->stall_logged = nl->block_start;
	nl->stalls_unlogged = 0;
}

static void loop_check_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	(void)loop;
	(void)revents;
	struct net_loop *nl = (struct net_loop *)((char *)w - offsetof(struct net_loop, check));
	nl->wake = clock_mono_us();
	if (nl->block_start) {
		nl->st.idle_us += (uint64_t)(nl->wake - nl->block_start);
		nl->block_start = 0;
	}
	sample_runq(nl, nl->wake, false);
	nl->runq_at_wake = nl->st.runq_us;
}

int net_loop_new(struct ev_loop *loop, struct net_loop **out)
{
	struct net_loop *nl = calloc(1, sizeof(*nl));
	if (!nl)
		return COL_ENOMEM;
	nl->loop = loop;
	nl->runq_fd = -1;
	ev_prepare_init(&nl->prep, loop_prepare_cb);
	ev_prepare_start(loop, &nl->prep);
	ev_unref(loop); /* the prepare watcher alone must not keep ev_run going */
	ev_check_init(&nl->check, loop_check_cb);
	ev_check_start(loop, &nl->check);
	ev_unref(loop);
	*out = nl;
	return COL_OK;
}

static void server_close(struct net_server *s);

void net_loop_free(struct net_loop *nl)
{
	if (!nl)
		return;
	while (nl->servers) {
		struct net_server *s = nl->servers;
		nl->servers = s->next;
		server_close(s);
		tls_ctx_unref(s->tls);
		free(s);
	}
	for (struct net_conn *c = nl->conns; c; c = c->next)
		if (!c->closing)
			net_conn_close(c, 0, "shutting down");
	/* Nothing can be flushed any more: everything is closing. */
	nl->flush_head = nl->resume_head = NULL;
	for (struct net_conn *c = nl->conns; c; c = c->next)
		c->on_flush = c->on_resume = false;
	net_loop_run_pending(nl);
	ev_ref(nl->loop);
	ev_prepare_stop(nl->loop, &nl->prep);
	ev_ref(nl->loop);
	ev_check_stop(nl->loop, &nl->check);
	if (nl->runq_fd >= 0)
		close(nl->runq_fd);
	free(nl);
}

struct ev_loop *net_loop_ev(const struct net_loop *nl)
{
	return nl->loop;
}

void net_loop_get_stats(const struct net_loop *nl, struct net_loop_stats *out)
{
	*out = nl->st;
}

uint64_t net_loop_idle_us(const struct net_loop *nl)
{
	return nl->st.idle_us;
}

uint64_t net_loop_runq_us(const struct net_loop *nl)
{
	return nl->st.runq_us;
}

/* ---- outgoing ------------------------------------------------------------------------------- */

int net_connect(struct net_loop *nl, const struct net_addr *local, const struct net_addr *remote,
                const struct net_conn_ops *ops, const struct net_conn_opts *opts, void *ctx,
                struct net_conn **out, struct cerr *err)
{
	char rs[NET_ADDR_STRLEN];
	net_addr_format(remote, rs, sizeof(rs));
	int fd = socket(remote->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cerr_set(err, COL_EIO, "connect to %s: socket: %s", rs, strerror(errno));
	if (local) {
		struct net_addr l = *local;
		if (l.ss.ss_family == AF_INET)
			((struct sockaddr_in *)&l.ss)->sin_port = 0;
		else
			((struct sockaddr_in6 *)&l.ss)->sin6_port = 0;
#ifdef IP_BIND_ADDRESS_NO_PORT
		/* Let connect() pick the port: bind(port 0) alone would reserve one per socket. */
		int one = 1;
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
#endif
		if (bind(fd, (struct sockaddr *)&l.ss, l.len) < 0) {
			int e = errno;
			char ls[NET_ADDR_STRLEN];
			net_addr_host(&l, ls, sizeof(ls));
			close(fd);
			return cerr_set(err, COL_EIO, "connect to %s: bind to source %s: %s", rs,
			                ls, strerror(e));
		}
	}
	struct net_conn *c = conn_new(nl, fd, ops, opts, ctx);
	if (!c) {
		close(fd);
		return cerr_set(err, COL_ENOMEM, "connect to %s: out of memory", rs);
	}
	c->handed = true;
	c->outgoing = true;
	if (opts && opts->tls)
		c->tls_ctx = tls_ctx_ref(opts->tls);
	c->peer = *remote;
	snprintf(c->peer_str, sizeof(c->peer_str), "%s", rs);
	if (local)
		c->local = *local;
	int rc = connect(fd, (const struct sockaddr *)&remote->ss, remote->len);
	if (rc < 0 && errno != EINPROGRESS) {
		conn_close_errno(c, COL_EIO, "connect", errno);
	} else {
		/* Completion (or immediate success) is reported by writability. */
		ev_io_start(nl->loop, &c->wio);
		ev_timer_set(&c->timer, c->opts.connect_timeout_ms / 1000.0, 0.);
		ev_timer_start(nl->loop, &c->timer);
	}
	*out = c;
	return COL_OK;
}

/* A connected socket accepted by some loop's server, served by `nl` from now on. */
static struct net_conn *conn_adopt(struct net_loop *nl, int fd, const struct net_addr *peer,
                                   const struct net_conn_ops *ops, const struct net_conn_opts *opts,
                                   void *ctx)
{
	struct net_conn *c = conn_new(nl, fd, ops, opts, ctx);
	if (!c)
		return NULL;
	c->connected = true;
	c->peer = *peer;
	net_addr_format(peer, c->peer_str, sizeof(c->peer_str));
	c->local.len = sizeof(c->local.ss);
	if (getsockname(fd, (struct sockaddr *)&c->local.ss, &c->local.len) < 0)
		c->local.len = 0;
	nl->st.conns_accepted++;
	return c;
}

/* ---- servers -------------------------------------------------------------------------------- */

static void server_accept_cb(struct ev_loop *loop, ev_io *w, int revents);

static void server_backoff_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	struct net_server *s =
	        (struct net_server *)((char *)w - offsetof(struct net_server, backoff));
	ev_io_start(loop, &s->lio);
}

static void server_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	struct net_server *s = (struct net_server *)((char *)w - offsetof(struct net_server, lio));
	char ls[NET_ADDR_STRLEN];
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct net_addr peer;
		memset(&peer, 0, sizeof(peer));
		peer.len = sizeof(peer.ss);
		int fd = accept4(s->fd, (struct sockaddr *)&peer.ss, &peer.len,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			net_addr_format(&s->addr, ls, sizeof(ls));
			log_warn("net", "accept on %s: %s; pausing accepts for %.0f ms", ls,
			         strerror(errno), ACCEPT_BACKOFF_S * 1000);
			ev_io_stop(loop, &s->lio);
			ev_timer_set(&s->backoff, ACCEPT_BACKOFF_S, 0.);
			ev_timer_start(loop, &s->backoff);
			return;
		}
		char ps[NET_ADDR_STRLEN];
		net_addr_format(&peer, ps, sizeof(ps));
		if (s->nconns >= s->opts.max_conns) {
			net_addr_format(&s->addr, ls, sizeof(ls));
			log_warn("net",
			         "%s: refusing connection from %s: %u connections open (limit)", ls,
			         ps, s->nconns);
			close(fd);
			continue;
		}
		conn_set_sockopts(fd, &s->opts.conn);
		bool tls = s->tls && s->tls_mode != NET_TLS_OFF;
		if (s->handoff && (!tls || s->handoff_tls) &&
		    s->handoff(s->handoff_ctx, fd, &peer) == 0)
			continue; /* another loop serves it */
		struct net_conn *c = conn_adopt(s->nl, fd, &peer, &s->ops, &s->opts.conn, s->ctx);
		if (!c) {
			close(fd);
			continue;
		}
		c->srv = s;
		s->nconns++;
		net_conn_serve_tls(c, s->tls, s->tls_mode);
		c->handed = true;
		if (s->on_accept && s->on_accept(s, c, s->ctx) < 0) {
			c->handed = false;
			net_conn_close(c, 0, "refused by server");
			continue;
		}
		if (!c->closing)
			conn_update_reading(c);
	}
}

void net_server_set_handoff(struct net_server *s, net_handoff_fn fn, void *ctx)
{
	s->handoff = fn;
	s->handoff_ctx = ctx;
}

void net_server_set_handoff_tls(struct net_server *s, bool adopters_serve_tls)
{
	s->handoff_tls = adopters_serve_tls;
}

int net_conn_adopt(struct net_loop *nl, int fd, const struct net_addr *peer,
                   const struct net_conn_ops *ops, const struct net_conn_opts *opts, void *ctx,
                   struct net_conn **out)
{
	struct net_conn_opts o;
	conn_fill_opts(&o, opts);
	struct net_conn *c = conn_adopt(nl, fd, peer, ops, &o, ctx);
	if (!c)
		return COL_ENOMEM;
	*out = c;
	return 0;
}

void net_conn_serve_tls(struct net_conn *c, struct tls_ctx *tls, enum net_tls_mode mode)
{
	if (!tls || mode == NET_TLS_OFF || c->tls || c->tls_ctx)
		return;
	c->tls_ctx = tls_ctx_ref(tls);
	c->tls_state = NTLS_SNIFF;
	c->tls_mode = (uint8_t)mode;
	conn_arm_deadline(c);
}

void net_conn_start(struct net_conn *c)
{
	c->handed = true;
	if (!c->closing)
		conn_update_reading(c);
}

int net_server_new(struct net_loop *nl, const struct net_addr *addr,
                   const struct net_server_opts *opts, const struct net_conn_ops *ops,
                   net_accept_fn on_accept, void *ctx, struct net_server **out, struct cerr *err)
{
	char as[NET_ADDR_STRLEN];
	net_addr_format(addr, as, sizeof(as));
	int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cerr_set(err, COL_EIO, "listen on %s: socket: %s", as, strerror(errno));
	int one = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct net_server_opts o;
	if (opts)
		o = *opts;
	else
		memset(&o, 0, sizeof(o));
	if (!o.max_conns)
		o.max_conns = DEF_MAX_CONNS;
	if (o.backlog <= 0)
		o.backlog = DEF_BACKLOG;
	conn_fill_opts(&o.conn, &o.conn);
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 ||
	    listen(fd, o.backlog) < 0) {
		int e = errno;
		close(fd);
		return cerr_set(err, COL_EIO, "listen on %s: %s", as, strerror(e));
	}
	struct net_server *s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return cerr_set(err, COL_ENOMEM, "listen on %s: out of memory", as);
	}
	s->nl = nl;
	s->fd = fd;
	s->opts = o;
	s->ops = *ops;
	s->on_accept = on_accept;
	s->ctx = ctx;
	s->addr.len = sizeof(s->addr.ss);
	if (getsockname(fd, (struct sockaddr *)&s->addr.ss, &s->addr.len) < 0)
		s->addr = *addr;
	ev_io_init(&s->lio, server_accept_cb, fd, EV_READ);
	ev_timer_init(&s->backoff, server_backoff_cb, 0., 0.);
	ev_io_start(nl->loop, &s->lio);
	s->next = nl->servers;
	nl->servers = s;
	*out = s;
	return COL_OK;
}

void net_server_set_tls(struct net_server *s, struct tls_ctx *tls, enum net_tls_mode mode)
{
	if (tls)
		tls_ctx_ref(tls);
	tls_ctx_unref(s->tls);
	s->tls = tls;
	s->tls_mode = tls ? mode : NET_TLS_OFF;
}

static void server_close(struct net_server *s)
{
	ev_io_stop(s->nl->loop, &s->lio);
	ev_timer_stop(s->nl->loop, &s->backoff);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	for (struct net_conn *c = s->nl->conns; c; c = c->next)
		if (c->srv == s)
			c->srv = NULL;
}

void net_server_free(struct net_server *s)
{
	if (!s)
		return;
	struct net_server **pp = &s->nl->servers;
	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	server_close(s);
	tls_ctx_unref(s->tls);
	free(s);
}

const struct net_addr *net_server_addr(const struct net_server *s)
{
	return &s->addr;
}
unsigned net_server_conns(const struct net_server *s)
{
	return s->nconns;
}
