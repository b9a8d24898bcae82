/*
 * cql_ast.h — the syntax tree of one cqlish statement, and the arena it lives in.
 *
 * cql_parse() (coordinator/cql/cql_parser.h) turns CQL text into a `struct cql_stmt`.
 * The tree is purely syntactic: names are not resolved, literals are not yet
 * converted to column types (an integer literal may become an int, a bigint, a
 * varint, a float or a timestamp depending on the column it meets), and nothing
 * is checked against the schema.  The executor does all of that.
 *
 * Memory: every node, string and array of a statement is allocated from one
 * `struct cql_arena` (nginx-pool style) and freed with it in one go; nothing in
 * the tree is ever freed on its own.  The tree never points into the caller's
 * text: it may be freed as soon as cql_parse() returns.  A tree is immutable
 * after parsing and may be shared by threads (the prepared-statement cache).
 *
 * Invariants the executor can rely on:
 *  - every node has a `struct cql_pos` (where it starts in the text);
 *  - identifiers: unquoted ones are folded to lower case, "quoted" ones are kept
 *    as written with "" turned into "; neither is ever empty or contains a NUL;
 *  - arrays are `T *items` (or `T **items` for nodes a bind marker may point
 *    into, so they never move) + `uint32_t n_items`; n == 0: the clause was absent;
 *  - bind markers (`?` and `:name`) are numbered 0, 1, 2 ... in order of appearance
 *    across the whole statement (a BATCH included); `cql_stmt.binds[i]` describes
 *    marker i and what it binds to (its receiver), so bind variable specs and
 *    pk_indexes for a PREPARE reply come from one pass over that array;
 *  - CREATE TABLE always has exactly one primary key (the parser rejects none or
 *    several, as Cassandra does).
 */
#ifndef COLONNADE_COORDINATOR_CQL_AST_H
#define COLONNADE_COORDINATOR_CQL_AST_H

#include "core/cqlproto.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* ---------------------------------------------------------------- arena */

/*
 * A bump allocator: chunks of memory handed out front to back, released all at
 * once by cql_arena_free().  Allocations are 16-byte aligned and zeroed.
 * Not thread-safe while allocating; a finished tree is read-only.
 */
struct cql_arena;

/* A new empty arena, or NULL when out of memory. */
struct cql_arena *cql_arena_new(void);
/* Free the arena and everything allocated from it.  NULL is a no-op. */
void cql_arena_free(struct cql_arena *a);
/* Empty the arena for reuse: everything allocated from it is gone; its first chunk is
 * kept (when it is of the first size), so a small user allocates nothing. */
void cql_arena_reset(struct cql_arena *a);
/* `n` zeroed bytes, or NULL when out of memory or past the arena's bound. */
void *cql_arena_alloc(struct cql_arena *a, size_t n);
/* A NUL-terminated copy of s[0..n) (s may contain no NUL), or NULL. */
char *cql_arena_strndup(struct cql_arena *a, const char *s, size_t n);
/* Bytes handed out so far (for metrics and bounds). */
size_t cql_arena_used(const struct cql_arena *a);

/*
 * Bound on the memory one statement may use: a 16 MiB query (the text bound in
 * cql_parser.h) builds at most a few times its size in nodes; 256 MiB stops an
 * adversarial text from taking the node's memory.
 */
#define CQL_ARENA_MAX_BYTES (256u * 1024 * 1024)

/* ------------------------------------------------------------- positions */

/*
 * Where something starts in the statement text.  `line` counts from 1; `col`
 * counts characters (UTF-8 code points) from 0, exactly as Cassandra's error
 * messages do ("line 1:9 ..."); `off` is the byte offset from the text start.
 */
struct cql_pos {
	uint32_t line;
	uint32_t col;
	uint32_t off;
};

/* An identifier: keyspace, table, column, alias, option or function name. */
struct cql_ident {
	const char *name; /* folded to lower case unless quoted; NUL-terminated */
	struct cql_pos pos;
	bool quoted; /* written as "Name" */
};

