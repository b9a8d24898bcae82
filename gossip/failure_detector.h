/*
 * failure_detector.h — phi accrual failure detection (Hayashibara et al.), as
 * Cassandra's FailureDetector.java does it.
 *
 * It sends nothing: gossip reports arrivals and asks for phi.
 *
 * Each remote endpoint has an arrival window: the last WINDOW inter-arrival
 * times of its heartbeats (a heartbeat "arrives" when gossip brings a newer
 * version of that endpoint's state).  Intervals longer than max_interval
 * (= the initial interval, 2 x the gossip interval) are not recorded: a node
 * that was down for a minute must not teach us that a minute is normal.  The
 * first report records the initial interval instead of a measured one, which
 * errs towards false negatives (a little slower to convict) over flapping.
 *
 * Cassandra's exponential model: phi(t) = (t / mean) * (1 / ln 10), t being
 * the time since the last arrival; an endpoint is convicted (DOWN) when
 * phi > phi_convict_threshold (8 by default: with a 1 s mean that is
 * t > 18.4 s; with 50 ms gossip in tests, about 1-2 s).
 *
 * Local pause guard: if our own loop did not run a round for longer than
 * max_local_pause (a SIGSTOP, a swap storm), every endpoint looks dead
 * because WE were away.  failure_detector_round() then refuses convictions for
 * that round and for max_local_pause after it, while fresh heartbeats arrive
 * (Cassandra: 5 s, "Not marking nodes down due to local pause").
 *
 * Plain data, no allocation: struct fd_window is embedded in the endpoint
 * that owns it.  Times are monotonic microseconds (core/clock.h).
 */
#ifndef COLONNADE_GOSSIP_FAILURE_DETECTOR_H
#define COLONNADE_GOSSIP_FAILURE_DETECTOR_H

#include <stdbool.h>
#include <stdint.h>

/* Samples kept per endpoint (Cassandra's SAMPLE_SIZE). */
#define FD_WINDOW 1000

/* 1 / ln(10): phi is expressed in powers of ten of the suspicion. */
#define FD_PHI_FACTOR 0.43429448190325176

struct failure_detector_config {
	double phi_convict_threshold; /* [8] */
	int64_t initial_interval_us;  /* first sample and max recorded interval [2 s] */
	int64_t max_local_pause_us;   /* pause guard [5 s] */
};

struct failure_detector {
	struct failure_detector_config cfg;
	int64_t last_round_us; /* 0 before the first round */
	int64_t last_pause_us; /* when the last local pause ended, 0 if none */
	uint64_t pauses;       /* local pauses seen (a metric) */
};

/* One endpoint's arrival window. */
struct fd_window {
	int64_t last_us; /* last arrival, 0 = none yet */
	int64_t sum_us;  /* sum of the samples held */
	uint32_t n;      /* samples held, <= FD_WINDOW */
	uint32_t head;   /* next slot to overwrite */
	uint32_t samples_us[FD_WINDOW];
	int64_t gap_max_us; /* longest interval between two arrivals seen */
};

/* Zero fields of cfg take the defaults above. */
void failure_detector_init(struct failure_detector *fd, const struct failure_detector_config *cfg);

void fd_window_init(struct fd_window *w);
/* A heartbeat of this endpoint arrived at now_us. */
void fd_window_report(const struct failure_detector *fd, struct fd_window *w, int64_t now_us);
/* The mean inter-arrival time in µs (0 with no samples). */
double fd_window_mean_us(const struct fd_window *w);
/* phi at now_us (already multiplied by FD_PHI_FACTOR); 0 before any report. */
double fd_window_phi(const struct fd_window *w, int64_t now_us);

/*
 * Start a round of status checks at now_us.  Returns false if convictions
 * must be skipped this round (a local pause just ended, or one ended less
 * than max_local_pause ago); logs the pause once.
 */
bool failure_detector_round(struct failure_detector *fd, int64_t now_us);
/* phi > threshold (call only in rounds where failure_detector_round() said true). */
bool failure_detector_convict(const struct failure_detector *fd, const struct fd_window *w,
                              int64_t now_us);

#endif
