/*
 * bench_proc.c — CPU and memory of the node processes on this machine, read
 * from /proc, so a benchmark reports what its throughput cost.
 *
 * A node is found by its listening socket: /proc/net/tcp{,6} maps ip:port in
 * state LISTEN to a socket inode, and the process holding that inode has a
 * /proc/<pid>/fd/N link "socket:[inode]".  Needs permission to read the
 * node's fd directory (same user, or root); otherwise the node is reported as
 * not found and --pids names it directly.
 *
 * A node on another machine (no local pid) is asked instead: its admin
 * /metrics has process_cpu_seconds_total (getrusage of every thread) and its
 * resident memory, read once before and once after the run.
 */
#include "cli/lib/admin_client.h"
#include "cli/lib/bench_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TCP_LISTEN 0x0A

/* The inode of a socket listening on ip:port in one /proc/net/tcp{,6} file. */
static int find_inode(const char *path, bool v6, const uint8_t *addr, uint16_t port,
                      unsigned long *inode)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return COL_ENOTFOUND;
	char line[512];
	int rc = COL_ENOTFOUND;
	unsigned long wildcard_inode = 0;
	if (!fgets(line, sizeof(line), f)) { /* header */
		fclose(f);
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		char local[40];
		unsigned lport, state;
		unsigned long ino;
		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*d: %39[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*d %*d %lu", local,
		           &lport, &state, &ino) != 4)
			continue;
		if (state != TCP_LISTEN || lport != port)
			continue;
		/* The kernel prints each 32-bit word of the address as a host-order
		 * %08X; parsing it back the same way gives the raw bytes. */
		uint8_t raw[16];
		size_t words = v6 ? 4 : 1;
		if (strlen(local) != words * 8)
			continue;
		for (size_t w = 0; w < words; w++) {
			char part[9];
			memcpy(part, local + w * 8, 8);
			part[8] = 0;
			uint32_t x = (uint32_t)strtoul(part, NULL, 16);
			memcpy(raw + w * 4, &x, 4);
		}
		size_t n = v6 ? 16 : 4;
		static const uint8_t zero[16];
		if (!memcmp(raw, addr, n)) {
			*inode = ino;
			rc = COL_OK;
			break;
		}
		if (!memcmp(raw, zero, n) && !wildcard_inode)
			wildcard_inode = ino;
	}
	fclose(f);
	if (rc && wildcard_inode) {
		*inode = wildcard_inode;
		rc = COL_OK;
	}
	return rc;
}

static int pid_of_inode(unsigned long inode, pid_t *out)
{
	char want[64];
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	DIR *proc = opendir("/proc");
	if (!proc)
		return COL_ENOTFOUND;
	int rc = COL_ENOTFOUND;
	struct dirent *de;
	while (rc && (de = readdir(proc))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		char dir[300];
		snprintf(dir, sizeof(dir), "/proc/%s/fd", de->d_name);
		DIR *fds = opendir(dir);
		if (!fds)
			continue;
		struct dirent *fe;
		while ((fe = readdir(fds))) {
			if (fe->d_name[0] == '.')
				continue;
			char link[600], target[128];
			snprintf(link, sizeof(link), "%s/%s", dir, fe->d_name);
			ssize_t n = readlink(link, target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = 0;
			if (!strcmp(target, want)) {
				*out = (pid_t)atoi(de->d_name);
				rc = COL_OK;
				break;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	return rc;
}

int bench_proc_find_listener(const char *ip, uint16_t port, pid_t *out)
{
	uint8_t addr[16];
	unsigned long inode;
	if (inet_pton(AF_INET, ip, addr) == 1) {
		if (find_inode("/proc/net/tcp", false, addr, port, &inode) == COL_OK)
			return pid_of_inode(inode, out);
		/* A dual-stack wildcard socket serves IPv4 too. */
		memset(addr, 0, 16);
		if (find_inode("/proc/net/tcp6", true, addr, port, &inode) == COL_OK)
			return pid_of_inode(inode, out);
		return COL_ENOTFOUND;
	}
	if (inet_pton(AF_INET6, ip, addr) == 1 &&
	    find_inode("/proc/net/tcp6", true, addr, port, &inode) == COL_OK)
		return pid_of_inode(inode, out);
	return COL_ENOTFOUND;
}

int bench_proc_sample(pid_t pid, struct bench_procstat *out)
{
	char path[64], buf[2048];
	memset(out, 0, sizeof(*out));
	out->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return COL_ENOTFOUND;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* comm may contain spaces and parentheses: fields restart after the last ')'. */
	char *p = strrchr(buf, ')');
	unsigned long long utime, stime;
	char state;
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &state,
	                 &utime, &stime) != 3)
		return COL_ENOTFOUND;
	if (state == 'Z' || state == 'X')
		return COL_ENOTFOUND;
	long tck = sysconf(_SC_CLK_TCK);
	out->cpu_s = (double)(utime + stime) / (double)(tck > 0 ? tck : 100);

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return COL_ENOTFOUND;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmRSS:", 6))
			out->rss_kb = atol(line + 6);
		else if (!strncmp(line, "VmHWM:", 6))
			out->hwm_kb = atol(line + 6);
	}
	fclose(f);
	out->alive = true;
	return COL_OK;
}

int bench_parse_metric(const char *text, const char *name, double *out)
{
	size_t len = strlen(name);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, name, len) != 0 || (p[len] != ' ' && p[len] != '\t'))
			continue;
		char *end;
		double v = strtod(p + len, &end);
		if (end == p + len || (*end && *end != '\n' && *end != ' ' && *end != '\r'))
			return COL_ENOTFOUND;
		*out = v;
		return COL_OK;
	}
	return COL_ENOTFOUND;
}