/* [keyspace.]name; ks.name == NULL when no keyspace was written. */
struct cql_qname {
	struct cql_ident ks;
	struct cql_ident name;
};

/* ----------------------------------------------------------------- terms */

enum cql_term_kind {
	CQL_TERM_NULL = 1, /* null */
	CQL_TERM_STRING,   /* 'text' or $$text$$ */
	CQL_TERM_INTEGER,  /* 42, -7, 123456789012345678901234567890 */
	CQL_TERM_FLOAT,    /* 1.5, -2e10, NaN, Infinity, -Infinity */
	CQL_TERM_BOOL,     /* true / false */
	CQL_TERM_UUID,     /* 01234567-89ab-cdef-0123-456789abcdef (unquoted) */
	CQL_TERM_BLOB,     /* 0xcafe */
	CQL_TERM_LIST,     /* [t, ...] */
	CQL_TERM_SET,      /* {t, ...} */
	CQL_TERM_MAP,      /* {k: v, ...}; also `{}`, which may stand for an empty set */
	CQL_TERM_TUPLE,    /* (t, ...) */
	CQL_TERM_BIND,     /* ? or :name */
	CQL_TERM_FUNC,     /* name(args): now(), uuid(), toTimestamp(now()), ... */
	CQL_TERM_IDENT,    /* an unquoted word as a WITH option value (WITH a = b) */
	CQL_TERM_DURATION, /* 1h30m, -2d (unquoted; text as written, sign included) */
	CQL_TERM_UDT       /* {field: t, ...}: a user-defined type value */
};

struct cql_term {
	enum cql_term_kind kind;
	struct cql_pos pos;
	/*
	 * The literal as written (number text with its sign, the word, the uuid,
	 * "0x..." for blobs, "true", "1h30m"), for STRING the decoded value ('' -> ',
	 * $$...$$ without the dollars); exactly what core/cqltype.h's
	 * cqltype_from_literal() takes.  Set for NULL..BLOB, IDENT and DURATION, NULL for the
	 * composite kinds.  NUL-terminated; text_len excludes the terminator (a
	 * string literal may contain NUL bytes).
	 */
	const char *text;
	size_t text_len;
	union {
		/* INTEGER: value when it fits int64 (fits == false: only text). */
		struct {
			int64_t value;
			bool fits;
		} integer;
		double flt;       /* FLOAT (NaN and +-Infinity included) */
		bool boolean;     /* BOOL */
		uint8_t uuid[16]; /* UUID, big-endian as on the wire */
		struct {
			const uint8_t *data;
			size_t len;
		} blob; /* BLOB: the decoded bytes (0x is an empty blob) */
		/* LIST, SET, TUPLE */
		struct {
			struct cql_term **items;
			uint32_t n_items;
		} coll;
		/* MAP: keys[i] -> values[i] */
		struct {
			struct cql_term **keys;
			struct cql_term **values;
			uint32_t n_entries;
		} map;
		/* UDT: field names[i] = values[i] */
		struct {
			struct cql_ident *names;
			struct cql_term **values;
			uint32_t n_fields;
		} udt;
		/* BIND: index into cql_stmt.binds; name is NULL for `?`. */
		struct {
			uint32_t index;
			const char *name; /* :name, folded like an identifier */
		} bind;
		/* FUNC */
		struct {
			struct cql_qname name;
			struct cql_term **args;
			uint32_t n_args;
		} func;
	};
};

/* --------------------------------------------------------------- types */

/*
 * A column type as written: `int`, `list<int>`, `map<text, frozen<set<int>>>`,
 * `tuple<int, text>`, a user type name.  `name` is lower case ("int", "list",
 * "map", "set", "frozen", "tuple", or the type's name); `text` is the canonical
 * spelling of the whole type ("map<text, int>"), which core/cqltype.h parses.
 */
struct cql_type {
	const char *name;
	const char *text;
	struct cql_pos pos;
	struct cql_type **args;
	uint32_t n_args;
	bool quoted; /* name was a 'quoted' custom class or a "Quoted" user type */
};

