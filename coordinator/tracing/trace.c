/*
 * trace.c — one node's part of a trace session (trace.h).
 */
#include "coordinator/tracing/trace.h"

#include "core/clock.h"
#include "core/hex.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* 100 ns intervals between 1582-10-15 and 1970-01-01 (the uuid v1 epoch). */
#define UUID_EPOCH_OFFSET 0x01b21dd213814000ULL
#define THREAD_NAME_MAX   24
#define PARAM_KEY_MAX     32
#define PARAM_VAL_MAX     512

struct trace_ev {
	uint8_t id[16];
	int32_t elapsed_us;
	char thread[THREAD_NAME_MAX];
	char activity[TRACE_ACTIVITY_MAX];
};

struct trace {
	struct mailbox_job job; /* first: the sink's queue link */
	struct trace *next;     /* the sink's own list */
	atomic_int refs;
	pthread_mutex_t lock;
	const struct trace_sink *sink;
	uint8_t session[16];
	uint64_t lsb;       /* event ids: this part's random low bits, plus a counter */
	int64_t start_mono; /* µs: source_elapsed counts from here */
	int64_t start_wall; /* µs: started_at */
	/* the coordinator's session row (command set) */
	char command[16];
	char request[48];
	char client[64];
	size_t n_params;
	char pkey[TRACE_MAX_PARAMS][PARAM_KEY_MAX];
	char pval[TRACE_MAX_PARAMS][PARAM_VAL_MAX];
	int32_t duration_us;
	bool finished, session_written;
	/* events (under lock) */
	struct trace_ev *ev;
	size_t n_ev, cap_ev, written;
	uint64_t dropped, dropped_told;
};

static _Thread_local struct trace *current;

struct trace *trace_current(void)
{
	return current;
}

struct trace *trace_swap_current(struct trace *t)
{
	struct trace *old = current;
	current = t;
	return old;
}

void trace_timeuuid(int64_t wall_us, uint64_t lsb, uint8_t out[16])
{
	uint64_t t = (uint64_t)wall_us * 10 + UUID_EPOCH_OFFSET;
	be32_store(out, (uint32_t)t);
	be16_store(out + 4, (uint16_t)(t >> 32));
	be16_store(out + 6, (uint16_t)(((t >> 48) & 0x0fff) | 0x1000));
	be64_store(out + 8, lsb);
	out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}

static uint64_t random_u64(void)
{
	uint64_t v;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = (uint64_t)clock_mono_us() * 0x9e3779b97f4a7c15ULL;
	return v;
}

struct trace *trace_new(const struct trace_sink *sink, const uint8_t session[16])
{
	struct trace *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	atomic_init(&t->refs, 1);
	pthread_mutex_init(&t->lock, NULL);
	t->sink = sink;
	/* event ids of this part: low 16 bits count, the rest random (other nodes' parts of
	 * the session draw their own) */
	t->lsb = random_u64() & ~0xffffULL;
	t->start_mono = clock_mono_us();
	t->start_wall = clock_wall_us();
	t->duration_us = -1;
	if (session)
		memcpy(t->session, session, 16);
	else
		trace_timeuuid(t->start_wall, random_u64(), t->session);
	return t;
}

void trace_ref(struct trace *t)
{
	atomic_fetch_add(&t->refs, 1);
}

static void trace_free(struct trace *t)
{
	pthread_mutex_destroy(&t->lock);
	free(t->ev);
	free(t);
}

void trace_unref(struct trace *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	/* nobody else holds it: what was recorded after the last hand-over goes now */
	bool unwritten =
	        t->written < t->n_ev || (t->finished && t->command[0] && !t->session_written);
	if (unwritten && t->sink) {
		atomic_store(&t->refs, 1);
		t->sink->submit(t->sink->ctx, t);
		return;
	}
	trace_free(t);
}

const uint8_t *trace_session_id(const struct trace *t)
{
	return t->session;
}

