/*
 * libFuzzer target: bytes from an internode connection.
 *
 * First input byte 0: the rest is one frame for msg_decode() (length, flags,
 * zstd, msgpack body); a frame that decodes goes on as below.  Otherwise the
 * rest is the payload of a gossip verb (byte % 5: SYN, ACK, ACK2, SHUTDOWN,
 * ECHO) handled by a real gossiper, and of a HANDSHAKE.  A fresh gossiper
 * (max 16 endpoints) per input keeps inputs independent; its answers queue
 * towards 127.0.0.1:9 on a loop that never runs, so nothing leaves the box.
 */
#include "core/log.h"
#include "core/net.h"
#include "gossip/gossiper.h"
#include "gossip/messaging.h"

#include <ev.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct ev_loop *loop;
static struct net_loop *nl;
static struct messaging *m;
static struct msg_codec codec;
static struct net_addr from;
static struct host_id from_host;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop || net_loop_new(loop, &nl) != 0)
		abort();
	struct messaging_config c = {.cluster_name = "test",
	                             /* keep the queue towards the fake sender small */
	                             .peer_queue_bytes = 1 << 20,
	                             .max_requests = 1024};
	memset(c.host_id.b, 0x11, HOST_ID_LEN);
	if (net_addr_parse("127.0.0.1", 0, &c.listen, NULL) != 0 ||
	    messaging_new(nl, &c, &m, NULL) != 0)
		abort();
	if (msg_codec_init(&codec, 1 << 20, 0) != 0)
		abort();
	net_addr_parse("127.0.0.1", 9, &from, NULL);
	memset(from_host.b, 0x22, HOST_ID_LEN);
	return 0;
}

static void gossip_payload(unsigned verb, const uint8_t *p, size_t n)
{
	struct gossiper *g;
	struct gossiper_config gc = {
	        .messaging = m, .generation = 1700000000, .interval_ms = 1000, .max_endpoints = 16};
	if (gossiper_new(&gc, &g, NULL) != 0)
		abort();
	struct msg_in msg = {.verb = verb,
	                     .id = verb == VERB_ECHO ? 5 : 0,
	                     .payload = p,
	                     .payload_len = n,
	                     .from = &from,
	                     .from_host = &from_host};
	(void)gossiper_receive(g, &msg);
	/* Twice: the second pass meets the state the first one built. */
	(void)gossiper_receive(g, &msg);
	gossiper_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	if (data[0] == 0) {
		struct msg_in msg;
		if (msg_decode(&codec, p, n, &msg, NULL) == 0) {
			struct msg_handshake h;
			(void)msg_handshake_decode(msg.payload, msg.payload_len, &h, NULL);
			if (msg.verb >= VERB_GOSSIP_SYN && msg.verb <= VERB_ECHO &&
			    msg.payload_len < (1 << 16)) {
				/* The payload may sit in the codec's scratch: copy it. */
				uint8_t *copy = malloc(msg.payload_len + 1);
				memcpy(copy, msg.payload, msg.payload_len);
				gossip_payload(msg.verb, copy, msg.payload_len);
				free(copy);
			}
		}
		return 0;
	}
	struct msg_handshake h;
	(void)msg_handshake_decode(p, n, &h, NULL);
	static const unsigned verbs[5] = {VERB_GOSSIP_SYN, VERB_GOSSIP_ACK, VERB_GOSSIP_ACK2,
	                                  VERB_GOSSIP_SHUTDOWN, VERB_ECHO};
	gossip_payload(verbs[data[0] % 5], p, n);
	return 0;
}
