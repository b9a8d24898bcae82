/*
 * trace.h — request tracing (Cassandra's TRACING, docs/CQL-SERVER.md "Tracing"):
 * a trace session records what one request did, as events, for the
 * system_traces tables.
 *
 * A struct trace is one node's part of one session: the coordinator's (made
 * when a client frame has the tracing flag; it also writes the session row)
 * or a replica's (made when an internode message names a session; events
 * only).  Events are appended from any thread (a mutex guards them) with the
 * text of what happened, the microseconds since this node's part began, the
 * thread's name and a fresh timeuuid; at most TRACE_MAX_EVENTS per part (the
 * rest are counted and one last event says how many were left out).
 *
 * Writing is the sink's (struct trace_sink, the node's trace writer): the
 * coordinator's part is handed to it when the request is answered
 * (trace_finish), a replica's when its reply is sent; events recorded after
 * that (a late replica's answer, a read repair) go to the sink once the last
 * reference drops.  trace_take() turns what is not written yet into one CQL
 * BATCH of INSERTs with TTL TRACE_TTL_S, the session row last, so the row
 * with `duration` (what drivers poll for) is never written before the events
 * of the same batch.  A sink that cannot keep up drops traces; recording never
 * waits for it.
 *
 * The current trace: a request's code runs in pieces (the executor, the
 * router, the storage proxy, their callbacks), not all of which see the
 * request's state.  The thread-local current trace (trace_current) is set by
 * whoever starts or resumes a traced piece (the CQL server around
 * executor_run, the storage proxy around its callbacks, the router around a
 * hop to the main loop) and restored after it, so the pieces below record
 * events without a trace argument: Cassandra's model (a thread-local
 * TraceState), kept because it touches no signature on the request path.  It
 * is NULL outside a traced request, and then recording costs one load.
 */
#ifndef COLONNADE_COORDINATOR_TRACING_TRACE_H
#define COLONNADE_COORDINATOR_TRACING_TRACE_H

#include "core/buf.h"
#include "core/mailbox.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Cassandra's system_traces TTL: 24 hours. */
#define TRACE_TTL_S 86400
/* Events one node records for one session. */
#define TRACE_MAX_EVENTS 256
/* Longest activity text kept (longer is cut). */
#define TRACE_ACTIVITY_MAX 300
/* Session row parameters kept (query, consistency_level, page_size, ...). */
#define TRACE_MAX_PARAMS 6

typedef struct trace trace;

/* Where finished traces go (the node's writer).  submit() takes over one reference; it is
 * called on any thread and must not block (a full queue drops the trace). */
struct trace_sink {
	void (*submit)(void *ctx, struct trace *t);
	void *ctx;
	char host[64]; /* this node's broadcast address: `source` and `coordinator` */
	int port;      /* its storage port: `source_port` and `coordinator_port` */
};

/*
 * A new part of a session, one reference held by the caller: the
 * coordinator's (session NULL: a new timeuuid session id) or a replica's
 * (session: the id the message named).  NULL when out of memory: the request
 * runs untraced.  The sink is borrowed and must outlive every trace.
 */
struct trace *trace_new(const struct trace_sink *sink, const uint8_t session[16]);
void trace_ref(struct trace *t);
/* Drop a reference; the last one hands unwritten events to the sink, or frees. */
void trace_unref(struct trace *t);
const uint8_t *trace_session_id(const struct trace *t);

/* Record one event (printf format; no-op when t is NULL). */
void trace_event(struct trace *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The coordinator's session row: command ("QUERY", "EXECUTE", ...), request (what
 * Cassandra writes: "Execute CQL3 query", ...), the client's address, and parameters. */
void trace_set_session(struct trace *t, const char *command, const char *request,
                       const char *client);
/* Add one parameter (key, value copied, cut to fit); at most TRACE_MAX_PARAMS. */
void trace_add_param(struct trace *t, const char *key, const char *value);
/* The request was answered: fix the session's duration (the coordinator's part) and hand
 * the trace to the sink (it takes its own reference; the caller keeps its own). */
void trace_finish(struct trace *t);

/* The thread's current trace, and setting it (returns the one it replaces). */
struct trace *trace_current(void);
struct trace *trace_swap_current(struct trace *t);

/* ---- the sink's side ---------------------------------------------------------------------- */

/*
 * Append to b (not NUL-terminated) one CQL "BEGIN UNLOGGED BATCH ... APPLY
 * BATCH" with an INSERT per event not written yet and, when the coordinator's
 * part finished and its row is not written yet, the session row; mark them
 * written.  Returns the number of INSERTs (0: nothing to write, b untouched).
 */
size_t trace_take(struct trace *t, struct buf *b);
/* Mark everything written without writing it (a dropped trace); returns events dropped. */
size_t trace_discard(struct trace *t);
/* The sink the trace was made with. */
const struct trace_sink *trace_sink_of(const struct trace *t);
/* Events left out for the TRACE_MAX_EVENTS bound since the last call (the sink counts them). */
uint64_t trace_events_dropped(struct trace *t);
/* The sink's queue link (a trace is queued at most once at a time). */
struct mailbox_job *trace_job(struct trace *t);
struct trace *trace_from_job(struct mailbox_job *job);
struct trace **trace_next(struct trace *t);

/* A version 1 (time) uuid of wall time wall_us with the given low 8 bytes. */
void trace_timeuuid(int64_t wall_us, uint64_t lsb, uint8_t out[16]);

#endif
