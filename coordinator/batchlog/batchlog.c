/*
 * batchlog.c — the batchlog (batchlog.h): logging a LOGGED batch on other
 * nodes before its mutations are sent, removing it when they succeed, and
 * replaying the batches given to this node whose coordinator never removed
 * them.
 */
#include "coordinator/batchlog/batchlog.h"

#include "coordinator/schema/schema.h"
#include "core/buf.h"
#include "core/cqlproto.h"
#include "core/log.h"
#include "core/msgpk.h"

#include <ev.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define MOD           "batchlog"
#define KEY_PREFIX    "batchlog/"
#define KEY_LEN       (sizeof(KEY_PREFIX) - 1 + 16)
#define MAX_ENDPOINTS 2

struct batchlog {
	struct batchlog_config cfg;
	char dc[RING_NAME_MAX], rack[RING_NAME_MAX];
	struct ev_loop *loop;
	ev_timer replay_timer;
	unsigned inflight;
	bool replaying;
	struct batchlog_stats stats;
	int64_t stall_warned_ms; /* a write refused by a RocksDB write stall was last logged */
	uint64_t stall_refused;  /* such refusals since */
};

/* The batchlog is written on the main loop: during a RocksDB write stall a write is refused
 * at once (STORE_SYSTEM_NOWAIT) rather than holding gossip and messaging until the stall ends.
 * A refused store fails its batch (the client is told Overloaded or its timeout), a refused
 * removal leaves the batch to its replay; at the rate of a busy node's batches such refusals
 * are logged at most every STALL_WARN_MS, with their count. */
#define STALL_WARN_MS 10000

static void warn_write(struct batchlog *bl, int rc, const char *what, const struct cerr *e)
{
	if (rc != COL_EOVERLOADED) {
		log_warn(MOD, "%s: %s", what, e->msg);
		return;
	}
	bl->stall_refused++;
	int64_t now = (int64_t)(ev_now(bl->loop) * 1000);
	if (bl->stall_warned_ms && now - bl->stall_warned_ms < STALL_WARN_MS)
		return;
	log_warn(MOD,
	         "%s: %s (%" PRIu64 " batchlog writes refused by the stall since the last "
	         "such line)",
	         what, e->msg, bl->stall_refused);
	bl->stall_warned_ms = now;
	bl->stall_refused = 0;
}

/* One LOGGED batch being written by this coordinator. */
struct bl_op {
	struct batchlog *bl;
	uint8_t id[16];
	struct ring *ring;
	struct replication rep;
	uint16_t cl;
	struct store_mutation *const *muts;
	size_t n;
	request_done_fn done;
	void *ctx;
	struct net_addr eps[MAX_ENDPOINTS];
	int n_eps, waiting, acked, failed;
	int fail_code;
	char fail_msg[200];
	bool local; /* stored on this node (no other live node in our datacenter) */
	ev_timer delay;
};

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void batch_key(uint8_t key[KEY_LEN], const uint8_t id[16])
{
	memcpy(key, KEY_PREFIX, sizeof(KEY_PREFIX) - 1);
	memcpy(key + sizeof(KEY_PREFIX) - 1, id, 16);
}

/* Keep a batch (payload = BATCH_STORE's) in this node's store.  0 or COL_E*. */
static int store_batch(struct batchlog *bl, const uint8_t id[16], const uint8_t *payload,
                       size_t len, struct cerr *err)
{
	uint8_t key[KEY_LEN];
	batch_key(key, id);
	struct buf v;
	buf_init(&v);
	buf_put_u64be(&v, (uint64_t)wall_ms());
	buf_put(&v, payload, len);
	int rc = buf_ok(&v) ? store_kv_put(bl->cfg.store, STORE_SYSTEM_NOWAIT, key, KEY_LEN, v.data,
	                                   v.len, err)
	                    : cerr_set(err, COL_ENOMEM, "out of memory storing a batch");
	buf_release(&v);
	return rc;
}

