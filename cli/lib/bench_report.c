/*
 * bench_report.c — what `colonnade bench` prints: a progress line a second,
 * the summary (text or --json), the .hgrm file and the gnuplot chart.
 * Latencies are recorded in µs and shown in ms.
 */
#include "cli/lib/bench_int.h"

#include "core/cqlproto.h"
#include "core/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static double ms(int64_t us)
{
	return (double)us / 1000.0;
}

void bench_report_progress(FILE *f, const struct bench_point *p, uint64_t inflight, int64_t behind)
{
	char tail[64] = "";
	if (behind >= 0)
		snprintf(tail, sizeof(tail), "  behind %lld", (long long)behind);
	if (!p->n) {
		/* Nothing finished this second: a stall, not a 0 ms latency. */
		fprintf(f,
		        "[%6.1fs] %9.0f ops/s  p50        - ms  p99        - ms  max         - ms  "
		        "errors %llu  inflight %llu%s  (no answers)\n",
		        p->t_s, p->ops_per_s, (unsigned long long)p->errors,
		        (unsigned long long)inflight, tail);
	} else {
		fprintf(f,
		        "[%6.1fs] %9.0f ops/s  p50 %8.3f ms  p99 %8.3f ms  max %9.3f ms  errors "
		        "%llu  inflight %llu%s\n",
		        p->t_s, p->ops_per_s, ms(p->p50), ms(p->p99), ms(p->max),
		        (unsigned long long)p->errors, (unsigned long long)inflight, tail);
	}
	fflush(f);
}

static const char *cl_name(uint16_t cl)
{
	const char *n = cql_consistency_name(cl);
	return n ? n : "?";
}

static void mix_desc(const struct bench_opts *o, char *buf, size_t len)
{
	unsigned sum = 0;
	for (int i = 0; i < BOP__N; i++)
		sum += o->mix.w[i];
	size_t off = 0;
	buf[0] = 0;
	for (int i = 0; i < BOP__N && off < len; i++)
		if (o->mix.w[i])
			off += (size_t)snprintf(buf + off, len - off, "%s%s %.0f%%",
			                        off ? ", " : "", bench_op_name((enum bench_op)i),
			                        100.0 * o->mix.w[i] / (sum ? sum : 1));
}

static void latency_line(FILE *f, const char *label, const struct hdr *h, uint64_t ops)
{
	fprintf(f, "  %-14s %10llu  %8.3f %8.3f %8.3f %9.3f %9.3f %10.3f %8.3f\n", label,
	        (unsigned long long)ops, ms(hdr_value_at_percentile(h, 50)),
	        ms(hdr_value_at_percentile(h, 90)), ms(hdr_value_at_percentile(h, 99)),
	        ms(hdr_value_at_percentile(h, 99.9)), ms(hdr_value_at_percentile(h, 99.99)),
	        ms(hdr_max(h)), hdr_mean(h) / 1000.0);
}

/* CPU µs per operation (ops > 0), else 0. */
static double us_per_op(double cpu_s, uint64_t ops)
{
	return ops ? cpu_s * 1e6 / (double)ops : 0;
}

/* CPU of the measured node processes together (a node whose /metrics did not
 * answer after the run is left out: its end is unknown); false when none was. */
static bool nodes_cpu(const struct bench_runinfo *ri, double *cpu_s, int *n)
{
	*cpu_s = 0;
	*n = 0;
	for (int i = 0; i < ri->n_procs; i++)
		if (bench_nodeproc_measured(&ri->procs[i]) &&
		    !(ri->procs[i].via_metrics && ri->procs[i].gone)) {
			*cpu_s += ri->procs[i].cpu_end_s - ri->procs[i].cpu_start_s;
			(*n)++;
		}
	return *n > 0;
}

