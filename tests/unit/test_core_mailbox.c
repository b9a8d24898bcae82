/*
 * test_core_mailbox.c — the cross-loop mailbox: bounds, order, delivery from
 * other threads onto the loop's thread, and what close does with the rest.
 */
#include "core/err.h"
#include "core/mailbox.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct tjob {
	struct mailbox_job j;
	int value;
	int *log; /* values in the order they ran */
	size_t *n_log;
	bool *closing_seen;
	pthread_t *ran_on;
};

static void tjob_fn(struct mailbox_job *job, bool closing)
{
	struct tjob *t = (struct tjob *)job;
	if (closing) {
		if (t->closing_seen)
			t->closing_seen[t->value] = true;
		return;
	}
	t->log[(*t->n_log)++] = t->value;
	if (t->ran_on)
		*t->ran_on = pthread_self();
}

Test(mailbox, try_post_refuses_beyond_cap_and_post_does_not)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct mailbox mb;
	cr_assert_eq(mailbox_init(&mb, loop, 3), 0);
	int log[16];
	size_t n = 0;
	struct tjob jobs[6];
	for (int i = 0; i < 6; i++)
		jobs[i] = (struct tjob){.j.fn = tjob_fn, .value = i, .log = log, .n_log = &n};
	for (int i = 0; i < 3; i++)
		cr_assert_eq(mailbox_try_post(&mb, &jobs[i].j), 0);
	cr_expect_eq(mailbox_try_post(&mb, &jobs[3].j), COL_EFULL, "the 4th of cap 3 is refused");
	mailbox_post(&mb, &jobs[4].j); /* unbounded: completions are never dropped */
	struct mailbox_stats st;
	mailbox_stats(&mb, &st);
	cr_expect_eq(st.queued, 4);
	cr_expect_eq(st.refused, 1);
	cr_expect_eq(mailbox_drain(&mb), 4);
	cr_expect_eq(n, 4);
	cr_expect_eq(log[0], 0);
	cr_expect_eq(log[1], 1);
	cr_expect_eq(log[2], 2);
	cr_expect_eq(log[3], 4, "FIFO, the refused job never ran");
	/* room again after the drain */
	cr_expect_eq(mailbox_try_post(&mb, &jobs[3].j), 0);
	cr_expect_eq(mailbox_drain(&mb), 1);
	cr_expect_eq(log[4], 3);
	mailbox_close(&mb);
	mailbox_destroy(&mb);
	ev_loop_destroy(loop);
}

Test(mailbox, close_discards_queued_and_later_posts)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct mailbox mb;
	cr_assert_eq(mailbox_init(&mb, loop, 8), 0);
	int log[4];
	size_t n = 0;
	bool seen[3] = {false, false, false};
	struct tjob jobs[3];
	for (int i = 0; i < 3; i++)
		jobs[i] = (struct tjob){
		        .j.fn = tjob_fn, .value = i, .log = log, .n_log = &n, .closing_seen = seen};
	mailbox_post(&mb, &jobs[0].j);
	mailbox_post(&mb, &jobs[1].j);
	mailbox_close(&mb);
	cr_expect(seen[0] && seen[1], "queued jobs learn they will not run");
	cr_expect_eq(mailbox_try_post(&mb, &jobs[2].j), COL_ECLOSED, "try_post refuses");
	cr_expect_not(seen[2], "and leaves the job to its caller");
	mailbox_post(&mb, &jobs[2].j);
	cr_expect(seen[2], "a post after close is discarded at once");
	cr_expect_eq(n, 0);
	mailbox_destroy(&mb);
	ev_loop_destroy(loop);
}

/* Senders on other threads; the loop runs until every job arrived. */
#define SENDERS 4
#define PER     2000

struct sender {
	struct mailbox *mb;
	struct tjob *jobs;
	int base;
};

static _Atomic size_t arrived;
static struct ev_loop *the_loop;

static void count_fn(struct mailbox_job *job, bool closing)
{
	struct tjob *t = (struct tjob *)job;
	cr_assert(!closing);
	t->log[t->value] = (int)(*t->n_log)++;
	*t->ran_on = pthread_self();
	if (atomic_fetch_add(&arrived, 1) + 1 == SENDERS * PER)
		ev_break(the_loop, EVBREAK_ALL);
}

static void *send_all(void *arg)
{
	struct sender *s = arg;
	for (int i = 0; i < PER; i++)
		mailbox_post(s->mb, &s->jobs[s->base + i].j);
	return NULL;
}

static void on_guard(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

Test(mailbox, jobs_from_other_threads_run_on_the_loop_in_per_sender_order)
{
	the_loop = ev_loop_new(EVFLAG_AUTO);
	struct mailbox mb;
	cr_assert_eq(mailbox_init(&mb, the_loop, 1), 0);
	int *order = calloc(SENDERS * PER, sizeof(int));
	struct tjob *jobs = calloc(SENDERS * PER, sizeof(*jobs));
	size_t n = 0;
	pthread_t ran_on = 0, me = pthread_self();
	for (int i = 0; i < SENDERS * PER; i++)
		jobs[i] = (struct tjob){
		        .j.fn = count_fn, .value = i, .log = order, .n_log = &n, .ran_on = &ran_on};
	ev_timer guard;
	ev_timer_init(&guard, on_guard, 20.0, 0.);
	ev_timer_start(the_loop, &guard);
	pthread_t th[SENDERS];
	struct sender s[SENDERS];
	for (int k = 0; k < SENDERS; k++) {
		s[k] = (struct sender){.mb = &mb, .jobs = jobs, .base = k * PER};
		cr_assert_eq(pthread_create(&th[k], NULL, send_all, &s[k]), 0);
	}
	ev_run(the_loop, 0);
	for (int k = 0; k < SENDERS; k++)
		pthread_join(th[k], NULL);
	cr_assert_eq(atomic_load(&arrived), SENDERS * PER, "every job ran (none lost)");
	cr_expect(pthread_equal(ran_on, me), "jobs run on the loop's thread");
	for (int k = 0; k < SENDERS; k++)
		for (int i = 1; i < PER; i++)
			cr_expect_lt(order[k * PER + i - 1], order[k * PER + i],
			             "sender %d's jobs ran in the order posted", k);
	ev_timer_stop(the_loop, &guard);
	mailbox_close(&mb);
	mailbox_destroy(&mb);
	ev_loop_destroy(the_loop);
	free(order);
	free(jobs);
}
