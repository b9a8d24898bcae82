/*
 * mailbox.c — see mailbox.h.
 */
#include "core/mailbox.h"

#include "core/err.h"

static void wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop;
	(void)revents;
	mailbox_drain(w->data);
}

int mailbox_init(struct mailbox *mb, struct ev_loop *loop, size_t cap)
{
	mb->loop = loop;
	mb->head = mb->tail = NULL;
	mb->queued = 0;
	mb->cap = cap ? cap : 1;
	mb->closed = false;
	mb->ran = mb->refused = 0;
	if (pthread_mutex_init(&mb->lock, NULL))
		return COL_EIO;
	ev_async_init(&mb->wake, wake_cb);
	mb->wake.data = mb;
	ev_async_start(loop, &mb->wake);
	ev_unref(loop); /* a mailbox alone does not keep its loop running */
	return 0;
}

/* Take the whole queue (under the lock). */
static struct mailbox_job *take_all(struct mailbox *mb)
{
	pthread_mutex_lock(&mb->lock);
	struct mailbox_job *j = mb->head;
	mb->head = mb->tail = NULL;
	mb->queued = 0;
	pthread_mutex_unlock(&mb->lock);
	return j;
}

size_t mailbox_drain(struct mailbox *mb)
{
	size_t n = 0;
	struct mailbox_job *j;
	/* Jobs posted by the jobs run here wait for the next wake: a job that posts
	 * to its own loop cannot starve the loop's other watchers. */
	j = take_all(mb);
	while (j) {
		struct mailbox_job *next = j->next;
		j->next = NULL;
		j->fn(j, false);
		j = next;
		n++;
	}
	pthread_mutex_lock(&mb->lock);
	mb->ran += n;
	pthread_mutex_unlock(&mb->lock);
	return n;
}

static int post(struct mailbox *mb, struct mailbox_job *job, bool bounded)
{
	job->next = NULL;
	pthread_mutex_lock(&mb->lock);
	if (mb->closed) {
		pthread_mutex_unlock(&mb->lock);
		if (bounded)
			return COL_ECLOSED;
		job->fn(job, true);
		return 0;
	}
	if (bounded && mb->queued >= mb->cap) {
		mb->refused++;
		pthread_mutex_unlock(&mb->lock);
		return COL_EFULL;
	}
	if (mb->tail)
		mb->tail->next = job;
	else
		mb->head = job;
	mb->tail = job;
	mb->queued++;
	pthread_mutex_unlock(&mb->lock);
	ev_async_send(mb->loop, &mb->wake);
	return 0;
}

void mailbox_post(struct mailbox *mb, struct mailbox_job *job)
{
	(void)post(mb, job, false);
}

int mailbox_try_post(struct mailbox *mb, struct mailbox_job *job)
{
	return post(mb, job, true);
}

void mailbox_close(struct mailbox *mb)
{
	pthread_mutex_lock(&mb->lock);
	mb->closed = true;
	pthread_mutex_unlock(&mb->lock);
	ev_ref(mb->loop);
	ev_async_stop(mb->loop, &mb->wake);
	struct mailbox_job *j = take_all(mb);
	while (j) {
		struct mailbox_job *next = j->next;
		j->next = NULL;
		j->fn(j, true);
		j = next;
	}
}

void mailbox_destroy(struct mailbox *mb)
{
	pthread_mutex_destroy(&mb->lock);
}

void mailbox_stats(struct mailbox *mb, struct mailbox_stats *out)
{
	pthread_mutex_lock(&mb->lock);
	out->queued = mb->queued;
	out->ran = mb->ran;
	out->refused = mb->refused;
	pthread_mutex_unlock(&mb->lock);
}