/* ------------------------------------------------------------ relations */

enum cql_op {
	CQL_OP_NONE = 0,     /* not a comparison (assignments, INSERT values, ...) */
	CQL_OP_EQ,           /* = */
	CQL_OP_NEQ,          /* != */
	CQL_OP_LT,           /* < */
	CQL_OP_LTE,          /* <= */
	CQL_OP_GT,           /* > */
	CQL_OP_GTE,          /* >= */
	CQL_OP_IN,           /* IN */
	CQL_OP_CONTAINS,     /* CONTAINS */
	CQL_OP_CONTAINS_KEY, /* CONTAINS KEY */
	CQL_OP_LIKE          /* LIKE */
};

enum cql_rel_kind {
	CQL_REL_COLUMN = 1, /* a op term;         cols[0] = a */
	CQL_REL_MULTI,      /* (a, b) op term;     cols = a, b; term is a TUPLE or a BIND */
	CQL_REL_TOKEN,      /* token(a, b) op term; cols = a, b */
	CQL_REL_ELEMENT     /* m[key] op term (IF conditions); cols[0] = m, key set */
};

/*
 * One WHERE relation (or IF condition).  For op IN: `in_items` holds the listed
 * terms (`a IN (1, 2)`; for CQL_REL_MULTI each is a TUPLE or a BIND), or, for
 * `a IN ?`, n_in == 0 and `term` is the BIND; `a IN ()` has n_in == 0 and
 * term == NULL.  For every other op `term` is the right side.
 */
struct cql_relation {
	enum cql_rel_kind kind;
	enum cql_op op;
	struct cql_pos pos;
	struct cql_ident *cols;
	uint32_t n_cols;
	struct cql_term *key; /* CQL_REL_ELEMENT only */
	struct cql_term *term;
	struct cql_term **in_items;
	uint32_t n_in;
};

/* ---------------------------------------------------------- bind markers */

/*
 * What a bind marker binds to: its "receiver".  With `column` (a pointer into
 * the statement's tree) and the table's schema the executor derives the type
 * and the name of each bind variable spec:
 */
enum cql_bind_role {
	CQL_BIND_COLUMN = 1,    /* a value of `column` (INSERT value, SET c = ?, WHERE c op ?,
	                           an element of an IN list, a tuple element of (c1, c2) op (?, ?)) */
	CQL_BIND_IN_LIST,       /* WHERE column IN ?: a list<type of column> */
	CQL_BIND_MULTI,         /* (c1, c2) op ? or (c1, c2) IN (?, ?): a tuple of the columns
	                           of `rel` */
	CQL_BIND_MULTI_IN_LIST, /* (c1, c2) IN ?: a list of such tuples */
	CQL_BIND_TOKEN,         /* token(...) op ?: a bigint token ("partition key token") */
	CQL_BIND_ELEMENT,       /* an element of a list/set literal for `column` ([?], {?}) or
	                           c CONTAINS ?; for a map column {?} is a set of its keys (m - {?}) */
	CQL_BIND_MAP_KEY,       /* a key in a map literal for `column` ({?: v}); CONTAINS KEY ? */
	CQL_BIND_MAP_VALUE,     /* a value in a map literal for `column` ({k: ?}) */
	CQL_BIND_SUBSCRIPT,     /* the k in c[k] (SET, DELETE, IF): an int index when `column` is a
	                           list, a key when it is a map */
	CQL_BIND_SUBSCRIPT_VALUE,     /* the v in SET c[k] = v, IF c[k] = v: an element of list
	                                 `column`, a value of map `column` */
	CQL_BIND_FIELD,               /* field `field` of user type `column`: SET c.f = ?, a
	                                 field of a user type literal ({f: ?}) for `column` */
	CQL_BIND_NESTED,              /* deeper inside literals for `column` ([{f: ?}], (1, ?),
	                                 {k: [?]}): the part `step` names */
	CQL_BIND_LIMIT,               /* LIMIT ?: an int ("[limit]") */
	CQL_BIND_PER_PARTITION_LIMIT, /* PER PARTITION LIMIT ?: an int */
	CQL_BIND_TTL,                 /* USING TTL ?: an int ("[ttl]") */
	CQL_BIND_TIMESTAMP,           /* USING TIMESTAMP ?: a bigint ("[timestamp]") */
	CQL_BIND_FUNC_ARG,            /* argument `arg_index` of function `func` (a FUNC term) */
	CQL_BIND_JSON,                /* INSERT INTO t JSON ?: the text ("[json]") */
	CQL_BIND_OTHER                /* anywhere else (WITH option values, nested literals) */
};