/* Each node's CPU (and µs per operation), memory, and all of them together. */
static void summary_nodes(FILE *f, const struct bench_runinfo *ri, uint64_t ops)
{
	fprintf(f, "  node processes during the run (CPU of every thread; µs per operation):\n");
	for (int i = 0; i < ri->n_procs; i++) {
		const struct bench_nodeproc *n = &ri->procs[i];
		if (!bench_nodeproc_measured(n)) {
			fprintf(f, "    %-22s not found on this machine%s\n", n->label,
			        n->admin_port ? " and its /metrics did not answer" : "");
			continue;
		}
		double cpu = n->cpu_end_s - n->cpu_start_s;
		char who[32];
		if (n->pid)
			snprintf(who, sizeof(who), "pid %d", (int)n->pid);
		else
			snprintf(who, sizeof(who), "/metrics");
		fprintf(f,
		        "    %-22s %-11s CPU %7.1f s (%3.0f%% of a core, %6.1f µs/op)  RSS peak "
		        "%7.1f MiB  VmHWM %7.1f MiB%s\n",
		        n->label, who, cpu, ri->elapsed_s > 0 ? 100 * cpu / ri->elapsed_s : 0,
		        us_per_op(cpu, ops), (double)n->rss_peak_kb / 1024,
		        (double)n->hwm_kb / 1024,
		        n->gone ? (n->via_metrics ? "  (no answer after the run)"
		                                  : "  (exited during the run)")
		                : "");
	}
	double cpu;
	int measured;
	if (nodes_cpu(ri, &cpu, &measured))
		fprintf(f, "    all %d measured nodes: CPU %.1f s, %.1f µs per operation\n",
		        measured, cpu, us_per_op(cpu, ops));
}