static void remove_batch(struct batchlog *bl, const uint8_t id[16])
{
	uint8_t key[KEY_LEN];
	batch_key(key, id);
	struct cerr e = {0};
	int rc = store_kv_delete(bl->cfg.store, STORE_SYSTEM_NOWAIT, key, KEY_LEN, &e);
	if (rc)
		warn_write(bl, rc, "removing a batch from the batchlog", &e);
}

/* ---- the replica side: BATCH_STORE and BATCH_REMOVE ---------------------------------------- */

/* [id bin16, keyspace str, [mutation...]]: the id and keyspace; 0 or COL_ECORRUPT. */
static int decode_head(struct bufreader *r, const uint8_t **id, const uint8_t **ks,
                       uint32_t *ks_len, uint32_t *n)
{
	uint32_t idl;
	if (msgpk_expect_array(r, 3) || msgpk_read_bin(r, id, &idl) || idl != 16 ||
	    msgpk_read_str(r, ks, ks_len) || *ks_len == 0 || *ks_len > SCHEMA_NAME_MAX ||
	    msgpk_read_array(r, n) || *n == 0 || *n > BATCHLOG_MAX_MUTATIONS)
		return COL_ECORRUPT;
	return 0;
}

int batchlog_check_store(const uint8_t *payload, size_t len, const uint8_t **id)
{
	struct bufreader r;
	bufreader_init(&r, payload, len);
	const uint8_t *ks;
	uint32_t ksl, n;
	if (decode_head(&r, id, &ks, &ksl, &n))
		return COL_ECORRUPT;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *at = r.p + r.pos;
		uint8_t tid[16];
		struct cerr e = {0};
		if (msgpk_skip(&r, 8) ||
		    store_mutation_peek_table(at, (size_t)(r.p + r.pos - at), tid, &e) != 0)
			return COL_ECORRUPT;
	}
	return bufreader_left(&r) == 0 ? 0 : COL_ECORRUPT;
}

static int on_store(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	struct batchlog *bl = ctx;
	const uint8_t *id;
	if (batchlog_check_store(msg->payload, msg->payload_len, &id))
		return COL_ECORRUPT;
	struct cerr e = {0};
	int rc = store_batch(bl, id, msg->payload, msg->payload_len, &e);
	if (rc) {
		warn_write(bl, rc, "storing a batch", &e);
		(void)messaging_respond_failure(m, msg, rc, e.msg);
		return 0;
	}
	bl->stats.stored++;
	struct msg_out o;
	if (messaging_begin_response(m, msg, VERB_BATCH_STORE_RSP, &o) == 0) {
		msgpk_put_array(o.b, 0);
		messaging_commit(&o);
	}
	return 0;
}

static int on_remove(struct messaging *m, const struct msg_in *msg, void *ctx)
{
	(void)m;
	struct batchlog *bl = ctx;
	struct bufreader r;
	bufreader_init(&r, msg->payload, msg->payload_len);
	const uint8_t *id;
	uint32_t idl;
	if (msgpk_expect_array(&r, 1) || msgpk_read_bin(&r, &id, &idl) || idl != 16)
		return COL_ECORRUPT;
	remove_batch(bl, id);
	return 0;
}

static const struct messaging_verb verbs[] = {
        {VERB_BATCH_STORE, "BATCH_STORE", on_store},
        {VERB_BATCH_STORE_RSP, "BATCH_STORE_RSP", NULL},
        {VERB_BATCH_REMOVE, "BATCH_REMOVE", on_remove},
};

/* ---- the coordinator side ---------------------------------------------------------------------
 */

/*
 * Up to MAX_ENDPOINTS live nodes of our datacenter other than this one, nodes
 * on racks other than ours (and than each other's) first, as Cassandra's
 * batchlog endpoint filter.  Their count.
 */