static void thread_name(char *out, size_t cap)
{
	char name[32];
	if (pthread_getname_np(pthread_self(), name, sizeof(name)) != 0 || !name[0])
		snprintf(name, sizeof(name), "main");
	snprintf(out, cap, "%.*s", (int)cap - 1, name);
}

void trace_event(struct trace *t, const char *fmt, ...)
{
	if (!t)
		return;
	int64_t now = clock_mono_us();
	int64_t wall = clock_wall_us();
	pthread_mutex_lock(&t->lock);
	if (t->n_ev >= TRACE_MAX_EVENTS) {
		t->dropped++;
		pthread_mutex_unlock(&t->lock);
		return;
	}
	if (t->n_ev == t->cap_ev) {
		size_t cap = t->cap_ev ? t->cap_ev * 2 : 16;
		struct trace_ev *ev = realloc(t->ev, cap * sizeof(*ev));
		if (!ev) {
			t->dropped++;
			pthread_mutex_unlock(&t->lock);
			return;
		}
		t->ev = ev;
		t->cap_ev = cap;
	}
	struct trace_ev *e = &t->ev[t->n_ev];
	trace_timeuuid(wall, t->lsb | (t->n_ev & 0xffff), e->id);
	int64_t el = now - t->start_mono;
	e->elapsed_us = el > INT32_MAX ? INT32_MAX : (int32_t)el;
	thread_name(e->thread, sizeof(e->thread));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->activity, sizeof(e->activity), fmt, ap);
	va_end(ap);
	t->n_ev++;
	pthread_mutex_unlock(&t->lock);
}

void trace_set_session(struct trace *t, const char *command, const char *request,
                       const char *client)
{
	pthread_mutex_lock(&t->lock);
	snprintf(t->command, sizeof(t->command), "%s", command);
	snprintf(t->request, sizeof(t->request), "%s", request);
	snprintf(t->client, sizeof(t->client), "%s", client ? client : "");
	pthread_mutex_unlock(&t->lock);
}

void trace_add_param(struct trace *t, const char *key, const char *value)
{
	pthread_mutex_lock(&t->lock);
	if (t->n_params < TRACE_MAX_PARAMS) {
		snprintf(t->pkey[t->n_params], PARAM_KEY_MAX, "%s", key);
		snprintf(t->pval[t->n_params], PARAM_VAL_MAX, "%s", value);
		t->n_params++;
	}
	pthread_mutex_unlock(&t->lock);
}

void trace_finish(struct trace *t)
{
	if (!t)
		return;
	int64_t el = clock_mono_us() - t->start_mono;
	pthread_mutex_lock(&t->lock);
	bool first = !t->finished;
	t->finished = true;
	if (first && t->command[0])
		t->duration_us = el > INT32_MAX ? INT32_MAX : (int32_t)el;
	pthread_mutex_unlock(&t->lock);
	if (first && t->sink) {
		trace_ref(t);
		t->sink->submit(t->sink->ctx, t);
	}
}

/* ---- the sink's side ---------------------------------------------------------------------- */

/* A CQL string literal: quotes doubled, control bytes as spaces. */
static void put_quoted(struct buf *b, const char *s)
{
	buf_put_u8(b, '\'');
	for (; *s; s++) {
		uint8_t c = (uint8_t)*s;
		if (c == '\'')
			buf_put_u8(b, '\'');
		buf_put_u8(b, c < 0x20 ? ' ' : c);
	}
	buf_put_u8(b, '\'');
}

static void put_uuid(struct buf *b, const uint8_t u[16])
{
	uuid_put(b, u);
}

