/*
 * query_int.h — the executor's inside, shared by its files and nothing else
 * (only coordinator/query/ and its unit tests include it; the rest of the tree
 * sees executor.h).
 *
 * A request flows through the files in this order:
 *   executor.c  the life of a request: executor_run, struct xq (one execution),
 *               xq_run dispatching by statement kind, xq_finish answering once
 *   messages.c  QUERY, PREPARE, EXECUTE bodies; batch.c the BATCH message
 *   plan.c      a parsed statement checked against the schema (struct plan)
 *   values.c    bound values and literals turned into native bytes
 *   where.c     WHERE restrictions resolved to key values (struct where)
 *   select.c    SELECT on tables through the router, with paging;
 *               select_virtual.c SELECT on the virtual system tables
 *   modify.c    INSERT/UPDATE/DELETE turned into mutations, written by the router
 *   ddl.c       keyspace and table DDL, TRUNCATE, USE
 *   access.c    permissions each statement needs (struct exec_access), parking
 *   results.c   RESULT bodies (Rows metadata, Prepared, Schema_change)
 *   error.c     a failure recorded on the request (cqlserver writes the ERROR)
 *
 * Rules every file keeps: a failing function records the failure on the request
 * (req_fail*) and returns non-zero; the first failure recorded wins.  Nothing
 * here blocks or touches a socket, and every request ends in xq_finish() or in
 * executor_run() answering directly, exactly once.
 */
#ifndef COLONNADE_COORDINATOR_QUERY_INT_H
#define COLONNADE_COORDINATOR_QUERY_INT_H

#include "coordinator/cql/cql_ast.h"
#include "coordinator/query/executor.h"
#include "coordinator/replication/router.h"
#include "coordinator/schema/schema.h"
#include "core/cqltype.h"
#include "core/err.h"
#include "storage/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prepared_stmt;

/* Row callbacks return this to stop a read early (page full); not an error. */
#define STOP_READ 1
/* Cartesian products of IN lists are bounded, as Cassandra bounds them (100). */
#define MAX_IN_PARTITIONS 100
#define MAX_IN_ROWS       100

/* Zero-length values point here, never at NULL (memcpy/memcmp on NULL is undefined
 * even for zero bytes). */
extern const uint8_t exec_empty_value[1];

/* Arenas an executor keeps emptied for its next requests (each holds one 2 KiB chunk). */
#define EXEC_SPARE_ARENAS 32
/* SELECT states an executor keeps emptied, buffers and all, for its next SELECTs: the
 * SELECTs a loop has in flight at once at a steady load, within bounded memory. */
#define EXEC_SPARE_SELX 32

struct executor {
	struct executor_deps d;
	int64_t last_ts;
	/* requests' arenas for reuse: an executor runs on one thread, its loop's */
	struct cql_arena *spare[EXEC_SPARE_ARENAS];
	unsigned n_spare;
	struct selx *spare_sel[EXEC_SPARE_SELX];
	unsigned n_spare_sel;
	/* The schema snapshot of the call in progress (executor_run holds a reference
	 * for its duration): every lookup of one request sees one snapshot, also on a
	 * thread that is not the schema's owner (schema.h, Threads). */
	const struct schema_snap *snap;
};

struct val {
	const uint8_t *p;
	int32_t len; /* CQL_VALUE_NULL / CQL_VALUE_UNSET */
};

enum sel_kind {
	SEL_COLUMN,
	SEL_COUNT, /* count(*), count(1): rows */
	SEL_WRITETIME,
	SEL_TTL,
	SEL_TOKEN,
	SEL_AGG,     /* agg over args[0] */
	SEL_FUNC,    /* fn(args) */
	SEL_CAST,    /* CAST(args[0] AS type) */
	SEL_CONST,   /* a literal argument, converted when planned */
	SEL_ELEMENT, /* args[0][konst]: a map's value or a set's element, or null */
	SEL_SLICE,   /* args[0][konst..konst2]: the elements/keys between, inclusive */
	SEL_FIELD    /* args[0].field: field number `col` of a user type value */
};

enum agg_fn { AGG_COUNT, AGG_MIN, AGG_MAX, AGG_SUM, AGG_AVG };

struct func_def;

