/*
 * messaging_codec.c — host ids, the frame codec and the handshake payload of
 * internode messaging (the wire format is in messaging.h).
 */
#include "gossip/messaging.h"

#include "core/hex.h"
#include "core/msgpk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* Below ~4 KiB zstd saves little on msgpack and costs more CPU than the bytes it saves. */
#define DEF_COMPRESS_THRESHOLD 4096u
/* zstd level 1: the fastest; internode links are CPU-bound here, not bandwidth-bound. */
#define ZSTD_LEVEL 1
/* The frame header: u32 length + u8 flags. */
#define FRAME_HDR 5
/* The largest body when the codec is given none. */
#define DEF_MAX_MESSAGE (16u << 20)

/* ---- host ids -------------------------------------------------------------------------------- */

void host_id_format(const struct host_id *h, char *out)
{
	uuid_format(h->b, out);
}

int host_id_parse(const char *s, struct host_id *out)
{
	return uuid_parse(s, strlen(s), out->b) ? COL_OK : COL_EINVAL;
}

bool host_id_equal(const struct host_id *a, const struct host_id *b)
{
	return memcmp(a->b, b->b, HOST_ID_LEN) == 0;
}

bool host_id_is_zero(const struct host_id *h)
{
	static const struct host_id zero;
	return host_id_equal(h, &zero);
}

/* ---- codec ----------------------------------------------------------------------------------- */

int msg_codec_init(struct msg_codec *c, size_t max_message, size_t compress_threshold)
{
	memset(c, 0, sizeof(*c));
	buf_init(&c->cscratch);
	buf_init(&c->dscratch);
	c->max_message = max_message ? max_message : DEF_MAX_MESSAGE;
	c->compress_threshold = compress_threshold ? compress_threshold : DEF_COMPRESS_THRESHOLD;
	c->cctx = ZSTD_createCCtx();
	c->dctx = ZSTD_createDCtx();
	if (!c->cctx || !c->dctx) {
		msg_codec_release(c);
		return COL_ENOMEM;
	}
	return COL_OK;
}

void msg_codec_release(struct msg_codec *c)
{
	ZSTD_freeCCtx(c->cctx);
	ZSTD_freeDCtx(c->dctx);
	c->cctx = NULL;
	c->dctx = NULL;
	buf_release(&c->cscratch);
	buf_release(&c->dscratch);
}

size_t msg_frame_begin(struct buf *b, unsigned verb, uint64_t id)
{
	size_t mark = b->len;
	buf_put_u32be(b, 0);
	buf_put_u8(b, 0);
	msgpk_put_array(b, 3);
	msgpk_put_uint(b, verb);
	msgpk_put_uint(b, id);
	return mark;
}

int msg_frame_end(struct msg_codec *c, struct buf *b, size_t mark, unsigned flags)
{
	if (!buf_ok(b)) {
		b->oom = false;
		b->len = mark;
		return COL_ENOMEM;
	}
	size_t body = mark + FRAME_HDR;
	size_t blen = b->len - body;
	if (blen > c->max_message) {
		b->len = mark;
		return COL_ETOOBIG;
	}
	if (blen > c->compress_threshold && c->cctx) {
		size_t bound = ZSTD_compressBound(blen);
		buf_reset(&c->cscratch);
		if (buf_reserve(&c->cscratch, bound) == COL_OK) {
			size_t n = ZSTD_compressCCtx(c->cctx, c->cscratch.data, bound,
			                             b->data + body, blen, ZSTD_LEVEL);
			if (!ZSTD_isError(n) && n < blen) {
				memcpy(b->data + body, c->cscratch.data, n);
				b->len = body + n;
				flags |= MSG_F_ZSTD;
			}
		} else {
			c->cscratch.oom = false; /* send uncompressed */
		}
	}
	b->data[mark + 4] = (uint8_t)flags;
	be32_store(b->data + mark, (uint32_t)(b->len - mark - 4));
	return COL_OK;
}