static int pick_endpoints(struct batchlog *bl, struct ring *ring, struct net_addr *out)
{
	const uint8_t *self = messaging_host_id(bl->cfg.msg)->b;
	size_t n = ring_node_count(ring);
	size_t chosen[MAX_ENDPOINTS];
	int k = 0;
	for (int pass = 0; pass < 2 && k < MAX_ENDPOINTS; pass++)
		for (size_t i = 0; i < n && k < MAX_ENDPOINTS; i++) {
			const struct ring_node *rn = ring_node_at(ring, i);
			if (memcmp(rn->host_id, self, 16) == 0 || strcmp(rn->dc, bl->dc) != 0 ||
			    !bl->cfg.is_alive(bl->cfg.alive_ctx, ring, i))
				continue;
			bool taken = false,
			     rack_used = pass == 0 && strcmp(rn->rack, bl->rack) == 0;
			for (int j = 0; j < k; j++) {
				taken |= chosen[j] == i;
				rack_used |=
				        pass == 0 &&
				        strcmp(ring_node_at(ring, chosen[j])->rack, rn->rack) == 0;
			}
			if (taken || rack_used ||
			    bl->cfg.addr_of(bl->cfg.addr_ctx, ring, i, &out[k]))
				continue;
			chosen[k++] = i;
		}
	return k;
}

static void op_free(struct bl_op *op)
{
	op->bl->inflight--;
	ring_unref(op->ring);
	free(op);
}

/* The batch's own write finished: remove it from the batchlog when it succeeded. */
static void on_written(void *ctx, const struct cerr *err)
{
	struct bl_op *op = ctx;
	struct batchlog *bl = op->bl;
	if (err->code == 0) {
		struct buf b;
		buf_init(&b);
		msgpk_put_array(&b, 1);
		msgpk_put_bin(&b, op->id, 16);
		for (int i = 0; buf_ok(&b) && i < op->n_eps; i++)
			(void)messaging_send(bl->cfg.msg, &op->eps[i], VERB_BATCH_REMOVE, b.data,
			                     b.len);
		buf_release(&b);
		if (op->local)
			remove_batch(bl, op->id);
		bl->stats.removed++;
	}
	op->done(op->ctx, err);
	op_free(op);
}

static void send_mutations(struct bl_op *op)
{
	storage_proxy_write(op->bl->cfg.sp, op->ring, &op->rep, op->cl, op->muts, op->n,
	                    CERR_WRITE_BATCH, on_written, op);
}

static void on_delay(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)revents;
	send_mutations((struct bl_op *)w->data);
}

/* Every batchlog node answered (or failed): send the mutations, or fail with BATCH_LOG. */
static void logged(struct bl_op *op)
{
	struct batchlog *bl = op->bl;
	if (op->failed == 0) {
		bl->stats.logged++;
		if (bl->cfg.test_delay_ms == 0)
			return send_mutations(op);
		ev_timer_init(&op->delay, on_delay, bl->cfg.test_delay_ms / 1000.0, 0.);
		op->delay.data = op;
		ev_timer_start(bl->loop, &op->delay);
		return;
	}
	bl->stats.log_timeouts++;
	struct cerr e = {0};
	cerr_set(&e, op->fail_code, "%s", op->fail_msg);
	e.rep.write = true;
	e.rep.write_type = CERR_WRITE_BATCH_LOG;
	e.rep.cl = op->n_eps == 1 ? CL_ONE : CL_TWO;
	e.rep.required = op->n_eps;
	e.rep.received = op->acked;
	op->done(op->ctx, &e);
	op_free(op);
}

static void on_store_rsp(void *ctx, int status, const struct msg_in *rsp)
{
	struct bl_op *op = ctx;
	if (status == 0) {
		op->acked++;
	} else if (op->failed++ == 0) {
		char why[120] = "";
		if (status == COL_ETIMEDOUT)
			snprintf(why, sizeof(why), "no answer within %u ms",
			         op->bl->cfg.write_timeout_ms);
		else if (rsp)
			messaging_failure_text(rsp, &(int){0}, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "error %d", status);
		op->fail_code = status == COL_ETIMEDOUT || status == COL_ECLOSED ? COL_ETIMEDOUT
		                                                                 : COL_EFAILED;
		snprintf(op->fail_msg, sizeof(op->fail_msg),
		         "Operation timed out - writing the batchlog: %.120s", why);
	}
	if (--op->waiting == 0)
		logged(op);
}

