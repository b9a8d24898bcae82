/*
 * hints_int.h — struct hints' insides, shared by hints.c (formats, storing,
 * targets, ranges, operator) and dispatch.c (delivery and the HINT verb).
 * Only these files and the hints tests include it.
 */
#ifndef COLONNADE_COORDINATOR_HINTS_INT_H
#define COLONNADE_COORDINATOR_HINTS_INT_H

#include "coordinator/hints/hints.h"

#include <ev.h>

enum { HK_HINT = 0x01, HK_DOWN = 0x02, HK_RANGE = 0x03 };

/* One target host: its pending hints and its delivery. */
struct htarget {
	struct hints *h;
	uint8_t host_id[16];
	uint64_t count, bytes; /* pending */
	int64_t newest_ms;
	int64_t down_since_ms; /* wall ms; 0 = not known down */
	unsigned logged;       /* drop reasons logged during this outage (bit per reason) */
	uint64_t delivered, delivered_bytes;
	/* delivery */
	bool active;   /* holds one of the delivery slots */
	bool stalled;  /* a send failed or the target went down: drain, then stop */
	bool held;     /* the last round failed: wait for UP or the flush period */
	bool has_next; /* next_key: the last key read; reading resumes after it */
	uint8_t next_key[HINTS_KEY_LEN];
	bool has_retry; /* retry_key: the oldest hint sent and not acknowledged */
	uint8_t retry_key[HINTS_KEY_LEN];
	unsigned in_flight;
	size_t in_flight_bytes;
	struct net_addr addr; /* where this delivery round sends */
	double bucket;        /* throttle tokens (bytes) */
	int64_t bucket_us;    /* monotonic time of the last refill */
	ev_timer timer;       /* next step (0 s) or throttle wait */
};

/* A dropped-hint range counted in memory, written through on first sight. */
struct hrange {
	struct hints_range r;
	bool dirty;
	bool used;
};
#define HINTS_RANGE_SLOTS 4096

struct hints {
	struct hints_config cfg;
	char disabled_dcs[512];
	struct ev_loop *loop;
	bool enabled, paused;
	uint64_t seq;
	struct htarget **t;
	size_t n_t, cap_t;
	unsigned active; /* targets holding a delivery slot */
	struct hints_stats st;
	struct hrange *ranges; /* open addressing by (host, start) */
	size_t n_ranges;
	ev_timer flush_timer;
	ev_timer rate_timer;
	uint64_t rate_last_bytes;
	struct buf scratch; /* values being encoded */
	struct buf step;    /* a dispatcher step's keys and values */
	struct buf mut;     /* one decoded hint */
	struct hsend *free_sends;
	void *zc; /* ZSTD_CCtx */
	void *zd; /* ZSTD_DCtx */
};

struct htarget *hints_target_get(struct hints *h, const uint8_t host_id[16], bool create);
/* Count a dropped hint, log it once per outage, record its range (token known or not). */
void hints_dropped(struct hints *h, struct htarget *t, const uint8_t host_id[16],
                   enum hints_drop why, const uint8_t *mut, size_t len);
/* A stored hint is gone (delivered or discarded): pending counters. */
void hints_forget(struct hints *h, struct htarget *t, size_t value_bytes);

/* dispatch.c */
int hints_dispatch_init(struct hints *h, struct cerr *err);
void hints_dispatch_release(struct hints *h);
/* Start (or continue) delivering to t if it is alive, has hints and a slot is free. */
void hints_dispatch_kick(struct hints *h, struct htarget *t);
/* Every target that could be served (flush period, enable, resume). */
void hints_dispatch_all(struct hints *h);
void hints_dispatch_stall(struct hints *h, struct htarget *t);
/* Discard a target's oldest expired hints (one bounded step; not while it is served). */
void hints_dispatch_purge(struct hints *h, struct htarget *t);
/* A new target's timer. */
void hints_dispatch_target_init(struct htarget *t);

#endif
