/*
 * auth_worker.c — password hashing threads (auth_worker.h).
 */
#include "coordinator/auth/auth_worker.h"

#include "core/log.h"

#include <ev.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MOD         "auth"
#define MAX_THREADS 8

struct auth_worker {
	struct ev_loop *loop;
	ev_async async;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t threads[MAX_THREADS];
	unsigned n_threads;
	unsigned max_queued;
	unsigned queued;  /* waiting, not yet taken by a thread */
	unsigned running; /* taken, not yet on the done list */
	bool stopping;
	struct auth_job *queue, *queue_tail;
	struct auth_job *done_list; /* newest first */
};

static void run_job(struct auth_job *j)
{
	if (j->kind == AUTH_JOB_VERIFY) {
		j->ok = crypto_pwhash_str_verify(j->hash, j->password, j->password_len) == 0;
		j->rc = 0;
	} else {
		j->rc = crypto_pwhash_str(j->hash, j->password, j->password_len,
		                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
		                          crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0
		                ? 0
		                : COL_ENOMEM;
		j->ok = j->rc == 0;
	}
}

static void *worker_main(void *arg)
{
	struct auth_worker *w = arg;
	/* Below the loop's priority (Linux nices threads one by one): when cores are
	 * short, queries go first and logins wait. */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0)
		log_debug(MOD, "password thread keeps the default priority");
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->queue && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stopping)
			break;
		struct auth_job *j = w->queue;
		w->queue = j->next;
		if (!w->queue)
			w->queue_tail = NULL;
		w->queued--;
		w->running++;
		pthread_mutex_unlock(&w->mu);
		run_job(j);
		pthread_mutex_lock(&w->mu);
		w->running--;
		j->next = w->done_list;
		w->done_list = j;
		ev_async_send(w->loop, &w->async);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Finished jobs' done(), oldest first. */
static void deliver(struct auth_job *list)
{
	struct auth_job *rev = NULL;
	while (list) {
		struct auth_job *n = list->next;
		list->next = rev;
		rev = list;
		list = n;
	}
	while (rev) {
		struct auth_job *n = rev->next;
		rev->next = NULL;
		rev->done(rev);
		rev = n;
	}
}

static void on_async(struct ev_loop *loop, ev_async *a, int revents)
{
	(void)loop, (void)revents;
	struct auth_worker *w = a->data;
	pthread_mutex_lock(&w->mu);
	struct auth_job *list = w->done_list;
	w->done_list = NULL;
	pthread_mutex_unlock(&w->mu);
	deliver(list);
}

int auth_worker_new(struct ev_loop *loop, unsigned threads, unsigned max_queued,
                    struct auth_worker **out, struct cerr *err)
{
	struct auth_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return cerr_set(err, COL_ENOMEM, "auth: out of memory");
	w->loop = loop;
	w->max_queued = max_queued ? max_queued : 1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	ev_async_init(&w->async, on_async);
	w->async.data = w;
	ev_async_start(loop, &w->async);
	if (threads < 1)
		threads = 1;
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0) {
			auth_worker_free(w);
			return cerr_set(err, COL_ENOMEM, "auth: cannot start password thread %u",
			                i);
		}
		w->n_threads++;
	}
	*out = w;
	return 0;
}

void auth_worker_free(struct auth_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < w->n_threads; i++)
		pthread_join(w->threads[i], NULL);
	ev_async_stop(w->loop, &w->async);
	deliver(w->done_list);
	struct auth_job *j = w->queue; /* oldest first */
	while (j) {
		struct auth_job *n = j->next;
		j->next = NULL;
		j->rc = COL_ECLOSED;
		j->ok = false;
		j->done(j);
		j = n;
	}
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}

int auth_worker_submit(struct auth_worker *w, struct auth_job *j)
{
	j->next = NULL;
	if (!w) {
		run_job(j);
		j->done(j);
		return 0;
	}
	pthread_mutex_lock(&w->mu);
	int rc = w->stopping                               ? COL_ECLOSED
	         : w->queued + w->running >= w->max_queued ? COL_EOVERLOADED
	                                                   : 0;
	if (!rc) {
		if (w->queue_tail)
			w->queue_tail->next = j;
		else
			w->queue = j;
		w->queue_tail = j;
		w->queued++;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

unsigned auth_worker_pending(const struct auth_worker *w)
{
	if (!w)
		return 0;
	pthread_mutex_lock((pthread_mutex_t *)&w->mu);
	unsigned n = w->queued + w->running;
	pthread_mutex_unlock((pthread_mutex_t *)&w->mu);
	return n;
}
