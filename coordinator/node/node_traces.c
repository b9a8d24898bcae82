/*
 * node_traces.c — the node's trace writer (the sink of coordinator/tracing/trace.h;
 * docs/CQL-SERVER.md "Tracing").
 *
 * Traces finished on any loop are posted to the main loop's trace mailbox
 * (bounded: NODE_TRACES_QUEUE waiting; a full mailbox drops the trace and
 * counts it, never blocking the poster).  On the main loop each trace becomes
 * one CQL BATCH (trace_take) run through an executor of the writer's own, at
 * ONE, through the normal write path to system_traces' replicas; at most
 * NODE_TRACES_INFLIGHT batches are in flight, and up to NODE_TRACES_WAITING
 * more wait in a FIFO (beyond: dropped, counted).  system_traces is made
 * (schema_ensure_system_traces) before the first write when it is missing.
 */
#include "coordinator/node/node_int.h"

#include "coordinator/auth/iq.h"
#include "coordinator/schema/schema.h"
#include "coordinator/tracing/trace.h"
#include "core/clock.h"
#include "core/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD                  "tracing"
#define NODE_TRACES_QUEUE    1024
#define NODE_TRACES_INFLIGHT 16
#define NODE_TRACES_WAITING  4096

struct node_traces {
	struct trace_sink sink;
	struct node *n;
	struct mailbox mb;
	struct executor *ex; /* NULL until node_traces_start */
	struct prepared_cache *prepared;
	unsigned in_flight;
	struct trace *head, *tail; /* waiting for an in-flight slot */
	size_t n_waiting;
	atomic_ullong submitted, dropped, written, failed, events_dropped;
	int64_t last_fail_log_ms;
};

static void on_job(struct mailbox_job *job, bool closing);

static void drop(struct node_traces *w, struct trace *t)
{
	atomic_fetch_add(&w->dropped, 1);
	trace_discard(t);
	trace_unref(t);
}

/* Any thread: queue t for the main loop, or drop it. */
static void on_submit(void *ctx, struct trace *t)
{
	struct node_traces *w = ctx;
	atomic_fetch_add(&w->submitted, 1);
	struct mailbox_job *job = trace_job(t);
	job->fn = on_job;
	if (mailbox_try_post(&w->mb, job) != 0)
		drop(w, t);
}

static void write_next(struct node_traces *w);

static struct node_traces *writer_of(const struct trace *t)
{
	return trace_sink_of(t)->ctx;
}

static void on_written(void *arg, const struct exec_req *req)
{
	struct trace *t = arg;
	struct node_traces *w = writer_of(t);
	w->in_flight--;
	if (req->err.code) {
		atomic_fetch_add(&w->failed, 1);
		int64_t now = clock_mono_ms();
		if (now - w->last_fail_log_ms > 10000) {
			w->last_fail_log_ms = now;
			log_warn(MOD, "writing a trace to system_traces failed: %s", req->err.msg);
		}
	} else {
		atomic_fetch_add(&w->written, 1);
	}
	trace_unref(t); /* events recorded since go to the sink again */
	write_next(w);
}

/* Run one trace's batch (an in-flight slot is free). */
static void write_one(struct node_traces *w, struct trace *t)
{
	if (!schema_snap_keyspace(schema_current(w->n->schema), "system_traces")) {
		struct cerr e = {0};
		if (schema_ensure_system_traces(w->n->schema, &e) != 0) {
			log_warn(MOD, "cannot create system_traces: %s", e.msg);
			drop(w, t);
			return;
		}
	}
	atomic_fetch_add(&w->events_dropped, trace_events_dropped(t));
	struct buf b;
	buf_init(&b);
	size_t n = trace_take(t, &b);
	buf_put_u8(&b, 0);
	if (n == 0 || !buf_ok(&b)) {
		if (n)
			atomic_fetch_add(&w->dropped, 1);
		buf_release(&b);
		trace_unref(t);
		return;
	}
	w->in_flight++;
	struct trace *prev = trace_swap_current(NULL); /* the writer's own writes are not traced */
	iq_run(w->ex, (const char *)b.data, CL_ONE, on_written, t);
	trace_swap_current(prev);
	buf_release(&b);
}

