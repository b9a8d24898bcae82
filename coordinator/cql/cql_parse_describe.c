/*
 * cql_parse_describe.c — DESCRIBE / DESC, as Cassandra 4's Parser.g reads it:
 *
 *   DESCRIBE ( CLUSTER | [FULL] SCHEMA | KEYSPACES | [ONLY] KEYSPACE [ks]
 *            | TABLES | COLUMNFAMILIES | TYPES | FUNCTIONS | AGGREGATES
 *            | (TABLE | COLUMNFAMILY) [ks.]t | INDEX [ks.]i | MATERIALIZED VIEW [ks.]v
 *            | TYPE [ks.]t | FUNCTION [ks.]f | AGGREGATE [ks.]a | [ks.]name )
 *            [WITH INTERNALS]
 *
 * A keyword right after DESCRIBE selects its form even when an object has that
 * name (Cassandra's syntactic predicates do the same); "DESCRIBE "cluster"" quoted
 * is the generic form.
 */
#include "coordinator/cql/cql_parser_int.h"

#include <string.h>

struct desc_word {
	const char *word;
	enum cql_describe_kind kind;
	bool named; /* a [ks.]name must follow */
};

static const struct desc_word desc_words[] = {
        {"CLUSTER", CQL_DESC_CLUSTER, false},
        {"SCHEMA", CQL_DESC_SCHEMA, false},
        {"KEYSPACES", CQL_DESC_KEYSPACES, false},
        {"TABLES", CQL_DESC_TABLES, false},
        {"COLUMNFAMILIES", CQL_DESC_TABLES, false},
        {"TYPES", CQL_DESC_TYPES, false},
        {"FUNCTIONS", CQL_DESC_FUNCTIONS, false},
        {"AGGREGATES", CQL_DESC_AGGREGATES, false},
        {"TABLE", CQL_DESC_TABLE, true},
        {"COLUMNFAMILY", CQL_DESC_TABLE, true},
        {"INDEX", CQL_DESC_INDEX, true},
        {"TYPE", CQL_DESC_TYPE, true},
        {"FUNCTION", CQL_DESC_FUNCTION, true},
        {"AGGREGATE", CQL_DESC_AGGREGATE, true},
};

/* [ONLY] KEYSPACE [ks], FULL SCHEMA, MATERIALIZED VIEW v: the forms of two words. */
static int describe_two_words(struct parser *p, struct cql_describe *d, bool *matched)
{
	*matched = true;
	if (at_kw(p, "FULL")) {
		next(p);
		TRY(cqlp_expect_kw(p, "SCHEMA"));
		d->kind = CQL_DESC_SCHEMA;
		d->full = true;
	} else if (at_kw(p, "ONLY") || at_kw(p, "KEYSPACE")) {
		d->only = accept_kw(p, "ONLY");
		TRY(cqlp_expect_kw(p, "KEYSPACE"));
		d->kind = CQL_DESC_KEYSPACE;
		if (is_ident_tok(cur(p)) && !at_kw(p, "WITH"))
			TRY(cqlp_ident(p, &d->name.name));
	} else if (at_kw(p, "MATERIALIZED")) {
		next(p);
		TRY(cqlp_expect_kw(p, "VIEW"));
		d->kind = CQL_DESC_VIEW;
		TRY(cqlp_qname(p, &d->name));
	} else {
		*matched = false;
	}
	return 0;
}

int cqlp_describe(struct parser *p, struct cql_stmt *st)
{
	next(p); /* DESCRIBE | DESC */
	struct cql_describe *d = &st->describe;
	bool matched;
	TRY(describe_two_words(p, d, &matched));
	for (size_t i = 0; !matched && i < sizeof(desc_words) / sizeof(desc_words[0]); i++) {
		if (!at_kw(p, desc_words[i].word))
			continue;
		next(p);
		d->kind = desc_words[i].kind;
		if (desc_words[i].named)
			TRY(cqlp_qname(p, &d->name));
		matched = true;
	}
	if (!matched) {
		if (!is_ident_tok(cur(p)))
			return cqlp_no_viable(p);
		d->kind = CQL_DESC_GENERIC;
		TRY(cqlp_qname(p, &d->name));
	}
	if (accept_kw(p, "WITH")) {
		TRY(cqlp_expect_kw(p, "INTERNALS"));
		d->internals = true;
	}
	return 0;
}