/*
 * One step from a column's value down to a part of it, for a marker nested in literals
 * (CQL_BIND_NESTED); a chain from the marker's part up to the column.
 */
enum cql_bind_step_kind {
	CQL_STEP_ELEMENT,  /* an element of a list or set */
	CQL_STEP_KEY,      /* a key of a map (or, in a set literal's first item, an element) */
	CQL_STEP_VALUE,    /* a value of a map */
	CQL_STEP_SUBVALUE, /* the v of c[k] = v: a list's element or a map's value */
	CQL_STEP_FIELD,    /* field `field` of a user type */
	CQL_STEP_ITEM      /* item `index` of a tuple */
};

struct cql_bind_step {
	enum cql_bind_step_kind kind;
	uint32_t index;                 /* ITEM */
	const struct cql_ident *field;  /* FIELD */
	const struct cql_bind_step *up; /* the step nearer the column; NULL: the column */
};

struct cql_bind {
	uint32_t index;   /* == position in cql_stmt.binds */
	const char *name; /* :name, or NULL for ? */
	struct cql_pos pos;
	enum cql_bind_role role;
	enum cql_op op; /* the comparison it appears in (CQL_OP_NONE outside WHERE/IF) */
	const struct cql_ident *column;   /* COLUMN, IN_LIST, ELEMENT, MAP_*, SUBSCRIPT*, FIELD */
	const struct cql_ident *field;    /* FIELD */
	const struct cql_bind_step *step; /* NESTED */
	const struct cql_relation *rel;   /* bound inside a WHERE relation or IF condition */
	uint32_t tuple_index;             /* CQL_BIND_COLUMN inside (c1, c2) op (?, ?): which */
	const struct cql_term *func;      /* FUNC_ARG */
	uint32_t arg_index;               /* FUNC_ARG */
	const struct cql_term *term;      /* the BIND term itself */
	struct cql_stmt *stmt;            /* the innermost statement (a BATCH child) */
};

/* -------------------------------------------------------------- clauses */

/* USING TTL t AND TIMESTAMP ts: each NULL when absent (INTEGER or BIND terms). */
struct cql_using {
	struct cql_term *ttl;
	struct cql_term *timestamp;
};

/* WITH name = value AND ...: generic options, kept so unknown ones can be reported. */
struct cql_option {
	struct cql_ident name;
	struct cql_term *value; /* a constant, an IDENT, or a MAP ({'class': ...}) */
};

/* `c` [ASC|DESC] in ORDER BY and WITH CLUSTERING ORDER BY. */
struct cql_ordering {
	struct cql_ident column;
	bool desc;
};

enum cql_selector_kind {
	CQL_SEL_COLUMN = 1, /* c */
	CQL_SEL_COUNT,      /* COUNT(*) or COUNT(1) */
	CQL_SEL_WRITETIME,  /* WRITETIME(c); column set */
	CQL_SEL_TTL,        /* TTL(c); column set */
	CQL_SEL_FUNC,       /* name(args): token(a), count(c), toJson(c), ... */
	CQL_SEL_TERM,       /* a literal argument of a function selector */
	CQL_SEL_CAST,       /* CAST(args[0] AS cast_type) */
	CQL_SEL_ELEMENT,    /* args[0][term]: a map value or set element */
	CQL_SEL_SLICE,      /* args[0][term..term2]: either bound may be NULL (open) */
	CQL_SEL_FIELD       /* args[0].column: a user type's field */
};

