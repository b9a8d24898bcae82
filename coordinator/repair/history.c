/*
 * history.c — what repair remembers in the store's system CF:
 *
 * | key                                              | value                                  |
 * |--------------------------------------------------|----------------------------------------|
 * | "repair/h/" finished_ms u64 seq u64              | msgpack [ks, table, start, end,        |
 * |                                                  |  started_ms, finished_ms, leaves,      |
 * |                                                  |  bytes, outcome]                       |
 * | "repair/r/" table_id 16 start u64 end u64        | started_ms u64 of the last successful  |
 * |                                                  |  repair of that range                  |
 * | "repair/f/" table_id 16                          | ms u64 from which the table's ranges   |
 * |                                                  |  that were never repaired count        |
 *
 * History rows past REPAIR_HISTORY_MAX are deleted oldest first.  The
 * last-repaired rows let the background scheduler resume where it stopped
 * and tell the age of the oldest unrepaired range.  The rows keyed by table id
 * ("repair/r/", "repair/f/") of a table no longer in the schema (DROP TABLE,
 * DROP KEYSPACE) are deleted by history_forget_dropped() at the scheduler's
 * first tick after the schema changed (and the first after start); a table id
 * is never reused, so nothing could read them again.  "repair/h/" rows name
 * the table and stay: they are the operator's log.
 *
 * All of it runs on the repair room's loop thread, synchronously in RocksDB.
 */
#include "coordinator/repair/repair_int.h"

#include "coordinator/schema/schema.h"
#include "core/log.h"
#include "core/msgpk.h"
#include "gossip/messaging.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H_PREFIX           "repair/h/"
#define R_PREFIX           "repair/r/"
#define F_PREFIX           "repair/f/"
#define H_PLEN             9
#define REPAIR_HISTORY_MAX 100000
/* The scheduler writes on the main loop, with STORE_SYSTEM_NOWAIT: during a RocksDB write
 * stall a row is not written (and logged) rather than stopping gossip and messaging until
 * the stall ends; each is written again later (a first planning at the next tick, a range
 * at its next repair). */

static void last_key(uint8_t k[H_PLEN + 32], const uint8_t id[16], int64_t start, int64_t end)
{
	memcpy(k, R_PREFIX, H_PLEN);
	memcpy(k + H_PLEN, id, 16);
	be64_store(k + H_PLEN + 16, (uint64_t)start);
	be64_store(k + H_PLEN + 24, (uint64_t)end);
}

int64_t history_last_repaired(struct repair *r, const uint8_t table_id[16], int64_t start,
                              int64_t end)
{
	uint8_t k[H_PLEN + 32];
	last_key(k, table_id, start, end);
	struct buf v;
	buf_init(&v);
	struct cerr e = {0};
	int64_t at = 0;
	if (store_kv_get(r->cfg.store, STORE_CF_SYSTEM, k, sizeof(k), &v, &e) == 0 && v.len == 8)
		at = (int64_t)be64_load(v.data);
	buf_release(&v);
	return at;
}

/*
 * Since when the table's never-repaired ranges count: the time this node first planned
 * the table, as the table's schema timestamp then (its creation, or its last ALTER
 * before this node knew it), kept in the store so that neither a restart nor a later
 * ALTER moves it.  A table created now is first due one interval from now; a table a
 * new or replacing node learns with the schema is as old as its DDL, so that node
 * repairs it at once.
 */
int64_t history_first_planned(struct repair *r, const uint8_t table_id[16], int64_t table_ms)
{
	uint8_t k[H_PLEN + 16], v[8];
	memcpy(k, F_PREFIX, H_PLEN);
	memcpy(k + H_PLEN, table_id, 16);
	struct buf got;
	buf_init(&got);
	struct cerr e = {0};
	int64_t at = 0;
	if (store_kv_get(r->cfg.store, STORE_CF_SYSTEM, k, sizeof(k), &got, &e) == 0 &&
	    got.len == 8)
		at = (int64_t)be64_load(got.data);
	buf_release(&got);
	if (at)
		return at;
	be64_store(v, (uint64_t)table_ms);
	if (store_kv_put(r->cfg.store, STORE_SYSTEM_NOWAIT, k, sizeof(k), v, 8, &e))
		log_warn("repair", "recording when a table was first planned: %s", e.msg);
	return table_ms;
}

struct forget_ctx {
	struct repair *r;
	const struct schema_snap *snap;
	size_t tables;
};