/* One selector of a SELECT (selection.c evaluates it on a row). */
struct sel_col {
	enum sel_kind kind;
	int col;                    /* index into table->cols (COLUMN, WRITETIME, TTL) */
	const char *name;           /* the result column's name */
	const struct cqltype *type; /* the result's type */
	enum agg_fn agg;
	const struct func_def *fn;
	struct sel_col *args; /* AGG, FUNC, CAST (in the plan's arena) */
	uint32_t n_args;
	struct val konst;  /* CONST; ELEMENT's key; SLICE's lower bound (null: open) */
	struct val konst2; /* SLICE's upper bound (null: open) */
	/* ELEMENT, SLICE: konst / konst2 is bind marker kbind - 1 / kbind2 - 1 (0: a literal) */
	uint32_t kbind, kbind2;
};

/* A statement checked against the schema, ready to run many times. */
struct plan {
	int refs; /* the prepared cache and each execution in flight */
	struct cql_arena *arena;
	bool owns_arena; /* BATCH children share their parent's */
	struct cql_stmt *stmt;
	char ks[SCHEMA_NAME_MAX + 1]; /* resolved keyspace ("" for USE/keyspace DDL) */
	char table_name[SCHEMA_NAME_MAX + 1];
	uint64_t gen;
	const struct schema_table *table; /* valid while gen is current */
	/* bind variables */
	uint32_t n_binds;
	const struct cqltype **bind_types;
	const char **bind_names;
	const struct cqltype **owned_types; /* list<T> for IN ?, freed with the plan */
	uint32_t n_owned;
	uint16_t pk_idx[STORE_MAX_PK_COLS];
	uint32_t n_pk_idx;
	/* SELECT */
	struct sel_col *sel;
	uint32_t n_sel;
	bool count;       /* an aggregate query: one row, or one per group */
	uint32_t n_group; /* GROUP BY: the first n_group primary key columns */
	bool has_funcs;   /* some selector runs a function per row */
	bool json;        /* SELECT JSON: one text column "[json]" holding each row as an object */
	/* child plans of a BATCH statement */
	struct plan **children;
	uint32_t n_children;
};

struct mutset;
struct selx;

/*
 * One statement (or one BATCH) being executed.  Allocated per request and kept
 * until the answer is ready, because the router may complete later: it holds a
 * reference to the plan and to the schema snapshot, copies of the bound values
 * and of the paging state (the frame is gone once executor_run returns), and
 * the work in flight (mutations, SELECT state).  xq_finish() frees it and hands
 * the answer back with req->done().
 */
struct xq {
	struct executor *ex;
	struct exec_req *req;
	struct plan *plan;              /* referenced (NULL for a protocol BATCH) */
	const struct schema_snap *snap; /* referenced: tables stay valid */
	const struct cql_slice *values; /* by bind index (names already resolved) */
	uint32_t n_values;
	struct cql_arena *mem; /* values, converted literals; freed with the xq */
	int64_t ts;            /* write timestamp */
	uint16_t cl;
	int32_t page_size;
	struct cql_slice paging_state;
	bool skip_metadata;
	struct mutset *ms; /* writes collected, applied by write_start */
	struct selx *sel;  /* SELECT state */
	struct lread *lr;  /* lists read before the write (modify_read.c) */
	struct batchx *bx; /* a BATCH whose statements read first (batch.c) */
};

/*
 * A restriction checked on every row a SELECT reads (ALLOW FILTERING, filter.c):
 * the rows are read as without it and the coordinator keeps those that match,
 * after the replicas' answers are reconciled.  A row whose column is null
 * matches nothing.
 */
struct filter {
	int col;          /* table column (the first one of a multi-column relation) */
	uint32_t n_cols;  /* 1, or consecutive clustering columns of (c1, c2) op (...) */
	enum cql_op op;   /* EQ LT LTE GT GTE IN CONTAINS CONTAINS_KEY */
	struct val *vals; /* n values (n tuples of n_cols values for multi-column) */
	uint32_t n;
	bool entry;     /* m[key] = value on a map */
	struct val key; /* entry: the map key */
	bool implied;   /* part of a multi-column slice the read narrows: no ALLOW FILTERING */
};

/* Relations a SELECT may filter on: far more than any real query writes. */
#define MAX_FILTERS 32