struct cql_selector {
	enum cql_selector_kind kind;
	struct cql_pos pos;
	struct cql_ident column;   /* COLUMN, WRITETIME, TTL; FIELD: the field name */
	struct cql_qname func;     /* FUNC: the name, folded ("token", "count") */
	struct cql_selector *args; /* FUNC, CAST; ELEMENT, SLICE, FIELD: args[0] is selected */
	uint32_t n_args;
	struct cql_term *term;      /* TERM; ELEMENT's key; SLICE's lower bound */
	struct cql_term *term2;     /* SLICE's upper bound */
	struct cql_type *cast_type; /* CAST */
	struct cql_ident alias;     /* AS alias; alias.name == NULL when absent */
};

/* ---------------------------------------------------------- statements */

enum cql_stmt_kind {
	CQL_STMT_SELECT = 1,
	CQL_STMT_INSERT,
	CQL_STMT_UPDATE,
	CQL_STMT_DELETE,
	CQL_STMT_BATCH,
	CQL_STMT_USE,
	CQL_STMT_CREATE_KEYSPACE,
	CQL_STMT_ALTER_KEYSPACE,
	CQL_STMT_DROP_KEYSPACE,
	CQL_STMT_CREATE_TABLE,
	CQL_STMT_ALTER_TABLE,
	CQL_STMT_DROP_TABLE,
	CQL_STMT_TRUNCATE,
	CQL_STMT_DESCRIBE,
	/* roles and permissions (struct cql_role_stmt / cql_grant_stmt) */
	CQL_STMT_CREATE_ROLE,
	CQL_STMT_ALTER_ROLE,
	CQL_STMT_DROP_ROLE,
	CQL_STMT_GRANT_ROLE,
	CQL_STMT_REVOKE_ROLE,
	CQL_STMT_LIST_ROLES,
	CQL_STMT_GRANT_PERMISSION,
	CQL_STMT_REVOKE_PERMISSION,
	CQL_STMT_LIST_PERMISSIONS,
	CQL_STMT_CREATE_INDEX,
	CQL_STMT_DROP_INDEX,
	/* user-defined types (struct cql_type_stmt) */
	CQL_STMT_CREATE_TYPE,
	CQL_STMT_ALTER_TYPE,
	CQL_STMT_DROP_TYPE
};

/* Permissions, as Cassandra names them; a set is a mask of bits 1 << p. */
enum cql_permission {
	CQL_PERM_CREATE,
	CQL_PERM_ALTER,
	CQL_PERM_DROP,
	CQL_PERM_SELECT,
	CQL_PERM_MODIFY,
	CQL_PERM_AUTHORIZE,
	CQL_PERM_DESCRIBE,
	CQL_PERM_COUNT
};
#define CQL_PERM_ALL_MASK ((1u << CQL_PERM_COUNT) - 1)
/* "CREATE", "ALTER", ... */
const char *cql_permission_name(enum cql_permission p);

/* A resource permissions are granted on. */
enum cql_resource_kind {
	CQL_RES_ALL_KEYSPACES = 1,
	CQL_RES_KEYSPACE,
	CQL_RES_TABLE, /* table.ks.name NULL: the session's keyspace */
	CQL_RES_ALL_ROLES,
	CQL_RES_ROLE
};

struct cql_resource {
	enum cql_resource_kind kind;
	struct cql_ident keyspace; /* KEYSPACE */
	struct cql_qname table;    /* TABLE */
	const char *role;          /* ROLE */
};

/*
 * CREATE / ALTER / DROP ROLE (and the USER forms), GRANT / REVOKE role, LIST ROLES.
 * Role names are identifiers (folded unless quoted) or string literals (kept).
 */