static int forget_first_planned(void *ctx, const void *key, size_t klen, const void *val,
                                size_t vlen)
{
	(void)val, (void)vlen;
	struct forget_ctx *fc = ctx;
	struct cerr e = {0};
	if (klen != H_PLEN + 16 || schema_snap_table_by_id(fc->snap, (const uint8_t *)key + H_PLEN))
		return 0;
	if (store_kv_delete(fc->r->cfg.store, STORE_SYSTEM_NOWAIT, key, klen, &e))
		log_warn("repair", "forgetting a dropped table's first planning: %s", e.msg);
	fc->tables++;
	return 0;
}

/* The table id of the first last-repaired row scanned: stops the scan there. */
static int table_of_row(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)val, (void)vlen;
	if (klen != H_PLEN + 32)
		return 0;
	memcpy(ctx, (const uint8_t *)key + H_PLEN, 16);
	return 1;
}

void history_forget_dropped(struct repair *r)
{
	const struct schema_snap *snap = schema_current_ref(r->cfg.schema);
	if (r->forgot_generation == snap->generation + 1) {
		schema_snap_unref(r->cfg.schema, snap);
		return;
	}
	struct forget_ctx fc = {.r = r, .snap = snap};
	struct cerr e = {0};
	int rc = store_kv_scan(r->cfg.store, STORE_CF_SYSTEM, F_PREFIX, H_PLEN,
	                       forget_first_planned, &fc, &e);
	/* "repair/r/" rows: one seek per table, past all of its ranges at once */
	uint8_t id[16], after[H_PLEN + 32], prefix[H_PLEN + 16];
	size_t alen = 0;
	while (rc >= 0 &&
	       (rc = store_kv_scan_after(r->cfg.store, STORE_CF_SYSTEM, R_PREFIX, H_PLEN,
	                                 alen ? after : NULL, alen, table_of_row, id, &e)) > 0) {
		memcpy(prefix, R_PREFIX, H_PLEN);
		memcpy(prefix + H_PLEN, id, 16);
		if (!schema_snap_table_by_id(snap, id)) {
			if (store_kv_delete_prefix(r->cfg.store, STORE_SYSTEM_NOWAIT, prefix,
			                           sizeof(prefix), &e)) {
				rc = -1;
				break;
			}
			fc.tables++;
		}
		memcpy(after, prefix, sizeof(prefix));
		memset(after + sizeof(prefix), 0xff, 16); /* every key of the table sorts <= */
		alen = sizeof(after);
	}
	if (rc < 0)
		log_warn("repair", "forgetting the repair state of dropped tables: %s", e.msg);
	else
		r->forgot_generation = snap->generation + 1;
	if (fc.tables)
		log_info("repair", "forgot the repair state of dropped tables (%zu row sets)",
		         fc.tables);
	schema_snap_unref(r->cfg.schema, snap);
}

/* The range was repaired from began_ms on: remember it (scheduler, restarts) and let
 * storage purge its tombstones written before (tombstone_gc 'repair'). */
void history_mark(struct repair *r, const uint8_t table_id[16], int64_t start, int64_t end,
                  int64_t began_ms)
{
	struct cerr e = {0};
	uint8_t k[H_PLEN + 32], v[8];
	last_key(k, table_id, start, end);
	be64_store(v, (uint64_t)began_ms);
	if (store_kv_put(r->cfg.store, STORE_SYSTEM_NOWAIT, k, sizeof(k), v, 8, &e))
		log_warn("repair", "recording a repaired range: %s", e.msg);
	if (store_table_mark_repaired(store_table_find(r->cfg.store, table_id), start, end,
	                              began_ms / 1000))
		log_warn("repair", "recording a repaired range: out of memory");
}

static void send_done(struct repair *r, const struct rpeer *p, const struct rtask *t,
                      int64_t began_s)
{
	struct msg_out o;
	if (messaging_begin_oneway(r->cfg.msg, &p->addr, VERB_REPAIR_DONE, &o))
		return;
	repair_done_put(o.b, t->table_id, t->start, t->end, began_s);
	if (!buf_ok(o.b))
		messaging_abort(&o);
	else
		messaging_commit(&o); /* lost: that replica keeps its tombstones a while longer */
}

/* At start: storage learns every range repaired before the restart. */
static int load_mark(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct repair *r = ctx;
	const uint8_t *k = key;
	if (klen != H_PLEN + 32 || vlen != 8)
		return 0;
	store_table_mark_repaired(
	        store_table_find(r->cfg.store, k + H_PLEN), (int64_t)be64_load(k + H_PLEN + 16),
	        (int64_t)be64_load(k + H_PLEN + 24), (int64_t)be64_load(val) / 1000);
	return 0;
}