int msg_decode(struct msg_codec *c, const uint8_t *frame, size_t len, struct msg_in *out,
               struct cerr *err)
{
	if (len < FRAME_HDR)
		return cerr_set(err, COL_EPROTO, "frame of %zu bytes is shorter than its header",
		                len);
	uint32_t l = be32_load(frame);
	if ((size_t)l + 4 != len)
		return cerr_set(err, COL_EPROTO, "frame length %u does not match %zu bytes", l,
		                len - 4);
	unsigned flags = frame[4];
	if (flags & ~MSG_F_KNOWN_)
		return cerr_set(err, COL_EPROTO, "unknown frame flags 0x%02x", flags);
	if ((flags & MSG_F_FAILURE) && !(flags & MSG_F_RESPONSE))
		return cerr_set(err, COL_EPROTO, "FAILURE flag without RESPONSE");
	const uint8_t *body = frame + FRAME_HDR;
	size_t blen = len - FRAME_HDR;
	if (blen > c->max_message)
		return cerr_set(err, COL_ETOOBIG, "body of %zu bytes is over the limit of %zu",
		                blen, c->max_message);
	if (flags & MSG_F_ZSTD) {
		unsigned long long sz = ZSTD_getFrameContentSize(body, blen);
		if (sz == ZSTD_CONTENTSIZE_ERROR || sz == ZSTD_CONTENTSIZE_UNKNOWN)
			return cerr_set(err, COL_ECORRUPT,
			                "compressed body has no valid zstd frame header");
		if (sz > c->max_message)
			return cerr_set(err, COL_ETOOBIG,
			                "compressed body expands to %llu bytes, over the limit of "
			                "%zu",
			                sz, c->max_message);
		buf_reset(&c->dscratch);
		if (buf_reserve(&c->dscratch, (size_t)sz + 1) != COL_OK) {
			c->dscratch.oom = false;
			return cerr_set(err, COL_ENOMEM, "no memory to decompress %llu bytes", sz);
		}
		size_t n =
		        ZSTD_decompressDCtx(c->dctx, c->dscratch.data, (size_t)sz + 1, body, blen);
		if (ZSTD_isError(n) || n != sz)
			return cerr_set(err, COL_ECORRUPT, "zstd body does not decompress: %s",
			                ZSTD_isError(n) ? ZSTD_getErrorName(n) : "size mismatch");
		body = c->dscratch.data;
		blen = n;
	}
	struct bufreader r;
	bufreader_init(&r, body, blen);
	uint64_t verb, id;
	if (msgpk_expect_array(&r, 3) != COL_OK)
		return cerr_set(err, COL_ECORRUPT, "body is not a msgpack array of 3");
	if (msgpk_read_uint_max(&r, VERB_MAX - 1, &verb) != COL_OK)
		return cerr_set(err, COL_ECORRUPT, "verb is not an integer in 0..%d", VERB_MAX - 1);
	if (msgpk_read_uint(&r, &id) != COL_OK)
		return cerr_set(err, COL_ECORRUPT, "request id is not an unsigned integer");
	size_t ppos = r.pos;
	if (msgpk_skip(&r, MSGPK_MAX_DEPTH) != COL_OK)
		return cerr_set(err, COL_ECORRUPT,
		                "payload is not valid msgpack (or nested over %d)",
		                MSGPK_MAX_DEPTH);
	if (bufreader_left(&r) != 0)
		return cerr_set(err, COL_ECORRUPT, "%zu bytes after the payload",
		                bufreader_left(&r));
	if ((flags & MSG_F_RESPONSE) && id == 0 && verb != VERB_HANDSHAKE)
		return cerr_set(err, COL_EPROTO, "response with request id 0");
	if ((flags & MSG_F_REPLY_HERE) && ((flags & MSG_F_RESPONSE) || id == 0))
		return cerr_set(err, COL_EPROTO, "REPLY_HERE on a message that is not a request");
	memset(out, 0, sizeof(*out));
	out->verb = (unsigned)verb;
	out->flags = flags;
	out->id = id;
	out->payload = body + ppos;
	out->payload_len = r.pos - ppos;
	return COL_OK;
}

static void handshake_fields(struct buf *b, const char *cluster, const struct host_id *host,
                             const struct net_addr *listen, unsigned status, const char *reason)
{
	char h[64];
	net_addr_host(listen, h, sizeof(h));
	msgpk_put_cstr(b, cluster);
	msgpk_put_uint(b, MESSAGING_VERSION);
	msgpk_put_bin(b, host->b, HOST_ID_LEN);
	msgpk_put_cstr(b, h);
	msgpk_put_uint(b, net_addr_port(listen));
	msgpk_put_uint(b, status);
	msgpk_put_cstr(b, reason ? reason : "");
}

void msg_handshake_encode(struct buf *b, const char *cluster, const struct host_id *host,
                          const struct net_addr *listen, unsigned status, const char *reason)
{
	msgpk_put_array(b, 7);
	handshake_fields(b, cluster, host, listen, status, reason);
}