static void write_next(struct node_traces *w)
{
	while (w->head && w->in_flight < NODE_TRACES_INFLIGHT) {
		struct trace *t = w->head;
		w->head = *trace_next(t);
		if (!w->head)
			w->tail = NULL;
		*trace_next(t) = NULL;
		w->n_waiting--;
		write_one(w, t);
	}
}

/* The main loop: a trace arrived (or the mailbox closes: dropped). */
static void on_job(struct mailbox_job *job, bool closing)
{
	struct trace *t = trace_from_job(job);
	struct node_traces *w = writer_of(t);
	if (closing || !w->ex || w->n_waiting >= NODE_TRACES_WAITING) {
		drop(w, t);
		return;
	}
	*trace_next(t) = NULL;
	if (w->tail)
		*trace_next(w->tail) = t;
	else
		w->head = t;
	w->tail = t;
	w->n_waiting++;
	write_next(w);
}

int node_traces_init(struct node *n, struct cerr *err)
{
	struct node_traces *w = calloc(1, sizeof(*w));
	if (!w)
		return cerr_set(err, COL_ENOMEM, "out of memory for the trace writer");
	w->n = n;
	w->sink.submit = on_submit;
	w->sink.ctx = w;
	snprintf(w->sink.host, sizeof(w->sink.host), "%s", n->broadcast_host);
	w->sink.port = (int)n->cfg.storage_port;
	if (mailbox_init(&w->mb, n->loop, NODE_TRACES_QUEUE) != 0) {
		free(w);
		return cerr_set(err, COL_EIO, "cannot start the trace writer's mailbox");
	}
	n->traces = w;
	return 0;
}

const struct trace_sink *node_traces_sink(struct node *n)
{
	return n->traces ? &n->traces->sink : NULL;
}

int node_traces_start(struct node *n, const struct executor_deps *deps, struct cerr *err)
{
	struct node_traces *w = n->traces;
	if (!w)
		return 0;
	int rc = prepared_cache_new(16, &w->prepared);
	if (rc)
		return cerr_set(err, rc, "cannot create the trace writer's prepared cache");
	struct executor_deps d = *deps;
	d.prepared = w->prepared;
	d.access = NULL;
	d.on_schema_event = NULL;
	d.ddl_wait = NULL;
	d.forward = NULL;
	if (executor_new(&d, &w->ex) != 0)
		return cerr_set(err, COL_ENOMEM, "cannot create the trace writer's executor");
	struct cerr e = {0};
	if (schema_ensure_system_traces(n->schema, &e) != 0)
		log_warn(MOD, "cannot create system_traces yet (retried at the first trace): %s",
		         e.msg);
	return 0;
}

void node_traces_stats(struct node *n, struct node_traces_stats *out)
{
	memset(out, 0, sizeof(*out));
	struct node_traces *w = n->traces;
	if (!w)
		return;
	out->submitted = atomic_load(&w->submitted);
	out->dropped = atomic_load(&w->dropped);
	out->written = atomic_load(&w->written);
	out->failed = atomic_load(&w->failed);
	out->events_dropped = atomic_load(&w->events_dropped);
	out->in_flight = w->in_flight;
	out->waiting = w->n_waiting;
}

void node_traces_free(struct node *n)
{
	struct node_traces *w = n->traces;
	if (!w)
		return;
	/* every request has answered (the router is gone): what waits is dropped */
	while (w->head) {
		struct trace *t = w->head;
		w->head = *trace_next(t);
		drop(w, t);
	}
	mailbox_close(&w->mb);
	mailbox_destroy(&w->mb);
	executor_free(w->ex);
	if (w->prepared)
		prepared_cache_free(w->prepared);
	free(w);
	n->traces = NULL;
}