/* The BATCH_STORE payload of a batch. */
static void encode_batch(struct buf *b, const uint8_t id[16], const char *ks,
                         struct store_mutation *const *muts, size_t n)
{
	msgpk_put_array(b, 3);
	msgpk_put_bin(b, id, 16);
	msgpk_put_cstr(b, ks);
	msgpk_put_array(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const uint8_t *p = store_mutation_bytes(muts[i], &len);
		buf_put(b, p, len);
	}
}

/* Store the batch on each endpoint (or here); every outcome reaches on_store_rsp. */
static void log_batch(struct bl_op *op, const char *ks)
{
	struct batchlog *bl = op->bl;
	struct buf payload;
	buf_init(&payload);
	encode_batch(&payload, op->id, ks, op->muts, op->n);
	op->waiting = op->n_eps ? op->n_eps : 1;
	if (!buf_ok(&payload)) {
		op->waiting = 1;
		on_store_rsp(op, COL_ENOMEM, NULL);
	} else if (op->local) {
		struct cerr e = {0};
		int rc = store_batch(bl, op->id, payload.data, payload.len, &e);
		if (rc)
			warn_write(bl, rc, "writing the batchlog on this node", &e);
		on_store_rsp(op, rc, NULL);
	} else {
		int n = op->n_eps;
		for (int i = 0; i < n; i++) {
			struct msg_out o;
			int rc = messaging_begin_request(bl->cfg.msg, &op->eps[i], VERB_BATCH_STORE,
			                                 bl->cfg.write_timeout_ms, on_store_rsp, op,
			                                 &o);
			if (!rc) {
				buf_put(o.b, payload.data, payload.len);
				rc = messaging_commit(&o);
			}
			if (rc)
				on_store_rsp(op, rc == COL_EFULL ? COL_ETIMEDOUT : rc, NULL);
		}
	}
	buf_release(&payload);
}

void batchlog_write(void *ctx, struct ring *ring, const struct replication *rep, const char *ks,
                    uint16_t cl, struct store_mutation *const *muts, size_t n, request_done_fn done,
                    void *done_ctx)
{
	struct batchlog *bl = ctx;
	struct cerr e = {0};
	e.rep.write = true;
	e.rep.write_type = CERR_WRITE_BATCH_LOG;
	struct bl_op *op = NULL;
	if (n > BATCHLOG_MAX_MUTATIONS)
		cerr_set(&e, COL_EINVAL, "a LOGGED batch of %zu partitions (at most %d)", n,
		         BATCHLOG_MAX_MUTATIONS);
	else if (bl->inflight >= BATCHLOG_MAX_INFLIGHT)
		cerr_set(&e, COL_EOVERLOADED, "%u LOGGED batches are being logged already",
		         bl->inflight);
	else if (!(op = calloc(1, sizeof(*op))))
		cerr_set(&e, COL_ENOMEM, "out of memory");
	if (!op) {
		done(done_ctx, &e);
		return;
	}
	bl->inflight++;
	*op = (struct bl_op){.bl = bl,
	                     .ring = ring_ref(ring),
	                     .rep = *rep,
	                     .cl = cl,
	                     .muts = muts,
	                     .n = n,
	                     .done = done,
	                     .ctx = done_ctx};
	if (getrandom(op->id, 16, 0) != 16)
		for (int i = 0; i < 16; i++)
			op->id[i] = (uint8_t)rand();
	op->n_eps = pick_endpoints(bl, ring, op->eps);
	/* Alone in our datacenter: Cassandra logs the batch on this node. */
	op->local = op->n_eps == 0;
	log_batch(op, ks);
}

/* ---- replay ------------------------------------------------------------------------------------
 */

struct replay {
	struct batchlog *bl;
	uint8_t id[16];
	const struct schema_snap *snap;
	struct store_mutation *muts;
	struct store_mutation **ptrs;
	size_t n;
};

static void replay_free(struct replay *rp)
{
	for (size_t i = 0; i < rp->n; i++)
		store_mutation_release(&rp->muts[i]);
	free(rp->muts);
	free(rp->ptrs);
	if (rp->snap)
		schema_snap_unref(rp->bl->cfg.schema, rp->snap);
	rp->bl->replaying = false;
	free(rp);
}