static int count_row(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)key, (void)klen, (void)val, (void)vlen;
	(*(uint64_t *)ctx)++;
	return 0;
}

static int delete_first(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)val, (void)vlen;
	struct repair *r = ctx;
	struct cerr e = {0};
	store_kv_delete(r->cfg.store, STORE_SYSTEM_NOWAIT, key, klen, &e);
	return 1;
}

void history_record(struct repair *r, const struct rsession *s, const struct rtask *t,
                    const char *outcome)
{
	struct cerr e = {0};
	int64_t now = repair_now_ms();
	if (strcmp(outcome, "ok") == 0) {
		history_mark(r, t->table_id, t->start, t->end, s->task_started_ms);
		for (uint32_t i = 0; i < t->n_peers; i++)
			if (!t->peers[i].self)
				send_done(r, &t->peers[i], t, s->task_started_ms / 1000);
	}
	uint8_t k[H_PLEN + 16];
	memcpy(k, H_PREFIX, H_PLEN);
	be64_store(k + H_PLEN, (uint64_t)now);
	be64_store(k + H_PLEN + 8, r->history_seq++);
	struct buf b;
	buf_init(&b);
	msgpk_put_array(&b, 9);
	msgpk_put_cstr(&b, t->ks);
	msgpk_put_cstr(&b, t->table);
	msgpk_put_int(&b, t->start);
	msgpk_put_int(&b, t->end);
	msgpk_put_int(&b, s->task_started_ms);
	msgpk_put_int(&b, now);
	msgpk_put_uint(&b, s->task_leaves);
	msgpk_put_uint(&b, s->task_bytes);
	msgpk_put_cstr(&b, outcome);
	if (buf_ok(&b) &&
	    store_kv_put(r->cfg.store, STORE_SYSTEM_NOWAIT, k, sizeof(k), b.data, b.len, &e) == 0) {
		if (++r->history_rows > REPAIR_HISTORY_MAX) {
			store_kv_scan(r->cfg.store, STORE_CF_SYSTEM, H_PREFIX, H_PLEN, delete_first,
			              r, &e);
			r->history_rows--;
		}
	} else {
		log_warn("repair", "recording history of %s.%s: %s", t->ks, t->table,
		         buf_ok(&b) ? e.msg : "out of memory");
	}
	buf_release(&b);
}

void history_init(struct repair *r)
{
	struct cerr e = {0};
	r->history_rows = 0;
	store_kv_scan(r->cfg.store, STORE_CF_SYSTEM, H_PREFIX, H_PLEN, count_row, &r->history_rows,
	              &e);
	store_kv_scan(r->cfg.store, STORE_CF_SYSTEM, R_PREFIX, H_PLEN, load_mark, r, &e);
}

static int decode_row(const uint8_t *p, size_t len, struct repair_history_row *row)
{
	struct bufreader rd;
	bufreader_init(&rd, p, len);
	const uint8_t *s;
	uint32_t sl;
	memset(row, 0, sizeof(*row));
	if (msgpk_expect_array(&rd, 9) || msgpk_read_str(&rd, &s, &sl))
		return COL_ECORRUPT;
	snprintf(row->keyspace, sizeof(row->keyspace), "%.*s", (int)sl, s);
	if (msgpk_read_str(&rd, &s, &sl))
		return COL_ECORRUPT;
	snprintf(row->table, sizeof(row->table), "%.*s", (int)sl, s);
	if (msgpk_read_int(&rd, &row->start) || msgpk_read_int(&rd, &row->end) ||
	    msgpk_read_int(&rd, &row->started_ms) || msgpk_read_int(&rd, &row->finished_ms) ||
	    msgpk_read_uint(&rd, &row->leaves_differing) || msgpk_read_uint(&rd, &row->bytes) ||
	    msgpk_read_str(&rd, &s, &sl))
		return COL_ECORRUPT;
	snprintf(row->outcome, sizeof(row->outcome), "%.*s", (int)sl, s);
	return 0;
}

struct scan_ctx {
	repair_history_fn fn;
	void *ctx;
};

static int scan_row(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	(void)key, (void)klen;
	struct scan_ctx *sc = ctx;
	struct repair_history_row row;
	if (decode_row(val, vlen, &row))
		return 0; /* a row we cannot read is skipped, not fatal */
	return sc->fn(sc->ctx, &row);
}

int repair_history_scan(struct store *s, repair_history_fn fn, void *ctx, struct cerr *err)
{
	struct scan_ctx sc = {fn, ctx};
	int rc = store_kv_scan(s, STORE_CF_SYSTEM, H_PREFIX, H_PLEN, scan_row, &sc, err);
	return rc > 0 ? 0 : rc;
}