/* Restrictions on the primary key, resolved to values. */
struct where {
	/* partition key: per column a list of values (1 for =, n for IN) */
	struct val *pk_vals[STORE_MAX_PK_COLS];
	uint32_t pk_n[STORE_MAX_PK_COLS];
	uint32_t n_pk_restricted;
	/* clustering: EQ/IN prefix of columns, then an optional slice on the next */
	struct val *ck_vals[STORE_MAX_CK_COLS];
	uint32_t ck_n[STORE_MAX_CK_COLS];
	uint32_t n_ck_eq;
	bool has_lower, has_upper;
	bool lower_incl, upper_incl;
	struct val lower, upper; /* on clustering column n_ck_eq */
	int slice_col;           /* -1 = none */
	/* token(pk) range (start, end] */
	bool has_token;
	int64_t tok_start, tok_end;
	/* SELECT only: what is checked row by row, and the refusal without ALLOW
	 * FILTERING (Cassandra's message for the first relation that needs it) */
	struct filter filt[MAX_FILTERS];
	uint32_t n_filt;
	uint32_t n_af; /* filters that need ALLOW FILTERING */
	const char *af_msg;
	/* SELECT only: the secondary index that answers filt[ix_filt] (NULL: none); a ring
	 * scan reads through it, the filter still checks the reconciled rows */
	const struct schema_index *ix;
	uint32_t ix_filt;
	/* SELECT only: (c1, c2) IN ((..), ..) on the clustering columns from tup_pos:
	 * n_tup tuples of tup_cols values; the prefix combinations are the product
	 * of the single-column lists before it and these tuples */
	struct val *tup_vals;
	uint32_t n_tup, tup_pos, tup_cols;
};

/* ---- error.c ---- */

/*
 * Record a failure on req: `code` (a negative COL_E*) and a message naming what
 * failed and why.  Returns the code req now carries, which is an earlier one if
 * req had failed already: the first failure wins.
 */