static void on_replayed(void *ctx, const struct cerr *err)
{
	struct replay *rp = ctx;
	struct batchlog *bl = rp->bl;
	if (err->code == 0) {
		bl->stats.replayed++;
		remove_batch(bl, rp->id);
		log_info(MOD,
		         "replayed a batch of %zu partitions whose coordinator did not finish it",
		         rp->n);
	} else {
		bl->stats.replay_failed++;
		log_warn(MOD, "replaying a batch of %zu partitions: %s; trying again later", rp->n,
		         err->msg);
	}
	replay_free(rp);
}

/* The stored batch's mutations, of tables that still exist, into rp.  0 or COL_E*. */
static int replay_decode(struct replay *rp, const struct schema_keyspace *k, struct bufreader *r,
                         uint32_t n)
{
	rp->muts = calloc(n, sizeof(*rp->muts));
	rp->ptrs = calloc(n, sizeof(*rp->ptrs));
	if (!rp->muts || !rp->ptrs)
		return COL_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *at = r->p + r->pos;
		uint8_t tid[16];
		struct cerr e = {0};
		if (msgpk_skip(r, 8) ||
		    store_mutation_peek_table(at, (size_t)(r->p + r->pos - at), tid, &e) != 0)
			return COL_ECORRUPT;
		const struct schema_table *t = schema_keyspace_table_by_id(k, tid);
		if (!t || !t->st)
			continue; /* dropped since: nothing to apply */
		struct store_mutation *m = &rp->muts[rp->n];
		buf_init(&m->body);
		buf_put(&m->body, at, (size_t)(r->p + r->pos - at));
		m->table = t->st;
		if (!buf_ok(&m->body)) {
			buf_release(&m->body);
			return COL_ENOMEM;
		}
		rp->ptrs[rp->n++] = m;
	}
	return 0;
}

/* Replay one stored batch (value = stored_at ++ payload).  False when nothing was started. */
static bool replay_one(struct batchlog *bl, const uint8_t *val, size_t vlen)
{
	struct bufreader r;
	bufreader_init(&r, val + 8, vlen - 8);
	const uint8_t *id, *ksp;
	uint32_t ksl, n;
	if (decode_head(&r, &id, &ksp, &ksl, &n)) {
		log_error(MOD, "a stored batch does not decode: removed");
		return false;
	}
	struct replay *rp = calloc(1, sizeof(*rp));
	if (!rp)
		return false;
	rp->bl = bl;
	memcpy(rp->id, id, 16);
	char ks[SCHEMA_NAME_MAX + 1];
	memcpy(ks, ksp, ksl);
	ks[ksl] = 0;
	rp->snap = schema_snap_ref(bl->cfg.schema);
	const struct schema_keyspace *k = schema_snap_keyspace(rp->snap, ks);
	int rc = k ? replay_decode(rp, k, &r, n) : 0;
	bl->replaying = true;
	if (rc || !k || rp->n == 0) {
		if (rc == COL_ENOMEM) {
			replay_free(rp);
			return false;
		}
		log_warn(MOD, "a stored batch of keyspace %s %s: removed", ks,
		         rc   ? "does not decode"
		         : !k ? "names a keyspace that no longer exists"
		              : "has no table left");
		remove_batch(bl, rp->id);
		replay_free(rp);
		return false;
	}
	router_write(bl->cfg.router, k, CL_ONE, rp->ptrs, rp->n, CERR_WRITE_UNLOGGED_BATCH,
	             on_replayed, rp);
	return true;
}

struct scan_ctx {
	struct batchlog *bl;
	int64_t older_than_ms;
	uint8_t key[KEY_LEN];
	bool found;
};

