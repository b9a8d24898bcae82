/*
 * bench_report.c — what `colonnade bench` prints: a progress line a second,
 * the summary (text or --json), the .hgrm file and the gnuplot chart.
 * Latencies are recorded in µs and shown in ms.
 */
#include "cli/lib/bench_int.h"

#include "core/cqlproto.h"

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
		fprintf(f, "   CLOSED LOOP (no --rate): each slot sends its next request when the "
		           "last returns; latency\n   is service time and a stall delays the "
		           "requests instead of showing in them. Use --rate\n   for honest "
		           "tail latency.\n");
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
	fprintf(f, "\n");
	fprintf(f, "  latency ms            ops       p50      p90      p99     p99.9    "
	           "p99.99        max     mean\n");
	latency_line(f, "all", s->all, total);
	for (int i = 0; i < BOP__N; i++)
		if (s->ops[i])
			latency_line(f, bench_op_name((enum bench_op)i), s->per_op[i], s->ops[i]);
	if (o->rate && hdr_total(s->service))
		latency_line(f, "(service time)", s->service, (uint64_t)hdr_total(s->service));
	if (o->rate && hdr_total(s->send_delay))
		latency_line(f, "(send delay)", s->send_delay, (uint64_t)hdr_total(s->send_delay));
	if (o->rate)
		fprintf(f,
		        "  (service time = send to answer; send delay = scheduled start to send, "
		        "the client's own\n  lag, part of the latency above)\n");
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
	if (ri->n_procs) {
		fprintf(f, "  node processes (from /proc, during the run):\n");
		for (int i = 0; i < ri->n_procs; i++) {
			const struct bench_nodeproc *n = &ri->procs[i];
			if (!n->pid) {
				fprintf(f, "    %-22s not found on this machine\n", n->label);
				continue;
			}
			double cpu = n->cpu_end_s - n->cpu_start_s;
			fprintf(f,
			        "    %-22s pid %-7d CPU %7.1f s (%3.0f%% of a core)  RSS peak "
			        "%7.1f "
			        "MiB  VmHWM %7.1f MiB%s\n",
			        n->label, (int)n->pid, cpu,
			        ri->elapsed_s > 0 ? 100 * cpu / ri->elapsed_s : 0,
			        (double)n->rss_peak_kb / 1024, (double)n->hwm_kb / 1024,
			        n->gone ? "  (exited during the run)" : "");
		}
	}
	fflush(f);
}

static void json_latency(FILE *f, const struct hdr *h)
{
	fprintf(f,
	        "{\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"p999\": %.3f, \"p9999\": %.3f, "
	        "\"max\": %.3f, \"mean\": %.3f, \"count\": %lld}",
	        ms(hdr_value_at_percentile(h, 50)), ms(hdr_value_at_percentile(h, 90)),
	        ms(hdr_value_at_percentile(h, 99)), ms(hdr_value_at_percentile(h, 99.9)),
	        ms(hdr_value_at_percentile(h, 99.99)), ms(hdr_max(h)), hdr_mean(h) / 1000.0,
	        (long long)hdr_total(h));
}