void bench_report_summary(FILE *f, const struct bench_runinfo *ri, const struct bench_stats *s)
{
	const struct bench_opts *o = ri->o;
	char mix[160];
	mix_desc(o, mix, sizeof(mix));
	uint64_t total = bench_stats_total_ops(s), errors = bench_stats_total_errors(s);
	fprintf(f,
	        "\n== colonnade bench: workload %s (%s), %s keys over %llu records, "
	        "%d-byte values\n",
	        bench_workload_name(o->workload), mix, bench_dist_name(o->dist),
	        (unsigned long long)o->records, o->value_size);
	fprintf(f, "   nodes %s; %d connections x %d in flight; %s; CL read %s, write %s\n",
	        ri->nodes_desc, ri->n_conns, o->inflight,
	        ri->routed ? "token-aware routing" : "round-robin routing", cl_name(o->cl_read),
	        cl_name(o->cl_write));
	if (o->rate)
		fprintf(f,
		        "   OPEN LOOP at a target of %llu ops/s: latency is measured from each "
		        "request's scheduled start,\n   so a stall shows in the figures "
		        "(no coordinated omission)\n",
		        (unsigned long long)o->rate);
	else
		fputs("   CLOSED LOOP (no --rate): each slot sends its next request when the last "
		      "returns; latency\n   is service time and a stall delays the requests "
		      "instead of showing in them. Use --rate\n   for honest tail latency.\n",
		      f);
	if (ri->populated)
		fprintf(f, "   populate: %llu rows in %.1f s (%.0f rows/s), %llu errors\n",
		        (unsigned long long)ri->populated, ri->populate_s,
		        ri->populate_s > 0 ? (double)ri->populated / ri->populate_s : 0,
		        (unsigned long long)ri->populate_errors);
	double rate = ri->elapsed_s > 0 ? (double)total / ri->elapsed_s : 0;
	fprintf(f, "\nResults over %.1f s: %llu ops, %.0f ops/s, %llu ok, %llu errors",
	        ri->elapsed_s, (unsigned long long)total, rate, (unsigned long long)s->ok,
	        (unsigned long long)errors);
	if (o->rate)
		fprintf(f, " (target %llu ops/s%s)", (unsigned long long)o->rate,
		        rate < 0.95 * (double)o->rate ? ", NOT SUSTAINED" : "");
	fputs("\n  latency ms            ops       p50      p90      p99     p99.9    "
	      "p99.99        max     mean\n",
	      f);
	latency_line(f, "all", s->all, total);
	for (int i = 0; i < BOP__N; i++)
		if (s->ops[i])
			latency_line(f, bench_op_name((enum bench_op)i), s->per_op[i], s->ops[i]);
	if (errors && hdr_total(s->ok_lat))
		latency_line(f, "(ok only)", s->ok_lat, (uint64_t)hdr_total(s->ok_lat));
	if (o->rate && hdr_total(s->service))
		latency_line(f, "(service time)", s->service, (uint64_t)hdr_total(s->service));
	if (o->rate && hdr_total(s->send_delay))
		latency_line(f, "(send delay)", s->send_delay, (uint64_t)hdr_total(s->send_delay));
	if (o->rate && hdr_total(s->queue_lag))
		latency_line(f, "(encode lag)", s->queue_lag, (uint64_t)hdr_total(s->queue_lag));
	if (o->rate && hdr_total(s->wake_lag))
		latency_line(f, "(wake-up lag)", s->wake_lag, (uint64_t)hdr_total(s->wake_lag));
	if (o->rate)
		fprintf(f,
		        "  (service time = written to answered; send delay = scheduled start to "
		        "written to the\n  socket, part of the latency above; encode lag = "
		        "scheduled start to encoded on a\n  connection, the client's own lag (the "
		        "rest of the send delay: the iteration's other work\n  before the write, "
		        "and a socket the server does not read); wake-up lag = how late\n  the "
		        "client's schedule timer ran, waiting for a core; up to %u requests were "
		        "in\n"
		        "  flight on one connection)\n",
		        ri->max_conn_inflight);
	if (s->backlog)
		fprintf(f,
		        "  %llu requests were due but never sent when the run ended (the "
		        "target rate was not\n  sustained); they are in the figures with the "
		        "time they had waited, a lower bound.\n",
		        (unsigned long long)s->backlog);
	if (hdr_saturated(s->all))
		fprintf(f, "  %lld latencies exceeded one hour and were recorded as one hour\n",
		        (long long)hdr_saturated(s->all));
	fprintf(f, "  errors:");
	for (int i = 0; i < BERR__N; i++)
		fprintf(f, "%s %s %llu", i ? "," : "", bench_err_name((enum bench_err)i),
		        (unsigned long long)s->errors[i]);
	fprintf(f, "\n");
	for (int i = 0; i < s->n_codes; i++)
		fprintf(f, "    server error 0x%04x (%s): %llu\n", s->by_code[i].code,
		        cql_error_name(s->by_code[i].code), (unsigned long long)s->by_code[i].n);
	if (s->ops[BOP_READ] || s->ops[BOP_RMW])
		fprintf(f, "  reads that found no row: %llu%s\n",
		        (unsigned long long)s->read_misses,
		        s->read_misses && !ri->populated ? " (use --populate to load keys first)"
		                                         : "");
	fprintf(f, "  client: %.1f CPU s (%.0f%% of one core)%s\n", ri->client_cpu_s,
	        ri->elapsed_s > 0 ? 100 * ri->client_cpu_s / ri->elapsed_s : 0,
	        ri->elapsed_s > 0 && ri->client_cpu_s / ri->elapsed_s > 0.9
	                ? " - the load generator was saturated; figures may be client-bound"
	                : "");
	if (ri->n_procs)
		summary_nodes(f, ri, total);
	fflush(f);
}

