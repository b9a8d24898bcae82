/*
 * cluster.c — processes, configs, nftables and polling for cluster tests.
 */
#include "tests/cluster/harness/cluster.h"

#include "cli/lib/admin_client.h"
#include "core/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Live clusters, for the emergency cleanup (atexit / fatal signals). */
#define MAX_LIVE 4
static struct cluster *live[MAX_LIVE];
static bool handlers_installed;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "[cluster] %s\n", line);
}

int64_t cluster_now_ms(void)
{
	return clock_mono_ms();
}

/* The second field of a schedstat file (run delay, ns), in µs; -1 when unreadable. */
static int64_t schedstat_wait_us(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	unsigned long long run_ns, wait_ns;
	int n = fscanf(f, "%llu %llu", &run_ns, &wait_ns);
	fclose(f);
	return n == 2 ? (int64_t)(wait_ns / 1000) : -1;
}

int64_t cluster_node_cpu_wait_us(struct cluster *c, int k)
{
	if (k < 1 || k > c->o.n || c->nodes[k].pid <= 0)
		return -1;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)c->nodes[k].pid);
	return schedstat_wait_us(path);
}

int64_t cluster_self_cpu_wait_us(void)
{
	return schedstat_wait_us("/proc/thread-self/schedstat");
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Run argv, wait; stdout/stderr go to /dev/null unless `show`.  Exit status or -1. */
static int run_cmd(const char *const argv[], bool show)
{
	pid_t p = fork();
	if (p < 0)
		return -1;
	if (p == 0) {
		if (!show) {
			int fd = open("/dev/null", O_WRONLY);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st;
	while (waitpid(p, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Async-signal-safe: kill nodes and delete the nft table (fork + exec only). */
static void emergency_cleanup(void)
{
	for (int i = 0; i < MAX_LIVE; i++) {
		struct cluster *c = live[i];
		if (!c)
			continue;
		for (int k = 1; k <= c->n; k++)
			if (c->nodes[k].pid > 0)
				kill(c->nodes[k].pid, SIGKILL);
		if (c->nft_active) {
			pid_t p = fork();
			if (p == 0) {
				int fd = open("/dev/null", O_WRONLY);
				if (fd >= 0) {
					dup2(fd, 1);
					dup2(fd, 2);
				}
				const char *const argv[] = {"nft",  "delete",     "table",
				                            "inet", c->nft_table, NULL};
				execvp("nft", (char *const *)argv);
				_exit(127);
			}
			if (p > 0)
				waitpid(p, NULL, 0);
			c->nft_active = false;
		}
	}
}

static void on_fatal(int sig)
{
	emergency_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_handlers(void)
{
	if (handlers_installed)
		return;
	handlers_installed = true;
	atexit(emergency_cleanup);
	int sigs[] = {SIGINT, SIGTERM, SIGABRT, SIGSEGV, SIGBUS, SIGHUP};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_fatal);
}

static void live_add(struct cluster *c)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (!live[i]) {
			live[i] = c;
			return;
		}
}

static void live_remove(struct cluster *c)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (live[i] == c)
			live[i] = NULL;
}

/* COLONNADE_TEST_IO_THREADS=N runs every node with N event loops (tests/cluster/README.md),
 * unless the test sets io_threads in extra_yaml (the node would warn of a key set twice). */
static const char *io_threads_line(const char *extra_yaml)
{
	static char line[32];
	const char *v = getenv("COLONNADE_TEST_IO_THREADS");
	if (!v || !*v || (extra_yaml && strstr(extra_yaml, "io_threads:")))
		return "";
	snprintf(line, sizeof(line), "io_threads: %d\n", atoi(v));
	return line;
}

static int write_config(struct cluster *c, int k)
{
	struct cluster_node *nd = &c->nodes[k];
	FILE *f = fopen(nd->yaml, "w");
	if (!f) {
		say("cannot write %s: %s", nd->yaml, strerror(errno));
		return -1;
	}
	char seeds[512] = "";
	for (int s = 1; s <= c->o.n_seeds && !c->o.seeds; s++) {
		size_t l = strlen(seeds);
		snprintf(seeds + l, sizeof(seeds) - l, "%s%s.%d", s > 1 ? "," : "", c->net,
		         c->o.first_host + s - 1);
	}
	if (c->o.seeds)
		snprintf(seeds, sizeof(seeds), "%s", c->o.seeds);
	fprintf(f,
	        "# written by the cluster test harness\n"
	        "cluster_name: '%s'\n"
	        "listen_address: %s\n"
	        "seed_provider:\n"
	        "  - class_name: org.apache.cassandra.locator.SimpleSeedProvider\n"
	        "    parameters:\n"
	        "      - seeds: \"%s\"\n"
	        "data_file_directories:\n"
	        "  - %s/data\n"
	        "num_tokens: %d\n"
	        "gossip_interval: %dms\n"
	        "phi_convict_threshold: %g\n"
	        "endpoint_snitch: GossipingPropertyFileSnitch\n"
	        "dc: %s\n"
	        "rack: %s\n"
	        "log_level: info\n"
	        "%s%s\n",
	        c->o.cluster_name, nd->addr, seeds, nd->dir, c->o.num_tokens,
	        c->o.gossip_interval_ms, c->o.phi, nd->dc, nd->rack,
	        io_threads_line(c->o.extra_yaml), c->o.extra_yaml ? c->o.extra_yaml : "");
	return fclose(f) == 0 ? 0 : -1;
}

int cluster_new(const struct cluster_opts *o, struct cluster **out)
{
	install_handlers();
	if (o->n < 1 || o->n > CLUSTER_MAX_NODES) {
		say("cluster size %d outside 1..%d", o->n, CLUSTER_MAX_NODES);
		return -1;
	}
	const char *bin = getenv("COLONNADE_BIN");
	if (!bin || access(bin, X_OK) != 0) {
		say("COLONNADE_BIN must name the colonnade binary (got '%s')", bin ? bin : "");
		return -1;
	}
	struct cluster *c = calloc(1, sizeof(*c));
	if (!c)
		return -1;
	c->o = *o;
	if (c->o.n_seeds <= 0)
		c->o.n_seeds = o->n < 2 ? o->n : 2;
	if (c->o.gossip_interval_ms <= 0)
		c->o.gossip_interval_ms = 50;
	if (c->o.phi <= 0)
		c->o.phi = 8;
	if (c->o.num_tokens <= 0)
		c->o.num_tokens = 16;
	if (!c->o.cluster_name)
		c->o.cluster_name = "colonnade-test";
	if (c->o.first_host <= 0)
		c->o.first_host = 1;
	if (c->o.first_host + o->n - 1 > 249) {
		say("node addresses would run past %s.249", c->net);
		free(c);
		return -1;
	}
	c->n = o->n;
	snprintf(c->bin, sizeof(c->bin), "%s", bin);
	const char *net = getenv("COLONNADE_TEST_NET");
	snprintf(c->net, sizeof(c->net), "%s", net && *net ? net : "127.0.0");
	snprintf(c->client_addr, sizeof(c->client_addr), "%s.250", c->net);
	snprintf(c->nft_table, sizeof(c->nft_table), "colonnade_test_%s", c->net);
	for (char *p = c->nft_table; *p; p++)
		if (*p == '.')
			*p = '_';
	snprintf(c->root, sizeof(c->root), "/tmp/colonnade-cluster-XXXXXX");
	if (!mkdtemp(c->root)) {
		say("mkdtemp: %s", strerror(errno));
		free(c);
		return -1;
	}
	live_add(c);
	/* A run killed outright (criterion's timeout sends SIGKILL) leaves its rules
	 * behind; the table is ours (named after our net), so clear it first. */
	c->nft_active = true;
	cluster_heal(c);
	for (int k = 1; k <= c->n; k++) {
		struct cluster_node *nd = &c->nodes[k];
		nd->idx = k;
		snprintf(nd->addr, sizeof(nd->addr), "%s.%d", c->net, c->o.first_host + k - 1);
		snprintf(nd->dir, sizeof(nd->dir), "%s/node%d", c->root, k);
		snprintf(nd->log, sizeof(nd->log), "%s/node%d/node.log", c->root, k);
		snprintf(nd->yaml, sizeof(nd->yaml), "%s/node%d/colonnade.yaml", c->root, k);
		snprintf(nd->dc, sizeof(nd->dc), "%s", o->dcs[k - 1] ? o->dcs[k - 1] : "dc1");
		snprintf(nd->rack, sizeof(nd->rack), "%s",
		         o->racks[k - 1] ? o->racks[k - 1] : "rack1");
		if (mkdir(nd->dir, 0755) < 0 || write_config(c, k)) {
			say("cannot prepare %s", nd->dir);
			cluster_free(c);
			return -1;
		}
	}
	say("cluster of %d under %s, nodes %s.1..%s.%d, binary %s", c->n, c->root, c->net, c->net,
	    c->n, c->bin);
	if (!o->no_start) {
		for (int k = 1; k <= c->n; k++) {
			if (cluster_start_node(c, k)) {
				cluster_free(c);
				return -1;
			}
		}
	}
	*out = c;
	return 0;
}

/* In a child before exec: drop COLONNADE_* that the test's environment may hold. */
static void strip_colonnade_env(void)
{
	for (bool again = true; again;) {
		again = false;
		for (char **e = environ; *e; e++) {
			if (strncmp(*e, "COLONNADE_", 10) == 0) {
				char name[128];
				size_t l = strcspn(*e, "=");
				if (l >= sizeof(name))
					continue;
				memcpy(name, *e, l);
				name[l] = 0;
				unsetenv(name);
				again = true;
				break;
			}
		}
	}
}

int cluster_start_node(struct cluster *c, int k)
{
	struct cluster_node *nd = &c->nodes[k];
	if (nd->pid > 0) {
		say("node %d already running (pid %d)", k, (int)nd->pid);
		return -1;
	}
	pid_t parent = getpid();
	pid_t p = fork();
	if (p < 0) {
		say("fork: %s", strerror(errno));
		return -1;
	}
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		int fd = open(nd->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd < 0)
			_exit(1);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
		strip_colonnade_env(); /* the node reads only its file */
		if (chdir(nd->dir) < 0)
			_exit(1);
		execl(c->bin, c->bin, "server", "-c", nd->yaml, (char *)NULL);
		_exit(127);
	}
	nd->pid = p;
	nd->paused = false;
	nd->started_mono_ms = clock_mono_ms();
	return 0;
}

static int reap(struct cluster_node *nd, int timeout_ms, int *status)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;
	for (;;) {
		int st;
		pid_t r = waitpid(nd->pid, &st, WNOHANG);
		if (r == nd->pid) {
			if (status)
				*status = st;
			nd->pid = 0;
			nd->paused = false;
			return 0;
		}
		if (r < 0 && errno != EINTR) {
			nd->pid = 0;
			return -1;
		}
		if (clock_mono_ms() > deadline)
			return -1;
		sleep_ms(10);
	}
}

int cluster_kill(struct cluster *c, int k)
{
	struct cluster_node *nd = &c->nodes[k];
	if (nd->pid <= 0)
		return -1;
	kill(nd->pid, SIGKILL);
	return reap(nd, 10000, NULL);
}

int cluster_stop(struct cluster *c, int k, int timeout_ms, int *status)
{
	struct cluster_node *nd = &c->nodes[k];
	if (nd->pid <= 0)
		return -1;
	if (nd->paused)
		kill(nd->pid, SIGCONT);
	kill(nd->pid, SIGTERM);
	if (reap(nd, timeout_ms, status) == 0)
		return 0;
	say("node %d did not exit within %d ms of SIGTERM; killing it", k, timeout_ms);
	cluster_kill(c, k);
	return -1;
}

int cluster_signal(struct cluster *c, int k, int sig)
{
	struct cluster_node *nd = &c->nodes[k];
	return nd->pid > 0 && kill(nd->pid, sig) == 0 ? 0 : -1;
}

int cluster_wait_exit(struct cluster *c, int k, int timeout_ms, int *status)
{
	struct cluster_node *nd = &c->nodes[k];
	if (nd->pid <= 0)
		return -1;
	return reap(nd, timeout_ms, status);
}

int cluster_run(struct cluster *c, const char *const *args, const char *const *env, char *out,
                size_t cap, int timeout_ms, int *status)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/run.out", c->root);
	const char *argv[64];
	int n = 0;
	argv[n++] = c->bin;
	for (int i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t p = fork();
	if (p < 0)
		return -1;
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || chdir(c->root) < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		strip_colonnade_env();
		for (int i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(c->bin, (char *const *)argv);
		_exit(127);
	}
	struct cluster_node tmp = {.pid = p};
	int rc = reap(&tmp, timeout_ms, status);
	if (rc) {
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
	}
	out[0] = 0;
	FILE *f = fopen(path, "r");
	if (f) {
		size_t r = fread(out, 1, cap - 1, f);
		out[r] = 0;
		fclose(f);
	}
	return rc;
}

int cluster_pause(struct cluster *c, int k)
{
	struct cluster_node *nd = &c->nodes[k];
	if (nd->pid <= 0 || kill(nd->pid, SIGSTOP) < 0)
		return -1;
	nd->paused = true;
	return 0;
}

int cluster_resume(struct cluster *c, int k)
{
	struct cluster_node *nd = &c->nodes[k];
	if (nd->pid <= 0 || kill(nd->pid, SIGCONT) < 0)
		return -1;
	nd->paused = false;
	return 0;
}

int cluster_move(struct cluster *c, int k, const char *addr)
{
	struct cluster_node *nd = &c->nodes[k];
	if (nd->pid > 0) {
		say("node %d must be down to move", k);
		return -1;
	}
	snprintf(nd->addr, sizeof(nd->addr), "%s", addr);
	return write_config(c, k);
}

/* ---- nftables ---------------------------------------------------------------------------- */

static int ensure_nft(void)
{
	const char *const probe[] = {"nft", "--version", NULL};
	if (run_cmd(probe, false) == 0)
		return 0;
	say("nft not found: installing nftables with apt-get");
	const char *const upd[] = {"apt-get", "update", "-qq", NULL};
	const char *const inst[] = {"apt-get", "install", "-y", "-qq", "nftables", NULL};
	run_cmd(upd, true);
	if (run_cmd(inst, true) != 0 || run_cmd(probe, false) != 0) {
		say("cannot install nftables; partition tests need it (and root)");
		return -1;
	}
	return 0;
}

static int nft_script(struct cluster *c, const char *script)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/nft.rules", c->root);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(script, f);
	fclose(f);
	const char *const argv[] = {"nft", "-f", path, NULL};
	int rc = run_cmd(argv, true);
	if (rc != 0)
		say("nft -f %s failed (exit %d):\n%s", path, rc, script);
	return rc == 0 ? 0 : -1;
}

int cluster_partition(struct cluster *c, const int *a, int na, const int *b, int nb)
{
	if (ensure_nft())
		return -1;
	char *script = malloc(65536);
	if (!script)
		return -1;
	size_t off = 0;
	off += (size_t)snprintf(script + off, 65536 - off,
	                        "add table inet %s\n"
	                        "add chain inet %s out { type filter hook output priority 0 ; "
	                        "policy accept ; }\n",
	                        c->nft_table, c->nft_table);
	c->nft_active = true; /* from here on, cleanup deletes the table */
	for (int i = 0; i < na; i++) {
		for (int j = 0; j < nb; j++) {
			const char *x = c->nodes[a[i]].addr, *y = c->nodes[b[j]].addr;
			off += (size_t)snprintf(
			        script + off, 65536 - off,
			        "add rule inet %s out ip saddr %s ip daddr %s drop\n"
			        "add rule inet %s out ip saddr %s ip daddr %s drop\n",
			        c->nft_table, x, y, c->nft_table, y, x);
			if (off > 60000) {
				free(script);
				return -1;
			}
		}
	}
	int rc = nft_script(c, script);
	free(script);
	return rc;
}

int cluster_heal(struct cluster *c)
{
	if (!c->nft_active)
		return 0;
	c->nft_active = false;
	/* List first: deleting a table that is not there is not an error for us. */
	const char *const list[] = {"nft", "list", "table", "inet", c->nft_table, NULL};
	if (run_cmd(list, false) != 0)
		return 0;
	const char *const argv[] = {"nft", "delete", "table", "inet", c->nft_table, NULL};
	return run_cmd(argv, true) == 0 ? 0 : -1;
}

/* ---- admin queries ------------------------------------------------------------------------- */

struct json *cluster_admin(struct cluster *c, int k, const char *path)
{
	struct admin_target t;
	struct cerr err = {0};
	if (admin_target_parse(c->nodes[k].addr, ADMIN_DEFAULT_PORT, &t, &err))
		return NULL;
	snprintf(t.bind_host, sizeof(t.bind_host), "%s", c->client_addr);
	t.timeout_ms = 1000;
	struct json *j = NULL;
	if (admin_get_json(&t, path, &j, &err))
		return NULL;
	return j;
}

static void code_of(const struct json *nd, char code[3])
{
	const char *state = json_str(json_get(nd, "state"), "NORMAL");
	code[0] = json_bool(json_get(nd, "up"), false) ? 'U' : 'D';
	code[1] = !strcmp(state, "JOINING")   ? 'J'
	          : !strcmp(state, "LEAVING") ? 'L'
	          : !strcmp(state, "MOVING")  ? 'M'
	                                      : 'N';
	code[2] = 0;
}

int cluster_status_code(struct cluster *c, int k, const char *addr, char code[3])
{
	struct json *j = cluster_admin(c, k, "/v1/status");
	if (!j)
		return -1;
	strcpy(code, "??");
	const struct json *nodes = json_get(j, "nodes");
	for (size_t i = 0; i < json_len(nodes); i++) {
		const struct json *nd = json_at(nodes, i);
		if (!strcmp(json_str(json_get(nd, "address"), ""), addr))
			code_of(nd, code);
	}
	json_free(j);
	return 0;
}

static bool observer_ok(struct cluster *c, int k, const int *targets, int n_targets,
                        const char *want, char *why, size_t whylen)
{
	struct json *j = cluster_admin(c, k, "/v1/status");
	if (!j) {
		snprintf(why, whylen, "node %d (%s): admin endpoint did not answer", k,
		         c->nodes[k].addr);
		return false;
	}
	const struct json *nodes = json_get(j, "nodes");
	bool ok = true;
	if ((int)json_len(nodes) != c->n) {
		snprintf(why, whylen, "node %d lists %zu nodes, expected %d", k, json_len(nodes),
		         c->n);
		ok = false;
	}
	for (int t = 0; ok && t < (targets ? n_targets : c->n); t++) {
		int ti = targets ? targets[t] : t + 1;
		char code[3] = "??";
		for (size_t i = 0; i < json_len(nodes); i++) {
			const struct json *nd = json_at(nodes, i);
			if (!strcmp(json_str(json_get(nd, "address"), ""), c->nodes[ti].addr))
				code_of(nd, code);
		}
		if (strcmp(code, want) != 0) {
			snprintf(why, whylen, "node %d sees %s as %s, want %s", k,
			         c->nodes[ti].addr, code, want);
			ok = false;
		}
	}
	json_free(j);
	return ok;
}

int64_t cluster_wait_status(struct cluster *c, const int *observers, int n_obs, const int *targets,
                            int n_targets, const char *want, int timeout_ms)
{
	int64_t t0 = clock_mono_ms();
	char why[512] = "";
	for (;;) {
		bool all = true;
		for (int o = 0; all && o < (observers ? n_obs : c->n); o++) {
			int k = observers ? observers[o] : o + 1;
			if (c->nodes[k].pid <= 0 || c->nodes[k].paused) {
				if (observers) {
					snprintf(why, sizeof(why), "observer %d is not running", k);
					all = false;
				}
				continue;
			}
			all = observer_ok(c, k, targets, n_targets, want, why, sizeof(why));
		}
		int64_t el = clock_mono_ms() - t0;
		if (all)
			return el;
		if (el > timeout_ms) {
			say("timed out after %d ms waiting for %s: %s", timeout_ms, want, why);
			cluster_mark_failed(c);
			cluster_dump_logs(c, 0, 40);
			return -1;
		}
		sleep_ms(20);
	}
}

int64_t cluster_wait_all_up(struct cluster *c, int timeout_ms)
{
	return cluster_wait_status(c, NULL, 0, NULL, 0, "UN", timeout_ms);
}

int64_t cluster_wait_admin(struct cluster *c, int k, int timeout_ms)
{
	int64_t t0 = clock_mono_ms();
	for (;;) {
		struct json *j = cluster_admin(c, k, "/v1/info");
		if (j) {
			json_free(j);
			return clock_mono_ms() - t0;
		}
		if (c->nodes[k].pid > 0 &&
		    waitpid(c->nodes[k].pid, NULL, WNOHANG) == c->nodes[k].pid) {
			c->nodes[k].pid = 0;
			say("node %d exited during start-up", k);
			cluster_mark_failed(c);
			cluster_dump_logs(c, k, 40);
			return -1;
		}
		if (clock_mono_ms() - t0 > timeout_ms) {
			say("node %d: admin endpoint not up after %d ms", k, timeout_ms);
			cluster_mark_failed(c);
			cluster_dump_logs(c, k, 40);
			return -1;
		}
		sleep_ms(10);
	}
}

int cluster_info(struct cluster *c, int k, char host_id[37], int64_t *generation, char tokens[][24],
                 int *n_tokens, int max_tokens)
{
	struct json *j = cluster_admin(c, k, "/v1/info");
	if (!j)
		return -1;
	snprintf(host_id, 37, "%s", json_str(json_get(j, "host_id"), ""));
	*generation = json_int(json_get(j, "generation"), 0);
	const struct json *t = json_get(j, "tokens");
	int n = 0;
	for (size_t i = 0; i < json_len(t) && n < max_tokens; i++)
		snprintf(tokens[n++], 24, "%s", json_str(json_at(t, i), ""));
	if (n_tokens)
		*n_tokens = n;
	json_free(j);
	return 0;
}

int cluster_send_raw(struct cluster *c, int k, const void *bytes, size_t len, int linger_ms)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in src = {.sin_family = AF_INET};
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(7000)};
	inet_pton(AF_INET, c->client_addr, &src.sin_addr);
	inet_pton(AF_INET, c->nodes[k].addr, &dst.sin_addr);
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		say("raw connect to %s:7000: %s", c->nodes[k].addr, strerror(errno));
		close(fd);
		return -1;
	}
	ssize_t w = send(fd, bytes, len, MSG_NOSIGNAL);
	if (linger_ms > 0)
		sleep_ms(linger_ms);
	close(fd);
	return w == (ssize_t)len ? 0 : -1;
}

