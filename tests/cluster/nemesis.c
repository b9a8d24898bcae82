/*
 * nemesis.c — a seeded randomized fault test, Jepsen's way (docs/NEMESIS.md).
 *
 * A real cluster (--nodes 3 or 5, RF 3).  Client threads write keys at QUORUM
 * (each key owned by one thread, versions 1, 2, ... with increasing client
 * timestamps) and read keys whose writes were acknowledged back at QUORUM
 * through another coordinator than the one that acknowledged the write.  No
 * request is ever retried; every outcome is recorded: ok, failed (Unavailable:
 * not applied) or indeterminate (timeout, connection lost, any other error).
 * Meanwhile the nemesis, drawn from the seed, SIGKILLs and restarts, SIGSTOPs
 * and resumes, or partitions (nftables) a minority of the nodes, one fault at a
 * time.  Then it heals everything, waits until no node has a pending hint,
 * runs `colonnade repair -pr` on every node and checks:
 *
 *   (c) every replica identical: each key's replicas (/v1/endpoints) hold the
 *       same value with the same write time in their own store (/v1/dump) —
 *       checked first, before any read could repair them;
 *   (a) no acknowledged write lost: a read at ALL returns at least the highest
 *       acknowledged version, never a version that failed (Unavailable) or one
 *       never sent;
 *   (b) no QUORUM read during the run returned a version older than the highest
 *       one acknowledged before the read began;
 *   (d) no node died by itself (a process the nemesis did not kill exited).
 *
 * Usage (COLONNADE_BIN and COLONNADE_TEST_NET as for every cluster test):
 *   nemesis [--nodes 3] [--seed 1] [--seeds 1] [--seconds 30] [--threads 3]
 * runs seeds seed .. seed+seeds-1, one fresh cluster each, prints one line of
 * figures per seed and, for a failing seed, the command that replays its
 * fault schedule.  Exit status 0 only if every seed passed.
 */
#include "tests/cluster/harness/cluster.h"

#include "cli/lib/cqlclient.h"
#include "core/cqlproto.h"
#include "core/json.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS  16
#define MAX_VERSIONS 64 /* versions of one key at most (a failed-version bit each) */
#define CQL_PORT     9042
#define RF           3

struct opts {
	int nodes, threads, seconds, seeds;
	uint64_t seed;
	bool no_repair, no_hints; /* to see the checks fail: replicas left to diverge */
};

/* One key: written by one thread only, so its versions are sent in order. */
struct key {
	int64_t k;
	int next;        /* the next version to write (1-based) */
	int acked;       /* highest acknowledged version, 0 none */
	int sent;        /* highest version sent (acknowledged or indeterminate) */
	uint64_t failed; /* bit v-1: version v failed (Unavailable: not applied) */
	int acked_coord; /* node that acknowledged `acked` */
};

struct stats {
	long writes_ok, writes_failed, writes_indeterminate;
	long reads_ok, reads_failed;
	long stale, lost, divergent, bogus, crashes;
	long faults_kill, faults_pause, faults_partition;
	long keys;
	bool repair_ok, hints_ok;
};

struct run {
	struct opts o;
	uint64_t seed;
	struct cluster *c;
	pthread_mutex_t mu;
	struct key *keys;
	size_t n_keys, cap_keys;
	struct stats st;
	atomic_bool stop;
	atomic_int_least64_t last_ts;
};

/* ---- randomness ---------------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* A generator state for stream `stream` of seed `seed`: streams of nearby seeds unrelated. */
static uint64_t rng_for(uint64_t seed, uint64_t stream)
{
	uint64_t s = seed ^ 0xD1B54A32D192ED03ull;
	uint64_t a = splitmix(&s);
	s = a ^ (stream * 0xA24BAED4963EE407ull);
	return splitmix(&s);
}

static int below(uint64_t *s, int n)
{
	return (int)(splitmix(s) % (uint64_t)n);
}