struct cql_role_stmt {
	const char *role;    /* the role the statement is about (LIST ROLES: OF r, or NULL) */
	const char *grantee; /* GRANT role TO grantee / REVOKE role FROM grantee */
	bool user_syntax;    /* written CREATE/ALTER/DROP USER or LIST USERS */
	bool if_exists, if_not_exists;
	bool norecursive; /* LIST ROLES */
	/* WITH options; -1 = not given */
	const char *password; /* NULL = not given */
	int login, superuser;
};

/* GRANT / REVOKE / LIST permissions. */
struct cql_grant_stmt {
	uint32_t perms;    /* mask of 1 << CQL_PERM_*; ALL gives CQL_PERM_ALL_MASK */
	bool all;          /* written ALL [PERMISSIONS] */
	bool has_resource; /* LIST ... ON resource */
	struct cql_resource resource;
	const char *role; /* TO / FROM / OF role; NULL for LIST without OF */
	bool norecursive;
};

struct cql_select {
	bool distinct;
	bool json; /* SELECT JSON (parsed so the executor can refuse it) */
	bool star; /* SELECT *; then n_selectors == 0 */
	struct cql_selector *selectors;
	uint32_t n_selectors;
	struct cql_qname table;
	struct cql_relation **where;
	uint32_t n_where;
	struct cql_ident *group_by; /* GROUP BY columns, in the order written */
	uint32_t n_group_by;
	struct cql_ordering *order_by;
	uint32_t n_order_by;
	struct cql_term *per_partition_limit; /* NULL when absent */
	struct cql_term *limit;               /* NULL when absent */
	bool allow_filtering;
};

struct cql_insert {
	struct cql_qname table;
	struct cql_ident *columns;
	struct cql_term **values; /* values[i] goes to columns[i]; same count */
	uint32_t n_columns;
	bool if_not_exists; /* a lightweight transaction: parsed to be refused clearly */
	struct cql_using using;
	bool json; /* INSERT INTO t JSON '...': values[0] is the JSON term, n_columns == 0 */
	bool default_unset; /* JSON ... DEFAULT UNSET: columns left out keep their values */
};

enum cql_assign_kind {
	CQL_ASSIGN_SET = 1, /* c = v */
	CQL_ASSIGN_ADD,     /* c = c + v, c += v (append, add to set/map, counter +) */
	CQL_ASSIGN_SUB,     /* c = c - v, c -= v */
	CQL_ASSIGN_PREPEND, /* c = v + c (lists) */
	CQL_ASSIGN_ELEMENT, /* c[key] = v */
	CQL_ASSIGN_FIELD    /* c.field = v (a non-frozen user type) */
};

struct cql_assignment {
	enum cql_assign_kind kind;
	struct cql_pos pos;
	struct cql_ident column;
	struct cql_term *key;   /* ELEMENT */
	struct cql_ident field; /* FIELD */
	struct cql_term *value;
};

/* IF EXISTS / IF cond AND ... on UPDATE and DELETE (LWT; parsed to be refused). */
struct cql_conditions {
	bool if_exists;
	struct cql_relation **conds;
	uint32_t n_conds;
};

struct cql_update {
	struct cql_qname table;
	struct cql_using using;
	struct cql_assignment **assignments;
	uint32_t n_assignments;
	struct cql_relation **where;
	uint32_t n_where;
	struct cql_conditions cond;
};

/* DELETE target: a column, one element `c[key]` of a collection or one field `c.f` of a
 * user type. */
struct cql_delete_target {
	struct cql_ident column;
	struct cql_term *key;   /* NULL for the whole column */
	struct cql_ident field; /* field.name NULL unless `c.f` */
};

struct cql_delete {
	struct cql_delete_target **targets; /* n_targets == 0: delete rows/partitions */
	uint32_t n_targets;
	struct cql_qname table;
	struct cql_using using; /* only timestamp is allowed; ttl is always NULL */
	struct cql_relation **where;
	uint32_t n_where;
	struct cql_conditions cond;
};

/* The batch type is the protocol's BATCH type byte: enum cql_batch_type (core/cqlproto.h). */