/* Names in our JSON are our own identifiers or addresses: nothing to escape
 * but quotes and backslashes, which we refuse to emit raw. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
	fputc('"', f);
}

void bench_report_json(FILE *f, const struct bench_runinfo *ri, const struct bench_stats *s)
{
	const struct bench_opts *o = ri->o;
	uint64_t total = bench_stats_total_ops(s);
	fprintf(f, "{\"workload\": ");
	json_str(f, bench_workload_name(o->workload));
	fprintf(f, ", \"distribution\": ");
	json_str(f, bench_dist_name(o->dist));
	fprintf(f, ", \"mix\": {");
	for (int i = 0, first = 1; i < BOP__N; i++)
		if (o->mix.w[i]) {
			fprintf(f, "%s\"%s\": %u", first ? "" : ", ",
			        bench_op_name((enum bench_op)i), o->mix.w[i]);
			first = 0;
		}
	fprintf(f, "}, \"loop\": \"%s\", \"target_rate\": %llu", o->rate ? "open" : "closed",
	        (unsigned long long)o->rate);
	fprintf(f, ", \"nodes\": ");
	json_str(f, ri->nodes_desc);
	fprintf(f,
	        ", \"connections\": %d, \"inflight_per_connection\": %d, \"token_aware\": %s, "
	        "\"replication_factor\": %d",
	        ri->n_conns, o->inflight, ri->routed ? "true" : "false", ri->rf);
	fprintf(f, ", \"cl_read\": \"%s\", \"cl_write\": \"%s\"", cl_name(o->cl_read),
	        cl_name(o->cl_write));
	fprintf(f, ", \"value_size\": %d, \"records\": %llu", o->value_size,
	        (unsigned long long)o->records);
	fprintf(f, ", \"populate\": {\"rows\": %llu, \"seconds\": %.3f, \"errors\": %llu}",
	        (unsigned long long)ri->populated, ri->populate_s,
	        (unsigned long long)ri->populate_errors);
	fprintf(f, ", \"elapsed_s\": %.3f, \"ops\": %llu, \"ok\": %llu, \"ops_per_s\": %.1f",
	        ri->elapsed_s, (unsigned long long)total, (unsigned long long)s->ok,
	        ri->elapsed_s > 0 ? (double)total / ri->elapsed_s : 0);
	fprintf(f, ", \"errors\": {\"total\": %llu",
	        (unsigned long long)bench_stats_total_errors(s));
	static const char *const keys[BERR__N] = {"unavailable",   "write_timeout", "read_timeout",
	                                          "overloaded",    "other_server",  "connection",
	                                          "client_timeout"};
	for (int i = 0; i < BERR__N; i++)
		fprintf(f, ", \"%s\": %llu", keys[i], (unsigned long long)s->errors[i]);
	fprintf(f, ", \"by_code\": {");
	for (int i = 0; i < s->n_codes; i++)
		fprintf(f, "%s\"0x%04x\": %llu", i ? ", " : "", s->by_code[i].code,
		        (unsigned long long)s->by_code[i].n);
	fprintf(f, "}}, \"read_misses\": %llu, \"backlog\": %llu",
	        (unsigned long long)s->read_misses, (unsigned long long)s->backlog);
	fprintf(f, ", \"latency_ms\": ");
	json_latency(f, s->all);
	fprintf(f, ", \"per_op\": {");
	for (int i = 0, first = 1; i < BOP__N; i++)
		if (s->ops[i]) {
			fprintf(f, "%s\"%s\": ", first ? "" : ", ",
			        bench_op_name((enum bench_op)i));
			json_latency(f, s->per_op[i]);
			first = 0;
		}
	fprintf(f, "}, \"service_time_ms\": ");
	if (o->rate)
		json_latency(f, s->service);
	else
		fprintf(f, "null");
	fprintf(f, ", \"send_delay_ms\": ");
	if (o->rate)
		json_latency(f, s->send_delay);
	else
		fprintf(f, "null");
	fprintf(f, ", \"client_cpu_s\": %.3f, \"node_processes\": [", ri->client_cpu_s);
	for (int i = 0; i < ri->n_procs; i++) {
		const struct bench_nodeproc *n = &ri->procs[i];
		fprintf(f, "%s{\"node\": ", i ? ", " : "");
		json_str(f, n->label);
		if (n->pid)
			fprintf(f,
			        ", \"pid\": %d, \"cpu_s\": %.3f, \"rss_peak_mib\": %.1f, "
			        "\"vmhwm_mib\": %.1f, \"exited\": %s}",
			        (int)n->pid, n->cpu_end_s - n->cpu_start_s,
			        (double)n->rss_peak_kb / 1024, (double)n->hwm_kb / 1024,
			        n->gone ? "true" : "false");
		else
			fprintf(f, ", \"pid\": null}");
	}
	fprintf(f, "]}\n");
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
