/*
 * mailbox.h — hands work from any thread to one libev loop: an intrusive
 * FIFO of jobs guarded by a mutex, and an ev_async that wakes the loop, which
 * runs every queued job's function on its own thread.
 *
 * It is how a node's event loops talk (docs/ARCHITECTURE.md, Threads): a CQL
 * connection accepted on one loop handed to another, a request's storage work
 * run on the main loop and its completion delivered back to the loop that
 * asked.  A job is the caller's struct with a struct mailbox_job inside it; the
 * mailbox never allocates, so posting cannot fail for want of memory.
 *
 * Bounds.  mailbox_try_post() refuses a job (COL_EFULL) when `cap` jobs wait
 * already: what a sender may add without limit goes through it.  mailbox_post()
 * always queues: it is for jobs whose number is bounded elsewhere, such as the
 * one completion of a request that was itself admitted by try_post — a
 * completion must never be dropped.
 *
 * Order: jobs run in the order they were posted (per sender and overall, as
 * the mutex serialises them).  A job's function runs once, on the loop's
 * thread; posting happens-before the run (the mutex), so the job's fields need
 * no atomics.  Jobs still queued at mailbox_close() run there, with `closing`
 * true, on the caller's thread: each learns it will not run on the loop.
 */
#ifndef COLONNADE_CORE_MAILBOX_H
#define COLONNADE_CORE_MAILBOX_H

#include <ev.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct mailbox_job;
/* Run (closing false) or discard (closing true: the mailbox is being closed). */
typedef void (*mailbox_fn)(struct mailbox_job *job, bool closing);

struct mailbox_job {
	mailbox_fn fn;
	struct mailbox_job *next;
};

struct mailbox {
	struct ev_loop *loop;
	ev_async wake;
	pthread_mutex_t lock;
	struct mailbox_job *head, *tail; /* under lock */
	size_t queued;                   /* under lock */
	size_t cap;                      /* try_post refuses at this many queued */
	bool closed;                     /* under lock: posts run the job as closing */
	unsigned long long ran, refused; /* read with mailbox_stats */
};

/* Attach to `loop` (started, not keeping the loop alive).  0 or COL_EIO. */
int mailbox_init(struct mailbox *mb, struct ev_loop *loop, size_t cap);
/*
 * On the loop's thread (or once its loop stopped for good): stop the watcher,
 * discard what is queued (fn(job, true)); later posts are discarded at once.
 * Then mailbox_destroy() when no thread can post any more.
 */
void mailbox_close(struct mailbox *mb);
void mailbox_destroy(struct mailbox *mb);

/* Queue job (fn set by the caller) and wake the loop.  Any thread. */
void mailbox_post(struct mailbox *mb, struct mailbox_job *job);
/* As mailbox_post, unless `cap` jobs are queued (COL_EFULL) or the mailbox is closed
 * (COL_ECLOSED): then the job is untouched and not run.  0 when queued. */
int mailbox_try_post(struct mailbox *mb, struct mailbox_job *job);
/* Run what is queued now (the ev_async callback's work; tests call it directly). */
size_t mailbox_drain(struct mailbox *mb);

struct mailbox_stats {
	size_t queued;
	unsigned long long ran, refused;
};
void mailbox_stats(struct mailbox *mb, struct mailbox_stats *out);

#endif