struct cql_batch {
	enum cql_batch_type type;
	struct cql_using using;  /* USING TIMESTAMP for the whole batch */
	struct cql_stmt **stmts; /* INSERT, UPDATE, DELETE only */
	uint32_t n_stmts;
};

struct cql_use {
	struct cql_ident keyspace;
};

struct cql_keyspace_stmt { /* CREATE, ALTER, DROP KEYSPACE */
	struct cql_ident keyspace;
	bool if_not_exists;         /* CREATE */
	bool if_exists;             /* ALTER (Cassandra 4.1), DROP */
	struct cql_option *options; /* replication, durable_writes, ... */
	uint32_t n_options;
};

struct cql_column_def {
	struct cql_ident name;
	struct cql_type *type;
	bool is_static;
};

struct cql_create_table {
	struct cql_qname table;
	bool if_not_exists;
	struct cql_column_def *columns;
	uint32_t n_columns;
	struct cql_ident *partition_key; /* at least one */
	uint32_t n_partition_key;
	struct cql_ident *clustering_key;
	uint32_t n_clustering_key;
	struct cql_ordering *clustering_order; /* WITH CLUSTERING ORDER BY (...) */
	uint32_t n_clustering_order;
	bool compact_storage; /* WITH COMPACT STORAGE (parsed to be refused) */
	struct cql_option *options;
	uint32_t n_options;
};

enum cql_alter_table_kind {
	CQL_ALTER_ADD = 1, /* ADD c type, ADD (c type, ...) */
	CQL_ALTER_DROP,    /* DROP c, DROP (c, ...) */
	CQL_ALTER_WITH,    /* WITH opt = v AND ... */
	CQL_ALTER_RENAME,  /* RENAME a TO b AND c TO d (parsed to be refused) */
	CQL_ALTER_TYPE     /* ALTER c TYPE t (parsed to be refused) */
};

struct cql_alter_table {
	struct cql_qname table;
	bool if_exists;
	enum cql_alter_table_kind kind;
	struct cql_column_def *add; /* ADD; ALTER TYPE (one column) */
	uint32_t n_add;
	struct cql_ident *drop; /* DROP */
	uint32_t n_drop;
	struct cql_option *options; /* WITH */
	uint32_t n_options;
	struct cql_ident *rename_from; /* RENAME: from[i] TO to[i] */
	struct cql_ident *rename_to;
	uint32_t n_rename;
};

struct cql_drop_table {
	struct cql_qname table;
	bool if_exists;
};

/* What of a column CREATE INDEX indexes: col, KEYS(col), VALUES(col), ENTRIES(col), FULL(col). */
enum cql_index_target {
	CQL_INDEX_PLAIN = 0,
	CQL_INDEX_KEYS,
	CQL_INDEX_VALUES,
	CQL_INDEX_ENTRIES,
	CQL_INDEX_FULL
};

/* CREATE INDEX [IF NOT EXISTS] [name] ON [ks.]t (target) */
struct cql_create_index {
	struct cql_ident name; /* name.name NULL when absent: the server names it */
	struct cql_qname table;
	struct cql_ident column;
	enum cql_index_target target;
	bool if_not_exists;
};

/* DROP INDEX [IF EXISTS] [ks.]name */
struct cql_drop_index {
	struct cql_qname index;
	bool if_exists;
};

/*
 * CREATE TYPE [IF NOT EXISTS] [ks.]t (f type, ...)
 * ALTER TYPE [ks.]t ADD f type | RENAME f TO g [AND f2 TO g2 ...]
 * DROP TYPE [IF EXISTS] [ks.]t
 */
struct cql_type_stmt {
	struct cql_qname type;
	bool if_not_exists, if_exists;
	struct cql_column_def *fields; /* CREATE: every field; ALTER ADD: the one added */
	uint32_t n_fields;
	bool rename; /* ALTER ... RENAME */
	struct cql_ident *rename_from, *rename_to;
	uint32_t n_rename;
};

struct cql_truncate {
	struct cql_qname table;
};