void msg_handshake_encode_proved(struct buf *b, const char *cluster, const struct host_id *host,
                                 const struct net_addr *listen, unsigned status, const char *reason,
                                 const uint8_t *secret, size_t secret_len, uint64_t time_ms,
                                 const uint8_t nonce[IAUTH_NONCE_LEN], const uint8_t *challenge)
{
	msgpk_put_array(b, 8);
	size_t start = b->len;
	handshake_fields(b, cluster, host, listen, status, reason);
	struct iauth_proof p = {.time_ms = time_ms};
	memcpy(p.nonce, nonce, IAUTH_NONCE_LEN);
	if (buf_ok(b))
		iauth_sign(secret, secret_len, b->data + start, b->len - start, challenge, &p);
	msgpk_put_array(b, 3);
	msgpk_put_uint(b, p.time_ms);
	msgpk_put_bin(b, p.nonce, IAUTH_NONCE_LEN);
	msgpk_put_bin(b, p.mac, IAUTH_MAC_LEN);
}

static int proof_decode(struct bufreader *r, struct iauth_proof *p, struct cerr *err)
{
	const uint8_t *b;
	uint32_t n;
	if (msgpk_expect_array(r, 3) != COL_OK || msgpk_read_uint(r, &p->time_ms) != COL_OK)
		return cerr_set(err, COL_ECORRUPT, "handshake: proof is not [time, nonce, mac]");
	if (msgpk_read_bin(r, &b, &n) != COL_OK || n != IAUTH_NONCE_LEN)
		return cerr_set(err, COL_ECORRUPT, "handshake: proof nonce is not %d bytes",
		                IAUTH_NONCE_LEN);
	memcpy(p->nonce, b, IAUTH_NONCE_LEN);
	if (msgpk_read_bin(r, &b, &n) != COL_OK || n != IAUTH_MAC_LEN)
		return cerr_set(err, COL_ECORRUPT, "handshake: proof mac is not %d bytes",
		                IAUTH_MAC_LEN);
	memcpy(p->mac, b, IAUTH_MAC_LEN);
	return COL_OK;
}

int msg_handshake_decode(const uint8_t *payload, size_t len, struct msg_handshake *out,
                         struct cerr *err)
{
	struct bufreader r;
	bufreader_init(&r, payload, len);
	struct msg_handshake h;
	memset(&h, 0, sizeof(h));
	const uint8_t *p;
	uint32_t n;
	uint64_t port;
	uint32_t arity;
	if (msgpk_read_array(&r, &arity) != COL_OK || (arity != 7 && arity != 8))
		return cerr_set(err, COL_ECORRUPT, "handshake is not an array of 7 or 8");
	h.fields = payload + r.pos;
	if (msgpk_read_str(&r, &h.cluster, &h.cluster_len) != COL_OK)
		return cerr_set(err, COL_ECORRUPT, "handshake: cluster name is not a string");
	if (msgpk_read_uint(&r, &h.version) != COL_OK)
		return cerr_set(err, COL_ECORRUPT, "handshake: version is not an integer");
	if (msgpk_read_bin(&r, &p, &n) != COL_OK || n != HOST_ID_LEN)
		return cerr_set(err, COL_ECORRUPT, "handshake: host id is not 16 bytes");
	memcpy(h.host_id.b, p, HOST_ID_LEN);
	if (msgpk_read_str(&r, &p, &n) != COL_OK || n == 0 || n >= sizeof(h.listen_host))
		return cerr_set(err, COL_ECORRUPT, "handshake: listen address is not a string");
	memcpy(h.listen_host, p, n);
	h.listen_host[n] = 0;
	if (msgpk_read_uint_max(&r, 65535, &port) != COL_OK)
		return cerr_set(err, COL_ECORRUPT, "handshake: listen port is not in 0..65535");
	h.listen_port = (uint16_t)port;
	if (msgpk_read_uint(&r, &h.status) != COL_OK)
		return cerr_set(err, COL_ECORRUPT, "handshake: status is not an integer");
	if (msgpk_read_str(&r, &h.reason, &h.reason_len) != COL_OK)
		return cerr_set(err, COL_ECORRUPT, "handshake: reason is not a string");
	h.fields_len = (size_t)(payload + r.pos - h.fields);
	if (arity == 8) {
		if (proof_decode(&r, &h.proof, err) != COL_OK)
			return COL_ECORRUPT;
		h.has_proof = true;
	}
	if (r.pos != len)
		return cerr_set(err, COL_ECORRUPT, "handshake: %zu bytes after its values",
		                len - r.pos);
	*out = h;
	return COL_OK;
}