static void json_latency(struct jw *w, const struct hdr *h)
{
	static const struct {
		const char *key;
		double pct;
	} pcts[] = {{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p999", 99.9}, {"p9999", 99.99}};
	jw_obj(w);
	for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
		jw_field_fixed(w, pcts[i].key, ms(hdr_value_at_percentile(h, pcts[i].pct)), 3);
	jw_field_fixed(w, "max", ms(hdr_max(h)), 3);
	jw_field_fixed(w, "mean", hdr_mean(h) / 1000.0, 3);
	jw_field_int(w, "count", (int64_t)hdr_total(h));
	jw_obj_end(w);
}

/* The run's settings: what was asked for and how the client was shaped. */
static void json_settings(struct jw *w, const struct bench_runinfo *ri)
{
	const struct bench_opts *o = ri->o;
	jw_field_str(w, "workload", bench_workload_name(o->workload));
	jw_field_str(w, "distribution", bench_dist_name(o->dist));
	jw_key(w, "mix");
	jw_obj(w);
	for (int i = 0; i < BOP__N; i++)
		if (o->mix.w[i])
			jw_field_uint(w, bench_op_name((enum bench_op)i), o->mix.w[i]);
	jw_obj_end(w);
	jw_field_str(w, "loop", o->rate ? "open" : "closed");
	jw_field_uint(w, "target_rate", o->rate);
	jw_field_str(w, "nodes", ri->nodes_desc);
	jw_field_int(w, "connections", ri->n_conns);
	jw_field_int(w, "inflight_per_connection", o->inflight);
	jw_field_uint(w, "max_inflight_per_connection", ri->max_conn_inflight);
	jw_field_bool(w, "token_aware", ri->routed);
	jw_field_int(w, "replication_factor", ri->rf);
	jw_field_str(w, "cl_read", cl_name(o->cl_read));
	jw_field_str(w, "cl_write", cl_name(o->cl_write));
	jw_field_int(w, "value_size", o->value_size);
	jw_field_uint(w, "records", o->records);
	jw_key(w, "populate");
	jw_obj(w);
	jw_field_uint(w, "rows", ri->populated);
	jw_field_fixed(w, "seconds", ri->populate_s, 3);
	jw_field_uint(w, "errors", ri->populate_errors);
	jw_obj_end(w);
}

static void json_errors(struct jw *w, const struct bench_stats *s)
{
	static const char *const keys[BERR__N] = {"unavailable",   "write_timeout", "read_timeout",
	                                          "overloaded",    "other_server",  "connection",
	                                          "client_timeout"};
	jw_key(w, "errors");
	jw_obj(w);
	jw_field_uint(w, "total", bench_stats_total_errors(s));
	for (int i = 0; i < BERR__N; i++)
		jw_field_uint(w, keys[i], s->errors[i]);
	jw_key(w, "by_code");
	jw_obj(w);
	for (int i = 0; i < s->n_codes; i++) {
		char code[8];
		snprintf(code, sizeof(code), "0x%04x", s->by_code[i].code);
		jw_field_uint(w, code, s->by_code[i].n);
	}
	jw_obj_end(w);
	jw_obj_end(w);
}

static void json_latencies(struct jw *w, const struct bench_opts *o, const struct bench_stats *s)
{
	jw_key(w, "latency_ms");
	json_latency(w, s->all);
	jw_key(w, "ok_latency_ms");
	json_latency(w, s->ok_lat);
	jw_key(w, "per_op");
	jw_obj(w);
	for (int i = 0; i < BOP__N; i++)
		if (s->ops[i]) {
			jw_key(w, bench_op_name((enum bench_op)i));
			json_latency(w, s->per_op[i]);
		}
	jw_obj_end(w);
	jw_key(w, "service_time_ms");
	if (o->rate)
		json_latency(w, s->service);
	else
		jw_null(w);
	jw_key(w, "send_delay_ms");
	if (o->rate)
		json_latency(w, s->send_delay);
	else
		jw_null(w);
	jw_key(w, "encode_lag_ms");
	if (o->rate)
		json_latency(w, s->queue_lag);
	else
		jw_null(w);
	jw_key(w, "wake_lag_ms");
	if (o->rate)
		json_latency(w, s->wake_lag);
	else
		jw_null(w);
}

static void json_node_processes(struct jw *w, const struct bench_runinfo *ri, uint64_t ops)
{
	double all;
	int measured;
	jw_key(w, "node_cpu_s");
	if (nodes_cpu(ri, &all, &measured))
		jw_fixed(w, all, 3);
	else
		jw_null(w);
	jw_key(w, "node_cpu_us_per_op");
	if (measured)
		jw_fixed(w, us_per_op(all, ops), 2);
	else
		jw_null(w);
	jw_field_int(w, "nodes_measured", measured);
	jw_key(w, "node_processes");
	jw_arr(w);
	for (int i = 0; i < ri->n_procs; i++) {
		const struct bench_nodeproc *n = &ri->procs[i];
		jw_obj(w);
		jw_field_str(w, "node", n->label);
		jw_key(w, "pid");
		if (n->pid)
			jw_int(w, n->pid);
		else
			jw_null(w);
		if (!bench_nodeproc_measured(n)) {
			jw_obj_end(w);
			continue;
		}
		jw_field_str(w, "source", n->pid ? "proc" : "metrics");
		jw_field_fixed(w, "cpu_s", n->cpu_end_s - n->cpu_start_s, 3);
		jw_field_fixed(w, "cpu_us_per_op", us_per_op(n->cpu_end_s - n->cpu_start_s, ops),
		               2);
		jw_field_fixed(w, "rss_peak_mib", (double)n->rss_peak_kb / 1024, 1);
		jw_field_fixed(w, "vmhwm_mib", (double)n->hwm_kb / 1024, 1);
		jw_field_bool(w, "exited", n->gone);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

void bench_report_json(FILE *f, const struct bench_runinfo *ri, const struct bench_stats *s)
{
	uint64_t total = bench_stats_total_ops(s);
	struct buf b;
	buf_init(&b);
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	json_settings(&w, ri);
	jw_key(&w, "elapsed_s");
	jw_fixed(&w, ri->elapsed_s, 3);
	jw_key(&w, "ops");
	jw_uint(&w, total);
	jw_key(&w, "ok");
	jw_uint(&w, s->ok);
	jw_key(&w, "ops_per_s");
	jw_fixed(&w, ri->elapsed_s > 0 ? (double)total / ri->elapsed_s : 0, 1);
	json_errors(&w, s);
	jw_key(&w, "read_misses");
	jw_uint(&w, s->read_misses);
	jw_key(&w, "backlog");
	jw_uint(&w, s->backlog);
	json_latencies(&w, ri->o, s);
	jw_key(&w, "client_cpu_s");
	jw_fixed(&w, ri->client_cpu_s, 3);
	json_node_processes(&w, ri, total);
	jw_obj_end(&w);
	buf_put_u8(&b, '\n');
	if (buf_ok(&b))
		fwrite(b.data, 1, b.len, f);
	else
		fprintf(f, "{\"error\":\"out of memory writing the report\"}\n");
	buf_release(&b);
	fflush(f);
}

int bench_report_hgrm(const char *path, const struct bench_stats *s, struct cerr *err)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return cerr_set(err, COL_EIO, "--hdr-out: cannot write '%s': %s", path,
		                strerror(errno));
	int rc = hdr_write_percentiles(s->all, f, 5, 1000.0, 3);
	if (fclose(f) || rc)
		return cerr_set(err, COL_EIO, "--hdr-out: writing '%s' failed", path);
	return COL_OK;
}

int bench_report_plot(const char *png, const struct bench_runinfo *ri, const struct bench_stats *s,
                      struct cerr *err)
{
	char dir[] = "/tmp/colonnade-bench-plot-XXXXXX";
	if (!mkdtemp(dir))
		return cerr_set(err, COL_EIO, "--plot: cannot create a temporary directory: %s",
		                strerror(errno));
	char series[128], hgrm[128], script[128];
	snprintf(series, sizeof(series), "%s/series.dat", dir);
	snprintf(hgrm, sizeof(hgrm), "%s/latency.hgrm", dir);
	snprintf(script, sizeof(script), "%s/plot.gp", dir);
	int rc = COL_OK;
	FILE *f = fopen(series, "w");
	if (!f) {
		rc = cerr_set(err, COL_EIO, "--plot: cannot write %s", series);
		goto out;
	}
	fprintf(f, "# t_s ops_per_s p50_ms p90_ms p99_ms p999_ms max_ms errors\n");
	for (int i = 0; i < s->n_series; i++) {
		const struct bench_point *p = &s->series[i];
		fprintf(f, "%.3f %.1f %.3f %.3f %.3f %.3f %.3f %llu\n", p->t_s, p->ops_per_s,
		        ms(p->p50), ms(p->p90), ms(p->p99), ms(p->p999), ms(p->max),
		        (unsigned long long)p->errors);
	}
	fclose(f);
	if ((rc = bench_report_hgrm(hgrm, s, err)))
		goto out;
	f = fopen(script, "w");
	if (!f) {
		rc = cerr_set(err, COL_EIO, "--plot: cannot write %s", script);
		goto out;
	}
	const struct bench_opts *o = ri->o;
	/* The percentile curve uses HdrHistogram's x axis: 1/(1-p) on a log
	 * scale, so 90 %, 99 %, 99.9 % ... are evenly spaced. */
	fprintf(f,
	        "set terminal pngcairo size 1200,1000 noenhanced font ',10'\n"
	        "set output '%s'\n"
	        "set multiplot layout 3,1 title 'colonnade bench %s: %s loop%s'\n"
	        "set grid\n"
	        "set xlabel 'seconds'\n"
	        "set ylabel 'latency ms'\n"
	        "set logscale y\n"
	        "plot '%s' using 1:3 with lines title 'p50', '' using 1:5 with lines title "
	        "'p99', '' using 1:6 with lines title 'p99.9', '' using 1:7 with lines title "
	        "'max'\n"
	        "unset logscale y\n"
	        "set ylabel 'ops/s'\n"
	        "set yrange [0:*]\n"
	        "plot '%s' using 1:2 with lines title 'ops/s', '' using 1:8 with impulses "
	        "title 'errors'\n"
	        "set autoscale y\n"
	        "set logscale x\n"
	        "set logscale y\n"
	        "set xlabel 'percentile'\n"
	        "set ylabel 'latency ms'\n"
	        /* Tic labels are gnuplot format strings: '%%%%' prints as '%%' there. */
	        "set xtics ('0%%%%' 1, '90%%%%' 10, '99%%%%' 100, '99.9%%%%' 1000, "
	        "'99.99%%%%' 10000, '99.999%%%%' 100000)\n"
	        "plot '< grep -v -e \"^#\" -e Value -e \"^$\" %s | awk \"NF==4\"' using "
	        "4:1 with lines title 'latency by percentile'\n"
	        "unset multiplot\n",
	        png, bench_workload_name(o->workload), o->rate ? "open" : "closed",
	        o->rate ? "" : " (latency = service time)", series, series, hgrm);
	fclose(f);
	pid_t pid = fork();
	if (pid < 0) {
		rc = cerr_set(err, COL_EIO, "--plot: fork failed: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		execlp("gnuplot", "gnuplot", script, (char *)NULL);
		fprintf(stderr,
		        "colonnade bench: --plot: cannot run gnuplot: %s (install "
		        "gnuplot-nox)\n",
		        strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		rc = cerr_set(err, COL_EIO, "--plot: gnuplot failed (exit %d) drawing %s",
		              WIFEXITED(status) ? WEXITSTATUS(status) : -1, png);
out:
	unlink(series);
	unlink(hgrm);
	unlink(script);
	rmdir(dir);
	return rc;
}
