/* gossip/failure_detector: phi against hand-computed values, window bounds, pause guard. */
#include "gossip/failure_detector.h"

#include <criterion/criterion.h>
#include <math.h>

#define S 1000000LL /* one second in µs */

static struct failure_detector fd;
static struct fd_window w;

static void setup(void)
{
	struct failure_detector_config c = {.phi_convict_threshold = 8,
	                                    .initial_interval_us = 2 * S,
	                                    .max_local_pause_us = 5 * S};
	failure_detector_init(&fd, &c);
	fd_window_init(&w);
}

TestSuite(fd, .init = setup);

Test(fd, first_report_uses_initial_interval)
{
	cr_expect_eq(fd_window_phi(&w, 10 * S), 0.0, "no report yet: no suspicion");
	fd_window_report(&fd, &w, 1 * S);
	cr_expect_eq(w.n, 1);
	cr_expect_float_eq(fd_window_mean_us(&w), 2.0 * S, 1e-9);
	/* t = 2 s, mean = 2 s: phi = 1 / ln 10 = 0.434294... */
	cr_expect_float_eq(fd_window_phi(&w, 3 * S), 0.4342944819, 1e-9);
}

Test(fd, phi_by_hand_and_conviction_threshold)
{
	fd_window_report(&fd, &w, 1 * S); /* sample 2 s (initial) */
	for (int i = 2; i <= 11; i++)
		fd_window_report(&fd, &w, i * S); /* ten samples of 1 s */
	/* mean = (2 + 10 * 1) / 11 s = 1.090909 s */
	cr_expect_float_eq(fd_window_mean_us(&w), 12.0 * S / 11, 1e-6);
	int64_t last = 11 * S;
	/* 18 s later: phi = 0.4342945 * 18 / 1.090909 = 7.16586 */
	cr_expect_float_eq(fd_window_phi(&w, last + 18 * S), 7.165858952, 1e-6);
	cr_expect(!failure_detector_convict(&fd, &w, last + 18 * S));
	/* 21 s later: phi = 0.4342945 * 21 / 1.090909 = 8.36017 > 8 */
	cr_expect_float_eq(fd_window_phi(&w, last + 21 * S), 8.360168778, 1e-6);
	cr_expect(failure_detector_convict(&fd, &w, last + 21 * S));
}

Test(fd, long_gaps_not_learned)
{
	fd_window_report(&fd, &w, 1 * S);
	fd_window_report(&fd, &w, 2 * S);
	cr_expect_eq(w.n, 2);
	fd_window_report(&fd, &w, 60 * S); /* down for a minute: not a sample */
	cr_expect_eq(w.n, 2);
	cr_expect_eq(w.last_us, 60 * S);
	cr_expect_float_eq(fd_window_mean_us(&w), 1.5 * S, 1e-9);
	cr_expect_eq(fd_window_phi(&w, 60 * S), 0.0, "just heard from it");
}

/* The longest gap between two arrivals, long ones (not learned as samples) included. */
Test(fd, longest_gap_between_heartbeats)
{
	cr_expect_eq(w.gap_max_us, 0);
	fd_window_report(&fd, &w, 1 * S);
	cr_expect_eq(w.gap_max_us, 0, "one arrival: no gap yet");
	fd_window_report(&fd, &w, 1 * S + 50000);
	fd_window_report(&fd, &w, 1 * S + 300000);
	fd_window_report(&fd, &w, 1 * S + 350000);
	cr_expect_eq(w.gap_max_us, 250000);
	fd_window_report(&fd, &w, 61 * S);
	cr_expect_eq(w.gap_max_us, 61 * S - (1 * S + 350000));
}

Test(fd, window_keeps_the_last_1000)
{
	int64_t t = 0;
	for (int i = 0; i < 1500; i++) {
		t += S / 2;
		fd_window_report(&fd, &w, t);
	}
	cr_expect_eq(w.n, FD_WINDOW);
	/* The initial 2 s sample has been pushed out: all 1000 are 0.5 s. */
	cr_expect_float_eq(fd_window_mean_us(&w), 0.5 * S, 1e-9);
	cr_expect_float_eq(fd_window_phi(&w, t + S), 2 * 0.4342944819, 1e-9);
}

Test(fd, local_pause_guard)
{
	cr_expect(failure_detector_round(&fd, 1 * S));
	cr_expect(failure_detector_round(&fd, 2 * S));
	cr_expect(!failure_detector_round(&fd, 8 * S), "paused 6 s > 5 s: no convictions");
	cr_expect_eq(fd.pauses, 1);
	cr_expect(!failure_detector_round(&fd, 9 * S), "still inside the guard window");
	cr_expect(!failure_detector_round(&fd, 12 * S));
	cr_expect(failure_detector_round(&fd, 13 * S + 1), "guard window over");
	cr_expect(failure_detector_round(&fd, 14 * S));
}

Test(fd, defaults)
{
	struct failure_detector d;
	failure_detector_init(&d, NULL);
	cr_expect_eq(d.cfg.phi_convict_threshold, 8.0);
	cr_expect_eq(d.cfg.initial_interval_us, 2 * S);
	cr_expect_eq(d.cfg.max_local_pause_us, 5 * S);
}