static void put_event(struct buf *b, const struct trace *t, const struct trace_ev *e)
{
	char num[64];
	buf_put_str(b, "INSERT INTO system_traces.events (session_id, event_id, activity, source, "
	               "source_port, source_elapsed, thread) VALUES (");
	put_uuid(b, t->session);
	buf_put_str(b, ", ");
	put_uuid(b, e->id);
	buf_put_str(b, ", ");
	put_quoted(b, e->activity);
	buf_put_str(b, ", ");
	put_quoted(b, t->sink ? t->sink->host : "127.0.0.1");
	snprintf(num, sizeof(num), ", %d, %d, ", t->sink ? t->sink->port : 7000,
	         (int)e->elapsed_us);
	buf_put_str(b, num);
	put_quoted(b, e->thread);
	snprintf(num, sizeof(num), ") USING TTL %d;\n", TRACE_TTL_S);
	buf_put_str(b, num);
}

static void put_session(struct buf *b, const struct trace *t)
{
	char num[96];
	buf_put_str(b, "INSERT INTO system_traces.sessions (session_id, command, ");
	if (t->client[0])
		buf_put_str(b, "client, ");
	buf_put_str(b, "coordinator, coordinator_port, duration, parameters, request, started_at) "
	               "VALUES (");
	put_uuid(b, t->session);
	buf_put_str(b, ", ");
	put_quoted(b, t->command);
	buf_put_str(b, ", ");
	if (t->client[0]) {
		put_quoted(b, t->client);
		buf_put_str(b, ", ");
	}
	put_quoted(b, t->sink ? t->sink->host : "127.0.0.1");
	snprintf(num, sizeof(num), ", %d, %d, {", t->sink ? t->sink->port : 7000,
	         (int)t->duration_us);
	buf_put_str(b, num);
	for (size_t i = 0; i < t->n_params; i++) {
		if (i)
			buf_put_str(b, ", ");
		put_quoted(b, t->pkey[i]);
		buf_put_str(b, ": ");
		put_quoted(b, t->pval[i]);
	}
	buf_put_str(b, "}, ");
	put_quoted(b, t->request);
	snprintf(num, sizeof(num), ", %lld) USING TTL %d;\n", (long long)(t->start_wall / 1000),
	         TRACE_TTL_S);
	buf_put_str(b, num);
}

size_t trace_take(struct trace *t, struct buf *b)
{
	pthread_mutex_lock(&t->lock);
	if (t->dropped && t->n_ev == TRACE_MAX_EVENTS && t->n_ev > 0 && t->written < t->n_ev) {
		/* the last kept event says how many were left out */
		struct trace_ev *e = &t->ev[t->n_ev - 1];
		snprintf(e->activity, sizeof(e->activity),
		         "%llu more events were not recorded (at most %d per node and session)",
		         (unsigned long long)t->dropped + 1, TRACE_MAX_EVENTS);
	}
	bool session = t->finished && t->command[0] && !t->session_written;
	size_t n = t->n_ev - t->written + (session ? 1 : 0);
	if (n) {
		buf_put_str(b, "BEGIN UNLOGGED BATCH\n");
		for (size_t i = t->written; i < t->n_ev; i++)
			put_event(b, t, &t->ev[i]);
		if (session)
			put_session(b, t);
		buf_put_str(b, "APPLY BATCH");
		t->written = t->n_ev;
		t->session_written = t->session_written || session;
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

size_t trace_discard(struct trace *t)
{
	pthread_mutex_lock(&t->lock);
	size_t n = t->n_ev - t->written;
	t->written = t->n_ev;
	if (t->finished)
		t->session_written = true;
	pthread_mutex_unlock(&t->lock);
	return n;
}

const struct trace_sink *trace_sink_of(const struct trace *t)
{
	return t->sink;
}

uint64_t trace_events_dropped(struct trace *t)
{
	pthread_mutex_lock(&t->lock);
	uint64_t n = t->dropped - t->dropped_told;
	t->dropped_told = t->dropped;
	pthread_mutex_unlock(&t->lock);
	return n;
}

struct mailbox_job *trace_job(struct trace *t)
{
	return &t->job;
}

struct trace *trace_from_job(struct mailbox_job *job)
{
	return (struct trace *)job;
}

struct trace **trace_next(struct trace *t)
{
	return &t->next;
}