/* ---- JSON -------------------------------------------------------------------------------------
 */

static void range_json(struct jw *w, int64_t start, int64_t end)
{
	char b[64];
	snprintf(b, sizeof(b), "(%ld,%ld]", (long)start, (long)end);
	jw_key(w, "range");
	jw_str(w, b);
}

static int row_json(void *ctx, const struct repair_history_row *row)
{
	struct jw *w = ctx;
	jw_obj(w);
	jw_key(w, "keyspace");
	jw_str(w, row->keyspace);
	jw_key(w, "table");
	jw_str(w, row->table);
	range_json(w, row->start, row->end);
	jw_key(w, "started_ms");
	jw_int(w, row->started_ms);
	jw_key(w, "finished_ms");
	jw_int(w, row->finished_ms);
	jw_key(w, "leaves_differing");
	jw_uint(w, row->leaves_differing);
	jw_key(w, "bytes");
	jw_uint(w, row->bytes);
	jw_key(w, "outcome");
	jw_str(w, row->outcome);
	jw_obj_end(w);
	return 0;
}

struct last_ctx {
	struct repair_history_row *rows;
	size_t n, cap, next;
};

/* Keeps the last `cap` rows in a ring buffer. */
static int keep_last(void *ctx, const struct repair_history_row *row)
{
	struct last_ctx *lc = ctx;
	lc->rows[lc->next] = *row;
	lc->next = (lc->next + 1) % lc->cap;
	if (lc->n < lc->cap)
		lc->n++;
	return 0;
}

int repair_history_json(struct repair *r, size_t limit, struct jw *w, struct cerr *err)
{
	if (limit == 0 || limit > 10000)
		limit = 10000;
	struct last_ctx lc = {.cap = limit};
	lc.rows = calloc(limit, sizeof(*lc.rows));
	if (!lc.rows)
		return cerr_set(err, COL_ENOMEM, "repair history: out of memory");
	int rc = repair_history_scan(r->cfg.store, keep_last, &lc, err);
	jw_arr(w);
	for (size_t i = 0; i < lc.n; i++) /* newest first */
		row_json(w, &lc.rows[(lc.next + lc.cap - 1 - i) % lc.cap]);
	jw_arr_end(w);
	free(lc.rows);
	return rc;
}

void session_json(const struct rsession *s, struct jw *w)
{
	static const char *const states[] = {"running", "done", "cancelled"};
	jw_obj(w);
	jw_key(w, "id");
	jw_uint(w, s->id);
	jw_key(w, "state");
	jw_str(w, states[s->state]);
	jw_key(w, "keyspace");
	if (s->opt.keyspace)
		jw_str(w, s->opt.keyspace);
	else
		jw_null(w);
	jw_key(w, "preview");
	jw_bool(w, s->opt.preview);
	jw_key(w, "background");
	jw_bool(w, s->opt.background);
	jw_key(w, "ranges_total");
	jw_uint(w, s->n_tasks);
	jw_key(w, "ranges_done");
	jw_uint(w, s->done);
	jw_key(w, "ranges_failed");
	jw_uint(w, s->failed);
	jw_key(w, "leaves_compared");
	jw_uint(w, s->leaves_total);
	jw_key(w, "leaves_differing");
	jw_uint(w, s->leaves_differing);
	jw_key(w, "bytes_streamed");
	jw_uint(w, s->bytes);
	jw_key(w, "pairs_streamed");
	jw_uint(w, s->pairs);
	jw_key(w, "started_ms");
	jw_int(w, s->started_ms);
	jw_key(w, "elapsed_ms");
	jw_int(w, (s->state == RS_RUNNING ? repair_now_ms() : s->finished_ms) - s->started_ms);
	if (s->state == RS_RUNNING && s->cur < s->n_tasks) {
		const struct rtask *t = &s->tasks[s->cur];
		jw_key(w, "current");
		jw_obj(w);
		jw_key(w, "table");
		char b[130];
		snprintf(b, sizeof(b), "%s.%s", t->ks, t->table);
		jw_str(w, b);
		range_json(w, t->start, t->end);
		jw_obj_end(w);
	}
	jw_key(w, "failures");
	jw_arr(w);
	for (size_t i = 0; i < s->n_fails; i++) {
		jw_obj(w);
		jw_key(w, "table");
		jw_str(w, s->fails[i].table);
		range_json(w, s->fails[i].start, s->fails[i].end);
		jw_key(w, "reason");
		jw_str(w, s->fails[i].reason);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}