int cluster_log_count(struct cluster *c, int k, const char *needle)
{
	FILE *f = fopen(c->nodes[k].log, "r");
	if (!f)
		return 0;
	char line[4096];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

int cluster_wait_log(struct cluster *c, int k, const char *needle, int count, int timeout_ms)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;
	int n;
	while ((n = cluster_log_count(c, k, needle)) < count && clock_mono_ms() < deadline)
		sleep_ms(20);
	return n;
}

/* ---- reporting and cleanup ----------------------------------------------------------------- */

void cluster_mark_failed(struct cluster *c)
{
	c->failed = true;
}

static void tail_file(const char *path, int lines)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "  (no log at %s)\n", path);
		return;
	}
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	long from = size > 65536 ? size - 65536 : 0;
	fseek(f, from, SEEK_SET);
	char *buf = malloc(65537);
	if (!buf) {
		fclose(f);
		return;
	}
	size_t n = fread(buf, 1, 65536, f);
	buf[n] = 0;
	fclose(f);
	int seen = 0;
	size_t start = n;
	while (start > 0) {
		if (buf[start - 1] == '\n' && start != n && ++seen > lines)
			break;
		start--;
	}
	fprintf(stderr, "%s", buf + start);
	free(buf);
}

void cluster_dump_logs(struct cluster *c, int k, int lines)
{
	for (int i = 1; i <= c->n; i++) {
		if (k && i != k)
			continue;
		fprintf(stderr, "----- node %d (%s, pid %d) last %d lines of %s -----\n", i,
		        c->nodes[i].addr, (int)c->nodes[i].pid, lines, c->nodes[i].log);
		tail_file(c->nodes[i].log, lines);
	}
}

static int rm_rf(const char *path)
{
	const char *const argv[] = {"rm", "-rf", path, NULL};
	return run_cmd(argv, false);
}

void cluster_free(struct cluster *c)
{
	if (!c)
		return;
	for (int k = 1; k <= c->n; k++)
		if (c->nodes[k].pid > 0)
			cluster_kill(c, k);
	cluster_heal(c);
	live_remove(c);
	const char *keep = getenv("COLONNADE_KEEP");
	if (c->failed) {
		cluster_dump_logs(c, 0, 30);
		say("test failed: logs and data kept under %s", c->root);
	} else if (keep && !strcmp(keep, "1")) {
		say("COLONNADE_KEEP=1: kept %s", c->root);
	} else {
		rm_rf(c->root);
	}
	free(c);
}
