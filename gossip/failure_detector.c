/* failure_detector.c — see failure_detector.h. */
#include "gossip/failure_detector.h"

#include "core/log.h"

#include <string.h>

/* Cassandra's defaults: gossip every 1 s, initial interval 2 x that, pause guard 5 s. */
#define DEF_THRESHOLD    8.0
#define DEF_INITIAL_US   2000000
#define DEF_MAX_PAUSE_US 5000000

void failure_detector_init(struct failure_detector *fd, const struct failure_detector_config *cfg)
{
	memset(fd, 0, sizeof(*fd));
	if (cfg)
		fd->cfg = *cfg;
	if (fd->cfg.phi_convict_threshold <= 0)
		fd->cfg.phi_convict_threshold = DEF_THRESHOLD;
	if (fd->cfg.initial_interval_us <= 0)
		fd->cfg.initial_interval_us = DEF_INITIAL_US;
	if (fd->cfg.max_local_pause_us <= 0)
		fd->cfg.max_local_pause_us = DEF_MAX_PAUSE_US;
}

void fd_window_init(struct fd_window *w)
{
	w->last_us = 0;
	w->sum_us = 0;
	w->n = 0;
	w->head = 0;
}

static void window_add(struct fd_window *w, int64_t v)
{
	if (w->n == FD_WINDOW)
		w->sum_us -= w->samples_us[w->head];
	else
		w->n++;
	w->samples_us[w->head] = (uint32_t)v;
	w->sum_us += v;
	w->head = (w->head + 1) % FD_WINDOW;
}

void fd_window_report(const struct failure_detector *fd, struct fd_window *w, int64_t now_us)
{
	if (w->last_us > 0) {
		int64_t d = now_us - w->last_us;
		if (d > w->gap_max_us)
			w->gap_max_us = d;
		if (d >= 0 && d <= fd->cfg.initial_interval_us)
			window_add(w, d);
	} else {
		window_add(w, fd->cfg.initial_interval_us);
	}
	w->last_us = now_us;
}

double fd_window_mean_us(const struct fd_window *w)
{
	return w->n ? (double)w->sum_us / w->n : 0.0;
}

double fd_window_phi(const struct fd_window *w, int64_t now_us)
{
	double mean = fd_window_mean_us(w);
	if (w->last_us == 0 || mean <= 0)
		return 0.0;
	double t = (double)(now_us - w->last_us);
	if (t < 0)
		t = 0;
	return FD_PHI_FACTOR * t / mean;
}

bool failure_detector_round(struct failure_detector *fd, int64_t now_us)
{
	int64_t last = fd->last_round_us;
	fd->last_round_us = now_us;
	if (last > 0 && now_us - last > fd->cfg.max_local_pause_us) {
		log_warn("gossip",
		         "not marking nodes down: this node was paused for %lld ms (> %lld ms)",
		         (long long)((now_us - last) / 1000),
		         (long long)(fd->cfg.max_local_pause_us / 1000));
		fd->last_pause_us = now_us;
		fd->pauses++;
		return false;
	}
	if (fd->last_pause_us > 0 && now_us - fd->last_pause_us < fd->cfg.max_local_pause_us)
		return false;
	return true;
}

bool failure_detector_convict(const struct failure_detector *fd, const struct fd_window *w,
                              int64_t now_us)
{
	return fd_window_phi(w, now_us) > fd->cfg.phi_convict_threshold;
}