/* DESCRIBE / DESC (Cassandra 4's server-side form; docs/CQL.md). */
enum cql_describe_kind {
	CQL_DESC_CLUSTER = 1,
	CQL_DESC_SCHEMA, /* [FULL] SCHEMA */
	CQL_DESC_KEYSPACES,
	CQL_DESC_KEYSPACE, /* [ONLY] KEYSPACE [ks]: name.name NULL for the current one */
	CQL_DESC_TABLES,   /* TABLES, COLUMNFAMILIES */
	CQL_DESC_TYPES,
	CQL_DESC_FUNCTIONS,
	CQL_DESC_AGGREGATES,
	CQL_DESC_TABLE,     /* TABLE, COLUMNFAMILY [ks.]t */
	CQL_DESC_INDEX,     /* INDEX [ks.]i */
	CQL_DESC_VIEW,      /* MATERIALIZED VIEW [ks.]v */
	CQL_DESC_TYPE,      /* TYPE [ks.]t */
	CQL_DESC_FUNCTION,  /* FUNCTION [ks.]f */
	CQL_DESC_AGGREGATE, /* AGGREGATE [ks.]a */
	CQL_DESC_GENERIC    /* [ks.]name: a keyspace, table, index or view */
};

struct cql_describe {
	enum cql_describe_kind kind;
	bool full;             /* FULL SCHEMA */
	bool only;             /* ONLY KEYSPACE */
	bool internals;        /* WITH INTERNALS */
	struct cql_qname name; /* name.name NULL when absent */
};

struct cql_stmt {
	enum cql_stmt_kind kind;
	struct cql_pos pos;
	/* This statement's own text (from its first token to its last), a copy. */
	const char *text;
	size_t text_len;
	/*
	 * Bind markers of this statement, in index order.  For a BATCH, all
	 * markers of all children; a child's binds/n_binds is the slice of its
	 * parent's array for its own markers (their indexes stay global).
	 */
	struct cql_bind *binds;
	uint32_t n_binds;
	union {
		struct cql_select select;
		struct cql_insert insert;
		struct cql_update update;
		struct cql_delete del;
		struct cql_batch batch;
		struct cql_use use;
		struct cql_keyspace_stmt keyspace; /* CREATE/ALTER/DROP KEYSPACE */
		struct cql_create_table create_table;
		struct cql_alter_table alter_table;
		struct cql_drop_table drop_table;
		struct cql_create_index create_index;
		struct cql_drop_index drop_index;
		struct cql_type_stmt type_stmt;
		struct cql_truncate truncate;
		struct cql_describe describe;
		struct cql_role_stmt role;
		struct cql_grant_stmt grant;
	};
};

/* ------------------------------------------------------------- helpers */

/* "SELECT", "CREATE TABLE", ...: the statement kind as a user reads it. */
const char *cql_stmt_kind_name(enum cql_stmt_kind k);
/* "=", "<=", "IN", "CONTAINS KEY", ... */
const char *cql_op_name(enum cql_op op);
/* "string", "integer", "map", "bind marker", ...: for "invalid X for column c". */
const char *cql_term_kind_name(enum cql_term_kind k);

/*
 * Append the statement (or term, or type) as canonical cqlish text: keywords
 * upper case, identifiers quoted only when needed, strings re-escaped, one
 * space between tokens.  Parsing the output gives an equal tree (the fuzz
 * target checks this), so it serves tests, logs and DESCRIBE-like output.
 */
void cql_stmt_format(const struct cql_stmt *s, struct buf *out);
void cql_term_format(const struct cql_term *t, struct buf *out);
void cql_ident_format(const struct cql_ident *id, struct buf *out);
/* `a = 1`, `(a, b) > (1, 2)`, `m['k'] = 3`: one relation as Cassandra's messages quote it. */
void cql_relation_format(const struct cql_relation *r, struct buf *out);
/* Quote `name` as an identifier if it needs it (upper case, keyword, odd chars). */
void cql_name_format(const char *name, struct buf *out);

#endif