int req_fail(struct exec_req *req, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Fail req with `code` and the message a lower layer left in e. */
int req_fail_cerr(struct exec_req *req, int code, const struct cerr *e);
/* Fail req with a request's outcome from the router: code, message, replica counts. */
int req_fail_outcome(struct exec_req *req, const struct cerr *r);

/* ---- executor.c ---- */

/* The coordinator's write timestamp: microseconds, strictly increasing. */
int64_t exec_now_us(struct executor *ex);
/*
 * A new execution of `p` (referenced; NULL for a protocol BATCH, which sets
 * q->plan per statement) with the request's parameters.  Bound values (resolved
 * by name with flag 0x40) and the paging state are copied, so the frame may go
 * away.  On failure nothing is answered: the caller answers the failed request.
 */
int xq_new(struct executor *ex, struct exec_req *req, struct plan *p,
           const struct cql_query_params *qp, struct xq **out);
/* As many values bound as the plan has markers. */
int xq_check_binds(struct xq *q);
void xq_run(struct xq *q);
void xq_finish(struct xq *q);
bool run_with_params(struct executor *ex, struct exec_req *req, struct plan *p,
                     const struct cql_query_params *qp);

/* ---- messages.c, batch.c ---- */

bool exec_msg_query(struct executor *ex, struct exec_req *req, struct bufreader *r);
void exec_msg_prepare(struct executor *ex, struct exec_req *req, struct bufreader *r);
bool exec_msg_execute(struct executor *ex, struct exec_req *req, struct bufreader *r);
bool exec_msg_batch(struct executor *ex, struct exec_req *req, struct bufreader *r);
/* The plan of a prepared statement, re-planned if the schema changed since. */
int prepared_plan(struct executor *ex, struct exec_req *req, struct prepared_stmt *ps,
                  struct plan **out);
/* A BATCH statement in CQL text (BEGIN BATCH ... APPLY BATCH); ends in xq_finish. */
void batch_stmt_run(struct xq *q);
struct batchx;
void batchx_free(struct batchx *bx);
/* Fail req with Unprepared (COL_ENOTFOUND naming the statement id). */
int unprepared(struct exec_req *req, const struct cql_slice *id);

/* ---- plan.c ---- */

/* Parse and plan a statement text: *out (one reference) on success. */
int plan_build(struct executor *ex, struct exec_req *req, const char *text, size_t len,
               struct plan **out);
/* A new reference to the snapshot executor_run holds (no lock: it is held). */
const struct schema_snap *exec_snap_ref(struct executor *ex);
struct plan *plan_ref(struct plan *p);
void plan_unref(struct plan *p);
void plan_unref_cb(void *p);
const char *qname_ks(const struct cql_qname *q, const struct exec_session *s);
int resolve_table(struct exec_req *req, const struct schema_snap *snap, const struct cql_qname *q,
                  struct plan *p);
int column_index(const struct schema_table *t, const char *name);
int undefined_column(struct exec_req *req, const struct plan *p, const char *name);
/* INSERT JSON (insert_json.c): the values the JSON object gives each column, by column
 * index (set[] marks the ones written), Cassandra's DEFAULT NULL/UNSET and messages. */
struct cql_insert;
int insert_json_values(struct xq *q, const struct cql_insert *ins, struct val *vals, bool *set);
const struct cqltype *bind_type(const struct plan *p, uint32_t index);

/* ---- plan_select.c ---- */

/* The selectors of a SELECT (p->sel), its aggregation and GROUP BY, checked. */
int plan_select(struct exec_req *req, struct plan *p);

/* ---- values.c ---- */

/* The literal kind core/cqltype.h converts for a constant term kind. */
enum cqllit_kind term_lit_kind(enum cql_term_kind k);

int term_value(struct xq *q, const struct cql_term *t, const struct cqltype *type, struct val *out,
               const char *what);
int term_int64(struct xq *q, const struct cql_term *t, bool is_bigint, int64_t *out,
               const char *what);

/* ---- where.c ---- */

/*
 * Resolve the relations of a WHERE to key values in *w: partition key values,
 * an EQ/IN prefix of clustering values and an optional slice on the next
 * column (only if allow_ck_slice), or a token range.  Refuses what would need
 * filtering (UPDATE, DELETE, virtual tables).
 */
int analyze_where(struct xq *q, struct cql_relation *const *rels, uint32_t n_rels, struct where *w,
                  bool allow_ck_slice);
/*
 * The WHERE of a table SELECT: as analyze_where, but what does not fit that
 * shape becomes a filter (w->filt), which the caller refuses without ALLOW
 * FILTERING with w->af_msg (where_select.c).
 */
int analyze_select_where(struct xq *q, struct cql_relation *const *rels, uint32_t n_rels,
                         struct where *w);
/* An empty where: nothing restricted, the whole token ring. */
void where_init(struct where *w);
/* Restrict partition key column c by relation r (= or IN). */
int where_partition(struct xq *q, const struct cql_relation *r, const struct schema_column *c,
                    struct where *w);
/* One bound of the slice on clustering column c (r is >, >=, < or <=). */
int where_slice(struct xq *q, const struct cql_relation *r, const struct schema_column *c,
                struct where *w);
/* Narrow w's token range by token(...) relation r. */
int where_token(struct xq *q, const struct cql_relation *r, struct where *w);
/* The values a relation gives column c (1 for =, n for IN); never null or unset. */
int where_values(struct xq *q, const struct cql_relation *r, const struct schema_column *c,
                 struct val **vals, uint32_t *n);

/* ---- filter.c ---- */

/* Cassandra's refusal of a query that needs ALLOW FILTERING. */
extern const char filtering_msg[];
/*
 * Add relation r on column ci (a single-column relation, or a map entry m[k] = v)
 * as a filter of w: its operator checked against the column's type with
 * Cassandra's messages, its values resolved.  why: the refusal without ALLOW
 * FILTERING, kept if it is the first.
 */
int filter_add(struct xq *q, struct where *w, const struct cql_relation *r, int ci,
               const char *why);
/* Add column ci restricted to the n values vals (= or IN) as a filter. */
int filter_add_values(struct xq *q, struct where *w, int ci, struct val *vals, uint32_t n,
                      const char *why);
/*
 * Add multi-column relation r on the clustering columns from table column ci
 * as a filter: its tuple values resolved (each a literal tuple or elements
 * bound one by one).  implied: the read's slice already narrows it.
 */
int filter_add_multi(struct xq *q, struct where *w, const struct cql_relation *r, int ci,
                     const char *why, bool implied);
/* The values of tuple term t for the n_cols columns from table column ci into v. */
int tuple_values(struct xq *q, const struct cql_relation *r, const struct cql_term *t, int ci,
                 struct val *v);
/* Whether the clustering values ck of a row satisfy multi-column filter f. */
bool filter_match_tuple(const struct filter *f, const struct schema_table *t,
                        const struct store_value *ck);
/* Whether value (v, len; len < 0: null) of a column of type t satisfies f. */
bool filter_match(const struct filter *f, const struct cqltype *t, const uint8_t *v, int32_t len);
/* How many combinations the per-column value lists n[0..cols) make. */
uint64_t where_product(const uint32_t *n, uint32_t cols);
/* Combination number idx of the value lists, one value per column into out. */
void where_pick(struct val *const *vals, const uint32_t *n, uint32_t cols, uint64_t idx,
                struct store_value *out);
/*
 * The clustering slice of one EQ/IN combination `prefix` (w->n_ck_eq values)
 * extended by w's slice bounds, in storage order (a DESC column swaps them):
 * lo and hi are the caller's arrays of STORE_MAX_CK_COLS, *out points into them.
 */
void where_bounds(const struct where *w, const struct schema_table *t,
                  const struct store_value *prefix, struct store_value *lo, struct store_value *hi,
                  struct store_slice *out);

/* ---- selection.c ---- */

/* What a selector reads: a row of a partition and that partition's static row. */
struct selrow {
	const struct schema_table *t;
	const struct store_partition *part;
	const struct store_row *r;
	const struct store_row *statics; /* NULL: none read */
	int64_t now_s;
	struct executor *ex;
	const struct cql_slice *values; /* the statement's bound values (selection markers) */
	uint32_t n_values;
};

/* Append column c of row r as [bytes] (collections reassembled; WRITETIME, TTL). */
void put_cell(const struct schema_column *c, const struct store_row *r, enum sel_kind kind,
              int64_t now_s, struct buf *out);
/* Append selector sc evaluated on row as [bytes]; COL_EINVAL with e on a value a
 * function refuses. */
int sel_put(const struct sel_col *sc, const struct selrow *row, struct buf *out, struct cerr *e);

/* ---- selection_sub.c ---- */

/* Append ELEMENT, SLICE or FIELD selector sc evaluated on row as [bytes]. */
int put_subsel(const struct sel_col *sc, const struct selrow *row, struct buf *out, struct cerr *e);
/* Plan x (CQL_SEL_ELEMENT, CQL_SEL_SLICE or CQL_SEL_FIELD) into o; args[0] planned
 * by plan_inner. */
int plan_subsel(struct exec_req *req, struct plan *p, const struct cql_selector *x,
                struct sel_col *o,
                int (*plan_inner)(struct exec_req *, struct plan *, const struct cql_selector *,
                                  struct sel_col *, bool));

/* The running value of one aggregate selector. */
struct agg_state {
	int64_t count;
	__int128 isum; /* integers, varint; decimal: the unscaled sum at `scale` */
	int32_t scale;
	double dsum;
	struct buf v; /* MIN, MAX: the value so far */
	bool has;
};
void agg_reset(struct agg_state *a);
/* Fold row into a (sc is SEL_COUNT or SEL_AGG); scratch is a work buffer. */
int agg_add(const struct sel_col *sc, struct agg_state *a, const struct selrow *row,
            struct buf *scratch, struct cerr *e);
/* Append the aggregate's result as [bytes]. */
void agg_put(const struct sel_col *sc, const struct agg_state *a, struct buf *out);

/* ---- select.c, select_virtual.c ---- */

void exec_select(struct xq *q);
void selx_free(struct selx *x);
/* A zeroed SELECT state (a spare's buffers kept) or NULL; selx_put gives it back to ex's
 * spares (or frees it when they are full). */
struct selx *selx_get(struct executor *ex);
void selx_put(struct executor *ex, struct selx *x);
int select_virtual(struct xq *q, int64_t limit);

/* ---- describe.c ---- */

/* DESCRIBE in any form (describe.h); ends in xq_finish. */
void describe_run(struct xq *q);

/* ---- modify.c ---- */

/* The mutation set of q, made on first use. */
int xq_mutset(struct xq *q, struct mutset **out);
/* Check the replicas can take q's statement at q->cl, then add its mutations to ms. */
int modify_collect(struct xq *q, struct mutset *ms);
/* INSERT, UPDATE or DELETE: collect and write; ends in xq_finish. */
void modify_run(struct xq *q);
void write_start(struct xq *q, enum cerr_write_type wt);
void mutset_free(struct mutset *ms);
/*
 * The rows an UPDATE or DELETE writes, checked as modify_collect checks them:
 * its WHERE in *w, np partitions times nc clustering combinations, row number
 * pi * nc + ci.
 */
int modify_rows(struct xq *q, struct where *w, uint64_t *np, uint64_t *nc);

/* ---- modify_read.c ---- */

/* One live element of a list read before the write. */
struct lelem {
	uint64_t row; /* row number (modify_rows) */
	uint32_t col; /* column id */
	const uint8_t *path;
	size_t path_len;
	const uint8_t *value;
	size_t value_len;
};
struct lread;
/* Whether the statement of p needs its lists read first (l[i] = v, DELETE l[i],
 * l = l - [...] on a non-frozen list). */
bool modify_needs_read(const struct plan *p);
/* Read the lists at q->cl, then collect and write; ends in xq_finish. */
void modify_read_run(struct xq *q);
/* Read the lists q->plan's statement (with q->values) needs at q->cl into q->lr, then
 * call then(q) — also when the reads failed (q->req->err set). */
void lread_start(struct xq *q, void (*then)(struct xq *q));
/* The elements of list column `col` at row number `row`, in list order:
 * *out the first of the count returned (none: the list is null). */
size_t lread_list(const struct xq *q, uint64_t row, uint32_t col, const struct lelem **out);
void lread_free(struct lread *lr);

/* ---- ddl.c ---- */

int exec_keyspace_ddl(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                      int64_t ts);
int exec_create_table(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                      int64_t ts);
int exec_alter_table(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                     int64_t ts);
int exec_drop_table(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                    int64_t ts);
/* ---- index_ddl.c ---- */

int exec_create_index(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                      int64_t ts);
/* CREATE / ALTER / DROP TYPE (type_ddl.c). */
/* The type of a column or field definition, user types resolved in keyspace k (NULL:
 * none); refused with COL_EINVAL "<what><why>". */
int exec_parse_column_type(struct exec_req *req, const struct schema_keyspace *k, const char *what,
                           const struct cql_column_def *cd, const struct cqltype **out);
int exec_type_stmt(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                   int64_t ts);
int exec_drop_index(struct executor *ex, struct exec_req *req, const struct cql_stmt *st,
                    int64_t ts);
/* TRUNCATE through the router (every replica); the request finishes in its completion. */
void truncate_run(struct xq *q);
int exec_use(struct executor *ex, struct exec_req *req, const struct cql_stmt *st);

/* ---- access.c ---- */

/* The permissions p's statement needs (a BATCH: each child's); 0 or the failure on req. */
int access_check_plan(struct executor *ex, struct exec_req *req, const struct plan *p);
bool access_is_role_stmt(const struct cql_stmt *st);
/* A role or permission statement: handed to the access hooks; ends in xq_finish. */
void access_run_role_stmt(struct xq *q);
/* True when req waits for its session's permissions (exec_dispatch runs it later). */
bool access_park(struct executor *ex, struct exec_req *req);
/* executor_run without the wait for permissions. */
void exec_dispatch(struct executor *ex, struct exec_req *req);

/* ---- results.c ---- */

void put_col_specs(struct buf *b, const struct plan *p, const char *ks, const char *table);
/* Rows metadata; returns the offset of rows_count to patch. */
size_t begin_rows(struct buf *b, const struct plan *p, bool no_meta, const struct buf *paging);
/* SELECT JSON: the n_sel cells of a row written at b[at..] become one text cell, the
 * row as a JSON object (names and values as Cassandra writes them); else nothing. */
void json_row_rewrite(const struct plan *p, struct buf *b, size_t at);
void put_prepared(struct buf *b, const struct prepared_stmt *ps, const struct plan *p);

#endif