static int64_t now_ms(void)
{
	return cluster_now_ms();
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* A client timestamp above every one handed out before (µs). */
static int64_t next_ts(struct run *r)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	int64_t want = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	int64_t prev = atomic_load(&r->last_ts);
	for (;;) {
		int64_t ts = want > prev ? want : prev + 1;
		if (atomic_compare_exchange_weak(&r->last_ts, &prev, ts))
			return ts;
	}
}

/* ---- clients --------------------------------------------------------------------------------- */

struct client {
	struct run *r;
	int id;
	uint64_t rng;
	struct cqlclient *conn[CLUSTER_MAX_NODES + 1];
};

static struct cqlclient *conn_to(struct client *cl, int k)
{
	if (cl->conn[k])
		return cl->conn[k];
	struct cqlconn_opts o;
	memset(&o, 0, sizeof(o));
	o.bind_host = cl->r->c->client_addr;
	o.connect_timeout_ms = 1000;
	o.request_timeout_ms = 6000; /* above the servers' 2 s timeouts: their answer wins */
	struct cerr e = {0};
	if (cqlclient_connect(cl->r->c->nodes[k].addr, CQL_PORT, &o, &cl->conn[k], &e))
		cl->conn[k] = NULL;
	return cl->conn[k];
}

static void conn_drop(struct client *cl, int k)
{
	cqlclient_free(cl->conn[k]);
	cl->conn[k] = NULL;
}

enum outcome { OK, FAILED, INDETERMINATE };

/*
 * One statement, never retried.  OK with *res (caller frees), FAILED when it
 * certainly did not apply (no connection, so not sent; or Unavailable),
 * INDETERMINATE otherwise.
 */
static enum outcome run_once(struct client *cl, int k, uint16_t level, int64_t ts, const char *q,
                             struct cqlresult **res)
{
	*res = NULL;
	struct cqlclient *cc = conn_to(cl, k);
	if (!cc)
		return FAILED;
	struct cql_qparams p;
	cql_qparams_init(&p);
	p.consistency = level;
	p.timestamp = ts;
	struct cerr e = {0};
	struct cqlresult *out = NULL;
	if (cqlclient_query(cc, q, &p, &out, &e)) {
		conn_drop(cl, k);
		return INDETERMINATE;
	}
	if (out->kind == CQLRES_ERROR) {
		enum outcome o = out->error.code == 0x1000 ? FAILED : INDETERMINATE;
		cqlresult_free(out);
		return o;
	}
	*res = out;
	return OK;
}

/* A new key of `thread`; its index, or -1 (out of memory). */
static long new_key(struct run *r, int thread, int64_t seq)
{
	pthread_mutex_lock(&r->mu);
	if (r->n_keys == r->cap_keys) {
		size_t nc = r->cap_keys ? r->cap_keys * 2 : 1024;
		struct key *v = realloc(r->keys, nc * sizeof(*v));
		if (!v) {
			pthread_mutex_unlock(&r->mu);
			return -1;
		}
		r->keys = v;
		r->cap_keys = nc;
	}
	struct key *kk = &r->keys[r->n_keys];
	memset(kk, 0, sizeof(*kk));
	kk->k = (int64_t)thread << 32 | seq;
	kk->next = 1;
	long idx = (long)r->n_keys++;
	pthread_mutex_unlock(&r->mu);
	return idx;
}

static void do_write(struct client *cl, size_t idx)
{
	struct run *r = cl->r;
	pthread_mutex_lock(&r->mu);
	struct key *kk = &r->keys[idx];
	int64_t key = kk->k;
	int v = kk->next++;
	pthread_mutex_unlock(&r->mu);
	int coord = 1 + below(&cl->rng, r->c->n);
	char q[160];
	snprintf(q, sizeof(q), "INSERT INTO nem.t (k, v) VALUES (%" PRId64 ", %d)", key, v);
	struct cqlresult *res;
	/* sent as soon as the request may reach the node */
	pthread_mutex_lock(&r->mu);
	if (r->keys[idx].sent < v)
		r->keys[idx].sent = v;
	pthread_mutex_unlock(&r->mu);
	enum outcome o = run_once(cl, coord, CL_QUORUM, next_ts(r), q, &res);
	cqlresult_free(res);
	pthread_mutex_lock(&r->mu);
	kk = &r->keys[idx];
	if (o == OK) {
		r->st.writes_ok++;
		if (v > kk->acked) {
			kk->acked = v;
			kk->acked_coord = coord;
		}
	} else if (o == FAILED) {
		r->st.writes_failed++;
		kk->failed |= 1ull << (v - 1);
	} else {
		r->st.writes_indeterminate++;
	}
	pthread_mutex_unlock(&r->mu);
}