/* CPU seconds and memory of a node from its /metrics.  0, or an error. */
static int metrics_sample(const struct bench_nodeproc *n, double *cpu_s, long *rss_kb, long *hwm_kb)
{
	struct admin_target t = {0};
	struct cerr err = {0};
	snprintf(t.host, sizeof(t.host), "%s", n->host);
	t.port = n->admin_port;
	t.timeout_ms = 2000;
	if (admin_target_token_from_env(&t, &err))
		return COL_EINVAL;
	int status = 0;
	char *body = NULL;
	size_t len = 0;
	int rc = admin_get(&t, "/metrics", &status, &body, &len, &err);
	if (rc)
		return rc;
	double cpu = 0, rss = 0, hwm = 0;
	if (status != 200 || bench_parse_metric(body, "process_cpu_seconds_total", &cpu))
		rc = COL_ENOTFOUND;
	bench_parse_metric(body, "process_resident_memory_bytes", &rss);
	bench_parse_metric(body, "process_max_resident_memory_bytes", &hwm);
	free(body);
	*cpu_s = cpu;
	*rss_kb = (long)(rss / 1024);
	*hwm_kb = (long)(hwm / 1024);
	return rc;
}

void bench_nodeproc_start(struct bench_nodeproc *n)
{
	struct bench_procstat ps;
	if (!n->pid && n->admin_port && n->host[0]) {
		long rss, hwm;
		n->via_metrics = metrics_sample(n, &n->cpu_start_s, &rss, &hwm) == COL_OK;
		n->cpu_end_s = n->cpu_start_s;
		n->rss_peak_kb = n->via_metrics ? rss : 0;
		n->hwm_kb = n->via_metrics ? hwm : 0;
		return;
	}
	if (!n->pid || bench_proc_sample(n->pid, &ps)) {
		n->gone = n->pid != 0;
		return;
	}
	n->cpu_start_s = n->cpu_end_s = ps.cpu_s;
	n->rss_peak_kb = ps.rss_kb;
	n->hwm_kb = ps.hwm_kb;
}

void bench_nodeproc_sample(struct bench_nodeproc *n)
{
	struct bench_procstat ps;
	if (!n->pid || n->gone)
		return;
	if (bench_proc_sample(n->pid, &ps)) {
		n->gone = true;
		return;
	}
	n->cpu_end_s = ps.cpu_s;
	if (ps.rss_kb > n->rss_peak_kb)
		n->rss_peak_kb = ps.rss_kb;
	n->hwm_kb = ps.hwm_kb;
}

void bench_nodeproc_end(struct bench_nodeproc *n)
{
	if (n->via_metrics) {
		double cpu;
		long rss, hwm;
		if (metrics_sample(n, &cpu, &rss, &hwm)) {
			n->gone = true; /* no answer: it may have died */
			return;
		}
		n->cpu_end_s = cpu;
		if (rss > n->rss_peak_kb)
			n->rss_peak_kb = rss;
		n->hwm_kb = hwm;
		return;
	}
	bench_nodeproc_sample(n);
}