static int find_due(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct scan_ctx *sc = ctx;
	if (klen != KEY_LEN || vlen < 8) {
		struct cerr e = {0};
		int rc = store_kv_delete(sc->bl->cfg.store, STORE_SYSTEM_NOWAIT, key, klen, &e);
		if (rc == 0)
			log_warn(MOD,
			         "a stored batch of %zu bytes under a %zu-byte key is malformed: "
			         "removed",
			         vlen, klen);
		else /* the next replay's scan finds it again */
			warn_write(sc->bl, rc, "removing a malformed batch from the batchlog", &e);
		return 0;
	}
	if ((int64_t)be64_load(val) > sc->older_than_ms)
		return 0;
	memcpy(sc->key, key, KEY_LEN);
	sc->found = true;
	return 1;
}

static void on_replay_timer(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)revents;
	struct batchlog *bl = w->data;
	struct scan_ctx sc = {.bl = bl,
	                      .older_than_ms = wall_ms() - 2 * (int64_t)bl->cfg.write_timeout_ms};
	uint8_t after_key[KEY_LEN];
	const uint8_t *after = NULL;
	for (int i = 0; i < BATCHLOG_REPLAY_BATCH && !bl->replaying; i++) {
		struct cerr e = {0};
		sc.found = false;
		if (store_kv_scan_after(bl->cfg.store, STORE_CF_SYSTEM, KEY_PREFIX,
		                        sizeof(KEY_PREFIX) - 1, after, after ? KEY_LEN : 0,
		                        find_due, &sc, &e) < 0 ||
		    !sc.found)
			return;
		struct buf v;
		buf_init(&v);
		bool started = store_kv_get(bl->cfg.store, STORE_CF_SYSTEM, sc.key, KEY_LEN, &v,
		                            &e) == 0 &&
		               v.len >= 8 && replay_one(bl, v.data, v.len);
		buf_release(&v);
		if (started)
			return; /* one replay at a time; the next check goes on */
		memcpy(after_key, sc.key, KEY_LEN); /* nothing started: look further */
		after = after_key;
	}
}

int batchlog_new(const struct batchlog_config *cfg, struct batchlog **out, struct cerr *err)
{
	if (!cfg->msg || !cfg->store || !cfg->schema || !cfg->sp || !cfg->router ||
	    !cfg->is_alive || !cfg->addr_of)
		return cerr_set(err, COL_EINVAL,
		                "batchlog: messaging, store, schema, storage "
		                "proxy, router, liveness and addresses required");
	struct batchlog *bl = calloc(1, sizeof(*bl));
	if (!bl)
		return cerr_set(err, COL_ENOMEM, "out of memory");
	bl->cfg = *cfg;
	if (!bl->cfg.write_timeout_ms)
		bl->cfg.write_timeout_ms = 2000;
	snprintf(bl->dc, sizeof(bl->dc), "%s", cfg->local_dc ? cfg->local_dc : "datacenter1");
	snprintf(bl->rack, sizeof(bl->rack), "%s", cfg->local_rack ? cfg->local_rack : "rack1");
	bl->cfg.local_dc = bl->dc;
	bl->cfg.local_rack = bl->rack;
	int rc = messaging_register_verbs(cfg->msg, verbs, sizeof(verbs) / sizeof(verbs[0]), bl);
	if (rc) {
		free(bl);
		return cerr_set(err, rc, "batchlog: cannot register its verbs");
	}
	bl->loop = messaging_ev(cfg->msg);
	/* Check for batches to replay as often as a write may take, between 0.1 and 10 s. */
	double every = bl->cfg.write_timeout_ms / 1000.0;
	every = every < 0.1 ? 0.1 : every > 10.0 ? 10.0 : every;
	ev_timer_init(&bl->replay_timer, on_replay_timer, every, every);
	bl->replay_timer.data = bl;
	ev_timer_start(bl->loop, &bl->replay_timer);
	*out = bl;
	return 0;
}

void batchlog_free(struct batchlog *bl)
{
	if (!bl)
		return;
	/* After messaging_free(): its handlers went with it, and its requests ended. */
	ev_timer_stop(bl->loop, &bl->replay_timer);
	free(bl);
}

void batchlog_get_stats(const struct batchlog *bl, struct batchlog_stats *out)
{
	*out = bl->stats;
}