/* The version a result holds: 0 for no row, -1 if it is not a result of one int. */
static int version_of(const struct cqlresult *res)
{
	if (res->kind != CQLRES_ROWS)
		return -1;
	if (res->n_rows == 0)
		return 0;
	const struct cql_slice *s = cqlresult_cell(res, 0, 0);
	if (s->len != 4)
		return -1;
	const uint8_t *p = (const uint8_t *)s->p;
	return (int)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

static void do_read(struct client *cl)
{
	struct run *r = cl->r;
	pthread_mutex_lock(&r->mu);
	if (r->n_keys == 0) {
		pthread_mutex_unlock(&r->mu);
		return;
	}
	size_t idx = (size_t)below(&cl->rng, (int)r->n_keys);
	struct key *kk = &r->keys[idx];
	int64_t key = kk->k;
	int before = kk->acked; /* acknowledged before this read begins */
	int avoid = kk->acked_coord;
	pthread_mutex_unlock(&r->mu);
	if (before == 0)
		return;
	int coord = 1 + below(&cl->rng, r->c->n);
	if (coord == avoid)
		coord = coord % r->c->n + 1;
	char q[128];
	snprintf(q, sizeof(q), "SELECT v FROM nem.t WHERE k = %" PRId64, key);
	struct cqlresult *res;
	enum outcome o = run_once(cl, coord, CL_QUORUM, CQL_NO_TIMESTAMP, q, &res);
	int got = o == OK ? version_of(res) : -1;
	cqlresult_free(res);
	pthread_mutex_lock(&r->mu);
	if (o != OK) {
		r->st.reads_failed++;
	} else {
		r->st.reads_ok++;
		if (got < before) {
			r->st.stale++;
			fprintf(stderr,
			        "nemesis: STALE read: key %" PRId64 " through node %d returned "
			        "version %d, version %d was acknowledged (by node %d) before the "
			        "read "
			        "began\n",
			        key, coord, got, before, avoid);
		}
	}
	pthread_mutex_unlock(&r->mu);
}

static void *client_main(void *arg)
{
	struct client *cl = arg;
	struct run *r = cl->r;
	int64_t seq = 0;
	size_t mine[256];
	int n_mine = 0;
	while (!atomic_load(&r->stop)) {
		/* ~100 operations per second per thread: the checks stay affordable. */
		sleep_ms(5 + below(&cl->rng, 10));
		int dice = below(&cl->rng, 10);
		if (dice < 4) {
			do_read(cl);
		} else if (dice < 7 || n_mine == 0) {
			long nk = new_key(r, cl->id, ++seq);
			if (nk < 0)
				break;
			size_t idx = (size_t)nk;
			if (n_mine < 256)
				mine[n_mine++] = idx;
			else
				mine[below(&cl->rng, 256)] = idx;
			do_write(cl, idx);
		} else {
			size_t idx = mine[below(&cl->rng, n_mine)];
			pthread_mutex_lock(&r->mu);
			bool room = r->keys[idx].next <= MAX_VERSIONS;
			pthread_mutex_unlock(&r->mu);
			if (room)
				do_write(cl, idx);
		}
	}
	for (int k = 1; k <= r->c->n; k++)
		conn_drop(cl, k);
	return NULL;
}

/* ---- the nemesis ----------------------------------------------------------------------------- */

/* A process the nemesis did not stop has exited: count it, say how, start it again. */
static void check_crashes(struct run *r)
{
	struct cluster *c = r->c;
	for (int k = 1; k <= c->n; k++) {
		if (c->nodes[k].pid <= 0)
			continue;
		int st = 0;
		if (waitpid(c->nodes[k].pid, &st, WNOHANG) != c->nodes[k].pid)
			continue;
		r->st.crashes++;
		fprintf(stderr, "nemesis: CRASH: node %d (pid %d) died by itself: %s %d\n", k,
		        (int)c->nodes[k].pid, WIFSIGNALED(st) ? "signal" : "exit status",
		        WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		cluster_dump_logs(c, k, 30);
		c->nodes[k].pid = 0;
		c->nodes[k].paused = false;
		cluster_start_node(c, k);
	}
}

static void pick_minority(struct run *r, uint64_t *rng, int *set, int *n)
{
	int max = (r->c->n - 1) / 2;
	*n = 1 + below(rng, max);
	int all[CLUSTER_MAX_NODES];
	for (int k = 0; k < r->c->n; k++)
		all[k] = k + 1;
	for (int i = 0; i < *n; i++) {
		int j = i + below(rng, r->c->n - i);
		int t = all[i];
		all[i] = all[j];
		all[j] = t;
		set[i] = all[i];
	}
}

static void fmt_set(const int *set, int n, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = 0;
	for (int i = 0; i < n && o < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%s%d", i ? "," : "", set[i]);
}

static void nemesis(struct run *r, int64_t deadline)
{
	struct cluster *c = r->c;
	uint64_t rng = rng_for(r->seed, 0);
	int64_t t0 = now_ms();
	while (now_ms() < deadline) {
		sleep_ms(1000 + below(&rng, 2000));
		check_crashes(r);
		if (now_ms() >= deadline)
			break;
		int kind = below(&rng, 3);
		int set[CLUSTER_MAX_NODES], n = 0;
		pick_minority(r, &rng, set, &n);
		int64_t dur = 1000 + below(&rng, 5000);
		char s[64];
		fmt_set(set, n, s, sizeof(s));
		static const char *const names[] = {"SIGKILL + restart", "SIGSTOP + SIGCONT",
		                                    "partition"};
		fprintf(stderr, "nemesis: t=%.1fs %s {%s} for %.1f s\n", (now_ms() - t0) / 1000.0,
		        names[kind], s, dur / 1000.0);
		if (kind == 0) {
			for (int i = 0; i < n; i++)
				cluster_kill(c, set[i]);
			r->st.faults_kill++;
			sleep_ms(dur);
			for (int i = 0; i < n; i++)
				cluster_start_node(c, set[i]);
			for (int i = 0; i < n; i++) {
				if (cluster_wait_admin(c, set[i], 30000) >= 0 ||
				    c->nodes[set[i]].pid)
					continue;
				r->st.crashes++; /* it exited while starting */
				fprintf(stderr, "nemesis: CRASH: node %d exited while restarting\n",
				        set[i]);
				cluster_start_node(c, set[i]);
			}
		} else if (kind == 1) {
			for (int i = 0; i < n; i++)
				cluster_pause(c, set[i]);
			r->st.faults_pause++;
			sleep_ms(dur);
			for (int i = 0; i < n; i++)
				cluster_resume(c, set[i]);
		} else {
			int rest[CLUSTER_MAX_NODES], nr = 0;
			for (int k = 1; k <= c->n; k++) {
				bool in = false;
				for (int i = 0; i < n; i++)
					in |= set[i] == k;
				if (!in)
					rest[nr++] = k;
			}
			cluster_partition(c, set, n, rest, nr);
			r->st.faults_partition++;
			sleep_ms(dur);
			cluster_heal(c);
		}
	}
}

/* ---- checks ---------------------------------------------------------------------------------- */

static int64_t pending_hints(struct cluster *c, int k)
{
	struct json *j = cluster_admin(c, k, "/v1/hints");
	if (!j)
		return -1;
	int64_t n = json_int(json_get(j, "pending"), -1);
	json_free(j);
	return n;
}

/* Hints can still be written after the heal: a coordinator that met QUORUM without a
 * replica partitioned at the end waits for that replica until its write timeout (2 s) and
 * then hints it.  So "none pending" must hold for longer than that, not at one instant. */
#define HINTS_QUIET_MS 3000

static bool wait_hints(struct run *r, int timeout_ms)
{
	int64_t t0 = now_ms(), quiet_since = 0;
	for (;;) {
		int64_t total = 0;
		for (int k = 1; k <= r->c->n; k++) {
			int64_t p = pending_hints(r->c, k);
			total += p < 0 ? 1 : p;
		}
		if (total != 0)
			quiet_since = 0;
		else if (!quiet_since)
			quiet_since = now_ms();
		else if (now_ms() - quiet_since >= HINTS_QUIET_MS)
			break;
		if (now_ms() - t0 > timeout_ms) {
			fprintf(stderr, "nemesis: hints still pending after %d ms\n", timeout_ms);
			return false;
		}
		sleep_ms(250);
	}
	char out[4096];
	for (int k = 1; k <= r->c->n; k++) {
		const char *args[] = {"listpendinghints", "-h", r->c->nodes[k].addr, NULL};
		int st = -1;
		if (cluster_run(r->c, args, NULL, out, sizeof(out), 20000, &st) || st != 0 ||
		    !strstr(out, "does not have any pending hints")) {
			fprintf(stderr, "nemesis: node %d listpendinghints: %s\n", k, out);
			return false;
		}
	}
	return true;
}

static bool repair_all(struct run *r)
{
	bool ok = true;
	static char out[65536];
	for (int k = 1; k <= r->c->n; k++) {
		const char *args[] = {"repair", "nem", "-pr", "-h", r->c->nodes[k].addr, NULL};
		int st = -1;
		int rc;
		int64_t t0 = now_ms();
		/* A background repair session of the node runs first: ours starts after it. */
		while ((rc = cluster_run(r->c, args, NULL, out, sizeof(out), 300000, &st)) == 0 &&
		       st != 0 && strstr(out, "one at a time") && now_ms() - t0 < 300000)
			sleep_ms(1000);
		if (rc || st != 0) {
			fprintf(stderr,
			        "nemesis: colonnade repair on node %d failed (status %d): %s\n", k,
			        st, out);
			ok = false;
		}
	}
	return ok;
}

/* What node k stores of key: found, the cell v's value text and write time. */
struct stored {
	bool found;
	char value[32];
	int64_t tstamp;
};

static int dump_key(struct cluster *c, int k, int64_t key, struct stored *s)
{
	char path[160];
	snprintf(path, sizeof(path), "/v1/dump?keyspace=nem&table=t&key=%" PRId64, key);
	struct json *j = cluster_admin(c, k, path);
	if (!j)
		return -1;
	memset(s, 0, sizeof(*s));
	const struct json *rows = json_get(j, "rows");
	for (size_t i = 0; i < json_len(rows); i++) {
		const struct json *cells = json_get(json_at(rows, i), "cells");
		for (size_t m = 0; m < json_len(cells); m++) {
			const struct json *cell = json_at(cells, m);
			if (strcmp(json_str(json_get(cell, "name"), ""), "v") != 0)
				continue;
			s->found = true;
			snprintf(s->value, sizeof(s->value), "%s",
			         json_str(json_get(cell, "value"), ""));
			s->tstamp = json_int(json_get(cell, "tstamp"), -1);
		}
	}
	json_free(j);
	return 0;
}

static int replicas_of(struct cluster *c, int64_t key, int *nodes)
{
	if (c->n == RF) {
		for (int k = 1; k <= c->n; k++)
			nodes[k - 1] = k;
		return c->n;
	}
	char path[160];
	snprintf(path, sizeof(path), "/v1/endpoints?keyspace=nem&table=t&key=%" PRId64, key);
	struct json *j = cluster_admin(c, 1, path);
	if (!j)
		return -1;
	const struct json *eps = json_get(j, "endpoints");
	int n = 0;
	for (size_t i = 0; i < json_len(eps) && n < RF; i++)
		for (int k = 1; k <= c->n; k++)
			if (!strcmp(c->nodes[k].addr, json_str(json_at(eps, i), "")))
				nodes[n++] = k;
	json_free(j);
	return n;
}

/* (c): every replica of every key stores the same value with the same write time. */
static void check_replicas(struct run *r)
{
	for (size_t i = 0; i < r->n_keys; i++) {
		int64_t key = r->keys[i].k;
		int rep[RF];
		int n = replicas_of(r->c, key, rep);
		struct stored first, s;
		bool diverged = n != RF;
		for (int j = 0; j < n && !diverged; j++) {
			if (dump_key(r->c, rep[j], key, j ? &s : &first)) {
				diverged = true;
				break;
			}
			if (j && (s.found != first.found || s.tstamp != first.tstamp ||
			          strcmp(s.value, first.value) != 0)) {
				diverged = true;
				fprintf(stderr,
				        "nemesis: DIVERGENT: key %" PRId64 ": node %d stores %s "
				        "(ts %" PRId64 "), node %d stores %s (ts %" PRId64 ")\n",
				        key, rep[0], first.found ? first.value : "nothing",
				        first.tstamp, rep[j], s.found ? s.value : "nothing",
				        s.tstamp);
			}
		}
		if (diverged)
			r->st.divergent++;
	}
}

/* (a): a read at ALL returns the highest acknowledged version or a later one that was sent. */
static void check_durable(struct run *r)
{
	struct client cl;
	memset(&cl, 0, sizeof(cl));
	cl.r = r;
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key *kk = &r->keys[i];
		char q[128];
		snprintf(q, sizeof(q), "SELECT v FROM nem.t WHERE k = %" PRId64, kk->k);
		struct cqlresult *res;
		int coord = 1 + (int)(i % (size_t)r->c->n);
		enum outcome o = run_once(&cl, coord, CL_ALL, CQL_NO_TIMESTAMP, q, &res);
		int got = o == OK ? version_of(res) : -2;
		cqlresult_free(res);
		if (got == -2) {
			fprintf(stderr, "nemesis: LOST?: key %" PRId64 ": the read at ALL failed\n",
			        kk->k);
			r->st.lost++;
		} else if (got < kk->acked) {
			fprintf(stderr,
			        "nemesis: LOST: key %" PRId64
			        ": version %d acknowledged, a read at "
			        "ALL returns %d\n",
			        kk->k, kk->acked, got);
			r->st.lost++;
		} else if (got > kk->sent || (got > 0 && (kk->failed >> (got - 1) & 1))) {
			fprintf(stderr,
			        "nemesis: BOGUS: key %" PRId64 ": a read at ALL returns version %d "
			        "(highest sent %d, %s)\n",
			        kk->k, got, kk->sent,
			        got > 0 && (kk->failed >> (got - 1) & 1) ? "that write failed"
			                                                 : "never sent");
			r->st.bogus++;
		}
	}
	for (int k = 1; k <= r->c->n; k++)
		conn_drop(&cl, k);
}

/* ---- one seed -------------------------------------------------------------------------------- */

static bool setup_schema(struct run *r)
{
	struct client cl;
	memset(&cl, 0, sizeof(cl));
	cl.r = r;
	const char *ddl[] = {
	        "CREATE KEYSPACE nem WITH replication = {'class': 'SimpleStrategy', "
	        "'replication_factor': 3}",
	        "CREATE TABLE nem.t (k bigint PRIMARY KEY, v int)",
	};
	bool ok = true;
	for (size_t i = 0; i < 2 && ok; i++) {
		struct cqlresult *res = NULL;
		int64_t t0 = now_ms();
		while (run_once(&cl, 1, CL_ONE, CQL_NO_TIMESTAMP, ddl[i], &res) != OK) {
			if (now_ms() - t0 > 30000) {
				fprintf(stderr, "nemesis: cannot run %s\n", ddl[i]);
				ok = false;
				break;
			}
			sleep_ms(200);
		}
		cqlresult_free(res);
	}
	for (int k = 1; k <= r->c->n; k++)
		conn_drop(&cl, k);
	return ok;
}

static void replay_line(const struct run *r, const char *argv0)
{
	const char *flags = r->o.no_repair && r->o.no_hints ? " --no-repair --no-hints"
	                    : r->o.no_repair                ? " --no-repair"
	                    : r->o.no_hints                 ? " --no-hints"
	                                                    : "";
	const char *bin = getenv("COLONNADE_BIN"), *net = getenv("COLONNADE_TEST_NET");
	fprintf(stderr,
	        "nemesis: replay: COLONNADE_BIN=%s COLONNADE_TEST_NET=%s %s --nodes %d --seed "
	        "%" PRIu64 " --seconds %d --threads %d%s\n",
	        bin ? bin : "build/cli/colonnade", net ? net : "127.0.0", argv0, r->o.nodes,
	        r->seed, r->o.seconds, r->o.threads, flags);
}

static bool run_seed(struct run *r, const char *argv0)
{
	struct cluster_opts co;
	memset(&co, 0, sizeof(co));
	co.n = r->o.nodes;
	co.extra_yaml = r->o.no_hints
	                        ? "write_request_timeout: 2000ms\nread_request_timeout: "
	                          "2000ms\nhinted_handoff_enabled: false\n"
	                        : "write_request_timeout: 2000ms\nread_request_timeout: 2000ms\n";
	if (cluster_new(&co, &r->c)) {
		fprintf(stderr, "nemesis: cannot create the cluster\n");
		return false;
	}
	struct cluster *c = r->c;
	bool ok = cluster_wait_all_up(c, 60000) >= 0 && setup_schema(r);
	if (!ok) {
		cluster_mark_failed(c);
		cluster_free(c);
		return false;
	}
	pthread_t th[MAX_THREADS];
	struct client cls[MAX_THREADS];
	memset(cls, 0, sizeof(cls));
	atomic_store(&r->stop, false);
	int64_t deadline = now_ms() + (int64_t)r->o.seconds * 1000;
	for (int i = 0; i < r->o.threads; i++) {
		cls[i].r = r;
		cls[i].id = i + 1;
		cls[i].rng = rng_for(r->seed, 1 + (uint64_t)i);
		pthread_create(&th[i], NULL, client_main, &cls[i]);
	}
	nemesis(r, deadline);
	atomic_store(&r->stop, true);
	for (int i = 0; i < r->o.threads; i++)
		pthread_join(th[i], NULL);
	/* Heal everything. */
	cluster_heal(c);
	for (int k = 1; k <= c->n; k++)
		if (c->nodes[k].paused)
			cluster_resume(c, k);
	check_crashes(r);
	r->st.keys = (long)r->n_keys;
	bool up = cluster_wait_all_up(c, 120000) >= 0;
	r->st.hints_ok = up && wait_hints(r, 180000);
	r->st.repair_ok = up && (r->o.no_repair || repair_all(r));
	if (up) {
		check_replicas(r); /* (c) before (a): a read at ALL repairs what it reads */
		check_durable(r);
	}
	check_crashes(r);
	const struct stats *s = &r->st;
	ok = up && s->hints_ok && s->repair_ok && !s->lost && !s->stale && !s->divergent &&
	     !s->bogus && !s->crashes;
	printf("nemesis nodes=%d seed=%" PRIu64 " seconds=%d: writes ok %ld failed %ld "
	       "indeterminate %ld; keys %ld; reads checked %ld (failed %ld); faults kill %ld "
	       "pause %ld partition %ld; hints %s; repair %s; lost %ld stale %ld divergent %ld "
	       "bogus %ld crashes %ld: %s\n",
	       r->o.nodes, r->seed, r->o.seconds, s->writes_ok, s->writes_failed,
	       s->writes_indeterminate, s->keys, s->reads_ok, s->reads_failed, s->faults_kill,
	       s->faults_pause, s->faults_partition, s->hints_ok ? "delivered" : "NOT delivered",
	       r->o.no_repair ? "not run"
	       : s->repair_ok ? "ok"
	                      : "FAILED",
	       s->lost, s->stale, s->divergent, s->bogus, s->crashes, ok ? "PASS" : "FAIL");
	fflush(stdout);
	if (!ok) {
		replay_line(r, argv0);
		cluster_mark_failed(c);
	}
	cluster_free(c);
	r->c = NULL;
	return ok;
}

static int usage(const char *argv0)
{
	fprintf(stderr,
	        "usage: %s [--nodes 3|5] [--seed N] [--seeds K] [--seconds S] [--threads T] "
	        "[--no-repair] [--no-hints]\n",
	        argv0);
	return 2;
}

int main(int argc, char **argv)
{
	struct opts o = {.nodes = 3, .threads = 3, .seconds = 30, .seeds = 1, .seed = 1};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-repair")) {
			o.no_repair = true;
			continue;
		}
		if (!strcmp(argv[i], "--no-hints")) {
			o.no_hints = true;
			continue;
		}
		if (i + 1 >= argc)
			return usage(argv[0]);
		long long v = strtoll(argv[i + 1], NULL, 10);
		if (!strcmp(argv[i], "--nodes"))
			o.nodes = (int)v;
		else if (!strcmp(argv[i], "--seed"))
			o.seed = (uint64_t)v;
		else if (!strcmp(argv[i], "--seeds"))
			o.seeds = (int)v;
		else if (!strcmp(argv[i], "--seconds"))
			o.seconds = (int)v;
		else if (!strcmp(argv[i], "--threads"))
			o.threads = (int)v;
		else
			return usage(argv[0]);
		i++;
	}
	if (o.nodes < 3 || o.nodes > CLUSTER_MAX_NODES || o.threads < 1 ||
	    o.threads > MAX_THREADS || o.seconds < 1 || o.seeds < 1)
		return usage(argv[0]);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * A session of our own: when the shell that started us in the background exits,
	 * the kernel sends SIGHUP to a process group it orphans that holds a stopped
	 * process — a SIGSTOPped node would die of it and count as a crash.
	 */
	if (getpgrp() != getpid())
		(void)setsid();
	int failed = 0;
	struct stats t;
	memset(&t, 0, sizeof(t));
	for (int i = 0; i < o.seeds; i++) {
		struct run *r = calloc(1, sizeof(*r));
		if (!r)
			return 1;
		r->o = o;
		r->seed = o.seed + (uint64_t)i;
		pthread_mutex_init(&r->mu, NULL);
		failed += !run_seed(r, argv[0]);
		const struct stats *s = &r->st;
		t.writes_ok += s->writes_ok;
		t.writes_failed += s->writes_failed;
		t.writes_indeterminate += s->writes_indeterminate;
		t.keys += s->keys;
		t.reads_ok += s->reads_ok;
		t.reads_failed += s->reads_failed;
		t.faults_kill += s->faults_kill;
		t.faults_pause += s->faults_pause;
		t.faults_partition += s->faults_partition;
		t.lost += s->lost;
		t.stale += s->stale;
		t.divergent += s->divergent;
		t.bogus += s->bogus;
		t.crashes += s->crashes;
		pthread_mutex_destroy(&r->mu);
		free(r->keys);
		free(r);
	}
	printf("nemesis total, %d nodes, %d seeds x %d s: %d passed; writes acknowledged %ld "
	       "(failed %ld, indeterminate %ld) on %ld keys; QUORUM reads checked %ld (failed "
	       "%ld); "
	       "faults %ld (kill %ld, pause %ld, partition %ld); lost %ld stale %ld divergent %ld "
	       "bogus %ld crashes %ld\n",
	       o.nodes, o.seeds, o.seconds, o.seeds - failed, t.writes_ok, t.writes_failed,
	       t.writes_indeterminate, t.keys, t.reads_ok, t.reads_failed,
	       t.faults_kill + t.faults_pause + t.faults_partition, t.faults_kill, t.faults_pause,
	       t.faults_partition, t.lost, t.stale, t.divergent, t.bogus, t.crashes);
	return failed ? 1 : 0;
}
